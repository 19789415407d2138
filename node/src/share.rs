//! Sharing: sealed packages, signed intents, links, forks and the feed — the parts that need
//! no network. [`crate::share::net`] moves intents and packages between nodes.
//!
//! A share of a conversation (or one ACU) with a circle, with people or by link is **sealed**:
//! a fresh content key per share encrypts the original signed manifest and ACUs, one blob each
//! (`SealedBody` over the record's bytes, XChaCha20-Poly1305), and the blobs form an iroh-blobs
//! hash sequence — the intent's `payload`. The key is wrapped once per recipient (X25519 →
//! HKDF → XChaCha20-Poly1305) into the signed [`SharingIntent`]'s grants; a link carries it in
//! its fragment instead. Sealing costs one symmetric pass over the content plus one key wrap
//! per recipient; what travels, and what relays and non-members hold, is ciphertext. Opening
//! gives back the original signed records, checked exactly like a public fetch, so authorship
//! and provenance survive sharing.
//!
//! Membership over time: every share has its own key, sealed for the circle's members *at that
//! moment*; a member added later gets a grant for the circle's active shares (a new revision of
//! each intent), and a member removed gets nothing shared afterwards. Expired and revoked
//! shares are no longer served by this node (its blob server refuses their hashes).
//!
//! Tables (in the node's redb database):
//!
//! | table | key | value |
//! |---|---|---|
//! | `shares` | intent id | [`ShareRow`] (CBOR): the newest signed intent, our key, state |
//! | `feed` | received at (ms, BE) ‖ item id | [`FeedItem`] (CBOR) |

pub mod net;
pub(crate) mod service;
pub mod state;

pub use state::*;
