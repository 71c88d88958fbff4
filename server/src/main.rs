//! The `outpost` binary: everything lives in the library; this only hands over to the CLI.
//!
//! It also chooses the process's allocator. With glibc's malloc a site's peak RSS during a sync
//! was about twice the heap it had in use, and grew with the dataset (109 MB at 1M records),
//! because each thread's arena keeps what it freed; mimalloc gives freed pages back to the
//! system (BENCHMARKS.md, "Issue 14, target 3: the allocator"). The choice belongs to the
//! binary, not the library, so tests and other embedders keep their own.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    outpost::cli::main()
}
