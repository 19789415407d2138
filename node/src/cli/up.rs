//! `vivim up` and `vivim relay`: run the node — the local gateway and, unless turned off, the
//! peer-to-peer network — until Ctrl-C or SIGTERM.

use anyhow::{Context, Result};
use clap::Args;
use vivim_node::{
    gateway,
    net::p2p::{P2p, P2pConfig},
    node::Node,
};

use super::connect::Global;

/// `vivim up …` and `vivim relay …`
#[derive(Args, Debug, Clone)]
pub struct UpArgs {
    /// Gateway address (default from vivim.toml: 127.0.0.1:7777). Port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    gateway: Option<std::net::SocketAddr>,
    /// libp2p listen multiaddr (repeatable; default /ip4/0.0.0.0/tcp/0 and …/udp/0/quic-v1).
    #[arg(long, value_name = "MULTIADDR")]
    listen: Vec<String>,
    /// Bootstrap peer, e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW… (repeatable).
    #[arg(long, value_name = "MULTIADDR")]
    bootstrap: Vec<String>,
    /// Where the iroh endpoint binds (default 0.0.0.0:0).
    #[arg(long, value_name = "ADDR")]
    iroh_bind: Option<String>,
    /// iroh relay URL (repeatable; default none: direct connections only).
    #[arg(long, value_name = "URL")]
    relay_url: Vec<String>,
    /// Do not look for peers on the local network.
    #[arg(long)]
    no_mdns: bool,
    /// Run the gateway only, without libp2p and iroh.
    #[arg(long)]
    no_network: bool,
    /// Serve the web app from this folder (a build of node/web, e.g. from `vite build --watch`)
    /// instead of the copy built into the binary.
    #[arg(long, value_name = "DIR")]
    web_dir: Option<std::path::PathBuf>,
    /// `vivim relay` only: where its iroh relay listens (plain HTTP; default 0.0.0.0:3340).
    #[arg(long, value_name = "ADDR")]
    iroh_relay_bind: Option<std::net::SocketAddr>,
}

/// Resolves when the process is asked to stop: Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Runs the node (`relay`: as a community relay/bootstrap node) until it is asked to stop,
/// then flushes everything.
pub async fn up(global: &Global, args: UpArgs, relay: bool) -> Result<()> {
    let dir = global.dir()?;
    let pass = global.passphrase()?;
    let node = Node::open(dir.clone(), pass.as_deref(), true).await?;
    let web = match args.web_dir.clone().or(node.config.gateway.web_dir.clone()) {
        Some(d) if !d.join("index.html").is_file() => {
            anyhow::bail!(
                "--web-dir {}: no index.html there (build the app first)",
                d.display()
            )
        }
        Some(d) => gateway::WebSource::Dir(d),
        None => gateway::WebSource::Embedded,
    };
    let addr = args.gateway.unwrap_or(node.config.gateway.listen);
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (is another node running? use --gateway 127.0.0.1:0)")
    })?;
    let bound = listener.local_addr()?;
    let mut p2p = None;
    if !args.no_network && (node.config.network.enabled || relay) {
        let mut net = node.config.network.clone();
        if !args.listen.is_empty() {
            net.listen = args.listen.clone();
        }
        net.bootstrap.extend(args.bootstrap.iter().cloned());
        if let Some(b) = &args.iroh_bind {
            net.iroh_bind = b.clone();
        }
        if !args.relay_url.is_empty() {
            net.relay_urls = args.relay_url.clone();
        }
        if args.no_mdns {
            net.mdns = false;
        }
        let mut cfg = P2pConfig::from_config(&net)?;
        cfg.net.relay_server = relay;
        cfg.pin_announced = relay;
        if relay {
            cfg.iroh_relay_bind = Some(
                args.iroh_relay_bind
                    .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 3340))),
            );
        }
        p2p = Some(P2p::start(node.clone(), cfg).await?);
    }
    vivim_node::datadir::write_atomic(
        &dir.gateway_addr_path(),
        bound.to_string().as_bytes(),
        0o600,
    )?;
    println!("VIVIM {} up", if relay { "relay node" } else { "node" });
    println!("  did:      {}", node.key.did());
    println!("  gateway:  http://{bound}  (token: `vivim token`)");
    println!(
        "  web app:  {}  (or run `vivim ui --open`)",
        super::ui::link(bound, &dir.token()?)
    );
    if let Some(p) = &p2p {
        println!("  peer id:  {}", p.peer_id());
        for a in p.bootstrap_addrs().await {
            println!("  libp2p:   {a}");
        }
        for a in p.iroh_addrs() {
            println!("  iroh:     {a}");
        }
        if let Some(u) = p.relay_url() {
            println!("  iroh relay: {u}  (others: --relay-url {u})");
        }
    }
    println!("  data dir: {}", dir.root().display());
    tracing::info!(%bound, "gateway listening");
    // Embeddings and memories for new conversations, in the background.
    vivim_node::organize::spawn_worker(&node);
    let served =
        gateway::serve_app(node.clone(), p2p.clone(), web, listener, shutdown_signal()).await;
    let _ = std::fs::remove_file(dir.gateway_addr_path());
    node.shutdown().await?;
    println!("VIVIM node stopped; everything flushed");
    served.context("gateway failed")?;
    Ok(())
}
