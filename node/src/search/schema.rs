//! The index schema, the text analyzer, and the mapping between [`IndexDoc`] and tantivy
//! documents.

use tantivy::{
    TantivyDocument, Term,
    schema::{
        FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
        TextOptions, Value,
    },
    tokenizer::{AsciiFoldingFilter, LowerCaser, RemoveLongFilter, TextAnalyzer},
};
use vivim_protocol::{ConvId, Hash, Kind, Role};

use super::{
    IndexDoc, SearchError,
    cjk::{CjkTokenizer, Mode},
};

/// Name under which [`analyzer`] is registered with every opened index. It is part of the
/// schema: an index written with another analyzer (`vivim_text`, before CJK runs were cut
/// into characters and pairs) has another schema, and is rebuilt from the store at open.
pub(super) const TOKENIZER: &str = "vivim_text_cjk";

/// Tokens longer than this many bytes are dropped (base64 blobs, minified code, hashes).
const MAX_TOKEN_BYTES: usize = 40;

/// The analyzer for `title` and `text` as they are indexed: split on non-alphanumerics, CJK
/// runs into characters and pairs (see `search/cjk`), drop very long tokens, lowercase, fold
/// accents to ASCII (`café` finds `cafe`). No stemming: conversations are in many languages
/// and a wrong-language stemmer does more harm than good.
pub(super) fn analyzer() -> TextAnalyzer {
    analyzer_for(Mode::Index)
}

/// The same for queries: CJK runs become pairs (or their single character).
pub(super) fn query_analyzer() -> TextAnalyzer {
    analyzer_for(Mode::Query)
}

fn analyzer_for(mode: Mode) -> TextAnalyzer {
    TextAnalyzer::builder(CjkTokenizer::new(mode))
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Field handles of the schema.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fields {
    pub acu_id: Field,
    pub conversation: Field,
    pub provider: Field,
    pub role: Field,
    pub kind: Field,
    pub created_at_ms: Field,
    pub title: Field,
    pub text: Field,
}

/// Field names (also usable as `name:value` in a user's query).
pub(super) const F_ACU_ID: &str = "acu_id";
pub(super) const F_CONVERSATION: &str = "conversation";
pub(super) const F_PROVIDER: &str = "provider";
pub(super) const F_ROLE: &str = "role";
pub(super) const F_KIND: &str = "kind";
pub(super) const F_CREATED_AT_MS: &str = "created_at_ms";
pub(super) const F_TITLE: &str = "title";
pub(super) const F_TEXT: &str = "text";

/// The schema; an on-disk index whose schema differs from this one is rebuilt.
pub(super) fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let full_text = TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        acu_id: b.add_text_field(F_ACU_ID, STRING | STORED),
        conversation: b.add_text_field(F_CONVERSATION, STRING | STORED),
        provider: b.add_text_field(F_PROVIDER, STRING | STORED),
        role: b.add_text_field(F_ROLE, STRING | STORED),
        kind: b.add_text_field(F_KIND, STRING | STORED),
        created_at_ms: b.add_u64_field(F_CREATED_AT_MS, INDEXED | FAST | STORED),
        title: b.add_text_field(F_TITLE, full_text.clone()),
        text: b.add_text_field(F_TEXT, full_text),
    };
    (b.build(), fields)
}

impl Fields {
    /// The term naming one ACU (its id in lowercase hex).
    pub fn acu_term(&self, id: &Hash) -> Term {
        Term::from_field_text(self.acu_id, &id.to_hex())
    }

    /// The term naming one conversation (its id in lowercase hex).
    pub fn conversation_term(&self, conv: &ConvId) -> Term {
        Term::from_field_text(self.conversation, &conv.0.to_hex())
    }

    /// The tantivy document for `d`.
    pub fn document(&self, d: &IndexDoc) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        doc.add_text(self.acu_id, d.acu_id.to_hex());
        doc.add_text(self.conversation, d.conversation.0.to_hex());
        doc.add_text(self.provider, &d.provider);
        doc.add_text(self.role, d.role.as_str());
        doc.add_text(self.kind, d.kind.as_str());
        doc.add_u64(self.created_at_ms, d.created_at_ms);
        doc.add_text(self.title, &d.title);
        doc.add_text(self.text, &d.text);
        doc
    }

    /// The stored string of `field`, or a [`SearchError::Damaged`] naming it.
    pub fn stored_str<'a>(
        &self,
        doc: &'a TantivyDocument,
        field: Field,
        name: &'static str,
    ) -> Result<&'a str, SearchError> {
        doc.get_first(field)
            .and_then(|v| v.as_str())
            .ok_or_else(|| damaged(format!("stored document without `{name}`")))
    }

    /// The stored `created_at_ms`.
    pub fn stored_created_at(&self, doc: &TantivyDocument) -> Result<u64, SearchError> {
        doc.get_first(self.created_at_ms)
            .and_then(|v| v.as_u64())
            .ok_or_else(|| damaged(format!("stored document without `{F_CREATED_AT_MS}`")))
    }
}

pub(super) fn damaged(detail: String) -> SearchError {
    SearchError::Damaged { detail }
}

/// Parses a stored role name.
pub(super) fn role_from_str(s: &str) -> Option<Role> {
    ALL_ROLES.into_iter().find(|r| r.as_str() == s)
}

/// Parses a stored kind name.
pub(super) fn kind_from_str(s: &str) -> Option<Kind> {
    ALL_KINDS.into_iter().find(|k| k.as_str() == s)
}

const ALL_ROLES: [Role; 4] = [Role::User, Role::Assistant, Role::System, Role::Tool];

const ALL_KINDS: [Kind; 10] = [
    Kind::Text,
    Kind::Code,
    Kind::Markdown,
    Kind::Image,
    Kind::File,
    Kind::Quote,
    Kind::ToolCall,
    Kind::ToolResult,
    Kind::Thinking,
    Kind::Other,
];

// Fails to compile when the protocol grows a role or kind that the lists above lack.
const _: () = {
    fn _roles_listed(r: Role) {
        match r {
            Role::User | Role::Assistant | Role::System | Role::Tool => {}
        }
    }
    fn _kinds_listed(k: Kind) {
        match k {
            Kind::Text
            | Kind::Code
            | Kind::Markdown
            | Kind::Image
            | Kind::File
            | Kind::Quote
            | Kind::ToolCall
            | Kind::ToolResult
            | Kind::Thinking
            | Kind::Other => {}
        }
    }
};
