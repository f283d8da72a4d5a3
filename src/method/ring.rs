//! The io_uring the io_uring paths share: set-up outside the measured window, one counted
//! `io_uring_enter` per submit-and-wait, feature detection, and the CPU time of the kernel's
//! io-wq worker threads, which do work the serving thread's counters cannot see.

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use io_uring::{IoUring, Probe, cqueue, opcode, squeue, types};
use nix::errno::Errno;

use super::{MethodKind, Unavailable};
use crate::sys::Calls;
use crate::syscall::Syscall;
use crate::transport::Transport;

/// One io_uring with room for `depth` submissions (and twice as many completions).
pub struct Ring {
    pub uring: IoUring,
    pub depth: u32,
}

/// A completion, copied out of the ring.
#[derive(Debug, Clone, Copy)]
pub struct Completion {
    pub user_data: u64,
    pub result: i32,
    pub flags: u32,
}

impl Ring {
    /// A ring with at least `depth` submission entries (rounded up to a power of two).
    pub fn new(depth: u32) -> io::Result<Ring> {
        let depth = depth.max(2).next_power_of_two();
        Ok(Ring {
            uring: IoUring::new(depth)?,
            depth,
        })
    }

    /// Give `scratch` a ring of at least `depth` entries if it has none (one dropped after an
    /// error is made again).
    pub fn ensure(scratch: &mut super::Scratch, depth: u32) -> anyhow::Result<()> {
        if scratch.ring.as_ref().is_none_or(|r| r.depth < depth) {
            scratch.ring = Some(Ring::new(depth).map_err(|e| {
                anyhow::anyhow!("cannot set up an io_uring: {}", setup_refused(&e))
            })?);
        }
        Ok(())
    }

    /// Queue `entries` (at most `depth` of them) as one linked chain: each starts only after
    /// the one before it completed in full, and a short or failed one cancels the rest.
    /// EBUSY when the submission queue has no room.
    ///
    /// # Safety
    /// Every buffer, pipe and socket the entries name must stay valid until their completions
    /// have been reaped (or the ring is dropped, which cancels them).
    pub unsafe fn push_chain(&mut self, entries: Vec<squeue::Entry>) -> Result<(), Errno> {
        let last = entries.len().saturating_sub(1);
        let mut sq = self.uring.submission();
        for (i, e) in entries.into_iter().enumerate() {
            let e = if i < last {
                e.flags(squeue::Flags::IO_LINK)
            } else {
                e
            };
            // SAFETY: the caller keeps what the entry refers to alive (see above).
            unsafe { sq.push(&e) }.map_err(|_| Errno::EBUSY)?;
        }
        Ok(())
    }

    /// One `io_uring_enter`: submit what is queued and wait for at least `want` completions,
    /// giving up with ETIMEDOUT after the thread's send timeout (if it has one). Retries EINTR.
    pub fn enter(&mut self, calls: &mut Calls, want: usize) -> Result<(), Errno> {
        let limit = crate::sys::send_timeout();
        loop {
            calls.add(Syscall::IoUringEnter);
            let r = match limit {
                Some(d) if want > 0 => {
                    let ts = timespec(d);
                    let args = types::SubmitArgs::new().timespec(&ts);
                    self.uring.submitter().submit_with_args(want, &args)
                }
                _ => self.uring.submitter().submit_and_wait(want),
            };
            match r {
                Ok(_) => return Ok(()),
                Err(e) => match e.raw_os_error().map(Errno::from_raw) {
                    Some(Errno::EINTR) => continue,
                    // The wait ended without the completions: no progress within the timeout.
                    Some(Errno::ETIME) => return Err(Errno::ETIMEDOUT),
                    Some(errno) => return Err(errno),
                    None => return Err(Errno::EIO),
                },
            }
        }
    }

    /// Cancel every request still in flight and collect the completions they owe: those for
    /// which `owed` is true, until `want` of them have arrived. A cancelled request completes
    /// too — with -ECANCELED, or with the bytes it moved before it was stopped — so a transfer
    /// that failed can count what the kernel really did. Returns what arrived; gives up early if
    /// the kernel refuses the cancellation (before 5.19) or a wait fails (the send timeout).
    pub fn cancel_and_reap(
        &mut self,
        calls: &mut Calls,
        want: usize,
        owed: impl Fn(&Completion) -> bool,
    ) -> Vec<Completion> {
        const CANCEL: u64 = u64::MAX;
        let mut out = Vec::new();
        let e = opcode::AsyncCancel2::new(types::CancelBuilder::any())
            .build()
            .user_data(CANCEL);
        // SAFETY: a cancellation names no buffer or descriptor of ours.
        if unsafe { self.uring.submission().push(&e) }.is_err() {
            return out;
        }
        let (mut got, mut cancelled) = (0usize, false);
        while got < want || !cancelled {
            if self
                .enter(calls, want.saturating_sub(got) + usize::from(!cancelled))
                .is_err()
            {
                break;
            }
            for c in self.reap() {
                if c.user_data == CANCEL {
                    cancelled = true;
                    // Unsupported: the requests may never complete; take what is there.
                    if c.result == -libc::EINVAL {
                        got = want;
                    }
                    continue;
                }
                if owed(&c) {
                    got += 1;
                }
                out.push(c);
            }
        }
        out
    }

    /// Every completion waiting in the ring, in order.
    pub fn reap(&mut self) -> Vec<Completion> {
        self.uring
            .completion()
            .map(|c: cqueue::Entry| Completion {
                user_data: c.user_data(),
                result: c.result(),
                flags: c.flags(),
            })
            .collect()
    }
}

fn timespec(d: Duration) -> types::Timespec {
    types::Timespec::new()
        .sec(d.as_secs())
        .nsec(d.subsec_nanos())
}

/// Whether `kind` (an io_uring path) can run here over `transport`.
pub fn availability(kind: MethodKind, transport: Transport) -> Result<(), Unavailable> {
    let ring = IoUring::new(2).map_err(|e| setup_refused(&e))?;
    let mut probe = Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| Unavailable {
            reason: format!("this kernel cannot list its io_uring operations ({e})"),
            fix: "io_uring operation probing needs Linux 5.6 or later".into(),
        })?;
    let (code, op, since) = match kind {
        MethodKind::IoUringSendZc => (opcode::SendZc::CODE, "IORING_OP_SEND_ZC", "6.0"),
        _ => (opcode::Splice::CODE, "IORING_OP_SPLICE", "5.7"),
    };
    if !probe.is_supported(code) {
        return Err(Unavailable {
            reason: format!("this kernel's io_uring lacks {op}"),
            fix: format!("{kind} needs Linux {since} or later"),
        });
    }
    if kind == MethodKind::IoUringSendZc && transport == Transport::Unix {
        return Err(Unavailable {
            reason: "io_uring zero-copy send works on TCP and UDP sockets only (the kernel refuses it on Unix sockets)".into(),
            fix: "use --transport tcp".into(),
        });
    }
    Ok(())
}

/// Why `io_uring_setup` failed, in words a user can act on.
pub fn setup_refused(e: &io::Error) -> Unavailable {
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    match e.raw_os_error() {
        Some(libc::EPERM) => Unavailable {
            reason: format!(
                "io_uring is disabled for this user (io_uring_setup: EPERM; kernel.io_uring_disabled = {})",
                if disabled.is_empty() { "?" } else { &disabled }
            ),
            fix: "set sysctl kernel.io_uring_disabled=0, or add the user to the group in kernel.io_uring_group".into(),
        },
        Some(libc::ENOSYS) => Unavailable {
            reason: "io_uring is blocked here (io_uring_setup: ENOSYS; a seccomp filter such as a container's default profile, or a kernel built without io_uring)".into(),
            fix: "run outside the sandbox or allow the io_uring syscalls".into(),
        },
        Some(libc::ENOMEM) => Unavailable {
            reason: "io_uring_setup: ENOMEM (locked-memory limit too low for the ring)".into(),
            fix: "raise ulimit -l".into(),
        },
        _ => Unavailable {
            reason: format!("io_uring_setup failed: {e}"),
            fix: "run copylab doctor for details".into(),
        },
    }
}

/// CPU time, in ns, that each of thread `tid`'s io-wq workers (`iou-wrk-<tid>`) has run so far,
/// by worker thread id; from /proc/self/task/*/schedstat (or, without schedstats, stat's ticks).
pub fn worker_times(tid: i32) -> BTreeMap<i32, u64> {
    let name = format!("iou-wrk-{tid}");
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        let Some(worker) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let ns = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .or_else(|| stat_ticks_ns(&path))
            .unwrap_or(0);
        out.insert(worker, ns);
    }
    out
}

/// utime + stime from /proc/<task>/stat, in ns.
fn stat_ticks_ns(task: &std::path::Path) -> Option<u64> {
    let stat = std::fs::read_to_string(task.join("stat")).ok()?;
    // Fields after the parenthesised comm; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(ticks * 1_000_000_000 / hz)
}
