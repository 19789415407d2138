//! Snippets: the highlighted fragment tantivy picks, or the start of the text when nothing in
//! it matched (title-only matches, filter-only listings), and their HTML rendering.

use tantivy::snippet::{SnippetGenerator, collapse_overlapped_ranges};

/// The longest snippet, in bytes.
pub const SNIPPET_MAX_CHARS: usize = 200;

/// A snippet: the fragment, highlighted byte ranges into it (sorted, non-overlapping), and
/// its HTML.
pub(super) struct Built {
    pub text: String,
    pub highlights: Vec<(usize, usize)>,
    pub html: String,
}

/// Builds the snippet of `text` with `generator` (if the query had text terms).
pub(super) fn build(generator: Option<&SnippetGenerator>, text: &str) -> Built {
    if let Some(g) = generator {
        let s = g.snippet(text);
        if !s.highlighted().is_empty() {
            // tantivy's fragment runs to the last token it kept, dropping punctuation at the end
            // ("…unique" for "…unique."), and may start with whitespace. When the whole text
            // fits, show all of it (the fragment is a substring of it); else the trimmed
            // fragment. Highlight `r` (relative to the fragment) moves to `r + add - sub`.
            let frag = s.fragment();
            let frag_lead = frag.len() - frag.trim_start().len();
            let text_lead = text.len() - text.trim_start().len();
            let (shown, add, sub) = match text.find(frag) {
                Some(at) if text.trim().len() <= SNIPPET_MAX_CHARS => (text.trim(), at, text_lead),
                _ => (frag.trim(), 0, frag_lead),
            };
            let fragment = shown.to_string();
            let highlights: Vec<(usize, usize)> = collapse_overlapped_ranges(s.highlighted())
                .into_iter()
                .filter_map(|r| {
                    Some((r.start + add).checked_sub(sub)?..(r.end + add).checked_sub(sub)?)
                })
                .filter(|r| {
                    r.start < r.end
                        && r.end <= fragment.len()
                        && fragment.is_char_boundary(r.start)
                        && fragment.is_char_boundary(r.end)
                })
                .map(|r| (r.start, r.end))
                .collect();
            let html = to_html(&fragment, &highlights);
            return Built {
                text: fragment,
                highlights,
                html,
            };
        }
    }
    let head = head(text, SNIPPET_MAX_CHARS).to_string();
    let html = escape_html(&head);
    Built {
        text: head,
        highlights: Vec::new(),
        html,
    }
}

/// At most `max` bytes from the start of `text`, cut at a char boundary and, when one is near
/// the end, at whitespace so that no word is cut in half.
pub(super) fn head(text: &str, max: usize) -> &str {
    let text = text.trim_start();
    if text.len() <= max {
        return text.trim_end();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = &text[..end];
    match cut.rfind(char::is_whitespace) {
        Some(ws) if ws >= end * 3 / 4 => cut[..ws].trim_end(),
        _ => cut,
    }
}

/// `fragment` HTML-escaped, with each highlighted range wrapped in `<b>…</b>`. `highlights`
/// must be sorted, non-overlapping, on char boundaries.
pub(super) fn to_html(fragment: &str, highlights: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(fragment.len() + highlights.len() * 7 + 16);
    let mut at = 0;
    for &(start, end) in highlights {
        if start < at {
            continue;
        }
        escape_into(&mut out, &fragment[at..start]);
        out.push_str("<b>");
        escape_into(&mut out, &fragment[start..end]);
        out.push_str("</b>");
        at = end;
    }
    escape_into(&mut out, &fragment[at..]);
    out
}

/// `s` with `& < > " '` escaped, safe inside HTML text and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html(r#"<script>alert("x&y's")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;y&#39;s&quot;)&lt;/script&gt;"
        );
    }

    #[test]
    fn html_wraps_ranges_and_escapes_between() {
        let f = "a<b> rust & rust";
        let html = to_html(f, &[(5, 9), (12, 16)]);
        assert_eq!(html, "a&lt;b&gt; <b>rust</b> &amp; <b>rust</b>");
    }

    #[test]
    fn head_cuts_on_char_boundary_and_words() {
        assert_eq!(head("  short  ", 200), "short");
        let s = "é".repeat(150); // 300 bytes, no whitespace
        let h = head(&s, 200);
        assert!(h.len() <= 200 && h.chars().all(|c| c == 'é'));
        let words = "word ".repeat(100);
        let h = head(&words, 200);
        assert!(h.len() <= 200);
        assert!(h.ends_with("word"));
    }
}
