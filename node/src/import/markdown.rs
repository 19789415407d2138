//! Markdown transcripts: chatgpt-exporter style (`# Title`, then `## User` / `## ChatGPT` /
//! `## Assistant` sections, or `#### You:` / `#### ChatGPT:`), and `llm logs` style
//! (`## Prompt:` / `## Response:`). Headings inside code fences are text.

use std::collections::BTreeMap;
use std::io::Read;

use vivim_protocol::{Kind, Role};

use super::common::{self, Ctx, Sink, hash_id, msg, read_all_text};
use super::{ImportError, ImportedConversation};

const FORMAT: &str = "markdown";

/// The role a heading line names (`## User`, `#### ChatGPT:`, `## Response:`), if it is one.
pub(crate) fn role_heading(line: &str) -> Option<Role> {
    let t = line.trim();
    let hashes = t.chars().take_while(|c| *c == '#').count();
    if !(2..=6).contains(&hashes) {
        return None;
    }
    let rest = t[hashes..].strip_prefix(' ')?;
    let name = rest
        .trim()
        .trim_matches('*')
        .trim()
        .trim_end_matches(':')
        .trim()
        .trim_matches('*');
    Some(match name.to_ascii_lowercase().as_str() {
        "user" | "you" | "human" | "me" | "prompt" => Role::User,
        "chatgpt" | "assistant" | "gpt" | "ai" | "claude" | "gemini" | "bard" | "model"
        | "response" | "bot" | "copilot" => Role::Assistant,
        "system" => Role::System,
        "tool" => Role::Tool,
        _ => return None,
    })
}

pub(crate) fn parse<R: Read>(
    reader: R,
    ctx: &mut Ctx<'_>,
    sink: Sink<'_>,
) -> Result<(), ImportError> {
    let text = read_all_text(reader, ctx)?;
    let conv =
        convert(&text).map_err(|(line, m)| ctx.malformed(FORMAT, format!("line {line}"), m))?;
    let (id, title) = (Some(conv.source_id.clone()), Some(conv.title.clone()));
    ctx.emit(sink, 0, Ok(conv), id, title)
}

/// chatgpt-exporter's front matter: `key: value` lines between `---` lines at the top. Its
/// `source:` names the ChatGPT conversation (older versions write it twice, and leave
/// `{model_name}` unexpanded). Returns the fields (first value of each key) and the lines used.
fn front_matter(text: &str) -> (BTreeMap<String, String>, usize) {
    let mut fields = BTreeMap::new();
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("---") {
        return (fields, 0);
    }
    for (n, line) in lines.enumerate() {
        if line.trim() == "---" {
            return (fields, n + 2);
        }
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim();
            // An unexpanded template placeholder is no value.
            let placeholder = v.starts_with('{') && v.ends_with('}');
            if !v.is_empty() && !placeholder {
                fields
                    .entry(k.trim().to_ascii_lowercase())
                    .or_insert_with(|| v.to_string());
            }
        }
        if n > 64 {
            break;
        }
    }
    (BTreeMap::new(), 0)
}

/// The ChatGPT conversation id in a `source:` URL (`https://chatgpt.com/c/<id>`, or the older
/// `chat.openai.com/c/…` and `…/chat/…`).
fn chatgpt_id(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    if !matches!(host, "chatgpt.com" | "chat.openai.com" | "www.chatgpt.com") {
        return None;
    }
    let id = path
        .strip_prefix("c/")
        .or_else(|| path.strip_prefix("chat/"))?
        .split(['?', '#', '/'])
        .next()?;
    (id.len() >= 8 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')).then_some(id)
}

/// chatgpt-exporter (2024+) starts each turn with `<time datetime="…">…</time>`: the time the
/// message was written, not text.
fn turn_time(body: &str) -> (Option<u64>, &str) {
    let t = body.trim_start();
    if let Some(rest) = t.strip_prefix("<time datetime=\"")
        && let Some((when, after)) = rest.split_once('"')
        && let Some(end) = after.find("</time>")
    {
        return (
            common::iso_to_ms(when),
            after[end + "</time>".len()..].trim_start(),
        );
    }
    (None, body)
}

fn convert(text: &str) -> Result<ImportedConversation, (usize, String)> {
    let (front, skip) = front_matter(text);
    let from_chatgpt = front.get("source").and_then(|s| chatgpt_id(s));
    let source_id = match from_chatgpt {
        Some(id) => id.to_string(),
        None => hash_id(&[b"markdown", text.as_bytes()]),
    };
    let mut title: Option<String> = front.get("title").cloned();
    let mut model: Option<String> = front.get("model").cloned();
    let mut turns: Vec<(Role, usize, Vec<&str>)> = Vec::new();
    let mut in_fence = false;
    for (n, line) in text.lines().enumerate().skip(skip) {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        } else if !in_fence {
            if let Some(role) = role_heading(line) {
                turns.push((role, n + 1, Vec::new()));
                continue;
            }
            if turns.is_empty()
                && let Some(t) = trimmed.strip_prefix("# ")
            {
                if title.is_none() {
                    title = Some(t.trim().to_string());
                }
                continue;
            }
            if turns.is_empty()
                && model.is_none()
                && let Some(m) = trimmed.strip_prefix("Model:")
            {
                model =
                    Some(m.trim().trim_matches('*').trim().to_string()).filter(|m| !m.is_empty());
            }
        }
        if let Some((_, _, lines)) = turns.last_mut() {
            lines.push(line);
        }
    }
    if turns.is_empty() {
        return Err((
            1,
            "no role headings (## User, ## Assistant, ## Prompt:, …) found".into(),
        ));
    }
    let mut messages = Vec::with_capacity(turns.len());
    let mut prev: Option<String> = None;
    for (i, (role, line, lines)) in turns.into_iter().enumerate() {
        let mut body: Vec<&str> = lines;
        // chatgpt-exporter puts `---` (or `***`) between turns.
        while body
            .last()
            .is_some_and(|l| l.trim().is_empty() || matches!(l.trim(), "---" | "***" | "___"))
        {
            body.pop();
        }
        let body = body.join("\n");
        let (said_at, body) = turn_time(&body);
        let body = body.trim().to_string();
        let kind = if role == Role::Assistant {
            Kind::Markdown
        } else {
            Kind::Text
        };
        let id = format!("{source_id}/{i}");
        let mut m = msg(id.clone(), prev.take(), role, kind, body);
        m.visible = matches!(role, Role::User | Role::Assistant) && !m.text.is_empty();
        m.meta = BTreeMap::from([("line".to_string(), line.to_string())]);
        m.created_at_ms = said_at;
        messages.push(m);
        prev = Some(id);
    }
    let title = title.unwrap_or_else(|| {
        messages
            .iter()
            .find(|m| m.role == Role::User)
            .map(|m| common::title_from(&m.text, 80))
            .unwrap_or_default()
    });
    // `llm logs` titles start with the time: `# 2023-08-17T20:53:58    conversation: …`.
    let (first, last) = common::time_bounds(&messages);
    let created = front
        .get("create_time")
        .and_then(|t| common::iso_to_ms(t))
        .or(first)
        .or_else(|| title.split_whitespace().next().and_then(common::iso_to_ms))
        .unwrap_or(0);
    let updated = front
        .get("update_time")
        .and_then(|t| common::iso_to_ms(t))
        .or(last)
        .unwrap_or(created)
        .max(created);
    // An export of a ChatGPT conversation is that conversation: a re-export updates it, and
    // it meets the JSON export of it.
    let (provider, source_url) = match from_chatgpt {
        Some(id) => ("chatgpt", Some(format!("https://chatgpt.com/c/{id}"))),
        None => ("markdown", None),
    };
    Ok(ImportedConversation {
        provider: provider.into(),
        source_id,
        title,
        source_url,
        created_at_ms: created,
        updated_at_ms: updated,
        model,
        head: prev,
        messages,
    })
}
