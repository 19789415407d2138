//! `/api/v3/requests` (message requests: list, accept, ignore, block) and `/api/v3/trust/{did}`
//! (the tier the node gives a DID).

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::{get, post},
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiResult, ErrorBody, Gateway};
use crate::{
    social::graph::parse_did,
    trust::{RequestView, Tier, requests::Decision, requests::RequestOutcome},
};

pub(super) fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/api/v3/requests", get(list_requests))
        .route("/api/v3/requests/{did}/{action}", post(decide))
        .route("/api/v3/trust/{did}", get(trust_of))
}

#[utoipa::path(get, path = "/api/v3/requests", responses((status = 200, body = [RequestView])), security(("bearer" = [])))]
pub(super) async fn list_requests(
    State(gw): State<Arc<Gateway>>,
) -> ApiResult<Json<Vec<RequestView>>> {
    Ok(Json(super::social::blocking(&gw, |n| n.requests()).await?))
}

#[utoipa::path(post, path = "/api/v3/requests/{did}/{action}", params(("did" = String, Path, description = "the sender's DID"), ("action" = String, Path, description = "accept, ignore or block")), responses((status = 200, body = RequestOutcome), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn decide(
    State(gw): State<Arc<Gateway>>,
    Path((did, action)): Path<(String, String)>,
) -> ApiResult<Json<RequestOutcome>> {
    let did = parse_did(&did)?;
    let decision: Decision = action.parse()?;
    Ok(Json(
        super::social::blocking(&gw, move |n| n.decide_request(&did, decision)).await?,
    ))
}

/// The tier a DID has here.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrustOut {
    /// The DID.
    pub did: String,
    /// `own`, `contact`, `follow_of_follow`, `stranger` or `blocked`.
    pub tier: Tier,
}

#[utoipa::path(get, path = "/api/v3/trust/{did}", params(("did" = String, Path, description = "a DID")), responses((status = 200, body = TrustOut), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn trust_of(
    State(gw): State<Arc<Gateway>>,
    Path(did): Path<String>,
) -> ApiResult<Json<TrustOut>> {
    let did = parse_did(&did)?;
    let tier = super::social::blocking(&gw, move |n| Ok(n.tier(&did))).await?;
    Ok(Json(TrustOut {
        did: did.to_string(),
        tier,
    }))
}
