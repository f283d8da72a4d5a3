//! trunc: `recv(MSG_TRUNC)` with no buffer at all. On TCP the kernel advances the stream and
//! frees the socket's pages without copying a byte (`tcp_recvmsg_locked` skips
//! `skb_copy_datagram_msg` under MSG_TRUNC): what iperf3's `--skip-rx-copy` does. The bytes are
//! counted, never seen, so only their count can be checked.

use std::os::fd::BorrowedFd;

use super::{Check, Receive, ReceivePath, ReceiveTally, ReceiverKind, io};
use crate::method::{Model, Place::*, StepKind::*, Unavailable, step};
use crate::sys::{self, Calls};
use crate::transport::Transport;

use super::recv::RECV_CHUNK;
use crate::method::call;

/// This path's entry in the registry (`receive/mod.rs`).
pub static PATH: ReceivePath = ReceivePath {
    kind: ReceiverKind::Trunc,
    name: "trunc",
    what: "recv(2) with MSG_TRUNC and no buffer: bytes counted and dropped, none copied",
    check: Check::ByteCount,
    private_lo: false,
    availability,
    build: |_| Box::new(Trunc),
    model: &MODEL,
    sources: &[
        "net/ipv4/tcp.c: tcp_recvmsg_locked — `if (!(flags & MSG_TRUNC))` around skb_copy_datagram_msg: with MSG_TRUNC the stream advances and the skb is freed uncopied",
        "iperf3 src/iperf_tcp.c: iperf_tcp_recv passes MSG_TRUNC for --skip-rx-copy; neper's --skip-rx-copy sets recv_flags = MSG_TRUNC",
    ],
};

/// recv(MSG_TRUNC): the stream advances and the socket's buffers are freed, nothing copied.
pub static MODEL: Model = Model {
    steps: &[
        step(Nic, SocketBuffer, Dma, None),
        step(SocketBuffer, Freed, Drop, Some(call::RECV_TRUNC)),
    ],
    per_chunk: &[call::RECV],
    once: &[],
    per_batch: &[],
};

/// TCP only: a Unix stream socket refuses MSG_TRUNC without a buffer (EFAULT).
fn availability(t: Transport) -> Result<(), Unavailable> {
    match t {
        Transport::Tcp | Transport::Veth => Ok(()),
        Transport::Unix => Err(Unavailable {
            reason: "recv(MSG_TRUNC) drops bytes without copying them on TCP only; a Unix stream socket refuses it without a buffer (EFAULT)".into(),
            fix: "use --transport tcp or veth".into(),
        }),
    }
}

struct Trunc;

impl Receive for Trunc {
    fn prepare(&mut self, _sock: BorrowedFd<'_>) -> std::io::Result<()> {
        Ok(())
    }

    fn receive(
        &mut self,
        sock: BorrowedFd<'_>,
        tally: &mut ReceiveTally<'_>,
        calls: &mut Calls,
    ) -> std::io::Result<()> {
        loop {
            // SAFETY: a null buffer with MSG_TRUNC on a TCP socket (availability allows no
            // other): the kernel discards up to RECV_CHUNK bytes and writes nothing.
            let n = unsafe {
                sys::recv_raw(
                    calls,
                    sock,
                    std::ptr::null_mut(),
                    RECV_CHUNK,
                    libc::MSG_TRUNC,
                )
            }
            .map_err(io)?;
            if n == 0 {
                return Ok(());
            }
            tally.discarded(n as u64);
        }
    }
}
