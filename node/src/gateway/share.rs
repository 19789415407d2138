//! `/api/v2/shares`, `/api/v2/open`, `/api/v2/forks`, `/api/v2/feed` and provenance.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, Query as QueryParams, State, rejection::QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use utoipa::ToSchema;
use vivim_protocol::{IntentKind, ShareLink};

use super::{ApiError, ApiResult, ErrorBody, Gateway, json_rejection, query_rejection};
use crate::{
    share::net::Opened,
    share::{FeedPage, ForkOut, Provenance, ShareOut, ShareSpec, Target},
    social::graph::parse_did,
};

pub(super) fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/api/v2/shares", get(list_shares).post(create_share))
        .route("/api/v2/shares/{id}", get(get_share))
        .route("/api/v2/shares/{id}/revoke", post(revoke_share))
        .route("/api/v2/shares/{id}/activate", post(activate_share))
        .route("/api/v2/open", post(open_link))
        .route("/api/v2/forks", post(fork))
        .route("/api/v2/conversations/{id}/provenance", get(provenance))
        .route("/api/v2/feed", get(feed))
        .route("/api/v2/sealed/{payload}", get(sealed))
        .route("/api/v2/conversations/{id}/signed", get(signed_records))
}

/// Most bytes a sealed package may hold to be handed to a browser (it travels as base64 JSON).
pub const MAX_SEALED_RESPONSE: u64 = 64 * 1024 * 1024;

/// Where to find a sealed package.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SealedQuery {
    /// The DID that serves it (a share link's `from`), when this node does not hold it.
    pub from: Option<String>,
}

/// A share package, still sealed: its blobs in order, base64.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SealedPackage {
    /// The package's hash (a BLAKE3 hash sequence).
    pub payload: String,
    /// The sealed blobs in order (standard base64).
    pub blobs: Vec<String>,
    /// Their total size.
    pub bytes: u64,
    /// `local`, or the DID that served it.
    pub source: String,
}

/// A conversation's signed records, for clients that verify signatures themselves.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SignedRecords {
    /// Conversation id.
    pub conversation: String,
    /// The signed manifest (CBOR, standard base64).
    pub manifest: String,
    /// The signed ACUs in stored order (CBOR, standard base64).
    pub acus: Vec<String>,
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::prelude::BASE64_STANDARD.encode(b)
}

/// A share package as it travels, sealed: the web app opens it in the browser with the key in
/// the link's fragment, so the key never reaches the node. Read from this node's blob store,
/// else downloaded from `from` (or any provider) without being opened or stored.
#[utoipa::path(get, path = "/api/v2/sealed/{payload}", params(("payload" = String, Path, description = "package hash (hex)"), SealedQuery), responses((status = 200, body = SealedPackage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn sealed(
    State(gw): State<Arc<Gateway>>,
    Path(payload): Path<String>,
    query: Result<QueryParams<SealedQuery>, QueryRejection>,
) -> ApiResult<Json<SealedPackage>> {
    let QueryParams(q) = query.map_err(query_rejection)?;
    let hash: vivim_protocol::Hash = payload
        .parse()
        .map_err(|e| ApiError::bad_request(format!("payload: {e}")))?;
    let too_large = |e: crate::store::StoreError| match e {
        crate::store::StoreError::Invalid(m) => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", m)
        }
        e => ApiError::from(crate::node::NodeError::from(e)),
    };
    let (blobs, source) = match gw
        .node
        .store
        .read_seq(hash, MAX_SEALED_RESPONSE)
        .await
        .map_err(too_large)?
    {
        Some(b) => (b, "local".to_string()),
        None => {
            let Some(from) = q.from else {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("{hash} is not held here (give ?from=<did> to fetch it)"),
                ));
            };
            let from = parse_did(&from)?;
            let p = super::p2p(&gw)?;
            let b = p
                .fetch_sealed(&from, hash)
                .await
                .map_err(super::p2p_error)?;
            (b, from.to_string())
        }
    };
    let bytes: u64 = blobs.iter().map(|b| b.len() as u64).sum();
    if bytes > MAX_SEALED_RESPONSE {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("{hash} holds {bytes} bytes; at most {MAX_SEALED_RESPONSE} go to a browser"),
        ));
    }
    Ok(Json(SealedPackage {
        payload: hash.to_hex(),
        blobs: blobs.iter().map(|b| b64(b)).collect(),
        bytes,
        source,
    }))
}

#[utoipa::path(get, path = "/api/v2/conversations/{id}/signed", params(("id" = String, Path, description = "conversation id or prefix")), responses((status = 200, body = SignedRecords), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn signed_records(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> ApiResult<Json<SignedRecords>> {
    let conv = gw
        .node
        .store
        .resolve(&id)
        .map_err(crate::node::NodeError::from)?;
    let (manifest, acus) = gw
        .node
        .store
        .signed_records(&conv)
        .await
        .map_err(crate::node::NodeError::from)?;
    Ok(Json(SignedRecords {
        conversation: conv.to_string(),
        manifest: b64(&manifest),
        acus: acus.iter().map(|a| b64(a)).collect(),
    }))
}

type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// A share to make: exactly one of `circle`, `to`, `public`, `link`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewShare {
    /// Conversation id or prefix, or an ACU id (64 hex characters).
    pub content: String,
    /// Share with the members of this circle (document id).
    pub circle: Option<String>,
    /// Share with these people (DIDs).
    #[serde(default)]
    pub to: Vec<String>,
    /// Publish for everyone.
    #[serde(default)]
    pub public: bool,
    /// Make a link that carries the key.
    #[serde(default)]
    pub link: bool,
    /// Ends this many seconds from now.
    pub expires_in_s: Option<u64>,
    /// `share` (default), `publish` or `embed`.
    pub intent: Option<String>,
    /// Seal and sign it now, deliver it when activated (`POST /api/v2/shares/{id}/activate`).
    #[serde(default)]
    pub draft: bool,
}

#[utoipa::path(post, path = "/api/v2/shares", request_body = NewShare, responses((status = 201, body = ShareOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn create_share(
    State(gw): State<Arc<Gateway>>,
    body: JsonBody<NewShare>,
) -> ApiResult<Response> {
    let Json(req) = body.map_err(json_rejection)?;
    let chosen = [
        req.circle.is_some(),
        !req.to.is_empty(),
        req.public,
        req.link,
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if chosen != 1 {
        return Err(ApiError::bad_request(
            "give exactly one audience: circle, to, public or link",
        ));
    }
    let target = if let Some(c) = req.circle {
        Target::Circle(c)
    } else if !req.to.is_empty() {
        if req.to.len() > vivim_protocol::limits::MAX_GRANTS {
            return Err(ApiError::bad_request("too many recipients"));
        }
        Target::Users(
            req.to
                .iter()
                .map(|d| parse_did(d))
                .collect::<Result<_, _>>()?,
        )
    } else if req.public {
        Target::Public
    } else {
        Target::Link
    };
    let kind = match req.intent.as_deref().unwrap_or("share") {
        "share" => IntentKind::Share,
        "publish" => IntentKind::Publish,
        "embed" => IntentKind::Embed,
        other => {
            return Err(ApiError::bad_request(format!(
                "intent {other:?}: share, publish or embed (forks: POST /api/v2/forks)"
            )));
        }
    };
    let spec = ShareSpec {
        content: req.content,
        target,
        expires_in_ms: req.expires_in_s.map(|s| s.saturating_mul(1000)),
        kind,
        draft: req.draft,
    };
    let out = gw.node.share(spec).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

#[utoipa::path(get, path = "/api/v2/shares", responses((status = 200, body = Vec<ShareOut>)), security(("bearer" = [])))]
pub(super) async fn list_shares(State(gw): State<Arc<Gateway>>) -> ApiResult<Json<Vec<ShareOut>>> {
    Ok(Json(gw.node.shares()?))
}

#[utoipa::path(get, path = "/api/v2/shares/{id}", params(("id" = String, Path, description = "share id or prefix")), responses((status = 200, body = ShareOut), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn get_share(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> ApiResult<Json<ShareOut>> {
    let row = gw.node.find_share(&id)?;
    Ok(Json(gw.node.share_out(&row)?))
}

#[utoipa::path(post, path = "/api/v2/shares/{id}/revoke", params(("id" = String, Path, description = "share id or prefix")), responses((status = 200, body = ShareOut), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn revoke_share(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> ApiResult<Json<ShareOut>> {
    Ok(Json(gw.node.share_revoke(&id).await?))
}

#[utoipa::path(post, path = "/api/v2/shares/{id}/activate", params(("id" = String, Path, description = "share id or prefix")), responses((status = 200, body = ShareOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn activate_share(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> ApiResult<Json<ShareOut>> {
    Ok(Json(gw.node.share_activate(&id)?))
}

/// A link to open.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenLink {
    /// `vivim://share/<hash>?from=<did>#<key>`
    pub link: String,
}

#[utoipa::path(post, path = "/api/v2/open", request_body = OpenLink, responses((status = 200, body = Opened), (status = 400, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn open_link(
    State(gw): State<Arc<Gateway>>,
    body: JsonBody<OpenLink>,
) -> ApiResult<Json<Opened>> {
    let Json(req) = body.map_err(json_rejection)?;
    let link: ShareLink = req
        .link
        .parse()
        .map_err(|e: vivim_protocol::LinkError| ApiError::bad_request(e.to_string()))?;
    let p = super::p2p(&gw)?;
    Ok(Json(p.open_link(&link).await.map_err(super::p2p_error)?))
}

/// A fork to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFork {
    /// Conversation id or prefix.
    pub conversation: String,
    /// Copy up to this ACU (id or prefix; default: the head).
    pub upto: Option<String>,
    /// Title (default: "Fork of …").
    pub title: Option<String>,
}

#[utoipa::path(post, path = "/api/v2/forks", request_body = NewFork, responses((status = 201, body = ForkOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn fork(
    State(gw): State<Arc<Gateway>>,
    body: JsonBody<NewFork>,
) -> ApiResult<Response> {
    let Json(req) = body.map_err(json_rejection)?;
    let out = gw
        .node
        .fork(&req.conversation, req.upto.as_deref(), req.title.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

#[utoipa::path(get, path = "/api/v2/conversations/{id}/provenance", params(("id" = String, Path, description = "conversation id or prefix")), responses((status = 200, body = Provenance), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn provenance(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Provenance>> {
    Ok(Json(gw.node.provenance(&id).await?))
}

/// `?cursor=&limit=`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–500 (default 50).
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v2/feed", params(FeedParams), responses((status = 200, body = FeedPage), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn feed(
    State(gw): State<Arc<Gateway>>,
    query: Result<QueryParams<FeedParams>, QueryRejection>,
) -> ApiResult<Json<FeedPage>> {
    let QueryParams(p) = query.map_err(query_rejection)?;
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 500"));
    }
    Ok(Json(gw.node.feed(p.cursor.as_deref(), limit)?))
}
