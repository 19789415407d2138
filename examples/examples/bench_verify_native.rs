//! Native ed25519 verification of signed ACUs, the anchor for the wasm package's rate
//! (`bindings/wasm/bench.mjs` verifies the same records in WebAssembly).
//!
//! `cargo run --release -p vivim-examples --example bench_verify_native -- OUT.bin [N]`
//! writes N signed ACUs of about 60 words (each as a 4-byte little-endian length and its
//! bytes), then verifies them on one core and prints the rate.

use std::{io::Write, time::Instant};

use vivim_identity::Keypair;
use vivim_protocol::{Acu, Body, ConvId, Kind, Role, Signed};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: bench_verify_native OUT.bin [N]"))?;
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let key = Keypair::generate();
    let conv = ConvId::random();
    let mut rng = vivim_node::testdata::Rng::new(7);
    let mut records = Vec::with_capacity(n);
    let mut parent = None;
    for i in 0..n {
        let text = rng.words(60);
        let role = if i % 2 == 0 {
            Role::User
        } else {
            Role::Assistant
        };
        let acu = Acu::new(
            conv,
            parent,
            key.public(),
            role,
            Kind::Text,
            Body::text(text),
            1_700_000_000_000 + i as u64,
        );
        let s = Signed::sign(acu, &key)?;
        parent = Some(s.id());
        records.push(s.bytes().to_vec());
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(&out)?);
    for r in &records {
        f.write_all(&(r.len() as u32).to_le_bytes())?;
        f.write_all(r)?;
    }
    f.flush()?;
    let bytes: usize = records.iter().map(Vec::len).sum();
    // Best of three passes, one core.
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for r in &records {
            let s = Signed::<Acu>::decode(r)?;
            std::hint::black_box(s);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "native: {n} signed ACUs ({:.0} bytes each) decoded and verified in {:.1} ms: {:.0} ACUs/s (one core)",
        bytes as f64 / n as f64,
        best * 1000.0,
        n as f64 / best
    );
    Ok(())
}
