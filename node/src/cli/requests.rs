//! `vivim requests`: what people this user does not know sent (shares, documents), held as
//! message requests until accepted, ignored or blocked.

use anyhow::Result;
use clap::Subcommand;
use serde_json::Value;
use vivim_node::client::Client;

use super::output::{enc, out};

/// `vivim requests …`.
#[derive(Debug, Subcommand)]
pub enum RequestsCommand {
    /// Pending requests, most recent first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make the sender a contact: what they sent is fetched and opened.
    Accept {
        /// The sender's DID.
        did: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Drop the request (they may send again).
    Ignore {
        /// The sender's DID.
        did: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Drop the request and block the sender.
    Block {
        /// The sender's DID.
        did: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn print_request(r: &Value) {
    let items = r["items"].as_array().cloned().unwrap_or_default();
    let what: Vec<String> = items
        .iter()
        .map(|i| {
            let kind = i["kind"].as_str().unwrap_or_default();
            match i["size"].as_u64() {
                Some(n) => format!("{kind} ({n} bytes)"),
                None => kind.to_string(),
            }
        })
        .collect();
    println!(
        "{}  {}",
        r["did"].as_str().unwrap_or_default(),
        what.join(", ")
    );
}

/// Runs `vivim requests …`.
pub async fn requests(client: &Client, cmd: Option<RequestsCommand>) -> Result<()> {
    let (action, did, json) = match cmd.unwrap_or(RequestsCommand::List { json: false }) {
        RequestsCommand::List { json } => {
            let v = client.route("GET", "/api/v3/requests", None).await?;
            return out(&v, json, |v| {
                let list = v.as_array().cloned().unwrap_or_default();
                if list.is_empty() {
                    println!("no requests");
                }
                list.iter().for_each(print_request);
            });
        }
        RequestsCommand::Accept { did, json } => ("accept", did, json),
        RequestsCommand::Ignore { did, json } => ("ignore", did, json),
        RequestsCommand::Block { did, json } => ("block", did, json),
    };
    let v = client
        .route(
            "POST",
            &format!("/api/v3/requests/{}/{action}", enc(&did)),
            None,
        )
        .await?;
    out(&v, json, |v| {
        println!(
            "{} {}: {} document(s) followed, {} share(s) opening",
            v["decision"].as_str().unwrap_or_default(),
            v["did"].as_str().unwrap_or_default(),
            v["documents"].as_u64().unwrap_or(0),
            v["shares"].as_u64().unwrap_or(0)
        )
    })
}
