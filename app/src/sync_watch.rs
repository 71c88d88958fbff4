//! The one poller of `GET /api/sync/status` for the whole app: the header ("Synced 3 min ago"),
//! the badge on the Sync link and the Sync page all read the same answers, so a browser tab
//! sends one status request per period however many places show it.
//!
//! Polling: every second while a run is active (or just asked for), every 10 seconds when
//! idle, never while the tab is hidden, and at once when it becomes visible again. The Sync
//! page hears of each answer through [`SyncWatch::listen`] (to measure speed and refresh what
//! a finished run changed).

use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;
use outpost_api::{ServerInfo, SyncStatus};

use crate::api;
use crate::i18n::{self, Key, t, tf};
use crate::icons;
use crate::refetch::Refetch;
use crate::time;

const ACTIVE_POLL_MS: f64 = 1_000.0;
const IDLE_POLL_MS: f64 = 10_000.0;
/// No successful sync for this long: the badge warns, then alarms (as the reference).
const WARN_AFTER_DAYS: f64 = 1.0;
const ALARM_AFTER_DAYS: f64 = 3.0;

type Listener = Arc<dyn Fn(&SyncStatus, Option<&SyncStatus>) + Send + Sync>;

#[derive(Clone, Copy)]
pub struct SyncWatch {
    pub status: Refetch<SyncStatus>,
    /// Set between a press of Sync now! and the moment the status shows that run; holds the
    /// start of the last run before the press, so a run that starts and ends between two
    /// polls still clears it.
    pub pressed: RwSignal<Option<(Option<String>, f64)>>,
    /// The clock relative times are computed from; ticks each second while the tab is seen.
    pub now: RwSignal<f64>,
    /// The address, QR code and badge threshold, fetched once for the shell.
    pub info: Refetch<ServerInfo>,
    listener: StoredValue<Option<Listener>>,
}

/// How stale the last successful sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staleness {
    Fresh,
    Warning,
    Error,
}

impl SyncWatch {
    /// Start the app's poller and clock; call once, in the shell.
    pub fn start() -> SyncWatch {
        let pressed = RwSignal::new(None::<(Option<String>, f64)>);
        let listener = StoredValue::new(None::<Listener>);
        let status = Refetch::with_hook(api::sync_status, move |s: &SyncStatus, old: Option<&SyncStatus>| {
            if let Some((before, pressed_at)) = pressed.get_untracked() {
                let new_run = s.last_sync.as_ref().map(|l| &l.started) != before.as_ref();
                if s.is_syncing || new_run || time::now_ms() - pressed_at > 15_000.0 {
                    pressed.set(None);
                }
            }
            if let Some(listen) = listener.try_get_value().flatten() {
                listen(s, old);
            }
        });
        status.poll(move || {
            let busy = pressed.get_untracked().is_some() || status.get_untracked().is_some_and(|s| s.is_syncing);
            if busy { ACTIVE_POLL_MS } else { IDLE_POLL_MS }
        });
        let now = RwSignal::new(time::now_ms());
        // The relative times ("3 minutes ago") move on by themselves, except while nobody looks.
        if let Ok(handle) = set_interval_with_handle(
            move || {
                if !document().hidden() {
                    now.set(time::now_ms());
                }
            },
            Duration::from_millis(1_000),
        ) {
            on_cleanup(move || handle.clear());
        }
        let info = Refetch::new(api::server_info);
        let watch = SyncWatch { status, pressed, now, info, listener };
        provide_context(watch);
        watch
    }

    pub fn get() -> SyncWatch {
        expect_context::<SyncWatch>()
    }

    /// Hear of every answer (and the one before it) while the calling component lives.
    pub fn listen(self, listen: impl Fn(&SyncStatus, Option<&SyncStatus>) + Send + Sync + 'static) {
        self.listener.set_value(Some(Arc::new(listen)));
        let listener = self.listener;
        on_cleanup(move || {
            listener.try_set_value(None);
        });
    }

    pub fn busy(self) -> bool {
        self.pressed.get().is_some() || self.status.get().is_some_and(|s| s.is_syncing)
    }

    /// Days since the last successful sync ended, if there was one.
    pub fn success_age_days(self) -> Option<f64> {
        let run = self.status.get()?.last_successful_sync?;
        time::age_days(run.finished.as_deref().unwrap_or(&run.started), self.now.get())
    }

    pub fn staleness(self) -> Staleness {
        match self.success_age_days() {
            Some(d) if d > ALARM_AFTER_DAYS => Staleness::Error,
            Some(d) if d > WARN_AFTER_DAYS => Staleness::Warning,
            _ => Staleness::Fresh,
        }
    }
}

/// "Synced 3 min ago" / "Syncing…" / "Sync failed" at the top of every page, a link to the
/// Sync page.
#[component]
pub fn HeaderStatus() -> impl IntoView {
    let watch = SyncWatch::get();
    let state = move || {
        let s = watch.status.get()?;
        Some(if !s.configured {
            ("idle", t(Key::HeaderNotConfigured).to_owned())
        } else if watch.busy() {
            ("syncing", t(Key::HeaderSyncing).to_owned())
        } else if s.error.is_some() {
            ("failed", t(Key::HeaderFailed).to_owned())
        } else if let Some(run) = s.last_successful_sync {
            let ended = run.finished.unwrap_or(run.started);
            ("ok", tf(Key::HeaderSynced, &[("ago", &time::relative(&ended, watch.now.get()))]))
        } else {
            ("idle", t(Key::HeaderNever).to_owned())
        })
    };
    view! {
        <a class="header-status" href="/sync" data-testid="header-sync" data-state=move || state().map(|s| s.0)>
            {move || state().map(|(kind, text)| view! {
                <span class=format!("header-dot header-dot-{kind}") aria-hidden="true"></span>
                <span class="header-status-text">{text}</span>
            })}
        </a>
    }
}

/// The Sync link of the navigation: its icon, its name, and a badge with the records waiting
/// to be sent (from the threshold) coloured by how long ago the last successful sync was.
#[component]
pub fn SyncNavLabel() -> impl IntoView {
    let watch = SyncWatch::get();
    let threshold = move || watch.info.get().map_or(1, |i| i.sync_badge_threshold.max(1));
    let badge = move || {
        let waiting = watch.status.get()?.records_to_push;
        let staleness = watch.staleness();
        let counted = waiting >= threshold();
        if !counted && staleness == Staleness::Fresh {
            return None;
        }
        let (level, stale_text) = match staleness {
            Staleness::Fresh => ("info", None),
            Staleness::Warning => ("warning", Some(t(Key::NavStaleWarning))),
            Staleness::Error => ("error", Some(t(Key::NavStaleError))),
        };
        let shown = if counted { i18n::number(waiting as f64) } else { "!".to_owned() };
        let spoken = [
            counted.then(|| i18n::plural(Key::NavBadgeOne, Key::NavBadgeOther, waiting)),
            stale_text.map(str::to_owned),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(". ");
        let title = spoken.clone();
        Some(view! {
            <span class=format!("nav-badge nav-badge-{level}") data-testid="sync-badge" data-level=level title=title>
                <span aria-hidden="true">{shown}</span>
                <span class="visually-hidden">{spoken}</span>
            </span>
        })
    };
    view! {
        {icons::sync()}
        <span>{t(Key::NavSync)}</span>
        {badge}
    }
}
