//! Strangers cannot spend a node's disk, memory or attention: a stranger's share waits as a
//! message request (nothing downloaded, nothing stored, no receipt) until the user accepts it;
//! a flood of `Notify` from fresh DIDs leaves a bounded list of requests and no tracked
//! document.
#![allow(clippy::unwrap_used)]

use std::{path::Path, time::Duration};

use vivim_identity::Keypair;
use vivim_node::{
    net::{Net, NetConfig, ids, wire::DocRequest},
    node::{Capture, Node},
    share::{ShareSpec, Target},
    trust::{
        Tier,
        requests::{Decision, MAX_SENDERS},
    },
};
use vivim_protocol::{ConvId, IntentKind};
use vivim_tests::{eventually, network};

/// Bytes under `dir`.
fn du(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = e.metadata().unwrap();
        n += if m.is_dir() { du(&e.path()) } else { m.len() };
    }
    n
}

/// A conversation of `messages` messages of about `bytes` bytes each.
async fn big_conversation(node: &Node, messages: usize, bytes: usize) -> ConvId {
    let mut conv = None;
    for i in 0..messages {
        let text = format!("{i} {}", "lorem ipsum dolor sit amet ".repeat(bytes / 27));
        let (_, id) = node
            .capture(Capture {
                conversation: conv.map(|c: ConvId| c.to_string()),
                provider: Some("chatgpt".into()),
                source_id: None,
                title: Some("A long one".into()),
                parent: None,
                role: if i % 2 == 0 { "user" } else { "assistant" }.into(),
                kind: None,
                lang: None,
                text,
                created_at_ms: None,
            })
            .await
            .unwrap();
        conv = Some(id);
    }
    conv.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_share_waits_as_a_request_until_accepted() {
    let (_boot, peers) = network(2, false).await;
    let (a, b) = (&peers[0], &peers[1]);
    let (a_did, b_did) = (a.node.key.did(), b.node.key.did());
    assert_eq!(b.node.tier(&a_did), Tier::Stranger);
    // 24 messages of ~800 KB: a ~19 MB package.
    let conv = big_conversation(&a.node, 24, 800_000).await;
    let b_before = du(b.tmp.path());
    let share = a
        .node
        .share(ShareSpec {
            content: conv.to_string(),
            target: Target::Users(vec![b_did]),
            expires_in_ms: None,
            kind: IntentKind::Share,
            draft: false,
        })
        .await
        .unwrap();
    let req = eventually("B lists a request from A", || {
        b.node
            .requests()
            .unwrap()
            .into_iter()
            .find(|r| r.did == a_did.to_string())
    })
    .await;
    assert_eq!(req.items.len(), 1);
    assert_eq!(req.items[0].kind, "share");
    assert_eq!(req.items[0].id, share.id);
    // A few redelivery rounds later: nothing of it on B, and A holds no receipt.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(b.node.share_rows().unwrap().is_empty());
    assert_eq!(b.node.store.conversation_count(), 0);
    let grown = du(b.tmp.path()).saturating_sub(b_before);
    assert!(
        grown < 2 * 1024 * 1024,
        "B's data dir grew by {grown} bytes for a stranger's share"
    );
    let row = a
        .node
        .share_row(&share.id.parse().unwrap())
        .unwrap()
        .unwrap();
    assert!(
        !row.delivered.contains(&b_did.public_key()),
        "B sent a receipt before accepting"
    );
    println!("a stranger's ~19 MB share grew the recipient's data dir by {grown} bytes");

    // Accepted: A becomes a contact and the share opens.
    let outcome = b.node.decide_request(&a_did, Decision::Accept).unwrap();
    assert_eq!(outcome.shares, 1);
    assert_eq!(b.node.tier(&a_did), Tier::Contact);
    assert!(b.node.requests().unwrap().is_empty());
    eventually("B opens the accepted share", || {
        (b.node.store.conversation_count() == 1).then_some(())
    })
    .await;
    assert!(b.node.store.row(&conv).unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_notifies_from_fresh_dids_stays_bounded() {
    let (_boot, peers) = network(1, false).await;
    let v = &peers[0];
    let v_addr = v
        .p2p
        .bootstrap_addrs()
        .await
        .into_iter()
        .find(|a| a.to_string().contains("/tcp/"))
        .unwrap();
    let v_peer = v.p2p.net.peer_id;
    let docs_before = v.node.social.ids().unwrap().len();
    // VIVIM_FLOOD=1000 for the figure; 240 (past the 200-sender bound) in CI.
    let flood: usize = std::env::var("VIVIM_FLOOD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MAX_SENDERS + 40);
    let started = std::time::Instant::now();
    let mut answered = 0;
    for i in 0..flood {
        let mut seed = [7u8; 32];
        seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let key = Keypair::from_seed(&seed);
        let mut cfg = NetConfig::loopback();
        cfg.listen.retain(|a| a.to_string().contains("/tcp/"));
        let net = Net::start(&key, cfg).await.unwrap();
        net.dial(v_addr.clone()).await.unwrap();
        let z = key.did().to_string().replace("did:key:", "");
        let doc = format!("circle.{z}.spam{i}");
        let req = DocRequest::Notify { doc }.encode();
        if net.request(v_peer, req).await.is_ok() {
            answered += 1;
        }
        net.shutdown().await;
        assert_eq!(ids::did_of_peer(&net.peer_id).unwrap(), key.did());
    }
    let requests = v.node.requests().unwrap();
    println!(
        "{flood} Notify from fresh DIDs in {:.1} s: {} requests held, {} documents tracked, {answered} answered",
        started.elapsed().as_secs_f64(),
        requests.len(),
        v.node.social.ids().unwrap().len() - docs_before
    );
    assert_eq!(answered, 0, "a stranger got a receipt");
    assert_eq!(requests.len(), MAX_SENDERS);
    assert_eq!(v.node.social.ids().unwrap().len(), docs_before);
    // The newest senders are the ones kept.
    let last = Keypair::from_seed(&{
        let mut seed = [7u8; 32];
        seed[..8].copy_from_slice(&((flood - 1) as u64).to_le_bytes());
        seed
    });
    assert!(requests.iter().any(|r| r.did == last.did().to_string()));
}

/// Blocking someone reaches the swarm: their connections are closed and refused (after the
/// block itself went out), and their requests are refused outright.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_closes_and_refuses_connections() {
    let (_boot, peers) = network(2, false).await;
    let (a, b) = (&peers[0], &peers[1]);
    let b_addr = b
        .p2p
        .bootstrap_addrs()
        .await
        .into_iter()
        .find(|x| x.to_string().contains("/tcp/"))
        .unwrap();
    let (a_peer, b_peer) = (a.p2p.net.peer_id, b.p2p.net.peer_id);
    a.p2p.net.dial(b_addr.clone()).await.unwrap();
    let connected = |who: &vivim_node::P2p, peer| {
        let net = who.net.clone();
        async move {
            for _ in 0..50 {
                if net.is_connected(peer).await {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        }
    };
    assert!(connected(&b.p2p, a_peer).await);
    b.node.block(&a.node.key.did()).unwrap();
    assert_eq!(b.node.tier(&a.node.key.did()), Tier::Blocked);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while b.p2p.net.is_connected(a_peer).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "A is still connected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A dials again: refused.
    let _ = a.p2p.net.dial(b_addr).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!b.p2p.net.is_connected(a_peer).await);
    assert!(!a.p2p.net.is_connected(b_peer).await);
    // Unblocked: A may connect again.
    b.node.unblock(&a.node.key.did()).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b_addr = b
        .p2p
        .bootstrap_addrs()
        .await
        .into_iter()
        .find(|x| x.to_string().contains("/tcp/"))
        .unwrap();
    a.p2p.net.dial(b_addr).await.unwrap();
    assert!(connected(&b.p2p, a_peer).await);
}

/// A follow of a follow is served without a request, but only up to a small size a day: a
/// 9.6 MB share from one stops at 8 MiB and nothing of it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_of_a_follow_is_served_up_to_a_small_size() {
    let (_boot, peers) = network(3, false).await;
    let (a, b, c) = (&peers[0], &peers[1], &peers[2]);
    let (a_did, b_did, c_did) = (a.node.key.did(), b.node.key.did(), c.node.key.did());
    // B follows C (so B tracks C's graph), and C follows A: A is a follow of a follow to B.
    b.node.follow(&c_did).unwrap();
    c.node.follow(&a_did).unwrap();
    eventually("B sees that C follows A", || {
        (b.node.tier(&a_did) == Tier::FollowOfFollow).then_some(())
    })
    .await;
    let conv = big_conversation(&a.node, 12, 800_000).await;
    let share = a
        .node
        .share(ShareSpec {
            content: conv.to_string(),
            target: Target::Users(vec![b_did]),
            expires_in_ms: None,
            kind: IntentKind::Share,
            draft: false,
        })
        .await
        .unwrap();
    let row = eventually("B tries the share and stops at the quota", || {
        b.node
            .share_row(&share.id.parse().unwrap())
            .ok()
            .flatten()
            .filter(|r| r.state == "failed")
    })
    .await;
    assert!(
        row.error.as_deref().is_some_and(|e| e.contains("bytes")),
        "{:?}",
        row.error
    );
    assert!(
        b.node.requests().unwrap().is_empty(),
        "a follow of a follow is no stranger"
    );
    assert!(b.node.store.row(&conv).unwrap().is_none());
}
