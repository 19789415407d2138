//! What sharing keeps and shows, without IO: stored share rows, the views of shares, the feed
//! and provenance, which blobs may be served until when, and sealing and unsealing packages.

use std::{collections::HashMap, sync::RwLock};

use serde::{Deserialize, Serialize};
use vivim_identity::{Did, PublicKey};
use vivim_protocol::{
    AccessGrant, Acu, Audience, ContentKey, ContentType, ConvId, Hash, IntentKind, IntentStatus,
    Manifest, SharingIntent, Signed, pack_records, unpack_records, wrap_key,
};

use crate::store::{NewConversation, StoreError};

/// The metadata key a fork's ACU names its original with (the original's id, hex).
pub const FORK_OF: &str = "vivim.fork.of";
/// The metadata key a fork's ACU names its original's author with (a DID).
pub const FORK_AUTHOR: &str = "vivim.fork.author";

/// The blob tag that keeps a share's sealed package.
pub fn share_tag(id: &Hash) -> String {
    format!("share/{id}")
}

/// What the node keeps about one share (made here or received).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShareRow {
    /// The newest signed revision of the intent.
    #[serde(with = "serde_bytes")]
    pub intent: Vec<u8>,
    /// Made by this node's user.
    pub mine: bool,
    /// The content key, when known (always for mine; for received ones once opened).
    #[serde(default, with = "serde_bytes")]
    pub key: Option<Vec<u8>>,
    /// The payload's items (for refusing them once the share ends).
    pub items: Vec<Hash>,
    /// Recipients that acknowledged the newest revision (mine).
    pub delivered: Vec<PublicKey>,
    /// `pending`, `opened`, `failed`, `sealed` (no grant for us) or `pinned` (relay).
    pub state: String,
    /// The conversation it opened as.
    pub conversation: Option<ConvId>,
    /// Its title, once opened.
    pub title: Option<String>,
    /// Why opening failed.
    pub error: Option<String>,
    /// When this node made or first received it (ms); its feed key.
    pub at_ms: u64,
}

impl ShareRow {
    /// The signed intent.
    pub fn signed(&self) -> Result<Signed<SharingIntent>, StoreError> {
        Signed::<SharingIntent>::decode(&self.intent)
            .map_err(|e| StoreError::Db(format!("a stored intent: {e}")))
    }

    pub(crate) fn content_key(&self) -> Option<ContentKey> {
        let b: [u8; 32] = self.key.as_deref()?.try_into().ok()?;
        Some(ContentKey::from_bytes(b))
    }
}

/// A share, for listings.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShareOut {
    /// Intent id.
    pub id: String,
    /// `share`, `publish`, `embed` or `fork`.
    pub intent: String,
    /// Who shared.
    pub actor: String,
    /// Made here (`true`) or received.
    pub mine: bool,
    /// `conversation` or `acu`.
    pub content_type: String,
    /// The content's id.
    pub content: String,
    /// `public`, `circle:<id>`, `users:<n>` or `link`.
    pub audience: String,
    /// `active`, `expired`, `revoked`, …
    pub status: String,
    /// The payload hash sequence (what peers download).
    pub payload: Option<String>,
    /// Recipients with a key grant.
    pub recipients: Vec<String>,
    /// Recipients that acknowledged (mine).
    pub delivered: usize,
    /// Revision.
    pub revision: u32,
    /// Created (ms).
    pub created_at_ms: u64,
    /// Expires (ms).
    pub expires_at_ms: Option<u64>,
    /// The share link (link shares made here).
    pub link: Option<String>,
    /// Local state: `pending`, `opened`, `failed`, `sealed`, `pinned`.
    pub state: String,
    /// The conversation it opened as (received).
    pub conversation: Option<String>,
    /// Title, once known.
    pub title: Option<String>,
    /// Why opening failed.
    pub error: Option<String>,
}

/// One entry of the feed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedItem {
    /// Intent id (shares) or announcement id (publications).
    pub id: String,
    /// `shared` (with me) or `published` (by someone I follow).
    pub kind: String,
    /// Who.
    pub actor: String,
    /// Their profile name, when known.
    pub actor_name: Option<String>,
    /// Title, once known.
    pub title: Option<String>,
    /// The conversation (once opened, for shares).
    pub conversation: Option<String>,
    /// `pending`, `opened`, `failed`, `sealed`, `expired`, `revoked`, `published`.
    pub status: String,
    /// When it arrived here (ms).
    pub at_ms: u64,
    /// When it expires (ms).
    pub expires_at_ms: Option<u64>,
}

/// A page of the feed, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedPage {
    /// Items.
    pub items: Vec<FeedItem>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Who a new share is for.
#[derive(Debug, Clone)]
pub enum Target {
    /// Everyone (published on the network).
    Public,
    /// The members of a circle.
    Circle(String),
    /// These people.
    Users(Vec<Did>),
    /// Whoever holds the link.
    Link,
}

/// A share to make.
#[derive(Debug, Clone)]
pub struct ShareSpec {
    /// Conversation id (or prefix), or an ACU id.
    pub content: String,
    /// Who for.
    pub target: Target,
    /// How long it lasts (ms from now).
    pub expires_in_ms: Option<u64>,
    /// `Share` (default), `Publish` or `Embed`.
    pub kind: IntentKind,
    /// Seal and sign it, but deliver it only when activated.
    pub draft: bool,
}

/// What a fork made.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ForkOut {
    /// The new conversation.
    pub conversation: String,
    /// The original conversation.
    pub forked_from: String,
    /// ACUs copied.
    pub acus: usize,
    /// The fork intent's id.
    pub intent: String,
}

/// One ACU's provenance.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AcuProvenance {
    /// The fork's ACU.
    pub acu: String,
    /// Who signed it.
    pub signed_by: String,
    /// The original ACU it copies.
    pub original: String,
    /// The original's author.
    pub original_author: Option<String>,
    /// The original is held here, its signature verifies, and the content matches.
    pub verified: bool,
    /// Why not.
    pub problem: Option<String>,
}

/// Where a conversation came from.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Provenance {
    /// The conversation.
    pub conversation: String,
    /// Its owner.
    pub owner: String,
    /// The original conversation, if it is a fork.
    pub forked_from: Option<String>,
    /// The original's owner.
    pub original_owner: Option<String>,
    /// The copied ACUs.
    pub acus: Vec<AcuProvenance>,
    /// Every copied ACU verified against a held, validly signed original.
    pub verified: bool,
}

/// The node's share bookkeeping kept in memory: which blobs are served until when.
#[derive(Debug, Default)]
pub struct ShareState {
    /// Blob hash → served until (ms; `0` = never again, `u64::MAX` = no expiry).
    serving: RwLock<HashMap<[u8; 32], u64>>,
    /// (intent, recipient) → (failed deliveries, next attempt at ms).
    attempts: std::sync::Mutex<HashMap<(Hash, Did), (u32, u64)>>,
    /// Changes to my shares so far, and the count a scan that found nothing owed started at:
    /// redelivery does not scan the table while they are equal.
    changes: std::sync::atomic::AtomicU64,
    clean_at: std::sync::atomic::AtomicU64,
    /// Sender → (day, bytes of their shares downloaded that day).
    received: std::sync::Mutex<HashMap<Did, (u64, u64)>>,
}

impl ShareState {
    /// Where a redelivery scan starts, or `None` when nothing has changed since a scan found
    /// nothing owed.
    pub fn scan_from(&self) -> Option<u64> {
        use std::sync::atomic::Ordering::Acquire;
        let now = self.changes.load(Acquire);
        (now != self.clean_at.load(Acquire)).then_some(now)
    }

    /// Records that a scan started at `from` found nothing owed.
    pub fn scanned_clean(&self, from: u64) {
        self.clean_at
            .store(from, std::sync::atomic::Ordering::Release);
    }

    /// Records a change to one of my shares.
    pub fn changed(&self) {
        self.changes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Bytes of `from`'s shares downloaded today (UTC day of `now`).
    pub fn spent_today(&self, from: &Did, now: u64) -> u64 {
        let day = now / 86_400_000;
        self.received
            .lock()
            .ok()
            .and_then(|m| m.get(from).copied())
            .filter(|(d, _)| *d == day)
            .map(|(_, b)| b)
            .unwrap_or(0)
    }

    /// Counts `bytes` of `from`'s shares as downloaded now.
    pub fn spent(&self, from: &Did, bytes: u64, now: u64) {
        let day = now / 86_400_000;
        if let Ok(mut m) = self.received.lock() {
            if m.len() > 10_000 {
                m.retain(|_, (d, _)| *d == day);
            }
            let e = m.entry(*from).or_insert((day, 0));
            if e.0 != day {
                *e = (day, 0);
            }
            e.1 = e.1.saturating_add(bytes);
        }
    }

    /// Changes to shares so far (the blob server lists what it serves again when it moved).
    pub fn version(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether a delivery to `to` is due (failed ones back off: 5 s, 10 s, … up to 10 min).
    pub fn delivery_due(&self, intent: &Hash, to: &Did, now: u64) -> bool {
        self.attempts
            .lock()
            .map(|m| m.get(&(*intent, *to)).is_none_or(|(_, next)| now >= *next))
            .unwrap_or(true)
    }

    /// Records a delivery's outcome.
    pub fn delivered(&self, intent: &Hash, to: &Did, ok: bool, now: u64) {
        if let Ok(mut m) = self.attempts.lock() {
            if ok {
                m.remove(&(*intent, *to));
            } else {
                let e = m.entry((*intent, *to)).or_insert((0, 0));
                e.0 = e.0.saturating_add(1);
                e.1 = now + (2_500u64 << e.0.min(8)).min(600_000);
            }
        }
    }

    /// Whether this node still serves `hash` at `now` (blobs of ended shares are refused).
    pub fn may_serve(&self, hash: &[u8; 32], now: u64) -> bool {
        match self.serving.read() {
            Ok(m) => m.get(hash).is_none_or(|until| now < *until),
            Err(_) => true,
        }
    }

    pub(crate) fn set(&self, row: &ShareRow, i: &SharingIntent) {
        // Public payloads are the conversation's own blobs (shared with later versions).
        if matches!(i.audience, Audience::Public) {
            return;
        }
        let until = match i.status {
            IntentStatus::Revoked | IntentStatus::Expired => 0,
            _ => i.expires_at_ms.unwrap_or(u64::MAX),
        };
        if let Ok(mut m) = self.serving.write() {
            for h in i.payload.iter().chain(&row.items) {
                m.insert(h.0, until);
            }
        }
    }
}

/// Decrypts and checks a sealed package: bundles of signed records, the first the manifest,
/// the others ACUs of that conversation; with `expect`, the manifest must be that
/// conversation's.
pub fn unseal(
    key: &ContentKey,
    blobs: &[Vec<u8>],
    expect: Option<&ConvId>,
) -> Result<NewConversation, String> {
    let mut records = Vec::new();
    for b in blobs {
        let plain = key.open_blob(b).map_err(|e| e.to_string())?;
        records.extend(unpack_records(&plain).map_err(|e| e.to_string())?);
        if records.len() > vivim_protocol::limits::MAX_SEQ_ITEMS {
            return Err("more records than a conversation may have".into());
        }
    }
    let (first, rest) = records.split_first().ok_or("an empty package")?;
    let manifest = Signed::<Manifest>::decode(first).map_err(|e| format!("manifest: {e}"))?;
    let id = manifest.value().id;
    if expect.is_some_and(|e| *e != id) {
        return Err(format!(
            "the package holds conversation {id}, not the one shared"
        ));
    }
    // Checking signatures is most of the work: spread it over the cores.
    let check = |part: &[Vec<u8>]| -> Result<Vec<Signed<Acu>>, String> {
        part.iter()
            .map(|r| {
                let acu = Signed::<Acu>::decode(r).map_err(|e| format!("ACU: {e}"))?;
                if acu.value().conversation != id {
                    return Err(format!("ACU {} belongs to another conversation", acu.id()));
                }
                Ok(acu)
            })
            .collect()
    };
    let acus = on_all_cores(rest, 64, check)?;
    Ok(NewConversation { manifest, acus })
}

/// Seals signed records (manifest first) into a package: bundles of records, each sealed
/// under `key`, on all cores for large packages.
pub fn seal_records(key: &ContentKey, records: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let bundles = pack_records(records);
    let Ok(sealed) = on_all_cores::<_, _, std::convert::Infallible>(&bundles, 2, |part| {
        Ok(part.iter().map(|b| key.seal_blob(b)).collect())
    });
    sealed
}

/// Wraps `key` for every recipient, on all cores when there are many (each wrap is an X25519
/// agreement, ~40 µs).
pub fn wrap_for(key: &ContentKey, recipients: &[PublicKey]) -> Result<Vec<AccessGrant>, String> {
    on_all_cores(recipients, 32, |part| {
        wrap_key(key, part).map_err(|e| e.to_string())
    })
}

/// Runs `f` over `items` in order-keeping chunks, one per core (at most 8) when there are at
/// least `min` items, and concatenates the results; the first error wins. A panicking chunk
/// panics the caller (never a silently shorter result).
pub(crate) fn on_all_cores<T, R, E>(
    items: &[T],
    min: usize,
    f: impl Fn(&[T]) -> Result<Vec<R>, E> + Sync,
) -> Result<Vec<R>, E>
where
    T: Sync,
    R: Send,
    E: Send,
{
    if items.len() < min {
        return f(items);
    }
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let chunk = items.len().div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|s| {
        let parts: Vec<_> = items.chunks(chunk).map(|c| s.spawn(move || f(c))).collect();
        let mut out = Vec::with_capacity(items.len());
        for p in parts {
            match p.join() {
                Ok(r) => out.extend(r?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(out)
    })
}

pub(crate) fn audience_str(a: &Audience) -> String {
    match a {
        Audience::Public => "public".into(),
        Audience::Circle(c) => format!("circle:{c}"),
        Audience::Users(u) => format!("users:{}", u.len()),
        Audience::Link => "link".into(),
    }
}

pub(crate) fn content_type_str(c: ContentType) -> &'static str {
    match c {
        ContentType::Conversation => "conversation",
        ContentType::Acu => "acu",
        ContentType::Collection => "collection",
        ContentType::Memory => "memory",
    }
}

pub(crate) fn feed_key(at_ms: u64, id: &Hash) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..8].copy_from_slice(&at_ms.to_be_bytes());
    k[8..].copy_from_slice(&id.0);
    k
}
