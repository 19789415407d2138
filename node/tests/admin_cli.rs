//! Data care as a user does it, with `vivim` processes: a backup of a running node through its
//! gateway, the admin routes (status, the sampled series, logs that never carry the token), an
//! integrity check, and a restore into a new directory after the node stopped.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    path::Path,
    process::{Command, Output},
};

use common::{eventually, get, json, ok, start_with_env};

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import/chatgpt_small.json")
}

fn vivim_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vivim"));
    c.args(args).env("VIVIM_DATA_DIR", dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn curl(args: &[&str]) -> String {
    let o = Command::new("curl")
        .args(["-s", "--noproxy", "*"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn backup_a_running_node_and_restore_it_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    ok(&common::vivim(&a, &["init"]));
    ok(&common::vivim(
        &a,
        &["import", fixture().to_str().unwrap(), "--json"],
    ));
    let did = common::did_of(&a);
    // Capture everything, down to the HTTP stack's own trace lines (which name request URIs):
    // what a user debugging a problem turns on, and where a token would leak first.
    let (node, gw) = start_with_env(
        &a,
        "up",
        None,
        &[(
            "VIVIM_LOG_CAPTURE",
            "debug,hyper=trace,axum=trace,tower_http=trace",
        )],
    );
    let token = std::fs::read_to_string(a.join("token")).unwrap();
    let token = token.trim();

    // Status: identity, sizes by part, counts.
    let st = get(&gw, &a, "/api/admin/status");
    assert_eq!(st["did"], did.as_str());
    assert!(st["peer_id"].as_str().unwrap().starts_with("12D3"));
    assert!(st["sizes"]["total"].as_u64().unwrap() > st["sizes"]["records"].as_u64().unwrap());
    assert!(st["sizes"]["records"].as_u64().unwrap() > 0);
    let conversations = st["counts"]["conversations"].as_u64().unwrap();
    assert!(conversations > 0);

    // The sampler's series: a first sample at start, with the process's memory.
    let series = eventually("a metrics sample", || {
        let s = get(&gw, &a, "/api/admin/metrics/series");
        (s["samples"].as_array().is_some_and(|v| !v.is_empty())).then_some(s)
    });
    assert_eq!(series["interval_secs"], 5);
    assert!(series["samples"][0]["rss_bytes"].as_u64().unwrap() > 1 << 20);
    let prom = curl(&[
        "-H",
        &format!("Authorization: Bearer {token}"),
        &format!("http://{gw}/api/admin/metrics"),
    ]);
    assert!(prom.contains("process_resident_memory_bytes "), "{prom}");

    // A backup through the running node, keys sealed with the passphrase.
    let archive = tmp.path().join("node.zip");
    let pass = [("BACKUP_PASS", "a long enough passphrase")];
    let o = vivim_env(
        &a,
        &[
            "backup",
            archive.to_str().unwrap(),
            "--keys",
            "--passphrase-env",
            "BACKUP_PASS",
            "--json",
        ],
        &pass,
    );
    let summary: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(summary["manifest"]["did"], did.as_str());
    assert_eq!(summary["manifest"]["keys"], true);
    assert_eq!(summary["manifest"]["conversations"], conversations);
    assert!(archive.metadata().unwrap().len() > 0);
    // --keys without a passphrase says what to do.
    let o = common::vivim(
        &a,
        &[
            "backup",
            tmp.path().join("x.zip").to_str().unwrap(),
            "--keys",
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--passphrase-env"));

    // The integrity check through the running node.
    let report = json(&common::vivim(&a, &["check", "--json"]));
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["conversations"], conversations);

    // Logs: the token passed in a query string and the bearer header never shows in them.
    let _ = curl(&[&format!("http://{gw}/api/admin/status?token={token}")]);
    let _ = curl(&[&format!("http://{gw}/api/v1/search?q=x&token={token}")]);
    let logs = eventually("log lines", || {
        let l = get(&gw, &a, "/api/admin/logs?level=trace&limit=5000");
        (l["lines"].as_array().is_some_and(|v| !v.is_empty())).then_some(l)
    });
    let text = logs.to_string();
    assert!(!text.contains(token), "the token is in the logs");
    assert!(
        logs["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["level"].is_string() && l["seq"].is_u64())
    );
    // The live stream: an import through the running node shows up as it happens, and nothing
    // in the stream carries the token (which the socket itself was opened with).
    let frames = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use futures::StreamExt;
        let url = format!("ws://{gw}/api/admin/logs/ws?token={token}&level=trace");
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let dir = a.clone();
        let gw2 = gw.clone();
        let tok = token.to_string();
        let work = tokio::task::spawn_blocking(move || {
            let _ = curl(&[&format!("http://{gw2}/api/admin/status?token={tok}")]);
            ok(&common::vivim(
                &dir,
                &["import", fixture().to_str().unwrap(), "--json"],
            ));
        });
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, ws.next()).await {
            if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
                let done = t.contains("import finished");
                got.push(t.to_string());
                if done {
                    break;
                }
            }
        }
        work.await.unwrap();
        got
    });
    assert!(
        frames.iter().any(|f| f.contains("import finished")),
        "{frames:?}"
    );
    assert!(
        frames.iter().all(|f| !f.contains(token)),
        "the token is in the stream"
    );
    let all = get(&gw, &a, "/api/admin/logs?level=trace&limit=5000").to_string();
    assert!(
        all.contains("vivim::http"),
        "request lines are captured at debug"
    );
    assert!(!all.contains(token));
    // A bad level is a clear 400.
    let bad = get(&gw, &a, "/api/admin/logs?level=loud");
    assert_eq!(bad["error"]["code"], "bad_request");
    drop(node);

    // Restore elsewhere: same DID, same conversations, checks clean offline.
    let o = vivim_env(
        &b,
        &[
            "restore",
            archive.to_str().unwrap(),
            "--passphrase-env",
            "BACKUP_PASS",
            "--json",
        ],
        &pass,
    );
    let r: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(r["conversations_restored"], conversations);
    assert_eq!(common::did_of(&b), did);
    let list_a = json(&common::vivim(&a, &["conversations", "list", "--json"]));
    let list_b = json(&common::vivim(&b, &["conversations", "list", "--json"]));
    assert_eq!(list_a, list_b);
    assert_eq!(json(&common::vivim(&b, &["check", "--json"]))["ok"], true);
    // A second restore into the same directory refuses.
    let o = vivim_env(
        &b,
        &[
            "restore",
            archive.to_str().unwrap(),
            "--passphrase-env",
            "BACKUP_PASS",
        ],
        &pass,
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already holds data"));
    // Compaction with the node stopped.
    let c = json(&common::vivim(&a, &["compact", "--json"]));
    assert!(c[0]["after"].as_u64().unwrap() > 0);
}
