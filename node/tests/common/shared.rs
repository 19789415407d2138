//! The real exports in the shared fixtures folder beside the repository (`../shared/fixtures`,
//! read in place, never copied here).
//!
//! A clone that has no `../shared` beside it still passes README's test command: the tests that
//! need a shared fixture print that they were skipped and why, and return. `.ci/run` sets
//! `VIVIM_REQUIRE_SHARED=1`, which turns a missing fixture into a failure, so CI never skips them.
#![allow(dead_code)]

use std::path::PathBuf;

/// The ChatGPT export of 2023 (192 conversations).
pub const CHATGPT_2023: &str = "chatgpt-export-2023/conversations.json";
/// A ChatGPT share page of 2026.
pub const CHATGPT_SHARE_2026: &str = "chatgpt-share-2026/share.html";

/// Where the shared fixture `rel` is (whether or not it exists).
pub fn path(rel: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/"
    ))
    .join(rel)
}

/// True (after saying so on stderr) when the shared fixture `rel` is missing and the calling
/// test should return as skipped; panics instead when `VIVIM_REQUIRE_SHARED` is set.
pub fn missing(rel: &str) -> bool {
    let p = path(rel);
    if p.exists() {
        return false;
    }
    let required = std::env::var_os("VIVIM_REQUIRE_SHARED").is_some_and(|v| v != "0");
    assert!(
        !required,
        "shared fixture {} is missing and VIVIM_REQUIRE_SHARED is set: clone the repository \
         next to the shared folder (see README)",
        p.display()
    );
    // Straight to the process's stderr, past the test harness's capture, so that a plain
    // `cargo test` shows which tests were skipped and why.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr().lock(),
        "skipped: this test reads the real export {} from the shared fixtures folder beside the \
         repository, which this clone does not have (see README)",
        p.display()
    );
    true
}
