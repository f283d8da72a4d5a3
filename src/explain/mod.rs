//! `copylab explain`: the lesson beside the measurement. For each path, a picture drawn from the
//! method's textbook [`Model`](crate::method::Model) and, below it, the receiver's (one source of
//! truth each), the textbook counts, what Linux really does, and with `--measure` the figures of
//! a real run, on the picture's arrows and in words, and whether they agree. `explain receive`
//! is the receiving end's lesson. What to say is decided here, once; how to say it is a
//! language's table in [`crate::report::lesson`]; everything is laid out for the screen's width.

pub mod diagram;
pub mod kafka;
pub mod receive;

use std::fmt::Write as _;

use anyhow::Result;

use crate::compare::{self, CompareOptions};
use crate::method::{Call as ModelCall, MethodKind, Model, Place, StepKind, Textbook};
use crate::receive::ReceiverKind;
use crate::report::Screen;
use crate::report::lesson::{self, CallName, Heading, LeftOut, Msg};
use crate::report::thousands;
use crate::results::{MethodResult, Report};
use crate::syscall::Syscall;
use crate::transport::Transport;
use diagram::{Figures, Picture};

pub use crate::report::text::Lang;

/// Figures of a real run, for the "measured here" part.
pub struct RunFigures {
    pub bytes: u64,
    pub transport: &'static str,
    /// The wire the run used (what stands in for the NIC).
    pub link: Transport,
    /// The page cache as the runs found it: "warm", "cold", "partial" or "unknown".
    pub cache_state: crate::results::CacheState,
    pub runs: u32,
    pub syscalls: Option<u64>,
    /// "sendfile64 1" style, by name.
    pub by_name: String,
    /// Every call of the serving thread by kernel name (perf's, or the path's own count when
    /// perf could not count), as the picture writes them on its arrows.
    pub calls: Vec<(Syscall, u64)>,
    /// Every syscall of the receiving thread (perf), or None.
    pub receiver_syscalls: Option<u64>,
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
    /// Each thread's sampled copy time, ms per GiB, on its own (None where its samples are
    /// too few): what the picture writes on the copying arrows.
    pub serving_copy_ms: Option<f64>,
    pub receiver_copy_ms: Option<f64>,
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

/// The copy figures of one method (and read-write's), every run's samples pooled as compare's
/// table reads them; None without a profile or when the samples are too few to say.
fn copies_of(m: &MethodResult, rw: &MethodResult) -> Option<MeasuredCopies> {
    use crate::counters::profile::Category::Copy;
    let p = m.profile.as_ref()?;
    let rwp = rw.profile.as_ref()?;
    let ms = |ns: f64| ns / 1e6;
    Some(MeasuredCopies {
        serving_ms_per_gib: ms(p.serving.ns_per_gib(Copy)?),
        serving_share_pct: p.serving.share(Copy)? * 100.0,
        receiver_ms_per_gib: ms(p.receiver.ns_per_gib(Copy)?),
        receiver_share_pct: p.receiver.share(Copy)? * 100.0,
        rw_serving_ms_per_gib: ms(rwp.serving.ns_per_gib(Copy)?),
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

/// What to explain.
#[derive(Debug, Clone)]
pub struct ExplainOptions {
    /// One path, or all of them (then the myths too).
    pub method: Option<MethodKind>,
    /// Only the myths.
    pub myths_only: bool,
    /// The Kafka answer instead of a path.
    pub kafka: bool,
    /// The receiving end's lesson instead of a path.
    pub receive: bool,
    pub lang: Lang,
    /// Run a quick measurement and write its figures in.
    pub measure: bool,
    /// File size for `--measure`.
    pub size: u64,
    /// Where `--measure` runs the two threads.
    pub cpus: crate::placement::Cpus,
    /// The width and characters the text is laid out for.
    pub screen: Screen,
}

/// A title line ("━━ …"), wrapped under itself.
fn title_line(screen: &Screen, lang: Lang, title: &str) -> String {
    wrap_for(screen, lang, &format!("━━ {title}"), "", 3)
}

/// `text` after `first` wrapped to the screen's width; on a screen without box drawing,
/// symbols spelled out first (everything ASCII in English, words kept in Chinese).
fn wrap_for(screen: &Screen, lang: Lang, text: &str, first: &str, indent: usize) -> String {
    use crate::report::text::{plain, wrap};
    if screen.unicode() {
        wrap(text, screen.width, first, indent)
    } else {
        wrap(
            &plain(text, lang),
            screen.width,
            &plain(first, lang),
            indent,
        )
    }
}

/// The picture of `kind`: its model above, the receiver's recv below.
pub fn picture(kind: MethodKind) -> Picture<'static> {
    Picture {
        sender: Some(kind.model()),
        receiver: Some(ReceiverKind::Recv.model()),
    }
}

/// The whole text for one path, laid out for `screen`.
pub fn render_path(
    kind: MethodKind,
    lang: Lang,
    screen: &Screen,
    measured: Option<&RunFigures>,
) -> String {
    let t = lesson::table(lang);
    let say = |m: &Msg| lesson::say(lang, m);
    let wrap = |text: &str, first: &str, indent: usize| wrap_for(screen, lang, text, first, indent);
    let mut out = title_line(screen, lang, &say(&Msg::Title(kind)));
    out.push('\n');
    let figures = measured.map(|m| figures_of(kind, m, lang));
    for l in diagram::draw(
        &picture(kind),
        lang,
        screen.width,
        screen.unicode(),
        figures.as_ref(),
    ) {
        let _ = writeln!(out, "{l}");
    }
    out.push('\n');
    out.push_str(&wrap(&say(&Msg::Legend), "  ", 2));
    out.push('\n');
    let colon = t.colon;
    let _ = writeln!(out, "{}{colon}", say(&Msg::Heading(Heading::Steps)));
    for line in step_lines(kind.model(), 1, lang) {
        out.push_str(&wrap(&line, "  ", 9));
    }
    out.push('\n');
    out.push_str(&wrap(
        &format!("{}{colon}", say(&Msg::Heading(Heading::Receiver))),
        "",
        2,
    ));
    for line in step_lines(
        ReceiverKind::Recv.model(),
        kind.model().steps.len() + 1,
        lang,
    ) {
        out.push_str(&wrap(&line, "  ", 9));
    }
    out.push('\n');
    out.push_str(&wrap(
        &textbook_text(&kind.textbook(), lang),
        &format!(
            "{}{colon}{}",
            say(&Msg::Heading(Heading::Textbook)),
            t.colon_space
        ),
        2,
    ));
    out.push('\n');
    let _ = writeln!(out, "{}{colon}", say(&Msg::Heading(Heading::Reality)));
    for r in (t.reality)(kind) {
        out.push_str(&wrap(r, "  • ", 4));
    }
    out.push('\n');
    let _ = writeln!(out, "{}{colon}", say(&Msg::Heading(Heading::Sources)));
    for s in kind.sources() {
        out.push_str(&wrap(s, "  • ", 4));
    }
    if let Some(m) = measured {
        out.push('\n');
        let _ = writeln!(out, "{}{colon}", say(&Msg::Heading(Heading::Measured)));
        for l in measured_lines(m, lang) {
            out.push_str(&wrap(&l, "  ", 2));
        }
        out.push_str(&wrap(&verdict(m, lang), "  → ", 4));
    }
    if !screen.unicode() {
        // The headings and lines written straight, not through wrap, in ASCII too.
        out = crate::report::text::plain(&out, lang);
    }
    out
}

/// How many calls of `call` `counts` holds (under the syscall the kernel counts it as), or None
/// when it holds none.
pub fn count_of(call: ModelCall, counts: &[(Syscall, u64)]) -> Option<u64> {
    let counted = call.counted()?;
    let n: u64 = counts
        .iter()
        .filter(|(k, _)| *k == counted)
        .map(|(_, n)| *n)
        .sum();
    (n > 0).then_some(n)
}

/// "×2,048" after each call of `model` that `counts` has a figure for.
pub fn call_figures(model: &Model, counts: &[(Syscall, u64)]) -> Vec<(ModelCall, String)> {
    let mut out: Vec<(ModelCall, String)> = Vec::new();
    for s in model.steps {
        let Some(c) = s.call else { continue };
        if c.is_op() || out.iter().any(|(k, _)| *k == c) {
            continue;
        }
        if let Some(n) = count_of(c, counts) {
            out.push((c, format!("×{}", thousands(n))));
        }
    }
    out
}

/// The numbers of the steps that copy (or may, without scatter-gather): "②+③" when several.
fn copy_steps(model: &Model, first: usize) -> (Vec<usize>, String) {
    let idx: Vec<usize> = model
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            matches!(
                s.kind,
                StepKind::Cpu | StepKind::CpuUnlessSg | StepKind::Pin
            )
        })
        .map(|(i, _)| i)
        .collect();
    let names = if idx.len() > 1 {
        idx.iter()
            .map(|i| diagram::circled(first + i).to_string())
            .collect::<Vec<_>>()
            .join("+")
    } else {
        String::new()
    };
    (idx, names)
}

/// The run's figures on the picture of `kind`: the cache on the disk's arrow, the wire on the
/// NIC's, faults on a mapping, the serving thread's copy time on its (last) copying step, the
/// completions on a pinned send, io_uring_enter's count; the receiver's copy and syscalls on
/// its recv; each call's count on the user/kernel line.
pub fn figures_of(kind: MethodKind, m: &RunFigures, lang: Lang) -> Figures {
    let say = |msg: &Msg| lesson::say(lang, msg);
    let model = kind.model();
    let (copying, names) = copy_steps(model, 1);
    let last_op = model
        .steps
        .iter()
        .rposition(|s| s.call.is_some_and(ModelCall::is_op));
    let enters = count_of_name(Syscall::IoUringEnter, &m.calls);
    let mut sender = Vec::new();
    for (i, s) in model.steps.iter().enumerate() {
        let mut parts: Vec<String> = step_fact(s, m, lang).into_iter().collect();
        if copying.last() == Some(&i) {
            parts.push(say(&Msg::FigCopy {
                steps: &names,
                ms_per_gib: m.serving_copy_ms,
            }));
        }
        if last_op == Some(i)
            && let Some(n) = enters
        {
            parts.push(say(&Msg::FigEnters(n)));
        }
        parts.retain(|p| !p.is_empty());
        sender.push((!parts.is_empty()).then(|| parts.join(" · ")));
    }
    let mut receiver = Vec::new();
    for s in ReceiverKind::Recv.model().steps {
        let mut parts: Vec<String> = Vec::new();
        if s.from == Place::Nic {
            parts.push(say(&Msg::FigWire(m.link)));
        } else if s.kind == StepKind::Cpu {
            parts.push(say(&Msg::FigCopy {
                steps: "",
                ms_per_gib: m.receiver_copy_ms,
            }));
            if let Some(n) = m.receiver_syscalls {
                parts.push(say(&Msg::FigSyscalls(n)));
            }
        }
        receiver.push((!parts.is_empty()).then(|| parts.join(" · ")));
    }
    Figures {
        sender,
        receiver,
        calls: call_figures(model, &m.calls),
    }
}

/// What a sender's step says of the run by its kind: the page cache before it (disk), the
/// wire (NIC), the faults (map), the sends the kernel copied (pin).
fn step_fact(s: &crate::method::Step, m: &RunFigures, lang: Lang) -> Option<String> {
    let say = |msg: &Msg| lesson::say(lang, msg);
    match (s.kind, s.from, s.to) {
        (StepKind::Dma, Place::Disk, _) => Some(say(&Msg::FigCache(m.cache_state))),
        (StepKind::Dma, _, Place::Nic) => Some(say(&Msg::FigNoNic(m.link))),
        (StepKind::Map, _, _) => Some(say(&Msg::FigFaults(m.minor_faults))),
        (StepKind::Pin, _, _) => m.zerocopy.map(|z| {
            say(&Msg::FigCopied {
                copied: z.copied,
                sends: z.sends,
            })
        }),
        _ => None,
    }
}

/// The count of one syscall in `counts`.
fn count_of_name(name: Syscall, counts: &[(Syscall, u64)]) -> Option<u64> {
    counts.iter().find(|(k, _)| *k == name).map(|(_, n)| *n)
}

/// One line per step of `model`, numbered from `first`: number, kind, from → to, and when it
/// happens.
pub fn step_lines(model: &Model, first: usize, lang: Lang) -> Vec<String> {
    let say = |m: &Msg| lesson::say(lang, m);
    let mut lines = Vec::new();
    for (i, s) in model.steps.iter().enumerate() {
        let mut line = format!(
            "{} {:<4} {} → {} · {}",
            diagram::circled(first + i),
            diagram::tag(s.kind),
            say(&Msg::Place(s.from)),
            say(&Msg::Place(s.to)),
            say(&Msg::Step(s.kind))
        );
        // The call that first touches the pages: the first later one that is not a mapping
        // (write, sendto, …).
        let toucher = model.steps[i + 1..]
            .iter()
            .find(|n| n.kind != StepKind::Map)
            .and_then(|n| n.call)
            .map(CallName::from);
        let call = s.call.map(CallName::from);
        let when = match (s.kind, s.from, call) {
            // The disk is read only on a page-cache miss, and often earlier, by readahead.
            (StepKind::Dma, Place::Disk, call) => Some(Msg::DiskDma { call, toucher }),
            // The receiving end's packet: a NIC's DMA, or on loopback no such thing.
            (StepKind::Dma, Place::Nic, _) => Some(Msg::WireDma),
            // mmap reserves addresses; faults on first touch map the pages.
            (StepKind::Map, _, Some(call)) if s.from == Place::PageCache => {
                Some(Msg::MappedByFaults { call, toucher })
            }
            (_, _, Some(call)) => Some(Msg::During(call)),
            _ => None,
        };
        if let Some(when) = when {
            let _ = write!(line, " · {}", say(&when));
        }
        lines.push(line);
    }
    lines
}

/// The textbook paragraph: copies, transitions and the syscalls of a chunk (or a batch).
fn textbook_text(t: &Textbook, lang: Lang) -> String {
    let say = |m: &Msg| lesson::say(lang, m);
    let copies = say(&Msg::TextbookCopies {
        cpu: t.cpu_copies,
        sg: t.cpu_copies_with_sg_dma,
    });
    let calls = if t.syscalls_per_batch.is_empty() {
        say(&Msg::SyscallsPerChunk(&t.syscalls_per_chunk))
    } else {
        say(&Msg::SyscallsPerBatch(&t.syscalls_per_batch))
    };
    let once = if t.syscalls_once.is_empty() {
        String::new()
    } else {
        say(&Msg::SyscallsOnce(&t.syscalls_once))
    };
    say(&Msg::Textbook {
        copies: &copies,
        dma: t.dma_copies,
        transitions: t.transitions,
        calls: &calls,
        once: &once,
    })
}

/// The figures of a run, one line each (the zero-copy, worker and profile lines only where
/// the path and the run have them).
fn measured_lines(m: &RunFigures, lang: Lang) -> Vec<String> {
    let mut v = vec![
        Msg::MeasuredCalls {
            bytes: m.bytes,
            transport: m.transport,
            runs: m.runs,
            syscalls: m.syscalls,
            by_name: &m.by_name,
            read_write: m.rw_syscalls,
        },
        Msg::MeasuredCounts {
            voluntary: m.voluntary,
            involuntary: m.involuntary,
            minor_faults: m.minor_faults,
            major_faults: m.major_faults,
            sys_ms: m.sys_ms,
            read_write_sys_ms: m.rw_sys_ms,
        },
    ];
    if let Some(z) = &m.zerocopy {
        v.push(Msg::ZeroCopySends {
            sends: z.sends,
            completed: z.completed,
            copied: z.copied,
            plain_fallback: z.plain_fallback,
        });
    }
    if let Some(ms) = m.worker_cpu_ms {
        v.push(Msg::WorkerCpu { ms });
    }
    if let Some(c) = &m.copies {
        v.push(Msg::SampledCopies {
            serving_ms_per_gib: c.serving_ms_per_gib,
            serving_share_pct: c.serving_share_pct,
            read_write_ms_per_gib: c.rw_serving_ms_per_gib,
            receiver_ms_per_gib: c.receiver_ms_per_gib,
            receiver_share_pct: c.receiver_share_pct,
        });
    }
    v.iter().map(|msg| lesson::say(lang, msg)).collect()
}

/// Whether the measured count agrees with the model, and what the switches say.
fn verdict(m: &RunFigures, lang: Lang) -> String {
    let say = |msg: &Msg| lesson::say(lang, msg);
    match (m.syscalls, m.expected_syscalls) {
        (Some(got), Some(want)) if got == want => {
            let switches = match m.voluntary {
                0 => say(&Msg::NeverBlocked),
                n => say(&Msg::Blocked { times: n }),
            };
            let left_out = if m.with_munmap {
                LeftOut::Munmap
            } else if m.fresh_regions > 0 {
                LeftOut::FreshPages
            } else {
                LeftOut::Nothing
            };
            say(&Msg::Agrees {
                per_chunk: &m.per_chunk,
                chunks: m.chunks,
                fresh_regions: m.fresh_regions,
                syscalls: want,
                textbook_transitions: m.textbook_transitions,
                left_out,
                switches: &switches,
            })
        }
        (Some(got), Some(want)) => say(&Msg::Differs { got, want }),
        (Some(got), None) => say(&Msg::NoFixedCount {
            got,
            per_chunk: &m.per_chunk,
        }),
        _ => say(&Msg::NotCounted),
    }
}

/// The myths section, laid out for `screen`.
pub fn render_myths(lang: Lang, screen: &Screen) -> String {
    let t = lesson::table(lang);
    let mut out = title_line(
        screen,
        lang,
        &lesson::say(lang, &Msg::Heading(Heading::Myths)),
    );
    out.push('\n');
    for (i, m) in t.myths.iter().enumerate() {
        out.push_str(&wrap_for(screen, lang, m.claim, &format!("{}. ", i + 1), 3));
        out.push_str(&wrap_for(screen, lang, m.truth, "   ", 3));
        out.push_str(&wrap_for(screen, lang, m.command, "   $ ", 5));
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

/// Turn a compare report into the figures explain writes in, in `lang`.
pub fn measured_from(kind: MethodKind, report: &Report, lang: Lang) -> Option<RunFigures> {
    let m = report.method(kind)?;
    let rw = report.method(MethodKind::ReadWrite)?;
    let med = &m.median.cost;
    let expected = kind.expected(&report.layout());
    let calls: Vec<(Syscall, u64)> = match med.syscalls.total {
        Some(_) => med
            .syscalls
            .by_name
            .iter()
            .filter_map(|(k, v)| v.filter(|n| *n > 0).map(|n| (*k, n)))
            .collect(),
        None => med.self_counted.iter().map(|(k, n)| (*k, *n)).collect(),
    };
    Some(RunFigures {
        bytes: report.file.bytes,
        transport: match report.transport {
            Transport::Tcp => "tcp 127.0.0.1",
            Transport::Unix => "unix socket",
            Transport::Veth => "tcp over veth",
        },
        link: report.transport,
        cache_state: report.cache.state,
        calls,
        receiver_syscalls: m.median.receiver.as_ref().and_then(|r| r.syscalls.total),
        runs: report.options.runs,
        syscalls: med.syscalls.total,
        by_name: match med.syscalls.total {
            Some(_) => by_name_text(m),
            None => lesson::say(lang, &Msg::SelfCountedNames(&by_name_text(m))),
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
        serving_copy_ms: m.profile.as_ref().and_then(|p| {
            p.serving
                .ns_per_gib(crate::counters::profile::Category::Copy)
                .map(|ns| ns / 1e6)
        }),
        receiver_copy_ms: m.profile.as_ref().and_then(|p| {
            p.receiver
                .ns_per_gib(crate::counters::profile::Category::Copy)
                .map(|ns| ns / 1e6)
        }),
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

/// Sections of bullets under a title, laid out for `screen`.
pub fn render_sections(title: &str, sections: &[Section], lang: Lang, screen: &Screen) -> String {
    let mut out = title_line(screen, lang, title);
    out.push_str(&render_body(sections, lang, screen));
    out
}

/// Sections of bullets, each after a blank line, laid out for `screen`.
pub fn render_body(sections: &[Section], lang: Lang, screen: &Screen) -> String {
    let colon = lesson::table(lang).colon;
    let mut out = String::new();
    for s in sections {
        out.push('\n');
        out.push_str(&wrap_for(
            screen,
            lang,
            &format!("{}{colon}", s.heading),
            "",
            2,
        ));
        for b in &s.bullets {
            out.push_str(&wrap_for(screen, lang, b, "  • ", 4));
        }
    }
    out
}

/// The Kafka answer: sections of bullets, figures beside each step when measured.
pub fn render_kafka(lang: Lang, screen: &Screen, f: Option<&KafkaFigures>) -> String {
    render_sections(
        &lesson::say(lang, &Msg::KafkaTitle),
        &kafka::answer(lang, f),
        lang,
        screen,
    )
}

/// Each warning of a run, on lines of its own after the text.
fn warnings(out: &mut String, ws: &[String], screen: &Screen) {
    // Warnings are English.
    let lang = Lang::En;
    for w in ws {
        out.push('\n');
        out.push_str(&wrap_for(screen, lang, w, "warning: ", 9));
    }
}

/// Run explain and return its text.
pub fn run(opts: &ExplainOptions) -> Result<String> {
    let screen = &opts.screen;
    if opts.myths_only {
        return Ok(render_myths(opts.lang, screen));
    }
    if opts.receive {
        let measured = if opts.measure {
            Some(receive::measure(opts.size, opts.cpus)?)
        } else {
            None
        };
        let mut out = receive::render(opts.lang, screen, measured.as_ref());
        if let Some(r) = measured.as_ref().and_then(|m| m.report.as_ref()) {
            warnings(&mut out, &r.warnings, screen);
        }
        return Ok(out);
    }
    if opts.kafka {
        let measured = if opts.measure {
            Some(kafka::measure(opts.size, opts.cpus)?)
        } else {
            None
        };
        let figures = measured.as_ref().map(kafka_figures);
        let mut out = render_kafka(opts.lang, screen, figures.as_ref());
        if let Some(m) = &measured {
            warnings(&mut out, &m.report.warnings, screen);
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
        let measured = report
            .as_ref()
            .and_then(|r| measured_from(*k, r, opts.lang));
        out.push_str(&render_path(*k, opts.lang, screen, measured.as_ref()));
    }
    if let Some(r) = &report {
        warnings(&mut out, &r.warnings, screen);
    }
    if opts.method.is_none() {
        out.push('\n');
        out.push_str(&render_myths(opts.lang, screen));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::text::{Charset, wrap};
    use unicode_width::UnicodeWidthStr;

    fn screen(width: usize, charset: Charset) -> Screen {
        Screen {
            color: false,
            width,
            wide: false,
            charset,
        }
    }

    #[test]
    fn every_line_fits_80_100_and_120_columns() {
        for width in [80, 100, 120] {
            for charset in [Charset::Unicode, Charset::Ascii] {
                let sc = screen(width, charset);
                for lang in [Lang::En, Lang::Zh] {
                    let mut all = String::new();
                    for k in MethodKind::ALL {
                        all.push_str(&render_path(k, lang, &sc, None));
                    }
                    all.push_str(&render_myths(lang, &sc));
                    all.push_str(&render_kafka(lang, &sc, None));
                    all.push_str(&receive::render(lang, &sc, None));
                    for line in all.lines() {
                        assert!(
                            line.width() <= width,
                            "{lang:?} at {width}: {} cols: {line}",
                            line.width()
                        );
                    }
                    if charset == Charset::Ascii {
                        // English all ASCII; Chinese keeps its words, but no box drawing.
                        if lang == Lang::En {
                            assert!(all.is_ascii(), "{lang:?} at {width}: not ASCII");
                        }
                        assert!(
                            !all.contains(['─', '━', '│', '┌', '①', '▶', '•']),
                            "{lang:?} at {width}: drawing characters"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn diagrams_number_every_step_with_its_kind() {
        for width in [80, 100, 120] {
            for lang in [Lang::En, Lang::Zh] {
                for k in MethodKind::ALL {
                    let sender = Picture {
                        sender: Some(k.model()),
                        receiver: None,
                    };
                    let text = diagram::draw(&sender, lang, width, true, None).join("\n");
                    for (i, s) in k.model().steps.iter().enumerate() {
                        let label = format!("{}{}", diagram::circled(i + 1), diagram::tag(s.kind));
                        assert!(text.contains(&label), "{k} {lang:?}: no {label}\n{text}");
                    }
                    // Copies drawn = copies in the model: the table and the picture cannot
                    // disagree. A pinned send is a CPU copy without scatter-gather: counted like
                    // CPU*.
                    let pins = k
                        .model()
                        .steps
                        .iter()
                        .filter(|s| s.kind == StepKind::Pin)
                        .count();
                    let cpu = (text.matches("CPU").count() + pins) as u32;
                    let dma = text.matches("DMA").count() as u32;
                    assert_eq!(cpu, k.textbook().cpu_copies, "{k}\n{text}");
                    assert_eq!(dma, k.textbook().dma_copies, "{k}\n{text}");
                    for call in k.model().per_chunk.iter().chain(k.model().once) {
                        let call = call.word();
                        assert!(text.contains(&format!("{call}()")), "{k}: {call}()\n{text}");
                    }
                    // An io_uring path shows the operations it submits, and says what carries
                    // them.
                    if !k.model().per_batch.is_empty() {
                        assert!(text.contains(" IORING_OP_"), "{k}\n{text}");
                        let full = render_path(k, lang, &screen(width, Charset::Unicode), None);
                        assert!(full.contains("io_uring_enter()"), "{k}\n{full}");
                    }
                    // With the receiver below: one more CPU copy, in recv(), numbered on.
                    let both = diagram::draw(&picture(k), lang, width, true, None).join("\n");
                    assert_eq!(
                        both.matches("CPU").count() as u32 + pins as u32,
                        k.textbook().cpu_copies + 1,
                        "{k}\n{both}"
                    );
                    let n = k.model().steps.len();
                    let recv = format!("{}CPU", diagram::circled(n + 2));
                    assert!(
                        both.contains(&recv) && both.contains("recv()"),
                        "{k}\n{both}"
                    );
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
        // A path longer than a line breaks after a slash; a long word without one stays whole.
        let text = "see src/java.base/linux/native/libnio/ch/X.c here";
        let p = wrap(text, 20, "", 2);
        assert!(p.lines().all(|l| l.width() <= 20), "{p}");
        assert!(p.lines().skip(1).all(|l| !l.trim().is_empty()), "{p}");
        let squash = |t: &str| t.split_whitespace().collect::<String>();
        assert_eq!(squash(&p), squash(text), "{p}");
        assert!(p.lines().any(|l| l.trim_end().ends_with('/')), "{p}");
        assert_eq!(wrap("abcdefghij", 4, "", 0), "abcdefghij\n");
    }

    #[test]
    fn figures_go_on_the_arrows() {
        let f = Figures {
            sender: vec![
                Some("cached: disk not read".into()),
                Some("copy 1.2 ms/GiB".into()),
                Some("lo: no NIC, no DMA".into()),
            ],
            receiver: vec![
                Some("lo: skb handed over".into()),
                Some("copy 151 ms/GiB · 14 syscalls".into()),
            ],
            calls: vec![(crate::method::call::SENDFILE, "×1".into())],
        };
        for width in [80, 100, 120] {
            let lines = diagram::draw(
                &picture(MethodKind::Sendfile),
                Lang::En,
                width,
                true,
                Some(&f),
            );
            let text = lines.join("\n");
            for want in [
                "sendfile() ×1",
                "cached: disk not read",
                "copy 1.2 ms/GiB",
                "lo: no NIC, no DMA",
                "lo: skb handed over",
                "copy 151 ms/GiB · 14 syscalls",
            ] {
                assert!(text.contains(want), "at {width}: {want}\n{text}");
            }
            assert!(lines.iter().all(|l| l.width() <= width), "{text}");
        }
    }
}
