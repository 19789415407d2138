//! The plain values calls return: copies of the node's views with the fields an app needs.

use vivim_node::views::{ConversationView, HitView, MessageView};

/// A conversation in a list.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Conversation {
    /// Conversation id (hex).
    pub id: String,
    /// Title.
    pub title: String,
    /// Where it came from: chatgpt, claude, gemini, …
    pub provider: String,
    /// The model named by the export, if any.
    pub model: Option<String>,
    /// The original conversation's address, if the export gave one.
    pub source_url: Option<String>,
    /// Created (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// Last changed (ms since the Unix epoch).
    pub updated_at_ms: u64,
    /// Messages on the head branch that a reader sees.
    pub message_count: u32,
    /// Estimated tokens.
    pub total_tokens: u64,
    /// Owner's DID.
    pub owner: String,
}

impl From<&ConversationView> for Conversation {
    fn from(v: &ConversationView) -> Self {
        Conversation {
            id: v.id.clone(),
            title: v.title.clone(),
            provider: v.provider.clone(),
            model: v.model.clone(),
            source_url: v.source_url.clone(),
            created_at_ms: v.created_at_ms,
            updated_at_ms: v.updated_at_ms,
            message_count: v.message_count,
            total_tokens: v.total_tokens,
            owner: v.owner.clone(),
        }
    }
}

/// One message (an Atomic Chat Unit), signed by its author.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Message {
    /// ACU id (the hash of its signed bytes).
    pub id: String,
    /// The message it answers, if any.
    pub parent: Option<String>,
    /// user, assistant, system or tool.
    pub role: String,
    /// text, code, …
    pub kind: String,
    /// Its text (None when sealed or not text).
    pub text: Option<String>,
    /// Created (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// The DID that signed it.
    pub author: String,
}

impl From<&MessageView> for Message {
    fn from(v: &MessageView) -> Self {
        Message {
            id: v.id.clone(),
            parent: v.parent.clone(),
            role: v.role.clone(),
            kind: v.kind.clone(),
            text: v.text.clone(),
            created_at_ms: v.created_at_ms,
            author: v.author.clone(),
        }
    }
}

/// A conversation with its messages in order.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ConversationDetail {
    /// The conversation.
    pub conversation: Conversation,
    /// Its messages on the head branch, oldest first.
    pub messages: Vec<Message>,
}

/// A search hit: one message.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SearchHit {
    /// ACU id.
    pub acu: String,
    /// Its conversation.
    pub conversation: String,
    /// The conversation's title.
    pub title: String,
    /// The conversation's provider.
    pub provider: String,
    /// The message's role.
    pub role: String,
    /// Relevance (higher is better; not comparable across modes).
    pub score: f32,
    /// A snippet around the match.
    pub snippet: String,
}

impl From<&HitView> for SearchHit {
    fn from(v: &HitView) -> Self {
        SearchHit {
            acu: v.acu.clone(),
            conversation: v.conversation.clone(),
            title: v.title.clone(),
            provider: v.provider.clone(),
            role: v.role.clone(),
            score: v.score,
            snippet: v.snippet.clone(),
        }
    }
}

/// A conversation an import could not read.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Skipped {
    /// Position in the export.
    pub index: u64,
    /// Its title, when readable.
    pub title: Option<String>,
    /// Why.
    pub error: String,
}

/// What an import did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ImportSummary {
    /// The format read.
    pub format: String,
    /// New conversations.
    pub conversations: u64,
    /// Conversations that grew or changed.
    pub updated: u64,
    /// Conversations already stored exactly as they are.
    pub duplicates: u64,
    /// Messages written.
    pub messages: u64,
    /// Conversations that could not be read.
    pub skipped: Vec<Skipped>,
    /// Wall time (seconds).
    pub seconds: f64,
}

impl From<vivim_node::ImportSummary> for ImportSummary {
    fn from(s: vivim_node::ImportSummary) -> Self {
        ImportSummary {
            format: s.format,
            conversations: s.conversations,
            updated: s.updated,
            duplicates: s.duplicates,
            messages: s.messages,
            skipped: s
                .skipped
                .into_iter()
                .map(|k| Skipped {
                    index: k.index as u64,
                    title: k.title,
                    error: k.error,
                })
                .collect(),
            seconds: s.seconds,
        }
    }
}

/// A context assembled for an AI provider under a token budget.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Context {
    /// The whole prompt as one text.
    pub prompt: String,
    /// The system part (notes about the user, retrieved messages).
    pub system: String,
    /// Tokens used.
    pub total_tokens: u64,
    /// Tokens allowed.
    pub budget_tokens: u64,
    /// The tokenizer that counted them.
    pub tokenizer: String,
    /// Memories included.
    pub memory_ids: Vec<String>,
    /// Messages included.
    pub acu_ids: Vec<String>,
}

/// A share made by this node (or received by it).
#[derive(Debug, Clone, uniffi::Record)]
pub struct Share {
    /// Share (intent) id.
    pub id: String,
    /// Who for: public, circle, users or link.
    pub audience: String,
    /// draft, active, revoked, expired, …
    pub status: String,
    /// What was shared.
    pub content: String,
    /// The link that opens it (link shares made here).
    pub link: Option<String>,
    /// Recipients' DIDs.
    pub recipients: Vec<String>,
    /// Expiry (ms since the Unix epoch).
    pub expires_at_ms: Option<u64>,
}

impl From<vivim_node::share::state::ShareOut> for Share {
    fn from(s: vivim_node::share::state::ShareOut) -> Self {
        Share {
            id: s.id,
            audience: s.audience,
            status: s.status,
            content: s.content,
            link: s.link,
            recipients: s.recipients,
            expires_at_ms: s.expires_at_ms,
        }
    }
}

/// What opening a share link stored.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Opened {
    /// The conversation now stored here.
    pub conversation: String,
    /// Its title.
    pub title: String,
    /// Its owner's DID.
    pub owner: String,
    /// Messages stored.
    pub acus: u64,
    /// Who served it.
    pub source: String,
    /// Wall time (seconds).
    pub seconds: f64,
}

impl From<vivim_node::share::net::Opened> for Opened {
    fn from(o: vivim_node::share::net::Opened) -> Self {
        Opened {
            conversation: o.conversation,
            title: o.title,
            owner: o.owner,
            acus: o.acus as u64,
            source: o.source,
            seconds: o.seconds,
        }
    }
}

/// Something that happened on the node.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Event {
    /// conversation_imported, acu_added, conversation_deleted, import_finished, feed_item,
    /// doc_changed, …
    pub kind: String,
    /// The conversation, ACU or document it is about, when there is one.
    pub id: Option<String>,
    /// The whole event as JSON (the same shape as on the gateway's `/api/ws`).
    pub json: String,
    /// Events dropped just before this one because the reader was too slow.
    pub skipped: u64,
}
