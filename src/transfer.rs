//! One measured transfer: counters switched on just before a method's first send call and off
//! right after its last, on the calling thread, and nothing else inside that window. Shared by
//! `compare` and `serve` so both measure exactly the same thing.

use std::os::fd::BorrowedFd;
use std::time::Instant;

use anyhow::Result;

use crate::counters::Counters;
use crate::method::{Method, Scratch};
use crate::results::{Cost, IoWorkers};
use crate::source::Source;
use crate::sys::{self, Calls, SendError};

/// What happened inside the window.
pub struct Measured {
    /// Body bytes sent, or how far the transfer got and why it stopped.
    pub sent: Result<u64, SendError>,
    /// What the window cost the calling thread.
    pub cost: Cost,
    /// Just before the first send call.
    pub started: Instant,
    /// Just after the last send call returned (the peer may still be receiving).
    pub finished: Instant,
}

/// Send `head` (e.g. an HTTP response head; may be empty), then, with `body`, the whole of
/// `src` with `method`, counting around both.
pub fn send_measured(
    method: &dyn Method,
    src: &Source,
    sock: BorrowedFd<'_>,
    head: &[u8],
    body: bool,
    scratch: &mut Scratch,
    counters: &mut Counters,
) -> Result<Measured> {
    let mut calls = Calls::default();
    method.prepare_socket(sock)?;
    let tid = nix::unistd::gettid().as_raw();
    let workers_before = method
        .offloads_to_workers()
        .then(|| crate::method::worker_times(tid));
    counters.start()?;
    let started = Instant::now();
    let sent = match sys::write_all(&mut calls, sock, head) {
        Ok(()) if body => method.send(src, sock, scratch, &mut calls),
        Ok(()) => Ok(0),
        Err((_, errno)) => Err(SendError {
            sent: 0,
            expected: src.len,
            kind: sys::classify("write", errno),
        }),
    };
    let finished = Instant::now();
    let reading = counters.stop()?;
    let io_workers = workers_before.map(|before| {
        let after = crate::method::worker_times(tid);
        let mut w = IoWorkers {
            cpu_ns: 0,
            threads: 0,
        };
        for (worker, ns) in after {
            let ran = ns.saturating_sub(before.get(&worker).copied().unwrap_or(0));
            if ran > 0 {
                w.cpu_ns += ran;
                w.threads += 1;
            }
        }
        w
    });
    Ok(Measured {
        sent,
        cost: Cost::new(&reading, &calls, io_workers),
        started,
        finished,
    })
}
