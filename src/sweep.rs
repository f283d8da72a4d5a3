//! `copylab sweep`: compare across file sizes (and read-write buffer sizes), to show how each
//! path scales — where sendfile and splice stop mattering (small files) and where they win.

use std::fmt::Write as _;

use anyhow::Result;

use crate::compare::{self, CompareOptions};
use crate::method::MethodKind;
use crate::report::{bar_of, new_table};
use crate::results::{Machine, Point, SCHEMA, Series, SeriesPoint, SweepReport};
use crate::size::{fmt_bytes, fmt_mib_s};

/// Everything `sweep` needs, already validated.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub sizes: Vec<u64>,
    /// Read-write buffer sizes; the first is used by every method, the others by read-write only.
    pub buffers: Vec<usize>,
    /// The compare settings shared by every point (its file, size and buffer are set per point).
    pub base: CompareOptions,
}

fn series(points: &[Point], several_buffers: bool) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for p in points {
        for m in &p.report.methods {
            let name = if several_buffers && m.method == MethodKind::ReadWrite {
                format!("read-write@{}", fmt_bytes(p.buffer_bytes))
            } else {
                m.method.name().to_string()
            };
            let mib = crate::size::mib(p.file_bytes);
            let gib = crate::size::gib(p.file_bytes);
            let c = &m.median.cost;
            let sp = SeriesPoint {
                file_bytes: p.file_bytes,
                throughput_mib_s: m.median.throughput_mib_s,
                syscalls_per_mib: c
                    .syscalls
                    .total
                    .filter(|_| mib > 0.0)
                    .map(|t| t as f64 / mib),
                cpu_ns_per_gib: (gib > 0.0).then(|| {
                    c.cpu.task_clock_ns.unwrap_or(c.cpu.user_ns + c.cpu.sys_ns) as f64 / gib
                }),
                cpu_source: if c.cpu.task_clock_ns.is_some() {
                    "task-clock"
                } else {
                    "getrusage"
                },
                io_workers_cpu_ns_per_gib: c
                    .io_workers
                    .filter(|_| gib > 0.0)
                    .map(|w| w.cpu_ns as f64 / gib),
            };
            match out.iter_mut().find(|s| s.name == name) {
                Some(s) => s.points.push(sp),
                None => out.push(Series {
                    name,
                    method: m.method,
                    buffer_bytes: p.buffer_bytes,
                    points: vec![sp],
                }),
            }
        }
    }
    out
}

fn report(points: Vec<Point>, several_buffers: bool) -> SweepReport {
    SweepReport {
        schema: SCHEMA,
        kind: "sweep",
        machine: Machine::this(),
        series: series(&points, several_buffers),
        points,
    }
}

/// Run every point, handing the results so far to `update` after each.
pub fn run(
    opts: &SweepOptions,
    update: &mut dyn FnMut(&SweepReport) -> Result<()>,
) -> Result<SweepReport> {
    let several = opts.buffers.len() > 1;
    let mut points: Vec<Point> = Vec::new();
    for &size in &opts.sizes {
        for (i, &buffer) in opts.buffers.iter().enumerate() {
            let methods = if i == 0 {
                opts.base.methods.clone()
            } else if opts.base.methods.contains(&MethodKind::ReadWrite) {
                vec![MethodKind::ReadWrite]
            } else {
                continue;
            };
            let r = compare::run(&CompareOptions {
                file: None,
                size,
                methods,
                buffer,
                ..opts.base.clone()
            })?;
            points.push(Point {
                file_bytes: size,
                buffer_bytes: buffer as u64,
                report: r,
            });
            update(&report(points.clone(), several))?;
        }
    }
    Ok(report(points, several))
}

/// Width of the chart's bars.
const BAR: usize = 12;

/// The chart (throughput against size, one bar per series) and the table.
pub fn render(s: &SweepReport, color: bool) -> String {
    let mut out = String::new();
    let max = s
        .series
        .iter()
        .flat_map(|x| x.points.iter().filter_map(|p| p.throughput_mib_s))
        .fold(0.0, f64::max);
    let scale = if max > 0.0 {
        format!("bars scaled to {} MiB/s", fmt_mib_s(Some(max)))
    } else {
        "no bars: no size had bytes to time".into()
    };
    let _ = writeln!(
        out,
        "copylab sweep · throughput (MiB/s, median) against file size; {scale}"
    );
    let mut sizes: Vec<u64> = s.points.iter().map(|p| p.file_bytes).collect();
    sizes.dedup();
    for size in &sizes {
        let _ = writeln!(out, "{}", fmt_bytes(*size));
        for x in &s.series {
            if let Some(p) = x.points.iter().find(|p| p.file_bytes == *size) {
                let _ = writeln!(
                    out,
                    "  {:<22} {:<width$} {}",
                    x.name,
                    p.throughput_mib_s
                        .map_or(String::new(), |t| bar_of(t, max, BAR)),
                    fmt_mib_s(p.throughput_mib_s),
                    width = BAR + 1
                );
            }
        }
    }
    out.push('\n');
    let mut t = new_table(color);
    t.set_header(vec![
        "size",
        "path",
        "MiB/s",
        "syscalls per MiB",
        "CPU ms per GiB",
    ]);
    for size in &sizes {
        for x in &s.series {
            if let Some(p) = x.points.iter().find(|p| p.file_bytes == *size) {
                t.add_row(vec![
                    fmt_bytes(*size),
                    x.name.clone(),
                    fmt_mib_s(p.throughput_mib_s),
                    p.syscalls_per_mib
                        .map_or("n/a".into(), |v| format!("{v:.2}")),
                    match (p.cpu_ns_per_gib, p.io_workers_cpu_ns_per_gib) {
                        (None, _) => "n/a (empty file)".into(),
                        (Some(c), Some(w)) => {
                            format!("{:.0} ({}) + io-wq {:.0}", c / 1e6, p.cpu_source, w / 1e6)
                        }
                        (Some(c), None) => format!("{:.0} ({})", c / 1e6, p.cpu_source),
                    },
                ]);
            }
        }
    }
    let _ = writeln!(out, "{t}");
    if let Some(first) = s.points.first() {
        let _ = writeln!(
            out,
            "counters: {} · median of {} runs per point after {} warm-up · kernel {}",
            first.report.counter_source,
            first.report.options.runs,
            first.report.options.warmup,
            first.report.kernel
        );
        for w in &first.report.warnings {
            let _ = writeln!(out, "warning: {w}");
        }
    }
    out
}
