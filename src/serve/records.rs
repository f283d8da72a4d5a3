//! What finished connections leave behind: a fresh record for each connection, the few figures
//! the summary needs of it ([`Brief`]), and the summary's statistics over them.

use crate::method::MethodKind;
use crate::results::WallEnds;
use crate::results::serve::{ConnRecord, Outcome, Summary};

/// A record for connection `id` before anything happened on it.
pub(super) fn new_record(id: u64, peer: &str, method: MethodKind) -> ConnRecord {
    ConnRecord {
        event: "connection",
        id,
        peer: peer.to_string(),
        method,
        http_status: None,
        bytes: 0,
        expected: 0,
        range_start: None,
        range_end: None,
        wall_ns: 0,
        wall_ends: WallEnds::LastSend,
        throughput_mib_s: 0.0,
        outcome: Outcome::Complete,
        detail: String::new(),
        cost: None,
    }
}

/// The figures of one finished connection that the summary uses.
#[derive(Debug, Clone, Copy)]
pub(super) struct Brief {
    outcome: Outcome,
    bytes: u64,
    throughput_mib_s: f64,
    /// Syscalls (total), if counted and there was a transfer.
    syscalls: Option<u64>,
    /// (voluntary, involuntary, sys_ns, user_ns), when the transfer was measured.
    cost: Option<(u64, u64, u64, u64)>,
}

impl Brief {
    pub fn of(r: &ConnRecord) -> Brief {
        Brief {
            outcome: r.outcome,
            bytes: r.bytes,
            throughput_mib_s: r.throughput_mib_s,
            syscalls: r.cost.as_ref().and_then(|c| c.syscalls.total),
            cost: r.cost.as_ref().map(|c| {
                (
                    c.context_switches.voluntary,
                    c.context_switches.involuntary,
                    c.cpu.sys_ns,
                    c.cpu.user_ns,
                )
            }),
        }
    }
}

/// Counts by outcome; medians and percentiles of the complete transfers' own MiB/s; syscalls
/// per MiB as one ratio of the totals.
pub(super) fn summarize(recs: &[Brief], method: MethodKind) -> Summary {
    let count = |o: Outcome| recs.iter().filter(|r| r.outcome == o).count();
    let complete: Vec<&Brief> = recs
        .iter()
        .filter(|r| r.outcome == Outcome::Complete && r.bytes > 0)
        .collect();
    let mut tput: Vec<f64> = complete.iter().map(|r| r.throughput_mib_s).collect();
    tput.sort_by(f64::total_cmp);
    let costs: Vec<(u64, u64, u64, u64)> = recs.iter().filter_map(|r| r.cost).collect();
    // Totals over the complete transfers that were counted, then one ratio.
    let (calls, bytes) = complete
        .iter()
        .filter_map(|r| Some((r.syscalls?, r.bytes)))
        .fold((0u64, 0u64), |(c, b), (rc, rb)| (c + rc, b + rb));
    let syscalls_per_mib = (bytes > 0).then(|| calls as f64 / crate::size::mib(bytes));
    Summary {
        event: "summary",
        method,
        connections: recs.len(),
        complete: count(Outcome::Complete),
        client_closed: count(Outcome::ClientClosed),
        send_timeout: count(Outcome::SendTimeout),
        file_changed: count(Outcome::FileChanged),
        errors: count(Outcome::Error),
        stopped: count(Outcome::Stopped),
        rejected: count(Outcome::Rejected),
        bytes: recs.iter().map(|r| r.bytes).sum(),
        median_mib_s: crate::stats::median_f64(tput.clone()),
        p5_mib_s: (!tput.is_empty()).then(|| crate::stats::percentile(&tput, 5.0)),
        p95_mib_s: (!tput.is_empty()).then(|| crate::stats::percentile(&tput, 95.0)),
        syscalls_per_mib,
        median_voluntary_cs: crate::stats::median_of(costs.iter().map(|c| c.0).collect()),
        median_involuntary_cs: crate::stats::median_of(costs.iter().map(|c| c.1).collect()),
        median_sys_ns: crate::stats::median_of(costs.iter().map(|c| c.2).collect()),
        total_sys_ns: costs.iter().map(|c| c.2).sum(),
        total_user_ns: costs.iter().map(|c| c.3).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brief(bytes: u64, syscalls: u64) -> Brief {
        Brief {
            outcome: Outcome::Complete,
            bytes,
            throughput_mib_s: 1.0,
            syscalls: Some(syscalls),
            cost: None,
        }
    }

    #[test]
    fn syscalls_per_mib_is_a_ratio_of_the_totals() {
        // Five 1-byte ranges (2 syscalls each) and one 4,000,000-byte file (2 syscalls): the
        // median of per-connection ratios said 2,097,152; the totals say 12 / 3.81 MiB.
        let mut recs: Vec<Brief> = (0..5).map(|_| brief(1, 2)).collect();
        recs.push(brief(4_000_000, 2));
        let s = summarize(&recs, MethodKind::Sendfile);
        let want = 12.0 / crate::size::mib(4_000_005);
        let got = s.syscalls_per_mib.expect("counted");
        assert!((got - want).abs() < 1e-9, "{got} != {want}");
    }
}
