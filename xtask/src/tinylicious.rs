//! A local Tinylicious server from `interop/node_modules`, bound to 127.0.0.1 only.
//!
//! Tinylicious listens on every interface by default and has no host setting, so it is started
//! through `interop/tinylicious-launcher.cjs`, which forces every `listen` onto 127.0.0.1. Each start
//! gets a fresh storage folder under the system temp dir, a log file `target/tinylicious-<port>.log`
//! and a pid file `target/tinylicious-<port>.pid` (so `tinylicious stop` and a later run can find it).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::process;

/// Tinylicious's usual port.
pub const DEFAULT_PORT: u16 = 7070;
/// The only interface the server binds.
pub const HOST: &str = "127.0.0.1";

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(200);
const STOP_GRACE: Duration = Duration::from_secs(10);
const STORAGE_PREFIX: &str = "audience-tinylicious-";
const LAUNCHER_MARKER: &str = "tinylicious-launcher";
const LOG_TAIL_LINES: usize = 30;

/// How a server's life is tied to the xtask process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// `tinylicious start`: its own process group, keeps running after xtask exits.
    Detached,
    /// `interop`: stays in xtask's process group (so Ctrl-C reaches it too) and is killed when the
    /// [`Server`] guard drops, on success, error or panic.
    Scoped,
}

/// A running Tinylicious. Dropping it stops the server and removes its storage and pid file,
/// unless [`Server::detach`] was called.
#[derive(Debug)]
pub struct Server {
    child: Child,
    port: u16,
    lifetime: Lifetime,
    log: PathBuf,
    storage: PathBuf,
    pid_file: PathBuf,
    detached: bool,
}

impl Server {
    /// Starts Tinylicious on `127.0.0.1:port` and waits until `GET /` answers (60 s at most).
    ///
    /// The npm packages must already be installed (see [`crate::npm::ensure_packages`]).
    pub fn start(paths: &Paths, port: u16, lifetime: Lifetime) -> Result<Server> {
        let log = match lifetime {
            Lifetime::Detached => paths.log_file(port),
            Lifetime::Scoped => paths.interop_log_file(),
        };
        Self::start_logging_to(paths, port, lifetime, log)
    }

    /// Like [`Server::start`], with the server's output going to `log` (overwritten).
    pub fn start_logging_to(
        paths: &Paths,
        port: u16,
        lifetime: Lifetime,
        log: PathBuf,
    ) -> Result<Server> {
        let pid_file = paths.pid_file(port);
        if let Some(record) = PidRecord::read(&pid_file)? {
            if is_launcher(record.pid) {
                return Err(Error::AlreadyRunning {
                    port,
                    pid: record.pid,
                });
            }
            eprintln!(
                "xtask: removing stale {} (pid {} is gone)",
                pid_file.display(),
                record.pid
            );
            record.clean_up(&pid_file);
        }
        ensure_port_free(port)?;

        std::fs::create_dir_all(&paths.target)
            .map_err(|source| Error::io(format!("creating {}", paths.target.display()), source))?;
        let log_file = File::create(&log)
            .map_err(|source| Error::io(format!("creating {}", log.display()), source))?;
        let log_file_for_stderr = log_file
            .try_clone()
            .map_err(|source| Error::io(format!("opening {}", log.display()), source))?;
        let storage = fresh_storage_dir(port)?;

        let mut command = Command::new("node");
        command
            .arg(paths.tinylicious_launcher())
            .current_dir(&paths.interop)
            .env("PORT", port.to_string())
            .env("TINYLICIOUS_HOST", HOST)
            // nconf keys (`__` separates levels), see tinylicious-launcher.cjs.
            .env("storage", &storage)
            .env("db__inMemory", "true")
            .env("logger__colorize", "false")
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_file_for_stderr);
        if lifetime == Lifetime::Detached {
            // Own group: survives the terminal's Ctrl-C aimed at xtask; `stop` signals the group.
            command.process_group(0);
        }
        let child = match command.spawn() {
            Ok(child) => child,
            Err(source) => {
                remove_storage(&storage);
                return Err(process::spawn_error(&command, source));
            }
        };
        // From here on the guard owns the process: any error below stops it again.
        let mut server = Server {
            child,
            port,
            lifetime,
            log,
            storage,
            pid_file,
            detached: false,
        };
        server.record().write(&server.pid_file)?;
        server.wait_ready()?;
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        url_for(self.port)
    }

    /// The launcher's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log file (stdout and stderr of the server).
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Leaves the server running after xtask exits; `tinylicious stop` finds it by its pid file.
    pub fn detach(mut self) {
        self.detached = true;
    }

    fn record(&self) -> PidRecord {
        PidRecord {
            pid: self.pid(),
            port: self.port,
            url: self.url(),
            log: self.log.clone(),
            storage: self.storage.clone(),
            process_group: self.lifetime == Lifetime::Detached,
        }
    }

    fn wait_ready(&mut self) -> Result<()> {
        let url = self.url();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|source| Error::io("checking the Tinylicious process", source))?
            {
                return Err(Error::ServerExited {
                    status,
                    log: self.log.clone(),
                    tail: log_tail(&self.log),
                });
            }
            let last_error = match get_root(self.port) {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            if Instant::now() >= deadline {
                return Err(Error::ServerTimeout {
                    url,
                    secs: READY_TIMEOUT.as_secs(),
                    last_error,
                    log: self.log.clone(),
                    tail: log_tail(&self.log),
                });
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        let pid = self.pid();
        let target = signal_target(pid, self.lifetime == Lifetime::Detached);
        if let Some(target) = target {
            // Ignore errors: the process may already be gone.
            let _ = send_signal(target, libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        remove_storage(&self.storage);
        let _ = std::fs::remove_file(&self.pid_file);
        eprintln!("xtask: stopped Tinylicious on {} (pid {pid})", self.url());
    }
}

/// What [`stop`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    /// No pid file for that port.
    NothingRecorded,
    /// The recorded process was already gone; the stale records were removed.
    AlreadyGone {
        /// The recorded pid.
        pid: u32,
    },
    /// The server was stopped.
    Stopped {
        /// Its pid.
        pid: u32,
    },
}

/// Stops the Tinylicious recorded in `target/tinylicious-<port>.pid`: SIGTERM to its process group
/// (or to the pid alone if it was not started in its own group), SIGKILL after 10 s, then removes the
/// storage folder and the pid file. Only a process whose command line names the launcher is signalled.
pub fn stop(paths: &Paths, port: u16) -> Result<StopOutcome> {
    let pid_file = paths.pid_file(port);
    let Some(record) = PidRecord::read(&pid_file)? else {
        return Ok(StopOutcome::NothingRecorded);
    };
    if !is_launcher(record.pid) {
        record.clean_up(&pid_file);
        return Ok(StopOutcome::AlreadyGone { pid: record.pid });
    }
    if let Some(target) = signal_target(record.pid, record.process_group) {
        send_signal(target, libc::SIGTERM).map_err(|source| {
            Error::io(
                format!("sending SIGTERM to Tinylicious (pid {})", record.pid),
                source,
            )
        })?;
        if !wait_gone(record.pid, STOP_GRACE) {
            eprintln!(
                "xtask: Tinylicious (pid {}) ignored SIGTERM, sending SIGKILL",
                record.pid
            );
            let _ = send_signal(target, libc::SIGKILL);
            wait_gone(record.pid, Duration::from_secs(2));
        }
    }
    record.clean_up(&pid_file);
    Ok(StopOutcome::Stopped { pid: record.pid })
}

/// A port that was free on 127.0.0.1 a moment ago (bind to port 0, read it, release it).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((HOST, 0))
        .map_err(|source| Error::io("binding 127.0.0.1:0 to pick a free port", source))?;
    let port = listener
        .local_addr()
        .map_err(|source| Error::io("reading the picked port", source))?
        .port();
    Ok(port)
}

/// `http://127.0.0.1:<port>`.
pub fn url_for(port: u16) -> String {
    format!("http://{HOST}:{port}")
}

/// The contents of `target/tinylicious-<port>.pid`: `key=value` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PidRecord {
    pid: u32,
    port: u16,
    url: String,
    log: PathBuf,
    storage: PathBuf,
    process_group: bool,
}

impl PidRecord {
    fn write(&self, path: &Path) -> Result<()> {
        let text = format!(
            "pid={}\nport={}\nurl={}\nlog={}\nstorage={}\nprocess_group={}\n",
            self.pid,
            self.port,
            self.url,
            self.log.display(),
            self.storage.display(),
            self.process_group
        );
        std::fs::write(path, text)
            .map_err(|source| Error::io(format!("writing {}", path.display()), source))
    }

    fn read(path: &Path) -> Result<Option<PidRecord>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::io(format!("reading {}", path.display()), source)),
        };
        Self::parse(&text)
            .map(Some)
            .map_err(|reason| Error::BadPidFile {
                path: path.to_path_buf(),
                reason,
            })
    }

    fn parse(text: &str) -> std::result::Result<PidRecord, String> {
        let field = |key: &str| -> std::result::Result<&str, String> {
            text.lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
                .ok_or_else(|| format!("missing `{key}=`"))
        };
        let pid = field("pid")?
            .parse::<u32>()
            .map_err(|error| format!("pid: {error}"))?;
        if pid == 0 {
            return Err("pid: must not be 0".into());
        }
        Ok(PidRecord {
            pid,
            port: field("port")?
                .parse()
                .map_err(|error| format!("port: {error}"))?,
            url: field("url")?.to_owned(),
            log: PathBuf::from(field("log")?),
            storage: PathBuf::from(field("storage")?),
            process_group: field("process_group")? == "true",
        })
    }

    fn clean_up(&self, pid_file: &Path) {
        remove_storage(&self.storage);
        let _ = std::fs::remove_file(pid_file);
    }
}

fn ensure_port_free(port: u16) -> Result<()> {
    TcpListener::bind((HOST, port))
        .map(drop)
        .map_err(|source| Error::PortBusy { port, source })
}

fn fresh_storage_dir(port: u16) -> Result<PathBuf> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "{STORAGE_PREFIX}{port}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|source| Error::io(format!("creating {}", dir.display()), source))?;
    Ok(dir)
}

/// Removes a storage folder, but only one we created (a corrupt pid file must not delete anything else).
fn remove_storage(dir: &Path) {
    let ours = dir.parent() == Some(std::env::temp_dir().as_path())
        && dir
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with(STORAGE_PREFIX));
    if ours {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// One plain HTTP/1.1 `GET /`; Ok when Tinylicious greets us.
fn get_root(port: u16) -> std::result::Result<(), String> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))
        .map_err(|error| format!("connect: {error}"))?;
    let timeout = Some(Duration::from_secs(2));
    stream
        .set_read_timeout(timeout)
        .and_then(|()| stream.set_write_timeout(timeout))
        .map_err(|error| format!("socket options: {error}"))?;
    let request = format!("GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|error| format!("send: {error}"))?;
    let mut response = Vec::new();
    stream
        .take(64 * 1024)
        .read_to_end(&mut response)
        .map_err(|error| format!("receive: {error}"))?;
    let response = String::from_utf8_lossy(&response);
    let status_line = response.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) == Some("200") && response.contains("Tinylicious") {
        Ok(())
    } else {
        Err(format!("unexpected answer: {status_line:?}"))
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read(log)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_else(|error| format!("(cannot read log: {error})"));
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    lines.get(start..).unwrap_or_default().join("\n")
}

/// The kill(2) target: `-pid` for the whole group when the process leads its own group.
fn signal_target(pid: u32, process_group: bool) -> Option<libc::pid_t> {
    let pid = libc::pid_t::try_from(pid).ok().filter(|pid| *pid > 0)?;
    // SAFETY: getpgid(2) only reads kernel state for a pid; no memory is passed.
    let leads_group = unsafe { libc::getpgid(pid) } == pid;
    Some(if process_group && leads_group {
        -pid
    } else {
        pid
    })
}

fn send_signal(target: libc::pid_t, signal: libc::c_int) -> std::io::Result<()> {
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(target, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Alive and not a zombie (an orphaned, killed server may linger as a zombie if nobody reaps it).
fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // Format: `pid (comm) S ...`; comm may contain spaces or parentheses.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z" | "X") | None)
        }
        Err(_) if Path::new("/proc/self").exists() => false,
        Err(_) => libc::pid_t::try_from(pid).is_ok_and(|pid| send_signal(pid, 0).is_ok()),
    }
}

/// Running and really our launcher (guards against a recycled pid).
fn is_launcher(pid: u32) -> bool {
    if !is_running(pid) {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => String::from_utf8_lossy(&cmdline).contains(LAUNCHER_MARKER),
        // No procfs: trust the pid file.
        Err(_) => !Path::new("/proc/self").exists(),
    }
}

fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while is_running(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_record_round_trips() {
        let record = PidRecord {
            pid: 4242,
            port: 7272,
            url: url_for(7272),
            log: PathBuf::from("/w/target/tinylicious-7272.log"),
            storage: std::env::temp_dir().join("audience-tinylicious-7272-1-2"),
            process_group: true,
        };
        let dir = std::env::temp_dir().join(format!("xtask-pid-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.pid");
        record.write(&path).unwrap();
        assert_eq!(PidRecord::read(&path).unwrap(), Some(record));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pid_record_rejects_garbage() {
        assert_eq!(PidRecord::parse("port=1\n").unwrap_err(), "missing `pid=`");
        assert!(
            PidRecord::parse("pid=abc\n")
                .unwrap_err()
                .starts_with("pid:")
        );
        assert_eq!(
            PidRecord::parse("pid=0\n").unwrap_err(),
            "pid: must not be 0"
        );
    }

    #[test]
    fn missing_pid_file_is_none() {
        let path = std::env::temp_dir().join("xtask-no-such-dir-for-sure/t.pid");
        assert_eq!(PidRecord::read(&path).unwrap(), None);
    }

    #[test]
    fn remove_storage_only_touches_our_folders() {
        let foreign = std::env::temp_dir().join(format!("xtask-foreign-{}", std::process::id()));
        std::fs::create_dir_all(&foreign).unwrap();
        remove_storage(&foreign);
        assert!(foreign.is_dir(), "a folder without our prefix must survive");
        std::fs::remove_dir_all(&foreign).unwrap();

        let ours = fresh_storage_dir(1).unwrap();
        assert!(ours.is_dir());
        remove_storage(&ours);
        assert!(!ours.exists());
    }

    #[test]
    fn own_process_is_running_but_not_a_launcher() {
        assert!(is_running(std::process::id()));
        assert!(!is_launcher(std::process::id()));
    }

    #[test]
    fn free_port_is_bindable() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        ensure_port_free(port).unwrap();
    }

    #[test]
    fn busy_port_is_reported() {
        let listener = TcpListener::bind((HOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(
            matches!(ensure_port_free(port), Err(Error::PortBusy { port: p, .. }) if p == port)
        );
    }
}
