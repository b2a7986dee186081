//! JSON lines: one object per event, `{"event": .., "t_ms": .., ...}`.
//!
//! Member snapshots have the shape of JS `getMembers()` turned into an object:
//! `{"<user id>": {"id", "name", "connections": [{"id", "mode"}]}}`.

use std::time::Duration;

use audience_core::audience::AudienceEvent;
use audience_core::client::ClientEvent;
use audience_core::member::Member;
use serde_json::{Map, Value, json};

use super::{DisplayName, json_line, millis};
use crate::tracker::Tracker;

/// `{"id", "name", "connections": [{"id", "mode"}]}` (`name` is `null` when unknown).
pub fn member_json<M: Member + DisplayName>(member: &M) -> Value {
    let connections: Vec<Value> = member
        .connections()
        .iter()
        .map(|c| json!({"id": &*c.id, "mode": c.mode}))
        .collect();
    json!({
        "id": member.id(),
        "name": member.display_name(),
        "connections": connections,
    })
}

/// `{"<user id>": member, ...}` in the order given.
pub fn members_json<'a, M: Member + DisplayName>(members: impl Iterator<Item = &'a M>) -> Value {
    let map: Map<String, Value> = members
        .map(|m| (m.id().to_owned(), member_json(m)))
        .collect();
    Value::Object(map)
}

/// `{"event": "members", "t_ms": .., "members": {...}}`.
pub fn members_line<'a, M: Member + DisplayName>(
    t: Duration,
    members: impl Iterator<Item = &'a M>,
) -> Value {
    json_line("members", t, json!({ "members": members_json(members) }))
}

/// The mode of connection `client_id` of `member`, as text.
fn mode_of<M: Member>(member: &M, client_id: &str) -> Value {
    member
        .connections()
        .iter()
        .find(|c| &*c.id == client_id)
        .map_or(Value::Null, |c| Value::from(c.mode.as_str()))
}

fn membership<M: Member + DisplayName>(client_id: &str, member: &M) -> Value {
    json!({
        "user_id": member.id(),
        "name": member.display_name(),
        "client_id": client_id,
        "mode": mode_of(member, client_id),
    })
}

/// The JSON line of `event`; `None` for `MembersChanged` (the snapshot line stands for it).
/// `tracker` is the state before the event (to name a signal's sender).
pub fn event_json<M: Member + DisplayName>(
    t: Duration,
    event: &ClientEvent<M>,
    tracker: &Tracker<M>,
) -> Option<Value> {
    let line = match event {
        ClientEvent::Audience(audience) => match audience {
            AudienceEvent::MemberAdded { client_id, member } => {
                json_line("member_added", t, membership(client_id, member.as_ref()))
            }
            AudienceEvent::MemberRemoved { client_id, member } => {
                json_line("member_removed", t, membership(client_id, member.as_ref()))
            }
            AudienceEvent::MembersChanged(_) => return None,
            AudienceEvent::Connected { client_id } => {
                json_line("connected", t, json!({ "client_id": client_id }))
            }
            AudienceEvent::Disconnected => json_line("disconnected", t, json!({})),
            AudienceEvent::SelfChanged { old, new } => {
                json_line("self_changed", t, json!({ "old": old, "new": new }))
            }
        },
        ClientEvent::Signal(signal) => {
            let sender = tracker.member_of_connection(&signal.client_id);
            json_line(
                "signal",
                t,
                json!({
                    "from": signal.client_id,
                    "user_id": sender.map(|m| m.id()),
                    "name": sender.and_then(|m| m.display_name()),
                    "to": signal.target_client_id,
                    "content": signal.content,
                }),
            )
        }
        ClientEvent::Nack(nack) => json_line(
            "nack",
            t,
            json!({ "code": nack.content.code, "type": nack.content.kind, "message": nack.content.message }),
        ),
        ClientEvent::Reconnecting {
            attempt,
            delay,
            reason,
        } => json_line(
            "reconnecting",
            t,
            json!({ "attempt": attempt, "delay_ms": millis(*delay), "reason": reason }),
        ),
        ClientEvent::Lagged { missed } => json_line("lagged", t, json!({ "missed": missed })),
        ClientEvent::Closed { error } => json_line("closed", t, json!({ "error": error })),
    };
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use audience_core::member::{BasicMember, Connection};
    use audience_core::transport::InboundSignal;
    use audience_core::wire::{Client, ConnectionMode, User};

    fn ann() -> BasicMember {
        let client = Arc::new(Client::interactive(
            User::new("ann", "Ann"),
            ConnectionMode::Write,
        ));
        let mut member = BasicMember::from_client("ann", &client);
        for (id, mode) in [("c1", ConnectionMode::Write), ("c2", ConnectionMode::Read)] {
            member.connections_mut().push(Connection {
                id: id.into(),
                mode,
                client: Arc::clone(&client),
            });
        }
        member
    }

    #[test]
    fn members_have_the_get_members_shape() {
        let nameless = BasicMember {
            id: "x".into(),
            name: None,
            connections: vec![],
        };
        let members = [ann(), nameless];
        assert_eq!(
            members_json(members.iter()).to_string(),
            r#"{"ann":{"id":"ann","name":"Ann","connections":[{"id":"c1","mode":"write"},{"id":"c2","mode":"read"}]},"x":{"id":"x","name":null,"connections":[]}}"#
        );
    }

    #[test]
    fn events_name_the_connection_and_its_mode() {
        let tracker = Tracker::default();
        let removed: ClientEvent<BasicMember> =
            ClientEvent::Audience(AudienceEvent::MemberRemoved {
                client_id: "c2".into(),
                member: Arc::new(ann()),
            });
        assert_eq!(
            event_json(Duration::from_millis(5), &removed, &tracker),
            Some(
                json!({"event": "member_removed", "t_ms": 5, "user_id": "ann", "name": "Ann", "client_id": "c2", "mode": "read"})
            )
        );
        let reconnecting: ClientEvent<BasicMember> = ClientEvent::Reconnecting {
            attempt: 2,
            delay: Duration::from_millis(500),
            reason: "connection lost: reset".into(),
        };
        assert_eq!(
            event_json(Duration::ZERO, &reconnecting, &tracker),
            Some(
                json!({"event": "reconnecting", "t_ms": 0, "attempt": 2, "delay_ms": 500, "reason": "connection lost: reset"})
            )
        );
        let changed: ClientEvent<BasicMember> =
            ClientEvent::Audience(AudienceEvent::MembersChanged(Default::default()));
        assert_eq!(event_json(Duration::ZERO, &changed, &tracker), None);
        let signal: ClientEvent<BasicMember> = ClientEvent::Signal(InboundSignal {
            client_id: "c9".into(),
            content: json!({"type": "hi"}),
            target_client_id: None,
        });
        assert_eq!(
            event_json(Duration::ZERO, &signal, &tracker),
            Some(
                json!({"event": "signal", "t_ms": 0, "from": "c9", "user_id": null, "name": null, "to": null, "content": {"type": "hi"}})
            )
        );
    }
}
