//! What gossipsub forwards. It runs with `validate_messages()`: a message is checked here
//! before it is delivered to the features or forwarded to anyone, and the verdict is reported
//! to gossipsub, so a peer that sends forgeries loses score (and is graylisted past
//! gossipsub's threshold) instead of having them spread.
//!
//! The checks are the ones that need no state: size, the record's signature, that the signer
//! is the topic's single writer (a user's announcements, a document's writer), and that the
//! message names the topic's document. Order and duplicates are the features' (a replica
//! applies a writer's updates in number order).

use libp2p::gossipsub;
use vivim_crdt::DocId;
use vivim_identity::Did;
use vivim_protocol::{Announce, DocUpdate, SharingIntent, Signed};

/// Every announcement also goes here (relays pin from it).
pub const ANNOUNCE_TOPIC: &str = "vivim/announce/1";
/// A user's announcements: `vivim/user/1/<did>`.
pub const USER_TOPIC_PREFIX: &str = "vivim/user/1/";
/// Sharing intents (relays pin from it; recipients pick theirs).
pub const PIN_TOPIC: &str = "vivim/pin/1";
/// A document's signed updates: `vivim/doc/1/<doc id>`.
pub const DOC_TOPIC_PREFIX: &str = "vivim/doc/1/";

/// What to do with a gossip message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver it and forward it.
    Accept,
    /// Drop it and penalize the peer that sent it (a forgery, or not what the topic carries).
    Reject,
    /// Drop it without penalty (a topic this node does not know).
    Ignore,
}

impl From<Verdict> for gossipsub::MessageAcceptance {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Accept => gossipsub::MessageAcceptance::Accept,
            Verdict::Reject => gossipsub::MessageAcceptance::Reject,
            Verdict::Ignore => gossipsub::MessageAcceptance::Ignore,
        }
    }
}

fn verdict(ok: bool) -> Verdict {
    if ok { Verdict::Accept } else { Verdict::Reject }
}

/// Checks a message on `topic`.
pub fn validate(topic: &str, data: &[u8]) -> Verdict {
    if topic == ANNOUNCE_TOPIC {
        return verdict(Signed::<Announce>::decode(data).is_ok());
    }
    if let Some(did) = topic.strip_prefix(USER_TOPIC_PREFIX) {
        let Ok(did) = did.parse::<Did>() else {
            return Verdict::Ignore;
        };
        return verdict(
            Signed::<Announce>::decode(data).is_ok_and(|a| a.value().owner == did.public_key()),
        );
    }
    if topic == PIN_TOPIC {
        return verdict(Signed::<SharingIntent>::decode(data).is_ok());
    }
    if let Some(doc) = topic.strip_prefix(DOC_TOPIC_PREFIX) {
        let Ok(doc) = doc.parse::<DocId>() else {
            return Verdict::Ignore;
        };
        if data.first() == Some(&0x82) {
            // A hint that an update too large for gossip exists: (doc id, number).
            return verdict(
                ciborium::from_reader::<(String, u64), _>(data)
                    .is_ok_and(|(d, seq)| seq > 0 && d == doc.to_string()),
            );
        }
        return verdict(Signed::<DocUpdate>::decode(data).is_ok_and(|u| {
            let u = u.value();
            u.seq > 0 && u.doc == doc.to_string() && u.writer == doc.writer().public_key()
        }));
    }
    Verdict::Ignore
}

/// Score parameters for one of our topics: an invalid message costs its sender (P4, squared
/// per message, decaying); time in the mesh earns a little (P1, capped) so that honest peers
/// stay above zero. No mesh-delivery penalty (P3): our topics are quiet most of the time, and
/// gossipsub's default would punish peers for having nothing to say.
pub fn topic_params() -> gossipsub::TopicScoreParams {
    gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: std::time::Duration::from_secs(1),
        time_in_mesh_cap: 3600.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -10.0,
        invalid_message_deliveries_decay: 0.5,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vivim_identity::Keypair;
    use vivim_protocol::{ConvId, DocUpdateKind, Hash};

    fn announce(k: &Keypair) -> Vec<u8> {
        Signed::sign(
            Announce {
                v: 1,
                conversation: ConvId(Hash([7; 32])),
                seq: Hash([1; 32]),
                manifest: Hash([2; 32]),
                owner: k.public(),
                title: "t".into(),
                published_at_ms: 1,
                sig: None,
            },
            k,
        )
        .unwrap()
        .bytes()
        .to_vec()
    }

    fn update(k: &Keypair, doc: &str) -> Vec<u8> {
        Signed::sign(
            DocUpdate {
                v: 1,
                doc: doc.into(),
                writer: k.public(),
                seq: 1,
                kind: DocUpdateKind::Update,
                update: vec![0, 0],
                issued_at_ms: 1,
                sig: None,
            },
            k,
        )
        .unwrap()
        .bytes()
        .to_vec()
    }

    #[test]
    fn forgeries_and_wrong_writers_are_rejected() {
        let a = Keypair::from_seed(&[1; 32]);
        let b = Keypair::from_seed(&[2; 32]);
        let ann = announce(&a);
        assert_eq!(validate(ANNOUNCE_TOPIC, &ann), Verdict::Accept);
        let mine = format!("{USER_TOPIC_PREFIX}{}", a.did());
        let theirs = format!("{USER_TOPIC_PREFIX}{}", b.did());
        assert_eq!(validate(&mine, &ann), Verdict::Accept);
        assert_eq!(validate(&theirs, &ann), Verdict::Reject);
        let mut forged = ann.clone();
        let n = forged.len();
        forged[n - 1] ^= 1;
        assert_eq!(validate(ANNOUNCE_TOPIC, &forged), Verdict::Reject);
        assert_eq!(validate(PIN_TOPIC, &ann), Verdict::Reject);
        assert_eq!(validate("vivim/unknown/1", &ann), Verdict::Ignore);

        let z = |k: &Keypair| k.did().to_string().replace("did:key:", "");
        let doc = format!("circle.{}.friends", z(&a));
        let topic = format!("{DOC_TOPIC_PREFIX}{doc}");
        assert_eq!(validate(&topic, &update(&a, &doc)), Verdict::Accept);
        // B signs an update of A's document; A's update of another document on this topic.
        assert_eq!(validate(&topic, &update(&b, &doc)), Verdict::Reject);
        let other = format!("circle.{}.family", z(&a));
        assert_eq!(validate(&topic, &update(&a, &other)), Verdict::Reject);
        let mut hint = Vec::new();
        ciborium::into_writer(&(doc.clone(), 5u64), &mut hint).unwrap();
        assert_eq!(validate(&topic, &hint), Verdict::Accept);
        let mut hint = Vec::new();
        ciborium::into_writer(&(other, 5u64), &mut hint).unwrap();
        assert_eq!(validate(&topic, &hint), Verdict::Reject);
        assert_eq!(validate(&topic, b"\x82garbage"), Verdict::Reject);
        assert!(topic_params().validate().is_ok());
    }
}
