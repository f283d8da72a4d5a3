//! Where the measured threads run: the CPUs this process may use, the choice of one CPU for the
//! serving thread and one for the receiver, and pinning the calling thread to its CPU.
//!
//! On a small VM, where the two threads of a transfer land is most of the run-to-run noise (the
//! same sendfile/read-write ratio swung from 0.85 to 1.56 unpinned, and stayed within 0.81–0.87
//! pinned), so compare pins both by default: two different CPUs when the process may use two or
//! more, else the one it has.

use anyhow::{Result, bail};
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;
use serde::Serialize;

/// What the user asked for with `--cpus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cpus {
    /// Two different allowed CPUs (the first two), or the only one.
    Auto,
    /// No pinning: the scheduler decides (`--cpus any`).
    Any,
    /// `--cpus S,R`: the serving thread on S, the receiver on R (S may equal R).
    Pair { serving: u32, receiver: u32 },
}

/// Where the two threads were pinned (JSON `placement`); null = not pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// CPU the serving thread was pinned to, or null.
    pub serving_cpu: Option<u32>,
    /// CPU the receiver thread was pinned to, or null.
    pub receiver_cpu: Option<u32>,
}

/// `--cpus` as clap parses it: `S,R` or `any`.
pub fn parse_cpus(text: &str) -> Result<Cpus, String> {
    if text.eq_ignore_ascii_case("any") {
        return Ok(Cpus::Any);
    }
    let cpu = |t: &str| {
        t.trim()
            .parse::<u32>()
            .map_err(|_| format!("'{t}' is not a CPU number"))
    };
    match text.split_once(',') {
        Some((s, r)) => Ok(Cpus::Pair {
            serving: cpu(s)?,
            receiver: cpu(r)?,
        }),
        None => Err(format!(
            "'{text}': give two CPUs, serving and receiver (e.g. 0,1; 0,0 for one CPU), or any"
        )),
    }
}

/// A list of CPUs (serve's `--cpus`), in order, no repeats.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuList(pub Vec<u32>);

/// A CPU list as clap parses serve's `--cpus`: `0`, `0,1`, `0-3`, `0,2-3`.
pub fn parse_cpu_list(text: &str) -> Result<CpuList, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim) {
        let num = |t: &str| {
            t.parse::<u32>()
                .map_err(|_| format!("'{t}' is not a CPU number (e.g. 0, 0,1 or 0-3)"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("'{part}': the range runs backwards"));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(CpuList(out))
}

/// The CPUs this process may run on, in order.
pub fn allowed() -> Vec<u32> {
    match sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .map(|c| c as u32)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Turn the request into CPUs, refusing CPUs the process may not use.
pub fn resolve(cpus: Cpus, flag: &str) -> Result<Placement> {
    Ok(match cpus {
        Cpus::Any => Placement {
            serving_cpu: None,
            receiver_cpu: None,
        },
        Cpus::Pair { serving, receiver } => {
            check_allowed(
                &[serving, receiver],
                flag,
                "; pick from those, or use --cpus any",
            )?;
            Placement {
                serving_cpu: Some(serving),
                receiver_cpu: Some(receiver),
            }
        }
        Cpus::Auto => match allowed().as_slice() {
            [] => Placement {
                serving_cpu: None,
                receiver_cpu: None,
            },
            [one] => Placement {
                serving_cpu: Some(*one),
                receiver_cpu: Some(*one),
            },
            [s, r, ..] => Placement {
                serving_cpu: Some(*s),
                receiver_cpu: Some(*r),
            },
        },
    })
}

/// Check a CPU list (serve's workers) against the CPUs this process may use.
pub fn check_list(cpus: &[u32], flag: &str) -> Result<()> {
    check_allowed(cpus, flag, "")
}

/// One error line naming `flag`, the first CPU of `cpus` this process may not use and the ones
/// it may, then `hint`.
fn check_allowed(cpus: &[u32], flag: &str, hint: &str) -> Result<()> {
    let allowed = allowed();
    if let Some(c) = cpus.iter().find(|c| !allowed.contains(c)) {
        bail!(
            "{flag}: CPU {c} is not one this process may use (allowed: {}){hint}",
            list(&allowed)
        );
    }
    Ok(())
}

/// Pin the calling thread (only it: Linux affinity is per thread) to `cpus`; nothing for none.
pub fn pin_current(cpus: &[u32]) -> Result<()> {
    if cpus.is_empty() {
        return Ok(());
    }
    let mut set = CpuSet::new();
    for &c in cpus {
        set.set(c as usize)?;
    }
    sched_setaffinity(Pid::from_raw(0), &set)
        .map_err(|e| anyhow::anyhow!("cannot pin a thread to CPU {}: {}", list(cpus), e.desc()))
}

/// Time stolen from `cpus` by the hypervisor so far (/proc/stat `steal`, in ns; all CPUs when
/// `cpus` is empty), or None where /proc/stat has no steal column.
pub fn steal_ns(cpus: &[u32]) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    // SAFETY: sysconf has no memory effects; _SC_CLK_TCK is always defined on Linux.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    let mut ticks = 0u64;
    let mut seen = false;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some(name) = f.next() else { continue };
        let wanted = if cpus.is_empty() {
            name == "cpu"
        } else {
            name.strip_prefix("cpu")
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| cpus.contains(&n))
        };
        if !wanted {
            continue;
        }
        // user nice system idle iowait irq softirq steal
        ticks += f.nth(7)?.parse::<u64>().ok()?;
        seen = true;
    }
    seen.then(|| ticks * (1_000_000_000 / hz))
}

/// `0-3,5` style.
pub fn list(cpus: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    if out.is_empty() {
        "none".into()
    } else {
        out.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_parse() {
        assert_eq!(parse_cpus("any"), Ok(Cpus::Any));
        assert_eq!(
            parse_cpus("0,1"),
            Ok(Cpus::Pair {
                serving: 0,
                receiver: 1
            })
        );
        assert!(parse_cpus("0").is_err());
        assert!(parse_cpus("a,1").is_err());
        assert_eq!(parse_cpu_list("0,2-3,2"), Ok(CpuList(vec![0, 2, 3])));
        assert!(parse_cpu_list("3-1").is_err());
        assert_eq!(list(&[0, 1, 2, 5]), "0-2,5");
    }
}
