//! The tools, resources and prompts: arguments (with their JSON Schemas), what each does on the
//! node, and how its answer is bounded.

use std::collections::HashMap;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};
use vivim_protocol::{Acu, Hash, Kind, Role, Signed};

use super::{CONVERSATION_URI, MEMORY_URI, VivimMcp, conversation_resource};
use crate::{
    node::{Capture, NodeError},
    organize::{self, ContextRequest, SemanticError, memory::NewMemory},
    store::{ConvRow, StoreError},
    text::clip,
    views::{ConversationDetail, ConversationView, MessageView, SearchParams, iso},
};

/// Why a tool call failed; shown to the assistant as the tool's error text.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not fit the tool's schema or its rules.
    #[error("invalid arguments: {0}")]
    Invalid(String),
    /// What the arguments name does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The tool exists but `[mcp] tools` does not enable it.
    #[error(
        "the tool `{0}` is disabled on this node; the user can enable it by adding \"{0}\" to `tools` under [mcp] in vivim.toml"
    )]
    Disabled(String),
    /// No such tool.
    #[error("there is no tool named `{0}`")]
    Unknown(String),
    /// The node could not do it.
    #[error("{0}")]
    Failed(String),
}

impl ToolError {
    /// A short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ToolError::Invalid(_) => "invalid",
            ToolError::NotFound(_) => "not_found",
            ToolError::Disabled(_) => "disabled",
            ToolError::Unknown(_) => "unknown",
            ToolError::Failed(_) => "failed",
        }
    }
}

impl From<NodeError> for ToolError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::NotFound(m) | NodeError::Store(StoreError::NotFound(m)) => {
                ToolError::NotFound(m)
            }
            NodeError::Invalid(m) | NodeError::Store(StoreError::Invalid(m)) => {
                ToolError::Invalid(m)
            }
            other => ToolError::Failed(other.to_string()),
        }
    }
}

impl From<StoreError> for ToolError {
    fn from(e: StoreError) -> Self {
        NodeError::from(e).into()
    }
}

impl From<SemanticError> for ToolError {
    fn from(e: SemanticError) -> Self {
        match e {
            SemanticError::NotFound(m) => ToolError::NotFound(m),
            SemanticError::Invalid(m) => ToolError::Invalid(m),
            SemanticError::Node(n) => n.into(),
            other => ToolError::Failed(other.to_string()),
        }
    }
}

type ToolResult = Result<Value, ToolError>;

// ---------------------------------------------------------------------------------------------
// Arguments

/// How `search` matches.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Mode {
    /// Words and "phrases" (BM25), the default.
    Text,
    /// Meaning (embeddings).
    Vector,
    /// Both, fused by rank.
    Hybrid,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    /// What to look for: words, "quoted phrases", -excluded words.
    query: String,
    /// `text` (default: words and phrases), `vector` (meaning) or `hybrid` (both).
    mode: Option<Mode>,
    /// Hits to return (1-50, default 10).
    limit: Option<usize>,
    /// Hits to skip (from `next_offset` of the previous answer).
    offset: Option<usize>,
    /// Only conversations from this provider (chatgpt, claude, gemini, ...).
    provider: Option<String>,
    /// Only messages with this role (user, assistant).
    role: Option<String>,
    /// Only messages from this date on (YYYY-MM-DD or RFC 3339).
    after: Option<String>,
    /// Only messages before this date (YYYY-MM-DD or RFC 3339).
    before: Option<String>,
    /// Only this conversation (id or unique prefix).
    conversation: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct GetConversationArgs {
    /// Conversation id, or a unique prefix of at least 6 hex characters.
    id: String,
    /// First message to return (0-based position in the conversation; from `next_offset`).
    offset: Option<usize>,
    /// Messages to return (1-200, default 50); fewer when the answer would be too long.
    limit: Option<usize>,
    /// Show the model's reasoning instead of folding it (default false).
    include_thinking: Option<bool>,
    /// Show tool calls and their results instead of folding them (default false).
    include_tools: Option<bool>,
    /// Show hidden context (system prompts, custom instructions) instead of folding it.
    include_hidden: Option<bool>,
    /// Longest text per message in characters (200-100000, default 8000); longer ones are cut
    /// and marked `truncated`.
    max_message_chars: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    /// Conversations to return (1-100, default 20), most recently updated first.
    limit: Option<usize>,
    /// From `next_cursor` of the previous answer.
    cursor: Option<String>,
    /// Only this provider (chatgpt, claude, gemini, sharegpt, markdown, vivim, or an
    /// assistant's name for captured sessions).
    provider: Option<String>,
    /// Only conversations updated on or after this date (YYYY-MM-DD or RFC 3339).
    after: Option<String>,
    /// Only conversations updated before this date (YYYY-MM-DD or RFC 3339).
    before: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RelatedArgs {
    /// Conversation id or unique prefix.
    id: String,
    /// Conversations to return (1-50, default 10).
    limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MemoriesArgs {
    /// What the memories should be about; without it, the strongest memories.
    query: Option<String>,
    /// Only this type: episodic, semantic, procedural, working, other.
    memory_type: Option<String>,
    /// Memories to return (1-50, default 10).
    limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RememberArgs {
    /// The fact, preference or decision to remember, in one or two sentences.
    content: String,
    /// semantic (facts, default), episodic (events), procedural (how to), working
    /// (short-lived).
    memory_type: Option<String>,
    /// How much it matters, 0 to 1 (default 0.5).
    importance: Option<f32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ContextArgs {
    /// The question or task the context is for.
    query: String,
    /// Token budget of the whole context (100 up to a quarter of the answer limit in
    /// characters; default 2000).
    budget_tokens: Option<usize>,
    /// Model whose tokenizer counts (default gpt-4o).
    model: Option<String>,
    /// Conversation whose recent turns to include (id or prefix; default the most recent).
    conversation: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FeedArgs {
    /// Items to return (1-100, default 20), newest first.
    limit: Option<usize>,
    /// From `next_cursor` of the previous answer.
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CaptureMessage {
    /// user, assistant, system or tool.
    role: String,
    /// What was said.
    text: String,
    /// When (RFC 3339 or YYYY-MM-DD; default now).
    created_at: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CaptureArgs {
    /// The exchange, in order (1-100 messages).
    messages: Vec<CaptureMessage>,
    /// Title of a new conversation (default: the first words of the first message).
    title: Option<String>,
    /// Append to this conversation (id or prefix, from an earlier capture) instead of starting
    /// a new one.
    conversation: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Descriptors

fn tool<T: JsonSchema + 'static>(name: &'static str, description: &'static str) -> Tool {
    Tool::new(name, description, JsonObject::new()).with_input_schema::<T>()
}

fn read_only() -> ToolAnnotations {
    ToolAnnotations::new()
        .read_only(true)
        .open_world(false)
        .idempotent(true)
}

/// Every tool, enabled or not.
pub fn descriptors() -> Vec<Tool> {
    vec![
        tool::<SearchArgs>(
            "search",
            "Search the user's AI conversations (imported from ChatGPT, Claude, Gemini, ... or \
             shared with them). Returns matching messages with a snippet, the conversation's id \
             and title, and a vivim:// link; read one with get_conversation. Pages with \
             offset/next_offset.",
        )
        .annotate(read_only()),
        tool::<GetConversationArgs>(
            "get_conversation",
            "Read a conversation by id (or unique id prefix): its messages in order on the \
             branch the user last saw. Reasoning, tool calls and hidden context are folded \
             unless asked for. Long conversations come in pages: call again with offset = \
             next_offset.",
        )
        .annotate(read_only()),
        tool::<ListArgs>(
            "list_conversations",
            "List the user's conversations, most recently updated first, optionally by provider \
             or date range. Pages with cursor/next_cursor.",
        )
        .annotate(read_only()),
        tool::<RelatedArgs>(
            "related",
            "Conversations about the same things as a given one (by meaning).",
        )
        .annotate(read_only()),
        tool::<MemoriesArgs>(
            "memories",
            "What is known about the user: facts, preferences, decisions and procedures drawn \
             from their conversations. With a query, the memories most relevant to it.",
        )
        .annotate(read_only()),
        tool::<ContextArgs>(
            "context",
            "Assemble a ready-to-use context for a question under a token budget: notes, the \
             user's relevant memories, excerpts from earlier conversations and recent turns, \
             counted with the model's tokenizer.",
        )
        .annotate(read_only()),
        tool::<FeedArgs>(
            "feed",
            "What other people shared with the user and what the people they follow \
             published, newest first.",
        )
        .annotate(read_only()),
        tool::<RememberArgs>(
            "remember",
            "Save a memory about the user (a fact, preference or decision they stated), with \
             this assistant as its source. Only when the user asked to remember it.",
        )
        .annotate(
            ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .open_world(false),
        ),
        tool::<CaptureArgs>(
            "capture",
            "Store the current exchange (the messages given, in order) in the user's library as \
             a conversation, with this assistant as its provider. Returns its id, so later \
             turns can be appended with `conversation`.",
        )
        .annotate(
            ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .open_world(false),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Calls

fn args<T: DeserializeOwned>(v: Value) -> Result<T, ToolError> {
    serde_json::from_value(v).map_err(|e| ToolError::Invalid(e.to_string()))
}

fn bounded(v: Option<usize>, default: usize, max: usize, what: &str) -> Result<usize, ToolError> {
    let n = v.unwrap_or(default);
    if n == 0 || n > max {
        return Err(ToolError::Invalid(format!(
            "{what} must be between 1 and {max}"
        )));
    }
    Ok(n)
}

/// A date as ms since the Unix epoch: `YYYY-MM-DD` (midnight UTC) or RFC 3339.
fn date_ms(s: &str, what: &str) -> Result<u64, ToolError> {
    let s = s.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return u64::try_from(d.timestamp_millis())
            .map_err(|_| ToolError::Invalid(format!("{what} is before 1970")));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return u64::try_from(t.and_utc().timestamp_millis())
            .map_err(|_| ToolError::Invalid(format!("{what} is before 1970")));
    }
    Err(ToolError::Invalid(format!(
        "{what} {s:?} is not a date (YYYY-MM-DD or RFC 3339)"
    )))
}

fn check_len(s: &str, max: usize, what: &str) -> Result<(), ToolError> {
    if s.trim().is_empty() {
        return Err(ToolError::Invalid(format!("{what} is empty")));
    }
    if s.len() > max {
        return Err(ToolError::Invalid(format!(
            "{what} is {} bytes; at most {max}",
            s.len()
        )));
    }
    Ok(())
}

/// Runs an enabled tool.
pub async fn call(mcp: &VivimMcp, name: &str, v: Value, client: Option<String>) -> ToolResult {
    match name {
        "search" => search(mcp, args(v)?).await,
        "get_conversation" => get_conversation(mcp, args(v)?).await,
        "list_conversations" => list_conversations(mcp, args(v)?),
        "related" => related(mcp, args(v)?).await,
        "memories" => memories(mcp, args(v)?).await,
        "remember" => remember(mcp, args(v)?, client).await,
        "context" => context(mcp, args(v)?).await,
        "feed" => feed(mcp, args(v)?),
        "capture" => capture(mcp, args(v)?, client).await,
        other => Err(ToolError::Unknown(other.to_string())),
    }
}

fn uri(id: &str) -> String {
    format!("{CONVERSATION_URI}{id}")
}

/// The web app's page of a conversation on this node's gateway.
fn web_link(mcp: &VivimMcp, id: &str) -> String {
    let l = mcp.node.config.gateway.listen;
    let host = if l.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        l.ip().to_string()
    };
    format!("http://{host}:{}/c/{id}", l.port())
}

/// Serialized length of a value (what an answer costs).
fn size(v: &Value) -> usize {
    serde_json::to_string(v).map(|s| s.len()).unwrap_or(0)
}

async fn search(mcp: &VivimMcp, a: SearchArgs) -> ToolResult {
    check_len(&a.query, organize::MAX_QUERY, "query")?;
    let limit = bounded(a.limit, 10, 50, "limit")?;
    let offset = a.offset.unwrap_or(0);
    if offset > 1000 {
        return Err(ToolError::Invalid("offset must be at most 1000".into()));
    }
    let p = SearchParams {
        q: a.query.clone(),
        limit: Some(limit),
        offset: Some(offset),
        provider: a.provider,
        role: a.role,
        from: a
            .after
            .as_deref()
            .map(|s| date_ms(s, "after"))
            .transpose()?,
        to: a
            .before
            .as_deref()
            .map(|s| date_ms(s, "before"))
            .transpose()?,
        conversation: a.conversation,
        mode: Some(
            match a.mode.unwrap_or(Mode::Text) {
                Mode::Text => "text",
                Mode::Vector => "vector",
                Mode::Hybrid => "hybrid",
            }
            .to_string(),
        ),
    };
    let r = organize::search(&mcp.node, &p).await?;
    let mut hits = Vec::new();
    let mut used = 200;
    for h in &r.hits {
        let v = json!({
            "conversation": h.conversation,
            "title": h.title,
            "provider": h.provider,
            "role": h.role,
            "created_at": h.created_at,
            "snippet": h.snippet,
            "message": h.acu,
            "uri": uri(&h.conversation),
            "link": web_link(mcp, &h.conversation),
        });
        used += size(&v);
        if used > mcp.max_chars && !hits.is_empty() {
            break;
        }
        hits.push(v);
    }
    let shown = hits.len();
    let mut out = json!({ "query": a.query, "total": r.total, "offset": offset, "hits": hits });
    if offset + shown < r.total.min(1000 + limit) && shown > 0 {
        out["next_offset"] = json!(offset + shown);
    }
    Ok(out)
}

/// The messages on the branch ending at the conversation's head, oldest first.
fn head_branch(row: &ConvRow, acus: &[Signed<Acu>]) -> Vec<usize> {
    let by_id: HashMap<Hash, usize> = acus.iter().enumerate().map(|(i, a)| (a.id(), i)).collect();
    let mut out = Vec::new();
    let mut cur = row.manifest.head;
    while let Some(h) = cur {
        let Some(&i) = by_id.get(&h) else { break };
        out.push(i);
        cur = acus[i].value().parent;
        if out.len() > acus.len() {
            break;
        }
    }
    out.reverse();
    out
}

fn conversation_view(mcp: &VivimMcp, c: &ConversationView) -> Value {
    json!({
        "id": c.id,
        "title": c.title,
        "provider": c.provider,
        "model": c.model,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "message_count": c.message_count,
        "source_url": c.source_url,
        "owner": c.owner,
        "uri": uri(&c.id),
        "link": web_link(mcp, &c.id),
    })
}

/// Why a message is folded, if it is.
fn fold_reason(a: &Acu, g: &GetConversationArgs) -> Option<&'static str> {
    let tool = matches!(a.kind, Kind::ToolCall | Kind::ToolResult) || a.role == Role::Tool;
    let hidden = a.role == Role::System || a.kind == Kind::Other;
    if a.kind == Kind::Thinking && !g.include_thinking.unwrap_or(false) {
        Some("reasoning (include_thinking: true shows it)")
    } else if tool && !g.include_tools.unwrap_or(false) {
        Some("tool call or result (include_tools: true shows it)")
    } else if hidden && !tool && !g.include_hidden.unwrap_or(false) {
        Some("hidden context (include_hidden: true shows it)")
    } else {
        None
    }
}

async fn get_conversation(mcp: &VivimMcp, g: GetConversationArgs) -> ToolResult {
    let offset = g.offset.unwrap_or(0);
    let limit = bounded(g.limit, 50, 200, "limit")?;
    let per_msg = g.max_message_chars.unwrap_or(8_000);
    if !(200..=100_000).contains(&per_msg) {
        return Err(ToolError::Invalid(
            "max_message_chars must be between 200 and 100000".into(),
        ));
    }
    let id = mcp.node.store.resolve(&g.id)?;
    let (row, acus) = mcp
        .node
        .conversation(&id)
        .await?
        .ok_or_else(|| ToolError::NotFound(format!("conversation {id}")))?;
    let conv = ConversationView::from(&row);
    // The branch the user saw, without empty nodes (ChatGPT's blank roots and hidden turns).
    let branch: Vec<usize> = head_branch(&row, &acus)
        .into_iter()
        .filter(|&i| acus[i].value().body.as_text().is_none_or(|t| !t.is_empty()))
        .collect();
    let total = branch.len();
    if offset > total {
        return Err(ToolError::Invalid(format!(
            "offset {offset} is past the end: the conversation has {total} messages"
        )));
    }
    let head = conversation_view(mcp, &conv);
    let mut used = size(&head) + 300;
    let mut messages = Vec::new();
    for (pos, &i) in branch.iter().enumerate().skip(offset).take(limit) {
        let s = &acus[i];
        let a = s.value();
        let text = a.body.as_text();
        let mut m = json!({
            "index": pos,
            "role": a.role.as_str(),
            "kind": a.kind.as_str(),
            "created_at": iso(a.created_at_ms),
        });
        if let Some(reason) = fold_reason(a, &g) {
            m["folded"] = json!(reason);
            m["chars"] = json!(text.map_or(0, |t| t.chars().count()));
        } else {
            match text {
                None => m["sealed"] = json!(true),
                Some(t) => {
                    let room = per_msg.min(mcp.max_chars.saturating_sub(used + 200).max(200));
                    let cut = clip(t, room);
                    if cut.len() < t.len() {
                        m["truncated"] = json!(true);
                        m["chars"] = json!(t.chars().count());
                    }
                    m["text"] = json!(cut);
                }
            }
            if let Some(l) = &a.lang {
                m["lang"] = json!(l);
            }
        }
        let cost = size(&m);
        if used + cost > mcp.max_chars && !messages.is_empty() {
            break;
        }
        used += cost;
        messages.push(m);
    }
    let next = offset + messages.len();
    let mut out = json!({
        "conversation": head,
        "total_messages": total,
        "offset": offset,
        "messages": messages,
    });
    if next < total {
        out["next_offset"] = json!(next);
        out["note"] = json!(format!(
            "{} more messages: call get_conversation with id {:?} and offset {next}",
            total - next,
            conv.id
        ));
    }
    Ok(out)
}

fn list_conversations(mcp: &VivimMcp, a: ListArgs) -> ToolResult {
    let limit = bounded(a.limit, 20, 100, "limit")?;
    let after = a
        .after
        .as_deref()
        .map(|s| date_ms(s, "after"))
        .transpose()?;
    let before = a
        .before
        .as_deref()
        .map(|s| date_ms(s, "before"))
        .transpose()?;
    let provider = a.provider.map(|p| p.to_lowercase());
    let mut cursor = a.cursor;
    let mut out = Vec::new();
    let mut scanned = 0usize;
    let mut used = 200;
    let next;
    // Unfiltered, one more row than asked tells whether there is a next page; a filter reads
    // larger pages.
    let filtered = after.is_some() || before.is_some() || provider.is_some();
    let page_size = if filtered { 200 } else { limit + 1 };
    'pages: loop {
        let page = mcp
            .node
            .store
            .list(cursor.as_deref(), page_size)
            .map_err(|e| match e {
                StoreError::Invalid(m) => ToolError::Invalid(format!("cursor: {m}")),
                e => e.into(),
            })?;
        for (i, r) in page.rows.iter().enumerate() {
            scanned += 1;
            let m = &r.manifest;
            // Newest first: past `after`, nothing further can match.
            if after.is_some_and(|t| m.updated_at_ms < t) {
                next = None;
                break 'pages;
            }
            let keep = before.is_none_or(|t| m.updated_at_ms < t)
                && provider
                    .as_deref()
                    .is_none_or(|p| m.provider.eq_ignore_ascii_case(p));
            if keep {
                let v = conversation_view(mcp, &ConversationView::from(r));
                used += size(&v);
                if out.len() == limit || (used > mcp.max_chars && !out.is_empty()) {
                    // Resume at this row: the cursor of the row before it.
                    next = if i == 0 {
                        cursor.clone()
                    } else {
                        Some(mcp.node.store.cursor_of(&page.rows[i - 1]))
                    };
                    break 'pages;
                }
                out.push(v);
            }
        }
        match page.next {
            Some(c) => {
                cursor = Some(c);
                // A filter that matches little does not scan the whole library in one call.
                if scanned >= 20_000 {
                    next = cursor.clone();
                    break;
                }
            }
            None => {
                next = None;
                break;
            }
        }
    }
    let mut v = json!({ "conversations": out });
    if let Some(c) = next {
        v["next_cursor"] = json!(c);
    }
    Ok(v)
}

async fn related(mcp: &VivimMcp, a: RelatedArgs) -> ToolResult {
    let limit = bounded(a.limit, 10, 50, "limit")?;
    let id = mcp.node.store.resolve(&a.id)?;
    let r = organize::related(&mcp.node, &id, limit).await?;
    let items: Vec<Value> = r
        .iter()
        .map(|x| {
            json!({
                "conversation": x.conversation,
                "title": x.title,
                "provider": x.provider,
                "updated_at": x.updated_at,
                "score": x.score,
                "uri": uri(&x.conversation),
            })
        })
        .collect();
    Ok(json!({ "related": items }))
}

fn memory_json(m: &organize::memory::MemoryView) -> Value {
    json!({
        "id": m.id,
        "content": m.content,
        "memory_type": m.memory_type,
        "importance": m.importance,
        "strength": m.strength,
        "valid_from": iso(m.valid_from_ms),
        "conversation": m.conversation,
        "source": m.source,
        "uri": format!("{MEMORY_URI}{}", m.id),
    })
}

async fn memories(mcp: &VivimMcp, a: MemoriesArgs) -> ToolResult {
    let limit = bounded(a.limit, 10, 50, "limit")?;
    let list = match &a.query {
        Some(q) => {
            check_len(q, organize::MAX_QUERY, "query")?;
            let mut v = organize::search_memories(&mcp.node, q, limit * 3).await?;
            if let Some(t) = &a.memory_type {
                v.retain(|m| &m.memory_type == t);
            }
            v.truncate(limit);
            v
        }
        None => organize::memories(&mcp.node, a.memory_type.as_deref(), false, limit).await?,
    };
    Ok(json!({ "memories": list.iter().map(memory_json).collect::<Vec<_>>() }))
}

async fn remember(mcp: &VivimMcp, a: RememberArgs, client: Option<String>) -> ToolResult {
    check_len(&a.content, organize::memory::MAX_CONTENT, "content")?;
    let added = organize::memory_add(
        &mcp.node,
        NewMemory {
            content: a.content,
            memory_type: a.memory_type,
            importance: a.importance,
            provenance: Vec::new(),
            valid_from_ms: None,
            valid_to_ms: None,
            slot: None,
            source: Some(format!(
                "mcp:{}",
                client.unwrap_or_else(|| "assistant".into())
            )),
        },
    )
    .await?;
    Ok(json!({ "outcome": added.outcome, "memory": memory_json(&added.memory) }))
}

async fn context(mcp: &VivimMcp, a: ContextArgs) -> ToolResult {
    let max_budget = mcp.max_chars / 4;
    let budget = a.budget_tokens.unwrap_or(2_000.min(max_budget));
    if !(100..=max_budget).contains(&budget) {
        return Err(ToolError::Invalid(format!(
            "budget_tokens must be between 100 and {max_budget} (a quarter of this server's \
             answer limit of {} characters)",
            mcp.max_chars
        )));
    }
    let conversation = match &a.conversation {
        Some(c) => Some(mcp.node.store.resolve(c)?.to_string()),
        None => None,
    };
    let c = organize::build_context(
        &mcp.node,
        &ContextRequest {
            query: a.query,
            budget_tokens: budget,
            model: a.model,
            conversation,
            system: None,
            send: false,
            memories: None,
            retrieved: None,
            recent: None,
        },
    )
    .await?;
    Ok(json!({
        "prompt": c.prompt,
        "total_tokens": c.total_tokens,
        "budget_tokens": c.budget_tokens,
        "tokenizer": c.tokenizer,
        "sections": c.sections,
        "memory_ids": c.memory_ids,
        "message_ids": c.acu_ids,
    }))
}

fn feed(mcp: &VivimMcp, a: FeedArgs) -> ToolResult {
    let limit = bounded(a.limit, 20, 100, "limit")?;
    let page = mcp.node.feed(a.cursor.as_deref(), limit)?;
    let mut v = serde_json::to_value(&page).map_err(|e| ToolError::Failed(e.to_string()))?;
    // Items are small, but a page of long titles still must not flood the assistant.
    if size(&v) > mcp.max_chars
        && let Some(items) = v.get_mut("items").and_then(Value::as_array_mut)
    {
        let mut used = 0;
        let keep = items
            .iter()
            .take_while(|i| {
                used += size(i);
                used < mcp.max_chars
            })
            .count()
            .max(1);
        items.truncate(keep);
    }
    Ok(v)
}

/// Most messages one capture call stores.
const MAX_CAPTURE_MESSAGES: usize = 100;
/// Longest message a capture call stores, in bytes.
const MAX_CAPTURE_TEXT: usize = 256 * 1024;

async fn capture(mcp: &VivimMcp, a: CaptureArgs, client: Option<String>) -> ToolResult {
    if a.messages.is_empty() || a.messages.len() > MAX_CAPTURE_MESSAGES {
        return Err(ToolError::Invalid(format!(
            "messages must hold 1 to {MAX_CAPTURE_MESSAGES} messages"
        )));
    }
    let mut times = Vec::with_capacity(a.messages.len());
    for (i, m) in a.messages.iter().enumerate() {
        check_len(&m.text, MAX_CAPTURE_TEXT, &format!("messages[{i}].text"))?;
        crate::node::parse_role(&m.role)
            .map_err(|e| ToolError::Invalid(format!("messages[{i}].role: {e}")))?;
        times.push(
            m.created_at
                .as_deref()
                .map(|s| date_ms(s, &format!("messages[{i}].created_at")))
                .transpose()?,
        );
    }
    let provider = client
        .as_deref()
        .map(|c| {
            c.chars()
                .filter(|ch| ch.is_alphanumeric() || matches!(ch, '-' | '_' | '.'))
                .take(64)
                .collect::<String>()
        })
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "mcp".into());
    let mut conversation = match &a.conversation {
        Some(c) => Some(mcp.node.store.resolve(c)?.to_string()),
        None => None,
    };
    let title = a
        .title
        .clone()
        .unwrap_or_else(|| clip(a.messages[0].text.trim(), 80).to_string());
    let mut stored = Vec::new();
    for (m, at) in a.messages.into_iter().zip(times) {
        let (acu, conv) = mcp
            .node
            .capture(Capture {
                conversation: conversation.clone(),
                provider: Some(provider.clone()),
                source_id: None,
                title: Some(title.clone()),
                parent: None,
                role: m.role,
                kind: None,
                lang: None,
                text: m.text,
                created_at_ms: at,
            })
            .await?;
        conversation = Some(conv.to_string());
        stored.push(acu.to_string());
    }
    let id = conversation.unwrap_or_default();
    Ok(json!({
        "conversation": id,
        "provider": provider,
        "messages_stored": stored.len(),
        "message_ids": stored,
        "uri": uri(&id),
    }))
}

// ---------------------------------------------------------------------------------------------
// Resources and prompts

/// Conversations per page of `resources/list`.
const RESOURCE_PAGE: usize = 100;

/// A page of resources: the strongest memories first (on the first page), then conversations,
/// newest first.
pub async fn resources(
    mcp: &VivimMcp,
    cursor: Option<&str>,
) -> Result<(Vec<rmcp::model::Resource>, Option<String>), ToolError> {
    let mut out = Vec::new();
    if cursor.is_none() {
        // Memories need the semantic layer; a node without it still lists its conversations.
        if let Ok(ms) = organize::memories(&mcp.node, None, false, 50).await {
            for m in ms {
                out.push(
                    rmcp::model::Resource::new(
                        format!("{MEMORY_URI}{}", m.id),
                        format!("memory: {}", clip(&m.content, 60)),
                    )
                    .with_mime_type("text/plain"),
                );
            }
        }
    }
    let page = mcp
        .node
        .store
        .list(cursor, RESOURCE_PAGE)
        .map_err(|e| ToolError::Invalid(format!("cursor: {e}")))?;
    for r in &page.rows {
        let title = if r.manifest.title.is_empty() {
            "Untitled"
        } else {
            &r.manifest.title
        };
        out.push(conversation_resource(&r.manifest.id.to_string(), title));
    }
    Ok((out, page.next))
}

/// The text of a resource and its MIME type.
pub async fn read_resource(mcp: &VivimMcp, uri: &str) -> Result<(String, String), ToolError> {
    if let Some(id) = uri.strip_prefix(CONVERSATION_URI) {
        let id = mcp.node.store.resolve(id)?;
        let (row, acus) = mcp
            .node
            .conversation(&id)
            .await?
            .ok_or_else(|| ToolError::NotFound(format!("conversation {id}")))?;
        let d = ConversationDetail {
            conversation: ConversationView::from(&row),
            messages: acus.iter().map(MessageView::from).collect(),
        };
        let mut md = crate::views::export::markdown(&d);
        // A resource is read whole; a very long conversation is cut, with the way to the rest.
        let limit = mcp.max_chars * 4;
        if md.len() > limit {
            md = format!(
                "{}\n\n*(cut at {limit} characters: the get_conversation tool with id {} reads \
                 the rest in pages)*\n",
                clip(&md, limit),
                d.conversation.id
            );
        }
        return Ok((md, "text/markdown".into()));
    }
    if let Some(id) = uri.strip_prefix(MEMORY_URI) {
        let m = organize::memory_get(&mcp.node, id).await?;
        let mut text = format!(
            "{}\n\n- type: {}\n- importance: {}\n- since: {}\n",
            m.content,
            m.memory_type,
            m.importance,
            iso(m.valid_from_ms)
        );
        if let Some(c) = &m.conversation {
            text.push_str(&format!("- from: {CONVERSATION_URI}{c}\n"));
        }
        if let Some(s) = &m.source {
            text.push_str(&format!("- added by: {s}\n"));
        }
        return Ok((text, "text/plain".into()));
    }
    Err(ToolError::NotFound(format!(
        "resource {uri:?} (this server has {CONVERSATION_URI}<id> and {MEMORY_URI}<id>)"
    )))
}

fn check_budget(budget: usize) -> Result<(), ToolError> {
    if !(100..=200_000).contains(&budget) {
        return Err(ToolError::Invalid(
            "budget_tokens must be between 100 and 200000".into(),
        ));
    }
    Ok(())
}

/// "Continue this conversation": its recent turns and what else is known, from the context
/// engine, then the ask.
pub async fn continue_prompt(
    mcp: &VivimMcp,
    id: &str,
    budget: usize,
) -> Result<(String, String), ToolError> {
    check_budget(budget)?;
    let id = mcp.node.store.resolve(id)?;
    let (row, acus) = mcp
        .node
        .conversation(&id)
        .await?
        .ok_or_else(|| ToolError::NotFound(format!("conversation {id}")))?;
    // The question the context is built around: the last thing the user said.
    let last_user = head_branch(&row, &acus)
        .into_iter()
        .rev()
        .map(|i| acus[i].value())
        .find(|a| a.role == Role::User && a.body.as_text().is_some_and(|t| !t.trim().is_empty()))
        .and_then(|a| a.body.as_text())
        .map(|t| clip(t, 2_000).to_string())
        .unwrap_or_else(|| row.manifest.title.clone());
    let c = organize::build_context(
        &mcp.node,
        &ContextRequest {
            query: if last_user.trim().is_empty() {
                "continue".into()
            } else {
                last_user
            },
            budget_tokens: budget,
            model: None,
            conversation: Some(id.to_string()),
            system: Some(
                "The user wants to continue the conversation below where it stopped.".into(),
            ),
            send: false,
            memories: None,
            retrieved: None,
            recent: None,
        },
    )
    .await?;
    let title = &row.manifest.title;
    Ok((
        format!("Continue \"{title}\""),
        format!(
            "{}\n\nContinue the conversation \"{title}\" ({} on {}) from where it stopped: \
             answer its last message, using what is above.",
            c.prompt,
            row.manifest.provider,
            row.manifest.model.as_deref().unwrap_or("an AI assistant")
        ),
    ))
}

/// "What did I decide about …": memories and excerpts about the topic, then the question.
pub async fn decide_prompt(
    mcp: &VivimMcp,
    topic: &str,
    budget: usize,
) -> Result<(String, String), ToolError> {
    check_budget(budget)?;
    check_len(topic, 2_000, "topic")?;
    let question = format!("What did I decide about {}?", topic.trim());
    let c = organize::build_context(
        &mcp.node,
        &ContextRequest {
            query: question.clone(),
            budget_tokens: budget,
            model: None,
            conversation: None,
            system: Some(
                "Answer from the user's own memories and conversations below; quote the \
                 decision and say when it was made. If they never decided, say so."
                    .into(),
            ),
            send: false,
            memories: None,
            retrieved: None,
            recent: Some(0),
        },
    )
    .await?;
    Ok((
        format!("What the user decided about {}", clip(topic.trim(), 80)),
        format!("{}\n\n{question}", c.prompt),
    ))
}
