//! Where a measured thread's CPU time went: cpu-clock sampling of one thread with kernel
//! callchains, each sample named through `/proc/kallsyms` ([`kallsyms`]) and put in one
//! [`Category`] by one table ([`categories`]).
//!
//! cpu-clock is a software hrtimer event, so it works in VMs without a hardware PMU; the price
//! is that it cannot fire while interrupts are off, and such time lands at the next irq-restore
//! point (see [`categories`] on how that is attributed).

pub mod categories;
pub mod kallsyms;
pub mod stacks;

use std::collections::{BTreeMap, HashMap};
use std::os::fd::AsRawFd;

use anyhow::Context;
use perf_event::events::Software;
use perf_event::{Builder, ReadFormat, SampleFlag};
use serde::Serialize;

use kallsyms::Kallsyms;
use stacks::{FrameId, Stacks};

/// Where a sampled CPU moment went. One table (categories.rs) decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// The CPU moving bytes: iov_iter and skb copies, `rep_movs_alternative`, kernel memcpy.
    Copy,
    /// TCP/IP, sockets, skbs, devices and qdiscs, loopback, veth, unix sockets.
    Network,
    /// Page cache lookups and readahead, folios, file-system reads, splice and pipes.
    PageCache,
    /// Faults, page allocation and freeing, zeroing, slab, page tables, TLB, mmap, pinning.
    Memory,
    /// Context switches, wake-ups, run queues, and the irq-restore points.
    Scheduler,
    /// Anything run in softirq context (on loopback: the receive half of TCP).
    Softirq,
    /// Syscall entry and exit, fd lookup, security hooks, perf's own tracepoint callbacks.
    Syscall,
    /// User space.
    User,
    /// Kernel code the table does not name (see `top_other`).
    Other,
}

impl Category {
    /// Every category, in display order.
    pub const ALL: [Category; 9] = [
        Category::Copy,
        Category::Network,
        Category::PageCache,
        Category::Memory,
        Category::Scheduler,
        Category::Softirq,
        Category::Syscall,
        Category::User,
        Category::Other,
    ];

    /// The name used in the JSON and the tables.
    pub fn name(self) -> &'static str {
        match self {
            Category::Copy => "copy",
            Category::Network => "network",
            Category::PageCache => "page_cache",
            Category::Memory => "memory",
            Category::Scheduler => "scheduler",
            Category::Softirq => "softirq",
            Category::Syscall => "syscall",
            Category::User => "user",
            Category::Other => "other",
        }
    }
}

/// What one thread's samples say about one window. Serialize: this is the JSON format
/// ("profile": {"serving": ThreadProfile, "receiver": ThreadProfile}).
#[derive(Debug, Clone, Serialize)]
pub struct ThreadProfile {
    /// The cpu-clock sampling period: one sample stands for this much CPU time.
    pub period_ns: u64,
    /// Samples taken in the window (all of them attributed, lost ones not included).
    pub samples: u64,
    /// Samples the kernel could not write because the ring buffer was full
    /// (PERF_RECORD_LOST / LOST_SAMPLES, read from the event's lost count). Non-zero means the
    /// window was longer than the ring holds and `ns` undercounts.
    pub lost: u64,
    /// CPU time per category: samples × `period_ns`. Every category is present (0 when none),
    /// so the values add up to `samples × period_ns`.
    pub ns: BTreeMap<Category, u64>,
    /// The leaf functions of the most common "other" samples (name, samples), up to 10, most
    /// first: what the category table does not know yet. `[unknown]` is a kernel address no
    /// symbol covers.
    pub top_other: Vec<(String, u64)>,
    /// Of `ns.copy`, the part made in softirq context: a copy routine under a softirq entry
    /// frame. On loopback that is the receive path run on this thread's CPU inside its own send
    /// call — MSG_ZEROCOPY's and SEND_ZC's deferred copy (`skb_copy_ubufs`) above all.
    pub copy_in_softirq_ns: u64,
    /// Of all samples, the part taken in softirq context (copies made there included): the
    /// receiving half of loopback TCP when it runs on this thread's CPU. It moves between the
    /// two threads from run to run, so the serving thread's CPU moves with it.
    pub softirq_context_ns: u64,
    /// Samples per CPU the thread was on (the kernel's word on where it ran).
    pub cpus: BTreeMap<u32, u64>,
    /// CPU time the thread ran in the window by the cpu-clock event's own count (not sampled):
    /// `samples × period_ns` approximates it; a large gap means samples were lost or throttled.
    pub on_cpu_ns: u64,
    /// Every sample's callchain, when the sampler was asked to keep them
    /// ([`Sampler::keep_stacks`]); not in the JSON (`--export-stacks` writes them).
    #[serde(skip)]
    pub stacks: Option<Stacks>,
}

impl ThreadProfile {
    /// The part of `ns` spent in the kernel (every category but user).
    #[cfg(test)]
    pub fn kernel_ns(&self) -> u64 {
        self.ns
            .iter()
            .filter(|(c, _)| **c != Category::User)
            .map(|(_, v)| v)
            .sum()
    }

    /// CPU time in one category.
    pub fn ns_of(&self, c: Category) -> u64 {
        self.ns.get(&c).copied().unwrap_or(0)
    }

    /// CPU time in one category per GiB of `bytes` moved, in ns (0 for no bytes).
    pub fn ns_per_gib(&self, c: Category, bytes: u64) -> f64 {
        if bytes == 0 {
            return 0.0;
        }
        self.ns_of(c) as f64 / crate::size::gib(bytes)
    }

    /// One category's share of all the samples, 0 to 1 (0 without samples).
    pub fn share(&self, c: Category) -> f64 {
        let all: u64 = self.ns.values().sum();
        if all == 0 {
            0.0
        } else {
            self.ns_of(c) as f64 / all as f64
        }
    }
}

/// Samples behind a figure of at least this many make it a figure; fewer are marked as resting
/// on few samples (`~` in the tables). With n samples a share p is known to ±√(p(1−p)/n): at 200,
/// a 40% share is ±3.5 points.
pub const ENOUGH_SAMPLES: u64 = 200;
/// Fewer samples than this behind a thread's figures: they are n/a, not numbers (at 20, a 40%
/// share is ±11 points). One sample of 1 ms on a 32-byte transfer would otherwise read
/// 33 million ms per GiB.
pub const MIN_SAMPLES: u64 = 20;

/// Samples each thread should get over a compare's runs, when copylab chooses the period: twice
/// [`ENOUGH_SAMPLES`], for the thread that runs least.
pub const TARGET_SAMPLES: u64 = 2 * ENOUGH_SAMPLES;
/// The shortest period copylab chooses: each sample costs the sampled thread about 12 µs on
/// the VMs here (a timer interrupt, a VM exit, the callchain; scripts/bench-profile.sh: 250 µs
/// added 9% to read-write's CPU per GiB), so 500 µs keeps the measuring cost near 2–3%.
pub const MIN_PERIOD_NS: u64 = 500_000;
/// The longest period copylab chooses: a long transfer needs no sparser sampling than this.
pub const MAX_PERIOD_NS: u64 = 4_000_000;

/// CPU time a thread is assumed to spend per byte before any run has measured it: 1 ns, about
/// a copy at 1 GiB/s — the right order for every path here, and only the first round's guess.
const GUESS_CPU_NS_PER_BYTE: u64 = 1;

/// The sampling period for the first round of a compare of `runs` runs of `bytes` each, before
/// anything is measured: [`period_for`] with every thread guessed at
/// [`GUESS_CPU_NS_PER_BYTE`].
pub fn first_period_for(bytes: u64, runs: u32, capacity: u64) -> u64 {
    let guess = bytes.saturating_mul(GUESS_CPU_NS_PER_BYTE);
    period_for(&[guess], runs, capacity)
}

/// The sampling period for a compare of `runs` runs, from the CPU time (ns) each measured
/// thread spent in one run of the first round: the thread that ran least should get
/// [`TARGET_SAMPLES`] over all the runs, and the one that ran most should not overflow a ring
/// of `capacity` samples in one run; within [`MIN_PERIOD_NS`]..=[`MAX_PERIOD_NS`].
pub fn period_for(cpu_per_run_ns: &[u64], runs: u32, capacity: u64) -> u64 {
    let least = cpu_per_run_ns.iter().copied().min().unwrap_or(0);
    let most = cpu_per_run_ns.iter().copied().max().unwrap_or(0);
    let for_samples = least.saturating_mul(u64::from(runs.max(1))) / TARGET_SAMPLES;
    // Four fifths of the ring, for chains deeper than the record size assumed.
    let for_ring = most / (capacity.max(1) * 4 / 5).max(1);
    for_samples
        .max(for_ring)
        .clamp(MIN_PERIOD_NS, MAX_PERIOD_NS)
}

/// How far a pooled profile's figures can be trusted, by the samples behind them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// At least [`ENOUGH_SAMPLES`].
    Enough,
    /// At least [`MIN_SAMPLES`], fewer than [`ENOUGH_SAMPLES`]: shown with a `~`.
    Few,
    /// Fewer than [`MIN_SAMPLES`]: shown as n/a.
    TooFew,
}

impl Precision {
    pub fn of(samples: u64) -> Precision {
        if samples >= ENOUGH_SAMPLES {
            Precision::Enough
        } else if samples >= MIN_SAMPLES {
            Precision::Few
        } else {
            Precision::TooFew
        }
    }
}

/// One thread's samples over every measured run of a method, pooled: each category's time is
/// the sum over the runs, and per-GiB figures divide by the bytes of all those runs. A ratio
/// of sums, not a median of ratios: one run of a short transfer holds a few dozen samples,
/// five runs together a few hundred.
#[derive(Debug, Clone, Serialize)]
pub struct Pooled {
    /// Samples of all the runs.
    pub samples: u64,
    /// Bytes the runs moved in all.
    pub bytes: u64,
    /// CPU time per category over all the runs (each run's samples × its period), ns.
    pub ns: BTreeMap<Category, u64>,
    /// Of `ns.copy`, the part made in softirq context.
    pub copy_in_softirq_ns: u64,
    /// Of all, the part taken in softirq context.
    pub softirq_context_ns: u64,
    /// How far the figures can be trusted, by `samples`.
    pub precision: Precision,
}

impl Pooled {
    /// Pool the profiles of `runs`, each with the bytes it moved.
    pub fn of<'a>(runs: impl IntoIterator<Item = (&'a ThreadProfile, u64)>) -> Pooled {
        let mut p = Pooled {
            samples: 0,
            bytes: 0,
            ns: Category::ALL.iter().map(|&c| (c, 0)).collect(),
            copy_in_softirq_ns: 0,
            softirq_context_ns: 0,
            precision: Precision::TooFew,
        };
        for (t, bytes) in runs {
            p.samples += t.samples;
            p.bytes += bytes;
            for (c, v) in &t.ns {
                *p.ns.entry(*c).or_insert(0) += v;
            }
            p.copy_in_softirq_ns += t.copy_in_softirq_ns;
            p.softirq_context_ns += t.softirq_context_ns;
        }
        p.precision = Precision::of(p.samples);
        p
    }

    /// CPU time in one category per GiB moved, in ns; `None` when the samples are too few to
    /// say (or nothing moved).
    pub fn ns_per_gib(&self, c: Category) -> Option<f64> {
        self.per_gib(self.ns.get(&c).copied().unwrap_or(0))
    }

    /// All sampled CPU per GiB moved, in ns (`None` as for [`Pooled::ns_per_gib`]).
    pub fn total_per_gib(&self) -> Option<f64> {
        self.per_gib(self.ns.values().sum())
    }

    /// `ns` per GiB of the pooled bytes, unless the samples are too few.
    pub fn per_gib(&self, ns: u64) -> Option<f64> {
        (self.precision != Precision::TooFew && self.bytes > 0)
            .then(|| ns as f64 / crate::size::gib(self.bytes))
    }

    /// One category's share of all the samples, 0 to 1 (`None` when too few).
    pub fn share(&self, c: Category) -> Option<f64> {
        let all: u64 = self.ns.values().sum();
        (self.precision != Precision::TooFew && all > 0)
            .then(|| self.ns.get(&c).copied().unwrap_or(0) as f64 / all as f64)
    }
}

/// Why no profile could be taken (becomes a warning with a fix; the JSON then has profile null).
#[derive(Debug, Clone)]
pub struct NoProfile {
    pub reason: String,
    pub fix: &'static str,
}

/// `perf_event_mmap_page.misc` CPU modes (linux/perf_event.h): the sampled IP was in user space.
const PERF_RECORD_MISC_CPUMODE_MASK: u16 = 7;
const PERF_RECORD_MISC_USER: u16 = 2;
const PERF_RECORD_MISC_GUEST_USER: u16 = 5;
/// Callchain entries at or above this are context markers (PERF_CONTEXT_KERNEL, …), not IPs.
const PERF_CONTEXT_MAX: u64 = -4095i64 as u64;

/// Record types (linux/perf_event.h `perf_event_type`).
pub const PERF_RECORD_LOST: u32 = 2;
pub const PERF_RECORD_SAMPLE: u32 = 9;
pub const PERF_RECORD_LOST_SAMPLES: u32 = 13;

/// The `n`th native-endian u64 of a record's body.
pub fn word(data: &[u8], n: usize) -> Option<u64> {
    let b = data.get(n * 8..n * 8 + 8)?;
    Some(u64::from_ne_bytes(b.try_into().ok()?))
}

/// One PERF_RECORD_SAMPLE body with the fields [`Sampler::open`] asks for, in the kernel's
/// order: ip; pid, tid (u32 each); cpu, reserved (u32 each); nr; nr callchain entries.
///
/// Parsed here rather than by `perf_event::data`: its parser (0.1.8) fails with "unexpected
/// EOF" on a callchain of zero entries at the end of a record, which is every user-space
/// sample with `exclude_callchain_user`.
pub struct RawSample<'a> {
    pub ip: u64,
    pub tid: u32,
    pub cpu: u32,
    chain: &'a [u8],
}

impl<'a> RawSample<'a> {
    pub fn parse(data: &'a [u8]) -> Option<RawSample<'a>> {
        let ip = word(data, 0)?;
        let tid = u32::from_ne_bytes(data.get(12..16)?.try_into().ok()?);
        let cpu = u32::from_ne_bytes(data.get(16..20)?.try_into().ok()?);
        let nr = usize::try_from(word(data, 3)?).ok()?;
        let chain = data.get(32..32 + nr.checked_mul(8)?)?;
        Some(RawSample {
            ip,
            tid,
            cpu,
            chain,
        })
    }

    /// The callchain, leaf first, context markers included.
    fn chain(&self) -> impl Iterator<Item = u64> + '_ {
        self.chain
            .chunks_exact(8)
            .filter_map(|c| c.try_into().ok().map(u64::from_ne_bytes))
    }
}

/// Puts each sample in one [`Category`]: the leaf's class, or the first classified caller's
/// (categories.rs decides). Remembers each address it has looked up, so a long profile names
/// each kernel address once.
#[derive(Default)]
pub struct Attributor {
    frames: HashMap<u64, Frame>,
    chain: Vec<Option<Category>>,
    /// The last attributed sample's frames, leaf first ([`Attributor::last_stack`]).
    stack: Vec<FrameId>,
}

impl Attributor {
    /// Builder flags a sampler must use for [`RawSample::parse`] to read its samples.
    pub const SAMPLE: SampleFlag = SampleFlag::IP
        .union(SampleFlag::TID)
        .union(SampleFlag::CPU)
        .union(SampleFlag::CALLCHAIN);

    /// The sample's category, and for kernel samples the leaf's symbol (an index into
    /// `kallsyms`, `None` for an address no symbol covers).
    pub fn attribute(
        &mut self,
        kallsyms: &Kallsyms,
        misc: u16,
        s: &RawSample<'_>,
    ) -> (Category, Option<usize>) {
        let (a, leaf) = self.attribute_in_context(kallsyms, misc, s);
        (a.category, leaf)
    }

    /// [`Attributor::attribute`], saying also whether the sample ran in softirq context.
    pub fn attribute_in_context(
        &mut self,
        kallsyms: &Kallsyms,
        misc: u16,
        s: &RawSample<'_>,
    ) -> (categories::Attribution, Option<usize>) {
        let ip = s.ip;
        let mode = misc & PERF_RECORD_MISC_CPUMODE_MASK;
        let user =
            mode == PERF_RECORD_MISC_USER || mode == PERF_RECORD_MISC_GUEST_USER || (ip >> 63) == 0;
        self.stack.clear();
        if user {
            self.stack.push(stacks::USER);
            let user = categories::Attribution {
                category: Category::User,
                in_softirq: false,
            };
            return (user, None);
        }
        let frames = &mut self.frames;
        let mut frame = |addr: u64| -> Frame {
            *frames.entry(addr).or_insert_with(|| {
                let sym = kallsyms.lookup(addr);
                Frame {
                    class: sym.and_then(|s| categories::classify(s.name)),
                    symbol: sym.map(|s| s.index),
                }
            })
        };
        let id = |f: Frame| f.symbol.map_or(stacks::UNKNOWN, |i| i as FrameId);
        let leaf = frame(ip);
        self.stack.push(id(leaf));
        self.chain.clear();
        let mut ips = s.chain().filter(|a| *a < PERF_CONTEXT_MAX).peekable();
        // perf's chain starts with the sampled IP itself.
        if ips.peek() == Some(&ip) {
            ips.next();
        }
        let stack = &mut self.stack;
        self.chain.extend(ips.map(|a| {
            let f = frame(a);
            stack.push(id(f));
            f.class
        }));
        let c = categories::attribute_classes(leaf.class, self.chain.iter().copied());
        (c, leaf.symbol)
    }

    /// The frames of the sample last attributed, leaf first: kallsyms indices (kernel frames),
    /// [`stacks::USER`] for a user-space sample, [`stacks::UNKNOWN`] for an address no symbol
    /// covers.
    pub fn last_stack(&self) -> &[FrameId] {
        &self.stack
    }
}

/// Ring buffer data sizes tried, largest first (a power of two of pages each). A record is
/// 100–140 bytes on Linux 6.18 (40 bytes of fields, 8–15 kernel frames: pread, TCP send with
/// the loopback receive in softirq); 4 MiB (1024 pages, plus the header page) holds ~30,000 of
/// them, about 30 s of on-CPU time at 1 kHz. Smaller rings are the fallback when the
/// locked-memory limit refuses it (an unprivileged user with CAP_PERFMON).
const RING_BYTES: [usize; 4] = [4 << 20, 2 << 20, 1 << 20, 512 << 10];

/// Bytes a record is assumed to take when saying how long a window the ring holds (above the
/// measured 100–140, for deeper chains).
const RECORD_BYTES: u64 = 160;

/// Deepest kernel callchain recorded (the kernel's own default limit is 127).
const MAX_STACK: u16 = 127;

/// One sampled address, classified once and remembered for the life of the sampler.
#[derive(Debug, Clone, Copy)]
struct Frame {
    class: Option<Category>,
    symbol: Option<usize>,
}

/// cpu-clock sampling of the calling thread (pid 0, no inherit), kernel and user IPs,
/// kernel callchains. Open once per thread and reuse for many windows.
///
/// The ring is drained when the window stops, not while it runs (a drainer would share the
/// measured thread's CPUs), so a window holds what the ring holds: [`Sampler::capacity_ns`],
/// about 26 s of on-CPU time at the default 1 ms with the 4 MiB ring. Longer
/// windows are still measured, and their overflow is counted in [`ThreadProfile::lost`].
pub struct Sampler {
    inner: perf_event::Sampler,
    period_ns: u64,
    /// Bytes of sample data the ring holds.
    ring_bytes: usize,
    attributor: Attributor,
    /// The event's lost count and cpu-clock count when the window started.
    lost_at_start: u64,
    count_at_start: u64,
    /// Disabled by [`Sampler::pause`], not yet read.
    paused: bool,
    /// Bytes of records the last `stop` drained (for sizing the ring).
    bytes_drained: u64,
    /// Keep every sample's callchain ([`ThreadProfile::stacks`]).
    keep_stacks: bool,
}

impl Sampler {
    /// The period a sampler opens with: 1 ms of the thread's CPU (1 kHz), what `trace` uses.
    /// `compare` sets its own with [`Sampler::set_period`] ([`first_period_for`], then
    /// [`period_for`]). Each cpu-clock sample costs the sampled thread a few µs on the VMs here
    /// (a timer interrupt, a VM exit, the kernel callchain); scripts/bench-profile.sh measures
    /// what each period costs a transfer.
    pub const PERIOD_NS: u64 = 1_000_000;

    /// Open on the calling thread, disabled. Fails with the reason when perf refuses
    /// cpu-clock with kernel samples (unprivileged, paranoid ≥ 2: EACCES), or when kernel
    /// symbols cannot be read (see kallsyms.rs) — both give a clear reason and fix.
    pub fn open(period_ns: u64) -> Result<Sampler, NoProfile> {
        Sampler::open_with_rings(period_ns, &RING_BYTES)
    }

    /// [`Sampler::open`] trying these ring data sizes in turn (each a power of two of pages).
    fn open_with_rings(period_ns: u64, rings: &[usize]) -> Result<Sampler, NoProfile> {
        let period_ns = period_ns.max(1);
        let max_stack = std::fs::read_to_string("/proc/sys/kernel/perf_event_max_stack")
            .ok()
            .and_then(|s| s.trim().parse::<u16>().ok())
            .map_or(MAX_STACK, |m| m.min(MAX_STACK));
        let build = |read_format| {
            let mut b = Builder::new(Software::CPU_CLOCK);
            b.include_kernel()
                .sample_period(period_ns)
                .sample(Attributor::SAMPLE)
                .exclude_callchain_user(true)
                .sample_max_stack(max_stack)
                .read_format(read_format)
                .enabled(false);
            b.build()
        };
        let mut last_mmap_error = None;
        for &ring_bytes in rings {
            // The lost count in read() is Linux 6.0+; older kernels refuse it with EINVAL and
            // lost samples are then counted from PERF_RECORD_LOST.
            let counter = match build(ReadFormat::LOST) {
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => build(ReadFormat::empty()),
                r => r,
            };
            let counter = counter.map_err(|e| refused(&e))?;
            match counter.sampled(ring_bytes) {
                Ok(inner) => {
                    // Only a quick look here (are the symbols readable, not hidden?): the full
                    // table is read once, on its own thread, and first needed at `stop`.
                    kallsyms::check()?;
                    return Ok(Sampler {
                        inner,
                        period_ns,
                        ring_bytes,
                        attributor: Attributor::default(),
                        lost_at_start: 0,
                        count_at_start: 0,
                        paused: false,
                        bytes_drained: 0,
                        keep_stacks: false,
                    });
                }
                Err(e) => last_mmap_error = Some(e),
            }
        }
        let e = last_mmap_error.map_or_else(|| "no ring size tried".to_string(), |e| e.to_string());
        Err(NoProfile {
            reason: format!(
                "perf refused a sampling ring buffer of even {} KiB: {e}",
                rings.last().copied().unwrap_or(0) >> 10
            ),
            fix: "run as root, or raise the locked-memory limit (`ulimit -l`) or `sudo sysctl kernel.perf_event_mlock_kb=8200`",
        })
    }

    /// The sampling period this sampler was opened with.
    #[cfg(test)]
    pub fn period_ns(&self) -> u64 {
        self.period_ns
    }

    /// Bytes of sample data the ring buffer holds.
    #[cfg(test)]
    pub fn ring_bytes(&self) -> usize {
        self.ring_bytes
    }

    /// About how much on-CPU time one window can hold before samples are lost (at
    /// [`RECORD_BYTES`] a sample; deeper callchains hold less).
    #[cfg(test)]
    pub fn capacity_ns(&self) -> u64 {
        self.capacity_samples() * self.period_ns
    }

    /// Sample every `period_ns` of the thread's CPU from the next window on
    /// (PERF_EVENT_IOC_PERIOD; the hrtimer picks the new period up when it next fires).
    pub fn set_period(&mut self, period_ns: u64) -> anyhow::Result<()> {
        let mut period = period_ns.max(1);
        // perf-event-open-sys2's `ioctls::PERIOD` passes the u64 by value, but the kernel
        // (perf_event_period) reads it through a pointer: call ioctl with the pointer itself.
        // SAFETY: PERF_EVENT_IOC_PERIOD reads one u64 through the pointer, which points at
        // `period`, alive for the call; the fd is the sampler's own, open for its lifetime.
        let rc = unsafe {
            libc::ioctl(
                self.inner.as_raw_fd(),
                perf_event_open_sys::bindings::PERIOD as _,
                &mut period as *mut u64,
            )
        };
        if rc < 0 {
            return Err(std::io::Error::last_os_error())
                .context("cannot change the cpu-clock sampling period");
        }
        self.period_ns = period;
        Ok(())
    }

    /// Keep every sample's callchain from the next window on, in [`ThreadProfile::stacks`]
    /// (the folded stacks and flame graphs). The chains are read after the window stops, with
    /// the frames the categories need anyway, so the window itself costs nothing more.
    pub fn keep_stacks(&mut self) {
        self.keep_stacks = true;
    }

    /// About how many samples one window's ring holds (at [`RECORD_BYTES`] a sample).
    pub fn capacity_samples(&self) -> u64 {
        self.ring_bytes as u64 / RECORD_BYTES
    }

    /// Discard anything left in the ring, then enable.
    pub fn start(&mut self) -> anyhow::Result<()> {
        while self.inner.next_record().is_some() {}
        let data = self
            .inner
            .read_full()
            .context("cannot read the cpu-clock sampler")?;
        self.lost_at_start = data.lost().unwrap_or(0);
        self.count_at_start = data.count();
        self.inner
            .enable()
            .context("cannot enable the cpu-clock sampler")?;
        Ok(())
    }

    /// Stop sampling (one ioctl, nothing read): the window's other counters stop after this
    /// and before [`Sampler::stop`], so reading and attributing the samples is in none of them.
    pub fn pause(&mut self) -> anyhow::Result<()> {
        self.inner
            .disable()
            .context("cannot disable the cpu-clock sampler")?;
        self.paused = true;
        Ok(())
    }

    /// Disable (if [`Sampler::pause`] did not), drain the ring, attribute every sample. Cheap
    /// enough to run after every window.
    pub fn stop(&mut self) -> anyhow::Result<ThreadProfile> {
        if !self.paused {
            self.pause()?;
        }
        self.paused = false;
        let data = self
            .inner
            .read_full()
            .context("cannot read the cpu-clock sampler")?;
        let lost_counted = data.lost().map(|l| l.saturating_sub(self.lost_at_start));
        let on_cpu_ns = data.count().saturating_sub(self.count_at_start);

        let kallsyms: &'static Kallsyms = kallsyms::get().map_err(|e| anyhow::anyhow!(e.reason))?;
        let drained = self.drain(kallsyms);
        self.bytes_drained = drained.bytes;
        Ok(ThreadProfile {
            period_ns: self.period_ns,
            samples: drained.samples,
            // The event's own count is exact and belongs to this window; LOST records arrive
            // only once the ring has room again, possibly in a later window: the fallback.
            lost: lost_counted.unwrap_or(drained.lost_records),
            ns: Category::ALL
                .iter()
                .map(|c| {
                    let n = drained.by_category.get(c).copied().unwrap_or(0);
                    (*c, n * self.period_ns)
                })
                .collect(),
            copy_in_softirq_ns: drained.copy_in_softirq * self.period_ns,
            softirq_context_ns: drained.softirq_context * self.period_ns,
            top_other: top_other(drained.other, kallsyms),
            cpus: drained.cpus,
            on_cpu_ns,
            stacks: drained.stacks,
        })
    }

    /// Read every record left in the ring: attribute each sample (and keep its callchain when
    /// asked), count the samples the ring lost.
    fn drain(&mut self, kallsyms: &Kallsyms) -> Drained {
        let mut d = Drained {
            stacks: self.keep_stacks.then(Stacks::default),
            ..Drained::default()
        };
        while let Some(rec) = self.inner.next_record() {
            d.bytes += rec.len() as u64 + 8;
            let misc = rec.misc();
            let data = rec.to_contiguous();
            let s = match rec.ty() {
                PERF_RECORD_SAMPLE => match RawSample::parse(&data) {
                    Some(s) => s,
                    // Shorter than the fields asked for: not a sample of ours.
                    None => continue,
                },
                PERF_RECORD_LOST => {
                    d.lost_records += word(&data, 1).unwrap_or(0);
                    continue;
                }
                PERF_RECORD_LOST_SAMPLES => {
                    d.lost_records += word(&data, 0).unwrap_or(0);
                    continue;
                }
                _ => continue,
            };
            d.samples += 1;
            *d.cpus.entry(s.cpu).or_insert(0) += 1;
            let (a, leaf) = self.attributor.attribute_in_context(kallsyms, misc, &s);
            if let Some(st) = d.stacks.as_mut() {
                st.add_leaf_first(self.attributor.last_stack());
            }
            d.count(&a, leaf);
        }
        d
    }
}

/// What the samples of one window add up to, in samples.
#[derive(Default)]
struct Drained {
    samples: u64,
    copy_in_softirq: u64,
    softirq_context: u64,
    /// Samples the ring lost, as its LOST records say.
    lost_records: u64,
    by_category: BTreeMap<Category, u64>,
    /// Samples no category claims, by their leaf symbol (an index into kallsyms).
    other: HashMap<Option<usize>, u64>,
    cpus: BTreeMap<u32, u64>,
    stacks: Option<Stacks>,
    /// Bytes of records read from the ring.
    bytes: u64,
}

impl Drained {
    /// One sample, attributed as `a`, whose leaf is the kallsyms symbol `leaf`.
    fn count(&mut self, a: &categories::Attribution, leaf: Option<usize>) {
        let category = a.category;
        if a.in_softirq {
            self.softirq_context += 1;
            if category == Category::Copy {
                self.copy_in_softirq += 1;
            }
        }
        if category == Category::Other {
            *self.other.entry(leaf).or_insert(0) += 1;
        }
        *self.by_category.entry(category).or_insert(0) += 1;
    }
}

/// The ten symbols no category claims that most samples ended in, by name, most first.
fn top_other(other: HashMap<Option<usize>, u64>, kallsyms: &Kallsyms) -> Vec<(String, u64)> {
    let mut top: Vec<(String, u64)> = other
        .into_iter()
        .map(|(sym, n)| {
            let name = sym.and_then(|i| kallsyms.name(i)).unwrap_or("[unknown]");
            (name.to_string(), n)
        })
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(10);
    top
}

/// perf_event_open refused the sampler: say why and how to allow it.
pub fn refused(e: &std::io::Error) -> NoProfile {
    let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()
        .map(|s| s.trim().to_string());
    let paranoid = paranoid.map_or_else(String::new, |p| {
        format!("; kernel.perf_event_paranoid = {p}")
    });
    let errno = e.raw_os_error();
    NoProfile {
        reason: format!(
            "perf refused cpu-clock sampling with kernel samples: perf_event_open: {e}{paranoid}"
        ),
        fix: match errno {
            Some(libc::EPERM) | Some(libc::ENOSYS) => {
                "allow perf_event_open (a container's seccomp profile blocks it: run with --cap-add PERFMON or a profile that permits it), then run as root"
            }
            Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) | Some(libc::EINVAL) => {
                "use a kernel with CONFIG_PERF_EVENTS and software events (cpu-clock)"
            }
            _ => {
                "run as root, or `sudo sysctl kernel.perf_event_paranoid=-1`, or `sudo setcap cap_perfmon+ep $(command -v copylab)`"
            }
        },
    }
}

#[cfg(test)]
mod tests {
    /// The tests sample every 100 µs: enough samples in a 200 ms window to check the mechanics.
    const TEST_PERIOD_NS: u64 = 100_000;
    use super::*;
    use std::os::unix::fs::FileExt;
    use std::time::{Duration, Instant};

    /// CPU time of the calling thread.
    fn thread_cpu() -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec into the valid `ts`.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0);
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }

    /// Run `f` until this thread has used `cpu` of CPU time (or 5 s of wall time passed: the
    /// machine is shared).
    fn burn(cpu: Duration, mut f: impl FnMut()) {
        let (t0, w0) = (thread_cpu(), Instant::now());
        while thread_cpu() - t0 < cpu && w0.elapsed() < Duration::from_secs(5) {
            f();
        }
    }

    fn open_or_skip() -> Option<Sampler> {
        match Sampler::open(TEST_PERIOD_NS) {
            Ok(s) => Some(s),
            Err(u) => {
                eprintln!("skipped: {} (fix: {})", u.reason, u.fix);
                None
            }
        }
    }

    /// A 4 MiB file in the page cache and a page-aligned 1 MiB buffer already faulted in.
    struct CopyLoad {
        _dir: tempfile::TempDir,
        file: std::fs::File,
        buf: Vec<u8>,
        offset: usize,
    }

    impl CopyLoad {
        fn new() -> CopyLoad {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("data");
            std::fs::write(&path, vec![7u8; 4 << 20]).unwrap();
            let file = std::fs::File::open(&path).unwrap();
            // 1 MiB + a page, so a page-aligned 1 MiB window exists inside it.
            let buf = vec![1u8; (1 << 20) + 4096];
            let offset = buf.as_ptr().align_offset(4096);
            let mut l = CopyLoad {
                _dir: dir,
                file,
                buf,
                offset,
            };
            l.step();
            l
        }

        fn step(&mut self) {
            let b = &mut self.buf[self.offset..self.offset + (1 << 20)];
            for i in 0..4u64 {
                self.file.read_exact_at(b, i << 20).unwrap();
            }
        }
    }

    fn show(what: &str, p: &ThreadProfile) {
        let parts: Vec<String> = Category::ALL
            .iter()
            .map(|c| format!("{} {:.1} ms", c.name(), p.ns_of(*c) as f64 / 1e6))
            .collect();
        eprintln!(
            "{what}: {} samples, {} lost, on-cpu {:.1} ms, cpus {:?}: {}; top other {:?}",
            p.samples,
            p.lost,
            p.on_cpu_ns as f64 / 1e6,
            p.cpus,
            parts.join(", "),
            p.top_other
        );
    }

    fn check_sums(p: &ThreadProfile) {
        assert_eq!(p.ns.len(), Category::ALL.len(), "every category present");
        assert_eq!(p.ns.values().sum::<u64>(), p.samples * p.period_ns);
        assert_eq!(p.period_ns, TEST_PERIOD_NS);
    }

    #[test]
    fn profile_sampler_sees_copy_in_pread() {
        let Some(mut s) = open_or_skip() else { return };
        let mut load = CopyLoad::new();
        s.start().unwrap();
        burn(Duration::from_millis(200), || load.step());
        let t = Instant::now();
        let p = s.stop().unwrap();
        let took = t.elapsed();
        show("pread 1 MiB from the page cache", &p);
        eprintln!("stop took {took:?}");
        eprintln!(
            "ring: {} KiB (~{} ms of samples), {:?} bytes a record on average",
            s.ring_bytes() >> 10,
            s.capacity_ns() / 1_000_000,
            s.bytes_drained.checked_div(p.samples)
        );
        assert_eq!(s.period_ns(), TEST_PERIOD_NS);
        check_sums(&p);
        assert!(p.samples >= 500, "{} samples", p.samples);
        assert_eq!(p.lost, 0);
        assert!(!p.cpus.is_empty());
        assert_eq!(p.cpus.values().sum::<u64>(), p.samples);
        let (top, _) = Category::ALL
            .iter()
            .filter(|c| **c != Category::User)
            .map(|c| (*c, p.ns_of(*c)))
            .max_by_key(|(_, v)| *v)
            .unwrap();
        assert_eq!(top, Category::Copy, "copy is the largest kernel category");
        assert!(
            p.ns_of(Category::Copy) * 3 >= p.kernel_ns(),
            "copy ≥ 1/3 of kernel time"
        );
        let expected = p.samples * p.period_ns;
        assert!(
            p.on_cpu_ns >= expected / 2 && p.on_cpu_ns <= expected * 2,
            "on-cpu {} vs sampled {expected}",
            p.on_cpu_ns
        );
    }

    #[test]
    fn profile_kept_stacks_add_up_to_the_samples_and_name_the_copy() {
        let Some(mut s) = open_or_skip() else { return };
        let mut load = CopyLoad::new();
        s.start().unwrap();
        burn(Duration::from_millis(50), || load.step());
        assert!(s.stop().unwrap().stacks.is_none(), "not kept unless asked");
        s.keep_stacks();
        s.start().unwrap();
        burn(Duration::from_millis(150), || load.step());
        let p = s.stop().unwrap();
        let st = p.stacks.expect("kept");
        assert_eq!(st.samples(), p.samples, "one stack per sample");
        let k = kallsyms::get().unwrap();
        // Root first: the syscall entry at the bottom, the copy routine above the page cache.
        let copy = st
            .iter()
            .filter(|(f, _)| {
                let names: Vec<&str> = f.iter().map(|i| stacks::frame_name(k, *i)).collect();
                let at = |n: &str| names.iter().position(|x| *x == n);
                matches!((at("filemap_read"), at("copy_page_to_iter")), (Some(a), Some(b)) if a < b)
            })
            .map(|(_, n)| n)
            .sum::<u64>();
        assert!(
            copy * 4 >= p.samples,
            "{copy} of {} samples under filemap_read → copy",
            p.samples
        );
    }

    #[test]
    fn profile_second_window_discards_and_sees_user() {
        let Some(mut s) = open_or_skip() else { return };
        let mut load = CopyLoad::new();
        // First window: kernel copies.
        s.start().unwrap();
        burn(Duration::from_millis(50), || load.step());
        let first = s.stop().unwrap();
        check_sums(&first);
        // Second: start twice; the copies between the two starts must be discarded.
        s.start().unwrap();
        burn(Duration::from_millis(50), || load.step());
        s.start().unwrap();
        let mut x = 1u64;
        burn(Duration::from_millis(150), || {
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
        });
        let p = s.stop().unwrap();
        show("busy user loop", &p);
        check_sums(&p);
        assert!(p.samples >= 300, "{} samples", p.samples);
        let user = p.ns_of(Category::User);
        assert!(user * 10 >= p.samples * p.period_ns * 7, "user ≥ 70%");
        assert!(
            p.ns_of(Category::Copy) * 10 < p.samples * p.period_ns,
            "the discarded copies stayed out"
        );
    }

    #[test]
    fn profile_sampler_tcp_loopback_send() {
        use std::io::{Read, Write};
        let Some(mut s) = open_or_skip() else { return };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let receiver = std::thread::spawn(move || {
            let (mut c, _) = listener.accept().unwrap();
            let mut buf = vec![0u8; 1 << 20];
            while c.read(&mut buf).unwrap() > 0 {}
        });
        let mut tx = std::net::TcpStream::connect(addr).unwrap();
        let buf = vec![3u8; 256 << 10];
        s.start().unwrap();
        burn(Duration::from_millis(150), || tx.write_all(&buf).unwrap());
        let p = s.stop().unwrap();
        drop(tx);
        receiver.join().unwrap();
        show("TCP loopback send 256 KiB writes", &p);
        eprintln!(
            "{:?} bytes a record on average",
            s.bytes_drained.checked_div(p.samples)
        );
        check_sums(&p);
        assert!(p.samples >= 300, "{} samples", p.samples);
        assert_eq!(p.lost, 0);
        // The sender copies into socket buffers and, on loopback, runs the receive in softirq.
        assert!(p.ns_of(Category::Copy) > 0);
        assert!(p.ns_of(Category::Softirq) + p.ns_of(Category::Network) > 0);
        assert!(p.ns_of(Category::Other) * 5 < p.kernel_ns(), "other < 20%");
    }

    #[test]
    fn profile_small_ring_counts_lost_samples() {
        // One page of data holds ~30 samples: a 100 ms window loses most of its ~1000.
        let mut s = match Sampler::open_with_rings(TEST_PERIOD_NS, &[4096]) {
            Ok(s) => s,
            Err(u) => return eprintln!("skipped: {} (fix: {})", u.reason, u.fix),
        };
        let mut load = CopyLoad::new();
        for _ in 0..2 {
            s.start().unwrap();
            burn(Duration::from_millis(100), || load.step());
            let p = s.stop().unwrap();
            show("one-page ring", &p);
            check_sums(&p);
            assert!(p.lost > p.samples, "{} lost, {} kept", p.lost, p.samples);
            let taken = (p.samples + p.lost) * p.period_ns;
            assert!(
                taken >= p.on_cpu_ns * 6 / 10 && taken <= p.on_cpu_ns * 14 / 10,
                "kept + lost ({taken} ns) accounts for the window ({} ns on CPU)",
                p.on_cpu_ns
            );
        }
    }

    #[test]
    fn period_gives_the_least_busy_thread_its_samples_within_bounds() {
        let ms = 1_000_000;
        // 300 ms and 80 ms of CPU per run, 5 runs: 400 ms for the least over 400 samples.
        assert_eq!(period_for(&[300 * ms, 80 * ms], 5, 25_000), 1_000_000);
        // A short transfer cannot get 400 samples without costing too much: the floor.
        assert_eq!(period_for(&[2 * ms], 5, 25_000), MIN_PERIOD_NS);
        // A long one needs no denser sampling than the ceiling…
        assert_eq!(period_for(&[60_000 * ms], 5, 25_000), MAX_PERIOD_NS);
        // …unless its longest thread would overflow the ring at the period the least wants.
        assert_eq!(period_for(&[10 * ms, 16_000 * ms], 5, 10_000), 2_000_000);
        assert_eq!(period_for(&[], 5, 25_000), MIN_PERIOD_NS);
        // Before any run: 1 ns a byte.
        assert_eq!(first_period_for(256 << 20, 5, 25_000), 3_355_443);
        assert_eq!(Precision::of(19), Precision::TooFew);
        assert_eq!(Precision::of(20), Precision::Few);
        assert_eq!(Precision::of(200), Precision::Enough);
    }

    #[test]
    fn raw_sample_with_empty_callchain_parses() {
        // A user-space sample as Linux 6.18 wrote it: ip, pid, tid, cpu 0, nr 0.
        let user: [u8; 32] = [
            2, 60, 208, 235, 217, 85, 0, 0, 76, 48, 0, 0, 77, 48, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0,
        ];
        let s = RawSample::parse(&user).unwrap();
        assert_eq!(s.ip, 0x55d9ebd03c02);
        assert_eq!(s.cpu, 0);
        assert_eq!(s.chain().count(), 0);
        let mut kernel = Vec::new();
        for w in [
            0xffffffff81001000u64,
            7 << 32 | 7,
            1,
            2,
            PERF_CONTEXT_MAX + 3968,
            0xffffffff81001000,
        ] {
            kernel.extend_from_slice(&w.to_ne_bytes());
        }
        let s = RawSample::parse(&kernel).unwrap();
        assert_eq!(s.cpu, 1);
        assert_eq!(
            s.chain().collect::<Vec<_>>(),
            [PERF_CONTEXT_MAX + 3968, 0xffffffff81001000]
        );
        assert!(
            RawSample::parse(&kernel[..40]).is_none(),
            "nr says 2, one is there"
        );
    }

    #[test]
    fn profile_stop_without_work_is_empty_and_cheap() {
        let Some(mut s) = open_or_skip() else { return };
        s.start().unwrap();
        let p = s.stop().unwrap();
        check_sums(&p);
        assert!(p.samples <= 5, "{} samples", p.samples);
    }
}
