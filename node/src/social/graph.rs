//! What a user does with the social graph — circles, friends, follows, groups, teams — as
//! operations on the node's documents. The CLI (without a running node) and the gateway both
//! call these; changes go to the network as [`Outbound`] work when one runs.

use crate::now_ms;
use std::collections::BTreeMap;

use serde::Serialize;
use vivim_crdt::{
    DocId, DocKind,
    schema::{CircleView, FriendSide, GraphView, GroupView, Role, Writer},
    status::{self, Direction, FriendStatus, Membership},
};
use vivim_identity::Did;

use crate::node::{Event, Node, NodeError, outbound::Outbound};

/// A member, for listings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberOut {
    /// DID.
    pub did: String,
    /// `owner`, `admin` or `member`.
    pub role: String,
    /// When added (ms).
    pub added: u64,
}

/// A circle, for listings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CircleOut {
    /// Document id (`circle.<owner>.<name>`).
    pub id: String,
    /// Name.
    pub name: String,
    /// `public` or `private`.
    pub visibility: String,
    /// Owner DID.
    pub owner: String,
    /// This node's user owns it.
    pub mine: bool,
    /// Created (ms).
    pub created: u64,
    /// Members.
    pub members: Vec<MemberOut>,
    /// Members may share its content onwards.
    pub reshare: bool,
    /// Members may share to it.
    pub member_share: bool,
    /// Last applied update number.
    pub seq: u64,
}

/// A friendship, for listings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FriendOut {
    /// The other person's DID.
    pub did: String,
    /// PENDING, ACCEPTED, REJECTED, BLOCKED or CANCELLED.
    pub status: String,
    /// `outgoing` (I asked) or `incoming`.
    pub direction: String,
    /// Their profile name, when known.
    pub name: Option<String>,
}

/// A follow, for listings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FollowOut {
    /// The other person's DID.
    pub did: String,
    /// PENDING, ACTIVE or BLOCKED.
    pub status: String,
    /// Their profile name, when known.
    pub name: Option<String>,
}

/// Who I follow and who follows me.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FollowsOut {
    /// People I follow.
    pub following: Vec<FollowOut>,
    /// People who follow me (as far as their graph docs reached this node).
    pub followers: Vec<FollowOut>,
}

/// A group or team, for listings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupOut {
    /// Document id (`group.<owner>.<name>` or `team.…`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// GENERAL/STUDY/PROJECT/COMMUNITY (groups) or WORK/PROJECT/PERSONAL (teams).
    pub kind: String,
    /// PUBLIC/APPROVAL/PRIVATE (groups) or OPEN/INVITE (teams).
    pub access: String,
    /// Owner DID.
    pub owner: String,
    /// Members the owner added, and requesters that an open group counts.
    pub members: Vec<MemberOut>,
    /// Join requests waiting for the owner (APPROVAL groups).
    pub requests: Vec<String>,
    /// This node's user: `{status: "member", role}`, `{status: "requested"}` or
    /// `{status: "none"}`.
    #[schema(value_type = Object)]
    pub me: Membership,
    /// Created (ms).
    pub created: u64,
}

fn random_u64() -> Result<u64, NodeError> {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).map_err(|e| NodeError::Invalid(format!("randomness: {e}")))?;
    Ok(u64::from_le_bytes(b))
}

fn members_out(m: &BTreeMap<Did, vivim_crdt::schema::Member>) -> Vec<MemberOut> {
    m.iter()
        .map(|(d, m)| MemberOut {
            did: d.to_string(),
            role: m.role.as_str().into(),
            added: m.added,
        })
        .collect()
}

fn upper<T: Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Parses a DID argument with a clear error.
pub fn parse_did(s: &str) -> Result<Did, NodeError> {
    s.trim()
        .parse()
        .map_err(|e| NodeError::Invalid(format!("{s:?} is not a DID: {e}")))
}

/// Parses a document id argument with a clear error.
pub fn parse_doc(s: &str, kind: DocKind) -> Result<DocId, NodeError> {
    let id: DocId = s
        .trim()
        .parse()
        .map_err(|e| NodeError::Invalid(format!("{s:?}: {e}")))?;
    if id.kind() != kind {
        return Err(NodeError::Invalid(format!(
            "{s} is a {} document, not a {}",
            id.kind().as_str(),
            kind.as_str()
        )));
    }
    Ok(id)
}

impl Node {
    /// This user's graph doc id.
    pub fn graph_id(&self) -> DocId {
        DocId::graph(&self.key.did())
    }

    fn graph_of(&self, did: &Did) -> Option<GraphView> {
        self.social.read(&DocId::graph(did), GraphView::read)
    }

    fn my_graph(&self) -> GraphView {
        self.graph_of(&self.key.did()).unwrap_or_default()
    }

    /// Writes one of my documents, and hands the signed change to the network (with the
    /// people it concerns, who are told about the document directly).
    pub fn write_doc<F>(&self, id: &DocId, notify: &[Did], f: F) -> Result<u64, NodeError>
    where
        F: FnOnce(&mut Writer<'_, '_>),
    {
        let signed = self.social.write(id, f)?;
        Ok(self.spread(id, signed, || notify.to_vec()))
    }

    /// After a local change: the event for `/api/ws`, and the signed update (with the people
    /// to tell) to the network when it is up. Returns the document's last update number.
    fn spread(
        &self,
        id: &DocId,
        signed: Option<vivim_protocol::Signed<vivim_protocol::DocUpdate>>,
        notify: impl FnOnce() -> Vec<Did>,
    ) -> u64 {
        let seq = self.social.applied(id);
        if let Some(signed) = signed {
            let _ = self.events.send(Event::DocChanged {
                doc: id.to_string(),
                seq,
                local: true,
            });
            if self.network_up() {
                self.send_out(Outbound::DocWritten {
                    id: id.clone(),
                    update: signed,
                    notify: notify(),
                });
            }
        }
        seq
    }

    /// Applies an update from a local Yjs client (the PWA) to one of my documents; it is
    /// signed and spread like any other change.
    pub fn write_doc_update(&self, id: &DocId, update: &[u8]) -> Result<u64, NodeError> {
        let signed = self.social.write_update(id, update)?;
        let changed = signed.is_some();
        let seq = self.spread(id, signed, || self.concerned(id));
        if changed
            && id.kind() == DocKind::Circle
            && let Err(e) = self.regrant_circle(id)
        {
            tracing::warn!(%id, "granting shares to new members: {e}");
        }
        Ok(seq)
    }

    /// Starts following someone else's document (and fetches it when the network is up).
    pub fn watch_doc(&self, id: &DocId) -> Result<(), NodeError> {
        if id.writer() == &self.key.did() {
            return Ok(());
        }
        self.social.track(id)?;
        self.send_out(Outbound::WatchDoc(id.clone()));
        Ok(())
    }

    /// Sets my profile.
    pub fn set_profile(
        &self,
        name: Option<&str>,
        bio: Option<&str>,
        follow_approval: Option<bool>,
    ) -> Result<u64, NodeError> {
        self.write_doc(&self.graph_id(), &[], |w| {
            if let Some(n) = name {
                w.set_profile("name", n);
            }
            if let Some(b) = bio {
                w.set_profile("bio", b);
            }
            if let Some(a) = follow_approval {
                w.set_follow_approval(a);
            }
        })
    }

    // --- circles ---------------------------------------------------------------------------

    fn circle_out(&self, id: &DocId) -> Option<CircleOut> {
        let v = self.social.read(id, CircleView::read)??;
        Some(CircleOut {
            id: id.to_string(),
            name: v.name,
            visibility: v.visibility,
            owner: id.writer().to_string(),
            mine: id.writer() == &self.key.did(),
            created: v.created,
            members: members_out(&v.members),
            reshare: v.reshare,
            member_share: v.member_share,
            seq: self.social.applied(id),
        })
        .filter(|_| !v.deleted)
    }

    /// Creates a circle with me as owner and `members`.
    pub fn circle_create(
        &self,
        name: &str,
        visibility: &str,
        members: &[Did],
    ) -> Result<CircleOut, NodeError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(NodeError::Invalid(
                "a circle name is 1-200 characters".into(),
            ));
        }
        if !matches!(visibility, "public" | "private") {
            return Err(NodeError::Invalid("visibility is public or private".into()));
        }
        let id = DocId::random(DocKind::Circle, &self.key.did(), random_u64()?);
        let me = self.key.did();
        let now = now_ms();
        self.write_doc(&id, members, |w| {
            w.set_meta("name", name);
            w.set_meta("visibility", visibility);
            w.set_created(now);
            w.set_policy("reshare", false);
            w.set_policy("member_share", false);
            w.add_member(&me, Role::Owner, now);
            for m in members {
                if m != &me {
                    w.add_member(m, Role::Member, now);
                }
            }
        })?;
        self.circle_out(&id)
            .ok_or_else(|| NodeError::NotFound(id.to_string()))
    }

    /// Circles I own or belong to.
    pub fn circles(&self) -> Result<Vec<CircleOut>, NodeError> {
        let me = self.key.did().to_string();
        let mut out: Vec<CircleOut> = self
            .social
            .ids()?
            .iter()
            .filter(|id| id.kind() == DocKind::Circle)
            .filter_map(|id| self.circle_out(id))
            .filter(|c| c.mine || c.members.iter().any(|m| m.did == me))
            .collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// One circle.
    pub fn circle(&self, id: &str) -> Result<CircleOut, NodeError> {
        let id = parse_doc(id, DocKind::Circle)?;
        self.circle_out(&id)
            .ok_or_else(|| NodeError::NotFound(format!("circle {id}")))
    }

    /// Adds (or re-roles) a member of my circle.
    pub fn circle_add(&self, id: &str, did: &Did, role: Role) -> Result<CircleOut, NodeError> {
        let id = parse_doc(id, DocKind::Circle)?;
        self.circle(&id.to_string())?;
        if role == Role::Owner {
            return Err(NodeError::Invalid("a circle has one owner".into()));
        }
        let now = now_ms();
        self.write_doc(&id, std::slice::from_ref(did), |w| {
            w.add_member(did, role, now)
        })?;
        // The new member gets the keys of what was shared with the circle.
        if let Err(e) = self.regrant_circle(&id) {
            tracing::warn!(%id, "granting shares to a new member: {e}");
        }
        self.circle(&id.to_string())
    }

    /// Removes a member of my circle.
    pub fn circle_remove(&self, id: &str, did: &Did) -> Result<CircleOut, NodeError> {
        let id = parse_doc(id, DocKind::Circle)?;
        self.circle(&id.to_string())?;
        if did == id.writer() {
            return Err(NodeError::Invalid(
                "the owner cannot leave their circle; delete it".into(),
            ));
        }
        self.write_doc(&id, &[], |w| w.remove_member(did))?;
        self.circle(&id.to_string())
    }

    /// Deletes my circle (members see it go).
    pub fn circle_delete(&self, id: &str) -> Result<(), NodeError> {
        let id = parse_doc(id, DocKind::Circle)?;
        self.circle(&id.to_string())?;
        self.write_doc(&id, &[], |w| w.set_deleted())?;
        Ok(())
    }

    // --- friends ---------------------------------------------------------------------------

    fn set_friend(&self, did: &Did, side: FriendSide) -> Result<FriendOut, NodeError> {
        if did == &self.key.did() {
            return Err(NodeError::Invalid("that is your own DID".into()));
        }
        let now = now_ms();
        self.watch_doc(&DocId::graph(did))?;
        self.write_doc(&self.graph_id(), std::slice::from_ref(did), |w| {
            w.friend(did, side, now)
        })?;
        self.friend(did)
    }

    /// Asks `did` to be friends.
    pub fn friend_request(&self, did: &Did) -> Result<FriendOut, NodeError> {
        self.set_friend(did, FriendSide::Requested)
    }

    /// Accepts `did`'s request.
    pub fn friend_accept(&self, did: &Did) -> Result<FriendOut, NodeError> {
        self.set_friend(did, FriendSide::Accepted)
    }

    /// Declines `did`'s request.
    pub fn friend_reject(&self, did: &Did) -> Result<FriendOut, NodeError> {
        self.set_friend(did, FriendSide::Rejected)
    }

    /// Withdraws my request (or ends the friendship).
    pub fn friend_cancel(&self, did: &Did) -> Result<FriendOut, NodeError> {
        self.set_friend(did, FriendSide::Cancelled)
    }

    /// Blocks `did` (friendship and follows become BLOCKED).
    pub fn block(&self, did: &Did) -> Result<FriendOut, NodeError> {
        if did == &self.key.did() {
            return Err(NodeError::Invalid("that is your own DID".into()));
        }
        let now = now_ms();
        self.write_doc(&self.graph_id(), std::slice::from_ref(did), |w| {
            w.block(did, now)
        })?;
        self.send_out(Outbound::Block {
            did: *did,
            blocked: true,
        });
        self.friend(did)
    }

    /// Unblocks `did`.
    pub fn unblock(&self, did: &Did) -> Result<FriendOut, NodeError> {
        self.write_doc(&self.graph_id(), &[], |w| w.unblock(did))?;
        self.send_out(Outbound::Block {
            did: *did,
            blocked: false,
        });
        self.friend(did)
    }

    /// The friendship with `did`.
    pub fn friend(&self, did: &Did) -> Result<FriendOut, NodeError> {
        let me = self.key.did();
        let theirs = self.graph_of(did);
        let (status, direction) = status::friendship(&me, &self.my_graph(), did, theirs.as_ref())
            .unwrap_or((FriendStatus::Cancelled, Direction::Outgoing));
        Ok(FriendOut {
            did: did.to_string(),
            status: upper(status),
            direction: upper(direction),
            name: theirs.and_then(|t| t.profile.name),
        })
    }

    /// Everyone with a friendship state: those I said something about, and those whose graph
    /// docs say something about me.
    pub fn friends(&self) -> Result<Vec<FriendOut>, NodeError> {
        let me = self.key.did();
        let mine = self.my_graph();
        let mut dids: std::collections::BTreeSet<Did> = mine.friends.keys().cloned().collect();
        dids.extend(mine.blocks.keys().cloned());
        for id in self.social.ids()? {
            if id.kind() == DocKind::Graph
                && id.writer() != &me
                && let Some(g) = self.graph_of(id.writer())
                && g.friends.contains_key(&me)
            {
                dids.insert(*id.writer());
            }
        }
        let mut out = Vec::new();
        for d in dids {
            let theirs = self.graph_of(&d);
            if let Some((status, direction)) = status::friendship(&me, &mine, &d, theirs.as_ref()) {
                out.push(FriendOut {
                    did: d.to_string(),
                    status: upper(status),
                    direction: upper(direction),
                    name: theirs.and_then(|t| t.profile.name),
                });
            }
        }
        Ok(out)
    }

    // --- follows ---------------------------------------------------------------------------

    /// Follows `did`.
    pub fn follow(&self, did: &Did) -> Result<FollowOut, NodeError> {
        if did == &self.key.did() {
            return Err(NodeError::Invalid("that is your own DID".into()));
        }
        let now = now_ms();
        self.watch_doc(&DocId::graph(did))?;
        self.write_doc(&self.graph_id(), std::slice::from_ref(did), |w| {
            w.follow(did, now)
        })?;
        // Their publications reach my feed.
        self.send_out(Outbound::Subscribe(crate::net::p2p::user_topic(did)));
        self.following(did)
            .ok_or_else(|| NodeError::NotFound(format!("follow of {did}")))
    }

    /// Stops following `did`.
    pub fn unfollow(&self, did: &Did) -> Result<(), NodeError> {
        self.write_doc(&self.graph_id(), &[], |w| w.unfollow(did))?;
        Ok(())
    }

    /// Approves a follower (when my profile asks for approval).
    pub fn approve_follower(&self, did: &Did) -> Result<(), NodeError> {
        let now = now_ms();
        self.write_doc(&self.graph_id(), std::slice::from_ref(did), |w| {
            w.approve_follower(did, now)
        })?;
        Ok(())
    }

    fn following(&self, did: &Did) -> Option<FollowOut> {
        let theirs = self.graph_of(did);
        let s = status::follow(&self.key.did(), &self.my_graph(), did, theirs.as_ref())?;
        Some(FollowOut {
            did: did.to_string(),
            status: upper(s),
            name: theirs.and_then(|t| t.profile.name),
        })
    }

    /// Who I follow and who follows me.
    pub fn follows(&self) -> Result<FollowsOut, NodeError> {
        let me = self.key.did();
        let mine = self.my_graph();
        let following = mine
            .follows
            .keys()
            .filter_map(|d| self.following(d))
            .collect();
        let mut followers = Vec::new();
        for id in self.social.ids()? {
            if id.kind() != DocKind::Graph || id.writer() == &me {
                continue;
            }
            if let Some(g) = self.graph_of(id.writer())
                && let Some(s) = status::follow(id.writer(), &g, &me, Some(&mine))
            {
                followers.push(FollowOut {
                    did: id.writer().to_string(),
                    status: upper(s),
                    name: g.profile.name.clone(),
                });
            }
        }
        Ok(FollowsOut {
            following,
            followers,
        })
    }

    // --- groups and teams ------------------------------------------------------------------

    fn group_out(&self, id: &DocId) -> Option<GroupOut> {
        let v = self.social.read(id, GroupView::read)??;
        if v.deleted {
            return None;
        }
        let me = self.key.did();
        let my_membership = status::membership(&v, &me, Some(&self.my_graph()));
        let mut members = members_out(&v.members);
        let mut requests = Vec::new();
        // Requesters whose graph docs reached us.
        for gid in self.social.ids().unwrap_or_default() {
            if gid.kind() != DocKind::Graph || v.members.contains_key(gid.writer()) {
                continue;
            }
            let Some(g) = self.graph_of(gid.writer()) else {
                continue;
            };
            match status::membership(&v, gid.writer(), Some(&g)) {
                Membership::Member(role) if gid.writer() != id.writer() => {
                    members.push(MemberOut {
                        did: gid.writer().to_string(),
                        role: role.as_str().into(),
                        added: g.joins.get(id).map(|j| j.at).unwrap_or(0),
                    })
                }
                Membership::Requested => requests.push(gid.writer().to_string()),
                _ => {}
            }
        }
        Some(GroupOut {
            id: id.to_string(),
            name: v.name,
            description: v.description,
            kind: v.kind,
            access: v.access,
            owner: id.writer().to_string(),
            members,
            requests,
            me: my_membership,
            created: v.created,
        })
    }

    /// Creates a group (`kind` GENERAL/STUDY/PROJECT/COMMUNITY, `access` PUBLIC/APPROVAL/
    /// PRIVATE) or a team (`kind` WORK/PROJECT/PERSONAL, `access` OPEN/INVITE).
    pub fn group_create(
        &self,
        doc_kind: DocKind,
        name: &str,
        kind: &str,
        access: &str,
        description: &str,
    ) -> Result<GroupOut, NodeError> {
        use vivim_crdt::schema::{GROUP_KINDS, GROUP_VISIBILITY, TEAM_ACCESS, TEAM_KINDS};
        let (kinds, accesses, access_key): (&[&str], &[&str], &str) = match doc_kind {
            DocKind::Group => (&GROUP_KINDS, &GROUP_VISIBILITY, "visibility"),
            DocKind::Team => (&TEAM_KINDS, &TEAM_ACCESS, "access"),
            _ => return Err(NodeError::Invalid("not a group or team".into())),
        };
        let kind = kind.to_ascii_uppercase();
        let access = access.to_ascii_uppercase();
        if !kinds.contains(&kind.as_str()) {
            return Err(NodeError::Invalid(format!(
                "kind is one of {}",
                kinds.join(", ")
            )));
        }
        if !accesses.contains(&access.as_str()) {
            return Err(NodeError::Invalid(format!(
                "{access_key} is one of {}",
                accesses.join(", ")
            )));
        }
        let name = name.trim();
        if name.is_empty() || name.len() > 200 || description.len() > 4000 {
            return Err(NodeError::Invalid(
                "a name is 1-200 characters, a description at most 4000".into(),
            ));
        }
        let id = DocId::random(doc_kind, &self.key.did(), random_u64()?);
        let me = self.key.did();
        let now = now_ms();
        self.write_doc(&id, &[], |w| {
            w.set_meta("name", name);
            w.set_meta("description", description);
            w.set_meta("kind", &kind);
            w.set_meta(access_key, &access);
            w.set_created(now);
            w.add_member(&me, Role::Owner, now);
        })?;
        self.group_out(&id)
            .ok_or_else(|| NodeError::NotFound(id.to_string()))
    }

    /// Groups (or teams) I own, belong to or asked to join.
    pub fn groups(&self, doc_kind: DocKind) -> Result<Vec<GroupOut>, NodeError> {
        let mut out: Vec<GroupOut> = self
            .social
            .ids()?
            .iter()
            .filter(|id| id.kind() == doc_kind)
            .filter_map(|id| self.group_out(id))
            .filter(|g| g.me != Membership::None)
            .collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// One group or team (fetched from the network when not here yet: it may be empty until
    /// its owner's node answers).
    pub fn group(&self, id: &str, doc_kind: DocKind) -> Result<GroupOut, NodeError> {
        let id = parse_doc(id, doc_kind)?;
        self.group_out(&id)
            .ok_or_else(|| NodeError::NotFound(format!("{} {id}", doc_kind.as_str())))
    }

    /// Asks to join a group or team: a request in my graph doc, sent to its owner.
    pub fn group_join(&self, id: &str, doc_kind: DocKind, message: &str) -> Result<(), NodeError> {
        let id = parse_doc(id, doc_kind)?;
        if message.len() > 1000 {
            return Err(NodeError::Invalid(
                "a join message is at most 1000 bytes".into(),
            ));
        }
        self.watch_doc(&id)?;
        let now = now_ms();
        self.write_doc(&self.graph_id(), std::slice::from_ref(id.writer()), |w| {
            w.request_join(&id, message, now)
        })?;
        Ok(())
    }

    /// Leaves a group or team (withdraws the request; the owner may also remove me).
    pub fn group_leave(&self, id: &str, doc_kind: DocKind) -> Result<(), NodeError> {
        let id = parse_doc(id, doc_kind)?;
        self.write_doc(&self.graph_id(), &[], |w| w.cancel_join(&id))?;
        Ok(())
    }

    /// Adds a member to my group or team (accepting a request, or inviting).
    pub fn group_add(
        &self,
        id: &str,
        doc_kind: DocKind,
        did: &Did,
        role: Role,
    ) -> Result<GroupOut, NodeError> {
        let gid = parse_doc(id, doc_kind)?;
        self.group(id, doc_kind)?;
        if role == Role::Owner {
            return Err(NodeError::Invalid("a group has one owner".into()));
        }
        let now = now_ms();
        self.write_doc(&gid, std::slice::from_ref(did), |w| {
            w.add_member(did, role, now)
        })?;
        self.group(id, doc_kind)
    }

    /// Removes a member from my group or team.
    pub fn group_remove(
        &self,
        id: &str,
        doc_kind: DocKind,
        did: &Did,
    ) -> Result<GroupOut, NodeError> {
        let gid = parse_doc(id, doc_kind)?;
        self.group(id, doc_kind)?;
        self.write_doc(&gid, &[], |w| w.remove_member(did))?;
        self.group(id, doc_kind)
    }

    /// Deletes my group or team.
    pub fn group_delete(&self, id: &str, doc_kind: DocKind) -> Result<(), NodeError> {
        let gid = parse_doc(id, doc_kind)?;
        self.group(id, doc_kind)?;
        self.write_doc(&gid, &[], |w| w.set_deleted())?;
        Ok(())
    }

    /// The DIDs a document of mine concerns (members, friends, follows): told about it when
    /// they come online.
    pub fn concerned(&self, id: &DocId) -> Vec<Did> {
        match id.kind() {
            DocKind::Graph => {
                let g = self.my_graph();
                let mut v: Vec<Did> = g.friends.keys().cloned().collect();
                v.extend(g.follows.keys().cloned());
                v.extend(g.blocks.keys().cloned());
                v.extend(g.joins.keys().map(|j| *j.writer()));
                v
            }
            DocKind::Circle => self
                .social
                .read(id, CircleView::read)
                .flatten()
                .map(|c| c.members.into_keys().collect())
                .unwrap_or_default(),
            DocKind::Group | DocKind::Team => self
                .social
                .read(id, GroupView::read)
                .flatten()
                .map(|g| g.members.into_keys().collect())
                .unwrap_or_default(),
        }
    }
}
