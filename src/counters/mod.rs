//! What a transfer cost the serving thread: a perf counter group (syscall tracepoints and
//! software events) when the kernel allows it, and `getrusage(RUSAGE_THREAD)` always.
//!
//! Sources sit behind one interface and are started in order and stopped in reverse, so the
//! perf group is the innermost: enabled last, disabled first. Counters know nothing of methods.

mod keeper;
mod perf;
pub mod profile;
mod rusage;
pub mod tracefs;

pub use keeper::release_at_exit;
pub use perf::{Peek, set_filter};
pub use rusage::tv_ns;

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::syscall::Syscall;
use crate::warnings::Warning;

/// One counter source: started just before a transfer, stopped just after, on the same thread.
pub trait CounterSource {
    fn start(&mut self) -> Result<()>;
    fn stop(&mut self, into: &mut Reading) -> Result<()>;
}

/// Raw figures for one window. `None` = not measured by this source.
#[derive(Debug, Default, Clone)]
pub struct Reading {
    pub syscalls_total: Option<u64>,
    /// Per syscall; an inner `None` means this kernel has no tracepoint for that syscall.
    pub syscalls_by_name: Option<BTreeMap<Syscall, Option<u64>>>,
    pub perf_context_switches: Option<u64>,
    pub perf_cpu_migrations: Option<u64>,
    pub perf_page_faults: Option<u64>,
    pub perf_task_clock_ns: Option<u64>,
    /// CPU time in user space and in the kernel: the precise total of getrusage, split by
    /// `cpu_split`.
    pub user_ns: u64,
    pub sys_ns: u64,
    /// How `user_ns` and `sys_ns` were split.
    pub cpu_split: CpuSplit,
    /// getrusage's own split (its ticks), kept beside the sampled one.
    pub rusage_user_ns: u64,
    pub rusage_sys_ns: u64,
    pub voluntary_cs: u64,
    pub involuntary_cs: u64,
    pub minor_faults: u64,
    pub major_faults: u64,
    /// Where the thread's CPU went, when it was sampled.
    pub profile: Option<profile::ThreadProfile>,
}

/// How a thread's CPU time was split into user and sys.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CpuSplit {
    /// By the kernel's tick samples (getrusage): one tick is 4 ms at HZ=250, so a window of a
    /// few dozen ms is split by a handful of ticks and can read all user or all sys.
    #[default]
    Ticks,
    /// By the cpu-clock samples' CPU mode (user or kernel IP), at least
    /// [`profile::MIN_SAMPLES`] of them, applied to getrusage's precise total.
    Samples,
}

/// Which counters the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// perf if the kernel allows it, else rusage with a warning.
    Auto,
    /// perf with syscall tracepoints, or fail.
    Perf,
    /// rusage only; syscalls self-counted by the methods.
    Rusage,
}

/// Where the syscall figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyscallSource {
    /// perf tracepoint raw_syscalls:sys_enter (all, and once per syscall filtered on its number) on the measured thread.
    Perf,
    /// The calls the method made itself; the total of all syscalls is unknown.
    SelfCounted,
}

/// The counters of one thread. Open, start and stop it on the thread being measured.
pub struct Counters {
    rusage: rusage::Rusage,
    perf: Option<perf::PerfGroup>,
    /// cpu-clock sampling of the thread, when asked for and allowed.
    sampler: Option<profile::Sampler>,
    /// Syscalls the counting itself adds to every window (the `ioctl` that disables the group),
    /// measured on empty windows and subtracted.
    pub overhead_syscalls: u64,
    pub syscall_source: SyscallSource,
    pub warnings: Vec<Warning>,
    /// Facts for the report header (e.g. tracefs mounted temporarily).
    pub notes: Vec<String>,
}

/// Whether a thread's counters also take a cpu-clock profile of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// Sample where the thread's CPU went (callchains), beside the counts.
    CpuClock,
    /// Counts only.
    Off,
}

impl Counters {
    /// Open counters on the calling thread, and with [`Sampling::CpuClock`] a cpu-clock
    /// profile of it too (unless `--counters rusage`; refused → a warning, and the profile is
    /// n/a).
    pub fn open_sampled(choice: Choice, sampling: Sampling) -> Result<Counters> {
        let mut c = Counters::open(choice)?;
        if sampling == Sampling::CpuClock && choice != Choice::Rusage {
            match profile::Sampler::open(profile::Sampler::PERIOD_NS) {
                Ok(s) => c.sampler = Some(s),
                Err(no) => c.warnings.push(Warning::ProfileUnavailable {
                    reason: no.reason,
                    fix: no.fix,
                }),
            }
        }
        Ok(c)
    }

    /// Sample every `period_ns` of the thread's CPU from the next window on (nothing without a
    /// sampler).
    pub fn set_sample_period(&mut self, period_ns: u64) -> Result<()> {
        match self.sampler.as_mut() {
            Some(s) => s.set_period(period_ns),
            None => Ok(()),
        }
    }

    /// About how many samples one window can hold before the sampler's ring overflows (None
    /// without a sampler).
    pub fn sample_capacity(&self) -> Option<u64> {
        self.sampler
            .as_ref()
            .map(profile::Sampler::capacity_samples)
    }

    /// Keep every sample's callchain from the next window on (each reading's profile then
    /// carries its stacks); nothing without a sampler.
    pub fn keep_stacks(&mut self) {
        if let Some(s) = self.sampler.as_mut() {
            s.keep_stacks();
        }
    }

    /// The thread is sampled (each reading carries a profile).
    pub fn samples(&self) -> bool {
        self.sampler.is_some()
    }

    /// Open counters on the calling thread.
    pub fn open(choice: Choice) -> Result<Counters> {
        let mut c = Counters {
            rusage: rusage::Rusage::default(),
            perf: None,
            sampler: None,
            overhead_syscalls: 0,
            syscall_source: SyscallSource::SelfCounted,
            warnings: Vec::new(),
            notes: Vec::new(),
        };
        if choice == Choice::Rusage {
            return Ok(c);
        }
        match perf::PerfGroup::open() {
            Err(r) => {
                let w = Warning::perf_refused(r.errno, &r.detail);
                if choice == Choice::Perf {
                    bail!("--counters perf: {}", w.as_error());
                }
                c.warnings.push(w);
            }
            Ok(pg) => {
                if let Some(u) = &pg.tracepoints_unavailable {
                    let w = Warning::TracepointsUnavailable {
                        detail: u.detail.clone(),
                        permission: u.permission,
                    };
                    if choice == Choice::Perf {
                        bail!("--counters perf: {}", w.as_error());
                    }
                    c.warnings.push(w);
                } else {
                    c.syscall_source = SyscallSource::Perf;
                    if !pg.named_missing.is_empty() {
                        c.warnings
                            .push(Warning::TracepointsMissing(pg.named_missing.clone()));
                    }
                    match &pg.tracefs_origin {
                        Some(tracefs::Origin::TemporaryMount) => c.notes.push(
                            "tracefs was not mounted: copylab mounted it privately to read tracepoint ids, then unmounted it"
                                .into(),
                        ),
                        Some(tracefs::Origin::Mounted(dir)) => c.notes.push(format!(
                            "tracepoint ids read from {}",
                            dir.display()
                        )),
                        None => {}
                    }
                }
                c.perf = Some(pg);
            }
        }
        if c.perf.is_some() {
            c.tare()?;
        }
        Ok(c)
    }

    /// A handle to read this thread's syscall count so far from another thread, when perf
    /// counts syscalls here.
    pub fn peek(&self) -> Option<Peek> {
        self.perf.as_ref().and_then(perf::PerfGroup::peek)
    }

    /// The perf group (software events at least) is counting.
    pub fn has_perf(&self) -> bool {
        self.perf.is_some()
    }

    /// Measure empty windows: the smallest syscall count seen is the counters' own cost.
    fn tare(&mut self) -> Result<()> {
        let mut min = u64::MAX;
        for _ in 0..5 {
            let r = self.window(0)?;
            if let Some(t) = r.syscalls_total {
                min = min.min(t);
            }
        }
        self.overhead_syscalls = if min == u64::MAX { 0 } else { min };
        Ok(())
    }

    fn window(&mut self, overhead: u64) -> Result<Reading> {
        self.start()?;
        let mut r = self.stop()?;
        if let Some(t) = r.syscalls_total.as_mut() {
            *t = t.saturating_sub(overhead);
        }
        Ok(r)
    }

    /// Start counting: rusage first, then the sampler, the perf group innermost (so the
    /// sampler's own syscalls are never counted as the window's).
    pub fn start(&mut self) -> Result<()> {
        self.rusage.start()?;
        if let Some(s) = self.sampler.as_mut() {
            s.start()?;
        }
        if let Some(p) = self.perf.as_mut() {
            p.start()?;
        }
        Ok(())
    }

    /// Stop counting and read what the window cost, less the counters' own overhead. The
    /// samples are attributed last, after every counter has stopped, so that work is in none.
    pub fn stop(&mut self) -> Result<Reading> {
        let mut r = Reading::default();
        if let Some(p) = self.perf.as_mut() {
            p.stop(&mut r)?;
        }
        if let Some(s) = self.sampler.as_mut() {
            s.pause()?;
        }
        self.rusage.stop(&mut r)?;
        if let Some(t) = r.syscalls_total.as_mut() {
            *t = t.saturating_sub(self.overhead_syscalls);
        }
        if let Some(s) = self.sampler.as_mut() {
            r.profile = Some(s.stop()?);
        }
        split_by_samples(&mut r);
        Ok(r)
    }
}

/// Split the reading's CPU into user and sys by its samples' CPU mode when there are enough of
/// them: getrusage's split is by scheduler ticks (4 ms at HZ=250), too coarse for a window of a
/// few dozen ms, while its total is precise. perf's task-clock cannot split it either: counting
/// software clocks ignore exclude_user/exclude_kernel (`perf stat -e task-clock:u,task-clock:k`
/// prints the same figure twice).
fn split_by_samples(r: &mut Reading) {
    r.rusage_user_ns = r.user_ns;
    r.rusage_sys_ns = r.sys_ns;
    r.cpu_split = CpuSplit::Ticks;
    let Some(p) = &r.profile else { return };
    if p.samples < profile::MIN_SAMPLES {
        return;
    }
    let total = r.user_ns + r.sys_ns;
    let user = (total as f64 * p.share(profile::Category::User)).round() as u64;
    r.user_ns = user.min(total);
    r.sys_ns = total - r.user_ns;
    r.cpu_split = CpuSplit::Samples;
}

/// System CPU time thread `tid` of this process has used in all, in ns, from
/// `/proc/self/task/TID/stat` (`stime`, in clock ticks: 10 ms granularity where USER_HZ is 100).
/// Readable from any thread of the process, without disturbing the one measured: the live
/// view's "sys CPU so far" is the difference of two of these.
pub fn thread_sys_ns(tid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from its last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ')': state is field 3, stime field 15, so the 13th of these.
    let ticks: u64 = rest.split_whitespace().nth(12)?.parse().ok()?;
    Some(ticks.saturating_mul(clock_tick_ns()))
}

/// The unit of `/proc` CPU times (USER_HZ), in ns: 10 ms almost everywhere.
pub fn clock_tick_ns() -> u64 {
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    1_000_000_000 / hz
}
