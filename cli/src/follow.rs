//! [`follow`]: prints a subscription's events until the command is stopped.
//!
//! This loop may block in a write to stdout for as long as nobody reads it. That is harmless:
//! it runs on the main thread while the connection runs on the runtime's workers (see
//! [`crate::runtime`]), the subscription's queue is bounded (when it overflows the oldest
//! events are dropped and one `Lagged` arrives, after which the printer starts over from
//! `get_members()`), and Ctrl-C is watched elsewhere ([`crate::interrupt`]).

use std::future::Future;
use std::io::Write;

use audience_core::client::{AudienceClient, ClientEvent, Subscription};
use audience_core::member::Member;
use tokio::time::Instant;

use crate::error::CliError;
use crate::render::{DisplayName, Printer};

/// Why [`follow`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// `stop` resolved (Ctrl-C).
    Stopped,
    /// The client is gone: no more events will come.
    ClientGone,
}

/// Prints every event of `events` (a burst, then one table) until `stop` resolves or the
/// client goes away; an error when the client gave up on `container` or stdout failed.
pub async fn follow<M, W>(
    client: &AudienceClient<M>,
    events: &mut Subscription<M>,
    printer: &mut Printer<M, W>,
    start: Instant,
    container: &str,
    stop: impl Future<Output = ()>,
) -> Result<Ended, CliError>
where
    M: Member + DisplayName,
    W: Write,
{
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return Ok(Ended::Stopped),
            event = events.recv() => {
                let Some(event) = event else { return Ok(Ended::ClientGone) };
                let mut next = Some(event);
                while let Some(event) = next {
                    printer.event(start.elapsed(), &event, || client.get_members())?;
                    if let ClientEvent::Closed { error: Some(reason) } = event {
                        return Err(CliError::ConnectionClosed {
                            container: container.to_owned(),
                            reason,
                        });
                    }
                    next = events.try_recv();
                }
                printer.flush_table()?;
            }
        }
    }
}

#[cfg(all(test, feature = "mock"))]
mod tests {
    use super::*;

    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use audience_core::client::ClientOptions;
    use audience_core::member::BasicMember;
    use audience_core::policy::InteractiveOnly;
    use audience_core::transport::DocumentService;
    use audience_core::wire::ConnectionMode;
    use audience_mock::{MockService, request};
    use serde_json::Value;

    use crate::render::Format;

    const DOC: &str = "doc";

    /// A stdout nobody reads: the first write blocks until the reader comes back (the gate
    /// opens); everything written is kept.
    struct StuckPipe {
        written: Arc<Mutex<Vec<u8>>>,
        blocked: mpsc::Sender<()>,
        gate: Option<mpsc::Receiver<()>>,
    }

    impl Write for StuckPipe {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Some(gate) = self.gate.take() {
                let _ = self.blocked.send(());
                let _ = gate.recv();
            }
            self.written.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The complete lines written so far (a line may be half written).
    fn lines(written: &Mutex<Vec<u8>>) -> Vec<Value> {
        let text = String::from_utf8_lossy(&written.lock().unwrap()).into_owned();
        text.split_inclusive('\n')
            .filter_map(|l| l.strip_suffix('\n'))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn wait_until(what: &str, done: impl Fn() -> bool) -> Result<(), String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !done() {
            if std::time::Instant::now() > deadline {
                return Err(format!("no {what} within 10 s"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// The runtime of the binary, the watch loop of the binary, a printer stuck in a write:
    /// the watcher's connection still follows 20 joins, and once the printer can write again
    /// it reports the lag and prints all of them from `get_members()`.
    #[test]
    fn a_stuck_stdout_stalls_only_the_printer() {
        let runtime = crate::runtime::build().unwrap();
        let service = MockService::new();
        let watcher: Arc<AudienceClient<BasicMember>> = Arc::new(AudienceClient::new(
            Arc::new(service.clone()) as Arc<dyn DocumentService>,
            request(DOC, "watcher", ConnectionMode::Read),
            InteractiveOnly,
            ClientOptions {
                event_capacity: 8,
                ..ClientOptions::default()
            },
        ));
        let written = Arc::new(Mutex::new(Vec::new()));
        let (blocked_tx, blocked) = mpsc::channel();
        let (open_gate, gate) = mpsc::channel();
        let pipe = StuckPipe {
            written: Arc::clone(&written),
            blocked: blocked_tx,
            gate: Some(gate),
        };
        let (stop_tx, stop) = tokio::sync::oneshot::channel::<()>();

        // The rest of the world, on its own thread: it needs nothing from the stuck one.
        let world = std::thread::spawn({
            let watcher = Arc::clone(&watcher);
            let written = Arc::clone(&written);
            move || {
                blocked
                    .recv_timeout(Duration::from_secs(10))
                    .expect("the printer wrote");
                for i in 0..20 {
                    let user = format!("user-{i:02}");
                    service
                        .connect_detached(&request(DOC, &user, ConnectionMode::Write))
                        .unwrap();
                }
                let while_stuck = wait_until("20 joins in the watcher", || {
                    watcher.get_members().len() == 21
                });
                open_gate.send(()).unwrap();
                let caught_up = wait_until("the lag and a full table", || {
                    let lines = lines(&written);
                    lines.iter().any(|l| l["event"] == "lagged")
                        && lines.last().is_some_and(|l| {
                            l["event"] == "members" && l["members"].as_object().unwrap().len() == 21
                        })
                });
                let _ = stop_tx.send(());
                (while_stuck, caught_up)
            }
        });

        let ended = runtime.block_on(async {
            let mut events = watcher.subscribe();
            watcher.connect().await.unwrap();
            let mut printer = Printer::new(Format::Json, pipe);
            let stop = async {
                let _ = stop.await;
            };
            let ended = follow(
                &watcher,
                &mut events,
                &mut printer,
                Instant::now(),
                DOC,
                stop,
            )
            .await;
            watcher.close().await;
            ended
        });
        let (while_stuck, caught_up) = world.join().unwrap();
        assert_eq!(
            while_stuck,
            Ok(()),
            "the connection stalled with the printer"
        );
        assert_eq!(caught_up, Ok(()), "{:?}", lines(&written));
        assert_eq!(ended.unwrap(), Ended::Stopped);

        // The first line is the one that got stuck; later ones were dropped for the lag.
        let lines = lines(&written);
        assert_eq!(lines[0]["event"], "member_added");
        assert_eq!(lines[0]["user_id"], "watcher");
        let lagged = lines.iter().position(|l| l["event"] == "lagged").unwrap();
        assert!(lines[lagged]["missed"].as_u64().unwrap() > 0);
        let members = lines.last().unwrap()["members"].as_object().unwrap();
        assert!(members.contains_key("watcher"));
        assert!(members.contains_key("user-00") && members.contains_key("user-19"));
    }
}
