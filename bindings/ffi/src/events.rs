//! Events, pulled by the foreign side: nothing calls into foreign code from tokio threads.

use std::time::Duration;

use tokio::sync::{Mutex, broadcast, mpsc};

use crate::Event;

/// What happens on the node, in order, from the moment [`crate::EmbeddedNode::events`] was
/// called. A reader that falls more than 1,024 events behind loses the oldest; the next event
/// it gets says how many ([`Event::skipped`]).
#[derive(uniffi::Object)]
pub struct EventStream {
    source: Source,
}

enum Source {
    /// An embedded node's channel.
    Local(Mutex<broadcast::Receiver<vivim_node::Event>>),
    /// A running node's `/api/ws`, read by a task on the runtime.
    Remote(Mutex<mpsc::Receiver<serde_json::Value>>),
}

impl EventStream {
    pub(crate) fn new(rx: broadcast::Receiver<vivim_node::Event>) -> Self {
        EventStream {
            source: Source::Local(Mutex::new(rx)),
        }
    }

    pub(crate) fn remote(rx: mpsc::Receiver<serde_json::Value>) -> Self {
        EventStream {
            source: Source::Remote(Mutex::new(rx)),
        }
    }

    async fn recv(&self) -> Option<Event> {
        let mut skipped = 0u64;
        match &self.source {
            Source::Local(rx) => {
                let mut rx = rx.lock().await;
                loop {
                    match rx.recv().await {
                        Ok(e) => {
                            return Some(to_record(
                                serde_json::to_value(&e).unwrap_or_default(),
                                skipped,
                            ));
                        }
                        Err(broadcast::error::RecvError::Lagged(n)) => skipped += n,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
            Source::Remote(rx) => {
                let mut rx = rx.lock().await;
                loop {
                    let v = rx.recv().await?;
                    if v["type"] == "lagged" {
                        skipped += v["missed"].as_u64().unwrap_or(0);
                        continue;
                    }
                    return Some(to_record(v, skipped));
                }
            }
        }
    }
}

fn to_record(v: serde_json::Value, skipped: u64) -> Event {
    let kind = v["type"].as_str().unwrap_or("unknown").to_string();
    let id = ["id", "conversation", "doc"]
        .iter()
        .find_map(|k| v[*k].as_str())
        .map(str::to_string);
    Event {
        kind,
        id,
        json: v.to_string(),
        skipped,
    }
}

#[uniffi::export]
impl EventStream {
    /// The next event; None once the node is closed. (tokio's channels need no runtime to
    /// be awaited, so the foreign event loop can poll this directly.)
    pub async fn next(&self) -> Option<Event> {
        self.recv().await
    }

    /// The next event, waiting at most `timeout_ms` (0: only what already arrived); None when
    /// nothing came in time or the node is closed.
    pub fn next_timeout(&self, timeout_ms: u64) -> Option<Event> {
        crate::block_on(async {
            tokio::time::timeout(Duration::from_millis(timeout_ms), self.recv())
                .await
                .ok()
                .flatten()
        })
    }
}
