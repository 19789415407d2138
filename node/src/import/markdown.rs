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

fn convert(text: &str) -> Result<ImportedConversation, (usize, String)> {
    let source_id = hash_id(&[b"markdown", text.as_bytes()]);
    let mut title: Option<String> = None;
    let mut model: Option<String> = None;
    let mut turns: Vec<(Role, usize, Vec<&str>)> = Vec::new();
    let mut in_fence = false;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        } else if !in_fence {
            if let Some(role) = role_heading(line) {
                turns.push((role, n + 1, Vec::new()));
                continue;
            }
            if title.is_none()
                && turns.is_empty()
                && let Some(t) = trimmed.strip_prefix("# ")
            {
                title = Some(t.trim().to_string());
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
        let body = body.join("\n").trim().to_string();
        let kind = if role == Role::Assistant {
            Kind::Markdown
        } else {
            Kind::Text
        };
        let id = format!("{source_id}/{i}");
        let mut m = msg(id.clone(), prev.take(), role, kind, body);
        m.visible = matches!(role, Role::User | Role::Assistant) && !m.text.is_empty();
        m.meta = BTreeMap::from([("line".to_string(), line.to_string())]);
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
    let created = title
        .split_whitespace()
        .next()
        .and_then(common::iso_to_ms)
        .unwrap_or(0);
    Ok(ImportedConversation {
        provider: "markdown".into(),
        source_id,
        title,
        source_url: None,
        created_at_ms: created,
        updated_at_ms: created,
        model,
        head: prev,
        messages,
    })
}
