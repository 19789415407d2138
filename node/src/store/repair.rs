//! One-time repairs of what earlier versions could leave behind, run when a data dir opens.
//!
//! Before writers were serialized (see [`super::AppendBatch`]), two writers of one
//! conversation could both plan against the same stored version: the time index kept an entry
//! per replaced version (the listing showed the conversation several times), and the ACU that
//! the last writer overwrote kept its location and time entries (it counted, yet answered 404;
//! its bytes are gone). [`repair`] removes those entries once and records that it did.

use redb::ReadableTable;
use vivim_protocol::Hash;

use super::{
    ACU_LOC, ACU_TIME, CONV, CONV_ACUS, CONV_TIME, META, StoreError, decode_row, hash_from,
    join_piece, piece_key,
};

/// The repairs this binary knows; stored under `repair` in `meta` once they ran.
const REPAIRED: u32 = 1;

/// What a repair removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Repaired {
    /// Time-index entries of replaced versions (duplicate listings).
    pub stale_listings: u64,
    /// Locations and time entries of ACUs whose bytes another write replaced.
    pub lost_acus: u64,
}

/// Runs the repairs a data dir has not had yet, inside `tx`.
pub(super) fn repair(tx: &redb::WriteTransaction) -> Result<Option<Repaired>, StoreError> {
    let mut meta = tx.open_table(META)?;
    if meta.get("repair")?.is_some_and(|v| v.value() >= REPAIRED) {
        return Ok(None);
    }
    let mut out = Repaired::default();
    {
        let conv = tx.open_table(CONV)?;
        let mut conv_time = tx.open_table(CONV_TIME)?;
        let mut stale = Vec::new();
        for item in conv_time.iter()? {
            let (k, _) = item?;
            let key = k.value();
            let keep = key.len() == 40
                && match conv.get(&key[8..])? {
                    Some(v) => {
                        let at = u64::from_be_bytes(key[..8].try_into().unwrap_or_default());
                        decode_row(v.value())?.manifest.updated_at_ms == at
                    }
                    None => false,
                };
            if !keep {
                stale.push(key.to_vec());
            }
        }
        for k in &stale {
            conv_time.remove(k.as_slice())?;
        }
        out.stale_listings = stale.len() as u64;
    }
    {
        let conv_acus = tx.open_table(CONV_ACUS)?;
        let mut acu_loc = tx.open_table(ACU_LOC)?;
        let mut acu_time = tx.open_table(ACU_TIME)?;
        let mut lost = Vec::new();
        for item in acu_time.iter()? {
            let (k, _) = item?;
            let key = k.value();
            let Ok(id) = hash_from(key.get(8..).unwrap_or_default(), "acu_time") else {
                lost.push((key.to_vec(), None));
                continue;
            };
            if !located(&conv_acus, &acu_loc, &id)? {
                lost.push((key.to_vec(), Some(id)));
            }
        }
        for (k, id) in &lost {
            acu_time.remove(k.as_slice())?;
            if let Some(id) = id
                && !located(&conv_acus, &acu_loc, id)?
            {
                acu_loc.remove(&id.0[..])?;
            }
        }
        out.lost_acus = lost.len() as u64;
    }
    meta.insert("repair", REPAIRED)?;
    Ok(Some(out))
}

/// Whether `id`'s location holds bytes that hash to it.
fn located(
    conv_acus: &impl ReadableTable<&'static [u8], &'static [u8]>,
    acu_loc: &impl ReadableTable<&'static [u8], &'static [u8]>,
    id: &Hash,
) -> Result<bool, StoreError> {
    let Some(slot) = acu_loc.get(&id.0[..])? else {
        return Ok(false);
    };
    let Ok(slot) = <[u8; 36]>::try_from(slot.value()) else {
        return Ok(false);
    };
    let last = piece_key(&slot, usize::from(u8::MAX))?;
    let mut found = Vec::new();
    for item in conv_acus.range::<&[u8]>(&slot[..]..=&last[..])? {
        let (k, v) = item?;
        join_piece(&mut found, k.value(), v.value())?;
    }
    Ok(found.len() == 1 && found.first().is_some_and(|(_, b)| Hash::of(b) == *id))
}
