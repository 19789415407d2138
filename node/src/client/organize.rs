//! The CLI's side of organizing: `vivim memory …`, `vivim context …`, `vivim related …`,
//! through the gateway when a node runs, on the data dir when none does.

use serde::de::DeserializeOwned;

use super::{Client, ClientError, decode};
use crate::{
    organize::context::Context,
    organize::memory::{Added, MemoryPatch, MemoryView, NewMemory},
    organize::{self, ContextRequest, Related, SemanticError},
};

/// A local organizing error as the client reports it (the status the gateway would answer).
pub(crate) fn local(e: SemanticError) -> ClientError {
    super::from_api(crate::gateway::ApiError::from(e))
}

/// `vivim memory …`
#[derive(clap::Subcommand, Debug)]
pub enum MemoryCommand {
    /// Active memories, strongest first (--all: also merged, superseded, expired).
    List {
        /// Only this type: episodic, semantic, procedural, working.
        #[arg(long = "type")]
        memory_type: Option<String>,
        /// Include merged, superseded and expired memories.
        #[arg(long)]
        all: bool,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Memories most relevant to a text.
    Search {
        /// What to look for.
        query: String,
        /// How many.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One memory with its provenance.
    Show {
        /// Memory id or prefix.
        id: String,
    },
    /// Remember something (consolidated with what is known).
    Add {
        /// What to remember.
        content: String,
        /// episodic, semantic (default), procedural, working.
        #[arg(long = "type", default_value = "semantic")]
        memory_type: String,
        /// 0 to 1.
        #[arg(long, default_value_t = 0.5)]
        importance: f32,
    },
    /// Change a memory.
    Edit {
        /// Memory id or prefix.
        id: String,
        /// New content.
        #[arg(long)]
        content: Option<String>,
        /// New importance.
        #[arg(long)]
        importance: Option<f32>,
        /// New type.
        #[arg(long = "type")]
        memory_type: Option<String>,
    },
    /// Delete a memory.
    Delete {
        /// Memory id or prefix.
        id: String,
    },
    /// Extract memories from a conversation now (or from every new one).
    Extract {
        /// Conversation id or prefix.
        conversation: Option<String>,
    },
    /// Expire working memories past their validity; merge near-duplicates and supersede
    /// contradicted memories among the active ones.
    Consolidate,
}

impl Client {
    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, ClientError> {
        let Client::Remote { base, token, http } = self else {
            return Err(ClientError::Http("not connected to a gateway".into()));
        };
        let mut r = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r
            .send()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        decode(r).await
    }

    /// Conversations related to one.
    pub async fn related(&self, id: &str, limit: usize) -> Result<Vec<Related>, ClientError> {
        match self {
            Client::Local(n) => {
                let conv = n.store.resolve(id).map_err(crate::node::NodeError::from)?;
                organize::related(n, &conv, limit).await.map_err(local)
            }
            Client::Remote { .. } => {
                self.call(
                    reqwest::Method::GET,
                    &format!("/api/v1/conversations/{id}/related?limit={limit}"),
                    None,
                )
                .await
            }
        }
    }

    /// Assembles a context (without sending it).
    pub async fn context(&self, req: &ContextRequest) -> Result<Context, ClientError> {
        match self {
            Client::Local(n) => organize::build_context(n, req).await.map_err(local),
            Client::Remote { .. } => {
                let body =
                    serde_json::to_value(req).map_err(|e| ClientError::Http(e.to_string()))?;
                self.call(reqwest::Method::POST, "/api/v2/context", Some(body))
                    .await
            }
        }
    }

    /// Assembles a context, sends it to the provider and prints the answer as it streams.
    /// Returns (context, conversation id of the stored exchange).
    pub async fn context_send(
        &self,
        req: &ContextRequest,
    ) -> Result<(Context, String), ClientError> {
        use std::io::Write;
        match self {
            Client::Local(n) => {
                let ctx = organize::build_context(n, req).await.map_err(local)?;
                let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(64);
                let printer = tokio::spawn(async move {
                    while let Some(d) = rx.recv().await {
                        print!("{d}");
                        let _ = std::io::stdout().flush();
                    }
                });
                let r = organize::send_context(n, &ctx, Some(tx)).await;
                let _ = printer.await;
                println!();
                let (_, conv) = r.map_err(local)?;
                Ok((ctx, conv.to_string()))
            }
            Client::Remote { base, token, http } => {
                use futures::StreamExt;
                let mut body =
                    serde_json::to_value(req).map_err(|e| ClientError::Http(e.to_string()))?;
                body["send"] = true.into();
                let r = http
                    .post(format!("{base}/api/v2/context"))
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| ClientError::Http(e.to_string()))?;
                if !r.status().is_success() {
                    return Err(super::api_error(r).await);
                }
                let mut stream = r.bytes_stream();
                let mut buf = Vec::new();
                let mut event = String::new();
                let mut ctx: Option<Context> = None;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| ClientError::Http(e.to_string()))?;
                    buf.extend_from_slice(&chunk);
                    while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = buf.drain(..=nl).collect();
                        let line = String::from_utf8_lossy(&line).trim_end().to_string();
                        if let Some(e) = line.strip_prefix("event:") {
                            event = e.trim().to_string();
                        } else if let Some(d) = line.strip_prefix("data:") {
                            let v: serde_json::Value = serde_json::from_str(d.trim())
                                .map_err(|e| ClientError::Http(format!("bad event: {e}")))?;
                            match event.as_str() {
                                "context" => ctx = serde_json::from_value(v).ok(),
                                "delta" => {
                                    print!("{}", v["text"].as_str().unwrap_or(""));
                                    let _ = std::io::stdout().flush();
                                }
                                "done" => {
                                    println!();
                                    let conv = v["conversation"].as_str().unwrap_or("").to_string();
                                    let ctx = ctx.take().ok_or_else(|| {
                                        ClientError::Http("no context event".into())
                                    })?;
                                    return Ok((ctx, conv));
                                }
                                "error" => {
                                    return Err(ClientError::Api {
                                        status: 502,
                                        message: v["message"].as_str().unwrap_or("").into(),
                                    });
                                }
                                _ => {}
                            }
                        }
                    }
                }
                Err(ClientError::Http("the answer stream ended early".into()))
            }
        }
    }

    /// Runs a `vivim memory` command and prints its result.
    pub async fn memory_command(&self, cmd: MemoryCommand) -> Result<(), ClientError> {
        use reqwest::Method as M;
        let print_list = |v: &[MemoryView], json: bool| {
            if json {
                println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
            } else if v.is_empty() {
                println!("no memories");
            } else {
                for m in v {
                    println!(
                        "{}  {:<10} {:<10} {:.2}  {}",
                        &m.id[..12],
                        m.memory_type,
                        m.consolidation,
                        m.score.unwrap_or(m.strength),
                        m.content.replace('\n', " ")
                    );
                }
            }
        };
        let show = |m: &MemoryView| {
            println!("{}", serde_json::to_string_pretty(m).unwrap_or_default());
        };
        match cmd {
            MemoryCommand::List {
                memory_type,
                all,
                limit,
                json,
            } => {
                let v: Vec<MemoryView> = match self {
                    Client::Local(n) => organize::memories(n, memory_type.as_deref(), all, limit)
                        .await
                        .map_err(local)?,
                    Client::Remote { .. } => {
                        let mut path = format!("/api/v2/memories?limit={limit}&all={all}");
                        if let Some(t) = &memory_type {
                            path.push_str(&format!("&type={}", super::percent(t)));
                        }
                        self.call(M::GET, &path, None).await?
                    }
                };
                print_list(&v, json);
            }
            MemoryCommand::Search { query, limit, json } => {
                let v: Vec<MemoryView> = match self {
                    Client::Local(n) => organize::search_memories(n, &query, limit)
                        .await
                        .map_err(local)?,
                    Client::Remote { .. } => {
                        self.call(
                            M::GET,
                            &format!(
                                "/api/v2/memories?limit={limit}&q={}",
                                super::percent(&query)
                            ),
                            None,
                        )
                        .await?
                    }
                };
                print_list(&v, json);
            }
            MemoryCommand::Show { id } => {
                let m: MemoryView = match self {
                    Client::Local(n) => organize::memory_get(n, &id).await.map_err(local)?,
                    Client::Remote { .. } => {
                        self.call(M::GET, &format!("/api/v2/memories/{id}"), None)
                            .await?
                    }
                };
                show(&m);
            }
            MemoryCommand::Add {
                content,
                memory_type,
                importance,
            } => {
                let nm = NewMemory {
                    content,
                    memory_type: Some(memory_type),
                    importance: Some(importance),
                    provenance: Vec::new(),
                    valid_from_ms: None,
                    valid_to_ms: None,
                    slot: None,
                    source: None,
                };
                let a: Added = match self {
                    Client::Local(n) => organize::memory_add(n, nm).await.map_err(local)?,
                    Client::Remote { .. } => {
                        let body = serde_json::to_value(&nm)
                            .map_err(|e| ClientError::Http(e.to_string()))?;
                        self.call(M::POST, "/api/v2/memories", Some(body)).await?
                    }
                };
                println!(
                    "{} {}{}",
                    a.outcome,
                    a.memory.id,
                    a.other
                        .map(|o| format!(" (other: {o})"))
                        .unwrap_or_default()
                );
            }
            MemoryCommand::Edit {
                id,
                content,
                importance,
                memory_type,
            } => {
                let patch = MemoryPatch {
                    content,
                    memory_type,
                    importance,
                };
                let m: MemoryView = match self {
                    Client::Local(n) => organize::memory_update(n, &id, patch)
                        .await
                        .map_err(local)?,
                    Client::Remote { .. } => {
                        let body = serde_json::json!({
                            "content": patch.content,
                            "memory_type": patch.memory_type,
                            "importance": patch.importance,
                        });
                        self.call(M::PATCH, &format!("/api/v2/memories/{id}"), Some(body))
                            .await?
                    }
                };
                show(&m);
            }
            MemoryCommand::Delete { id } => match self {
                Client::Local(n) => {
                    let id = organize::memory_delete(n, &id).await.map_err(local)?;
                    println!("deleted {id}");
                }
                Client::Remote { base, token, http } => {
                    let r = http
                        .delete(format!("{base}/api/v2/memories/{id}"))
                        .bearer_auth(token)
                        .send()
                        .await
                        .map_err(|e| ClientError::Http(e.to_string()))?;
                    if !r.status().is_success() {
                        return Err(super::api_error(r).await);
                    }
                    println!("deleted {id}");
                }
            },
            MemoryCommand::Extract { conversation } => {
                let n: u64 = match self {
                    Client::Local(n) => organize::memory_extract(n, conversation.as_deref())
                        .await
                        .map_err(local)?,
                    Client::Remote { .. } => {
                        let v: serde_json::Value = self
                            .call(
                                M::POST,
                                "/api/v2/memories/extract",
                                Some(serde_json::json!({ "conversation": conversation })),
                            )
                            .await?;
                        v["memories"].as_u64().unwrap_or(0)
                    }
                };
                println!("{n} memories added or consolidated");
            }
            MemoryCommand::Consolidate => {
                let c: organize::Consolidated = match self {
                    Client::Local(n) => organize::memory_consolidate(n).await.map_err(local)?,
                    Client::Remote { .. } => {
                        self.call(M::POST, "/api/v2/memories/consolidate", None)
                            .await?
                    }
                };
                println!(
                    "{} expired, {} merged, {} superseded",
                    c.expired, c.merged, c.superseded
                );
            }
        }
        Ok(())
    }
}
