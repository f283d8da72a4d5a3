//! One disabled event on `raw_syscalls:sys_enter` held for the life of the process, and its last
//! close handed to a short-lived child at exit.
//!
//! Closing the last perf event on a tracepoint waits for an RCU grace period (30–50 ms on the
//! machines here). While the keeper is open no counter group's close is ever the last, so serve
//! workers and compare's runs close their groups for free; at exit [`release_at_exit`] forks a
//! child that holds a copy of the keeper and nothing else, so the grace period is waited out by
//! that child after copylab has exited, not by copylab or whoever waits for it.

use std::sync::Mutex;

use perf_event::events::Tracepoint;
use perf_event::{Builder, Counter};

static KEEPER: Mutex<Option<Counter>> = Mutex::new(None);

/// Hold an event on the tracepoint `id` for the rest of the process (once; later calls do
/// nothing). It is never enabled, so it counts nothing and costs no syscall any time.
pub fn hold(id: u64) {
    let mut k = KEEPER.lock().unwrap_or_else(|p| p.into_inner());
    if k.is_some() {
        return;
    }
    let mut b = Builder::new(Tracepoint::with_id(id));
    b.include_kernel().enabled(false);
    // Without a keeper closes are only slower: nothing to report.
    *k = b.build().ok();
}

/// Just before the process exits: fork a child that keeps only the keeper open until this
/// process has exited (its end of a pipe sees end-of-file), then exits and pays the grace period
/// itself. Does nothing when no keeper is held or the fork fails (the exit then waits as before).
pub fn release_at_exit() {
    use std::os::fd::AsRawFd;
    let k = KEEPER.lock().unwrap_or_else(|p| p.into_inner());
    let Some(keeper) = k.as_ref() else { return };
    let keep = keeper.as_raw_fd();
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return;
    }
    let (rd, wr) = (fds[0], fds[1]);
    // SAFETY: the child only makes raw syscalls (close_range, close, read, _exit), which are
    // async-signal-safe, so forking a multi-threaded process is sound; it never returns.
    match unsafe { libc::fork() } {
        0 => {
            // Close everything but the keeper and the pipe's read end: above all stdout and
            // stderr, so nobody reading copylab's output waits for this child.
            let mut keep_fds = [keep, rd];
            keep_fds.sort_unstable();
            let mut lo: libc::c_uint = 0;
            for fd in keep_fds {
                let fd = fd as libc::c_uint;
                if fd > lo {
                    // SAFETY: close_range only closes descriptors of this (child) process.
                    unsafe { libc::syscall(libc::SYS_close_range, lo, fd - 1, 0) };
                }
                lo = fd + 1;
            }
            // SAFETY: as above.
            unsafe { libc::syscall(libc::SYS_close_range, lo, libc::c_uint::MAX, 0) };
            let mut b = [0u8; 1];
            // Returns 0 (end-of-file) once the parent has exited and its write end is closed.
            loop {
                // SAFETY: reading one byte into a one-byte buffer.
                let n = unsafe { libc::read(rd, b.as_mut_ptr().cast(), 1) };
                if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                    break;
                }
            }
            // SAFETY: _exit ends the child at once, closing the keeper: the grace period is its.
            unsafe { libc::_exit(0) }
        }
        -1 => {
            // SAFETY: closing the two descriptors pipe2 just made.
            unsafe {
                libc::close(rd);
                libc::close(wr);
            }
        }
        _ => {
            // The write end stays open until this process exits; the read end is the child's.
            // SAFETY: closing our copy of the read end, which nothing else here uses.
            unsafe { libc::close(rd) };
        }
    }
}
