//! Connect, join order, records, readers, summarizers and clean leaves.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use ConnectionMode::{Read, Write};
use audience_core::transport::{DisconnectReason, DocumentService, ServiceEvent, TransportError};
use audience_core::wire::{ConnectionMode, User};
use audience_mock::{MockError, MockService, request, summarizer_request};
use common::*;

#[test]
fn own_join_signal_comes_first_then_join_op_and_others_get_signal_then_op() {
    let svc = MockService::new();
    let mut a = svc.connect_mock(&request(DOC, "uA", Write)).unwrap();
    let a_rec = interactive_record(&a.info.client_id, "uA", Write);
    assert!(a.info.initial_clients.is_empty());
    assert_eq!(a.events.drain(), vec![join_signal(&a_rec), join_op(&a_rec)]);

    let mut b = svc.connect_mock(&request(DOC, "uB", Write)).unwrap();
    let b_rec = interactive_record(&b.info.client_id, "uB", Write);
    assert_eq!(b.info.initial_clients, vec![a_rec.clone()]);
    assert_eq!(b.events.drain(), vec![join_signal(&b_rec), join_op(&b_rec)]);
    assert_eq!(a.events.drain(), vec![join_signal(&b_rec), join_op(&b_rec)]);
    assert_eq!(svc.clients(DOC), vec![a_rec, b_rec]);
    assert_eq!(
        svc.quorum(DOC),
        vec![a.info.client_id.clone(), b.info.client_id.clone()]
    );
}

#[test]
fn connect_info_reports_mode_claims_and_limits() {
    let svc = MockService::new();
    let a = svc.connect_mock(&request(DOC, "uA", Write)).unwrap();
    assert_eq!(a.info.mode, Write);
    assert_eq!(a.info.max_message_size, Some(16_384));
    let claims = a.info.claims.clone().unwrap();
    assert_eq!(claims.document_id, DOC);
    assert_eq!(claims.tenant_id, "tinylicious");
    assert_eq!(claims.user, User::new("uA", "uA"));
    assert_eq!(
        claims.scopes,
        vec!["doc:read", "doc:write", "summary:write"]
    );
    assert_eq!(claims.exp - claims.iat, 3600);
    assert_eq!(claims.iat, svc.config().issued_at);

    let r = svc.connect_mock(&request(DOC, "uR", Read)).unwrap();
    assert_eq!(r.info.mode, Read);
    assert_eq!(r.info.max_message_size, Some(1_024));
}

#[test]
fn stored_record_takes_user_from_the_request_and_scopes_from_the_service() {
    let svc = MockService::new();
    let mut req = request(DOC, "uA", Write);
    req.client.user = User::new("someone-else", "Mallory");
    req.client.scopes = vec!["summary:write".into()];
    req.client.permission = vec!["p".into()];
    let a = svc.connect_mock(&req).unwrap();
    let stored = record(&svc, DOC, a.client_id());
    assert_eq!(stored.client.user, User::new("uA", "uA"));
    assert_eq!(stored.client.scopes, vec!["doc:read", "doc:write"]);
    assert_eq!(stored.client.permission, vec!["p"]);
    assert_eq!(stored.client.mode, Write);
}

#[test]
fn reader_gets_no_join_op_of_its_own_and_others_get_only_its_signals() {
    let svc = MockService::new();
    let mut a = svc.connect_mock(&request(DOC, "uA", Write)).unwrap();
    let a_rec = record(&svc, DOC, a.client_id());
    a.events.drain();

    let mut r = svc.connect_mock(&request(DOC, "uR", Read)).unwrap();
    let r_rec = interactive_record(&r.info.client_id, "uR", Read);
    assert_eq!(record(&svc, DOC, r.client_id()), r_rec);
    assert_eq!(r.info.initial_clients, vec![a_rec]);
    assert_eq!(r.events.drain(), vec![join_signal(&r_rec)]);
    assert_eq!(a.events.drain(), vec![join_signal(&r_rec)]);
    assert_eq!(svc.quorum(DOC), vec![a.info.client_id.clone()]);

    // Ops go to the whole room, readers included (Tinylicious): R sees a writer's join op.
    let c = svc.connect_mock(&request(DOC, "uC", Write)).unwrap();
    let c_rec = record(&svc, DOC, c.client_id());
    assert_eq!(r.events.drain(), vec![join_signal(&c_rec), join_op(&c_rec)]);
    a.events.drain();

    let r_id = r.info.client_id.clone();
    r.sender.close_now();
    assert_eq!(a.events.drain(), vec![leave_signal(&r_id)]);
    assert_eq!(
        r.events.drain(),
        vec![disconnected(DisconnectReason::Closed)]
    );
    assert!(r.events.is_ended());
}

#[test]
fn summarizers_are_write_clients_with_summary_scope_and_listed_to_later_joiners() {
    let svc = MockService::new();
    let mut a = svc.connect_mock(&request(DOC, "uA", Write)).unwrap();
    a.events.drain();
    let s = svc.spawn_summarizer(DOC, "uA").unwrap();
    let s_rec = record(&svc, DOC, &s);
    assert!(!s_rec.client.is_interactive());
    assert_eq!(
        s_rec.client.details.client_type.as_deref(),
        Some("summarizer")
    );
    assert_eq!(
        s_rec.client.scopes,
        vec!["doc:read", "doc:write", "summary:write"]
    );
    assert_eq!(s_rec.client.mode, Write);
    assert_eq!(a.events.drain(), vec![join_signal(&s_rec), join_op(&s_rec)]);

    // A summarizer connected through the normal path gets the same record shape.
    let s2 = svc.connect_mock(&summarizer_request(DOC, "uB")).unwrap();
    let s2_rec = record(&svc, DOC, s2.client_id());
    assert_eq!(
        s2_rec.client.scopes,
        vec!["doc:read", "doc:write", "summary:write"]
    );
    assert_eq!(
        s2.info
            .initial_clients
            .iter()
            .map(|c| c.client_id.clone())
            .collect::<Vec<_>>(),
        vec![a.info.client_id.clone(), s.clone()]
    );
    a.events.drain();

    svc.close(&s).unwrap();
    assert_eq!(a.events.drain(), vec![leave_signal(&s), leave_op(&s)]);
    assert_eq!(svc.close(&s), Err(MockError::UnknownClient(s.clone())));
}

#[test]
fn initial_clients_list_everyone_else_in_connect_order_never_self() {
    let svc = MockService::new();
    let a = svc.connect_mock(&request(DOC, "uA", Write)).unwrap();
    let r = svc.connect_mock(&request(DOC, "uR", Read)).unwrap();
    let s = svc.spawn_summarizer(DOC, "uS").unwrap();
    let _other_doc = svc.connect_mock(&request("other", "uX", Write)).unwrap();
    let d = svc.connect_mock(&request(DOC, "uD", Write)).unwrap();
    let listed: Vec<_> = d
        .info
        .initial_clients
        .iter()
        .map(|c| c.client_id.clone())
        .collect();
    assert_eq!(
        listed,
        vec![
            a.info.client_id.clone(),
            r.info.client_id.clone(),
            s.clone()
        ]
    );
    assert_eq!(d.info.initial_clients, svc.clients(DOC)[..3].to_vec());
    assert_eq!(ids(&svc, "other").len(), 1);
}

#[test]
fn clean_close_sends_leave_signal_then_leave_op_and_ends_the_closed_events() {
    let svc = MockService::new();
    let mut a = svc.connect_mock(&request(DOC, "uA", Write)).unwrap();
    let mut b = svc.connect_mock(&request(DOC, "uB", Write)).unwrap();
    a.events.drain();
    b.events.drain();
    let b_id = b.info.client_id.clone();

    b.sender.close_now();
    b.sender.close_now(); // harmless
    assert_eq!(a.events.drain(), vec![leave_signal(&b_id), leave_op(&b_id)]);
    assert_eq!(
        b.events.drain(),
        vec![disconnected(DisconnectReason::Closed)]
    );
    assert!(b.events.is_ended());
    assert_eq!(
        b.sender.send_signal(serde_json::json!(1), None),
        Err(TransportError::Closed)
    );
    assert_eq!(b.sender.submit_noop(), Err(TransportError::Closed));
    assert_eq!(ids(&svc, DOC), vec![a.info.client_id.clone()]);
    assert_eq!(svc.quorum(DOC), vec![a.info.client_id.clone()]);
}

#[test]
fn dropping_both_halves_closes_the_connection() {
    let svc = MockService::new();
    let mut a = svc.connect_mock(&request(DOC, "uA", Write)).unwrap();
    let b = svc.connect_mock(&request(DOC, "uB", Write)).unwrap();
    a.events.drain();
    let b_id = b.info.client_id.clone();

    let sender = b.sender.clone();
    drop(b);
    assert!(
        a.events.drain().is_empty(),
        "a sender clone keeps the socket open"
    );
    drop(sender);
    assert_eq!(a.events.drain(), vec![leave_signal(&b_id), leave_op(&b_id)]);
    assert_eq!(ids(&svc, DOC), vec![a.info.client_id.clone()]);
    // The last connection leaving empties the document.
    drop(a);
    assert!(svc.clients(DOC).is_empty());
}

#[test]
fn client_ids_are_never_reused_and_docs_are_isolated() {
    let svc = MockService::new();
    let mut seen = HashSet::new();
    for round in 0..50 {
        let doc = if round % 2 == 0 { DOC } else { "other" };
        let c = svc.connect_mock(&request(doc, "uA", Write)).unwrap();
        assert!(
            seen.insert(c.info.client_id.clone()),
            "reused {}",
            c.info.client_id
        );
        assert!(
            c.info.initial_clients.is_empty(),
            "round {round}: previous connection was closed"
        );
        c.sender.close_now();
    }
}

#[test]
fn scripted_connect_failures_are_returned_in_order() {
    let svc = MockService::new();
    svc.fail_next_connect(TransportError::Refused {
        code: 429,
        message: "too many clients".into(),
    });
    svc.fail_next_connect(TransportError::NotFound(DOC.into()));
    assert_eq!(
        svc.connect_mock(&request(DOC, "uA", Write)).unwrap_err(),
        TransportError::Refused {
            code: 429,
            message: "too many clients".into()
        }
    );
    assert_eq!(
        svc.connect_detached(&request(DOC, "uA", Write))
            .unwrap_err(),
        TransportError::NotFound(DOC.into())
    );
    assert!(svc.clients(DOC).is_empty());
    let a = svc.connect_mock(&request(DOC, "uA", Write)).unwrap();
    assert_eq!(ids(&svc, DOC), vec![a.info.client_id.clone()]);
}

#[tokio::test]
async fn works_through_the_transport_traits() {
    let svc: Arc<dyn DocumentService> = Arc::new(MockService::new());
    let mut a = svc.connect(&request(DOC, "uA", Write)).await.unwrap();
    let a_rec = interactive_record(&a.info.client_id, "uA", Write);
    assert_eq!(a.events.next_event().await, Some(join_signal(&a_rec)));
    assert_eq!(a.events.next_event().await, Some(join_op(&a_rec)));

    a.sender
        .submit_signal(serde_json::json!({"hi": 1}), None)
        .await
        .unwrap();
    assert_eq!(
        a.events.next_event().await,
        Some(signal(
            &a.info.client_id,
            serde_json::json!({"hi": 1}),
            None
        ))
    );

    a.sender.close().await.unwrap();
    assert_eq!(
        a.events.next_event().await,
        Some(ServiceEvent::Disconnected(DisconnectReason::Closed))
    );
    assert_eq!(a.events.next_event().await, None);
}

#[tokio::test]
async fn inherent_connect_needs_no_trait_import() {
    let svc = MockService::new();
    let a = svc.connect(&request(DOC, "uA", Read)).await.unwrap();
    assert_eq!(ids(&svc, DOC), vec![a.info.client_id.clone()]);
}

#[test]
fn many_clients_converge_on_the_service_view() {
    let svc = MockService::new();
    let mut live = Vec::new();
    for n in 0..30u32 {
        let mode = if n % 3 == 0 { Read } else { Write };
        let doc = if n % 4 == 0 { "other" } else { DOC };
        live.push((
            doc,
            svc.connect_mock(&request(doc, &format!("u{}", n % 7), mode))
                .unwrap(),
            HashSet::new(),
        ));
        if n % 5 == 4 {
            let (_, gone, _) = live.remove((n as usize * 7) % live.len());
            gone.sender.close_now();
        }
        if n == 20 {
            svc.spawn_summarizer(DOC, "u0").unwrap();
        }
    }
    for (doc, conn, roster) in &mut live {
        roster.extend(
            conn.info
                .initial_clients
                .iter()
                .map(|c| c.client_id.clone()),
        );
        for event in conn.events.drain() {
            match event {
                ServiceEvent::ClientJoined { client, .. } => {
                    roster.insert(client.client_id);
                }
                ServiceEvent::ClientLeft { client_id, .. } => {
                    roster.remove(&client_id);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let truth: HashSet<_> = ids(&svc, doc).into_iter().collect();
        assert_eq!(*roster, truth, "{} disagrees", conn.info.client_id);
    }
    assert_eq!(
        svc.clients(DOC).len() + svc.clients("other").len(),
        live.len() + 1
    );
}
