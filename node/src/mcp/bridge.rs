//! `vivim mcp` while a node runs: the assistant's stdio carried to the running node's
//! `/api/mcp`, one HTTP request per JSON-RPC message, answers written back in the order they
//! come. The data dir stays with the running node; this process holds nothing but the token.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::McpError;

/// Longest message read from stdin (the same bound rmcp's stdio transport keeps).
const MAX_LINE: usize = 16 * 1024 * 1024;

/// Carries stdin to `{base}/api/mcp` and the answers to stdout until stdin closes.
pub async fn run(base: &str, token: &str) -> Result<(), McpError> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| McpError::Transport(e.to_string()))?;
    let url = format!("{base}/api/mcp");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(64);
    let writer = tokio::spawn(async move {
        let mut out = tokio::io::stdout();
        while let Some(line) = rx.recv().await {
            if out.write_all(line.as_bytes()).await.is_err()
                || out.write_all(b"\n").await.is_err()
                || out.flush().await.is_err()
            {
                break;
            }
        }
    });
    let version: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let mut input = BufReader::new(tokio::io::stdin());
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let line = match read_line(&mut input).await {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(too_long) => {
                let _ = tx.send(error_line(&Value::Null, -32700, &too_long)).await;
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let (http, url, token, version, tx) = (
            http.clone(),
            url.clone(),
            token.to_string(),
            version.clone(),
            tx.clone(),
        );
        tasks.spawn(async move {
            for out in forward(&http, &url, &token, &line, &version).await {
                let _ = tx.send(out).await;
            }
        });
        // Finished requests are collected as we go, so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    drop(tx);
    let _ = writer.await;
    Ok(())
}

/// One line of stdin without its newline; `Err` for a line over [`MAX_LINE`] (skipped whole).
async fn read_line(input: &mut BufReader<tokio::io::Stdin>) -> Result<Option<String>, String> {
    let mut buf = Vec::new();
    let mut too_long = false;
    loop {
        let chunk = match input.fill_buf().await {
            Ok(c) => c,
            Err(_) => return Ok(None),
        };
        if chunk.is_empty() {
            if buf.is_empty() && !too_long {
                return Ok(None);
            }
            break;
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            if buf.len() + take > MAX_LINE + 1 {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        input.consume(take);
        if done {
            break;
        }
    }
    if too_long {
        return Err(format!("message over {MAX_LINE} bytes"));
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn error_line(id: &Value, code: i64, message: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string()
}

/// Sends one message; returns the lines to write back.
async fn forward(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    line: &str,
    version: &Mutex<Option<String>>,
) -> Vec<String> {
    let msg: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            return vec![error_line(
                &Value::Null,
                -32700,
                &format!("parse error: {e}"),
            )];
        }
    };
    let id = msg.get("id").cloned();
    let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
    let is_init = method == "initialize";
    let mut req = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    // 2026-07-28 has no handshake: each request names its version in `_meta`, which HTTP
    // carries as a header. Older versions name it once, in `initialize`'s answer.
    let per_request = msg
        .pointer("/params/_meta")
        .and_then(|m| m.get("io.modelcontextprotocol/protocolVersion"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let known = per_request.or_else(|| version.lock().ok().and_then(|v| v.clone()));
    if let Some(v) = known.filter(|_| !is_init) {
        req = req.header("mcp-protocol-version", v);
    }
    // The headers streamable HTTP wants beside the body (SEP-2243): the method, and the name
    // a request acts on (base64 in its sentinel form, so any name fits in a header).
    if !method.is_empty() {
        req = req.header("mcp-method", method);
        let key = match method {
            "tools/call" | "prompts/get" => Some("name"),
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => Some("uri"),
            m if m.starts_with("tasks/") => Some("taskId"),
            _ => None,
        };
        if let Some(name) = key
            .and_then(|k| msg.pointer(&format!("/params/{k}")))
            .and_then(Value::as_str)
        {
            use base64::Engine;
            let b64 = base64::prelude::BASE64_STANDARD.encode(name);
            req = req.header("mcp-name", format!("=?base64?{b64}?="));
        }
    }
    let fail = |m: String| match &id {
        Some(id) => vec![error_line(id, -32603, &m)],
        None => Vec::new(),
    };
    let resp = match req.body(line.to_string()).send().await {
        Ok(r) => r,
        Err(e) => return fail(format!("the running node's gateway did not answer: {e}")),
    };
    let status = resp.status();
    let sse = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/event-stream"));
    let body = match resp.text().await {
        Ok(b) => b,
        Err(e) => return fail(format!("reading the gateway's answer: {e}")),
    };
    let payloads: Vec<String> = if sse {
        sse_data(&body)
    } else if body.trim().is_empty() {
        Vec::new()
    } else {
        vec![body]
    };
    let mut out = Vec::new();
    for p in payloads {
        match serde_json::from_str::<Value>(&p) {
            Ok(v) if v.get("jsonrpc").is_some() || v.is_array() => {
                if is_init
                    && let Some(pv) = v.pointer("/result/protocolVersion").and_then(Value::as_str)
                    && let Ok(mut g) = version.lock()
                {
                    *g = Some(pv.to_string());
                }
                out.push(v.to_string());
            }
            _ => {}
        }
    }
    if out.is_empty() && !status.is_success() {
        return fail(format!("the running node's gateway answered HTTP {status}"));
    }
    out
}

/// The `data:` payloads of an SSE body, one per event.
fn sse_data(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    for line in body.lines() {
        if line.is_empty() {
            if !cur.is_empty() {
                out.push(cur.join("\n"));
                cur.clear();
            }
        } else if let Some(d) = line.strip_prefix("data:") {
            cur.push(d.strip_prefix(' ').unwrap_or(d));
        }
    }
    if !cur.is_empty() {
        out.push(cur.join("\n"));
    }
    out.into_iter().filter(|d| !d.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::sse_data;

    #[test]
    fn sse_events_are_split_and_priming_events_dropped() {
        let body = "id: 0\nretry: 3000\ndata: \n\ndata: {\"a\":1}\n\nevent: message\ndata: {\"b\":\ndata: 2}\n\n";
        assert_eq!(sse_data(body), vec!["{\"a\":1}", "{\"b\":\n2}"]);
    }
}
