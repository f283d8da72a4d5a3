//! `copylab doctor`: what this machine lets copylab measure, each gap with the command that
//! closes it, and which columns of the compare table will be real, self-counted or n/a. The
//! counter verdicts come from opening the counters exactly as `compare` does.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::Result;
use perf_event::Builder;
use perf_event::events::{Hardware, Software};

use crate::counters::{Choice, Counters, SyscallSource, tracefs};
use crate::results::CounterSource;
use crate::source::Source;
use crate::transport::Transport;
use crate::warnings::Warning;

pub use crate::results::doctor::{ColumnSource, Diagnosis, DoctorCheck, Level};

fn check(
    name: &'static str,
    level: Level,
    found: impl Into<String>,
    fix: Option<&str>,
) -> DoctorCheck {
    DoctorCheck {
        name,
        level,
        found: found.into(),
        fix: if level == Level::Ok {
            None
        } else {
            fix.map(str::to_string)
        },
    }
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;

/// One check per path that may be unavailable (those whose registry entry says what doctor
/// reports when they can run): can this kernel and sandbox run it over TCP? The same test
/// compare uses before it runs a path.
fn path_checks(checks: &mut Vec<DoctorCheck>) {
    for path in crate::method::REGISTRY.iter() {
        let Some(ok) = path.doctor_ok else { continue };
        checks.push(match (path.availability)(Transport::Tcp) {
            Ok(()) => check(path.name, Level::Ok, ok, None),
            Err(u) => DoctorCheck {
                name: path.name,
                level: Level::Limited,
                found: format!("{}: compare skips it", u.reason),
                fix: Some(format!("{} (the classic paths do not need it)", u.fix)),
            },
        });
    }
}

/// `--link`: does the kernel take SO_MAX_PACING_RATE on a TCP socket (the same call compare
/// makes)?
fn pacing_check() -> DoctorCheck {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(anyhow::Error::from)
        .and_then(|l| {
            use std::os::fd::AsFd;
            crate::transport::pace(l.as_fd(), 125_000_000)
        });
    match probe {
        Ok(()) => check(
            "pacing",
            Level::Ok,
            "SO_MAX_PACING_RATE accepted on a TCP socket: --link works",
            None,
        ),
        Err(e) => DoctorCheck {
            name: "pacing",
            level: Level::Limited,
            found: format!("SO_MAX_PACING_RATE refused ({e:#}): --link cannot run"),
            fix: Some("use a Linux 4.13 or later kernel (TCP's own pacing); compare runs unpaced without --link".into()),
        },
    }
}

/// `--transport veth` and `lab`: root and iproute2, then a real private namespace with a veth
/// pair in it, made on a thread of its own and gone with that thread (no name anywhere).
fn veth_check() -> DoctorCheck {
    const NAME: &str = "network namespaces";
    if let Some(why) = crate::netns::refusal() {
        return DoctorCheck {
            name: NAME,
            level: Level::Limited,
            found: "--transport veth and lab cannot run here".into(),
            fix: Some(why),
        };
    }
    let probe = std::thread::spawn(|| -> Result<(), String> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("unshare(CLONE_NEWNET): {}", e.desc()))?;
        // A child started from this thread runs in its namespace.
        let out = std::process::Command::new("ip")
            .args([
                "link",
                "add",
                "copylabdoc0",
                "type",
                "veth",
                "peer",
                "name",
                "copylabdoc1",
            ])
            .output()
            .map_err(|e| format!("cannot run ip: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "ip link add type veth: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    })
    .join()
    .unwrap_or_else(|_| Err("the probe thread failed".into()));
    match probe {
        Ok(()) => check(
            NAME,
            Level::Ok,
            "a namespace and a veth pair made and removed: --transport veth and lab work",
            None,
        ),
        Err(e) => DoctorCheck {
            name: NAME,
            level: Level::Limited,
            found: format!("refused ({e}): --transport veth and lab cannot run"),
            fix: Some("in a container, run it privileged (CAP_SYS_ADMIN, CAP_NET_ADMIN); the kernel needs CONFIG_NET_NS and CONFIG_VETH (modprobe veth)".into()),
        },
    }
}

/// Try one sendfile and one splice of the file's first byte into a socket pair: does this file
/// system let those paths read it?
fn zero_copy_probe(src: &Source) -> Result<(), String> {
    if src.len == 0 {
        return Ok(());
    }
    let (a, b) = std::os::unix::net::UnixStream::pair().map_err(|e| e.to_string())?;
    let mut off: i64 = 0;
    nix::sys::sendfile::sendfile(&a, &src.file, Some(&mut off), 1)
        .map_err(|e| format!("sendfile: {}", e.desc()))?;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
    let mut off: i64 = 0;
    nix::fcntl::splice(
        &src.file,
        Some(&mut off),
        &w,
        None,
        1,
        nix::fcntl::SpliceFFlags::empty(),
    )
    .map_err(|e| format!("splice: {}", e.desc()))?;
    drop((r, w, a, b));
    Ok(())
}

/// Examine the machine (and `file`, if given).
pub fn diagnose(file: Option<&Path>) -> Result<Diagnosis> {
    let who = Privileges::read();
    let mut checks = vec![
        check(
            "kernel",
            Level::Ok,
            format!("Linux {}", crate::sys::kernel_release()),
            None,
        ),
        privileges_check(&who),
        paranoid_check(&who),
        perf_open_check(),
        tracefs_check(),
    ];
    // Open the counters the way compare does: their verdict is compare's.
    let counters = Counters::open(Choice::Auto)?;
    checks.push(counters_check(&counters));
    let (profile, profiled) = profile_check();
    checks.push(profile);
    let perf_syscalls = counters.syscall_source == SyscallSource::Perf;
    let found = Found {
        perf_syscalls,
        complete: complete(&counters),
        perf_events: counters.has_perf(),
        profiled,
    };
    checks.push(trace_check());
    checks.push(hardware_check());
    path_checks(&mut checks);
    checks.push(pacing_check());
    checks.push(veth_check());
    checks.push(pipe_max_check(&who));
    if let Some(path) = file {
        checks.push(file_check(path));
    }
    Ok(Diagnosis {
        checks,
        columns: columns(&found),
        full_table: found.complete && found.profiled,
        counter_source: if found.perf_syscalls {
            CounterSource::Perf
        } else {
            CounterSource::Rusage
        },
    })
}

/// What compare can measure here, as the counters and the sampler opened.
struct Found {
    /// Syscalls are counted by perf tracepoints (else the methods count their own).
    perf_syscalls: bool,
    /// Every syscall counter opened, without a warning.
    complete: bool,
    /// The perf software events (task-clock, context switches, page faults) count.
    perf_events: bool,
    /// Both threads' CPU can be sampled (the copy column, where the CPU went).
    profiled: bool,
}

/// The counters compare opens count every syscall by perf, without a warning.
fn complete(counters: &Counters) -> bool {
    counters.syscall_source == SyscallSource::Perf && counters.warnings.is_empty()
}

/// Who copylab runs as, read once: root, and the effective capabilities.
struct Privileges {
    root: bool,
    caps: u64,
}

impl Privileges {
    fn read() -> Privileges {
        Privileges {
            root: nix::unistd::geteuid().is_root(),
            caps: crate::sys::effective_caps(),
        }
    }

    fn has(&self, bit: u32) -> bool {
        self.caps & (1u64 << bit) != 0
    }

    /// Root, or the capabilities that let perf count the kernel.
    fn perf_allowed(&self) -> bool {
        self.root || self.has(CAP_PERFMON) || self.has(CAP_SYS_ADMIN)
    }
}

fn privileges_check(p: &Privileges) -> DoctorCheck {
    let found = if p.root {
        "root".to_string()
    } else if p.has(CAP_PERFMON) {
        "CAP_PERFMON".to_string()
    } else {
        format!("uid {} without CAP_PERFMON", nix::unistd::geteuid())
    };
    check(
        "privileges",
        if p.perf_allowed() {
            Level::Ok
        } else {
            Level::Limited
        },
        found,
        Some("run as root, or `sudo setcap cap_perfmon+ep $(command -v copylab)`"),
    )
}

fn paranoid_check(who: &Privileges) -> DoctorCheck {
    let privileged = who.perf_allowed();
    let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    match paranoid {
        None => check(
            "perf_event_paranoid",
            Level::Missing,
            "no /proc/sys/kernel/perf_event_paranoid: the kernel has no perf events",
            Some("use a kernel built with CONFIG_PERF_EVENTS"),
        ),
        Some(p) => check(
            "perf_event_paranoid",
            if p <= 1 || privileged {
                Level::Ok
            } else {
                Level::Limited
            },
            if privileged && p > 1 {
                format!("{p} (does not apply: privileged)")
            } else {
                p.to_string()
            },
            Some(crate::warnings::PARANOID_SYSCTL),
        ),
    }
}

/// Can a kernel event be counted at all? The fix is the one compare's warning gives.
fn perf_open_check() -> DoctorCheck {
    let mut b = Builder::new(Software::TASK_CLOCK);
    b.include_kernel();
    match b.build() {
        Ok(_) => check(
            "perf_event_open",
            Level::Ok,
            "kernel events can be counted",
            None,
        ),
        Err(e) => {
            let w = Warning::perf_refused(e.raw_os_error().unwrap_or(0), &e.to_string());
            check(
                "perf_event_open",
                Level::Missing,
                format!("refused: {e}"),
                Some(w.fix()),
            )
        }
    }
}

fn tracefs_check() -> DoctorCheck {
    let found = tracefs::lookup(&[
        ("raw_syscalls", "sys_enter"),
        ("syscalls", "sys_enter_sendfile64"),
    ]);
    match found {
        Ok(ids) => check(
            "tracefs",
            Level::Ok,
            match ids.origin {
                tracefs::Origin::Mounted(p) => {
                    format!("syscall tracepoints in {}", crate::escape::path(&p))
                }
                tracefs::Origin::TemporaryMount => {
                    "not mounted; copylab mounts it privately for a moment (as root)".into()
                }
            },
            None,
        ),
        Err(u) if std::env::var_os(tracefs::TRACEFS_ENV).is_some() => check(
            "tracefs",
            Level::Missing,
            u.detail,
            Some("unset COPYLAB_TRACEFS, or point it at a tracefs mount"),
        ),
        Err(u) => {
            let w = Warning::TracepointsUnavailable {
                detail: u.detail.clone(),
                permission: u.permission,
            };
            check("tracefs", Level::Missing, u.detail, Some(w.fix()))
        }
    }
}

fn counters_check(counters: &Counters) -> DoctorCheck {
    let complete = complete(counters);
    check(
        "syscall counters",
        if complete {
            Level::Ok
        } else if counters.syscall_source == SyscallSource::Perf {
            Level::Limited
        } else {
            Level::Missing
        },
        if complete {
            "raw_syscalls:sys_enter, and filtered on each syscall copylab counts".to_string()
        } else {
            counters
                .warnings
                .iter()
                .map(|w| w.reason())
                .collect::<Vec<_>>()
                .join(" / ")
        },
        Some("see the fixes above (root, perf_event_paranoid, tracefs)"),
    )
}

/// The sampler compare opens on each thread: the copy column and the CPU view need it.
fn profile_check() -> (DoctorCheck, bool) {
    use crate::counters::profile::Sampler;
    match Sampler::open(Sampler::PERIOD_NS) {
        Ok(_) => (
            check(
                "cpu profile",
                Level::Ok,
                "cpu-clock samples with kernel callchains, symbols from /proc/kallsyms",
                None,
            ),
            true,
        ),
        Err(no) => (
            check("cpu profile", Level::Missing, no.reason, Some(no.fix)),
            false,
        ),
    }
}

/// `copylab trace` samples `raw_syscalls:sys_exit` (the return values are the bytes).
fn trace_check() -> DoctorCheck {
    match tracefs::lookup(&[("raw_syscalls", "sys_exit")]) {
        Ok(ids) if ids.ids.first().copied().flatten().is_some() => check(
            "trace",
            Level::Ok,
            "raw_syscalls:sys_exit found: copylab trace can count another program's bytes",
            None,
        ),
        Ok(_) => check(
            "trace",
            Level::Missing,
            "no raw_syscalls:sys_exit tracepoint: copylab trace shows n/a",
            Some("use a kernel with CONFIG_FTRACE_SYSCALLS"),
        ),
        Err(u) => {
            let w = Warning::TracepointsUnavailable {
                detail: u.detail.clone(),
                permission: u.permission,
            };
            check(
                "trace",
                Level::Missing,
                format!("{}: copylab trace shows n/a", u.detail),
                Some(w.fix()),
            )
        }
    }
}

fn hardware_check() -> DoctorCheck {
    let mut hw = Builder::new(Hardware::INSTRUCTIONS);
    hw.include_kernel();
    match hw.build() {
        Ok(_) => check(
            "hardware counters",
            Level::Ok,
            "cycles/instructions available",
            None,
        ),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM)) => check(
            "hardware counters",
            Level::Limited,
            format!("refused ({e}); copylab does not need them"),
            Some("run as root, or `sudo sysctl kernel.perf_event_paranoid=-1` (optional)"),
        ),
        Err(e) => check(
            "hardware counters",
            Level::Limited,
            format!("not available ({e}); common in VMs, and copylab does not need them"),
            Some("run on bare metal or a VM with a virtual PMU (optional)"),
        ),
    }
}

fn pipe_max_check(who: &Privileges) -> DoctorCheck {
    let privileged = who.perf_allowed();
    let pipe_max = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    match pipe_max {
        Some(m) if m >= 1 << 20 || privileged => check(
            "pipe-max-size",
            Level::Ok,
            format!("{m} bytes (splice's default --pipe-size 1M fits)"),
            None,
        ),
        Some(m) => check(
            "pipe-max-size",
            Level::Limited,
            format!("{m} bytes: an unprivileged --pipe-size above it is refused"),
            Some("sudo sysctl fs.pipe-max-size=1048576"),
        ),
        None => check(
            "pipe-max-size",
            Level::Limited,
            "unknown (/proc/sys/fs/pipe-max-size unreadable)",
            None,
        ),
    }
}

/// Where each of compare's columns will come from.
fn columns(found: &Found) -> Vec<ColumnSource> {
    let col = |column, real: bool, yes: &str, no: &str, fallback| ColumnSource {
        column,
        verdict: if real { "real" } else { fallback },
        source: if real { yes } else { no }.to_string(),
    };
    vec![
        col(
            "syscalls (total)",
            found.perf_syscalls,
            "perf raw_syscalls:sys_enter",
            "needs perf syscall tracepoints",
            "n/a",
        ),
        col(
            "data syscalls",
            found.perf_syscalls,
            "perf raw_syscalls:sys_enter filtered on id",
            "each method's own count of the calls it made",
            "self-counted",
        ),
        col(
            "ctx sw, CPU, page faults",
            true,
            "getrusage(RUSAGE_THREAD)",
            "",
            "real",
        ),
        col(
            "perf task-clock, context-switches, page-faults (JSON)",
            found.perf_events,
            "perf software events",
            "needs perf_event_open",
            "n/a",
        ),
        col(
            "copy ms/GiB, where the CPU went",
            found.profiled,
            "cpu-clock samples of both threads",
            "needs perf sampling of the kernel and readable kernel symbols",
            "n/a",
        ),
    ]
}

fn file_check(path: &Path) -> DoctorCheck {
    let src = match Source::open(path, crate::source::Hash::Skip) {
        Ok(s) => s,
        Err(e) => {
            return check(
                "file",
                Level::Missing,
                format!("{e:#}"),
                Some("give a readable regular file"),
            );
        }
    };
    let fs_name = fs_name(&src.file).unwrap_or_else(|| "an unknown file system".into());
    if src.len == 0 {
        return check(
            "file",
            Level::Limited,
            format!(
                "{} on {fs_name} is empty: sendfile and splice were not tried",
                crate::escape::path(path)
            ),
            Some("give a non-empty file to check the zero-copy paths"),
        );
    }
    match zero_copy_probe(&src) {
        Ok(()) => check(
            "file",
            Level::Ok,
            format!(
                "{} on {fs_name}: sendfile and splice can read it",
                crate::escape::path(path)
            ),
            None,
        ),
        Err(e) => check(
            "file",
            Level::Limited,
            format!("{} on {fs_name}: {e}", crate::escape::path(path)),
            Some("this file system refuses zero-copy reads: copy the file to ext4, xfs or tmpfs"),
        ),
    }
}

/// The file system type of an open file, by name from /proc/self/mountinfo's best match.
fn fs_name(file: &std::fs::File) -> Option<String> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<(usize, String)> = None;
    for line in info.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(dash) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        let (Some(mnt), Some(ty)) = (f.get(4), f.get(dash + 1)) else {
            continue;
        };
        let mnt = PathBuf::from(mnt);
        if link.starts_with(&mnt) {
            let depth = mnt.components().count();
            if best.as_ref().is_none_or(|(d, _)| depth >= *d) {
                best = Some((depth, (*ty).to_string()));
            }
        }
    }
    best.map(|(_, t)| t)
}
