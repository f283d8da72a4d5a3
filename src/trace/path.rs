//! Naming the copy path a program used, in words, from the syscalls it made: "sendfile, 1 call
//! per 32 MiB", "read + sendto in 8 KiB chunks", "copy_file_range". One set of rules, used for
//! each process and for the whole trace.

use std::collections::BTreeMap;

use super::events::SysTally;
use crate::results::{PathKind, Verdict};
use crate::size::fmt_bytes;
use crate::syscall::Syscall;

/// Below this many bytes moved, nothing is named.
const LITTLE: u64 = 64 << 10;

/// Bytes into user space (a read-side copy) by these syscalls.
pub const READS: [Syscall; 5] = [
    Syscall::Read,
    Syscall::Pread64,
    Syscall::Readv,
    Syscall::Recvfrom,
    Syscall::Recvmsg,
];
/// Bytes out of user space (a write-side copy).
pub const WRITES: [Syscall; 5] = [
    Syscall::Write,
    Syscall::Pwrite64,
    Syscall::Writev,
    Syscall::Sendto,
    Syscall::Sendmsg,
];

fn of(sys: &BTreeMap<Syscall, SysTally>, name: Syscall) -> SysTally {
    sys.get(&name).copied().unwrap_or_default()
}

fn sum(sys: &BTreeMap<Syscall, SysTally>, names: &[Syscall]) -> u64 {
    names.iter().map(|n| of(sys, *n).bytes).sum()
}

/// Bytes a thread moved: the larger of what it read into user space and what it sent on or
/// had the kernel move (splice counts half: each byte is spliced into a pipe, then out).
pub fn moved_bytes(sys: &BTreeMap<Syscall, SysTally>) -> u64 {
    let reads = sum(sys, &READS);
    let out = sum(sys, &WRITES)
        + of(sys, Syscall::Sendfile64).bytes
        + of(sys, Syscall::CopyFileRange).bytes
        + of(sys, Syscall::Tee).bytes
        + of(sys, Syscall::Splice).bytes / 2;
    reads.max(out)
}

/// "1 call per 32.0 MiB", "2 calls, 16.0 MiB per call" — the calls that moved bytes.
fn per_call(t: SysTally) -> String {
    let moving = t.calls.saturating_sub(t.errors);
    if moving == 0 {
        return format!("{} calls, no bytes", t.calls);
    }
    let each = t.bytes / moving;
    let failed = if t.errors > 0 {
        format!(" ({} more failed and moved nothing)", t.errors)
    } else {
        String::new()
    };
    if moving == 1 {
        format!("1 call for {}{failed}", fmt_bytes(t.bytes))
    } else {
        format!("{moving} calls, {} per call{failed}", fmt_bytes(each))
    }
}

/// The most used (by bytes) of `names`, with its tally.
fn busiest(sys: &BTreeMap<Syscall, SysTally>, names: &[Syscall]) -> Option<(Syscall, SysTally)> {
    names
        .iter()
        .map(|n| (*n, of(sys, *n)))
        .filter(|(_, t)| t.bytes > 0)
        .max_by_key(|(_, t)| t.bytes)
}

/// Name the path of `sys`, the syscalls of a program called `program` (its main thread's name,
/// e.g. `java`, `python3`, `nginx`, `cp`; empty when unknown).
pub fn name(sys: &BTreeMap<Syscall, SysTally>, program: &str) -> Verdict {
    let moved = moved_bytes(sys).max(1);
    // A process that moved a few KiB (nginx's master, a shell) has no data path to name.
    if moved < LITTLE && of(sys, Syscall::IoUringEnter).calls == 0 {
        return Verdict {
            kind: PathKind::None,
            words: format!(
                "moved only {} through the traced syscalls: no data path",
                fmt_bytes(moved_bytes(sys))
            ),
        };
    }
    kernel_copy(sys, moved, program)
        .or_else(|| user_copy(sys))
        .unwrap_or_else(|| unseen_bytes(sys))
}

/// A path "dominates" when it moved at least half of the `moved` bytes.
fn dominates(bytes: u64, moved: u64) -> bool {
    bytes * 2 >= moved && bytes > 0
}

/// What `program` is, from the first of `known` (program-name prefix, words) it starts with.
fn known_program<'a>(program: &str, known: &[(&str, &'a str)]) -> Option<&'a str> {
    known
        .iter()
        .find(|(p, _)| program.starts_with(p))
        .map(|(_, said)| *said)
}

/// The path when a call that has the kernel move the bytes (sendfile, copy_file_range,
/// vmsplice, splice, tried in that order) dominates the `moved` bytes; `None` when none does.
fn kernel_copy(sys: &BTreeMap<Syscall, SysTally>, moved: u64, program: &str) -> Option<Verdict> {
    let sendfile = of(sys, Syscall::Sendfile64);
    let cfr = of(sys, Syscall::CopyFileRange);
    let splice = of(sys, Syscall::Splice);
    let vmsplice = of(sys, Syscall::Vmsplice);
    if dominates(sendfile.bytes, moved) {
        let said = known_program(
            program,
            &[
                (
                    "java",
                    "this is Java's FileChannel.transferTo (sendfile on the direct path), what Kafka's broker uses for fetches",
                ),
                ("python", "this is Python's socket.sendfile"),
                ("nginx", "this is nginx with `sendfile on`"),
            ],
        )
        .map_or_else(String::new, |s| format!(" — {s}"));
        return Some(Verdict {
            kind: PathKind::Sendfile,
            words: format!("sendfile, {}{said}", per_call(sendfile)),
        });
    }
    if dominates(cfr.bytes, moved) {
        let said = known_program(program, &[("cp", "GNU cp")])
            .map_or_else(String::new, |s| format!(" ({s})"));
        return Some(Verdict {
            kind: PathKind::CopyFileRange,
            words: format!(
                "copy_file_range{said}, {}: the kernel copies file to file, no user-space buffer",
                per_call(cfr)
            ),
        });
    }
    if dominates(vmsplice.bytes, moved) {
        return Some(Verdict {
            kind: PathKind::Vmsplice,
            words: format!(
                "vmsplice of user pages into a pipe, then splice to the socket: {}",
                per_call(vmsplice)
            ),
        });
    }
    dominates(splice.bytes / 2, moved).then(|| Verdict {
        kind: PathKind::Splice,
        words: format!("splice through a pipe, {}", per_call(splice)),
    })
}

/// The path when the bytes went through user space: the write side's path when a write-side
/// call moved bytes, else receives or reads only; `None` when no read or write moved any.
fn user_copy(sys: &BTreeMap<Syscall, SysTally>) -> Option<Verdict> {
    match busiest(sys, &WRITES) {
        Some((w, wt)) => Some(written(sys, w, wt)),
        None => busiest(sys, &READS).map(|(r, rt)| Verdict {
            kind: PathKind::Receive,
            words: format!("receives or reads only: {r}, {}", per_call(rt)),
        }),
    }
}

/// The path of bytes written out by `w` (the busiest write-side call, its tally `wt`): from
/// mmapped pages, after a read into a buffer, or from memory.
fn written(sys: &BTreeMap<Syscall, SysTally>, w: Syscall, wt: SysTally) -> Verdict {
    let reads = sum(sys, &READS);
    let writes = sum(sys, &WRITES);
    let mmaps = of(sys, Syscall::Mmap).calls;
    if reads * 4 < writes && mmaps > 0 {
        return Verdict {
            kind: PathKind::MmapWrite,
            words: format!(
                "mmap + {w}: {mmaps} mmap calls, {w} {}; the file's pages reach the socket without a read",
                per_call(wt)
            ),
        };
    }
    if let Some((r, rt)) = busiest(sys, &READS[..3]) {
        // The chunk is the write side's: the read side also holds whatever else the program
        // read (an interpreter reads its libraries and scripts).
        let chunk = wt.bytes / wt.calls.saturating_sub(wt.errors).max(1);
        return Verdict {
            kind: PathKind::ReadWrite,
            words: format!(
                "{r} + {w} in {} chunks ({r}: {}; {w}: {}): two CPU copies per byte",
                fmt_bytes(chunk),
                per_call(rt),
                per_call(wt)
            ),
        };
    }
    Verdict {
        kind: PathKind::Write,
        words: format!(
            "{w}: {} (the bytes came from memory, not a file read)",
            per_call(wt)
        ),
    }
}

/// The verdict when none of the syscalls trace sees moved bytes: io_uring's operations, or
/// nothing at all.
fn unseen_bytes(sys: &BTreeMap<Syscall, SysTally>) -> Verdict {
    let uring = of(sys, Syscall::IoUringEnter).calls;
    if uring > 0 {
        return Verdict {
            kind: PathKind::IoUring,
            words: format!(
                "io_uring: {uring} io_uring_enter calls; the operations themselves are not syscalls, so trace cannot see their bytes"
            ),
        };
    }
    Verdict {
        kind: PathKind::None,
        words: "no copy-relevant syscall moved any bytes".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sys(entries: &[(&'static str, u64, u64)]) -> BTreeMap<Syscall, SysTally> {
        entries
            .iter()
            .map(|(n, calls, bytes)| {
                (
                    Syscall::from_name(n).expect("a syscall's kernel name"),
                    SysTally {
                        calls: *calls,
                        bytes: *bytes,
                        errors: 0,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn names_each_path_from_its_syscalls() {
        let v = name(
            &sys(&[("sendfile64", 2, 64 << 20), ("read", 3, 900)]),
            "java",
        );
        assert_eq!(v.kind.name(), "sendfile");
        assert!(v.words.contains("2 calls, 32 MiB per call"), "{}", v.words);
        assert!(v.words.contains("transferTo"), "{}", v.words);
        let v = name(
            &sys(&[("read", 1024, 8 << 20), ("sendto", 1024, 8 << 20)]),
            "x",
        );
        assert_eq!(v.kind.name(), "read+write");
        assert!(
            v.words.starts_with("read + sendto in 8 KiB chunks"),
            "{}",
            v.words
        );
        let v = name(&sys(&[("read", 18, 19_908), ("write", 10, 680)]), "nginx");
        assert_eq!(v.kind.name(), "none", "{}", v.words);
        let v = name(&sys(&[("copy_file_range", 2, 1 << 20)]), "cp");
        assert_eq!(v.kind.name(), "copy_file_range");
        assert!(v.words.contains("(GNU cp)"), "{}", v.words);
        let v = name(&sys(&[("splice", 64, 4 << 20)]), "x");
        assert_eq!(v.kind.name(), "splice");
        let v = name(&sys(&[("mmap", 3, 0), ("write", 4, 4 << 20)]), "x");
        assert_eq!(v.kind.name(), "mmap+write");
        assert_eq!(name(&sys(&[]), "x").kind.name(), "none");
    }
}
