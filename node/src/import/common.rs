//! Shared machinery: limited readers, streaming JSON arrays, detection, ordering, limits.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, Read};
use std::rc::Rc;

use serde::de::{DeserializeSeed, Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;
use vivim_protocol::{Kind, Role};

use super::{BadConversation, ImportError, ImportedConversation, ImportedMessage, Item, Limits};

/// The sink type every parser writes to.
pub(crate) type Sink<'a> = &'a mut dyn FnMut(Item) -> Result<(), ImportError>;

/// A reader that fails once more than `max` bytes have been read from it.
pub(crate) struct Limited<R> {
    inner: R,
    left: u64,
    read: u64,
    tripped: Rc<Cell<Option<u64>>>,
}

impl<R> Limited<R> {
    pub(crate) fn new(inner: R, max: u64, tripped: Rc<Cell<Option<u64>>>) -> Self {
        Limited {
            inner,
            left: max,
            read: 0,
            tripped,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.left.saturating_add(1));
        let want = usize::try_from(want).unwrap_or(buf.len()).min(buf.len());
        let n = self.inner.read(&mut buf[..want])?;
        self.read = self.read.saturating_add(n as u64);
        if n as u64 > self.left {
            self.tripped.set(Some(self.read));
            return Err(io::Error::other("size limit exceeded"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A reader that fails once more than `max` bytes were read since `since` was last reset to 0
/// (at the start of each JSON element): one element is bounded before it is parsed whole.
struct ElementLimited<R> {
    inner: R,
    since: Rc<Cell<u64>>,
    max: u64,
    tripped: Rc<Cell<bool>>,
}

impl<R: Read> Read for ElementLimited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let since = self.since.get().saturating_add(n as u64);
        self.since.set(since);
        if since > self.max {
            self.tripped.set(true);
            return Err(io::Error::other("element size limit exceeded"));
        }
        Ok(n)
    }
}

/// Per-stream context: limits, where we are (zip member), how to number items.
pub(crate) struct Ctx<'l> {
    pub(crate) limits: &'l Limits,
    /// Zip member or file name, for locations.
    pub(crate) member: Option<String>,
    /// Added to item indexes (when one export is split over several files).
    pub(crate) index_base: usize,
    /// Highest local index seen + 1 (so the next file can continue the numbering).
    pub(crate) seen: usize,
    /// What is being read (for errors), set by the dispatcher.
    pub(super) what: String,
    /// The size limit of what is being read.
    pub(super) max: u64,
    /// Set when the limit tripped (to the bytes read).
    pub(super) tripped: Rc<Cell<Option<u64>>>,
}

impl<'l> Ctx<'l> {
    pub(crate) fn new(limits: &'l Limits, member: Option<String>, index_base: usize) -> Self {
        Ctx {
            limits,
            member,
            index_base,
            seen: 0,
            what: String::new(),
            max: 0,
            tripped: Rc::new(Cell::new(None)),
        }
    }

    fn loc(&self, inner: String) -> String {
        match &self.member {
            Some(m) => format!("{m}: {inner}"),
            None => inner,
        }
    }

    /// The error for a limit trip, if the reader tripped.
    pub(crate) fn too_large(&self) -> Option<ImportError> {
        self.tripped.get().map(|size| ImportError::TooLarge {
            what: self.what.clone(),
            size,
            max: self.max,
        })
    }

    /// Turns a serde_json error into a fatal import error with a location.
    pub(crate) fn json_error(&self, format: &'static str, e: serde_json::Error) -> ImportError {
        if let Some(t) = self.too_large() {
            return t;
        }
        if e.is_io() {
            return ImportError::Io(io::Error::other(e.to_string()));
        }
        ImportError::Malformed {
            format,
            location: self.loc(format!("line {} column {}", e.line(), e.column())),
            message: strip_position(&e.to_string()),
        }
    }

    /// Turns a read error into an import error (a limit trip becomes `TooLarge`).
    pub(crate) fn io_error(&self, e: io::Error) -> ImportError {
        self.too_large().unwrap_or(ImportError::Io(e))
    }

    /// A fatal format error at a location.
    pub(crate) fn malformed(
        &self,
        format: &'static str,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> ImportError {
        ImportError::Malformed {
            format,
            location: self.loc(location.into()),
            message: message.into(),
        }
    }

    /// Hands one conversation (or why it is bad) to the sink after checking the limits.
    pub(crate) fn emit(
        &mut self,
        sink: Sink<'_>,
        local_index: usize,
        result: Result<ImportedConversation, String>,
        id: Option<String>,
        title: Option<String>,
    ) -> Result<(), ImportError> {
        self.seen = self.seen.max(local_index + 1);
        let index = self.index_base + local_index;
        let item = match result.and_then(|c| check_limits(c, self.limits)) {
            Ok(c) => Item::Conversation(c),
            Err(error) => Item::Bad(BadConversation {
                index,
                id,
                title,
                error: match &self.member {
                    Some(m) => format!("{error} (in {m}, element {local_index})"),
                    None => format!("{error} (element {local_index})"),
                },
            }),
        };
        sink(item)
    }
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Reads the whole (limited) stream into a string (lossy UTF-8).
pub(crate) fn read_all_text<R: Read>(mut r: R, ctx: &Ctx<'_>) -> Result<String, ImportError> {
    let mut buf = Vec::new();
    r.read_to_end(&mut buf).map_err(|e| ctx.io_error(e))?;
    Ok(match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Streams a top-level JSON array element by element. `f(ctx, index, value)` is called for
/// each element; it returns a fatal error to stop.
pub(crate) fn stream_array<R: Read>(
    reader: R,
    format: &'static str,
    ctx: &mut Ctx<'_>,
    f: &mut dyn FnMut(&mut Ctx<'_>, usize, Value) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let element = Element::new(ctx);
    let reader = element.wrap(reader);
    let mut de = serde_json::Deserializer::from_reader(io::BufReader::new(reader));
    let mut stop: Option<ImportError> = None;
    let mut index = 0usize;
    let res = (&mut de).deserialize_seq(ArrayVisitor {
        ctx: &mut *ctx,
        f,
        stop: &mut stop,
        since: element.since.clone(),
        index: &mut index,
    });
    let res = match res {
        Ok(()) => de.end().map_err(|e| ctx.json_error(format, e)),
        Err(e) => Err(match stop {
            Some(s) => s,
            None => ctx.json_error(format, e),
        }),
    };
    res.map_err(|e| element.error(ctx, index, e))
}

/// The per-element limit of a JSON stream.
struct Element {
    since: Rc<Cell<u64>>,
    tripped: Rc<Cell<bool>>,
    max: u64,
}

impl Element {
    fn new(ctx: &Ctx<'_>) -> Self {
        Element {
            since: Rc::new(Cell::new(0)),
            tripped: Rc::new(Cell::new(false)),
            max: ctx.limits.max_element_bytes,
        }
    }

    fn wrap<R: Read>(&self, inner: R) -> ElementLimited<R> {
        ElementLimited {
            inner,
            since: self.since.clone(),
            max: self.max,
            tripped: self.tripped.clone(),
        }
    }

    /// `e`, or the element limit's error when that is what stopped the stream.
    fn error(&self, ctx: &Ctx<'_>, index: usize, e: ImportError) -> ImportError {
        if !self.tripped.get() || ctx.too_large().is_some() {
            return e;
        }
        ImportError::TooLarge {
            what: ctx.loc(format!("element {index} of {}", ctx.what)),
            size: self.since.get(),
            max: self.max,
        }
    }
}

struct ArrayVisitor<'a, 'l> {
    ctx: &'a mut Ctx<'l>,
    f: &'a mut dyn FnMut(&mut Ctx<'_>, usize, Value) -> Result<(), ImportError>,
    stop: &'a mut Option<ImportError>,
    since: Rc<Cell<u64>>,
    index: &'a mut usize,
}

impl<'de> Visitor<'de> for ArrayVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of conversations")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            self.since.set(0);
            let Some(value) = seq.next_element_seed(ValueSeed)? else {
                break;
            };
            if let Err(e) = (self.f)(self.ctx, *self.index, value) {
                *self.stop = Some(e);
                return Err(serde::de::Error::custom("import stopped"));
            }
            *self.index += 1;
        }
        Ok(())
    }
}

struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(d)
    }
}

/// Streams a JSON document that is either an array (element by element), a single object, or
/// several whitespace/newline-separated values (JSONL).
pub(crate) fn stream_values<R: Read>(
    reader: R,
    format: &'static str,
    ctx: &mut Ctx<'_>,
    f: &mut dyn FnMut(&mut Ctx<'_>, usize, Value) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let mut br = io::BufReader::new(reader);
    let first = first_non_ws(&mut br).map_err(|e| ctx.io_error(e))?;
    if first == Some(b'[') {
        return stream_array(br, format, ctx, f);
    }
    let element = Element::new(ctx);
    let since = element.since.clone();
    let stream = serde_json::Deserializer::from_reader(element.wrap(br)).into_iter::<Value>();
    for (index, v) in stream.enumerate() {
        let v = v
            .map_err(|e| ctx.json_error(format, e))
            .map_err(|e| element.error(ctx, index, e))?;
        f(ctx, index, v)?;
        since.set(0);
    }
    Ok(())
}

fn first_non_ws<R: io::BufRead>(r: &mut R) -> io::Result<Option<u8>> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        let skip = buf
            .iter()
            .take_while(|b| b.is_ascii_whitespace() || **b == 0xEF || **b == 0xBB || **b == 0xBF)
            .count();
        if skip < buf.len() {
            let b = buf[skip];
            r.consume(skip);
            return Ok(Some(b));
        }
        let n = buf.len();
        r.consume(n);
    }
}

// ---------------------------------------------------------------------------------------------
// Conversation helpers

/// Checks a conversation against the limits.
pub(crate) fn check_limits(
    c: ImportedConversation,
    limits: &Limits,
) -> Result<ImportedConversation, String> {
    if c.messages.len() > limits.max_messages {
        return Err(format!(
            "{} messages, over the limit of {}",
            c.messages.len(),
            limits.max_messages
        ));
    }
    for m in &c.messages {
        if m.text.len() > limits.max_message_bytes {
            return Err(format!(
                "message {} is {} bytes, over the limit of {}",
                m.id,
                m.text.len(),
                limits.max_message_bytes
            ));
        }
    }
    Ok(c)
}

/// Orders messages so that every parent comes before its children, keeping the given order
/// otherwise. Duplicate ids are renamed (`<id>~<n>`), unknown parents and cycles are cut.
pub(crate) fn order_parents_first(mut msgs: Vec<ImportedMessage>) -> Vec<ImportedMessage> {
    let mut index: HashMap<String, usize> = HashMap::with_capacity(msgs.len());
    for (i, m) in msgs.iter_mut().enumerate() {
        if index.contains_key(&m.id) {
            let base = m.id.clone();
            let mut n = 2;
            while index.contains_key(&format!("{base}~{n}")) {
                n += 1;
            }
            m.id = format!("{base}~{n}");
        }
        index.insert(m.id.clone(), i);
    }
    let parent_idx: Vec<Option<usize>> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            m.parent
                .as_ref()
                .and_then(|p| index.get(p).copied())
                .filter(|&p| p != i)
        })
        .collect();
    let mut parent_idx = parent_idx;
    for (m, p) in msgs.iter_mut().zip(&parent_idx) {
        if p.is_none() {
            m.parent = None;
        }
    }
    // 0 = new, 1 = on the current chain, 2 = placed
    let mut state = vec![0u8; msgs.len()];
    let mut order = Vec::with_capacity(msgs.len());
    for i in 0..msgs.len() {
        if state[i] == 2 {
            continue;
        }
        let mut chain: Vec<usize> = Vec::new();
        let mut cur = Some(i);
        while let Some(c) = cur {
            match state[c] {
                2 => break,
                1 => {
                    // A cycle: the last node on the chain points back into it; cut it there.
                    if let Some(&last) = chain.last() {
                        parent_idx[last] = None;
                        msgs[last].parent = None;
                    }
                    break;
                }
                _ => {
                    state[c] = 1;
                    chain.push(c);
                    cur = parent_idx[c];
                }
            }
        }
        for &c in chain.iter().rev() {
            state[c] = 2;
            order.push(c);
        }
    }
    let mut slots: Vec<Option<ImportedMessage>> = msgs.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The latest leaf (in the given order) of a message list.
pub(crate) fn last_leaf(msgs: &[ImportedMessage]) -> Option<String> {
    let parents: std::collections::HashSet<&str> =
        msgs.iter().filter_map(|m| m.parent.as_deref()).collect();
    msgs.iter()
        .rev()
        .find(|m| !parents.contains(m.id.as_str()))
        .map(|m| m.id.clone())
}

/// Fractional Unix seconds to ms.
pub(crate) fn secs_to_ms(v: &Value) -> Option<u64> {
    let s = v.as_f64()?;
    if s.is_finite() && (0.0..1.0e12).contains(&s) {
        Some((s * 1000.0).round() as u64)
    } else {
        None
    }
}

/// An ISO-8601 / RFC 3339 time to ms.
pub(crate) fn iso_to_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return u64::try_from(t.timestamp_millis()).ok();
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return u64::try_from(t.and_utc().timestamp_millis()).ok();
        }
    }
    None
}

/// BLAKE3 hex of the parts, separated so that different splits give different hashes.
pub(crate) fn hash_id(parts: &[&[u8]]) -> String {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().to_hex().to_string()
}

/// A string field.
pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A string or number field as a string.
pub(crate) fn id_of(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A new message with the defaults.
pub(crate) fn msg(
    id: String,
    parent: Option<String>,
    role: Role,
    kind: Kind,
    text: String,
) -> ImportedMessage {
    ImportedMessage {
        id,
        parent,
        role,
        kind,
        lang: None,
        text,
        created_at_ms: None,
        visible: false,
        meta: BTreeMap::new(),
    }
}

/// Truncates to at most `n` chars for a title.
pub(crate) fn title_from(text: &str, n: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut out: String = line.chars().take(n).collect();
    if line.chars().count() > n {
        out.push('…');
    }
    out
}

/// Earliest and latest message times, for conversations without their own.
pub(crate) fn time_bounds(msgs: &[ImportedMessage]) -> (Option<u64>, Option<u64>) {
    let times = msgs.iter().filter_map(|m| m.created_at_ms);
    let min = times.clone().min();
    (min, times.max())
}

/// Splits a message into a chain of parts: the first keeps `id`, later parts get `id#n`, point
/// to the previous part and name the message in `meta["part_of"]` (so a message of text and an
/// image counts as one message). Returns the parts; the last part's id is where children attach.
/// The metadata key naming the message a part belongs to (see [`chain_parts`]).
pub const PART_OF: &str = "part_of";

pub(crate) fn chain_parts(
    id: &str,
    parent: Option<String>,
    parts: Vec<ImportedMessage>,
) -> Vec<ImportedMessage> {
    let mut out = Vec::with_capacity(parts.len());
    let mut prev = parent;
    for (n, mut p) in parts.into_iter().enumerate() {
        p.id = if n == 0 {
            id.to_string()
        } else {
            p.meta.insert(PART_OF.into(), id.to_string());
            format!("{id}#{}", n + 1)
        };
        p.parent = prev.take();
        prev = Some(p.id.clone());
        out.push(p);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn m(id: &str, parent: Option<&str>) -> ImportedMessage {
        msg(
            id.into(),
            parent.map(str::to_string),
            Role::User,
            Kind::Text,
            String::new(),
        )
    }

    #[test]
    fn parents_first_reorders_and_cuts() {
        let out = order_parents_first(vec![
            m("c", Some("b")),
            m("b", Some("a")),
            m("a", None),
            m("x", Some("zz")),
        ]);
        let ids: Vec<&str> = out.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "x"]);
        assert_eq!(out[3].parent, None, "unknown parent cut");
        // a cycle a -> b -> a is cut, nothing is lost
        let out = order_parents_first(vec![m("a", Some("b")), m("b", Some("a")), m("a", None)]);
        assert_eq!(out.len(), 3);
        let ids: std::collections::HashSet<&str> = out.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids.len(), 3, "duplicate renamed");
        let mut seen = std::collections::HashSet::new();
        for x in &out {
            if let Some(p) = &x.parent {
                assert!(seen.contains(p.as_str()));
            }
            seen.insert(x.id.clone());
        }
    }

    #[test]
    fn limited_reader_trips_past_the_limit() {
        let flag = Rc::new(Cell::new(None));
        let mut r = Limited::new(&b"0123456789"[..], 10, flag.clone());
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 10);
        assert!(flag.get().is_none(), "exactly at the limit is fine");
        let mut r = Limited::new(&b"0123456789A"[..], 10, flag.clone());
        assert!(r.read_to_end(&mut Vec::new()).is_err());
        assert_eq!(flag.get(), Some(11));
    }

    #[test]
    fn times() {
        assert_eq!(
            iso_to_ms("2024-06-01T10:00:00.000000Z"),
            Some(1_717_236_000_000)
        );
        assert_eq!(
            iso_to_ms("2024-06-01T12:00:00+02:00"),
            Some(1_717_236_000_000)
        );
        assert_eq!(iso_to_ms("2024-06-01 10:00:00"), Some(1_717_236_000_000));
        assert_eq!(iso_to_ms("yesterday"), None);
        assert_eq!(secs_to_ms(&serde_json::json!(1.5)), Some(1500));
        assert_eq!(secs_to_ms(&serde_json::json!(-1)), None);
        assert_eq!(secs_to_ms(&serde_json::json!("1")), None);
    }
}
