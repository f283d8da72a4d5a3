//! Ctrl-C for long-running commands: the first terminating signal a terminal or a supervisor
//! sends (SIGINT, SIGTERM, SIGHUP, SIGQUIT) asks for a graceful stop, which the command polls
//! for; a second one exits at once with status 130 — except while `trace` runs a command in a
//! process group of its own ([`follow_group`]): then the second signal kills that group
//! (SIGKILL) and `trace` still reports, and only a third exits at once. SIGPIPE is not one of
//! them: it is ignored and EPIPE reported where it happens.

use std::ffi::CString;
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static HITS: AtomicU32 = AtomicU32::new(0);
/// The first stop signal's number (0 until one came).
static FIRST: AtomicI32 = AtomicI32::new(0);
/// The process group of the command `trace` runs (0: none): killed at the second signal.
static GROUP: AtomicI32 = AtomicI32::new(0);
static STATUS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_status(_: libc::c_int) {
    STATUS.store(true, Ordering::SeqCst);
}

/// Ask for a status line on SIGUSR1 (like dd). The handler only sets a flag; the command prints
/// when it next looks ([`status_requested`]). Installed without SA_RESTART, so every syscall
/// copylab makes must survive EINTR: the signal doubles as a test of that.
pub fn install_status() -> anyhow::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_status),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic; nothing else in copylab handles SIGUSR1.
    unsafe { sigaction(Signal::SIGUSR1, &action) }?;
    Ok(())
}

/// A status line was asked for since the last call.
pub fn status_requested() -> bool {
    STATUS.swap(false, Ordering::SeqCst)
}
/// A path to unlink if the process is ended by a second signal (a Unix socket being served).
static CLEANUP: OnceLock<CString> = OnceLock::new();

/// Network namespace names (`/run/netns/…`) and their marks to remove if a second signal ends
/// the process — while [`NETNS_ARMED`] says this process's namespaces exist.
static NETNS: OnceLock<Vec<CString>> = OnceLock::new();
static NETNS_ARMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    // Only async-signal-safe work here: atomics, kill, unlink, umount2 and _exit.
    let _ = FIRST.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    let earlier = HITS.fetch_add(1, Ordering::SeqCst);
    if earlier >= 1 {
        let group = GROUP.load(Ordering::SeqCst);
        if group > 0 {
            // SAFETY: kill is async-signal-safe; a negative pid names the process group.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            if earlier == 1 {
                // The second signal: the command is gone; trace reports and exits 130.
                return;
            }
        }
        if let Some(path) = CLEANUP.get() {
            // SAFETY: unlink is async-signal-safe; the CString lives for the whole process.
            unsafe { libc::unlink(path.as_ptr()) };
        }
        // Set once and never changed: reading it allocates nothing. Armed only while this
        // process's namespaces exist, so a name someone else made later is never touched.
        if NETNS_ARMED.load(Ordering::SeqCst) {
            for path in NETNS.get().into_iter().flatten() {
                detach_and_unlink(path);
            }
        }
        // SAFETY: _exit is async-signal-safe and ends the process without running anything else.
        unsafe { libc::_exit(130) };
    }
}

/// Remove `path` if a second signal ends the process before normal clean-up runs.
pub fn unlink_on_abort(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    if let Ok(c) = CString::new(path.as_os_str().as_bytes()) {
        let _ = CLEANUP.set(c);
    }
}

/// Remove a network namespace's name as `ip netns del` does: detach the bind mount at `path`,
/// then unlink it. Async-signal-safe (the handler uses it); failing (not mounted, not there)
/// changes nothing.
pub fn detach_and_unlink(path: &std::ffi::CStr) {
    // SAFETY: umount2 and unlink take a NUL-terminated path that lives for the call; both are
    // async-signal-safe.
    unsafe {
        libc::umount2(path.as_ptr(), libc::MNT_DETACH);
        libc::unlink(path.as_ptr());
    }
}

/// Remove these network namespace names (`/run/netns/…`) and their marks if a second signal
/// ends the process before normal clean-up runs; the namespaces, and the veth pair between
/// them, go with their names once the process is gone. The first call's paths are kept (they
/// are per process). Call it once the namespaces exist: it arms the removal.
pub fn remove_netns_on_abort(paths: &[String]) {
    let c: Vec<CString> = paths
        .iter()
        .filter_map(|p| CString::new(p.as_bytes()).ok())
        .collect();
    let _ = NETNS.set(c);
    NETNS_ARMED.store(true, Ordering::SeqCst);
}

/// The namespaces registered with [`remove_netns_on_abort`] are gone: a second signal must
/// not remove anything by those names any more.
pub fn netns_removed() {
    NETNS_ARMED.store(false, Ordering::SeqCst);
}

/// The error a command returns when Ctrl-C cut it short; `main` exits 130 for it.
#[derive(Debug)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Install the handler for SIGINT, SIGTERM, SIGHUP and SIGQUIT (without SA_RESTART, so
/// blocking calls return EINTR and loops get to look at [`stop_requested`]): a closed terminal
/// or a supervisor's stop cleans up exactly like Ctrl-C.
pub fn install() -> anyhow::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        // SAFETY: the handler only touches an atomic and calls _exit (async-signal-safe), and
        // no other code in copylab installs handlers for these signals.
        unsafe { sigaction(sig, &action) }?;
    }
    Ok(())
}

/// A stop was asked for (Ctrl-C, SIGTERM, SIGHUP or SIGQUIT once).
pub fn stop_requested() -> bool {
    HITS.load(Ordering::SeqCst) > 0
}

/// How many stop signals came so far.
pub fn stops() -> u32 {
    HITS.load(Ordering::SeqCst)
}

/// The first stop signal that came (SIGINT, SIGTERM, SIGHUP or SIGQUIT), if one did.
pub fn first_stop() -> Option<libc::c_int> {
    match FIRST.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// While a command runs in process group `pgid`: a second stop signal kills the whole group
/// (SIGKILL) instead of exiting, so its runner can still report; a third exits at once.
pub fn follow_group(pgid: libc::pid_t) {
    GROUP.store(pgid, Ordering::SeqCst);
}

/// The group is about to be reaped (or is gone): never signal its number again.
pub fn forget_group() {
    GROUP.store(0, Ordering::SeqCst);
}
