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
    /// `changelog.row_action`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Upsert => "UPSERT",
            ChangeAction::Delete => "DELETE",
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
pub(crate) async fn write(
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
