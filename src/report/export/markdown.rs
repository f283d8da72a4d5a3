//! `--export-markdown`: the medians as a Markdown table, for a README, an issue or slides.

use std::fmt::Write as _;

use super::Exporter;
use crate::results::Report;
use crate::results::SweepReport;
use crate::size::fmt_bytes;

pub struct Markdown;

fn opt(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "n/a".into())
}

fn table(out: &mut String, r: &Report) {
    let _ = writeln!(
        out,
        "| method | MiB/s (median) | wall ms | syscalls | data syscalls | ctx sw vol/invol | CPU ms user/sys | page faults minor/major | textbook CPU+DMA copies, transitions |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---|---:|---:|---:|---|");
    for m in &r.methods {
        let med = &m.median;
        let c = &med.cost;
        let named: Vec<String> = c
            .syscalls
            .by_name
            .iter()
            .filter_map(|(k, v)| v.filter(|n| *n > 0).map(|n| format!("{k} {n}")))
            .collect();
        let tb = &m.textbook;
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
        let mut cpu = format!(
            "{:.2} / {:.2}",
            c.cpu.user_ns as f64 / 1e6,
            c.cpu.sys_ns as f64 / 1e6
        );
        if let Some(w) = &c.io_workers {
            let _ = write!(cpu, " + io-wq {:.2}", w.cpu_ns as f64 / 1e6);
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} / {} | {} | {} / {} | {}+{}, {} |",
            m.label(),
            crate::size::fmt_mib_s(med.throughput_mib_s),
            med.wall_ns
                .map_or("n/a".into(), |w| format!("{:.2}", w as f64 / 1e6)),
            opt(c.syscalls.total),
            data,
            c.context_switches.voluntary,
            c.context_switches.involuntary,
            cpu,
            c.page_faults.minor,
            c.page_faults.major,
            tb.cpu_copies_text(),
            tb.dma_copies,
            tb.transitions,
        );
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
