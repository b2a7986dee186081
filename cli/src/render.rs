//! Output: the member table and event log for people, JSON lines for programs, user colours.
//!
//! A [`Printer`] receives every [`ClientEvent`] of one subscription, keeps a [`Tracker`] of
//! the members, and writes either human lines (an event log with relative timestamps, the
//! member table after changes) or one JSON object per line.

pub mod colour;
pub mod json;
pub mod sanitize;
pub mod table;

use std::io::Write;
use std::time::Duration;

use audience_core::audience::{AudienceEvent, MembersSnapshot};
use audience_core::client::ClientEvent;
use audience_core::member::{BasicMember, Member};
use serde_json::{Map, Value};

use crate::tracker::Tracker;
use colour::Painter;

/// A member type with a display name.
pub trait DisplayName {
    /// The user's display name, if the service sent one.
    fn display_name(&self) -> Option<&str>;
}

impl DisplayName for BasicMember {
    fn display_name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

#[cfg(feature = "tinylicious")]
impl DisplayName for audience_tinylicious::TinyliciousMember {
    fn display_name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Event log and member table, coloured by the painter.
    Human(Painter),
    /// One JSON object per line.
    Json,
}

impl Format {
    /// JSON lines if `json`, else human output coloured iff stdout wants colour.
    pub fn for_stdout(json: bool) -> Self {
        if json {
            Format::Json
        } else {
            Format::Human(Painter::new(colour::stdout_wants_colour()))
        }
    }
}

/// `[+1.25s]`: a relative timestamp.
pub fn stamp(t: Duration) -> String {
    format!("[+{:.2}s]", t.as_secs_f64())
}

/// Milliseconds of `t`, for JSON.
pub fn millis(t: Duration) -> u64 {
    u64::try_from(t.as_millis()).unwrap_or(u64::MAX)
}

/// `{"event": kind, "t_ms": t, ...fields}` (fields that are not an object are ignored).
pub fn json_line(kind: &str, t: Duration, fields: Value) -> Value {
    let mut object = Map::new();
    object.insert("event".into(), Value::from(kind));
    object.insert("t_ms".into(), Value::from(millis(t)));
    if let Value::Object(fields) = fields {
        object.extend(fields);
    }
    Value::Object(object)
}

/// Prints one subscription's events and keeps the members they describe.
#[derive(Debug)]
pub struct Printer<M, W> {
    format: Format,
    out: W,
    tracker: Tracker<M>,
    /// The members changed since the table was last printed (human output).
    dirty: bool,
    events: u64,
}

impl<M: Member + DisplayName, W: Write> Printer<M, W> {
    /// A printer writing `format` to `out`.
    pub fn new(format: Format, out: W) -> Self {
        Printer {
            format,
            out,
            tracker: Tracker::default(),
            dirty: false,
            events: 0,
        }
    }

    /// The members as of the last event.
    pub fn tracker(&self) -> &Tracker<M> {
        &self.tracker
    }

    /// How many events were printed.
    pub fn event_count(&self) -> u64 {
        self.events
    }

    /// Prints one event at relative time `t`. JSON: the event, then the members after each
    /// change. Human: the log line; the table waits for [`Printer::flush_table`], so a burst
    /// of joins prints one table. `latest` is read only after a lag, to start over.
    pub fn event(
        &mut self,
        t: Duration,
        event: &ClientEvent<M>,
        latest: impl FnOnce() -> MembersSnapshot<M>,
    ) -> std::io::Result<()> {
        // Lines about a leaving connection name the member before the change.
        let line = match self.format {
            Format::Human(painter) => table::event_line(&painter, t, event, &self.tracker),
            Format::Json => None,
        };
        let json = match self.format {
            Format::Json => json::event_json(t, event, &self.tracker),
            Format::Human(_) => None,
        };
        let mut changed = false;
        match event {
            ClientEvent::Audience(audience) => {
                self.tracker.apply(audience);
                changed = matches!(audience, AudienceEvent::MembersChanged(_));
            }
            ClientEvent::Lagged { .. } => {
                self.tracker.resync(&latest());
                changed = true;
            }
            _ => {}
        }
        if let Some(line) = line {
            self.events += 1;
            writeln!(self.out, "{line}")?;
        }
        if let Some(json) = json {
            self.events += 1;
            writeln!(self.out, "{json}")?;
        }
        if changed {
            match self.format {
                Format::Json => {
                    let snapshot = json::members_line(t, self.tracker.members());
                    writeln!(self.out, "{snapshot}")?;
                }
                Format::Human(_) => self.dirty = true,
            }
        }
        self.out.flush()
    }

    /// Follows an audience event without printing it (to name the senders of signals).
    pub fn observe(&mut self, event: &ClientEvent<M>, latest: impl FnOnce() -> MembersSnapshot<M>) {
        match event {
            ClientEvent::Audience(audience) => self.tracker.apply(audience),
            ClientEvent::Lagged { .. } => self.tracker.resync(&latest()),
            _ => {}
        }
    }

    /// Human output: prints the member table if the members changed since the last one.
    pub fn flush_table(&mut self) -> std::io::Result<()> {
        if let Format::Human(painter) = self.format
            && self.dirty
        {
            self.dirty = false;
            write!(
                self.out,
                "{}",
                table::members_table(&painter, &self.tracker)
            )?;
            self.out.flush()?;
        }
        Ok(())
    }

    /// Prints a line of our own (a demo step, a status): `human` for people, or
    /// `{"event": kind, "t_ms": .., ...fields}`.
    pub fn note(
        &mut self,
        t: Duration,
        human: &str,
        kind: &str,
        fields: Value,
    ) -> std::io::Result<()> {
        match self.format {
            Format::Human(painter) => writeln!(self.out, "{} {human}", painter.dim(&stamp(t)))?,
            Format::Json => writeln!(self.out, "{}", json_line(kind, t, fields))?,
        }
        self.out.flush()
    }

    /// The writer (tests read what was printed).
    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use audience_core::audience::ServiceAudience;
    use audience_core::roster::RosterInput;
    use audience_core::transport::Source;
    use audience_core::wire::{Client, ConnectionMode, SignalClient, User};
    use serde_json::json;

    fn join(id: &str, user: &str, name: &str, mode: ConnectionMode) -> RosterInput {
        RosterInput::Joined {
            client: SignalClient::new(id, Client::interactive(User::new(user, name), mode)),
            source: Source::Signal,
        }
    }

    /// A session driven through the real `ServiceAudience`: Ann is there, we join, Ann
    /// leaves. The table is flushed after each batch.
    fn script(format: Format) -> String {
        let mut audience: ServiceAudience<BasicMember> = ServiceAudience::default();
        let batches: Vec<(u64, Vec<RosterInput>)> = vec![
            (
                0,
                vec![
                    RosterInput::Connected {
                        client_id: "c-me".into(),
                        initial_clients: vec![],
                    },
                    join("c-ann", "ann", "Ann", ConnectionMode::Write),
                ],
            ),
            (
                250,
                vec![join("c-me", "watcher", "Watcher", ConnectionMode::Read)],
            ),
            (
                1500,
                vec![RosterInput::Left {
                    client_id: "c-ann".into(),
                    source: Source::Signal,
                }],
            ),
        ];
        let batches: Vec<(u64, Vec<AudienceEvent<BasicMember>>)> = batches
            .into_iter()
            .map(|(t, inputs)| {
                (
                    t,
                    inputs.into_iter().flat_map(|i| audience.apply(i)).collect(),
                )
            })
            .collect();
        let mut printer = Printer::new(format, Vec::new());
        for (t, events) in batches {
            for event in events {
                printer
                    .event(
                        Duration::from_millis(t),
                        &ClientEvent::Audience(event),
                        || unreachable!("no lag here"),
                    )
                    .unwrap();
            }
            printer.flush_table().unwrap();
        }
        String::from_utf8(printer.into_inner()).unwrap()
    }

    #[test]
    fn json_lines_are_events_then_snapshots() {
        let out = script(Format::Json);
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let ann =
            json!({"id": "ann", "name": "Ann", "connections": [{"id": "c-ann", "mode": "write"}]});
        let me = json!({"id": "watcher", "name": "Watcher", "connections": [{"id": "c-me", "mode": "read"}]});
        assert_eq!(
            lines,
            vec![
                json!({"event": "member_added", "t_ms": 0, "user_id": "ann", "name": "Ann", "client_id": "c-ann", "mode": "write"}),
                json!({"event": "members", "t_ms": 0, "members": {"ann": ann.clone()}}),
                json!({"event": "member_added", "t_ms": 250, "user_id": "watcher", "name": "Watcher", "client_id": "c-me", "mode": "read"}),
                json!({"event": "members", "t_ms": 250, "members": {"ann": ann, "watcher": me.clone()}}),
                json!({"event": "connected", "t_ms": 250, "client_id": "c-me"}),
                json!({"event": "member_removed", "t_ms": 1500, "user_id": "ann", "name": "Ann", "client_id": "c-ann", "mode": "write"}),
                json!({"event": "members", "t_ms": 1500, "members": {"watcher": me}}),
            ]
        );
    }

    #[test]
    fn human_output_is_a_log_with_tables_after_changes() {
        let out = script(Format::Human(Painter::new(false)));
        let expected = "\
[+0.00s] + Ann (ann) joined: connection c-ann [write]
members: 1 user, 1 connection
  USER  NAME  CONNECTIONS
  ann   Ann   c-ann [write]
[+0.25s] + Watcher (watcher) joined: connection c-me [read]
[+0.25s] connected as c-me
members: 2 users, 2 connections
  USER     NAME     CONNECTIONS
  ann      Ann      c-ann [write]
  watcher  Watcher  c-me [read, you]
[+1.50s] - Ann (ann) left: connection c-ann [write]
members: 1 user, 1 connection
  USER     NAME     CONNECTIONS
  watcher  Watcher  c-me [read, you]
";
        assert_eq!(out, expected);
    }

    #[test]
    fn notes_carry_kind_and_time() {
        let mut json: Printer<BasicMember, Vec<u8>> = Printer::new(Format::Json, Vec::new());
        json.note(
            Duration::from_millis(1200),
            "ignored",
            "step",
            json!({"action": "kill"}),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(json.into_inner()).unwrap(),
            "{\"event\":\"step\",\"t_ms\":1200,\"action\":\"kill\"}\n"
        );
        let mut human: Printer<BasicMember, Vec<u8>> =
            Printer::new(Format::Human(Painter::new(false)), Vec::new());
        human
            .note(
                Duration::from_millis(1200),
                "> Bob's laptop dies",
                "step",
                json!({}),
            )
            .unwrap();
        assert_eq!(
            String::from_utf8(human.into_inner()).unwrap(),
            "[+1.20s] > Bob's laptop dies\n"
        );
    }
}
