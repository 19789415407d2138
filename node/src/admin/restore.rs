//! `restore`: a backup (see `backup`) back into a data dir that no node has open.
//!
//! Into a new (or empty) directory it brings back the identity (the backup must hold it,
//! sealed), then every table row as it was, the blobs of shares and intents, and the blobs of
//! the conversations the node served (rebuilt from the records). Into a directory that already
//! holds data it refuses unless told to merge; a merge needs the same DID, adds the
//! conversations the directory lacks whole, keeps the ones it has as they are, and adds the
//! other rows (documents, shares, memories) it lacks. The search index is rebuilt at the next
//! open, the vectors by the next embedding pass.
//!
//! The archive is untrusted input: members are counted and size-limited before they are read,
//! and every row length is checked before its bytes are.

use std::{
    collections::HashSet,
    io::{BufReader, Read},
    path::Path,
    time::Instant,
};

use serde::{Deserialize, Serialize};
use vivim_identity::{KdfParams, MAX_KEYSTORE_BYTES, SealedKey};
use vivim_protocol::ConvId;
use zip::ZipArchive;

use super::{
    AdminError,
    backup::{BackupManifest, FORMAT, MANIFEST},
    tables::{self, RawTable},
};
use crate::{
    datadir::DataDir,
    store::{Store, StoreError},
};

/// Most members an archive may have.
pub const MAX_MEMBERS: usize = 4_000_000;
/// Largest manifest read.
const MAX_MANIFEST: u64 = 16 << 20;
/// Largest key in a row.
const MAX_KEY: usize = 64 << 10;
/// Largest value in a row (a conversation row, an ACU piece, a document state).
const MAX_VALUE: usize = 256 << 20;
/// Largest blob restored.
const MAX_BLOB: u64 = 256 << 20;

/// How to restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Opens the keys in the backup.
    pub passphrase: Option<String>,
    /// Adds to a directory that already holds data (same DID only).
    pub merge: bool,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreSummary {
    /// The backup's manifest.
    pub manifest: BackupManifest,
    /// Whether the identity came from the backup (else the directory had it).
    pub identity_restored: bool,
    /// Conversations written.
    pub conversations_restored: u64,
    /// Conversations the directory already had, kept as they were (merge only).
    pub conversations_kept: u64,
    /// Rows written, all tables.
    pub rows: u64,
    /// Blob tags restored (shares, intents) and conversation blobs rebuilt.
    pub blob_tags: u64,
    /// Time taken, ms.
    pub took_ms: u64,
}

/// Reads the manifest of the backup at `archive` (and checks it is one this VIVIM reads).
pub fn read_manifest(archive: &Path) -> Result<BackupManifest, AdminError> {
    let file = std::fs::File::open(archive)
        .map_err(AdminError::io(format!("opening {}", archive.display())))?;
    let mut zip = ZipArchive::new(BufReader::new(file))?;
    manifest_of(&mut zip)
}

fn manifest_of<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
) -> Result<BackupManifest, AdminError> {
    let bytes = read_member(zip, MANIFEST, MAX_MANIFEST)?
        .ok_or_else(|| AdminError::Archive(format!("{MANIFEST} is missing")))?;
    let manifest: BackupManifest = serde_json::from_slice(&bytes)
        .map_err(|e| AdminError::Archive(format!("{MANIFEST}: {e}")))?;
    if manifest.kind != "vivim-backup" || manifest.format != FORMAT {
        return Err(AdminError::Archive(format!(
            "format {} of kind {:?} (this VIVIM reads format {FORMAT})",
            manifest.format, manifest.kind
        )));
    }
    Ok(manifest)
}

/// A row: key and value bytes.
type Row = (Vec<u8>, Vec<u8>);
/// Which conversation a row belongs to, from its key and value.
type OwnerOf = fn(&[u8], &[u8]) -> Option<[u8; 32]>;

/// Restores the backup at `archive` into `dir`.
pub async fn restore(
    archive: &Path,
    dir: &DataDir,
    opts: &RestoreOptions,
) -> Result<RestoreSummary, AdminError> {
    let started = Instant::now();
    let file = std::fs::File::open(archive)
        .map_err(AdminError::io(format!("opening {}", archive.display())))?;
    let mut zip = ZipArchive::new(BufReader::new(file))?;
    if zip.len() > MAX_MEMBERS {
        return Err(AdminError::Archive(format!(
            "{} members (at most {MAX_MEMBERS})",
            zip.len()
        )));
    }
    let manifest = manifest_of(&mut zip)?;

    // The identity: the directory's own (merge, same DID) or the backup's.
    let identity_restored = if dir.is_initialized() {
        if !opts.merge {
            return Err(not_empty(dir));
        }
        let bytes = crate::datadir::read_limited(&dir.key_path(), MAX_KEYSTORE_BYTES as u64)
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        let did = SealedKey::from_bytes(&bytes)
            .and_then(|k| k.did())
            .map_err(|e| AdminError::Invalid(format!("the directory's key: {e}")))?;
        if did.to_string() != manifest.did {
            return Err(AdminError::Invalid(format!(
                "this backup belongs to {}, the directory to {did}: a merge needs the same identity",
                manifest.did
            )));
        }
        false
    } else {
        if !opts.merge && has_entries(dir.root()) {
            return Err(not_empty(dir));
        }
        if !manifest.keys {
            return Err(AdminError::Invalid(format!(
                "this backup holds no keys: first bring back the identity {} in {} (`vivim init --mnemonic` there), then restore with --merge; or use a backup made with --keys",
                manifest.did,
                dir.root().display()
            )));
        }
        let pass = opts.passphrase.as_deref().ok_or_else(|| {
            AdminError::Invalid(
                "this backup's keys are sealed: give the passphrase (--passphrase-env VAR)".into(),
            )
        })?;
        let bytes = read_member(&mut zip, "keys/node.key", MAX_KEYSTORE_BYTES as u64)?
            .ok_or_else(|| AdminError::Archive("keys/node.key is missing".into()))?;
        let sealed = SealedKey::from_bytes(&bytes)
            .map_err(|e| AdminError::Archive(format!("keys/node.key: {e}")))?;
        let key = sealed
            .open(Some(pass.as_bytes()))
            .map_err(|_| AdminError::WrongPassphrase)?;
        if key.did().to_string() != manifest.did {
            return Err(AdminError::Archive(
                "the keys inside do not match the DID the backup names".into(),
            ));
        }
        dir.init_with(key, None, KdfParams::default())
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        true
    };

    let store = Store::open(&dir.db_path().join("vivim.redb"), &dir.blobs_path()).await?;
    let result = restore_into(&mut zip, &store, dir, &manifest, opts).await;
    store.shutdown().await?;
    let (restored, kept, rows, blob_tags) = result?;
    // The search index is derived: the next open rebuilds it from the restored records.
    std::fs::write(dir.root().join(crate::node::INDEX_DIRTY), b"")
        .map_err(AdminError::io("marking the search index for a rebuild"))?;
    Ok(RestoreSummary {
        manifest,
        identity_restored,
        conversations_restored: restored,
        conversations_kept: kept,
        rows,
        blob_tags,
        took_ms: started.elapsed().as_millis() as u64,
    })
}

async fn restore_into<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    store: &Store,
    dir: &DataDir,
    manifest: &BackupManifest,
    opts: &RestoreOptions,
) -> Result<(u64, u64, u64, u64), AdminError> {
    let db = store.database();
    // Conversations the directory has before the restore keep every row they have.
    let present: HashSet<[u8; 32]> = store
        .all_rows()?
        .iter()
        .map(|r| r.manifest.id.0.0)
        .collect();
    let in_backup: Vec<[u8; 32]> = {
        let mut ids = Vec::new();
        each_member_row(zip, "records/conv", &mut |k, _| {
            if let Ok(id) = <[u8; 32]>::try_from(k) {
                ids.push(id);
            }
            Ok(())
        })?;
        ids
    };
    let kept = in_backup.iter().filter(|id| present.contains(*id)).count() as u64;
    let restored = in_backup.len() as u64 - kept;
    let mut rows = 0u64;
    for table in tables::records() {
        let name = table.table_name();
        if name == "meta" {
            check_schema(zip)?;
            continue;
        }
        if name == "streaming" {
            // Marks of unfinished fetches: nothing to bring back.
            continue;
        }
        // Which conversation a row of a conversation's tables belongs to.
        let owner: Option<OwnerOf> = match name {
            "conv" | "conv_acus" => Some(|k, _| k.get(..32)?.try_into().ok()),
            "conv_time" => Some(|k, _| k.get(8..40)?.try_into().ok()),
            "acu_loc" | "acu_time" => Some(|_, v| v.get(..32)?.try_into().ok()),
            _ => None,
        };
        let keep_existing = opts.merge && owner.is_none();
        rows += load_table(zip, db.as_ref(), "records", table, keep_existing, |k, v| {
            owner.is_none_or(|f| f(k, v).is_none_or(|id| !present.contains(&id)))
        })?;
    }
    // Memories: their own database.
    {
        let mem = crate::organize::memory::MemoryStore::open(&dir.db_path().join("memory.redb"))
            .map_err(|e| AdminError::Memory(e.to_string()))?;
        for table in tables::memories() {
            rows += load_table(
                zip,
                mem.database(),
                "memories",
                table,
                opts.merge,
                |_, _| true,
            )?;
        }
    }
    // Blobs of shares and intents, as the node stored them: a hash sequence under their tag.
    let mut tags = 0u64;
    for tag in &manifest.blob_tags {
        let mut items = Vec::new();
        while let Some(b) = read_member(zip, &format!("blobs/{tag}/{}", items.len()), MAX_BLOB)? {
            items.push(b);
        }
        store.put_seq(tag, items).await?;
        tags += 1;
    }
    // Conversations the node served: rebuilt from the records (the same bytes, the same hash).
    for tag in &manifest.conv_tags {
        let Some(id) = tag
            .strip_prefix("conv/")
            .and_then(|s| s.parse::<ConvId>().ok())
        else {
            continue;
        };
        if store.row(&id)?.is_some() {
            store.to_blobs(&id).await?;
            tags += 1;
        }
    }
    Ok((restored, kept, rows, tags))
}

/// Refuses a backup whose records come from a newer schema than this binary's.
fn check_schema<R: Read + std::io::Seek>(zip: &mut ZipArchive<R>) -> Result<(), AdminError> {
    let mut found = None;
    each_member_row(zip, "records/meta", &mut |k, v| {
        if k == b"schema" {
            found = v.try_into().ok().map(u32::from_le_bytes);
        }
        Ok(())
    })?;
    match found {
        Some(s) if s > crate::store::SCHEMA_VERSION => Err(AdminError::Archive(format!(
            "its records have schema {s}; this binary understands {}: upgrade VIVIM",
            crate::store::SCHEMA_VERSION
        ))),
        _ => Ok(()),
    }
}

/// Inserts the rows of `tables/<db_name>/<table>` that `take` accepts, in one transaction.
fn load_table<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    db: &redb::Database,
    db_name: &str,
    table: &'static dyn RawTable,
    keep_existing: bool,
    take: impl Fn(&[u8], &[u8]) -> bool,
) -> Result<u64, AdminError> {
    let member = format!("tables/{db_name}/{}", table.table_name());
    let Ok(file) = zip.by_name(&member) else {
        return Ok(0);
    };
    let mut reader = BufReader::new(file);
    let tx = db.begin_write().map_err(StoreError::from)?;
    let mut failure = None;
    let n = {
        let mut rows = std::iter::from_fn(|| match read_row(&mut reader) {
            Ok(Some((k, v))) => Some(Ok((k, v))),
            Ok(None) => None,
            Err(e) => {
                failure = Some(e);
                None
            }
        })
        .filter(|r| r.as_ref().is_ok_and(|(k, v)| take(k, v)));
        table.insert_rows(&tx, &mut rows, keep_existing)?
    };
    if let Some(e) = failure {
        return Err(AdminError::Archive(format!("{member}: {e}")));
    }
    tx.commit().map_err(StoreError::from)?;
    Ok(n)
}

/// Calls `f` with each row of a table member.
fn each_member_row<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    table: &str,
    f: tables::RowSink<'_, AdminError>,
) -> Result<(), AdminError> {
    let member = format!("tables/{table}");
    let Ok(file) = zip.by_name(&member) else {
        return Ok(());
    };
    let mut reader = BufReader::new(file);
    while let Some((k, v)) =
        read_row(&mut reader).map_err(|e| AdminError::Archive(format!("{member}: {e}")))?
    {
        f(&k, &v)?;
    }
    Ok(())
}

/// Reads one row, or `None` at the end of the member. Lengths are checked before reading.
fn read_row(r: &mut impl Read) -> Result<Option<Row>, String> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.to_string()),
    }
    let k = read_bytes(r, u32::from_le_bytes(len) as usize, MAX_KEY)?;
    r.read_exact(&mut len).map_err(|e| e.to_string())?;
    let v = read_bytes(r, u32::from_le_bytes(len) as usize, MAX_VALUE)?;
    Ok(Some((k, v)))
}

fn read_bytes(r: &mut impl Read, n: usize, max: usize) -> Result<Vec<u8>, String> {
    if n > max {
        return Err(format!("a row field of {n} bytes (at most {max})"));
    }
    let mut out = vec![0u8; n];
    r.read_exact(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// A whole member, if present, refusing one larger than `max` (by its header and as read).
fn read_member<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    name: &str,
    max: u64,
) -> Result<Option<Vec<u8>>, AdminError> {
    let Ok(file) = zip.by_name(name) else {
        return Ok(None);
    };
    if file.size() > max {
        return Err(AdminError::Archive(format!(
            "{name} is {} bytes (at most {max})",
            file.size()
        )));
    }
    let mut out = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| AdminError::Archive(format!("{name}: {e}")))?;
    if out.len() as u64 > max {
        return Err(AdminError::Archive(format!("{name} is over {max} bytes")));
    }
    Ok(Some(out))
}

fn has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}

fn not_empty(dir: &DataDir) -> AdminError {
    AdminError::Invalid(format!(
        "{} already holds data: restore into a new directory, or pass --merge to add this backup to it",
        dir.root().display()
    ))
}
