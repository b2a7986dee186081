//! The real captures in `shared/protocol/traces` as fixtures: every client record and
//! join/leave message parses and round-trips, and replaying what one JS client received gives
//! the members that JS client printed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use audience_core::audience::{AudienceEvent, ServiceAudience};
use audience_core::member::{BasicMember, Member};
use audience_core::roster::{ConnectionState, RosterInput};
use audience_core::transport::Source;
use audience_core::wire::{
    Client, Membership, SequencedMessage, SignalClient, SignalMessage, TokenClaims,
};
use serde_json::Value;

fn traces_dir() -> PathBuf {
    // The shared folder sits beside the checkout (../shared); AUDIENCE_SHARED overrides.
    let root = std::env::var_os("AUDIENCE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    root.join("protocol/traces")
}

fn records(name: &str) -> Vec<Value> {
    let path = traces_dir().join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `(event name, args)` of a socket.io EVENT record.
fn sio_event(record: &Value) -> Option<(&str, &Vec<Value>)> {
    let sio = record.get("sio")?;
    Some((sio.get("event")?.as_str()?, sio.get("args")?.as_array()?))
}

fn ops(args: &[Value]) -> Vec<SequencedMessage> {
    // SequencedMessage keeps `contents` raw, which needs JSON text rather than a Value.
    serde_json::from_str(&args[1].to_string()).unwrap()
}

fn assert_round_trip(original: &Value, parsed: &Client) {
    assert_eq!(
        &serde_json::to_value(parsed).unwrap(),
        original,
        "client record changed meaning on a round trip"
    );
}

const TRACES: [&str; 4] = [
    "01-create.jsonl",
    "02-join-leave.jsonl",
    "03-summarizer.jsonl",
    "04-errors-readmode.jsonl",
];

#[test]
fn every_client_record_and_membership_message_parses_and_round_trips() {
    let (mut records_seen, mut joins, mut leaves) = (0, 0, 0);
    for name in TRACES {
        for record in records(name) {
            let Some((event, args)) = sio_event(&record) else {
                continue;
            };
            match event {
                "connect_document" => {
                    let raw = &args[0]["client"];
                    // The invalid message of trace 04 has no client at all.
                    if raw.is_object() {
                        let client: Client = serde_json::from_value(raw.clone()).unwrap();
                        assert_round_trip(raw, &client);
                        records_seen += 1;
                    }
                }
                "connect_document_success" => {
                    let _: TokenClaims = serde_json::from_value(args[0]["claims"].clone()).unwrap();
                    for raw in args[0]["initialClients"].as_array().unwrap() {
                        let sc: SignalClient = serde_json::from_value(raw.clone()).unwrap();
                        assert_round_trip(&raw["client"], &sc.client);
                        records_seen += 1;
                    }
                }
                "signal" => {
                    let signal: SignalMessage = serde_json::from_value(args[0].clone()).unwrap();
                    match signal.membership().unwrap() {
                        Some(Membership::Join(sc)) => {
                            let content: Value =
                                serde_json::from_str(signal.content.as_str().unwrap()).unwrap();
                            assert_round_trip(&content["content"]["client"], &sc.client);
                            joins += 1;
                        }
                        Some(Membership::Leave(id)) => {
                            assert_eq!(id.len(), 36, "client ids are UUIDs");
                            leaves += 1;
                        }
                        None => assert!(
                            signal.client_id.is_some(),
                            "a system signal must be a join or a leave"
                        ),
                    }
                }
                "op" => {
                    for op in ops(args) {
                        match op.membership().unwrap() {
                            Some(Membership::Join(sc)) => {
                                let data: Value =
                                    serde_json::from_str(op.data.as_deref().unwrap()).unwrap();
                                assert_round_trip(&data["detail"], &sc.client);
                                joins += 1;
                            }
                            Some(Membership::Leave(_)) => leaves += 1,
                            None => assert!(!matches!(op.kind.as_str(), "join" | "leave")),
                        }
                    }
                }
                _ => {}
            }
        }
    }
    // Counted over the four files: they hold dozens of each, and a silent skip would show here.
    assert!(records_seen >= 20, "client records seen: {records_seen}");
    assert!(joins >= 40, "joins seen: {joins}");
    assert!(leaves >= 20, "leaves seen: {leaves}");
}

/// One member as the JS client prints it: user id -> (name, [(client id, mode)]).
type JsView = BTreeMap<String, (Option<String>, Vec<(String, String)>)>;

fn js_view(get_members: &Value) -> JsView {
    get_members
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, m)| {
            let conns = m["connections"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["id"].as_str().unwrap().to_owned(),
                        c["mode"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            (id.clone(), (m["name"].as_str().map(str::to_owned), conns))
        })
        .collect()
}

fn rust_view(audience: &ServiceAudience<BasicMember>) -> JsView {
    audience
        .get_members()
        .iter()
        .map(|m| {
            let conns = m
                .connections()
                .iter()
                .map(|c| (c.id.to_string(), c.mode.to_string()))
                .collect();
            (m.id.clone(), (m.name.clone(), conns))
        })
        .collect()
}

/// Replays the server-to-client frames of the connection whose own client id is `client_id`
/// and compares with the `members` lines JS printed after it connected.
fn replay_and_compare(frames: &[Value], js_lines: &[Value], client_id: &str) -> usize {
    let conn = frames
        .iter()
        .find(|r| {
            sio_event(r).is_some_and(|(e, a)| {
                e == "connect_document_success" && a[0]["clientId"] == client_id
            })
        })
        .and_then(|r| r["conn"].as_str())
        .unwrap()
        .to_owned();
    let mine: Vec<&Value> = frames
        .iter()
        .filter(|r| r["conn"] == conn.as_str() && r["dir"] == "s2c" && sio_event(r).is_some())
        .collect();

    // Transport contract: Connected first, then everything buffered before it, in order.
    let mut audience: ServiceAudience<BasicMember> = ServiceAudience::default();
    let mut inputs: Vec<(f64, RosterInput)> = Vec::new();
    let mut early = Vec::new();
    let mut connected = false;
    for record in mine {
        let at = record["epoch_ms"].as_f64().unwrap();
        let (event, args) = sio_event(record).unwrap();
        let mut batch = Vec::new();
        match event {
            "connect_document_success" => {
                let initial: Vec<SignalClient> =
                    serde_json::from_value(args[0]["initialClients"].clone()).unwrap();
                batch.push(RosterInput::Connected {
                    client_id: client_id.to_owned(),
                    initial_clients: initial,
                });
                batch.append(&mut early);
                connected = true;
            }
            "signal" => {
                let signal: SignalMessage = serde_json::from_value(args[0].clone()).unwrap();
                match signal.membership().unwrap() {
                    Some(Membership::Join(client)) => batch.push(RosterInput::Joined {
                        client,
                        source: Source::Signal,
                    }),
                    Some(Membership::Leave(id)) => batch.push(RosterInput::Left {
                        client_id: id,
                        source: Source::Signal,
                    }),
                    None => {}
                }
            }
            "op" => {
                for op in ops(args) {
                    match op.membership().unwrap() {
                        Some(Membership::Join(client)) => batch.push(RosterInput::Joined {
                            client,
                            source: Source::Op,
                        }),
                        Some(Membership::Leave(id)) => batch.push(RosterInput::Left {
                            client_id: id,
                            source: Source::Op,
                        }),
                        None => {}
                    }
                }
            }
            _ => {}
        }
        if connected {
            inputs.extend(batch.into_iter().map(|i| (at, i)));
        } else {
            early.extend(batch);
        }
    }

    // The proxy's clock and the JS clients' differ by a fraction of a millisecond, so the two
    // are aligned by causality, not time: first the view once we are connected, then each
    // memberAdded/memberRemoved JS printed against each one we emitted, in order.
    let mut inputs = inputs.into_iter().map(|(_, input)| input);
    for input in inputs.by_ref() {
        audience.apply(input);
        if audience.connection_state() == ConnectionState::Connected {
            break;
        }
    }
    let connected_at = js_lines
        .iter()
        .position(|l| l["event"] == "members" && l["why"] == "connected")
        .unwrap();
    let line = &js_lines[connected_at];
    assert_eq!(
        rust_view(&audience),
        js_view(&line["getMembers"]),
        "members differ once connected: {line}"
    );
    let mut compared = 1;

    let mut ours = Vec::new();
    for input in inputs {
        for event in audience.apply(input) {
            let (kind, client_id, member) = match event {
                AudienceEvent::MemberAdded { client_id, member } => {
                    ("memberAdded", client_id, member)
                }
                AudienceEvent::MemberRemoved { client_id, member } => {
                    ("memberRemoved", client_id, member)
                }
                _ => continue,
            };
            let myself = audience.get_myself().map(|m| m.current_connection);
            ours.push((
                kind,
                client_id,
                member_view(&member),
                rust_view(&audience),
                myself,
            ));
        }
    }
    let theirs: Vec<&Value> = js_lines[connected_at..]
        .iter()
        .filter(|l| l["event"] == "memberAdded" || l["event"] == "memberRemoved")
        .collect();
    assert_eq!(
        ours.len(),
        theirs.len(),
        "number of member events after connecting"
    );
    for ((kind, client_id, member, view, myself), js) in ours.iter().zip(&theirs) {
        assert_eq!(js["event"], *kind);
        assert_eq!(js["clientId"], client_id.as_str());
        let js_member = js_view(&serde_json::json!({ "m": js["member"] }))
            .remove("m")
            .unwrap();
        assert_eq!(member, &js_member, "event member differs at {js}");
        // The `members` line JS printed right after this event.
        let after = js_lines
            .iter()
            .skip_while(|l| !std::ptr::eq(*l, *js))
            .find(|l| l["event"] == "members")
            .unwrap();
        assert_eq!(
            view,
            &js_view(&after["getMembers"]),
            "members differ at {after}"
        );
        assert_eq!(
            myself.as_deref(),
            after["getMyself"]["currentConnection"].as_str()
        );
        compared += 1;
    }
    compared
}

fn member_view(member: &BasicMember) -> (Option<String>, Vec<(String, String)>) {
    (
        member.name.clone(),
        member
            .connections()
            .iter()
            .map(|c| (c.id.to_string(), c.mode.to_string()))
            .collect(),
    )
}

#[test]
fn replaying_02_join_leave_matches_what_each_js_client_printed() {
    let frames = records("02-join-leave.jsonl");
    let lines = records("02-join-leave.clients.jsonl");
    let mut labels: Vec<&str> = lines.iter().filter_map(|l| l["label"].as_str()).collect();
    labels.sort();
    labels.dedup();
    let mut total = 0;
    for label in &labels {
        let own: Vec<Value> = lines
            .iter()
            .filter(|l| l["label"] == *label)
            .cloned()
            .collect();
        let Some(client_id) = own
            .iter()
            .find(|l| l["event"] == "connected")
            .and_then(|l| l["clientId"].as_str())
        else {
            continue;
        };
        let compared = replay_and_compare(&frames, &own, client_id);
        assert!(compared >= 1, "{label}: nothing compared");
        eprintln!("{label}: {compared} points compared");
        total += compared;
    }
    // watcher 7, alice 4, bob 4, alice2 1: every add and remove after connecting, plus the connected view.
    assert_eq!(total, 16, "points compared");
}
