//! # audience-tinylicious
//!
//! The real transport of `audience-core` to a [Tinylicious] or Routerlicious server:
//! [`TinyliciousService`] implements [`audience_core::transport::DocumentService`] over the
//! socket.io delta stream (Engine.IO v4 / Socket.IO v5 on a WebSocket), and creates containers
//! over REST.
//!
//! * [`codec`]: Engine.IO / Socket.IO text frames.
//! * [`token`]: [`token::TokenProvider`] and the HS256 [`token::InsecureTokenProvider`].
//! * [`config`]: [`TinyliciousConfig`] (URLs, tenant, tokens, timeouts).
//! * [`keepalive`]: a writer's sequence numbers and noops (no idle eviction).
//! * [`container_template`]: the summary tree of new containers.
//! * [`member`]: [`TinyliciousMember`], the JS `TinyliciousMember` shape.
//! * [`error`]: the REST and configuration error, [`TinyliciousError`].
//!
//! The socket session (private) buffers everything from the moment the socket opens (up to
//! 16 MiB before the connect response; incoming WebSocket messages are capped at 16 MiB), turns
//! join/leave signals and ops into `ServiceEvent`s, answers heartbeats, detects a silent server
//! and its own eviction, and sends v2 signals. TLS (`https`/`wss`) uses rustls with the `ring`
//! provider.
//!
//! [Tinylicious]: https://www.npmjs.com/package/tinylicious
#![warn(missing_docs)]

pub mod codec;
pub mod config;
pub mod container_template;
pub mod error;
pub mod keepalive;
pub mod member;
mod rest;
mod service;
mod session;
mod socket;
mod tls;
pub mod token;

pub use config::TinyliciousConfig;
pub use error::TinyliciousError;
pub use member::TinyliciousMember;
pub use service::TinyliciousService;
pub use token::{AccessToken, InsecureTokenProvider, TokenProvider, TokenRequest};

// Compiles the README's example as a doctest, so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}
