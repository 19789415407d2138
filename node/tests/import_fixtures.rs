//! The importers against small fixtures written for this project (node/tests/fixtures/import/).
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use vivim_node::import::{
    BadConversation, Format, ImportError, ImportedConversation, ImportedMessage, Item, Limits,
    detect, parse_path, parse_reader,
};
use vivim_protocol::{Kind, Role};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/"
    ))
    .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

#[derive(Default)]
struct Out {
    convs: Vec<ImportedConversation>,
    bad: Vec<BadConversation>,
}

fn run_path(path: &Path, format: Format, limits: &Limits) -> (Result<Format, ImportError>, Out) {
    let mut out = Out::default();
    let r = parse_path(path, format, limits, &mut |item| {
        match item {
            Item::Conversation(c) => out.convs.push(c),
            Item::Bad(b) => out.bad.push(b),
        }
        Ok(())
    });
    (r, out)
}

fn run_bytes(bytes: &[u8], format: Format, limits: &Limits) -> (Result<Format, ImportError>, Out) {
    let mut out = Out::default();
    let r = parse_reader(bytes, format, limits, &mut |item| {
        match item {
            Item::Conversation(c) => out.convs.push(c),
            Item::Bad(b) => out.bad.push(b),
        }
        Ok(())
    });
    (r, out)
}

fn ok(name: &str) -> Out {
    let (r, out) = run_path(&fixture(name), Format::Auto, &Limits::default());
    r.unwrap();
    for c in &out.convs {
        assert_parents_first(c);
    }
    out
}

fn assert_parents_first(c: &ImportedConversation) {
    let mut seen = HashSet::new();
    for m in &c.messages {
        if let Some(p) = &m.parent {
            assert!(
                seen.contains(p.as_str()),
                "{}: parent {p} of {} comes later",
                c.source_id,
                m.id
            );
        }
        assert!(seen.insert(m.id.as_str()), "duplicate id {}", m.id);
    }
    if let Some(h) = &c.head {
        assert!(seen.contains(h.as_str()), "head {h} is not a message");
    }
}

fn by_id(c: &ImportedConversation) -> HashMap<&str, &ImportedMessage> {
    c.messages.iter().map(|m| (m.id.as_str(), m)).collect()
}

fn head_texts(c: &ImportedConversation) -> Vec<(Role, Kind, String)> {
    let ids = by_id(c);
    let mut out = Vec::new();
    let mut cur = c.head.as_deref();
    while let Some(id) = cur {
        let m = ids[id];
        out.push((m.role, m.kind, m.text.clone()));
        cur = m.parent.as_deref();
    }
    out.reverse();
    out
}

// ---------------------------------------------------------------------------------------------
// detect

#[test]
fn detect_each_fixture() {
    let cases = [
        ("chatgpt_small.json", Some(Format::ChatGpt)),
        ("chatgpt_truncated.json", Some(Format::ChatGpt)),
        ("claude_small.json", Some(Format::Claude)),
        ("gemini_activity.json", Some(Format::Gemini)),
        ("issue18/gemini_my_activity.html", Some(Format::Gemini)),
        (
            "issue18/chatgpt_single_conversation.json",
            Some(Format::ChatGpt),
        ),
        ("issue18/claude_legacy_shuffled.json", Some(Format::Claude)),
        ("issue18/chatgpt_exporter_v1.md", Some(Format::Markdown)),
        ("sharegpt.json", Some(Format::ShareGpt)),
        ("sharegpt.jsonl", Some(Format::ShareGpt)),
        ("sharegpt_single.json", Some(Format::ShareGpt)),
        ("chatgpt_exporter.md", Some(Format::Markdown)),
        ("chatgpt_exporter_you.md", Some(Format::Markdown)),
        ("llm_log.md", Some(Format::Markdown)),
    ];
    for (name, want) in cases {
        assert_eq!(detect(&read(name)), want, "{name}");
    }
    assert_eq!(detect(b""), None);
    assert_eq!(detect(b"   \n"), None);
    assert_eq!(detect(b"{\"hello\": 1}"), None);
    assert_eq!(detect(b"# Just a README\n\nNothing here."), None);
    assert_eq!(detect(b"<html><body>a blog</body></html>"), None);
    assert_eq!(detect(b"PK\x03\x04rest of a zip"), None);
    assert_eq!(detect(&random_bytes(4096)), None);
}

fn random_bytes(n: usize) -> Vec<u8> {
    // xorshift: deterministic noise
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn unknown_format_is_a_clear_error() {
    let (r, out) = run_bytes(&random_bytes(10_000), Format::Auto, &Limits::default());
    let e = r.unwrap_err();
    assert!(matches!(e, ImportError::UnknownFormat(_)), "{e:?}");
    assert!(e.to_string().contains("pass --format"), "{e}");
    assert!(out.convs.is_empty());

    let (r, _) = run_bytes(b"", Format::Auto, &Limits::default());
    let e = r.unwrap_err();
    assert!(matches!(e, ImportError::UnknownFormat(_)), "{e:?}");
    assert!(e.to_string().contains("empty"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("noise.bin");
    std::fs::write(&p, random_bytes(5000)).unwrap();
    let (r, _) = run_path(&p, Format::Auto, &Limits::default());
    assert!(matches!(r, Err(ImportError::UnknownFormat(_))));
    let p = dir.path().join("empty.json");
    std::fs::write(&p, b"").unwrap();
    let (r, _) = run_path(&p, Format::Auto, &Limits::default());
    assert!(matches!(r, Err(ImportError::UnknownFormat(_))));
}

// ---------------------------------------------------------------------------------------------
// ChatGPT

#[test]
fn chatgpt_branches_hidden_code_images_thinking() {
    let out = ok("chatgpt_small.json");
    assert_eq!(out.convs.len(), 2);
    assert_eq!(out.bad.len(), 1);
    let bad = &out.bad[0];
    assert_eq!(
        (bad.index, bad.id.as_deref(), bad.title.as_deref()),
        (1, Some("conv-broken"), Some("Broken"))
    );
    assert!(bad.error.contains("mapping"), "{}", bad.error);

    let c = &out.convs[0];
    assert_eq!(c.source_id, "conv-branchy");
    assert_eq!(c.title, "Branchy");
    assert_eq!(c.created_at_ms, 1_700_000_000_500);
    assert_eq!(c.updated_at_ms, 1_700_000_900_000);
    assert_eq!(c.model.as_deref(), Some("o3"), "most common model_slug");
    assert_eq!(c.head.as_deref(), Some("a2"));
    assert_eq!(
        c.source_url.as_deref(),
        Some("https://chatgpt.com/c/conv-branchy")
    );
    let m = by_id(c);
    // 9 nodes with messages, u1 splits in two parts; the null-message root and gap are skipped.
    assert_eq!(c.messages.len(), 10);
    assert!(!m.contains_key("root") && !m.contains_key("gap"));

    assert_eq!(m["sys"].role, Role::System);
    assert!(!m["sys"].visible);
    assert_eq!(m["ctx"].kind, Kind::Other);
    assert_eq!(m["ctx"].text, "I like Rust\n\nBe brief");
    assert!(!m["ctx"].visible, "user_editable_context is never visible");
    // The gap node had no message: u1 re-attaches to the nearest ancestor with one.
    assert_eq!(m["u1"].parent.as_deref(), Some("ctx"));
    assert_eq!(m["u1"].kind, Kind::Image);
    assert_eq!(m["u1"].text, "file-service://file-abc");
    assert!(m["u1"].visible);
    assert_eq!(m["u1#2"].parent.as_deref(), Some("u1"));
    assert_eq!(
        (m["u1#2"].kind, m["u1#2"].text.as_str()),
        (Kind::Text, "What is in this picture?\nBe precise.")
    );
    // Both branches hang off the last part of u1.
    assert_eq!(m["a1"].parent.as_deref(), Some("u1#2"));
    assert_eq!(m["a1b"].parent.as_deref(), Some("u1#2"));
    assert_eq!((m["a1b"].kind, m["a1b"].visible), (Kind::Markdown, true));
    assert_eq!(
        (m["a1"].kind, m["a1"].text.as_str()),
        (Kind::Thinking, "Looking\n\nIt is a cat.")
    );
    assert!(!m["a1"].visible);
    assert_eq!(
        (m["t1"].kind, m["t1"].text.as_str(), m["t1"].visible),
        (Kind::Thinking, "Thought for 2s", false)
    );
    assert_eq!(
        (m["c1"].kind, m["c1"].lang.as_deref()),
        (Kind::Code, Some("python"))
    );
    assert_eq!(m["c1"].meta["recipient"], "python");
    assert!(!m["c1"].visible, "addressed to a tool");
    assert_eq!(
        (m["x1"].role, m["x1"].kind, m["x1"].visible),
        (Role::Tool, Kind::ToolResult, false)
    );
    assert_eq!(m["x1"].meta["author_name"], "python");
    assert_eq!(m["a2"].meta["model_slug"], "o3");
    assert_eq!(m["a2"].meta["message_id"], "a2");
    assert_eq!(m["a2"].created_at_ms, Some(1_700_000_030_000));

    let visible_on_head: Vec<String> = head_texts(c)
        .into_iter()
        .zip(head_ids(c))
        .filter(|(_, id)| m[id.as_str()].visible)
        .map(|(t, _)| t.2)
        .collect();
    assert_eq!(
        visible_on_head,
        [
            "file-service://file-abc",
            "What is in this picture?\nBe precise.",
            "It is a **cat**."
        ]
    );

    let old = &out.convs[1];
    assert_eq!(old.source_id, "conv-old", "pre-2024 exports only have id");
    assert_eq!(old.title, "");
    assert_eq!(
        old.head.as_deref(),
        Some("m2"),
        "no current_node: the last leaf"
    );
    let m = by_id(old);
    assert_eq!(
        (m["m2"].kind, m["m2"].text.as_str()),
        (Kind::Quote, "quoted words")
    );
    assert_eq!(m["m2"].meta["url"], "https://example.invalid/");
    assert_eq!(old.model.as_deref(), Some("gpt-4"));
    assert_eq!(
        old.updated_at_ms, 1_680_000_002_000,
        "no update_time: the last message"
    );
}

fn head_ids(c: &ImportedConversation) -> Vec<String> {
    let ids = by_id(c);
    let mut out = Vec::new();
    let mut cur = c.head.as_deref();
    while let Some(id) = cur {
        out.push(id.to_string());
        cur = ids[id].parent.as_deref();
    }
    out.reverse();
    out
}

#[test]
fn chatgpt_reimport_is_identical() {
    let a = ok("chatgpt_small.json");
    let b = ok("chatgpt_small.json");
    assert_eq!(a.convs, b.convs);
}

#[test]
fn truncated_json_is_fatal_but_keeps_what_was_delivered() {
    let (r, out) = run_path(
        &fixture("chatgpt_truncated.json"),
        Format::Auto,
        &Limits::default(),
    );
    assert_eq!(out.convs.len(), 1, "the first conversation was delivered");
    assert_eq!(out.bad.len(), 1, "the bad one too");
    match r.unwrap_err() {
        ImportError::Malformed {
            format,
            location,
            message,
        } => {
            assert_eq!(format, "chatgpt");
            assert!(location.starts_with("line "), "{location}");
            assert!(location.contains(" column "), "{location}");
            assert!(message.contains("EOF"), "{message}");
        }
        e => panic!("expected Malformed, got {e:?}"),
    }
}

#[test]
fn chatgpt_one_object_is_one_conversation_and_broken_json_is_malformed() {
    // One conversation object (not in a list) is read as one conversation (this one is empty).
    let (r, out) = run_bytes(br#"{"mapping": {}}"#, Format::ChatGpt, &Limits::default());
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(out.convs.len() + out.bad.len(), 1);
    let (r, _) = run_bytes(br#"{"mapping": "#, Format::ChatGpt, &Limits::default());
    assert!(matches!(r, Err(ImportError::Malformed { .. })), "{r:?}");
    let (r, _) = run_bytes(b"[{\"mapping\": {}} {", Format::ChatGpt, &Limits::default());
    match r {
        Err(ImportError::Malformed { location, .. }) => assert_eq!(location, "line 1 column 18"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn limits_turn_conversations_bad() {
    let limits = Limits {
        max_message_bytes: 20,
        ..Limits::default()
    };
    let (r, out) = run_path(&fixture("chatgpt_small.json"), Format::Auto, &limits);
    r.unwrap();
    // Branchy has a 36-byte message: bad. conv-old's messages are short: good.
    assert_eq!(out.convs.len(), 1);
    assert_eq!(out.convs[0].source_id, "conv-old");
    assert_eq!(out.bad.len(), 2);
    assert_eq!(out.bad[0].id.as_deref(), Some("conv-branchy"));
    assert!(
        out.bad[0].error.contains("over the limit of 20"),
        "{}",
        out.bad[0].error
    );

    let limits = Limits {
        max_messages: 3,
        ..Limits::default()
    };
    let (_, out) = run_path(&fixture("chatgpt_small.json"), Format::Auto, &limits);
    assert_eq!(out.convs.len(), 1);
    assert!(
        out.bad[0].error.contains("10 messages"),
        "{}",
        out.bad[0].error
    );
}

#[test]
fn file_limits_are_checked_before_and_while_reading() {
    let limits = Limits {
        max_file_bytes: 100,
        ..Limits::default()
    };
    let (r, out) = run_path(&fixture("chatgpt_small.json"), Format::Auto, &limits);
    assert!(
        matches!(r, Err(ImportError::TooLarge { max: 100, .. })),
        "{r:?}"
    );
    assert!(out.convs.is_empty());
    // A stream has no size up front: it stops when the count passes the limit.
    let limits = Limits {
        max_file_bytes: 3000,
        ..Limits::default()
    };
    let (r, _) = run_bytes(&read("chatgpt_small.json"), Format::Auto, &limits);
    match r {
        Err(ImportError::TooLarge { size, max, .. }) => {
            assert_eq!(max, 3000);
            assert!(size > 3000);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

/// One conversation is parsed whole, so its bytes are bounded before it is read: an element
/// over the limit stops the import with the element named, after the ones before it arrived.
#[test]
fn one_json_element_is_bounded_before_it_is_parsed() {
    let small = r#"{"id":"a","title":"small","mapping":{}}"#;
    let big = format!(
        r#"{{"id":"b","title":"big","mapping":{{}},"pad":"{}"}}"#,
        "x".repeat(200_000)
    );
    let limits = Limits {
        max_element_bytes: 64 * 1024,
        ..Limits::default()
    };
    for json in [
        format!("[{small},{big},{small}]"),
        format!("{small}\n{big}\n"),
    ] {
        let (r, out) = run_bytes(json.as_bytes(), Format::ChatGpt, &limits);
        match r {
            Err(ImportError::TooLarge { what, max, size }) => {
                assert_eq!(max, 64 * 1024);
                assert!(size > max);
                assert!(what.contains("element 1"), "{what}");
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert_eq!(
            out.convs.len() + out.bad.len(),
            1,
            "the first element arrived"
        );
    }
    // Under the limit the same stream imports.
    let (r, out) = run_bytes(
        format!("[{small},{big}]").as_bytes(),
        Format::ChatGpt,
        &Limits::default(),
    );
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(out.convs.len() + out.bad.len(), 2);
}

fn zip_of(members: &[(String, Vec<u8>)]) -> tempfile::NamedTempFile {
    let f = tempfile::Builder::new().suffix(".zip").tempfile().unwrap();
    let mut w = zip::ZipWriter::new(std::fs::File::create(f.path()).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap();
    f
}

/// A zip bomb made of many small members (each under the per-member limit) stops at the total
/// decompressed limit; a zip listing more members than allowed is refused before any is read.
#[test]
fn zip_bombs_of_many_members_stop_at_the_total() {
    let member = read("chatgpt_small.json");
    let members: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| (format!("part{i:02}/conversations.json"), member.clone()))
        .collect();
    let zip = zip_of(&members);
    let total = member.len() as u64 * 40;
    let limits = Limits {
        max_zip_bytes: total / 4,
        ..Limits::default()
    };
    let (r, out) = run_path(zip.path(), Format::Auto, &limits);
    match r {
        Err(ImportError::TooLarge { what, max, size }) => {
            assert_eq!(max, total / 4);
            assert!(size > max, "{size}");
            assert!(what.contains("decompressed"), "{what}");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // It stopped near the limit: about a quarter of the members were read.
    let per = ok("chatgpt_small.json").convs.len();
    assert!(
        out.convs.len() <= per * 11,
        "{} conversations",
        out.convs.len()
    );
    // The whole zip imports under the default limits.
    let (r, out) = run_path(zip.path(), Format::Auto, &Limits::default());
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(out.convs.len(), per * 40);

    let limits = Limits {
        max_zip_members: 10,
        ..Limits::default()
    };
    let (r, out) = run_path(zip.path(), Format::Auto, &limits);
    assert!(
        matches!(
            r,
            Err(ImportError::TooLarge {
                size: 40,
                max: 10,
                ..
            })
        ),
        "{r:?}"
    );
    assert!(out.convs.is_empty());
}

#[test]
fn sink_errors_stop_the_import() {
    let mut n = 0;
    let r = parse_path(
        &fixture("chatgpt_small.json"),
        Format::Auto,
        &Limits::default(),
        &mut |_| {
            n += 1;
            Err(ImportError::Sink("disk full".into()))
        },
    );
    assert!(matches!(r, Err(ImportError::Sink(m)) if m == "disk full"));
    assert_eq!(n, 1);
}

#[test]
fn wrong_explicit_format_gives_bad_items_not_panics() {
    let (r, out) = run_path(
        &fixture("chatgpt_small.json"),
        Format::Claude,
        &Limits::default(),
    );
    assert_eq!(r.unwrap(), Format::Claude);
    assert_eq!(out.bad.len(), 3);
    assert!(out.convs.is_empty());
    let (r, _) = run_path(
        &fixture("claude_small.json"),
        Format::ChatGptShare,
        &Limits::default(),
    );
    assert!(matches!(r, Err(ImportError::Malformed { .. })));
    let (r, _) = run_path(
        &fixture("claude_small.json"),
        Format::Markdown,
        &Limits::default(),
    );
    assert!(matches!(r, Err(ImportError::Malformed { .. })));
}

// ---------------------------------------------------------------------------------------------
// Claude

#[test]
fn claude_blocks_attachments_branches() {
    let out = ok("claude_small.json");
    assert_eq!(out.convs.len(), 2);
    assert_eq!(out.bad.len(), 1);
    assert_eq!(
        (out.bad[0].index, out.bad[0].id.as_deref()),
        (1, Some("c-bad"))
    );
    assert!(out.bad[0].error.contains("chat_messages"));

    let c = &out.convs[0];
    assert_eq!(
        (c.provider.as_str(), c.source_id.as_str(), c.title.as_str()),
        ("claude", "c-1111", "Tools and branches")
    );
    assert_eq!(c.created_at_ms, 1_717_236_000_000);
    assert_eq!(c.updated_at_ms, 1_717_236_300_000);
    let m = by_id(c);
    assert_eq!(c.messages.len(), 10);
    assert_eq!(m["m1"].parent, None, "the zero uuid is no parent");
    assert_eq!(
        (m["m1"].role, m["m1"].kind, m["m1"].text.as_str()),
        (Role::User, Kind::Text, "Read my file")
    );
    assert_eq!(
        (m["m1#2"].kind, m["m1#2"].text.as_str()),
        (Kind::File, "hello notes")
    );
    assert_eq!(m["m1#2"].meta["file_name"], "notes.txt");
    assert_eq!(
        (m["m1#3"].kind, m["m1#3"].text.as_str()),
        (Kind::Image, "photo.png")
    );
    assert_eq!(
        m["m2"].parent.as_deref(),
        Some("m1#3"),
        "children attach to the last part"
    );
    assert_eq!((m["m2"].kind, m["m2"].visible), (Kind::Thinking, false));
    assert_eq!(
        (m["m2#2"].kind, m["m2#2"].text.as_str()),
        (Kind::ToolCall, r#"{"path":"notes.txt"}"#)
    );
    assert_eq!(m["m2#2"].meta["tool"], "read");
    assert_eq!(
        (m["m2#3"].role, m["m2#3"].kind, m["m2#3"].text.as_str()),
        (Role::Tool, Kind::ToolResult, "hello notes")
    );
    assert_eq!((m["m2#4"].kind, m["m2#4"].visible), (Kind::Markdown, true));
    assert_eq!(m["m2#4"].parent.as_deref(), Some("m2#3"));
    // Two branches after the answer; the head is the latest leaf in array order.
    assert_eq!(m["m3"].parent.as_deref(), Some("m2#4"));
    assert_eq!(m["m3b"].parent.as_deref(), Some("m2#4"));
    assert_eq!(c.head.as_deref(), Some("m4b"));
    assert_eq!(m["m4b"].created_at_ms, Some(1_717_236_125_000));
    let visible: Vec<String> = head_ids(c)
        .into_iter()
        .filter(|id| m[id.as_str()].visible)
        .collect();
    assert_eq!(visible, ["m1", "m1#2", "m1#3", "m2#4", "m3b", "m4b"]);

    let old = &out.convs[1];
    assert_eq!(old.title, "");
    let m = by_id(old);
    assert_eq!(
        m["o2"].parent.as_deref(),
        Some("o1"),
        "no parent links: array order"
    );
    assert_eq!(m["o1"].text, "old style, no parents");
    assert_eq!(old.head.as_deref(), Some("o2"));
}

// ---------------------------------------------------------------------------------------------
// Gemini

#[test]
fn gemini_activity_groups_by_time() {
    let out = ok("gemini_activity.json");
    assert_eq!(out.convs.len(), 2, "12:00 + 12:20 together, 15:00 apart");
    assert_eq!(out.bad.len(), 1);
    assert_eq!(out.bad[0].index, 4);
    assert!(out.bad[0].error.contains("time"), "{}", out.bad[0].error);

    let c = &out.convs[0];
    assert_eq!(c.provider, "gemini");
    assert_eq!(c.title, "What is Rust?");
    assert_eq!(c.created_at_ms, 1_709_294_400_000);
    assert_eq!(c.updated_at_ms, 1_709_295_600_000);
    assert_eq!(c.source_id.len(), 64);
    assert!(c.source_id.bytes().all(|b| b.is_ascii_hexdigit()));
    let texts = head_texts(c);
    assert_eq!(
        texts,
        [
            (Role::User, Kind::Text, "What is Rust?".to_string()),
            (Role::User, Kind::File, "diagram.png".to_string()),
            (
                Role::Assistant,
                Kind::Markdown,
                "Rust\n\nRust is a systems language.\nIt is fast.".to_string()
            ),
            (Role::User, Kind::Text, "and one more thing".to_string()),
            (
                Role::Assistant,
                Kind::Markdown,
                "Sure & here it is:\n\n- one\n- two <3".to_string()
            ),
        ]
    );
    assert_eq!(c.messages.len(), 5);
    assert_eq!(out.convs[1].title, "a much later question");
    assert_eq!(out.convs[1].messages[1].text, "Later answer");

    // Same ids on a re-import, even when entries arrive in another order.
    let mut entries: Vec<serde_json::Value> =
        serde_json::from_slice(&read("gemini_activity.json")).unwrap();
    entries.reverse();
    let (r, again) = run_bytes(
        &serde_json::to_vec(&entries).unwrap(),
        Format::Auto,
        &Limits::default(),
    );
    assert_eq!(r.unwrap(), Format::Gemini);
    let ids = |o: &Out| {
        o.convs
            .iter()
            .map(|c| c.source_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&out), ids(&again));
    assert_eq!(out.convs[0].messages, again.convs[0].messages);
}

// ---------------------------------------------------------------------------------------------
// ShareGPT

#[test]
fn sharegpt_array_jsonl_single() {
    let out = ok("sharegpt.json");
    assert_eq!(out.convs.len(), 2);
    assert_eq!(
        (out.bad.len(), out.bad[0].index, out.bad[0].id.as_deref()),
        (1, 2, Some("sg-bad"))
    );
    let c = &out.convs[0];
    assert_eq!(c.source_id, "sg-1");
    assert_eq!(c.title, "Hello there");
    let roles: Vec<(Role, bool)> = c.messages.iter().map(|m| (m.role, m.visible)).collect();
    assert_eq!(
        roles,
        [
            (Role::System, false),
            (Role::User, true),
            (Role::Assistant, true)
        ]
    );
    assert_eq!(
        c.messages[2].parent.as_deref(),
        Some(c.messages[1].id.as_str())
    );
    assert_eq!(c.head.as_deref(), Some(c.messages[2].id.as_str()));
    let hashed = &out.convs[1].source_id;
    assert_eq!(hashed.len(), 64);
    assert_eq!(
        hashed,
        &ok("sharegpt.json").convs[1].source_id,
        "stable across imports"
    );

    let out = ok("sharegpt.jsonl");
    let ids: Vec<&str> = out.convs.iter().map(|c| c.source_id.as_str()).collect();
    assert_eq!(ids, ["l1", "l2"]);
    assert_eq!(out.convs[1].messages[1].text, "ok 2");

    let out = ok("sharegpt_single.json");
    assert_eq!(out.convs.len(), 1);
    assert_eq!(out.convs[0].source_id, "42");
    assert_eq!(out.convs[0].messages[0].role, Role::User);
}

// ---------------------------------------------------------------------------------------------
// Markdown

#[test]
fn markdown_transcripts() {
    let c = &ok("chatgpt_exporter.md").convs[0];
    assert_eq!(c.title, "Sorting in Rust");
    let roles: Vec<Role> = c.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::User, Role::Assistant, Role::User, Role::Assistant]
    );
    assert_eq!(
        c.messages[0].text, "How do I sort a Vec?",
        "separator dropped"
    );
    assert!(
        c.messages[1]
            .text
            .contains("// ## User  <- not a heading inside code")
    );
    assert!(c.messages[1].text.ends_with("```"));
    assert_eq!(c.messages[3].text, "Use `sort_by(|a, b| b.cmp(a))`.");
    assert_eq!(c.messages[3].kind, Kind::Markdown);
    assert_eq!(c.head.as_deref(), Some(c.messages[3].id.as_str()));

    let c = &ok("chatgpt_exporter_you.md").convs[0];
    assert_eq!(c.title, "Quick question");
    let pairs: Vec<(Role, &str)> = c
        .messages
        .iter()
        .map(|m| (m.role, m.text.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [(Role::User, "What is 2+2?"), (Role::Assistant, "4")]
    );

    let c = &ok("llm_log.md").convs[0];
    assert!(c.title.starts_with("2023-08-17T20:53:58"));
    assert_eq!(c.model.as_deref(), Some("gpt-4"));
    assert_eq!(c.created_at_ms, 1_692_305_638_000);
    let pairs: Vec<(Role, &str)> = c
        .messages
        .iter()
        .map(|m| (m.role, m.text.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            (Role::User, "Say hello"),
            (Role::Assistant, "Hello!"),
            (Role::User, "Again"),
            (Role::Assistant, "Hello again!")
        ]
    );
    assert_eq!(c.source_id, ok("llm_log.md").convs[0].source_id);
}

// ---------------------------------------------------------------------------------------------
// zip archives and directories

fn write_zip(path: &Path, members: &[(&str, &[u8])]) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        z.start_file(*name, opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

fn split_chatgpt() -> (Vec<u8>, Vec<u8>) {
    let all: Vec<serde_json::Value> = serde_json::from_slice(&read("chatgpt_small.json")).unwrap();
    let first = serde_json::to_vec(&all[..2]).unwrap(); // branchy, broken
    let second = serde_json::to_vec(&[all[2].clone(), all[1].clone()]).unwrap(); // old, broken
    (first, second)
}

#[test]
fn chatgpt_zip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("export.bin"); // the name says nothing: content decides
    write_zip(
        &p,
        &[
            (
                "user.json",
                br#"{"id": "user-1", "email": "x@example.invalid"}"#,
            ),
            ("chat.html", b"<html><body>ChatGPT export</body></html>"),
            ("conversations.json", &read("chatgpt_small.json")),
        ],
    );
    let (r, out) = run_path(&p, Format::Auto, &Limits::default());
    assert_eq!(r.unwrap(), Format::ChatGpt);
    assert_eq!(out.convs.len(), 2);
    assert_eq!(out.bad.len(), 1);
    assert!(
        out.bad[0].error.contains("conversations.json"),
        "{}",
        out.bad[0].error
    );
    assert_eq!(out.convs, ok("chatgpt_small.json").convs);
}

#[test]
fn chatgpt_split_zip_and_directory() {
    let (a, b) = split_chatgpt();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("split.zip");
    write_zip(
        &p,
        &[
            ("conversations-001.json", &b),
            ("conversations-000.json", &a),
            ("message_feedback.json", b"[]"),
        ],
    );
    let (r, out) = run_path(&p, Format::Auto, &Limits::default());
    assert_eq!(r.unwrap(), Format::ChatGpt);
    let ids: Vec<&str> = out.convs.iter().map(|c| c.source_id.as_str()).collect();
    assert_eq!(ids, ["conv-branchy", "conv-old"], "members in name order");
    let bad: Vec<usize> = out.bad.iter().map(|b| b.index).collect();
    assert_eq!(bad, [1, 3], "indexes continue across members");
    assert!(out.bad[1].error.contains("conversations-001.json"));

    let d = dir.path().join("unpacked");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("conversations-000.json"), &a).unwrap();
    std::fs::write(d.join("conversations-001.json"), &b).unwrap();
    std::fs::write(d.join("user.json"), b"{}").unwrap();
    let (r, out2) = run_path(&d, Format::Auto, &Limits::default());
    assert_eq!(r.unwrap(), Format::ChatGpt);
    assert_eq!(out2.convs, out.convs);
    assert_eq!(out2.bad.iter().map(|b| b.index).collect::<Vec<_>>(), [1, 3]);

    // A directory of unrelated files is a clear error.
    let e = dir.path().join("nothing");
    std::fs::create_dir(&e).unwrap();
    std::fs::write(e.join("notes.txt"), b"hello").unwrap();
    let (r, _) = run_path(&e, Format::Auto, &Limits::default());
    assert!(matches!(r, Err(ImportError::UnknownFormat(_))), "{r:?}");
}

#[test]
fn claude_zip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("data-2024.zip");
    write_zip(
        &p,
        &[
            ("users.json", br#"[{"uuid": "u"}]"#),
            ("projects.json", b"[]"),
            ("conversations.json", &read("claude_small.json")),
        ],
    );
    let (r, out) = run_path(&p, Format::Auto, &Limits::default());
    assert_eq!(r.unwrap(), Format::Claude);
    assert_eq!(out.convs.len(), 2);
    assert_eq!(out.bad.len(), 1);
}

#[test]
fn zip_member_over_the_limit_stops() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bomb.zip");
    // 4 MB of whitespace compresses to a few KB.
    let mut big = vec![b' '; 4 << 20];
    big.extend_from_slice(b"[]");
    write_zip(&p, &[("conversations.json", &big)]);
    assert!(std::fs::metadata(&p).unwrap().len() < 64 * 1024);
    let limits = Limits {
        max_member_bytes: 1 << 20,
        ..Limits::default()
    };
    let (r, out) = run_path(&p, Format::Auto, &limits);
    match r {
        Err(ImportError::TooLarge { what, max, .. }) => {
            assert!(what.contains("conversations.json"), "{what}");
            assert_eq!(max, 1 << 20);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(out.convs.is_empty());

    // The same member with a lying header (declared size 2 bytes): the zip reader stops at the
    // declared size (our byte count is the second guard), so at most 2 bytes are read.
    let mut bytes = std::fs::read(&p).unwrap();
    patch_declared_sizes(&mut bytes, 2);
    let lying = dir.path().join("lying.zip");
    std::fs::write(&lying, &bytes).unwrap();
    let (r, out) = run_path(&lying, Format::Auto, &limits);
    assert!(r.is_err(), "a lying member must not import: {r:?}");
    assert!(out.convs.is_empty());
}

/// Rewrites the uncompressed size in every local and central header.
fn patch_declared_sizes(z: &mut [u8], size: u32) {
    let le = size.to_le_bytes();
    let mut i = 0;
    while i + 46 <= z.len() {
        if z[i..i + 4] == *b"PK\x03\x04" {
            z[i + 22..i + 26].copy_from_slice(&le);
        } else if z[i..i + 4] == *b"PK\x01\x02" {
            z[i + 24..i + 28].copy_from_slice(&le);
        }
        i += 1;
    }
}

#[test]
fn zip_without_conversations_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("other.zip");
    write_zip(
        &p,
        &[("readme.txt", b"hello"), ("data.bin", &random_bytes(100))],
    );
    let (r, _) = run_path(&p, Format::Auto, &Limits::default());
    assert!(matches!(r, Err(ImportError::UnknownFormat(_))), "{r:?}");

    // A zip holding a single Markdown transcript under another name still imports.
    let p = dir.path().join("md.zip");
    write_zip(&p, &[("chat/transcript.md", &read("llm_log.md"))]);
    let (r, out) = run_path(&p, Format::Auto, &Limits::default());
    assert_eq!(r.unwrap(), Format::Markdown);
    assert_eq!(out.convs.len(), 1);

    let p = dir.path().join("broken.zip");
    std::fs::write(&p, b"PK\x03\x04 but not really a zip").unwrap();
    let (r, _) = run_path(&p, Format::Auto, &Limits::default());
    assert!(
        matches!(r, Err(ImportError::Malformed { format: "zip", .. })),
        "{r:?}"
    );
}
