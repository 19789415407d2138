//! Social-graph figures on loopback, with raw gossipsub across the same nodes as the anchor:
//! convergence of one change across 20 nodes (signed, gossiped, verified, applied and stored
//! everywhere), and catch-up of a node that missed 10,000 updates.
//!
//! `cargo run --release -p vivim-examples --example bench_social`

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use vivim_node::{
    net::NetEvent,
    net::p2p::{P2p, P2pConfig},
};

use vivim_examples::{pct, peer};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VIVIM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    println!("bench_social (loopback, release, 2 cores)");
    const N: usize = 20;
    let first = peer(Vec::new()).await?;
    let boot = first.p2p.bootstrap_addrs().await;
    let mut peers = vec![first];
    for _ in 1..N {
        peers.push(peer(boot.clone()).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for p in &peers {
        p.p2p.publish_peer_record().await?;
    }

    // Node 0 owns a circle with everyone else in it.
    let members: Vec<_> = peers[1..].iter().map(|p| p.node.key.did()).collect();
    let circle = peers[0].node.circle_create("bench", "private", &members)?;
    let id: vivim_crdt::DocId = circle.id.parse()?;
    let t = Instant::now();
    loop {
        let n = peers[1..]
            .iter()
            .filter(|p| p.node.social.applied(&id) >= 1)
            .count();
        if n == N - 1 {
            break;
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(60),
            "only {n} members got the circle"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "  circle with {} members reached all of them (notify + subscribe + catch-up) in {:.0} ms",
        N - 1,
        t.elapsed().as_secs_f64() * 1e3
    );
    for p in &peers {
        p.p2p.net.subscribe("vivim/bench/1").await?;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    let msgs = 100u64;
    let start = Instant::now();

    // Anchor: raw gossipsub from node 0.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<f64>(100_000);
    for p in &peers[1..] {
        let mut ev = p.p2p.net.events();
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Ok(e) = ev.recv().await {
                if let NetEvent::Gossip { topic, data, .. } = e
                    && topic == "vivim/bench/1"
                    && data.len() >= 8
                {
                    let sent = u64::from_le_bytes(data[..8].try_into().unwrap_or_default());
                    let now = start.elapsed().as_micros() as u64;
                    let _ = tx.send(now.saturating_sub(sent) as f64 / 1e3).await;
                }
            }
        });
    }
    for k in 0..msgs {
        let mut data = (start.elapsed().as_micros() as u64).to_le_bytes().to_vec();
        data.extend_from_slice(&k.to_le_bytes());
        peers[0].p2p.net.publish("vivim/bench/1", data).await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut raw = Vec::new();
    while let Ok(v) = rx.try_recv() {
        raw.push(v);
    }
    drop(tx);

    // Document changes from node 0: time from the write call to "applied and stored" on
    // every member.
    let sent: Arc<std::sync::Mutex<std::collections::HashMap<u64, u64>>> = Arc::default();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<f64>(100_000);
    for p in &peers[1..] {
        let mut ch = p.node.social.changes();
        let tx = tx.clone();
        let sent = sent.clone();
        let id = id.clone();
        tokio::spawn(async move {
            while let Ok(c) = ch.recv().await {
                if c.doc == id {
                    let now = start.elapsed().as_micros() as u64;
                    let t0 = sent.lock().ok().and_then(|m| m.get(&c.seq).copied());
                    if let Some(t0) = t0 {
                        let _ = tx.send(now.saturating_sub(t0) as f64 / 1e3).await;
                    }
                }
            }
        });
    }
    drop(tx);
    let base = peers[0].node.social.applied(&id);
    for k in 0..msgs {
        let t0 = start.elapsed().as_micros() as u64;
        if let Ok(mut m) = sent.lock() {
            m.insert(base + k + 1, t0);
        }
        let name = format!("bench {k}");
        peers[0]
            .node
            .write_doc(&id, &[], |w| w.set_meta("name", &name))?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut doc = Vec::new();
    while let Ok(v) = rx.try_recv() {
        doc.push(v);
    }
    let expected = msgs as usize * (N - 1);
    let (r50, r99) = (pct(&mut raw.clone(), 0.5), pct(&mut raw, 0.99));
    let (d50, d99) = (pct(&mut doc.clone(), 0.5), pct(&mut doc, 0.99));
    println!(
        "  raw gossipsub, {N} nodes, {msgs} msgs: {} of {expected} deliveries, p50 {r50:.2} ms, p99 {r99:.2} ms",
        raw.len()
    );
    println!(
        "  one change signed+gossiped+verified+applied+stored, {N} nodes, {msgs} changes: {} of {expected}, p50 {d50:.2} ms, p99 {d99:.2} ms  (p99 {:.2}x raw; goal <= 2x)",
        doc.len(),
        d99 / r99
    );
    let converged = peers[1..].iter().all(|p| {
        p.node.circle(&circle.id).ok().map(|c| c.name) == Some(format!("bench {}", msgs - 1))
    });
    println!("  every member ends on the last name: {converged}");

    // Catch-up: node 19 goes offline, node 0 makes 10,000 changes, node 19 comes back.
    let late = &peers[N - 1];
    late.p2p.shutdown().await;
    let dids: Vec<_> = (0..64u8)
        .map(|i| vivim_identity::Keypair::from_seed(&[i; 32]).did())
        .collect();
    let t = Instant::now();
    const MISSED: u64 = 10_000;
    for k in 0..MISSED {
        let d = &dids[(k % 64) as usize];
        peers[0].node.write_doc(&id, &[], |w| {
            w.add_member(d, vivim_crdt::schema::Role::Member, k)
        })?;
    }
    let write_s = t.elapsed().as_secs_f64();
    println!(
        "  {MISSED} local changes (each signed and durable before it leaves): {:.0}/s",
        MISSED as f64 / write_s
    );
    let target = peers[0].node.social.applied(&id);
    // Let the online members finish applying the 10,000 gossiped updates first, so that the
    // catch-up is measured on an idle machine.
    let t = Instant::now();
    while peers[1..N - 1]
        .iter()
        .any(|p| p.node.social.applied(&id) < target)
    {
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(120),
            "members did not converge"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "  the 18 online members applied the {MISSED} gossiped updates {:.0} ms after the last write",
        t.elapsed().as_secs_f64() * 1e3
    );
    let mut cfg = P2pConfig::loopback();
    cfg.net.bootstrap = boot.clone();
    cfg.net.open_topics = vec!["vivim/bench/1".into()];
    let t = Instant::now();
    let back = P2p::start(late.node.clone(), cfg).await?;
    let started = t.elapsed();
    loop {
        if late.node.social.applied(&id) >= target {
            break;
        }
        anyhow::ensure!(t.elapsed() < Duration::from_secs(60), "no catch-up");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    println!(
        "  catch-up after missing {MISSED} updates: {:.0} ms from restart to applied+stored ({:.0} ms of it starting libp2p/iroh; goal < 1 s)",
        t.elapsed().as_secs_f64() * 1e3,
        started.as_secs_f64() * 1e3
    );
    back.shutdown().await;
    for p in &peers[..N - 1] {
        p.p2p.shutdown().await;
    }
    Ok(())
}
