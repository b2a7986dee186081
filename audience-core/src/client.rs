//! [`AudienceClient`]: drives a [`ServiceAudience`] from any transport.
//!
//! One background task owns the connection and the audience: it feeds every service event into
//! the pure state machine, publishes an immutable snapshot after each step, fans events out to
//! subscribers, and reconnects (with capped exponential backoff) when the connection drops, when
//! the service evicts us, or when our own join does not arrive in time (C-01, C-14).
//! No adapter re-implements any of this.
//!
//! Subscribers get a bounded queue each ([`ClientOptions::event_capacity`]). A subscriber that
//! falls behind never blocks the connection and never grows memory: it skips the oldest events
//! and receives one [`ClientEvent::Lagged`] with the number it missed, after which it should
//! re-read [`AudienceClient::get_members`].
//!
//! ```no_run
//! # async fn demo(service: std::sync::Arc<dyn audience_core::transport::DocumentService>) -> Result<(), Box<dyn std::error::Error>> {
//! use audience_core::client::{AudienceClient, ClientEvent, ClientOptions};
//! use audience_core::member::BasicMember;
//! use audience_core::policy::InteractiveOnly;
//! use audience_core::transport::ConnectRequest;
//! use audience_core::wire::{ConnectionMode, User};
//!
//! let request = ConnectRequest::new("tinylicious", "doc-1", User::new("ann", "Ann"), ConnectionMode::Read);
//! let client: AudienceClient<BasicMember> =
//!     AudienceClient::new(service, request, InteractiveOnly, ClientOptions::default());
//! let mut events = client.subscribe(); // before connecting: no event is missed
//! client.connect().await?;
//! for member in client.get_members().iter() {
//!     println!("{} has {} connection(s)", member.id, member.connections.len());
//! }
//! while let Some(event) = events.recv().await {
//!     if let ClientEvent::Audience(change) = event {
//!         println!("{change:?}");
//!     }
//! }
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures_core::Stream;
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::audience::{AudienceEvent, MembersSnapshot, ServiceAudience};
use crate::member::{Member, Myself};
use crate::policy::MemberPolicy;
use crate::roster::{ConnectionState, RosterInput};
use crate::transport::{
    ConnectRequest, Connection, DisconnectReason, DocumentService, InboundSignal, ServiceEvent,
    SignalSender, TransportError,
};
use crate::wire::{ClientId, Nack};

/// How the client connects, waits and reconnects.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Reconnect after the connection drops (default `true`).
    pub reconnect: bool,
    /// First reconnect delay; doubles each attempt (default 250 ms).
    pub initial_backoff: Duration,
    /// Longest reconnect delay (default 10 s).
    pub max_backoff: Duration,
    /// Give up after this many consecutive failed attempts (default: never).
    pub max_attempts: Option<u32>,
    /// How long to wait for our own join after the service accepted a connection before
    /// dropping it and trying again (default 10 s; C-01).
    pub join_timeout: Duration,
    /// How long [`AudienceClient::connect`] waits for the first live connection (default 30 s).
    pub connect_timeout: Duration,
    /// Events buffered per subscriber before it lags (default 1024).
    pub event_capacity: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            reconnect: true,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            max_attempts: None,
            join_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(30),
            event_capacity: 1024,
        }
    }
}

impl ClientOptions {
    /// The delay before reconnect attempt `attempt` (1-based): capped exponential backoff.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1).min(16))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Everything a subscriber hears.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent<M> {
    /// The audience changed, or our connection state did.
    Audience(AudienceEvent<M>),
    /// An application signal arrived.
    Signal(InboundSignal),
    /// The service refused something we sent.
    Nack(Nack),
    /// The connection was lost; the client will try again after `delay`.
    Reconnecting {
        /// 1-based attempt number.
        attempt: u32,
        /// Wait before the attempt.
        delay: Duration,
        /// Why the connection was lost, in one line.
        reason: String,
    },
    /// This subscriber fell behind and missed `missed` events; re-read the members.
    Lagged {
        /// How many events were skipped.
        missed: u64,
    },
    /// The client stopped for good (closed, or gave up reconnecting).
    Closed {
        /// Why, in one line; `None` when closed on request.
        error: Option<String>,
    },
}

/// Why a client call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// No live connection within the connect timeout.
    #[error("not connected after {0:?} (own join never seen)")]
    ConnectTimeout(Duration),
    /// `connect` was called twice.
    #[error("the client is already started")]
    AlreadyStarted,
    /// The client stopped.
    #[error("the client is closed{}", .0.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    Closed(Option<String>),
}

/// What the background task publishes after every step.
#[derive(Debug, Clone)]
struct View<M: Member> {
    members: MembersSnapshot<M>,
    myself: Option<Myself<M>>,
    state: ConnectionState,
    closed: Option<Option<String>>,
}

type SharedSender = Arc<RwLock<Option<Arc<dyn SignalSender>>>>;

/// Everything the task needs that `new` receives and `connect` consumes.
struct Pending<M: Member> {
    service: Arc<dyn DocumentService>,
    request: ConnectRequest,
    audience: ServiceAudience<M, Box<dyn MemberPolicy>>,
}

/// A live audience of one document, kept up to date by a background task.
pub struct AudienceClient<M: Member> {
    options: ClientOptions,
    view: watch::Receiver<View<M>>,
    view_tx: Arc<watch::Sender<View<M>>>,
    events: broadcast::Sender<ClientEvent<M>>,
    sender: SharedSender,
    shutdown: watch::Sender<bool>,
    pending: Mutex<Option<Pending<M>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl<M: Member> std::fmt::Debug for AudienceClient<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudienceClient")
            .field("state", &self.connection_state())
            .finish_non_exhaustive()
    }
}

/// Locks a std mutex even if a panicking thread poisoned it (the data stays consistent: every
/// critical section here is a single take/replace).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<M: Member> AudienceClient<M> {
    /// A client for `request` on `service`, not yet connected. Subscribe, then [`connect`](Self::connect).
    pub fn new(
        service: Arc<dyn DocumentService>,
        request: ConnectRequest,
        policy: impl MemberPolicy,
        options: ClientOptions,
    ) -> Self {
        let audience: ServiceAudience<M, Box<dyn MemberPolicy>> =
            ServiceAudience::new(Box::new(policy));
        let view = View {
            members: audience.get_members(),
            myself: None,
            state: ConnectionState::Disconnected,
            closed: None,
        };
        let (view_tx, view_rx) = watch::channel(view);
        let (events, _) = broadcast::channel(options.event_capacity.max(1));
        AudienceClient {
            options,
            view: view_rx,
            view_tx: Arc::new(view_tx),
            events,
            sender: Arc::new(RwLock::new(None)),
            shutdown: watch::channel(false).0,
            pending: Mutex::new(Some(Pending {
                service,
                request,
                audience,
            })),
            task: Mutex::new(None),
        }
    }

    /// Connects, starts the background task, and waits until our own connection is in the
    /// audience. A first connection the service refuses is an error (and `connect` may be
    /// called again); later drops reconnect. When the connection does not become live within
    /// [`ClientOptions::connect_timeout`], the client is closed and the error returned.
    pub async fn connect(&self) -> Result<(), ClientError> {
        if *self.shutdown.borrow() {
            return Err(ClientError::Closed(None));
        }
        let pending = lock(&self.pending)
            .take()
            .ok_or(ClientError::AlreadyStarted)?;
        let first = match pending.service.connect(&pending.request).await {
            Ok(first) => first,
            Err(error) => {
                // Nothing started: the client stays as it was and `connect` may be retried.
                *lock(&self.pending) = Some(pending);
                return Err(error.into());
            }
        };
        let task = Task {
            service: pending.service,
            request: pending.request,
            audience: pending.audience,
            options: self.options.clone(),
            view: Arc::clone(&self.view_tx),
            events: self.events.clone(),
            sender: Arc::clone(&self.sender),
            shutdown: self.shutdown.subscribe(),
            scratch: Vec::new(),
        };
        *lock(&self.task) = Some(tokio::spawn(task.run(first)));
        let mut view = self.view.clone();
        let waited = tokio::time::timeout(
            self.options.connect_timeout,
            view.wait_for(|v| v.state == ConnectionState::Connected || v.closed.is_some()),
        )
        .await;
        let outcome = match waited {
            Err(_) => Err(ClientError::ConnectTimeout(self.options.connect_timeout)),
            Ok(Err(_)) => Err(ClientError::Closed(None)),
            Ok(Ok(v)) => match &v.closed {
                Some(error) => Err(ClientError::Closed(error.clone())),
                None => Ok(()),
            },
        };
        if outcome.is_err() {
            // A caller told "failed" must not stay in the audience in the background.
            self.close().await;
        }
        outcome
    }

    /// A new subscription to every event from now on.
    pub fn subscribe(&self) -> Subscription<M> {
        Subscription {
            rx: self.events.subscribe(),
        }
    }

    /// The members now: an immutable snapshot, O(1) to take.
    pub fn get_members(&self) -> MembersSnapshot<M> {
        self.view.borrow().members.clone()
    }

    /// Our own member with the current connection; `None` while not connected.
    pub fn get_myself(&self) -> Option<Myself<M>> {
        self.view.borrow().myself.clone()
    }

    /// Where our connection stands.
    pub fn connection_state(&self) -> ConnectionState {
        self.view.borrow().state
    }

    /// Our client id on the current (or last) connection.
    pub fn client_id(&self) -> Option<ClientId> {
        self.view.borrow().members.self_id().map(str::to_owned)
    }

    /// Waits until the connection state satisfies `predicate` (or the client closes).
    pub async fn wait_for_state(
        &self,
        predicate: impl Fn(ConnectionState) -> bool,
    ) -> Result<(), ClientError> {
        let mut view = self.view.clone();
        let v = view
            .wait_for(|v| predicate(v.state) || v.closed.is_some())
            .await
            .map_err(|_| ClientError::Closed(None))?;
        if predicate(v.state) {
            Ok(())
        } else {
            Err(ClientError::Closed(v.closed.clone().flatten()))
        }
    }

    /// Sends an application signal (`target`: one client only).
    pub async fn submit_signal(
        &self,
        content: Value,
        target: Option<ClientId>,
    ) -> Result<(), ClientError> {
        let sender = self
            .sender
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match sender {
            Some(sender) => Ok(sender.submit_signal(content, target).await?),
            None => Err(ClientError::Transport(TransportError::Closed)),
        }
    }

    /// Leaves cleanly and stops the background task.
    pub async fn close(&self) {
        let _ = self.shutdown.send(true);
        let task = lock(&self.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl<M: Member> Drop for AudienceClient<M> {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// A subscriber's queue of [`ClientEvent`]s.
#[derive(Debug)]
pub struct Subscription<M> {
    rx: broadcast::Receiver<ClientEvent<M>>,
}

impl<M: Member> Subscription<M> {
    /// The next event; `None` once the client is gone.
    pub async fn recv(&mut self) -> Option<ClientEvent<M>> {
        match self.rx.recv().await {
            Ok(event) => Some(event),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                Some(ClientEvent::Lagged { missed })
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next event if one is queued, without waiting (synchronous consumption).
    pub fn try_recv(&mut self) -> Option<ClientEvent<M>> {
        match self.rx.try_recv() {
            Ok(event) => Some(event),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                Some(ClientEvent::Lagged { missed })
            }
            Err(_) => None,
        }
    }

    /// The subscription as an async [`Stream`].
    pub fn into_stream(self) -> impl Stream<Item = ClientEvent<M>> + Send + Unpin {
        BroadcastStream::new(self.rx).map(|item| match item {
            Ok(event) => event,
            Err(BroadcastStreamRecvError::Lagged(missed)) => ClientEvent::Lagged { missed },
        })
    }
}

/// Why one connection's loop ended.
enum Outcome {
    Shutdown,
    Lost(String),
}

/// Resolves once shutdown was requested (or the client was dropped).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

struct Task<M: Member> {
    service: Arc<dyn DocumentService>,
    request: ConnectRequest,
    audience: ServiceAudience<M, Box<dyn MemberPolicy>>,
    options: ClientOptions,
    view: Arc<watch::Sender<View<M>>>,
    events: broadcast::Sender<ClientEvent<M>>,
    sender: SharedSender,
    shutdown: watch::Receiver<bool>,
    scratch: Vec<AudienceEvent<M>>,
}

impl<M: Member> Task<M> {
    async fn run(mut self, first: Connection) {
        let mut next = Some(first);
        loop {
            let connection = match next.take() {
                Some(connection) => connection,
                None => match self.reconnect().await {
                    Ok(Some(connection)) => connection,
                    Ok(None) => return self.finish(None),
                    Err(error) => return self.finish(Some(error)),
                },
            };
            match self.drive(connection).await {
                Outcome::Shutdown => return self.finish(None),
                Outcome::Lost(reason) => {
                    tracing::info!(%reason, "connection lost");
                    if !self.options.reconnect {
                        return self.finish(Some(reason));
                    }
                    let _ = self.events.send(ClientEvent::Reconnecting {
                        attempt: 1,
                        delay: self.options.backoff(1),
                        reason,
                    });
                }
            }
        }
    }

    /// Tries to connect again with backoff. `Ok(None)`: shut down meanwhile.
    async fn reconnect(&mut self) -> Result<Option<Connection>, String> {
        let mut attempt = 1u32;
        loop {
            let delay = self.options.backoff(attempt);
            tokio::select! {
                _ = stopped(&mut self.shutdown) => return Ok(None),
                _ = tokio::time::sleep(delay) => {}
            }
            let attempt_result = tokio::select! {
                _ = stopped(&mut self.shutdown) => return Ok(None),
                result = self.service.connect(&self.request) => result,
            };
            match attempt_result {
                Ok(connection) => return Ok(Some(connection)),
                Err(error) => {
                    tracing::warn!(attempt, %error, "reconnect failed");
                    let fatal = matches!(
                        &error,
                        TransportError::NotFound(_) | TransportError::Token(_)
                    ) || matches!(&error, TransportError::Refused { code, .. } if (400..500).contains(code) && *code != 429);
                    if fatal || self.options.max_attempts.is_some_and(|max| attempt >= max) {
                        return Err(error.to_string());
                    }
                    attempt = attempt.saturating_add(1);
                    let _ = self.events.send(ClientEvent::Reconnecting {
                        attempt,
                        delay: self.options.backoff(attempt),
                        reason: error.to_string(),
                    });
                }
            }
        }
    }

    async fn drive(&mut self, connection: Connection) -> Outcome {
        let Connection {
            info,
            mut events,
            sender,
        } = connection;
        *self
            .sender
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(&sender));
        tracing::debug!(client_id = %info.client_id, mode = %info.mode, initial = info.initial_clients.len(), "connected");
        self.step(RosterInput::Connected {
            client_id: info.client_id,
            initial_clients: info.initial_clients,
        });
        let join_deadline = tokio::time::Instant::now() + self.options.join_timeout;
        let mut shutdown = self.shutdown.clone();
        let outcome = loop {
            let joining = self.audience.connection_state() == ConnectionState::Joining;
            tokio::select! {
                _ = stopped(&mut shutdown) => {
                    if let Err(error) = sender.close().await {
                        tracing::debug!(%error, "close failed");
                    }
                    break Outcome::Shutdown;
                }
                _ = tokio::time::sleep_until(join_deadline), if joining => {
                    tracing::warn!(timeout = ?self.options.join_timeout, "own join not seen in time; reconnecting");
                    let _ = sender.close().await;
                    break Outcome::Lost(format!("own join not seen within {:?}", self.options.join_timeout));
                }
                event = events.next_event() => match event {
                    Some(ServiceEvent::ClientJoined { client, source }) => self.step(RosterInput::Joined { client, source }),
                    Some(ServiceEvent::ClientLeft { client_id, source }) => {
                        let was_live = self.audience.connection_state() != ConnectionState::Disconnected;
                        self.step(RosterInput::Left { client_id, source });
                        if was_live && self.audience.connection_state() == ConnectionState::Disconnected {
                            let _ = sender.close().await;
                            break Outcome::Lost(DisconnectReason::Evicted.to_string());
                        }
                    }
                    Some(ServiceEvent::Signal(signal)) => {
                        let _ = self.events.send(ClientEvent::Signal(signal));
                    }
                    Some(ServiceEvent::Nack(nack)) => {
                        let evicted = nack.is_nonexistent_client();
                        let _ = self.events.send(ClientEvent::Nack(nack));
                        if evicted {
                            let _ = sender.close().await;
                            break Outcome::Lost(DisconnectReason::Evicted.to_string());
                        }
                    }
                    Some(ServiceEvent::Disconnected(reason)) => break Outcome::Lost(reason.to_string()),
                    None => break Outcome::Lost("the connection ended".to_owned()),
                },
            }
        };
        *self
            .sender
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self.step(RosterInput::Disconnected);
        outcome
    }

    /// Applies one input, publishes the new view, then the events (so a subscriber reacting to
    /// an event already sees the state after it).
    fn step(&mut self, input: RosterInput) {
        // One buffer for the connection's lifetime: no allocation per message.
        let mut events = std::mem::take(&mut self.scratch);
        self.audience.apply_into(input, &mut events);
        self.publish(None);
        for event in events.drain(..) {
            let _ = self.events.send(ClientEvent::Audience(event));
        }
        self.scratch = events;
    }

    fn publish(&self, closed: Option<Option<String>>) {
        let view = View {
            members: self.audience.get_members(),
            myself: self.audience.get_myself(),
            state: self.audience.connection_state(),
            closed,
        };
        self.view.send_replace(view);
    }

    fn finish(self, error: Option<String>) {
        self.publish(Some(error.clone()));
        let _ = self.events.send(ClientEvent::Closed { error });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let o = ClientOptions {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ..Default::default()
        };
        assert_eq!(o.backoff(1), Duration::from_millis(100));
        assert_eq!(o.backoff(2), Duration::from_millis(200));
        assert_eq!(o.backoff(4), Duration::from_millis(800));
        assert_eq!(o.backoff(5), Duration::from_secs(1));
        assert_eq!(o.backoff(u32::MAX), Duration::from_secs(1));
    }
}
