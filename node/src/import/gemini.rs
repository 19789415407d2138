//! Gemini: Google Takeout "My Activity" JSON. Each prompt is an entry; entries close in time
//! (gap under 30 minutes) are grouped into one conversation.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;
use vivim_protocol::{Kind, Role};

use super::common::{self, Ctx, Sink, hash_id, iso_to_ms, msg, str_of};
use super::{ImportError, ImportedConversation, ImportedMessage};

const FORMAT: &str = "gemini";
/// Entries further apart than this start a new conversation.
pub(crate) const GAP_MS: u64 = 30 * 60 * 1000;

struct Entry {
    index: usize,
    time: u64,
    time_str: String,
    prompt: String,
    response: String,
    files: Vec<String>,
    product: String,
}

pub(crate) fn parse<R: Read>(
    reader: R,
    ctx: &mut Ctx<'_>,
    sink: Sink<'_>,
) -> Result<(), ImportError> {
    // Grouping needs the entries sorted by time, so keep the (small) parsed entries.
    let mut entries: Vec<Entry> = Vec::new();
    common::stream_array(
        reader,
        FORMAT,
        ctx,
        &mut |ctx, index, v| match entry(&v, index) {
            Ok(Some(e)) => {
                entries.push(e);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(err) => {
                let title = str_of(&v, "title").map(str::to_string);
                ctx.emit(sink, index, Err(err), None, title)
            }
        },
    )?;
    entries.sort_by(|a, b| a.time.cmp(&b.time).then(a.index.cmp(&b.index)));
    let mut group: Vec<Entry> = Vec::new();
    for e in entries {
        if let Some(last) = group.last()
            && e.time.saturating_sub(last.time) >= GAP_MS
        {
            flush(ctx, sink, std::mem::take(&mut group))?;
        }
        group.push(e);
    }
    flush(ctx, sink, group)
}

fn flush(ctx: &mut Ctx<'_>, sink: Sink<'_>, group: Vec<Entry>) -> Result<(), ImportError> {
    let Some(first) = group.first() else {
        return Ok(());
    };
    let index = first.index;
    let source_id = hash_id(&[
        b"gemini",
        first.time_str.as_bytes(),
        first.prompt.as_bytes(),
    ]);
    let title = common::title_from(&first.prompt, 80);
    let created = first.time;
    let updated = group.last().map_or(created, |e| e.time);
    let mut messages: Vec<ImportedMessage> = Vec::new();
    let mut prev: Option<String> = None;
    for e in &group {
        let base = hash_id(&[e.time_str.as_bytes(), e.prompt.as_bytes()]);
        let base = &base[..32];
        let mut push =
            |id: String, role: Role, kind: Kind, text: String, meta: BTreeMap<String, String>| {
                let mut m = msg(id.clone(), prev.take(), role, kind, text);
                m.created_at_ms = Some(e.time);
                m.visible = !m.text.trim().is_empty();
                m.meta = meta;
                messages.push(m);
                prev = Some(id);
            };
        let product = BTreeMap::from([("product".to_string(), e.product.clone())]);
        push(
            format!("{base}-u"),
            Role::User,
            Kind::Text,
            e.prompt.clone(),
            product.clone(),
        );
        for (n, f) in e.files.iter().enumerate() {
            let mut meta = product.clone();
            meta.insert("file_name".into(), f.clone());
            push(
                format!("{base}-u#{}", n + 2),
                Role::User,
                Kind::File,
                f.clone(),
                meta,
            );
        }
        if !e.response.is_empty() {
            push(
                format!("{base}-a"),
                Role::Assistant,
                Kind::Markdown,
                e.response.clone(),
                product,
            );
        }
    }
    let head = messages.last().map(|m| m.id.clone());
    let conv = ImportedConversation {
        provider: "gemini".into(),
        source_id: source_id.clone(),
        title: title.clone(),
        source_url: None,
        created_at_ms: created,
        updated_at_ms: updated,
        model: None,
        messages,
        head,
    };
    ctx.emit(sink, index, Ok(conv), Some(source_id), Some(title))
}

/// Reads one activity entry; `Ok(None)` for entries that are not prompts (feedback, settings).
fn entry(v: &Value, index: usize) -> Result<Option<Entry>, String> {
    if !v.is_object() {
        return Err("an activity entry must be a JSON object".into());
    }
    let header = str_of(v, "header").unwrap_or("");
    let products: Vec<&str> = v
        .get("products")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let is_gemini = |s: &str| s == "Gemini Apps" || s == "Bard" || s == "Gemini";
    if !is_gemini(header) && !products.iter().any(|p| is_gemini(p)) {
        return Ok(None);
    }
    let title = str_of(v, "title").ok_or("missing \"title\"")?;
    let prompt = match title.strip_prefix("Prompted ") {
        Some(p) => p.trim().to_string(),
        None => return Ok(None),
    };
    let time_str = str_of(v, "time").ok_or("missing \"time\"")?;
    let time = iso_to_ms(time_str).ok_or_else(|| format!("invalid \"time\" {time_str:?}"))?;
    let response = v
        .get("safeHtmlItem")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|h| str_of(h, "html"))
                .map(html_to_text)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("\n\n")
        })
        .unwrap_or_default();
    let files = v
        .get("attachedFiles")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| match f {
                    Value::String(s) => Some(s.clone()),
                    _ => str_of(f, "name")
                        .or_else(|| str_of(f, "fileName"))
                        .map(str::to_string),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(Entry {
        index,
        time,
        time_str: time_str.to_string(),
        prompt,
        response,
        files,
        product: if header.is_empty() {
            "Gemini Apps".into()
        } else {
            header.into()
        },
    }))
}

/// HTML to readable text: block elements become line breaks, list items get `- `, scripts and
/// styles are dropped, entities are decoded.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut skip_until: Option<&'static str> = None;
    loop {
        if let Some(end) = skip_until.take() {
            // Inside <script>/<style>: skip to the closing tag, whatever the content holds.
            let lower = rest.to_ascii_lowercase();
            rest = match lower.find(&format!("</{end}")) {
                Some(i) => rest[i..].find('>').map_or("", |g| &rest[i + g + 1..]),
                None => "",
            };
            continue;
        }
        let Some(lt) = rest.find('<') else { break };
        let after = &rest[lt + 1..];
        let starts_tag =
            after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!');
        let gt = after.find('>');
        let (true, Some(gt)) = (starts_tag, gt) else {
            // Not a tag: keep the '<' as text.
            out.push_str(&decode_entities(&rest[..=lt]));
            rest = after;
            continue;
        };
        out.push_str(&decode_entities(&rest[..lt]));
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match name.as_str() {
            "script" if !closing => skip_until = Some("script"),
            "style" if !closing => skip_until = Some("style"),
            "br" => out.push('\n'),
            "li" if !closing => {
                ensure_newline(&mut out);
                out.push_str("- ");
            }
            "p" | "div" | "ul" | "ol" | "pre" | "blockquote" | "table" | "tr" | "h1" | "h2"
            | "h3" | "h4" | "h5" | "h6" | "li" | "hr" => {
                ensure_newline(&mut out);
                if matches!(name.as_str(), "p" | "pre" | "table" | "ul" | "ol")
                    || name.starts_with('h')
                {
                    out.push('\n');
                }
            }
            "td" | "th" if closing => out.push('\t'),
            _ => {}
        }
    }
    out.push_str(&decode_entities(rest));
    // Collapse runs of blank lines and trim trailing spaces.
    let mut result = String::with_capacity(out.len());
    let mut blank = 0;
    for line in out.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        result.push_str(line);
        result.push('\n');
    }
    result.trim().to_string()
}

fn ensure_newline(out: &mut String) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

/// Decodes the common named entities and numeric character references.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &after[..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ if name.starts_with("#x") || name.starts_with("#X") => {
                    u32::from_str_radix(&name[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if name.starts_with('#') => name[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_to_text_is_sensible() {
        assert_eq!(
            html_to_text("<p>a &amp; b</p><p>c&#39;s &#x263A;</p>"),
            "a & b\n\nc's ☺"
        );
        assert_eq!(
            html_to_text("x<style>p{}</style>y<script>if (a<b) {}</script>z"),
            "xyz"
        );
        assert_eq!(html_to_text("1 < 2 &unknown; done"), "1 < 2 &unknown; done");
        assert_eq!(html_to_text("a < b > c <b>d</b>"), "a < b > c d");
        assert_eq!(html_to_text("<script>never closed"), "");
        assert_eq!(html_to_text("<ol><li>a</li><li>b</li></ol>"), "- a\n- b");
        assert_eq!(
            html_to_text("<pre><code>let x = 1;\nlet y = 2;</code></pre>"),
            "let x = 1;\nlet y = 2;"
        );
    }
}
