//! The gateway's REST surface through `tower::ServiceExt::oneshot`: auth, import by upload,
//! paging, get/export, ACUs (JSON and CBOR), capture, search, delete, admin, CORS, errors.
#![allow(clippy::unwrap_used)]

#[path = "common/shared.rs"]
mod shared;
use std::{collections::HashSet, path::PathBuf, sync::Arc};

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use bytes::Bytes;
use serde_json::{Value, json};
use tower::ServiceExt;
use vivim_node::node::Node;
use vivim_protocol::{Acu, ConvId, Signed};

mod api;

fn chatgpt_export() -> PathBuf {
    shared::path(shared::CHATGPT_2023)
}

const EXPORT_CONVERSATIONS: usize = 192;

struct TestNode {
    node: Arc<Node>,
    app: Router,
    token: String,
    _tmp: tempfile::TempDir,
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and the JSON error shape, returns the error code.
    fn expect_error(&self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "{}", self.text());
        let v = self.json();
        let code = v["error"]["code"].as_str().unwrap_or_else(|| {
            panic!("error without error.code: {v}");
        });
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "error without message: {v}"
        );
        code.to_string()
    }
}

/// Opens a fresh node in a temporary data dir, with `config` as its `vivim.toml`.
async fn open(config: Option<&str>) -> TestNode {
    let api::T {
        node,
        app,
        token,
        tmp,
    } = api::open_with(config).await;
    TestNode {
        node,
        app,
        token,
        _tmp: tmp,
    }
}

impl TestNode {
    async fn send(&self, req: Request<Body>) -> Resp {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        Resp {
            status,
            headers,
            body,
        }
    }

    fn req(&self, method: Method, uri: &str) -> axum::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
    }

    async fn get(&self, uri: &str) -> Resp {
        self.send(self.req(Method::GET, uri).body(Body::empty()).unwrap())
            .await
    }

    async fn get_ok(&self, uri: &str) -> Value {
        let r = self.get(uri).await;
        assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.text());
        r.json()
    }

    async fn delete(&self, uri: &str) -> Resp {
        self.send(self.req(Method::DELETE, uri).body(Body::empty()).unwrap())
            .await
    }

    async fn post_json(&self, uri: &str, body: &Value) -> Resp {
        self.send(
            self.req(Method::POST, uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    async fn capture(&self, body: Value) -> Value {
        let r = self.post_json("/api/v1/acus", &body).await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "capture {body}: {}",
            r.text()
        );
        r.json()
    }

    async fn upload(&self, bytes: Vec<u8>) -> Resp {
        self.send(
            self.req(Method::POST, "/api/v1/import?format=auto")
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(Body::from(bytes))
                .unwrap(),
        )
        .await
    }

    async fn import_export(&self) -> Value {
        let r = self.upload(std::fs::read(chatgpt_export()).unwrap()).await;
        assert_eq!(r.status, StatusCode::OK, "import: {}", r.text());
        r.json()
    }

    /// Every conversation through cursor paging with `limit`.
    async fn list_all(&self, limit: usize) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10_000 {
            let uri = match &cursor {
                None => format!("/api/v1/conversations?limit={limit}"),
                Some(c) => format!("/api/v1/conversations?limit={limit}&cursor={c}"),
            };
            let page = self.get_ok(&uri).await;
            let items = page["items"].as_array().unwrap();
            assert!(
                items.len() <= limit,
                "page of {} > limit {limit}",
                items.len()
            );
            out.extend(items.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
        panic!("paging with limit {limit} does not end");
    }

    async fn finish(self) {
        self.node.shutdown().await.unwrap();
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

#[tokio::test]
async fn auth_token_header_query_and_openapi() {
    let t = open(None).await;
    let uri = "/api/v1/conversations";

    let r = t.send(Request::get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(r.expect_error(StatusCode::UNAUTHORIZED), "unauthorized");
    assert!(
        r.header(header::CONTENT_TYPE)
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        r.headers
    );

    for bad in [
        "Bearer wrong".to_string(),
        format!("Bearer {}x", t.token),
        format!("Bearer {}", &t.token[..t.token.len() - 1]),
        t.token.clone(), // no "Bearer " scheme
        format!("Basic {}", t.token),
    ] {
        let r = t
            .send(
                Request::get(uri)
                    .header(header::AUTHORIZATION, &bad)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(
            r.expect_error(StatusCode::UNAUTHORIZED),
            "unauthorized",
            "{bad}"
        );
    }
    let r = t
        .send(
            Request::get(format!("{uri}?token=nope"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    r.expect_error(StatusCode::UNAUTHORIZED);

    // Every protected route refuses without a token, whatever the method.
    for (m, u) in [
        (Method::GET, "/api/v1/identity"),
        (Method::GET, "/api/v1/search?q=x"),
        (Method::POST, "/api/v1/acus"),
        (Method::POST, "/api/v1/import"),
        (Method::GET, "/api/admin/status"),
        (Method::GET, "/api/admin/metrics"),
        (Method::GET, "/api/ws"),
        (
            Method::DELETE,
            "/api/v1/conversations/0000000000000000000000000000000000000000000000000000000000000000",
        ),
    ] {
        let r = t
            .send(
                Request::builder()
                    .method(m.clone())
                    .uri(u)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{m} {u}: {}", r.text());
    }

    let v = t.get_ok(uri).await;
    assert_eq!(v["items"], json!([]));
    assert!(v["next_cursor"].is_null(), "{v}");

    // The token in a URL is only read on a WebSocket upgrade: elsewhere it would end up in
    // histories and logs.
    let r = t
        .send(
            Request::get(format!("{uri}?limit=5&token={}", t.token))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    r.expect_error(StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("WebSocket"), "{}", r.text());

    let id = t.get_ok("/api/v1/identity").await;
    assert_eq!(s(&id["did"]), t.node.key.did().to_string());

    let r = t
        .send(
            Request::get("/api/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with('3'), "{doc}");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/conversations",
        "/api/v1/conversations/{id}",
        "/api/v1/acus",
        "/api/v1/search",
        "/api/v1/import",
    ] {
        assert!(paths.contains_key(p), "openapi lacks {p}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    t.finish().await;
}

/// DNS rebinding: a page on attacker.example that points its name at 127.0.0.1 reaches the
/// gateway with its own `Host`; it gets 421, even with the token, on every path (the web app's
/// files too). A WebSocket upgrade from another origin is refused even with the token.
#[tokio::test]
async fn foreign_hosts_and_websocket_origins_are_refused() {
    let t = open(Some("[gateway]\nallowed_hosts = [\"vivim.lan\"]\n")).await;
    let bearer = format!("Bearer {}", t.token);
    for host in [
        "attacker.example",
        "attacker.example:7777",
        "localhost.evil.test",
        "10.1.2.3",
    ] {
        for path in ["/api/v1/identity", "/api/health", "/", "/api/mcp"] {
            let r = t
                .send(
                    Request::get(path)
                        .header(header::HOST, host)
                        .header(header::AUTHORIZATION, &bearer)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            assert_eq!(
                r.expect_error(StatusCode::MISDIRECTED_REQUEST),
                "misdirected_request",
                "{host} {path}"
            );
        }
    }
    for host in [
        "127.0.0.1:7777",
        "localhost:7777",
        "[::1]:7777",
        "vivim.lan",
        "app.localhost:1",
    ] {
        let r = t
            .send(
                Request::get("/api/v1/identity")
                    .header(header::HOST, host)
                    .header(header::AUTHORIZATION, &bearer)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{host}: {}", r.text());
    }
    let upgrade = |origin: &str| {
        Request::get(format!("/api/ws?token={}", t.token))
            .header(header::HOST, "127.0.0.1:7777")
            .header(header::ORIGIN, origin)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .body(Body::empty())
            .unwrap()
    };
    let r = t.send(upgrade("http://attacker.example")).await;
    assert_eq!(r.expect_error(StatusCode::FORBIDDEN), "origin_not_allowed");
    // The gateway's own origin passes the guard (oneshot cannot finish the upgrade itself, so
    // axum answers that the connection is not upgradable — anything but 401/403/421).
    let r = t.send(upgrade("http://127.0.0.1:7777")).await;
    assert!(
        ![401, 403, 421].contains(&r.status.as_u16()),
        "{} {}",
        r.status,
        r.text()
    );
}

#[tokio::test]
async fn import_by_upload_is_idempotent() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    let t = open(None).await;
    let first = t.import_export().await;
    assert_eq!(first["format"], "chatgpt", "{first}");
    assert_eq!(first["conversations"], EXPORT_CONVERSATIONS, "{first}");
    assert_eq!(first["duplicates"], 0, "{first}");
    assert!(first["messages"].as_u64().unwrap() > EXPORT_CONVERSATIONS as u64);

    let again = t.import_export().await;
    assert_eq!(again["conversations"], 0, "{again}");
    assert_eq!(again["updated"], 0, "{again}");
    assert_eq!(again["duplicates"], EXPORT_CONVERSATIONS, "{again}");
    assert_eq!(again["messages"], 0, "{again}");
    assert_eq!(
        t.node.store.conversation_count(),
        EXPORT_CONVERSATIONS,
        "re-import must not add conversations"
    );

    // Nothing left behind in the data dir by the uploads (they are spooled to temp files).
    let leftovers: Vec<_> = std::fs::read_dir(t.node.dir.root())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "spooled uploads left: {leftovers:?}");

    // Empty and unreadable uploads are client errors, not 500s.
    let r = t.upload(Vec::new()).await;
    assert_eq!(r.expect_error(StatusCode::BAD_REQUEST), "bad_request");
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let r = t.upload(junk).await;
    assert!(
        r.status.is_client_error(),
        "random bytes: HTTP {} {}",
        r.status,
        r.text()
    );
    r.expect_error(r.status);
    let r = t
        .send(
            t.req(Method::POST, "/api/v1/import?format=pdf")
                .body(Body::from("x"))
                .unwrap(),
        )
        .await;
    r.expect_error(StatusCode::BAD_REQUEST);
    t.finish().await;
}

#[tokio::test]
async fn listing_pages_with_a_cursor() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    let t = open(None).await;
    t.import_export().await;

    let all = t.list_all(50).await;
    assert_eq!(all.len(), EXPORT_CONVERSATIONS);
    let ids: HashSet<&str> = all.iter().map(|c| s(&c["id"])).collect();
    assert_eq!(
        ids.len(),
        EXPORT_CONVERSATIONS,
        "duplicate ids across pages"
    );
    let times: Vec<u64> = all
        .iter()
        .map(|c| c["updated_at_ms"].as_u64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "not sorted by updated_at_ms descending: {times:?}"
    );
    for c in &all {
        for field in [
            "id",
            "title",
            "provider",
            "created_at",
            "updated_at",
            "owner",
        ] {
            assert!(c[field].is_string(), "{field} missing in {c}");
        }
        assert_eq!(c["provider"], "chatgpt");
        assert_eq!(s(&c["owner"]), t.node.key.did().to_string());
    }

    // Other page sizes see the same conversations in the same order, including a size that
    // divides the total exactly and pages of one.
    for limit in [1, 7, 64, 191, 192, 500] {
        let other: Vec<String> = t
            .list_all(limit)
            .await
            .iter()
            .map(|c| s(&c["id"]).to_string())
            .collect();
        let want: Vec<String> = all.iter().map(|c| s(&c["id"]).to_string()).collect();
        assert_eq!(other, want, "limit {limit}");
    }
    let first = t.get_ok("/api/v1/conversations").await;
    assert_eq!(
        first["items"].as_array().unwrap().len(),
        50,
        "default limit"
    );

    for bad in ["limit=0", "limit=501", "limit=-1", "limit=abc"] {
        let r = t.get(&format!("/api/v1/conversations?{bad}")).await;
        r.expect_error(StatusCode::BAD_REQUEST);
    }
    for cursor in ["garbage", "zz", &"g".repeat(80), &"0".repeat(81), "%00%01"] {
        let r = t
            .get(&format!("/api/v1/conversations?limit=5&cursor={cursor}"))
            .await;
        assert_eq!(
            r.expect_error(StatusCode::BAD_REQUEST),
            "bad_request",
            "cursor {cursor}"
        );
    }
    t.finish().await;
}

#[tokio::test]
async fn get_conversation_export_and_acus() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    let t = open(None).await;
    t.import_export().await;
    let all = t.list_all(500).await;
    // The conversation with the most ACUs (it has branches or hidden nodes).
    let conv = all
        .iter()
        .max_by_key(|c| c["acu_count"].as_u64().unwrap())
        .unwrap();
    let id = s(&conv["id"]);

    let full = t.get_ok(&format!("/api/v1/conversations/{id}")).await;
    let by_prefix = t
        .get_ok(&format!("/api/v1/conversations/{}", &id[..8]))
        .await;
    let upper = t
        .get_ok(&format!("/api/v1/conversations/{}", id.to_uppercase()))
        .await;
    assert_eq!(full, by_prefix);
    assert_eq!(full, upper);
    assert_eq!(&full["conversation"], conv, "detail and list disagree");
    let msgs = full["messages"].as_array().unwrap();
    assert!(!msgs.is_empty());
    assert_eq!(msgs.len() as u64, conv["acu_count"].as_u64().unwrap());
    assert!(full["conversation"]["message_count"].as_u64().unwrap() <= msgs.len() as u64);
    let mut seen = HashSet::new();
    for m in msgs {
        assert_eq!(s(&m["conversation"]), id, "{m}");
        // Parents before children.
        if let Some(p) = m["parent"].as_str() {
            assert!(seen.contains(p), "parent {p} after its child {}", m["id"]);
        }
        seen.insert(s(&m["id"]));
    }
    let head = s(&full["conversation"]["head"]);
    assert!(
        seen.contains(head),
        "head {head} is not one of the messages"
    );

    // Every conversation of the export reads back, and each message count is plausible.
    for c in &all {
        let d = t
            .get_ok(&format!("/api/v1/conversations/{}", s(&c["id"])))
            .await;
        let n = d["messages"].as_array().unwrap().len() as u64;
        assert!(n >= 1, "{}: no messages", c["id"]);
        assert!(c["message_count"].as_u64().unwrap() <= n, "{c}");
    }

    let unknown = "ab".repeat(32);
    let r = t.get(&format!("/api/v1/conversations/{unknown}")).await;
    assert_eq!(r.expect_error(StatusCode::NOT_FOUND), "not_found");
    // The message says what is missing and that it is missing (the CLI prints it as is).
    assert_eq!(
        r.json()["error"]["message"],
        format!("conversation {unknown} not found")
    );
    let r = t
        .get(&format!("/api/v1/conversations/{}", &unknown[..8]))
        .await;
    assert_eq!(
        r.json()["error"]["message"],
        format!("conversation {} not found", &unknown[..8])
    );
    let r = t.get("/api/v1/conversations/zz").await;
    assert_eq!(r.expect_error(StatusCode::BAD_REQUEST), "bad_request");
    let r = t
        .get(&format!("/api/v1/conversations/{}", "g".repeat(64)))
        .await;
    r.expect_error(StatusCode::BAD_REQUEST);

    // Export.
    let r = t
        .get(&format!(
            "/api/v1/conversations/{}/export?format=md",
            &id[..10]
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        r.header(header::CONTENT_TYPE)
            .is_some_and(|c| c.starts_with("text/markdown")),
        "{:?}",
        r.headers
    );
    let md = r.text();
    let title = s(&conv["title"]);
    assert!(
        md.starts_with(&format!("# {title}\n")),
        "markdown does not start with the title {title:?}: {}",
        &md[..md.len().min(200)]
    );
    assert!(md.contains(id), "markdown lacks the vivim id");
    let r = t.get(&format!("/api/v1/conversations/{id}/export")).await;
    assert_eq!(r.text(), md, "md is the default export format");
    let exported = t
        .get_ok(&format!("/api/v1/conversations/{id}/export?format=json"))
        .await;
    assert_eq!(exported, full);
    let r = t
        .get(&format!("/api/v1/conversations/{id}/export?format=pdf"))
        .await;
    assert_eq!(r.expect_error(StatusCode::BAD_REQUEST), "bad_request");
    let r = t
        .get(&format!("/api/v1/conversations/{unknown}/export?format=md"))
        .await;
    r.expect_error(StatusCode::NOT_FOUND);

    // ACUs: JSON and the signed CBOR bytes.
    for m in msgs.iter().take(5) {
        let acu_id = s(&m["id"]);
        let v = t.get_ok(&format!("/api/v1/acus/{acu_id}")).await;
        assert_eq!(
            &v, m,
            "ACU view differs from the message in the conversation"
        );
        let r = t
            .send(
                t.req(Method::GET, &format!("/api/v1/acus/{acu_id}"))
                    .header(header::ACCEPT, "application/cbor")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.header(header::CONTENT_TYPE), Some("application/cbor"));
        assert_eq!(blake3::hash(&r.body).to_hex().as_str(), acu_id);
        let signed = Signed::<Acu>::decode(&r.body).unwrap();
        assert_eq!(signed.id().to_string(), acu_id);
        assert_eq!(signed.value().conversation.to_string(), id);
        assert_eq!(signed.value().author, t.node.key.public());
    }
    let r = t.get(&format!("/api/v1/acus/{unknown}")).await;
    assert_eq!(r.expect_error(StatusCode::NOT_FOUND), "not_found");
    assert_eq!(
        r.json()["error"]["message"],
        format!("ACU {unknown} not found")
    );
    let r = t.get("/api/v1/acus/xyz").await;
    assert_eq!(r.expect_error(StatusCode::BAD_REQUEST), "bad_request");
    t.finish().await;
}

#[tokio::test]
async fn capture_new_append_branch_and_errors() {
    let t = open(None).await;

    let c1 = t
        .capture(json!({"role": "user", "text": "How do lifetimes work?", "title": "Lifetimes"}))
        .await;
    let conv = s(&c1["conversation"]).to_string();
    let a1 = s(&c1["id"]).to_string();
    let d = t.get_ok(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(d["conversation"]["title"], "Lifetimes");
    assert_eq!(d["conversation"]["provider"], "vivim");
    assert_eq!(d["conversation"]["message_count"], 1);
    assert_eq!(d["conversation"]["acu_count"], 1);
    assert_eq!(s(&d["conversation"]["head"]), a1);
    assert_eq!(d["messages"].as_array().unwrap().len(), 1);
    assert_eq!(d["messages"][0]["text"], "How do lifetimes work?");
    assert_eq!(d["messages"][0]["role"], "user");
    assert!(d["messages"][0]["parent"].is_null());
    let v1 = s(&d["conversation"]["version"]).to_string();

    // Append: parent defaults to the head.
    let c2 = t
        .capture(json!({"conversation": conv, "role": "assistant", "text": "They are scopes.", "kind": "markdown"}))
        .await;
    assert_eq!(s(&c2["conversation"]), conv);
    let a2 = s(&c2["id"]).to_string();
    assert_ne!(a1, a2);
    let d = t.get_ok(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(d["conversation"]["message_count"], 2);
    assert_eq!(s(&d["conversation"]["head"]), a2);
    assert_ne!(s(&d["conversation"]["version"]), v1, "version must change");
    let m2 = t.get_ok(&format!("/api/v1/acus/{a2}")).await;
    assert_eq!(s(&m2["parent"]), a1);
    assert_eq!(m2["kind"], "markdown");
    assert_eq!(m2["role"], "assistant");

    // A branch: another answer to the first message.
    let c3 = t
        .capture(json!({"conversation": conv, "parent": a1, "role": "assistant", "text": "Regions of code."}))
        .await;
    let a3 = s(&c3["id"]).to_string();
    let d = t.get_ok(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(d["conversation"]["acu_count"], 3);
    assert_eq!(
        d["conversation"]["message_count"], 2,
        "head branch is a1 → a3"
    );
    assert_eq!(s(&d["conversation"]["head"]), a3);
    let m3 = t.get_ok(&format!("/api/v1/acus/{a3}")).await;
    assert_eq!(s(&m3["parent"]), a1);
    let md = t
        .get(&format!("/api/v1/conversations/{conv}/export?format=md"))
        .await
        .text();
    assert!(
        md.find("Regions of code.").unwrap() < md.find("They are scopes.").unwrap(),
        "the head branch comes first, the other branch after: {md}"
    );

    // The captured messages are searchable at once.
    let r = t.get_ok("/api/v1/search?q=lifetimes").await;
    assert!(
        r["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["acu"] == a1.as_str()),
        "{r}"
    );

    // The listing puts it first and counts it once.
    let page = t.get_ok("/api/v1/conversations").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    // Errors.
    let r = t
        .post_json("/api/v1/acus", &json!({"role": "wizard", "text": "x"}))
        .await;
    assert_eq!(r.expect_error(StatusCode::BAD_REQUEST), "bad_request");
    let r = t
        .post_json(
            "/api/v1/acus",
            &json!({"role": "user", "text": "x", "kind": "hologram"}),
        )
        .await;
    r.expect_error(StatusCode::BAD_REQUEST);
    let r = t
        .post_json(
            "/api/v1/acus",
            &json!({"conversation": "cd".repeat(32), "role": "user", "text": "x"}),
        )
        .await;
    assert_eq!(r.expect_error(StatusCode::NOT_FOUND), "not_found");
    let r = t
        .post_json(
            "/api/v1/acus",
            &json!({"conversation": "not-hex", "role": "user", "text": "x"}),
        )
        .await;
    r.expect_error(StatusCode::BAD_REQUEST);
    let r = t
        .post_json(
            "/api/v1/acus",
            &json!({"conversation": conv, "parent": "ef".repeat(32), "role": "user", "text": "x"}),
        )
        .await;
    assert_eq!(r.expect_error(StatusCode::BAD_REQUEST), "bad_request");
    // A parent from another conversation is not a parent here either.
    let other = t
        .capture(json!({"role": "user", "text": "elsewhere"}))
        .await;
    assert_ne!(other["conversation"], conv.as_str());
    let r = t
        .post_json(
            "/api/v1/acus",
            &json!({"conversation": conv, "parent": other["id"], "role": "user", "text": "x"}),
        )
        .await;
    r.expect_error(StatusCode::BAD_REQUEST);
    // Malformed JSON, a missing field.
    let r = t
        .send(
            t.req(Method::POST, "/api/v1/acus")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{\"role\": "))
                .unwrap(),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    r.expect_error(r.status);
    let r = t.post_json("/api/v1/acus", &json!({"role": "user"})).await;
    assert!(r.status.is_client_error(), "{}", r.status);
    r.expect_error(r.status);
    // No Content-Type.
    let r = t
        .send(
            t.req(Method::POST, "/api/v1/acus")
                .body(Body::from(json!({"role": "user", "text": "x"}).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(
        r.expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        "unsupported_media_type"
    );
    // None of the refused captures changed the conversation.
    let d = t.get_ok(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(d["conversation"]["acu_count"], 3);
    assert_eq!(t.node.store.conversation_count(), 2);

    // provider + source_id: the id an import of the same conversation gets.
    let c = t
        .capture(
            json!({"provider": "claude", "source_id": "abc-123", "role": "user", "text": "hi"}),
        )
        .await;
    let want = ConvId::for_import(&t.node.key.public(), "claude", "abc-123");
    assert_eq!(s(&c["conversation"]), want.to_string());
    let c_again = t
        .capture(json!({"provider": "claude", "source_id": "abc-123", "role": "assistant", "text": "hello"}))
        .await;
    assert_eq!(c_again["conversation"], c["conversation"]);
    let d = t.get_ok(&format!("/api/v1/conversations/{want}")).await;
    assert_eq!(d["conversation"]["provider"], "claude");
    assert_eq!(d["conversation"]["source_id"], "abc-123");
    assert_eq!(d["conversation"]["message_count"], 2);
    let m = t
        .get_ok(&format!("/api/v1/acus/{}", s(&c_again["id"])))
        .await;
    assert_eq!(m["parent"], c["id"]);
    t.finish().await;
}

#[tokio::test]
async fn capture_into_an_imported_conversation() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    let t = open(None).await;
    t.import_export().await;
    let oldest = t.list_all(500).await.pop().unwrap();
    let id = s(&oldest["id"]).to_string();
    let before = oldest["message_count"].as_u64().unwrap();
    let c = t
        .capture(json!({"conversation": id, "role": "user", "text": "a follow-up captured later"}))
        .await;
    let d = t.get_ok(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(
        d["conversation"]["message_count"].as_u64().unwrap(),
        before + 1
    );
    assert_eq!(d["conversation"]["head"], c["id"]);
    assert_eq!(
        s(&t.get_ok(&format!("/api/v1/acus/{}", s(&c["id"]))).await["parent"]),
        s(&oldest["head"])
    );
    // It is now the most recently updated, and still listed exactly once.
    let all = t.list_all(50).await;
    assert_eq!(all.len(), EXPORT_CONVERSATIONS);
    assert_eq!(s(&all[0]["id"]), id);
    t.finish().await;
}

#[tokio::test]
async fn body_limits_from_the_config() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    let t = open(Some("[gateway]\nmax_body_bytes = 1024\n")).await;
    let small = t.capture(json!({"role": "user", "text": "small"})).await;
    assert!(small["id"].is_string());
    let r = t
        .post_json(
            "/api/v1/acus",
            &json!({"role": "user", "text": "x".repeat(4096)}),
        )
        .await;
    assert_eq!(r.expect_error(StatusCode::PAYLOAD_TOO_LARGE), "too_large");
    assert_eq!(t.node.store.conversation_count(), 1);
    // Uploads have their own, larger limit.
    let summary = t.import_export().await;
    assert_eq!(summary["conversations"], EXPORT_CONVERSATIONS);
    t.finish().await;

    let t = open(Some("[gateway]\nmax_upload_bytes = 1000\n")).await;
    let r = t.upload(std::fs::read(chatgpt_export()).unwrap()).await;
    assert_eq!(r.expect_error(StatusCode::PAYLOAD_TOO_LARGE), "too_large");
    assert_eq!(t.node.store.conversation_count(), 0);
    t.finish().await;
}

#[tokio::test]
async fn search_highlights_and_filters() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    let t = open(None).await;
    t.import_export().await;

    let r = t.get_ok("/api/v1/search?q=python&limit=100").await;
    let hits = r["hits"].as_array().unwrap();
    assert!(!hits.is_empty(), "{r}");
    assert!(r["total"].as_u64().unwrap() >= hits.len() as u64);
    let mut highlighted = 0;
    let mut roles = HashSet::new();
    for h in hits {
        let snippet = s(&h["snippet"]);
        roles.insert(s(&h["role"]).to_string());
        assert_eq!(h["provider"], "chatgpt");
        for r in h["highlights"].as_array().unwrap() {
            let (a, b) = (
                r[0].as_u64().unwrap() as usize,
                r[1].as_u64().unwrap() as usize,
            );
            assert!(a < b && b <= snippet.len(), "range {a}..{b} in {snippet:?}");
            assert_eq!(
                snippet[a..b].to_lowercase(),
                "python",
                "highlight {a}..{b} of {snippet:?}"
            );
            highlighted += 1;
        }
        assert!(s(&h["snippet_html"]).contains("<b>") || h["highlights"] == json!([]));
    }
    assert!(highlighted > 0, "no highlighted term in any hit");
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "not best first: {scores:?}"
    );
    assert!(roles.contains("user"), "{roles:?}");

    let upper = t.get_ok("/api/v1/search?q=PYTHON&limit=100").await;
    assert_eq!(upper["total"], r["total"], "search is case-insensitive");

    let r2 = t.get_ok("/api/v1/search?q=python&limit=5&offset=5").await;
    let paged: Vec<&Value> = r2["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| &h["acu"])
        .collect();
    let want: Vec<&Value> = hits.iter().skip(5).take(5).map(|h| &h["acu"]).collect();
    assert_eq!(paged, want, "offset paging");

    let claude = t.get_ok("/api/v1/search?q=python&provider=claude").await;
    assert_eq!(claude["hits"], json!([]));
    assert_eq!(claude["total"], 0);

    let users = t
        .get_ok("/api/v1/search?q=python&role=user&limit=100")
        .await;
    let uh = users["hits"].as_array().unwrap();
    assert!(!uh.is_empty());
    assert!(uh.iter().all(|h| h["role"] == "user"), "{users}");
    assert!(users["total"].as_u64().unwrap() < r["total"].as_u64().unwrap());

    let one = s(&hits[0]["conversation"]);
    let within = t
        .get_ok(&format!(
            "/api/v1/search?q=python&limit=100&conversation={one}"
        ))
        .await;
    assert!(
        within["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["conversation"] == one),
        "{within}"
    );

    for bad in [
        "q=python&limit=0",
        "q=python&limit=101",
        "q=python&role=wizard",
        "q=python&conversation=zz",
        "limit=5",
    ] {
        let r = t.get(&format!("/api/v1/search?{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text());
        r.expect_error(StatusCode::BAD_REQUEST);
    }
    for weird in [
        "%22unbalanced%20AND%20OR%20(",
        "title%3A",
        "*",
        "%2B%2B%2B",
        "python%20-python",
    ] {
        let r = t.get(&format!("/api/v1/search?q={weird}")).await;
        assert_eq!(r.status, StatusCode::OK, "q={weird}: {}", r.text());
        assert!(r.json()["hits"].is_array());
    }
    t.finish().await;
}

#[tokio::test]
async fn delete_removes_everywhere() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    let t = open(None).await;
    t.import_export().await;
    let r = t.get_ok("/api/v1/search?q=python&limit=100").await;
    let victim = s(&r["hits"][0]["conversation"]).to_string();
    let victim_acus: HashSet<String> =
        t.get_ok(&format!("/api/v1/conversations/{victim}")).await["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| s(&m["id"]).to_string())
            .collect();
    let status = t.get_ok("/api/admin/status").await;

    let r = t
        .delete(&format!("/api/v1/conversations/{}", &victim[..12]))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert!(r.body.is_empty());

    let r = t.get(&format!("/api/v1/conversations/{victim}")).await;
    assert_eq!(r.expect_error(StatusCode::NOT_FOUND), "not_found");
    let r = t
        .get(&format!("/api/v1/conversations/{victim}/export?format=md"))
        .await;
    r.expect_error(StatusCode::NOT_FOUND);
    let r = t.delete(&format!("/api/v1/conversations/{victim}")).await;
    r.expect_error(StatusCode::NOT_FOUND);
    assert!(
        s(&r.json()["error"]["message"]).ends_with(" not found"),
        "{}",
        r.text()
    );

    for q in ["python", "the", "a"] {
        let r = t.get_ok(&format!("/api/v1/search?q={q}&limit=100")).await;
        for h in r["hits"].as_array().unwrap() {
            assert_ne!(
                s(&h["conversation"]),
                victim,
                "deleted conversation still found"
            );
            assert!(!victim_acus.contains(s(&h["acu"])));
        }
    }
    let filtered = t
        .get_ok(&format!("/api/v1/search?q=python&conversation={victim}"))
        .await;
    assert_eq!(filtered["total"], 0, "{filtered}");

    let all = t.list_all(50).await;
    assert_eq!(all.len(), EXPORT_CONVERSATIONS - 1);
    assert!(all.iter().all(|c| c["id"] != victim.as_str()));
    let after = t.get_ok("/api/admin/status").await;
    assert_eq!(after["conversations"], EXPORT_CONVERSATIONS - 1);
    assert_eq!(
        after["acus"].as_u64().unwrap(),
        status["acus"].as_u64().unwrap() - victim_acus.len() as u64
    );

    // Re-importing brings it back (same id), and only it.
    let again = t.import_export().await;
    assert_eq!(again["conversations"], 1, "{again}");
    assert_eq!(again["duplicates"], EXPORT_CONVERSATIONS - 1, "{again}");
    t.get_ok(&format!("/api/v1/conversations/{victim}")).await;
    t.finish().await;
}

#[tokio::test]
async fn admin_status_and_metrics() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    let t = open(None).await;
    let before = t.get_ok("/api/admin/status").await;
    assert_eq!(before["conversations"], 0);
    let summary = t.import_export().await;
    let status = t.get_ok("/api/admin/status").await;
    assert_eq!(status["conversations"], EXPORT_CONVERSATIONS);
    assert_eq!(s(&status["did"]), t.node.key.did().to_string());
    let all = t.list_all(500).await;
    let acus: u64 = all.iter().map(|c| c["acu_count"].as_u64().unwrap()).sum();
    assert_eq!(status["acus"].as_u64().unwrap(), acus);
    assert_eq!(summary["messages"].as_u64().unwrap(), acus);
    assert!(status["index_docs"].as_u64().unwrap() > 0);
    assert!(status["index_docs"].as_u64().unwrap() <= acus);

    t.get_ok("/api/v1/search?q=python").await;
    t.get("/api/v1/nope").await;
    let r = t.get("/api/admin/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header(header::CONTENT_TYPE)
            .is_some_and(|c| c.starts_with("text/plain")),
        "{:?}",
        r.headers
    );
    let text = r.text();
    let line = |name: &str| -> String {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
            .to_string()
    };
    assert_eq!(line("vivim_conversations"), "vivim_conversations 192");
    assert_eq!(line("vivim_acus"), format!("vivim_acus {acus}"));
    assert_eq!(line("vivim_imports_total"), "vivim_imports_total 1");
    assert_eq!(line("vivim_searches_total"), "vivim_searches_total 1");
    assert!(text.contains("# TYPE vivim_conversations gauge"));
    assert!(
        text.contains("vivim_http_responses_total{class=\"4xx\"} 1"),
        "{text}"
    );
    // Every metric line is `name value` or `name{labels} value` with a numeric value.
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let v = l.rsplit(' ').next().unwrap();
        assert!(v.parse::<f64>().is_ok(), "bad sample line {l:?}");
    }
    t.finish().await;
}

#[tokio::test]
async fn cors_only_for_configured_origins() {
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1/conversations")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .body(Body::empty())
            .unwrap()
    };
    let with_origin = |t: &TestNode, origin: &str| {
        t.req(Method::GET, "/api/v1/conversations")
            .header(header::ORIGIN, origin)
            .body(Body::empty())
            .unwrap()
    };

    let t = open(None).await;
    let r = t.send(with_origin(&t, "http://evil.example")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
        "{:?}",
        r.headers
    );
    let r = t.send(preflight("http://localhost:5173")).await;
    assert!(
        r.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
        "{:?}",
        r.headers
    );
    t.finish().await;

    let t = open(Some(
        "[gateway]\ncors_origins = [\"http://localhost:5173\"]\n",
    ))
    .await;
    let r = t.send(with_origin(&t, "http://localhost:5173")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some("http://localhost:5173")
    );
    let r = t.send(with_origin(&t, "http://evil.example")).await;
    assert!(
        r.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
        "{:?}",
        r.headers
    );
    // A preflight carries no token: it is answered before auth, for allowed origins only.
    let r = t.send(preflight("http://localhost:5173")).await;
    assert!(
        r.status.is_success(),
        "preflight: HTTP {} {}",
        r.status,
        r.text()
    );
    assert_eq!(
        r.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some("http://localhost:5173")
    );
    let methods = r
        .header(header::ACCESS_CONTROL_ALLOW_METHODS)
        .unwrap_or_default()
        .to_ascii_uppercase();
    assert!(
        methods.contains("GET") && methods.contains("DELETE"),
        "{methods}"
    );
    let r = t.send(preflight("http://evil.example")).await;
    assert!(
        r.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
        "{:?}",
        r.headers
    );
    t.finish().await;
}

#[tokio::test]
async fn unknown_routes_are_json_404() {
    let t = open(None).await;
    for uri in ["/api/v1/nope", "/api", "/api/", "/api/v9/conversations"] {
        let r = t.get(uri).await;
        assert_eq!(r.expect_error(StatusCode::NOT_FOUND), "not_found", "{uri}");
        assert!(
            r.header(header::CONTENT_TYPE)
                .is_some_and(|c| c.starts_with("application/json")),
            "{uri}: {:?}",
            r.headers
        );
    }
    // Without a token as well: an unknown route reveals nothing but 404.
    let r = t
        .send(Request::get("/api/v1/nope").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    t.finish().await;
}

/// The web app: every path outside `/api` is the app (SPA fallback), files by type, hashed
/// assets immutable, the rest revalidated; `/api/…` never answers HTML.
#[tokio::test]
async fn web_app_files_fallback_and_caching() {
    let t = open(None).await;
    let web = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(web.path().join("assets")).unwrap();
    std::fs::write(web.path().join("index.html"), "<!doctype html><h1>app</h1>").unwrap();
    std::fs::write(web.path().join("sw.js"), "self.x=1").unwrap();
    std::fs::write(web.path().join("assets/index-abc123.js"), "console.log(1)").unwrap();
    std::fs::write(web.path().join("manifest.webmanifest"), "{}").unwrap();
    std::fs::write(web.path().parent().unwrap().join("secret.txt"), "no").ok();
    let app = vivim_node::gateway::app(
        t.node.clone(),
        None,
        t.token.clone(),
        vivim_node::gateway::WebSource::Dir(web.path().to_path_buf()),
    );
    let get = |uri: &str, etag: Option<&str>| {
        let mut b = Request::get(uri);
        if let Some(e) = etag {
            b = b.header(header::IF_NONE_MATCH, e);
        }
        app.clone().oneshot(b.body(Body::empty()).unwrap())
    };
    // Deep links, with or without a token, answer index.html, revalidated.
    for uri in [
        "/",
        "/c/0123abcd",
        "/search?q=x&mode=text",
        "/settings",
        "/x/y/z",
    ] {
        let r = get(uri, None).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{uri}");
        let h = r.headers().clone();
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8", "{uri}");
        assert_eq!(h[header::CACHE_CONTROL], "no-cache", "{uri}");
        assert!(h.contains_key(header::CONTENT_SECURITY_POLICY), "{uri}");
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        assert_eq!(&body[..], b"<!doctype html><h1>app</h1>", "{uri}");
    }
    let r = get("/assets/index-abc123.js", None).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert!(
        r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let r = get("/sw.js", None).await.unwrap();
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
    let r = get("/manifest.webmanifest", None).await.unwrap();
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        "application/manifest+json"
    );
    // A stale hashed asset is a 404, not the page.
    let r = get("/assets/index-gone.js", None).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // ETags: a second load of the page is a 304.
    let r = get("/", None).await.unwrap();
    let etag = r.headers()[header::ETAG].to_str().unwrap().to_string();
    let r = get("/", Some(&etag)).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    // Nothing outside the folder, and the API never answers HTML.
    for uri in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
    ] {
        let r = get(uri, None).await.unwrap();
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        assert_ne!(&body[..], b"no", "{uri}");
    }
    for uri in ["/api/v1/nope", "/api/v1/conversations", "/api/"] {
        let r = get(uri, None).await.unwrap();
        assert!(
            r.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{uri}"
        );
    }
    // Only GET and HEAD.
    let r = app
        .clone()
        .oneshot(Request::post("/settings").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    // The health check needs no token and tells nothing about the user.
    let r = get("/api/health", None).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["ok"], true);
    assert!(v.get("did").is_none(), "{v}");

    // The app built into the binary (or the page saying it was not built) is there too.
    let r = t.get("/conversations/deep/link").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text().to_lowercase().contains("<!doctype html"),
        "{}",
        r.text()
    );
    t.finish().await;
}

/// `node/web/openapi.json` (what the web app's TypeScript types are generated from) is the
/// gateway's document; `VIVIM_BLESS=1 cargo test` rewrites it.
#[test]
fn the_web_apps_openapi_copy_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web/openapi.json");
    let doc = vivim_node::gateway::openapi_json();
    if std::env::var_os("VIVIM_BLESS").is_some() {
        std::fs::write(&path, format!("{doc}\n")).unwrap();
    }
    let copy = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        copy.trim_end() == doc.trim_end(),
        "{} is not the gateway's OpenAPI document: run `VIVIM_BLESS=1 cargo test -p vivim-node --test gateway_oneshot the_web_apps_openapi`",
        path.display()
    );
}

/// Every protected operation lists 401 and 429; every one with parameters or a body lists 400.
#[test]
fn the_openapi_document_lists_the_common_errors() {
    let doc: Value = serde_json::from_str(&vivim_node::gateway::openapi_json()).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let protected = op.get("security").is_some();
            if protected {
                assert!(responses.contains_key("401"), "{method} {path}");
            }
            assert!(responses.contains_key("429"), "{method} {path}");
            assert!(responses.contains_key("421"), "{method} {path}");
            if op.get("requestBody").is_some() || op.get("parameters").is_some() {
                assert!(responses.contains_key("400"), "{method} {path}");
            }
            if op.get("requestBody").is_some() || path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {path}");
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked} operations");
    assert!(doc["paths"]["/api/health"]["get"].get("security").is_none());
}
