//! Where the node meets its network: [`P2p::start`] launches libp2p and iroh with every
//! feature's network side (document sync, sharing). The network floor ([`crate::net`]) knows
//! features only through [`Feature`]; this is the one place that names them.

use std::sync::Arc;

use crate::{
    net::p2p::{Feature, P2p, P2pConfig, P2pError},
    node::Node,
    share::net::Sharing,
    social::sync::DocSync,
};

/// Every feature's network side, in the order they start.
pub fn features() -> Vec<Arc<dyn Feature>> {
    vec![Arc::new(DocSync), Arc::new(Sharing)]
}

impl P2p {
    /// Starts libp2p and iroh for `node` with every feature ([`features`]), publishes its peer
    /// record, and (in relay mode) starts pinning announced content.
    pub async fn start(node: Arc<Node>, cfg: P2pConfig) -> Result<Arc<P2p>, P2pError> {
        P2p::launch(node, cfg, features()).await
    }
}
