//! A saved ChatGPT share page. The conversation travels in the HTML as React Router
//! "turbo-stream" data (v2 encoding), passed as JavaScript string literals to
//! `window.__reactRouterContext.streamController.enqueue(...)`.
//!
//! The turbo-stream v2 encoding, as implemented here:
//! - the stream is a sequence of lines; the first is a JSON array `values`, later lines are
//!   `P<id>:<json array>` (a promise resolved) or `E<id>:<json array>` (rejected); every array
//!   is appended to `values` so that indexes keep counting;
//! - a value is referenced by its index into `values`; negative indexes are constants:
//!   -1 hole (arrays only), -2 NaN, -3 -Infinity, -4 -0, -5 null, -6 +Infinity, -7 undefined;
//! - `values[i]` that is a primitive is itself; a plain array holds indexes of its elements;
//!   an object `{"_k": v}` has the key `values[k]` and the value at index `v`;
//! - an array whose first element is a string is a typed value: `["D", ms]` date, `["P", id]`
//!   promise (resolved by the line `P<id>:`), `["U", url]`, `["B", digits]`, `["R", src,
//!   flags]`, `["Y", name]`, `["S", ..idx]` set, `["M", k, v, ..]` map, `["N", {obj}]`
//!   null-prototype object, `["E", message, type]` error, `["Z", idx]` a previous value.

use std::collections::HashMap;
use std::io::Read;

use serde_json::{Map, Value};

use super::ImportError;
use super::chatgpt::{self, Origin};
use super::common::{Ctx, Sink, read_all_text};

const FORMAT: &str = "chatgpt-share";
/// Most JSON nodes the decoded payload may expand to (shared references are copied).
const MAX_NODES: usize = 4_000_000;
const MAX_DEPTH: usize = 200;
/// Most string bytes the decoded payload may expand to.
const MAX_BYTES: usize = 256 << 20;

pub(crate) fn parse<R: Read>(
    reader: R,
    ctx: &mut Ctx<'_>,
    sink: Sink<'_>,
) -> Result<(), ImportError> {
    let html = read_all_text(reader, ctx)?;
    let stream = extract_stream(&html).map_err(|(at, m)| ctx.malformed(FORMAT, at, m))?;
    let root =
        decode_turbo_stream(&stream).map_err(|m| ctx.malformed(FORMAT, "turbo-stream", m))?;
    let conv = find_conversation(&root, 0).ok_or_else(|| {
        ctx.malformed(
            FORMAT,
            "turbo-stream",
            "no conversation (an object with \"mapping\") in the payload",
        )
    })?;
    let share_id = find_string(&root, "sharedConversationId", 0);
    let result = chatgpt::convert(conv, Origin::Share(share_id.as_deref()));
    let (id, title) = chatgpt::id_title(conv);
    ctx.emit(sink, 0, result, id, title)
}

/// Concatenates the JavaScript string literals passed to `streamController.enqueue(`.
pub(crate) fn extract_stream(html: &str) -> Result<String, (String, String)> {
    const CALL: &str = "streamController.enqueue(";
    let mut out = String::new();
    let mut found = false;
    let mut from = 0;
    while let Some(i) = html[from..].find(CALL) {
        let start = from + i + CALL.len();
        let rest = html[start..].trim_start();
        let offset = html.len() - rest.len();
        let (s, used) = js_string(rest).map_err(|m| (format!("byte {offset}"), m))?;
        out.push_str(&s);
        found = true;
        from = offset + used;
    }
    if !found {
        return Err((
            "page".into(),
            "no streamController.enqueue(...) payload found".into(),
        ));
    }
    Ok(out)
}

/// Parses a JavaScript string literal at the start of `s`; returns the string and the bytes used.
fn js_string(s: &str) -> Result<(String, usize), String> {
    let mut chars = s.char_indices();
    let quote = match chars.next() {
        Some((_, q @ ('"' | '\''))) => q,
        _ => return Err("expected a string literal".into()),
    };
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((out, i + c.len_utf8()));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else { break };
        match e {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '0' => out.push('\0'),
            '\n' => {}
            'x' => {
                let h: String = (0..2)
                    .filter_map(|_| chars.next().map(|(_, c)| c))
                    .collect();
                let v = u32::from_str_radix(&h, 16).map_err(|_| format!("bad \\x escape {h:?}"))?;
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            'u' if chars.clone().next().map(|(_, c)| c) == Some('{') => {
                chars.next();
                let h: String = chars
                    .by_ref()
                    .map(|(_, c)| c)
                    .take_while(|c| *c != '}')
                    .take(8)
                    .collect();
                let v =
                    u32::from_str_radix(&h, 16).map_err(|_| format!("bad \\u{{}} escape {h:?}"))?;
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            'u' => {
                let h: String = (0..4)
                    .filter_map(|_| chars.next().map(|(_, c)| c))
                    .collect();
                let v = u16::from_str_radix(&h, 16).map_err(|_| format!("bad \\u escape {h:?}"))?;
                if (0xD800..0xDC00).contains(&v) {
                    // A surrogate pair: expect \uDC00-\uDFFF next.
                    let mut look = chars.clone();
                    let lo = match (look.next(), look.next()) {
                        (Some((_, '\\')), Some((_, 'u'))) => {
                            let h2: String =
                                (0..4).filter_map(|_| look.next().map(|(_, c)| c)).collect();
                            u16::from_str_radix(&h2, 16)
                                .ok()
                                .filter(|l| (0xDC00..0xE000).contains(l))
                        }
                        _ => None,
                    };
                    match lo {
                        Some(lo) => {
                            chars = look;
                            let c = 0x10000
                                + ((u32::from(v) - 0xD800) << 10)
                                + (u32::from(lo) - 0xDC00);
                            out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                        }
                        None => out.push('\u{fffd}'),
                    }
                } else {
                    out.push(char::from_u32(u32::from(v)).unwrap_or('\u{fffd}'));
                }
            }
            other => out.push(other),
        }
    }
    Err("unterminated string literal".into())
}

/// Decodes a turbo-stream (v2) payload into JSON (undefined and holes become null, dates
/// become their millisecond number, other special types their plain data).
pub(crate) fn decode_turbo_stream(stream: &str) -> Result<Value, String> {
    let mut values: Vec<Value> = Vec::new();
    let mut promises: HashMap<u64, usize> = HashMap::new();
    let mut first = true;
    for (n, line) in stream.split('\n').enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let body = if first {
            line
        } else {
            let colon = line
                .find(':')
                .ok_or_else(|| format!("line {}: no ':'", n + 1))?;
            let (tag, rest) = line.split_at(colon);
            if let Some(id) = tag.strip_prefix('P') {
                let id: u64 = id
                    .parse()
                    .map_err(|_| format!("line {}: bad promise id {tag:?}", n + 1))?;
                promises.insert(id, values.len());
            } else if !tag.starts_with('E') {
                return Err(format!("line {}: unknown line type {tag:?}", n + 1));
            }
            &rest[1..]
        };
        let parsed: Value =
            serde_json::from_str(body).map_err(|e| format!("line {}: {e}", n + 1))?;
        let arr = match parsed {
            Value::Array(a) if !a.is_empty() => a,
            // A bare number is a reference into what came before.
            Value::Number(_) if !first => {
                values.push(Value::Array(vec![Value::String("Z".into()), parsed]));
                continue;
            }
            _ => return Err(format!("line {}: expected a non-empty array", n + 1)),
        };
        first = false;
        values.extend(arr);
    }
    if values.is_empty() {
        return Err("empty turbo-stream".into());
    }
    let mut d = Decoder {
        values: &values,
        promises: &promises,
        nodes: 0,
        bytes: 0,
        active: Vec::new(),
    };
    d.hydrate(0, 0)
}

struct Decoder<'a> {
    values: &'a [Value],
    promises: &'a HashMap<u64, usize>,
    nodes: usize,
    bytes: usize,
    /// Indexes being hydrated (to stop cycles).
    active: Vec<usize>,
}

impl Decoder<'_> {
    fn hydrate_ref(&mut self, r: &Value, depth: usize) -> Result<Value, String> {
        let i = r
            .as_i64()
            .ok_or_else(|| format!("expected an index, found {r}"))?;
        match i {
            -1 | -5 | -7 => Ok(Value::Null),
            -2 | -3 | -6 => Ok(Value::Null), // NaN and infinities have no JSON form
            -4 => Ok(Value::from(0)),
            i if i < 0 => Err(format!("unknown constant {i}")),
            i => self.hydrate(usize::try_from(i).map_err(|_| "index too large")?, depth),
        }
    }

    fn hydrate(&mut self, index: usize, depth: usize) -> Result<Value, String> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(format!("payload expands to more than {MAX_NODES} values"));
        }
        if depth > MAX_DEPTH {
            return Err(format!("payload nested deeper than {MAX_DEPTH}"));
        }
        let value = self
            .values
            .get(index)
            .ok_or_else(|| format!("reference {index} out of range"))?;
        let out = match value {
            Value::Array(a) => {
                if self.active.contains(&index) {
                    return Ok(Value::Null); // a cycle: JSON cannot hold it
                }
                self.active.push(index);
                let r = self.hydrate_array(a, depth);
                self.active.pop();
                r?
            }
            Value::Object(o) => {
                if self.active.contains(&index) {
                    return Ok(Value::Null);
                }
                self.active.push(index);
                let r = self.hydrate_object(o, depth);
                self.active.pop();
                r?
            }
            primitive => {
                if let Value::String(s) = primitive {
                    self.bytes += s.len();
                    if self.bytes > MAX_BYTES {
                        return Err(format!(
                            "payload expands to more than {MAX_BYTES} bytes of text"
                        ));
                    }
                }
                primitive.clone()
            }
        };
        Ok(out)
    }

    fn hydrate_object(&mut self, o: &Map<String, Value>, depth: usize) -> Result<Value, String> {
        let mut out = Map::new();
        for (k, v) in o {
            let key_index: usize = k
                .strip_prefix('_')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("object key {k:?} is not _<index>"))?;
            let key = match self.values.get(key_index) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => return Err(format!("key reference {key_index} out of range")),
            };
            let value = self.hydrate_ref(v, depth + 1)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }

    fn hydrate_array(&mut self, a: &[Value], depth: usize) -> Result<Value, String> {
        let Some(Value::String(tag)) = a.first() else {
            let mut out = Vec::with_capacity(a.len());
            for r in a {
                out.push(self.hydrate_ref(r, depth + 1)?);
            }
            return Ok(Value::Array(out));
        };
        let arg = a.get(1).cloned().unwrap_or(Value::Null);
        Ok(match tag.as_str() {
            "D" | "U" | "B" | "Y" => arg,
            "R" => Value::String(format!(
                "/{}/{}",
                arg.as_str().unwrap_or(""),
                a.get(2).and_then(Value::as_str).unwrap_or("")
            )),
            "S" => {
                let mut out = Vec::new();
                for r in &a[1..] {
                    out.push(self.hydrate_ref(r, depth + 1)?);
                }
                Value::Array(out)
            }
            "M" => {
                let mut out = Vec::new();
                for pair in a[1..].chunks(2) {
                    let k = self.hydrate_ref(&pair[0], depth + 1)?;
                    let v = match pair.get(1) {
                        Some(r) => self.hydrate_ref(r, depth + 1)?,
                        None => Value::Null,
                    };
                    out.push(Value::Array(vec![k, v]));
                }
                Value::Array(out)
            }
            "N" => match &arg {
                Value::Object(o) => self.hydrate_object(o, depth)?,
                _ => Value::Null,
            },
            "P" => match arg.as_u64().and_then(|id| self.promises.get(&id).copied()) {
                Some(start) => self.hydrate(start, depth + 1)?,
                None => Value::Null,
            },
            "Z" => self.hydrate_ref(&arg, depth + 1)?,
            "E" => Value::Object(Map::from_iter([("error".to_string(), arg)])),
            other => return Err(format!("unknown typed value {other:?}")),
        })
    }
}

/// Finds the first object holding a `mapping` object (depth-first).
fn find_conversation(v: &Value, depth: usize) -> Option<&Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    match v {
        Value::Object(o) => {
            if o.get("mapping").is_some_and(Value::is_object) {
                return Some(v);
            }
            o.values().find_map(|c| find_conversation(c, depth + 1))
        }
        Value::Array(a) => a.iter().find_map(|c| find_conversation(c, depth + 1)),
        _ => None,
    }
}

fn find_string(v: &Value, key: &str, depth: usize) -> Option<String> {
    if depth > MAX_DEPTH {
        return None;
    }
    match v {
        Value::Object(o) => {
            if let Some(Value::String(s)) = o.get(key) {
                return Some(s.clone());
            }
            o.values().find_map(|c| find_string(c, key, depth + 1))
        }
        Value::Array(a) => a.iter().find_map(|c| find_string(c, key, depth + 1)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn js_string_escapes() {
        let (s, used) = js_string(r#""a\"b\\c\n\u00e9\x41\u{1F600}\ud83d\ude00" rest"#).unwrap();
        assert_eq!(s, "a\"b\\c\n\u{e9}A\u{1F600}\u{1F600}");
        assert_eq!(
            &r#""a\"b\\c\n\u00e9\x41\u{1F600}\ud83d\ude00" rest"#[used..],
            " rest"
        );
        assert!(js_string(r#""unterminated"#).is_err());
        assert!(js_string("nope").is_err());
        assert_eq!(js_string("'single \\' quote'").unwrap().0, "single ' quote");
    }

    #[test]
    fn turbo_stream_rules() {
        // root {a: 1, b: [str, null, undefined], c: promise 7, d: date, e: -0, k: "a" key reuse}
        let stream = concat!(
            r#"[{"_1":2,"_3":4,"_8":9,"_11":12,"_13":-4},"a",1,"b",[5,-5,-7],"s","unused","unused2","c",["P",7],"x","d",["D",1700000000000],"e"]"#,
            "\n",
            r#"P7:[{"_1":15},"ok"]"#,
            "\n"
        );
        let v = decode_turbo_stream(stream).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a": 1, "b": ["s", null, null], "c": {"a": "ok"}, "d": 1700000000000u64, "e": 0})
        );
    }

    #[test]
    fn turbo_stream_rejects_bad_input() {
        assert!(decode_turbo_stream("").is_err());
        assert!(
            decode_turbo_stream("[{\"_9\":0}]").is_err(),
            "key out of range"
        );
        assert!(decode_turbo_stream("[{\"x\":0}]").is_err(), "key without _");
        assert!(decode_turbo_stream("[[\"Q\",1]]").is_err(), "unknown type");
        assert!(decode_turbo_stream("[1]\nX1:[2]").is_err(), "unknown line");
        // A cycle becomes null instead of looping.
        let v = decode_turbo_stream(r#"[{"_1":0},"self"]"#).unwrap();
        assert_eq!(v, serde_json::json!({"self": null}));
        // Exponential sharing is cut by the node budget.
        let mut s = String::from("[");
        for i in 0..40 {
            s.push_str(&format!("[{},{}],", i + 1, i + 1));
        }
        s.push_str("\"leaf\"]");
        assert!(decode_turbo_stream(&s).unwrap_err().contains("more than"));
        // So is a long string referenced many times.
        let long = "z".repeat(1 << 20);
        let refs = vec!["1"; 300].join(",");
        let s = format!("[[{refs}],\"{long}\"]");
        assert!(
            decode_turbo_stream(&s)
                .unwrap_err()
                .contains("bytes of text")
        );
    }

    #[test]
    fn extract_stream_finds_all_chunks() {
        let html = r#"<script>window.__reactRouterContext.streamController.enqueue("[1]\n");</script>
            <script>window.__reactRouterContext.streamController.enqueue( "P1:[2]\n");</script>"#;
        assert_eq!(extract_stream(html).unwrap(), "[1]\nP1:[2]\n");
        assert!(extract_stream("<html></html>").is_err());
    }
}
