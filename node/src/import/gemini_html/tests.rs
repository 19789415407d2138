//! Tests of the My Activity HTML parser.

#![allow(clippy::unwrap_used)]
use super::*;
use crate::import::{BadConversation, Item, Limits};

const FIXTURE: &str =
    include_str!("../../../tests/fixtures/import/issue18/gemini_my_activity.html");

struct Out {
    result: Result<(), ImportError>,
    convs: Vec<ImportedConversation>,
    bad: Vec<BadConversation>,
}

fn run_with(bytes: &[u8], f: fn(&[u8], &mut Ctx<'_>, Sink<'_>) -> Result<(), ImportError>) -> Out {
    let limits = Limits::default();
    let mut ctx = Ctx::new(&limits, None, 0);
    let mut items = Vec::new();
    let result = f(bytes, &mut ctx, &mut |item| {
        items.push(item);
        Ok(())
    });
    let mut out = Out {
        result,
        convs: Vec::new(),
        bad: Vec::new(),
    };
    for item in items {
        match item {
            Item::Conversation(c) => out.convs.push(c),
            Item::Bad(b) => out.bad.push(b),
        }
    }
    for c in &out.convs {
        check_shape(c);
    }
    out
}

fn run(bytes: &[u8]) -> Out {
    run_with(bytes, |b, ctx, sink| parse_html(b, ctx, sink))
}

/// Parents first, unique ids, the head is the last message.
fn check_shape(c: &ImportedConversation) {
    let mut seen = HashSet::new();
    for m in &c.messages {
        if let Some(p) = &m.parent {
            assert!(
                seen.contains(p.as_str()),
                "parent {p} of {} comes later",
                m.id
            );
        }
        assert!(seen.insert(m.id.as_str()), "duplicate id {}", m.id);
    }
    assert_eq!(c.head.as_deref(), c.messages.last().map(|m| m.id.as_str()));
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> u64 {
    let t = chrono::NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, s)
        .unwrap();
    u64::try_from(t.and_utc().timestamp_millis()).unwrap()
}

fn texts(c: &ImportedConversation) -> Vec<(Role, Kind, &str)> {
    c.messages
        .iter()
        .map(|m| (m.role, m.kind, m.text.as_str()))
        .collect()
}

/// A page in the fixture's layout; `cells` are (header, content-cell HTML), newest first.
fn page(cells: &[(&str, &str)]) -> String {
    let mut html = String::from(
        "<html><head><meta charset=\"UTF-8\"><title>My Activity</title></head><body>\
         <div class=\"mdl-grid\">",
    );
    for (header, content) in cells {
        html.push_str(&format!(
            "<div class=\"outer-cell mdl-cell mdl-cell--12-col mdl-shadow--2dp\">\
             <div class=\"mdl-grid\"><div class=\"header-cell mdl-cell mdl-cell--12-col\">\
             <p class=\"mdl-typography--title\">{header}<br></p></div>\
             <div class=\"content-cell mdl-cell mdl-cell--6-col mdl-typography--body-1\">\
             {content}</div><div class=\"content-cell mdl-cell mdl-cell--6-col \
             mdl-typography--body-1 mdl-typography--text-right\"></div>\
             <div class=\"content-cell mdl-cell mdl-cell--12-col mdl-typography--caption\">\
             <b>Products:</b><br>&emsp;{header}<br></div></div></div>"
        ));
    }
    html.push_str("</div></body></html>");
    html
}

#[test]
fn fixture_entries() {
    let out = run(FIXTURE.as_bytes());
    out.result.unwrap();
    assert!(out.bad.is_empty());
    // Days apart: three conversations, oldest first.
    assert_eq!(out.convs.len(), 3);
    let [de, plant, csv] = &out.convs[..] else {
        unreachable!()
    };

    // Jan 3, 2025, 9:15:02 AM PST = 17:15:02 UTC.
    let t = utc(2025, 1, 3, 17, 15, 2);
    assert_eq!(t, 1_735_924_502_000);
    assert_eq!((de.created_at_ms, de.updated_at_ms), (t, t));
    let prompt = "Übersetze „Frühstück“ ins Japanische und erkläre die Schreibweise 🍳";
    assert_eq!(de.title, prompt);
    assert_eq!(de.provider, "gemini");
    assert_eq!(de.messages.len(), 2);
    assert_eq!(
        (de.messages[0].role, de.messages[0].kind),
        (Role::User, Kind::Text)
    );
    assert_eq!(de.messages[0].text, prompt);
    assert_eq!(de.messages[0].created_at_ms, Some(t));
    assert_eq!(de.messages[0].meta["product"], "Gemini Apps");
    assert_eq!(
        de.messages[0].meta.len(),
        1,
        "nothing else for a readable time"
    );
    let answer = &de.messages[1];
    assert_eq!(
        (answer.role, answer.kind),
        (Role::Assistant, Kind::Markdown)
    );
    assert_eq!(answer.parent.as_deref(), Some(de.messages[0].id.as_str()));
    assert!(answer.visible);
    for part in [
        "„Frühstück“ heißt auf Japanisch 朝ご飯 (asagohan); förmlicher ist 朝食 (chōshoku).",
        "- 朝 (asa) = Morgen",
        "- ご飯 (gohan) = gekochter Reis, auch „Mahlzeit“",
        "Im Alltag sagt man oft einfach \"朝ご飯を食べた\" – 'ich habe gefrühstückt' & fertig.",
    ] {
        assert!(answer.text.contains(part), "{part:?} in {:?}", answer.text);
    }

    // Jan 4, 2025, 6:05:41 PM PST = Jan 5 02:05:41 UTC.
    let t = utc(2025, 1, 5, 2, 5, 41);
    assert_eq!(plant.created_at_ms, t);
    assert_eq!(plant.title, "What plant is this? It grows on my balcony.");
    assert_eq!(
        texts(plant),
        [
            (
                Role::User,
                Kind::Text,
                "What plant is this? It grows on my balcony."
            ),
            (Role::User, Kind::File, "image_4f2a1c.png"),
            (
                Role::Assistant,
                Kind::Markdown,
                "It looks like sweet basil (Ocimum basilicum): bright green, slightly cupped \
                 leaves and a square stem.\n\nPinch off the flower buds so it keeps \
                 producing leaves."
            ),
        ]
    );
    assert_eq!(plant.messages[0].meta["subtitles"], "Attached 1 file.");
    let file = &plant.messages[1];
    assert_eq!(file.meta["file_name"], "image_4f2a1c.png");
    assert_eq!(file.meta["file_path"], "image_4f2a1c-9b8e7d6c5a4b3f21.png");
    assert_eq!(file.created_at_ms, Some(t));

    // Jan 5, 2025, 10:32:11 AM PST = 18:32:11 UTC.
    assert_eq!(csv.created_at_ms, 1_736_101_931_000);
    assert_eq!(csv.created_at_ms, utc(2025, 1, 5, 18, 32, 11));
    let prompt = "How do I read a CSV file in Rust? Show a short example.";
    assert_eq!(csv.title, prompt);
    assert_eq!(csv.messages[0].text, prompt);
    let answer = &csv.messages[1].text;
    for part in [
        "Use the csv crate:",
        "- Add csv = \"1\" to Cargo.toml.",
        "- Open the file with csv::Reader::from_path and loop over records().",
        "let mut rdr = csv::Reader::from_path(\"data.csv\")?;\n\
         let mut rows: Vec<Vec<String>> = Vec::new();\n\
         for result in rdr.records() {\n    \
         rows.push(result?.iter().map(String::from).collect());\n}",
        "Each record is a StringRecord; the header row is skipped for you.",
    ] {
        assert!(answer.contains(part), "{part:?} in {answer:?}");
    }

    // Ids: the UTC second and the prompt, stable on a re-read.
    assert_eq!(
        csv.source_id,
        hash_id(&[b"gemini", b"2025-01-05T18:32:11Z", prompt.as_bytes()])
    );
    let again = run(FIXTURE.as_bytes());
    assert_eq!(again.convs, out.convs);
}

#[test]
fn close_entries_group_oldest_first() {
    let html = page(&[
        (
            "Gemini Apps",
            "Prompted&nbsp;much later<br>Jan 5, 2025, 2:00:00 PM PST<br><p>d</p><br>",
        ),
        (
            "Gemini Apps",
            "Prompted&nbsp;third<br>Jan 5, 2025, 10:50:00 AM PST<br><p>c</p><br>",
        ),
        (
            "Gemini Apps",
            "Prompted&nbsp;second<br>Jan 5, 2025, 10:25:00 AM PST<br><p>b</p><br>",
        ),
        (
            "Gemini Apps",
            "Prompted&nbsp;first<br>Jan 5, 2025, 10:00:00 AM PST<br><p>a</p><br>",
        ),
    ]);
    let out = run(html.as_bytes());
    out.result.unwrap();
    assert_eq!(out.convs.len(), 2, "gaps of 25 min join, 3 h 10 min splits");
    let c = &out.convs[0];
    assert_eq!(c.title, "first");
    let got: Vec<&str> = c.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(got, ["first", "a", "second", "b", "third", "c"]);
    assert_eq!(c.created_at_ms, utc(2025, 1, 5, 18, 0, 0));
    assert_eq!(c.updated_at_ms, utc(2025, 1, 5, 18, 50, 0));
    assert_eq!(out.convs[1].title, "much later");
}

/// The HTML form of `gemini_activity.json` gives the same conversations as the JSON form,
/// but for the ids (the JSON form hashes its raw time string).
#[test]
fn same_conversations_as_the_json_form() {
    let json = include_str!("../../../tests/fixtures/import/gemini_activity.json");
    let from_json = run_with(json.as_bytes(), |b, ctx, sink| parse_any(b, ctx, sink));
    from_json.result.unwrap();
    let html = page(&[
        (
            "Gemini Apps",
            "Prompted&nbsp;and one more thing<br>Mar 1, 2024, 12:20:00\u{202f}PM UTC<br>\
             <p>Sure &amp; here it is:</p><ul><li>one</li><li>two &lt;3</li></ul><br>",
        ),
        (
            "Gemini Apps",
            "Used&nbsp;Gemini Apps<br>Mar 1, 2024, 12:15:00 PM UTC<br>",
        ),
        (
            "Gemini Apps",
            "Prompted&nbsp;What is Rust?<br>Attached 1 file.<br>-&nbsp;&nbsp;diagram.png<br>\
             Mar 1, 2024, 12:00:00 PM UTC<br><h2>Rust</h2><p>Rust is a <b>systems</b> \
             language.<br>It is fast.</p><script>alert(1)</script><br>",
        ),
        (
            "Bard",
            "Prompted&nbsp;a much later question<br>Mar 1, 2024, 3:00:00 PM GMT<br>\
             <p>Later answer</p><br>",
        ),
        ("Gemini Apps", "Prompted&nbsp;broken time<br>yesterday<br>"),
    ]);
    let from_html = run_with(html.as_bytes(), |b, ctx, sink| parse_any(b, ctx, sink));
    from_html.result.unwrap();
    assert_eq!(from_html.convs.len(), from_json.convs.len());
    for (h, j) in from_html.convs.iter().zip(&from_json.convs) {
        assert_eq!(h.title, j.title);
        assert_eq!(
            (h.created_at_ms, h.updated_at_ms),
            (j.created_at_ms, j.updated_at_ms)
        );
        assert_eq!(texts(h), texts(j));
        let meta = |c: &ImportedConversation| {
            c.messages
                .iter()
                .map(|m| (m.created_at_ms, m.visible, m.meta.get("product").cloned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(meta(h), meta(j));
    }
    assert_eq!(from_html.bad.len(), 1);
    assert_eq!(from_html.bad[0].index, from_json.bad[0].index);
    assert!(
        from_html.bad[0].error.contains("time"),
        "{}",
        from_html.bad[0].error
    );
    assert_eq!(from_html.bad[0].title.as_deref(), Some("broken time"));
}

#[test]
fn english_times() {
    let read = |s: &str| parse_english_time(s).map(|t| (t.ms, t.zone_known));
    let want = Some((utc(2025, 1, 5, 18, 32, 11), true));
    assert_eq!(read("Jan 5, 2025, 10:32:11 AM PST"), want);
    assert_eq!(read("Jan 5, 2025, 10:32:11\u{202f}AM PST"), want);
    assert_eq!(read("January 5, 2025 at 10:32:11 AM PST"), None);
    assert_eq!(read("5 Jan 2025, 18:32:11 UTC"), want);
    assert_eq!(read("Jan 5, 2025, 7:32:11 PM CET"), want);
    assert_eq!(read("Jan 5, 2025, 8:32:11 PM EET"), want);
    assert_eq!(
        read("Sept. 5, 2025, 12:00:00 PM CEST"),
        Some((utc(2025, 9, 5, 10, 0, 0), true))
    );
    assert_eq!(
        read("Jul 4, 2025, 12:00:00 PM PDT"),
        Some((utc(2025, 7, 4, 19, 0, 0), true))
    );
    assert_eq!(
        read("Jul 4, 2025, 12:00:00 AM GMT"),
        Some((utc(2025, 7, 4, 0, 0, 0), true))
    );
    assert_eq!(
        read("May 19, 2026, 7:07:02\u{202f}PM GMT-03:00"),
        Some((utc(2026, 5, 19, 22, 7, 2), true))
    );
    assert_eq!(
        read("Jan 5, 2025, 12:15:00 AM GMT+05:30"),
        Some((utc(2025, 1, 4, 18, 45, 0), true))
    );
    assert_eq!(
        read("Jan 5, 2025, 1:00:00 AM UTC+1"),
        Some((utc(2025, 1, 5, 0, 0, 0), true))
    );
    assert_eq!(
        read("Jan 5, 2025, 10:32:11 AM XYZ"),
        Some((utc(2025, 1, 5, 10, 32, 11), false)),
        "an unknown zone is read as UTC"
    );
    assert_eq!(read("Jan 5, 2025, 13:00:00 PM PST"), None);
    assert_eq!(read("Feb 30, 2025, 1:00:00 AM UTC"), None);
    assert_eq!(read("2026年6月20日 00:28:51 CST"), None);
    assert_eq!(read("10 de mai. de 2026, 03:46:09 BRT"), None);
    assert_eq!(read(""), None);
    assert!(has_clock("2026年6月20日 00:28:51 CST"));
    assert!(has_clock("1. 1. 2026 10.00.00 SEČ"));
    assert!(!has_clock("Attached 1 file."));
    assert!(!has_clock("version 1.2.3"));
    assert_eq!(time_key(1_736_101_931_999), "2025-01-05T18:32:11Z");
}

#[test]
fn localized_pages_keep_entries_in_file_order() {
    // Czech: another verb and an unreadable date.
    let html = page(&[
        (
            "Gemini Apps",
            "Pokyn&nbsp;Jak se máš?<br>1. 1. 2026 10:05:00 SEČ<br><p>Dobře.</p><br>",
        ),
        (
            "Gemini Apps",
            "Použito&nbsp;Gemini Apps<br>1. 1. 2026 10:01:00 SEČ<br>",
        ),
        (
            "Gemini Apps",
            "Pokyn&nbsp;Ahoj<br>1. 1. 2026 10:00:00 SEČ<br><p>Dobrý den</p><br>",
        ),
    ]);
    let out = run(html.as_bytes());
    out.result.unwrap();
    assert!(out.bad.is_empty());
    assert_eq!(
        out.convs.len(),
        2,
        "the activity without a response is skipped"
    );
    assert_eq!(
        texts(&out.convs[0]),
        [
            (Role::User, Kind::Text, "Ahoj"),
            (Role::Assistant, Kind::Markdown, "Dobrý den")
        ]
    );
    assert_eq!(out.convs[1].title, "Jak se máš?");
    for c in &out.convs {
        for m in &c.messages {
            assert_eq!(m.meta["time_fallback"], FALLBACK_NOTE);
            assert!(m.meta["time_text"].starts_with("1. 1. 2026 10:0"));
        }
    }
    assert_ne!(out.convs[0].source_id, out.convs[1].source_id);

    // English verb, Portuguese date: the unreadable entry borrows the older entry's time
    // and stays a conversation of its own.
    let html = page(&[
        (
            "Gemini Apps",
            "Prompted&nbsp;Olá<br>10 de mai. de 2026, 03:46:09 BRT<br><p>Oi!</p><br>",
        ),
        (
            "Gemini Apps",
            "Prompted&nbsp;older<br>May 10, 2026, 3:40:00 AM BRT<br><p>x</p><br>",
        ),
    ]);
    let out = run(html.as_bytes());
    out.result.unwrap();
    assert_eq!(out.convs.len(), 2);
    assert_eq!(out.convs[0].title, "older");
    assert_eq!(out.convs[1].title, "Olá");
    assert_eq!(out.convs[1].created_at_ms, utc(2026, 5, 10, 6, 40, 0));
    assert_eq!(
        out.convs[1].messages[0].meta["time_text"],
        "10 de mai. de 2026, 03:46:09 BRT"
    );

    // No verb at all: the prompt is kept whole.
    let html = page(&[(
        "Gemini Apps",
        "Wie spät ist es?<br>05.01.2025, 10:32:11 MEZ<br><p>Spät.</p>",
    )]);
    let out = run(html.as_bytes());
    out.result.unwrap();
    assert_eq!(out.convs[0].messages[0].text, "Wie spät ist es?");
}

#[test]
fn not_an_activity_page() {
    for input in [
        "",
        "   ",
        "<html><body>a blog</body></html>",
        "[{\"title\": \"x\"}]",
    ] {
        let out = run(input.as_bytes());
        assert!(
            matches!(
                out.result,
                Err(ImportError::Malformed {
                    format: "gemini",
                    ..
                })
            ),
            "{input:?}: {:?}",
            out.result
        );
    }
    let search = page(&[(
        "Search",
        "Searched for&nbsp;rust<br>Jan 5, 2025, 10:32:11 AM PST<br>",
    )]);
    let out = run(search.as_bytes());
    let err = out.result.unwrap_err().to_string();
    assert!(err.contains("\"Search\""), "{err}");
}

#[test]
fn a_page_with_no_entries() {
    let html = "<html><head><title>My Activity</title></head><body><div class=\"mdl-grid\"></div></body></html>";
    let out = run(html.as_bytes());
    out.result.unwrap();
    assert!(out.convs.is_empty() && out.bad.is_empty());
}

#[test]
fn truncated_pages_never_panic() {
    let bytes = FIXTURE.as_bytes();
    for cut in 0..=bytes.len() {
        let out = run(&bytes[..cut]);
        assert!(out.convs.len() + out.bad.len() <= 3, "cut at {cut}");
    }
    // Cut inside the second entry's response: its prompt and the start of its answer stay.
    let cut = FIXTURE.find("sweet basil").unwrap() + "sweet".len();
    let out = run(&bytes[..cut]);
    out.result.unwrap();
    assert_eq!(out.convs.len(), 2);
    assert_eq!(
        out.convs[0].messages.last().unwrap().text,
        "It looks like sweet"
    );
    // Cut before the last entry's time line: a bad item.
    let cut = FIXTURE.find("Jan 3, 2025").unwrap();
    let out = run(&bytes[..cut]);
    out.result.unwrap();
    assert_eq!((out.convs.len(), out.bad.len()), (2, 1));
    assert_eq!(out.bad[0].index, 2);
}

#[test]
fn noise_never_panics() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..64 {
        let bytes: Vec<u8> = (0..4096).map(|_| (next() >> 24) as u8).collect();
        let _ = run(&bytes);
    }
    // The fixture with bytes replaced by markup characters and broken UTF-8.
    let alphabet = b"<>&;#x\"'=/ brdivclass-:0123456789\xC3\xE2\x80\xAF";
    for _ in 0..300 {
        let mut bytes = FIXTURE.as_bytes().to_vec();
        for _ in 0..12 {
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] = alphabet[(next() % alphabet.len() as u64) as usize];
        }
        let _ = run(&bytes);
    }
    for odd in [
        "<div class=\"content-cell mdl-typography--body-1\">",
        "<div class=\"content-cell mdl-typography--body-1\"><br><br><br>",
        "<div class=\"content-cell mdl-typography--body-1\">Prompted&nbsp;<br>1:00:00<br><div>",
        "<div class='outer-cell'><div class=content-cell mdl-typography--body-1>Prompted\u{a0}x<br>0:00:00",
        "<div class=\"mdl-grid\"><!-- <div class=\"content-cell\"> --><script>\"<div class='outer-cell'>\"",
        "<div class=\"header-cell\"><div class=\"content-cell mdl-typography--body-1\">&#xFFFFFFFF;&#99999999;<br>Jan 5, 2025, 10:32:11 AM GMT+99<br>",
    ] {
        let _ = run(odd.as_bytes());
    }
}

#[test]
fn parse_any_reads_both_forms() {
    let html = format!("\u{feff}\n  {FIXTURE}");
    let out = run_with(html.as_bytes(), |b, ctx, sink| parse_any(b, ctx, sink));
    out.result.unwrap();
    assert_eq!(out.convs.len(), 3);
    let out = run_with(b"[]", |b, ctx, sink| parse_any(b, ctx, sink));
    out.result.unwrap();
    assert!(out.convs.is_empty());
}
