//! Views derived from both sides' documents.

use serde::Serialize;
use vivim_identity::Did;

use crate::schema::{FriendSide, GraphView, GroupView, Role};

/// A friendship, as both graph docs say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FriendStatus {
    /// One side asked, the other has not answered.
    Pending,
    /// Both sides say yes.
    Accepted,
    /// The asked side declined.
    Rejected,
    /// Either side blocks the other.
    Blocked,
    /// The asking side withdrew (or a friend ended it).
    Cancelled,
}

/// Who moved first in a pending friendship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// I asked.
    Outgoing,
    /// They asked.
    Incoming,
}

/// The friendship between `me` and `other`, from my graph doc and theirs (`None` when theirs
/// has not arrived). `None` when neither side said anything.
pub fn friendship(
    me: &Did,
    mine: &GraphView,
    other: &Did,
    theirs: Option<&GraphView>,
) -> Option<(FriendStatus, Direction)> {
    let my = mine.friends.get(other).map(|e| e.state);
    let their = theirs.and_then(|t| t.friends.get(me)).map(|e| e.state);
    let blocked =
        mine.blocks.contains_key(other) || theirs.is_some_and(|t| t.blocks.contains_key(me));
    let direction = match (my, their) {
        (Some(FriendSide::Requested), _) => Direction::Outgoing,
        (_, Some(FriendSide::Requested)) => Direction::Incoming,
        (Some(_), None) => Direction::Outgoing,
        _ => Direction::Incoming,
    };
    if blocked {
        return Some((FriendStatus::Blocked, direction));
    }
    use FriendSide::*;
    let status = match (my, their) {
        (None, None) => return None,
        (Some(Cancelled), _) | (_, Some(Cancelled)) => FriendStatus::Cancelled,
        (Some(Rejected), _) | (_, Some(Rejected)) => FriendStatus::Rejected,
        (Some(Requested | Accepted), Some(Requested | Accepted)) => FriendStatus::Accepted,
        (Some(Requested | Accepted), None) | (None, Some(Requested | Accepted)) => {
            FriendStatus::Pending
        }
    };
    Some((status, direction))
}

/// A follow, as the followee's doc allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FollowStatus {
    /// Waiting for the followee's approval.
    Pending,
    /// In effect.
    Active,
    /// The followee blocks the follower.
    Blocked,
}

/// Whether `follower` (whose graph doc is `theirs`) follows `followee` (whose doc is
/// `followee_doc`, `None` until it arrives). `None` when there is no follow.
pub fn follow(
    follower: &Did,
    theirs: &GraphView,
    followee: &Did,
    followee_doc: Option<&GraphView>,
) -> Option<FollowStatus> {
    theirs.follows.get(followee)?;
    let Some(doc) = followee_doc else {
        return Some(FollowStatus::Active);
    };
    Some(if doc.blocks.contains_key(follower) {
        FollowStatus::Blocked
    } else if doc.profile.follow_approval && !doc.approvals.contains_key(follower) {
        FollowStatus::Pending
    } else {
        FollowStatus::Active
    })
}

/// Someone's standing in a group or team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "status", content = "role")]
pub enum Membership {
    /// A member, with a role.
    Member(Role),
    /// Asked to join; the owner has not accepted yet.
    Requested,
    /// Not a member.
    None,
}

/// `who`'s membership in `group`, given their graph doc (for join requests).
pub fn membership(group: &GroupView, who: &Did, their_graph: Option<&GraphView>) -> Membership {
    if group.deleted {
        return Membership::None;
    }
    if group.id.writer() == who {
        return Membership::Member(Role::Owner);
    }
    if let Some(m) = group.members.get(who) {
        return Membership::Member(m.role);
    }
    let asked = their_graph.is_some_and(|g| g.joins.contains_key(&group.id));
    if asked && group.open() {
        Membership::Member(Role::Member)
    } else if asked && group.by_approval() {
        Membership::Requested
    } else {
        Membership::None
    }
}
