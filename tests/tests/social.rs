//! The social graph between nodes on loopback, in one process: a circle reaches its members,
//! a member that was offline catches up, updates not signed by the writer are refused, friend
//! and follow flows, and group join requests.
#![allow(clippy::unwrap_used)]

use vivim_crdt::{DocId, DocKind, schema::Role};
use vivim_identity::Keypair;
use vivim_node::{
    net::p2p::{P2p, P2pConfig},
    node::Node,
    store::docs::doc_topic,
};
use vivim_protocol::{DocUpdate, DocUpdateKind, Signed};
use vivim_tests::{eventually, network};

fn member_count(node: &Node, id: &str) -> Option<usize> {
    node.circle(id).ok().map(|c| c.members.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circles_reach_members_catch_up_and_refuse_forgeries() {
    let (_relay, peers) = network(3, false).await;
    // People who know each other (the request path is `friends_follows_and_group_requests…`).
    vivim_tests::introduce(&peers);
    let (a, b, c) = (&peers[0], &peers[1], &peers[2]);
    let (b_did, c_did) = (b.node.key.did(), c.node.key.did());

    // A creates a circle with B and C; both see it, with A as owner.
    let circle = a
        .node
        .circle_create("Research", "private", &[b_did, c_did])
        .unwrap();
    assert_eq!(circle.members.len(), 3);
    for p in [b, c] {
        let got = eventually("members see the circle", || {
            p.node
                .circles()
                .ok()
                .and_then(|l| l.into_iter().find(|x| x.id == circle.id))
        })
        .await;
        assert_eq!(got.name, "Research");
        assert_eq!(got.owner, a.node.key.did().to_string());
        assert!(!got.mine);
        assert_eq!(got.members.len(), 3);
    }

    // C goes offline; A adds D; B sees it at once, C when it comes back.
    c.p2p.shutdown().await;
    let d = Keypair::from_seed(&[42; 32]).did();
    a.node.circle_add(&circle.id, &d, Role::Admin).unwrap();
    a.node
        .write_doc(&circle.id.parse().unwrap(), &[], |w| {
            w.set_meta("name", "Research 2")
        })
        .unwrap();
    eventually("B sees the new member and the new name", || {
        b.node
            .circle(&circle.id)
            .ok()
            .filter(|x| x.members.len() == 4 && x.name == "Research 2")
    })
    .await;
    assert_eq!(member_count(&c.node, &circle.id), Some(3), "C was offline");
    let boot = _relay.p2p.bootstrap_addrs().await;
    let mut cfg = P2pConfig::loopback();
    cfg.net.bootstrap = boot;
    let c2 = P2p::start(c.node.clone(), cfg).await.unwrap();
    c2.publish_peer_record().await.unwrap();
    // Updates apply one by one in order: wait for the last one (the rename).
    let caught = eventually("C catches up after restarting", || {
        c.node
            .circle(&circle.id)
            .ok()
            .filter(|x| x.name == "Research 2")
    })
    .await;
    assert_eq!(caught.members.len(), 4);
    assert_eq!(caught.name, "Research 2");
    assert_eq!(c.node.social.applied(&circle.id.parse().unwrap()), 3);

    // An update for A's circle signed by someone else is refused, directly and by gossip.
    let mallory = Keypair::from_seed(&[66; 32]);
    let id: DocId = circle.id.parse().unwrap();
    let evil = vivim_crdt::Replica::new(id.clone());
    let update = evil.write(|w| w.set_meta("name", "pwned")).unwrap();
    let forged = Signed::sign(
        DocUpdate {
            v: 1,
            doc: id.to_string(),
            writer: mallory.public(),
            seq: 4,
            kind: DocUpdateKind::Update,
            update,
            issued_at_ms: 1,
            sig: None,
        },
        &mallory,
    )
    .unwrap();
    let err = b.node.social.receive(forged.bytes(), false).unwrap_err();
    assert!(err.to_string().contains("written by"), "{err}");
    // By gossip it never reaches the document: the network's validation drops it (and
    // counts it against the sender's gossip score) before it is delivered or forwarded.
    let before = b.p2p.net.info().await.unwrap().gossip_rejected;
    a.p2p
        .net
        .publish(&doc_topic(&id), forged.bytes().to_vec())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while b.p2p.net.info().await.unwrap().gossip_rejected <= before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out: B drops the forgery"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(b.node.circle(&circle.id).unwrap().name, "Research 2");
    // Nobody but the owner writes the circle.
    let e = b.node.circle_add(&circle.id, &d, Role::Member).unwrap_err();
    assert!(e.to_string().contains("only its owner"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friends_follows_and_group_requests_between_two_nodes() {
    let (_relay, peers) = network(2, false).await;
    let (a, b) = (&peers[0], &peers[1]);
    let (a_did, b_did) = (a.node.key.did(), b.node.key.did());
    b.node.set_profile(Some("Bea"), None, None).unwrap();

    // Request → B (who does not know A) gets a message request for A's graph, accepts it,
    // then sees the friend request incoming → accept → both ACCEPTED.
    let out = a.node.friend_request(&b_did).unwrap();
    assert_eq!(
        (out.status.as_str(), out.direction.as_str()),
        ("PENDING", "outgoing")
    );
    let req = eventually("B gets a message request from A", || {
        b.node
            .requests()
            .ok()?
            .into_iter()
            .find(|r| r.did == a_did.to_string())
    })
    .await;
    assert_eq!(req.items[0].kind, "graph");
    assert!(
        b.node.friends().unwrap().is_empty(),
        "tracked before acceptance"
    );
    let accepted = b
        .node
        .decide_request(&a_did, vivim_node::trust::requests::Decision::Accept)
        .unwrap();
    assert_eq!(accepted.documents, 1);
    let incoming = eventually("B sees the request", || {
        b.node
            .friends()
            .ok()?
            .into_iter()
            .find(|f| f.did == a_did.to_string())
    })
    .await;
    assert_eq!(
        (incoming.status.as_str(), incoming.direction.as_str()),
        ("PENDING", "incoming")
    );
    b.node.friend_accept(&a_did).unwrap();
    let f = eventually("A sees the acceptance", || {
        a.node
            .friend(&b_did)
            .ok()
            .filter(|f| f.status == "ACCEPTED")
    })
    .await;
    assert_eq!(f.name.as_deref(), Some("Bea"));
    assert_eq!(b.node.friend(&a_did).unwrap().status, "ACCEPTED");

    // Follow: B sees A among its followers.
    a.node.follow(&b_did).unwrap();
    eventually("B sees its follower", || {
        b.node
            .follows()
            .ok()?
            .followers
            .into_iter()
            .find(|f| f.did == a_did.to_string() && f.status == "ACTIVE")
    })
    .await;

    // Block: A sees the friendship and the follow BLOCKED.
    b.node.block(&a_did).unwrap();
    eventually("A sees the block", || {
        a.node.friend(&b_did).ok().filter(|f| f.status == "BLOCKED")
    })
    .await;
    eventually("A's follow is blocked", || {
        a.node
            .follows()
            .ok()?
            .following
            .into_iter()
            .find(|f| f.did == b_did.to_string() && f.status == "BLOCKED")
    })
    .await;

    // B's APPROVAL group: A asks to join, B sees the request and adds A; A is a member.
    let g = b
        .node
        .group_create(DocKind::Group, "Rust study", "study", "approval", "weekly")
        .unwrap();
    a.node.group_join(&g.id, DocKind::Group, "hello").unwrap();
    eventually("B sees the join request", || {
        b.node
            .group(&g.id, DocKind::Group)
            .ok()
            .filter(|x| x.requests.contains(&a_did.to_string()))
    })
    .await;
    b.node
        .group_add(&g.id, DocKind::Group, &a_did, Role::Member)
        .unwrap();
    let mine = eventually("A is a member", || {
        a.node
            .groups(DocKind::Group)
            .ok()?
            .into_iter()
            .find(|x| x.id == g.id && matches!(x.me, vivim_crdt::status::Membership::Member(_)))
    })
    .await;
    assert_eq!(mine.kind, "STUDY");
    assert_eq!(mine.access, "APPROVAL");
}
