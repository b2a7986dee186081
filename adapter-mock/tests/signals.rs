//! Application signals: fan-out to the whole document (sender included) or one target.

mod common;

use audience_core::transport::TransportError;
use audience_core::wire::ConnectionMode::{Read, Write};
use audience_mock::{MockConnection, MockService, request};
use common::*;
use serde_json::json;

fn three(svc: &MockService) -> (MockConnection, MockConnection, MockConnection) {
    let mut a = svc.connect_mock(&request(DOC, "uA", Write)).unwrap();
    let mut b = svc.connect_mock(&request(DOC, "uB", Write)).unwrap();
    let mut r = svc.connect_mock(&request(DOC, "uR", Read)).unwrap();
    a.events.drain();
    b.events.drain();
    r.events.drain();
    (a, b, r)
}

#[test]
fn broadcast_reaches_every_connection_including_the_sender() {
    let svc = MockService::new();
    let (mut a, mut b, mut r) = three(&svc);
    let mut elsewhere = svc.connect_mock(&request("other", "uX", Write)).unwrap();
    elsewhere.events.drain();

    let content =
        json!({"address": "A", "contents": {"type": "greet", "content": {"from": "alice"}}});
    a.sender.send_signal(content.clone(), None).unwrap();
    let expected = vec![signal(a.client_id(), content, None)];
    assert_eq!(a.events.drain(), expected);
    assert_eq!(b.events.drain(), expected);
    assert_eq!(r.events.drain(), expected);
    assert!(elsewhere.events.drain().is_empty());
}

#[test]
fn readers_may_signal_too() {
    let svc = MockService::new();
    let (mut a, mut b, mut r) = three(&svc);
    r.sender.send_signal(json!("from a reader"), None).unwrap();
    let expected = vec![signal(r.client_id(), json!("from a reader"), None)];
    assert_eq!(a.events.drain(), expected);
    assert_eq!(b.events.drain(), expected);
    assert_eq!(r.events.drain(), expected);
}

#[test]
fn targeted_signal_reaches_only_the_target() {
    let svc = MockService::new();
    let (mut a, mut b, mut r) = three(&svc);
    let b_id = b.info.client_id.clone();
    a.sender
        .send_signal(json!({"cursor": [1, 2]}), Some(b_id.clone()))
        .unwrap();
    assert_eq!(
        b.events.drain(),
        vec![signal(
            a.client_id(),
            json!({"cursor": [1, 2]}),
            Some(&b_id)
        )]
    );
    assert!(a.events.drain().is_empty());
    assert!(r.events.drain().is_empty());

    // Sending to oneself works like any target.
    let a_id = a.info.client_id.clone();
    a.sender
        .send_signal(json!("me"), Some(a_id.clone()))
        .unwrap();
    assert_eq!(
        a.events.drain(),
        vec![signal(&a_id, json!("me"), Some(&a_id))]
    );
}

#[test]
fn targets_that_left_or_live_elsewhere_are_dropped_quietly() {
    let svc = MockService::new();
    let (mut a, b, mut r) = three(&svc);
    let b_id = b.info.client_id.clone();
    b.sender.close_now();
    a.events.drain();
    r.events.drain();

    assert_eq!(a.sender.send_signal(json!("late"), Some(b_id)), Ok(()));
    let other = svc.connect_mock(&request("other", "uX", Write)).unwrap();
    assert_eq!(
        a.sender
            .send_signal(json!("cross"), Some(other.info.client_id.clone())),
        Ok(())
    );
    assert_eq!(
        a.sender
            .send_signal(json!("nobody"), Some("not-a-client".into())),
        Ok(())
    );
    assert!(a.events.drain().is_empty());
    assert!(r.events.drain().is_empty());
    let mut other = other;
    assert_eq!(
        other.events.drain().len(),
        2,
        "only its own join signal and op"
    );
}

#[test]
fn a_closed_sender_reports_closed() {
    let svc = MockService::new();
    let (a, _b, _r) = three(&svc);
    let sender = a.sender.clone();
    sender.close_now();
    assert_eq!(
        a.sender.send_signal(json!(1), None),
        Err(TransportError::Closed)
    );
}

#[test]
fn signals_keep_their_order_per_receiver() {
    let svc = MockService::new();
    let (a, mut b, _r) = three(&svc);
    for n in 0..20 {
        a.sender.send_signal(json!(n), None).unwrap();
    }
    let got: Vec<_> = b.events.drain();
    let expected: Vec<_> = (0..20)
        .map(|n| signal(a.client_id(), json!(n), None))
        .collect();
    assert_eq!(got, expected);
}
