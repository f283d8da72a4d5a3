//! The receiving end's paths, one file each behind one trait, the way `method/` holds the
//! sending paths: `recv` into a buffer (the kernel copies every byte), `recv(MSG_TRUNC)` (bytes
//! counted and dropped, none copied), `splice` socket → pipe → /dev/null (page references
//! dropped, none copied), and `TCP_ZEROCOPY_RECEIVE` (the socket's pages mapped into the
//! receiver where the kernel can, copied where it cannot). mod.rs is the registry.
//!
//! A receiver knows what it can check about the bytes (all of them hashed where it sees them,
//! only their count where it throws them away) and where it can run; it knows nothing about
//! counters or tables. Every syscall goes through `sys` and is counted under the kernel's name.

mod recv;
mod splice;
mod trunc;
mod zerocopy;

use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::method::{Model, Unavailable};
use crate::sys::Calls;
use crate::transport::Transport;

/// The receiving paths copylab knows, in the order tables show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReceiverKind {
    Recv,
    Trunc,
    Splice,
    Zerocopy,
}

impl ReceiverKind {
    /// Every receiving path (`--receive all`), in the registry's order.
    pub const ALL: [ReceiverKind; 4] = [
        ReceiverKind::Recv,
        ReceiverKind::Trunc,
        ReceiverKind::Splice,
        ReceiverKind::Zerocopy,
    ];

    /// This path's registry entry.
    pub fn path(self) -> &'static ReceivePath {
        // The registry lists the paths in the enum's order (checked by a test).
        let p = REGISTRY[self as usize];
        debug_assert_eq!(p.kind, self);
        p
    }

    pub fn name(self) -> &'static str {
        self.path().name
    }

    fn from_name(name: &str) -> Option<ReceiverKind> {
        ReceiverKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The receivers `text` names one by one (not through `all`): refused with an error when
    /// they cannot run here, where those that came with `all` are skipped with a warning.
    pub fn named_in(text: &str) -> Vec<ReceiverKind> {
        text.split(',')
            .map(str::trim)
            .filter_map(ReceiverKind::from_name)
            .collect()
    }

    /// Parse a comma-separated list (`recv,zerocopy`, or `all`), keeping the user's order and
    /// dropping repeats.
    pub fn parse_list(text: &str) -> Result<Vec<ReceiverKind>, String> {
        let names = || ReceiverKind::ALL.map(|k| k.name()).join(", ");
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let kinds: Vec<ReceiverKind> = if part == "all" {
                ReceiverKind::ALL.to_vec()
            } else {
                vec![ReceiverKind::from_name(part).ok_or_else(|| {
                    format!("unknown receiver '{part}': choose from {}, or all", names())
                })?]
            };
            for k in kinds {
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        if out.is_empty() {
            return Err(format!(
                "no receiver given: choose from {}, or all",
                names()
            ));
        }
        Ok(out)
    }

    /// What this receiver can say about the bytes.
    pub fn check(self) -> Check {
        self.path().check
    }

    /// Whether it runs only over copylab's private loopback (a page-aligned MTU).
    pub fn needs_private_lo(self) -> bool {
        self.path().private_lo
    }

    /// Whether this machine and `transport` can run it; the error says why not and the fix.
    pub fn availability(self, transport: Transport) -> Result<(), Unavailable> {
        (self.path().availability)(transport)
    }

    /// Where the bytes go on this receiving end, step by step, from the NIC on: what
    /// `explain` draws below the sender's picture.
    pub fn model(self) -> &'static Model {
        self.path().model
    }

    /// Where what `explain receive` says of this path can be checked.
    pub fn sources(self) -> &'static [&'static str] {
        self.path().sources
    }
}

impl std::fmt::Display for ReceiverKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a receiver's delivery is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// The receiver sees every byte: their XXH3-64 is compared with the file's (on the runs
    /// that hash, see `options.verify`), and their count on every run.
    Xxh3,
    /// The receiver throws the bytes away unseen: only their count can be compared.
    ByteCount,
}

impl Check {
    /// The word tables use.
    pub fn word(self) -> &'static str {
        match self {
            Check::Xxh3 => "xxh3",
            Check::ByteCount => "count",
        }
    }
}

/// One receiving path as the rest of copylab sees it; each path's file defines its `PATH`.
pub struct ReceivePath {
    pub kind: ReceiverKind,
    /// The name on the command line, in tables and JSON.
    pub name: &'static str,
    /// What it does, in one line.
    pub what: &'static str,
    pub check: Check,
    /// It needs copylab's private loopback (see `private_net`).
    pub private_lo: bool,
    pub availability: fn(Transport) -> Result<(), Unavailable>,
    pub build: fn(&ReceiveConfig) -> Box<dyn Receive>,
    /// Where the bytes go, from the NIC (or loopback) into this path's hands.
    pub model: &'static Model,
    /// Kernel files and functions its model and `explain receive` rest on.
    pub sources: &'static [&'static str],
}

/// Settings the receivers share.
#[derive(Debug, Clone, Copy)]
pub struct ReceiveConfig {
    /// The pipe size the splice receiver asks for (`F_SETPIPE_SZ`), as the splice sender does.
    pub pipe_size: usize,
}

/// A receiving path: takes one connection's bytes off its socket until end-of-file.
pub trait Receive: Send {
    /// Get ready for the connection `sock` (buffers, pipes, socket options, mappings): not part
    /// of the measurement, as a real receiver does it once per connection.
    fn prepare(&mut self, sock: BorrowedFd<'_>) -> std::io::Result<()>;

    /// Take every byte until end-of-file, telling `tally` what arrived in stream order and
    /// counting every syscall into `calls`. The measured window.
    fn receive(
        &mut self,
        sock: BorrowedFd<'_>,
        tally: &mut ReceiveTally<'_>,
        calls: &mut Calls,
    ) -> std::io::Result<()>;

    /// Undo `prepare` (unmap, close), after the window.
    fn finish(&mut self) {}

    /// zerocopy: where the bytes landed; None for the other paths.
    fn landed(&self) -> Option<Landed> {
        None
    }
}

/// Build a receiver of `kind`.
pub fn build(kind: ReceiverKind, cfg: &ReceiveConfig) -> Box<dyn Receive> {
    (kind.path().build)(cfg)
}

/// For a path that runs everywhere.
fn always(_: Transport) -> Result<(), Unavailable> {
    Ok(())
}

/// Every receiving path, in the enum's order.
pub static REGISTRY: [&ReceivePath; 4] =
    [&recv::PATH, &trunc::PATH, &splice::PATH, &zerocopy::PATH];

/// Where a zerocopy receiver's bytes landed: mapped (the socket's pages inserted into the
/// receiver's mapping, no copy), copied by the kernel into the copy buffer (the bytes before
/// or after a page that cannot be mapped), or read with `recv` as `recv_skip_hint` said.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Landed {
    pub mapped: u64,
    pub copybuf: u64,
    pub hint: u64,
}

/// [`Landed`] as the JSON reports it: counts, and shares of all the bytes received.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct ZeroCopyReceive {
    /// Bytes mapped into the receiver (no copy).
    pub mapped_bytes: u64,
    /// Bytes the kernel copied into the copy buffer (`copybuf_len`).
    pub copybuf_bytes: u64,
    /// Bytes read with `recv` because `recv_skip_hint` said they cannot be mapped.
    pub hint_bytes: u64,
    /// `mapped_bytes` in % of the three together.
    pub mapped_pct: f64,
    pub copybuf_pct: f64,
    pub hint_pct: f64,
}

impl ZeroCopyReceive {
    pub fn of(l: Landed) -> ZeroCopyReceive {
        let all = (l.mapped + l.copybuf + l.hint) as f64;
        let pct = |x: u64| {
            if all > 0.0 {
                (x as f64 / all * 1e4).round() / 100.0
            } else {
                0.0
            }
        };
        ZeroCopyReceive {
            mapped_bytes: l.mapped,
            copybuf_bytes: l.copybuf,
            hint_bytes: l.hint,
            mapped_pct: pct(l.mapped),
            copybuf_pct: pct(l.copybuf),
            hint_pct: pct(l.hint),
        }
    }
}

/// What arrived at the receiver.
pub struct Delivery {
    pub bytes: u64,
    /// XXH3-64 of everything received, when hashing was asked for and the receiver sees the
    /// bytes.
    pub hash: Option<u64>,
    /// When the expected byte count was reached (or end-of-file came, if it never was).
    pub done_at: Instant,
    /// zerocopy: where the bytes landed.
    pub landed: Option<Landed>,
}

/// The running account of one receive: bytes so far (published for the progress bar), the
/// hash of the bytes seen, and when the last expected byte came.
pub struct ReceiveTally<'a> {
    bytes: u64,
    expected: u64,
    hasher: Option<xxhash_rust::xxh3::Xxh3>,
    progress: &'a AtomicU64,
    done_at: Option<Instant>,
}

impl<'a> ReceiveTally<'a> {
    /// An account of `expected` bytes, checked by `check`: with [`Check::Xxh3`] what the
    /// receiver sees is hashed too.
    pub fn new(expected: u64, check: Check, progress: &'a AtomicU64) -> ReceiveTally<'a> {
        ReceiveTally {
            bytes: 0,
            expected,
            hasher: (check == Check::Xxh3).then(xxhash_rust::xxh3::Xxh3::new),
            progress,
            done_at: (expected == 0).then(Instant::now),
        }
    }

    /// Bytes the receiver holds, next in the stream: counted, and hashed when asked (only then
    /// are they read).
    pub fn seen(&mut self, data: &[u8]) {
        if let Some(h) = self.hasher.as_mut() {
            h.update(data);
        }
        self.add(data.len() as u64);
    }

    /// Bytes the kernel dropped for the receiver unseen: counted only.
    pub fn discarded(&mut self, n: u64) {
        self.add(n);
    }

    fn add(&mut self, n: u64) {
        self.bytes += n;
        self.progress.store(self.bytes, Ordering::Relaxed);
        if self.done_at.is_none() && self.bytes >= self.expected {
            self.done_at = Some(Instant::now());
        }
    }

    pub fn finish(self, landed: Option<Landed>) -> Delivery {
        Delivery {
            bytes: self.bytes,
            hash: self.hasher.map(|h| h.digest()),
            done_at: self.done_at.unwrap_or_else(Instant::now),
            landed,
        }
    }
}

/// The MSS the kernel uses for what `sock` receives (`tcp_info.tcpi_rcv_mss`), or None for a
/// socket that is not TCP.
pub fn rcv_mss(sock: BorrowedFd<'_>) -> Option<u32> {
    let (info, len) = crate::sys::tcp_info(sock)?;
    let end = std::mem::offset_of!(libc::tcp_info, tcpi_rcv_mss) + 4;
    (len >= end && info.tcpi_rcv_mss > 0).then_some(info.tcpi_rcv_mss)
}

/// An errno as the io::Error the receive loops return.
fn io(e: nix::errno::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_lists_the_receivers_in_the_enums_order() {
        for (i, p) in REGISTRY.iter().enumerate() {
            assert_eq!(p.kind as usize, i, "{}", p.name);
            assert_eq!(p.kind.name(), p.name);
        }
    }

    #[test]
    fn parses_receiver_lists() {
        assert_eq!(
            ReceiverKind::parse_list("trunc, recv").unwrap(),
            vec![ReceiverKind::Trunc, ReceiverKind::Recv]
        );
        assert_eq!(
            ReceiverKind::parse_list("zerocopy,all").unwrap(),
            vec![
                ReceiverKind::Zerocopy,
                ReceiverKind::Recv,
                ReceiverKind::Trunc,
                ReceiverKind::Splice
            ]
        );
        assert_eq!(
            ReceiverKind::named_in("all,splice"),
            vec![ReceiverKind::Splice]
        );
        let e = ReceiverKind::parse_list("mmap").unwrap_err();
        assert!(e.contains("unknown receiver 'mmap'"), "{e}");
        assert!(e.contains("recv, trunc, splice, zerocopy"), "{e}");
        assert!(ReceiverKind::parse_list(" , ").is_err());
    }

    #[test]
    fn shares_add_up_and_an_empty_receive_is_zero() {
        let z = ZeroCopyReceive::of(Landed {
            mapped: 3,
            copybuf: 1,
            hint: 0,
        });
        assert_eq!((z.mapped_pct, z.copybuf_pct, z.hint_pct), (75.0, 25.0, 0.0));
        let z = ZeroCopyReceive::of(Landed::default());
        assert_eq!(z.mapped_pct, 0.0);
    }

    #[test]
    fn a_tally_hashes_what_it_sees_and_only_counts_what_is_discarded() {
        let p = AtomicU64::new(0);
        let mut t = ReceiveTally::new(6, Check::Xxh3, &p);
        t.seen(b"abc");
        t.seen(b"def");
        let d = t.finish(None);
        assert_eq!(d.bytes, 6);
        assert_eq!(d.hash, Some(xxhash_rust::xxh3::xxh3_64(b"abcdef")));
        assert_eq!(p.load(Ordering::Relaxed), 6);
        let mut t = ReceiveTally::new(6, Check::ByteCount, &p);
        t.discarded(6);
        let d = t.finish(None);
        assert_eq!((d.bytes, d.hash), (6, None));
    }
}
