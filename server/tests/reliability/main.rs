//! Sync under failure: the seeded fault harness (`faults`), a site killed with `kill -9` and
//! restarted (`crash`), and regressions found by the soak (`regressions`).

mod crash;
mod faults;
mod regressions;
