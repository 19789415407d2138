#![no_main]
//! Any bytes as an export, in every format the importer reads (and detected): a parse error,
//! bad conversations or conversations, never a panic, and every conversation within limits.
use libfuzzer_sys::fuzz_target;
use vivim_node::import::{Format, Item, Limits, parse_reader};

const FORMATS: [Format; 7] = [
    Format::Auto,
    Format::ChatGpt,
    Format::Claude,
    Format::Gemini,
    Format::ChatGptShare,
    Format::ShareGpt,
    Format::Markdown,
];

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_file_bytes: 1 << 20,
        max_member_bytes: 1 << 20,
        max_element_bytes: 256 << 10,
        max_messages: 2_000,
        ..Limits::default()
    };
    let pick = data.first().copied().unwrap_or(0) as usize % FORMATS.len();
    for format in [FORMATS[pick], Format::Auto] {
        let _ = parse_reader(data, format, &limits, &mut |item| {
            if let Item::Conversation(c) = item {
                assert!(c.messages.len() <= limits.max_messages);
            }
            Ok(())
        });
    }
});
