//! Everything copylab wants a user to know about the measurement, each saying how to fix it.

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
    /// This kernel has no tracepoint for one syscall: its column shows n/a.
    TracepointMissing(&'static str),
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

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::PerfRefused {
                detail,
                paranoid,
                errno,
            } => {
                write!(f, "perf counters refused ({detail}")?;
                if let Some(p) = paranoid {
                    write!(f, "; kernel.perf_event_paranoid = {p}")?;
                }
                write!(
                    f,
                    "): syscalls are self-counted by the methods and totals show n/a; CPU, context switches and faults come from getrusage. "
                )?;
                if *errno == libc::EPERM || *errno == libc::ENOSYS {
                    write!(
                        f,
                        "Fix: allow perf_event_open (a container's seccomp profile blocks it: run with --cap-add PERFMON or a profile that permits it), then run as root"
                    )
                } else {
                    write!(
                        f,
                        "Fix: run as root, or `sudo sysctl kernel.perf_event_paranoid=-1`, or `sudo setcap cap_perfmon+ep $(command -v copylab)` (syscall tracepoints also need a readable tracefs)"
                    )
                }
            }
            Warning::TracepointsUnavailable { detail, permission } => {
                write!(
                    f,
                    "syscall tracepoints unavailable ({detail}): syscalls are self-counted by the methods and totals show n/a. "
                )?;
                if *permission {
                    write!(
                        f,
                        "Fix: run as root, or make tracefs readable: `sudo mount -o remount,mode=755 /sys/kernel/tracing`"
                    )
                } else {
                    write!(
                        f,
                        "Fix: run as root, or `sudo mount -t tracefs nodev /sys/kernel/tracing` (kernel needs CONFIG_FTRACE_SYSCALLS)"
                    )
                }
            }
            Warning::TracepointMissing(name) => write!(
                f,
                "this kernel has no tracepoint syscalls:sys_enter_{name}: its count shows n/a (the total still includes it)"
            ),
        }
    }
}
