//! The async runtime of the CLI, and why it has worker threads.
//!
//! Each command's own loop (the printer) runs on the main thread, inside `block_on`, and writes
//! stdout with ordinary blocking writes. Everything the connection needs (the client's
//! background task, the transport's socket reader and writer, the Ctrl-C watcher) is spawned,
//! so it runs on the workers and never on the main thread. A stdout nobody reads
//! (`audience watch X | less`, paused; a fifo without a reader) then blocks only the printer:
//! pings are still answered, the audience is still followed (the printer's subscription lags
//! and resyncs from `get_members()` once it catches up), and Ctrl-C still works.

/// Worker threads: one would do (the main thread is not a worker); two keep a busy socket
/// from delaying the Ctrl-C watcher.
const WORKERS: usize = 2;

/// The runtime every command runs on.
pub fn build() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("audience-worker")
        .enable_all()
        .build()
}
