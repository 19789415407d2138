//! Size limits every decoder checks before it parses anything.

/// Largest encoded ACU (a message with its signature): 1 MiB. Larger content (images, files)
/// travels as its own blob and the ACU holds a reference.
pub const MAX_ACU_BYTES: usize = 1024 * 1024;
/// Largest encoded conversation manifest.
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;
/// Largest encoded memory record.
pub const MAX_MEMORY_BYTES: usize = 256 * 1024;
/// Largest encoded sharing intent (grants for many recipients).
pub const MAX_INTENT_BYTES: usize = 2 * 1024 * 1024;
/// Largest encoded gossip envelope. Below gossipsub's 64 KiB frame limit with room for the
/// libp2p framing; bigger payloads travel as blobs and the envelope carries their hash.
pub const MAX_ENVELOPE_BYTES: usize = 60 * 1024;
/// Most items in one hash sequence (a conversation's manifest and ACUs).
pub const MAX_SEQ_ITEMS: usize = 200_000;
/// Most recipients of one sealing.
pub const MAX_GRANTS: usize = 10_000;
/// Most provenance links on one memory.
pub const MAX_PROVENANCE: usize = 1_024;
/// Longest string field of a small kind (provider, model, language, topic, …).
pub const MAX_SHORT_STRING: usize = 1_024;
/// Most entries in an ACU's provider metadata.
pub const MAX_META_ENTRIES: usize = 64;
