//! The WebSocket under the delta stream, and the Engine.IO layer on top of it.
//!
//! * [`open_websocket`]: TCP (+ TLS for `wss`) + WebSocket upgrade to the socket.io URL.
//! * [`engine_handshake`]: the `0{…}` open packet, then the socket.io connect (`40` → `40{"sid"}`).
//! * [`Heartbeat`]: EIO 4 heartbeats flow from the server (`2`, answered with `3`); if no ping
//!   arrives within `pingInterval + pingTimeout` the server is considered gone
//!   ([`DisconnectReason::Timeout`]), as the JS engine.io client does.
//! * [`classify`]: the Engine.IO meaning of one WebSocket message.
//!
//! The stream is generic ([`WsStream`]) so tests can run the whole session over an in-memory
//! duplex pipe with tokio's paused clock.

use std::sync::Arc;

use audience_core::transport::{DisconnectReason, TransportError};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use url::Url;

use crate::codec::{self, Handshake, Packet, SocketPacket};

/// What the session needs from a WebSocket: a stream of messages and a sink for them.
pub trait WsStream:
    Stream<Item = Result<Message, tungstenite::Error>>
    + Sink<Message, Error = tungstenite::Error>
    + Unpin
    + Send
    + 'static
{
}

impl<T> WsStream for T where
    T: Stream<Item = Result<Message, tungstenite::Error>>
        + Sink<Message, Error = tungstenite::Error>
        + Unpin
        + Send
        + 'static
{
}

/// Largest incoming WebSocket message (and frame). The server accepts at most `maxPayload`
/// (1 MB on Tinylicious) from a client, but what it sends can be bigger (ops batched into one
/// `op` event); 16 MiB leaves room for that while keeping one message from taking unbounded
/// memory. A bigger message ends the connection.
pub(crate) const MAX_INCOMING_MESSAGE: usize = 16 << 20;

/// The WebSocket settings: tungstenite's defaults with incoming messages capped at
/// [`MAX_INCOMING_MESSAGE`].
pub(crate) fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_INCOMING_MESSAGE))
        .max_frame_size(Some(MAX_INCOMING_MESSAGE))
}

/// Opens the WebSocket (`ws://` or `wss://` through rustls with the `ring` provider).
pub(crate) async fn open_websocket(
    url: &Url,
    tls: Arc<rustls::ClientConfig>,
) -> Result<impl WsStream, TransportError> {
    let connector = tokio_tungstenite::Connector::Rustls(tls);
    let (ws, _response) = tokio_tungstenite::connect_async_tls_with_config(
        url.as_str(),
        Some(websocket_config()),
        true,
        Some(connector),
    )
    .await
    .map_err(|err| TransportError::Unreachable {
        endpoint: endpoint(url),
        detail: describe_ws_error(&err),
    })?;
    Ok(ws)
}

/// The URL without its query, for messages.
pub(crate) fn endpoint(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.to_string()
}

fn describe_ws_error(err: &tungstenite::Error) -> String {
    match err {
        tungstenite::Error::Http(response) => {
            format!("WebSocket upgrade refused with HTTP {}", response.status())
        }
        other => crate::error::describe_chain(other),
    }
}

/// Engine.IO heartbeat watch: the deadline for the next server ping.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Heartbeat {
    window: Duration,
    deadline: Instant,
}

impl Heartbeat {
    /// Starts watching at `now` with the server's interval and timeout.
    pub(crate) fn new(handshake: &Handshake, now: Instant) -> Self {
        let window = Duration::from_millis(
            handshake
                .ping_interval
                .saturating_add(handshake.ping_timeout),
        );
        Heartbeat {
            window,
            deadline: now + window,
        }
    }

    /// A ping arrived at `now`.
    pub(crate) fn on_ping(&mut self, now: Instant) {
        self.deadline = now + self.window;
    }

    /// When the server is declared gone.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }
}

/// The Engine.IO meaning of one WebSocket message.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A Socket.IO packet (`4…`), as text, to decode with [`codec::decode`].
    Socket(String),
    /// A heartbeat ping; answer with the given pong frame.
    Ping(String),
    /// Nothing to do (pong, noop, WebSocket control frames, binary data).
    Ignore,
    /// The connection is gone.
    Lost(DisconnectReason),
}

/// Classifies a WebSocket message by its Engine.IO packet type.
pub(crate) fn classify(message: Option<Result<Message, tungstenite::Error>>) -> Incoming {
    match message {
        None => Incoming::Lost(DisconnectReason::ConnectionLost(
            "the server closed the connection".into(),
        )),
        Some(Err(err)) => Incoming::Lost(DisconnectReason::ConnectionLost(describe_ws_error(&err))),
        Some(Ok(Message::Close(frame))) => {
            let why = frame.map_or_else(
                || "the server closed the WebSocket".to_owned(),
                |f| {
                    format!(
                        "the server closed the WebSocket ({}: {})",
                        u16::from(f.code),
                        f.reason
                    )
                },
            );
            Incoming::Lost(DisconnectReason::ConnectionLost(why))
        }
        Some(Ok(Message::Text(text))) => {
            let text = text.as_str();
            match text.as_bytes().first() {
                Some(b'4') => Incoming::Socket(text.to_owned()),
                Some(b'2') => {
                    // EIO 4: the pong echoes the ping's data (e.g. `2probe` -> `3probe`).
                    let data = text.get(1..).unwrap_or("");
                    Incoming::Ping(
                        codec::encode(&Packet::Pong(data)).unwrap_or_else(|_| "3".to_owned()),
                    )
                }
                Some(b'1') => Incoming::Lost(DisconnectReason::ConnectionLost(
                    "the server closed the session".into(),
                )),
                Some(_) | None => {
                    tracing::debug!(len = text.len(), "ignoring engine.io packet");
                    Incoming::Ignore
                }
            }
        }
        Some(Ok(Message::Binary(data))) => {
            tracing::debug!(len = data.len(), "ignoring binary WebSocket message");
            Incoming::Ignore
        }
        Some(Ok(_)) => Incoming::Ignore,
    }
}

/// Refuses frames larger than the server's `maxPayload`.
pub(crate) fn check_size(frame: &str, max_payload: u64) -> Result<(), TransportError> {
    let size = frame.len();
    if u64::try_from(size).unwrap_or(u64::MAX) > max_payload {
        return Err(TransportError::TooLarge {
            size,
            limit: max_payload,
        });
    }
    Ok(())
}

/// Sends one text frame.
pub(crate) async fn send_text<S: WsStream>(
    ws: &mut S,
    frame: String,
) -> Result<(), TransportError> {
    ws.send(Message::text(frame)).await.map_err(|err| {
        TransportError::Protocol(format!("send failed: {}", describe_ws_error(&err)))
    })
}

/// Reads the open packet, connects to the default namespace and waits for its ack.
///
/// Pings arriving meanwhile are answered. Returns the handshake and its heartbeat watch.
pub(crate) async fn engine_handshake<S: WsStream>(
    ws: &mut S,
    endpoint: &str,
) -> Result<(Handshake, Heartbeat), TransportError> {
    let closed = |stage: &str, reason: DisconnectReason| TransportError::Unreachable {
        endpoint: endpoint.to_owned(),
        detail: format!("{stage}: {reason}"),
    };
    let handshake = loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => match codec::decode(text.as_str()) {
                Ok(Packet::Open(handshake)) => break handshake,
                Ok(_) | Err(_) => {
                    return Err(TransportError::Protocol(
                        "expected the engine.io open packet first".into(),
                    ));
                }
            },
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            other => {
                return Err(match classify(other) {
                    Incoming::Lost(reason) => closed("before the engine.io open packet", reason),
                    _ => {
                        TransportError::Protocol("expected the engine.io open packet first".into())
                    }
                });
            }
        }
    };
    let mut heartbeat = Heartbeat::new(&handshake, Instant::now());
    send_text(ws, codec::CONNECT_FRAME.to_owned()).await?;
    loop {
        match classify(ws.next().await) {
            Incoming::Lost(reason) => return Err(closed("during the socket.io connect", reason)),
            Incoming::Ignore => {}
            Incoming::Ping(pong) => {
                heartbeat.on_ping(Instant::now());
                send_text(ws, pong).await?;
            }
            Incoming::Socket(text) => match codec::decode(&text) {
                Ok(Packet::Message(SocketPacket::Connect { nsp, .. }))
                    if nsp == codec::DEFAULT_NAMESPACE =>
                {
                    break;
                }
                Ok(Packet::Message(SocketPacket::ConnectError { payload, .. })) => {
                    let message = payload
                        .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
                        .and_then(|v| {
                            v.get("message")
                                .and_then(serde_json::Value::as_str)
                                .map(str::to_owned)
                        })
                        .unwrap_or_else(|| "no reason given".to_owned());
                    return Err(TransportError::Protocol(format!(
                        "the server refused the socket.io connection: {message}"
                    )));
                }
                Ok(_) => tracing::debug!("ignoring a socket.io packet before the connect ack"),
                Err(err) => {
                    return Err(TransportError::Protocol(format!(
                        "bad frame during the socket.io connect: {err}"
                    )));
                }
            },
        }
    }
    Ok((handshake, heartbeat))
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;

    /// wss goes through rustls (ring provider, no process-wide provider): against a server
    /// answering plain text it fails cleanly instead of panicking.
    #[tokio::test]
    async fn wss_goes_through_rustls() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
            let _ = stream.shutdown().await;
        });
        let url = Url::parse(&format!("wss://{addr}/socket.io/?EIO=4")).unwrap();
        let tls = Arc::new(crate::tls::client_config(&[], false).unwrap());
        match open_websocket(&url, tls).await {
            Err(TransportError::Unreachable { endpoint, detail }) => {
                assert_eq!(endpoint, format!("wss://{addr}/socket.io/"));
                assert!(detail.contains("InvalidContentType"), "{detail}");
            }
            Err(other) => panic!("expected a TLS failure, got {other:?}"),
            Ok(_) => panic!("expected a TLS failure, got a WebSocket"),
        }
        server.await.unwrap();
    }

    /// tungstenite's `IO error: {0}` repeats its source; the source is not appended again.
    #[tokio::test]
    async fn a_refused_connection_is_described_once() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = Url::parse(&format!("ws://{addr}/socket.io/")).unwrap();
        let tls = Arc::new(crate::tls::client_config(&[], false).unwrap());
        match open_websocket(&url, tls).await {
            Err(TransportError::Unreachable { detail, .. }) => {
                assert!(detail.starts_with("IO error: "), "{detail}");
                assert_eq!(detail.matches("os error").count(), 1, "{detail}");
            }
            Err(other) => panic!("expected Unreachable, got {other:?}"),
            Ok(_) => panic!("nothing listens there"),
        }
    }

    #[test]
    fn incoming_messages_are_capped_at_16_mib() {
        let config = websocket_config();
        assert_eq!(config.max_message_size, Some(16 << 20));
        assert_eq!(config.max_frame_size, Some(16 << 20));
    }
}
