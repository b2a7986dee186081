//! [`Interrupt`]: Ctrl-C, watched by a task of its own instead of the printing loop.
//!
//! The printing loop may be stuck in a blocking write to a stdout nobody reads, so it cannot be
//! the one to notice Ctrl-C. A spawned task (on a worker, see [`crate::runtime`]) waits for the
//! first Ctrl-C, tells the command (which stops reading events), leaves the container (bounded
//! by [`CLOSE_BOUND`]), tells the command again (which prints its goodbye line if it can), and
//! then ends the process with [`EXIT_CODE`] unless the command ended by itself first. A second
//! Ctrl-C ends the process at once.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// The exit code after Ctrl-C: 128 + SIGINT, what shells report for an interrupted command.
pub const EXIT_CODE: u8 = 130;

/// Longest wait for a clean leave after Ctrl-C (the server would otherwise notice the
/// connection gone only after its ping timeout).
pub const CLOSE_BOUND: Duration = Duration::from_secs(3);

/// How long a command may take, once it has left, to print its goodbye line and end by itself.
pub const GRACE: Duration = Duration::from_secs(1);

/// Where the Ctrl-C watcher is (in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// No Ctrl-C yet.
    Waiting,
    /// Ctrl-C came; leaving.
    Leaving,
    /// Left (or gave up after [`CLOSE_BOUND`]).
    Left,
}

/// The command's side of the Ctrl-C watcher.
#[derive(Debug)]
pub struct Interrupt {
    phase: watch::Receiver<Phase>,
}

impl Interrupt {
    /// Spawns the watcher (inside the runtime). On the first Ctrl-C it lets
    /// [`Interrupt::pressed`] resolve, runs `leave` (at most [`CLOSE_BOUND`]), lets
    /// [`Interrupt::left`] resolve, waits `grace` for the command to end on its own, and exits
    /// the process with [`EXIT_CODE`].
    pub fn spawn<F>(leave: F, grace: Duration) -> Interrupt
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (tx, phase) = watch::channel(Phase::Waiting);
        tokio::spawn(async move {
            if let Err(error) = tokio::signal::ctrl_c().await {
                // Without a handler, Ctrl-C keeps its default: the process ends at once.
                tracing::warn!(%error, "cannot watch for Ctrl-C");
                std::future::pending::<()>().await;
            }
            tracing::debug!("Ctrl-C: leaving");
            let _ = tx.send(Phase::Leaving);
            tokio::select! {
                _ = tokio::time::timeout(CLOSE_BOUND, leave) => {}
                _ = tokio::signal::ctrl_c() => exit(),
            }
            let _ = tx.send(Phase::Left);
            tokio::select! {
                () = tokio::time::sleep(grace) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            exit()
        });
        Interrupt { phase }
    }

    /// Resolves at the first Ctrl-C: time to stop reading events (the leave is under way).
    pub async fn pressed(&mut self) {
        self.reached(Phase::Leaving).await;
    }

    /// Resolves once Ctrl-C came and the leave is done (or gave up): time for the goodbye.
    pub async fn left(&mut self) {
        self.reached(Phase::Left).await;
    }

    async fn reached(&mut self, phase: Phase) {
        if self.phase.wait_for(|now| *now >= phase).await.is_err() {
            // The watcher is gone (the runtime is shutting down): no Ctrl-C will be reported.
            std::future::pending::<()>().await;
        }
    }
}

/// Ends the process after Ctrl-C. `process::exit` skips flushing a stdout that is locked by a
/// blocked write, so it cannot hang on the very pipe that made us need it.
fn exit() -> ! {
    std::process::exit(i32::from(EXIT_CODE))
}
