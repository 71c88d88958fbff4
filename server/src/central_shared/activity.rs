//! Which sites are busy right now (initialising their queue, or integrating what they pushed).
//! The reference answers `sync_is_running` (503) to a site while either runs, and reports it
//! through `site_status`; this is that bookkeeping, in memory because it only lives as long as
//! the work it describes. What outlives the work (a failed integration, the records it
//! refused) is in the database: `central_shared::push_refused`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedRwLockWriteGuard, RwLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Initialising,
    Integrating,
}

#[derive(Clone, Default)]
pub struct Activities {
    busy: Arc<Mutex<HashMap<i64, Activity>>>,
    /// Integration takes this for reading; tests hold it for writing to freeze integration at a
    /// known point and observe the "integrating" state deterministically.
    gate: Arc<RwLock<()>>,
}

/// Marks a site busy until dropped.
pub struct BusyGuard {
    busy: Arc<Mutex<HashMap<i64, Activity>>>,
    site_id: i64,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.busy.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.site_id);
    }
}

impl Activities {
    pub fn current(&self, site_id: i64) -> Option<Activity> {
        self.busy.lock().unwrap_or_else(|e| e.into_inner()).get(&site_id).copied()
    }

    /// Mark `site_id` busy, or return what it is already doing.
    pub fn begin(&self, site_id: i64, activity: Activity) -> Result<BusyGuard, Activity> {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(current) = busy.get(&site_id) {
            return Err(*current);
        }
        busy.insert(site_id, activity);
        Ok(BusyGuard { busy: self.busy.clone(), site_id })
    }

    /// Hold back every integration until the guard is dropped (for tests and maintenance).
    pub async fn pause_integration(&self) -> OwnedRwLockWriteGuard<()> {
        self.gate.clone().write_owned().await
    }

    pub(crate) async fn integration_permit(&self) -> tokio::sync::OwnedRwLockReadGuard<()> {
        self.gate.clone().read_owned().await
    }
}
