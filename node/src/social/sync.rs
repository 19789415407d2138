//! Social-graph documents on the network: signed updates gossiped on `vivim/doc/1/<doc-id>`,
//! catch-up and invitations over the request-response protocol `/vivim/doc/1.0.0`.
//!
//! - A change made here is gossiped on its document's topic; a change too large for one gossip
//!   message (64 KiB) is announced by a small hint `[doc, seq]` and fetched by catch-up.
//! - The people a change concerns (a new circle member, the person befriended or followed, the
//!   owner of a group joined) are told directly (`Notify`), so they start following the
//!   document even if they never heard of it.
//! - Catch-up: a node asks `Sync {doc, have}` of the writer when it starts, of any peer that
//!   subscribes to a document it holds, of the peer that forwarded an update it cannot apply
//!   yet, and after a `Notify`. The answer is signed updates (or a signed full state), each
//!   checked against the writer as if it came by gossip.

use std::sync::{Arc, atomic::Ordering};

use libp2p::PeerId;
use vivim_crdt::DocId;
use vivim_identity::Did;
use vivim_protocol::{DocUpdate, Signed};

use futures::future::BoxFuture;

use crate::{
    cbor,
    net::ids,
    net::p2p::{Feature, P2p, P2pError},
    net::wire::{DocAnswer, DocRequest},
    net::{MAX_GOSSIP_BYTES, NetEvent},
    node::outbound::Outbound,
    store::docs::{DOC_TOPIC_PREFIX, SocialError, doc_topic},
    trust::{FOF_MAX_DOCS, Tier},
};

/// How long a gap in a writer's updates may stay open before it is fetched.
const GAP_WAIT: std::time::Duration = std::time::Duration::from_millis(300);

/// Most catch-up rounds in a row with one peer.
const MAX_ROUNDS: usize = 16;

impl P2p {
    /// Subscribes to every stored document and catches up with their writers.
    pub(crate) async fn start_docs(self: &Arc<Self>) -> Result<(), P2pError> {
        let me = self.node().key.did();
        let ids = self
            .node()
            .social
            .ids()
            .map_err(|e| P2pError::NotFound(e.to_string()))?;
        for id in ids {
            self.net.subscribe(&doc_topic(&id)).await?;
            if id.writer() != &me {
                let p = self.clone();
                tokio::spawn(async move { p.sync_with_writer(&id).await });
            }
        }
        Ok(())
    }

    /// Spreads a change made on this node and tells the people it concerns.
    pub fn doc_written(self: &Arc<Self>, id: DocId, signed: Signed<DocUpdate>, notify: Vec<Did>) {
        let p = self.clone();
        tokio::spawn(async move {
            let topic = doc_topic(&id);
            if let Err(e) = p.net.subscribe(&topic).await {
                tracing::warn!(%id, "subscribing: {e}");
            }
            let data = if signed.bytes().len() <= MAX_GOSSIP_BYTES - 1024 {
                signed.bytes().to_vec()
            } else {
                cbor(&(id.to_string(), signed.value().seq))
            };
            if let Err(e) = p.net.publish(&topic, data).await {
                tracing::warn!(%id, "gossiping a document update: {e}");
            }
            let me = p.node().key.did();
            for did in notify {
                if did != me {
                    let p = p.clone();
                    let id = id.clone();
                    tokio::spawn(async move {
                        if let Err(e) = p.notify(&did, &id).await {
                            tracing::debug!(%did, %id, "could not tell about a document: {e}");
                        }
                    });
                }
            }
        });
    }

    /// Starts following someone else's document: subscribe and catch up with its writer.
    pub fn watch_doc(self: &Arc<Self>, id: DocId) {
        let p = self.clone();
        tokio::spawn(async move {
            if let Err(e) = p.net.subscribe(&doc_topic(&id)).await {
                tracing::warn!(%id, "subscribing: {e}");
            }
            p.sync_with_writer(&id).await;
        });
    }

    /// Connects to the holder of `did` (resolving its peer record when not connected).
    pub async fn connect_did(&self, did: &Did) -> Result<PeerId, P2pError> {
        let peer = ids::peer_id(&did.public_key());
        if self.net.is_connected(peer).await {
            return Ok(peer);
        }
        let record = self.resolve(did).await?;
        let mut last = None;
        for a in &record.value().libp2p_addrs {
            let Ok(mut addr) = a.parse::<libp2p::Multiaddr>() else {
                continue;
            };
            if !matches!(
                addr.iter().last(),
                Some(libp2p::multiaddr::Protocol::P2p(_))
            ) {
                addr.push(libp2p::multiaddr::Protocol::P2p(peer));
            }
            match tokio::time::timeout(std::time::Duration::from_secs(3), self.net.dial(addr)).await
            {
                Ok(Ok(())) => return Ok(peer),
                Ok(Err(e)) => last = Some(e.to_string()),
                Err(_) => last = Some("timed out".into()),
            }
        }
        Err(P2pError::NotFound(format!(
            "could not reach {did}: {}",
            last.unwrap_or_else(|| "no addresses".into())
        )))
    }

    async fn notify(&self, did: &Did, id: &DocId) -> Result<(), P2pError> {
        let peer = self.connect_did(did).await?;
        let req = DocRequest::Notify {
            doc: id.to_string(),
        }
        .encode();
        self.net.request(peer, req).await?;
        Ok(())
    }

    async fn sync_with_writer(self: &Arc<Self>, id: &DocId) {
        // Right after start the DHT may not know the writer's record yet: try a few times.
        for wait in [0u64, 500, 1_500, 4_000] {
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            let t = std::time::Instant::now();
            match self.connect_did(id.writer()).await {
                Ok(peer) => {
                    tracing::debug!(%id, ms = t.elapsed().as_secs_f64() * 1e3, "connected to the writer");
                    self.sync_with(peer, id).await;
                    return;
                }
                Err(e) => tracing::debug!(%id, "writer unreachable: {e}"),
            }
        }
    }

    /// Asks `peer` for what we miss of `id` and applies it.
    pub(crate) async fn sync_with(self: &Arc<Self>, peer: PeerId, id: &DocId) {
        self.sync(peer, id, true).await
    }

    /// Catch-up with `peer`; with `writer_first`, a request to the writer goes ahead even when
    /// another catch-up of the document runs.
    async fn sync(self: &Arc<Self>, peer: PeerId, id: &DocId, writer_first: bool) {
        let social = &self.node().social;
        // One catch-up per document with other peers at a time; the writer (who answers with
        // one signed state) is always asked.
        let from_writer = writer_first && ids::did_of_peer(&peer).is_ok_and(|d| &d == id.writer());
        let _guard = match social.begin_sync(id) {
            Some(g) => Some(g),
            None if from_writer => None,
            None => return,
        };
        for _ in 0..MAX_ROUNDS {
            let have = social.applied(id);
            let req = DocRequest::Sync {
                doc: id.to_string(),
                have,
            }
            .encode();
            let asked = std::time::Instant::now();
            let answer = match self.net.request(peer, req).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!(%id, %peer, "catch-up request failed: {e}");
                    return;
                }
            };
            let Ok(answer) = ciborium::from_reader::<DocAnswer, _>(answer.as_slice()) else {
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                return;
            };
            tracing::debug!(
                %id, %peer, have, updates = answer.updates.len(),
                ms = asked.elapsed().as_secs_f64() * 1e3, "catch-up answer"
            );
            if answer.updates.is_empty() {
                return;
            }
            let mut gap = false;
            for u in &answer.updates {
                match social.receive(u, false) {
                    Ok(r) => {
                        self.doc_received(&r.doc, r.outcome);
                        gap = r.missing_from.is_some();
                    }
                    Err(e) => {
                        self.reject(&e);
                        return;
                    }
                }
            }
            if social.applied(id) <= have || !gap && answer.updates.len() < 1000 {
                return;
            }
        }
    }

    fn reject(&self, e: &SocialError) {
        match e {
            SocialError::NotFound(_) => {}
            e => {
                tracing::debug!("dropping a document update: {e}");
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn doc_received(&self, id: &DocId, outcome: vivim_crdt::Offered) {
        if let vivim_crdt::Offered::Applied(_) = outcome {
            let _ = self.node().events.send(crate::node::Event::DocChanged {
                doc: id.to_string(),
                seq: self.node().social.applied(id),
                local: false,
            });
        }
    }

    /// Handles what the network says about documents (called from the event loop).
    pub(crate) fn on_doc_event(self: &Arc<Self>, ev: &NetEvent) {
        match ev {
            NetEvent::Gossip { topic, data, via } if topic.starts_with(DOC_TOPIC_PREFIX) => {
                let social = &self.node().social;
                if data.first() == Some(&0x82) {
                    // A hint: an update too large for gossip.
                    if let Ok((doc, seq)) =
                        ciborium::from_reader::<(String, u64), _>(data.as_slice())
                        && let Ok(id) = doc.parse::<DocId>()
                        && social.has(&id)
                        && seq > social.applied(&id)
                    {
                        let p = self.clone();
                        let via = *via;
                        tokio::spawn(async move { p.sync_with(via, &id).await });
                    }
                    return;
                }
                match social.receive(data, false) {
                    Ok(r) => {
                        self.doc_received(&r.doc, r.outcome);
                        if r.missing_from.is_some() {
                            // Gossip often arrives out of order in a burst: fetch only a gap
                            // that is still open a moment later, one fetch at a time.
                            let p = self.clone();
                            let via = *via;
                            tokio::spawn(async move {
                                tokio::time::sleep(GAP_WAIT).await;
                                if p.node().social.has_gap(&r.doc) {
                                    p.sync(via, &r.doc, false).await;
                                }
                            });
                        }
                    }
                    Err(e) => self.reject(&e),
                }
            }
            NetEvent::Subscribed { peer, topic } => {
                if let Some(doc) = topic.strip_prefix(DOC_TOPIC_PREFIX)
                    && let Ok(id) = doc.parse::<DocId>()
                    && id.writer() != &self.node().key.did()
                    && self.node().social.has(&id)
                {
                    let p = self.clone();
                    let peer = *peer;
                    tokio::spawn(async move { p.sync_with(peer, &id).await });
                }
            }
            NetEvent::PeerUp(peer) => {
                // Someone my documents concern came online: tell them (they catch up).
                let Ok(did) = ids::did_of_peer(peer) else {
                    return;
                };
                let node = self.node();
                let me = node.key.did();
                let mine: Vec<DocId> = node
                    .social
                    .ids()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|id| id.writer() == &me && node.concerned(id).contains(&did))
                    .collect();
                if mine.is_empty() {
                    return;
                }
                let p = self.clone();
                let peer = *peer;
                tokio::spawn(async move {
                    for id in mine {
                        let req = DocRequest::Notify {
                            doc: id.to_string(),
                        }
                        .encode();
                        if p.net.request(peer, req).await.is_err() {
                            return;
                        }
                    }
                });
            }
            _ => {}
        }
    }

    async fn answer(self: &Arc<Self>, peer: PeerId, rid: u64, req: DocRequest) {
        let social = &self.node().social;
        let mut out = DocAnswer::default();
        match req {
            DocRequest::Sync { doc, have } => {
                if let Ok(id) = doc.parse::<DocId>() {
                    match social.answer(&id, have) {
                        Ok(updates) => {
                            out.updates = updates
                                .into_iter()
                                .map(serde_bytes::ByteBuf::from)
                                .collect()
                        }
                        Err(e) => tracing::warn!(%id, "answering catch-up: {e}"),
                    }
                }
            }
            DocRequest::Notify { doc } => {
                // Only a document's writer can tell us about it.
                if let Ok(id) = doc.parse::<DocId>()
                    && ids::did_of_peer(&peer).is_ok_and(|d| &d == id.writer())
                    && id.writer() != &self.node().key.did()
                {
                    // Strangers (and follows of follows past a few documents) get a request,
                    // not a tracked document; the blocked get nothing. No receipt either way.
                    let writer = id.writer();
                    let tier = self.node().tier(writer);
                    let take = match tier {
                        Tier::Own | Tier::Contact => true,
                        Tier::FollowOfFollow => {
                            social.has(&id) || self.node().tracked_of(writer) < FOF_MAX_DOCS
                        }
                        Tier::Stranger | Tier::Blocked => social.has(&id),
                    };
                    if !take {
                        if tier == Tier::Stranger || tier == Tier::FollowOfFollow {
                            let item = crate::trust::RequestItem {
                                kind: id.kind().as_str().into(),
                                id: id.to_string(),
                                size: None,
                                title: None,
                                at_ms: crate::now_ms(),
                                intent: None,
                            };
                            if let Err(e) = self.node().record_request(writer, item) {
                                tracing::warn!("recording a request: {e}");
                            }
                        }
                        self.net.decline(rid).await;
                        return;
                    }
                    let _ = self.net.respond(rid, cbor(&out)).await;
                    if let Err(e) = social.track(&id) {
                        tracing::warn!(%id, "tracking a document: {e}");
                        return;
                    }
                    if let Err(e) = self.net.subscribe(&doc_topic(&id)).await {
                        tracing::warn!(%id, "subscribing: {e}");
                    }
                    self.sync_with(peer, &id).await;
                    return;
                }
            }
            _ => {}
        }
        let _ = self.net.respond(rid, cbor(&out)).await;
    }
}

/// Document sync as a network feature: subscribes to every stored document at start, spreads
/// local changes, answers and asks catch-up.
#[derive(Debug, Default)]
pub struct DocSync;

impl Feature for DocSync {
    fn name(&self) -> &'static str {
        "doc-sync"
    }

    fn start<'a>(&'a self, p2p: &'a Arc<P2p>) -> BoxFuture<'a, Result<(), P2pError>> {
        Box::pin(p2p.start_docs())
    }

    fn on_event(&self, p2p: &Arc<P2p>, ev: &NetEvent) {
        p2p.on_doc_event(ev);
    }

    fn on_request(
        &self,
        p2p: &Arc<P2p>,
        peer: PeerId,
        rid: u64,
        req: DocRequest,
    ) -> Result<BoxFuture<'static, ()>, DocRequest> {
        match req {
            DocRequest::Sync { .. } | DocRequest::Notify { .. } => {
                let p = p2p.clone();
                Ok(Box::pin(async move { p.answer(peer, rid, req).await }))
            }
            other => Err(other),
        }
    }

    fn on_outbound(&self, p2p: &Arc<P2p>, work: Outbound) -> Option<Outbound> {
        match work {
            Outbound::DocWritten { id, update, notify } => {
                p2p.doc_written(id, update, notify);
                None
            }
            Outbound::WatchDoc(id) => {
                p2p.watch_doc(id);
                None
            }
            other => Some(other),
        }
    }
}
