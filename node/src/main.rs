//! `vivim`: the command-line face of a VIVIM node.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use vivim_identity::{Did, KdfParams};
use vivim_node::{
    datadir::{DATA_DIR_ENV, DataDir},
    ids,
};

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
}

#[derive(Subcommand, Debug)]
enum DidCommand {
    /// Print the DID document of any did:key (Ed25519).
    Resolve {
        /// The DID, e.g. did:key:z6Mk…
        did: String,
        /// Print JSON (the DID document itself).
        #[arg(long)]
        json: bool,
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
                anyhow::bail!("environment variable {var} (--passphrase-env) is empty");
            }
            Ok(Some(v.into_bytes()))
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    match cli.command {
        Command::Init {
            mnemonic_env,
            show_mnemonic,
            json,
        } => {
            let dir = DataDir::resolve(g.data_dir.clone())?;
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
        Command::Id { json } => {
            let dir = DataDir::resolve(g.data_dir.clone())?;
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
            command: DidCommand::Resolve { did, json },
        } => {
            let did: Did = did
                .trim()
                .parse()
                .with_context(|| format!("cannot resolve {:?}", did.trim()))?;
            let doc = did.document();
            if json {
                println!("{}", serde_json::to_string_pretty(&doc)?);
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
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
