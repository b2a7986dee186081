//! Child processes whose output lines arrive, time-stamped on arrival, on one channel.
//!
//! Every benchmark time is "when xtask read that line": a reader thread per pipe takes
//! `Instant::now()` as soon as a whole line is read, so the Rust and the JS processes are measured
//! the same way, on the same clock, whatever the processes print about themselves.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::process;

/// How long a process gets to leave after SIGINT before it is killed.
const LEAVE_GRACE: Duration = Duration::from_secs(3);
/// Lines of output kept per process for error messages.
const TAIL_LINES: usize = 12;

/// Which process a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcId(usize);

#[cfg(test)]
impl ProcId {
    /// An id for tests that need no real process.
    pub fn fake(n: usize) -> Self {
        ProcId(n)
    }
}

/// Which pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line (or the end) of a child's output.
#[derive(Debug, Clone)]
pub struct Line {
    /// The process.
    pub proc: ProcId,
    /// The pipe.
    pub stream: Stream,
    /// When xtask read it.
    pub at: Instant,
    /// The line without its line ending; `None` when the pipe closed.
    pub text: Option<String>,
}

/// Spawns processes and hands out their lines in arrival order.
pub struct Hub {
    tx: Sender<Line>,
    rx: Receiver<Line>,
    next: usize,
    labels: HashMap<ProcId, String>,
    tails: HashMap<ProcId, VecDeque<String>>,
    ended: HashSet<ProcId>,
}

impl Hub {
    /// A hub with no process yet.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Hub {
            tx,
            rx,
            next: 0,
            labels: HashMap::new(),
            tails: HashMap::new(),
            ended: HashSet::new(),
        }
    }

    /// Starts `command` with stdout and stderr piped to the hub. With `keep_stdin` its stdin is a
    /// pipe held open until the [`Proc`] drops (the JS client leaves when stdin closes), else null.
    /// Returns the process and the instant just before the spawn.
    pub fn spawn(
        &mut self,
        label: &str,
        command: &mut Command,
        keep_stdin: bool,
    ) -> Result<(Proc, Instant)> {
        command
            .stdin(if keep_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let id = ProcId(self.next);
        self.next += 1;
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|source| process::spawn_error(command, source))?;
        let stdin = child.stdin.take();
        for (stream, pipe) in [
            (
                Stream::Stdout,
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
            (
                Stream::Stderr,
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
        ] {
            let tx = self.tx.clone();
            match pipe {
                Some(pipe) => {
                    std::thread::spawn(move || forward(id, stream, pipe, &tx));
                }
                // Cannot happen with Stdio::piped(); report the pipe closed so nobody waits on it.
                None => {
                    let _ = tx.send(Line {
                        proc: id,
                        stream,
                        at: Instant::now(),
                        text: None,
                    });
                }
            }
        }
        self.labels.insert(id, label.to_owned());
        Ok((
            Proc {
                id,
                label: label.to_owned(),
                child,
                stdin,
            },
            started,
        ))
    }

    /// Hands every line to `accept` until it returns `Some`, or fails at `deadline` saying
    /// `waiting_for` and showing the last output of `about`.
    pub fn wait_for<T>(
        &mut self,
        deadline: Instant,
        waiting_for: &str,
        about: &[ProcId],
        mut accept: impl FnMut(&Line) -> Option<T>,
    ) -> Result<T> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.remember(&line);
                    if let Some(done) = accept(&line) {
                        return Ok(done);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(Error::Bench(format!(
                        "timed out waiting for {waiting_for}{}",
                        self.tails_of(about)
                    )));
                }
                // Unreachable while the hub holds a sender; handled anyway.
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::Bench(format!(
                        "output channel closed while waiting for {waiting_for}"
                    )));
                }
            }
        }
    }

    /// The instant and the value of the first stdout line of `proc` that `accept` recognises;
    /// an error if `proc`'s stdout closes first or `timeout` passes.
    pub fn first_line<T>(
        &mut self,
        proc: ProcId,
        timeout: Duration,
        what: &str,
        accept: impl Fn(&str) -> Option<T>,
    ) -> Result<(Instant, T)> {
        self.wait_for(Instant::now() + timeout, what, &[proc], |line| {
            if line.proc != proc || line.stream != Stream::Stdout {
                return None;
            }
            match &line.text {
                Some(text) => accept(text).map(|found| Ok((line.at, found))),
                None => Some(Err(())),
            }
        })?
        .map_err(|()| {
            Error::Bench(format!(
                "output ended before {what}{}",
                self.tails_of(&[proc])
            ))
        })
    }

    /// Reads and forgets whatever arrives during `pause` (keeps the pipes drained).
    pub fn drain_for(&mut self, pause: Duration) {
        let until = Instant::now() + pause;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(line) => self.remember(&line),
                Err(_) => break,
            }
        }
    }

    /// "\n--- last output of <label> ---\n..." for each process, for error messages.
    pub fn tails_of(&self, procs: &[ProcId]) -> String {
        let mut text = String::new();
        for id in procs {
            let label = self.labels.get(id).map_or("?", String::as_str);
            text.push_str(&format!("\n--- last output of {label} ---"));
            for line in self.tails.get(id).into_iter().flatten() {
                text.push('\n');
                text.push_str(line);
            }
        }
        text
    }

    /// Whether the stdout of `proc` has closed (it ended), as far as lines were read.
    pub fn has_ended(&self, proc: ProcId) -> bool {
        self.ended.contains(&proc)
    }

    fn remember(&mut self, line: &Line) {
        if line.text.is_none() && line.stream == Stream::Stdout {
            self.ended.insert(line.proc);
        }
        let tail = self.tails.entry(line.proc).or_default();
        let text = match (&line.text, line.stream) {
            (Some(text), Stream::Stdout) => text.clone(),
            (Some(text), Stream::Stderr) => format!("[stderr] {text}"),
            (None, Stream::Stdout) => "[stdout closed]".to_owned(),
            (None, Stream::Stderr) => "[stderr closed]".to_owned(),
        };
        // Long JSON lines (member lists) would drown the message.
        tail.push_back(shorten(&text, 400));
        while tail.len() > TAIL_LINES {
            tail.pop_front();
        }
    }
}

fn forward(id: ProcId, stream: Stream, pipe: Box<dyn Read + Send>, tx: &Sender<Line>) {
    let mut reader = BufReader::new(pipe);
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        let read = reader.read_until(b'\n', &mut bytes);
        let at = Instant::now();
        let text = match read {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(
                String::from_utf8_lossy(&bytes)
                    .trim_end_matches(['\n', '\r'])
                    .to_owned(),
            ),
        };
        let end = text.is_none();
        if tx
            .send(Line {
                proc: id,
                stream,
                at,
                text,
            })
            .is_err()
            || end
        {
            return;
        }
    }
}

fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A running child. Dropping it makes it leave: stdin closed, SIGINT, SIGKILL after 3 s.
pub struct Proc {
    id: ProcId,
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Proc {
    /// Its id in the hub's lines.
    pub fn id(&self) -> ProcId {
        self.id
    }

    /// Waits for it to exit (after its pipes closed this is immediate) and checks it succeeded.
    pub fn wait_success(&mut self) -> Result<ExitStatus> {
        let status = self
            .child
            .wait()
            .map_err(|source| Error::io(format!("waiting for {}", self.label), source))?;
        if status.success() {
            Ok(status)
        } else {
            Err(Error::Bench(format!("{} exited with {status}", self.label)))
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // The JS client leaves cleanly when its stdin closes.
        drop(self.stdin.take());
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // Both clients leave cleanly on SIGINT. The child is not reaped yet, so its pid is still
        // ours (no recycled pid can be hit).
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGINT) };
        }
        let deadline = Instant::now() + LEAVE_GRACE;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_arrive_in_order_with_the_end_of_each_pipe() {
        let mut hub = Hub::new();
        let mut command = Command::new("sh");
        command.args(["-c", "echo one; echo two; echo oops >&2"]);
        let (mut proc, started) = hub.spawn("sh", &mut command, false).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut out = Vec::new();
        let mut closed = 0;
        hub.wait_for(deadline, "sh output", &[proc.id()], |line| {
            assert_eq!(line.proc, proc.id());
            assert!(line.at >= started);
            match (&line.text, line.stream) {
                (Some(text), stream) => out.push((stream, text.clone())),
                (None, _) => closed += 1,
            }
            (closed == 2).then_some(())
        })
        .unwrap();
        let stdout: Vec<&str> = out
            .iter()
            .filter(|(s, _)| *s == Stream::Stdout)
            .map(|(_, t)| t.as_str())
            .collect();
        assert_eq!(stdout, ["one", "two"]);
        assert!(out.contains(&(Stream::Stderr, "oops".to_owned())));
        assert!(proc.wait_success().unwrap().success());
        assert!(hub.has_ended(proc.id()));
    }

    #[test]
    fn a_timeout_names_what_was_awaited_and_shows_the_output() {
        let mut hub = Hub::new();
        let mut command = Command::new("sh");
        command.args(["-c", "echo hello; exec sleep 30"]);
        let (proc, _) = hub.spawn("sleeper", &mut command, true).unwrap();
        let deadline = Instant::now() + Duration::from_millis(500);
        assert!(!hub.has_ended(proc.id()));
        let error = hub
            .wait_for(deadline, "a goodbye", &[proc.id()], |_| None::<()>)
            .unwrap_err()
            .to_string();
        assert!(error.contains("timed out waiting for a goodbye"), "{error}");
        assert!(
            error.contains("--- last output of sleeper ---\nhello"),
            "{error}"
        );
        let pid = proc.child.id();
        drop(proc);
        // Dropping stops and reaps it: its pid no longer names a process of ours.
        assert!(!is_child_alive(pid));
    }

    fn is_child_alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.contains("(sleep)"))
    }

    #[test]
    fn first_line_skips_to_the_recognised_line_or_reports_the_end() {
        let mut hub = Hub::new();
        let mut command = Command::new("sh");
        command.args(["-c", "echo noise; echo id=42; echo later"]);
        let (proc, started) = hub.spawn("sh", &mut command, false).unwrap();
        let timeout = Duration::from_secs(10);
        let (at, id) = hub
            .first_line(proc.id(), timeout, "the id", |l| {
                l.strip_prefix("id=").map(str::to_owned)
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id, "42");
        assert!(at >= started);
        let error = hub
            .first_line(proc.id(), timeout, "a second id", |l| {
                l.strip_prefix("id=").map(str::to_owned)
            })
            .unwrap_err()
            .to_string();
        assert!(error.contains("output ended before a second id"), "{error}");
        assert!(error.contains("later"), "{error}");
    }

    #[test]
    fn a_failing_process_is_an_error() {
        let mut hub = Hub::new();
        let (mut proc, _) = hub
            .spawn("false", Command::new("sh").args(["-c", "exit 3"]), false)
            .unwrap();
        let error = proc.wait_success().unwrap_err().to_string();
        assert!(error.starts_with("benchmark: false exited with"), "{error}");
    }

    #[test]
    fn long_lines_are_shortened_on_a_char_boundary() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("ééééé", 2), "éé...");
    }
}
