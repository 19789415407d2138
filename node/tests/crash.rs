//! Crash safety: `kill -9` the node in the middle of a large import while it is acknowledging
//! captures; after a restart every acknowledged write is there, no conversation is torn, and a
//! re-import completes the rest.
#![allow(clippy::unwrap_used)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

struct Node {
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> (Node, String) {
    let addr_file = dir.join("gateway.addr");
    let _ = std::fs::remove_file(&addr_file);
    let child = Command::new(env!("CARGO_BIN_EXE_vivim"))
        .args(["up", "--gateway", "127.0.0.1:0", "--no-network"])
        .env("VIVIM_DATA_DIR", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let node = Node { child };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(a) = std::fs::read_to_string(&addr_file)
            && !a.trim().is_empty()
        {
            return (node, format!("http://{}", a.trim()));
        }
        assert!(Instant::now() < deadline, "node did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn status(c: &reqwest::Client, base: &str, token: &str) -> serde_json::Value {
    c.get(format!("{base}/api/admin/status"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_import_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf = tmp.path().join("node");
    let export = tmp.path().join("conversations.json");
    const CONVS: usize = 300;
    vivim_node::testdata::write_chatgpt_export(
        std::fs::File::create(&export).unwrap(),
        CONVS,
        20,
        40,
        11,
    )
    .unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_vivim"))
        .arg("init")
        .env("VIVIM_DATA_DIR", &dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = std::fs::read_to_string(dir.join("token"))
        .unwrap()
        .trim()
        .to_string();

    let (mut node, base) = start(&dir);
    let c = http();

    // The import runs in the background; its HTTP call dies with the node.
    let import = {
        let (c, base, token, export) = (c.clone(), base.clone(), token.clone(), export.clone());
        tokio::spawn(async move {
            c.post(format!("{base}/api/v1/import/source"))
                .bearer_auth(&token)
                .json(&serde_json::json!({ "path": export }))
                .send()
                .await
        })
    };

    // Meanwhile, captures: each 201 is an acknowledgement that must survive.
    let mut acked: Vec<String> = Vec::new();
    let mut conversation: Option<String> = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut body =
            serde_json::json!({ "role": "user", "text": format!("note {}", acked.len()) });
        if let Some(conv) = &conversation {
            body["conversation"] = conv.clone().into();
        }
        let r = c
            .post(format!("{base}/api/v1/acus"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.unwrap();
        acked.push(v["id"].as_str().unwrap().to_string());
        conversation = Some(v["conversation"].as_str().unwrap().to_string());
        let s = status(&c, &base, &token).await;
        let stored = s["conversations"].as_u64().unwrap();
        // Kill once the import is well under way but not finished.
        if stored >= 40 && acked.len() >= 3 {
            assert!(
                stored < CONVS as u64,
                "the import finished before the kill; make the export larger"
            );
            break;
        }
        assert!(Instant::now() < deadline, "import made no progress");
    }
    node.child.kill().unwrap(); // SIGKILL
    node.child.wait().unwrap();
    let _ = import.await; // the import call died with the node

    // Restart on the same data dir.
    let (_node, base) = start(&dir);
    for id in &acked {
        let r = c
            .get(format!("{base}/api/v1/acus/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged ACU {id} was lost");
    }
    let captured: serde_json::Value = c
        .get(format!(
            "{base}/api/v1/conversations/{}",
            conversation.unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(captured["messages"].as_array().unwrap().len(), acked.len());

    // No conversation is torn: every stored one reads back whole.
    let page: serde_json::Value = c
        .get(format!("{base}/api/v1/conversations?limit=500"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    let before = items.len();
    assert!(
        before > 1 && before <= CONVS + 1,
        "{before} conversations after restart"
    );
    for item in items {
        let id = item["id"].as_str().unwrap();
        let r = c
            .get(format!("{base}/api/v1/conversations/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "conversation {id} is torn");
        let d: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            d["messages"].as_array().unwrap().len() as u64,
            item["acu_count"].as_u64().unwrap()
        );
    }

    // Re-importing completes the rest and adds nothing twice.
    let r: serde_json::Value = c
        .post(format!("{base}/api/v1/import/source"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "path": export }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let added = r["conversations"].as_u64().unwrap();
    let dups = r["duplicates"].as_u64().unwrap();
    assert_eq!(added + dups, CONVS as u64, "{r}");
    assert_eq!(added as usize, CONVS + 1 - before, "{r}");
    let s = status(&c, &base, &token).await;
    assert_eq!(s["conversations"].as_u64().unwrap(), CONVS as u64 + 1);

    // The search index was rebuilt or completed: a generated word finds generated messages.
    let hits: serde_json::Value = c
        .get(format!("{base}/api/v1/search?q=gossip&limit=5"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(hits["total"].as_u64().unwrap() > 0, "{hits}");
}
