//! What the node asks of its network side. The node never holds the network: when one runs
//! (`vivim up`), it hands the node the sending end of a bounded channel of [`Outbound`] work,
//! and the network's features (document sync, sharing, publishing) take it from there. Without a
//! network the work is dropped: documents and shares catch up when the network starts.

use tokio::sync::{mpsc, oneshot};
use vivim_crdt::DocId;
use vivim_identity::Did;
use vivim_protocol::{Announce, ConvId, DocUpdate, SharingIntent, Signed};

/// Work queued for the network at most (more is dropped with a warning and caught up later).
pub const OUTBOUND_QUEUE: usize = 1024;

/// One piece of work for the network.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outbound {
    /// A document of mine changed: spread the signed update and tell these people directly.
    DocWritten {
        /// The document.
        id: DocId,
        /// The signed update.
        update: Signed<DocUpdate>,
        /// Who to notify besides the document's subscribers.
        notify: Vec<Did>,
    },
    /// Follow someone else's document (subscribe and catch up).
    WatchDoc(DocId),
    /// Subscribe to a gossip topic (someone I follow).
    Subscribe(String),
    /// Spread a sharing intent to its recipients (or only to these).
    SpreadIntent {
        /// The signed intent.
        intent: Signed<SharingIntent>,
        /// Only these recipients (a regrant); `None`: all of them.
        only: Option<Vec<Did>>,
    },
    /// Open the received shares that wait (a request was accepted).
    OpenShares,
    /// Refuse (or allow again) connections with someone the user blocked (or unblocked).
    Block {
        /// Whom.
        did: vivim_identity::Did,
        /// Blocked (else unblocked).
        blocked: bool,
    },
    /// Announce a conversation publicly (gossip and the DHT); answers with the announcement.
    Publish {
        /// The conversation.
        conv: ConvId,
        /// The signed announcement, or why publishing failed.
        reply: oneshot::Sender<Result<Signed<Announce>, String>>,
    },
    /// Stop the network (closing every connection); answers when it stopped.
    Shutdown(oneshot::Sender<()>),
}

/// The node's end of the channel: set while a network runs.
#[derive(Debug, Default)]
pub(crate) struct Link {
    tx: std::sync::RwLock<Option<mpsc::Sender<Outbound>>>,
}

impl Link {
    /// Connects a network; returns the receiving end it works from.
    pub(crate) fn connect(&self) -> mpsc::Receiver<Outbound> {
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        *self.tx.write().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        rx
    }

    /// The sender, while a network runs.
    pub(crate) fn sender(&self) -> Option<mpsc::Sender<Outbound>> {
        self.tx
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|t| !t.is_closed())
            .cloned()
    }

    /// Forgets the network (after it stopped).
    pub(crate) fn disconnect(&self) {
        *self.tx.write().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
