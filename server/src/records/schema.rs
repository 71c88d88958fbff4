//! Which wire fields each table models as columns, and the SQL built from that list.
//!
//! One declarative list per table keeps the V5/V6 translators generic: parsing, rendering,
//! the unmodelled-field bag and the statements all follow from it, so adding a column is one
//! line here plus one in the migration. The SQL strings are built once and reused for every
//! record, so sqlx's statement cache sees identical strings and never re-parses them.

use std::fmt::Write;
use std::sync::OnceLock;

use super::Table;

/// How a wire value is stored, and what a NULL column is sent back as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A string (or null) kept as is.
    Text,
    Bool,
    /// A whole number (V5 counters, numbers, site ids).
    Int,
    /// A quantity or price.
    Real,
    /// A V5 date; the legacy "no date" `0000-00-00` (or an empty string) is stored as NULL.
    Date,
    /// The id of a row of `parent`. Empty means none. A required parent that is missing is a
    /// per-record error; an optional one that points nowhere is stored as NULL.
    Ref {
        parent: Table,
        required: bool,
    },
}

/// One modelled field: its key on the wire and its column on the site.
#[derive(Debug)]
pub(super) struct Field {
    pub key: &'static str,
    pub column: &'static str,
    pub kind: Kind,
}

/// Where a row's owning store (the changelog's `store_id`) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StoreOf {
    /// Central data that belongs to no store.
    Nothing,
    /// The row's own `store_id` field.
    Column,
    /// The row is a store.
    Itself,
    /// The store of the row's parent, its first required `Ref` field (an invoice line belongs
    /// to its invoice's store); copied into a `store_id` column that has no wire field.
    Parent,
}

#[derive(Debug)]
pub(super) struct Spec {
    pub table: Table,
    /// The id field on the wire: `ID` in V5 records, `id` in V6 rows.
    pub id_key: &'static str,
    /// The JSON column that keeps every field we do not model.
    pub extra_column: &'static str,
    pub fields: &'static [Field],
    pub store: StoreOf,
    select: OnceLock<String>,
}

const fn f(key: &'static str, column: &'static str, kind: Kind) -> Field {
    Field { key, column, kind }
}

const fn req(parent: Table) -> Kind {
    Kind::Ref { parent, required: true }
}

const fn opt(parent: Table) -> Kind {
    Kind::Ref { parent, required: false }
}

const fn spec(
    table: Table,
    id_key: &'static str,
    extra_column: &'static str,
    store: StoreOf,
    fields: &'static [Field],
) -> Spec {
    Spec { table, id_key, extra_column, fields, store, select: OnceLock::new() }
}

use Kind::{Bool, Date, Int, Real, Text};

static UNIT: Spec = spec(
    Table::Unit,
    "ID",
    "legacy_extra",
    StoreOf::Nothing,
    &[f("units", "name", Text), f("comment", "comment", Text), f("order_number", "order_number", Int)],
);

static ITEM: Spec = spec(
    Table::Item,
    "ID",
    "legacy_extra",
    StoreOf::Nothing,
    &[
        f("item_name", "name", Text),
        f("code", "code", Text),
        f("unit_ID", "unit_id", opt(Table::Unit)),
        f("type_of", "type", Text),
        f("default_pack_size", "default_pack_size", Real),
    ],
);

static NAME: Spec = spec(
    Table::Name,
    "ID",
    "legacy_extra",
    StoreOf::Nothing,
    &[
        f("name", "name", Text),
        f("code", "code", Text),
        f("type", "type", Text),
        f("customer", "is_customer", Bool),
        f("supplier", "is_supplier", Bool),
        f("supplying_store_id", "supplying_store_id", Text),
    ],
);

static STORE: Spec = spec(
    Table::Store,
    "ID",
    "legacy_extra",
    StoreOf::Itself,
    &[
        f("name", "name", Text),
        f("code", "code", Text),
        f("name_ID", "name_id", opt(Table::Name)),
        f("sync_id_remote_site", "site_id", Int),
        f("store_mode", "store_mode", Text),
        f("disabled", "disabled", Bool),
    ],
);

static NAME_STORE_JOIN: Spec = spec(
    Table::NameStoreJoin,
    "ID",
    "legacy_extra",
    StoreOf::Column,
    &[
        f("name_ID", "name_id", req(Table::Name)),
        f("store_ID", "store_id", req(Table::Store)),
        f("inactive", "inactive", Bool),
    ],
);

static LOCATION: Spec = spec(
    Table::Location,
    "ID",
    "legacy_extra",
    StoreOf::Column,
    &[
        f("store_ID", "store_id", req(Table::Store)),
        f("code", "code", Text),
        f("Description", "name", Text),
        f("hold", "on_hold", Bool),
    ],
);

static STOCK_LINE: Spec = spec(
    Table::StockLine,
    "ID",
    "legacy_extra",
    StoreOf::Column,
    &[
        f("item_ID", "item_id", req(Table::Item)),
        f("store_ID", "store_id", req(Table::Store)),
        f("location_ID", "location_id", opt(Table::Location)),
        f("name_ID", "supplier_id", opt(Table::Name)),
        f("batch", "batch", Text),
        f("expiry_date", "expiry_date", Date),
        f("pack_size", "pack_size", Real),
        f("available", "available_number_of_packs", Real),
        f("quantity", "total_number_of_packs", Real),
        f("cost_price", "cost_price_per_pack", Real),
        f("sell_price", "sell_price_per_pack", Real),
        f("hold", "on_hold", Bool),
        f("note", "note", Text),
    ],
);

static INVOICE: Spec = spec(
    Table::Invoice,
    "ID",
    "legacy_extra",
    StoreOf::Column,
    &[
        f("name_ID", "name_id", req(Table::Name)),
        f("store_ID", "store_id", req(Table::Store)),
        f("type", "type", Text),
        f("status", "status", Text),
        f("invoice_num", "invoice_number", Int),
        f("entry_date", "created_date", Date),
        f("their_ref", "their_reference", Text),
        f("comment", "comment", Text),
    ],
);

static INVOICE_LINE: Spec = spec(
    Table::InvoiceLine,
    "ID",
    "legacy_extra",
    StoreOf::Parent,
    &[
        f("transaction_ID", "invoice_id", req(Table::Invoice)),
        f("item_ID", "item_id", req(Table::Item)),
        f("item_line_ID", "stock_line_id", opt(Table::StockLine)),
        f("location_ID", "location_id", opt(Table::Location)),
        f("item_name", "item_name", Text),
        f("type", "type", Text),
        f("batch", "batch", Text),
        f("expiry_date", "expiry_date", Date),
        f("pack_size", "pack_size", Real),
        f("quantity", "number_of_packs", Real),
        f("cost_price", "cost_price_per_pack", Real),
        f("sell_price", "sell_price_per_pack", Real),
        f("line_number", "line_number", Int),
        f("note", "note", Text),
    ],
);

static ASSET: Spec = spec(
    Table::Asset,
    "id",
    "v6_extra",
    StoreOf::Column,
    &[
        f("store_id", "store_id", req(Table::Store)),
        f("asset_number", "code", Text),
        f("serial_number", "serial_number", Text),
        f("notes", "notes", Text),
        f("created_datetime", "created_datetime", Text),
        f("modified_datetime", "modified_datetime", Text),
    ],
);

impl Spec {
    pub fn of(table: Table) -> &'static Spec {
        match table {
            Table::Unit => &UNIT,
            Table::Item => &ITEM,
            Table::Name => &NAME,
            Table::Store => &STORE,
            Table::NameStoreJoin => &NAME_STORE_JOIN,
            Table::Location => &LOCATION,
            Table::StockLine => &STOCK_LINE,
            Table::Invoice => &INVOICE,
            Table::InvoiceLine => &INVOICE_LINE,
            Table::Asset => &ASSET,
        }
    }

    /// Whether `key` is a modelled wire field (including the id).
    pub fn models(&self, key: &str) -> bool {
        key == self.id_key || self.fields.iter().any(|f| f.key == key)
    }

    /// The columns an upsert writes, in bind order: the id, every field in order, the parent's
    /// store for `StoreOf::Parent`, then the extra JSON.
    pub fn columns(&self) -> Vec<&'static str> {
        let mut columns = vec!["id"];
        columns.extend(self.fields.iter().map(|f| f.column));
        if self.store == StoreOf::Parent {
            columns.push("store_id");
        }
        columns.push(self.extra_column);
        columns
    }

    /// The same upsert for `rows` rows in one statement (SQLite applies them in order, so a
    /// later copy of an id updates the earlier one, as two statements would).
    pub fn upsert_rows_sql(&self, rows: usize) -> String {
        let columns = self.columns();
        let marks = format!("({})", vec!["?"; columns.len()].join(", "));
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES {} ON CONFLICT (id) DO UPDATE SET ",
            self.table.name(),
            columns.join(", "),
            vec![marks; rows].join(", ")
        );
        let updates: Vec<String> = columns[1..].iter().map(|c| format!("{c} = excluded.{c}")).collect();
        sql.push_str(&updates.join(", "));
        sql
    }

    /// Every field's column in order, then the extra JSON, of one row by id.
    pub fn select_sql(&'static self) -> &'static str {
        self.select.get_or_init(|| {
            let mut sql = String::from("SELECT ");
            for f in self.fields {
                let _ = write!(sql, "{}, ", f.column);
            }
            let _ = write!(sql, "{} FROM {} WHERE id = ?", self.extra_column, self.table.name());
            sql
        })
    }
}
