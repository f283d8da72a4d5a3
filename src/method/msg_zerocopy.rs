//! msg-zerocopy: map the file, `send(MSG_ZEROCOPY)` straight from the mapping on a socket with
//! `SO_ZEROCOPY`, and read the kernel's completions from the socket's error queue
//! (`recvmsg(MSG_ERRQUEUE)`). The socket pins the mapped pages instead of copying them; a range
//! may be unmapped only once every send from it is completed. Each completion also says whether
//! the kernel copied after all — on loopback it always does (the receiver may keep the data
//! indefinitely), which copylab measures and reports instead of assuming.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::{
    Expected, Layout, MMAP_WINDOW, Method, MethodKind, Model, Path, Scratch, Unavailable,
    map_window, step, write_mapped,
};
use crate::size::fmt_bytes;
use crate::source::Part;
use crate::sys::{self, Calls, Ledger, SendError, StopKind, ZeroCopy};
use crate::transport::Transport;

use super::Place::*;
use super::StepKind::*;
use super::call;
use crate::syscall::Syscall;

/// The textbook: the mapping's pages are pinned and attached to the socket buffer; no CPU copy
/// on a NIC with scatter-gather DMA. Completions (`recvmsg(MSG_ERRQUEUE)`) come as the kernel
/// coalesces them, not per chunk.
pub static MODEL: Model = Model {
    steps: &[
        step(Disk, PageCache, Dma, None),
        step(PageCache, UserMapping, Map, Some(call::MMAP)),
        step(UserMapping, SocketBuffer, Pin, Some(call::SENDTO)),
        step(SocketBuffer, Nic, Dma, None),
    ],
    per_chunk: &[call::SENDTO],
    once: &[call::MMAP],
    per_batch: &[],
};

/// sendto per chunk, but how many completions the kernel merges (and so recvmsg calls) depends
/// on timing: no exact total.
pub fn expected(l: &Layout) -> Expected {
    Expected::depends(
        "sendto(MSG_ZEROCOPY) per chunk, mmap + munmap per window, recvmsg(MSG_ERRQUEUE) for completions, poll while waiting for them.",
        l.bytes.div_ceil(l.buffer_bytes.max(1)),
    )
}

/// This path's entry in the registry (`method/mod.rs`): everything the rest of copylab asks of it.
pub static PATH: Path = Path {
    kind: MethodKind::MsgZerocopy,
    name: "msg-zerocopy",
    model: &MODEL,
    expected,
    availability,
    build: |cfg| Ok(Box::new(MsgZerocopy::new(cfg.buffer))),
    doctor_ok: Some("SO_ZEROCOPY accepted on TCP (not on Unix sockets)"),
    sources: &[
        "Documentation/networking/msg_zerocopy.rst (loopback: \"Loopback\" section)",
        "net/ipv4/tcp.c: tcp_sendmsg_locked (SO_ZEROCOPY, NETIF_F_SG)",
        "net/core/skbuff.c: skb_orphan_frags_rx → skb_copy_ubufs (the deferred copy on loopback)",
    ],
};

/// Read completions (without blocking) once this many sends are waiting for one, so the
/// socket's option memory does not run out.
const REAP_AT: u64 = 32;

/// `origin` of a zero-copy completion in `struct sock_extended_err` (linux/errqueue.h).
const SO_EE_ORIGIN_ZEROCOPY: u8 = 5;
/// `code` bit of a completion whose data the kernel copied after all.
const SO_EE_CODE_ZEROCOPY_COPIED: u8 = 1;

/// `send(MSG_ZEROCOPY)` of `chunk` bytes at a time from a mapping of the file.
pub struct MsgZerocopy {
    chunk: usize,
}

impl MsgZerocopy {
    pub fn new(chunk: usize) -> MsgZerocopy {
        MsgZerocopy { chunk }
    }
}

/// Whether the kernel lets a socket of `transport` use `SO_ZEROCOPY`.
pub fn availability(transport: Transport) -> Result<(), Unavailable> {
    if transport == Transport::Unix {
        return Err(Unavailable {
            reason: "MSG_ZEROCOPY works on TCP and UDP sockets only (the kernel refuses SO_ZEROCOPY on Unix sockets)".into(),
            fix: "use --transport tcp".into(),
        });
    }
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
    let probe = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| Unavailable {
        reason: format!(
            "cannot create a TCP socket to probe SO_ZEROCOPY ({})",
            e.desc()
        ),
        fix: "check the sandbox's socket policy".into(),
    })?;
    enable(probe.as_fd()).map_err(|e| Unavailable {
        reason: format!("this kernel refuses SO_ZEROCOPY ({}: {})", e, e.desc()),
        fix: "MSG_ZEROCOPY needs Linux 4.14 or later for TCP".into(),
    })
}

/// `setsockopt(SO_ZEROCOPY, 1)`.
fn enable(sock: BorrowedFd<'_>) -> Result<(), Errno> {
    let one: libc::c_int = 1;
    // SAFETY: a plain int option, passed by pointer with its size.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ZEROCOPY,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    Errno::result(r).map(drop)
}

impl Method for MsgZerocopy {
    fn kind(&self) -> MethodKind {
        MethodKind::MsgZerocopy
    }

    fn prepare(&self, _scratch: &mut Scratch) -> anyhow::Result<()> {
        Ok(())
    }

    fn prepare_socket(&self, sock: BorrowedFd<'_>) -> anyhow::Result<()> {
        enable(sock).map_err(|e| {
            anyhow::anyhow!(
                "msg-zerocopy: setsockopt(SO_ZEROCOPY) refused: {}; use a TCP socket",
                e.desc()
            )
        })
    }

    fn setup_notes(&self) -> Vec<String> {
        vec![format!(
            "{} per send(MSG_ZEROCOPY) from the mapping",
            fmt_bytes(self.chunk as u64)
        )]
    }

    fn send(
        &self,
        src: Part<'_>,
        sock: BorrowedFd<'_>,
        _scratch: &mut Scratch,
        calls: &mut Calls,
    ) -> Result<u64, SendError> {
        let mut zc = Completions::default();
        let result = pump(src, sock, self.chunk, &mut zc, calls);
        let delivered = match &result {
            Ok(_) => None,
            Err((handed, _)) => Some(sys::acknowledged(calls, sock, *handed)),
        };
        zc.ledger.settle(&mut zc.tally, delivered);
        calls.zerocopy = Some(zc.tally);
        result.map_err(|(sent, kind)| SendError {
            sent,
            expected: src.len,
            kind,
        })
    }
}

fn pump(
    src: Part<'_>,
    sock: BorrowedFd<'_>,
    chunk: usize,
    zc: &mut Completions,
    calls: &mut Calls,
) -> Result<u64, (u64, StopKind)> {
    let len = src.len;
    let mut off = 0u64;
    while off < len {
        let wlen = (len - off).min(MMAP_WINDOW) as usize;
        let map = map_window(src, off, wlen, calls)?;
        let mut done = 0usize;
        while done < wlen {
            let n = (wlen - done).min(chunk);
            // SAFETY: done + n <= wlen, inside `map`, which stays mapped until every send from
            // it is completed (below). Only the kernel reads the bytes.
            let ptr = unsafe { map.ptr().add(done) };
            let chunk = Chunk {
                ptr,
                len: n,
                at: off + done as u64,
            };
            done += send_one(sock, chunk, zc, calls)?;
            src.reached(off + done as u64);
            if zc.outstanding() >= REAP_AT {
                zc.read(sock, calls).map_err(|e| (off + done as u64, e))?;
            }
        }
        // The socket may still hold the mapping's pages: wait until it lets go of all of them.
        while zc.outstanding() > 0 {
            zc.wait(sock, calls).map_err(|e| (off + done as u64, e))?;
        }
        map.unmap(calls);
        off += wlen as u64;
        src.reached(off);
    }
    Ok(off)
}

/// Up to `len` bytes at `ptr` in a live mapping, `at` bytes into the transfer.
#[derive(Clone, Copy)]
struct Chunk {
    ptr: *const u8,
    len: usize,
    at: u64,
}

/// One `send(MSG_ZEROCOPY)` of `chunk`; returns the bytes the socket took. ENOBUFS: read
/// completions and retry; with none outstanding, send the chunk with a plain copying `write`
/// and count the fallback.
fn send_one(
    sock: BorrowedFd<'_>,
    chunk: Chunk,
    zc: &mut Completions,
    calls: &mut Calls,
) -> Result<usize, (u64, StopKind)> {
    let Chunk { ptr, len: n, at } = chunk;
    loop {
        calls.add(Syscall::Sendto);
        // SAFETY: ptr..ptr+n is inside a live mapping (see `pump`).
        let r = unsafe {
            libc::send(
                sock.as_raw_fd(),
                ptr.cast(),
                n,
                libc::MSG_ZEROCOPY | libc::MSG_NOSIGNAL,
            )
        };
        match Errno::result(r) {
            Ok(0) => return Err((at, StopKind::FileChanged)),
            Ok(k) => {
                zc.tally.sends += 1;
                zc.ledger.sent(at + k as u64);
                return Ok(k as usize);
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => sys::wait_writable(calls, sock)
                .map_err(|e| (at, sys::classify(Syscall::Poll, e)))?,
            Err(Errno::EFAULT) => return Err((at, StopKind::FileChanged)),
            Err(Errno::ENOBUFS) => {
                zc.tally.enobufs += 1;
                if zc.outstanding() > 0 {
                    zc.wait(sock, calls).map_err(|e| (at, e))?;
                } else {
                    // SAFETY: as above.
                    unsafe { write_mapped(calls, sock, ptr, n, at) }?;
                    zc.tally.plain_fallback += 1;
                    return Ok(n);
                }
            }
            Err(e) => return Err((at, sys::classify(Syscall::Sendto, e))),
        }
    }
}

/// The completions owed and received on one socket.
#[derive(Default)]
struct Completions {
    /// Live counts (`completed` says how many sends are outstanding); settled at the end.
    tally: ZeroCopy,
    ledger: Ledger,
}

impl Completions {
    fn outstanding(&self) -> u64 {
        self.tally.sends - self.tally.completed
    }

    /// Read the completions already queued on `sock`'s error queue.
    fn read(&mut self, sock: BorrowedFd<'_>, calls: &mut Calls) -> Result<(), StopKind> {
        self.read_queued(sock, calls).map(drop)
    }

    /// Read the completions queued on `sock`'s error queue, first waiting (poll, within the
    /// send timeout if the thread has one) until at least one is there.
    fn wait(&mut self, sock: BorrowedFd<'_>, calls: &mut Calls) -> Result<(), StopKind> {
        while !self.read_queued(sock, calls)? {
            wait_for_error_queue(sock, calls)?;
        }
        Ok(())
    }

    /// `recvmsg(MSG_ERRQUEUE | MSG_DONTWAIT)` until the queue is empty; whether any completion
    /// arrived.
    fn read_queued(&mut self, sock: BorrowedFd<'_>, calls: &mut Calls) -> Result<bool, StopKind> {
        let mut any = false;
        loop {
            // u64s: cmsg headers need their alignment.
            let mut control = [0u64; 16];
            // SAFETY: msghdr is plain data; all-zero is a valid empty header.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = size_of_val(&control);
            calls.add(Syscall::Recvmsg);
            // SAFETY: msg points at a live control buffer of the size given; no data iovecs.
            let r = unsafe {
                libc::recvmsg(
                    sock.as_raw_fd(),
                    &mut msg,
                    libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
                )
            };
            match Errno::result(r) {
                Ok(_) => {}
                Err(Errno::EAGAIN) => return Ok(any),
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    return Err(StopKind::Failed {
                        call: Syscall::Recvmsg,
                        errno: e,
                    });
                }
            }
            any |= self.take(&msg);
        }
    }

    /// Count the zero-copy completions in the control messages `recvmsg` just filled into
    /// `msg`; whether there was one.
    fn take(&mut self, msg: &libc::msghdr) -> bool {
        let mut any = false;
        // SAFETY: the CMSG_* macros walk the control buffer the kernel just filled, within
        // msg_controllen; each data read is unaligned-safe and inside its cmsg.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(msg);
            while !c.is_null() {
                let h = &*c;
                let recverr = (h.cmsg_level == libc::SOL_IP && h.cmsg_type == libc::IP_RECVERR)
                    || (h.cmsg_level == libc::SOL_IPV6 && h.cmsg_type == libc::IPV6_RECVERR);
                if recverr {
                    any |= self.completed(&std::ptr::read_unaligned(libc::CMSG_DATA(c).cast()));
                }
                c = libc::CMSG_NXTHDR(msg, c);
            }
        }
        any
    }

    /// One extended error from the error queue: a zero-copy completion of a range of send ids
    /// is counted (true); anything else is not one (false).
    fn completed(&mut self, ee: &libc::sock_extended_err) -> bool {
        if ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY || ee.ee_errno != 0 {
            return false;
        }
        // ee_info..=ee_data: the range of send ids completed.
        let range = u64::from(ee.ee_data.wrapping_sub(ee.ee_info)) + 1;
        let copied = ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED != 0;
        self.tally.completed += range;
        if copied {
            self.tally.copied += range;
        }
        self.ledger.completed_ids(ee.ee_info, ee.ee_data, copied);
        true
    }
}

/// Wait (poll, within the send timeout if the thread has one) until `sock`'s error queue holds
/// something: an error queue with something in it makes the socket report POLLERR.
fn wait_for_error_queue(sock: BorrowedFd<'_>, calls: &mut Calls) -> Result<(), StopKind> {
    let timeout = match sys::send_timeout() {
        Some(d) => PollTimeout::try_from(d).unwrap_or(PollTimeout::MAX),
        None => PollTimeout::NONE,
    };
    let mut fds = [PollFd::new(sock, PollFlags::empty())];
    calls.add(Syscall::Poll);
    match poll(&mut fds, timeout) {
        Ok(0) => Err(StopKind::Timeout),
        Ok(_) => {
            let ev = fds[0].revents().unwrap_or(PollFlags::empty());
            if !ev.contains(PollFlags::POLLERR) && ev.contains(PollFlags::POLLHUP) {
                return Err(StopKind::PeerClosed(Errno::ECONNRESET));
            }
            Ok(())
        }
        Err(Errno::EINTR) => Ok(()),
        Err(e) => Err(StopKind::Failed {
            call: Syscall::Poll,
            errno: e,
        }),
    }
}
