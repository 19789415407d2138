//! MCP latency benchmark: a node holding 100,000 generated messages (5,000 ChatGPT-shaped
//! conversations of 20), driven the way an assistant drives it — JSON-RPC lines over the stdio
//! of `vivim mcp` — and, beside it in the same run, the same reads through the running node's
//! REST gateway (the anchor: what the MCP layer adds over a plain axum route), MCP over the
//! gateway's streamable HTTP, and `vivim mcp` bridged to the running node.
//!
//! Run with `cargo bench -p vivim-node --bench mcp` (release), or for a quick look
//! `cargo bench -p vivim-node --bench mcp --profile dev`. `VIVIM_BENCH_MESSAGES` changes the
//! size (a multiple of 20). Prints p50/p99 per tool and per path.

use std::{
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_vivim");
const PER_CONV: usize = 20;
const CALLS: usize = 300;

fn vivim(data: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("run vivim");
    assert!(
        out.status.success(),
        "vivim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `vivim mcp` as a child, spoken to line by line.
struct Stdio_ {
    child: Child,
    tx: ChildStdin,
    rx: BufReader<ChildStdout>,
    id: u64,
}

impl Stdio_ {
    fn start(data: &Path) -> Stdio_ {
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(data)
            .arg("mcp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn vivim mcp");
        let tx = child.stdin.take().expect("stdin");
        let rx = BufReader::new(child.stdout.take().expect("stdout"));
        let mut s = Stdio_ {
            child,
            tx,
            rx,
            id: 0,
        };
        s.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "bench", "version": "1"}}),
        );
        writeln!(
            s.tx,
            "{}",
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
        )
        .expect("write");
        s
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": self.id, "method": method, "params": params});
        writeln!(self.tx, "{msg}").expect("write");
        self.tx.flush().expect("flush");
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                self.rx.read_line(&mut line).expect("read") > 0,
                "mcp closed"
            );
            let v: Value = serde_json::from_str(&line).expect("json line");
            if v["id"] == self.id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    fn tool(&mut self, name: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({"name": name, "arguments": args}));
        assert_ne!(r["isError"], true, "{name}: {r}");
        r["structuredContent"].clone()
    }

    fn stop(mut self) {
        drop(self.tx);
        let _ = self.child.wait();
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn report(what: &str, mut d: Vec<Duration>) {
    d.sort();
    println!(
        "  {what:<44} n={:<4} p50 {:7.2} ms  p99 {:7.2} ms  max {:7.2} ms",
        d.len(),
        pct(&d, 0.5),
        pct(&d, 0.99),
        pct(&d, 1.0)
    );
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

/// Queries from the words of real messages of the data: single words, pairs, and
/// phrases.
fn queries(samples: &[String]) -> Vec<String> {
    let words: Vec<&str> = samples
        .iter()
        .flat_map(|s| s.split_whitespace())
        .filter(|w| w.len() > 3 && w.chars().all(char::is_alphanumeric))
        .collect();
    let mut out = Vec::new();
    let mut i = 0usize;
    while out.len() < CALLS && !words.is_empty() {
        let w = |k: usize| words[k % words.len()];
        out.push(match out.len() % 3 {
            0 => w(i).to_string(),
            1 => format!("{} {}", w(i), w(i * 7 + 3)),
            _ => format!("\"{} {}\"", w(i), w(i + 1)),
        });
        i += 13;
    }
    out
}

fn main() {
    let n: usize = std::env::var("VIVIM_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let convs = (n / PER_CONV).max(1);
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("node");
    let export = tmp.path().join("conversations.json");
    println!(
        "MCP bench: {convs} conversations x {PER_CONV} messages = {} messages",
        convs * PER_CONV
    );
    let f = std::io::BufWriter::new(std::fs::File::create(&export).expect("create"));
    vivim_node::testdata::write_chatgpt_export(f, convs, PER_CONV, 60, 7).expect("export");
    vivim(&data, &["init"]);
    let (_, t) = time(|| vivim(&data, &["import", export.to_str().expect("utf-8")]));
    println!("  import: {:.1} s", t.as_secs_f64());
    // The embedding pass (what `vivim up` runs in the background) before anything is timed,
    // so no figure below shares the cores with it.
    let (_, t) = time(|| vivim(&data, &["context", "warm up", "--budget", "200"]));
    println!(
        "  embedding pass (vectors + memories of every message): {:.1} s",
        t.as_secs_f64()
    );

    // --- stdio, the node opened by `vivim mcp` itself
    println!("stdio, no node running (`vivim mcp` opens the data dir):");
    let (mut s, t) = time(|| Stdio_::start(&data));
    println!("  start + initialize: {:.0} ms", t.as_secs_f64() * 1e3);
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    while ids.len() < CALLS {
        let mut args = json!({"limit": 100});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let page = s.tool("list_conversations", args);
        for c in page["conversations"].as_array().expect("list") {
            ids.push(c["id"].as_str().expect("id").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let samples: Vec<String> = ids
        .iter()
        .take(20)
        .flat_map(|id| {
            s.tool("get_conversation", json!({"id": id, "limit": 4}))["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .filter_map(|m| m["text"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect();
    let qs = queries(&samples);
    // Warm-up: the first search opens the index readers.
    for q in qs.iter().take(20) {
        s.tool("search", json!({"query": q}));
    }
    let mut search = Vec::new();
    let mut hits = 0usize;
    for q in &qs {
        let (r, t) = time(|| s.tool("search", json!({"query": q, "limit": 10})));
        hits += r["hits"].as_array().map_or(0, Vec::len);
        search.push(t);
    }
    report("search (text, limit 10)", search);
    println!("    ({:.1} hits per query)", hits as f64 / qs.len() as f64);
    let mut get = Vec::new();
    for id in ids.iter().cycle().skip(7).take(CALLS) {
        let (_, t) = time(|| s.tool("get_conversation", json!({"id": id})));
        get.push(t);
    }
    report("get_conversation (20 messages)", get);
    let mut get_prefix = Vec::new();
    for id in ids.iter().cycle().skip(11).take(CALLS) {
        let (_, t) = time(|| s.tool("get_conversation", json!({"id": &id[..10]})));
        get_prefix.push(t);
    }
    report("get_conversation by a 10-char prefix", get_prefix);
    let mut list = Vec::new();
    for _ in 0..100 {
        let (_, t) = time(|| s.tool("list_conversations", json!({"limit": 20})));
        list.push(t);
    }
    report("list_conversations (20)", list);
    let mut filtered = Vec::new();
    for _ in 0..20 {
        let (_, t) = time(|| {
            s.tool(
                "list_conversations",
                json!({"limit": 20, "provider": "claude"}),
            )
        });
        filtered.push(t);
    }
    report("list_conversations, a provider with none", filtered);
    let (_, first) = time(|| s.tool("context", json!({"query": qs[0], "budget_tokens": 2000})));
    println!("  context: first call {:.0} ms", first.as_secs_f64() * 1e3);
    let mut ctx = Vec::new();
    for q in qs.iter().take(50) {
        let (r, t) = time(|| s.tool("context", json!({"query": q, "budget_tokens": 2000})));
        assert!(r["total_tokens"].as_u64().unwrap_or(u64::MAX) <= 2000);
        ctx.push(t);
    }
    report("context (2000 tokens)", ctx);
    let mut mem = Vec::new();
    for q in qs.iter().take(50) {
        let (_, t) = time(|| s.tool("memories", json!({"query": q})));
        mem.push(t);
    }
    report("memories (query)", mem);
    let mut rel = Vec::new();
    for id in ids.iter().take(50) {
        let (_, t) = time(|| s.tool("related", json!({"id": id, "limit": 10})));
        rel.push(t);
    }
    report("related (10)", rel);
    let mut feed = Vec::new();
    for _ in 0..50 {
        let (_, t) = time(|| s.tool("feed", json!({})));
        feed.push(t);
    }
    report("feed (empty)", feed);
    let mut res = Vec::new();
    for id in ids.iter().take(100) {
        let (_, t) = time(|| {
            s.request(
                "resources/read",
                json!({"uri": format!("vivim://conversation/{id}")}),
            )
        });
        res.push(t);
    }
    report("resources/read a conversation (Markdown)", res);
    s.stop();

    // --- the same node running: REST (the anchor), MCP over HTTP, stdio bridged
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let mut up = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args([
            "up",
            "--no-network",
            "--gateway",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("vivim up");
    let base = format!("http://127.0.0.1:{port}");
    let token = std::fs::read_to_string(data.join("token"))
        .expect("token")
        .trim()
        .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let http = reqwest::Client::builder().no_proxy().build().expect("http");
    rt.block_on(async {
        for _ in 0..300 {
            if http.get(format!("{base}/api/health")).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("vivim up did not answer");
    });
    println!("the node running (`vivim up --no-network`):");
    let rest = |path: String| {
        let t = Instant::now();
        rt.block_on(async {
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("get");
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.bytes().await.expect("body");
        });
        t.elapsed()
    };
    for q in qs.iter().take(20) {
        rest(format!("/api/v1/search?limit=10&q={}", urlencode(q)));
    }
    let d: Vec<Duration> = qs
        .iter()
        .map(|q| rest(format!("/api/v1/search?limit=10&q={}", urlencode(q))))
        .collect();
    report("REST GET /api/v1/search (anchor)", d);
    // Each id once: the gateway caches conversation bodies, and a cached answer is not the
    // figure to compare with.
    let d: Vec<Duration> = ids
        .iter()
        .skip(CALLS / 2)
        .chain(ids.iter().take(CALLS / 2))
        .take(CALLS)
        .map(|id| rest(format!("/api/v1/conversations/{id}")))
        .collect();
    report("REST GET /api/v1/conversations/{id} (anchor)", d);
    let mcp_http = |name: &str, args: Value| {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": name, "arguments": args}});
        let t = Instant::now();
        rt.block_on(async {
            let r = http
                .post(format!("{base}/api/mcp"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-06-18")
                .body(body.to_string())
                .send()
                .await
                .expect("post");
            assert!(r.status().is_success(), "{}", r.status());
            r.bytes().await.expect("body");
        });
        t.elapsed()
    };
    let d: Vec<Duration> = qs
        .iter()
        .map(|q| mcp_http("search", json!({"query": q, "limit": 10})))
        .collect();
    report("MCP over HTTP: search", d);
    let d: Vec<Duration> = ids
        .iter()
        .take(CALLS)
        .map(|id| mcp_http("get_conversation", json!({"id": id})))
        .collect();
    report("MCP over HTTP: get_conversation", d);
    let mut b = Stdio_::start(&data);
    let d: Vec<Duration> = qs
        .iter()
        .map(|q| time(|| b.tool("search", json!({"query": q, "limit": 10}))).1)
        .collect();
    report("stdio bridged to the gateway: search", d);
    let d: Vec<Duration> = ids
        .iter()
        .take(CALLS)
        .map(|id| time(|| b.tool("get_conversation", json!({"id": id}))).1)
        .collect();
    report("stdio bridged to the gateway: get_conversation", d);
    b.stop();
    let _ = up.kill();
    let _ = up.wait();
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
