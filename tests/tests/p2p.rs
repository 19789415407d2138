//! Peer to peer on loopback, in one process: bootstrap through a relay-mode node, resolve a
//! DID through the DHT, publish on A and fetch on C knowing only A's DID, reject tampered and
//! forged content, fetch from the relay's pin while A is offline, and rejoin after a restart.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use vivim_identity::Keypair;
use vivim_node::{
    datadir::DataDir,
    import::Format,
    net::p2p::{P2p, P2pConfig, P2pError, conv_key},
    node::Node,
    testdata::write_chatgpt_export,
};
use vivim_protocol::{Acu, Announce, Body, ConvId, Kind, Manifest, Role, Signed};
use vivim_tests::{peer, peer_with};

async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn import_one(node: &Node, seed: u64) -> ConvId {
    import_sized(node, 12, 30, seed).await
}

/// Imports one generated conversation of `messages` messages of about `words` words.
async fn import_sized(node: &Node, messages: usize, words: usize, seed: u64) -> ConvId {
    let before: Vec<ConvId> = node
        .store
        .list(None, 1000)
        .unwrap()
        .rows
        .iter()
        .map(|r| r.manifest.id)
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("c.json");
    write_chatgpt_export(std::fs::File::create(&f).unwrap(), 1, messages, words, seed).unwrap();
    node.import_path(&f, Format::Auto, None).await.unwrap();
    node.store
        .list(None, 1000)
        .unwrap()
        .rows
        .iter()
        .map(|r| r.manifest.id)
        .find(|id| !before.contains(id))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_resolve_fetch_pin_and_rejoin() {
    let relay = peer(&[], true).await;
    let boot = relay.p2p.bootstrap_addrs().await;
    assert!(!boot.is_empty());
    let a = peer(&boot, false).await;
    let b = peer(&boot, false).await;
    let c = peer(&boot, false).await;
    for p in [&a, &b, &c] {
        let p2p = p.p2p.clone();
        eventually("peers see the relay", || {
            let p2p = p2p.clone();
            async move { (!p2p.net.peers().await.is_empty()).then_some(()) }
        })
        .await;
        p.p2p.publish_peer_record().await.unwrap();
    }

    // C resolves A's DID to A's signed record with A's iroh address.
    let a_did = a.node.key.did();
    let rec = eventually("C resolves A", || {
        let c = c.p2p.clone();
        async move { c.resolve(&a_did).await.ok() }
    })
    .await;
    assert_eq!(rec.value().key, a.node.key.public());
    let a_iroh: Vec<String> = a.p2p.iroh_addrs().iter().map(|s| s.to_string()).collect();
    assert!(rec.value().iroh_addrs.iter().any(|x| a_iroh.contains(x)));

    // A publishes; C fetches knowing the id and A's DID; it arrives verified with A as owner.
    let conv = import_one(&a.node, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // gossip subscriptions settle
    let ann = a.p2p.publish(&conv).await.unwrap();
    assert_eq!(ann.value().owner, a.node.key.public());
    let got = eventually("C fetches from A", || {
        let c = c.p2p.clone();
        async move { c.fetch(&conv, Some(&a_did)).await.ok() }
    })
    .await;
    assert_eq!(got.acus, 12);
    assert!(got.new);
    let (row, acus) = c.node.conversation(&conv).await.unwrap().unwrap();
    assert_eq!(row.manifest.owner, a.node.key.public());
    let (a_row, a_acus) = a.node.conversation(&conv).await.unwrap().unwrap();
    assert_eq!(row.seq, a_row.seq);
    assert_eq!(
        acus.iter().map(|x| x.id()).collect::<Vec<_>>(),
        a_acus.iter().map(|x| x.id()).collect::<Vec<_>>()
    );
    assert_eq!(c.node.store.list(None, 10).unwrap().rows.len(), 1);

    // The relay pinned it from the gossip announcement and provides it.
    eventually("relay pins", || {
        let r = relay.p2p.clone();
        async move { (r.stats.pinned.load(std::sync::atomic::Ordering::Relaxed) > 0).then_some(()) }
    })
    .await;
    assert!(relay.node.store.row(&conv).unwrap().is_some());

    // A goes offline; B still fetches A's conversation — from the relay's pin.
    a.p2p.shutdown().await;
    let from_pin = eventually("B fetches while A is offline", || {
        let b = b.p2p.clone();
        async move { b.fetch(&conv, None).await.ok() }
    })
    .await;
    assert_eq!(from_pin.source, relay.node.key.did());
    assert_eq!(from_pin.owner, a_did);
    assert_eq!(from_pin.acus, 12);

    // B restarts (same data dir and key) and rejoins: C resolves its new record.
    let b_did = b.node.key.did();
    let first = c.p2p.resolve(&b_did).await.unwrap();
    b.p2p.shutdown().await;
    let b2 = P2p::start(b.node.clone(), {
        let mut cfg = P2pConfig::loopback();
        cfg.net.bootstrap = boot.clone();
        cfg
    })
    .await
    .unwrap();
    let newer = eventually("C resolves B's new record", || {
        let c = c.p2p.clone();
        let issued = first.value().issued_at_ms;
        async move {
            c.resolve(&b_did)
                .await
                .ok()
                .filter(|r| r.value().issued_at_ms > issued)
        }
    })
    .await;
    let b2_iroh: Vec<String> = b2.iroh_addrs().iter().map(|s| s.to_string()).collect();
    assert!(newer.value().iroh_addrs.iter().any(|x| b2_iroh.contains(x)));
    assert_eq!(b2.net.peer_id, b.p2p.net.peer_id);
}

/// M publishes a conversation whose bytes do not verify; C drops it whole and counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_and_forged_content_is_rejected() {
    let relay = peer(&[], false).await;
    let boot = relay.p2p.bootstrap_addrs().await;
    let m = peer(&boot, false).await;
    let c = peer(&boot, false).await;
    for p in [&m, &c] {
        let p2p = p.p2p.clone();
        eventually("peers see the bootstrap node", || {
            let p2p = p2p.clone();
            async move { (!p2p.net.peers().await.is_empty()).then_some(()) }
        })
        .await;
        p.p2p.publish_peer_record().await.unwrap();
    }
    let victim = Keypair::from_seed(&[9; 32]);
    let mk = m.node.key.clone();
    // "late": eight valid ACUs of 600 KB (4.8 MB: written into C's store as they arrive, past a
    // 4 MiB batch) and then a forged one: the rejection must take the written slots away.
    for case in ["tampered", "forged", "late"] {
        let conv = ConvId::random();
        let acu_at = |n: u64, text: String| {
            Acu::new(
                conv,
                None,
                mk.public(),
                Role::User,
                Kind::Text,
                Body::text(text),
                n,
            )
        };
        let forge = |acu: Acu| {
            // Claims the victim as author; signed by M.
            let mut acu = acu;
            acu.author = victim.public();
            let unsigned = Signed::sign(acu, &victim).unwrap();
            let mut v = unsigned.value().clone();
            v.sig = Some(mk.sign(vivim_identity::Purpose::ACU, b"whatever"));
            let mut bytes = Vec::new();
            ciborium::into_writer(&v, &mut bytes).unwrap();
            bytes
        };
        let acu = acu_at(1, "the original words".into());
        let acus: Vec<Vec<u8>> = match case {
            "tampered" => {
                // Validly signed, then one word changed under the same signature.
                let signed = Signed::sign(acu, &mk).unwrap();
                let mut bytes = signed.bytes().to_vec();
                let pos = bytes.windows(8).position(|w| w == b"original").unwrap();
                bytes[pos..pos + 8].copy_from_slice(b"doctored");
                vec![bytes]
            }
            "forged" => vec![forge(acu)],
            _ => {
                let mut v: Vec<Vec<u8>> = (0..8u64)
                    .map(|i| {
                        let text = format!("{i} ").repeat(300_000);
                        Signed::sign(acu_at(i + 2, text), &mk)
                            .unwrap()
                            .bytes()
                            .to_vec()
                    })
                    .collect();
                v.push(forge(acu));
                v
            }
        };
        let acu_hashes: Vec<vivim_protocol::Hash> =
            acus.iter().map(|b| vivim_protocol::Hash::of(b)).collect();
        let acu_hash = *acu_hashes.last().unwrap();
        let manifest = Signed::sign(
            Manifest {
                v: 1,
                id: conv,
                provider: "vivim".into(),
                source_id: None,
                source_url: None,
                title: case.into(),
                created_at_ms: 1,
                updated_at_ms: 1,
                owner: mk.public(),
                model: None,
                message_count: acus.len() as u32,
                total_tokens: 1,
                head: Some(acu_hash),
                forked_from: None,
                sig: None,
            },
            &mk,
        )
        .unwrap();
        let blobs = m.node.store.blobs();
        let mut tags = Vec::new();
        for b in acus.iter().cloned().chain([manifest.bytes().to_vec()]) {
            tags.push(blobs.blobs().add_bytes(b).temp_tag().await.unwrap());
        }
        let seq = vivim_protocol::hash_seq_bytes(
            std::iter::once(manifest.id()).chain(acu_hashes.iter().copied()),
        );
        let seq_tag = blobs
            .blobs()
            .add_bytes_with_opts((seq, iroh_blobs::BlobFormat::HashSeq))
            .temp_tag()
            .await
            .unwrap();
        // Tagged as a conversation that leaves M (its blob server serves only those).
        blobs
            .tags()
            .set(
                format!("conv/{conv}"),
                iroh_blobs::HashAndFormat::hash_seq(seq_tag.hash()),
            )
            .await
            .unwrap();
        let ann = Signed::sign(
            Announce {
                v: 1,
                conversation: conv,
                seq: vivim_protocol::Hash(*seq_tag.hash().as_bytes()),
                manifest: manifest.id(),
                owner: mk.public(),
                title: case.into(),
                published_at_ms: 1,
                sig: None,
            },
            &mk,
        )
        .unwrap();
        m.p2p
            .net
            .put_record(conv_key(&conv), ann.bytes().to_vec())
            .await
            .unwrap();
        let before = c
            .p2p
            .stats
            .rejected
            .load(std::sync::atomic::Ordering::Relaxed);
        let m_did = mk.did();
        let err = eventually("C gets an answer", || {
            let c = c.p2p.clone();
            async move {
                match c.fetch(&conv, Some(&m_did)).await {
                    Err(P2pError::Rejected { why, .. }) => Some(why),
                    Err(P2pError::NotFound(_)) => None,
                    other => panic!("{case}: expected a rejection, got {other:?}"),
                }
            }
        })
        .await;
        assert!(err.contains("signature"), "{case}: {err}");
        assert!(
            c.node.store.row(&conv).unwrap().is_none(),
            "{case} was stored"
        );
        // Nothing of it is left: no ACU bytes in the conversation's slots, none findable.
        assert!(c.node.store.acu_bytes(&conv).unwrap().is_empty(), "{case}");
        for h in &acu_hashes {
            assert!(c.node.store.raw(h).unwrap().is_none(), "{case}");
        }
        assert!(
            c.p2p
                .stats
                .rejected
                .load(std::sync::atomic::Ordering::Relaxed)
                > before
        );
        drop(tags);
    }
    assert_eq!(c.node.store.conversation_count(), 0);
    assert_eq!(c.node.store.acu_count(), 0);
}

/// Sixteen nodes on one machine all receive a gossip message (loopback peers must not be
/// scored as a colocated Sybil swarm).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_reaches_all_sixteen_nodes_on_loopback() {
    // A bare payload on a test topic: delivered unvalidated only where the topic is open.
    let open = |c: &mut P2pConfig| c.net.open_topics = vec!["vivim/test/1".into()];
    let first = peer_with(&[], false, open).await;
    let boot = first.p2p.bootstrap_addrs().await;
    let mut peers = vec![first];
    for _ in 1..16 {
        peers.push(peer_with(&boot, false, open).await);
    }
    for p in &peers {
        p.p2p.net.subscribe("vivim/test/1").await.unwrap();
    }
    let mut rxs: Vec<_> = peers.iter().map(|p| p.p2p.net.events()).collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Meshes form over a few heartbeats and a loaded CI machine can be slow: publish again
    // (a new message) until every node has had one, for at most 20 s. Without the loopback
    // whitelist most nodes never get any (they are graylisted).
    let mut got = vec![false; peers.len()];
    got[5] = true;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut round = 0u32;
    while got.iter().any(|g| !g) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nodes {:?} never got a message",
            got.iter()
                .enumerate()
                .filter(|(_, g)| !**g)
                .map(|(i, _)| i)
                .collect::<Vec<_>>()
        );
        round += 1;
        peers[5]
            .p2p
            .net
            .publish(
                "vivim/test/1",
                format!("hello, everyone #{round}").into_bytes(),
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        for (i, rx) in rxs.iter_mut().enumerate() {
            while let Ok(ev) = rx.try_recv() {
                if let vivim_node::net::NetEvent::Gossip { topic, data, .. } = ev
                    && topic == "vivim/test/1"
                {
                    assert!(data.starts_with(b"hello, everyone #"));
                    got[i] = true;
                }
            }
        }
    }
}

/// Relay mode runs an iroh relay; nodes that use it can reach each other through it with no
/// direct address at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_mode_runs_an_iroh_relay_that_carries_connections() {
    let tmp = tempfile::tempdir().unwrap();
    let relay_node = Node::open(DataDir::at(tmp.path().join("r")), None, true)
        .await
        .unwrap();
    let mut cfg = P2pConfig::loopback();
    cfg.net.relay_server = true;
    cfg.pin_announced = true;
    cfg.iroh_relay_bind = Some("127.0.0.1:0".parse().unwrap());
    let relay = P2p::start(relay_node, cfg).await.unwrap();
    let url = relay.relay_url().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let boot = relay.bootstrap_addrs().await;

    let with_relay = |name: &'static str| {
        let boot = boot.clone();
        let url = url.clone();
        let dir = tmp.path().join(name);
        async move {
            let node = Node::open(DataDir::at(dir), None, true).await.unwrap();
            let mut cfg = P2pConfig::loopback();
            cfg.net.bootstrap = boot;
            cfg.relay_urls = vec![url];
            (node.clone(), P2p::start(node, cfg).await.unwrap())
        }
    };
    let (a_node, a) = with_relay("a").await;
    let (_c_node, c) = with_relay("c").await;
    // A gets the relay as its home relay.
    let home = eventually("A connects to its home relay", || {
        let a = a.clone();
        async move { a.endpoint.addr().relay_urls().next().map(|u| u.to_string()) }
    })
    .await;
    assert_eq!(home.trim_end_matches('/'), url.trim_end_matches('/'));
    // C dials A by endpoint id and relay URL only: the relay carries the connection.
    let only_relay = iroh::EndpointAddr::new(a.endpoint.id()).with_relay_url(home.parse().unwrap());
    let conn = tokio::time::timeout(
        Duration::from_secs(15),
        c.endpoint.connect(only_relay, iroh_blobs::ALPN),
    )
    .await
    .expect("connecting through the relay timed out")
    .unwrap();
    assert_eq!(conn.remote_id(), a.endpoint.id());
    // A's published peer record names the relay.
    let rec = eventually("A's record names its relay", || {
        let a = a.clone();
        async move {
            a.publish_peer_record()
                .await
                .ok()
                .filter(|r| r.value().relay_url.is_some())
        }
    })
    .await;
    assert_eq!(
        rec.value()
            .relay_url
            .as_deref()
            .unwrap()
            .trim_end_matches('/'),
        url.trim_end_matches('/')
    );
    drop(a_node);
    relay.shutdown().await;
}

/// A relay pins what fits its limit and refuses a larger conversation part way, keeping none
/// of it (an announcement alone could otherwise make it download up to 200 GB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_pins_only_conversations_within_its_limit() {
    let relay = peer_with(&[], true, |c| c.pin_max_bytes = 100_000).await;
    let boot = relay.p2p.bootstrap_addrs().await;
    let a = peer(&boot, false).await;
    let p2p = a.p2p.clone();
    eventually("A sees the relay", || {
        let p2p = p2p.clone();
        async move { (!p2p.net.peers().await.is_empty()).then_some(()) }
    })
    .await;
    a.p2p.publish_peer_record().await.unwrap();
    let small = import_sized(&a.node, 12, 30, 1).await;
    let big = import_sized(&a.node, 40, 600, 2).await;
    let size = |id: ConvId| {
        a.node
            .store
            .acu_bytes(&id)
            .unwrap()
            .iter()
            .map(|b| b.len())
            .sum::<usize>()
    };
    assert!(
        size(small) < 100_000 && size(big) > 100_000,
        "{} {}",
        size(small),
        size(big)
    );
    tokio::time::sleep(Duration::from_millis(500)).await; // gossip subscriptions settle
    a.p2p.publish(&big).await.unwrap();
    let rejected = |r: &vivim_tests::Peer| {
        r.p2p
            .stats
            .rejected
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    eventually("the relay refuses the large conversation", || {
        let n = rejected(&relay);
        async move { (n > 0).then_some(()) }
    })
    .await;
    a.p2p.publish(&small).await.unwrap();
    eventually("the relay pins the small one", || {
        let n = relay
            .p2p
            .stats
            .pinned
            .load(std::sync::atomic::Ordering::Relaxed);
        async move { (n > 0).then_some(()) }
    })
    .await;
    assert!(relay.node.store.row(&small).unwrap().is_some());
    assert!(relay.node.store.row(&big).unwrap().is_none());
    assert!(relay.node.store.acu_bytes(&big).unwrap().is_empty());
    assert_eq!(
        relay
            .p2p
            .stats
            .pinned
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

/// At most `PIN_CONCURRENCY` pins run and `PIN_QUEUE` wait; a flood beyond that is dropped and
/// counted instead of queueing unbounded downloads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_pins_is_bounded() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use vivim_node::net::p2p::{PIN_CONCURRENCY, PIN_QUEUE};
    let relay = peer(&[], true).await;
    let (release, hold) = tokio::sync::watch::channel(false);
    let running = std::sync::Arc::new(AtomicUsize::new(0));
    let done = std::sync::Arc::new(AtomicUsize::new(0));
    for _ in 0..PIN_CONCURRENCY + PIN_QUEUE + 10 {
        let (mut hold, running, done) = (hold.clone(), running.clone(), done.clone());
        relay.p2p.spawn_pin(async move {
            running.fetch_add(1, Ordering::SeqCst);
            let _ = hold.wait_for(|go| *go).await;
            running.fetch_sub(1, Ordering::SeqCst);
            done.fetch_add(1, Ordering::SeqCst);
        });
    }
    eventually("the first pins run", || {
        let n = running.load(Ordering::SeqCst);
        async move { (n == PIN_CONCURRENCY).then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(running.load(Ordering::SeqCst), PIN_CONCURRENCY);
    assert_eq!(relay.p2p.stats.pins_dropped.load(Ordering::Relaxed), 10);
    release.send(true).unwrap();
    eventually("the waiting pins run too", || {
        let n = done.load(Ordering::SeqCst);
        async move { (n == PIN_CONCURRENCY + PIN_QUEUE).then_some(()) }
    })
    .await;
}

/// Nothing holds a node but the code that uses it: the network holds the node, the node reaches
/// the network only through a channel. Dropping a started node and its network ends their
/// background work (the libp2p listener closes), frees the node, and its data dir opens again
/// in the same process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_node_and_network_end_their_work_and_free_the_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::open(DataDir::at(tmp.path()), None, true)
        .await
        .unwrap();
    let p2p = P2p::start(node.clone(), P2pConfig::loopback())
        .await
        .unwrap();
    // The network takes work from the node while it runs.
    let seq = node.set_profile(Some("Ada"), None, None).unwrap();
    let tcp: Vec<std::net::SocketAddr> = p2p
        .bootstrap_addrs()
        .await
        .iter()
        .filter_map(|a| {
            let mut ip = None;
            let mut port = None;
            for p in a.iter() {
                match p {
                    libp2p::multiaddr::Protocol::Ip4(i) => ip = Some(i),
                    libp2p::multiaddr::Protocol::Tcp(t) => port = Some(t),
                    _ => {}
                }
            }
            Some(std::net::SocketAddr::from((ip?, port?)))
        })
        .collect();
    assert!(!tcp.is_empty(), "a loopback node listens on TCP");
    for a in &tcp {
        assert!(tokio::net::TcpStream::connect(a).await.is_ok());
    }
    let (weak_node, weak_p2p) = (
        std::sync::Arc::downgrade(&node),
        std::sync::Arc::downgrade(&p2p),
    );
    drop(p2p);
    drop(node);
    eventually("the network is freed", || async {
        weak_p2p.upgrade().is_none().then_some(())
    })
    .await;
    eventually("the node is freed", || async {
        weak_node.upgrade().is_none().then_some(())
    })
    .await;
    eventually("the libp2p listener closes", || async {
        for a in &tcp {
            if tokio::net::TcpStream::connect(a).await.is_ok() {
                return None;
            }
        }
        Some(())
    })
    .await;
    let again = eventually("the data dir opens again", || async {
        match Node::open(DataDir::at(tmp.path()), None, false).await {
            Ok(n) => Some(n),
            Err(e) => {
                eprintln!("opening again: {e}");
                None
            }
        }
    })
    .await;
    assert_eq!(
        again.social.applied(&again.graph_id()),
        seq,
        "the profile change was kept"
    );
}

/// A peer that writes someone else's DHT record (its own record under their DID, or their
/// older record replayed) is refused by every server, and resolution still returns the newest
/// record; forged gossip is dropped before it is delivered or forwarded, and costs its sender
/// gossip score at the peers that received it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_records_and_gossip_are_refused_and_scored() {
    let (boot, peers) = vivim_tests::network(3, false).await;
    let (a, m, c) = (&peers[0], &peers[1], &peers[2]);
    let a_did = a.node.key.did();
    // A's real record, newer than anything replayed below.
    let real = a.p2p.publish_peer_record().await.unwrap();
    let refused_before = boot.p2p.net.info().await.unwrap().dht_refused;

    let record = |k: &Keypair, issued: u64| {
        Signed::sign(
            vivim_protocol::PeerRecord {
                v: 1,
                key: k.public(),
                libp2p_addrs: vec!["/ip4/10.9.9.9/tcp/1".into()],
                iroh_addrs: vec!["10.9.9.9:1".into()],
                relay_url: None,
                issued_at_ms: issued,
                expires_at_ms: issued + 3_600_000,
                sig: None,
            },
            k,
        )
        .unwrap()
        .bytes()
        .to_vec()
    };
    let issued = real.value().issued_at_ms;
    // M's own record under A's key, and A's older record (captured earlier, replayed).
    let forged = record(&m.node.key, issued + 1);
    let older = record(&a.node.key, issued - 60_000);
    for bad in [forged, older] {
        m.p2p
            .net
            .put_record(vivim_node::net::p2p::did_key(&a_did), bad)
            .await
            .unwrap();
    }
    eventually("the bootstrap server refuses both", || {
        let boot = boot.p2p.clone();
        async move {
            let n = boot.net.info().await.unwrap().dht_refused;
            (n >= refused_before + 2).then_some(())
        }
    })
    .await;
    // C resolves A: M answers with its copy too, and the newest valid record wins.
    // (A may have republished meanwhile: newer than `real` is right too.)
    for _ in 0..3 {
        let got = c.p2p.resolve(&a_did).await.unwrap();
        let g = got.value();
        assert_eq!(g.key, a.node.key.public());
        assert!(g.issued_at_ms >= issued, "an older record won");
        assert!(
            !g.iroh_addrs.iter().any(|x| x.starts_with("10.9.9.9")),
            "{g:?}"
        );
    }

    // Forged gossip: an announcement whose signature does not verify.
    let conv = ConvId::random();
    let mut ann = Signed::sign(
        Announce {
            v: 1,
            conversation: conv,
            seq: vivim_protocol::Hash([1; 32]),
            manifest: vivim_protocol::Hash([2; 32]),
            owner: a.node.key.public(),
            title: "forged".into(),
            published_at_ms: 1,
            sig: None,
        },
        &a.node.key,
    )
    .unwrap()
    .bytes()
    .to_vec();
    let n = ann.len();
    ann[n - 1] ^= 1;
    let m_peer = m.p2p.net.peer_id.to_string();
    let mut round = 0u8;
    let score = eventually("M's score at the bootstrap node drops below zero", || {
        round = round.wrapping_add(1);
        let mut bytes = ann.clone();
        bytes[n - 2] = round; // a new message id each round
        let (m, boot, who) = (m.p2p.clone(), boot.p2p.clone(), m_peer.clone());
        async move {
            m.net
                .publish(vivim_node::net::p2p::ANNOUNCE_TOPIC, bytes)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            let peers = boot.net.peers().await;
            let s = peers.iter().find(|p| p.peer_id == who)?.gossip_score?;
            (s < 0.0).then_some(s)
        }
    })
    .await;
    assert!(score < 0.0);
    let info = boot.p2p.net.info().await.unwrap();
    assert!(info.gossip_rejected > 0, "{info:?}");
    println!(
        "forged gossip: M's score at the bootstrap node {score:.1} after {round} forgeries; {} messages dropped there, {} DHT records refused",
        info.gossip_rejected, info.dht_refused
    );
    // The honest peers' scores stay at or above zero.
    for p in boot.p2p.net.peers().await {
        if p.peer_id != m_peer {
            assert!(p.gossip_score.unwrap_or(0.0) >= 0.0, "{p:?}");
        }
    }
}

/// Whether `to` serves `req` to `ep`: the root and, for a sequence, every item arrive.
async fn served(
    ep: &iroh::Endpoint,
    to: iroh::EndpointAddr,
    req: iroh_blobs::protocol::GetRequest,
) -> bool {
    use iroh_blobs::get::fsm;
    let Ok(conn) = ep.connect(to, iroh_blobs::ALPN).await else {
        return false;
    };
    let Ok(connected) = fsm::start(conn, req, Default::default()).next().await else {
        return false;
    };
    let Ok(fsm::ConnectedNext::StartRoot(start)) = connected.next().await else {
        return false;
    };
    let Ok((content, _)) = start.next().next().await else {
        return false;
    };
    let Ok((mut curr, seq)) = content.concatenate_into_vec().await else {
        return false;
    };
    let children = vivim_protocol::parse_hash_seq(&seq).unwrap_or_default();
    let mut got = 0;
    loop {
        match curr.next() {
            fsm::EndBlobNext::MoreChildren(more) => {
                let Some(h) = children.get(got) else {
                    return more.finish().next().await.is_ok();
                };
                let Ok((content, _)) = more.next(iroh_blobs::Hash::from(h.0)).next().await else {
                    return false;
                };
                let Ok((next, _)) = content.concatenate_into_vec().await else {
                    return false;
                };
                got += 1;
                curr = next;
            }
            fsm::EndBlobNext::Closing(c) => return c.next().await.is_ok(),
        }
    }
}

/// The blob server serves by allow list: a published conversation's sequence and its items,
/// never an item read as a sequence (whose bytes would name other blobs), never a blob that
/// was not tagged to leave the node, and nothing of a share once it is revoked, root or item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blob_server_serves_by_allow_list() {
    use iroh_blobs::protocol::GetRequest;
    let (_boot, peers) = vivim_tests::network(2, false).await;
    vivim_tests::introduce(&peers);
    let (a, b) = (&peers[0], &peers[1]);
    let conv = import_one(&a.node, 5).await;
    let ann = a.p2p.publish(&conv).await.unwrap();
    let root = iroh_blobs::Hash::from(ann.value().seq.0);
    let items = a
        .node
        .store
        .read_seq(ann.value().seq, u64::MAX)
        .await
        .unwrap()
        .unwrap();
    let child = iroh_blobs::Hash::new(&items[1]);
    let untagged = a
        .node
        .store
        .blobs()
        .blobs()
        .add_bytes(b"held here, given to nobody".to_vec())
        .temp_tag()
        .await
        .unwrap();
    let to = a.p2p.endpoint.addr();
    let ep = &b.p2p.endpoint;
    assert!(served(ep, to.clone(), GetRequest::all(root)).await);
    assert!(served(ep, to.clone(), GetRequest::blob(child)).await);
    assert!(
        !served(ep, to.clone(), GetRequest::all(child)).await,
        "an item read as a hash sequence was served"
    );
    assert!(
        !served(ep, to.clone(), GetRequest::blob(untagged.hash())).await,
        "an untagged blob was served"
    );

    // A share's package while active, and after its revocation.
    let share = a
        .node
        .share(vivim_node::share::ShareSpec {
            content: conv.to_string(),
            target: vivim_node::share::Target::Users(vec![b.node.key.did()]),
            expires_in_ms: None,
            kind: vivim_protocol::IntentKind::Share,
            draft: false,
        })
        .await
        .unwrap();
    let payload: vivim_protocol::Hash = share.payload.clone().unwrap().parse().unwrap();
    let row = a
        .node
        .share_row(&share.id.parse().unwrap())
        .unwrap()
        .unwrap();
    let package_item = iroh_blobs::Hash::from(row.items[0].0);
    assert!(
        served(
            ep,
            to.clone(),
            GetRequest::all(iroh_blobs::Hash::from(payload.0))
        )
        .await
    );
    assert!(served(ep, to.clone(), GetRequest::blob(package_item)).await);
    a.node.share_revoke(&share.id).await.unwrap();
    assert!(
        !served(
            ep,
            to.clone(),
            GetRequest::all(iroh_blobs::Hash::from(payload.0))
        )
        .await,
        "a revoked share's package was served"
    );
    assert!(
        !served(ep, to.clone(), GetRequest::blob(package_item)).await,
        "an item of a revoked share was served"
    );
    drop(untagged);
}

/// A fetch the user asks for stops at `[network] max_fetch_bytes`: nothing of an oversized
/// conversation is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_started_fetch_stops_at_its_cap() {
    let boot = peer(&[], false).await;
    let addrs = boot.p2p.bootstrap_addrs().await;
    let a = peer(&addrs, false).await;
    let c = peer_with(&addrs, false, |cfg| cfg.fetch_max_bytes = 16 * 1024).await;
    for p in [&a, &c] {
        let p2p = p.p2p.clone();
        eventually("peers see the bootstrap node", || {
            let p2p = p2p.clone();
            async move { (!p2p.net.peers().await.is_empty()).then_some(()) }
        })
        .await;
        p.p2p.publish_peer_record().await.unwrap();
    }
    // ~40 messages of ~300 words: well over 16 KiB.
    let conv = import_sized(&a.node, 40, 300, 77).await;
    a.p2p.publish(&conv).await.unwrap();
    let a_did = a.node.key.did();
    let err = eventually("C's fetch is refused", || {
        let c = c.p2p.clone();
        async move {
            match c.fetch(&conv, Some(&a_did)).await {
                Err(P2pError::NotFound(_)) => None,
                Err(e) => Some(e.to_string()),
                Ok(o) => panic!("fetched past the cap: {o:?}"),
            }
        }
    })
    .await;
    assert!(err.contains("bytes"), "{err}");
    assert!(c.node.store.row(&conv).unwrap().is_none());
    assert!(c.node.store.acu_bytes(&conv).unwrap().is_empty());
}
