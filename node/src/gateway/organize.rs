//! `/api/v2`: memories and context; related conversations (the PWA's recommendation feed).

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, Query as QueryParams, State, rejection::QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response, sse},
    routing::{get, post},
};
use serde::Deserialize;

use super::{ApiError, ApiResult, ErrorBody, Gateway, json_rejection, query_rejection};
use crate::{
    organize::memory::{Added, MemoryError, MemoryPatch, MemoryView, NewMemory},
    organize::{self, ContextRequest, Related, SemanticError},
};

pub(super) fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/api/v1/conversations/{id}/related", get(related))
        .route("/api/v2/memories", get(list_memories).post(add_memory))
        .route("/api/v2/memories/extract", post(extract_memories))
        .route("/api/v2/memories/consolidate", post(consolidate_memories))
        .route(
            "/api/v2/memories/{id}",
            get(get_memory).patch(update_memory).delete(delete_memory),
        )
        .route("/api/v2/context", post(context))
}

impl From<SemanticError> for ApiError {
    fn from(e: SemanticError) -> Self {
        match e {
            SemanticError::Invalid(m) => ApiError::bad_request(m),
            SemanticError::NotFound(w) => ApiError::not_found(format!("{w} not found")),
            SemanticError::Memory(MemoryError::Invalid(m)) => ApiError::bad_request(m),
            SemanticError::Memory(MemoryError::NotFound(w)) => {
                ApiError::not_found(format!("memory {w} not found"))
            }
            SemanticError::Node(n) => ApiError::from(n),
            SemanticError::Provider(crate::organize::ai::ProviderError::NotConfigured) => {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "no_provider",
                    crate::organize::ai::ProviderError::NotConfigured.to_string(),
                )
            }
            SemanticError::Provider(p) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "provider_failed", p.to_string())
            }
            SemanticError::Embed(e) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "embedder_unavailable",
                e.to_string(),
            ),
            other => super::internal(other),
        }
    }
}

/// `?limit=`
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RelatedParams {
    /// How many (1–100, default 10).
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/related", params(("id" = String, Path, description = "conversation id or prefix"), RelatedParams), responses((status = 200, body = Vec<Related>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn related(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    query: Result<QueryParams<RelatedParams>, QueryRejection>,
) -> ApiResult<Json<Vec<Related>>> {
    let QueryParams(p) = query.map_err(query_rejection)?;
    let limit = p.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 100"));
    }
    let conv = super::resolve(&gw, &id)?;
    Ok(Json(organize::related(&gw.node, &conv, limit).await?))
}

/// Listing and search parameters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemoryParams {
    /// Search: memories most relevant to this text.
    pub q: Option<String>,
    /// Only this type.
    #[serde(rename = "type")]
    pub memory_type: Option<String>,
    /// Include merged, superseded and expired memories.
    pub all: Option<bool>,
    /// How many (1–1000, default 50).
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v2/memories", params(MemoryParams), responses((status = 200, body = Vec<MemoryView>), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn list_memories(
    State(gw): State<Arc<Gateway>>,
    query: Result<QueryParams<MemoryParams>, QueryRejection>,
) -> ApiResult<Json<Vec<MemoryView>>> {
    let QueryParams(p) = query.map_err(query_rejection)?;
    let limit = p.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 1000"));
    }
    Ok(Json(
        match p.q.as_deref().filter(|q| !q.trim().is_empty()) {
            Some(q) => {
                if q.len() > organize::MAX_QUERY {
                    return Err(ApiError::bad_request("q is too long"));
                }
                organize::search_memories(&gw.node, q, limit).await?
            }
            None => {
                organize::memories(
                    &gw.node,
                    p.memory_type.as_deref(),
                    p.all.unwrap_or(false),
                    limit,
                )
                .await?
            }
        },
    ))
}

#[utoipa::path(post, path = "/api/v2/memories", request_body = NewMemory, responses((status = 201, body = Added), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn add_memory(
    State(gw): State<Arc<Gateway>>,
    body: Result<Json<NewMemory>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(m) = body.map_err(json_rejection)?;
    let added = organize::memory_add(&gw.node, m).await?;
    Ok((StatusCode::CREATED, Json(added)).into_response())
}

#[utoipa::path(get, path = "/api/v2/memories/{id}", params(("id" = String, Path, description = "memory id or prefix")), responses((status = 200, body = MemoryView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn get_memory(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> ApiResult<Json<MemoryView>> {
    Ok(Json(organize::memory_get(&gw.node, &id).await?))
}

#[utoipa::path(patch, path = "/api/v2/memories/{id}", params(("id" = String, Path, description = "memory id or prefix")), request_body = MemoryPatch, responses((status = 200, body = MemoryView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn update_memory(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    body: Result<Json<MemoryPatch>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<MemoryView>> {
    let Json(p) = body.map_err(json_rejection)?;
    Ok(Json(organize::memory_update(&gw.node, &id, p).await?))
}

#[utoipa::path(delete, path = "/api/v2/memories/{id}", params(("id" = String, Path, description = "memory id or prefix")), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn delete_memory(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    organize::memory_delete(&gw.node, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v2/memories/extract`
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ExtractRequest {
    /// One conversation (id or prefix), extracted again; absent: every new or changed one.
    pub conversation: Option<String>,
}

#[utoipa::path(post, path = "/api/v2/memories/extract", request_body = ExtractRequest, responses((status = 200, description = "{\"memories\": n}"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn extract_memories(
    State(gw): State<Arc<Gateway>>,
    body: Result<Json<ExtractRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Json(r) = body.map_err(json_rejection)?;
    let n = organize::memory_extract(&gw.node, r.conversation.as_deref()).await?;
    Ok(Json(serde_json::json!({ "memories": n })))
}

#[utoipa::path(post, path = "/api/v2/memories/consolidate", responses((status = 200, body = organize::Consolidated)), security(("bearer" = [])))]
pub(super) async fn consolidate_memories(
    State(gw): State<Arc<Gateway>>,
) -> ApiResult<Json<organize::Consolidated>> {
    Ok(Json(organize::memory_consolidate(&gw.node).await?))
}

#[utoipa::path(post, path = "/api/v2/context", request_body = ContextRequest, responses((status = 200, body = crate::organize::context::Context, description = "the context; with `send: true`, an SSE stream: `context` (the context), `delta` ({\"text\"}), `done` ({\"conversation\", \"answer\"}) or `error`"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn context(
    State(gw): State<Arc<Gateway>>,
    body: Result<Json<ContextRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(req) = body.map_err(json_rejection)?;
    if req.send && !gw.node.config.provider.is_set() {
        return Err(
            SemanticError::Provider(crate::organize::ai::ProviderError::NotConfigured).into(),
        );
    }
    let ctx = organize::build_context(&gw.node, &req).await?;
    if !req.send {
        return Ok(Json(ctx).into_response());
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<sse::Event>(256);
    let node = gw.node.clone();
    let first = sse::Event::default()
        .event("context")
        .json_data(&ctx)
        .map_err(super::internal)?;
    tokio::spawn(async move {
        let _ = tx.send(first).await;
        let (dtx, mut drx) = tokio::sync::mpsc::channel::<String>(64);
        let relay_tx = tx.clone();
        let relay = tokio::spawn(async move {
            while let Some(d) = drx.recv().await {
                if let Ok(ev) = sse::Event::default()
                    .event("delta")
                    .json_data(serde_json::json!({ "text": d }))
                {
                    let _ = relay_tx.send(ev).await;
                }
            }
        });
        let r = organize::send_context(&node, &ctx, Some(dtx)).await;
        let _ = relay.await;
        let last = match r {
            Ok((answer, conv)) => sse::Event::default().event("done").json_data(
                serde_json::json!({ "conversation": conv.to_string(), "answer": answer }),
            ),
            Err(e) => sse::Event::default()
                .event("error")
                .json_data(serde_json::json!({ "message": e.to_string() })),
        };
        if let Ok(ev) = last {
            let _ = tx.send(ev).await;
        }
    });
    let stream = futures::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|o| o.map(Ok::<_, std::convert::Infallible>))
    });
    Ok(sse::Sse::new(stream).into_response())
}
