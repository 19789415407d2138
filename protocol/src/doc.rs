//! A signed update of a social-graph document (a yrs update or full state), as it travels on
//! gossip topic `vivim/doc/1/<doc-id>` and in catch-up answers.

use serde::{Deserialize, Serialize};
use vivim_identity::{PublicKey, Purpose, Signature};

use crate::codec::{Record, check_len};

/// Largest encoded document update (a catch-up answer may carry a document's full state).
pub const MAX_DOC_UPDATE_BYTES: usize = 8 * 1024 * 1024 + 4096;

/// What a [`DocUpdate`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocUpdateKind {
    /// One change, number `seq` of the writer's changes to this document.
    Update,
    /// The document's whole state, covering changes 1..=`seq`.
    State,
}

/// "Change number `seq` to document `doc` is `update`", signed by the document's writer.
/// Receivers apply only updates whose signer is the writer named in `doc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocUpdate {
    /// Format version (1).
    pub v: u8,
    /// The document id (`<kind>.<writer>.<name>`).
    pub doc: String,
    /// The writer, who signs.
    pub writer: PublicKey,
    /// Change number (from 1), or the last change a state covers.
    pub seq: u64,
    /// Update or state.
    pub kind: DocUpdateKind,
    /// The Yjs v1 update bytes.
    #[serde(with = "serde_bytes")]
    pub update: Vec<u8>,
    /// When signed (ms since the Unix epoch).
    pub issued_at_ms: u64,
    /// Signature by `writer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<Signature>,
}

impl Record for DocUpdate {
    const KIND: &'static str = "document update";
    const VERSION: u8 = 1;
    const MAX_BYTES: usize = MAX_DOC_UPDATE_BYTES;
    const PURPOSE: Purpose = Purpose::custom("doc-update");

    fn signer(&self) -> PublicKey {
        self.writer
    }

    fn sig_slot(&mut self) -> &mut Option<Signature> {
        &mut self.sig
    }

    fn validate(&self) -> Result<(), String> {
        check_len("doc", &self.doc, 200)?;
        if self.seq == 0 && self.kind == DocUpdateKind::Update {
            return Err("updates are numbered from 1".into());
        }
        Ok(())
    }
}
