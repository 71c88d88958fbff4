//! Server data a page shows and fetches again: after an action that changed it ([`Refetch::refetch`]),
//! or on a schedule while the page is open ([`Refetch::poll`], the Sync page).
//!
//! One fetch at a time, so a slow server never gets a pile of requests; a refetch asked for
//! while one is on its way runs once more after it, because that answer may predate the change.
//! A failed fetch keeps the last good answer and says why beside it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{Answer, Failure};
use crate::time;

/// How often the schedule looks at the clock and the tab's visibility.
const TICK_MS: u64 = 250;

/// One fetch that stores its own answer: the scheduling below stays the same code for every
/// kind of data (the wasm size budget notices each generic copy).
type Fetch = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()>>> + Send + Sync>;

#[derive(Default, Clone, Copy)]
struct Schedule {
    in_flight: bool,
    again: bool,
    last_ms: f64,
    hidden: bool,
}

pub struct Refetch<T: Send + Sync + 'static> {
    data: RwSignal<Option<T>>,
    failure: RwSignal<Option<Failure>>,
    core: Core,
}

impl<T: Send + Sync + 'static> Clone for Refetch<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Refetch<T> {}

impl<T: Clone + Send + Sync + 'static> Refetch<T> {
    /// Starts the first fetch at once.
    pub fn new<Fut>(fetch: impl Fn() -> Fut + Send + Sync + 'static) -> Self
    where
        Fut: Future<Output = Answer<T>> + 'static,
    {
        Self::with_hook(fetch, |_, _| {})
    }

    /// Like [`Refetch::new`], with a hook that sees each good answer and the previous one
    /// (what changed between two polls) before the page does.
    pub fn with_hook<Fut>(
        fetch: impl Fn() -> Fut + Send + Sync + 'static,
        hook: impl Fn(&T, Option<&T>) + Send + Sync + 'static,
    ) -> Self
    where
        Fut: Future<Output = Answer<T>> + 'static,
    {
        let data = RwSignal::new(None::<T>);
        let failure = RwSignal::new(None::<Failure>);
        let hook = Arc::new(hook);
        let fetch: Fetch = Arc::new(move || {
            let (answer, hook) = (fetch(), hook.clone());
            Box::pin(async move {
                // The page may be gone by now (a person navigated away): then every `try_`
                // does nothing.
                match answer.await {
                    Ok(value) => {
                        hook(&value, data.try_get_untracked().flatten().as_ref());
                        if failure.try_with_untracked(Option::is_some) == Some(true) {
                            failure.try_set(None);
                        }
                        data.try_set(Some(value));
                    }
                    Err(f) => {
                        failure.try_set(Some(f));
                    }
                }
            })
        });
        let core = Core { schedule: StoredValue::new(Schedule::default()), fetch: StoredValue::new(fetch) };
        core.start(true);
        Refetch { data, failure, core }
    }

    /// The last good answer (None until the first one).
    pub fn get(self) -> Option<T> {
        self.data.get()
    }

    pub fn get_untracked(self) -> Option<T> {
        self.data.get_untracked()
    }

    /// Why the last fetch failed (None once one succeeds again).
    pub fn failure(self) -> Option<Failure> {
        self.failure.get()
    }

    /// The server's answer to a change: as good as a fetch.
    pub fn set(self, value: T) {
        self.data.try_set(Some(value));
    }

    /// Fetch again now: the data changed.
    pub fn refetch(self) {
        self.core.start(true);
    }

    /// Keep fetching while the component lives: every `every_ms()` milliseconds (asked afresh
    /// each time, so a page can poll faster while something runs), never while the tab is
    /// hidden, and at once when it becomes visible again.
    pub fn poll(self, every_ms: impl Fn() -> f64 + 'static) {
        self.core.poll(Box::new(every_ms));
    }
}

impl<T: Send + Sync + 'static> From<Refetch<T>> for Signal<Option<T>> {
    fn from(refetch: Refetch<T>) -> Self {
        refetch.data.into()
    }
}

/// The scheduling, the same for every kind of data.
#[derive(Clone, Copy)]
struct Core {
    schedule: StoredValue<Schedule>,
    fetch: StoredValue<Fetch>,
}

impl Core {
    /// Fetch now, unless a fetch is on its way: then once more after it if `after_current`
    /// (a change since it left), or not at all (a poll: that fetch is fresh enough).
    fn start(self, after_current: bool) {
        if self.schedule.with_value(|s| s.in_flight) {
            if after_current {
                self.schedule.update_value(|s| s.again = true);
            }
            return;
        }
        self.schedule.update_value(|s| {
            s.in_flight = true;
            s.last_ms = time::now_ms();
        });
        let fetch = self.fetch.get_value();
        spawn_local(async move {
            fetch().await;
            let again = self.schedule.try_update_value(|s| {
                s.in_flight = false;
                std::mem::take(&mut s.again)
            });
            if again == Some(true) {
                self.start(false);
            }
        });
    }

    fn poll(self, every_ms: Box<dyn Fn() -> f64>) {
        let tick = move || {
            let hidden = document().hidden();
            let was_hidden = self.schedule.with_value(|s| s.hidden);
            self.schedule.update_value(|s| s.hidden = hidden);
            if hidden {
                return;
            }
            if was_hidden || time::now_ms() - self.schedule.with_value(|s| s.last_ms) >= every_ms() {
                self.start(false);
            }
        };
        if let Ok(handle) = set_interval_with_handle(tick, Duration::from_millis(TICK_MS)) {
            on_cleanup(move || handle.clear());
        }
    }
}
