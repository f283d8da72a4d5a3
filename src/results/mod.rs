//! The results of `compare`, `sweep` and `trace`: these structs *are* the `--json` formats (schema 1).
//! Every field is documented here; units are in the names. `null` always means "not measured",
//! never zero. `serve`'s line-per-event format is in [`serve`].

pub mod doctor;
pub mod fetch;
pub mod quiz;
pub mod serve;
mod words;

pub use words::{
    CacheMode, CacheState, CounterSource, CpuSource, Ended, PathKind, Verify, WallEnds,
};

use std::collections::BTreeMap;

use serde::Serialize;

use crate::counters::profile::{Category, Pooled, ThreadProfile};
use crate::counters::{CpuSplit, Reading, SyscallSource};
use crate::method::{IoWorkers, MethodKind, Textbook};
use crate::placement::Placement;
use crate::receive::{Check, ReceiverKind, ZeroCopyReceive};
use crate::stats::{median_u64, pick_f64};
use crate::sys::{Calls, ZeroCopy};
use crate::syscall::Syscall;
use crate::transport::Transport;

/// The JSON format version. Bumped when a field changes meaning or disappears.
pub const SCHEMA: u32 = 1;

/// Everything one `compare` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Format version ([`SCHEMA`]).
    pub schema: u32,
    /// copylab's version.
    pub copylab_version: &'static str,
    /// `"perf"` when syscalls were counted by perf tracepoints, `"rusage"` when not (then syscall
    /// figures are the methods' own counts and totals are null).
    pub counter_source: CounterSource,
    /// Where the syscall figures come from: `perf` or `self-counted`.
    pub syscall_source: SyscallSource,
    /// Whether the perf software events (context-switches, cpu-migrations, page-faults,
    /// task-clock) were counted; when false their `perf_*` fields are null.
    pub perf_software_events: bool,
    /// The file served.
    pub file: FileInfo,
    /// `"tcp"` (127.0.0.1), `"unix"` (a Unix stream socket pair) or `"veth"` (TCP between two
    /// network namespaces joined by a veth pair).
    pub transport: Transport,
    /// `--link`: the rate the serving socket was paced to with SO_MAX_PACING_RATE, in bytes per
    /// second (`1gbit` = 125000000); null when unpaced.
    pub link_rate_bytes_per_s: Option<u64>,
    /// `--transport veth`: the two namespaces, their addresses and what their devices offload;
    /// null for the other transports.
    pub veth: Option<VethInfo>,
    /// Page-cache state of the file before the first run.
    pub cache: CacheInfo,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// The options the runs used.
    pub options: RunOptions,
    /// Syscalls the counters themselves add to each window (measured on empty windows) and
    /// already subtracted from every `syscalls.total`.
    pub counter_overhead_syscalls: u64,
    /// One line each: what could not be measured and how to fix it.
    pub warnings: Vec<String>,
    /// Facts about the set-up worth knowing (e.g. tracefs mounted temporarily).
    pub notes: Vec<String>,
    /// One entry per method, in the order asked for. With `--receive`, one entry per method
    /// and receiving path (the matrix, sender by sender, each sender with every receiver in
    /// the order asked for): `receiver_path` says which.
    pub methods: Vec<MethodResult>,
    /// The machine the runs were made on.
    pub machine: Machine,
    /// `--receive`: the receiving paths and the loopback they ran over; null without
    /// `--receive` (the receiver is then `recv`, as it always was).
    pub receive: Option<ReceiveInfo>,
}

/// What `--receive` ran.
#[derive(Debug, Clone, Serialize)]
pub struct ReceiveInfo {
    /// The receiving paths that ran, in the order asked for.
    pub paths: Vec<ReceivePathInfo>,
    /// When zerocopy is among them: the private loopback every pair ran over (so that all
    /// rows share one MTU); null when the pairs ran over the transport's own sockets.
    pub private_lo: Option<crate::private_net::PrivateLoInfo>,
}

/// One receiving path, as the report describes it.
#[derive(Debug, Clone, Serialize)]
pub struct ReceivePathInfo {
    /// `recv`, `trunc`, `splice` or `zerocopy`.
    pub path: ReceiverKind,
    /// What it does, in one line.
    pub what: &'static str,
    /// How its deliveries are checked: `xxh3` (every byte hashed, on the runs that hash, and
    /// counted on every run) or `byte-count` (the path drops the bytes unseen: counted only).
    pub check: Check,
}

/// The two "hosts" of `--transport veth`.
#[derive(Debug, Clone, Serialize)]
pub struct VethInfo {
    /// The serving thread's socket lives in this network namespace (`copylab-<pid>-a`).
    pub serving_netns: String,
    /// The receiver's socket lives in this one (`copylab-<pid>-b`).
    pub receiving_netns: String,
    /// The serving end's address (198.18.0.0/15: benchmarking, RFC 2544).
    pub serving_addr: String,
    pub receiving_addr: String,
    /// The serving veth device: scatter-gather, TSO, GSO, GRO, MTU (ethtool ioctls).
    pub serving_device: crate::netns::Offloads,
    /// The receiving veth device, likewise.
    pub receiving_device: crate::netns::Offloads,
}

/// What a network device transmitted during one run (its /proc/net/dev counters before and
/// after): `bytes / packets` is the size of what TCP handed the device — far above the MTU when
/// segmentation is offloaded (TSO/GSO: one packet per up to 64 KiB).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DeviceTx {
    /// Packets the device sent (data, and the handshake's last ACK and the FIN).
    pub packets: u64,
    /// Bytes the device sent, headers included.
    pub bytes: u64,
}

/// The machine a report comes from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// CPU model name from /proc/cpuinfo, or null.
    pub cpu_model: Option<String>,
    /// CPUs this process may run on.
    pub cores: usize,
}

impl Report {
    /// The settings the runs used, as the paths' models need them to predict syscalls.
    pub fn layout(&self) -> crate::method::Layout {
        let o = &self.options;
        crate::method::Layout {
            bytes: self.file.bytes,
            buffer_bytes: o.buffer_bytes,
            mmap_window_bytes: o.mmap_window_bytes,
            pipe_bytes: o.pipe_bytes_granted,
            batch: o.batch,
            vmsplice_region_bytes: o.vmsplice_region_bytes,
        }
    }

    /// The results of one method, if it ran.
    pub fn method(&self, kind: MethodKind) -> Option<&MethodResult> {
        self.methods.iter().find(|m| m.method == kind)
    }
}

impl Machine {
    pub fn this() -> Machine {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        });
        Machine {
            kernel: crate::sys::kernel_release(),
            cpu_model,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// The file served.
#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    /// The path given, or null for a generated file.
    pub path: Option<String>,
    /// Size at start: exactly this many bytes are sent per run.
    pub bytes: u64,
    /// True when copylab generated random content (in an unlinked temp file).
    pub generated: bool,
    /// Directory of the generated file (already unlinked: nothing is left there), or null.
    pub temp_dir: Option<String>,
    /// XXH3-64 of the content, hex: what every verified delivery hashed to.
    pub xxh3: String,
}

/// Page-cache state.
#[derive(Debug, Clone, Serialize)]
pub struct CacheInfo {
    /// What was asked: `"warm"` (leave the page cache alone) or `"cold"` (drop the file's pages
    /// with posix_fadvise DONTNEED before every run).
    pub mode: CacheMode,
    /// What the runs saw: `"warm"` (≥ 99 % resident), `"partial"`, `"cold"` (< 1 %), or
    /// `"unknown"`. In cold mode, from mincore right after each drop.
    pub state: CacheState,
    /// Percentage of the file's pages in the page cache before the first run (mincore), or null.
    pub resident_before_pct: Option<f64>,
    /// Cold mode: the most of the file still cached right after a drop, or null.
    pub resident_after_drop_max_pct: Option<f64>,
}

/// The options the runs used.
#[derive(Debug, Clone, Serialize)]
pub struct RunOptions {
    /// Measured runs per method.
    pub runs: u32,
    /// Unmeasured warm-up runs per method, before the measured ones.
    pub warmup: u32,
    /// read-write's user buffer, and the bytes per send of the zero-copy paths.
    pub buffer_bytes: u64,
    /// Pipe size asked for splice.
    pub pipe_bytes_requested: u64,
    /// Pipe size the kernel granted (null when splice did not run).
    pub pipe_bytes_granted: Option<u64>,
    /// mmap's mapping window (also msg-zerocopy's and io-uring-send-zc's).
    pub mmap_window_bytes: u64,
    /// Chunks submitted per `io_uring_enter` by the io_uring paths.
    pub batch: u32,
    /// Fresh user memory vmsplice maps at once (its pages are never reused).
    pub vmsplice_region_bytes: u64,
    /// `"first"`: received bytes hashed on the first measured run of each method; `"all"`: every run.
    pub verify: Verify,
}

/// One method's runs and their summaries.
#[derive(Debug, Clone, Serialize)]
pub struct MethodResult {
    /// `read-write`, `mmap`, `sendfile`, `splice`, `vmsplice`, `msg-zerocopy`, `io-uring-splice`
    /// or `io-uring-send-zc`.
    pub method: MethodKind,
    /// What the textbook says this path costs.
    pub textbook: Textbook,
    /// How this path was set up (e.g. the pipe size granted).
    pub setup: Vec<String>,
    /// Every measured run, in order (warm-ups are not included).
    pub runs: Vec<Run>,
    /// Field-by-field median of the runs.
    pub median: Run,
    /// Field-by-field minimum.
    pub min: Run,
    /// Field-by-field maximum.
    pub max: Run,
    /// How far the runs spread: (max − min) ÷ median, in %, per figure; null for one run.
    pub spread_pct: Option<Spread>,
    /// `--receive`: the receiving path these runs used; null without `--receive`.
    pub receiver_path: Option<ReceiverKind>,
    /// Every run's cpu-clock samples pooled, per thread: the figures the table, the verdicts
    /// and the view show (the summaries' `profile` are field-by-field, each resting on one
    /// run's samples). Null when a run was not sampled.
    pub profile: Option<PooledProfile>,
    /// Every measured run's sampled callchains, per thread, when they were kept
    /// (`--export-stacks`, `--export-html`); not in the JSON.
    #[serde(skip)]
    pub stacks: Option<MethodStacks>,
}

/// The callchains of every measured run of a method, per thread: what the folded stacks and
/// the flame graphs show. Their counts add up to the pooled profile's samples.
#[derive(Debug, Clone, Default)]
pub struct MethodStacks {
    pub serving: crate::counters::profile::stacks::Stacks,
    pub receiver: crate::counters::profile::stacks::Stacks,
}

/// The samples of every run of a method, pooled, per thread.
#[derive(Debug, Clone, Serialize)]
pub struct PooledProfile {
    pub serving: Pooled,
    pub receiver: Pooled,
}

impl PooledProfile {
    fn of(runs: &[Run]) -> Option<PooledProfile> {
        let ps: Vec<(&Profile, u64)> = runs
            .iter()
            .map(|r| r.profile.as_ref().map(|p| (p, r.bytes)))
            .collect::<Option<_>>()?;
        Some(PooledProfile {
            serving: Pooled::of(ps.iter().map(|(p, b)| (&p.serving, *b))),
            receiver: Pooled::of(ps.iter().map(|(p, b)| (&p.receiver, *b))),
        })
    }
}

/// The sampled CPU of both ends of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// The serving thread, over the same window as its counters.
    pub serving: ThreadProfile,
    /// The receiver thread, from before its first read to end-of-file.
    pub receiver: ThreadProfile,
}

/// Field-by-field summary of thread profiles with `pick`; the "other" symbols and CPUs are
/// summed over the runs.
fn summarize_profile(ps: &[&ThreadProfile], pick: fn(&mut [u64]) -> u64) -> ThreadProfile {
    let field =
        |f: &dyn Fn(&ThreadProfile) -> u64| pick(&mut ps.iter().map(|p| f(p)).collect::<Vec<_>>());
    let mut other: BTreeMap<String, u64> = BTreeMap::new();
    let mut cpus: BTreeMap<u32, u64> = BTreeMap::new();
    for p in ps {
        for (s, n) in &p.top_other {
            *other.entry(s.clone()).or_insert(0) += n;
        }
        for (c, n) in &p.cpus {
            *cpus.entry(*c).or_insert(0) += n;
        }
    }
    let mut top_other: Vec<(String, u64)> = other.into_iter().collect();
    top_other.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top_other.truncate(10);
    ThreadProfile {
        period_ns: ps[0].period_ns,
        samples: field(&|p| p.samples),
        lost: field(&|p| p.lost),
        on_cpu_ns: field(&|p| p.on_cpu_ns),
        ns: Category::ALL
            .iter()
            .map(|&c| (c, field(&|p| p.ns_of(c))))
            .collect(),
        copy_in_softirq_ns: field(&|p| p.copy_in_softirq_ns),
        softirq_context_ns: field(&|p| p.softirq_context_ns),
        top_other,
        cpus,
        stacks: None,
    }
}

/// `sender`, or `sender → receiver` when a receiving path was chosen: how tables, exports and
/// sweep series name a method's results.
pub fn pair_label(sender: &str, receiver: Option<ReceiverKind>) -> String {
    match receiver {
        Some(r) => format!("{sender} → {r}"),
        None => sender.to_string(),
    }
}

/// Run-to-run spread of a method's figures, in % of the median.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    /// Wall time.
    pub wall: f64,
    /// The serving thread's sys CPU.
    pub serving_sys: f64,
    /// The serving thread's sys CPU less the softirq work sampled on it (on loopback, the
    /// receiver's half of TCP when it ran on this thread's CPU): its own send path. Null
    /// without a profile.
    pub serving_sys_own: Option<f64>,
    /// Both threads' CPU (user and sys, io-wq included), which does not move when work moves
    /// from one thread to the other. Null when the receiver was not measured.
    pub end_to_end: Option<f64>,
}

/// (max − min) ÷ median of `v`, in %, one decimal; None for fewer than two values or a zero
/// median.
fn spread_of(mut v: Vec<f64>) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let (lo, hi) = (v[0], v[v.len() - 1]);
    let mid = crate::stats::median_f64(v)?;
    (mid > 0.0).then(|| ((hi - lo) / mid * 1000.0).round() / 10.0)
}

/// One transfer of the whole file, as seen by the serving thread.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// Bytes that arrived at the receiver (always equal to the file size in a report).
    pub bytes: u64,
    /// From just before the first send call to the receiver holding the last byte; null for an
    /// empty file (no byte to time).
    pub wall_ns: Option<u64>,
    /// bytes / wall time, in MiB (2^20 bytes) per second; null for an empty file.
    pub throughput_mib_s: Option<f64>,
    /// The byte count matched, and the hash matched where `hash_checked`.
    pub verified: bool,
    /// The received bytes were hashed and compared with the file's hash.
    pub hash_checked: bool,
    /// What the transfer cost the serving thread.
    #[serde(flatten)]
    pub cost: Cost,
    /// What receiving it cost the receiver thread (from before its first read to end-of-file,
    /// so waiting is included but costs no CPU); null when its counters failed. Its
    /// `self_counted` holds the receiving path's own syscalls with `--receive`, and is empty
    /// without it (the default receiver is not counted by name).
    pub receiver: Option<Cost>,
    /// Where the serving and receiver threads were pinned.
    pub placement: Placement,
    /// Where each thread's CPU went (cpu-clock samples every `period_ns`, each put in one
    /// category by the kernel symbol it landed in and its callchain); null when perf refused
    /// sampling or kernel symbols are hidden (a warning says why).
    pub profile: Option<Profile>,
    /// CPU time the hypervisor stole during the run from the CPUs the two threads were pinned
    /// to (all CPUs when not pinned), from /proc/stat in clock ticks (10 ms), so short runs
    /// read 0 unless stolen; null where the kernel has no steal figure.
    pub steal_ns: Option<u64>,
    /// `--transport veth`: what the serving veth device sent during the run; null otherwise
    /// (loopback's counters are shared with every other local connection).
    pub device_tx: Option<DeviceTx>,
    /// `--receive`: how the receiving path took the bytes; null without `--receive`.
    pub receive: Option<RunReceive>,
}

/// How one run's receiving path took the bytes. Its syscalls by name are the receiver's
/// `self_counted`, its CPU and profile the receiver's as always.
#[derive(Debug, Clone, Serialize)]
pub struct RunReceive {
    /// `recv`, `trunc`, `splice` or `zerocopy`.
    pub path: ReceiverKind,
    /// `xxh3` or `byte-count` (see [`ReceivePathInfo::check`]); `hash_checked` says whether
    /// this run's bytes were hashed.
    pub check: Check,
    /// zerocopy: bytes mapped, copied into the copy buffer and read as `recv_skip_hint` said,
    /// as counts and shares; null for the other paths.
    pub zerocopy: Option<ZeroCopyReceive>,
    /// The MSS the receiving socket reports after the run (`tcp_info.tcpi_rcv_mss`), in bytes;
    /// null for a Unix socket.
    pub rcv_mss_bytes: Option<u32>,
}

impl Run {
    /// `ns` per GiB of this run's bytes, or None for an empty file.
    fn per_gib(&self, ns: u64) -> Option<f64> {
        (self.bytes > 0).then(|| ns as f64 / crate::size::gib(self.bytes))
    }

    /// The serving thread's sys CPU less the softirq work its samples found (see
    /// [`Spread::serving_sys_own`]); None without a profile.
    pub fn own_sys_ns(&self) -> Option<u64> {
        let p = self.profile.as_ref()?;
        Some(
            self.cost
                .cpu
                .sys_ns
                .saturating_sub(p.serving.softirq_context_ns),
        )
    }

    /// The serving thread's sys CPU per GiB moved, in ns.
    pub fn sys_ns_per_gib(&self) -> Option<f64> {
        self.per_gib(self.cost.cpu.sys_ns)
    }

    /// CPU per GiB of both ends and the io-wq workers (user + sys), in ns: what the transfer
    /// cost the machine; None when the receiver was not measured.
    pub fn e2e_ns_per_gib(&self) -> Option<f64> {
        let rcv = self.receiver.as_ref()?;
        let ns = self.cost.cpu.user_ns
            + self.cost.cpu.sys_ns
            + rcv.cpu.user_ns
            + rcv.cpu.sys_ns
            + self.cost.io_workers.map_or(0, |w| w.cpu_ns);
        self.per_gib(ns)
    }
}

impl MethodResult {
    /// `metric` of each run of this method over the same round's run of `base` (compare
    /// interleaves its rounds, so run i of each method shared the machine's moment): the
    /// median ratio and its range, or None when a run lacks the figure.
    pub fn ratio_to(
        &self,
        base: &MethodResult,
        metric: fn(&Run) -> Option<f64>,
    ) -> Option<RatioRange> {
        let mut v: Vec<f64> = self
            .runs
            .iter()
            .zip(&base.runs)
            .map(|(a, b)| Some(metric(a)? / metric(b).filter(|x| *x > 0.0)?))
            .collect::<Option<_>>()?;
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let (min, max) = (v[0], v[v.len() - 1]);
        Some(RatioRange {
            median: crate::stats::median_f64(v)?,
            min,
            max,
        })
    }

    /// Whether this method's and `base`'s runs overlap for `metric` (min–max ranges meet):
    /// ranking them would tell a story the runs do not support.
    pub fn within_noise_of(&self, base: &MethodResult, metric: fn(&Run) -> Option<f64>) -> bool {
        let range = |mr: &MethodResult| -> Option<(f64, f64)> {
            let v: Vec<f64> = mr.runs.iter().map(metric).collect::<Option<_>>()?;
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
        };
        match (range(self), range(base)) {
            (Some((a0, a1)), Some((b0, b1))) => self.runs.len() > 1 && a0 <= b1 && b0 <= a1,
            _ => false,
        }
    }
}

/// A ratio over paired runs: its median and range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioRange {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// What one transfer cost the thread that sent it.
#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    /// Syscalls made by the serving thread during the transfer.
    pub syscalls: Syscalls,
    /// The syscalls the method issued itself, by kernel name: a cross-check of perf (and the
    /// only syscall figure when perf is refused).
    pub self_counted: BTreeMap<Syscall, u64>,
    /// Scheduler context switches of the serving thread (getrusage), not user↔kernel transitions.
    pub context_switches: ContextSwitches,
    /// CPU time of the serving thread.
    pub cpu: Cpu,
    /// Page faults of the serving thread.
    pub page_faults: PageFaults,
    /// perf cpu-migrations, or null.
    pub cpu_migrations: Option<u64>,
    /// Zero-copy paths (msg-zerocopy, io-uring-send-zc): sends and what their completions said;
    /// null for the other paths.
    pub zerocopy: Option<ZeroCopy>,
    /// io_uring paths: the kernel worker threads (io-wq) that ran requests for the serving
    /// thread, outside its counters; null for the other paths.
    pub io_workers: Option<IoWorkers>,
}

impl Cost {
    /// Combine a counter reading with the calls the method counted itself.
    pub fn new(reading: &Reading, calls: &Calls, io_workers: Option<IoWorkers>) -> Cost {
        let self_counted: BTreeMap<Syscall, u64> = calls.iter().collect();
        let (total, by_name, source) = match &reading.syscalls_by_name {
            Some(named) => (reading.syscalls_total, named.clone(), SyscallSource::Perf),
            None => (
                None,
                self_counted.iter().map(|(k, v)| (*k, Some(*v))).collect(),
                SyscallSource::SelfCounted,
            ),
        };
        Cost {
            syscalls: Syscalls {
                total,
                by_name,
                source,
            },
            self_counted,
            context_switches: ContextSwitches {
                voluntary: reading.voluntary_cs,
                involuntary: reading.involuntary_cs,
                perf_total: reading.perf_context_switches,
            },
            cpu: Cpu {
                user_ns: reading.user_ns,
                sys_ns: reading.sys_ns,
                split: reading.cpu_split,
                rusage_user_ns: reading.rusage_user_ns,
                rusage_sys_ns: reading.rusage_sys_ns,
                task_clock_ns: reading.perf_task_clock_ns,
            },
            page_faults: PageFaults {
                minor: reading.minor_faults,
                major: reading.major_faults,
                perf_total: reading.perf_page_faults,
            },
            cpu_migrations: reading.perf_cpu_migrations,
            zerocopy: calls.zerocopy,
            io_workers,
        }
    }
}

/// Syscall counts.
#[derive(Debug, Clone, Serialize)]
pub struct Syscalls {
    /// Every syscall the thread entered (perf raw_syscalls:sys_enter, less the counters' own
    /// overhead), or null when perf is not counting.
    pub total: Option<u64>,
    /// Per syscall by kernel name. With perf: every counted tracepoint, zeros included (null
    /// where this kernel has no tracepoint). Self-counted: the calls the method made.
    pub by_name: BTreeMap<Syscall, Option<u64>>,
    /// `perf` or `self-counted`.
    pub source: SyscallSource,
}

/// Context switches (getrusage RUSAGE_THREAD).
#[derive(Debug, Clone, Serialize)]
pub struct ContextSwitches {
    /// The thread blocked (e.g. a full socket buffer) and gave up the CPU.
    pub voluntary: u64,
    /// The scheduler took the CPU away.
    pub involuntary: u64,
    /// perf context-switches software event (should equal voluntary + involuntary), or null.
    pub perf_total: Option<u64>,
}

/// CPU time: getrusage RUSAGE_THREAD's precise total, split into user and system by `split`.
#[derive(Debug, Clone, Serialize)]
pub struct Cpu {
    pub user_ns: u64,
    pub sys_ns: u64,
    /// `samples`: split by the cpu-clock samples' CPU mode (user or kernel); `ticks`: by the
    /// kernel's scheduler ticks (getrusage's own split, 4 ms each at HZ=250: approximate for a
    /// window shorter than a second or so).
    pub split: CpuSplit,
    /// getrusage's own split, kept beside a sampled one (equal to user_ns/sys_ns with `ticks`).
    pub rusage_user_ns: u64,
    pub rusage_sys_ns: u64,
    /// perf task-clock: time on CPU, precise, or null.
    pub task_clock_ns: Option<u64>,
}

/// Page faults (getrusage RUSAGE_THREAD).
#[derive(Debug, Clone, Serialize)]
pub struct PageFaults {
    /// Resolved without I/O (page already in memory).
    pub minor: u64,
    /// Needed I/O (page read from disk).
    pub major: u64,
    /// perf page-faults software event, or null.
    pub perf_total: Option<u64>,
}

/// Field-by-field summary of runs with `pick` (median, min or max) over each field.
fn summarize(runs: &[Run], pick: fn(&mut [u64]) -> u64) -> Run {
    let all = |f: &dyn Fn(&Run) -> u64| pick(&mut runs.iter().map(f).collect::<Vec<_>>());
    let costs: Vec<&Cost> = runs.iter().map(|r| &r.cost).collect();
    let receivers: Option<Vec<&Cost>> = runs.iter().map(|r| r.receiver.as_ref()).collect();
    let tput = runs
        .iter()
        .map(|r| r.throughput_mib_s)
        .collect::<Option<Vec<f64>>>()
        .map(|v| pick_f64(v, pick));
    // A figure some run lacks (null) is null in the summary too.
    let opt = |f: fn(&Run) -> Option<u64>| {
        runs.iter()
            .map(f)
            .collect::<Option<Vec<u64>>>()
            .map(|mut v| pick(&mut v))
    };
    Run {
        bytes: all(&|r| r.bytes),
        wall_ns: opt(|r| r.wall_ns),
        throughput_mib_s: tput,
        verified: runs.iter().all(|r| r.verified),
        hash_checked: runs.iter().any(|r| r.hash_checked),
        cost: summarize_cost(&costs, pick),
        receiver: receivers.map(|c| summarize_cost(&c, pick)),
        placement: runs[0].placement,
        profile: runs
            .iter()
            .map(|r| r.profile.as_ref())
            .collect::<Option<Vec<&Profile>>>()
            .map(|ps| Profile {
                serving: summarize_profile(
                    &ps.iter().map(|p| &p.serving).collect::<Vec<_>>(),
                    pick,
                ),
                receiver: summarize_profile(
                    &ps.iter().map(|p| &p.receiver).collect::<Vec<_>>(),
                    pick,
                ),
            }),
        steal_ns: opt(|r| r.steal_ns),
        device_tx: opt(|r| r.device_tx.map(|d| d.packets))
            .zip(opt(|r| r.device_tx.map(|d| d.bytes)))
            .map(|(packets, bytes)| DeviceTx { packets, bytes }),
        receive: summarize_receive(runs, pick),
    }
}

/// Field-by-field summary of the runs' receiving paths (the same path on every run); the
/// zerocopy shares are those of the summarized counts.
fn summarize_receive(runs: &[Run], pick: fn(&mut [u64]) -> u64) -> Option<RunReceive> {
    let first = runs.first()?.receive.as_ref()?;
    let field = |f: fn(&ZeroCopyReceive) -> u64| {
        runs.iter()
            .map(|r| r.receive.as_ref().and_then(|x| x.zerocopy.as_ref()).map(f))
            .collect::<Option<Vec<u64>>>()
            .map(|mut v| pick(&mut v))
    };
    let zerocopy = field(|z| z.mapped_bytes)
        .zip(field(|z| z.copybuf_bytes))
        .zip(field(|z| z.hint_bytes))
        .map(|((mapped, copybuf), hint)| {
            ZeroCopyReceive::of(crate::receive::Landed {
                mapped,
                copybuf,
                hint,
            })
        });
    let mss = runs
        .iter()
        .map(|r| {
            r.receive
                .as_ref()
                .and_then(|x| x.rcv_mss_bytes)
                .map(u64::from)
        })
        .collect::<Option<Vec<u64>>>()
        .map(|mut v| pick(&mut v) as u32);
    Some(RunReceive {
        path: first.path,
        check: first.check,
        zerocopy,
        rcv_mss_bytes: mss,
    })
}

/// Field-by-field summary of one thread's costs (at least one) with `pick`.
fn summarize_cost(costs: &[&Cost], pick: fn(&mut [u64]) -> u64) -> Cost {
    let all = |f: &dyn Fn(&Cost) -> u64| pick(&mut costs.iter().map(|c| f(c)).collect::<Vec<_>>());
    let opt = |f: &dyn Fn(&Cost) -> Option<u64>| {
        let v: Option<Vec<u64>> = costs.iter().map(|c| f(c)).collect();
        v.map(|mut v| pick(&mut v))
    };
    let first = costs[0];
    let mut by_name = BTreeMap::new();
    for name in first.syscalls.by_name.keys() {
        by_name.insert(
            *name,
            opt(&|c: &Cost| c.syscalls.by_name.get(name).copied().flatten()),
        );
    }
    let mut self_counted = BTreeMap::new();
    let names: std::collections::BTreeSet<&Syscall> =
        costs.iter().flat_map(|c| c.self_counted.keys()).collect();
    for name in names {
        self_counted.insert(
            *name,
            all(&|c: &Cost| c.self_counted.get(name).copied().unwrap_or(0)),
        );
    }
    Cost {
        syscalls: Syscalls {
            total: opt(&|c| c.syscalls.total),
            by_name,
            source: first.syscalls.source,
        },
        self_counted,
        context_switches: ContextSwitches {
            voluntary: all(&|c| c.context_switches.voluntary),
            involuntary: all(&|c| c.context_switches.involuntary),
            perf_total: opt(&|c| c.context_switches.perf_total),
        },
        cpu: Cpu {
            user_ns: all(&|c| c.cpu.user_ns),
            sys_ns: all(&|c| c.cpu.sys_ns),
            // One run split by ticks makes the summary approximate too.
            split: if costs.iter().all(|c| c.cpu.split == CpuSplit::Samples) {
                CpuSplit::Samples
            } else {
                CpuSplit::Ticks
            },
            rusage_user_ns: all(&|c| c.cpu.rusage_user_ns),
            rusage_sys_ns: all(&|c| c.cpu.rusage_sys_ns),
            task_clock_ns: opt(&|c| c.cpu.task_clock_ns),
        },
        page_faults: PageFaults {
            minor: all(&|c| c.page_faults.minor),
            major: all(&|c| c.page_faults.major),
            perf_total: opt(&|c| c.page_faults.perf_total),
        },
        cpu_migrations: opt(&|c| c.cpu_migrations),
        zerocopy: summarize_zerocopy(costs, pick),
        io_workers: costs
            .iter()
            .map(|c| c.io_workers)
            .collect::<Option<Vec<_>>>()
            .map(|w| IoWorkers {
                cpu_ns: pick(&mut w.iter().map(|w| w.cpu_ns).collect::<Vec<_>>()),
                threads: pick(&mut w.iter().map(|w| u64::from(w.threads)).collect::<Vec<_>>())
                    as u32,
            }),
    }
}

/// Field-by-field summary of the zero-copy counts with `pick`; null unless every run has them.
fn summarize_zerocopy(costs: &[&Cost], pick: fn(&mut [u64]) -> u64) -> Option<ZeroCopy> {
    let z = costs
        .iter()
        .map(|c| c.zerocopy)
        .collect::<Option<Vec<_>>>()?;
    let field = |f: fn(&ZeroCopy) -> u64| pick(&mut z.iter().map(f).collect::<Vec<_>>());
    Some(ZeroCopy {
        sends: field(|z| z.sends),
        completed: field(|z| z.completed),
        copied: field(|z| z.copied),
        plain_fallback: field(|z| z.plain_fallback),
        enobufs: field(|z| z.enobufs),
    })
}

impl MethodResult {
    /// The name people read: `sendfile`, or `sendfile → zerocopy` with `--receive`.
    pub fn label(&self) -> String {
        pair_label(self.method.name(), self.receiver_path)
    }

    /// Summarize `runs` (at least one).
    pub fn new(method: MethodKind, setup: Vec<String>, runs: Vec<Run>) -> MethodResult {
        let median = summarize(&runs, median_u64);
        let min = summarize(&runs, |v| v.iter().copied().min().unwrap_or(0));
        let max = summarize(&runs, |v| v.iter().copied().max().unwrap_or(0));
        let pct = |lo: u64, hi: u64, mid: u64| {
            if mid == 0 {
                0.0
            } else {
                (hi.saturating_sub(lo) as f64 / mid as f64 * 1000.0).round() / 10.0
            }
        };
        let spread_pct = (runs.len() > 1).then(|| Spread {
            wall: pct(
                min.wall_ns.unwrap_or(0),
                max.wall_ns.unwrap_or(0),
                median.wall_ns.unwrap_or(0),
            ),
            serving_sys: pct(
                min.cost.cpu.sys_ns,
                max.cost.cpu.sys_ns,
                median.cost.cpu.sys_ns,
            ),
            serving_sys_own: runs
                .iter()
                .map(Run::own_sys_ns)
                .collect::<Option<Vec<u64>>>()
                .and_then(|v| spread_of(v.into_iter().map(|x| x as f64).collect())),
            end_to_end: runs
                .iter()
                .map(Run::e2e_ns_per_gib)
                .collect::<Option<Vec<f64>>>()
                .and_then(spread_of),
        });
        MethodResult {
            method,
            textbook: method.textbook(),
            setup,
            profile: PooledProfile::of(&runs),
            stacks: None,
            runs,
            median,
            min,
            max,
            spread_pct,
            receiver_path: None,
        }
    }
}

// ---------------------------------------------------------------- sweep (`copylab sweep --json`)

/// One compare run of the sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// Size of the generated file.
    pub file_bytes: u64,
    /// read-write's buffer at this point.
    pub buffer_bytes: u64,
    /// The full compare report (every run, medians, sources).
    pub report: Report,
}

/// How one series (a method, and for read-write a buffer size) scales with file size.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// `sendfile`, or `read-write@64 KiB` when several buffers were swept, or `sendfile →
    /// zerocopy` with `--receive`.
    pub name: String,
    pub method: MethodKind,
    /// `--receive`: the receiving path; null without `--receive`.
    pub receiver_path: Option<ReceiverKind>,
    pub buffer_bytes: u64,
    pub points: Vec<SeriesPoint>,
}

/// One size of one series (medians).
#[derive(Debug, Clone, Serialize)]
pub struct SeriesPoint {
    pub file_bytes: u64,
    /// Median throughput; null for an empty file (nothing to time).
    pub throughput_mib_s: Option<f64>,
    /// Syscalls per MiB sent, or null when syscalls were not counted.
    pub syscalls_per_mib: Option<f64>,
    /// CPU time of the serving thread per GiB sent, in ns: perf task-clock (precise) when
    /// counted, else getrusage user + sys (tick-sampled: coarse for small files); null for an
    /// empty file (no GiB to divide by).
    pub cpu_ns_per_gib: Option<f64>,
    /// `task-clock` or `getrusage`.
    pub cpu_source: CpuSource,
    /// io_uring paths: CPU of the kernel's io-wq workers per GiB sent, in ns (not included in
    /// `cpu_ns_per_gib`); null for the other paths.
    pub io_workers_cpu_ns_per_gib: Option<f64>,
    /// CPU time of the receiver thread per GiB received, in ns (getrusage user + sys); null
    /// when its counters failed or for an empty file.
    pub receiver_cpu_ns_per_gib: Option<f64>,
}

/// Everything a sweep measured (`--json`, `--export-json`).
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub schema: u32,
    /// Always `"sweep"`.
    pub kind: &'static str,
    pub machine: Machine,
    /// The series, derived from `points`.
    pub series: Vec<Series>,
    /// Every compare run, in order.
    pub points: Vec<Point>,
}

// ---- `copylab trace --json` ----

/// The JSON format version of `trace --json`.
pub const TRACE_SCHEMA: u32 = 1;

/// One syscall's figures. `bytes` is null for the syscalls counted as calls only (mmap,
/// munmap, io_uring_enter).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SyscallFigure {
    pub calls: u64,
    pub bytes: Option<u64>,
    /// Calls that failed (returned -errno); they moved nothing.
    pub errors: u64,
}

/// Where one thread's sampled CPU went.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadCpu {
    /// cpu-clock samples of this thread; each stands for `period_ns` of its CPU.
    pub samples: u64,
    pub period_ns: u64,
    /// CPU time per category (samples × period), every category present.
    pub ns: BTreeMap<Category, u64>,
    /// Kernel time in copy routines per GiB the thread moved (`moved_bytes`), in ns; null when
    /// it moved nothing.
    pub copy_ns_per_gib: Option<f64>,
}

/// One thread of the traced program.
#[derive(Debug, Clone, Serialize)]
pub struct TraceThread {
    pub tid: u32,
    /// Its process id (threads of one process share it; a child process has its own).
    pub pid: u32,
    /// The thread's name (`comm`), as the kernel last reported it.
    pub name: String,
    /// Each traced syscall the thread made at least once.
    pub syscalls: BTreeMap<Syscall, SyscallFigure>,
    /// The larger of the bytes it read into user space and the bytes it sent or had the
    /// kernel move (splice counted half: in, then out).
    pub moved_bytes: u64,
    /// Null when the profile was not taken (see `profile_unavailable`).
    pub cpu: Option<ThreadCpu>,
}

/// One process of the traced program, and the path it used.
#[derive(Debug, Clone, Serialize)]
pub struct TraceProcess {
    pub pid: u32,
    /// Its main thread's name.
    pub name: String,
    /// The larger of the bytes its threads read into user space and the bytes they sent or had
    /// the kernel move, over the whole process (as `TraceThread::moved_bytes`).
    pub moved_bytes: u64,
    pub path: Verdict,
}

/// Everything `copylab trace` measured.
#[derive(Debug, Clone, Serialize)]
pub struct TraceReport {
    pub schema: u32,
    pub copylab_version: &'static str,
    /// The command run, or null when attached to a pid.
    pub command: Option<Vec<String>>,
    /// The process attached to, or null when a command was run.
    pub pid: Option<i32>,
    /// How the trace ended: `exited` (the program ended by itself), `time` (--for ran out and
    /// the command was stopped) or `interrupted` (Ctrl-C or another stop signal; exit 130).
    pub ended: Ended,
    /// The command's exit code (null: attached, still running, or ended by a signal).
    pub exit_code: Option<i32>,
    /// The signal that ended the command, if one did.
    pub exit_signal: Option<i32>,
    /// The signals copylab sent the command's process group, in order (`SIGTERM` when --for
    /// ran out; the stop signal copylab got, passed on; `SIGKILL` when the group still ran 5 s
    /// later, or at a second stop signal); empty when the command ended by itself.
    pub signals_sent: Vec<&'static str>,
    /// Wall time followed.
    pub wall_ns: u64,
    /// Why syscalls could not be followed, with the fix; null when they were.
    pub unavailable: Option<String>,
    /// Why there is no CPU profile, with the fix; null when there is one.
    pub profile_unavailable: Option<String>,
    /// Syscall records the kernel dropped (ring full): the counts are low by at least this.
    pub lost_syscall_records: u64,
    pub lost_samples: u64,
    /// Every traced syscall over all threads (null when not measured).
    pub syscalls: Option<BTreeMap<Syscall, SyscallFigure>>,
    /// Threads that made a traced syscall or were sampled, by tid.
    pub threads: Vec<TraceThread>,
    /// Processes, by pid, each with its path.
    pub processes: Vec<TraceProcess>,
    /// The path of the whole trace (null when not measured).
    pub path: Option<Verdict>,
    /// CPU time of the command and its children by getrusage (null when attached).
    pub rusage_user_ns: Option<u64>,
    pub rusage_sys_ns: Option<u64>,
    /// Each sampled thread's callchains (pid, tid, stacks), when kept (`--export-stacks`,
    /// `--export-html`); not in the JSON.
    #[serde(skip)]
    pub stacks: Vec<(u32, u32, crate::counters::profile::stacks::Stacks)>,
}

/// The path a set of syscalls shows.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// A short name: `sendfile`, `copy_file_range`, `splice`, `vmsplice`, `read+write`,
    /// `mmap+write`, `io_uring`, `receive`, `none`.
    pub kind: PathKind,
    /// The sentence, with the numbers behind it.
    pub words: String,
}
