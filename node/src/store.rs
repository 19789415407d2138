//! The node's storage: redb for records, indexes and ACU bytes; the iroh-blobs file store for
//! what travels between peers.
//!
//! Records live in one redb database file (`db/vivim.redb`), in these tables:
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | `schema` | schema version (u32 BE) |
//! | `conv` | conv id | [`ConvRow`] (CBOR) |
//! | `conv_time` | updated_at_ms (BE) ‖ conv id | — (listing, newest first) |
//! | `conv_acus` | conv id ‖ index (u32 BE) [‖ piece (u8)] | the ACU's signed bytes (clustered by conversation), in pieces when large |
//! | `acu_loc` | ACU id | conv id ‖ index: where its bytes are |
//! | `acu_time` | created_at_ms (BE) ‖ ACU id | conv id |
//! | `imports` | started_at_ms (BE) ‖ random | import record (JSON) |
//! | `streaming` | conv id | — (a [`StreamWriter`] wrote slots of it and has not finished) |
//!
//! A conversation is its signed manifest, its ACUs (named by their BLAKE3 hashes, which are
//! iroh-blobs hashes) and the hash sequence `[manifest, acu_1 … acu_n]`. [`Store::to_blobs`]
//! writes all of them into the iroh-blobs store, tagged `conv/<id>`, so peers can fetch and
//! verify the conversation by its sequence hash; the node does that for content it serves.
//! Imports write only redb: the blob store's database keeps a page cache of up to 1 GiB that
//! iroh-blobs does not let us bound, and it cost a quarter of the import's CPU.
//!
//! redb gives a value that does not fit a 4 KiB leaf a page of the next power of two, so a
//! 524,500-byte ACU would take a 1 MiB page: twice the disk and twice the writing. An ACU over
//! [`PIECE_FROM`] bytes is therefore stored as pieces that each fill a power-of-two page: the
//! first under its slot key, the rest under `slot ‖ 1, 2, …` (which sort right after it, so a
//! range over the slot or the conversation reads them in order). Schema 1 stored every ACU
//! whole; those rows read the same way, so schema 1 data dirs open unchanged (and are marked 2).
//!
//! A batch of conversations is written in one redb transaction — bytes, index entries and rows
//! together — and is durable (fsynced) when `commit` returns, so a crash leaves each
//! conversation either whole or absent. redb keeps its page cache within [`DB_CACHE_BYTES`]
//! whatever the data size; sled, which the design first named, grew its memory and its files
//! (3.3 GB for a 1 GB export) with the data.

mod append;
mod check;
pub mod docs;
mod repair;
mod stream;

pub use stream::StreamWriter;

pub use append::AppendBatch;
pub use check::{Damage, Walked};

use crate::{lock, now_ms};
use std::{
    collections::HashSet,
    ops::Bound,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use iroh_blobs::{BlobFormat, HashAndFormat, store::fs::FsStore};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use vivim_protocol::{Acu, ConvId, Hash, Manifest, Signed, hash_seq_bytes};

/// The schema this binary writes. Opening a data dir with a newer schema is refused.
/// 2: large ACUs are stored in pieces (see the module docs); schema 1 data is valid schema 2.
pub const SCHEMA_VERSION: u32 = 2;

/// ACUs of more than this many bytes are stored in pieces.
pub const PIECE_FROM: usize = 16 * 1024;

/// What a redb leaf needs around one entry besides its value: the page header and offsets (12
/// bytes) and the key (37 bytes), rounded up.
const PAGE_OVERHEAD: usize = 64;

/// Page cache of the record database. redb keeps memory within it however large the data.
pub const DB_CACHE_BYTES: usize = 24 * 1024 * 1024;

pub(crate) type Bytes<'a> = &'a [u8];
pub(crate) const META: TableDefinition<&str, u32> = TableDefinition::new("meta");
pub(crate) const CONV: TableDefinition<Bytes, Bytes> = TableDefinition::new("conv");
pub(crate) const CONV_TIME: TableDefinition<Bytes, ()> = TableDefinition::new("conv_time");
pub(crate) const CONV_ACUS: TableDefinition<Bytes, Bytes> = TableDefinition::new("conv_acus");
pub(crate) const ACU_LOC: TableDefinition<Bytes, Bytes> = TableDefinition::new("acu_loc");
pub(crate) const ACU_TIME: TableDefinition<Bytes, Bytes> = TableDefinition::new("acu_time");
pub(crate) const IMPORTS: TableDefinition<Bytes, Bytes> = TableDefinition::new("imports");
pub(crate) const STREAMING: TableDefinition<Bytes, ()> = TableDefinition::new("streaming");

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database layer failed.
    #[error("database: {0}")]
    Db(String),
    /// The blob store failed.
    #[error("blob store: {0}")]
    Blobs(String),
    /// The data dir was written by a newer VIVIM.
    #[error(
        "this data dir was written by a newer VIVIM (schema {found}); this binary understands schema {SCHEMA_VERSION}: upgrade VIVIM"
    )]
    NewerSchema {
        /// The schema found.
        found: u32,
    },
    /// Another process holds the database.
    #[error(
        "the data dir {0} is in use by another VIVIM process (is `vivim up` running? commands then go through its gateway; or an assistant runs `vivim mcp` on it: start `vivim up` first and the assistant's `vivim mcp` goes through it too)"
    )]
    Locked(String),
    /// A stored record does not decode (damaged data).
    #[error("damaged record in {tree}: {detail}")]
    Corrupt {
        /// Which table.
        tree: &'static str,
        /// What.
        detail: String,
    },
    /// A blob the index names is missing.
    #[error("blob {0} is missing from the store")]
    MissingBlob(String),
    /// Nothing by that id.
    #[error("{0} not found")]
    NotFound(String),
    /// A request that makes no sense for the stored data.
    #[error("{0}")]
    Invalid(String),
}

macro_rules! db_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.to_string())
            }
        }
    )*};
}
db_errors!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

fn blob_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Blobs(e.to_string())
}

/// A stored conversation: its manifest and where its content is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConvRow {
    /// The signed manifest (its `sig` is set).
    pub manifest: Manifest,
    /// The manifest's id.
    pub manifest_id: Hash,
    /// The current hash sequence `[manifest, acus…]`.
    pub seq: Hash,
    /// Number of ACUs.
    pub acu_count: u32,
    /// When this node stored the current version (ms since the Unix epoch).
    pub stored_at_ms: u64,
}

/// What `put_conversation` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// A conversation not seen before.
    Added,
    /// A new version of a known conversation.
    Updated,
    /// Exactly what was stored already.
    Unchanged,
}

/// A conversation ready to store: signed manifest and ACUs, parents before children.
#[derive(Debug, Clone)]
pub struct NewConversation {
    /// Signed manifest.
    pub manifest: Signed<Manifest>,
    /// Signed ACUs in order.
    pub acus: Vec<Signed<Acu>>,
}

/// A verified ACU's id, creation time and signed bytes, ready to store.
#[derive(Debug)]
pub struct AcuBytes {
    /// The ACU's id (BLAKE3 of `bytes`).
    pub id: Hash,
    /// Its creation time (for the time index).
    pub created_at_ms: u64,
    /// Its signed bytes.
    pub bytes: Vec<u8>,
}

impl AcuBytes {
    /// Splits a verified ACU into its value and its storable bytes, without copying.
    pub fn split(acu: Signed<Acu>) -> (Acu, AcuBytes) {
        let id = acu.id();
        let (value, bytes) = acu.into_parts();
        let created_at_ms = value.created_at_ms;
        (
            value,
            AcuBytes {
                id,
                created_at_ms,
                bytes,
            },
        )
    }
}

/// A conversation's prepared writes (see [`Store::stage`]).
#[derive(Debug)]
pub struct Staged {
    id: ConvId,
    row: ConvRow,
    /// The hash sequence of the stored version this was planned against (`None`: absent). If
    /// the stored version differs at commit, the writes are planned again inside the
    /// transaction, so a concurrent writer's ACUs are never dropped.
    base: Option<Hash>,
    old_updated_at_ms: Option<u64>,
    /// Keys of the stored version's ACU slots, removed before the new ones are written.
    remove_slots: Vec<Vec<u8>>,
    acus: Vec<StagedAcu>,
}

/// One ACU to write: its slot, id, bytes, and creation time (new ACUs only; kept ones already
/// have their time entry).
#[derive(Debug)]
struct StagedAcu {
    slot: [u8; 36],
    id: Hash,
    bytes: Vec<u8>,
    created_at_ms: Option<u64>,
}

/// A page of conversations.
#[derive(Debug, Clone)]
pub struct Page {
    /// Rows, newest first.
    pub rows: Vec<ConvRow>,
    /// Cursor for the next page, if any.
    pub next: Option<String>,
}

/// Counters for status and metrics.
#[derive(Debug, Default)]
pub struct StoreStats {
    /// ACUs written since start.
    pub acus_written: AtomicU64,
    /// Conversations added or updated since start.
    pub conversations_written: AtomicU64,
}

/// The store. Cheap to share behind an `Arc`.
pub struct Store {
    db: Arc<redb::Database>,
    blobs: FsStore,
    /// Counters.
    pub stats: Arc<StoreStats>,
    /// Conversations a [`StreamWriter`] is writing: nothing else may write them meanwhile.
    streaming: Arc<Mutex<HashSet<ConvId>>>,
}

impl Drop for Store {
    /// The blob store's actor outlives its handles (a network may still hold some): it stops
    /// with the store, so a dropped node frees its data dir for another open in this process.
    fn drop(&mut self) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let blobs = self.blobs.clone();
            rt.spawn(async move {
                let _ = blobs.shutdown().await;
            });
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

fn conv_time_key(updated_at_ms: u64, id: &ConvId) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..8].copy_from_slice(&updated_at_ms.to_be_bytes());
    k[8..].copy_from_slice(&id.0.0);
    k
}

fn conv_acu_key(id: &ConvId, idx: u32) -> [u8; 36] {
    let mut k = [0u8; 36];
    k[..32].copy_from_slice(&id.0.0);
    k[32..].copy_from_slice(&idx.to_be_bytes());
    k
}

fn acu_time_key(created_at_ms: u64, id: &Hash) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..8].copy_from_slice(&created_at_ms.to_be_bytes());
    k[8..].copy_from_slice(&id.0);
    k
}

/// The keys of a conversation's ACU slots: `conv id ‖ 0..=u32::MAX`.
fn slot_range(id: &ConvId) -> ([u8; 36], [u8; 36]) {
    (conv_acu_key(id, 0), conv_acu_key(id, u32::MAX))
}

/// Splits an ACU's bytes into the pieces it is stored as: whole up to [`PIECE_FROM`], else the
/// largest pieces that fill a power-of-two page, then the rest.
fn pieces(bytes: &[u8]) -> Vec<&[u8]> {
    if bytes.len() <= PIECE_FROM {
        return vec![bytes];
    }
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() > PIECE_FROM {
        let page = (rest.len() + PAGE_OVERHEAD + 1).next_power_of_two() / 2;
        let (piece, tail) = rest.split_at(page - PAGE_OVERHEAD);
        out.push(piece);
        rest = tail;
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The key of piece `n` (1…) of the ACU in `slot`.
fn piece_key(slot: &[u8; 36], n: usize) -> Result<[u8; 37], StoreError> {
    let mut k = [0u8; 37];
    k[..36].copy_from_slice(slot);
    k[36] = u8::try_from(n).map_err(|_| StoreError::Invalid("an ACU too large to store".into()))?;
    Ok(k)
}

/// The row of a conversation stored now with `manifest` and these ACUs, in order.
fn row_for(manifest: &Signed<Manifest>, ids: &[Hash]) -> ConvRow {
    row_with(manifest.value().clone(), manifest.id(), ids)
}

/// [`row_for`] from a manifest's value and id.
fn row_with(manifest: Manifest, manifest_id: Hash, ids: &[Hash]) -> ConvRow {
    let seq = hash_seq_bytes(std::iter::once(manifest_id).chain(ids.iter().copied()));
    ConvRow {
        manifest,
        manifest_id,
        seq: Hash::of(&seq),
        acu_count: ids.len() as u32,
        stored_at_ms: now_ms(),
    }
}

fn being_fetched(id: &ConvId) -> StoreError {
    StoreError::Invalid(format!(
        "conversation {id} is being fetched right now; try again when that is done"
    ))
}

/// The row stored under `id` in `conv`, if any.
fn read_row(
    conv: &impl ReadableTable<Bytes<'static>, Bytes<'static>>,
    id: &ConvId,
) -> Result<Option<ConvRow>, StoreError> {
    match conv.get(&id.0.0[..])? {
        Some(v) => decode_row(v.value()).map(Some),
        None => Ok(None),
    }
}

/// Plans the writes that store `manifest` with `new_acus` against what `conv` and `conv_acus`
/// hold now (a read snapshot when staging, the write transaction itself when a commit plans
/// again). ACUs of the stored version that the new one lacks are kept after the new ones.
fn plan(
    conv: &impl ReadableTable<Bytes<'static>, Bytes<'static>>,
    conv_acus: &impl ReadableTable<Bytes<'static>, Bytes<'static>>,
    manifest: Manifest,
    manifest_id: Hash,
    new_acus: Vec<AcuBytes>,
) -> Result<(PutOutcome, Option<Staged>), StoreError> {
    let id = manifest.id;
    let old = read_row(conv, &id)?;
    if let Some(o) = &old
        && o.manifest.owner != manifest.owner
    {
        return Err(StoreError::Invalid(format!(
            "conversation {id} belongs to {}; a version signed by {} cannot replace it",
            o.manifest.owner, manifest.owner
        )));
    }
    let mut ids: Vec<Hash> = new_acus.iter().map(|a| a.id).collect();
    let mut kept: Vec<(Hash, Vec<u8>)> = Vec::new();
    let mut remove_slots = Vec::new();
    if old.is_some() {
        let present: HashSet<Hash> = ids.iter().copied().collect();
        let (lo, hi) = slot_range(&id);
        let mut stored = Vec::new();
        for item in conv_acus.range::<&[u8]>(&lo[..]..=&hi[..])? {
            let (k, v) = item?;
            join_piece(&mut stored, k.value(), v.value())?;
            remove_slots.push(k.value().to_vec());
        }
        for (_, bytes) in stored {
            let h = Hash::of(&bytes);
            if !present.contains(&h) {
                kept.push((h, bytes));
            }
        }
        ids.extend(kept.iter().map(|(h, _)| *h));
    }
    let row = row_with(manifest, manifest_id, &ids);
    if old.as_ref().is_some_and(|o| o.seq == row.seq) {
        return Ok((PutOutcome::Unchanged, None));
    }
    let acus = new_acus
        .into_iter()
        .map(|a| (a.id, a.bytes, Some(a.created_at_ms)))
        .chain(kept.into_iter().map(|(h, v)| (h, v, None)))
        .enumerate()
        .map(|(i, (h, bytes, created_at_ms))| StagedAcu {
            slot: conv_acu_key(&id, i as u32),
            id: h,
            bytes,
            created_at_ms,
        })
        .collect();
    let outcome = if old.is_some() {
        PutOutcome::Updated
    } else {
        PutOutcome::Added
    };
    Ok((
        outcome,
        Some(Staged {
            id,
            row,
            base: old.as_ref().map(|o| o.seq),
            old_updated_at_ms: old.map(|o| o.manifest.updated_at_ms),
            remove_slots,
            acus,
        }),
    ))
}

impl Staged {
    /// The ACUs this version brings (not those it kept from the stored one), to plan again.
    fn into_new_acus(self) -> Vec<AcuBytes> {
        self.acus
            .into_iter()
            .filter_map(|a| {
                a.created_at_ms.map(|created_at_ms| AcuBytes {
                    id: a.id,
                    created_at_ms,
                    bytes: a.bytes,
                })
            })
            .collect()
    }
}

/// Writes an ACU's bytes into `slot` (and its piece keys).
fn insert_pieces(
    t: &mut redb::Table<'_, Bytes<'static>, Bytes<'static>>,
    slot: &[u8; 36],
    bytes: &[u8],
) -> Result<(), StoreError> {
    for (n, piece) in pieces(bytes).into_iter().enumerate() {
        if n == 0 {
            t.insert(&slot[..], piece)?;
        } else {
            t.insert(&piece_key(slot, n)?[..], piece)?;
        }
    }
    Ok(())
}

/// Removes every slot and piece of conversation `id`.
fn clear_slots(
    t: &mut redb::Table<'_, Bytes<'static>, Bytes<'static>>,
    id: &ConvId,
) -> Result<(), StoreError> {
    let (lo, hi) = slot_range(id);
    for item in t.extract_from_if::<&[u8], _>(&lo[..]..=&hi[..], |_, _| true)? {
        item?;
    }
    Ok(())
}

/// Adds one entry of a slot range to `out`, `(slot key, whole bytes)` in order: a slot key (36
/// bytes) starts an ACU, a piece key (37) continues the one before it.
fn join_piece(out: &mut Vec<([u8; 36], Vec<u8>)>, k: &[u8], v: &[u8]) -> Result<(), StoreError> {
    match (<[u8; 36]>::try_from(k), out.last_mut()) {
        (Ok(slot), _) => out.push((slot, v.to_vec())),
        (Err(_), Some((slot, bytes))) if k.len() == 37 && k[..36] == slot[..] => {
            bytes.extend_from_slice(v)
        }
        _ => {
            return Err(StoreError::Corrupt {
                tree: "conv_acus",
                detail: format!("a piece without its slot ({} key bytes)", k.len()),
            });
        }
    }
    Ok(())
}

/// A conversation's ACU bytes in slot order (pieces joined).
fn read_slots(
    t: &impl ReadableTable<Bytes<'static>, Bytes<'static>>,
    id: &ConvId,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let (lo, hi) = slot_range(id);
    let mut out = Vec::new();
    for item in t.range::<&[u8]>(&lo[..]..=&hi[..])? {
        let (k, v) = item?;
        join_piece(&mut out, k.value(), v.value())?;
    }
    Ok(out.into_iter().map(|(_, bytes)| bytes).collect())
}

fn hash_from(bytes: &[u8], tree: &'static str) -> Result<Hash, StoreError> {
    let arr: [u8; 32] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        tree,
        detail: format!("expected 32 bytes, found {}", bytes.len()),
    })?;
    Ok(Hash(arr))
}

fn tag_name(id: &ConvId) -> String {
    format!("conv/{id}")
}

fn to_blob_hash(h: Hash) -> iroh_blobs::Hash {
    iroh_blobs::Hash::from(h.0)
}

impl Store {
    /// Opens (or creates) the record database at `db_path` (a file) and the blob store under
    /// `blobs_path`.
    pub async fn open(db_path: &Path, blobs_path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = db_path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Db(e.to_string()))?;
        }
        let db = redb::Database::builder()
            .set_cache_size(DB_CACHE_BYTES)
            .create(db_path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    StoreError::Locked(db_path.display().to_string())
                }
                other => StoreError::Db(format!("{}: {other}", db_path.display())),
            })?;
        let tx = db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            let found = meta.get("schema")?.map(|v| v.value());
            match found {
                Some(found) if found > SCHEMA_VERSION => {
                    return Err(StoreError::NewerSchema { found });
                }
                Some(found) if found == SCHEMA_VERSION => {}
                // Older schemas are valid data of this one (see the module docs).
                Some(_) | None => {
                    meta.insert("schema", SCHEMA_VERSION)?;
                }
            }
            tx.open_table(CONV)?;
            tx.open_table(CONV_TIME)?;
            tx.open_table(CONV_ACUS)?;
            tx.open_table(ACU_LOC)?;
            tx.open_table(ACU_TIME)?;
            tx.open_table(IMPORTS)?;
            // A stream writer that never finished (a crash after someone else's durable
            // commit kept its batches): remove its slots, which nothing can reach.
            let mut streaming = tx.open_table(STREAMING)?;
            let conv = tx.open_table(CONV)?;
            let mut conv_acus = tx.open_table(CONV_ACUS)?;
            for item in streaming.extract_if(|_, _| true)? {
                let (k, _) = item?;
                let id = ConvId(hash_from(k.value(), "streaming")?);
                if conv.get(&id.0.0[..])?.is_none() {
                    tracing::info!("removing the unfinished fetch of {id}");
                    clear_slots(&mut conv_acus, &id)?;
                }
            }
        }
        if let Some(r) = repair::repair(&tx)?
            && r != repair::Repaired::default()
        {
            tracing::warn!(
                stale_listings = r.stale_listings,
                lost_acus = r.lost_acus,
                "repaired what concurrent writes of an earlier version left behind"
            );
        }
        tx.commit()?;
        std::fs::create_dir_all(blobs_path).map_err(blob_err)?;
        let mut opts = iroh_blobs::store::fs::options::Options::new(blobs_path);
        // Deleting a conversation removes its tag; the collector then frees its blobs.
        opts.gc = Some(iroh_blobs::store::GcConfig {
            interval: std::time::Duration::from_secs(60),
            add_protected: None,
        });
        let blobs = FsStore::load_with_opts(blobs_path.join("blobs.db"), opts)
            .await
            .map_err(|e| {
                let s = format!("{e:#}");
                if s.contains("lock") || s.contains("already open") {
                    StoreError::Locked(blobs_path.display().to_string())
                } else {
                    StoreError::Blobs(s)
                }
            })?;
        Ok(Store {
            db: Arc::new(db),
            blobs,
            stats: Arc::default(),
            streaming: Arc::default(),
        })
    }

    /// The record database, shared with the social graph's document tables.
    pub(crate) fn database(&self) -> Arc<redb::Database> {
        self.db.clone()
    }

    /// The blob store (for serving over iroh-blobs).
    pub fn blobs(&self) -> &FsStore {
        &self.blobs
    }

    /// Stops the blob store.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        self.blobs.shutdown().await.map_err(blob_err)?;
        Ok(())
    }

    /// The stored row of a conversation.
    pub fn row(&self, id: &ConvId) -> Result<Option<ConvRow>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(CONV)?;
        match t.get(&id.0.0[..])? {
            None => Ok(None),
            Some(v) => decode_row(v.value()).map(Some),
        }
    }

    /// Resolves a full id or a unique hex prefix (at least 6 characters) to a conversation.
    pub fn resolve(&self, id: &str) -> Result<ConvId, StoreError> {
        let id = id.trim().to_ascii_lowercase();
        if id.len() == 64 {
            return id
                .parse()
                .map_err(|e: vivim_protocol::ParseHashError| StoreError::Invalid(e.to_string()));
        }
        if id.len() < 6 || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Invalid(format!(
                "{id:?} is not a conversation id: give the 64-character id or at least its first 6 characters"
            )));
        }
        let even = &id[..id.len() & !1];
        let prefix: Vec<u8> = (0..even.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&even[i..i + 2], 16).ok())
            .collect();
        let tx = self.db.begin_read()?;
        let t = tx.open_table(CONV)?;
        let mut found = None;
        for item in t.range::<&[u8]>(prefix.as_slice()..)? {
            let (k, _) = item?;
            if !k.value().starts_with(&prefix) {
                break;
            }
            let h = hash_from(k.value(), "conv")?;
            if h.to_hex().starts_with(&id) {
                if found.is_some() {
                    return Err(StoreError::Invalid(format!(
                        "{id:?} matches more than one conversation; give more characters"
                    )));
                }
                found = Some(ConvId(h));
            }
        }
        found.ok_or_else(|| StoreError::NotFound(format!("conversation {id}")))
    }

    /// Number of conversations.
    pub fn conversation_count(&self) -> usize {
        self.count(CONV)
    }

    /// Number of ACUs.
    pub fn acu_count(&self) -> usize {
        self.count(ACU_TIME)
    }

    fn count<V: redb::Value + 'static>(&self, table: TableDefinition<Bytes, V>) -> usize {
        self.db
            .begin_read()
            .ok()
            .and_then(|tx| tx.open_table(table).ok())
            .and_then(|t| t.len().ok())
            .unwrap_or(0) as usize
    }

    /// Stores a conversation (or a new version of it) durably.
    pub async fn put_conversation(&self, new: &NewConversation) -> Result<PutOutcome, StoreError> {
        match self.stage(new).await? {
            (_, Some(s)) => Ok(self
                .commit(vec![s])
                .await?
                .pop()
                .unwrap_or(PutOutcome::Unchanged)),
            (outcome, None) => Ok(outcome),
        }
    }

    /// Prepares a conversation's writes without making them; [`Store::commit`] writes a batch
    /// of them in one transaction.
    ///
    /// A new version never loses what the stored one had: ACUs of the stored version that the
    /// new one lacks (say, messages captured into a conversation that is then imported again)
    /// are kept after the new ones.
    pub async fn stage(
        &self,
        new: &NewConversation,
    ) -> Result<(PutOutcome, Option<Staged>), StoreError> {
        let acus = new
            .acus
            .iter()
            .map(|a| AcuBytes {
                id: a.id(),
                created_at_ms: a.value().created_at_ms,
                bytes: a.bytes().to_vec(),
            })
            .collect();
        self.stage_parts(&new.manifest, acus)
    }

    /// [`Store::stage`] for a manifest and ACU bytes the caller gives up (already verified),
    /// so that the bytes move into the write instead of being copied.
    fn stage_parts(
        &self,
        manifest: &Signed<Manifest>,
        new_acus: Vec<AcuBytes>,
    ) -> Result<(PutOutcome, Option<Staged>), StoreError> {
        let id = manifest.value().id;
        if lock(&self.streaming).contains(&id) {
            return Err(being_fetched(&id));
        }
        let tx = self.db.begin_read()?;
        let conv = tx.open_table(CONV)?;
        let conv_acus = tx.open_table(CONV_ACUS)?;
        plan(
            &conv,
            &conv_acus,
            manifest.value().clone(),
            manifest.id(),
            new_acus,
        )
    }

    /// Writes staged conversations in one durable transaction: when it returns they are on
    /// disk and visible, all or none of them.
    ///
    /// A conversation another writer changed since it was staged is planned again inside the
    /// transaction (keeping that writer's ACUs); the outcomes say what was written for each.
    pub async fn commit(&self, staged: Vec<Staged>) -> Result<Vec<PutOutcome>, StoreError> {
        self.commit_with(staged, true)
    }

    /// Stores a conversation fetched from the network: atomic and visible at once, but not
    /// fsynced — a copy of content that can be fetched again. The next durable commit (or
    /// [`Store::sync`]) makes it durable; a crash before that loses the copy whole, never part
    /// of it.
    pub fn put_fetched(
        &self,
        manifest: &Signed<Manifest>,
        acus: Vec<AcuBytes>,
    ) -> Result<PutOutcome, StoreError> {
        match self.stage_parts(manifest, acus)? {
            (_, Some(s)) => Ok(self
                .commit_with(vec![s], false)?
                .pop()
                .unwrap_or(PutOutcome::Unchanged)),
            (outcome, None) => Ok(outcome),
        }
    }

    /// A writer for conversation `id` as it is fetched, if it is new here and no other writer
    /// has it (see [`StreamWriter`]); `None` means: store it whole with [`Store::put_fetched`].
    pub fn stream_new(&self, id: ConvId) -> Result<Option<StreamWriter>, StoreError> {
        if !lock(&self.streaming).insert(id) {
            return Ok(None);
        }
        // Registered first, so nobody can store it between this check and the writes.
        let w = StreamWriter {
            db: self.db.clone(),
            stats: self.stats.clone(),
            streaming: self.streaming.clone(),
            id,
            pending: Vec::new(),
            pending_bytes: 0,
            written: Vec::new(),
            touched: false,
            done: false,
        };
        if self.row(&id)?.is_some() {
            return Ok(None);
        }
        Ok(Some(w))
    }

    /// Makes every earlier commit durable.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.db.begin_write()?.commit()?;
        Ok(())
    }

    /// Writes staged conversations in one transaction; the outcome of each, as written.
    fn commit_with(
        &self,
        staged: Vec<Staged>,
        durable: bool,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        if staged.is_empty() {
            return Ok(Vec::new());
        }
        let mut acus = 0u64;
        let mut n = 0u64;
        let mut outcomes = Vec::with_capacity(staged.len());
        let mut tx = self.db.begin_write()?;
        if !durable {
            tx.set_durability(redb::Durability::None)
                .map_err(|e| StoreError::Db(e.to_string()))?;
        }
        {
            let mut conv = tx.open_table(CONV)?;
            let mut conv_time = tx.open_table(CONV_TIME)?;
            let mut conv_acus = tx.open_table(CONV_ACUS)?;
            let mut acu_loc = tx.open_table(ACU_LOC)?;
            let mut acu_time = tx.open_table(ACU_TIME)?;
            for s in staged {
                let id = s.id;
                if lock(&self.streaming).contains(&id) {
                    // A fetch began writing it since it was staged (it finishes or fails on
                    // its own; finishing refuses if a row appeared).
                    tracing::warn!("not storing this version of {id}: {}", being_fetched(&id));
                    outcomes.push(PutOutcome::Unchanged);
                    continue;
                }
                // Planned against a snapshot: if another writer changed the conversation since,
                // plan again against what is stored now (inside this transaction, so nothing
                // can change it before the commit).
                let current = read_row(&conv, &id)?;
                let s = if current.as_ref().map(|r| r.seq) == s.base {
                    s
                } else {
                    let (manifest, manifest_id) = (s.row.manifest.clone(), s.row.manifest_id);
                    match plan(&conv, &conv_acus, manifest, manifest_id, s.into_new_acus()) {
                        Ok((_, Some(s))) => s,
                        Ok((_, None)) => {
                            outcomes.push(PutOutcome::Unchanged);
                            continue;
                        }
                        Err(e) => {
                            tracing::warn!("not storing this version of {id}: {e}");
                            outcomes.push(PutOutcome::Unchanged);
                            continue;
                        }
                    }
                };
                for k in &s.remove_slots {
                    conv_acus.remove(k.as_slice())?;
                }
                for a in &s.acus {
                    insert_pieces(&mut conv_acus, &a.slot, &a.bytes)?;
                    acu_loc.insert(&a.id.0[..], &a.slot[..])?;
                    if let Some(created) = a.created_at_ms {
                        acu_time.insert(&acu_time_key(created, &a.id)[..], &id.0.0[..])?;
                    }
                }
                if let Some(old) = s.old_updated_at_ms {
                    conv_time.remove(&conv_time_key(old, &id)[..])?;
                }
                conv_time.insert(&conv_time_key(s.row.manifest.updated_at_ms, &id)[..], ())?;
                acus += u64::from(s.row.acu_count);
                n += 1;
                conv.insert(&id.0.0[..], encode_row(&s.row)?.as_slice())?;
                outcomes.push(if s.old_updated_at_ms.is_some() {
                    PutOutcome::Updated
                } else {
                    PutOutcome::Added
                });
            }
        }
        tx.commit()?;
        self.stats.acus_written.fetch_add(acus, Ordering::Relaxed);
        self.stats
            .conversations_written
            .fetch_add(n, Ordering::Relaxed);
        Ok(outcomes)
    }

    /// Conversations, most recently updated first, `limit` at a time.
    pub fn list(&self, cursor: Option<&str>, limit: usize) -> Result<Page, StoreError> {
        let upper = match cursor {
            None => Bound::Unbounded,
            Some(c) => Bound::Excluded(decode_cursor(c)?),
        };
        let tx = self.db.begin_read()?;
        let times = tx.open_table(CONV_TIME)?;
        let convs = tx.open_table(CONV)?;
        let mut rows = Vec::new();
        let mut last_key = None;
        let range = times.range::<&[u8]>((
            Bound::Unbounded,
            match &upper {
                Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
                _ => Bound::Unbounded,
            },
        ))?;
        for item in range.rev() {
            if rows.len() == limit {
                break;
            }
            let (k, _) = item?;
            let key = k.value();
            if key.len() != 40 {
                continue;
            }
            if let Some(v) = convs.get(&key[8..])? {
                rows.push(decode_row(v.value())?);
                last_key = Some(key.to_vec());
            }
        }
        let next = if rows.len() == limit {
            last_key.map(|k| encode_cursor(&k))
        } else {
            None
        };
        Ok(Page { rows, next })
    }

    /// The cursor that makes [`Store::list`] go on after `row` (for a reader that stops in
    /// the middle of a page).
    pub fn cursor_of(&self, row: &ConvRow) -> String {
        encode_cursor(&conv_time_key(row.manifest.updated_at_ms, &row.manifest.id))
    }

    /// The stored signed bytes of a conversation's ACUs, in stored order, unverified (they
    /// were verified when stored; for passing on, where the receiver verifies them).
    pub fn acu_bytes(&self, id: &ConvId) -> Result<Vec<Vec<u8>>, StoreError> {
        self.slots(id)
    }

    fn slots(&self, id: &ConvId) -> Result<Vec<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read()?;
        read_slots(&tx.open_table(CONV_ACUS)?, id)
    }

    /// The ACU ids of a conversation, in stored order.
    pub fn acu_ids(&self, id: &ConvId) -> Result<Vec<Hash>, StoreError> {
        Ok(self.slots(id)?.iter().map(|v| Hash::of(v)).collect())
    }

    /// Reads and verifies one ACU.
    pub async fn acu(&self, id: &Hash) -> Result<Option<Signed<Acu>>, StoreError> {
        let Some(bytes) = self.raw(id)? else {
            return Ok(None);
        };
        Signed::<Acu>::decode(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                tree: "conv_acus",
                detail: e.to_string(),
            })
    }

    /// The stored bytes of an ACU (for serving); `None` if absent. The bytes are checked
    /// against the id.
    pub fn raw(&self, id: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read()?;
        let loc = tx.open_table(ACU_LOC)?;
        let Some(slot) = loc.get(&id.0[..])? else {
            return Ok(None);
        };
        // A location of another length is not one this store wrote: nothing there.
        let Ok(slot) = <[u8; 36]>::try_from(slot.value()) else {
            return Ok(None);
        };
        let acus = tx.open_table(CONV_ACUS)?;
        let last = piece_key(&slot, usize::from(u8::MAX))?;
        let mut found = Vec::new();
        for item in acus.range::<&[u8]>(&slot[..]..=&last[..])? {
            let (k, v) = item?;
            join_piece(&mut found, k.value(), v.value())?;
        }
        match found.pop() {
            // A location left behind by a deleted or rewritten conversation.
            Some((_, bytes)) if found.is_empty() && Hash::of(&bytes) == *id => Ok(Some(bytes)),
            _ => Ok(None),
        }
    }

    /// Writes a stored conversation into the iroh-blobs store — every ACU, the manifest and the
    /// hash sequence `[manifest, acus…]` — and tags it `conv/<id>`, so peers can fetch it by the
    /// returned sequence hash and verify every byte. Idempotent.
    pub async fn to_blobs(&self, id: &ConvId) -> Result<Hash, StoreError> {
        // Row and slots from one snapshot, so the sequence is one version's.
        let (row, slots) = {
            let tx = self.db.begin_read()?;
            let row = read_row(&tx.open_table(CONV)?, id)?
                .ok_or_else(|| StoreError::NotFound(format!("conversation {id}")))?;
            (row, read_slots(&tx.open_table(CONV_ACUS)?, id)?)
        };
        let mut manifest = Vec::new();
        ciborium::into_writer(&row.manifest, &mut manifest).map_err(|e| StoreError::Corrupt {
            tree: "conv",
            detail: e.to_string(),
        })?;
        if Hash::of(&manifest) != row.manifest_id {
            return Err(StoreError::Corrupt {
                tree: "conv",
                detail: "the manifest does not re-encode to its id".into(),
            });
        }
        let items = std::iter::once(manifest).chain(slots).collect();
        let (seq, _) = self.put_seq(&tag_name(id), items).await?;
        Ok(seq)
    }

    /// The signed bytes of a stored conversation's manifest (they hash to `row.manifest_id`).
    pub fn manifest_bytes(row: &ConvRow) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::new();
        ciborium::into_writer(&row.manifest, &mut out).map_err(|e| StoreError::Corrupt {
            tree: "conv",
            detail: e.to_string(),
        })?;
        if Hash::of(&out) != row.manifest_id {
            return Err(StoreError::Corrupt {
                tree: "conv",
                detail: "the manifest does not re-encode to its id".into(),
            });
        }
        Ok(out)
    }

    /// Adds blobs and their hash sequence to the blob store under `tag` (replacing what the
    /// tag held). Returns the sequence's hash and the items' hashes.
    pub async fn put_seq(
        &self,
        tag: &str,
        items: Vec<Vec<u8>>,
    ) -> Result<(Hash, Vec<Hash>), StoreError> {
        let batch = self.blobs.blobs().batch().await.map_err(blob_err)?;
        let mut temp = Vec::with_capacity(items.len() + 1);
        let mut ids = Vec::with_capacity(items.len());
        for bytes in items {
            ids.push(Hash::of(&bytes));
            temp.push(
                batch
                    .add_bytes(bytes::Bytes::from(bytes))
                    .temp_tag()
                    .await
                    .map_err(blob_err)?,
            );
        }
        let seq = batch
            .add_bytes_with_opts((hash_seq_bytes(ids.iter().copied()), BlobFormat::HashSeq))
            .temp_tag()
            .await
            .map_err(blob_err)?;
        let seq_hash = Hash(*seq.hash().as_bytes());
        self.blobs
            .tags()
            .set(tag, HashAndFormat::hash_seq(to_blob_hash(seq_hash)))
            .await
            .map_err(blob_err)?;
        self.blobs.sync_db().await.map_err(blob_err)?;
        drop(temp);
        Ok((seq_hash, ids))
    }

    /// The items of a hash sequence held in the blob store, in order; `None` when the
    /// sequence or one of its items is not here. Refuses sequences over `max_total` bytes.
    pub async fn read_seq(
        &self,
        root: Hash,
        max_total: u64,
    ) -> Result<Option<Vec<Vec<u8>>>, StoreError> {
        let blobs = self.blobs.blobs();
        let Ok(seq) = blobs.get_bytes(to_blob_hash(root)).await else {
            return Ok(None);
        };
        let ids = vivim_protocol::parse_hash_seq(&seq)
            .map_err(|e| StoreError::Invalid(format!("{root} is not a hash sequence: {e}")))?;
        let mut total = 0u64;
        let mut out = Vec::with_capacity(ids.len());
        for h in ids {
            let Ok(b) = blobs.get_bytes(to_blob_hash(h)).await else {
                return Ok(None);
            };
            total += b.len() as u64;
            if total > max_total {
                return Err(StoreError::Invalid(format!(
                    "{root} holds more than {max_total} bytes"
                )));
            }
            out.push(b.to_vec());
        }
        Ok(Some(out))
    }

    /// A conversation's signed records as stored: its manifest and its ACUs (in stored order),
    /// for clients that verify the signatures themselves.
    pub async fn signed_records(&self, id: &ConvId) -> Result<(Vec<u8>, Vec<Vec<u8>>), StoreError> {
        let (row, slots) = {
            let tx = self.db.begin_read()?;
            let row = read_row(&tx.open_table(CONV)?, id)?
                .ok_or_else(|| StoreError::NotFound(format!("conversation {id}")))?;
            (row, read_slots(&tx.open_table(CONV_ACUS)?, id)?)
        };
        Ok((Self::manifest_bytes(&row)?, slots))
    }

    /// All ACUs of a conversation, verified, in stored order.
    pub async fn acus(&self, id: &ConvId) -> Result<Vec<Signed<Acu>>, StoreError> {
        // Every ACU was verified before it was stored (import signs, fetch and capture verify).
        self.slots(id)?
            .into_iter()
            .map(|v| {
                Signed::<Acu>::decode_stored(v).map_err(|e| StoreError::Corrupt {
                    tree: "conv_acus",
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// Deletes a conversation — its row, bytes and indexes — in one durable transaction, and
    /// its blob tag if it was ever served (the collector then frees those blobs).
    pub async fn delete(&self, id: &ConvId) -> Result<bool, StoreError> {
        let tx = self.db.begin_write()?;
        // Read inside the write transaction: a capture committed a moment ago moved the
        // conversation's time entry.
        let Some(row) = read_row(&tx.open_table(CONV)?, id)? else {
            return Ok(false);
        };
        {
            let mut conv_acus = tx.open_table(CONV_ACUS)?;
            let mut acu_loc = tx.open_table(ACU_LOC)?;
            let mut acu_time = tx.open_table(ACU_TIME)?;
            let (lo, hi) = slot_range(id);
            let removed = conv_acus.extract_from_if::<&[u8], _>(&lo[..]..=&hi[..], |_, _| true)?;
            let mut gone = Vec::new();
            for item in removed {
                let (k, v) = item?;
                join_piece(&mut gone, k.value(), v.value())?;
            }
            for (_, bytes) in gone {
                let h = Hash::of(&bytes);
                acu_loc.remove(&h.0[..])?;
                if let Ok(a) = Signed::<Acu>::decode_vec(bytes) {
                    acu_time.remove(&acu_time_key(a.value().created_at_ms, &h)[..])?;
                }
            }
            tx.open_table(CONV)?.remove(&id.0.0[..])?;
            tx.open_table(CONV_TIME)?
                .remove(&conv_time_key(row.manifest.updated_at_ms, id)[..])?;
        }
        tx.commit()?;
        self.blobs
            .tags()
            .delete(tag_name(id))
            .await
            .map_err(blob_err)?;
        Ok(true)
    }

    /// Records an import (JSON value) in the import log.
    pub fn log_import(&self, record: &serde_json::Value) -> Result<(), StoreError> {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&now_ms().to_be_bytes());
        let _ = getrandom::getrandom(&mut k[8..]);
        let v = serde_json::to_vec(record).unwrap_or_default();
        let tx = self.db.begin_write()?;
        tx.open_table(IMPORTS)?.insert(&k[..], v.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// The most recent imports, newest first.
    pub fn imports(&self, limit: usize) -> Result<Vec<serde_json::Value>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(IMPORTS)?;
        let mut out = Vec::new();
        for item in t.iter()?.rev().take(limit) {
            let (_, v) = item?;
            out.push(
                serde_json::from_slice(v.value()).map_err(|e| StoreError::Corrupt {
                    tree: "imports",
                    detail: e.to_string(),
                })?,
            );
        }
        Ok(out)
    }

    /// Every conversation row (for rebuilding the search index).
    pub fn all_rows(&self) -> Result<Vec<ConvRow>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(CONV)?;
        let mut out = Vec::new();
        for item in t.iter()? {
            let (_, v) = item?;
            out.push(decode_row(v.value())?);
        }
        Ok(out)
    }
}

fn encode_row(row: &ConvRow) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(512);
    ciborium::into_writer(row, &mut out).map_err(|e| StoreError::Corrupt {
        tree: "conv",
        detail: e.to_string(),
    })?;
    Ok(out)
}

fn decode_row(bytes: &[u8]) -> Result<ConvRow, StoreError> {
    ciborium::from_reader(bytes).map_err(|e| StoreError::Corrupt {
        tree: "conv",
        detail: e.to_string(),
    })
}

/// A page cursor: the hex of the last key of a page.
pub(crate) fn encode_cursor(key: &[u8]) -> String {
    let mut s = String::with_capacity(key.len() * 2);
    for b in key {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Reads a cursor made by [`encode_cursor`] of a 40-byte key.
pub(crate) fn decode_cursor(c: &str) -> Result<Vec<u8>, StoreError> {
    let bad = || StoreError::Invalid(format!("bad cursor {c:?}: use the next_cursor of a page"));
    if c.len() != 80 || !c.is_ascii() {
        return Err(bad());
    }
    (0..c.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&c[i..i + 2], 16).map_err(|_| bad()))
        .collect()
}
