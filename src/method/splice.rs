//! splice: file → pipe → socket. Two `splice` calls per pipe-full move page references, not
//! bytes; the pipe's capacity (`F_SETPIPE_SZ`) decides how many calls a transfer takes. The pipe
//! → socket half is the code sendfile runs too (`splice_to_socket`, `MSG_SPLICE_PAGES`): the
//! skb takes the page references only when the device does scatter-gather, else TCP copies.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use anyhow::Context;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, SpliceFFlags, fcntl, splice};

use super::{Expected, Layout, Method, MethodKind, Model, Path, Scratch, always, step};

use super::Place::*;
use super::StepKind::*;
use super::call;
use crate::size::fmt_bytes;
use crate::source::Part;
use crate::sys::{self, Calls, SendError, StopKind};
use crate::syscall::Syscall;

/// What the textbook says this path does, step by step: the table, the JSON and the diagram
/// are drawn from it.
pub static MODEL: Model = Model {
    steps: &[
        step(Disk, PageCache, Dma, Some(call::SPLICE)),
        step(PageCache, Pipe, Reference, Some(call::SPLICE)),
        step(Pipe, SocketBuffer, CpuUnlessSg, Some(call::SPLICE)),
        step(SocketBuffer, Nic, Dma, None),
    ],
    per_chunk: &[call::SPLICE, call::SPLICE],
    once: &[],
    per_batch: &[],
};

/// Two splices per pipe-full (file → pipe, pipe → socket).
pub fn expected(l: &Layout) -> Expected {
    match l.pipe_bytes.filter(|p| *p > 0) {
        Some(p) => {
            let chunks = l.bytes.div_ceil(p);
            Expected::calls(
                &[Syscall::Splice, Syscall::Splice],
                Some(2 * chunks),
                chunks,
            )
        }
        None => Expected::calls(&[Syscall::Splice, Syscall::Splice], None, 0),
    }
}

/// This path's entry in the registry (`method/mod.rs`): everything the rest of copylab asks of it.
pub static PATH: Path = Path {
    kind: MethodKind::Splice,
    name: "splice",
    model: &MODEL,
    expected,
    availability: always,
    build: |cfg| Ok(Box::new(Splice::new(cfg.pipe_size)?)),
    doctor_ok: None,
    sources: &[
        "fs/splice.c: do_splice → filemap_splice_read (mm/filemap.c), splice_to_socket",
        "include/linux/splice.h: SPLICE_F_MOVE (\"move pages instead of copying\", unused since 2.6.21)",
    ],
};

/// `splice` file → pipe (explicit file offset), then pipe → socket until the pipe is empty.
pub struct Splice {
    pipe: PipeSpec,
}

impl Splice {
    pub fn new(requested: usize) -> anyhow::Result<Splice> {
        Ok(Splice {
            pipe: PipeSpec::probe(requested)?,
        })
    }
}

/// The pipe a pipe-based path (splice, vmsplice, io-uring-splice) asks for and what it got.
pub(super) struct PipeSpec {
    pub requested: usize,
    pub granted: usize,
}

impl PipeSpec {
    /// Probe the pipe size the kernel grants for `requested` bytes.
    pub fn probe(requested: usize) -> anyhow::Result<PipeSpec> {
        let (r, w) = new_pipe(requested)?;
        let granted = pipe_capacity(&w)?;
        drop((r, w));
        Ok(PipeSpec { requested, granted })
    }

    /// Give `scratch` a pipe of this size if it has none (a spoiled one is dropped on error).
    pub fn ensure(&self, scratch: &mut Scratch) -> anyhow::Result<()> {
        if scratch.pipe.is_none() {
            scratch.pipe = Some(new_pipe(self.requested)?);
        }
        Ok(())
    }

    /// `scratch`'s pipe (taken from its `pipe` field) as a transfer uses it, with the capacity
    /// the kernel granted this spec.
    pub fn ends<'a>(&self, pipe: &'a (OwnedFd, OwnedFd)) -> Pipe<'a> {
        Pipe {
            read: pipe.0.as_fd(),
            write: pipe.1.as_fd(),
            capacity: self.granted,
        }
    }

    /// Close `scratch`'s pipe, counted: after an error, bytes left in it were never sent.
    pub fn spoil(scratch: &mut Scratch, calls: &mut Calls) {
        if let Some((r, w)) = scratch.pipe.take() {
            sys::close(calls, r);
            sys::close(calls, w);
        }
    }
}

/// A pipe as one transfer uses it: its two ends, and the bytes it holds.
#[derive(Clone, Copy)]
pub(super) struct Pipe<'a> {
    pub read: BorrowedFd<'a>,
    pub write: BorrowedFd<'a>,
    pub capacity: usize,
}

impl Pipe<'_> {
    /// Splice the `in_pipe` bytes the pipe holds to `sock`, `sent` of `len` already sent;
    /// returns the new `sent`. `SPLICE_F_MORE` is set on every call but the one that ends the
    /// file.
    pub fn drain(
        &self,
        sock: BorrowedFd<'_>,
        mut in_pipe: usize,
        mut sent: u64,
        len: u64,
        calls: &mut Calls,
    ) -> Result<u64, (u64, StopKind)> {
        while in_pipe > 0 {
            let more = sent + (in_pipe as u64) < len;
            let flags = if more {
                SpliceFFlags::SPLICE_F_MORE
            } else {
                SpliceFFlags::empty()
            };
            let n = sys::retry(calls, Syscall::Splice, Some(sock), || {
                splice(self.read, None, sock, None, in_pipe, flags)
            })
            .map_err(|errno| (sent, sys::classify(Syscall::Splice, errno)))?;
            if n == 0 {
                return Err((
                    sent,
                    StopKind::Failed {
                        call: Syscall::Splice,
                        errno: Errno::EPIPE,
                    },
                ));
            }
            in_pipe -= n;
            sent += n as u64;
        }
        Ok(sent)
    }
}

fn new_pipe(requested: usize) -> anyhow::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("cannot create a pipe for splice")?;
    let size = i32::try_from(requested).unwrap_or(i32::MAX);
    if let Err(e) = fcntl(&w, FcntlArg::F_SETPIPE_SZ(size)) {
        let max = std::fs::read_to_string("/proc/sys/fs/pipe-max-size").unwrap_or_default();
        anyhow::bail!(
            "--pipe-size {}: the kernel refused it ({}); the limit for unprivileged users is /proc/sys/fs/pipe-max-size = {} bytes",
            fmt_bytes(requested as u64),
            e.desc(),
            max.trim()
        );
    }
    Ok((r, w))
}

fn pipe_capacity(w: &OwnedFd) -> anyhow::Result<usize> {
    let n = fcntl(w, FcntlArg::F_GETPIPE_SZ).context("cannot read the pipe size")?;
    Ok(n as usize)
}

impl Method for Splice {
    fn kind(&self) -> MethodKind {
        MethodKind::Splice
    }

    fn prepare(&self, scratch: &mut Scratch) -> anyhow::Result<()> {
        self.pipe.ensure(scratch)
    }

    fn granted_pipe_bytes(&self) -> Option<u64> {
        Some(self.pipe.granted as u64)
    }

    fn setup_notes(&self) -> Vec<String> {
        vec![format!(
            "pipe {} requested, {} granted",
            fmt_bytes(self.pipe.requested as u64),
            fmt_bytes(self.pipe.granted as u64)
        )]
    }

    fn send(
        &self,
        src: Part<'_>,
        sock: BorrowedFd<'_>,
        scratch: &mut Scratch,
        calls: &mut Calls,
    ) -> Result<u64, SendError> {
        let len = src.len;
        let stop = |sent, kind| SendError {
            sent,
            expected: len,
            kind,
        };
        let Some(pipe) = scratch.pipe.as_ref().map(|p| self.pipe.ends(p)) else {
            return Err(stop(
                0,
                StopKind::Failed {
                    call: Syscall::Pipe2,
                    errno: Errno::EBADF,
                },
            ));
        };
        let result = pump(src, sock, pipe, calls);
        if result.is_err() {
            PipeSpec::spoil(scratch, calls);
        }
        result.map_err(|(sent, kind)| stop(sent, kind))
    }
}

fn pump(
    src: Part<'_>,
    sock: BorrowedFd<'_>,
    pipe: Pipe<'_>,
    calls: &mut Calls,
) -> Result<u64, (u64, StopKind)> {
    let len = src.len;
    let eoverflow = StopKind::Failed {
        call: Syscall::Splice,
        errno: nix::errno::Errno::EOVERFLOW,
    };
    let start = i64::try_from(src.start).map_err(|_| (0, eoverflow))?;
    let mut file_off: i64 = start; // advanced by the kernel
    let mut sent = 0u64;
    while sent < len {
        let want = (len - (file_off - start) as u64).min(pipe.capacity as u64) as usize;
        let filled = sys::retry(calls, Syscall::Splice, None, || {
            splice(
                src.file,
                Some(&mut file_off),
                pipe.write,
                None,
                want,
                SpliceFFlags::empty(),
            )
        })
        .map_err(|errno| {
            (
                sent,
                StopKind::Failed {
                    call: Syscall::Splice,
                    errno,
                },
            )
        })?;
        if filled == 0 {
            return Err((sent, StopKind::FileChanged));
        }
        sent = pipe.drain(sock, filled, sent, len, calls)?;
        src.reached(sent);
    }
    Ok(sent)
}
