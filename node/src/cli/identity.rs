//! `vivim init|token|id|did`: this node's identity, and DIDs in general.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use vivim_identity::{Did, KdfParams};
use vivim_node::net::ids;

use super::connect::{Global, with_client};

/// `vivim init …`
#[derive(Args, Debug)]
pub struct InitArgs {
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
}

/// `vivim did …`
#[derive(Subcommand, Debug)]
pub enum DidCommand {
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

/// Runs `vivim init`: creates the data directory and the key, prints the DID.
pub fn init(global: &Global, a: InitArgs) -> Result<()> {
    let InitArgs {
        mnemonic_env,
        show_mnemonic,
        json,
    } = a;
    let dir = global.dir()?;
    let pass = global.passphrase()?;
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
    Ok(())
}

/// Runs `vivim token`: prints the gateway's bearer token.
pub fn token(global: &Global) -> Result<()> {
    let dir = global.dir()?;
    if !dir.is_initialized() {
        bail!(
            "no VIVIM identity in {}: run `vivim init` first",
            dir.root().display()
        );
    }
    println!("{}", dir.token()?);
    Ok(())
}

/// Runs `vivim id`: prints this node's DID, PeerId and EndpointId.
pub fn id(global: &Global, json: bool) -> Result<()> {
    let dir = global.dir()?;
    let key = dir.load_key(global.passphrase()?.as_deref())?;
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
    Ok(())
}

/// Runs `vivim did …`; `resolve --network` asks the node, after which it is closed.
pub async fn did(global: &Global, command: DidCommand) -> Result<()> {
    let DidCommand::Resolve { did, network, json } = command;
    let did: Did = did
        .trim()
        .parse()
        .with_context(|| format!("cannot resolve {:?}", did.trim()))?;
    if network {
        let v = with_client(global, async |c| {
            c.api_get(&format!("/api/v1/dids/{did}")).await
        })
        .await?;
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
    Ok(())
}
