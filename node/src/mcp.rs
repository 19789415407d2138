//! The MCP server: the user's conversations, memories and context engine as tools, resources
//! and prompts for any assistant that speaks the Model Context Protocol (RFC-style spec at
//! modelcontextprotocol.io), on the official Rust SDK (`rmcp`).
//!
//! One server, three ways in:
//! - `vivim mcp` with no node running: the data dir opened in-process, served over stdio
//!   ([`serve_stdio`]);
//! - `vivim mcp` while `vivim up` runs: stdio bridged to the gateway's `/api/mcp`
//!   ([`bridge::run`]), so the running node answers and the data dir stays its own;
//! - `/api/mcp` on the gateway, streamable HTTP behind the gateway's token ([`http_service`]).
//!
//! What it exposes is what the node holds: the user's own conversations and memories and what
//! was shared with them; nothing else is reachable. Tools are read-only unless `[mcp] tools`
//! names a write tool (`remember`, `capture`). Every answer is bounded
//! (`[mcp] max_answer_chars`): long ones are paged and say how to get the next page. Only
//! tool names, outcomes and timings are logged, never arguments or answers.

pub mod bridge;
mod tools;

use std::{collections::BTreeSet, sync::Arc, time::Instant};

use rmcp::{
    ErrorData, RoleServer, ServerHandler, ServiceExt,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
        GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation,
        ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
        PaginatedRequestParams, Prompt, PromptArgument, PromptMessage, ReadResourceRequestParams,
        ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
        Role, ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};

use crate::config::{MCP_READ_TOOLS, MCP_WRITE_TOOLS};
use crate::node::Node;

pub use tools::ToolError;

/// The URI scheme of conversations and memories as MCP resources.
pub const CONVERSATION_URI: &str = "vivim://conversation/";
/// Memories as MCP resources.
pub const MEMORY_URI: &str = "vivim://memory/";

/// Why the MCP server stopped.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The transport failed.
    #[error("MCP transport: {0}")]
    Transport(String),
}

/// The MCP server over one node. Cheap to clone (the HTTP transport makes one per request).
#[derive(Clone)]
pub struct VivimMcp {
    node: Arc<Node>,
    enabled: Arc<BTreeSet<String>>,
    max_chars: usize,
}

impl VivimMcp {
    /// A server over `node`, offering the tools its `[mcp]` configuration names (checked when
    /// the configuration was read).
    pub fn new(node: Arc<Node>) -> VivimMcp {
        let cfg = &node.config.mcp;
        let enabled: BTreeSet<String> = cfg.tools.iter().cloned().collect();
        VivimMcp {
            max_chars: cfg.max_answer_chars.clamp(2_000, 1_000_000),
            node,
            enabled: Arc::new(enabled),
        }
    }

    /// The names of the tools offered.
    pub fn enabled_tools(&self) -> Vec<String> {
        self.enabled.iter().cloned().collect()
    }

    fn tool_list(&self) -> Vec<Tool> {
        tools::descriptors()
            .into_iter()
            .filter(|t| self.enabled.contains(t.name.as_ref()))
            .collect()
    }
}

/// Serves `node` over this process's stdin and stdout until the client closes them. The
/// embedding worker runs meanwhile (as under `vivim up`), so vector search, memories and
/// context answer at once from what is embedded instead of waiting for a whole pass.
pub async fn serve_stdio(node: Arc<Node>) -> Result<(), McpError> {
    crate::organize::spawn_worker(&node);
    let server = VivimMcp::new(node);
    let running = server
        .serve(rmcp::transport::io::stdio())
        .await
        .map_err(|e| McpError::Transport(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| McpError::Transport(e.to_string()))?;
    Ok(())
}

/// The streamable HTTP transport of the server (mounted by the gateway at `/api/mcp`, behind its
/// token). Stateless: every request is answered on its own, as JSON when it can be, so no
/// session outlives its request.
pub fn http_service(node: Arc<Node>) -> StreamableHttpService<VivimMcp, LocalSessionManager> {
    let server = VivimMcp::new(node.clone());
    let gw = &node.config.gateway;
    let hosts = gw.allowed_hosts();
    let mut origins: Vec<String> = gw.cors_origins.clone();
    origins.push(format!("http://127.0.0.1:{}", gw.listen.port()));
    origins.push(format!("http://localhost:{}", gw.listen.port()));
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .with_max_request_body_bytes(gw.max_body_bytes);
    StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

const INSTRUCTIONS: &str = "VIVIM holds this user's AI conversations (imported from ChatGPT, \
Claude, Gemini and others, or shared with them) and what they learned from them. Use `search` \
to find where something was discussed, `get_conversation` to read it (by id or id prefix; long \
conversations come in pages), `list_conversations` to browse, `related` for similar \
conversations, `memories` for facts and preferences, and `context` for a ready-made, \
token-budgeted context about a question. Everything stays on the user's machine.";

impl ServerHandler for VivimMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(
            Implementation::new("vivim", env!("CARGO_PKG_VERSION"))
                .with_title("VIVIM — your AI conversations"),
        )
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tool_list()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        let started = Instant::now();
        let result = if !self.enabled.contains(&name) {
            if MCP_WRITE_TOOLS.contains(&name.as_str()) || MCP_READ_TOOLS.contains(&name.as_str()) {
                Err(ToolError::Disabled(name.clone()))
            } else {
                Err(ToolError::Unknown(name.clone()))
            }
        } else {
            let client = context
                .client_info()
                .map(|c| c.name)
                .filter(|n| !n.trim().is_empty());
            let args = serde_json::Value::Object(request.arguments.unwrap_or_default());
            tools::call(self, &name, args, client).await
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(value) => {
                tracing::info!(tool = %name, ms, "mcp tool call");
                Ok(CallToolResult::structured(value).into())
            }
            Err(e) => {
                tracing::info!(tool = %name, ms, error = e.kind(), "mcp tool call failed");
                Ok(CallToolResult::error(vec![ContentBlock::text(e.to_string())]).into())
            }
        }
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let cursor = request.and_then(|r| r.cursor);
        let (items, next) = tools::resources(self, cursor.as_deref())
            .await
            .map_err(|e| ErrorData::invalid_params(e.to_string(), None))?;
        let mut r = ListResourcesResult::with_all_items(items);
        r.next_cursor = next;
        Ok(r)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new(format!("{CONVERSATION_URI}{{id}}"), "conversation")
                .with_description("A conversation as Markdown, by id or unique id prefix")
                .with_mime_type("text/markdown"),
            ResourceTemplate::new(format!("{MEMORY_URI}{{id}}"), "memory")
                .with_description("A memory, by id or unique id prefix")
                .with_mime_type("text/plain"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        let (text, mime) = tools::read_resource(self, &uri)
            .await
            .map_err(|e| match e {
                ToolError::NotFound(m) => ErrorData::resource_not_found(m, None),
                e => ErrorData::invalid_params(e.to_string(), None),
            })?;
        Ok(
            ReadResourceResult::new(vec![ResourceContents::text(text, uri).with_mime_type(mime)])
                .into(),
        )
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(vec![
            Prompt::new(
                "continue_conversation",
                Some(
                    "Pick up a conversation where it stopped, with its recent turns and what else is known",
                ),
                Some(vec![
                    PromptArgument::new("id")
                        .with_description("Conversation id or unique prefix")
                        .with_required(true),
                    PromptArgument::new("budget_tokens")
                        .with_description("Token budget of the context (default 4000)"),
                ]),
            ),
            Prompt::new(
                "what_did_i_decide",
                Some("What the user decided about a topic, from their memories and conversations"),
                Some(vec![
                    PromptArgument::new("topic")
                        .with_description("The topic, e.g. \"the database for the sync service\"")
                        .with_required(true),
                    PromptArgument::new("budget_tokens")
                        .with_description("Token budget of the context (default 4000)"),
                ]),
            ),
        ]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        let arg = |k: &str| {
            args.get(k).and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        };
        let budget = arg("budget_tokens")
            .map(|b| {
                b.parse::<usize>().map_err(|_| {
                    ErrorData::invalid_params("budget_tokens must be a whole number", None)
                })
            })
            .transpose()?
            .unwrap_or(4_000);
        let (description, text) = match request.name.as_str() {
            "continue_conversation" => {
                let id =
                    arg("id").ok_or_else(|| ErrorData::invalid_params("id is required", None))?;
                tools::continue_prompt(self, &id, budget)
                    .await
                    .map_err(|e| ErrorData::invalid_params(e.to_string(), None))?
            }
            "what_did_i_decide" => {
                let topic = arg("topic")
                    .ok_or_else(|| ErrorData::invalid_params("topic is required", None))?;
                tools::decide_prompt(self, &topic, budget)
                    .await
                    .map_err(|e| ErrorData::invalid_params(e.to_string(), None))?
            }
            other => {
                return Err(ErrorData::invalid_params(
                    format!(
                        "no prompt named {other:?}; the prompts are continue_conversation and what_did_i_decide"
                    ),
                    None,
                ));
            }
        };
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description(description)
                .into(),
        )
    }
}

/// A conversation resource's entry in a listing.
fn conversation_resource(id: &str, title: &str) -> Resource {
    Resource::new(format!("{CONVERSATION_URI}{id}"), title.to_string())
        .with_mime_type("text/markdown")
}
