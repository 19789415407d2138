//! The dispatcher: detects an export's format from its first bytes and runs the parser for it,
//! inside the size limit. Parsers and the shared machinery ([`super::common`]) never call back
//! here.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use super::common::{Ctx, Limited, Sink};
use super::{DETECT_PREFIX_BYTES, Format, ImportError};

/// Wraps `reader` in the size limit, detects the format if needed and runs its parser.
pub(crate) fn parse_stream<R: Read>(
    reader: R,
    format: Format,
    max: u64,
    what: &str,
    ctx: &mut Ctx<'_>,
    sink: Sink<'_>,
) -> Result<Format, ImportError> {
    ctx.what = what.to_string();
    ctx.max = max;
    ctx.tripped = Rc::new(Cell::new(None));
    let mut limited = Limited::new(reader, max, ctx.tripped.clone());
    let mut prefix = Vec::new();
    let format = if format == Format::Auto {
        (&mut limited)
            .take(DETECT_PREFIX_BYTES as u64)
            .read_to_end(&mut prefix)
            .map_err(|e| ctx.io_error(e))?;
        match detect(&prefix) {
            Some(f) => f,
            None => return Err(unknown_format(&prefix, ctx.member.as_deref())),
        }
    } else {
        format
    };
    let reader = io::Cursor::new(prefix).chain(limited);
    match format {
        Format::Auto => return Err(unknown_format(&[], ctx.member.as_deref())),
        Format::ChatGpt => super::chatgpt::parse_export(reader, ctx, sink)?,
        Format::Claude => super::claude::parse(reader, ctx, sink)?,
        // Google Takeout's My Activity, as JSON or (its default) HTML.
        Format::Gemini => super::gemini_html::parse_any(reader, ctx, sink)?,
        Format::ChatGptShare => super::chatgpt_share::parse(reader, ctx, sink)?,
        Format::ShareGpt => super::sharegpt::parse(reader, ctx, sink)?,
        Format::Markdown => super::markdown::parse(reader, ctx, sink)?,
    }
    Ok(format)
}

/// The `UnknownFormat` error with a hint about what the content looked like.
pub(crate) fn unknown_format(prefix: &[u8], member: Option<&str>) -> ImportError {
    let what = if prefix.iter().all(|b| b.is_ascii_whitespace()) {
        "the content is empty".to_string()
    } else if prefix.starts_with(b"PK\x03\x04") {
        "a zip archive must be given as a file path".to_string()
    } else if std::str::from_utf8(prefix).is_err_and(|e| e.error_len().is_some()) {
        "the content is not text".to_string()
    } else {
        "not a known JSON, HTML or Markdown export".to_string()
    };
    match member {
        Some(m) => ImportError::UnknownFormat(format!(" of {m} ({what})")),
        None => ImportError::UnknownFormat(format!(" ({what})")),
    }
}

/// Content-based detection (see [`super::detect`]).
pub(crate) fn detect(prefix: &[u8]) -> Option<Format> {
    if prefix.starts_with(b"PK\x03\x04") {
        return None;
    }
    let mut p = prefix;
    if p.starts_with(b"\xEF\xBB\xBF") {
        p = &p[3..];
    }
    let start = p.iter().position(|b| !b.is_ascii_whitespace())?;
    let p = &p[start..];
    // Text must be (mostly) UTF-8: allow a character cut at the end of the prefix.
    let text = match std::str::from_utf8(p) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&p[..e.valid_up_to()]).ok()?,
        Err(_) => return None,
    };
    match p[0] {
        b'[' | b'{' => detect_json(text),
        b'<' => detect_html(text),
        _ => detect_markdown(text),
    }
}

/// Position of `"key"` used as an object key (followed by optional whitespace and `:`).
fn key_pos(text: &str, key: &str) -> Option<usize> {
    let pat = format!("\"{key}\"");
    let mut from = 0;
    while let Some(i) = text[from..].find(&pat) {
        let at = from + i;
        let rest = text[at + pat.len()..].trim_start();
        if rest.starts_with(':') {
            return Some(at);
        }
        from = at + pat.len();
    }
    None
}

fn detect_json(text: &str) -> Option<Format> {
    let mut candidates: Vec<(usize, Format)> = Vec::new();
    if let Some(i) = key_pos(text, "mapping") {
        candidates.push((i, Format::ChatGpt));
    }
    if let Some(i) = key_pos(text, "chat_messages") {
        candidates.push((i, Format::Claude));
    }
    if let Some(i) = key_pos(text, "safeHtmlItem") {
        candidates.push((i, Format::Gemini));
    }
    for marker in ["\"Gemini Apps\"", "\"Bard\""] {
        if let Some(h) = key_pos(text, "header") {
            let rest = text[h + 8..]
                .trim_start()
                .trim_start_matches(':')
                .trim_start();
            if rest.starts_with(marker) {
                candidates.push((h, Format::Gemini));
            }
        }
    }
    if let Some(i) = key_pos(text, "conversations") {
        let rest = &text[i..];
        if key_pos(rest, "from").is_some() || key_pos(rest, "value").is_some() || rest.len() < 64 {
            candidates.push((i, Format::ShareGpt));
        }
    }
    candidates.sort_by_key(|c| c.0);
    candidates.first().map(|c| c.1)
}

fn detect_html(text: &str) -> Option<Format> {
    let lower: String = text
        .chars()
        .take(DETECT_PREFIX_BYTES)
        .collect::<String>()
        .to_lowercase();
    if !(lower.starts_with("<!doctype html") || lower.contains("<html")) {
        return None;
    }
    if lower.contains("__reactroutercontext")
        || lower.contains("chatgpt.com/share")
        || lower.contains("chat.openai.com/share")
        || lower.contains("<title>chatgpt")
    {
        return Some(Format::ChatGptShare);
    }
    // Takeout's own class names (the page title is translated); the parser refuses a page of
    // another product with a clear error.
    if lower.contains("outer-cell")
        || lower.contains("content-cell")
        || lower.contains("<title>my activity")
    {
        return Some(Format::Gemini);
    }
    None
}

fn detect_markdown(text: &str) -> Option<Format> {
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        if super::markdown::role_heading(line).is_some() {
            return Some(Format::Markdown);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn detect_prefers_the_earliest_key() {
        assert_eq!(
            detect(br#"[{"title": "x", "mapping": {"a": {"text": "\"chat_messages\": "}}}"#),
            Some(Format::ChatGpt)
        );
        assert_eq!(
            detect(br#"[{"uuid": "u", "name": "mapping", "chat_messages": []}]"#),
            Some(Format::Claude)
        );
        assert_eq!(
            detect(b"\xEF\xBB\xBF[{\"header\": \"Gemini Apps\", \"title\": \"Prompted hi\"}]"),
            Some(Format::Gemini)
        );
        // A prefix cut in the middle of a UTF-8 character still detects.
        let mut p = br#"[{"mapping": {"t": "caf"#.to_vec();
        p.push(0xC3);
        assert_eq!(detect(&p), Some(Format::ChatGpt));
        assert_eq!(detect(&[0xFF, 0xFE, 0x00, 0x5B]), None);
    }
}
