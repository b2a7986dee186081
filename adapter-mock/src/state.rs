//! The service's state: documents, connections, and the Tinylicious fan-out rules.
//!
//! Everything here is synchronous and runs under one lock, so every message a call causes is
//! queued, in a fixed order, before the call returns: the order of events is total and the same
//! on every run.
//!
//! Rules kept from Tinylicious (FLUID-PROTOCOL.md 2.3, 2.8, 2.10, 3):
//! * a document's *room* holds every connection (read and write); `initialClients` is the room
//!   before the new connection is added;
//! * join/leave **signals** go to the whole room, for every connection;
//! * join/leave **ops** exist only for write connections (the *quorum*), and, like every op, go
//!   to the whole room, readers included;
//! * on connect the room gets the join signal, then (writers) the join op; on leave, the leave
//!   signal, then (writers in the quorum) the leave op.

use std::collections::{BTreeMap, HashMap, VecDeque};

use audience_core::transport::{
    ConnectRequest, ConnectedInfo, DisconnectReason, InboundSignal, ServiceEvent, Source,
    TransportError,
};
use audience_core::wire::{
    Client, ClientId, ConnectionMode, Extra, Nack, NackContent, SignalClient, TokenClaims, scopes,
};
use serde_json::Value;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tracing::debug;

use crate::config::MockServiceConfig;
use crate::delivery::Delivery;
use crate::error::MockError;
use crate::ids;

/// Largest message Tinylicious accepts on a write connection (`maxMessageSize`).
const WRITE_MAX_MESSAGE_SIZE: u64 = 16_384;
/// Largest message Tinylicious reports for a read connection.
const READ_MAX_MESSAGE_SIZE: u64 = 1_024;

/// One message handed to a client, as recorded in the transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    /// The receiving connection.
    pub to: ClientId,
    /// What it received.
    pub event: ServiceEvent,
}

/// One document: who is connected, and who is in the quorum.
#[derive(Debug, Default)]
struct Doc {
    /// Every connection, in connect order (the `initialClients` order).
    room: Vec<ClientId>,
    /// Write connections with a sequenced join and no sequenced leave, in join order.
    quorum: Vec<ClientId>,
}

/// Something a partitioned client sent; the server sees it when the partition heals.
#[derive(Debug)]
enum Submit {
    Signal {
        content: Value,
        target: Option<ClientId>,
    },
    Noop,
    Close,
}

/// The server's record of one connection.
#[derive(Debug)]
struct Conn {
    doc: String,
    record: SignalClient,
    /// `None` for detached connections (nobody listens) and once the client end is closed.
    tx: Option<UnboundedSender<ServiceEvent>>,
    delivery: Delivery,
    /// Client submissions made while partitioned, replayed in order on heal.
    pending: Vec<Submit>,
    /// The client closed its end while partitioned; the server learns it on heal or expiry.
    client_closed: bool,
}

/// Everything the service knows.
#[derive(Debug)]
pub(crate) struct State {
    config: MockServiceConfig,
    next_counter: u64,
    docs: BTreeMap<String, Doc>,
    conns: HashMap<ClientId, Conn>,
    connect_failures: VecDeque<TransportError>,
    /// How many upcoming connections start held.
    hold_next_connects: u32,
    transcript: Vec<Delivered>,
}

/// The record the service stores and broadcasts for a connection (FLUID-PROTOCOL.md 2.3 step 4):
/// the sent client with the token's user, the token's scopes (`summary:write` kept only for
/// summarizers) and the effective mode.
fn stored_client(request: &ConnectRequest) -> Client {
    let mut client = request.client.clone();
    client.user = request.user.clone();
    client.mode = request.mode;
    let summarizer =
        !client.is_interactive() || client.details.client_type.as_deref() == Some("summarizer");
    client.scopes = vec![scopes::DOC_READ.to_owned(), scopes::DOC_WRITE.to_owned()];
    if summarizer {
        client.scopes.push(scopes::SUMMARY_WRITE.to_owned());
    }
    client
}

/// A `BadRequestError` nack as Tinylicious sends it for refused ops.
fn bad_request(message: &str) -> Nack {
    Nack {
        operation: None,
        sequence_number: -1,
        content: NackContent {
            code: 400,
            kind: "BadRequestError".to_owned(),
            message: message.to_owned(),
            retry_after: None,
            extra: Extra::new(),
        },
        extra: Extra::new(),
    }
}

/// Hands messages that passed the pipeline to the client, recording them when asked.
fn hand_over(
    conn: &Conn,
    to: &str,
    events: Vec<ServiceEvent>,
    transcript: Option<&mut Vec<Delivered>>,
) {
    let Some(tx) = &conn.tx else { return };
    let mut transcript = transcript;
    for event in events {
        if let Some(log) = transcript.as_deref_mut() {
            log.push(Delivered {
                to: to.to_owned(),
                event: event.clone(),
            });
        }
        // The receiver may be gone while a sender clone lives on: nobody is listening then.
        let _ = tx.send(event);
    }
}

impl State {
    pub(crate) fn new(config: MockServiceConfig) -> Self {
        State {
            config,
            next_counter: 0,
            docs: BTreeMap::new(),
            conns: HashMap::new(),
            connect_failures: VecDeque::new(),
            hold_next_connects: 0,
            transcript: Vec::new(),
        }
    }

    pub(crate) fn config(&self) -> &MockServiceConfig {
        &self.config
    }

    pub(crate) fn transcript(&self) -> Vec<Delivered> {
        self.transcript.clone()
    }

    pub(crate) fn fail_next_connect(&mut self, error: TransportError) {
        self.connect_failures.push_back(error);
    }

    pub(crate) fn hold_next_connect(&mut self) {
        self.hold_next_connects = self.hold_next_connects.saturating_add(1);
    }

    /// Accepts a connection; `attached` connections get a receiver for their events.
    pub(crate) fn connect(
        &mut self,
        request: &ConnectRequest,
        attached: bool,
    ) -> Result<(ConnectedInfo, Option<UnboundedReceiver<ServiceEvent>>), TransportError> {
        if let Some(error) = self.connect_failures.pop_front() {
            debug!(document = %request.document_id, %error, "mock service refuses a connection as scripted");
            return Err(error);
        }
        let client_id = ids::client_id(self.config.seed, self.next_counter);
        self.next_counter += 1;
        let record = SignalClient::new(client_id.clone(), stored_client(request));
        let writer = request.mode == ConnectionMode::Write;
        let doc_id = request.document_id.clone();

        let doc = self.docs.entry(doc_id.clone()).or_default();
        let initial_clients: Vec<SignalClient> = doc
            .room
            .iter()
            .filter_map(|id| self.conns.get(id))
            .map(|conn| conn.record.clone())
            .collect();
        doc.room.push(client_id.clone());
        if writer {
            doc.quorum.push(client_id.clone());
        }

        let (tx, rx) = if attached {
            let (tx, rx) = unbounded_channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let mut delivery = Delivery::default();
        if self.hold_next_connects > 0 {
            self.hold_next_connects -= 1;
            delivery.hold();
        }
        self.conns.insert(
            client_id.clone(),
            Conn {
                doc: doc_id.clone(),
                record: record.clone(),
                tx,
                delivery,
                pending: Vec::new(),
                client_closed: false,
            },
        );
        debug!(document = %doc_id, client = %client_id, mode = %request.mode, "mock service accepts a connection");

        self.broadcast(
            &doc_id,
            &ServiceEvent::ClientJoined {
                client: record.clone(),
                source: Source::Signal,
            },
        );
        if writer {
            self.broadcast(
                &doc_id,
                &ServiceEvent::ClientJoined {
                    client: record,
                    source: Source::Op,
                },
            );
        }

        let token_scopes = vec![
            scopes::DOC_READ.to_owned(),
            scopes::DOC_WRITE.to_owned(),
            scopes::SUMMARY_WRITE.to_owned(),
        ];
        let info = ConnectedInfo {
            client_id,
            mode: request.mode,
            initial_clients,
            claims: Some(TokenClaims {
                document_id: request.document_id.clone(),
                scopes: token_scopes,
                tenant_id: request.tenant_id.clone(),
                user: request.user.clone(),
                iat: self.config.issued_at,
                exp: self.config.issued_at.saturating_add(3600),
                ver: "1.0".to_owned(),
                extra: Extra::new(),
            }),
            max_message_size: Some(if writer {
                WRITE_MAX_MESSAGE_SIZE
            } else {
                READ_MAX_MESSAGE_SIZE
            }),
        };
        Ok((info, rx))
    }

    /// Sends one message to one connection through its fault pipeline.
    fn deliver(&mut self, to: &str, event: ServiceEvent) {
        let record = self.config.record_transcript;
        let Some(conn) = self.conns.get_mut(to) else {
            return;
        };
        if conn.client_closed || conn.tx.is_none() {
            return;
        }
        let mut out = Vec::new();
        conn.delivery.push(event, &mut out);
        hand_over(
            conn,
            to,
            out,
            if record {
                Some(&mut self.transcript)
            } else {
                None
            },
        );
    }

    /// Sends a message to every connection of a document, in room order.
    fn broadcast(&mut self, doc: &str, event: &ServiceEvent) {
        let room = self
            .docs
            .get(doc)
            .map(|d| d.room.clone())
            .unwrap_or_default();
        for id in room {
            self.deliver(&id, event.clone());
        }
    }

    /// Hands a message to the client at once, past the faults: the client's own view of its
    /// socket ending (it needs no wire to learn that).
    fn notify_local(&mut self, to: &str, event: ServiceEvent) {
        let record = self.config.record_transcript;
        if let Some(conn) = self.conns.get(to) {
            hand_over(
                conn,
                to,
                vec![event],
                if record {
                    Some(&mut self.transcript)
                } else {
                    None
                },
            );
        }
    }

    /// Flushes what a `release`/`heal` let through.
    fn flush(&mut self, id: &str, out: Vec<ServiceEvent>) {
        let record = self.config.record_transcript;
        if let Some(conn) = self.conns.get(id) {
            if conn.client_closed {
                return;
            }
            hand_over(
                conn,
                id,
                out,
                if record {
                    Some(&mut self.transcript)
                } else {
                    None
                },
            );
        }
    }

    /// The connection a client-side call comes from, if that client may still send.
    fn sending_client(&mut self, id: &str) -> Result<&mut Conn, TransportError> {
        match self.conns.get_mut(id) {
            Some(conn) if !conn.client_closed => Ok(conn),
            _ => Err(TransportError::Closed),
        }
    }

    fn known(&mut self, id: &str) -> Result<&mut Conn, MockError> {
        self.conns
            .get_mut(id)
            .ok_or_else(|| MockError::UnknownClient(id.to_owned()))
    }

    // ----- client-side calls -----

    pub(crate) fn submit_signal(
        &mut self,
        from: &str,
        content: Value,
        target: Option<ClientId>,
    ) -> Result<(), TransportError> {
        let conn = self.sending_client(from)?;
        if conn.delivery.is_partitioned() {
            conn.pending.push(Submit::Signal { content, target });
            return Ok(());
        }
        self.relay_signal(from, content, target);
        Ok(())
    }

    /// v2 signal relay: to the target's room if set, else to the document room (sender included).
    fn relay_signal(&mut self, from: &str, content: Value, target: Option<ClientId>) {
        let Some(doc) = self.conns.get(from).map(|conn| conn.doc.clone()) else {
            return;
        };
        let event = ServiceEvent::Signal(InboundSignal {
            client_id: from.to_owned(),
            content,
            target_client_id: target.clone(),
        });
        match target {
            None => self.broadcast(&doc, &event),
            Some(target) if self.conns.get(&target).is_some_and(|conn| conn.doc == doc) => {
                self.deliver(&target, event)
            }
            Some(target) => {
                debug!(from, %target, "targeted signal to a client that is not connected: dropped")
            }
        }
    }

    pub(crate) fn submit_noop(&mut self, from: &str) -> Result<(), TransportError> {
        let conn = self.sending_client(from)?;
        if conn.delivery.is_partitioned() {
            conn.pending.push(Submit::Noop);
            return Ok(());
        }
        self.sequence_noop(from);
        Ok(())
    }

    /// A client noop: refreshes liveness (nothing broadcast), or a nack as the sequencer sends.
    fn sequence_noop(&mut self, from: &str) {
        let Some(conn) = self.conns.get(from) else {
            return;
        };
        let in_quorum = self
            .docs
            .get(&conn.doc)
            .is_some_and(|doc| doc.quorum.iter().any(|id| id == from));
        let refusal = if conn.record.client.mode == ConnectionMode::Read {
            Some("Readonly client")
        } else if !in_quorum {
            Some("Nonexistent client")
        } else {
            None
        };
        if let Some(message) = refusal {
            debug!(client = from, message, "mock service nacks an op");
            self.deliver(from, ServiceEvent::Nack(bad_request(message)));
        }
    }

    /// The client ends its connection cleanly (`notify`: it also sees `Disconnected(Closed)`).
    pub(crate) fn client_closes(&mut self, id: &str, notify: bool) {
        let Some(conn) = self.conns.get(id) else {
            return;
        };
        if conn.client_closed {
            return;
        }
        if notify {
            self.notify_local(id, ServiceEvent::Disconnected(DisconnectReason::Closed));
        }
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        conn.tx = None;
        if conn.delivery.is_partitioned() {
            conn.client_closed = true;
            conn.pending.push(Submit::Close);
            return;
        }
        self.remove(id, None);
    }

    /// Removes a connection server-side: the room gets the leave signal, then the leave op if
    /// the client was in the quorum. `reason`: what the client itself sees, if anything.
    fn remove(&mut self, id: &str, reason: Option<DisconnectReason>) {
        if let Some(reason) = reason {
            self.notify_local(id, ServiceEvent::Disconnected(reason));
        }
        let Some(conn) = self.conns.remove(id) else {
            return;
        };
        let doc_id = conn.doc;
        drop(conn.tx);
        let Some(doc) = self.docs.get_mut(&doc_id) else {
            return;
        };
        doc.room.retain(|member| member != id);
        let quorum_len = doc.quorum.len();
        doc.quorum.retain(|member| member != id);
        let was_in_quorum = doc.quorum.len() != quorum_len;
        if doc.room.is_empty() {
            self.docs.remove(&doc_id);
        }
        debug!(document = %doc_id, client = id, "mock service removes a connection");
        self.broadcast(
            &doc_id,
            &ServiceEvent::ClientLeft {
                client_id: id.to_owned(),
                source: Source::Signal,
            },
        );
        if was_in_quorum {
            self.broadcast(
                &doc_id,
                &ServiceEvent::ClientLeft {
                    client_id: id.to_owned(),
                    source: Source::Op,
                },
            );
        }
    }

    // ----- inspection -----

    pub(crate) fn clients(&self, doc: &str) -> Vec<SignalClient> {
        self.docs
            .get(doc)
            .map(|d| {
                d.room
                    .iter()
                    .filter_map(|id| self.conns.get(id))
                    .map(|conn| conn.record.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn quorum(&self, doc: &str) -> Vec<ClientId> {
        self.docs
            .get(doc)
            .map(|d| d.quorum.clone())
            .unwrap_or_default()
    }

    pub(crate) fn held(&mut self, id: &str) -> Result<Vec<ServiceEvent>, MockError> {
        Ok(self.known(id)?.delivery.buffered())
    }

    // ----- faults -----

    pub(crate) fn close(&mut self, id: &str) -> Result<(), MockError> {
        self.known(id)?;
        self.client_closes(id, true);
        Ok(())
    }

    pub(crate) fn drop_next(&mut self, id: &str, n: u32) -> Result<(), MockError> {
        self.known(id)?.delivery.drop_next(n);
        Ok(())
    }

    pub(crate) fn duplicate_next(&mut self, id: &str, n: u32) -> Result<(), MockError> {
        self.known(id)?.delivery.duplicate_next(n);
        Ok(())
    }

    pub(crate) fn swap_next_pair(&mut self, id: &str) -> Result<(), MockError> {
        self.known(id)?.delivery.swap_next_pair();
        Ok(())
    }

    pub(crate) fn hold(&mut self, id: &str) -> Result<(), MockError> {
        self.known(id)?.delivery.hold();
        Ok(())
    }

    pub(crate) fn release(&mut self, id: &str) -> Result<(), MockError> {
        let mut out = Vec::new();
        self.known(id)?.delivery.release(&mut out);
        self.flush(id, out);
        Ok(())
    }

    pub(crate) fn release_as(&mut self, id: &str, order: &[usize]) -> Result<(), MockError> {
        let mut out = Vec::new();
        let delivery = &mut self.known(id)?.delivery;
        let held = delivery.buffered().len();
        delivery
            .release_as(order, &mut out)
            .map_err(|index| MockError::NoSuchHeldMessage {
                client: id.to_owned(),
                index,
                held,
            })?;
        self.flush(id, out);
        Ok(())
    }

    pub(crate) fn kill(&mut self, id: &str) -> Result<(), MockError> {
        self.known(id)?;
        self.remove(
            id,
            Some(DisconnectReason::ConnectionLost(
                "connection reset by the mock service".to_owned(),
            )),
        );
        Ok(())
    }

    pub(crate) fn partition(&mut self, id: &str) -> Result<(), MockError> {
        self.known(id)?.delivery.partition();
        Ok(())
    }

    pub(crate) fn heal(&mut self, id: &str) -> Result<(), MockError> {
        let conn = self.known(id)?;
        let mut out = Vec::new();
        conn.delivery.heal(&mut out);
        let pending = std::mem::take(&mut conn.pending);
        self.flush(id, out);
        for submit in pending {
            match submit {
                Submit::Signal { content, target } => self.relay_signal(id, content, target),
                Submit::Noop => self.sequence_noop(id),
                Submit::Close => self.remove(id, None),
            }
        }
        Ok(())
    }

    pub(crate) fn expire(&mut self, id: &str) -> Result<(), MockError> {
        let conn = self.known(id)?;
        let reason = if conn.client_closed {
            None
        } else if conn.delivery.is_partitioned() {
            Some(DisconnectReason::Timeout)
        } else {
            Some(DisconnectReason::ConnectionLost(
                "the service dropped the connection after a ping timeout".to_owned(),
            ))
        };
        self.remove(id, reason);
        Ok(())
    }

    pub(crate) fn evict(&mut self, id: &str) -> Result<(), MockError> {
        let doc_id = self.known(id)?.doc.clone();
        let doc = self
            .docs
            .get_mut(&doc_id)
            .ok_or_else(|| MockError::UnknownClient(id.to_owned()))?;
        let Some(position) = doc.quorum.iter().position(|member| member == id) else {
            return Err(MockError::NotInQuorum(id.to_owned()));
        };
        doc.quorum.remove(position);
        debug!(document = %doc_id, client = id, "mock service evicts an idle writer");
        self.broadcast(
            &doc_id,
            &ServiceEvent::ClientLeft {
                client_id: id.to_owned(),
                source: Source::Op,
            },
        );
        Ok(())
    }
}
