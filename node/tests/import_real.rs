//! The importers against real exports kept in the shared fixtures folder (never copied here).
#![allow(clippy::unwrap_used)]

#[path = "common/shared.rs"]
mod shared;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde_json::Value;
use vivim_node::import::{
    Format, ImportedConversation, ImportedMessage, Item, Limits, detect, parse_path,
};
use vivim_protocol::{Kind, Role};

fn fixture(rel: &str) -> PathBuf {
    shared::path(rel)
}

fn collect(path: &std::path::Path, format: Format) -> (Format, Vec<ImportedConversation>, usize) {
    let mut convs = Vec::new();
    let mut bad = 0;
    let f = parse_path(path, format, &Limits::default(), &mut |item| {
        match item {
            Item::Conversation(c) => convs.push(c),
            Item::Bad(b) => {
                eprintln!("bad: {b:?}");
                bad += 1;
            }
        }
        Ok(())
    })
    .unwrap();
    (f, convs, bad)
}

/// Messages from the head to the root, reversed (root first).
fn head_path(c: &ImportedConversation) -> Vec<&ImportedMessage> {
    let by_id: HashMap<&str, &ImportedMessage> =
        c.messages.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut out = Vec::new();
    let mut cur = c.head.as_deref();
    while let Some(id) = cur {
        let m = by_id[id];
        out.push(m);
        cur = m.parent.as_deref();
        assert!(out.len() <= c.messages.len(), "cycle in {}", c.source_id);
    }
    out.reverse();
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
        assert!(
            seen.insert(m.id.as_str()),
            "{}: duplicate id {}",
            c.source_id,
            m.id
        );
    }
}

// ---- An independent oracle: the visible-message rules applied to the raw JSON. ----

fn oracle_text(content: &Value) -> String {
    match content.get("content_type").and_then(Value::as_str) {
        Some("text") | Some("multimodal_text") => content["parts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        Some("tether_browsing_display") => content["result"].as_str().unwrap_or("").to_string(),
        _ => content["text"].as_str().unwrap_or("").to_string(),
    }
}

fn oracle_visible(m: &Value) -> bool {
    let role = m["author"]["role"].as_str().unwrap_or("");
    let ct = m["content"]["content_type"].as_str().unwrap_or("");
    (role == "user" || role == "assistant")
        && m["weight"].as_f64() != Some(0.0)
        && (m["recipient"].is_null() || m["recipient"] == "all")
        && m["metadata"]["is_visually_hidden_from_conversation"] != Value::Bool(true)
        && ![
            "user_editable_context",
            "model_editable_context",
            "thoughts",
            "reasoning_recap",
        ]
        .contains(&ct)
        && !oracle_text(&m["content"]).trim().is_empty()
}

/// Visible messages on the branch from `current_node` to the root.
fn oracle_head_visible(conv: &Value) -> usize {
    let mapping = conv["mapping"].as_object().unwrap();
    let mut cur = conv["current_node"].as_str();
    let mut n = 0;
    while let Some(id) = cur {
        let node = &mapping[id];
        if !node["message"].is_null() && oracle_visible(&node["message"]) {
            n += 1;
        }
        cur = node["parent"].as_str();
    }
    n
}

#[test]
fn chatgpt_2023_export() {
    if shared::missing(shared::CHATGPT_2023) {
        return;
    }
    let path = fixture(shared::CHATGPT_2023);
    let raw: Vec<Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let prefix = std::fs::read(&path).unwrap();
    assert_eq!(detect(&prefix[..64 * 1024]), Some(Format::ChatGpt));

    let (format, convs, bad) = collect(&path, Format::Auto);
    assert_eq!(format, Format::ChatGpt);
    assert_eq!(bad, 0);
    assert_eq!(convs.len(), 192);
    assert_eq!(raw.len(), 192);

    let mut total_visible = 0;
    let mut total_messages = 0;
    let mut branching = 0;
    for (raw, c) in raw.iter().zip(&convs) {
        assert_eq!(c.provider, "chatgpt");
        assert_eq!(
            c.source_id,
            raw["id"].as_str().unwrap(),
            "order or id differs"
        );
        assert_eq!(c.title, raw["title"].as_str().unwrap());
        assert_eq!(
            c.created_at_ms,
            (raw["create_time"].as_f64().unwrap() * 1000.0).round() as u64
        );
        assert_parents_first(c);

        // Every node with a message is kept, with its parent (the nearest ancestor with one).
        let mapping = raw["mapping"].as_object().unwrap();
        let with_msg: Vec<&String> = mapping
            .keys()
            .filter(|k| !mapping[*k]["message"].is_null())
            .collect();
        assert_eq!(c.messages.len(), with_msg.len(), "{}", c.source_id);
        total_messages += c.messages.len();
        let by_id: HashMap<&str, &ImportedMessage> =
            c.messages.iter().map(|m| (m.id.as_str(), m)).collect();
        for k in &with_msg {
            let mut p = mapping[*k]["parent"].as_str();
            while let Some(pid) = p {
                if !mapping[pid]["message"].is_null() {
                    break;
                }
                p = mapping[pid]["parent"].as_str();
            }
            assert_eq!(
                by_id[k.as_str()].parent.as_deref(),
                p,
                "{}: parent of {k}",
                c.source_id
            );
        }

        // Branches: every child of a branching node is there and points back to it.
        let forks: Vec<&String> = mapping
            .keys()
            .filter(|k| {
                mapping[*k]["children"]
                    .as_array()
                    .is_some_and(|a| a.len() > 1)
            })
            .collect();
        if !forks.is_empty() {
            branching += 1;
            for f in forks {
                for child in mapping[f]["children"].as_array().unwrap() {
                    let child = by_id[child.as_str().unwrap()];
                    assert_eq!(child.parent.as_deref(), Some(f.as_str()));
                }
            }
            let leaves_raw = mapping
                .values()
                .filter(|n| n["children"].as_array().unwrap().is_empty())
                .count();
            let parents: HashSet<&str> = c
                .messages
                .iter()
                .filter_map(|m| m.parent.as_deref())
                .collect();
            let leaves = c
                .messages
                .iter()
                .filter(|m| !parents.contains(m.id.as_str()))
                .count();
            assert_eq!(leaves, leaves_raw, "{}: all branches kept", c.source_id);
            assert!(leaves > 1);
        }

        // The head is current_node and the visible count on its branch matches the oracle.
        assert_eq!(c.head.as_deref(), raw["current_node"].as_str());
        let visible = head_path(c).iter().filter(|m| m.visible).count();
        assert_eq!(
            visible,
            oracle_head_visible(raw),
            "{} ({})",
            c.source_id,
            c.title
        );
        total_visible += visible;
    }
    assert_eq!(branching, 4);
    assert_eq!(total_messages, 1560);
    assert_eq!(total_visible, 1298, "visible messages on the head branches");

    // Content kinds seen in this export.
    let all: Vec<&ImportedMessage> = convs.iter().flat_map(|c| &c.messages).collect();
    let count = |k: Kind| all.iter().filter(|m| m.kind == k).count();
    assert_eq!(count(Kind::Code), 29);
    assert_eq!(count(Kind::Quote), 14);
    assert_eq!(count(Kind::ToolResult), 22);
    assert!(all.iter().any(|m| m.role == Role::Tool));
    assert!(all.iter().all(|m| m.meta.contains_key("content_type")));
    // A browsing call: assistant code addressed to the browser is kept but not visible.
    let call = all
        .iter()
        .find(|m| m.id == "9f37e3ed-9201-4044-a973-22b41e2632c9")
        .unwrap();
    assert_eq!(call.kind, Kind::Code);
    assert_eq!(call.meta["recipient"], "browser");
    assert_eq!(call.meta["model_slug"], "gpt-4-browsing");
    assert!(!call.visible);
    assert!(call.text.contains("open_url("));

    let first = &convs[0];
    assert_eq!(first.title, "Django Multi-DB Setup");
    assert_eq!(
        first.head.as_deref(),
        Some("d8c33269-608c-4ccf-af58-8cef0e51ee6a")
    );
}

#[test]
fn chatgpt_share_page_2026() {
    if shared::missing(shared::CHATGPT_SHARE_2026) {
        return;
    }
    let path = fixture(shared::CHATGPT_SHARE_2026);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(detect(&bytes[..64 * 1024]), Some(Format::ChatGptShare));
    let (format, convs, bad) = collect(&path, Format::Auto);
    assert_eq!((format, bad, convs.len()), (Format::ChatGptShare, 0, 1));
    let c = &convs[0];
    assert_parents_first(c);
    assert_eq!(c.title, "今天重大新闻概览");
    assert_eq!(c.source_id, "69807432-337c-8003-9975-57b27ce55c6f");
    assert_eq!(
        c.source_url.as_deref(),
        Some("https://chatgpt.com/share/69807432-337c-8003-9975-57b27ce55c6f")
    );
    assert_eq!(c.created_at_ms, 1_770_026_034_204);
    assert_eq!(c.updated_at_ms, 1_770_026_850_566);
    assert_eq!(c.model.as_deref(), Some("gpt-5-2-thinking"));
    assert_eq!(
        c.head.as_deref(),
        Some("4e97eb27-f372-47bc-8b2a-2c4f6dbca9cf")
    );
    // 31 mapping nodes, the root has no message; no branches, so the head path is everything.
    assert_eq!(c.messages.len(), 30);
    let path = head_path(c);
    assert_eq!(path.len(), 30);

    let visible: Vec<(Role, &str)> = path
        .iter()
        .filter(|m| m.visible)
        .map(|m| (m.role, m.text.as_str()))
        .collect();
    // The generated image is the assistant's answer to "generate a picture for me" (it came
    // in a weight-0 tool message, but the person saw it in the assistant's place).
    assert_eq!(visible.len(), 6, "{visible:#?}");
    assert_eq!(visible[0], (Role::User, "今天有什么重大新闻？"));
    assert_eq!(visible[1].0, Role::Assistant);
    assert!(visible[1].1.starts_with("今天是 2026 年 1 月 31 日"));
    // Citation markers became links to the sources; no private-use characters are left.
    assert!(
        visible[1]
            .1
            .contains("([卫报](https://www.theguardian.com/")
    );
    assert!(
        !visible[1]
            .1
            .chars()
            .any(|c| ('\u{e200}'..='\u{e206}').contains(&c))
    );
    assert_eq!(visible[2], (Role::User, "生成一张图片给我"));
    assert_eq!(visible[3].0, Role::Assistant);
    assert!(
        visible[3]
            .1
            .starts_with("sediment://file_00000000271871f88d1f79fbd5db7e76")
    );
    assert_eq!(visible[4], (Role::User, "给一个mermaid流程图给我"));
    assert!(visible[5].1.starts_with("```mermaid\nflowchart TD"));
    assert_eq!(path[path.len() - 1].kind, Kind::Markdown);

    // Modern content types.
    let ct = |m: &ImportedMessage| m.meta["content_type"].clone();
    let thoughts: Vec<&&ImportedMessage> = path.iter().filter(|m| ct(m) == "thoughts").collect();
    assert_eq!(thoughts.len(), 4);
    assert!(
        thoughts
            .iter()
            .all(|m| m.kind == Kind::Thinking && !m.visible)
    );
    assert!(
        thoughts
            .iter()
            .any(|m| m.text.starts_with("整理全球与地区新闻\n\n我需要整理和分类"))
    );
    let recaps: Vec<&str> = path
        .iter()
        .filter(|m| ct(m) == "reasoning_recap")
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        recaps,
        ["已思考 17s", "Thought for 4 seconds", "Thought for 8s"]
    );
    let image = path.iter().find(|m| m.kind == Kind::Image).unwrap();
    assert!(
        image
            .text
            .starts_with("sediment://file_00000000271871f88d1f79fbd5db7e76")
    );
    assert_eq!(ct(image), "multimodal_text");
    assert_eq!(image.role, Role::Assistant);
    assert_eq!(image.meta["generated"], "image");
    assert_eq!(image.meta["author_role"], "tool");
    let search = path.iter().find(|m| m.kind == Kind::Code).unwrap();
    assert_eq!(search.meta["recipient"], "web.run");
    assert!(
        search
            .text
            .contains("major world news headlines January 31 2026")
    );
    assert!(
        path.iter()
            .any(|m| ct(m) == "model_editable_context" && m.kind == Kind::Other)
    );
    // Times are in order along the visible branch.
    let times: Vec<u64> = path
        .iter()
        .filter(|m| m.visible)
        .filter_map(|m| m.created_at_ms)
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}
