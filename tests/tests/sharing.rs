//! Sharing between nodes on loopback, in one process: a circle share reaches its members
//! sealed; a non-member and the relay hold only ciphertext; a member added later is granted the
//! key and a member removed cannot read what is shared afterwards; links open on a stranger's
//! node; forks keep verifiable provenance; expired shares stop being served; revocations and
//! the feed.
#![allow(clippy::unwrap_used)]

use std::{path::Path, time::Duration};

use vivim_crdt::schema::Role;
use vivim_node::{
    net::p2p::{P2p, P2pConfig},
    node::{Capture, Node},
    share::{ShareSpec, Target},
};
use vivim_protocol::{ConvId, Hash, IntentKind, ShareLink};
use vivim_tests::{eventually, network};

/// A conversation of three messages on `node`, the last two containing `secret`.
async fn conversation(node: &Node, title: &str, secret: &str) -> ConvId {
    let mut conv = None;
    for (role, text) in [
        ("user", format!("How do I keep {title} private?")),
        ("assistant", format!("Seal it. By the way: {secret}")),
        ("user", format!("Thanks, noted {secret}")),
    ] {
        let (_, id) = node
            .capture(Capture {
                conversation: conv.map(|c: ConvId| c.to_string()),
                provider: Some("chatgpt".into()),
                source_id: None,
                title: Some(title.into()),
                parent: None,
                role: role.into(),
                kind: None,
                lang: None,
                text,
                created_at_ms: None,
            })
            .await
            .unwrap();
        conv = Some(id);
    }
    conv.unwrap()
}

/// Waits until `node` has opened share `id`.
async fn wait_opened(what: &str, node: &Node, id: &str) {
    eventually(what, || {
        node.shares()
            .ok()?
            .into_iter()
            .find(|s| s.id == id && s.state == "opened")
    })
    .await;
}

/// Whether any file under `dir` contains `needle`.
fn dir_contains(dir: &Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                return true;
            }
        }
    }
    false
}

async fn holds_text(node: &Node, conv: &ConvId, text: &str) -> bool {
    match node.store.acus(conv).await {
        Ok(acus) => acus
            .iter()
            .any(|a| a.value().body.as_text().is_some_and(|t| t.contains(text))),
        Err(_) => false,
    }
}

fn spec(content: &ConvId, target: Target, expires_in_ms: Option<u64>) -> ShareSpec {
    ShareSpec {
        content: content.to_string(),
        target,
        expires_in_ms,
        kind: IntentKind::Share,
        draft: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circle_shares_are_sealed_for_members_only() {
    let (relay, peers) = network(3, true).await;
    vivim_tests::introduce(&peers);
    let (a, b, c) = (&peers[0], &peers[1], &peers[2]);
    let (b_did, c_did) = (b.node.key.did(), c.node.key.did());
    const SECRET: &str = "the launch code is ZEBRA-7731";
    let conv = conversation(&a.node, "Project Zebra", SECRET).await;
    let circle = a.node.circle_create("Core", "private", &[b_did]).unwrap();

    // A shares with the circle {B}: B reads it.
    let share = a
        .node
        .share(spec(&conv, Target::Circle(circle.id.clone()), None))
        .await
        .unwrap();
    assert_eq!(share.status, "active");
    assert_eq!(share.recipients.len(), 2, "B and A herself");
    assert!(!share.recipients.contains(&c_did.to_string()));
    wait_opened("B opens the share", &b.node, &share.id).await;
    assert!(holds_text(&b.node, &conv, SECRET).await);
    let feed = b.node.feed(None, 10).unwrap();
    let item = feed.items.iter().find(|i| i.id == share.id).unwrap();
    assert_eq!(item.kind, "shared");
    assert_eq!(item.status, "opened");
    assert_eq!(item.title.as_deref(), Some("Project Zebra"));
    assert_eq!(item.actor, a.node.key.did().to_string());

    // C, not a member, gets the intent (as anyone watching a relay could): with no grant
    // there is nothing to read, so nothing is downloaded or kept.
    let row = a.node.find_share(&share.id).unwrap();
    let err = c.p2p.fetch_intent(&row.intent).await.unwrap_err();
    assert!(err.to_string().contains("no key grant"), "{err}");
    let payload: Hash = share.payload.as_deref().unwrap().parse().unwrap();
    assert!(
        !c.node
            .store
            .blobs()
            .blobs()
            .has(iroh_blobs::Hash::from(payload.0))
            .await
            .unwrap(),
        "C downloaded ciphertext it cannot read"
    );
    assert!(c.node.store.row(&conv).unwrap().is_none());
    // The relay pinned the ciphertext too.
    eventually("the relay pins the sealed share", || {
        (relay
            .p2p
            .stats
            .pinned
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0)
        .then_some(())
    })
    .await;
    c.node.store.sync().unwrap();
    relay.node.store.sync().unwrap();
    for (who, p) in [("C", c), ("the relay", &relay)] {
        assert!(
            !dir_contains(p.tmp.path(), b"ZEBRA-7731"),
            "{who}'s data dir holds the plaintext"
        );
    }
    b.node.store.sync().unwrap();
    assert!(
        dir_contains(b.tmp.path(), b"ZEBRA-7731"),
        "the scan finds plaintext where it is (B opened it)"
    );

    // C joins the circle later: A grants C the key of the circle's share; C opens it.
    a.node.circle_add(&circle.id, &c_did, Role::Member).unwrap();
    wait_opened(
        "C is granted the earlier share and opens it",
        &c.node,
        &share.id,
    )
    .await;
    assert!(holds_text(&c.node, &conv, SECRET).await);
    let revised = a.node.find_share(&share.id).unwrap();
    assert_eq!(revised.signed().unwrap().value().revision, 1);

    // B is removed; what A shares afterwards is sealed without B.
    a.node.circle_remove(&circle.id, &b_did).unwrap();
    const LATER: &str = "the new code is OKAPI-9904";
    let conv2 = conversation(&a.node, "Project Okapi", LATER).await;
    let share2 = a
        .node
        .share(spec(&conv2, Target::Circle(circle.id.clone()), None))
        .await
        .unwrap();
    assert!(!share2.recipients.contains(&b_did.to_string()));
    wait_opened(
        "C (still a member) opens the new share",
        &c.node,
        &share2.id,
    )
    .await;
    let row2 = a.node.find_share(&share2.id).unwrap();
    let err = b.p2p.fetch_intent(&row2.intent).await.unwrap_err();
    assert!(err.to_string().contains("no key grant"), "{err}");
    assert!(b.node.store.row(&conv2).unwrap().is_none());
    b.node.store.sync().unwrap();
    assert!(!dir_contains(b.tmp.path(), b"OKAPI-9904"));

    // A revokes the first share: B's feed says so; A no longer serves it.
    a.node.share_revoke(&share.id).await.unwrap();
    eventually("B sees the revocation", || {
        b.node
            .feed(None, 50)
            .ok()?
            .items
            .into_iter()
            .find(|i| i.id == share.id && i.status == "revoked")
    })
    .await;
    assert!(!a.node.may_serve(&payload.0));

    // The feed pages newest first.
    let first = c.node.feed(None, 1).unwrap();
    assert_eq!(first.items.len(), 1);
    assert_eq!(first.items[0].id, share2.id);
    let second = c.node.feed(first.next_cursor.as_deref(), 1).unwrap();
    assert_eq!(second.items[0].id, share.id);
    assert!(second.next_cursor.is_none());
    assert!(c.node.feed(Some("zz"), 1).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_forks_people_and_expiry() {
    let (_relay, peers) = network(3, true).await;
    vivim_tests::introduce(&peers);
    let (a, b, d) = (&peers[0], &peers[1], &peers[2]);
    const SECRET: &str = "the password is HERON-5512";
    let conv = conversation(&a.node, "Heron", SECRET).await;

    // A link opens on D, who has no relationship with A.
    let share = a.node.share(spec(&conv, Target::Link, None)).await.unwrap();
    let link: ShareLink = share.link.as_deref().unwrap().parse().unwrap();
    assert_eq!(link.from, a.node.key.did());
    let opened = d.p2p.open_link(&link).await.unwrap();
    assert_eq!(opened.conversation, conv.to_string());
    assert_eq!(opened.acus, 3);
    assert!(holds_text(&d.node, &conv, SECRET).await);
    // A wrong key opens nothing.
    let mut wrong = link.clone();
    wrong.key = vivim_protocol::ContentKey::generate();
    let err = b.p2p.open_link(&wrong).await.unwrap_err();
    assert!(err.to_string().contains("key"), "{err}");
    assert!(b.node.store.row(&conv).unwrap().is_none());

    // A shares with B by DID (B's /api/ws subscribers hear of it); B forks the first two
    // messages.
    let mut events = b.node.events.subscribe();
    let direct = a
        .node
        .share(spec(&conv, Target::Users(vec![b.node.key.did()]), None))
        .await
        .unwrap();
    let mut heard = Vec::new();
    while !heard.contains(&"opened".to_string()) {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
            Ok(Ok(vivim_node::node::Event::FeedItem { item })) if item.id == direct.id => {
                assert_eq!(item.actor, a.node.key.did().to_string());
                heard.push(item.status);
            }
            Ok(Ok(_)) => {}
            other => panic!("no feed event for the share: {other:?}"),
        }
    }
    assert_eq!(
        heard.first().map(String::as_str),
        Some("pending"),
        "{heard:?}"
    );
    wait_opened("B opens the direct share", &b.node, &direct.id).await;
    let acus = b.node.store.acus(&conv).await.unwrap();
    let second = acus[1].id().to_string();
    let fork = b
        .node
        .fork(&conv.to_string(), Some(&second[..12]), None)
        .await
        .unwrap();
    assert_eq!(fork.acus, 2);
    let fork_id: ConvId = fork.conversation.parse().unwrap();
    let prov = b.node.provenance(&fork.conversation).await.unwrap();
    assert!(prov.verified, "{prov:?}");
    assert_eq!(prov.forked_from.as_deref(), Some(conv.to_string().as_str()));
    assert_eq!(prov.original_owner, Some(a.node.key.did().to_string()));
    assert_eq!(prov.acus.len(), 2);
    for (p, orig) in prov.acus.iter().zip(&acus) {
        assert_eq!(p.original, orig.id().to_string());
        assert_eq!(p.signed_by, b.node.key.did().to_string());
        assert_eq!(p.original_author, Some(a.node.key.did().to_string()));
    }
    let row = b.node.store.row(&fork_id).unwrap().unwrap();
    assert_eq!(row.manifest.owner, b.node.key.public());
    assert_eq!(
        row.manifest.forked_from.as_ref().unwrap().upto,
        acus[1].id()
    );
    // The original conversation is not a fork.
    assert!(!b.node.provenance(&conv.to_string()).await.unwrap().verified);

    // B shares the fork by link; D opens it: the fork's provenance travels with it (D holds the
    // originals from the earlier link, so it verifies there too).
    let fork_link = b
        .node
        .share(spec(&fork_id, Target::Link, None))
        .await
        .unwrap();
    d.p2p
        .open_link(&fork_link.link.as_deref().unwrap().parse().unwrap())
        .await
        .unwrap();
    let on_d = d.node.provenance(&fork.conversation).await.unwrap();
    assert!(on_d.verified, "{on_d:?}");

    // An expired share stops being served, here and by the relay that pinned it.
    let brief = a
        .node
        .share(spec(&conv, Target::Link, Some(1_500)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    let brief_link: ShareLink = brief.link.as_deref().unwrap().parse().unwrap();
    let err = b.p2p.open_link(&brief_link).await.unwrap_err();
    assert!(
        err.to_string().contains("could not download"),
        "an expired share was served: {err}"
    );
    let listed = a.node.find_share(&brief.id).unwrap();
    assert_eq!(a.node.share_out(&listed).unwrap().status, "expired");
    a.node.sweep_shares().await.unwrap();
    assert_eq!(a.node.find_share(&brief.id).unwrap().state, "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_recipient_gets_the_share_when_back() {
    let (relay, peers) = network(2, true).await;
    vivim_tests::introduce(&peers);
    let (a, b) = (&peers[0], &peers[1]);
    let conv = conversation(&a.node, "Later", "meet at PELICAN-2231").await;
    b.p2p.shutdown().await;
    let share = a
        .node
        .share(spec(&conv, Target::Users(vec![b.node.key.did()]), None))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mine = a.node.find_share(&share.id).unwrap();
    assert_eq!(
        a.node.share_out(&mine).unwrap().delivered,
        1,
        "only A herself"
    );

    // B comes back: A offers the share again and B opens it.
    let mut cfg = P2pConfig::loopback();
    cfg.net.bootstrap = relay.p2p.bootstrap_addrs().await;
    let _back = P2p::start(b.node.clone(), cfg).await.unwrap();
    wait_opened("B gets the share it missed", &b.node, &share.id).await;
    assert!(holds_text(&b.node, &conv, "PELICAN-2231").await);
    eventually("A records the delivery", || {
        let row = a.node.find_share(&share.id).ok()?;
        (a.node.share_out(&row).ok()?.delivered == 2).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_messages_and_publications_of_people_i_follow() {
    let (_relay, peers) = network(2, true).await;
    vivim_tests::introduce(&peers);
    let (a, b) = (&peers[0], &peers[1]);
    let conv = conversation(&a.node, "Open notes", "nothing secret: KITE-1").await;

    // A draft is sealed but not delivered until activated.
    let mut s = spec(&conv, Target::Users(vec![b.node.key.did()]), None);
    s.draft = true;
    let draft = a.node.share(s).await.unwrap();
    assert_eq!(draft.status, "draft");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(b.node.shares().unwrap().is_empty(), "a draft was delivered");
    let active = a.node.share_activate(&draft.id).unwrap();
    assert_eq!(active.status, "active");
    assert!(
        a.node.share_activate(&draft.id).is_err(),
        "not a draft any more"
    );
    wait_opened("B opens the activated share", &b.node, &draft.id).await;

    // One message (an ACU) can be shared on its own.
    let acus = a.node.store.acus(&conv).await.unwrap();
    let one = a
        .node
        .share(ShareSpec {
            content: acus[1].id().to_string(),
            target: Target::Link,
            expires_in_ms: None,
            kind: IntentKind::Share,
            draft: false,
        })
        .await
        .unwrap();
    assert_eq!(one.content_type, "acu");
    let conv2 = conversation(&a.node, "Private", "only one line: MOTH-3").await;
    let acu2 = a.node.store.acus(&conv2).await.unwrap()[1].clone();
    let single = a
        .node
        .share(ShareSpec {
            content: acu2.id().to_string(),
            target: Target::Link,
            expires_in_ms: None,
            kind: IntentKind::Share,
            draft: false,
        })
        .await
        .unwrap();
    let opened = b
        .p2p
        .open_link(&single.link.as_deref().unwrap().parse().unwrap())
        .await
        .unwrap();
    assert_eq!(opened.acus, 1);
    let got = b.node.store.acus(&conv2).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id(), acu2.id());

    // B follows A; what A publishes reaches B's feed.
    b.node.follow(&a.node.key.did()).unwrap();
    let mut published = 0;
    let item = loop {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        if let Some(i) = b
            .node
            .feed(None, 50)
            .unwrap()
            .items
            .into_iter()
            .find(|i| i.kind == "published")
        {
            break i;
        }
        assert!(published < 15, "no publication reached the follower");
        if published % 3 == 0 {
            a.node
                .share(spec(&conv, Target::Public, None))
                .await
                .unwrap();
        }
        published += 1;
    };
    assert_eq!(item.actor, a.node.key.did().to_string());
    assert_eq!(item.title.as_deref(), Some("Open notes"));
    assert_eq!(item.conversation, Some(conv.to_string()));
    let public = a
        .node
        .shares()
        .unwrap()
        .into_iter()
        .find(|x| x.audience == "public")
        .unwrap();
    assert_eq!(public.intent, "publish");
    assert!(public.recipients.is_empty());

    // After unfollowing, A's publications no longer reach B's feed.
    b.node.unfollow(&a.node.key.did()).unwrap();
    let before = b.node.feed(None, 100).unwrap().items.len();
    a.node
        .share(spec(&conv, Target::Public, None))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(b.node.feed(None, 100).unwrap().items.len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intent_too_large_for_a_request_is_fetched_as_a_blob() {
    let (_relay, peers) = network(2, true).await;
    vivim_tests::introduce(&peers);
    let (a, b) = (&peers[0], &peers[1]);
    let conv = conversation(&a.node, "Big audience", "for many eyes: WREN-77").await;
    // 400 more recipients make the signed intent ~130 KB, over the 64 KiB request limit.
    let mut to: Vec<vivim_identity::Did> = (0..400u32)
        .map(|i| {
            let mut seed = [9u8; 32];
            seed[..4].copy_from_slice(&i.to_be_bytes());
            vivim_identity::Keypair::from_seed(&seed).did()
        })
        .collect();
    to.push(b.node.key.did());
    let share = a
        .node
        .share(spec(&conv, Target::Users(to), None))
        .await
        .unwrap();
    assert_eq!(share.recipients.len(), 402);
    let row = a.node.find_share(&share.id).unwrap();
    assert!(row.intent.len() > 64 * 1024, "{} bytes", row.intent.len());
    wait_opened(
        "B fetches the large intent and opens the share",
        &b.node,
        &share.id,
    )
    .await;
    assert!(holds_text(&b.node, &conv, "WREN-77").await);
}
