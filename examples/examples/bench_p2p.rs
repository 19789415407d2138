//! Peer-to-peer figures on loopback, each next to its anchor measured in the same run:
//! conversation fetch throughput (64 MiB, and 10,000 small ACUs) against a plain iroh-blobs
//! transfer of the same hash sequence between two endpoints; DID resolution + connect across
//! 20 nodes; gossip propagation across 20 nodes.
//!
//! `cargo run --release -p vivim-examples --example bench_p2p` (`… -- fetch`: the fetch cases only)

use std::time::Instant;

use iroh::{EndpointAddr, RelayMode, endpoint::presets, protocol::Router};
use iroh_blobs::{BlobsProtocol, HashAndFormat, store::fs::FsStore};
use vivim_node::{import::ingest, node::Node, testdata::Rng};
use vivim_protocol::ConvId;

use vivim_examples::{conversation, pct, peer};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The anchor: the same hash sequence from one FsStore to another over a plain iroh endpoint.
async fn raw_transfer(src: &Node, seq: vivim_protocol::Hash) -> anyhow::Result<f64> {
    let tmp = tempfile::tempdir()?;
    let ep = |seed: u8| async move {
        iroh::Endpoint::builder(presets::Minimal)
            .secret_key(iroh::SecretKey::from_bytes(&[seed; 32]))
            .relay_mode(RelayMode::Disabled)
            .clear_ip_transports()
            .bind_addr("127.0.0.1:0")?
            .bind()
            .await
            .map_err(anyhow::Error::from)
    };
    let a = ep(201).await?;
    let b = ep(202).await?;
    let router = Router::builder(a.clone())
        .accept(
            iroh_blobs::ALPN,
            BlobsProtocol::new(src.store.blobs(), None),
        )
        .spawn();
    let dst = FsStore::load(tmp.path()).await?;
    let mut addr = EndpointAddr::new(a.id());
    for s in a.bound_sockets() {
        addr = addr.with_ip_addr(s);
    }
    let t = Instant::now();
    let conn = b.connect(addr, iroh_blobs::ALPN).await?;
    dst.remote()
        .fetch(conn, HashAndFormat::hash_seq(iroh_blobs::Hash::from(seq.0)))
        .await?;
    let secs = t.elapsed().as_secs_f64();
    // Not `router.shutdown()`: iroh-blobs' handler would shut the node's store down with it.
    drop(router);
    a.close().await;
    b.close().await;
    dst.shutdown().await?;
    Ok(secs)
}

/// `perf record --control fifo:$PERF_CTL -D -1` profiles only the fetches.
fn perf_ctl(cmd: &str) {
    if let Ok(path) = std::env::var("PERF_CTL") {
        let _ = std::fs::write(path, format!("{cmd}\n"));
    }
}

/// One fetch case, `rounds` times: each round a plain iroh-blobs transfer into a fresh store
/// (the anchor), then a `vivim fetch` into a fresh node, one after the other so both see the
/// same machine. Prints every round and the medians.
async fn fetch_case(
    label: &str,
    n: usize,
    bytes_each: usize,
    seed: u64,
    rounds: usize,
) -> anyhow::Result<()> {
    let a = peer(Vec::new()).await?;
    let boot = a.p2p.bootstrap_addrs().await;
    let (new, _) = ingest::build(&conversation(n, bytes_each, seed), &a.node.key)?;
    let id: ConvId = new.manifest.value().id;
    a.node.store.put_conversation(&new).await?;
    let ann = a.p2p.publish(&id).await?;
    let total: u64 = new.acus.iter().map(|x| x.bytes().len() as u64).sum::<u64>()
        + new.manifest.bytes().len() as u64;
    let mb = total as f64 / 1e6;
    let did = a.node.key.did();
    let (mut raws, mut ourss, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for r in 1..=rounds {
        let raw = raw_transfer(&a.node, ann.value().seq).await?;
        let c = peer(boot.clone()).await?;
        perf_ctl("enable");
        let t = Instant::now();
        let out = c.p2p.fetch(&id, Some(&did)).await?;
        let ours = t.elapsed().as_secs_f64();
        perf_ctl("disable");
        assert_eq!(out.acus, n);
        // The fetched node indexes in the background: let it finish before the next round.
        for _ in 0..1500 {
            if !c.node.index_pending() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        c.p2p.shutdown().await;
        println!(
            "  {label} #{r}: plain iroh-blobs {:.0} MB/s | vivim fetch {:.0} MB/s ({:.0} ACUs/s) = {:.2}x",
            mb / raw,
            mb / ours,
            n as f64 / ours,
            raw / ours
        );
        raws.push(mb / raw);
        ourss.push(mb / ours);
        ratios.push(raw / ours);
    }
    println!(
        "  {label}: {n} ACUs, {mb:.1} MB, median of {rounds}: plain iroh-blobs {:.0} MB/s ({:.0} ACUs/s) | vivim fetch (DHT lookup + download + verify + store) {:.0} MB/s ({:.0} ACUs/s) | ratio {:.2}x",
        pct(&mut raws.clone(), 0.5),
        pct(&mut raws, 0.5) / mb * n as f64,
        pct(&mut ourss.clone(), 0.5),
        pct(&mut ourss, 0.5) / mb * n as f64,
        pct(&mut ratios, 0.5)
    );
    a.p2p.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!("bench_p2p (loopback, release, 2 cores)");
    // `bench_p2p fetch` runs only the fetch cases, `bench_p2p large` only the large one once
    // (for profiling).
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("large") {
        return fetch_case("large", 128, 512 * 1024, 1, 1).await;
    }
    fetch_case("large", 128, 512 * 1024, 1, 5).await?;
    fetch_case("small", 10_000, 300, 2, 5).await?;
    if arg.as_deref() == Some("fetch") {
        return Ok(());
    }

    // 20 nodes: a chain of bootstraps through node 0.
    const N: usize = 20;
    let first = peer(Vec::new()).await?;
    let boot = first.p2p.bootstrap_addrs().await;
    let mut peers = vec![first];
    for _ in 1..N {
        peers.push(peer(boot.clone()).await?);
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    for p in &peers {
        p.p2p.publish_peer_record().await?;
    }
    // DID resolution + connect, from random nodes to random others.
    let mut rng = Rng::new(3);
    let mut lat = Vec::new();
    for _ in 0..100 {
        let i = rng.below(N as u64) as usize;
        let mut j = rng.below(N as u64) as usize;
        if j == i {
            j = (j + 1) % N;
        }
        let did = peers[j].node.key.did();
        let t = Instant::now();
        let rec = peers[i].p2p.resolve(&did).await?;
        let mut addr = EndpointAddr::new(vivim_node::net::ids::endpoint_id(&did.public_key()));
        for a in &rec.value().iroh_addrs {
            addr = addr.with_ip_addr(a.parse()?);
        }
        let conn = peers[i]
            .p2p
            .endpoint
            .connect(addr, iroh_blobs::ALPN)
            .await?;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        conn.close(0u32.into(), b"bench");
    }
    println!(
        "  DID resolution + iroh connect across {N} nodes (n=100): p50 {:.2} ms, p99 {:.2} ms",
        pct(&mut lat.clone(), 0.5),
        pct(&mut lat, 0.99)
    );

    // Gossip propagation: every node subscribes; 100 messages from random nodes.
    for p in &peers {
        p.p2p.net.subscribe("vivim/bench/1").await?;
    }
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let start = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<f64>(100_000);
    for p in &peers {
        let mut ev = p.p2p.net.events();
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Ok(e) = ev.recv().await {
                if let vivim_node::net::NetEvent::Gossip { topic, data, .. } = e
                    && topic == "vivim/bench/1"
                    && data.len() >= 16
                {
                    let sent = u64::from_le_bytes(data[..8].try_into().unwrap_or_default());
                    let now = start.elapsed().as_micros() as u64;
                    let _ = tx.send((now.saturating_sub(sent)) as f64 / 1e3).await;
                }
            }
        });
    }
    drop(tx);
    let msgs = 100;
    for k in 0..msgs {
        let from = rng.below(N as u64) as usize;
        let mut data = (start.elapsed().as_micros() as u64).to_le_bytes().to_vec();
        data.extend_from_slice(&(k as u64).to_le_bytes());
        peers[from].p2p.net.publish("vivim/bench/1", data).await?;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let mut got = Vec::new();
    while let Ok(v) = rx.try_recv() {
        got.push(v);
    }
    let expected = msgs * (N - 1);
    println!(
        "  gossip across {N} nodes: {} of {expected} deliveries, p50 {:.2} ms, p99 {:.2} ms",
        got.len(),
        pct(&mut got.clone(), 0.5),
        pct(&mut got, 0.99)
    );
    for p in &peers {
        p.p2p.shutdown().await;
    }
    Ok(())
}
