//! Shared helpers of the interop tests (`interop_js`, `interop_conformance`).
//!
//! * [`env`]: the live-test gate (`AUDIENCE_TINYLICIOUS_URL`, `AUDIENCE_INTEROP_JS`).
//! * [`JsClient`]: one `node interop/fluid-client.mjs …` process, its JSON lines recorded,
//!   commands sent on its stdin, killed (SIGKILL) on drop.
//! * [`RustClient`]: an [`AudienceClient`] with its events recorded.
//! * [`Roster`]: members in a form both sides can be compared in.
//! * [`TcpProxy`]: a loopback proxy whose connections can be cut abruptly.
//! * [`PrivateTinylicious`]: a Tinylicious of our own, for server settings the shared one lacks.
//!
//! Every wait is bounded: a failing test panics with what it waited for and the last things
//! the process said, never hangs.
#![allow(dead_code)] // each test target uses a different part

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use audience_core::audience::{AudienceEvent, MembersSnapshot};
use audience_core::client::{AudienceClient, ClientEvent, ClientOptions, Subscription};
use audience_core::member::Member;
use audience_core::policy::{InteractiveOnly, MemberPolicy};
use audience_core::transport::{ConnectRequest, DocumentService};
use audience_core::wire::{ConnectionMode, User};
use audience_tinylicious::{TinyliciousConfig, TinyliciousMember, TinyliciousService};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Base URL of the Tinylicious to use.
pub const URL_ENV: &str = "AUDIENCE_TINYLICIOUS_URL";
/// Absolute path of `interop/fluid-client.mjs`.
pub const JS_ENV: &str = "AUDIENCE_INTEROP_JS";
/// Upper bound for one expected thing to happen; only reached when a test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// Where the server and the JS client are.
#[derive(Debug, Clone)]
pub struct Env {
    /// Tinylicious base URL.
    pub url: String,
    /// `fluid-client.mjs`.
    pub js: PathBuf,
}

/// The live environment, or `None` (after printing the skip note) without a server.
pub fn env() -> Option<Env> {
    let url = match std::env::var(URL_ENV) {
        Ok(url) if !url.is_empty() => url,
        _ => {
            println!("skipped: AUDIENCE_TINYLICIOUS_URL not set");
            return None;
        }
    };
    // `cargo xtask interop` sets the JS path; by hand the checkout's copy is the default.
    let js = std::env::var_os(JS_ENV)
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/fluid-client.mjs")
        });
    assert!(
        js.is_file(),
        "{JS_ENV} / default {} is not a file (run `cargo xtask npm-install`)",
        js.display()
    );
    Some(Env { url, js })
}

impl Env {
    /// A service for this server.
    pub fn service(&self) -> Arc<TinyliciousService> {
        service_at(&self.url)
    }

    /// The `interop/` directory (node_modules, launcher).
    pub fn interop_dir(&self) -> PathBuf {
        self.js
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

/// A service for the server at `url`.
pub fn service_at(url: &str) -> Arc<TinyliciousService> {
    Arc::new(TinyliciousService::new(TinyliciousConfig::from_url(url).unwrap()).unwrap())
}

/// A JSON line's `event` field.
pub fn event_of(line: &Value) -> &str {
    line.get("event").and_then(Value::as_str).unwrap_or("")
}

/// `true` for a line of `event` whose `clientId` is `client_id`.
pub fn is_event_for(line: &Value, event: &str, client_id: &str) -> bool {
    event_of(line) == event && line.get("clientId").and_then(Value::as_str) == Some(client_id)
}

fn short(line: &Value) -> String {
    let text = line.to_string();
    match text.char_indices().nth(400) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

// ----- the JS client -----

/// One `fluid-client.mjs` process. Its stdin stays an open pipe (closing it makes the client
/// leave); dropping the value kills the process (SIGKILL).
pub struct JsClient {
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<Value>,
    history: Vec<Value>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    client_id: Option<String>,
}

impl std::fmt::Debug for JsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsClient")
            .field("label", &self.label)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl JsClient {
    /// Starts `node fluid-client.mjs <args> --url <url>`.
    pub fn spawn(env: &Env, label: &str, args: &[&str]) -> JsClient {
        let mut command = Command::new("node");
        command
            .arg(&env.js)
            .args(args)
            .arg("--url")
            .arg(&env.url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawning node {}: {e}", env.js.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::unbounded_channel();
        // Read continuously: node writes to pipes synchronously and would stall on a full one.
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({"event": "unparsed", "line": line}));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let tail = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr_pipe).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let mut tail = tail.lock().unwrap();
                if tail.len() == 30 {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        JsClient {
            label: label.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
            history: Vec::new(),
            stderr,
            client_id: None,
        }
    }

    /// `create` as `user`: returns the client (connected) and the new container id.
    pub async fn create(env: &Env, user: &str, name: &str) -> (JsClient, String) {
        let mut js = JsClient::spawn(
            env,
            &format!("js create {user}"),
            &["create", "--user", user, "--name", name],
        );
        let created = js.wait_for("created", |l| event_of(l) == "created").await;
        let id = created["id"].as_str().expect("created.id").to_owned();
        js.wait_connected().await;
        (js, id)
    }

    /// `join <id>` as `user`, waiting until connected.
    pub async fn join(env: &Env, id: &str, user: &str, name: &str) -> JsClient {
        let mut js = JsClient::start_join(env, id, user, name);
        js.wait_connected().await;
        js
    }

    /// `join <id>` as `user`, not waiting (start several, then wait for each).
    pub fn start_join(env: &Env, id: &str, user: &str, name: &str) -> JsClient {
        JsClient::spawn(
            env,
            &format!("js join {user}"),
            &["join", id, "--user", user, "--name", name],
        )
    }

    /// Waits for the `connected` line and returns the client id.
    pub async fn wait_connected(&mut self) -> String {
        let line = self
            .wait_for("connected", |l| event_of(l) == "connected")
            .await;
        let id = line["clientId"]
            .as_str()
            .expect("connected.clientId")
            .to_owned();
        self.client_id = Some(id.clone());
        id
    }

    /// The client id of the (first) connection.
    pub fn client_id(&self) -> &str {
        self.client_id.as_deref().expect("not connected yet")
    }

    /// A label for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Moves every line printed so far into the history.
    pub fn pump(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.history.push(line);
        }
    }

    /// The history length now: pass it to [`JsClient::wait_from`] to look only at later lines.
    pub fn mark(&mut self) -> usize {
        self.pump();
        self.history.len()
    }

    /// Every line printed so far.
    pub fn history(&mut self) -> &[Value] {
        self.pump();
        &self.history
    }

    /// Lines printed so far that match.
    pub fn seen(&mut self, matches: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.pump();
        self.history
            .iter()
            .filter(|l| matches(l))
            .cloned()
            .collect()
    }

    /// The first line (ever printed) that matches, waiting up to [`WAIT`].
    pub async fn wait_for(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        self.wait_from(0, what, WAIT, matches).await
    }

    /// The first line at or after history index `from` that matches, waiting up to `timeout`.
    pub async fn wait_from(
        &mut self,
        from: usize,
        what: &str,
        timeout: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        self.pump();
        if let Some(found) = self.history.iter().skip(from).find(|l| matches(l)) {
            return found.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.history.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Ok(None) => {
                    let diagnostics = self.diagnostics();
                    panic!(
                        "{}: the process ended while waiting for {what}\n{diagnostics}",
                        self.label
                    )
                }
                Err(_) => {
                    let diagnostics = self.diagnostics();
                    panic!(
                        "{}: no {what} within {timeout:?}\n{diagnostics}",
                        self.label
                    )
                }
            }
        }
    }

    /// Like [`JsClient::wait_from`] but `None` on timeout instead of a panic.
    pub async fn try_wait_from(
        &mut self,
        from: usize,
        timeout: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        self.pump();
        if let Some(found) = self.history.iter().skip(from).find(|l| matches(l)) {
            return Some(found.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.history.push(line.clone());
                    if matches(&line) {
                        return Some(line);
                    }
                }
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Sends one command line on stdin.
    pub async fn send(&mut self, command: Value) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        let mut line = command.to_string();
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{}: writing a command: {e}", self.label));
        stdin.flush().await.unwrap();
    }

    /// Asks for a `members` line and returns it.
    pub async fn members(&mut self) -> Value {
        let from = self.mark();
        self.send(json!({"cmd": "members"})).await;
        self.wait_from(from, "the members reply", WAIT, |l| {
            event_of(l) == "members" && l["why"] == "cmd"
        })
        .await
    }

    /// Waits until the JS `getMembers()` equals `expected` (asks once, then follows every
    /// `members` line) and returns that line.
    pub async fn wait_members(&mut self, expected: &Roster) -> Value {
        let from = self.mark();
        self.send(json!({"cmd": "members"})).await;
        let label = self.label.clone();
        let found = self
            .try_wait_from(from, WAIT, |l| {
                event_of(l) == "members" && js_roster(&l["getMembers"]) == *expected
            })
            .await;
        match found {
            Some(line) => line,
            None => {
                let last = self
                    .seen(|l| event_of(l) == "members")
                    .last()
                    .map(|l| js_roster(&l["getMembers"]));
                panic!(
                    "{label}: getMembers() never became\n{expected:#?}\nlast seen:\n{last:#?}\n{}",
                    self.diagnostics()
                )
            }
        }
    }

    /// Kills the process at once (SIGKILL): no leave, the socket just drops.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        let _ = tokio::time::timeout(WAIT, self.child.wait()).await;
    }

    /// Leaves cleanly (`{"cmd":"leave"}`) and waits for a zero exit.
    pub async fn leave(&mut self) {
        self.send(json!({"cmd": "leave"})).await;
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{}: did not exit after leave", self.label))
            .unwrap();
        assert!(status.success(), "{}: exit {status}", self.label);
    }

    /// The last lines and stderr, for failure messages.
    pub fn diagnostics(&mut self) -> String {
        self.pump();
        let mut out = format!("--- last stdout lines of {}:\n", self.label);
        for line in self.history.iter().rev().take(12).rev() {
            let _ = writeln!(out, "{}", short(line));
        }
        let _ = writeln!(out, "--- stderr tail:");
        for line in self.stderr.lock().unwrap().iter() {
            let _ = writeln!(out, "{line}");
        }
        out
    }
}

// ----- members in a comparable form -----

/// Members as `user id -> (name, sorted [(client id, mode)])`: what both sides are compared on.
pub type Roster = BTreeMap<String, (String, Vec<(String, String)>)>;

/// One expected member: `(user id, name, [(client id, mode)])`.
pub type MemberSpec<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

/// The expected roster from member specs.
pub fn roster(entries: &[MemberSpec<'_>]) -> Roster {
    entries
        .iter()
        .map(|(id, name, connections)| {
            let mut connections: Vec<(String, String)> = connections
                .iter()
                .map(|(c, m)| ((*c).to_owned(), (*m).to_owned()))
                .collect();
            connections.sort();
            ((*id).to_owned(), ((*name).to_owned(), connections))
        })
        .collect()
}

/// One member in the comparable form.
pub fn member_entry(member: &TinyliciousMember) -> (String, Vec<(String, String)>) {
    let mut connections: Vec<(String, String)> = member
        .connections()
        .iter()
        .map(|c| (c.id.to_string(), c.mode.as_str().to_owned()))
        .collect();
    connections.sort();
    (member.name.clone(), connections)
}

/// A Rust snapshot in the comparable form.
pub fn rust_roster(snapshot: &MembersSnapshot<TinyliciousMember>) -> Roster {
    snapshot
        .iter()
        .map(|m| (m.id.clone(), member_entry(m)))
        .collect()
}

/// A JS `getMembers()` object in the comparable form.
pub fn js_roster(members: &Value) -> Roster {
    let Some(members) = members.as_object() else {
        return Roster::new();
    };
    members
        .iter()
        .map(|(user, member)| {
            let mut connections: Vec<(String, String)> = member["connections"]
                .as_array()
                .map(|cs| {
                    cs.iter()
                        .map(|c| {
                            (
                                c["id"].as_str().unwrap_or("?").to_owned(),
                                c["mode"].as_str().unwrap_or("?").to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            connections.sort();
            let name = member["name"].as_str().unwrap_or("?").to_owned();
            (user.clone(), (name, connections))
        })
        .collect()
}

// ----- the Rust client -----

/// The event type of a [`RustClient`].
pub type Event = ClientEvent<TinyliciousMember>;

/// Options for live clients: quick reconnects, generous timeouts.
pub fn options() -> ClientOptions {
    ClientOptions {
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
        connect_timeout: WAIT,
        ..ClientOptions::default()
    }
}

/// An [`AudienceClient`] of [`TinyliciousMember`]s with every event it published recorded.
pub struct RustClient {
    /// For messages.
    pub label: String,
    /// The client.
    pub client: AudienceClient<TinyliciousMember>,
    events: Subscription<TinyliciousMember>,
    history: Vec<Event>,
}

impl RustClient {
    /// A client of `user` (named `name`) in `mode` with `policy`, subscribed, not connected.
    pub fn with_policy(
        service: Arc<dyn DocumentService>,
        document_id: &str,
        user: (&str, &str),
        mode: ConnectionMode,
        policy: impl MemberPolicy,
    ) -> RustClient {
        let request =
            ConnectRequest::new("tinylicious", document_id, User::new(user.0, user.1), mode);
        let client = AudienceClient::new(service, request, policy, options());
        let events = client.subscribe();
        RustClient {
            label: format!("rust {} ({mode})", user.0),
            client,
            events,
            history: Vec::new(),
        }
    }

    /// An interactive-only client, subscribed, not connected.
    pub fn new(
        service: Arc<dyn DocumentService>,
        document_id: &str,
        user: (&str, &str),
        mode: ConnectionMode,
    ) -> RustClient {
        RustClient::with_policy(service, document_id, user, mode, InteractiveOnly)
    }

    /// An interactive-only client, connected.
    pub async fn connect(
        service: Arc<dyn DocumentService>,
        document_id: &str,
        user: (&str, &str),
        mode: ConnectionMode,
    ) -> RustClient {
        let client = RustClient::new(service, document_id, user, mode);
        client.start().await;
        client
    }

    /// Connects (after subscribing).
    pub async fn start(&self) {
        self.client
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{}: connect failed: {e}", self.label));
    }

    /// The current client id.
    pub fn id(&self) -> String {
        self.client
            .client_id()
            .unwrap_or_else(|| panic!("{}: no client id", self.label))
    }

    /// The members now, comparable.
    pub fn roster(&self) -> Roster {
        rust_roster(&self.client.get_members())
    }

    fn pump(&mut self) {
        while let Some(event) = self.events.try_recv() {
            self.history.push(event);
        }
    }

    /// The history length now, for [`RustClient::wait_from`].
    pub fn mark(&mut self) -> usize {
        self.pump();
        self.history.len()
    }

    /// Every event so far.
    pub fn history(&mut self) -> &[Event] {
        self.pump();
        &self.history
    }

    /// The audience events from history index `from` on.
    pub fn audience_since(&mut self, from: usize) -> Vec<AudienceEvent<TinyliciousMember>> {
        self.pump();
        self.history
            .iter()
            .skip(from)
            .filter_map(|e| match e {
                ClientEvent::Audience(a) => Some(a.clone()),
                _ => None,
            })
            .collect()
    }

    /// The first event (ever) that matches, waiting up to [`WAIT`].
    pub async fn wait_for(&mut self, what: &str, matches: impl Fn(&Event) -> bool) -> Event {
        self.wait_from(0, what, WAIT, matches).await
    }

    /// The first event at or after history index `from` that matches, waiting up to `timeout`.
    pub async fn wait_from(
        &mut self,
        from: usize,
        what: &str,
        timeout: Duration,
        matches: impl Fn(&Event) -> bool,
    ) -> Event {
        match self.try_wait_from(from, timeout, matches).await {
            Some(event) => event,
            None => panic!(
                "{}: no {what} within {timeout:?}; events:\n{:#?}",
                self.label,
                self.history.iter().rev().take(12).rev().collect::<Vec<_>>()
            ),
        }
    }

    /// Like [`RustClient::wait_from`], `None` on timeout.
    pub async fn try_wait_from(
        &mut self,
        from: usize,
        timeout: Duration,
        matches: impl Fn(&Event) -> bool,
    ) -> Option<Event> {
        self.pump();
        if let Some(found) = self.history.iter().skip(from).find(|e| matches(e)) {
            return Some(found.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => {
                    self.history.push(event.clone());
                    if matches(&event) {
                        return Some(event);
                    }
                }
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Waits until `get_members()` equals `expected`.
    pub async fn wait_members(&mut self, expected: &Roster) {
        let deadline = Instant::now() + WAIT;
        loop {
            if self.roster() == *expected {
                return;
            }
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => self.history.push(event),
                Ok(None) | Err(_) => panic!(
                    "{}: get_members() never became\n{expected:#?}\nit is\n{:#?}",
                    self.label,
                    self.roster()
                ),
            }
        }
    }

    /// Closes the client (clean leave).
    pub async fn close(&self) {
        self.client.close().await;
    }
}

/// `true` for `MemberAdded` of `client_id`.
pub fn is_added(event: &Event, client_id: &str) -> bool {
    matches!(event, ClientEvent::Audience(AudienceEvent::MemberAdded { client_id: c, .. }) if c == client_id)
}

/// `true` for `MemberRemoved` of `client_id`.
pub fn is_removed(event: &Event, client_id: &str) -> bool {
    matches!(event, ClientEvent::Audience(AudienceEvent::MemberRemoved { client_id: c, .. }) if c == client_id)
}

/// `true` for any audience event mentioning `client_id`.
pub fn mentions(event: &Event, client_id: &str) -> bool {
    match event {
        ClientEvent::Audience(
            AudienceEvent::MemberAdded { client_id: c, .. }
            | AudienceEvent::MemberRemoved { client_id: c, .. }
            | AudienceEvent::Connected { client_id: c },
        ) => c == client_id,
        ClientEvent::Audience(AudienceEvent::SelfChanged { old, new }) => {
            old == client_id || new == client_id
        }
        ClientEvent::Signal(signal) => signal.client_id == client_id,
        _ => false,
    }
}

// ----- a TCP proxy whose connections can be cut -----

/// A loopback TCP proxy to one upstream address. [`TcpProxy::cut`] resets every proxied
/// connection at once (both sides get a TCP RST); new connections keep being accepted.
pub struct TcpProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: JoinHandle<()>,
}

impl TcpProxy {
    /// Starts a proxy on 127.0.0.1 (a free port) to `upstream`.
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (count, tasks) = (Arc::clone(&accepted), Arc::clone(&connections));
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                    continue;
                };
                // Dropping a socket with zero linger sends RST: an abrupt cut, not a close.
                let _ = inbound.set_zero_linger();
                let _ = outbound.set_zero_linger();
                count.fetch_add(1, Ordering::SeqCst);
                let task = tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                tasks.lock().unwrap().push(task);
            }
        });
        TcpProxy {
            addr,
            accepted,
            connections,
            acceptor,
        }
    }

    /// `http://<proxy address>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Resets every live proxied connection; returns how many were live.
    pub fn cut(&self) -> usize {
        let tasks: Vec<JoinHandle<()>> = self.connections.lock().unwrap().drain(..).collect();
        let live = tasks.iter().filter(|t| !t.is_finished()).count();
        for task in tasks {
            task.abort();
        }
        live
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.cut();
    }
}

/// The socket address of an `http://host:port` URL.
pub fn socket_addr(url: &str) -> SocketAddr {
    let parsed = url::Url::parse(url).unwrap();
    let host = parsed.host_str().unwrap();
    let port = parsed.port_or_known_default().unwrap();
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}").parse().unwrap()
}

// ----- a private Tinylicious -----

/// A Tinylicious of our own on a free 127.0.0.1 port, with extra settings (nconf environment
/// keys such as `deli__clientTimeout`); killed and its storage removed on drop.
pub struct PrivateTinylicious {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    child: Child,
    storage: PathBuf,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl PrivateTinylicious {
    /// Starts `interop/tinylicious-launcher.cjs` with `settings` and waits until it answers.
    pub async fn start(env: &Env, settings: &[(&str, &str)]) -> PrivateTinylicious {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let storage = std::env::temp_dir().join(format!(
            "audience-interop-tinylicious-{}-{port}",
            std::process::id()
        ));
        let interop = env.interop_dir();
        let mut command = Command::new("node");
        command
            .arg(interop.join("tinylicious-launcher.cjs"))
            .current_dir(&interop)
            .env("PORT", port.to_string())
            .env("TINYLICIOUS_HOST", "127.0.0.1")
            .env("storage", &storage)
            .env("db__inMemory", "true")
            .env("logger__colorize", "false")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in settings {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let log = Arc::new(Mutex::new(VecDeque::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut reader = BufReader::new(pipe).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    let mut log = log.lock().unwrap();
                    if log.len() == 40 {
                        log.pop_front();
                    }
                    log.push_back(line);
                }
            });
        }
        let server = PrivateTinylicious {
            url: format!("http://127.0.0.1:{port}"),
            child,
            storage,
            log,
        };
        let service = service_at(&server.url);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if service.container_exists("probe").await.is_ok() {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "private Tinylicious did not start:\n{}",
                server.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines the server logged.
    pub fn log_tail(&self) -> String {
        self.log
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for PrivateTinylicious {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.storage);
    }
}
