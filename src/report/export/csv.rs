//! `--export-csv`: one row per measured run, for a spreadsheet. Empty cells mean "not
//! measured" or "not this path" (null in the JSON), never zero.

use super::Exporter;
use crate::counters::profile::Category;
use crate::results::SweepReport;
use crate::results::{Report, Run};
use crate::syscall::Syscall;

pub struct Csv;

fn opt(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

/// ns per GiB as ms, six decimals ("" when not measured).
fn ms_f(ns_per_gib: Option<f64>) -> String {
    ns_per_gib
        .map(|v| format!("{:.6}", v / 1e6))
        .unwrap_or_default()
}

/// `ns` of a run of `bytes` as ms per GiB ("" when not measured or nothing moved).
fn ms_per_gib(ns: Option<u64>, bytes: u64) -> String {
    ms_f(
        ns.filter(|_| bytes > 0)
            .map(|n| n as f64 / crate::size::gib(bytes)),
    )
}

fn header(lead: &[&str]) -> String {
    let mut cols: Vec<String> = lead.iter().map(|s| s.to_string()).collect();
    cols.extend(
        [
            "method",
            "run",
            "bytes",
            "wall_ns",
            "throughput_mib_s",
            "verified",
            "syscall_source",
            "syscalls_total",
        ]
        .map(String::from),
    );
    cols.extend(Syscall::COUNTED.iter().map(|n| format!("syscalls_{n}")));
    cols.extend(
        [
            "voluntary_cs",
            "involuntary_cs",
            "user_ns",
            "sys_ns",
            "minor_faults",
            "major_faults",
            "task_clock_ns",
            "zerocopy_sends",
            "zerocopy_completed",
            "zerocopy_copied",
            "zerocopy_plain_fallback",
            "io_workers_cpu_ns",
            "serving_cpu",
            "receiver_cpu",
            "receiver_user_ns",
            "receiver_sys_ns",
            "serving_copy_ns",
            "receiver_copy_ns",
            "steal_ns",
            "serving_copy_ms_per_gib",
            "receiver_copy_ms_per_gib",
            "sys_ms_per_gib",
            "e2e_ms_per_gib",
        ]
        .map(String::from),
    );
    cols.join(",") + "\n"
}

fn row(lead: &[String], method: &str, i: usize, r: &Run) -> String {
    let c = &r.cost;
    let mut cols: Vec<String> = lead.to_vec();
    cols.extend([
        method.to_string(),
        (i + 1).to_string(),
        r.bytes.to_string(),
        opt(r.wall_ns),
        r.throughput_mib_s
            .map(|t| format!("{t:.6}"))
            .unwrap_or_default(),
        r.verified.to_string(),
        match c.syscalls.source {
            crate::counters::SyscallSource::Perf => "perf".into(),
            crate::counters::SyscallSource::SelfCounted => "self-counted".into(),
        },
        opt(c.syscalls.total),
    ]);
    for n in Syscall::COUNTED {
        cols.push(opt(c.syscalls.by_name.get(&n).copied().flatten()));
    }
    cols.extend([
        c.context_switches.voluntary.to_string(),
        c.context_switches.involuntary.to_string(),
        c.cpu.user_ns.to_string(),
        c.cpu.sys_ns.to_string(),
        c.page_faults.minor.to_string(),
        c.page_faults.major.to_string(),
        opt(c.cpu.task_clock_ns),
        opt(c.zerocopy.map(|z| z.sends)),
        opt(c.zerocopy.map(|z| z.completed)),
        opt(c.zerocopy.map(|z| z.copied)),
        opt(c.zerocopy.map(|z| z.plain_fallback)),
        opt(c.io_workers.map(|w| w.cpu_ns)),
        opt(r.placement.serving_cpu.map(u64::from)),
        opt(r.placement.receiver_cpu.map(u64::from)),
        opt(r.receiver.as_ref().map(|rc| rc.cpu.user_ns)),
        opt(r.receiver.as_ref().map(|rc| rc.cpu.sys_ns)),
        opt(r.profile.as_ref().map(|p| p.serving.ns_of(Category::Copy))),
        opt(r.profile.as_ref().map(|p| p.receiver.ns_of(Category::Copy))),
        opt(r.steal_ns),
        ms_per_gib(
            r.profile.as_ref().map(|p| p.serving.ns_of(Category::Copy)),
            r.bytes,
        ),
        ms_per_gib(
            r.profile.as_ref().map(|p| p.receiver.ns_of(Category::Copy)),
            r.bytes,
        ),
        ms_f(r.sys_ns_per_gib()),
        ms_f(r.e2e_ns_per_gib()),
    ]);
    cols.join(",") + "\n"
}

fn rows(out: &mut String, lead: &[String], r: &Report) {
    for m in &r.methods {
        let name = m.label();
        for (i, run) in m.runs.iter().enumerate() {
            out.push_str(&row(lead, &name, i, run));
        }
    }
}

impl Exporter for Csv {
    fn flag(&self) -> &'static str {
        "--export-csv"
    }

    fn compare(&self, r: &Report) -> String {
        let mut out = header(&[]);
        rows(&mut out, &[], r);
        out
    }

    fn sweep(&self, s: &SweepReport) -> String {
        let mut out = header(&["file_bytes", "buffer_bytes"]);
        for p in &s.points {
            rows(
                &mut out,
                &[p.file_bytes.to_string(), p.buffer_bytes.to_string()],
                &p.report,
            );
        }
        out
    }
}
