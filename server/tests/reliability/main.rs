//! Sync under failure: the seeded fault harness (`faults`), a site killed with `kill -9` and
//! restarted (`crash`), cursors followed while centrals commit (`cursors`), and regressions found by the soak (`regressions`).

mod crash;
mod cursors;
mod faults;
mod regressions;
