//! Running `vivim` as separate processes on 127.0.0.1, for the tests that do what a newcomer
//! does.
#![allow(clippy::unwrap_used, dead_code)]

use std::{
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

/// A running `vivim up|relay`, killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs one `vivim` command on the data dir `dir`.
pub fn vivim(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vivim"))
        .args(args)
        .env("VIVIM_DATA_DIR", dir)
        .output()
        .unwrap()
}

/// Its standard output, after asserting that it succeeded.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "vivim failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Its standard output as JSON, after asserting that it succeeded.
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(o)).unwrap()
}

/// Starts `vivim up|relay` on loopback only and waits for its gateway; returns the process
/// and the gateway's `host:port`.
pub fn start(dir: &Path, cmd: &str, bootstrap: Option<&str>) -> (Proc, String) {
    start_with_env(dir, cmd, bootstrap, &[])
}

/// [`start`] with these environment variables set for the node.
pub fn start_with_env(
    dir: &Path,
    cmd: &str,
    bootstrap: Option<&str>,
    env: &[(&str, &str)],
) -> (Proc, String) {
    let _ = std::fs::remove_file(dir.join("gateway.addr"));
    let mut args = vec![
        cmd,
        "--gateway",
        "127.0.0.1:0",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--iroh-bind",
        "127.0.0.1:0",
        "--no-mdns",
    ];
    if let Some(b) = bootstrap {
        args.extend(["--bootstrap", b]);
    }
    if cmd == "relay" {
        args.extend(["--iroh-relay-bind", "127.0.0.1:0"]);
    }
    let child = Command::new(env!("CARGO_BIN_EXE_vivim"))
        .args(&args)
        .env("VIVIM_DATA_DIR", dir)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let p = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(a) = std::fs::read_to_string(dir.join("gateway.addr"))
            && !a.trim().is_empty()
        {
            return (p, a.trim().to_string());
        }
        assert!(Instant::now() < deadline, "{cmd} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// GETs a gateway path with the data dir's token (`Null` on any failure).
pub fn get(gateway: &str, dir: &Path, path: &str) -> serde_json::Value {
    let token = std::fs::read_to_string(dir.join("token")).unwrap();
    let out = Command::new("curl")
        .args(["-s", "--noproxy", "*", "-H"])
        .arg(format!("Authorization: Bearer {}", token.trim()))
        .arg(format!("http://{gateway}{path}"))
        .output();
    match out {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout).unwrap_or_default(),
        _ => serde_json::Value::Null,
    }
}

/// Polls `f` every 200 ms until it gives a value (30 s at most).
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The bootstrap address of a running relay.
pub fn bootstrap_of(gateway: &str, dir: &Path) -> String {
    let net = get(gateway, dir, "/api/admin/network");
    net["bootstrap_addrs"][0].as_str().unwrap().to_string()
}

/// A data dir's DID.
pub fn did_of(dir: &Path) -> String {
    json(&vivim(dir, &["id", "--json"]))["did"]
        .as_str()
        .unwrap()
        .to_string()
}
