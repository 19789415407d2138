//! The social feature: the graph (profile, follows, friends, circles, groups, teams, blocks)
//! as methods of [`crate::node::Node`] over signed CRDT documents, and their sync between peers
//! over gossipsub and the `/vivim/doc/1.0.0` protocol.

pub mod graph;
pub mod sync;
