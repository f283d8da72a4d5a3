//! `copylab sweep`: compare across file sizes (and read-write buffer sizes), to show how each
//! path scales — where sendfile and splice stop mattering (small files) and where they win.

use anyhow::Result;

use crate::compare::{self, CompareOptions};
use crate::method::MethodKind;
use crate::results::{
    CpuSource, Machine, MethodResult, Point, SCHEMA, Series, SeriesPoint, SweepReport,
};
use crate::size::fmt_bytes;

/// Everything `sweep` needs, already validated.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub sizes: Vec<u64>,
    /// Read-write buffer sizes; the first is used by every method, the others by read-write only.
    pub buffers: Vec<usize>,
    /// The compare settings shared by every point (its file, size and buffer are set per point).
    pub base: CompareOptions,
}

/// The points as series, one per path (and for read-write, per buffer when several `buffers`
/// were swept), each holding its figures at every size.
fn series(points: &[Point], buffers: &[usize]) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for p in points {
        for m in &p.report.methods {
            let sender = if buffers.len() > 1 && m.method == MethodKind::ReadWrite {
                format!("read-write@{}", fmt_bytes(p.buffer_bytes))
            } else {
                m.method.name().to_string()
            };
            let name = crate::results::pair_label(&sender, m.receiver_path);
            let sp = series_point(p.file_bytes, m);
            match out.iter_mut().find(|s| s.name == name) {
                Some(s) => s.points.push(sp),
                None => out.push(Series {
                    name,
                    method: m.method,
                    receiver_path: m.receiver_path,
                    buffer_bytes: p.buffer_bytes,
                    points: vec![sp],
                }),
            }
        }
    }
    out
}

/// One path's median figures at a file of `file_bytes`, per MiB and per GiB.
fn series_point(file_bytes: u64, m: &MethodResult) -> SeriesPoint {
    let mib = crate::size::mib(file_bytes);
    let gib = crate::size::gib(file_bytes);
    let c = &m.median.cost;
    SeriesPoint {
        file_bytes,
        throughput_mib_s: m.median.throughput_mib_s,
        syscalls_per_mib: c
            .syscalls
            .total
            .filter(|_| mib > 0.0)
            .map(|t| t as f64 / mib),
        cpu_ns_per_gib: (gib > 0.0)
            .then(|| c.cpu.task_clock_ns.unwrap_or(c.cpu.user_ns + c.cpu.sys_ns) as f64 / gib),
        cpu_source: if c.cpu.task_clock_ns.is_some() {
            CpuSource::TaskClock
        } else {
            CpuSource::Getrusage
        },
        io_workers_cpu_ns_per_gib: c
            .io_workers
            .filter(|_| gib > 0.0)
            .map(|w| w.cpu_ns as f64 / gib),
        receiver_cpu_ns_per_gib: m
            .median
            .receiver
            .as_ref()
            .filter(|_| gib > 0.0)
            .map(|r| (r.cpu.user_ns + r.cpu.sys_ns) as f64 / gib),
    }
}

/// The sweep's report of `points`, swept over `buffers`.
fn report(points: Vec<Point>, buffers: &[usize]) -> SweepReport {
    SweepReport {
        schema: SCHEMA,
        kind: "sweep",
        machine: Machine::this(),
        series: series(&points, buffers),
        points,
    }
}

/// Run every point, handing the results so far to `update` after each.
pub fn run(
    opts: &SweepOptions,
    update: &mut dyn FnMut(&SweepReport) -> Result<()>,
) -> Result<SweepReport> {
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
            update(&report(points.clone(), &opts.buffers))?;
        }
    }
    Ok(report(points, &opts.buffers))
}
