//! Fault injection: drop, duplicate, hold/release, reorder, kill, partition/heal/expire, evict.

mod common;

use audience_core::transport::{DisconnectReason, ServiceEvent};
use audience_core::wire::ConnectionMode::{Read, Write};
use audience_mock::{MockConnection, MockError, MockService, request};
use common::*;
use serde_json::json;

/// A and B (writers) connected, their queues drained.
fn pair(svc: &MockService) -> (MockConnection, MockConnection) {
    let mut a = svc.connect_mock(&request(DOC, "uA", Write)).unwrap();
    let mut b = svc.connect_mock(&request(DOC, "uB", Write)).unwrap();
    a.events.drain();
    b.events.drain();
    (a, b)
}

fn nack_message(event: &ServiceEvent) -> Option<(&str, u16, &str, i64)> {
    match event {
        ServiceEvent::Nack(nack) => Some((
            nack.content.message.as_str(),
            nack.content.code,
            nack.content.kind.as_str(),
            nack.sequence_number,
        )),
        _ => None,
    }
}

#[test]
fn drop_next_discards_exactly_n_messages_to_that_client() {
    let svc = MockService::new();
    let (mut a, mut b) = pair(&svc);
    svc.drop_next(b.client_id(), 2).unwrap();
    let c = svc.connect_mock(&request(DOC, "uC", Write)).unwrap();
    let c_rec = record(&svc, DOC, c.client_id());
    a.sender.send_signal(json!("after"), None).unwrap();
    assert_eq!(
        b.events.drain(),
        vec![signal(a.client_id(), json!("after"), None)]
    );
    assert_eq!(
        a.events.drain(),
        vec![
            join_signal(&c_rec),
            join_op(&c_rec),
            signal(a.client_id(), json!("after"), None)
        ]
    );
}

#[test]
fn duplicate_next_delivers_each_of_n_messages_twice() {
    let svc = MockService::new();
    let (a, mut b) = pair(&svc);
    svc.duplicate_next(b.client_id(), 1).unwrap();
    a.sender.send_signal(json!(1), None).unwrap();
    a.sender.send_signal(json!(2), None).unwrap();
    let s = |n| signal(a.client_id(), json!(n), None);
    assert_eq!(b.events.drain(), vec![s(1), s(1), s(2)]);
}

#[test]
fn hold_buffers_until_release_then_delivers_in_order() {
    let svc = MockService::new();
    let (mut a, mut b) = pair(&svc);
    let b_id = b.info.client_id.clone();
    svc.hold(&b_id).unwrap();
    a.sender.send_signal(json!("x"), None).unwrap();
    let c = svc.connect_mock(&request(DOC, "uC", Read)).unwrap();
    let c_rec = record(&svc, DOC, c.client_id());
    let expected = vec![signal(a.client_id(), json!("x"), None), join_signal(&c_rec)];
    assert!(b.events.drain().is_empty());
    assert_eq!(svc.held(&b_id).unwrap(), expected);
    assert_eq!(a.events.drain(), expected, "others are not held");

    svc.release(&b_id).unwrap();
    assert_eq!(b.events.drain(), expected);
    assert!(svc.held(&b_id).unwrap().is_empty());
    a.sender.send_signal(json!("y"), None).unwrap();
    assert_eq!(
        b.events.drain(),
        vec![signal(a.client_id(), json!("y"), None)]
    );
}

#[test]
fn release_as_delivers_a_leave_before_the_late_join() {
    // C-13: the leave signal arrives before the join op has been processed.
    let svc = MockService::new();
    let (_a, mut b) = pair(&svc);
    let b_id = b.info.client_id.clone();
    svc.hold(&b_id).unwrap();
    let c = svc.connect_mock(&request(DOC, "uC", Write)).unwrap();
    let c_rec = record(&svc, DOC, c.client_id());
    let c_id = c.info.client_id.clone();
    drop(c);
    assert_eq!(
        svc.held(&b_id).unwrap(),
        vec![
            join_signal(&c_rec),
            join_op(&c_rec),
            leave_signal(&c_id),
            leave_op(&c_id)
        ]
    );
    assert_eq!(
        svc.release_as(&b_id, &[2, 4]),
        Err(MockError::NoSuchHeldMessage {
            client: b_id.clone(),
            index: 4,
            held: 4
        })
    );
    assert_eq!(
        svc.held(&b_id).unwrap().len(),
        4,
        "a bad index changes nothing"
    );
    svc.release_as(&b_id, &[2, 1, 3]).unwrap();
    assert_eq!(
        b.events.drain(),
        vec![leave_signal(&c_id), join_op(&c_rec), leave_op(&c_id)]
    );
}

#[test]
fn reorder_next_swaps_the_next_two_messages() {
    let svc = MockService::new();
    let (mut a, mut b) = pair(&svc);
    svc.reorder_next(b.client_id()).unwrap();
    let c = svc.connect_mock(&request(DOC, "uC", Write)).unwrap();
    let c_rec = record(&svc, DOC, c.client_id());
    a.sender.send_signal(json!("in order"), None).unwrap();
    assert_eq!(
        b.events.drain(),
        vec![
            join_op(&c_rec),
            join_signal(&c_rec),
            signal(a.client_id(), json!("in order"), None)
        ]
    );
    a.events.drain();

    // The first message of a pair waits for the second.
    svc.reorder_next(b.client_id()).unwrap();
    a.sender.send_signal(json!(1), None).unwrap();
    assert!(b.events.drain().is_empty());
    a.sender.send_signal(json!(2), None).unwrap();
    let a_id = a.info.client_id.clone();
    let s = |n| signal(&a_id, json!(n), None);
    assert_eq!(b.events.drain(), vec![s(2), s(1)]);
    assert_eq!(a.events.drain(), vec![s(1), s(2)]);
}

#[test]
fn kill_ends_the_client_abruptly_and_the_others_see_it_leave() {
    let svc = MockService::new();
    let (mut a, mut b) = pair(&svc);
    let mut r = svc.connect_mock(&request(DOC, "uR", Read)).unwrap();
    r.events.drain();
    a.events.drain();
    b.events.drain();
    let b_id = b.info.client_id.clone();

    svc.kill(&b_id).unwrap();
    assert_eq!(
        b.events.drain(),
        vec![disconnected(DisconnectReason::ConnectionLost(
            "connection reset by the mock service".into()
        ))]
    );
    assert!(b.events.is_ended());
    assert_eq!(a.events.drain(), vec![leave_signal(&b_id), leave_op(&b_id)]);
    assert_eq!(r.events.drain(), vec![leave_signal(&b_id), leave_op(&b_id)]);
    assert_eq!(
        ids(&svc, DOC),
        vec![a.info.client_id.clone(), r.info.client_id.clone()]
    );
    assert_eq!(svc.kill(&b_id), Err(MockError::UnknownClient(b_id.clone())));
    assert_eq!(
        b.sender.send_signal(json!(1), None),
        Err(audience_core::transport::TransportError::Closed)
    );

    // Killing a reader: leave signal only.
    let r_id = r.info.client_id.clone();
    svc.kill(&r_id).unwrap();
    assert_eq!(a.events.drain(), vec![leave_signal(&r_id)]);
}

#[tokio::test]
async fn killed_event_source_ends_after_the_disconnect() {
    use audience_core::transport::EventSource;
    let svc = MockService::new();
    let (_a, mut b) = pair(&svc);
    svc.kill(b.client_id()).unwrap();
    assert!(matches!(
        b.events.next_event().await,
        Some(ServiceEvent::Disconnected(
            DisconnectReason::ConnectionLost(_)
        ))
    ));
    assert_eq!(b.events.next_event().await, None);
}

#[test]
fn partition_then_heal_delivers_both_directions_late() {
    let svc = MockService::new();
    let (mut a, mut b) = pair(&svc);
    let b_id = b.info.client_id.clone();
    svc.partition(&b_id).unwrap();

    a.sender.send_signal(json!("to everyone"), None).unwrap();
    let c = svc.connect_mock(&request(DOC, "uC", Write)).unwrap();
    let c_rec = record(&svc, DOC, c.client_id());
    assert!(
        c.info
            .initial_clients
            .iter()
            .any(|client| client.client_id == b_id),
        "the server still counts B"
    );
    b.sender.send_signal(json!("from B"), None).unwrap();
    b.sender.submit_noop().unwrap();
    assert!(b.events.drain().is_empty());
    let before_heal = vec![
        signal(a.client_id(), json!("to everyone"), None),
        join_signal(&c_rec),
        join_op(&c_rec),
    ];
    assert_eq!(a.events.drain(), before_heal);

    svc.heal(&b_id).unwrap();
    let from_b = signal(&b_id, json!("from B"), None);
    let mut expected_b = before_heal.clone();
    expected_b.push(from_b.clone());
    assert_eq!(
        b.events.drain(),
        expected_b,
        "buffered messages first, then its own signal"
    );
    assert_eq!(a.events.drain(), vec![from_b]);
    assert_eq!(svc.quorum(DOC).len(), 3);
}

#[test]
fn close_while_partitioned_reaches_the_server_on_heal() {
    let svc = MockService::new();
    let (mut a, mut b) = pair(&svc);
    let b_id = b.info.client_id.clone();
    svc.partition(&b_id).unwrap();
    b.sender.send_signal(json!("last words"), None).unwrap();
    b.sender.close_now();
    assert_eq!(
        b.events.drain(),
        vec![disconnected(DisconnectReason::Closed)]
    );
    assert!(b.events.is_ended());
    assert!(a.events.drain().is_empty());
    assert_eq!(ids(&svc, DOC).len(), 2, "the server has not noticed yet");

    svc.heal(&b_id).unwrap();
    assert_eq!(
        a.events.drain(),
        vec![
            signal(&b_id, json!("last words"), None),
            leave_signal(&b_id),
            leave_op(&b_id)
        ]
    );
    assert_eq!(ids(&svc, DOC), vec![a.info.client_id.clone()]);
}

#[test]
fn expire_drops_a_partitioned_client_like_a_ping_timeout() {
    let svc = MockService::new();
    let (mut a, mut b) = pair(&svc);
    let b_id = b.info.client_id.clone();
    svc.partition(&b_id).unwrap();
    a.sender
        .send_signal(json!("never seen by B"), None)
        .unwrap();
    b.sender
        .send_signal(json!("never seen by A"), None)
        .unwrap();
    a.events.drain();

    svc.expire(&b_id).unwrap();
    assert_eq!(
        b.events.drain(),
        vec![disconnected(DisconnectReason::Timeout)]
    );
    assert!(b.events.is_ended());
    assert_eq!(a.events.drain(), vec![leave_signal(&b_id), leave_op(&b_id)]);
    assert_eq!(svc.heal(&b_id), Err(MockError::UnknownClient(b_id.clone())));
}

#[test]
fn expire_without_partition_is_a_server_side_drop() {
    let svc = MockService::new();
    let (mut a, mut b) = pair(&svc);
    let b_id = b.info.client_id.clone();
    svc.expire(&b_id).unwrap();
    assert_eq!(
        b.events.drain(),
        vec![disconnected(DisconnectReason::ConnectionLost(
            "the service dropped the connection after a ping timeout".into()
        ))]
    );
    assert_eq!(a.events.drain(), vec![leave_signal(&b_id), leave_op(&b_id)]);
}

#[test]
fn evict_sequences_a_leave_op_while_the_socket_stays_open() {
    // C-14.
    let svc = MockService::new();
    let (mut a, mut b) = pair(&svc);
    let mut r = svc.connect_mock(&request(DOC, "uR", Read)).unwrap();
    a.events.drain();
    b.events.drain();
    r.events.drain();
    let (a_id, b_id, r_id) = (
        a.info.client_id.clone(),
        b.info.client_id.clone(),
        r.info.client_id.clone(),
    );

    svc.evict(&b_id).unwrap();
    assert_eq!(a.events.drain(), vec![leave_op(&b_id)]);
    assert_eq!(r.events.drain(), vec![leave_op(&b_id)]);
    assert_eq!(
        b.events.drain(),
        vec![leave_op(&b_id)],
        "the evicted client sees its own leave op"
    );
    assert_eq!(svc.quorum(DOC), vec![a_id.clone()]);
    assert_eq!(
        ids(&svc, DOC),
        vec![a_id.clone(), b_id.clone(), r_id.clone()],
        "socket still open"
    );

    // Its next op is refused; the others' are fine.
    b.sender.submit_noop().unwrap();
    let nacks = b.events.drain();
    assert_eq!(nacks.len(), 1);
    assert_eq!(
        nack_message(&nacks[0]),
        Some(("Nonexistent client", 400, "BadRequestError", -1))
    );
    match &nacks[0] {
        ServiceEvent::Nack(nack) => assert!(nack.is_nonexistent_client()),
        other => panic!("expected a nack, got {other:?}"),
    }
    svc.submit_noop(&a_id).unwrap();
    assert!(a.events.drain().is_empty());

    // Signals still flow both ways.
    b.sender.send_signal(json!("still here"), None).unwrap();
    assert_eq!(
        a.events.drain(),
        vec![signal(&b_id, json!("still here"), None)]
    );
    assert_eq!(
        b.events.drain(),
        vec![signal(&b_id, json!("still here"), None)]
    );

    // A later joiner still lists it (the room still has the socket).
    let d = svc.connect_mock(&request(DOC, "uD", Write)).unwrap();
    assert!(d.info.initial_clients.iter().any(|c| c.client_id == b_id));
    a.events.drain();

    assert_eq!(svc.evict(&b_id), Err(MockError::NotInQuorum(b_id.clone())));
    assert_eq!(svc.evict(&r_id), Err(MockError::NotInQuorum(r_id.clone())));

    // When it finally closes, only the leave signal remains to be sent.
    b.sender.close_now();
    assert_eq!(a.events.drain(), vec![leave_signal(&b_id)]);
}

#[test]
fn a_reader_submitting_an_op_is_nacked_readonly() {
    let svc = MockService::new();
    let mut r = svc.connect_mock(&request(DOC, "uR", Read)).unwrap();
    r.events.drain();
    r.sender.submit_noop().unwrap();
    let events = r.events.drain();
    assert_eq!(events.len(), 1);
    assert_eq!(
        nack_message(&events[0]),
        Some(("Readonly client", 400, "BadRequestError", -1))
    );
}

#[test]
fn faults_on_unknown_clients_are_errors() {
    let svc = MockService::new();
    let unknown = MockError::UnknownClient("nope".into());
    assert_eq!(svc.drop_next("nope", 1), Err(unknown.clone()));
    assert_eq!(svc.duplicate_next("nope", 1), Err(unknown.clone()));
    assert_eq!(svc.reorder_next("nope"), Err(unknown.clone()));
    assert_eq!(svc.hold("nope"), Err(unknown.clone()));
    assert_eq!(svc.release("nope"), Err(unknown.clone()));
    assert_eq!(svc.held("nope"), Err(unknown.clone()));
    assert_eq!(svc.partition("nope"), Err(unknown.clone()));
    assert_eq!(svc.heal("nope"), Err(unknown.clone()));
    assert_eq!(svc.expire("nope"), Err(unknown.clone()));
    assert_eq!(svc.evict("nope"), Err(unknown.clone()));
    assert_eq!(svc.kill("nope"), Err(unknown.clone()));
    assert_eq!(svc.close("nope"), Err(unknown));
    assert_eq!(
        svc.submit_noop("nope"),
        Err(audience_core::transport::TransportError::Closed)
    );
}

#[test]
fn killing_a_held_client_discards_what_was_held() {
    let svc = MockService::new();
    let (a, mut b) = pair(&svc);
    svc.hold(b.client_id()).unwrap();
    a.sender.send_signal(json!("held"), None).unwrap();
    svc.kill(b.client_id()).unwrap();
    assert_eq!(
        b.events.drain(),
        vec![disconnected(DisconnectReason::ConnectionLost(
            "connection reset by the mock service".into()
        ))]
    );
}

#[test]
fn hold_next_connect_holds_the_own_join_of_the_next_connection_only() {
    let svc = MockService::new();
    let (mut a, _b) = pair(&svc);
    svc.hold_next_connect();
    let mut c = svc.connect_mock(&request(DOC, "uC", Write)).unwrap();
    let c_rec = record(&svc, DOC, c.client_id());
    let c_id = c.info.client_id.clone();
    assert!(c.events.drain().is_empty());
    assert_eq!(
        svc.held(&c_id).unwrap(),
        vec![join_signal(&c_rec), join_op(&c_rec)]
    );
    assert_eq!(
        a.events.drain(),
        vec![join_signal(&c_rec), join_op(&c_rec)],
        "others are not held"
    );

    // The own join is lost for good; later messages flow.
    svc.release_as(&c_id, &[]).unwrap();
    a.sender.send_signal(json!("hi"), None).unwrap();
    assert_eq!(
        c.events.drain(),
        vec![signal(a.client_id(), json!("hi"), None)]
    );

    let mut d = svc.connect_mock(&request(DOC, "uD", Read)).unwrap();
    let d_rec = record(&svc, DOC, d.client_id());
    assert_eq!(
        d.events.drain(),
        vec![join_signal(&d_rec)],
        "only one connection was held"
    );
}
