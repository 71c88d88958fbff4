//! Why one record could not be applied or rendered. The `Display` text is what the quarantine
//! list shows a person, so it names the table, the field and the value involved.

/// The failure of one record; every variant except `Db` is about the record itself, so the
/// engine keeps it in sync_buffer with this reason and carries on with the others.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("Translator for record not found: table {0:?} is not synchronised by this site")]
    UnknownTable(String),
    #[error("Malformed record: {0}")]
    Malformed(String),
    #[error("Missing parent: {table}.{field} refers to {parent} {id:?}, which is not on this site")]
    MissingParent { table: &'static str, field: &'static str, parent: &'static str, id: String },
    #[error("Refused: {0}")]
    Refused(String),
    #[error("Database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl RecordError {
    /// A database failure is about the site, not the record (disk full, lock timeout...): the
    /// engine should end the run rather than quarantine the record.
    pub fn is_db(&self) -> bool {
        matches!(self, RecordError::Db(_))
    }
}
