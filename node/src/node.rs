//! The node runtime: one identity, its store and index, and the operations every surface (CLI,
//! gateway, bindings) shares.

pub mod capture;
mod index_queue;
pub mod outbound;

use crate::now_ms;
use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde::Serialize;
use tokio::sync::broadcast;
use vivim_identity::{KdfParams, Keypair};
use vivim_protocol::{Acu, ConvId, Hash, Kind, Manifest, Role, Signed};

use crate::{
    config::Config,
    datadir::{DataDir, DataDirError},
    import::ingest,
    import::{self, BadConversation, Format, ImportError, Item},
    search::{IndexDoc, OpenState, Query, SearchError, SearchIndex},
    store::{AcuBytes, ConvRow, NewConversation, PutOutcome, Store, StoreError},
};

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Data dir, key or config.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Search index.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// Import.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// Social graph.
    #[error(transparent)]
    Social(#[from] crate::store::docs::SocialError),
    /// Something not found.
    #[error("{0} not found")]
    NotFound(String),
    /// A bad request from a caller.
    #[error("{0}")]
    Invalid(String),
}

/// Something that happened, for `/api/ws` subscribers.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A conversation was imported or updated.
    ConversationImported {
        /// Conversation id.
        id: String,
        /// Title.
        title: String,
        /// Messages (visible, head branch).
        message_count: u32,
    },
    /// An ACU was captured.
    AcuAdded {
        /// ACU id.
        id: String,
        /// Conversation id.
        conversation: String,
    },
    /// A conversation was deleted.
    ConversationDeleted {
        /// Conversation id.
        id: String,
    },
    /// An import finished.
    ImportFinished {
        /// Its summary.
        summary: ImportSummary,
    },
    /// Something arrived in the feed (a share for me, a publication by someone I follow), or
    /// a feed entry changed (opened, expired, revoked).
    FeedItem {
        /// The entry.
        item: crate::share::state::FeedItem,
    },
    /// Someone this user does not know sent something: a message request (`vivim requests`).
    Request {
        /// The sender's DID.
        did: String,
    },
    /// A social-graph document changed (here or on its writer's node).
    DocChanged {
        /// Document id.
        doc: String,
        /// Its last applied update number.
        seq: u64,
        /// Changed on this node.
        local: bool,
    },
}

/// Progress of a running import.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ImportProgress {
    /// Conversations stored so far (durable).
    pub conversations: u64,
    /// Messages stored so far.
    pub messages: u64,
}

/// The result of an import.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct ImportSummary {
    /// The format read.
    pub format: String,
    /// New conversations.
    pub conversations: u64,
    /// Conversations that grew or changed.
    pub updated: u64,
    /// Conversations that were already stored exactly as they are.
    pub duplicates: u64,
    /// Messages (ACUs) written.
    pub messages: u64,
    /// Conversations that could not be read.
    pub skipped: Vec<SkippedConversation>,
    /// Wall time.
    pub seconds: f64,
}

/// A conversation that was skipped, and why.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SkippedConversation {
    /// Position in the export.
    pub index: usize,
    /// Provider id, when readable.
    pub id: Option<String>,
    /// Title, when readable.
    pub title: Option<String>,
    /// Why.
    pub error: String,
}

impl From<BadConversation> for SkippedConversation {
    fn from(b: BadConversation) -> Self {
        SkippedConversation {
            index: b.index,
            id: b.id,
            title: b.title,
            error: b.error,
        }
    }
}

impl ImportSummary {
    /// The one-line summary the CLI prints.
    pub fn line(&self) -> String {
        format!(
            "imported {} conversations ({} updated, {} duplicates), {} messages, {} skipped, in {:.1}s [{}]",
            self.conversations,
            self.updated,
            self.duplicates,
            self.messages,
            self.skipped.len(),
            self.seconds,
            self.format
        )
    }
}

/// A message captured through the API (a browser extension, the PWA, another app).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct Capture {
    /// Conversation id (hex) to append to; omit to start a new conversation.
    pub conversation: Option<String>,
    /// Provider of a new conversation (`chatgpt`, `claude`, …; default `vivim`).
    pub provider: Option<String>,
    /// The provider's own conversation id: captures and later imports of the same
    /// conversation then land in the same VIVIM conversation.
    pub source_id: Option<String>,
    /// Title of a new conversation.
    pub title: Option<String>,
    /// Parent ACU (hex); default: the conversation's head.
    pub parent: Option<String>,
    /// `user`, `assistant`, `system` or `tool`.
    pub role: String,
    /// `text` (default), `markdown`, `code`, …
    pub kind: Option<String>,
    /// Language of code.
    pub lang: Option<String>,
    /// The content.
    pub text: String,
    /// When it was said (ms since the Unix epoch); default: now.
    pub created_at_ms: Option<u64>,
}

/// Node counters for status and metrics.
#[derive(Debug, Default)]
pub struct Counters {
    /// Imports finished.
    pub imports: AtomicU64,
    /// Captures accepted.
    pub captures: AtomicU64,
    /// Searches served.
    pub searches: AtomicU64,
}

/// A running node.
pub struct Node {
    /// Its data directory.
    pub dir: DataDir,
    /// Its identity.
    pub key: Keypair,
    /// Its configuration.
    pub config: Config,
    /// Storage.
    pub store: Store,
    /// Full-text index.
    pub index: SearchIndex,
    /// Social-graph documents.
    pub social: crate::store::docs::Social,
    /// Event stream.
    pub events: broadcast::Sender<Event>,
    /// Counters.
    pub(crate) counters: Counters,
    /// Bumped on every change to stored conversations (response caches key on it).
    pub(crate) generation: AtomicU64,
    /// The way to the peer-to-peer side while one runs (`vivim up`): a bounded channel of
    /// work, never a handle on it (the network holds the node, not the other way round).
    pub(crate) network: outbound::Link,
    /// Which shared blobs are served until when.
    pub(crate) share_state: crate::share::state::ShareState,
    /// Embeddings, vectors and memories, opened on first use (`crate::organize`).
    pub(crate) semantic: tokio::sync::OnceCell<Arc<crate::organize::state::Semantic>>,
    capture_queue: crate::node::capture::Queue,
    /// One import at a time: two imports of one export would both plan a conversation as new
    /// and index its messages twice.
    import_lock: tokio::sync::Mutex<()>,
    /// Held from a store write to the matching index write by captures, deletes and indexed
    /// fetches (taken before the store's write transaction), so a delete cannot slip between
    /// a capture's commit and its indexing and leave deleted text searchable.
    pub(crate) index_order: tokio::sync::Mutex<()>,
    /// Writers whose documents the search index still lacks (see `mark_index_dirty`).
    index_behind: std::sync::Mutex<usize>,
    /// Index changes of captures and deletes, applied in order by one thread.
    pub(crate) index_queue: crate::node::index_queue::IndexQueue,
    started: Instant,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("did", &self.key.did().to_string())
            .field("dir", &self.dir.root())
            .finish_non_exhaustive()
    }
}

/// A file in the data dir whose presence makes the next open rebuild the search index.
pub(crate) const INDEX_DIRTY: &str = "index-dirty";

impl Node {
    /// Opens the node in `dir`. With `create`, an uninitialized dir gets a new identity.
    pub async fn open(
        dir: DataDir,
        passphrase: Option<&[u8]>,
        create: bool,
    ) -> Result<Arc<Node>, NodeError> {
        let key = if create && !dir.is_initialized() {
            dir.init(passphrase, KdfParams::default())?
        } else {
            dir.load_key(passphrase)?
        };
        dir.tighten()?;
        let config = dir.config()?;
        let store = Store::open(&dir.db_path().join("vivim.redb"), &dir.blobs_path()).await?;
        let (index, state) = SearchIndex::open(&dir.index_path())?;
        let (events, _) = broadcast::channel(1024);
        let social = crate::store::docs::Social::open(key.clone(), store.database())?;
        let (capture_queue, captures) = crate::node::capture::queue();
        let (index_queue, index_changes) = crate::node::index_queue::IndexQueue::new();
        let node = Node {
            dir,
            key,
            config,
            store,
            index,
            social,
            events,
            counters: Counters::default(),
            generation: AtomicU64::new(0),
            network: outbound::Link::default(),
            share_state: Default::default(),
            semantic: tokio::sync::OnceCell::new(),
            capture_queue,
            import_lock: tokio::sync::Mutex::new(()),
            index_order: tokio::sync::Mutex::new(()),
            index_behind: Default::default(),
            index_queue,
            started: Instant::now(),
        };
        node.open_share_tables()?;
        node.open_trust_tables()?;
        let dirty = node.dir.root().join(INDEX_DIRTY).exists();
        if dirty
            || state == OpenState::RebuiltEmpty
            || (state == OpenState::Created && node.store.conversation_count() > 0)
        {
            tracing::info!(?state, dirty, "rebuilding the search index from the store");
            node.rebuild_index().await?;
        }
        let node = Arc::new(node);
        crate::node::index_queue::start(Arc::downgrade(&node), index_changes)
            .map_err(|e| NodeError::Invalid(format!("starting the index writer: {e}")))?;
        crate::node::capture::start(Arc::downgrade(&node), captures)
            .map_err(|e| NodeError::Invalid(format!("starting the capture writer: {e}")))?;
        Ok(node)
    }

    /// Re-adds every stored ACU to the search index.
    pub async fn rebuild_index(&self) -> Result<u64, NodeError> {
        self.index.clear()?;
        let mut n = 0u64;
        let rows: Vec<ConvRow> = self.store.all_rows()?;
        for row in rows {
            let acus = self.store.acus(&row.manifest.id).await?;
            n += acus.len() as u64;
            self.index.add_new(docs_for(&row.manifest, &acus))?;
        }
        self.index.commit()?;
        if *crate::lock(&self.index_behind) == 0 {
            let _ = std::fs::remove_file(self.dir.root().join(INDEX_DIRTY));
        }
        Ok(n)
    }

    /// Marks the index as behind the store until the matching [`Node::clear_index_dirty`];
    /// the mark on disk goes when every writer that set it has cleared it.
    pub(crate) fn mark_index_dirty(&self) {
        let mut n = crate::lock(&self.index_behind);
        if *n == 0 {
            let _ = std::fs::write(self.dir.root().join(INDEX_DIRTY), b"1");
        }
        *n += 1;
    }

    pub(crate) fn clear_index_dirty(&self) {
        let mut n = crate::lock(&self.index_behind);
        *n = n.saturating_sub(1);
        if *n == 0 {
            let _ = std::fs::remove_file(self.dir.root().join(INDEX_DIRTY));
        }
    }

    /// Whether stored conversations still wait to be indexed (a fetched one is indexed in the
    /// background after the fetch returns).
    pub fn index_pending(&self) -> bool {
        self.dir.root().join(INDEX_DIRTY).exists()
    }

    /// Whether an import is running.
    pub fn importing(&self) -> bool {
        self.import_lock.try_lock().is_err()
    }

    /// Time since the node opened.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    pub(crate) fn changed(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// A number that grows whenever stored conversations change (import, capture, fetch,
    /// delete): what a cache of rendered conversations is keyed by.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Imports a file, zip or directory. `progress` is called after every durable batch.
    pub async fn import_path(
        &self,
        path: &Path,
        format: Format,
        progress: Option<&(dyn Fn(ImportProgress) + Send + Sync)>,
    ) -> Result<ImportSummary, NodeError> {
        let _one_at_a_time = self.import_lock.lock().await;
        let started = Instant::now();
        let path: PathBuf = path.to_path_buf();
        let meta = std::fs::metadata(&path).map_err(ImportError::Io)?;
        let max = self.config.import.max_file_bytes;
        if meta.is_file() && meta.len() > max {
            return Err(ImportError::TooLarge {
                what: path.display().to_string(),
                size: meta.len(),
                max,
            }
            .into());
        }
        let limits = import::Limits {
            max_file_bytes: max,
            max_member_bytes: max,
            ..import::Limits::default()
        };
        enum Built {
            Conv(Box<(NewConversation, Vec<IndexDoc>)>),
            Bad(BadConversation),
        }
        // Three stages on their own threads, joined by bounded channels: parse (one thread),
        // sign (one thread), store and index (this task; tantivy indexes on its own thread).
        let (item_tx, item_rx) = std::sync::mpsc::sync_channel::<(usize, Item)>(8);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Built>(8);
        let key = self.key.clone();
        let parser = tokio::task::spawn_blocking(move || {
            let mut index = 0usize;
            let mut sink = |item: Item| -> Result<(), ImportError> {
                index += 1;
                item_tx
                    .send((index - 1, item))
                    .map_err(|_| ImportError::Sink("the store stopped accepting".into()))
            };
            import::parse_path(&path, format, &limits, &mut sink)
        });
        let builder = tokio::task::spawn_blocking(move || {
            for (index, item) in item_rx {
                let built = match item {
                    Item::Conversation(c) => match ingest::build(&c, &key) {
                        Ok(built) => Built::Conv(Box::new(built)),
                        Err(e) => Built::Bad(BadConversation {
                            index,
                            id: Some(c.source_id.clone()),
                            title: Some(c.title.clone()),
                            error: e.to_string(),
                        }),
                    },
                    Item::Bad(b) => Built::Bad(b),
                };
                if tx.blocking_send(built).is_err() {
                    break;
                }
            }
        });

        self.mark_index_dirty();
        let mut summary = ImportSummary::default();
        let mut last_flush = Instant::now();
        let mut pending = 0usize;
        let mut stored = ImportProgress::default();
        let mut batch_msgs = 0u64;
        let mut batch_convs = 0u64;
        let mut store_err: Option<NodeError> = None;
        let mut staged = Vec::new();
        while let Some(b) = rx.recv().await {
            match b {
                Built::Bad(bad) => summary.skipped.push(bad.into()),
                Built::Conv(built) => {
                    let (mut new, docs) = *built;
                    // An export without times (an old Markdown transcript) updating a stored
                    // conversation keeps the stored times instead of moving it to 1970.
                    if new.manifest.value().created_at_ms == 0
                        && let Ok(Some(old)) = self.store.row(&new.manifest.value().id)
                        && old.manifest.created_at_ms > 0
                    {
                        let mut m = new.manifest.value().clone();
                        m.created_at_ms = old.manifest.created_at_ms;
                        m.updated_at_ms = m.updated_at_ms.max(old.manifest.updated_at_ms);
                        m.sig = None;
                        if let Ok(signed) = Signed::sign(m, &self.key) {
                            new.manifest = signed;
                        }
                    }
                    {
                        let outcome = match self.store.stage(&new).await {
                            Ok((o, s)) => {
                                staged.extend(s);
                                o
                            }
                            Err(e) => {
                                store_err = Some(e.into());
                                break;
                            }
                        };
                        let m = new.manifest.value();
                        match outcome {
                            PutOutcome::Unchanged => summary.duplicates += 1,
                            PutOutcome::Added | PutOutcome::Updated => {
                                if outcome == PutOutcome::Added {
                                    summary.conversations += 1;
                                    self.index.add_new(docs)?;
                                } else {
                                    // The stored version keeps ACUs the export lacks, and
                                    // their documents stay; the export's replace their own.
                                    summary.updated += 1;
                                    self.index.add(docs)?;
                                }
                                summary.messages += new.acus.len() as u64;
                                batch_msgs += new.acus.len() as u64;
                                batch_convs += 1;
                                pending += 1;
                                let _ = self.events.send(Event::ConversationImported {
                                    id: m.id.to_string(),
                                    title: m.title.clone(),
                                    message_count: m.message_count,
                                });
                            }
                        }
                    }
                }
            }
            if pending > 0 && (pending >= 500 || last_flush.elapsed() > Duration::from_secs(1)) {
                self.store.commit(std::mem::take(&mut staged)).await?;
                // Committing the index as often keeps tantivy's pending deletes and segment
                // bookkeeping from growing with the export.
                self.index.commit()?;
                self.changed();
                stored.conversations += batch_convs;
                stored.messages += batch_msgs;
                batch_convs = 0;
                batch_msgs = 0;
                if let Some(p) = progress {
                    p(stored);
                }
                pending = 0;
                last_flush = Instant::now();
            }
        }
        drop(rx);
        let _ = builder.await;
        let parsed = parser
            .await
            .map_err(|e| NodeError::Invalid(format!("import task failed: {e}")))?;
        self.store.commit(staged).await?;
        // A large batch is done: commit, merge, and give the writer's memory and threads back.
        self.index.release_writer()?;
        self.changed();
        stored.conversations += batch_convs;
        stored.messages += batch_msgs;
        if let Some(p) = progress {
            p(stored);
        }
        if let Some(e) = store_err {
            return Err(e);
        }
        self.clear_index_dirty();
        let format = match parsed {
            Ok(f) => f,
            Err(e) => {
                // What was stored before the error stays stored.
                tracing::info!(error = %e, conversations = summary.conversations, "import failed");
                return Err(e.into());
            }
        };
        summary.format = format.provider().to_string();
        if format == Format::ChatGptShare {
            summary.format = "chatgpt-share".into();
        }
        summary.seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            format = %summary.format,
            conversations = summary.conversations,
            updated = summary.updated,
            duplicates = summary.duplicates,
            messages = summary.messages,
            skipped = summary.skipped.len(),
            seconds = summary.seconds,
            "import finished"
        );
        self.counters.imports.fetch_add(1, Ordering::Relaxed);
        let _ = self.store.log_import(&serde_json::json!({
            "at_ms": now_ms(),
            "summary": summary,
        }));
        let _ = self.events.send(Event::ImportFinished {
            summary: summary.clone(),
        });
        Ok(summary)
    }

    /// Fetches a share page and imports it.
    pub async fn import_url(&self, url: &str, format: Format) -> Result<ImportSummary, NodeError> {
        let bytes = import::fetch_url(url, self.config.import.max_url_bytes).await?;
        let tmp = self.spool(&bytes)?;
        let r = self.import_path(tmp.path(), format, None).await;
        drop(tmp);
        r
    }

    /// Writes bytes to a temporary file in the data dir (for uploads and fetched pages).
    pub fn spool(&self, bytes: &[u8]) -> Result<tempfile::NamedTempFile, NodeError> {
        let mut f = tempfile::NamedTempFile::new_in(self.dir.root())
            .map_err(|e| NodeError::Invalid(format!("cannot create a temporary file: {e}")))?;
        std::io::Write::write_all(&mut f, bytes)
            .map_err(|e| NodeError::Invalid(format!("cannot write a temporary file: {e}")))?;
        Ok(f)
    }

    /// A conversation's row and verified ACUs.
    pub async fn conversation(
        &self,
        id: &ConvId,
    ) -> Result<Option<(ConvRow, Vec<Signed<Acu>>)>, NodeError> {
        let Some(row) = self.store.row(id)? else {
            return Ok(None);
        };
        let acus = self.store.acus(id).await?;
        Ok(Some((row, acus)))
    }

    /// Deletes a conversation everywhere (store, index), durably.
    pub async fn delete(&self, id: &ConvId) -> Result<bool, NodeError> {
        let _order = self.index_order.lock().await;
        let found = self.store.delete(id).await?;
        if found {
            // After any capture of it still queued for the index.
            self.index_queue
                .submit(crate::node::index_queue::Change::Delete(*id));
            self.changed();
            let _ = self
                .events
                .send(Event::ConversationDeleted { id: id.to_string() });
        }
        Ok(found)
    }

    /// Searches the full-text index.
    ///
    /// Sees every capture and delete acknowledged before it (it waits, at most a few seconds,
    /// for their index changes; see [`crate::node::index_queue`]).
    pub fn search(&self, q: &Query) -> Result<(Vec<crate::search::Hit>, usize), NodeError> {
        self.index_queue.wait();
        self.counters.searches.fetch_add(1, Ordering::Relaxed);
        Ok(self.index.search(q)?)
    }

    /// Signs and stores one captured message, durably and searchable, appended to its
    /// conversation (see [`crate::node::capture`]: concurrent captures are serialized, none is
    /// lost). Returns (ACU id, conversation id).
    pub async fn capture(&self, c: Capture) -> Result<(Hash, ConvId), NodeError> {
        crate::node::capture::capture(self, c).await
    }

    /// The capture queue (its writer thread runs while the node lives).
    pub(crate) fn capture_queue(&self) -> &crate::node::capture::Queue {
        &self.capture_queue
    }

    /// Stores a conversation made on this node (a fork) durably, indexes it, and tells
    /// subscribers.
    pub async fn store_own(&self, new: NewConversation) -> Result<(), NodeError> {
        self.store.put_conversation(&new).await?;
        let m = new.manifest.value();
        self.index.delete_conversation(&m.id)?;
        self.index.add_new(docs_for(m, &new.acus))?;
        self.index.commit()?;
        self.changed();
        let _ = self.events.send(Event::ConversationImported {
            id: m.id.to_string(),
            title: m.title.clone(),
            message_count: m.message_count,
        });
        Ok(())
    }

    /// Stores a conversation fetched from a peer (already verified), indexes it, and tells
    /// subscribers. Returns whether it was new here.
    pub async fn store_fetched(self: &Arc<Self>, new: NewConversation) -> Result<bool, NodeError> {
        // The bytes move into the write; the values stay for the index.
        let (values, parts): (Vec<Acu>, Vec<AcuBytes>) =
            new.acus.into_iter().map(AcuBytes::split).unzip();
        let ids: Vec<Hash> = parts.iter().map(|p| p.id).collect();
        let outcome = self.store.put_fetched(&new.manifest, parts)?;
        Ok(self.fetched(&new.manifest, ids, values, outcome))
    }

    /// What follows storing a fetched conversation (whole, or as it arrived through a
    /// [`crate::store::StreamWriter`]): its ACUs' `ids` and `values` in stored order get
    /// indexed once the store made them durable, and subscribers hear of it. Returns whether
    /// it was new here.
    pub fn fetched(
        self: &Arc<Self>,
        manifest: &Signed<Manifest>,
        ids: Vec<Hash>,
        values: Vec<Acu>,
        outcome: PutOutcome,
    ) -> bool {
        if outcome == PutOutcome::Unchanged {
            return false;
        }
        // The index is derived data, rebuilt at start while marked dirty.
        self.mark_index_dirty();
        self.changed();
        let m = manifest.value().clone();
        // Stored (atomic, visible) but not yet fsynced: the copy can be fetched again. Answer
        // now; in the background make it durable, then index it, then clear the dirty mark —
        // so the index never names a conversation the store could lose.
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = me.store.sync() {
                tracing::warn!("making a fetched conversation durable: {e}");
                return;
            }
            let _order = me.index_order.blocking_lock();
            if !matches!(me.store.row(&m.id), Ok(Some(_))) {
                // Deleted meanwhile: nothing to index.
                me.clear_index_dirty();
                return;
            }
            let docs: Vec<IndexDoc> = ids
                .iter()
                .zip(&values)
                .filter_map(|(id, v)| doc_for(&m, *id, v))
                .collect();
            let r = if outcome == PutOutcome::Added {
                me.index.add_new(docs)
            } else {
                me.index.add(docs)
            };
            if let Err(e) = r.and_then(|()| me.index.commit()) {
                tracing::warn!("indexing a fetched conversation: {e}");
            } else {
                me.clear_index_dirty();
            }
        });
        let m = manifest.value();
        let _ = self.events.send(Event::ConversationImported {
            id: m.id.to_string(),
            title: m.title.clone(),
            message_count: m.message_count,
        });
        outcome == PutOutcome::Added
    }

    /// Whether a network runs for this node (`vivim up` without `--no-network`).
    pub fn network_up(&self) -> bool {
        self.network.sender().is_some()
    }

    /// Hands work to the network if one runs (dropped otherwise: documents and shares catch
    /// up when it starts). A full queue drops the work with a warning for the same reason.
    pub(crate) fn send_out(&self, work: outbound::Outbound) {
        if let Some(tx) = self.network.sender()
            && let Err(e) = tx.try_send(work)
        {
            tracing::warn!("the network is behind; dropping queued work: {e}");
        }
    }

    /// Connects a starting network: the receiving end of the node's outbound work.
    pub(crate) fn connect_network(&self) -> tokio::sync::mpsc::Receiver<outbound::Outbound> {
        self.network.connect()
    }

    /// Announces a conversation through the running network.
    pub(crate) async fn publish_out(
        &self,
        conv: ConvId,
    ) -> Result<vivim_protocol::Signed<vivim_protocol::Announce>, NodeError> {
        let tx = self.network.sender().ok_or_else(publishing_needs_network)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        tx.send(outbound::Outbound::Publish { conv, reply })
            .await
            .map_err(|_| NodeError::Invalid("the network stopped".into()))?;
        answer
            .await
            .map_err(|_| NodeError::Invalid("the network stopped".into()))?
            .map_err(|e| NodeError::Invalid(format!("publishing: {e}")))
    }

    /// Flushes everything and stops the network and the blob store.
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        if let Some(tx) = self.network.sender() {
            let (done, stopped) = tokio::sync::oneshot::channel();
            if tx.send(outbound::Outbound::Shutdown(done)).await.is_ok() {
                let _ = stopped.await;
            }
            self.network.disconnect();
        }
        self.index_queue.wait();
        self.index.commit()?;
        if let Some(s) = self.semantic.get()
            && let Err(e) = s.vectors.save()
        {
            tracing::warn!("saving the vector index: {e}");
        }
        self.social.sync()?;
        self.store.shutdown().await?;
        Ok(())
    }
}

/// Publishing asked of a node whose network does not run.
pub(crate) fn publishing_needs_network() -> NodeError {
    NodeError::Invalid("publishing needs the network: start the node with `vivim up`".into())
}

/// Visible messages (user/assistant with text) on the branch ending at `head`.
pub fn head_branch_visible(acus: &[Signed<Acu>], head: Option<Hash>) -> u32 {
    let by_id: std::collections::HashMap<Hash, &Acu> =
        acus.iter().map(|a| (a.id(), a.value())).collect();
    // The parts of one message (meta `part_of`, see `import::common::chain_parts`) count once.
    let mut counted: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut n = 0u32;
    let mut cur = head;
    let mut steps = 0;
    while let Some(h) = cur {
        let Some(a) = by_id.get(&h) else { break };
        if is_visible(a) {
            match a.provider_meta.get(crate::import::PART_OF) {
                Some(of) => {
                    if counted.insert(of.as_str()) {
                        n += 1;
                    }
                }
                None => {
                    let own = a.provider_meta.get("id").map_or("", String::as_str);
                    if own.is_empty() || counted.insert(own) {
                        n += 1;
                    }
                }
            }
        }
        cur = a.parent;
        steps += 1;
        if steps > acus.len() {
            break;
        }
    }
    n
}

/// Whether an ACU counts as a message a person sees (user or assistant, with text, not
/// thinking).
pub fn is_visible(a: &Acu) -> bool {
    let text = a.body.as_text().unwrap_or("");
    let visible_kind = !matches!(a.kind, Kind::Thinking | Kind::Other);
    matches!(a.role, Role::User | Role::Assistant) && visible_kind && !text.is_empty()
}

/// Search documents for a stored conversation.
pub fn docs_for(m: &Manifest, acus: &[Signed<Acu>]) -> Vec<IndexDoc> {
    acus.iter()
        .filter_map(|a| doc_for(m, a.id(), a.value()))
        .collect()
}

/// The index document of one ACU (`None` when it has no text).
pub(crate) fn doc_for(m: &Manifest, acu_id: Hash, v: &Acu) -> Option<IndexDoc> {
    let text = v.body.as_text()?;
    if text.is_empty() {
        return None;
    }
    Some(IndexDoc {
        acu_id,
        conversation: m.id,
        provider: m.provider.clone(),
        role: v.role,
        kind: v.kind,
        created_at_ms: v.created_at_ms,
        title: m.title.clone(),
        text: text.to_string(),
    })
}

/// Parses a role name.
pub fn parse_role(s: &str) -> Result<Role, NodeError> {
    Ok(match s {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "system" => Role::System,
        "tool" => Role::Tool,
        other => {
            return Err(NodeError::Invalid(format!(
                "unknown role {other:?}: use user, assistant, system or tool"
            )));
        }
    })
}

/// Parses a kind name.
pub fn parse_kind(s: &str) -> Result<Kind, NodeError> {
    Ok(match s {
        "text" => Kind::Text,
        "code" => Kind::Code,
        "markdown" => Kind::Markdown,
        "image" => Kind::Image,
        "file" => Kind::File,
        "quote" => Kind::Quote,
        "tool_call" => Kind::ToolCall,
        "tool_result" => Kind::ToolResult,
        "thinking" => Kind::Thinking,
        "other" => Kind::Other,
        other => return Err(NodeError::Invalid(format!("unknown kind {other:?}"))),
    })
}
