//! `copylab quiz`: predict, then measure. Questions are drawn (by `--seed`) from the paths'
//! models with parameters chosen per seed, the figures they ask about are measured on this
//! machine in this run, and each answer is checked against that run's figure — never a stored
//! number — within the tolerance the question states. Answers come one per line from a
//! terminal or from piped stdin; printing goes through [`crate::report::quiz`].

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Result, bail};

use crate::compare::{self, CompareOptions};
use crate::counters::profile::Category;
use crate::method::{Expected, MethodKind};
use crate::receive::ReceiverKind;
use crate::report::lesson::{self, Counted, MappedShare, Msg};
use crate::report::quiz as render;
use crate::report::text::Lang;
use crate::results::{MethodResult, Report};
use crate::size::fmt_bytes;

/// The smallest file the copy question is measured with.
const COPY_SIZE: u64 = 64 << 20;

/// Questions asked per quiz (drawn from [`KINDS`]).
pub const QUESTIONS: usize = 5;

/// Everything `quiz` needs, already validated.
#[derive(Debug, Clone)]
pub struct QuizOptions {
    pub lang: Lang,
    /// The same seed gives the same questions, in the same order, with the same parameters.
    pub seed: u64,
    /// Print the questions and this run's measured answers instead of asking.
    pub list: bool,
    pub json: bool,
    /// The file size the questions are about (measured with a generated file of this size).
    pub size: u64,
    pub cpus: crate::placement::Cpus,
}

/// The kinds of question the quiz can ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuestionKind {
    SpliceCalls,
    ReadWriteCalls,
    ReadWriteTransitions,
    SendfileCalls,
    MostCopy,
    MmapFaults,
    ColdSendfile,
    MostSyscalls,
    ReceiveMapped,
}

const KINDS: [QuestionKind; 9] = [
    QuestionKind::SpliceCalls,
    QuestionKind::ReadWriteCalls,
    QuestionKind::ReadWriteTransitions,
    QuestionKind::SendfileCalls,
    QuestionKind::MostCopy,
    QuestionKind::MmapFaults,
    QuestionKind::ColdSendfile,
    QuestionKind::MostSyscalls,
    QuestionKind::ReceiveMapped,
];

impl QuestionKind {
    fn id(self) -> &'static str {
        match self {
            QuestionKind::SpliceCalls => "splice-calls",
            QuestionKind::ReadWriteCalls => "read-write-calls",
            QuestionKind::ReadWriteTransitions => "read-write-transitions",
            QuestionKind::SendfileCalls => "sendfile-calls",
            QuestionKind::MostCopy => "most-copy",
            QuestionKind::MmapFaults => "mmap-faults",
            QuestionKind::ColdSendfile => "cold-sendfile",
            QuestionKind::MostSyscalls => "most-syscalls",
            QuestionKind::ReceiveMapped => "receive-mapped",
        }
    }
}

pub use crate::results::quiz::{Expect, Question, QuizReport};

/// splitmix64: a small, stable generator, so a seed means the same questions everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A seed for when none is given: the clock's nanoseconds.
pub fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64 % 1_000_000)
}

/// The questions and parameters a seed draws.
struct Draw {
    kinds: Vec<QuestionKind>,
    buffer: usize,
    pipe: usize,
    /// The sender of the receive question: one whose pages never map, or one whose pages are
    /// copied before they reach the receiver.
    zc_sender: MethodKind,
}

fn draw(seed: u64) -> Draw {
    let mut rng = Rng(seed);
    let buffer = [64 << 10, 128 << 10, 256 << 10][rng.below(3)];
    let pipe = [64 << 10, 256 << 10, 1 << 20][rng.below(3)];
    let mut pool = KINDS.to_vec();
    let mut kinds = Vec::new();
    while kinds.len() < QUESTIONS && !pool.is_empty() {
        kinds.push(pool.remove(rng.below(pool.len())));
    }
    let zc_sender = [MethodKind::Sendfile, MethodKind::MsgZerocopy][rng.below(2)];
    Draw {
        kinds,
        buffer,
        pipe,
        zc_sender,
    }
}

/// A method's syscalls in a report, and who counted them: perf's total, or the calls the
/// method counted itself when perf could not count.
fn syscalls(m: &MethodResult) -> (u64, Counted) {
    match m.median.cost.syscalls.total {
        Some(n) => (n, Counted::Perf),
        None => (
            m.median.cost.self_counted.values().sum(),
            Counted::SelfCounted,
        ),
    }
}

fn find(r: &Report, k: MethodKind) -> Result<&MethodResult> {
    match r.method(k) {
        Some(m) => Ok(m),
        None => bail!("quiz: {k} did not run on this machine"),
    }
}

/// The compare runs the drawn questions are measured with.
struct Runs {
    /// The four classic paths, warm cache, counters only.
    warm: Report,
    /// With the cpu-clock profile, on at least [`COPY_SIZE`] (the copy question only).
    copied: Option<Report>,
    /// sendfile with a cold cache (the cold-sendfile question only).
    cold: Option<Report>,
    /// The drawn sender to a zerocopy receiver over copylab's private loopback (the receive
    /// question only), or why it could not run here.
    received: Option<Result<Report, String>>,
}

/// Run the compares the drawn questions need.
fn measure(opts: &QuizOptions, d: &Draw) -> Result<Runs> {
    let base = CompareOptions {
        runs: QUESTION_RUNS,
        buffer: d.buffer,
        pipe_size: d.pipe,
        profile: false,
        ..CompareOptions::quick(opts.size, MethodKind::CLASSIC.to_vec(), opts.cpus)
    };
    let warm = compare::run(&base)?;
    // Copy time is sampled every 1 ms of CPU: a small file may give no sample at all, so the
    // copy question is measured on at least COPY_SIZE (and says so), over COPY_RUNS runs whose
    // spread is the noise the answer is judged within.
    let copied = if d.kinds.contains(&QuestionKind::MostCopy) {
        Some(compare::run(&CompareOptions {
            size: opts.size.max(COPY_SIZE),
            profile: true,
            runs: COPY_RUNS,
            ..base.clone()
        })?)
    } else {
        None
    };
    let cold = if d.kinds.contains(&QuestionKind::ColdSendfile) {
        Some(compare::run(&CompareOptions {
            methods: vec![MethodKind::Sendfile],
            cold: true,
            warmup: 0,
            profile: false,
            ..base.clone()
        })?)
    } else {
        None
    };
    let received = if d.kinds.contains(&QuestionKind::ReceiveMapped) {
        let can = d
            .zc_sender
            .availability(crate::transport::Transport::Tcp)
            .and_then(|()| ReceiverKind::Zerocopy.availability(crate::transport::Transport::Tcp));
        Some(match can {
            Err(no) => Err(no.to_string()),
            Ok(()) => compare::run(&CompareOptions {
                methods: vec![d.zc_sender],
                receive: Some(vec![ReceiverKind::Zerocopy]),
                receive_named: vec![ReceiverKind::Zerocopy],
                profile: false,
                ..base.clone()
            })
            .map_err(|e| format!("{e:#}")),
        })
    } else {
        None
    };
    Ok(Runs {
        warm,
        copied,
        cold,
        received,
    })
}

/// What one drawn question became.
enum Asked {
    Question(Question),
    /// Not asked: why, as the header says it.
    Skipped(String),
}

/// Everything a question is built from.
struct Ctx<'a> {
    opts: &'a QuizOptions,
    d: &'a Draw,
    runs: &'a Runs,
}

impl Ctx<'_> {
    fn say(&self, m: &Msg) -> String {
        lesson::say(self.opts.lang, m)
    }

    /// What goes between the items of a list in this language.
    fn sep(&self) -> &'static str {
        lesson::table(self.opts.lang).list_sep
    }

    /// What goes between two sentences in this language.
    fn gap(&self) -> &'static str {
        lesson::table(self.opts.lang).sentence_gap
    }

    /// "counted by perf on the serving thread", or by copylab itself.
    fn by(&self, who: Counted) -> String {
        self.say(&Msg::CountedBy(who))
    }
}

/// A question of kind `k` with no answer given yet.
fn question(
    k: QuestionKind,
    text: String,
    expect: Expect,
    answer: String,
    why: String,
) -> Question {
    Question {
        id: k.id(),
        text,
        expect,
        answer,
        also_right: Vec::new(),
        explanation: why,
        given: None,
        right: None,
    }
}

/// Run the measurements the drawn questions need and turn them into questions with answers.
fn build(opts: &QuizOptions, d: &Draw) -> Result<(Vec<Question>, Vec<String>)> {
    let runs = measure(opts, d)?;
    let c = Ctx {
        opts,
        d,
        runs: &runs,
    };
    let mut qs = Vec::new();
    let mut skipped = Vec::new();
    for &k in &d.kinds {
        let asked = match k {
            QuestionKind::SpliceCalls => splice_calls(&c)?,
            QuestionKind::ReadWriteCalls => read_write_calls(&c)?,
            QuestionKind::ReadWriteTransitions => read_write_transitions(&c)?,
            QuestionKind::SendfileCalls => sendfile_calls(&c)?,
            QuestionKind::MostCopy => most_copy(&c)?,
            QuestionKind::MostSyscalls => most_syscalls(&c)?,
            QuestionKind::MmapFaults => mmap_faults(&c)?,
            QuestionKind::ColdSendfile => cold_sendfile(&c)?,
            QuestionKind::ReceiveMapped => receive_mapped(&c)?,
        };
        match asked {
            Asked::Question(q) => qs.push(q),
            Asked::Skipped(why) => skipped.push(why),
        }
    }
    Ok((qs, skipped))
}

fn splice_calls(c: &Ctx) -> Result<Asked> {
    let warm = &c.runs.warm;
    let (n, perf) = syscalls(find(warm, MethodKind::Splice)?);
    // What the path's model predicts for this run's file and granted pipe.
    let model = MethodKind::Splice.expected(&warm.layout());
    let granted = warm.options.pipe_bytes_granted.unwrap_or(c.d.pipe as u64);
    Ok(Asked::Question(question(
        QuestionKind::SpliceCalls,
        c.say(&Msg::AskSpliceCalls {
            bytes: c.opts.size,
            pipe_bytes: c.d.pipe as u64,
        }),
        Expect::Number { tolerance_pct: 10 },
        n.to_string(),
        c.say(&Msg::WhySpliceCalls {
            bytes: c.opts.size,
            pipe_granted: &fmt_bytes(granted),
            pipe_fulls: model.chunks,
            predicted: &model.syscalls.map_or("n/a".to_string(), |s| s.to_string()),
            measured: n,
            by: &c.by(perf),
        }),
    )))
}

/// read-write's syscalls, and the model's chunks and prediction.
fn read_write_figures(c: &Ctx) -> Result<(u64, Counted, Expected)> {
    let warm = &c.runs.warm;
    let (n, perf) = syscalls(find(warm, MethodKind::ReadWrite)?);
    Ok((n, perf, MethodKind::ReadWrite.expected(&warm.layout())))
}

fn read_write_calls(c: &Ctx) -> Result<Asked> {
    let (n, perf, model) = read_write_figures(c)?;
    Ok(Asked::Question(question(
        QuestionKind::ReadWriteCalls,
        c.say(&Msg::AskReadWriteCalls {
            bytes: c.opts.size,
            buffer_bytes: c.d.buffer as u64,
        }),
        Expect::Number { tolerance_pct: 10 },
        n.to_string(),
        c.say(&Msg::WhyReadWriteCalls {
            chunks: model.chunks,
            predicted: &model.syscalls.map_or("n/a".to_string(), |s| s.to_string()),
            measured: n,
            by: &c.by(perf),
        }),
    )))
}

fn read_write_transitions(c: &Ctx) -> Result<Asked> {
    let (n, perf, _) = read_write_figures(c)?;
    Ok(Asked::Question(question(
        QuestionKind::ReadWriteTransitions,
        c.say(&Msg::AskReadWriteTransitions {
            bytes: c.opts.size,
            buffer_bytes: c.d.buffer as u64,
        }),
        Expect::Number { tolerance_pct: 10 },
        (2 * n).to_string(),
        c.say(&Msg::WhyReadWriteTransitions {
            syscalls: n,
            transitions: 2 * n,
            by: &c.by(perf),
        }),
    )))
}

fn sendfile_calls(c: &Ctx) -> Result<Asked> {
    let (n, perf) = syscalls(find(&c.runs.warm, MethodKind::Sendfile)?);
    Ok(Asked::Question(question(
        QuestionKind::SendfileCalls,
        c.say(&Msg::AskSendfileCalls { bytes: c.opts.size }),
        Expect::Number { tolerance_pct: 0 },
        n.to_string(),
        c.say(&Msg::WhySendfileCalls {
            measured: n,
            by: &c.by(perf),
        }),
    )))
}

/// The classic paths' names, the choices of the ordering questions.
fn classic_names() -> Vec<String> {
    MethodKind::CLASSIC
        .iter()
        .map(|k| k.name().to_string())
        .collect()
}

/// The path with the largest figure (the first on a tie), and the figure.
fn top_of(figs: &[(MethodKind, f64)]) -> (MethodKind, f64) {
    figs.iter()
        .copied()
        .fold((MethodKind::ReadWrite, f64::MIN), |a, b| {
            if b.1 > a.1 { b } else { a }
        })
}

/// Runs of the copy question: enough that the spread between them says how noisy it is.
const COPY_RUNS: u32 = 3;

/// Runs of every other question: counts are exact, but the fault count moves with the page
/// cache's folios, and its spread sets how far an answer may be off.
const QUESTION_RUNS: u32 = 3;

/// The least tolerance of the fault question, in %.
const FAULTS_TOLERANCE_PCT: u32 = 25;

/// One path's sampled copy time of the serving thread, ms per GiB: median, and the range over
/// the runs widened by one sample each way (a sample is the resolution of the figure).
struct CopyFigure {
    kind: MethodKind,
    median: f64,
    lo: f64,
    hi: f64,
}

/// The copy figures of `m`, or None when a run has no profile (sampling refused).
fn copy_figure(m: &MethodResult) -> Option<CopyFigure> {
    let ms =
        |p: &crate::results::Profile, bytes: u64| p.serving.ns_per_gib(Category::Copy, bytes) / 1e6;
    let mut per_run = Vec::new();
    let mut one_sample: f64 = 0.0;
    for r in &m.runs {
        let p = r.profile.as_ref()?;
        per_run.push(ms(p, r.bytes));
        one_sample = one_sample.max(p.serving.period_ns as f64 / crate::size::gib(r.bytes) / 1e6);
    }
    // The runs' samples pooled, as compare's table reads them; the range is the runs'.
    let median = m.profile.as_ref()?.serving.ns_per_gib(Category::Copy)? / 1e6;
    let lo = per_run.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = per_run.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return None;
    }
    Some(CopyFigure {
        kind: m.method,
        median,
        lo: (lo - one_sample).max(0.0),
        hi: hi + one_sample,
    })
}

fn most_copy(c: &Ctx) -> Result<Asked> {
    let from = c.runs.copied.as_ref().unwrap_or(&c.runs.warm);
    let id = QuestionKind::MostCopy.id();
    let mut figs = Vec::new();
    for kind in MethodKind::CLASSIC {
        match copy_figure(find(from, kind)?) {
            Some(f) => figs.push(f),
            None => {
                return Ok(Asked::Skipped(format!(
                    "{id}: n/a — perf sampling refused here, so copy time was not measured (run as root)"
                )));
            }
        }
    }
    let medians: Vec<(MethodKind, f64)> = figs.iter().map(|f| (f.kind, f.median)).collect();
    let (top, max) = top_of(&medians);
    if max <= 0.0 {
        return Ok(Asked::Skipped(format!(
            "{id}: n/a — no copy sample landed on the serving thread (1 ms sampling; a larger --size gives it time)"
        )));
    }
    // Inside the noise: a path whose range over the runs reaches the top's range could have
    // been the top in another run, so it is right too.
    let top_lo = figs.iter().find(|f| f.kind == top).map_or(max, |f| f.lo);
    let also: Vec<String> = figs
        .iter()
        .filter(|f| f.kind != top && f.hi >= top_lo)
        .map(|f| f.kind.name().to_string())
        .collect();
    let figures = figs
        .iter()
        .map(|f| {
            c.say(&Msg::CopyFigure {
                name: f.kind.name(),
                median: f.median,
                lo: f.lo,
                hi: f.hi,
            })
        })
        .collect::<Vec<_>>()
        .join(c.sep());
    let noise = if also.is_empty() {
        c.say(&Msg::OutsideNoise)
    } else {
        c.say(&Msg::InsideNoise {
            names: &also.join(c.sep()),
        })
    };
    let note = if from.file.bytes > c.opts.size {
        c.say(&Msg::CopySizeNote { asked: c.opts.size })
    } else {
        String::new()
    };
    let mut q = question(
        QuestionKind::MostCopy,
        c.say(&Msg::AskMostCopy {
            bytes: from.file.bytes,
            buffer_bytes: c.d.buffer as u64,
            note: &note,
        }),
        Expect::Choice {
            choices: classic_names(),
        },
        top.name().to_string(),
        format!(
            "{}{}{noise}",
            c.say(&Msg::WhyMostCopy {
                figures: &figures,
                runs: from.options.runs,
            }),
            c.gap()
        ),
    );
    q.also_right = also;
    Ok(Asked::Question(q))
}

fn most_syscalls(c: &Ctx) -> Result<Asked> {
    let warm = &c.runs.warm;
    let mut figs: Vec<(MethodKind, f64)> = Vec::new();
    for kind in MethodKind::CLASSIC {
        figs.push((kind, syscalls(find(warm, kind)?).0 as f64));
    }
    let (top, max) = top_of(&figs);
    // Syscall counts are exact: a path with the same count as the top is as right as it.
    let also: Vec<String> = figs
        .iter()
        .filter(|(k, f)| *k != top && *f == max)
        .map(|(k, _)| k.name().to_string())
        .collect();
    let figures = figs
        .iter()
        .map(|(m, f)| format!("{m} {f:.0}"))
        .collect::<Vec<_>>()
        .join(c.sep());
    let perf = syscalls(find(warm, MethodKind::ReadWrite)?).1;
    let mut why = c.say(&Msg::WhyMostSyscalls {
        figures: &figures,
        by: &c.by(perf),
    });
    if !also.is_empty() {
        let tied: Vec<&str> = std::iter::once(top.name())
            .chain(also.iter().map(String::as_str))
            .collect();
        why = format!("{why}{}{}", c.gap(), c.say(&Msg::Tie { names: &tied }));
    }
    let mut q = question(
        QuestionKind::MostSyscalls,
        c.say(&Msg::AskMostSyscalls {
            bytes: c.opts.size,
            buffer_bytes: c.d.buffer as u64,
            pipe_bytes: c.d.pipe as u64,
        }),
        Expect::Choice {
            choices: classic_names(),
        },
        top.name().to_string(),
        why,
    );
    q.also_right = also;
    Ok(Asked::Question(q))
}

fn mmap_faults(c: &Ctx) -> Result<Asked> {
    let m = find(&c.runs.warm, MethodKind::Mmap)?;
    let n = m.median.cost.page_faults.minor;
    let pages = c.opts.size.div_ceil(crate::source::page_size() as u64);
    let faults = m.runs.iter().map(|r| r.cost.page_faults.minor);
    let (lo, hi) = (faults.clone().min().unwrap_or(n), faults.max().unwrap_or(n));
    // Every run's count is inside the tolerance: the answer is judged within the noise.
    let off = n.abs_diff(lo).max(n.abs_diff(hi));
    let needed = (off * 100).div_ceil(n.max(1));
    let tolerance_pct = FAULTS_TOLERANCE_PCT.max(u32::try_from(needed).unwrap_or(u32::MAX));
    Ok(Asked::Question(question(
        QuestionKind::MmapFaults,
        c.say(&Msg::AskMmapFaults { bytes: c.opts.size }),
        Expect::Number { tolerance_pct },
        n.to_string(),
        c.say(&Msg::WhyMmapFaults {
            bytes: c.opts.size,
            pages,
            measured: n,
            runs: c.runs.warm.options.runs,
            lo,
            hi,
            tolerance_pct,
        }),
    )))
}

fn cold_sendfile(c: &Ctx) -> Result<Asked> {
    let (warm, perf) = syscalls(find(&c.runs.warm, MethodKind::Sendfile)?);
    let Some(cold) = &c.runs.cold else {
        bail!("quiz: the cold-cache run did not happen");
    };
    let (cold, _) = syscalls(find(cold, MethodKind::Sendfile)?);
    let (yes, no) = (c.say(&Msg::Yes), c.say(&Msg::No));
    let by = c.by(perf);
    let (answer, why) = if cold != warm {
        (
            yes.clone(),
            Msg::WhyColdChanged {
                cold,
                warm,
                by: &by,
            },
        )
    } else {
        (
            no.clone(),
            Msg::WhyColdSame {
                cold,
                warm,
                by: &by,
            },
        )
    };
    Ok(Asked::Question(question(
        QuestionKind::ColdSendfile,
        c.say(&Msg::AskColdSendfile { bytes: c.opts.size }),
        Expect::Choice {
            choices: vec![yes, no],
        },
        answer,
        c.say(&why),
    )))
}

/// The share of a stream a zerocopy receiver maps from the drawn sender: judged by band (none,
/// some, almost all), and every band the runs reached is right.
fn receive_mapped(c: &Ctx) -> Result<Asked> {
    let id = QuestionKind::ReceiveMapped.id();
    let r = match &c.runs.received {
        Some(Ok(r)) => r,
        Some(Err(why)) => return Ok(Asked::Skipped(format!("{id}: n/a — {why}"))),
        None => bail!("quiz: the receive run did not happen"),
    };
    let Some(m) = r
        .methods
        .iter()
        .find(|m| m.method == c.d.zc_sender && m.receiver_path == Some(ReceiverKind::Zerocopy))
    else {
        return Ok(Asked::Skipped(format!(
            "{id}: n/a — {} → zerocopy did not run here",
            c.d.zc_sender
        )));
    };
    let zc = |run: &crate::results::Run| run.receive.as_ref().and_then(|x| x.zerocopy);
    let Some(med) = zc(&m.median) else {
        return Ok(Asked::Skipped(format!(
            "{id}: n/a — the receiver reported no mapped bytes"
        )));
    };
    let pcts: Vec<f64> = m.runs.iter().filter_map(zc).map(|z| z.mapped_pct).collect();
    let lo = pcts.iter().copied().fold(med.mapped_pct, f64::min);
    let hi = pcts.iter().copied().fold(med.mapped_pct, f64::max);
    let name = |s: MappedShare| c.say(&Msg::Share(s));
    let answer = MappedShare::of(med.mapped_pct);
    // Inside the noise: a band any run reached is right too.
    let also: Vec<String> = MappedShare::ALL
        .into_iter()
        .filter(|s| *s != answer && (MappedShare::of(lo) == *s || MappedShare::of(hi) == *s))
        .map(name)
        .collect();
    let sender = c.d.zc_sender.name();
    let mut q = question(
        QuestionKind::ReceiveMapped,
        c.say(&Msg::AskReceiveMapped {
            sender,
            bytes: r.file.bytes,
        }),
        Expect::Choice {
            choices: MappedShare::ALL.into_iter().map(name).collect(),
        },
        name(answer),
        c.say(&Msg::WhyReceiveMapped {
            sender,
            mapped_pct: med.mapped_pct,
            lo_pct: lo,
            hi_pct: hi,
            runs: r.options.runs,
            copybuf_pct: med.copybuf_pct,
            hint_pct: med.hint_pct,
            owned: c.d.zc_sender != MethodKind::MsgZerocopy,
        }),
    );
    q.also_right = also;
    Ok(Asked::Question(q))
}

/// Longest answer line read, in bytes (without its newline): an answer is a number or a word.
/// A longer line is refused after this many bytes, never read whole into memory.
const MAX_ANSWER: usize = 4 << 10;

/// At most this many characters of an answer that cannot be used are quoted back.
const QUOTED: usize = 40;

/// One answer line as read from stdin.
enum AnswerLine {
    Text(String),
    /// More than [`MAX_ANSWER`] bytes before the newline: the first of them.
    TooLong(Vec<u8>),
    /// Not UTF-8 text: the bytes.
    NotText(Vec<u8>),
}

/// Read one answer line: at most [`MAX_ANSWER`] bytes are kept, and a longer line stops being
/// read there (`skip_rest` discards the rest when the quiz goes on). `None` at the end of stdin.
fn read_answer(r: &mut impl BufRead) -> std::io::Result<Option<AnswerLine>> {
    let mut line = Vec::new();
    let mut read_any = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        read_any = true;
        let end = chunk.iter().position(|b| *b == b'\n');
        let take = end.unwrap_or(chunk.len());
        if line.len() + take > MAX_ANSWER {
            let room = MAX_ANSWER - line.len();
            line.extend_from_slice(&chunk[..room]);
            r.consume(room);
            return Ok(Some(AnswerLine::TooLong(line)));
        }
        line.extend_from_slice(&chunk[..take]);
        r.consume(take + usize::from(end.is_some()));
        if end.is_some() {
            break;
        }
    }
    if !read_any {
        return Ok(None);
    }
    Ok(Some(match String::from_utf8(line) {
        Ok(t) => AnswerLine::Text(t),
        Err(e) => AnswerLine::NotText(e.into_bytes()),
    }))
}

/// Discard the rest of a line that was too long (a terminal's user then answers again).
fn skip_rest(r: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        // A buffer at a time, never the whole line.
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(());
        }
        match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = chunk.len();
                r.consume(n);
            }
        }
    }
}

/// The start of an answer as it may be quoted back: escaped, at most [`QUOTED`] characters.
fn quoted(text: &[u8]) -> String {
    let shown = crate::escape::escape(text);
    let mut chars = shown.chars();
    let head: String = chars.by_ref().take(QUOTED).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// What to type for `q`.
fn what_to_type(q: &Question) -> &'static str {
    match q.expect {
        Expect::Number { .. } => "a whole number such as 1024",
        Expect::Choice { .. } => "a letter such as b, or a choice's name",
    }
}

/// Why an answer line that is not text, or too long, cannot be an answer to `q`.
fn unusable(q: &Question, line: &AnswerLine) -> Option<String> {
    match line {
        AnswerLine::Text(_) => None,
        AnswerLine::TooLong(start) => Some(format!(
            "the line is longer than {MAX_ANSWER} bytes (it starts '{}'): give {}, on a line of its own",
            quoted(start),
            what_to_type(q)
        )),
        AnswerLine::NotText(bytes) => Some(format!(
            "the line is not UTF-8 text ('{}'): type the answer as plain text, {}",
            quoted(bytes),
            what_to_type(q)
        )),
    }
}

/// Why an answer line could not be read as an answer to `q`.
fn parse_answer(q: &Question, line: &str) -> Result<String, String> {
    let t = line.trim();
    let shown = quoted(t.as_bytes());
    let t_shown = &shown;
    match &q.expect {
        Expect::Number { .. } => {
            let digits: String = t.chars().filter(|c| !matches!(c, ',' | '_')).collect();
            digits.parse::<u64>().map(|n| n.to_string()).map_err(|_| {
                format!(
                    "'{t_shown}' is not a whole number: give one, such as 1024, on its own line"
                )
            })
        }
        Expect::Choice { choices } => {
            let lower = t.to_lowercase();
            if let Some(c) = choices.iter().find(|c| c.to_lowercase() == lower) {
                return Ok(c.clone());
            }
            let letters: Vec<String> = (0..choices.len())
                .map(|i| char::from(b'a' + i as u8).to_string())
                .collect();
            if let Some(i) = letters.iter().position(|l| *l == lower) {
                return Ok(choices[i].clone());
            }
            Err(format!(
                "'{t_shown}' is not one of the choices: give a letter ({}) or a name ({})",
                letters.join(", "),
                choices.join(", ")
            ))
        }
    }
}

/// Whether `given` (already parsed) is right for `q`.
fn is_right(q: &Question, given: &str) -> bool {
    match &q.expect {
        Expect::Number { tolerance_pct } => {
            let (Ok(g), Ok(a)) = (given.parse::<u64>(), q.answer.parse::<u64>()) else {
                return false;
            };
            let slack = a * u64::from(*tolerance_pct) / 100;
            g.abs_diff(a) <= slack
        }
        Expect::Choice { .. } => given == q.answer || q.also_right.iter().any(|c| c == given),
    }
}

/// `--list`: every question with this run's measured answer, for the teacher.
fn write_list(
    opts: &QuizOptions,
    questions: Vec<Question>,
    skipped: Vec<String>,
    out: &mut dyn Write,
) -> Result<()> {
    let r = QuizReport {
        seed: opts.seed,
        lang: if opts.lang == Lang::Zh { "zh" } else { "en" },
        total: questions.len(),
        questions,
        skipped,
        score: None,
        answered: None,
    };
    if opts.json {
        serde_json::to_writer_pretty(&mut *out, &r)?;
        writeln!(out)?;
    } else {
        out.write_all(render::list(&r, opts.lang).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// What one answer line says.
enum Reply {
    /// An answer to check, parsed.
    Answer(String),
    /// `q`: the quiz ends here, with the score of the questions answered.
    Quit,
    /// Not an answer to the question, and why.
    Unusable(String),
}

/// Where the answers come from (one a line) and where the questions go.
struct Asker<'a, R> {
    input: R,
    prompts: &'a mut dyn Write,
    /// Whether a person types the answers (stdin is a terminal), not a script.
    terminal: bool,
    lang: Lang,
    /// The number of questions.
    total: usize,
    /// The lines read so far.
    line_no: usize,
}

impl<R: BufRead> Asker<'_, R> {
    /// Ask question `i` until a line answers it: the parsed answer, or None when the line is
    /// `q`. The end of stdin writes the score so far (`score` of `i`) and is an error; so is a
    /// line that is no answer when a script gives them (a person is told why and asked again).
    fn ask(&mut self, i: usize, q: &Question, score: usize) -> Result<Option<String>> {
        loop {
            self.prompts
                .write_all(render::question(i + 1, q, self.lang).as_bytes())?;
            self.prompts.flush()?;
            let Some(line) = read_answer(&mut self.input)? else {
                // Ctrl-D (or a script's input running out): the score so far, then the error.
                self.prompts
                    .write_all(render::score(score, i, self.total, self.lang).as_bytes())?;
                bail!(
                    "quiz: stdin ended before answer {} of {total}: give one answer per line (see `copylab quiz --list` for the questions)",
                    i + 1,
                    total = self.total
                );
            };
            self.line_no += 1;
            match self.reply(q, &line)? {
                Reply::Answer(given) => return Ok(Some(given)),
                Reply::Quit => return Ok(None),
                Reply::Unusable(why) if self.terminal => {
                    self.prompts
                        .write_all(render::retry(&why, self.lang).as_bytes())?;
                }
                Reply::Unusable(why) => bail!(
                    "quiz: answer {} (line {line_no}): {why}",
                    i + 1,
                    line_no = self.line_no
                ),
            }
        }
    }

    /// Read `line` as a reply to `q`. Piped answers are echoed as read; the rest of a line too
    /// long to keep is skipped when a person will be asked again.
    fn reply(&mut self, q: &Question, line: &AnswerLine) -> Result<Reply> {
        match (line, unusable(q, line)) {
            (AnswerLine::Text(t), None) => {
                if !self.terminal {
                    // What was read, as it may be shown: escaped and short.
                    self.prompts
                        .write_all(render::echo(&quoted(t.trim().as_bytes())).as_bytes())?;
                }
                if t.trim().eq_ignore_ascii_case("q") {
                    return Ok(Reply::Quit);
                }
                Ok(match parse_answer(q, t) {
                    Ok(given) => Reply::Answer(given),
                    Err(why) => Reply::Unusable(why),
                })
            }
            (_, why) => {
                if matches!(line, AnswerLine::TooLong(_)) && self.terminal {
                    skip_rest(&mut self.input)?;
                }
                Ok(Reply::Unusable(why.unwrap_or_default()))
            }
        }
    }
}

/// Run the quiz: measure, ask (or list), check, and write everything to stdout.
pub fn run(opts: &QuizOptions) -> Result<()> {
    let d = draw(opts.seed);
    let (mut qs, skipped) = build(opts, &d)?;
    let total = qs.len();
    let lang = if opts.lang == Lang::Zh { "zh" } else { "en" };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if opts.list {
        return write_list(opts, qs, skipped, &mut out);
    }
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    // With --json, stdout is the JSON alone: questions go to stderr on a terminal, nowhere when
    // a script pipes the answers in.
    let mut err = std::io::stderr();
    let mut sink = std::io::sink();
    let prompts: &mut dyn Write = match (opts.json, terminal) {
        (false, _) => &mut out,
        (true, true) => &mut err,
        (true, false) => &mut sink,
    };
    prompts.write_all(render::header(opts.seed, total, &skipped, opts.lang).as_bytes())?;
    let mut asker = Asker {
        input: stdin.lock(),
        prompts,
        terminal,
        lang: opts.lang,
        total,
        line_no: 0,
    };
    let mut score = 0;
    let mut answered = 0;
    for (i, q) in qs.iter_mut().enumerate() {
        let Some(given) = asker.ask(i, q, score)? else {
            break;
        };
        let right = is_right(q, &given);
        score += usize::from(right);
        answered += 1;
        q.given = Some(given);
        q.right = Some(right);
        asker
            .prompts
            .write_all(render::verdict(q, opts.lang).as_bytes())?;
    }
    if opts.json {
        let r = QuizReport {
            seed: opts.seed,
            lang,
            questions: qs,
            skipped,
            score: Some(score),
            answered: Some(answered),
            total,
        };
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
    } else {
        out.write_all(render::score(score, answered, total, opts.lang).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_draws_the_same_questions() {
        let ids = |s| draw(s).kinds.iter().map(|k| k.id()).collect::<Vec<_>>();
        assert_eq!(ids(7), ids(7));
        assert_eq!(ids(7).len(), QUESTIONS);
        let all: std::collections::BTreeSet<_> = (0..50).flat_map(ids).collect();
        assert_eq!(all.len(), KINDS.len(), "every kind is drawn by some seed");
    }

    #[test]
    fn answer_lines_are_bounded_and_a_long_one_can_be_skipped() {
        let mut input = b"a\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 5000));
        input.extend_from_slice(b"\nb\n\xff\n");
        // A small buffer, so lines cross refills.
        let mut r = std::io::BufReader::with_capacity(64, &input[..]);
        let text = |l: Option<AnswerLine>| match l {
            Some(AnswerLine::Text(t)) => t,
            _ => panic!("expected a text line"),
        };
        assert_eq!(text(read_answer(&mut r).unwrap()), "a");
        match read_answer(&mut r).unwrap() {
            Some(AnswerLine::TooLong(start)) => assert_eq!(start.len(), MAX_ANSWER),
            _ => panic!("expected a line too long"),
        }
        skip_rest(&mut r).unwrap();
        assert_eq!(text(read_answer(&mut r).unwrap()), "b");
        assert!(matches!(
            read_answer(&mut r).unwrap(),
            Some(AnswerLine::NotText(b)) if b == b"\xff"
        ));
        assert!(read_answer(&mut r).unwrap().is_none());
        assert_eq!(
            quoted("é".repeat(50).as_bytes()).chars().count(),
            QUOTED + 1
        );
    }

    #[test]
    fn answers_parse_and_check_within_tolerance() {
        let q = Question {
            id: "x",
            text: String::new(),
            expect: Expect::Number { tolerance_pct: 10 },
            answer: "1000".into(),
            also_right: Vec::new(),
            explanation: String::new(),
            given: None,
            right: None,
        };
        assert_eq!(parse_answer(&q, " 1,050 ").as_deref(), Ok("1050"));
        assert!(is_right(&q, "1100") && !is_right(&q, "1101"));
        assert!(parse_answer(&q, "lots").is_err());
        let c = Question {
            expect: Expect::Choice {
                choices: vec!["read-write".into(), "mmap".into()],
            },
            answer: "mmap".into(),
            ..q
        };
        assert_eq!(parse_answer(&c, "B").as_deref(), Ok("mmap"));
        assert_eq!(parse_answer(&c, "Read-Write").as_deref(), Ok("read-write"));
        assert!(parse_answer(&c, "c").is_err());
        assert!(is_right(&c, "mmap") && !is_right(&c, "read-write"));
    }
}
