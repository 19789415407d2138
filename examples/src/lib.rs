//! Runnable examples and bench binaries for VIVIM: see `examples/examples/`. This library holds
//! what the bench binaries share: a loopback peer, generated conversations, percentiles.

use std::{collections::BTreeMap, sync::Arc};

use vivim_node::{
    datadir::DataDir,
    import::{ImportedConversation, ImportedMessage},
    net::p2p::{P2p, P2pConfig},
    node::Node,
    testdata::Rng,
};
use vivim_protocol::{Kind, Role};

/// A node with its network on loopback, in a temporary data dir.
pub struct Peer {
    /// The node.
    pub node: Arc<Node>,
    /// Its network.
    pub p2p: Arc<P2p>,
    /// Its data dir (removed when dropped).
    pub tmp: tempfile::TempDir,
}

/// Starts a loopback peer that bootstraps from `bootstrap`.
pub async fn peer(bootstrap: Vec<libp2p::Multiaddr>) -> anyhow::Result<Peer> {
    peer_with(bootstrap, false).await
}

/// Starts a loopback peer; with `relay`, in relay mode (relay server, pinning).
pub async fn peer_with(bootstrap: Vec<libp2p::Multiaddr>, relay: bool) -> anyhow::Result<Peer> {
    let tmp = tempfile::tempdir()?;
    let node = Node::open(DataDir::at(tmp.path()), None, true).await?;
    let mut cfg = P2pConfig::loopback();
    cfg.net.bootstrap = bootstrap;
    cfg.net.relay_server = relay;
    // The benches' raw-gossipsub anchor publishes bare payloads here.
    cfg.net.open_topics = vec!["vivim/bench/1".into()];
    cfg.pin_announced = relay;
    let p2p = P2p::start(node.clone(), cfg).await?;
    Ok(Peer { node, p2p, tmp })
}

/// A field of `/proc/self/status` in KiB (`VmRSS:`, `RssAnon:`, `RssFile:`; 0 where there is
/// none).
pub fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The `q` quantile (0..=1) of `v` (sorted in place); NaN when empty.
pub fn pct(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * q).round() as usize]
}

/// A generated conversation of `n` messages of `bytes_each` bytes, one branch.
pub fn conversation(n: usize, bytes_each: usize, seed: u64) -> ImportedConversation {
    let mut rng = Rng::new(seed);
    let words = bytes_each / 7 + 1;
    let messages = (0..n)
        .map(|i| {
            let mut text = rng.words(words.min(200));
            while text.len() < bytes_each {
                text.push_str(&text.clone());
            }
            text.truncate(bytes_each);
            ImportedMessage {
                id: format!("m{i}"),
                parent: i.checked_sub(1).map(|p| format!("m{p}")),
                role: if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                },
                kind: Kind::Text,
                lang: None,
                text,
                created_at_ms: Some(1_700_000_000_000 + i as u64),
                visible: true,
                meta: BTreeMap::new(),
            }
        })
        .collect();
    ImportedConversation {
        provider: "bench".into(),
        source_id: format!("bench-{seed}"),
        title: format!("bench {n}x{bytes_each}"),
        source_url: None,
        created_at_ms: 1_700_000_000_000,
        updated_at_ms: 1_700_000_000_000,
        model: None,
        messages,
        head: None,
    }
}
