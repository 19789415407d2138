//! `/api/v2/circles`, `/api/v3/{friends,follows,groups,teams,profile}` and the y-websocket
//! endpoint `/api/yjs/{doc}`.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, State, WebSocketUpgrade, ws},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use bytes::Bytes;
use serde::Deserialize;
use utoipa::ToSchema;
use vivim_crdt::yrs::{
    sync::{Message, SyncMessage},
    updates::{decoder::Decode, encoder::Encode},
};
use vivim_crdt::{DocId, DocKind, schema::Role};

use super::{ApiError, ApiResult, ErrorBody, Gateway};
use crate::{
    node::{Node, NodeError},
    social::graph::{CircleOut, FollowOut, FollowsOut, FriendOut, GroupOut, parse_did},
};

/// Largest message a y-websocket client may send.
pub const MAX_YJS_MESSAGE: usize = 8 * 1024 * 1024;

pub(super) async fn blocking<T, F>(gw: &Arc<Gateway>, f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&Node) -> Result<T, NodeError> + Send + 'static,
{
    let node = gw.node.clone();
    tokio::task::spawn_blocking(move || f(&node))
        .await
        .map_err(super::internal)?
        .map_err(ApiError::from)
}

fn role(s: Option<&str>) -> ApiResult<Role> {
    match s.unwrap_or("member") {
        "member" => Ok(Role::Member),
        "admin" => Ok(Role::Admin),
        other => Err(ApiError::bad_request(format!(
            "role {other:?}: member or admin"
        ))),
    }
}

pub(super) fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/api/v2/circles", get(list_circles).post(create_circle))
        .route(
            "/api/v2/circles/{id}",
            get(get_circle).delete(delete_circle),
        )
        .route("/api/v2/circles/{id}/members", post(add_circle_member))
        .route(
            "/api/v2/circles/{id}/members/{did}",
            axum::routing::delete(remove_circle_member),
        )
        .route("/api/v3/profile", post(set_profile))
        .route("/api/v3/friends", get(list_friends))
        .route("/api/v3/friends/{did}/{action}", post(friend_action))
        .route("/api/v3/follows", get(list_follows).post(follow))
        .route("/api/v3/follows/{did}", axum::routing::delete(unfollow))
        .route("/api/v3/follows/{did}/approve", post(approve))
        .route(
            "/api/v3/groups",
            get(|s| list_groups(s, DocKind::Group)).post(|s, b| create_group(s, DocKind::Group, b)),
        )
        .route(
            "/api/v3/teams",
            get(|s| list_groups(s, DocKind::Team)).post(|s, b| create_group(s, DocKind::Team, b)),
        )
        .route(
            "/api/v3/groups/{id}",
            get(|s, p| get_group(s, DocKind::Group, p))
                .delete(|s, p| delete_group(s, DocKind::Group, p)),
        )
        .route(
            "/api/v3/teams/{id}",
            get(|s, p| get_group(s, DocKind::Team, p))
                .delete(|s, p| delete_group(s, DocKind::Team, p)),
        )
        .route(
            "/api/v3/groups/{id}/join",
            post(|s, p, b| join_group(s, DocKind::Group, p, b)),
        )
        .route(
            "/api/v3/teams/{id}/join",
            post(|s, p, b| join_group(s, DocKind::Team, p, b)),
        )
        .route(
            "/api/v3/groups/{id}/leave",
            post(|s, p| leave_group(s, DocKind::Group, p)),
        )
        .route(
            "/api/v3/teams/{id}/leave",
            post(|s, p| leave_group(s, DocKind::Team, p)),
        )
        .route(
            "/api/v3/groups/{id}/members",
            post(|s, p, b| add_group_member(s, DocKind::Group, p, b)),
        )
        .route(
            "/api/v3/teams/{id}/members",
            post(|s, p, b| add_group_member(s, DocKind::Team, p, b)),
        )
        .route(
            "/api/v3/groups/{id}/members/{did}",
            axum::routing::delete(|s, p| remove_group_member(s, DocKind::Group, p)),
        )
        .route(
            "/api/v3/teams/{id}/members/{did}",
            axum::routing::delete(|s, p| remove_group_member(s, DocKind::Team, p)),
        )
        .route("/api/yjs/{doc}", get(yjs))
}

// --- circles ---------------------------------------------------------------------------------

/// A new circle.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCircle {
    /// Name.
    pub name: String,
    /// `private` (default) or `public`.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Members' DIDs.
    #[serde(default)]
    pub members: Vec<String>,
}

/// A member to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// Their DID.
    pub did: String,
    /// `member` (default) or `admin`.
    #[serde(default)]
    pub role: Option<String>,
}

#[utoipa::path(get, path = "/api/v2/circles", responses((status = 200, body = [CircleOut])), security(("bearer" = [])))]
pub(super) async fn list_circles(
    State(gw): State<Arc<Gateway>>,
) -> ApiResult<Json<Vec<CircleOut>>> {
    Ok(Json(blocking(&gw, |n| n.circles()).await?))
}

#[utoipa::path(post, path = "/api/v2/circles", request_body = NewCircle, responses((status = 201, body = CircleOut), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn create_circle(
    State(gw): State<Arc<Gateway>>,
    body: Result<Json<NewCircle>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(c) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if c.members.len() > 10_000 {
        return Err(ApiError::bad_request("at most 10,000 members at once"));
    }
    let members = c
        .members
        .iter()
        .map(|d| parse_did(d))
        .collect::<Result<Vec<_>, _>>()?;
    let vis = c.visibility.unwrap_or_else(|| "private".into());
    let out = blocking(&gw, move |n| n.circle_create(&c.name, &vis, &members)).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

#[utoipa::path(get, path = "/api/v2/circles/{id}", params(("id" = String, Path, description = "circle document id")), responses((status = 200, body = CircleOut), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn get_circle(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> ApiResult<Json<CircleOut>> {
    Ok(Json(blocking(&gw, move |n| n.circle(&id)).await?))
}

#[utoipa::path(delete, path = "/api/v2/circles/{id}", params(("id" = String, Path, description = "circle document id")), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn delete_circle(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    blocking(&gw, move |n| n.circle_delete(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v2/circles/{id}/members", params(("id" = String, Path, description = "circle document id")), request_body = NewMember, responses((status = 200, body = CircleOut), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn add_circle_member(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    body: Result<Json<NewMember>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<CircleOut>> {
    let Json(m) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let did = parse_did(&m.did)?;
    let role = role(m.role.as_deref())?;
    Ok(Json(
        blocking(&gw, move |n| n.circle_add(&id, &did, role)).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v2/circles/{id}/members/{did}", params(("id" = String, Path, description = "circle document id"), ("did" = String, Path, description = "member DID")), responses((status = 200, body = CircleOut)), security(("bearer" = [])))]
pub(super) async fn remove_circle_member(
    State(gw): State<Arc<Gateway>>,
    Path((id, did)): Path<(String, String)>,
) -> ApiResult<Json<CircleOut>> {
    let did = parse_did(&did)?;
    Ok(Json(
        blocking(&gw, move |n| n.circle_remove(&id, &did)).await?,
    ))
}

// --- profile, friends, follows --------------------------------------------------------------

/// Profile fields to set (absent ones stay).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// Display name.
    pub name: Option<String>,
    /// About.
    pub bio: Option<String>,
    /// New followers wait for approval.
    pub follow_approval: Option<bool>,
}

#[utoipa::path(post, path = "/api/v3/profile", request_body = ProfileUpdate, responses((status = 204)), security(("bearer" = [])))]
pub(super) async fn set_profile(
    State(gw): State<Arc<Gateway>>,
    body: Result<Json<ProfileUpdate>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<StatusCode> {
    let Json(p) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if p.name.as_ref().is_some_and(|s| s.len() > 200)
        || p.bio.as_ref().is_some_and(|s| s.len() > 4000)
    {
        return Err(ApiError::bad_request(
            "a name is at most 200 bytes, a bio at most 4000",
        ));
    }
    blocking(&gw, move |n| {
        n.set_profile(p.name.as_deref(), p.bio.as_deref(), p.follow_approval)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v3/friends", responses((status = 200, body = [FriendOut])), security(("bearer" = [])))]
pub(super) async fn list_friends(
    State(gw): State<Arc<Gateway>>,
) -> ApiResult<Json<Vec<FriendOut>>> {
    Ok(Json(blocking(&gw, |n| n.friends()).await?))
}

#[utoipa::path(post, path = "/api/v3/friends/{did}/{action}", params(("did" = String, Path, description = "the other person's DID"), ("action" = String, Path, description = "request, accept, reject, cancel, block or unblock")), responses((status = 200, body = FriendOut), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn friend_action(
    State(gw): State<Arc<Gateway>>,
    Path((did, action)): Path<(String, String)>,
) -> ApiResult<Json<FriendOut>> {
    let did = parse_did(&did)?;
    let out = blocking(&gw, move |n| match action.as_str() {
        "request" => n.friend_request(&did),
        "accept" => n.friend_accept(&did),
        "reject" => n.friend_reject(&did),
        "cancel" => n.friend_cancel(&did),
        "block" => n.block(&did),
        "unblock" => n.unblock(&did),
        other => Err(NodeError::Invalid(format!(
            "{other:?}: request, accept, reject, cancel, block or unblock"
        ))),
    })
    .await?;
    Ok(Json(out))
}

/// Whom to follow.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowRequest {
    /// Their DID.
    pub did: String,
}

#[utoipa::path(get, path = "/api/v3/follows", responses((status = 200, body = FollowsOut)), security(("bearer" = [])))]
pub(super) async fn list_follows(State(gw): State<Arc<Gateway>>) -> ApiResult<Json<FollowsOut>> {
    Ok(Json(blocking(&gw, |n| n.follows()).await?))
}

#[utoipa::path(post, path = "/api/v3/follows", request_body = FollowRequest, responses((status = 200, body = FollowOut)), security(("bearer" = [])))]
pub(super) async fn follow(
    State(gw): State<Arc<Gateway>>,
    body: Result<Json<FollowRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<FollowOut>> {
    let Json(f) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let did = parse_did(&f.did)?;
    Ok(Json(blocking(&gw, move |n| n.follow(&did)).await?))
}

#[utoipa::path(delete, path = "/api/v3/follows/{did}", params(("did" = String, Path, description = "followee DID")), responses((status = 204)), security(("bearer" = [])))]
pub(super) async fn unfollow(
    State(gw): State<Arc<Gateway>>,
    Path(did): Path<String>,
) -> ApiResult<StatusCode> {
    let did = parse_did(&did)?;
    blocking(&gw, move |n| n.unfollow(&did)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v3/follows/{did}/approve", params(("did" = String, Path, description = "follower DID")), responses((status = 204)), security(("bearer" = [])))]
pub(super) async fn approve(
    State(gw): State<Arc<Gateway>>,
    Path(did): Path<String>,
) -> ApiResult<StatusCode> {
    let did = parse_did(&did)?;
    blocking(&gw, move |n| n.approve_follower(&did)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- groups and teams ------------------------------------------------------------------------

/// A new group (`visibility`) or team (`access`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// Name.
    pub name: String,
    /// Groups: GENERAL, STUDY, PROJECT, COMMUNITY. Teams: WORK, PROJECT, PERSONAL.
    pub kind: String,
    /// Groups: PUBLIC, APPROVAL, PRIVATE.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Teams: OPEN, INVITE.
    #[serde(default)]
    pub access: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// A join request.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// A note to the owner.
    #[serde(default)]
    pub message: String,
}

#[utoipa::path(get, path = "/api/v3/groups", responses((status = 200, body = [GroupOut])), security(("bearer" = [])))]
pub(super) async fn list_groups(
    State(gw): State<Arc<Gateway>>,
    kind: DocKind,
) -> ApiResult<Json<Vec<GroupOut>>> {
    Ok(Json(blocking(&gw, move |n| n.groups(kind)).await?))
}

#[utoipa::path(post, path = "/api/v3/groups", request_body = NewGroup, responses((status = 201, body = GroupOut), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn create_group(
    State(gw): State<Arc<Gateway>>,
    kind: DocKind,
    body: Result<Json<NewGroup>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(g) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let access = match kind {
        DocKind::Team => g.access.clone().unwrap_or_else(|| "INVITE".into()),
        _ => g.visibility.clone().unwrap_or_else(|| "PRIVATE".into()),
    };
    let out = blocking(&gw, move |n| {
        n.group_create(kind, &g.name, &g.kind, &access, &g.description)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

#[utoipa::path(get, path = "/api/v3/groups/{id}", params(("id" = String, Path, description = "group document id")), responses((status = 200, body = GroupOut), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn get_group(
    State(gw): State<Arc<Gateway>>,
    kind: DocKind,
    Path(id): Path<String>,
) -> ApiResult<Json<GroupOut>> {
    Ok(Json(blocking(&gw, move |n| n.group(&id, kind)).await?))
}

#[utoipa::path(delete, path = "/api/v3/groups/{id}", params(("id" = String, Path, description = "group document id")), responses((status = 204), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn delete_group(
    State(gw): State<Arc<Gateway>>,
    kind: DocKind,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    blocking(&gw, move |n| n.group_delete(&id, kind)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v3/groups/{id}/join", params(("id" = String, Path, description = "group document id")), request_body = JoinRequest, responses((status = 204)), security(("bearer" = [])))]
pub(super) async fn join_group(
    State(gw): State<Arc<Gateway>>,
    kind: DocKind,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    // The body is optional: none, or a JSON join request.
    let msg = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        serde_json::from_slice::<JoinRequest>(&body)
            .map_err(|e| ApiError::bad_request(format!("the body is not a join request: {e}")))?
            .message
    };
    blocking(&gw, move |n| n.group_join(&id, kind, &msg)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v3/groups/{id}/leave", params(("id" = String, Path, description = "group document id")), responses((status = 204)), security(("bearer" = [])))]
pub(super) async fn leave_group(
    State(gw): State<Arc<Gateway>>,
    kind: DocKind,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    blocking(&gw, move |n| n.group_leave(&id, kind)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v3/groups/{id}/members", params(("id" = String, Path, description = "group document id")), request_body = NewMember, responses((status = 200, body = GroupOut)), security(("bearer" = [])))]
pub(super) async fn add_group_member(
    State(gw): State<Arc<Gateway>>,
    kind: DocKind,
    Path(id): Path<String>,
    body: Result<Json<NewMember>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<GroupOut>> {
    let Json(m) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let did = parse_did(&m.did)?;
    let role = role(m.role.as_deref())?;
    Ok(Json(
        blocking(&gw, move |n| n.group_add(&id, kind, &did, role)).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v3/groups/{id}/members/{did}", params(("id" = String, Path, description = "group document id"), ("did" = String, Path, description = "member DID")), responses((status = 200, body = GroupOut)), security(("bearer" = [])))]
pub(super) async fn remove_group_member(
    State(gw): State<Arc<Gateway>>,
    kind: DocKind,
    Path((id, did)): Path<(String, String)>,
) -> ApiResult<Json<GroupOut>> {
    let did = parse_did(&did)?;
    Ok(Json(
        blocking(&gw, move |n| n.group_remove(&id, kind, &did)).await?,
    ))
}

// --- y-websocket -----------------------------------------------------------------------------

fn encode(m: &Message) -> ws::Message {
    ws::Message::Binary(m.encode_v1().into())
}

/// y-websocket (y-protocols sync + awareness) for one document: the PWA's Yjs reads any
/// document this node holds and writes the user's own; its writes are signed and spread like
/// any other change. Awareness is relayed between the clients of this node only.
async fn yjs(
    State(gw): State<Arc<Gateway>>,
    Path(doc): Path<String>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let id: DocId = doc
        .parse()
        .map_err(|e| ApiError::bad_request(format!("{doc:?}: {e}")))?;
    let node = gw.node.clone();
    let mine = id.writer() == &node.key.did();
    if !mine && !node.social.has(&id) {
        return Err(ApiError::not_found(format!(
            "document {id} is not on this node"
        )));
    }
    let awareness = gw.awareness.clone();
    Ok(upgrade
        .max_message_size(MAX_YJS_MESSAGE)
        .on_upgrade(move |socket| yjs_session(node, id, mine, awareness, socket)))
}

async fn yjs_session(
    node: Arc<Node>,
    id: DocId,
    mine: bool,
    awareness: tokio::sync::broadcast::Sender<(DocId, u64, Arc<Vec<u8>>)>,
    mut socket: ws::WebSocket,
) {
    use tokio::sync::broadcast::error::RecvError;
    static SESSIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let session = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut changes = node.social.changes();
    let mut aware = awareness.subscribe();
    let sv = node
        .social
        .read(&id, |r| r.state_vector())
        .unwrap_or_else(|| vec![0]);
    let Ok(sv) = vivim_crdt::yrs::StateVector::decode_v1(&sv) else {
        return;
    };
    if socket
        .send(encode(&Message::Sync(SyncMessage::SyncStep1(sv))))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            change = changes.recv() => match change {
                Ok(c) if c.doc == id => {
                    let m = Message::Sync(SyncMessage::Update(c.update.to_vec()));
                    if socket.send(encode(&m)).await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    // Missed changes: resend the whole state (updates are idempotent).
                    if let Some(s) = node.social.read(&id, |r| r.snapshot()) {
                        let m = Message::Sync(SyncMessage::Update(s));
                        if socket.send(encode(&m)).await.is_err() {
                            break;
                        }
                    }
                }
                Err(RecvError::Closed) => break,
            },
            a = aware.recv() => {
                if let Ok((doc, from, bytes)) = a
                    && doc == id
                    && from != session
                    && socket.send(ws::Message::Binary(bytes.to_vec().into())).await.is_err()
                {
                    break;
                }
            }
            msg = socket.recv() => {
                let data = match msg {
                    Some(Ok(ws::Message::Binary(b))) => b,
                    Some(Ok(ws::Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let replies = yjs_handle(&node, &id, mine, &data).await;
                let Ok(replies) = replies else {
                    tracing::debug!(%id, "closing a y-websocket that sent a bad message");
                    break;
                };
                for r in replies {
                    if let Message::Awareness(_) = r {
                        let _ = awareness.send((id.clone(), session, Arc::new(data.to_vec())));
                        continue;
                    }
                    if socket.send(encode(&r)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// Handles one client frame; returns the replies (awareness messages are returned to be
/// relayed to the other clients instead).
async fn yjs_handle(
    node: &Arc<Node>,
    id: &DocId,
    mine: bool,
    data: &[u8],
) -> Result<Vec<Message>, String> {
    let msgs = vivim_crdt::sync_messages(data).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for m in msgs {
        match m {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                let sv = sv.encode_v1();
                let diff = node
                    .social
                    .read(id, |r| r.diff(&sv))
                    .transpose()
                    .map_err(|e| e.to_string())?;
                let diff = diff.unwrap_or_else(|| vec![0, 0]);
                out.push(Message::Sync(SyncMessage::SyncStep2(diff)));
            }
            Message::Sync(SyncMessage::SyncStep2(u)) | Message::Sync(SyncMessage::Update(u)) => {
                if !mine {
                    // Read-only: someone else's document. Their copy reverts on next sync.
                    continue;
                }
                let node = node.clone();
                let id = id.clone();
                tokio::task::spawn_blocking(move || node.write_doc_update(&id, &u))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
            }
            m @ Message::Awareness(_) => out.push(m),
            Message::AwarenessQuery | Message::Auth(_) | Message::Custom(..) => {}
        }
    }
    Ok(out)
}
