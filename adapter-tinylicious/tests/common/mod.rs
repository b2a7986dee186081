//! Test helpers: the captured traces and a tiny socket.io server on 127.0.0.1.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use audience_core::transport::{EventSource, ServiceEvent};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// One WebSocket message of a trace.
#[derive(Debug, Clone)]
pub struct WsRecord {
    pub file: String,
    pub seq: u64,
    pub conn: String,
    pub dir: String,
    pub raw: String,
}

/// The traces folder: `AUDIENCE_TRACES_DIR`, else `shared/protocol/traces` beside the repository.
pub fn traces_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AUDIENCE_TRACES_DIR") {
        return PathBuf::from(dir);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/protocol/traces");
    assert!(
        dir.is_dir(),
        "trace fixtures not found at {} (set AUDIENCE_TRACES_DIR)",
        dir.display()
    );
    dir
}

/// The main trace files (not the `*.clients.jsonl` outputs).
pub fn trace_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(traces_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            name.ends_with(".jsonl") && !name.ends_with(".clients.jsonl")
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 4,
        "expected the 4 trace files, found {files:?}"
    );
    files
}

/// Every `ws` record of a trace file, in file order.
pub fn ws_records(file: &str) -> Vec<WsRecord> {
    let path = traces_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|record| record["kind"] == "ws")
        .map(|record| WsRecord {
            file: file.to_owned(),
            seq: record["seq"].as_u64().unwrap(),
            conn: record["conn"].as_str().unwrap().to_owned(),
            dir: record["dir"].as_str().unwrap().to_owned(),
            raw: record["raw"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// The frames of one connection of a trace.
pub fn connection(file: &str, conn: &str) -> Vec<WsRecord> {
    let frames: Vec<WsRecord> = ws_records(file)
        .into_iter()
        .filter(|r| r.conn == conn)
        .collect();
    assert!(!frames.is_empty(), "no frames for {conn} in {file}");
    frames
}

/// The server side of one fake socket.io connection.
pub struct FakePeer {
    ws: WebSocketStream<TcpStream>,
    /// Every text frame the client sent, in order.
    pub received: Vec<String>,
}

impl FakePeer {
    pub async fn send(&mut self, frame: &str) {
        self.ws.send(Message::text(frame.to_owned())).await.unwrap();
    }

    /// Sends `frame` as one text message split into `parts` WebSocket frames (a first text
    /// frame, then continuations); ignores send errors (the client may hang up meanwhile).
    pub async fn send_fragmented(&mut self, frame: &str, parts: usize) {
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        let bytes = frame.as_bytes();
        let size = bytes.len().div_ceil(parts);
        let count = bytes.chunks(size).count();
        for (i, piece) in bytes.chunks(size).enumerate() {
            let kind = if i == 0 { Data::Text } else { Data::Continue };
            let frame = Frame::message(piece.to_vec(), OpCode::Data(kind), i + 1 == count);
            if self.ws.send(Message::Frame(frame)).await.is_err() {
                return;
            }
        }
    }

    /// Sends a frame, ignoring a client that hung up.
    pub async fn try_send(&mut self, frame: &str) -> bool {
        self.ws.send(Message::text(frame.to_owned())).await.is_ok()
    }

    /// The next text frame from the client, or `None` when it closed.
    pub async fn recv(&mut self) -> Option<String> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let text = text.as_str().to_owned();
                    self.received.push(text.clone());
                    return Some(text);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Reads client frames until one starts with `prefix`; panics after 5 s.
    pub async fn expect(&mut self, prefix: &str) -> String {
        let wait = async {
            loop {
                match self.recv().await {
                    Some(frame) if frame.starts_with(prefix) => return frame,
                    Some(_) => {}
                    None => panic!(
                        "client closed while waiting for {prefix:?}; got {:?}",
                        self.received
                    ),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .unwrap_or_else(|_| panic!("no {prefix:?} from the client; got {:?}", self.received))
    }

    /// Open packet, `40` → `40{sid}`, then waits for `connect_document` and returns it.
    pub async fn handshake(&mut self, open: &str) -> Value {
        self.send(open).await;
        self.expect("40").await;
        self.send(r#"40{"sid":"fake-sid"}"#).await;
        let frame = self.expect(r#"42["connect_document","#).await;
        let value: Value = serde_json::from_str(&frame[2..]).unwrap();
        value[1].clone()
    }

    /// Reads until the client closes and returns everything it sent.
    pub async fn drain(mut self) -> Vec<String> {
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while self.recv().await.is_some() {}
        })
        .await;
        self.received
    }

    pub async fn close(mut self) -> Vec<String> {
        let _ = self.ws.close(None).await;
        self.drain().await
    }
}

/// The open packet with the given heartbeat and size limit.
pub fn open_packet(ping_interval_ms: u64, ping_timeout_ms: u64, max_payload: u64) -> String {
    format!(
        r#"0{{"sid":"fake","upgrades":[],"pingInterval":{ping_interval_ms},"pingTimeout":{ping_timeout_ms},"maxPayload":{max_payload}}}"#
    )
}

/// Starts a fake service on 127.0.0.1 where every document exists; returns its base URL and a
/// receiver for the accepted socket.io peers.
pub async fn fake_server() -> (String, mpsc::Receiver<FakePeer>) {
    let (url, peers, _) = fake_service(|_| Reply::json(DOCUMENT_RECORD)).await;
    (url, peers)
}

/// Every event until the source ends (bounded by `limit`).
pub async fn collect_events(events: &mut dyn EventSource, limit: Duration) -> Vec<ServiceEvent> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, async {
        while let Some(event) = events.next_event().await {
            out.push(event);
        }
    })
    .await;
    out
}

/// The body of a fake REST answer.
#[derive(Debug, Clone)]
pub enum Body {
    /// These bytes, with a `content-length`.
    Bytes(Vec<u8>),
    /// Chunked, `chunk` bytes of `x` every `pause`, until the client goes away.
    Endless { chunk: usize, pause: Duration },
}

/// A fake REST answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Body,
}

impl Reply {
    /// `200` with a JSON body.
    pub fn json(text: &str) -> Reply {
        Reply {
            status: 200,
            body: Body::Bytes(text.as_bytes().to_vec()),
        }
    }

    /// `status` with a text body.
    pub fn status(status: u16, text: &str) -> Reply {
        Reply {
            status,
            body: Body::Bytes(text.as_bytes().to_vec()),
        }
    }
}

/// A stored Tinylicious document record (what `GET /documents/<tenant>/<id>` answers).
pub const DOCUMENT_RECORD: &str =
    r#"{"documentId":"doc","tenantId":"tinylicious","version":"0.1"}"#;

/// Request lines (`GET /path HTTP/1.1`) a fake server received.
pub type RequestLog = Arc<Mutex<Vec<String>>>;

/// Reads an HTTP request head without consuming it; `None` if the client went away first.
async fn peek_head(stream: &TcpStream) -> Option<String> {
    let mut buf = vec![0_u8; 16 << 10];
    loop {
        let n = stream.peek(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        if let Some(end) = buf[..n].windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(String::from_utf8_lossy(&buf[..end + 4]).into_owned());
        }
        if n == buf.len() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Answers one plain HTTP request whose head is `head` (still unread on `stream`).
async fn serve_rest(mut stream: TcpStream, head: &str, reply: Reply) {
    let mut consumed = vec![0_u8; head.len()];
    if stream.read_exact(&mut consumed).await.is_err() {
        return;
    }
    match reply.body {
        Body::Bytes(bytes) => {
            let header = format!(
                "HTTP/1.1 {} Fake\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                reply.status,
                bytes.len()
            );
            let _ = stream.write_all(header.as_bytes()).await;
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        Body::Endless { chunk, pause } => {
            let header = format!(
                "HTTP/1.1 {} Fake\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
                reply.status
            );
            if stream.write_all(header.as_bytes()).await.is_err() {
                return;
            }
            let mut piece = format!("{chunk:x}\r\n").into_bytes();
            piece.extend(std::iter::repeat_n(b'x', chunk));
            piece.extend_from_slice(b"\r\n");
            while stream.write_all(&piece).await.is_ok() {
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// A fake server on 127.0.0.1 speaking both REST (every plain request gets `rest(request line)`)
/// and socket.io (WebSocket upgrades become [`FakePeer`]s on the receiver). Returns its base URL,
/// the peers and the log of REST request lines.
pub async fn fake_service<F>(rest: F) -> (String, mpsc::Receiver<FakePeer>, RequestLog)
where
    F: Fn(&str) -> Reply + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel(4);
    let log = RequestLog::default();
    let rest = Arc::new(rest);
    let requests = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let Some(head) = peek_head(&stream).await else {
                continue;
            };
            if head.to_ascii_lowercase().contains("upgrade: websocket") {
                let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                    continue;
                };
                let peer = FakePeer {
                    ws,
                    received: Vec::new(),
                };
                if tx.send(peer).await.is_err() {
                    break;
                }
            } else {
                let line = head.lines().next().unwrap_or_default().to_owned();
                requests.lock().unwrap().push(line.clone());
                let reply = rest(&line);
                tokio::spawn(async move { serve_rest(stream, &head, reply).await });
            }
        }
    });
    (url, rx, log)
}
