//! The node's storage: sled for records, indexes and ACU bytes; the iroh-blobs file store for
//! what travels between peers.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | `schema` | schema version (u32 BE) |
//! | `conv` | conv id | [`ConvRow`] (CBOR) |
//! | `conv_time` | updated_at_ms (BE) ‖ conv id | — (listing, newest first) |
//! | `conv_acus` | conv id ‖ index (u32 BE) | ACU id |
//! | `acus` | ACU id | the ACU's signed bytes |
//! | `acu_time` | created_at_ms (BE) ‖ ACU id | conv id |
//! | `imports` | started_at_ms (BE) ‖ random | import record (JSON) |
//!
//! A conversation is its signed manifest, its ACUs (named by their BLAKE3 hashes, which are
//! iroh-blobs hashes) and the hash sequence `[manifest, acu_1 … acu_n]`. [`Store::to_blobs`]
//! writes all of them into the iroh-blobs store, tagged `conv/<id>`, so peers can fetch and
//! verify the conversation by its sequence hash; the node does that for content it serves.
//! Imports write only sled: the blob store's database keeps a page cache of up to 1 GiB that
//! iroh-blobs does not let us bound, and it cost a quarter of the import's CPU.
//!
//! Writes go in a fixed order — ACU bytes, index entries, and last the conversation row (the
//! commit point) — into sled, whose log recovers a prefix of the writes after a crash, so a row
//! never names bytes that are missing. Writes that the API acknowledges are flushed before the
//! answer.

use std::{
    ops::Bound,
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
};

use iroh_blobs::{BlobFormat, HashAndFormat, store::fs::FsStore};
use serde::{Deserialize, Serialize};
use vivim_protocol::{Acu, ConvId, Hash, Manifest, Signed, hash_seq_bytes};

/// The schema this binary writes. Opening a data dir with a newer schema is refused.
pub const SCHEMA_VERSION: u32 = 1;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database layer failed.
    #[error("database: {0}")]
    Db(#[from] sled::Error),
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
        "the data dir {0} is in use by another VIVIM process (is `vivim up` running? commands then go through its gateway)"
    )]
    Locked(String),
    /// A stored record does not decode (damaged data).
    #[error("damaged record in {tree}: {detail}")]
    Corrupt {
        /// Which tree.
        tree: &'static str,
        /// What.
        detail: String,
    },
    /// A blob the index names is missing.
    #[error("blob {0} is missing from the blob store")]
    MissingBlob(String),
    /// Nothing by that id.
    #[error("{0} not found")]
    NotFound(String),
    /// A request that makes no sense for the stored data.
    #[error("{0}")]
    Invalid(String),
}

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

/// A conversation whose bytes are written but whose rows are not (see [`Store::stage`]).
#[derive(Debug)]
pub struct Staged {
    id: ConvId,
    row: ConvRow,
    old_updated_at_ms: Option<u64>,
    acus: sled::Batch,
    conv_acus: sled::Batch,
    acu_time: sled::Batch,
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
    /// ACU blobs written since start.
    pub acus_written: AtomicU64,
    /// Conversations added or updated since start.
    pub conversations_written: AtomicU64,
}

/// The store. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Store {
    db: sled::Db,
    conv: sled::Tree,
    conv_time: sled::Tree,
    conv_acus: sled::Tree,
    acus: sled::Tree,
    acu_time: sled::Tree,
    imports: sled::Tree,
    blobs: FsStore,
    /// Counters.
    pub stats: StoreStats,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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
    /// Opens (or creates) the store under `db_path` and `blobs_path`.
    pub async fn open(db_path: &Path, blobs_path: &Path) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(db_path)
            .cache_capacity(16 * 1024 * 1024)
            .flush_every_ms(Some(1000))
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                    StoreError::Locked(db_path.display().to_string())
                }
                sled::Error::Io(ref io) if io.to_string().contains("lock") => {
                    StoreError::Locked(db_path.display().to_string())
                }
                other => StoreError::Db(other),
            })?;
        let meta = db.open_tree("meta")?;
        match meta.get("schema")? {
            Some(v) => {
                let found =
                    u32::from_be_bytes(v.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                        tree: "meta",
                        detail: "schema version".into(),
                    })?);
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema { found });
                }
            }
            None => {
                meta.insert("schema", &SCHEMA_VERSION.to_be_bytes())?;
                db.flush_async().await?;
            }
        }
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
            conv: db.open_tree("conv")?,
            conv_time: db.open_tree("conv_time")?,
            conv_acus: db.open_tree("conv_acus")?,
            acus: db.open_tree("acus")?,
            acu_time: db.open_tree("acu_time")?,
            imports: db.open_tree("imports")?,
            db,
            blobs,
            stats: StoreStats::default(),
        })
    }

    /// The blob store (for serving over iroh-blobs).
    pub fn blobs(&self) -> &FsStore {
        &self.blobs
    }

    /// Makes every write so far durable.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// Flushes and stops the blob store.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        self.flush().await?;
        self.blobs.shutdown().await.map_err(blob_err)?;
        Ok(())
    }

    /// The stored row of a conversation.
    pub fn row(&self, id: &ConvId) -> Result<Option<ConvRow>, StoreError> {
        match self.conv.get(id.0.0)? {
            None => Ok(None),
            Some(v) => decode_row(&v).map(Some),
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
        let mut found = None;
        for item in self.conv.scan_prefix(&prefix) {
            let (k, _) = item?;
            let h = hash_from(&k, "conv")?;
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
        self.conv.len()
    }

    /// Number of ACUs indexed by time.
    pub fn acu_count(&self) -> usize {
        self.acu_time.len()
    }

    /// Stores a conversation (or a new version of it) durably.
    pub async fn put_conversation(&self, new: &NewConversation) -> Result<PutOutcome, StoreError> {
        let (outcome, staged) = self.stage(new).await?;
        if let Some(s) = staged {
            self.commit(vec![s]).await?;
        }
        Ok(outcome)
    }

    /// Prepares a conversation's writes (bytes and index entries) without making it visible;
    /// [`Store::commit`] writes them, the row last.
    pub async fn stage(
        &self,
        new: &NewConversation,
    ) -> Result<(PutOutcome, Option<Staged>), StoreError> {
        let m = new.manifest.value();
        let id = m.id;
        let old = self.row(&id)?;
        let seq = Hash::of(&hash_seq_bytes(
            std::iter::once(new.manifest.id()).chain(new.acus.iter().map(|a| a.id())),
        ));
        if let Some(old) = &old
            && old.seq == seq
        {
            return Ok((PutOutcome::Unchanged, None));
        }
        let mut acus = sled::Batch::default();
        for a in &new.acus {
            acus.insert(&a.id().0[..], a.bytes());
        }
        // The manifest's bytes are kept too, so the conversation can be served as it was signed.
        acus.insert(&new.manifest.id().0[..], new.manifest.bytes());

        // 2. Indexes: replace the previous version's entries.
        let mut conv_acus = sled::Batch::default();
        let mut acu_time = sled::Batch::default();
        if old.is_some() {
            for (k, _) in self.conv_acus.scan_prefix(id.0.0).filter_map(Result::ok) {
                conv_acus.remove(k);
            }
        }
        for (i, a) in new.acus.iter().enumerate() {
            conv_acus.insert(&conv_acu_key(&id, i as u32)[..], &a.id().0[..]);
            let mut k = [0u8; 40];
            k[..8].copy_from_slice(&a.value().created_at_ms.to_be_bytes());
            k[8..].copy_from_slice(&a.id().0);
            acu_time.insert(&k[..], &id.0.0[..]);
        }
        let row = ConvRow {
            manifest: m.clone(),
            manifest_id: new.manifest.id(),
            seq,
            acu_count: new.acus.len() as u32,
            stored_at_ms: now_ms(),
        };
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
                old_updated_at_ms: old.map(|o| o.manifest.updated_at_ms),
                acus,
                conv_acus,
                acu_time,
            }),
        ))
    }

    /// Makes staged conversations durable and visible: ACU bytes, then index entries, and last
    /// each row (the commit point); then flushes.
    pub async fn commit(&self, staged: Vec<Staged>) -> Result<(), StoreError> {
        if staged.is_empty() {
            return Ok(());
        }
        let mut conv_time = sled::Batch::default();
        let mut conv = sled::Batch::default();
        let mut acus = 0u64;
        let n = staged.len() as u64;
        for s in staged {
            self.acus.apply_batch(s.acus)?;
            self.conv_acus.apply_batch(s.conv_acus)?;
            self.acu_time.apply_batch(s.acu_time)?;
            if let Some(old) = s.old_updated_at_ms {
                conv_time.remove(&conv_time_key(old, &s.id)[..]);
            }
            conv_time.insert(
                &conv_time_key(s.row.manifest.updated_at_ms, &s.id)[..],
                &[][..],
            );
            acus += u64::from(s.row.acu_count);
            conv.insert(&s.id.0.0[..], encode_row(&s.row)?);
        }
        self.conv_time.apply_batch(conv_time)?;
        self.conv.apply_batch(conv)?;
        self.db.flush_async().await?;
        self.stats.acus_written.fetch_add(acus, Ordering::Relaxed);
        self.stats
            .conversations_written
            .fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// Conversations, most recently updated first, `limit` at a time.
    pub fn list(&self, cursor: Option<&str>, limit: usize) -> Result<Page, StoreError> {
        let upper = match cursor {
            None => Bound::Unbounded,
            Some(c) => Bound::Excluded(decode_cursor(c)?),
        };
        let mut rows = Vec::new();
        let mut last_key = None;
        for item in self
            .conv_time
            .range::<Vec<u8>, _>((Bound::Unbounded, upper))
            .rev()
        {
            let (k, _) = item?;
            if rows.len() == limit {
                break;
            }
            let id = hash_from(&k[8..], "conv_time")?;
            if let Some(row) = self.row(&ConvId(id))? {
                rows.push(row);
                last_key = Some(k);
            }
        }
        let next = if rows.len() == limit {
            last_key.map(|k| encode_cursor(&k))
        } else {
            None
        };
        Ok(Page { rows, next })
    }

    /// The ACU ids of a conversation, in stored order.
    pub fn acu_ids(&self, id: &ConvId) -> Result<Vec<Hash>, StoreError> {
        self.conv_acus
            .scan_prefix(id.0.0)
            .map(|r| {
                let (_, v) = r?;
                hash_from(&v, "conv_acus")
            })
            .collect()
    }

    /// Reads and verifies one ACU.
    pub async fn acu(&self, id: &Hash) -> Result<Option<Signed<Acu>>, StoreError> {
        let Some(bytes) = self.acus.get(id.0)? else {
            return Ok(None);
        };
        let acu = Signed::<Acu>::decode(&bytes).map_err(|e| StoreError::Corrupt {
            tree: "acus",
            detail: e.to_string(),
        })?;
        if acu.id() != *id {
            return Err(StoreError::Corrupt {
                tree: "acus",
                detail: format!("bytes under {id} hash to {}", acu.id()),
            });
        }
        Ok(Some(acu))
    }

    /// The stored bytes of an ACU or manifest (for serving).
    pub fn raw(&self, id: &Hash) -> Result<Option<sled::IVec>, StoreError> {
        Ok(self.acus.get(id.0)?)
    }

    /// Writes a stored conversation into the iroh-blobs store — every ACU, the manifest and the
    /// hash sequence `[manifest, acus…]` — and tags it `conv/<id>`, so peers can fetch it by the
    /// returned sequence hash and verify every byte. Idempotent.
    pub async fn to_blobs(&self, id: &ConvId) -> Result<Hash, StoreError> {
        let row = self
            .row(id)?
            .ok_or_else(|| StoreError::NotFound(format!("conversation {id}")))?;
        let ids = self.acu_ids(id)?;
        let batch = self.blobs.blobs().batch().await.map_err(blob_err)?;
        let mut tags = Vec::with_capacity(ids.len() + 2);
        for h in std::iter::once(row.manifest_id).chain(ids.iter().copied()) {
            let bytes = self
                .raw(&h)?
                .ok_or_else(|| StoreError::MissingBlob(h.to_hex()))?;
            let tag = batch
                .add_bytes(bytes::Bytes::copy_from_slice(&bytes))
                .temp_tag()
                .await
                .map_err(blob_err)?;
            if tag.hash().as_bytes() != &h.0 {
                return Err(StoreError::Corrupt {
                    tree: "acus",
                    detail: format!("bytes under {h} hash differently"),
                });
            }
            tags.push(tag);
        }
        let seq_bytes = hash_seq_bytes(std::iter::once(row.manifest_id).chain(ids));
        let seq = batch
            .add_bytes_with_opts((seq_bytes, BlobFormat::HashSeq))
            .temp_tag()
            .await
            .map_err(blob_err)?;
        let seq_hash = Hash(*seq.hash().as_bytes());
        self.blobs
            .tags()
            .set(tag_name(id), HashAndFormat::hash_seq(to_blob_hash(seq_hash)))
            .await
            .map_err(blob_err)?;
        self.blobs.sync_db().await.map_err(blob_err)?;
        drop(tags);
        Ok(seq_hash)
    }

    /// All ACUs of a conversation, verified, in stored order.
    pub async fn acus(&self, id: &ConvId) -> Result<Vec<Signed<Acu>>, StoreError> {
        let ids = self.acu_ids(id)?;
        let mut out = Vec::with_capacity(ids.len());
        for h in ids {
            out.push(
                self.acu(&h)
                    .await?
                    .ok_or_else(|| StoreError::MissingBlob(h.to_hex()))?,
            );
        }
        Ok(out)
    }

    /// Deletes a conversation: its row, indexes and tag (the collector frees the bytes).
    pub async fn delete(&self, id: &ConvId) -> Result<bool, StoreError> {
        let Some(row) = self.row(id)? else {
            return Ok(false);
        };
        let mut acu_time = sled::Batch::default();
        let mut conv_acus = sled::Batch::default();
        let mut bytes = sled::Batch::default();
        bytes.remove(&row.manifest_id.0[..]);
        for a in self.acus(id).await.unwrap_or_default() {
            bytes.remove(&a.id().0[..]);
            let mut k = [0u8; 40];
            k[..8].copy_from_slice(&a.value().created_at_ms.to_be_bytes());
            k[8..].copy_from_slice(&a.id().0);
            acu_time.remove(&k[..]);
        }
        for (k, _) in self.conv_acus.scan_prefix(id.0.0).filter_map(Result::ok) {
            conv_acus.remove(k);
        }
        self.conv.remove(id.0.0)?;
        self.conv_time
            .remove(conv_time_key(row.manifest.updated_at_ms, id))?;
        self.conv_acus.apply_batch(conv_acus)?;
        self.acu_time.apply_batch(acu_time)?;
        self.acus.apply_batch(bytes)?;
        // If it was ever served, its blobs lose their tag and the collector frees them.
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
        self.imports
            .insert(k, serde_json::to_vec(record).unwrap_or_default())?;
        Ok(())
    }

    /// The most recent imports, newest first.
    pub fn imports(&self, limit: usize) -> Result<Vec<serde_json::Value>, StoreError> {
        self.imports
            .iter()
            .rev()
            .take(limit)
            .map(|r| {
                let (_, v) = r?;
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    tree: "imports",
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// Every conversation row (for rebuilding the search index).
    pub fn all_rows(&self) -> impl Iterator<Item = Result<ConvRow, StoreError>> + '_ {
        self.conv.iter().map(|r| {
            let (_, v) = r?;
            decode_row(&v)
        })
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

fn encode_cursor(key: &[u8]) -> String {
    let mut s = String::with_capacity(key.len() * 2);
    for b in key {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn decode_cursor(c: &str) -> Result<Vec<u8>, StoreError> {
    let bad = || StoreError::Invalid(format!("bad cursor {c:?}: use the next_cursor of a page"));
    if c.len() != 80 || !c.is_ascii() {
        return Err(bad());
    }
    (0..c.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&c[i..i + 2], 16).map_err(|_| bad()))
        .collect()
}
