//! `Store::walk`: every stored conversation read back from one snapshot and checked as a fetch
//! would check it — each ACU's bytes against the id its location names (BLAKE3), its signature,
//! its conversation; the manifest's signature and id; the row's count against the slots.

use redb::{ReadableDatabase, ReadableTable};
use vivim_protocol::{Acu, ConvId, Hash, Manifest, Signed};

use super::{ACU_LOC, CONV, CONV_ACUS, ConvRow, Store, StoreError, join_piece, slot_range};

/// Something wrong in the stored records, named as precisely as the store can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// `bytes_mismatch`, `bad_record`, `wrong_conversation`, `unlocated`, `bad_manifest`,
    /// `count_mismatch`, `unreadable_row`.
    pub kind: &'static str,
    /// The conversation it is in.
    pub conversation: Option<ConvId>,
    /// The record (ACU id) it concerns.
    pub record: Option<Hash>,
    /// What was found.
    pub detail: String,
}

/// Totals of a walk.
#[derive(Debug, Clone, Default)]
pub struct Walked {
    /// Conversations read.
    pub conversations: u64,
    /// ACUs read and verified.
    pub acus: u64,
    /// Bytes of ACUs read.
    pub bytes: u64,
}

impl Store {
    /// Reads every conversation from one snapshot, verifies it, and hands `each` its row and
    /// the ACUs that verified; `damage` gets everything that did not.
    pub fn walk(
        &self,
        each: &mut dyn FnMut(&ConvRow, &[Signed<Acu>]),
        damage: &mut dyn FnMut(Damage),
    ) -> Result<Walked, StoreError> {
        let tx = self.db.begin_read()?;
        // Which ACU each slot holds, by the locations table (the index a fetch goes through).
        let mut located = std::collections::HashMap::new();
        for item in tx.open_table(ACU_LOC)?.iter()? {
            let (k, v) = item?;
            if let (Ok(id), Ok(slot)) = (
                <[u8; 32]>::try_from(k.value()),
                <[u8; 36]>::try_from(v.value()),
            ) {
                located.insert(slot, Hash(id));
            }
        }
        let conv = tx.open_table(CONV)?;
        let acus = tx.open_table(CONV_ACUS)?;
        let mut walked = Walked::default();
        for item in conv.iter()? {
            let (k, v) = item?;
            let id = <[u8; 32]>::try_from(k.value())
                .ok()
                .map(|b| ConvId(Hash(b)));
            let row: ConvRow = match ciborium::from_reader(v.value()) {
                Ok(r) => r,
                Err(e) => {
                    damage(Damage {
                        kind: "unreadable_row",
                        conversation: id,
                        record: None,
                        detail: e.to_string(),
                    });
                    continue;
                }
            };
            let cid = row.manifest.id;
            walked.conversations += 1;
            match Store::manifest_bytes(&row).map(|b| Signed::<Manifest>::decode(&b)) {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => damage(Damage {
                    kind: "bad_manifest",
                    conversation: Some(cid),
                    record: Some(row.manifest_id),
                    detail: e.to_string(),
                }),
                Err(e) => damage(Damage {
                    kind: "bad_manifest",
                    conversation: Some(cid),
                    record: Some(row.manifest_id),
                    detail: e.to_string(),
                }),
            }
            let (lo, hi) = slot_range(&cid);
            let mut slots = Vec::new();
            for item in acus.range::<&[u8]>(&lo[..]..=&hi[..])? {
                let (k, v) = item?;
                join_piece(&mut slots, k.value(), v.value())?;
            }
            if slots.len() != row.acu_count as usize {
                damage(Damage {
                    kind: "count_mismatch",
                    conversation: Some(cid),
                    record: None,
                    detail: format!(
                        "the row counts {} ACUs, {} are stored",
                        row.acu_count,
                        slots.len()
                    ),
                });
            }
            let mut good = Vec::with_capacity(slots.len());
            for (slot, bytes) in slots {
                walked.acus += 1;
                walked.bytes += bytes.len() as u64;
                let actual = Hash::of(&bytes);
                let Some(named) = located.get(&slot).copied() else {
                    damage(Damage {
                        kind: "unlocated",
                        conversation: Some(cid),
                        record: Some(actual),
                        detail: "no location names this ACU".into(),
                    });
                    continue;
                };
                if named != actual {
                    damage(Damage {
                        kind: "bytes_mismatch",
                        conversation: Some(cid),
                        record: Some(named),
                        detail: format!("the stored bytes hash to {actual}"),
                    });
                    continue;
                }
                match Signed::<Acu>::decode(&bytes) {
                    Ok(a) if a.value().conversation == cid => good.push(a),
                    Ok(a) => damage(Damage {
                        kind: "wrong_conversation",
                        conversation: Some(cid),
                        record: Some(named),
                        detail: format!("the ACU names conversation {}", a.value().conversation),
                    }),
                    Err(e) => damage(Damage {
                        kind: "bad_record",
                        conversation: Some(cid),
                        record: Some(named),
                        detail: e.to_string(),
                    }),
                }
            }
            each(&row, &good);
        }
        Ok(walked)
    }
}
