//! Import throughput, search latency and memory of a node on a generated ChatGPT export.
//!
//! `cargo run --release -p vivim-examples --example bench_import -- [CONVERSATIONS] [MESSAGES_PER_CONVERSATION] [WORDS]`
//! (default 2000 × 50 = 100,000 messages of about 60 words). Prints one block of figures.

use std::{io::BufWriter, time::Instant};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use vivim_examples::rss_kib;
use vivim_node::{
    datadir::DataDir,
    import::Format,
    node::Node,
    search::Query,
    testdata::{Rng, write_chatgpt_export},
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let convs = args.first().copied().unwrap_or(2000);
    let per = args.get(1).copied().unwrap_or(50);
    let words = args.get(2).copied().unwrap_or(60);
    let tmp = tempfile::tempdir()?;
    let export = tmp.path().join("conversations.json");
    write_chatgpt_export(
        BufWriter::new(std::fs::File::create(&export)?),
        convs,
        per,
        words,
        1,
    )?;
    let export_bytes = std::fs::metadata(&export)?.len();

    let dir = DataDir::at(tmp.path().join("node"));
    let node = Node::open(dir, None, true).await?;
    let rss_before = rss_kib("VmRSS:");
    // Sample anonymous (heap) and file-backed (mapped index/db pages) RSS during the import.
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let (mut anon, mut file) = (0, 0);
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                anon = anon.max(rss_kib("RssAnon:"));
                file = file.max(rss_kib("RssFile:"));
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            (anon, file)
        })
    };
    let t = Instant::now();
    let summary = node.import_path(&export, Format::Auto, None).await?;
    let secs = t.elapsed().as_secs_f64();
    let rss_peak = rss_kib("VmHWM:");
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let (peak_anon, peak_file) = sampler.join().unwrap_or((0, 0));

    // Search latency over the imported messages.
    let mut rng = Rng::new(9);
    let mut lat = Vec::new();
    for i in 0..400 {
        let text = match i % 4 {
            0 => rng.words(1),
            1 => rng.words(2),
            2 => format!("\"{}\"", rng.words(2)),
            _ => rng.words(3),
        };
        let mut q = Query::new(text);
        q.limit = 20;
        if i % 5 == 0 {
            q.provider = Some("chatgpt".into());
        }
        let t = Instant::now();
        let _ = node.search(&q)?;
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize];

    // Re-import: everything is a duplicate.
    let t = Instant::now();
    let again = node.import_path(&export, Format::Auto, None).await?;
    let resecs = t.elapsed().as_secs_f64();
    node.index.release_writer()?;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let rss_idle = rss_kib("VmRSS:");

    println!(
        "bench_import: {convs} conversations x {per} messages (~{words} words), export {:.1} MB",
        export_bytes as f64 / 1e6
    );
    println!(
        "  import:        {} messages in {secs:.2}s = {:.0} messages/s (index included)",
        summary.messages,
        summary.messages as f64 / secs
    );
    println!(
        "  re-import:     {} duplicates in {resecs:.2}s",
        again.duplicates
    );
    println!(
        "  search (n=400, k=20): p50 {:.0} us, p99 {:.0} us",
        p(0.5),
        p(0.99)
    );
    println!(
        "  RSS: before import {} MB, peak {} MB (heap {} MB, mapped files {} MB), after (idle, store open) {} MB",
        rss_before / 1024,
        rss_peak / 1024,
        peak_anon / 1024,
        peak_file / 1024,
        rss_idle / 1024
    );
    node.shutdown().await?;
    Ok(())
}
