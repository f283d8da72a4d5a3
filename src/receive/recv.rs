//! recv: read the socket into a page-aligned 1 MiB buffer, the way every ordinary client does.
//! The kernel copies each byte from the socket's pages into the buffer (`tcp_recvmsg` →
//! `skb_copy_datagram_iter`): on one host, the copy a zero-copy sender does not remove. The
//! receiver sees every byte, so every byte can be hashed.

use std::os::fd::BorrowedFd;

use super::{Check, Receive, ReceivePath, ReceiveTally, ReceiverKind, always, io};
use crate::method::call;
use crate::method::{Model, Place::*, StepKind::*, step};
use crate::sys::{self, Calls, PageBuf};

/// The receiver reads this much per call: large, so it is never the bottleneck it is blamed on.
pub const RECV_CHUNK: usize = 1 << 20;

/// This path's entry in the registry (`receive/mod.rs`).
pub static PATH: ReceivePath = ReceivePath {
    kind: ReceiverKind::Recv,
    name: "recv",
    what: "recv(2) into a 1 MiB buffer: the kernel copies every byte",
    check: Check::Xxh3,
    private_lo: false,
    availability: always,
    build: |_| Box::new(Recv::default()),
    model: &MODEL,
    sources: &[
        "net/ipv4/tcp.c: tcp_recvmsg_locked → skb_copy_datagram_msg (net/core/datagram.c: __skb_datagram_iter → _copy_to_iter): socket buffer → your buffer",
    ],
};

/// The packet lands in the socket's buffers; recv copies every byte out of them.
pub static MODEL: Model = Model {
    steps: &[
        step(Nic, SocketBuffer, Dma, None),
        step(SocketBuffer, UserBuffer, Cpu, Some(call::RECV)),
    ],
    per_chunk: &[call::RECV],
    once: &[],
    per_batch: &[],
};

#[derive(Default)]
struct Recv {
    buf: PageBuf,
}

impl Receive for Recv {
    fn prepare(&mut self, _sock: BorrowedFd<'_>) -> std::io::Result<()> {
        if self.buf.len() != RECV_CHUNK {
            self.buf = PageBuf::new(RECV_CHUNK);
        }
        Ok(())
    }

    fn receive(
        &mut self,
        sock: BorrowedFd<'_>,
        tally: &mut ReceiveTally<'_>,
        calls: &mut Calls,
    ) -> std::io::Result<()> {
        let buf = self.buf.as_mut();
        loop {
            match sys::recv(calls, sock, buf, 0).map_err(io)? {
                0 => return Ok(()),
                n => tally.seen(&buf[..n]),
            }
        }
    }
}
