//! `vivim mcp`: the MCP server over stdio, for an assistant to launch. Through the running
//! node's gateway when one is up (the data dir is its), else on the data dir in this process.

use anyhow::Result;
use vivim_node::{Client, mcp};

use crate::cli::connect::Global;

/// Serves MCP on stdin/stdout until the assistant closes them; with `print_config`, prints
/// the entry to add to an assistant's MCP configuration instead.
pub async fn mcp(g: &Global, print_config: bool) -> Result<()> {
    if print_config {
        let exe = std::env::current_exe()?;
        let mut args = vec!["mcp".to_string()];
        if let Some(d) = &g.data_dir {
            args.push("--data-dir".into());
            args.push(d.display().to_string());
        }
        let entry = serde_json::json!({
            "mcpServers": { "vivim": { "command": exe.display().to_string(), "args": args } }
        });
        println!("{}", serde_json::to_string_pretty(&entry)?);
        return Ok(());
    }
    let client = Client::connect(g.dir()?, g.passphrase()?.as_deref()).await?;
    let result = match &client {
        Client::Remote { base, token, .. } => mcp::bridge::run(base, token).await,
        Client::Local(node) => mcp::serve_stdio(node.clone()).await,
    };
    client.close().await?;
    Ok(result?)
}
