//! What CLI commands talk to: the running node's gateway when one is up, the data dir directly
//! when none is. Both give the same views, so output does not depend on which was used.

use std::{path::Path, sync::Arc, time::Duration};

use serde::de::DeserializeOwned;

pub mod admin;
pub mod organize;

use crate::{
    datadir::DataDir,
    import::Format,
    node::{ImportProgress, Node, NodeError},
    store::StoreError,
    views::{
        ConversationDetail, ConversationPage, ConversationView, MessageView, SearchParams,
        SearchResults,
    },
};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node said no.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The gateway answered with an error.
    #[error("{message} (HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
    /// The gateway could not be reached or answered nonsense.
    #[error("gateway: {0}")]
    Http(String),
    /// Something not found.
    #[error("{0}")]
    NotFound(String),
}

/// A connection to the node.
pub enum Client {
    /// Through a running node's gateway.
    Remote {
        /// `http://127.0.0.1:7777`
        base: String,
        /// Bearer token.
        token: String,
        /// HTTP client.
        http: reqwest::Client,
    },
    /// The data dir opened in this process.
    Local(Arc<Node>),
}

impl Client {
    /// Connects to the running node if there is one, else opens the data dir.
    pub async fn connect(dir: DataDir, passphrase: Option<&[u8]>) -> Result<Client, ClientError> {
        if let Some(c) = Client::running(&dir).await {
            return Ok(c);
        }
        match Node::open(dir, passphrase, false).await {
            Ok(n) => Ok(Client::Local(n)),
            Err(NodeError::Store(StoreError::Locked(p))) => Err(ClientError::Http(format!(
                "{p} is in use by a running node whose gateway does not answer; wait for it or stop it"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// The gateway of the node running on `dir`, if one runs and answers.
    pub async fn running(dir: &DataDir) -> Option<Client> {
        let addr = std::fs::read_to_string(dir.gateway_addr_path()).ok()?;
        let token = dir.token().ok()?;
        let c = Client::remote(&format!("http://{}", addr.trim()), &token).ok()?;
        let Client::Remote { base, token, http } = &c else {
            return None;
        };
        let probe = http
            .get(format!("{base}/api/admin/status"))
            .bearer_auth(token)
            .timeout(Duration::from_secs(3))
            .send()
            .await;
        matches!(&probe, Ok(r) if r.status().is_success()).then_some(c)
    }

    /// A client of the gateway at `base` (`http://127.0.0.1:7777`) with its bearer token.
    pub fn remote(base: &str, token: &str) -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(3600))
            .build()
            .map_err(|e| ClientError::Http(e.to_string()))?;
        Ok(Client::Remote {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http,
        })
    }

    /// Whether this talks to a running node.
    pub fn is_remote(&self) -> bool {
        matches!(self, Client::Remote { .. })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let Client::Remote { base, token, http } = self else {
            return Err(ClientError::Http("not connected to a gateway".into()));
        };
        let r = http
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        decode(r).await
    }

    /// Conversations, newest first, up to `limit`.
    pub async fn list(&self, limit: usize) -> Result<Vec<ConversationView>, ClientError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        while out.len() < limit {
            let page_size = (limit - out.len()).min(500);
            let page: ConversationPage = match self {
                Client::Local(n) => {
                    let p = n
                        .store
                        .list(cursor.as_deref(), page_size)
                        .map_err(NodeError::from)?;
                    ConversationPage {
                        items: p.rows.iter().map(ConversationView::from).collect(),
                        next_cursor: p.next,
                    }
                }
                Client::Remote { .. } => {
                    let mut path = format!("/api/v1/conversations?limit={page_size}");
                    if let Some(c) = &cursor {
                        path.push_str(&format!("&cursor={c}"));
                    }
                    self.get(&path).await?
                }
            };
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        Ok(out)
    }

    /// A conversation with its messages. `id` may be a unique prefix of at least 6 hex chars.
    pub async fn show(&self, id: &str) -> Result<ConversationDetail, ClientError> {
        match self {
            Client::Local(n) => {
                let conv = n.store.resolve(id).map_err(NodeError::from)?;
                let (row, acus) = n
                    .conversation(&conv)
                    .await?
                    .ok_or_else(|| ClientError::NotFound(format!("conversation {id} not found")))?;
                Ok(ConversationDetail {
                    conversation: ConversationView::from(&row),
                    messages: acus.iter().map(MessageView::from).collect(),
                })
            }
            Client::Remote { .. } => self.get(&format!("/api/v1/conversations/{id}")).await,
        }
    }

    /// Deletes a conversation.
    pub async fn delete(&self, id: &str) -> Result<String, ClientError> {
        match self {
            Client::Local(n) => {
                let conv = n.store.resolve(id).map_err(NodeError::from)?;
                if n.delete(&conv).await? {
                    Ok(conv.to_string())
                } else {
                    Err(ClientError::NotFound(format!(
                        "conversation {id} not found"
                    )))
                }
            }
            Client::Remote { base, token, http } => {
                let d = self.show(id).await?;
                let r = http
                    .delete(format!("{base}/api/v1/conversations/{}", d.conversation.id))
                    .bearer_auth(token)
                    .send()
                    .await
                    .map_err(|e| ClientError::Http(e.to_string()))?;
                if r.status().is_success() {
                    Ok(d.conversation.id)
                } else {
                    Err(api_error(r).await)
                }
            }
        }
    }

    /// Search: full text, vector or hybrid (`p.mode`).
    pub async fn search(&self, p: &SearchParams) -> Result<SearchResults, ClientError> {
        match self {
            Client::Local(n) => crate::organize::search(n, p).await.map_err(organize::local),
            Client::Remote { .. } => {
                let mut qs = vec![
                    ("q", p.q.clone()),
                    ("limit", p.limit.unwrap_or(20).to_string()),
                ];
                if let Some(v) = &p.provider {
                    qs.push(("provider", v.clone()));
                }
                if let Some(v) = &p.role {
                    qs.push(("role", v.clone()));
                }
                if let Some(v) = p.from {
                    qs.push(("from", v.to_string()));
                }
                if let Some(v) = p.to {
                    qs.push(("to", v.to_string()));
                }
                if let Some(v) = &p.mode {
                    qs.push(("mode", v.clone()));
                }
                let query = serde_urlencoded_pairs(&qs);
                self.get(&format!("/api/v1/search?{query}")).await
            }
        }
    }

    /// Imports a path or URL. `progress` sees durable progress (local only).
    pub async fn import(
        &self,
        source: &str,
        format: Format,
        progress: Option<&(dyn Fn(ImportProgress) + Send + Sync)>,
    ) -> Result<serde_json::Value, ClientError> {
        let is_url = source.starts_with("http://") || source.starts_with("https://");
        match self {
            Client::Local(n) => {
                let s = if is_url {
                    n.import_url(source, format).await?
                } else {
                    n.import_path(Path::new(source), format, progress).await?
                };
                Ok(serde_json::to_value(s).unwrap_or_default())
            }
            Client::Remote { base, token, http } => {
                let mut body = serde_json::json!({ "format": format_name(format) });
                if is_url {
                    body["url"] = source.into();
                } else {
                    let abs = std::path::absolute(source)
                        .map_err(|e| ClientError::Http(format!("{source}: {e}")))?;
                    body["path"] = abs.display().to_string().into();
                }
                let post = http
                    .post(format!("{base}/api/v1/import/source"))
                    .bearer_auth(token)
                    .json(&body)
                    .send();
                // The running node announces each stored conversation on /api/ws: counted
                // here, the progress is live instead of arriving with the summary.
                let events = match progress {
                    Some(_) => live_events(base, token).await,
                    None => None,
                };
                let r = match (events, progress) {
                    (Some(mut ws), Some(progress)) => {
                        use futures::StreamExt;
                        tokio::pin!(post);
                        let mut seen = ImportProgress::default();
                        loop {
                            tokio::select! {
                                r = &mut post => break r,
                                msg = ws.next() => match msg {
                                    Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                                        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&t)
                                            && v["type"] == "conversation_imported"
                                        {
                                            seen.conversations += 1;
                                            seen.messages += v["message_count"].as_u64().unwrap_or(0);
                                            progress(seen);
                                        }
                                    }
                                    Some(Ok(_)) => {}
                                    // The socket closed: the answer still comes on the POST.
                                    _ => break (&mut post).await,
                                }
                            }
                        }
                    }
                    _ => post.await,
                }
                .map_err(|e| ClientError::Http(e.to_string()))?;
                decode(r).await
            }
        }
    }

    /// A GET on the running node's gateway (network commands need a running node).
    pub async fn api_get(&self, path: &str) -> Result<serde_json::Value, ClientError> {
        match self {
            Client::Local(_) => Err(ClientError::Http(
                "this needs the running node: start it with `vivim up` (or `vivim relay`)".into(),
            )),
            Client::Remote { .. } => self.get(path).await,
        }
    }

    /// A POST of JSON on the running node's gateway.
    pub async fn api_post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        match self {
            Client::Local(_) => Err(ClientError::Http(
                "this needs the running node: start it with `vivim up` (or `vivim relay`)".into(),
            )),
            Client::Remote { base, token, http } => {
                let r = http
                    .post(format!("{base}{path}"))
                    .bearer_auth(token)
                    .json(body)
                    .send()
                    .await
                    .map_err(|e| ClientError::Http(e.to_string()))?;
                decode(r).await
            }
        }
    }

    /// Any gateway route, on the running node or — without one — on the data dir opened here
    /// (the same handlers serve both, in-process through the router). `method` is GET, POST or
    /// DELETE; an answer without a body is `null`.
    pub async fn route(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, ClientError> {
        let (status, bytes) = match self {
            Client::Remote { base, token, http } => {
                let m = reqwest::Method::from_bytes(method.as_bytes())
                    .map_err(|e| ClientError::Http(e.to_string()))?;
                let mut req = http.request(m, format!("{base}{path}")).bearer_auth(token);
                if let Some(b) = body {
                    req = req.json(b);
                }
                let r = req
                    .send()
                    .await
                    .map_err(|e| ClientError::Http(e.to_string()))?;
                let status = r.status().as_u16();
                let bytes = r
                    .bytes()
                    .await
                    .map_err(|e| ClientError::Http(e.to_string()))?;
                (status, bytes.to_vec())
            }
            Client::Local(node) => {
                use tower::ServiceExt;
                let token = node.dir.token().map_err(NodeError::from)?;
                let app = crate::gateway::router(node.clone(), token.clone());
                let req = axum::http::Request::builder()
                    .method(method)
                    .uri(path)
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(
                        body.map(|b| b.to_string()).unwrap_or_default(),
                    ))
                    .map_err(|e| ClientError::Http(e.to_string()))?;
                let res = app
                    .oneshot(req)
                    .await
                    .map_err(|e| ClientError::Http(e.to_string()))?;
                let status = res.status().as_u16();
                let bytes = axum::body::to_bytes(res.into_body(), 64 * 1024 * 1024)
                    .await
                    .map_err(|e| ClientError::Http(e.to_string()))?;
                (status, bytes.to_vec())
            }
        };
        let value = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Http(format!("unexpected answer: {e}")))?
        };
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let message = value["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        Err(if status == 404 {
            ClientError::NotFound(message)
        } else {
            ClientError::Api { status, message }
        })
    }

    /// The running node's events (`/api/ws`) as JSON values, from now on: the same shapes as
    /// [`crate::node::Event`], plus `{"type":"lagged","missed":n}` when the socket fell behind.
    /// The channel closes when the socket does. Only for a client of a gateway.
    pub async fn remote_events(
        &self,
    ) -> Result<tokio::sync::mpsc::Receiver<serde_json::Value>, ClientError> {
        let Client::Remote { base, token, .. } = self else {
            return Err(ClientError::Http(
                "remote events need a running node's gateway".into(),
            ));
        };
        let ws = live_events(base, token)
            .await
            .ok_or_else(|| ClientError::Http(format!("cannot open {base}/api/ws")))?;
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move {
            use futures::StreamExt;
            let mut ws = ws;
            while let Some(Ok(msg)) = ws.next().await {
                let tokio_tungstenite::tungstenite::Message::Text(text) = msg else {
                    continue;
                };
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                if tx.send(v).await.is_err() {
                    break;
                }
            }
        });
        Ok(rx)
    }

    /// Flushes and closes a local node.
    pub async fn close(self) -> Result<(), ClientError> {
        if let Client::Local(n) = self {
            n.shutdown().await?;
        }
        Ok(())
    }
}

/// The running node's event socket, if it opens (progress is a nicety: no socket, no live
/// progress, the import goes on).
async fn live_events(
    base: &str,
    token: &str,
) -> Option<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
> {
    let url = format!(
        "{}/api/ws?token={}",
        base.replacen("http://", "ws://", 1),
        percent(token)
    );
    let connect = tokio_tungstenite::connect_async(url);
    match tokio::time::timeout(Duration::from_secs(3), connect).await {
        Ok(Ok((ws, _))) => Some(ws),
        _ => None,
    }
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Auto => "auto",
        Format::ChatGpt => "chatgpt",
        Format::Claude => "claude",
        Format::Gemini => "gemini",
        Format::ChatGptShare => "chatgpt-share",
        Format::ShareGpt => "sharegpt",
        Format::Markdown => "markdown",
    }
}

fn serde_urlencoded_pairs(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An error of a handler run in this process, as the client reports it (what the gateway would
/// have answered).
pub(crate) fn from_api(api: crate::gateway::ApiError) -> ClientError {
    if api.status() == axum::http::StatusCode::NOT_FOUND {
        ClientError::NotFound(api.message().to_string())
    } else {
        ClientError::Api {
            status: api.status().as_u16(),
            message: api.message().to_string(),
        }
    }
}

async fn api_error(r: reqwest::Response) -> ClientError {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or(text);
    if status == 404 {
        ClientError::NotFound(message)
    } else {
        ClientError::Api { status, message }
    }
}

async fn decode<T: DeserializeOwned>(r: reqwest::Response) -> Result<T, ClientError> {
    if !r.status().is_success() {
        return Err(api_error(r).await);
    }
    r.json::<T>()
        .await
        .map_err(|e| ClientError::Http(format!("unexpected answer: {e}")))
}
