//! ShareGPT-style JSON: `{"id"?, "conversations": [{"from", "value"}]}`, one object, an array of
//! them, or JSON Lines.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;
use vivim_protocol::{Kind, Role};

use super::common::{self, Ctx, Sink, hash_id, msg, str_of};
use super::{ImportError, ImportedConversation};

const FORMAT: &str = "sharegpt";

pub(crate) fn parse<R: Read>(
    reader: R,
    ctx: &mut Ctx<'_>,
    sink: Sink<'_>,
) -> Result<(), ImportError> {
    common::stream_values(reader, FORMAT, ctx, &mut |ctx, index, v| {
        let result = convert(&v);
        let id = common::id_of(&v, "id");
        let title = str_of(&v, "title").map(str::to_string);
        ctx.emit(sink, index, result, id, title)
    })
}

fn role_kind(from: &str) -> (Role, Kind) {
    match from.to_ascii_lowercase().as_str() {
        "human" | "user" | "prompter" => (Role::User, Kind::Text),
        "system" => (Role::System, Kind::Text),
        "function_call" | "tool_call" => (Role::Assistant, Kind::ToolCall),
        "observation" | "function" | "function_response" | "tool" | "tool_response" | "ipython" => {
            (Role::Tool, Kind::ToolResult)
        }
        _ => (Role::Assistant, Kind::Markdown),
    }
}

fn convert(v: &Value) -> Result<ImportedConversation, String> {
    if !v.is_object() {
        return Err("a conversation must be a JSON object".into());
    }
    let turns = v
        .get("conversations")
        .or_else(|| v.get("conversation"))
        .and_then(Value::as_array)
        .ok_or("missing or invalid \"conversations\" (expected an array)")?;
    let source_id = common::id_of(v, "id").unwrap_or_else(|| {
        // serde_json maps are sorted, so this text is the same for the same content.
        let canonical = serde_json::to_string(turns).unwrap_or_default();
        hash_id(&[b"sharegpt", canonical.as_bytes()])
    });
    let mut messages = Vec::with_capacity(turns.len());
    let mut prev: Option<String> = None;
    for (i, t) in turns.iter().enumerate() {
        let from = str_of(t, "from")
            .or_else(|| str_of(t, "role"))
            .ok_or_else(|| format!("conversations[{i}] has no \"from\""))?;
        let text = match t.get("value").or_else(|| t.get("content")) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let (role, kind) = role_kind(from);
        let id = format!("{source_id}/{i}");
        let mut m = msg(id.clone(), prev.take(), role, kind, text);
        m.visible = matches!(kind, Kind::Text | Kind::Markdown)
            && matches!(role, Role::User | Role::Assistant)
            && !m.text.trim().is_empty();
        m.meta = BTreeMap::from([("from".to_string(), from.to_string())]);
        messages.push(m);
        prev = Some(id);
    }
    let title = str_of(v, "title").map(str::to_string).unwrap_or_else(|| {
        messages
            .iter()
            .find(|m| m.role == Role::User)
            .map(|m| common::title_from(&m.text, 80))
            .unwrap_or_default()
    });
    Ok(ImportedConversation {
        provider: "sharegpt".into(),
        source_id,
        title,
        source_url: None,
        created_at_ms: 0,
        updated_at_ms: 0,
        model: str_of(v, "model").map(str::to_string),
        head: prev,
        messages,
    })
}
