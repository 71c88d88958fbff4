//! Which sites are busy right now (initialising their queue, or integrating what they pushed).
//! The reference answers `sync_is_running` (503) to a site while either runs, and reports it
//! through `site_status`; this is that bookkeeping, in memory because it only lives as long as
//! the work it describes.

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
    /// Per site, why its last integration failed (the text it is told, never internals),
    /// until its next integration starts: `site_status` reports it, so the site shows
    /// `INTEGRATION_ERROR` instead of believing its push applied. In memory like `busy`: a
    /// replica that did not run the integration does not know of its failure.
    failed: Arc<Mutex<HashMap<i64, String>>>,
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
        if activity == Activity::Integrating {
            self.failed.lock().unwrap_or_else(|e| e.into_inner()).remove(&site_id);
        }
        Ok(BusyGuard { busy: self.busy.clone(), site_id })
    }

    /// Remember that `site_id`'s integration failed, with the text the site is told.
    pub fn integration_failed(&self, site_id: i64, message: String) {
        self.failed.lock().unwrap_or_else(|e| e.into_inner()).insert(site_id, message);
    }

    /// Why `site_id`'s last integration failed, if it did and no other started since.
    pub fn integration_failure(&self, site_id: i64) -> Option<String> {
        self.failed.lock().unwrap_or_else(|e| e.into_inner()).get(&site_id).cloned()
    }

    /// Hold back every integration until the guard is dropped (for tests and maintenance).
    pub async fn pause_integration(&self) -> OwnedRwLockWriteGuard<()> {
        self.gate.clone().write_owned().await
    }

    pub(crate) async fn integration_permit(&self) -> tokio::sync::OwnedRwLockReadGuard<()> {
        self.gate.clone().read_owned().await
    }
}
