//! `--export-markdown`: the medians as a Markdown table, for a README, an issue or slides.

use std::fmt::Write as _;

use super::Exporter;
use crate::counters::profile::Category;
use crate::results::SweepReport;
use crate::results::{Cost, MethodResult, Report, Run};
use crate::size::fmt_bytes;

pub struct Markdown;

fn opt(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "n/a".into())
}

/// "a–b" of two figures, or "n/a".
fn range(lo: Option<f64>, hi: Option<f64>, fmt: fn(f64) -> String) -> String {
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!("{}–{}", fmt(lo), fmt(hi)),
        _ => "n/a".into(),
    }
}

/// ns per GiB as ms, as the tables print them.
fn ms(ns: f64) -> String {
    crate::size::fmt_ms(ns.max(0.0).round() as u64)
}

/// The lowest and highest of `metric` over a method's runs.
fn run_range(m: &crate::results::MethodResult, metric: fn(&Run) -> Option<f64>) -> String {
    let v: Option<Vec<f64>> = m.runs.iter().map(metric).collect();
    let v = v.unwrap_or_default();
    let lo = v
        .iter()
        .copied()
        .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.min(x))));
    let hi = v
        .iter()
        .copied()
        .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))));
    range(lo, hi, ms)
}

/// The pooled copy figure of one thread, as the table prints it ("n/a" on too few samples).
fn copy(p: &crate::counters::profile::Pooled) -> String {
    p.ns_per_gib(Category::Copy).map_or("n/a".into(), ms)
}

/// The data syscalls by name, and the zero-copy completions.
fn data_syscalls(c: &Cost) -> String {
    let named: Vec<String> = c
        .syscalls
        .by_name
        .iter()
        .filter_map(|(k, v)| v.filter(|n| *n > 0).map(|n| format!("{k} {n}")))
        .collect();
    let mut data = if named.is_empty() {
        "none".to_string()
    } else {
        named.join(" · ")
    };
    if let Some(z) = &c.zerocopy {
        let _ = write!(
            data,
            " · zero-copied {} of {} sends (kernel copied {})",
            z.zero_copied(),
            z.sends,
            z.copied
        );
    }
    data
}

/// user / sys CPU in ms, and the io_uring workers'.
fn cpu_text(c: &Cost) -> String {
    let mut cpu = format!(
        "{:.2} / {:.2}",
        c.cpu.user_ns as f64 / 1e6,
        c.cpu.sys_ns as f64 / 1e6
    );
    if let Some(w) = &c.io_workers {
        let _ = write!(cpu, " + io-wq {:.2}", w.cpu_ns as f64 / 1e6);
    }
    cpu
}

/// End to end CPU against read-write's (`base`), paired run by run.
fn vs_rw(m: &MethodResult, base: Option<&MethodResult>) -> String {
    match base {
        Some(b) if b.method == m.method => "1".to_string(),
        Some(b) if m.within_noise_of(b, Run::e2e_ns_per_gib) => "within noise".into(),
        Some(b) => m
            .ratio_to(b, Run::e2e_ns_per_gib)
            .map_or("n/a".into(), |rr| {
                format!("{:.2}× ({:.2}–{:.2})", rr.median, rr.min, rr.max)
            }),
        None => "n/a".into(),
    }
}

fn table(out: &mut String, r: &Report) {
    let _ = writeln!(
        out,
        "| method | MiB/s (median) | MiB/s min–max | copy ms/GiB serving / recv | CPU ms/GiB sys (min–max) | CPU ms/GiB end to end (min–max) | end to end vs read-write | wall ms | syscalls | data syscalls | ctx sw vol/invol | CPU ms user/sys | page faults minor/major | textbook CPU+DMA copies, transitions |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|"
    );
    let base = r.method(crate::method::MethodKind::ReadWrite);
    for m in &r.methods {
        let med = &m.median;
        let c = &med.cost;
        let tb = &m.textbook;
        let copies = m.profile.as_ref().map_or("n/a".into(), |p| {
            format!("{} / {}", copy(&p.serving), copy(&p.receiver))
        });
        let per_gib = |metric: fn(&Run) -> Option<f64>| {
            format!(
                "{} ({})",
                metric(med).map_or("n/a".into(), ms),
                run_range(m, metric)
            )
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} / {} | {}+{}, {} |",
            m.label(),
            crate::size::fmt_mib_s(med.throughput_mib_s),
            range(m.min.throughput_mib_s, m.max.throughput_mib_s, |v| {
                crate::size::fmt_mib_s(Some(v))
            }),
            copies,
            per_gib(Run::sys_ns_per_gib),
            per_gib(Run::e2e_ns_per_gib),
            vs_rw(m, base),
            med.wall_ns
                .map_or("n/a".into(), |w| format!("{:.2}", w as f64 / 1e6)),
            opt(c.syscalls.total),
            data_syscalls(c),
            c.context_switches.voluntary,
            c.context_switches.involuntary,
            cpu_text(c),
            c.page_faults.minor,
            c.page_faults.major,
            tb.cpu_copies_text(),
            tb.dma_copies,
            tb.transitions,
        );
    }
    let conclusion = crate::report::conclusion::lines(r, crate::report::text::Lang::En);
    if !conclusion.is_empty() {
        out.push('\n');
        for line in conclusion {
            let _ = writeln!(out, "{line}\n");
        }
    }
}

impl Exporter for Markdown {
    fn flag(&self) -> &'static str {
        "--export-markdown"
    }

    fn compare(&self, r: &Report) -> String {
        let mut out = format!(
            "copylab compare: {} over {}{}, cache {}, counters {}, median of {} runs (kernel {})\n\n",
            fmt_bytes(r.file.bytes),
            match r.transport {
                crate::transport::Transport::Tcp => "tcp 127.0.0.1",
                crate::transport::Transport::Unix => "a unix socket",
                crate::transport::Transport::Veth => "tcp across a veth pair (two namespaces)",
            },
            r.link_rate_bytes_per_s
                .map(|b| format!(" paced to {}", crate::size::fmt_rate(b)))
                .unwrap_or_default(),
            r.cache.state,
            r.counter_source,
            r.options.runs,
            r.kernel
        );
        table(&mut out, r);
        out
    }

    fn sweep(&self, s: &SweepReport) -> String {
        let mut out = String::from("copylab sweep\n\n");
        for p in &s.points {
            let _ = writeln!(
                out,
                "### {} (read-write buffer {})\n",
                fmt_bytes(p.file_bytes),
                fmt_bytes(p.buffer_bytes)
            );
            table(&mut out, &p.report);
            out.push('\n');
        }
        out
    }
}
