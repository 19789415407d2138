//! What travels through the DHT: a node's signed peer record, and a conversation's signed
//! announcement (its latest version).

use serde::{Deserialize, Serialize};
use vivim_identity::{PublicKey, Purpose, Signature};

use crate::{
    ConvId, Hash,
    codec::{Record, check_len},
    limits::MAX_SHORT_STRING,
};

/// Largest encoded peer record or announcement (a DHT record value).
pub const MAX_DHT_RECORD_BYTES: usize = 8 * 1024;
/// Most addresses of each kind in a peer record.
pub const MAX_ADDRS: usize = 16;

/// Where to reach the holder of a DID: `/vivim/did/<did>` in the DHT. The libp2p peer id, the
/// iroh endpoint id and the X25519 key all follow from `key`, so they are not repeated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerRecord {
    /// Format version (1).
    pub v: u8,
    /// The node's key (its DID).
    pub key: PublicKey,
    /// libp2p multiaddrs.
    pub libp2p_addrs: Vec<String>,
    /// iroh direct addresses (`ip:port`).
    pub iroh_addrs: Vec<String>,
    /// iroh relay URL, if the node uses one.
    pub relay_url: Option<String>,
    /// When signed (ms since the Unix epoch); newer records replace older ones.
    pub issued_at_ms: u64,
    /// When it stops being valid.
    pub expires_at_ms: u64,
    /// Signature by `key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<Signature>,
}

impl Record for PeerRecord {
    const KIND: &'static str = "peer record";
    const VERSION: u8 = 1;
    const MAX_BYTES: usize = MAX_DHT_RECORD_BYTES;
    const PURPOSE: Purpose = Purpose::PEER_RECORD;

    fn signer(&self) -> PublicKey {
        self.key
    }

    fn sig_slot(&mut self) -> &mut Option<Signature> {
        &mut self.sig
    }

    fn validate(&self) -> Result<(), String> {
        if self.libp2p_addrs.len() > MAX_ADDRS || self.iroh_addrs.len() > MAX_ADDRS {
            return Err(format!("more than {MAX_ADDRS} addresses"));
        }
        for a in self.libp2p_addrs.iter().chain(&self.iroh_addrs) {
            check_len("address", a, 256)?;
        }
        if let Some(u) = &self.relay_url {
            check_len("relay_url", u, MAX_SHORT_STRING)?;
        }
        if self.expires_at_ms < self.issued_at_ms {
            return Err("expires before it was issued".into());
        }
        Ok(())
    }
}

/// "Conversation `conversation` is public; its latest version is the hash sequence `seq`":
/// `/vivim/conv/<id>` in the DHT and on the owner's gossip topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Announce {
    /// Format version (1).
    pub v: u8,
    /// The conversation.
    pub conversation: ConvId,
    /// Its current hash sequence `[manifest, acus…]`.
    pub seq: Hash,
    /// Its manifest's id (the first child of `seq`).
    pub manifest: Hash,
    /// The owner, who signs.
    pub owner: PublicKey,
    /// Title, for feeds.
    pub title: String,
    /// When published (ms since the Unix epoch); newer announcements replace older ones.
    pub published_at_ms: u64,
    /// Signature by `owner`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<Signature>,
}

impl Record for Announce {
    const KIND: &'static str = "announcement";
    const VERSION: u8 = 1;
    const MAX_BYTES: usize = MAX_DHT_RECORD_BYTES;
    const PURPOSE: Purpose = Purpose::custom("announce");

    fn signer(&self) -> PublicKey {
        self.owner
    }

    fn sig_slot(&mut self) -> &mut Option<Signature> {
        &mut self.sig
    }

    fn validate(&self) -> Result<(), String> {
        check_len("title", &self.title, MAX_SHORT_STRING)
    }
}
