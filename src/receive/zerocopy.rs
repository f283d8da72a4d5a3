//! zerocopy: `TCP_ZEROCOPY_RECEIVE`, as the kernel's tcp_mmap selftest uses it. The receiver maps
//! its socket (`mmap` of the socket, read-only, 2 MiB-aligned), and each
//! `getsockopt(TCP_ZEROCOPY_RECEIVE)` inserts the queued pages that can be mapped into that
//! mapping instead of copying them; bytes in front of a page that cannot be mapped land in the
//! copy buffer (copied by the kernel) or are left for a `recv` of `recv_skip_hint` bytes. Each
//! mapped range is hashed (when hashing) and zapped with `MADV_DONTNEED`; the socket is
//! non-blocking with `SO_RCVLOWAT` one window, and a `poll` waits for a window's worth (or
//! end-of-file) before a call that may map, as the selftest does.
//!
//! Only page-sized, page-aligned fragments of pages nobody else owns map (`can_map_frag()` in
//! net/ipv4/tcp.c: not compound, `page->mapping == NULL`): a page-cache page (sendfile, splice
//! from a file) or a process's own page (vmsplice) never does, and segments must carry whole
//! pages, hence copylab's private loopback with a page-aligned MTU.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

use super::{Check, Landed, Receive, ReceivePath, ReceiveTally, ReceiverKind, io};
use crate::method::call;
use crate::method::{Model, Place::*, StepKind::*, Unavailable, step};
use crate::sys::{self, Calls, Mapping, PageBuf};
use crate::syscall::Syscall;
use crate::transport::Transport;

/// Bytes mapped per call: the tcp_mmap selftest's chunk, and the socket's `SO_RCVLOWAT`.
pub const ZC_WINDOW: usize = 512 << 10;
/// The copy buffer the kernel may copy a segment's unmappable bytes into (and `recv` reads the
/// hinted bytes into).
pub const ZC_COPYBUF: usize = 64 << 10;
/// The mapping starts on a 2 MiB boundary (the selftest's advice: a VMA of its own page-table
/// page, so inserts and zaps of one thread do not contend with another's).
const ALIGN: usize = 2 << 20;

/// This path's entry in the registry (`receive/mod.rs`).
pub static PATH: ReceivePath = ReceivePath {
    kind: ReceiverKind::Zerocopy,
    name: "zerocopy",
    what: "getsockopt(TCP_ZEROCOPY_RECEIVE): the socket's pages mapped where the kernel can, copied where it cannot",
    check: Check::Xxh3,
    private_lo: true,
    availability,
    build: |_| Box::new(Zerocopy::default()),
    model: &MODEL,
    sources: &[
        "net/ipv4/tcp.c: tcp_zerocopy_receive → tcp_zerocopy_vm_insert_batch (vm_insert_pages), can_map_frag(), find_next_mappable_frag (recv_skip_hint), tcp_zc_handle_leftover → tcp_copy_straggler_data (the copy buffer)",
        "net/ipv4/tcp.c: can_map_frag() refuses compound pages and pages with page->mapping, since \"tcp: add sanity checks to rx zerocopy\" (Linux 6.8, commit 577e4432f3ac, backported to 6.1-stable): \"TCP rx zerocopy intent is to map pages initially allocated from NIC drivers, not pages owned by a fs\"",
        "tools/testing/selftests/net/tcp_mmap.c: \"NIC with header split is needed\"; on loopback \"ifconfig lo mtu 61512 # 15*4096 + 40 (ipv6 header) + 32 (TCP with TS option header)\"; \"-z option on sender uses MSG_ZEROCOPY, which forces a copy when packets go through loopback interface\"",
        "include/linux/skbuff.h: skb_orphan_frags_rx → net/core/skbuff.c: skb_copy_ubufs (a MSG_ZEROCOPY skb looped back to a local socket is copied first)",
        "Documentation/networking/iou-zcrx.rst: io_uring zero-copy receive needs a NIC queue with header/data split and flow steering",
    ],
};

/// The socket's pages mapped into the receiver where can_map_frag() allows; the rest copied.
pub static MODEL: Model = Model {
    steps: &[
        step(Nic, SocketBuffer, Dma, None),
        step(SocketBuffer, UserMapping, Map, Some(call::ZEROCOPY_RECEIVE)),
        step(SocketBuffer, CopyBuffer, Cpu, Some(call::ZEROCOPY_RECEIVE)),
    ],
    per_chunk: &[call::GETSOCKOPT],
    once: &[call::MMAP],
    per_batch: &[],
};

/// TCP over copylab's private loopback, which needs root.
fn availability(t: Transport) -> Result<(), Unavailable> {
    match t {
        Transport::Tcp => match crate::private_net::refusal() {
            Some(no) => Err(no),
            None => Ok(()),
        },
        Transport::Unix => Err(Unavailable {
            reason: "TCP_ZEROCOPY_RECEIVE is a TCP socket option".into(),
            fix: "use --transport tcp".into(),
        }),
        Transport::Veth => Err(Unavailable {
            reason: "it runs over copylab's private loopback, whose MTU carries whole pages per segment; veth's 1500-byte MTU carries none".into(),
            fix: "use --transport tcp".into(),
        }),
    }
}

/// `struct tcp_zerocopy_receive` (include/uapi/linux/tcp.h), 64 bytes since Linux 5.11; libc
/// has the option's number but not the struct.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct TcpZerocopyReceive {
    /// In: the mapping's address (page-aligned).
    address: u64,
    /// In: bytes the mapping holds; out: bytes mapped.
    length: u32,
    /// Out: bytes to read with recv before the next mappable page.
    recv_skip_hint: u32,
    /// Out: bytes queued.
    inq: u32,
    /// Out: the socket's pending error.
    err: i32,
    /// In: the copy buffer's address.
    copybuf_address: u64,
    /// In: its size; out: bytes copied into it, or -errno.
    copybuf_len: i32,
    flags: u32,
    msg_control: u64,
    msg_controllen: u64,
    msg_flags: u32,
    reserved: u32,
}

#[derive(Default)]
struct Zerocopy {
    /// The socket's mapping: ZC_WINDOW bytes from `skip` on are the window.
    map: Option<Mapping>,
    skip: usize,
    copybuf: PageBuf,
    landed: Landed,
}

impl Zerocopy {
    fn window(&self) -> Option<*const u8> {
        // SAFETY: `skip` + ZC_WINDOW is within the mapping (made ALIGN bytes longer).
        self.map
            .as_ref()
            .map(|m| unsafe { m.ptr().add(self.skip) }.cast_const())
    }
}

impl Zerocopy {
    /// One `getsockopt(TCP_ZEROCOPY_RECEIVE)` into the socket mapping's `window` (and the
    /// copy buffer), counted: what the kernel did.
    fn ask(
        &mut self,
        sock: BorrowedFd<'_>,
        window: *const u8,
        calls: &mut Calls,
    ) -> Result<TcpZerocopyReceive, Errno> {
        let mut zc = TcpZerocopyReceive {
            address: window as u64,
            length: ZC_WINDOW as u32,
            copybuf_address: self.copybuf.as_mut().as_mut_ptr() as u64,
            copybuf_len: ZC_COPYBUF as i32,
            ..TcpZerocopyReceive::default()
        };
        sys::retry(calls, Syscall::Getsockopt, None, || {
            let mut len = std::mem::size_of::<TcpZerocopyReceive>() as libc::socklen_t;
            // SAFETY: the kernel reads and writes one TcpZerocopyReceive (64 bytes, `len`)
            // through the pointer; it maps pages only into our socket mapping at `address`
            // and copies only into the copy buffer, both live for the call.
            let rc = unsafe {
                libc::getsockopt(
                    sock.as_raw_fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_ZEROCOPY_RECEIVE,
                    (&mut zc as *mut TcpZerocopyReceive).cast(),
                    &mut len,
                )
            };
            Errno::result(rc).map(drop)
        })?;
        Ok(zc)
    }

    /// The `mapped` bytes the kernel just mapped at `window`: seen, then zapped.
    fn take_mapped(
        &mut self,
        window: *const u8,
        mapped: usize,
        tally: &mut ReceiveTally<'_>,
        calls: &mut Calls,
    ) -> std::io::Result<()> {
        // SAFETY: the kernel just mapped `mapped` bytes of the socket's pages at the window,
        // read-only; nothing writes them, and they stay until the zap below.
        let pages = unsafe { std::slice::from_raw_parts(window, mapped) };
        tally.seen(pages);
        self.landed.mapped += mapped as u64;
        sys::retry(calls, Syscall::Madvise, None, || {
            // SAFETY: zaps only the window's first `mapped` bytes, inside our socket mapping,
            // which no reference outlives (`pages` is not used past here).
            let rc =
                unsafe { libc::madvise(window.cast_mut().cast(), mapped, libc::MADV_DONTNEED) };
            Errno::result(rc).map(drop)
        })
        .map_err(io)
    }

    /// `recv` up to `len` bytes into the copy buffer (those the kernel says cannot be
    /// mapped), seen: Some(bytes read, 0 at end-of-file), or None when none were queued.
    fn recv_hinted(
        &mut self,
        sock: BorrowedFd<'_>,
        len: usize,
        tally: &mut ReceiveTally<'_>,
        calls: &mut Calls,
    ) -> std::io::Result<Option<usize>> {
        let buf = self.copybuf.as_mut();
        let len = len.min(buf.len());
        match sys::recv(calls, sock, &mut buf[..len], 0) {
            Ok(0) => Ok(Some(0)),
            Ok(n) => {
                self.landed.hint += n as u64;
                tally.seen(&self.copybuf.as_ref()[..n]);
                Ok(Some(n))
            }
            Err(Errno::EAGAIN) => Ok(None),
            Err(e) => Err(io(e)),
        }
    }
}

impl Receive for Zerocopy {
    fn prepare(&mut self, sock: BorrowedFd<'_>) -> std::io::Result<()> {
        use nix::fcntl::{FcntlArg, OFlag, fcntl};
        let flags = fcntl(sock, FcntlArg::F_GETFL).map_err(io)?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        fcntl(sock, FcntlArg::F_SETFL(flags)).map_err(io)?;
        let lowat = ZC_WINDOW as libc::c_int;
        // SAFETY: setsockopt reads one c_int, which lives for the call.
        let r = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                (&lowat as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // Set-up calls are outside the measured window: counted nowhere.
        let mut setup = Calls::default();
        let map = Mapping::file(&mut setup, sock, 0, ZC_WINDOW + ALIGN).map_err(io)?;
        let at = map.ptr() as usize;
        self.skip = at.next_multiple_of(ALIGN) - at;
        self.map = Some(map);
        if self.copybuf.len() != ZC_COPYBUF {
            self.copybuf = PageBuf::new(ZC_COPYBUF);
        }
        self.landed = Landed::default();
        Ok(())
    }

    fn receive(
        &mut self,
        sock: BorrowedFd<'_>,
        tally: &mut ReceiveTally<'_>,
        calls: &mut Calls,
    ) -> std::io::Result<()> {
        let window = self.window().ok_or_else(|| io(Errno::EBADF))?;
        let mut wait = true;
        loop {
            // As the selftest does: wait for a window's worth (SO_RCVLOWAT) or end-of-file, so
            // each call maps a full window and the copy buffer takes only the stream's tail.
            // After a call that copied (unmappable pages: one segment's worth per call), the
            // rest is already queued: go straight on.
            if wait {
                sys::wait_readable(calls, sock).map_err(io)?;
            }
            let zc = match self.ask(sock, window, calls) {
                Ok(zc) => zc,
                // Nothing queued and the peer has finished: end-of-file, which a recv confirms
                // (and any byte that slipped in between is taken like a hinted one).
                Err(Errno::EIO) => match self.recv_hinted(sock, ZC_COPYBUF, tally, calls)? {
                    Some(0) => return Ok(()),
                    _ => continue,
                },
                Err(e) => return Err(io(e)),
            };
            if zc.err != 0 {
                return Err(std::io::Error::from_raw_os_error(zc.err));
            }
            if zc.copybuf_len < 0 {
                return Err(std::io::Error::from_raw_os_error(-zc.copybuf_len));
            }
            let mapped = (zc.length as usize).min(ZC_WINDOW);
            if mapped > 0 {
                self.take_mapped(window, mapped, tally, calls)?;
            }
            let copied = (zc.copybuf_len as usize).min(ZC_COPYBUF);
            if copied > 0 {
                self.landed.copybuf += copied as u64;
                tally.seen(&self.copybuf.as_ref()[..copied]);
            }
            let hint = (zc.recv_skip_hint as usize).min(ZC_COPYBUF);
            let read = match hint {
                0 => 0,
                _ => match self.recv_hinted(sock, hint, tally, calls)? {
                    Some(0) => return Ok(()),
                    Some(n) => n,
                    None => 0,
                },
            };
            wait = mapped > 0 || (copied == 0 && read == 0);
        }
    }

    fn finish(&mut self) {
        if let Some(m) = self.map.take() {
            m.unmap(&mut Calls::default());
        }
    }

    fn landed(&self) -> Option<Landed> {
        Some(self.landed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn tcp_zerocopy_receive_has_the_kernels_layout() {
        assert_eq!(size_of::<TcpZerocopyReceive>(), 64);
        assert_eq!(offset_of!(TcpZerocopyReceive, address), 0);
        assert_eq!(offset_of!(TcpZerocopyReceive, length), 8);
        assert_eq!(offset_of!(TcpZerocopyReceive, recv_skip_hint), 12);
        assert_eq!(offset_of!(TcpZerocopyReceive, inq), 16);
        assert_eq!(offset_of!(TcpZerocopyReceive, err), 20);
        assert_eq!(offset_of!(TcpZerocopyReceive, copybuf_address), 24);
        assert_eq!(offset_of!(TcpZerocopyReceive, copybuf_len), 32);
        assert_eq!(offset_of!(TcpZerocopyReceive, flags), 36);
        assert_eq!(offset_of!(TcpZerocopyReceive, msg_control), 40);
        assert_eq!(offset_of!(TcpZerocopyReceive, msg_controllen), 48);
        assert_eq!(offset_of!(TcpZerocopyReceive, msg_flags), 56);
        assert_eq!(offset_of!(TcpZerocopyReceive, reserved), 60);
        assert_eq!(libc::TCP_ZEROCOPY_RECEIVE, 35);
    }
}
