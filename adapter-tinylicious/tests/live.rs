//! Against a real Tinylicious: set `AUDIENCE_TINYLICIOUS_URL` (e.g. `http://127.0.0.1:7070`).
//! Without it every test here returns early with a note. The one-minute keepalive test is
//! `#[ignore]`d: run it with `cargo test -p audience-tinylicious --test live -- --ignored`.
//! (`interop_js` proves the keepalive against a server with a 4 s idle timeout in seconds.)

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use audience_core::transport::{
    ConnectRequest, Connection, DisconnectReason, DocumentService, EventSource, ServiceEvent,
    Source, TransportError,
};
use audience_core::wire::{ConnectionMode, User};
use audience_tinylicious::token::{
    AccessToken, InsecureTokenProvider, TokenProvider, TokenRequest,
};
use audience_tinylicious::{TinyliciousConfig, TinyliciousError, TinyliciousService};
use serde_json::json;

fn live_url() -> Option<String> {
    match std::env::var("AUDIENCE_TINYLICIOUS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "note: AUDIENCE_TINYLICIOUS_URL is not set; skipping the live Tinylicious test"
            );
            None
        }
    }
}

fn request(document_id: &str, id: &str, name: &str, mode: ConnectionMode) -> ConnectRequest {
    ConnectRequest::new("tinylicious", document_id, User::new(id, name), mode)
}

/// Reads events until one matches (other events are skipped); panics after 10 s.
async fn wait_for(
    events: &mut dyn EventSource,
    what: &str,
    mut matches: impl FnMut(&ServiceEvent) -> bool,
) -> ServiceEvent {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.next_event().await {
                Some(event) if matches(&event) => return event,
                Some(_) => {}
                None => panic!("the connection ended while waiting for {what}"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn joined(id: &str, source: Source) -> impl FnMut(&ServiceEvent) -> bool + '_ {
    move |event| matches!(event, ServiceEvent::ClientJoined { client, source: s } if client.client_id == id && *s == source)
}

fn left(id: &str, source: Source) -> impl FnMut(&ServiceEvent) -> bool + '_ {
    move |event| matches!(event, ServiceEvent::ClientLeft { client_id, source: s } if client_id == id && *s == source)
}

fn signal(event: &ServiceEvent) -> bool {
    matches!(event, ServiceEvent::Signal(_))
}

#[tokio::test]
async fn live_audience_round_trip() {
    let Some(url) = live_url() else { return };
    let service = TinyliciousService::new(TinyliciousConfig::from_url(&url).unwrap()).unwrap();

    // REST: create, exists, unknown.
    let doc = service.create_container().await.unwrap();
    assert!(service.container_exists(&doc).await.unwrap());
    let unknown = format!("no-such-doc-{}", uuid_like());
    assert!(!service.container_exists(&unknown).await.unwrap());
    assert!(matches!(
        service.require_container(&unknown).await,
        Err(TinyliciousError::UnknownContainer(_))
    ));
    match service.create_container_with_id(&doc).await {
        Err(TinyliciousError::Http { status: 400, .. }) => {}
        other => panic!("creating an existing id should fail with 400, got {other:?}"),
    }

    // Writer: own join signal (sent before connect_document_success) then own join op.
    let mut writer = service
        .connect(&request(&doc, "alice", "Alice", ConnectionMode::Write))
        .await
        .unwrap();
    let writer_id = writer.info.client_id.clone();
    assert_eq!(writer.info.mode, ConnectionMode::Write);
    assert!(
        writer
            .info
            .initial_clients
            .iter()
            .all(|c| c.client_id != writer_id)
    );
    assert_eq!(
        writer.info.claims.as_ref().unwrap().user.name.as_deref(),
        Some("Alice")
    );
    match writer.events.next_event().await.unwrap() {
        ServiceEvent::ClientJoined {
            client,
            source: Source::Signal,
        } => {
            assert_eq!(client.client_id, writer_id);
            assert_eq!(client.client.user.name.as_deref(), Some("Alice"));
            assert!(client.client.is_interactive());
        }
        other => panic!("expected the own join signal first, got {other:?}"),
    }
    wait_for(
        writer.events.as_mut(),
        "the writer's own join op",
        joined(&writer_id, Source::Op),
    )
    .await;

    // Reader: read mode, sees the writer in initialClients; the writer sees its join signal.
    let mut reader = service
        .connect(&request(&doc, "bob", "Bob", ConnectionMode::Read))
        .await
        .unwrap();
    let reader_id = reader.info.client_id.clone();
    assert_eq!(reader.info.mode, ConnectionMode::Read);
    let initial = reader
        .info
        .initial_clients
        .iter()
        .find(|c| c.client_id == writer_id)
        .expect("writer in initialClients");
    assert_eq!(initial.client.user.id.as_deref(), Some("alice"));
    assert_eq!(initial.client.mode, ConnectionMode::Write);
    wait_for(
        reader.events.as_mut(),
        "the reader's own join signal",
        joined(&reader_id, Source::Signal),
    )
    .await;
    match wait_for(
        writer.events.as_mut(),
        "the reader's join signal",
        joined(&reader_id, Source::Signal),
    )
    .await
    {
        ServiceEvent::ClientJoined { client, .. } => {
            assert_eq!(client.client.mode, ConnectionMode::Read);
            assert_eq!(client.client.user.name.as_deref(), Some("Bob"));
            assert_eq!(client.client.scopes, vec!["doc:read".to_owned()]);
        }
        other => panic!("{other:?}"),
    }

    // Broadcast signal: everyone, sender included, gets the parsed content.
    writer
        .sender
        .submit_signal(json!({"hello": "all", "n": 1}), None)
        .await
        .unwrap();
    for (who, events) in [
        ("writer", &mut writer.events),
        ("reader", &mut reader.events),
    ] {
        match wait_for(events.as_mut(), "the broadcast signal", signal).await {
            ServiceEvent::Signal(s) => {
                assert_eq!(s.client_id, writer_id, "{who}");
                assert_eq!(s.content, json!({"hello": "all", "n": 1}), "{who}");
                assert_eq!(s.target_client_id, None, "{who}");
            }
            other => panic!("{other:?}"),
        }
    }

    // Targeted signal: only the target gets it (the sender's next signal is its own marker).
    reader
        .sender
        .submit_signal(json!("psst"), Some(writer_id.clone()))
        .await
        .unwrap();
    match wait_for(writer.events.as_mut(), "the targeted signal", signal).await {
        ServiceEvent::Signal(s) => {
            assert_eq!(
                (s.client_id.as_str(), s.content.clone()),
                (reader_id.as_str(), json!("psst"))
            );
            assert_eq!(s.target_client_id.as_deref(), Some(writer_id.as_str()));
        }
        other => panic!("{other:?}"),
    }
    reader
        .sender
        .submit_signal(json!({"marker": true}), None)
        .await
        .unwrap();
    match wait_for(reader.events.as_mut(), "the marker", signal).await {
        ServiceEvent::Signal(s) => assert_eq!(
            s.content,
            json!({"marker": true}),
            "the reader got the targeted signal"
        ),
        other => panic!("{other:?}"),
    }

    // A second writer joins and leaves: both the signal and the op are seen.
    let carol = service
        .connect(&request(&doc, "carol", "", ConnectionMode::Write))
        .await
        .unwrap();
    let carol_id = carol.info.client_id.clone();
    match wait_for(
        writer.events.as_mut(),
        "carol's join signal",
        joined(&carol_id, Source::Signal),
    )
    .await
    {
        // No name in the request: the token gets the id as name.
        ServiceEvent::ClientJoined { client, .. } => {
            assert_eq!(client.client.user.name.as_deref(), Some("carol"))
        }
        other => panic!("{other:?}"),
    }
    wait_for(
        writer.events.as_mut(),
        "carol's join op",
        joined(&carol_id, Source::Op),
    )
    .await;
    carol.sender.close().await.unwrap();
    wait_for(
        writer.events.as_mut(),
        "carol's leave signal",
        left(&carol_id, Source::Signal),
    )
    .await;
    wait_for(
        writer.events.as_mut(),
        "carol's leave op",
        left(&carol_id, Source::Op),
    )
    .await;

    // The reader leaves: it sees its own close, the writer sees the leave signal.
    reader.sender.close().await.unwrap();
    assert_eq!(
        wait_for(reader.events.as_mut(), "the close", |e| matches!(
            e,
            ServiceEvent::Disconnected(_)
        ))
        .await,
        ServiceEvent::Disconnected(DisconnectReason::Closed)
    );
    assert_eq!(reader.events.next_event().await, None);
    wait_for(
        writer.events.as_mut(),
        "the reader's leave signal",
        left(&reader_id, Source::Signal),
    )
    .await;

    close(writer).await;
}

async fn close(mut connection: Connection) {
    connection.sender.close().await.unwrap();
    let rest: Vec<ServiceEvent> = {
        let mut out = Vec::new();
        while let Some(event) = connection.events.next_event().await {
            out.push(event);
        }
        out
    };
    assert_eq!(
        rest.last(),
        Some(&ServiceEvent::Disconnected(DisconnectReason::Closed))
    );
}

/// Signs tokens for another document: Tinylicious refuses them.
#[derive(Debug)]
struct WrongDocument(InsecureTokenProvider);

#[async_trait]
impl TokenProvider for WrongDocument {
    async fn token(&self, request: &TokenRequest<'_>) -> Result<AccessToken, TinyliciousError> {
        self.0
            .token(&TokenRequest {
                document_id: "some-other-document",
                ..*request
            })
            .await
    }
}

#[tokio::test]
async fn live_mismatched_token_is_refused() {
    let Some(url) = live_url() else { return };
    let service = TinyliciousService::new(TinyliciousConfig::from_url(&url).unwrap()).unwrap();
    let doc = service.create_container().await.unwrap();
    let wrong = TinyliciousService::new(
        TinyliciousConfig::from_url(&url)
            .unwrap()
            .with_token_provider(Arc::new(
                WrongDocument(InsecureTokenProvider::tinylicious()),
            )),
    )
    .unwrap();
    match wrong
        .connect(&request(&doc, "mallory", "Mallory", ConnectionMode::Write))
        .await
    {
        Err(TransportError::Refused { code, message }) => {
            assert_eq!(code, 403);
            assert!(message.contains("do not match"), "{message}");
        }
        other => panic!("expected a 403 refusal, got {other:?}"),
    }
}

/// Connecting to a container that does not exist fails at once with `NotFound` in both modes,
/// and the read attempt leaves no empty document record behind (Tinylicious would create one
/// for a read socket).
#[tokio::test]
async fn live_unknown_container_is_not_found_and_not_created() {
    let Some(url) = live_url() else { return };
    let service = TinyliciousService::new(TinyliciousConfig::from_url(&url).unwrap()).unwrap();
    let unknown = format!("no-such-doc-{}", uuid_like());
    for mode in [ConnectionMode::Read, ConnectionMode::Write] {
        let started = std::time::Instant::now();
        let result = service
            .connect(&request(&unknown, "ghost", "Ghost", mode))
            .await;
        assert_eq!(
            result.map(|c| c.info.client_id).unwrap_err(),
            TransportError::NotFound(unknown.clone())
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{mode}");
    }
    assert!(!service.container_exists(&unknown).await.unwrap());
}

/// One minute of silence: the writer's noop must be accepted (no nack) and the connection
/// must still carry signals.
#[tokio::test]
#[ignore = "takes over a minute; the 4 s idle-timeout interop test covers the keepalive in CI"]
async fn live_idle_writer_noop_is_accepted() {
    let Some(url) = live_url() else { return };
    let service = TinyliciousService::new(TinyliciousConfig::from_url(&url).unwrap()).unwrap();
    let doc = service.create_container().await.unwrap();
    let mut writer = service
        .connect(&request(&doc, "idle", "Idle", ConnectionMode::Write))
        .await
        .unwrap();
    let quiet = tokio::time::timeout(Duration::from_secs(65), async {
        while let Some(event) = writer.events.next_event().await {
            assert!(
                !matches!(event, ServiceEvent::Nack(_) | ServiceEvent::Disconnected(_)),
                "unexpected {event:?}"
            );
        }
    })
    .await;
    assert!(
        quiet.is_err(),
        "the connection ended during the idle minute"
    );
    writer
        .sender
        .submit_signal(json!("still here"), None)
        .await
        .unwrap();
    wait_for(writer.events.as_mut(), "the own signal", signal).await;
    close(writer).await;
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}")
}
