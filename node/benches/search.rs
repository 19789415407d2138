//! Search index benchmark: indexes 100,000 generated messages into an on-disk index, then
//! measures query latency over a few hundred varied queries.
//!
//! Run with `cargo bench -p vivim-node --bench search`. Set `VIVIM_BENCH_DOCS` to change the
//! number of messages, and `VIVIM_BENCH_CJK=1` for Chinese-like text: words of one to four
//! Han characters written without spaces, sentences ending in `。`.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use vivim_node::search::{IndexDoc, OpenState, Query, SearchIndex};
use vivim_protocol::{ConvId, Hash, Kind, Role};

const DEFAULT_DOCS: usize = 100_000;
const BATCH: usize = 10_000;
const VOCAB: usize = 4_000;
const MESSAGES_PER_CONVERSATION: usize = 20;
const PROVIDERS: [&str; 4] = ["chatgpt", "claude", "gemini", "vivim"];
const QUERIES_PER_KIND: usize = 100;
const WARMUP_QUERIES: usize = 50;
const LIMIT: usize = 20;

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A vocabulary of made-up words with a Zipf (s = 1) frequency distribution.
struct Vocab {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

/// Han characters for the CJK corpus (common ones, so words look like real text to a
/// tokenizer; the meaning does not matter).
const HAN: &str = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切复假讲衣客乎类愿医装终况团举急";

fn cjk() -> bool {
    std::env::var("VIVIM_BENCH_CJK").is_ok_and(|v| v == "1")
}

impl Vocab {
    fn new(rng: &mut Rng) -> Vocab {
        if cjk() {
            let han: Vec<char> = HAN.chars().collect();
            let mut words = Vec::with_capacity(VOCAB);
            let mut seen = std::collections::HashSet::new();
            while words.len() < VOCAB {
                let n = 1 + rng.below(4);
                let w: String = (0..n).map(|_| han[rng.below(han.len())]).collect();
                if seen.insert(w.clone()) {
                    words.push(w);
                }
            }
            return Vocab::ranked(words);
        }
        const SYL: [&str; 40] = [
            "ka", "lo", "mi", "ne", "ru", "ta", "po", "si", "ve", "zu", "an", "el", "or", "ix",
            "um", "bra", "cle", "dro", "fin", "gra", "hul", "jen", "kor", "lim", "mon", "nar",
            "pel", "qua", "ros", "sto", "tri", "vol", "wen", "yar", "zel", "th", "sh", "ch", "st",
            "nd",
        ];
        let mut words = Vec::with_capacity(VOCAB);
        let mut seen = std::collections::HashSet::new();
        while words.len() < VOCAB {
            let n = 1 + rng.below(4);
            let w: String = (0..n).map(|_| SYL[rng.below(SYL.len())]).collect();
            if seen.insert(w.clone()) {
                words.push(w);
            }
        }
        Vocab::ranked(words)
    }

    fn ranked(words: Vec<String>) -> Vocab {
        let mut cumulative = Vec::with_capacity(VOCAB);
        let mut sum = 0.0;
        for rank in 1..=VOCAB {
            sum += 1.0 / rank as f64;
            cumulative.push(sum);
        }
        Vocab { words, cumulative }
    }

    fn sample(&self, rng: &mut Rng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.unit() * total;
        let i = self.cumulative.partition_point(|&c| c < x).min(VOCAB - 1);
        &self.words[i]
    }

    /// A word of middling frequency (rank 50..2000): selective but present.
    fn mid(&self, rng: &mut Rng) -> &str {
        &self.words[50 + rng.below(1950)]
    }
}

fn sentence(v: &Vocab, rng: &mut Rng, out: &mut String, words: usize) {
    if cjk() {
        for _ in 0..words {
            out.push_str(v.sample(rng));
        }
        out.push_str(if rng.below(6) == 0 { "？" } else { "。" });
        return;
    }
    for i in 0..words {
        let w = v.sample(rng);
        if i == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                out.extend(f.to_uppercase());
                out.push_str(c.as_str());
            }
        } else {
            out.push(' ');
            out.push_str(w);
        }
    }
    out.push_str(if rng.below(6) == 0 { "? " } else { ". " });
}

fn message(v: &Vocab, rng: &mut Rng) -> String {
    // 20–400 words, skewed towards shorter messages.
    let target = 20 + (rng.unit().powi(2) * 380.0) as usize;
    let mut s = String::with_capacity(target * 7);
    let mut n = 0;
    while n < target {
        let len = (6 + rng.below(15)).min(target - n).max(1);
        sentence(v, rng, &mut s, len);
        n += len;
    }
    s.truncate(s.trim_end().len());
    s
}

fn generate(v: &Vocab, rng: &mut Rng, from: usize, to: usize, words: &mut usize) -> Vec<IndexDoc> {
    (from..to)
        .map(|i| {
            let c = i / MESSAGES_PER_CONVERSATION;
            let mut crng = Rng(c as u64 ^ 0xC0FFEE);
            let title: Vec<&str> = (0..3 + crng.below(4)).map(|_| v.mid(&mut crng)).collect();
            let text = message(v, rng);
            *words += text.split_whitespace().count();
            IndexDoc {
                acu_id: Hash::of(&(i as u64).to_le_bytes()),
                conversation: ConvId(Hash::of(&(c as u64).to_be_bytes())),
                provider: PROVIDERS[c % PROVIDERS.len()].to_string(),
                role: if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                },
                kind: Kind::Text,
                created_at_ms: 1_600_000_000_000 + i as u64 * 60_000,
                title: title.join(" "),
                text,
            }
        })
        .collect()
}

/// A `/proc/self/status` field in MB (Linux only).
fn status_mb(name: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(name))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// RSS, split into heap (anonymous) and memory-mapped index files (page cache the kernel
/// can reclaim), plus the peak.
fn fmt_rss() -> String {
    match (
        status_mb("VmRSS:"),
        status_mb("RssAnon:"),
        status_mb("RssFile:"),
        status_mb("VmHWM:"),
    ) {
        (Some(rss), Some(anon), Some(file), Some(peak)) => format!(
            "{rss:6.1} MB = heap {anon:5.1} MB + mapped files {file:5.1} MB (peak {peak:.1} MB)"
        ),
        _ => "n/a".into(),
    }
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

struct Kindly {
    name: &'static str,
    queries: Vec<Query>,
}

/// Environment variable naming the index directory for the query phase, which runs in a fresh
/// child process so that its memory figures are those of a node that just opened the index.
const CHILD_ENV: &str = "VIVIM_BENCH_QUERY_DIR";
const PHRASES_FILE: &str = "phrases.txt";

fn main() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        query_phase(Path::new(&dir));
        return;
    }
    let n_docs: usize = std::env::var("VIVIM_BENCH_DOCS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_DOCS);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("index");
    let mut rng = Rng(42);
    let vocab = Vocab::new(&mut rng);

    let (index, _) = SearchIndex::open(&dir).expect("open index");
    let mut words = 0usize;
    let mut index_time = Duration::ZERO;
    let mut from = 0;
    let mut phrases = Vec::new();
    while from < n_docs {
        let to = (from + BATCH).min(n_docs);
        let docs = generate(&vocab, &mut rng, from, to, &mut words);
        // Phrases that occur: two adjacent words from some messages.
        for d in docs.iter().step_by(BATCH / 20) {
            if cjk() {
                // Four characters that occur together (a phrase without spaces).
                let cs: Vec<char> = d.text.chars().filter(|c| !"。？".contains(*c)).collect();
                if cs.len() > 8 {
                    phrases.push(cs[2..6].iter().collect());
                }
                continue;
            }
            let ws: Vec<&str> = d.text.split_whitespace().collect();
            if ws.len() > 3 {
                let a = ws[1].trim_matches(|c: char| !c.is_alphanumeric());
                let b = ws[2].trim_matches(|c: char| !c.is_alphanumeric());
                phrases.push(format!("\"{a} {b}\""));
            }
        }
        let t = Instant::now();
        index.add(docs).expect("add");
        index.commit().expect("commit");
        index_time += t.elapsed();
        from = to;
    }
    let rss_indexed = fmt_rss();
    let t = Instant::now();
    index.release_writer().expect("release writer");
    let merge_wait = t.elapsed();
    assert_eq!(index.doc_count(), n_docs as u64);
    drop(index);
    std::fs::write(tmp.path().join(PHRASES_FILE), phrases.join("\n")).expect("write phrases");

    let child = std::process::Command::new(std::env::current_exe().expect("own path"))
        .env(CHILD_ENV, &dir)
        .output()
        .expect("run the query phase");
    assert!(
        child.status.success(),
        "query phase failed: {}",
        String::from_utf8_lossy(&child.stderr)
    );

    let secs = index_time.as_secs_f64();
    println!();
    println!("=== vivim-node search benchmark ===");
    println!(
        "corpus      {n_docs} messages, {} conversations, {:.0} words/message avg, vocabulary {VOCAB} (Zipf)",
        n_docs.div_ceil(MESSAGES_PER_CONVERSATION),
        words as f64 / n_docs as f64
    );
    println!(
        "indexing    {:.0} docs/s  ({n_docs} docs in {secs:.2} s, add + commit every {BATCH}; 1 indexing thread, 20 MB writer budget)",
        n_docs as f64 / secs
    );
    println!(
        "            release_writer (wait for merges) {:.2} s; on disk {:.1} MB",
        merge_wait.as_secs_f64(),
        dir_size(&dir) as f64 / 1e6
    );
    println!("            RSS after indexing (incl. generator) {rss_indexed}");
    print!("{}", String::from_utf8_lossy(&child.stdout));
    println!("===================================");
}

/// Opens the index read-only in a fresh process and times queries.
fn query_phase(dir: &Path) {
    let rss_start = fmt_rss();
    let (index, state) = SearchIndex::open(dir).expect("open index");
    assert_eq!(state, OpenState::Existing);
    let rss_open = fmt_rss();
    let phrases: Vec<String> = std::fs::read_to_string(dir.with_file_name(PHRASES_FILE))
        .expect("read phrases")
        .lines()
        .map(str::to_string)
        .collect();
    assert!(!phrases.is_empty());
    let vocab = Vocab::new(&mut Rng(42));
    let mut qrng = Rng(7);
    let mut kinds = vec![
        Kindly {
            name: "single term",
            queries: (0..QUERIES_PER_KIND)
                .map(|_| Query::new(vocab.mid(&mut qrng)))
                .collect(),
        },
        Kindly {
            name: "two terms (AND)",
            queries: (0..QUERIES_PER_KIND)
                .map(|_| {
                    let a = vocab.words[5 + qrng.below(300)].clone();
                    let b = vocab.words[5 + qrng.below(300)].clone();
                    Query::new(format!("{a} {b}"))
                })
                .collect(),
        },
        Kindly {
            name: "phrase",
            queries: (0..QUERIES_PER_KIND)
                .map(|i| Query::new(phrases[i % phrases.len()].clone()))
                .collect(),
        },
        Kindly {
            name: "term + provider",
            queries: (0..QUERIES_PER_KIND)
                .map(|i| {
                    let mut q = Query::new(vocab.mid(&mut qrng));
                    q.provider = Some(PROVIDERS[i % PROVIDERS.len()].to_string());
                    q
                })
                .collect(),
        },
    ];
    for q in kinds.iter_mut().flat_map(|k| k.queries.iter_mut()) {
        q.limit = LIMIT;
    }
    for q in kinds
        .iter()
        .flat_map(|k| k.queries.iter())
        .take(WARMUP_QUERIES)
    {
        index.search(q).expect("warm-up search");
    }
    let mut all = Vec::new();
    let mut lines = Vec::new();
    for k in &kinds {
        let mut lat = Vec::with_capacity(k.queries.len());
        let mut totals = 0usize;
        for q in &k.queries {
            let t = Instant::now();
            let (hits, total) = index.search(q).expect("search");
            lat.push(t.elapsed());
            std::hint::black_box(hits);
            totals += total;
        }
        lat.sort();
        lines.push(format!(
            "  {:<17} p50 {:7.3} ms   p99 {:7.3} ms   max {:7.3} ms   mean matches {:>7.0}",
            k.name,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            percentile(&lat, 1.0),
            totals as f64 / k.queries.len() as f64
        ));
        all.extend(lat);
    }
    all.sort();
    let rss_queried = fmt_rss();
    println!(
        "queries     {} timed in a fresh process after {WARMUP_QUERIES} warm-up, limit {LIMIT}, hits built with snippets",
        all.len()
    );
    for l in &lines {
        println!("{l}");
    }
    println!(
        "  {:<17} p50 {:7.3} ms   p99 {:7.3} ms   max {:7.3} ms",
        "all",
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        percentile(&all, 1.0)
    );
    println!("RSS (query process)  start          {rss_start}");
    println!("                     index opened   {rss_open}");
    println!("                     after queries  {rss_queried}");
}
