//! Every redb table the node keeps, read and written as raw rows: what a backup copies and a
//! restore writes back. A table is listed here once; a new table missing from these lists is
//! missing from every backup (`tests/backup.rs` compares them with the database's own list).

use redb::{ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use crate::store::StoreError;

/// Receives one row's key and value bytes.
pub(crate) type RowSink<'a, E> = &'a mut dyn FnMut(&[u8], &[u8]) -> Result<(), E>;

/// A table's rows as raw bytes, whatever its key and value types.
pub(crate) trait RawTable: Sync {
    /// The table's name in its database.
    fn table_name(&self) -> &'static str;
    /// Calls `row` with every row's key and value bytes, in key order. A table that was never
    /// created has no rows.
    fn each_row(
        &self,
        tx: &ReadTransaction,
        row: RowSink<'_, StoreError>,
    ) -> Result<u64, StoreError>;
    /// Inserts rows given as raw bytes. With `keep_existing`, a key already present keeps its
    /// value. Returns how many rows were written.
    fn insert_rows(
        &self,
        tx: &redb::WriteTransaction,
        rows: &mut dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>>,
        keep_existing: bool,
    ) -> Result<u64, StoreError>;
}

impl<K: redb::Key + Sync + 'static, V: redb::Value + Sync + 'static> RawTable
    for TableDefinition<'static, K, V>
{
    fn table_name(&self) -> &'static str {
        // `TableDefinition::new` takes a `&'static str`; `name()` borrows it from `self`.
        static_name(self.name())
    }

    fn each_row(
        &self,
        tx: &ReadTransaction,
        row: RowSink<'_, StoreError>,
    ) -> Result<u64, StoreError> {
        let table = match tx.open_table(*self) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let mut n = 0;
        for item in table.iter()? {
            let (k, v) = item?;
            row(
                K::as_bytes(&k.value()).as_ref(),
                V::as_bytes(&v.value()).as_ref(),
            )?;
            n += 1;
        }
        Ok(n)
    }

    fn insert_rows(
        &self,
        tx: &redb::WriteTransaction,
        rows: &mut dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>>,
        keep_existing: bool,
    ) -> Result<u64, StoreError> {
        let mut table = tx.open_table(*self)?;
        let mut n = 0;
        for item in rows {
            let (k, v) = item?;
            let key = K::from_bytes(&k);
            if keep_existing && table.get(&key)?.is_some() {
                continue;
            }
            table.insert(&key, V::from_bytes(&v))?;
            n += 1;
        }
        Ok(n)
    }
}

/// The names of the tables below are string literals; this finds the literal again so the
/// trait can hand out `&'static str` without leaking.
fn static_name(name: &str) -> &'static str {
    ALL_NAMES
        .iter()
        .copied()
        .find(|n| *n == name)
        .unwrap_or("unknown")
}

const ALL_NAMES: &[&str] = &[
    "meta",
    "conv",
    "conv_time",
    "conv_acus",
    "acu_loc",
    "acu_time",
    "imports",
    "streaming",
    "doc_state",
    "doc_log",
    "doc_full",
    "shares",
    "feed",
    "memory_records",
    "memory_local",
    "memory_extracted",
];

/// The tables of `db/vivim.redb`: records, documents, shares.
pub(crate) fn records() -> [&'static dyn RawTable; 13] {
    use crate::store::*;
    [
        &META,
        &CONV,
        &CONV_TIME,
        &CONV_ACUS,
        &ACU_LOC,
        &ACU_TIME,
        &IMPORTS,
        &STREAMING,
        &docs::DOC_STATE,
        &docs::DOC_LOG,
        &docs::DOC_FULL,
        &crate::share::service::SHARES,
        &crate::share::service::FEED,
    ]
}

/// The tables of `db/memory.redb`.
pub(crate) fn memories() -> [&'static dyn RawTable; 3] {
    use crate::organize::memory::*;
    [&RECORDS, &LOCAL, &EXTRACTED]
}

/// Names of the tables a database holds that the lists above do not know.
pub(crate) fn unknown_tables(
    db: &redb::Database,
    known: &[&'static dyn RawTable],
) -> Result<Vec<String>, StoreError> {
    let tx = db.begin_read()?;
    Ok(tx
        .list_tables()?
        .map(|t| t.name().to_string())
        .filter(|n| !known.iter().any(|k| k.table_name() == n))
        .collect())
}
