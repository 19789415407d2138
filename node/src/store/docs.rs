//! The social graph on a node: the yrs documents of `vivim-crdt`, their signed updates, where
//! they are stored, and what a peer that asks for catch-up gets.
//!
//! Every change the writer makes is update number `seq` of that document, signed as a
//! [`DocUpdate`] and stored durably *before* it leaves the node (a number is never reused, even
//! after a crash). Other replicas apply a writer's updates in number order (see
//! [`vivim_crdt::Inbox`]) and keep the signed updates so that they can serve them to peers that
//! missed them; the writer answers catch-up with a freshly signed full state when that is
//! shorter. Nothing a peer sends is applied unless the document's writer signed it.
//!
//! Tables (in the node's redb database):
//!
//! | table | key | value |
//! |---|---|---|
//! | `doc_state` | doc id | last applied update number (u64 BE) ‖ yrs state (v1) |
//! | `doc_log` | (doc id, update number) | the signed [`DocUpdate`] |
//! | `doc_full` | doc id | the newest signed full state received (non-writers) |

use crate::{lock, now_ms};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::broadcast;
use vivim_crdt::{DocId, Inbox, Offered, Replica, schema::Writer};
use vivim_identity::{Did, Keypair};
use vivim_protocol::{DocUpdate, DocUpdateKind, Signed};

pub(crate) const DOC_STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("doc_state");
pub(crate) const DOC_LOG: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("doc_log");
pub(crate) const DOC_FULL: TableDefinition<&str, &[u8]> = TableDefinition::new("doc_full");

pub use crate::net::gossip::DOC_TOPIC_PREFIX;
/// Signed updates kept per document for peers that missed them; older ones are dropped (the
/// writer answers with a full state instead).
pub const LOG_KEEP: u64 = 2_000;
/// The yrs state is saved every this many updates (and with every full state); the signed
/// updates since are replayed when the document is loaded.
pub const SNAPSHOT_EVERY: u64 = 64;
/// Largest catch-up answer.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// The gossip topic of a document.
pub fn doc_topic(id: &DocId) -> String {
    format!("{DOC_TOPIC_PREFIX}{id}")
}

/// Why a social-graph operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SocialError {
    /// Only the document's writer may change it.
    #[error("{0} belongs to {1}; only its owner can change it")]
    NotWriter(String, String),
    /// No such document here.
    #[error("no document {0} on this node")]
    NotFound(String),
    /// A request that makes no sense.
    #[error("{0}")]
    Invalid(String),
    /// What a peer sent failed verification; nothing was applied.
    #[error("rejected document update: {0}")]
    Rejected(String),
    /// The CRDT refused the bytes.
    #[error(transparent)]
    Crdt(#[from] vivim_crdt::CrdtError),
    /// Storage failed.
    #[error("document storage: {0}")]
    Store(String),
}

macro_rules! store_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for SocialError {
            fn from(e: $t) -> Self {
                SocialError::Store(e.to_string())
            }
        }
    )*};
}
store_errors!(
    redb::Error,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// A change to a document, for local listeners (y-websocket clients, `/api/ws`).
#[derive(Debug, Clone)]
pub struct DocChange {
    /// The document.
    pub doc: DocId,
    /// Its last applied update number.
    pub seq: u64,
    /// What changed, as one Yjs update.
    pub update: Arc<Vec<u8>>,
    /// Made on this node (rather than received).
    pub local: bool,
}

/// What [`Social::receive`] did with a signed update.
#[derive(Debug, Clone)]
pub struct Received {
    /// The document.
    pub doc: DocId,
    /// Applied, held or old.
    pub outcome: Offered,
    /// Updates are missing from this number on (fetch them).
    pub missing_from: Option<u64>,
}

struct Slot {
    replica: Replica,
    inbox: Mutex<Inbox>,
}

/// The node's documents.
pub struct Social {
    key: Keypair,
    db: Arc<redb::Database>,
    slots: Mutex<HashMap<DocId, Arc<Slot>>>,
    changes: broadcast::Sender<DocChange>,
    syncing: Mutex<std::collections::HashSet<DocId>>,
}

/// A catch-up in progress (see [`Social::begin_sync`]); ends when dropped.
pub struct SyncGuard<'a> {
    social: &'a Social,
    id: DocId,
}

impl Drop for SyncGuard<'_> {
    fn drop(&mut self) {
        lock(&self.social.syncing).remove(&self.id);
    }
}

impl std::fmt::Debug for Social {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Social").finish_non_exhaustive()
    }
}

impl Social {
    /// Opens the document tables in `db`.
    pub fn open(key: Keypair, db: Arc<redb::Database>) -> Result<Social, SocialError> {
        let tx = db.begin_write()?;
        tx.open_table(DOC_STATE)?;
        tx.open_table(DOC_LOG)?;
        tx.open_table(DOC_FULL)?;
        tx.commit()?;
        let (changes, _) = broadcast::channel(1024);
        Ok(Social {
            key,
            db,
            slots: Mutex::new(HashMap::new()),
            changes,
            syncing: Mutex::new(Default::default()),
        })
    }

    /// This node's DID.
    pub fn me(&self) -> Did {
        self.key.did()
    }

    /// Changes as they are applied.
    pub fn changes(&self) -> broadcast::Receiver<DocChange> {
        self.changes.subscribe()
    }

    /// Marks a catch-up of `id` as running; `None` when one already runs (so that a node that
    /// comes back does not fetch the same updates from every peer at once).
    pub fn begin_sync(&self, id: &DocId) -> Option<SyncGuard<'_>> {
        lock(&self.syncing).insert(id.clone()).then(|| SyncGuard {
            social: self,
            id: id.clone(),
        })
    }

    /// Every document stored here.
    pub fn ids(&self) -> Result<Vec<DocId>, SocialError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(DOC_STATE)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, _) = row?;
            if let Ok(id) = k.value().parse() {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Whether the document is stored here.
    pub fn has(&self, id: &DocId) -> bool {
        self.slot(id, false).ok().flatten().is_some()
    }

    fn slot(&self, id: &DocId, create: bool) -> Result<Option<Arc<Slot>>, SocialError> {
        if let Some(s) = lock(&self.slots).get(id) {
            return Ok(Some(s.clone()));
        }
        let stored = {
            let tx = self.db.begin_read()?;
            let t = tx.open_table(DOC_STATE)?;
            t.get(id.to_string().as_str())?.map(|v| v.value().to_vec())
        };
        let replica = Replica::new(id.clone());
        let applied = match stored {
            Some(bytes) if bytes.len() >= 8 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&bytes[..8]);
                replica
                    .apply(&bytes[8..])
                    .map_err(|e| SocialError::Store(format!("document {id} is damaged: {e}")))?;
                u64::from_be_bytes(n)
            }
            Some(_) => return Err(SocialError::Store(format!("document {id} is damaged"))),
            None if create => 0,
            None => return Ok(None),
        };
        // The snapshot is written every few updates; the signed updates after it are replayed.
        let mut inbox = Inbox::new(applied);
        {
            let key = id.to_string();
            let tx = self.db.begin_read()?;
            let log = tx.open_table(DOC_LOG)?;
            for row in log.range((key.as_str(), applied + 1)..=(key.as_str(), u64::MAX))? {
                let (_, v) = row?;
                if let Ok(u) = Signed::<DocUpdate>::decode(v.value()) {
                    let _ = inbox.offer(&replica, u.value().seq, &u.value().update);
                }
            }
        }
        let slot = Arc::new(Slot {
            replica,
            inbox: Mutex::new(inbox),
        });
        let mut slots = lock(&self.slots);
        Ok(Some(slots.entry(id.clone()).or_insert(slot).clone()))
    }

    /// Reads a document (`None` when it is not stored here).
    pub fn read<R>(&self, id: &DocId, f: impl FnOnce(&Replica) -> R) -> Option<R> {
        self.slot(id, false).ok().flatten().map(|s| f(&s.replica))
    }

    /// The last update number applied to a document (0 when absent).
    pub fn applied(&self, id: &DocId) -> u64 {
        self.slot(id, false)
            .ok()
            .flatten()
            .map(|s| lock(&s.inbox).applied())
            .unwrap_or(0)
    }

    /// Whether updates of `id` wait for an earlier one.
    pub fn has_gap(&self, id: &DocId) -> bool {
        self.slot(id, false)
            .ok()
            .flatten()
            .is_some_and(|s| lock(&s.inbox).has_gap())
    }

    /// Starts keeping a document of someone else's (empty until updates arrive).
    pub fn track(&self, id: &DocId) -> Result<bool, SocialError> {
        if self.has(id) {
            return Ok(false);
        }
        let slot = self
            .slot(id, true)?
            .ok_or_else(|| SocialError::NotFound(id.to_string()))?;
        // Under the inbox lock: an update received meanwhile (a catch-up racing this call)
        // has saved a newer state, which this must not overwrite with an older one.
        let inbox = lock(&slot.inbox);
        let snapshot = slot.replica.snapshot();
        self.save(id, inbox.applied(), Some(&snapshot), &[], None, true)?;
        Ok(true)
    }

    /// Forgets a document of someone else's.
    pub fn forget(&self, id: &DocId) -> Result<(), SocialError> {
        lock(&self.slots).remove(id);
        let key = id.to_string();
        let tx = self.db.begin_write()?;
        {
            tx.open_table(DOC_STATE)?.remove(key.as_str())?;
            tx.open_table(DOC_FULL)?.remove(key.as_str())?;
            let mut log = tx.open_table(DOC_LOG)?;
            log.retain_in((key.as_str(), 0)..=(key.as_str(), u64::MAX), |_, _| false)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Changes one of this node's own documents (created when absent). Returns the signed
    /// update, stored durably, or `None` when `f` changed nothing.
    pub fn write<F>(&self, id: &DocId, f: F) -> Result<Option<Signed<DocUpdate>>, SocialError>
    where
        F: FnOnce(&mut Writer<'_, '_>),
    {
        self.check_writer(id)?;
        let slot = self
            .slot(id, true)?
            .ok_or_else(|| SocialError::NotFound(id.to_string()))?;
        let mut inbox = lock(&slot.inbox);
        let Some(update) = slot.replica.write(f) else {
            return Ok(None);
        };
        self.commit_local(id, &slot, &mut inbox, update).map(Some)
    }

    /// Applies an update made by a local Yjs client (the PWA) to one of this node's own
    /// documents, and signs it like any other change.
    pub fn write_update(
        &self,
        id: &DocId,
        update: &[u8],
    ) -> Result<Option<Signed<DocUpdate>>, SocialError> {
        self.check_writer(id)?;
        let slot = self
            .slot(id, true)?
            .ok_or_else(|| SocialError::NotFound(id.to_string()))?;
        let mut inbox = lock(&slot.inbox);
        let before = slot.replica.state_vector();
        slot.replica.apply(update)?;
        // Only what was new to us is our change (a client may resend what we have).
        let diff = slot.replica.diff(&before)?;
        if slot.replica.state_vector() == before && diff.len() <= 2 {
            return Ok(None);
        }
        self.commit_local(id, &slot, &mut inbox, update.to_vec())
            .map(Some)
    }

    fn check_writer(&self, id: &DocId) -> Result<(), SocialError> {
        if id.writer() != &self.key.did() {
            return Err(SocialError::NotWriter(
                id.to_string(),
                id.writer().to_string(),
            ));
        }
        Ok(())
    }

    fn commit_local(
        &self,
        id: &DocId,
        slot: &Slot,
        inbox: &mut Inbox,
        update: Vec<u8>,
    ) -> Result<Signed<DocUpdate>, SocialError> {
        let seq = inbox.applied() + 1;
        let signed = self.sign(id, seq, DocUpdateKind::Update, update.clone())?;
        // The first change creates the document's row (listings read it).
        let snapshot =
            (seq == 1 || seq.is_multiple_of(SNAPSHOT_EVERY)).then(|| slot.replica.snapshot());
        // Durable before it leaves the node: a number is never given to two changes.
        self.save(
            id,
            seq,
            snapshot.as_deref(),
            &[(seq, signed.bytes())],
            None,
            true,
        )?;
        *inbox = Inbox::new(seq);
        let _ = self.changes.send(DocChange {
            doc: id.clone(),
            seq,
            update: Arc::new(update),
            local: true,
        });
        Ok(signed)
    }

    fn sign(
        &self,
        id: &DocId,
        seq: u64,
        kind: DocUpdateKind,
        update: Vec<u8>,
    ) -> Result<Signed<DocUpdate>, SocialError> {
        Signed::sign(
            DocUpdate {
                v: 1,
                doc: id.to_string(),
                writer: self.key.public(),
                seq,
                kind,
                update,
                issued_at_ms: now_ms(),
                sig: None,
            },
            &self.key,
        )
        .map_err(|e| SocialError::Invalid(e.to_string()))
    }

    /// Checks a signed update from a peer against its document's writer and applies it (in
    /// number order). With `track`, a document not stored yet is started; otherwise updates of
    /// unknown documents are refused.
    pub fn receive(&self, bytes: &[u8], track: bool) -> Result<Received, SocialError> {
        let signed =
            Signed::<DocUpdate>::decode(bytes).map_err(|e| SocialError::Rejected(e.to_string()))?;
        let u = signed.value();
        let id: DocId = u
            .doc
            .parse()
            .map_err(|e| SocialError::Rejected(format!("document id: {e}")))?;
        if u.writer != id.writer().public_key() {
            return Err(SocialError::Rejected(format!(
                "{id} is written by {}, not by {}",
                id.writer(),
                Did::from_public_key(u.writer)
            )));
        }
        if id.writer() == &self.key.did() {
            // Our own document coming back: we are its only source of truth.
            return Ok(Received {
                doc: id,
                outcome: Offered::Old,
                missing_from: None,
            });
        }
        let slot = match self.slot(&id, track)? {
            Some(s) => s,
            None => return Err(SocialError::NotFound(id.to_string())),
        };
        let mut inbox = lock(&slot.inbox);
        let before = slot.replica.state_vector();
        let outcome = match u.kind {
            DocUpdateKind::Update => inbox.offer(&slot.replica, u.seq, &u.update)?,
            DocUpdateKind::State => inbox.offer_state(&slot.replica, u.seq, &u.update)?,
        };
        let missing_from = inbox.has_gap().then(|| inbox.applied() + 1);
        if outcome == Offered::Held && u.kind == DocUpdateKind::Update {
            // Kept signed for peers even before it can be applied.
            let key = id.to_string();
            let mut tx = self.db.begin_write()?;
            tx.set_durability(redb::Durability::None)?;
            tx.open_table(DOC_LOG)?
                .insert((key.as_str(), u.seq), signed.bytes())?;
            tx.commit()?;
        }
        if let Offered::Applied(drained) = outcome {
            let applied = inbox.applied();
            let snapshot = (u.kind == DocUpdateKind::State
                || drained > 0
                || applied.is_multiple_of(SNAPSHOT_EVERY))
            .then(|| slot.replica.snapshot());
            let entry = [(u.seq, signed.bytes())];
            let (log, full) = match u.kind {
                DocUpdateKind::Update => (&entry[..], None),
                DocUpdateKind::State => (&entry[..0], Some(signed.bytes())),
            };
            // Received updates can be fetched again from their writer or other peers: no
            // fsync per update (the next durable commit or a catch-up covers a crash).
            self.save(&id, applied, snapshot.as_deref(), log, full, false)?;
            let update = slot.replica.diff(&before)?;
            let _ = self.changes.send(DocChange {
                doc: id.clone(),
                seq: applied,
                update: Arc::new(update),
                local: false,
            });
        }
        Ok(Received {
            doc: id,
            outcome,
            missing_from,
        })
    }

    /// What a peer that has applied updates up to `have` is missing, as signed updates (or a
    /// signed full state) in order.
    pub fn answer(&self, id: &DocId, have: u64) -> Result<Vec<Vec<u8>>, SocialError> {
        let Some(slot) = self.slot(id, false)? else {
            return Ok(Vec::new());
        };
        let mine = id.writer() == &self.key.did();
        // Only the writer answers with a full state; it is taken with the number it covers.
        let (applied, state) = {
            let inbox = lock(&slot.inbox);
            (inbox.applied(), mine.then(|| slot.replica.snapshot()))
        };
        if have >= applied {
            return Ok(Vec::new());
        }
        let key = id.to_string();
        let tx = self.db.begin_read()?;
        let log = tx.open_table(DOC_LOG)?;
        let first = log
            .range((key.as_str(), 0)..=(key.as_str(), u64::MAX))?
            .next()
            .transpose()?
            .map(|(k, _)| k.value().1);
        let log_covers = first.is_some_and(|f| f <= have + 1);
        let mut out = Vec::new();
        let mut size = 0usize;
        let mut from = have + 1;
        if let Some(state) = state
            && (!log_covers || applied - have > 256)
        {
            // Shorter as one freshly signed state.
            return Ok(vec![
                self.sign(id, applied, DocUpdateKind::State, state)?
                    .bytes()
                    .to_vec(),
            ]);
        }
        if !log_covers {
            // Updates after a gap only wait at the other end: send them only with a full
            // state that covers the gap.
            let full = tx.open_table(DOC_FULL)?;
            if let Some(f) = full.get(key.as_str())? {
                let bytes = f.value().to_vec();
                if let Ok(s) = Signed::<DocUpdate>::decode(&bytes)
                    && s.value().seq >= have
                {
                    from = s.value().seq + 1;
                    size += bytes.len();
                    out.push(bytes);
                }
            }
            if out.is_empty() {
                return Ok(out);
            }
        }
        for row in log.range((key.as_str(), from)..=(key.as_str(), u64::MAX))? {
            let (_, v) = row?;
            size += v.value().len();
            if size > MAX_ANSWER_BYTES {
                break;
            }
            out.push(v.value().to_vec());
        }
        Ok(out)
    }

    fn save(
        &self,
        id: &DocId,
        applied: u64,
        snapshot: Option<&[u8]>,
        log: &[(u64, &[u8])],
        full: Option<&[u8]>,
        durable: bool,
    ) -> Result<(), SocialError> {
        let key = id.to_string();
        let mut tx = self.db.begin_write()?;
        if !durable {
            tx.set_durability(redb::Durability::None)?;
        }
        {
            if let Some(snapshot) = snapshot {
                let mut state = Vec::with_capacity(8 + snapshot.len());
                state.extend_from_slice(&applied.to_be_bytes());
                state.extend_from_slice(snapshot);
                tx.open_table(DOC_STATE)?
                    .insert(key.as_str(), state.as_slice())?;
            }
            let mut t = tx.open_table(DOC_LOG)?;
            for (seq, bytes) in log {
                t.insert((key.as_str(), *seq), *bytes)?;
            }
            if let Some(full) = full {
                tx.open_table(DOC_FULL)?.insert(key.as_str(), full)?;
                // A full state replaces the updates it covers.
                t.retain_in((key.as_str(), 0)..=(key.as_str(), applied), |_, _| false)?;
            } else if applied > LOG_KEEP && applied.is_multiple_of(256) {
                let below = applied - LOG_KEEP;
                t.retain_in((key.as_str(), 0)..=(key.as_str(), below), |_, _| false)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Makes every earlier non-durable commit durable (at shutdown).
    pub fn sync(&self) -> Result<(), SocialError> {
        let tx = self.db.begin_write()?;
        tx.commit()?;
        Ok(())
    }
}
