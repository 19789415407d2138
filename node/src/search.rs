//! Full-text search over ACU text with tantivy.
//!
//! One tantivy document per ACU: BM25 over `text` and `title` (the conversation's title, boosted
//! ×[`TITLE_BOOST`]), raw-string filters on `provider`, `role`, `kind`, `conversation` and
//! `acu_id`, and `created_at_ms` as an indexed + fast `u64` for range filters and newest-first
//! listings. Everything needed to build a [`Hit`] is stored, so a search never touches the
//! node's record store.
//!
//! The index is a cache: the store is the source of truth. [`SearchIndex::open`] says when the
//! caller must re-add everything ([`OpenState::Created`], [`OpenState::RebuiltEmpty`]).
//!
//! ```
//! use vivim_node::search::{IndexDoc, Query, SearchIndex};
//! use vivim_protocol::{ConvId, Hash, Kind, Role};
//!
//! let index = SearchIndex::open_in_ram()?;
//! index.add([IndexDoc {
//!     acu_id: Hash::of(b"acu 1"),
//!     conversation: ConvId(Hash::of(b"conv")),
//!     provider: "claude".into(),
//!     role: Role::Assistant,
//!     kind: Kind::Text,
//!     created_at_ms: 1_700_000_000_000,
//!     title: "Borrow checker".into(),
//!     text: "A mutable borrow must be unique.".into(),
//! }])?;
//! index.commit()?;
//! let (hits, total) = index.search(&Query::new("borrow unique"))?;
//! assert_eq!(total, 1);
//! assert_eq!(hits[0].snippet_html, "A mutable <b>borrow</b> must be <b>unique</b>.");
//! # Ok::<(), vivim_node::search::SearchError>(())
//! ```

mod cjk;
mod schema;
mod snippet;
#[cfg(test)]
mod tests;

use std::{
    fs, io,
    ops::Bound,
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard},
};

use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument,
    TantivyError, Term,
    collector::{Count, TopDocs},
    directory::{INDEX_WRITER_LOCK, MmapDirectory, error::LockError},
    indexer::IndexWriterOptions,
    query::{AllQuery, BooleanQuery, ConstScoreQuery, Occur, QueryParser, RangeQuery, TermQuery},
    schema::IndexRecordOption,
    snippet::SnippetGenerator,
};
use tracing::{debug, warn};
use vivim_protocol::{ConvId, Hash, Kind, Role};

pub use snippet::{SNIPPET_MAX_CHARS, escape_html};

use schema::Fields;

/// Longest accepted query text, in bytes.
pub const MAX_QUERY_BYTES: usize = 1024;
/// Largest page size; a larger [`Query::limit`] is clamped to this.
pub const MAX_LIMIT: usize = 1000;
/// Deepest page start; a larger [`Query::offset`] is refused.
pub const MAX_OFFSET: usize = 10_000;
/// Longest accepted provider filter, in bytes.
pub const MAX_FILTER_BYTES: usize = 256;
/// Page size of [`Query::new`].
pub const DEFAULT_LIMIT: usize = 20;
/// How much more a query term counts in the title than in the text.
pub const TITLE_BOOST: f32 = 2.0;
/// Memory the index writer may buffer before it flushes a segment (tantivy's minimum is 15 MB).
pub const WRITER_MEMORY_BUDGET: usize = 20_000_000;

/// Segments with more documents than this are not merged further (see the writer's merge
/// policy).
pub const MAX_DOCS_PER_MERGE: usize = 200_000;

/// One ACU as the index sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDoc {
    /// The ACU's id; adding the same id again replaces the earlier document.
    pub acu_id: Hash,
    /// The conversation it belongs to.
    pub conversation: ConvId,
    /// Where the conversation came from (`chatgpt`, `claude`, …); matched exactly.
    pub provider: String,
    /// Who spoke.
    pub role: Role,
    /// What the unit holds.
    pub kind: Kind,
    /// When it was said (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// The conversation's title.
    pub title: String,
    /// The searchable text.
    pub text: String,
}

/// A search: text plus optional filters. Build with [`Query::new`] and set the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// What the user typed. Words must all match (AND), in the text or the title; `"…"` is a
    /// phrase, `-word` excludes, `field:value` targets a field. Syntax errors never fail: the
    /// parser is lenient. Empty (or blank) lists the filtered documents newest first. At most
    /// [`MAX_QUERY_BYTES`].
    pub text: String,
    /// Page size, clamped to [`MAX_LIMIT`]. Zero returns only the total.
    pub limit: usize,
    /// Hits to skip (paging), at most [`MAX_OFFSET`].
    pub offset: usize,
    /// Only this provider (exact match).
    pub provider: Option<String>,
    /// Only this role.
    pub role: Option<Role>,
    /// Only ACUs created at or after this time (ms, inclusive).
    pub from_ms: Option<u64>,
    /// Only ACUs created at or before this time (ms, inclusive).
    pub to_ms: Option<u64>,
    /// Only this conversation.
    pub conversation: Option<ConvId>,
}

impl Query {
    /// A query for `text` with no filters, the first [`DEFAULT_LIMIT`] hits.
    pub fn new(text: impl Into<String>) -> Query {
        Query {
            text: text.into(),
            limit: DEFAULT_LIMIT,
            offset: 0,
            provider: None,
            role: None,
            from_ms: None,
            to_ms: None,
            conversation: None,
        }
    }
}

impl Default for Query {
    fn default() -> Query {
        Query::new("")
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The ACU.
    pub acu_id: Hash,
    /// Its conversation.
    pub conversation: ConvId,
    /// BM25 score (0 for a listing without query text).
    pub score: f32,
    /// The conversation's title.
    pub title: String,
    /// The provider.
    pub provider: String,
    /// Who spoke.
    pub role: Role,
    /// What the unit holds.
    pub kind: Kind,
    /// When it was said (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// Up to [`SNIPPET_MAX_CHARS`] bytes of the text around the best match, or its start when
    /// the text itself did not match. Plain text, not escaped.
    pub snippet: String,
    /// Byte ranges `(start, end)` of matched words in `snippet`: sorted, non-overlapping, on
    /// char boundaries.
    pub highlights: Vec<(usize, usize)>,
    /// `snippet` HTML-escaped, with each highlight wrapped in `<b>…</b>`. Safe to insert as HTML.
    pub snippet_html: String,
}

/// What [`SearchIndex::open`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenState {
    /// An index was there and opened; its documents are searchable.
    Existing,
    /// The directory was missing or empty; a new empty index was created. The caller must
    /// add all documents.
    Created,
    /// The index was damaged (unreadable `meta.json`, missing segment files, an older
    /// schema): it was wiped and created empty. The caller must re-add all documents.
    RebuiltEmpty,
}

/// Search index errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// The query text is too long.
    #[error("the search text is {len} bytes, over the limit of {max}; shorten it")]
    QueryTooLong {
        /// Its length in bytes.
        len: usize,
        /// [`MAX_QUERY_BYTES`].
        max: usize,
    },
    /// A filter value is too long.
    #[error("the {filter} filter is {len} bytes, over the limit of {max}; shorten it")]
    FilterTooLong {
        /// Which filter.
        filter: &'static str,
        /// Its length in bytes.
        len: usize,
        /// [`MAX_FILTER_BYTES`].
        max: usize,
    },
    /// The page starts too deep.
    #[error(
        "result offset {offset} is over the limit of {max}; narrow the search with filters \
         instead of paging this far"
    )]
    OffsetTooLarge {
        /// The requested offset.
        offset: usize,
        /// [`MAX_OFFSET`].
        max: usize,
    },
    /// Another process (or another `SearchIndex` in this one) is writing to the index.
    #[error(
        "the search index at {path} is being written by another VIVIM process; stop it or wait \
         for it to finish"
    )]
    Locked {
        /// The index directory.
        path: PathBuf,
    },
    /// The index directory holds files the index did not write, so it will not wipe it.
    #[error(
        "the search index directory {path} contains {name:?}, which VIVIM did not write; move \
         it elsewhere or configure an empty directory for the index"
    )]
    ForeignFile {
        /// The index directory.
        path: PathBuf,
        /// The first unexpected entry.
        name: String,
    },
    /// File system error on the index directory.
    #[error("search index directory {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A stored document could not be read back.
    #[error("the search index is damaged ({detail}); clear it and re-add all documents")]
    Damaged {
        /// What was wrong.
        detail: String,
    },
    /// tantivy failed.
    #[error("the search index failed while {op}: {source}")]
    Index {
        /// What was being done.
        op: &'static str,
        /// The cause.
        #[source]
        source: TantivyError,
    },
}

fn ctx(op: &'static str) -> impl FnOnce(TantivyError) -> SearchError {
    move |source| SearchError::Index { op, source }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SearchError + '_ {
    move |source| SearchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The writer and whether it holds uncommitted operations.
struct WriterSlot {
    writer: Option<IndexWriter>,
    dirty: bool,
}

/// A full-text index of ACUs. `Send + Sync`: share it behind an `Arc`. Searches run
/// concurrently and never wait for writers; writes (`add`, `delete_conversation`, `commit`,
/// `clear`) are serialised by an internal lock.
///
/// **Visibility.** Writes are buffered and become searchable, and durable, when
/// [`commit`](SearchIndex::commit) returns (the reader is reloaded by `commit` itself; there
/// is no background reload thread or file watcher). Uncommitted writes are lost if the
/// `SearchIndex` is dropped.
///
/// **Memory.** The node must idle under ~60 MB RSS, so:
/// - the tantivy `IndexWriter` is created lazily, on the first write: a node that only
///   searches never allocates one;
/// - it uses one indexing thread and one merge thread (fits a 2-core machine and keeps
///   merges from competing with the gateway) and a [`WRITER_MEMORY_BUDGET`] of 20 MB, just
///   above tantivy's 15 MB minimum: a 100k-message import then writes a handful of segments
///   rather than hundreds, while the peak stays bounded;
/// - the writer's buffer is allocated per segment in 1 MB pages and freed at every commit, so
///   an idle writer costs little more than its parked threads. It is kept between commits so
///   that background merges can finish and a stream of small commits (live capture) does not
///   pay for thread start-up each time; call [`release_writer`](SearchIndex::release_writer)
///   when the node goes idle to drop it (and its threads, and the directory lock) entirely.
/// - the reader keeps a small doc-store cache; the index files themselves are memory-mapped,
///   so their pages are page cache the kernel can reclaim, not heap.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    parser: QueryParser,
    fields: Fields,
    writer: Mutex<WriterSlot>,
    /// The directory, for error messages (`None` in RAM).
    path: Option<PathBuf>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("path", &self.path)
            .field("doc_count", &self.doc_count())
            .finish_non_exhaustive()
    }
}

/// Decompressed doc-store blocks the reader caches (per segment).
const DOC_STORE_CACHE_BLOCKS: usize = 20;

impl SearchIndex {
    /// Opens the index in `dir`, creating it when `dir` is missing or empty, and wiping and
    /// recreating it when it cannot be opened. See [`OpenState`] for what the caller must do.
    ///
    /// It refuses to wipe a directory that another process is writing to
    /// ([`SearchError::Locked`]) or that holds files the index did not write
    /// ([`SearchError::ForeignFile`]).
    pub fn open(dir: &Path) -> Result<(SearchIndex, OpenState), SearchError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        if !has_index_files(dir)? {
            let index = create_in_dir(dir)?;
            return Ok((
                SearchIndex::from_index(index, Some(dir))?,
                OpenState::Created,
            ));
        }
        match open_existing(dir) {
            Ok(index) => Ok((index, OpenState::Existing)),
            Err(e) => {
                warn!(dir = %dir.display(), error = %e, "search index unreadable or written by another version; rebuilding it from the store");
                wipe(dir)?;
                let index = create_in_dir(dir)?;
                Ok((
                    SearchIndex::from_index(index, Some(dir))?,
                    OpenState::RebuiltEmpty,
                ))
            }
        }
    }

    /// A new, empty index in memory (tests, ephemeral nodes).
    pub fn open_in_ram() -> Result<SearchIndex, SearchError> {
        let (schema, _) = schema::build();
        SearchIndex::from_index(Index::create_in_ram(schema), None)
    }

    fn from_index(index: Index, path: Option<&Path>) -> Result<SearchIndex, SearchError> {
        let (expected, fields) = schema::build();
        if index.schema() != expected {
            return Err(schema::damaged(
                "the index was written with a different schema".into(),
            ));
        }
        index
            .tokenizers()
            .register(schema::TOKENIZER, schema::analyzer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(DOC_STORE_CACHE_BLOCKS)
            .try_into()
            .map_err(ctx("opening a reader"))?;
        // Queries are cut with their own analyzer (CJK runs into pairs, see `search/cjk`);
        // everything else parses as with the index's tokenizers.
        let query_tokenizers = tantivy::tokenizer::TokenizerManager::default();
        query_tokenizers.register(schema::TOKENIZER, schema::query_analyzer());
        let mut parser = QueryParser::new(
            index.schema(),
            vec![fields.title, fields.text],
            query_tokenizers,
        );
        parser.set_conjunction_by_default();
        parser.set_field_boost(fields.title, TITLE_BOOST);
        Ok(SearchIndex {
            index,
            reader,
            parser,
            fields,
            writer: Mutex::new(WriterSlot {
                writer: None,
                dirty: false,
            }),
            path: path.map(Path::to_path_buf),
        })
    }

    /// Buffers `docs` for indexing; they become searchable after [`commit`](Self::commit). A
    /// document whose `acu_id` is already indexed (or earlier in `docs`) replaces it.
    pub fn add(&self, docs: impl IntoIterator<Item = IndexDoc>) -> Result<(), SearchError> {
        self.add_docs(docs, true)
    }

    /// Like [`add`](Self::add), for documents the caller knows are not indexed: those of a new
    /// conversation, or of one whose documents were just removed with
    /// [`delete_conversation`](Self::delete_conversation). It skips the per-document delete,
    /// whose queued terms tantivy holds until every segment has seen them (a third of the
    /// index's memory during a large import).
    pub fn add_new(&self, docs: impl IntoIterator<Item = IndexDoc>) -> Result<(), SearchError> {
        self.add_docs(docs, false)
    }

    fn add_docs(
        &self,
        docs: impl IntoIterator<Item = IndexDoc>,
        replace: bool,
    ) -> Result<(), SearchError> {
        let mut slot = self.lock_writer();
        let writer = self.writer(&mut slot)?;
        let mut result = Ok(());
        for d in docs {
            if replace {
                writer.delete_term(self.fields.acu_term(&d.acu_id));
            }
            if let Err(e) = writer.add_document(self.fields.document(&d)) {
                result = Err(ctx("adding a document")(e));
                break;
            }
        }
        slot.dirty = true;
        result
    }

    /// Buffers the removal of every document of `conv`; effective after
    /// [`commit`](Self::commit).
    pub fn delete_conversation(&self, conv: &ConvId) -> Result<(), SearchError> {
        let mut slot = self.lock_writer();
        let writer = self.writer(&mut slot)?;
        writer.delete_term(self.fields.conversation_term(conv));
        slot.dirty = true;
        Ok(())
    }

    /// Makes buffered writes durable and searchable: when it returns, they are on disk and the
    /// next [`search`](Self::search) sees them. If it fails, the buffered writes are dropped
    /// and must be added again.
    pub fn commit(&self) -> Result<(), SearchError> {
        let mut slot = self.lock_writer();
        self.commit_locked(&mut slot)
    }

    fn commit_locked(&self, slot: &mut WriterSlot) -> Result<(), SearchError> {
        if !slot.dirty {
            return Ok(());
        }
        let Some(writer) = slot.writer.as_mut() else {
            slot.dirty = false;
            return Ok(());
        };
        slot.dirty = false;
        if let Err(e) = writer.commit() {
            // A writer whose commit failed may be dead (its threads stopped on an I/O error):
            // start afresh on the next write.
            slot.writer = None;
            return Err(ctx("committing")(e));
        }
        self.reader.reload().map_err(ctx("reloading the reader"))
    }

    /// Commits pending writes, waits for background merges, and drops the writer with its
    /// threads, memory and directory lock. Call it when the node goes idle; the next write
    /// creates a new writer.
    pub fn release_writer(&self) -> Result<(), SearchError> {
        let mut slot = self.lock_writer();
        self.commit_locked(&mut slot)?;
        if let Some(writer) = slot.writer.take() {
            writer
                .wait_merging_threads()
                .map_err(ctx("finishing background merges"))?;
            // Merges may have replaced segments.
            self.reader.reload().map_err(ctx("reloading the reader"))?;
        }
        Ok(())
    }

    /// Removes every document, durably (commits at once). Uncommitted writes are discarded.
    pub fn clear(&self) -> Result<(), SearchError> {
        let mut slot = self.lock_writer();
        // Dropping the writer discards uncommitted writes (like `rollback`):
        // `delete_all_documents` alone would let documents still buffered in the indexing
        // thread survive into the next commit.
        slot.writer = None;
        slot.dirty = false;
        let writer = self.writer(&mut slot)?;
        writer
            .delete_all_documents()
            .map_err(ctx("deleting all documents"))?;
        slot.dirty = true;
        self.commit_locked(&mut slot)
    }

    /// Documents visible to search (committed and not deleted).
    pub fn doc_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Runs `q`: the page of hits `[offset, offset + limit)` and the total number of matches.
    /// With text, hits are ranked by BM25; without, newest first.
    pub fn search(&self, q: &Query) -> Result<(Vec<Hit>, usize), SearchError> {
        if q.text.len() > MAX_QUERY_BYTES {
            return Err(SearchError::QueryTooLong {
                len: q.text.len(),
                max: MAX_QUERY_BYTES,
            });
        }
        if q.offset > MAX_OFFSET {
            return Err(SearchError::OffsetTooLarge {
                offset: q.offset,
                max: MAX_OFFSET,
            });
        }
        if let Some(p) = &q.provider
            && p.len() > MAX_FILTER_BYTES
        {
            return Err(SearchError::FilterTooLong {
                filter: "provider",
                len: p.len(),
                max: MAX_FILTER_BYTES,
            });
        }
        if let (Some(from), Some(to)) = (q.from_ms, q.to_ms)
            && from > to
        {
            return Ok((Vec::new(), 0));
        }
        let limit = q.limit.min(MAX_LIMIT);

        let text_query = if q.text.trim().is_empty() {
            None
        } else {
            let (query, errors) = self.parser.parse_query_lenient(&q.text);
            if !errors.is_empty() {
                debug!(?errors, "lenient query parse dropped parts of the query");
            }
            Some(query)
        };

        let mut clauses: Vec<(Occur, Box<dyn tantivy::query::Query>)> = Vec::new();
        if let Some(tq) = &text_query {
            clauses.push((Occur::Must, tq.box_clone()));
        }
        let filter = |clauses: &mut Vec<(Occur, Box<dyn tantivy::query::Query>)>,
                      q: Box<dyn tantivy::query::Query>| {
            // Filters must not change the ranking: they score 0.
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0))));
        };
        let term = |t: Term| -> Box<dyn tantivy::query::Query> {
            Box::new(TermQuery::new(t, IndexRecordOption::Basic))
        };
        let f = &self.fields;
        if let Some(p) = &q.provider {
            filter(&mut clauses, term(Term::from_field_text(f.provider, p)));
        }
        if let Some(r) = q.role {
            filter(
                &mut clauses,
                term(Term::from_field_text(f.role, r.as_str())),
            );
        }
        if let Some(c) = &q.conversation {
            filter(&mut clauses, term(f.conversation_term(c)));
        }
        if q.from_ms.is_some() || q.to_ms.is_some() {
            let bound = |v: Option<u64>| match v {
                Some(v) => Bound::Included(Term::from_field_u64(f.created_at_ms, v)),
                None => Bound::Unbounded,
            };
            filter(
                &mut clauses,
                Box::new(RangeQuery::new(bound(q.from_ms), bound(q.to_ms))),
            );
        }
        let query: Box<dyn tantivy::query::Query> = if clauses.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(clauses))
        };

        let searcher = self.reader.searcher();
        if limit == 0 {
            let total = searcher
                .search(&*query, &Count)
                .map_err(ctx("counting matches"))?;
            return Ok((Vec::new(), total));
        }
        let top = TopDocs::with_limit(limit).and_offset(q.offset);
        let (page, total): (Vec<(f32, DocAddress)>, usize) = if text_query.is_some() {
            searcher
                .search(&*query, &(top, Count))
                .map_err(ctx("searching"))?
        } else {
            let newest = top.order_by_fast_field::<u64>(schema::F_CREATED_AT_MS, Order::Desc);
            let (docs, total) = searcher
                .search(&*query, &(newest, Count))
                .map_err(ctx("listing"))?;
            (docs.into_iter().map(|(_, a)| (0.0, a)).collect(), total)
        };

        let generator = match &text_query {
            Some(tq) => {
                let mut g = SnippetGenerator::create(&searcher, &**tq, f.text)
                    .map_err(ctx("preparing snippets"))?;
                g.set_max_num_chars(SNIPPET_MAX_CHARS);
                Some(g)
            }
            None => None,
        };
        let hits = page
            .into_iter()
            .map(|(score, addr)| self.hit(&searcher, generator.as_ref(), score, addr))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((hits, total))
    }

    fn hit(
        &self,
        searcher: &Searcher,
        generator: Option<&SnippetGenerator>,
        score: f32,
        addr: DocAddress,
    ) -> Result<Hit, SearchError> {
        let f = &self.fields;
        let doc: TantivyDocument = searcher
            .doc(addr)
            .map_err(ctx("reading a stored document"))?;
        let acu = f.stored_str(&doc, f.acu_id, schema::F_ACU_ID)?;
        let conv = f.stored_str(&doc, f.conversation, schema::F_CONVERSATION)?;
        let role = f.stored_str(&doc, f.role, schema::F_ROLE)?;
        let kind = f.stored_str(&doc, f.kind, schema::F_KIND)?;
        let text = f.stored_str(&doc, f.text, schema::F_TEXT)?;
        let snip = snippet::build(generator, text);
        Ok(Hit {
            acu_id: acu
                .parse()
                .map_err(|_| schema::damaged(format!("stored acu_id {acu:?}")))?,
            conversation: conv
                .parse()
                .map_err(|_| schema::damaged(format!("stored conversation {conv:?}")))?,
            score,
            title: f.stored_str(&doc, f.title, schema::F_TITLE)?.to_string(),
            provider: f
                .stored_str(&doc, f.provider, schema::F_PROVIDER)?
                .to_string(),
            role: schema::role_from_str(role)
                .ok_or_else(|| schema::damaged(format!("stored role {role:?}")))?,
            kind: schema::kind_from_str(kind)
                .ok_or_else(|| schema::damaged(format!("stored kind {kind:?}")))?,
            created_at_ms: f.stored_created_at(&doc)?,
            snippet: snip.text,
            highlights: snip.highlights,
            snippet_html: snip.html,
        })
    }

    fn lock_writer(&self) -> MutexGuard<'_, WriterSlot> {
        // A panic while holding the lock leaves the slot usable: at worst a dead writer,
        // which the next commit replaces.
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn writer<'a>(&self, slot: &'a mut WriterSlot) -> Result<&'a mut IndexWriter, SearchError> {
        if slot.writer.is_none() {
            let options = IndexWriterOptions::builder()
                .memory_budget_per_thread(WRITER_MEMORY_BUDGET)
                .num_worker_threads(1)
                .num_merge_threads(1)
                .build();
            let writer = self
                .index
                .writer_with_options(options)
                .map_err(|e| match e {
                    TantivyError::LockFailure(..) => SearchError::Locked {
                        path: self.path.clone().unwrap_or_default(),
                    },
                    e => ctx("creating the index writer")(e),
                })?;
            // Merges read their input segments through mmap, and those pages count in the
            // node's RSS: capping merged segments at MAX_DOCS_PER_MERGE keeps a large import's
            // peak memory flat at the cost of a few more segments to search.
            let mut policy = tantivy::indexer::LogMergePolicy::default();
            policy.set_max_docs_before_merge(MAX_DOCS_PER_MERGE);
            writer.set_merge_policy(Box::new(policy));
            slot.writer = Some(writer);
        }
        slot.writer
            .as_mut()
            .ok_or_else(|| schema::damaged("index writer vanished".into()))
    }
}

fn create_in_dir(dir: &Path) -> Result<Index, SearchError> {
    let (schema, _) = schema::build();
    Index::create_in_dir(dir, schema).map_err(ctx("creating the index"))
}

/// Opens the index in `dir` and its reader (which opens every segment's files), so that a
/// damaged index fails here rather than at the first search.
fn open_existing(dir: &Path) -> Result<SearchIndex, SearchError> {
    let index = Index::open_in_dir(dir).map_err(ctx("opening the index"))?;
    let si = SearchIndex::from_index(index, Some(dir))?;
    // Touch every segment's term dictionaries and stores.
    let searcher = si.reader.searcher();
    for seg in searcher.segment_readers() {
        for field in [si.fields.text, si.fields.title, si.fields.acu_id] {
            seg.inverted_index(field)
                .map_err(ctx("opening a segment"))?;
        }
    }
    Ok(si)
}

/// Whether `dir` holds anything but lock and temporary files.
fn has_index_files(dir: &Path) -> Result<bool, SearchError> {
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(is_lock_file(&name) || name.starts_with(".tmp")) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn is_lock_file(name: &str) -> bool {
    name.starts_with(".tantivy-") && name.ends_with(".lock")
}

/// Whether `name` is a file tantivy writes in an index directory.
fn is_index_file(name: &str) -> bool {
    if name == "meta.json" || name == ".managed.json" || name.starts_with(".tmp") {
        return true;
    }
    // Segment files: `<32 hex digit segment id>.<component>[.…]`.
    let Some((id, _)) = name.split_once('.') else {
        return false;
    };
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Deletes the index files in `dir` while holding the writer lock, after checking that every
/// entry is one.
fn wipe(dir: &Path) -> Result<(), SearchError> {
    let mmap = MmapDirectory::open(dir).map_err(|e| SearchError::Io {
        path: dir.to_path_buf(),
        source: io::Error::other(e.to_string()),
    })?;
    let _lock =
        tantivy::Directory::acquire_lock(&mmap, &INDEX_WRITER_LOCK).map_err(|e| match e {
            LockError::LockBusy => SearchError::Locked {
                path: dir.to_path_buf(),
            },
            LockError::IoError(io) => SearchError::Io {
                path: dir.to_path_buf(),
                source: io::Error::new(io.kind(), io.to_string()),
            },
        })?;
    let mut doomed = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_lock_file(&name) {
            continue;
        }
        let is_file = entry.file_type().map_err(io_err(dir))?.is_file();
        if !is_file || !is_index_file(&name) {
            return Err(SearchError::ForeignFile {
                path: dir.to_path_buf(),
                name,
            });
        }
        doomed.push(entry.path());
    }
    for path in doomed {
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
    Ok(())
}
