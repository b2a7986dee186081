//! Human output: the member table and one log line per event.

use std::fmt::Write as _;
use std::time::Duration;

use audience_core::audience::AudienceEvent;
use audience_core::client::ClientEvent;
use audience_core::member::Member;

use super::colour::Painter;
use super::{DisplayName, stamp};
use crate::tracker::Tracker;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `Ann (ann)` in Ann's colour; just `ann` without a name.
pub fn who<M: Member + DisplayName>(painter: &Painter, member: &M) -> String {
    let text = match member.display_name() {
        Some(name) if name != member.id() => format!("{name} ({})", member.id()),
        _ => member.id().to_owned(),
    };
    painter.user(member.id(), &text)
}

fn mode_of<M: Member>(member: &M, client_id: &str) -> &'static str {
    member
        .connections()
        .iter()
        .find(|c| &*c.id == client_id)
        .map_or("?", |c| c.mode.as_str())
}

/// The log line of `event` at `t`; `None` for `MembersChanged` (the table follows instead).
/// `tracker` is the state before the event.
pub fn event_line<M: Member + DisplayName>(
    painter: &Painter,
    t: Duration,
    event: &ClientEvent<M>,
    tracker: &Tracker<M>,
) -> Option<String> {
    let text = match event {
        ClientEvent::Audience(audience) => match audience {
            AudienceEvent::MemberAdded { client_id, member } => {
                let count = member.connections().len();
                let mut line = format!(
                    "+ {} joined: connection {client_id} [{}]",
                    who(painter, member.as_ref()),
                    mode_of(member.as_ref(), client_id)
                );
                if count > 1 {
                    let _ = write!(line, ", now {}", plural(count, "connection", "connections"));
                }
                line
            }
            AudienceEvent::MemberRemoved { client_id, member } => {
                let left = member.connections().len().saturating_sub(1);
                let mut line = format!(
                    "- {} left: connection {client_id} [{}]",
                    who(painter, member.as_ref()),
                    mode_of(member.as_ref(), client_id)
                );
                if left > 0 {
                    let _ = write!(
                        line,
                        ", {} still open",
                        plural(left, "connection", "connections")
                    );
                }
                line
            }
            AudienceEvent::MembersChanged(_) => return None,
            AudienceEvent::Connected { client_id } => {
                painter.bold(&format!("connected as {client_id}"))
            }
            AudienceEvent::Disconnected => {
                painter.bold("disconnected (the member list is stale until reconnected)")
            }
            AudienceEvent::SelfChanged { old, new } => {
                format!("own client id changed: {old} -> {new}")
            }
        },
        ClientEvent::Signal(signal) => {
            let from = match tracker.member_of_connection(&signal.client_id) {
                Some(member) => format!("{} via {}", who(painter, member), signal.client_id),
                None => signal.client_id.clone(),
            };
            let to = match &signal.target_client_id {
                Some(target) => format!(" to {target}"),
                None => String::new(),
            };
            format!("signal from {from}{to}: {}", signal.content)
        }
        ClientEvent::Nack(nack) => format!(
            "the service refused an op ({} {}): {}",
            nack.content.code, nack.content.kind, nack.content.message
        ),
        ClientEvent::Reconnecting {
            attempt,
            delay,
            reason,
        } => painter.bold(&format!(
            "reconnecting (attempt {attempt} in {}ms): {reason}",
            delay.as_millis()
        )),
        ClientEvent::Lagged { missed } => {
            format!("fell behind and missed {missed} events; re-reading the members")
        }
        ClientEvent::Closed { error: None } => painter.bold("closed"),
        ClientEvent::Closed { error: Some(error) } => {
            painter.bold(&format!("closed for good: {error}"))
        }
    };
    Some(format!("{} {text}", painter.dim(&stamp(t))))
}

/// The member table: a header line, then one row per user (id, name, connections).
pub fn members_table<M: Member + DisplayName>(painter: &Painter, tracker: &Tracker<M>) -> String {
    let mut out = format!(
        "{}\n",
        painter.bold(&format!(
            "members: {}, {}",
            plural(tracker.member_count(), "user", "users"),
            plural(tracker.connection_count(), "connection", "connections")
        ))
    );
    let rows: Vec<(String, String, String)> = tracker
        .members()
        .map(|m| {
            let connections: Vec<String> = m
                .connections()
                .iter()
                .map(|c| {
                    let you = if tracker.self_id() == Some(&*c.id) {
                        ", you"
                    } else {
                        ""
                    };
                    format!("{} [{}{you}]", c.id, c.mode)
                })
                .collect();
            (
                m.id().to_owned(),
                m.display_name().unwrap_or("-").to_owned(),
                connections.join(", "),
            )
        })
        .collect();
    if rows.is_empty() {
        out.push_str("  (nobody)\n");
        return out;
    }
    let id_width = rows
        .iter()
        .map(|r| r.0.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let name_width = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let _ = writeln!(
        out,
        "  {:id_width$}  {:name_width$}  CONNECTIONS",
        "USER", "NAME"
    );
    for (id, name, connections) in rows {
        // Pad before painting: escape codes have no width on screen.
        let id_cell = painter.user(&id, &format!("{id:id_width$}"));
        let name_cell = painter.user(&id, &format!("{name:name_width$}"));
        let _ = writeln!(out, "  {id_cell}  {name_cell}  {connections}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use audience_core::audience::ServiceAudience;
    use audience_core::member::{BasicMember, Connection};
    use audience_core::roster::RosterInput;
    use audience_core::transport::{InboundSignal, Source};
    use audience_core::wire::{Client, ConnectionMode, SignalClient, User};

    fn member(id: &str, name: Option<&str>, connections: &[(&str, ConnectionMode)]) -> BasicMember {
        let client = Arc::new(Client::interactive(
            User::new(id, name.unwrap_or(id)),
            ConnectionMode::Write,
        ));
        BasicMember {
            id: id.into(),
            name: name.map(str::to_owned),
            connections: connections
                .iter()
                .map(|(cid, mode)| Connection {
                    id: (*cid).into(),
                    mode: *mode,
                    client: Arc::clone(&client),
                })
                .collect(),
        }
    }

    /// A tracker fed by a real `ServiceAudience`: we are `me`; `joins` are (client id, user
    /// id, name, mode).
    fn tracked(me: &str, joins: &[(&str, &str, &str, ConnectionMode)]) -> Tracker<BasicMember> {
        let mut audience: ServiceAudience<BasicMember> = ServiceAudience::default();
        let mut tracker = Tracker::default();
        let mut inputs = vec![RosterInput::Connected {
            client_id: me.into(),
            initial_clients: vec![],
        }];
        inputs.extend(
            joins
                .iter()
                .map(|(id, user, name, mode)| RosterInput::Joined {
                    client: SignalClient::new(
                        *id,
                        Client::interactive(User::new(*user, *name), *mode),
                    ),
                    source: Source::Signal,
                }),
        );
        for input in inputs {
            for event in audience.apply(input) {
                tracker.apply(&event);
            }
        }
        tracker
    }

    #[test]
    fn table_columns_line_up_and_colour_only_the_user() {
        let tracker = tracked(
            "b1",
            &[
                ("b1", "bob", "Bob", ConnectionMode::Write),
                ("a1", "ann", "Ann Long-Name", ConnectionMode::Write),
                ("a2", "ann", "Ann Long-Name", ConnectionMode::Read),
            ],
        );
        let plain = members_table(&Painter::new(false), &tracker);
        assert_eq!(
            plain,
            "\
members: 2 users, 3 connections
  USER  NAME           CONNECTIONS
  ann   Ann Long-Name  a1 [write], a2 [read]
  bob   Bob            b1 [write, you]
"
        );
        let coloured = members_table(&Painter::new(true), &tracker);
        assert!(
            coloured.contains("\x1b[38;5;166mann \x1b[0m"),
            "{coloured:?}"
        );
        assert!(
            coloured.contains("\x1b[38;5;99mBob          \x1b[0m"),
            "{coloured:?}"
        );
    }

    #[test]
    fn empty_table_says_nobody() {
        let tracker: Tracker<BasicMember> = Tracker::default();
        assert_eq!(
            members_table(&Painter::new(false), &tracker),
            "members: 0 users, 0 connections\n  (nobody)\n"
        );
    }

    #[test]
    fn log_lines_describe_each_event() {
        let painter = Painter::new(false);
        let tracker = Tracker::default();
        let ann = Arc::new(member(
            "ann",
            Some("Ann"),
            &[("a1", ConnectionMode::Write), ("a2", ConnectionMode::Read)],
        ));
        let t = Duration::from_millis(1234);
        let added = ClientEvent::Audience(AudienceEvent::MemberAdded {
            client_id: "a2".into(),
            member: Arc::clone(&ann),
        });
        assert_eq!(
            event_line(&painter, t, &added, &tracker).unwrap(),
            "[+1.23s] + Ann (ann) joined: connection a2 [read], now 2 connections"
        );
        let tracker = tracked(
            "me",
            &[
                ("a1", "ann", "Ann", ConnectionMode::Write),
                ("a2", "ann", "Ann", ConnectionMode::Read),
            ],
        );
        let removed = ClientEvent::Audience(AudienceEvent::MemberRemoved {
            client_id: "a1".into(),
            member: Arc::clone(&ann),
        });
        assert_eq!(
            event_line(&painter, t, &removed, &tracker).unwrap(),
            "[+1.23s] - Ann (ann) left: connection a1 [write], 1 connection still open"
        );
        let signal: ClientEvent<BasicMember> = ClientEvent::Signal(InboundSignal {
            client_id: "a2".into(),
            content: serde_json::json!({"x": 1}),
            target_client_id: Some("me".into()),
        });
        assert_eq!(
            event_line(&painter, t, &signal, &tracker).unwrap(),
            "[+1.23s] signal from Ann (ann) via a2 to me: {\"x\":1}"
        );
        let reconnecting: ClientEvent<BasicMember> = ClientEvent::Reconnecting {
            attempt: 1,
            delay: Duration::from_millis(250),
            reason: "connection lost: killed".into(),
        };
        assert_eq!(
            event_line(&painter, t, &reconnecting, &tracker).unwrap(),
            "[+1.23s] reconnecting (attempt 1 in 250ms): connection lost: killed"
        );
        let changed: ClientEvent<BasicMember> =
            ClientEvent::Audience(AudienceEvent::MembersChanged(Default::default()));
        assert_eq!(event_line(&painter, t, &changed, &tracker), None);
    }
}
