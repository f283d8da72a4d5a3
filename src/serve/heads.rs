//! HTTP mode: the request heads of every accepted connection, read on one thread with poll
//! before the connection takes a worker. A client trickling its head therefore holds no
//! worker: slow-header clients cannot starve the others, and each is answered 408 at its
//! deadline.

use std::os::fd::AsRawFd;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::waiting::Waiting;
use crate::http::{self, HeadError};
use crate::signals;

/// Connections whose request heads are being read, beyond --max-conns transfers.
pub(super) const MAX_PENDING_HEADS: usize = 1024;

/// A connection whose request head is still arriving.
struct Pending {
    job: Waiting,
    buf: Vec<u8>,
    deadline: Instant,
}

/// Take connections from `incoming`, and hand each to `jobs` with its head (or why there is
/// none) once the head is complete, too large, late, or the client left. Returns when
/// `incoming` is closed and nothing is pending, or when the workers are gone.
pub(super) fn read_heads(incoming: Receiver<Waiting>, jobs: Sender<Waiting>) {
    let mut pending: Vec<Pending> = Vec::new();
    let mut open = true;
    let mut chunk = [0u8; 2048];
    loop {
        open = take_new(&incoming, &mut pending, open);
        if !open && pending.is_empty() {
            return;
        }
        // After Ctrl-C no new request is started: a client still sending its head gets 503
        // now, so the stop is not held up by the head timeout.
        if signals::stop_requested() {
            for mut p in pending.drain(..) {
                p.job.head = Some(Err(HeadError::Stopped));
                if jobs.send(p.job).is_err() {
                    return;
                }
            }
            if !open {
                return;
            }
        }
        if pending.is_empty() {
            continue;
        }
        for (i, head) in read_ready(&mut pending, &mut chunk).into_iter().rev() {
            let mut p = pending.remove(i);
            p.job.head = Some(head);
            if jobs.send(p.job).is_err() {
                return;
            }
        }
    }
}

/// Move newly accepted connections into `pending`, waiting briefly when there is nothing else
/// to do; returns whether `incoming` is still open.
fn take_new(incoming: &Receiver<Waiting>, pending: &mut Vec<Pending>, mut open: bool) -> bool {
    loop {
        let next = if pending.is_empty() && open {
            incoming
                .recv_timeout(Duration::from_millis(100))
                .map_err(|e| matches!(e, RecvTimeoutError::Disconnected))
        } else {
            incoming
                .try_recv()
                .map_err(|e| matches!(e, TryRecvError::Disconnected))
        };
        match next {
            Ok(job) => pending.push(Pending {
                job,
                buf: Vec::new(),
                deadline: Instant::now() + http::HEAD_TIMEOUT,
            }),
            Err(true) => {
                open = false;
                return open;
            }
            Err(false) => return open,
        }
    }
}

/// Poll the pending connections briefly, read what arrived, and say which are finished (by
/// index, ascending) and how.
fn read_ready(
    pending: &mut [Pending],
    chunk: &mut [u8],
) -> Vec<(usize, Result<Vec<u8>, HeadError>)> {
    let mut fds: Vec<PollFd> = pending
        .iter()
        .map(|p| PollFd::new(p.job.conn.fd(), PollFlags::POLLIN))
        .collect();
    let _ = poll(&mut fds, PollTimeout::from(50u16));
    let ready: Vec<bool> = fds
        .iter()
        .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
        .collect();
    drop(fds);
    let now = Instant::now();
    let mut finished = Vec::new();
    for (i, p) in pending.iter_mut().enumerate() {
        let mut done = if ready[i] { read_some(p, chunk) } else { None };
        if done.is_none() && now >= p.deadline {
            done = Some(Err(HeadError::Timeout));
        }
        if let Some(head) = done {
            finished.push((i, head));
        }
    }
    finished
}

/// One non-blocking read of a ready connection: the head if it is now complete (or why it
/// never will be), else nothing yet.
fn read_some(p: &mut Pending, chunk: &mut [u8]) -> Option<Result<Vec<u8>, HeadError>> {
    // SAFETY: `chunk` is a live, writable buffer of the length passed.
    let n = unsafe {
        libc::recv(
            p.job.conn.fd().as_raw_fd(),
            chunk.as_mut_ptr().cast(),
            chunk.len(),
            libc::MSG_DONTWAIT,
        )
    };
    match nix::errno::Errno::result(n) {
        Ok(0) => Some(Err(HeadError::Closed(p.buf.len()))),
        Ok(n) => {
            p.buf.extend_from_slice(&chunk[..n as usize]);
            http::take_head(&mut p.buf)
        }
        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => None,
        Err(e) => Some(Err(HeadError::Io(e))),
    }
}
