//! Provider calls against a stand-in server on 127.0.0.1 speaking the providers' wire formats:
//! OpenAI `/v1/chat/completions` (SSE `choices[0].delta.content`, `[DONE]`), `/v1/embeddings`,
//! and Anthropic `/v1/messages` (SSE `content_block_delta` / `message_stop`). Checks request
//! shapes and auth headers, the streamed answer relayed by `/api/v2/context`, that the exchange
//! is stored as a conversation, memory extraction by the provider, and that keys stay out of
//! `Debug` output.
#![allow(clippy::unwrap_used)]

mod api;

use std::sync::{Arc, Mutex};

use api::T;
use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, HeaderMap, Value)>>>);

impl Seen {
    fn take(&self, path: &str) -> Vec<(HeaderMap, Value)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.0 == path)
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect()
    }
}

const KEY: &str = "sk-test-secret-123";
const MEMORY_JSON: &str = r#"[{"content": "The user is learning Rust lifetimes", "type": "semantic", "importance": 0.7, "slot": "learning", "message": 0}]"#;

fn sse(events: Vec<String>) -> Response {
    let body: String = events.into_iter().map(|e| format!("{e}\n\n")).collect();
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}

async fn chat(State(seen): State<Seen>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    seen.0
        .lock()
        .unwrap()
        .push(("chat".into(), headers.clone(), body.clone()));
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {KEY}"))
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"message": "bad key"}})),
        )
            .into_response();
    }
    let system = body["messages"][0]["content"].as_str().unwrap_or("");
    let pieces: Vec<String> = if system.contains("extract long-term memories") {
        MEMORY_JSON
            .chars()
            .collect::<Vec<_>>()
            .chunks(7)
            .map(|c| c.iter().collect())
            .collect()
    } else {
        vec!["Hello".into(), " from".into(), " the stand-in".into()]
    };
    let mut events: Vec<String> = pieces
        .iter()
        .map(|p| {
            format!(
                "data: {}",
                json!({"choices": [{"index": 0, "delta": {"content": p}}]})
            )
        })
        .collect();
    events.insert(
        0,
        format!(
            "data: {}",
            json!({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
        ),
    );
    events.push("data: [DONE]".into());
    sse(events)
}

async fn messages(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    seen.0
        .lock()
        .unwrap()
        .push(("messages".into(), headers.clone(), body.clone()));
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(KEY)
        || headers.get("anthropic-version").is_none()
    {
        return (StatusCode::UNAUTHORIZED, Json(json!({"type": "error"}))).into_response();
    }
    let mut events = vec![
        format!(
            "event: message_start\ndata: {}",
            json!({"type": "message_start", "message": {"id": "m1"}})
        ),
        format!(
            "event: content_block_start\ndata: {}",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        ),
        "event: ping\ndata: {\"type\": \"ping\"}".to_string(),
    ];
    for p in ["Bonjour", " depuis", " Claude"] {
        events.push(format!(
            "event: content_block_delta\ndata: {}",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}})
        ));
    }
    events.push(format!(
        "event: content_block_stop\ndata: {}",
        json!({"type": "content_block_stop", "index": 0})
    ));
    events.push(format!(
        "event: message_delta\ndata: {}",
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}})
    ));
    events.push(format!(
        "event: message_stop\ndata: {}",
        json!({"type": "message_stop"})
    ));
    sse(events)
}

async fn embeddings(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    seen.0
        .lock()
        .unwrap()
        .push(("embeddings".into(), headers.clone(), body.clone()));
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {KEY}"))
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    // 4-d vectors: counts of a few letters, so texts with the same words are close.
    let data: Vec<Value> = body["input"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let t = t.as_str().unwrap().to_lowercase();
            let v: Vec<f32> = ['a', 'e', 'o', 'z']
                .iter()
                .map(|c| t.matches(*c).count() as f32 + 0.1)
                .collect();
            json!({"object": "embedding", "index": i, "embedding": v})
        })
        .collect();
    Json(json!({"object": "list", "data": data, "model": body["model"]})).into_response()
}

async fn standin() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/messages", post(messages))
        .route("/v1/embeddings", post(embeddings))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), seen)
}

async fn open(config: &str) -> T {
    api::open_with(Some(config)).await
}

impl T {
    async fn json(&self, method: Method, uri: &str, body: Option<Value>) -> Value {
        let (s, b) = self.send_text(method, uri, body).await;
        assert!(s.is_success(), "{uri}: {s} {b}");
        serde_json::from_str(&b).unwrap()
    }
}

/// (event, data) pairs of an SSE body.
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut ev = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    ev = e.trim().into();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim());
                }
            }
            (ev, serde_json::from_str(&data).unwrap_or(Value::Null))
        })
        .collect()
}

async fn send_context_and_check(t: &T, expected: &str) -> Value {
    t.json(
        Method::POST,
        "/api/v1/acus",
        Some(json!({"role": "user", "text": "I decided to use Postgres for the analytics service.", "title": "db"})),
    )
    .await;
    let (status, body) = t
        .send_text(
            Method::POST,
            "/api/v2/context",
            Some(
                json!({"query": "Which database did I pick?", "budget_tokens": 800, "send": true}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let evs = events(&body);
    assert_eq!(evs[0].0, "context", "{body}");
    assert!(evs[0].1["total_tokens"].as_u64().unwrap() <= 800);
    let answer: String = evs
        .iter()
        .filter(|e| e.0 == "delta")
        .map(|e| e.1["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(answer, expected);
    let done = evs
        .iter()
        .find(|e| e.0 == "done")
        .unwrap_or_else(|| panic!("no done event: {body}"));
    assert_eq!(done.1["answer"], json!(expected));
    // The exchange is a new conversation: the question, then the answer.
    let conv = done.1["conversation"].as_str().unwrap();
    let c = t
        .json(Method::GET, &format!("/api/v1/conversations/{conv}"), None)
        .await;
    let msgs = c["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "{c}");
    assert_eq!(msgs[0]["role"], json!("user"));
    assert_eq!(msgs[0]["text"], json!("Which database did I pick?"));
    assert_eq!(msgs[1]["role"], json!("assistant"));
    assert_eq!(msgs[1]["text"], json!(expected));
    evs[0].1.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_chat_streams_through_context_and_is_stored() {
    let (url, seen) = standin().await;
    let t = open(&format!(
        // No `extract_memories`: off by default, so the only request the provider sees is the
        // chat below (never a conversation sent for extraction).
        "[provider]\nkind = \"openai\"\nurl = \"{url}\"\nmodel = \"gpt-4o-mini\"\napi_key = \"{KEY}\"\n"
    ))
    .await;
    assert!(!t.node.config.provider.extract_memories);
    assert!(
        !format!("{:?}", t.node.config).contains(KEY),
        "the key leaks into Debug"
    );
    let ctx = send_context_and_check(&t, "Hello from the stand-in").await;
    assert_eq!(
        ctx["tokenizer"],
        json!("o200k_base"),
        "gpt-4o-mini counts with o200k"
    );
    let reqs = seen.take("chat");
    assert_eq!(
        reqs.len(),
        1,
        "the provider read more than the chat: {reqs:?}"
    );
    let (h, body) = &reqs[0];
    assert_eq!(
        h.get(header::AUTHORIZATION).unwrap(),
        &format!("Bearer {KEY}")
    );
    assert_eq!(body["model"], json!("gpt-4o-mini"));
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["messages"][0]["role"], json!("system"));
    // The latest conversation's turns come as messages (the hashing embedder cannot tie
    // "database" to "Postgres", so no memory matches this question).
    assert!(body["messages"].to_string().contains("Postgres"), "{body}");
    let last = body["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last,
        json!({"role": "user", "content": "Which database did I pick?"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_messages_stream_through_context_and_is_stored() {
    let (url, seen) = standin().await;
    let t = open(&format!(
        "[provider]\nkind = \"anthropic\"\nurl = \"{url}\"\nmodel = \"claude-3-5-haiku\"\napi_key = \"{KEY}\"\nmax_tokens = 300\nextract_memories = false\n"
    ))
    .await;
    let ctx = send_context_and_check(&t, "Bonjour depuis Claude").await;
    assert!(ctx["tokenizer"].as_str().unwrap().starts_with("estimate"));
    let reqs = seen.take("messages");
    assert_eq!(reqs.len(), 1);
    let (h, body) = &reqs[0];
    assert_eq!(h.get("x-api-key").unwrap(), KEY);
    assert_eq!(h.get("anthropic-version").unwrap(), "2023-06-01");
    assert!(h.get(header::AUTHORIZATION).is_none());
    assert_eq!(body["model"], json!("claude-3-5-haiku"));
    assert_eq!(body["max_tokens"], json!(300));
    assert_eq!(body["stream"], json!(true));
    assert!(
        body["system"]
            .as_str()
            .unwrap()
            .contains("helpful assistant")
    );
    // One user turn: the recent user message and the question, merged (Anthropic wants turns
    // to alternate).
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "{body}");
    assert_eq!(msgs[0]["role"], json!("user"));
    assert!(msgs[0]["content"].as_str().unwrap().contains("Postgres"));
    assert!(
        msgs[0]["content"]
            .as_str()
            .unwrap()
            .ends_with("Which database did I pick?")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_errors_arrive_as_an_error_event_and_store_nothing() {
    let (url, _seen) = standin().await;
    let t = open(&format!(
        "[provider]\nkind = \"openai\"\nurl = \"{url}\"\nmodel = \"m\"\napi_key = \"wrong\"\nextract_memories = false\n"
    ))
    .await;
    let (status, body) = t
        .send_text(
            Method::POST,
            "/api/v2/context",
            Some(json!({"query": "hi", "budget_tokens": 100, "send": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let evs = events(&body);
    let err = evs
        .iter()
        .find(|e| e.0 == "error")
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        err.1["message"].as_str().unwrap().contains("401"),
        "{err:?}"
    );
    assert!(!body.contains("wrong"), "the key is not echoed");
    let list = t.json(Method::GET, "/api/v1/conversations", None).await;
    assert!(list["items"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_embeddings_and_memory_extraction_by_the_provider() {
    let (url, seen) = standin().await;
    let t = open(&format!(
        "[embed]\nkind = \"openai\"\nurl = \"{url}\"\nmodel = \"nomic-embed-text\"\napi_key = \"{KEY}\"\n\n\
         [provider]\nkind = \"openai\"\nurl = \"{url}\"\nmodel = \"gpt-4o-mini\"\napi_key = \"{KEY}\"\nextract_memories = true\n"
    ))
    .await;
    let c = t
        .json(
            Method::POST,
            "/api/v1/acus",
            Some(json!({"role": "user", "text": "zzzz zzz zz", "title": "zeds"})),
        )
        .await;
    t.json(
        Method::POST,
        "/api/v1/acus",
        Some(json!({"role": "user", "text": "aaaa eeee", "title": "vowels"})),
    )
    .await;
    let r = t
        .json(Method::GET, "/api/v1/search?q=zzz&mode=vector", None)
        .await;
    assert_eq!(r["hits"][0]["conversation"], c["conversation"], "{r}");
    let st = t.json(Method::GET, "/api/admin/status", None).await;
    assert_eq!(st["semantic"]["dims"], json!(4));
    assert!(
        st["semantic"]["embedder"]
            .as_str()
            .unwrap()
            .starts_with("openai-")
    );
    let emb = seen.take("embeddings");
    assert!(!emb.is_empty());
    for (h, body) in &emb {
        assert_eq!(
            h.get(header::AUTHORIZATION).unwrap(),
            &format!("Bearer {KEY}")
        );
        assert_eq!(body["model"], json!("nomic-embed-text"));
        assert!(body["input"].is_array());
    }
    // The provider extracted the memories, with provenance to the message it named.
    let mems = t.json(Method::GET, "/api/v2/memories?all=true", None).await;
    let m = mems
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["content"] == json!("The user is learning Rust lifetimes"))
        .unwrap_or_else(|| panic!("{mems}"));
    assert_eq!(m["memory_type"], json!("semantic"));
    assert_eq!(m["slot"], json!("learning"));
    let conv = t
        .json(
            Method::GET,
            &format!(
                "/api/v1/conversations/{}",
                c["conversation"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let zeds_acu = conv["messages"][0]["id"].clone();
    let from_zeds = mems
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["content"] == json!("The user is learning Rust lifetimes"))
        .any(|m| m["provenance"].as_array().unwrap().contains(&zeds_acu));
    assert!(from_zeds, "{mems}");
    let chats = seen.take("chat");
    assert!(chats.iter().any(|(_, b)| {
        b["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("extract long-term memories")
    }));
}
