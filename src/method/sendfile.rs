//! sendfile: one syscall moves file bytes to the socket inside the kernel. On Linux the socket
//! takes references to page-cache pages when the device does scatter-gather (loopback does), so
//! the sending side makes no CPU copy at all.

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
        step(Disk, PageCache, Dma, Some(call::SENDFILE)),
        step(PageCache, SocketBuffer, CpuUnlessSg, Some(call::SENDFILE)),
        step(SocketBuffer, Nic, Dma, None),
    ],
    per_chunk: &[call::SENDFILE],
    once: &[],
    per_batch: &[],
};

/// One sendfile64 per SENDFILE_MAX bytes.
pub fn expected(l: &Layout) -> Expected {
    let chunks = l.bytes.div_ceil(SENDFILE_MAX);
    Expected::calls(&[Syscall::Sendfile64], Some(chunks), chunks)
}

/// This path's entry in the registry (`method/mod.rs`): everything the rest of copylab asks of it.
pub static PATH: Path = Path {
    kind: MethodKind::Sendfile,
    name: "sendfile",
    model: &MODEL,
    expected,
    availability: always,
    build: |_| Ok(Box::new(Sendfile)),
    doctor_ok: None,
    sources: &[
        "fs/read_write.c: do_sendfile (MAX_RW_COUNT) → fs/splice.c: do_splice_direct → splice_direct_to_actor (current->splice_pipe)",
        "fs/splice.c: splice_to_socket → sock_sendmsg(MSG_SPLICE_PAGES), Linux 6.5+ (commit 2dc334f1a63a; before it pipe_to_sendpage → ->sendpage)",
        "net/ipv4/tcp.c: tcp_sendmsg_locked (copies without NETIF_F_SG)",
        "OpenJDK src/java.base/linux/native/libnio/ch/FileDispatcherImpl.c: transferTo0 (JDK-8292562)",
    ],
};

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
        src: Part<'_>,
        sock: BorrowedFd<'_>,
        _scratch: &mut Scratch,
        calls: &mut Calls,
    ) -> Result<u64, SendError> {
        let len = src.len;
        let stop = |sent: u64, kind| SendError {
            sent,
            expected: len,
            kind,
        };
        let Ok(start) = i64::try_from(src.start) else {
            return Err(stop(
                0,
                StopKind::Failed {
                    call: Syscall::Sendfile64,
                    errno: nix::errno::Errno::EOVERFLOW,
                },
            ));
        };
        // The file offset the kernel advances; the file's own position is never used.
        let mut at: i64 = start;
        let sent = |at: i64| (at - start) as u64;
        while sent(at) < len {
            let want = (len - sent(at)).min(SENDFILE_MAX) as usize;
            let before = at;
            let r = sys::retry(calls, Syscall::Sendfile64, Some(sock), || {
                nix::sys::sendfile::sendfile(sock, src.file, Some(&mut at), want)
            });
            match r {
                Ok(0) => return Err(stop(sent(at), StopKind::FileChanged)),
                Ok(n) => {
                    debug_assert_eq!(at - before, n as i64);
                    // A non-blocking socket takes what fits in its buffer: a partial count.
                    if n < want {
                        calls.add_short(Syscall::Sendfile64);
                    }
                }
                Err(errno) => {
                    return Err(stop(sent(at), sys::classify(Syscall::Sendfile64, errno)));
                }
            }
            src.reached(sent(at));
        }
        Ok(sent(at))
    }
}
