//! Gossip envelopes: every message on a gossip topic, signed by its sender.

use serde::{Deserialize, Serialize};
use vivim_identity::{PublicKey, Purpose, Signature};

use crate::{
    codec::{Record, check_len},
    limits::{MAX_ENVELOPE_BYTES, MAX_SHORT_STRING},
};

/// A signed gossip message. Receivers drop anything whose signature, size, age or sequence
/// number is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Format version (1).
    pub v: u8,
    /// The gossip topic it was sent on (checked against the topic it arrived on).
    pub topic: String,
    /// Message kind within the topic (`doc-update`, `announce`, …).
    pub kind: String,
    /// The payload.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    /// Sender.
    pub from: PublicKey,
    /// Sender's sequence number on this topic, strictly increasing.
    pub seq: u64,
    /// When sent (ms since the Unix epoch).
    pub sent_at_ms: u64,
    /// Sender's signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<Signature>,
}

/// Why an otherwise valid envelope is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FreshnessError {
    /// Sent too long ago.
    #[error("envelope is {age_ms} ms old, older than {max_ms} ms")]
    TooOld {
        /// Its age.
        age_ms: u64,
        /// The limit.
        max_ms: u64,
    },
    /// Sent from the future (clock skew beyond tolerance).
    #[error("envelope is dated {ahead_ms} ms in the future")]
    FromTheFuture {
        /// How far ahead.
        ahead_ms: u64,
    },
    /// A sequence number not above the last one seen from this sender.
    #[error("sequence number {seq} is not above the last seen {last}")]
    Replay {
        /// The number received.
        seq: u64,
        /// The last seen.
        last: u64,
    },
    /// Arrived on another topic than it names.
    #[error("envelope for topic {named:?} arrived on {arrived:?}")]
    WrongTopic {
        /// Named in the envelope.
        named: String,
        /// Where it arrived.
        arrived: String,
    },
}

impl Envelope {
    /// Checks topic, age and sequence number against what the receiver knows.
    pub fn check_fresh(
        &self,
        arrived_on: &str,
        now_ms: u64,
        max_age_ms: u64,
        max_skew_ms: u64,
        last_seq: Option<u64>,
    ) -> Result<(), FreshnessError> {
        if self.topic != arrived_on {
            return Err(FreshnessError::WrongTopic {
                named: self.topic.clone(),
                arrived: arrived_on.to_string(),
            });
        }
        if self.sent_at_ms > now_ms + max_skew_ms {
            return Err(FreshnessError::FromTheFuture {
                ahead_ms: self.sent_at_ms - now_ms,
            });
        }
        let age = now_ms.saturating_sub(self.sent_at_ms);
        if age > max_age_ms {
            return Err(FreshnessError::TooOld {
                age_ms: age,
                max_ms: max_age_ms,
            });
        }
        if let Some(last) = last_seq
            && self.seq <= last
        {
            return Err(FreshnessError::Replay {
                seq: self.seq,
                last,
            });
        }
        Ok(())
    }
}

impl Record for Envelope {
    const KIND: &'static str = "gossip envelope";
    const VERSION: u8 = 1;
    const MAX_BYTES: usize = MAX_ENVELOPE_BYTES;
    const PURPOSE: Purpose = Purpose::ENVELOPE;

    fn signer(&self) -> PublicKey {
        self.from
    }

    fn sig_slot(&mut self) -> &mut Option<Signature> {
        &mut self.sig
    }

    fn validate(&self) -> Result<(), String> {
        check_len("topic", &self.topic, MAX_SHORT_STRING)?;
        check_len("kind", &self.kind, MAX_SHORT_STRING)
    }
}
