//! Which requests the relay holds, and where (before the server, or after its answer): the
//! rule a test sets with `Relay::hold`.

use axum::http::Method;

/// Where a held request stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Before it reaches the server.
    Before,
    /// After the server answered (and committed), before the client gets the answer.
    After,
}

/// Which requests to hold: those whose path ends with `path` (and of `method`, if set), after
/// letting `skip` of them through; one (the default) or every one from there on.
#[derive(Debug, Clone)]
pub struct Hold {
    method: Option<Method>,
    path: String,
    skip: usize,
    with_records: bool,
    when: When,
    every: bool,
}

impl Hold {
    /// Every request whose path ends with `path`, before it reaches the server.
    pub fn every(path: &str) -> Hold {
        Hold { method: None, path: path.into(), skip: 0, with_records: false, when: When::Before, every: true }
    }

    /// The `(skip+1)`-th request of `method path`, once.
    pub fn nth(method: Method, path: &str, skip: usize) -> Hold {
        Hold { method: Some(method), path: path.into(), skip, with_records: false, when: When::Before, every: false }
    }

    /// Count only requests that carry records (a push with a non-empty batch).
    pub fn with_records(mut self, yes: bool) -> Hold {
        self.with_records = yes;
        self
    }

    pub fn when(mut self, when: When) -> Hold {
        self.when = when;
        self
    }

    fn matches(&self, method: &Method, path: &str, has_records: bool) -> bool {
        self.method.as_ref().is_none_or(|m| m == method)
            && path.ends_with(&self.path)
            && (!self.with_records || has_records)
    }

    /// Whether this request is to be held, and where; counts down the skips, and clears a
    /// one-time hold once it has taken its request.
    pub(super) fn take(slot: &mut Option<Hold>, method: &Method, path: &str, has_records: bool) -> Option<When> {
        let h = slot.as_mut()?;
        if !h.matches(method, path, has_records) {
            return None;
        }
        if h.skip > 0 {
            h.skip -= 1;
            return None;
        }
        let when = h.when;
        if !h.every {
            *slot = None;
        }
        Some(when)
    }
}
