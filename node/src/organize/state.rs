//! The organizing state a node holds once it is opened: the embedder, the vector index, the
//! memories, and the progress of the embedding pass. The service that fills and reads it is
//! [`crate::organize`].

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64},
    },
    time::Instant,
};

use super::{embed::Embedder, memory::MemoryStore, vector::VectorIndex};

/// The organizing state of a node.
pub struct Semantic {
    /// The embedder.
    pub embedder: Box<dyn Embedder>,
    /// ACU vectors.
    pub vectors: VectorIndex,
    /// Memories.
    pub memory: MemoryStore,
    pub(crate) run: tokio::sync::Mutex<()>,
    pub(crate) synced_generation: AtomicU64,
    pub(crate) running: AtomicBool,
    pub(crate) pending: AtomicU64,
    pub(crate) embedded: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
    /// When the vector index was last written to disk.
    pub(crate) last_save: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Semantic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semantic")
            .field("embedder", &self.embedder.id())
            .field("vectors", &self.vectors.len())
            .finish_non_exhaustive()
    }
}
