//! splice: socket → pipe → /dev/null, two `splice` calls per pipe-full. The socket's pages move
//! into the pipe by reference (`tcp_splice_read`), and /dev/null's splice drops them
//! (`splice_write_null`): no byte is copied, and none is seen, so only their count can be
//! checked. (Splicing into a file instead brings the copy back: `iter_file_splice_write` writes
//! the pages through the page cache.)

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use nix::errno::Errno;

use super::{Check, Receive, ReceiveConfig, ReceivePath, ReceiveTally, ReceiverKind, io};
use crate::method::call;
use crate::method::{Model, Place::*, StepKind::*, Unavailable, step};
use crate::sys::{self, Calls};
use crate::syscall::Syscall;
use crate::transport::Transport;

/// Where the bytes go.
const NULL: &str = "/dev/null";

/// This path's entry in the registry (`receive/mod.rs`).
pub static PATH: ReceivePath = ReceivePath {
    kind: ReceiverKind::Splice,
    name: "splice",
    what: "splice(2) socket → pipe → /dev/null: page references dropped, none copied",
    check: Check::ByteCount,
    private_lo: false,
    availability,
    build: |cfg| Box::new(SpliceReceiver::new(cfg)),
    model: &MODEL,
    sources: &[
        "net/ipv4/tcp.c: tcp_splice_read → tcp_read_sock → tcp_splice_data_recv → net/core/skbuff.c: skb_splice_bits (the skb's pages referenced by the pipe)",
        "drivers/char/mem.c: splice_write_null → __splice_from_pipe(…, pipe_to_null): the pipe's pages released, nothing read",
        "fs/splice.c: iter_file_splice_write (into a file the pages are written, a copy again)",
    ],
};

/// socket → pipe by page reference, pipe → /dev/null dropped: two splices, no copy.
pub static MODEL: Model = Model {
    steps: &[
        step(Nic, SocketBuffer, Dma, None),
        step(SocketBuffer, Pipe, Reference, Some(call::SPLICE)),
        step(Pipe, DevNull, Drop, Some(call::SPLICE)),
    ],
    per_chunk: &[call::SPLICE, call::SPLICE],
    once: &[],
    per_batch: &[],
};

/// Anywhere /dev/null is the null device.
fn availability(_: Transport) -> Result<(), Unavailable> {
    null_device().map(drop)
}

/// /dev/null, opened for writing, once it is known to be the null device (character device
/// 1:3): copylab writes to no other device node.
fn null_device() -> Result<File, Unavailable> {
    let refuse = |why: String| Unavailable {
        reason: format!("the splice receiver discards into {NULL}, but {why}"),
        fix: format!("restore {NULL} (mknod -m 666 {NULL} c 1 3)"),
    };
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(NULL)
        .map_err(|e| refuse(format!("it cannot be opened ({e})")))?;
    let meta = f
        .metadata()
        .map_err(|e| refuse(format!("it cannot be examined ({e})")))?;
    let rdev = meta.rdev();
    if !meta.file_type().is_char_device() || libc::major(rdev) != 1 || libc::minor(rdev) != 3 {
        return Err(refuse(
            "it is not the null device (character device 1:3)".into(),
        ));
    }
    Ok(f)
}

struct SpliceReceiver {
    requested: usize,
    /// Read and write ends of the pipe, and the capacity the kernel granted.
    pipe: Option<(OwnedFd, OwnedFd, usize)>,
    null: Option<File>,
}

impl SpliceReceiver {
    fn new(cfg: &ReceiveConfig) -> SpliceReceiver {
        SpliceReceiver {
            requested: cfg.pipe_size,
            pipe: None,
            null: None,
        }
    }
}

impl Receive for SpliceReceiver {
    fn prepare(&mut self, _sock: BorrowedFd<'_>) -> std::io::Result<()> {
        use nix::fcntl::{FcntlArg, OFlag, fcntl};
        if self.pipe.is_none() {
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(io)?;
            let size = i32::try_from(self.requested).unwrap_or(i32::MAX);
            // The sender's --pipe-size was already granted to its own pipe; a refusal here
            // leaves the default 64 KiB, which the granted size says.
            let _ = fcntl(&w, FcntlArg::F_SETPIPE_SZ(size));
            let granted = fcntl(&w, FcntlArg::F_GETPIPE_SZ).map_err(io)? as usize;
            self.pipe = Some((r, w, granted));
        }
        if self.null.is_none() {
            self.null =
                Some(null_device().map_err(|no| {
                    std::io::Error::new(std::io::ErrorKind::NotFound, no.to_string())
                })?);
        }
        Ok(())
    }

    fn receive(
        &mut self,
        sock: BorrowedFd<'_>,
        tally: &mut ReceiveTally<'_>,
        calls: &mut Calls,
    ) -> std::io::Result<()> {
        let (Some((pr, pw, cap)), Some(null)) = (self.pipe.as_ref(), self.null.as_ref()) else {
            return Err(io(Errno::EBADF));
        };
        let drain = Drain {
            read: pr.as_fd(),
            write: pw.as_fd(),
            capacity: *cap,
            null: null.as_fd(),
        };
        let result = pump(sock, drain, tally, calls);
        if result.is_err() {
            // Bytes left in the pipe belong to a broken stream: start the next one afresh.
            self.pipe = None;
        }
        result
    }

    fn finish(&mut self) {
        self.null = None;
    }
}

/// splice(2) of up to `len` bytes from `from` to `to` (one of them a pipe), counted.
fn splice(
    calls: &mut Calls,
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    len: usize,
) -> std::io::Result<usize> {
    sys::retry(calls, Syscall::Splice, None, || {
        // SAFETY: null offsets (both ends are read and written at their current position); the
        // kernel moves page references between descriptors this thread holds open.
        let n = unsafe {
            libc::splice(
                from.as_raw_fd(),
                std::ptr::null_mut(),
                to.as_raw_fd(),
                std::ptr::null_mut(),
                len,
                0,
            )
        };
        Errno::result(n).map(|n| n as usize)
    })
    .map_err(io)
}

/// Where a receive's bytes go: the pipe's two ends and its capacity, and the null device.
#[derive(Clone, Copy)]
struct Drain<'a> {
    read: BorrowedFd<'a>,
    write: BorrowedFd<'a>,
    capacity: usize,
    null: BorrowedFd<'a>,
}

/// Socket → pipe → null device until end-of-file, every pipe-full counted in `tally`.
fn pump(
    sock: BorrowedFd<'_>,
    drain: Drain<'_>,
    tally: &mut ReceiveTally<'_>,
    calls: &mut Calls,
) -> std::io::Result<()> {
    loop {
        let n = splice(calls, sock, drain.write, drain.capacity)?;
        if n == 0 {
            return Ok(());
        }
        let mut left = n;
        while left > 0 {
            match splice(calls, drain.read, drain.null, left)? {
                0 => return Err(io(Errno::EIO)),
                m => left -= m,
            }
        }
        tally.discarded(n as u64);
    }
}
