//! The async driver over a scripted in-test transport: a slow subscriber lags instead of
//! blocking, and snapshots taken earlier never change.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use audience_core::audience::AudienceEvent;
use audience_core::client::{AudienceClient, ClientEvent, ClientOptions};
use audience_core::member::BasicMember;
use audience_core::policy::InteractiveOnly;
use audience_core::roster::ConnectionState;
use audience_core::transport::{
    ConnectRequest, ConnectedInfo, Connection, DocumentService, EventSource, ServiceEvent,
    SignalSender, Source, TransportError,
};
use audience_core::wire::{Client, ClientId, ConnectionMode, SignalClient, User};
use serde_json::Value;
use tokio::sync::mpsc;

/// A service whose single connection is fed by the test through a channel.
struct Scripted {
    events: Mutex<Option<mpsc::UnboundedReceiver<ServiceEvent>>>,
}

struct Source_(mpsc::UnboundedReceiver<ServiceEvent>);

#[async_trait]
impl EventSource for Source_ {
    async fn next_event(&mut self) -> Option<ServiceEvent> {
        self.0.recv().await
    }
}

struct Sender;

#[async_trait]
impl SignalSender for Sender {
    async fn submit_signal(&self, _: Value, _: Option<ClientId>) -> Result<(), TransportError> {
        Ok(())
    }
    async fn close(&self) -> Result<(), TransportError> {
        Ok(())
    }
}

#[async_trait]
impl DocumentService for Scripted {
    async fn connect(&self, _: &ConnectRequest) -> Result<Connection, TransportError> {
        let rx = self
            .events
            .lock()
            .unwrap()
            .take()
            .ok_or(TransportError::Closed)?;
        Ok(Connection {
            info: ConnectedInfo {
                client_id: "me".into(),
                mode: ConnectionMode::Write,
                initial_clients: vec![],
                claims: None,
                max_message_size: None,
            },
            events: Box::new(Source_(rx)),
            sender: Arc::new(Sender),
        })
    }
}

fn join(id: &str, user: &str) -> ServiceEvent {
    let client = Client::interactive(User::new(user, user), ConnectionMode::Write);
    ServiceEvent::ClientJoined {
        client: SignalClient::new(id, client),
        source: Source::Signal,
    }
}

async fn started(
    capacity: usize,
) -> (
    AudienceClient<BasicMember>,
    mpsc::UnboundedSender<ServiceEvent>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    tx.send(join("me", "me")).unwrap();
    let service = Arc::new(Scripted {
        events: Mutex::new(Some(rx)),
    });
    let request = ConnectRequest::new("t", "doc", User::new("me", "me"), ConnectionMode::Write);
    let options = ClientOptions {
        event_capacity: capacity,
        reconnect: false,
        ..ClientOptions::default()
    };
    let client = AudienceClient::new(service, request, InteractiveOnly, options);
    (client, tx)
}

#[tokio::test]
async fn a_slow_subscriber_lags_and_can_resync_from_a_snapshot() {
    let (client, tx) = started(4).await;
    let mut slow = client.subscribe();
    client.connect().await.unwrap();
    for n in 0..50 {
        tx.send(join(&format!("c{n:02}"), &format!("u{n:02}")))
            .unwrap();
    }
    // The driver never waits for subscribers: it processes all 50 joins regardless.
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while client.get_members().len() < 51 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    // Events: self add + changed + connected, then 50 x (added + changed) = 103. Capacity 4.
    match slow.try_recv() {
        Some(ClientEvent::Lagged { missed }) => assert_eq!(missed, 103 - 4),
        other => panic!("expected a lag notice, got {other:?}"),
    }
    // The four newest are still there, in order; then nothing.
    let rest: Vec<_> = std::iter::from_fn(|| slow.try_recv()).collect();
    assert_eq!(rest.len(), 4);
    assert!(
        matches!(&rest[2], ClientEvent::Audience(AudienceEvent::MemberAdded { client_id, .. }) if client_id == "c49")
    );
    assert_eq!(client.get_members().len(), 51);
    client.close().await;
}

#[tokio::test]
async fn snapshots_never_change_and_disconnect_marks_them_stale() {
    let (client, tx) = started(64).await;
    client.connect().await.unwrap();
    let before = client.get_members();
    assert_eq!(before.len(), 1);
    assert!(!before.is_stale());
    tx.send(join("c1", "ann")).unwrap();
    tx.send(ServiceEvent::ClientLeft {
        client_id: "me".into(),
        source: Source::Op,
    })
    .unwrap();
    client
        .wait_for_state(|s| s == ConnectionState::Disconnected)
        .await
        .ok();
    assert_eq!(before.len(), 1, "an earlier snapshot changed");
    assert!(client.get_myself().is_none());
    let after = client.get_members();
    assert!(after.is_stale());
    assert_eq!(after.get("ann").map(|m| m.connections.len()), Some(1));
    client.close().await;
}

/// Fails the first connect, then behaves like `Scripted`; counts closes.
struct Flaky {
    inner: Scripted,
    attempts: std::sync::atomic::AtomicU32,
    closes: Arc<std::sync::atomic::AtomicU32>,
}

struct CountingSender(Arc<std::sync::atomic::AtomicU32>);

#[async_trait]
impl SignalSender for CountingSender {
    async fn submit_signal(&self, _: Value, _: Option<ClientId>) -> Result<(), TransportError> {
        Ok(())
    }
    async fn close(&self) -> Result<(), TransportError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

#[async_trait]
impl DocumentService for Flaky {
    async fn connect(&self, request: &ConnectRequest) -> Result<Connection, TransportError> {
        if self
            .attempts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            == 0
        {
            return Err(TransportError::Unreachable {
                endpoint: "test".into(),
                detail: "refused".into(),
            });
        }
        let mut connection = self.inner.connect(request).await?;
        connection.sender = Arc::new(CountingSender(Arc::clone(&self.closes)));
        Ok(connection)
    }
}

fn flaky(
    own_join: bool,
) -> (
    Arc<Flaky>,
    Arc<std::sync::atomic::AtomicU32>,
    mpsc::UnboundedSender<ServiceEvent>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    if own_join {
        tx.send(join("me", "me")).unwrap();
    }
    let closes = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let service = Arc::new(Flaky {
        inner: Scripted {
            events: Mutex::new(Some(rx)),
        },
        attempts: std::sync::atomic::AtomicU32::new(0),
        closes: Arc::clone(&closes),
    });
    (service, closes, tx)
}

#[tokio::test]
async fn a_failed_first_connect_can_be_retried() {
    let (service, _, _tx) = flaky(true);
    let request = ConnectRequest::new("t", "doc", User::new("me", "me"), ConnectionMode::Write);
    let client: AudienceClient<BasicMember> =
        AudienceClient::new(service, request, InteractiveOnly, ClientOptions::default());
    let first = client.connect().await;
    assert!(
        matches!(
            first,
            Err(audience_core::client::ClientError::Transport(
                TransportError::Unreachable { .. }
            ))
        ),
        "{first:?}"
    );
    client.connect().await.unwrap();
    assert_eq!(
        client.get_myself().map(|m| m.current_connection),
        Some("me".to_owned())
    );
    client.close().await;
}

#[tokio::test]
async fn a_connect_timeout_closes_the_client_instead_of_leaving_it_connecting() {
    let (service, closes, _tx) = flaky(false);
    let request = ConnectRequest::new("t", "doc", User::new("me", "me"), ConnectionMode::Write);
    let options = ClientOptions {
        connect_timeout: std::time::Duration::from_millis(50),
        ..ClientOptions::default()
    };
    let client: AudienceClient<BasicMember> =
        AudienceClient::new(service, request, InteractiveOnly, options);
    assert!(
        client.connect().await.is_err(),
        "the transport's first connect fails"
    );
    let second = client.connect().await;
    assert_eq!(
        second,
        Err(audience_core::client::ClientError::ConnectTimeout(
            std::time::Duration::from_millis(50)
        ))
    );
    assert_eq!(
        closes.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the half-open connection was closed"
    );
    assert_eq!(client.connection_state(), ConnectionState::Disconnected);
    assert_eq!(
        client.connect().await,
        Err(audience_core::client::ClientError::Closed(None))
    );
}

/// The first connect works; every later one hangs (a server that accepts TCP and says nothing).
struct HangsOnReconnect {
    inner: Scripted,
    attempts: std::sync::atomic::AtomicU32,
}

#[async_trait]
impl DocumentService for HangsOnReconnect {
    async fn connect(&self, request: &ConnectRequest) -> Result<Connection, TransportError> {
        if self
            .attempts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            > 0
        {
            std::future::pending::<()>().await;
        }
        self.inner.connect(request).await
    }
}

#[tokio::test]
async fn close_while_a_reconnect_hangs_returns_promptly() {
    let (tx, rx) = mpsc::unbounded_channel();
    tx.send(join("me", "me")).unwrap();
    let service = Arc::new(HangsOnReconnect {
        inner: Scripted {
            events: Mutex::new(Some(rx)),
        },
        attempts: std::sync::atomic::AtomicU32::new(0),
    });
    let request = ConnectRequest::new("t", "doc", User::new("me", "me"), ConnectionMode::Write);
    let options = ClientOptions {
        initial_backoff: std::time::Duration::from_millis(1),
        ..ClientOptions::default()
    };
    let client: AudienceClient<BasicMember> =
        AudienceClient::new(service, request, InteractiveOnly, options);
    let mut events = client.subscribe();
    client.connect().await.unwrap();
    drop(tx); // the connection ends: the client reconnects, and that connect hangs
    loop {
        match events.recv().await {
            Some(ClientEvent::Reconnecting { .. }) => break,
            Some(_) => {}
            None => panic!("no reconnect"),
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    tokio::time::timeout(std::time::Duration::from_secs(1), client.close())
        .await
        .expect("close waited for the hanging connect");
}
