#![allow(clippy::unwrap_used)]
//! Document ids, views, derived statuses, and convergence under any delivery order.

use proptest::prelude::*;
use vivim_crdt::{
    DocId, DocKind, Inbox, Offered, Replica,
    schema::{CircleView, FriendSide, GraphView, GroupView, Role},
    status::{self, FollowStatus, FriendStatus, Membership},
};
use vivim_identity::{Did, Keypair};

fn did(n: u8) -> Did {
    Keypair::from_seed(&[n; 32]).did()
}

#[test]
fn doc_ids_round_trip_and_bad_ones_are_refused() {
    let id = DocId::random(DocKind::Circle, &did(1), 0x3f9a);
    let s = id.to_string();
    assert!(s.starts_with("circle.z6Mk"), "{s}");
    assert!(s.ends_with(".0000000000003f9a"));
    assert_eq!(s.parse::<DocId>().unwrap(), id);
    assert_eq!(id.writer(), &did(1));
    assert_eq!(
        DocId::graph(&did(2)).to_string().split('.').nth(2),
        Some("main")
    );
    for bad in [
        "",
        "circle",
        "circle.z6Mk.x",
        "room.z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK.x",
        "circle.z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK.UPPER",
        "circle.z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK.a.b",
        "circle.z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK.",
    ] {
        assert!(bad.parse::<DocId>().is_err(), "{bad:?} accepted");
    }
}

#[test]
fn circle_writes_read_back_and_travel_as_updates() {
    let owner = did(1);
    let id = DocId::random(DocKind::Circle, &owner, 7);
    let a = Replica::new(id.clone());
    let u1 = a
        .write(|w| {
            w.set_meta("name", "Research");
            w.set_meta("visibility", "private");
            w.set_created(1_700_000_000_000);
            w.add_member(&owner, Role::Owner, 1_700_000_000_000);
            w.add_member(&did(2), Role::Member, 1_700_000_000_001);
            w.set_policy("reshare", true);
        })
        .unwrap();
    // Writing the same values again changes nothing.
    assert!(a.write(|w| w.set_meta("name", "Research")).is_none());
    let u2 = a.write(|w| w.remove_member(&did(2))).unwrap();

    let b = Replica::new(id.clone());
    assert!(CircleView::read(&b).is_none(), "no meta yet");
    b.apply(&u2).unwrap(); // out of order: waits inside yrs
    b.apply(&u1).unwrap();
    b.apply(&u1).unwrap(); // duplicates are harmless
    let v = CircleView::read(&b).unwrap();
    assert_eq!(v, CircleView::read(&a).unwrap());
    assert_eq!(v.name, "Research");
    assert_eq!(v.created, 1_700_000_000_000);
    assert!(v.reshare && !v.member_share);
    assert_eq!(v.members.len(), 1);
    assert_eq!(v.members[&owner].role, Role::Owner);

    // Catch-up by state vector.
    let c = Replica::new(id);
    c.apply(&a.diff(&c.state_vector()).unwrap()).unwrap();
    assert_eq!(CircleView::read(&c), CircleView::read(&a));
}

#[test]
fn hostile_bytes_are_errors() {
    let r = Replica::new(DocId::graph(&did(1)));
    for bad in [
        &b""[..],
        b"\xff\xff\xff\xff\xff",
        b"\x01\x01\xff\xff\xff\xff\x0f\x00",
    ] {
        assert!(r.apply(bad).is_err() || GraphView::read(&r) == GraphView::default());
    }
    assert!(
        r.apply(&vec![0u8; vivim_crdt::MAX_UPDATE_BYTES + 1])
            .is_err()
    );
    assert!(r.diff(b"\xff\xff").is_err());
    // Counts that claim more entries than there are bytes (a 4-byte state vector asking for a
    // 76M-entry map, found by fuzzing) are refused before yrs allocates.
    assert!(r.diff(&[180, 174, 180, 36]).is_err());
    assert!(r.apply(&[180, 174, 180, 36]).is_err());
}

#[test]
fn values_of_the_wrong_shape_are_skipped() {
    let r = Replica::new(DocId::graph(&did(1)));
    r.write(|w| {
        w.put("friends", "not-a-did", yrs::Any::Bool(true));
        w.put("friends", &did(2).to_string(), yrs::Any::Bool(true));
        w.put("follows", &did(3).to_string(), yrs::Any::from("x"));
        w.friend(&did(4), FriendSide::Requested, 5);
    })
    .unwrap();
    let g = GraphView::read(&r);
    assert_eq!(g.friends.len(), 1);
    assert!(g.follows.is_empty());
}

fn graph(me: &Did, f: impl FnOnce(&mut vivim_crdt::schema::Writer<'_, '_>)) -> GraphView {
    let r = Replica::new(DocId::graph(me));
    r.write(f);
    GraphView::read(&r)
}

#[test]
fn friendship_status_from_both_sides() {
    let (a, b) = (did(1), did(2));
    let asked = graph(&a, |w| w.friend(&b, FriendSide::Requested, 1));
    let silent = graph(&b, |_| {});
    let accepted = graph(&b, |w| w.friend(&a, FriendSide::Accepted, 2));
    let rejected = graph(&b, |w| w.friend(&a, FriendSide::Rejected, 2));
    let blocks = graph(&b, |w| w.block(&a, 2));
    let withdrawn = graph(&a, |w| w.friend(&b, FriendSide::Cancelled, 3));

    use status::Direction::*;
    assert_eq!(
        status::friendship(&a, &asked, &b, None),
        Some((FriendStatus::Pending, Outgoing))
    );
    assert_eq!(
        status::friendship(&a, &asked, &b, Some(&silent)),
        Some((FriendStatus::Pending, Outgoing))
    );
    assert_eq!(
        status::friendship(&b, &silent, &a, Some(&asked)),
        Some((FriendStatus::Pending, Incoming))
    );
    assert_eq!(
        status::friendship(&a, &asked, &b, Some(&accepted)).map(|s| s.0),
        Some(FriendStatus::Accepted)
    );
    assert_eq!(
        status::friendship(&b, &accepted, &a, Some(&asked)).map(|s| s.0),
        Some(FriendStatus::Accepted)
    );
    assert_eq!(
        status::friendship(&a, &asked, &b, Some(&rejected)).map(|s| s.0),
        Some(FriendStatus::Rejected)
    );
    assert_eq!(
        status::friendship(&a, &asked, &b, Some(&blocks)).map(|s| s.0),
        Some(FriendStatus::Blocked)
    );
    assert_eq!(
        status::friendship(&b, &accepted, &a, Some(&withdrawn)).map(|s| s.0),
        Some(FriendStatus::Cancelled)
    );
    assert_eq!(status::friendship(&a, &silent, &b, Some(&silent)), None);
}

#[test]
fn follow_status_respects_blocks_and_approval() {
    let (a, b) = (did(1), did(2));
    let follows = graph(&a, |w| w.follow(&b, 1));
    let open = graph(&b, |_| {});
    let strict = graph(&b, |w| w.set_follow_approval(true));
    let approved = graph(&b, |w| {
        w.set_follow_approval(true);
        w.approve_follower(&a, 2);
    });
    let blocks = graph(&b, |w| w.block(&a, 2));
    assert_eq!(
        status::follow(&a, &follows, &b, None),
        Some(FollowStatus::Active)
    );
    assert_eq!(
        status::follow(&a, &follows, &b, Some(&open)),
        Some(FollowStatus::Active)
    );
    assert_eq!(
        status::follow(&a, &follows, &b, Some(&strict)),
        Some(FollowStatus::Pending)
    );
    assert_eq!(
        status::follow(&a, &follows, &b, Some(&approved)),
        Some(FollowStatus::Active)
    );
    assert_eq!(
        status::follow(&a, &follows, &b, Some(&blocks)),
        Some(FollowStatus::Blocked)
    );
    assert_eq!(status::follow(&b, &open, &a, Some(&follows)), None);
}

#[test]
fn membership_follows_the_group_policy() {
    let (owner, x) = (did(1), did(2));
    let make = |access: &str| {
        let r = Replica::new(DocId::random(DocKind::Group, &owner, 9));
        r.write(|w| {
            w.set_meta("name", "g");
            w.set_meta("kind", "STUDY");
            w.set_meta("visibility", access);
        });
        GroupView::read(&r).unwrap()
    };
    let asks = |g: &GroupView| graph(&x, |w| w.request_join(&g.id, "hi", 1));
    let public = make("PUBLIC");
    let approval = make("APPROVAL");
    let private = make("PRIVATE");
    assert_eq!(status::membership(&public, &x, None), Membership::None);
    assert_eq!(
        status::membership(&public, &x, Some(&asks(&public))),
        Membership::Member(Role::Member)
    );
    assert_eq!(
        status::membership(&approval, &x, Some(&asks(&approval))),
        Membership::Requested
    );
    assert_eq!(
        status::membership(&private, &x, Some(&asks(&private))),
        Membership::None
    );
    assert_eq!(
        status::membership(&private, &owner, None),
        Membership::Member(Role::Owner)
    );
}

#[derive(Debug, Clone)]
enum Op {
    Add(u8, bool),
    Remove(u8),
    Rename(u8),
    Policy(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..8, any::<bool>()).prop_map(|(d, admin)| Op::Add(d, admin)),
        (0u8..8).prop_map(Op::Remove),
        (0u8..4).prop_map(Op::Rename),
        any::<bool>().prop_map(Op::Policy),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// The writer makes random changes, over several sessions (each a new yrs client id, as
    /// after a restart); every replica gets the numbered updates in its own random order, some
    /// twice, some replicas also a full state taken mid-way; all end with the writer's view.
    #[test]
    fn replicas_converge(
        ops in proptest::collection::vec((any::<bool>(), op()), 1..60),
        orders in proptest::collection::vec(proptest::collection::vec(any::<u32>(), 64), 5),
        state_at in proptest::collection::vec(proptest::option::of(0usize..60), 5),
    ) {
        let owner = did(1);
        let id = DocId::random(DocKind::Circle, &owner, 1);
        let dids: Vec<Did> = (10..18).map(did).collect();
        let mut writer = Replica::with_client_id(id.clone(), 100);
        let mut updates: Vec<Vec<u8>> = Vec::new();
        let mut states: Vec<Vec<u8>> = Vec::new(); // states[k] covers updates[..k]
        for (t, (restart, op)) in ops.iter().enumerate() {
            if *restart {
                let next = Replica::with_client_id(id.clone(), 200 + t as u64);
                next.apply(&writer.snapshot()).unwrap();
                writer = next;
            }
            states.push(writer.snapshot());
            let u = writer.write(|w| match op {
                Op::Add(d, admin) => w.add_member(
                    &dids[*d as usize],
                    if *admin { Role::Admin } else { Role::Member },
                    t as u64,
                ),
                Op::Remove(d) => w.remove_member(&dids[*d as usize]),
                Op::Rename(n) => w.set_meta("name", &format!("circle {n}")),
                Op::Policy(on) => w.set_policy("reshare", *on),
            });
            if let Some(u) = u {
                updates.push(u);
            } else {
                states.pop();
            }
        }
        let expected = (CircleView::read(&writer), writer.entries("members"), writer.entries("policy"));
        for (order, state_at) in orders.iter().zip(&state_at) {
            let r = Replica::new(id.clone());
            let mut inbox = Inbox::default();
            let mut idx: Vec<(u32, usize)> = (0..updates.len())
                .map(|i| (order[i % order.len()].wrapping_mul(i as u32 + 7), i))
                .collect();
            idx.sort();
            for (n, (k, i)) in idx.into_iter().enumerate() {
                if let Some(at) = state_at
                    && *at == n
                    && *at < states.len()
                {
                    inbox.offer_state(&r, *at as u64, &states[*at]).unwrap();
                }
                inbox.offer(&r, i as u64 + 1, &updates[i]).unwrap();
                if k % 3 == 0 {
                    let again = inbox.offer(&r, i as u64 + 1, &updates[i]).unwrap();
                    prop_assert!(matches!(again, Offered::Old | Offered::Held), "{again:?}");
                }
            }
            prop_assert!(!inbox.has_gap());
            prop_assert_eq!(inbox.applied(), updates.len() as u64);
            let got = (CircleView::read(&r), r.entries("members"), r.entries("policy"));
            prop_assert_eq!(&got, &expected);
        }
    }
}

/// Held updates are bounded in bytes, and an update far ahead of the applied one is refused;
/// once the gap fills the held ones apply and their bytes are counted out.
#[test]
fn held_updates_are_bounded_in_bytes_and_distance() {
    use vivim_crdt::{MAX_AHEAD, MAX_HELD_BYTES};
    let writer = Keypair::from_seed(&[3; 32]).did();
    let id = DocId::new(DocKind::Circle, &writer, "c").unwrap();
    let w = Replica::new(id.clone());
    let first = w.write(|w| w.set_meta("name", "one")).unwrap();
    let second = w.write(|w| w.set_meta("name", "two")).unwrap();
    let r = Replica::new(id);
    let mut inbox = Inbox::default();
    assert!(inbox.offer(&r, MAX_AHEAD + 1, &second).is_err());
    assert_eq!(inbox.offer(&r, 2, &second).unwrap(), Offered::Held);
    // Filler held past the byte bound: the one that would cross it is refused.
    let big = vec![0u8; 1024 * 1024];
    let mut held = 0;
    let mut refused = false;
    for seq in 3..(3 + 64) {
        match inbox.offer(&r, seq, &big) {
            Ok(Offered::Held) => held += big.len(),
            Err(_) => {
                refused = true;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(refused);
    assert!(held <= MAX_HELD_BYTES);
    // The gap fills: 1 and 2 apply; the filler (not a real update) stops the drain with an
    // error, never a panic.
    assert!(inbox.offer(&r, 1, &first).is_err() || inbox.applied() >= 2);
    assert_eq!(
        vivim_crdt::schema::CircleView::read(&r).map(|c| c.name),
        Some("two".into())
    );
}

/// A y-websocket frame whose state vector makes yrs' reader panic (found by the
/// `yjs_sync_message` fuzz target) is an error, not a panic.
#[test]
fn a_hostile_sync_frame_is_an_error() {
    let frame = [
        0x0, 0x0, 0xb, 0x39, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x13, 0x41, 0x0, 0x1, 0x0,
        0x0, 0x0, 0x0, 0x7, 0x39, 0x0, 0x4,
    ];
    assert!(vivim_crdt::sync_messages(&frame).is_err());
    // A 15-byte frame whose state vector declares ~2^27 entries (yrs reserved 4.5 GB for it).
    let big = [0, 0, 7, 255, 255, 255, 57, 3, 0, 0, 3, 0, 0, 7, 57];
    assert!(vivim_crdt::sync_messages(&big).is_err());
    // A well-formed frame still reads.
    let ok = [0x0, 0x0, 0x1, 0x0];
    assert_eq!(vivim_crdt::sync_messages(&ok).unwrap().len(), 1);
}
