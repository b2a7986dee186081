//! The same script gives the same ids and the same events, every run.

mod common;

use audience_core::transport::ServiceEvent;
use audience_core::wire::ClientId;
use audience_core::wire::ConnectionMode::{Read, Write};
use audience_mock::{Delivered, MockService, MockServiceConfig, request};
use common::*;
use serde_json::json;

struct Run {
    ids: Vec<ClientId>,
    transcript: Vec<Delivered>,
    per_client: Vec<Vec<ServiceEvent>>,
}

/// A script touching every feature: joins, readers, a summarizer, signals, every fault.
fn script(seed: u64) -> Run {
    let svc = MockService::with_config(MockServiceConfig {
        seed,
        record_transcript: true,
        ..Default::default()
    });
    let mut conns = Vec::new();
    for (n, mode) in [Write, Write, Read, Write, Write].into_iter().enumerate() {
        conns.push(
            svc.connect_mock(&request(DOC, &format!("u{n}"), mode))
                .unwrap(),
        );
    }
    let id = |n: usize, conns: &Vec<audience_mock::MockConnection>| conns[n].info.client_id.clone();
    let summarizer = svc.spawn_summarizer(DOC, "u0").unwrap();

    svc.drop_next(&id(1, &conns), 1).unwrap();
    svc.duplicate_next(&id(2, &conns), 2).unwrap();
    svc.reorder_next(&id(3, &conns)).unwrap();
    svc.hold(&id(4, &conns)).unwrap();
    for (n, conn) in conns.iter().enumerate() {
        conn.sender.send_signal(json!({ "n": n }), None).unwrap();
    }
    conns[0]
        .sender
        .send_signal(json!("psst"), Some(id(2, &conns)))
        .unwrap();
    svc.partition(&id(1, &conns)).unwrap();
    conns[1].sender.send_signal(json!("delayed"), None).unwrap();
    svc.evict(&id(3, &conns)).unwrap();
    conns[3].sender.submit_noop().unwrap();
    svc.release(&id(4, &conns)).unwrap();
    svc.heal(&id(1, &conns)).unwrap();
    svc.kill(&id(4, &conns)).unwrap();
    svc.close(&summarizer).unwrap();
    conns[2].sender.close_now();

    let mut ids: Vec<ClientId> = conns.iter().map(|c| c.info.client_id.clone()).collect();
    ids.push(summarizer);
    let per_client = conns.iter_mut().map(|c| c.events.drain()).collect();
    Run {
        ids,
        transcript: svc.transcript(),
        per_client,
    }
}

/// Replaces every client id by its index in `ids`, so runs with different seeds compare.
fn normalized(run: &Run) -> String {
    let mut text = format!("{:?}{:?}", run.transcript, run.per_client);
    for (n, id) in run.ids.iter().enumerate() {
        text = text.replace(id.as_str(), &format!("client#{n}"));
    }
    text
}

#[test]
fn same_script_same_seed_gives_identical_event_sequences() {
    let first = script(11);
    let second = script(11);
    assert_eq!(first.ids, second.ids);
    assert_eq!(first.transcript, second.transcript);
    assert_eq!(first.per_client, second.per_client);
    // The transcript is the per-client queues interleaved in service order.
    for (n, id) in first.ids.iter().take(5).enumerate() {
        let from_transcript: Vec<_> = first
            .transcript
            .iter()
            .filter(|d| &d.to == id)
            .map(|d| d.event.clone())
            .collect();
        assert_eq!(from_transcript, first.per_client[n], "client {n}");
    }
    assert_eq!(
        first.transcript.len(),
        first.per_client.iter().map(Vec::len).sum::<usize>()
    );
    // Counted by hand from the script (e.g. client 4: 4 joins, 5 signals + 1 leave op held and
    // released, the delayed signal, its own disconnect).
    assert_eq!(
        first.per_client.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![23, 20, 22, 19, 12]
    );
}

#[test]
fn another_seed_changes_the_ids_but_not_the_story() {
    let first = script(11);
    let other = script(12);
    assert!(first.ids.iter().all(|id| !other.ids.contains(id)));
    assert_eq!(normalized(&first), normalized(&other));
}

#[test]
fn transcript_is_off_by_default() {
    let svc = MockService::new();
    let a = svc.connect_mock(&request(DOC, "uA", Write)).unwrap();
    a.sender.send_signal(json!(1), None).unwrap();
    assert!(svc.transcript().is_empty());
}
