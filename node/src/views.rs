//! The shapes the node's data takes at its surfaces (JSON over the gateway, the CLI, exports):
//! views built from stored records, and the parameters of searches and pages. Serialization is a
//! boundary: services below build these, the gateway and the client only carry them.

pub mod export;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vivim_protocol::{Acu, Signed};

use crate::store::ConvRow;

/// RFC 3339 with milliseconds, UTC (what every view shows).
pub fn iso(ms: u64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms as i64)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// This node's identities.
#[derive(Serialize, ToSchema)]
pub struct IdentityView {
    /// `did:key:z6Mk…`
    pub did: String,
    /// libp2p peer id.
    pub peer_id: String,
    /// iroh endpoint id.
    pub endpoint_id: String,
    /// X25519 key agreement key (multibase).
    pub x25519: String,
}

/// A conversation in lists.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ConversationView {
    /// Stable id (hex).
    pub id: String,
    /// Title.
    pub title: String,
    /// Provider.
    pub provider: String,
    /// The provider's own conversation id.
    pub source_id: Option<String>,
    /// Where it lives at the provider.
    pub source_url: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Created (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// Updated (RFC 3339).
    pub updated_at: String,
    /// Updated (ms).
    pub updated_at_ms: u64,
    /// Visible messages on the head branch.
    pub message_count: u32,
    /// All ACUs, every branch.
    pub acu_count: u32,
    /// Estimated tokens.
    pub total_tokens: u64,
    /// Owner DID.
    pub owner: String,
    /// Head ACU.
    pub head: Option<String>,
    /// Current version (hash sequence).
    pub version: String,
}

impl From<&ConvRow> for ConversationView {
    fn from(r: &ConvRow) -> Self {
        let m = &r.manifest;
        ConversationView {
            id: m.id.to_string(),
            title: m.title.clone(),
            provider: m.provider.clone(),
            source_id: m.source_id.clone(),
            source_url: m.source_url.clone(),
            model: m.model.clone(),
            created_at: iso(m.created_at_ms),
            created_at_ms: m.created_at_ms,
            updated_at: iso(m.updated_at_ms),
            updated_at_ms: m.updated_at_ms,
            message_count: m.message_count,
            acu_count: r.acu_count,
            total_tokens: m.total_tokens,
            owner: m.owner.to_string(),
            head: m.head.map(|h| h.to_string()),
            version: r.seq.to_string(),
        }
    }
}

/// One message (ACU).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct MessageView {
    /// ACU id.
    pub id: String,
    /// Conversation id.
    pub conversation: String,
    /// Parent ACU.
    pub parent: Option<String>,
    /// Role.
    pub role: String,
    /// Kind.
    pub kind: String,
    /// Code language.
    pub lang: Option<String>,
    /// Text (absent for sealed bodies).
    pub text: Option<String>,
    /// Whether the body is sealed.
    pub sealed: bool,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Created (ms).
    pub created_at_ms: u64,
    /// Signer DID.
    pub author: String,
    /// Provider metadata.
    pub meta: std::collections::BTreeMap<String, String>,
}

impl From<&Signed<Acu>> for MessageView {
    fn from(s: &Signed<Acu>) -> Self {
        let a = s.value();
        MessageView {
            id: s.id().to_string(),
            conversation: a.conversation.to_string(),
            parent: a.parent.map(|p| p.to_string()),
            role: a.role.as_str().into(),
            kind: a.kind.as_str().into(),
            lang: a.lang.clone(),
            text: a.body.as_text().map(str::to_string),
            sealed: a.body.is_sealed(),
            created_at: iso(a.created_at_ms),
            created_at_ms: a.created_at_ms,
            author: a.author.to_string(),
            meta: a.provider_meta.clone(),
        }
    }
}

/// A conversation with its messages.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ConversationDetail {
    /// The conversation.
    pub conversation: ConversationView,
    /// Every message (all branches), parents before children.
    pub messages: Vec<MessageView>,
}

/// A page of conversations.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ConversationPage {
    /// Conversations, most recently updated first.
    pub items: Vec<ConversationView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Paging parameters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// From `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (1–500, default 50).
    pub limit: Option<usize>,
}

/// Search parameters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The query (words, "phrases", -exclusions).
    pub q: String,
    /// Hits per page (1–100, default 20).
    pub limit: Option<usize>,
    /// Hits to skip.
    pub offset: Option<usize>,
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this role.
    pub role: Option<String>,
    /// From (ms since the Unix epoch).
    pub from: Option<u64>,
    /// To (ms since the Unix epoch).
    pub to: Option<u64>,
    /// Only this conversation.
    pub conversation: Option<String>,
    /// `text` (BM25, default), `vector` (embeddings) or `hybrid` (both, fused by reciprocal
    /// rank).
    pub mode: Option<String>,
}

impl SearchParams {
    /// `limit` hits for `q` in `mode` (`None`: full text), with no filters.
    pub fn new(q: impl Into<String>, limit: usize, mode: Option<String>) -> SearchParams {
        SearchParams {
            q: q.into(),
            limit: Some(limit),
            offset: None,
            provider: None,
            role: None,
            from: None,
            to: None,
            conversation: None,
            mode,
        }
    }
}

/// A search hit.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct HitView {
    /// ACU id.
    pub acu: String,
    /// Conversation id.
    pub conversation: String,
    /// Conversation title.
    pub title: String,
    /// Provider.
    pub provider: String,
    /// Role.
    pub role: String,
    /// Kind.
    pub kind: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// BM25 score.
    pub score: f32,
    /// Plain snippet.
    pub snippet: String,
    /// Highlighted byte ranges in `snippet`.
    pub highlights: Vec<(usize, usize)>,
    /// HTML snippet with `<b>` highlights.
    pub snippet_html: String,
}

/// Search results.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct SearchResults {
    /// Hits, best first.
    pub hits: Vec<HitView>,
    /// Total matches.
    pub total: usize,
}
