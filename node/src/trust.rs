//! Who may spend this node's disk, memory and attention: trust tiers computed locally from the
//! social graph, and message requests for everyone else.
//!
//! [`Node::tier`] is the one place that decides how much a DID is trusted; the features ask it
//! before they store, download or track anything a peer sent:
//! - **own**: this node's DID;
//! - **contact**: someone this user follows, befriended (either side), approved as a follower,
//!   shares a circle, group or team with (as owner or member), or accepted from a request;
//! - **follow of follow**: someone a followed user follows (two hops, capped), served up to a
//!   small size;
//! - **stranger**: anyone else: what they send becomes a request (`trust/requests`) holding only
//!   who, what kind, the declared size and when; nothing is downloaded or tracked, and no
//!   receipt is sent, until the user accepts;
//! - **blocked**: refused outright (and the swarm lowers their gossip score).

pub mod requests;

use std::collections::BTreeSet;

use serde::Serialize;
use vivim_crdt::{DocId, DocKind, schema::GraphView};
use vivim_identity::Did;

use crate::node::Node;

pub use requests::{RequestItem, RequestView};

/// How much this node trusts a DID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Blocked by this user.
    Blocked,
    /// No relation.
    Stranger,
    /// Followed by someone this user follows.
    FollowOfFollow,
    /// A relation of this user's (follow, friend, co-member, accepted request).
    Contact,
    /// This node's own identity.
    Own,
}

/// Most follows-of-follows considered (the two-hop set is cut there).
pub const MAX_SECOND_HOP: usize = 10_000;
/// Most documents of others read when looking for co-membership.
const MAX_DOCS_SCANNED: usize = 4_096;
/// Largest share (declared package bytes) taken from a follow of a follow without a request.
pub const FOF_MAX_SHARE_BYTES: u64 = 8 * 1024 * 1024;
/// Most documents of one follow of a follow tracked without a request.
pub const FOF_MAX_DOCS: usize = 4;
/// Bytes of shares one contact may make this node download per day.
pub const CONTACT_BYTES_PER_DAY: u64 = 1024 * 1024 * 1024;

impl Node {
    /// The trust tier of `did`, from this node's graph document, the documents it tracks and
    /// the senders the user accepted.
    pub fn tier(&self, did: &Did) -> Tier {
        let me = self.key.did();
        if did == &me {
            return Tier::Own;
        }
        let graph = self
            .social
            .read(&DocId::graph(&me), GraphView::read)
            .unwrap_or_default();
        if graph.blocks.contains_key(did) {
            return Tier::Blocked;
        }
        if graph.follows.contains_key(did)
            || graph.friends.contains_key(did)
            || graph.approvals.contains_key(did)
            || graph.joins.keys().any(|j| j.writer() == did)
            || self.accepted(did)
            || self.shares_a_document_with(did)
        {
            return Tier::Contact;
        }
        let second: BTreeSet<Did> = graph
            .follows
            .keys()
            .filter_map(|f| self.social.read(&DocId::graph(f), GraphView::read))
            .flat_map(|g| g.follows.into_keys())
            .take(MAX_SECOND_HOP)
            .collect();
        if second.contains(did) {
            return Tier::FollowOfFollow;
        }
        Tier::Stranger
    }

    /// Whether `did` writes a document this node tracks (it was accepted once) or is a member
    /// of a circle, group or team this node writes or tracks.
    fn shares_a_document_with(&self, did: &Did) -> bool {
        let Ok(ids) = self.social.ids() else {
            return false;
        };
        let me = self.key.did();
        ids.iter().take(MAX_DOCS_SCANNED).any(|id| {
            if id.kind() == DocKind::Graph {
                return false;
            }
            if id.writer() == did {
                return true;
            }
            // The circle's, group's or team's members (the people a change to it concerns).
            let members = self.concerned(id);
            // Co-members of a document I write, or of one whose members include me.
            members.contains(did) && (id.writer() == &me || members.contains(&me))
        })
    }

    /// What `from`'s shares may still make this node download today: its tier's daily quota
    /// ([`CONTACT_BYTES_PER_DAY`], [`FOF_MAX_SHARE_BYTES`]) less what it used.
    pub fn share_budget(&self, from: &Did, now_ms: u64) -> u64 {
        let quota = match self.tier(from) {
            Tier::Own => u64::MAX,
            Tier::Contact => CONTACT_BYTES_PER_DAY,
            Tier::FollowOfFollow => FOF_MAX_SHARE_BYTES,
            Tier::Stranger | Tier::Blocked => 0,
        };
        quota.saturating_sub(self.share_state.spent_today(from, now_ms))
    }

    /// How many documents written by `did` this node tracks (a follow of a follow gets a few).
    pub fn tracked_of(&self, did: &Did) -> usize {
        self.social
            .ids()
            .map(|ids| ids.iter().filter(|id| id.writer() == did).count())
            .unwrap_or(0)
    }
}
