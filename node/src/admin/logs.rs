//! The log ring: the node's `tracing` events kept in a bounded buffer and broadcast, for the
//! admin panel's live logs (`/api/admin/logs`).
//!
//! The binary installs [`RingLayer`] beside its stderr output with its own filter
//! ([`capture_filter`], `info` by default), so the panel shows what the node does even when the
//! terminal shows only warnings. Nothing secret reaches the ring: every value given to
//! [`redact`] (the gateway token, provider and embedding keys) is replaced wherever it appears,
//! and fields whose names say they hold a secret are never written.

use std::{
    collections::VecDeque,
    fmt::Write as _,
    sync::{Mutex, OnceLock, RwLock},
};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tracing::{Event, Subscriber, field::Field};
use tracing_subscriber::{Layer, layer::Context};

/// Lines the ring keeps.
pub const CAPACITY: usize = 5_000;
/// Longest line kept, in bytes (longer ones are cut).
pub const MAX_LINE: usize = 4_096;
/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// One log line.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogLine {
    /// Increasing number (gaps mean lines the ring dropped).
    pub seq: u64,
    /// When (unix ms).
    pub time_ms: u64,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: String,
    /// The module that logged it.
    pub target: String,
    /// The message and its fields, `key=value`.
    pub message: String,
}

/// The ring of recent lines.
pub struct LogRing {
    lines: Mutex<(VecDeque<LogLine>, u64)>,
    tx: broadcast::Sender<LogLine>,
    secrets: RwLock<Vec<String>>,
}

impl std::fmt::Debug for LogRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogRing").finish_non_exhaustive()
    }
}

/// The process's ring (empty unless the binary installed [`RingLayer`]).
pub fn ring() -> &'static LogRing {
    static RING: OnceLock<LogRing> = OnceLock::new();
    RING.get_or_init(|| LogRing {
        lines: Mutex::new((VecDeque::with_capacity(256), 0)),
        tx: broadcast::channel(1024).0,
        secrets: RwLock::new(Vec::new()),
    })
}

/// Never shows `secret` in the ring again (values shorter than 8 characters are ignored: they
/// would blank ordinary words).
pub fn redact(secret: &str) {
    if secret.len() < 8 {
        return;
    }
    if let Ok(mut s) = ring().secrets.write()
        && !s.iter().any(|x| x == secret)
    {
        s.push(secret.to_string());
    }
}

impl LogRing {
    /// Recent lines at `level` or more severe whose target and text contain the filters, oldest
    /// first, at most `limit`; and how many lines the ring has dropped since it started.
    pub fn recent(
        &self,
        level: tracing::Level,
        target: Option<&str>,
        text: Option<&str>,
        limit: usize,
    ) -> (Vec<LogLine>, u64) {
        let g = crate::lock(&self.lines);
        let mut out: Vec<LogLine> =
            g.0.iter()
                .rev()
                .filter(|l| passes(l, level, target, text))
                .take(limit)
                .cloned()
                .collect();
        out.reverse();
        (out, g.1)
    }

    /// New lines as they come.
    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.tx.subscribe()
    }

    /// Adds a line (secrets removed, cut to [`MAX_LINE`]).
    pub fn push(&self, level: &tracing::Level, target: &str, mut message: String) {
        if let Ok(secrets) = self.secrets.read() {
            for s in secrets.iter() {
                if message.contains(s.as_str()) {
                    message = message.replace(s.as_str(), REDACTED);
                }
            }
        }
        if message.len() > MAX_LINE {
            let keep = crate::text::clip(&message, MAX_LINE).len();
            message.truncate(keep);
        }
        let mut g = crate::lock(&self.lines);
        let seq = g.1 + g.0.len() as u64;
        let line = LogLine {
            seq,
            time_ms: crate::now_ms(),
            level: level.to_string(),
            target: target.to_string(),
            message,
        };
        if g.0.len() == CAPACITY {
            g.0.pop_front();
            g.1 += 1;
        }
        g.0.push_back(line.clone());
        drop(g);
        let _ = self.tx.send(line);
    }
}

/// Whether a line passes the filters.
pub fn passes(
    l: &LogLine,
    level: tracing::Level,
    target: Option<&str>,
    text: Option<&str>,
) -> bool {
    l.level
        .parse::<tracing::Level>()
        .is_ok_and(|lv| lv <= level)
        && target.is_none_or(|t| l.target.contains(t))
        && text.is_none_or(|t| {
            let t = t.to_lowercase();
            l.message.to_lowercase().contains(&t) || l.target.to_lowercase().contains(&t)
        })
}

/// The filter of what the ring captures: `VIVIM_LOG_CAPTURE` (an `EnvFilter` spec), else
/// `info` with the chattiest network crates at `warn`.
pub fn capture_filter() -> tracing_subscriber::EnvFilter {
    let spec = std::env::var("VIVIM_LOG_CAPTURE").unwrap_or_else(|_| {
        "info,libp2p=warn,libp2p_gossipsub=warn,libp2p_kad=warn,iroh=warn,iroh_blobs=warn,netwatch=warn,portmapper=warn,rmcp=warn,tantivy=warn,hyper=warn".into()
    });
    tracing_subscriber::EnvFilter::try_new(&spec)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
}

/// The `tracing` layer that feeds [`ring`].
#[derive(Debug, Default)]
pub struct RingLayer;

/// Field names whose values are never written.
const SECRET_FIELDS: &[&str] = &[
    "token",
    "api_key",
    "key",
    "passphrase",
    "password",
    "secret",
    "authorization",
];

struct Visit(String);

impl tracing::field::Visit for Visit {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let name = field.name();
        if name == "message" {
            let _ = write!(self.0, "{value:?}");
            return;
        }
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if SECRET_FIELDS.contains(&name) {
            let _ = write!(self.0, "{name}={REDACTED}");
        } else {
            let _ = write!(self.0, "{name}={value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }
}

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut v = Visit(String::new());
        event.record(&mut v);
        ring().push(meta.level(), meta.target(), v.0);
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn secrets_never_reach_the_ring() {
        let secret = "s3cr3t-token-value-0123456789";
        redact(secret);
        let sub = tracing_subscriber::registry().with(RingLayer);
        tracing::subscriber::with_default(sub, || {
            tracing::info!(token = "abc-field-value", "connecting with {secret} now");
            tracing::warn!(url = %format!("http://h/?token={secret}"), "request");
        });
        let (lines, _) = ring().recent(tracing::Level::TRACE, None, Some("connecting"), 10);
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].message.contains(secret), "{}", lines[0].message);
        assert!(
            !lines[0].message.contains("abc-field-value"),
            "{}",
            lines[0].message
        );
        assert!(lines[0].message.contains(REDACTED));
        let (lines, _) = ring().recent(tracing::Level::WARN, None, Some("request"), 10);
        assert!(!lines[0].message.contains(secret));
        assert_eq!(lines[0].level, "WARN");
        // Level filter: an INFO line is not shown at WARN.
        let (lines, _) = ring().recent(tracing::Level::WARN, None, Some("connecting"), 10);
        assert!(lines.is_empty());
    }
}
