//! io-uring-send-zc: map the file and send it with `IORING_OP_SEND_ZC`, a batch of linked sends
//! per `io_uring_enter`. Each send completes twice: first its result (bytes sent), then — once
//! the socket has let go of the pages — a notification, which says (with
//! `IORING_SEND_ZC_REPORT_USAGE`) whether the kernel copied after all. A mapping range is
//! unmapped only after every notification for it has arrived.

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{AsRawFd, BorrowedFd};

use io_uring::{cqueue, opcode, squeue, types};
use nix::errno::Errno;

use super::ring::{Completion, Ring};
use super::{
    Expected, Layout, MMAP_WINDOW, Method, MethodKind, Model, Path, Scratch, map_window, step,
    write_mapped,
};
use crate::size::fmt_bytes;
use crate::source::Part;
use crate::sys::{self, Calls, Ledger, SendError, StopKind, ZeroCopy};

use super::Place::*;
use super::StepKind::*;

/// The textbook: msg-zerocopy's pinned pages, with the sends submitted in batches and the
/// completions read from the shared completion ring instead of the error queue.
pub static MODEL: Model = Model {
    steps: &[
        step(Disk, PageCache, Dma, None),
        step(PageCache, UserMapping, Map, Some("mmap")),
        step(UserMapping, SocketBuffer, Pin, Some("IORING_OP_SEND_ZC")),
        step(SocketBuffer, Nic, Dma, None),
    ],
    per_chunk: &[],
    once: &["mmap"],
    per_batch: &["io_uring_enter"],
};

/// io_uring_enter per batch, more while waiting for notifications: no exact total.
pub fn expected(l: &Layout) -> Expected {
    Expected::new(
        None,
        format!(
            "io_uring_enter per batch of up to {} linked sends, more while waiting for notifications; mmap + munmap per window.",
            l.batch
        ),
        l.bytes.div_ceil(l.buffer_bytes.max(1)),
    )
}

/// This path's entry in the registry (`method/mod.rs`): everything the rest of copylab asks of it.
pub static PATH: Path = Path {
    kind: MethodKind::IoUringSendZc,
    name: "io-uring-send-zc",
    model: &MODEL,
    expected,
    availability: |t| super::ring::availability(MethodKind::IoUringSendZc, t),
    build: |cfg| Ok(Box::new(IoUringSendZc::new(cfg.buffer, cfg.batch))),
    doctor_ok: Some("io_uring_setup works, IORING_OP_SEND_ZC supported (TCP only)"),
    sources: &[
        "io_uring/net.c: io_send_zc, io_send_zc_prep (IORING_SEND_ZC_REPORT_USAGE)",
        "net/core/skbuff.c: skb_copy_ubufs (loopback copies the pinned pages)",
    ],
};

/// `sqe->ioprio` flag asking the notification to report whether the data was copied
/// (`IORING_SEND_ZC_REPORT_USAGE`, linux/io_uring.h).
const REPORT_USAGE: u16 = 1 << 3;
/// Bit of a notification's result: the kernel copied the data (`IORING_NOTIF_USAGE_ZC_COPIED`).
const USAGE_ZC_COPIED: u32 = 1 << 31;

/// `IORING_OP_SEND_ZC` of `chunk` bytes per request, `batch` requests per `io_uring_enter`.
pub struct IoUringSendZc {
    chunk: usize,
    batch: u32,
}

impl IoUringSendZc {
    pub fn new(chunk: usize, batch: u32) -> IoUringSendZc {
        IoUringSendZc {
            chunk,
            batch: batch.max(1),
        }
    }
}

impl Method for IoUringSendZc {
    fn kind(&self) -> MethodKind {
        MethodKind::IoUringSendZc
    }

    fn prepare(&self, scratch: &mut Scratch) -> anyhow::Result<()> {
        Ring::ensure(scratch, self.batch)
    }

    fn setup_notes(&self) -> Vec<String> {
        vec![format!(
            "{} per IORING_OP_SEND_ZC from the mapping; {} send{} (linked) per io_uring_enter",
            fmt_bytes(self.chunk as u64),
            self.batch,
            if self.batch == 1 { "" } else { "s" }
        )]
    }

    fn offloads_to_workers(&self) -> bool {
        true
    }

    fn send(
        &self,
        src: Part<'_>,
        sock: BorrowedFd<'_>,
        scratch: &mut Scratch,
        calls: &mut Calls,
    ) -> Result<u64, SendError> {
        let mut zc = ZeroCopy::default();
        let result = match scratch.ring.as_mut() {
            Some(ring) => pump(src, sock, ring, self.chunk, self.batch, &mut zc, calls),
            None => Err((
                0,
                StopKind::Failed {
                    call: "io_uring_setup",
                    errno: Errno::EBADF,
                },
            )),
        };
        calls.zerocopy = Some(zc);
        if result.is_err() {
            // Requests may still be in flight: dropping the ring cancels them.
            scratch.ring = None;
        }
        result.map_err(|(sent, kind)| SendError {
            sent,
            expected: src.len,
            kind,
        })
    }
}

/// The notifications a transfer is owed, by request (`user_data`: 0, 1, 2, … within a transfer).
#[derive(Default)]
struct Owed {
    /// Live counts; `completed` and `copied` are settled from `ledger` at the end.
    tally: ZeroCopy,
    ledger: Ledger,
    /// Where each request's bytes start in the transfer, by `user_data`.
    starts: Vec<u64>,
    /// Requests whose result said a notification follows (`IORING_CQE_F_MORE`).
    waiting: BTreeSet<u64>,
    /// Of those, the ones that sent bytes, with their place in `ledger`: the zero-copy sends
    /// whose notification is counted.
    sent: BTreeMap<u64, usize>,
}

impl Owed {
    /// Count a completion: a notification settles its request; a result says whether one is
    /// owed. Returns the result of a send (None for a notification). Only requests that sent
    /// bytes count as sends; a notification for one that failed (the kernel may post one even
    /// without IORING_CQE_F_MORE) settles it and counts for nothing.
    fn note(&mut self, c: &Completion) -> Option<i32> {
        if cqueue::notif(c.flags) {
            self.waiting.remove(&c.user_data);
            if let Some(i) = self.sent.remove(&c.user_data) {
                let copied = c.result as u32 & USAGE_ZC_COPIED != 0;
                self.tally.completed += 1;
                if copied {
                    self.tally.copied += 1;
                }
                self.ledger.completed(i, copied);
            }
            return None;
        }
        if cqueue::more(c.flags) {
            // Owed even by a request that failed (e.g. cancelled): wait for it all the same.
            self.waiting.insert(c.user_data);
            if c.result > 0 {
                let start = usize::try_from(c.user_data)
                    .ok()
                    .and_then(|i| self.starts.get(i))
                    .copied()
                    .unwrap_or(0);
                let i = self.ledger.sent(start + c.result as u64);
                self.sent.insert(c.user_data, i);
                self.tally.sends += 1;
            }
        }
        Some(c.result)
    }
}

/// The kernel refused to pin more memory: ENOBUFS, or ENOMEM from io_uring's locked-memory
/// accounting (RLIMIT_MEMLOCK).
fn pinned_too_much(r: i32) -> bool {
    r == -libc::ENOBUFS || r == -libc::ENOMEM
}

fn pump(
    src: Part<'_>,
    sock: BorrowedFd<'_>,
    ring: &mut Ring,
    chunk: usize,
    batch: u32,
    zc: &mut ZeroCopy,
    calls: &mut Calls,
) -> Result<u64, (u64, StopKind)> {
    let mut owed = Owed::default();
    let r = pump_windows(src, sock, ring, chunk, batch, &mut owed, calls);
    let delivered = match &r {
        Ok(_) => None,
        Err((handed, _)) => Some(sys::acknowledged(calls, sock, *handed)),
    };
    owed.ledger.settle(&mut owed.tally, delivered);
    *zc = owed.tally;
    r
}

/// Builds one chain of SEND_ZC requests over a mapped window.
struct Chain<'a> {
    fd: types::Fd,
    next_id: &'a mut u64,
    owed: &'a mut Owed,
}

impl Chain<'_> {
    /// Up to `batch` sends of `chunk` bytes from `pos` in the window `map` (at file offset
    /// `off`, `wlen` bytes long): the entries, and each one's size.
    fn build(
        &mut self,
        map: &super::Window,
        off: u64,
        pos: usize,
        wlen: usize,
        chunk: usize,
        batch: usize,
    ) -> (Vec<squeue::Entry>, Vec<usize>) {
        let mut sizes = Vec::new();
        let mut entries: Vec<squeue::Entry> = Vec::new();
        let mut p = pos;
        while p < wlen && sizes.len() < batch {
            let n = (wlen - p).min(chunk);
            // SAFETY: p + n <= wlen, inside `map` (used only to form the address).
            let ptr = unsafe { map.ptr().add(p) };
            let e = opcode::SendZc::new(self.fd, ptr, n as u32)
                .flags(libc::MSG_WAITALL | libc::MSG_NOSIGNAL)
                .zc_flags(REPORT_USAGE)
                .build()
                .user_data(*self.next_id);
            *self.next_id += 1;
            self.owed.starts.push(off + p as u64);
            sizes.push(n);
            entries.push(e);
            p += n;
        }
        (entries, sizes)
    }
}

/// Wait for the `k` results of the chain whose first request is `first_id` (submitted at file
/// offset `at`). If io_uring_enter fails, count what the chain sent before it stopped — the
/// results already in, and those of the requests cancelled now (a send stopped midway reports
/// the bytes it sent) — and stop there.
fn wait_chain(
    ring: &mut Ring,
    owed: &mut Owed,
    calls: &mut Calls,
    k: usize,
    first_id: u64,
    at: u64,
) -> Result<Vec<Option<i32>>, (u64, StopKind)> {
    let mut results: Vec<Option<i32>> = vec![None; k];
    let mut got = 0usize;
    while got < k {
        if let Err(errno) = ring.enter(calls, k - got) {
            let mut arrived = ring.reap();
            let left =
                k.saturating_sub(got + arrived.iter().filter(|c| !cqueue::notif(c.flags)).count());
            arrived.extend(ring.cancel_and_reap(calls, left, |c| !cqueue::notif(c.flags)));
            for c in arrived {
                record(owed, &c, first_id, &mut results);
            }
            let sent: u64 = results
                .iter()
                .map_while(|r| r.filter(|r| *r > 0).map(|r| r as u64))
                .sum();
            return Err((at + sent, sys::classify("io_uring_enter", errno)));
        }
        for c in ring.reap() {
            got += record(owed, &c, first_id, &mut results);
        }
    }
    Ok(results)
}

fn pump_windows(
    src: Part<'_>,
    sock: BorrowedFd<'_>,
    ring: &mut Ring,
    chunk: usize,
    batch: u32,
    owed: &mut Owed,
    calls: &mut Calls,
) -> Result<u64, (u64, StopKind)> {
    let len = src.len;
    let fd = types::Fd(sock.as_raw_fd());
    let mut next_id = 0u64;
    // Shrinks when the kernel refuses to pin a whole batch at once.
    let mut batch_now = batch as usize;
    let mut off = 0u64;
    while off < len {
        let wlen = (len - off).min(MMAP_WINDOW) as usize;
        let map = map_window(src, off, wlen, calls)?;
        let mut pos = 0usize;
        while pos < wlen {
            let at = off + pos as u64;
            let first_id = next_id;
            let (entries, sizes) = {
                let mut chain = Chain {
                    fd,
                    next_id: &mut next_id,
                    owed,
                };
                chain.build(&map, off, pos, wlen, chunk, batch_now)
            };
            // One chain: a send starts only after the one before it sent everything, so the
            // stream stays in order.
            let k = entries.len();
            // SAFETY: the entries point into `map`, which is unmapped only after every
            // notification owed has arrived (below); on an early return the caller drops the
            // ring, which cancels what is still in flight.
            unsafe { ring.push_chain(entries) }.map_err(|errno| {
                (
                    at,
                    StopKind::Failed {
                        call: "io_uring_enter",
                        errno,
                    },
                )
            })?;
            let results = wait_chain(ring, owed, calls, k, first_id, at)?;
            // A request refused at submission cancels the whole chain: treat it as one refusal.
            let pressure = results.iter().flatten().any(|r| pinned_too_much(*r));
            for (n, r) in sizes.into_iter().zip(results) {
                let at = off + pos as u64;
                match r.unwrap_or(-libc::ECANCELED) {
                    r if r >= 0 && r as usize == n => pos += n,
                    // Sent part of it (e.g. the send timeout passed): the rest goes again.
                    r if r >= 0 => {
                        pos += r as usize;
                        break;
                    }
                    r if pinned_too_much(r) || (pressure && r == -libc::ECANCELED) => {
                        owed.tally.enobufs += 1;
                        if !owed.waiting.is_empty() {
                            wait_notification(ring, owed, calls, at)?;
                        } else if batch_now > 1 {
                            batch_now = (batch_now / 2).max(1);
                        } else {
                            // SAFETY: pos + n <= wlen, inside `map`.
                            let ptr = unsafe { map.ptr().add(pos) };
                            // SAFETY: as above; the kernel reads the bytes.
                            unsafe { write_mapped(calls, sock, ptr, n, at) }?;
                            owed.tally.plain_fallback += 1;
                            pos += n;
                        }
                        break;
                    }
                    r if r == -libc::ECANCELED || r == -libc::EINTR => break,
                    r if r == -libc::EAGAIN => {
                        sys::wait_writable(calls, sock)
                            .map_err(|e| (at, sys::classify("poll", e)))?;
                        break;
                    }
                    r if r == -libc::EFAULT => return Err((at, StopKind::FileChanged)),
                    r => return Err((at, sys::classify("sendto", Errno::from_raw(-r)))),
                }
            }
            src.reached(off + pos as u64);
        }
        // The socket may still hold the mapping's pages until every notification is in.
        while !owed.waiting.is_empty() {
            wait_notification(ring, owed, calls, off + pos as u64)?;
        }
        map.unmap(calls);
        off += wlen as u64;
        src.reached(off);
    }
    Ok(off)
}

/// Count completion `c` and, if it is the result of one of this chain's requests (the first
/// being `first_id`) not yet seen, put it in `results`: 1 then, else 0.
fn record(owed: &mut Owed, c: &Completion, first_id: u64, results: &mut [Option<i32>]) -> usize {
    let Some(r) = owed.note(c) else { return 0 };
    match c
        .user_data
        .checked_sub(first_id)
        .and_then(|i| results.get_mut(usize::try_from(i).ok()?))
    {
        Some(slot) if slot.is_none() => {
            *slot = Some(r);
            1
        }
        _ => 0,
    }
}

/// One `io_uring_enter` waiting for at least one completion (sends are all settled when this
/// is called, so it is a notification).
fn wait_notification(
    ring: &mut Ring,
    owed: &mut Owed,
    calls: &mut Calls,
    at: u64,
) -> Result<(), (u64, StopKind)> {
    ring.enter(calls, 1)
        .map_err(|errno| (at, sys::classify("io_uring_enter", errno)))?;
    for c in ring.reap() {
        owed.note(&c);
    }
    Ok(())
}
