//! Rules of the local node that cut across store, import and gateway: the schema guard,
//! re-imports never dropping captured messages, rate limiting, and JSON for every error.
#![allow(clippy::unwrap_used)]

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use tower::ServiceExt;
use vivim_node::{
    datadir::DataDir,
    gateway,
    import::Format,
    node::{Capture, Node, NodeError},
    store::{SCHEMA_VERSION, StoreError},
    testdata::write_chatgpt_export,
};

fn capture(conversation: Option<String>, source_id: Option<&str>, text: &str) -> Capture {
    Capture {
        conversation,
        provider: source_id.map(|_| "chatgpt".to_string()),
        source_id: source_id.map(str::to_string),
        title: None,
        parent: None,
        role: "user".into(),
        kind: None,
        lang: None,
        text: text.into(),
        created_at_ms: Some(1_700_000_000_000),
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::at(tmp.path());
    let node = Node::open(dir.clone(), None, true).await.unwrap();
    node.shutdown().await.unwrap();
    drop(node);
    let db_file = dir.db_path().join("vivim.redb");
    {
        let db = redb::Database::create(&db_file).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut meta = tx
                .open_table(redb::TableDefinition::<&str, u32>::new("meta"))
                .unwrap();
            meta.insert("schema", SCHEMA_VERSION + 1).unwrap();
        }
        tx.commit().unwrap();
    }
    let err = Node::open(dir.clone(), None, false).await.unwrap_err();
    assert!(
        matches!(err, NodeError::Store(StoreError::NewerSchema { found }) if found == SCHEMA_VERSION + 1),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade VIVIM"), "{err}");
    // The newer data dir still says what it said.
    let db = redb::Database::create(&db_file).unwrap();
    let tx = redb::ReadableDatabase::begin_read(&db).unwrap();
    let meta = tx
        .open_table(redb::TableDefinition::<&str, u32>::new("meta"))
        .unwrap();
    assert_eq!(
        redb::ReadableTable::get(&meta, "schema")
            .unwrap()
            .unwrap()
            .value(),
        SCHEMA_VERSION + 1
    );
}

#[tokio::test]
async fn reimport_keeps_messages_captured_into_the_conversation() {
    let tmp = tempfile::tempdir().unwrap();
    let export = tmp.path().join("conversations.json");
    write_chatgpt_export(std::fs::File::create(&export).unwrap(), 2, 4, 10, 3).unwrap();
    let node = Node::open(DataDir::at(tmp.path().join("n")), None, true)
        .await
        .unwrap();
    let first = node.import_path(&export, Format::Auto, None).await.unwrap();
    assert_eq!(first.conversations, 2);

    // A browser extension captures a follow-up into the first conversation (same provider id).
    let (acu, conv) = node
        .capture(capture(
            None,
            Some("conv-3-00000000"),
            "a follow-up only VIVIM saw",
        ))
        .await
        .unwrap();
    let (row, acus) = node.conversation(&conv).await.unwrap().unwrap();
    assert_eq!(acus.len(), 5);
    assert_eq!(row.manifest.head, Some(acu));

    // Importing the same export again must not lose it.
    let again = node.import_path(&export, Format::Auto, None).await.unwrap();
    assert_eq!(again.conversations, 0, "{again:?}");
    let (_, acus) = node.conversation(&conv).await.unwrap().unwrap();
    assert!(
        acus.iter().any(|a| a.id() == acu),
        "captured message was dropped"
    );
    assert_eq!(acus.len(), 5);
    // It is still found by search, and a third import changes nothing.
    let mut q = vivim_node::search::Query::new("follow-up only");
    q.limit = 5;
    let (hits, _) = node.search(&q).unwrap();
    assert!(hits.iter().any(|h| h.acu_id == acu));
    let third = node.import_path(&export, Format::Auto, None).await.unwrap();
    assert_eq!(
        (third.conversations, third.updated, third.duplicates),
        (0, 0, 2)
    );
}

#[tokio::test]
async fn rate_limit_answers_429_in_json_and_405_is_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::at(tmp.path());
    dir.init(None, vivim_identity::KdfParams::default())
        .unwrap();
    std::fs::write(dir.config_path(), "[gateway]\nrate_limit_per_sec = 5\n").unwrap();
    let node = Node::open(dir.clone(), None, false).await.unwrap();
    let token = dir.token().unwrap();
    let app = gateway::router(node, token.clone());
    let get = |uri: &str, method: Method| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    // Requests without the token are limited per client (20, then 429) and spend nothing of the
    // configured bucket, which only counts requests that passed the token check.
    let mut unauthed = Vec::new();
    for _ in 0..25 {
        let r = app
            .clone()
            .oneshot(
                Request::get("/api/v1/identity")
                    .header(header::AUTHORIZATION, "Bearer guess")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        unauthed.push(r.status().as_u16());
    }
    assert_eq!(&unauthed[..20], &[401; 20], "{unauthed:?}");
    assert!(unauthed[20..].iter().all(|s| *s == 429), "{unauthed:?}");
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let r = app
            .clone()
            .oneshot(get("/api/v1/identity", Method::GET))
            .await
            .unwrap();
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().contains_key(header::RETRY_AFTER));
            let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["error"]["code"], "rate_limited");
        }
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert!(
        (5..=7).contains(&ok),
        "{ok} requests passed a 5/s bucket: {statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS));

    // 405 carries the JSON error body too (a fresh, unlimited router).
    std::fs::write(dir.config_path(), "").unwrap();
    let tmp2 = tempfile::tempdir().unwrap();
    let node2 = Node::open(DataDir::at(tmp2.path()), None, true)
        .await
        .unwrap();
    let t2 = node2.dir.token().unwrap();
    let app2 = gateway::router(node2, t2.clone());
    let r = app2
        .oneshot(
            Request::builder()
                .method(Method::PUT)
                .uri("/api/v1/identity")
                .header(header::AUTHORIZATION, format!("Bearer {t2}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn a_conversation_cannot_be_replaced_by_another_owner() {
    use vivim_identity::Keypair;
    use vivim_node::{import::ImportedConversation, import::ingest, store::NewConversation};
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::open(DataDir::at(tmp.path()), None, true)
        .await
        .unwrap();
    let export = tmp.path().join("c.json");
    write_chatgpt_export(std::fs::File::create(&export).unwrap(), 1, 3, 5, 1).unwrap();
    node.import_path(&export, Format::Auto, None).await.unwrap();
    let row = node.store.list(None, 1).unwrap().rows.remove(0);

    // Mallory builds a conversation under the same id, signed by her.
    let mallory = Keypair::from_seed(&[66; 32]);
    let conv = ImportedConversation {
        provider: "chatgpt".into(),
        source_id: "whatever".into(),
        title: "hijack".into(),
        source_url: None,
        created_at_ms: 1,
        updated_at_ms: u64::MAX / 2,
        model: None,
        messages: Vec::new(),
        head: None,
    };
    let (built, _) = ingest::build(&conv, &mallory).unwrap();
    let mut m = built.manifest.value().clone();
    m.id = row.manifest.id;
    m.sig = None;
    let forged = NewConversation {
        manifest: vivim_protocol::Signed::sign(m, &mallory).unwrap(),
        acus: Vec::new(),
    };
    let err = node.store.put_conversation(&forged).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert_eq!(node.store.row(&row.manifest.id).unwrap().unwrap(), row);
}

#[tokio::test]
async fn network_routes_say_when_the_network_is_off_and_refuse_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::open(DataDir::at(tmp.path()), None, true)
        .await
        .unwrap();
    let token = node.dir.token().unwrap();
    let app = gateway::router(node, token.clone());
    let call = |method: Method, uri: &str, body: &str| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let cases = [
        (
            Method::GET,
            "/api/admin/peers",
            "",
            StatusCode::SERVICE_UNAVAILABLE,
            "network_off",
        ),
        (
            Method::GET,
            "/api/admin/network",
            "",
            StatusCode::SERVICE_UNAVAILABLE,
            "network_off",
        ),
        (
            Method::GET,
            "/api/v1/dids/did:web:example.com",
            "",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::GET,
            "/api/v1/dids/not-a-did",
            "",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::POST,
            "/api/v1/fetch",
            r#"{"conversation":"abc"}"#,
            StatusCode::SERVICE_UNAVAILABLE,
            "network_off",
        ),
        (
            Method::POST,
            "/api/v1/fetch",
            "{not json",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ];
    for (method, uri, body, status, code) in cases {
        let r = app.clone().oneshot(call(method, uri, body)).await.unwrap();
        assert_eq!(r.status(), status, "{uri}");
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["error"]["code"], code, "{uri}: {v}");
    }
}

#[tokio::test]
async fn large_acus_are_stored_in_pieces_and_read_back_whole() {
    use vivim_identity::Keypair;
    use vivim_node::{
        import::ingest,
        store::{PIECE_FROM, PutOutcome, Store},
    };
    use vivim_protocol::limits::MAX_ACU_BYTES;
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("db/x.redb"), &tmp.path().join("blobs"))
        .await
        .unwrap();
    let key = Keypair::from_seed(&[5; 32]);
    // Text sizes around the piece sizes: small, at and over the threshold, around 256 KiB and
    // 512 KiB pages, and close to the largest ACU.
    let sizes = [
        10,
        PIECE_FROM - 200,
        PIECE_FROM + 1,
        262_144 - 300,
        262_144,
        524_288 - 250,
        524_288 + 200,
        MAX_ACU_BYTES - 1_000,
    ];
    let texts = |sizes: &[usize], tag: usize| -> Vec<String> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                (0..n)
                    .map(|j| char::from(b'a' + ((j * 7 + i + tag) % 26) as u8))
                    .collect()
            })
            .collect()
    };
    let (new, _) = ingest::build(&chain("pieces", texts(&sizes, 0)), &key).unwrap();
    let id = new.manifest.value().id;
    assert!(new.acus.iter().any(|a| a.bytes().len() > 524_288));
    assert_eq!(
        store.put_conversation(&new).await.unwrap(),
        PutOutcome::Added
    );
    // Every ACU reads back whole and verified, by conversation and one by one.
    let back = store.acus(&id).await.unwrap();
    assert_eq!(back, new.acus);
    for a in &new.acus {
        assert_eq!(store.raw(&a.id()).unwrap().unwrap(), a.bytes());
        assert_eq!(store.acu(&a.id()).await.unwrap().as_ref(), Some(a));
    }
    assert_eq!(store.acu_count(), sizes.len());
    // Pieces fill their pages: 24 more of these ACUs (a page just over 512 KiB each, which
    // whole would take a 1 MiB page) do not make the file grow by twice their size.
    let before = std::fs::metadata(tmp.path().join("db/x.redb"))
        .unwrap()
        .len() as usize;
    let mut more = 0;
    for k in 0..3 {
        let c = chain(&format!("more-{k}"), texts(&[524_288 + 200; 8], k + 1));
        let (n, _) = ingest::build(&c, &key).unwrap();
        more += n.acus.iter().map(|a| a.bytes().len()).sum::<usize>();
        store.put_conversation(&n).await.unwrap();
    }
    let grew = std::fs::metadata(tmp.path().join("db/x.redb"))
        .unwrap()
        .len() as usize
        - before;
    // (Measured: 1.26x in pieces, 2.26x whole.)
    assert!(grew < more * 3 / 2, "{grew} more bytes on disk for {more}");
    // A new version that lacks the large ACUs keeps them (in pieces) after its own.
    let mut fewer = chain("pieces", texts(&sizes[..2], 0));
    fewer.updated_at_ms = 3;
    let (v2, _) = ingest::build(&fewer, &key).unwrap();
    assert_eq!(
        store.put_conversation(&v2).await.unwrap(),
        PutOutcome::Updated
    );
    let ids: Vec<_> = store
        .acus(&id)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id())
        .collect();
    let want: Vec<_> = new.acus.iter().map(|a| a.id()).collect();
    assert_eq!(ids.len(), want.len());
    for w in &want {
        assert!(ids.contains(w));
    }
    // Deleting removes every piece and index entry.
    assert!(store.delete(&id).await.unwrap());
    assert_eq!(store.acu_count(), 24);
    assert!(store.raw(&new.acus[7].id()).unwrap().is_none());
    assert!(store.acu_bytes(&id).unwrap().is_empty());
}

#[tokio::test]
async fn a_streamed_conversation_is_invisible_until_finished_and_exclusive_meanwhile() {
    use vivim_identity::Keypair;
    use vivim_node::{
        import::ingest,
        store::{AcuBytes, PutOutcome, Store, StoreError},
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("db/x.redb"), &tmp.path().join("blobs"))
        .await
        .unwrap();
    let key = Keypair::from_seed(&[6; 32]);
    // 12 messages of 500 KB: more than one write batch.
    let conv = chain("streamed", (0..12).map(|i| format!("{i}-").repeat(166_000)));
    let (new, _) = ingest::build(&conv, &key).unwrap();
    let id = new.manifest.value().id;
    let parts = || new.acus.iter().cloned().map(|a| AcuBytes::split(a).1);

    // Abandoned half way: nothing stays, and the conversation can be written again.
    let mut w = store.stream_new(id).unwrap().unwrap();
    for p in parts().take(10) {
        w.push(p).unwrap();
    }
    // Meanwhile: no second writer, no other write of it, nothing visible.
    assert!(store.stream_new(id).unwrap().is_none());
    let err = store.put_conversation(&new).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("being fetched")),
        "{err}"
    );
    assert!(store.row(&id).unwrap().is_none());
    assert!(store.raw(&new.acus[0].id()).unwrap().is_none());
    assert_eq!(store.acu_count(), 0);
    drop(w);
    assert!(store.acu_bytes(&id).unwrap().is_empty());

    // Finished: whole, verified, listed, counted — the same as storing it at once.
    let mut w = store.stream_new(id).unwrap().unwrap();
    for p in parts() {
        w.push(p).unwrap();
    }
    assert_eq!(w.finish(&new.manifest).unwrap(), PutOutcome::Added);
    assert_eq!(store.acus(&id).await.unwrap(), new.acus);
    assert_eq!(store.acu_count(), 12);
    assert_eq!(store.list(None, 10).unwrap().rows.len(), 1);
    let row = store.row(&id).unwrap().unwrap();
    assert_eq!(row.acu_count, 12);
    for a in &new.acus {
        assert_eq!(store.raw(&a.id()).unwrap().unwrap(), a.bytes());
    }
    // Storing the same again is a no-op, and a known conversation gets no stream writer.
    assert_eq!(
        store.put_conversation(&new).await.unwrap(),
        PutOutcome::Unchanged
    );
    assert!(store.stream_new(id).unwrap().is_none());

    // A writer refuses another conversation's manifest (and leaves nothing).
    let (other, _) = ingest::build(
        &vivim_node::import::ImportedConversation {
            source_id: "other".into(),
            ..conv.clone()
        },
        &key,
    )
    .unwrap();
    let oid = other.manifest.value().id;
    let mut w = store.stream_new(oid).unwrap().unwrap();
    for a in other.acus.iter().cloned() {
        w.push(AcuBytes::split(a).1).unwrap();
    }
    assert!(w.finish(&new.manifest).is_err());
    assert!(store.acu_bytes(&oid).unwrap().is_empty());
    assert_eq!(store.acu_count(), 12);
}

#[tokio::test]
async fn a_schema_1_store_with_whole_large_acus_opens_and_reads_the_same() {
    use redb::{ReadableDatabase, ReadableTable};
    use vivim_identity::Keypair;
    use vivim_node::{import::ingest, store::Store};
    let tmp = tempfile::tempdir().unwrap();
    let db_file = tmp.path().join("db/x.redb");
    let key = Keypair::from_seed(&[8; 32]);
    let conv = chain("old", [300_000, 20, 600_000].map(|n| "x".repeat(n)));
    let (new, _) = ingest::build(&conv, &key).unwrap();
    let id = new.manifest.value().id;
    {
        let store = Store::open(&db_file, &tmp.path().join("blobs"))
            .await
            .unwrap();
        store.put_conversation(&new).await.unwrap();
        store.shutdown().await.unwrap();
    }
    // Rewrite it as schema 1 did: every ACU whole under its slot key, no pieces.
    {
        let db = redb::Database::create(&db_file).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let def = redb::TableDefinition::<&[u8], &[u8]>::new("conv_acus");
            let mut t = tx.open_table(def).unwrap();
            let mut whole: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            let mut pieces = Vec::new();
            for item in t.iter().unwrap() {
                let (k, v) = item.unwrap();
                if k.value().len() == 36 {
                    whole.push((k.value().to_vec(), v.value().to_vec()));
                } else {
                    whole.last_mut().unwrap().1.extend_from_slice(v.value());
                    pieces.push(k.value().to_vec());
                }
            }
            assert!(!pieces.is_empty(), "the large ACUs were stored in pieces");
            for k in pieces {
                t.remove(k.as_slice()).unwrap();
            }
            for (k, v) in whole {
                t.insert(k.as_slice(), v.as_slice()).unwrap();
            }
            tx.open_table(redb::TableDefinition::<&str, u32>::new("meta"))
                .unwrap()
                .insert("schema", 1)
                .unwrap();
        }
        tx.commit().unwrap();
    }
    let store = Store::open(&db_file, &tmp.path().join("blobs"))
        .await
        .unwrap();
    assert_eq!(store.acus(&id).await.unwrap(), new.acus);
    for a in &new.acus {
        assert_eq!(store.raw(&a.id()).unwrap().unwrap(), a.bytes());
    }
    assert!(store.delete(&id).await.unwrap());
    assert_eq!(store.acu_count(), 0);
    store.shutdown().await.unwrap();
    drop(store);
    let db = redb::Database::create(&db_file).unwrap();
    let tx = db.begin_read().unwrap();
    let meta = tx
        .open_table(redb::TableDefinition::<&str, u32>::new("meta"))
        .unwrap();
    assert_eq!(meta.get("schema").unwrap().unwrap().value(), SCHEMA_VERSION);
}

#[tokio::test]
async fn slots_of_a_fetch_that_never_finished_are_removed_at_the_next_open() {
    use redb::{ReadableDatabase, ReadableTableMetadata};
    use vivim_identity::Keypair;
    use vivim_node::{import::ingest, store::Store, testdata::Rng};
    use vivim_protocol::ConvId;
    let tmp = tempfile::tempdir().unwrap();
    let db_file = tmp.path().join("db/x.redb");
    let blobs = tmp.path().join("blobs");
    let key = Keypair::from_seed(&[9; 32]);
    // A stored conversation that must survive the sweep.
    let kept = ingest::build(&chain("kept", [Rng::new(4).words(40)]), &key)
        .unwrap()
        .0;
    let kept_id = kept.manifest.value().id;
    {
        let store = Store::open(&db_file, &blobs).await.unwrap();
        store.put_conversation(&kept).await.unwrap();
        store.shutdown().await.unwrap();
    }
    // What a crash leaves when a stream writer's batches became durable: its mark and slots
    // (one ACU in two pieces), no row, no locations.
    let lost = ConvId::random();
    {
        let db = redb::Database::create(&db_file).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let bytes = redb::TableDefinition::<&[u8], &[u8]>::new("conv_acus");
            let mut t = tx.open_table(bytes).unwrap();
            let mut slot = lost.0.0.to_vec();
            slot.extend_from_slice(&0u32.to_be_bytes());
            t.insert(slot.as_slice(), &[1u8; 100][..]).unwrap();
            slot.push(1);
            t.insert(slot.as_slice(), &[2u8; 100][..]).unwrap();
            tx.open_table(redb::TableDefinition::<&[u8], ()>::new("streaming"))
                .unwrap()
                .insert(&lost.0.0[..], ())
                .unwrap();
        }
        tx.commit().unwrap();
    }
    {
        let store = Store::open(&db_file, &blobs).await.unwrap();
        assert!(store.acu_bytes(&lost).unwrap().is_empty());
        assert_eq!(store.acus(&kept_id).await.unwrap(), kept.acus);
        store.shutdown().await.unwrap();
    }
    let db = redb::Database::create(&db_file).unwrap();
    let tx = db.begin_read().unwrap();
    let marks = tx
        .open_table(redb::TableDefinition::<&[u8], ()>::new("streaming"))
        .unwrap();
    assert_eq!(marks.len().unwrap(), 0);
}

/// A one-branch conversation `source_id` whose messages carry `texts`, parents first.
fn chain(
    source_id: &str,
    texts: impl IntoIterator<Item = String>,
) -> vivim_node::import::ImportedConversation {
    vivim_node::import::ImportedConversation {
        provider: "chatgpt".into(),
        source_id: source_id.into(),
        title: source_id.into(),
        source_url: None,
        created_at_ms: 1,
        updated_at_ms: 2,
        model: None,
        messages: texts
            .into_iter()
            .enumerate()
            .map(|(i, text)| vivim_node::import::ImportedMessage {
                id: format!("m{i}"),
                parent: i.checked_sub(1).map(|p| format!("m{p}")),
                role: vivim_protocol::Role::User,
                kind: vivim_protocol::Kind::Text,
                lang: None,
                text,
                created_at_ms: Some(1_700_000_000_000 + i as u64),
                visible: true,
                meta: Default::default(),
            })
            .collect(),
        head: None,
    }
}

#[tokio::test]
async fn two_versions_planned_against_the_same_stored_one_keep_both_writers_acus() {
    use std::collections::HashSet;
    use vivim_identity::Keypair;
    use vivim_node::{import::ingest, store::Store};
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("db/x.redb"), &tmp.path().join("blobs"))
        .await
        .unwrap();
    let key = Keypair::from_seed(&[3; 32]);
    let base = ingest::build(&chain("both", ["a".to_string()]), &key)
        .unwrap()
        .0;
    store.put_conversation(&base).await.unwrap();
    // Two writers read the same stored version, each adds its own message, the second commits
    // after the first: the second must be planned again, not overwrite the first.
    let mut one = chain("both", ["a".to_string(), "from one".to_string()]);
    one.updated_at_ms = 10;
    let mut two = chain("both", ["a".to_string(), "from two".to_string()]);
    two.updated_at_ms = 20;
    let one = ingest::build(&one, &key).unwrap().0;
    let two = ingest::build(&two, &key).unwrap().0;
    let (_, s1) = store.stage(&one).await.unwrap();
    let (_, s2) = store.stage(&two).await.unwrap();
    store.commit(s1.into_iter().collect()).await.unwrap();
    let outcomes = store.commit(s2.into_iter().collect()).await.unwrap();
    assert_eq!(outcomes, vec![vivim_node::store::PutOutcome::Updated]);
    let id = base.manifest.value().id;
    let stored: HashSet<_> = store.acu_ids(&id).unwrap().into_iter().collect();
    for a in one.acus.iter().chain(&two.acus) {
        assert!(stored.contains(&a.id()), "an ACU of a writer was dropped");
        assert!(store.acu(&a.id()).await.unwrap().is_some());
    }
    assert_eq!(stored.len(), 3);
    let page = store.list(None, 10).unwrap();
    assert_eq!(page.rows.len(), 1, "the conversation is listed once");
    assert_eq!(store.acu_count(), 3);
    // Both in one batch (an export naming a conversation twice) the same way.
    let mut three = chain("both", ["a".to_string(), "from three".to_string()]);
    three.updated_at_ms = 30;
    let mut four = chain("both", ["a".to_string(), "from four".to_string()]);
    four.updated_at_ms = 40;
    let (_, s3) = store
        .stage(&ingest::build(&three, &key).unwrap().0)
        .await
        .unwrap();
    let (_, s4) = store
        .stage(&ingest::build(&four, &key).unwrap().0)
        .await
        .unwrap();
    store
        .commit(s3.into_iter().chain(s4).collect())
        .await
        .unwrap();
    assert_eq!(store.acu_ids(&id).unwrap().len(), 5);
    assert_eq!(store.list(None, 10).unwrap().rows.len(), 1);
    assert_eq!(store.acu_count(), 5);
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_data_dir_with_duplicate_listings_and_lost_acus_is_repaired_at_open() {
    use redb::ReadableDatabase;
    use vivim_identity::Keypair;
    use vivim_node::{import::ingest, store::Store};
    use vivim_protocol::Hash;
    let tmp = tempfile::tempdir().unwrap();
    let db_file = tmp.path().join("db/x.redb");
    let blobs = tmp.path().join("blobs");
    let key = Keypair::from_seed(&[5; 32]);
    let conv = ingest::build(&chain("dup", ["x".to_string(), "y".to_string()]), &key)
        .unwrap()
        .0;
    let id = conv.manifest.value().id;
    {
        let store = Store::open(&db_file, &blobs).await.unwrap();
        store.put_conversation(&conv).await.unwrap();
        store.shutdown().await.unwrap();
    }
    // What the old race left: time entries of replaced versions, and an ACU whose slot another
    // write took (its location and time entry stayed; the slot holds someone else's bytes).
    let ghost = Hash::of(b"an overwritten capture");
    {
        let db = redb::Database::create(&db_file).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut times = tx
                .open_table(redb::TableDefinition::<&[u8], ()>::new("conv_time"))
                .unwrap();
            for at in [1u64, 7, 9] {
                let mut k = at.to_be_bytes().to_vec();
                k.extend_from_slice(&id.0.0);
                times.insert(k.as_slice(), ()).unwrap();
            }
            let mut slot = id.0.0.to_vec();
            slot.extend_from_slice(&1u32.to_be_bytes());
            tx.open_table(redb::TableDefinition::<&[u8], &[u8]>::new("acu_loc"))
                .unwrap()
                .insert(&ghost.0[..], slot.as_slice())
                .unwrap();
            let mut k = 5u64.to_be_bytes().to_vec();
            k.extend_from_slice(&ghost.0);
            tx.open_table(redb::TableDefinition::<&[u8], &[u8]>::new("acu_time"))
                .unwrap()
                .insert(k.as_slice(), &id.0.0[..])
                .unwrap();
            tx.open_table(redb::TableDefinition::<&str, u32>::new("meta"))
                .unwrap()
                .insert("repair", 0)
                .unwrap();
        }
        tx.commit().unwrap();
    }
    {
        let store = Store::open(&db_file, &blobs).await.unwrap();
        assert_eq!(store.list(None, 10).unwrap().rows.len(), 1);
        assert_eq!(store.acu_count(), 2);
        assert!(store.raw(&ghost).unwrap().is_none());
        assert_eq!(store.acus(&id).await.unwrap(), conv.acus);
        store.shutdown().await.unwrap();
    }
    let db = redb::Database::create(&db_file).unwrap();
    let tx = db.begin_read().unwrap();
    let loc = tx
        .open_table(redb::TableDefinition::<&[u8], &[u8]>::new("acu_loc"))
        .unwrap();
    assert!(loc.get(&ghost.0[..]).unwrap().is_none());
    let meta = tx
        .open_table(redb::TableDefinition::<&str, u32>::new("meta"))
        .unwrap();
    assert_eq!(meta.get("repair").unwrap().unwrap().value(), 1);
}
