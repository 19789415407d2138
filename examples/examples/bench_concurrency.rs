//! Concurrent use of one node through its gateway: are acknowledged captures kept, do searches
//! and reads keep answering, and how do throughput and memory hold up under many clients?
//!
//! `cargo run --release -p vivim-examples --example bench_concurrency -- [--soak 600]`
//!
//! A node is opened in a temporary data dir, a generated ChatGPT export is imported into it
//! (default 300 conversations x 50 messages), the embedding worker runs in the background as
//! under `vivim up`, and the gateway is served on 127.0.0.1:0. The node has its own runtime
//! (one worker per core); the HTTP clients share one `reqwest::Client` on a second runtime in
//! the same process (so client and node share the cores). Phases:
//!
//! 1. captures: one conversation is filled to `--base` messages by one client (the anchor), then
//!    `--writers` clients capture `--captures` messages into it; every acknowledged ACU must
//!    answer 200 and the conversation must hold exactly base + acknowledged messages. Then the
//!    same number of captures, each client into its own new conversation.
//! 2. vector search, hybrid search and related conversations: 1 client for `--single-secs`,
//!    32 clients for `--multi-secs`; the ratio of 32-client QPS to 1-client QPS x cores
//!    (goal >= 0.9).
//! 3. read endpoints at 64 clients, `--read-secs` each.
//! 4. soak (`--soak SECONDS`, default 0 = skipped): 16 clients, 70% reads, 20% searches of every
//!    mode, 10% captures spread over conversations; every 10 s the process RSS; at the end the
//!    RSS growth after the first minute and a check that no acknowledged capture was lost.
//!
//! Flags (each also read from `VIVIM_BENCH_<NAME>`, e.g. `VIVIM_BENCH_SOAK=600`):
//! `--conversations 300 --messages 50 --words 60 --base 1000 --captures 2000 --writers 16
//! --single-secs 5 --multi-secs 10 --read-secs 5 --soak 0`. `RUST_LOG=warn` shows the node's log.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt::Write as _,
    io::BufWriter,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};
use vivim_examples::{pct, rss_kib};
use vivim_node::{
    datadir::DataDir,
    gateway,
    import::Format,
    node::Node,
    organize,
    testdata::{Rng, write_chatgpt_export},
};

const CAPTURE: &str = "/api/v1/acus";

/// Sizes and durations, from flags or `VIVIM_BENCH_*`.
struct Opts {
    conversations: usize,
    messages: usize,
    words: usize,
    base: usize,
    captures: u64,
    writers: usize,
    single_secs: f64,
    multi_secs: f64,
    read_secs: f64,
    soak: u64,
    soak_captures: u64,
}

const FLAGS: &[&str] = &[
    "conversations",
    "messages",
    "words",
    "base",
    "captures",
    "writers",
    "single-secs",
    "multi-secs",
    "read-secs",
    "soak",
    "soak-captures",
];

impl Opts {
    fn parse() -> anyhow::Result<Opts> {
        let mut flags = HashMap::new();
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            if a == "-h" || a == "--help" {
                let usage: Vec<String> = FLAGS.iter().map(|f| format!("[--{f} N]")).collect();
                println!(
                    "bench_concurrency {} (or VIVIM_BENCH_<FLAG>, e.g. VIVIM_BENCH_SOAK=600)",
                    usage.join(" ")
                );
                std::process::exit(0);
            }
            let Some(name) = a.strip_prefix("--") else {
                bail!("unexpected argument {a:?} (see --help)");
            };
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => (
                    name.to_string(),
                    args.next()
                        .ok_or_else(|| anyhow!("--{name} needs a value"))?,
                ),
            };
            if !FLAGS.contains(&name.as_str()) {
                bail!("unknown flag --{name} (see --help)");
            }
            flags.insert(name, value);
        }
        Ok(Opts {
            conversations: opt(&flags, "conversations", 300)?,
            messages: opt(&flags, "messages", 50)?,
            words: opt(&flags, "words", 60)?,
            base: opt(&flags, "base", 1000)?,
            captures: opt(&flags, "captures", 2000)?,
            writers: opt(&flags, "writers", 16)?,
            single_secs: opt(&flags, "single-secs", 5.0)?,
            multi_secs: opt(&flags, "multi-secs", 10.0)?,
            read_secs: opt(&flags, "read-secs", 5.0)?,
            soak: opt(&flags, "soak", 0)?,
            soak_captures: opt(&flags, "soak-captures", 10)?,
        })
    }
}

fn opt<T: std::str::FromStr>(
    flags: &HashMap<String, String>,
    name: &str,
    default: T,
) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    let env = format!("VIVIM_BENCH_{}", name.to_uppercase().replace('-', "_"));
    match flags
        .get(name)
        .cloned()
        .or_else(|| std::env::var(&env).ok())
    {
        Some(v) => v.parse().map_err(|e| anyhow!("--{name} {v:?}: {e}")),
        None => Ok(default),
    }
}

fn rss_mb() -> f64 {
    rss_kib("VmRSS:") as f64 / 1024.0
}

/// Anonymous (heap) and file-backed (mmapped index and store files) parts of the RSS, in MB:
/// growth of the first is memory the process holds, of the second pages of files it reads.
fn rss_parts() -> (f64, f64) {
    (
        rss_kib("RssAnon:") as f64 / 1024.0,
        rss_kib("RssFile:") as f64 / 1024.0,
    )
}

/// Percent-encodes a query-string value.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn short(s: &str, n: usize) -> String {
    let one_line: String = s.chars().map(|c| if c == '\n' { ' ' } else { c }).collect();
    if one_line.chars().count() > n {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    } else {
        one_line
    }
}

/// One request.
#[derive(Clone, Debug)]
enum Req {
    Get(String),
    Post(String, Value),
}

impl Req {
    fn path(&self) -> &str {
        match self {
            Req::Get(p) | Req::Post(p, _) => p,
        }
    }

    fn is_capture(&self) -> bool {
        matches!(self, Req::Post(p, _) if p == CAPTURE)
    }
}

fn capture_req(conv: &str, text: String) -> Req {
    Req::Post(
        CAPTURE.into(),
        json!({"conversation": conv, "role": "user", "text": text}),
    )
}

/// The gateway, as its clients see it.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn send(&self, req: &Req) -> Result<(u16, impl AsRef<[u8]>), reqwest::Error> {
        let rb = match req {
            Req::Get(p) => self.http.get(format!("{}{p}", self.base)),
            Req::Post(p, body) => self.http.post(format!("{}{p}", self.base)).json(body),
        };
        let resp = rb.bearer_auth(&self.token).send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.bytes().await?))
    }

    async fn json(&self, req: Req) -> anyhow::Result<Value> {
        let (status, body) = self.send(&req).await?;
        let body = body.as_ref();
        if !(200..300).contains(&status) {
            bail!(
                "{} {}: {status} {}",
                if matches!(req, Req::Get(_)) {
                    "GET"
                } else {
                    "POST"
                },
                req.path(),
                short(&String::from_utf8_lossy(body), 300)
            );
        }
        Ok(serde_json::from_slice(body)?)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.json(Req::Get(path.to_string())).await
    }

    /// A conversation's detail: (every message id, head-branch `message_count`).
    async fn conversation(&self, id: &str) -> anyhow::Result<(Vec<String>, u64)> {
        let v = self.get(&format!("/api/v1/conversations/{id}")).await?;
        let ids = v["messages"]
            .as_array()
            .context("conversation without messages")?
            .iter()
            .filter_map(|m| m["id"].as_str().map(str::to_string))
            .collect();
        Ok((
            ids,
            v["conversation"]["message_count"].as_u64().unwrap_or(0),
        ))
    }
}

/// When a run ends.
#[derive(Clone, Copy)]
enum Stop {
    Count(u64),
    For(Duration),
}

type MakeReq = Arc<dyn Fn(usize, u64) -> Req + Send + Sync>;
type OnOk = Arc<dyn Fn(&Req, &[u8]) + Send + Sync>;

/// Counters a running soak reads while the clients work; latencies of the current window.
#[derive(Default)]
struct Live {
    done: AtomicU64,
    errors: AtomicU64,
    window: Mutex<Vec<f64>>,
}

/// What a run saw.
#[derive(Default)]
struct Stats {
    n: u64,
    non2xx: u64,
    failed: u64,
    secs: f64,
    lat_ms: Vec<f64>,
    statuses: BTreeMap<u16, u64>,
    sample: Option<String>,
}

impl Stats {
    fn merge(&mut self, o: Stats) {
        self.n += o.n;
        self.non2xx += o.non2xx;
        self.failed += o.failed;
        self.lat_ms.extend(o.lat_ms);
        for (s, c) in o.statuses {
            *self.statuses.entry(s).or_default() += c;
        }
        if self.sample.is_none() {
            self.sample = o.sample;
        }
    }

    fn rate(&self) -> f64 {
        self.n as f64 / self.secs.max(1e-9)
    }

    fn errors(&self) -> u64 {
        self.non2xx + self.failed
    }

    fn errors_line(&self) -> String {
        let mut s = format!("non-2xx {}, failed {}", self.non2xx, self.failed);
        if !self.statuses.is_empty() {
            let by: Vec<String> = self
                .statuses
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let _ = write!(s, " ({})", by.join(", "));
        }
        if let Some(e) = &self.sample {
            let _ = write!(s, "\n      first error: {e}");
        }
        s
    }

    /// One labelled line: rate, p50/p99, errors.
    fn line(&mut self, label: &str, unit: &str) -> String {
        let p50 = pct(&mut self.lat_ms, 0.5);
        let p99 = pct(&mut self.lat_ms, 0.99);
        format!(
            "  {label:<40} {:>8.1} {unit}  p50 {p50:>7.1} ms  p99 {p99:>8.1} ms  [{} in {:.1} s]  {}",
            self.rate(),
            self.n,
            self.secs,
            self.errors_line()
        )
    }
}

/// Runs `clients` concurrent clients until `stop`, each sending `make(client, seq)` (seq is
/// unique across clients) and waiting for the whole answer; `on_ok` sees every 2xx body.
async fn drive(
    api: &Api,
    clients: usize,
    stop: Stop,
    make: MakeReq,
    on_ok: Option<OnOk>,
    live: Option<Arc<Live>>,
) -> anyhow::Result<Stats> {
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients {
        let (api, make, issued, on_ok, live) = (
            api.clone(),
            make.clone(),
            issued.clone(),
            on_ok.clone(),
            live.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut st = Stats::default();
            loop {
                let seq = issued.fetch_add(1, Ordering::Relaxed);
                match stop {
                    Stop::Count(n) if seq >= n => break,
                    Stop::For(d) if start.elapsed() >= d => break,
                    _ => {}
                }
                let req = make(c, seq);
                let t = Instant::now();
                let r = api.send(&req).await;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                st.n += 1;
                let ok = match r {
                    Ok((status, body)) if (200..300).contains(&status) => {
                        if let Some(f) = &on_ok {
                            f(&req, body.as_ref());
                        }
                        true
                    }
                    Ok((status, body)) => {
                        st.non2xx += 1;
                        *st.statuses.entry(status).or_default() += 1;
                        if st.sample.is_none() {
                            st.sample = Some(format!(
                                "{} -> {status} {}",
                                short(req.path(), 100),
                                short(&String::from_utf8_lossy(body.as_ref()), 200)
                            ));
                        }
                        false
                    }
                    Err(e) => {
                        st.failed += 1;
                        if st.sample.is_none() {
                            st.sample = Some(format!("{} -> {e}", short(req.path(), 100)));
                        }
                        false
                    }
                };
                match &live {
                    Some(l) => {
                        l.done.fetch_add(1, Ordering::Relaxed);
                        if !ok {
                            l.errors.fetch_add(1, Ordering::Relaxed);
                        }
                        l.window
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(ms);
                    }
                    None => st.lat_ms.push(ms),
                }
            }
            st
        }));
    }
    let mut total = Stats::default();
    for t in tasks {
        total.merge(t.await?);
    }
    total.secs = start.elapsed().as_secs_f64();
    Ok(total)
}

/// What the read and search requests draw from.
struct Pools {
    /// (raw, percent-encoded) queries.
    queries: Vec<(String, String)>,
    /// Imported conversations (not the one filled in phase 1).
    convs: Vec<String>,
    /// ACU ids.
    acus: Vec<String>,
}

/// An endpoint of the read phases.
#[derive(Clone, Copy)]
enum Ep {
    List,
    Conversation,
    Acu,
    Search(&'static str),
    Related,
    Status,
    Memories,
    Context,
}

impl Ep {
    fn label(self) -> String {
        match self {
            Ep::List => "GET conversations?limit=20".into(),
            Ep::Conversation => "GET conversations/{id}".into(),
            Ep::Acu => "GET acus/{id}".into(),
            Ep::Search(m) => format!("GET search mode={m}"),
            Ep::Related => "GET conversations/{id}/related".into(),
            Ep::Status => "GET admin/status".into(),
            Ep::Memories => "GET v2/memories?q=".into(),
            Ep::Context => "POST v2/context".into(),
        }
    }

    fn req(self, p: &Pools, r: u64) -> Req {
        let pick = |v: &[String]| v[(r % v.len().max(1) as u64) as usize].clone();
        let (raw, q) = &p.queries[(r % p.queries.len() as u64) as usize];
        match self {
            Ep::List => Req::Get("/api/v1/conversations?limit=20".into()),
            Ep::Conversation => Req::Get(format!("/api/v1/conversations/{}", pick(&p.convs))),
            Ep::Acu => Req::Get(format!("/api/v1/acus/{}", pick(&p.acus))),
            Ep::Search(mode) => Req::Get(format!("/api/v1/search?q={q}&mode={mode}")),
            Ep::Related => Req::Get(format!("/api/v1/conversations/{}/related", pick(&p.convs))),
            Ep::Status => Req::Get("/api/admin/status".into()),
            Ep::Memories => Req::Get(format!("/api/v2/memories?q={q}")),
            Ep::Context => Req::Post(
                "/api/v2/context".into(),
                json!({"query": raw, "budget_tokens": 1500, "model": "gpt-4o"}),
            ),
        }
    }

    fn make(self, pools: &Arc<Pools>) -> MakeReq {
        let pools = pools.clone();
        Arc::new(move |_, seq| self.req(&pools, seq))
    }
}

const READS: [Ep; 7] = [
    Ep::List,
    Ep::Conversation,
    Ep::Acu,
    Ep::Related,
    Ep::Status,
    Ep::Memories,
    Ep::Context,
];
const SEARCHES: [Ep; 3] = [
    Ep::Search("text"),
    Ep::Search("vector"),
    Ep::Search("hybrid"),
];

fn main() -> anyhow::Result<()> {
    let o = Opts::parse()?;
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let cores = std::thread::available_parallelism().map_or(1, |x| x.get());
    // The node gets a runtime like `vivim up` (one worker per core); the clients get their own.
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("node")
        .enable_all()
        .build()?;
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("bench-client")
        .enable_all()
        .build()?;

    let tmp = tempfile::tempdir()?;
    let export = tmp.path().join("conversations.json");
    write_chatgpt_export(
        BufWriter::new(std::fs::File::create(&export)?),
        o.conversations,
        o.messages,
        o.words,
        1,
    )?;
    println!(
        "bench_concurrency: {} conversations x {} messages (~{} words), {cores} cores, node and clients in one process",
        o.conversations, o.messages, o.words
    );

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (node, addr, served) = server.block_on(async {
        let node = Node::open(DataDir::at(tmp.path().join("node")), None, true).await?;
        let t = Instant::now();
        let s = node.import_path(&export, Format::Auto, None).await?;
        println!(
            "  import: {} conversations, {} messages in {:.1} s",
            s.conversations,
            s.messages,
            t.elapsed().as_secs_f64()
        );
        organize::spawn_worker(&node);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let served = tokio::spawn(gateway::serve(node.clone(), listener, async move {
            let _ = stop_rx.await;
        }));
        anyhow::Ok((node, addr, served))
    })?;
    let api = Api {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?,
        base: format!("http://{addr}"),
        token: node.dir.token()?,
    };
    println!("  gateway: http://{addr}, RSS {:.0} MB", rss_mb());

    let result = client.block_on(run(&o, api, node.clone(), server.handle().clone(), cores));

    let _ = stop_tx.send(());
    server.block_on(async {
        match tokio::time::timeout(Duration::from_secs(10), served).await {
            Ok(r) => r??,
            Err(_) => println!("  (gateway still had connections open after 10 s)"),
        }
        node.shutdown().await?;
        anyhow::Ok(())
    })?;
    drop(client);
    drop(server);
    result
}

async fn run(
    o: &Opts,
    api: Api,
    node: Arc<Node>,
    server: tokio::runtime::Handle,
    cores: usize,
) -> anyhow::Result<()> {
    let page = api.get("/api/v1/conversations?limit=100").await?;
    let mut convs: Vec<String> = page["items"]
        .as_array()
        .context("conversation list without items")?
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    if convs.len() < 2 {
        bail!("need at least 2 conversations (--conversations)");
    }
    let hot = convs.remove(0);
    let mut acus = Vec::new();
    for c in convs.iter().take(5) {
        acus.extend(api.conversation(c).await?.0);
    }
    if acus.is_empty() {
        bail!("the imported conversations have no messages (--messages)");
    }
    let mut rng = Rng::new(42);
    let queries = (0..256)
        .map(|i| {
            let q = rng.words(1 + i % 4);
            let e = enc(&q);
            (q, e)
        })
        .collect();
    let pools = Arc::new(Pools {
        queries,
        convs,
        acus,
    });

    captures(o, &api, &hot).await?;

    // Phase 2: vector search, hybrid search, related.
    println!("[2] vector search, hybrid search, related conversations");
    let t = Instant::now();
    let n = node.clone();
    let pass = server
        .spawn(async move { organize::catch_up(&n).await })
        .await??;
    let st = api.get("/api/admin/status").await?;
    let sem = &st["semantic"];
    println!(
        "  embedding caught up in {:.1} s ({} embedded by this call): vectors {}, conversations done {} of {}, pending {}, running {}",
        t.elapsed().as_secs_f64(),
        pass.embedded,
        sem["vectors"],
        sem["conversations_done"],
        st["conversations"],
        sem["conversations_pending"],
        sem["running"]
    );
    for ep in [Ep::Search("vector"), Ep::Search("hybrid"), Ep::Related] {
        let single = Duration::from_secs_f64(o.single_secs);
        let multi = Duration::from_secs_f64(o.multi_secs);
        let mut one = drive(&api, 1, Stop::For(single), ep.make(&pools), None, None).await?;
        let mut many = drive(&api, 32, Stop::For(multi), ep.make(&pools), None, None).await?;
        let label = ep.label();
        println!("{}", one.line(&format!("{label}, 1 client"), "QPS"));
        println!("{}", many.line(&format!("{label}, 32 clients"), "QPS"));
        println!(
            "  {label}: 32-client QPS / (1-client QPS x {cores} cores) = {:.2} (goal >= 0.90), errors {}",
            many.rate() / (one.rate() * cores as f64),
            one.errors() + many.errors()
        );
    }

    // Phase 3: reads at 64 clients.
    println!("[3] read endpoints, 64 clients, {} s each", o.read_secs);
    let read = Duration::from_secs_f64(o.read_secs);
    for ep in [
        Ep::List,
        Ep::Conversation,
        Ep::Acu,
        Ep::Search("text"),
        Ep::Search("hybrid"),
        Ep::Related,
        Ep::Status,
        Ep::Memories,
        Ep::Context,
    ] {
        let mut s = drive(&api, 64, Stop::For(read), ep.make(&pools), None, None).await?;
        println!("{}", s.line(&ep.label(), "req/s"));
    }

    if o.soak > 0 {
        soak(o, &api, &pools).await?;
    } else {
        println!("[4] soak skipped (--soak SECONDS)");
    }
    Ok(())
}

/// Phase 1: captures into one big conversation, then into many.
async fn captures(o: &Opts, api: &Api, hot: &str) -> anyhow::Result<()> {
    println!(
        "[1] captures: conversation {} filled to {} messages, then {} captures from {} clients",
        &hot[..hot.len().min(12)],
        o.base,
        o.captures,
        o.writers
    );
    // Fill to `base` with one client: the anchor.
    let have = api.conversation(hot).await?.0.len();
    let fill = o.base.saturating_sub(have) as u64;
    let hot_owned = hot.to_string();
    let make: MakeReq = Arc::new(move |_, i| {
        capture_req(&hot_owned, format!("fill {i} {}", Rng::new(i).words(12)))
    });
    let mut filled = drive(api, 1, Stop::Count(fill), make, None, None).await?;
    let tail: Vec<f64> = filled.lat_ms[filled.lat_ms.len().saturating_sub(100)..].to_vec();
    println!(
        "{}",
        filled.line(
            &format!("1 client, {have} -> {} messages", o.base),
            "captures/s"
        )
    );
    if !tail.is_empty() {
        let mut t = tail.clone();
        println!(
            "  {:<40} {:>8.1} captures/s  p50 {:>7.1} ms  p99 {:>8.1} ms   <- anchor",
            format!("1 client, last {} of the fill", tail.len()),
            tail.len() as f64 / (tail.iter().sum::<f64>() / 1e3),
            pct(&mut t, 0.5),
            pct(&mut t, 0.99)
        );
    }
    let base = api.conversation(hot).await?.0.len();
    if base != o.base {
        println!(
            "  note: the conversation holds {base} messages after the fill, not {}",
            o.base
        );
    }

    // Many clients into the same conversation.
    let acked = Arc::new(Mutex::new(Vec::new()));
    let on_ok: OnOk = {
        let acked = acked.clone();
        Arc::new(move |_, body| {
            if let Ok(v) = serde_json::from_slice::<Value>(body)
                && let Some(id) = v["id"].as_str()
            {
                acked
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(id.to_string());
            }
        })
    };
    let hot_owned = hot.to_string();
    let make: MakeReq = Arc::new(move |c, i| {
        capture_req(
            &hot_owned,
            format!("client {c} capture {i} {}", Rng::new(i).words(12)),
        )
    });
    let mut s = drive(
        api,
        o.writers,
        Stop::Count(o.captures),
        make,
        Some(on_ok),
        None,
    )
    .await?;
    println!(
        "{}",
        s.line(
            &format!("{} clients, one conversation", o.writers),
            "captures/s"
        )
    );
    let acked: Vec<String> =
        std::mem::take(&mut *acked.lock().unwrap_or_else(PoisonError::into_inner));
    let lost = check(api, o.writers, hot, base, &acked).await?;
    println!(
        "  one conversation: lost {lost} of {} acknowledged captures",
        acked.len()
    );

    // Many clients, each into its own new conversation.
    let mut own = Vec::with_capacity(o.writers);
    for c in 0..o.writers {
        let v = api
            .json(Req::Post(
                CAPTURE.into(),
                json!({"role": "user", "title": format!("bench writer {c}"), "text": format!("writer {c} starts")}),
            ))
            .await?;
        own.push(
            v["conversation"]
                .as_str()
                .context("capture answer without conversation")?
                .to_string(),
        );
    }
    let by_conv: Arc<HashMap<String, Mutex<Vec<String>>>> = Arc::new(
        own.iter()
            .map(|c| (c.clone(), Mutex::new(Vec::new())))
            .collect(),
    );
    let on_ok: OnOk = {
        let by_conv = by_conv.clone();
        Arc::new(move |_, body| {
            if let Ok(v) = serde_json::from_slice::<Value>(body)
                && let (Some(conv), Some(id)) = (v["conversation"].as_str(), v["id"].as_str())
                && let Some(ids) = by_conv.get(conv)
            {
                ids.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(id.to_string());
            }
        })
    };
    let own = Arc::new(own);
    let make: MakeReq = {
        let own = own.clone();
        Arc::new(move |c, i| {
            capture_req(
                &own[c % own.len()],
                format!("client {c} capture {i} {}", Rng::new(i).words(12)),
            )
        })
    };
    let mut s = drive(
        api,
        o.writers,
        Stop::Count(o.captures),
        make,
        Some(on_ok),
        None,
    )
    .await?;
    println!(
        "{}",
        s.line(
            &format!("{} clients, own conversation each", o.writers),
            "captures/s"
        )
    );
    let (mut lost, mut total) = (0, 0);
    for c in own.iter() {
        if let Some(ids) = by_conv.get(c) {
            let ids = std::mem::take(&mut *ids.lock().unwrap_or_else(PoisonError::into_inner));
            total += ids.len();
            lost += check_quiet(api, c, 1, &ids).await?;
        }
    }
    println!(
        "  own conversations: lost {lost} of {total} acknowledged captures (each conversation must hold 1 + its acknowledged captures)"
    );
    Ok(())
}

/// Checks every acknowledged ACU: it answers 200 on its own, and the conversation holds exactly
/// `base` + acknowledged messages. Prints the figures; returns how many acknowledged ACUs are
/// missing from the conversation or do not answer 200.
async fn check(
    api: &Api,
    clients: usize,
    conv: &str,
    base: usize,
    acked: &[String],
) -> anyhow::Result<usize> {
    let found = Arc::new(Mutex::new(HashSet::new()));
    let on_ok: OnOk = {
        let found = found.clone();
        Arc::new(move |req, _| {
            if let Some(id) = req.path().rsplit('/').next() {
                found
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id.to_string());
            }
        })
    };
    let ids = Arc::new(acked.to_vec());
    let make: MakeReq = {
        let ids = ids.clone();
        Arc::new(move |_, i| Req::Get(format!("/api/v1/acus/{}", ids[i as usize])))
    };
    let s = drive(
        api,
        clients,
        Stop::Count(acked.len() as u64),
        make,
        Some(on_ok),
        None,
    )
    .await?;
    let found = std::mem::take(&mut *found.lock().unwrap_or_else(PoisonError::into_inner));
    let (messages, head_count) = api.conversation(conv).await?;
    let held: HashSet<&String> = messages.iter().collect();
    let missing = acked.iter().filter(|id| !held.contains(id)).count();
    let lost = acked
        .iter()
        .filter(|id| !held.contains(id) || !found.contains(*id))
        .count();
    let expected = base + acked.len();
    println!(
        "  check: {} acknowledged; GET acus/{{id}}: {} x 200, {} not 200 ({}); conversation holds {} messages, expected {base} + {} = {expected}: {}; {missing} acknowledged ids missing from it; head-branch message_count {head_count}",
        acked.len(),
        found.len(),
        acked.len() - found.len(),
        s.errors_line(),
        messages.len(),
        acked.len(),
        if messages.len() == expected {
            "OK"
        } else {
            "MISMATCH"
        },
    );
    Ok(lost)
}

/// Like [`check`] without the per-ACU requests or printing, for many small conversations:
/// acknowledged ids missing from the conversation, plus any surplus or shortfall in its size.
async fn check_quiet(
    api: &Api,
    conv: &str,
    base: usize,
    acked: &[String],
) -> anyhow::Result<usize> {
    let (messages, _) = api.conversation(conv).await?;
    let held: HashSet<&String> = messages.iter().collect();
    let missing = acked.iter().filter(|id| !held.contains(id)).count();
    let expected = base + acked.len();
    if messages.len() != expected {
        println!(
            "  conversation {}: {} messages, expected {expected}",
            &conv[..conv.len().min(12)],
            messages.len()
        );
    }
    Ok(missing)
}

/// Phase 4: the mixed soak.
async fn soak(o: &Opts, api: &Api, pools: &Arc<Pools>) -> anyhow::Result<()> {
    println!(
        "[4] soak: {} s, 16 clients, {}% reads, 20% searches (text/vector/hybrid), {}% captures over {} conversations",
        o.soak,
        80 - o.soak_captures.min(80),
        o.soak_captures.min(80),
        pools.convs.len()
    );
    let capture_pct = o.soak_captures.min(80);
    let mut initial = HashMap::new();
    for c in &pools.convs {
        initial.insert(c.clone(), api.conversation(c).await?.0.len());
    }
    let acks: Arc<HashMap<String, AtomicU64>> = Arc::new(
        pools
            .convs
            .iter()
            .map(|c| (c.clone(), AtomicU64::new(0)))
            .collect(),
    );
    let on_ok: OnOk = {
        let acks = acks.clone();
        Arc::new(move |req, body| {
            if req.is_capture()
                && let Ok(v) = serde_json::from_slice::<Value>(body)
                && let Some(n) = v["conversation"].as_str().and_then(|c| acks.get(c))
            {
                n.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let make: MakeReq = {
        let pools = pools.clone();
        Arc::new(move |c, i| {
            let mut r = Rng::new(((c as u64) << 40) ^ i);
            let roll = r.below(100);
            let pick = r.next_u64();
            if roll < 80 - capture_pct {
                READS[(pick % READS.len() as u64) as usize].req(&pools, r.next_u64())
            } else if roll < 100 - capture_pct {
                SEARCHES[(pick % SEARCHES.len() as u64) as usize].req(&pools, r.next_u64())
            } else {
                let conv = &pools.convs[(pick % pools.convs.len() as u64) as usize];
                capture_req(conv, format!("soak {c} {i} {}", r.words(12)))
            }
        })
    };
    let live = Arc::new(Live::default());
    let start_vectors = api.get("/api/admin/status").await?["semantic"]["vectors"].clone();
    let start_rss = rss_parts().0;
    let reporter = {
        let live = live.clone();
        let secs = o.soak;
        async move {
            let start = tokio::time::Instant::now();
            let mut spare = Vec::new();
            let mut last_done = 0;
            let mut first: Option<(u64, f64)> = None;
            let mut at60 = None;
            let mut tick = 1;
            while tick * 10 <= secs {
                tokio::time::sleep_until(start + Duration::from_secs(tick * 10)).await;
                std::mem::swap(
                    &mut spare,
                    &mut *live.window.lock().unwrap_or_else(PoisonError::into_inner),
                );
                let p99 = pct(&mut spare, 0.99);
                spare.clear();
                let done = live.done.load(Ordering::Relaxed);
                let errors = live.errors.load(Ordering::Relaxed);
                let rss = rss_mb();
                let (anon, file) = rss_parts();
                println!(
                    "  soak {:>4} s: {done} requests ({:.0}/s in the last 10 s, p99 {p99:.1} ms), {errors} errors, RSS {rss:.1} MB (anon {anon:.1}, file {file:.1})",
                    tick * 10,
                    (done - last_done) as f64 / 10.0
                );
                last_done = done;
                first.get_or_insert((tick * 10, anon));
                if tick == 6 {
                    at60 = Some(anon);
                }
                tick += 1;
            }
            at60.map(|r| (60, r)).or(first)
        }
    };
    let (stats, baseline) = tokio::join!(
        drive(
            api,
            16,
            Stop::For(Duration::from_secs(o.soak)),
            make,
            Some(on_ok),
            Some(live.clone())
        ),
        reporter
    );
    let stats = stats?;
    let end_rss = rss_parts().0;
    let (at, base_rss) = baseline.unwrap_or((0, start_rss));
    println!(
        "  soak total: {} requests in {:.0} s ({:.0}/s), errors {}: {}",
        stats.n,
        stats.secs,
        stats.rate(),
        stats.errors(),
        stats.errors_line()
    );
    println!(
        "  soak anonymous RSS (heap; file-backed pages of the growing store and index excluded): {base_rss:.1} MB at {at} s, {end_rss:.1} MB at the end: growth {:+.1}%",
        (end_rss - base_rss) / base_rss * 100.0
    );
    let (mut lost, mut acked) = (0u64, 0u64);
    for (c, n) in acks.iter() {
        let n = n.load(Ordering::Relaxed);
        if n == 0 {
            continue;
        }
        acked += n;
        let have = api.conversation(c).await?.0.len() as u64;
        let want = initial.get(c).copied().unwrap_or(0) as u64 + n;
        lost += want.saturating_sub(have);
    }
    println!(
        "  soak captures: {acked} acknowledged, {lost} missing from their conversations afterwards"
    );
    let end_vectors = api.get("/api/admin/status").await?["semantic"]["vectors"].clone();
    println!("  vectors held in memory: {start_vectors} at the start, {end_vectors} at the end");
    Ok(())
}
