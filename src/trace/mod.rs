//! `copylab trace`: which copy path does a real program use? Runs a command (or attaches to a
//! running process), follows every thread and child with perf ([`events`]), and returns per
//! thread the calls and bytes of each copy-relevant syscall, the CPU it spent copying, and the
//! path named in words ([`path`]). The results are `results::TraceReport` (the `--json` format).

pub mod events;
mod output;
pub mod path;
pub mod stop;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::counters::Sampling;
use crate::counters::profile::Category;
use crate::escape;
use crate::report::Output;
use crate::results::{
    Ended, SyscallFigure, TRACE_SCHEMA, ThreadCpu, TraceProcess, TraceReport, TraceThread,
};
use crate::signals;
use crate::syscall::Syscall;
use anyhow::{Context, Result, bail};
use events::{AttachError, Enable, SysTally, ThreadTally, Tracer, Untraceable};

/// What to trace.
#[derive(Debug, Clone)]
pub enum Tracee {
    /// Start this command (program and arguments) and follow it.
    Command(Vec<OsString>),
    /// Attach to this running process.
    Pid(i32),
}

#[derive(Debug, Clone)]
pub struct TraceOptions {
    pub target: Tracee,
    /// Stop following after this long (for a command: then its process group is sent
    /// SIGTERM, and SIGKILL [`GRACE`] later if it is still running).
    pub duration: Option<Duration>,
    /// Take the cpu-clock profile (where the CPU went, copy time per GiB).
    pub profile: bool,
}

/// How the command ended, and what copylab sent it.
#[derive(Debug, Clone, Default)]
struct Exit {
    code: Option<i32>,
    signal: Option<i32>,
    sent: Vec<&'static str>,
}

/// `copylab trace`: make the output ready (before anything runs), trace, write the results
/// there in `format` (stderr unless `-o` says otherwise). Ends with [`signals::Interrupted`]
/// (exit 130) when a stop was asked for.
///
/// With `stacks` the callchains are kept, and `then` gets the results once they are written
/// (the HTML page and the stacks: an export that fails then loses nothing).
pub fn command(
    opts: &TraceOptions,
    format: Output,
    output: Option<&Path>,
    stacks: Callchains,
    then: impl FnOnce(&TraceReport) -> Result<()>,
) -> Result<()> {
    // Before the output is opened: Ctrl-C while waiting for a FIFO's reader is then a stop.
    signals::install()?;
    let dest = output::Dest::open(output)?;
    let r = run_keeping(opts, stacks)?;
    let mut text = Vec::new();
    crate::report::write_trace(&r, format, dest.stream(), &mut text)?;
    dest.finish(&text)?;
    then(&r)?;
    if r.ended == Ended::Interrupted {
        return Err(signals::Interrupted.into());
    }
    Ok(())
}

pub fn run(opts: &TraceOptions) -> Result<TraceReport> {
    run_keeping(opts, Callchains::Discard)
}

/// Whether a trace keeps every sample's callchain per thread (for `--export-stacks` and
/// `--export-html`: the report's `stacks`), or only the categories they add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callchains {
    Keep,
    Discard,
}

/// [`run`], keeping every sample's callchain per thread as `stacks` says.
pub fn run_keeping(opts: &TraceOptions, stacks: Callchains) -> Result<TraceReport> {
    signals::install()?;
    // Two events per thread and CPU: a JVM's 30 threads on a 64-CPU machine need 3,840
    // descriptors, past the usual soft limit of 1,024. Raise it to the hard limit, as perf does.
    let nofile = raise_nofile();
    let started = Instant::now();
    let sampling = if opts.profile {
        Sampling::CpuClock
    } else {
        Sampling::Off
    };
    let tracer = Tracer::new(sampling).map(|mut t| {
        t.keep_stacks = stacks == Callchains::Keep;
        t
    });
    let (tracer, unavailable) = match tracer {
        Ok(t) => (Some(t), None),
        Err(Untraceable(why)) => (None, Some(why)),
    };
    let mut out = match &opts.target {
        Tracee::Command(argv) => run_command(argv, tracer, unavailable, opts.duration, nofile)?,
        Tracee::Pid(pid) => attach_pid(*pid, tracer, unavailable, opts.duration)?,
    };
    out.wall_ns = started.elapsed().as_nanos() as u64;
    Ok(out)
}

/// The soft RLIMIT_NOFILE raised to the hard one; the limits as they were, for the command,
/// which must run as it would without copylab. (Nothing to say if raising fails: attaching then
/// reports EMFILE with its reason.)
fn raise_nofile() -> Option<(u64, u64)> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).ok()?;
        return Some((soft, hard));
    }
    None
}

/// A command's argv as text for the report.
fn argv_text(argv: &[OsString]) -> Vec<String> {
    argv.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

fn run_command(
    argv: &[OsString],
    tracer: Option<Tracer>,
    mut unavailable: Option<String>,
    duration: Option<Duration>,
    nofile: Option<(u64, u64)>,
) -> Result<TraceReport> {
    let Some((program, args)) = argv.split_first() else {
        bail!("trace: give a command after `--` (copylab trace -- CMD ARGS) or --pid PID");
    };
    let Launch {
        mut tracer,
        refused,
        child,
        spawner,
    } = launch(command_to_run(program, args, nofile), tracer)?;
    if refused.is_some() {
        unavailable = refused;
    }
    let mut child = child.with_context(|| {
        format!(
            "trace: cannot run '{}': check the command name and PATH",
            escape::escape(program.as_encoded_bytes())
        )
    })?;
    let pid = child.id() as libc::pid_t;
    // The command's process group has the command's pid.
    signals::follow_group(pid);
    let terminal = stop::Foreground::hand_to(pid);
    let mut stopping = stop::Stopping::new(pid, duration.map(|d| Instant::now() + d));
    let status = follow_until_exit(&mut child, &mut tracer, terminal.as_ref(), &mut stopping)?;
    signals::forget_group();
    stopping.settle();
    let had_terminal = terminal.is_some();
    drop(terminal);
    if let Some(t) = &mut tracer {
        t.disable();
        t.drain();
    }
    spawner.release();
    let rusage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).ok();
    use std::os::unix::process::ExitStatusExt;
    let exit = Exit {
        code: status.code(),
        signal: status.signal(),
        sent: stopping.sent.clone(),
    };
    if let Some(why) = tracer
        .as_ref()
        .and_then(|t| privileged_unrecorded(t, pid, program))
    {
        unavailable = Some(why);
        tracer = None;
    }
    let ended = if signals::stop_requested() || terminal_interrupt(&exit, had_terminal) {
        Ended::Interrupted
    } else if stopping.time_ran_out() {
        Ended::Time
    } else {
        Ended::Exited
    };
    let mut report = build(tracer, unavailable, ended, exit);
    report.command = Some(argv_text(argv));
    report.rusage_user_ns = rusage.map(|r| crate::counters::tv_ns(r.user_time()));
    report.rusage_sys_ns = rusage.map(|r| crate::counters::tv_ns(r.system_time()));
    Ok(report)
}

/// The command to run, in a process group of its own: at the deadline or a stop, the signal
/// reaches every process the command started (a shell's children too), not only the command.
/// With `nofile` (the RLIMIT_NOFILE copylab raised its own from) it gets the limit it would
/// have had without copylab.
fn command_to_run(
    program: &OsStr,
    args: &[OsString],
    nofile: Option<(u64, u64)>,
) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    cmd.process_group(0);
    if let Some((soft, hard)) = nofile {
        let limit = libc::rlimit {
            rlim_cur: soft as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: the closure runs in the child between fork and exec and only calls setrlimit,
        // which is async-signal-safe, on a value copied in; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                Ok(())
            });
        }
    }
    cmd
}

/// A command started by [`launch`].
struct Launch {
    /// The events, attached; `None` when there were none or attaching was refused.
    tracer: Option<Tracer>,
    /// Why attaching was refused, when it was.
    refused: Option<String>,
    child: std::io::Result<std::process::Child>,
    /// The thread that owns the events.
    spawner: Spawner,
}

/// The thread a command was started from, parked until [`Spawner::release`] so the events it
/// opened stay where they were made.
struct Spawner {
    done: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Spawner {
    /// Let the thread end, once the events are disabled and drained, and wait for it.
    fn release(self) {
        let _ = self.done.send(());
        let _ = self.thread.join();
    }
}

/// Start `cmd` from a thread of copylab's own that first attaches `tracer` to itself, with
/// `inherit` and `enable_on_exec`: the command, started from that thread, inherits the events
/// at fork and they start counting at its exec, so nothing of copylab's is counted and nothing
/// of the command's is missed.
fn launch(mut cmd: std::process::Command, tracer: Option<Tracer>) -> Result<Launch> {
    let (done, done_rx) = std::sync::mpsc::channel::<()>();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("copylab-trace".into())
        .spawn(move || {
            let mut tracer = tracer;
            let mut refused = None;
            if let Some(t) = &mut tracer {
                // SAFETY: gettid has no preconditions.
                let tid = unsafe { libc::gettid() };
                if let Err(e) = t.attach(tid, Enable::OnExec) {
                    refused = Some(e.refusal().0);
                    tracer = None;
                }
            }
            let child = cmd.spawn();
            let _ = tx.send((tracer, refused, child));
            let _ = done_rx.recv();
        })
        .context("cannot start the thread that runs the command")?;
    let (tracer, refused, child) = rx
        .recv()
        .context("the thread that runs the command ended early")?;
    Ok(Launch {
        tracer,
        refused,
        child,
        spawner: Spawner { done, thread },
    })
}

/// Drain the events (or wait, with none) until `child` exits: follow its stops on the
/// `terminal` it holds, signal its group as `stopping` says; reap it and return its status.
fn follow_until_exit(
    child: &mut std::process::Child,
    tracer: &mut Option<Tracer>,
    terminal: Option<&stop::Foreground>,
    stopping: &mut stop::Stopping,
) -> Result<std::process::ExitStatus> {
    let pid = child.id() as libc::pid_t;
    loop {
        match tracer {
            Some(t) => {
                t.wait(Duration::from_millis(50));
                t.drain();
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
        if stop::exited(pid) {
            // Never signal the group's number once its leader is reaped.
            signals::forget_group();
            return child.wait().context("cannot wait for the command");
        }
        if let Some(t) = terminal {
            t.follow_stop(pid);
        }
        stopping.poll();
    }
}

/// Why nothing was counted, when the command (`program`, pid `pid`) recorded no syscall and is
/// a setuid (or setgid, or file-capability) program run by a user who is not root: the kernel
/// removes the perf events a program inherits at its exec. That is nothing measured, not a
/// program that made no syscall.
fn privileged_unrecorded(t: &Tracer, pid: i32, program: &OsStr) -> Option<String> {
    let recorded = t
        .tally
        .threads
        .get(&(pid as u32))
        .is_some_and(|th| !th.syscalls.is_empty());
    if recorded {
        return None;
    }
    let why = stop::privileged_program(program)?;
    Some(format!(
        "nothing could be counted: {why}, and the kernel removes the perf events a program inherits when it executes such a file as a user who is not root (not one of its syscalls was recorded). Fix: run copylab as root"
    ))
}

/// The command died of the terminal's Ctrl-C (SIGINT), which went to it alone because it held
/// the terminal (copylab sent it no SIGINT): the trace was interrupted, as if copylab got it.
fn terminal_interrupt(exit: &Exit, had_terminal: bool) -> bool {
    had_terminal && exit.signal == Some(libc::SIGINT) && !exit.sent.contains(&"SIGINT")
}

/// The thread ids of process `pid` now.
fn tasks(pid: i32) -> std::io::Result<Vec<i32>> {
    let mut v: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// Whether `pid` is still a running (not zombie) process.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the ")" that ends the name.
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn attach_pid(
    pid: i32,
    tracer: Option<Tracer>,
    mut unavailable: Option<String>,
    duration: Option<Duration>,
) -> Result<TraceReport> {
    if pid <= 0 || !alive(pid) {
        bail!("trace --pid {pid}: no such process (check the pid with `ps` or `pgrep`)");
    }
    // Another user's process may not be followed (perf asks what ptrace asks): say so rather
    // than watch it with nothing counted.
    let owner = std::fs::metadata(format!("/proc/{pid}")).map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid()
    });
    let me = nix::unistd::geteuid().as_raw();
    if let Ok(o) = owner
        && o != me
        && me != 0
    {
        bail!(
            "trace --pid {pid}: not allowed to trace this process (it belongs to uid {o}): run copylab as root or as that user"
        );
    }
    let mut tracer = tracer;
    // Counted before attaching: once the descriptors have run out, /proc cannot be read.
    let threads = tasks(pid).map_or(0, |t| t.len());
    if let Some(t) = &mut tracer {
        match follow_all(t, pid) {
            Ok(()) => {}
            Err(e) if matches!(e.errno(), Some(libc::EMFILE | libc::ENFILE)) => {
                let need = threads * t.fds_per_thread() + 64;
                bail!(
                    "trace --pid {pid}: out of file descriptors: following its {threads} threads takes about {need} ({} perf events per thread: one per CPU on {} CPUs{}), and the limit is {}; nothing was measured. Fix: raise `ulimit -n` to {need} or more",
                    t.fds_per_thread(),
                    t.cpu_count(),
                    if t.profiling() {
                        ", twice for the profile"
                    } else {
                        ""
                    },
                    events::nofile_limit().map_or("unknown".to_string(), |n| n.to_string())
                );
            }
            Err(e) if matches!(e.errno(), Some(libc::ESRCH | libc::ENOENT)) || !alive(pid) => {
                bail!(
                    "trace --pid {pid}: the process exited while copylab was attaching to it; nothing was measured"
                );
            }
            Err(e) => {
                unavailable = Some(e.refusal().0);
                tracer = None;
            }
        }
    }
    // Attached to nothing, a pid yields nothing at all (no rusage either): say why and stop,
    // rather than watch it and print an empty report.
    if tracer.is_none() {
        bail!(
            "trace --pid {pid}: nothing can be measured: {}",
            unavailable
                .as_deref()
                .unwrap_or("syscalls cannot be followed")
        );
    }
    if let Some(t) = &tracer {
        eprintln!(
            "copylab: following pid {pid} ({} threads); Ctrl-C to stop",
            t.tally.threads.len()
        );
    }
    let until = duration.map(|d| Instant::now() + d);
    let ended = loop {
        match &mut tracer {
            Some(t) => {
                t.wait(Duration::from_millis(50));
                t.drain();
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
        if !alive(pid) {
            break Ended::Exited;
        }
        if signals::stop_requested() {
            break Ended::Interrupted;
        }
        if until.is_some_and(|u| Instant::now() >= u) {
            break Ended::Time;
        }
    };
    if let Some(t) = &mut tracer {
        t.disable();
        t.drain();
        refresh_names(t, pid);
    }
    let mut report = build(tracer, unavailable, ended, Exit::default());
    report.pid = Some(pid);
    Ok(report)
}

/// Attach to every thread of `pid`, again until a look at /proc finds none new: a thread
/// started by one already followed is followed by inherit (its PERF_RECORD_FORK says so) and
/// must not be attached twice.
fn follow_all(t: &mut Tracer, pid: i32) -> Result<(), AttachError> {
    let mut followed = std::collections::HashSet::new();
    for _ in 0..20 {
        let now = tasks(pid).map_err(AttachError::Open)?;
        t.drain();
        let new: Vec<i32> = now
            .into_iter()
            .filter(|tid| !followed.contains(tid) && !t.forked().contains(&(*tid as u32)))
            .collect();
        if new.is_empty() {
            break;
        }
        for tid in new {
            match t.attach(tid, Enable::Now) {
                Ok(()) => {
                    followed.insert(tid);
                    seed_name(t, pid, tid);
                }
                // The thread ended between the listing and the attach.
                Err(e) if e.errno() == Some(libc::ESRCH) && tid != pid => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

fn comm(pid: i32, tid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// A thread followed from the middle of its life: its name so far (later renames arrive as
/// PERF_RECORD_COMM).
fn seed_name(t: &mut Tracer, pid: i32, tid: i32) {
    if let Some(name) = comm(pid, tid) {
        let e = t.tally.threads.entry(tid as u32).or_default();
        e.pid = pid as u32;
        if e.name.is_empty() {
            e.name = name;
        }
    }
}

/// Names of threads still alive, as they are now.
fn refresh_names(t: &mut Tracer, pid: i32) {
    for (tid, th) in t.tally.threads.iter_mut() {
        if th.pid == pid as u32
            && let Some(n) = comm(pid, *tid as i32)
        {
            th.name = n;
        }
    }
}

fn figures(sys: &BTreeMap<Syscall, SysTally>) -> BTreeMap<Syscall, SyscallFigure> {
    sys.iter()
        .map(|(name, t)| {
            let bytes = name.moves_data().then_some(t.bytes);
            (
                *name,
                SyscallFigure {
                    calls: t.calls,
                    bytes,
                    errors: t.errors,
                },
            )
        })
        .collect()
}

/// The report of a trace that ended as `ended` with `exit`: per thread and per process the
/// syscalls, bytes moved, CPU and path, and the whole trace's; with no `tracer` (nothing could
/// be followed, `unavailable` says why), the report with no figures.
fn build(
    tracer: Option<Tracer>,
    unavailable: Option<String>,
    ended: Ended,
    exit: Exit,
) -> TraceReport {
    let mut report = unmeasured(unavailable, ended, exit);
    let Some(t) = tracer else {
        report.profile_unavailable = Some("syscalls could not be followed".into());
        return report;
    };
    report.profile_unavailable = t.no_profile.clone();
    let profiled = t.no_profile.is_none();
    report.lost_syscall_records = t.tally.lost_syscalls;
    report.lost_samples = t.tally.lost_samples;
    let mut total: BTreeMap<Syscall, SysTally> = BTreeMap::new();
    let mut by_pid: BTreeMap<u32, BTreeMap<Syscall, SysTally>> = BTreeMap::new();
    for (tid, th) in &t.tally.threads {
        if th.syscalls.is_empty() && th.samples.is_empty() {
            continue;
        }
        for (name, s) in &th.syscalls {
            *total.entry(*name).or_default() += *s;
            *by_pid.entry(th.pid).or_default().entry(*name).or_default() += *s;
        }
        let moved = path::moved_bytes(&th.syscalls);
        if !th.stacks.is_empty() {
            report.stacks.push((th.pid, *tid, th.stacks.clone()));
        }
        report.threads.push(TraceThread {
            tid: *tid,
            pid: th.pid,
            name: th.name.clone(),
            syscalls: figures(&th.syscalls),
            moved_bytes: moved,
            cpu: profiled.then(|| thread_cpu(th, moved)),
        });
    }
    for (pid, sys) in &by_pid {
        let name = thread_name(&t.tally.threads, *pid);
        report.processes.push(TraceProcess {
            pid: *pid,
            moved_bytes: path::moved_bytes(sys),
            path: path::name(sys, &name),
            name,
        });
    }
    // The whole trace is named after the process that moved the most bytes (nginx's worker,
    // not its master; the program, not the shell that started it).
    let main_name = by_pid
        .iter()
        .max_by_key(|(_, sys)| path::moved_bytes(sys))
        .map(|(pid, _)| thread_name(&t.tally.threads, *pid))
        .unwrap_or_default();
    report.path = Some(path::name(&total, &main_name));
    report.syscalls = Some(figures(&total));
    report
}

/// How the trace ended, and why nothing could be measured when nothing could: a report with
/// no figures in it yet.
fn unmeasured(unavailable: Option<String>, ended: Ended, exit: Exit) -> TraceReport {
    TraceReport {
        schema: TRACE_SCHEMA,
        copylab_version: env!("CARGO_PKG_VERSION"),
        command: None,
        pid: None,
        ended,
        exit_code: exit.code,
        exit_signal: exit.signal,
        signals_sent: exit.sent,
        wall_ns: 0,
        unavailable,
        profile_unavailable: None,
        lost_syscall_records: 0,
        lost_samples: 0,
        syscalls: None,
        threads: Vec::new(),
        processes: Vec::new(),
        path: None,
        rusage_user_ns: None,
        rusage_sys_ns: None,
        stacks: Vec::new(),
    }
}

/// Where thread `th`'s CPU went, from its cpu-clock samples (one per [`events::PERIOD_NS`]),
/// and its copy time per GiB of the `moved` bytes (none when it moved nothing).
fn thread_cpu(th: &ThreadTally, moved: u64) -> ThreadCpu {
    let ns: BTreeMap<Category, u64> = Category::ALL
        .iter()
        .map(|c| {
            (
                *c,
                th.samples.get(c).copied().unwrap_or(0) * events::PERIOD_NS,
            )
        })
        .collect();
    let copy = ns.get(&Category::Copy).copied().unwrap_or(0);
    ThreadCpu {
        samples: th.samples.values().sum(),
        period_ns: events::PERIOD_NS,
        copy_ns_per_gib: (moved > 0).then(|| copy as f64 / crate::size::gib(moved)),
        ns,
    }
}

/// The name of thread `tid` (a process's main thread when `tid` is its pid); empty if unseen.
fn thread_name(threads: &BTreeMap<u32, ThreadTally>, tid: u32) -> String {
    threads
        .get(&tid)
        .map(|th| th.name.clone())
        .unwrap_or_default()
}
