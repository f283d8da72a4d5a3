//! sweep's output for people: throughput against file size as a chart, then a table of
//! syscalls per MiB and CPU per GiB for every series and size.

use std::fmt::Write as _;

use super::Screen;
use super::bar_of;
use super::fit::{Align, Column, Paint, fit};
use crate::results::{Report, Series, SeriesPoint, SweepReport};
use crate::size::{fmt_bytes, fmt_mib_s};

/// Width of the chart's bars.
const BAR: usize = 12;

/// The chart (throughput against size, one bar per series) and the table.
pub fn render(s: &SweepReport, screen: &Screen) -> String {
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
    out.push_str(&screen.wrap(
        &format!("copylab sweep · throughput (MiB/s, median) against file size; {scale}"),
        "",
        2,
    ));
    let mut sizes: Vec<u64> = s.points.iter().map(|p| p.file_bytes).collect();
    sizes.dedup();
    for size in &sizes {
        let _ = writeln!(out, "{}", fmt_bytes(*size));
        for (x, p) in at_size(s, *size) {
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
    out.push('\n');
    let fitted = fit(screen, columns(s, &sizes).into());
    let _ = writeln!(out, "{}", fitted.table);
    if let Some(note) = fitted.left_out(screen.width) {
        out.push_str(&screen.wrap(&note, "", 2));
    }
    if let Some(first) = s.points.first() {
        footer(&first.report, screen, &mut out);
    }
    if screen.unicode() {
        out
    } else {
        super::text::to_ascii(&out)
    }
}

/// Every series' point at `size`, in the series' order.
fn at_size(s: &SweepReport, size: u64) -> impl Iterator<Item = (&Series, &SeriesPoint)> {
    s.series.iter().filter_map(move |x| {
        x.points
            .iter()
            .find(|p| p.file_bytes == size)
            .map(|p| (x, p))
    })
}

/// The table's columns: one row per size and series.
fn columns(s: &SweepReport, sizes: &[u64]) -> [Column; 5] {
    let mut cols = [
        Column::new("size", 9, Align::Right),
        Column::new("path", 9, Align::Left),
        Column::new("MiB/s", 3, Align::Right).paint(Paint::Figure),
        Column::new("syscalls per MiB", 5, Align::Right),
        Column::new("CPU ms per GiB", 7, Align::Right),
    ];
    for size in sizes {
        for (x, p) in at_size(s, *size) {
            let cells = [
                fmt_bytes(*size),
                x.name.clone(),
                fmt_mib_s(p.throughput_mib_s),
                p.syscalls_per_mib
                    .map_or("n/a".into(), |v| format!("{v:.2}")),
                match (p.cpu_ns_per_gib, p.io_workers_cpu_ns_per_gib) {
                    (None, _) => "n/a (empty file)".into(),
                    (Some(c), Some(w)) => {
                        format!("{:.0} ({})\n+ io-wq {:.0}", c / 1e6, p.cpu_source, w / 1e6)
                    }
                    (Some(c), None) => format!("{:.0} ({})", c / 1e6, p.cpu_source),
                },
            ];
            for (c, cell) in cols.iter_mut().zip(cells) {
                c.cells.push(cell);
            }
        }
    }
    cols
}

/// How the points were measured (from the first point's report: every point's is the same),
/// and its warnings.
fn footer(first: &Report, screen: &Screen, out: &mut String) {
    out.push_str(&screen.wrap(
        &format!(
            "counters: {} · median of {} runs per point after {} warm-up · kernel {}",
            first.counter_source, first.options.runs, first.options.warmup, first.kernel
        ),
        "",
        2,
    ));
    if let Some(rate) = first.link_rate_bytes_per_s {
        out.push_str(&screen.wrap(
            &format!(
                "link paced to {} ({} MiB/s) with SO_MAX_PACING_RATE on the serving socket",
                crate::size::fmt_rate(rate),
                fmt_mib_s(Some(crate::size::mib(rate)))
            ),
            "",
            2,
        ));
    }
    for w in &first.warnings {
        out.push_str(&screen.wrap(&format!("warning: {w}"), "", 2));
    }
}
