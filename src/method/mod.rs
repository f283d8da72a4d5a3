//! The copy paths, one file each behind one trait, and the textbook model each one is taught with.
//!
//! A method knows how to move a [`Source`]'s bytes into a connected socket and which syscalls it
//! issued; it knows nothing about counters, tables or progress bars.

mod mmap;
mod read_write;
mod sendfile;
mod splice;

use std::fmt;
use std::os::fd::{BorrowedFd, OwnedFd};

use serde::Serialize;

use crate::source::Source;
use crate::sys::{Calls, SendError};

pub use mmap::MMAP_WINDOW;

/// The copy paths copylab knows, in the order tables show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MethodKind {
    ReadWrite,
    Mmap,
    Sendfile,
    Splice,
}

impl MethodKind {
    pub const ALL: [MethodKind; 4] = [
        MethodKind::ReadWrite,
        MethodKind::Mmap,
        MethodKind::Sendfile,
        MethodKind::Splice,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MethodKind::ReadWrite => "read-write",
            MethodKind::Mmap => "mmap",
            MethodKind::Sendfile => "sendfile",
            MethodKind::Splice => "splice",
        }
    }

    /// Parse a comma-separated list (`read-write,sendfile`, or `all`), keeping the user's order
    /// and dropping repeats.
    pub fn parse_list(text: &str) -> Result<Vec<MethodKind>, String> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "all" {
                for k in MethodKind::ALL {
                    if !out.contains(&k) {
                        out.push(k);
                    }
                }
                continue;
            }
            let k = MethodKind::ALL
                .into_iter()
                .find(|k| k.name() == part)
                .ok_or_else(|| {
                    format!(
                        "unknown method '{part}': choose from {}, or all",
                        MethodKind::ALL.map(|k| k.name()).join(", ")
                    )
                })?;
            if !out.contains(&k) {
                out.push(k);
            }
        }
        if out.is_empty() {
            return Err(
                "no method given: choose from read-write, mmap, sendfile, splice, or all".into(),
            );
        }
        Ok(out)
    }

    /// What the classic articles say this path costs (see the textbook table in the README).
    pub fn textbook(self) -> Textbook {
        match self {
            MethodKind::ReadWrite => Textbook {
                syscalls_per_chunk: "read + write",
                cpu_copies: "2",
                dma_copies: 2,
                transitions: 4,
                note: "page cache → user buffer → socket buffer",
            },
            MethodKind::Mmap => Textbook {
                syscalls_per_chunk: "write (mmap once)",
                cpu_copies: "1",
                dma_copies: 2,
                transitions: 4,
                note: "page cache → socket buffer; pages mapped into user space",
            },
            MethodKind::Sendfile => Textbook {
                syscalls_per_chunk: "sendfile",
                cpu_copies: "1 (0 with SG-DMA)",
                dma_copies: 2,
                transitions: 2,
                note: "page cache → socket inside the kernel",
            },
            MethodKind::Splice => Textbook {
                syscalls_per_chunk: "splice ×2 (file→pipe→socket)",
                cpu_copies: "0",
                dma_copies: 2,
                transitions: 4,
                note: "page references move through a pipe",
            },
        }
    }
}

impl fmt::Display for MethodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The textbook model of one path: copies and user↔kernel transitions per transfer.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Textbook {
    /// Syscalls the textbook issues per chunk.
    pub syscalls_per_chunk: &'static str,
    /// CPU copies of each byte on the sending host.
    pub cpu_copies: &'static str,
    /// DMA copies (disk → page cache, socket buffer → NIC).
    pub dma_copies: u32,
    /// User↔kernel mode transitions the textbook counts (what it calls "context switches").
    pub transitions: u32,
    /// Where the bytes go, in a phrase.
    pub note: &'static str,
}

/// Per-connection state a method reuses across transfers, allocated outside the measured window
/// (a real server allocates its buffer or pipe once per connection, not per chunk).
#[derive(Default)]
pub struct Scratch {
    pub buf: Vec<u8>,
    /// Read and write ends of a pipe, for splice.
    pub pipe: Option<(OwnedFd, OwnedFd)>,
}

/// Settings the methods share.
#[derive(Debug, Clone, Copy)]
pub struct MethodConfig {
    /// User buffer for read-write.
    pub buffer: usize,
    /// Pipe size asked for splice (`F_SETPIPE_SZ`).
    pub pipe_size: usize,
}

/// A copy path: moves a file's bytes into a connected socket.
pub trait Method: Send + Sync {
    fn kind(&self) -> MethodKind;

    /// Get `scratch` ready for a transfer (buffers, pipes). Not part of the measurement.
    fn prepare(&self, scratch: &mut Scratch) -> anyhow::Result<()>;

    /// Send all `src.len` bytes of `src` to `sock`, counting every syscall into `calls`.
    /// Returns the bytes sent, which on success is exactly `src.len`.
    fn send(
        &self,
        src: &Source,
        sock: BorrowedFd<'_>,
        scratch: &mut Scratch,
        calls: &mut Calls,
    ) -> Result<u64, SendError>;

    /// Facts about how this path was set up, for the report header (e.g. the pipe size granted).
    fn setup_notes(&self) -> Vec<String> {
        Vec::new()
    }

    /// The pipe capacity the kernel granted, for paths that use a pipe.
    fn granted_pipe_bytes(&self) -> Option<u64> {
        None
    }
}

/// Build a method of `kind` with `cfg`. Fails only when the kernel refuses the set-up (e.g. a
/// pipe cannot be created).
pub fn build(kind: MethodKind, cfg: MethodConfig) -> anyhow::Result<Box<dyn Method>> {
    Ok(match kind {
        MethodKind::ReadWrite => Box::new(read_write::ReadWrite::new(cfg.buffer)),
        MethodKind::Mmap => Box::new(mmap::Mmap),
        MethodKind::Sendfile => Box::new(sendfile::Sendfile),
        MethodKind::Splice => Box::new(splice::Splice::new(cfg.pipe_size)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_method_lists() {
        assert_eq!(
            MethodKind::parse_list("sendfile,splice").unwrap(),
            vec![MethodKind::Sendfile, MethodKind::Splice]
        );
        assert_eq!(
            MethodKind::parse_list("all").unwrap(),
            MethodKind::ALL.to_vec()
        );
        assert_eq!(
            MethodKind::parse_list("mmap,mmap").unwrap(),
            vec![MethodKind::Mmap]
        );
        let e = MethodKind::parse_list("nosuch").unwrap_err();
        assert!(e.contains("unknown method 'nosuch'"), "{e}");
        assert!(MethodKind::parse_list(",").is_err());
    }
}
