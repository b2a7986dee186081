//! Live check of the JS side used by every interop test: two `interop/fluid-client.mjs` processes
//! on a real Tinylicious see each other by user id and name, and signals cross.
//!
//! Skipped unless `AUDIENCE_TINYLICIOUS_URL` and `AUDIENCE_INTEROP_JS` are set, which
//! `cargo xtask interop` does.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(45);

/// One running `fluid-client.mjs`, its stdout parsed line by line on a thread.
struct JsClient {
    label: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    seen: Vec<Value>,
}

impl JsClient {
    fn spawn(label: &'static str, script: &str, args: &[&str]) -> JsClient {
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node must be on PATH");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|error| panic!("stdout line is not JSON ({error}): {line}"));
                if sender.send(value).is_err() {
                    break;
                }
            }
        });
        JsClient {
            label,
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for the first (not yet consumed) line matching `predicate`.
    fn expect(&mut self, what: &str, predicate: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line["event"] == "fatal" {
                        panic!("{}: fatal: {line}", self.label);
                    }
                    if predicate(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "{}: no {what} within {WAIT:?}; saw {:#?}",
                        self.label, self.seen
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("{}: exited before {what}; saw {:#?}", self.label, self.seen)
                }
            }
        }
    }

    fn expect_event(&mut self, event: &str) -> Value {
        self.expect(event, |line| line["event"] == event)
    }

    fn send(&mut self, command: Value) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
    }

    fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "{}: did not exit", self.label);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for JsClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_js_clients_see_each_other_and_exchange_signals() {
    let (Ok(url), Ok(script)) = (
        std::env::var("AUDIENCE_TINYLICIOUS_URL"),
        std::env::var("AUDIENCE_INTEROP_JS"),
    ) else {
        eprintln!("skipped: AUDIENCE_TINYLICIOUS_URL not set");
        return;
    };

    let mut alice = JsClient::spawn(
        "alice",
        &script,
        &[
            "create", "--url", &url, "--user", "alice", "--name", "Alice",
        ],
    );
    let created = alice.expect_event("created");
    let id = created["id"].as_str().expect("created.id").to_owned();
    let alice_client = alice.expect_event("connected")["clientId"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut bob = JsClient::spawn(
        "bob",
        &script,
        &["join", &id, "--url", &url, "--user", "bob", "--name", "Bob"],
    );
    let bob_client = bob.expect_event("connected")["clientId"]
        .as_str()
        .unwrap()
        .to_owned();

    // Bob's view: Alice (by user id, with her name and connection) and himself.
    bob.send(json!({"cmd": "members"}));
    let members = bob.expect("members after cmd", |line| {
        line["event"] == "members" && line["why"] == "cmd"
    });
    assert_eq!(
        members["getMembers"]["alice"],
        json!({"id": "alice", "name": "Alice", "connections": [{"id": alice_client, "mode": "write"}]})
    );
    assert_eq!(members["getMembers"]["bob"]["name"], "Bob");
    assert_eq!(
        members["getMyself"]["currentConnection"],
        bob_client.as_str()
    );

    // Alice's view: Bob was added with his name.
    let added = alice.expect("memberAdded bob", |line| {
        line["event"] == "memberAdded" && line["clientId"] == bob_client.as_str()
    });
    assert_eq!(
        added["member"],
        json!({"id": "bob", "name": "Bob", "connections": [{"id": bob_client, "mode": "write"}]})
    );

    // A datastore signal from Bob reaches Alice with sender, type and content.
    bob.send(json!({"cmd": "signal", "type": "greet", "content": {"from": "bob"}}));
    let signal = alice.expect("greet signal", |line| line["event"] == "signal");
    assert_eq!(signal["clientId"], bob_client.as_str());
    assert_eq!(signal["type"], "greet");
    assert_eq!(signal["content"], json!({"from": "bob"}));
    assert_eq!(signal["local"], false);

    // Bob leaves gracefully; Alice sees him go.
    bob.send(json!({"cmd": "leave"}));
    assert_eq!(bob.wait_exit(), 0);
    let removed = alice.expect("memberRemoved bob", |line| {
        line["event"] == "memberRemoved" && line["clientId"] == bob_client.as_str()
    });
    assert_eq!(removed["member"]["id"], "bob");

    // Closing stdin ends Alice's session cleanly.
    drop(alice.stdin.take());
    assert_eq!(alice.wait_exit(), 0);
}
