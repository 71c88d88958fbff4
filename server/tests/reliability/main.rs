//! Sync under failure: the seeded fault harness (`faults`), a site killed with `kill -9` and
//! restarted (`crash`), cursors followed while centrals commit (`cursors`), push buffers cleared
//! by what was read (`push_buffers`), and regressions found by the soak (`regressions`).

mod crash;
mod cursors;
mod faults;
mod push_buffers;
mod regressions;
