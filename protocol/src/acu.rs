//! Atomic Chat Units: one signed message (or part of one) in a conversation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vivim_identity::{PublicKey, Purpose, Signature};

use crate::{
    ConvId, Hash, SealedBody,
    codec::{Record, check_len},
    limits::{MAX_ACU_BYTES, MAX_META_ENTRIES, MAX_SHORT_STRING},
};

/// Who spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The person.
    User,
    /// The model.
    Assistant,
    /// System prompt or instructions.
    System,
    /// A tool's output.
    Tool,
}

impl Role {
    /// The lowercase name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
            Role::Tool => "tool",
        }
    }
}

/// What the unit holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Plain text.
    Text,
    /// Code (see `lang`).
    Code,
    /// Markdown.
    Markdown,
    /// An image (the body holds a reference or a small inline image).
    Image,
    /// A file (reference).
    File,
    /// A quotation of other content.
    Quote,
    /// A tool call made by the model.
    ToolCall,
    /// The result of a tool call.
    ToolResult,
    /// The model's visible reasoning.
    Thinking,
    /// Anything else.
    Other,
}

impl Kind {
    /// The snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Code => "code",
            Kind::Markdown => "markdown",
            Kind::Image => "image",
            Kind::File => "file",
            Kind::Quote => "quote",
            Kind::ToolCall => "tool_call",
            Kind::ToolResult => "tool_result",
            Kind::Thinking => "thinking",
            Kind::Other => "other",
        }
    }
}

/// An ACU's content: in the clear, or sealed for an audience.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// Content bytes (UTF-8 text for text-like kinds).
    Plain(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Content encrypted with a content key.
    Sealed(SealedBody),
}

impl Body {
    /// A text body.
    pub fn text(s: impl Into<String>) -> Body {
        Body::Plain(s.into().into_bytes())
    }

    /// The text, if the body is plain UTF-8.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Body::Plain(b) => std::str::from_utf8(b).ok(),
            Body::Sealed(_) => None,
        }
    }

    /// Whether the body is sealed.
    pub fn is_sealed(&self) -> bool {
        matches!(self, Body::Sealed(_))
    }
}

/// An Atomic Chat Unit. Its id is the BLAKE3 hash of its signed encoding (see [`crate::Signed`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acu {
    /// Format version (1).
    pub v: u8,
    /// The conversation this unit belongs to.
    pub conversation: ConvId,
    /// The unit this one answers or continues (its parent in the message tree).
    pub parent: Option<Hash>,
    /// Who signed it.
    pub author: PublicKey,
    /// Who spoke.
    pub role: Role,
    /// What it holds.
    pub kind: Kind,
    /// Programming language for code.
    pub lang: Option<String>,
    /// Free-form category.
    pub category: Option<String>,
    /// The content.
    pub body: Body,
    /// When it was said (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// Provider-specific metadata (message id, model, …), ordered by key.
    pub provider_meta: BTreeMap<String, String>,
    /// The author's signature; absent while unsigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<Signature>,
}

impl Acu {
    /// An unsigned ACU with no language, category or metadata.
    pub fn new(
        conversation: ConvId,
        parent: Option<Hash>,
        author: PublicKey,
        role: Role,
        kind: Kind,
        body: Body,
        created_at_ms: u64,
    ) -> Acu {
        Acu {
            v: 1,
            conversation,
            parent,
            author,
            role,
            kind,
            lang: None,
            category: None,
            body,
            created_at_ms,
            provider_meta: BTreeMap::new(),
            sig: None,
        }
    }
}

impl Record for Acu {
    const KIND: &'static str = "ACU";
    const VERSION: u8 = 1;
    const MAX_BYTES: usize = MAX_ACU_BYTES;
    const PURPOSE: Purpose = Purpose::ACU;

    fn signer(&self) -> PublicKey {
        self.author
    }

    fn sig_slot(&mut self) -> &mut Option<Signature> {
        &mut self.sig
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(l) = &self.lang {
            check_len("lang", l, MAX_SHORT_STRING)?;
        }
        if let Some(c) = &self.category {
            check_len("category", c, MAX_SHORT_STRING)?;
        }
        if self.provider_meta.len() > MAX_META_ENTRIES {
            return Err(format!(
                "{} provider_meta entries, over {MAX_META_ENTRIES}",
                self.provider_meta.len()
            ));
        }
        Ok(())
    }
}
