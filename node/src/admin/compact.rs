//! `compact`: gives the free pages of the node's databases back to the file system. redb
//! compacts only a database no one else has open, so this runs with the node stopped.

use serde::{Deserialize, Serialize};

use super::AdminError;
use crate::{datadir::DataDir, store::StoreError};

/// One database compacted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Compacted {
    /// The file.
    pub file: String,
    /// Its size before, bytes.
    pub before: u64,
    /// Its size after, bytes.
    pub after: u64,
}

/// Compacts `db/vivim.redb` and `db/memory.redb` of a data dir no node has open.
pub fn compact(dir: &DataDir) -> Result<Vec<Compacted>, AdminError> {
    let mut out = Vec::new();
    for name in ["vivim.redb", "memory.redb"] {
        let path = dir.db_path().join(name);
        if !path.exists() {
            continue;
        }
        let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let before = size();
        let mut db = redb::Database::open(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                StoreError::Locked(path.display().to_string())
            }
            other => StoreError::Db(format!("{}: {other}", path.display())),
        })?;
        // Compaction moves pages until none can move; each call makes some progress.
        while db
            .compact()
            .map_err(|e| StoreError::Db(format!("compacting {}: {e}", path.display())))?
        {}
        drop(db);
        out.push(Compacted {
            file: path.display().to_string(),
            before,
            after: size(),
        });
    }
    Ok(out)
}
