//! A real JavaScript Yjs client (npm `yjs` + `y-websocket`, run by Node.js) against a running
//! node's `/api/yjs/<circle>`: it sees the circle's members, and its change — signed by the
//! node, gossiped — reaches a second node. Both nodes are separate `vivim up` processes.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use common::{eventually, ok, start, vivim};

/// tests/js with its npm packages installed (`.ci/run` installs them; a bare `cargo test`
/// installs them here from the lock file).
fn js_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/js"));
    if !dir.join("node_modules/y-websocket").exists() {
        let o = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("npm (Node.js) is needed for the Yjs client test");
        ok(&o);
    }
    dir
}

fn circle(dir: &Path, id: &str) -> Option<serde_json::Value> {
    let o = vivim(dir, &["circle", "show", id, "--json"]);
    o.status
        .success()
        .then(|| serde_json::from_slice(&o.stdout).unwrap())
}

#[test]
fn a_javascript_yjs_client_reads_and_writes_a_circle() {
    let js = js_dir();
    let tmp = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (tmp.path().join("a"), tmp.path().join("b"));
    for d in [&a_dir, &b_dir] {
        ok(&vivim(d, &["init"]));
    }
    let did = |d: &Path| -> String {
        let v: serde_json::Value = serde_json::from_str(&ok(&vivim(d, &["id", "--json"]))).unwrap();
        v["did"].as_str().unwrap().to_string()
    };
    let (a_did, b_did) = (did(&a_dir), did(&b_dir));
    let (_a, a_addr) = start(&a_dir, "up", None);
    // B bootstraps from A's libp2p listener.
    let net: serde_json::Value = {
        let token = std::fs::read_to_string(a_dir.join("token")).unwrap();
        let o = Command::new("curl")
            .args(["-s", "--noproxy", "*", "-H"])
            .arg(format!("Authorization: Bearer {}", token.trim()))
            .arg(format!("http://{a_addr}/api/admin/network"))
            .output()
            .unwrap();
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let boot = net["bootstrap_addrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .find(|a| a.contains("/tcp/"))
        .unwrap();
    let (_b, _) = start(&b_dir, "up", Some(&boot));

    // A creates a circle with B; B sees it.
    let c: serde_json::Value = serde_json::from_str(&ok(&vivim(
        &a_dir,
        &["circle", "create", "Research", "--member", &b_did, "--json"],
    )))
    .unwrap();
    let id = c["id"].as_str().unwrap().to_string();
    // B does not know A: the circle arrives as a message request, which B accepts.
    eventually("B gets A's request", || {
        let o = vivim(&b_dir, &["requests", "list", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&ok(&o)).ok()?;
        v.as_array()?
            .iter()
            .find(|r| r["did"] == a_did.as_str())
            .cloned()
    });
    ok(&vivim(&b_dir, &["requests", "accept", &a_did]));
    eventually("B sees the circle", || circle(&b_dir, &id));

    // The Yjs client reads the members and the name, then adds D and renames the circle.
    let token = std::fs::read_to_string(a_dir.join("token")).unwrap();
    let d_did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
    let o = Command::new("node")
        .arg(js.join("yjs_client.mjs"))
        .arg(format!("ws://{a_addr}/api/yjs"))
        .arg(&id)
        .arg(token.trim())
        .arg(d_did)
        .arg("Renamed by Yjs")
        .output()
        .expect("node (Node.js) runs the Yjs client");
    let read: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(read["name"], "Research");
    assert_eq!(read["visibility"], "private");
    assert_eq!(read["members"][&a_did], "owner");
    assert_eq!(read["members"][&b_did], "member");
    assert_eq!(read["members"].as_object().unwrap().len(), 2);

    // The change is A's (signed by A's node) and reaches B.
    let a_view = circle(&a_dir, &id).unwrap();
    assert_eq!(a_view["name"], "Renamed by Yjs");
    let b_view = eventually("B sees the Yjs client's change", || {
        circle(&b_dir, &id).filter(|v| v["name"] == "Renamed by Yjs")
    });
    let members: Vec<&str> = b_view["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["did"].as_str().unwrap())
        .collect();
    assert!(members.contains(&d_did), "{members:?}");

    // B's copy is read-only to a Yjs client on B: the read works, the write does not spread.
    let b_token = std::fs::read_to_string(b_dir.join("token")).unwrap();
    let b_addr = std::fs::read_to_string(b_dir.join("gateway.addr")).unwrap();
    let o = Command::new("node")
        .arg(js.join("yjs_client.mjs"))
        .arg(format!("ws://{}/api/yjs", b_addr.trim()))
        .arg(&id)
        .arg(b_token.trim())
        .arg(d_did)
        .arg("Hijacked")
        .output()
        .unwrap();
    let read: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(read["name"], "Renamed by Yjs");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(circle(&b_dir, &id).unwrap()["name"], "Renamed by Yjs");
    assert_eq!(circle(&a_dir, &id).unwrap()["name"], "Renamed by Yjs");

    // A wrong token is refused before the upgrade.
    let o = Command::new("node")
        .arg(js.join("yjs_client.mjs"))
        .arg(format!("ws://{a_addr}/api/yjs"))
        .arg(&id)
        .arg("wrong")
        .output()
        .unwrap();
    assert!(!o.status.success());
}
