//! The request-response protocol `/vivim/doc/1.0.0`: its requests and answers, CBOR-encoded.
//! Document sync and sharing both speak it; [`crate::net::p2p::P2p`] decodes a request once and
//! hands it to the feature that takes it.

use serde::{Deserialize, Serialize};

use crate::cbor;

/// A request on the document protocol.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
#[non_exhaustive]
pub enum DocRequest {
    /// "Send me what comes after update `have`."
    Sync {
        /// The document id.
        doc: String,
        /// The last update the asker applied.
        have: u64,
    },
    /// "This document concerns you."
    Notify {
        /// The document id.
        doc: String,
    },
    /// "Here is a sharing intent for you" (the signed intent).
    Share {
        /// The signed intent's bytes.
        intent: serde_bytes::ByteBuf,
    },
    /// "A sharing intent for you is too large to send: fetch this blob from me."
    ShareRef {
        /// The intent blob's BLAKE3 hash.
        hash: serde_bytes::ByteBuf,
    },
}

/// An answer: signed updates in order (empty for requests that only need an acknowledgement).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DocAnswer {
    /// Signed document updates, oldest first.
    pub updates: Vec<serde_bytes::ByteBuf>,
}

impl DocRequest {
    /// The request's bytes.
    pub fn encode(&self) -> Vec<u8> {
        cbor(self)
    }
}

/// The request that delivers a signed sharing intent.
pub fn share_request(intent: &[u8]) -> Vec<u8> {
    DocRequest::Share {
        intent: serde_bytes::ByteBuf::from(intent.to_vec()),
    }
    .encode()
}

/// The request that names an intent blob to fetch.
pub fn share_ref_request(hash: vivim_protocol::Hash) -> Vec<u8> {
    DocRequest::ShareRef {
        hash: serde_bytes::ByteBuf::from(hash.0.to_vec()),
    }
    .encode()
}

/// The empty answer (an acknowledgement).
pub fn ack() -> Vec<u8> {
    cbor(&DocAnswer::default())
}
