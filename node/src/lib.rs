//! The VIVIM node: the runtime behind the `vivim` binary and the facade other apps embed.
//!
//! It is the only crate that knows libp2p, iroh, redb, axum and tantivy. The pieces:
//! [`datadir`] (key, config, token on disk), [`ids`] (the one key as DID, libp2p `PeerId` and
//! iroh `EndpointId`), [`import`] (export parsers), [`search`] (full-text index).
//!
//! ```no_run
//! use vivim_node::datadir::DataDir;
//! use vivim_identity::KdfParams;
//!
//! let dir = DataDir::at("/tmp/my-vivim");
//! let key = dir.init(None, KdfParams::default()).unwrap();
//! println!("{}", key.did());
//! ```

pub mod client;
pub mod config;
pub mod datadir;
pub mod gateway;
pub mod import;
pub mod net;
pub mod network;
pub mod node;
pub mod organize;
pub mod search;
pub mod share;
pub mod social;
pub mod store;
pub mod testdata;
pub mod views;

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Locks `m`, also after a thread panicked while holding it (the data stays consistent: every
/// holder only inserts or removes whole entries).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The CBOR encoding of a value the node made itself (its own types serialize infallibly; a
/// failure would give an empty buffer, which every reader refuses).
pub(crate) fn cbor<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = ciborium::into_writer(v, &mut out);
    out
}
