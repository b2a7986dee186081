//! `audience demo`: a scripted session on the embedded in-process service.
//!
//! A watcher (an [`AudienceClient`] subscribed before it connects) follows the audience of one
//! document while the script makes users come and go: Ann on two devices, a summarizer that
//! must stay hidden, Carol as a read-only viewer, Bob's connection killed and reconnecting on
//! its own, the watcher's own connection killed and reconnecting, and Ann's phone leaving
//! cleanly.
//!
//! Determinism: client ids come from the service's seed, each step waits for the previous one's
//! connections, and after each step the script reads the watcher's events until the step's
//! effect is visible, stopping only between event batches (the table printed is the snapshot
//! carried by the last event read, not whatever the clients' tasks on the workers have reached
//! meanwhile). So the same seed prints the same output, at any `--pace`;
//! timestamps are script time (at `--pace 1` they match the wall clock).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use audience_core::audience::AudienceEvent;
use audience_core::client::{AudienceClient, ClientEvent, ClientOptions, Subscription};
use audience_core::member::BasicMember;
use audience_core::policy::InteractiveOnly;
use audience_core::transport::{ConnectRequest, DocumentService};
use audience_core::wire::{ClientId, ConnectionMode, User};
use audience_mock::{MockService, MockServiceConfig, TENANT};
use serde_json::json;
use tokio::time::Instant;

use crate::args::{DemoArgs, MAX_PACE};
use crate::error::CliError;
use crate::interrupt::Interrupt;
use crate::render::json::members_json;
use crate::render::{Format, Printer};
use crate::tracker::Tracker;

/// The document of the session.
const DOCUMENT: &str = "demo-document";
/// Pause between two steps at `--pace 1`.
const STEP: Duration = Duration::from_millis(300);
/// First reconnect delay of every client at `--pace 1`.
const RECONNECT: Duration = Duration::from_millis(300);
/// How long a step may take before the demo gives up (a bug, not a slow machine).
const STALL: Duration = Duration::from_secs(10);

/// Runs the demo, printing to stdout.
pub async fn run(args: &DemoArgs) -> Result<(), CliError> {
    // Nothing to leave on Ctrl-C (the service is in this process): exit at once, even while
    // the script is stuck writing to a stdout nobody reads.
    let _interrupt = Interrupt::spawn(async {}, Duration::ZERO);
    let printer = Printer::new(Format::for_stdout(args.json), std::io::stdout().lock());
    let demo = Demo::new(args, printer);
    demo.play().await
}

/// Counts over the watcher's events, for the summary.
#[derive(Debug, Default)]
struct Stats {
    joins: u64,
    leaves: u64,
    reconnects: u64,
    peak_connections: usize,
    peak_by_user: BTreeMap<String, usize>,
}

struct Demo<W: std::io::Write> {
    service: MockService,
    seed: u64,
    /// `--pace`: the factor from script time to wall-clock time.
    pace: f64,
    /// Script time: the sum of the nominal pauses so far.
    clock: Duration,
    watcher: AudienceClient<BasicMember>,
    events: Subscription<BasicMember>,
    printer: Printer<BasicMember, W>,
    stats: Stats,
}

/// A user's client in the script.
struct Participant {
    client: AudienceClient<BasicMember>,
    events: Subscription<BasicMember>,
}

impl Participant {
    fn client_id(&self) -> Result<ClientId, CliError> {
        self.client
            .client_id()
            .ok_or_else(|| CliError::Demo("a participant has no client id".into()))
    }
}

/// Whether the watcher may be looked at after `event`: not in the middle of a batch (an add or
/// remove is always followed by `MembersChanged`; a self change by `Connected`).
fn at_rest(event: &ClientEvent<BasicMember>) -> bool {
    !matches!(
        event,
        ClientEvent::Audience(
            AudienceEvent::MemberAdded { .. }
                | AudienceEvent::MemberRemoved { .. }
                | AudienceEvent::SelfChanged { .. }
        )
    )
}

impl<W: std::io::Write> Demo<W> {
    fn new(args: &DemoArgs, printer: Printer<BasicMember, W>) -> Self {
        let service = MockService::with_config(MockServiceConfig {
            seed: args.seed,
            ..MockServiceConfig::default()
        });
        let options = client_options(args.pace);
        let watcher = AudienceClient::new(
            Arc::new(service.clone()) as Arc<dyn DocumentService>,
            ConnectRequest::new(
                TENANT,
                DOCUMENT,
                User::new("watcher", "Watcher"),
                ConnectionMode::Read,
            ),
            InteractiveOnly,
            options,
        );
        // Subscribed before connecting: not one event is missed.
        let events = watcher.subscribe();
        Demo {
            service,
            seed: args.seed,
            pace: args.pace,
            clock: Duration::ZERO,
            watcher,
            events,
            printer,
            stats: Stats::default(),
        }
    }

    async fn play(mut self) -> Result<(), CliError> {
        self.watcher.connect().await?;
        let me = self.watcher_id()?;
        self.step(
            &format!("the watcher opens the document read-only, subscribed before connecting ({me})"),
            json!({"action": "watcher_connects", "user_id": "watcher", "mode": "read", "client_id": me}),
        )?;
        let mine = me.clone();
        self.settle("the watcher's own join", move |t, _| {
            t.is_connected() && t.has_connection(&mine)
        })
        .await?;

        self.pause().await;
        let _ann_laptop = self
            .join("ann", "Ann", ConnectionMode::Write, "laptop")
            .await?;

        self.pause().await;
        let mut bob = self
            .join("bob", "Bob", ConnectionMode::Write, "laptop")
            .await?;

        self.pause().await;
        let summarizer = self.service.spawn_summarizer(DOCUMENT, "ann")?;
        self.step(
            &format!(
                "Ann's app starts a summarizer ({summarizer}): not interactive, so never a member"
            ),
            json!({"action": "summarizer_joins", "user_id": "ann", "mode": "write", "client_id": summarizer}),
        )?;

        self.pause().await;
        let ann_phone = self
            .join("ann", "Ann", ConnectionMode::Write, "phone")
            .await?;

        self.pause().await;
        let _carol = self
            .join("carol", "Carol", ConnectionMode::Read, "tablet")
            .await?;

        // An abrupt disconnect: the service drops Bob's socket.
        self.pause().await;
        let bob_old = bob.client_id()?;
        self.service.kill(&bob_old)?;
        self.step(
            &format!("Bob's connection {bob_old} drops abruptly (killed by the service)"),
            json!({"action": "kill", "user_id": "bob", "client_id": bob_old}),
        )?;
        let gone = bob_old.clone();
        self.settle("Bob's leave", move |t, _| !t.has_connection(&gone))
            .await?;

        // Bob's client reconnects by itself after its backoff.
        self.clock += RECONNECT;
        let bob_new = reconnected(&mut bob, &bob_old).await?;
        self.step(
            &format!("Bob's client reconnects on its own as {bob_new}"),
            json!({"action": "reconnect", "user_id": "bob", "old_client_id": bob_old, "client_id": bob_new}),
        )?;
        let back = bob_new.clone();
        self.settle("Bob's new connection", move |t, _| t.has_connection(&back))
            .await?;

        // The watcher's own connection drops: it says so, then reconnects with a new id.
        self.pause().await;
        let watcher_old = self.watcher_id()?;
        self.service.kill(&watcher_old)?;
        self.step(
            &format!("the watcher's own connection {watcher_old} drops abruptly"),
            json!({"action": "kill", "user_id": "watcher", "client_id": watcher_old}),
        )?;
        let before = self.stats.reconnects;
        self.settle("the watcher's reconnect attempt", move |t, stats| {
            !t.is_connected() && stats.reconnects > before
        })
        .await?;
        self.clock += RECONNECT;
        self.step(
            "the watcher's client reconnects on its own",
            json!({"action": "reconnect", "user_id": "watcher", "old_client_id": watcher_old}),
        )?;
        let old = watcher_old.clone();
        self.settle("the watcher's reconnect", move |t, _| {
            t.is_connected()
                && t.self_id()
                    .is_some_and(|me| me != old && t.has_connection(me))
                && !t.has_connection(&old)
        })
        .await?;

        // A clean leave.
        self.pause().await;
        let phone = ann_phone.client_id()?;
        ann_phone.client.close().await;
        self.step(
            &format!("Ann closes the app on her phone ({phone}): a clean leave"),
            json!({"action": "leave", "user_id": "ann", "client_id": phone}),
        )?;
        let left = phone.clone();
        self.settle("Ann's phone leaving", move |t, _| !t.has_connection(&left))
            .await?;

        self.summary(&summarizer)?;
        // The participants leave when dropped; the watcher leaves first, so nothing is printed.
        self.watcher.close().await;
        Ok(())
    }

    /// Waits one step of script time (times `--pace` on the wall clock).
    async fn pause(&mut self) {
        self.clock += STEP;
        let real = scaled(STEP, self.pace);
        if !real.is_zero() {
            tokio::time::sleep(real).await;
        }
    }

    fn watcher_id(&self) -> Result<ClientId, CliError> {
        self.watcher
            .client_id()
            .ok_or_else(|| CliError::Demo("the watcher has no client id".into()))
    }

    /// Connects a new client of `user_id` and waits until the watcher shows it.
    async fn join(
        &mut self,
        user_id: &str,
        name: &str,
        mode: ConnectionMode,
        device: &str,
    ) -> Result<Participant, CliError> {
        let client = AudienceClient::new(
            Arc::new(self.service.clone()) as Arc<dyn DocumentService>,
            ConnectRequest::new(TENANT, DOCUMENT, User::new(user_id, name), mode),
            InteractiveOnly,
            client_options(self.pace),
        );
        let events = client.subscribe();
        client.connect().await?;
        let participant = Participant { client, events };
        let id = participant.client_id()?;
        let also = if self.printer.tracker().get(user_id).is_some() {
            " too"
        } else {
            ""
        };
        self.step(
            &format!("{name} opens the document on a {device}{also} ({mode}, {id})"),
            json!({"action": "join", "user_id": user_id, "name": name, "device": device, "mode": mode, "client_id": id}),
        )?;
        let shown = id.clone();
        self.settle(&format!("{name}'s join"), move |t, _| {
            t.has_connection(&shown)
        })
        .await?;
        Ok(participant)
    }

    /// Prints what the script just did.
    fn step(&mut self, text: &str, fields: serde_json::Value) -> Result<(), CliError> {
        let human = format!("> {text}");
        Ok(self.printer.note(self.clock, &human, "step", fields)?)
    }

    /// Prints the watcher's events until `done` holds between two batches, then the table.
    async fn settle(
        &mut self,
        what: &str,
        done: impl Fn(&Tracker<BasicMember>, &Stats) -> bool,
    ) -> Result<(), CliError> {
        let deadline = Instant::now() + STALL;
        let mut rest = true;
        while !(rest && done(self.printer.tracker(), &self.stats)) {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .map_err(|_| CliError::Demo(format!("no sign of {what} after {STALL:?}")))?
                .ok_or_else(|| CliError::Demo("the watcher stopped".into()))?;
            rest = at_rest(&event);
            self.handle(&event)?;
        }
        Ok(self.printer.flush_table()?)
    }

    fn handle(&mut self, event: &ClientEvent<BasicMember>) -> Result<(), CliError> {
        match event {
            ClientEvent::Audience(AudienceEvent::MemberAdded { member, .. }) => {
                self.stats.joins += 1;
                let peak = self
                    .stats
                    .peak_by_user
                    .entry(member.id.clone())
                    .or_default();
                *peak = (*peak).max(member.connections.len());
            }
            ClientEvent::Audience(AudienceEvent::MemberRemoved { .. }) => self.stats.leaves += 1,
            ClientEvent::Reconnecting { .. } => self.stats.reconnects += 1,
            ClientEvent::Closed { error } => {
                return Err(CliError::Demo(format!(
                    "the watcher closed: {}",
                    error.as_deref().unwrap_or("on request")
                )));
            }
            _ => {}
        }
        let watcher = &self.watcher;
        self.printer
            .event(self.clock, event, || watcher.get_members())?;
        self.stats.peak_connections = self
            .stats
            .peak_connections
            .max(self.printer.tracker().connection_count());
        Ok(())
    }

    /// Checks the end state against the watcher and the service, then prints the summary.
    fn summary(&mut self, summarizer: &str) -> Result<(), CliError> {
        let tracker = self.printer.tracker();
        // The event log, the watcher's own snapshot and the service's truth must agree.
        let snapshot = self.watcher.get_members();
        let from_events: Vec<&BasicMember> = tracker.members().collect();
        let from_client: Vec<&BasicMember> = snapshot.iter().collect();
        if from_events != from_client {
            return Err(CliError::Demo(
                "the members rebuilt from the events differ from get_members()".into(),
            ));
        }
        let truth = self.service.clients(DOCUMENT);
        let hidden: Vec<&str> = truth
            .iter()
            .map(|c| c.client_id.as_str())
            .filter(|id| !tracker.has_connection(id))
            .collect();
        if hidden != [summarizer] {
            return Err(CliError::Demo(format!(
                "unexpected hidden connections: {hidden:?}"
            )));
        }
        let members = members_json(tracker.members());
        let users = tracker.member_count();
        let connections = tracker.connection_count();
        let multi: Vec<String> = self
            .stats
            .peak_by_user
            .iter()
            // The watcher's old and new connections overlap for one batch when it reconnects
            // (the new one is added before the old one is removed): not a second device.
            .filter(|(user, n)| **n > 1 && user.as_str() != "watcher")
            .map(|(user, n)| format!("{user} was on {n} devices at once"))
            .collect();
        let reconnects = match self.stats.reconnects {
            1 => "once".to_owned(),
            n => format!("{n} times"),
        };
        let human = format!(
            "summary: {users} users with {connections} connections at the end; {} joins, {} leaves, \
             peak {} connections; {}; the watcher reconnected {reconnects}; {} hidden connection(s) \
             (the summarizer) never shown; seed {}",
            self.stats.joins,
            self.stats.leaves,
            self.stats.peak_connections,
            if multi.is_empty() {
                "nobody on two devices".to_owned()
            } else {
                multi.join(", ")
            },
            hidden.len(),
            self.seed,
        );
        let fields = json!({
            "seed": self.seed,
            "users": users,
            "connections": connections,
            "members": members,
            "joins": self.stats.joins,
            "leaves": self.stats.leaves,
            "peak_connections": self.stats.peak_connections,
            "peak_connections_by_user": self.stats.peak_by_user,
            "watcher_reconnects": self.stats.reconnects,
            "hidden_connections": hidden,
            "events": self.printer.event_count(),
        });
        let clock = self.clock;
        Ok(self.printer.note(clock, &human, "summary", fields)?)
    }
}

/// Waits on a participant's own events until it is connected again with a new client id.
async fn reconnected(participant: &mut Participant, old: &str) -> Result<ClientId, CliError> {
    let deadline = Instant::now() + STALL;
    loop {
        let event = tokio::time::timeout_at(deadline, participant.events.recv())
            .await
            .map_err(|_| CliError::Demo(format!("{old} did not reconnect")))?
            .ok_or_else(|| CliError::Demo(format!("{old}'s client stopped")))?;
        if let ClientEvent::Audience(AudienceEvent::Connected { client_id }) = event
            && client_id != old
        {
            return Ok(client_id);
        }
    }
}

/// Client options for every client of the demo: quick reconnects, paced like the script.
fn client_options(pace: f64) -> ClientOptions {
    ClientOptions {
        initial_backoff: scaled(RECONNECT, pace),
        max_backoff: scaled(RECONNECT, pace).max(Duration::from_millis(1)),
        connect_timeout: STALL,
        ..ClientOptions::default()
    }
}

/// `nominal` times `pace` (from 0 to [`MAX_PACE`] once parsed; anything else is clamped).
fn scaled(nominal: Duration, pace: f64) -> Duration {
    let pace = if pace.is_nan() {
        0.0
    } else {
        pace.clamp(0.0, MAX_PACE)
    };
    Duration::try_from_secs_f64(nominal.as_secs_f64() * pace).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_larger_pace_is_slower() {
        assert_eq!(scaled(STEP, 1.0), STEP);
        assert_eq!(scaled(STEP, 0.0), Duration::ZERO);
        assert_eq!(scaled(STEP, 2.0), Duration::from_millis(600));
        assert_eq!(scaled(Duration::from_secs(2), 0.5), Duration::from_secs(1));
        // The whole script at the largest pace: 10 steps of 300 ms, 10 times slower.
        assert_eq!(scaled(STEP * 10, MAX_PACE), Duration::from_secs(30));
        assert_eq!(scaled(STEP, 1e300), Duration::from_secs(3));
        assert_eq!(scaled(STEP, f64::NAN), Duration::ZERO);
    }
}
