//! vmsplice: `pread` the file into fresh user pages, hand those pages to a pipe with `vmsplice`
//! (page references, no copy), then `splice` pipe → socket. The price of skipping `write`'s copy
//! is that the socket — and, on loopback, the *receiver's* queue — holds references to the user
//! pages until the data is consumed, with no notification when that happens: a page may never
//! be written again. copylab therefore never reuses one: every [`VMSPLICE_REGION`] comes from a
//! fresh anonymous `mmap` (which the kernel zero-fills on first touch) and is `munmap`ped once
//! spliced (the pages live on, referenced by the socket, until the data is read).

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

use super::splice::{Pipe, PipeSpec};
use super::{Expected, Layout, Method, MethodKind, Model, Path, Scratch, always, step};
use crate::size::fmt_bytes;
use crate::source::Part;
use crate::sys::{self, Calls, Mapping, SendError, StopKind};

use super::Place::*;
use super::StepKind::*;
use super::call;
use crate::syscall::Syscall;

/// Fresh user memory mapped at once: the pipe-fulls of one region share one `mmap` and one
/// `munmap`.
pub const VMSPLICE_REGION: usize = 4 << 20;

/// The textbook vmsplice path: read into user pages, give the pages to a pipe, splice the pipe
/// to the socket. One CPU copy (page cache → user pages, by `read`) instead of read-write's two,
/// and a second one when the device lacks scatter-gather (the pipe → socket half copies then).
pub static MODEL: Model = Model {
    steps: &[
        step(Disk, PageCache, Dma, Some(call::READ)),
        step(PageCache, UserBuffer, Cpu, Some(call::READ)),
        step(UserBuffer, Pipe, Reference, Some(call::VMSPLICE)),
        step(Pipe, SocketBuffer, CpuUnlessSg, Some(call::SPLICE)),
        step(SocketBuffer, Nic, Dma, None),
    ],
    per_chunk: &[call::READ, call::VMSPLICE, call::SPLICE],
    once: &[],
    per_batch: &[],
};

/// Per pipe-full: pread64, vmsplice, splice; per fresh region (at least a pipe-full): one mmap
/// and one munmap.
pub fn expected(l: &Layout) -> Expected {
    let per_chunk = [Syscall::Pread64, Syscall::Vmsplice, Syscall::Splice];
    let Some(p) = l.pipe_bytes.filter(|p| *p > 0) else {
        return Expected::calls(&per_chunk, None, 0);
    };
    let region = p.max(l.vmsplice_region_bytes);
    let regions = l.bytes.div_ceil(region);
    let chunks = (0..regions)
        .map(|i| (l.bytes - i * region).min(region).div_ceil(p))
        .sum();
    Expected {
        fresh_regions: regions,
        ..Expected::calls(&per_chunk, Some(3 * chunks + 2 * regions), chunks)
    }
}

/// This path's entry in the registry (`method/mod.rs`): everything the rest of copylab asks of it.
pub static PATH: Path = Path {
    kind: MethodKind::Vmsplice,
    name: "vmsplice",
    model: &MODEL,
    expected,
    availability: always,
    build: |cfg| Ok(Box::new(Vmsplice::new(cfg.pipe_size)?)),
    doctor_ok: None,
    sources: &[
        "fs/splice.c: vmsplice_to_pipe (user pages into the pipe), splice_to_socket",
        "mm/memory.c: do_anonymous_page (each fresh page zeroed on first touch)",
    ],
};

/// `pread` into fresh pages, `vmsplice` them into a pipe, `splice` the pipe to the socket.
pub struct Vmsplice {
    pipe: PipeSpec,
}

impl Vmsplice {
    pub fn new(requested: usize) -> anyhow::Result<Vmsplice> {
        Ok(Vmsplice {
            pipe: PipeSpec::probe(requested)?,
        })
    }
}

impl Method for Vmsplice {
    fn kind(&self) -> MethodKind {
        MethodKind::Vmsplice
    }

    fn prepare(&self, scratch: &mut Scratch) -> anyhow::Result<()> {
        self.pipe.ensure(scratch)
    }

    fn granted_pipe_bytes(&self) -> Option<u64> {
        Some(self.pipe.granted as u64)
    }

    fn setup_notes(&self) -> Vec<String> {
        vec![format!(
            "pipe {} granted; fresh {} of user pages per mmap, never reused",
            fmt_bytes(self.pipe.granted as u64),
            fmt_bytes(VMSPLICE_REGION as u64)
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
        let Some(pipe) = scratch.pipe.as_ref().map(|p| self.pipe.ends(p)) else {
            return Err(SendError {
                sent: 0,
                expected: len,
                kind: StopKind::Failed {
                    call: Syscall::Pipe2,
                    errno: Errno::EBADF,
                },
            });
        };
        let result = pump(src, sock, pipe, calls);
        if result.is_err() {
            PipeSpec::spoil(scratch, calls);
        }
        result.map_err(|(sent, kind)| SendError {
            sent,
            expected: len,
            kind,
        })
    }
}

fn pump(
    src: Part<'_>,
    sock: BorrowedFd<'_>,
    pipe: Pipe<'_>,
    calls: &mut Calls,
) -> Result<u64, (u64, StopKind)> {
    let len = src.len;
    let region_cap = VMSPLICE_REGION.max(pipe.capacity);
    let mut sent = 0u64;
    while sent < len {
        let region_len = (len - sent).min(region_cap as u64) as usize;
        let region = Mapping::anonymous(calls, region_len).map_err(|errno| {
            (
                sent,
                StopKind::Failed {
                    call: Syscall::Mmap,
                    errno,
                },
            )
        })?;
        let mut done = 0usize;
        while done < region_len {
            let chunk = (region_len - done).min(pipe.capacity);
            // SAFETY: `region` is a private anonymous mapping of region_len bytes that only this
            // function writes, and done + chunk <= region_len. Its pages have not been given to
            // the pipe yet (each byte is vmspliced exactly once, after this read).
            let buf = unsafe { std::slice::from_raw_parts_mut(region.ptr().add(done), chunk) };
            read_exact_at(src, buf, sent, calls)?;
            let mut given = 0usize;
            while given < chunk {
                let n = gift(calls, pipe, &mut buf[given..]).map_err(|kind| (sent, kind))?;
                given += n;
                sent = pipe.drain(sock, n, sent, len, calls)?;
                src.reached(sent);
            }
            done += chunk;
        }
        // The socket still holds references to these pages; unmapping drops only ours.
        region.unmap(calls);
    }
    Ok(sent)
}

/// One `vmsplice` of `buf`'s pages to the pipe, counted; returns the bytes the pipe took.
/// `buf` must stay mapped until they are spliced on (the pipe's page references keep the pages
/// alive after munmap), and is never touched again: the pages are gifted.
fn gift(calls: &mut Calls, pipe: Pipe<'_>, buf: &mut [u8]) -> Result<usize, StopKind> {
    sys::retry(calls, Syscall::Vmsplice, None, || {
        let iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: one valid iovec over live memory; the pipe takes page references that keep
        // the pages alive after munmap. SPLICE_F_GIFT: the pages are never touched again.
        let r = unsafe { libc::vmsplice(pipe.write.as_raw_fd(), &iov, 1, libc::SPLICE_F_GIFT) };
        Errno::result(r).map(|n| n as usize)
    })
    .map_err(|errno| StopKind::Failed {
        call: Syscall::Vmsplice,
        errno,
    })
}

/// `pread` exactly `buf.len()` bytes at the part's byte `offset`; end of file first means the
/// file shrank.
fn read_exact_at(
    src: Part<'_>,
    buf: &mut [u8],
    offset: u64,
    calls: &mut Calls,
) -> Result<(), (u64, StopKind)> {
    let mut got = 0usize;
    while got < buf.len() {
        match sys::pread(
            calls,
            src.file,
            &mut buf[got..],
            src.at(offset + got as u64),
        ) {
            Ok(0) => return Err((offset, StopKind::FileChanged)),
            Ok(n) => got += n,
            Err(errno) => {
                return Err((
                    offset,
                    StopKind::Failed {
                        call: Syscall::Pread64,
                        errno,
                    },
                ));
            }
        }
    }
    Ok(())
}
