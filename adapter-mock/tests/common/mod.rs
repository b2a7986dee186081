//! Shared helpers: the exact events a Tinylicious-like service sends.
#![allow(dead_code)] // each test file uses a different subset

use audience_core::transport::{DisconnectReason, InboundSignal, ServiceEvent, Source};
use audience_core::wire::{Client, ClientId, ConnectionMode, SignalClient, User};
use audience_mock::MockService;
use serde_json::Value;

pub const DOC: &str = "doc";

/// The record the service stores for an interactive client of `user_id` (named after the id).
pub fn interactive_record(id: &str, user_id: &str, mode: ConnectionMode) -> SignalClient {
    let mut client = Client::interactive(User::new(user_id, user_id), mode);
    client.scopes = vec!["doc:read".into(), "doc:write".into()];
    SignalClient::new(id, client)
}

/// The record the service stores for `id` (looked up in the service's own view).
pub fn record(svc: &MockService, doc: &str, id: &str) -> SignalClient {
    svc.clients(doc)
        .into_iter()
        .find(|c| c.client_id == id)
        .unwrap_or_else(|| panic!("{id} is not connected to {doc}"))
}

pub fn join_signal(record: &SignalClient) -> ServiceEvent {
    ServiceEvent::ClientJoined {
        client: record.clone(),
        source: Source::Signal,
    }
}

pub fn join_op(record: &SignalClient) -> ServiceEvent {
    ServiceEvent::ClientJoined {
        client: record.clone(),
        source: Source::Op,
    }
}

pub fn leave_signal(id: &str) -> ServiceEvent {
    ServiceEvent::ClientLeft {
        client_id: id.to_owned(),
        source: Source::Signal,
    }
}

pub fn leave_op(id: &str) -> ServiceEvent {
    ServiceEvent::ClientLeft {
        client_id: id.to_owned(),
        source: Source::Op,
    }
}

pub fn signal(from: &str, content: Value, target: Option<&str>) -> ServiceEvent {
    ServiceEvent::Signal(InboundSignal {
        client_id: from.to_owned(),
        content,
        target_client_id: target.map(ClientId::from),
    })
}

pub fn disconnected(reason: DisconnectReason) -> ServiceEvent {
    ServiceEvent::Disconnected(reason)
}

/// The ids of the service's view of `doc`, in connect order.
pub fn ids(svc: &MockService, doc: &str) -> Vec<ClientId> {
    svc.clients(doc).into_iter().map(|c| c.client_id).collect()
}
