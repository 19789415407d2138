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

async fn node() -> (Arc<Node>, tempfile::TempDir) {
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
    let (node, _tmp) = node().await;
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
    let (node, _tmp) = node().await;
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
    let (node, _tmp) = node().await;
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
