//! Shares on the network.
//!
//! - **Delivery**: a signed intent goes to each recipient directly over the request-response
//!   protocol (`Share`, or `ShareRef` naming an intent blob to fetch when it is over the
//!   request limit); a recipient who is offline gets it when it next meets this node
//!   (`PeerUp`) or when this node starts again. Intents also go to relays on the gossip topic
//!   `vivim/pin/1`, so they keep the ciphertext available while the sharer is offline.
//! - **Payload**: the recipient downloads the sealed hash sequence with iroh-blobs (BLAKE3
//!   verified) from the sharer, or from any provider of `/vivim/share/<payload>`, keeps the
//!   ciphertext (so it can serve it on), unwraps its grant, decrypts, and checks every record's
//!   signature before storing anything.
//! - **Links** open the same way with the key from the link's fragment.
//! - **Feed**: announcements gossiped by the people this node's user follows (on their user
//!   topics) become `published` entries.

use std::sync::{Arc, atomic::Ordering};

use serde::Serialize;
use vivim_identity::Did;
use vivim_protocol::{
    Announce, Audience, ConvId, Hash, IntentStatus, MAX_SEALED_BYTES, ShareLink, SharingIntent,
    Signed,
};

use futures::future::BoxFuture;

use crate::{
    net::ids,
    net::p2p::{Feature, P2p, P2pError, SeqLimits, user_topic},
    net::wire::{self, DocRequest},
    net::{MAX_GOSSIP_BYTES, NetEvent},
    node::outbound::Outbound,
    now_ms,
    share::{ShareRow, service::Intake, share_tag, unseal},
};

/// How often ended shares are swept (their blobs are refused from the moment they end).
pub const SHARE_SWEEP: std::time::Duration = std::time::Duration::from_secs(30);
/// How often shares not yet acknowledged by a recipient are offered again (a recipient that
/// comes online is also served at once when it connects).
pub const REDELIVER_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
pub use crate::net::gossip::PIN_TOPIC;
/// Most bytes one share's package may hold (it is downloaded whole before it is opened).
pub const MAX_SHARE_BYTES: u64 = 256 * 1024 * 1024;
/// Largest intent sent inside a request (bigger ones are fetched as a blob).
const MAX_INLINE_INTENT: usize = 60 * 1024;

/// The DHT key of a sealed payload's providers.
pub fn share_key(payload: &Hash) -> Vec<u8> {
    format!("/vivim/share/{payload}").into_bytes()
}

/// What opening a link or share did.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Opened {
    /// The conversation now stored here.
    pub conversation: String,
    /// Its title.
    pub title: String,
    /// Its owner.
    pub owner: String,
    /// ACUs stored.
    pub acus: usize,
    /// Who served the package.
    pub source: String,
    /// Wall time (seconds).
    pub seconds: f64,
}

impl P2p {
    /// Sends an intent to its recipients (all grant holders but me, or only `only`) and to
    /// relays. Runs in the background.
    pub fn spread_intent(self: &Arc<Self>, signed: Signed<SharingIntent>, only: Option<Vec<Did>>) {
        let p = self.clone();
        tokio::spawn(async move {
            let me = p.node().key.public();
            let i = signed.value();
            // Whoever holds a grant (a share's audience is always granted).
            let recipients: Vec<Did> = match only {
                Some(o) => o,
                None => i
                    .grants
                    .iter()
                    .map(|g| g.recipient)
                    .filter(|k| *k != me)
                    .map(|k| k.did())
                    .collect(),
            };
            let mut seen = std::collections::HashSet::new();
            for did in recipients {
                if !seen.insert(did) {
                    continue;
                }
                let p = p.clone();
                let signed = signed.clone();
                tokio::spawn(async move { p.deliver(&did, &signed).await });
            }
            if signed.bytes().len() <= MAX_GOSSIP_BYTES - 1024
                && !matches!(i.audience, Audience::Public)
                && let Err(e) = p.net.publish(PIN_TOPIC, signed.bytes().to_vec()).await
            {
                tracing::debug!("gossiping an intent to relays: {e}");
            }
        });
    }

    /// Delivers an intent to one recipient and records the acknowledgement.
    async fn deliver(self: &Arc<Self>, did: &Did, signed: &Signed<SharingIntent>) {
        let i = signed.value();
        let result = async {
            let peer = self.connect_did(did).await?;
            let req = if signed.bytes().len() <= MAX_INLINE_INTENT {
                crate::net::wire::share_request(signed.bytes())
            } else {
                let (h, _) = self
                    .node()
                    .store
                    .put_seq(&format!("intent/{}", i.id), vec![signed.bytes().to_vec()])
                    .await
                    .map_err(|e| P2pError::Node(e.into()))?;
                crate::net::wire::share_ref_request(h)
            };
            self.net.request(peer, req).await?;
            Ok::<_, P2pError>(())
        }
        .await;
        self.node()
            .share_state
            .delivered(&i.id, did, result.is_ok(), now_ms());
        match result {
            Ok(()) => {
                let node = self.node();
                if let Ok(Some(mut row)) = node.share_row(&i.id)
                    && row.signed().is_ok_and(|s| s.value().revision == i.revision)
                    && !row.delivered.contains(&did.public_key())
                {
                    row.delivered.push(did.public_key());
                    if let Err(e) = node.put_share(&row) {
                        tracing::warn!("recording a delivery: {e}");
                    }
                }
            }
            Err(e) => tracing::debug!(%did, id = %i.id, "share not delivered yet: {e}"),
        }
    }

    /// Delivers every active share of mine that `did` (or, with `None`, anyone) has not
    /// acknowledged yet.
    pub(crate) fn redeliver(self: &Arc<Self>, did: Option<Did>) {
        let node = self.node();
        let Some(from) = node.share_state.scan_from() else {
            return;
        };
        let me = node.key.public();
        let now = now_ms();
        let Ok(rows) = node.share_rows() else { return };
        let mut owed = false;
        for row in rows.into_iter().filter(|r| r.mine) {
            let Ok(s) = row.signed() else { continue };
            let i = s.value();
            let live = i.status_at(now) == IntentStatus::Active
                || i.status == IntentStatus::Revoked && i.expires_at_ms.is_none_or(|e| e > now);
            if !live || matches!(i.audience, Audience::Public) || i.payload.is_none() {
                continue;
            }
            let missing: Vec<Did> = i
                .grants
                .iter()
                .map(|g| g.recipient)
                .filter(|k| *k != me && !row.delivered.contains(k))
                .map(|k| k.did())
                .inspect(|_| owed = true)
                .filter(|d| match did {
                    Some(x) => x == *d,
                    None => node.share_state.delivery_due(&i.id, d, now),
                })
                .collect();
            if !missing.is_empty() {
                self.spread_intent(s.clone(), Some(missing));
            }
        }
        if !owed {
            node.share_state.scanned_clean(from);
        }
    }

    /// A recipient's side: an intent arrived (directly, or a relay's copy by gossip). It is
    /// checked and stored durably before this returns; the returned task opens it.
    pub(crate) fn on_intent(
        self: &Arc<Self>,
        bytes: &[u8],
        relay: bool,
    ) -> Option<tokio::task::JoinHandle<()>> {
        self.take_intent(bytes, relay).1
    }

    /// [`P2p::on_intent`], also saying whether the intent became a message request (then no
    /// receipt goes back to its sender).
    pub(crate) fn take_intent(
        self: &Arc<Self>,
        bytes: &[u8],
        relay: bool,
    ) -> (bool, Option<tokio::task::JoinHandle<()>>) {
        match self.node().take_intent(bytes, relay) {
            Ok(Intake::Open(row)) => {
                let p = self.clone();
                (
                    false,
                    Some(tokio::spawn(async move {
                        if let Err(e) = p.open_row(*row).await {
                            tracing::info!("a share could not be opened yet: {e}");
                        }
                    })),
                )
            }
            Ok(Intake::Kept) => (false, None),
            Ok(Intake::Requested) => (true, None),
            Err(e) => {
                tracing::debug!("dropping a sharing intent: {e}");
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                (false, None)
            }
        }
    }

    /// Opens the received shares that are still unopened (at start).
    pub(crate) fn reopen_pending(self: &Arc<Self>) {
        let rows = match self.node().unopened_shares() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("listing unopened shares: {e}");
                return;
            }
        };
        for row in rows {
            let p = self.clone();
            tokio::spawn(async move {
                if let Err(e) = p.open_row(row).await {
                    tracing::info!("a share could not be opened yet: {e}");
                }
            });
        }
    }

    /// Downloads a share's sealed package, keeps the ciphertext (a relay provides it on the
    /// DHT), and opens it when this node holds a grant. Returns the conversation it opened as.
    pub async fn open_row(self: &Arc<Self>, row: ShareRow) -> Result<Option<ConvId>, P2pError> {
        let s = row.signed().map_err(crate::node::NodeError::from)?;
        let i = s.value();
        let payload = i
            .payload
            .ok_or_else(|| P2pError::NotFound(format!("share {} carries no payload", i.id)))?;
        let status = i.status_at(now_ms());
        if status != IntentStatus::Active {
            return Err(P2pError::NotFound(format!(
                "share {} is {}",
                i.id,
                status.as_str()
            )));
        }
        let granted = i.grant_for(&self.node().key.public()).is_some();
        let pinning = self.pin && row.state == "pinned";
        if !granted && !pinning {
            // Nothing to read and nothing to hold for others: no download at all.
            return Err(P2pError::Rejected {
                what: format!("share {}", i.id),
                why: format!(
                    "it is sealed for its audience and {} has no key grant",
                    self.node().key.did()
                ),
            });
        }
        // One global budget of downloads held in memory at once (each up to MAX_SHARE_BYTES).
        let _slot = self
            .downloads
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| P2pError::Iroh("the network is stopping".into()))?;
        // What this sender may still make the node download today (contacts 1 GiB, follows of
        // follows 8 MiB; a relay pins within its own limits).
        let actor = i.actor.did();
        let budget = if granted {
            self.node().share_budget(&actor, now_ms())
        } else {
            MAX_SHARE_BYTES
        };
        // A share that cannot be downloaded says why on its row (and is tried again at start).
        let failed = |e: P2pError| {
            if granted {
                let mut r = row.clone();
                r.state = "failed".into();
                r.error = Some(e.to_string());
                if let Err(w) = self.node().put_share(&r) {
                    tracing::warn!("recording a failed share: {w}");
                }
            }
            e
        };
        if budget == 0 {
            return Err(failed(P2pError::Rejected {
                what: format!("share {}", i.id),
                why: format!("{actor} is over today's download quota; it opens tomorrow"),
            }));
        }
        let (blobs, _) = self
            .download_from_any_within(&actor, payload, &format!("share {}", i.id), budget)
            .await
            .map_err(failed)?;
        if granted {
            let got: u64 = blobs.iter().map(|b| b.len() as u64).sum();
            self.node().share_state.spent(&actor, got, now_ms());
        }
        if !granted {
            // A relay holds the ciphertext for others and provides it on the DHT.
            self.node()
                .store
                .put_seq(&share_tag(&i.id), blobs.clone())
                .await
                .map_err(|e| P2pError::Node(e.into()))?;
            self.net.provide(share_key(&payload)).await?;
            self.stats.pinned.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        // A recipient keeps the ciphertext too (it can serve other members), once it opened.
        let copy = blobs.clone();
        let conv = self.node().open_package(row, blobs).await?;
        let node = self.node().clone();
        let tag = share_tag(&i.id);
        tokio::spawn(async move {
            if let Err(e) = node.store.put_seq(&tag, copy).await {
                tracing::debug!("keeping a share's ciphertext: {e}");
            }
        });
        self.stats.fetched.fetch_add(1, Ordering::Relaxed);
        Ok(Some(conv))
    }

    /// Fetches the package of an intent given by hand (say, copied from a relay) and opens it
    /// if this node holds a grant; without one nothing is downloaded (a relay pins it).
    pub async fn fetch_intent(self: &Arc<Self>, bytes: &[u8]) -> Result<Option<ConvId>, P2pError> {
        let signed = Signed::<SharingIntent>::decode(bytes).map_err(|e| P2pError::Rejected {
            what: "a sharing intent".into(),
            why: e.to_string(),
        })?;
        let row = match self.node().accept_intent(bytes, true)? {
            Some(row) => row,
            None => self
                .node()
                .share_row(&signed.value().id)?
                .ok_or_else(|| P2pError::NotFound(format!("share {}", signed.value().id)))?,
        };
        match self.open_row(row).await? {
            Some(conv) => Ok(Some(conv)),
            None if self.pin => Ok(None),
            None => Err(P2pError::Rejected {
                what: format!("share {}", signed.value().id),
                why: format!(
                    "it is sealed for its audience and {} has no key grant",
                    self.node().key.did()
                ),
            }),
        }
    }

    /// Downloads a sealed package as it is, without opening it (the browser opens it with
    /// the link's key, which never reaches the node): from `from`, else any provider.
    pub async fn fetch_sealed(
        self: &Arc<Self>,
        from: &Did,
        payload: Hash,
    ) -> Result<Vec<Vec<u8>>, P2pError> {
        Ok(self
            .download_from_any(from, payload, "the sealed package")
            .await?
            .0)
    }

    /// Opens a share link: downloads the sealed package from the link's node (or any
    /// provider), decrypts it with the link's key, verifies and stores it.
    pub async fn open_link(self: &Arc<Self>, link: &ShareLink) -> Result<Opened, P2pError> {
        let started = std::time::Instant::now();
        let (blobs, source) = self
            .download_from_any(&link.from, link.payload, "the shared conversation")
            .await?;
        let key = link.key.clone();
        let new = tokio::task::spawn_blocking(move || unseal(&key, &blobs, None))
            .await
            .map_err(|e| P2pError::Iroh(e.to_string()))?
            .map_err(|why| P2pError::Rejected {
                what: "the linked conversation".into(),
                why,
            })?;
        let m = new.manifest.value().clone();
        let n = new.acus.len();
        self.node().store_fetched(new).await?;
        self.stats.fetched.fetch_add(1, Ordering::Relaxed);
        Ok(Opened {
            conversation: m.id.to_string(),
            title: m.title,
            owner: m.owner.did().to_string(),
            acus: n,
            source: source.to_string(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Downloads a hash sequence from `first`, then from the DHT's providers of it.
    async fn download_from_any(
        &self,
        first: &Did,
        seq: Hash,
        what: &str,
    ) -> Result<(Vec<Vec<u8>>, Did), P2pError> {
        self.download_from_any_within(first, seq, what, MAX_SHARE_BYTES)
            .await
    }

    /// [`P2p::download_from_any`], at most `max_total` bytes in all.
    async fn download_from_any_within(
        &self,
        first: &Did,
        seq: Hash,
        what: &str,
        max_total: u64,
    ) -> Result<(Vec<Vec<u8>>, Did), P2pError> {
        // Our own link (or a package we hold): read it here, iroh does not dial itself.
        if let Some(b) = self
            .node()
            .store
            .read_seq(seq, MAX_SHARE_BYTES)
            .await
            .map_err(crate::node::NodeError::from)?
        {
            return Ok((b, self.node().key.did()));
        }
        let mut sources = vec![*first];
        let mut last = String::new();
        let mut k = 0;
        while let Some(&src) = sources.get(k) {
            match self
                .download_within(&src, seq, MAX_SEALED_BYTES, max_total.min(MAX_SHARE_BYTES))
                .await
            {
                Ok(b) => return Ok((b, src)),
                Err(e @ P2pError::Rejected { .. }) => return Err(e),
                Err(e) => last = format!("{src}: {e}"),
            }
            k += 1;
            if k == 1 {
                // The first source failed: ask the DHT who else holds it.
                let me = self.node().key.did();
                for p in self
                    .net
                    .providers(share_key(&seq))
                    .await
                    .unwrap_or_default()
                {
                    if let Ok(d) = ids::did_of_peer(&p)
                        && !sources.contains(&d)
                        && d != me
                    {
                        sources.push(d);
                    }
                }
            }
        }
        Err(P2pError::Unavailable {
            what: what.into(),
            tried: sources.len(),
            last,
        })
    }

    /// Downloads a hash sequence's items from `src`, each at most `max_item` bytes and all
    /// together at most [`MAX_SHARE_BYTES`], BLAKE3-verified as they stream.
    pub(crate) async fn download(
        &self,
        src: &Did,
        root: Hash,
        max_item: usize,
    ) -> Result<Vec<Vec<u8>>, P2pError> {
        self.download_within(src, root, max_item, MAX_SHARE_BYTES)
            .await
    }

    /// [`P2p::download`], at most `max_total` bytes in all.
    async fn download_within(
        &self,
        src: &Did,
        root: Hash,
        max_item: usize,
        max_total: u64,
    ) -> Result<Vec<Vec<u8>>, P2pError> {
        let limits = SeqLimits {
            first_item: max_item,
            item: max_item,
            total: max_total,
        };
        let mut out = Vec::new();
        self.stream_seq(
            src,
            root,
            &format!("download of {root}"),
            limits,
            |_| Ok(()),
            |_, bytes| {
                out.push(bytes);
                std::future::ready(true)
            },
        )
        .await?;
        Ok(out)
    }

    /// Fetches an intent too large for a request from the peer that announced it.
    pub(crate) async fn fetch_intent_blob(self: &Arc<Self>, from: &Did, hash: Hash) {
        match self
            .download(from, hash, vivim_protocol::limits::MAX_INTENT_BYTES)
            .await
        {
            Ok(mut b) if b.len() == 1 => {
                let bytes = b.remove(0);
                self.on_intent(&bytes, false);
            }
            Ok(_) => {
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::debug!(%from, "fetching a large intent: {e}"),
        }
    }

    /// Subscribes to the user topics of everyone this node's user follows.
    pub(crate) async fn follow_topics(&self) {
        let me = self.node().key.did();
        let Some(g) = self
            .node()
            .social
            .read(&self.node().graph_id(), vivim_crdt::schema::GraphView::read)
        else {
            return;
        };
        for did in g.follows.keys().filter(|d| **d != me) {
            if let Err(e) = self.net.subscribe(&user_topic(did)).await {
                tracing::debug!(%did, "subscribing to a followed user: {e}");
            }
        }
    }

    /// Handles what the network says about shares and publications (from the event loop).
    pub(crate) fn on_share_event(self: &Arc<Self>, ev: &NetEvent) {
        match ev {
            NetEvent::Gossip { topic, data, .. } if topic == PIN_TOPIC && self.pin => {
                let p = self.clone();
                let data = data.clone();
                // A pin holds one of the relay's pin slots until its download is done.
                self.spawn_pin(async move {
                    if let Some(open) = p.on_intent(&data, true) {
                        let _ = open.await;
                    }
                });
            }
            NetEvent::Gossip { topic, data, .. } if topic.starts_with("vivim/user/1/") => {
                let Some(did) = topic
                    .strip_prefix("vivim/user/1/")
                    .and_then(|d| d.parse::<Did>().ok())
                else {
                    return;
                };
                // Only publications of people this user still follows.
                let me = self.node().key.did();
                let follows = self
                    .node()
                    .social
                    .read(&self.node().graph_id(), vivim_crdt::schema::GraphView::read)
                    .is_some_and(|g| g.follows.contains_key(&did));
                if did == me || !follows {
                    return;
                }
                match Signed::<Announce>::decode(data) {
                    Ok(a) if a.value().owner == did.public_key() => {
                        let v = a.value();
                        if let Err(e) =
                            self.node()
                                .feed_published(&a.id(), &did, &v.title, &v.conversation)
                        {
                            tracing::warn!("adding a publication to the feed: {e}");
                        }
                    }
                    _ => {
                        self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            NetEvent::PeerUp(peer) => {
                if let Ok(did) = ids::did_of_peer(peer) {
                    self.redeliver(Some(did));
                }
            }
            _ => {}
        }
    }
}

/// Sharing as a network feature: delivers intents (and offers them again until acknowledged),
/// receives and opens them, keeps relays' copies, turns followed people's announcements into
/// feed entries, and sweeps ended shares.
#[derive(Debug, Default)]
pub struct Sharing;

impl Sharing {
    /// Redelivery and sweeping, every few seconds, while the network lives.
    async fn periodic(me: std::sync::Weak<P2p>) {
        let mut sweep = tokio::time::interval(SHARE_SWEEP);
        let mut redeliver = tokio::time::interval(REDELIVER_EVERY);
        redeliver.tick().await;
        loop {
            tokio::select! {
                _ = redeliver.tick() => {
                    let Some(p) = me.upgrade() else { return };
                    p.redeliver(None);
                }
                _ = sweep.tick() => {
                    let Some(p) = me.upgrade() else { return };
                    if let Err(e) = p.node().sweep_shares().await {
                        tracing::warn!("sweeping ended shares: {e}");
                    }
                }
            }
        }
    }
}

impl Feature for Sharing {
    fn name(&self) -> &'static str {
        "sharing"
    }

    fn start<'a>(&'a self, p2p: &'a Arc<P2p>) -> BoxFuture<'a, Result<(), P2pError>> {
        Box::pin(async move {
            if p2p.pin {
                p2p.net.subscribe(PIN_TOPIC).await?;
            }
            p2p.follow_topics().await;
            tokio::spawn(Self::periodic(Arc::downgrade(p2p)));
            // Shares made while the network was down (or not yet acknowledged), and shares
            // received but not opened before the node stopped.
            p2p.redeliver(None);
            p2p.reopen_pending();
            Ok(())
        })
    }

    fn on_event(&self, p2p: &Arc<P2p>, ev: &NetEvent) {
        p2p.on_share_event(ev);
    }

    fn on_request(
        &self,
        p2p: &Arc<P2p>,
        peer: libp2p::PeerId,
        rid: u64,
        req: DocRequest,
    ) -> Result<BoxFuture<'static, ()>, DocRequest> {
        let p = p2p.clone();
        match req {
            DocRequest::Share { intent } => Ok(Box::pin(async move {
                // Stored durably before the sharer hears it arrived, then opened. A stranger's
                // becomes a request and hears nothing (as if this node were offline).
                let (requested, _opening) = p.take_intent(&intent, false);
                if requested {
                    p.net.decline(rid).await;
                } else {
                    let _ = p.net.respond(rid, wire::ack()).await;
                }
            })),
            DocRequest::ShareRef { hash } => Ok(Box::pin(async move {
                let (Ok(from), Ok(h)) = (
                    ids::did_of_peer(&peer),
                    <[u8; 32]>::try_from(hash.as_slice()),
                ) else {
                    let _ = p.net.respond(rid, wire::ack()).await;
                    return;
                };
                // A stranger's large intent is not fetched: the request names its blob, and
                // the sender delivers it again once accepted.
                if p.node().tier(&from) <= crate::trust::Tier::Stranger {
                    let item = crate::trust::RequestItem {
                        kind: "share_ref".into(),
                        id: Hash(h).to_string(),
                        size: None,
                        title: None,
                        at_ms: crate::now_ms(),
                        intent: None,
                    };
                    if let Err(e) = p.node().record_request(&from, item) {
                        tracing::warn!("recording a request: {e}");
                    }
                    p.net.decline(rid).await;
                    return;
                }
                let _ = p.net.respond(rid, wire::ack()).await;
                p.fetch_intent_blob(&from, Hash(h)).await;
            })),
            other => Err(other),
        }
    }

    fn on_outbound(&self, p2p: &Arc<P2p>, work: Outbound) -> Option<Outbound> {
        match work {
            Outbound::SpreadIntent { intent, only } => {
                p2p.spread_intent(intent, only);
                None
            }
            Outbound::OpenShares => {
                p2p.reopen_pending();
                None
            }
            other => Some(other),
        }
    }
}
