//! Sharing as separate `vivim` processes on 127.0.0.1: Alice shares with Bob by DID and with
//! her circle, Bob reads it and sees it in his feed, forks it and checks its provenance; Dan,
//! a stranger, opens Alice's link; Alice revokes and Bob's feed says so.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::{bootstrap_of, did_of, eventually, json, ok, start, vivim};

#[test]
fn share_open_fork_feed_and_revoke_between_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |n: &str| -> PathBuf { tmp.path().join(n) };
    for n in ["relay", "alice", "bob", "dan"] {
        ok(&vivim(&d(n), &["init"]));
    }
    let (_relay, relay_gw) = start(&d("relay"), "relay", None);
    let boot = bootstrap_of(&relay_gw, &d("relay"));
    let (_alice, _) = start(&d("alice"), "up", Some(&boot));
    let (_bob, _) = start(&d("bob"), "up", Some(&boot));
    let (_dan, _) = start(&d("dan"), "up", Some(&boot));
    let bob = did_of(&d("bob"));

    let export = tmp.path().join("conversations.json");
    vivim_node::testdata::write_chatgpt_export(
        std::fs::File::create(&export).unwrap(),
        1,
        6,
        20,
        9,
    )
    .unwrap();
    ok(&vivim(&d("alice"), &["import", export.to_str().unwrap()]));
    let list = json(&vivim(&d("alice"), &["conversations", "list", "--json"]));
    let id = list[0]["id"].as_str().unwrap().to_string();
    let title = list[0]["title"].as_str().unwrap().to_string();

    // Alice → Bob, sealed for him.
    let share = json(&vivim(
        &d("alice"),
        &["share", &id[..12], "--to", &bob, "--json"],
    ));
    let share_id = share["id"].as_str().unwrap().to_string();
    assert_eq!(share["status"], "active");
    assert_eq!(share["recipients"].as_array().unwrap().len(), 2);
    // Bob does not know Alice: her share waits as a message request, nothing downloaded.
    let alice = did_of(&d("alice"));
    let req = eventually("bob gets a request from alice", || {
        let v = json(&vivim(&d("bob"), &["requests", "list", "--json"]));
        v.as_array()?
            .iter()
            .find(|r| r["did"] == alice.as_str())
            .cloned()
    });
    assert_eq!(req["items"][0]["kind"], "share", "{req}");
    assert_eq!(req["items"][0]["id"], share_id.as_str(), "{req}");
    let feed = json(&vivim(&d("bob"), &["feed", "--json"]));
    assert!(
        !feed.to_string().contains(&share_id),
        "a stranger's share reached the feed before acceptance: {feed}"
    );
    let accepted = json(&vivim(&d("bob"), &["requests", "accept", &alice, "--json"]));
    assert_eq!(accepted["decision"], "accepted", "{accepted}");
    assert_eq!(accepted["shares"], 1, "{accepted}");
    let left = json(&vivim(&d("bob"), &["requests", "list", "--json"]));
    assert_eq!(left, serde_json::json!([]));
    let opened = eventually("bob opens alice's share", || {
        let v = json(&vivim(&d("bob"), &["shares", "list", "--json"]));
        v.as_array()?
            .iter()
            .find(|s| s["id"] == share_id.as_str() && s["state"] == "opened")
            .cloned()
    });
    assert_eq!(opened["conversation"], id.as_str());
    let feed = json(&vivim(&d("bob"), &["feed", "--json"]));
    assert_eq!(feed["items"][0]["id"], share_id.as_str());
    assert_eq!(feed["items"][0]["title"], title.as_str());
    let human = ok(&vivim(&d("bob"), &["feed"]));
    assert!(human.contains(&title), "{human}");
    let shown = json(&vivim(&d("bob"), &["conversations", "show", &id, "--json"]));
    assert_eq!(shown["messages"].as_array().unwrap().len(), 6);

    // Bob forks the first three messages; provenance verifies.
    let acus = shown["messages"].as_array().unwrap();
    let third = acus[2]["id"].as_str().unwrap();
    let fork = json(&vivim(
        &d("bob"),
        &["fork", &id, "--upto", &third[..12], "--json"],
    ));
    assert_eq!(fork["acus"], 3);
    let fork_id = fork["conversation"].as_str().unwrap();
    let prov = json(&vivim(&d("bob"), &["provenance", fork_id, "--json"]));
    assert_eq!(prov["verified"], true, "{prov}");
    assert_eq!(prov["forked_from"], id.as_str());
    let human = ok(&vivim(&d("bob"), &["provenance", fork_id]));
    assert!(human.contains("verifies"), "{human}");

    // A link opens on Dan's node, which has no relationship with Alice.
    let link = json(&vivim(
        &d("alice"),
        &["share", &id, "--link", "--expires", "1h", "--json"],
    ));
    let link = link["link"].as_str().unwrap().to_string();
    assert!(link.starts_with("vivim://share/"));
    let got = eventually("dan opens the link", || {
        let o = vivim(&d("dan"), &["open", &link, "--json"]);
        o.status.success().then(|| json(&o))
    });
    assert_eq!(got["conversation"], id.as_str());
    assert_eq!(got["acus"], 6);
    let bad = vivim(&d("dan"), &["open", "vivim://share/nope"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a VIVIM share link"));

    // Alice revokes the share with Bob; Bob's feed shows it.
    let revoked = json(&vivim(
        &d("alice"),
        &["shares", "revoke", &share_id[..10], "--json"],
    ));
    assert_eq!(revoked["status"], "revoked");
    eventually("bob's feed shows the revocation", || {
        let v = json(&vivim(&d("bob"), &["feed", "--json"]));
        (v["items"][0]["status"] == "revoked").then_some(())
    });

    // Asking for two audiences at once is a clear error.
    let o = vivim(&d("alice"), &["share", &id, "--link", "--public"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("exactly one audience"));
}
