//! `Node::backup`: a consistent archive of a running node.
//!
//! The archive is a zip file:
//!
//! | member | what |
//! |---|---|
//! | `vivim-backup.json` | [`BackupManifest`]: format, DID, time, counts, tables |
//! | `tables/records/<table>` | every row of one table of `db/vivim.redb` |
//! | `tables/memories/<table>` | every row of one table of `db/memory.redb` |
//! | `blobs/<tag>/<n>` | the blobs under a blob-store tag that cannot be rebuilt (sealed shares, intents) |
//! | `keys/node.key` | with `--keys` only: the identity, sealed with the passphrase (Argon2id) |
//!
//! Rows are `u32 LE key length ‖ key ‖ u32 LE value length ‖ value`. All tables of one database
//! are read in one redb read transaction, so the records, documents and shares are one moment's
//! (writers go on meanwhile; a read transaction never blocks them). The search and vector
//! indexes and the `conv/…` blobs are derived data: left out, rebuilt on restore.

use std::{
    io::{BufWriter, Write},
    path::Path,
    time::Instant,
};

use futures::StreamExt;
use redb::ReadableDatabase;
use serde::{Deserialize, Serialize};
use vivim_identity::{KdfParams, SealedKey};
use zip::{CompressionMethod, ZipWriter, write::SimpleFileOptions};

use super::{AdminError, tables};
use crate::{node::Node, store::StoreError};

/// The archive's format version.
pub const FORMAT: u32 = 1;
/// Name of the manifest member.
pub const MANIFEST: &str = "vivim-backup.json";
/// The shortest passphrase that seals keys in a backup.
pub const MIN_PASSPHRASE: usize = 8;

/// What a backup holds, written into it as `vivim-backup.json`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackupManifest {
    /// Always `vivim-backup`.
    pub kind: String,
    /// Archive format ([`FORMAT`]).
    pub format: u32,
    /// The node's DID.
    pub did: String,
    /// VIVIM version that wrote it.
    pub version: String,
    /// When it was made (unix ms).
    pub created_ms: u64,
    /// Whether the identity is inside (sealed with a passphrase).
    pub keys: bool,
    /// Conversations.
    pub conversations: u64,
    /// ACUs (messages).
    pub acus: u64,
    /// Social documents.
    pub documents: u64,
    /// Shares made and received.
    pub shares: u64,
    /// Memories.
    pub memories: u64,
    /// Rows per table, as `<database>/<table>`.
    pub tables: Vec<TableCount>,
    /// Blob-store tags whose blobs are inside.
    pub blob_tags: Vec<String>,
    /// Tags of conversations served to peers (rebuilt from the records on restore).
    pub conv_tags: Vec<String>,
}

/// Rows of one table in a backup.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TableCount {
    /// `records/<table>` or `memories/<table>`.
    pub table: String,
    /// Rows.
    pub rows: u64,
}

/// What `backup` did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackupSummary {
    /// The manifest written into the archive.
    pub manifest: BackupManifest,
    /// Size of the archive in bytes.
    pub bytes: u64,
    /// Time taken, ms.
    pub took_ms: u64,
}

/// Writes one row in the archive's row format.
pub(crate) fn write_row(out: &mut impl Write, k: &[u8], v: &[u8]) -> std::io::Result<()> {
    out.write_all(&(k.len() as u32).to_le_bytes())?;
    out.write_all(k)?;
    out.write_all(&(v.len() as u32).to_le_bytes())?;
    out.write_all(v)
}

impl Node {
    /// Writes a backup of this node to `path` (a new file; written under a temporary name and
    /// renamed when complete). With `keys`, the identity goes in sealed with that passphrase.
    pub async fn backup(
        &self,
        path: &Path,
        keys: Option<&str>,
    ) -> Result<BackupSummary, AdminError> {
        if let Some(p) = keys
            && p.chars().count() < MIN_PASSPHRASE
        {
            return Err(AdminError::Invalid(format!(
                "a backup with keys needs a passphrase of at least {MIN_PASSPHRASE} characters"
            )));
        }
        let started = Instant::now();
        let sealed = match keys {
            Some(p) => Some(
                SealedKey::seal(&self.key, Some(p.as_bytes()), KdfParams::default())
                    .map_err(|e| AdminError::Invalid(format!("sealing the keys: {e}")))?
                    .to_bytes(),
            ),
            None => None,
        };
        // Memories live in their own database, opened with the semantic layer.
        // (An embedder that cannot start leaves the semantic layer closed: then nothing else
        // holds the memory database and the backup opens it itself.)
        let own_memory;
        let semantic = crate::organize::get(self).await.ok().cloned();
        let memory_db = match &semantic {
            Some(s) => s.memory.database(),
            None => {
                own_memory = crate::organize::memory::MemoryStore::open(
                    &self.dir.db_path().join("memory.redb"),
                )
                .map_err(|e| AdminError::Memory(e.to_string()))?;
                own_memory.database()
            }
        };
        // Blobs that cannot be rebuilt from the records: read before the archive is written.
        let mut blob_tags = Vec::new();
        let mut conv_tags = Vec::new();
        let tags = self
            .store
            .blobs()
            .tags()
            .list()
            .await
            .map_err(|e| StoreError::Blobs(e.to_string()))?;
        let tags: Vec<_> = tags.collect().await;
        let tmp = path.with_extension("partial");
        let file = std::fs::File::create(&tmp)
            .map_err(AdminError::io(format!("creating {}", tmp.display())))?;
        let mut zip = ZipWriter::new(BufWriter::new(file));
        let opts = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(1))
            .large_file(true);
        for tag in tags {
            let tag = tag.map_err(|e| StoreError::Blobs(e.to_string()))?;
            let name = String::from_utf8_lossy(tag.name.as_ref()).into_owned();
            if name.starts_with("conv/") {
                conv_tags.push(name);
                continue;
            }
            let items = self.tag_items(&tag).await?;
            for (i, bytes) in items.iter().enumerate() {
                zip.start_file(format!("blobs/{name}/{i}"), opts)?;
                zip.write_all(bytes)
                    .map_err(AdminError::io("writing the archive"))?;
            }
            blob_tags.push(name);
        }
        let counts = {
            let db = self.store.database();
            let mem = memory_db;
            for t in tables::unknown_tables(&db, &tables::records())? {
                tracing::warn!(table = %t, "a table this backup does not know is left out");
            }
            write_tables(&mut zip, opts, &db, "records", &tables::records())?
                .into_iter()
                .chain(write_tables(
                    &mut zip,
                    opts,
                    mem,
                    "memories",
                    &tables::memories(),
                )?)
                .collect::<Vec<_>>()
        };
        let rows = |t: &str| counts.iter().find(|c| c.table == t).map_or(0, |c| c.rows);
        let manifest = BackupManifest {
            kind: "vivim-backup".into(),
            format: FORMAT,
            did: self.key.did().to_string(),
            version: env!("CARGO_PKG_VERSION").into(),
            created_ms: crate::now_ms(),
            keys: sealed.is_some(),
            conversations: rows("records/conv"),
            acus: rows("records/acu_loc"),
            documents: rows("records/doc_state").max(rows("records/doc_full")),
            shares: rows("records/shares"),
            memories: rows("memories/memory_records") + rows("memories/memory_local"),
            tables: counts.clone(),
            blob_tags,
            conv_tags,
        };
        if let Some(sealed) = &sealed {
            zip.start_file("keys/node.key", opts)?;
            zip.write_all(sealed)
                .map_err(AdminError::io("writing the archive"))?;
        }
        zip.start_file(MANIFEST, opts)?;
        zip.write_all(&serde_json::to_vec_pretty(&manifest).unwrap_or_default())
            .map_err(AdminError::io("writing the archive"))?;
        let out = zip.finish()?;
        let file = out
            .into_inner()
            .map_err(|e| AdminError::Archive(e.to_string()))?;
        file.sync_all()
            .map_err(AdminError::io(format!("syncing {}", tmp.display())))?;
        let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        drop(file);
        std::fs::rename(&tmp, path)
            .map_err(AdminError::io(format!("renaming to {}", path.display())))?;
        tracing::info!(
            bytes,
            conversations = manifest.conversations,
            keys = manifest.keys,
            ms = started.elapsed().as_millis() as u64,
            "backup written"
        );
        Ok(BackupSummary {
            manifest,
            bytes,
            took_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// The blobs under a tag: a hash sequence's children in order, or the one raw blob.
    async fn tag_items(
        &self,
        tag: &iroh_blobs::api::tags::TagInfo,
    ) -> Result<Vec<Vec<u8>>, AdminError> {
        let blobs = self.store.blobs().blobs();
        let get = |h| async move {
            blobs
                .get_bytes(h)
                .await
                .map(|b| b.to_vec())
                .map_err(|e| StoreError::Blobs(e.to_string()))
        };
        if tag.format == iroh_blobs::BlobFormat::HashSeq {
            let seq = get(tag.hash).await?;
            let seq = iroh_blobs::hashseq::HashSeq::try_from(bytes::Bytes::from(seq))
                .map_err(|e| StoreError::Blobs(e.to_string()))?;
            let mut out = Vec::new();
            for h in seq.iter() {
                out.push(get(h).await?);
            }
            Ok(out)
        } else {
            Ok(vec![get(tag.hash).await?])
        }
    }
}

/// Writes every listed table of `db` as `tables/<db_name>/<table>`, all from one snapshot.
fn write_tables<W: Write + std::io::Seek>(
    zip: &mut ZipWriter<W>,
    opts: SimpleFileOptions,
    db: &redb::Database,
    db_name: &str,
    list: &[&'static dyn tables::RawTable],
) -> Result<Vec<TableCount>, AdminError> {
    let tx = db.begin_read().map_err(StoreError::from)?;
    let mut counts = Vec::new();
    for t in list {
        zip.start_file(format!("tables/{db_name}/{}", t.table_name()), opts)?;
        let mut io_err = None;
        let rows = t.each_row(&tx, &mut |k, v| {
            write_row(zip, k, v).map_err(|e| {
                let msg = e.to_string();
                io_err = Some(e);
                StoreError::Db(msg)
            })
        });
        if let Some(e) = io_err {
            return Err(AdminError::Io {
                what: "writing the archive".into(),
                source: e,
            });
        }
        counts.push(TableCount {
            table: format!("{db_name}/{}", t.table_name()),
            rows: rows?,
        });
    }
    Ok(counts)
}
