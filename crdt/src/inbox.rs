//! Applying a writer's numbered updates in order.
//!
//! yrs (like Yjs) can end a `Y.Map` on a different value when updates whose origins depend on
//! each other arrive out of order (y-crdt/y-crdt#413, yjs/yjs#591, #674 — reproduced here by
//! the convergence property test before this inbox existed). The writer numbers its updates
//! 1, 2, 3…; a replica applies them in that order, holds the ones that arrive early, and the
//! node fetches the gap. A full state (numbered with the last update it covers) jumps ahead.

use std::collections::BTreeMap;

use crate::{CrdtError, Replica};

/// Most updates held while waiting for a gap to fill.
pub const MAX_HELD: usize = 100_000;
/// Most bytes of updates held per document (a writer cannot make a reader hold gigabytes of
/// updates it cannot apply yet).
pub const MAX_HELD_BYTES: usize = 32 * 1024 * 1024;
/// How far ahead of the applied update a held one may be; further is refused (the node fetches
/// in order once the gap closes).
pub const MAX_AHEAD: u64 = 65_536;

/// What [`Inbox::offer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    /// Already applied (a duplicate).
    Old,
    /// Held: an earlier update is missing.
    Held,
    /// Applied, with this many held updates after it.
    Applied(usize),
}

/// The in-order apply state of one replica: the next update number it needs and the ones that
/// came early.
#[derive(Debug, Default, Clone)]
pub struct Inbox {
    applied: u64,
    held: BTreeMap<u64, Vec<u8>>,
    held_bytes: usize,
}

impl Inbox {
    /// An inbox that has applied everything up to `applied`.
    pub fn new(applied: u64) -> Inbox {
        Inbox {
            applied,
            held: BTreeMap::new(),
            held_bytes: 0,
        }
    }

    /// The last update number applied.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Whether updates wait for an earlier one (the node should fetch from `applied() + 1`).
    pub fn has_gap(&self) -> bool {
        !self.held.is_empty()
    }

    /// The highest update number seen (applied or held).
    pub fn highest(&self) -> u64 {
        self.held
            .keys()
            .next_back()
            .copied()
            .unwrap_or(self.applied)
            .max(self.applied)
    }

    /// Offers update number `seq` to `replica`.
    pub fn offer(
        &mut self,
        replica: &Replica,
        seq: u64,
        update: &[u8],
    ) -> Result<Offered, CrdtError> {
        if seq <= self.applied {
            return Ok(Offered::Old);
        }
        if seq > self.applied + 1 {
            if self.held.contains_key(&seq) {
                return Ok(Offered::Held);
            }
            if seq - self.applied > MAX_AHEAD {
                return Err(CrdtError::Value(format!(
                    "update {seq} is more than {MAX_AHEAD} ahead of {}",
                    self.applied
                )));
            }
            if self.held.len() >= MAX_HELD || self.held_bytes + update.len() > MAX_HELD_BYTES {
                return Err(CrdtError::Value(format!(
                    "more than {MAX_HELD} updates or {MAX_HELD_BYTES} bytes waiting"
                )));
            }
            self.held_bytes += update.len();
            self.held.insert(seq, update.to_vec());
            return Ok(Offered::Held);
        }
        replica.apply(update)?;
        self.applied = seq;
        Ok(Offered::Applied(self.drain(replica)?))
    }

    /// Applies a full state that covers every update up to `seq`.
    pub fn offer_state(
        &mut self,
        replica: &Replica,
        seq: u64,
        state: &[u8],
    ) -> Result<Offered, CrdtError> {
        if seq <= self.applied {
            return Ok(Offered::Old);
        }
        replica.apply(state)?;
        self.applied = seq;
        self.held = self.held.split_off(&(seq + 1));
        self.held_bytes = self.held.values().map(Vec::len).sum();
        Ok(Offered::Applied(self.drain(replica)?))
    }

    fn drain(&mut self, replica: &Replica) -> Result<usize, CrdtError> {
        let mut n = 0;
        while let Some(update) = self.held.remove(&(self.applied + 1)) {
            self.held_bytes -= update.len();
            replica.apply(&update)?;
            self.applied += 1;
            n += 1;
        }
        Ok(n)
    }
}
