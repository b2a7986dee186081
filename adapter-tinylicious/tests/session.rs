//! The socket session against a fake socket.io server on 127.0.0.1 replaying real frames.

mod common;

use std::time::{Duration, Instant};

use audience_core::transport::{
    ConnectRequest, DisconnectReason, DocumentService, InboundSignal, ServiceEvent, Source,
    TransportError,
};
use audience_core::wire::{ConnectionMode, User};
use audience_tinylicious::{TinyliciousConfig, TinyliciousService};
use common::{FakePeer, WsRecord};
use serde_json::{Value, json};

fn service(url: &str) -> TinyliciousService {
    TinyliciousService::new(
        TinyliciousConfig::from_url(url)
            .unwrap()
            .with_connect_timeout(Duration::from_secs(5)),
    )
    .unwrap()
}

fn request(document_id: &str, user: &str, mode: ConnectionMode) -> ConnectRequest {
    ConnectRequest::new(
        "tinylicious",
        document_id,
        User::new(user, user.to_uppercase()),
        mode,
    )
}

/// A compact view of an event: (kind, client id, source).
fn summary(event: &ServiceEvent) -> (String, String, String) {
    match event {
        ServiceEvent::ClientJoined { client, source } => (
            "join".into(),
            client.client_id.clone(),
            format!("{source:?}"),
        ),
        ServiceEvent::ClientLeft { client_id, source } => {
            ("leave".into(), client_id.clone(), format!("{source:?}"))
        }
        ServiceEvent::Signal(signal) => ("signal".into(), signal.client_id.clone(), String::new()),
        ServiceEvent::Nack(nack) => ("nack".into(), nack.content.message.clone(), String::new()),
        ServiceEvent::Disconnected(reason) => {
            let kind = match reason {
                DisconnectReason::Closed => "closed",
                DisconnectReason::ConnectionLost(_) => "lost",
                DisconnectReason::Timeout => "timeout",
                DisconnectReason::Evicted => "evicted",
            };
            ("disconnected".into(), kind.into(), String::new())
        }
    }
}

fn expect(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect()
}

/// Plays the server side of a traced connection: every s2c frame in order, waiting for the
/// client's `40` and `connect_document` where the trace has them, then closes.
async fn replay(mut peer: FakePeer, frames: Vec<WsRecord>) -> Vec<String> {
    for frame in frames {
        if frame.dir == "s2c" {
            peer.send(&frame.raw).await;
        } else if frame.raw == "40" {
            peer.expect("40").await;
        } else if frame.raw.starts_with(r#"42["connect_document""#) {
            peer.expect(r#"42["connect_document""#).await;
        }
        // Other client frames (the JS latency ping, noops, `41`) are not ours to imitate.
    }
    peer.close().await
}

const DOC_02: &str = "a5b342c1-0bb6-45d5-9695-1bdbace1f7e4";
const WATCHER_02: &str = "9abfefcb-7001-4b03-9b52-be2a17c20096";
const ALICE_02: &str = "04efff43-6fdb-497c-9e1c-c511444c74fa";
const SUMMARIZER_02: &str = "dd8a8bf3-a915-4de9-a2c3-b1b7290b3e03";
const ALICE2_02: &str = "a62fa5a3-6895-4111-94fb-88b5d26ec57c";
const BOB_02: &str = "0ce3fcbb-73e3-464c-9b74-47bcb6a8ab1f";

#[tokio::test]
async fn writer_connection_replayed_from_trace_02() {
    let (url, mut peers) = common::fake_server().await;
    let frames = common::connection("02-join-leave.jsonl", "ws2");
    let server = tokio::spawn(async move { replay(peers.recv().await.unwrap(), frames).await });

    let mut connection = service(&url)
        .connect(&request(DOC_02, "watcher", ConnectionMode::Write))
        .await
        .unwrap();
    assert_eq!(connection.info.client_id, WATCHER_02);
    assert_eq!(connection.info.mode, ConnectionMode::Write);
    assert!(connection.info.initial_clients.is_empty());
    assert_eq!(connection.info.max_message_size, Some(16_384));
    let claims = connection.info.claims.clone().unwrap();
    assert_eq!(claims.user.name.as_deref(), Some("Watcher"));

    let events = common::collect_events(connection.events.as_mut(), Duration::from_secs(10)).await;
    let got: Vec<_> = events.iter().map(summary).collect();
    assert_eq!(
        got,
        expect(&[
            // The own join signal came before connect_document_success and is not lost.
            ("join", WATCHER_02, "Signal"),
            ("join", WATCHER_02, "Op"),
            ("join", ALICE_02, "Signal"),
            ("join", ALICE_02, "Op"),
            ("signal", ALICE_02, ""),
            ("join", SUMMARIZER_02, "Signal"),
            ("join", SUMMARIZER_02, "Op"),
            ("join", ALICE2_02, "Signal"),
            ("join", ALICE2_02, "Op"),
            ("join", BOB_02, "Signal"),
            ("join", BOB_02, "Op"),
            ("leave", BOB_02, "Signal"),
            ("leave", BOB_02, "Op"),
            ("leave", ALICE_02, "Signal"),
            ("leave", ALICE_02, "Op"),
            ("leave", ALICE2_02, "Signal"),
            ("leave", ALICE2_02, "Op"),
            ("disconnected", "lost", ""),
        ])
    );
    // Details come through: user names, the summarizer's capabilities, the signal's payload.
    match &events[2] {
        ServiceEvent::ClientJoined { client, .. } => {
            assert_eq!(client.client.user.id.as_deref(), Some("alice"));
            assert_eq!(client.client.user.name.as_deref(), Some("Alice"));
            assert!(client.client.is_interactive());
        }
        other => panic!("{other:?}"),
    }
    match &events[5] {
        ServiceEvent::ClientJoined { client, .. } => {
            assert!(!client.client.is_interactive());
            assert_eq!(
                client.client.details.client_type.as_deref(),
                Some("summarizer")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        events[4],
        ServiceEvent::Signal(InboundSignal {
            client_id: ALICE_02.into(),
            content: json!({"address":"A","contents":{"type":"greet","content":{"from":"alice"}},"clientBroadcastSignalSequenceNumber":1}),
            target_client_id: None,
        })
    );

    let sent = server.await.unwrap();
    // The server's ping was answered.
    assert!(sent.iter().any(|frame| frame == "3"), "no pong in {sent:?}");
    // connect_document as Tinylicious validates it.
    let connect: Value = serde_json::from_str(&sent[1][2..]).unwrap();
    assert_eq!(connect[0], "connect_document");
    assert_eq!(connect[1]["id"], DOC_02);
    assert_eq!(connect[1]["mode"], "write");
    assert_eq!(
        connect[1]["versions"],
        json!(["^0.4.0", "^0.3.0", "^0.2.0", "^0.1.0"])
    );
    assert_eq!(connect[1]["supportedFeatures"]["submit_signals_v2"], true);
    assert_eq!(
        connect[1]["client"]["details"]["capabilities"]["interactive"],
        true
    );
}

const DOC_04: &str = "369803b4-8135-4b24-9c58-15a82aa1ee08";
const READER_04: &str = "b80963a3-c66f-4b97-a298-be9a98d8064d";
const WATCHER_04: &str = "d7e63a0a-341a-476b-a16a-d9d07f6ec610";

#[tokio::test]
async fn read_connection_replayed_from_trace_04_is_evicted_by_a_nonexistent_client_nack() {
    let (url, mut peers) = common::fake_server().await;
    let frames = common::connection("04-errors-readmode.jsonl", "ws21");
    let server = tokio::spawn(async move { replay(peers.recv().await.unwrap(), frames).await });

    let mut connection = service(&url)
        .connect(&request(DOC_04, "reader", ConnectionMode::Read))
        .await
        .unwrap();
    assert_eq!(connection.info.client_id, READER_04);
    assert_eq!(connection.info.mode, ConnectionMode::Read);
    assert_eq!(connection.info.max_message_size, Some(1024));
    let initial: Vec<&str> = connection
        .info
        .initial_clients
        .iter()
        .map(|c| c.client_id.as_str())
        .collect();
    assert_eq!(initial, vec![WATCHER_04]);

    let events = common::collect_events(connection.events.as_mut(), Duration::from_secs(10)).await;
    let got: Vec<_> = events.iter().map(summary).collect();
    assert_eq!(
        got,
        expect(&[
            ("join", READER_04, "Signal"),
            ("nack", "Readonly client", ""),
            ("nack", "Nonexistent client", ""),
            ("disconnected", "evicted", ""),
        ])
    );
    let sent = server.await.unwrap();
    assert_eq!(
        sent.last().map(String::as_str),
        Some("41"),
        "evicted clients leave cleanly: {sent:?}"
    );
}

#[tokio::test]
async fn connect_document_error_is_refused_with_code_and_message() {
    let (url, mut peers) = common::fake_server().await;
    let server = tokio::spawn(async move {
        let mut peer = peers.recv().await.unwrap();
        peer.handshake(&common::open_packet(25_000, 20_000, 1_000_000))
            .await;
        peer.send(r#"42["connect_document_error",{"code":403,"message":"DocumentId and/or TenantId in token claims do not match requested resource"}]"#).await;
        peer.drain().await
    });
    let err = service(&url)
        .connect(&request("doc", "u", ConnectionMode::Write))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TransportError::Refused {
            code: 403,
            message: "DocumentId and/or TenantId in token claims do not match requested resource"
                .into()
        }
    );
    let sent = server.await.unwrap();
    assert_eq!(sent.last().map(String::as_str), Some("41"));
}

/// Accepts a connection as `client_id` after the handshake.
async fn accept(peer: &mut FakePeer, open: &str, client_id: &str, mode: &str) -> Value {
    let connect = peer.handshake(open).await;
    peer.send(&format!(
        r#"42["connect_document_success",{{"clientId":"{client_id}","mode":"{mode}","existing":true,"maxMessageSize":16384,"initialClients":[],"initialMessages":[],"initialSignals":[]}}]"#
    ))
    .await;
    connect
}

#[tokio::test]
async fn silent_server_is_detected_within_ping_interval_plus_timeout() {
    let (url, mut peers) = common::fake_server().await;
    let (pinged_tx, pinged_rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(async move {
        let mut peer = peers.recv().await.unwrap();
        accept(
            &mut peer,
            &common::open_packet(200, 200, 1_000_000),
            "me",
            "read",
        )
        .await;
        // Alive for a while (pings answered), then silent with the socket open.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            peer.send("2").await;
            peer.expect("3").await;
        }
        let _ = pinged_tx.send(Instant::now());
        tokio::time::sleep(Duration::from_secs(3)).await;
        peer
    });
    let mut connection = service(&url)
        .connect(&request("doc", "u", ConnectionMode::Read))
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), connection.events.next_event())
        .await
        .unwrap();
    let detected = Instant::now();
    assert_eq!(
        event,
        Some(ServiceEvent::Disconnected(DisconnectReason::Timeout))
    );
    let last_ping = pinged_rx.await.unwrap();
    let silence = detected.duration_since(last_ping);
    // 150 ms of pings kept it alive; after the last one it takes 400 ms (interval + timeout).
    assert!(
        silence >= Duration::from_millis(300),
        "detected after only {silence:?}"
    );
    assert!(
        silence < Duration::from_millis(2_000),
        "detected after {silence:?}"
    );
    assert_eq!(connection.events.next_event().await, None);
    drop(server);
}

#[tokio::test]
async fn signals_go_out_as_v2_and_oversized_frames_are_refused() {
    let (url, mut peers) = common::fake_server().await;
    let server = tokio::spawn(async move {
        let mut peer = peers.recv().await.unwrap();
        accept(
            &mut peer,
            &common::open_packet(25_000, 20_000, 2_000),
            "me-1",
            "write",
        )
        .await;
        let broadcast = peer.expect(r#"42["submitSignal""#).await;
        let targeted = peer.expect(r#"42["submitSignal""#).await;
        peer.expect("41").await;
        (broadcast, targeted, peer.drain().await)
    });
    let connection = service(&url)
        .connect(&request("doc", "u", ConnectionMode::Write))
        .await
        .unwrap();
    connection
        .sender
        .submit_signal(json!({"type": "cursor", "x": 1}), None)
        .await
        .unwrap();
    connection
        .sender
        .submit_signal(json!("hi"), Some("other-2".into()))
        .await
        .unwrap();
    let big = json!({"blob": "x".repeat(3_000)});
    match connection.sender.submit_signal(big, None).await {
        Err(TransportError::TooLarge { size, limit }) => {
            assert_eq!(limit, 2_000);
            assert!(size > 3_000);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    connection.sender.close().await.unwrap();
    // Closing twice is fine; sending after close is not.
    connection.sender.close().await.unwrap();
    assert_eq!(
        connection.sender.submit_signal(json!(1), None).await,
        Err(TransportError::Closed)
    );

    let (broadcast, targeted, _) = server.await.unwrap();
    // The app's own `type` key stays inside the content string; the element has none.
    assert_eq!(
        broadcast,
        r#"42["submitSignal","me-1",[{"content":"{\"type\":\"cursor\",\"x\":1}"}]]"#
    );
    assert_eq!(
        targeted,
        r#"42["submitSignal","me-1",[{"content":"\"hi\"","targetClientId":"other-2"}]]"#
    );
}

#[tokio::test]
async fn own_leave_op_means_evicted_and_app_signals_parse_leniently() {
    let (url, mut peers) = common::fake_server().await;
    let server = tokio::spawn(async move {
        let mut peer = peers.recv().await.unwrap();
        accept(
            &mut peer,
            &common::open_packet(25_000, 20_000, 1_000_000),
            "me-1",
            "write",
        )
        .await;
        peer.send(r#"42["signal",{"clientId":"x-1","content":"not json"}]"#)
            .await;
        peer.send(r#"42["signal",[{"clientId":"x-1","content":{"legacy":true},"targetClientId":"me-1"}]]"#).await;
        peer.send(
            r#"42["signal",{"clientId":null,"content":"{\"type\":\"join\",\"content\":{broken"}]"#,
        )
        .await;
        peer.send(r#"42["op","doc",[{"clientId":"x-1","sequenceNumber":7,"type":"op","contents":"{\"a\":1}"},{"clientId":null,"sequenceNumber":8,"type":"leave","data":"\"x-1\""},{"clientId":null,"sequenceNumber":9,"type":"leave","data":"\"me-1\"","traces":[]}]]"#).await;
        peer.drain().await
    });
    let mut connection = service(&url)
        .connect(&request("doc", "u", ConnectionMode::Write))
        .await
        .unwrap();
    let events = common::collect_events(connection.events.as_mut(), Duration::from_secs(10)).await;
    assert_eq!(
        events,
        vec![
            ServiceEvent::Signal(InboundSignal {
                client_id: "x-1".into(),
                content: json!("not json"),
                target_client_id: None
            }),
            ServiceEvent::Signal(InboundSignal {
                client_id: "x-1".into(),
                content: json!({"legacy": true}),
                target_client_id: Some("me-1".into()),
            }),
            ServiceEvent::ClientLeft {
                client_id: "x-1".into(),
                source: Source::Op
            },
            ServiceEvent::ClientLeft {
                client_id: "me-1".into(),
                source: Source::Op
            },
            ServiceEvent::Disconnected(DisconnectReason::Evicted),
        ]
    );
    let sent = server.await.unwrap();
    assert_eq!(sent.last().map(String::as_str), Some("41"));
}

#[tokio::test]
async fn server_disconnect_and_unreachable_server_are_reported() {
    let (url, mut peers) = common::fake_server().await;
    let server = tokio::spawn(async move {
        let mut peer = peers.recv().await.unwrap();
        accept(
            &mut peer,
            &common::open_packet(25_000, 20_000, 1_000_000),
            "me-1",
            "read",
        )
        .await;
        peer.send("41").await;
        peer.close().await
    });
    let mut connection = service(&url)
        .connect(&request("doc", "u", ConnectionMode::Read))
        .await
        .unwrap();
    let events = common::collect_events(connection.events.as_mut(), Duration::from_secs(10)).await;
    assert_eq!(
        events,
        vec![ServiceEvent::Disconnected(
            DisconnectReason::ConnectionLost("the server disconnected the socket".into())
        )]
    );
    server.await.unwrap();

    // Nothing listens on this port any more once the listener is gone.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    match service(&dead)
        .connect(&request("doc", "u", ConnectionMode::Read))
        .await
    {
        // The existence check over REST is the first thing to reach for the server.
        Err(TransportError::Unreachable { endpoint, .. }) => {
            assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
            assert!(
                endpoint.ends_with("/documents/tinylicious/doc"),
                "{endpoint}"
            );
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn connect_times_out_when_the_service_never_answers() {
    let (url, mut peers) = common::fake_server().await;
    let server = tokio::spawn(async move {
        let mut peer = peers.recv().await.unwrap();
        peer.handshake(&common::open_packet(25_000, 20_000, 1_000_000))
            .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        peer
    });
    let service = TinyliciousService::new(
        TinyliciousConfig::from_url(&url)
            .unwrap()
            .with_connect_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let err = service
        .connect(&request("doc", "u", ConnectionMode::Read))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TransportError::Timeout(Duration::from_millis(300), "connect_document_success")
    );
    drop(server);
}

/// A signal frame from `sender` whose content is `size` bytes of text.
fn big_signal(sender: &str, size: usize) -> String {
    format!(
        r#"42["signal",{{"clientId":"{sender}","content":"\"{}\""}}]"#,
        "x".repeat(size)
    )
}

/// Plays a server that sends `frames` between `connect_document` and its success.
async fn flood_before_success(frames: Vec<String>) -> Result<(), TransportError> {
    let (url, mut peers) = common::fake_server().await;
    let server = tokio::spawn(async move {
        let mut peer = peers.recv().await.unwrap();
        peer.handshake(&common::open_packet(25_000, 20_000, 1_000_000))
            .await;
        for frame in &frames {
            if !peer.try_send(frame).await {
                return peer;
            }
        }
        peer.try_send(
            r#"42["connect_document_success",{"clientId":"me","mode":"read","initialClients":[]}]"#,
        )
        .await;
        peer
    });
    let result = service(&url)
        .connect(&request("doc", "u", ConnectionMode::Read))
        .await
        .map(|_| ());
    drop(server.await.unwrap());
    result
}

#[tokio::test]
async fn more_than_16_mib_before_connect_success_fails_the_connect() {
    // 17 signals of 1 MiB: each fine alone, together over the early-buffer cap.
    let frames = (0..17).map(|_| big_signal("x-1", 1 << 20)).collect();
    match flood_before_success(frames).await {
        Err(TransportError::Protocol(message)) => assert_eq!(
            message,
            "the server sent more than 16 MiB of events before connect_document_success"
        ),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[tokio::test]
async fn too_many_events_before_connect_success_fail_the_connect() {
    let frames = (0..10_001).map(|_| big_signal("x-1", 1)).collect();
    match flood_before_success(frames).await {
        Err(TransportError::Protocol(message)) => assert_eq!(
            message,
            "the server sent more than 10000 events before connect_document_success"
        ),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_few_early_events_are_still_delivered() {
    let frames = (0..100).map(|_| big_signal("x-1", 1000)).collect();
    assert_eq!(flood_before_success(frames).await, Ok(()));
}

#[tokio::test]
async fn an_incoming_message_over_16_mib_ends_the_connection() {
    let (url, mut peers) = common::fake_server().await;
    let server = tokio::spawn(async move {
        let mut peer = peers.recv().await.unwrap();
        accept(
            &mut peer,
            &common::open_packet(25_000, 20_000, 1_000_000),
            "me-1",
            "read",
        )
        .await;
        // 20 MiB in two 10 MiB frames: each frame is under the frame limit, the message is not.
        peer.send_fragmented(&big_signal("x-1", 20 << 20), 2).await;
        peer
    });
    let mut connection = service(&url)
        .connect(&request("doc", "u", ConnectionMode::Read))
        .await
        .unwrap();
    let events = common::collect_events(connection.events.as_mut(), Duration::from_secs(10)).await;
    match &events[..] {
        [ServiceEvent::Disconnected(DisconnectReason::ConnectionLost(why))] => {
            assert!(why.contains("Message too long"), "{why}");
            assert!(why.contains(&(16_usize << 20).to_string()), "{why}");
        }
        other => panic!("expected the connection to end, got {} events", other.len()),
    }
    drop(server.await.unwrap());
}

#[tokio::test]
async fn an_unknown_container_is_not_found_before_any_socket_opens() {
    let (url, mut peers, log) = common::fake_service(|_| common::Reply::json("null")).await;
    for mode in [ConnectionMode::Read, ConnectionMode::Write] {
        let err = service(&url)
            .connect(&request("gone", "u", mode))
            .await
            .unwrap_err();
        assert_eq!(err, TransportError::NotFound("gone".into()));
        assert_eq!(err.to_string(), "container `gone` does not exist");
    }
    assert_eq!(
        *log.lock().unwrap(),
        ["GET /documents/tinylicious/gone HTTP/1.1"; 2]
    );
    assert!(peers.try_recv().is_err(), "no WebSocket may be opened");
}

#[tokio::test]
async fn the_existence_check_uses_the_requested_tenant() {
    let (url, mut peers, log) = common::fake_service(|_| common::Reply::json("null")).await;
    let mut req = request("d-1", "u", ConnectionMode::Read);
    req.tenant_id = "other-tenant".into();
    let err = service(&url).connect(&req).await.unwrap_err();
    assert_eq!(err, TransportError::NotFound("d-1".into()));
    assert_eq!(
        *log.lock().unwrap(),
        ["GET /documents/other-tenant/d-1 HTTP/1.1"]
    );
    assert!(peers.try_recv().is_err());
}

#[tokio::test]
async fn an_empty_container_id_is_refused_without_network() {
    let (url, mut peers, log) = common::fake_service(|_| common::Reply::json("null")).await;
    let service = service(&url);
    for id in ["", "  "] {
        let err = service
            .connect(&request(id, "u", ConnectionMode::Read))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            TransportError::Protocol("invalid container id: the id is empty".into())
        );
        assert!(matches!(
            service.container_exists(id).await,
            Err(audience_tinylicious::TinyliciousError::InvalidContainerId(
                _
            ))
        ));
        assert!(matches!(
            service.create_container_with_id(id).await,
            Err(audience_tinylicious::TinyliciousError::InvalidContainerId(
                _
            ))
        ));
    }
    assert!(log.lock().unwrap().is_empty(), "{:?}", log.lock().unwrap());
    assert!(peers.try_recv().is_err());
}

#[tokio::test]
async fn a_server_without_the_documents_route_is_refused_with_the_url() {
    let (url, mut peers, _log) =
        common::fake_service(|_| common::Reply::status(404, "Cannot GET")).await;
    match service(&url)
        .connect(&request("doc", "u", ConnectionMode::Write))
        .await
    {
        Err(TransportError::Refused { code, message }) => {
            assert_eq!(code, 404);
            assert!(message.contains("is this a Fluid service?"), "{message}");
            assert!(
                message.contains(&format!("{url}/documents/tinylicious/doc")),
                "{message}"
            );
        }
        other => panic!("expected a 404 refusal, got {other:?}"),
    }
    assert!(peers.try_recv().is_err());
}

#[tokio::test]
async fn a_token_failure_is_a_token_error_and_needs_no_network() {
    let (url, mut peers, log) =
        common::fake_service(|_| common::Reply::json(common::DOCUMENT_RECORD)).await;
    // The insecure provider cannot sign for a user without an id.
    let err = service(&url)
        .connect(&request("doc", "", ConnectionMode::Write))
        .await
        .unwrap_err();
    assert_eq!(err, TransportError::Token("the user has no id".into()));
    assert_eq!(
        err.to_string(),
        "could not get an access token: the user has no id"
    );
    assert!(log.lock().unwrap().is_empty());
    assert!(peers.try_recv().is_err());
}

/// `with_keepalive_interval(Duration::ZERO)` used to send noops in a busy loop; the floor of
/// 100 ms allows at most about ten a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_keepalive_interval_does_not_flood_the_server() {
    let (url, mut peers) = common::fake_server().await;
    let server = tokio::spawn(async move {
        let mut peer = peers.recv().await.unwrap();
        accept(
            &mut peer,
            &common::open_packet(25_000, 20_000, 1_000_000),
            "me-1",
            "write",
        )
        .await;
        let mut noops = 0_usize;
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(frame) = peer.recv().await {
                if frame.starts_with(r#"42["submitOp","me-1""#) {
                    noops += 1;
                }
            }
        })
        .await;
        noops
    });
    let service = TinyliciousService::new(
        TinyliciousConfig::from_url(&url)
            .unwrap()
            .with_keepalive_interval(Duration::ZERO),
    )
    .unwrap();
    let connection = service
        .connect(&request("doc", "u", ConnectionMode::Write))
        .await
        .unwrap();
    let noops = server.await.unwrap();
    // About 10 in that second; a generous ceiling so a slow machine cannot fail it.
    assert!((1..=30).contains(&noops), "{noops} noops in one second");
    drop(connection);
}
