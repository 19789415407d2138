//! Data care benchmark, the way a user runs it: a node holding 100,000 generated messages (5,000
//! ChatGPT-shaped conversations of 20) — backup (with the node stopped, and through a running
//! node), restore into a new directory and the first open after it (which rebuilds the search
//! index), the integrity check — beside their anchors in the same run: the import that made the
//! data, and a plain copy of the data dir (`cp -a`, what a user would otherwise do; not
//! consistent while a node runs). Then the admin panel's cost at idle: a running node's CPU and
//! memory over a minute, and what each sample of the metrics sampler took.
//!
//! Run with `cargo bench -p vivim-node --bench care` (release), or for a quick look
//! `cargo bench -p vivim-node --bench care --profile dev`. `VIVIM_BENCH_MESSAGES` changes the
//! size (a multiple of 20); `VIVIM_BENCH_IDLE_S` the idle window (default 60).

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_vivim");
const PER_CONV: usize = 20;

fn run(data: &Path, args: &[&str], env: &[(&str, &str)]) -> (String, Duration) {
    let t = Instant::now();
    let mut c = Command::new(BIN);
    c.arg("--data-dir").arg(data).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run vivim");
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "vivim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), took)
}

fn dir_size(p: &Path) -> u64 {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::read_dir(p)
            .map(|d| d.flatten().map(|e| dir_size(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

fn mb(b: u64) -> f64 {
    b as f64 / 1e6
}

/// A process's CPU use over `secs` seconds (percent of one core), its RSS at the end and the
/// most it reached, sampled every second.
fn idle(pid: u32, secs: u64) -> (f64, u64, u64) {
    use vivim_node::admin::process::of;
    let start = of(pid);
    let t = Instant::now();
    let mut rss_max = 0;
    while t.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        rss_max = rss_max.max(of(pid).rss_bytes);
    }
    let end = of(pid);
    let cpu = (end.cpu_seconds - start.cpu_seconds) / t.elapsed().as_secs_f64() * 100.0;
    (cpu, end.rss_bytes, rss_max.max(end.rss_bytes))
}

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(data: &Path) -> (Node, String) {
    start_env(data, &[])
}

fn start_env(data: &Path, env: &[(&str, &str)]) -> (Node, String) {
    let _ = std::fs::remove_file(data.join("gateway.addr"));
    let child = Command::new(BIN)
        .envs(env.iter().copied())
        .arg("--data-dir")
        .arg(data)
        .args([
            "up",
            "--gateway",
            "127.0.0.1:0",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--iroh-bind",
            "127.0.0.1:0",
            "--no-mdns",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start vivim up");
    let node = Node(child);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(a) = std::fs::read_to_string(data.join("gateway.addr"))
            && !a.trim().is_empty()
        {
            return (node, a.trim().to_string());
        }
        assert!(Instant::now() < deadline, "vivim up did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn get_json(gw: &str, data: &Path, path: &str) -> serde_json::Value {
    let token = std::fs::read_to_string(data.join("token")).expect("token");
    let out = Command::new("curl")
        .args(["-s", "--noproxy", "*", "-H"])
        .arg(format!("Authorization: Bearer {}", token.trim()))
        .arg(format!("http://{gw}{path}"))
        .output()
        .expect("curl");
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

fn main() {
    let messages: usize = std::env::var("VIVIM_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let idle_s: u64 = std::env::var("VIVIM_BENCH_IDLE_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let convs = messages / PER_CONV;
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("node");
    let export = tmp.path().join("conversations.json");
    {
        let f = std::fs::File::create(&export).expect("export");
        vivim_node::testdata::write_chatgpt_export(
            std::io::BufWriter::new(f),
            convs,
            PER_CONV,
            40,
            7,
        )
        .expect("write export");
    }
    println!(
        "data: {convs} conversations × {PER_CONV} = {messages} messages, export {:.1} MB",
        mb(dir_size(&export))
    );
    run(&data, &["init"], &[]);
    let (_, import) = run(
        &data,
        &["import", export.to_str().expect("utf-8 path"), "--json"],
        &[],
    );
    let data_size = dir_size(&data);
    println!(
        "anchor  import                      {:>8.2} s   data dir {:.1} MB",
        import.as_secs_f64(),
        mb(data_size)
    );
    // Open once so the index and vectors exist as a user's would.
    run(&data, &["conversations", "list", "--limit", "1"], &[]);
    let copy = tmp.path().join("copy");
    let t = Instant::now();
    let ok = Command::new("cp")
        .arg("-a")
        .arg(&data)
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(ok.success());
    let cp = t.elapsed();
    println!(
        "anchor  cp -a of the data dir        {:>8.2} s   {:.1} MB",
        cp.as_secs_f64(),
        mb(dir_size(&copy))
    );
    let _ = std::fs::remove_dir_all(&copy);

    let b1 = tmp.path().join("offline.zip");
    let (_, t_off) = run(
        &data,
        &["backup", b1.to_str().expect("utf-8 path"), "--json"],
        &[],
    );
    let b1_size = dir_size(&b1);
    println!(
        "backup  node stopped                 {:>8.2} s   archive {:.1} MB ({:.0}% of the data dir), {:.0} messages/s",
        t_off.as_secs_f64(),
        mb(b1_size),
        100.0 * b1_size as f64 / data_size as f64,
        messages as f64 / t_off.as_secs_f64()
    );
    let pass = [("BENCH_PASS", "a long bench passphrase")];
    let b2 = tmp.path().join("keys.zip");
    let (_, t_keys) = run(
        &data,
        &[
            "backup",
            b2.to_str().expect("utf-8 path"),
            "--keys",
            "--passphrase-env",
            "BENCH_PASS",
        ],
        &pass,
    );
    println!(
        "backup  node stopped, --keys         {:>8.2} s   (the Argon2id seal is the difference)",
        t_keys.as_secs_f64()
    );
    let (_, t_check_off) = run(&data, &["check", "--json"], &[]);
    println!(
        "check   node stopped                 {:>8.2} s   {:.0} records/s (BLAKE3 + signature each)",
        t_check_off.as_secs_f64(),
        messages as f64 / t_check_off.as_secs_f64()
    );

    let restored = tmp.path().join("restored");
    let (_, t_restore) = run(
        &restored,
        &[
            "restore",
            b2.to_str().expect("utf-8 path"),
            "--passphrase-env",
            "BENCH_PASS",
            "--json",
        ],
        &pass,
    );
    let (_, t_open) = run(&restored, &["conversations", "list", "--limit", "1"], &[]);
    let (list_a, _) = run(
        &data,
        &["conversations", "list", "--limit", "5", "--json"],
        &[],
    );
    let (list_b, _) = run(
        &restored,
        &["conversations", "list", "--limit", "5", "--json"],
        &[],
    );
    assert_eq!(
        list_a, list_b,
        "the restored node lists the same conversations"
    );
    println!(
        "restore into a new dir               {:>8.2} s   + first open (index rebuild) {:.2} s",
        t_restore.as_secs_f64(),
        t_open.as_secs_f64()
    );

    // A running node: backup and check through its gateway, then idle.
    let (node, gw) = start(&data);
    let b3 = tmp.path().join("running.zip");
    let (_, t_run) = run(&data, &["backup", b3.to_str().expect("utf-8 path")], &[]);
    println!(
        "backup  through the running node     {:>8.2} s   archive {:.1} MB",
        t_run.as_secs_f64(),
        mb(dir_size(&b3))
    );
    let (_, t_check) = run(&data, &["check", "--json"], &[]);
    println!(
        "check   through the running node     {:>8.2} s",
        t_check.as_secs_f64()
    );
    // Let start-up work (the embedding pass over every message) finish, then measure a quiet
    // minute.
    let t = Instant::now();
    loop {
        let st = get_json(&gw, &data, "/api/admin/status");
        let busy = st["background"].as_array().is_none_or(|b| !b.is_empty())
            || st["semantic"]["running"] == serde_json::Value::Bool(true);
        if !busy || t.elapsed() > Duration::from_secs(1200) {
            println!(
                "        embedding pass after start       {:>8.1} s ({} vectors)",
                t.elapsed().as_secs_f64(),
                st["semantic"]["vectors"]
            );
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    std::thread::sleep(Duration::from_secs(5));
    let (idle_cpu, rss, rss_max) = idle(node.0.id(), idle_s);
    let series = get_json(&gw, &data, "/api/admin/metrics/series");
    let us: Vec<u64> = series["samples"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["sample_us"].as_u64()).collect())
        .unwrap_or_default();
    let mean_us = us.iter().sum::<u64>() as f64 / us.len().max(1) as f64;
    let max_us = us.iter().copied().max().unwrap_or(0);
    let series_bytes = series.to_string().len();
    let logs = get_json(&gw, &data, "/api/admin/logs?level=trace&limit=5000");
    let log_lines = logs["lines"].as_array().map_or(0, Vec::len);
    let log_bytes = logs["lines"].to_string().len();
    println!(
        "idle    {idle_s} s of a running node     CPU {idle_cpu:.2}% of one core, RSS {:.1} MB (max {:.1} MB)",
        mb(rss),
        mb(rss_max)
    );
    println!(
        "sampler {} samples, each {mean_us:.0} µs mean / {max_us} µs max = {:.4}% of one core; series JSON {:.1} KB (720 samples ≈ {:.0} KB)",
        us.len(),
        mean_us / 5e6 * 100.0,
        series_bytes as f64 / 1e3,
        series_bytes as f64 / us.len().max(1) as f64 * 720.0 / 1e3
    );
    println!(
        "logs    {log_lines} lines held, {:.1} KB as JSON (ring: at most 5,000 lines of ≤ 4 KiB)",
        log_bytes as f64 / 1e3
    );
    drop(node);
    // The anchor: the same node, idle, without the sampler (VIVIM_METRICS_SAMPLER=off).
    let (node, _) = start_env(&data, &[("VIVIM_METRICS_SAMPLER", "off")]);
    std::thread::sleep(Duration::from_secs(15));
    let (cpu, rss, rss_max) = idle(node.0.id(), idle_s);
    println!(
        "anchor  idle, sampler off            CPU {cpu:.2}% of one core, RSS {:.1} MB (max {:.1} MB)",
        mb(rss),
        mb(rss_max)
    );
    drop(node);
}
