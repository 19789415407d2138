//! Social documents survive a restart: the writer's numbered updates (snapshot every few, the
//! rest replayed), and a replica's received updates, including ones that arrived early.
#![allow(clippy::unwrap_used)]

use vivim_crdt::{DocId, schema::Role};
use vivim_identity::Keypair;
use vivim_node::{datadir::DataDir, node::Node};

fn did(n: u16) -> vivim_identity::Did {
    let mut s = [7u8; 32];
    s[..2].copy_from_slice(&n.to_le_bytes());
    Keypair::from_seed(&s).did()
}

#[tokio::test]
async fn documents_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (tmp.path().join("a"), tmp.path().join("b"));
    let a = Node::open(DataDir::at(&a_dir), None, true).await.unwrap();
    let b = Node::open(DataDir::at(&b_dir), None, true).await.unwrap();
    let c = a.circle_create("Big", "private", &[]).unwrap();
    let id: DocId = c.id.parse().unwrap();
    let mut updates = Vec::new();
    // Capture every signed update A makes, in order.
    let mut log = Vec::new();
    for n in 0..100u16 {
        let signed = a
            .social
            .write(&id, |w| w.add_member(&did(n), Role::Member, u64::from(n)))
            .unwrap()
            .unwrap();
        log.push(signed.bytes().to_vec());
    }
    assert_eq!(a.social.applied(&id), 101);
    // B receives them out of order: the second half first (held), then the first half.
    let first = a.social.answer(&id, 0).unwrap();
    assert_eq!(
        first.len(),
        101,
        "up to 256 behind, the writer sends its logged updates"
    );
    updates.extend(log.iter().cloned());
    b.social.track(&id).unwrap();
    for u in &updates[50..] {
        b.social.receive(u, false).unwrap();
    }
    assert!(b.social.has_gap(&id));
    assert_eq!(b.social.applied(&id), 0);
    // The creation (update 1) was before `log`; take it from A's catch-up answer.
    for u in a.social.answer(&id, 0).unwrap() {
        b.social.receive(&u, false).unwrap();
    }
    assert_eq!(b.social.applied(&id), 101);
    assert!(!b.social.has_gap(&id));

    for n in [a.clone(), b.clone()] {
        n.shutdown().await.unwrap();
    }
    drop((a, b));
    let a = Node::open(DataDir::at(&a_dir), None, false).await.unwrap();
    let b = Node::open(DataDir::at(&b_dir), None, false).await.unwrap();
    for n in [&a, &b] {
        assert_eq!(n.social.applied(&id), 101);
        assert_eq!(n.circle(&c.id).unwrap().members.len(), 101);
    }
    // A goes on numbering after 101 (never reusing a number).
    let next = a
        .social
        .write(&id, |w| w.set_meta("name", "Bigger"))
        .unwrap()
        .unwrap();
    assert_eq!(next.value().seq, 102);
    b.social.receive(next.bytes(), false).unwrap();
    assert_eq!(b.circle(&c.id).unwrap().name, "Bigger");
    // A peer that has 90 gets the 12 logged updates (not a state).
    let rest = a.social.answer(&id, 90).unwrap();
    assert_eq!(rest.len(), 12);
    // Far behind (over 256 updates): one freshly signed full state.
    for n in 0..300u16 {
        a.social
            .write(&id, |w| w.add_member(&did(n), Role::Admin, 1))
            .unwrap();
    }
    let state = a.social.answer(&id, 0).unwrap();
    assert_eq!(state.len(), 1);
    let tmp2 = tempfile::tempdir().unwrap();
    let fresh = Node::open(DataDir::at(tmp2.path()), None, true)
        .await
        .unwrap();
    fresh.social.track(&id).unwrap();
    fresh.social.receive(&state[0], false).unwrap();
    assert_eq!(fresh.social.applied(&id), 402);
    assert_eq!(fresh.circle(&c.id).unwrap().members.len(), 301);
    // … and it can serve later updates on top of it.
    assert!(fresh.social.answer(&id, 402).unwrap().is_empty());
}
