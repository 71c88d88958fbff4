//! Sync under failure: the seeded fault harness (`faults`), a site killed with `kill -9` and
//! restarted (`crash`), cursors followed while centrals commit (`cursors`), push buffers cleared
//! by what was read (`push_buffers`), regressions found by the soak (`regressions`), and records
//! a central refuses (`refusals`).

mod crash;
mod cursors;
mod faults;
mod push_buffers;
mod refusals;
mod regressions;
mod replicas;
