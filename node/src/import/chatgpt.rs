//! ChatGPT data export (`conversations.json`): an array of conversations, each a tree of
//! `mapping` nodes — or one conversation object alone (chatgpt-exporter's JSON export, the
//! web app's `/backend-api/conversation/<id>`), or several as JSON lines. Also used for the
//! conversation embedded in a share page.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use serde_json::Value;
use vivim_protocol::{Kind, Role};

use super::common::{
    self, Ctx, Sink, chain_parts, hash_id, msg, order_parents_first, secs_to_ms, str_of,
};
use super::{ImportError, ImportedConversation, ImportedMessage};

const FORMAT: &str = "chatgpt";

/// Content types that never count as visible.
const HIDDEN_TYPES: [&str; 4] = [
    "user_editable_context",
    "model_editable_context",
    "thoughts",
    "reasoning_recap",
];

pub(crate) fn parse_export<R: Read>(
    reader: R,
    ctx: &mut Ctx<'_>,
    sink: Sink<'_>,
) -> Result<(), ImportError> {
    common::stream_values(reader, FORMAT, ctx, &mut |ctx, index, v| {
        let result = convert(&v, Origin::Export);
        let (id, title) = id_title(&v);
        ctx.emit(sink, index, result, id, title)
    })
}

/// Where a conversation came from (decides the URL).
#[derive(Clone, Copy)]
pub(crate) enum Origin<'a> {
    Export,
    Share(Option<&'a str>),
}

pub(crate) fn id_title(v: &Value) -> (Option<String>, Option<String>) {
    let id = common::id_of(v, "conversation_id").or_else(|| common::id_of(v, "id"));
    (id, str_of(v, "title").map(str::to_string))
}

/// One mapping node as read.
struct Node<'a> {
    parent: Option<&'a str>,
    children: Vec<&'a str>,
    message: Option<&'a Value>,
}

/// Converts one ChatGPT conversation object.
pub(crate) fn convert<'v>(
    v: &'v Value,
    origin: Origin<'_>,
) -> Result<ImportedConversation, String> {
    let obj = v
        .as_object()
        .ok_or("a conversation must be a JSON object")?;
    let mapping = obj
        .get("mapping")
        .and_then(Value::as_object)
        .ok_or("missing or invalid \"mapping\" (expected an object)")?;

    let mut nodes: HashMap<&'v str, Node<'v>> = HashMap::with_capacity(mapping.len());
    for (key, node) in mapping {
        let node_obj = node
            .as_object()
            .ok_or_else(|| format!("mapping node {key} is not an object"))?;
        let message = node_obj.get("message").filter(|m| !m.is_null());
        if let Some(m) = message
            && !m.is_object()
        {
            return Err(format!("mapping node {key}: \"message\" is not an object"));
        }
        let children = node_obj
            .get("children")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        nodes.insert(
            key.as_str(),
            Node {
                parent: node_obj.get("parent").and_then(Value::as_str),
                children,
                message,
            },
        );
    }

    let nearest_with_message = |start: Option<&'v str>| nearest(&nodes, start);

    // Visit order: depth-first from the roots following `children`, then anything left.
    let mut order: Vec<&str> = Vec::with_capacity(nodes.len());
    let mut seen: HashSet<&str> = HashSet::with_capacity(nodes.len());
    let mut roots: Vec<&str> = nodes
        .iter()
        .filter(|(_, n)| n.parent.is_none_or(|p| !nodes.contains_key(p)))
        .map(|(k, _)| *k)
        .collect();
    roots.sort_by_key(|k| (first_time(&nodes, k), *k));
    let mut rest: Vec<&str> = nodes.keys().copied().collect();
    rest.sort_unstable();
    for start in roots.into_iter().chain(rest) {
        let mut stack = vec![start];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            order.push(id);
            if let Some(n) = nodes.get(id) {
                for c in n.children.iter().rev() {
                    if nodes.contains_key(c) && !seen.contains(c) {
                        stack.push(c);
                    }
                }
            }
        }
    }

    // Convert; remember each node's last part (where children attach).
    let mut last_part: HashMap<&str, String> = HashMap::new();
    let mut messages: Vec<ImportedMessage> = Vec::new();
    let mut slug_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut canvases = Canvases::default();
    for id in &order {
        let Some(node) = nodes.get(id) else { continue };
        let Some(m) = node.message else { continue };
        let parent_node = nearest_with_message(node.parent);
        // Parents come first in `order` unless the tree is broken; fall back to the node id.
        let parent =
            parent_node.map(|p| last_part.get(p).cloned().unwrap_or_else(|| p.to_string()));
        let parts = convert_message(id, m, &mut canvases)?;
        if let Some(slug) = m.pointer("/metadata/model_slug").and_then(Value::as_str) {
            *slug_counts.entry(slug.to_string()).or_default() += 1;
        }
        let chained = chain_parts(id, parent, parts);
        if let Some(last) = chained.last() {
            last_part.insert(id, last.id.clone());
        }
        messages.extend(chained);
    }
    let messages = order_parents_first(messages);

    let head = str_of(v, "current_node")
        .and_then(|c| nearest_with_message(Some(c)))
        .and_then(|c| last_part.get(c).cloned())
        .or_else(|| common::last_leaf(&messages));

    let model = slug_counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(k, _)| k.clone())
        .or_else(|| str_of(v, "default_model_slug").map(str::to_string));

    let (first, last) = common::time_bounds(&messages);
    let created = v
        .get("create_time")
        .and_then(secs_to_ms)
        .or(first)
        .unwrap_or(0);
    let updated = v
        .get("update_time")
        .and_then(secs_to_ms)
        .or(last)
        .unwrap_or(created);
    let title = str_of(v, "title").unwrap_or("").to_string();
    let source_id = common::id_of(v, "conversation_id")
        .or_else(|| common::id_of(v, "id"))
        .unwrap_or_else(|| {
            hash_id(&[
                b"chatgpt",
                title.as_bytes(),
                &created.to_le_bytes(),
                str_of(v, "current_node").unwrap_or("").as_bytes(),
            ])
        });
    let source_url = match origin {
        Origin::Export => Some(format!("https://chatgpt.com/c/{source_id}")),
        Origin::Share(share_id) => Some(format!(
            "https://chatgpt.com/share/{}",
            share_id.unwrap_or(&source_id)
        )),
    };
    Ok(ImportedConversation {
        provider: "chatgpt".to_string(),
        source_id,
        title,
        source_url,
        created_at_ms: created,
        updated_at_ms: updated,
        model,
        messages,
        head,
    })
}

/// Nearest ancestor (or self) with a message, for re-attaching children and for the head.
fn nearest<'v>(nodes: &HashMap<&'v str, Node<'v>>, start: Option<&'v str>) -> Option<&'v str> {
    let mut cur = start;
    let mut steps = 0usize;
    while let Some(id) = cur {
        let node = nodes.get(id)?;
        if node.message.is_some() {
            return Some(id);
        }
        steps += 1;
        if steps > nodes.len() {
            return None;
        }
        cur = node.parent;
    }
    None
}

fn first_time(nodes: &HashMap<&str, Node<'_>>, id: &str) -> u64 {
    nodes
        .get(id)
        .and_then(|n| n.message)
        .and_then(|m| m.get("create_time"))
        .and_then(secs_to_ms)
        .unwrap_or(0)
}

fn role_of(s: &str) -> Role {
    match s {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "system" | "developer" | "critic" => Role::System,
        _ => Role::Tool,
    }
}

fn join_strings(v: Option<&Value>) -> String {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// Converts one ChatGPT message into its parts (usually one).
pub(crate) fn convert_message(
    node_id: &str,
    m: &Value,
    canvases: &mut Canvases,
) -> Result<Vec<ImportedMessage>, String> {
    let role_str = m
        .pointer("/author/role")
        .and_then(Value::as_str)
        .unwrap_or("tool");
    let mut role = role_of(role_str);
    let content = m.get("content").filter(|c| c.is_object());
    let ct = content
        .and_then(|c| str_of(c, "content_type"))
        .unwrap_or("text")
        .to_string();
    let empty = Value::Null;
    let c = content.unwrap_or(&empty);
    let text_kind = match role {
        Role::Assistant => Kind::Markdown,
        _ => Kind::Text,
    };
    let mut lang = None;
    let mut parts: Vec<(Kind, String)> = match ct.as_str() {
        "text" => vec![(text_kind, join_strings(c.get("parts")))],
        "code" => {
            lang = str_of(c, "language").filter(|l| *l != "unknown" && !l.is_empty());
            vec![(Kind::Code, str_of(c, "text").unwrap_or("").to_string())]
        }
        "execution_output" | "system_error" => {
            vec![(
                Kind::ToolResult,
                str_of(c, "text").unwrap_or("").to_string(),
            )]
        }
        "tether_browsing_display" => {
            let t = str_of(c, "result")
                .filter(|s| !s.is_empty())
                .or_else(|| str_of(c, "summary"))
                .unwrap_or("");
            vec![(Kind::ToolResult, t.to_string())]
        }
        "tether_quote" => {
            let t = str_of(c, "text")
                .filter(|s| !s.is_empty())
                .or_else(|| str_of(c, "title"));
            vec![(Kind::Quote, t.unwrap_or("").to_string())]
        }
        "multimodal_text" => multimodal(c, text_kind),
        "thoughts" => {
            let mut out = Vec::new();
            if let Some(a) = c.get("thoughts").and_then(Value::as_array) {
                for t in a {
                    let summary = str_of(t, "summary").unwrap_or("");
                    let body = str_of(t, "content").unwrap_or("");
                    let piece = match (summary.is_empty(), body.is_empty()) {
                        (false, false) => format!("{summary}\n\n{body}"),
                        (false, true) => summary.to_string(),
                        _ => body.to_string(),
                    };
                    if !piece.is_empty() {
                        out.push(piece);
                    }
                }
            }
            vec![(Kind::Thinking, out.join("\n\n"))]
        }
        "reasoning_recap" => vec![(
            Kind::Thinking,
            str_of(c, "content").unwrap_or("").to_string(),
        )],
        "user_editable_context" => {
            // Custom instructions: context the model was given, not a turn of the user's.
            role = Role::System;
            let t = [str_of(c, "user_profile"), str_of(c, "user_instructions")]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("\n\n");
            vec![(Kind::Other, t)]
        }
        "model_editable_context" => {
            // What ChatGPT remembered about the user: context, not an answer.
            role = Role::System;
            vec![(
                Kind::Other,
                str_of(c, "model_set_context").unwrap_or("").to_string(),
            )]
        }
        _ => {
            // Unknown type: the best text we can find.
            let t = if c.get("parts").is_some() {
                join_strings(c.get("parts"))
            } else {
                ["text", "result", "content", "summary"]
                    .iter()
                    .find_map(|k| str_of(c, k))
                    .unwrap_or("")
                    .to_string()
            };
            vec![(Kind::Other, t)]
        }
    };
    if parts.is_empty() {
        parts.push((text_kind, String::new()));
    }
    let author_name = m
        .pointer("/author/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let recipient_str = str_of(m, "recipient").unwrap_or("all");
    // A generated image arrives in a tool message (weight 0 since 2025), but the person saw
    // it as the assistant's answer.
    let generated_image = role_str == "tool"
        && parts.iter().any(|(k, _)| *k == Kind::Image)
        && (author_name.starts_with("dalle")
            || author_name == IMAGE_GEN_TOOL
            || c.pointer("/parts/0/metadata/generation")
                .is_some_and(|g| !g.is_null())
            || c.pointer("/parts/0/metadata/dalle")
                .is_some_and(|g| !g.is_null()));
    if generated_image {
        role = Role::Assistant;
        parts.retain(|(k, t)| *k == Kind::Image || !t.trim().is_empty());
    }
    let mut canvas_lang: Option<String> = None;
    // A canvas document the assistant wrote (shown beside the chat): its content, readable.
    let canvas = role == Role::Assistant && recipient_str.starts_with("canmore.");
    if canvas {
        let raw = parts.iter().map(|(_, t)| t.as_str()).collect::<String>();
        let (p, l) = canvas_parts(recipient_str, &raw, canvases);
        parts = p;
        canvas_lang = l;
    }
    // Citation markers become readable links; the private-use characters go.
    if role == Role::Assistant && parts.iter().any(|(_, t)| t.contains(is_marker_char)) {
        let refs = m
            .pointer("/metadata/content_references")
            .and_then(Value::as_array);
        for (k, t) in &mut parts {
            if matches!(*k, Kind::Markdown | Kind::Text) {
                *t = citations(t, refs.map(Vec::as_slice).unwrap_or(&[]));
            }
        }
    }

    let meta_obj = m.get("metadata");
    let weight = m.get("weight").and_then(Value::as_f64).unwrap_or(1.0);
    let recipient = str_of(m, "recipient");
    let hidden = meta_obj
        .and_then(|md| md.get("is_visually_hidden_from_conversation"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let base_visible = (generated_image
        || canvas
        || (matches!(role_str, "user" | "assistant")
            && weight != 0.0
            && recipient.is_none_or(|r| r == "all")))
        && !hidden
        && !HIDDEN_TYPES.contains(&ct.as_str());

    let mut meta = BTreeMap::new();
    meta.insert("content_type".to_string(), ct.clone());
    if let Some(id) = str_of(m, "id") {
        meta.insert("message_id".to_string(), id.to_string());
    }
    if node_id != str_of(m, "id").unwrap_or(node_id) {
        meta.insert("node_id".to_string(), node_id.to_string());
    }
    if let Some(r) = recipient {
        meta.insert("recipient".to_string(), r.to_string());
    }
    if let Some(s) = meta_obj.and_then(|md| str_of(md, "model_slug")) {
        meta.insert("model_slug".to_string(), s.to_string());
    }
    if let Some(n) = m.pointer("/author/name").and_then(Value::as_str) {
        meta.insert("author_name".to_string(), n.to_string());
    }
    if role_str != role.as_str() {
        meta.insert("author_role".to_string(), role_str.to_string());
    }
    if weight != 1.0 {
        meta.insert("weight".to_string(), weight.to_string());
    }
    if hidden {
        meta.insert("hidden".to_string(), "true".to_string());
    }
    if generated_image {
        meta.insert("generated".to_string(), "image".to_string());
    }
    if canvas {
        meta.insert("canvas".to_string(), recipient_str.to_string());
    }
    for k in ["url", "title", "domain", "name"] {
        if ct != "text"
            && let Some(s) = str_of(c, k)
        {
            meta.insert(k.to_string(), s.to_string());
        }
    }
    let created = m.get("create_time").and_then(secs_to_ms);

    Ok(parts
        .into_iter()
        .map(|(kind, text)| {
            let mut out = msg(String::new(), None, role, kind, text);
            out.visible = base_visible && !out.text.trim().is_empty();
            out.lang = if kind == Kind::Code {
                canvas_lang.clone().or_else(|| lang.map(str::to_string))
            } else {
                None
            };
            out.created_at_ms = created;
            out.meta = meta.clone();
            out
        })
        .collect())
}

/// Parts of a multimodal message: consecutive strings merge into one text part, images and
/// other assets become their own parts.
fn multimodal(c: &Value, text_kind: Kind) -> Vec<(Kind, String)> {
    let mut out: Vec<(Kind, String)> = Vec::new();
    let push_text = |out: &mut Vec<(Kind, String)>, s: &str| {
        if s.is_empty() {
            return;
        }
        match out.last_mut() {
            Some((k, t)) if *k == text_kind => {
                t.push('\n');
                t.push_str(s);
            }
            _ => out.push((text_kind, s.to_string())),
        }
    };
    if let Some(a) = c.get("parts").and_then(Value::as_array) {
        for p in a {
            match p {
                Value::String(s) => push_text(&mut out, s),
                Value::Object(_) => {
                    let pct = str_of(p, "content_type").unwrap_or("");
                    if let Some(ptr) = str_of(p, "asset_pointer") {
                        let kind = if pct == "image_asset_pointer" {
                            Kind::Image
                        } else {
                            Kind::File
                        };
                        out.push((kind, ptr.to_string()));
                    } else if let Some(t) = str_of(p, "text") {
                        push_text(&mut out, t);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Newer content: generated images, canvas documents, citations

/// The tool that generates images since 2025 (before: `dalle.text2im`).
const IMAGE_GEN_TOOL: &str = "t2uay3k.sj1i4kz";

/// Canvas documents of a conversation as they stand, by name, while its messages are read in
/// order (an update is a list of regular-expression replacements on the document before it).
#[derive(Default)]
pub(crate) struct Canvases {
    docs: Vec<(String, String, Kind, Option<String>)>,
}

/// Longest canvas document rebuilt, in bytes (replacements can grow a document).
const MAX_CANVAS: usize = 4 * 1024 * 1024;

/// The code language a canvas type names (`code/python` → `python`).
fn canvas_lang(ty: &str) -> Option<String> {
    ty.strip_prefix("code/")
        .filter(|l| !l.is_empty())
        .map(str::to_string)
}

/// The parts of a canvas call: the document it created or the document after its updates, as
/// code (with its language) or Markdown; the call's own text when it does not parse (7 of 37
/// real creates do not parse strictly: truncated or badly escaped).
fn canvas_parts(
    recipient: &str,
    raw: &str,
    canvases: &mut Canvases,
) -> (Vec<(Kind, String)>, Option<String>) {
    let parsed: Option<Value> = serde_json::from_str(raw)
        .ok()
        .or_else(|| serde_json::from_str(&escape_controls_in_strings(raw)).ok());
    let kind_of = |t: &str| {
        if t.starts_with("code") {
            Kind::Code
        } else {
            Kind::Markdown
        }
    };
    let Some(v) = parsed else {
        return (vec![(Kind::Other, raw.to_string())], None);
    };
    match recipient {
        "canmore.create_textdoc" => {
            let name = str_of(&v, "name").unwrap_or("document").to_string();
            let ty = str_of(&v, "type").unwrap_or("document");
            let content = str_of(&v, "content").unwrap_or("").to_string();
            canvases.docs.retain(|(n, _, _, _)| *n != name);
            canvases
                .docs
                .push((name, content.clone(), kind_of(ty), canvas_lang(ty)));
            (vec![(kind_of(ty), content)], canvas_lang(ty))
        }
        "canmore.update_textdoc" => {
            // Updates apply to the document written last (the call names no document).
            let Some((_, doc, kind, lang)) = canvases.docs.last_mut() else {
                return (vec![(Kind::Other, raw.to_string())], None);
            };
            let updates = v.get("updates").and_then(Value::as_array);
            for u in updates.into_iter().flatten() {
                let (Some(pattern), Some(replacement)) =
                    (str_of(u, "pattern"), str_of(u, "replacement"))
                else {
                    continue;
                };
                let Ok(re) = regex::RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .dot_matches_new_line(true)
                    .build()
                else {
                    continue;
                };
                // The replacement is literal text (`$` in code must stay `$`).
                let rep = regex::NoExpand(replacement);
                let next = if u.get("multiple").and_then(Value::as_bool).unwrap_or(false) {
                    re.replace_all(doc, rep).into_owned()
                } else {
                    re.replace(doc, rep).into_owned()
                };
                if next.len() <= MAX_CANVAS {
                    *doc = next;
                }
            }
            (vec![(*kind, doc.clone())], lang.clone())
        }
        _ => (vec![(Kind::Other, raw.to_string())], None),
    }
}

/// Whether `c` is one of the private-use characters ChatGPT marks citations with.
fn is_marker_char(c: char) -> bool {
    ('\u{e200}'..='\u{e206}').contains(&c)
}

/// The text with its citation markers (`\u{e200}cite\u{e202}turn0search0\u{e201}`) replaced by
/// what the person saw: a link to the source (from `content_references`), an entity's name,
/// nothing for hidden markers; and a list of the sources at the end when the answer had one.
fn citations(text: &str, refs: &[Value]) -> String {
    let mut out = text.to_string();
    let mut footnote = String::new();
    for r in refs {
        let Some(matched) = str_of(r, "matched_text").filter(|m| !m.trim().is_empty()) else {
            if str_of(r, "type") == Some("sources_footnote") {
                for s in r
                    .get("sources")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let (Some(t), Some(u)) = (str_of(s, "title"), str_of(s, "url")) {
                        footnote.push_str(&format!("\n- [{t}]({u})"));
                    }
                }
            }
            continue;
        };
        if !out.contains(matched) {
            continue;
        }
        let link = || {
            let item = r.pointer("/items/0")?;
            Some(format!(
                "([{}]({}))",
                str_of(item, "title")?,
                str_of(item, "url")?
            ))
        };
        let replacement = match str_of(r, "type") {
            Some("hidden") => String::new(),
            _ => str_of(r, "alt")
                .filter(|a| !a.trim().is_empty())
                .map(|a| a.trim().to_string())
                .or_else(link)
                .unwrap_or_default(),
        };
        out = out.replacen(matched, &replacement, 1);
    }
    // Markers without a reference: an entity keeps its name, anything else goes.
    let mut clean = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(start) = rest.find('\u{e200}') {
        clean.push_str(&rest[..start]);
        let after = &rest[start + '\u{e200}'.len_utf8()..];
        let Some(end) = after.find('\u{e201}') else {
            rest = after;
            continue;
        };
        let fields: Vec<&str> = after[..end].split('\u{e202}').collect();
        if fields.first() == Some(&"entity")
            && let Some(name) = fields
                .get(1)
                .and_then(|f| serde_json::from_str::<Vec<String>>(f).ok())
                .and_then(|v| v.get(1).cloned())
        {
            clean.push_str(&name);
        }
        rest = &after[end + '\u{e201}'.len_utf8()..];
    }
    clean.push_str(rest);
    let mut clean: String = clean.chars().filter(|c| !is_marker_char(*c)).collect();
    if !footnote.is_empty() && !clean.contains("\nSources:") {
        clean.push_str("\n\nSources:");
        clean.push_str(&footnote);
    }
    clean
}

/// `raw` with the control characters inside its JSON strings escaped (a canvas call's JSON is
/// sometimes written with raw newlines in its strings, which strict JSON refuses).
fn escape_controls_in_strings(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 16);
    let (mut in_string, mut escaped) = (false, false);
    for c in raw.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            } else if c.is_control() {
                match c {
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    other => out.push_str(&format!("\\u{:04x}", u32::from(other))),
                }
                continue;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    out
}
