//! The admin panel's routes (`/api/admin/…`): status, metrics (Prometheus text and the sampled
//! series the panel draws), live logs, the network, and data care (integrity check, index
//! rebuilds, backups).
//!
//! The sampler: every [`INTERVAL`] a task reads the gateway's request timings, the node's
//! counters, the network's counters and the process's CPU and memory into a ring of
//! [`SAMPLES`] (one hour), so the panel's charts need no outside Prometheus. It holds a weak
//! reference: it stops when the gateway goes.

use std::{
    collections::{HashMap, VecDeque},
    path::Path as FsPath,
    sync::{Arc, Mutex, Weak, atomic::Ordering},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Body,
    extract::{Query as QueryParams, State, WebSocketUpgrade, rejection::QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use redb::{ReadableDatabase, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiResult, ErrorBody, Gateway, internal, p2p};
use crate::{
    admin::{AdminError, check::IntegrityReport, check::Rebuilt, logs},
    net::ids,
};

/// How often the sampler samples.
pub const INTERVAL: Duration = Duration::from_secs(5);
/// Samples kept (an hour).
pub const SAMPLES: usize = 720;
/// Request durations kept per interval for the percentiles.
const TIMINGS: usize = 20_000;

pub(super) fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/api/admin/status", get(status))
        .route("/api/admin/metrics", get(metrics))
        .route("/api/admin/metrics/series", get(series))
        .route("/api/admin/logs", get(logs))
        .route("/api/admin/logs/ws", get(logs_ws))
        .route("/api/admin/peers", get(peers))
        .route("/api/admin/network", get(network))
        .route("/api/admin/check", post(check))
        .route("/api/admin/rebuild", post(rebuild))
        .route("/api/admin/backup", post(backup))
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(m) => ApiError::bad_request(m),
            AdminError::WrongPassphrase => ApiError::bad_request(e.to_string()),
            AdminError::Store(s) => crate::node::NodeError::from(s).into(),
            other => internal(other),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The sampler

/// Request timings of the current interval and the series of past ones.
#[derive(Default)]
pub(super) struct Sampler {
    current: Mutex<Interval>,
    series: Mutex<VecDeque<Sample>>,
    /// Imports that failed recently (for "needs attention"): when, and the answer's status.
    failed_imports: Mutex<VecDeque<(u64, u16)>>,
}

#[derive(Default)]
struct Interval {
    routes: HashMap<String, (u64, f64)>,
    timings: Vec<f32>,
    requests: u64,
    errors: u64,
}

/// The route a path is counted under: ids, DIDs and numbers become `{id}`; the web app's
/// files are `web`.
pub(super) fn route_label(path: &str) -> String {
    if !path.starts_with("/api/") {
        return "web".into();
    }
    let parts: Vec<&str> = path
        .split('/')
        .map(|seg| {
            let idish = seg.len() >= 16
                || seg.starts_with("did:")
                || (!seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()))
                || seg.contains('.');
            if idish { "{id}" } else { seg }
        })
        .collect();
    crate::text::clip(&parts.join("/"), 96).to_string()
}

impl Sampler {
    pub(super) fn record(&self, route: String, status: u16, took: Duration) {
        let ms = took.as_secs_f64() * 1e3;
        let mut c = crate::lock(&self.current);
        c.requests += 1;
        if status >= 500 {
            c.errors += 1;
        }
        if c.timings.len() < TIMINGS {
            c.timings.push(ms as f32);
        }
        if route.starts_with("/api/v1/import") && status >= 400 && status != 401 {
            let mut f = crate::lock(&self.failed_imports);
            if f.len() == 16 {
                f.pop_front();
            }
            f.push_back((crate::now_ms(), status));
        }
        if c.routes.len() < 256 || c.routes.contains_key(&route) {
            let e = c.routes.entry(route).or_default();
            e.0 += 1;
            e.1 += ms;
        }
    }
}

/// One sample of the series.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Sample {
    /// When (unix ms).
    pub t: u64,
    /// Requests answered in the interval.
    pub requests: u64,
    /// Of them, 5xx answers.
    pub errors: u64,
    /// Median request time in the interval, ms.
    pub latency_p50_ms: f64,
    /// 99th percentile request time, ms.
    pub latency_p99_ms: f64,
    /// Requests and mean time by route.
    pub routes: Vec<RouteSample>,
    /// ACUs stored (a gauge).
    pub acus: u64,
    /// ACUs written in the interval (imports, captures, fetches).
    pub imported: u64,
    /// Resident memory of the process, bytes.
    pub rss_bytes: u64,
    /// CPU use of the process over the interval, percent of one core.
    pub cpu_percent: f64,
    /// Gossip bytes received in the interval.
    pub gossip_in_bytes: u64,
    /// Gossip bytes sent in the interval.
    pub gossip_out_bytes: u64,
    /// Gossip messages received in the interval.
    pub gossip_messages: u64,
    /// Connected peers.
    pub peers: u64,
    /// Records in the node's DHT store.
    pub dht_records: u64,
    /// Conversations fetched from peers in the interval.
    pub blobs_fetched: u64,
    /// Kademlia queries started in the interval.
    pub dht_queries: u64,
    /// What taking this sample cost, µs.
    pub sample_us: u64,
}

/// One route in a sample.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RouteSample {
    /// The route, ids as `{id}`.
    pub route: String,
    /// Requests.
    pub requests: u64,
    /// Mean time, ms.
    pub mean_ms: f64,
}

/// The sampled series.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Series {
    /// Seconds between samples.
    pub interval_secs: u64,
    /// Oldest first, at most an hour.
    pub samples: Vec<Sample>,
}

/// Totals the sampler turns into rates.
#[derive(Default, Clone, Copy)]
struct Totals {
    acus_written: u64,
    gossip_in: u64,
    gossip_out: u64,
    gossip_messages: u64,
    fetched: u64,
    dht_queries: u64,
    cpu_seconds: f64,
}

/// Whether the sampler runs and requests are timed: yes unless `VIVIM_METRICS_SAMPLER=off`
/// (what the benchmarks compare against).
pub(super) fn sampling() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("VIVIM_METRICS_SAMPLER").map_or(true, |v| v != "off"))
}

pub(super) fn start_sampler(gw: &Arc<Gateway>) {
    if !sampling() {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak: Weak<Gateway> = Arc::downgrade(gw);
    rt.spawn(async move {
        let mut last: Option<(Instant, Totals)> = None;
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(gw) = weak.upgrade() else { break };
            last = Some(take_sample(&gw, last).await);
        }
    });
}

async fn take_sample(gw: &Gateway, last: Option<(Instant, Totals)>) -> (Instant, Totals) {
    let started = Instant::now();
    let interval = std::mem::take(&mut *crate::lock(&gw.admin.current));
    let proc_ = crate::admin::process::now();
    let net = match &gw.network {
        Some(p) => p
            .net
            .info()
            .await
            .ok()
            .map(|i| (i, p.stats.fetched.load(Ordering::Relaxed))),
        None => None,
    };
    let totals = Totals {
        acus_written: gw.node.store.stats.acus_written.load(Ordering::Relaxed),
        gossip_in: net.as_ref().map_or(0, |n| n.0.gossip_bytes_in),
        gossip_out: net.as_ref().map_or(0, |n| n.0.gossip_bytes_out),
        gossip_messages: net.as_ref().map_or(0, |n| n.0.gossip_messages_in),
        fetched: net.as_ref().map_or(0, |n| n.1),
        dht_queries: net.as_ref().map_or(0, |n| n.0.dht_queries),
        cpu_seconds: proc_.cpu_seconds,
    };
    let mut timings = interval.timings;
    timings.sort_by(f32::total_cmp);
    let pct = |q: f64| {
        if timings.is_empty() {
            0.0
        } else {
            let i = ((timings.len() - 1) as f64 * q).round() as usize;
            f64::from(timings[i])
        }
    };
    let (prev_at, prev) = last.unwrap_or((started, totals));
    let secs = started.duration_since(prev_at).as_secs_f64();
    let mut routes: Vec<RouteSample> = interval
        .routes
        .into_iter()
        .map(|(route, (n, total))| RouteSample {
            route,
            requests: n,
            mean_ms: total / n.max(1) as f64,
        })
        .collect();
    routes.sort_by_key(|r| std::cmp::Reverse(r.requests));
    let mut sample = Sample {
        t: crate::now_ms(),
        requests: interval.requests,
        errors: interval.errors,
        latency_p50_ms: pct(0.5),
        latency_p99_ms: pct(0.99),
        routes,
        acus: gw.node.store.acu_count() as u64,
        imported: totals.acus_written.saturating_sub(prev.acus_written),
        rss_bytes: proc_.rss_bytes,
        cpu_percent: if secs > 0.0 {
            (totals.cpu_seconds - prev.cpu_seconds).max(0.0) / secs * 100.0
        } else {
            0.0
        },
        gossip_in_bytes: totals.gossip_in.saturating_sub(prev.gossip_in),
        gossip_out_bytes: totals.gossip_out.saturating_sub(prev.gossip_out),
        gossip_messages: totals.gossip_messages.saturating_sub(prev.gossip_messages),
        peers: net.as_ref().map_or(0, |n| n.0.connected_peers as u64),
        dht_records: net.as_ref().map_or(0, |n| n.0.dht_records as u64),
        blobs_fetched: totals.fetched.saturating_sub(prev.fetched),
        dht_queries: totals.dht_queries.saturating_sub(prev.dht_queries),
        sample_us: 0,
    };
    sample.sample_us = started.elapsed().as_micros() as u64;
    let mut s = crate::lock(&gw.admin.series);
    if s.len() == SAMPLES {
        s.pop_front();
    }
    s.push_back(sample);
    (started, totals)
}

#[utoipa::path(get, path = "/api/admin/metrics/series", responses((status = 200, body = Series)), security(("bearer" = [])))]
pub(super) async fn series(State(gw): State<Arc<Gateway>>) -> Json<Series> {
    Json(Series {
        interval_secs: INTERVAL.as_secs(),
        samples: crate::lock(&gw.admin.series).iter().cloned().collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Status

/// Node status: who it is, what it holds, what it is doing, what needs attention.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// DID.
    pub did: String,
    /// libp2p peer id (derived from the same key).
    pub peer_id: String,
    /// iroh endpoint id (derived from the same key).
    pub endpoint_id: String,
    /// VIVIM version.
    pub version: String,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// Conversations stored.
    pub conversations: usize,
    /// ACUs stored.
    pub acus: usize,
    /// Documents in the search index.
    pub index_docs: u64,
    /// Data dir.
    pub data_dir: String,
    /// Disk use of the data dir by part.
    pub sizes: Sizes,
    /// What the node holds.
    pub counts: Counts,
    /// Work going on in the background.
    pub background: Vec<Background>,
    /// What needs the user's attention, each with where to act on it.
    pub attention: Vec<Attention>,
    /// Embedding progress and the vector index (absent until first used).
    #[serde(default)]
    pub semantic: Option<crate::organize::EmbedStatus>,
    /// The AI provider answers go to (`/api/v2/context` with `send`), absent when none is
    /// configured. Its API key is never shown.
    #[serde(default)]
    pub provider: Option<ProviderStatus>,
    /// Whether the node's peer-to-peer network runs (else sharing and fetching answer 503).
    pub network: bool,
    /// Browser origins the gateway allows besides its own (CORS).
    pub cors_origins: Vec<String>,
}

/// The configured AI provider, without its key.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ProviderStatus {
    /// `openai` (or compatible) or `anthropic`.
    pub kind: String,
    /// Base URL.
    pub url: String,
    /// Model asked.
    pub model: String,
    /// Whether an API key is set.
    pub has_api_key: bool,
}

/// Bytes on disk by part of the data dir.
#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct Sizes {
    /// Conversations (records database, less documents and shares).
    pub records: u64,
    /// Social documents (their share of the records database).
    pub documents: u64,
    /// Shares and the feed (their share of the records database).
    pub shares: u64,
    /// Memories database.
    pub memories: u64,
    /// iroh-blobs store (what is served to peers).
    pub blobs: u64,
    /// Full-text index.
    pub text_index: u64,
    /// Vector index.
    pub vectors: u64,
    /// Everything in the data dir.
    pub total: u64,
}

/// What the node holds.
#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct Counts {
    /// Conversations.
    pub conversations: u64,
    /// Messages (ACUs).
    pub messages: u64,
    /// Memories (0 until the semantic layer opened).
    pub memories: u64,
    /// Social documents.
    pub documents: u64,
    /// Shares made and received.
    pub shares: u64,
    /// Feed items.
    pub feed: u64,
}

/// Work in the background.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Background {
    /// `embedding`, `index`, `import`, `shares`.
    pub name: String,
    /// What it is, for people.
    pub label: String,
    /// Done so far.
    pub done: u64,
    /// Out of (unknown: null).
    pub total: Option<u64>,
}

/// Something that needs the user.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Attention {
    /// `import_failed`, `import_skipped`, `embedding_error`, `share_failed`,
    /// `share_undelivered`, `friend_requests`.
    pub kind: String,
    /// What happened.
    pub message: String,
    /// Where in the app to act on it.
    pub link: String,
}

fn dir_size(p: &FsPath) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(p)
        .map(|d| d.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Stored bytes and rows of a table, by name (a table never created: zeros). Typed access
/// needs the table's types; the untyped handle gives length and size.
fn table_stats(tx: &redb::ReadTransaction, name: &str) -> (u64, u64) {
    let def: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new(name);
    tx.open_untyped_table(def).map_or((0, 0), |u| {
        let bytes = u
            .stats()
            .map_or(0, |s| s.stored_bytes() + s.metadata_bytes());
        (bytes, u.len().unwrap_or(0))
    })
}

/// Shares still being delivered (background) and shares that failed (attention).
fn share_work(
    n: &crate::node::Node,
    background: &mut Vec<Background>,
    attention: &mut Vec<Attention>,
) {
    let Ok(shares) = n.shares() else { return };
    let now = crate::now_ms();
    let (mut want, mut done, mut late) = (0u64, 0u64, 0usize);
    for s in &shares {
        if s.mine && s.status == "active" && s.audience != "link" && s.audience != "public" {
            let r = s.recipients.len() as u64;
            want += r;
            done += (s.delivered as u64).min(r);
            if (s.delivered as u64) < r && now.saturating_sub(s.created_at_ms) > 3_600_000 {
                late += 1;
            }
        }
        if !s.mine && s.state == "failed" {
            attention.push(Attention {
                kind: "share_failed".into(),
                message: format!(
                    "A share from {} could not be opened: {}",
                    s.actor,
                    s.error.as_deref().unwrap_or("unknown error")
                ),
                link: "/shares".into(),
            });
        }
    }
    if done < want {
        background.push(Background {
            name: "shares".into(),
            label: "Delivering shares to their recipients".into(),
            done,
            total: Some(want),
        });
    }
    if late > 0 {
        attention.push(Attention {
            kind: "share_undelivered".into(),
            message: format!(
                "{late} share{} not reached every recipient after an hour (they may be offline)",
                if late == 1 { " has" } else { "s have" }
            ),
            link: "/shares".into(),
        });
    }
}

#[utoipa::path(get, path = "/api/admin/status", responses((status = 200, body = Status)), security(("bearer" = [])))]
pub(super) async fn status(State(gw): State<Arc<Gateway>>) -> Json<Status> {
    let n = gw.node.clone();
    let k = n.key.public();
    let (sizes, mut counts) = tokio::task::spawn_blocking({
        let n = n.clone();
        move || {
            let root = n.dir.root();
            let db = n.store.database();
            let tx = db.begin_read().ok();
            let stat = |name: &str| tx.as_ref().map_or((0, 0), |tx| table_stats(tx, name));
            let (state_bytes, doc_rows) = stat("doc_state");
            let (log_bytes, _) = stat("doc_log");
            let (full_bytes, doc_full) = stat("doc_full");
            let (share_bytes, shares) = stat("shares");
            let (feed_bytes, feed) = stat("feed");
            let records_file = dir_size(&n.dir.db_path().join("vivim.redb"));
            let documents = state_bytes + log_bytes + full_bytes;
            let sizes = Sizes {
                documents,
                shares: share_bytes + feed_bytes,
                records: records_file.saturating_sub(documents + share_bytes + feed_bytes),
                memories: dir_size(&n.dir.db_path().join("memory.redb")),
                blobs: dir_size(&n.dir.blobs_path()),
                text_index: dir_size(&n.dir.index_path()),
                vectors: dir_size(&root.join("vectors")),
                total: dir_size(root),
            };
            let counts = Counts {
                conversations: n.store.conversation_count() as u64,
                messages: n.store.acu_count() as u64,
                memories: 0,
                documents: doc_rows.max(doc_full),
                shares,
                feed,
            };
            (sizes, counts)
        }
    })
    .await
    .unwrap_or_default();
    let semantic = crate::organize::status(&n);
    counts.memories = semantic.as_ref().map_or(0, |s| s.memories as u64);
    let mut background = Vec::new();
    let mut attention = Vec::new();
    if let Some(s) = &semantic {
        if s.running || s.conversations_pending > 0 {
            background.push(Background {
                name: "embedding".into(),
                label: "Embedding messages for semantic search".into(),
                done: s.conversations_done as u64,
                total: Some(s.conversations_done as u64 + s.conversations_pending),
            });
        }
        if let Some(e) = &s.last_error {
            attention.push(Attention {
                kind: "embedding_error".into(),
                message: format!("The last embedding pass failed: {e}"),
                link: "/admin/logs".into(),
            });
        }
    }
    if n.dir.root().join(crate::node::INDEX_DIRTY).exists() {
        background.push(Background {
            name: "index".into(),
            label: "Bringing the full-text index up to date".into(),
            done: n.index.doc_count(),
            total: None,
        });
    }
    if n.importing() {
        background.push(Background {
            name: "import".into(),
            label: "Importing".into(),
            done: n.store.acu_count() as u64,
            total: None,
        });
    }
    let hour_ago = crate::now_ms().saturating_sub(3_600_000);
    for (at, status) in crate::lock(&gw.admin.failed_imports).iter() {
        if *at >= hour_ago {
            attention.push(Attention {
                kind: "import_failed".into(),
                message: format!(
                    "An import failed (HTTP {status}) {} min ago",
                    (crate::now_ms() - at) / 60_000
                ),
                link: "/import".into(),
            });
        }
    }
    share_work(&n, &mut background, &mut attention);
    if let Ok(friends) = n.friends() {
        let waiting = friends
            .iter()
            .filter(|f| f.direction == "incoming" && f.status == "PENDING")
            .count();
        if waiting > 0 {
            attention.push(Attention {
                kind: "friend_requests".into(),
                message: format!(
                    "{waiting} friend request{} waiting for your answer",
                    if waiting == 1 { " is" } else { "s are" }
                ),
                link: "/people".into(),
            });
        }
    }
    if let Some(last) = n.store.imports(1).ok().and_then(|v| v.into_iter().next()) {
        let skipped = last["summary"]["skipped"].as_array().map_or(0, Vec::len);
        if skipped > 0 {
            attention.push(Attention {
                kind: "import_skipped".into(),
                message: format!(
                    "The last import skipped {skipped} conversation{} it could not read",
                    if skipped == 1 { "" } else { "s" }
                ),
                link: "/import".into(),
            });
        }
    }
    Json(Status {
        did: k.did().to_string(),
        peer_id: ids::peer_id(&k).to_string(),
        endpoint_id: ids::endpoint_id(&k).to_string(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_seconds: n.uptime().as_secs(),
        conversations: counts.conversations as usize,
        acus: counts.messages as usize,
        index_docs: n.index.doc_count(),
        data_dir: n.dir.root().display().to_string(),
        sizes,
        counts,
        background,
        attention,
        semantic,
        provider: {
            let p = &n.config.provider;
            (!p.kind.is_empty()).then(|| ProviderStatus {
                kind: p.kind.clone(),
                url: p.url.clone(),
                model: p.model.clone(),
                has_api_key: p.api_key.as_deref().is_some_and(|k| !k.is_empty()),
            })
        },
        network: gw.network.is_some(),
        cors_origins: n.config.gateway.cors_origins.clone(),
    })
}

// ---------------------------------------------------------------------------------------------
// Logs

/// Which log lines.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Least severe level shown: error, warn, info (default), debug, trace.
    pub level: Option<String>,
    /// Only lines whose target contains this.
    pub target: Option<String>,
    /// Only lines containing this (case-insensitive).
    pub q: Option<String>,
    /// At most this many of the newest lines (default 500, at most 5,000).
    pub limit: Option<usize>,
}

/// Recent log lines.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    /// Oldest first.
    pub lines: Vec<logs::LogLine>,
    /// Lines the ring dropped since the node started (it keeps the newest 5,000).
    pub dropped: u64,
}

fn level_of(s: Option<&str>) -> ApiResult<tracing::Level> {
    match s.unwrap_or("info") {
        "" => Ok(tracing::Level::INFO),
        l => l.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "level {l:?}: use error, warn, info, debug or trace"
            ))
        }),
    }
}

#[utoipa::path(get, path = "/api/admin/logs", params(LogQuery), responses((status = 200, body = LogPage), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn logs(
    q: Result<QueryParams<LogQuery>, QueryRejection>,
) -> ApiResult<Json<LogPage>> {
    let QueryParams(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let level = level_of(q.level.as_deref())?;
    let (lines, dropped) = logs::ring().recent(
        level,
        q.target.as_deref().filter(|s| !s.is_empty()),
        q.q.as_deref().filter(|s| !s.is_empty()),
        q.limit.unwrap_or(500).min(logs::CAPACITY),
    );
    Ok(Json(LogPage { lines, dropped }))
}

/// `GET /api/admin/logs/ws?level=…&target=…`: each new line as a JSON text frame.
async fn logs_ws(
    q: Result<QueryParams<LogQuery>, QueryRejection>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let QueryParams(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let level = level_of(q.level.as_deref())?;
    let target = q.target.filter(|s| !s.is_empty());
    let rx = logs::ring().subscribe();
    Ok(upgrade.on_upgrade(move |socket| {
        super::forward(socket, rx, move |l: &logs::LogLine| {
            logs::passes(l, level, target.as_deref(), None)
                .then(|| serde_json::to_string(l).unwrap_or_default())
        })
    }))
}

// ---------------------------------------------------------------------------------------------
// Data care

#[utoipa::path(post, path = "/api/admin/check", responses((status = 200, body = IntegrityReport)), security(("bearer" = [])))]
pub(super) async fn check(State(gw): State<Arc<Gateway>>) -> ApiResult<Json<IntegrityReport>> {
    Ok(Json(gw.node.check().await?))
}

/// Which index to rebuild.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RebuildRequest {
    /// `text` (full-text) or `vectors`.
    pub what: String,
}

#[utoipa::path(post, path = "/api/admin/rebuild", request_body = RebuildRequest, responses((status = 200, body = Rebuilt), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn rebuild(
    State(gw): State<Arc<Gateway>>,
    body: Result<Json<RebuildRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Rebuilt>> {
    let Json(r) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ok(Json(gw.node.rebuild(&r.what).await?))
}

/// What to put in a backup.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    /// Include the identity, sealed with `passphrase`.
    #[serde(default)]
    pub keys: bool,
    /// Seals the keys (at least 8 characters); needed with `keys`.
    #[serde(default)]
    pub passphrase: Option<String>,
}

/// Removes archives a stopped process left in the data dir's `tmp` (older than ten minutes).
fn remove_stale(dir: &FsPath) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(600));
        if name.starts_with("backup-") && old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[utoipa::path(post, path = "/api/admin/backup", request_body = BackupRequest, responses((status = 200, description = "the backup archive (zip)", content_type = "application/zip"), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn backup(
    State(gw): State<Arc<Gateway>>,
    body: Result<Json<BackupRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(r) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let keys = match (r.keys, r.passphrase) {
        (true, Some(p)) => Some(p),
        (true, None) => {
            return Err(ApiError::bad_request(
                "a backup with keys needs a passphrase to seal them",
            ));
        }
        (false, _) => None,
    };
    let tmp_dir = gw.node.dir.root().join("tmp");
    std::fs::create_dir_all(&tmp_dir).map_err(internal)?;
    remove_stale(&tmp_dir);
    let path = tmp_dir.join(format!(
        "backup-{}-{}.zip",
        crate::now_ms(),
        std::process::id()
    ));
    let summary = gw.node.backup(&path, keys.as_deref()).await;
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(e.into());
        }
    };
    let file = tokio::fs::File::open(&path).await.map_err(internal)?;
    // The open file stays readable after its name is gone; nothing is left behind.
    let _ = std::fs::remove_file(&path);
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
    let name = format!(
        "vivim-backup-{}.zip",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    );
    let mut res = Response::new(Body::from_stream(stream));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(summary.bytes));
    *res.status_mut() = StatusCode::OK;
    Ok(res)
}

// ---------------------------------------------------------------------------------------------
// Metrics (Prometheus text) and the network

#[utoipa::path(get, path = "/api/admin/metrics", responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")), security(("bearer" = [])))]
pub(super) async fn metrics(State(gw): State<Arc<Gateway>>) -> Response {
    let n = &gw.node;
    let mut out = String::with_capacity(2048);
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    };
    metric(
        "vivim_conversations",
        "gauge",
        "Stored conversations.",
        n.store.conversation_count().to_string(),
    );
    metric(
        "vivim_acus",
        "gauge",
        "Stored ACUs.",
        n.store.acu_count().to_string(),
    );
    metric(
        "vivim_index_docs",
        "gauge",
        "Documents in the full-text index.",
        n.index.doc_count().to_string(),
    );
    metric(
        "vivim_uptime_seconds",
        "gauge",
        "Seconds since the node started.",
        n.uptime().as_secs().to_string(),
    );
    metric(
        "vivim_imports_total",
        "counter",
        "Imports finished.",
        n.counters.imports.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "vivim_captures_total",
        "counter",
        "Messages captured through the API.",
        n.counters.captures.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "vivim_searches_total",
        "counter",
        "Searches served.",
        n.counters.searches.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "vivim_acus_written_total",
        "counter",
        "ACUs written since start.",
        n.store
            .stats
            .acus_written
            .load(Ordering::Relaxed)
            .to_string(),
    );
    let p = crate::admin::process::now();
    metric(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        p.rss_bytes.to_string(),
    );
    metric(
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        format!("{:.2}", p.cpu_seconds),
    );
    out.push_str("# HELP vivim_http_responses_total HTTP responses by status class.\n# TYPE vivim_http_responses_total counter\n");
    for (i, c) in gw.requests.iter().enumerate() {
        out.push_str(&format!(
            "vivim_http_responses_total{{class=\"{}xx\"}} {}\n",
            i + 1,
            c.load(Ordering::Relaxed)
        ));
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        out,
    )
        .into_response()
}

#[utoipa::path(get, path = "/api/admin/peers", responses((status = 200, description = "connected peers with DID, addresses, transport, latency", body = [crate::net::PeerInfo]), (status = 503, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn peers(
    State(gw): State<Arc<Gateway>>,
) -> ApiResult<Json<Vec<crate::net::PeerInfo>>> {
    Ok(Json(p2p(&gw)?.net.peers().await))
}

#[utoipa::path(get, path = "/api/admin/network", responses((status = 200, description = "DHT size, gossip topics, bytes in/out, iroh endpoint")), security(("bearer" = [])))]
pub(super) async fn network(State(gw): State<Arc<Gateway>>) -> ApiResult<Json<serde_json::Value>> {
    let p = p2p(&gw)?;
    let info = p.net.info().await.map_err(internal)?;
    Ok(Json(serde_json::json!({
        "libp2p": info,
        "bootstrap_addrs": p.bootstrap_addrs().await.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "iroh": {
            "relay_server": p.relay_url().map(|u| u.to_string()),
            "home_relay": p.endpoint.addr().relay_urls().next().map(|u| u.to_string()),
            "endpoint_id": p.endpoint.id().to_string(),
            "addrs": p.iroh_addrs().iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        },
        "fetched": p.stats.fetched.load(Ordering::Relaxed),
        "rejected": p.stats.rejected.load(Ordering::Relaxed),
        "relay": p.relay_url().is_some(),
        "pin_limits": {
            "concurrent": crate::net::p2p::PIN_CONCURRENCY,
            "waiting": crate::net::p2p::PIN_QUEUE,
            "max_bytes": crate::net::p2p::MAX_PIN_BYTES,
        },
        "pinned": p.stats.pinned.load(Ordering::Relaxed),
        "pins_dropped": p.stats.pins_dropped.load(Ordering::Relaxed),
    })))
}
