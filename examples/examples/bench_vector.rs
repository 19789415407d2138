//! Vector search against raw usearch, index build rate, embedder throughput, and context
//! assembly latency.
//!
//! `cargo run --release -p vivim-examples --example bench_vector -- [VECTORS] [QUERIES]`
//! (default 100,000 clustered 256-d vectors, 2,000 queries; pass 1000000 for the long run).
//!
//! - build: `VectorIndex::add_batch` on both cores, vectors/s; the same vectors into a raw
//!   usearch index on both cores as the anchor;
//! - search: k=10 on one thread, QPS and p50/p99, for `VectorIndex::search` and for raw usearch
//!   loaded from the very file the node saved (same graph, same vectors), interleaved rounds;
//! - recall@10 of both against exact brute-force search;
//! - the built-in embedder: messages/s and MB/s on one thread;
//! - `/api/v2/context` assembly (hybrid search + memories + recent turns + tiktoken) on a node
//!   holding a generated export: p50/p99.

use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use usearch::{Index, ScalarKind};
use vivim_node::{
    datadir::DataDir,
    import::Format,
    node::Node,
    organize::embed::HashEmbedder,
    organize::vector::{VectorIndex, VectorOptions, clustered_vectors, quantization_name},
    organize::{self, ContextRequest},
    testdata::{Rng, write_chatgpt_export},
};
use vivim_protocol::{ConvId, Hash};

const DIMS: usize = 256;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn acu(i: usize) -> Hash {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Hash(b)
}

/// Build, recall and search figures for one quantization: ours against raw usearch.
fn vector_round(
    opts: &VectorOptions,
    base: &[f32],
    queries: &[f32],
    n: usize,
    q: usize,
    threads: usize,
    tmp: &std::path::Path,
) -> anyhow::Result<()> {
    let opts = *opts;
    let qname = quantization_name(opts.quantization);
    let dir = tmp.join(format!("vectors-{qname}"));
    // Build: ours.
    let (idx, _) = VectorIndex::open(&dir, "bench", opts)?;
    let conv = ConvId(Hash::of(b"bench"));
    let t = Instant::now();
    for (c, chunk) in base.chunks(10_000 * DIMS).enumerate() {
        let items: Vec<_> = chunk
            .chunks(DIMS)
            .enumerate()
            .map(|(i, v)| (acu(c * 10_000 + i), conv, v.to_vec()))
            .collect();
        idx.add_batch(&items)?;
    }
    let ours_build = n as f64 / t.elapsed().as_secs_f64();
    // Build: raw usearch, same options, same threads.
    let raw_built = Index::new(&opts.usearch())?;
    raw_built.reserve_capacity_and_threads(n, threads)?;
    let t = Instant::now();
    std::thread::scope(|s| {
        let per = n.div_ceil(threads);
        for tid in 0..threads {
            let raw = &raw_built;
            s.spawn(move || {
                for i in tid * per..((tid + 1) * per).min(n) {
                    let _ = raw.add(i as u64, &base[i * DIMS..(i + 1) * DIMS]);
                }
            });
        }
    });
    let raw_build = n as f64 / t.elapsed().as_secs_f64();
    drop(raw_built);
    println!(
        "[{qname}] build ({threads} threads): vivim {ours_build:.0} vectors/s, raw usearch {raw_build:.0} vectors/s ({:.2}x)",
        ours_build / raw_build
    );

    // The anchor: raw usearch on the file the node saved (same graph, same vectors).
    idx.save()?;
    let raw = Index::new(&opts.usearch())?;
    raw.load(dir.join("index.usearch").to_str().unwrap_or_default())?;
    raw.change_expansion_search(opts.expansion_search);

    // Recall@10 against exact brute force over the original f32 vectors.
    let mut hit_ours = 0;
    let mut hit_raw = 0;
    let recall_q = q.min(500);
    for qv in queries.chunks(DIMS).take(recall_q) {
        let mut all: Vec<(f32, usize)> = base
            .chunks(DIMS)
            .enumerate()
            .map(|(i, v)| (-v.iter().zip(qv).map(|(a, b)| a * b).sum::<f32>(), i))
            .collect();
        all.select_nth_unstable_by(10, |a, b| a.0.total_cmp(&b.0));
        let exact: Vec<Hash> = all[..10].iter().map(|(_, i)| acu(*i)).collect();
        hit_ours += idx
            .search(qv, 10)?
            .iter()
            .filter(|h| exact.contains(&h.acu))
            .count();
        let m = raw.search(qv, 10)?;
        hit_raw += m
            .keys
            .iter()
            .filter(|k| exact.contains(&acu(**k as usize)))
            .count();
    }
    let recall_ours = hit_ours as f64 / (recall_q * 10) as f64;
    let recall_raw = hit_raw as f64 / (recall_q * 10) as f64;

    // Search, one thread, interleaved rounds.
    let mut lat_ours = Vec::with_capacity(q * 3);
    let mut lat_raw = Vec::with_capacity(q * 3);
    let (mut t_ours, mut t_raw) = (Duration::ZERO, Duration::ZERO);
    for _round in 0..3 {
        let t = Instant::now();
        for qv in queries.chunks(DIMS) {
            let s = Instant::now();
            let r = raw.search(qv, 10)?;
            lat_raw.push(s.elapsed());
            std::hint::black_box(r);
        }
        t_raw += t.elapsed();
        let t = Instant::now();
        for qv in queries.chunks(DIMS) {
            let s = Instant::now();
            let r = idx.search(qv, 10)?;
            lat_ours.push(s.elapsed());
            std::hint::black_box(r);
        }
        t_ours += t.elapsed();
    }
    lat_ours.sort();
    lat_raw.sort();
    let qps_ours = (q * 3) as f64 / t_ours.as_secs_f64();
    let qps_raw = (q * 3) as f64 / t_raw.as_secs_f64();
    println!(
        "[{qname}] search k=10, 1 thread: vivim {qps_ours:.0} QPS p50 {:.0} µs p99 {:.0} µs recall@10 {recall_ours:.4} | raw usearch {qps_raw:.0} QPS p50 {:.0} µs p99 {:.0} µs recall@10 {recall_raw:.4} | ratio {:.3}x",
        pct(&lat_ours, 0.5),
        pct(&lat_ours, 0.99),
        pct(&lat_raw, 0.5),
        pct(&lat_raw, 0.99),
        qps_ours / qps_raw
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(100_000);
    let q = args.get(1).copied().unwrap_or(2_000);
    let threads = std::thread::available_parallelism()
        .map(|x| x.get())
        .unwrap_or(1);
    println!(
        "vectors: {n} x {DIMS} (100 topics, 32-d latent), queries: {q}, threads for build: {threads}"
    );
    let data = clustered_vectors(n + q, DIMS, 100, 1.0, 7);
    let (base, queries) = data.split_at(n * DIMS);
    let tmp = tempfile::tempdir()?;
    for quant in [ScalarKind::F32, ScalarKind::BF16] {
        let mut opts = VectorOptions::new(DIMS);
        opts.quantization = quant;
        vector_round(&opts, base, queries, n, q, threads, tmp.path())?;
    }

    // The built-in embedder.
    let e = HashEmbedder::default();
    let mut rng = Rng::new(3);
    let texts: Vec<String> = (0..20_000).map(|_| rng.words(60)).collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let t = Instant::now();
    for s in &texts {
        std::hint::black_box(e.embed_one(s));
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "built-in embedder, 1 thread: {:.0} messages/s ({:.1} MB/s, 60-word messages)",
        texts.len() as f64 / secs,
        bytes as f64 / secs / 1e6
    );

    // Context assembly on a node with a generated export.
    let (convs, per) = (1000, 20);
    let export = tmp.path().join("conversations.json");
    write_chatgpt_export(
        std::io::BufWriter::new(std::fs::File::create(&export)?),
        convs,
        per,
        60,
        5,
    )?;
    let node = Node::open(DataDir::at(tmp.path().join("node")), None, true).await?;
    node.import_path(&export, Format::Auto, None).await?;
    let t = Instant::now();
    let pass = organize::catch_up(&node).await?;
    let catch = t.elapsed().as_secs_f64();
    println!(
        "node: {} messages embedded + indexed in {catch:.1} s ({:.0} messages/s, both cores for HNSW), {} memories",
        pass.embedded,
        pass.embedded as f64 / catch,
        pass.memories
    );
    let mut lat = Vec::new();
    let mut tokens = 0;
    for i in 0..200 {
        let req = ContextRequest {
            model: Some("gpt-4o".into()),
            ..ContextRequest::new(format!("{} {}", rng.words(6), i), 2000)
        };
        let s = Instant::now();
        let ctx = organize::build_context(&node, &req).await?;
        lat.push(s.elapsed());
        tokens += ctx.total_tokens;
    }
    lat.sort();
    println!(
        "context assembly (budget 2000, gpt-4o, {} messages): p50 {:.1} ms p99 {:.1} ms, {} tokens on average",
        convs * per,
        pct(&lat, 0.5) / 1000.0,
        pct(&lat, 0.99) / 1000.0,
        tokens / 200
    );
    node.shutdown().await?;
    Ok(())
}
