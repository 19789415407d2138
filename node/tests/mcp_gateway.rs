//! `/api/mcp` on the gateway, spoken as raw JSON-RPC (streamable HTTP, stateless, JSON answers):
//! the token, the `Host` check, the handshake, tools and their errors, paging under a small
//! answer limit. The official Python client drives the same server in tests/mcp (.ci/mcp).
#![allow(clippy::unwrap_used)]

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};
use tower::ServiceExt;

mod api;

const VERSION: &str = "2025-06-18";

struct Mcp {
    t: api::T,
}

impl Mcp {
    async fn post(&self, body: &Value, token: Option<&str>, host: &str) -> (StatusCode, String) {
        let mut b = Request::builder()
            .method("POST")
            .uri("/api/mcp")
            .header(header::HOST, host)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header("mcp-protocol-version", VERSION);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let res = self
            .t
            .app
            .clone()
            .oneshot(b.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A request with the token; its JSON-RPC answer.
    async fn rpc(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        let (status, text) = self
            .post(&body, Some(&self.t.token.clone()), "127.0.0.1:7777")
            .await;
        assert_eq!(status, StatusCode::OK, "{method}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["id"], 7, "{v}");
        v
    }

    /// A tool call's result (`isError` and its structured content or error text).
    async fn tool(&self, name: &str, args: Value) -> (bool, Value) {
        let v = self
            .rpc("tools/call", json!({"name": name, "arguments": args}))
            .await;
        let r = &v["result"];
        assert!(r.is_object(), "tools/call {name}: {v}");
        let is_error = r["isError"].as_bool().unwrap_or(false);
        if is_error {
            (true, r["content"][0]["text"].clone())
        } else {
            let text: Value =
                serde_json::from_str(r["content"][0]["text"].as_str().unwrap()).unwrap();
            assert_eq!(text, r["structuredContent"]);
            (false, r["structuredContent"].clone())
        }
    }
}

async fn open(config: &str) -> Mcp {
    Mcp {
        t: api::open_with(Some(config)).await,
    }
}

fn init() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": VERSION, "capabilities": {},
                   "clientInfo": {"name": "raw-test", "version": "1"}}
    })
}

#[tokio::test]
async fn the_token_and_the_host_are_checked() {
    let m = open("").await;
    let (s, body) = m.post(&init(), None, "127.0.0.1:7777").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    let (s, _) = m.post(&init(), Some("wrong"), "127.0.0.1:7777").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // DNS rebinding: a page on another name that resolves to 127.0.0.1 is refused even with
    // the token (a browser would not have it, but the check does not depend on that).
    let token = m.t.token.clone();
    let (s, _) = m.post(&init(), Some(&token), "evil.example:7777").await;
    assert!(s.is_client_error(), "{s}");
    let (s, body) = m.post(&init(), Some(&token), "localhost:7777").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["result"]["serverInfo"]["name"], "vivim");
    assert!(v["result"]["capabilities"]["tools"].is_object());
    assert!(v["result"]["capabilities"]["resources"].is_object());
    assert!(v["result"]["capabilities"]["prompts"].is_object());
    assert!(
        v["result"]["instructions"]
            .as_str()
            .unwrap()
            .contains("search")
    );
    m.t.node.shutdown().await.unwrap();
}

#[tokio::test]
async fn tools_answer_in_pages_and_errors_are_tool_errors() {
    let m = open("[mcp]\nmax_answer_chars = 3000\n").await;
    let names: Vec<String> = m.rpc("tools/list", json!({})).await["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "search",
            "get_conversation",
            "list_conversations",
            "related",
            "memories",
            "context",
            "feed"
        ]
    );
    // A conversation of 30 turns of ~300 characters: ~9,000 characters, three times the limit.
    let mut conv: Option<String> = None;
    for i in 0..30 {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        let text = format!("turn {i:02} about the zebra migration: {}", "x".repeat(260));
        let mut body = json!({"role": role, "text": text, "title": "Zebra migration"});
        if let Some(c) = &conv {
            body["conversation"] = json!(c);
        }
        let (s, out) =
            m.t.raw(
                axum::http::Method::POST,
                "/api/v1/acus",
                Some(body.to_string()),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&out));
        let v: Value = serde_json::from_slice(&out).unwrap();
        conv = Some(v["conversation"].as_str().unwrap().to_string());
    }
    let conv = conv.unwrap();
    let (err, found) = m.tool("search", json!({"query": "zebra migration"})).await;
    assert!(!err, "{found}");
    assert_eq!(found["hits"][0]["conversation"], conv.as_str());
    assert!(
        found["hits"].as_array().unwrap().len() < 30,
        "hits are bounded by the limit"
    );
    assert!(found["next_offset"].as_u64().is_some(), "{found}");

    let mut offset = 0;
    let mut texts = Vec::new();
    let mut pages = 0;
    loop {
        let (err, page) = m
            .tool(
                "get_conversation",
                json!({"id": &conv[..8], "offset": offset}),
            )
            .await;
        assert!(!err, "{page}");
        assert!(page.to_string().len() <= 3000 + 300, "page over the limit");
        pages += 1;
        for msg in page["messages"].as_array().unwrap() {
            assert_eq!(msg["index"].as_u64().unwrap() as usize, texts.len());
            texts.push(msg["text"].as_str().unwrap().to_string());
        }
        match page["next_offset"].as_u64() {
            Some(n) => offset = n,
            None => break,
        }
    }
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(texts.len(), 30);
    for (i, t) in texts.iter().enumerate() {
        assert!(t.starts_with(&format!("turn {i:02} ")), "{i}: {t}");
    }

    for (name, args, want) in [
        ("search", json!({"query": 3}), "invalid arguments"),
        ("search", json!({"q": "x"}), "invalid arguments"),
        ("get_conversation", json!({"id": "0123456789"}), "not found"),
        ("list_conversations", json!({"limit": 1000}), "limit"),
        (
            "context",
            json!({"query": "zebra", "budget_tokens": 5000}),
            "budget_tokens",
        ),
        ("remember", json!({"content": "x"}), "disabled"),
        ("capture", json!({"messages": []}), "disabled"),
        ("nope", json!({}), "no tool"),
    ] {
        let (err, msg) = m.tool(name, args.clone()).await;
        assert!(err, "{name} {args}: expected an error, got {msg}");
        assert!(msg.as_str().unwrap().contains(want), "{name}: {msg}");
    }
    let (err, ctx) = m
        .tool(
            "context",
            json!({"query": "zebra migration", "budget_tokens": 400}),
        )
        .await;
    assert!(!err, "{ctx}");
    assert!(ctx["total_tokens"].as_u64().unwrap() <= 400);
    m.t.node.shutdown().await.unwrap();
}

#[tokio::test]
async fn resources_read_conversations_as_markdown() {
    let m = open("").await;
    let (s, out) =
        m.t.raw(
            axum::http::Method::POST,
            "/api/v1/acus",
            Some(json!({"role": "user", "text": "What is a CRDT?", "title": "CRDTs"}).to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let conv = serde_json::from_slice::<Value>(&out).unwrap()["conversation"]
        .as_str()
        .unwrap()
        .to_string();
    let list = m.rpc("resources/list", json!({})).await;
    let uris: Vec<&str> = list["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    let convs: Vec<&str> = uris
        .iter()
        .copied()
        .filter(|u| u.starts_with("vivim://conversation/"))
        .collect();
    assert_eq!(convs, [format!("vivim://conversation/{conv}").as_str()]);
    // The node drew a memory from it (the episodic note of a new conversation): readable too.
    for u in uris.iter().filter(|u| u.starts_with("vivim://memory/")) {
        let r = m.rpc("resources/read", json!({"uri": u})).await;
        let text = r["result"]["contents"][0]["text"].as_str().unwrap();
        assert!(
            text.contains(&format!("vivim://conversation/{conv}")),
            "{text}"
        );
    }
    let read = m
        .rpc(
            "resources/read",
            json!({"uri": format!("vivim://conversation/{}", &conv[..8])}),
        )
        .await;
    let c = &read["result"]["contents"][0];
    assert_eq!(c["mimeType"], "text/markdown");
    assert!(c["text"].as_str().unwrap().starts_with("# CRDTs"));
    assert!(c["text"].as_str().unwrap().contains("What is a CRDT?"));
    let missing = m
        .rpc("resources/read", json!({"uri": "vivim://nothing/1"}))
        .await;
    assert!(missing["error"]["message"].as_str().is_some(), "{missing}");
    m.t.node.shutdown().await.unwrap();
}
