//! Gemini: Google Takeout "My Activity" for Gemini Apps in its default HTML form
//! (`My Activity/Gemini Apps/MyActivity.html`). It holds the same activity as the JSON form read
//! by `super::gemini`, one cell per entry, newest first:
//!
//! ```text
//! <div class="outer-cell …"><div class="mdl-grid">
//!  <div class="header-cell …"><p class="mdl-typography--title">Gemini Apps<br></p></div>
//!  <div class="content-cell … mdl-typography--body-1">Prompted&nbsp;PROMPT<br>
//!    [extra lines<br>]TIMESTAMP<br>RESPONSE-HTML</div>
//!  <div class="content-cell … mdl-typography--body-1 mdl-typography--text-right"></div>
//!  <div class="content-cell … mdl-typography--caption"><b>Products:</b>…</div>
//! </div></div>
//! ```
//!
//! The page is regular, so a small tag scanner reads it (no HTML5 engine). The verb before the
//! prompt ("Prompted") and the date are localized. English dates ("Jan 5, 2025, 10:32:11 AM PST")
//! are read with their zone. An entry whose date cannot be read is kept: it gets the time of the
//! nearest older entry (the page is newest first), becomes a conversation of its own, and its
//! messages say so in their meta (`time_text`, `time_fallback`). Entries are grouped into
//! conversations and converted as in the JSON form (a gap of `GAP_MS` or more starts a new one).

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read};

use vivim_protocol::{Kind, Role};

use super::common::{self, Ctx, Sink, hash_id, msg, read_all_text};
use super::gemini::{self, GAP_MS, decode_entities, html_to_text};
use super::{ImportError, ImportedConversation, ImportedMessage};

const FORMAT: &str = "gemini";
/// The English verb before a prompt (the JSON form's titles start with it too).
const PROMPTED: &str = "Prompted";
/// The product of an entry without a header cell.
const DEFAULT_PRODUCT: &str = "Gemini Apps";
/// Longest line (in chars) taken for a timestamp.
const MAX_TIME_CHARS: usize = 100;
/// Longest localized verb (in chars) before the prompt ("Prompted", "Pokyn", …).
const MAX_VERB_CHARS: usize = 40;
/// How far into an entry's first line the verb's end is looked for (bytes).
const VERB_WINDOW: usize = 256;
/// The ways a no-break space is written after the verb.
const NBSP_FORMS: [&str; 4] = ["&nbsp;", "&#160;", "&#xa0;", "\u{a0}"];
/// Why an entry without a time line is bad.
const NO_TIME: &str = "no time line (such as \"Jan 5, 2025, 10:32:11 AM PST\") after the prompt";
/// What a message's meta says when its time could not be read.
const FALLBACK_NOTE: &str = "time of the next older entry (date not readable)";

/// Reads either form of the Gemini Takeout: the HTML page when the content starts with `<`
/// (after whitespace and a byte order mark), the JSON form otherwise.
pub(crate) fn parse_any<R: Read>(
    mut reader: R,
    ctx: &mut Ctx<'_>,
    sink: Sink<'_>,
) -> Result<(), ImportError> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match reader.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {
                head.push(byte[0]);
                if !(byte[0].is_ascii_whitespace() || matches!(byte[0], 0xEF | 0xBB | 0xBF)) {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ctx.io_error(e)),
        }
    }
    let is_html = head.last() == Some(&b'<');
    let reader = io::Cursor::new(head).chain(reader);
    if is_html {
        parse_html(reader, ctx, sink)
    } else {
        gemini::parse(reader, ctx, sink)
    }
}

/// Reads a Gemini Apps `MyActivity.html` and hands its conversations to `sink`, oldest first.
/// Entries without a time line become bad items; a page that is not a My Activity page, or one
/// for another product only, is an error.
pub(crate) fn parse_html<R: Read>(
    reader: R,
    ctx: &mut Ctx<'_>,
    sink: Sink<'_>,
) -> Result<(), ImportError> {
    let html = read_all_text(reader, ctx)?;
    let page = scan_page(&html);
    if !page.activity {
        return Err(ctx.malformed(
            FORMAT,
            "page",
            "not a Google Takeout My Activity page (no div.outer-cell or div.content-cell)",
        ));
    }
    let foreign = |c: &Cell<'_>| c.product.as_deref().is_some_and(|p| !is_gemini(p));
    if !page.cells.is_empty() && page.cells.iter().all(foreign) {
        let other = page
            .cells
            .iter()
            .find_map(|c| c.product.as_deref())
            .unwrap_or_default();
        return Err(ctx.malformed(
            FORMAT,
            "page",
            format!("a My Activity page for {other:?}, not for Gemini Apps"),
        ));
    }
    let raws: Vec<RawEntry<'_>> = page
        .cells
        .into_iter()
        .filter(|c| !foreign(c))
        .map(RawEntry::read)
        .collect();
    let page_verb = page_verb(&raws);
    let english = page_verb.as_deref() == Some(PROMPTED);

    let mut entries: Vec<Entry> = Vec::with_capacity(raws.len());
    let mut seen: HashSet<String> = HashSet::new();
    for raw in raws {
        let prompt = match (&raw.verb, page_verb.as_deref()) {
            (Some(v), Some(verb)) if v.word == verb => text_of(v.rest),
            // Another kind of activity (feedback, settings, "Used Gemini Apps"): the JSON form
            // skips these too.
            (_, Some(_)) if english || raw.response.is_empty() => continue,
            _ => text_of(raw.head),
        };
        let Some(time_text) = raw.time else {
            let title = common::title_from(&prompt, 80);
            ctx.emit(sink, raw.index, Err(NO_TIME.into()), None, Some(title))?;
            continue;
        };
        let (time, fallback, key, time_meta) = match parse_english_time(&time_text) {
            Some(t) if t.zone_known => (t.ms, false, time_key(t.ms), Vec::new()),
            Some(t) => {
                let meta = vec![
                    ("time_text", time_text),
                    ("time_zone", "unknown, read as UTC".to_string()),
                ];
                (t.ms, false, time_key(t.ms), meta)
            }
            None => {
                let key = time_text.clone();
                let meta = vec![
                    ("time_text", time_text),
                    ("time_fallback", FALLBACK_NOTE.to_string()),
                ];
                (0, true, key, meta)
            }
        };
        let key = unique_key(&mut seen, key, &prompt);
        let (files, subtitles) = read_extras(&raw.extras);
        entries.push(Entry {
            index: raw.index,
            time,
            fallback,
            key,
            time_meta,
            prompt,
            response: raw.response,
            files,
            subtitles,
            product: raw.product,
        });
    }

    // Entries are newest first: an unreadable time borrows the next older readable one.
    let mut older = 0;
    for e in entries.iter_mut().rev() {
        if e.fallback {
            e.time = older;
        } else {
            older = e.time;
        }
    }
    // Oldest first; at the same time, the later in the file is the older.
    entries.sort_by(|a, b| a.time.cmp(&b.time).then(b.index.cmp(&a.index)));
    let mut group: Vec<Entry> = Vec::new();
    for e in entries {
        if let Some(last) = group.last()
            && (e.fallback || last.fallback || e.time.saturating_sub(last.time) >= GAP_MS)
        {
            emit_group(ctx, sink, std::mem::take(&mut group))?;
        }
        group.push(e);
    }
    emit_group(ctx, sink, group)
}

/// The time part of entry ids: the UTC second, so that the HTML form (seconds) and the JSON
/// form (milliseconds) of one entry give the same key.
pub(crate) fn time_key(ms: u64) -> String {
    let secs = ms / 1000;
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(
            || secs.to_string(),
            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

/// Makes `key` unique for `prompt` among the entries read so far (`key~2`, `key~3`, …), so that
/// an entry repeated in the same second does not repeat ids.
fn unique_key(seen: &mut HashSet<String>, key: String, prompt: &str) -> String {
    if seen.insert(hash_id(&[key.as_bytes(), prompt.as_bytes()])) {
        return key;
    }
    let mut n = 2u64;
    loop {
        let k = format!("{key}~{n}");
        if seen.insert(hash_id(&[k.as_bytes(), prompt.as_bytes()])) {
            return k;
        }
        n += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Entries

/// One entry, read.
struct Entry {
    /// Position among the page's entries (0 = newest).
    index: usize,
    time: u64,
    /// The time was not readable (`time` is borrowed from an older entry).
    fallback: bool,
    /// The time part of the ids (see [`time_key`]; the time text when not readable).
    key: String,
    /// Meta added to every message of the entry (notes about the time).
    time_meta: Vec<(&'static str, String)>,
    prompt: String,
    response: String,
    files: Vec<Attachment>,
    /// Extra lines between the prompt and the time that are not attachments.
    subtitles: Vec<String>,
    product: String,
}

/// A file attached to a prompt (`-  <a href="image_….png">image_….png</a>`).
struct Attachment {
    name: String,
    /// The file's name in the Takeout folder (a relative link).
    path: Option<String>,
    /// An absolute link.
    url: Option<String>,
}

/// Hands one group of entries to the sink as a conversation, built as the JSON form builds it.
fn emit_group(ctx: &mut Ctx<'_>, sink: Sink<'_>, group: Vec<Entry>) -> Result<(), ImportError> {
    let Some(first) = group.first() else {
        return Ok(());
    };
    let index = first.index;
    let source_id = hash_id(&[b"gemini", first.key.as_bytes(), first.prompt.as_bytes()]);
    let title = common::title_from(&first.prompt, 80);
    let created = first.time;
    let updated = group.last().map_or(created, |e| e.time);
    let mut messages: Vec<ImportedMessage> = Vec::new();
    let mut prev: Option<String> = None;
    for e in group {
        let base = hash_id(&[e.key.as_bytes(), e.prompt.as_bytes()]);
        let base = &base[..32];
        let time = e.time;
        let mut push =
            |id: String, role: Role, kind: Kind, text: String, meta: BTreeMap<String, String>| {
                let mut m = msg(id.clone(), prev.take(), role, kind, text);
                m.created_at_ms = Some(time);
                m.visible = !m.text.trim().is_empty();
                m.meta = meta;
                messages.push(m);
                prev = Some(id);
            };
        let mut meta = BTreeMap::from([("product".to_string(), e.product)]);
        meta.extend(e.time_meta.into_iter().map(|(k, v)| (k.to_string(), v)));
        let mut user_meta = meta.clone();
        if !e.subtitles.is_empty() {
            user_meta.insert("subtitles".into(), e.subtitles.join("\n"));
        }
        push(
            format!("{base}-u"),
            Role::User,
            Kind::Text,
            e.prompt,
            user_meta,
        );
        for (n, f) in e.files.into_iter().enumerate() {
            let mut file_meta = meta.clone();
            // An attachment is part of the prompt's message (counted once with it).
            file_meta.insert(super::common::PART_OF.into(), format!("{base}-u"));
            file_meta.insert("file_name".into(), f.name.clone());
            if let Some(p) = f.path {
                file_meta.insert("file_path".into(), p);
            }
            if let Some(u) = f.url {
                file_meta.insert("url".into(), u);
            }
            push(
                format!("{base}-u#{}", n + 2),
                Role::User,
                Kind::File,
                f.name,
                file_meta,
            );
        }
        if !e.response.is_empty() {
            push(
                format!("{base}-a"),
                Role::Assistant,
                Kind::Markdown,
                e.response,
                meta,
            );
        }
    }
    let conv = ImportedConversation {
        provider: "gemini".into(),
        source_id: source_id.clone(),
        title: title.clone(),
        source_url: None,
        created_at_ms: created,
        updated_at_ms: updated,
        model: None,
        messages,
        head: prev,
    };
    ctx.emit(sink, index, Ok(conv), Some(source_id), Some(title))
}

/// An entry's cell split into its parts, before deciding what kind of activity it is.
struct RawEntry<'a> {
    index: usize,
    product: String,
    /// The first line, raw (`Prompted&nbsp;PROMPT`).
    head: &'a str,
    verb: Option<Verb<'a>>,
    /// Raw lines between the first line and the time.
    extras: Vec<&'a str>,
    /// The time line, decoded.
    time: Option<String>,
    /// The response as text.
    response: String,
}

impl<'a> RawEntry<'a> {
    fn read(cell: Cell<'a>) -> Self {
        let split = split_cell(cell.inner);
        RawEntry {
            index: cell.index,
            product: cell.product.unwrap_or_else(|| DEFAULT_PRODUCT.to_string()),
            head: split.head,
            verb: verb_of(split.head),
            extras: split.extras,
            time: split.time.map(|t| decode_entities(t).trim().to_string()),
            response: html_to_text(split.response),
        }
    }
}

/// The word(s) before the prompt and the raw prompt after them.
struct Verb<'a> {
    word: String,
    rest: &'a str,
    /// Ended by a no-break space (as Takeout writes it) rather than by a colon.
    strong: bool,
}

fn verb_of(head: &str) -> Option<Verb<'_>> {
    let head = head.trim_start();
    if let Some(rest) = head.strip_prefix(PROMPTED) {
        let sep = NBSP_FORMS
            .iter()
            .chain(&[" ", "\n", "\t"])
            .find_map(|s| starts_with_ci(rest, s).then_some(s.len()));
        // A prompt of only an attachment may leave nothing after the verb.
        let sep = if rest.is_empty() { Some(0) } else { sep };
        if let Some(n) = sep {
            return Some(Verb {
                word: PROMPTED.to_string(),
                rest: &rest[n..],
                strong: true,
            });
        }
    }
    let mut end = VERB_WINDOW.min(head.len());
    while !head.is_char_boundary(end) {
        end -= 1;
    }
    let window = &head[..end];
    let split = |seps: &[&str], strong: bool| {
        let (at, n) = seps
            .iter()
            .filter_map(|s| find_ci(window, s).map(|at| (at, s.len())))
            .min()?;
        let word = decode_entities(&head[..at]).trim().to_string();
        if !plausible_verb(&word) {
            return None;
        }
        Some(Verb {
            word,
            rest: &head[at + n..],
            strong,
        })
    };
    split(&NBSP_FORMS[..], true).or_else(|| split(&[":", "\u{ff1a}"][..], false))
}

fn plausible_verb(word: &str) -> bool {
    !word.is_empty()
        && word.chars().count() <= MAX_VERB_CHARS
        && word.split_whitespace().count() <= 4
        && !word.contains(['<', '>', '\n'])
        && !word.chars().any(|c| c.is_ascii_digit())
}

/// The verb that starts the page's prompts: `Prompted` when any entry uses it; otherwise the
/// most common localized verb written with a no-break space, or, failing that, a verb before a
/// colon shared by most entries. `None` when there is no such verb (prompts are kept whole).
fn page_verb(raws: &[RawEntry<'_>]) -> Option<String> {
    let verbs = || raws.iter().filter_map(|r| r.verb.as_ref());
    if verbs().any(|v| v.word == PROMPTED) {
        return Some(PROMPTED.to_string());
    }
    let most_common = |strong: bool| {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for v in verbs().filter(|v| v.strong == strong) {
            *counts.entry(v.word.as_str()).or_default() += 1;
        }
        // The most used; among equals, the first in sort order.
        counts
            .into_iter()
            .max_by_key(|&(w, n)| (n, std::cmp::Reverse(w)))
            .map(|(w, n)| (w.to_string(), n))
    };
    if let Some((word, _)) = most_common(true) {
        return Some(word);
    }
    most_common(false)
        .filter(|&(_, n)| n >= 2 && n * 2 > raws.len())
        .map(|(word, _)| word)
}

/// Reads the extra lines: `- name` lines (with a link to the file) are attachments, the others
/// ("Attached 1 file.", a Gem, a link) are kept as text.
fn read_extras(extras: &[&str]) -> (Vec<Attachment>, Vec<String>) {
    let mut files = Vec::new();
    let mut subtitles = Vec::new();
    for raw in extras {
        let text = html_to_text(raw);
        if text.is_empty() {
            continue;
        }
        match text.strip_prefix('-').map(str::trim) {
            Some(name) if !name.is_empty() => {
                let link = link_of(raw);
                let (path, url) = match link {
                    Some(l) if l.contains("://") => (None, Some(l)),
                    Some(l) => (Some(l), None),
                    None => (None, None),
                };
                files.push(Attachment {
                    name: name.to_string(),
                    path,
                    url,
                });
            }
            _ => subtitles.push(text),
        }
    }
    (files, subtitles)
}

/// The first `<a href>` of a fragment, decoded.
fn link_of(raw: &str) -> Option<String> {
    let mut pos = 0;
    while let Some(tag) = next_tag(raw, pos) {
        pos = tag.end;
        if !tag.closing && tag.is("a") {
            return attr_value(tag.attrs, "href")
                .map(|h| decode_entities(h).trim().to_string())
                .filter(|h| !h.is_empty());
        }
    }
    None
}

/// A fragment as text: entities decoded, tags (if any) turned into text as in responses.
fn text_of(raw: &str) -> String {
    if next_tag(raw, 0).is_some() {
        html_to_text(raw)
    } else {
        decode_entities(raw).trim().to_string()
    }
}

fn is_gemini(product: &str) -> bool {
    let p = product.to_lowercase();
    p.contains("gemini") || p.contains("bard")
}

// ---------------------------------------------------------------------------------------------
// Cells

/// An entry's main cell.
struct Cell<'a> {
    /// Position among the page's entries.
    index: usize,
    /// The header cell's text ("Gemini Apps").
    product: Option<String>,
    /// The cell's inner HTML.
    inner: &'a str,
}

struct Page<'a> {
    /// Whether the page has the My Activity layout at all.
    activity: bool,
    cells: Vec<Cell<'a>>,
}

/// Finds the entries' main cells (`div.content-cell.mdl-typography--body-1`, not the
/// right-aligned one) and the header before each.
fn scan_page(html: &str) -> Page<'_> {
    let mut page = Page {
        activity: false,
        cells: Vec::new(),
    };
    let mut product: Option<String> = None;
    let mut pos = 0;
    while let Some(tag) = next_tag(html, pos) {
        pos = tag.end;
        if tag.closing {
            continue;
        }
        if tag.is("script") || tag.is("style") {
            pos = skip_raw_text(html, &tag);
            continue;
        }
        if !tag.is("div") {
            continue;
        }
        let Some(classes) = attr_value(tag.attrs, "class") else {
            continue;
        };
        let has = |c: &str| classes.split_ascii_whitespace().any(|x| x == c);
        if has("outer-cell") {
            page.activity = true;
            product = None;
        } else if has("header-cell") {
            page.activity = true;
            let (inner_end, next) = div_end(html, tag.end);
            product = html_to_text(&html[tag.end..inner_end])
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string);
            pos = next;
        } else if has("content-cell") {
            page.activity = true;
            if has("mdl-typography--body-1") && !has("mdl-typography--text-right") {
                let (inner_end, next) = div_end(html, tag.end);
                page.cells.push(Cell {
                    index: page.cells.len(),
                    product: product.clone(),
                    inner: &html[tag.end..inner_end],
                });
                pos = next;
            }
        } else if has("mdl-grid") {
            page.activity = true;
        }
    }
    page
}

fn is_cell_class(classes: &str) -> bool {
    classes
        .split_ascii_whitespace()
        .any(|c| matches!(c, "outer-cell" | "header-cell" | "content-cell"))
}

/// The end of the `div` whose content starts at `from`: where its content ends and where
/// scanning goes on. It also ends before the next cell, so that an unclosed `div` in a response
/// cannot swallow the entries after it.
fn div_end(html: &str, from: usize) -> (usize, usize) {
    let mut depth = 1usize;
    let mut pos = from;
    while let Some(tag) = next_tag(html, pos) {
        pos = tag.end;
        if (tag.is("script") || tag.is("style")) && !tag.closing {
            pos = skip_raw_text(html, &tag);
            continue;
        }
        if !tag.is("div") {
            continue;
        }
        if tag.closing {
            depth -= 1;
            if depth == 0 {
                return (tag.start, tag.end);
            }
        } else if attr_value(tag.attrs, "class").is_some_and(is_cell_class) {
            return (tag.start, tag.start);
        } else if !tag.attrs.trim_end().ends_with('/') {
            depth += 1;
        }
    }
    (html.len(), html.len())
}

/// Where the content of a `<script>` or `<style>` ends (its closing tag is scanned next).
fn skip_raw_text(html: &str, tag: &Tag<'_>) -> usize {
    let close = if tag.is("script") {
        "</script"
    } else {
        "</style"
    };
    html.get(tag.end..)
        .and_then(|rest| find_ci(rest, close))
        .map_or(html.len(), |i| tag.end + i)
}

/// A cell's first line, the extra lines, the time line and the response.
struct Split<'a> {
    head: &'a str,
    extras: Vec<&'a str>,
    time: Option<&'a str>,
    response: &'a str,
}

/// Splits a cell at its `<br>`s: the first line is the prompt, the first later line that reads
/// as a time is the timestamp, the lines between are extras, and everything after is the
/// response. The search stops at the first block element (the response has begun).
fn split_cell(inner: &str) -> Split<'_> {
    let mut lines: Vec<&str> = Vec::new();
    let mut line_start = 0;
    let mut pos = 0;
    loop {
        let (line_end, rest_from, last) = match next_tag(inner, pos) {
            Some(t) if t.is("br") => (t.start, t.end, false),
            Some(t) if !t.closing && is_block(t.name) => (t.start, t.start, true),
            Some(t) => {
                pos = t.end;
                continue;
            }
            None => (inner.len(), inner.len(), true),
        };
        let line = &inner[line_start..line_end];
        if !lines.is_empty() && is_time_line(line) {
            return Split {
                head: lines[0],
                extras: lines[1..].to_vec(),
                time: Some(line),
                response: &inner[rest_from..],
            };
        }
        lines.push(line);
        if last {
            break;
        }
        line_start = rest_from;
        pos = rest_from;
    }
    Split {
        head: lines.first().copied().unwrap_or_default(),
        extras: Vec::new(),
        time: None,
        response: "",
    }
}

fn is_block(name: &str) -> bool {
    [
        "p",
        "div",
        "ul",
        "ol",
        "pre",
        "table",
        "blockquote",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
    ]
    .iter()
    .any(|b| name.eq_ignore_ascii_case(b))
}

/// Whether a raw line is a timestamp: plain text with a clock (`10:32:11`), or an English date.
fn is_time_line(raw: &str) -> bool {
    if raw.len() > 8 * MAX_TIME_CHARS || next_tag(raw, 0).is_some() {
        return false;
    }
    let text = decode_entities(raw);
    let text = text.trim();
    !text.is_empty()
        && text.chars().count() <= MAX_TIME_CHARS
        && (has_clock(text) || parse_english_time(text).is_some())
}

/// Whether the text holds `H:MM:SS` (or `H.MM.SS`), as every Takeout timestamp does.
fn has_clock(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len()).any(|i| (i == 0 || !b[i - 1].is_ascii_digit()) && clock_at(&b[i..]))
}

fn clock_at(b: &[u8]) -> bool {
    let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
    let h = digits(b);
    if !(1..=2).contains(&h) {
        return false;
    }
    let Some(&sep) = b.get(h) else {
        return false;
    };
    if sep != b':' && sep != b'.' {
        return false;
    }
    let rest = &b[h + 1..];
    rest.len() >= 5 && digits(rest) == 2 && rest[2] == sep && digits(&rest[3..]) == 2
}

// ---------------------------------------------------------------------------------------------
// English timestamps

/// A time read from an English timestamp.
struct ClockTime {
    ms: u64,
    /// Whether the zone was known (otherwise the time was read as UTC).
    zone_known: bool,
}

/// Reads `Jan 5, 2025, 10:32:11 AM PST`, also with U+202F before `AM`, day first
/// (`5 Jan 2025, 10:32:11 GMT`), a 24-hour clock, or an offset zone (`GMT+05:30`).
fn parse_english_time(text: &str) -> Option<ClockTime> {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c == ',' || c.is_whitespace() {
                ' '
            } else {
                c
            }
        })
        .collect();
    let tokens: Vec<&str> = cleaned.split_whitespace().collect();
    if !(4..=7).contains(&tokens.len()) {
        return None;
    }
    let (month, day) = match (month_of(tokens[0]), month_of(tokens[1])) {
        (Some(m), None) => (m, tokens[1]),
        (None, Some(m)) => (m, tokens[0]),
        _ => return None,
    };
    let day = number(day, 1, 2)?;
    let year = i32::try_from(number(tokens[2], 4, 4)?).ok()?;
    let (mut hour, minute, second) = clock(tokens[3])?;
    let mut rest = &tokens[4..];
    if let Some((first, tail)) = rest.split_first()
        && let Some(pm) = meridiem(first)
    {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + 12 * u32::from(pm);
        rest = tail;
    }
    let zone = rest.concat();
    let offset = if zone.is_empty() {
        None
    } else {
        zone_offset(&zone)
    };
    let utc = chrono::NaiveDate::from_ymd_opt(year, month, day)?
        .and_hms_opt(hour, minute, second)?
        .and_utc()
        .timestamp_millis();
    let ms = utc.checked_sub(i64::from(offset.unwrap_or(0)) * 60_000)?;
    Some(ClockTime {
        ms: u64::try_from(ms).ok()?,
        zone_known: offset.is_some(),
    })
}

/// An ASCII number of `min..=max` digits.
fn number(s: &str, min: usize, max: usize) -> Option<u32> {
    if !(min..=max).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn month_of(token: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let t = token.trim_end_matches('.').to_ascii_lowercase();
    if t.len() < 3 {
        return None;
    }
    let i = MONTHS.iter().position(|m| m.starts_with(&t))?;
    u32::try_from(i + 1).ok()
}

/// `H:MM:SS` (or `H:MM`) to (hour, minute, second).
fn clock(token: &str) -> Option<(u32, u32, u32)> {
    let mut parts = token.split(':');
    let hour = number(parts.next()?, 1, 2)?;
    let minute = number(parts.next()?, 2, 2)?;
    let second = match parts.next() {
        Some(s) => number(s, 2, 2)?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((hour, minute, second))
}

/// `AM`/`PM` (any case, with or without dots): whether it is PM.
fn meridiem(token: &str) -> Option<bool> {
    let t: String = token
        .chars()
        .filter(|c| *c != '.')
        .collect::<String>()
        .to_ascii_lowercase();
    match t.as_str() {
        "am" => Some(false),
        "pm" => Some(true),
        _ => None,
    }
}

/// A zone's offset from UTC in minutes: an abbreviation as English Takeout pages write it, or
/// `GMT`/`UTC` with an offset (`GMT-03:00`, `GMT+5:30`, `UTC+1`).
fn zone_offset(zone: &str) -> Option<i32> {
    let upper = zone.to_ascii_uppercase();
    named_zone(&upper).or_else(|| offset_zone(&upper))
}

/// Abbreviations, read as English (US) pages mean them: `CST` is US Central, `IST` India.
fn named_zone(upper: &str) -> Option<i32> {
    Some(match upper {
        "UTC" | "GMT" | "UT" | "Z" | "WET" => 0,
        "BST" | "WEST" | "CET" | "MET" | "WAT" => 60,
        "CEST" | "MEST" | "EET" | "SAST" | "CAT" => 120,
        "EEST" | "MSK" | "EAT" | "TRT" => 180,
        "IRST" => 210,
        "GST" => 240,
        "PKT" => 300,
        "IST" => 330,
        "NPT" => 345,
        "ICT" | "WIB" => 420,
        "HKT" | "SGT" | "AWST" | "PHT" | "WITA" => 480,
        "JST" | "KST" | "WIT" => 540,
        "ACST" => 570,
        "AEST" | "CHST" => 600,
        "ACDT" => 630,
        "AEDT" => 660,
        "NZST" => 720,
        "NZDT" => 780,
        "NDT" => -150,
        "ADT" | "BRT" | "ART" => -180,
        "NST" => -210,
        "AST" | "EDT" => -240,
        "EST" | "CDT" => -300,
        "CST" | "MDT" => -360,
        "MST" | "PDT" => -420,
        "PST" | "AKDT" => -480,
        "AKST" | "HDT" => -540,
        "HST" => -600,
        "SST" => -660,
        _ => return None,
    })
}

/// `GMT-03:00`, `GMT+5:30`, `UTC+1`, `GMT+0530`.
fn offset_zone(upper: &str) -> Option<i32> {
    let rest = ["GMT", "UTC", "UT"]
        .iter()
        .find_map(|p| upper.strip_prefix(p))?;
    let (sign, digits) = if let Some(d) = rest.strip_prefix('+') {
        (1, d)
    } else if let Some(d) = rest
        .strip_prefix('-')
        .or_else(|| rest.strip_prefix('\u{2212}'))
    {
        (-1, d)
    } else {
        return None;
    };
    if !digits.bytes().all(|b| b.is_ascii_digit() || b == b':') {
        return None;
    }
    let (h, m) = match digits.split_once(':') {
        Some(hm) => hm,
        None if digits.len() > 2 => digits.split_at(digits.len() - 2),
        None => (digits, "00"),
    };
    let h = i32::try_from(number(h, 1, 2)?).ok()?;
    let m = i32::try_from(number(m, 2, 2)?).ok()?;
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

// ---------------------------------------------------------------------------------------------
// Tags

/// A start or end tag.
struct Tag<'a> {
    /// Byte offset of `<`.
    start: usize,
    /// Byte offset just after `>`.
    end: usize,
    name: &'a str,
    closing: bool,
    /// What follows the name, up to `>`.
    attrs: &'a str,
}

impl Tag<'_> {
    fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// The next tag at or after `from`, skipping comments, doctypes and `<` that starts no tag.
/// `None` at the end, or when a tag or comment is never closed (the rest is text).
fn next_tag(html: &str, from: usize) -> Option<Tag<'_>> {
    let bytes = html.as_bytes();
    let mut i = from;
    loop {
        let lt = i + html.get(i..)?.find('<')?;
        let after = lt + 1;
        if html.get(after..).is_some_and(|r| r.starts_with("!--")) {
            let close = html.get(after + 3..)?.find("-->")?;
            i = after + 3 + close + 3;
            continue;
        }
        let closing = bytes.get(after) == Some(&b'/');
        let name_start = after + usize::from(closing);
        let name_len = bytes.get(name_start..).map_or(0, |b| {
            b.iter().take_while(|c| c.is_ascii_alphanumeric()).count()
        });
        if name_len == 0 || !bytes[name_start].is_ascii_alphabetic() {
            i = after;
            continue;
        }
        let name_end = name_start + name_len;
        // Find `>` outside quoted attribute values (a quote opens a value only after `=`).
        let mut quote: Option<u8> = None;
        let mut after_eq = false;
        let mut j = name_end;
        let gt = loop {
            let &b = bytes.get(j)?;
            match quote {
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None if b == b'>' => break j,
                None if (b == b'"' || b == b'\'') && after_eq => quote = Some(b),
                None if !b.is_ascii_whitespace() => after_eq = b == b'=',
                None => {}
            }
            j += 1;
        };
        return Some(Tag {
            start: lt,
            end: gt + 1,
            name: &html[name_start..name_end],
            closing,
            attrs: &html[name_end..gt],
        });
    }
}

/// An attribute's raw value (`""` for a bare attribute).
fn attr_value<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let b = attrs.as_bytes();
    let len = b.len();
    let mut i = 0;
    loop {
        while i < len && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        if i >= len {
            return None;
        }
        let key_start = i;
        while i < len && !b[i].is_ascii_whitespace() && b[i] != b'=' {
            i += 1;
        }
        let key = &attrs[key_start..i];
        while i < len && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = "";
        if i < len && b[i] == b'=' {
            i += 1;
            while i < len && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < len && (b[i] == b'"' || b[i] == b'\'') {
                let q = char::from(b[i]);
                let v = i + 1;
                let end = attrs[v..].find(q).map_or(len, |e| v + e);
                value = &attrs[v..end];
                i = (end + 1).min(len);
            } else {
                let v = i;
                while i < len && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = &attrs[v..i];
            }
        }
        if key.eq_ignore_ascii_case(name) {
            return Some(value);
        }
    }
}

/// ASCII-case-insensitive search.
fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    if n.is_empty() {
        return Some(0);
    }
    hay.as_bytes()
        .windows(n.len())
        .position(|w| w.eq_ignore_ascii_case(n))
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.as_bytes()
        .get(..prefix.len())
        .is_some_and(|b| b.eq_ignore_ascii_case(prefix.as_bytes()))
}

#[cfg(test)]
mod tests;
