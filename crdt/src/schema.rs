//! Typed views of each kind of document and the writes the product makes. Values written by
//! other clients (the PWA) that do not fit the schema are skipped when reading, never trusted.

use std::collections::BTreeMap;

use serde::Serialize;
use vivim_identity::Did;
use yrs::Any;

use crate::{
    DocId, DocKind, Replica,
    replica::{ms, object},
};

pub use crate::replica::Writer;

fn field<'a>(v: &'a Any, name: &str) -> Option<&'a Any> {
    match v {
        Any::Map(m) => m.get(name),
        _ => None,
    }
}

fn as_u64(v: Option<&Any>) -> Option<u64> {
    match v? {
        Any::Number(yrs::Number::Int(i)) => u64::try_from(*i).ok(),
        Any::Number(yrs::Number::Float(f)) if f.is_finite() && *f >= 0.0 => Some(*f as u64),
        _ => None,
    }
}

fn as_str(v: Option<&Any>) -> Option<&str> {
    match v? {
        Any::String(s) => Some(s),
        _ => None,
    }
}

fn as_bool(v: Option<&Any>) -> Option<bool> {
    match v? {
        Any::Bool(b) => Some(*b),
        _ => None,
    }
}

fn string(s: &str) -> Any {
    Any::String(s.into())
}

/// A user's profile (graph doc, map `profile`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// Display name.
    pub name: Option<String>,
    /// About.
    pub bio: Option<String>,
    /// New followers wait for approval.
    pub follow_approval: bool,
}

/// What the writer of a graph doc says about a friendship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FriendSide {
    /// "I asked."
    Requested,
    /// "I accept."
    Accepted,
    /// "I decline."
    Rejected,
    /// "I withdraw my request (or end the friendship)."
    Cancelled,
}

impl FriendSide {
    /// Its name in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            FriendSide::Requested => "requested",
            FriendSide::Accepted => "accepted",
            FriendSide::Rejected => "rejected",
            FriendSide::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Option<FriendSide> {
        Some(match s {
            "requested" => FriendSide::Requested,
            "accepted" => FriendSide::Accepted,
            "rejected" => FriendSide::Rejected,
            "cancelled" => FriendSide::Cancelled,
            _ => return None,
        })
    }
}

/// One `friends` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FriendEntry {
    /// What the writer says.
    pub state: FriendSide,
    /// When (ms).
    pub at: u64,
}

/// A join request (`joins` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JoinRequest {
    /// When (ms).
    pub at: u64,
    /// A note to the owner.
    pub message: String,
}

/// The graph doc, read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GraphView {
    /// Profile.
    pub profile: Profile,
    /// Who the writer follows, since when.
    pub follows: BTreeMap<Did, u64>,
    /// What the writer says about friendships.
    pub friends: BTreeMap<Did, FriendEntry>,
    /// Who the writer blocks, since when.
    pub blocks: BTreeMap<Did, u64>,
    /// Followers the writer approved.
    pub approvals: BTreeMap<Did, u64>,
    /// Groups and teams the writer asked to join.
    pub joins: BTreeMap<DocId, JoinRequest>,
}

fn did_entries(r: &Replica, map: &str) -> impl Iterator<Item = (Did, Any)> {
    r.entries(map)
        .into_iter()
        .filter_map(|(k, v)| k.parse::<Did>().ok().map(|d| (d, v)))
}

impl GraphView {
    /// Reads a graph doc.
    pub fn read(r: &Replica) -> GraphView {
        let p = |k: &str| r.get("profile", k);
        GraphView {
            profile: Profile {
                name: p("name")
                    .as_ref()
                    .and_then(|v| as_str(Some(v)).map(String::from)),
                bio: p("bio")
                    .as_ref()
                    .and_then(|v| as_str(Some(v)).map(String::from)),
                follow_approval: p("follow_approval")
                    .as_ref()
                    .and_then(|v| as_bool(Some(v)))
                    .unwrap_or(false),
            },
            follows: did_entries(r, "follows")
                .filter_map(|(d, v)| Some((d, as_u64(field(&v, "since"))?)))
                .collect(),
            friends: did_entries(r, "friends")
                .filter_map(|(d, v)| {
                    let state = FriendSide::parse(as_str(field(&v, "state"))?)?;
                    let at = as_u64(field(&v, "at")).unwrap_or(0);
                    Some((d, FriendEntry { state, at }))
                })
                .collect(),
            blocks: did_entries(r, "blocks")
                .map(|(d, v)| (d, as_u64(field(&v, "at")).unwrap_or(0)))
                .collect(),
            approvals: did_entries(r, "approvals")
                .map(|(d, v)| (d, as_u64(field(&v, "at")).unwrap_or(0)))
                .collect(),
            joins: r
                .entries("joins")
                .into_iter()
                .filter_map(|(k, v)| {
                    let id: DocId = k.parse().ok()?;
                    Some((
                        id,
                        JoinRequest {
                            at: as_u64(field(&v, "at")).unwrap_or(0),
                            message: as_str(field(&v, "message")).unwrap_or("").to_string(),
                        },
                    ))
                })
                .collect(),
        }
    }
}

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The owner (the document's writer).
    Owner,
    /// May manage members (through the owner's node).
    Admin,
    /// A member.
    Member,
}

impl Role {
    /// Its name in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// Parses `owner`, `admin` or `member`.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            "member" => Role::Member,
            _ => return None,
        })
    }
}

/// A `members` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Member {
    /// Role.
    pub role: Role,
    /// When added (ms).
    pub added: u64,
}

fn members(r: &Replica) -> BTreeMap<Did, Member> {
    did_entries(r, "members")
        .filter_map(|(d, v)| {
            let role = Role::parse(as_str(field(&v, "role"))?)?;
            let added = as_u64(field(&v, "added")).unwrap_or(0);
            Some((d, Member { role, added }))
        })
        .collect()
}

fn meta_str(r: &Replica, key: &str) -> Option<String> {
    r.get("meta", key)
        .and_then(|v| as_str(Some(&v)).map(String::from))
}

/// A circle, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CircleView {
    /// Its document id.
    pub id: DocId,
    /// Name.
    pub name: String,
    /// `public` or `private`.
    pub visibility: String,
    /// Created (ms).
    pub created: u64,
    /// Deleted by its owner.
    pub deleted: bool,
    /// Members.
    pub members: BTreeMap<Did, Member>,
    /// Members may share the circle's content onwards.
    pub reshare: bool,
    /// Members (not only the owner) may share to the circle.
    pub member_share: bool,
}

impl CircleView {
    /// Reads a circle doc (`None` until its meta has arrived).
    pub fn read(r: &Replica) -> Option<CircleView> {
        let name = meta_str(r, "name")?;
        Some(CircleView {
            id: r.id().clone(),
            name,
            visibility: meta_str(r, "visibility").unwrap_or_else(|| "private".into()),
            created: as_u64(r.get("meta", "created").as_ref()).unwrap_or(0),
            deleted: as_bool(r.get("meta", "deleted").as_ref()).unwrap_or(false),
            members: members(r),
            reshare: as_bool(r.get("policy", "reshare").as_ref()).unwrap_or(false),
            member_share: as_bool(r.get("policy", "member_share").as_ref()).unwrap_or(false),
        })
    }
}

/// A group or a team, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupView {
    /// Its document id.
    pub id: DocId,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Groups: GENERAL, STUDY, PROJECT or COMMUNITY. Teams: WORK, PROJECT or PERSONAL.
    pub kind: String,
    /// Groups: PUBLIC, APPROVAL or PRIVATE. Teams: OPEN or INVITE.
    pub access: String,
    /// Created (ms).
    pub created: u64,
    /// Deleted by its owner.
    pub deleted: bool,
    /// Members the owner added.
    pub members: BTreeMap<Did, Member>,
}

impl GroupView {
    /// Reads a group or team doc (`None` until its meta has arrived).
    pub fn read(r: &Replica) -> Option<GroupView> {
        let name = meta_str(r, "name")?;
        let access_key = if r.id().kind() == DocKind::Team {
            "access"
        } else {
            "visibility"
        };
        Some(GroupView {
            id: r.id().clone(),
            name,
            description: meta_str(r, "description").unwrap_or_default(),
            kind: meta_str(r, "kind").unwrap_or_default(),
            access: meta_str(r, access_key).unwrap_or_default(),
            created: as_u64(r.get("meta", "created").as_ref()).unwrap_or(0),
            deleted: as_bool(r.get("meta", "deleted").as_ref()).unwrap_or(false),
            members: members(r),
        })
    }

    /// Whether a join request alone makes the requester a member (PUBLIC, OPEN).
    pub fn open(&self) -> bool {
        matches!(self.access.as_str(), "PUBLIC" | "OPEN")
    }

    /// Whether join requests wait for the owner (APPROVAL); otherwise they are ignored
    /// (PRIVATE, INVITE) or enough (PUBLIC, OPEN).
    pub fn by_approval(&self) -> bool {
        self.access == "APPROVAL"
    }
}

/// Group kinds.
pub const GROUP_KINDS: [&str; 4] = ["GENERAL", "STUDY", "PROJECT", "COMMUNITY"];
/// Group visibilities.
pub const GROUP_VISIBILITY: [&str; 3] = ["PUBLIC", "APPROVAL", "PRIVATE"];
/// Team kinds.
pub const TEAM_KINDS: [&str; 3] = ["WORK", "PROJECT", "PERSONAL"];
/// Team access.
pub const TEAM_ACCESS: [&str; 2] = ["OPEN", "INVITE"];

// --- writes -----------------------------------------------------------------------------------

impl Writer<'_, '_> {
    /// Sets a profile field (`name`, `bio`).
    pub fn set_profile(&mut self, key: &str, value: &str) {
        self.put("profile", key, string(value));
    }

    /// Turns follow approval on or off.
    pub fn set_follow_approval(&mut self, on: bool) {
        self.put("profile", "follow_approval", Any::Bool(on));
    }

    /// Follows `did`.
    pub fn follow(&mut self, did: &Did, now: u64) {
        self.put("follows", &did.to_string(), object([("since", ms(now))]));
    }

    /// Stops following `did`.
    pub fn unfollow(&mut self, did: &Did) {
        self.remove("follows", &did.to_string());
    }

    /// Says `state` about a friendship with `did`.
    pub fn friend(&mut self, did: &Did, state: FriendSide, now: u64) {
        self.put(
            "friends",
            &did.to_string(),
            object([("state", string(state.as_str())), ("at", ms(now))]),
        );
    }

    /// Blocks `did`.
    pub fn block(&mut self, did: &Did, now: u64) {
        self.put("blocks", &did.to_string(), object([("at", ms(now))]));
    }

    /// Unblocks `did`.
    pub fn unblock(&mut self, did: &Did) {
        self.remove("blocks", &did.to_string());
    }

    /// Approves `did` as a follower.
    pub fn approve_follower(&mut self, did: &Did, now: u64) {
        self.put("approvals", &did.to_string(), object([("at", ms(now))]));
    }

    /// Asks to join a group or team.
    pub fn request_join(&mut self, doc: &DocId, message: &str, now: u64) {
        self.put(
            "joins",
            &doc.to_string(),
            object([("at", ms(now)), ("message", string(message))]),
        );
    }

    /// Withdraws a join request (leaves).
    pub fn cancel_join(&mut self, doc: &DocId) {
        self.remove("joins", &doc.to_string());
    }

    /// Sets a `meta` string field.
    pub fn set_meta(&mut self, key: &str, value: &str) {
        self.put("meta", key, string(value));
    }

    /// Sets the creation time (once, at creation).
    pub fn set_created(&mut self, now: u64) {
        self.put("meta", "created", ms(now));
    }

    /// Marks the document deleted.
    pub fn set_deleted(&mut self) {
        self.put("meta", "deleted", Any::Bool(true));
    }

    /// Sets a circle policy flag (`reshare`, `member_share`).
    pub fn set_policy(&mut self, key: &str, on: bool) {
        self.put("policy", key, Any::Bool(on));
    }

    /// Adds (or re-roles) a member.
    pub fn add_member(&mut self, did: &Did, role: Role, now: u64) {
        self.put(
            "members",
            &did.to_string(),
            object([("role", string(role.as_str())), ("added", ms(now))]),
        );
    }

    /// Removes a member.
    pub fn remove_member(&mut self, did: &Did) {
        self.remove("members", &did.to_string());
    }
}
