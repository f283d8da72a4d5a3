//! The copy paths, one file each behind one trait, and the textbook model each one is taught with.
//!
//! A method knows how to move a [`Source`]'s bytes into a connected socket and which syscalls it
//! issued; it knows nothing about counters, tables or progress bars.

mod io_uring_send_zc;
mod io_uring_splice;
mod mmap;
mod msg_zerocopy;
mod read_write;
mod ring;
mod sendfile;
mod splice;
mod vmsplice;

use std::fmt;
use std::os::fd::{BorrowedFd, OwnedFd};

use serde::Serialize;

use crate::source::Part;
use crate::sys::{Calls, SendError};
use crate::transport::Transport;

pub use mmap::MMAP_WINDOW;
pub use ring::{Ring, worker_times};
pub use vmsplice::VMSPLICE_REGION;

/// The copy paths copylab knows, in the order tables show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MethodKind {
    ReadWrite,
    Mmap,
    Sendfile,
    Splice,
    Vmsplice,
    MsgZerocopy,
    IoUringSplice,
    IoUringSendZc,
}

impl MethodKind {
    /// The four paths the classic articles teach: the default set, sized for a projector.
    pub const CLASSIC: [MethodKind; 4] = [
        MethodKind::ReadWrite,
        MethodKind::Mmap,
        MethodKind::Sendfile,
        MethodKind::Splice,
    ];

    /// Every path copylab knows (`--methods all`), in the registry's order.
    pub const ALL: [MethodKind; REGISTRY.len()] = {
        let mut all = [MethodKind::ReadWrite; REGISTRY.len()];
        let mut i = 0;
        while i < REGISTRY.len() {
            all[i] = REGISTRY[i].kind;
            i += 1;
        }
        all
    };

    /// This path's registry entry.
    pub fn path(self) -> &'static Path {
        // The registry lists the paths in the enum's order (checked by a test), so a kind's
        // discriminant is its index.
        REGISTRY[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.path().name
    }

    /// The methods `text` names one by one (not through `all`): these are refused with an error
    /// when this machine cannot run them, where methods that came with `all` are skipped.
    pub fn named_in(text: &str) -> Vec<MethodKind> {
        text.split(',')
            .map(str::trim)
            .filter_map(MethodKind::from_name)
            .collect()
    }

    /// The method called `name` (`read-write`, `io-uring-splice`, …).
    pub fn from_name(name: &str) -> Option<MethodKind> {
        MethodKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Parse a comma-separated list (`read-write,sendfile`, `classic` for the four classic paths,
    /// or `all`), keeping the user's order and dropping repeats.
    pub fn parse_list(text: &str) -> Result<Vec<MethodKind>, String> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "all" || part == "classic" {
                let set: &[MethodKind] = if part == "all" {
                    &MethodKind::ALL
                } else {
                    &MethodKind::CLASSIC
                };
                for &k in set {
                    if !out.contains(&k) {
                        out.push(k);
                    }
                }
                continue;
            }
            let k = MethodKind::from_name(part).ok_or_else(|| {
                format!(
                    "unknown method '{part}': choose from {}, or classic, or all",
                    MethodKind::ALL.map(|k| k.name()).join(", ")
                )
            })?;
            if !out.contains(&k) {
                out.push(k);
            }
        }
        if out.is_empty() {
            return Err(format!(
                "no method given: choose from {}, or all",
                MethodKind::ALL.map(|k| k.name()).join(", ")
            ));
        }
        Ok(out)
    }

    /// The classic model of this path: where the bytes go, step by step.
    pub fn model(self) -> &'static Model {
        self.path().model
    }

    /// Whether this machine and `transport` can run this path; the error says why not and what
    /// to do. The classic four always can.
    pub fn availability(self, transport: Transport) -> Result<(), Unavailable> {
        (self.path().availability)(transport)
    }

    /// Where what `explain` says of this path can be checked.
    pub fn sources(self) -> &'static [&'static str] {
        self.path().sources
    }

    /// What the model predicts for a transfer with these settings (each path's own formula, in
    /// its file beside its model).
    pub fn expected(self, l: &Layout) -> Expected {
        (self.path().expected)(l)
    }

    /// What the classic articles say this path costs, derived from [`MethodKind::model`].
    pub fn textbook(self) -> Textbook {
        self.model().textbook()
    }
}

/// Where bytes can be on their way from disk to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Disk,
    PageCache,
    /// A buffer the program allocated.
    UserBuffer,
    /// Page-cache pages mapped into the program's address space (mmap).
    UserMapping,
    Pipe,
    SocketBuffer,
    Nic,
    /// `/dev/null` as a splice target: it takes the pipe's page references and drops them.
    DevNull,
    /// Nowhere: the kernel frees the socket's buffers unread (`recv(MSG_TRUNC)`).
    Freed,
    /// The buffer a zero-copy receiver gives the kernel for the bytes it cannot map.
    CopyBuffer,
}

/// The three bands of the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Band {
    Hardware,
    Kernel,
    User,
}

impl Place {
    pub fn band(self) -> Band {
        match self {
            Place::Disk | Place::Nic => Band::Hardware,
            Place::PageCache
            | Place::Pipe
            | Place::SocketBuffer
            | Place::DevNull
            | Place::Freed => Band::Kernel,
            Place::UserBuffer | Place::UserMapping | Place::CopyBuffer => Band::User,
        }
    }
}

/// How one step moves the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// A device copies, the CPU does not (disk → memory, memory → NIC).
    Dma,
    /// The CPU copies every byte.
    Cpu,
    /// The CPU copies, unless the device does scatter-gather DMA, when only descriptors move.
    CpuUnlessSg,
    /// No copy: page references move (splice).
    Reference,
    /// No copy: the pages are mapped into the program's address space (mmap).
    Map,
    /// No copy: the pages are pinned and attached to the socket buffer; the kernel says when it
    /// has let go of them (a completion), and only then may they be reused.
    Pin,
    /// No copy: the bytes are dropped unseen (a receiver that discards them).
    Drop,
}

/// A call of a textbook model, as the textbook writes it, and what the kernel counts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// A syscall: the textbook's word for it (`read`, `sendfile`, `recv(MSG_TRUNC)`), and the
    /// syscall the kernel counts when copylab makes it (`pread64`, `sendfile64`, `recvfrom`):
    /// one value, so the picture's call and the counters' figure cannot disagree.
    Sys {
        word: &'static str,
        counted: Syscall,
    },
    /// An io_uring operation (`IORING_OP_SPLICE`): no syscall of its own, it rides on
    /// `io_uring_enter`.
    Op(&'static str),
}

impl Call {
    /// A syscall the textbook writes as `word` and the kernel counts as `counted`.
    pub const fn sys(word: &'static str, counted: Syscall) -> Call {
        Call::Sys { word, counted }
    }

    /// As the textbook writes it.
    pub fn word(self) -> &'static str {
        match self {
            Call::Sys { word, .. } | Call::Op(word) => word,
        }
    }

    /// The syscall the kernel counts for it (none for an io_uring operation).
    pub fn counted(self) -> Option<Syscall> {
        match self {
            Call::Sys { counted, .. } => Some(counted),
            Call::Op(_) => None,
        }
    }

    /// An io_uring operation rather than a syscall.
    pub fn is_op(self) -> bool {
        matches!(self, Call::Op(_))
    }
}

/// The calls the models name, each written once with the syscall that counts it.
pub mod call {
    use super::Call;
    use crate::syscall::Syscall;

    /// copylab reads at explicit offsets: the textbook's read is a pread64 here.
    pub const READ: Call = Call::sys("read", Syscall::Pread64);
    pub const WRITE: Call = Call::sys("write", Syscall::Write);
    pub const SENDFILE: Call = Call::sys("sendfile", Syscall::Sendfile64);
    pub const SPLICE: Call = Call::sys("splice", Syscall::Splice);
    pub const VMSPLICE: Call = Call::sys("vmsplice", Syscall::Vmsplice);
    pub const MMAP: Call = Call::sys("mmap", Syscall::Mmap);
    /// A zero-copy send is a `send(MSG_ZEROCOPY)`, which the kernel counts as sendto.
    pub const SENDTO: Call = Call::sys("sendto", Syscall::Sendto);
    pub const IO_URING_ENTER: Call = Call::sys("io_uring_enter", Syscall::IoUringEnter);
    /// `recv()` is the libc call; the kernel's syscall is recvfrom.
    pub const RECV: Call = Call::sys("recv", Syscall::Recvfrom);
    pub const RECV_TRUNC: Call = Call::sys("recv(MSG_TRUNC)", Syscall::Recvfrom);
    pub const ZEROCOPY_RECEIVE: Call =
        Call::sys("getsockopt(TCP_ZEROCOPY_RECEIVE)", Syscall::Getsockopt);
    pub const GETSOCKOPT: Call = Call::sys("getsockopt", Syscall::Getsockopt);
    pub const OP_SPLICE: Call = Call::Op("IORING_OP_SPLICE");
    pub const OP_SEND_ZC: Call = Call::Op("IORING_OP_SEND_ZC");
}

/// One step of the model.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub from: Place,
    pub to: Place,
    pub kind: StepKind,
    /// The call that makes it happen, if any.
    pub call: Option<Call>,
}

/// The textbook model of one path: the one source of truth for the table's textbook column, the
/// JSON and `explain`'s diagrams.
#[derive(Debug)]
pub struct Model {
    pub steps: &'static [Step],
    /// Syscalls per chunk of the file.
    pub per_chunk: &'static [Call],
    /// Syscalls once per transfer (mmap's mapping).
    pub once: &'static [Call],
    /// Syscalls per batch of chunks (io_uring: one `io_uring_enter` submits many and waits).
    pub per_batch: &'static [Call],
}

pub(crate) const fn step(from: Place, to: Place, kind: StepKind, call: Option<Call>) -> Step {
    Step {
        from,
        to,
        kind,
        call,
    }
}

/// The textbook's words for `calls`, joined: "read + write".
fn words(calls: &[Call]) -> String {
    calls
        .iter()
        .map(|c| c.word())
        .collect::<Vec<_>>()
        .join(" + ")
}

use crate::syscall::Syscall;
use StepKind::*;

impl Model {
    fn count(&self, k: StepKind) -> u32 {
        self.steps.iter().filter(|s| s.kind == k).count() as u32
    }

    /// CPU copies, counting the ones scatter-gather DMA can avoid: a pinned send is one too,
    /// since TCP copies it when the device cannot gather (tcp_sendmsg_locked).
    pub fn cpu_copies(&self) -> u32 {
        self.count(Cpu) + self.count(CpuUnlessSg) + self.count(Pin)
    }

    /// CPU copies left when the device does scatter-gather DMA.
    pub fn cpu_copies_with_sg(&self) -> u32 {
        self.count(Cpu)
    }

    pub fn dma_copies(&self) -> u32 {
        self.count(Dma)
    }

    /// User↔kernel mode transitions: two per syscall (enter and leave), per chunk (and per batch,
    /// for io_uring, where one pair serves every chunk of the batch).
    pub fn transitions(&self) -> u32 {
        2 * (self.per_chunk.len() + self.once.len() + self.per_batch.len()) as u32
    }

    pub fn textbook(&self) -> Textbook {
        let cpu = self.cpu_copies();
        let sg = self.cpu_copies_with_sg();
        Textbook {
            syscalls_per_chunk: words(self.per_chunk),
            syscalls_once: words(self.once),
            syscalls_per_batch: words(self.per_batch),
            cpu_copies: cpu,
            cpu_copies_with_sg_dma: sg,
            dma_copies: self.dma_copies(),
            transitions: self.transitions(),
        }
    }
}

impl fmt::Display for MethodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The textbook counts of one path, derived from its [`Model`].
#[derive(Debug, Clone, Serialize)]
pub struct Textbook {
    /// Syscalls the textbook issues per chunk of the file.
    pub syscalls_per_chunk: String,
    /// Syscalls once per transfer (mmap's mapping), or "".
    pub syscalls_once: String,
    /// Syscalls per batch of chunks (io_uring's `io_uring_enter`), or "".
    pub syscalls_per_batch: String,
    /// CPU copies of each byte on the sender.
    pub cpu_copies: u32,
    /// CPU copies when the device does scatter-gather DMA (sendfile then copies nothing).
    pub cpu_copies_with_sg_dma: u32,
    /// DMA copies (disk → page cache, socket buffer → NIC).
    pub dma_copies: u32,
    /// User↔kernel mode transitions (what articles call "context switches"): 2 per syscall,
    /// per chunk or, for io_uring, per batch of chunks.
    pub transitions: u32,
}

impl Textbook {
    /// "2", or "1 (0 with SG-DMA)".
    pub fn cpu_copies_text(&self) -> String {
        if self.cpu_copies == self.cpu_copies_with_sg_dma {
            self.cpu_copies.to_string()
        } else {
            format!(
                "{} ({} with SG-DMA)",
                self.cpu_copies, self.cpu_copies_with_sg_dma
            )
        }
    }
}

/// Per-connection state a method reuses across transfers, allocated outside the measured window
/// (a real server allocates its buffer or pipe once per connection, not per chunk).
#[derive(Default)]
pub struct Scratch {
    pub buf: crate::sys::PageBuf,
    /// Read and write ends of a pipe, for splice, vmsplice and io-uring-splice.
    pub pipe: Option<(OwnedFd, OwnedFd)>,
    /// The io_uring of the io_uring paths, set up once per connection (thread).
    pub ring: Option<Ring>,
}

/// CPU the kernel's io-wq worker threads (`iou-wrk-<tid>`) spent on the serving thread's
/// requests during the transfer (from /proc/self/task/*/schedstat, before and after).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct IoWorkers {
    /// CPU time of the workers, ns.
    pub cpu_ns: u64,
    /// Workers that ran (present after the transfer with more CPU time than before).
    pub threads: u32,
}

/// The settings a transfer ran with, as the model needs them to predict its syscalls.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub bytes: u64,
    /// read-write's buffer, and the zero-copy paths' bytes per send.
    pub buffer_bytes: u64,
    pub mmap_window_bytes: u64,
    /// The pipe size the kernel granted, when a pipe path ran.
    pub pipe_bytes: Option<u64>,
    pub batch: u32,
    pub vmsplice_region_bytes: u64,
}

/// What a path's model predicts for one transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Syscalls in all, when the model can say exactly (None: it depends on timing, such as
    /// how many completions the kernel merges).
    pub syscalls: Option<u64>,
    /// The calls of one chunk, as said in the text ("pread64 + write").
    pub per_chunk: String,
    pub chunks: u64,
    /// vmsplice: fresh regions mapped (one mmap + munmap each), on top of the chunks' calls.
    pub fresh_regions: u64,
}

impl Expected {
    /// `calls` per chunk, `chunks` chunks, `syscalls` in all when the model can say (the text
    /// names the calls as the kernel counts them: "pread64 + write").
    fn calls(calls: &[Syscall], syscalls: Option<u64>, chunks: u64) -> Expected {
        Expected {
            syscalls,
            per_chunk: calls
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(" + "),
            chunks,
            fresh_regions: 0,
        }
    }

    /// No exact total (it depends on timing): what the path calls, said in words.
    fn depends(words: impl Into<String>, chunks: u64) -> Expected {
        Expected {
            syscalls: None,
            per_chunk: words.into(),
            chunks,
            fresh_regions: 0,
        }
    }
}

/// Chunks per `io_uring_enter` unless `--batch` says otherwise.
pub const DEFAULT_BATCH: u32 = 16;

/// Settings the methods share.
#[derive(Debug, Clone, Copy)]
pub struct MethodConfig {
    /// User buffer for read-write.
    pub buffer: usize,
    /// Pipe size asked for splice (`F_SETPIPE_SZ`).
    pub pipe_size: usize,
    /// Chunks submitted per `io_uring_enter` by the io_uring paths.
    pub batch: u32,
}

/// A copy path: moves a file's bytes into a connected socket.
pub trait Method: Send + Sync {
    fn kind(&self) -> MethodKind;

    /// Get `scratch` ready for a transfer (buffers, pipes). Not part of the measurement.
    fn prepare(&self, scratch: &mut Scratch) -> anyhow::Result<()>;

    /// Set socket options the path needs (e.g. `SO_ZEROCOPY`) on a new connection. Not part of
    /// the measurement: a real server does it once per connection.
    fn prepare_socket(&self, _sock: BorrowedFd<'_>) -> anyhow::Result<()> {
        Ok(())
    }

    /// Send all `src.len` bytes of the part `src` (from file offset `src.start`) to `sock`,
    /// counting every syscall into `calls` and publishing progress with `src.reached`.
    /// Returns the bytes sent, which on success is exactly `src.len`.
    fn send(
        &self,
        src: Part<'_>,
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

    /// Whether the kernel runs part of this path on its own worker threads (io_uring's io-wq),
    /// whose CPU time the serving thread's counters cannot see.
    fn offloads_to_workers(&self) -> bool {
        false
    }
}

/// A window of the file mapped for sending: the mapping starts at the page boundary at or
/// before the wanted offset (mmap takes page-aligned offsets only), and [`Window::ptr`] points
/// past the `skip` bytes before it.
pub(crate) struct Window {
    map: crate::sys::Mapping,
    skip: usize,
}

impl Window {
    /// The first wanted byte.
    fn ptr(&self) -> *mut u8 {
        // SAFETY: `skip` is less than a page and the mapping is `skip` + the wanted length.
        unsafe { self.map.ptr().add(self.skip) }
    }

    fn unmap(self, calls: &mut Calls) {
        self.map.unmap(calls);
    }
}

/// Map `len` bytes of the part `src` from its byte `off` (read-only, shared: the page cache's
/// own pages), or say the transfer stopped at `off` because `mmap` failed.
fn map_window(
    src: Part<'_>,
    off: u64,
    len: usize,
    calls: &mut Calls,
) -> Result<Window, (u64, crate::sys::StopKind)> {
    use std::os::fd::AsFd;
    let at = src.at(off);
    let skip = (at % crate::sys::page_size()) as usize;
    crate::sys::Mapping::file(calls, src.file.as_fd(), at - skip as u64, skip + len)
        .map(|map| Window { map, skip })
        .map_err(|errno| {
            (
                off,
                crate::sys::StopKind::Failed {
                    call: Syscall::Mmap,
                    errno,
                },
            )
        })
}

/// `write` all `len` bytes at `ptr` (inside a mapping of the file from offset `at`) to `sock`:
/// mmap's path, and the zero-copy paths' plain fallback. EFAULT (or a zero-length write) means
/// the file shrank under the mapping.
///
/// # Safety
/// `ptr..ptr+len` must stay mapped for the duration of the call.
unsafe fn write_mapped(
    calls: &mut Calls,
    sock: BorrowedFd<'_>,
    ptr: *const u8,
    len: usize,
    at: u64,
) -> Result<(), (u64, crate::sys::StopKind)> {
    // SAFETY: the caller keeps the range mapped; only the kernel reads the bytes.
    unsafe { crate::sys::write_all_raw(calls, sock, ptr, len) }.map_err(|(done, errno)| {
        let kind = match errno {
            nix::errno::Errno::EFAULT => crate::sys::StopKind::FileChanged,
            _ => crate::sys::classify(Syscall::Write, errno),
        };
        (at + done as u64, kind)
    })
}

/// Why a path cannot run here, and what to do about it.
#[derive(Debug, Clone)]
pub struct Unavailable {
    pub reason: String,
    pub fix: String,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.reason, self.fix)
    }
}

/// Build a method of `kind` with `cfg`. Fails only when the kernel refuses the set-up (e.g. a
/// pipe cannot be created).
pub fn build(kind: MethodKind, cfg: MethodConfig) -> anyhow::Result<Box<dyn Method>> {
    (kind.path().build)(cfg)
}

/// One copy path as the rest of copylab sees it. Each path's file defines its `PATH`; the
/// [`REGISTRY`] lists them. A new path is a file with its `PATH`, a `MethodKind` variant and one
/// line in the registry.
pub struct Path {
    pub kind: MethodKind,
    /// The name on the command line, in tables and JSON.
    pub name: &'static str,
    pub model: &'static Model,
    /// The syscalls its model predicts for a transfer.
    pub expected: fn(&Layout) -> Expected,
    /// Whether this machine and transport can run it.
    pub availability: fn(Transport) -> Result<(), Unavailable>,
    pub build: fn(MethodConfig) -> anyhow::Result<Box<dyn Method>>,
    /// What doctor says when the path can run, for a path that may be unavailable (None: it
    /// always runs, so doctor does not list it).
    pub doctor_ok: Option<&'static str>,
    /// Where what `explain` says of this path can be checked: kernel files and functions,
    /// documents, commits. The same in every language.
    pub sources: &'static [&'static str],
}

/// For a path every Linux machine runs.
pub(crate) fn always(_: Transport) -> Result<(), Unavailable> {
    Ok(())
}

/// Every copy path, in the order tables show them (the enum's order).
pub static REGISTRY: [&Path; 8] = [
    &read_write::PATH,
    &mmap::PATH,
    &sendfile::PATH,
    &splice::PATH,
    &vmsplice::PATH,
    &msg_zerocopy::PATH,
    &io_uring_splice::PATH,
    &io_uring_send_zc::PATH,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_lists_the_paths_in_the_enums_order() {
        for (i, p) in REGISTRY.iter().enumerate() {
            assert_eq!(p.kind as usize, i, "{}", p.name);
            assert_eq!(p.kind.path().name, p.name);
        }
    }

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
            MethodKind::parse_list("classic,vmsplice").unwrap(),
            [&MethodKind::CLASSIC[..], &[MethodKind::Vmsplice]].concat()
        );
        assert_eq!(MethodKind::ALL.len(), 8);
        assert_eq!(
            MethodKind::named_in("all,msg-zerocopy, splice"),
            vec![MethodKind::MsgZerocopy, MethodKind::Splice]
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
