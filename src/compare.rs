//! The `compare` runner: serve the same file with every chosen method, warm-ups first, then runs
//! interleaved across methods (A B C D, A B C D, …) so machine drift spreads over all of them;
//! check every delivery; measure only the serving thread (this one).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget};

use crate::counters::{Choice, Counters, Sampling, SyscallSource};
use crate::method::{self, MMAP_WINDOW, Method, MethodConfig, MethodKind, Scratch};
use crate::placement::{self, Cpus, Placement};
use crate::receive::{Check, Delivery, ReceiveConfig, ReceiverKind, ZeroCopyReceive};
use crate::results::{
    CacheInfo, CacheMode, CacheState, Cost, CounterSource, DeviceTx, FileInfo, Machine,
    MethodResult, MethodStacks, Profile, ReceiveInfo, ReceivePathInfo, Report, Run, RunOptions,
    RunReceive, SCHEMA, Verify, VethInfo,
};
use crate::source::{self, Source};
use crate::transfer::{self, ReceiveWith, Received, Receiver};
use crate::transport::{Conn, Transport, Wire};

/// With `--cache cold`, a run counts as cold when less than this share of the file (in %) is
/// still cached after the drop (a few pages may be pinned by readahead or another reader).
const COLD_ENOUGH_PCT: f64 = 5.0;

/// Everything `compare` needs, already validated.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// The user's file, or `None` to generate `size` random bytes.
    pub file: Option<PathBuf>,
    pub size: u64,
    pub methods: Vec<MethodKind>,
    /// The methods the user named one by one: refused when they cannot run here, where the
    /// others (from `all`) are skipped with a warning.
    pub named: Vec<MethodKind>,
    pub runs: u32,
    pub warmup: u32,
    pub transport: Transport,
    /// Pace the serving socket to this many bytes per second (SO_MAX_PACING_RATE), or `None`.
    pub link: Option<u64>,
    pub buffer: usize,
    pub pipe_size: usize,
    /// Chunks per `io_uring_enter` for the io_uring paths.
    pub batch: u32,
    pub counters: Choice,
    /// Hash every run's delivery, not just the first measured one.
    pub verify_all: bool,
    /// Drop the file's pages from the page cache before every run.
    pub cold: bool,
    /// Where the serving and receiver threads run.
    pub cpus: Cpus,
    /// Sample both threads' CPU (the copy column, the verdicts, where the CPU went).
    pub profile: bool,
    /// `--receive`: the receiving paths, each run with every method (the matrix); `None` for
    /// today's receiver (recv) and today's report.
    pub receive: Option<Vec<ReceiverKind>>,
    /// The receivers the user named one by one: refused when they cannot run here, where the
    /// others (from `all`) are skipped with a warning.
    pub receive_named: Vec<ReceiverKind>,
    /// Sample every this many ns of each thread's CPU, or `None` to choose after the first
    /// round ([`crate::counters::profile::period_for`]).
    pub sample_period_ns: Option<u64>,
    /// Keep every sample's callchain (for `--export-stacks` and `--export-html`): the
    /// report's methods then carry them ([`MethodResult::stacks`]).
    pub stacks: bool,
}

impl CompareOptions {
    /// A quick measurement of `methods` on a generated file of `size` bytes, as explain and
    /// quiz make one: 3 runs after 1 warm-up over TCP, compare's default buffer and pipe, the
    /// best counters allowed, profiled. Callers change what they need with `..`.
    pub fn quick(size: u64, methods: Vec<MethodKind>, cpus: Cpus) -> CompareOptions {
        CompareOptions {
            file: None,
            size,
            methods,
            // A path this machine cannot run is skipped with a warning, not refused.
            named: Vec::new(),
            runs: 3,
            warmup: 1,
            transport: Transport::Tcp,
            link: None,
            buffer: 128 << 10,
            pipe_size: 1 << 20,
            batch: crate::method::DEFAULT_BATCH,
            counters: Choice::Auto,
            verify_all: false,
            cold: false,
            cpus,
            profile: true,
            receive: None,
            receive_named: Vec::new(),
            sample_period_ns: None,
            stacks: false,
        }
    }
}

/// One method ready to run, with its reusable per-connection state, and the receiving path
/// that takes its bytes.
struct Slot {
    method: Box<dyn Method>,
    scratch: Scratch,
    runs: Vec<Run>,
    /// The measured runs' callchains, when kept.
    stacks: MethodStacks,
    with: ReceiveWith,
}

impl Slot {
    /// "sendfile", or "sendfile → zerocopy" in a matrix.
    fn label(&self) -> String {
        crate::results::pair_label(self.method.kind().name(), self.with.chosen)
    }

    /// A measured run's callchains go to the method's pool, not into every snapshot's runs.
    fn pool_stacks(&mut self, run: &mut Run) {
        if let Some(p) = run.profile.as_mut()
            && let (Some(s), Some(r)) = (p.serving.stacks.take(), p.receiver.stacks.take())
        {
            self.stacks.serving.merge(&s);
            self.stacks.receiver.merge(&r);
        }
    }
}

/// The receiving paths of `opts` that can run here, with the wire they need: `--receive`'s
/// list less the unavailable ones (refused when named, else a warning in `skipped`), and
/// copylab's private loopback when zerocopy is among them, for every pair alike.
fn receivers(
    opts: &CompareOptions,
    skipped: &mut Vec<String>,
) -> Result<(
    Vec<Option<ReceiverKind>>,
    Option<crate::private_net::PrivateLo>,
)> {
    let Some(asked) = &opts.receive else {
        return Ok((vec![None], None));
    };
    let mut ok = Vec::new();
    let mut lo = None;
    for &kind in asked {
        let mut why = kind.availability(opts.transport).err();
        if why.is_none() && kind.needs_private_lo() && lo.is_none() {
            match crate::private_net::PrivateLo::open() {
                Ok(l) => lo = Some(l),
                Err(no) => why = Some(no),
            }
        }
        match why {
            None => ok.push(Some(kind)),
            Some(why) if opts.receive_named.contains(&kind) => bail!("--receive {kind}: {why}"),
            Some(why) => skipped.push(format!("receiver {kind} skipped: {why}")),
        }
    }
    if ok.is_empty() {
        bail!("no receiver can run here: {}", skipped.join("; "));
    }
    Ok((ok, lo))
}

/// Run the comparison and return what was measured.
pub fn run(opts: &CompareOptions) -> Result<Report> {
    run_with(opts, &mut |_| Ok(()))
}

/// Run the comparison, handing a snapshot of the results so far to `update` after every
/// measured run (exports rewrite their files with it, so an interrupted run leaves results).
pub fn run_with(
    opts: &CompareOptions,
    update: &mut dyn FnMut(&Report) -> Result<()>,
) -> Result<Report> {
    let src = open_source(opts)?;
    let mut skipped = Vec::new();
    let (receivers, private_lo) = receivers(opts, &mut skipped)?;
    let mut slots = slots(opts, &receivers, &mut skipped)?;
    let receive = opts.receive.as_ref().map(|_| ReceiveInfo {
        paths: receivers
            .iter()
            .flatten()
            .map(|&k| ReceivePathInfo {
                path: k,
                what: k.path().what,
                check: k.check(),
            })
            .collect(),
        private_lo: private_lo.as_ref().map(|l| l.info.clone()),
    });

    // veth: the namespaces are made once, removed when `wire` drops (an error, the end) or by
    // the signal handler; so Ctrl-C must stop the loop, not kill the process.
    if opts.transport == Transport::Veth {
        crate::signals::install()?;
    }
    let wire = match private_lo {
        Some(lo) => Wire::PrivateLo(lo),
        None => Wire::open(opts.transport)?,
    };
    let fixed = Fixed {
        veth: veth_info(&wire),
        receive,
        skipped,
    };
    let resident = source::resident_fraction(&src.file, src.len).map(|f| f * 100.0);
    let ends = Ends::start(opts, src.len)?;
    let mut c = Comparison {
        opts,
        src: &src,
        bar: transfer_bar(src.len),
        started: Instant::now(),
        ends,
        wire,
        resident,
        cold_left: Vec::new(),
        first_round_cpu: Vec::new(),
        fixed,
    };
    let last = c.rounds(&mut slots, update)?;
    c.bar.finish_and_clear();
    if slots.is_empty() {
        bail!("no method can run here: {}", c.fixed.skipped.join("; "));
    }
    // The last snapshot is the report: nothing is measured after the last run.
    let mut report = last.context("no run was measured")?;
    if opts.stacks {
        hand_over_stacks(&mut report, &mut slots);
    }
    Ok(report)
}

/// The file to serve: the user's, read once to take its hash, or a generated one.
fn open_source(opts: &CompareOptions) -> Result<Source> {
    match &opts.file {
        Some(p) => {
            let sp = spinner(format!("reading {}", crate::escape::path(p)));
            let s = Source::open(p, crate::source::Hash::Take)?;
            sp.finish_and_clear();
            Ok(s)
        }
        None => {
            let dir = crate::storage::temp_dir();
            let sp = spinner(format!(
                "generating a {} test file",
                crate::size::fmt_bytes(opts.size)
            ));
            let s = Source::generate(&dir, opts.size)?;
            sp.finish_and_clear();
            Ok(s)
        }
    }
}

/// A spinner on stderr while the file is read or made (hidden when stderr is not a terminal).
fn spinner(msg: String) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let sp = ProgressBar::new_spinner();
    sp.set_message(msg);
    sp.enable_steady_tick(Duration::from_millis(100));
    sp
}

/// The bar of every transfer's bytes on stderr (hidden when stderr is not a terminal).
fn transfer_bar(len: u64) -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(crate::report::progress::transfer_style());
    bar
}

/// A slot for every method that can run here and every receiving path: the methods this
/// machine cannot run are refused when named, else skipped with a warning in `skipped`.
fn slots(
    opts: &CompareOptions,
    receivers: &[Option<ReceiverKind>],
    skipped: &mut Vec<String>,
) -> Result<Vec<Slot>> {
    let cfg = MethodConfig {
        buffer: opts.buffer,
        pipe_size: opts.pipe_size,
        batch: opts.batch,
    };
    let rcfg = ReceiveConfig {
        pipe_size: opts.pipe_size,
    };
    let mut slots = Vec::new();
    for &kind in &opts.methods {
        if let Err(why) = kind.availability(opts.transport) {
            if opts.named.contains(&kind) {
                bail!("--methods {kind}: {why}");
            }
            skipped.push(format!("{kind} skipped: {why}"));
            continue;
        }
        for &chosen in receivers {
            let method = method::build(kind, cfg).with_context(|| format!("method {kind}"))?;
            slots.push(Slot {
                method,
                scratch: Scratch::default(),
                runs: Vec::new(),
                with: ReceiveWith { chosen, cfg: rcfg },
                stacks: MethodStacks::default(),
            });
        }
    }
    Ok(slots)
}

/// `--transport veth`: the two namespaces, their addresses and what their devices offload.
fn veth_info(wire: &Wire) -> Option<VethInfo> {
    match wire {
        Wire::Veth(h) => Some(VethInfo {
            serving_netns: h.serving.netns.clone(),
            receiving_netns: h.receiving.netns.clone(),
            serving_addr: h.serving.addr.to_string(),
            receiving_addr: h.receiving.addr.to_string(),
            serving_device: crate::netns::offloads(&h.serving),
            receiving_device: crate::netns::offloads(&h.receiving),
        }),
        Wire::Local(_) | Wire::PrivateLo(_) => None,
    }
}

/// Each method's callchains, pooled over its measured runs, go into the report once, at the
/// end (not into every snapshot).
fn hand_over_stacks(report: &mut Report, slots: &mut [Slot]) {
    for m in report.methods.iter_mut().filter(|m| m.profile.is_some()) {
        if let Some(slot) = slots
            .iter_mut()
            .find(|s| s.method.kind() == m.method && s.with.chosen == m.receiver_path)
        {
            m.stacks = Some(std::mem::take(&mut slot.stacks));
        }
    }
}

/// What every snapshot of the report carries that no run changes.
struct Fixed {
    veth: Option<VethInfo>,
    receive: Option<ReceiveInfo>,
    /// The methods and receivers skipped, first among the warnings.
    skipped: Vec<String>,
}

/// Both measured ends, set up once for the whole comparison, each on its own thread: the
/// receiver first (it would otherwise inherit this thread's CPU), then this thread, which
/// serves every transfer and so opens the serving counters.
struct Ends {
    placement: Placement,
    counters: Counters,
    receiver: Receiver,
}

impl Ends {
    /// Pin both ends, open their counters, and set the sampling period of the first round:
    /// `--sample-period`, or one chosen for a file of `len` bytes.
    fn start(opts: &CompareOptions, len: u64) -> Result<Ends> {
        let placement = placement::resolve(opts.cpus, "--cpus")?;
        let sampling = if opts.profile {
            Sampling::CpuClock
        } else {
            Sampling::Off
        };
        let receiver = Receiver::start(placement.receiver_cpu, opts.counters, sampling)?;
        placement::pin_current(placement.serving_cpu.as_slice())?;
        let counters = Counters::open_sampled(opts.counters, sampling)?;
        let mut ends = Ends {
            placement,
            counters,
            receiver,
        };
        if opts.stacks {
            ends.counters.keep_stacks();
            ends.receiver.keep_stacks();
        }
        let first_period = match (opts.sample_period_ns, ends.counters.sample_capacity()) {
            (Some(p), _) => Some(p),
            (None, Some(capacity)) => Some(crate::counters::profile::first_period_for(
                len, opts.runs, capacity,
            )),
            (None, None) => None,
        };
        if let Some(p) = first_period {
            ends.set_sample_period(p)?;
        }
        Ok(ends)
    }

    fn set_sample_period(&mut self, period_ns: u64) -> Result<()> {
        self.counters.set_sample_period(period_ns)?;
        self.receiver.set_sample_period(period_ns);
        Ok(())
    }
}

/// A comparison under way: the file, the progress bar, both measured ends, the wire, and
/// what the runs so far found besides their own figures. (Dropped in this order: the bar,
/// the serving counters, the receiver thread, the wire.)
struct Comparison<'a> {
    opts: &'a CompareOptions,
    src: &'a Source,
    bar: ProgressBar,
    /// When the comparison began, for the bar's time left.
    started: Instant,
    ends: Ends,
    wire: Wire,
    /// The share of the file in the page cache before the first run, in %.
    resident: Option<f64>,
    /// With `--cache cold`: how much of the file was still cached after each drop (mincore).
    cold_left: Vec<f64>,
    /// With the period left to copylab: the CPU each thread spent in the first round.
    first_round_cpu: Vec<u64>,
    fixed: Fixed,
}

impl Comparison<'_> {
    /// The warm-up rounds, then the measured ones, every slot once per round; a snapshot of
    /// the report to `update` after every measured run. Returns the last snapshot.
    fn rounds(
        &mut self,
        slots: &mut [Slot],
        update: &mut dyn FnMut(&Report) -> Result<()>,
    ) -> Result<Option<Report>> {
        // The kernel symbols load on their own thread (about 70 ms of kernel time), in the
        // shadow of the warm-up; without one, wait for them here, outside every measured
        // window.
        if self.opts.warmup == 0 && self.ends.counters.samples() {
            let _ = crate::counters::profile::kallsyms::get();
        }
        let rounds = self.opts.warmup + self.opts.runs;
        let total = rounds * slots.len() as u32;
        let mut last = None;
        for round in 0..rounds {
            if round == 1 {
                self.settle_sample_period()?;
            }
            let check = if self.opts.verify_all || round == self.opts.warmup {
                Check::Xxh3
            } else {
                Check::ByteCount
            };
            for i in 0..slots.len() {
                let done = round * slots.len() as u32 + i as u32;
                self.announce(&slots[i], round, done, total)?;
                let cold_left = self.drop_cache()?;
                let slot = &mut slots[i];
                let mut run = self
                    .one_run(slot, check)
                    .with_context(|| format!("method {}", slot.label()))?;
                if round == 0
                    && let Some(p) = &run.profile
                {
                    self.first_round_cpu
                        .extend([p.serving.on_cpu_ns, p.receiver.on_cpu_ns]);
                }
                if round < self.opts.warmup {
                    continue;
                }
                self.cold_left.extend(cold_left);
                slot.pool_stacks(&mut run);
                slot.runs.push(run);
                let report = self.snapshot(slots);
                update(&report)?;
                last = Some(report);
            }
        }
        Ok(last)
    }

    /// With the period left to copylab, the period of every round after the first, from the
    /// CPU the threads spent in it.
    fn settle_sample_period(&mut self) -> Result<()> {
        if self.opts.sample_period_ns.is_none()
            && let Some(capacity) = self.ends.counters.sample_capacity()
        {
            let p = crate::counters::profile::period_for(
                &self.first_round_cpu,
                self.opts.runs,
                capacity,
            );
            self.ends.set_sample_period(p)?;
        }
        Ok(())
    }

    /// Say which run comes next (the bar, a status line when asked for), or stop the
    /// comparison when a veth run was interrupted.
    fn announce(&self, slot: &Slot, round: u32, done: u32, total: u32) -> Result<()> {
        let (warmup, runs) = (self.opts.warmup, self.opts.runs);
        let label = if round < warmup {
            format!("{} warm-up {}/{warmup}", slot.label(), round + 1)
        } else {
            format!("{} run {}/{runs}", slot.label(), round - warmup + 1)
        };
        if self.opts.transport == Transport::Veth && crate::signals::stop_requested() {
            return Err(anyhow::Error::new(crate::signals::Interrupted)
                .context("compare stopped; the namespaces were removed"));
        }
        if crate::signals::status_requested() {
            self.bar
                .suspend(|| eprintln!("copylab: status: next {label}"));
        }
        self.bar.set_prefix(label);
        self.bar.set_message(crate::report::progress::time_left(
            self.started.elapsed(),
            done,
            total,
        ));
        self.bar.reset();
        Ok(())
    }

    /// With `--cache cold`, drop the file's pages before a run: how much of the file stayed
    /// cached, in % (None when not cold, or when mincore cannot say).
    fn drop_cache(&self) -> Result<Option<f64>> {
        if !self.opts.cold {
            return Ok(None);
        }
        let left = source::drop_cache(&self.src.file, self.src.len)
            .context("--cache cold: cannot drop the file's pages from the page cache")?;
        Ok(left.map(|f| f * 100.0))
    }

    /// The report of the runs so far (methods without a measured run yet are left out).
    fn snapshot(&self, slots: &[Slot]) -> Report {
        let (opts, src, counters) = (self.opts, self.src, &self.ends.counters);
        let methods: Vec<MethodResult> = slots
            .iter()
            .filter(|s| !s.runs.is_empty())
            .map(|s| MethodResult {
                receiver_path: s.with.chosen,
                ..MethodResult::new(s.method.kind(), s.method.setup_notes(), s.runs.clone())
            })
            .collect();
        let mut notes = counters.notes.clone();
        if counters.syscall_source == SyscallSource::SelfCounted && opts.counters == Choice::Rusage
        {
            notes.push(
                "--counters rusage: perf not used; syscalls are the methods' own counts".into(),
            );
        }
        Report {
            schema: SCHEMA,
            copylab_version: env!("CARGO_PKG_VERSION"),
            counter_source: match counters.syscall_source {
                SyscallSource::Perf => CounterSource::Perf,
                SyscallSource::SelfCounted => CounterSource::Rusage,
            },
            syscall_source: counters.syscall_source,
            perf_software_events: counters.has_perf(),
            file: FileInfo {
                path: src.path.as_ref().map(|p| p.display().to_string()),
                bytes: src.len,
                generated: src.path.is_none(),
                temp_dir: src.generated_in.as_ref().map(|d| d.display().to_string()),
                xxh3: format!("{:016x}", src.hash.unwrap_or_default()),
            },
            transport: opts.transport,
            link_rate_bytes_per_s: opts.link,
            veth: self.fixed.veth.clone(),
            cache: self.cache_info(),
            kernel: crate::sys::kernel_release(),
            options: RunOptions {
                runs: opts.runs,
                warmup: opts.warmup,
                buffer_bytes: opts.buffer as u64,
                pipe_bytes_requested: opts.pipe_size as u64,
                pipe_bytes_granted: slots.iter().find_map(|s| s.method.granted_pipe_bytes()),
                mmap_window_bytes: MMAP_WINDOW,
                batch: opts.batch,
                vmsplice_region_bytes: crate::method::VMSPLICE_REGION as u64,
                verify: if opts.verify_all {
                    Verify::All
                } else {
                    Verify::First
                },
            },
            counter_overhead_syscalls: counters.overhead_syscalls,
            warnings: self.warnings(slots, &methods),
            notes,
            methods,
            machine: Machine::this(),
            receive: self.fixed.receive.clone(),
        }
    }

    /// The most of the file any drop left cached, in % (`--cache cold`).
    fn cold_max(&self) -> Option<f64> {
        self.cold_left
            .iter()
            .copied()
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
    }

    /// The file's page-cache state: what was asked for and what the runs found.
    fn cache_info(&self) -> CacheInfo {
        let (cold, cold_max, resident) = (self.opts.cold, self.cold_max(), self.resident);
        CacheInfo {
            mode: if cold {
                CacheMode::Cold
            } else {
                CacheMode::Warm
            },
            state: match (cold, cold_max, resident) {
                (true, Some(m), _) if m < COLD_ENOUGH_PCT => CacheState::Cold,
                (true, Some(_), _) => CacheState::Partial,
                (true, None, _) | (false, _, None) => CacheState::Unknown,
                (false, _, Some(p)) if p >= 99.0 => CacheState::Warm,
                (false, _, Some(p)) if p < 1.0 => CacheState::Cold,
                (false, _, Some(_)) => CacheState::Partial,
            },
            resident_before_pct: resident.map(|p| (p * 10.0).round() / 10.0),
            resident_after_drop_max_pct: cold_max.map(|p| (p * 10.0).round() / 10.0),
        }
    }

    /// Every warning of the runs so far, the skipped methods first.
    fn warnings(&self, slots: &[Slot], methods: &[MethodResult]) -> Vec<String> {
        let mut warnings = self.fixed.skipped.clone();
        warnings.extend(self.ends.counters.warnings.iter().map(|w| w.to_string()));
        warnings.extend(self.cold_warning());
        if self.resident.is_none() {
            warnings.push("page-cache residency could not be measured (mincore failed)".into());
        }
        warnings.extend(small_file_warning(self.src.len, self.opts.transport));
        warnings.extend(slots.iter().filter_map(plain_fallback_warning));
        warnings.extend(noise_warning(methods, self.opts.runs));
        warnings.extend(lost_samples_warning(methods));
        warnings
    }

    /// `--cache cold` runs that found too much of the file still cached, and why.
    fn cold_warning(&self) -> Option<String> {
        let m = self.cold_max().filter(|m| *m >= COLD_ENOUGH_PCT)?;
        let in_memory = nix::sys::statfs::fstatfs(&self.src.file)
            .is_ok_and(|f| f.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC);
        Some(format!(
            "--cache cold: the file system kept up to {m:.0}% of the file cached after the drop, so those runs were not fully cold{}",
            if in_memory {
                ". Fix: the file is on a tmpfs, whose pages are the file itself: put it on a disk file system (for a generated file, TMPDIR=/var/tmp)"
            } else {
                ""
            }
        ))
    }

    /// One transfer: connect, hand the receiving end to the receiver, count around `send`,
    /// check what arrived (its hash too with `check` [`Check::Xxh3`]).
    fn one_run(&mut self, slot: &mut Slot, check: Check) -> Result<Run> {
        slot.method.prepare(&mut slot.scratch)?;
        let (server, client) = self.wire.pair()?;
        if let Some(rate) = self.opts.link {
            crate::transport::pace(server.fd(), rate)?;
        }
        // veth: what the serving device sent during the run (read outside the measured window).
        let tx_before = serving_tx(&self.wire);
        let placement = self.ends.placement;
        let pinned: Vec<u32> = [placement.serving_cpu, placement.receiver_cpu]
            .into_iter()
            .flatten()
            .collect();
        let steal_before = placement::steal_ns(&pinned);
        let progress = Arc::new(AtomicU64::new(0));
        let received = self.ends.receiver.receive(
            client,
            self.src.len,
            check,
            slot.with,
            Arc::clone(&progress),
        )?;
        let ends = self.send_watched(slot, server, &progress, &received);
        let device_tx = tx_before
            .zip(serving_tx(&self.wire))
            .map(|((p0, b0), (p1, b1))| DeviceTx {
                packets: p1.saturating_sub(p0),
                bytes: b1.saturating_sub(b0),
            });
        let steal = steal_before
            .zip(placement::steal_ns(&pinned))
            .map(|(a, b)| b.saturating_sub(a));
        let (mut measured, mut got) = ends?;
        let profile = measured
            .reading
            .profile
            .take()
            .zip(got.reading.as_mut().and_then(|r| r.profile.take()))
            .map(|(serving, receiver)| Profile { serving, receiver });
        let delivery = got.delivery.context("receiving failed")?;
        measured.sent?;
        self.bar.set_position(delivery.bytes);
        check_delivery(&slot.label(), &delivery, self.src)?;
        // An empty file sends nothing: there is no byte to time, so wall time and throughput
        // are null (not measured), never a zero.
        let wall_ns = (self.src.len > 0).then(|| {
            (delivery
                .done_at
                .saturating_duration_since(measured.started)
                .as_nanos() as u64)
                .max(1)
        });
        Ok(Run {
            bytes: delivery.bytes,
            wall_ns,
            throughput_mib_s: wall_ns
                .map(|ns| crate::size::mib_per_s(self.src.len, ns as f64 / 1e9)),
            verified: true,
            hash_checked: delivery.hash.is_some(),
            cost: Cost::new(&measured.reading, &measured.calls, measured.io_workers),
            receiver: got.reading.map(|r| {
                Cost::new(
                    &r,
                    got.calls.as_ref().unwrap_or(&crate::sys::Calls::default()),
                    None,
                )
            }),
            placement,
            profile,
            steal_ns: steal,
            device_tx,
            receive: slot.with.chosen.map(|k| RunReceive {
                path: k,
                check: k.check(),
                zerocopy: delivery.landed.map(ZeroCopyReceive::of),
                rcv_mss_bytes: got.rcv_mss,
            }),
        })
    }

    /// Send the whole file on `server` inside the measured window, close it, and wait for the
    /// receiver's account (`received`), moving the bar with the receiver's `progress`: what
    /// both ends measured.
    fn send_watched(
        &mut self,
        slot: &mut Slot,
        server: Conn,
        progress: &AtomicU64,
        received: &mpsc::Receiver<Received>,
    ) -> Result<(transfer::Measured, Received)> {
        let done = AtomicBool::new(false);
        let (bar, src, counters) = (&self.bar, self.src, &mut self.ends.counters);
        let (measured, got) = std::thread::scope(|s| {
            if !bar.is_hidden() {
                s.spawn(|| {
                    while !done.load(Ordering::Relaxed) {
                        bar.set_position(progress.load(Ordering::Relaxed));
                        std::thread::sleep(Duration::from_millis(50));
                    }
                });
            }
            let measured = transfer::send_measured(
                slot.method.as_ref(),
                crate::source::Part::whole(src),
                server.fd(),
                &[],
                transfer::Body::Send,
                &mut slot.scratch,
                counters,
            );
            server.finish();
            drop(server);
            let got = received.recv();
            done.store(true, Ordering::Relaxed);
            (measured, got)
        });
        let measured = measured?;
        let got = got.map_err(|_| anyhow::anyhow!("the receiver thread ended"))?;
        Ok((measured, got))
    }
}

/// A zero-copy path that had to send plainly says so: its figures are partly a copying path.
fn plain_fallback_warning(s: &Slot) -> Option<String> {
    let plain: u64 = s
        .runs
        .iter()
        .filter_map(|r| r.cost.zerocopy)
        .map(|z| z.plain_fallback)
        .sum();
    (plain > 0).then(|| {
        format!(
            "{}: {plain} chunk{} went out with a plain, copying send after ENOBUFS (too much pinned: RLIMIT_MEMLOCK or net.core.optmem_max); raise `ulimit -l` or make --buffer smaller",
            s.label(),
            if plain == 1 { "" } else { "s" }
        )
    })
}

/// Samples the profile's ring buffer could not hold.
fn lost_samples_warning(methods: &[MethodResult]) -> Option<String> {
    let lost: u64 = methods
        .iter()
        .flat_map(|m| &m.runs)
        .filter_map(|r| r.profile.as_ref())
        .map(|p| p.serving.lost + p.receiver.lost)
        .sum();
    (lost > 0).then(|| {
        format!(
            "the CPU profile lost {lost} samples: a run held more samples than the ring buffer (about 30 s of one thread's CPU at 1 kHz); its categories are shares of the samples kept. Fix: a smaller --size"
        )
    })
}

/// One warning for a file smaller than one socket buffer: its figures measure a few syscalls'
/// fixed cost, not a path's cost per byte.
fn small_file_warning(len: u64, transport: Transport) -> Option<String> {
    let (buffer, setting) = transport.socket_buffer()?;
    (len > 0 && len < buffer).then(|| {
        format!(
            "the file ({}) is smaller than one socket buffer ({}, {setting}): each transfer is a few syscalls into a buffer the receiver drains later, so per-GiB figures multiply their fixed cost by {:.0}, and the samples are too few to say where the CPU went (n/a). To measure the paths themselves, use --size 1M or more",
            crate::size::fmt_bytes(len),
            crate::size::fmt_bytes(buffer),
            crate::size::gib(len).recip()
        )
    })
}

/// Runs that spread this much (max − min, in % of the median wall time) make a ranking a
/// matter of luck; the table then marks overlapping methods "≈ rw (noise)".
const NOISY_SPREAD_PCT: f64 = 30.0;
/// Stolen time above this share of the runs' wall time means the hypervisor took the CPUs.
const NOISY_STEAL_PCT: f64 = 2.0;
/// Runs shorter than this (median wall time) spread by scheduler jitter alone: a few ms of
/// wake-up latency is most of a 5 ms run on any machine, so their spread says nothing of it.
const NOISE_MIN_WALL_NS: u64 = 50_000_000;
/// Steal time is judged only over at least this much wall time in all (100 clock ticks).
const STEAL_MIN_WALL_NS: u64 = 1_000_000_000;

/// One warning for a noisy machine, saying what was seen and what to do about it.
fn noise_warning(methods: &[MethodResult], runs: u32) -> Option<String> {
    let worst = methods
        .iter()
        .filter(|m| m.median.wall_ns.unwrap_or(0) >= NOISE_MIN_WALL_NS)
        .filter_map(|m| m.spread_pct.map(|s| (m.label(), s.wall)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let (wall, steal): (u64, u64) = methods
        .iter()
        .flat_map(|m| &m.runs)
        .fold((0, 0), |(w, st), r| {
            (w + r.wall_ns.unwrap_or(0), st + r.steal_ns.unwrap_or(0))
        });
    // /proc/stat counts steal in clock ticks (10 ms): over less than a second of runs one tick
    // is already several percent, so steal is only judged on longer runs.
    let steal_pct = if wall >= STEAL_MIN_WALL_NS {
        steal as f64 / wall as f64 * 100.0
    } else {
        0.0
    };
    let spread_noisy = worst
        .as_ref()
        .is_some_and(|(_, s)| *s > NOISY_SPREAD_PCT && runs >= 3);
    if !spread_noisy && steal_pct <= NOISY_STEAL_PCT {
        return None;
    }
    let mut why = Vec::new();
    if let Some((k, s)) = worst.filter(|_| spread_noisy) {
        why.push(format!(
            "{k}'s runs spread {s:.0}% (max − min of the median wall time)"
        ));
    }
    if steal_pct > NOISY_STEAL_PCT {
        why.push(format!(
            "the hypervisor stole {steal_pct:.1}% of the CPU time of the pinned CPUs"
        ));
    }
    Some(format!(
        "noisy machine: {}; read the medians and ≈ marks, not single runs; for firmer figures: more --runs, a quieter machine, both threads pinned (--cpus S,R)",
        why.join(", and ")
    ))
}

/// veth: the packets and bytes the serving device has sent so far; None on the other wires.
fn serving_tx(wire: &Wire) -> Option<(u64, u64)> {
    match wire {
        Wire::Veth(h) => crate::netns::tx_counts(&h.serving),
        Wire::Local(_) | Wire::PrivateLo(_) => None,
    }
}

/// Every byte of the file arrived, and (when hashed) exactly the file's bytes.
fn check_delivery(kind: &str, delivery: &Delivery, src: &Source) -> Result<()> {
    if delivery.bytes != src.len {
        bail!(
            "{kind} delivered {} bytes, expected {}",
            delivery.bytes,
            src.len
        );
    }
    if let (Some(h), Some(want)) = (delivery.hash, src.hash)
        && h != want
    {
        bail!(
            "{kind} delivered different bytes than the file holds (hash {h:016x}, file {want:016x})"
        );
    }
    Ok(())
}
