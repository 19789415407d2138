//! Appending single ACUs to stored conversations, many appends to one durable write
//! transaction (group commit). Captures go through here: an append writes one slot, its
//! location and time entries, and the conversation's row — its cost does not grow with the
//! conversation, and the transaction's fsync is shared by every append in the batch.
//!
//! Reads through an [`AppendBatch`] see the batch's own writes and nothing can change the
//! store under it: redb runs one write transaction at a time, so a batch is serialized with
//! every other writer (imports, fetches, other batches) — the read-modify-write of a
//! conversation cannot lose a concurrent writer's ACUs.

use std::collections::{HashMap, HashSet};

use redb::ReadableTable;
use vivim_protocol::{Acu, ConvId, Hash, Manifest, Signed};

use super::{
    ACU_LOC, ACU_TIME, AcuBytes, CONV, CONV_ACUS, CONV_TIME, ConvRow, Store, StoreError,
    acu_time_key, being_fetched, conv_acu_key, conv_time_key, encode_row, insert_pieces,
    join_piece, read_row, row_for, slot_range,
};
use crate::lock;

/// A slot key and the whole ACU stored there.
type Slot = ([u8; 36], Vec<u8>);

/// Appends in one write transaction; [`AppendBatch::commit`] makes them durable together.
/// Dropped uncommitted, none of them is written.
pub struct AppendBatch<'s> {
    store: &'s Store,
    tx: redb::WriteTransaction,
    /// ACU ids of the conversations this batch read or wrote, in slot order.
    ids: HashMap<ConvId, Vec<Hash>>,
    conversations: HashSet<ConvId>,
    acus: u64,
}

impl std::fmt::Debug for AppendBatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppendBatch")
            .field("acus", &self.acus)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Starts a batch of appends: a write transaction (other writers wait until it commits or
    /// is dropped). Run it off the async threads.
    pub fn append_batch(&self) -> Result<AppendBatch<'_>, StoreError> {
        Ok(AppendBatch {
            store: self,
            tx: self.db.begin_write()?,
            ids: HashMap::new(),
            conversations: HashSet::new(),
            acus: 0,
        })
    }
}

impl AppendBatch<'_> {
    /// The stored row of a conversation, as this batch left it.
    pub fn row(&self, id: &ConvId) -> Result<Option<ConvRow>, StoreError> {
        read_row(&self.tx.open_table(CONV)?, id)
    }

    /// Whether ACU `acu` is stored in conversation `conv`.
    pub fn holds(&self, conv: &ConvId, acu: &Hash) -> Result<bool, StoreError> {
        let loc = self.tx.open_table(ACU_LOC)?;
        Ok(loc
            .get(&acu.0[..])?
            .is_some_and(|slot| slot.value().starts_with(&conv.0.0)))
    }

    /// Every ACU of a conversation, verified, in stored order (for the rare append that does
    /// not continue the head).
    pub fn acus(&self, id: &ConvId) -> Result<Vec<Signed<Acu>>, StoreError> {
        self.slots(id)?
            .into_iter()
            .map(|(_, bytes)| {
                Signed::<Acu>::decode_vec(bytes).map_err(|e| StoreError::Corrupt {
                    tree: "conv_acus",
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    fn slots(&self, id: &ConvId) -> Result<Vec<Slot>, StoreError> {
        let t = self.tx.open_table(CONV_ACUS)?;
        let (lo, hi) = slot_range(id);
        let mut out = Vec::new();
        for item in t.range::<&[u8]>(&lo[..]..=&hi[..])? {
            let (k, v) = item?;
            join_piece(&mut out, k.value(), v.value())?;
        }
        Ok(out)
    }

    /// Appends one verified ACU (signed by the conversation's owner, its parent already
    /// stored) as the conversation's last slot, with the new signed `manifest`; creates the
    /// conversation if it is new. Returns the new row. An ACU the conversation holds already
    /// is not written twice.
    pub fn append(
        &mut self,
        manifest: &Signed<Manifest>,
        acu: AcuBytes,
    ) -> Result<ConvRow, StoreError> {
        let m: &Manifest = manifest.value();
        let id = m.id;
        if lock(&self.store.streaming).contains(&id) {
            return Err(being_fetched(&id));
        }
        let old = self.row(&id)?;
        if let Some(o) = &old
            && o.manifest.owner != m.owner
        {
            return Err(StoreError::Invalid(format!(
                "conversation {id} belongs to {}; a version signed by {} cannot replace it",
                o.manifest.owner, m.owner
            )));
        }
        if !self.ids.contains_key(&id) {
            let ids = if old.is_some() {
                self.slots(&id)?
                    .iter()
                    .map(|(_, bytes)| Hash::of(bytes))
                    .collect()
            } else {
                Vec::new()
            };
            self.ids.insert(id, ids);
        }
        let ids = self.ids.entry(id).or_default();
        let fresh = !ids.contains(&acu.id);
        if fresh {
            let slot = conv_acu_key(&id, ids.len() as u32);
            insert_pieces(&mut self.tx.open_table(CONV_ACUS)?, &slot, &acu.bytes)?;
            self.tx
                .open_table(ACU_LOC)?
                .insert(&acu.id.0[..], &slot[..])?;
            self.tx
                .open_table(ACU_TIME)?
                .insert(&acu_time_key(acu.created_at_ms, &acu.id)[..], &id.0.0[..])?;
            ids.push(acu.id);
            self.acus += 1;
        }
        let row = row_for(manifest, ids);
        let mut conv_time = self.tx.open_table(CONV_TIME)?;
        if let Some(o) = &old {
            conv_time.remove(&conv_time_key(o.manifest.updated_at_ms, &id)[..])?;
        }
        conv_time.insert(&conv_time_key(m.updated_at_ms, &id)[..], ())?;
        self.tx
            .open_table(CONV)?
            .insert(&id.0.0[..], encode_row(&row)?.as_slice())?;
        self.conversations.insert(id);
        Ok(row)
    }

    /// Commits every append of the batch durably (one fsync for all of them).
    pub fn commit(self) -> Result<(), StoreError> {
        self.tx.commit()?;
        let stats = &self.store.stats;
        stats
            .acus_written
            .fetch_add(self.acus, std::sync::atomic::Ordering::Relaxed);
        stats.conversations_written.fetch_add(
            self.conversations.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(())
    }
}
