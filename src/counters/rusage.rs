//! `getrusage(RUSAGE_THREAD)` deltas: CPU time, context switches and page faults of the calling
//! thread. Available to every user on every Linux: the fallback, and a cross-check of perf.

use nix::sys::resource::{Usage, UsageWho, getrusage};

use super::{CounterSource, Reading};

/// Thread resource usage at `start`, subtracted at `stop`.
#[derive(Default)]
pub struct Rusage {
    before: Option<Usage>,
}

/// A `timeval` (getrusage's CPU times) in ns.
pub fn tv_ns(tv: nix::sys::time::TimeVal) -> u64 {
    (tv.tv_sec() as u64).saturating_mul(1_000_000_000) + (tv.tv_usec() as u64) * 1000
}

impl CounterSource for Rusage {
    fn start(&mut self) -> anyhow::Result<()> {
        self.before = Some(getrusage(UsageWho::RUSAGE_THREAD)?);
        Ok(())
    }

    fn stop(&mut self, into: &mut Reading) -> anyhow::Result<()> {
        let after = getrusage(UsageWho::RUSAGE_THREAD)?;
        let Some(b) = self.before.take() else {
            anyhow::bail!("rusage counter stopped before it was started");
        };
        let d = |a: i64, b: i64| a.saturating_sub(b).max(0) as u64;
        into.user_ns = tv_ns(after.user_time()).saturating_sub(tv_ns(b.user_time()));
        into.sys_ns = tv_ns(after.system_time()).saturating_sub(tv_ns(b.system_time()));
        into.voluntary_cs = d(
            after.voluntary_context_switches(),
            b.voluntary_context_switches(),
        );
        into.involuntary_cs = d(
            after.involuntary_context_switches(),
            b.involuntary_context_switches(),
        );
        into.minor_faults = d(after.minor_page_faults(), b.minor_page_faults());
        into.major_faults = d(after.major_page_faults(), b.major_page_faults());
        Ok(())
    }
}
