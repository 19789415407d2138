//! The social routes through `tower::ServiceExt::oneshot`: shapes, JSON errors for bad input,
//! 403 on someone else's document, 404 for unknown ones, and the OpenAPI entries.
#![allow(clippy::unwrap_used)]

mod api;

use api::open;
use axum::http::{Method, StatusCode};
use serde_json::json;
use vivim_crdt::{DocId, DocKind};
use vivim_identity::Keypair;

fn did(n: u8) -> String {
    Keypair::from_seed(&[n; 32]).did().to_string()
}

#[tokio::test]
async fn circles_over_rest() {
    let t = open().await;
    let body = json!({"name": "Research", "members": [did(2), did(3)]}).to_string();
    let (s, c) = t.call(Method::POST, "/api/v2/circles", Some(&body)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("circle.z6Mk"));
    assert_eq!(c["visibility"], "private");
    assert_eq!(c["members"].as_array().unwrap().len(), 3);
    assert_eq!(c["mine"], true);
    assert_eq!(c["seq"], 1);

    let (s, list) = t.call(Method::GET, "/api/v2/circles", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);

    let add = json!({"did": did(4), "role": "admin"}).to_string();
    let (s, c) = t
        .call(
            Method::POST,
            &format!("/api/v2/circles/{id}/members"),
            Some(&add),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["members"].as_array().unwrap().len(), 4);
    let (s, c) = t
        .call(
            Method::DELETE,
            &format!("/api/v2/circles/{id}/members/{}", did(2)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["members"].as_array().unwrap().len(), 3);
    assert_eq!(c["seq"], 3);

    // Bad input: each a 400 with a message.
    for bad in [
        "{",
        r#"{"name": ""}"#,
        r#"{"name": "x", "members": ["not-a-did"]}"#,
        r#"{"name": "x", "visibility": "secret"}"#,
        r#"{"name": "x", "extra": 1}"#,
    ] {
        t.error(
            Method::POST,
            "/api/v2/circles",
            Some(bad),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    t.error(
        Method::GET,
        "/api/v2/circles/nope",
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let unknown = DocId::random(DocKind::Circle, &Keypair::from_seed(&[1; 32]).did(), 5);
    t.error(
        Method::GET,
        &format!("/api/v2/circles/{unknown}"),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let add = json!({"did": did(4), "role": "owner"}).to_string();
    t.error(
        Method::POST,
        &format!("/api/v2/circles/{id}/members"),
        Some(&add),
        StatusCode::BAD_REQUEST,
    )
    .await;

    // Someone else's circle (held here) cannot be changed: 403.
    let theirs = DocId::random(DocKind::Circle, &Keypair::from_seed(&[9; 32]).did(), 1);
    t.node.social.track(&theirs).unwrap();
    let e = t
        .node
        .write_doc(&theirs, &[], |w| w.set_meta("name", "mine now"))
        .unwrap_err();
    assert!(e.to_string().contains("only its owner"), "{e}");

    // Delete: gone from lists and gets.
    let (s, _) = t
        .call(Method::DELETE, &format!("/api/v2/circles/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    t.error(
        Method::GET,
        &format!("/api/v2/circles/{id}"),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let (_, list) = t.call(Method::GET, "/api/v2/circles", None).await;
    assert!(list.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn friends_follows_groups_teams_over_rest() {
    let t = open().await;
    let (s, f) = t
        .call(
            Method::POST,
            &format!("/api/v3/friends/{}/request", did(2)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{f}");
    assert_eq!(
        (f["status"].as_str(), f["direction"].as_str()),
        (Some("PENDING"), Some("outgoing"))
    );
    let (_, list) = t.call(Method::GET, "/api/v3/friends", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    t.error(
        Method::POST,
        &format!("/api/v3/friends/{}/poke", did(2)),
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let me = t.node.key.did().to_string();
    let m = t
        .error(
            Method::POST,
            &format!("/api/v3/friends/{me}/request"),
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(m.contains("your own"), "{m}");
    let (s, b) = t
        .call(
            Method::POST,
            &format!("/api/v3/friends/{}/block", did(2)),
            None,
        )
        .await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("BLOCKED")));

    let (s, f) = t
        .call(
            Method::POST,
            "/api/v3/follows",
            Some(&json!({"did": did(3)}).to_string()),
        )
        .await;
    assert_eq!((s, f["status"].as_str()), (StatusCode::OK, Some("ACTIVE")));
    let (_, fl) = t.call(Method::GET, "/api/v3/follows", None).await;
    assert_eq!(fl["following"].as_array().unwrap().len(), 1);
    let (s, _) = t
        .call(Method::DELETE, &format!("/api/v3/follows/{}", did(3)), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, fl) = t.call(Method::GET, "/api/v3/follows", None).await;
    assert!(fl["following"].as_array().unwrap().is_empty());

    let (s, g) = t
        .call(
            Method::POST,
            "/api/v3/groups",
            Some(r#"{"name": "Rust", "kind": "study", "visibility": "public"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    assert_eq!(
        (g["kind"].as_str(), g["access"].as_str()),
        (Some("STUDY"), Some("PUBLIC"))
    );
    assert_eq!(g["me"]["status"], "member");
    assert_eq!(g["me"]["role"], "owner");
    let (s, team) = t
        .call(
            Method::POST,
            "/api/v3/teams",
            Some(r#"{"name": "Platform", "kind": "WORK", "access": "OPEN"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{team}");
    assert!(team["id"].as_str().unwrap().starts_with("team."));
    let (_, teams) = t.call(Method::GET, "/api/v3/teams", None).await;
    assert_eq!(teams.as_array().unwrap().len(), 1);
    let (_, groups) = t.call(Method::GET, "/api/v3/groups", None).await;
    assert_eq!(groups.as_array().unwrap().len(), 1);
    // A team id is not a group id.
    t.error(
        Method::GET,
        &format!("/api/v3/groups/{}", team["id"].as_str().unwrap()),
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    for bad in [
        r#"{"name": "x", "kind": "PARTY", "visibility": "PUBLIC"}"#,
        r#"{"name": "x", "kind": "STUDY", "visibility": "OPEN"}"#,
        r#"{"name": "", "kind": "STUDY", "visibility": "PUBLIC"}"#,
    ] {
        t.error(
            Method::POST,
            "/api/v3/groups",
            Some(bad),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let (s, _) = t
        .call(
            Method::POST,
            "/api/v3/profile",
            Some(r#"{"name": "Alice"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    t.error(
        Method::POST,
        "/api/v3/profile",
        Some(&json!({"name": "x".repeat(300)}).to_string()),
        StatusCode::BAD_REQUEST,
    )
    .await;

    let (_, api) = t.call(Method::GET, "/api/openapi.json", None).await;
    for p in [
        "/api/v2/circles",
        "/api/v3/friends/{did}/{action}",
        "/api/v3/groups/{id}/join",
    ] {
        assert!(
            api["paths"][p].is_object(),
            "{p} missing from the OpenAPI document"
        );
    }
}
