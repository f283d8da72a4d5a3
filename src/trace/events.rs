//! The perf side of `copylab trace`: `raw_syscalls:sys_exit` sampled on every copy-relevant
//! syscall (its number and return value, filtered in the kernel) and cpu-clock with kernel
//! callchains, on every thread of the traced program, into one ring per CPU and kind; and the
//! drain that turns the records into per-thread tallies.
//!
//! Events are per thread and per CPU (`pid = tid, cpu = c`) with `inherit`, so threads and
//! child processes started later are followed by the kernel itself; each thread's events write
//! into the ring of their CPU (`PERF_EVENT_IOC_SET_OUTPUT`: per-thread events may only share a
//! ring per CPU). Thread names come from `PERF_RECORD_COMM` (exec and `prctl(PR_SET_NAME)`) and
//! `PERF_RECORD_FORK` (a new thread starts with its parent's name).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::CString;
use std::os::fd::AsRawFd;

use perf_event::events::{Software, Tracepoint};
use perf_event::{Builder, Counter, SampleFlag};

use crate::counters::profile::kallsyms::{self, Kallsyms};
use crate::counters::profile::stacks::Stacks;
use crate::counters::profile::{
    Attributor, Category, PERF_RECORD_LOST, PERF_RECORD_LOST_SAMPLES, PERF_RECORD_SAMPLE,
    RawSample, word,
};
use crate::counters::{Sampling, set_filter, tracefs};
use crate::syscall::Syscall;
use crate::warnings::Warning;

/// The cpu-clock period: one sample per 1 ms of a thread's CPU, as compare's profile.
pub const PERIOD_NS: u64 = crate::counters::profile::Sampler::PERIOD_NS;

/// Ring sizes tried per CPU for the syscall records, largest first. A record is 48 bytes (8
/// header, 8 pid/tid, 4 size, 28 raw): 8 MiB holds ~170,000 syscalls between two drains (the
/// drain runs every 50 ms or when a ring is half full).
const SYS_RING_BYTES: [usize; 3] = [8 << 20, 2 << 20, 512 << 10];
/// Ring sizes for the cpu-clock samples (about 120 bytes each, 1,000 a second per busy thread).
const CLOCK_RING_BYTES: [usize; 3] = [2 << 20, 1 << 20, 256 << 10];

/// What one syscall did on one thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SysTally {
    pub calls: u64,
    /// Sum of the positive return values (bytes) for the byte-counting syscalls.
    pub bytes: u64,
    /// Calls that returned an error (-errno).
    pub errors: u64,
}

impl std::ops::AddAssign for SysTally {
    fn add_assign(&mut self, other: SysTally) {
        self.calls += other.calls;
        self.bytes += other.bytes;
        self.errors += other.errors;
    }
}

/// Everything seen of one thread.
#[derive(Debug, Clone, Default)]
pub struct ThreadTally {
    /// Its process (thread group) id.
    pub pid: u32,
    pub name: String,
    pub syscalls: BTreeMap<Syscall, SysTally>,
    /// cpu-clock samples by category.
    pub samples: BTreeMap<Category, u64>,
    /// Their callchains, when kept ([`Tracer::keep_stacks`]).
    pub stacks: Stacks,
}

/// What the drain has gathered so far.
#[derive(Debug, Default)]
pub struct TraceTally {
    pub threads: BTreeMap<u32, ThreadTally>,
    /// Records the kernel could not write (ring full): counts are low by at least this much.
    pub lost_syscalls: u64,
    pub lost_samples: u64,
    /// Threads seen starting (PERF_RECORD_FORK): already followed through inherit.
    pub forked: HashSet<u32>,
}

impl TraceTally {
    fn thread(&mut self, pid: u32, tid: u32) -> &mut ThreadTally {
        let t = self.threads.entry(tid).or_default();
        if t.pid == 0 {
            t.pid = pid;
        }
        t
    }

    /// A `raw_syscalls:sys_exit` sample: one call of a traced syscall (looked up in `numbers`)
    /// on its thread, failed (-errno) or with the bytes it returned. A short record or an
    /// untraced syscall counts nothing.
    fn count_syscall_exit(&mut self, data: &[u8], numbers: &HashMap<libc::c_long, Syscall>) {
        // pid, tid (u32 each); raw size (u32); raw: common fields (8 bytes), long id, long ret
        // (raw_syscalls/sys_exit/format).
        let long = |at: usize| -> Option<i64> {
            Some(i64::from_ne_bytes(data.get(at..at + 8)?.try_into().ok()?))
        };
        let (Some(pid), Some(tid), Some(id), Some(ret)) = (
            u32_at(data, 0),
            u32_at(data, 4),
            long(12 + 8),
            long(12 + 16),
        ) else {
            return;
        };
        let Some(&name) = numbers.get(&id) else {
            return;
        };
        let counts_bytes = name.moves_data();
        let s = self.thread(pid, tid).syscalls.entry(name).or_default();
        s.calls += 1;
        if (-4095..0).contains(&ret) {
            s.errors += 1;
        } else if counts_bytes && ret > 0 {
            s.bytes += ret as u64;
        }
    }

    /// A PERF_RECORD_COMM (exec, `prctl(PR_SET_NAME)`): the thread's new name.
    fn rename_thread(&mut self, data: &[u8]) {
        // pid, tid (u32 each), comm (NUL-terminated, padded).
        let (Some(pid), Some(tid)) = (u32_at(data, 0), u32_at(data, 4)) else {
            return;
        };
        let name = data.get(8..).unwrap_or_default();
        let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
        let name = String::from_utf8_lossy(&name[..end]).into_owned();
        self.thread(pid, tid).name = name;
    }

    /// A PERF_RECORD_FORK: a thread followed through inherit from now on, named after its
    /// parent until a PERF_RECORD_COMM says otherwise.
    fn adopt_fork(&mut self, data: &[u8]) {
        // pid, ppid, tid, ptid (u32 each), time.
        let (Some(pid), Some(tid), Some(ptid)) =
            (u32_at(data, 0), u32_at(data, 8), u32_at(data, 12))
        else {
            return;
        };
        self.forked.insert(tid);
        let parent = self
            .threads
            .get(&ptid)
            .map(|t| t.name.clone())
            .unwrap_or_default();
        let t = self.thread(pid, tid);
        if t.name.is_empty() {
            t.name = parent;
        }
    }
}

/// When a thread's events start counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enable {
    /// When the thread calls exec: the command copylab starts, not copylab's own fork.
    OnExec,
    /// At once: a running process attached to.
    Now,
}

/// Why the syscalls cannot be followed (one line with the fix).
#[derive(Debug, Clone)]
pub struct Untraceable(pub String);

/// The open events and their rings.
pub struct Tracer {
    /// One ring per CPU for syscall records, indexed like `cpus`.
    sys_rings: Vec<perf_event::Sampler>,
    clock_rings: Vec<perf_event::Sampler>,
    /// Events writing into the rings above.
    others: Vec<Counter>,
    cpus: Vec<usize>,
    exit_id: u64,
    filter: CString,
    /// Syscall number → (name, counts bytes).
    numbers: HashMap<libc::c_long, Syscall>,
    attributor: Attributor,
    kallsyms: Option<&'static Kallsyms>,
    /// Why there is no CPU profile, when there is none.
    pub no_profile: Option<String>,
    pub tally: TraceTally,
    /// Keep each thread's callchains in the tally.
    pub keep_stacks: bool,
}

/// The CPUs the kernel has online (`/sys/devices/system/cpu/online`, e.g. `0-1,4`).
fn online_cpus() -> Vec<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let mut ends = part.splitn(2, '-').map(|n| n.trim().parse::<usize>());
        match (ends.next(), ends.next()) {
            (Some(Ok(a)), None) => cpus.push(a),
            (Some(Ok(a)), Some(Ok(b))) if a <= b => cpus.extend(a..=b),
            _ => {}
        }
    }
    if cpus.is_empty() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        cpus.extend(0..n);
    }
    cpus
}

/// Point `event`'s output at `ring`'s buffer.
fn set_output(event: &Counter, ring: &perf_event::Sampler) -> std::io::Result<()> {
    // SAFETY: both descriptors are perf events this module opened and still owns; the ioctl
    // takes the target descriptor by value.
    let rc = unsafe {
        perf_event_open_sys::ioctls::SET_OUTPUT(event.as_raw_fd(), ring.as_raw_fd() as _)
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The refusal in the words compare uses, with its fix.
fn refused(e: &std::io::Error, what: &str) -> Untraceable {
    let errno = e.raw_os_error().unwrap_or(0);
    Untraceable(Warning::perf_refused(errno, &format!("{what}: {e}")).as_error())
}

impl Tracer {
    /// Find the tracepoint and the kernel symbols; nothing is opened yet.
    pub fn new(sampling: Sampling) -> Result<Tracer, Untraceable> {
        let ids = tracefs::lookup(&[("raw_syscalls", "sys_exit")]).map_err(|u| {
            Untraceable(
                Warning::TracepointsUnavailable {
                    detail: u.detail,
                    permission: u.permission,
                }
                .as_error(),
            )
        })?;
        let exit_id = ids.ids.first().copied().flatten().ok_or_else(|| {
            Untraceable("this kernel has no raw_syscalls:sys_exit tracepoint (CONFIG_FTRACE_SYSCALLS is off)".into())
        })?;
        let numbers: HashMap<libc::c_long, Syscall> =
            Syscall::TRACED.iter().map(|s| (s.number(), *s)).collect();
        // In TRACED's order, so the filter reads the same every run.
        let filter = Syscall::TRACED
            .iter()
            .map(|s| s.number())
            .map(|nr| format!("id == {nr}"))
            .collect::<Vec<_>>()
            .join(" || ");
        let filter = CString::new(filter).map_err(|e| Untraceable(e.to_string()))?;
        let (kallsyms, no_profile) = if sampling == Sampling::Off {
            (None, Some("--no-profile was given".to_string()))
        } else {
            match kallsyms::check().and_then(|_| kallsyms::get().map_err(|e| e.clone())) {
                Ok(k) => (Some(k), None),
                Err(e) => (
                    None,
                    Some(
                        Warning::ProfileUnavailable {
                            reason: e.reason,
                            fix: e.fix,
                        }
                        .as_error(),
                    ),
                ),
            }
        };
        Ok(Tracer {
            sys_rings: Vec::new(),
            clock_rings: Vec::new(),
            others: Vec::new(),
            cpus: online_cpus(),
            exit_id,
            filter,
            numbers,
            attributor: Attributor::default(),
            kallsyms,
            no_profile,
            tally: TraceTally::default(),
            keep_stacks: false,
        })
    }

    fn syscall_builder(&self, tid: i32, cpu: usize, enable: Enable) -> Builder<'static> {
        let mut b = Builder::new(Tracepoint::with_id(self.exit_id));
        b.include_kernel()
            .observe_pid(tid)
            .one_cpu(cpu)
            .inherit(true)
            .sample_period(1)
            .sample(SampleFlag::TID | SampleFlag::RAW)
            .comm(true)
            .task(true)
            .enabled(enable == Enable::Now)
            .enable_on_exec(enable == Enable::OnExec);
        b
    }

    fn clock_builder(&self, tid: i32, cpu: usize, enable: Enable) -> Builder<'static> {
        let mut b = Builder::new(Software::CPU_CLOCK);
        b.include_kernel()
            .observe_pid(tid)
            .one_cpu(cpu)
            .inherit(true)
            .sample_period(PERIOD_NS)
            .sample(Attributor::SAMPLE)
            .exclude_callchain_user(true)
            .enabled(enable == Enable::Now)
            .enable_on_exec(enable == Enable::OnExec);
        b
    }

    /// Follow thread `tid` (and what it starts later), its events counting from `enable`.
    pub fn attach(&mut self, tid: i32, enable: Enable) -> Result<(), AttachError> {
        for i in 0..self.cpus.len() {
            let cpu = self.cpus[i];
            let syscalls = || -> std::io::Result<Counter> {
                let c = self.syscall_builder(tid, cpu, enable).build()?;
                set_filter(&c, &self.filter)?;
                Ok(c)
            };
            match self.sys_rings.get(i) {
                Some(ring) => {
                    let c = syscalls().map_err(AttachError::Open)?;
                    set_output(&c, ring).map_err(AttachError::Open)?;
                    self.others.push(c);
                }
                None => {
                    let ring = ring_of(syscalls, &SYS_RING_BYTES)?;
                    self.sys_rings.push(ring);
                }
            }
            if self.kallsyms.is_none() {
                continue;
            }
            let clock = || self.clock_builder(tid, cpu, enable).build();
            let opened = match self.clock_rings.get(i) {
                Some(ring) => clock()
                    .and_then(|c| set_output(&c, ring).map(|_| c))
                    .map(|c| self.others.push(c))
                    .map_err(|e| {
                        // The words and fix compare's profile gives for the same refusal.
                        let no = crate::counters::profile::refused(&e);
                        Untraceable(
                            Warning::ProfileUnavailable {
                                reason: no.reason,
                                fix: no.fix,
                            }
                            .as_error(),
                        )
                    }),
                None => ring_of(clock, &CLOCK_RING_BYTES)
                    .map(|r| self.clock_rings.push(r))
                    .map_err(|e| e.refusal()),
            };
            // Without the profile the syscalls are still followed: say why it is missing.
            if let Err(Untraceable(why)) = opened {
                self.no_profile = Some(why);
                self.kallsyms = None;
            }
        }
        Ok(())
    }

    /// Read every record waiting in the rings into the tally.
    pub fn drain(&mut self) {
        for ring in &mut self.sys_rings {
            while let Some(rec) = ring.next_record() {
                let data = rec.to_contiguous();
                let tally = &mut self.tally;
                match rec.ty() {
                    PERF_RECORD_SAMPLE => tally.count_syscall_exit(&data, &self.numbers),
                    PERF_RECORD_COMM => tally.rename_thread(&data),
                    PERF_RECORD_FORK => tally.adopt_fork(&data),
                    PERF_RECORD_LOST => tally.lost_syscalls += word(&data, 1).unwrap_or(0),
                    PERF_RECORD_LOST_SAMPLES => tally.lost_syscalls += word(&data, 0).unwrap_or(0),
                    _ => {}
                }
            }
        }
        self.drain_samples();
    }

    /// Read every record waiting in the cpu-clock rings: attribute each sample to its thread
    /// (and keep its callchain with [`Tracer::keep_stacks`]), count the samples the rings lost.
    /// Nothing to read without the profile.
    fn drain_samples(&mut self) {
        let Some(kallsyms) = self.kallsyms else {
            return;
        };
        for ring in &mut self.clock_rings {
            while let Some(rec) = ring.next_record() {
                let misc = rec.misc();
                let data = rec.to_contiguous();
                let s = match rec.ty() {
                    PERF_RECORD_SAMPLE => match RawSample::parse(&data) {
                        Some(s) => s,
                        None => continue,
                    },
                    PERF_RECORD_LOST => {
                        self.tally.lost_samples += word(&data, 1).unwrap_or(0);
                        continue;
                    }
                    PERF_RECORD_LOST_SAMPLES => {
                        self.tally.lost_samples += word(&data, 0).unwrap_or(0);
                        continue;
                    }
                    _ => continue,
                };
                let pid = u32_at(&data, 8).unwrap_or(0);
                let (c, _) = self.attributor.attribute(kallsyms, misc, &s);
                let t = self.tally.thread(pid, s.tid);
                *t.samples.entry(c).or_insert(0) += 1;
                if self.keep_stacks {
                    t.stacks.add_leaf_first(self.attributor.last_stack());
                }
            }
        }
    }

    /// Wait until a ring has records or `timeout` passes.
    pub fn wait(&self, timeout: std::time::Duration) {
        let mut fds: Vec<libc::pollfd> = self
            .sys_rings
            .iter()
            .chain(&self.clock_rings)
            .map(|r| libc::pollfd {
                fd: r.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs for the call's duration.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    }

    /// Stop every event (the last records are then drained by [`Tracer::drain`]).
    pub fn disable(&mut self) {
        for r in self.sys_rings.iter_mut().chain(self.clock_rings.iter_mut()) {
            let _ = r.disable();
        }
        for c in &mut self.others {
            let _ = c.disable();
        }
    }

    /// Descriptors one followed thread takes: one event per CPU for its syscalls, as many
    /// again for the profile.
    pub fn fds_per_thread(&self) -> usize {
        self.cpus.len() * if self.profiling() { 2 } else { 1 }
    }

    /// The CPUs events are opened on (one event per CPU and thread).
    pub fn cpu_count(&self) -> usize {
        self.cpus.len()
    }

    /// Whether the cpu-clock profile is being taken.
    pub fn profiling(&self) -> bool {
        self.kallsyms.is_some()
    }

    /// The threads seen starting since the tracer opened (followed by inherit already).
    pub fn forked(&self) -> &HashSet<u32> {
        &self.tally.forked
    }
}

/// Why a thread could not be followed.
#[derive(Debug)]
pub enum AttachError {
    Open(std::io::Error),
    Ring(String),
}

impl AttachError {
    pub fn errno(&self) -> Option<i32> {
        match self {
            AttachError::Open(e) => e.raw_os_error(),
            AttachError::Ring(_) => None,
        }
    }

    /// One line with the cause and the fix, for when tracing cannot go on. Only a refusal
    /// (EACCES, EPERM, …) is perf's: a process that exited, or descriptors that ran out, say so.
    pub fn refusal(&self) -> Untraceable {
        match self {
            AttachError::Open(e) => match e.raw_os_error() {
                Some(libc::ESRCH | libc::ENOENT) => Untraceable(
                    "the process exited while copylab was attaching its perf events".into(),
                ),
                Some(libc::EMFILE | libc::ENFILE) => Untraceable(format!(
                    "copylab ran out of file descriptors opening perf events ({e}): it needs one or two per CPU for each thread it attaches to. Fix: raise `ulimit -n` (now {})",
                    nofile_limit().map_or("unknown".to_string(), |n| n.to_string())
                )),
                _ => refused(e, "the raw_syscalls:sys_exit tracepoint"),
            },
            AttachError::Ring(r) => Untraceable(r.clone()),
        }
    }
}

/// The soft limit on open descriptors (RLIMIT_NOFILE), if it can be read.
pub fn nofile_limit() -> Option<u64> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// Open an event with `build` and map its ring, trying each size in turn (the locked-memory
/// limit may refuse the larger ones; mapping consumes the event, so each try opens it anew).
fn ring_of(
    build: impl Fn() -> std::io::Result<Counter>,
    sizes: &[usize],
) -> Result<perf_event::Sampler, AttachError> {
    let mut last = String::new();
    for &bytes in sizes {
        match build().map_err(AttachError::Open)?.sampled(bytes) {
            Ok(s) => return Ok(s),
            Err(e) => last = e.to_string(),
        }
    }
    Err(AttachError::Ring(format!(
        "perf refused even a {} KiB ring buffer ({last}). Fix: run as root, or raise `ulimit -l` or `sudo sysctl kernel.perf_event_mlock_kb=16500`",
        sizes.last().copied().unwrap_or(0) >> 10
    )))
}

const PERF_RECORD_COMM: u32 = 3;
const PERF_RECORD_FORK: u32 = 7;

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(data.get(at..at + 4)?.try_into().ok()?))
}
