//! The fixed words the JSON and the text share: enums that serialise, and print, as one word each.

use serde::Serialize;

/// An enum whose values serialise, and print, as fixed words: one `name()` per value, the same
/// word in the JSON and in the text.
macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $word)] $variant,)+
        }

        impl $name {
            /// The word the JSON and the text use.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}
pub(crate) use words;

words! {
    /// Where compare's syscall figures come from, in a word.
    CounterSource {
        /// perf tracepoints counted every syscall.
        Perf => "perf",
        /// No perf: the figures are the methods' own counts, totals null.
        Rusage => "rusage",
    }
}

words! {
    /// What was asked of the page cache.
    CacheMode {
        /// Leave it alone.
        Warm => "warm",
        /// Drop the file's pages (posix_fadvise DONTNEED) before every run.
        Cold => "cold",
    }
}

words! {
    /// What the runs saw in the page cache.
    CacheState {
        /// At least 99% of the file resident.
        Warm => "warm",
        Partial => "partial",
        /// Less than 1% resident.
        Cold => "cold",
        /// mincore could not say.
        Unknown => "unknown",
    }
}

words! {
    /// Which runs' deliveries were hashed.
    Verify {
        /// The first measured run of each method.
        First => "first",
        /// Every run.
        All => "all",
    }
}

words! {
    /// Where a sweep point's CPU figure comes from.
    CpuSource {
        /// perf task-clock: precise.
        TaskClock => "task-clock",
        /// getrusage user + sys: tick-sampled, coarse for small files.
        Getrusage => "getrusage",
    }
}

words! {
    /// How a trace ended.
    Ended {
        /// The program ended by itself.
        Exited => "exited",
        /// --for ran out and the command was stopped.
        Time => "time",
        /// Ctrl-C or another stop signal (exit 130).
        Interrupted => "interrupted",
    }
}

words! {
    /// The path a set of syscalls shows, in a short name.
    PathKind {
        Sendfile => "sendfile",
        CopyFileRange => "copy_file_range",
        Splice => "splice",
        Vmsplice => "vmsplice",
        ReadWrite => "read+write",
        MmapWrite => "mmap+write",
        /// Writes with no reads to name where they came from.
        Write => "write",
        IoUring => "io_uring",
        /// The program received more than it sent.
        Receive => "receive",
        /// Too few bytes, or no copy-relevant syscall.
        None => "none",
    }
}

words! {
    /// Where a served transfer's wall time ends.
    WallEnds {
        /// The last send call returned: the bytes were handed to the socket.
        LastSend => "last-send",
        /// With --link: the client's TCP acknowledged the last byte (SIOCOUTQ reached 0).
        Acknowledged => "acknowledged",
    }
}
