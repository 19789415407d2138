//! Embedding a node in a Rust app through the facade: open a data dir, import an export,
//! list, read, search and assemble a context — no gateway, no network.
//!
//! `cargo run -p vivim-examples --example embed_node -- EXPORT [DATA_DIR]`

use vivim_node::{Client, DataDir, Format, Node, organize::ContextRequest, views::SearchParams};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let export = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: embed_node EXPORT [DATA_DIR]"))?;
    let tmp = tempfile::tempdir()?;
    let dir = DataDir::at(
        args.next()
            .map(Into::into)
            .unwrap_or(tmp.path().join("vivim")),
    );
    // `create`: a new identity when the dir has none (no passphrase here).
    let node = Node::open(dir, None, true).await?;
    println!("node {}", node.key.did());
    let client = Client::Local(node);

    let summary = client.import(&export, Format::Auto, None).await?;
    println!("imported: {summary}");
    for c in client.list(5).await? {
        println!(
            "  {}  {:>4} messages  {}",
            &c.id[..12],
            c.message_count,
            c.title
        );
    }
    let first = client.list(1).await?;
    if let Some(c) = first.first() {
        let d = client.show(&c.id).await?;
        println!(
            "first message of {:?}: {:?}",
            c.title,
            d.messages.first().and_then(|m| m.text.as_deref())
        );
    }
    let hits = client.search(&SearchParams::new("python", 3, None)).await?;
    for h in &hits.hits {
        println!("hit {:.2} {} — {}", h.score, h.title, h.snippet);
    }
    let ctx = client
        .context(&ContextRequest::new("what did I learn about python?", 800))
        .await?;
    println!(
        "context: {} of {} tokens ({})",
        ctx.total_tokens, ctx.budget_tokens, ctx.tokenizer
    );
    client.close().await?;
    Ok(())
}
