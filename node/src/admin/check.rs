//! `Node::check` (the integrity check) and `Node::rebuild` (the derived indexes).

use std::{
    sync::{Arc, atomic::Ordering},
    time::Instant,
};

use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};
use vivim_protocol::{DocUpdate, Signed};

use super::AdminError;
use crate::{node::Node, store::StoreError};

/// One thing the check found wrong.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// `bytes_mismatch` (the stored bytes are not the record its id names), `bad_record`
    /// (does not decode or its signature fails), `wrong_conversation`, `unlocated`,
    /// `bad_manifest`, `count_mismatch`, `unreadable_row`, `bad_document_update`,
    /// `index_mismatch`.
    pub kind: String,
    /// The conversation (or document) it concerns.
    pub conversation: Option<String>,
    /// The record (ACU or update) it concerns.
    pub record: Option<String>,
    /// What was found.
    pub detail: String,
}

/// The full-text index against the store.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IndexCheck {
    /// Documents in the index.
    pub docs: u64,
    /// Documents the stored messages make.
    pub expected: u64,
    /// Whether they agree.
    pub ok: bool,
}

/// What the integrity check found.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntegrityReport {
    /// No problem found.
    pub ok: bool,
    /// Conversations read.
    pub conversations: u64,
    /// ACUs and manifests re-verified (BLAKE3 and signature).
    pub records_checked: u64,
    /// Bytes of records read.
    pub bytes_checked: u64,
    /// Signed document updates re-verified.
    pub documents_checked: u64,
    /// Memories read.
    pub memories_checked: u64,
    /// Everything that failed, at most 1,000 (the count is in `problem_count`).
    pub problems: Vec<Problem>,
    /// How many problems were found.
    pub problem_count: u64,
    /// The search index against the store.
    pub index: IndexCheck,
    /// Time taken, ms.
    pub took_ms: u64,
}

/// What a rebuild did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rebuilt {
    /// `text` or `vectors`.
    pub what: String,
    /// Documents (text) or vectors written.
    pub docs: u64,
    /// Time taken, ms.
    pub took_ms: u64,
}

const MAX_LISTED: usize = 1_000;

impl Node {
    /// Re-verifies everything stored: every ACU's bytes against its id and its signature, every
    /// manifest, every row's counts, every signed document update; and the full-text index
    /// against the store. Runs beside a working node (it reads one snapshot).
    pub async fn check(self: &Arc<Self>) -> Result<IntegrityReport, AdminError> {
        let started = Instant::now();
        let node = self.clone();
        let (walked, expected, mut problems, count) = tokio::task::spawn_blocking(move || {
            // Queued index changes first, so the index is compared with what it should hold.
            node.index_queue.wait();
            let store = &node.store;
            let mut problems = Vec::new();
            let mut count = 0u64;
            let mut expected = 0u64;
            let walked = store.walk(
                &mut |row, acus| {
                    expected += crate::node::docs_for(&row.manifest, acus).len() as u64
                },
                &mut |d| {
                    count += 1;
                    if problems.len() < MAX_LISTED {
                        problems.push(Problem {
                            kind: d.kind.into(),
                            conversation: d.conversation.map(|c| c.to_string()),
                            record: d.record.map(|r| r.to_string()),
                            detail: d.detail,
                        });
                    }
                },
            )?;
            Ok::<_, StoreError>((walked, expected, problems, count))
        })
        .await
        .map_err(|e| AdminError::Invalid(format!("the check stopped: {e}")))??;
        let mut count = count;
        let (documents_checked, doc_problems) = self.check_documents()?;
        count += doc_problems.len() as u64;
        problems.extend(
            doc_problems
                .into_iter()
                .take(MAX_LISTED.saturating_sub(problems.len())),
        );
        let docs = self.index.doc_count();
        let index = IndexCheck {
            docs,
            expected,
            ok: docs == expected,
        };
        if !index.ok {
            count += 1;
            problems.push(Problem {
                kind: "index_mismatch".into(),
                conversation: None,
                record: None,
                detail: format!(
                    "the full-text index holds {docs} documents, the store makes {expected}: rebuild it"
                ),
            });
        }
        let memories_checked = match crate::organize::get(self).await {
            Ok(s) => s.memory.len() as u64,
            Err(_) => 0,
        };
        if count == 0 {
            tracing::info!(
                records = walked.acus,
                "integrity check: everything verified"
            );
        } else {
            tracing::info!(problems = count, "integrity check found problems");
        }
        Ok(IntegrityReport {
            ok: count == 0,
            conversations: walked.conversations,
            records_checked: walked.acus + walked.conversations,
            bytes_checked: walked.bytes,
            documents_checked,
            memories_checked,
            problems,
            problem_count: count,
            index,
            took_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Every signed document update kept: decodes, verifies, and names its document's writer.
    fn check_documents(&self) -> Result<(u64, Vec<Problem>), AdminError> {
        let db = self.store.database();
        let tx = db.begin_read().map_err(StoreError::from)?;
        let log = match tx.open_table(crate::store::docs::DOC_LOG) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok((0, Vec::new())),
            Err(e) => return Err(StoreError::from(e).into()),
        };
        let mut n = 0;
        let mut problems = Vec::new();
        for item in log.iter().map_err(StoreError::from)? {
            let (k, v) = item.map_err(StoreError::from)?;
            let (doc, seq) = k.value();
            n += 1;
            let bad = match Signed::<DocUpdate>::decode(v.value()) {
                Err(e) => Some(e.to_string()),
                Ok(u) => match doc.parse::<vivim_crdt::DocId>() {
                    Ok(id) if u.value().writer != id.writer().public_key() => Some(format!(
                        "signed by {}, not the writer",
                        u.value().writer.did()
                    )),
                    Ok(_) if u.value().doc != doc || u.value().seq != seq => {
                        Some("names another document or number".into())
                    }
                    Ok(_) => None,
                    Err(e) => Some(format!("document id: {e}")),
                },
            };
            if let Some(detail) = bad {
                problems.push(Problem {
                    kind: "bad_document_update".into(),
                    conversation: Some(doc.to_string()),
                    record: Some(format!("{doc}#{seq}")),
                    detail,
                });
            }
        }
        Ok((n, problems))
    }

    /// Rebuilds a derived index: `text` (full-text, from the store) or `vectors` (dropped and
    /// re-embedded by a pass that runs now).
    pub async fn rebuild(&self, what: &str) -> Result<Rebuilt, AdminError> {
        let started = Instant::now();
        let docs = match what {
            "text" => {
                let _order = self.index_order.lock().await;
                self.rebuild_index()
                    .await
                    .map_err(|e| AdminError::Invalid(e.to_string()))?
            }
            "vectors" => {
                let sem = crate::organize::get(self)
                    .await
                    .map_err(|e| AdminError::Invalid(e.to_string()))?;
                {
                    let _run = sem.run.lock().await;
                    sem.vectors
                        .clear()
                        .map_err(|e| AdminError::Invalid(e.to_string()))?;
                    sem.synced_generation.store(u64::MAX, Ordering::Relaxed);
                }
                crate::organize::catch_up(self)
                    .await
                    .map_err(|e| AdminError::Invalid(e.to_string()))?;
                sem.vectors.len() as u64
            }
            other => {
                return Err(AdminError::Invalid(format!(
                    "rebuild {other:?}: say text or vectors"
                )));
            }
        };
        tracing::info!(what, docs, "index rebuilt");
        Ok(Rebuilt {
            what: what.into(),
            docs,
            took_ms: started.elapsed().as_millis() as u64,
        })
    }
}
