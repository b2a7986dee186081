//! The client end of a mock connection: its events and its sender.
//!
//! Both halves share a guard; when the last of them is dropped the service treats the socket
//! as closed by the client (leave signal, then leave op for writers), as Tinylicious does when
//! a browser tab goes away.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use audience_core::transport::{
    ConnectedInfo, Connection, EventSource, ServiceEvent, SignalSender, TransportError,
};
use audience_core::wire::ClientId;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::state::State;

/// The state shared by the service handle and every connection.
pub(crate) type Shared = Arc<Mutex<State>>;

/// Locks the state. A panic while locked cannot leave it half-updated in a way that matters
/// to a test double, so a poisoned lock is used as is rather than turned into a second panic.
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Closes the connection server-side when the client drops both halves.
#[derive(Debug)]
struct DropGuard {
    shared: Shared,
    client_id: ClientId,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        lock(&self.shared).client_closes(&self.client_id, false);
    }
}

/// An accepted mock connection with concrete halves (see [`MockConnection::into_connection`]
/// for the trait-object form the core uses).
#[derive(Debug)]
pub struct MockConnection {
    /// The connect response.
    pub info: ConnectedInfo,
    /// Incoming events, starting with the own join signal.
    pub events: MockEvents,
    /// Outgoing signals, noops and close.
    pub sender: MockSender,
}

impl MockConnection {
    pub(crate) fn new(
        shared: &Shared,
        info: ConnectedInfo,
        rx: UnboundedReceiver<ServiceEvent>,
    ) -> Self {
        let guard = Arc::new(DropGuard {
            shared: Arc::clone(shared),
            client_id: info.client_id.clone(),
        });
        let events = MockEvents {
            rx,
            client_id: info.client_id.clone(),
            _guard: Arc::clone(&guard),
        };
        let sender = MockSender {
            shared: Arc::clone(shared),
            client_id: info.client_id.clone(),
            _guard: guard,
        };
        MockConnection {
            info,
            events,
            sender,
        }
    }

    /// This connection's client id.
    pub fn client_id(&self) -> &str {
        &self.info.client_id
    }

    /// The transport-level [`Connection`] (boxed events, shared sender).
    pub fn into_connection(self) -> Connection {
        Connection {
            info: self.info,
            events: Box::new(self.events),
            sender: Arc::new(self.sender),
        }
    }
}

/// The receiving half: everything the service sent to this connection, in order.
///
/// The service queues messages synchronously, so [`MockEvents::drain`] returns, without
/// waiting, exactly what has been sent so far; [`EventSource::next_event`] waits for more.
#[derive(Debug)]
pub struct MockEvents {
    rx: UnboundedReceiver<ServiceEvent>,
    client_id: ClientId,
    _guard: Arc<DropGuard>,
}

impl MockEvents {
    /// The connection's client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The next event already sent, without waiting.
    pub fn try_next(&mut self) -> Option<ServiceEvent> {
        self.rx.try_recv().ok()
    }

    /// Every event already sent, without waiting.
    pub fn drain(&mut self) -> Vec<ServiceEvent> {
        std::iter::from_fn(|| self.try_next()).collect()
    }

    /// `true` once the connection has ended and every event has been read
    /// (`next_event` would return `None`).
    pub fn is_ended(&self) -> bool {
        self.rx.is_closed() && self.rx.is_empty()
    }
}

#[async_trait]
impl EventSource for MockEvents {
    async fn next_event(&mut self) -> Option<ServiceEvent> {
        self.rx.recv().await
    }
}

/// The sending half; clones share the connection.
#[derive(Debug, Clone)]
pub struct MockSender {
    shared: Shared,
    client_id: ClientId,
    _guard: Arc<DropGuard>,
}

impl MockSender {
    /// The connection's client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Sends an application signal now (the synchronous form of
    /// [`SignalSender::submit_signal`]).
    ///
    /// # Errors
    /// [`TransportError::Closed`] once this connection is closed, killed or expired.
    pub fn send_signal(
        &self,
        content: Value,
        target: Option<ClientId>,
    ) -> Result<(), TransportError> {
        lock(&self.shared).submit_signal(&self.client_id, content, target)
    }

    /// Submits a noop op, as a writer does to stay alive. A read connection gets a nack
    /// `Readonly client`; an evicted writer gets a nack `Nonexistent client` (as events).
    ///
    /// # Errors
    /// [`TransportError::Closed`] once this connection is closed, killed or expired.
    pub fn submit_noop(&self) -> Result<(), TransportError> {
        lock(&self.shared).submit_noop(&self.client_id)
    }

    /// Closes the connection now (the synchronous form of [`SignalSender::close`]).
    /// Closing twice is harmless.
    pub fn close_now(&self) {
        lock(&self.shared).client_closes(&self.client_id, true);
    }
}

#[async_trait]
impl SignalSender for MockSender {
    async fn submit_signal(
        &self,
        content: Value,
        target: Option<ClientId>,
    ) -> Result<(), TransportError> {
        self.send_signal(content, target)
    }

    async fn close(&self) -> Result<(), TransportError> {
        self.close_now();
        Ok(())
    }
}
