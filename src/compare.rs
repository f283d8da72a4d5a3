//! The `compare` runner: serve the same file with every chosen method, warm-ups first, then runs
//! interleaved across methods (A B C D, A B C D, …) so machine drift spreads over all of them;
//! check every delivery; measure only the serving thread (this one).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget};

use crate::counters::{Choice, Counters, SyscallSource};
use crate::method::{self, MMAP_WINDOW, Method, MethodConfig, MethodKind, Scratch};
use crate::placement::{self, Cpus, Placement};
use crate::receive::{ReceiveConfig, ReceiverKind, ZeroCopyReceive};
use crate::results::{
    CacheInfo, Cost, DeviceTx, FileInfo, Machine, MethodResult, Profile, ReceiveInfo,
    ReceivePathInfo, Report, Run, RunOptions, RunReceive, SCHEMA, VethInfo,
};
use crate::source::{self, Source};
use crate::transfer::{self, ReceiveWith, Receiver};
use crate::transport::{Transport, Wire};

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
        }
    }
}

/// One method ready to run, with its reusable per-connection state, and the receiving path
/// that takes its bytes.
struct Slot {
    method: Box<dyn Method>,
    scratch: Scratch,
    runs: Vec<Run>,
    with: ReceiveWith,
}

impl Slot {
    /// "sendfile", or "sendfile → zerocopy" in a matrix.
    fn label(&self) -> String {
        crate::results::pair_label(self.method.kind().name(), self.with.chosen)
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
    let show_progress = std::io::stderr().is_terminal();
    let src = match &opts.file {
        Some(p) => {
            let sp = spinner(show_progress, format!("reading {}", crate::escape::path(p)));
            let s = Source::open(p, true)?;
            sp.finish_and_clear();
            s
        }
        None => {
            let dir = crate::storage::temp_dir();
            let sp = spinner(
                show_progress,
                format!(
                    "generating a {} test file",
                    crate::size::fmt_bytes(opts.size)
                ),
            );
            let s = Source::generate(&dir, opts.size)?;
            sp.finish_and_clear();
            s
        }
    };

    let cfg = MethodConfig {
        buffer: opts.buffer,
        pipe_size: opts.pipe_size,
        batch: opts.batch,
    };
    let mut slots = Vec::new();
    let mut skipped = Vec::new();
    let (receivers, private_lo) = receivers(opts, &mut skipped)?;
    let rcfg = ReceiveConfig {
        pipe_size: opts.pipe_size,
    };
    for &kind in &opts.methods {
        if let Err(why) = kind.availability(opts.transport) {
            if opts.named.contains(&kind) {
                bail!("--methods {kind}: {why}");
            }
            skipped.push(format!("{kind} skipped: {why}"));
            continue;
        }
        for &chosen in &receivers {
            let method = method::build(kind, cfg).with_context(|| format!("method {kind}"))?;
            slots.push(Slot {
                method,
                scratch: Scratch::default(),
                runs: Vec::new(),
                with: ReceiveWith { chosen, cfg: rcfg },
            });
        }
    }
    let receive_info = opts.receive.as_ref().map(|_| ReceiveInfo {
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
    let veth = match &wire {
        Wire::Veth(h) => Some(VethInfo {
            serving_netns: h.serving.netns.clone(),
            receiving_netns: h.receiving.netns.clone(),
            serving_addr: h.serving.addr.to_string(),
            receiving_addr: h.receiving.addr.to_string(),
            serving_device: crate::netns::offloads(&h.serving),
            receiving_device: crate::netns::offloads(&h.receiving),
        }),
        Wire::Local(_) | Wire::PrivateLo(_) => None,
    };

    let resident = source::resident_fraction(&src.file, src.len).map(|f| f * 100.0);
    // Both ends pinned, each on its own thread: the receiver first (it would otherwise inherit
    // this thread's CPU), then this thread, which serves every transfer and so opens the
    // serving counters.
    let placement = placement::resolve(opts.cpus, "--cpus")?;
    let receiver = Receiver::start(placement.receiver_cpu, opts.counters, opts.profile)?;
    placement::pin_current(placement.serving_cpu.as_slice())?;
    let mut counters = Counters::open_sampled(opts.counters, opts.profile)?;
    let first_period = match (opts.sample_period_ns, counters.sample_capacity()) {
        (Some(p), _) => Some(p),
        (None, Some(capacity)) => Some(crate::counters::profile::first_period_for(
            src.len, opts.runs, capacity,
        )),
        (None, None) => None,
    };
    if let Some(p) = first_period {
        counters.set_sample_period(p)?;
        receiver.set_sample_period(p);
    }
    // With the period left to copylab: the CPU each thread spent in the first round.
    let mut first_round_cpu: Vec<u64> = Vec::new();

    let bar = if show_progress {
        ProgressBar::with_draw_target(Some(src.len), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(crate::report::progress::transfer_style());
    let started_all = std::time::Instant::now();
    let per_round = slots.len() as u32;

    // The kernel symbols load on their own thread (about 70 ms of kernel time), in the
    // shadow of the warm-up; without one, wait for them here, outside every measured window.
    if opts.warmup == 0 && counters.samples() {
        let _ = crate::counters::profile::kallsyms::get();
    }
    let rounds = opts.warmup + opts.runs;
    // With --cache cold: how much of the file was still cached after each drop (mincore).
    let mut cold_left: Vec<f64> = Vec::new();
    let mut last: Option<Report> = None;
    for round in 0..rounds {
        if round == 1
            && opts.sample_period_ns.is_none()
            && let Some(capacity) = counters.sample_capacity()
        {
            let p = crate::counters::profile::period_for(&first_round_cpu, opts.runs, capacity);
            counters.set_sample_period(p)?;
            receiver.set_sample_period(p);
        }
        let warm = round < opts.warmup;
        for i in 0..slots.len() {
            let slot = &mut slots[i];
            let kind = slot.label();
            let label = if warm {
                format!("{kind} warm-up {}/{}", round + 1, opts.warmup)
            } else {
                format!("{kind} run {}/{}", round - opts.warmup + 1, opts.runs)
            };
            if opts.transport == Transport::Veth && crate::signals::stop_requested() {
                return Err(anyhow::Error::new(crate::signals::Interrupted)
                    .context("compare stopped; the namespaces were removed"));
            }
            if crate::signals::status_requested() {
                bar.suspend(|| eprintln!("copylab: status: next {label}"));
            }
            bar.set_prefix(label);
            let done = round * per_round + i as u32;
            bar.set_message(crate::report::progress::time_left(
                started_all.elapsed(),
                done,
                rounds * per_round,
            ));
            bar.reset();
            if opts.cold {
                let left = source::drop_cache(&src.file, src.len)
                    .context("--cache cold: cannot drop the file's pages from the page cache")?;
                if !warm && let Some(f) = left {
                    cold_left.push(f * 100.0);
                }
            }
            let hash = opts.verify_all || round == opts.warmup;
            let ends = Ends {
                counters: &mut counters,
                receiver: &receiver,
                placement,
            };
            let run = one_run(&src, slot, &wire, opts.link, ends, hash, &bar)
                .with_context(|| format!("method {kind}"))?;
            if round == 0
                && let Some(p) = &run.profile
            {
                first_round_cpu.extend([p.serving.on_cpu_ns, p.receiver.on_cpu_ns]);
            }
            if !warm {
                slot.runs.push(run);
                let mut report = snapshot(opts, &src, &slots, &counters, resident, &cold_left);
                report.veth = veth.clone();
                report.receive = receive_info.clone();
                report.warnings.splice(0..0, skipped.iter().cloned());
                update(&report)?;
                last = Some(report);
            }
        }
    }
    bar.finish_and_clear();
    if slots.is_empty() {
        bail!("no method can run here: {}", skipped.join("; "));
    }
    // The last snapshot is the report: nothing is measured after the last run.
    last.context("no run was measured")
}

/// The report of the runs so far (methods without a measured run yet are left out).
fn snapshot(
    opts: &CompareOptions,
    src: &Source,
    slots: &[Slot],
    counters: &Counters,
    resident: Option<f64>,
    cold_left: &[f64],
) -> Report {
    let mut warnings: Vec<String> = counters.warnings.iter().map(|w| w.to_string()).collect();
    let mut notes = counters.notes.clone();
    if counters.syscall_source == SyscallSource::SelfCounted && opts.counters == Choice::Rusage {
        notes.push("--counters rusage: perf not used; syscalls are the methods' own counts".into());
    }
    let pipe_granted = slots.iter().find_map(|s| s.method.granted_pipe_bytes());
    let cold_max = cold_left
        .iter()
        .copied()
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    if let Some(m) = cold_max
        && m >= COLD_ENOUGH_PCT
    {
        let in_memory = nix::sys::statfs::fstatfs(&src.file)
            .is_ok_and(|f| f.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC);
        warnings.push(format!(
            "--cache cold: the file system kept up to {m:.0}% of the file cached after the drop, so those runs were not fully cold{}",
            if in_memory {
                ". Fix: the file is on a tmpfs, whose pages are the file itself: put it on a disk file system (for a generated file, TMPDIR=/var/tmp)"
            } else {
                ""
            }
        ));
    }
    if resident.is_none() {
        warnings.push("page-cache residency could not be measured (mincore failed)".into());
    }
    if let Some(w) = small_file_warning(src.len, opts.transport) {
        warnings.push(w);
    }

    // A zero-copy path that had to send plainly says so: its figures are partly a copying path.
    for s in slots {
        let plain: u64 = s
            .runs
            .iter()
            .filter_map(|r| r.cost.zerocopy)
            .map(|z| z.plain_fallback)
            .sum();
        if plain > 0 {
            warnings.push(format!(
                "{}: {plain} chunk{} went out with a plain, copying send after ENOBUFS (too much pinned: RLIMIT_MEMLOCK or net.core.optmem_max); raise `ulimit -l` or make --buffer smaller",
                s.label(),
                if plain == 1 { "" } else { "s" }
            ));
        }
    }
    let methods: Vec<MethodResult> = slots
        .iter()
        .filter(|s| !s.runs.is_empty())
        .map(|s| MethodResult {
            receiver_path: s.with.chosen,
            ..MethodResult::new(s.method.kind(), s.method.setup_notes(), s.runs.clone())
        })
        .collect();
    if let Some(w) = noise_warning(&methods, opts.runs) {
        warnings.push(w);
    }
    let lost: u64 = methods
        .iter()
        .flat_map(|m| &m.runs)
        .filter_map(|r| r.profile.as_ref())
        .map(|p| p.serving.lost + p.receiver.lost)
        .sum();
    if lost > 0 {
        warnings.push(format!(
            "the CPU profile lost {lost} samples: a run held more samples than the ring buffer (about 30 s of one thread's CPU at 1 kHz); its categories are shares of the samples kept. Fix: a smaller --size"
        ));
    }

    Report {
        schema: SCHEMA,
        copylab_version: env!("CARGO_PKG_VERSION"),
        counter_source: match counters.syscall_source {
            SyscallSource::Perf => "perf",
            SyscallSource::SelfCounted => "rusage",
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
        veth: None,
        cache: CacheInfo {
            mode: if opts.cold { "cold" } else { "warm" },
            state: match (opts.cold, cold_max, resident) {
                (true, Some(m), _) if m < COLD_ENOUGH_PCT => "cold",
                (true, Some(_), _) => "partial",
                (true, None, _) | (false, _, None) => "unknown",
                (false, _, Some(p)) if p >= 99.0 => "warm",
                (false, _, Some(p)) if p < 1.0 => "cold",
                (false, _, Some(_)) => "partial",
            },
            resident_before_pct: resident.map(|p| (p * 10.0).round() / 10.0),
            resident_after_drop_max_pct: cold_max.map(|p| (p * 10.0).round() / 10.0),
        },
        kernel: crate::sys::kernel_release(),
        options: RunOptions {
            runs: opts.runs,
            warmup: opts.warmup,
            buffer_bytes: opts.buffer as u64,
            pipe_bytes_requested: opts.pipe_size as u64,
            pipe_bytes_granted: pipe_granted,
            mmap_window_bytes: MMAP_WINDOW,
            batch: opts.batch,
            vmsplice_region_bytes: crate::method::VMSPLICE_REGION as u64,
            verify: if opts.verify_all { "all" } else { "first" },
        },
        counter_overhead_syscalls: counters.overhead_syscalls,
        warnings,
        notes,
        methods,
        machine: Machine::this(),
        receive: None,
    }
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

fn spinner(show: bool, msg: String) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let sp = ProgressBar::new_spinner();
    sp.set_message(msg);
    sp.enable_steady_tick(Duration::from_millis(100));
    sp
}

/// The two measured ends of every transfer.
struct Ends<'a> {
    counters: &'a mut Counters,
    receiver: &'a Receiver,
    placement: Placement,
}

/// One transfer: connect, hand the receiving end to the receiver, count around `send`, check
/// what arrived.
fn one_run(
    src: &Source,
    slot: &mut Slot,
    wire: &Wire,
    link: Option<u64>,
    ends: Ends<'_>,
    hash: bool,
    bar: &ProgressBar,
) -> Result<Run> {
    let kind = slot.label();
    slot.method.prepare(&mut slot.scratch)?;
    let (server, client) = wire.pair()?;
    if let Some(rate) = link {
        crate::transport::pace(server.fd(), rate)?;
    }
    // veth: what the serving device sent during the run (read outside the measured window).
    let tx_before = match wire {
        Wire::Veth(h) => crate::netns::tx_counts(&h.serving),
        Wire::Local(_) | Wire::PrivateLo(_) => None,
    };
    let progress = Arc::new(AtomicU64::new(0));
    let pinned: Vec<u32> = [ends.placement.serving_cpu, ends.placement.receiver_cpu]
        .into_iter()
        .flatten()
        .collect();
    let steal_before = placement::steal_ns(&pinned);
    let received =
        ends.receiver
            .receive(client, src.len, hash, slot.with, Arc::clone(&progress))?;
    let done = AtomicBool::new(false);

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
            true,
            &mut slot.scratch,
            ends.counters,
        );
        server.finish();
        drop(server);
        let got = received.recv();
        done.store(true, Ordering::Relaxed);
        (measured, got)
    });
    let device_tx = match wire {
        Wire::Veth(h) => {
            tx_before
                .zip(crate::netns::tx_counts(&h.serving))
                .map(|((p0, b0), (p1, b1))| DeviceTx {
                    packets: p1.saturating_sub(p0),
                    bytes: b1.saturating_sub(b0),
                })
        }
        Wire::Local(_) | Wire::PrivateLo(_) => None,
    };
    let steal = steal_before
        .zip(placement::steal_ns(&pinned))
        .map(|(a, b)| b.saturating_sub(a));
    let mut measured = measured?;
    let t0 = measured.started;
    let mut got = got.map_err(|_| anyhow::anyhow!("the receiver thread ended"))?;
    let profile = measured
        .reading
        .profile
        .take()
        .zip(got.reading.as_mut().and_then(|r| r.profile.take()))
        .map(|(serving, receiver)| Profile { serving, receiver });
    let delivery = got.delivery.context("receiving failed")?;
    measured.sent?;
    bar.set_position(delivery.bytes);

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
    // An empty file sends nothing: there is no byte to time, so wall time and throughput are
    // null (not measured), never a zero.
    let wall_ns = (src.len > 0)
        .then(|| (delivery.done_at.saturating_duration_since(t0).as_nanos() as u64).max(1));
    let throughput = wall_ns.map(|ns| crate::size::mib_per_s(src.len, ns as f64 / 1e9));

    Ok(Run {
        bytes: delivery.bytes,
        wall_ns,
        throughput_mib_s: throughput,
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
        placement: ends.placement,
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
