//! # audience-mock
//!
//! Test doubles for code built on `audience-core`'s transport traits.
//!
//! * [`MockService`]: an in-process Fluid ordering service that behaves like Tinylicious as
//!   recorded in the wire traces (join signal, connect response, join op; signals to the whole
//!   document or one target; leave signal then leave op), for many clients in one process,
//!   deterministic, with fault injection per client (drop, duplicate, reorder, hold, kill,
//!   partition, expire, evict).
//! * [`MockDocumentService`], [`MockEventSource`], [`MockSignalSender`]: `mockall` mocks of
//!   the transport traits, for unit tests that script exact calls.
//!
//! ## An ordering service in a test
//!
//! ```
//! use audience_core::transport::{ServiceEvent, Source};
//! use audience_core::wire::ConnectionMode;
//! use audience_mock::{MockService, request};
//! use serde_json::json;
//!
//! let svc = MockService::new();
//! let mut a = svc.connect_mock(&request("doc", "uA", ConnectionMode::Write)).unwrap();
//! let mut b = svc.connect_mock(&request("doc", "uB", ConnectionMode::Read)).unwrap();
//! // A saw its own join signal and op, then B's join signal (B reads: no op).
//! let seen: Vec<_> = a.events.drain().into_iter().map(|event| match event {
//!     ServiceEvent::ClientJoined { client, source } => (client.client_id, source),
//!     other => panic!("unexpected {other:?}"),
//! }).collect();
//! assert_eq!(seen, vec![
//!     (a.info.client_id.clone(), Source::Signal),
//!     (a.info.client_id.clone(), Source::Op),
//!     (b.info.client_id.clone(), Source::Signal),
//! ]);
//!
//! // Faults act on the messages to one client.
//! svc.drop_next(b.client_id(), 1).unwrap();
//! a.sender.send_signal(json!("lost on B"), None).unwrap();
//! a.sender.send_signal(json!("seen by B"), None).unwrap();
//! let to_b = b.events.drain();
//! assert!(matches!(&to_b[0], ServiceEvent::ClientJoined { source: Source::Signal, .. }));
//! match &to_b[1..] {
//!     [ServiceEvent::Signal(signal)] => assert_eq!(signal.content, json!("seen by B")),
//!     other => panic!("unexpected {other:?}"),
//! }
//! assert_eq!(a.events.drain().len(), 2); // the sender gets its own signals too
//! ```
//!
//! ## Mocking the transport traits
//!
//! A downstream crate tests its own presence code against the mockall mocks by scripting the
//! calls it expects:
//!
//! ```
//! use std::sync::Arc;
//! use audience_core::transport::{ConnectRequest, ConnectedInfo, Connection, DocumentService, TransportError};
//! use audience_core::wire::{ClientId, ConnectionMode, User};
//! use audience_mock::mockall::predicate::eq;
//! use audience_mock::{MockDocumentService, MockEventSource, MockSignalSender};
//! use serde_json::json;
//!
//! /// The code under test: connect, then greet everyone in the document.
//! async fn greet_everyone(service: &dyn DocumentService) -> Result<ClientId, TransportError> {
//!     let req = ConnectRequest::new("tinylicious", "doc", User::new("u1", "Ann"), ConnectionMode::Read);
//!     let connection = service.connect(&req).await?;
//!     connection.sender.submit_signal(json!({ "type": "hello", "from": "Ann" }), None).await?;
//!     Ok(connection.info.client_id)
//! }
//!
//! let mut sender = MockSignalSender::new();
//! sender
//!     .expect_submit_signal()
//!     .with(eq(json!({ "type": "hello", "from": "Ann" })), eq(None))
//!     .times(1)
//!     .returning(|_, _| Ok(()));
//! let mut service = MockDocumentService::new();
//! service
//!     .expect_connect()
//!     .withf(|req: &ConnectRequest| req.document_id == "doc" && req.mode == ConnectionMode::Read)
//!     .times(1)
//!     .return_once(move |_| {
//!         Ok(Connection {
//!             info: ConnectedInfo {
//!                 client_id: "c-1".into(),
//!                 mode: ConnectionMode::Read,
//!                 initial_clients: Vec::new(),
//!                 claims: None,
//!                 max_message_size: Some(1024),
//!             },
//!             events: Box::new(MockEventSource::new()),
//!             sender: Arc::new(sender),
//!         })
//!     });
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! assert_eq!(runtime.block_on(greet_everyone(&service)).unwrap(), "c-1");
//! // Refusals are just as easy to script.
//! let mut refusing = MockDocumentService::new();
//! refusing.expect_connect().returning(|_| Err(TransportError::NotFound("doc".into())));
//! assert_eq!(runtime.block_on(greet_everyone(&refusing)), Err(TransportError::NotFound("doc".into())));
//! ```
#![warn(missing_docs)]

mod config;
mod connection;
mod delivery;
mod error;
mod ids;
mod service;
mod state;

pub use audience_core::transport::{MockDocumentService, MockEventSource, MockSignalSender};
/// The `mockall` version the mocks were generated with (for `predicate`, `Sequence`, ...).
pub use mockall;

pub use config::MockServiceConfig;
pub use connection::{MockConnection, MockEvents, MockSender};
pub use error::MockError;
pub use service::{MockService, TENANT, request, summarizer_request};
pub use state::Delivered;
