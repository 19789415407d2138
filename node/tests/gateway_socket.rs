//! The gateway on a real socket (127.0.0.1, a free port): REST through reqwest, events through
//! the WebSocket, and graceful shutdown.
#![allow(clippy::unwrap_used)]

#[path = "common/shared.rs"]
mod shared;
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::{net::TcpStream, sync::oneshot, task::JoinHandle};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{self, Message},
};
use vivim_node::{datadir::DataDir, gateway, node::Node};

/// Bounds every wait so that a broken gateway fails the test instead of hanging it. Not a
/// performance goal: nothing here should come close.
const HANG: Duration = Duration::from_secs(60);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn chatgpt_export() -> PathBuf {
    shared::path(shared::CHATGPT_2023)
}

struct Running {
    node: Arc<Node>,
    addr: SocketAddr,
    token: String,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    served: JoinHandle<std::io::Result<()>>,
    _tmp: tempfile::TempDir,
}

async fn start() -> Running {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::at(tmp.path());
    let node = Node::open(dir.clone(), None, true).await.unwrap();
    let token = dir.token().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(gateway::serve(node.clone(), listener, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(HANG)
        .build()
        .unwrap();
    Running {
        node,
        addr,
        token,
        http,
        stop: Some(stop),
        served,
        _tmp: tmp,
    }
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    async fn capture(&self, body: Value) -> Value {
        let r = self
            .http
            .post(self.url("/api/v1/acus"))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "capture {body}");
        r.json().await.unwrap()
    }

    async fn ws(&self) -> Ws {
        let url = format!("ws://{}/api/ws?token={}", self.addr, self.token);
        let (ws, res) = tokio::time::timeout(HANG, connect_async(url))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(res.status(), 101);
        ws
    }

    /// Triggers the shutdown future and waits for `serve` to return.
    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        let served = tokio::time::timeout(HANG, &mut self.served)
            .await
            .expect("serve did not return after its shutdown future resolved");
        served.unwrap().unwrap();
        // The port is released.
        assert!(
            TcpStream::connect(self.addr).await.is_err(),
            "still accepting on {}",
            self.addr
        );
        self.node.shutdown().await.unwrap();
    }
}

/// The next JSON event, whatever its type.
async fn next_any(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(HANG, ws.next())
            .await
            .expect("no event")
            .expect("socket closed before the event")
            .unwrap();
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected message {other:?}"),
        }
    }
}

/// The next JSON event of `kind`, skipping others (imports send one per conversation).
async fn next_event(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = next_any(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
}

#[tokio::test]
async fn rest_over_a_real_socket() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    let g = start().await;

    let r = g.http.get(g.url("/api/admin/status")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unauthorized");

    let status = g.get("/api/admin/status").await;
    assert_eq!(status["conversations"], 0);
    assert_eq!(status["did"], g.node.key.did().to_string());

    let r = g.http.get(g.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // Import by path (what the CLI does when a node is up).
    let r = g
        .http
        .post(g.url("/api/v1/import/source"))
        .bearer_auth(&g.token)
        .json(&json!({"path": chatgpt_export(), "format": "chatgpt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let summary: Value = r.json().await.unwrap();
    assert_eq!(summary["conversations"], 192, "{summary}");
    let r = g
        .http
        .post(g.url("/api/v1/import/source"))
        .bearer_auth(&g.token)
        .json(&json!({"path": "/nonexistent/vivim/export.json"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = g
        .http
        .post(g.url("/api/v1/import/source"))
        .bearer_auth(&g.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let page = g.get("/api/v1/conversations?limit=3").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let next = page["next_cursor"].as_str().unwrap();
    let page2 = g
        .get(&format!("/api/v1/conversations?limit=3&cursor={next}"))
        .await;
    assert_ne!(page2["items"][0]["id"], page["items"][0]["id"]);

    let hits = g.get("/api/v1/search?q=%22python%22&limit=5").await;
    assert!(!hits["hits"].as_array().unwrap().is_empty());

    // Keep-alive: many requests on the one pooled connection all answer.
    for _ in 0..20 {
        g.get("/api/v1/identity").await;
    }
    g.stop().await;
}

#[tokio::test]
async fn websocket_events_for_capture_delete_and_import() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    let g = start().await;
    let mut ws = g.ws().await;
    let mut ws2 = g.ws().await;

    let c = g
        .capture(json!({"role": "user", "text": "hello over the socket"}))
        .await;
    for w in [&mut ws, &mut ws2] {
        let ev = next_event(w, "acu_added").await;
        assert_eq!(ev["id"], c["id"], "{ev}");
        assert_eq!(ev["conversation"], c["conversation"], "{ev}");
    }

    let c2 = g
        .capture(json!({"conversation": c["conversation"], "role": "assistant", "text": "hi"}))
        .await;
    let ev = next_event(&mut ws, "acu_added").await;
    assert_eq!(ev["id"], c2["id"]);

    let conv = c["conversation"].as_str().unwrap();
    let r = g
        .http
        .delete(g.url(&format!("/api/v1/conversations/{conv}")))
        .bearer_auth(&g.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let ev = next_event(&mut ws, "conversation_deleted").await;
    assert_eq!(ev["id"], conv);
    // The second client saw the same sequence, in order.
    assert_eq!(next_event(&mut ws2, "acu_added").await["id"], c2["id"]);
    assert_eq!(
        next_event(&mut ws2, "conversation_deleted").await["id"],
        conv
    );

    // An import sends one event per conversation, then its summary.
    let r = g
        .http
        .post(g.url("/api/v1/import?format=auto"))
        .bearer_auth(&g.token)
        .body(std::fs::read(chatgpt_export()).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut imported = std::collections::HashSet::new();
    let finished = loop {
        let ev = next_any(&mut ws).await;
        match ev["type"].as_str().unwrap() {
            "conversation_imported" => {
                imported.insert(ev["id"].as_str().unwrap().to_string());
            }
            "import_finished" => break ev,
            other => panic!("unexpected event {other}: {ev}"),
        }
    };
    assert_eq!(imported.len(), 192);
    assert_eq!(finished["summary"]["conversations"], 192, "{finished}");

    // A client may close its socket; the others keep getting events.
    ws2.close(None).await.unwrap();
    let c3 = g
        .capture(json!({"role": "user", "text": "after close"}))
        .await;
    assert_eq!(next_event(&mut ws, "acu_added").await["id"], c3["id"]);

    ws.close(None).await.unwrap();
    g.stop().await;
}

#[tokio::test]
async fn websocket_needs_the_token() {
    let g = start().await;
    for url in [
        format!("ws://{}/api/ws", g.addr),
        format!("ws://{}/api/ws?token=wrong", g.addr),
        format!("ws://{}/api/ws?token={}x", g.addr, g.token),
    ] {
        match tokio::time::timeout(HANG, connect_async(url.as_str()))
            .await
            .unwrap()
        {
            Err(tungstenite::Error::Http(res)) => {
                assert_eq!(res.status(), 401, "{url}");
            }
            Err(e) => panic!("{url}: expected HTTP 401, got {e}"),
            Ok(_) => panic!("{url}: upgraded without a valid token"),
        }
    }
    // The bearer header works for clients that can set it.
    let mut req = tungstenite::client::IntoClientRequest::into_client_request(format!(
        "ws://{}/api/ws",
        g.addr
    ))
    .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", g.token).parse().unwrap(),
    );
    let (mut ws, res) = connect_async(req).await.unwrap();
    assert_eq!(res.status(), 101);
    ws.close(None).await.unwrap();
    g.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_returns() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    // Idle.
    let g = start().await;
    g.get("/api/admin/status").await;
    g.stop().await;

    // With a WebSocket client still connected: `vivim up` must still stop on SIGTERM.
    let g = start().await;
    let mut ws = g.ws().await;
    g.capture(json!({"role": "user", "text": "x"})).await;
    next_event(&mut ws, "acu_added").await;
    g.stop().await;
    // The client sees the socket end rather than hanging forever.
    let end = tokio::time::timeout(HANG, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "socket still open after shutdown");

    // A request in flight when shutdown starts still gets its answer.
    let g = start().await;
    let body = std::fs::read(chatgpt_export()).unwrap();
    let req = g
        .http
        .post(g.url("/api/v1/import?format=auto"))
        .bearer_auth(&g.token)
        .body(body)
        .send();
    let inflight = tokio::spawn(req);
    // Wait until the import is visibly under way before stopping.
    let mut ws = g.ws().await;
    next_event(&mut ws, "conversation_imported").await;
    drop(ws);
    let node = g.node.clone();
    g.stop().await;
    let r = inflight.await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
    let summary: Value = r.json().await.unwrap();
    assert_eq!(summary["conversations"], 192);
    drop(node);
}
