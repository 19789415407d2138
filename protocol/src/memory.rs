//! Memories: what the user learned or decided, with provenance back to the ACUs.

use serde::{Deserialize, Serialize};
use vivim_identity::{PublicKey, Purpose, Signature};

use crate::{
    Hash,
    codec::Record,
    limits::{MAX_MEMORY_BYTES, MAX_PROVENANCE},
};

/// The kind of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryType {
    /// Something that happened.
    Episodic,
    /// A fact.
    Semantic,
    /// How to do something.
    Procedural,
    /// Short-lived working context.
    Working,
    /// Anything else.
    Other,
}

/// Where a memory stands after consolidation. Memories are never destroyed, only superseded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consolidation {
    /// In use.
    Active,
    /// Merged into another memory.
    Merged,
    /// Replaced by a newer memory that contradicts it.
    Superseded,
    /// Past its validity.
    Expired,
}

/// A memory record, signed by its owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// Format version (1).
    pub v: u8,
    /// Stable id of this memory.
    pub id: Hash,
    /// Whose memory.
    pub owner: PublicKey,
    /// What is remembered.
    pub content: String,
    /// Kind.
    pub memory_type: MemoryType,
    /// 0 to 1.
    pub importance: f32,
    /// Hash of the embedding vector blob, when computed.
    pub embedding: Option<Hash>,
    /// Consolidation state.
    pub consolidation: Consolidation,
    /// Valid from (ms since the Unix epoch).
    pub valid_from_ms: u64,
    /// Valid until, if it ended.
    pub valid_to_ms: Option<u64>,
    /// The ACUs (or memories) it was drawn from.
    pub provenance: Vec<Hash>,
    /// The owner's signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<Signature>,
}

impl Record for Memory {
    const KIND: &'static str = "memory";
    const VERSION: u8 = 1;
    const MAX_BYTES: usize = MAX_MEMORY_BYTES;
    const PURPOSE: Purpose = Purpose::MEMORY;

    fn signer(&self) -> PublicKey {
        self.owner
    }

    fn sig_slot(&mut self) -> &mut Option<Signature> {
        &mut self.sig
    }

    fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.importance) {
            return Err(format!("importance {} is outside 0..1", self.importance));
        }
        if self.provenance.len() > MAX_PROVENANCE {
            return Err(format!(
                "{} provenance links, over {MAX_PROVENANCE}",
                self.provenance.len()
            ));
        }
        if let Some(to) = self.valid_to_ms
            && to < self.valid_from_ms
        {
            return Err("valid_to is before valid_from".into());
        }
        Ok(())
    }
}
