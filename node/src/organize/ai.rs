//! AI providers: OpenAI-compatible chat completions and Anthropic messages, streamed (SSE).
//!
//! The key lives in `vivim.toml` (`[provider] api_key`) and is never logged: `Debug` prints it
//! redacted and errors carry no URL with credentials.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[provider]` in `vivim.toml`. `kind = ""` (the default): no provider.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    /// `openai` (any OpenAI-compatible server: OpenAI, Ollama, llama.cpp, vLLM), `anthropic`,
    /// or empty for none.
    pub kind: String,
    /// Base URL (`https://api.openai.com`, `https://api.anthropic.com`,
    /// `http://127.0.0.1:11434` for Ollama).
    pub url: String,
    /// Model to ask.
    pub model: String,
    /// API key. Never logged.
    pub api_key: Option<String>,
    /// Largest answer, in tokens.
    pub max_tokens: u32,
    /// `anthropic-version` header.
    pub anthropic_version: String,
    /// Let the provider read conversations to extract memories (else the deterministic
    /// extractor, on this machine, does). Off by default: it sends whole conversations to the
    /// provider.
    pub extract_memories: bool,
    /// DIDs whose conversations (shared with this user, opened from links) the provider may
    /// read for extraction; by default it only reads the user's own.
    pub extract_from: Vec<String>,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            kind: String::new(),
            url: String::new(),
            model: String::new(),
            api_key: None,
            max_tokens: 1024,
            anthropic_version: "2023-06-01".into(),
            extract_memories: false,
            extract_from: Vec::new(),
        }
    }
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

impl ProviderConfig {
    /// Whether a provider is configured.
    pub fn is_set(&self) -> bool {
        !self.kind.is_empty()
    }
}

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// No provider in the config.
    #[error("no AI provider is configured: set [provider] in vivim.toml")]
    NotConfigured,
    /// A bad configuration.
    #[error("provider config: {0}")]
    Config(String),
    /// The request failed.
    #[error("provider request failed: {0}")]
    Http(String),
    /// The provider answered with an error status.
    #[error("provider answered HTTP {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Its message (clipped).
        message: String,
    },
    /// The stream was malformed or too large.
    #[error("provider stream: {0}")]
    Stream(String),
}

/// One chat message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ChatMessage {
    /// `user` or `assistant` (the system prompt travels separately).
    pub role: String,
    /// Text.
    pub content: String,
}

/// Largest streamed answer read, in bytes of SSE.
const MAX_STREAM_BYTES: usize = 16 * 1024 * 1024;
/// Longest SSE line.
const MAX_LINE: usize = 1024 * 1024;

fn http() -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(600))
        .build()
        .map_err(|e| ProviderError::Http(e.to_string()))
}

/// Streams an answer: each piece of text goes to `deltas` as it arrives (a bounded channel: a
/// slow reader slows the stream); returns the whole answer.
pub async fn stream_chat(
    cfg: &ProviderConfig,
    system: &str,
    messages: &[ChatMessage],
    deltas: Option<tokio::sync::mpsc::Sender<String>>,
) -> Result<String, ProviderError> {
    use futures::StreamExt;
    let base = cfg.url.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    let client = http()?;
    let anthropic = match cfg.kind.as_str() {
        "openai" => false,
        "anthropic" => true,
        "" => return Err(ProviderError::NotConfigured),
        other => {
            return Err(ProviderError::Config(format!(
                "unknown kind {other:?}: use openai or anthropic"
            )));
        }
    };
    let req = if anthropic {
        // Anthropic wants alternating turns starting with the user: merge runs of one role.
        let mut merged: Vec<ChatMessage> = Vec::with_capacity(messages.len());
        for m in messages {
            match merged.last_mut() {
                Some(last) if last.role == m.role => {
                    last.content.push_str("\n\n");
                    last.content.push_str(&m.content);
                }
                None if m.role != "user" => {}
                _ => merged.push(m.clone()),
            }
        }
        let messages = &merged;
        let mut r = client
            .post(format!("{base}/v1/messages"))
            .header("anthropic-version", &cfg.anthropic_version)
            .json(&serde_json::json!({
                "model": cfg.model,
                "max_tokens": cfg.max_tokens,
                "system": system,
                "messages": messages,
                "stream": true,
            }));
        if let Some(k) = &cfg.api_key {
            r = r.header("x-api-key", k);
        }
        r
    } else {
        let mut all = Vec::with_capacity(messages.len() + 1);
        if !system.is_empty() {
            all.push(ChatMessage {
                role: "system".into(),
                content: system.into(),
            });
        }
        all.extend_from_slice(messages);
        let mut r = client
            .post(format!("{base}/v1/chat/completions"))
            .json(&serde_json::json!({
                "model": cfg.model,
                "messages": all,
                "max_tokens": cfg.max_tokens,
                "stream": true,
            }));
        if let Some(k) = &cfg.api_key {
            r = r.bearer_auth(k);
        }
        r
    };
    let r = req
        .send()
        .await
        .map_err(|e| ProviderError::Http(e.without_url().to_string()))?;
    let status = r.status();
    if !status.is_success() {
        let body = crate::organize::embed::read_capped_body(r, 64 * 1024)
            .await
            .unwrap_or_default();
        return Err(ProviderError::Status {
            status: status.as_u16(),
            message: String::from_utf8_lossy(&body[..body.len().min(500)]).into(),
        });
    }
    let mut stream = r.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut total = 0usize;
    let mut answer = String::new();
    let mut done = false;
    while !done {
        let Some(chunk) = stream.next().await else {
            break;
        };
        let chunk = chunk.map_err(|e| ProviderError::Stream(e.without_url().to_string()))?;
        total += chunk.len();
        if total > MAX_STREAM_BYTES {
            return Err(ProviderError::Stream(format!(
                "the answer is over {MAX_STREAM_BYTES} bytes"
            )));
        }
        buf.extend_from_slice(&chunk);
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let data = data.trim();
            if data == "[DONE]" {
                done = true;
                break;
            }
            let v: serde_json::Value = match serde_json::from_str(data) {
                Ok(v) => v,
                Err(e) => return Err(ProviderError::Stream(format!("bad event: {e}"))),
            };
            if let Some(err) = v.get("error") {
                return Err(ProviderError::Stream(format!("provider error: {err}")));
            }
            let piece = if anthropic {
                match v["type"].as_str() {
                    Some("content_block_delta") => v["delta"]["text"].as_str(),
                    Some("message_stop") => {
                        done = true;
                        None
                    }
                    _ => None,
                }
            } else {
                v["choices"][0]["delta"]["content"].as_str()
            };
            if let Some(p) = piece
                && !p.is_empty()
            {
                answer.push_str(p);
                if let Some(tx) = &deltas {
                    // A reader that went away does not stop the answer from being stored.
                    let _ = tx.send(p.to_string()).await;
                }
            }
            if done {
                break;
            }
        }
        if buf.len() > MAX_LINE {
            return Err(ProviderError::Stream("an event line is over 1 MiB".into()));
        }
    }
    if !done {
        return Err(ProviderError::Stream(
            "the stream ended before its end marker".into(),
        ));
    }
    Ok(answer)
}
