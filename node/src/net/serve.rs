//! What the blob server gives out: an allow list, not a list of what to refuse.
//!
//! Served are the hash sequences the node tagged to leave it (`conv/…`: published, pinned or
//! fetched public conversations; `share/…`: sealed share packages; `intent/…`: intents too large
//! for a request) and the items of those sequences, as long as no ended share covers them.
//! Every requested hash is checked, root and children: a request that reads an allowed blob as
//! a hash sequence (to reach whatever its bytes name) is refused, and so is an `Observe` of a
//! blob that is not served.

use std::{
    collections::HashSet,
    sync::{Arc, Weak},
    time::{Duration, Instant},
};

use futures::StreamExt;
use iroh_blobs::{
    BlobFormat, Hash as BlobHash,
    protocol::{ChunkRangesSeq, GetManyRequest, GetRequest},
};
use tokio::sync::Mutex;

use crate::{node::Node, now_ms};

/// Tag prefixes whose sequences leave the node.
const SERVED_TAGS: [&str; 3] = ["conv/", "share/", "intent/"];
/// How long a listing is trusted for hashes it contains (a miss always lists again, so a
/// conversation published a moment ago is served at once; a change to the shares lists again
/// too, so a revoked share's items go at once; a conversation deleted here stops being served
/// within this time).
const FRESH: Duration = Duration::from_secs(2);
/// Most items remembered (a node serving more lists again on each miss).
const MAX_ITEMS: usize = 4_000_000;

#[derive(Default)]
struct Listing {
    roots: HashSet<BlobHash>,
    items: HashSet<BlobHash>,
    at: Option<Instant>,
    /// The shares' version it was listed at.
    shares: u64,
}

/// The allow list, listed from the blob store's tags when needed.
#[derive(Clone)]
pub(crate) struct Served {
    node: Weak<Node>,
    listing: Arc<Mutex<Listing>>,
}

/// How a hash is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    /// The blob itself.
    Blob,
    /// The blob as a hash sequence, and some of its items.
    Seq,
}

fn ask(ranges: &ChunkRangesSeq) -> Ask {
    if ranges.is_blob() {
        Ask::Blob
    } else {
        Ask::Seq
    }
}

impl Served {
    pub(crate) fn new(node: Weak<Node>) -> Self {
        Served {
            node,
            listing: Arc::default(),
        }
    }

    async fn list(node: &Node) -> Listing {
        let mut out = Listing {
            at: Some(Instant::now()),
            shares: node.share_state.version(),
            ..Listing::default()
        };
        let blobs = node.store.blobs();
        let Ok(tags) = blobs.tags().list().await else {
            return out;
        };
        let tags: Vec<_> = tags.collect().await;
        for tag in tags.into_iter().flatten() {
            let name = String::from_utf8_lossy(tag.name.as_ref()).into_owned();
            if !SERVED_TAGS.iter().any(|p| name.starts_with(p)) || tag.format != BlobFormat::HashSeq
            {
                continue;
            }
            out.roots.insert(tag.hash);
            if out.items.len() >= MAX_ITEMS {
                continue;
            }
            if let Ok(seq) = blobs.blobs().get_bytes(tag.hash).await
                && let Ok(ids) = vivim_protocol::parse_hash_seq(&seq)
            {
                out.items
                    .extend(ids.into_iter().map(|h| BlobHash::from_bytes(h.0)));
            }
        }
        out
    }

    /// Whether every `(hash, how)` may be served now.
    async fn allows(&self, asked: &[(BlobHash, Ask)]) -> bool {
        let Some(node) = self.node.upgrade() else {
            return false;
        };
        let now = now_ms();
        if !asked
            .iter()
            .all(|(h, _)| node.share_state.may_serve(h.as_bytes(), now))
        {
            return false;
        }
        let check = |l: &Listing| {
            asked.iter().all(|(h, how)| match how {
                Ask::Seq => l.roots.contains(h),
                Ask::Blob => l.roots.contains(h) || l.items.contains(h),
            })
        };
        let mut listing = self.listing.lock().await;
        let fresh = listing.at.is_some_and(|t| t.elapsed() < FRESH)
            && listing.shares == node.share_state.version();
        if fresh && check(&listing) {
            return true;
        }
        *listing = Self::list(&node).await;
        check(&listing)
    }

    /// A get request: its root, read as a blob or as a sequence.
    pub(crate) async fn allows_get(&self, r: &GetRequest) -> bool {
        self.allows(&[(r.hash, ask(&r.ranges))]).await
    }

    /// A get-many request: every hash, each read as a blob.
    pub(crate) async fn allows_get_many(&self, r: &GetManyRequest) -> bool {
        let asked: Vec<(BlobHash, Ask)> = r.hashes.iter().map(|h| (*h, Ask::Blob)).collect();
        self.allows(&asked).await
    }

    /// An observe request (who holds how much of a blob): only of served blobs.
    pub(crate) async fn allows_observe(&self, hash: BlobHash) -> bool {
        self.allows(&[(hash, Ask::Blob)]).await
    }
}
