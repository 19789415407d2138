//! Importers: read exports from ChatGPT, Claude, Gemini, ChatGPT share pages, ShareGPT JSON and
//! Markdown transcripts into [`ImportedConversation`]s, streaming, by content (not file name).
//!
//! This module only parses. Turning conversations into signed ACUs and storing them is
//! `crate::import::ingest`'s job.

use std::collections::BTreeMap;
use std::io::Read;

use vivim_protocol::{Kind, Role};

mod chatgpt;
mod chatgpt_share;
mod claude;
mod common;
mod dispatch;
mod gemini;
mod gemini_html;
pub mod ingest;
mod markdown;
mod sharegpt;
mod sources;

pub use common::PART_OF;
pub use sources::{fetch_url, parse_path};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Detect from the content.
    Auto,
    /// ChatGPT data export (`conversations.json`, split `conversations-NNN.json`, or the zip).
    ChatGpt,
    /// Claude data export (`conversations.json` with `chat_messages`).
    Claude,
    /// Google Takeout "My Activity" for Gemini, JSON or (Takeout's default) HTML.
    Gemini,
    /// A saved ChatGPT share page (HTML with the React Router turbo-stream payload).
    ChatGptShare,
    /// ShareGPT-style JSON (`conversations: [{from, value}]`).
    ShareGpt,
    /// A Markdown transcript.
    Markdown,
}

impl Format {
    /// The provider name stored with conversations of this format.
    pub fn provider(&self) -> &'static str {
        match self {
            Format::Auto => "unknown",
            Format::ChatGpt | Format::ChatGptShare => "chatgpt",
            Format::Claude => "claude",
            Format::Gemini => "gemini",
            Format::ShareGpt => "sharegpt",
            Format::Markdown => "markdown",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => Format::Auto,
            "chatgpt" => Format::ChatGpt,
            "claude" => Format::Claude,
            "gemini" => Format::Gemini,
            "chatgpt-share" => Format::ChatGptShare,
            "sharegpt" => Format::ShareGpt,
            "markdown" | "md" => Format::Markdown,
            other => {
                return Err(format!(
                    "unknown format {other:?}; use auto, chatgpt, claude, gemini, chatgpt-share, sharegpt or markdown"
                ));
            }
        })
    }
}

/// One message as read from an export.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedMessage {
    /// The provider's message id (unique within the conversation; synthesized when absent).
    pub id: String,
    /// The parent message's id (the message tree: edits and regenerations are branches).
    pub parent: Option<String>,
    /// Who spoke.
    pub role: Role,
    /// What it holds.
    pub kind: Kind,
    /// Language of code.
    pub lang: Option<String>,
    /// The text (for images and files: a reference such as `file-service://…` or the name).
    pub text: String,
    /// When (ms since the Unix epoch), when known.
    pub created_at_ms: Option<u64>,
    /// Whether it counts as a visible message (see the ChatGPT rules in the issue).
    pub visible: bool,
    /// Provider metadata worth keeping (model slug, content type, recipient, …).
    pub meta: BTreeMap<String, String>,
}

/// One conversation as read from an export. Messages are ordered so that every parent comes
/// before its children.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedConversation {
    /// Provider name (`chatgpt`, `claude`, …).
    pub provider: String,
    /// The provider's own conversation id (synthesized deterministically from the content when
    /// the export has none, so re-imports match).
    pub source_id: String,
    /// Title.
    pub title: String,
    /// Where to see it at the provider.
    pub source_url: Option<String>,
    /// Created (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// Last updated (ms since the Unix epoch).
    pub updated_at_ms: u64,
    /// Model, when known.
    pub model: Option<String>,
    /// All messages, parents first.
    pub messages: Vec<ImportedMessage>,
    /// Id of the last message of the branch the user last saw (`current_node`).
    pub head: Option<String>,
}

/// A conversation that could not be read, with where it went wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct BadConversation {
    /// Position in the export (0-based).
    pub index: usize,
    /// Its id, when readable.
    pub id: Option<String>,
    /// Its title, when readable.
    pub title: Option<String>,
    /// What is wrong.
    pub error: String,
}

/// What a parser hands to its sink, one at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A good conversation.
    Conversation(ImportedConversation),
    /// A conversation that could not be read.
    Bad(BadConversation),
}

/// Why an import failed as a whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The content matches no known format.
    #[error("could not recognize the format{0}; pass --format")]
    UnknownFormat(String),
    /// The file is not valid for its format.
    #[error("malformed {format} export at {location}: {message}")]
    Malformed {
        /// The format.
        format: &'static str,
        /// Where (byte offset, line:column, zip member, …).
        location: String,
        /// What.
        message: String,
    },
    /// Over a size limit.
    #[error("{what} is {size} bytes, over the limit of {max}")]
    TooLarge {
        /// What.
        what: String,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Reading failed.
    #[error("reading the export: {0}")]
    Io(#[from] std::io::Error),
    /// The URL cannot be fetched as given (not a URL, not http or https).
    #[error("{url:?}: {message}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// Fetching a URL failed.
    #[error("fetching {url}: {message}")]
    Fetch {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The sink refused an item (e.g. the store failed); the import stops.
    #[error("storing: {0}")]
    Sink(String),
}

/// Size limits applied to untrusted exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest file (or total stream) read, in bytes.
    pub max_file_bytes: u64,
    /// Largest uncompressed zip member, in bytes (checked against the declared size and while
    /// decompressing).
    pub max_member_bytes: u64,
    /// Most messages (after splitting multi-part messages) in one conversation.
    pub max_messages: usize,
    /// Largest single message text, in bytes.
    pub max_message_bytes: usize,
    /// Largest single element of a JSON export (one conversation), in bytes: it is parsed whole
    /// into memory (several times its size), so it is bounded before it is read.
    pub max_element_bytes: u64,
    /// Most members a zip may list (a zip of a million empty files costs time, not bytes).
    pub max_zip_members: usize,
    /// Most bytes decompressed from one zip, over all members read (a zip bomb of many small
    /// members stops here).
    pub max_zip_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 4 << 30,
            max_member_bytes: 4 << 30,
            max_messages: 100_000,
            max_message_bytes: 900 * 1024,
            max_element_bytes: 256 << 20,
            max_zip_members: 200_000,
            max_zip_bytes: 16 << 30,
        }
    }
}

/// How many bytes of the start of the content [`detect`] looks at (callers may pass more or
/// less).
pub const DETECT_PREFIX_BYTES: usize = 64 * 1024;

/// Recognizes the format from the first bytes of the content (about [`DETECT_PREFIX_BYTES`]),
/// never from a file name. Returns `None` for anything unrecognized (including empty input and
/// zip archives, whose members [`parse_path`] detects one by one).
pub fn detect(prefix: &[u8]) -> Option<Format> {
    dispatch::detect(prefix)
}

/// Parses an export from `reader`, handing each conversation to `sink` as soon as it is read.
///
/// With [`Format::Auto`] the format is detected from the first bytes. Returns the format used.
/// A conversation with a wrong shape or over a limit becomes [`Item::Bad`] and parsing goes on;
/// a syntax error or an exceeded file limit stops it (items already handed over stay handed
/// over).
pub fn parse_reader<R: Read>(
    reader: R,
    format: Format,
    limits: &Limits,
    sink: &mut dyn FnMut(Item) -> Result<(), ImportError>,
) -> Result<Format, ImportError> {
    let mut ctx = common::Ctx::new(limits, None, 0);
    dispatch::parse_stream(
        reader,
        format,
        limits.max_file_bytes,
        "the export",
        &mut ctx,
        sink,
    )
}
