//! "Where the CPU went": each path's sampled CPU, both threads, as one bar per thread split by
//! category, and the one-line verdicts that set the measured copies beside the textbook's.

use std::fmt::Write as _;

use crate::counters::profile::{Category, ThreadProfile};
use crate::method::MethodKind;
use crate::results::{MethodResult, Report, Run};

/// Width of the longest bar, in cells.
const BAR_CELLS: usize = 48;

/// A serving thread whose copy time per GiB is below this share of read-write's made no CPU
/// copy worth the name (a few samples land in copy routines for the response head, the odd
/// page-fault path); said as "no CPU copy measured".
const NO_COPY_SHARE: f64 = 0.10;

/// The glyph, colour code and label of each category, in the order bars are drawn.
const LEGEND: [(Category, char, &str); 9] = [
    (Category::Copy, '█', "31"),
    (Category::Network, '▓', "34"),
    (Category::PageCache, '▒', "32"),
    (Category::Memory, '░', "33"),
    (Category::Scheduler, '≈', "35"),
    (Category::Softirq, '#', "36"),
    (Category::Syscall, '+', "37"),
    (Category::User, 'u', "90"),
    (Category::Other, '·', "90"),
];

/// ns of `cat` per GiB moved.
fn per_gib(p: &ThreadProfile, cat: Category, bytes: u64) -> f64 {
    p.ns_per_gib(cat, bytes)
}

fn total_per_gib(p: &ThreadProfile, bytes: u64) -> f64 {
    Category::ALL.iter().map(|&c| per_gib(p, c, bytes)).sum()
}

/// The table cell: "copy ms per GiB, serving | receiver", e.g. "0.8 | 61".
pub fn copy_cell(run: &Run) -> String {
    match &run.profile {
        Some(p) if run.bytes > 0 => format!(
            "{} | {}",
            ms(per_gib(&p.serving, Category::Copy, run.bytes)),
            ms(per_gib(&p.receiver, Category::Copy, run.bytes))
        ),
        Some(_) => "–".into(),
        None => "n/a".into(),
    }
}

/// One sentence per path: what the serving thread's samples say about its copies, beside what
/// the textbook says, and what the receiver paid.
pub fn verdicts(r: &Report, out: &mut String) {
    let base = r
        .method(MethodKind::ReadWrite)
        .and_then(|m| m.median.profile.as_ref().map(|p| (m, p)))
        .map(|(m, p)| per_gib(&p.serving, Category::Copy, m.median.bytes));
    let any = r.methods.iter().any(|m| m.median.profile.is_some());
    if !any || r.file.bytes == 0 {
        return;
    }
    let _ = writeln!(out, "copies, measured (cpu-clock samples on each thread):");
    for m in &r.methods {
        let Some(p) = &m.median.profile else { continue };
        let bytes = m.median.bytes;
        let copy = per_gib(&p.serving, Category::Copy, bytes);
        let none = match base {
            Some(b) if m.method != MethodKind::ReadWrite => b > 0.0 && copy < b * NO_COPY_SHARE,
            _ => false,
        };
        let copied_sends = m
            .median
            .cost
            .zerocopy
            .map_or(0, |z| z.copied)
            .min(m.median.cost.zerocopy.map_or(0, |z| z.completed));
        let serving = if none && copied_sends > 0 {
            // The completions say the kernel copied; the samples find no copy routine in the
            // thread's own code, so the copy was made on the way to the receiver (softirq work
            // counts as softirq, not as the thread's copy).
            format!(
                "serving thread: no copy in its own code ({} ms/GiB), yet its completions say the kernel copied {} sends on the way to the receiver",
                ms(copy),
                copied_sends
            )
        } else if none {
            format!(
                "serving thread: no CPU copy measured ({} ms/GiB, {:.0}% of its samples)",
                ms(copy),
                p.serving.share(Category::Copy) * 100.0
            )
        } else {
            format!(
                "serving thread: copies {} ms/GiB ({:.0}% of its samples)",
                ms(copy),
                p.serving.share(Category::Copy) * 100.0
            )
        };
        let _ = writeln!(
            out,
            "  {:<16} {serving} — textbook: {} CPU; receiver: copies {} ms/GiB ({:.0}%), the copy the textbook leaves out",
            m.method.name(),
            m.textbook.cpu_copies_text(),
            ms(per_gib(&p.receiver, Category::Copy, bytes)),
            p.receiver.share(Category::Copy) * 100.0,
        );
    }
}

/// The bars: one per thread and path, scaled to the costliest thread of the report.
pub fn view(r: &Report, color: bool, out: &mut String) {
    let rows: Vec<(&MethodResult, &ThreadProfile, &ThreadProfile)> = r
        .methods
        .iter()
        .filter_map(|m| {
            m.median
                .profile
                .as_ref()
                .map(|p| (m, &p.serving, &p.receiver))
        })
        .collect();
    if rows.is_empty() || r.file.bytes == 0 {
        return;
    }
    let max = rows
        .iter()
        .flat_map(|(m, s, rc)| {
            [
                total_per_gib(s, m.median.bytes),
                total_per_gib(rc, m.median.bytes),
            ]
        })
        .fold(0.0, f64::max);
    if max <= 0.0 {
        return;
    }
    let period = rows[0].1.period_ns;
    let _ = writeln!(
        out,
        "where the CPU went, ms per GiB moved (cpu-clock sampled every {} µs; medians of the runs):",
        period / 1000
    );
    let mut legend = String::from("  ");
    for (cat, glyph, code) in LEGEND {
        let _ = write!(
            legend,
            "{} {}  ",
            paint(&glyph.to_string(), code, color),
            cat.name()
        );
    }
    let _ = writeln!(out, "{}", legend.trim_end());
    for (m, s, rc) in rows {
        for (who, p) in [("serving", s), ("receiver", rc)] {
            let name = if who == "serving" {
                m.method.name()
            } else {
                ""
            };
            let bytes = m.median.bytes;
            let mut bar = String::new();
            let mut cells_used = 0usize;
            let total = total_per_gib(p, bytes);
            for (cat, glyph, code) in LEGEND {
                let v = per_gib(p, cat, bytes);
                // Cumulative rounding, so the parts add up to the bar's length.
                let upto: f64 = LEGEND
                    .iter()
                    .take_while(|(c, _, _)| *c != cat)
                    .map(|(c, _, _)| per_gib(p, *c, bytes))
                    .sum::<f64>()
                    + v;
                let end = ((upto / max) * BAR_CELLS as f64).round() as usize;
                let n = end.saturating_sub(cells_used);
                cells_used += n;
                if n > 0 {
                    bar.push_str(&paint(&glyph.to_string().repeat(n), code, color));
                }
            }
            bar.push_str(&" ".repeat(BAR_CELLS.saturating_sub(cells_used)));
            let top: Vec<String> = LEGEND
                .iter()
                .map(|(c, _, _)| (*c, per_gib(p, *c, bytes)))
                .filter(|(_, v)| *v >= total * 0.05)
                .map(|(c, v)| format!("{} {}", c.name(), ms(v)))
                .collect();
            let _ = writeln!(
                out,
                "  {name:<16} {who:<8} {bar} {:>5}  {}",
                ms(total),
                top.join(" · ")
            );
        }
    }
    let others: Vec<String> = r
        .methods
        .iter()
        .filter_map(|m| m.median.profile.as_ref())
        .flat_map(|p| p.serving.top_other.iter().chain(&p.receiver.top_other))
        .take(3)
        .map(|(s, n)| format!("{s} ({n})"))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(
            out,
            "  other = symbols no category claims, e.g. {}",
            others.join(", ")
        );
    }
}

fn paint(s: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// ns (per GiB) as ms, with the table's precision.
fn ms(ns_per_gib: f64) -> String {
    crate::size::fmt_ms(ns_per_gib.max(0.0).round() as u64)
}
