//! Sharing intents and access grants.

use serde::{Deserialize, Serialize};
use vivim_identity::{PublicKey, Purpose, Signature};

use crate::{
    Hash,
    codec::Record,
    limits::{MAX_GRANTS, MAX_INTENT_BYTES, MAX_SHORT_STRING},
};

/// What the actor means to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentKind {
    /// Share with an audience.
    Share,
    /// Publish publicly.
    Publish,
    /// Allow embedding elsewhere.
    Embed,
    /// Fork into one's own space.
    Fork,
}

/// What is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentType {
    /// A whole conversation.
    Conversation,
    /// One ACU.
    Acu,
    /// A collection of items.
    Collection,
    /// A memory.
    Memory,
}

/// Who may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Anyone.
    Public,
    /// The members of a circle (its document id, `circle.<writer>.<name>`).
    Circle(String),
    /// These people.
    Users(Vec<PublicKey>),
    /// Whoever holds the link (the key travels in the URL fragment).
    Link,
}

/// Where an intent is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    /// Not yet in effect.
    Draft,
    /// Waiting for something (e.g. approval).
    Pending,
    /// In effect.
    Active,
    /// Past its expiry.
    Expired,
    /// Withdrawn by the actor.
    Revoked,
}

/// A content key wrapped for one recipient (see [`crate::wrap_key`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessGrant {
    /// Who can open it.
    pub recipient: PublicKey,
    /// Which content key it wraps.
    pub key_id: Hash,
    /// The wrapper's ephemeral X25519 public key.
    #[serde(with = "serde_bytes")]
    pub ephemeral: [u8; 32],
    /// The wrapped content key (32 bytes + 16-byte tag).
    #[serde(with = "serde_bytes")]
    pub wrapped: Vec<u8>,
}

/// A signed statement that `actor` shares `content` with `audience`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharingIntent {
    /// Format version (1).
    pub v: u8,
    /// Intent id.
    pub id: Hash,
    /// Who shares.
    pub actor: PublicKey,
    /// Share, publish, embed or fork.
    pub intent: IntentKind,
    /// What kind of content.
    pub content_type: ContentType,
    /// The content's id (conversation id, ACU hash, …).
    pub content: Hash,
    /// The iroh-blobs hash sequence that carries it: for a sealed share
    /// `[sealed manifest, sealed ACU…]`, each item a [`crate::SealedBody`] over the original
    /// signed record; for a public one the conversation's own sequence. `None` for a fork,
    /// which carries nothing.
    pub payload: Option<Hash>,
    /// Who may read.
    pub audience: Audience,
    /// Lifecycle state.
    pub status: IntentStatus,
    /// Created (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// Revision: each change of status or grants is re-signed with the next number; the
    /// highest revision of an id wins.
    pub revision: u32,
    /// When this revision was signed (ms since the Unix epoch).
    pub updated_at_ms: u64,
    /// Expires (ms since the Unix epoch), if ever.
    pub expires_at_ms: Option<u64>,
    /// Content keys wrapped for the audience.
    pub grants: Vec<AccessGrant>,
    /// The actor's signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<Signature>,
}

impl Record for SharingIntent {
    const KIND: &'static str = "sharing intent";
    const VERSION: u8 = 1;
    const MAX_BYTES: usize = MAX_INTENT_BYTES;
    const PURPOSE: Purpose = Purpose::SHARING_INTENT;

    fn signer(&self) -> PublicKey {
        self.actor
    }

    fn sig_slot(&mut self) -> &mut Option<Signature> {
        &mut self.sig
    }

    fn validate(&self) -> Result<(), String> {
        if self.grants.len() > MAX_GRANTS {
            return Err(format!("{} grants, over {MAX_GRANTS}", self.grants.len()));
        }
        if let Audience::Users(u) = &self.audience
            && u.len() > MAX_GRANTS
        {
            return Err(format!("{} users, over {MAX_GRANTS}", u.len()));
        }
        if let Audience::Circle(c) = &self.audience {
            crate::codec::check_len("circle", c, MAX_SHORT_STRING)?;
        }
        if self.updated_at_ms < self.created_at_ms {
            return Err("updated before it was created".into());
        }
        if let Some(exp) = self.expires_at_ms
            && exp < self.created_at_ms
        {
            return Err("expires before it was created".into());
        }
        Ok(())
    }
}

impl SharingIntent {
    /// Whether the intent is past its expiry at `now_ms`.
    pub fn expired_at(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|e| e <= now_ms)
    }

    /// The status in effect at `now_ms` (an active intent past its expiry is expired).
    pub fn status_at(&self, now_ms: u64) -> IntentStatus {
        match self.status {
            IntentStatus::Active | IntentStatus::Pending if self.expired_at(now_ms) => {
                IntentStatus::Expired
            }
            s => s,
        }
    }

    /// The grant addressed to `who`, if any.
    pub fn grant_for(&self, who: &PublicKey) -> Option<&AccessGrant> {
        self.grants.iter().find(|g| &g.recipient == who)
    }
}

impl IntentStatus {
    /// The lowercase name.
    pub fn as_str(&self) -> &'static str {
        match self {
            IntentStatus::Draft => "draft",
            IntentStatus::Pending => "pending",
            IntentStatus::Active => "active",
            IntentStatus::Expired => "expired",
            IntentStatus::Revoked => "revoked",
        }
    }
}

impl IntentKind {
    /// The lowercase name.
    pub fn as_str(&self) -> &'static str {
        match self {
            IntentKind::Share => "share",
            IntentKind::Publish => "publish",
            IntentKind::Embed => "embed",
            IntentKind::Fork => "fork",
        }
    }
}
