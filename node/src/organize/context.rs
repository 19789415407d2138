//! The context engine: system notes, relevant memories, retrieved messages and recent turns,
//! assembled into one prompt under a token budget.
//!
//! Sections are filled in priority order (system, memories, retrieved, recent), each from its
//! most relevant item down; an item that does not fit is left out and counted. Items already in
//! the prompt (same text after normalising case and spaces) are dropped. The question itself
//! must fit. The whole prompt is counted at the end and trimmed from the lowest priority until
//! it fits, so `total_tokens <= budget_tokens` always holds.
//!
//! ```
//! use vivim_node::organize::context::{Parts, TokenCounter, assemble};
//! let counter = TokenCounter::for_model("gpt-4o");
//! let parts = Parts { query: "what did I decide about the database?".into(), ..Parts::default() };
//! let ctx = assemble(&counter, 100, &parts).unwrap();
//! assert!(ctx.total_tokens <= 100);
//! ```

use crate::text::clip;
use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::organize::ai::ChatMessage;

/// Why a context could not be assembled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The question alone is over the budget.
    #[error("the question alone takes {need} tokens; the budget is {budget}")]
    BudgetTooSmall {
        /// Tokens the question needs.
        need: usize,
        /// The budget.
        budget: usize,
    },
}

/// Counts tokens for a model: tiktoken's encoding for OpenAI models (o200k_base, cl100k_base,
/// …, bundled in the binary), and for other models an estimate: cl100k_base tokens plus 15%.
#[derive(Clone, Copy)]
pub struct TokenCounter {
    bpe: &'static tiktoken_rs::CoreBPE,
    name: &'static str,
    estimate: bool,
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl TokenCounter {
    /// The counter for `model` (`gpt-4o`, `gpt-4`, `claude-…`, `llama3`, …).
    pub fn for_model(model: &str) -> TokenCounter {
        use tiktoken_rs::tokenizer::Tokenizer as T;
        match tiktoken_rs::tokenizer::get_tokenizer(model) {
            Some(T::O200kBase | T::O200kHarmony) => TokenCounter {
                bpe: tiktoken_rs::o200k_base_singleton(),
                name: "o200k_base",
                estimate: false,
            },
            Some(T::Cl100kBase) => TokenCounter {
                bpe: tiktoken_rs::cl100k_base_singleton(),
                name: "cl100k_base",
                estimate: false,
            },
            Some(T::P50kBase | T::P50kEdit) => TokenCounter {
                bpe: tiktoken_rs::p50k_base_singleton(),
                name: "p50k_base",
                estimate: false,
            },
            Some(T::R50kBase | T::Gpt2) => TokenCounter {
                bpe: tiktoken_rs::r50k_base_singleton(),
                name: "r50k_base",
                estimate: false,
            },
            _ => TokenCounter {
                bpe: tiktoken_rs::cl100k_base_singleton(),
                name: "estimate (cl100k_base + 15%)",
                estimate: true,
            },
        }
    }

    /// Tokens in `text`.
    pub fn count(&self, text: &str) -> usize {
        let n = self.bpe.encode_ordinary(text).len();
        if self.estimate {
            (n * 115).div_ceil(100)
        } else {
            n
        }
    }

    /// The encoding's name, or how the estimate is made.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Whether counts are an estimate (not the model's own tokenizer).
    pub fn is_estimate(&self) -> bool {
        self.estimate
    }
}

/// A retrieved message.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Retrieved {
    /// ACU id.
    pub acu: String,
    /// Conversation title.
    pub title: String,
    /// Role.
    pub role: String,
    /// Text.
    pub text: String,
}

/// What goes into a context, each list best first.
#[derive(Debug, Clone, Default)]
pub struct Parts {
    /// System notes.
    pub system: Vec<String>,
    /// Memories (content), most relevant first.
    pub memories: Vec<(String, String)>,
    /// Retrieved messages, most relevant first.
    pub retrieved: Vec<Retrieved>,
    /// Recent turns, newest first: (role, text).
    pub recent: Vec<(String, String)>,
    /// The question.
    pub query: String,
}

/// Tokens and items of one section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SectionAccount {
    /// `system`, `memories`, `retrieved`, `recent`, `query`.
    pub name: String,
    /// Tokens of the section as rendered (header included).
    pub tokens: usize,
    /// Items included.
    pub items: usize,
    /// Items left out for the budget.
    pub dropped: usize,
    /// Items left out as duplicates.
    pub duplicates: usize,
}

/// An assembled context.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Context {
    /// The prompt, as one text.
    pub prompt: String,
    /// The same as chat messages: one system message (notes, memories, retrieved), the recent
    /// turns, and the question.
    pub system: String,
    /// Recent turns and the question.
    pub messages: Vec<ChatMessage>,
    /// Per-section account.
    pub sections: Vec<SectionAccount>,
    /// Tokens of `prompt`.
    pub total_tokens: usize,
    /// The budget.
    pub budget_tokens: usize,
    /// How tokens were counted.
    pub tokenizer: String,
    /// Ids of the memories included (for reinforcement).
    #[serde(default)]
    pub memory_ids: Vec<String>,
    /// Ids of the ACUs included.
    #[serde(default)]
    pub acu_ids: Vec<String>,
}

const SECTIONS: [&str; 4] = ["system", "memories", "retrieved", "recent"];
const HEADERS: [&str; 4] = [
    "## Notes\n",
    "## What you know about the user\n",
    "## From earlier conversations\n",
    "## Recent conversation\n",
];

fn norm(s: &str) -> String {
    s.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

struct Item {
    line: String,
    id: Option<String>,
    role: Option<String>,
    text: String,
}

fn render_section(i: usize, items: &[&Item]) -> String {
    let mut s = String::from(HEADERS[i]);
    for it in items {
        s.push_str(&it.line);
        s.push('\n');
    }
    s
}

fn render(chosen: &[Vec<usize>; 4], all: &[Vec<Item>; 4], query: &str) -> (String, String) {
    let mut system = String::new();
    let mut prompt = String::new();
    for (i, idxs) in chosen.iter().enumerate() {
        if idxs.is_empty() {
            continue;
        }
        let mut items: Vec<&Item> = idxs.iter().map(|j| &all[i][*j]).collect();
        if i == 3 {
            // Chosen newest first, shown in order.
            items.reverse();
        }
        let s = render_section(i, &items);
        if i < 3 {
            system.push_str(&s);
            system.push('\n');
        }
        prompt.push_str(&s);
        prompt.push('\n');
    }
    prompt.push_str("## Question\n");
    prompt.push_str(query);
    (prompt, system.trim_end().to_string())
}

/// Assembles `parts` under `budget` tokens counted by `counter`.
pub fn assemble(
    counter: &TokenCounter,
    budget: usize,
    parts: &Parts,
) -> Result<Context, ContextError> {
    let query_tokens = counter.count(&format!("## Question\n{}", parts.query));
    if query_tokens > budget {
        return Err(ContextError::BudgetTooSmall {
            need: query_tokens,
            budget,
        });
    }
    let all: [Vec<Item>; 4] = [
        parts
            .system
            .iter()
            .map(|s| Item {
                line: s.clone(),
                id: None,
                role: None,
                text: s.clone(),
            })
            .collect(),
        parts
            .memories
            .iter()
            .map(|(id, m)| Item {
                line: format!("- {m}"),
                id: Some(id.clone()),
                role: None,
                text: m.clone(),
            })
            .collect(),
        parts
            .retrieved
            .iter()
            .map(|r| Item {
                line: format!("- [{} · {}] {}", r.title, r.role, clip(&r.text, 2000)),
                id: Some(r.acu.clone()),
                role: Some(r.role.clone()),
                text: r.text.clone(),
            })
            .collect(),
        parts
            .recent
            .iter()
            .map(|(role, t)| Item {
                line: format!("{role}: {}", clip(t, 4000)),
                id: None,
                role: Some(role.clone()),
                text: t.clone(),
            })
            .collect(),
    ];
    let mut chosen: [Vec<usize>; 4] = Default::default();
    let mut dropped = [0usize; 4];
    let mut dups = [0usize; 4];
    let mut seen: HashSet<String> = HashSet::new();
    seen.insert(norm(&parts.query));
    // Greedy fill with per-item counts (+1 for the line break); the exact count comes after.
    let mut used = query_tokens + 1;
    for i in 0..4 {
        for (j, it) in all[i].iter().enumerate() {
            let key = norm(&it.text);
            if key.is_empty() || seen.contains(&key) {
                dups[i] += 1;
                continue;
            }
            let header = if chosen[i].is_empty() {
                counter.count(HEADERS[i]) + 1
            } else {
                0
            };
            let cost = counter.count(&it.line) + 1 + header;
            if used + cost <= budget {
                used += cost;
                chosen[i].push(j);
                seen.insert(key);
            } else {
                dropped[i] += 1;
            }
        }
    }
    let (mut prompt, mut system) = render(&chosen, &all, &parts.query);
    let mut total = counter.count(&prompt);
    while total > budget {
        // Drop the last item of the lowest-priority section that has one.
        let Some(i) = (0..4).rev().find(|i| !chosen[*i].is_empty()) else {
            break;
        };
        chosen[i].pop();
        dropped[i] += 1;
        (prompt, system) = render(&chosen, &all, &parts.query);
        total = counter.count(&prompt);
    }
    let mut sections = Vec::with_capacity(5);
    for i in 0..4 {
        let mut items: Vec<&Item> = chosen[i].iter().map(|j| &all[i][*j]).collect();
        if i == 3 {
            items.reverse();
        }
        sections.push(SectionAccount {
            name: SECTIONS[i].into(),
            tokens: if items.is_empty() {
                0
            } else {
                counter.count(&render_section(i, &items))
            },
            items: items.len(),
            dropped: dropped[i],
            duplicates: dups[i],
        });
    }
    sections.push(SectionAccount {
        name: "query".into(),
        tokens: query_tokens,
        items: 1,
        dropped: 0,
        duplicates: 0,
    });
    let mut messages: Vec<ChatMessage> = chosen[3]
        .iter()
        .rev()
        .map(|j| {
            let it = &all[3][*j];
            ChatMessage {
                role: match it.role.as_deref() {
                    Some("assistant") => "assistant".into(),
                    _ => "user".into(),
                },
                content: clip(&it.text, 4000).to_string(),
            }
        })
        .collect();
    messages.push(ChatMessage {
        role: "user".into(),
        content: parts.query.clone(),
    });
    Ok(Context {
        prompt,
        system,
        messages,
        sections,
        total_tokens: total,
        budget_tokens: budget,
        tokenizer: counter.name().into(),
        memory_ids: chosen[1]
            .iter()
            .filter_map(|j| all[1][*j].id.clone())
            .collect(),
        acu_ids: chosen[2]
            .iter()
            .filter_map(|j| all[2][*j].id.clone())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    fn text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-zA-Z0-9 ,.!?\n\u{e9}\u{4e2d}]{0,300}").unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn context_never_exceeds_its_budget(
            system in proptest::collection::vec(text(), 0..3),
            memories in proptest::collection::vec(text(), 0..12),
            retrieved in proptest::collection::vec(text(), 0..12),
            recent in proptest::collection::vec(text(), 0..12),
            query in "[a-z ]{1,80}",
            budget in 0usize..1500,
            model in prop_oneof![Just("gpt-4o"), Just("gpt-4"), Just("claude-3-5-sonnet")],
        ) {
            let counter = TokenCounter::for_model(model);
            let parts = Parts {
                system,
                memories: memories.into_iter().enumerate().map(|(i, m)| (i.to_string(), m)).collect(),
                retrieved: retrieved.into_iter().enumerate().map(|(i, t)| Retrieved {
                    acu: i.to_string(), title: "t".into(), role: "user".into(), text: t,
                }).collect(),
                recent: recent.into_iter().map(|t| ("assistant".to_string(), t)).collect(),
                query: query.clone(),
            };
            match assemble(&counter, budget, &parts) {
                Ok(ctx) => {
                    prop_assert!(ctx.total_tokens <= budget);
                    prop_assert_eq!(ctx.total_tokens, counter.count(&ctx.prompt));
                    prop_assert!(ctx.prompt.ends_with(&query));
                }
                Err(ContextError::BudgetTooSmall { need, .. }) => prop_assert!(need > budget),
            }
        }
    }

    #[test]
    fn priorities_and_duplicates() {
        let counter = TokenCounter::for_model("gpt-4o");
        let parts = Parts {
            system: vec!["Be brief.".into()],
            memories: vec![
                ("m1".into(), "The user prefers Postgres.".into()),
                ("m2".into(), "the user  PREFERS postgres.".into()),
            ],
            retrieved: vec![Retrieved {
                acu: "a1".into(),
                title: "DB".into(),
                role: "user".into(),
                text: "x ".repeat(400),
            }],
            recent: vec![("user".into(), "hello".into())],
            query: "which database?".into(),
        };
        let ctx = assemble(&counter, 60, &parts).unwrap();
        assert!(ctx.total_tokens <= 60);
        let s = |n: &str| ctx.sections.iter().find(|s| s.name == n).unwrap().clone();
        assert_eq!(s("system").items, 1);
        assert_eq!(s("memories").items, 1);
        assert_eq!(s("memories").duplicates, 1);
        assert_eq!(s("retrieved").dropped, 1, "800 tokens do not fit in 60");
        assert_eq!(s("recent").items, 1);
        assert_eq!(ctx.memory_ids, vec!["m1".to_string()]);
        assert_eq!(ctx.messages.last().unwrap().content, "which database?");
        assert_eq!(ctx.tokenizer, "o200k_base");
        assert!(TokenCounter::for_model("llama3").is_estimate());
        assert!(matches!(
            assemble(&counter, 2, &parts),
            Err(ContextError::BudgetTooSmall { .. })
        ));
    }
}
