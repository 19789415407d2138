//! Output helpers the command areas share: JSON or a human form, path segments, dates, the
//! conversation table.

use anyhow::Result;
use serde_json::Value;
use vivim_node::views::ConversationView;

/// Prints `v` as pretty JSON with `--json`, else the human form `human` prints.
pub fn out(v: &Value, json: bool, human: impl FnOnce(&Value)) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(v)?);
    } else {
        human(v);
    }
    Ok(())
}

/// `s` as one segment of a route path.
pub fn enc(s: &str) -> String {
    // DIDs and document ids are URL-safe except for ':'; keep it readable.
    s.replace('/', "%2F")
        .replace('?', "%3F")
        .replace('#', "%23")
}

/// `YYYY-MM-DD` (UTC) of a time in milliseconds since the Unix epoch.
pub fn short_date(ms: u64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms as i64)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Conversations as a table (id prefix, last update, messages, provider, title), or a hint
/// to import some when there are none.
pub fn print_list(items: &[ConversationView]) {
    if items.is_empty() {
        println!("no conversations yet: `vivim import <export>` brings them in");
        return;
    }
    println!(
        "{:<12}  {:<10}  {:>5}  {:<9}  TITLE",
        "ID", "UPDATED", "MSGS", "PROVIDER"
    );
    for c in items {
        let title: String = c.title.chars().take(70).collect();
        println!(
            "{:<12}  {:<10}  {:>5}  {:<9}  {}",
            &c.id[..12],
            short_date(c.updated_at_ms),
            c.message_count,
            c.provider,
            title
        );
    }
}
