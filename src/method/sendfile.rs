//! sendfile: one syscall moves file bytes to the socket inside the kernel. On Linux the socket
//! takes references to page-cache pages when the device does scatter-gather (loopback does), so
//! the sending side makes no CPU copy at all.

use std::os::fd::BorrowedFd;

use super::{Expected, Layout, Method, MethodKind, Model, Scratch, step};

use super::Place::*;
use super::StepKind::*;
use crate::source::Source;
use crate::sys::{self, Calls, SendError, StopKind};

/// What the textbook says this path does, step by step: the table, the JSON and the diagram
/// are drawn from it.
pub static MODEL: Model = Model {
    steps: &[
        step(Disk, PageCache, Dma, Some("sendfile")),
        step(PageCache, SocketBuffer, CpuUnlessSg, Some("sendfile")),
        step(SocketBuffer, Nic, Dma, None),
    ],
    per_chunk: &["sendfile"],
    once: &[],
    per_batch: &[],
};

/// One sendfile64 per SENDFILE_MAX bytes.
pub fn expected(l: &Layout) -> Expected {
    let chunks = l.bytes.div_ceil(SENDFILE_MAX);
    Expected::new(Some(chunks), "sendfile64", chunks)
}

/// The most one `sendfile(2)` call moves (Linux: `MAX_RW_COUNT`), whatever is asked.
pub const SENDFILE_MAX: u64 = 0x7fff_f000;

/// `sendfile` with an explicit offset pointer, looping on short counts.
pub struct Sendfile;

impl Method for Sendfile {
    fn kind(&self) -> MethodKind {
        MethodKind::Sendfile
    }

    fn prepare(&self, _scratch: &mut Scratch) -> anyhow::Result<()> {
        Ok(())
    }

    fn send(
        &self,
        src: &Source,
        sock: BorrowedFd<'_>,
        _scratch: &mut Scratch,
        calls: &mut Calls,
    ) -> Result<u64, SendError> {
        let len = src.len;
        let mut off: i64 = 0;
        let stop = |sent: i64, kind| SendError {
            sent: sent as u64,
            expected: len,
            kind,
        };
        while (off as u64) < len {
            let want = (len - off as u64).min(SENDFILE_MAX) as usize;
            let before = off;
            // The kernel advances `off`; the file's own position is never used.
            let r = sys::retry(calls, "sendfile64", Some(sock), || {
                nix::sys::sendfile::sendfile(sock, &src.file, Some(&mut off), want)
            });
            match r {
                Ok(0) => return Err(stop(off, StopKind::FileChanged)),
                Ok(n) => debug_assert_eq!(off - before, n as i64),
                Err(errno) => return Err(stop(off, sys::classify("sendfile64", errno))),
            }
        }
        Ok(off as u64)
    }
}
