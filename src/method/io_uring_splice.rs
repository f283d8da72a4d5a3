//! io-uring-splice: splice's file → pipe → socket, submitted through an io_uring. Each chunk is
//! a linked pair of `IORING_OP_SPLICE` entries (file → pipe, then pipe → socket), and a batch of
//! chunks is one linked chain handed to the kernel by a single `io_uring_enter`: the syscall
//! column shrinks by the batch size. The kernel runs splice requests on its io-wq worker threads
//! (they cannot be attempted without blocking), so the copying work leaves the serving thread —
//! copylab measures the workers' CPU separately.

use std::os::fd::{AsRawFd, BorrowedFd};

use io_uring::{opcode, squeue, types};
use nix::errno::Errno;

use super::ring::{Completion, Ring};
use super::splice::{Pipe, PipeSpec};
use super::{Expected, Layout, Method, MethodKind, Model, Path, Scratch, step};
use crate::size::fmt_bytes;
use crate::source::Part;
use crate::sys::{self, Calls, SendError, StopKind};

use super::Place::*;
use super::StepKind::*;
use super::call;
use crate::syscall::Syscall;

/// The textbook: splice's path, with the two splices per chunk submitted in batches through
/// shared rings instead of one syscall each.
pub static MODEL: Model = Model {
    steps: &[
        step(Disk, PageCache, Dma, Some(call::OP_SPLICE)),
        step(PageCache, Pipe, Reference, Some(call::OP_SPLICE)),
        step(Pipe, SocketBuffer, CpuUnlessSg, Some(call::OP_SPLICE)),
        step(SocketBuffer, Nic, Dma, None),
    ],
    per_chunk: &[],
    once: &[],
    per_batch: &[call::IO_URING_ENTER],
};

/// io_uring_enter per batch, more when a link comes back short: no exact total.
pub fn expected(l: &Layout) -> Expected {
    Expected::depends(
        format!(
            "io_uring_enter per batch of up to {} chunks, each a linked splice pair.",
            l.batch
        ),
        l.pipe_bytes.map_or(0, |p| l.bytes.div_ceil(p.max(1))),
    )
}

/// This path's entry in the registry (`method/mod.rs`): everything the rest of copylab asks of it.
pub static PATH: Path = Path {
    kind: MethodKind::IoUringSplice,
    name: "io-uring-splice",
    model: &MODEL,
    expected,
    availability: |t| super::ring::availability(MethodKind::IoUringSplice, t),
    build: |cfg| Ok(Box::new(IoUringSplice::new(cfg.pipe_size, cfg.batch)?)),
    doctor_ok: Some("io_uring_setup works, IORING_OP_SPLICE supported"),
    sources: &[
        "io_uring/splice.c: io_splice (-EAGAIN on the inline attempt, so io-wq runs it)",
        "fs/splice.c: splice_to_socket",
    ],
};

/// Linked splice pairs, `batch` chunks per `io_uring_enter`.
pub struct IoUringSplice {
    pipe: PipeSpec,
    batch: u32,
}

impl IoUringSplice {
    pub fn new(requested: usize, batch: u32) -> anyhow::Result<IoUringSplice> {
        Ok(IoUringSplice {
            pipe: PipeSpec::probe(requested)?,
            batch: batch.max(1),
        })
    }
}

impl Method for IoUringSplice {
    fn kind(&self) -> MethodKind {
        MethodKind::IoUringSplice
    }

    fn prepare(&self, scratch: &mut Scratch) -> anyhow::Result<()> {
        self.pipe.ensure(scratch)?;
        // Two entries per chunk: file → pipe, pipe → socket.
        Ring::ensure(scratch, 2 * self.batch)
    }

    fn granted_pipe_bytes(&self) -> Option<u64> {
        Some(self.pipe.granted as u64)
    }

    fn setup_notes(&self) -> Vec<String> {
        vec![format!(
            "pipe {} granted; {} chunk{} (linked splice pairs) per io_uring_enter",
            fmt_bytes(self.pipe.granted as u64),
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
        let len = src.len;
        let result = match (scratch.pipe.as_ref(), scratch.ring.as_mut()) {
            (Some(pipe), Some(ring)) => Pump {
                src,
                sock,
                pipe: self.pipe.ends(pipe),
                batch: self.batch,
            }
            .run(ring, calls),
            _ => Err((
                0,
                StopKind::Failed {
                    call: Syscall::IoUringSetup,
                    errno: Errno::EBADF,
                },
            )),
        };
        if result.is_err() {
            // Requests may still be in flight and bytes left in the pipe: dropping the ring
            // cancels the requests, and the pipe is spoiled.
            scratch.ring = None;
            PipeSpec::spoil(scratch, calls);
        }
        result.map_err(|(sent, kind)| SendError {
            sent,
            expected: len,
            kind,
        })
    }
}

/// What one entry of a chain is.
const IN: u64 = 0;
const OUT: u64 = 1;

/// One transfer's chains: the part of the file, the pipe and the socket they name, and how
/// many chunks one chain carries.
struct Pump<'a> {
    src: Part<'a>,
    sock: BorrowedFd<'a>,
    pipe: Pipe<'a>,
    batch: u32,
}

impl Pump<'_> {
    /// Chain after chain until the socket took every byte; Err with the bytes it took and why
    /// it stopped.
    fn run(&self, ring: &mut Ring, calls: &mut Calls) -> Result<u64, (u64, StopKind)> {
        let mut progress = Progress {
            file_off: 0, // next byte of the part to splice into the pipe
            sent: 0,     // bytes the socket took
            wait_for_socket: false,
            stop: None,
        };
        while progress.sent < self.src.len {
            let entries = self.chain(progress.file_off, progress.sent);
            let want = entries.len();
            // One chain: each entry starts only after the one before it completed in full.
            // SAFETY: the entries name the file, the pipe and the socket, all open until this
            // function returns; on an early return the caller drops the ring, cancelling them.
            unsafe { ring.push_chain(entries) }.map_err(|errno| {
                (
                    progress.sent,
                    StopKind::Failed {
                        call: Syscall::IoUringEnter,
                        errno,
                    },
                )
            })?;
            progress.wait_for_socket = false;
            wait_chain(ring, calls, want, &mut progress)?;
            if let Some(kind) = progress.stop {
                return Err((progress.sent, kind));
            }
            self.src.reached(progress.sent);
            if progress.wait_for_socket {
                // The socket's send timeout passed without progress (SO_SNDTIMEO in the worker).
                sys::wait_writable(calls, self.sock)
                    .map_err(|errno| (progress.sent, sys::classify(Syscall::Poll, errno)))?;
            }
        }
        Ok(progress.sent)
    }

    /// The next chain, the file spliced into the pipe up to `file_off` and `sent` bytes taken
    /// by the socket: the bytes left in the pipe alone, moved on (a chain broke after a short
    /// send), else up to `batch` chunks, each file → pipe then pipe → socket.
    fn chain(&self, file_off: u64, sent: u64) -> Vec<squeue::Entry> {
        let len = self.src.len;
        let file = types::Fd(self.src.file.as_raw_fd());
        let (pr, pw, out) = (
            types::Fd(self.pipe.read.as_raw_fd()),
            types::Fd(self.pipe.write.as_raw_fd()),
            types::Fd(self.sock.as_raw_fd()),
        );
        let more = |end: u64| {
            if end < len { libc::SPLICE_F_MORE } else { 0 }
        };
        let in_pipe = (file_off - sent) as usize;
        if in_pipe > 0 {
            return vec![
                opcode::Splice::new(pr, -1, out, -1, in_pipe as u32)
                    .flags(more(file_off))
                    .build()
                    .user_data(OUT),
            ];
        }
        let mut entries = Vec::new();
        let mut at = file_off;
        for _ in 0..self.batch {
            if at >= len {
                break;
            }
            let n = (len - at).min(self.pipe.capacity as u64);
            entries.push(
                opcode::Splice::new(file, self.src.at(at) as i64, pw, -1, n as u32)
                    .build()
                    .user_data(IN),
            );
            entries.push(
                opcode::Splice::new(pr, -1, out, -1, n as u32)
                    .flags(more(at + n))
                    .build()
                    .user_data(OUT),
            );
            at += n;
        }
        entries
    }
}

/// Wait for the `want` completions of the chain just submitted, settling each into
/// `progress`. Completions of a chain arrive in order (each link starts after the one before
/// it), and each is counted as it arrives, so a chain cut short by the send timeout or an
/// error still reports every byte the socket took. If io_uring_enter fails, count what
/// arrived and what cancelling the rest returns, and stop there.
fn wait_chain(
    ring: &mut Ring,
    calls: &mut Calls,
    want: usize,
    progress: &mut Progress,
) -> Result<(), (u64, StopKind)> {
    let mut got = 0usize;
    while got < want {
        if let Err(errno) = ring.enter(calls, want - got) {
            let mut arrived = ring.reap();
            got += arrived.len();
            arrived.extend(ring.cancel_and_reap(calls, want.saturating_sub(got), |_| true));
            for c in arrived {
                progress.settle(&c);
            }
            let kind = progress
                .stop
                .take()
                .unwrap_or_else(|| sys::classify(Syscall::IoUringEnter, errno));
            return Err((progress.sent, kind));
        }
        for c in ring.reap() {
            got += 1;
            progress.settle(&c);
        }
    }
    Ok(())
}

/// Where one chain got: the file bytes in the pipe, the bytes the socket took, and the first
/// reason to stop (later completions are still counted: a byte the socket took was sent).
struct Progress {
    file_off: u64,
    sent: u64,
    wait_for_socket: bool,
    stop: Option<StopKind>,
}

impl Progress {
    fn settle(&mut self, c: &Completion) {
        let r = c.result;
        let stop = match (c.user_data, r) {
            (_, r) if r == -libc::ECANCELED => None, // after a short or failed link: redone
            (IN, 0) => Some(StopKind::FileChanged),
            (IN, r) if r > 0 => {
                self.file_off += r as u64;
                None
            }
            (IN, r) => Some(StopKind::Failed {
                call: Syscall::Splice,
                errno: Errno::from_raw(-r),
            }),
            (_, r) if r > 0 => {
                self.sent += r as u64;
                None
            }
            (_, r) if r == -libc::EAGAIN => {
                self.wait_for_socket = true;
                None
            }
            (_, r) if r == -libc::EINTR => None,
            (_, 0) => Some(StopKind::Failed {
                call: Syscall::Splice,
                errno: Errno::EPIPE,
            }),
            (_, r) => Some(sys::classify(Syscall::Splice, Errno::from_raw(-r))),
        };
        if self.stop.is_none() {
            self.stop = stop;
        }
    }
}
