//! Human output: the member table and one log line per event.
//!
//! Every string that came from the network (names, ids, signal contents, the server's reasons)
//! goes through [`sanitize`] before it is printed.

use std::fmt::Write as _;
use std::time::Duration;

use audience_core::audience::AudienceEvent;
use audience_core::client::ClientEvent;
use audience_core::member::Member;

use super::colour::Painter;
use super::sanitize::sanitize;
use super::{DisplayName, stamp};
use crate::tracker::Tracker;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `Ann (ann)` in Ann's colour; just `ann` without a name.
pub fn who<M: Member + DisplayName>(painter: &Painter, member: &M) -> String {
    let id = sanitize(member.id());
    let text = match member.display_name() {
        Some(name) if name != member.id() => format!("{} ({id})", sanitize(name)),
        _ => id.into_owned(),
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
                    "+ {} joined: connection {} [{}]",
                    who(painter, member.as_ref()),
                    sanitize(client_id),
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
                    "- {} left: connection {} [{}]",
                    who(painter, member.as_ref()),
                    sanitize(client_id),
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
                painter.bold(&format!("connected as {}", sanitize(client_id)))
            }
            AudienceEvent::Disconnected => {
                painter.bold("disconnected (the member list is stale until reconnected)")
            }
            AudienceEvent::SelfChanged { old, new } => {
                format!(
                    "own client id changed: {} -> {}",
                    sanitize(old),
                    sanitize(new)
                )
            }
        },
        ClientEvent::Signal(signal) => {
            let sender = sanitize(&signal.client_id);
            let from = match tracker.member_of_connection(&signal.client_id) {
                Some(member) => format!("{} via {sender}", who(painter, member)),
                None => sender.into_owned(),
            };
            let to = match &signal.target_client_id {
                Some(target) => format!(" to {}", sanitize(target)),
                None => String::new(),
            };
            // JSON text escapes C0 controls in strings, but not DEL, C1 or bidi controls.
            let content = signal.content.to_string();
            format!("signal from {from}{to}: {}", sanitize(&content))
        }
        ClientEvent::Nack(nack) => format!(
            "the service refused an op ({} {}): {}",
            nack.content.code,
            sanitize(&nack.content.kind),
            sanitize(&nack.content.message)
        ),
        ClientEvent::Reconnecting {
            attempt,
            delay,
            reason,
        } => painter.bold(&format!(
            "reconnecting (attempt {attempt} in {}ms): {}",
            delay.as_millis(),
            sanitize(reason)
        )),
        ClientEvent::Lagged { missed } => {
            format!("fell behind and missed {missed} events; re-reading the members")
        }
        ClientEvent::Closed { error: None } => painter.bold("closed"),
        ClientEvent::Closed { error: Some(error) } => {
            painter.bold(&format!("closed for good: {}", sanitize(error)))
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
    let rows: Vec<Row> = tracker
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
                    format!("{} [{}{you}]", sanitize(&c.id), c.mode)
                })
                .collect();
            Row {
                colour_key: m.id(),
                id: sanitize(m.id()).into_owned(),
                name: sanitize(m.display_name().unwrap_or("-")).into_owned(),
                connections: connections.join(", "),
            }
        })
        .collect();
    if rows.is_empty() {
        out.push_str("  (nobody)\n");
        return out;
    }
    let width = |cells: &mut dyn Iterator<Item = &String>| {
        cells.map(|c| c.chars().count()).max().unwrap_or(0).max(4)
    };
    let id_width = width(&mut rows.iter().map(|r| &r.id));
    let name_width = width(&mut rows.iter().map(|r| &r.name));
    let _ = writeln!(
        out,
        "  {:id_width$}  {:name_width$}  CONNECTIONS",
        "USER", "NAME"
    );
    for row in rows {
        // Pad before painting: escape codes have no width on screen.
        let id_cell = painter.user(row.colour_key, &format!("{:id_width$}", row.id));
        let name_cell = painter.user(row.colour_key, &format!("{:name_width$}", row.name));
        let _ = writeln!(out, "  {id_cell}  {name_cell}  {}", row.connections);
    }
    out
}

/// One line of the member table, sanitized.
struct Row<'a> {
    /// The raw user id, which picks the colour.
    colour_key: &'a str,
    id: String,
    name: String,
    connections: String,
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

    /// The attacker's strings: a name that recolours and forges lines, an id that sets the
    /// terminal title.
    const EVIL_NAME: &str = "evil\x1b[31mred\nnewline\r";
    const EVIL_ID: &str = "u\x1b]0;pwned\x07";
    const SHOWN_NAME: &str = r"evil\u{1b}[31mred\u{a}newline\u{d}";
    const SHOWN_ID: &str = r"u\u{1b}]0;pwned\u{7}";

    /// No control character of any kind, except the ESC of our own colour codes if `ours`.
    fn assert_inert(text: &str, ours: &[&str]) {
        let mut rest = text.to_owned();
        for code in ours {
            rest = rest.replace(code, "");
        }
        for line in rest.split('\n') {
            assert!(
                !line.chars().any(crate::render::sanitize::is_unsafe),
                "{line:?} in {text:?}"
            );
        }
    }

    #[test]
    fn remote_names_and_ids_cannot_drive_the_terminal() {
        let evil = member(
            EVIL_ID,
            Some(EVIL_NAME),
            &[("c\x1b[2Jx", ConnectionMode::Write)],
        );
        let plain = Painter::new(false);
        assert_eq!(who(&plain, &evil), format!("{SHOWN_NAME} ({SHOWN_ID})"));

        // Painted: our colour around the escaped text, nothing else.
        let painted = who(&Painter::new(true), &evil);
        let colour = crate::render::colour::user_colour(EVIL_ID);
        assert_eq!(
            painted,
            format!("\x1b[38;5;{colour}m{SHOWN_NAME} ({SHOWN_ID})\x1b[0m")
        );

        let t = Duration::from_millis(10);
        let tracker = Tracker::default();
        let added = ClientEvent::Audience(AudienceEvent::MemberAdded {
            client_id: "c\x1b[2Jx".into(),
            member: Arc::new(evil.clone()),
        });
        assert_eq!(
            event_line(&plain, t, &added, &tracker).unwrap(),
            format!(
                "[+0.01s] + {SHOWN_NAME} ({SHOWN_ID}) joined: connection c\\u{{1b}}[2Jx [write]"
            )
        );
        let self_changed: ClientEvent<BasicMember> =
            ClientEvent::Audience(AudienceEvent::SelfChanged {
                old: "a\rb".into(),
                new: "c\u{202e}d".into(),
            });
        assert_eq!(
            event_line(&plain, t, &self_changed, &tracker).unwrap(),
            r"[+0.01s] own client id changed: a\u{d}b -> c\u{202e}d"
        );
    }

    #[test]
    fn the_member_table_cannot_be_forged() {
        // A member whose name would end its row and print a fake one.
        let mut audience: ServiceAudience<BasicMember> = ServiceAudience::default();
        let mut tracker = Tracker::default();
        let inputs = vec![
            RosterInput::Connected {
                client_id: "me".into(),
                initial_clients: vec![],
            },
            RosterInput::Joined {
                client: SignalClient::new(
                    "c1\t",
                    Client::interactive(
                        User::new(EVIL_ID, "x\n  admin    Admin    c0 [write, you]"),
                        ConnectionMode::Write,
                    ),
                ),
                source: Source::Signal,
            },
        ];
        for input in inputs {
            for event in audience.apply(input) {
                tracker.apply(&event);
            }
        }
        let table = members_table(&Painter::new(false), &tracker);
        assert_eq!(
            table,
            format!(
                "\
members: 1 user, 1 connection
  USER{pad}  NAME{pad2}  CONNECTIONS
  {SHOWN_ID}  x\\u{{a}}  admin    Admin    c0 [write, you]  c1\\u{{9}} [write]
",
                pad = " ".repeat(SHOWN_ID.len() - 4),
                pad2 = " ".repeat("x\\u{a}  admin    Admin    c0 [write, you]".len() - 4),
            )
        );
        assert_eq!(table.lines().count(), 3);
        let colour = crate::render::colour::user_colour(EVIL_ID);
        let painted = members_table(&Painter::new(true), &tracker);
        assert_inert(
            &painted,
            &[&format!("\x1b[38;5;{colour}m"), "\x1b[1m", "\x1b[0m"],
        );
    }

    #[test]
    fn signals_nacks_and_reasons_are_escaped() {
        let plain = Painter::new(false);
        let t = Duration::ZERO;
        let tracker = Tracker::default();
        // JSON text escapes C0 controls itself, but not DEL, C1 (CSI is U+009B) or bidi.
        let signal: ClientEvent<BasicMember> = ClientEvent::Signal(InboundSignal {
            client_id: EVIL_ID.into(),
            content: serde_json::json!({"x": "\u{9b}31m\u{7f}\u{2066}", "nl": "\n"}),
            target_client_id: Some("t\x07".into()),
        });
        assert_eq!(
            event_line(&plain, t, &signal, &tracker).unwrap(),
            format!(
                r#"[+0.00s] signal from {SHOWN_ID} to t\u{{7}}: {{"x":"\u{{9b}}31m\u{{7f}}\u{{2066}}","nl":"\n"}}"#
            )
        );
        let nack: ClientEvent<BasicMember> = ClientEvent::Nack(
            serde_json::from_value(serde_json::json!({
                "operation": null,
                "sequenceNumber": -1,
                "content": {"code": 400, "type": "Bad\x1b[5m", "message": "no\r\nway"}
            }))
            .unwrap(),
        );
        assert_eq!(
            event_line(&plain, t, &nack, &tracker).unwrap(),
            r"[+0.00s] the service refused an op (400 Bad\u{1b}[5m): no\u{d}\u{a}way"
        );
        let reconnecting: ClientEvent<BasicMember> = ClientEvent::Reconnecting {
            attempt: 1,
            delay: Duration::ZERO,
            reason: "server said \x1b]0;pwned\x07".into(),
        };
        assert_eq!(
            event_line(&plain, t, &reconnecting, &tracker).unwrap(),
            r"[+0.00s] reconnecting (attempt 1 in 0ms): server said \u{1b}]0;pwned\u{7}"
        );
        let closed: ClientEvent<BasicMember> = ClientEvent::Closed {
            error: Some("bye\u{85}now".into()),
        };
        assert_eq!(
            event_line(&plain, t, &closed, &tracker).unwrap(),
            r"[+0.00s] closed for good: bye\u{85}now"
        );
    }
}
