//! The one ownership rule both centrals apply to what a site pushes (DESIGN.md, "Trust rules →
//! Ownership"): a site's credentials may create, change or delete only rows whose store is
//! active on that site, before *and* after the change. Central data (a table that is central by
//! nature, or any row of no store) is read-only to sites, and a row never moves between a store
//! and no store, or into another site's store.
//!
//! Both centrals ask [`decide`] twice for every pushed record: when the push is buffered (the
//! whole batch is refused with a named error, so the site learns at once) and again inside the
//! integration transaction, against the rows as they are then (a refused record is skipped and
//! logged, the rest of the buffer applies). The second check is what makes the first one safe:
//! between buffering and integration another site may create the row a buffered delete names.

use std::fmt;

/// The protocol a record was pushed through; each has its own allow-list of tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    V5,
    V6,
}

/// What a pushed record asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Upsert,
    Delete,
}

/// The tables a site may write through the V5 central: its stores' locations, stock, invoices
/// and invoice lines (what the site's push step sends there). Everything else the V5 central
/// holds (unit, item, name, store, name_store_join, master lists, ...) is authored centrally.
pub const V5_SITE_TABLES: [&str; 4] = ["Location", "item_line", "transact", "trans_line"];

/// The tables a site may write through the V6 central (what the site's V6 push step sends).
pub const V6_SITE_TABLES: [&str; 1] = ["asset"];

/// Whether a site may write `table` at all through `protocol`.
pub fn site_writable(protocol: Protocol, table: &str) -> bool {
    match protocol {
        Protocol::V5 => V5_SITE_TABLES.contains(&table),
        Protocol::V6 => V6_SITE_TABLES.contains(&table),
    }
}

/// Why a pushed record is refused; its text is what the site is told (after the record's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The table is central data by nature, or unknown: no site writes it.
    CentralTable,
    /// The row exists with no store: it is the central's own.
    CentralRow,
    /// An upsert without a store would create or turn the row into central data.
    NoStore,
    /// The row as stored belongs to a store that is not active on the pushing site.
    StoredInOtherStore(String),
    /// The row as pushed names a store that is not active on the pushing site.
    NewStoreNotActive(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::CentralTable => write!(f, "this table is central data; sites may not write it"),
            Refusal::CentralRow => {
                write!(f, "the row belongs to the central (it has no store); sites may not change it")
            }
            Refusal::NoStore => write!(f, "the record names no store; a site may only write rows of its own stores"),
            Refusal::StoredInOtherStore(s) => {
                write!(f, "the row belongs to store {s}, which is not active on this site")
            }
            Refusal::NewStoreNotActive(s) => write!(f, "store {s} is not active on this site"),
        }
    }
}

/// Allowed, or refused with the reason. `stored` is the row as the central has it now (`None`:
/// no such row; `Some(None)`: a row of no store); `new_store` is the store the pushed record
/// names (ignored for a delete).
pub fn decide(
    site_stores: &[String],
    protocol: Protocol,
    table: &str,
    change: Change,
    stored: Option<Option<&str>>,
    new_store: Option<&str>,
) -> Result<(), Refusal> {
    if !site_writable(protocol, table) {
        return Err(Refusal::CentralTable);
    }
    let active = |s: &str| site_stores.iter().any(|own| own == s);
    match stored {
        Some(None) => return Err(Refusal::CentralRow),
        Some(Some(s)) if !active(s) => return Err(Refusal::StoredInOtherStore(s.to_owned())),
        _ => {}
    }
    if change == Change::Delete {
        // A delete of an id the central does not have is harmless now; integration asks again.
        return Ok(());
    }
    match new_store {
        None => Err(Refusal::NoStore),
        Some(s) if !active(s) => Err(Refusal::NewStoreNotActive(s.to_owned())),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_as_a_table() {
        use Change::*;
        use Protocol::*;
        let own = vec!["a1".to_string(), "a2".to_string()];
        /// protocol, table, change, stored row's store, pushed store, expected.
        type Case<'a> = (Protocol, &'a str, Change, Option<Option<&'a str>>, Option<&'a str>, Result<(), Refusal>);
        let cases: &[Case] = &[
            (V5, "Location", Upsert, None, Some("a1"), Ok(())),
            (V5, "Location", Upsert, Some(Some("a1")), Some("a1"), Ok(())),
            (V5, "Location", Upsert, Some(Some("a1")), Some("a2"), Ok(())),
            (V5, "Location", Delete, Some(Some("a1")), None, Ok(())),
            (V5, "Location", Delete, None, None, Ok(())),
            (V5, "Location", Upsert, None, Some("b"), Err(Refusal::NewStoreNotActive("b".into()))),
            (V5, "Location", Upsert, Some(Some("a1")), Some("b"), Err(Refusal::NewStoreNotActive("b".into()))),
            (V5, "Location", Upsert, Some(Some("b")), Some("a1"), Err(Refusal::StoredInOtherStore("b".into()))),
            (V5, "Location", Delete, Some(Some("b")), None, Err(Refusal::StoredInOtherStore("b".into()))),
            (V5, "Location", Upsert, None, None, Err(Refusal::NoStore)),
            (V5, "Location", Upsert, Some(Some("a1")), None, Err(Refusal::NoStore)),
            (V5, "Location", Upsert, Some(None), Some("a1"), Err(Refusal::CentralRow)),
            (V5, "Location", Delete, Some(None), None, Err(Refusal::CentralRow)),
            (V5, "item", Upsert, Some(None), None, Err(Refusal::CentralTable)),
            (V5, "unit", Delete, Some(None), None, Err(Refusal::CentralTable)),
            (V5, "store", Upsert, Some(None), Some("a1"), Err(Refusal::CentralTable)),
            (V5, "name_store_join", Upsert, None, Some("a1"), Err(Refusal::CentralTable)),
            (V5, "asset", Upsert, None, Some("a1"), Err(Refusal::CentralTable)),
            (V6, "asset", Upsert, None, Some("a1"), Ok(())),
            (V6, "asset", Upsert, Some(None), Some("a1"), Err(Refusal::CentralRow)),
            (V6, "Location", Upsert, None, Some("a1"), Err(Refusal::CentralTable)),
            (V6, "asset_class", Upsert, None, None, Err(Refusal::CentralTable)),
        ];
        for (protocol, table, change, stored, new, expected) in cases {
            assert_eq!(
                &decide(&own, *protocol, table, *change, *stored, *new),
                expected,
                "{protocol:?} {table} {change:?} stored {stored:?} new {new:?}"
            );
        }
    }
}
