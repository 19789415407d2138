//! Generated exports for tests and benchmarks: deterministic, realistic in shape, any size.

use std::io::Write;

const WORDS: &[&str] = &[
    "the",
    "model",
    "answer",
    "python",
    "rust",
    "function",
    "data",
    "error",
    "memory",
    "network",
    "peer",
    "conversation",
    "search",
    "index",
    "vector",
    "token",
    "budget",
    "context",
    "import",
    "export",
    "signature",
    "hash",
    "blob",
    "gossip",
    "circle",
    "friend",
    "share",
    "encrypt",
    "decrypt",
    "key",
    "graph",
    "query",
    "result",
    "test",
    "bench",
    "latency",
    "throughput",
    "because",
    "however",
    "therefore",
    "example",
    "explain",
    "why",
    "how",
    "what",
    "could",
    "would",
    "should",
    "database",
    "server",
    "client",
    "request",
    "response",
    "stream",
    "file",
    "directory",
    "config",
    "option",
    "value",
    "type",
    "struct",
    "trait",
    "async",
    "await",
    "thread",
    "core",
    "cache",
    "disk",
    "write",
    "read",
    "flush",
    "commit",
    "branch",
    "merge",
    "learn",
    "remember",
    "decide",
    "plan",
    "idea",
    "design",
    "simple",
    "fast",
    "safe",
    "clear",
    "and",
    "or",
    "not",
    "with",
    "without",
    "for",
    "from",
    "into",
    "over",
    "under",
    "between",
];

/// A small deterministic PRNG (xorshift64*), so generated data is the same on every run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `n` words of text.
    pub fn words(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n * 7);
        for i in 0..n {
            if i > 0 {
                s.push(if self.below(12) == 0 { '\n' } else { ' ' });
            }
            s.push_str(WORDS[self.below(WORDS.len() as u64) as usize]);
        }
        s
    }
}

/// Writes a ChatGPT data export (`conversations.json`) of `conversations` conversations with
/// `messages` messages each (alternating user/assistant, about `words` words each), streaming,
/// so exports far larger than memory can be written.
pub fn write_chatgpt_export(
    mut w: impl Write,
    conversations: usize,
    messages: usize,
    words: usize,
    seed: u64,
) -> std::io::Result<()> {
    let mut rng = Rng::new(seed);
    w.write_all(b"[")?;
    for c in 0..conversations {
        if c > 0 {
            w.write_all(b",")?;
        }
        let conv_id = format!("conv-{seed}-{c:08}");
        let t0 = 1_680_000_000.0 + (c as f64) * 3600.0;
        let mut mapping = serde_json::Map::new();
        let root = format!("{conv_id}-root");
        let ids: Vec<String> = (0..messages)
            .map(|m| format!("{conv_id}-m{m:05}"))
            .collect();
        mapping.insert(
            root.clone(),
            serde_json::json!({"id": root, "message": null, "parent": null, "children": [ids.first()]}),
        );
        for (m, id) in ids.iter().enumerate() {
            let role = if m % 2 == 0 { "user" } else { "assistant" };
            let n = words / 2 + rng.below(words as u64) as usize;
            let text = if role == "assistant" && rng.below(5) == 0 {
                format!(
                    "{}\n\n```python\n{}\n```",
                    rng.words(n / 2),
                    rng.words(n / 2)
                )
            } else {
                rng.words(n)
            };
            let parent = if m == 0 {
                root.clone()
            } else {
                ids[m - 1].clone()
            };
            let children: Vec<&String> = ids.get(m + 1).into_iter().collect();
            mapping.insert(
                id.clone(),
                serde_json::json!({
                    "id": id,
                    "message": {
                        "id": id,
                        "author": {"role": role, "name": null, "metadata": {}},
                        "create_time": t0 + m as f64 * 30.0,
                        "update_time": null,
                        "content": {"content_type": "text", "parts": [text]},
                        "status": "finished_successfully",
                        "end_turn": role == "assistant",
                        "weight": 1.0,
                        "metadata": {"model_slug": "gpt-4"},
                        "recipient": "all"
                    },
                    "parent": parent,
                    "children": children,
                }),
            );
        }
        let conv = serde_json::json!({
            "title": format!("Generated {c}: {}", rng.words(4)),
            "create_time": t0,
            "update_time": t0 + messages as f64 * 30.0,
            "mapping": mapping,
            "moderation_results": [],
            "current_node": ids.last(),
            "plugin_ids": null,
            "conversation_id": conv_id,
            "id": conv_id,
        });
        serde_json::to_writer(&mut w, &conv)?;
    }
    w.write_all(b"]")?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{Format, Item, Limits, parse_reader};

    #[test]
    fn generated_export_parses_as_chatgpt() {
        let mut buf = Vec::new();
        write_chatgpt_export(&mut buf, 3, 10, 20, 7).unwrap();
        let mut n = 0;
        let mut msgs = 0;
        let f = parse_reader(&buf[..], Format::Auto, &Limits::default(), &mut |i| {
            if let Item::Conversation(c) = i {
                n += 1;
                msgs += c.messages.len();
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(f, Format::ChatGpt);
        assert_eq!((n, msgs), (3, 30));
        let mut again = Vec::new();
        write_chatgpt_export(&mut again, 3, 10, 20, 7).unwrap();
        assert_eq!(again, buf);
    }
}
