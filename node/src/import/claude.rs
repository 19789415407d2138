//! Claude data export (`conversations.json`): an array of conversations with `chat_messages`.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;
use vivim_protocol::{Kind, Role};

use super::common::{self, Ctx, Sink, chain_parts, iso_to_ms, msg, order_parents_first, str_of};
use super::{ImportError, ImportedConversation, ImportedMessage};

const FORMAT: &str = "claude";

pub(crate) fn parse<R: Read>(
    reader: R,
    ctx: &mut Ctx<'_>,
    sink: Sink<'_>,
) -> Result<(), ImportError> {
    common::stream_array(reader, FORMAT, ctx, &mut |ctx, index, v| {
        let result = convert(&v);
        let id = common::id_of(&v, "uuid");
        let title = str_of(&v, "name").map(str::to_string);
        ctx.emit(sink, index, result, id, title)
    })
}

/// The order in which the messages were said. Exports since August 2024 link each message to
/// its parent, and the array order does not matter. Older exports have no links, and their
/// array is not in order: a reply can come before the human turn it answers (both with the
/// same `created_at`), and pairs can be shuffled. They are read by time, the human turn before
/// the reply at the same instant, then by position.
fn reading_order(chat: &[Value]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..chat.len()).collect();
    let linked = chat.iter().any(|m| m.get("parent_message_uuid").is_some());
    let times: Option<Vec<u64>> = chat
        .iter()
        .map(|m| str_of(m, "created_at").and_then(iso_to_ms))
        .collect();
    if let (false, Some(times)) = (linked, times) {
        let rank = |m: &Value| u8::from(str_of(m, "sender") != Some("human"));
        order.sort_by_key(|&i| (times[i], rank(&chat[i]), i));
    }
    order
}

/// Whether a uuid is the placeholder root (all zeros, perhaps with version/variant digits).
fn is_root_uuid(s: &str) -> bool {
    let hex: Vec<char> = s.chars().filter(|c| *c != '-').collect();
    hex.len() == 32
        && hex.iter().all(char::is_ascii_hexdigit)
        && hex.iter().filter(|c| **c != '0').count() <= 2
}

fn convert(v: &Value) -> Result<ImportedConversation, String> {
    if !v.is_object() {
        return Err("a conversation must be a JSON object".into());
    }
    let uuid = common::id_of(v, "uuid").ok_or("missing \"uuid\"")?;
    let chat = v
        .get("chat_messages")
        .and_then(Value::as_array)
        .ok_or("missing or invalid \"chat_messages\" (expected an array)")?;

    let mut messages: Vec<ImportedMessage> = Vec::new();
    // Provider message id → id of its last part (children attach there).
    let mut last_part: BTreeMap<String, String> = BTreeMap::new();
    let mut raw_parents: Vec<(usize, Option<String>)> = Vec::new();
    let mut prev_uuid: Option<String> = None;
    for i in reading_order(chat) {
        let m = &chat[i];
        if !m.is_object() {
            return Err(format!("chat_messages[{i}] is not an object"));
        }
        let id = common::id_of(m, "uuid").unwrap_or_else(|| format!("{uuid}/{i}"));
        let parent = match m.get("parent_message_uuid") {
            Some(Value::String(p)) if !is_root_uuid(p) => Some(p.clone()),
            Some(_) => None,
            // Older exports have no parent links: the array is the one branch.
            None => prev_uuid.clone(),
        };
        let parts = convert_message(m, i)?;
        let start = messages.len();
        let chained = chain_parts(&id, None, parts);
        if let Some(last) = chained.last() {
            last_part.insert(id.clone(), last.id.clone());
        }
        raw_parents.push((start, parent));
        messages.extend(chained);
        prev_uuid = Some(id);
    }
    // Attach each message's first part to its parent's last part.
    for (start, parent) in raw_parents {
        if let Some(p) = parent {
            messages[start].parent = Some(last_part.get(&p).cloned().unwrap_or(p));
        }
    }
    let messages = order_parents_first(messages);
    let head = latest_leaf_in_array_order(chat, &messages, &last_part);

    let (first, last) = common::time_bounds(&messages);
    let created = str_of(v, "created_at")
        .and_then(iso_to_ms)
        .or(first)
        .unwrap_or(0);
    let updated = str_of(v, "updated_at")
        .and_then(iso_to_ms)
        .or(last)
        .unwrap_or(created);
    Ok(ImportedConversation {
        provider: "claude".into(),
        source_url: Some(format!("https://claude.ai/chat/{uuid}")),
        source_id: uuid,
        title: str_of(v, "name").unwrap_or("").to_string(),
        created_at_ms: created,
        updated_at_ms: updated,
        model: str_of(v, "model").map(str::to_string),
        messages,
        head,
    })
}

/// The last message in the array (by its position there) that has no children.
fn latest_leaf_in_array_order(
    chat: &[Value],
    messages: &[ImportedMessage],
    last_part: &BTreeMap<String, String>,
) -> Option<String> {
    let parents: std::collections::HashSet<&str> = messages
        .iter()
        .filter_map(|m| m.parent.as_deref())
        .collect();
    let ids: std::collections::HashSet<&str> = messages.iter().map(|m| m.id.as_str()).collect();
    for m in chat.iter().rev() {
        let Some(id) = common::id_of(m, "uuid") else {
            continue;
        };
        if let Some(last) = last_part.get(&id)
            && ids.contains(last.as_str())
            && !parents.contains(last.as_str())
        {
            return Some(last.clone());
        }
    }
    common::last_leaf(messages)
}

fn convert_message(m: &Value, i: usize) -> Result<Vec<ImportedMessage>, String> {
    let sender = str_of(m, "sender").unwrap_or("");
    let role = match sender {
        "human" | "user" => Role::User,
        "assistant" => Role::Assistant,
        "system" => Role::System,
        "" => return Err(format!("chat_messages[{i}] has no \"sender\"")),
        _ => Role::Tool,
    };
    let text_kind = if role == Role::Assistant {
        Kind::Markdown
    } else {
        Kind::Text
    };
    let created = str_of(m, "created_at").and_then(iso_to_ms);
    let user_or_assistant = matches!(role, Role::User | Role::Assistant);

    let mut parts: Vec<ImportedMessage> = Vec::new();
    let push = |out: &mut Vec<ImportedMessage>,
                kind: Kind,
                role: Role,
                text: String,
                meta: BTreeMap<String, String>| {
        let mut p = msg(String::new(), None, role, kind, text);
        p.visible = user_or_assistant
            && matches!(
                kind,
                Kind::Text | Kind::Markdown | Kind::Code | Kind::Image | Kind::File
            )
            && !p.text.trim().is_empty();
        p.created_at_ms = created;
        p.meta = meta;
        out.push(p);
    };

    let blocks = m
        .get("content")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty());
    if let Some(blocks) = blocks {
        for (j, b) in blocks.iter().enumerate() {
            let ty = str_of(b, "type").unwrap_or("");
            let mut meta = BTreeMap::from([("block_type".to_string(), ty.to_string())]);
            match ty {
                "text" => {
                    let t = str_of(b, "text").unwrap_or("");
                    if !t.is_empty() {
                        push(&mut parts, text_kind, role, t.to_string(), meta);
                    }
                }
                "thinking" => {
                    let t = str_of(b, "thinking")
                        .or_else(|| str_of(b, "text"))
                        .unwrap_or("");
                    push(&mut parts, Kind::Thinking, role, t.to_string(), meta);
                }
                "tool_use" => {
                    if let Some(n) = str_of(b, "name") {
                        meta.insert("tool".into(), n.into());
                    }
                    if let Some(id) = str_of(b, "id") {
                        meta.insert("tool_use_id".into(), id.into());
                    }
                    let input = b.get("input").map(|x| x.to_string()).unwrap_or_default();
                    push(&mut parts, Kind::ToolCall, role, input, meta);
                }
                "tool_result" => {
                    if let Some(n) = str_of(b, "name") {
                        meta.insert("tool".into(), n.into());
                    }
                    if let Some(id) = str_of(b, "tool_use_id") {
                        meta.insert("tool_use_id".into(), id.into());
                    }
                    if b.get("is_error").and_then(Value::as_bool) == Some(true) {
                        meta.insert("is_error".into(), "true".into());
                    }
                    push(
                        &mut parts,
                        Kind::ToolResult,
                        Role::Tool,
                        block_text(b.get("content")),
                        meta,
                    );
                }
                "" => return Err(format!("chat_messages[{i}].content[{j}] has no \"type\"")),
                _ => {
                    let t = str_of(b, "text").map(str::to_string).unwrap_or_default();
                    push(&mut parts, Kind::Other, role, t, meta);
                }
            }
        }
    } else if let Some(t) = str_of(m, "text") {
        push(&mut parts, text_kind, role, t.to_string(), BTreeMap::new());
    }

    for (key, list) in [
        ("attachments", m.get("attachments")),
        ("files", m.get("files")),
    ] {
        let Some(list) = list.and_then(Value::as_array) else {
            continue;
        };
        for a in list {
            let name = str_of(a, "file_name")
                .or_else(|| str_of(a, "file_uuid"))
                .unwrap_or("");
            let mut meta = BTreeMap::from([("source".to_string(), key.to_string())]);
            if !name.is_empty() {
                meta.insert("file_name".into(), name.into());
            }
            if let Some(t) = str_of(a, "file_type") {
                meta.insert("file_type".into(), t.into());
            }
            if let Some(s) = a.get("file_size").and_then(Value::as_u64) {
                meta.insert("file_size".into(), s.to_string());
            }
            let kind = if str_of(a, "file_kind") == Some("image") {
                Kind::Image
            } else {
                Kind::File
            };
            // The text: what Claude extracted from the file when it did, else its name.
            let text = str_of(a, "extracted_content")
                .filter(|s| !s.is_empty())
                .unwrap_or(name);
            push(&mut parts, kind, role, text.to_string(), meta);
        }
    }
    if parts.is_empty() {
        push(&mut parts, text_kind, role, String::new(), BTreeMap::new());
    }
    Ok(parts)
}

/// The text of a tool result's `content` (a string or a list of blocks).
fn block_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|b| match b {
                Value::String(s) => Some(s.clone()),
                _ => str_of(b, "text").map(str::to_string),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) if !other.is_null() => other.to_string(),
        _ => String::new(),
    }
}
