//! Capturing what the server logs, for tests that check that no secret is ever written. The
//! subscriber is thread-local, so a capturing test runs on a current-thread runtime (the
//! servers' tasks then log on its thread) and other tests of the same binary stay out of it;
//! tracing caches per call site, per process, whether anyone listens, so [`capture`] makes it
//! ask again.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::subscriber::DefaultGuard;

/// Log output collected in memory.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Send every log line of this thread, at every level, to a buffer until the guard drops. A
/// current-thread test runtime runs the servers' tasks on this thread too.
pub fn capture() -> (LogBuffer, DefaultGuard) {
    // With a single live dispatcher, tracing works out a call site's interest from the default
    // of whichever thread reaches it first: another test's thread, with no subscriber, would
    // mark it "never" for every thread. A second dispatcher that lives as long as the process
    // makes tracing ask every live dispatcher instead.
    static SECOND: OnceLock<tracing::Dispatch> = OnceLock::new();
    SECOND.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    // Call sites seen before may have cached "nobody listens"; make tracing ask again.
    tracing::callsite::rebuild_interest_cache();
    (logs, guard)
}
