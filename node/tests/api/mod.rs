//! The gateway's router on a fresh node, called through `tower::ServiceExt::oneshot` (no
//! socket): for the tests of REST routes.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::Arc;

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use serde_json::Value;
use tower::ServiceExt;
use vivim_node::{datadir::DataDir, gateway, node::Node};

/// A node and its gateway router.
pub struct T {
    /// The node.
    pub node: Arc<Node>,
    /// Its gateway.
    pub app: Router,
    /// The gateway's token.
    pub token: String,
    /// Its data dir (removed on drop).
    pub tmp: tempfile::TempDir,
}

/// A fresh node in a temporary data dir, with its router and token.
pub async fn open() -> T {
    open_with(None).await
}

/// [`open`] with this `vivim.toml`.
pub async fn open_with(config: Option<&str>) -> T {
    let tmp = tempfile::tempdir().unwrap();
    if let Some(c) = config {
        std::fs::write(tmp.path().join("vivim.toml"), c).unwrap();
    }
    let dir = DataDir::at(tmp.path());
    let node = Node::open(dir.clone(), None, true).await.unwrap();
    let token = dir.token().unwrap();
    T {
        app: gateway::router(node.clone(), token.clone()),
        node,
        token,
        tmp,
    }
}

impl T {
    /// Calls a route with the token (and a JSON content type when there is a body); the status
    /// and the body's bytes.
    pub async fn raw(
        &self,
        method: Method,
        uri: &str,
        body: Option<String>,
    ) -> (StatusCode, Vec<u8>) {
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        let body = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Body::from(v)
            }
            None => Body::empty(),
        };
        let res = self
            .app
            .clone()
            .oneshot(b.body(body).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, bytes.to_vec())
    }

    /// Calls a route with a JSON body; the status and the JSON answer (`Null` when there is
    /// none).
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (s, b) = self.raw(method, uri, body.map(|v| v.to_string())).await;
        (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }

    /// Calls a route with a JSON body; the status and the answer as text (SSE, say).
    pub async fn send_text(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, String) {
        let (s, b) = self.raw(method, uri, body.map(|v| v.to_string())).await;
        (s, String::from_utf8_lossy(&b).into_owned())
    }

    /// Calls a route with a body given as text (which may be bad JSON on purpose); the status
    /// and the JSON answer (`Null` when empty).
    pub async fn call(&self, method: Method, uri: &str, body: Option<&str>) -> (StatusCode, Value) {
        let (s, b) = self
            .raw(method, uri, Some(body.unwrap_or_default().to_string()))
            .await;
        let v = if b.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&b).unwrap()
        };
        (s, v)
    }

    /// Calls a route that must fail with `want` and a JSON error; its message.
    pub async fn error(
        &self,
        method: Method,
        uri: &str,
        body: Option<&str>,
        want: StatusCode,
    ) -> String {
        let (status, v) = self.call(method, uri, body).await;
        assert_eq!(status, want, "{uri}: {v}");
        let msg = v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(!msg.is_empty() && v["error"]["code"].is_string(), "{v}");
        msg
    }
}
