//! [`MockService`]: the handle tests hold: connect, inject faults, inspect the truth.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use audience_core::transport::{
    ConnectRequest, Connection, DocumentService, ServiceEvent, TransportError,
};
use audience_core::wire::{Client, ClientId, ConnectionMode, SignalClient, User};

use crate::config::MockServiceConfig;
use crate::connection::{MockConnection, Shared, lock};
use crate::error::MockError;
use crate::state::{Delivered, State};

/// The tenant id Tinylicious uses, and the one [`MockService::spawn_summarizer`] connects with.
pub const TENANT: &str = "tinylicious";

/// An in-process Fluid ordering service that behaves like Tinylicious, with fault injection.
///
/// Cheap to clone: clones share the same documents and connections. Every call that makes
/// the service send something queues all of it, in a fixed order, before returning, so runs
/// are reproducible.
///
/// ```
/// use audience_core::transport::{ServiceEvent, Source};
/// use audience_core::wire::ConnectionMode;
/// use audience_mock::{MockService, request};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let svc = MockService::new();
/// let a = svc.connect(&request("doc", "uA", ConnectionMode::Write)).await?;
/// let b = svc.connect_mock(&request("doc", "uB", ConnectionMode::Write))?;
/// assert_eq!(b.info.initial_clients[0].client_id, a.info.client_id);
///
/// svc.kill(b.client_id())?;
/// assert_eq!(svc.clients("doc").len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct MockService {
    shared: Shared,
}

impl Default for MockService {
    fn default() -> Self {
        MockService::new()
    }
}

/// A connect request as a Tinylicious client sends it: tenant `tinylicious`, an interactive
/// client of user `user_id` (named after the id) in `mode`.
pub fn request(document_id: &str, user_id: &str, mode: ConnectionMode) -> ConnectRequest {
    ConnectRequest::new(TENANT, document_id, User::new(user_id, user_id), mode)
}

/// A connect request for a summarizer-like client of `user_id` (write mode,
/// `interactive: false`, `type: "summarizer"`).
pub fn summarizer_request(document_id: &str, user_id: &str) -> ConnectRequest {
    let user = User::new(user_id, user_id);
    let mut req = ConnectRequest::new(TENANT, document_id, user.clone(), ConnectionMode::Write);
    req.client = Client::summarizer(user);
    req
}

impl MockService {
    /// A service with the default configuration.
    pub fn new() -> Self {
        MockService::with_config(MockServiceConfig::default())
    }

    /// A service with `config`.
    pub fn with_config(config: MockServiceConfig) -> Self {
        MockService {
            shared: Arc::new(Mutex::new(State::new(config))),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> MockServiceConfig {
        lock(&self.shared).config().clone()
    }

    // ----- connecting -----

    /// Connects like [`DocumentService::connect`] (no trait import needed).
    ///
    /// # Errors
    /// Only what [`MockService::fail_next_connect`] scripted.
    pub async fn connect(&self, request: &ConnectRequest) -> Result<Connection, TransportError> {
        self.connect_mock(request)
            .map(MockConnection::into_connection)
    }

    /// Connects and returns the concrete halves, whose extra methods
    /// ([`crate::MockEvents::drain`], [`crate::MockSender::submit_noop`], ...) suit tests.
    ///
    /// The new connection's events start with its own join signal; then, for a writer, its
    /// join op. Every other connection of the document gets the join signal and (writer)
    /// the join op, in that order. Dropping both halves closes the connection cleanly.
    ///
    /// # Errors
    /// Only what [`MockService::fail_next_connect`] scripted.
    pub fn connect_mock(&self, request: &ConnectRequest) -> Result<MockConnection, TransportError> {
        let (info, rx) = lock(&self.shared).connect(request, true)?;
        let rx = rx.ok_or_else(|| {
            TransportError::Protocol("mock service: attached connection without events".into())
        })?;
        Ok(MockConnection::new(&self.shared, info, rx))
    }

    /// Connects a client nobody listens to (a background participant); it stays until
    /// [`MockService::close`], [`MockService::kill`] or [`MockService::expire`].
    ///
    /// # Errors
    /// Only what [`MockService::fail_next_connect`] scripted.
    pub fn connect_detached(&self, request: &ConnectRequest) -> Result<ClientId, TransportError> {
        Ok(lock(&self.shared).connect(request, false)?.0.client_id)
    }

    /// Adds a detached summarizer-like client of `user_id` to `document_id` (see
    /// [`summarizer_request`]) and returns its client id.
    ///
    /// # Errors
    /// Only what [`MockService::fail_next_connect`] scripted.
    pub fn spawn_summarizer(
        &self,
        document_id: &str,
        user_id: &str,
    ) -> Result<ClientId, TransportError> {
        self.connect_detached(&summarizer_request(document_id, user_id))
    }

    /// Makes the next connect (to any document) fail with `error`; calls queue up.
    pub fn fail_next_connect(&self, error: TransportError) {
        lock(&self.shared).fail_next_connect(error);
    }

    /// Makes the next accepted connection (to any document) start held, its own join signal
    /// included, as if [`MockService::hold`] had been called before anything was sent to it.
    /// Calls queue up: each holds one further connection. With [`MockService::release_as`]
    /// `(id, &[])` the own join is lost for good (C-01: a client that never sees itself join).
    pub fn hold_next_connect(&self) {
        lock(&self.shared).hold_next_connect();
    }

    // ----- inspecting -----

    /// The service's truth: every connection of `document_id` (read and write, interactive or
    /// not, evicted writers whose socket is still open included), in connect order, with the
    /// records the service stored. This is what the next connection's `initial_clients` is.
    pub fn clients(&self, document_id: &str) -> Vec<SignalClient> {
        lock(&self.shared).clients(document_id)
    }

    /// The write clients of `document_id` with a sequenced join and no sequenced leave (the
    /// quorum), in join order.
    pub fn quorum(&self, document_id: &str) -> Vec<ClientId> {
        lock(&self.shared).quorum(document_id)
    }

    /// The messages held for `client` by [`MockService::hold`] or [`MockService::partition`].
    ///
    /// # Errors
    /// [`MockError::UnknownClient`] if `client` is not a live connection.
    pub fn held(&self, client: &str) -> Result<Vec<ServiceEvent>, MockError> {
        lock(&self.shared).held(client)
    }

    /// Every message handed to a client so far, in the order the service handed them over
    /// (empty unless [`MockServiceConfig::record_transcript`] is set).
    pub fn transcript(&self) -> Vec<Delivered> {
        lock(&self.shared).transcript()
    }

    // ----- acting as a client -----

    /// `client` submits a noop op (see [`crate::MockSender::submit_noop`]).
    ///
    /// # Errors
    /// [`TransportError::Closed`] if `client` is not a live connection.
    pub fn submit_noop(&self, client: &str) -> Result<(), TransportError> {
        lock(&self.shared).submit_noop(client)
    }

    /// `client` closes its connection cleanly: it sees `Disconnected(Closed)`, the others the
    /// leave signal then (writers) the leave op. While partitioned, the server learns it on
    /// [`MockService::heal`].
    ///
    /// # Errors
    /// [`MockError::UnknownClient`] if `client` is not a live connection.
    pub fn close(&self, client: &str) -> Result<(), MockError> {
        lock(&self.shared).close(client)
    }

    // ----- faults on the messages to one client -----

    /// Discards the next `n` messages to `client`.
    ///
    /// # Errors
    /// [`MockError::UnknownClient`] if `client` is not a live connection.
    pub fn drop_next(&self, client: &str, n: u32) -> Result<(), MockError> {
        lock(&self.shared).drop_next(client, n)
    }

    /// Delivers each of the next `n` messages to `client` twice.
    ///
    /// # Errors
    /// [`MockError::UnknownClient`] if `client` is not a live connection.
    pub fn duplicate_next(&self, client: &str, n: u32) -> Result<(), MockError> {
        lock(&self.shared).duplicate_next(client, n)
    }

    /// Swaps the next two messages to `client` (the first waits until the second arrives).
    /// Calling it again swaps the pair after that.
    ///
    /// # Errors
    /// [`MockError::UnknownClient`] if `client` is not a live connection.
    pub fn reorder_next(&self, client: &str) -> Result<(), MockError> {
        lock(&self.shared).swap_next_pair(client)
    }

    /// Holds messages to `client` until [`MockService::release`]: a slow link.
    ///
    /// # Errors
    /// [`MockError::UnknownClient`] if `client` is not a live connection.
    pub fn hold(&self, client: &str) -> Result<(), MockError> {
        lock(&self.shared).hold(client)
    }

    /// Delivers the held messages in order and stops holding.
    ///
    /// # Errors
    /// [`MockError::UnknownClient`] if `client` is not a live connection.
    pub fn release(&self, client: &str) -> Result<(), MockError> {
        lock(&self.shared).release(client)
    }

    /// Delivers only the held messages at `order` (indices into [`MockService::held`]), in
    /// that order, drops the rest, and stops holding.
    ///
    /// # Errors
    /// [`MockError::UnknownClient`], or [`MockError::NoSuchHeldMessage`] (nothing changed).
    pub fn release_as(&self, client: &str, order: &[usize]) -> Result<(), MockError> {
        lock(&self.shared).release_as(client, order)
    }

    // ----- faults on the connection -----

    /// Drops `client`'s socket abruptly: it sees `Disconnected(ConnectionLost(..))` and its
    /// events end; the others get the leave signal then (writers) the leave op.
    ///
    /// # Errors
    /// [`MockError::UnknownClient`] if `client` is not a live connection.
    pub fn kill(&self, client: &str) -> Result<(), MockError> {
        lock(&self.shared).kill(client)
    }

    /// Cuts `client` off the network: nothing reaches it and what it sends waits, while the
    /// server still counts it as connected. Ends with [`MockService::heal`] or
    /// [`MockService::expire`].
    ///
    /// # Errors
    /// [`MockError::UnknownClient`] if `client` is not a live connection.
    pub fn partition(&self, client: &str) -> Result<(), MockError> {
        lock(&self.shared).partition(client)
    }

    /// Ends a partition before any timeout: the messages sent meanwhile reach `client` in
    /// order, then the server processes what `client` sent meanwhile (signals, noops, close).
    ///
    /// # Errors
    /// [`MockError::UnknownClient`] if `client` is not a live connection.
    pub fn heal(&self, client: &str) -> Result<(), MockError> {
        lock(&self.shared).heal(client)
    }

    /// The server drops `client` as a ping timeout would: the others get the leave signal then
    /// (writers) the leave op; `client` sees `Disconnected(Timeout)` if partitioned (its own
    /// heartbeat fails), else `Disconnected(ConnectionLost(..))`. What it sent while
    /// partitioned is lost.
    ///
    /// # Errors
    /// [`MockError::UnknownClient`] if `client` is not a live connection.
    pub fn expire(&self, client: &str) -> Result<(), MockError> {
        lock(&self.shared).expire(client)
    }

    /// Evicts an idle writer (case C-14): a leave op for `client` goes to every connection of
    /// the document, `client` included, while its socket stays open. It keeps receiving
    /// signals and may send them; its next noop gets a nack `Nonexistent client`.
    ///
    /// # Errors
    /// [`MockError::UnknownClient`], or [`MockError::NotInQuorum`] for a reader or an already
    /// evicted writer.
    pub fn evict(&self, client: &str) -> Result<(), MockError> {
        lock(&self.shared).evict(client)
    }
}

#[async_trait]
impl DocumentService for MockService {
    async fn connect(&self, request: &ConnectRequest) -> Result<Connection, TransportError> {
        self.connect_mock(request)
            .map(MockConnection::into_connection)
    }
}
