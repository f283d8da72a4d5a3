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
use super::call;
use crate::syscall::Syscall;

/// The textbook: msg-zerocopy's pinned pages, with the sends submitted in batches and the
/// completions read from the shared completion ring instead of the error queue.
pub static MODEL: Model = Model {
    steps: &[
        step(Disk, PageCache, Dma, None),
        step(PageCache, UserMapping, Map, Some(call::MMAP)),
        step(UserMapping, SocketBuffer, Pin, Some(call::OP_SEND_ZC)),
        step(SocketBuffer, Nic, Dma, None),
    ],
    per_chunk: &[],
    once: &[call::MMAP],
    per_batch: &[call::IO_URING_ENTER],
};

/// io_uring_enter per batch, more while waiting for notifications: no exact total.
pub fn expected(l: &Layout) -> Expected {
    Expected::depends(
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

impl IoUringSendZc {
    /// Send `src`, then settle what its notifications said: how far the transfer got (or why
    /// it stopped), and the zero-copy counts.
    fn pump(
        &self,
        src: Part<'_>,
        sock: BorrowedFd<'_>,
        ring: &mut Ring,
        calls: &mut Calls,
    ) -> (Result<u64, (u64, StopKind)>, ZeroCopy) {
        let mut sender = ZcTransfer {
            sock,
            ring,
            calls: &mut *calls,
            chunk: self.chunk,
            batch: self.batch as usize,
            next_id: 0,
            owed: Owed::default(),
        };
        let r = sender.pump(src);
        let mut owed = sender.owed;
        let delivered = match &r {
            Ok(_) => None,
            Err((handed, _)) => Some(sys::acknowledged(calls, sock, *handed)),
        };
        owed.ledger.settle(&mut owed.tally, delivered);
        (r, owed.tally)
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
        let (result, zc) = match scratch.ring.as_mut() {
            Some(ring) => self.pump(src, sock, ring, calls),
            None => (
                Err((
                    0,
                    StopKind::Failed {
                        call: Syscall::IoUringSetup,
                        errno: Errno::EBADF,
                    },
                )),
                ZeroCopy::default(),
            ),
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

    /// Count completion `c` and, if it is the result of one of the chain's requests (the first
    /// being `first_id`) not yet seen, put it in `results`: 1 then, else 0.
    fn record(&mut self, c: &Completion, first_id: u64, results: &mut [Option<i32>]) -> usize {
        let Some(r) = self.note(c) else { return 0 };
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
}

/// The kernel refused to pin more memory: ENOBUFS, or ENOMEM from io_uring's locked-memory
/// accounting (RLIMIT_MEMLOCK).
fn pinned_too_much(r: i32) -> bool {
    r == -libc::ENOBUFS || r == -libc::ENOMEM
}

/// One window of the part, mapped: the mapping, where it starts in the part, its length.
struct Span {
    map: super::Window,
    off: u64,
    len: usize,
}

/// One transfer's SEND_ZC requests: the socket they go to, the ring and the calls they are
/// counted in, the bytes each sends, how many one chain carries (halved when the kernel refuses
/// to pin a whole batch at once), the next request's id, and what the transfer is owed.
struct ZcTransfer<'a> {
    sock: BorrowedFd<'a>,
    ring: &'a mut Ring,
    calls: &'a mut Calls,
    chunk: usize,
    batch: usize,
    next_id: u64,
    owed: Owed,
}

impl ZcTransfer<'_> {
    /// Window after window: map it, send it chain by chain, wait for every notification owed,
    /// unmap it. The bytes sent, or how far the transfer got and why it stopped.
    fn pump(&mut self, src: Part<'_>) -> Result<u64, (u64, StopKind)> {
        let len = src.len;
        let mut off = 0u64;
        while off < len {
            let wlen = (len - off).min(MMAP_WINDOW) as usize;
            let w = Span {
                map: map_window(src, off, wlen, self.calls)?,
                off,
                len: wlen,
            };
            self.send_window(src, &w)?;
            // The socket may still hold the mapping's pages until every notification is in.
            while !self.owed.waiting.is_empty() {
                self.wait_notification(off + wlen as u64)?;
            }
            w.map.unmap(self.calls);
            off += wlen as u64;
            src.reached(off);
        }
        Ok(off)
    }

    /// Every byte of the window `w`, one chain after another.
    fn send_window(&mut self, src: Part<'_>, w: &Span) -> Result<(), (u64, StopKind)> {
        let mut pos = 0usize;
        while pos < w.len {
            let at = w.off + pos as u64;
            let first_id = self.next_id;
            let (entries, sizes) = self.chain(w, pos);
            // One chain: a send starts only after the one before it sent everything, so the
            // stream stays in order.
            let k = entries.len();
            // SAFETY: the entries point into `w.map`, which is unmapped only after every
            // notification owed has arrived (in `pump`); on an early return the caller drops
            // the ring, which cancels what is still in flight.
            unsafe { self.ring.push_chain(entries) }.map_err(|errno| {
                (
                    at,
                    StopKind::Failed {
                        call: Syscall::IoUringEnter,
                        errno,
                    },
                )
            })?;
            let results = self.wait_chain(k, first_id, at)?;
            pos = self.settle_chain(w, pos, sizes, results)?;
            src.reached(w.off + pos as u64);
        }
        Ok(())
    }

    /// Up to `batch` sends of `chunk` bytes from `pos` in the window `w`: the entries, and
    /// each one's size.
    fn chain(&mut self, w: &Span, pos: usize) -> (Vec<squeue::Entry>, Vec<usize>) {
        let fd = types::Fd(self.sock.as_raw_fd());
        let mut sizes = Vec::new();
        let mut entries: Vec<squeue::Entry> = Vec::new();
        let mut p = pos;
        while p < w.len && sizes.len() < self.batch {
            let n = (w.len - p).min(self.chunk);
            // SAFETY: p + n <= w.len, inside `w.map` (used only to form the address).
            let ptr = unsafe { w.map.ptr().add(p) };
            let e = opcode::SendZc::new(fd, ptr, n as u32)
                .flags(libc::MSG_WAITALL | libc::MSG_NOSIGNAL)
                .zc_flags(REPORT_USAGE)
                .build()
                .user_data(self.next_id);
            self.next_id += 1;
            self.owed.starts.push(w.off + p as u64);
            sizes.push(n);
            entries.push(e);
            p += n;
        }
        (entries, sizes)
    }

    /// Wait for the `k` results of the chain whose first request is `first_id` (submitted at
    /// file offset `at`). If io_uring_enter fails, count what the chain sent before it
    /// stopped — the results already in, and those of the requests cancelled now (a send
    /// stopped midway reports the bytes it sent) — and stop there.
    fn wait_chain(
        &mut self,
        k: usize,
        first_id: u64,
        at: u64,
    ) -> Result<Vec<Option<i32>>, (u64, StopKind)> {
        let mut results: Vec<Option<i32>> = vec![None; k];
        let mut got = 0usize;
        while got < k {
            if let Err(errno) = self.ring.enter(self.calls, k - got) {
                let mut arrived = self.ring.reap();
                let sends = arrived.iter().filter(|c| !cqueue::notif(c.flags)).count();
                let left = k.saturating_sub(got + sends);
                arrived.extend(
                    self.ring
                        .cancel_and_reap(self.calls, left, |c| !cqueue::notif(c.flags)),
                );
                for c in arrived {
                    self.owed.record(&c, first_id, &mut results);
                }
                let sent: u64 = results
                    .iter()
                    .map_while(|r| r.filter(|r| *r > 0).map(|r| r as u64))
                    .sum();
                return Err((at + sent, sys::classify(Syscall::IoUringEnter, errno)));
            }
            for c in self.ring.reap() {
                got += self.owed.record(&c, first_id, &mut results);
            }
        }
        Ok(results)
    }

    /// Walk a chain's results (of sends of `sizes` bytes from `pos` in `w`) in order: each
    /// send that sent its whole chunk moves on; the first that did not decides what comes
    /// next (a new chain from where it stopped: after waiting, with a smaller batch, or after
    /// a plain write) or ends the transfer. Returns the new `pos`.
    fn settle_chain(
        &mut self,
        w: &Span,
        mut pos: usize,
        sizes: Vec<usize>,
        results: Vec<Option<i32>>,
    ) -> Result<usize, (u64, StopKind)> {
        // A request refused at submission cancels the whole chain: treat it as one refusal.
        let pressure = results.iter().flatten().any(|r| pinned_too_much(*r));
        for (n, r) in sizes.into_iter().zip(results) {
            let at = w.off + pos as u64;
            match r.unwrap_or(-libc::ECANCELED) {
                r if r >= 0 && r as usize == n => pos += n,
                // Sent part of it (e.g. the send timeout passed): the rest goes again.
                r if r >= 0 => return Ok(pos + r as usize),
                r if pinned_too_much(r) || (pressure && r == -libc::ECANCELED) => {
                    return self.refused(w, pos, n);
                }
                r if r == -libc::ECANCELED || r == -libc::EINTR => return Ok(pos),
                r if r == -libc::EAGAIN => {
                    sys::wait_writable(self.calls, self.sock)
                        .map_err(|e| (at, sys::classify(Syscall::Poll, e)))?;
                    return Ok(pos);
                }
                r if r == -libc::EFAULT => return Err((at, StopKind::FileChanged)),
                r => return Err((at, sys::classify(Syscall::Sendto, Errno::from_raw(-r)))),
            }
        }
        Ok(pos)
    }

    /// The kernel refused to pin the `n` bytes at `pos` in `w`: wait for a notification to
    /// free some, else halve the batch, else send them with a plain, copying write. Returns
    /// the new `pos`.
    fn refused(&mut self, w: &Span, pos: usize, n: usize) -> Result<usize, (u64, StopKind)> {
        let at = w.off + pos as u64;
        self.owed.tally.enobufs += 1;
        if !self.owed.waiting.is_empty() {
            self.wait_notification(at)?;
        } else if self.batch > 1 {
            self.batch = (self.batch / 2).max(1);
        } else {
            // SAFETY: pos + n <= w.len, inside `w.map`.
            let ptr = unsafe { w.map.ptr().add(pos) };
            // SAFETY: as above; the kernel reads the bytes.
            unsafe { write_mapped(self.calls, self.sock, ptr, n, at) }?;
            self.owed.tally.plain_fallback += 1;
            return Ok(pos + n);
        }
        Ok(pos)
    }

    /// One `io_uring_enter` waiting for at least one completion (sends are all settled when
    /// this is called, so it is a notification).
    fn wait_notification(&mut self, at: u64) -> Result<(), (u64, StopKind)> {
        self.ring
            .enter(self.calls, 1)
            .map_err(|errno| (at, sys::classify(Syscall::IoUringEnter, errno)))?;
        for c in self.ring.reap() {
            self.owed.note(&c);
        }
        Ok(())
    }
}
