//! One replica of one document: apply updates, compute diffs, write through typed helpers.

use std::{collections::HashMap, panic::AssertUnwindSafe, sync::Arc};

use yrs::{
    Any, Doc, Map, MapRef, Options, Out, ReadTxn, StateVector, Transact, Update,
    updates::{decoder::Decode, encoder::Encode},
};

use crate::{DocId, DocKind};

/// Largest single update accepted (a PWA write, a gossip update, a catch-up state).
pub const MAX_UPDATE_BYTES: usize = 8 * 1024 * 1024;
/// Largest encoded state a document may grow to before writes are refused.
pub const MAX_DOC_BYTES: usize = 16 * 1024 * 1024;

/// Why an update or a write was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrdtError {
    /// The bytes are larger than [`MAX_UPDATE_BYTES`].
    #[error("update of {0} bytes is over the {MAX_UPDATE_BYTES}-byte limit")]
    TooLarge(usize),
    /// The bytes are not a Yjs v1 update or state vector.
    #[error("not a Yjs v1 update: {0}")]
    Decode(String),
    /// yrs could not integrate the update.
    #[error("applying the update: {0}")]
    Apply(String),
    /// A value could not be represented.
    #[error("value: {0}")]
    Value(String),
}

/// A replica of one document.
pub struct Replica {
    id: DocId,
    doc: Doc,
    maps: HashMap<&'static str, MapRef>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica").field("id", &self.id).finish()
    }
}

/// The root maps of each kind of document.
pub(crate) fn roots(kind: DocKind) -> &'static [&'static str] {
    match kind {
        DocKind::Graph => &[
            "profile",
            "follows",
            "friends",
            "blocks",
            "approvals",
            "joins",
        ],
        DocKind::Circle => &["meta", "members", "policy"],
        DocKind::Group | DocKind::Team => &["meta", "members"],
    }
}

impl Replica {
    /// An empty replica with a random yrs client id (every device and every session writes
    /// under its own client id, as Yjs expects).
    pub fn new(id: DocId) -> Replica {
        Self::build(id, Doc::new())
    }

    /// An empty replica writing under `client_id` (its low 53 bits; tests and benchmarks).
    pub fn with_client_id(id: DocId, client_id: u64) -> Replica {
        Self::build(
            id,
            Doc::with_options(Options::with_client_id(yrs::block::ClientID::new(
                client_id & ((1 << 53) - 1),
            ))),
        )
    }

    fn build(id: DocId, doc: Doc) -> Replica {
        let maps = roots(id.kind())
            .iter()
            .map(|name| (*name, doc.get_or_insert_map(*name)))
            .collect();
        Replica { id, doc, maps }
    }

    /// The document's id.
    pub fn id(&self) -> &DocId {
        &self.id
    }

    /// The yrs document (for the y-websocket endpoint).
    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    /// Applies an update (or a full state). Idempotent and order-independent; parts that
    /// depend on missing updates wait inside yrs until those arrive.
    pub fn apply(&self, update: &[u8]) -> Result<(), CrdtError> {
        if update.len() > MAX_UPDATE_BYTES {
            return Err(CrdtError::TooLarge(update.len()));
        }
        if !plausible_update(update) {
            return Err(CrdtError::Decode("a count larger than the update".into()));
        }
        // yrs decoders have panicked on hostile bytes in the past; a panic here must not take
        // the node down.
        let decoded = std::panic::catch_unwind(|| Update::decode_v1(update))
            .map_err(|_| CrdtError::Decode("malformed update".into()))?
            .map_err(|e| CrdtError::Decode(e.to_string()))?;
        let mut txn = self.doc.transact_mut();
        std::panic::catch_unwind(AssertUnwindSafe(|| txn.apply_update(decoded)))
            .map_err(|_| CrdtError::Apply("malformed update".into()))?
            .map_err(|e| CrdtError::Apply(e.to_string()))
    }

    /// The encoded state vector (what this replica has seen).
    pub fn state_vector(&self) -> Vec<u8> {
        self.doc.transact().state_vector().encode_v1()
    }

    /// What a replica with state vector `sv` is missing, as one update.
    pub fn diff(&self, sv: &[u8]) -> Result<Vec<u8>, CrdtError> {
        if sv.len() > MAX_UPDATE_BYTES {
            return Err(CrdtError::TooLarge(sv.len()));
        }
        if !plausible_state_vector(sv) {
            return Err(CrdtError::Decode(
                "a state vector larger than its bytes".into(),
            ));
        }
        let sv = std::panic::catch_unwind(|| StateVector::decode_v1(sv))
            .map_err(|_| CrdtError::Decode("malformed state vector".into()))?
            .map_err(|e| CrdtError::Decode(e.to_string()))?;
        Ok(self.doc.transact().encode_diff_v1(&sv))
    }

    /// The whole state as one update.
    pub fn snapshot(&self) -> Vec<u8> {
        self.doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    /// Runs `f` in one transaction and returns the update it made, or `None` when it changed
    /// nothing.
    pub fn write<F>(&self, f: F) -> Option<Vec<u8>>
    where
        F: FnOnce(&mut Writer<'_, '_>),
    {
        let mut txn = self.doc.transact_mut();
        let mut w = Writer {
            txn: &mut txn,
            maps: &self.maps,
            changed: false,
        };
        f(&mut w);
        let changed = w.changed;
        let update = txn.encode_update_v1();
        drop(txn);
        changed.then_some(update)
    }

    /// Reads the entry `key` of root map `map`.
    pub fn get(&self, map: &str, key: &str) -> Option<Any> {
        let m = self.maps.get(map)?;
        match m.get(&self.doc.transact(), key)? {
            Out::Any(a) => Some(a),
            _ => None,
        }
    }

    /// Every entry of root map `map`, sorted by key.
    pub fn entries(&self, map: &str) -> Vec<(String, Any)> {
        let Some(m) = self.maps.get(map) else {
            return Vec::new();
        };
        let txn = self.doc.transact();
        let mut out: Vec<(String, Any)> = m
            .iter(&txn)
            .filter_map(|(k, v)| match v {
                Out::Any(a) => Some((k.to_string(), a)),
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Writes inside one transaction (see [`Replica::write`]).
pub struct Writer<'a, 'doc> {
    txn: &'a mut yrs::TransactionMut<'doc>,
    maps: &'a HashMap<&'static str, MapRef>,
    changed: bool,
}

impl Writer<'_, '_> {
    /// Sets `key` of root map `map` to `value` (unchanged values are not rewritten).
    pub fn put(&mut self, map: &str, key: &str, value: Any) {
        let Some(m) = self.maps.get(map) else { return };
        if let Some(Out::Any(old)) = m.get(self.txn, key)
            && old == value
        {
            return;
        }
        m.insert(self.txn, key, value);
        self.changed = true;
    }

    /// Removes `key` from root map `map`.
    pub fn remove(&mut self, map: &str, key: &str) {
        if let Some(m) = self.maps.get(map)
            && m.remove(self.txn, key).is_some()
        {
            self.changed = true;
        }
    }
}

/// Builds an `Any` object from fields.
pub fn object<const N: usize>(fields: [(&str, Any); N]) -> Any {
    let map: HashMap<String, Any> = fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    Any::Map(Arc::new(map))
}

/// A millisecond time as an `Any` number.
pub fn ms(t: u64) -> Any {
    Any::Number(yrs::any::Number::Int(i64::try_from(t).unwrap_or(i64::MAX)))
}

fn read_var(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// yrs reserves memory for the counts an update declares before reading the entries (a
/// 4-byte state vector asked for a 76M-entry map; found by the `apply_yjs_update` fuzz
/// target). Every entry takes at least one byte, so a count larger than the remaining bytes is
/// refused before yrs sees it.
fn plausible_update(b: &[u8]) -> bool {
    let mut pos = 0;
    let Some(clients) = read_var(b, &mut pos) else {
        return false;
    };
    if clients > (b.len() - pos) as u64 {
        return false;
    }
    if clients > 0 {
        let Some(blocks) = read_var(b, &mut pos) else {
            return false;
        };
        return blocks <= (b.len() - pos) as u64;
    }
    true
}

/// A state vector is a count and that many (client, clock) pairs of at least two bytes.
fn plausible_state_vector(b: &[u8]) -> bool {
    let mut pos = 0;
    read_var(b, &mut pos).is_some_and(|n| n.saturating_mul(2) <= (b.len() - pos) as u64)
}

/// Walks a y-websocket frame's messages (sync step 1/2 and updates, awareness, awareness
/// queries, auth) checking every count against the bytes left, before yrs reserves memory for
/// it; any other message kind is refused.
fn plausible_sync_frame(b: &[u8]) -> bool {
    let mut pos = 0;
    let take = |pos: &mut usize| -> Option<&[u8]> {
        let len = usize::try_from(read_var(b, pos)?).ok()?;
        let end = pos.checked_add(len).filter(|e| *e <= b.len())?;
        let buf = &b[*pos..end];
        *pos = end;
        Some(buf)
    };
    while pos < b.len() {
        let ok = match read_var(b, &mut pos) {
            Some(0) => match read_var(b, &mut pos) {
                Some(0) => take(&mut pos).is_some_and(plausible_state_vector),
                Some(1 | 2) => take(&mut pos).is_some_and(plausible_update),
                _ => false,
            },
            Some(1) => take(&mut pos).is_some_and(|buf| {
                let mut p = 0;
                read_var(buf, &mut p).is_some_and(|n| n <= (buf.len() - p) as u64)
            }),
            Some(2) => matches!(read_var(b, &mut pos), Some(0)) && take(&mut pos).is_some(),
            Some(3) => true,
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Reads the y-sync messages of one y-websocket frame (what a Yjs client sends). yrs panics on
/// some hostile state vectors (a clock that overflows) and reserves memory for the counts a
/// frame declares (4.5 GB for a 14-byte frame) — both found by the `yjs_sync_message` fuzz
/// target: such a frame is an error here, never a panic or an allocation.
pub fn sync_messages(frame: &[u8]) -> Result<Vec<yrs::sync::Message>, CrdtError> {
    use yrs::updates::decoder::DecoderV1;
    if frame.len() > MAX_UPDATE_BYTES {
        return Err(CrdtError::TooLarge(frame.len()));
    }
    if !plausible_sync_frame(frame) {
        return Err(CrdtError::Decode(
            "a y-sync frame whose counts exceed its bytes, or an unknown message".into(),
        ));
    }
    std::panic::catch_unwind(|| {
        let mut decoder = DecoderV1::from(frame);
        yrs::sync::MessageReader::new(&mut decoder).collect::<Result<Vec<_>, _>>()
    })
    .map_err(|_| CrdtError::Decode("malformed y-sync message".into()))?
    .map_err(|e| CrdtError::Decode(e.to_string()))
}
