//! Peer to peer: the node's DHT identity record, publishing and fetching conversations with
//! iroh-blobs (verified end to end), and relay mode's pinning of public content.
//!
//! - `/vivim/did/<did>` → the signed [`PeerRecord`] of the DID's node, republished before it
//!   expires. Resolving a DID checks the record's signature against the DID itself.
//! - `/vivim/conv/<id>` → the owner's signed [`Announce`] (latest version = hash sequence), and
//!   provider records of every node that serves that version (the owner, relays that pinned it).
//! - Bytes move with iroh-blobs: the hash sequence `[manifest, acu_1 … acu_n]` in one request,
//!   each blob BLAKE3-verified while streaming and its signature checked on another thread as
//!   soon as it is complete; nothing is stored until all of it verified. A conversation that
//!   fails any check is dropped whole and counted.

use crate::now_ms;
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use iroh::{EndpointAddr, RelayMode, endpoint::presets, protocol::Router};
use iroh_blobs::BlobsProtocol;
use libp2p::{Multiaddr, PeerId};
use serde::Serialize;
use vivim_identity::Did;
use vivim_protocol::{Acu, Announce, ConvId, Manifest, PeerRecord, Signed, parse_hash_seq};

use futures::future::BoxFuture;

use crate::{
    net::ids,
    net::wire::{self, DocRequest},
    net::{Net, NetConfig, NetError, NetEvent},
    node::{Node, NodeError, outbound::Outbound},
    store::{AcuBytes, StoreError, StreamWriter},
};

/// How long a peer record is valid; it is republished at half that.
pub const PEER_RECORD_TTL: Duration = Duration::from_secs(3600);
/// How long to wait for a provider to answer a connection before trying the next one.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub use super::gossip::ANNOUNCE_TOPIC;

/// The DHT key of a DID's peer record.
pub fn did_key(did: &Did) -> Vec<u8> {
    format!("{}{did}", super::records::DID_PREFIX).into_bytes()
}

/// The DHT key of a conversation's announcement and providers.
pub fn conv_key(id: &ConvId) -> Vec<u8> {
    format!("{}{id}", super::records::CONV_PREFIX).into_bytes()
}

/// The gossip topic of a user's announcements.
pub fn user_topic(did: &Did) -> String {
    format!("{}{did}", super::gossip::USER_TOPIC_PREFIX)
}

/// Why a peer-to-peer operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum P2pError {
    /// The libp2p side failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The iroh side failed.
    #[error("iroh: {0}")]
    Iroh(String),
    /// Local storage failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// No valid record was found.
    #[error("{0}")]
    NotFound(String),
    /// What a peer sent failed verification; nothing was stored.
    #[error("rejected {what}: {why}")]
    Rejected {
        /// What.
        what: String,
        /// Why.
        why: String,
    },
    /// Every provider failed.
    #[error("could not download {what} from any of {tried} provider(s): {last}")]
    Unavailable {
        /// What.
        what: String,
        /// How many were tried.
        tried: usize,
        /// The last error.
        last: String,
    },
}

/// Settings for the peer-to-peer side.
#[derive(Debug, Clone)]
pub struct P2pConfig {
    /// libp2p.
    pub net: NetConfig,
    /// Where the iroh endpoint binds.
    pub iroh_bind: SocketAddr,
    /// iroh relay URLs (none: direct connections only).
    pub relay_urls: Vec<String>,
    /// Relay mode: pin public content announced on the network.
    pub pin_announced: bool,
    /// Relay mode: the largest conversation it pins, in bytes.
    pub pin_max_bytes: u64,
    /// Relay mode: run an iroh relay (plain HTTP; put TLS in front for the internet) here.
    pub iroh_relay_bind: Option<SocketAddr>,
    /// The largest conversation a fetch the user asked for downloads, in bytes.
    pub fetch_max_bytes: u64,
}

impl P2pConfig {
    /// From the node's configuration.
    pub fn from_config(c: &crate::config::NetworkConfig) -> Result<Self, P2pError> {
        let bad = |what: &str, v: &str, e: &dyn std::fmt::Display| {
            P2pError::NotFound(format!("invalid {what} {v:?}: {e}"))
        };
        let addrs = |list: &[String], what: &str| -> Result<Vec<Multiaddr>, P2pError> {
            list.iter()
                .map(|a| a.parse::<Multiaddr>().map_err(|e| bad(what, a, &e)))
                .collect()
        };
        Ok(P2pConfig {
            net: NetConfig {
                listen: addrs(&c.listen, "listen address")?,
                bootstrap: addrs(&c.bootstrap, "bootstrap address")?,
                mdns: c.mdns,
                ..NetConfig::default()
            },
            iroh_bind: c
                .iroh_bind
                .parse()
                .map_err(|e| bad("iroh bind address", &c.iroh_bind, &e))?,
            relay_urls: c.relay_urls.clone(),
            pin_announced: false,
            pin_max_bytes: MAX_PIN_BYTES,
            iroh_relay_bind: None,
            fetch_max_bytes: c.max_fetch_bytes,
        })
    }

    /// Loopback only, relays disabled: tests and benchmarks.
    pub fn loopback() -> Self {
        P2pConfig {
            net: NetConfig::loopback(),
            iroh_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            relay_urls: Vec::new(),
            pin_announced: false,
            pin_max_bytes: MAX_PIN_BYTES,
            iroh_relay_bind: None,
            fetch_max_bytes: MAX_FETCH_BYTES,
        }
    }
}

/// Counters.
#[derive(Debug, Default, Serialize)]
pub struct P2pStats {
    /// Conversations fetched and stored.
    pub fetched: AtomicU64,
    /// Records or conversations dropped because they failed verification.
    pub rejected: AtomicU64,
    /// Conversations pinned (relay mode).
    pub pinned: AtomicU64,
    /// Announcements not pinned because too many waited already (relay mode).
    pub pins_dropped: AtomicU64,
}

/// The running peer-to-peer side of a node.
pub struct P2p {
    node: Arc<Node>,
    /// libp2p handle.
    pub net: Net,
    /// iroh endpoint (same key).
    pub endpoint: iroh::Endpoint,
    router: Router,
    /// Counters.
    pub stats: P2pStats,
    pub(crate) pin: bool,
    pin_max_bytes: u64,
    fetch_max_bytes: u64,
    /// Pins that may run at once ([`PIN_CONCURRENCY`]).
    pin_slots: Arc<tokio::sync::Semaphore>,
    /// Pins running or waiting for a slot.
    pin_pending: Arc<std::sync::atomic::AtomicUsize>,
    /// Share packages downloading at once ([`DOWNLOAD_CONCURRENCY`]): each is held in memory
    /// whole before it is opened, so this bounds the memory they take.
    pub(crate) downloads: Arc<tokio::sync::Semaphore>,
    relay: tokio::sync::Mutex<Option<iroh_relay::server::Server>>,
    relay_url: Option<iroh::RelayUrl>,
    last_record_ms: AtomicU64,
    features: Vec<Arc<dyn Feature>>,
}

/// A feature's network side (document sync, sharing): what it subscribes to and answers.
/// [`P2p`] knows features only through this trait; they are handed to [`P2p::launch`] by the
/// code that composes the node (`crate::network`), so the network never names them.
pub trait Feature: Send + Sync + 'static {
    /// Its name, for logs.
    fn name(&self) -> &'static str;
    /// Runs once the network is up: subscriptions, catching up, background work (which must
    /// hold the network weakly, so that dropping it ends the work).
    fn start<'a>(&'a self, p2p: &'a Arc<P2p>) -> BoxFuture<'a, Result<(), P2pError>>;
    /// Every network event (gossip, peers coming and going; requests go to `on_request`).
    fn on_event(&self, p2p: &Arc<P2p>, ev: &NetEvent);
    /// A request on `/vivim/doc/1.0.0`: the work that answers it (it must answer `rid`), or
    /// the request back when it is not this feature's.
    fn on_request(
        &self,
        p2p: &Arc<P2p>,
        peer: PeerId,
        rid: u64,
        req: DocRequest,
    ) -> Result<BoxFuture<'static, ()>, DocRequest> {
        let _ = (p2p, peer, rid);
        Err(req)
    }
    /// Work the node queued; gives it back when it is not this feature's.
    fn on_outbound(&self, p2p: &Arc<P2p>, work: Outbound) -> Option<Outbound>;
}

impl std::fmt::Debug for P2p {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2p")
            .field("peer_id", &self.net.peer_id)
            .finish()
    }
}

impl P2p {
    /// Starts libp2p and iroh for `node` with these features, publishes its peer record, and
    /// (in relay mode) starts pinning announced content. The network holds the node; the node
    /// reaches the network only through its outbound channel, so dropping the last handle on
    /// the network ends its background work and frees the node.
    pub async fn launch(
        node: Arc<Node>,
        cfg: P2pConfig,
        features: Vec<Arc<dyn Feature>>,
    ) -> Result<Arc<P2p>, P2pError> {
        let net = Net::start(&node.key, cfg.net.clone()).await?;
        let relay = match cfg.iroh_relay_bind {
            None => None,
            Some(addr) => {
                let mut sc = iroh_relay::server::ServerConfig::default();
                sc.relay = Some(iroh_relay::server::RelayConfig::new(addr));
                Some(
                    iroh_relay::server::Server::spawn(sc)
                        .await
                        .map_err(|e| P2pError::Iroh(format!("starting the iroh relay: {e}")))?,
                )
            }
        };
        // The URL other nodes on this machine can use; for the internet, give them the public
        // name of this host (behind TLS) instead.
        let relay_url = relay
            .as_ref()
            .and_then(|r| r.http_addr())
            .and_then(|mut a| {
                if a.ip().is_unspecified() {
                    a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{a}").parse::<iroh::RelayUrl>().ok()
            });
        let relay_mode = if cfg.relay_urls.is_empty() {
            RelayMode::Disabled
        } else {
            let urls: Result<Vec<iroh::RelayUrl>, _> =
                cfg.relay_urls.iter().map(|u| u.parse()).collect();
            RelayMode::Custom(
                urls.map_err(|e| P2pError::Iroh(format!("relay url: {e}")))?
                    .into_iter()
                    .collect(),
            )
        };
        let endpoint = iroh::Endpoint::builder(presets::Minimal)
            .secret_key(ids::iroh_secret(&node.key))
            .relay_mode(relay_mode)
            .clear_ip_transports()
            .bind_addr(cfg.iroh_bind)
            .map_err(|e| P2pError::Iroh(e.to_string()))?
            .bind()
            .await
            .map_err(|e| P2pError::Iroh(e.to_string()))?;
        let blobs = ServeBlobs(BlobsProtocol::new(
            node.store.blobs(),
            Some(serve_guard(Arc::downgrade(&node))),
        ));
        let router = Router::builder(endpoint.clone())
            .accept(iroh_blobs::ALPN, blobs)
            .spawn();
        let p2p = Arc::new(P2p {
            node,
            net,
            endpoint,
            router,
            stats: P2pStats::default(),
            pin: cfg.pin_announced,
            pin_max_bytes: cfg.pin_max_bytes,
            fetch_max_bytes: cfg.fetch_max_bytes,
            pin_slots: Arc::new(tokio::sync::Semaphore::new(PIN_CONCURRENCY)),
            downloads: Arc::new(tokio::sync::Semaphore::new(DOWNLOAD_CONCURRENCY)),
            pin_pending: Arc::default(),
            last_record_ms: AtomicU64::new(0),
            relay: tokio::sync::Mutex::new(relay),
            relay_url,
            features,
        });
        // The swarm refuses the people this user blocked.
        let blocked = p2p
            .node
            .social
            .read(
                &vivim_crdt::DocId::graph(&p2p.node.key.did()),
                vivim_crdt::schema::GraphView::read,
            )
            .map(|g| g.blocks.into_keys().collect::<Vec<_>>())
            .unwrap_or_default();
        for did in blocked {
            p2p.net
                .set_blocked(ids::peer_id(&did.public_key()), true)
                .await;
        }
        let outbound = p2p.node.connect_network();
        tokio::spawn(Self::outbound(Arc::downgrade(&p2p), outbound));
        p2p.net.subscribe(ANNOUNCE_TOPIC).await?;
        p2p.net.subscribe(&user_topic(&p2p.node.key.did())).await?;
        // In the background: a DHT put waits for the closest peers, which a node that just
        // dialed its bootstrap peers does not know yet.
        let me = p2p.clone();
        tokio::spawn(async move {
            if let Err(e) = me.publish_peer_record().await {
                tracing::warn!("publishing the peer record: {e}");
            }
        });
        tokio::spawn(Self::background(Arc::downgrade(&p2p)));
        for f in &p2p.features {
            f.start(&p2p).await?;
            tracing::debug!(feature = f.name(), "started");
        }
        Ok(p2p)
    }

    /// Decodes a request on `/vivim/doc/1.0.0` and hands it to the feature that takes it; a
    /// request nobody takes (or that does not decode) is counted and acknowledged empty.
    fn on_request(self: &Arc<Self>, peer: PeerId, rid: u64, data: &[u8]) {
        let mut left = ciborium::from_reader::<DocRequest, _>(data).ok();
        for f in &self.features {
            let Some(req) = left.take() else { break };
            match f.on_request(self, peer, rid, req) {
                Ok(work) => {
                    tokio::spawn(work);
                    return;
                }
                Err(req) => left = Some(req),
            }
        }
        self.stats.rejected.fetch_add(1, Ordering::Relaxed);
        let p = self.clone();
        tokio::spawn(async move {
            let _ = p.net.respond(rid, wire::ack()).await;
        });
    }

    /// Takes the node's outbound work: publishing, subscriptions and stopping here, the rest
    /// to the feature it belongs to. Ends when the network or the node is gone.
    async fn outbound(me: std::sync::Weak<P2p>, mut work: tokio::sync::mpsc::Receiver<Outbound>) {
        while let Some(w) = work.recv().await {
            let Some(p) = me.upgrade() else { return };
            match w {
                Outbound::Publish { conv, reply } => {
                    tokio::spawn(async move {
                        let _ = reply.send(p.publish(&conv).await.map_err(|e| e.to_string()));
                    });
                }
                Outbound::Subscribe(topic) => {
                    tokio::spawn(async move { p.net.subscribe(&topic).await });
                }
                Outbound::Block { did, blocked } => {
                    // The change to the graph (queued before this) goes out first, so the
                    // blocked person's node learns of it; then the swarm refuses them.
                    let net = p.net.clone();
                    tokio::spawn(async move {
                        if blocked {
                            tokio::time::sleep(BLOCK_GRACE).await;
                        }
                        net.set_blocked(ids::peer_id(&did.public_key()), blocked)
                            .await;
                    });
                }
                Outbound::Shutdown(done) => {
                    p.shutdown().await;
                    let _ = done.send(());
                    return;
                }
                other => {
                    let mut left = Some(other);
                    for f in &p.features {
                        match left.take() {
                            Some(w) => left = f.on_outbound(&p, w),
                            None => break,
                        }
                    }
                    if let Some(w) = left {
                        tracing::debug!("no feature takes {w:?}");
                    }
                }
            }
        }
    }

    async fn background(me: std::sync::Weak<P2p>) {
        let Some(p) = me.upgrade() else { return };
        let mut events = p.net.events();
        drop(p);
        let mut republish = tokio::time::interval(PEER_RECORD_TTL / 2);
        republish.tick().await;
        loop {
            tokio::select! {
                _ = republish.tick() => {
                    let Some(p) = me.upgrade() else { return };
                    if let Err(e) = p.publish_peer_record().await {
                        tracing::warn!("republishing the peer record: {e}");
                    }
                }
                ev = events.recv() => {
                    let Some(p) = me.upgrade() else { return };
                    if let Ok(NetEvent::Request { peer, id, data }) = &ev {
                        p.on_request(*peer, *id, data);
                    } else if let Ok(ev) = &ev {
                        for f in &p.features {
                            f.on_event(&p, ev);
                        }
                    }
                    match ev {
                        Ok(NetEvent::Gossip { topic, data, .. }) if topic == ANNOUNCE_TOPIC && p.pin => {
                            let q = p.clone();
                            p.spawn_pin(async move { q.pin_announcement(&data).await });
                        }
                        Ok(NetEvent::PeerUp(_)) => {
                            // A new neighbour: make sure the DHT can find us through it — at
                            // most every few seconds, however many peers arrive.
                            let now = now_ms();
                            let last = p.last_record_ms.load(Ordering::Relaxed);
                            if now.saturating_sub(last) >= 5_000 {
                                p.last_record_ms.store(now, Ordering::Relaxed);
                                let p = p.clone();
                                tokio::spawn(async move { let _ = p.publish_peer_record().await; });
                            }
                        }
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            }
        }
    }

    /// The node this runs for.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// The iroh address peers use to reach us.
    pub fn iroh_addrs(&self) -> Vec<SocketAddr> {
        let mut addrs: Vec<SocketAddr> = self.endpoint.addr().ip_addrs().copied().collect();
        for s in self.endpoint.bound_sockets() {
            if !s.ip().is_unspecified() && !addrs.contains(&s) {
                addrs.push(s);
            }
        }
        addrs
    }

    /// libp2p addresses to give others for bootstrapping (`…/p2p/<peer id>`).
    pub async fn bootstrap_addrs(&self) -> Vec<Multiaddr> {
        let info = self.net.info().await.ok();
        info.map(|i| i.listen_addrs)
            .unwrap_or_default()
            .iter()
            .filter_map(|a| a.parse::<Multiaddr>().ok())
            .map(|a| a.with(libp2p::multiaddr::Protocol::P2p(self.net.peer_id)))
            .collect()
    }

    /// Signs and publishes `/vivim/did/<did>` → our peer record.
    pub async fn publish_peer_record(&self) -> Result<Signed<PeerRecord>, P2pError> {
        let info = self.net.info().await?;
        let now = now_ms();
        let rec = PeerRecord {
            v: 1,
            key: self.node.key.public(),
            libp2p_addrs: info.listen_addrs.into_iter().take(16).collect(),
            iroh_addrs: self
                .iroh_addrs()
                .into_iter()
                .take(16)
                .map(|a| a.to_string())
                .collect(),
            relay_url: self
                .endpoint
                .addr()
                .relay_urls()
                .next()
                .map(|u| u.to_string()),
            issued_at_ms: now,
            expires_at_ms: now + PEER_RECORD_TTL.as_millis() as u64,
            sig: None,
        };
        let signed = Signed::sign(rec, &self.node.key)
            .map_err(|e| P2pError::Iroh(format!("signing the peer record: {e}")))?;
        self.net
            .put_record(did_key(&self.node.key.did()), signed.bytes().to_vec())
            .await?;
        Ok(signed)
    }

    /// Decodes DHT values as signed records, keeps those `accept` allows, and returns the one
    /// with the greatest `time`. Everything that fails is counted as rejected.
    fn newest<T: vivim_protocol::Record>(
        &self,
        values: Vec<Vec<u8>>,
        accept: impl Fn(&T) -> bool,
        time: impl Fn(&T) -> u64,
    ) -> Option<Signed<T>> {
        let mut best: Option<Signed<T>> = None;
        for v in values {
            match Signed::<T>::decode(&v) {
                Ok(r) if accept(r.value()) => {
                    if best
                        .as_ref()
                        .is_none_or(|b| time(b.value()) < time(r.value()))
                    {
                        best = Some(r);
                    }
                }
                Ok(_) => {
                    self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::debug!("dropping a bad {}: {e}", T::KIND);
                    self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        best
    }

    /// Finds `did`'s current peer record in the DHT, verified against the DID.
    pub async fn resolve(&self, did: &Did) -> Result<Signed<PeerRecord>, P2pError> {
        let values = self.net.get_records(did_key(did)).await?;
        let now = now_ms();
        self.newest(
            values,
            |r: &PeerRecord| r.key == did.public_key() && r.expires_at_ms > now,
            |r| r.issued_at_ms,
        )
        .ok_or_else(|| P2pError::NotFound(format!("no valid peer record for {did}")))
    }

    /// Makes a conversation public: writes it to the blob store, puts the signed announcement
    /// in the DHT, provides it, and gossips the announcement.
    pub async fn publish(&self, id: &ConvId) -> Result<Signed<Announce>, P2pError> {
        let row = self
            .node
            .store
            .row(id)
            .map_err(NodeError::from)?
            .ok_or_else(|| P2pError::NotFound(format!("conversation {id}")))?;
        if row.manifest.owner != self.node.key.public() {
            return Err(P2pError::Rejected {
                what: format!("publishing {id}"),
                why: format!(
                    "it belongs to {}; only its owner announces it",
                    row.manifest.owner
                ),
            });
        }
        let seq = self
            .node
            .store
            .to_blobs(id)
            .await
            .map_err(NodeError::from)?;
        let ann = Announce {
            v: 1,
            conversation: *id,
            seq,
            manifest: row.manifest_id,
            owner: self.node.key.public(),
            title: row.manifest.title.chars().take(200).collect(),
            published_at_ms: now_ms(),
            sig: None,
        };
        let signed = Signed::sign(ann, &self.node.key)
            .map_err(|e| P2pError::Iroh(format!("signing the announcement: {e}")))?;
        self.net
            .put_record(conv_key(id), signed.bytes().to_vec())
            .await?;
        self.net.provide(conv_key(id)).await?;
        let bytes = signed.bytes().to_vec();
        self.net
            .publish(&user_topic(&self.node.key.did()), bytes.clone())
            .await?;
        self.net.publish(ANNOUNCE_TOPIC, bytes).await?;
        Ok(signed)
    }

    /// The newest valid announcement of a conversation in the DHT. Conversation ids are not
    /// bound to keys, so anyone can announce any id: when this node already holds the
    /// conversation only its owner's announcements count, and otherwise those of `prefer`
    /// (the DID the user asked for) win over everyone else's.
    pub async fn announcement(
        &self,
        id: &ConvId,
        prefer: Option<&Did>,
    ) -> Result<Signed<Announce>, P2pError> {
        let values = self.net.get_records(conv_key(id)).await?;
        let stored_owner = self
            .node
            .store
            .row(id)
            .map_err(NodeError::from)?
            .map(|r| r.manifest.owner);
        let by = |owner: Option<vivim_identity::PublicKey>| {
            self.newest(
                values.clone(),
                |a: &Announce| a.conversation == *id && owner.is_none_or(|o| a.owner == o),
                |a| a.published_at_ms,
            )
        };
        let found = match (stored_owner, prefer) {
            (Some(owner), _) => by(Some(owner)),
            (None, Some(d)) => by(Some(d.public_key())).or_else(|| by(None)),
            (None, None) => by(None),
        };
        found.ok_or_else(|| P2pError::NotFound(format!("no announcement of conversation {id}")))
    }

    pub(crate) async fn endpoint_of(&self, did: &Did) -> Result<EndpointAddr, P2pError> {
        let rec = self.resolve(did).await?;
        let mut addr = EndpointAddr::new(ids::endpoint_id(&did.public_key()));
        for a in &rec.value().iroh_addrs {
            if let Ok(s) = a.parse::<SocketAddr>() {
                addr = addr.with_ip_addr(s);
            }
        }
        if let Some(u) = rec
            .value()
            .relay_url
            .as_deref()
            .and_then(|u| u.parse().ok())
        {
            addr = addr.with_relay_url(u);
        }
        Ok(addr)
    }

    /// Fetches a public conversation: its announcement from the DHT, then its bytes from
    /// `from` (a DID) or from any provider, verified, then stored with its original owner.
    pub async fn fetch(&self, id: &ConvId, from: Option<&Did>) -> Result<FetchOutcome, P2pError> {
        let ann = self.announcement(id, from).await?;
        let a = ann.value().clone();
        if let Some(from) = from
            && a.owner != from.public_key()
        {
            // `--from` names the source; the owner may differ (a relay that pinned it).
            tracing::debug!("fetching {id} owned by {} from {from}", a.owner);
        }
        let mut sources: Vec<Did> = Vec::new();
        match from {
            Some(d) => sources.push(*d),
            None => {
                sources.push(a.owner.did());
                for p in self.net.providers(conv_key(id)).await.unwrap_or_default() {
                    if let Ok(d) = ids::did_of_peer(&p)
                        && !sources.contains(&d)
                        && d != self.node.key.did()
                    {
                        sources.push(d);
                    }
                }
            }
        }
        // This node never downloads from itself (its own announcement names it).
        sources.retain(|d| *d != self.node.key.did());
        if sources.is_empty() {
            return Err(P2pError::NotFound(format!(
                "a provider of conversation {id} other than this node"
            )));
        }
        let mut last = String::from("no provider found");
        for src in &sources {
            match self.fetch_from(&a, src, self.fetch_max_bytes).await {
                Ok(outcome) => return Ok(outcome),
                Err(e @ P2pError::Rejected { .. }) => {
                    self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                    return Err(e);
                }
                Err(e) => last = format!("{src}: {e}"),
            }
        }
        Err(P2pError::Unavailable {
            what: format!("conversation {id}"),
            tried: sources.len(),
            last,
        })
    }

    /// Streams hash sequence `root` from `src` with iroh-blobs' get state machine: the
    /// sequence is size-checked and given to `check` before any item is requested, then every
    /// item is BLAKE3-verified as it arrives, size-checked (`limits`), and handed to `sink` with
    /// its hash as soon as it is complete; `sink` returning `false` stops the download. Errors about what
    /// the peer sent are `Rejected` and name `what`. Returns the items and bytes read.
    pub(crate) async fn stream_seq<F, Fut>(
        &self,
        src: &Did,
        root: vivim_protocol::Hash,
        what: &str,
        limits: SeqLimits,
        check: impl FnOnce(&[vivim_protocol::Hash]) -> Result<(), String>,
        mut sink: F,
    ) -> Result<(usize, u64), P2pError>
    where
        F: FnMut(vivim_protocol::Hash, Vec<u8>) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        use iroh_blobs::get::fsm;
        let rejected = |why: String| P2pError::Rejected {
            what: what.to_string(),
            why,
        };
        let addr = self.endpoint_of(src).await?;
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.endpoint.connect(addr, iroh_blobs::ALPN),
        )
        .await
        .map_err(|_| P2pError::Iroh(format!("connecting to {src}: timed out")))?
        .map_err(|e| P2pError::Iroh(format!("connecting to {src}: {e}")))?;
        let dl = |e: &dyn std::fmt::Display| P2pError::Iroh(format!("download from {src}: {e}"));
        let request = iroh_blobs::protocol::GetRequest::all(iroh_blobs::Hash::from(root.0));
        let connected = fsm::start(conn, request, Default::default())
            .next()
            .await
            .map_err(|e| dl(&e))?;
        let fsm::ConnectedNext::StartRoot(start) = connected.next().await.map_err(|e| dl(&e))?
        else {
            // Nothing wrong was sent: this provider does not serve it (try another).
            return Err(P2pError::NotFound(format!("{src} does not serve {root}")));
        };
        let (content, size) = start.next().next().await.map_err(|e| dl(&e))?;
        if size > (vivim_protocol::limits::MAX_SEQ_ITEMS * 32) as u64 {
            return Err(rejected(format!(
                "a sequence of {size} bytes is over the limit"
            )));
        }
        let (mut curr, seq_bytes) = content.concatenate_into_vec().await.map_err(|e| dl(&e))?;
        let children = parse_hash_seq(&seq_bytes).map_err(|e| rejected(e.to_string()))?;
        check(&children).map_err(rejected)?;
        let mut got = 0usize;
        let mut total = 0u64;
        let closing = loop {
            match curr.next() {
                fsm::EndBlobNext::MoreChildren(more) => {
                    let Some(h) = children.get(got) else {
                        break more.finish();
                    };
                    let (content, size) = more
                        .next(iroh_blobs::Hash::from(h.0))
                        .next()
                        .await
                        .map_err(|e| dl(&e))?;
                    let max = if got == 0 {
                        limits.first_item
                    } else {
                        limits.item
                    };
                    if size > max as u64 {
                        return Err(rejected(format!(
                            "blob {h} of {size} bytes is over the limit"
                        )));
                    }
                    total += size;
                    if total > limits.total {
                        return Err(rejected(format!(
                            "more than {} bytes in one download",
                            limits.total
                        )));
                    }
                    let (next, bytes) = read_blob(content, size).await.map_err(|e| dl(&e))?;
                    if !sink(*h, bytes).await {
                        break next_closing(next);
                    }
                    got += 1;
                    curr = next;
                }
                fsm::EndBlobNext::Closing(c) => break c,
            }
        };
        let stats = closing.next().await.map_err(|e| dl(&e))?;
        if got != children.len() {
            return Err(P2pError::Iroh(format!(
                "download from {src}: {got} of {} blobs arrived",
                children.len()
            )));
        }
        Ok((got, stats.total_bytes_read()))
    }

    /// Streams the announced hash sequence from `src` (see [`P2p::stream_seq`]) while another
    /// thread checks each manifest and ACU signature as soon as its blob is complete and, for
    /// a conversation new here, writes it into the store as it goes (a
    /// [`crate::store::StreamWriter`]: invisible until whole, removed if anything fails); a
    /// known conversation is stored whole after the download. The bytes go to the record store
    /// only (relays and publishers write them to the blob store when they serve them).
    async fn fetch_from(
        &self,
        a: &Announce,
        src: &Did,
        max_bytes: u64,
    ) -> Result<FetchOutcome, P2pError> {
        let started = std::time::Instant::now();
        let writer = self
            .node
            .store
            .stream_new(a.conversation)
            .map_err(NodeError::from)?;
        // Verify (and write) on another thread while the next blobs arrive.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(vivim_protocol::Hash, Vec<u8>)>(64);
        let ann = a.clone();
        let verifier = tokio::task::spawn_blocking(move || verify_stream(&mut rx, &ann, writer));
        let verifier_quit = AtomicBool::new(false);
        let limits = SeqLimits {
            first_item: vivim_protocol::limits::MAX_MANIFEST_BYTES,
            item: vivim_protocol::limits::MAX_ACU_BYTES,
            total: max_bytes,
        };
        let streamed = self
            .stream_seq(
                src,
                a.seq,
                &format!("conversation {}", a.conversation),
                limits,
                |children| {
                    if children.first() == Some(&a.manifest) {
                        Ok(())
                    } else {
                        Err("the sequence does not start with the announced manifest".into())
                    }
                },
                |hash, bytes| {
                    let (tx, quit) = (tx.clone(), &verifier_quit);
                    async move {
                        let sent = tx.send((hash, bytes)).await.is_ok();
                        if !sent {
                            quit.store(true, Ordering::Relaxed);
                        }
                        sent
                    }
                },
            )
            .await;
        drop(tx);
        let verified = verifier
            .await
            .map_err(|e| P2pError::Iroh(format!("verifier: {e}")))?
            .map_err(|e| match e {
                VerifyError::Peer(why) => reject(a, why),
                VerifyError::Store(e) => P2pError::Node(e.into()),
            });
        // When the verifier gave up, its reason is the error; otherwise the download's. A
        // writer dropped on an error removes what it wrote.
        let (v, bytes) = if verifier_quit.load(Ordering::Relaxed) {
            verified?;
            return Err(reject(a, "verification stopped early"));
        } else {
            let (_, bytes) = streamed?;
            (verified?, bytes)
        };
        let Verified {
            manifest,
            ids,
            values,
            parts,
            writer,
        } = v;
        let n = ids.len();
        let outcome = match writer {
            Some(w) => {
                let m = manifest.clone();
                tokio::task::spawn_blocking(move || w.finish(&m))
                    .await
                    .map_err(|e| P2pError::Iroh(format!("storing: {e}")))?
                    .map_err(NodeError::from)?
            }
            None => self
                .node
                .store
                .put_fetched(&manifest, parts)
                .map_err(NodeError::from)?,
        };
        let new = self.node.fetched(&manifest, ids, values, outcome);
        tracing::debug!(
            "fetched {} from {src}: {n} ACUs, {bytes} bytes in {:?}",
            a.conversation,
            started.elapsed()
        );
        self.stats.fetched.fetch_add(1, Ordering::Relaxed);
        Ok(FetchOutcome {
            conversation: a.conversation,
            owner: a.owner.did(),
            source: *src,
            acus: n,
            bytes,
            seconds: started.elapsed().as_secs_f64(),
            new,
        })
    }

    /// Runs a pin (relay mode) when one of [`PIN_CONCURRENCY`] slots is free, with at most
    /// [`PIN_QUEUE`] more waiting; beyond that the pin is dropped and counted
    /// (`pins_dropped`), so a flood of announcements cannot queue unbounded downloads.
    pub fn spawn_pin(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        if self.pin_pending.fetch_add(1, Ordering::SeqCst) >= PIN_CONCURRENCY + PIN_QUEUE {
            self.pin_pending.fetch_sub(1, Ordering::SeqCst);
            self.stats.pins_dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("{PIN_QUEUE} pins are waiting already; dropping an announcement");
            return;
        }
        let (slots, pending) = (self.pin_slots.clone(), self.pin_pending.clone());
        tokio::spawn(async move {
            if let Ok(_slot) = slots.acquire_owned().await {
                work.await;
            }
            pending.fetch_sub(1, Ordering::SeqCst);
        });
    }

    async fn pin_announcement(&self, data: &[u8]) {
        let ann = match Signed::<Announce>::decode(data) {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!("dropping a bad announcement: {e}");
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let a = ann.value();
        match self.fetch_from(a, &a.owner.did(), self.pin_max_bytes).await {
            Ok(_) => {
                if self.node.store.to_blobs(&a.conversation).await.is_ok()
                    && self.net.provide(conv_key(&a.conversation)).await.is_ok()
                {
                    // Keep the announcement available too.
                    let _ = self
                        .net
                        .put_record(conv_key(&a.conversation), data.to_vec())
                        .await;
                    self.stats.pinned.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                if matches!(e, P2pError::Rejected { .. }) {
                    self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                }
                tracing::warn!("pinning {}: {e}", a.conversation);
            }
        }
    }

    /// The URL of the iroh relay this node runs (relay mode).
    pub fn relay_url(&self) -> Option<&iroh::RelayUrl> {
        self.relay_url.as_ref()
    }

    /// Stops iroh and libp2p (and the iroh relay, in relay mode); the node's outbound work
    /// is dropped from then on.
    pub async fn shutdown(&self) {
        self.node.network.disconnect();
        if let Some(r) = self.relay.lock().await.take() {
            let _ = r.shutdown().await;
        }
        let _ = self.router.shutdown().await;
        self.endpoint.close().await;
        self.net.shutdown().await;
    }

    /// Our libp2p peer id.
    pub fn peer_id(&self) -> PeerId {
        self.net.peer_id
    }
}

/// The largest conversation a relay pins by default (its announcement alone could name up
/// to 200,000 ACUs of 1 MiB).
pub const MAX_PIN_BYTES: u64 = 256 * 1024 * 1024;

/// How long after a block the swarm starts refusing the blocked peer (the block itself is
/// delivered first).
pub const BLOCK_GRACE: Duration = Duration::from_secs(3);

/// The largest conversation a user-started fetch downloads by default (`[network]
/// max_fetch_bytes`).
pub const MAX_FETCH_BYTES: u64 = 1024 * 1024 * 1024;

/// Pins (relay mode) that run at once.
pub const PIN_CONCURRENCY: usize = 4;

/// Share packages downloaded at once (each at most `MAX_SHARE_BYTES`, 256 MiB, in memory).
pub const DOWNLOAD_CONCURRENCY: usize = 2;

/// Pins that may wait for a slot; more announcements are dropped (and counted).
pub const PIN_QUEUE: usize = 64;

/// Size limits of a streamed hash sequence's items.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeqLimits {
    /// The first item (a manifest, a bundle).
    pub first_item: usize,
    /// Every other item.
    pub item: usize,
    /// All items together.
    pub total: u64,
}

/// Reads one blob's verified content into a buffer of its announced size (already checked
/// against the limits), so a large blob is written once instead of grown by doubling.
async fn read_blob(
    content: iroh_blobs::get::fsm::AtBlobContent,
    size: u64,
) -> Result<(iroh_blobs::get::fsm::AtEndBlob, Vec<u8>), iroh_blobs::get::fsm::DecodeError> {
    use iroh_blobs::get::fsm::BlobContentNext;
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut curr = content;
    loop {
        match curr.next().await {
            BlobContentNext::More((next, item)) => {
                if let bao_tree::io::BaoContentItem::Leaf(leaf) = item? {
                    out.extend_from_slice(&leaf.data);
                }
                curr = next;
            }
            BlobContentNext::Done(end) => return Ok((end, out)),
        }
    }
}

/// Drains the rest of a response after the consumer gave up, so the connection closes
/// cleanly.
fn next_closing(end: iroh_blobs::get::fsm::AtEndBlob) -> iroh_blobs::get::fsm::AtClosing {
    match end.next() {
        iroh_blobs::get::fsm::EndBlobNext::MoreChildren(more) => more.finish(),
        iroh_blobs::get::fsm::EndBlobNext::Closing(c) => c,
    }
}

/// A conversation as [`verify_stream`] checked it: the manifest, the ACUs' ids and values in
/// sequence order, and their bytes — in `parts`, or already in the store through `writer`.
struct Verified {
    manifest: Signed<Manifest>,
    ids: Vec<vivim_protocol::Hash>,
    values: Vec<Acu>,
    parts: Vec<AcuBytes>,
    writer: Option<StreamWriter>,
}

/// Why [`verify_stream`] stopped: the peer sent something wrong, or the store failed.
enum VerifyError {
    Peer(String),
    Store(StoreError),
}

/// Checks blobs as they arrive: the first is the announced conversation's manifest, signed by
/// its owner; every other is an ACU of that conversation with a valid signature, handed to
/// `writer` when there is one. Stops at the first failure.
fn verify_stream(
    rx: &mut tokio::sync::mpsc::Receiver<(vivim_protocol::Hash, Vec<u8>)>,
    a: &Announce,
    mut writer: Option<StreamWriter>,
) -> Result<Verified, VerifyError> {
    let peer = |e: &dyn std::fmt::Display| VerifyError::Peer(e.to_string());
    // Each blob's hash was checked while it streamed: no need to hash it again.
    let (hash, first) = rx
        .blocking_recv()
        .ok_or_else(|| peer(&"the manifest never arrived"))?;
    let manifest = Signed::<Manifest>::decode_blob(first, hash).map_err(|e| peer(&e))?;
    let m = manifest.value();
    if m.id != a.conversation || m.owner != a.owner {
        return Err(peer(&"the manifest names another conversation or owner"));
    }
    let (mut ids, mut values, mut parts) = (Vec::new(), Vec::new(), Vec::new());
    while let Some((hash, bytes)) = rx.blocking_recv() {
        let acu = Signed::<Acu>::decode_blob(bytes, hash).map_err(|e| peer(&e))?;
        if acu.value().conversation != a.conversation {
            return Err(peer(&format!(
                "ACU {} belongs to another conversation",
                acu.id()
            )));
        }
        let (value, part) = AcuBytes::split(acu);
        ids.push(part.id);
        values.push(value);
        match writer.as_mut() {
            Some(w) => w.push(part).map_err(VerifyError::Store)?,
            None => parts.push(part),
        }
    }
    Ok(Verified {
        manifest,
        ids,
        values,
        parts,
        writer,
    })
}

/// The blob server's gate (`net/serve`): every get, get-many and observe request is checked
/// against the allow list of what leaves the node, root and children, and against the ended
/// shares, so an expired or revoked share's ciphertext is refused from the moment it ends (the
/// blobs themselves go at the next sweep and garbage collection).
fn serve_guard(node: std::sync::Weak<Node>) -> iroh_blobs::provider::events::EventSender {
    use iroh_blobs::provider::events::{
        AbortReason, EventMask, EventSender, ObserveMode, ProviderMessage, RequestMode,
    };
    let mask = EventMask {
        get: RequestMode::Intercept,
        get_many: RequestMode::Intercept,
        observe: ObserveMode::Intercept,
        ..EventMask::DEFAULT
    };
    let (tx, mut rx) = EventSender::channel(64, mask);
    let served = super::serve::Served::new(node);
    tokio::spawn(async move {
        let verdict = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(AbortReason::Permission)
            }
        };
        while let Some(msg) = rx.recv().await {
            match msg {
                ProviderMessage::GetRequestReceived(m) => {
                    let ok = served.allows_get(&m.inner.request).await;
                    let _ = m.tx.send(verdict(ok)).await;
                }
                ProviderMessage::GetManyRequestReceived(m) => {
                    let ok = served.allows_get_many(&m.inner.request).await;
                    let _ = m.tx.send(verdict(ok)).await;
                }
                ProviderMessage::ClientConnected(m) => {
                    let _ = m.tx.send(Ok(())).await;
                }
                ProviderMessage::PushRequestReceived(m) => {
                    let _ = m.tx.send(Err(AbortReason::Permission)).await;
                }
                ProviderMessage::ObserveRequestReceived(m) => {
                    let ok = served.allows_observe(m.inner.request.hash).await;
                    let _ = m.tx.send(verdict(ok)).await;
                }
                ProviderMessage::Throttle(m) => {
                    let _ = m.tx.send(Ok(())).await;
                }
                _ => {}
            }
        }
    });
    tx
}

/// Serves the node's blob store without owning it: iroh-blobs' own handler shuts the store down
/// when the router stops, but the store belongs to the node and outlives the network.
#[derive(Debug, Clone)]
struct ServeBlobs(BlobsProtocol);

impl iroh::protocol::ProtocolHandler for ServeBlobs {
    async fn accept(
        &self,
        conn: iroh::endpoint::Connection,
    ) -> Result<(), iroh::protocol::AcceptError> {
        self.0.accept(conn).await
    }
}

fn reject(a: &Announce, why: impl std::fmt::Display) -> P2pError {
    P2pError::Rejected {
        what: format!("conversation {}", a.conversation),
        why: why.to_string(),
    }
}

/// What a fetch did.
#[derive(Debug, Clone, Serialize)]
pub struct FetchOutcome {
    /// The conversation.
    #[serde(serialize_with = "ser_display")]
    pub conversation: ConvId,
    /// Its owner.
    #[serde(serialize_with = "ser_display")]
    pub owner: Did,
    /// Who served it.
    #[serde(serialize_with = "ser_display")]
    pub source: Did,
    /// ACUs stored.
    pub acus: usize,
    /// Bytes downloaded (0 when everything was already here).
    pub bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// Whether it was new here.
    pub new: bool,
}

fn ser_display<S: serde::Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}
