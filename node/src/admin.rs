//! Caring for a node: backups and restores, the integrity check, index rebuilds, compaction,
//! and what the admin panel reads about the running process (its logs and its CPU and memory).
//!
//! `backup`, `check` and `rebuild` are `Node` methods (a feature, floor 3); `restore` and
//! `compact` work on a data dir no node has open; `logs` and `process` know nothing of the node
//! (floor 0) — the binary installs the log ring and the gateway samples the process.

pub mod backup;
pub mod check;
pub mod compact;
pub mod logs;
pub mod process;
pub mod restore;
pub(crate) mod tables;

use crate::store::StoreError;

/// What can go wrong while caring for a node's data.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The record store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, and to which path.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The archive is not a VIVIM backup, or is damaged.
    #[error("not a usable VIVIM backup: {0}")]
    Archive(String),
    /// The passphrase does not open the archive's keys.
    #[error("the passphrase does not open this backup's keys")]
    WrongPassphrase,
    /// A request that cannot be done as asked.
    #[error("{0}")]
    Invalid(String),
    /// The memory store failed.
    #[error("memories: {0}")]
    Memory(String),
}

impl AdminError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> AdminError {
        let what = what.into();
        move |source| AdminError::Io { what, source }
    }
}

impl From<zip::result::ZipError> for AdminError {
    fn from(e: zip::result::ZipError) -> Self {
        AdminError::Archive(e.to_string())
    }
}
