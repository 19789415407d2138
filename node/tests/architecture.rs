//! The node's inside stays one way down (ARCHITECTURE.md): read `node/src` as a newcomer would,
//! draw the imports between its files, and check that
//! - no two files of different folders import each other, directly or round a loop;
//! - the lower floors never reach the running node (`node.rs`) or anything above it;
//! - nothing but the CLI imports the surfaces (gateway, client, mcp; the gateway mounts mcp at
//!   `/api/mcp`), and no file grows past ~1,300 lines.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `node/src`, as a path relative to it.
fn files() -> BTreeMap<String, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

/// The module path of a library file (`share/net.rs` -> `["share", "net"]`).
fn module_of(file: &str) -> Vec<String> {
    let stem = file.trim_end_matches(".rs");
    let mut parts: Vec<String> = stem.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] { Vec::new() } else { parts }
}

/// Removes `//` comments (doc comments name paths that are not imports) and the unit tests at
/// the end of a file (their `super::` is the file itself).
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits `a, b::{c, d}, e` at its top level.
fn split_top(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0);
    for ch in s.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(ch);
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The paths a `{...}` group names, prefixed.
fn expand(prefix: &[String], group: &str, out: &mut Vec<Vec<String>>) {
    for item in split_top(group) {
        if let Some(open) = item.find("::{") {
            let mut p = prefix.to_vec();
            p.extend(item[..open].split("::").map(str::to_string));
            expand(&p, &item[open + 3..item.len() - 1], out);
        } else {
            let mut p = prefix.to_vec();
            p.extend(
                item.split(" as ")
                    .next()
                    .unwrap()
                    .split("::")
                    .map(|s| s.trim().to_string()),
            );
            out.push(p);
        }
    }
}

/// Every crate path a file names (`crate::a::b`, `use crate::{...}`, `super::x`).
fn paths(text: &str, me: &[String]) -> Vec<Vec<String>> {
    let text = code(text);
    let mut out = Vec::new();
    let parent = me[..me.len().saturating_sub(1)].to_vec();
    for (marker, base) in [("crate::{", Vec::new()), ("super::{", parent.clone())] {
        let mut rest = text.as_str();
        while let Some(i) = rest.find(marker) {
            let start = i + marker.len();
            let (mut depth, mut end) = (1, start);
            for (j, ch) in rest[start..].char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = start + j;
                    break;
                }
            }
            expand(&base, &rest[start..end], &mut out);
            rest = &rest[end..];
        }
    }
    for (marker, base) in [
        ("crate::", Vec::new()),
        ("super::", me[..me.len().saturating_sub(1)].to_vec()),
    ] {
        let mut rest = text.as_str();
        while let Some(i) = rest.find(marker) {
            let before = rest[..i].chars().last();
            rest = &rest[i + marker.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let segs: Vec<String> = rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if segs.is_empty() {
                continue; // a group, read above
            }
            let mut p = base.clone();
            p.extend(segs);
            out.push(p);
        }
    }
    out
}

/// The library's import graph between files (the binary's `main.rs` and `cli/` are left out).
fn graph() -> (BTreeMap<String, BTreeSet<String>>, BTreeMap<String, String>) {
    let files = files();
    let lib: BTreeMap<Vec<String>, String> = files
        .keys()
        .filter(|f| *f != "main.rs" && !f.starts_with("cli/") && *f != "cli.rs")
        .map(|f| (module_of(f), f.clone()))
        .collect();
    let mut edges = BTreeMap::new();
    for (f, text) in &files {
        if f == "main.rs" || f.starts_with("cli/") || f == "cli.rs" {
            continue;
        }
        let me = module_of(f);
        let mut to = BTreeSet::new();
        for p in paths(text, &me) {
            // The deepest file the path names.
            if let Some(target) = (1..=p.len()).rev().find_map(|n| lib.get(&p[..n]))
                && target != f
                && *target != "lib.rs"
            {
                to.insert(target.clone());
            }
        }
        edges.insert(f.clone(), to);
    }
    (edges, files)
}

/// The folder a file belongs to (`share.rs` and `share/net.rs` are both `share`).
fn folder(file: &str) -> &str {
    file.split('/').next().unwrap().trim_end_matches(".rs")
}

fn reach(edges: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(f) = todo.pop() {
        for t in edges.get(&f).into_iter().flatten() {
            if seen.insert(t.clone()) {
                todo.push(t.clone());
            }
        }
    }
    seen
}

#[test]
fn the_graph_is_read_from_the_sources() {
    let (edges, _) = graph();
    // A few imports that exist, so a broken reader cannot pass the checks below vacuously.
    for (from, to) in [
        ("gateway.rs", "node.rs"),
        ("node.rs", "store.rs"),
        ("share/service.rs", "node.rs"),
        ("net/p2p.rs", "node.rs"),
        ("import/dispatch.rs", "import/chatgpt.rs"),
        ("gateway.rs", "mcp.rs"),
        ("mcp/tools.rs", "node.rs"),
    ] {
        assert!(
            edges[from].contains(to),
            "{from} should import {to}: {:?}",
            edges[from]
        );
    }
}

#[test]
fn no_import_loop_crosses_a_folder() {
    let (edges, _) = graph();
    for (a, targets) in &edges {
        for b in targets {
            if folder(a) != folder(b) && reach(&edges, b).contains(a) {
                panic!("{a} imports {b}, and {b} leads back to {a}: a loop across folders");
            }
        }
    }
}

#[test]
fn the_lower_floors_never_reach_the_running_node() {
    let (edges, _) = graph();
    let above: BTreeSet<&str> = [
        "node.rs",
        "gateway.rs",
        "client.rs",
        "mcp.rs",
        "network.rs",
        "organize.rs",
    ]
    .into_iter()
    .collect();
    let lower = |f: &str| {
        ["store", "search", "text", "config", "datadir", "views"].contains(&folder(f))
            || (folder(f) == "import" && f != "import/ingest.rs")
            || [
                "net.rs",
                "net/ids.rs",
                "net/wire.rs",
                "net/gossip.rs",
                "net/records.rs",
                "share/state.rs",
                "node/outbound.rs",
                "admin/logs.rs",
                "admin/process.rs",
            ]
            .contains(&f)
            || (f.starts_with("organize/") && f != "organize.rs")
    };
    for f in edges.keys().filter(|f| lower(f)) {
        let r = reach(&edges, f);
        let bad: Vec<&&str> = above.iter().filter(|a| r.contains(**a)).collect();
        assert!(
            bad.is_empty(),
            "{f} is on a lower floor but reaches {bad:?}"
        );
    }
}

#[test]
fn only_the_cli_uses_the_surfaces_and_files_stay_readable() {
    let (edges, files) = graph();
    for (f, targets) in &edges {
        for surface in ["gateway.rs", "client.rs", "mcp.rs"] {
            if targets.contains(surface) {
                // The gateway and the client share their shapes; the gateway mounts mcp.
                let allowed = match surface {
                    "mcp.rs" => ["mcp", "gateway"].contains(&folder(f)),
                    _ => ["gateway", "client"].contains(&folder(f)),
                };
                assert!(allowed, "{f} imports the surface {surface}");
            }
        }
    }
    for (f, text) in &files {
        assert!(
            text.lines().count() <= 1300,
            "{f} has {} lines",
            text.lines().count()
        );
    }
    let main = files["main.rs"].lines().count();
    assert!(
        main < 500,
        "main.rs should only parse and dispatch ({main} lines)"
    );
}

/// The `[dependencies]` section of a crate's manifest (dev-dependencies and the rest cut off).
fn dependencies(manifest: &str) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(manifest))
        .unwrap_or_else(|e| panic!("{manifest}: {e}"));
    let mut out = String::new();
    let mut on = false;
    for line in text.lines() {
        if line.starts_with('[') {
            on = line.trim() == "[dependencies]"
                || (line.contains("dependencies]") && line.contains("target."));
            continue;
        }
        if on {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn bindings_keep_their_boundaries() {
    // The wasm package runs in browsers: identity, protocol and crdt only, never the node.
    let wasm = dependencies("../bindings/wasm/Cargo.toml");
    assert!(wasm.contains("vivim-protocol"), "{wasm}");
    for io in ["vivim-node", "tokio", "redb", "iroh", "libp2p", "axum"] {
        assert!(!wasm.contains(io), "bindings/wasm depends on {io}");
    }
    // The foreign-language library embeds the node without the web app (no npm to build it).
    let ffi = dependencies("../bindings/ffi/Cargo.toml");
    let node = ffi
        .lines()
        .find(|l| l.starts_with("vivim-node"))
        .expect("bindings/ffi depends on vivim-node");
    assert!(node.contains("default-features = false"), "{node}");
}
