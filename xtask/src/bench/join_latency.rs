//! (b) Latency from a client's join to the watchers' "member added" event, Rust versus JS.
//!
//! A Rust watcher (`audience watch <id> --json`, read mode) and a JS watcher (`fluid-client.mjs
//! watch <id>`) stay connected to the same container and observe the SAME joins. A joiner
//! (`audience join <id> --user bench-join-<k> --for 500ms`) joins, one at a time. The join instant
//! is when xtask reads the joiner's own status line (`joined ... on connection <client id>`,
//! printed once the joiner has seen its own join come back from the service); each watcher's time
//! is when xtask reads its added line for that client id. All three are read the same way, on one
//! clock, so the latency can be slightly negative when a watcher's line is read before the
//! joiner's. The next join starts once both watchers have also seen the joiner leave. One untimed
//! warm-up join comes first.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::lines::{self, Change};
use super::procs::{Hub, ProcId, Stream};
use super::stats::signed_ms;
use super::tools::Tools;
use crate::error::{Error, Result};

/// How long a watcher may take to connect (the JS one loads its modules first).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(90);
/// How long one join (spawn, join, leave, both watchers informed) may take.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the joiner stays.
const JOINER_STAYS: &str = "500ms";
/// Quiet time after the watchers connect (the JS watcher replays the history first).
const SETTLE: Duration = Duration::from_secs(1);
/// Pause between joins.
const BETWEEN_JOINS: Duration = Duration::from_millis(200);

/// Every timed join, in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct JoinResults {
    /// Rust watcher: joiner's connected line to the watcher's `member_added` line.
    pub rust: Vec<f64>,
    /// JS watcher: joiner's connected line to the watcher's `memberAdded` line.
    pub js: Vec<f64>,
    /// Rust watcher: joiner spawn to the watcher's `member_added` line.
    pub rust_from_spawn: Vec<f64>,
    /// JS watcher: joiner spawn to the watcher's `memberAdded` line.
    pub js_from_spawn: Vec<f64>,
    /// Per join: JS watcher's line minus the Rust watcher's line (positive: Rust saw it first).
    pub js_minus_rust: Vec<f64>,
    /// Joiner spawn to its own connected line (context: how long a Rust join takes).
    pub joiner_connect: Vec<f64>,
}

/// One join as both watchers saw it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rust_ms: f64,
    js_ms: f64,
    rust_from_spawn_ms: f64,
    js_from_spawn_ms: f64,
    js_minus_rust_ms: f64,
    joiner_connect_ms: f64,
}

/// The two watchers' process ids.
#[derive(Debug, Clone, Copy)]
struct Watchers {
    rust: ProcId,
    js: ProcId,
}

/// Starts both watchers on `container`, then times `joins` joins (after one warm-up join).
pub fn measure(hub: &mut Hub, tools: &Tools, container: &str, joins: u32) -> Result<JoinResults> {
    let (rust_watcher, _) = hub.spawn(
        "Rust watcher (audience watch)",
        &mut tools.cli(&[
            "watch",
            container,
            "--json",
            "--user",
            "bench-watch-rust",
            "--name",
            "Rust watcher",
        ]),
        false,
    )?;
    hub.first_line(
        rust_watcher.id(),
        CONNECT_TIMEOUT,
        "the Rust watcher to connect",
        lines::connected,
    )?;
    // Stdin kept open: the JS client leaves when it closes.
    let (js_watcher, _) = hub.spawn(
        "JS watcher (fluid-client.mjs watch)",
        &mut tools.js(&[
            "watch",
            container,
            "--user",
            "bench-watch-js",
            "--name",
            "JS watcher",
        ]),
        true,
    )?;
    hub.first_line(
        js_watcher.id(),
        CONNECT_TIMEOUT,
        "the JS watcher to connect",
        lines::connected,
    )?;
    hub.drain_for(SETTLE);
    let watchers = Watchers {
        rust: rust_watcher.id(),
        js: js_watcher.id(),
    };

    let warm_up = join_once(hub, tools, container, 0, watchers)?;
    eprintln!(
        "xtask: bench: warm-up join: Rust watcher {:.2} ms, JS watcher {:.2} ms (not counted)",
        warm_up.rust_ms, warm_up.js_ms
    );
    let mut results = JoinResults::default();
    for k in 1..=joins {
        hub.drain_for(BETWEEN_JOINS);
        let sample = join_once(hub, tools, container, k, watchers)?;
        eprintln!(
            "xtask: bench: join {k}/{joins}: Rust watcher {:.2} ms, JS watcher {:.2} ms after the joiner's connected line",
            sample.rust_ms, sample.js_ms
        );
        results.rust.push(sample.rust_ms);
        results.js.push(sample.js_ms);
        results.rust_from_spawn.push(sample.rust_from_spawn_ms);
        results.js_from_spawn.push(sample.js_from_spawn_ms);
        results.js_minus_rust.push(sample.js_minus_rust_ms);
        results.joiner_connect.push(sample.joiner_connect_ms);
    }
    // Watchers leave when dropped (SIGINT / stdin closed).
    drop(js_watcher);
    drop(rust_watcher);
    Ok(results)
}

/// What the lines of one join said so far.
#[derive(Debug, Default)]
struct JoinProgress {
    joined: Option<(Instant, String)>,
    rust_added: HashMap<String, Instant>,
    js_added: HashMap<String, Instant>,
    rust_removed: HashSet<String>,
    js_removed: HashSet<String>,
    joiner_pipes_closed: u8,
}

impl JoinProgress {
    /// Takes one line; `Err` if a watcher ended.
    fn take(
        &mut self,
        line: &super::procs::Line,
        joiner: ProcId,
        watchers: Watchers,
    ) -> std::result::Result<(), String> {
        let Some(text) = &line.text else {
            if line.proc == joiner {
                self.joiner_pipes_closed += 1;
            } else if line.proc == watchers.rust || line.proc == watchers.js {
                return Err("a watcher's output ended".into());
            }
            return Ok(());
        };
        if line.proc == joiner {
            if line.stream == Stream::Stderr
                && self.joined.is_none()
                && let Some(client_id) = lines::cli_joined(text)
            {
                self.joined = Some((line.at, client_id));
            }
            return Ok(());
        }
        let (added, removed) = if line.proc == watchers.rust {
            (&mut self.rust_added, &mut self.rust_removed)
        } else if line.proc == watchers.js {
            (&mut self.js_added, &mut self.js_removed)
        } else {
            return Ok(());
        };
        if line.stream != Stream::Stdout {
            return Ok(());
        }
        match lines::change(text) {
            Some(Change::Added(client_id)) => {
                added.entry(client_id).or_insert(line.at);
            }
            Some(Change::Removed(client_id)) => {
                removed.insert(client_id);
            }
            None => {}
        }
        Ok(())
    }

    /// The times of the join once the joiner has come and gone in both watchers' eyes.
    fn complete(&self) -> Option<(Instant, Instant, Instant)> {
        let (joined_at, client_id) = self.joined.as_ref()?;
        let rust_at = *self.rust_added.get(client_id)?;
        let js_at = *self.js_added.get(client_id)?;
        let left = self.rust_removed.contains(client_id)
            && self.js_removed.contains(client_id)
            && self.joiner_pipes_closed == 2;
        left.then_some((*joined_at, rust_at, js_at))
    }
}

fn join_once(
    hub: &mut Hub,
    tools: &Tools,
    container: &str,
    k: u32,
    watchers: Watchers,
) -> Result<Sample> {
    // A watcher that ended between joins would otherwise only show as a timeout.
    if hub.has_ended(watchers.rust) || hub.has_ended(watchers.js) {
        return Err(Error::Bench(format!(
            "a watcher ended before join {k}{}",
            hub.tails_of(&[watchers.rust, watchers.js])
        )));
    }
    let user = format!("bench-join-{k}");
    let (mut joiner, spawned) = hub.spawn(
        &format!("joiner {user} (audience join)"),
        &mut tools.cli(&[
            "join",
            container,
            "--user",
            &user,
            "--name",
            "Bench joiner",
            "--for",
            JOINER_STAYS,
        ]),
        false,
    )?;
    let joiner_id = joiner.id();
    let mut progress = JoinProgress::default();
    let (joined_at, rust_at, js_at) = hub
        .wait_for(
            spawned + JOIN_TIMEOUT,
            &format!("join {k} to be seen (and its leave) by both watchers"),
            &[joiner_id, watchers.rust, watchers.js],
            |line| match progress.take(line, joiner_id, watchers) {
                Ok(()) => progress.complete().map(Ok),
                Err(reason) => Some(Err(reason)),
            },
        )?
        .map_err(|reason| {
            Error::Bench(format!(
                "{reason}{}",
                hub.tails_of(&[watchers.rust, watchers.js])
            ))
        })?;
    joiner
        .wait_success()
        .map_err(|error| Error::Bench(format!("{error}{}", hub.tails_of(&[joiner_id]))))?;
    Ok(Sample {
        rust_ms: signed_ms(joined_at, rust_at),
        js_ms: signed_ms(joined_at, js_at),
        rust_from_spawn_ms: signed_ms(spawned, rust_at),
        js_from_spawn_ms: signed_ms(spawned, js_at),
        js_minus_rust_ms: signed_ms(rust_at, js_at),
        joiner_connect_ms: signed_ms(spawned, joined_at),
    })
}

#[cfg(test)]
mod tests {
    use super::super::procs::Line;
    use super::*;

    fn ids() -> (ProcId, Watchers) {
        let watchers = Watchers {
            rust: ProcId::fake(1),
            js: ProcId::fake(2),
        };
        (ProcId::fake(0), watchers)
    }

    fn line(proc: ProcId, stream: Stream, at: Instant, text: Option<&str>) -> Line {
        Line {
            proc,
            stream,
            at,
            text: text.map(str::to_owned),
        }
    }

    #[test]
    fn a_join_completes_when_both_watchers_saw_it_come_and_go() {
        let (joiner, watchers) = ids();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut progress = JoinProgress::default();
        let script = [
            // The Rust watcher's line can be read before the joiner's own.
            line(
                watchers.rust,
                Stream::Stdout,
                at(9),
                Some(r#"{"event":"member_added","client_id":"c1"}"#),
            ),
            // An older client's events do not count.
            line(
                watchers.js,
                Stream::Stdout,
                at(10),
                Some(r#"{"event":"memberAdded","clientId":"old"}"#),
            ),
            line(
                joiner,
                Stream::Stderr,
                at(10),
                Some(
                    "joined d as Bench joiner (bench-join-1) on connection c1 [write]; leaving in 500ms",
                ),
            ),
            line(
                watchers.js,
                Stream::Stdout,
                at(14),
                Some(r#"{"event":"memberAdded","clientId":"c1"}"#),
            ),
            line(
                watchers.rust,
                Stream::Stdout,
                at(520),
                Some(r#"{"event":"member_removed","client_id":"c1"}"#),
            ),
            line(
                watchers.js,
                Stream::Stdout,
                at(521),
                Some(r#"{"event":"memberRemoved","clientId":"c1"}"#),
            ),
            line(joiner, Stream::Stdout, at(522), None),
        ];
        for step in &script {
            progress.take(step, joiner, watchers).unwrap();
            assert_eq!(progress.complete(), None);
        }
        progress
            .take(
                &line(joiner, Stream::Stderr, at(522), None),
                joiner,
                watchers,
            )
            .unwrap();
        assert_eq!(progress.complete(), Some((at(10), at(9), at(14))));
    }

    #[test]
    fn a_watcher_ending_is_an_error() {
        let (joiner, watchers) = ids();
        let mut progress = JoinProgress::default();
        let ended = line(watchers.js, Stream::Stdout, Instant::now(), None);
        assert_eq!(
            progress.take(&ended, joiner, watchers),
            Err("a watcher's output ended".to_owned())
        );
    }
}
