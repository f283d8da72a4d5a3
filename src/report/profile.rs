//! "Where the CPU went": each path's sampled CPU, both threads, as one bar per thread split by
//! category, and the one-line verdicts that set the measured copies beside the textbook's.
//! Every figure here is pooled over the runs ([`crate::counters::profile::Pooled`]) and says
//! when it rests on few samples.

use std::fmt::Write as _;

use super::Screen;
use super::fit::painted;
use crate::counters::profile::{Category, Pooled, Precision};
use crate::method::MethodKind;
use crate::results::{MethodResult, Report};

/// Width of the longest bar, in cells, on a screen wide enough.
const BAR_CELLS: usize = 48;
/// Narrowest bar drawn: below it the parts cannot be told apart.
const MIN_BAR_CELLS: usize = 16;

use super::conclusion::NO_COPY_SHARE;

/// One segment of a bar: a category (copies split by where they ran), its glyph and colour.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum BarPart {
    /// Copies made in the thread's own context.
    Copy,
    /// Copies made in softirq context on the thread's CPU (loopback's receive path).
    CopyInSoftirq,
    Other(Category),
}

impl BarPart {
    pub(super) fn name(self) -> &'static str {
        match self {
            BarPart::Copy => Category::Copy.name(),
            BarPart::CopyInSoftirq => "copy in softirq",
            BarPart::Other(c) => c.name(),
        }
    }
}

/// The glyph (Unicode, ASCII) and colour code of each part, in the order bars are drawn.
pub(super) const LEGEND: [(BarPart, char, char, &str); 10] = [
    (BarPart::Copy, '█', 'C', "31"),
    (BarPart::CopyInSoftirq, '▞', 'c', "91"),
    (BarPart::Other(Category::Network), '▓', 'N', "34"),
    (BarPart::Other(Category::PageCache), '▒', 'P', "32"),
    (BarPart::Other(Category::Memory), '░', 'M', "33"),
    (BarPart::Other(Category::Scheduler), '≈', 'S', "35"),
    (BarPart::Other(Category::Softirq), '#', 'q', "36"),
    (BarPart::Other(Category::Syscall), '+', 'y', "37"),
    (BarPart::Other(Category::User), 'u', 'u', "90"),
    (BarPart::Other(Category::Other), '·', '.', "90"),
];

/// A part's glyph on this screen.
fn glyph(screen: &Screen, unicode: char, ascii: char) -> char {
    if screen.unicode() { unicode } else { ascii }
}

/// The ns of one part over all the pooled runs.
pub(super) fn part_ns(p: &Pooled, part: BarPart) -> u64 {
    let copy = p.ns.get(&Category::Copy).copied().unwrap_or(0);
    match part {
        BarPart::Copy => copy.saturating_sub(p.copy_in_softirq_ns),
        BarPart::CopyInSoftirq => p.copy_in_softirq_ns.min(copy),
        BarPart::Other(c) => p.ns.get(&c).copied().unwrap_or(0),
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

/// What the serving thread's samples say about its copies, in a few words.
fn serving_words(m: &MethodResult, p: &Pooled, base: Option<f64>) -> String {
    let Some(copy) = p.ns_per_gib(Category::Copy) else {
        return format!(
            "serving thread: n/a ({} samples in {} runs)",
            p.samples,
            m.runs.len()
        );
    };
    let none = match base {
        Some(b) if m.method != MethodKind::ReadWrite => b > 0.0 && copy < b * NO_COPY_SHARE,
        _ => false,
    };
    let in_softirq = p.per_gib(p.copy_in_softirq_ns).unwrap_or(0.0);
    let tail = if none {
        ": none"
    } else if in_softirq > 0.0 && in_softirq >= copy * 0.5 {
        ", in softirq"
    } else {
        ""
    };
    format!(
        "serving thread: copies {} ({}){tail}",
        figure(p, Some(copy)),
        pct(p.share(Category::Copy))
    )
}

/// One line per path: what the serving thread's samples say about its copies, beside what the
/// textbook says, and what the receiver paid.
pub fn verdicts(r: &Report, screen: &Screen, out: &mut String) {
    let base = r
        .method(MethodKind::ReadWrite)
        .and_then(|m| m.profile.as_ref())
        .and_then(|p| p.serving.ns_per_gib(Category::Copy));
    let pooled: Vec<(&MethodResult, &crate::results::PooledProfile)> = r
        .methods
        .iter()
        .filter_map(|m| m.profile.as_ref().map(|p| (m, p)))
        .collect();
    if pooled.is_empty() || r.file.bytes == 0 {
        return;
    }
    out.push_str(&screen.wrap("copies, measured (ms/GiB and share of each thread's cpu-clock samples, pooled over the runs):", "", 2));
    let name_w = pooled
        .iter()
        .map(|(m, _)| m.method.name().len())
        .max()
        .unwrap_or(0);
    for (m, p) in &pooled {
        let receiver = match p.receiver.ns_per_gib(Category::Copy) {
            Some(v) => format!(
                "{} ({})",
                figure(&p.receiver, Some(v)),
                pct(p.receiver.share(Category::Copy))
            ),
            None => format!("n/a ({} samples)", p.receiver.samples),
        };
        let line = format!(
            "{:<name_w$} {} · textbook: {} · receiver: {receiver}",
            m.method.name(),
            serving_words(m, &p.serving, base),
            m.textbook.cpu_copies_text(),
        );
        out.push_str(&screen.wrap(&line, "  ", 4));
    }
    if pooled.iter().any(|(_, p)| {
        p.serving.precision == Precision::Few || p.receiver.precision == Precision::Few
    }) {
        let line = format!(
            "~ = from fewer than {} samples: ±10% or worse; a larger --size or more --runs firms it up",
            crate::counters::profile::ENOUGH_SAMPLES
        );
        out.push_str(&screen.wrap(&line, "  ", 4));
    }
}

/// How the bars are drawn on this screen: `cells` for the costliest thread (`max` ns per
/// GiB), and whether each thread's largest parts fit beside its bar.
struct Scale {
    max: f64,
    cells: usize,
    parts: bool,
}

impl Scale {
    /// The longest bar the screen allows for `rows` after names `name_w` wide, leaving room
    /// for the largest parts in numbers when there is room for them.
    fn fit(rows: &[(&MethodResult, &Pooled, &Pooled)], name_w: usize, screen: &Screen) -> Scale {
        let max = rows
            .iter()
            .flat_map(|(_, s, rc)| [s.total_per_gib(), rc.total_per_gib()])
            .flatten()
            .fold(0.0, f64::max);
        // "  name  receiver " before the bar, " total" after it.
        let fixed = 2 + name_w + 1 + 8 + 1 + 6;
        let room = screen.width.saturating_sub(fixed);
        let parts_w = rows
            .iter()
            .flat_map(|(_, s, rc)| [top_parts(s), top_parts(rc)])
            .map(|p| 2 + unicode_width::UnicodeWidthStr::width(p.join(" · ").as_str()))
            .max()
            .unwrap_or(0);
        let (cells, parts) = if room >= MIN_BAR_CELLS + parts_w {
            ((room - parts_w).min(BAR_CELLS), true)
        } else {
            (room.clamp(MIN_BAR_CELLS, BAR_CELLS), false)
        };
        Scale { max, cells, parts }
    }
}

/// One thread's bar, its total and, when the scale has room, its largest parts.
fn bar_line(p: &Pooled, scale: &Scale, screen: &Screen) -> String {
    let Some(total) = p.total_per_gib().filter(|_| scale.max > 0.0) else {
        return format!("n/a: {} samples, too few to say", p.samples);
    };
    let mut bar = String::new();
    let mut cells_used = 0usize;
    let mut upto = 0.0;
    for (part, u, a, code) in LEGEND {
        let v = p.per_gib(part_ns(p, part)).unwrap_or(0.0);
        // Cumulative rounding, so the parts add up to the bar's length.
        upto += v;
        let end = ((upto / scale.max) * scale.cells as f64).round() as usize;
        let n = end.saturating_sub(cells_used);
        cells_used += n;
        if n > 0 {
            let g = glyph(screen, u, a);
            bar.push_str(&painted(&g.to_string().repeat(n), code, screen));
        }
    }
    bar.push_str(&" ".repeat(scale.cells.saturating_sub(cells_used)));
    let mut line = format!("{bar} {:>5}", figure(p, Some(total)));
    if scale.parts {
        let _ = write!(line, "  {}", top_parts(p).join(" · "));
    }
    line
}

/// The parts that hold at least 5% of a thread's samples, "copy 180".
fn top_parts(p: &Pooled) -> Vec<String> {
    let total = p.total_per_gib().unwrap_or(0.0);
    LEGEND
        .iter()
        .map(|(part, ..)| (part.name(), p.per_gib(part_ns(p, *part)).unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0 && *v >= total * 0.05)
        .map(|(name, v)| format!("{name} {}", figure(p, Some(v))))
        .collect()
}

/// The bars: one per thread and path, scaled to the costliest thread of the report, as long as
/// the screen allows; each thread's largest parts in numbers beside its bar when they fit.
pub fn view(r: &Report, screen: &Screen, out: &mut String) {
    let rows: Vec<(&MethodResult, &Pooled, &Pooled)> = r
        .methods
        .iter()
        .filter_map(|m| m.profile.as_ref().map(|p| (m, &p.serving, &p.receiver)))
        .collect();
    if rows.is_empty() || r.file.bytes == 0 {
        return;
    }
    out.push_str(&screen.wrap(
        &format!(
            "where the CPU went, ms per GiB moved (cpu-clock sampled every {}; every run's samples pooled):",
            periods(r)
        ),
        "",
        2,
    ));
    legend(screen, out);
    let name_w = rows
        .iter()
        .map(|(m, ..)| m.method.name().len())
        .max()
        .unwrap_or(0);
    let scale = Scale::fit(&rows, name_w, screen);
    for (m, s, rc) in rows {
        for (name, who, p) in [(m.method.name(), "serving", s), ("", "receiver", rc)] {
            let _ = writeln!(
                out,
                "  {name:<name_w$} {who:<8} {}",
                bar_line(p, &scale, screen)
            );
        }
    }
    if let Some(others) = others(r) {
        out.push_str(&screen.wrap(
            &format!("other = symbols no category claims, e.g. {others}"),
            "  ",
            4,
        ));
    }
}

/// The sampling period of the runs: "500 µs", or "250–500 µs" when it changed.
fn periods(r: &Report) -> String {
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
    if lo == hi {
        format!("{} µs", lo / 1000)
    } else {
        format!("{}–{} µs", lo / 1000, hi / 1000)
    }
}

/// The legend of the parts, wrapped by hand: colour codes must not count towards the width.
fn legend(screen: &Screen, out: &mut String) {
    let mut legend = String::from(" ");
    let mut used = 1;
    for (part, u, a, code) in LEGEND {
        let item_width = 4 + unicode_width::UnicodeWidthStr::width(part.name());
        if used + item_width > screen.width {
            let _ = writeln!(out, "{}", legend.trim_end());
            legend = String::from(" ");
            used = 1;
        }
        let g = glyph(screen, u, a).to_string();
        let _ = write!(legend, " {} {} ", painted(&g, code, screen), part.name());
        used += item_width;
    }
    let _ = writeln!(out, "{}", legend.trim_end());
}

/// The three symbols no category claims that most samples of the median runs ended in, with
/// their counts: "generic_exec_single (1), …"; None when there are none.
fn others(r: &Report) -> Option<String> {
    let mut counts: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for p in r.methods.iter().filter_map(|m| m.median.profile.as_ref()) {
        for (sym, n) in p.serving.top_other.iter().chain(&p.receiver.top_other) {
            *counts.entry(sym.as_str()).or_insert(0) += n;
        }
    }
    let mut top: Vec<(&str, u64)> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let others: Vec<String> = top
        .iter()
        .take(3)
        .map(|(s, n)| format!("{s} ({n})"))
        .collect();
    (!others.is_empty()).then(|| others.join(", "))
}

/// ns (per GiB) as ms, with the table's precision.
fn ms(ns_per_gib: f64) -> String {
    crate::size::fmt_ms(ns_per_gib.max(0.0).round() as u64)
}
