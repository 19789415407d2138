//! Sharing figures.
//!
//! 1. Sealing and opening a 1,000-message conversation for 1, 10 and 100 recipients, next to
//!    the floor: one XChaCha20-Poly1305 pass over the same bytes. Sealing = one content key,
//!    one wrap per recipient, one encryption pass; opening = unwrap our grant, decrypt, and
//!    check every record's signature.
//! 2. From `share` on A to readable on B (delivered, downloaded, decrypted, verified, stored)
//!    across loopback, for a 20-message and a 1,000-message conversation, with a relay that
//!    pins the ciphertext running in the same process (on the same cores).
//!
//! `cargo run --release -p vivim-examples --example bench_share`

use std::time::Instant;

use vivim_examples::{conversation, pct, peer, peer_with};
use vivim_identity::{Keypair, PublicKey};
use vivim_node::{
    import::ingest,
    node::Event,
    share::{ShareSpec, Target, seal_records, unseal},
};
use vivim_protocol::{ContentKey, IntentKind, open_grant, wrap_key};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    pct(&mut v, 0.5)
}

fn seal_open(bytes_each: usize) -> anyhow::Result<()> {
    let owner = Keypair::generate();
    let (new, _) = ingest::build(&conversation(1000, bytes_each, 7), &owner)?;
    let records: Vec<Vec<u8>> = std::iter::once(new.manifest.bytes().to_vec())
        .chain(new.acus.iter().map(|a| a.bytes().to_vec()))
        .collect();
    let total: usize = records.iter().map(|r| r.len()).sum();
    println!(
        "1,000 messages x {bytes_each} B ({:.1} MB of signed records):",
        total as f64 / 1e6
    );
    let recipients: Vec<Keypair> = (0..100).map(|_| Keypair::generate()).collect();
    let floor_key = ContentKey::generate();
    let floor = median_ms(7, || {
        for r in &records {
            std::hint::black_box(floor_key.seal(r));
        }
    });
    println!("  floor: one XChaCha20-Poly1305 pass, one thread: {floor:.2} ms");
    let mut one = 0.0;
    for n in [1usize, 10, 100] {
        let to: Vec<PublicKey> = recipients[..n].iter().map(|k| k.public()).collect();
        let mut sealed = Vec::new();
        let mut grants = Vec::new();
        let mut key = ContentKey::generate();
        let seal = median_ms(7, || {
            key = ContentKey::generate();
            grants = wrap_key(&key, &to).expect("wrap");
            sealed = seal_records(&key, &records);
        });
        if n == 1 {
            one = seal;
        }
        let me = &recipients[n - 1];
        let grant = grants
            .iter()
            .find(|g| g.recipient == me.public())
            .expect("a grant for the last recipient");
        let open = median_ms(5, || {
            let k = open_grant(grant, me).expect("unwrap");
            std::hint::black_box(unseal(&k, &sealed, None).expect("open"));
        });
        let decrypt_only = median_ms(5, || {
            for b in &sealed {
                std::hint::black_box(key.open_blob(b).expect("decrypt"));
            }
        });
        println!(
            "  {n:>3} recipient(s): seal {seal:.2} ms ({:.0} MB/s, {:.2}x of 1 recipient), \
             open {open:.2} ms (decrypt {decrypt_only:.2} ms + verify signatures)",
            total as f64 / 1e3 / seal,
            seal / one
        );
    }
    Ok(())
}

async fn share_to_readable() -> anyhow::Result<()> {
    let relay = peer_with(Vec::new(), true).await?;
    let boot = relay.p2p.bootstrap_addrs().await;
    let a = peer(boot.clone()).await?;
    let b = peer(boot).await?;
    for p in [&a, &b] {
        while p.p2p.net.peers().await.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        p.p2p.publish_peer_record().await?;
    }
    for (n, bytes_each, rounds) in [(20usize, 400usize, 30u64), (1000, 1024, 8)] {
        let mut ids = Vec::new();
        for r in 0..rounds {
            let (new, _) = ingest::build(
                &conversation(n, bytes_each, 1000 + r + n as u64),
                &a.node.key,
            )?;
            ids.push(new.manifest.value().id);
            a.node.store.put_conversation(&new).await?;
        }
        let mut lat = Vec::new();
        for id in ids {
            let mut ev = b.node.events.subscribe();
            let t = Instant::now();
            let out = a
                .node
                .share(ShareSpec {
                    content: id.to_string(),
                    target: Target::Users(vec![b.node.key.did()]),
                    expires_in_ms: None,
                    kind: IntentKind::Share,
                    draft: false,
                })
                .await?;
            loop {
                match tokio::time::timeout(std::time::Duration::from_secs(20), ev.recv()).await {
                    Ok(Ok(Event::FeedItem { item }))
                        if item.id == out.id && item.status == "opened" =>
                    {
                        break;
                    }
                    Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                    _ => anyhow::bail!("share {} never became readable on B", out.id),
                }
            }
            lat.push(t.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "share on A -> readable on B, {n} messages x {bytes_each} B (n={rounds}): p50 {:.1} ms, p99 {:.1} ms (goal < 100 ms)",
            pct(&mut lat.clone(), 0.5),
            pct(&mut lat, 0.99)
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    seal_open(1024)?;
    seal_open(16 * 1024)?;
    share_to_readable().await
}
