//! Exporting conversations as Markdown.

use crate::views::ConversationDetail;

/// The conversation as Markdown: title, metadata, then the head branch (the branch the user last
/// saw) in order; other branches follow under their own heading.
pub fn markdown(d: &ConversationDetail) -> String {
    use std::collections::{HashMap, HashSet};
    let c = &d.conversation;
    let mut out = format!(
        "# {}\n\n",
        if c.title.is_empty() {
            "Untitled"
        } else {
            &c.title
        }
    );
    out.push_str(&format!(
        "- provider: {}\n- created: {}\n- updated: {}\n",
        c.provider, c.created_at, c.updated_at
    ));
    if let Some(m) = &c.model {
        out.push_str(&format!("- model: {m}\n"));
    }
    if let Some(u) = &c.source_url {
        out.push_str(&format!("- source: {u}\n"));
    }
    out.push_str(&format!("- vivim id: {}\n\n", c.id));
    let by_id: HashMap<&str, &crate::views::MessageView> =
        d.messages.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut branch = Vec::new();
    let mut cur = c.head.as_deref();
    let mut seen = HashSet::new();
    while let Some(id) = cur {
        if !seen.insert(id) {
            break;
        }
        let Some(m) = by_id.get(id) else { break };
        branch.push(*m);
        cur = m.parent.as_deref();
    }
    branch.reverse();
    let write = |out: &mut String, m: &crate::views::MessageView| {
        let who = match m.role.as_str() {
            "user" => "User",
            "assistant" => "Assistant",
            "system" => "System",
            _ => "Tool",
        };
        let text = m.text.as_deref().unwrap_or("*(sealed)*");
        if text.is_empty() {
            return;
        }
        // Context the model was given (custom instructions, memory, a system prompt) is kept,
        // folded, and named for what it is: it was never a turn of the conversation.
        if let Some(label) = hidden_context(m) {
            out.push_str(&format!(
                "<details><summary>{label}</summary>\n\n{text}\n\n</details>\n\n"
            ));
            return;
        }
        out.push_str(&format!("## {who}\n\n"));
        match m.kind.as_str() {
            "code" => out.push_str(&format!(
                "```{}\n{}\n```\n\n",
                m.lang.as_deref().unwrap_or(""),
                text
            )),
            "thinking" => {
                for line in text.lines() {
                    out.push_str(&format!("> {line}\n"));
                }
                out.push('\n');
            }
            _ => out.push_str(&format!("{text}\n\n")),
        }
    };
    for m in &branch {
        write(&mut out, m);
    }
    let on_branch: HashSet<&str> = branch.iter().map(|m| m.id.as_str()).collect();
    let others: Vec<_> = d
        .messages
        .iter()
        .filter(|m| !on_branch.contains(m.id.as_str()))
        .collect();
    if !others.is_empty() {
        out.push_str(&format!(
            "---\n\n*{} more message(s) on other branches:*\n\n",
            others.len()
        ));
        for m in others {
            write(&mut out, m);
        }
    }
    out
}

/// What a message of context (not a turn) is, if it is one.
pub fn hidden_context(m: &crate::views::MessageView) -> Option<&'static str> {
    match m.meta.get("content_type").map(String::as_str) {
        Some("user_editable_context") => return Some("Custom instructions"),
        Some("model_editable_context") => return Some("What ChatGPT remembered (memory)"),
        _ => {}
    }
    match (m.role.as_str(), m.kind.as_str()) {
        ("system", _) => Some("System prompt"),
        (_, "other") => Some("Hidden context"),
        _ => None,
    }
}
