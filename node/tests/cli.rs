//! The `vivim` binary as a person runs it: init, id, did resolve, and its error messages.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn vivim(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vivim"))
        .args(args)
        .env("VIVIM_DATA_DIR", dir)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn init_then_id() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = vivim(&dir, &["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let did = stdout(&out).trim().to_string();
    assert!(did.starts_with("did:key:z6Mk"), "{did}");

    let out = vivim(&dir, &["id", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["did"], did.as_str());
    assert!(v["peer_id"].as_str().unwrap().starts_with("12D3KooW"));
    assert_eq!(v["endpoint_id"].as_str().unwrap().len(), 64);

    // The same ids through --data-dir instead of the environment.
    let out = Command::new(env!("CARGO_BIN_EXE_vivim"))
        .args(["--data-dir", dir.to_str().unwrap(), "id", "--json"])
        .env_remove("VIVIM_DATA_DIR")
        .output()
        .unwrap();
    let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["peer_id"], w["peer_id"]);

    // A second init refuses to overwrite the identity.
    let out = vivim(&dir, &["init"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already holds"), "{}", stderr(&out));
}

#[test]
fn id_without_init_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let out = vivim(tmp.path(), &["id"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("vivim init"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn passphrase_protected_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str], pass: &str| {
        Command::new(env!("CARGO_BIN_EXE_vivim"))
            .args(args)
            .env("VIVIM_DATA_DIR", tmp.path())
            .env("PW", pass)
            .output()
            .unwrap()
    };
    let out = run(&["init", "--passphrase-env", "PW"], "s3cret");
    assert!(out.status.success(), "{}", stderr(&out));
    let key = std::fs::read_to_string(tmp.path().join("keys/node.key")).unwrap();
    assert!(key.contains("argon2id"));
    let ok = run(&["id", "--passphrase-env", "PW"], "s3cret");
    assert!(ok.status.success(), "{}", stderr(&ok));
    let bad = run(&["id", "--passphrase-env", "PW"], "wrong");
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("wrong passphrase"),
        "{}",
        stderr(&bad)
    );
    let none = run(&["id"], "");
    assert!(!none.status.success());
    assert!(stderr(&none).contains("passphrase"), "{}", stderr(&none));
}

#[test]
fn mnemonic_restore_gives_the_same_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let out = vivim(&a, &["init", "--show-mnemonic", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let words = v["mnemonic"].as_str().unwrap();
    assert_eq!(words.split(' ').count(), 24);
    let out = Command::new(env!("CARGO_BIN_EXE_vivim"))
        .args(["init", "--mnemonic-env", "WORDS"])
        .env("VIVIM_DATA_DIR", tmp.path().join("b"))
        .env("WORDS", words)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), v["did"].as_str().unwrap());
}

#[test]
fn did_resolve_prints_the_document() {
    let tmp = tempfile::tempdir().unwrap();
    let did = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";
    let out = vivim(tmp.path(), &["did", "resolve", did, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["id"], did);
    assert_eq!(
        doc["keyAgreement"][0],
        format!("{did}#z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW")
    );
}

#[test]
fn did_resolve_rejects_bad_dids_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    for (bad, expect) in [
        ("did:web:example.com", "not supported"),
        ("hello", "not a DID"),
        (
            "did:key:z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW",
            "X25519",
        ),
        ("did:key:zzzz0", "base58"),
    ] {
        let out = vivim(tmp.path(), &["did", "resolve", bad]);
        assert!(!out.status.success(), "{bad} should fail");
        let err = stderr(&out);
        assert!(err.starts_with("error:"), "{err}");
        assert!(err.contains(expect), "{bad}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
