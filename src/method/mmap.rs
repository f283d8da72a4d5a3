//! mmap: map the file read-only and shared, then `write` straight from the mapping: one CPU copy
//! (page cache → socket buffer), paid for with page faults and page-table work.
//!
//! The file is mapped a window of [`MMAP_WINDOW`] bytes at a time (the whole file when it is
//! smaller), and each window goes out in as few `write` calls as the socket allows. The mapped
//! bytes are never touched in user space: if the file shrinks, the kernel's copy inside `write`
//! fails with EFAULT (or a short write) instead of this process taking SIGBUS.

use std::os::fd::BorrowedFd;

use super::{
    Expected, Layout, Method, MethodKind, Model, Path, Scratch, always, map_window, step,
    write_mapped,
};

use super::Place::*;
use super::StepKind::*;
use super::call;
use crate::source::Part;
use crate::sys::{Calls, SendError};
use crate::syscall::Syscall;

/// What the textbook says this path does, step by step: the table, the JSON and the diagram
/// are drawn from it.
pub static MODEL: Model = Model {
    steps: &[
        step(Disk, PageCache, Dma, None),
        step(PageCache, UserMapping, Map, Some(call::MMAP)),
        step(UserMapping, SocketBuffer, Cpu, Some(call::WRITE)),
        step(SocketBuffer, Nic, Dma, None),
    ],
    per_chunk: &[call::WRITE],
    once: &[call::MMAP],
    per_batch: &[],
};

/// Per window: mmap, one write (the socket takes it all, blocking), munmap.
pub fn expected(l: &Layout) -> Expected {
    let chunks = l.bytes.div_ceil(l.mmap_window_bytes.max(1));
    Expected::calls(
        &[Syscall::Mmap, Syscall::Write, Syscall::Munmap],
        Some(3 * chunks),
        chunks,
    )
}

/// This path's entry in the registry (`method/mod.rs`): everything the rest of copylab asks of it.
pub static PATH: Path = Path {
    kind: MethodKind::Mmap,
    name: "mmap",
    model: &MODEL,
    expected,
    availability: always,
    build: |_| Ok(Box::new(Mmap)),
    doctor_ok: None,
    sources: &[
        "mm/memory.c: do_read_fault → do_fault_around (fault_around_bytes, 64 KiB by default)",
        "mm/filemap.c: filemap_map_pages, filemap_map_pmd (a large folio mapped whole)",
        "net/ipv4/tcp.c: tcp_sendmsg_locked (the copy out of the mapping)",
    ],
};

/// Bytes mapped at once. Files up to this size are mapped whole (one `mmap`); larger files a
/// window at a time, so resident mapped pages stay bounded for files larger than memory.
pub const MMAP_WINDOW: u64 = 256 << 20;

/// `mmap` + `write` from the mapping.
pub struct Mmap;

impl Method for Mmap {
    fn kind(&self) -> MethodKind {
        MethodKind::Mmap
    }

    fn prepare(&self, _scratch: &mut Scratch) -> anyhow::Result<()> {
        Ok(())
    }

    fn send(
        &self,
        src: Part<'_>,
        sock: BorrowedFd<'_>,
        _scratch: &mut Scratch,
        calls: &mut Calls,
    ) -> Result<u64, SendError> {
        let len = src.len;
        let stop = |sent, kind| SendError {
            sent,
            expected: len,
            kind,
        };
        let mut off = 0u64;
        while off < len {
            let wlen = (len - off).min(MMAP_WINDOW) as usize;
            let map = map_window(src, off, wlen, calls).map_err(|(at, kind)| stop(at, kind))?;
            // SAFETY: `map` stays mapped until `unmap` below; the kernel alone reads the bytes.
            unsafe { write_mapped(calls, sock, map.ptr(), wlen, off) }
                .map_err(|(at, kind)| stop(at, kind))?;
            map.unmap(calls);
            off += wlen as u64;
            src.reached(off);
        }
        Ok(off)
    }
}
