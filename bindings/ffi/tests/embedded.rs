//! The foreign-language surface from Rust: what Python, Kotlin and Swift call, on a real data
//! dir (the Python suite in bindings/python/tests drives the same calls through uniffi).

#![allow(clippy::unwrap_used)]

use vivim_ffi::{OpenOptions, VivimError, open_node};

fn options(create: bool) -> OpenOptions {
    OpenOptions {
        create,
        passphrase: None,
        network: false,
        listen: Vec::new(),
        bootstrap: Vec::new(),
        iroh_bind: None,
        mdns: false,
        organize: false,
    }
}

fn fixture() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../node/tests/fixtures/import/chatgpt_small.json"
    )
    .to_string()
}

#[test]
fn open_import_read_search_and_events() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("v").display().to_string();
    let node = open_node(path.clone(), options(true)).unwrap();
    assert!(node.did().unwrap().starts_with("did:key:z6Mk"));
    assert!(!node.is_remote().unwrap());
    let events = node.events().unwrap();
    let s = node.import_path(fixture(), None).unwrap();
    assert_eq!(s.format, "chatgpt");
    assert!(s.conversations > 0);

    let first = events.next_timeout(5000).unwrap();
    assert_eq!(first.kind, "conversation_imported");
    assert!(first.id.is_some());
    let mut last = first;
    while let Some(e) = events.next_timeout(0) {
        last = e;
    }
    assert_eq!(last.kind, "import_finished");
    assert!(last.json.contains("\"messages\""));

    let convs = node.conversations(100).unwrap();
    assert_eq!(convs.len() as u64, s.conversations);
    let d = node.conversation(convs[0].id[..10].to_string()).unwrap();
    assert_eq!(d.conversation.id, convs[0].id);
    assert_eq!(
        d.messages
            .iter()
            .filter(|m| m.author == node.did().unwrap())
            .count(),
        d.messages.len()
    );
    let word = d
        .messages
        .iter()
        .filter_map(|m| m.text.as_deref())
        .flat_map(str::split_whitespace)
        .find(|w| w.len() > 5 && w.chars().all(char::is_alphabetic))
        .unwrap()
        .to_string();
    let hits = node.search(word.clone(), None, 5).unwrap();
    assert!(!hits.is_empty(), "no hit for {word}");

    assert!(matches!(
        node.conversation("ffffffffff".into()),
        Err(VivimError::NotFound(_))
    ));
    assert!(matches!(
        node.import_path("/no/such/file".into(), None),
        Err(VivimError::NotFound(_))
    ));
    assert!(matches!(
        node.import_path(fixture(), Some("nope".into())),
        Err(VivimError::Invalid(_))
    ));
    // The dir is held by this process: a second open is refused, not blocked.
    assert!(matches!(
        open_node(path.clone(), options(false)),
        Err(VivimError::Locked(_))
    ));
    node.close().unwrap();
    node.close().unwrap();
    assert!(matches!(node.conversations(1), Err(VivimError::Closed(_))));
    // Everything was flushed: reopened, the same conversations.
    let again = open_node(path, options(false)).unwrap();
    assert_eq!(again.conversations(100).unwrap().len(), convs.len());
    again.close().unwrap();
}

#[test]
fn a_dir_without_identity_is_not_initialized() {
    let tmp = tempfile::tempdir().unwrap();
    let r = open_node(
        tmp.path().join("empty").display().to_string(),
        options(false),
    );
    assert!(matches!(r, Err(VivimError::NotInitialized(_))));
}
