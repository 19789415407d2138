//! One key, three identities: an ACU signed with a node's on-disk key verifies against the DID
//! recovered from the node's libp2p PeerId and from its iroh EndpointId.
#![allow(clippy::unwrap_used)]

use vivim_node::net::ids;
use vivim_protocol::{Acu, Body, ConvId, Kind, Role, Signed};

#[test]
fn acu_signed_on_disk_key_verifies_from_peer_and_endpoint_ids() {
    let (_tmp, dir) = vivim_tests::temp_node();
    let key = dir.load_key(None).unwrap();
    let acu = Acu::new(
        ConvId::random(),
        None,
        key.public(),
        Role::User,
        Kind::Text,
        Body::text("hello from disk"),
        1,
    );
    let signed = Signed::sign(acu, &key).unwrap();

    let from_peer = ids::did_of_peer(&ids::peer_id(&key.public())).unwrap();
    let from_endpoint = ids::did_of_endpoint(&ids::endpoint_id(&key.public())).unwrap();
    assert_eq!(from_peer, key.did());
    assert_eq!(from_endpoint, key.did());

    let decoded = Signed::<Acu>::decode(signed.bytes()).unwrap();
    assert_eq!(decoded.value().author.did(), from_peer);
    // A node that reloads the key from disk signs identically (deterministic signatures).
    let again = dir.load_key(None).unwrap();
    let resigned = Signed::sign(signed.value().clone(), &again).unwrap();
    assert_eq!(resigned.id(), signed.id());
}
