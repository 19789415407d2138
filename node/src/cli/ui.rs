//! `vivim ui`: the link that opens the web app of the running node, logged in.
//!
//! The token travels in the link's fragment (`#token=…`), which browsers never send to a
//! server: it reaches the app's own script only, which keeps it and removes it from the
//! address bar.

use std::{net::SocketAddr, time::Duration};

use anyhow::{Context, Result, bail};
use vivim_node::datadir::DataDir;

use super::connect::Global;

/// The address a browser should use for a gateway bound to `bound` (a wildcard bind is
/// reached on loopback).
fn browser_addr(bound: SocketAddr) -> SocketAddr {
    let mut a = bound;
    if a.ip().is_unspecified() {
        a.set_ip(if a.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    a
}

/// The web app's link for a gateway at `bound`, logged in with `token`.
pub fn link(bound: SocketAddr, token: &str) -> String {
    format!("http://{}/#token={token}", browser_addr(bound))
}

/// Runs `vivim ui`: prints the link (and with `open`, opens it in the default browser).
pub async fn ui(global: &Global, open: bool) -> Result<()> {
    let dir: DataDir = global.dir()?;
    if !dir.is_initialized() {
        bail!(
            "no VIVIM identity in {}: run `vivim init`, then `vivim up`",
            dir.root().display()
        );
    }
    let addr = std::fs::read_to_string(dir.gateway_addr_path())
        .ok()
        .and_then(|s| s.trim().parse::<SocketAddr>().ok());
    let Some(bound) = addr else {
        bail!("the node is not running: start it with `vivim up` (it prints this link too)");
    };
    let reachable = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(browser_addr(bound)),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    if !reachable {
        bail!(
            "the node's gateway at {bound} does not answer: start it with `vivim up` \
             (it prints this link too)"
        );
    }
    let url = link(bound, &dir.token()?);
    println!("{url}");
    if open {
        open_in_browser(&url).context("opening the browser (open the link above by hand)")?;
    }
    Ok(())
}

fn open_in_browser(url: &str) -> Result<()> {
    let mut cmd = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    let status = cmd
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .context("no opener (xdg-open, open or start) could run")?;
    if !status.success() {
        bail!("the opener exited with {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_binds_are_reached_on_loopback() {
        let l = link("0.0.0.0:7777".parse().unwrap(), "t0k");
        assert_eq!(l, "http://127.0.0.1:7777/#token=t0k");
        assert_eq!(
            link("[::]:80".parse().unwrap(), "x"),
            "http://[::1]:80/#token=x"
        );
        assert_eq!(
            link("127.0.0.1:9".parse().unwrap(), "x"),
            "http://127.0.0.1:9/#token=x"
        );
    }
}
