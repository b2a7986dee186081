//! The Fluid session on top of socket.io: `connect_document`, then events until the end.
//!
//! [`establish`] runs the handshake inline and buffers every `signal`/`op` received from the
//! moment the socket opens: the service sends the new client's own join signal *before*
//! `connect_document_success` (FLUID-PROTOCOL.md 2.1). That early buffer is bounded
//! ([`MAX_EARLY_BYTES`], [`MAX_EARLY_EVENTS`]); a server exceeding it fails the connect. Once accepted, a driver task owns the
//! socket; it turns frames into [`ServiceEvent`]s in arrival order, answers heartbeats, sends
//! the writer's noops ([`Keepalive`]) and the caller's signals, and notices a dead server
//! ([`DisconnectReason::Timeout`]) or its own eviction ([`DisconnectReason::Evicted`]: a `leave`
//! op for the own client id, or a "Nonexistent client" nack).
//!
//! Decoding never fails the connection: a malformed event is logged and skipped.

use std::borrow::Cow;

use async_trait::async_trait;
use audience_core::transport::{
    ConnectedInfo, Connection, DisconnectReason, EventSource, InboundSignal, ServiceEvent,
    SignalSender, Source, TransportError,
};
use audience_core::wire::{
    ClientId, ConnectionMode, Membership, Nack, SequencedMessage, SignalClient, SignalMessage,
    TokenClaims,
};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Duration, Instant};

use crate::codec::{self, Packet, SocketPacket};
use crate::keepalive::Keepalive;
use crate::socket::{self, Heartbeat, Incoming, WsStream};

/// Protocol versions offered in `connect_document`, exactly as the JS driver sends them.
pub const PROTOCOL_VERSIONS: [&str; 4] = ["^0.4.0", "^0.3.0", "^0.2.0", "^0.1.0"];

/// Most bytes of event frames buffered before `connect_document_success`. The service sends
/// the own join signal first and little else in that window; a server flooding it could
/// otherwise fill memory until the connect timeout.
pub(crate) const MAX_EARLY_BYTES: usize = 16 << 20;
/// Most events buffered before `connect_document_success` (many tiny frames cost more as
/// decoded events than their bytes suggest).
pub(crate) const MAX_EARLY_EVENTS: usize = 10_000;

/// How long a clean close may take before the socket is simply dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Ack id of the `ping` sent before closing (the only event we send with an ack).
const FLUSH_ACK_ID: u64 = 0;

/// What the session state machine says after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Keep going.
    Continue,
    /// The service no longer knows this client: stop and let the client driver reconnect.
    Evicted,
}

/// Decodes Fluid events into [`ServiceEvent`]s and tracks sequence numbers.
#[derive(Debug)]
pub(crate) struct SessionState {
    own_client_id: Option<ClientId>,
    /// Highest sequence number seen; `-1` (the service substitutes its current one) until an
    /// op arrives.
    last_sequence_number: i64,
    keepalive: Option<Keepalive>,
    /// Idle noop interval for write connections.
    pub(crate) keepalive_interval: Duration,
}

/// Only what the op stream needs from each message, read without building a JSON tree.
#[derive(Deserialize)]
struct OpHead<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(rename = "sequenceNumber", default)]
    sequence_number: i64,
}

/// Splits an argument that may be one object or an array of them.
fn one_or_many(raw: &RawValue) -> Vec<&RawValue> {
    if raw.get().trim_start().starts_with('[') {
        match serde_json::from_str::<Vec<&RawValue>>(raw.get()) {
            Ok(items) => items,
            Err(err) => {
                tracing::warn!(%err, "skipping a malformed array argument");
                Vec::new()
            }
        }
    } else {
        vec![raw]
    }
}

/// The content of an application signal: the wire carries JSON text, parsed once here; text
/// that is not JSON is delivered as a JSON string, never an error.
fn signal_content(content: Value) -> Value {
    match content {
        Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        other => other,
    }
}

impl SessionState {
    pub(crate) fn new() -> Self {
        SessionState {
            own_client_id: None,
            last_sequence_number: -1,
            keepalive: None,
            keepalive_interval: crate::keepalive::IDLE_NOOP_INTERVAL,
        }
    }

    /// The service accepted the connection as `client_id` in `mode` at `now`.
    pub(crate) fn accepted(&mut self, client_id: &str, mode: ConnectionMode, now: Instant) {
        self.own_client_id = Some(client_id.to_owned());
        if mode == ConnectionMode::Write {
            self.keepalive = Some(
                Keepalive::new(now, self.last_sequence_number)
                    .with_idle_interval(self.keepalive_interval),
            );
        }
    }

    /// Handles one socket.io event, appending what it means to `out`.
    pub(crate) fn on_event(
        &mut self,
        name: &str,
        args: &[&RawValue],
        now: Instant,
        out: &mut Vec<ServiceEvent>,
    ) -> Verdict {
        match name {
            "signal" => {
                for arg in args {
                    for raw in one_or_many(arg) {
                        self.on_signal(raw, out);
                    }
                }
                Verdict::Continue
            }
            "op" => match args.get(1) {
                Some(messages) => self.on_ops(messages, now, out),
                None => {
                    tracing::warn!("skipping an op event without messages");
                    Verdict::Continue
                }
            },
            "nack" => match args.get(1).or(args.first()) {
                Some(nacks) => self.on_nacks(nacks, out),
                None => Verdict::Continue,
            },
            other => {
                tracing::debug!(event = other, "ignoring socket.io event");
                Verdict::Continue
            }
        }
    }

    fn on_signal(&self, raw: &RawValue, out: &mut Vec<ServiceEvent>) {
        let message: SignalMessage = match serde_json::from_str(raw.get()) {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(%err, "skipping a malformed signal");
                return;
            }
        };
        let Some(sender) = message.client_id.clone() else {
            match message.membership() {
                Ok(Some(Membership::Join(client))) => {
                    out.push(ServiceEvent::ClientJoined {
                        client,
                        source: Source::Signal,
                    });
                }
                Ok(Some(Membership::Leave(client_id))) => {
                    out.push(ServiceEvent::ClientLeft {
                        client_id,
                        source: Source::Signal,
                    });
                }
                Ok(None) => tracing::debug!("ignoring a system signal that is not a join or leave"),
                Err(err) => tracing::warn!(%err, "skipping a malformed system signal"),
            }
            return;
        };
        out.push(ServiceEvent::Signal(InboundSignal {
            client_id: sender,
            content: signal_content(message.content),
            target_client_id: message.target_client_id,
        }));
    }

    fn on_ops(
        &mut self,
        messages: &RawValue,
        now: Instant,
        out: &mut Vec<ServiceEvent>,
    ) -> Verdict {
        let mut verdict = Verdict::Continue;
        for raw in one_or_many(messages) {
            let head: OpHead<'_> = match serde_json::from_str(raw.get()) {
                Ok(head) => head,
                Err(err) => {
                    tracing::warn!(%err, "skipping a malformed op");
                    continue;
                }
            };
            self.last_sequence_number = self.last_sequence_number.max(head.sequence_number);
            if let Some(keepalive) = self.keepalive.as_mut() {
                keepalive.on_sequenced(&head.kind, head.sequence_number, now);
            }
            if head.kind != "join" && head.kind != "leave" {
                continue;
            }
            let membership = serde_json::from_str::<SequencedMessage>(raw.get())
                .map_err(|err| err.to_string())
                .and_then(|op| op.membership().map_err(|err| err.to_string()));
            match membership {
                Ok(Some(Membership::Join(client))) => {
                    out.push(ServiceEvent::ClientJoined {
                        client,
                        source: Source::Op,
                    });
                }
                Ok(Some(Membership::Leave(client_id))) => {
                    if self.own_client_id.as_deref() == Some(client_id.as_str()) {
                        tracing::info!(
                            seq = head.sequence_number,
                            "the service removed this client (leave op)"
                        );
                        verdict = Verdict::Evicted;
                    }
                    out.push(ServiceEvent::ClientLeft {
                        client_id,
                        source: Source::Op,
                    });
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(%err, seq = head.sequence_number, "skipping a malformed membership op")
                }
            }
        }
        verdict
    }

    fn on_nacks(&mut self, nacks: &RawValue, out: &mut Vec<ServiceEvent>) -> Verdict {
        let mut verdict = Verdict::Continue;
        for raw in one_or_many(nacks) {
            match serde_json::from_str::<Nack>(raw.get()) {
                Ok(nack) => {
                    // Info: the caller gets the nack itself as an event.
                    tracing::info!(code = nack.content.code, message = %nack.content.message, "nack");
                    if nack.is_nonexistent_client() {
                        verdict = Verdict::Evicted;
                    }
                    out.push(ServiceEvent::Nack(nack));
                }
                Err(err) => tracing::warn!(%err, "skipping a malformed nack"),
            }
        }
        verdict
    }

    /// The next noop frame, if this is a writer.
    fn noop_frame(&mut self, now: Instant) -> Option<Result<String, TransportError>> {
        let client_id = self.own_client_id.clone()?;
        let noop = self.keepalive.as_mut()?.next_noop(now);
        let batch = serde_json::json!([[noop]]);
        Some(
            codec::encode_event("submitOp", &[Value::String(client_id), batch])
                .map_err(|err| TransportError::Protocol(err.to_string())),
        )
    }

    fn keepalive_deadline(&self) -> Option<Instant> {
        self.keepalive.as_ref().map(Keepalive::deadline)
    }
}

/// The `connect_document_success` payload, as far as the audience needs it.
#[derive(Deserialize)]
struct ConnectedMessage {
    #[serde(rename = "clientId")]
    client_id: ClientId,
    #[serde(default)]
    mode: Option<ConnectionMode>,
    #[serde(rename = "initialClients", default)]
    initial_clients: Vec<Value>,
    #[serde(default)]
    claims: Option<Value>,
    #[serde(rename = "maxMessageSize", default)]
    max_message_size: Option<u64>,
}

fn parse_connected(
    args: &[&RawValue],
    requested: ConnectionMode,
) -> Result<ConnectedInfo, TransportError> {
    let raw = args.first().ok_or_else(|| {
        TransportError::Protocol("connect_document_success without payload".into())
    })?;
    let message: ConnectedMessage = serde_json::from_str(raw.get()).map_err(|err| {
        TransportError::Protocol(format!("malformed connect_document_success: {err}"))
    })?;
    let initial_clients = message
        .initial_clients
        .into_iter()
        .filter_map(
            |value| match serde_json::from_value::<SignalClient>(value) {
                Ok(client) => Some(client),
                Err(err) => {
                    tracing::warn!(%err, "skipping a malformed initial client");
                    None
                }
            },
        )
        .collect();
    Ok(ConnectedInfo {
        client_id: message.client_id,
        mode: message.mode.unwrap_or(requested),
        initial_clients,
        claims: message
            .claims
            .and_then(|claims| serde_json::from_value::<TokenClaims>(claims).ok()),
        max_message_size: message.max_message_size,
    })
}

fn parse_refusal(args: &[&RawValue]) -> TransportError {
    let value: Value = args
        .first()
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .unwrap_or(Value::Null);
    let code = value
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(0);
    let message = match value.get("message") {
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => "no reason given".to_owned(),
    };
    TransportError::Refused { code, message }
}

/// The `submitSignal` v2 frame: `[clientId, [{"content": "<json>", "targetClientId"?}]]`.
/// Never a `type` key: JS clients drop signals that carry one.
pub(crate) fn signal_frame(
    client_id: &str,
    content: &Value,
    target: Option<&str>,
) -> Result<String, TransportError> {
    let text =
        serde_json::to_string(content).map_err(|err| TransportError::Protocol(err.to_string()))?;
    let mut element = Map::new();
    element.insert("content".to_owned(), Value::String(text));
    if let Some(target) = target {
        element.insert(
            "targetClientId".to_owned(),
            Value::String(target.to_owned()),
        );
    }
    codec::encode_event(
        "submitSignal",
        &[
            Value::String(client_id.to_owned()),
            Value::Array(vec![Value::Object(element)]),
        ],
    )
    .map_err(|err| TransportError::Protocol(err.to_string()))
}

/// Requests from the sender handle to the driver.
#[derive(Debug)]
enum Command {
    Send {
        frame: String,
        done: oneshot::Sender<Result<(), TransportError>>,
    },
    Close {
        done: oneshot::Sender<()>,
    },
}

/// The sending half handed to the core.
#[derive(Debug)]
struct TinyliciousSender {
    client_id: ClientId,
    max_payload: u64,
    commands: mpsc::UnboundedSender<Command>,
}

#[async_trait]
impl SignalSender for TinyliciousSender {
    async fn submit_signal(
        &self,
        content: Value,
        target: Option<ClientId>,
    ) -> Result<(), TransportError> {
        let frame = signal_frame(&self.client_id, &content, target.as_deref())?;
        socket::check_size(&frame, self.max_payload)?;
        let (done, result) = oneshot::channel();
        self.commands
            .send(Command::Send { frame, done })
            .map_err(|_| TransportError::Closed)?;
        result.await.map_err(|_| TransportError::Closed)?
    }

    async fn close(&self) -> Result<(), TransportError> {
        let (done, finished) = oneshot::channel();
        if self.commands.send(Command::Close { done }).is_err() {
            // Already gone: closing twice is not an error.
            return Ok(());
        }
        let _ = finished.await;
        Ok(())
    }
}

/// The receiving half handed to the core.
#[derive(Debug)]
struct TinyliciousEvents {
    events: mpsc::UnboundedReceiver<ServiceEvent>,
}

#[async_trait]
impl EventSource for TinyliciousEvents {
    async fn next_event(&mut self) -> Option<ServiceEvent> {
        self.events.recv().await
    }
}

/// Events received before `connect_document_success`, bounded by [`MAX_EARLY_BYTES`] and
/// [`MAX_EARLY_EVENTS`].
#[derive(Debug, Default)]
struct EarlyEvents {
    events: Vec<ServiceEvent>,
    bytes: usize,
}

impl EarlyEvents {
    /// Counts an event frame of `len` bytes before it is decoded; fails once the bounds are
    /// exceeded (a frame's own size is capped by the WebSocket message limit).
    fn admit(&mut self, len: usize) -> Result<(), TransportError> {
        self.bytes = self.bytes.saturating_add(len);
        if self.bytes > MAX_EARLY_BYTES {
            return Err(TransportError::Protocol(format!(
                "the server sent more than {} MiB of events before connect_document_success",
                MAX_EARLY_BYTES >> 20
            )));
        }
        if self.events.len() >= MAX_EARLY_EVENTS {
            return Err(TransportError::Protocol(format!(
                "the server sent more than {MAX_EARLY_EVENTS} events before connect_document_success"
            )));
        }
        Ok(())
    }
}

/// Sends `41` and a WebSocket close, bounded by [`CLOSE_GRACE`].
async fn shutdown<S: WsStream>(ws: &mut S, say_goodbye: bool) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if say_goodbye {
            let _ = socket::send_text(ws, codec::DISCONNECT_FRAME.to_owned()).await;
        }
        let _ = futures_util::SinkExt::close(ws).await;
    })
    .await;
}

/// Connects the Fluid session over an open WebSocket: engine.io and socket.io handshakes,
/// `connect_document`, buffering until `connect_document_success`, then starts the driver task.
///
/// `connect_frame` holds the token: it is sent, never logged.
pub(crate) async fn establish<S: WsStream>(
    mut ws: S,
    endpoint: &str,
    connect_frame: String,
    requested: ConnectionMode,
    keepalive_interval: Duration,
) -> Result<Connection, TransportError> {
    let (handshake, mut heartbeat) = socket::engine_handshake(&mut ws, endpoint).await?;
    socket::check_size(&connect_frame, handshake.max_payload)?;
    socket::send_text(&mut ws, connect_frame).await?;
    let mut state = SessionState::new();
    state.keepalive_interval = keepalive_interval;
    let mut early = EarlyEvents::default();
    let info = loop {
        match socket::classify(ws.next().await) {
            Incoming::Lost(reason) => {
                return Err(TransportError::Unreachable {
                    endpoint: endpoint.to_owned(),
                    detail: format!(
                        "the connection ended before the service accepted it: {reason}"
                    ),
                });
            }
            Incoming::Ping(pong) => {
                heartbeat.on_ping(Instant::now());
                socket::send_text(&mut ws, pong).await?;
            }
            Incoming::Ignore => {}
            Incoming::Socket(text) => match codec::decode(&text) {
                Ok(Packet::Message(SocketPacket::Event { name, args, .. })) => {
                    match name.as_ref() {
                        "connect_document_success" => break parse_connected(&args, requested)?,
                        "connect_document_error" => {
                            let refusal = parse_refusal(&args);
                            shutdown(&mut ws, true).await;
                            return Err(refusal);
                        }
                        other => {
                            // Own join signal, ops and signals of others: kept for after the connect.
                            if let Err(err) = early.admit(text.len()) {
                                shutdown(&mut ws, true).await;
                                return Err(err);
                            }
                            let _ = state.on_event(other, &args, Instant::now(), &mut early.events);
                        }
                    }
                }
                Ok(Packet::Message(SocketPacket::Disconnect { .. })) => {
                    return Err(TransportError::Unreachable {
                        endpoint: endpoint.to_owned(),
                        detail:
                            "the server disconnected the socket before accepting the connection"
                                .into(),
                    });
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, len = text.len(), "skipping an undecodable frame"),
            },
        }
    };
    tracing::debug!(client_id = %info.client_id, mode = %info.mode, initial = info.initial_clients.len(), "connected");
    state.accepted(&info.client_id, info.mode, Instant::now());

    // Unbounded on purpose: the core consumes events as they come (its roster work per event is
    // O(1)), so the queue stays short; a bound would make the driver stop answering heartbeats
    // and reading the socket whenever the application is slow, and the service would then drop
    // the connection. Incoming frames are already capped by the WebSocket message size.
    let (event_tx, event_rx) = mpsc::unbounded_channel();
    for event in early.events {
        let _ = event_tx.send(event);
    }
    let (command_tx, command_rx) = mpsc::unbounded_channel();
    let driver = Driver {
        ws,
        state,
        heartbeat,
        max_payload: handshake.max_payload,
        events: event_tx,
        commands: command_rx,
        commands_closed: false,
    };
    tokio::spawn(driver.run());
    Ok(Connection {
        sender: std::sync::Arc::new(TinyliciousSender {
            client_id: info.client_id.clone(),
            max_payload: handshake.max_payload,
            commands: command_tx,
        }),
        events: Box::new(TinyliciousEvents { events: event_rx }),
        info,
    })
}

/// Owns the socket once connected.
struct Driver<S> {
    ws: S,
    state: SessionState,
    heartbeat: Heartbeat,
    max_payload: u64,
    events: mpsc::UnboundedSender<ServiceEvent>,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_closed: bool,
}

/// How the driver loop ended.
enum End {
    /// Report this reason, then close the socket (with `41` if it is still usable).
    Disconnected(DisconnectReason, bool),
    /// The sender asked to close: report it, close, then tell the sender.
    Closed(oneshot::Sender<()>),
    /// Nobody listens any more: close quietly.
    Abandoned,
}

impl<S: WsStream> Driver<S> {
    async fn run(mut self) {
        let end = self.run_loop().await;
        match end {
            End::Disconnected(reason, say_goodbye) => {
                tracing::debug!(%reason, "connection ended");
                let _ = self.events.send(ServiceEvent::Disconnected(reason));
                shutdown(&mut self.ws, say_goodbye).await;
            }
            End::Closed(done) => {
                self.flush().await;
                let _ = self
                    .events
                    .send(ServiceEvent::Disconnected(DisconnectReason::Closed));
                shutdown(&mut self.ws, true).await;
                let _ = done.send(());
            }
            End::Abandoned => shutdown(&mut self.ws, true).await,
        }
    }

    fn emit(&self, events: Vec<ServiceEvent>) {
        for event in events {
            // A dropped receiver only means nobody listens; the sender may still be in use.
            let _ = self.events.send(event);
        }
    }

    async fn run_loop(&mut self) -> End {
        loop {
            if self.commands_closed && self.events.is_closed() {
                return End::Abandoned;
            }
            let keepalive = self.state.keepalive_deadline();
            tokio::select! {
                message = self.ws.next() => match socket::classify(message) {
                    Incoming::Socket(text) => {
                        if let Some(end) = self.on_frame(&text) {
                            return end;
                        }
                    }
                    Incoming::Ping(pong) => {
                        self.heartbeat.on_ping(Instant::now());
                        if let Err(err) = socket::send_text(&mut self.ws, pong).await {
                            return End::Disconnected(DisconnectReason::ConnectionLost(err.to_string()), false);
                        }
                    }
                    Incoming::Ignore => {}
                    Incoming::Lost(reason) => return End::Disconnected(reason, false),
                },
                command = self.commands.recv(), if !self.commands_closed => match command {
                    Some(Command::Send { frame, done }) => {
                        let result = socket::send_text(&mut self.ws, frame).await;
                        let failed = result.as_ref().err().map(ToString::to_string);
                        let _ = done.send(result);
                        if let Some(err) = failed {
                            return End::Disconnected(DisconnectReason::ConnectionLost(err), false);
                        }
                    }
                    Some(Command::Close { done }) => return End::Closed(done),
                    None => self.commands_closed = true,
                },
                () = tokio::time::sleep_until(self.heartbeat.deadline()) => {
                    // Info, not warn: the caller hears of it as Disconnected(Timeout) and
                    // decides what to say; warn is for what the caller is not told.
                    tracing::info!("no heartbeat from the server within pingInterval + pingTimeout");
                    return End::Disconnected(DisconnectReason::Timeout, false);
                }
                () = sleep_until_some(keepalive), if keepalive.is_some() => {
                    if let Some(Err(err)) = self.send_noop().await {
                        return End::Disconnected(DisconnectReason::ConnectionLost(err.to_string()), false);
                    }
                }
                () = self.events.closed(), if self.commands_closed => return End::Abandoned,
            }
        }
    }

    /// Waits (at most [`CLOSE_GRACE`]) until the server has dispatched everything sent so far.
    ///
    /// Socket.IO servers dispatch incoming events one tick after reading them and drop those
    /// whose tick comes after a disconnect packet, so a `41` sent right after a signal can lose
    /// the signal. Fluid's `ping` event is acknowledged in order, after everything sent before
    /// it: once its ack arrives, saying goodbye is safe. Frames arriving meanwhile are delivered.
    async fn flush(&mut self) {
        let ping = Packet::Message(SocketPacket::Event {
            nsp: codec::DEFAULT_NAMESPACE.into(),
            ack_id: Some(FLUSH_ACK_ID),
            name: "ping".into(),
            args: Vec::new(),
        });
        let Ok(frame) = codec::encode(&ping) else {
            return;
        };
        if socket::send_text(&mut self.ws, frame).await.is_err() {
            return;
        }
        let acked = tokio::time::timeout(CLOSE_GRACE, async {
            loop {
                match socket::classify(self.ws.next().await) {
                    Incoming::Socket(text) => {
                        if let Ok(Packet::Message(SocketPacket::Ack {
                            ack_id: FLUSH_ACK_ID,
                            ..
                        })) = codec::decode(&text)
                        {
                            return;
                        }
                        // Still delivered; an end of connection here changes nothing: we are closing.
                        let _ = self.on_frame(&text);
                    }
                    Incoming::Ping(pong) => {
                        let _ = socket::send_text(&mut self.ws, pong).await;
                    }
                    Incoming::Ignore => {}
                    Incoming::Lost(_) => return,
                }
            }
        })
        .await;
        if acked.is_err() {
            tracing::debug!("no ack for the closing ping; closing anyway");
        }
    }

    /// Sends the writer's noop; `None` when there is nothing to send.
    async fn send_noop(&mut self) -> Option<Result<(), TransportError>> {
        let frame = match self.state.noop_frame(Instant::now())? {
            Ok(frame) => frame,
            Err(err) => return Some(Err(err)),
        };
        if let Err(err) = socket::check_size(&frame, self.max_payload) {
            return Some(Err(err));
        }
        tracing::trace!("sending a keepalive noop");
        Some(socket::send_text(&mut self.ws, frame).await)
    }

    /// Handles one socket.io frame; `Some` ends the connection.
    fn on_frame(&mut self, text: &str) -> Option<End> {
        match codec::decode(text) {
            Ok(Packet::Message(SocketPacket::Event { name, args, .. })) => {
                let mut out = Vec::new();
                let verdict = self.state.on_event(&name, &args, Instant::now(), &mut out);
                self.emit(out);
                (verdict == Verdict::Evicted)
                    .then_some(End::Disconnected(DisconnectReason::Evicted, true))
            }
            Ok(Packet::Message(SocketPacket::Disconnect { .. })) => Some(End::Disconnected(
                DisconnectReason::ConnectionLost("the server disconnected the socket".into()),
                false,
            )),
            Ok(_) => None,
            Err(err) => {
                tracing::warn!(%err, len = text.len(), "skipping an undecodable frame");
                None
            }
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use futures_util::SinkExt;
    use serde_json::json;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::Role;

    use super::*;

    const OWN_JOIN_SIGNAL: &str = r#"42["signal",{"clientId":null,"content":"{\"type\":\"join\",\"content\":{\"clientId\":\"me\",\"client\":{\"mode\":\"write\",\"details\":{\"capabilities\":{\"interactive\":true}},\"permission\":[],\"user\":{\"id\":\"u\",\"name\":\"U\"},\"scopes\":[\"doc:read\",\"doc:write\"]}}}"}]"#;
    const SUCCESS: &str = r#"42["connect_document_success",{"clientId":"me","mode":"write","existing":true,"maxMessageSize":16384,"initialClients":[],"initialMessages":[],"initialSignals":[]}]"#;
    const OWN_JOIN_OP: &str = r#"42["op","doc",[{"clientId":null,"clientSequenceNumber":-1,"contents":null,"minimumSequenceNumber":4,"referenceSequenceNumber":-1,"sequenceNumber":5,"type":"join","data":"{\"clientId\":\"me\",\"detail\":{\"mode\":\"write\",\"details\":{\"capabilities\":{\"interactive\":true}},\"permission\":[],\"user\":{\"id\":\"u\",\"name\":\"U\"},\"scopes\":[]}}"}]]"#;
    const RUNTIME_OP: &str = r#"42["op","doc",[{"clientId":"other","clientSequenceNumber":1,"contents":"{}","minimumSequenceNumber":5,"referenceSequenceNumber":5,"sequenceNumber":6,"type":"op"}]]"#;

    async fn pair() -> (
        WebSocketStream<tokio::io::DuplexStream>,
        WebSocketStream<tokio::io::DuplexStream>,
    ) {
        let (client, server) = tokio::io::duplex(1 << 16);
        (
            WebSocketStream::from_raw_socket(client, Role::Client, None).await,
            WebSocketStream::from_raw_socket(server, Role::Server, None).await,
        )
    }

    async fn next_text(ws: &mut WebSocketStream<tokio::io::DuplexStream>) -> Option<String> {
        loop {
            match ws.next().await? {
                Ok(Message::Text(text)) => return Some(text.as_str().to_owned()),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// A writer on tokio's paused clock: noops 2 s after a runtime op and every 60 s of
    /// silence, numbered from 1 with the last sequence number; heartbeat loss after 45 s.
    #[tokio::test(start_paused = true)]
    async fn writer_keepalive_and_heartbeat_on_paused_time() {
        let (client_ws, mut server_ws) = pair().await;
        let start = Instant::now();
        let server = tokio::spawn(async move {
            accept(&mut server_ws).await;
            let (mut sink, mut stream) = server_ws.split();
            let recorder = tokio::spawn(async move {
                let mut frames = Vec::new();
                while let Some(Ok(message)) = stream.next().await {
                    if let Message::Text(text) = message {
                        frames.push((start.elapsed(), text.as_str().to_owned()));
                    }
                }
                frames
            });
            // Pings at 25, 50, ..., 150 s; a runtime op at 30 s; then silence.
            for second in [25_u64, 30, 50, 75, 100, 125, 150] {
                tokio::time::sleep_until(start + Duration::from_secs(second)).await;
                let frame = if second == 30 { RUNTIME_OP } else { "2" };
                sink.send(Message::text(frame)).await.unwrap();
            }
            tokio::time::sleep(Duration::from_secs(100)).await;
            drop(sink);
            recorder.await.unwrap()
        });

        let mut connection = connect_test(client_ws, ConnectionMode::Write).await;
        assert_eq!(connection.info.client_id, "me");
        let mut events = Vec::new();
        while let Some(event) = connection.events.next_event().await {
            events.push((start.elapsed(), event));
        }
        let kinds: Vec<String> = events
            .iter()
            .map(|(at, event)| match event {
                ServiceEvent::ClientJoined { source, .. } => format!("join {source:?}"),
                ServiceEvent::Disconnected(reason) => format!("{reason} at {}s", at.as_secs()),
                other => format!("{other:?}"),
            })
            .collect();
        // The last ping came at 150 s: the server is declared gone at 150 + 25 + 20 s.
        assert_eq!(
            kinds,
            vec!["join Signal", "join Op", "server stopped answering at 195s"]
        );

        let frames = server.await.unwrap();
        let noops: Vec<(u64, Value)> = frames
            .iter()
            .filter(|(_, text)| text.starts_with(r#"42["submitOp""#))
            .map(|(at, text)| {
                (
                    at.as_secs(),
                    serde_json::from_str::<Value>(&text[2..]).unwrap(),
                )
            })
            .collect();
        let expected = |csn: i64, rsn: i64| json!(["submitOp", "me", [[{"clientSequenceNumber": csn, "referenceSequenceNumber": rsn, "type": "noop"}]]]);
        assert_eq!(
            noops,
            vec![
                (32, expected(1, 6)),
                (92, expected(2, 6)),
                (152, expected(3, 6))
            ]
        );
        let pongs = frames.iter().filter(|(_, text)| text == "3").count();
        assert_eq!(pongs, 6);
    }

    #[test]
    fn readers_send_no_noops_and_membership_decodes_from_signals_and_ops() {
        let now = Instant::now();
        let mut state = SessionState::new();
        state.accepted("me", ConnectionMode::Read, now);
        assert!(state.keepalive_deadline().is_none());
        assert!(state.noop_frame(now).is_none());
        let mut out = Vec::new();
        let leave = serde_json::from_str::<&RawValue>(
            r#"{"clientId":null,"content":"{\"type\":\"leave\",\"content\":\"c9\"}"}"#,
        )
        .unwrap();
        assert_eq!(
            state.on_event("signal", &[leave], now, &mut out),
            Verdict::Continue
        );
        let doc = serde_json::from_str::<&RawValue>(r#""doc""#).unwrap();
        let ops = serde_json::from_str::<&RawValue>(r#"[{"sequenceNumber":3,"type":"join","contents":{"clientId":"c8","detail":{"mode":"write","user":{"id":"u8"}}}},{"sequenceNumber":4,"type":"noClient"}]"#).unwrap();
        assert_eq!(
            state.on_event("op", &[doc, ops], now, &mut out),
            Verdict::Continue
        );
        assert_eq!(state.last_sequence_number, 4);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0],
            ServiceEvent::ClientLeft {
                client_id: "c9".into(),
                source: Source::Signal
            }
        );
        match &out[1] {
            ServiceEvent::ClientJoined {
                client,
                source: Source::Op,
            } => assert_eq!(client.client_id, "c8"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_nacks_do_not_evict() {
        let mut state = SessionState::new();
        let mut out = Vec::new();
        let nack = serde_json::from_str::<&RawValue>(
            r#"[{"sequenceNumber":-1,"content":{"code":429,"type":"ThrottlingError","message":"slow down","retryAfter":2}}]"#,
        )
        .unwrap();
        let empty = serde_json::from_str::<&RawValue>(r#""""#).unwrap();
        assert_eq!(
            state.on_event("nack", &[empty, nack], Instant::now(), &mut out),
            Verdict::Continue
        );
        match &out[..] {
            [ServiceEvent::Nack(nack)] => assert_eq!(
                (nack.content.code, nack.content.retry_after),
                (429, Some(2.0))
            ),
            other => panic!("{other:?}"),
        }
    }

    /// Nacks are events for the caller: logged at info, not warn.
    #[test]
    fn nacks_are_events_and_only_info_logs() {
        let captured = Captured::default();
        let mut out = Vec::new();
        tracing::subscriber::with_default(captured.subscriber(), || {
            let mut state = SessionState::new();
            let nack = serde_json::from_str::<&RawValue>(
                r#"[{"sequenceNumber":-1,"content":{"code":400,"type":"BadRequestError","message":"Nonexistent client"}}]"#,
            )
            .unwrap();
            let empty = serde_json::from_str::<&RawValue>(r#""""#).unwrap();
            assert_eq!(
                state.on_event("nack", &[empty, nack], Instant::now(), &mut out),
                Verdict::Evicted
            );
        });
        assert!(matches!(&out[..], [ServiceEvent::Nack(_)]));
        let logs = captured.text();
        assert!(
            logs.contains(" INFO ") && logs.contains("Nonexistent client"),
            "{logs}"
        );
        assert!(!logs.contains(" WARN "), "{logs}");
    }

    #[test]
    fn refusal_without_fields_still_reads() {
        assert_eq!(
            parse_refusal(&[]),
            TransportError::Refused {
                code: 0,
                message: "no reason given".into()
            }
        );
        let raw = serde_json::from_str::<&RawValue>(r#"{"code":"x","message":{"m":1}}"#).unwrap();
        assert_eq!(
            parse_refusal(&[raw]),
            TransportError::Refused {
                code: 0,
                message: r#"{"m":1}"#.into()
            }
        );
    }

    /// Connects the client side of a test pair.
    async fn connect_test(
        client_ws: WebSocketStream<tokio::io::DuplexStream>,
        mode: ConnectionMode,
    ) -> Connection {
        establish(
            client_ws,
            "test",
            r#"42["connect_document",{}]"#.to_owned(),
            mode,
            crate::keepalive::IDLE_NOOP_INTERVAL,
        )
        .await
        .unwrap()
    }

    /// Handshake on the server side of a test pair, up to our own join.
    async fn accept(server_ws: &mut WebSocketStream<tokio::io::DuplexStream>) {
        server_ws
            .send(Message::text(r#"0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#))
            .await
            .unwrap();
        assert_eq!(next_text(server_ws).await.as_deref(), Some("40"));
        server_ws
            .send(Message::text(r#"40{"sid":"x"}"#))
            .await
            .unwrap();
        assert!(
            next_text(server_ws)
                .await
                .unwrap()
                .starts_with(r#"42["connect_document","#)
        );
        for frame in [OWN_JOIN_SIGNAL, SUCCESS, OWN_JOIN_OP] {
            server_ws.send(Message::text(frame)).await.unwrap();
        }
    }

    /// A signal sent right before `close()` must be dispatched before the server sees `41`:
    /// close waits for the ack of a `ping` sent after it, and delivers what arrives meanwhile.
    #[tokio::test]
    async fn close_flushes_sent_signals_before_saying_goodbye() {
        let (client_ws, mut server_ws) = pair().await;
        let server = tokio::spawn(async move {
            accept(&mut server_ws).await;
            let mut seen = Vec::new();
            while let Some(frame) = next_text(&mut server_ws).await {
                if frame == r#"420["ping"]"# {
                    // Echo of our signal first, then the ack, as the server orders them.
                    let echo = r#"42["signal",{"clientId":"me","content":"{\"n\":1}"}]"#;
                    server_ws.send(Message::text(echo)).await.unwrap();
                    server_ws.send(Message::text("430[]")).await.unwrap();
                }
                let goodbye = frame == "41";
                seen.push(frame);
                if goodbye {
                    break;
                }
            }
            seen
        });
        let mut connection = connect_test(client_ws, ConnectionMode::Read).await;
        connection
            .sender
            .submit_signal(json!({"n": 1}), None)
            .await
            .unwrap();
        connection.sender.close().await.unwrap();
        let seen = server.await.unwrap();
        assert_eq!(
            seen,
            [
                r#"42["submitSignal","me",[{"content":"{\"n\":1}"}]]"#,
                r#"420["ping"]"#,
                "41"
            ]
        );
        let mut events = Vec::new();
        while let Some(event) = connection.events.next_event().await {
            events.push(event);
        }
        let signal = events.iter().find_map(|e| match e {
            ServiceEvent::Signal(signal) => Some(signal.content.clone()),
            _ => None,
        });
        assert_eq!(
            signal,
            Some(json!({"n": 1})),
            "the echo that arrived while closing is delivered"
        );
        assert_eq!(
            events.last(),
            Some(&ServiceEvent::Disconnected(DisconnectReason::Closed))
        );
    }

    /// Log lines captured by a test subscriber.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        /// A subscriber writing INFO and above, without colours, into this buffer.
        fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
            let writer = self.clone();
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::INFO)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish()
        }

        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// A lost heartbeat reaches the caller as `Disconnected(Timeout)`; the log line about it is
    /// info, not a warning the CLI would print next to its own message.
    #[tokio::test(start_paused = true)]
    async fn heartbeat_loss_is_an_event_and_only_an_info_log() {
        let captured = Captured::default();
        // Current-thread runtime: the spawned driver logs through this default too.
        let _guard = tracing::subscriber::set_default(captured.subscriber());

        let (client_ws, mut server_ws) = pair().await;
        let server = tokio::spawn(async move {
            accept(&mut server_ws).await;
            // Silent from now on, with the socket open.
            tokio::time::sleep(Duration::from_secs(120)).await;
            server_ws
        });
        let mut connection = connect_test(client_ws, ConnectionMode::Read).await;
        let mut last = None;
        while let Some(event) = connection.events.next_event().await {
            last = Some(event);
        }
        assert_eq!(
            last,
            Some(ServiceEvent::Disconnected(DisconnectReason::Timeout))
        );
        drop(server);
        let logs = captured.text();
        let line = logs
            .lines()
            .find(|line| line.contains("no heartbeat from the server"))
            .unwrap_or_else(|| panic!("no heartbeat log in {logs:?}"));
        assert!(line.contains(" INFO "), "{line}");
        assert!(!logs.contains(" WARN "), "{logs}");
    }

    /// A server that never acks the closing ping delays the close by the grace period only.
    #[tokio::test(start_paused = true)]
    async fn close_without_an_ack_gives_up_after_the_grace_period() {
        let (client_ws, mut server_ws) = pair().await;
        let server = tokio::spawn(async move {
            accept(&mut server_ws).await;
            let mut seen = Vec::new();
            while let Some(frame) = next_text(&mut server_ws).await {
                let goodbye = frame == "41";
                seen.push((Instant::now(), frame));
                if goodbye {
                    break;
                }
            }
            seen
        });
        let connection = connect_test(client_ws, ConnectionMode::Read).await;
        let start = Instant::now();
        connection.sender.close().await.unwrap();
        let seen = server.await.unwrap();
        let frames: Vec<&str> = seen.iter().map(|(_, f)| f.as_str()).collect();
        assert_eq!(frames, [r#"420["ping"]"#, "41"]);
        let waited = seen[1].0 - start;
        assert!(
            waited >= CLOSE_GRACE && waited < CLOSE_GRACE + Duration::from_millis(100),
            "{waited:?}"
        );
    }
}
