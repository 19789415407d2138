//! Organizing, wired to the node: the embedder, the vector index and the memory store, the
//! background worker that keeps them up to date, and the operations the gateway and the CLI
//! share — text/vector/hybrid search, related conversations, memories, context assembly and
//! sending a context to the provider.
//!
//! The worker compares each stored conversation's manifest id with the version the vector
//! index recorded; new or changed conversations get their messages embedded (batches of
//! `[embed] batch`), memories extracted, and the index saved every two seconds. Deleted
//! conversations lose their vectors. `vivim up` runs it in the background
//! ([`spawn_worker`]); searches run it inline when nothing is running and the store changed,
//! so a CLI without a node sees fresh results too.

pub mod ai;
pub mod context;
pub mod embed;
pub mod memory;
pub mod state;
pub mod vector;

pub use state::Semantic;

use crate::now_ms;
use crate::text::clip;
use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use vivim_protocol::{Acu, ConvId, Hash, Role, Signed};

use crate::{
    node::{Capture, Node, NodeError},
    organize::ai::ProviderError,
    organize::context::{Context, Parts, Retrieved, TokenCounter},
    organize::embed::EmbedError,
    organize::memory::{Candidate, MemoryError, MemoryStore},
    organize::vector::{VectorError, VectorIndex, VectorOptions},
    store::ConvRow,
    views::{HitView, SearchParams, SearchResults},
};

/// Why an organizing operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SemanticError {
    /// Embedding.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The vector index.
    #[error(transparent)]
    Vector(#[from] VectorError),
    /// Memories.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The node (store, index).
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The AI provider.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A bad request.
    #[error("{0}")]
    Invalid(String),
    /// Not found.
    #[error("{0} not found")]
    NotFound(String),
}

/// Embedding progress, for `/api/admin/status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct EmbedStatus {
    /// The embedder (`builtin-hash-v1-256`, `model2vec-…`, `openai-…`).
    pub embedder: String,
    /// Vector dimensions.
    pub dims: usize,
    /// Vectors in the index.
    pub vectors: usize,
    /// Conversations embedded at their current version.
    pub conversations_done: usize,
    /// Conversations waiting (as of the last pass).
    pub conversations_pending: u64,
    /// Messages embedded in the running pass.
    pub embedded_this_pass: u64,
    /// Whether a pass is running.
    pub running: bool,
    /// Memories stored (any state).
    pub memories: usize,
    /// The last error, if the last pass failed.
    pub last_error: Option<String>,
}

/// The version marker of a stored conversation.
fn marker(row: &ConvRow) -> u64 {
    let b = row.manifest_id.as_bytes();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// The node's organizing state, opened on first use.
pub async fn get(node: &Node) -> Result<&Arc<Semantic>, SemanticError> {
    node.semantic
        .get_or_try_init(|| async {
            let embedder = embed::from_config(&node.config.embed).await?;
            let dims = embedder.dims();
            let mut opts = VectorOptions::new(dims);
            opts.quantization = crate::organize::vector::parse_quantization(&node.config.embed.quantization)
                .ok_or_else(|| {
                    EmbedError::Config(format!(
                        "quantization {:?}: use f32, bf16, f16 or i8",
                        node.config.embed.quantization
                    ))
                })?;
            let (vectors, state) =
                VectorIndex::open(&node.dir.root().join("vectors"), &embedder.id(), opts)?;
            tracing::info!(embedder = %embedder.id(), ?state, vectors = vectors.len(), "vector index");
            let memory = MemoryStore::open(&node.dir.db_path().join("memory.redb"))?;
            let sem = Semantic {
                embedder,
                vectors,
                memory,
                run: tokio::sync::Mutex::new(()),
                synced_generation: AtomicU64::new(u64::MAX),
                running: AtomicBool::new(false),
                pending: AtomicU64::new(0),
                embedded: AtomicU64::new(0),
                last_error: Mutex::new(None),
                last_save: Mutex::new(None),
            };
            // Memories embedded by another embedder are re-embedded.
            let stale = sem.memory.stale_embeddings(&sem.embedder.id());
            if !stale.is_empty() {
                let texts: Vec<String> = stale.iter().map(|s| s.1.clone()).collect();
                let vecs = sem.embedder.embed(&texts).await?;
                sem.memory.set_embeddings(
                    stale.into_iter().map(|s| s.0).zip(vecs).collect(),
                    &sem.embedder.id(),
                )?;
            }
            Ok::<_, SemanticError>(Arc::new(sem))
        })
        .await
}

/// The status for `/api/admin/status` (None until first used).
pub fn status(node: &Node) -> Option<EmbedStatus> {
    let s = node.semantic.get()?;
    Some(EmbedStatus {
        embedder: s.embedder.id(),
        dims: s.embedder.dims(),
        vectors: s.vectors.len(),
        conversations_done: s.vectors.done_count(),
        conversations_pending: s.pending.load(Ordering::Relaxed),
        embedded_this_pass: s.embedded.load(Ordering::Relaxed),
        running: s.running.load(Ordering::Relaxed),
        memories: s.memory.len(),
        last_error: s.last_error.lock().ok().and_then(|g| g.clone()),
    })
}

/// Runs the worker in the background: a pass whenever the store changed (checked twice a
/// second), until the node is dropped.
pub fn spawn_worker(node: &Arc<Node>) {
    let weak = Arc::downgrade(node);
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(500);
        loop {
            let Some(node) = weak.upgrade() else { break };
            match catch_up(&node).await {
                Ok(_) => {
                    backoff = Duration::from_millis(500);
                    // Writes that stopped a while ago reach the disk.
                    if let Some(sem) = node.semantic.get()
                        && let Err(e) = save_due(sem).await
                    {
                        tracing::warn!("saving the vector index: {e}");
                    }
                }
                Err(e) => {
                    // An unreachable endpoint is retried, less and less often (up to 5 min).
                    tracing::warn!("embedding pass: {e}; retrying in {backoff:?}");
                    backoff = (backoff * 2).min(Duration::from_secs(300));
                }
            }
            drop(node);
            tokio::time::sleep(backoff).await;
        }
    });
}

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Pass {
    /// Messages embedded.
    pub embedded: u64,
    /// Conversations whose vectors were removed.
    pub removed: u64,
    /// Memories added (new, merged or superseding).
    pub memories: u64,
}

/// One pass (see the module docs). Does nothing when the store has not changed since the
/// last one; waits for a pass already running.
pub async fn catch_up(node: &Node) -> Result<Pass, SemanticError> {
    let sem = get(node).await?;
    let _guard = sem.run.lock().await;
    let generation = node.generation.load(Ordering::Relaxed);
    if sem.synced_generation.load(Ordering::Relaxed) == generation {
        return Ok(Pass::default());
    }
    sem.running.store(true, Ordering::Relaxed);
    sem.embedded.store(0, Ordering::Relaxed);
    let started = Instant::now();
    let r = pass(node, sem).await;
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        ?r,
        "embedding pass"
    );
    sem.running.store(false, Ordering::Relaxed);
    sem.pending.store(0, Ordering::Relaxed);
    match &r {
        Ok(_) => {
            sem.synced_generation.store(generation, Ordering::Relaxed);
            if let Ok(mut g) = sem.last_error.lock() {
                *g = None;
            }
        }
        Err(e) => {
            if let Ok(mut g) = sem.last_error.lock() {
                *g = Some(e.to_string());
            }
        }
    }
    r
}

/// Runs a pass inline unless one is running now (then the caller reads what is indexed).
async fn ensure_fresh(node: &Node) -> Result<&Arc<Semantic>, SemanticError> {
    let sem = get(node).await?;
    if sem.synced_generation.load(Ordering::Relaxed) != node.generation.load(Ordering::Relaxed)
        && !sem.running.load(Ordering::Relaxed)
    {
        catch_up(node).await?;
    }
    Ok(sem)
}

async fn pass(node: &Node, sem: &Arc<Semantic>) -> Result<Pass, SemanticError> {
    let mut out = Pass::default();
    let rows = node.store.all_rows().map_err(NodeError::from)?;
    let done = sem.vectors.done();
    let live: HashSet<ConvId> = rows.iter().map(|r| r.manifest.id).collect();
    for conv in done.keys().filter(|c| !live.contains(c)) {
        sem.vectors.remove_conversation(conv)?;
        out.removed += 1;
    }
    // Oldest first: memories consolidate in the order things were said.
    let mut pending: Vec<&ConvRow> = rows
        .iter()
        .filter(|r| done.get(&r.manifest.id) != Some(&marker(r)))
        .collect();
    pending.sort_by_key(|r| (r.manifest.created_at_ms, r.manifest.id.0.0));
    sem.pending.store(pending.len() as u64, Ordering::Relaxed);
    let cfg = &node.config.embed;
    let batch = cfg.batch.clamp(1, 2048);
    let mut last_save = Instant::now();
    let mut texts: Vec<String> = Vec::new();
    let mut meta: Vec<(Hash, ConvId)> = Vec::new();
    for (i, row) in pending.iter().enumerate() {
        let id = row.manifest.id;
        let acus = node.store.acus(&id).await.map_err(NodeError::from)?;
        for a in &acus {
            let Some(t) = a.value().body.as_text() else {
                continue;
            };
            if t.trim().is_empty() || sem.vectors.contains(&a.id()) {
                continue;
            }
            texts.push(clip(t, cfg.max_chars.max(16)).to_string());
            meta.push((a.id(), id));
            if texts.len() >= batch {
                out.embedded += flush(sem, &mut texts, &mut meta).await?;
            }
        }
        out.embedded += flush(sem, &mut texts, &mut meta).await?;
        sem.vectors.set_done(id, marker(row));
        if sem.memory.extracted(&id)? != Some(marker(row)) {
            out.memories += extract_into(node, sem, &row.manifest, &acus, false).await?;
            sem.memory.set_extracted(&id, marker(row))?;
        }
        sem.pending
            .store((pending.len() - i - 1) as u64, Ordering::Relaxed);
        if last_save.elapsed() > Duration::from_secs(2) {
            save(sem).await?;
            last_save = Instant::now();
        }
    }
    save_due(sem).await?;
    // Working memories past their validity end with the pass.
    sem.memory.expire(&node.key, now_ms())?;
    Ok(out)
}

/// The vector index is written at most this often while it keeps changing (a steady stream
/// of captures would otherwise rewrite the whole file after every message). It is derived
/// data: what a crash loses is embedded again by the next pass.
const SAVE_EVERY: Duration = Duration::from_secs(10);

/// Saves the vector index if it changed and the last save is [`SAVE_EVERY`] old.
async fn save_due(sem: &Arc<Semantic>) -> Result<(), SemanticError> {
    let due = sem
        .last_save
        .lock()
        .map(|g| g.is_none_or(|t| t.elapsed() >= SAVE_EVERY))
        .unwrap_or(true);
    if due { save(sem).await } else { Ok(()) }
}

async fn save(sem: &Arc<Semantic>) -> Result<(), SemanticError> {
    if let Ok(mut g) = sem.last_save.lock() {
        *g = Some(Instant::now());
    }
    let s = sem.clone();
    tokio::task::spawn_blocking(move || s.vectors.save())
        .await
        .map_err(|e| SemanticError::Invalid(format!("saving the vector index: {e}")))??;
    Ok(())
}

async fn flush(
    sem: &Arc<Semantic>,
    texts: &mut Vec<String>,
    meta: &mut Vec<(Hash, ConvId)>,
) -> Result<u64, SemanticError> {
    if texts.is_empty() {
        return Ok(0);
    }
    let vecs = sem.embedder.embed(texts).await?;
    let items: Vec<(Hash, ConvId, Vec<f32>)> = meta
        .drain(..)
        .zip(vecs)
        .map(|((a, c), v)| (a, c, v))
        .collect();
    texts.clear();
    let n = items.len() as u64;
    let s = sem.clone();
    // HNSW inserts are CPU work: off the async threads.
    tokio::task::spawn_blocking(move || s.vectors.add_batch(&items))
        .await
        .map_err(|e| SemanticError::Invalid(format!("vector insert: {e}")))??;
    sem.embedded.fetch_add(n, Ordering::Relaxed);
    Ok(n)
}

/// Extracts memories from one conversation and consolidates them. With a provider configured
/// and `extract_memories` on, the provider extracts from the user's own conversations and from
/// those of the people named in `extract_from` (content others sent never leaves otherwise);
/// if it fails, the deterministic extractor does.
async fn extract_into(
    node: &Node,
    sem: &Semantic,
    m: &vivim_protocol::Manifest,
    acus: &[Signed<Acu>],
    _force: bool,
) -> Result<u64, SemanticError> {
    let p = &node.config.provider;
    let owner = m.owner.did();
    let allowed = m.owner == node.key.public()
        || p.extract_from.iter().any(|d| d.trim() == owner.to_string());
    let candidates = if p.is_set() && p.extract_memories && allowed {
        match memory::extract_with_provider(p, m, acus).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(
                    "memory extraction by the provider failed ({e}); using the deterministic extractor"
                );
                memory::extract_deterministic(m, acus)
            }
        }
    } else {
        memory::extract_deterministic(m, acus)
    };
    add_candidates(node, sem, candidates).await
}

async fn add_candidates(
    node: &Node,
    sem: &Semantic,
    candidates: Vec<Candidate>,
) -> Result<u64, SemanticError> {
    if candidates.is_empty() {
        return Ok(0);
    }
    let texts: Vec<String> = candidates.iter().map(|c| c.content.clone()).collect();
    let vecs = sem.embedder.embed(&texts).await?;
    let mut n = 0;
    let now = now_ms();
    for (c, v) in candidates.into_iter().zip(vecs) {
        match sem.memory.add(&node.key, c, v, &sem.embedder.id(), now) {
            Ok(a) if a.outcome != "existing" => n += 1,
            Ok(_) => {}
            Err(MemoryError::Invalid(e)) => tracing::debug!("memory candidate skipped: {e}"),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// Search

/// Search mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// BM25 only.
    Text,
    /// Vectors only.
    Vector,
    /// Both, fused by reciprocal rank.
    Hybrid,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Mode::Text),
            "vector" => Ok(Mode::Vector),
            "hybrid" => Ok(Mode::Hybrid),
            o => Err(format!(
                "unknown search mode {o:?}: use text, vector or hybrid"
            )),
        }
    }
}

/// Reciprocal rank fusion constant.
pub const RRF_K: f32 = 60.0;

/// Fuses ranked lists: score(d) = Σ 1 / (RRF_K + rank), ranks from 1.
pub fn rrf<K: Eq + std::hash::Hash + Copy>(lists: &[Vec<K>]) -> Vec<(K, f32)> {
    let mut score: HashMap<K, f32> = HashMap::new();
    let mut order: Vec<K> = Vec::new();
    for list in lists {
        for (r, k) in list.iter().enumerate() {
            let e = score.entry(*k).or_insert_with(|| {
                order.push(*k);
                0.0
            });
            *e += 1.0 / (RRF_K + r as f32 + 1.0);
        }
    }
    let mut out: Vec<(K, f32)> = order.into_iter().map(|k| (k, score[&k])).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// A full-text (BM25) search with the filters of `p`, as views (`mode` is not looked at).
pub fn text_search(node: &Node, p: &SearchParams) -> Result<SearchResults, NodeError> {
    let mut q = crate::search::Query::new(p.q.clone());
    q.limit = p.limit.unwrap_or(20);
    if !(1..=100).contains(&q.limit) {
        return Err(NodeError::Invalid("limit must be between 1 and 100".into()));
    }
    q.offset = p.offset.unwrap_or(0);
    q.provider = p.provider.clone();
    q.role = p.role.as_deref().map(crate::node::parse_role).transpose()?;
    q.from_ms = p.from;
    q.to_ms = p.to;
    q.conversation = p
        .conversation
        .as_deref()
        .map(|id| {
            id.parse::<ConvId>().map_err(|_| {
                NodeError::Invalid(format!(
                    "{id:?} is not a conversation id (64 hex characters)"
                ))
            })
        })
        .transpose()?;
    let (hits, total) = node.search(&q).map_err(|e| match e {
        NodeError::Search(s) => NodeError::Invalid(s.to_string()),
        other => other,
    })?;
    Ok(SearchResults {
        total,
        hits: hits
            .into_iter()
            .map(|h| HitView {
                acu: h.acu_id.to_string(),
                conversation: h.conversation.to_string(),
                title: h.title,
                provider: h.provider,
                role: h.role.as_str().into(),
                kind: h.kind.as_str().into(),
                created_at: crate::views::iso(h.created_at_ms),
                score: h.score,
                snippet: h.snippet,
                highlights: h.highlights,
                snippet_html: h.snippet_html,
            })
            .collect(),
    })
}

/// Runs a search in any mode for the CLI and the gateway (`mode` absent = text).
pub async fn search(node: &Node, p: &SearchParams) -> Result<SearchResults, SemanticError> {
    let mode: Mode = p
        .mode
        .as_deref()
        .unwrap_or("text")
        .parse()
        .map_err(SemanticError::Invalid)?;
    if mode == Mode::Text {
        return Ok(text_search(node, p)?);
    }
    let limit = p.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(SemanticError::Invalid(
            "limit must be between 1 and 100".into(),
        ));
    }
    let offset = p.offset.unwrap_or(0).min(1000);
    let want = (offset + limit).max(50);
    let role = p.role.as_deref().map(crate::node::parse_role).transpose()?;
    let conv_filter = match &p.conversation {
        Some(c) => Some(node.store.resolve(c).map_err(NodeError::from)?),
        None => None,
    };
    // Vector side: ids only; a message is read (and filtered) only when it reaches the page.
    let vec_hits = vector_hits(node, &p.q, want * 4).await?;
    let vec_hits: Vec<(Hash, ConvId, f32)> = vec_hits
        .into_iter()
        .filter(|h| conv_filter.is_none_or(|c| c == h.1))
        .collect();
    let mut text_views: HashMap<String, HitView> = HashMap::new();
    let ranked: Vec<(String, f32)> = if mode == Mode::Vector {
        vec_hits.iter().map(|h| (h.0.to_string(), h.2)).collect()
    } else {
        let text = text_search(
            node,
            &SearchParams {
                q: p.q.clone(),
                limit: Some(want.min(100)),
                offset: Some(0),
                provider: p.provider.clone(),
                role: p.role.clone(),
                from: p.from,
                to: p.to,
                conversation: p.conversation.clone(),
                mode: None,
            },
        )?;
        let t_ids: Vec<String> = text.hits.iter().map(|h| h.acu.clone()).collect();
        let v_ids: Vec<String> = vec_hits.iter().map(|h| h.0.to_string()).collect();
        // Text hits carry highlighted snippets: they are shown as such.
        for h in text.hits {
            text_views.insert(h.acu.clone(), h);
        }
        let t_ref: Vec<&str> = t_ids.iter().map(String::as_str).collect();
        let v_ref: Vec<&str> = v_ids.iter().map(String::as_str).collect();
        rrf(&[t_ref, v_ref])
            .into_iter()
            .map(|(id, s)| (id.to_string(), s))
            .collect()
    };
    let by_acu: HashMap<String, (Hash, ConvId)> = vec_hits
        .iter()
        .map(|h| (h.0.to_string(), (h.0, h.1)))
        .collect();
    let total = ranked.len();
    let mut hits: Vec<HitView> = Vec::new();
    let mut skipped = 0usize;
    for (id, score) in ranked {
        if hits.len() >= limit {
            break;
        }
        let view = match text_views.remove(&id) {
            Some(h) => Some(h),
            None => {
                let Some((acu, conv)) = by_acu.get(&id) else {
                    continue;
                };
                let Some(v) = view_of(node, acu, conv, score).await? else {
                    continue;
                };
                let at = chrono::DateTime::parse_from_rfc3339(&v.created_at)
                    .map(|d| d.timestamp_millis() as u64)
                    .unwrap_or(0);
                let keep = p.provider.as_ref().is_none_or(|x| *x == v.provider)
                    && role.is_none_or(|r| r.as_str() == v.role)
                    && p.from.is_none_or(|f| at >= f)
                    && p.to.is_none_or(|t| at <= t);
                keep.then_some(v)
            }
        };
        let Some(mut v) = view else { continue };
        if skipped < offset {
            skipped += 1;
            continue;
        }
        v.score = score;
        hits.push(v);
    }
    Ok(SearchResults { total, hits })
}

/// The nearest ACUs to a query text: (ACU, conversation, cosine similarity).
pub async fn vector_hits(
    node: &Node,
    q: &str,
    k: usize,
) -> Result<Vec<(Hash, ConvId, f32)>, SemanticError> {
    let sem = ensure_fresh(node).await?;
    let v = sem.embedder.embed(&[q.to_string()]).await?;
    let Some(v) = v.into_iter().next() else {
        return Ok(Vec::new());
    };
    if v.iter().all(|x| *x == 0.0) {
        return Ok(Vec::new());
    }
    let s = sem.clone();
    let hits = tokio::task::spawn_blocking(move || s.vectors.search(&v, k))
        .await
        .map_err(|e| SemanticError::Invalid(e.to_string()))??;
    Ok(hits
        .into_iter()
        .map(|h| (h.acu, h.conversation, 1.0 - h.distance))
        .collect())
}

async fn view_of(
    node: &Node,
    acu: &Hash,
    conv: &ConvId,
    score: f32,
) -> Result<Option<HitView>, NodeError> {
    let Some(a) = node.store.acu(acu).await? else {
        return Ok(None);
    };
    let Some(row) = node.store.row(conv)? else {
        return Ok(None);
    };
    let v = a.value();
    let text = v.body.as_text().unwrap_or("");
    let snippet = clip(text, 240).to_string();
    Ok(Some(HitView {
        acu: acu.to_string(),
        conversation: conv.to_string(),
        title: row.manifest.title.clone(),
        provider: row.manifest.provider.clone(),
        role: v.role.as_str().into(),
        kind: v.kind.as_str().into(),
        created_at: crate::views::iso(v.created_at_ms),
        score,
        snippet_html: html_escape(&snippet),
        snippet,
        highlights: Vec::new(),
    }))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A related conversation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Related {
    /// Conversation id.
    pub conversation: String,
    /// Title.
    pub title: String,
    /// Provider.
    pub provider: String,
    /// Last update (RFC 3339).
    pub updated_at: String,
    /// Cosine similarity of the closest message to this conversation's centroid.
    pub score: f32,
}

/// Conversations most similar to `conv` (the centroid of its message vectors), best first.
pub async fn related(
    node: &Node,
    conv: &ConvId,
    limit: usize,
) -> Result<Vec<Related>, SemanticError> {
    let sem = ensure_fresh(node).await?;
    let Some(row) = node.store.row(conv).map_err(NodeError::from)? else {
        return Err(SemanticError::NotFound(format!("conversation {conv}")));
    };
    let dims = sem.embedder.dims();
    let mut centroid = vec![0f32; dims];
    let mut n = 0;
    for a in sem.vectors.conversation_acus(conv).into_iter().take(256) {
        if let Some(v) = sem.vectors.vector(&a) {
            centroid.iter_mut().zip(&v).for_each(|(c, x)| *c += x);
            n += 1;
        }
    }
    if n == 0 {
        centroid = sem
            .embedder
            .embed(std::slice::from_ref(&row.manifest.title))
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
    }
    if centroid.iter().all(|x| *x == 0.0) || centroid.len() != dims {
        return Ok(Vec::new());
    }
    let norm = centroid.iter().map(|x| x * x).sum::<f32>().sqrt();
    centroid.iter_mut().for_each(|x| *x /= norm);
    let s = sem.clone();
    let k = (limit * 20).clamp(50, 1000);
    let hits = tokio::task::spawn_blocking(move || s.vectors.search(&centroid, k))
        .await
        .map_err(|e| SemanticError::Invalid(e.to_string()))??;
    let mut best: Vec<(ConvId, f32)> = Vec::new();
    for h in hits {
        if h.conversation == *conv || best.iter().any(|b| b.0 == h.conversation) {
            continue;
        }
        best.push((h.conversation, 1.0 - h.distance));
        if best.len() >= limit {
            break;
        }
    }
    let mut out = Vec::new();
    for (c, score) in best {
        if let Some(r) = node.store.row(&c).map_err(NodeError::from)? {
            out.push(Related {
                conversation: c.to_string(),
                title: r.manifest.title.clone(),
                provider: r.manifest.provider.clone(),
                updated_at: crate::views::iso(r.manifest.updated_at_ms),
                score,
            });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Memories

/// Lists memories (`all`: also merged, superseded, expired).
pub async fn memories(
    node: &Node,
    memory_type: Option<&str>,
    all: bool,
    limit: usize,
) -> Result<Vec<memory::MemoryView>, SemanticError> {
    let sem = ensure_fresh(node).await?;
    let t = memory_type.map(memory::parse_type).transpose()?;
    let mut v = sem.memory.list(t, all, now_ms());
    v.truncate(limit);
    Ok(v)
}

/// Memories most relevant to a query.
pub async fn search_memories(
    node: &Node,
    q: &str,
    limit: usize,
) -> Result<Vec<memory::MemoryView>, SemanticError> {
    let sem = ensure_fresh(node).await?;
    let v = sem.embedder.embed(&[q.to_string()]).await?;
    Ok(sem
        .memory
        .search(v.first().map(Vec::as_slice).unwrap_or(&[]), limit, now_ms()))
}

/// One memory, by id or unique prefix.
pub async fn memory_get(node: &Node, id: &str) -> Result<memory::MemoryView, SemanticError> {
    let sem = get(node).await?;
    let h = sem.memory.resolve(id)?;
    sem.memory
        .get(&h)
        .map(|e| e.view(now_ms()))
        .ok_or_else(|| SemanticError::NotFound(format!("memory {id}")))
}

/// Adds a memory by hand (consolidated like extracted ones).
pub async fn memory_add(node: &Node, m: memory::NewMemory) -> Result<memory::Added, SemanticError> {
    let sem = get(node).await?;
    let mut provenance = Vec::new();
    for p in &m.provenance {
        provenance.push(
            p.parse::<Hash>()
                .map_err(|e| SemanticError::Invalid(format!("provenance {p:?}: {e}")))?,
        );
    }
    if m.content.len() > memory::MAX_CONTENT {
        return Err(SemanticError::Invalid(format!(
            "content is {} bytes; a memory holds at most {}",
            m.content.len(),
            memory::MAX_CONTENT
        )));
    }
    let now = now_ms();
    let c = Candidate {
        content: m.content.clone(),
        memory_type: memory::parse_type(m.memory_type.as_deref().unwrap_or("semantic"))?,
        importance: m.importance.unwrap_or(0.5),
        provenance,
        valid_from_ms: m.valid_from_ms.unwrap_or(now),
        valid_to_ms: m.valid_to_ms,
        slot: m.slot.clone(),
        conversation: None,
        source: m.source.clone(),
    };
    let v = sem.embedder.embed(std::slice::from_ref(&m.content)).await?;
    let v = v.into_iter().next().unwrap_or_default();
    Ok(sem.memory.add(&node.key, c, v, &sem.embedder.id(), now)?)
}

/// Changes a memory.
pub async fn memory_update(
    node: &Node,
    id: &str,
    patch: memory::MemoryPatch,
) -> Result<memory::MemoryView, SemanticError> {
    let sem = get(node).await?;
    let h = sem.memory.resolve(id)?;
    let emb = match &patch.content {
        Some(c) => Some((
            sem.embedder
                .embed(std::slice::from_ref(c))
                .await?
                .into_iter()
                .next()
                .unwrap_or_default(),
            sem.embedder.id(),
        )),
        None => None,
    };
    Ok(sem.memory.update(&node.key, &h, &patch, emb, now_ms())?)
}

/// Deletes a memory.
pub async fn memory_delete(node: &Node, id: &str) -> Result<String, SemanticError> {
    let sem = get(node).await?;
    let h = sem.memory.resolve(id)?;
    sem.memory.delete(&h)?;
    Ok(h.to_string())
}

/// Extracts memories from one conversation now (again, if it was done), or catches up on all.
pub async fn memory_extract(node: &Node, conversation: Option<&str>) -> Result<u64, SemanticError> {
    let sem = get(node).await?;
    match conversation {
        Some(c) => {
            let id = node.store.resolve(c).map_err(NodeError::from)?;
            let (row, acus) = node
                .conversation(&id)
                .await?
                .ok_or_else(|| SemanticError::NotFound(format!("conversation {c}")))?;
            let n = extract_into(node, sem, &row.manifest, &acus, true).await?;
            sem.memory.set_extracted(&id, marker(&row))?;
            Ok(n)
        }
        None => Ok(catch_up(node).await?.memories),
    }
}

/// What a consolidation did.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Consolidated {
    /// Working memories past their validity, now expired.
    pub expired: usize,
    /// Near-duplicates merged.
    pub merged: usize,
    /// Memories superseded by a later one filling the same slot.
    pub superseded: usize,
}

/// Expires working memories past their validity and consolidates the active ones among
/// themselves (merge near-duplicates, supersede contradicted ones).
pub async fn memory_consolidate(node: &Node) -> Result<Consolidated, SemanticError> {
    let sem = ensure_fresh(node).await?;
    let now = now_ms();
    let expired = sem.memory.expire(&node.key, now)?;
    let (merged, superseded) = sem.memory.consolidate_all(&node.key, now)?;
    Ok(Consolidated {
        expired,
        merged,
        superseded,
    })
}

// ---------------------------------------------------------------------------------------------
// Context

/// `POST /api/v2/context`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContextRequest {
    /// The question.
    pub query: String,
    /// Token budget for the whole prompt (1–1,000,000).
    pub budget_tokens: usize,
    /// Model whose tokenizer counts (default: the provider's model, else `gpt-4o`).
    pub model: Option<String>,
    /// Conversation whose recent turns to include (default: the most recently updated).
    pub conversation: Option<String>,
    /// Extra system notes.
    pub system: Option<String>,
    /// Send the context to the configured provider and stream the answer (SSE).
    #[serde(default)]
    pub send: bool,
    /// Memories to consider (default 10).
    pub memories: Option<usize>,
    /// Messages to retrieve (default 10).
    pub retrieved: Option<usize>,
    /// Recent turns to consider (default 12).
    pub recent: Option<usize>,
}

impl ContextRequest {
    /// A context for `query` within `budget_tokens`, everything else by default (not sent).
    pub fn new(query: impl Into<String>, budget_tokens: usize) -> ContextRequest {
        ContextRequest {
            query: query.into(),
            budget_tokens,
            model: None,
            conversation: None,
            system: None,
            send: false,
            memories: None,
            retrieved: None,
            recent: None,
        }
    }
}

/// The default system note.
pub const SYSTEM_NOTE: &str = "You are a helpful assistant. Below are notes about the user and \
    excerpts from their earlier conversations; use them when they help, and say so when \
    they do not answer the question.";

/// Longest query accepted, in bytes.
pub const MAX_QUERY: usize = 32 * 1024;

/// Assembles a context (see [`crate::organize::context`]).
pub async fn build_context(node: &Node, req: &ContextRequest) -> Result<Context, SemanticError> {
    let query = req.query.trim();
    if query.is_empty() {
        return Err(SemanticError::Invalid("query is empty".into()));
    }
    if query.len() > MAX_QUERY {
        return Err(SemanticError::Invalid(format!(
            "query is {} bytes; at most {MAX_QUERY}",
            query.len()
        )));
    }
    if !(1..=1_000_000).contains(&req.budget_tokens) {
        return Err(SemanticError::Invalid(
            "budget_tokens must be between 1 and 1000000".into(),
        ));
    }
    let model = req
        .model
        .clone()
        .filter(|m| !m.is_empty())
        .or_else(|| Some(node.config.provider.model.clone()).filter(|m| !m.is_empty()))
        .unwrap_or_else(|| "gpt-4o".into());
    let sem = ensure_fresh(node).await?;
    let now = now_ms();
    let qv = sem
        .embedder
        .embed(&[query.to_string()])
        .await?
        .into_iter()
        .next()
        .unwrap_or_default();
    let memories: Vec<(String, String)> = sem
        .memory
        .search(&qv, req.memories.unwrap_or(10).min(100), now)
        .into_iter()
        .map(|m| (m.id, format!("({}) {}", m.memory_type, m.content)))
        .collect();

    // Recent turns.
    let recent_conv = match &req.conversation {
        Some(c) => Some(node.store.resolve(c).map_err(NodeError::from)?),
        None => node
            .store
            .list(None, 1)
            .map_err(NodeError::from)?
            .rows
            .first()
            .map(|r| r.manifest.id),
    };
    let mut recent: Vec<(String, String)> = Vec::new();
    let mut recent_ids: HashSet<Hash> = HashSet::new();
    if let Some(c) = recent_conv
        && let Some((_, mut acus)) = node.conversation(&c).await?
    {
        acus.sort_by_key(|a| a.value().created_at_ms);
        for a in acus.iter().rev() {
            let v = a.value();
            if !matches!(v.role, Role::User | Role::Assistant) {
                continue;
            }
            let Some(t) = v.body.as_text() else { continue };
            if t.trim().is_empty() {
                continue;
            }
            recent.push((v.role.as_str().to_string(), t.to_string()));
            recent_ids.insert(a.id());
            if recent.len() >= req.recent.unwrap_or(12).min(200) {
                break;
            }
        }
    }

    // Retrieved: hybrid over the words of the query.
    let words: String = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(64)
        .collect::<Vec<_>>()
        .join(" ");
    let k = req.retrieved.unwrap_or(10).min(100);
    let mut retrieved = Vec::new();
    if k > 0 && !words.is_empty() {
        let res = search(
            node,
            &SearchParams::new(words, (k * 2).clamp(1, 100), Some("hybrid".into())),
        )
        .await?;
        for h in res.hits {
            let Ok(id) = h.acu.parse::<Hash>() else {
                continue;
            };
            if recent_ids.contains(&id) {
                continue;
            }
            let Some(a) = node.store.acu(&id).await.map_err(NodeError::from)? else {
                continue;
            };
            retrieved.push(Retrieved {
                acu: h.acu.clone(),
                title: h.title.clone(),
                role: h.role.clone(),
                text: a.value().body.as_text().unwrap_or("").to_string(),
            });
            if retrieved.len() >= k {
                break;
            }
        }
    }
    let mut system = vec![SYSTEM_NOTE.to_string()];
    if let Some(s) = req.system.as_ref().filter(|s| !s.trim().is_empty()) {
        system.push(clip(s, MAX_QUERY).to_string());
    }
    let parts = Parts {
        system,
        memories,
        retrieved,
        recent,
        query: query.to_string(),
    };
    let counter = TokenCounter::for_model(&model);
    let ctx = context::assemble(&counter, req.budget_tokens, &parts)
        .map_err(|e| SemanticError::Invalid(e.to_string()))?;
    let used: Vec<Hash> = ctx
        .memory_ids
        .iter()
        .filter_map(|i| i.parse().ok())
        .collect();
    sem.memory.reinforce(&used, now)?;
    Ok(ctx)
}

/// Sends an assembled context to the provider, streaming the answer to `deltas`, and stores
/// the exchange as a new conversation. Returns (answer, conversation id).
pub async fn send_context(
    node: &Node,
    ctx: &Context,
    deltas: Option<tokio::sync::mpsc::Sender<String>>,
) -> Result<(String, ConvId), SemanticError> {
    let p = &node.config.provider;
    if !p.is_set() {
        return Err(ProviderError::NotConfigured.into());
    }
    let answer = ai::stream_chat(p, &ctx.system, &ctx.messages, deltas).await?;
    let query = ctx
        .messages
        .last()
        .map(|m| m.content.clone())
        .unwrap_or_default();
    let (_, conv) = node
        .capture(Capture {
            conversation: None,
            provider: Some(p.kind.clone()),
            source_id: None,
            title: Some(query.chars().take(60).collect()),
            parent: None,
            role: "user".into(),
            kind: None,
            lang: None,
            text: query,
            created_at_ms: None,
        })
        .await?;
    if !answer.is_empty() {
        node.capture(Capture {
            conversation: Some(conv.to_string()),
            provider: None,
            source_id: None,
            title: None,
            parent: None,
            role: "assistant".into(),
            kind: None,
            lang: None,
            text: answer.clone(),
            created_at_ms: None,
        })
        .await?;
    }
    Ok((answer, conv))
}
