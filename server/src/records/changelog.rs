//! Writing the changelog: one row per change of a synced table, in the caller's transaction,
//! so a change and its log row commit or vanish together (reference §2.1).

use sqlx::SqliteConnection;

use super::Table;

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeAction {
    Upsert,
    Delete,
}

impl ChangeAction {
    /// `changelog.row_action`, also `sync_buffer.action` of a change.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Upsert => "UPSERT",
            ChangeAction::Delete => "DELETE",
        }
    }

    /// The action [`ChangeAction::as_str`] stored, decoded where a row is read.
    pub fn parse(s: &str) -> Option<ChangeAction> {
        match s {
            "UPSERT" => Some(ChangeAction::Upsert),
            "DELETE" => Some(ChangeAction::Delete),
            _ => None,
        }
    }
}

/// Who made a change: a local edit (pushed later) or a received record (echo prevention: it
/// must never be pushed back to where it came from).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub is_sync_update: bool,
    pub source_site_id: Option<i64>,
}

impl Origin {
    pub const LOCAL: Origin = Origin { is_sync_update: false, source_site_id: None };

    pub fn sync(source_site_id: Option<i64>) -> Origin {
        Origin { is_sync_update: true, source_site_id }
    }
}

/// Append one changelog row. Callers run this in the same transaction as the change.
pub(super) async fn write(
    conn: &mut SqliteConnection,
    table: Table,
    record_id: &str,
    action: ChangeAction,
    store_id: Option<&str>,
    origin: Origin,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO changelog (table_name, record_id, row_action, store_id, is_sync_update, source_site_id) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(table.name())
    .bind(record_id)
    .bind(action.as_str())
    .bind(store_id)
    .bind(origin.is_sync_update)
    .bind(origin.source_site_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// One changelog row of [`write_many`]: the record, its store, who changed it.
pub(super) struct Entry<'a> {
    pub record_id: &'a str,
    pub store_id: Option<&'a str>,
    pub origin: Origin,
}

/// Rows per changelog insert: 6 binds a row, far below SQLite's 32,766 variables, and few
/// enough statements that the hop to SQLite's worker thread no longer counts.
const ROWS_PER_INSERT: usize = 1000;

/// Append one changelog row per entry, in order, with as few statements as possible (the
/// batched write path); same rows as calling [`write`] for each.
pub(super) async fn write_many(
    conn: &mut SqliteConnection,
    table: Table,
    action: ChangeAction,
    entries: &[Entry<'_>],
) -> Result<(), sqlx::Error> {
    static FULL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = |rows: usize| {
        format!(
            "INSERT INTO changelog (table_name, record_id, row_action, store_id, is_sync_update, source_site_id) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?)"; rows].join(", ")
        )
    };
    for chunk in entries.chunks(ROWS_PER_INSERT) {
        let mut q = if chunk.len() == ROWS_PER_INSERT {
            sqlx::query(FULL.get_or_init(|| sql(ROWS_PER_INSERT)).as_str())
        } else {
            // A one-off size: not kept in the statement cache, where it would push out others.
            sqlx::query(sqlx::AssertSqlSafe(sql(chunk.len()))).persistent(false)
        };
        for e in chunk {
            q = q
                .bind(table.name())
                .bind(e.record_id)
                .bind(action.as_str())
                .bind(e.store_id)
                .bind(e.origin.is_sync_update)
                .bind(e.origin.source_site_id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
