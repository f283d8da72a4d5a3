//! The syscalls copylab counts, traces and makes: one enum, with each one's kernel name (the name
//! of its tracepoint, `syscalls:sys_enter_<name>`, and the key in every table and JSON map), its
//! number on this architecture, and whether its return value is a byte count.

use serde::Serialize;

/// A syscall copylab names somewhere: counted one by one on a measured thread, followed by
/// `trace`, or made by a copy path (and counted by it).
///
/// Ordered by name, as the maps keyed by it print and serialise (`pread64` before `write`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Syscall {
    #[serde(rename = "read")]
    Read,
    #[serde(rename = "pread64")]
    Pread64,
    #[serde(rename = "readv")]
    Readv,
    #[serde(rename = "write")]
    Write,
    #[serde(rename = "pwrite64")]
    Pwrite64,
    #[serde(rename = "writev")]
    Writev,
    #[serde(rename = "sendto")]
    Sendto,
    #[serde(rename = "sendmsg")]
    Sendmsg,
    #[serde(rename = "recvfrom")]
    Recvfrom,
    #[serde(rename = "recvmsg")]
    Recvmsg,
    #[serde(rename = "sendfile64")]
    Sendfile64,
    #[serde(rename = "splice")]
    Splice,
    #[serde(rename = "vmsplice")]
    Vmsplice,
    #[serde(rename = "tee")]
    Tee,
    #[serde(rename = "copy_file_range")]
    CopyFileRange,
    #[serde(rename = "mmap")]
    Mmap,
    #[serde(rename = "munmap")]
    Munmap,
    #[serde(rename = "madvise")]
    Madvise,
    #[serde(rename = "io_uring_setup")]
    IoUringSetup,
    #[serde(rename = "io_uring_enter")]
    IoUringEnter,
    #[serde(rename = "pipe2")]
    Pipe2,
    #[serde(rename = "poll")]
    Poll,
    #[serde(rename = "getsockopt")]
    Getsockopt,
    #[serde(rename = "ioctl")]
    Ioctl,
    #[serde(rename = "close")]
    Close,
}

use Syscall::*;

impl Syscall {
    /// Every one, in table order.
    #[cfg(test)]
    pub const ALL: [Syscall; 25] = [
        Read,
        Pread64,
        Readv,
        Write,
        Pwrite64,
        Writev,
        Sendto,
        Sendmsg,
        Recvfrom,
        Recvmsg,
        Sendfile64,
        Splice,
        Vmsplice,
        Tee,
        CopyFileRange,
        Mmap,
        Munmap,
        Madvise,
        IoUringSetup,
        IoUringEnter,
        Pipe2,
        Poll,
        Getsockopt,
        Ioctl,
        Close,
    ];

    /// The ones a measured thread's counters count one by one (compare's data syscalls).
    pub const COUNTED: [Syscall; 12] = [
        Read,
        Pread64,
        Write,
        Sendto,
        Sendmsg,
        Recvmsg,
        Mmap,
        Munmap,
        Sendfile64,
        Splice,
        Vmsplice,
        IoUringEnter,
    ];

    /// The ones `copylab trace` follows in another program.
    pub const TRACED: [Syscall; 18] = [
        Read,
        Pread64,
        Readv,
        Write,
        Pwrite64,
        Writev,
        Sendto,
        Sendmsg,
        Recvfrom,
        Recvmsg,
        Sendfile64,
        Splice,
        Vmsplice,
        Tee,
        CopyFileRange,
        Mmap,
        Munmap,
        IoUringEnter,
    ];

    /// The kernel's name: the tracepoint's (`sendfile64`, `pread64`), as perf, strace and the
    /// JSON write it.
    pub fn name(self) -> &'static str {
        match self {
            Read => "read",
            Pread64 => "pread64",
            Readv => "readv",
            Write => "write",
            Pwrite64 => "pwrite64",
            Writev => "writev",
            Sendto => "sendto",
            Sendmsg => "sendmsg",
            Recvfrom => "recvfrom",
            Recvmsg => "recvmsg",
            Sendfile64 => "sendfile64",
            Splice => "splice",
            Vmsplice => "vmsplice",
            Tee => "tee",
            CopyFileRange => "copy_file_range",
            Mmap => "mmap",
            Munmap => "munmap",
            Madvise => "madvise",
            IoUringSetup => "io_uring_setup",
            IoUringEnter => "io_uring_enter",
            Pipe2 => "pipe2",
            Poll => "poll",
            Getsockopt => "getsockopt",
            Ioctl => "ioctl",
            Close => "close",
        }
    }

    /// Its number on this architecture (the `id` of `raw_syscalls:*` records and filters).
    pub fn number(self) -> libc::c_long {
        match self {
            Read => libc::SYS_read,
            Pread64 => libc::SYS_pread64,
            Readv => libc::SYS_readv,
            Write => libc::SYS_write,
            Pwrite64 => libc::SYS_pwrite64,
            Writev => libc::SYS_writev,
            Sendto => libc::SYS_sendto,
            Sendmsg => libc::SYS_sendmsg,
            Recvfrom => libc::SYS_recvfrom,
            Recvmsg => libc::SYS_recvmsg,
            Sendfile64 => libc::SYS_sendfile,
            Splice => libc::SYS_splice,
            Vmsplice => libc::SYS_vmsplice,
            Tee => libc::SYS_tee,
            CopyFileRange => libc::SYS_copy_file_range,
            Mmap => libc::SYS_mmap,
            Munmap => libc::SYS_munmap,
            Madvise => libc::SYS_madvise,
            IoUringSetup => libc::SYS_io_uring_setup,
            IoUringEnter => libc::SYS_io_uring_enter,
            Pipe2 => libc::SYS_pipe2,
            Poll => libc::SYS_poll,
            Getsockopt => libc::SYS_getsockopt,
            Ioctl => libc::SYS_ioctl,
            Close => libc::SYS_close,
        }
    }

    /// Its return value is a count of bytes moved (mmap returns an address, io_uring_enter a
    /// number of submissions, and the others no bytes of the transfer).
    pub fn moves_data(self) -> bool {
        matches!(
            self,
            Read | Pread64
                | Readv
                | Write
                | Pwrite64
                | Writev
                | Sendto
                | Sendmsg
                | Recvfrom
                | Recvmsg
                | Sendfile64
                | Splice
                | Vmsplice
                | Tee
                | CopyFileRange
        )
    }

    /// The syscall with this number on this architecture.
    #[cfg(test)]
    pub fn from_number(nr: libc::c_long) -> Option<Syscall> {
        Syscall::ALL.into_iter().find(|s| s.number() == nr)
    }

    /// The syscall with this kernel name.
    #[cfg(test)]
    pub fn from_name(name: &str) -> Option<Syscall> {
        Syscall::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl Ord for Syscall {
    fn cmp(&self, other: &Syscall) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl PartialOrd for Syscall {
    fn partial_cmp(&self, other: &Syscall) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Syscall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_json_agree() {
        let mut names = std::collections::HashSet::new();
        let mut numbers = std::collections::HashSet::new();
        for s in Syscall::ALL {
            assert!(names.insert(s.name()), "{s} twice");
            assert!(numbers.insert(s.number()), "{s}'s number twice");
            assert_eq!(Syscall::from_name(s.name()), Some(s));
            assert_eq!(Syscall::from_number(s.number()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.name()),
                "the JSON says the kernel's name"
            );
        }
        for s in Syscall::COUNTED.into_iter().chain(Syscall::TRACED) {
            assert!(Syscall::ALL.contains(&s));
        }
        assert!(Syscall::Sendfile64.moves_data() && !Syscall::Mmap.moves_data());
    }
}
