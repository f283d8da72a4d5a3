//! Ctrl-C for long-running commands: the first SIGINT (or SIGTERM) asks for a graceful stop,
//! which the command polls for; a second one exits at once with status 130.

use std::sync::atomic::{AtomicU32, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static HITS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    // Only async-signal-safe work here: an atomic add and _exit.
    if HITS.fetch_add(1, Ordering::SeqCst) >= 1 {
        // SAFETY: _exit is async-signal-safe and ends the process without running anything else.
        unsafe { libc::_exit(130) };
    }
}

/// Install the handler for SIGINT and SIGTERM (without SA_RESTART, so blocking calls return
/// EINTR and loops get to look at [`stop_requested`]).
pub fn install() -> anyhow::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only touches an atomic and calls _exit (async-signal-safe), and
        // no other code in copylab installs handlers for these signals.
        unsafe { sigaction(sig, &action) }?;
    }
    Ok(())
}

/// A stop was asked for (Ctrl-C or SIGTERM once).
pub fn stop_requested() -> bool {
    HITS.load(Ordering::SeqCst) > 0
}
