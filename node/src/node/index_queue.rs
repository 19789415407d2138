//! The search index's writer queue: captures and deletes hand their index changes to one
//! thread, in the order their store writes committed, instead of committing tantivy themselves.
//!
//! A tantivy commit (segments and `meta.json`, fsynced) costs about ten times a redb commit, so
//! a capture that waited for it would be held by the index, not by its own durability. The
//! capture is acknowledged once the store committed; the thread applies whatever waits (many
//! captures' documents, a delete) and commits once. Nothing is lost meanwhile: the index-dirty
//! mark is set before the store commit and cleared after the index commit, so a crash in
//! between rebuilds the index at the next start. And nothing is stale to the caller:
//! [`Node::search`] first waits until every change queued before it is searchable
//! (read-your-writes), which is at most one index commit.

use std::{
    sync::{Condvar, Mutex, Weak, atomic::AtomicU64, atomic::Ordering, mpsc},
    time::Duration,
};

use vivim_protocol::ConvId;

use crate::{lock, node::Node, search::IndexDoc};

/// How long a search waits for queued changes at most (then it answers from what is indexed).
const WAIT: Duration = Duration::from_secs(5);

/// One change to the index.
#[derive(Debug)]
pub(crate) enum Change {
    /// Documents of newly stored ACUs; `dirty` if the caller set the index-dirty mark for them.
    Add { docs: Vec<IndexDoc>, dirty: bool },
    /// Every document of a deleted conversation.
    Delete(ConvId),
}

/// The queue and what has been applied of it.
#[derive(Debug)]
pub(crate) struct IndexQueue {
    tx: Mutex<mpsc::Sender<(u64, Change)>>,
    submitted: AtomicU64,
    done: Mutex<u64>,
    applied: Condvar,
}

impl IndexQueue {
    /// A new queue and its receiving end (for [`start`]).
    pub(crate) fn new() -> (IndexQueue, mpsc::Receiver<(u64, Change)>) {
        let (tx, rx) = mpsc::channel();
        (
            IndexQueue {
                tx: Mutex::new(tx),
                submitted: AtomicU64::new(0),
                done: Mutex::new(0),
                applied: Condvar::new(),
            },
            rx,
        )
    }

    /// Queues a change; it is applied after every change queued before it.
    pub(crate) fn submit(&self, change: Change) {
        // Numbered and sent under one lock, so numbers arrive in order.
        let tx = lock(&self.tx);
        let seq = self.submitted.fetch_add(1, Ordering::SeqCst) + 1;
        if tx.send((seq, change)).is_err() {
            // The thread is gone (the node is stopping): count it as applied, so nobody
            // waits for it; the dirty mark stays and the next start rebuilds.
            drop(tx);
            self.applied_up_to(seq);
        }
    }

    /// Waits (at most [`WAIT`]) until every change queued so far is searchable.
    pub(crate) fn wait(&self) {
        let want = self.submitted.load(Ordering::SeqCst);
        let done = lock(&self.done);
        if *done >= want {
            return;
        }
        let _ = self
            .applied
            .wait_timeout_while(done, WAIT, |d| *d < want)
            .map_err(|_| ());
    }

    fn applied_up_to(&self, seq: u64) {
        let mut done = lock(&self.done);
        *done = (*done).max(seq);
        self.applied.notify_all();
    }
}

/// Starts the thread that applies the queue. It ends when the node is dropped.
pub(crate) fn start(node: Weak<Node>, rx: mpsc::Receiver<(u64, Change)>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("vivim-index".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut changes = vec![first];
                while changes.len() < 4096 {
                    match rx.try_recv() {
                        Ok(c) => changes.push(c),
                        Err(_) => break,
                    }
                }
                let Some(node) = node.upgrade() else { break };
                apply(&node, changes);
            }
        })?;
    Ok(())
}

fn apply(node: &Node, changes: Vec<(u64, Change)>) {
    let last = changes.last().map(|(s, _)| *s).unwrap_or(0);
    let mut marks = 0usize;
    let mut result = Ok(());
    for (_, change) in changes {
        let r = match change {
            Change::Add { docs, dirty } => {
                marks += usize::from(dirty);
                node.index.add_new(docs)
            }
            Change::Delete(id) => node.index.delete_conversation(&id),
        };
        if r.is_err() && result.is_ok() {
            result = r;
        }
    }
    match result.and_then(|()| node.index.commit()) {
        Ok(()) => {
            for _ in 0..marks {
                node.clear_index_dirty();
            }
        }
        // The marks stay: the next start rebuilds the index from the store.
        Err(e) => tracing::warn!("indexing captured messages: {e}"),
    }
    node.index_queue.applied_up_to(last);
}
