//! Engine.IO v4 / Socket.IO v5 text framing, as Tinylicious (socket.io 4.x) speaks it.
//!
//! One WebSocket text message holds one Engine.IO packet: a type digit and its data.
//! Engine.IO message packets (`4…`) carry one Socket.IO packet: a type digit, an optional
//! namespace (`/nsp,`), an optional ack id (decimal), then JSON.
//!
//! | frame | packet |
//! | --- | --- |
//! | `0{"sid":…,"pingInterval":…}` | [`Packet::Open`] |
//! | `2` / `3` | [`Packet::Ping`] (server) / [`Packet::Pong`] (client) |
//! | `40`, `40{"sid":"…"}` | [`SocketPacket::Connect`] |
//! | `41` | [`SocketPacket::Disconnect`] |
//! | `42["event",…]`, `42<n>[…]` | [`SocketPacket::Event`] |
//! | `43<n>[…]` | [`SocketPacket::Ack`] |
//! | `44{"message":…}` | [`SocketPacket::ConnectError`] |
//!
//! Decoding borrows from the frame text: event arguments are [`RawValue`] slices, so an `op`
//! frame is not turned into a JSON tree here. [`decode`] never panics, whatever the input.
//!
//! ```
//! use audience_tinylicious::codec::{decode, encode, Packet, SocketPacket};
//! let frame = r#"42["signal",{"clientId":null,"content":"{}"}]"#;
//! let packet = decode(frame).unwrap();
//! match &packet {
//!     Packet::Message(SocketPacket::Event { name, args, ack_id: None, .. }) => {
//!         assert_eq!(name, "signal");
//!         assert_eq!(args[0].get(), r#"{"clientId":null,"content":"{}"}"#);
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! assert_eq!(encode(&packet).unwrap(), frame);
//! ```

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The default namespace, the only one Fluid services use.
pub const DEFAULT_NAMESPACE: &str = "/";

/// Parameters of the Engine.IO open packet (`0{…}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handshake {
    /// Engine.IO session id.
    pub sid: String,
    /// Transports the server offers to upgrade to (empty on a WebSocket).
    #[serde(default)]
    pub upgrades: Vec<String>,
    /// How often the server pings, in milliseconds.
    #[serde(rename = "pingInterval")]
    pub ping_interval: u64,
    /// How long the server waits for a pong, in milliseconds.
    #[serde(rename = "pingTimeout")]
    pub ping_timeout: u64,
    /// Largest frame the server accepts, in bytes.
    #[serde(rename = "maxPayload", default = "default_max_payload")]
    pub max_payload: u64,
}

fn default_max_payload() -> u64 {
    // socket.io 4.x default (`maxHttpBufferSize`), used when an old server omits the field.
    1_000_000
}

/// One Engine.IO packet (one WebSocket text message).
#[derive(Debug, Clone, PartialEq)]
pub enum Packet<'a> {
    /// `0{…}`: session open, first frame from the server.
    Open(Handshake),
    /// `1`: the transport is being closed.
    Close,
    /// `2…`: heartbeat ping (sent by the server in EIO 4), with optional data (`2probe`).
    Ping(&'a str),
    /// `3…`: heartbeat pong, echoing the ping data.
    Pong(&'a str),
    /// `4…`: a Socket.IO packet.
    Message(SocketPacket<'a>),
    /// `5`: transport upgrade (not used on a WebSocket-only session).
    Upgrade,
    /// `6`: no-op.
    Noop,
}

/// One Socket.IO v5 packet.
#[derive(Debug, Clone)]
pub enum SocketPacket<'a> {
    /// `0`: connect to a namespace (client, no payload) or its acknowledgement (server, `{"sid"}`).
    Connect {
        /// Namespace, `/` by default.
        nsp: Cow<'a, str>,
        /// Optional payload (auth data from the client, `{"sid":…}` from the server).
        payload: Option<&'a RawValue>,
    },
    /// `1`: leave a namespace.
    Disconnect {
        /// Namespace.
        nsp: Cow<'a, str>,
    },
    /// `2`: an event `["name", args…]`, optionally asking for an ack.
    Event {
        /// Namespace.
        nsp: Cow<'a, str>,
        /// Ack id when the sender wants an acknowledgement.
        ack_id: Option<u64>,
        /// Event name.
        name: Cow<'a, str>,
        /// Arguments after the name, as raw JSON.
        args: Vec<&'a RawValue>,
    },
    /// `3`: acknowledgement of an event, `[args…]`.
    Ack {
        /// Namespace.
        nsp: Cow<'a, str>,
        /// The id of the acknowledged event.
        ack_id: u64,
        /// Reply arguments.
        args: Vec<&'a RawValue>,
    },
    /// `4`: the server refused the namespace connection.
    ConnectError {
        /// Namespace.
        nsp: Cow<'a, str>,
        /// Usually `{"message":…}`.
        payload: Option<&'a RawValue>,
    },
}

/// Raw JSON compares by its text.
impl PartialEq for SocketPacket<'_> {
    fn eq(&self, other: &Self) -> bool {
        fn text(raw: Option<&RawValue>) -> Option<&str> {
            raw.map(RawValue::get)
        }
        fn texts<'r>(args: &'r [&'r RawValue]) -> Vec<&'r str> {
            args.iter().map(|raw| raw.get()).collect()
        }
        match (self, other) {
            (
                SocketPacket::Connect {
                    nsp: a,
                    payload: pa,
                },
                SocketPacket::Connect {
                    nsp: b,
                    payload: pb,
                },
            )
            | (
                SocketPacket::ConnectError {
                    nsp: a,
                    payload: pa,
                },
                SocketPacket::ConnectError {
                    nsp: b,
                    payload: pb,
                },
            ) => a == b && text(*pa) == text(*pb),
            (SocketPacket::Disconnect { nsp: a }, SocketPacket::Disconnect { nsp: b }) => a == b,
            (
                SocketPacket::Event {
                    nsp: a,
                    ack_id: ia,
                    name: na,
                    args: xa,
                },
                SocketPacket::Event {
                    nsp: b,
                    ack_id: ib,
                    name: nb,
                    args: xb,
                },
            ) => a == b && ia == ib && na == nb && texts(xa) == texts(xb),
            (
                SocketPacket::Ack {
                    nsp: a,
                    ack_id: ia,
                    args: xa,
                },
                SocketPacket::Ack {
                    nsp: b,
                    ack_id: ib,
                    args: xb,
                },
            ) => a == b && ia == ib && texts(xa) == texts(xb),
            _ => false,
        }
    }
}

/// Why a frame could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The frame is empty.
    #[error("empty frame")]
    Empty,
    /// The Engine.IO packet type is not one of `0`..`6`.
    #[error("unknown engine.io packet type {0:?}")]
    UnknownEngineType(char),
    /// The Socket.IO packet type is not one of `0`..`6`.
    #[error("unknown socket.io packet type {0:?}")]
    UnknownSocketType(char),
    /// Binary events and acks (`5`, `6`) need attachments, which Fluid services never send.
    #[error("binary socket.io packets are not supported")]
    BinaryUnsupported,
    /// The ack id does not fit in 64 bits.
    #[error("ack id out of range")]
    AckIdOverflow,
    /// A required ack id is missing.
    #[error("ack packet without an ack id")]
    MissingAckId,
    /// The namespace is not terminated by a comma.
    #[error("unterminated namespace")]
    BadNamespace,
    /// The JSON part is malformed or has the wrong shape.
    #[error("malformed {what}: {detail}")]
    Json {
        /// What was being read.
        what: &'static str,
        /// The parser's message.
        detail: String,
    },
}

fn json_error(what: &'static str, err: serde_json::Error) -> CodecError {
    CodecError::Json {
        what,
        detail: err.to_string(),
    }
}

/// Decodes one WebSocket text message.
///
/// # Errors
/// [`CodecError`] for anything that is not a well-formed Engine.IO v4 / Socket.IO v5 packet.
pub fn decode(frame: &str) -> Result<Packet<'_>, CodecError> {
    let mut chars = frame.chars();
    let kind = chars.next().ok_or(CodecError::Empty)?;
    let rest = chars.as_str();
    match kind {
        '0' => {
            let handshake: Handshake =
                serde_json::from_str(rest).map_err(|e| json_error("open packet", e))?;
            Ok(Packet::Open(handshake))
        }
        '1' => Ok(Packet::Close),
        '2' => Ok(Packet::Ping(rest)),
        '3' => Ok(Packet::Pong(rest)),
        '4' => decode_socket(rest).map(Packet::Message),
        '5' => Ok(Packet::Upgrade),
        '6' => Ok(Packet::Noop),
        other => Err(CodecError::UnknownEngineType(other)),
    }
}

fn decode_socket(text: &str) -> Result<SocketPacket<'_>, CodecError> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or(CodecError::Empty)?;
    let mut rest = chars.as_str();
    if matches!(kind, '5' | '6') {
        return Err(CodecError::BinaryUnsupported);
    }
    if !matches!(kind, '0'..='4') {
        return Err(CodecError::UnknownSocketType(kind));
    }
    let nsp: Cow<'_, str> = if rest.starts_with('/') {
        let end = rest.find(',').ok_or(CodecError::BadNamespace)?;
        let (nsp, after) = rest.split_at(end);
        rest = after.get(1..).unwrap_or("");
        Cow::Borrowed(nsp)
    } else {
        Cow::Borrowed(DEFAULT_NAMESPACE)
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (id_text, payload) = rest.split_at(digits);
    let ack_id = if id_text.is_empty() {
        None
    } else {
        Some(
            id_text
                .parse::<u64>()
                .map_err(|_| CodecError::AckIdOverflow)?,
        )
    };
    let payload = if payload.is_empty() {
        None
    } else {
        Some(payload)
    };
    match kind {
        '0' => Ok(SocketPacket::Connect {
            nsp,
            payload: parse_payload(payload, "connect payload", false)?,
        }),
        '1' => Ok(SocketPacket::Disconnect { nsp }),
        '2' => {
            let args: Vec<&RawValue> = parse_array(payload, "event")?;
            let mut args = args.into_iter();
            let first = args.next().ok_or_else(|| CodecError::Json {
                what: "event",
                detail: "empty array".into(),
            })?;
            let name: Cow<'_, str> =
                serde_json::from_str(first.get()).map_err(|e| json_error("event name", e))?;
            Ok(SocketPacket::Event {
                nsp,
                ack_id,
                name,
                args: args.collect(),
            })
        }
        '3' => {
            let ack_id = ack_id.ok_or(CodecError::MissingAckId)?;
            Ok(SocketPacket::Ack {
                nsp,
                ack_id,
                args: parse_array(payload, "ack")?,
            })
        }
        _ => Ok(SocketPacket::ConnectError {
            nsp,
            payload: parse_payload(payload, "connect error payload", true)?,
        }),
    }
}

/// A connect payload must be an object (socket.io-parser rule); a connect error may also be a
/// string. Anything else (a number would read back as an ack id) is refused.
fn parse_payload<'a>(
    payload: Option<&'a str>,
    what: &'static str,
    string_ok: bool,
) -> Result<Option<&'a RawValue>, CodecError> {
    let Some(text) = payload else { return Ok(None) };
    let raw: &RawValue = serde_json::from_str(text).map_err(|e| json_error(what, e))?;
    let first = raw.get().trim_start().as_bytes().first().copied();
    match first {
        Some(b'{') => Ok(Some(raw)),
        Some(b'"') if string_ok => Ok(Some(raw)),
        _ => Err(CodecError::Json {
            what,
            detail: "expected an object".into(),
        }),
    }
}

fn parse_array<'a>(
    payload: Option<&'a str>,
    what: &'static str,
) -> Result<Vec<&'a RawValue>, CodecError> {
    let text = payload.ok_or_else(|| CodecError::Json {
        what,
        detail: "missing JSON array".into(),
    })?;
    serde_json::from_str(text).map_err(|e| json_error(what, e))
}

/// Encodes a packet as one WebSocket text message.
///
/// # Errors
/// Only if the event name cannot be serialized (never for valid UTF-8) or the handshake
/// cannot be serialized.
pub fn encode(packet: &Packet<'_>) -> Result<String, CodecError> {
    let mut out = String::new();
    match packet {
        Packet::Open(handshake) => {
            out.push('0');
            out.push_str(
                &serde_json::to_string(handshake).map_err(|e| json_error("open packet", e))?,
            );
        }
        Packet::Close => out.push('1'),
        Packet::Ping(data) => {
            out.push('2');
            out.push_str(data);
        }
        Packet::Pong(data) => {
            out.push('3');
            out.push_str(data);
        }
        Packet::Message(socket) => {
            out.push('4');
            encode_socket(socket, &mut out)?;
        }
        Packet::Upgrade => out.push('5'),
        Packet::Noop => out.push('6'),
    }
    Ok(out)
}

fn push_nsp(nsp: &str, out: &mut String) {
    if nsp != DEFAULT_NAMESPACE && !nsp.is_empty() {
        out.push_str(nsp);
        out.push(',');
    }
}

fn push_args<'r>(args: impl IntoIterator<Item = &'r RawValue>, out: &mut String, first: bool) {
    let mut first = first;
    for arg in args {
        if !first {
            out.push(',');
        }
        out.push_str(arg.get());
        first = false;
    }
}

fn encode_socket(packet: &SocketPacket<'_>, out: &mut String) -> Result<(), CodecError> {
    match packet {
        SocketPacket::Connect { nsp, payload } => {
            out.push('0');
            push_nsp(nsp, out);
            if let Some(payload) = payload {
                out.push_str(payload.get());
            }
        }
        SocketPacket::Disconnect { nsp } => {
            out.push('1');
            push_nsp(nsp, out);
        }
        SocketPacket::Event {
            nsp,
            ack_id,
            name,
            args,
        } => {
            out.push('2');
            push_nsp(nsp, out);
            if let Some(id) = ack_id {
                out.push_str(&id.to_string());
            }
            out.push('[');
            out.push_str(&serde_json::to_string(name).map_err(|e| json_error("event name", e))?);
            push_args(args.iter().copied(), out, false);
            out.push(']');
        }
        SocketPacket::Ack { nsp, ack_id, args } => {
            out.push('3');
            push_nsp(nsp, out);
            out.push_str(&ack_id.to_string());
            out.push('[');
            push_args(args.iter().copied(), out, true);
            out.push(']');
        }
        SocketPacket::ConnectError { nsp, payload } => {
            out.push('4');
            push_nsp(nsp, out);
            if let Some(payload) = payload {
                out.push_str(payload.get());
            }
        }
    }
    Ok(())
}

/// Encodes an event on the default namespace from serializable arguments:
/// `42["name",arg1,…]`.
///
/// # Errors
/// [`CodecError::Json`] if an argument cannot be serialized.
///
/// ```
/// let frame = audience_tinylicious::codec::encode_event("submitSignal", &[
///     serde_json::json!("c1"),
///     serde_json::json!([{"content": "{}"}]),
/// ]).unwrap();
/// assert_eq!(frame, r#"42["submitSignal","c1",[{"content":"{}"}]]"#);
/// ```
pub fn encode_event<T: Serialize>(name: &str, args: &[T]) -> Result<String, CodecError> {
    let mut out = String::from("42[");
    out.push_str(&serde_json::to_string(name).map_err(|e| json_error("event name", e))?);
    for arg in args {
        out.push(',');
        out.push_str(&serde_json::to_string(arg).map_err(|e| json_error("event argument", e))?);
    }
    out.push(']');
    Ok(out)
}

/// `40`: the client's connect to the default namespace.
pub const CONNECT_FRAME: &str = "40";
/// `41`: the client's disconnect from the default namespace.
pub const DISCONNECT_FRAME: &str = "41";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_packet_from_trace() {
        let frame = r#"0{"sid":"wYZmlBZnHXRjEHYxAAAb","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        match decode(frame).unwrap() {
            Packet::Open(h) => {
                assert_eq!(h.sid, "wYZmlBZnHXRjEHYxAAAb");
                assert_eq!(h.ping_interval, 25_000);
                assert_eq!(h.ping_timeout, 20_000);
                assert_eq!(h.max_payload, 1_000_000);
                assert!(h.upgrades.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn heartbeat_and_namespace_frames() {
        assert_eq!(decode("2").unwrap(), Packet::Ping(""));
        assert_eq!(decode("2probe").unwrap(), Packet::Ping("probe"));
        assert_eq!(encode(&Packet::Pong("probe")).unwrap(), "3probe");
        assert_eq!(decode("3").unwrap(), Packet::Pong(""));
        assert_eq!(
            decode("40").unwrap(),
            Packet::Message(SocketPacket::Connect {
                nsp: "/".into(),
                payload: None
            })
        );
        match decode(r#"40{"sid":"lDehgT0nD8SsSpctAAAb"}"#).unwrap() {
            Packet::Message(SocketPacket::Connect {
                nsp,
                payload: Some(p),
            }) => {
                assert_eq!(nsp, "/");
                assert_eq!(p.get(), r#"{"sid":"lDehgT0nD8SsSpctAAAb"}"#);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            decode("41").unwrap(),
            Packet::Message(SocketPacket::Disconnect { nsp: "/".into() })
        );
        assert_eq!(encode(&decode("41").unwrap()).unwrap(), "41");
        assert_eq!(decode("1").unwrap(), Packet::Close);
        assert_eq!(decode("6").unwrap(), Packet::Noop);
    }

    #[test]
    fn event_with_ack_and_ack_reply() {
        match decode(r#"420["ping"]"#).unwrap() {
            Packet::Message(SocketPacket::Event {
                ack_id, name, args, ..
            }) => {
                assert_eq!(ack_id, Some(0));
                assert_eq!(name, "ping");
                assert!(args.is_empty());
            }
            other => panic!("{other:?}"),
        }
        match decode("4312[]").unwrap() {
            Packet::Message(SocketPacket::Ack { ack_id, args, .. }) => {
                assert_eq!(ack_id, 12);
                assert!(args.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            encode(&decode("4312[1,\"x\"]").unwrap()).unwrap(),
            "4312[1,\"x\"]"
        );
    }

    #[test]
    fn namespaced_packets_round_trip() {
        let frame = r#"42/admin,7["hello",{"a":1}]"#;
        match decode(frame).unwrap() {
            Packet::Message(SocketPacket::Event {
                nsp,
                ack_id,
                name,
                args,
            }) => {
                assert_eq!(nsp, "/admin");
                assert_eq!(ack_id, Some(7));
                assert_eq!(name, "hello");
                assert_eq!(args.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(encode(&decode(frame).unwrap()).unwrap(), frame);
        assert_eq!(decode("40/admin").unwrap_err(), CodecError::BadNamespace);
    }

    #[test]
    fn connect_error_payload() {
        match decode(r#"44{"message":"Not authorized"}"#).unwrap() {
            Packet::Message(SocketPacket::ConnectError {
                payload: Some(p), ..
            }) => {
                assert_eq!(p.get(), r#"{"message":"Not authorized"}"#);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert_eq!(decode("").unwrap_err(), CodecError::Empty);
        assert_eq!(decode("4").unwrap_err(), CodecError::Empty);
        assert_eq!(decode("9").unwrap_err(), CodecError::UnknownEngineType('9'));
        assert_eq!(
            decode("47").unwrap_err(),
            CodecError::UnknownSocketType('7')
        );
        assert_eq!(
            decode("451-[\"x\",{\"_placeholder\":true,\"num\":0}]").unwrap_err(),
            CodecError::BinaryUnsupported
        );
        assert_eq!(decode("43[]").unwrap_err(), CodecError::MissingAckId);
        assert_eq!(
            decode("4299999999999999999999[\"x\"]").unwrap_err(),
            CodecError::AckIdOverflow
        );
        assert!(matches!(
            decode("42[]").unwrap_err(),
            CodecError::Json { what: "event", .. }
        ));
        assert!(matches!(
            decode("42[1]").unwrap_err(),
            CodecError::Json {
                what: "event name",
                ..
            }
        ));
        assert!(matches!(
            decode("42{\"a\":1}").unwrap_err(),
            CodecError::Json { .. }
        ));
        assert!(matches!(
            decode("42[\"x\"").unwrap_err(),
            CodecError::Json { .. }
        ));
        assert!(matches!(
            decode("0{}").unwrap_err(),
            CodecError::Json {
                what: "open packet",
                ..
            }
        ));
        assert!(matches!(decode("42").unwrap_err(), CodecError::Json { .. }));
    }

    #[test]
    fn connect_payloads_must_be_objects() {
        assert!(matches!(
            decode("40 7").unwrap_err(),
            CodecError::Json {
                what: "connect payload",
                ..
            }
        ));
        assert!(matches!(
            decode("40[1]").unwrap_err(),
            CodecError::Json { .. }
        ));
        assert!(decode(r#"44"not allowed""#).is_ok());
        assert!(decode(r#"40"no""#).is_err());
    }

    #[test]
    fn non_ascii_first_char_does_not_panic() {
        assert_eq!(decode("é").unwrap_err(), CodecError::UnknownEngineType('é'));
        assert_eq!(
            decode("4é").unwrap_err(),
            CodecError::UnknownSocketType('é')
        );
        assert!(decode("42/é").is_err());
    }

    #[test]
    fn encode_event_escapes_name_and_args() {
        let frame = encode_event("a\"b", &[serde_json::json!({"k": "v\n"})]).unwrap();
        assert_eq!(frame, "42[\"a\\\"b\",{\"k\":\"v\\n\"}]");
        match decode(&frame).unwrap() {
            Packet::Message(SocketPacket::Event { name, .. }) => assert_eq!(name, "a\"b"),
            other => panic!("{other:?}"),
        }
    }
}
