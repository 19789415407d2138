//! The `vivim` binary as a user runs it: import, list, show, export, search and delete, first on
//! the data dir directly, then through a running node (`vivim up`), then after it stopped.
#![allow(clippy::unwrap_used)]

#[path = "common/shared.rs"]
mod shared;
use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Output, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

/// Bounds waits on the child node so a broken binary fails the test instead of hanging it.
const HANG: Duration = Duration::from_secs(120);

fn chatgpt_export() -> PathBuf {
    shared::path(shared::CHATGPT_2023)
}

fn command(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vivim"));
    c.env("VIVIM_DATA_DIR", dir)
        .env_remove("RUST_BACKTRACE")
        .env_remove("VIVIM_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

fn vivim(dir: &Path, args: &[&str]) -> Output {
    command(dir).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `vivim args` and expects success; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let o = vivim(dir, args);
    assert!(
        o.status.success(),
        "vivim {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Runs `vivim args` and expects a clean failure; returns stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let o = vivim(dir, args);
    let err = stderr(&o);
    assert!(
        !o.status.success(),
        "vivim {args:?} should fail:\nstdout: {}",
        stdout(&o)
    );
    assert_eq!(o.status.code(), Some(1), "vivim {args:?}: {err}");
    assert!(err.starts_with("error: "), "vivim {args:?}: {err:?}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "vivim {args:?} panicked: {err}"
    );
    // One clear line: no debug dumps, no message chained onto itself.
    let first = err.lines().next().unwrap_or_default();
    assert!(!first.contains("Error {"), "vivim {args:?}: {err}");
    let parts: Vec<&str> = first.trim_start_matches("error: ").split(": ").collect();
    assert!(
        parts.windows(2).all(|w| w[0] != w[1]),
        "vivim {args:?}: the message repeats itself: {err}"
    );
    err
}

/// Error cases whose messages must not depend on whether a node is up (the gateway adds the
/// HTTP status).
fn error_cases() -> Vec<Vec<String>> {
    let unknown = "ab".repeat(32);
    [
        vec!["conversations", "show", &unknown],
        vec!["conversations", "show", "abcdef12"],
        vec!["conversations", "show", "zz"],
        vec!["conversations", "export", &unknown, "--format", "md"],
        vec!["conversations", "delete", &unknown],
        vec!["search", "python", "--limit", "0"],
        vec!["search", "python", "--role", "wizard"],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(str::to_string).collect())
    .collect()
}

fn error_messages(dir: &Path) -> Vec<String> {
    error_cases()
        .iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let err = fails(dir, &args);
            let first = err.lines().next().unwrap_or_default();
            // "… (HTTP 404)" → "…"
            match first.rsplit_once(" (HTTP ") {
                Some((msg, tail)) if tail.ends_with(')') => msg.to_string(),
                _ => first.to_string(),
            }
        })
        .collect()
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let out = ok(dir, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("vivim {args:?}: not JSON ({e}): {out}"))
}

fn random_bytes_file(dir: &Path) -> PathBuf {
    let p = dir.join("random.bin");
    let mut f = std::fs::File::create(&p).unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..16 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    f.write_all(&bytes).unwrap();
    p
}

/// The user's flow, against whatever the CLI talks to (the data dir or a running node). Expects
/// the chatgpt export not yet imported. Returns the id of the conversation it deleted.
fn user_flow(dir: &Path, scratch: &Path) -> String {
    let export = chatgpt_export();
    let export = export.to_str().unwrap();
    let out = ok(dir, &["import", export]);
    assert!(
        out.contains("imported 192 conversations"),
        "import summary: {out}"
    );
    assert!(out.contains("0 duplicates"), "{out}");
    let again = ok(dir, &["import", export, "--json"]);
    let again: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["conversations"], 0, "{again}");
    assert_eq!(again["duplicates"], 192, "{again}");

    let list = json(dir, &["conversations", "list", "--json", "--limit", "500"]);
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 192);
    for c in items {
        for field in ["id", "title", "provider", "source_id", "created_at"] {
            assert!(c[field].is_string(), "{field} in {c}");
        }
        assert!(c["message_count"].is_u64(), "{c}");
        assert_eq!(c["provider"], "chatgpt");
    }
    let ids: std::collections::HashSet<&str> =
        items.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 192);
    let few = json(dir, &["conversations", "list", "--json", "--limit", "7"]);
    assert_eq!(few.as_array().unwrap()[..], items[..7]);
    let table = ok(dir, &["conversations", "list", "--limit", "3"]);
    assert_eq!(table.lines().count(), 4, "header + 3 rows: {table}");

    // The conversation with the most messages.
    let conv = items
        .iter()
        .max_by_key(|c| c["message_count"].as_u64().unwrap())
        .unwrap();
    let id = conv["id"].as_str().unwrap().to_string();
    let title = conv["title"].as_str().unwrap();

    let shown = json(dir, &["conversations", "show", &id[..8], "--json"]);
    assert_eq!(shown["conversation"]["id"], id.as_str());
    assert_eq!(&shown["conversation"], conv);
    let msgs = shown["messages"].as_array().unwrap();
    assert!(msgs.len() as u64 >= conv["message_count"].as_u64().unwrap());
    assert!(msgs.iter().all(|m| m["conversation"] == id.as_str()));

    let md = ok(dir, &["conversations", "export", &id, "--format", "md"]);
    assert!(md.starts_with(&format!("# {title}\n")), "{md:.200}");
    assert!(
        md.contains("## User") && md.contains("## Assistant"),
        "{md:.400}"
    );
    let shown_md = ok(dir, &["conversations", "show", &id]);
    assert_eq!(
        shown_md, md,
        "show without --json prints the markdown export"
    );
    let out_file = scratch.join("conv.json");
    ok(
        dir,
        &[
            "conversations",
            "export",
            &id,
            "--format",
            "json",
            "-o",
            out_file.to_str().unwrap(),
        ],
    );
    let exported: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    assert_eq!(exported, shown);
    let err = fails(dir, &["conversations", "export", &id, "--format", "pdf"]);
    assert!(err.contains("pdf"), "{err}");

    let found = json(dir, &["search", "python", "--json", "--limit", "50"]);
    let hits = found["hits"].as_array().unwrap();
    assert!(!hits.is_empty(), "{found}");
    assert!(found["total"].as_u64().unwrap() >= hits.len() as u64);
    for h in hits {
        let snippet = h["snippet"].as_str().unwrap();
        for r in h["highlights"].as_array().unwrap() {
            let (a, b) = (
                r[0].as_u64().unwrap() as usize,
                r[1].as_u64().unwrap() as usize,
            );
            assert_eq!(snippet[a..b].to_lowercase(), "python", "{snippet:?}");
        }
    }
    let users = json(dir, &["search", "python", "--json", "--role", "user"]);
    assert!(
        users["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["role"] == "user")
    );
    let none = json(dir, &["search", "python", "--json", "--provider", "claude"]);
    assert_eq!(none["total"], 0);
    let text = ok(dir, &["search", "python"]);
    assert!(
        text.contains("**"),
        "highlights marked in text output: {text:.300}"
    );
    let err = fails(dir, &["search", "python", "--limit", "0"]);
    assert!(err.contains("limit"), "{err}");

    // Semantic search, related conversations, memories and context, with no network.
    for mode in ["vector", "hybrid"] {
        let r = json(
            dir,
            &[
                "search",
                "python list comprehension",
                "--mode",
                mode,
                "--json",
            ],
        );
        let hits = r["hits"].as_array().unwrap();
        assert!(!hits.is_empty(), "{mode}: {r}");
        assert!(
            hits.iter().any(|h| h["snippet"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("python")),
            "{mode}: {r}"
        );
    }
    let err = fails(dir, &["search", "python", "--mode", "psychic"]);
    assert!(err.contains("mode"), "{err}");
    let related = json(
        dir,
        &[
            "related",
            conv["id"].as_str().unwrap(),
            "--json",
            "--limit",
            "3",
        ],
    );
    assert_eq!(related.as_array().unwrap().len(), 3, "{related}");
    let mems = json(dir, &["memory", "list", "--json", "--limit", "1000"]);
    assert!(
        mems.as_array()
            .unwrap()
            .iter()
            .any(|m| m["memory_type"] == "episodic"),
        "one episode per conversation: {mems:.300}"
    );
    let ctx = json(
        dir,
        &[
            "context",
            "how do I sort a list in python",
            "--budget",
            "300",
            "--json",
        ],
    );
    assert!(ctx["total_tokens"].as_u64().unwrap() <= 300, "{ctx}");
    assert!(
        ctx["prompt"]
            .as_str()
            .unwrap()
            .ends_with("how do I sort a list in python")
    );
    let err = fails(dir, &["context", "q", "--send"]);
    assert!(err.contains("provider"), "{err}");

    // Delete the conversation of the best python hit; it leaves the listing and the results.
    let victim = hits[0]["conversation"].as_str().unwrap().to_string();
    let out = ok(dir, &["conversations", "delete", &victim[..10]]);
    assert_eq!(out.trim(), format!("deleted {victim}"));
    let err = fails(dir, &["conversations", "show", &victim]);
    assert!(err.contains("not found"), "{err}");
    let err = fails(dir, &["conversations", "show", &victim[..8]]);
    assert!(err.contains("not found"), "{err}");
    let err = fails(dir, &["conversations", "delete", &victim]);
    assert!(err.contains("not found"), "{err}");
    let list = json(dir, &["conversations", "list", "--json", "--limit", "500"]);
    assert_eq!(list.as_array().unwrap().len(), 191);
    let found = json(dir, &["search", "python", "--json", "--limit", "100"]);
    assert!(
        found["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["conversation"] != victim.as_str())
    );

    // Bad input: clear errors, nothing imported.
    let err = fails(dir, &["import", "/nonexistent/vivim/export.json"]);
    assert!(err.contains("no such file"), "{err}");
    let junk = random_bytes_file(scratch);
    fails(dir, &["import", junk.to_str().unwrap()]);
    fails(dir, &["import", export, "--format", "pdf"]);
    fails(dir, &["conversations", "show", "zz"]);
    let list = json(dir, &["conversations", "list", "--json", "--limit", "500"]);
    assert_eq!(list.as_array().unwrap().len(), 191);
    victim
}

#[test]
fn without_a_running_node() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let did = ok(&dir, &["init"]);
    assert!(did.starts_with("did:key:"), "{did}");
    let list = ok(&dir, &["conversations", "list"]);
    assert!(list.contains("no conversations yet"), "{list}");

    let victim = user_flow(&dir, tmp.path());
    assert!(
        !dir.join("gateway.addr").exists(),
        "no node ran, no address file"
    );
    // Re-importing brings back exactly the deleted conversation.
    let export = chatgpt_export();
    let out = ok(&dir, &["import", export.to_str().unwrap()]);
    assert!(
        out.contains("imported 1 conversations (0 updated, 191 duplicates)"),
        "{out}"
    );
    ok(&dir, &["conversations", "show", &victim, "--json"]);
}

#[test]
fn commands_before_init_say_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    for args in [
        &["conversations", "list"][..],
        &["search", "python"],
        &["token"],
    ] {
        let err = fails(&dir, args);
        assert!(err.contains("vivim init"), "{args:?}: {err}");
    }
    // An import of a missing file is refused before anything is created.
    fails(&dir, &["import", "/nonexistent/export.json"]);
}

/// A `vivim up` child process, killed on drop (when a test fails half way).
struct NodeProcess {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl NodeProcess {
    fn spawn(dir: &Path, logs: &Path) -> NodeProcess {
        let stdout = logs.join("up.stdout");
        let stderr = logs.join("up.stderr");
        let child = command(dir)
            .args(["up", "--gateway", "127.0.0.1:0", "--no-network"])
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        NodeProcess {
            child,
            stdout,
            stderr,
        }
    }

    fn output(&self) -> (String, String) {
        (
            std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default(),
        )
    }

    /// Waits for the node to write its gateway address.
    fn wait_for_gateway(&mut self, dir: &Path) -> String {
        let path = dir.join("gateway.addr");
        let deadline = Instant::now() + HANG;
        loop {
            if let Ok(addr) = std::fs::read_to_string(&path)
                && !addr.trim().is_empty()
            {
                return addr.trim().to_string();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                let (out, err) = self.output();
                panic!("vivim up exited early ({status}):\n{out}\n{err}");
            }
            assert!(
                Instant::now() < deadline,
                "no gateway.addr after {HANG:?}: {:?}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success(), "kill {sig} failed");
    }

    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + HANG;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "vivim up still running {HANG:?} after the signal: {:?}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP/1.0 GET to the gateway with the token (the test's own client, independent of the
/// CLI's).
fn http_get(addr: &str, token: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(HANG)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn through_a_running_node_then_after_it_stops() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    ok(&dir, &["init"]);
    let token = ok(&dir, &["token"]).trim().to_string();
    assert_eq!(
        token,
        std::fs::read_to_string(dir.join("token")).unwrap().trim()
    );

    let local_errors = error_messages(&dir);
    let e = fails(&dir, &["ui"]);
    assert!(e.contains("not running") && e.contains("vivim up"), "{e}");

    let mut node = NodeProcess::spawn(&dir, tmp.path());
    let addr = node.wait_for_gateway(&dir);
    let sock: std::net::SocketAddr = addr.parse().unwrap();
    assert!(sock.ip().is_loopback(), "{addr}");
    assert_ne!(sock.port(), 0);
    // The web app's link: the token in the fragment, never in the path or query.
    let link = format!("http://{addr}/#token={token}");
    assert_eq!(ok(&dir, &["ui"]).trim(), link);
    let (status, page) = http_get(&addr, "", "/c/any/deep/link");
    assert_eq!(status, 200);
    assert!(page.to_lowercase().contains("<!doctype html"), "{page}");
    let (status, _) = http_get(&addr, "wrong", "/api/admin/status");
    assert_eq!(status, 401);
    let (status, body) = http_get(&addr, &token, "/api/admin/metrics");
    assert_eq!(status, 200, "{body}");
    assert_eq!(metric(&body, "vivim_searches_total"), 0);

    // The node holds the database: every command below must go through its gateway.
    assert_eq!(
        error_messages(&dir),
        local_errors,
        "errors differ through the gateway"
    );
    user_flow(&dir, tmp.path());

    let (_, body) = http_get(&addr, &token, "/api/admin/metrics");
    assert_eq!(metric(&body, "vivim_conversations"), 191);
    assert!(
        metric(&body, "vivim_searches_total") >= 4,
        "the CLI's searches did not reach the node: {body}"
    );
    assert!(metric(&body, "vivim_imports_total") >= 2, "{body}");
    assert!(node.child.try_wait().unwrap().is_none(), "node died");

    node.signal("-TERM");
    let status = node.wait();
    let (out, err) = node.output();
    assert!(
        status.success(),
        "vivim up exited with {status}:\n{out}\n{err}"
    );
    assert!(out.contains("VIVIM node up"), "{out}");
    assert!(out.contains(&addr), "{out}");
    assert!(
        out.contains(&link),
        "`vivim up` does not print the web app's link: {out}"
    );
    assert!(out.contains("flushed"), "no flush message: {out}\n{err}");
    assert!(
        !dir.join("gateway.addr").exists(),
        "gateway.addr left behind"
    );

    // The data dir works directly again, with everything the node acknowledged.
    let list = json(&dir, &["conversations", "list", "--json", "--limit", "500"]);
    assert_eq!(list.as_array().unwrap().len(), 191);
    let found = json(&dir, &["search", "python", "--json"]);
    assert!(!found["hits"].as_array().unwrap().is_empty());
}

#[test]
fn a_stale_gateway_address_falls_back_to_the_data_dir() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    ok(&dir, &["init"]);
    let export = chatgpt_export();
    ok(&dir, &["import", export.to_str().unwrap()]);

    // A node killed without a chance to clean up leaves its address file behind.
    let mut node = NodeProcess::spawn(&dir, tmp.path());
    node.wait_for_gateway(&dir);
    node.signal("-KILL");
    let status = node.wait();
    assert!(!status.success());
    assert!(dir.join("gateway.addr").exists());
    let e = fails(&dir, &["ui"]);
    assert!(e.contains("does not answer"), "{e}");

    let list = json(&dir, &["conversations", "list", "--json", "--limit", "500"]);
    assert_eq!(list.as_array().unwrap().len(), 192);

    // A new node starts on the same data dir, and stops cleanly on SIGINT too.
    std::fs::remove_file(dir.join("gateway.addr")).unwrap();
    let mut node = NodeProcess::spawn(&dir, tmp.path());
    let addr = node.wait_for_gateway(&dir);
    let token = std::fs::read_to_string(dir.join("token")).unwrap();
    let (status, body) = http_get(&addr, token.trim(), "/api/admin/status");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["conversations"], 192);
    node.signal("-INT");
    let status = node.wait();
    assert!(status.success(), "{status}: {:?}", node.output());
    assert!(!dir.join("gateway.addr").exists());
}
