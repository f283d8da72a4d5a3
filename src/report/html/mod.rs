//! `--export-html FILE`: one self-contained page for the projector and the slides — the run's
//! header, the table, where the CPU went on each thread (stacked bars, serving beside
//! receiver, one scale), the textbook's count beside the measured copy, and the flame graphs
//! (inferno's, inlined). No network, no script, no font or image from elsewhere: inline SVG
//! and CSS only. Large type and high contrast; categories in a colour-blind-safe palette, each
//! also with a pattern and a label; a print style for A4.
//!
//! Every figure comes from the JSON results ([`crate::results`]), through the same formatting
//! the terminal uses; numeric cells carry their JSON value (`data-field`, `data-v`) so tests
//! read the page by its content. Its words are the lesson's, one table per language
//! ([`crate::report::lesson`]).

mod inline;

use std::fmt::Write as _;

use crate::counters::profile::{Category, Pooled};
use crate::method::Textbook;
use crate::receive::ReceiverKind;
use crate::report::export::Exporter;
use crate::report::export::stacks::{self, Graph};
use crate::report::lesson::{self, PageWords};
use crate::report::profile::{BarPart, LEGEND, figure, part_ns};
use crate::report::table;
use crate::report::text::Lang;
use crate::results::{
    CacheMode, MethodResult, Report, SweepReport, ThreadCpu, TraceReport, TraceThread,
};
use crate::size::{fmt_bytes, fmt_mib_s, fmt_ms};

/// Frames with fewer than this share of a thread's samples are merged into their caller in the
/// page's flame graphs (the page stays small: a default compare's report is well under 2 MiB;
/// `scripts/check-report.sh` measures it). `--export-stacks` keeps every frame.
pub const THIN_SHARE: f64 = 0.002;

fn words(lang: Lang) -> &'static PageWords {
    &lesson::table(lang).page
}

/// The HTML exporter.
pub struct Html {
    pub lang: Lang,
}

impl Exporter for Html {
    fn flag(&self) -> &'static str {
        "--export-html"
    }

    fn compare(&self, r: &Report) -> String {
        compare_page(r, self.lang)
    }

    fn sweep(&self, s: &SweepReport) -> String {
        sweep_page(s, self.lang)
    }

    fn trace(&self, t: &TraceReport) -> Option<String> {
        Some(trace_page(t, self.lang))
    }

    fn each_run(&self) -> bool {
        false
    }
}

/// Text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// The hex colour of a bar part.
fn part_colour(part: BarPart) -> String {
    let c = match part {
        BarPart::Copy | BarPart::CopyInSoftirq => Category::Copy,
        BarPart::Other(c) => c,
    };
    let (r, g, b) = stacks::colour(c);
    format!("#{r:02X}{g:02X}{b:02X}")
}

/// The overlay drawn over each part's colour (SVG path in an 8×8 tile), so no category depends
/// on colour alone.
fn part_pattern(i: usize) -> &'static str {
    match i {
        1 => r##"<path d="M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4" stroke="#fff" stroke-width="2"/>"##,
        2 => r##"<path d="M0,2 h8 M0,6 h8" stroke="#fff" stroke-width="1.3" opacity=".7"/>"##,
        3 => r##"<circle cx="4" cy="4" r="1.6" fill="#fff" opacity=".85"/>"##,
        4 => r##"<path d="M2,0 v8 M6,0 v8" stroke="#000" stroke-width="1.2" opacity=".35"/>"##,
        5 => r##"<path d="M0,0 l8,8 M8,0 l-8,8" stroke="#000" stroke-width="1" opacity=".45"/>"##,
        6 => {
            r##"<path d="M-2,6 l4,4 M0,0 l8,8 M6,-2 l4,4" stroke="#000" stroke-width="1.2" opacity=".45"/>"##
        }
        7 => r##"<path d="M4,1 v6 M1,4 h6" stroke="#000" stroke-width="1.1" opacity=".45"/>"##,
        8 => {
            r##"<circle cx="2" cy="2" r="1" fill="#000"/><circle cx="6" cy="6" r="1" fill="#000"/>"##
        }
        _ => "",
    }
}

/// The hidden SVG holding one pattern per bar part (`url(#p0)` … `url(#p9)`), for every bar
/// and the legend.
fn pattern_defs() -> String {
    let mut s = String::from(
        r#"<svg class="defs" width="0" height="0" aria-hidden="true" focusable="false"><defs>"#,
    );
    for (i, (part, _, _, _)) in LEGEND.iter().enumerate() {
        let _ = write!(
            s,
            r#"<pattern id="p{i}" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="{}"/>{}</pattern>"#,
            part_colour(*part),
            part_pattern(i)
        );
    }
    s.push_str("</defs></svg>");
    s
}

/// The legend: a swatch (colour and pattern) and the name of every part.
fn legend(w: &PageWords) -> String {
    let mut s = format!(
        r#"<div class="legend" role="list" aria-label="{}">"#,
        esc(w.legend)
    );
    for (i, _) in LEGEND.iter().enumerate() {
        let _ = write!(
            s,
            r##"<span role="listitem"><svg width="28" height="20" aria-hidden="true"><rect width="28" height="20" fill="url(#p{i})" stroke="#000"/></svg>{}</span>"##,
            esc(w.parts[i])
        );
    }
    s.push_str("</div>");
    s
}

const CSS: &str = r#"
:root { --fg:#000; --muted:#333; --line:#555; --bg:#fff; --band:#f2f2f2; }
* { box-sizing: border-box; }
html { font-size: 20px; }
@media (min-width: 1700px) { html { font-size: 24px; } }
body { margin: 0 auto; max-width: 1800px; padding: 1rem 1.5rem 2rem; color: var(--fg); background: var(--bg);
  font-family: system-ui, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", sans-serif; line-height: 1.4; }
h1 { font-size: 2rem; margin: .2rem 0 .6rem; }
h2 { font-size: 1.5rem; margin: 1.6rem 0 .5rem; border-bottom: 3px solid var(--fg); padding-bottom: .15rem; }
h3 { font-size: 1.2rem; margin: 1rem 0 .3rem; }
p { margin: .3rem 0; }
.note { color: var(--muted); font-size: .9rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: 0; font-size: .95rem; }
dl.facts dt { font-weight: 700; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.svg-defs, svg.defs { position: absolute; width: 0; height: 0; overflow: hidden; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .8rem; width: 100%; }
th, td { border: 1px solid var(--line); padding: .25rem .4rem; vertical-align: top; }
th { background: var(--band); text-align: left; font-weight: 700; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td .mm { display: block; color: var(--muted); font-size: .85em; }
td.m { font-weight: 700; white-space: nowrap; }
.legend { display: flex; flex-wrap: wrap; gap: .3rem 1.1rem; margin: .4rem 0 .8rem; font-size: .95rem; }
.legend span { display: inline-flex; align-items: center; gap: .35rem; }
.path { border-top: 1px solid var(--line); padding: .4rem 0 .6rem; break-inside: avoid; }
.path h3 { margin: .2rem 0; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1.2rem; }
.thread h4 { margin: .2rem 0; font-size: 1rem; }
svg.bar { width: 100%; height: auto; display: block; }
svg.bar text { font-size: 15px; }
svg.bar .seg { paint-order: stroke; stroke: #fff; stroke-width: 3px; fill: #000; font-weight: 700; }
svg.bar .total { fill: #000; font-weight: 700; font-size: 17px; }
.parts { font-size: .85rem; margin: .15rem 0 0; }
.copyline { font-size: 1rem; }
.copyline b { font-weight: 800; }
figure { margin: .6rem 0 1rem; break-inside: avoid; }
figcaption { font-weight: 700; margin-bottom: .2rem; }
svg.flame { width: 100%; height: auto; display: block; background: #fff; border: 1px solid var(--line); }
svg.flame text { font-family: system-ui, "Noto Sans", sans-serif; font-size: 12px; fill: #000; }
svg.flame .cat-copy text, svg.flame .cat-network text, svg.flame .cat-page_cache text { fill: #fff; }
svg.flame g:hover > rect { stroke: #000; stroke-width: 1; }
svg.flame [id$="-title"] { text-anchor: middle; font-size: 17px; font-weight: 700; }
svg.flame [id$="-subtitle"] { text-anchor: middle; font-size: 13px; }
details.diagram { margin: .5rem 0 0; }
details.diagram summary { font-weight: 700; font-size: 1rem; cursor: pointer; }
details.diagram pre { font-family: "DejaVu Sans Mono", "Noto Sans Mono", "Noto Sans Mono CJK SC", "WenQuanYi Micro Hei Mono", monospace;
  font-size: .7rem; line-height: 1.25; overflow-x: auto; margin: .3rem 0; }
details.diagram pre i { display: inline-block; width: 1ch; height: 1.25em; vertical-align: top; text-align: center;
  font-style: normal; white-space: pre; }
details.diagram pre i.w { width: 2ch; }
ul.warn li { margin: .2rem 0; }
ul.conclusions { font-size: 1.1rem; padding-left: 1.2rem; }
ul.conclusions li { margin: .3rem 0; }
footer { margin-top: 2rem; font-size: .8rem; color: var(--muted); }
@media (max-width: 1000px) { .pair { grid-template-columns: 1fr; } html { font-size: 17px; } }
@media print {
  @page { size: A4; margin: 12mm; }
  html { font-size: 10.5pt; }
  body { max-width: none; padding: 0; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; }
  .scroll { overflow: visible; }
  table { font-size: 7pt; }
  th, td { padding: .1rem .2rem; }
  .pair { grid-template-columns: 1fr 1fr; gap: .6rem; }
  #flames { break-before: page; }
  svg.flame text { font-size: 11px; }
}
"#;

/// The page around `body`.
fn page(w: &PageWords, title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"color-scheme\" content=\"light\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{}\n{body}\n<footer>{}</footer>\n</body>\n</html>\n",
        w.lang,
        esc(title),
        pattern_defs(),
        esc(&(w.footer)(env!("CARGO_PKG_VERSION")))
    )
}

/// A `<dt>`/`<dd>` pair.
fn fact(out: &mut String, k: &str, v: &str) {
    let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
}

/// The run's header, as facts.
fn header(r: &Report, w: &PageWords) -> String {
    let mut s = String::from("<dl class=\"facts\">");
    let file = match &r.file.path {
        Some(p) => format!("{p} · {}", fmt_bytes(r.file.bytes)),
        None => format!("{} · {}", w.generated, fmt_bytes(r.file.bytes)),
    };
    fact(&mut s, w.file, &file);
    let transport = match (&r.veth, r.transport) {
        (Some(v), _) => format!("tcp over veth {} → {}", v.serving_addr, v.receiving_addr),
        (None, crate::transport::Transport::Tcp) => "tcp, 127.0.0.1 (loopback)".into(),
        (None, crate::transport::Transport::Unix) => "unix stream socket".into(),
        (None, crate::transport::Transport::Veth) => "tcp over veth".into(),
    };
    fact(&mut s, w.transport, &transport);
    if let Some(rate) = r.link_rate_bytes_per_s {
        fact(&mut s, w.link, &crate::size::fmt_rate(rate));
    }
    let cache = match (r.cache.mode, r.cache.resident_before_pct) {
        (CacheMode::Warm, Some(p)) => (w.cache_warm)(p),
        (mode, _) => format!("{mode} ({})", r.cache.state),
    };
    fact(&mut s, w.cache, &cache);
    let machine = format!(
        "{} · {} {}",
        r.machine.cpu_model.as_deref().unwrap_or("?"),
        w.kernel,
        r.kernel
    );
    fact(&mut s, w.machine, &machine);
    fact(
        &mut s,
        w.counters,
        match r.syscall_source {
            crate::counters::SyscallSource::Perf => w.counters_perf,
            crate::counters::SyscallSource::SelfCounted => w.counters_rusage,
        },
    );
    let placement = r.methods.first().map(|m| {
        (w.pinned)(
            m.median.placement.serving_cpu,
            m.median.placement.receiver_cpu,
        )
    });
    if let Some(p) = placement {
        fact(&mut s, w.placement, &p);
    }
    let mut runs = (w.runs)(r.options.runs, r.options.warmup);
    if let Some(p) = r
        .methods
        .iter()
        .flat_map(|m| &m.runs)
        .find_map(|run| run.profile.as_ref())
    {
        runs.push_str(" · ");
        runs.push_str(&(w.sampling)(p.serving.period_ns / 1000));
    }
    fact(&mut s, w.runs_label, &runs);
    s.push_str("</dl>");
    s
}

/// A numeric cell with its JSON value: `data-field` is the path in the method's JSON object,
/// `data-v` the value there.
fn num(field: &str, v: Option<impl std::fmt::Display>, text: &str, under: &str) -> String {
    let dv = v.map_or_else(|| "null".to_string(), |v| v.to_string());
    let under = if under.is_empty() {
        String::new()
    } else {
        format!("<span class=\"mm\">{}</span>", esc(under))
    };
    format!(
        "<td class=\"n\" data-field=\"{field}\" data-v=\"{dv}\">{}{under}</td>",
        esc(text)
    )
}

/// The comparison table: the terminal table's figures, one row per method.
fn table(r: &Report, w: &PageWords) -> String {
    let mut s = String::from("<div class=\"scroll\"><table><thead><tr>");
    for h in [
        w.method,
        w.mib_s,
        w.wall_ms,
        w.syscalls,
        w.data_syscalls,
        w.ctx_sw,
        w.cpu_ms,
        w.cpu_per_gib,
        w.copy_ms,
        w.faults,
        w.textbook,
    ] {
        let _ = write!(s, "<th scope=\"col\">{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>");
    for m in &r.methods {
        s.push_str(&table_row(m, r.options.batch, w));
    }
    s.push_str("</tbody></table></div>");
    s
}

/// One method's row of the comparison table, its cells in the header's order; `batch` is the
/// run's `--batch` (the textbook's calls depend on it).
fn table_row(m: &MethodResult, batch: u32, w: &PageWords) -> String {
    let c = &m.median.cost;
    let mut s = format!(
        "<tr data-method=\"{}\"><td class=\"m\">{}</td>",
        esc(&row_id(m)),
        esc(&row_label(m))
    );
    s.push_str(&speed_cells(m, w));
    s.push_str(&syscall_cells(m, w));
    s.push_str(&cpu_cells(m, w));
    s.push_str(&num(
        "median.page_faults.minor",
        Some(c.page_faults.minor),
        &format!("{} / {}", c.page_faults.minor, c.page_faults.major),
        "",
    ));
    s.push_str(&textbook_cell(&m.textbook, batch, w));
    s.push_str("</tr>");
    s
}

/// Throughput and wall time: the median, with the range over the runs under it.
fn speed_cells(m: &MethodResult, w: &PageWords) -> String {
    let med = &m.median;
    let opt_ms = |v: Option<u64>| v.map_or_else(|| w.na.to_string(), fmt_ms);
    let mut s = num(
        "median.throughput_mib_s",
        med.throughput_mib_s,
        &fmt_mib_s(med.throughput_mib_s),
        &format!(
            "{}–{}",
            fmt_mib_s(m.min.throughput_mib_s),
            fmt_mib_s(m.max.throughput_mib_s)
        ),
    );
    s.push_str(&num(
        "median.wall_ns",
        med.wall_ns,
        &opt_ms(med.wall_ns),
        &format!("{}–{}", opt_ms(m.min.wall_ns), opt_ms(m.max.wall_ns)),
    ));
    s
}

/// The serving thread's syscalls (all of them, then the data calls by name) and its context
/// switches (voluntary / involuntary).
fn syscall_cells(m: &MethodResult, w: &PageWords) -> String {
    let c = &m.median.cost;
    let mut s = num(
        "median.syscalls.total",
        c.syscalls.total,
        &c.syscalls
            .total
            .map_or_else(|| w.na.to_string(), table::thousands),
        "",
    );
    let _ = write!(
        s,
        "<td>{}</td>",
        esc(&table::by_name(m)).replace('\n', "<br>")
    );
    s.push_str(&num(
        "median.context_switches.voluntary",
        Some(c.context_switches.voluntary),
        &format!(
            "{} / {}",
            c.context_switches.voluntary, c.context_switches.involuntary
        ),
        "",
    ));
    s
}

/// The CPU cells: user / sys of the serving thread (the receiver's under it), sys and
/// end-to-end CPU per GiB, and the serving thread's time in copy routines.
fn cpu_cells(m: &MethodResult, w: &PageWords) -> String {
    let med = &m.median;
    let c = &med.cost;
    let recv = med.receiver.as_ref().map_or_else(
        || format!("{} {}", w.receiver_short, w.na),
        |rc| format!("{} {}", w.receiver_short, table::user_sys(&rc.cpu)),
    );
    let mut s = num(
        "median.cpu.sys_ns",
        Some(c.cpu.sys_ns),
        &table::user_sys(&c.cpu),
        &recv,
    );
    let per = |v: Option<f64>| v.map_or_else(|| w.na.to_string(), |v| fmt_ms(v as u64));
    let e2e = med.e2e_ns_per_gib();
    s.push_str(&num(
        "median.cpu.sys_ns/GiB",
        med.sys_ns_per_gib().map(|v| v.round()),
        &format!("sys {}", per(med.sys_ns_per_gib())),
        &format!("e2e {}", per(e2e)),
    ));
    s.push_str(&num(
        "profile.serving.ns.copy",
        m.profile
            .as_ref()
            .map(|p| p.serving.ns.get(&Category::Copy).copied().unwrap_or(0)),
        &crate::report::profile::copy_cell(m),
        "",
    ));
    s
}

/// What the textbook counts for the method: CPU and DMA copies, user/kernel transitions, and
/// the calls (which depend on `batch`).
fn textbook_cell(tb: &Textbook, batch: u32, w: &PageWords) -> String {
    format!(
        "<td>{} {} + {} {}<br>{} {}<br>{}</td>",
        esc(&(w.copies_count)(tb.cpu_copies, tb.cpu_copies_with_sg_dma)),
        esc(w.copies),
        tb.dma_copies,
        esc(w.dma),
        tb.transitions,
        esc(w.transitions),
        esc(&table::textbook_calls(tb, batch))
    )
}

/// The CPU of the costliest thread of all the bars, per unit: every bar's scale.
fn bar_scale<'a>(ps: impl Iterator<Item = &'a Pooled>) -> f64 {
    ps.filter_map(Pooled::total_per_gib).fold(0.0, f64::max)
}

/// Width of the bar area in an SVG bar's units (the rest holds the total).
const BAR_W: f64 = 500.0;

/// One thread's stacked bar: a segment per part (colour, pattern, and its name when wide
/// enough), its total at the end, and the larger parts named under it.
fn bar(p: &Pooled, max: f64, method: &str, thread: &str, w: &PageWords) -> String {
    let Some(total) = p.total_per_gib().filter(|_| max > 0.0) else {
        return format!(
            "<p class=\"parts\" data-method=\"{}\" data-thread=\"{thread}\">{}</p>",
            esc(method),
            esc(&(w.too_few)(p.samples))
        );
    };
    let mut svg = format!(
        r#"<svg class="bar" viewBox="0 0 600 40" role="img" data-method="{}" data-thread="{thread}" data-max="{max}" aria-label="{} {thread}: {} {}">"#,
        esc(method),
        esc(method),
        figure(p, Some(total)),
        w.ms_per_gib
    );
    let mut x = 0.0;
    let mut words = Vec::new();
    for (i, (part, _, _, _)) in LEGEND.iter().enumerate() {
        let ns = part_ns(p, *part);
        let v = p.per_gib(ns).unwrap_or(0.0);
        let width = v / max * BAR_W;
        let _ = write!(
            svg,
            r#"<rect data-part="{}" data-ns="{ns}" data-per-gib="{v}" x="{x:.2}" y="4" width="{width:.2}" height="32" fill="url(#p{i})"><title>{}: {} {}</title></rect>"#,
            part.name(),
            esc(w.parts[i]),
            figure(p, Some(v)),
            w.ms_per_gib
        );
        // A label only where it fits (about 9 units a character at the bar's type size).
        if width >= 10.0 + 9.0 * unicode_width::UnicodeWidthStr::width(w.parts[i]) as f64 {
            let _ = write!(
                svg,
                r#"<text class="seg" x="{:.2}" y="25">{}</text>"#,
                x + 4.0,
                esc(w.parts[i])
            );
        }
        if v > 0.0 && v >= total * 0.05 {
            words.push(format!("{} {}", w.parts[i], figure(p, Some(v))));
        }
        x += width;
    }
    let _ = write!(
        svg,
        r#"<text class="total" x="{:.2}" y="26">{}</text></svg>"#,
        x + 6.0,
        figure(p, Some(total))
    );
    format!(
        "{svg}<p class=\"parts\">{} {} · {}</p>",
        esc(&figure(p, Some(total))),
        w.ms_per_gib,
        esc(&words.join(" · "))
    )
}

/// Conclusion lines: the run's story in plain words, from [`crate::report::conclusion`] (the
/// sentences the terminal ends with), in the page's language.
fn conclusion_lines(r: &Report, lang: Lang) -> String {
    let lines = crate::report::conclusion::lines(r, lang);
    if lines.is_empty() {
        return String::new();
    }
    let mut s = String::from("<ul class=\"conclusions\">");
    for l in lines {
        let _ = write!(s, "<li>{}</li>", esc(&l));
    }
    s.push_str("</ul>");
    s
}

/// The path's diagram with this run's figures on it: the picture `explain METHOD --measure`
/// draws, from the same report, in the page's language, in a `<pre>` (its box-drawing lines
/// need a monospaced font). A row of `--receive`'s matrix, or a run without read-write to
/// compare with, gets the diagram without figures, and says so.
fn path_diagram(r: &Report, m: &MethodResult, lang: Lang) -> String {
    let w = words(lang);
    let kind = m.method;
    let receiver = m.receiver_path.unwrap_or(ReceiverKind::Recv);
    let measured = match m.receiver_path {
        None => crate::explain::measured_from(kind, r, lang),
        Some(_) => None,
    };
    let figures = measured
        .as_ref()
        .map(|x| crate::explain::figures_of(kind, x, lang));
    let picture = crate::explain::diagram::Picture {
        sender: Some(kind.model()),
        receiver: Some(receiver.model()),
    };
    let lines =
        crate::explain::diagram::draw(&picture, lang, DIAGRAM_COLUMNS, true, figures.as_ref());
    let mut s = format!(
        "<details class=\"diagram\" open><summary>{}</summary><pre lang=\"{}\">",
        esc(w.diagram),
        w.lang
    );
    for l in lines {
        s.push_str(&grid_line(&l));
        s.push('\n');
    }
    s.push_str("</pre>");
    let _ = write!(
        s,
        "<p class=\"note\">{}</p>",
        esc(&lesson::say(lang, &lesson::Msg::Legend))
    );
    if figures.is_none() {
        let _ = write!(s, "<p class=\"note\">{}</p>", esc(w.diagram_no_figures));
    }
    s.push_str("</details>");
    s
}

/// One line of a text diagram for a `<pre>`: every character outside ASCII in a cell of its
/// terminal width (`<i>`, 1ch; `<i class="w">`, 2ch), so box drawing, arrows, circled digits
/// and Chinese line up in whatever font the browser finds for them, as in a terminal.
fn grid_line(line: &str) -> String {
    use unicode_width::UnicodeWidthChar;
    let mut out = String::with_capacity(line.len() * 2);
    let mut buf = [0u8; 4];
    for c in line.chars() {
        let text = esc(c.encode_utf8(&mut buf));
        if c.is_ascii() {
            out.push_str(&text);
        } else if c.width() == Some(2) {
            let _ = write!(out, "<i class=\"w\">{text}</i>");
        } else {
            let _ = write!(out, "<i>{text}</i>");
        }
    }
    out
}

/// The diagram's width on the page: the projector's 100 columns.
const DIAGRAM_COLUMNS: usize = 100;

/// Where the CPU went: per path, the textbook's count beside the measured copy, and both
/// threads' bars on one scale.
fn cpu_section(r: &Report, lang: Lang) -> String {
    let w = words(lang);
    let pooled: Vec<&MethodResult> = r.methods.iter().filter(|m| m.profile.is_some()).collect();
    if pooled.is_empty() || r.file.bytes == 0 {
        return String::new();
    }
    let max = bar_scale(
        pooled
            .iter()
            .filter_map(|m| m.profile.as_ref())
            .flat_map(|p| [&p.serving, &p.receiver]),
    );
    let mut s = format!(
        "<section id=\"cpu\"><h2>{}</h2><p class=\"note\">{}</p>{}",
        esc(w.cpu),
        esc(w.cpu_note),
        legend(w)
    );
    for m in pooled {
        let Some(p) = &m.profile else { continue };
        let id = row_id(m);
        let name = id.as_str();
        let label = row_label(m);
        let copy_s = figure(&p.serving, p.serving.ns_per_gib(Category::Copy));
        let copy_r = figure(&p.receiver, p.receiver.ns_per_gib(Category::Copy));
        let mut copy_line = format!(
            "{} — <b>{}</b>",
            esc(&(w.textbook_copies)(&(w.copies_count)(
                m.textbook.cpu_copies,
                m.textbook.cpu_copies_with_sg_dma
            ))),
            esc(&(w.measured_copy)(&copy_s, &copy_r))
        );
        for (t, pp) in [
            (w.serving_thread, &p.serving),
            (w.receiver_thread, &p.receiver),
        ] {
            // Said when it is a real part of the thread's copies (a tenth or more).
            let copy = pp.ns.get(&Category::Copy).copied().unwrap_or(0);
            if pp.copy_in_softirq_ns > 0
                && pp.copy_in_softirq_ns * 10 >= copy
                && let Some(v) = pp.per_gib(pp.copy_in_softirq_ns)
            {
                let _ = write!(
                    copy_line,
                    " · {}: {}",
                    esc(t),
                    esc(&(w.in_softirq)(&figure(pp, Some(v))))
                );
            }
        }
        let _ = write!(
            s,
            "<div class=\"path\" data-method=\"{n}\"><h3>{}</h3><p class=\"copyline\">{copy_line}</p><div class=\"pair\"><div class=\"thread\"><h4>{}</h4>{}</div><div class=\"thread\"><h4>{}</h4>{}</div></div>{}</div>",
            esc(&label),
            esc(w.serving_thread),
            bar(&p.serving, max, name, "serving", w),
            esc(w.receiver_thread),
            bar(&p.receiver, max, name, "receiver", w),
            path_diagram(r, m, lang),
            n = esc(name),
        );
    }
    s.push_str("</section>");
    s
}

/// A row's name in the page and the files: the method, or `sendfile-to-zerocopy` for a
/// pair of `--receive`'s matrix.
fn row_id(m: &MethodResult) -> String {
    match m.receiver_path {
        Some(r) => stacks::safe_file_part(&format!("{}-to-{r}", m.method.name())),
        None => m.method.name().to_string(),
    }
}

/// A row's label: the method, or "sendfile → zerocopy" in a matrix.
fn row_label(m: &MethodResult) -> String {
    crate::results::pair_label(m.method.name(), m.receiver_path)
}

/// The graphs of a compare: one per method × thread with stacks.
pub fn compare_graphs(r: &Report) -> Vec<(String, Graph<'_>)> {
    let mut v = Vec::new();
    for m in &r.methods {
        let Some(st) = &m.stacks else { continue };
        let id = row_id(m);
        let period = m
            .runs
            .iter()
            .find_map(|run| run.profile.as_ref())
            .map_or(0, |p| p.serving.period_ns);
        for (thread, stacks) in [("serving", &st.serving), ("receiver", &st.receiver)] {
            if stacks.is_empty() {
                continue;
            }
            v.push((
                format!("{id}.{thread}"),
                Graph {
                    root: vec![id.clone(), thread.to_string()],
                    stacks,
                    title: format!("{}: {thread} thread", row_label(m)),
                    subtitle: format!(
                        "{} samples over {} runs, cpu-clock every {} µs of the thread's CPU; kernel callchains, [user] = user space",
                        stacks.samples(),
                        m.runs.len(),
                        period / 1000
                    ),
                },
            ));
        }
    }
    v
}

/// The graphs of a trace: one per thread with stacks.
pub fn trace_graphs(t: &TraceReport) -> Vec<(String, Graph<'_>)> {
    let mut v = Vec::new();
    for (pid, tid, stacks) in &t.stacks {
        if stacks.is_empty() {
            continue;
        }
        let name = |id: u32| {
            t.threads
                .iter()
                .find(|th| th.tid == id)
                .map_or_else(|| "?".to_string(), |th| th.name.clone())
        };
        let (pname, tname) = (name(*pid), name(*tid));
        v.push((
            format!(
                "{}-{pid}.{}-{tid}",
                stacks::safe_file_part(&pname),
                stacks::safe_file_part(&tname)
            ),
            Graph {
                root: vec![
                    stacks::safe_frame(&format!("{pname}-{pid}")),
                    stacks::safe_frame(&format!("{tname}-{tid}")),
                ],
                stacks,
                title: stacks::safe_frame(&format!("{tname} ({tid}) of {pname} ({pid})")),
                subtitle: format!(
                    "{} samples, cpu-clock every {} µs of the thread's CPU; kernel callchains, [user] = user space",
                    stacks.samples(),
                    crate::counters::profile::Sampler::PERIOD_NS / 1000
                ),
            },
        ));
    }
    v
}

/// The flame graphs section: each graph thinned, rendered by inferno and inlined.
fn flames_section(graphs: &[(String, Graph<'_>)], w: &PageWords) -> String {
    let mut s = format!("<section id=\"flames\"><h2>{}</h2>", esc(w.flames));
    if graphs.is_empty() {
        let _ = write!(s, "<p>{}</p></section>", esc(w.no_flames));
        return s;
    }
    let pct = format!("{}%", THIN_SHARE * 100.0);
    let _ = write!(
        s,
        "<p class=\"note\">{}</p>{}",
        esc(&(w.flames_note)(&pct)),
        legend(w)
    );
    // Each frame's hover text also names its category, in the page's words.
    let labels: Vec<(String, &str)> = Category::ALL
        .iter()
        .map(|c| {
            let i = LEGEND
                .iter()
                .position(|(p, _, _, _)| {
                    *p == BarPart::Other(*c) || (*c == Category::Copy && *p == BarPart::Copy)
                })
                .unwrap_or(0);
            (stacks::class_of(*c), w.parts[i])
        })
        .collect();
    let Ok(k) = stacks::symbols() else {
        let _ = write!(s, "<p>{}</p></section>", esc(w.no_flames));
        return s;
    };
    for (i, (name, g)) in graphs.iter().enumerate() {
        let thin = stacks::thinned(g.stacks, THIN_SHARE);
        let lines = stacks::folded(k, &g.root, &thin);
        let cats = stacks::name_categories(k, &thin);
        let svg = stacks::flame_svg(&lines, &cats, &g.root, &g.title, &g.subtitle)
            .and_then(|svg| inline::inline(&svg, &format!("fg{i}"), &g.title, &labels));
        match svg {
            Ok(svg) => {
                let _ = write!(
                    s,
                    "<figure data-graph=\"{}\" data-samples=\"{}\"><figcaption>{}</figcaption>{svg}</figure>",
                    esc(name),
                    g.stacks.samples(),
                    esc(&g.title)
                );
            }
            Err(e) => {
                let _ = write!(s, "<p>{}: {}</p>", esc(name), esc(&format!("{e:#}")));
            }
        }
    }
    s.push_str("</section>");
    s
}

/// Warnings and notes, as lists.
fn remarks(warnings: &[String], notes: &[String], w: &PageWords) -> String {
    let mut s = String::new();
    for (title, items) in [(w.warnings, warnings), (w.notes, notes)] {
        if items.is_empty() {
            continue;
        }
        let _ = write!(s, "<h3>{}</h3><ul class=\"warn\">", esc(title));
        for i in items {
            let _ = write!(s, "<li>{}</li>", esc(i));
        }
        s.push_str("</ul>");
    }
    s
}

/// The compare page.
fn compare_body(r: &Report, lang: Lang, graphs: &[(String, Graph<'_>)]) -> String {
    let w = words(lang);
    let mut s = format!(
        "<header><h1>{}</h1>{}</header>",
        esc(w.compare_title),
        header(r, w)
    );
    let conclusions = conclusion_lines(r, lang);
    if !conclusions.is_empty() {
        let _ = write!(
            s,
            "<section id=\"conclusions\"><h2>{}</h2>{conclusions}</section>",
            esc(w.conclusions)
        );
    }
    let _ = write!(
        s,
        "<section id=\"table\"><h2>{}</h2><p class=\"note\">{}</p>{}{}</section>",
        esc(w.table),
        esc(w.table_note),
        table(r, w),
        remarks(&r.warnings, &r.notes, w)
    );
    s.push_str(&cpu_section(r, lang));
    if r.methods.iter().any(|m| m.stacks.is_some()) || r.methods.iter().any(|m| m.profile.is_none())
    {
        s.push_str(&flames_section(graphs, w));
    }
    s
}

fn compare_page(r: &Report, lang: Lang) -> String {
    let graphs = compare_graphs(r);
    let w = words(lang);
    page(w, w.compare_title, &compare_body(r, lang, &graphs))
}

/// The sweep page: its series, then each size's table and bars (no flame graphs: compare
/// draws those).
fn sweep_page(sw: &SweepReport, lang: Lang) -> String {
    let w = words(lang);
    let mut s = format!("<header><h1>{}</h1></header>", esc(w.sweep_title));
    let _ = write!(
        s,
        "<section id=\"series\"><h2>{}</h2><div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(w.sizes),
        esc(w.series),
        esc(w.file_size),
        esc(w.mib_s),
        esc(w.syscalls_mib),
        esc(w.cpu_ns_gib)
    );
    for se in &sw.series {
        for p in &se.points {
            let _ = write!(
                s,
                "<tr data-series=\"{}\"><td class=\"m\">{}</td><td class=\"n\">{}</td>{}{}{}</tr>",
                esc(&se.name),
                esc(&se.name),
                esc(&fmt_bytes(p.file_bytes)),
                num(
                    "throughput_mib_s",
                    p.throughput_mib_s,
                    &fmt_mib_s(p.throughput_mib_s),
                    ""
                ),
                num(
                    "syscalls_per_mib",
                    p.syscalls_per_mib,
                    &p.syscalls_per_mib
                        .map_or_else(|| w.na.to_string(), |v| format!("{v:.1}")),
                    ""
                ),
                num(
                    "cpu_ns_per_gib",
                    p.cpu_ns_per_gib,
                    &p.cpu_ns_per_gib
                        .map_or_else(|| w.na.to_string(), |v| fmt_ms(v as u64)),
                    ""
                ),
            );
        }
    }
    s.push_str("</tbody></table></div></section>");
    for pt in &sw.points {
        let _ = write!(
            s,
            "<section class=\"point\"><h2>{}</h2>{}{}{}</section>",
            esc(&(w.point)(
                &fmt_bytes(pt.file_bytes),
                &fmt_bytes(pt.buffer_bytes)
            )),
            header(&pt.report, w),
            table(&pt.report, w),
            cpu_section(&pt.report, lang)
        );
    }
    page(w, w.sweep_title, &s)
}

/// The trace page: what was followed, the path, each thread's figures and CPU by category,
/// and each thread's flame graph.
fn trace_page(t: &TraceReport, lang: Lang) -> String {
    let w = words(lang);
    let mut s = trace_header(t, w);
    s.push_str(&threads_section(t, w));
    s.push_str(&flames_section(&trace_graphs(t), w));
    page(w, w.trace_title, &s)
}

/// The trace page's header: the command run or the pid attached to, how it ended, its wall
/// time, the path's verdict, and why there is no profile when there is none.
fn trace_header(t: &TraceReport, w: &PageWords) -> String {
    let mut s = format!(
        "<header><h1>{}</h1><dl class=\"facts\">",
        esc(w.trace_title)
    );
    match (&t.command, t.pid) {
        (Some(c), _) => fact(&mut s, w.command, &c.join(" ")),
        (None, Some(p)) => fact(&mut s, w.attached, &p.to_string()),
        _ => {}
    }
    fact(&mut s, w.ended, t.ended.name());
    fact(&mut s, w.wall, &format!("{} ms", fmt_ms(t.wall_ns)));
    if let Some(p) = &t.path {
        fact(&mut s, w.path_verdict, &p.words);
    }
    if let Some(u) = &t.profile_unavailable {
        fact(&mut s, w.no_profile, u);
    }
    s.push_str("</dl></header>");
    s
}

/// The threads section: the legend, then a row per thread, every bar on one scale (the CPU of
/// the costliest thread).
fn threads_section(t: &TraceReport, w: &PageWords) -> String {
    let max = t
        .threads
        .iter()
        .filter_map(|th| th.cpu.as_ref())
        .map(|c| c.ns.values().sum::<u64>())
        .max()
        .unwrap_or(0) as f64;
    let mut s = format!(
        "<section id=\"threads\"><h2>{}</h2>{}<div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(w.threads),
        legend(w),
        esc(w.process),
        esc(w.thread),
        esc(w.moved),
        esc(w.samples),
        esc(w.copy_per_gib),
        esc(w.cpu_ms_col)
    );
    for th in &t.threads {
        s.push_str(&thread_row(t, th, max, w));
    }
    s.push_str("</tbody></table></div></section>");
    s
}

/// One thread's row: its process, its name, the bytes it moved, its samples, its copy time per
/// GiB, and its CPU bar on the scale `max` ns (none without a profile, or when no thread has CPU).
fn thread_row(t: &TraceReport, th: &TraceThread, max: f64, w: &PageWords) -> String {
    let pname = t
        .processes
        .iter()
        .find(|p| p.pid == th.pid)
        .map_or("?", |p| p.name.as_str());
    let cpu = th.cpu.as_ref();
    let bar = cpu
        .filter(|_| max > 0.0)
        .map_or_else(String::new, |c| thread_bar(th, c, max, w));
    format!(
        "<tr data-tid=\"{}\"><td>{} ({})</td><td>{} ({})</td><td class=\"n\">{}</td>{}{}<td style=\"min-width:18rem\">{bar}</td></tr>",
        th.tid,
        esc(pname),
        th.pid,
        esc(&th.name),
        th.tid,
        esc(&fmt_bytes(th.moved_bytes)),
        num(
            "cpu.samples",
            cpu.map(|c| c.samples),
            &cpu.map_or_else(|| w.na.to_string(), |c| table::thousands(c.samples)),
            ""
        ),
        num(
            "cpu.copy_ns_per_gib",
            cpu.and_then(|c| c.copy_ns_per_gib),
            &cpu.and_then(|c| c.copy_ns_per_gib)
                .map_or_else(|| w.na.to_string(), |v| fmt_ms(v as u64)),
            ""
        ),
    )
}

/// The category a part of a traced thread's bar draws, if any: a trace keeps a thread's CPU by
/// category only, so all its copies make one segment and the softirq share gets none.
fn trace_part_category(part: BarPart) -> Option<Category> {
    match part {
        BarPart::Copy => Some(Category::Copy),
        BarPart::CopyInSoftirq => None,
        BarPart::Other(c) => Some(c),
    }
}

/// A traced thread's CPU as a stacked bar on the scale `max` ns: a segment per category
/// (colour and pattern, its name and ms in the tooltip), its total in ms at the end.
fn thread_bar(th: &TraceThread, c: &ThreadCpu, max: f64, w: &PageWords) -> String {
    let mut bar = format!(
        r#"<svg class="bar" viewBox="0 0 600 40" role="img" data-tid="{}" aria-label="{}">"#,
        th.tid,
        esc(&th.name)
    );
    let mut x = 0.0;
    for (i, (part, _, _, _)) in LEGEND.iter().enumerate() {
        let Some(cat) = trace_part_category(*part) else {
            continue;
        };
        let ns = c.ns.get(&cat).copied().unwrap_or(0);
        let width = ns as f64 / max * BAR_W;
        let _ = write!(
            bar,
            r#"<rect data-part="{}" data-ns="{ns}" x="{x:.2}" y="4" width="{width:.2}" height="32" fill="url(#p{i})"><title>{}: {} ms</title></rect>"#,
            cat.name(),
            esc(w.parts[i]),
            fmt_ms(ns)
        );
        x += width;
    }
    let _ = write!(
        bar,
        r#"<text class="total" x="{:.2}" y="26">{} ms</text></svg>"#,
        x + 6.0,
        fmt_ms(c.ns.values().sum())
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_name_every_part() {
        for w in [words(Lang::En), words(Lang::Zh)] {
            assert!(w.parts.iter().all(|p| !p.is_empty()));
        }
        assert_eq!(words(Lang::En).parts[0], Category::Copy.name());
    }

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(esc("a\u{1b}[31m"), "a\u{FFFD}[31m");
    }
}
