//! The VIVIM node: the runtime behind the `vivim` binary and the facade other apps embed.
//!
//! It is the only crate that knows libp2p, iroh, redb, axum, tantivy and usearch. Inside, each
//! floor imports only the floors below it (ARCHITECTURE.md draws them):
//!
//! - [`store`] (records, documents, blobs) and [`search`] (full text); [`import`] (export
//!   parsers and ingesting them into the store);
//! - [`node`]: the running node — captures, imports, deletes, searches, events — and
//!   [`organize`] (embeddings, vectors, memories, context) on top of it;
//! - [`social`] (the graph over signed CRDT documents) and [`share`] (sealed shares, links, the
//!   feed), each with its network side;
//! - [`net`]: libp2p and iroh, the wire protocol, and [`P2p`], which runs the features'
//!   network sides without naming them;
//! - [`views`] (the shapes at the surfaces), [`gateway`] (REST and WebSocket on 127.0.0.1),
//!   [`client`] (what the CLI talks to: the gateway or the data dir) and [`mcp`] (the Model
//!   Context Protocol server for AI assistants).
//!
//! ```no_run
//! use vivim_node::DataDir;
//! use vivim_identity::KdfParams;
//!
//! let dir = DataDir::at("/tmp/my-vivim");
//! let key = dir.init(None, KdfParams::default()).unwrap();
//! println!("{}", key.did());
//! ```

pub mod admin;
pub mod client;
mod config;
pub mod datadir;
pub mod gateway;
pub mod import;
pub mod mcp;
pub mod net;
mod network;
pub mod node;
pub mod organize;
pub mod search;
pub mod share;
pub mod social;
pub mod store;
#[cfg(feature = "test-utils")]
pub mod testdata;
mod text;
pub mod trust;
pub mod views;

pub use client::{Client, ClientError};
pub use config::{Config, GatewayConfig, ImportConfig, NetworkConfig};
pub use datadir::DataDir;
pub use import::Format;
pub use net::p2p::{P2p, P2pConfig, P2pError};
pub use node::{Capture, Event, ImportSummary, Node, NodeError};
pub use search::Query;
pub use store::{PutOutcome, Store, StoreError};

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
