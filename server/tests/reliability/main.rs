//! Sync under failure: the seeded fault harness (`faults`), a site killed with `kill -9` and
//! restarted (`crash`), regressions found by the soak (`regressions`), and records a central
//! refuses (`refusals`).

mod crash;
mod faults;
mod refusals;
mod regressions;
