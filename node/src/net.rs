//! The libp2p side of a node: one event loop owns the `Swarm`; [`Net`] is a cheap handle that
//! sends it commands over a bounded channel and waits for answers.
//!
//! Transports TCP (noise, yamux) and QUIC; behaviours identify, ping, Kademlia on
//! `/vivim/kad/1.0.0` in server mode (never the public IPFS DHT), gossipsub (signed, strict
//! validation, content-derived message ids), mDNS (optional), relay client + DCUtR + AutoNAT,
//! and in relay mode a relay server.

pub mod gossip;
pub mod ids;
pub mod p2p;
pub mod records;
mod serve;
pub mod wire;

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, allow_block_list, autonat, dcutr, gossipsub, identify, kad,
    mdns, noise, ping, relay, request_response,
    swarm::{NetworkBehaviour, SwarmEvent, behaviour::toggle::Toggle},
    tcp, yamux,
};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};
use vivim_identity::Keypair;

/// The Kademlia protocol of VIVIM's DHT.
pub const KAD_PROTOCOL: &str = "/vivim/kad/1.0.0";
/// Largest gossip message (libp2p frame) we send or accept.
pub const MAX_GOSSIP_BYTES: usize = 64 * 1024;
/// The request-response protocol of document catch-up and invitations.
pub const DOC_PROTOCOL: &str = "/vivim/doc/1.0.0";
/// Largest request on [`DOC_PROTOCOL`].
pub const MAX_REQUEST_BYTES: u64 = 64 * 1024;
/// Largest answer on [`DOC_PROTOCOL`].
pub const MAX_RESPONSE_BYTES: u64 = 17 * 1024 * 1024;

type Bytes = serde_bytes::ByteBuf;

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The swarm could not be built or could not listen.
    #[error("network setup: {0}")]
    Setup(String),
    /// A dial failed.
    #[error("dialing {addr}: {message}")]
    Dial {
        /// Where.
        addr: String,
        /// Why.
        message: String,
    },
    /// A DHT query failed.
    #[error("DHT: {0}")]
    Dht(String),
    /// Gossip failed.
    #[error("gossip: {0}")]
    Gossip(String),
    /// A request to a peer failed.
    #[error("request: {0}")]
    Request(String),
    /// The event loop has stopped.
    #[error("the network is shut down")]
    Closed,
}

/// Network settings.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start (`/ip4/…/tcp/…/p2p/<peer id>`).
    pub bootstrap: Vec<Multiaddr>,
    /// Discover peers on the LAN.
    pub mdns: bool,
    /// Serve as a libp2p relay (relay mode).
    pub relay_server: bool,
    /// Gossipsub heartbeat.
    pub heartbeat: Duration,
    /// Topics delivered without the app's validation (`net/gossip`): for benchmarks that
    /// measure raw gossipsub next to the node's paths. Empty in a node: messages on topics it
    /// does not know are dropped.
    pub open_topics: Vec<String>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            listen: vec![
                "/ip4/0.0.0.0/tcp/0".parse().expect("valid multiaddr"),
                "/ip4/0.0.0.0/udp/0/quic-v1"
                    .parse()
                    .expect("valid multiaddr"),
            ],
            bootstrap: Vec::new(),
            mdns: true,
            relay_server: false,
            heartbeat: Duration::from_millis(500),
            open_topics: Vec::new(),
        }
    }
}

impl NetConfig {
    /// Loopback only, no mDNS: for tests and benchmarks.
    pub fn loopback() -> Self {
        NetConfig {
            listen: vec![
                "/ip4/127.0.0.1/tcp/0".parse().expect("valid multiaddr"),
                "/ip4/127.0.0.1/udp/0/quic-v1"
                    .parse()
                    .expect("valid multiaddr"),
            ],
            mdns: false,
            heartbeat: Duration::from_millis(100),
            ..NetConfig::default()
        }
    }
}

/// Something the network saw.
#[derive(Debug, Clone)]
pub enum NetEvent {
    /// A gossip message arrived (already checked by gossipsub's own signature).
    Gossip {
        /// Topic.
        topic: String,
        /// Payload.
        data: Vec<u8>,
        /// The peer that forwarded it.
        via: PeerId,
    },
    /// A peer asks something on [`DOC_PROTOCOL`]; answer with [`Net::respond`].
    Request {
        /// Who asks.
        peer: PeerId,
        /// Answer to this id.
        id: u64,
        /// The request.
        data: Vec<u8>,
    },
    /// A peer subscribed to a gossip topic.
    Subscribed {
        /// Who.
        peer: PeerId,
        /// Which topic.
        topic: String,
    },
    /// A connection to a peer opened.
    PeerUp(PeerId),
    /// The last connection to a peer closed.
    PeerDown(PeerId),
}

/// A connected peer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PeerInfo {
    /// libp2p peer id.
    pub peer_id: String,
    /// Its DID, when the peer id embeds an ed25519 key.
    pub did: Option<String>,
    /// Addresses we are connected on.
    pub addrs: Vec<String>,
    /// Last ping round trip, ms.
    pub rtt_ms: Option<f64>,
    /// Whether a connection goes straight to the peer (not through a relay circuit).
    pub direct: bool,
    /// `quic`, `tcp` or `relay`.
    pub transport: String,
    /// When the first open connection was made (unix ms).
    pub connected_since_ms: Option<u64>,
    /// Its gossipsub score as we see it (negative after forged or invalid messages).
    pub gossip_score: Option<f64>,
}

/// A Kademlia k-bucket that holds peers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BucketInfo {
    /// The bucket's position (higher: farther keys).
    pub index: usize,
    /// Peers in it.
    pub peers: usize,
}

/// Peers in our gossip mesh of a topic.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MeshInfo {
    /// The topic.
    pub topic: String,
    /// Mesh peers.
    pub peers: usize,
}

/// Network counters and state.
#[derive(Debug, Clone, Serialize)]
pub struct NetInfo {
    /// Our peer id.
    pub peer_id: String,
    /// Where we listen.
    pub listen_addrs: Vec<String>,
    /// Peers connected.
    pub connected_peers: usize,
    /// Peers in the Kademlia routing table.
    pub dht_peers: usize,
    /// Records in our DHT store.
    pub dht_records: usize,
    /// Gossip topics we subscribe to.
    pub topics: Vec<String>,
    /// Gossip bytes sent.
    pub gossip_bytes_out: u64,
    /// Gossip bytes received.
    pub gossip_bytes_in: u64,
    /// Non-empty k-buckets of the routing table.
    pub buckets: Vec<BucketInfo>,
    /// Mesh peers per gossip topic.
    pub mesh: Vec<MeshInfo>,
    /// What AutoNAT concluded: `public <addr>`, `private` or `unknown`.
    pub nat: String,
    /// Gossip messages received.
    pub gossip_messages_in: u64,
    /// Kademlia queries started since start.
    pub dht_queries: u64,
    /// Hole punches (DCUtR) that made a direct connection.
    pub hole_punches_ok: u64,
    /// Hole punches that failed.
    pub hole_punches_failed: u64,
    /// As a relay: peers holding a reservation with us.
    pub relay_clients: usize,
    /// As a relay: circuits open through us.
    pub relay_circuits: u64,
    /// Gossip messages dropped by validation (never delivered nor forwarded).
    pub gossip_rejected: u64,
    /// DHT records and provider records from peers that were not stored (`net/records`).
    pub dht_refused: u64,
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    /// Peers the user blocked: no connection in or out.
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    gossipsub: gossipsub::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    relay_client: relay::client::Behaviour,
    relay_server: Toggle<relay::Behaviour>,
    dcutr: dcutr::Behaviour,
    autonat: autonat::Behaviour,
    docs: request_response::cbor::Behaviour<Bytes, Bytes>,
}

type Reply<T> = oneshot::Sender<Result<T, NetError>>;
/// Values found so far for a pending DHT lookup, where to send them, and until when to wait
/// for more once the first answer from the network came.
struct PendingGet {
    found: Vec<Vec<u8>>,
    answers: usize,
    reply: Reply<Vec<Vec<u8>>>,
    until: Option<tokio::time::Instant>,
}

/// A lookup ends at this many answers from the network…
const GET_ANSWERS: usize = 3;
/// …or this long after the first one (waiting for every closest peer means waiting out the
/// ones that are offline).
const GET_GRACE: Duration = Duration::from_millis(400);
/// Providers found so far for a pending lookup, and where to send them.
type PendingProviders = (HashSet<PeerId>, Reply<HashSet<PeerId>>);

enum Command {
    Dial(Multiaddr, Reply<()>),
    PutRecord(Vec<u8>, Vec<u8>, Reply<()>),
    GetRecords(Vec<u8>, Reply<Vec<Vec<u8>>>),
    Provide(Vec<u8>, Reply<()>),
    GetProviders(Vec<u8>, Reply<HashSet<PeerId>>),
    Subscribe(String, Reply<()>),
    Publish(String, Vec<u8>, Reply<()>),
    Request(PeerId, Vec<u8>, Reply<Vec<u8>>),
    Respond(u64, Vec<u8>),
    Decline(u64),
    Block(PeerId, bool),
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Info(oneshot::Sender<NetInfo>),
    Shutdown(oneshot::Sender<()>),
}

/// A handle to the network's event loop. Cheap to clone.
#[derive(Clone)]
pub struct Net {
    tx: mpsc::Sender<Command>,
    events: broadcast::Sender<NetEvent>,
    /// Our peer id.
    pub peer_id: PeerId,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net")
            .field("peer_id", &self.peer_id)
            .finish()
    }
}

fn message_id(m: &gossipsub::Message) -> gossipsub::MessageId {
    // Reproducible by any implementation: BLAKE3 of the topic, a zero byte, and the payload.
    // The topic is in it so that the same bytes on two topics (an announcement goes to the
    // author's topic and to the relays' one) are two messages, not a duplicate.
    let mut h = blake3::Hasher::new();
    h.update(m.topic.as_str().as_bytes());
    h.update(&[0]);
    h.update(&m.data);
    gossipsub::MessageId::from(h.finalize().as_bytes().to_vec())
}

impl Net {
    /// Builds the swarm from the node's key, listens, dials the bootstrap peers and starts the
    /// event loop.
    pub async fn start(key: &Keypair, cfg: NetConfig) -> Result<Net, NetError> {
        let setup = |e: &dyn std::fmt::Display| NetError::Setup(e.to_string());
        let keypair = ids::libp2p_keypair(key);
        let peer_id = keypair.public().to_peer_id();
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| setup(&e))?
            .with_quic()
            .with_relay_client(noise::Config::new, yamux::Config::default)
            .map_err(|e| setup(&e))?
            .with_behaviour(|key, relay_client| {
                let local = key.public().to_peer_id();
                let mut kad_cfg = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
                kad_cfg.set_query_timeout(Duration::from_secs(10));
                // Every record a peer stores here is checked first (`net/records`).
                kad_cfg.set_record_filtering(kad::StoreInserts::FilterBoth);
                let store_cfg = kad::store::MemoryStoreConfig {
                    // 8,192 records of at most 8 KiB: 64 MiB at worst.
                    max_records: 8_192,
                    max_value_bytes: vivim_protocol::MAX_DHT_RECORD_BYTES,
                    ..Default::default()
                };
                let mut kad = kad::Behaviour::with_config(
                    local,
                    kad::store::MemoryStore::with_config(local, store_cfg),
                    kad_cfg,
                );
                // Serve the DHT even without a confirmed external address (loopback, LAN).
                kad.set_mode(Some(kad::Mode::Server));
                let gossip_cfg = gossipsub::ConfigBuilder::default()
                    .validation_mode(gossipsub::ValidationMode::Strict)
                    // Held until `net/gossip` says Accept; Reject lowers the sender's score.
                    .validate_messages()
                    .message_id_fn(message_id)
                    .max_transmit_size(MAX_GOSSIP_BYTES)
                    .heartbeat_interval(cfg.heartbeat)
                    .heartbeat_initial_delay(cfg.heartbeat)
                    .build()
                    .map_err(|e| e.to_string())?;
                let mut gossipsub = gossipsub::Behaviour::new(
                    gossipsub::MessageAuthenticity::Signed(key.clone()),
                    gossip_cfg,
                )?;
                // Peer scoring as libp2p ships it, except that peers on this machine are not
                // "colocated": the colocation penalty (a Sybil defence) would otherwise graylist
                // every peer of a node that talks to ten others on loopback.
                let mut score = gossipsub::PeerScoreParams::default();
                score.ip_colocation_factor_whitelist.extend([
                    std::net::IpAddr::from([127, 0, 0, 1]),
                    std::net::Ipv6Addr::LOCALHOST.into(),
                ]);
                gossipsub
                    .with_peer_score(score, gossipsub::PeerScoreThresholds::default())
                    .map_err(|e| e.to_string())?;
                let mdns = if cfg.mdns {
                    Some(mdns::tokio::Behaviour::new(mdns::Config::default(), local)?)
                } else {
                    None
                };
                Ok(Behaviour {
                    blocked: Default::default(),
                    identify: identify::Behaviour::new(identify::Config::new(
                        "/vivim/id/1.0.0".into(),
                        key.public(),
                    )),
                    ping: ping::Behaviour::new(ping::Config::new()),
                    kad,
                    gossipsub,
                    mdns: Toggle::from(mdns),
                    relay_client,
                    relay_server: Toggle::from(
                        cfg.relay_server
                            .then(|| relay::Behaviour::new(local, relay::Config::default())),
                    ),
                    dcutr: dcutr::Behaviour::new(local),
                    autonat: autonat::Behaviour::new(local, autonat::Config::default()),
                    docs: request_response::Behaviour::with_codec(
                        request_response::cbor::codec::Codec::default()
                            .set_request_size_maximum(MAX_REQUEST_BYTES)
                            .set_response_size_maximum(MAX_RESPONSE_BYTES),
                        [(
                            StreamProtocol::new(DOC_PROTOCOL),
                            request_response::ProtocolSupport::Full,
                        )],
                        request_response::Config::default()
                            .with_request_timeout(Duration::from_secs(20)),
                    ),
                })
            })
            .map_err(|e| setup(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
            .build();
        for addr in &cfg.listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| NetError::Setup(format!("listen on {addr}: {e}")))?;
        }
        let (tx, rx) = mpsc::channel(256);
        let (events, _) = broadcast::channel(1024);
        let net = Net {
            tx,
            events: events.clone(),
            peer_id,
        };
        let mut lp = EventLoop {
            swarm,
            rx,
            events,
            pending_get: HashMap::new(),
            pending_providers: HashMap::new(),
            pending_dial: HashMap::new(),
            pending_request: HashMap::new(),
            inbound: HashMap::new(),
            next_inbound: 0,
            rtt: HashMap::new(),
            conns: HashMap::new(),
            listen: Arc::new(Mutex::new(Vec::new())),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            messages_in: AtomicU64::new(0),
            dht_queries: 0,
            gossip_rejected: 0,
            dht_refused: 0,
            open_topics: cfg.open_topics.clone(),
            dcutr: (0, 0),
            relay_clients: Default::default(),
            relay_circuits: 0,
        };
        // Wait for the listeners so that callers can hand out addresses right away.
        let wanted = cfg.listen.len();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while lp.listen.lock().map(|l| l.len()).unwrap_or(0) < wanted {
            match tokio::time::timeout_at(deadline, lp.swarm.select_next_some()).await {
                Ok(ev) => lp.on_swarm_event(ev),
                Err(_) => break,
            }
        }
        for addr in cfg.bootstrap {
            if let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() {
                lp.swarm
                    .behaviour_mut()
                    .kad
                    .add_address(&peer, addr.clone());
            }
            if let Err(e) = lp.swarm.dial(addr.clone()) {
                tracing::warn!(%addr, "bootstrap dial failed: {e}");
            }
        }
        tokio::spawn(lp.run());
        Ok(net)
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, NetError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.map_err(|_| NetError::Closed)?;
        rx.await.map_err(|_| NetError::Closed)?
    }

    /// Dials a peer and waits for the connection.
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), NetError> {
        self.call(|r| Command::Dial(addr, r)).await
    }

    /// Stores a record in the DHT: locally at once, and at the closest peers by a query that
    /// goes on after this returns (a lone node would otherwise wait out the query timeout;
    /// peers asking for the record reach this node among the closest ones anyway).
    pub async fn put_record(&self, key: Vec<u8>, value: Vec<u8>) -> Result<(), NetError> {
        self.call(|r| Command::PutRecord(key, value, r)).await
    }

    /// Every value found for `key` (the caller verifies them and picks the newest).
    pub async fn get_records(&self, key: Vec<u8>) -> Result<Vec<Vec<u8>>, NetError> {
        self.call(|r| Command::GetRecords(key, r)).await
    }

    /// Announces that we provide `key`: recorded locally at once, spread to the closest peers
    /// by a query that goes on after this returns.
    pub async fn provide(&self, key: Vec<u8>) -> Result<(), NetError> {
        self.call(|r| Command::Provide(key, r)).await
    }

    /// The peers that provide `key`.
    pub async fn providers(&self, key: Vec<u8>) -> Result<HashSet<PeerId>, NetError> {
        self.call(|r| Command::GetProviders(key, r)).await
    }

    /// Subscribes to a gossip topic.
    pub async fn subscribe(&self, topic: &str) -> Result<(), NetError> {
        let t = topic.to_string();
        self.call(|r| Command::Subscribe(t, r)).await
    }

    /// Publishes on a gossip topic.
    pub async fn publish(&self, topic: &str, data: Vec<u8>) -> Result<(), NetError> {
        let t = topic.to_string();
        self.call(|r| Command::Publish(t, data, r)).await
    }

    /// Sends a request on [`DOC_PROTOCOL`] to a connected (or known) peer and waits for the
    /// answer.
    pub async fn request(&self, peer: PeerId, data: Vec<u8>) -> Result<Vec<u8>, NetError> {
        self.call(|r| Command::Request(peer, data, r)).await
    }

    /// Answers the request `id` of a [`NetEvent::Request`].
    pub async fn respond(&self, id: u64, data: Vec<u8>) -> Result<(), NetError> {
        self.tx
            .send(Command::Respond(id, data))
            .await
            .map_err(|_| NetError::Closed)
    }

    /// Answers nothing to request `id` (its channel is dropped, so the asker sees a failure,
    /// as if this node were unreachable).
    pub async fn decline(&self, id: u64) {
        let _ = self.tx.send(Command::Decline(id)).await;
    }

    /// Blocks (or unblocks) a peer: its connections are closed and refused, and gossipsub
    /// ignores it.
    pub async fn set_blocked(&self, peer: PeerId, blocked: bool) {
        let _ = self.tx.send(Command::Block(peer, blocked)).await;
    }

    /// Whether a peer is connected.
    pub async fn is_connected(&self, peer: PeerId) -> bool {
        self.peers()
            .await
            .iter()
            .any(|p| p.peer_id == peer.to_string())
    }

    /// Connected peers.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Peers(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Counters and state.
    pub async fn info(&self) -> Result<NetInfo, NetError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Info(tx))
            .await
            .map_err(|_| NetError::Closed)?;
        rx.await.map_err(|_| NetError::Closed)
    }

    /// Events (gossip messages, peers up and down).
    pub fn events(&self) -> broadcast::Receiver<NetEvent> {
        self.events.subscribe()
    }

    /// Stops the event loop (closing every connection).
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

struct EventLoop {
    swarm: libp2p::Swarm<Behaviour>,
    rx: mpsc::Receiver<Command>,
    events: broadcast::Sender<NetEvent>,
    pending_get: HashMap<kad::QueryId, PendingGet>,
    pending_providers: HashMap<kad::QueryId, PendingProviders>,
    pending_dial: HashMap<PeerId, Vec<Reply<()>>>,
    pending_request: HashMap<request_response::OutboundRequestId, Reply<Vec<u8>>>,
    inbound: HashMap<u64, request_response::ResponseChannel<Bytes>>,
    next_inbound: u64,
    rtt: HashMap<PeerId, Duration>,
    /// Open connections per peer: since when, and their remote addresses.
    conns: HashMap<PeerId, (u64, Vec<Multiaddr>)>,
    listen: Arc<Mutex<Vec<Multiaddr>>>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    messages_in: AtomicU64,
    /// Kademlia queries started (get, put, provide, providers).
    dht_queries: u64,
    /// Gossip messages that failed validation.
    gossip_rejected: u64,
    /// Inbound DHT records refused.
    dht_refused: u64,
    /// Topics delivered unvalidated (benchmarks).
    open_topics: Vec<String>,
    /// Hole punches (DCUtR) that worked and that failed.
    dcutr: (u64, u64),
    /// As a relay: peers holding a reservation, and circuits open through us.
    relay_clients: std::collections::HashSet<PeerId>,
    relay_circuits: u64,
}

impl EventLoop {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                ev = self.swarm.select_next_some() => self.on_swarm_event(ev),
                _ = tick.tick(), if !self.pending_get.is_empty() => self.end_lookups(),
                cmd = self.rx.recv() => match cmd {
                    None => break,
                    Some(Command::Shutdown(done)) => {
                        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                        for p in peers {
                            let _ = self.swarm.disconnect_peer_id(p);
                        }
                        let _ = done.send(());
                        break;
                    }
                    Some(cmd) => self.on_command(cmd),
                },
            }
        }
    }

    fn on_command(&mut self, cmd: Command) {
        let b = self.swarm.behaviour_mut();
        match cmd {
            Command::Dial(addr, reply) => {
                let peer = match addr.iter().last() {
                    Some(libp2p::multiaddr::Protocol::P2p(p)) => Some(p),
                    _ => None,
                };
                if let Some(p) = peer {
                    b.kad.add_address(&p, addr.clone());
                    if self.swarm.is_connected(&p) {
                        let _ = reply.send(Ok(()));
                        return;
                    }
                }
                match self.swarm.dial(addr.clone()) {
                    Err(e) => {
                        let _ = reply.send(Err(NetError::Dial {
                            addr: addr.to_string(),
                            message: e.to_string(),
                        }));
                    }
                    Ok(()) => match peer {
                        Some(p) => self.pending_dial.entry(p).or_default().push(reply),
                        None => {
                            let _ = reply.send(Ok(()));
                        }
                    },
                }
            }
            Command::PutRecord(key, value, reply) => {
                let record = kad::Record::new(key, value);
                self.dht_queries += 1;
                match b.kad.put_record(record, kad::Quorum::One) {
                    Ok(_) => {
                        let _ = reply.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(NetError::Dht(e.to_string())));
                    }
                }
            }
            Command::GetRecords(key, reply) => {
                let mut found = Vec::new();
                if let Some(local) =
                    kad::store::RecordStore::get(b.kad.store_mut(), &key.clone().into())
                {
                    found.push(local.value.clone());
                }
                self.dht_queries += 1;
                let id = b.kad.get_record(key.into());
                self.pending_get.insert(
                    id,
                    PendingGet {
                        found,
                        answers: 0,
                        reply,
                        until: None,
                    },
                );
            }
            Command::Provide(key, reply) => {
                self.dht_queries += 1;
                let r = b
                    .kad
                    .start_providing(key.into())
                    .map(|_| ())
                    .map_err(|e| NetError::Dht(e.to_string()));
                let _ = reply.send(r);
            }
            Command::GetProviders(key, reply) => {
                self.dht_queries += 1;
                let id = b.kad.get_providers(key.into());
                self.pending_providers.insert(id, (HashSet::new(), reply));
            }
            Command::Subscribe(topic, reply) => {
                let topic = gossipsub::IdentTopic::new(topic);
                if let Err(e) = b
                    .gossipsub
                    .set_topic_params(topic.clone(), gossip::topic_params())
                {
                    tracing::warn!("scoring {topic}: {e}");
                }
                let r = b
                    .gossipsub
                    .subscribe(&topic)
                    .map(|_| ())
                    .map_err(|e| NetError::Gossip(e.to_string()));
                let _ = reply.send(r);
            }
            Command::Publish(topic, data, reply) => {
                let n = data.len() as u64;
                let r = match b.gossipsub.publish(gossipsub::IdentTopic::new(topic), data) {
                    Ok(_) => {
                        self.bytes_out.fetch_add(n, Ordering::Relaxed);
                        Ok(())
                    }
                    // Nobody to send to is not an error for a local-first node.
                    Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => Ok(()),
                    Err(e) => Err(NetError::Gossip(e.to_string())),
                };
                let _ = reply.send(r);
            }
            Command::Request(peer, data, reply) => {
                let id = b.docs.send_request(&peer, Bytes::from(data));
                self.pending_request.insert(id, reply);
            }
            Command::Decline(id) => {
                self.inbound.remove(&id);
            }
            Command::Block(peer, true) => {
                b.blocked.block_peer(peer);
                b.gossipsub.blacklist_peer(&peer);
            }
            Command::Block(peer, false) => {
                b.blocked.unblock_peer(peer);
                b.gossipsub.remove_blacklisted_peer(&peer);
            }
            Command::Respond(id, data) => {
                if let Some(ch) = self.inbound.remove(&id) {
                    let _ = b.docs.send_response(ch, Bytes::from(data));
                }
            }
            Command::Peers(reply) => {
                let peers = self
                    .swarm
                    .connected_peers()
                    .map(|p| {
                        let (since, addrs) = self.conns.get(p).cloned().unwrap_or_default();
                        let relayed = |a: &Multiaddr| a.to_string().contains("/p2p-circuit");
                        let direct = addrs.is_empty() || addrs.iter().any(|a| !relayed(a));
                        let transport = if !direct {
                            "relay"
                        } else if addrs.iter().any(|a| a.to_string().contains("/quic")) {
                            "quic"
                        } else {
                            "tcp"
                        };
                        PeerInfo {
                            peer_id: p.to_string(),
                            did: ids::did_of_peer(p).ok().map(|d| d.to_string()),
                            addrs: addrs.iter().map(|a| a.to_string()).collect(),
                            rtt_ms: self.rtt.get(p).map(|d| d.as_secs_f64() * 1000.0),
                            direct,
                            transport: transport.into(),
                            connected_since_ms: (since > 0).then_some(since),
                            gossip_score: self.swarm.behaviour().gossipsub.peer_score(p),
                        }
                    })
                    .collect();
                let _ = reply.send(peers);
            }
            Command::Info(reply) => {
                let b = self.swarm.behaviour_mut();
                let dht_peers = b.kad.kbuckets().map(|k| k.num_entries()).sum();
                let dht_records = kad::store::RecordStore::records(b.kad.store_mut()).count();
                let buckets = b
                    .kad
                    .kbuckets()
                    .enumerate()
                    .filter(|(_, k)| k.num_entries() > 0)
                    .map(|(index, k)| BucketInfo {
                        index,
                        peers: k.num_entries(),
                    })
                    .collect();
                let hashes: Vec<gossipsub::TopicHash> = b.gossipsub.topics().cloned().collect();
                let mesh = hashes
                    .iter()
                    .map(|t| MeshInfo {
                        topic: t.to_string(),
                        peers: b.gossipsub.mesh_peers(t).count(),
                    })
                    .collect();
                let nat = match b.autonat.nat_status() {
                    autonat::NatStatus::Public(a) => format!("public {a}"),
                    autonat::NatStatus::Private => "private".into(),
                    autonat::NatStatus::Unknown => "unknown".into(),
                };
                let topics = b.gossipsub.topics().map(|t| t.to_string()).collect();
                let info = NetInfo {
                    peer_id: self.swarm.local_peer_id().to_string(),
                    listen_addrs: self.swarm.listeners().map(|a| a.to_string()).collect(),
                    connected_peers: self.swarm.connected_peers().count(),
                    dht_peers,
                    dht_records,
                    topics,
                    gossip_bytes_out: self.bytes_out.load(Ordering::Relaxed),
                    gossip_bytes_in: self.bytes_in.load(Ordering::Relaxed),
                    buckets,
                    mesh,
                    nat,
                    gossip_messages_in: self.messages_in.load(Ordering::Relaxed),
                    dht_queries: self.dht_queries,
                    hole_punches_ok: self.dcutr.0,
                    hole_punches_failed: self.dcutr.1,
                    relay_clients: self.relay_clients.len(),
                    relay_circuits: self.relay_circuits,
                    gossip_rejected: self.gossip_rejected,
                    dht_refused: self.dht_refused,
                };
                let _ = reply.send(info);
            }
            Command::Shutdown(_) => {}
        }
    }

    fn on_swarm_event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::debug!(%address, "listening");
                if let Ok(mut l) = self.listen.lock() {
                    l.push(address);
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                if endpoint.is_dialer() {
                    self.swarm
                        .behaviour_mut()
                        .kad
                        .add_address(&peer_id, endpoint.get_remote_address().clone());
                }
                for r in self.pending_dial.remove(&peer_id).unwrap_or_default() {
                    let _ = r.send(Ok(()));
                }
                let c = self
                    .conns
                    .entry(peer_id)
                    .or_insert_with(|| (crate::now_ms(), Vec::new()));
                if c.1.len() < 8 {
                    c.1.push(endpoint.get_remote_address().clone());
                }
                if num_established.get() == 1 {
                    tracing::info!(peer = %peer_id, addr = %endpoint.get_remote_address(), "peer connected");
                    let _ = self.events.send(NetEvent::PeerUp(peer_id));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.rtt.remove(&peer_id);
                self.conns.remove(&peer_id);
                tracing::info!(peer = %peer_id, "peer disconnected");
                let _ = self.events.send(NetEvent::PeerDown(peer_id));
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer_id),
                error,
                ..
            } => {
                for r in self.pending_dial.remove(&peer_id).unwrap_or_default() {
                    let _ = r.send(Err(NetError::Dial {
                        addr: peer_id.to_string(),
                        message: error.to_string(),
                    }));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                // Keep routable addresses only (what the peer listens on).
                for addr in info.listen_addrs {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            })) => {
                self.rtt.insert(peer, rtt);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(list))) => {
                for (peer, addr) in list {
                    self.swarm
                        .behaviour_mut()
                        .kad
                        .add_address(&peer, addr.clone());
                    let _ = self.swarm.dial(addr);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                self.bytes_in
                    .fetch_add(message.data.len() as u64, Ordering::Relaxed);
                self.messages_in.fetch_add(1, Ordering::Relaxed);
                let topic = message.topic.as_str();
                let verdict = if self.open_topics.iter().any(|t| t == topic) {
                    gossip::Verdict::Accept
                } else {
                    gossip::validate(topic, &message.data)
                };
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(
                        &message_id,
                        &propagation_source,
                        verdict.into(),
                    );
                if verdict != gossip::Verdict::Accept {
                    self.gossip_rejected += 1;
                    tracing::debug!(topic = %message.topic, peer = %propagation_source, ?verdict, "gossip message dropped");
                    return;
                }
                let _ = self.events.send(NetEvent::Gossip {
                    topic: message.topic.to_string(),
                    data: message.data,
                    via: propagation_source,
                });
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed {
                peer_id,
                topic,
            })) => {
                let _ = self.events.send(NetEvent::Subscribed {
                    peer: peer_id,
                    topic: topic.to_string(),
                });
            }
            SwarmEvent::Behaviour(BehaviourEvent::Docs(request_response::Event::Message {
                peer,
                message,
                ..
            })) => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    // Answers that never come are dropped with the oldest ids.
                    if self.inbound.len() >= 1024
                        && let Some(old) = self.inbound.keys().min().copied()
                    {
                        self.inbound.remove(&old);
                    }
                    self.next_inbound += 1;
                    let id = self.next_inbound;
                    self.inbound.insert(id, channel);
                    let _ = self.events.send(NetEvent::Request {
                        peer,
                        id,
                        data: request.into_vec(),
                    });
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(r) = self.pending_request.remove(&request_id) {
                        let _ = r.send(Ok(response.into_vec()));
                    }
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::Docs(
                request_response::Event::OutboundFailure {
                    request_id, error, ..
                },
            )) => {
                if let Some(r) = self.pending_request.remove(&request_id) {
                    let _ = r.send(Err(NetError::Request(error.to_string())));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(dcutr::Event { result, .. })) => {
                if result.is_ok() {
                    self.dcutr.0 += 1;
                } else {
                    self.dcutr.1 += 1;
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::RelayServer(e)) => match e {
                relay::Event::ReservationReqAccepted { src_peer_id, .. } => {
                    self.relay_clients.insert(src_peer_id);
                }
                relay::Event::ReservationClosed { src_peer_id }
                | relay::Event::ReservationTimedOut { src_peer_id } => {
                    self.relay_clients.remove(&src_peer_id);
                }
                relay::Event::CircuitReqAccepted { .. } => self.relay_circuits += 1,
                relay::Event::CircuitClosed { .. } => {
                    self.relay_circuits = self.relay_circuits.saturating_sub(1);
                }
                _ => {}
            },
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::InboundRequest { request })) => {
                self.on_inbound_record(request);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                id,
                result,
                step,
                ..
            })) => self.on_query(id, result, step.last),
            _ => {}
        }
    }

    /// Answers a pending lookup with what it found and stops its query.
    fn end_lookup(&mut self, id: kad::QueryId) {
        if let Some(p) = self.pending_get.remove(&id) {
            if let Some(mut q) = self.swarm.behaviour_mut().kad.query_mut(&id) {
                q.finish();
            }
            let _ = p.reply.send(Ok(p.found));
        }
    }

    /// Ends the lookups whose grace after their first answer is over.
    fn end_lookups(&mut self) {
        let now = tokio::time::Instant::now();
        let due: Vec<kad::QueryId> = self
            .pending_get
            .iter()
            .filter(|(_, p)| p.until.is_some_and(|u| u <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.end_lookup(id);
        }
    }

    /// A record or provider record a peer asks us to keep (filtering is on): stored only if
    /// `net/records` allows it.
    fn on_inbound_record(&mut self, request: kad::InboundRequest) {
        use kad::store::RecordStore;
        let store = self.swarm.behaviour_mut().kad.store_mut();
        match request {
            kad::InboundRequest::PutRecord {
                source,
                record: Some(record),
                ..
            } => {
                let stored = store.get(&record.key).map(|r| r.value.clone());
                let verdict = records::check_put(
                    record.key.as_ref(),
                    &record.value,
                    stored.as_deref(),
                    crate::now_ms(),
                );
                match verdict {
                    Ok(()) => {
                        if let Err(e) = store.put(record) {
                            tracing::debug!(peer = %source, "record not stored: {e}");
                            self.dht_refused += 1;
                        }
                    }
                    Err(why) => {
                        tracing::debug!(peer = %source, "record refused: {why}");
                        self.dht_refused += 1;
                    }
                }
            }
            kad::InboundRequest::AddProvider {
                record: Some(record),
            } => match records::check_provider(record.key.as_ref()) {
                Ok(()) => {
                    if let Err(e) = store.add_provider(record) {
                        tracing::debug!("provider record not stored: {e}");
                        self.dht_refused += 1;
                    }
                }
                Err(why) => {
                    tracing::debug!("provider record refused: {why}");
                    self.dht_refused += 1;
                }
            },
            _ => {}
        }
    }

    fn on_query(&mut self, id: kad::QueryId, result: kad::QueryResult, last: bool) {
        match result {
            // The record is in our own store either way; a quorum failure only means that no
            // other peer took it yet (a lone node, or a tiny network).
            kad::QueryResult::PutRecord(Err(e)) => tracing::debug!("put_record: {e}"),
            kad::QueryResult::PutRecord(Ok(_)) | kad::QueryResult::StartProviding(Ok(_)) => {}
            kad::QueryResult::GetRecord(r) => {
                let mut done = last || r.is_err();
                if let Some(p) = self.pending_get.get_mut(&id)
                    && let Ok(kad::GetRecordOk::FoundRecord(rec)) = &r
                {
                    // Several answers, not the first: a peer that answers fast with a forged
                    // or old record must not decide (the caller keeps the newest valid one).
                    if !p.found.contains(&rec.record.value) {
                        p.found.push(rec.record.value.clone());
                    }
                    p.answers += 1;
                    p.until
                        .get_or_insert_with(|| tokio::time::Instant::now() + GET_GRACE);
                    done = p.answers >= GET_ANSWERS;
                }
                if done {
                    self.end_lookup(id);
                }
            }
            kad::QueryResult::StartProviding(Err(e)) => tracing::debug!("start_providing: {e}"),
            kad::QueryResult::GetProviders(r) => {
                let mut done = last || r.is_err();
                if let Some((found, _)) = self.pending_providers.get_mut(&id)
                    && let Ok(kad::GetProvidersOk::FoundProviders { providers, .. }) = &r
                {
                    found.extend(providers.iter().copied());
                    done = true;
                }
                if done && let Some((found, reply)) = self.pending_providers.remove(&id) {
                    if let Some(mut q) = self.swarm.behaviour_mut().kad.query_mut(&id) {
                        q.finish();
                    }
                    let _ = reply.send(Ok(found));
                }
            }
            _ => {}
        }
    }
}
