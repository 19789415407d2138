//! Multi-node and end-to-end tests for VIVIM live in `tests/tests/`. This library holds the
//! helpers they share.

use vivim_identity::KdfParams;
use vivim_node::datadir::DataDir;

/// A fresh initialized data directory in a temporary folder (removed on drop).
pub fn temp_node() -> (tempfile::TempDir, DataDir) {
    let tmp = tempfile::tempdir().expect("create a temporary directory");
    let dir = DataDir::at(tmp.path().join("node"));
    dir.init(None, KdfParams::default())
        .expect("initialize a data directory");
    (tmp, dir)
}

use std::{sync::Arc, time::Duration};

use vivim_node::{
    net::p2p::{P2p, P2pConfig},
    node::Node,
};

/// A node with its network on loopback, in a temporary data dir.
pub struct Peer {
    /// The node.
    pub node: Arc<Node>,
    /// Its network.
    pub p2p: Arc<P2p>,
    /// Its data dir (removed on drop).
    pub tmp: tempfile::TempDir,
}

/// Starts a loopback peer bootstrapping from `bootstrap`; with `relay`, in relay mode (relay
/// server, pinning).
pub async fn peer(bootstrap: &[libp2p::Multiaddr], relay: bool) -> Peer {
    peer_with(bootstrap, relay, |_| {}).await
}

/// [`peer`] with its network settings changed by `tune` before it starts.
pub async fn peer_with(
    bootstrap: &[libp2p::Multiaddr],
    relay: bool,
    tune: impl FnOnce(&mut P2pConfig),
) -> Peer {
    let tmp = tempfile::tempdir().expect("create a temporary directory");
    let node = Node::open(DataDir::at(tmp.path()), None, true)
        .await
        .expect("open a node");
    let mut cfg = P2pConfig::loopback();
    cfg.net.bootstrap = bootstrap.to_vec();
    cfg.net.relay_server = relay;
    cfg.pin_announced = relay;
    tune(&mut cfg);
    let p2p = P2p::start(node.clone(), cfg)
        .await
        .expect("start the network");
    Peer { node, p2p, tmp }
}

/// A bootstrap node (in relay mode with `relay`) and `n` peers that reached it and published
/// their peer records.
pub async fn network(n: usize, relay: bool) -> (Peer, Vec<Peer>) {
    let boot_node = peer(&[], relay).await;
    let boot = boot_node.p2p.bootstrap_addrs().await;
    let mut peers = Vec::new();
    for _ in 0..n {
        peers.push(peer(&boot, false).await);
    }
    for p in &peers {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while p.p2p.net.peers().await.is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "no peers");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        p.p2p
            .publish_peer_record()
            .await
            .expect("publish the peer record");
    }
    (boot_node, peers)
}

/// Makes every one of `peers` a contact of every other (as if each had accepted the others'
/// message requests): tests of sharing and documents between people who know each other.
pub fn introduce(peers: &[Peer]) {
    for a in peers {
        for b in peers {
            if a.node.key.did() != b.node.key.did() {
                a.node
                    .decide_request(
                        &b.node.key.did(),
                        vivim_node::trust::requests::Decision::Accept,
                    )
                    .expect("accept a peer");
            }
        }
    }
}

/// Polls `f` every 50 ms until it gives a value (20 s at most).
pub async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
