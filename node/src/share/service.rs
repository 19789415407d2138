//! Sharing as methods of [`Node`]: making, revising and revoking shares, accepting and opening
//! received ones, the feed, forks and provenance.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use vivim_crdt::{DocId, DocKind, schema::CircleView};
use vivim_identity::{Did, PublicKey};
use vivim_protocol::{
    AccessGrant, Acu, Audience, ContentKey, ContentType, ConvId, ForkOf, Hash, IntentKind,
    IntentStatus, Manifest, ShareLink, SharingIntent, Signed, open_grant, wrap_key,
};

use crate::{
    node::{Event, Node, NodeError, outbound::Outbound},
    now_ms,
    store::{NewConversation, StoreError},
};

use super::state::*;

pub(crate) const SHARES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("shares");
pub(crate) const FEED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("feed");

fn store_err(e: impl std::fmt::Display) -> NodeError {
    NodeError::Store(StoreError::Db(e.to_string()))
}

/// What became of a received intent.
pub(crate) enum Intake {
    /// Kept, with something to open.
    Open(Box<ShareRow>),
    /// Kept (or already known), nothing to open.
    Kept,
    /// From a stranger: a message request, nothing kept.
    Requested,
}

impl Node {
    /// Whether this node still serves the shared blob `hash` (an ended share's are refused).
    pub fn may_serve(&self, hash: &[u8; 32]) -> bool {
        self.share_state.may_serve(hash, now_ms())
    }

    pub(crate) fn open_share_tables(&self) -> Result<(), NodeError> {
        let db = self.store.database();
        let tx = db.begin_write().map_err(store_err)?;
        tx.open_table(SHARES).map_err(store_err)?;
        tx.open_table(FEED).map_err(store_err)?;
        tx.commit().map_err(store_err)?;
        for row in self.share_rows()? {
            if let Ok(s) = row.signed() {
                self.share_state.set(&row, s.value());
            }
        }
        self.share_state.changed();
        Ok(())
    }

    /// Every share row.
    pub fn share_rows(&self) -> Result<Vec<ShareRow>, NodeError> {
        let db = self.store.database();
        let tx = db.begin_read().map_err(store_err)?;
        let t = tx.open_table(SHARES).map_err(store_err)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(store_err)? {
            let (_, v) = item.map_err(store_err)?;
            match ciborium::from_reader::<ShareRow, _>(v.value()) {
                Ok(r) => out.push(r),
                Err(e) => tracing::warn!("skipping an unreadable share row: {e}"),
            }
        }
        Ok(out)
    }

    /// One share row.
    pub fn share_row(&self, id: &Hash) -> Result<Option<ShareRow>, NodeError> {
        let db = self.store.database();
        let tx = db.begin_read().map_err(store_err)?;
        let t = tx.open_table(SHARES).map_err(store_err)?;
        let Some(v) = t.get(&id.0[..]).map_err(store_err)? else {
            return Ok(None);
        };
        ciborium::from_reader(v.value())
            .map(Some)
            .map_err(|e| store_err(format!("share row: {e}")))
    }

    /// Writes a share row (durably) and its feed entry (received shares).
    pub(crate) fn put_share(&self, row: &ShareRow) -> Result<(), NodeError> {
        self.put_share_with(row, true)
    }

    /// [`Node::put_share`], optionally without fsync (for what can be redone: opening a share
    /// again after a crash; pending shares are reopened at start).
    ///
    /// The stored row is read again inside the write transaction: a row of an older revision
    /// than the stored one is not written (a delivery or an opening that read the row before
    /// a revocation must not undo it), and recipients that acknowledged the same revision are
    /// merged, so concurrent deliveries keep each other's acknowledgements.
    fn put_share_with(&self, row: &ShareRow, durable: bool) -> Result<(), NodeError> {
        let s = row.signed()?;
        let i = s.value();
        let db = self.store.database();
        let mut tx = db.begin_write().map_err(store_err)?;
        if !durable {
            tx.set_durability(redb::Durability::None)
                .map_err(store_err)?;
        }
        let merged;
        let mut row = row;
        {
            let mut t = tx.open_table(SHARES).map_err(store_err)?;
            let stored: Option<ShareRow> = t
                .get(&i.id.0[..])
                .map_err(store_err)?
                .and_then(|v| ciborium::from_reader(v.value()).ok());
            if let Some(stored) = stored
                && let Ok(si) = stored.signed()
            {
                if si.value().revision > i.revision {
                    tracing::debug!(id = %i.id, "not writing revision {} over {}", i.revision, si.value().revision);
                    return Ok(());
                }
                if si.value().revision == i.revision
                    && stored.delivered.iter().any(|d| !row.delivered.contains(d))
                {
                    let mut delivered = row.delivered.clone();
                    for d in stored.delivered {
                        if !delivered.contains(&d) {
                            delivered.push(d);
                        }
                    }
                    merged = ShareRow {
                        delivered,
                        ..row.clone()
                    };
                    row = &merged;
                }
            }
            t.insert(&i.id.0[..], crate::cbor(row).as_slice())
                .map_err(store_err)?;
            if !row.mine && row.state != "pinned" {
                let item = self.feed_item(row, i);
                let mut f = tx.open_table(FEED).map_err(store_err)?;
                f.insert(
                    &feed_key(row.at_ms, &i.id)[..],
                    crate::cbor(&item).as_slice(),
                )
                .map_err(store_err)?;
            }
        }
        tx.commit().map_err(store_err)?;
        self.share_state.set(row, i);
        if row.mine {
            self.share_state.changed();
        }
        Ok(())
    }

    fn feed_item(&self, row: &ShareRow, i: &SharingIntent) -> FeedItem {
        let status = match i.status_at(now_ms()) {
            IntentStatus::Active | IntentStatus::Pending | IntentStatus::Draft => row.state.clone(),
            s => s.as_str().to_string(),
        };
        FeedItem {
            id: i.id.to_string(),
            kind: "shared".into(),
            actor: i.actor.did().to_string(),
            actor_name: self.profile_name(&i.actor.did()),
            title: row.title.clone(),
            conversation: row.conversation.map(|c| c.to_string()),
            status,
            at_ms: row.at_ms,
            expires_at_ms: i.expires_at_ms,
        }
    }

    /// Adds a publication by someone I follow to the feed. Returns the item when it is new.
    pub(crate) fn feed_published(
        &self,
        id: &Hash,
        actor: &Did,
        title: &str,
        conversation: &ConvId,
    ) -> Result<Option<FeedItem>, NodeError> {
        let db = self.store.database();
        let tx = db.begin_write().map_err(store_err)?;
        let item;
        {
            let mut f = tx.open_table(FEED).map_err(store_err)?;
            // One entry per announcement: look for it among the newest entries.
            let hex = id.to_string();
            for e in f.iter().map_err(store_err)?.rev().take(256) {
                let (_, v) = e.map_err(store_err)?;
                if ciborium::from_reader::<FeedItem, _>(v.value()).is_ok_and(|i| i.id == hex) {
                    return Ok(None);
                }
            }
            let at = now_ms();
            item = FeedItem {
                id: hex,
                kind: "published".into(),
                actor: actor.to_string(),
                actor_name: self.profile_name(actor),
                title: Some(title.to_string()),
                conversation: Some(conversation.to_string()),
                status: "published".into(),
                at_ms: at,
                expires_at_ms: None,
            };
            f.insert(&feed_key(at, id)[..], crate::cbor(&item).as_slice())
                .map_err(store_err)?;
        }
        tx.commit().map_err(store_err)?;
        let _ = self.events.send(Event::FeedItem { item: item.clone() });
        Ok(Some(item))
    }

    fn profile_name(&self, did: &Did) -> Option<String> {
        self.social
            .read(&DocId::graph(did), vivim_crdt::schema::GraphView::read)
            .and_then(|g| g.profile.name)
    }

    /// What was shared with me and what the people I follow published, newest first.
    pub fn feed(&self, cursor: Option<&str>, limit: usize) -> Result<FeedPage, NodeError> {
        let limit = limit.clamp(1, 500);
        // Feed keys are 40 bytes, like the conversation listing's: the same cursors.
        let start = cursor.map(crate::store::decode_cursor).transpose()?;
        let db = self.store.database();
        let tx = db.begin_read().map_err(store_err)?;
        let f = tx.open_table(FEED).map_err(store_err)?;
        let iter = match &start {
            Some(s) => f.range::<&[u8]>(..s.as_slice()).map_err(store_err)?,
            None => f.range::<&[u8]>(..).map_err(store_err)?,
        };
        let mut items = Vec::new();
        let mut last = None;
        let mut more = false;
        for e in iter.rev() {
            let (k, v) = e.map_err(store_err)?;
            if items.len() == limit {
                more = true;
                break;
            }
            if let Ok(mut item) = ciborium::from_reader::<FeedItem, _>(v.value()) {
                if item.status != "expired"
                    && item.status != "revoked"
                    && item.expires_at_ms.is_some_and(|e| e <= now_ms())
                {
                    item.status = "expired".into();
                }
                items.push(item);
            }
            last = Some(k.value().to_vec());
        }
        let next_cursor = if more {
            last.as_deref().map(crate::store::encode_cursor)
        } else {
            None
        };
        Ok(FeedPage { items, next_cursor })
    }

    /// A share for listings.
    pub fn share_out(&self, row: &ShareRow) -> Result<ShareOut, NodeError> {
        let s = row.signed()?;
        let i = s.value();
        let link = match (&i.audience, row.mine, row.content_key(), i.payload) {
            (Audience::Link, true, Some(key), Some(payload)) => Some(
                ShareLink {
                    payload,
                    from: self.key.did(),
                    key,
                }
                .to_string(),
            ),
            _ => None,
        };
        Ok(ShareOut {
            id: i.id.to_string(),
            intent: i.intent.as_str().into(),
            actor: i.actor.did().to_string(),
            mine: row.mine,
            content_type: content_type_str(i.content_type).into(),
            content: i.content.to_string(),
            audience: audience_str(&i.audience),
            status: i.status_at(now_ms()).as_str().into(),
            payload: i.payload.map(|p| p.to_string()),
            recipients: i
                .grants
                .iter()
                .map(|g| g.recipient.did().to_string())
                .collect(),
            delivered: row.delivered.len(),
            revision: i.revision,
            created_at_ms: i.created_at_ms,
            expires_at_ms: i.expires_at_ms,
            link,
            state: row.state.clone(),
            conversation: row.conversation.map(|c| c.to_string()),
            title: row.title.clone(),
            error: row.error.clone(),
        })
    }

    /// Shares made here and received, newest first.
    pub fn shares(&self) -> Result<Vec<ShareOut>, NodeError> {
        let mut rows = self.share_rows()?;
        rows.retain(|r| r.state != "pinned");
        rows.sort_by_key(|r| std::cmp::Reverse(r.at_ms));
        rows.iter().map(|r| self.share_out(r)).collect()
    }

    /// Finds a share by id or unique prefix.
    pub fn find_share(&self, id: &str) -> Result<ShareRow, NodeError> {
        let id = id.trim().to_ascii_lowercase();
        if id.len() < 4 {
            return Err(NodeError::Invalid(
                "give at least 4 characters of the id".into(),
            ));
        }
        let mut found: Vec<ShareRow> = self
            .share_rows()?
            .into_iter()
            .filter(|r| {
                r.signed()
                    .is_ok_and(|s| s.value().id.to_string().starts_with(&id))
            })
            .collect();
        match found.len() {
            0 => Err(NodeError::NotFound(format!("share {id}"))),
            1 => Ok(found.remove(0)),
            n => Err(NodeError::Invalid(format!("{n} shares start with {id}"))),
        }
    }

    /// The people a circle's share is sealed for: its members (with me), if I may share to it.
    fn circle_recipients(&self, circle: &str) -> Result<Vec<PublicKey>, NodeError> {
        let id = crate::social::graph::parse_doc(circle, DocKind::Circle)?;
        let me = self.key.did();
        let view = self
            .social
            .read(&id, CircleView::read)
            .flatten()
            .ok_or_else(|| NodeError::NotFound(format!("circle {id}")))?;
        if view.deleted {
            return Err(NodeError::Invalid(format!("circle {id} was deleted")));
        }
        let member = view.members.contains_key(&me);
        if id.writer() != &me && !(member && view.member_share) {
            return Err(NodeError::Invalid(format!(
                "only the owner of {id} may share to it (its policy does not let members)"
            )));
        }
        let mut out: Vec<PublicKey> = view.members.keys().map(|d| d.public_key()).collect();
        out.push(id.writer().public_key());
        out.push(me.public_key());
        out.sort_by_key(|k| k.to_bytes());
        out.dedup();
        Ok(out)
    }

    /// The signed records of what is shared: the manifest, then the ACUs.
    async fn package_records(
        &self,
        content: &str,
    ) -> Result<(ContentType, Hash, ConvId, Vec<Vec<u8>>), NodeError> {
        // An ACU id (full hex) that is stored here: share that one message.
        if let Ok(h) = content.trim().parse::<Hash>()
            && let Some(acu) = self.store.acu(&h).await?
        {
            let conv = acu.value().conversation;
            let row = self
                .store
                .row(&conv)?
                .ok_or_else(|| NodeError::NotFound(format!("conversation {conv}")))?;
            let manifest = crate::store::Store::manifest_bytes(&row)?;
            return Ok((
                ContentType::Acu,
                h,
                conv,
                vec![manifest, acu.bytes().to_vec()],
            ));
        }
        let conv = self.store.resolve(content)?;
        let row = self
            .store
            .row(&conv)?
            .ok_or_else(|| NodeError::NotFound(format!("conversation {conv}")))?;
        let mut records = vec![crate::store::Store::manifest_bytes(&row)?];
        records.extend(self.store.acu_bytes(&conv)?);
        Ok((ContentType::Conversation, conv.0, conv, records))
    }

    /// Makes a share: seals the content for its audience (or publishes it), signs the intent,
    /// keeps it, and — when the network is up — delivers it. Recipients who are offline get
    /// it when they next meet this node.
    pub async fn share(self: &Arc<Self>, spec: ShareSpec) -> Result<ShareOut, NodeError> {
        let now = now_ms();
        let expires_at_ms = spec.expires_in_ms.map(|d| now.saturating_add(d));
        if let Target::Public = spec.target {
            if spec.draft {
                return Err(NodeError::Invalid(
                    "a public share cannot be a draft: publish it when ready".into(),
                ));
            }
            return self.share_public(&spec, expires_at_ms).await;
        }
        if spec.kind != IntentKind::Share {
            return Err(NodeError::Invalid(format!(
                "{} is for public content; share with a circle, people or a link instead",
                spec.kind.as_str()
            )));
        }
        let (recipients, audience) = match &spec.target {
            Target::Circle(c) => (
                self.circle_recipients(c)?,
                Audience::Circle(c.trim().into()),
            ),
            Target::Users(dids) => {
                if dids.is_empty() {
                    return Err(NodeError::Invalid("name at least one recipient".into()));
                }
                let mut r: Vec<PublicKey> = dids.iter().map(|d| d.public_key()).collect();
                r.push(self.key.public());
                r.sort_by_key(|k| k.to_bytes());
                r.dedup();
                let mut users: Vec<PublicKey> = dids.iter().map(|d| d.public_key()).collect();
                users.sort_by_key(|k| k.to_bytes());
                users.dedup();
                (r, Audience::Users(users))
            }
            Target::Link => (vec![self.key.public()], Audience::Link),
            Target::Public => unreachable!("handled above"),
        };
        let (content_type, content, _conv, records) = self.package_records(&spec.content).await?;
        let key = ContentKey::generate();
        let k2 = key.clone();
        let (grants, blobs) = tokio::task::spawn_blocking(move || {
            wrap_for(&k2, &recipients).map(|g| (g, seal_records(&k2, &records)))
        })
        .await
        .map_err(|e| NodeError::Invalid(format!("sealing: {e}")))?
        .map_err(|e| NodeError::Invalid(format!("sealing: {e}")))?;
        let id = Hash::random();
        let (payload, items) = self.store.put_seq(&share_tag(&id), blobs).await?;
        let intent = SharingIntent {
            v: 1,
            id,
            actor: self.key.public(),
            intent: IntentKind::Share,
            content_type,
            content,
            payload: Some(payload),
            audience,
            status: if spec.draft {
                IntentStatus::Draft
            } else {
                IntentStatus::Active
            },
            created_at_ms: now,
            revision: 0,
            updated_at_ms: now,
            expires_at_ms,
            grants,
            sig: None,
        };
        let signed = Signed::sign(intent, &self.key)
            .map_err(|e| NodeError::Invalid(format!("signing the intent: {e}")))?;
        let row = ShareRow {
            intent: signed.bytes().to_vec(),
            mine: true,
            key: Some(key.as_bytes().to_vec()),
            items,
            delivered: vec![self.key.public()],
            state: if spec.draft { "draft" } else { "active" }.into(),
            conversation: None,
            title: None,
            error: None,
            at_ms: now,
        };
        self.put_share(&row)?;
        if !spec.draft {
            self.send_out(Outbound::SpreadIntent {
                intent: signed,
                only: None,
            });
        }
        self.share_out(&row)
    }

    /// Activates one of my draft shares: it is delivered from now on.
    pub fn share_activate(&self, id: &str) -> Result<ShareOut, NodeError> {
        let mut row = self.find_share(id)?;
        let s = row.signed()?;
        if !row.mine || s.value().status != IntentStatus::Draft {
            return Err(NodeError::Invalid(format!(
                "share {} is not one of your drafts (it is {})",
                s.value().id,
                s.value().status.as_str()
            )));
        }
        row.state = "active".into();
        let signed = self.revise(&mut row, |i| i.status = IntentStatus::Active)?;
        self.send_out(Outbound::SpreadIntent {
            intent: signed,
            only: None,
        });
        self.share_out(&row)
    }

    async fn share_public(
        self: &Arc<Self>,
        spec: &ShareSpec,
        expires_at_ms: Option<u64>,
    ) -> Result<ShareOut, NodeError> {
        if !self.network_up() {
            return Err(crate::node::publishing_needs_network());
        }
        let conv = self.store.resolve(&spec.content)?;
        let ann = self.publish_out(conv).await?;
        let now = now_ms();
        let kind = match spec.kind {
            IntentKind::Embed => IntentKind::Embed,
            _ => IntentKind::Publish,
        };
        let intent = SharingIntent {
            v: 1,
            id: Hash::random(),
            actor: self.key.public(),
            intent: kind,
            content_type: ContentType::Conversation,
            content: conv.0,
            payload: Some(ann.value().seq),
            audience: Audience::Public,
            status: IntentStatus::Active,
            created_at_ms: now,
            revision: 0,
            updated_at_ms: now,
            expires_at_ms,
            grants: Vec::new(),
            sig: None,
        };
        let signed = Signed::sign(intent, &self.key)
            .map_err(|e| NodeError::Invalid(format!("signing the intent: {e}")))?;
        let row = ShareRow {
            intent: signed.bytes().to_vec(),
            mine: true,
            key: None,
            items: Vec::new(),
            delivered: Vec::new(),
            state: "active".into(),
            conversation: Some(conv),
            title: Some(ann.value().title.clone()),
            error: None,
            at_ms: now,
        };
        self.put_share(&row)?;
        self.share_out(&row)
    }

    /// Signs the next revision of one of my intents with `change` applied, stores it, and
    /// returns it (the caller spreads it).
    fn revise(
        &self,
        row: &mut ShareRow,
        change: impl FnOnce(&mut SharingIntent),
    ) -> Result<Signed<SharingIntent>, NodeError> {
        let mut i = row.signed()?.value().clone();
        change(&mut i);
        i.revision += 1;
        i.updated_at_ms = now_ms().max(i.created_at_ms);
        i.sig = None;
        let signed = Signed::sign(i, &self.key)
            .map_err(|e| NodeError::Invalid(format!("signing the intent: {e}")))?;
        row.intent = signed.bytes().to_vec();
        row.delivered = vec![self.key.public()];
        self.put_share(row)?;
        Ok(signed)
    }

    /// Revokes one of my shares: recipients are told, and this node stops serving it.
    pub async fn share_revoke(&self, id: &str) -> Result<ShareOut, NodeError> {
        let mut row = self.find_share(id)?;
        if !row.mine {
            return Err(NodeError::Invalid(
                "only the person who shared it can revoke a share".into(),
            ));
        }
        let s = row.signed()?;
        if s.value().status == IntentStatus::Revoked {
            return self.share_out(&row);
        }
        let signed = self.revise(&mut row, |i| i.status = IntentStatus::Revoked)?;
        row.state = "revoked".into();
        self.put_share(&row)?;
        let _ = self
            .store
            .blobs()
            .tags()
            .delete(share_tag(&signed.value().id))
            .await;
        self.send_out(Outbound::SpreadIntent {
            intent: signed,
            only: None,
        });
        self.share_out(&row)
    }

    /// After a member joined one of my circles: grants them the key of the circle's active
    /// shares (a new revision of each) and delivers it. Returns how many shares were regranted.
    pub(crate) fn regrant_circle(&self, circle: &DocId) -> Result<usize, NodeError> {
        let now = now_ms();
        let Ok(members) = self.circle_recipients(&circle.to_string()) else {
            return Ok(0);
        };
        let mut n = 0;
        for mut row in self.share_rows()? {
            let Ok(s) = row.signed() else { continue };
            let i = s.value();
            let ours = row.mine
                && matches!(&i.audience, Audience::Circle(c) if c == &circle.to_string())
                && i.status_at(now) == IntentStatus::Active;
            if !ours {
                continue;
            }
            let missing: Vec<PublicKey> = members
                .iter()
                .filter(|m| i.grant_for(m).is_none())
                .copied()
                .collect();
            let Some(key) = row.content_key() else {
                continue;
            };
            if missing.is_empty() {
                continue;
            }
            let grants: Vec<AccessGrant> = wrap_key(&key, &missing)
                .map_err(|e| NodeError::Invalid(format!("sealing: {e}")))?;
            let signed = self.revise(&mut row, |i| i.grants.extend(grants))?;
            self.send_out(Outbound::SpreadIntent {
                intent: signed,
                only: Some(missing.iter().map(|k| k.did()).collect()),
            });
            n += 1;
        }
        Ok(n)
    }

    /// Checks a received intent and keeps it. Returns the row when there is something to
    /// open (a new or newly granted active share for me), `None` otherwise. A share for me from
    /// a stranger is neither kept nor opened: it becomes a message request
    /// ([`Node::take_intent`] says which happened).
    pub(crate) fn accept_intent(
        &self,
        bytes: &[u8],
        relay: bool,
    ) -> Result<Option<ShareRow>, NodeError> {
        match self.take_intent(bytes, relay)? {
            Intake::Open(row) => Ok(Some(*row)),
            Intake::Kept | Intake::Requested => Ok(None),
        }
    }

    /// [`Node::accept_intent`], saying whether the intent became a request.
    pub(crate) fn take_intent(&self, bytes: &[u8], relay: bool) -> Result<Intake, NodeError> {
        let signed = Signed::<SharingIntent>::decode(bytes)
            .map_err(|e| NodeError::Invalid(format!("a sharing intent: {e}")))?;
        let i = signed.value();
        let me = self.key.public();
        if i.actor == me {
            return Ok(Intake::Kept);
        }
        let mine = i.grant_for(&me).is_some()
            || matches!(&i.audience, Audience::Users(u) if u.contains(&me));
        if !mine && !relay {
            return Err(NodeError::Invalid(format!(
                "intent {} is not addressed to {}",
                i.id,
                me.did()
            )));
        }
        if self.blocks(&i.actor.did()) {
            return Err(NodeError::Invalid(format!(
                "{} is blocked here",
                i.actor.did()
            )));
        }
        let old = self.share_row(&i.id)?;
        if mine && !relay && old.is_none() {
            // Nothing from a stranger is stored or downloaded: a request holds who and what.
            let actor = i.actor.did();
            if self.tier(&actor) <= crate::trust::Tier::Stranger {
                self.record_request(
                    &actor,
                    crate::trust::RequestItem {
                        kind: "share".into(),
                        id: i.id.to_string(),
                        size: None,
                        title: None,
                        at_ms: now_ms(),
                        intent: (bytes.len() <= crate::trust::requests::MAX_KEPT_INTENT)
                            .then(|| bytes.to_vec()),
                    },
                )?;
                return Ok(Intake::Requested);
            }
        }
        if let Some(o) = &old {
            let os = o.signed()?;
            if os.value().actor != i.actor {
                return Err(NodeError::Invalid(format!(
                    "intent {} was made by {}, not {}",
                    i.id,
                    os.value().actor.did(),
                    i.actor.did()
                )));
            }
            if os.value().revision >= i.revision {
                return Ok(Intake::Kept);
            }
        }
        let now = now_ms();
        let mut row = old.clone().unwrap_or(ShareRow {
            intent: Vec::new(),
            mine: false,
            key: None,
            items: Vec::new(),
            delivered: Vec::new(),
            state: if mine { "pending" } else { "pinned" }.into(),
            conversation: None,
            title: None,
            error: None,
            at_ms: now,
        });
        row.intent = bytes.to_vec();
        if mine && row.state == "pinned" {
            // A copy we held for others now carries a grant for us (we joined the circle).
            row.state = "pending".into();
        }
        let status = i.status_at(now);
        let ended = matches!(status, IntentStatus::Revoked | IntentStatus::Expired);
        if ended && row.state == "pending" {
            row.state = status.as_str().into();
        }
        self.put_share(&row)?;
        if mine {
            let _ = self.events.send(Event::FeedItem {
                item: self.feed_item(&row, i),
            });
        }
        let open = status == IntentStatus::Active
            && match row.state.as_str() {
                "pending" | "failed" | "sealed" => mine,
                "pinned" => relay,
                _ => false,
            };
        Ok(match open {
            true => Intake::Open(Box::new(row)),
            false => Intake::Kept,
        })
    }

    fn blocks(&self, did: &Did) -> bool {
        self.social
            .read(&self.graph_id(), vivim_crdt::schema::GraphView::read)
            .is_some_and(|g| g.blocks.contains_key(did))
    }

    /// Opens a received share whose sealed package is `blobs`: unwraps our grant, decrypts,
    /// verifies, stores the conversation, and updates the row and the feed.
    pub(crate) async fn open_package(
        self: &Arc<Self>,
        mut row: ShareRow,
        blobs: Vec<Vec<u8>>,
    ) -> Result<ConvId, NodeError> {
        let s = row.signed()?;
        let i = s.value().clone();
        let result = async {
            let grant = i.grant_for(&self.key.public()).ok_or_else(|| {
                NodeError::Invalid(format!(
                    "share {} is sealed for its audience; {} has no key grant",
                    i.id,
                    self.key.did()
                ))
            })?;
            let key = open_grant(grant, &self.key)
                .map_err(|e| NodeError::Invalid(format!("opening the key grant: {e}")))?;
            let expect = match i.content_type {
                ContentType::Conversation => Some(ConvId(i.content)),
                _ => None,
            };
            let k2 = key.clone();
            let new = tokio::task::spawn_blocking(move || unseal(&k2, &blobs, expect.as_ref()))
                .await
                .map_err(|e| NodeError::Invalid(e.to_string()))?
                .map_err(|e| NodeError::Invalid(format!("share {}: {e}", i.id)))?;
            if i.content_type == ContentType::Acu && !new.acus.iter().any(|a| a.id() == i.content) {
                return Err(NodeError::Invalid(format!(
                    "share {}: the package lacks the shared ACU",
                    i.id
                )));
            }
            let conv = new.manifest.value().id;
            let title = new.manifest.value().title.clone();
            self.store_fetched(new).await?;
            Ok::<_, NodeError>((key, conv, title))
        }
        .await;
        match result {
            Ok((key, conv, title)) => {
                row.key = Some(key.as_bytes().to_vec());
                row.state = "opened".into();
                row.conversation = Some(conv);
                row.title = Some(title);
                row.error = None;
                // The conversation itself is stored the same way (refetchable).
                self.put_share_with(&row, false)?;
                let _ = self.events.send(Event::FeedItem {
                    item: self.feed_item(&row, &i),
                });
                Ok(conv)
            }
            Err(e) => {
                row.state = if i.grant_for(&self.key.public()).is_none() {
                    "sealed"
                } else {
                    "failed"
                }
                .into();
                row.error = Some(e.to_string());
                if row.mine || i.grant_for(&self.key.public()).is_some() || row.state == "sealed" {
                    let _ = self.put_share(&row);
                }
                Err(e)
            }
        }
    }

    /// Received shares that are granted to me, active, and not opened yet (say, the node
    /// stopped while opening them).
    pub(crate) fn unopened_shares(&self) -> Result<Vec<ShareRow>, NodeError> {
        let now = now_ms();
        let me = self.key.public();
        Ok(self
            .share_rows()?
            .into_iter()
            .filter(|r| {
                !r.mine
                    && matches!(r.state.as_str(), "pending" | "failed")
                    && r.signed().is_ok_and(|s| {
                        s.value().grant_for(&me).is_some()
                            && s.value().status_at(now) == IntentStatus::Active
                    })
            })
            .collect())
    }

    /// Marks ended shares, drops their sealed packages' tags (the collector frees the blobs),
    /// and returns how many changed. Serving already stops at expiry (see [`ShareState`]).
    pub async fn sweep_shares(&self) -> Result<usize, NodeError> {
        let now = now_ms();
        let mut n = 0;
        for mut row in self.share_rows()? {
            let Ok(s) = row.signed() else { continue };
            let i = s.value();
            let status = i.status_at(now);
            if !matches!(status, IntentStatus::Expired | IntentStatus::Revoked)
                || row.state == status.as_str()
            {
                continue;
            }
            row.state = status.as_str().into();
            self.put_share(&row)?;
            if !matches!(i.audience, Audience::Public) {
                let _ = self.store.blobs().tags().delete(share_tag(&i.id)).await;
            }
            n += 1;
        }
        Ok(n)
    }

    // --- forks -----------------------------------------------------------------------------

    /// Forks a conversation (up to one of its ACUs, default its head) into my space: new ACUs
    /// signed by me, each naming the original it copies; the manifest names the original.
    pub async fn fork(
        &self,
        conversation: &str,
        upto: Option<&str>,
        title: Option<&str>,
    ) -> Result<ForkOut, NodeError> {
        let orig = self.store.resolve(conversation)?;
        let row = self
            .store
            .row(&orig)?
            .ok_or_else(|| NodeError::NotFound(format!("conversation {orig}")))?;
        let acus = self.store.acus(&orig).await?;
        if acus.is_empty() {
            return Err(NodeError::Invalid(format!(
                "conversation {orig} has no messages"
            )));
        }
        let by_id: HashMap<Hash, &Signed<Acu>> = acus.iter().map(|a| (a.id(), a)).collect();
        let end = match upto {
            Some(u) => {
                let u = u.trim().to_ascii_lowercase();
                let hits: Vec<Hash> = acus
                    .iter()
                    .map(|a| a.id())
                    .filter(|h| h.to_string().starts_with(&u))
                    .collect();
                match (u.len() >= 4, hits.as_slice()) {
                    (true, [h]) => *h,
                    (false, _) => {
                        return Err(NodeError::Invalid(
                            "give at least 4 characters of the ACU id".into(),
                        ));
                    }
                    (true, []) => {
                        return Err(NodeError::NotFound(format!("ACU {u} in {orig}")));
                    }
                    (true, _) => {
                        return Err(NodeError::Invalid(format!("several ACUs start with {u}")));
                    }
                }
            }
            None => row
                .manifest
                .head
                .filter(|h| by_id.contains_key(h))
                .unwrap_or_else(|| acus[acus.len() - 1].id()),
        };
        // The path from the root to `end`.
        let mut path = Vec::new();
        let mut cur = Some(end);
        while let Some(h) = cur {
            let Some(a) = by_id.get(&h) else { break };
            path.push(*a);
            cur = a.value().parent;
            if path.len() > acus.len() {
                return Err(NodeError::Invalid(format!(
                    "conversation {orig} has a cycle"
                )));
            }
        }
        path.reverse();
        let id = ConvId::random();
        let me = self.key.public();
        let now = now_ms();
        let mut new_acus = Vec::with_capacity(path.len());
        let mut parent = None;
        let mut tokens = 0u64;
        for a in &path {
            let o = a.value();
            let mut meta: BTreeMap<String, String> = o.provider_meta.clone();
            while meta.len() > vivim_protocol::limits::MAX_META_ENTRIES - 2 {
                let Some(k) = meta.keys().next_back().cloned() else {
                    break;
                };
                meta.remove(&k);
            }
            meta.insert(FORK_OF.into(), a.id().to_string());
            meta.insert(FORK_AUTHOR.into(), o.author.did().to_string());
            tokens += crate::import::ingest::estimate_tokens(o.body.as_text().unwrap_or(""));
            let acu = Acu {
                v: 1,
                conversation: id,
                parent,
                author: me,
                role: o.role,
                kind: o.kind,
                lang: o.lang.clone(),
                category: o.category.clone(),
                body: o.body.clone(),
                created_at_ms: o.created_at_ms,
                provider_meta: meta,
                sig: None,
            };
            let signed = Signed::sign(acu, &self.key)
                .map_err(|e| NodeError::Invalid(format!("signing: {e}")))?;
            parent = Some(signed.id());
            new_acus.push(signed);
        }
        let om = &row.manifest;
        let manifest = Manifest {
            v: 1,
            id,
            provider: "vivim".into(),
            source_id: None,
            source_url: None,
            title: title
                .map(str::to_string)
                .unwrap_or_else(|| format!("Fork of {}", om.title))
                .chars()
                .take(500)
                .collect(),
            created_at_ms: now,
            updated_at_ms: now,
            owner: me,
            model: om.model.clone(),
            message_count: crate::node::head_branch_visible(&new_acus, parent),
            total_tokens: tokens,
            head: parent,
            forked_from: Some(ForkOf {
                conversation: orig,
                owner: om.owner,
                manifest: row.manifest_id,
                upto: end,
            }),
            sig: None,
        };
        let manifest = Signed::sign(manifest, &self.key)
            .map_err(|e| NodeError::Invalid(format!("signing: {e}")))?;
        let n = new_acus.len();
        let new = NewConversation {
            manifest,
            acus: new_acus,
        };
        self.store_own(new).await?;
        // The fork is an intent too: a signed record of who forked what, when.
        let intent = SharingIntent {
            v: 1,
            id: Hash::random(),
            actor: me,
            intent: IntentKind::Fork,
            content_type: ContentType::Conversation,
            content: orig.0,
            payload: None,
            audience: Audience::Users(Vec::new()),
            status: IntentStatus::Active,
            created_at_ms: now,
            revision: 0,
            updated_at_ms: now,
            expires_at_ms: None,
            grants: Vec::new(),
            sig: None,
        };
        let signed = Signed::sign(intent, &self.key)
            .map_err(|e| NodeError::Invalid(format!("signing the intent: {e}")))?;
        let intent_id = signed.value().id;
        self.put_share(&ShareRow {
            intent: signed.bytes().to_vec(),
            mine: true,
            key: None,
            items: Vec::new(),
            delivered: Vec::new(),
            state: "active".into(),
            conversation: Some(id),
            title: None,
            error: None,
            at_ms: now,
        })?;
        Ok(ForkOut {
            conversation: id.to_string(),
            forked_from: orig.to_string(),
            acus: n,
            intent: intent_id.to_string(),
        })
    }

    /// Checks where a conversation's ACUs came from: for a fork, each copied ACU against its
    /// original (held here, validly signed, same content).
    pub async fn provenance(&self, conversation: &str) -> Result<Provenance, NodeError> {
        let id = self.store.resolve(conversation)?;
        let row = self
            .store
            .row(&id)?
            .ok_or_else(|| NodeError::NotFound(format!("conversation {id}")))?;
        let mut out = Vec::new();
        for a in self.store.acus(&id).await? {
            let v = a.value();
            let Some(of) = v.provider_meta.get(FORK_OF) else {
                continue;
            };
            let mut p = AcuProvenance {
                acu: a.id().to_string(),
                signed_by: v.author.did().to_string(),
                original: of.clone(),
                original_author: v.provider_meta.get(FORK_AUTHOR).cloned(),
                verified: false,
                problem: None,
            };
            match of.parse::<Hash>() {
                Err(e) => p.problem = Some(format!("bad original id: {e}")),
                // Reading verifies the original's signature (and its id is its hash).
                Ok(h) => match self.store.acu(&h).await {
                    Ok(Some(o)) => {
                        let ov = o.value();
                        if ov.body != v.body || ov.role != v.role || ov.kind != v.kind {
                            p.problem = Some("the content differs from the original".into());
                        } else if p.original_author.as_deref()
                            != Some(ov.author.did().to_string().as_str())
                        {
                            p.problem = Some("the original was signed by someone else".into());
                        } else {
                            p.verified = true;
                        }
                    }
                    Ok(None) => p.problem = Some("the original is not held here".into()),
                    Err(e) => p.problem = Some(format!("the original does not verify: {e}")),
                },
            }
            out.push(p);
        }
        let forked = row.manifest.forked_from.as_ref();
        Ok(Provenance {
            conversation: id.to_string(),
            owner: row.manifest.owner.did().to_string(),
            forked_from: forked.map(|f| f.conversation.to_string()),
            original_owner: forked.map(|f| f.owner.did().to_string()),
            verified: forked.is_some() && !out.is_empty() && out.iter().all(|p| p.verified),
            acus: out,
        })
    }
}
