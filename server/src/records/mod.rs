//! The synced tables of a site: row types, their V5 (legacy) and V6 translations, the order
//! integration must follow, and the writes that keep the changelog in the same transaction.
//! (Filled in by the sync-engine issue.)
