//! Message requests: what strangers sent, held small until the user decides.
//!
//! A request is one row per sender in the `requests` table: the sender, first and last seen,
//! and at most [`MAX_ITEMS_PER_SENDER`] items (kind, id, declared size, the intent's bytes when
//! small). At most [`MAX_SENDERS`] senders are held (the least recently seen goes first);
//! requests expire after [`REQUEST_TTL_MS`]. Writes are not fsynced: a request lost in a crash
//! comes back when its sender delivers again (nothing was acknowledged).
//!
//! Accepting makes the sender a contact (the `trusted` table), tracks the documents they
//! announced and opens the shares that were waiting; ignoring drops the request; blocking
//! drops it and adds the sender to the user's blocks.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use vivim_crdt::DocId;
use vivim_identity::Did;

use crate::{
    node::{Event, Node, NodeError, outbound::Outbound},
    now_ms,
    store::StoreError,
};

/// Requests by sender DID: JSON of [`RequestView`].
pub(crate) const REQUESTS: TableDefinition<&str, &[u8]> = TableDefinition::new("requests");
/// Senders the user accepted: DID → when.
pub(crate) const TRUSTED: TableDefinition<&str, u64> = TableDefinition::new("trusted");

/// Most senders with a pending request.
pub const MAX_SENDERS: usize = 200;
/// Most items held per sender.
pub const MAX_ITEMS_PER_SENDER: usize = 4;
/// How long a request is kept (30 days).
pub const REQUEST_TTL_MS: u64 = 30 * 24 * 3600 * 1000;
/// Largest intent kept inside a request (bigger ones are delivered again after acceptance).
pub const MAX_KEPT_INTENT: usize = 16 * 1024;

/// One thing a stranger sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestItem {
    /// `share` (a sealed share for this user), `share_ref` (a share too large to send inline),
    /// or a document kind (`graph`, `circle`, `group`, `team`) they say concerns this user.
    pub kind: String,
    /// The intent id, blob hash or document id.
    pub id: String,
    /// The size the sender declared, in bytes, when known.
    pub size: Option<u64>,
    /// A title, if the sender chose to reveal one.
    pub title: Option<String>,
    /// When it arrived (ms since the Unix epoch).
    pub at_ms: u64,
    /// The signed intent (small ones only), to open on acceptance.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_b64")]
    #[schema(value_type = Option<String>)]
    pub intent: Option<Vec<u8>>,
}

/// A pending request: who, since when, and what they sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestView {
    /// The sender's DID.
    pub did: String,
    /// First seen (ms since the Unix epoch).
    pub first_seen_ms: u64,
    /// Last seen.
    pub last_seen_ms: u64,
    /// What they sent (at most a few).
    pub items: Vec<RequestItem>,
}

mod opt_b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_some(&base64::engine::general_purpose::STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

fn db_err(e: impl std::fmt::Display) -> NodeError {
    NodeError::Store(StoreError::Db(e.to_string()))
}

/// What the user decides about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Make the sender a contact and take what they sent.
    Accept,
    /// Drop the request (they may send again).
    Ignore,
    /// Drop it and block the sender.
    Block,
}

impl std::str::FromStr for Decision {
    type Err = NodeError;
    fn from_str(s: &str) -> Result<Self, NodeError> {
        match s {
            "accept" => Ok(Decision::Accept),
            "ignore" => Ok(Decision::Ignore),
            "block" => Ok(Decision::Block),
            other => Err(NodeError::Invalid(format!(
                "{other:?}: accept, ignore or block"
            ))),
        }
    }
}

impl Node {
    /// Creates the request tables (at open).
    pub(crate) fn open_trust_tables(&self) -> Result<(), NodeError> {
        let tx = self.store.database().begin_write().map_err(db_err)?;
        tx.open_table(REQUESTS).map_err(db_err)?;
        tx.open_table(TRUSTED).map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(())
    }

    /// Whether the user accepted `did` from a request.
    pub(crate) fn accepted(&self, did: &Did) -> bool {
        let Ok(tx) = self.store.database().begin_read() else {
            return false;
        };
        tx.open_table(TRUSTED)
            .ok()
            .and_then(|t| t.get(did.to_string().as_str()).ok().flatten())
            .is_some()
    }

    /// The pending requests, most recently seen first (expired ones left out).
    pub fn requests(&self) -> Result<Vec<RequestView>, NodeError> {
        let tx = self.store.database().begin_read().map_err(db_err)?;
        let t = tx.open_table(REQUESTS).map_err(db_err)?;
        let cutoff = now_ms().saturating_sub(REQUEST_TTL_MS);
        let mut out = Vec::new();
        for row in t.iter().map_err(db_err)? {
            let (_, v) = row.map_err(db_err)?;
            if let Ok(r) = serde_json::from_slice::<RequestView>(v.value())
                && r.last_seen_ms >= cutoff
            {
                out.push(r);
            }
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.last_seen_ms));
        Ok(out)
    }

    /// Records what a stranger sent as a request (bounded per sender and in all; expired and
    /// least recently seen senders make room). Tells `/api/ws` subscribers about a new one.
    pub(crate) fn record_request(&self, did: &Did, item: RequestItem) -> Result<(), NodeError> {
        let now = now_ms();
        let key = did.to_string();
        let mut tx = self.store.database().begin_write().map_err(db_err)?;
        tx.set_durability(redb::Durability::None).map_err(db_err)?;
        let fresh;
        {
            let mut t = tx.open_table(REQUESTS).map_err(db_err)?;
            let existing = t
                .get(key.as_str())
                .map_err(db_err)?
                .and_then(|v| serde_json::from_slice::<RequestView>(v.value()).ok());
            let mut row = match existing {
                Some(r) if r.last_seen_ms + REQUEST_TTL_MS >= now => r,
                _ => RequestView {
                    did: key.clone(),
                    first_seen_ms: now,
                    last_seen_ms: now,
                    items: Vec::new(),
                },
            };
            row.last_seen_ms = now;
            fresh = !row.items.iter().any(|i| i.id == item.id);
            if let Some(same) = row.items.iter_mut().find(|i| i.id == item.id) {
                *same = item;
            } else if row.items.len() < MAX_ITEMS_PER_SENDER {
                row.items.push(item);
            }
            if row.first_seen_ms == now {
                // A new sender: make room (expired first, then the least recently seen).
                let mut rows: Vec<(String, u64)> = Vec::new();
                for r in t.iter().map_err(db_err)? {
                    let (k, v) = r.map_err(db_err)?;
                    let seen = serde_json::from_slice::<RequestView>(v.value())
                        .map(|r| r.last_seen_ms)
                        .unwrap_or(0);
                    rows.push((k.value().to_string(), seen));
                }
                rows.retain(|(k, _)| *k != key);
                rows.sort_by_key(|(_, seen)| *seen);
                let expired = rows
                    .iter()
                    .filter(|(_, seen)| seen + REQUEST_TTL_MS < now)
                    .count();
                let over = rows.len().saturating_sub(MAX_SENDERS - 1).max(expired);
                for (k, _) in rows.iter().take(over) {
                    t.remove(k.as_str()).map_err(db_err)?;
                }
            }
            let bytes = serde_json::to_vec(&row).map_err(db_err)?;
            t.insert(key.as_str(), bytes.as_slice()).map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
        if fresh {
            tracing::info!(%did, "a message request from someone this user does not know");
            let _ = self.events.send(Event::Request { did: key });
        }
        Ok(())
    }

    /// Accepts, ignores or blocks `did`'s request. Accepting with no request pending still
    /// makes them a contact.
    pub fn decide_request(
        &self,
        did: &Did,
        decision: Decision,
    ) -> Result<RequestOutcome, NodeError> {
        if did == &self.key.did() {
            return Err(NodeError::Invalid("that is your own DID".into()));
        }
        let key = did.to_string();
        let mut tx = self.store.database().begin_write().map_err(db_err)?;
        let request = {
            let mut t = tx.open_table(REQUESTS).map_err(db_err)?;
            t.remove(key.as_str())
                .map_err(db_err)?
                .and_then(|v| serde_json::from_slice::<RequestView>(v.value()).ok())
        };
        if decision == Decision::Accept {
            let mut t = tx.open_table(TRUSTED).map_err(db_err)?;
            t.insert(key.as_str(), now_ms()).map_err(db_err)?;
        } else {
            let mut t = tx.open_table(TRUSTED).map_err(db_err)?;
            t.remove(key.as_str()).map_err(db_err)?;
        }
        if decision != Decision::Accept {
            tx.set_durability(redb::Durability::None).map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
        let items = request.map(|r| r.items).unwrap_or_default();
        let mut outcome = RequestOutcome {
            did: key,
            decision: match decision {
                Decision::Accept => "accepted",
                Decision::Ignore => "ignored",
                Decision::Block => "blocked",
            }
            .into(),
            documents: 0,
            shares: 0,
        };
        match decision {
            Decision::Block => {
                self.block(did)?;
            }
            Decision::Ignore => {}
            Decision::Accept => {
                let mut open = false;
                for item in items {
                    if let Some(bytes) = &item.intent {
                        match self.accept_intent(bytes, false) {
                            Ok(Some(_)) => {
                                open = true;
                                outcome.shares += 1;
                            }
                            Ok(None) => {}
                            Err(e) => tracing::info!("a waiting share: {e}"),
                        }
                    } else if let Ok(id) = item.id.parse::<DocId>()
                        && id.writer() == did
                    {
                        self.watch_doc(&id)?;
                        outcome.documents += 1;
                    }
                }
                if open {
                    self.send_out(Outbound::OpenShares);
                }
            }
        }
        Ok(outcome)
    }
}

/// What deciding a request did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestOutcome {
    /// The sender.
    pub did: String,
    /// `accepted`, `ignored` or `blocked`.
    pub decision: String,
    /// Documents now tracked.
    pub documents: usize,
    /// Shares now being opened.
    pub shares: usize,
}
