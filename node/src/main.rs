//! `vivim`: the command-line face of a VIVIM node.

mod cli_share;
mod cli_social;

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use vivim_identity::{Did, KdfParams};
use vivim_node::{
    client::Client,
    datadir::{DATA_DIR_ENV, DataDir},
    export,
    gateway::{self, ConversationView, SearchParams},
    ids,
    import::Format,
    node::{ImportProgress, Node},
    p2p::{P2p, P2pConfig},
};

/// mimalloc: the import pipeline allocates heavily across threads; glibc's malloc spent a fifth
/// of the import's CPU and kept freed memory in per-thread arenas.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// VIVIM: keep, organize and share your AI conversations, peer to peer.
#[derive(Parser, Debug)]
#[command(name = "vivim", version, about, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct Global {
    /// Data directory (default: the platform data dir, e.g. ~/.local/share/vivim).
    #[arg(long, global = true, env = DATA_DIR_ENV)]
    data_dir: Option<PathBuf>,
    /// Read the key's passphrase from this environment variable.
    #[arg(long, global = true, value_name = "VAR")]
    passphrase_env: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create the data directory and a new identity; prints the DID.
    Init {
        /// Restore the identity from a 24-word recovery phrase read from this environment
        /// variable instead of generating a new one.
        #[arg(long, value_name = "VAR")]
        mnemonic_env: Option<String>,
        /// Print the recovery phrase after creating the key.
        #[arg(long)]
        show_mnemonic: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the node: the local gateway and the peer-to-peer network.
    Up(UpArgs),
    /// Run a community relay/bootstrap node: DHT server, libp2p relay, and pinning of the
    /// public content announced by the nodes that use it. Same flags as `up`.
    Relay(UpArgs),
    /// Make a conversation public: announce it in the DHT and serve it to peers.
    Publish {
        /// Conversation id or prefix.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fetch a public conversation from the network, verified, into this node.
    Fetch {
        /// Conversation id (64 hex characters).
        id: String,
        /// Fetch from this DID (default: the owner, then any node that pinned it).
        #[arg(long, value_name = "DID")]
        from: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Share a conversation (or one message) with a circle, people, a link, or everyone —
    /// sealed end to end for anything but public.
    Share(cli_share::ShareArgs),
    /// Shares you made and received: list, show, revoke.
    Shares {
        #[command(subcommand)]
        command: cli_share::SharesCommand,
    },
    /// Open a share link (vivim://share/…): fetch, decrypt, verify, store.
    Open {
        /// The link.
        link: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fork a conversation (or a prefix of it) into your space, keeping provenance.
    Fork {
        /// Conversation id or prefix.
        id: String,
        /// Copy up to this message (ACU id or prefix; default: the head).
        #[arg(long, value_name = "ACU")]
        upto: Option<String>,
        /// Title of the fork.
        #[arg(long)]
        title: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Where a conversation came from: checks a fork against its signed originals.
    Provenance {
        /// Conversation id or prefix.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// What was shared with you and what the people you follow published, newest first.
    Feed {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Continue after this cursor.
        #[arg(long)]
        cursor: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Circles: the people you share with.
    Circle {
        #[command(subcommand)]
        command: cli_social::CircleCommand,
    },
    /// Friends: requests, accepts, blocks.
    Friend {
        #[command(subcommand)]
        command: cli_social::FriendCommand,
    },
    /// Follow someone (see their public activity).
    Follow {
        /// Their DID.
        did: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop following someone.
    Unfollow {
        /// Their DID.
        did: String,
    },
    /// Who you follow and who follows you.
    Follows {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Groups (GENERAL, STUDY, PROJECT, COMMUNITY; PUBLIC, APPROVAL, PRIVATE).
    Group {
        #[command(subcommand)]
        command: cli_social::GroupCommand,
    },
    /// Teams (WORK, PROJECT, PERSONAL; OPEN, INVITE).
    Team {
        #[command(subcommand)]
        command: cli_social::GroupCommand,
    },
    /// Set your profile (name, bio, whether followers need approval).
    Profile {
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// About you.
        #[arg(long)]
        bio: Option<String>,
        /// New followers wait for your approval.
        #[arg(long)]
        follow_approval: Option<bool>,
    },
    /// Connected peers: DID, addresses, latency.
    Peers {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the gateway's bearer token.
    Token,
    /// Show this node's identities: DID, libp2p PeerId, iroh EndpointId.
    Id {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// DID tools.
    Did {
        #[command(subcommand)]
        command: DidCommand,
    },
    /// Import conversations from an export file, zip, directory or share URL.
    Import {
        /// A path (json, zip, html, md, directory) or a ChatGPT share URL.
        source: String,
        /// auto, chatgpt, claude, gemini, chatgpt-share, sharegpt, markdown.
        #[arg(long, default_value = "auto")]
        format: String,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Browse stored conversations.
    #[command(alias = "conv")]
    Conversations {
        #[command(subcommand)]
        command: ConvCommand,
    },
    /// Full-text search over every message.
    Search {
        /// Words, "phrases", -exclusions.
        query: String,
        /// Hits to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Only this provider (chatgpt, claude, …).
        #[arg(long)]
        provider: Option<String>,
        /// Only this role (user, assistant, …).
        #[arg(long)]
        role: Option<String>,
        /// text (BM25 full text), vector (embeddings) or hybrid (both, fused by rank).
        #[arg(long, default_value = "text")]
        mode: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Conversations related to one (by meaning).
    Related {
        /// Conversation id or prefix.
        id: String,
        /// How many.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Memories: what you learned, decided and prefer, drawn from your conversations.
    Memory {
        #[command(subcommand)]
        command: vivim_node::client::organize::MemoryCommand,
    },
    /// Assemble the context for a question under a token budget (memories, retrieved
    /// messages, recent turns); --send asks the configured provider and stores the exchange.
    Context {
        /// The question.
        query: String,
        /// Token budget for the whole prompt.
        #[arg(long, default_value_t = 2000)]
        budget: usize,
        /// Model whose tokenizer counts (default: the provider's, else gpt-4o).
        #[arg(long)]
        model: Option<String>,
        /// Conversation for the recent turns (default: the latest).
        #[arg(long)]
        conversation: Option<String>,
        /// Send it to the provider and stream the answer.
        #[arg(long)]
        send: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum DidCommand {
    /// Print the DID document of any did:key (Ed25519); with --network, also where its node
    /// is, from the DHT (needs a running node).
    Resolve {
        /// The DID, e.g. did:key:z6Mk…
        did: String,
        /// Look the DID's node up in the DHT.
        #[arg(long)]
        network: bool,
        /// Print JSON (the DID document itself).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug, Clone)]
struct UpArgs {
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
    /// `vivim relay` only: where its iroh relay listens (plain HTTP; default 0.0.0.0:3340).
    #[arg(long, value_name = "ADDR")]
    iroh_relay_bind: Option<std::net::SocketAddr>,
}

#[derive(Subcommand, Debug)]
enum ConvCommand {
    /// List conversations, most recently updated first.
    List {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON (an array of conversation objects).
        #[arg(long)]
        json: bool,
    },
    /// Show one conversation (id or a unique prefix of it).
    Show {
        /// Conversation id or prefix.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export one conversation.
    Export {
        /// Conversation id or prefix.
        id: String,
        /// md or json.
        #[arg(long, default_value = "md")]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Delete one conversation.
    Delete {
        /// Conversation id or prefix.
        id: String,
    },
}

fn passphrase(global: &Global) -> Result<Option<Vec<u8>>> {
    match &global.passphrase_env {
        None => Ok(None),
        Some(var) => {
            let v = std::env::var(var).with_context(|| {
                format!("environment variable {var} (--passphrase-env) is not set")
            })?;
            if v.is_empty() {
                bail!("environment variable {var} (--passphrase-env) is empty");
            }
            Ok(Some(v.into_bytes()))
        }
    }
}

fn short_date(ms: u64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms as i64)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn print_list(items: &[ConversationView]) {
    if items.is_empty() {
        println!("no conversations yet: `vivim import <export>` brings them in");
        return;
    }
    println!(
        "{:<12}  {:<10}  {:>5}  {:<9}  TITLE",
        "ID", "UPDATED", "MSGS", "PROVIDER"
    );
    for c in items {
        let title: String = c.title.chars().take(70).collect();
        println!(
            "{:<12}  {:<10}  {:>5}  {:<9}  {}",
            &c.id[..12],
            short_date(c.updated_at_ms),
            c.message_count,
            c.provider,
            title
        );
    }
}

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

async fn up(dir: DataDir, pass: Option<Vec<u8>>, args: UpArgs, relay: bool) -> Result<()> {
    let node = Node::open(dir.clone(), pass.as_deref(), true).await?;
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
    vivim_node::semantic::spawn_worker(&node);
    let served = gateway::serve(node.clone(), listener, shutdown_signal()).await;
    let _ = std::fs::remove_file(dir.gateway_addr_path());
    node.shutdown().await?;
    println!("VIVIM node stopped; everything flushed");
    served.context("gateway failed")?;
    Ok(())
}

async fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    let dir = || DataDir::resolve(g.data_dir.clone());
    match cli.command {
        Command::Init {
            mnemonic_env,
            show_mnemonic,
            json,
        } => {
            let dir = dir()?;
            let pass = passphrase(g)?;
            let key = match mnemonic_env {
                Some(var) => {
                    let words = std::env::var(&var)
                        .with_context(|| format!("environment variable {var} is not set"))?;
                    let key = vivim_identity::Keypair::from_mnemonic(&words)?;
                    dir.init_with(key, pass.as_deref(), KdfParams::default())?
                }
                None => dir.init(pass.as_deref(), KdfParams::default())?,
            };
            if json {
                let mut v = serde_json::json!({
                    "did": key.did().to_string(),
                    "data_dir": dir.root(),
                    "encrypted": pass.is_some(),
                });
                if show_mnemonic {
                    v["mnemonic"] = serde_json::Value::String(key.to_mnemonic().to_string());
                }
                println!("{v}");
            } else {
                println!("{}", key.did());
                eprintln!("created identity in {}", dir.root().display());
                if show_mnemonic {
                    eprintln!("recovery phrase (write it down, keep it secret):");
                    println!("{}", key.to_mnemonic().as_str());
                }
            }
        }
        Command::Up(args) => up(dir()?, passphrase(g)?, args, false).await?,
        Command::Relay(args) => up(dir()?, passphrase(g)?, args, true).await?,
        Command::Publish { id, json } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let v = client
                .api_post(
                    &format!("/api/v1/conversations/{id}/publish"),
                    &serde_json::json!({}),
                )
                .await;
            client.close().await?;
            let v = v?;
            if json {
                println!("{v}");
            } else {
                println!(
                    "published {} (version {})",
                    v["conversation"].as_str().unwrap_or_default(),
                    v["seq"].as_str().unwrap_or_default()
                );
            }
        }
        Command::Fetch { id, from, json } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let mut body = serde_json::json!({ "conversation": id });
            if let Some(f) = from {
                body["from"] = f.into();
            }
            let v = client.api_post("/api/v1/fetch", &body).await;
            client.close().await?;
            let v = v?;
            if json {
                println!("{v}");
            } else {
                println!(
                    "fetched {} by {}: {} messages from {} in {:.2}s{}",
                    v["conversation"].as_str().unwrap_or_default(),
                    v["owner"].as_str().unwrap_or_default(),
                    v["acus"],
                    v["source"].as_str().unwrap_or_default(),
                    v["seconds"].as_f64().unwrap_or_default(),
                    if v["new"].as_bool() == Some(false) {
                        " (already here)"
                    } else {
                        ""
                    }
                );
            }
        }
        Command::Share(args) => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let r = cli_share::share(&client, args).await;
            client.close().await?;
            r?;
        }
        Command::Shares { command } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let r = cli_share::shares(&client, command).await;
            client.close().await?;
            r?;
        }
        Command::Open { link, json } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let r = cli_share::open(&client, &link, json).await;
            client.close().await?;
            r?;
        }
        Command::Fork {
            id,
            upto,
            title,
            json,
        } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let r = cli_share::fork(&client, &id, upto, title, json).await;
            client.close().await?;
            r?;
        }
        Command::Provenance { id, json } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let r = cli_share::provenance(&client, &id, json).await;
            client.close().await?;
            r?;
        }
        Command::Feed {
            limit,
            cursor,
            json,
        } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let r = cli_share::feed(&client, limit, cursor, json).await;
            client.close().await?;
            r?;
        }
        Command::Circle { command } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let r = cli_social::circle(&client, command).await;
            client.close().await?;
            r?;
        }
        Command::Friend { command } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let r = cli_social::friend(&client, command).await;
            client.close().await?;
            r?;
        }
        Command::Follow { did, json } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let r = cli_social::follow(&client, &did, json).await;
            client.close().await?;
            r?;
        }
        Command::Unfollow { did } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let r = cli_social::unfollow(&client, &did).await;
            client.close().await?;
            r?;
        }
        Command::Follows { json } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let r = cli_social::follows(&client, json).await;
            client.close().await?;
            r?;
        }
        Command::Group { command } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let r = cli_social::group(&client, "/api/v3/groups", command).await;
            client.close().await?;
            r?;
        }
        Command::Team { command } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let r = cli_social::group(&client, "/api/v3/teams", command).await;
            client.close().await?;
            r?;
        }
        Command::Profile {
            name,
            bio,
            follow_approval,
        } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let r = cli_social::profile(&client, name, bio, follow_approval).await;
            client.close().await?;
            r?;
        }
        Command::Peers { json } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let v = client.api_get("/api/admin/peers").await;
            client.close().await?;
            let v = v?;
            if json {
                println!("{v}");
            } else {
                let list = v.as_array().cloned().unwrap_or_default();
                if list.is_empty() {
                    println!("no peers connected");
                }
                for p in list {
                    println!(
                        "{}  {}  {}",
                        p["peer_id"].as_str().unwrap_or_default(),
                        p["did"].as_str().unwrap_or("-"),
                        p["rtt_ms"]
                            .as_f64()
                            .map(|r| format!("{r:.2} ms"))
                            .unwrap_or_else(|| "-".into())
                    );
                }
            }
        }
        Command::Token => {
            let dir = dir()?;
            if !dir.is_initialized() {
                bail!(
                    "no VIVIM identity in {}: run `vivim init` first",
                    dir.root().display()
                );
            }
            println!("{}", dir.token()?);
        }
        Command::Id { json } => {
            let dir = dir()?;
            let key = dir.load_key(passphrase(g)?.as_deref())?;
            let did = key.did();
            let peer = ids::peer_id(&key.public());
            let endpoint = ids::endpoint_id(&key.public());
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "did": did.to_string(),
                        "peer_id": peer.to_string(),
                        "endpoint_id": endpoint.to_string(),
                        "x25519": did.key_agreement_id(),
                        "data_dir": dir.root(),
                    })
                );
            } else {
                println!("did:          {did}");
                println!("peer id:      {peer}");
                println!("endpoint id:  {endpoint}");
                println!("data dir:     {}", dir.root().display());
            }
        }
        Command::Did {
            command: DidCommand::Resolve { did, network, json },
        } => {
            let did: Did = did
                .trim()
                .parse()
                .with_context(|| format!("cannot resolve {:?}", did.trim()))?;
            if network {
                let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
                let v = client.api_get(&format!("/api/v1/dids/{did}")).await;
                client.close().await?;
                let v = v?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&v)?);
                } else {
                    println!("did:          {did}");
                    println!(
                        "peer id:      {}",
                        v["peer_id"].as_str().unwrap_or_default()
                    );
                    println!(
                        "endpoint id:  {}",
                        v["endpoint_id"].as_str().unwrap_or_default()
                    );
                    for a in v["libp2p_addrs"].as_array().into_iter().flatten() {
                        println!("libp2p:       {}", a.as_str().unwrap_or_default());
                    }
                    for a in v["iroh_addrs"].as_array().into_iter().flatten() {
                        println!("iroh:         {}", a.as_str().unwrap_or_default());
                    }
                }
            } else if json {
                println!("{}", serde_json::to_string_pretty(&did.document())?);
            } else {
                println!("did:          {did}");
                println!(
                    "ed25519 key:  {}  (authentication, assertion)",
                    did.key_id()
                );
                println!("x25519 key:   {}  (key agreement)", did.key_agreement_id());
                println!("peer id:      {}", ids::peer_id(&did.public_key()));
                println!("endpoint id:  {}", ids::endpoint_id(&did.public_key()));
            }
        }
        Command::Import {
            source,
            format,
            json,
        } => {
            let format: Format = format.parse().map_err(anyhow::Error::msg)?;
            let is_url = source.starts_with("http://") || source.starts_with("https://");
            if !is_url && !std::path::Path::new(&source).exists() {
                bail!("{source}: no such file or directory");
            }
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let bar = if std::io::stderr().is_terminal() && !json {
                let b = indicatif::ProgressBar::new_spinner();
                b.set_style(
                    indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                );
                b.enable_steady_tick(Duration::from_millis(120));
                b.set_message(format!("importing {source}"));
                Some(Arc::new(b))
            } else {
                None
            };
            let b2 = bar.clone();
            let progress = move |p: ImportProgress| {
                if let Some(b) = &b2 {
                    b.set_message(format!(
                        "{} conversations, {} messages stored",
                        p.conversations, p.messages
                    ));
                }
            };
            let result = client.import(&source, format, Some(&progress)).await;
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            client.close().await?;
            let summary = result?;
            if json {
                println!("{summary}");
            } else {
                let s: vivim_node::node::ImportSummary =
                    serde_json::from_value(summary.clone()).unwrap_or_default();
                println!("{}", s.line());
                for sk in s.skipped.iter().take(20) {
                    println!(
                        "  skipped #{} {} {}: {}",
                        sk.index,
                        sk.id.as_deref().unwrap_or("-"),
                        sk.title.as_deref().unwrap_or(""),
                        sk.error
                    );
                }
                if s.skipped.len() > 20 {
                    println!("  … and {} more (use --json for all)", s.skipped.len() - 20);
                }
            }
        }
        Command::Conversations { command } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let result = conversations(&client, command).await;
            client.close().await?;
            result?;
        }
        c @ (Command::Related { .. } | Command::Memory { .. } | Command::Context { .. }) => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let result = organize(&client, c).await;
            client.close().await?;
            result?;
        }
        Command::Search {
            query,
            limit,
            provider,
            role,
            mode,
            json,
        } => {
            let client = Client::connect(dir()?, passphrase(g)?.as_deref()).await?;
            let params = SearchParams {
                q: query,
                limit: Some(limit),
                offset: None,
                provider,
                role,
                from: None,
                to: None,
                conversation: None,
                mode: Some(mode),
            };
            let result = client.search(&params).await;
            client.close().await?;
            let r = result?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else if r.hits.is_empty() {
                println!("no matches");
            } else {
                println!("{} matches", r.total);
                for h in r.hits {
                    let mut snippet = h.snippet.clone();
                    for (s, e) in h.highlights.iter().rev() {
                        if *e <= snippet.len()
                            && snippet.is_char_boundary(*s)
                            && snippet.is_char_boundary(*e)
                        {
                            snippet.insert_str(*e, "**");
                            snippet.insert_str(*s, "**");
                        }
                    }
                    println!(
                        "\n{}  {}  [{}] {}\n  {}",
                        &h.conversation[..12],
                        &h.created_at[..10.min(h.created_at.len())],
                        h.role,
                        h.title,
                        snippet.replace('\n', " ")
                    );
                }
            }
        }
    }
    Ok(())
}

async fn organize(client: &Client, command: Command) -> Result<()> {
    match command {
        Command::Related { id, limit, json } => {
            let v = client.related(&id, limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else if v.is_empty() {
                println!("nothing related yet");
            } else {
                for r in v {
                    println!("{}  {:.3}  {}", &r.conversation[..12], r.score, r.title);
                }
            }
        }
        Command::Memory { command } => client.memory_command(command).await?,
        Command::Context {
            query,
            budget,
            model,
            conversation,
            send,
            json,
        } => {
            let req = vivim_node::semantic::ContextRequest {
                query,
                budget_tokens: budget,
                model,
                conversation,
                system: None,
                send,
                memories: None,
                retrieved: None,
                recent: None,
            };
            if send {
                let (ctx, conv) = client.context_send(&req).await?;
                eprintln!(
                    "context: {} of {} tokens ({}); stored as conversation {conv}",
                    ctx.total_tokens, ctx.budget_tokens, ctx.tokenizer
                );
            } else {
                let ctx = client.context(&req).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&ctx)?);
                } else {
                    println!("{}\n", ctx.prompt);
                    for s in &ctx.sections {
                        eprintln!(
                            "{:<10} {:>6} tokens  {} items, {} left out, {} duplicates",
                            s.name, s.tokens, s.items, s.dropped, s.duplicates
                        );
                    }
                    eprintln!(
                        "total      {:>6} tokens of {} ({})",
                        ctx.total_tokens, ctx.budget_tokens, ctx.tokenizer
                    );
                }
            }
        }
        _ => {}
    }
    Ok(())
}

async fn conversations(client: &Client, command: ConvCommand) -> Result<()> {
    match command {
        ConvCommand::List { limit, json } => {
            let items = client.list(limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&items)?);
            } else {
                print_list(&items);
            }
        }
        ConvCommand::Show { id, json } => {
            let d = client.show(&id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                print!("{}", export::markdown(&d));
            }
        }
        ConvCommand::Export { id, format, output } => {
            let d = client.show(&id).await?;
            let text = match format.as_str() {
                "md" | "markdown" => export::markdown(&d),
                "json" => serde_json::to_string_pretty(&d)? + "\n",
                other => bail!("unknown export format {other:?}: use md or json"),
            };
            match output {
                Some(p) => {
                    std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
                    eprintln!("wrote {}", p.display());
                }
                None => print!("{text}"),
            }
        }
        ConvCommand::Delete { id } => {
            let deleted = client.delete(&id).await?;
            println!("deleted {deleted}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `vivim … | head`: a closed stdout ends the command quietly, as in other Unix tools.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default_hook(info);
    }));
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VIVIM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
