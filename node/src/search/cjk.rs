//! The tokenizer under the full-text analyzer: words of letters and digits, as tantivy's
//! `SimpleTokenizer` splits them, except in Chinese, Japanese and Korean, which do not put
//! spaces between words. There a run of CJK characters is cut into characters and overlapping
//! pairs of characters (bigrams), the way Lucene's CJK analyzer does, instead of one token for
//! the whole run (which no query ever matched, and which was dropped past 40 bytes).
//!
//! Index and query are cut differently ([`Mode`]) so that any CJK query matches wherever its
//! characters stand in a text:
//! - the **index** keeps, at character `i` of a run, the character and the pair starting at it,
//!   both at position `i`;
//! - a **query** of two or more characters becomes its pairs, at consecutive positions (a
//!   phrase of pairs, so `新闻报道` matches only those four characters in that order); a query of
//!   one character becomes that character.
//!
//! Positions advance by one per character in both, so phrases mixing CJK and other words line
//! up. Everything that is not CJK is cut exactly as before.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Which side of the search the tokens are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Documents: characters and pairs.
    Index,
    /// Queries: pairs (or the single character).
    Query,
}

/// Whether `c` is written without spaces between words: Han ideographs, kana, Hangul.
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF     // CJK Unified Ideographs Extension A
        | 0x4E00..=0x9FFF   // CJK Unified Ideographs
        | 0xF900..=0xFAFF   // CJK Compatibility Ideographs
        | 0x20000..=0x3134F // Extensions B–H
        | 0x3040..=0x309F   // Hiragana
        | 0x30A0..=0x30FF   // Katakana (with the prolonged sound mark)
        | 0x31F0..=0x31FF   // Katakana Phonetic Extensions
        | 0xFF66..=0xFF9F   // Halfwidth Katakana
        | 0x1100..=0x11FF   // Hangul Jamo
        | 0x3130..=0x318F   // Hangul Compatibility Jamo
        | 0xAC00..=0xD7AF   // Hangul Syllables
    )
}

/// Words, with CJK runs cut into characters and pairs (see the module docs).
#[derive(Clone)]
pub(crate) struct CjkTokenizer {
    mode: Mode,
    token: Token,
    /// Byte offsets of the characters of the current CJK run, and the run's end.
    bounds: Vec<usize>,
}

impl CjkTokenizer {
    /// A tokenizer for one side of the search.
    pub(crate) fn new(mode: Mode) -> CjkTokenizer {
        CjkTokenizer {
            mode,
            token: Token::default(),
            bounds: Vec::new(),
        }
    }
}

/// The tokens of one text.
pub(crate) struct CjkTokenStream<'a> {
    text: &'a str,
    /// Where scanning resumes, in bytes.
    at: usize,
    mode: Mode,
    token: &'a mut Token,
    bounds: &'a mut Vec<usize>,
    /// In a CJK run: the character and whether its pair comes next (index mode).
    run: Option<(usize, bool)>,
    /// The position the next character takes.
    next_pos: usize,
}

impl Tokenizer for CjkTokenizer {
    type TokenStream<'a> = CjkTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CjkTokenStream<'a> {
        self.token.reset();
        self.bounds.clear();
        CjkTokenStream {
            text,
            at: 0,
            mode: self.mode,
            token: &mut self.token,
            bounds: &mut self.bounds,
            run: None,
            next_pos: 0,
        }
    }
}

impl CjkTokenStream<'_> {
    fn emit(&mut self, from: usize, to: usize, position: usize) -> bool {
        self.token.text.clear();
        self.token.text.push_str(&self.text[from..to]);
        self.token.offset_from = from;
        self.token.offset_to = to;
        self.token.position = position;
        self.token.position_length = 1;
        true
    }

    /// The next token of the current CJK run, if any is left.
    fn next_in_run(&mut self) -> Option<bool> {
        let (i, pair_next) = self.run?;
        let n = self.bounds.len() - 1;
        let base = self.next_pos;
        let b = |k: usize| self.bounds[k];
        let out = match self.mode {
            Mode::Index => {
                if !pair_next {
                    self.run = Some((i, true));
                    Some((b(i), b(i + 1), base + i))
                } else if i + 1 < n {
                    self.run = Some((i + 1, false));
                    Some((b(i), b(i + 2), base + i))
                } else {
                    None
                }
            }
            Mode::Query => {
                if n == 1 && i == 0 {
                    self.run = Some((1, false));
                    Some((b(0), b(1), base))
                } else if i + 1 < n {
                    self.run = Some((i + 1, false));
                    Some((b(i), b(i + 2), base + i))
                } else {
                    None
                }
            }
        };
        match out {
            Some((from, to, pos)) => Some(self.emit(from, to, pos)),
            None => {
                // The run is done: the characters after it take the positions after its own.
                self.next_pos += n;
                self.run = None;
                None
            }
        }
    }
}

impl TokenStream for CjkTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if let Some(emitted) = self.next_in_run() {
            return emitted;
        }
        let rest = &self.text[self.at..];
        let mut chars = rest.char_indices();
        // Skip to the next letter or digit.
        let Some((start, first)) = chars.by_ref().find(|(_, c)| c.is_alphanumeric()) else {
            self.at = self.text.len();
            return false;
        };
        let start = self.at + start;
        if is_cjk(first) {
            self.bounds.clear();
            self.bounds.push(start);
            let mut end = start + first.len_utf8();
            for (off, c) in chars {
                if !is_cjk(c) {
                    break;
                }
                self.bounds.push(self.at + off);
                end = self.at + off + c.len_utf8();
            }
            self.bounds.push(end);
            self.at = end;
            self.run = Some((0, false));
            return self.next_in_run().unwrap_or(false) || self.advance();
        }
        // A word: letters and digits up to the next other character or CJK character.
        let end = chars
            .find(|(_, c)| !c.is_alphanumeric() || is_cjk(*c))
            .map_or(self.text.len(), |(off, _)| self.at + off);
        self.at = end;
        let pos = self.next_pos;
        self.next_pos += 1;
        self.emit(start, end, pos)
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(mode: Mode, text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut t = CjkTokenizer::new(mode);
        let mut s = t.token_stream(text);
        let mut out = Vec::new();
        while s.advance() {
            let k = s.token();
            out.push((k.text.clone(), k.position, k.offset_from, k.offset_to));
        }
        out
    }

    fn texts(mode: Mode, text: &str) -> Vec<(String, usize)> {
        tokens(mode, text)
            .into_iter()
            .map(|(t, p, _, _)| (t, p))
            .collect()
    }

    fn v(items: &[(&str, usize)]) -> Vec<(String, usize)> {
        items.iter().map(|(t, p)| (t.to_string(), *p)).collect()
    }

    #[test]
    fn words_are_cut_as_before() {
        assert_eq!(
            texts(Mode::Index, "Hello, happy tax-payer! café 42"),
            v(&[
                ("Hello", 0),
                ("happy", 1),
                ("tax", 2),
                ("payer", 3),
                ("café", 4),
                ("42", 5)
            ])
        );
        assert_eq!(texts(Mode::Query, ""), v(&[]));
        assert_eq!(texts(Mode::Index, " ,;  "), v(&[]));
    }

    #[test]
    fn cjk_runs_become_characters_and_pairs_in_the_index() {
        assert_eq!(
            texts(Mode::Index, "今日新闻"),
            v(&[
                ("今", 0),
                ("今日", 0),
                ("日", 1),
                ("日新", 1),
                ("新", 2),
                ("新闻", 2),
                ("闻", 3)
            ])
        );
        // Mixed with words: positions advance by one per character.
        assert_eq!(
            texts(Mode::Index, "Rust的新闻 today"),
            v(&[
                ("Rust", 0),
                ("的", 1),
                ("的新", 1),
                ("新", 2),
                ("新闻", 2),
                ("闻", 3),
                ("today", 4)
            ])
        );
    }

    #[test]
    fn queries_become_pairs_or_the_single_character() {
        assert_eq!(
            texts(Mode::Query, "新闻报道"),
            v(&[("新闻", 0), ("闻报", 1), ("报道", 2)])
        );
        assert_eq!(texts(Mode::Query, "猫"), v(&[("猫", 0)]));
        assert_eq!(
            texts(Mode::Query, "新闻 today"),
            v(&[("新闻", 0), ("today", 2)])
        );
    }

    #[test]
    fn japanese_and_korean_and_offsets() {
        let t = tokens(Mode::Index, "東京タワー 한국어");
        let first: Vec<&str> = t.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            first,
            [
                "東", "東京", "京", "京タ", "タ", "タワ", "ワ", "ワー", "ー", "한", "한국", "국",
                "국어", "어"
            ]
        );
        let text = "東京タワー 한국어";
        for (tok, _, from, to) in &t {
            assert_eq!(&text[*from..*to], tok);
        }
    }

    #[test]
    fn never_panics_on_odd_text() {
        for s in [
            "\u{0}",
            "a\u{FFFF}b",
            "𠀀𠀁",
            "ー",
            "a新",
            "新a",
            "1新2",
            "\u{200B}新",
        ] {
            for mode in [Mode::Index, Mode::Query] {
                let t = tokens(mode, s);
                for (tok, _, from, to) in &t {
                    assert_eq!(&s[*from..*to], tok);
                }
            }
        }
    }
}
