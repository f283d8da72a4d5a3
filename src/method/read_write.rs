//! read-write: the traditional path. `pread` a buffer's worth into user space, `write` it to the
//! socket, repeat: two syscalls and two CPU copies per buffer.

use std::os::fd::BorrowedFd;

use super::{Expected, Layout, Method, MethodKind, Model, Path, Scratch, always, step};

use super::Place::*;
use super::StepKind::*;
use super::call;
use crate::source::Part;
use crate::sys::{self, Calls, SendError, StopKind};
use crate::syscall::Syscall;

/// What the textbook says this path does, step by step: the table, the JSON and the diagram
/// are drawn from it.
pub static MODEL: Model = Model {
    steps: &[
        step(Disk, PageCache, Dma, Some(call::READ)),
        step(PageCache, UserBuffer, Cpu, Some(call::READ)),
        step(UserBuffer, SocketBuffer, Cpu, Some(call::WRITE)),
        step(SocketBuffer, Nic, Dma, None),
    ],
    per_chunk: &[call::READ, call::WRITE],
    once: &[],
    per_batch: &[],
};

/// One pread64 and one write per buffer-full.
pub fn expected(l: &Layout) -> Expected {
    let chunks = l.bytes.div_ceil(l.buffer_bytes.max(1));
    Expected::calls(
        &[Syscall::Pread64, Syscall::Write],
        Some(2 * chunks),
        chunks,
    )
}

/// This path's entry in the registry (`method/mod.rs`): everything the rest of copylab asks of it.
pub static PATH: Path = Path {
    kind: MethodKind::ReadWrite,
    name: "read-write",
    model: &MODEL,
    expected,
    availability: always,
    build: |cfg| Ok(Box::new(ReadWrite::new(cfg.buffer))),
    doctor_ok: None,
    sources: &[
        "mm/filemap.c: filemap_read → copy_folio_to_iter (page cache → your buffer)",
        "net/ipv4/tcp.c: tcp_sendmsg_locked (your buffer → socket buffer)",
    ],
};

/// `pread` (explicit offset, so one open file can serve many connections) + `write`.
pub struct ReadWrite {
    buffer: usize,
}

impl ReadWrite {
    pub fn new(buffer: usize) -> ReadWrite {
        ReadWrite { buffer }
    }
}

impl Method for ReadWrite {
    fn kind(&self) -> MethodKind {
        MethodKind::ReadWrite
    }

    fn prepare(&self, scratch: &mut Scratch) -> anyhow::Result<()> {
        if scratch.buf.len() != self.buffer {
            scratch.buf = sys::PageBuf::new(self.buffer);
        }
        Ok(())
    }

    fn send(
        &self,
        src: Part<'_>,
        sock: BorrowedFd<'_>,
        scratch: &mut Scratch,
        calls: &mut Calls,
    ) -> Result<u64, SendError> {
        let len = src.len;
        let mut off = 0u64;
        let stop = |sent, kind| SendError {
            sent,
            expected: len,
            kind,
        };
        while off < len {
            let want = (len - off).min(scratch.buf.len() as u64) as usize;
            let n = match sys::pread(
                calls,
                src.file,
                &mut scratch.buf.as_mut()[..want],
                src.at(off),
            ) {
                Ok(0) => return Err(stop(off, StopKind::FileChanged)),
                Ok(n) => n,
                Err(errno) => {
                    return Err(stop(
                        off,
                        StopKind::Failed {
                            call: Syscall::Pread64,
                            errno,
                        },
                    ));
                }
            };
            if let Err((done, errno)) = sys::write_all(calls, sock, &scratch.buf.as_ref()[..n]) {
                return Err(stop(
                    off + done as u64,
                    sys::classify(Syscall::Write, errno),
                ));
            }
            off += n as u64;
            src.reached(off);
        }
        Ok(off)
    }
}
