//! Concurrent use: captures racing each other, imports and searches of every mode. Every
//! acknowledged message must be readable, listed once, and still there after a restart; no
//! search may fail because another runs at the same time.
#![allow(clippy::unwrap_used)]

mod api;

use std::{collections::HashSet, sync::Arc};

use axum::http::{Method, StatusCode};
use vivim_node::{
    datadir::DataDir,
    import::Format,
    node::{Capture, Node, NodeError},
    testdata::{Rng, write_chatgpt_export},
};
use vivim_protocol::{ConvId, Hash};

fn capture(conversation: Option<ConvId>, source_id: Option<&str>, text: String) -> Capture {
    Capture {
        conversation: conversation.map(|c| c.to_string()),
        provider: source_id.map(|_| "chatgpt".to_string()),
        source_id: source_id.map(str::to_string),
        title: None,
        parent: None,
        role: "user".into(),
        kind: None,
        lang: None,
        text,
        created_at_ms: None,
    }
}

/// `n` captures at once into `conv`; the acknowledged ACU ids.
async fn burst(node: &Arc<Node>, conv: ConvId, n: usize, tag: &str) -> Vec<Hash> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let node = node.clone();
            let text = format!("{tag} message {i} about concurrent writers");
            tokio::spawn(async move { node.capture(capture(Some(conv), None, text)).await })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        let (acu, c) = t.await.unwrap().unwrap();
        assert_eq!(c, conv);
        ids.push(acu);
    }
    ids
}

/// Checks the store's invariants: every listed conversation once, the listing and the count
/// agree, every ACU location holds its ACU.
fn check_listing(node: &Node) -> usize {
    let page = node.store.list(None, 100_000).unwrap();
    let ids: Vec<ConvId> = page.rows.iter().map(|r| r.manifest.id).collect();
    let unique: HashSet<ConvId> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "a conversation is listed twice");
    assert_eq!(ids.len(), node.store.conversation_count());
    let acus: usize = page.rows.iter().map(|r| r.acu_count as usize).sum();
    assert_eq!(
        acus,
        node.store.acu_count(),
        "ACU time index and rows disagree"
    );
    ids.len()
}

/// Every id readable, every one in the conversation's chain (one branch, in order).
async fn check_conversation(node: &Node, conv: ConvId, want: &[Hash], total: usize) {
    for id in want {
        assert!(
            node.store.acu(id).await.unwrap().is_some(),
            "acknowledged ACU {id} is gone"
        );
    }
    let (row, acus) = node.conversation(&conv).await.unwrap().unwrap();
    assert_eq!(acus.len(), total, "ACUs of the conversation");
    assert_eq!(row.acu_count as usize, total);
    assert_eq!(row.manifest.message_count as usize, total, "head branch");
    let stored: HashSet<Hash> = acus.iter().map(|a| a.id()).collect();
    assert!(want.iter().all(|h| stored.contains(h)));
    // A chain: each ACU's parent is the one stored before it.
    for w in acus.windows(2) {
        assert_eq!(w[1].value().parent, Some(w[0].id()));
    }
    assert_eq!(row.manifest.head, Some(acus.last().unwrap().id()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_captures_into_one_conversation_are_all_kept_also_after_a_restart() {
    for n in [2usize, 8, 16, 64] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::at(tmp.path());
        let node = Node::open(dir.clone(), None, true).await.unwrap();
        let (first, conv) = node
            .capture(capture(None, None, "the first message".into()))
            .await
            .unwrap();
        let mut want = burst(&node, conv, n, "burst").await;
        want.push(first);
        assert_eq!(want.iter().collect::<HashSet<_>>().len(), n + 1);
        check_conversation(&node, conv, &want, n + 1).await;
        assert_eq!(check_listing(&node), 1);
        // Searchable when acknowledged.
        let (hits, total) = node
            .search(&vivim_node::search::Query::new("concurrent writers"))
            .unwrap();
        assert_eq!(total, n, "each captured message indexed once ({hits:?})");

        node.shutdown().await.unwrap();
        drop(node);
        let node = Node::open(dir, None, false).await.unwrap();
        check_conversation(&node, conv, &want, n + 1).await;
        assert_eq!(check_listing(&node), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_captures_into_many_conversations_each_listed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::at(tmp.path());
    let node = Node::open(dir.clone(), None, true).await.unwrap();
    // 32 writers: each starts its own conversation and adds to it, and all of them add to a
    // shared one named by its source id.
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let node = node.clone();
            tokio::spawn(async move {
                let (a, conv) = node
                    .capture(capture(None, None, format!("own {i}")))
                    .await
                    .unwrap();
                let (b, _) = node
                    .capture(capture(Some(conv), None, format!("own {i} again")))
                    .await
                    .unwrap();
                let (s, shared) = node
                    .capture(capture(None, Some("shared-1"), format!("shared {i}")))
                    .await
                    .unwrap();
                (conv, vec![a, b], shared, s)
            })
        })
        .collect();
    let mut shared_ids = Vec::new();
    let mut shared_conv = None;
    let mut own = Vec::new();
    for t in tasks {
        let (conv, ids, shared, s) = t.await.unwrap();
        own.push((conv, ids));
        shared_ids.push(s);
        assert!(shared_conv.is_none_or(|c| c == shared));
        shared_conv = Some(shared);
    }
    for (conv, ids) in &own {
        check_conversation(&node, *conv, ids, 2).await;
    }
    check_conversation(&node, shared_conv.unwrap(), &shared_ids, 32).await;
    assert_eq!(check_listing(&node), 33);
    node.shutdown().await.unwrap();
    drop(node);
    let node = Node::open(dir, None, false).await.unwrap();
    check_conversation(&node, shared_conv.unwrap(), &shared_ids, 32).await;
    assert_eq!(check_listing(&node), 33);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn imports_racing_captures_into_the_same_conversations_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::at(tmp.path());
    let node = Node::open(dir, None, true).await.unwrap();
    let export = tmp.path().join("export.json");
    write_chatgpt_export(std::fs::File::create(&export).unwrap(), 40, 6, 12, 7).unwrap();
    // The generated export's conversation ids are `conv-<seed>-<index>`.
    let sources: Vec<String> = (0..40).map(|c| format!("conv-7-{c:08}")).collect();
    let importers: Vec<_> = (0..3)
        .map(|_| {
            let node = node.clone();
            let export = export.clone();
            tokio::spawn(async move { node.import_path(&export, Format::Auto, None).await })
        })
        .collect();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let node = node.clone();
            let sources = sources.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..10 {
                    let src = &sources[(w * 5 + i) % sources.len()];
                    let (acu, conv) = node
                        .capture(capture(None, Some(src), format!("captured {w}/{i}")))
                        .await
                        .unwrap();
                    got.push((conv, acu));
                }
                got
            })
        })
        .collect();
    for t in importers {
        t.await.unwrap().unwrap();
    }
    let mut captured = Vec::new();
    for t in writers {
        captured.extend(t.await.unwrap());
    }
    assert_eq!(check_listing(&node), 40);
    for (conv, acu) in &captured {
        assert!(node.store.acu(acu).await.unwrap().is_some(), "{acu} lost");
        assert!(node.store.acu_ids(conv).unwrap().contains(acu));
    }
    // Every imported message is there too: 6 per conversation, plus the captures.
    let total: usize = node
        .store
        .list(None, 1000)
        .unwrap()
        .rows
        .iter()
        .map(|r| r.acu_count as usize)
        .sum();
    assert_eq!(total, 40 * 6 + captured.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn searches_of_every_mode_run_concurrently_with_a_writer_and_never_fail() {
    let t = Arc::new(api::open().await);
    let export = t.tmp.path().join("export.json");
    write_chatgpt_export(std::fs::File::create(&export).unwrap(), 30, 8, 20, 3).unwrap();
    t.node
        .import_path(&export, Format::Auto, None)
        .await
        .unwrap();
    vivim_node::organize::catch_up(&t.node).await.unwrap();
    let conv = t.node.store.list(None, 1).unwrap().rows[0].manifest.id;
    let writer = {
        let node = t.node.clone();
        tokio::spawn(async move {
            for i in 0..60 {
                node.capture(capture(
                    Some(conv),
                    None,
                    format!("writer note {i} rust borrow"),
                ))
                .await
                .unwrap();
            }
        })
    };
    let uris = [
        "/api/v1/search?q=rust+borrow&mode=text".to_string(),
        "/api/v1/search?q=rust+borrow&mode=vector".to_string(),
        "/api/v1/search?q=rust+borrow&mode=hybrid".to_string(),
        format!("/api/v1/conversations/{conv}/related?limit=5"),
        "/api/v2/memories?q=rust".to_string(),
        "/api/v1/conversations?limit=20".to_string(),
    ];
    let readers: Vec<_> = (0..32)
        .map(|i| {
            let t = t.clone();
            let uris = uris.clone();
            tokio::spawn(async move {
                let mut failures = Vec::new();
                for j in 0..12 {
                    let uri = &uris[(i + j) % uris.len()];
                    let (s, body) = t.raw(Method::GET, uri, None).await;
                    if s != StatusCode::OK {
                        failures.push(format!("{uri}: {s} {}", String::from_utf8_lossy(&body)));
                    }
                }
                let (s, body) = t
                    .send(
                        Method::POST,
                        "/api/v2/context",
                        Some(serde_json::json!({"query": "rust borrow", "budget_tokens": 800, "model": "gpt-4o"})),
                    )
                    .await;
                if s != StatusCode::OK {
                    failures.push(format!("context: {s} {body}"));
                }
                failures
            })
        })
        .collect();
    let mut failures = Vec::new();
    for r in readers {
        failures.extend(r.await.unwrap());
    }
    writer.await.unwrap();
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    // The vector index itself, hammered from more threads than it has contexts.
    let sem = vivim_node::organize::get(&t.node).await.unwrap().clone();
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let sem = sem.clone();
            std::thread::spawn(move || {
                let q = vec![0.5f32; sem.vectors.options().dims];
                (0..50).all(|_| sem.vectors.search(&q, 10).is_ok())
            })
        })
        .collect();
    for th in threads {
        assert!(th.join().unwrap(), "a concurrent vector search failed");
    }
}

/// One operation of the randomized interleaving test.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// A capture into conversation `k` of the fixed set, by its source id.
    BySource(usize),
    /// A capture into conversation `k` by its id, if it exists yet.
    ById(usize),
    /// A capture starting a new conversation.
    New,
    /// A reply to an earlier message of conversation `k` (a branch).
    Branch(usize),
    /// A read of the listing, which must never show a conversation twice.
    List,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn randomized_interleavings_match_a_simple_model() {
    for seed in 1..=2u64 {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::at(tmp.path());
        let node = Node::open(dir.clone(), None, true).await.unwrap();
        let sources: Vec<String> = (0..4).map(|k| format!("src-{seed}-{k}")).collect();
        let owner = node.key.public();
        let ids: Vec<ConvId> = sources
            .iter()
            .map(|s| ConvId::for_import(&owner, "chatgpt", s))
            .collect();
        let workers: Vec<_> = (0..10u64)
            .map(|w| {
                let node = node.clone();
                let sources = sources.clone();
                let ids = ids.clone();
                tokio::spawn(async move {
                    let mut rng = Rng::new(seed * 1000 + w);
                    // The model: every acknowledged (conversation, ACU).
                    let mut acked: Vec<(ConvId, Hash)> = Vec::new();
                    for step in 0..20 {
                        let k = rng.below(4) as usize;
                        let op = match rng.below(10) {
                            0..=3 => Op::BySource(k),
                            4..=6 => Op::ById(k),
                            7 => Op::New,
                            8 => Op::Branch(k),
                            _ => Op::List,
                        };
                        let text = format!("w{w} s{step} {op:?}");
                        let r = match op {
                            Op::BySource(k) => {
                                node.capture(capture(None, Some(&sources[k]), text)).await
                            }
                            Op::ById(k) => node.capture(capture(Some(ids[k]), None, text)).await,
                            Op::New => node.capture(capture(None, None, text)).await,
                            Op::Branch(k) => {
                                let stored = node.store.acu_ids(&ids[k]).unwrap();
                                if stored.is_empty() {
                                    continue;
                                }
                                let parent = stored[rng.below(stored.len() as u64) as usize];
                                let mut c = capture(Some(ids[k]), None, text);
                                c.parent = Some(parent.to_string());
                                node.capture(c).await
                            }
                            Op::List => {
                                // One snapshot, taken while others write: never a conversation
                                // twice (counts are compared once the writers are done).
                                let rows = node.store.list(None, 100_000).unwrap().rows;
                                let ids: HashSet<ConvId> =
                                    rows.iter().map(|r| r.manifest.id).collect();
                                assert_eq!(ids.len(), rows.len(), "listed twice");
                                continue;
                            }
                        };
                        match (op, r) {
                            (_, Ok((acu, conv))) => acked.push((conv, acu)),
                            // Only a capture by id into a conversation not made yet may fail.
                            (Op::ById(_), Err(NodeError::NotFound(_))) => {}
                            (op, Err(e)) => panic!("{op:?}: {e}"),
                        }
                    }
                    acked
                })
            })
            .collect();
        let mut acked = Vec::new();
        for w in workers {
            acked.extend(w.await.unwrap());
        }
        check_model(&node, &acked, seed).await;
        node.shutdown().await.unwrap();
        drop(node);
        let node = Node::open(dir, None, false).await.unwrap();
        check_model(&node, &acked, seed).await;
    }
}

async fn check_model(node: &Node, acked: &[(ConvId, Hash)], seed: u64) {
    let n = check_listing(node);
    let convs: HashSet<ConvId> = acked.iter().map(|(c, _)| *c).collect();
    assert_eq!(n, convs.len(), "seed {seed}: conversations");
    assert_eq!(node.store.acu_count(), acked.len(), "seed {seed}: ACUs");
    for (conv, acu) in acked {
        let a = node.store.acu(acu).await.unwrap();
        assert!(a.is_some(), "seed {seed}: acknowledged {acu} lost");
        assert_eq!(a.unwrap().value().conversation, *conv);
    }
}
