//! Bad input that needs no server: one clear `error:` line on stderr, non-zero exit.

use std::net::TcpListener;
use std::process::{Command, Output};

fn audience(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// Runs with `input` on stdin.
fn audience_with_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // A writer thread: the child may fail before reading it all.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}

/// The single stderr line of a failed run, with its exit code.
fn failure(output: &Output) -> (i32, String) {
    assert!(!output.status.success(), "expected a failure");
    assert_eq!(output.stdout, b"", "nothing on stdout");
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr: {stderr:?}");
    (output.status.code().unwrap(), lines[0].to_owned())
}

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

#[test]
fn invalid_json_is_refused_before_any_network() {
    // A listener we hold: the command must not even try to reach it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let output = audience(&["signal", "send", "doc", "{type: hi}", "--url", &url]);
    assert_eq!(
        failure(&output),
        (
            2,
            "error: invalid JSON for the signal content: key must be a string at line 1 column 2"
                .to_owned()
        )
    );
    assert_eq!(
        listener.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "no connection was attempted"
    );
    let output = audience(&["signal", "send", "doc", "[1, 2", "--url", &url]);
    assert_eq!(
        failure(&output).1,
        "error: invalid JSON for the signal content: EOF while parsing a list at line 1 column 5"
    );
}

#[test]
fn bad_user_ids_and_names_are_refused_before_any_network() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // clap quotes the value (minus escape sequences, off a terminal) before the reason.
    let cases: [(&[&str], &str); 4] = [
        (
            &["members", "doc", "--user", ""],
            "for '--user <ID>': the user id must not be empty",
        ),
        (
            &["join", "doc", "--user", "u\x1b]0;pwned\x07"],
            "for '--user <ID>': the user id must not contain control characters (found U+001B)",
        ),
        (
            &["watch", "doc", "--name", ""],
            "for '--name <NAME>': the name must not be empty",
        ),
        (
            &["signal", "send", "doc", "1", "--name", "Ann\nBob"],
            "for '--name <NAME>': the name must not contain control characters (found U+000A)",
        ),
    ];
    for (args, reason) in cases {
        let mut all = args.to_vec();
        all.extend(["--url", url.as_str()]);
        let output = audience(&all);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(output.stdout, b"");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.starts_with("error: invalid value '"),
            "{args:?}: {stderr:?}"
        );
        assert!(stderr.contains(reason), "{args:?}: {stderr:?}");
    }
    assert_eq!(
        listener.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "no connection was attempted"
    );
}

#[test]
fn signal_content_from_stdin_is_checked_before_any_network() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let output = audience_with_stdin(&["signal", "send", "doc", "-", "--url", &url], b"[1, 2");
    assert_eq!(
        failure(&output),
        (
            2,
            "error: invalid JSON for the signal content: EOF while parsing a list at line 1 column 5"
                .to_owned()
        )
    );
    assert_eq!(
        listener.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "no connection was attempted"
    );

    // Valid JSON larger than one argument may be (128 KiB on Linux) gets past the check and
    // on to the (here unreachable) server.
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}");
    let big = format!("{{\"data\": \"{}\"}}", "x".repeat(200 * 1024));
    let output = audience_with_stdin(
        &["signal", "send", "doc-1", "-", "--url", &url],
        big.as_bytes(),
    );
    let (code, line) = failure(&output);
    assert_eq!(code, 1);
    assert!(
        line.starts_with(&format!(
            "error: cannot reach the server at http://127.0.0.1:{port}/documents/tinylicious/doc-1: "
        )),
        "{line}"
    );
}

#[test]
fn malformed_urls_are_usage_errors() {
    let output = audience(&["members", "doc", "--url", "localhost:7070:x"]);
    let (code, line) = failure(&output);
    assert_eq!(code, 2);
    assert!(
        line.starts_with("error: --url: invalid URL `localhost:7070:x`: "),
        "{line}"
    );
    let output = audience(&["create", "--url", "not a url"]);
    assert_eq!(
        failure(&output),
        (
            2,
            "error: --url: invalid URL `not a url`: relative URL without a base".to_owned()
        )
    );
    let output = audience(&["watch", "doc", "--url", "ftp://127.0.0.1/"]);
    assert_eq!(
        failure(&output),
        (
            2,
            "error: --url: invalid URL `ftp://127.0.0.1/`: the scheme must be http, https, ws or wss"
                .to_owned()
        )
    );
}

#[test]
fn unreachable_server_is_one_line_with_the_url() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["members", "doc-1"],
        vec!["whoami", "doc-1"],
        vec!["join", "doc-1", "--for", "1s"],
        vec!["signal", "send", "doc-1", "{\"a\":1}"],
    ] {
        let mut all = args.clone();
        all.extend(["--url", url.as_str()]);
        let (code, line) = failure(&audience(&all));
        assert_eq!(code, 1, "{args:?}");
        let prefix = format!(
            "error: cannot reach the server at http://127.0.0.1:{port}/documents/tinylicious/doc-1: "
        );
        assert!(line.starts_with(&prefix), "{args:?}: {line}");
        assert!(line.to_lowercase().contains("refused"), "{line}");
    }
    let (code, line) = failure(&audience(&["--url", &url, "create", "--tenant", "t2"]));
    assert_eq!(code, 1);
    assert!(
        line.starts_with(&format!(
            "error: cannot reach the server at http://127.0.0.1:{port}/documents/t2: "
        )),
        "{line}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let output = audience(&["join"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("error: the following required arguments were not provided"));
    for pace in ["-1", "10.5", "1e300", "NaN", "fast"] {
        let output = audience(&["demo", "--pace", pace]);
        assert_eq!(output.status.code(), Some(2), "{pace}");
        assert_eq!(output.stdout, b"");
    }
    let output = audience(&["demo", "--pace", "1e300"]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(
            "error: invalid value '1e300' for '--pace <F>': the pace must be from 0 to 10"
        ),
        "{stderr}"
    );
    let output = audience(&["join", "doc", "--for", "soon"]);
    assert_eq!(output.status.code(), Some(2));
    let output = audience(&["watch", "doc", "--mode", "admin"]);
    assert_eq!(output.status.code(), Some(2));
    let output = audience(&["demo", "--url", "http://127.0.0.1:9"]);
    assert_eq!(output.status.code(), Some(2));
    let output = audience(&["--url", "http://127.0.0.1:9", "demo"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .starts_with("error: --url and --tenant apply to the live commands, not to `demo`\n")
    );
    assert_eq!(output.stdout, b"");
}

#[test]
fn help_explains_every_command_with_an_example_and_no_secret() {
    let top = audience(&["--help"]);
    assert!(top.status.success());
    let top = String::from_utf8(top.stdout).unwrap();
    assert!(top.contains("See who is connected to a Fluid Framework container"));
    assert!(top.contains("Examples:"));
    assert!(top.contains("audience demo --json --pace 0 --seed 7"));
    let commands: [(&[&str], &str); 9] = [
        (
            &["demo"],
            "scripted session on the embedded in-process service",
        ),
        (&["create"], "Create a new container"),
        (&["watch"], "Watch a container's audience live until Ctrl-C"),
        (&["members"], "Print the members of a container once"),
        (&["whoami"], "print the own member"),
        (&["join"], "Stay connected as a user"),
        (&["signal"], "Send or receive application signals"),
        (&["signal", "send"], "Send one application signal"),
        (
            &["signal", "listen"],
            "Print application signals as they arrive",
        ),
    ];
    for (command, text) in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let output = audience(&args);
        assert!(output.status.success(), "{command:?}");
        let help = String::from_utf8(output.stdout).unwrap();
        assert!(help.contains(text), "{command:?}: {help}");
        assert!(top.contains(command[0]));
        // The Tinylicious tenant key must not be a visible default anywhere.
        assert!(!help.contains("12345"), "{command:?}");
    }
    assert!(!top.contains("12345"));
    let send = String::from_utf8(audience(&["signal", "send", "--help"]).stdout).unwrap();
    assert!(send.contains("`-` reads it from stdin"), "{send}");
    let demo = String::from_utf8(audience(&["demo", "--help"]).stdout).unwrap();
    assert!(
        demo.contains("1 = real time (about 3 s in all), 0 = no pauses, 2 = twice as slow"),
        "{demo}"
    );
    assert!(!demo.contains("--speed"), "{demo}");
    // --url and --tenant belong to the live commands only.
    assert!(
        !demo.contains("--url") && !demo.contains("--tenant"),
        "{demo}"
    );
    for live in [
        &["create"][..],
        &["watch"],
        &["members"],
        &["whoami"],
        &["join"],
        &["signal", "send"],
        &["signal", "listen"],
    ] {
        let mut args = live.to_vec();
        args.push("--help");
        let help = String::from_utf8(audience(&args).stdout).unwrap();
        assert!(
            help.contains("--url <URL>") && help.contains("--tenant <TENANT>"),
            "{live:?}: {help}"
        );
    }
}

/// A one-shot HTTP server on 127.0.0.1 answering every request with `status` and `body`.
fn fake_server(status: &'static str, body: &'static str) -> (u16, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // Read the request head (the GET has no body).
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).unwrap();
    });
    (port, handle)
}

#[test]
fn server_errors_are_one_line_with_status_and_message() {
    let (port, server) = fake_server(
        "500 Internal Server Error",
        r#"{"message":"database on fire"}"#,
    );
    let url = format!("http://127.0.0.1:{port}");
    let (code, line) = failure(&audience(&["members", "doc-9", "--url", &url]));
    server.join().unwrap();
    assert_eq!(code, 1);
    assert_eq!(
        line,
        format!(
            "error: HTTP 500 from http://127.0.0.1:{port}/documents/tinylicious/doc-9: database on fire"
        )
    );

    // `null` for a document: it does not exist.
    let (port, server) = fake_server("200 OK", "null");
    let url = format!("http://127.0.0.1:{port}");
    let (code, line) = failure(&audience(&["whoami", "doc-9", "--url", &url]));
    server.join().unwrap();
    assert_eq!(
        (code, line.as_str()),
        (1, "error: container `doc-9` does not exist")
    );
}
