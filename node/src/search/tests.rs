use std::{fs, path::Path};

use proptest::prelude::*;

use super::*;

fn conv(n: u8) -> ConvId {
    ConvId(Hash([n; 32]))
}

fn acu(n: u32) -> Hash {
    Hash::of(&n.to_le_bytes())
}

fn doc(n: u32, c: u8, text: &str) -> IndexDoc {
    IndexDoc {
        acu_id: acu(n),
        conversation: conv(c),
        provider: "chatgpt".into(),
        role: Role::User,
        kind: Kind::Text,
        created_at_ms: 1_000 + u64::from(n),
        title: format!("conversation {c}"),
        text: text.into(),
    }
}

fn ids(hits: &[Hit]) -> Vec<Hash> {
    hits.iter().map(|h| h.acu_id).collect()
}

fn search(ix: &SearchIndex, q: &Query) -> (Vec<Hit>, usize) {
    ix.search(q).expect("search")
}

fn text(ix: &SearchIndex, t: &str) -> Vec<Hash> {
    ids(&search(ix, &Query::new(t)).0)
}

fn index_with(docs: Vec<IndexDoc>) -> SearchIndex {
    let ix = SearchIndex::open_in_ram().expect("ram index");
    ix.add(docs).expect("add");
    ix.commit().expect("commit");
    ix
}

#[test]
fn is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<SearchIndex>();
}

#[test]
fn bm25_ranks_repeated_term_above_single_mention() {
    let ix = index_with(vec![
        doc(
            1,
            1,
            "we talked about many things and the borrow checker came up once",
        ),
        doc(
            2,
            1,
            "borrow checker: a borrow here, a borrow there, every borrow checked",
        ),
        doc(3, 1, "nothing relevant at all in this message"),
    ]);
    let (hits, total) = search(&ix, &Query::new("borrow"));
    assert_eq!(total, 2);
    assert_eq!(ids(&hits), vec![acu(2), acu(1)]);
    assert!(hits[0].score > hits[1].score);
}

#[test]
fn title_matches_count_and_are_boosted() {
    let mut in_title = doc(1, 1, "some words about lifetimes");
    in_title.title = "Ownership in Rust".into();
    let mut in_text = doc(2, 2, "ownership explained with lifetimes and words");
    in_text.title = "Misc".into();
    let ix = index_with(vec![in_title, in_text, doc(3, 3, "unrelated")]);
    let (hits, total) = search(&ix, &Query::new("ownership"));
    assert_eq!(total, 2);
    assert_eq!(hits[0].acu_id, acu(1), "the title match ranks first");
    // A title-only match still gets a snippet: the start of the text, no highlights.
    assert_eq!(hits[0].snippet, "some words about lifetimes");
    assert!(hits[0].highlights.is_empty());
}

#[test]
fn all_words_must_match_and_accents_fold() {
    let ix = index_with(vec![
        doc(1, 1, "Le café est chaud"),
        doc(2, 1, "le thé est chaud"),
    ]);
    assert_eq!(text(&ix, "cafe chaud"), vec![acu(1)]);
    assert_eq!(text(&ix, "CAFÉ"), vec![acu(1)]);
    assert_eq!(text(&ix, "chaud").len(), 2);
    assert_eq!(text(&ix, "\"thé est\""), vec![acu(2)]);
    assert_eq!(text(&ix, "chaud -the"), vec![acu(1)]);
}

fn filter_fixture() -> SearchIndex {
    let mut a = doc(1, 1, "rust question one");
    a.provider = "chatgpt".into();
    a.role = Role::User;
    a.created_at_ms = 1_000;
    let mut b = doc(2, 1, "rust answer two");
    b.provider = "chatgpt".into();
    b.role = Role::Assistant;
    b.created_at_ms = 2_000;
    let mut c = doc(3, 2, "rust answer three");
    c.provider = "claude".into();
    c.role = Role::Assistant;
    c.created_at_ms = 3_000;
    index_with(vec![a, b, c])
}

fn sorted(mut v: Vec<Hash>) -> Vec<Hash> {
    v.sort();
    v
}

#[test]
fn provider_filter() {
    let ix = filter_fixture();
    let mut q = Query::new("rust");
    q.provider = Some("claude".into());
    assert_eq!(ids(&search(&ix, &q).0), vec![acu(3)]);
    q.provider = Some("chatgpt".into());
    assert_eq!(
        sorted(ids(&search(&ix, &q).0)),
        sorted(vec![acu(1), acu(2)])
    );
    q.provider = Some("Claude".into()); // exact, case-sensitive
    assert_eq!(search(&ix, &q).1, 0);
}

#[test]
fn role_filter() {
    let ix = filter_fixture();
    let mut q = Query::new("rust");
    q.role = Some(Role::User);
    assert_eq!(ids(&search(&ix, &q).0), vec![acu(1)]);
    q.role = Some(Role::Assistant);
    assert_eq!(
        sorted(ids(&search(&ix, &q).0)),
        sorted(vec![acu(2), acu(3)])
    );
    q.role = Some(Role::Tool);
    assert_eq!(search(&ix, &q).1, 0);
}

#[test]
fn date_range_filter_is_inclusive() {
    let ix = filter_fixture();
    let mut q = Query::new("rust");
    q.from_ms = Some(2_000);
    assert_eq!(
        sorted(ids(&search(&ix, &q).0)),
        sorted(vec![acu(2), acu(3)])
    );
    q.to_ms = Some(2_000);
    assert_eq!(ids(&search(&ix, &q).0), vec![acu(2)]);
    q.from_ms = None;
    q.to_ms = Some(1_999);
    assert_eq!(ids(&search(&ix, &q).0), vec![acu(1)]);
    q.from_ms = Some(3_001);
    q.to_ms = None;
    assert_eq!(search(&ix, &q).1, 0);
    q.from_ms = Some(3_000);
    q.to_ms = Some(1_000); // inverted range: nothing, no error
    assert_eq!(search(&ix, &q), (vec![], 0));
}

#[test]
fn conversation_filter() {
    let ix = filter_fixture();
    let mut q = Query::new("answer");
    q.conversation = Some(conv(2));
    assert_eq!(ids(&search(&ix, &q).0), vec![acu(3)]);
    q.conversation = Some(conv(1));
    assert_eq!(ids(&search(&ix, &q).0), vec![acu(2)]);
    q.conversation = Some(conv(9));
    assert_eq!(search(&ix, &q).1, 0);
}

#[test]
fn filters_combine_and_do_not_change_scores() {
    let ix = filter_fixture();
    let plain = search(&ix, &Query::new("answer")).0;
    let mut q = Query::new("answer");
    q.provider = Some("claude".into());
    q.role = Some(Role::Assistant);
    q.from_ms = Some(0);
    q.conversation = Some(conv(2));
    let filtered = search(&ix, &q).0;
    assert_eq!(ids(&filtered), vec![acu(3)]);
    let same = plain.iter().find(|h| h.acu_id == acu(3)).expect("in plain");
    assert_eq!(same.score, filtered[0].score);
}

#[test]
fn empty_query_lists_filtered_newest_first() {
    let ix = filter_fixture();
    let (hits, total) = search(&ix, &Query::new(""));
    assert_eq!(total, 3);
    assert_eq!(ids(&hits), vec![acu(3), acu(2), acu(1)]);
    let mut q = Query::new("   ");
    q.provider = Some("chatgpt".into());
    let (hits, total) = search(&ix, &q);
    assert_eq!(total, 2);
    assert_eq!(ids(&hits), vec![acu(2), acu(1)]);
    assert_eq!(hits[0].snippet, "rust answer two");
    assert_eq!(hits[0].score, 0.0);
    assert_eq!(hits[0].provider, "chatgpt");
    assert_eq!(hits[0].role, Role::Assistant);
    assert_eq!(hits[0].kind, Kind::Text);
    assert_eq!(hits[0].created_at_ms, 2_000);
    assert_eq!(hits[0].conversation, conv(1));
    assert_eq!(hits[0].title, "conversation 1");
}

#[test]
fn snippet_highlights_point_at_the_term() {
    let long_prefix = "filler words ".repeat(40);
    let t = format!("{long_prefix} and then Tokio appears, tokio again, é");
    let ix = index_with(vec![doc(1, 1, &t)]);
    let (hits, _) = search(&ix, &Query::new("tokio"));
    let h = &hits[0];
    assert!(h.snippet.len() <= SNIPPET_MAX_CHARS, "{}", h.snippet.len());
    assert_eq!(h.highlights.len(), 2);
    for &(s, e) in &h.highlights {
        assert_eq!(h.snippet[s..e].to_lowercase(), "tokio");
    }
    assert!(
        h.snippet_html
            .contains("<b>Tokio</b> appears, <b>tokio</b> again")
    );
}

#[test]
fn short_text_is_shown_whole() {
    let ix = index_with(vec![doc(1, 1, "  (Is tokio fast?)  ")]);
    let (hits, _) = search(&ix, &Query::new("tokio"));
    assert_eq!(hits[0].snippet, "(Is tokio fast?)");
    assert_eq!(hits[0].highlights, vec![(4, 9)]);
    assert_eq!(hits[0].snippet_html, "(Is <b>tokio</b> fast?)");
}

#[test]
fn snippet_html_escapes_markup() {
    let ix = index_with(vec![doc(
        1,
        1,
        r#"try <script>alert("x")</script> & see if "quotes" survive"#,
    )]);
    let (hits, _) = search(&ix, &Query::new("script"));
    let h = &hits[0];
    assert!(!h.snippet_html.contains("<script>"));
    assert_eq!(
        h.snippet_html,
        "try &lt;<b>script</b>&gt;alert(&quot;x&quot;)&lt;/<b>script</b>&gt; &amp; see if \
         &quot;quotes&quot; survive"
    );
    // The plain snippet is unescaped and the ranges index into it.
    assert!(h.snippet.contains("<script>"));
    assert_eq!(&h.snippet[h.highlights[0].0..h.highlights[0].1], "script");
    // Listing without text escapes too.
    let (hits, _) = search(&ix, &Query::new(""));
    assert!(hits[0].snippet_html.starts_with("try &lt;script&gt;"));
}

const WEIRD: &[&str] = &[
    "\"unbalanced",
    "AND OR",
    "OR",
    "NOT",
    "(((",
    ")))",
    "a AND",
    "title:",
    ":",
    "nosuchfield:value",
    "created_at_ms:>abc",
    "created_at_ms:[1 TO",
    "text:[a TO",
    "\"a\"*",
    "\"\"",
    "*",
    "-",
    "-rust",
    "+",
    "^2",
    "rust^",
    "rust^-1",
    "~",
    "\"rust borrow\"~",
    "\\",
    "{",
    "}",
    "[",
    "]",
    "rust IN [",
    "😀 🦀",
    "\u{0}",
    "acu_id:",
    "provider:chatgpt",
    "role:user AND",
];

#[test]
fn weird_query_syntax_never_errors() {
    let ix = index_with(vec![doc(1, 1, "rust borrow checker"), doc(2, 1, "other")]);
    for q in WEIRD {
        let r = ix.search(&Query::new(*q));
        assert!(r.is_ok(), "{q:?}: {r:?}");
    }
    // Field syntax works when it is valid.
    assert_eq!(search(&ix, &Query::new("provider:chatgpt")).1, 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn arbitrary_query_text_never_errors(s in "[a-z \"():*^~+\\-\\[\\]{}!<>=\\\\é😀]{0,80}") {
        let ix = FUZZ_INDEX.with(|ix| ix.search(&Query::new(s.clone())).map(|_| ()));
        prop_assert!(ix.is_ok(), "{s:?}: {ix:?}");
    }
}

thread_local! {
    static FUZZ_INDEX: SearchIndex =
        index_with(vec![doc(1, 1, "a b c rust borrow"), doc(2, 2, "x y z")]);
}

#[test]
fn caps_are_enforced() {
    let ix = index_with((0..5).map(|n| doc(n, 1, "same words")).collect());
    let long = "a".repeat(MAX_QUERY_BYTES + 1);
    assert!(matches!(
        ix.search(&Query::new(long)),
        Err(SearchError::QueryTooLong { .. })
    ));
    assert!(ix.search(&Query::new("a".repeat(MAX_QUERY_BYTES))).is_ok());
    let mut q = Query::new("same");
    q.offset = MAX_OFFSET + 1;
    let err = ix.search(&q).expect_err("offset cap");
    assert!(err.to_string().contains("offset"), "{err}");
    let mut q = Query::new("same");
    q.limit = usize::MAX;
    assert_eq!(search(&ix, &q).0.len(), 5);
    q.limit = 0;
    assert_eq!(search(&ix, &q), (vec![], 5));
    let mut q = Query::new("same");
    q.provider = Some("p".repeat(MAX_FILTER_BYTES + 1));
    assert!(matches!(
        ix.search(&q),
        Err(SearchError::FilterTooLong { .. })
    ));
}

#[test]
fn paging_with_offset() {
    let docs: Vec<IndexDoc> = (0..25).map(|n| doc(n, 1, "page me")).collect();
    let ix = index_with(docs);
    let mut seen = Vec::new();
    for page in 0..3 {
        let mut q = Query::new("page");
        q.limit = 10;
        q.offset = page * 10;
        let (hits, total) = search(&ix, &q);
        assert_eq!(total, 25);
        assert_eq!(hits.len(), if page < 2 { 10 } else { 5 });
        seen.extend(ids(&hits));
    }
    let all = ids(&search(&ix, &{
        let mut q = Query::new("page");
        q.limit = 100;
        q
    })
    .0);
    assert_eq!(seen, all, "pages are consecutive slices of one ranking");
    assert_eq!(sorted(seen), sorted((0..25).map(acu).collect()));
    // Listing pages, newest first.
    let mut q = Query::new("");
    q.limit = 10;
    q.offset = 20;
    let (hits, _) = search(&ix, &q);
    assert_eq!(ids(&hits), (0..5).rev().map(acu).collect::<Vec<_>>());
    // Past the end.
    let mut q = Query::new("page");
    q.offset = 30;
    assert_eq!(search(&ix, &q), (vec![], 25));
}

#[test]
fn re_adding_an_acu_replaces_it() {
    let ix = index_with(vec![doc(1, 1, "original words")]);
    ix.add([doc(1, 1, "original words, edited")]).expect("add");
    ix.commit().expect("commit");
    assert_eq!(ix.doc_count(), 1);
    let (hits, total) = search(&ix, &Query::new("original"));
    assert_eq!(total, 1);
    assert_eq!(hits[0].snippet, "original words, edited");
    // Twice within one batch.
    ix.add([doc(2, 1, "twin"), doc(2, 1, "twin")]).expect("add");
    ix.commit().expect("commit");
    assert_eq!(search(&ix, &Query::new("twin")).1, 1);
    assert_eq!(ix.doc_count(), 2);
}

#[test]
fn delete_conversation_removes_its_hits() {
    let ix = index_with(vec![
        doc(1, 1, "shared term"),
        doc(2, 1, "shared term"),
        doc(3, 2, "shared term"),
    ]);
    ix.delete_conversation(&conv(1)).expect("delete");
    assert_eq!(search(&ix, &Query::new("shared")).1, 3, "not before commit");
    ix.commit().expect("commit");
    assert_eq!(text(&ix, "shared"), vec![acu(3)]);
    assert_eq!(ix.doc_count(), 1);
}

#[test]
fn reindexing_a_conversation_in_one_commit() {
    let ix = index_with(vec![
        doc(1, 1, "old one"),
        doc(2, 1, "old two"),
        doc(3, 2, "old other"),
    ]);
    // Re-import: drop the conversation and add its new version before one commit.
    ix.delete_conversation(&conv(1)).expect("delete");
    ix.add([doc(2, 1, "new two"), doc(4, 1, "new four")])
        .expect("add");
    ix.commit().expect("commit");
    assert_eq!(text(&ix, "old"), vec![acu(3)]);
    assert_eq!(sorted(text(&ix, "new")), sorted(vec![acu(2), acu(4)]));
    assert_eq!(ix.doc_count(), 3);
}

#[test]
fn clear_discards_uncommitted_writes() {
    let ix = index_with(vec![doc(1, 1, "kept until clear")]);
    ix.add((10..20).map(|n| doc(n, 1, "pending"))).expect("add");
    ix.clear().expect("clear");
    ix.commit().expect("commit");
    assert_eq!(ix.doc_count(), 0);
}

#[test]
fn writes_are_invisible_until_commit() {
    let ix = SearchIndex::open_in_ram().expect("index");
    ix.add([doc(1, 1, "pending")]).expect("add");
    assert_eq!(ix.doc_count(), 0);
    ix.commit().expect("commit");
    assert_eq!(ix.doc_count(), 1);
    ix.commit().expect("empty commit is fine");
}

#[test]
fn clear_removes_everything() {
    let ix = index_with((0..10).map(|n| doc(n, 1, "x")).collect());
    ix.clear().expect("clear");
    assert_eq!(ix.doc_count(), 0);
    assert_eq!(search(&ix, &Query::new("")).1, 0);
    ix.add([doc(1, 1, "back")]).expect("add");
    ix.commit().expect("commit");
    assert_eq!(text(&ix, "back"), vec![acu(1)]);
}

fn open(dir: &Path) -> (SearchIndex, OpenState) {
    SearchIndex::open(dir).expect("open")
}

#[test]
fn missing_or_empty_dir_is_created() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("a/b/index");
    assert_eq!(open(&dir).1, OpenState::Created);
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).expect("mkdir");
    assert_eq!(open(&empty).1, OpenState::Created);
}

#[test]
fn persists_across_reopen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    {
        let (ix, state) = open(tmp.path());
        assert_eq!(state, OpenState::Created);
        ix.add((0..50).map(|n| doc(n, 1, "durable words")))
            .expect("add");
        ix.commit().expect("commit");
        ix.add([doc(99, 1, "never committed")]).expect("add");
    }
    let (ix, state) = open(tmp.path());
    assert_eq!(state, OpenState::Existing);
    assert_eq!(ix.doc_count(), 50);
    assert_eq!(search(&ix, &Query::new("durable")).1, 50);
    assert_eq!(search(&ix, &Query::new("committed")).1, 0);
    // And it is writable again (the old writer's lock was released).
    ix.add([doc(100, 1, "later")]).expect("add");
    ix.release_writer().expect("release");
    assert_eq!(text(&ix, "later"), vec![acu(100)]);
}

fn populated(dir: &Path) {
    let (ix, _) = open(dir);
    ix.add((0..20).map(|n| doc(n, 1, "before damage")))
        .expect("add");
    ix.release_writer().expect("release");
}

fn assert_rebuilt_and_usable(dir: &Path) {
    let (ix, state) = open(dir);
    assert_eq!(state, OpenState::RebuiltEmpty);
    assert_eq!(ix.doc_count(), 0);
    ix.add([doc(1, 1, "after repair")]).expect("add");
    ix.commit().expect("commit");
    assert_eq!(text(&ix, "repair"), vec![acu(1)]);
    drop(ix);
    let (ix, state) = open(dir);
    assert_eq!(state, OpenState::Existing);
    assert_eq!(ix.doc_count(), 1);
}

#[test]
fn corrupt_meta_json_is_rebuilt() {
    let tmp = tempfile::tempdir().expect("tempdir");
    populated(tmp.path());
    fs::write(tmp.path().join("meta.json"), b"{ this is not json").expect("corrupt");
    assert_rebuilt_and_usable(tmp.path());
}

#[test]
fn missing_meta_json_is_rebuilt() {
    let tmp = tempfile::tempdir().expect("tempdir");
    populated(tmp.path());
    fs::remove_file(tmp.path().join("meta.json")).expect("rm");
    assert_rebuilt_and_usable(tmp.path());
}

fn remove_segment_files(dir: &Path, ext: &str) -> usize {
    let mut n = 0;
    for e in fs::read_dir(dir).expect("ls") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == ext) {
            fs::remove_file(&p).expect("rm");
            n += 1;
        }
    }
    n
}

#[test]
fn missing_segment_files_are_rebuilt() {
    for ext in ["store", "idx", "term", "pos", "fast", "fieldnorm"] {
        let tmp = tempfile::tempdir().expect("tempdir");
        populated(tmp.path());
        assert!(remove_segment_files(tmp.path(), ext) > 0, "{ext}");
        let (_, state) = open(tmp.path());
        assert_eq!(state, OpenState::RebuiltEmpty, "missing .{ext}");
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    populated(tmp.path());
    remove_segment_files(tmp.path(), "store");
    assert_rebuilt_and_usable(tmp.path());
}

#[test]
fn truncated_segment_file_is_rebuilt() {
    let tmp = tempfile::tempdir().expect("tempdir");
    populated(tmp.path());
    for e in fs::read_dir(tmp.path()).expect("ls") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "term") {
            fs::write(&p, b"xx").expect("truncate");
        }
    }
    assert_rebuilt_and_usable(tmp.path());
}

#[test]
fn refuses_to_wipe_foreign_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::write(tmp.path().join("notes.txt"), b"mine").expect("write");
    let err = SearchIndex::open(tmp.path()).expect_err("must refuse");
    assert!(matches!(err, SearchError::ForeignFile { ref name, .. } if name == "notes.txt"));
    assert!(tmp.path().join("notes.txt").exists());
}

#[test]
fn second_writer_on_same_dir_is_locked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, _) = open(tmp.path());
    a.add([doc(1, 1, "a")]).expect("add");
    let (b, state) = open(tmp.path());
    assert_eq!(state, OpenState::Existing);
    let err = b.add([doc(2, 1, "b")]).expect_err("locked");
    assert!(matches!(err, SearchError::Locked { .. }), "{err}");
    a.release_writer().expect("release");
    b.add([doc(2, 1, "b")]).expect("now free");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn snippet_ranges_always_mark_the_query_word(
        words in proptest::collection::vec(prop::sample::select(vec!["alpha", "beta", "gamma", "delta", "x.", "  ", "<b>", "&"]), 1..120),
        needle in prop::sample::select(vec!["alpha", "beta", "gamma"]),
    ) {
        let ix = index_with(vec![doc(1, 1, &words.join(" "))]);
        let (hits, _) = search(&ix, &Query::new(needle));
        for h in hits {
            prop_assert!(h.snippet.len() <= SNIPPET_MAX_CHARS);
            prop_assert!(!h.highlights.is_empty());
            let mut last = 0;
            for &(s, e) in &h.highlights {
                prop_assert!(s >= last && s < e);
                prop_assert_eq!(&h.snippet[s..e], needle);
                last = e;
            }
            prop_assert!(!h.snippet_html.contains("<b><b>"));
        }
    }
}

#[test]
fn chinese_japanese_and_korean_are_found_by_any_word_in_them() {
    let ix = index_with(vec![
        doc(1, 1, "今天的新闻报道说，新的规则从明年开始。"),
        doc(2, 2, "我们讨论了新技术和旧闻。"),
        doc(3, 3, "東京タワーに行きました。とても高かったです。"),
        doc(4, 4, "한국어 검색이 잘 됩니다"),
        doc(5, 5, "A Rust crate for 新闻 feeds, in English mostly"),
        doc(6, 6, "我家的猫很可爱"),
    ]);
    // A word inside a longer run of characters: the old tokenizer kept the whole run as one
    // token, so none of these matched.
    assert_eq!(sorted(text(&ix, "新闻")), sorted(vec![acu(1), acu(5)]));
    assert_eq!(text(&ix, "新闻报道"), vec![acu(1)]);
    // Characters in another order, or split by another character, are not the word.
    assert!(text(&ix, "闻新").is_empty());
    assert!(text(&ix, "新闻技术").is_empty());
    // One character is found inside words too.
    assert_eq!(text(&ix, "猫"), vec![acu(6)]);
    assert_eq!(text(&ix, "タワー"), vec![acu(3)]);
    assert_eq!(text(&ix, "東京"), vec![acu(3)]);
    assert_eq!(text(&ix, "검색이"), vec![acu(4)]);
    // Mixed with words, and as a quoted phrase across scripts.
    assert_eq!(text(&ix, "Rust 新闻"), vec![acu(5)]);
    assert_eq!(text(&ix, "\"for 新闻 feeds\""), vec![acu(5)]);
    assert!(text(&ix, "\"新闻 for\"").is_empty());
    // English is cut as before.
    assert_eq!(text(&ix, "crate feeds"), vec![acu(5)]);
}

#[test]
fn cjk_snippets_highlight_the_characters_that_matched() {
    let ix = index_with(vec![doc(
        1,
        1,
        "今天的新闻报道说，新的规则从明年开始。新闻很多。",
    )]);
    let (hits, _) = search(&ix, &Query::new("新闻"));
    let h = &hits[0];
    assert!(!h.highlights.is_empty());
    for &(s, e) in &h.highlights {
        assert_eq!(&h.snippet[s..e], "新闻", "{:?}", h.highlights);
    }
    assert_eq!(h.highlights.len(), 2);
    assert!(
        h.snippet_html.contains("<b>新闻</b>报道"),
        "{}",
        h.snippet_html
    );
}

#[test]
fn long_cjk_runs_are_not_dropped() {
    // 30 characters without a space (90 bytes) were one token over the 40-byte cap before.
    let run = "我们在这个项目里决定使用数据库来存储所有的用户对话记录和它们的向量";
    let ix = index_with(vec![doc(1, 1, run)]);
    assert_eq!(text(&ix, "数据库"), vec![acu(1)]);
    assert_eq!(text(&ix, "向量"), vec![acu(1)]);
}
