//! `vivim publish|fetch|peers`: public conversations on the network, and the peers this node
//! is connected to. Each asks the node, closes it, then prints.

use anyhow::Result;

use super::connect::{Global, with_client};

/// Runs `vivim publish <conversation>`: announces it in the DHT and serves it to peers.
pub async fn publish(global: &Global, id: &str, json: bool) -> Result<()> {
    let path = format!("/api/v1/conversations/{id}/publish");
    let v = with_client(global, async |c| {
        c.api_post(&path, &serde_json::json!({})).await
    })
    .await?;
    if json {
        println!("{v}");
    } else {
        println!(
            "published {} (version {})",
            v["conversation"].as_str().unwrap_or_default(),
            v["seq"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}

/// Runs `vivim fetch <conversation>`: a public conversation from the network, verified.
pub async fn fetch(global: &Global, id: String, from: Option<String>, json: bool) -> Result<()> {
    let mut body = serde_json::json!({ "conversation": id });
    if let Some(f) = from {
        body["from"] = f.into();
    }
    let v = with_client(global, async |c| c.api_post("/api/v1/fetch", &body).await).await?;
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
    Ok(())
}

/// Runs `vivim peers`: connected peers with their DID and latency.
pub async fn peers(global: &Global, json: bool) -> Result<()> {
    let v = with_client(global, async |c| c.api_get("/api/admin/peers").await).await?;
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
    Ok(())
}
