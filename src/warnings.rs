//! Everything copylab wants a user to know about the measurement, each saying how to fix it.

/// The one `perf_event_paranoid` setting every fix recommends: -1 lets an unprivileged user
/// open everything copylab uses — counters and cpu-clock sampling with kernel samples (≤ 1),
/// raw tracepoint samples for trace (≤ -1), hardware counters (≤ 0) — so no fix asks for one
/// value and the next for another.
pub const PARANOID_SYSCTL: &str = "sudo sysctl kernel.perf_event_paranoid=-1";

use std::fmt;

/// A problem with what could be measured. `Display` is one line ending in the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// perf_event_open was refused altogether.
    PerfRefused {
        detail: String,
        paranoid: Option<i32>,
        errno: i32,
    },
    /// perf works but syscall tracepoint ids cannot be read.
    TracepointsUnavailable { detail: String, permission: bool },
    /// Some syscalls cannot be counted on this kernel (name, why): their counts show n/a.
    TracepointsMissing(Vec<(crate::syscall::Syscall, String)>),
    /// The cpu-clock profile (where the CPU went) cannot be taken.
    ProfileUnavailable { reason: String, fix: &'static str },
}

impl Warning {
    pub fn perf_refused(errno: i32, detail: &str) -> Warning {
        let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
            .ok()
            .and_then(|s| s.trim().parse().ok());
        Warning::PerfRefused {
            detail: detail.to_string(),
            paranoid,
            errno,
        }
    }
}

impl Warning {
    /// What went wrong.
    pub fn reason(&self) -> String {
        match self {
            Warning::PerfRefused {
                detail, paranoid, ..
            } => match paranoid {
                Some(p) => {
                    format!("perf counters refused ({detail}; kernel.perf_event_paranoid = {p})")
                }
                None => format!("perf counters refused ({detail})"),
            },
            Warning::TracepointsUnavailable { detail, .. } => {
                format!("syscall tracepoints unavailable ({detail})")
            }
            Warning::TracepointsMissing(list) => {
                // Group the names by reason: "read, write (not in tracefs); splice (EINVAL)".
                let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
                let list = list.iter().map(|(n, why)| (n.name(), why));
                for (name, why) in list {
                    match groups.iter_mut().find(|(w, _)| w == why) {
                        Some((_, names)) => names.push(name),
                        None => groups.push((why, vec![name])),
                    }
                }
                let text: Vec<String> = groups
                    .iter()
                    .map(|(why, names)| format!("{} ({why})", names.join(", ")))
                    .collect();
                format!(
                    "syscalls that cannot be counted one by one: {}",
                    text.join("; ")
                )
            }
            Warning::ProfileUnavailable { reason, .. } => {
                format!("no CPU profile ({reason})")
            }
        }
    }

    /// What copylab does about it.
    fn consequence(&self) -> &'static str {
        match self {
            Warning::PerfRefused { .. } => {
                "syscalls are self-counted by the methods and totals show n/a; CPU, context switches and faults come from getrusage"
            }
            Warning::TracepointsUnavailable { .. } => {
                "syscalls are self-counted by the methods and totals show n/a"
            }
            Warning::TracepointsMissing(_) => {
                "their counts show n/a (the total still includes them)"
            }
            Warning::ProfileUnavailable { .. } => {
                "the measured copies (copy ms per GiB) and where the CPU went show n/a; the JSON profile is null"
            }
        }
    }

    /// How the user can fix it.
    pub fn fix(&self) -> &'static str {
        match self {
            Warning::PerfRefused { errno, .. }
                if *errno == libc::EPERM || *errno == libc::ENOSYS =>
            {
                "allow perf_event_open (a container's seccomp profile blocks it: run with --cap-add PERFMON or a profile that permits it), then run as root"
            }
            Warning::PerfRefused { .. } => {
                concat!(
                    "run as root, or `sudo sysctl kernel.perf_event_paranoid=-1`, or ",
                    "`sudo setcap cap_perfmon+ep $(command -v copylab)` (syscall tracepoints also need a readable tracefs)"
                )
            }
            Warning::TracepointsUnavailable {
                permission: true, ..
            } => {
                "run as root, or make tracefs readable: `sudo mount -o remount,mode=755 /sys/kernel/tracing`"
            }
            Warning::TracepointsUnavailable { .. } => {
                "run as root, or `sudo mount -t tracefs nodev /sys/kernel/tracing` (the kernel needs CONFIG_FTRACE_SYSCALLS)"
            }
            Warning::TracepointsMissing(_) => {
                "nothing to do on this kernel; the other syscalls are counted"
            }
            Warning::ProfileUnavailable { fix, .. } => fix,
        }
    }

    /// One line for when the user insisted on perf and it is not there.
    pub fn as_error(&self) -> String {
        format!("{}. Fix: {}", self.reason(), self.fix())
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}. Fix: {}",
            self.reason(),
            self.consequence(),
            self.fix()
        )
    }
}
