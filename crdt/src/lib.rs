//! VIVIM's social graph as [yrs](https://docs.rs/yrs) CRDT documents. No IO: updates come in
//! and go out as bytes; the node signs, gossips and stores them.
//!
//! # One writer per document
//! Every document has exactly one writer identity, named in its [`DocId`]
//! (`<kind>.<writer>.<name>`, e.g. `circle.z6Mk….3f9a1c2b7d5e4a10`). Only updates signed by that
//! writer are applied by peers, so conflicts only happen between the writer's own devices and
//! authorization is a signature check. What one user says about another lives in the sayer's
//! own document; the views in [`status`] combine both sides.
//!
//! # Schema (shared with the PWA's Yjs)
//! Every document is a set of root `Y.Map`s whose values are plain JSON-like objects
//! (`Any` maps, written whole: last write wins per key). Times are milliseconds since the Unix
//! epoch, as numbers. DIDs are `did:key:z6Mk…` strings. A JavaScript client reads a circle's
//! members with `doc.getMap('members').get(did).role`.
//!
//! **Graph doc** (`graph.<writer>.main`, one per user):
//! | map | key | value |
//! |---|---|---|
//! | `profile` | `name`, `bio` | string |
//! | `profile` | `follow_approval` | bool: new followers wait for approval |
//! | `follows` | followee DID | `{since: ms}` |
//! | `friends` | other DID | `{state: "requested"\|"accepted"\|"rejected"\|"cancelled", at: ms}` |
//! | `blocks` | blocked DID | `{at: ms}` |
//! | `approvals` | follower DID | `{at: ms}` (followers approved when `follow_approval`) |
//! | `joins` | group/team doc id | `{at: ms, message: string}` (join requests) |
//!
//! **Circle doc** (`circle.<owner>.<id>`):
//! | map | key | value |
//! |---|---|---|
//! | `meta` | `name` | string |
//! | `meta` | `visibility` | `"public"` \| `"private"` |
//! | `meta` | `created` | ms |
//! | `meta` | `deleted` | bool (a deleted circle keeps its document so peers learn of it) |
//! | `members` | member DID | `{role: "owner"\|"admin"\|"member", added: ms}` |
//! | `policy` | `reshare` | bool: members may share the circle's content onwards |
//! | `policy` | `member_share` | bool: members (not only the owner) may share to the circle |
//!
//! **Group doc** (`group.<owner>.<id>`): `meta` has `name`, `description`, `kind`
//! (`"GENERAL"`\|`"STUDY"`\|`"PROJECT"`\|`"COMMUNITY"`), `visibility`
//! (`"PUBLIC"`\|`"APPROVAL"`\|`"PRIVATE"`), `created`, `deleted`; `members` as in circles.
//!
//! **Team doc** (`team.<owner>.<id>`): `meta` has `name`, `kind`
//! (`"WORK"`\|`"PROJECT"`\|`"PERSONAL"`), `access` (`"OPEN"`\|`"INVITE"`), `created`,
//! `deleted`; `members` as in circles.
//!
//! A join request is an entry in the requester's graph doc `joins` map keyed by the group or
//! team doc id; the owner accepts by adding a `members` entry. A PUBLIC group or OPEN team
//! counts the requester as a member at once; APPROVAL waits for the owner; PRIVATE groups and
//! INVITE teams ignore requests (members are invited).

mod id;
mod inbox;
mod replica;
pub mod schema;
pub mod status;

pub use id::{DocId, DocKind, ParseDocIdError};
pub use inbox::{Inbox, MAX_AHEAD, MAX_HELD, MAX_HELD_BYTES, Offered};
pub use replica::{CrdtError, MAX_DOC_BYTES, MAX_UPDATE_BYTES, Replica, sync_messages};
pub use yrs;
