//! `copylab explain`: the lesson beside the measurement. For each path, a diagram drawn from the
//! method's textbook [`Model`](crate::method::Model) (one source of truth), the textbook counts,
//! what Linux really does, and with `--measure` the figures of a real run and whether they agree.
//! Every text lives in one file per language ([`en`], [`zh`]): a third language is one file.

mod diagram;
mod en;
pub mod kafka;
mod zh;

use std::fmt::Write as _;

use anyhow::Result;

use crate::compare::{self, CompareOptions};
use crate::method::{Band, MethodKind, Place, StepKind, Textbook};
use crate::results::{MethodResult, Report};
use crate::transport::Transport;

pub use crate::report::text::MAX_WIDTH;

pub use crate::report::text::{Lang, wrap};

/// The texts of one language.
fn texts(lang: Lang) -> &'static dyn Texts {
    match lang {
        Lang::En => &en::English,
        Lang::Zh => &zh::Chinese,
    }
}

/// A common interview claim, what is true instead, and the command that shows it.
pub struct Myth {
    pub claim: &'static str,
    pub truth: &'static str,
    pub command: &'static str,
}

/// Figures of a real run, for the "measured here" part.
pub struct Measured {
    pub bytes: u64,
    pub transport: &'static str,
    pub runs: u32,
    pub syscalls: Option<u64>,
    /// "sendfile64 1" style, by name.
    pub by_name: String,
    pub rw_syscalls: Option<u64>,
    /// What the model predicts for this size and these settings.
    pub expected_syscalls: Option<u64>,
    /// The calls of one chunk, e.g. "pread64 + write".
    pub per_chunk: String,
    pub chunks: u64,
    /// The textbook's transitions for this path (one chunk, no munmap).
    pub textbook_transitions: u32,
    /// The count includes munmap, which the textbook leaves out.
    pub with_munmap: bool,
    /// vmsplice: fresh regions mapped (one mmap + munmap each), on top of the chunks' calls.
    pub fresh_regions: u64,
    pub voluntary: u64,
    pub involuntary: u64,
    pub minor_faults: u64,
    pub major_faults: u64,
    pub sys_ms: f64,
    pub rw_sys_ms: f64,
    /// Zero-copy sends and completions (zero-copy paths only).
    pub zerocopy: Option<crate::sys::ZeroCopy>,
    /// CPU of io_uring's worker threads, ms (io_uring paths only).
    pub worker_cpu_ms: Option<f64>,
    /// From the cpu-clock profile (None when it could not be taken): the same figures as
    /// compare's copy column and verdicts.
    pub copies: Option<MeasuredCopies>,
}

/// Copy time measured by sampling, ms per GiB moved, and the share of each thread's samples.
pub struct MeasuredCopies {
    pub serving_ms_per_gib: f64,
    pub serving_share_pct: f64,
    pub receiver_ms_per_gib: f64,
    pub receiver_share_pct: f64,
    /// read-write's serving thread, for comparison.
    pub rw_serving_ms_per_gib: f64,
}

/// The copy figures of one method's median run (and read-write's), or None without a profile.
fn copies_of(m: &MethodResult, rw: &MethodResult) -> Option<MeasuredCopies> {
    use crate::counters::profile::Category::Copy;
    let p = m.median.profile.as_ref()?;
    let rwp = rw.median.profile.as_ref()?;
    if m.median.bytes == 0 {
        return None;
    }
    let ms = |ns: f64| ns / 1e6;
    Some(MeasuredCopies {
        serving_ms_per_gib: ms(p.serving.ns_per_gib(Copy, m.median.bytes)),
        serving_share_pct: p.serving.share(Copy) * 100.0,
        receiver_ms_per_gib: ms(p.receiver.ns_per_gib(Copy, m.median.bytes)),
        receiver_share_pct: p.receiver.share(Copy) * 100.0,
        rw_serving_ms_per_gib: ms(rwp.serving.ns_per_gib(Copy, rw.median.bytes)),
    })
}

/// One measured path, as the Kafka answer cites it.
pub struct PathFigures {
    /// Every syscall the serving thread made (perf), or None when perf could not count.
    pub syscalls: Option<u64>,
    /// "pread64 256, write 256" (self-counted when perf could not count).
    pub by_name: String,
    pub minor_faults: u64,
    /// Sampled copy time, ms per GiB: (serving thread, receiver), or None without a profile.
    pub copy_ms_per_gib: Option<(f64, f64)>,
}

/// The figures `explain kafka --measure` writes beside each step.
pub struct KafkaFigures {
    pub bytes: u64,
    pub runs: u32,
    pub buffer_bytes: u64,
    pub pipe_bytes: Option<u64>,
    pub read_write: Option<PathFigures>,
    pub mmap: Option<PathFigures>,
    pub sendfile: Option<PathFigures>,
    pub splice: Option<PathFigures>,
    pub parallel: Vec<kafka::Parallel>,
    pub witness: kafka::Witness,
}

/// A titled block of the Kafka answer: a heading, then bullets.
pub struct Section {
    pub heading: String,
    pub bullets: Vec<String>,
}

/// Everything explain says, in one language.
pub trait Texts: Sync {
    fn band(&self, b: Band) -> &'static str;
    fn place(&self, p: Place) -> &'static str;
    fn kind(&self, k: StepKind) -> &'static str;
    fn title(&self, m: MethodKind) -> &'static str;
    fn during(&self, call: &str) -> String;
    /// When the disk is read: only on a page-cache miss, inside `call` (or, with no call, inside
    /// the fault `toucher` takes), often earlier by readahead.
    fn disk_dma(&self, call: Option<&str>, toucher: Option<&str>) -> String;
    /// `call` (mmap) reserves addresses; the pages are mapped by faults when `toucher` first
    /// touches them.
    fn mapped_by_faults(&self, call: &str, toucher: Option<&str>) -> String;
    /// What ends a heading: ":" in English, the full-width "：" in Chinese.
    fn colon(&self) -> &'static str;
    /// After a colon that starts a paragraph: a space in English, none after "：".
    fn colon_space(&self) -> &'static str;
    fn heading_steps(&self) -> &'static str;
    fn heading_textbook(&self) -> &'static str;
    fn textbook(&self, t: &Textbook) -> String;
    fn heading_reality(&self) -> &'static str;
    fn reality(&self, m: MethodKind) -> &'static [&'static str];
    fn heading_measured(&self) -> &'static str;
    fn measured(&self, m: &Measured) -> Vec<String>;
    fn verdict(&self, m: &Measured) -> String;
    fn heading_myths(&self) -> &'static str;
    /// `explain kafka`: the title, then the sections (figures written in when measured), the
    /// last one the ready-to-say answer.
    fn kafka_title(&self) -> &'static str;
    fn kafka(&self, f: Option<&KafkaFigures>) -> Vec<Section>;
    fn myths(&self) -> &'static [Myth];
    fn legend(&self) -> &'static str;
}

/// What to explain.
#[derive(Debug, Clone)]
pub struct ExplainOptions {
    /// One path, or all of them (then the myths too).
    pub method: Option<MethodKind>,
    /// Only the myths.
    pub myths_only: bool,
    /// The Kafka answer instead of a path.
    pub kafka: bool,
    pub lang: Lang,
    /// Run a quick measurement and write its figures in.
    pub measure: bool,
    /// File size for `--measure`.
    pub size: u64,
    /// Where `--measure` runs the two threads.
    pub cpus: crate::placement::Cpus,
}

/// "256 MiB" — sizes are printed the same way in every language.
pub fn size_text(bytes: u64) -> String {
    crate::size::fmt_bytes(bytes)
}

/// The whole text for one path.
pub fn render_path(kind: MethodKind, lang: Lang, measured: Option<&Measured>) -> String {
    let t = texts(lang);
    let model = kind.model();
    let mut out = String::new();
    let title = t.title(kind);
    let _ = writeln!(out, "━━ {title}");
    out.push('\n');
    for l in diagram::draw(model, t) {
        let _ = writeln!(out, "{l}");
    }
    out.push_str(&wrap(t.legend(), MAX_WIDTH, "  ", 2));
    out.push('\n');
    let colon = t.colon();
    let _ = writeln!(out, "{}{colon}", t.heading_steps());
    for (i, s) in model.steps.iter().enumerate() {
        let mut line = format!(
            "{} {:<4} {} → {} · {}",
            diagram::circled(i + 1),
            diagram::tag(s.kind),
            t.place(s.from),
            t.place(s.to),
            t.kind(s.kind)
        );
        // The call that first touches the pages: the first later one that is not a mapping
        // (write, sendto, …).
        let toucher = model.steps[i + 1..]
            .iter()
            .find(|n| n.kind != StepKind::Map)
            .and_then(|n| n.syscall);
        let when = match (s.kind, s.from, s.syscall) {
            // The disk is read only on a page-cache miss, and often earlier, by readahead.
            (StepKind::Dma, Place::Disk, call) => Some(t.disk_dma(call, toucher)),
            // mmap reserves addresses; faults on first touch map the pages.
            (StepKind::Map, _, Some(call)) => Some(t.mapped_by_faults(call, toucher)),
            (_, _, Some(call)) => Some(t.during(call)),
            _ => None,
        };
        if let Some(when) = when {
            let _ = write!(line, " · {when}");
        }
        out.push_str(&wrap(&line, MAX_WIDTH, "  ", 9));
    }
    out.push('\n');
    out.push_str(&wrap(
        &t.textbook(&kind.textbook()),
        MAX_WIDTH,
        &format!("{}{colon}{}", t.heading_textbook(), t.colon_space()),
        2,
    ));
    out.push('\n');
    let _ = writeln!(out, "{}{colon}", t.heading_reality());
    for r in t.reality(kind) {
        out.push_str(&wrap(r, MAX_WIDTH, "  • ", 4));
    }
    if let Some(m) = measured {
        out.push('\n');
        let _ = writeln!(out, "{}{colon}", t.heading_measured());
        for l in t.measured(m) {
            out.push_str(&wrap(&l, MAX_WIDTH, "  ", 2));
        }
        out.push_str(&wrap(&t.verdict(m), MAX_WIDTH, "  → ", 4));
    }
    out
}

/// The myths section.
pub fn render_myths(lang: Lang) -> String {
    let t = texts(lang);
    let mut out = format!("━━ {}\n\n", t.heading_myths());
    for (i, m) in t.myths().iter().enumerate() {
        out.push_str(&wrap(m.claim, MAX_WIDTH, &format!("{}. ", i + 1), 3));
        out.push_str(&wrap(m.truth, MAX_WIDTH, "   ", 3));
        out.push_str(&wrap(m.command, MAX_WIDTH, "   $ ", 5));
        out.push('\n');
    }
    out
}

/// How vmsplice splits `report`'s file: (pipe-fulls, fresh regions), each region a whole number
/// of pipe-fulls but the last; None when the pipe size granted is unknown.
/// The settings the report's runs used, as a path's model needs them.
fn by_name_text(m: &MethodResult) -> String {
    let v: Vec<String> = m
        .median
        .cost
        .syscalls
        .by_name
        .iter()
        .filter_map(|(k, v)| v.filter(|n| *n > 0).map(|n| format!("{k} {n}")))
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

/// Turn a compare report into the figures explain writes in.
pub fn measured_from(kind: MethodKind, report: &Report) -> Option<Measured> {
    let m = report.method(kind)?;
    let rw = report.method(MethodKind::ReadWrite)?;
    let med = &m.median.cost;
    let expected = kind.expected(&report.layout());
    Some(Measured {
        bytes: report.file.bytes,
        transport: match report.transport {
            Transport::Tcp => "tcp 127.0.0.1",
            Transport::Unix => "unix socket",
            Transport::Veth => "tcp over veth",
        },
        runs: report.options.runs,
        syscalls: med.syscalls.total,
        by_name: match med.syscalls.total {
            Some(_) => by_name_text(m),
            None => format!("self-counted: {}", by_name_text(m)),
        },
        rw_syscalls: rw.median.cost.syscalls.total,
        expected_syscalls: expected.syscalls,
        per_chunk: expected.per_chunk,
        chunks: expected.chunks,
        textbook_transitions: kind.textbook().transitions,
        with_munmap: kind == MethodKind::Mmap,
        fresh_regions: expected.fresh_regions,
        voluntary: med.context_switches.voluntary,
        involuntary: med.context_switches.involuntary,
        minor_faults: med.page_faults.minor,
        major_faults: med.page_faults.major,
        sys_ms: med.cpu.sys_ns as f64 / 1e6,
        rw_sys_ms: rw.median.cost.cpu.sys_ns as f64 / 1e6,
        zerocopy: med.zerocopy,
        worker_cpu_ms: med.io_workers.map(|w| w.cpu_ns as f64 / 1e6),
        copies: copies_of(m, rw),
    })
}

fn path_figures(report: &Report, kind: MethodKind) -> Option<PathFigures> {
    let m = report.method(kind)?;
    let rw = report.method(MethodKind::ReadWrite)?;
    let med = &m.median.cost;
    Some(PathFigures {
        syscalls: med.syscalls.total,
        by_name: by_name_text(m),
        minor_faults: med.page_faults.minor,
        copy_ms_per_gib: copies_of(m, rw).map(|c| (c.serving_ms_per_gib, c.receiver_ms_per_gib)),
    })
}

/// The figures of a Kafka measurement, as the texts cite them.
pub fn kafka_figures(m: &kafka::KafkaMeasured) -> KafkaFigures {
    let r = &m.report;
    KafkaFigures {
        bytes: r.file.bytes,
        runs: r.options.runs,
        buffer_bytes: r.options.buffer_bytes,
        pipe_bytes: r.options.pipe_bytes_granted,
        read_write: path_figures(r, MethodKind::ReadWrite),
        mmap: path_figures(r, MethodKind::Mmap),
        sendfile: path_figures(r, MethodKind::Sendfile),
        splice: path_figures(r, MethodKind::Splice),
        parallel: m.parallel.clone(),
        witness: m.witness.clone(),
    }
}

/// The Kafka answer: sections of bullets, figures beside each step when measured.
pub fn render_kafka(lang: Lang, f: Option<&KafkaFigures>) -> String {
    let t = texts(lang);
    let mut out = format!("━━ {}\n", t.kafka_title());
    for s in t.kafka(f) {
        out.push('\n');
        out.push_str(&wrap(
            &format!("{}{}", s.heading, t.colon()),
            MAX_WIDTH,
            "",
            2,
        ));
        for b in &s.bullets {
            out.push_str(&wrap(b, MAX_WIDTH, "  • ", 4));
        }
    }
    out
}

/// Run explain and return its text.
pub fn run(opts: &ExplainOptions) -> Result<String> {
    if opts.myths_only {
        return Ok(render_myths(opts.lang));
    }
    if opts.kafka {
        let measured = if opts.measure {
            Some(kafka::measure(opts.size, opts.cpus)?)
        } else {
            None
        };
        let figures = measured.as_ref().map(kafka_figures);
        let mut out = render_kafka(opts.lang, figures.as_ref());
        if let Some(m) = &measured {
            for w in &m.report.warnings {
                out.push('\n');
                out.push_str(&wrap(w, MAX_WIDTH, "warning: ", 9));
            }
        }
        return Ok(out);
    }
    let kinds: Vec<MethodKind> = match opts.method {
        Some(k) => vec![k],
        None => MethodKind::ALL.to_vec(),
    };
    let report = if opts.measure {
        let mut methods = vec![MethodKind::ReadWrite];
        methods.extend(
            kinds
                .iter()
                .copied()
                .filter(|k| *k != MethodKind::ReadWrite),
        );
        Some(compare::run(&CompareOptions::quick(
            opts.size, methods, opts.cpus,
        ))?)
    } else {
        None
    };
    let mut out = String::new();
    for (i, k) in kinds.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let measured = report.as_ref().and_then(|r| measured_from(*k, r));
        out.push_str(&render_path(*k, opts.lang, measured.as_ref()));
    }
    if let Some(r) = &report {
        for w in &r.warnings {
            out.push('\n');
            out.push_str(&wrap(w, MAX_WIDTH, "warning: ", 9));
        }
    }
    if opts.method.is_none() {
        out.push('\n');
        out.push_str(&render_myths(opts.lang));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn every_line_fits_a_projector() {
        for lang in [Lang::En, Lang::Zh] {
            let mut all = String::new();
            for k in MethodKind::ALL {
                all.push_str(&render_path(k, lang, None));
            }
            all.push_str(&render_myths(lang));
            for line in all.lines() {
                assert!(
                    line.width() <= MAX_WIDTH,
                    "{lang:?}: {} cols: {line}",
                    line.width()
                );
            }
        }
    }

    #[test]
    fn diagrams_number_every_step_with_its_kind() {
        for lang in [Lang::En, Lang::Zh] {
            for k in MethodKind::ALL {
                let text = diagram::draw(k.model(), texts(lang)).join("\n");
                for (i, s) in k.model().steps.iter().enumerate() {
                    let label = format!("{}{}", diagram::circled(i + 1), diagram::tag(s.kind));
                    assert!(text.contains(&label), "{k} {lang:?}: no {label}\n{text}");
                }
                // Copies drawn = copies in the model: the table and the picture cannot disagree.
                let cpu = text.matches("CPU").count() as u32;
                let dma = text.matches("DMA").count() as u32;
                assert_eq!(cpu, k.textbook().cpu_copies, "{k}\n{text}");
                assert_eq!(dma, k.textbook().dma_copies, "{k}\n{text}");
                for call in k.model().per_chunk.iter().chain(k.model().once) {
                    assert!(text.contains(&format!("{call}()")), "{k}: {call}()\n{text}");
                }
                // An io_uring path shows the operations it submits, and says what carries them.
                if !k.model().per_batch.is_empty() {
                    assert!(text.contains(" IORING_OP_"), "{k}\n{text}");
                    let full = render_path(k, lang, None);
                    assert!(full.contains("io_uring_enter()"), "{k}\n{full}");
                }
            }
        }
    }

    #[test]
    fn wrapping_keeps_words_and_width() {
        let w = wrap("alpha beta gamma delta", 12, "", 2);
        assert_eq!(w, "alpha beta\n  gamma\n  delta\n");
        let z = wrap("一二三四五六七八九十", 8, "", 0);
        assert!(z.lines().all(|l| l.width() <= 8), "{z}");
    }
}
