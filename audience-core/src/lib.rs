//! # audience-core
//!
//! Who is connected to a Fluid Framework container, computed the way the JS
//! `ServiceAudience` does it, from the ordered stream a Fluid service sends.
//!
//! * [`wire`]: serde types byte-compatible with Fluid's JSON.
//! * [`roster`]: the per-connection roster, a pure synchronous state machine.
//! * [`audience`]: [`audience::ServiceAudience`], members grouped by user, filtered by a
//!   [`policy::MemberPolicy`], with immutable snapshots and events.
//! * [`transport`]: the async traits service adapters implement.
//! * [`client`]: drives a `ServiceAudience` from any transport (connect, reconnect, subscribe).
#![warn(missing_docs)]

pub mod audience;
pub mod client;
pub mod member;
pub mod policy;
pub mod roster;
pub mod transport;
pub mod wire;
