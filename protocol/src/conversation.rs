//! Conversations: a stable id, a signed manifest, and a hash sequence `[manifest, acu_1 … acu_n]`.

use std::fmt;

use serde::{Deserialize, Serialize};
use vivim_identity::{PublicKey, Purpose, Signature};

use crate::{
    DecodeError, Hash,
    codec::{Record, check_len},
    limits::{MAX_MANIFEST_BYTES, MAX_SEQ_ITEMS, MAX_SHORT_STRING},
};

/// A conversation's stable id. It stays the same as the conversation grows; each version of the
/// conversation is a new hash sequence.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct ConvId(pub Hash);

impl ConvId {
    /// The id of an imported conversation: BLAKE3 (derive-key mode) of the owner, the provider
    /// and the provider's own conversation id. Re-importing gives the same id.
    pub fn for_import(owner: &PublicKey, provider: &str, source_id: &str) -> ConvId {
        let mut h = blake3::Hasher::new_derive_key("vivim/v1/conversation-id");
        h.update(owner.as_bytes());
        h.update(&(provider.len() as u64).to_le_bytes());
        h.update(provider.as_bytes());
        h.update(&(source_id.len() as u64).to_le_bytes());
        h.update(source_id.as_bytes());
        ConvId(Hash(*h.finalize().as_bytes()))
    }

    /// A fresh random id for a conversation born in VIVIM.
    pub fn random() -> ConvId {
        ConvId(Hash::random())
    }
}

impl fmt::Display for ConvId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ConvId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConvId({})", self.0.short())
    }
}

impl std::str::FromStr for ConvId {
    type Err = crate::hash::ParseHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(ConvId)
    }
}

/// Where a forked conversation came from. Each of the fork's ACUs also names the original
/// ACU it copies (`provider_meta["vivim.fork.of"]`), whose id commits to its author's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForkOf {
    /// The original conversation.
    pub conversation: ConvId,
    /// Its owner.
    pub owner: PublicKey,
    /// The original manifest's id (the version forked).
    pub manifest: Hash,
    /// The last original ACU copied (the fork copies the path from the root to it).
    pub upto: Hash,
}

/// A conversation manifest: what the conversation is, signed by its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version (1).
    pub v: u8,
    /// Stable conversation id.
    pub id: ConvId,
    /// Where it came from: `chatgpt`, `claude`, `gemini`, `vivim`, …
    pub provider: String,
    /// The provider's own conversation id, when imported.
    pub source_id: Option<String>,
    /// Where it can be seen at the provider.
    pub source_url: Option<String>,
    /// Title.
    pub title: String,
    /// Created (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// Last changed (ms since the Unix epoch).
    pub updated_at_ms: u64,
    /// Whose conversation it is.
    pub owner: PublicKey,
    /// Model name, when known.
    pub model: Option<String>,
    /// Visible messages on the head branch.
    pub message_count: u32,
    /// Estimated tokens over all ACUs.
    pub total_tokens: u64,
    /// The last ACU of the branch the user last saw.
    pub head: Option<Hash>,
    /// Where a fork came from (absent for conversations that are not forks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<ForkOf>,
    /// The owner's signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<Signature>,
}

impl Record for Manifest {
    const KIND: &'static str = "manifest";
    const VERSION: u8 = 1;
    const MAX_BYTES: usize = MAX_MANIFEST_BYTES;
    const PURPOSE: Purpose = Purpose::MANIFEST;

    fn signer(&self) -> PublicKey {
        self.owner
    }

    fn sig_slot(&mut self) -> &mut Option<Signature> {
        &mut self.sig
    }

    fn validate(&self) -> Result<(), String> {
        check_len("provider", &self.provider, MAX_SHORT_STRING)?;
        if let Some(m) = &self.model {
            check_len("model", m, MAX_SHORT_STRING)?;
        }
        Ok(())
    }
}

/// The bytes of an iroh-blobs hash sequence: the concatenated 32-byte hashes.
pub fn hash_seq_bytes(items: impl IntoIterator<Item = Hash>) -> Vec<u8> {
    let iter = items.into_iter();
    let mut out = Vec::with_capacity(iter.size_hint().0 * 32);
    for h in iter {
        out.extend_from_slice(&h.0);
    }
    out
}

/// Parses hash sequence bytes, at most [`MAX_SEQ_ITEMS`] items.
pub fn parse_hash_seq(bytes: &[u8]) -> Result<Vec<Hash>, DecodeError> {
    let kind = "hash sequence";
    if bytes.len() > MAX_SEQ_ITEMS * 32 {
        return Err(DecodeError::TooLarge {
            kind,
            size: bytes.len(),
            max: MAX_SEQ_ITEMS * 32,
        });
    }
    if !bytes.len().is_multiple_of(32) {
        return Err(DecodeError::Malformed {
            kind,
            detail: format!("{} bytes is not a multiple of 32", bytes.len()),
        });
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            Hash(h)
        })
        .collect())
}
