//! Writing a conversation as it arrives (a fetch streaming in): batches of ACUs kept in
//! unlisted slots until the manifest commits them.

use super::*;

/// How many bytes of ACUs a [`StreamWriter`] gathers before writing them.
const STREAM_BATCH: usize = 4 * 1024 * 1024;

/// Writes a new conversation's verified ACUs while the rest are still arriving (a fetch), so
/// that storing overlaps the download instead of following it.
///
/// The bytes go into their slots in short non-durable transactions of about [`STREAM_BATCH`]
/// bytes, so the write lock is never held while waiting for the network; they are unreachable
/// until [`StreamWriter::finish`] writes the ACU locations, the time index and the row in one
/// transaction — readers see the whole conversation or none of it. While a writer lives
/// nothing else may write its conversation ([`Store::stage`] refuses it). Dropped unfinished
/// (a failed download, a bad signature), it removes what it wrote.
pub struct StreamWriter {
    pub(super) db: Arc<redb::Database>,
    pub(super) stats: Arc<StoreStats>,
    pub(super) streaming: Arc<Mutex<HashSet<ConvId>>>,
    pub(super) id: ConvId,
    pub(super) pending: Vec<AcuBytes>,
    pub(super) pending_bytes: usize,
    /// The ACUs in their slots so far: id and creation time, in slot order.
    pub(super) written: Vec<(Hash, u64)>,
    /// Whether a transaction of ours wrote (and so cleared) the slot range.
    pub(super) touched: bool,
    pub(super) done: bool,
}

impl std::fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWriter")
            .field("id", &self.id)
            .field("written", &self.written.len())
            .finish_non_exhaustive()
    }
}

impl StreamWriter {
    /// Adds the next ACU (verified, in sequence order); writes a batch when enough gathered.
    pub fn push(&mut self, acu: AcuBytes) -> Result<(), StoreError> {
        self.pending_bytes += acu.bytes.len();
        self.pending.push(acu);
        if self.pending_bytes >= STREAM_BATCH {
            let tx = self.begin()?;
            self.write_pending(&tx)?;
            tx.commit()?;
        }
        Ok(())
    }

    fn begin(&self) -> Result<redb::WriteTransaction, StoreError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(redb::Durability::None)
            .map_err(|e| StoreError::Db(e.to_string()))?;
        Ok(tx)
    }

    fn write_pending(&mut self, tx: &redb::WriteTransaction) -> Result<(), StoreError> {
        let mut t = tx.open_table(CONV_ACUS)?;
        if !self.touched {
            // Another writer may have stored the conversation after `stream_new` looked (its
            // transaction was running then): its slots are not ours to clear.
            if tx.open_table(CONV)?.get(&self.id.0.0[..])?.is_some() {
                return Err(StoreError::Invalid(format!(
                    "conversation {} was stored while it was fetched",
                    self.id
                )));
            }
            // Marked in the same transaction as the first slots, so a crash before `finish`
            // is cleaned up at the next open.
            tx.open_table(STREAMING)?.insert(&self.id.0.0[..], ())?;
            clear_slots(&mut t, &self.id)?;
            self.touched = true;
        }
        for a in self.pending.drain(..) {
            let slot = conv_acu_key(&self.id, self.written.len() as u32);
            insert_pieces(&mut t, &slot, &a.bytes)?;
            self.written.push((a.id, a.created_at_ms));
        }
        self.pending_bytes = 0;
        Ok(())
    }

    /// Writes what is left, the ACUs' locations and time entries and the conversation's row,
    /// in one transaction: the conversation becomes visible whole (atomic, not fsynced, as
    /// [`Store::put_fetched`]).
    pub fn finish(mut self, manifest: &Signed<Manifest>) -> Result<PutOutcome, StoreError> {
        let m = manifest.value();
        if m.id != self.id {
            return Err(StoreError::Invalid(format!(
                "manifest of {} given for conversation {}",
                m.id, self.id
            )));
        }
        let tx = self.begin()?;
        self.write_pending(&tx)?;
        let ids: Vec<Hash> = self.written.iter().map(|(h, _)| *h).collect();
        let row = row_for(manifest, &ids);
        {
            let mut conv = tx.open_table(CONV)?;
            if conv.get(&self.id.0.0[..])?.is_some() {
                return Err(StoreError::Invalid(format!(
                    "conversation {} was stored while it was fetched",
                    self.id
                )));
            }
            let mut acu_loc = tx.open_table(ACU_LOC)?;
            let mut acu_time = tx.open_table(ACU_TIME)?;
            for (i, (h, created)) in self.written.iter().enumerate() {
                acu_loc.insert(&h.0[..], &conv_acu_key(&self.id, i as u32)[..])?;
                acu_time.insert(&acu_time_key(*created, h)[..], &self.id.0.0[..])?;
            }
            tx.open_table(CONV_TIME)?
                .insert(&conv_time_key(m.updated_at_ms, &self.id)[..], ())?;
            conv.insert(&self.id.0.0[..], encode_row(&row)?.as_slice())?;
            tx.open_table(STREAMING)?.remove(&self.id.0.0[..])?;
        }
        tx.commit()?;
        self.done = true;
        self.stats
            .acus_written
            .fetch_add(self.written.len() as u64, Ordering::Relaxed);
        self.stats
            .conversations_written
            .fetch_add(1, Ordering::Relaxed);
        Ok(PutOutcome::Added)
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        if !self.done && self.touched {
            let cleared = self.begin().and_then(|tx| {
                // Only what no row names: a conversation stored meanwhile keeps its slots.
                if tx.open_table(CONV)?.get(&self.id.0.0[..])?.is_none() {
                    clear_slots(&mut tx.open_table(CONV_ACUS)?, &self.id)?;
                }
                tx.open_table(STREAMING)?.remove(&self.id.0.0[..])?;
                tx.commit()?;
                Ok(())
            });
            if let Err(e) = cleared {
                tracing::warn!("removing the partly fetched {}: {e}", self.id);
            }
        }
        lock(&self.streaming).remove(&self.id);
    }
}
