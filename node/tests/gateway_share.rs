//! The sharing routes through `tower::ServiceExt::oneshot`, on a node without its network:
//! link shares are sealed and listed, forks verify, the feed pages, and bad input is a JSON
//! error (never a panic).
#![allow(clippy::unwrap_used)]

mod api;

use api::open;
use axum::http::{Method, StatusCode};
use serde_json::json;
use vivim_node::node::{Capture, Node};

async fn conversation(node: &Node) -> String {
    let mut conv: Option<String> = None;
    for (role, text) in [
        ("user", "first"),
        ("assistant", "second"),
        ("user", "third"),
    ] {
        let (_, id) = node
            .capture(Capture {
                conversation: conv.clone(),
                provider: None,
                source_id: None,
                title: Some("Notes".into()),
                parent: None,
                role: role.into(),
                kind: None,
                lang: None,
                text: text.into(),
                created_at_ms: None,
            })
            .await
            .unwrap();
        conv = Some(id.to_string());
    }
    conv.unwrap()
}

#[tokio::test]
async fn shares_forks_and_feed_over_rest() {
    let t = open().await;
    let id = conversation(&t.node).await;

    // A link share works offline (it is delivered by the link itself).
    let body = json!({"content": &id[..10], "link": true, "expires_in_s": 3600}).to_string();
    let (s, share) = t.call(Method::POST, "/api/v2/shares", Some(&body)).await;
    assert_eq!(s, StatusCode::CREATED, "{share}");
    assert_eq!(share["audience"], "link");
    assert_eq!(share["status"], "active");
    assert!(
        share["link"]
            .as_str()
            .unwrap()
            .starts_with("vivim://share/")
    );
    assert!(share["expires_at_ms"].as_u64().unwrap() > share["created_at_ms"].as_u64().unwrap());
    let sid = share["id"].as_str().unwrap();
    let (s, list) = t.call(Method::GET, "/api/v2/shares", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (s, one) = t
        .call(Method::GET, &format!("/api/v2/shares/{}", &sid[..8]), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one["id"], sid);
    let (s, revoked) = t
        .call(
            Method::POST,
            &format!("/api/v2/shares/{sid}/revoke"),
            Some("{}"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revision"], 1);

    // Forks: 201, then provenance verifies.
    let (s, fork) = t
        .call(
            Method::POST,
            "/api/v2/forks",
            Some(&json!({"conversation": id, "title": "My take"}).to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{fork}");
    assert_eq!(fork["acus"], 3);
    let fid = fork["conversation"].as_str().unwrap();
    let (s, prov) = t
        .call(
            Method::GET,
            &format!("/api/v2/conversations/{fid}/provenance"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(prov["verified"], true, "{prov}");
    assert_eq!(prov["acus"].as_array().unwrap().len(), 3);

    // The feed: empty here (nothing was shared with this node), pages validate.
    let (s, feed) = t.call(Method::GET, "/api/v2/feed?limit=5", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(feed["items"].as_array().unwrap().len(), 0);
    assert!(feed["next_cursor"].is_null());

    // Bad input: clear errors.
    let two = json!({"content": id, "link": true, "public": true}).to_string();
    let m = t
        .error(
            Method::POST,
            "/api/v2/shares",
            Some(&two),
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(m.contains("exactly one audience"), "{m}");
    let none = json!({"content": id}).to_string();
    t.error(
        Method::POST,
        "/api/v2/shares",
        Some(&none),
        StatusCode::BAD_REQUEST,
    )
    .await;
    let unknown = json!({"content": id, "link": true, "whatever": 1}).to_string();
    t.error(
        Method::POST,
        "/api/v2/shares",
        Some(&unknown),
        StatusCode::BAD_REQUEST,
    )
    .await;
    let bad_did = json!({"content": id, "to": ["did:key:nope"]}).to_string();
    t.error(
        Method::POST,
        "/api/v2/shares",
        Some(&bad_did),
        StatusCode::BAD_REQUEST,
    )
    .await;
    let missing = json!({"content": "ffffffffff", "link": true}).to_string();
    t.error(
        Method::POST,
        "/api/v2/shares",
        Some(&missing),
        StatusCode::NOT_FOUND,
    )
    .await;
    let no_circle = json!({"content": id, "circle": "circle.z6MkfakeFAKE.x"}).to_string();
    let (s, _) = t
        .call(Method::POST, "/api/v2/shares", Some(&no_circle))
        .await;
    assert!(s == StatusCode::BAD_REQUEST || s == StatusCode::NOT_FOUND);
    let public = json!({"content": id, "public": true}).to_string();
    let m = t
        .error(
            Method::POST,
            "/api/v2/shares",
            Some(&public),
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(m.contains("vivim up"), "{m}");
    t.error(
        Method::GET,
        "/api/v2/feed?cursor=zz",
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    t.error(
        Method::GET,
        "/api/v2/feed?limit=0",
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    t.error(
        Method::GET,
        "/api/v2/shares/ffff0000",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let m = t
        .error(
            Method::POST,
            "/api/v2/open",
            Some(r#"{"link":"https://x"}"#),
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(m.contains("not a VIVIM share link"), "{m}");
    let link = share["link"].as_str().unwrap();
    t.error(
        Method::POST,
        "/api/v2/open",
        Some(&json!({ "link": link }).to_string()),
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    t.error(
        Method::POST,
        "/api/v2/forks",
        Some(&json!({"conversation": id, "upto": "zz"}).to_string()),
        StatusCode::BAD_REQUEST,
    )
    .await;

    // Listed in the OpenAPI document.
    let (_, api) = t.call(Method::GET, "/api/openapi.json", None).await;
    for p in [
        "/api/v2/shares",
        "/api/v2/open",
        "/api/v2/forks",
        "/api/v2/feed",
    ] {
        assert!(api["paths"][p].is_object(), "{p} missing from OpenAPI");
    }
}

#[tokio::test]
async fn sealed_packages_and_signed_records_refuse_bad_input() {
    let t = open().await;
    let id = conversation(&t.node).await;
    let body = json!({"content": &id, "link": true}).to_string();
    let (_, share) = t.call(Method::POST, "/api/v2/shares", Some(&body)).await;
    let link = share["link"].as_str().unwrap();
    let payload = &link["vivim://share/".len().."vivim://share/".len() + 64];

    // Held here: the package, still sealed, in order.
    let (s, pkg) = t
        .call(Method::GET, &format!("/api/v2/sealed/{payload}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{pkg}");
    assert_eq!(pkg["source"], "local");
    assert!(!pkg["blobs"].as_array().unwrap().is_empty());

    // Not a hash; not held and no `from`; a `from` that is no DID; network off; unknown field.
    let (s, e) = t.call(Method::GET, "/api/v2/sealed/not-a-hash", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let other = "ab".repeat(32);
    let (s, e) = t
        .call(Method::GET, &format!("/api/v2/sealed/{other}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("?from="),
        "{e}"
    );
    let (s, e) = t
        .call(
            Method::GET,
            &format!("/api/v2/sealed/{other}?from=nobody"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let did = t.node.key.did().to_string();
    let (s, e) = t
        .call(
            Method::GET,
            &format!("/api/v2/sealed/{other}?from={did}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{e}");
    let (s, e) = t
        .call(Method::GET, &format!("/api/v2/sealed/{payload}?x=1"), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");

    // Signed records: manifest and every ACU; unknown and malformed ids are JSON errors.
    let (s, r) = t
        .call(
            Method::GET,
            &format!("/api/v2/conversations/{}/signed", &id[..10]),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["conversation"], id.as_str());
    assert_eq!(r["acus"].as_array().unwrap().len(), 3);
    let (s, e) = t
        .call(
            Method::GET,
            "/api/v2/conversations/ffffffffffff/signed",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, e) = t
        .call(Method::GET, "/api/v2/conversations/zz/signed", None)
        .await;
    assert!(s.is_client_error(), "{s} {e}");
    assert!(e["error"]["message"].is_string(), "{e}");
}
