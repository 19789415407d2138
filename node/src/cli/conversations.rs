//! `vivim conversations|import|search`: bringing conversations in, browsing and searching them.

use std::{io::IsTerminal, path::PathBuf, sync::Arc, time::Duration};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use vivim_node::{
    client::Client,
    import::Format,
    node::ImportProgress,
    views::{SearchParams, export},
};

use super::{
    connect::{Global, with_client},
    output::print_list,
};

/// `vivim conversations …`
#[derive(Subcommand, Debug)]
pub enum ConvCommand {
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

/// `vivim import …`
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A path (json, zip, html, md, directory) or a ChatGPT share URL.
    source: String,
    /// auto, chatgpt, claude, gemini, chatgpt-share, sharegpt, markdown.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// `vivim search …`
#[derive(Args, Debug)]
pub struct SearchArgs {
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
}

/// Runs `vivim conversations …`.
pub async fn conversations(client: &Client, command: ConvCommand) -> Result<()> {
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

/// Runs `vivim import <source>`: checks the source, imports it (with a spinner on a terminal),
/// closes the node, then prints the summary.
pub async fn import(global: &Global, a: ImportArgs) -> Result<()> {
    let ImportArgs {
        source,
        format,
        json,
    } = a;
    let format: Format = format.parse().map_err(anyhow::Error::msg)?;
    let is_url = source.starts_with("http://") || source.starts_with("https://");
    if !is_url && !std::path::Path::new(&source).exists() {
        bail!("{source}: no such file or directory");
    }
    let summary = with_client(global, async |client| {
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
        result
    })
    .await?;
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
    Ok(())
}

/// Runs `vivim search <query>`: closes the node, then prints the hits.
pub async fn search(global: &Global, a: SearchArgs) -> Result<()> {
    let SearchArgs {
        query,
        limit,
        provider,
        role,
        mode,
        json,
    } = a;
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
    let r = with_client(global, async |c| c.search(&params).await).await?;
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
    Ok(())
}
