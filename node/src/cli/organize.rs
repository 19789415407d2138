//! `vivim related|memory|context`: organizing by meaning — related conversations, memories,
//! and the context assembled for a question.

use anyhow::Result;
use clap::Args;
use vivim_node::{
    client::{Client, organize::MemoryCommand},
    organize::ContextRequest,
};

/// `vivim context …`
#[derive(Args, Debug)]
pub struct ContextArgs {
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
}

/// Runs `vivim related <conversation>`.
pub async fn related(client: &Client, id: &str, limit: usize, json: bool) -> Result<()> {
    let v = client.related(id, limit).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if v.is_empty() {
        println!("nothing related yet");
    } else {
        for r in v {
            println!("{}  {:.3}  {}", &r.conversation[..12], r.score, r.title);
        }
    }
    Ok(())
}

/// Runs `vivim memory …`.
pub async fn memory(client: &Client, command: MemoryCommand) -> Result<()> {
    Ok(client.memory_command(command).await?)
}

/// Runs `vivim context <question>`; with `--send`, asks the provider and stores the exchange.
pub async fn context(client: &Client, a: ContextArgs) -> Result<()> {
    let ContextArgs {
        query,
        budget,
        model,
        conversation,
        send,
        json,
    } = a;
    let req = ContextRequest {
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
    Ok(())
}
