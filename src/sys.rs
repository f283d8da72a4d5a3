//! The syscalls every copy path makes, wrapped once: each wrapper retries EINTR, waits for
//! writability on EAGAIN (never spins), classifies errors, and counts every call it issues into
//! [`Calls`] under the kernel's name for it, so a method can say what it did when perf cannot.

use std::collections::BTreeMap;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use crate::syscall::Syscall;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// Syscalls a method issued itself, by the kernel's name (`pread64`, `write`, `sendfile64`, …),
/// and, for the zero-copy paths, what the kernel's completions said.
///
/// Every attempt counts, including one interrupted by a signal: it was a real syscall.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Calls {
    counts: BTreeMap<Syscall, u64>,
    /// Calls that returned EAGAIN (the socket had no room), by name: each was followed by a wait.
    again: BTreeMap<Syscall, u64>,
    /// Calls that moved fewer bytes than asked, by name (a path that notes them: sendfile).
    short: BTreeMap<Syscall, u64>,
    /// Zero-copy sends and their completions (msg-zerocopy, io-uring-send-zc), else `None`.
    pub zerocopy: Option<ZeroCopy>,
}

impl Calls {
    pub fn add(&mut self, name: Syscall) {
        *self.counts.entry(name).or_insert(0) += 1;
    }

    /// Calls of `name` made (every attempt).
    pub fn count(&self, name: Syscall) -> u64 {
        self.counts.get(&name).copied().unwrap_or(0)
    }

    /// A call of `name` returned EAGAIN.
    pub fn add_again(&mut self, name: Syscall) {
        *self.again.entry(name).or_insert(0) += 1;
    }

    /// Calls of `name` that returned EAGAIN.
    pub fn again(&self, name: Syscall) -> u64 {
        self.again.get(&name).copied().unwrap_or(0)
    }

    /// A call of `name` moved fewer bytes than it asked for.
    pub fn add_short(&mut self, name: Syscall) {
        *self.short.entry(name).or_insert(0) += 1;
    }

    /// Calls of `name` that moved fewer bytes than asked.
    pub fn short(&self, name: Syscall) -> u64 {
        self.short.get(&name).copied().unwrap_or(0)
    }

    pub fn iter(&self) -> impl Iterator<Item = (Syscall, u64)> + '_ {
        self.counts.iter().map(|(k, v)| (*k, *v))
    }
}

/// What a zero-copy path asked for and what the kernel says it did: every zero-copy send is
/// acknowledged by a completion, and each completion says whether the kernel had to copy after
/// all (on loopback it does: the receiver may hold the data indefinitely).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ZeroCopy {
    /// Zero-copy sends the kernel accepted (each one owes a completion).
    pub sends: u64,
    /// Sends acknowledged by a completion (equal to `sends` after a successful transfer).
    pub completed: u64,
    /// Of the completed sends, how many the kernel reported as copied instead of zero-copied.
    pub copied: u64,
    /// Chunks sent with a plain, copying send after the kernel refused zero copy with ENOBUFS
    /// (optmem or locked-memory limit) even with no completion outstanding.
    pub plain_fallback: u64,
    /// Refusals to pin more memory seen: ENOBUFS (or ENOMEM from io_uring's RLIMIT_MEMLOCK
    /// accounting), each answered by draining completions, a smaller batch, or a plain send.
    pub enobufs: u64,
}

impl ZeroCopy {
    /// Completed sends the kernel did not report as copied: the ones really sent without a copy.
    pub fn zero_copied(&self) -> u64 {
        self.completed.saturating_sub(self.copied)
    }
}

/// The zero-copy sends of one transfer in the order they were made: where each ended in the
/// transfer's stream and what its completion said. A transfer that failed counts a send as
/// completed only if its completion said copied or its bytes reached the peer (see
/// [`Ledger::settle`]): when a client resets, the kernel frees the sends it never delivered and
/// their completions look exactly like real zero-copy ones.
#[derive(Debug, Default)]
pub struct Ledger {
    /// End of each send, in bytes from the transfer's first byte.
    ends: Vec<u64>,
    /// Per send: `None` until its completion, then whether the kernel copied.
    copied: Vec<Option<bool>>,
    /// MSG_ZEROCOPY completions as id ranges, possibly out of order.
    ranges: Vec<(u32, u32, bool)>,
}

impl Ledger {
    /// A zero-copy send that ended `end` bytes into the transfer; its index.
    pub fn sent(&mut self, end: u64) -> usize {
        self.ends.push(end);
        self.copied.push(None);
        self.ends.len() - 1
    }

    /// The completion of send `index`.
    pub fn completed(&mut self, index: usize, copied: bool) {
        if let Some(slot) = self.copied.get_mut(index) {
            *slot = Some(copied);
        }
    }

    /// A MSG_ZEROCOPY completion: the kernel's send ids `lo..=hi` (the socket numbers its
    /// zero-copy sends 0, 1, 2, …), resolved into sends by [`Ledger::settle`].
    pub fn completed_ids(&mut self, lo: u32, hi: u32, copied: bool) {
        self.ranges.push((lo, hi, copied));
    }

    /// Set `zc.completed` and `zc.copied` from the completions. `delivered` is `None` after a
    /// transfer that succeeded; after a failure, how many of the transfer's bytes the peer
    /// acknowledged: a completion not marked copied for a send that ended past that is a send
    /// the kernel dropped undelivered, not a zero-copied one, and is not counted as completed.
    pub fn settle(&mut self, zc: &mut ZeroCopy, delivered: Option<u64>) {
        // Every send made earlier on the socket had completed when this transfer began, and
        // the transfer's first send is the first the peer can acknowledge: its id is the lowest
        // completed (ids are per socket, so a second transfer on one socket starts past 0).
        if let Some(base) = self.ranges.iter().map(|r| r.0).min() {
            for (lo, hi, c) in std::mem::take(&mut self.ranges) {
                for id in lo..=hi {
                    self.completed(id.wrapping_sub(base) as usize, c);
                }
            }
        }
        let (mut completed, mut copied) = (0, 0);
        for (end, c) in self.ends.iter().zip(&self.copied) {
            match (c, delivered) {
                (Some(true), _) => {
                    completed += 1;
                    copied += 1;
                }
                (Some(false), None) => completed += 1,
                (Some(false), Some(d)) if *end <= d => completed += 1,
                _ => {}
            }
        }
        zc.completed = completed;
        zc.copied = copied;
    }
}

/// Of the last `handed` bytes given to TCP socket `fd`, how many the peer acknowledged: `handed`
/// less what the send queue still holds (SIOCOUTQ, still readable after a reset; bytes queued
/// before those, such as an HTTP head, make it err on the low side). 0 when the socket cannot
/// say: nothing is taken as delivered.
pub fn acknowledged(calls: &mut Calls, fd: BorrowedFd<'_>, handed: u64) -> u64 {
    let mut queued: libc::c_int = 0;
    calls.add(Syscall::Ioctl);
    // SAFETY: SIOCOUTQ writes one int through the pointer, which points at a live c_int.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    if r != 0 || queued < 0 {
        return 0;
    }
    handed.saturating_sub(queued as u64)
}

/// TCP socket `fd`'s `tcp_info` and how many of its bytes the kernel filled (an older kernel
/// fills fewer fields), for an observer: not counted in any `Calls`. `None` for a socket that
/// is not TCP.
pub fn tcp_info(fd: BorrowedFd<'_>) -> Option<(libc::tcp_info, usize)> {
    // SAFETY: tcp_info is plain old data; all zeroes is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is live and `len` says its size; the kernel writes at most that much.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (r == 0).then_some((info, len as usize))
}

/// Bytes of TCP socket `fd` the peer has acknowledged (`tcpi_bytes_acked`, Linux 4.1+), for an
/// observer on another thread: not counted in any `Calls`, as it is not the sender's syscall.
/// `None` for a socket that is not TCP or a kernel that cannot say.
pub fn tcp_bytes_acked(fd: BorrowedFd<'_>) -> Option<u64> {
    let (info, len) = tcp_info(fd)?;
    let end = std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + 8;
    (len >= end).then_some(info.tcpi_bytes_acked)
}

/// Why a transfer stopped before the last byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopKind {
    /// The file returned end-of-file (or EFAULT from a mapping) before its size at open time.
    FileChanged,
    /// The peer went away: EPIPE or ECONNRESET.
    PeerClosed(Errno),
    /// The peer stopped reading: no progress within the send timeout.
    Timeout,
    /// Any other failure of the named syscall.
    Failed { call: Syscall, errno: Errno },
}

/// A transfer that did not complete, with how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub sent: u64,
    pub expected: u64,
    pub kind: StopKind,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            StopKind::FileChanged => write!(
                f,
                "file changed size during transfer (sent {} of {} bytes)",
                self.sent, self.expected
            ),
            StopKind::PeerClosed(e) => write!(
                f,
                "client closed after {} of {} bytes ({})",
                self.sent,
                self.expected,
                e.desc()
            ),
            StopKind::Timeout => write!(
                f,
                "client stopped reading: no progress within the send timeout (sent {} of {} bytes)",
                self.sent, self.expected
            ),
            StopKind::Failed { call, errno } => write!(
                f,
                "{call} failed after {} of {} bytes: {} ({errno})",
                self.sent,
                self.expected,
                errno.desc()
            ),
        }
    }
}

impl std::error::Error for SendError {}

/// What a failed socket-side call means for the transfer.
pub fn classify(call: Syscall, errno: Errno) -> StopKind {
    match errno {
        Errno::EPIPE | Errno::ECONNRESET => StopKind::PeerClosed(errno),
        Errno::ETIMEDOUT => StopKind::Timeout,
        _ => StopKind::Failed { call, errno },
    }
}

/// Run one syscall until it does not fail with EINTR; on EAGAIN wait until `wait_fd` is writable.
///
/// `name` is what the kernel calls the syscall (its `sys_enter_<name>` tracepoint); each attempt
/// is counted. A `poll` made while waiting is counted too.
pub fn retry<T>(
    calls: &mut Calls,
    name: Syscall,
    wait_fd: Option<BorrowedFd<'_>>,
    mut f: impl FnMut() -> nix::Result<T>,
) -> nix::Result<T> {
    loop {
        calls.add(name);
        match f() {
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => match wait_fd {
                Some(fd) => {
                    calls.add_again(name);
                    wait_writable(calls, fd)?
                }
                None => return Err(Errno::EAGAIN),
            },
            other => return other,
        }
    }
}

/// Block until `fd` accepts more data (or reports an error, which the next write will return).
///
/// On a socket with a send timeout (see [`set_send_timeout`]), EAGAIN from a blocking call means
/// the timeout passed without progress: unless the socket is writable right now, this returns
/// ETIMEDOUT instead of waiting again.
pub fn wait_writable(calls: &mut Calls, fd: BorrowedFd<'_>) -> nix::Result<()> {
    let timeout = if SEND_TIMEOUT.get().is_some() {
        PollTimeout::ZERO
    } else {
        PollTimeout::NONE
    };
    loop {
        let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
        calls.add(Syscall::Poll);
        match poll(&mut fds, timeout) {
            Ok(0) => return Err(Errno::ETIMEDOUT),
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Block until `fd` has bytes to read, end-of-file or an error (which the next read returns):
/// one `poll` for POLLIN, counted, retried on EINTR. A socket with `SO_RCVLOWAT` wakes the poll
/// only once that many bytes are queued (or at end-of-file).
pub fn wait_readable(calls: &mut Calls, fd: BorrowedFd<'_>) -> nix::Result<()> {
    loop {
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        calls.add(Syscall::Poll);
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `recv(2)` of up to `len` bytes into `buf` with `flags`, counted as the kernel's `recvfrom`,
/// retried on EINTR; 0 means end-of-file. EAGAIN (a non-blocking socket with nothing queued) is
/// returned, not waited for.
///
/// # Safety
/// `buf..buf+len` must be writable for the call, or `buf` null with `MSG_TRUNC` on a TCP socket
/// (which discards the bytes without writing them anywhere).
pub unsafe fn recv_raw(
    calls: &mut Calls,
    fd: BorrowedFd<'_>,
    buf: *mut u8,
    len: usize,
    flags: libc::c_int,
) -> nix::Result<usize> {
    retry(calls, Syscall::Recvfrom, None, || {
        // SAFETY: the caller guarantees `buf` is writable for `len` bytes (or null with
        // MSG_TRUNC on TCP, where the kernel writes nothing).
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.cast(), len, flags) };
        Errno::result(n).map(|n| n as usize)
    })
}

/// `recv(2)` into `buf` (see [`recv_raw`]).
pub fn recv(
    calls: &mut Calls,
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    flags: libc::c_int,
) -> nix::Result<usize> {
    // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes for the whole call.
    unsafe { recv_raw(calls, fd, buf.as_mut_ptr(), buf.len(), flags) }
}

thread_local! {
    /// The SO_SNDTIMEO the sockets this thread sends to carry, if any.
    static SEND_TIMEOUT: std::cell::Cell<Option<std::time::Duration>> =
        const { std::cell::Cell::new(None) };
}

/// Give `fd` a send timeout (SO_SNDTIMEO): a blocking send that makes no progress for `limit`
/// returns, and the transfer ends with [`StopKind::Timeout`]. Marks this thread's sends as timed.
pub fn set_send_timeout(fd: BorrowedFd<'_>, limit: std::time::Duration) -> nix::Result<()> {
    use nix::sys::socket::{setsockopt, sockopt::SendTimeout};
    use nix::sys::time::TimeVal;
    let tv = TimeVal::new(
        limit.as_secs() as libc::time_t,
        limit.subsec_micros() as libc::suseconds_t,
    );
    setsockopt(&fd, SendTimeout, &tv)?;
    SEND_TIMEOUT.set(Some(limit));
    Ok(())
}

/// The send timeout this thread's sockets carry (see [`set_send_timeout`]): how long a path that
/// waits on its own (zero-copy completions, an io_uring) may wait without progress.
pub fn send_timeout() -> Option<std::time::Duration> {
    SEND_TIMEOUT.get()
}

/// `write(2)` all of `len` bytes starting at `ptr` to `fd`, looping on short counts.
///
/// Returns how many bytes were written before an error, with the error.
///
/// # Safety
/// `ptr..ptr+len` must stay a valid mapping (or buffer) for the duration of the call. The bytes
/// are only read by the kernel, never by user space, so a mapping whose file shrank yields
/// `EFAULT` (or a short write) rather than SIGBUS.
pub unsafe fn write_all_raw(
    calls: &mut Calls,
    fd: BorrowedFd<'_>,
    ptr: *const u8,
    len: usize,
) -> Result<(), (usize, Errno)> {
    let mut done = 0usize;
    while done < len {
        let r = retry(calls, Syscall::Write, Some(fd), || {
            // SAFETY: the caller guarantees ptr..ptr+len is mapped; done < len keeps the range
            // inside it. The kernel reads the bytes; user space never dereferences them.
            let n = unsafe { libc::write(fd.as_raw_fd(), ptr.add(done).cast(), len - done) };
            Errno::result(n).map(|n| n as usize)
        });
        match r {
            Ok(0) => return Err((done, Errno::EFAULT)),
            Ok(n) => done += n,
            Err(e) => return Err((done, e)),
        }
    }
    Ok(())
}

/// `write(2)` all of `buf` to `fd`, looping on short counts.
pub fn write_all(calls: &mut Calls, fd: BorrowedFd<'_>, buf: &[u8]) -> Result<(), (usize, Errno)> {
    // SAFETY: `buf` is a live slice for the whole call.
    unsafe { write_all_raw(calls, fd, buf.as_ptr(), buf.len()) }
}

/// `pread(2)` into `buf` at `offset`; a short read is returned as is (0 means end of file).
/// The size of a memory page (mmap offsets are multiples of it).
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no memory effects; it returns -1 only for an unknown name.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as u64 } else { 4096 }
}

pub fn pread(calls: &mut Calls, fd: impl AsFd, buf: &mut [u8], offset: u64) -> nix::Result<usize> {
    let off = i64::try_from(offset).map_err(|_| Errno::EOVERFLOW)?;
    retry(calls, Syscall::Pread64, None, || {
        nix::sys::uio::pread(&fd, buf, off)
    })
}

/// A zeroed buffer that starts on a page boundary.
///
/// A 128 KiB `Vec` comes from its own mmap with a 16-byte header, so it starts at page + 16;
/// the kernel's copy into such a destination measured 3.7× slower than into an aligned one on
/// an AMD EPYC. Real servers align their I/O buffers; so does copylab, or read-write would be
/// blamed for an allocator artefact.
pub struct PageBuf {
    v: Vec<u8>,
    off: usize,
    len: usize,
}

impl PageBuf {
    pub fn new(len: usize) -> PageBuf {
        const PAGE: usize = 4096;
        let v = vec![0u8; len + PAGE];
        let off = v.as_ptr().align_offset(PAGE).min(PAGE);
        PageBuf { v, off, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn as_mut(&mut self) -> &mut [u8] {
        &mut self.v[self.off..self.off + self.len]
    }

    pub fn as_ref(&self) -> &[u8] {
        &self.v[self.off..self.off + self.len]
    }
}

impl Default for PageBuf {
    fn default() -> PageBuf {
        PageBuf::new(0)
    }
}

/// Close a file descriptor, counting the `close` syscall.
pub fn close(calls: &mut Calls, fd: std::os::fd::OwnedFd) {
    calls.add(Syscall::Close);
    drop(fd);
}

/// A live mapping made inside a measured window, unmapped on drop if the method did not unmap
/// it (counted) itself.
pub struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: a Mapping is a region of this process's address space owned by one value; nothing
// about it is tied to the thread that made it.
unsafe impl Send for Mapping {}

impl Mapping {
    /// `mmap` `len` bytes of `fd` from `offset` (a multiple of the page size), read-only and
    /// shared: the page cache's own pages.
    pub fn file(
        calls: &mut Calls,
        fd: BorrowedFd<'_>,
        offset: u64,
        len: usize,
    ) -> nix::Result<Mapping> {
        let off = libc::off_t::try_from(offset).map_err(|_| Errno::EOVERFLOW)?;
        Mapping::new(calls, len, Backing::File(fd, off))
    }

    /// `mmap` `len` bytes of fresh, private, zero-filled memory: pages nobody else has seen.
    pub fn anonymous(calls: &mut Calls, len: usize) -> nix::Result<Mapping> {
        Mapping::new(calls, len, Backing::Anonymous)
    }

    /// A new mapping of `len` bytes of `backing` at an address the kernel picks (never
    /// `MAP_FIXED`), counted.
    fn new(calls: &mut Calls, len: usize, backing: Backing<'_>) -> nix::Result<Mapping> {
        let (prot, flags, fd, off) = match backing {
            Backing::File(fd, off) => (libc::PROT_READ, libc::MAP_SHARED, fd.as_raw_fd(), off),
            Backing::Anonymous => (
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            ),
        };
        retry(calls, Syscall::Mmap, None, || {
            // SAFETY: a new mapping at an address of the kernel's choosing (no MAP_FIXED), of a
            // descriptor the caller holds open or of anonymous memory: no existing memory is
            // affected.
            let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, off) };
            if p == libc::MAP_FAILED {
                Err(Errno::last())
            } else {
                Ok(Mapping { ptr: p, len })
            }
        })
    }

    pub fn ptr(&self) -> *mut u8 {
        self.ptr.cast()
    }

    /// `munmap`, counted.
    pub fn unmap(mut self, calls: &mut Calls) {
        calls.add(Syscall::Munmap);
        // SAFETY: ptr/len come from a successful mmap and no reference into it outlives self.
        unsafe { libc::munmap(self.ptr, self.len) };
        self.len = 0;
    }
}

/// What a [`Mapping`] maps: a file's pages from an offset (read-only, shared), or fresh
/// private memory.
#[derive(Clone, Copy)]
enum Backing<'a> {
    File(BorrowedFd<'a>, libc::off_t),
    Anonymous,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: as in `unmap`; reached only on an early return, after the last use.
            unsafe { libc::munmap(self.ptr, self.len) };
        }
    }
}

/// `uname -r`.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Effective capabilities of this process, a bit per capability (from /proc/self/status); 0
/// when unreadable.
pub fn effective_caps() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0)
}
