//! The peer-to-peer flow as separate `vivim` processes on 127.0.0.1, as a newcomer runs it:
//! a relay node, two users who bootstrap through it, publish → resolve → fetch by DID, and a
//! fetch from the relay's pin once the author has gone offline.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    path::PathBuf,
    process::Output,
    time::{Duration, Instant},
};

use common::{eventually, get, json, ok, start, vivim};

fn retry(what: &str, f: impl FnMut() -> Option<Output>) -> Output {
    eventually(what, f)
}

#[test]
fn relay_publish_resolve_fetch_and_pin_between_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |n: &str| -> PathBuf { tmp.path().join(n) };
    for n in ["relay", "alice", "carol", "bob"] {
        ok(&vivim(&d(n), &["init"]));
    }
    let (_relay, relay_gw) = start(&d("relay"), "relay", None);
    let net = get(&relay_gw, &d("relay"), "/api/admin/network");
    let boot = net["bootstrap_addrs"][0].as_str().unwrap().to_string();
    assert!(
        net["iroh"]["relay_server"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "{net}"
    );
    assert!(
        boot.starts_with("/ip4/127.0.0.1/tcp/") && boot.contains("/p2p/12D3KooW"),
        "{boot}"
    );

    let (alice, _) = start(&d("alice"), "up", Some(&boot));
    let (_carol, _) = start(&d("carol"), "up", Some(&boot));
    let (_bob, _) = start(&d("bob"), "up", Some(&boot));

    // Alice imports and publishes.
    let export = tmp.path().join("conversations.json");
    vivim_node::testdata::write_chatgpt_export(
        std::fs::File::create(&export).unwrap(),
        1,
        8,
        20,
        5,
    )
    .unwrap();
    ok(&vivim(&d("alice"), &["import", export.to_str().unwrap()]));
    let list = json(&vivim(&d("alice"), &["conversations", "list", "--json"]));
    let id = list[0]["id"].as_str().unwrap().to_string();
    let alice_did = json(&vivim(&d("alice"), &["id", "--json"]))["did"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::sleep(Duration::from_millis(800)); // gossip subscriptions settle
    let published = json(&vivim(&d("alice"), &["publish", &id[..10], "--json"]));
    assert_eq!(published["conversation"], id.as_str());

    // Carol finds Alice by her DID alone, and fetches.
    let found = retry("carol resolves alice", || {
        let o = vivim(
            &d("carol"),
            &["did", "resolve", &alice_did, "--network", "--json"],
        );
        o.status.success().then_some(o)
    });
    let rec = json(&found);
    assert!(!rec["iroh_addrs"].as_array().unwrap().is_empty(), "{rec}");
    let fetched = retry("carol fetches", || {
        let o = vivim(&d("carol"), &["fetch", &id, "--from", &alice_did, "--json"]);
        o.status.success().then_some(o)
    });
    let f = json(&fetched);
    assert_eq!(f["acus"], 8);
    assert_eq!(f["owner"], alice_did.as_str());
    let carol_list = json(&vivim(&d("carol"), &["conversations", "list", "--json"]));
    assert_eq!(carol_list[0]["id"], id.as_str());
    assert_eq!(carol_list[0]["owner"], alice_did.as_str());
    let peers = json(&vivim(&d("carol"), &["peers", "--json"]));
    assert!(!peers.as_array().unwrap().is_empty());

    // The relay pinned it; Alice leaves; Bob still gets it, from the relay.
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&relay_gw, &d("relay"), "/api/admin/network")["pinned"]
        .as_u64()
        .unwrap_or(0)
        == 0
    {
        assert!(Instant::now() < deadline, "the relay did not pin");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(alice);
    let from_pin = retry("bob fetches from the pin", || {
        let o = vivim(&d("bob"), &["fetch", &id, "--json"]);
        o.status.success().then_some(o)
    });
    let b = json(&from_pin);
    assert_eq!(b["owner"], alice_did.as_str());
    let relay_did = json(&vivim(&d("relay"), &["id", "--json"]))["did"].clone();
    assert_eq!(b["source"], relay_did);

    // Without a running node, network commands say what to do.
    let lonely = d("lonely");
    ok(&vivim(&lonely, &["init"]));
    let o = vivim(&lonely, &["fetch", &id]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("vivim up"));
}
