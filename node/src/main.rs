//! `vivim`: the command-line face of a VIVIM node.
//!
//! This file parses the command line and hands each command to its area in `cli/`.

mod cli;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use cli::{
    admin,
    args::{Cli, Command},
    connect::with_client,
    conversations, identity, network, organize, requests, share, social, up,
};

/// mimalloc: the import pipeline allocates heavily across threads; glibc's malloc spent a fifth
/// of the import's CPU and kept freed memory in per-thread arenas.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs one command. Commands whose whole work happens on an open node go through
/// [`with_client`] here; the others open what they need themselves.
async fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    match cli.command {
        Command::Init(a) => identity::init(g, a),
        Command::Up(a) => up::up(g, a, false).await,
        Command::Relay(a) => up::up(g, a, true).await,
        Command::Publish { id, json } => network::publish(g, &id, json).await,
        Command::Fetch { id, from, json } => network::fetch(g, id, from, json).await,
        Command::Share(a) => with_client(g, async |c| share::share(c, a).await).await,
        Command::Shares { command } => {
            with_client(g, async |c| share::shares(c, command).await).await
        }
        Command::Open { link, json } => {
            with_client(g, async |c| share::open(c, &link, json).await).await
        }
        Command::Fork(a) => with_client(g, async |c| share::fork(c, a).await).await,
        Command::Provenance { id, json } => {
            with_client(g, async |c| share::provenance(c, &id, json).await).await
        }
        Command::Feed(a) => with_client(g, async |c| share::feed(c, a).await).await,
        Command::Circle { command } => {
            with_client(g, async |c| social::circle(c, command).await).await
        }
        Command::Friend { command } => {
            with_client(g, async |c| social::friend(c, command).await).await
        }
        Command::Follow { did, json } => {
            with_client(g, async |c| social::follow(c, &did, json).await).await
        }
        Command::Unfollow { did } => {
            with_client(g, async |c| social::unfollow(c, &did).await).await
        }
        Command::Requests { command } => {
            with_client(g, async |c| requests::requests(c, command).await).await
        }
        Command::Follows { json } => with_client(g, async |c| social::follows(c, json).await).await,
        Command::Group { command } => {
            with_client(g, async |c| {
                social::group(c, "/api/v3/groups", command).await
            })
            .await
        }
        Command::Team { command } => {
            with_client(g, async |c| {
                social::group(c, "/api/v3/teams", command).await
            })
            .await
        }
        Command::Profile(a) => with_client(g, async |c| social::profile(c, a).await).await,
        Command::Peers { json } => network::peers(g, json).await,
        Command::Token => identity::token(g),
        Command::Ui { open } => cli::ui::ui(g, open).await,
        Command::Mcp { print_config } => cli::mcp::mcp(g, print_config).await,
        Command::Id { json } => identity::id(g, json),
        Command::Did { command } => identity::did(g, command).await,
        Command::Import(a) => conversations::import(g, a).await,
        Command::Conversations { command } => {
            with_client(g, async |c| conversations::conversations(c, command).await).await
        }
        Command::Search(a) => conversations::search(g, a).await,
        Command::Related { id, limit, json } => {
            with_client(g, async |c| organize::related(c, &id, limit, json).await).await
        }
        Command::Memory { command } => {
            with_client(g, async |c| organize::memory(c, command).await).await
        }
        Command::Context(a) => with_client(g, async |c| organize::context(c, a).await).await,
        Command::Backup { file, keys, json } => admin::backup(g, file, keys, json).await,
        Command::Restore { file, merge, json } => admin::restore(g, file, merge, json).await,
        Command::Check { json } => admin::check(g, json).await,
        Command::Rebuild { what, json } => admin::rebuild(g, what, json).await,
        Command::Compact { json } => admin::compact_cmd(g, json),
    }
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
    {
        use tracing_subscriber::{Layer, layer::SubscriberExt, util::SubscriberInitExt};
        // stderr at VIVIM_LOG (warn); the admin panel's ring at its own level (info).
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr)
                    .with_filter(log_filter()),
            )
            .with(
                vivim_node::admin::logs::RingLayer
                    .with_filter(vivim_node::admin::logs::capture_filter()),
            )
            .init();
    }
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

/// `VIVIM_LOG` (default `warn`). The MCP SDK logs whole requests (an assistant's arguments) at
/// debug: it stays at warn unless `VIVIM_LOG` names `rmcp` itself.
fn log_filter() -> tracing_subscriber::EnvFilter {
    let spec = std::env::var("VIVIM_LOG").unwrap_or_else(|_| "warn".into());
    let spec = if spec.contains("rmcp") {
        spec
    } else {
        format!("{spec},rmcp=warn")
    };
    tracing_subscriber::EnvFilter::try_new(&spec)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rmcp=warn"))
}
