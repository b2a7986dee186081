//! Helpers shared by the binary's integration tests.
#![allow(dead_code)] // each test target uses its own subset

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A pipe whose buffer is already full, as when the reader of `audience watch X | less` is
/// paused: whoever writes to it blocks at once. Returns (read end, write end); keep the read
/// end open for as long as the writer should stay blocked.
pub fn full_pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe` writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for fd in [&read, &write] {
        // Not inherited by the other children tests spawn meanwhile (the child's own stdout
        // is a dup2'ed copy, which does not keep the flag).
        set_flag(fd, libc::F_GETFD, libc::F_SETFD, libc::FD_CLOEXEC, true);
    }
    set_flag(&write, libc::F_GETFL, libc::F_SETFL, libc::O_NONBLOCK, true);
    // Big writes first, then single bytes: a non-blocking write of up to PIPE_BUF bytes is
    // all or nothing, so only single bytes fill the last corner.
    for chunk in [&[b'.'; 4096][..], &[b'.'][..]] {
        loop {
            // SAFETY: writes `chunk.len()` bytes from a live buffer to an open descriptor.
            let n = unsafe { libc::write(write.as_raw_fd(), chunk.as_ptr().cast(), chunk.len()) };
            if n < 0 {
                let error = std::io::Error::last_os_error();
                assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock, "{error}");
                break;
            }
        }
    }
    // The child must block, not fail with EAGAIN: the flag is shared with its copy.
    set_flag(
        &write,
        libc::F_GETFL,
        libc::F_SETFL,
        libc::O_NONBLOCK,
        false,
    );
    (read, write)
}

fn set_flag(fd: &OwnedFd, get: libc::c_int, set: libc::c_int, flag: libc::c_int, on: bool) {
    // SAFETY: fcntl on an open descriptor with integer arguments.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), get) };
    assert!(flags >= 0);
    let flags = if on { flags | flag } else { flags & !flag };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::fcntl(fd.as_raw_fd(), set, flags) }, 0);
}

/// Sends SIGINT (Ctrl-C) to `child`.
pub fn ctrl_c(child: &Child) {
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
}

/// The exit status of `child` if it ends within `limit`; `None` if it is still running.
pub fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
