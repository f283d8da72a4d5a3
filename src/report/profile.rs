//! "Where the CPU went": each path's sampled CPU, both threads, as one bar per thread split by
//! category, and the one-line verdicts that set the measured copies beside the textbook's.
//! Every figure here is pooled over the runs ([`crate::counters::profile::Pooled`]) and says
//! when it rests on few samples.

use std::fmt::Write as _;

use crate::counters::profile::{Category, Pooled, Precision};
use crate::method::MethodKind;
use crate::results::{MethodResult, Report};

/// Width of the longest bar, in cells.
const BAR_CELLS: usize = 48;

/// A serving thread whose copy time per GiB is below this share of read-write's made no CPU
/// copy worth the name (a few samples land in copy routines for the response head, the odd
/// page-fault path); said as "no CPU copy measured".
const NO_COPY_SHARE: f64 = 0.10;

/// One segment of a bar: a category (copies split by where they ran), its glyph and colour.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    /// Copies made in the thread's own context.
    Copy,
    /// Copies made in softirq context on the thread's CPU (loopback's receive path).
    CopyInSoftirq,
    Other(Category),
}

impl Part {
    pub(super) fn name(self) -> &'static str {
        match self {
            Part::Copy => Category::Copy.name(),
            Part::CopyInSoftirq => "copy in softirq",
            Part::Other(c) => c.name(),
        }
    }
}

/// The glyph and colour code of each part, in the order bars are drawn.
pub(super) const LEGEND: [(Part, char, &str); 10] = [
    (Part::Copy, '█', "31"),
    (Part::CopyInSoftirq, '▞', "91"),
    (Part::Other(Category::Network), '▓', "34"),
    (Part::Other(Category::PageCache), '▒', "32"),
    (Part::Other(Category::Memory), '░', "33"),
    (Part::Other(Category::Scheduler), '≈', "35"),
    (Part::Other(Category::Softirq), '#', "36"),
    (Part::Other(Category::Syscall), '+', "37"),
    (Part::Other(Category::User), 'u', "90"),
    (Part::Other(Category::Other), '·', "90"),
];

/// The ns of one part over all the pooled runs.
pub(super) fn part_ns(p: &Pooled, part: Part) -> u64 {
    let copy = p.ns.get(&Category::Copy).copied().unwrap_or(0);
    match part {
        Part::Copy => copy.saturating_sub(p.copy_in_softirq_ns),
        Part::CopyInSoftirq => p.copy_in_softirq_ns.min(copy),
        Part::Other(c) => p.ns.get(&c).copied().unwrap_or(0),
    }
}

/// A pooled figure as text: "n/a" when too few samples, "~12" when few, else "12".
pub fn figure(p: &Pooled, ns_per_gib: Option<f64>) -> String {
    match (ns_per_gib, p.precision) {
        (Some(v), Precision::Few) => format!("~{}", ms(v)),
        (Some(v), _) => ms(v),
        (None, _) => "n/a".into(),
    }
}

/// The table cell: "copy ms per GiB, serving | receiver", e.g. "0.8 | 61".
pub fn copy_cell(m: &MethodResult) -> String {
    match &m.profile {
        Some(_) if m.median.bytes == 0 => "–".into(),
        Some(p) => format!(
            "{} | {}",
            figure(&p.serving, p.serving.ns_per_gib(Category::Copy)),
            figure(&p.receiver, p.receiver.ns_per_gib(Category::Copy))
        ),
        None => "n/a".into(),
    }
}

/// A share as "40%", or "n/a".
pub(super) fn pct(share: Option<f64>) -> String {
    share.map_or_else(|| "n/a".into(), |s| format!("{:.0}%", s * 100.0))
}

/// What the serving thread's samples say about its copies, in words.
fn serving_words(m: &MethodResult, p: &Pooled, base: Option<f64>) -> String {
    let Some(copy) = p.ns_per_gib(Category::Copy) else {
        return format!(
            "serving thread: n/a ({} samples in {} runs: too few to say)",
            p.samples,
            m.runs.len()
        );
    };
    let none = match base {
        Some(b) if m.method != MethodKind::ReadWrite => b > 0.0 && copy < b * NO_COPY_SHARE,
        _ => false,
    };
    if none {
        return format!(
            "serving thread: no CPU copy measured ({} ms/GiB, {} of its samples)",
            figure(p, Some(copy)),
            pct(p.share(Category::Copy))
        );
    }
    let mut s = format!(
        "serving thread: copies {} ms/GiB ({} of its samples",
        figure(p, Some(copy)),
        pct(p.share(Category::Copy))
    );
    let in_softirq = p.per_gib(p.copy_in_softirq_ns).unwrap_or(0.0);
    if in_softirq >= copy * 0.5 && in_softirq > 0.0 {
        let copied = m
            .median
            .cost
            .zerocopy
            .map(|z| z.copied.min(z.completed))
            .filter(|&c| c > 0);
        let _ = write!(
            s,
            "; {} ms/GiB of it in softirq: the kernel copying the pages on their way to the receiver",
            figure(p, Some(in_softirq))
        );
        if let Some(c) = copied {
            let _ = write!(s, ", as the completions of {c} sends say");
        }
    }
    s.push(')');
    s
}

/// One sentence per path: what the serving thread's samples say about its copies, beside what
/// the textbook says, and what the receiver paid.
pub fn verdicts(r: &Report, out: &mut String) {
    let base = r
        .method(MethodKind::ReadWrite)
        .and_then(|m| m.profile.as_ref())
        .and_then(|p| p.serving.ns_per_gib(Category::Copy));
    let pooled: Vec<&crate::results::PooledProfile> = r
        .methods
        .iter()
        .filter_map(|m| m.profile.as_ref())
        .collect();
    if pooled.is_empty() || r.file.bytes == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "copies, measured (cpu-clock samples on each thread, pooled over the runs):"
    );
    for m in &r.methods {
        let Some(p) = &m.profile else { continue };
        let receiver = match p.receiver.ns_per_gib(Category::Copy) {
            Some(v) => format!(
                "copies {} ms/GiB ({})",
                figure(&p.receiver, Some(v)),
                pct(p.receiver.share(Category::Copy))
            ),
            None => format!("n/a ({} samples)", p.receiver.samples),
        };
        let _ = writeln!(
            out,
            "  {:<16} {} — textbook: {} CPU; receiver: {receiver}, the copy the textbook leaves out",
            m.method.name(),
            serving_words(m, &p.serving, base),
            m.textbook.cpu_copies_text(),
        );
    }
    if r.methods
        .iter()
        .filter_map(|m| m.profile.as_ref())
        .any(|p| p.serving.precision == Precision::Few || p.receiver.precision == Precision::Few)
    {
        let _ = writeln!(
            out,
            "  ~ = from fewer than {} samples: ±10% or worse; a larger --size or more --runs firms it up",
            crate::counters::profile::ENOUGH_SAMPLES
        );
    }
}

/// One thread's bar, its total and its largest parts.
fn bar_line(p: &Pooled, max: f64, color: bool) -> String {
    let Some(total) = p.total_per_gib().filter(|_| max > 0.0) else {
        return format!("n/a: {} samples, too few to say", p.samples);
    };
    let mut bar = String::new();
    let mut cells_used = 0usize;
    let mut upto = 0.0;
    for (part, glyph, code) in LEGEND {
        let v = p.per_gib(part_ns(p, part)).unwrap_or(0.0);
        // Cumulative rounding, so the parts add up to the bar's length.
        upto += v;
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
        .map(|(part, _, _)| (part.name(), p.per_gib(part_ns(p, *part)).unwrap_or(0.0)))
        .filter(|(_, v)| *v >= total * 0.05)
        .map(|(name, v)| format!("{name} {}", figure(p, Some(v))))
        .collect();
    format!("{bar} {:>5}  {}", figure(p, Some(total)), top.join(" · "))
}

/// The bars: one per thread and path, scaled to the costliest thread of the report.
pub fn view(r: &Report, color: bool, out: &mut String) {
    let rows: Vec<(&MethodResult, &Pooled, &Pooled)> = r
        .methods
        .iter()
        .filter_map(|m| m.profile.as_ref().map(|p| (m, &p.serving, &p.receiver)))
        .collect();
    if rows.is_empty() || r.file.bytes == 0 {
        return;
    }
    let max = rows
        .iter()
        .flat_map(|(_, s, rc)| [s.total_per_gib(), rc.total_per_gib()])
        .flatten()
        .fold(0.0, f64::max);
    let periods: Vec<u64> = r
        .methods
        .iter()
        .flat_map(|m| &m.runs)
        .filter_map(|run| run.profile.as_ref())
        .flat_map(|p| [p.serving.period_ns, p.receiver.period_ns])
        .collect();
    let (lo, hi) = (
        periods.iter().copied().min().unwrap_or(0),
        periods.iter().copied().max().unwrap_or(0),
    );
    let every = if lo == hi {
        format!("{} µs", lo / 1000)
    } else {
        format!("{}–{} µs", lo / 1000, hi / 1000)
    };
    let _ = writeln!(
        out,
        "where the CPU went, ms per GiB moved (cpu-clock sampled every {every}; every run's samples pooled):"
    );
    let mut legend = String::from("  ");
    for (part, glyph, code) in LEGEND {
        let _ = write!(
            legend,
            "{} {}  ",
            paint(&glyph.to_string(), code, color),
            part.name()
        );
    }
    let _ = writeln!(out, "{}", legend.trim_end());
    for (m, s, rc) in rows {
        let _ = writeln!(
            out,
            "  {:<16} {:<8} {}",
            m.method.name(),
            "serving",
            bar_line(s, max, color)
        );
        let _ = writeln!(
            out,
            "  {:<16} {:<8} {}",
            "",
            "receiver",
            bar_line(rc, max, color)
        );
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
