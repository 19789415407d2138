//! What a person saw is what the node shows and counts (issue "capture fidelity"): exports
//! written by others (../shared) and fixtures modelled on documented shapes
//! (node/tests/fixtures/import/issue18, shapes and sources in their notes), imported into a real
//! node and read back as the CLI, the gateway and MCP read them.
#![allow(clippy::unwrap_used)]

#[path = "common/shared.rs"]
mod shared;

use std::path::PathBuf;
use std::sync::Arc;

use vivim_node::{DataDir, Format, Node, Query};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/issue18/"
    ))
    .join(name)
}

async fn open_node() -> (Arc<Node>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::open(DataDir::at(tmp.path()), None, true)
        .await
        .unwrap();
    (node, tmp)
}

/// The titles of the conversations whose messages match `q`, deduplicated, best first.
fn titles(node: &Node, q: &str) -> Vec<String> {
    let (hits, _) = node.search(&Query::new(q)).unwrap();
    let mut out: Vec<String> = Vec::new();
    for h in hits {
        if !out.contains(&h.title) {
            out.push(h.title);
        }
    }
    out
}

#[tokio::test]
async fn chinese_japanese_and_korean_are_searchable() {
    let (node, _tmp) = open_node().await;
    node.import_path(&fixture("chatgpt_chinese.json"), Format::Auto, None)
        .await
        .unwrap();
    assert_eq!(titles(&node, "新闻").len(), 2);
    assert_eq!(titles(&node, "新闻标题"), ["新闻 발음"]);
    assert_eq!(titles(&node, "要約"), ["今日新闻摘要"]);
    assert_eq!(titles(&node, "뉴스를"), ["新闻 발음"]);
    assert_eq!(titles(&node, "发音 OR 發音 OR 발음"), ["新闻 발음"]);
    assert!(titles(&node, "闻新").is_empty());
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_chinese_share_page_is_found_by_a_chinese_word() {
    if shared::missing(shared::CHATGPT_SHARE_2026) {
        return;
    }
    let (node, _tmp) = open_node().await;
    node.import_path(
        &shared::path(shared::CHATGPT_SHARE_2026),
        Format::Auto,
        None,
    )
    .await
    .unwrap();
    // `vivim search 新闻` (news): the word is in the conversation many times.
    let (hits, total) = node.search(&Query::new("新闻")).unwrap();
    assert!(total >= 5, "{total}");
    assert!(hits.iter().all(|h| h.title == "今天重大新闻概览"));
    for h in &hits {
        for &(s, e) in &h.highlights {
            assert_eq!(&h.snippet[s..e], "新闻", "{}", h.snippet);
        }
    }
    assert!(hits.iter().any(|h| !h.highlights.is_empty()));
    // A word of the answer that is not the title's, and one that is not there.
    assert!(!titles(&node, "政府关门").is_empty());
    assert!(titles(&node, "关门政府").is_empty());
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn one_chatgpt_conversation_object_imports_like_a_list_of_one() {
    let (node, _tmp) = open_node().await;
    let single = fixture("chatgpt_single_conversation.json");
    let s = node.import_path(&single, Format::Auto, None).await.unwrap();
    assert_eq!((s.conversations, s.skipped.len()), (1, 0), "{s:?}");
    // The same object inside an array (chatgpt-exporter's per-chat export) is the same
    // conversation: nothing new.
    let text = std::fs::read_to_string(&single).unwrap();
    let wrapped = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrapped.path(), format!("[{text}]")).unwrap();
    let again = node
        .import_path(wrapped.path(), Format::ChatGpt, None)
        .await
        .unwrap();
    assert_eq!((again.conversations, again.updated), (0, 0), "{again:?}");
    let page = node.store.list(None, 10).unwrap();
    assert_eq!(page.rows.len(), 1);
    assert_eq!(
        page.rows[0].manifest.source_id.as_deref(),
        Some("69146860-5a64-8074-8bcf-adea11642205")
    );
    node.shutdown().await.unwrap();
}

/// A stored conversation by title: its row and its head branch, oldest first.
async fn read(node: &Node, title: &str) -> (vivim_node::store::ConvRow, Vec<vivim_protocol::Acu>) {
    let page = node.store.list(None, 100).unwrap();
    let row = page
        .rows
        .into_iter()
        .find(|r| r.manifest.title == title)
        .unwrap_or_else(|| panic!("no conversation {title:?}"));
    let (row, acus) = node.conversation(&row.manifest.id).await.unwrap().unwrap();
    let by_id: std::collections::HashMap<_, _> =
        acus.iter().map(|a| (a.id(), a.value().clone())).collect();
    let mut branch = Vec::new();
    let mut cur = row.manifest.head;
    while let Some(h) = cur {
        let a = by_id[&h].clone();
        cur = a.parent;
        branch.push(a);
    }
    branch.reverse();
    (row, branch)
}

fn text(a: &vivim_protocol::Acu) -> &str {
    a.body.as_text().unwrap_or("")
}

#[tokio::test]
async fn chatgpt_2025_content_is_what_the_person_saw() {
    use vivim_protocol::{Kind, Role};
    let (node, _tmp) = open_node().await;
    node.import_path(&fixture("chatgpt_2025_features.json"), Format::Auto, None)
        .await
        .unwrap();

    // Custom instructions and memory: kept, as context (system), not as turns; a user message
    // of an image and text is one message; the generated image is the assistant's answer.
    let (row, b) = read(&node, "Round bakery logo").await;
    assert_eq!(row.manifest.message_count, 2);
    let ctx: Vec<&vivim_protocol::Acu> = b.iter().filter(|a| a.kind == Kind::Other).collect();
    assert_eq!(ctx.len(), 2);
    assert!(ctx.iter().all(|a| a.role == Role::System));
    assert!(text(ctx[0]).contains("Birch & Crumb"));
    let image = b
        .iter()
        .find(|a| a.provider_meta.get("generated").map(String::as_str) == Some("image"))
        .unwrap();
    assert_eq!((image.role, image.kind), (Role::Assistant, Kind::Image));
    assert!(text(image).starts_with("sediment://"));
    let detail = vivim_node::views::ConversationDetail {
        conversation: vivim_node::views::ConversationView::from(&row),
        messages: node
            .conversation(&row.manifest.id)
            .await
            .unwrap()
            .unwrap()
            .1
            .iter()
            .map(vivim_node::views::MessageView::from)
            .collect(),
    };
    let md = vivim_node::views::export::markdown(&detail);
    assert!(
        md.contains("<details><summary>Custom instructions</summary>"),
        "{md}"
    );
    assert!(md.contains("<details><summary>What ChatGPT remembered (memory)</summary>"));
    assert!(!md.contains("## User\n\nThe user provided the following information"));

    // Canvas: the document it built, then the document after the update's replacements; a
    // voice turn is its transcription (one message with its audio).
    let (row, b) = read(&node, "Monthly expense totals").await;
    assert_eq!(row.manifest.message_count, 8);
    let docs: Vec<&vivim_protocol::Acu> = b
        .iter()
        .filter(|a| a.provider_meta.contains_key("canvas"))
        .collect();
    assert_eq!(docs.len(), 2);
    assert!(
        docs.iter()
            .all(|a| a.kind == Kind::Code && a.lang.as_deref() == Some("python"))
    );
    assert!(text(docs[0]).starts_with("import csv") && !text(docs[0]).contains("next(reader)"));
    assert!(text(docs[1]).contains("next(reader)  # skip the header"));
    assert!(text(docs[1]).contains("f\"{total:.2f}\""));
    assert!(b.iter().any(|a| a.role == Role::User
        && text(a) == "Can it also give me a total per category?"));

    // Citations: links to the sources, no private-use characters.
    let (_, b) = read(&node, "Sort Vec in Rust").await;
    let answer = b.iter().rev().find(|a| a.role == Role::Assistant).unwrap();
    let t = text(answer);
    assert!(
        !t.chars().any(|c| ('\u{e200}'..='\u{e206}').contains(&c)),
        "{t:?}"
    );
    assert!(
        t.contains("(driftsort and ipnsort). ([Rust Blog](https://blog.rust-lang.org/"),
        "{t}"
    );
    assert!(
        t.contains("\n\nSources:\n- [Announcing Rust 1.81.0 | Rust Blog]("),
        "{t}"
    );
    // Nothing anywhere keeps a marker.
    for title in [
        "Round bakery logo",
        "Monthly expense totals",
        "Sort Vec in Rust",
    ] {
        for a in read(&node, title).await.1 {
            assert!(!text(&a).contains('\u{e200}'), "{title}: {:?}", text(&a));
        }
    }
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn legacy_claude_exports_read_in_the_order_things_were_said() {
    use vivim_protocol::Role;
    let (node, _tmp) = open_node().await;
    node.import_path(&fixture("claude_legacy_shuffled.json"), Format::Auto, None)
        .await
        .unwrap();
    for title in ["KeyError in pandas", "Garden party menu"] {
        let (row, b) = read(&node, title).await;
        let times: Vec<u64> = b.iter().map(|a| a.created_at_ms).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{title}: {times:?}");
        assert_eq!(b[0].role, Role::User, "{title}");
        // Every reply follows a human turn.
        for w in b.windows(2) {
            if w[1].role == Role::Assistant {
                assert_ne!(w[0].role, Role::Assistant, "{title}");
            }
        }
        // A human turn with attachments is one message.
        let turns = b
            .iter()
            .filter(|a| !a.provider_meta.contains_key(vivim_node::import::PART_OF))
            .count();
        assert_eq!(row.manifest.message_count as usize, turns, "{title}");
    }
    let (_, b) = read(&node, "KeyError in pandas").await;
    assert!(text(&b[0]).starts_with("Why do I get KeyError"));
    let (row, _) = read(&node, "Garden party menu").await;
    assert_eq!(row.manifest.message_count, 6);
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_markdown_export_meets_the_json_export_of_the_same_chat() {
    let (node, _tmp) = open_node().await;
    node.import_path(&fixture("chatgpt_2025_features.json"), Format::Auto, None)
        .await
        .unwrap();
    let (before, _) = read(&node, "Sort Vec in Rust").await;
    // The 2023 export (duplicated `source:`, `{model_name}`), then the 2025 one with one more
    // exchange: both update the conversation the JSON export made.
    for (file, updated) in [("chatgpt_exporter_v1.md", 1), ("chatgpt_exporter_v2.md", 1)] {
        let s = node
            .import_path(&fixture(file), Format::Auto, None)
            .await
            .unwrap();
        assert_eq!((s.conversations, s.updated), (0, updated), "{file}: {s:?}");
    }
    let (after, b) = read(&node, "Sort Vec in Rust").await;
    assert_eq!(after.manifest.id, before.manifest.id);
    assert_eq!(node.store.list(None, 100).unwrap().rows.len(), 3);
    assert_eq!(after.manifest.provider, "chatgpt");
    assert!(after.manifest.created_at_ms >= before.manifest.created_at_ms.min(1));
    assert!(after.manifest.updated_at_ms >= before.manifest.updated_at_ms);
    // The 2025 export's turns carry their times (`<time datetime=…>`), not as text.
    assert!(b.iter().all(|a| !text(a).starts_with("<time")));
    assert!(b.iter().all(|a| a.created_at_ms > 1_600_000_000_000));
    // Without the JSON export, the two Markdown exports are one conversation too.
    let (node2, _tmp2) = open_node().await;
    for file in ["chatgpt_exporter_v1.md", "chatgpt_exporter_v2.md"] {
        node2
            .import_path(&fixture(file), Format::Auto, None)
            .await
            .unwrap();
    }
    let rows = node2.store.list(None, 10).unwrap().rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].manifest.source_url.as_deref(),
        Some("https://chatgpt.com/c/5e0b3c1a-7d42-4c1e-9a3b-2f61d8c4e9a7")
    );
    node.shutdown().await.unwrap();
    node2.shutdown().await.unwrap();
}

#[tokio::test]
async fn importing_through_a_running_node_reports_progress_as_it_goes() {
    let (node, tmp) = open_node().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(vivim_node::gateway::serve(node.clone(), listener, async {
        let _ = stop_rx.await;
    }));
    let client = vivim_node::Client::Remote {
        base: format!("http://{addr}"),
        token: DataDir::at(tmp.path()).token().unwrap(),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    };
    let seen = std::sync::Mutex::new(Vec::new());
    let progress = |p: vivim_node::node::ImportProgress| seen.lock().unwrap().push(p);
    let fx = fixture("chatgpt_2025_features.json");
    let summary = client
        .import(fx.to_str().unwrap(), Format::Auto, Some(&progress))
        .await
        .unwrap();
    assert_eq!(summary["conversations"], 3, "{summary}");
    let seen = seen.into_inner().unwrap();
    // One report per stored conversation, counting up, before the summary arrived.
    assert_eq!(
        seen.iter().map(|p| p.conversations).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(seen[2].messages, 2 + 6 + 8);
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn importing_again_puts_the_new_reading_on_the_head_and_keeps_everything_stored() {
    use vivim_protocol::Role;
    let (node, _tmp) = open_node().await;
    let original = fixture("chatgpt_2025_features.json");
    node.import_path(&original, Format::Auto, None)
        .await
        .unwrap();
    let (row, _) = read(&node, "Sort Vec in Rust").await;
    // A reply written here.
    node.capture(vivim_node::Capture {
        conversation: Some(row.manifest.id.to_string()),
        provider: None,
        source_id: None,
        title: None,
        parent: None,
        role: "user".into(),
        kind: None,
        lang: None,
        text: "A note I added later.".into(),
        created_at_ms: None,
    })
    .await
    .unwrap();
    // The same export read differently (as a fixed importer would): one message's text
    // changes. The conversation is updated in place (same id), the new reading is on the head
    // branch with the right count, and nothing stored is lost: the old reading and the reply
    // stay (stored data is never dropped by an import).
    let text_of_export = std::fs::read_to_string(&original).unwrap();
    let changed = text_of_export.replacen("still works", "still works fine", 1);
    assert_ne!(changed, text_of_export);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), changed).unwrap();
    let s = node
        .import_path(file.path(), Format::Auto, None)
        .await
        .unwrap();
    assert_eq!((s.conversations, s.updated), (0, 1), "{s:?}");
    let (after, head) = read(&node, "Sort Vec in Rust").await;
    assert_eq!(after.manifest.id, row.manifest.id);
    assert_eq!(after.manifest.message_count, row.manifest.message_count);
    assert!(head.iter().any(|a| text(a).contains("still works fine")));
    let all = node
        .conversation(&after.manifest.id)
        .await
        .unwrap()
        .unwrap()
        .1;
    let ids: std::collections::HashSet<_> = all.iter().map(|a| a.id()).collect();
    assert!(
        all.iter()
            .all(|a| a.value().parent.is_none_or(|p| ids.contains(&p)))
    );
    assert!(
        all.iter()
            .any(|a| a.value().role == Role::User && text(a.value()) == "A note I added later.")
    );
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn google_takeouts_html_my_activity_imports() {
    let (node, _tmp) = open_node().await;
    let s = node
        .import_path(&fixture("gemini_my_activity.html"), Format::Auto, None)
        .await
        .unwrap();
    assert_eq!(s.format, "gemini", "{s:?}");
    assert!(s.conversations >= 1 && s.skipped.is_empty(), "{s:?}");
    let rows = node.store.list(None, 10).unwrap().rows;
    assert!(rows.iter().all(|r| r.manifest.provider == "gemini"));
    // Three prompts, three answers, whichever way they were grouped.
    let total: u32 = rows.iter().map(|r| r.manifest.message_count).sum();
    assert_eq!(
        total,
        6,
        "{:?}",
        rows.iter().map(|r| &r.manifest.title).collect::<Vec<_>>()
    );
    // Importing it again adds nothing.
    let again = node
        .import_path(&fixture("gemini_my_activity.html"), Format::Auto, None)
        .await
        .unwrap();
    assert_eq!((again.conversations, again.updated), (0, 0), "{again:?}");
    node.shutdown().await.unwrap();
}
