//! The local gateway: REST + WebSocket on 127.0.0.1 for the PWA, the CLI and other apps.
//!
//! Every route but `/api/openapi.json` needs the bearer token from the data dir (`vivim token`):
//! `Authorization: Bearer <token>`, or `?token=<token>` on WebSocket upgrades only, since
//! browsers cannot set headers there. A `Host` that is not this gateway's gets 421
//! (`gateway/guard`). Errors are JSON `{"error": {"code", "message"}}` with the right
//! status; internal details are logged, never sent.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::{
    Json, Router,
    body::Body,
    extract::{
        DefaultBodyLimit, Path, Query as QueryParams, Request, State, WebSocketUpgrade,
        rejection::QueryRejection, ws,
    },
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::{OpenApi, ToSchema};
use vivim_protocol::{ConvId, Hash};

mod social;

use crate::{
    import::{Format, ImportError},
    net::ids,
    net::p2p::P2p,
    node::{Capture, ImportSummary, Node, NodeError},
    store::StoreError,
    views::{
        ConversationDetail, ConversationPage, ConversationView, HitView, IdentityView, MessageView,
        PageParams, SearchParams, SearchResults,
    },
};

/// An API error: status, stable code, message for a person.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// A 400 with this message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message for a person.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The JSON error body.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code (`unauthorized`, `not_found`, `bad_request`, …).
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::NotFound(w) => ApiError::not_found(format!("{w} not found")),
            NodeError::Invalid(m) => ApiError::bad_request(m),
            NodeError::Import(ie) => match ie {
                ImportError::TooLarge { .. } => {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", ie.to_string())
                }
                ImportError::InvalidUrl { .. } => ApiError::bad_request(ie.to_string()),
                ImportError::Fetch { .. } => {
                    ApiError::new(StatusCode::BAD_GATEWAY, "fetch_failed", ie.to_string())
                }
                ImportError::Io(_) | ImportError::Sink(_) => internal(ie),
                _ => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unprocessable",
                    ie.to_string(),
                ),
            },
            NodeError::Store(StoreError::Invalid(m)) => ApiError::bad_request(m),
            NodeError::Social(se) => {
                use crate::store::docs::SocialError as S;
                match se {
                    S::NotWriter(..) => {
                        ApiError::new(StatusCode::FORBIDDEN, "forbidden", se.to_string())
                    }
                    S::NotFound(_) => ApiError::not_found(se.to_string()),
                    S::Invalid(_) | S::Crdt(_) | S::Rejected(_) => {
                        ApiError::bad_request(se.to_string())
                    }
                    other => internal(other),
                }
            }
            NodeError::Store(StoreError::NotFound(w)) => {
                ApiError::not_found(format!("{w} not found"))
            }
            other => internal(other),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!("internal error: {e}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error; see the node's log",
    )
}

type ApiResult<T> = Result<T, ApiError>;

mod admin;
mod guard;
mod organize;
mod share;
mod trust;
mod web;

pub use web::WebSource;

/// Gateway state shared by the handlers.
pub struct Gateway {
    node: Arc<Node>,
    /// The node's network, when one runs (`vivim up`).
    network: Option<Arc<P2p>>,
    token: String,
    cache: Mutex<HashMap<ConvId, (u64, Bytes)>>,
    requests: [AtomicU64; 5],
    /// The `Host` check, the per-client and configured rate limits.
    guard: guard::Guard,
    /// y-websocket awareness frames, relayed between this node's clients of a document.
    awareness: tokio::sync::broadcast::Sender<(vivim_crdt::DocId, u64, Arc<Vec<u8>>)>,
    /// Where the web app's files come from.
    web: WebSource,
    /// Request timings and the sampled series of the admin panel.
    admin: admin::Sampler,
}

/// Builds the gateway's router around a node without a network (the network routes answer
/// 503 `network_off`).
pub fn router(node: Arc<Node>, token: String) -> Router {
    router_with(node, None, token)
}

/// Builds the gateway's router around a node and, when one runs, its network; the web app
/// comes from `[gateway] web_dir` when set, else from the binary.
pub fn router_with(node: Arc<Node>, p2p: Option<Arc<P2p>>, token: String) -> Router {
    let web = match &node.config.gateway.web_dir {
        Some(dir) => WebSource::Dir(dir.clone()),
        None => WebSource::Embedded,
    };
    app(node, p2p, token, web)
}

/// Builds the gateway's router: the API around a node and its network (if any), and the web
/// app from `web` at every other path.
pub fn app(node: Arc<Node>, p2p: Option<Arc<P2p>>, token: String, web: WebSource) -> Router {
    let cfg = node.config.gateway.clone();
    let mcp = crate::mcp::http_service(node.clone());
    let state = Arc::new(Gateway {
        web,
        node,
        network: p2p,
        token,
        cache: Mutex::new(HashMap::new()),
        requests: Default::default(),
        awareness: tokio::sync::broadcast::channel(256).0,
        admin: admin::Sampler::default(),
        guard: guard::Guard::new(&cfg),
    });
    admin::start_sampler(&state);
    let api = Router::new()
        .route("/api/v1/identity", get(identity))
        .route("/api/v1/conversations", get(list_conversations))
        .route(
            "/api/v1/conversations/{id}",
            get(get_conversation).delete(delete_conversation),
        )
        .route(
            "/api/v1/conversations/{id}/export",
            get(export_conversation),
        )
        .route("/api/v1/acus", post(capture))
        .route("/api/v1/acus/{id}", get(get_acu))
        .route("/api/v1/search", get(search))
        .route("/api/v1/import/source", post(import_source))
        .route(
            "/api/v1/import",
            post(import_upload).layer(DefaultBodyLimit::max(cfg.max_upload_bytes)),
        )
        .route("/api/v1/conversations/{id}/publish", post(publish))
        .route("/api/v1/fetch", post(fetch))
        .route("/api/v1/dids/{did}", get(resolve_did))
        .route("/api/ws", get(ws_events))
        .route_service("/api/mcp", mcp)
        .merge(admin::routes())
        .merge(social::routes())
        .merge(organize::routes())
        .merge(share::routes())
        .merge(trust::routes())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::rate_limit,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), guard::auth))
        .route("/api/openapi.json", get(openapi))
        .route("/api/health", get(health))
        .fallback(
            |State(gw): State<Arc<Gateway>>,
             method: Method,
             uri: axum::http::Uri,
             headers: HeaderMap| async move {
                web::serve(&gw.web, &method, &uri, &headers).await
            },
        )
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(cfg.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::check_host,
        ))
        .with_state(state);
    if cfg.cors_origins.is_empty() {
        api
    } else {
        let origins: Vec<HeaderValue> = cfg
            .cors_origins
            .iter()
            // `vivim.toml` refuses wildcards; a config built in code must not panic the layer.
            .filter(|o| !o.contains('*'))
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        api.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([Method::GET, Method::POST, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        )
    }
}

/// Serves the gateway of a node without a network on `listener` until `shutdown` resolves.
pub async fn serve(
    node: Arc<Node>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(node, None, listener, shutdown).await
}

/// Serves the gateway of a node and its network (if any) on `listener` until `shutdown`
/// resolves.
pub async fn serve_with(
    node: Arc<Node>,
    network: Option<Arc<P2p>>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let web = match &node.config.gateway.web_dir {
        Some(dir) => WebSource::Dir(dir.clone()),
        None => WebSource::Embedded,
    };
    serve_app(node, network, web, listener, shutdown).await
}

/// [`serve_with`], with the web app's files from `web`.
pub async fn serve_app(
    node: Arc<Node>,
    network: Option<Arc<P2p>>,
    web: WebSource,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = node
        .dir
        .token()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    // The admin panel's log view never shows the token or the configured API keys.
    crate::admin::logs::redact(&token);
    for k in [&node.config.provider.api_key, &node.config.embed.api_key]
        .into_iter()
        .flatten()
    {
        crate::admin::logs::redact(k);
    }
    let app = app(node, network, token, web);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn count(State(gw): State<Arc<Gateway>>, req: Request, next: Next) -> Response {
    let log = tracing::enabled!(target: "vivim::http", tracing::Level::DEBUG);
    // The route with ids as `{id}`: never the query string (it may hold the token).
    let route = (admin::sampling() || log).then(|| admin::route_label(req.uri().path()));
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    let class = (status / 100).clamp(1, 5) as usize - 1;
    gw.requests[class].fetch_add(1, Ordering::Relaxed);
    if let Some(route) = route {
        if log {
            tracing::debug!(target: "vivim::http", %method, %route, status, ms = started.elapsed().as_secs_f64() * 1e3, "request");
        }
        if admin::sampling() {
            gw.admin.record(route, status, started.elapsed());
        }
    }
    res
}

pub(crate) fn parse_conv(id: &str) -> ApiResult<ConvId> {
    id.parse::<ConvId>().map_err(|_| {
        ApiError::bad_request(format!(
            "{id:?} is not a conversation id (64 hex characters)"
        ))
    })
}

fn resolve(gw: &Gateway, id: &str) -> ApiResult<ConvId> {
    Ok(gw.node.store.resolve(id).map_err(NodeError::from)?)
}

#[utoipa::path(get, path = "/api/v1/identity", responses((status = 200, body = IdentityView)), security(("bearer" = [])))]
async fn identity(State(gw): State<Arc<Gateway>>) -> Json<IdentityView> {
    let k = gw.node.key.public();
    Json(IdentityView {
        did: k.did().to_string(),
        peer_id: ids::peer_id(&k).to_string(),
        endpoint_id: ids::endpoint_id(&k).to_string(),
        x25519: k.did().key_agreement_id(),
    })
}

#[utoipa::path(get, path = "/api/v1/conversations", params(PageParams), responses((status = 200, body = ConversationPage), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
async fn list_conversations(
    State(gw): State<Arc<Gateway>>,
    query: Result<QueryParams<PageParams>, QueryRejection>,
) -> ApiResult<Json<ConversationPage>> {
    let QueryParams(p) = query.map_err(query_rejection)?;
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 500"));
    }
    let page = gw
        .node
        .store
        .list(p.cursor.as_deref(), limit)
        .map_err(NodeError::from)?;
    Ok(Json(ConversationPage {
        items: page.rows.iter().map(ConversationView::from).collect(),
        next_cursor: page.next,
    }))
}

async fn detail(gw: &Gateway, id: &ConvId) -> ApiResult<Option<ConversationDetail>> {
    Ok(gw
        .node
        .conversation(id)
        .await?
        .map(|(row, acus)| ConversationDetail {
            conversation: ConversationView::from(&row),
            messages: acus.iter().map(MessageView::from).collect(),
        }))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}", params(("id" = String, Path, description = "conversation id")), responses((status = 200, body = ConversationDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_conversation(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = resolve(&gw, &id)?;
    let generation = gw.node.generation.load(Ordering::Relaxed);
    if let Ok(cache) = gw.cache.lock()
        && let Some((g, body)) = cache.get(&id)
        && *g == generation
    {
        return Ok(json_bytes(body.clone()));
    }
    let d = detail(&gw, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("conversation {id} not found")))?;
    let body = Bytes::from(serde_json::to_vec(&d).map_err(internal)?);
    if let Ok(mut cache) = gw.cache.lock() {
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(id, (generation, body.clone()));
    }
    Ok(json_bytes(body))
}

fn json_bytes(body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[utoipa::path(delete, path = "/api/v1/conversations/{id}", params(("id" = String, Path, description = "conversation id")), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_conversation(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = resolve(&gw, &id)?;
    if gw.node.delete(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("conversation {id} not found")))
    }
}

/// Export parameters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `md` (default) or `json`.
    pub format: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/export", params(("id" = String, Path, description = "conversation id"), ExportParams), responses((status = 200, description = "Markdown or JSON"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn export_conversation(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    query: Result<QueryParams<ExportParams>, QueryRejection>,
) -> ApiResult<Response> {
    let QueryParams(p) = query.map_err(query_rejection)?;
    let id = resolve(&gw, &id)?;
    let d = detail(&gw, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("conversation {id} not found")))?;
    match p.format.as_deref().unwrap_or("md") {
        "md" | "markdown" => Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/markdown; charset=utf-8"),
            )],
            crate::views::export::markdown(&d),
        )
            .into_response()),
        "json" => Ok(Json(d).into_response()),
        other => Err(ApiError::bad_request(format!(
            "unknown export format {other:?}: use md or json"
        ))),
    }
}

#[utoipa::path(get, path = "/api/v1/acus/{id}", params(("id" = String, Path, description = "ACU id")), responses((status = 200, body = MessageView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_acu(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let h: Hash = id.parse().map_err(|_| {
        ApiError::bad_request(format!("{id:?} is not an ACU id (64 hex characters)"))
    })?;
    let acu = gw
        .node
        .store
        .acu(&h)
        .await
        .map_err(NodeError::from)?
        .ok_or_else(|| ApiError::not_found(format!("ACU {h} not found")))?;
    let wants_cbor = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/cbor"));
    if wants_cbor {
        return Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/cbor"),
            )],
            acu.bytes().to_vec(),
        )
            .into_response());
    }
    Ok(Json(MessageView::from(&acu)).into_response())
}

/// The answer to a capture.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Captured {
    /// The new ACU's id.
    pub id: String,
    /// Its conversation.
    pub conversation: String,
}

#[utoipa::path(post, path = "/api/v1/acus", request_body = Capture, responses((status = 201, body = Captured), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
async fn capture(
    State(gw): State<Arc<Gateway>>,
    body: Result<Json<Capture>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<Captured>)> {
    let Json(c) = body.map_err(json_rejection)?;
    let (id, conv) = gw.node.capture(c).await?;
    Ok((
        StatusCode::CREATED,
        Json(Captured {
            id: id.to_string(),
            conversation: conv.to_string(),
        }),
    ))
}

/// A query string that does not parse is a JSON error like any other, not axum's plain text.
fn query_rejection(r: QueryRejection) -> ApiError {
    ApiError::bad_request(r.body_text())
}

fn json_rejection(r: axum::extract::rejection::JsonRejection) -> ApiError {
    use axum::extract::rejection::JsonRejection as J;
    match r {
        J::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send JSON with Content-Type: application/json",
        ),
        J::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "request body is over the gateway's limit",
        ),
        other => ApiError::bad_request(other.body_text()),
    }
}

#[utoipa::path(get, path = "/api/v1/search", params(SearchParams), responses((status = 200, body = SearchResults), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
async fn search(
    State(gw): State<Arc<Gateway>>,
    query: Result<QueryParams<SearchParams>, QueryRejection>,
) -> ApiResult<Json<SearchResults>> {
    let QueryParams(p) = query.map_err(query_rejection)?;
    Ok(Json(crate::organize::search(&gw.node, &p).await?))
}

/// Import parameters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// `auto` (default), `chatgpt`, `claude`, `gemini`, `chatgpt-share`, `sharegpt`, `markdown`.
    pub format: Option<String>,
}

fn parse_format(f: Option<&str>) -> ApiResult<Format> {
    f.unwrap_or("auto").parse().map_err(ApiError::bad_request)
}

/// Import from a path on this machine or a URL.
#[derive(Deserialize, ToSchema)]
pub struct ImportSource {
    /// A file, zip or directory readable by the node.
    pub path: Option<String>,
    /// A ChatGPT share URL.
    pub url: Option<String>,
    /// The format (default `auto`).
    pub format: Option<String>,
}

/// An import's outcome.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ImportResult {
    /// Format read.
    pub format: String,
    /// New conversations.
    pub conversations: u64,
    /// Updated conversations.
    pub updated: u64,
    /// Already stored.
    pub duplicates: u64,
    /// Messages written.
    pub messages: u64,
    /// Skipped conversations and why.
    pub skipped: Vec<crate::node::SkippedConversation>,
    /// Seconds.
    pub seconds: f64,
}

fn import_result(s: ImportSummary) -> Json<serde_json::Value> {
    Json(serde_json::to_value(&s).unwrap_or_default())
}

#[utoipa::path(post, path = "/api/v1/import/source", request_body = ImportSource, responses((status = 200, body = ImportResult), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn import_source(
    State(gw): State<Arc<Gateway>>,
    body: Result<Json<ImportSource>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Json(src) = body.map_err(json_rejection)?;
    let format = parse_format(src.format.as_deref())?;
    let summary = match (src.path, src.url) {
        (Some(p), None) => {
            let path = std::path::PathBuf::from(&p);
            if !path.exists() {
                return Err(ApiError::bad_request(format!(
                    "{p}: no such file or directory"
                )));
            }
            gw.node.import_path(&path, format, None).await?
        }
        (None, Some(u)) => gw.node.import_url(&u, format).await?,
        _ => return Err(ApiError::bad_request("give exactly one of path or url")),
    };
    Ok(import_result(summary))
}

#[utoipa::path(post, path = "/api/v1/import", params(ImportParams), request_body(content = Vec<u8>, description = "the export file (json, zip, html, md)", content_type = "application/octet-stream"), responses((status = 200, body = ImportResult), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn import_upload(
    State(gw): State<Arc<Gateway>>,
    query: Result<QueryParams<ImportParams>, QueryRejection>,
    body: Body,
) -> ApiResult<Json<serde_json::Value>> {
    use futures::StreamExt;
    let QueryParams(p) = query.map_err(query_rejection)?;
    let format = parse_format(p.format.as_deref())?;
    let max = gw.node.config.gateway.max_upload_bytes as u64;
    let tmp = tempfile::NamedTempFile::new_in(gw.node.dir.root()).map_err(internal)?;
    let mut file = tokio::fs::File::from_std(tmp.reopen().map_err(internal)?);
    let mut stream = body.into_data_stream();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            if e.to_string().contains("length limit") {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("upload is over the limit of {max} bytes"),
                )
            } else {
                ApiError::bad_request(format!("reading the upload: {e}"))
            }
        })?;
        total += chunk.len() as u64;
        if total > max {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("upload is over the limit of {max} bytes"),
            ));
        }
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    drop(file);
    if total == 0 {
        return Err(ApiError::bad_request("the upload is empty"));
    }
    let summary = gw.node.import_path(tmp.path(), format, None).await?;
    Ok(import_result(summary))
}

async fn ws_events(State(gw): State<Arc<Gateway>>, upgrade: WebSocketUpgrade) -> Response {
    let rx = gw.node.events.subscribe();
    upgrade.on_upgrade(move |socket| {
        forward(socket, rx, |ev| {
            Some(serde_json::to_string(ev).unwrap_or_default())
        })
    })
}

/// Sends what `rx` broadcasts to a WebSocket as JSON text frames (those `frame` turns into
/// text), `{"type":"lagged","missed":n}` when the socket fell behind, until either side closes.
pub(crate) async fn forward<T: Clone>(
    mut socket: ws::WebSocket,
    mut rx: tokio::sync::broadcast::Receiver<T>,
    frame: impl Fn(&T) -> Option<String>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        tokio::select! {
            item = rx.recv() => {
                let text = match item {
                    Ok(item) => match frame(&item) {
                        Some(t) => t,
                        None => continue,
                    },
                    Err(RecvError::Lagged(n)) => format!("{{\"type\":\"lagged\",\"missed\":{n}}}"),
                    Err(RecvError::Closed) => break,
                };
                if socket.send(ws::Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            msg = socket.recv() => match msg {
                Some(Ok(ws::Message::Close(_))) | None | Some(Err(_)) => break,
                _ => {}
            },
        }
    }
}

fn p2p(gw: &Gateway) -> ApiResult<Arc<P2p>> {
    gw.network.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "network_off",
            "the node runs without its network (start it with `vivim up`, without --no-network)",
        )
    })
}

fn p2p_error(e: crate::net::p2p::P2pError) -> ApiError {
    use crate::net::p2p::P2pError as E;
    match e {
        E::NotFound(m) => ApiError::not_found(m),
        E::Rejected { .. } => ApiError::new(StatusCode::BAD_GATEWAY, "rejected", e.to_string()),
        E::Unavailable { .. } => {
            ApiError::new(StatusCode::BAD_GATEWAY, "unavailable", e.to_string())
        }
        E::Node(n) => ApiError::from(n),
        other => internal(other),
    }
}

/// A published conversation.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Published {
    /// Conversation id.
    pub conversation: String,
    /// Its current version (hash sequence) — what peers download.
    pub seq: String,
    /// Owner DID.
    pub owner: String,
    /// When (ms since the Unix epoch).
    pub published_at_ms: u64,
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/publish", params(("id" = String, Path, description = "conversation id or prefix")), responses((status = 200, body = Published), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)), security(("bearer" = [])))]
async fn publish(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Published>> {
    let p = p2p(&gw)?;
    let id = resolve(&gw, &id)?;
    let ann = p.publish(&id).await.map_err(p2p_error)?;
    let a = ann.value();
    Ok(Json(Published {
        conversation: a.conversation.to_string(),
        seq: a.seq.to_string(),
        owner: a.owner.to_string(),
        published_at_ms: a.published_at_ms,
    }))
}

/// What to fetch.
#[derive(Deserialize, ToSchema)]
pub struct FetchRequest {
    /// Conversation id (64 hex characters).
    pub conversation: String,
    /// Fetch from this DID only (default: the owner, then any provider).
    pub from: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/fetch", request_body = FetchRequest, responses((status = 200, description = "what was fetched"), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)), security(("bearer" = [])))]
async fn fetch(
    State(gw): State<Arc<Gateway>>,
    body: Result<Json<FetchRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<crate::net::p2p::FetchOutcome>> {
    let Json(req) = body.map_err(json_rejection)?;
    let p = p2p(&gw)?;
    let id = parse_conv(&req.conversation)?;
    let from = req
        .from
        .as_deref()
        .map(|d| d.parse::<vivim_identity::Did>())
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(p.fetch(&id, from.as_ref()).await.map_err(p2p_error)?))
}

#[utoipa::path(get, path = "/api/v1/dids/{did}", params(("did" = String, Path, description = "a did:key")), responses((status = 200, description = "the DID's signed peer record, verified"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn resolve_did(
    State(gw): State<Arc<Gateway>>,
    Path(did): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let did: vivim_identity::Did = did
        .parse()
        .map_err(|e: vivim_identity::DidError| ApiError::bad_request(e.to_string()))?;
    let p = p2p(&gw)?;
    let rec = p.resolve(&did).await.map_err(p2p_error)?;
    let r = rec.value();
    Ok(Json(serde_json::json!({
        "did": did.to_string(),
        "peer_id": ids::peer_id(&did.public_key()).to_string(),
        "endpoint_id": ids::endpoint_id(&did.public_key()).to_string(),
        "x25519": did.key_agreement_id(),
        "libp2p_addrs": r.libp2p_addrs,
        "iroh_addrs": r.iroh_addrs,
        "relay_url": r.relay_url,
        "issued_at_ms": r.issued_at_ms,
        "expires_at_ms": r.expires_at_ms,
        "document": did.document(),
    })))
}

/// Whether the node answers: what the web app polls to tell online from offline. It needs no
/// token and says nothing about the user.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always true when the node answers.
    pub ok: bool,
    /// The node's version.
    pub version: &'static str,
}

#[utoipa::path(get, path = "/api/health", responses((status = 200, body = Health)))]
async fn health() -> Response {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(Health {
            ok: true,
            version: env!("CARGO_PKG_VERSION"),
        }),
    )
        .into_response()
}

#[derive(OpenApi)]
#[openapi(
    info(title = "VIVIM node gateway", description = "The local REST surface of a VIVIM node. Authenticate with `Authorization: Bearer <token>` (see `vivim token`). `/api/v3/teams…` has the same routes and shapes as `/api/v3/groups…`, with `access` (OPEN, INVITE) for `visibility`. `/api/yjs/{doc}` speaks the y-websocket protocol (token as `?token=`)."),
    paths(health, identity, list_conversations, get_conversation, delete_conversation, export_conversation, get_acu, capture, search, import_source, import_upload, admin::status, admin::metrics, admin::series, admin::logs, admin::check, admin::rebuild, admin::backup, publish, fetch, resolve_did, admin::peers, admin::network,
        trust::list_requests, trust::decide, trust::trust_of,
        social::list_circles, social::create_circle, social::get_circle, social::delete_circle, social::add_circle_member, social::remove_circle_member, social::set_profile, social::list_friends, social::friend_action, social::list_follows, social::follow, social::unfollow, social::approve, social::list_groups, social::create_group, social::get_group, social::delete_group, social::join_group, social::leave_group, social::add_group_member, social::remove_group_member, organize::related, organize::list_memories, organize::add_memory, organize::get_memory, organize::update_memory, organize::delete_memory, organize::extract_memories, organize::consolidate_memories, organize::context, share::create_share, share::list_shares, share::get_share, share::revoke_share, share::activate_share, share::open_link, share::fork, share::provenance, share::feed, share::sealed, share::signed_records),
    components(schemas(Health, crate::trust::RequestView, crate::trust::RequestItem, crate::trust::requests::RequestOutcome, crate::trust::Tier, trust::TrustOut, crate::share::ShareOut, crate::share::FeedItem, crate::share::FeedPage, crate::share::ForkOut, crate::share::Provenance, crate::share::AcuProvenance, crate::share::net::Opened, share::NewShare, share::OpenLink, share::SealedPackage, share::SignedRecords, share::NewFork, crate::social::graph::CircleOut, crate::social::graph::MemberOut, crate::social::graph::FriendOut, crate::social::graph::FollowOut, crate::social::graph::FollowsOut, crate::social::graph::GroupOut, social::NewCircle, social::NewMember, social::ProfileUpdate, social::FollowRequest, social::NewGroup, social::JoinRequest, Published, FetchRequest, IdentityView, ConversationView, MessageView, ConversationDetail, ConversationPage, Captured, Capture, HitView, SearchResults, ImportSource, ImportResult, crate::node::SkippedConversation, admin::Status, admin::ProviderStatus, crate::net::PeerInfo, admin::Sizes, admin::Counts, admin::Background, admin::Attention, admin::Series, admin::Sample, admin::RouteSample, admin::LogPage, admin::RebuildRequest, admin::BackupRequest, crate::admin::logs::LogLine, crate::admin::check::IntegrityReport, crate::admin::check::Problem, crate::admin::check::IndexCheck, crate::admin::check::Rebuilt, ErrorBody, ErrorDetail, crate::organize::EmbedStatus, crate::organize::Related, crate::organize::Consolidated, crate::organize::ContextRequest, crate::organize::memory::MemoryView, crate::organize::memory::NewMemory, crate::organize::memory::MemoryPatch, crate::organize::memory::Added, crate::organize::context::Context, crate::organize::context::SectionAccount, crate::organize::ai::ChatMessage)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        teams_like_groups(openapi);
        common_errors(openapi);
    }
}

/// Every operation of a path (GET, POST, PUT, DELETE, PATCH).
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// `/api/v3/teams…` is served by the groups' handlers: the same operations under the teams'
/// paths, each with its own operation id.
fn teams_like_groups(openapi: &mut utoipa::openapi::OpenApi) {
    let teams: Vec<(String, utoipa::openapi::PathItem)> = openapi
        .paths
        .paths
        .iter()
        .filter_map(|(path, item)| {
            let rest = path.strip_prefix("/api/v3/groups")?;
            let mut item = item.clone();
            for op in operations(&mut item) {
                op.operation_id = op
                    .operation_id
                    .as_ref()
                    .map(|id| id.replace("group", "team"));
                op.tags = Some(vec!["teams".into()]);
            }
            Some((format!("/api/v3/teams{rest}"), item))
        })
        .collect();
    openapi.paths.paths.extend(teams);
}

/// Lists on every operation the answers any route of its kind can give: 401 on protected
/// routes, 429 everywhere (the rate limit), 400 where a request has parameters or a body
/// (they are validated), 404 where a path or a body names something, 413 and 415 where it
/// has a body, 403 on writes to the social graph's documents.
fn common_errors(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let error = |what: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in openapi.paths.paths.iter_mut() {
        // Writes to the social graph's documents: a document another DID writes is refused.
        if path.starts_with("/api/v2/circles") || path.starts_with("/api/v3/") {
            let writes = [
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for write in writes.into_iter().flatten() {
                write
                    .responses
                    .responses
                    .entry("403".to_string())
                    .or_insert_with(|| error("this node does not write that document"));
            }
        }
        for op in operations(item) {
            let protected = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let in_path = op.parameters.as_ref().is_some_and(|p| {
                p.iter()
                    .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Path)
            });
            let body = op.request_body.is_some();
            let json_body = op
                .request_body
                .as_ref()
                .is_some_and(|b| b.content.contains_key("application/json"));
            let responses = &mut op.responses.responses;
            let mut add = |status: &str, what: &str| {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| error(what));
            };
            if protected {
                add("401", "missing or wrong bearer token");
            }
            add("429", "over the gateway's rate limit");
            add("421", "the request's Host is not this gateway's");
            if params || body {
                add("400", "a parameter or the body is not valid");
            }
            // A path names a resource; a body often names others (the conversation a capture
            // goes to, the content of a share, a circle's member): any may be gone.
            if in_path || body {
                add(
                    "404",
                    "nothing of that id (or prefix) here, or a resource the body names",
                );
            }
            if body {
                add("413", "the body is over the gateway's limit");
            }
            if json_body {
                add(
                    "415",
                    "the body is not JSON (Content-Type: application/json)",
                );
            }
        }
    }
}

/// The OpenAPI document of the gateway.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        openapi_json(),
    )
        .into_response()
}
