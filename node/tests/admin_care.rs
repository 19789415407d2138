//! Data care on a node in this process: a backup taken while an import runs restores into a
//! fresh directory with the same DID and every conversation, ACU id, circle, share and memory
//! equal; the integrity check names a record corrupted on disk; restores refuse what they
//! should (a non-empty directory, a wrong passphrase, a backup without keys).
#![allow(clippy::unwrap_used)]

mod api;

use std::{collections::BTreeMap, path::Path, sync::Arc};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use vivim_node::{
    admin::restore::{RestoreOptions, restore},
    datadir::DataDir,
    import::Format,
    node::{Capture, Node},
    testdata,
};

const PASS: &str = "correct horse battery";

/// Every conversation's id → its ACU ids, as stored.
fn contents(node: &Node) -> BTreeMap<String, Vec<String>> {
    node.store
        .all_rows()
        .unwrap()
        .into_iter()
        .map(|r| {
            let id = r.manifest.id;
            let acus = node
                .store
                .acu_ids(&id)
                .unwrap()
                .iter()
                .map(|h| h.to_string())
                .collect();
            (id.to_string(), acus)
        })
        .collect()
}

async fn capture(node: &Node, text: &str) -> String {
    let (_, id) = node
        .capture(Capture {
            conversation: None,
            provider: None,
            source_id: None,
            title: Some("Care".into()),
            parent: None,
            role: "user".into(),
            kind: None,
            lang: None,
            text: text.into(),
            created_at_ms: None,
        })
        .await
        .unwrap();
    id.to_string()
}

/// The JSON of a GET, sorted so two nodes' answers compare.
async fn get(t: &api::T, path: &str) -> Value {
    let (s, v) = t.call(Method::GET, path, None).await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v
}

fn export(dir: &Path, conversations: usize, seed: u64) -> std::path::PathBuf {
    let path = dir.join(format!("export-{seed}.json"));
    let f = std::fs::File::create(&path).unwrap();
    testdata::write_chatgpt_export(std::io::BufWriter::new(f), conversations, 12, 30, seed)
        .unwrap();
    path
}

async fn reopen(dir: &Path) -> api::T {
    let dd = DataDir::at(dir);
    let node = Node::open(dd.clone(), None, false).await.unwrap();
    let token = dd.token().unwrap();
    api::T {
        app: vivim_node::gateway::router(node.clone(), token.clone()),
        node,
        token,
        tmp: tempfile::tempdir().unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_everything_with_the_same_identity() {
    let t = api::open().await;
    let work = tempfile::tempdir().unwrap();
    // Social graph, a share, a memory, and conversations.
    let conv = capture(&t.node, "the restored node must find this aardvark").await;
    let (s, circle) = t
        .call(
            Method::POST,
            "/api/v2/circles",
            Some(&json!({"name": "Family", "visibility": "private"}).to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{circle}");
    let (s, share) = t
        .call(
            Method::POST,
            "/api/v2/shares",
            Some(&json!({"content": conv, "link": true}).to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{share}");
    let (s, mem) = t
        .call(
            Method::POST,
            "/api/v2/memories",
            Some(
                &json!({"content": "Prefers redb over sled for embedded storage", "memory_type": "semantic"})
                    .to_string(),
            ),
        )
        .await;
    assert!(s.is_success(), "{mem}");
    t.node
        .import_path(&export(work.path(), 20, 1), Format::Auto, None)
        .await
        .unwrap();

    // A backup taken while a second, larger import runs.
    let big = export(work.path(), 120, 2);
    let importer = {
        let node: Arc<Node> = t.node.clone();
        tokio::spawn(async move { node.import_path(&big, Format::Auto, None).await })
    };
    // Let the import get going.
    let before = t.node.store.conversation_count();
    for _ in 0..200 {
        if t.node.store.conversation_count() > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let during = work.path().join("during.zip");
    let b1 = t.node.backup(&during, Some(PASS)).await.unwrap();
    let imported = importer.await.unwrap().unwrap();
    assert_eq!(imported.conversations, 120);
    assert!(b1.manifest.keys);
    assert!(b1.manifest.conversations >= 21, "{:?}", b1.manifest);

    // The mid-import backup is one consistent moment: every conversation in it is whole (its
    // ACU ids equal the source's) and it checks clean.
    let r1 = work.path().join("r1");
    let sum = restore(
        &during,
        &DataDir::at(&r1),
        &RestoreOptions {
            passphrase: Some(PASS.into()),
            merge: false,
        },
    )
    .await
    .unwrap();
    assert!(sum.identity_restored);
    let source = contents(&t.node);
    {
        let t1 = reopen(&r1).await;
        let got = contents(&t1.node);
        assert_eq!(got.len() as u64, b1.manifest.conversations);
        for (id, acus) in &got {
            assert_eq!(Some(acus), source.get(id), "conversation {id} differs");
        }
        let report = t1.node.check().await.unwrap();
        assert!(report.ok, "{:?}", report.problems);
        t1.node.shutdown().await.unwrap();
    }

    // After the import: a second backup restores to exactly the source.
    let after = work.path().join("after.zip");
    t.node.backup(&after, Some(PASS)).await.unwrap();
    let r2 = work.path().join("r2");
    restore(
        &after,
        &DataDir::at(&r2),
        &RestoreOptions {
            passphrase: Some(PASS.into()),
            merge: false,
        },
    )
    .await
    .unwrap();
    let t2 = reopen(&r2).await;
    assert_eq!(t2.node.key.did(), t.node.key.did());
    assert_eq!(contents(&t2.node), contents(&t.node));
    assert_eq!(contents(&t2.node).len(), 141);
    for path in ["/api/v2/circles", "/api/v2/shares", "/api/v3/friends"] {
        assert_eq!(get(&t2, path).await, get(&t, path).await, "{path}");
    }
    // Memories: the same records (strength is computed at the time of asking).
    let memories = |v: Value| {
        let mut m: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{} {} {} {}",
                    m["id"], m["content"], m["memory_type"], m["provenance"]
                )
            })
            .collect();
        m.sort();
        m
    };
    let (ours, theirs) = (
        memories(get(&t2, "/api/v2/memories?all=true").await),
        memories(get(&t, "/api/v2/memories?all=true").await),
    );
    assert!(ours.iter().any(|m| m.contains("Prefers redb")));
    assert_eq!(ours, theirs);
    assert_eq!(
        get(&t2, "/api/v2/circles").await[0]["name"],
        json!("Family")
    );
    // The search index was rebuilt from the restored records.
    let hits = get(&t2, "/api/v1/search?q=aardvark").await;
    assert_eq!(hits["hits"][0]["conversation"].as_str(), Some(&conv[..]));
    // The restored share still opens by its link (its sealed blobs came back).
    let link = share["link"].as_str().unwrap();
    let (_, shares) = t2.call(Method::GET, "/api/v2/shares", None).await;
    assert_eq!(shares[0]["link"].as_str(), Some(link));
    assert!(t2.node.check().await.unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_refuse_what_they_should() {
    let t = api::open().await;
    let work = tempfile::tempdir().unwrap();
    capture(&t.node, "one message").await;
    let with_keys = work.path().join("k.zip");
    let without = work.path().join("n.zip");
    t.node.backup(&with_keys, Some(PASS)).await.unwrap();
    t.node.backup(&without, None).await.unwrap();
    // A short passphrase is refused before anything is written.
    let short = work.path().join("s.zip");
    assert!(t.node.backup(&short, Some("short")).await.is_err());
    assert!(!short.exists());

    let fresh = |n: &str| DataDir::at(work.path().join(n));
    let opts = |p: Option<&str>, merge| RestoreOptions {
        passphrase: p.map(str::to_string),
        merge,
    };
    let e = restore(
        &with_keys,
        &fresh("a"),
        &opts(Some("wrong passphrase!"), false),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("passphrase"), "{e}");
    let e = restore(&with_keys, &fresh("b"), &opts(None, false))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("passphrase"), "{e}");
    let e = restore(&without, &fresh("c"), &opts(None, false))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no keys"), "{e}");
    // Into a directory that holds data: refused, unless merging the same identity.
    let e = restore(
        &with_keys,
        &DataDir::at(t.tmp.path()),
        &opts(Some(PASS), false),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("already holds data"), "{e}");
    let other = api::open().await;
    let other_dir = other.tmp.path().to_path_buf();
    other.node.shutdown().await.unwrap();
    drop(other.app);
    drop(other.node);
    let e = restore(
        &with_keys,
        &DataDir::at(&other_dir),
        &opts(Some(PASS), true),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("same identity"), "{e}");
    // Not a backup at all.
    let junk = work.path().join("junk.zip");
    std::fs::write(&junk, b"PK\x03\x04 not really a zip").unwrap();
    let e = restore(&junk, &fresh("d"), &opts(Some(PASS), false))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a usable VIVIM backup"), "{e}");
    // A directory holding nothing was left as it was by every refusal.
    assert!(!work.path().join("c").join("db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_adds_what_the_directory_lacks_and_keeps_what_it_has() {
    let t = api::open().await;
    let work = tempfile::tempdir().unwrap();
    let first = capture(&t.node, "kept in both").await;
    let b = work.path().join("b.zip");
    t.node.backup(&b, Some(PASS)).await.unwrap();
    // A restored copy that goes on living: one more conversation there.
    let r = work.path().join("r");
    restore(
        &b,
        &DataDir::at(&r),
        &RestoreOptions {
            passphrase: Some(PASS.into()),
            merge: false,
        },
    )
    .await
    .unwrap();
    // The source gets a new conversation after the backup; back it up again and merge.
    let second = capture(&t.node, "only in the second backup").await;
    let b2 = work.path().join("b2.zip");
    t.node.backup(&b2, None).await.unwrap();
    let sum = restore(
        &b2,
        &DataDir::at(&r),
        &RestoreOptions {
            passphrase: None,
            merge: true,
        },
    )
    .await
    .unwrap();
    assert_eq!(sum.conversations_restored, 1);
    assert_eq!(sum.conversations_kept, 1);
    let t2 = reopen(&r).await;
    let got = contents(&t2.node);
    assert!(got.contains_key(&first) && got.contains_key(&second));
    assert_eq!(got, contents(&t.node));
    assert!(t2.node.check().await.unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_names_a_record_corrupted_on_disk() {
    let t = api::open().await;
    let conv = capture(&t.node, "an ordinary first message").await;
    let marker = "QUOKKA-MARKER-7731 lives in this message";
    let (_, _) = t
        .node
        .capture(Capture {
            conversation: Some(conv.clone()),
            provider: None,
            source_id: None,
            title: None,
            parent: None,
            role: "assistant".into(),
            kind: None,
            lang: None,
            text: marker.into(),
            created_at_ms: None,
        })
        .await
        .unwrap();
    let clean = t.node.check().await.unwrap();
    assert!(clean.ok, "{:?}", clean.problems);
    assert_eq!(clean.index.docs, clean.index.expected);
    let hits = get(&t, "/api/v1/search?q=QUOKKA").await;
    let record = hits["hits"][0]["acu"].as_str().unwrap().to_string();

    // Flip one byte of the message's text in the database file, with the node closed.
    let dir = t.tmp.path().to_path_buf();
    t.node.shutdown().await.unwrap();
    let api::T { node, app, tmp, .. } = t;
    drop(app);
    drop(node);
    let db = dir.join("db").join("vivim.redb");
    let mut bytes = std::fs::read(&db).unwrap();
    let at = bytes
        .windows(18)
        .position(|w| w == b"QUOKKA-MARKER-7731")
        .expect("the message's text is in the file");
    bytes[at] = b'X';
    std::fs::write(&db, &bytes).unwrap();

    let t2 = reopen(&dir).await;
    let report = t2.node.check().await.unwrap();
    assert!(!report.ok);
    let p = report
        .problems
        .iter()
        .find(|p| p.kind == "bytes_mismatch")
        .unwrap_or_else(|| panic!("{:?}", report.problems));
    assert_eq!(p.record.as_deref(), Some(&record[..]));
    assert_eq!(p.conversation.as_deref(), Some(&conv[..]));
    // Over REST too.
    let (s, v) = t2.call(Method::POST, "/api/admin/check", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["ok"], json!(false));
    assert_eq!(v["problems"][0]["record"].as_str(), Some(&record[..]));
    drop(tmp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_names_what_needs_attention_and_the_sampler_samples() {
    let t = api::open().await;
    // A file that is no export: the import fails, and the status page says so with a link.
    let (s, _) = t
        .raw(
            Method::POST,
            "/api/v1/import",
            Some("this is not an export of anything".into()),
        )
        .await;
    assert!(s.is_client_error(), "{s}");
    let st = get(&t, "/api/admin/status").await;
    let failed: Vec<&Value> = st["attention"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "import_failed")
        .collect();
    assert_eq!(failed.len(), 1, "{st}");
    assert_eq!(failed[0]["link"], "/import");
    assert_eq!(st["counts"]["conversations"], 0);
    assert!(st["sizes"]["total"].as_u64().unwrap() >= st["sizes"]["records"].as_u64().unwrap());
    // The sampler takes its first sample at once, with the requests so far counted by route.
    let mut series = Value::Null;
    for _ in 0..100 {
        series = get(&t, "/api/admin/metrics/series").await;
        if !series["samples"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let first = &series["samples"][0];
    assert!(first["rss_bytes"].as_u64().unwrap() > 1 << 20, "{series}");
    assert!(first["sample_us"].as_u64().is_some());
    // Logs: a bad level is refused with a clear error.
    let (s, v) = t
        .call(Method::GET, "/api/admin/logs?level=chatty", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("level"));
    // Rebuild: an unknown index is a 400; the text index rebuilds.
    let (s, _) = t
        .call(
            Method::POST,
            "/api/admin/rebuild",
            Some(r#"{"what":"everything"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = t
        .call(
            Method::POST,
            "/api/admin/rebuild",
            Some(r#"{"what":"text"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["what"], "text");
    // A backup with keys needs a passphrase of 8 characters or more.
    let (s, v) = t
        .call(
            Method::POST,
            "/api/admin/backup",
            Some(r#"{"keys":true,"passphrase":"short"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, bytes) = t
        .raw(
            Method::POST,
            "/api/admin/backup",
            Some(r#"{"keys":false}"#.into()),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(&bytes[..2], b"PK");
    // The temporary archive is gone once streamed.
    let tmp = t.tmp.path().join("tmp");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

#[tokio::test]
async fn bad_log_queries_are_json_errors() {
    let t = api::open().await;
    for q in ["limit=-1", "limit=x", "level=loud"] {
        let (s, v) = t
            .call(Method::GET, &format!("/api/admin/logs?{q}"), None)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(v["error"]["code"], "bad_request", "{q}: {v}");
    }
}
