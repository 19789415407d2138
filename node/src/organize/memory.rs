//! Memory (DESIGN §4): what the user learned, decided and prefers, drawn from conversations.
//!
//! Each memory is a signed [`vivim_protocol::Memory`] record (type episodic, semantic,
//! procedural or working; importance; validity interval; provenance = the ACUs, or memories, it
//! came from) plus local bookkeeping: its embedding, how often it was reinforced and last used,
//! and the slot it fills (`my editor`, `use for databases`) when it states one.
//!
//! Consolidation never deletes: a near-duplicate of an active memory is stored as `merged`
//! (`valid_to` set, `merged_into` the survivor) and reinforces the survivor, which takes its
//! provenance; a memory that fills the same slot with another value supersedes the older one,
//! whichever was said later wins — the loser is `superseded` with `valid_to` set, and the
//! winner's provenance names it. Strength decays with time since last use (half-life 30 days)
//! and grows with reinforcement.
//!
//! Extraction: [`extract_deterministic`] reads first-person statements, decisions, reminders,
//! numbered procedures and a one-line episode per conversation; with an AI provider
//! configured, the provider extracts instead ([`extract_with_provider`]).

use std::{collections::HashMap, path::Path, sync::RwLock};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use vivim_identity::Keypair;
use vivim_protocol::{
    Acu, Consolidation, ConvId, Hash, Manifest, Memory, MemoryType, Role, Signed,
    limits::MAX_PROVENANCE,
};

use crate::{
    organize::ai::{ChatMessage, ProviderConfig},
    organize::embed::dot,
};

/// Why a memory operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// The database.
    #[error("memory store: {0}")]
    Db(String),
    /// A bad request.
    #[error("{0}")]
    Invalid(String),
    /// No such memory.
    #[error("memory {0} not found")]
    NotFound(String),
}

fn dberr(e: impl std::fmt::Display) -> MemoryError {
    MemoryError::Db(e.to_string())
}

pub(crate) const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("memory_records");
pub(crate) const LOCAL: TableDefinition<&[u8], &[u8]> = TableDefinition::new("memory_local");
pub(crate) const EXTRACTED: TableDefinition<&[u8], u64> = TableDefinition::new("memory_extracted");

/// Longest memory content accepted, in bytes.
pub const MAX_CONTENT: usize = 4096;
/// Cosine similarity at or above which two memories are near-duplicates.
pub const DUPLICATE: f32 = 0.9;
/// Strength half-life since last use, in days.
pub const HALF_LIFE_DAYS: f64 = 30.0;

/// Local bookkeeping of a memory (not signed, not shared).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Local {
    /// Times it was reinforced (duplicates merged into it, uses in a context).
    pub reinforcement: u32,
    /// Last use or reinforcement (ms).
    pub last_access_ms: u64,
    /// Embedding of the content (unit vector), with the embedder's id.
    pub embedding: Vec<f32>,
    /// The embedder of `embedding`.
    pub embedder: String,
    /// The slot it fills, if it states one.
    pub slot: Option<String>,
    /// The conversation it came from.
    pub conversation: Option<String>,
    /// Who added it by hand, when not the user (e.g. the MCP client `claude-code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Survivor it was merged into.
    pub merged_into: Option<String>,
    /// Memory that superseded it.
    pub superseded_by: Option<String>,
}

/// A memory with its bookkeeping.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The signed record.
    pub record: Signed<Memory>,
    /// Bookkeeping.
    pub local: Local,
}

/// A memory as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct MemoryView {
    /// Id (hex).
    pub id: String,
    /// What is remembered.
    pub content: String,
    /// `episodic`, `semantic`, `procedural`, `working`, `other`.
    pub memory_type: String,
    /// 0..1.
    pub importance: f32,
    /// `active`, `merged`, `superseded`, `expired`.
    pub consolidation: String,
    /// Valid from (ms).
    pub valid_from_ms: u64,
    /// Valid until (ms), once it ended.
    pub valid_to_ms: Option<u64>,
    /// ACU or memory ids it was drawn from.
    pub provenance: Vec<String>,
    /// Times reinforced.
    pub reinforcement: u32,
    /// Last used (ms).
    pub last_access_ms: u64,
    /// Importance with recency decay and reinforcement, 0..1.
    pub strength: f32,
    /// Slot it fills.
    pub slot: Option<String>,
    /// Conversation it came from.
    pub conversation: Option<String>,
    /// Who added it, when not the user (an assistant, through MCP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Merged into this memory.
    pub merged_into: Option<String>,
    /// Superseded by this memory.
    pub superseded_by: Option<String>,
    /// Search score, when searched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
}

fn type_name(t: MemoryType) -> &'static str {
    match t {
        MemoryType::Episodic => "episodic",
        MemoryType::Semantic => "semantic",
        MemoryType::Procedural => "procedural",
        MemoryType::Working => "working",
        MemoryType::Other => "other",
    }
}

/// Parses a memory type name.
pub fn parse_type(s: &str) -> Result<MemoryType, MemoryError> {
    Ok(match s {
        "episodic" => MemoryType::Episodic,
        "semantic" => MemoryType::Semantic,
        "procedural" => MemoryType::Procedural,
        "working" => MemoryType::Working,
        "other" => MemoryType::Other,
        o => {
            return Err(MemoryError::Invalid(format!(
                "unknown memory type {o:?}: use episodic, semantic, procedural, working or other"
            )));
        }
    })
}

fn state_name(c: Consolidation) -> &'static str {
    match c {
        Consolidation::Active => "active",
        Consolidation::Merged => "merged",
        Consolidation::Superseded => "superseded",
        Consolidation::Expired => "expired",
    }
}

/// Strength at `now`: importance × recency decay × reinforcement.
pub fn strength(e: &Entry, now_ms: u64) -> f32 {
    let m = e.record.value();
    let since = e.local.last_access_ms.max(m.valid_from_ms);
    let days = now_ms.saturating_sub(since) as f64 / 86_400_000.0;
    let decay = 0.5f64.powf(days / HALF_LIFE_DAYS);
    let boost = 1.0 + (1.0 + f64::from(e.local.reinforcement)).ln() * 0.5;
    ((f64::from(m.importance) * decay * boost).min(1.0)) as f32
}

impl Entry {
    /// The API view.
    pub fn view(&self, now_ms: u64) -> MemoryView {
        let m = self.record.value();
        MemoryView {
            id: m.id.to_string(),
            content: m.content.clone(),
            memory_type: type_name(m.memory_type).into(),
            importance: m.importance,
            consolidation: state_name(m.consolidation).into(),
            valid_from_ms: m.valid_from_ms,
            valid_to_ms: m.valid_to_ms,
            provenance: m.provenance.iter().map(|h| h.to_string()).collect(),
            reinforcement: self.local.reinforcement,
            last_access_ms: self.local.last_access_ms,
            strength: strength(self, now_ms),
            slot: self.local.slot.clone(),
            conversation: self.local.conversation.clone(),
            source: self.local.source.clone(),
            merged_into: self.local.merged_into.clone(),
            superseded_by: self.local.superseded_by.clone(),
            score: None,
        }
    }
}

/// A memory to add.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewMemory {
    /// What to remember.
    pub content: String,
    /// Type (default `semantic`).
    pub memory_type: Option<String>,
    /// 0..1 (default 0.5).
    pub importance: Option<f32>,
    /// ACU or memory ids (hex) it comes from.
    #[serde(default)]
    pub provenance: Vec<String>,
    /// When it became true (ms; default now).
    pub valid_from_ms: Option<u64>,
    /// When it stops being true (ms), e.g. for working memory.
    pub valid_to_ms: Option<u64>,
    /// The slot it fills (`my editor`); default: read from the content.
    pub slot: Option<String>,
    /// Who adds it, when not the user (set by the MCP server to the assistant's name; not
    /// part of the REST body).
    #[serde(skip)]
    #[schema(ignore)]
    pub source: Option<String>,
}

/// A change to a memory.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct MemoryPatch {
    /// New content.
    pub content: Option<String>,
    /// New type.
    pub memory_type: Option<String>,
    /// New importance.
    pub importance: Option<f32>,
}

/// A candidate memory (from an extractor, or the API, already validated).
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Content.
    pub content: String,
    /// Type.
    pub memory_type: MemoryType,
    /// Importance.
    pub importance: f32,
    /// Provenance.
    pub provenance: Vec<Hash>,
    /// Valid from.
    pub valid_from_ms: u64,
    /// Valid to.
    pub valid_to_ms: Option<u64>,
    /// Slot.
    pub slot: Option<String>,
    /// Source conversation.
    pub conversation: Option<ConvId>,
    /// Who added it by hand, when not the user.
    pub source: Option<String>,
}

/// What adding a memory did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Added {
    /// The memory as stored.
    pub memory: MemoryView,
    /// `new`, `existing` (same id already stored), `merged` (into `other`), `superseded`
    /// (`other` was superseded by it), `outdated` (it was superseded by the newer `other`).
    pub outcome: String,
    /// The other memory involved.
    pub other: Option<String>,
}

fn norm(s: &str) -> String {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The slot a statement fills and its value: "my favourite editor is helix" → ("my favourite
/// editor", "helix"); "I use Postgres for analytics" → ("use for analytics", "postgres").
pub fn slot_of(content: &str) -> Option<(String, String)> {
    let s = norm(content);
    let s = s
        .strip_prefix("the user s ")
        .map(|r| format!("my {r}"))
        .unwrap_or(s);
    for (lead, verbs) in [
        ("my ", [" is ", " are ", " was "]),
        ("our ", [" is ", " are ", " was "]),
    ] {
        if let Some(rest) = s.strip_prefix(lead) {
            for v in verbs {
                if let Some((subj, val)) = rest.split_once(v)
                    && !subj.is_empty()
                    && subj.split(' ').count() <= 5
                    && !val.is_empty()
                {
                    return Some((format!("{lead}{subj}"), val.to_string()));
                }
            }
        }
    }
    for verb in [
        "i live in ",
        "i work at ",
        "i work for ",
        "i am based in ",
        "i m based in ",
    ] {
        if let Some(val) = s.strip_prefix(verb) {
            return Some((verb.trim().to_string(), val.to_string()));
        }
    }
    for verb in [
        "i use ",
        "i prefer ",
        "we use ",
        "i switched to ",
        "we switched to ",
        "i decided to use ",
        "we decided to use ",
        "i ll use ",
        "we ll use ",
        "i will use ",
        "we will use ",
        "i chose ",
        "we chose ",
        "let s use ",
        "let s go with ",
    ] {
        if let Some(rest) = s.strip_prefix(verb) {
            for prep in [" for ", " as "] {
                if let Some((val, what)) = rest.split_once(prep)
                    && !val.is_empty()
                    && !what.is_empty()
                    && what.split(' ').count() <= 6
                {
                    return Some((format!("use for {what}"), val.to_string()));
                }
            }
        }
    }
    None
}

/// The memory store: a redb file of its own (`db/memory.redb`) and an in-memory copy.
pub struct MemoryStore {
    db: redb::Database,
    entries: RwLock<HashMap<Hash, Entry>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// The database the memories live in (backups read it in one snapshot).
    pub(crate) fn database(&self) -> &redb::Database {
        &self.db
    }

    /// Opens (or creates) the store.
    pub fn open(path: &Path) -> Result<MemoryStore, MemoryError> {
        let db = redb::Database::builder()
            .set_cache_size(4 * 1024 * 1024)
            .create(path)
            .map_err(dberr)?;
        {
            let w = db.begin_write().map_err(dberr)?;
            w.open_table(RECORDS).map_err(dberr)?;
            w.open_table(LOCAL).map_err(dberr)?;
            w.open_table(EXTRACTED).map_err(dberr)?;
            w.commit().map_err(dberr)?;
        }
        let mut entries = HashMap::new();
        {
            let r = db.begin_read().map_err(dberr)?;
            let recs = r.open_table(RECORDS).map_err(dberr)?;
            let locals = r.open_table(LOCAL).map_err(dberr)?;
            for item in recs.iter().map_err(dberr)? {
                let (k, v) = item.map_err(dberr)?;
                let record = match Signed::<Memory>::decode(v.value()) {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!("skipping an unreadable memory record: {e}");
                        continue;
                    }
                };
                let local: Local = locals
                    .get(k.value())
                    .map_err(dberr)?
                    .and_then(|l| serde_json::from_slice(l.value()).ok())
                    .unwrap_or_default();
                entries.insert(record.value().id, Entry { record, local });
            }
        }
        Ok(MemoryStore {
            db,
            entries: RwLock::new(entries),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Hash, Entry>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Hash, Entry>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    fn persist(&self, entries: &[&Entry]) -> Result<(), MemoryError> {
        let w = self.db.begin_write().map_err(dberr)?;
        {
            let mut recs = w.open_table(RECORDS).map_err(dberr)?;
            let mut locals = w.open_table(LOCAL).map_err(dberr)?;
            for e in entries {
                let id = e.record.value().id;
                recs.insert(id.as_bytes().as_slice(), e.record.bytes())
                    .map_err(dberr)?;
                let l = serde_json::to_vec(&e.local).map_err(dberr)?;
                locals
                    .insert(id.as_bytes().as_slice(), l.as_slice())
                    .map_err(dberr)?;
            }
        }
        w.commit().map_err(dberr)
    }

    /// Number of memories (any state).
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One memory.
    pub fn get(&self, id: &Hash) -> Option<Entry> {
        self.read().get(id).cloned()
    }

    /// Finds a memory by id or unique hex prefix.
    pub fn resolve(&self, id: &str) -> Result<Hash, MemoryError> {
        let id = id.trim().to_lowercase();
        if id.len() < 6 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(MemoryError::Invalid(format!(
                "{id:?} is not a memory id (hex, at least 6 characters)"
            )));
        }
        let g = self.read();
        let mut found = g.keys().filter(|h| h.to_hex().starts_with(&id));
        match (found.next(), found.next()) {
            (Some(h), None) => Ok(*h),
            (None, _) => Err(MemoryError::NotFound(id)),
            (Some(_), Some(_)) => Err(MemoryError::Invalid(format!("{id} is ambiguous"))),
        }
    }

    /// All memories, strongest first; `all` includes merged, superseded and expired ones.
    pub fn list(&self, memory_type: Option<MemoryType>, all: bool, now_ms: u64) -> Vec<MemoryView> {
        let g = self.read();
        let mut v: Vec<MemoryView> = g
            .values()
            .filter(|e| all || e.record.value().consolidation == Consolidation::Active)
            .filter(|e| memory_type.is_none_or(|t| e.record.value().memory_type == t))
            .map(|e| e.view(now_ms))
            .collect();
        v.sort_by(|a, b| b.strength.total_cmp(&a.strength).then(a.id.cmp(&b.id)));
        v
    }

    /// Active memories most relevant to `query_vec`: cosine similarity × (0.7 + 0.3 × strength),
    /// so a strong memory wins among equally similar ones but does not beat a closer one.
    pub fn search(&self, query_vec: &[f32], limit: usize, now_ms: u64) -> Vec<MemoryView> {
        let g = self.read();
        let mut v: Vec<(f32, &Entry)> = g
            .values()
            .filter(|e| e.record.value().consolidation == Consolidation::Active)
            .filter(|e| e.local.embedding.len() == query_vec.len())
            .map(|e| {
                let sim = dot(&e.local.embedding, query_vec);
                (sim * (0.7 + 0.3 * strength(e, now_ms)), e)
            })
            .filter(|(s, _)| *s > 0.05)
            .collect();
        v.sort_by(|a, b| b.0.total_cmp(&a.0));
        v.into_iter()
            .take(limit)
            .map(|(s, e)| {
                let mut view = e.view(now_ms);
                view.score = Some(s);
                view
            })
            .collect()
    }

    /// Marks memories as used now (they were put in a context).
    pub fn reinforce(&self, ids: &[Hash], now_ms: u64) -> Result<(), MemoryError> {
        let mut g = self.write();
        let mut changed = Vec::new();
        for id in ids {
            if let Some(e) = g.get_mut(id) {
                e.local.reinforcement = e.local.reinforcement.saturating_add(1);
                e.local.last_access_ms = now_ms;
                changed.push(*id);
            }
        }
        let refs: Vec<&Entry> = changed.iter().filter_map(|id| g.get(id)).collect();
        self.persist(&refs)
    }

    /// Marks working memories past their `valid_to` as expired. Returns how many.
    pub fn expire(&self, key: &Keypair, now_ms: u64) -> Result<usize, MemoryError> {
        let mut g = self.write();
        let ids: Vec<Hash> = g
            .values()
            .filter(|e| {
                let m = e.record.value();
                m.consolidation == Consolidation::Active
                    && m.valid_to_ms.is_some_and(|t| t <= now_ms)
            })
            .map(|e| e.record.value().id)
            .collect();
        for id in &ids {
            if let Some(e) = g.get_mut(id) {
                let mut m = e.record.value().clone();
                m.consolidation = Consolidation::Expired;
                e.record = sign(m, key)?;
            }
        }
        let refs: Vec<&Entry> = ids.iter().filter_map(|id| g.get(id)).collect();
        self.persist(&refs)?;
        Ok(ids.len())
    }

    /// Consolidates the active memories among themselves (after edits, imports by hand, or a
    /// change of embedder): near-duplicates merge into the earliest, and of two memories that
    /// fill one slot the later supersedes the earlier. Returns (merged, superseded).
    pub fn consolidate_all(
        &self,
        key: &Keypair,
        now_ms: u64,
    ) -> Result<(usize, usize), MemoryError> {
        let mut g = self.write();
        let mut active: Vec<Hash> = g
            .values()
            .filter(|e| e.record.value().consolidation == Consolidation::Active)
            .map(|e| e.record.value().id)
            .collect();
        active.sort_by_key(|id| g.get(id).map(|e| (e.record.value().valid_from_ms, *id)));
        let (mut merged, mut superseded) = (0, 0);
        let mut changed: Vec<Hash> = Vec::new();
        for i in 0..active.len() {
            let a = active[i];
            for &b in active.iter().skip(i + 1) {
                let (Some(ea), Some(eb)) = (g.get(&a), g.get(&b)) else {
                    continue;
                };
                let (ma, mb) = (ea.record.value(), eb.record.value());
                if ma.consolidation != Consolidation::Active
                    || mb.consolidation != Consolidation::Active
                {
                    continue;
                }
                let dup = ma.memory_type == mb.memory_type
                    && (norm(&ma.content) == norm(&mb.content)
                        || (ea.local.embedder == eb.local.embedder
                            && ea.local.embedding.len() == eb.local.embedding.len()
                            && !ea.local.embedding.is_empty()
                            && dot(&ea.local.embedding, &eb.local.embedding) >= DUPLICATE));
                let clash = !dup && ea.local.slot.is_some() && ea.local.slot == eb.local.slot;
                if !dup && !clash {
                    continue;
                }
                let (mut ea, mut eb) = (ea.clone(), eb.clone());
                let (mut ma, mut mb) = (ma.clone(), mb.clone());
                if dup {
                    // b (later) merges into a (earlier).
                    for p in &mb.provenance {
                        if !ma.provenance.contains(p) && ma.provenance.len() < MAX_PROVENANCE {
                            ma.provenance.push(*p);
                        }
                    }
                    ma.importance = ma.importance.max(mb.importance);
                    ea.local.reinforcement = ea.local.reinforcement.saturating_add(1);
                    mb.consolidation = Consolidation::Merged;
                    mb.valid_to_ms = Some(now_ms.max(mb.valid_from_ms));
                    eb.local.merged_into = Some(a.to_string());
                    merged += 1;
                } else {
                    // b (later) supersedes a.
                    ma.consolidation = Consolidation::Superseded;
                    ma.valid_to_ms = Some(mb.valid_from_ms.max(ma.valid_from_ms));
                    ea.local.superseded_by = Some(b.to_string());
                    if !mb.provenance.contains(&a) && mb.provenance.len() < MAX_PROVENANCE {
                        mb.provenance.push(a);
                    }
                    superseded += 1;
                }
                ea.record = sign(ma, key)?;
                eb.record = sign(mb, key)?;
                g.insert(a, ea);
                g.insert(b, eb);
                changed.extend([a, b]);
            }
        }
        changed.sort_by_key(|h| h.0);
        changed.dedup();
        let refs: Vec<&Entry> = changed.iter().filter_map(|id| g.get(id)).collect();
        self.persist(&refs)?;
        Ok((merged, superseded))
    }

    /// Adds a memory and consolidates it with the active ones (see the module docs).
    pub fn add(
        &self,
        key: &Keypair,
        c: Candidate,
        embedding: Vec<f32>,
        embedder: &str,
        now_ms: u64,
    ) -> Result<Added, MemoryError> {
        let content = c.content.trim().to_string();
        if content.is_empty() {
            return Err(MemoryError::Invalid("content is empty".into()));
        }
        if content.len() > MAX_CONTENT {
            return Err(MemoryError::Invalid(format!(
                "content is {} bytes; a memory holds at most {MAX_CONTENT}",
                content.len()
            )));
        }
        if !(0.0..=1.0).contains(&c.importance) || c.importance.is_nan() {
            return Err(MemoryError::Invalid(
                "importance must be between 0 and 1".into(),
            ));
        }
        if c.valid_to_ms.is_some_and(|t| t < c.valid_from_ms) {
            return Err(MemoryError::Invalid("valid_to is before valid_from".into()));
        }
        let mut provenance = c.provenance.clone();
        provenance.truncate(MAX_PROVENANCE / 2);
        let n = norm(&content);
        let id = {
            let mut h = blake3::Hasher::new();
            h.update(b"vivim/memory/v1\0");
            h.update(key.public().as_bytes());
            h.update(type_name(c.memory_type).as_bytes());
            h.update(b"\0");
            h.update(n.as_bytes());
            h.update(b"\0");
            if let Some(p) = provenance.first() {
                h.update(p.as_bytes());
            }
            Hash(*h.finalize().as_bytes())
        };
        let slot = c.slot.clone().or_else(|| slot_of(&content).map(|s| s.0));
        let mut g = self.write();
        if let Some(e) = g.get(&id) {
            return Ok(Added {
                memory: e.view(now_ms),
                outcome: "existing".into(),
                other: None,
            });
        }
        let memory = Memory {
            v: 1,
            id,
            owner: key.public(),
            content: content.clone(),
            memory_type: c.memory_type,
            importance: c.importance,
            embedding: None,
            consolidation: Consolidation::Active,
            valid_from_ms: c.valid_from_ms,
            valid_to_ms: c.valid_to_ms,
            provenance: provenance.clone(),
            sig: None,
        };
        let mut entry = Entry {
            record: sign(memory, key)?,
            local: Local {
                reinforcement: 0,
                last_access_ms: c.valid_from_ms,
                embedding: embedding.clone(),
                embedder: embedder.into(),
                slot: slot.clone(),
                conversation: c.conversation.map(|c| c.to_string()),
                source: c.source.clone(),
                merged_into: None,
                superseded_by: None,
            },
        };
        // 1. A near-duplicate of an active memory of the same type: merge into it.
        let dup = g
            .values()
            .filter(|e| {
                let m = e.record.value();
                m.consolidation == Consolidation::Active && m.memory_type == c.memory_type
            })
            .map(|e| {
                let sim = if norm(&e.record.value().content) == n {
                    1.0
                } else if e.local.embedding.len() == embedding.len() && e.local.embedder == embedder
                {
                    dot(&e.local.embedding, &embedding)
                } else {
                    0.0
                };
                (sim, e.record.value().id)
            })
            .filter(|(s, _)| *s >= DUPLICATE)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((_, survivor_id)) = dup {
            let Some(survivor) = g.get(&survivor_id).cloned() else {
                return Err(MemoryError::Db("memory vanished".into()));
            };
            let mut sm = survivor.record.value().clone();
            for p in &provenance {
                if !sm.provenance.contains(p) && sm.provenance.len() < MAX_PROVENANCE {
                    sm.provenance.push(*p);
                }
            }
            sm.importance = sm.importance.max(c.importance);
            let survivor = Entry {
                record: sign(sm, key)?,
                local: Local {
                    reinforcement: survivor.local.reinforcement.saturating_add(1),
                    last_access_ms: now_ms.max(survivor.local.last_access_ms),
                    ..survivor.local
                },
            };
            let mut mm = entry.record.value().clone();
            mm.consolidation = Consolidation::Merged;
            mm.valid_to_ms = Some(now_ms.max(mm.valid_from_ms));
            entry.record = sign(mm, key)?;
            entry.local.merged_into = Some(survivor_id.to_string());
            self.persist(&[&survivor, &entry])?;
            let view = entry.view(now_ms);
            g.insert(survivor_id, survivor);
            g.insert(id, entry);
            return Ok(Added {
                memory: view,
                outcome: "merged".into(),
                other: Some(survivor_id.to_string()),
            });
        }
        // 2. The same slot with another value: the later statement wins.
        let rival = slot.as_ref().and_then(|s| {
            g.values()
                .filter(|e| {
                    e.record.value().consolidation == Consolidation::Active
                        && e.local.slot.as_deref() == Some(s.as_str())
                })
                .map(|e| e.record.value().id)
                .next()
        });
        if let Some(rival_id) = rival {
            let Some(rival) = g.get(&rival_id).cloned() else {
                return Err(MemoryError::Db("memory vanished".into()));
            };
            let new_wins = c.valid_from_ms >= rival.record.value().valid_from_ms;
            let (mut winner, mut loser) = if new_wins {
                (entry, rival)
            } else {
                (rival, entry)
            };
            let wid = winner.record.value().id;
            let lid = loser.record.value().id;
            let mut lm = loser.record.value().clone();
            lm.consolidation = Consolidation::Superseded;
            lm.valid_to_ms = Some(winner.record.value().valid_from_ms.max(lm.valid_from_ms));
            loser.record = sign(lm, key)?;
            loser.local.superseded_by = Some(wid.to_string());
            let mut wm = winner.record.value().clone();
            if !wm.provenance.contains(&lid) && wm.provenance.len() < MAX_PROVENANCE {
                wm.provenance.push(lid);
            }
            winner.record = sign(wm, key)?;
            self.persist(&[&winner, &loser])?;
            let (view, outcome, other) = if new_wins {
                (winner.view(now_ms), "superseded", lid)
            } else {
                (loser.view(now_ms), "outdated", wid)
            };
            g.insert(wid, winner);
            g.insert(lid, loser);
            return Ok(Added {
                memory: view,
                outcome: outcome.into(),
                other: Some(other.to_string()),
            });
        }
        self.persist(&[&entry])?;
        let view = entry.view(now_ms);
        g.insert(id, entry);
        Ok(Added {
            memory: view,
            outcome: "new".into(),
            other: None,
        })
    }

    /// Changes a memory's content, type or importance (re-signed; same id).
    pub fn update(
        &self,
        key: &Keypair,
        id: &Hash,
        patch: &MemoryPatch,
        embedding: Option<(Vec<f32>, String)>,
        now_ms: u64,
    ) -> Result<MemoryView, MemoryError> {
        let mut g = self.write();
        let Some(e) = g.get_mut(id) else {
            return Err(MemoryError::NotFound(id.to_string()));
        };
        let mut m = e.record.value().clone();
        if let Some(c) = &patch.content {
            let c = c.trim();
            if c.is_empty() || c.len() > MAX_CONTENT {
                return Err(MemoryError::Invalid(format!(
                    "content must be 1 to {MAX_CONTENT} bytes"
                )));
            }
            m.content = c.to_string();
            e.local.slot = slot_of(c).map(|s| s.0);
        }
        if let Some(t) = &patch.memory_type {
            m.memory_type = parse_type(t)?;
        }
        if let Some(i) = patch.importance {
            if !(0.0..=1.0).contains(&i) || i.is_nan() {
                return Err(MemoryError::Invalid(
                    "importance must be between 0 and 1".into(),
                ));
            }
            m.importance = i;
        }
        e.record = sign(m, key)?;
        if let Some((v, by)) = embedding {
            e.local.embedding = v;
            e.local.embedder = by;
        }
        e.local.last_access_ms = now_ms;
        let view = e.view(now_ms);
        let snapshot = e.clone();
        self.persist(&[&snapshot])?;
        Ok(view)
    }

    /// Deletes a memory (a user's explicit request; consolidation never deletes).
    pub fn delete(&self, id: &Hash) -> Result<bool, MemoryError> {
        let mut g = self.write();
        let found = g.remove(id).is_some();
        let w = self.db.begin_write().map_err(dberr)?;
        {
            let mut recs = w.open_table(RECORDS).map_err(dberr)?;
            let mut locals = w.open_table(LOCAL).map_err(dberr)?;
            recs.remove(id.as_bytes().as_slice()).map_err(dberr)?;
            locals.remove(id.as_bytes().as_slice()).map_err(dberr)?;
        }
        w.commit().map_err(dberr)?;
        Ok(found)
    }

    /// The conversation version memories were last extracted from.
    pub fn extracted(&self, conv: &ConvId) -> Result<Option<u64>, MemoryError> {
        let r = self.db.begin_read().map_err(dberr)?;
        let t = r.open_table(EXTRACTED).map_err(dberr)?;
        Ok(t.get(conv.0.as_bytes().as_slice())
            .map_err(dberr)?
            .map(|v| v.value()))
    }

    /// Records that memories were extracted from this version of a conversation.
    pub fn set_extracted(&self, conv: &ConvId, marker: u64) -> Result<(), MemoryError> {
        let w = self.db.begin_write().map_err(dberr)?;
        {
            let mut t = w.open_table(EXTRACTED).map_err(dberr)?;
            t.insert(conv.0.as_bytes().as_slice(), marker)
                .map_err(dberr)?;
        }
        w.commit().map_err(dberr)
    }

    /// Entries whose embedding is not from `embedder` (to re-embed after a config change).
    pub fn stale_embeddings(&self, embedder: &str) -> Vec<(Hash, String)> {
        self.read()
            .values()
            .filter(|e| e.local.embedder != embedder)
            .map(|e| (e.record.value().id, e.record.value().content.clone()))
            .collect()
    }

    /// Replaces embeddings (after a config change).
    pub fn set_embeddings(
        &self,
        items: Vec<(Hash, Vec<f32>)>,
        embedder: &str,
    ) -> Result<(), MemoryError> {
        let mut g = self.write();
        for (id, v) in items {
            if let Some(e) = g.get_mut(&id) {
                e.local.embedding = v;
                e.local.embedder = embedder.into();
            }
        }
        let all: Vec<&Entry> = g.values().collect();
        self.persist(&all)
    }
}

fn sign(m: Memory, key: &Keypair) -> Result<Signed<Memory>, MemoryError> {
    Signed::sign(m, key).map_err(|e| MemoryError::Invalid(e.to_string()))
}

/// Sentences of at least four words: split at `!`, `?`, line breaks, and at `.` only before a
/// space or the end (so "the .NET runtime" or "v1.2" stay whole).
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let end = match c {
            '!' | '?' | '\n' => true,
            '.' => bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace()),
            _ => false,
        };
        if end {
            out.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&text[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| (8..=300).contains(&s.len()) && s.split_whitespace().count() >= 4)
}

/// `s` cut to `max` bytes (on a character boundary), with an ellipsis when it was longer.
fn clip(s: &str, max: usize) -> String {
    let c = crate::text::clip(s, max);
    if c.len() == s.len() {
        c.to_string()
    } else {
        format!("{c}…")
    }
}

/// Memories a conversation suggests, without any model: first-person facts and preferences,
/// decisions, reminders (working memory, valid a week), numbered procedures in answers to
/// "how" questions, and one episode per conversation.
pub fn extract_deterministic(m: &Manifest, acus: &[Signed<Acu>]) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut last_user: Option<String> = None;
    let mut first_user: Option<(Hash, String, u64)> = None;
    for a in acus {
        let v = a.value();
        let Some(text) = v.body.as_text() else {
            continue;
        };
        match v.role {
            Role::User => {
                if first_user.is_none() {
                    first_user = Some((a.id(), text.to_string(), v.created_at_ms));
                }
                last_user = Some(text.to_string());
                for s in sentences(text) {
                    let l = s.to_lowercase();
                    let l = l.trim_start_matches(|c: char| !c.is_alphanumeric());
                    let (t, importance, content, valid_to) = if let Some(r) = l
                        .strip_prefix("remember that ")
                        .or_else(|| l.strip_prefix("please remember that "))
                        .or_else(|| l.strip_prefix("note that "))
                    {
                        (MemoryType::Semantic, 0.9, r.to_string(), None)
                    } else if [
                        "i decided",
                        "we decided",
                        "i've decided",
                        "we've decided",
                        "i chose",
                        "we chose",
                        "let's go with",
                        "let's use",
                        "i'll use",
                        "we'll use",
                        "i will use",
                        "we will use",
                        "i switched to",
                        "we switched to",
                        "decision:",
                    ]
                    .iter()
                    .any(|p| l.starts_with(p))
                    {
                        (MemoryType::Semantic, 0.8, s.to_string(), None)
                    } else if [
                        "my ",
                        "i am ",
                        "i'm ",
                        "i live",
                        "i work",
                        "i prefer",
                        "i like",
                        "i love",
                        "i use ",
                        "i always",
                        "i never",
                        "i usually",
                        "call me",
                        "i don't like",
                        "i hate",
                    ]
                    .iter()
                    .any(|p| l.starts_with(p))
                    {
                        (MemoryType::Semantic, 0.6, s.to_string(), None)
                    } else if [
                        "remind me",
                        "todo",
                        "to do:",
                        "i need to",
                        "i have to",
                        "i must",
                    ]
                    .iter()
                    .any(|p| l.starts_with(p))
                    {
                        (
                            MemoryType::Working,
                            0.5,
                            s.to_string(),
                            Some(v.created_at_ms + 7 * 86_400_000),
                        )
                    } else {
                        continue;
                    };
                    out.push(Candidate {
                        content,
                        memory_type: t,
                        importance,
                        provenance: vec![a.id()],
                        valid_from_ms: v.created_at_ms,
                        valid_to_ms: valid_to,
                        slot: None,
                        conversation: Some(m.id),
                        source: None,
                    });
                }
            }
            Role::Assistant => {
                let steps: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| {
                        let d: String = l.chars().take_while(char::is_ascii_digit).collect();
                        !d.is_empty() && l[d.len()..].starts_with(['.', ')'])
                    })
                    .collect();
                let asked_how = last_user.as_deref().is_some_and(|q| {
                    let q = q.trim_start().to_lowercase();
                    [
                        "how ",
                        "what are the steps",
                        "what's the best way",
                        "steps to",
                        "guide",
                    ]
                    .iter()
                    .any(|p| q.starts_with(p) || q.contains(&format!(" {p}")))
                });
                if steps.len() >= 3 && asked_how {
                    let q = last_user.clone().unwrap_or_default();
                    let q = q.trim().trim_end_matches('?');
                    let lower = q.to_lowercase();
                    let task = [
                        "how do i ",
                        "how can i ",
                        "how should i ",
                        "how to ",
                        "how do you ",
                    ]
                    .iter()
                    .find(|p| lower.starts_with(*p))
                    .and_then(|p| q.get(p.len()..))
                    .unwrap_or(q);
                    out.push(Candidate {
                        content: clip(
                            &format!("How to {}: {}", clip(task, 120), steps.join(" ")),
                            600,
                        ),
                        memory_type: MemoryType::Procedural,
                        importance: 0.5,
                        provenance: vec![a.id()],
                        valid_from_ms: v.created_at_ms,
                        valid_to_ms: None,
                        slot: None,
                        conversation: Some(m.id),
                        source: None,
                    });
                }
            }
            _ => {}
        }
    }
    if let Some((id, text, at)) = first_user {
        let date = chrono::DateTime::from_timestamp_millis(at as i64)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        out.push(Candidate {
            content: format!(
                "{date}: conversation \"{}\" ({} messages), starting with: {}",
                clip(&m.title, 100),
                m.message_count,
                clip(text.trim(), 160)
            ),
            memory_type: MemoryType::Episodic,
            importance: 0.3,
            provenance: vec![id],
            valid_from_ms: at,
            valid_to_ms: None,
            slot: None,
            conversation: Some(m.id),
            source: None,
        });
    }
    out.truncate(20);
    out
}

/// Asks the configured provider to extract memories. The answer must be a JSON array of
/// `{content, type, importance, slot?, message?}` (`message`: the index of the source
/// message); anything else is an error (the caller falls back to the deterministic extractor).
pub async fn extract_with_provider(
    cfg: &ProviderConfig,
    m: &Manifest,
    acus: &[Signed<Acu>],
) -> Result<Vec<Candidate>, MemoryError> {
    let mut transcript = String::new();
    let mut ids = Vec::new();
    for a in acus {
        let v = a.value();
        let Some(t) = v.body.as_text() else { continue };
        if !matches!(v.role, Role::User | Role::Assistant) || t.is_empty() {
            continue;
        }
        transcript.push_str(&format!(
            "[{}] {}: {}\n",
            ids.len(),
            v.role.as_str(),
            clip(t, 2000)
        ));
        ids.push((a.id(), v.created_at_ms));
        if transcript.len() > 24_000 {
            break;
        }
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let system = "You extract long-term memories about the user from a conversation. Answer \
        with only a JSON array (at most 10 items) of objects {\"content\": one self-contained \
        sentence, \"type\": \"semantic\"|\"episodic\"|\"procedural\"|\"working\", \
        \"importance\": 0..1, \"slot\": short subject it fills or null, \"message\": index of \
        the source message}. Keep facts, preferences, decisions, and procedures worth reusing.";
    let messages = [ChatMessage {
        role: "user".into(),
        content: format!("Conversation \"{}\":\n{transcript}", m.title),
    }];
    let answer = crate::organize::ai::stream_chat(cfg, system, &messages, None)
        .await
        .map_err(|e| MemoryError::Invalid(e.to_string()))?;
    let start = answer.find('[');
    let end = answer.rfind(']');
    let (Some(s), Some(e)) = (start, end) else {
        return Err(MemoryError::Invalid(
            "the provider's answer has no JSON array".into(),
        ));
    };
    #[derive(Deserialize)]
    struct Item {
        content: String,
        #[serde(rename = "type", default)]
        kind: Option<String>,
        #[serde(default)]
        importance: Option<f32>,
        #[serde(default)]
        slot: Option<String>,
        #[serde(default)]
        message: Option<usize>,
    }
    let items: Vec<Item> = serde_json::from_str(answer.get(s..=e).unwrap_or("[]"))
        .map_err(|e| MemoryError::Invalid(format!("the provider's answer: {e}")))?;
    Ok(items
        .into_iter()
        .take(10)
        .filter(|i| !i.content.trim().is_empty() && i.content.len() <= MAX_CONTENT)
        .map(|i| {
            let (src, at) = i
                .message
                .and_then(|k| ids.get(k).copied())
                .unwrap_or(ids[0]);
            Candidate {
                content: i.content.trim().to_string(),
                memory_type: i
                    .kind
                    .as_deref()
                    .and_then(|k| parse_type(k).ok())
                    .unwrap_or(MemoryType::Semantic),
                importance: i.importance.unwrap_or(0.5).clamp(0.0, 1.0),
                provenance: vec![src],
                valid_from_ms: at,
                valid_to_ms: None,
                slot: i.slot.map(|s| norm(&s)).filter(|s| !s.is_empty()),
                conversation: Some(m.id),
                source: None,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_keep_dotted_words() {
        let v: Vec<&str> =
            sentences("We will use the .NET runtime v1.2 here. Ok. Why not try it?\nfine")
                .collect();
        assert_eq!(
            v,
            ["We will use the .NET runtime v1.2 here", "Why not try it"]
        );
    }

    #[test]
    fn slots() {
        assert_eq!(
            slot_of("My favourite editor is Helix."),
            Some(("my favourite editor".into(), "helix".into()))
        );
        assert_eq!(
            slot_of("I decided to use Postgres for the analytics service"),
            Some(("use for the analytics service".into(), "postgres".into()))
        );
        assert_eq!(
            slot_of("I live in Lyon"),
            Some(("i live in".into(), "lyon".into()))
        );
        assert_eq!(slot_of("The weather is nice"), None);
    }
}
