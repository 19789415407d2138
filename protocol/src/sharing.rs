//! Sharing intents and access grants.

use serde::{Deserialize, Serialize};
use vivim_identity::{PublicKey, Purpose, Signature};

use crate::{
    Hash,
    codec::Record,
    limits::{MAX_GRANTS, MAX_INTENT_BYTES},
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
    /// The members of a circle (its document id).
    Circle(Hash),
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
    /// Who may read.
    pub audience: Audience,
    /// Lifecycle state.
    pub status: IntentStatus,
    /// Created (ms since the Unix epoch).
    pub created_at_ms: u64,
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
        if let Some(exp) = self.expires_at_ms
            && exp < self.created_at_ms
        {
            return Err("expires before it was created".into());
        }
        Ok(())
    }
}
