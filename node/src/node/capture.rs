//! Captures (`POST /api/v1/acus`, the CLI, apps): one message appended to a conversation,
//! durably, at a cost that does not grow with the conversation.
//!
//! Every capture goes through one queue. A thread takes what waits in it (up to
//! [`MAX_BATCH`] captures), appends them in order inside one redb write transaction
//! ([`AppendBatch`]) — each reading the conversation as the ones before it left it, so ten
//! concurrent captures into one conversation make a chain of ten, none lost — commits once
//! (one fsync for the whole batch: group commit), answers each caller, and hands the new
//! messages' documents (only those) to the index writer ([`crate::node::index_queue`]), which makes
//! them searchable before any later search answers. Because redb runs one write transaction at
//! a time, a batch is also serialized with imports and fetches writing the same conversation.

use std::sync::{Weak, atomic::Ordering};

use tokio::sync::{mpsc, oneshot};
use vivim_protocol::{Acu, Body, ConvId, Hash, Kind, Manifest, Role, Signed};

use crate::{
    import::ingest,
    node::index_queue::Change,
    node::{
        Capture, Event, Node, NodeError, doc_for, head_branch_visible, is_visible, parse_kind,
        parse_role,
    },
    now_ms,
    search::IndexDoc,
    store::{AcuBytes, AppendBatch, StoreError},
};

/// Most captures appended in one transaction.
pub const MAX_BATCH: usize = 256;

/// Captures waiting for the writer thread; callers wait when it is full (back-pressure).
const QUEUE: usize = 1024;

/// A capture checked and ready to append.
#[derive(Debug)]
pub(crate) struct Prepared {
    id: ConvId,
    /// Given as `conversation`: it must exist.
    must_exist: bool,
    provider: String,
    source_id: Option<String>,
    title: Option<String>,
    parent: Option<Hash>,
    role: Role,
    kind: Kind,
    lang: Option<String>,
    text: String,
    created_at_ms: u64,
}

type Reply = oneshot::Sender<Result<(Hash, ConvId), NodeError>>;

/// A capture and where its answer goes.
#[derive(Debug)]
pub(crate) struct Job {
    capture: Prepared,
    reply: Reply,
}

/// The sending end of the queue, held by the node.
pub(crate) type Queue = mpsc::Sender<Job>;

/// A new queue; [`start`] its writer once the node is in an `Arc`.
pub(crate) fn queue() -> (Queue, mpsc::Receiver<Job>) {
    mpsc::channel(QUEUE)
}

/// Starts the writer thread. It ends when the node is dropped (the queue closes).
pub(crate) fn start(node: Weak<Node>, mut rx: mpsc::Receiver<Job>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("vivim-capture".into())
        .spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                let mut jobs = vec![first];
                while jobs.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                match node.upgrade() {
                    Some(node) => run(&node, jobs),
                    None => {
                        for j in jobs {
                            let _ = j
                                .reply
                                .send(Err(NodeError::Invalid("the node stopped".into())));
                        }
                        break;
                    }
                }
            }
        })?;
    Ok(())
}

/// Checks a capture (what can be checked without the store) and queues it; answers when it is
/// durable and searchable.
pub(crate) async fn capture(node: &Node, c: Capture) -> Result<(Hash, ConvId), NodeError> {
    let capture = prepare(node, c)?;
    let (reply, answer) = oneshot::channel();
    node.capture_queue()
        .send(Job { capture, reply })
        .await
        .map_err(|_| NodeError::Invalid("the node is stopping".into()))?;
    answer
        .await
        .map_err(|_| NodeError::Invalid("the node stopped before storing the message".into()))?
}

fn prepare(node: &Node, c: Capture) -> Result<Prepared, NodeError> {
    let role = parse_role(&c.role)?;
    let kind = match c.kind.as_deref() {
        None => Kind::Text,
        Some(k) => parse_kind(k)?,
    };
    let max = vivim_protocol::limits::MAX_ACU_BYTES - 4096;
    if c.text.len() > max {
        return Err(NodeError::Invalid(format!(
            "text is {} bytes; a message holds at most {max} bytes",
            c.text.len()
        )));
    }
    let provider = c.provider.unwrap_or_else(|| "vivim".into());
    let id = match (&c.conversation, &c.source_id) {
        (Some(s), _) => s
            .parse::<ConvId>()
            .map_err(|e| NodeError::Invalid(format!("conversation: {e}")))?,
        (None, Some(src)) => ConvId::for_import(&node.key.public(), &provider, src),
        (None, None) => ConvId::random(),
    };
    let parent = match &c.parent {
        Some(p) => Some(
            p.parse::<Hash>()
                .map_err(|e| NodeError::Invalid(format!("parent: {e}")))?,
        ),
        None => None,
    };
    Ok(Prepared {
        id,
        must_exist: c.conversation.is_some(),
        provider,
        source_id: c.source_id,
        title: c.title,
        parent,
        role,
        kind,
        lang: c.lang,
        text: c.text,
        created_at_ms: c.created_at_ms.unwrap_or_else(now_ms),
    })
}

/// What one appended capture leaves to do after the commit.
struct Appended {
    acu: Hash,
    conversation: ConvId,
    doc: Option<IndexDoc>,
}

/// Appends a batch in one transaction, commits, indexes, answers.
fn run(node: &Node, jobs: Vec<Job>) {
    // Before the write transaction, as every holder takes it (see `Node::index_order`).
    let _order = node.index_order.blocking_lock();
    let started = std::time::Instant::now();
    let n = jobs.len();
    let mut batch = match node.store.append_batch() {
        Ok(b) => b,
        Err(e) => return fail_all(jobs, &e),
    };
    let mut results: Vec<(Reply, Result<Appended, NodeError>)> = Vec::with_capacity(jobs.len());
    for job in jobs {
        match append(node, &mut batch, &job.capture) {
            Ok(a) => results.push((job.reply, Ok(a))),
            // Refused before anything of it was written: the others go on.
            Err(Refused::Caller(e)) => results.push((job.reply, Err(e))),
            // A write failed part way: nothing of this batch may be committed.
            Err(Refused::Store(e)) => {
                drop(batch);
                let mut replies: Vec<Reply> = results.into_iter().map(|(r, _)| r).collect();
                replies.push(job.reply);
                for r in replies {
                    let _ = r.send(Err(NodeError::Invalid(format!("storing the message: {e}"))));
                }
                return;
            }
        }
    }
    let docs: Vec<IndexDoc> = results
        .iter_mut()
        .filter_map(|(_, r)| r.as_mut().ok().and_then(|a| a.doc.take()))
        .collect();
    if results.iter().any(|(_, r)| r.is_ok()) {
        // Set before the commit, cleared once the index committed them (see `index_queue`).
        let dirty = !docs.is_empty();
        if dirty {
            node.mark_index_dirty();
        }
        if let Err(e) = batch.commit() {
            if dirty {
                node.clear_index_dirty();
            }
            let replies = results.into_iter().map(|(r, _)| r).collect::<Vec<_>>();
            for r in replies {
                let _ = r.send(Err(NodeError::Store(StoreError::Db(e.to_string()))));
            }
            return;
        }
        if dirty {
            // Durable. The index follows on its own thread, in this order.
            node.index_queue.submit(Change::Add { docs, dirty });
        }
    }
    let stored = started.elapsed();
    tracing::debug!(
        captures = n,
        ms = stored.as_secs_f64() * 1e3,
        "capture batch"
    );
    for (reply, r) in results {
        if let Ok(a) = &r {
            node.changed();
            node.counters.captures.fetch_add(1, Ordering::Relaxed);
            let _ = node.events.send(Event::AcuAdded {
                id: a.acu.to_string(),
                conversation: a.conversation.to_string(),
            });
        }
        let _ = reply.send(r.map(|a| (a.acu, a.conversation)));
    }
}

fn fail_all(jobs: Vec<Job>, e: &StoreError) {
    for j in jobs {
        let _ = j
            .reply
            .send(Err(NodeError::Invalid(format!("storing the message: {e}"))));
    }
}

/// Why one capture was not appended.
enum Refused {
    /// The caller's mistake (unknown conversation or parent, another owner's conversation);
    /// nothing was written.
    Caller(NodeError),
    /// The store failed while writing.
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(_) | StoreError::NotFound(_) => Refused::Caller(e.into()),
            e => Refused::Store(e),
        }
    }
}

fn append(node: &Node, b: &mut AppendBatch<'_>, p: &Prepared) -> Result<Appended, Refused> {
    let id = p.id;
    let owner = node.key.public();
    let old = b.row(&id)?;
    if p.must_exist && old.is_none() {
        return Err(Refused::Caller(NodeError::NotFound(format!(
            "conversation {id}"
        ))));
    }
    let mut manifest = match old {
        Some(row) => row.manifest,
        None => Manifest {
            v: 1,
            id,
            provider: p.provider.clone(),
            source_id: p.source_id.clone(),
            source_url: None,
            title: p
                .title
                .clone()
                .unwrap_or_else(|| p.text.chars().take(60).collect()),
            created_at_ms: p.created_at_ms,
            updated_at_ms: p.created_at_ms,
            owner,
            model: None,
            message_count: 0,
            total_tokens: 0,
            head: None,
            forked_from: None,
            sig: None,
        },
    };
    if manifest.owner != owner {
        return Err(Refused::Caller(NodeError::Invalid(format!(
            "conversation {id} belongs to {}; only its owner adds messages to it",
            manifest.owner
        ))));
    }
    let parent = match p.parent {
        Some(h) => {
            if !b.holds(&id, &h)? {
                return Err(Refused::Caller(NodeError::Invalid(format!(
                    "parent {h} is not an ACU of conversation {id}"
                ))));
            }
            Some(h)
        }
        None => manifest.head,
    };
    let mut acu = Acu::new(
        id,
        parent,
        owner,
        p.role,
        p.kind,
        Body::text(p.text.clone()),
        p.created_at_ms,
    );
    acu.lang = p.lang.clone();
    let signed = Signed::sign(acu, &node.key)
        .map_err(|e| Refused::Caller(NodeError::Invalid(e.to_string())))?;
    let acu_id = signed.id();
    if b.holds(&id, &acu_id)? {
        // The same message, said at the same moment after the same parent: stored already.
        return Ok(Appended {
            acu: acu_id,
            conversation: id,
            doc: None,
        });
    }
    let continues_head = parent == manifest.head;
    manifest.head = Some(acu_id);
    manifest.updated_at_ms = manifest.updated_at_ms.max(p.created_at_ms);
    manifest.total_tokens += ingest::estimate_tokens(&p.text);
    manifest.message_count = if continues_head {
        manifest.message_count + u32::from(is_visible(signed.value()))
    } else {
        // A reply to an earlier message starts a branch: count the branch it ends.
        let mut all = b.acus(&id)?;
        all.push(signed.clone());
        head_branch_visible(&all, Some(acu_id))
    };
    manifest.sig = None;
    let manifest = Signed::sign(manifest, &node.key)
        .map_err(|e| Refused::Caller(NodeError::Invalid(e.to_string())))?;
    let (value, bytes) = AcuBytes::split(signed);
    b.append(&manifest, bytes)?;
    Ok(Appended {
        acu: acu_id,
        conversation: id,
        doc: doc_for(manifest.value(), acu_id, &value),
    })
}
