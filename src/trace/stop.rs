//! How `copylab trace` ends a command it runs: the command has a process group of its own, and
//! when `--for` runs out (SIGTERM) or copylab is asked to stop (the signal it got: SIGINT,
//! SIGTERM, SIGHUP or SIGQUIT) the whole group is signalled; whatever still runs [`GRACE`]
//! later is killed (SIGKILL), and a second stop signal kills it at once. While the command
//! runs it holds the terminal, as a shell's job would: it reads from it and gets its Ctrl-C and
//! Ctrl-Z directly, and a Ctrl-Z stops copylab with it.

use std::time::Instant;

use nix::sys::signal::Signal;

use crate::signals;

/// How long a command may take to end after it was sent SIGTERM (or the stop signal copylab
/// got) before its process group is killed with SIGKILL.
pub const GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The signals a command's process group was sent, and when to escalate.
pub struct Stopping {
    pgid: libc::pid_t,
    until: Option<Instant>,
    /// Names of the signals sent to the group, in order.
    pub sent: Vec<&'static str>,
    forwarded: bool,
    time_ran_out: bool,
    kill_at: Option<Instant>,
    killed: bool,
}

impl Stopping {
    /// For process group `pgid`, with the `--for` deadline `until`.
    pub fn new(pgid: libc::pid_t, until: Option<Instant>) -> Stopping {
        Stopping {
            pgid,
            until,
            sent: Vec::new(),
            forwarded: false,
            time_ran_out: false,
            kill_at: None,
            killed: false,
        }
    }

    /// Whether `--for` ran out before the command ended.
    pub fn time_ran_out(&self) -> bool {
        self.time_ran_out
    }

    /// Look at the clock and the stop signals; signal the group as they say.
    pub fn poll(&mut self) {
        let now = Instant::now();
        if signals::stop_requested() && !self.forwarded {
            self.forwarded = true;
            self.send(signals::first_stop().unwrap_or(libc::SIGTERM));
            self.kill_at.get_or_insert(now + GRACE);
        }
        if signals::stops() >= 2 && !self.killed {
            // The signal handler has killed the group already; say so (and make sure).
            self.killed = true;
            self.send(libc::SIGKILL);
        }
        if !self.time_ran_out && self.until.is_some_and(|u| now >= u) {
            self.time_ran_out = true;
            if !self.forwarded {
                self.send(libc::SIGTERM);
            }
            self.kill_at.get_or_insert(now + GRACE);
        }
        if !self.killed && self.kill_at.is_some_and(|k| now >= k) {
            self.killed = true;
            self.send(libc::SIGKILL);
        }
    }

    /// After the command was reaped: record the SIGKILL a second stop signal made the signal
    /// handler send, if [`Stopping::poll`] had no time to (nothing is sent any more).
    pub fn settle(&mut self) {
        if signals::stops() >= 2 && !self.killed {
            self.killed = true;
            self.sent.push(name(libc::SIGKILL));
        }
    }

    fn send(&mut self, sig: libc::c_int) {
        // SAFETY: kill has no memory-safety preconditions; the group's leader is our child and
        // not yet reaped, so the group id cannot have been reused.
        unsafe { libc::kill(-self.pgid, sig) };
        self.sent.push(name(sig));
    }
}

/// A signal's name (`SIGTERM`).
pub fn name(sig: libc::c_int) -> &'static str {
    Signal::try_from(sig).map_or("a signal", Signal::as_str)
}

/// Whether child `pid` has exited, without reaping it (so its process group id stays ours until
/// the caller has stopped signalling it).
pub fn exited(pid: libc::pid_t) -> bool {
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    match waitid(Id::Pid(nix::unistd::Pid::from_raw(pid)), flags) {
        Ok(WaitStatus::StillAlive) => false,
        Ok(_) => true,
        // ECHILD: nothing left to wait for.
        Err(_) => true,
    }
}

/// The terminal copylab was started on in the foreground, handed to the command's process group
/// for the run, and given back when dropped.
pub struct Foreground {
    fd: libc::c_int,
    ours: libc::pid_t,
    theirs: libc::pid_t,
}

impl Foreground {
    /// Hand the controlling terminal to process group `pgid`, when copylab has it (stdin, stdout
    /// or stderr is the terminal and copylab's group is its foreground group).
    pub fn hand_to(pgid: libc::pid_t) -> Option<Foreground> {
        // SAFETY: getpgrp has no preconditions.
        let ours = unsafe { libc::getpgrp() };
        for fd in [0, 1, 2] {
            // SAFETY: isatty and tcgetpgrp only read the state of descriptor `fd`.
            let foreground = unsafe { libc::isatty(fd) == 1 && libc::tcgetpgrp(fd) == ours };
            if foreground && set_foreground(fd, pgid) {
                return Some(Foreground {
                    fd,
                    ours,
                    theirs: pgid,
                });
            }
        }
        None
    }

    /// If the command was stopped (Ctrl-C's sibling, Ctrl-Z, reached it through the terminal):
    /// take the terminal back and stop copylab too, so the shell sees its job stopped; once the
    /// job is continued (`fg`), hand the terminal back and continue the command.
    pub fn follow_stop(&self, pid: libc::pid_t) {
        use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
        let flags = WaitPidFlag::WSTOPPED | WaitPidFlag::WNOHANG;
        if !matches!(
            waitid(Id::Pid(nix::unistd::Pid::from_raw(pid)), flags),
            Ok(WaitStatus::Stopped(..))
        ) {
            return;
        }
        set_foreground(self.fd, self.ours);
        // SAFETY: raise has no memory-safety preconditions; SIGTSTP's default action stops the
        // whole process until the shell continues it.
        unsafe { libc::raise(libc::SIGTSTP) };
        set_foreground(self.fd, self.theirs);
        // SAFETY: kill has no memory-safety preconditions; the group's leader is our child and
        // not yet reaped.
        unsafe { libc::kill(-self.theirs, libc::SIGCONT) };
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        set_foreground(self.fd, self.ours);
    }
}

/// `tcsetpgrp(fd, pgid)` with SIGTTOU blocked (a background process asking for the terminal
/// would otherwise be stopped by it); whether it worked.
fn set_foreground(fd: libc::c_int, pgid: libc::pid_t) -> bool {
    use nix::sys::signal::{SigSet, SigmaskHow, pthread_sigmask};
    let mut ttou = SigSet::empty();
    ttou.add(Signal::SIGTTOU);
    let mut old = SigSet::empty();
    let blocked = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old)).is_ok();
    // SAFETY: tcsetpgrp only changes the terminal's foreground process group.
    let ok = unsafe { libc::tcsetpgrp(fd, pgid) } == 0;
    if blocked {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
    ok
}

/// Why running `program` would take perf's events away from a user who is not root: "PATH is
/// setuid root" (or setgid, or has file capabilities). None when copylab runs as root, or the
/// program is none of these (or cannot be found).
pub fn privileged_program(program: &std::ffi::OsStr) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let euid = nix::unistd::geteuid();
    if euid.is_root() {
        return None;
    }
    let path = find_program(program)?;
    let meta = std::fs::metadata(&path).ok()?;
    let shown = crate::escape::path(&path);
    if meta.mode() & libc::S_ISUID != 0 && meta.uid() != euid.as_raw() {
        let owner = if meta.uid() == 0 {
            "root".to_string()
        } else {
            format!("uid {}", meta.uid())
        };
        return Some(format!("{shown} is setuid {owner}"));
    }
    if meta.mode() & libc::S_ISGID != 0 && meta.gid() != nix::unistd::getegid().as_raw() {
        return Some(format!("{shown} is setgid (gid {})", meta.gid()));
    }
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: both names are NUL-terminated and live for the call; a null buffer of size 0 asks
    // only for the attribute's size.
    let caps = unsafe {
        libc::getxattr(
            c.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    (caps > 0).then(|| format!("{shown} has file capabilities"))
}

/// `program` as exec finds it: a path when it has a `/`, else the first match in `PATH`.
fn find_program(program: &std::ffi::OsStr) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(program);
    if program.as_encoded_bytes().contains(&b'/') {
        return Some(p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(p))
        .find(|c| c.is_file())
}
