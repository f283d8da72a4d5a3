//! `copylab quiz`: predict, then measure. Questions are drawn (by `--seed`) from the paths'
//! models with parameters chosen per seed, the figures they ask about are measured on this
//! machine in this run, and each answer is checked against that run's figure — never a stored
//! number — within the tolerance the question states. Answers come one per line from a
//! terminal or from piped stdin; printing goes through [`crate::report::quiz`].

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Result, bail};

use crate::compare::{self, CompareOptions};
use crate::method::MethodKind;
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
enum Kind {
    SpliceCalls,
    ReadWriteCalls,
    ReadWriteTransitions,
    SendfileCalls,
    MostCopy,
    MmapFaults,
    ColdSendfile,
    MostSyscalls,
}

const KINDS: [Kind; 8] = [
    Kind::SpliceCalls,
    Kind::ReadWriteCalls,
    Kind::ReadWriteTransitions,
    Kind::SendfileCalls,
    Kind::MostCopy,
    Kind::MmapFaults,
    Kind::ColdSendfile,
    Kind::MostSyscalls,
];

impl Kind {
    fn id(self) -> &'static str {
        match self {
            Kind::SpliceCalls => "splice-calls",
            Kind::ReadWriteCalls => "read-write-calls",
            Kind::ReadWriteTransitions => "read-write-transitions",
            Kind::SendfileCalls => "sendfile-calls",
            Kind::MostCopy => "most-copy",
            Kind::MmapFaults => "mmap-faults",
            Kind::ColdSendfile => "cold-sendfile",
            Kind::MostSyscalls => "most-syscalls",
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
    kinds: Vec<Kind>,
    buffer: usize,
    pipe: usize,
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
    Draw {
        kinds,
        buffer,
        pipe,
    }
}

/// A method's syscalls in a report: perf's total, or the calls the method counted itself when
/// perf could not count (then `false`).
fn syscalls(m: &MethodResult) -> (u64, bool) {
    match m.median.cost.syscalls.total {
        Some(n) => (n, true),
        None => (m.median.cost.self_counted.values().sum(), false),
    }
}

fn find(r: &Report, k: MethodKind) -> Result<&MethodResult> {
    match r.method(k) {
        Some(m) => Ok(m),
        None => bail!("quiz: {k} did not run on this machine"),
    }
}

/// Run the measurements the drawn questions need and turn them into questions with answers.
fn build(opts: &QuizOptions, d: &Draw) -> Result<(Vec<Question>, Vec<String>)> {
    let zh = opts.lang == Lang::Zh;
    let base = CompareOptions {
        runs: 1,
        buffer: d.buffer,
        pipe_size: d.pipe,
        profile: false,
        ..CompareOptions::quick(opts.size, MethodKind::CLASSIC.to_vec(), opts.cpus)
    };
    let warm = compare::run(&base)?;
    // Copy time is sampled every 1 ms of CPU: a small file may give no sample at all, so the
    // copy question is measured on at least COPY_SIZE (and says so).
    let copy_size = opts.size.max(COPY_SIZE);
    let copied = if d.kinds.contains(&Kind::MostCopy) {
        Some(compare::run(&CompareOptions {
            size: copy_size,
            profile: true,
            ..base.clone()
        })?)
    } else {
        None
    };
    let cold = if d.kinds.contains(&Kind::ColdSendfile) {
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
    let size = fmt_bytes(opts.size);
    let buf = fmt_bytes(d.buffer as u64);
    let pipe_asked = fmt_bytes(d.pipe as u64);
    let pipe = warm
        .options
        .pipe_bytes_granted
        .map_or(pipe_asked.clone(), fmt_bytes);
    let by = |perf: bool| match (perf, zh) {
        (true, false) => "counted by perf on the serving thread",
        (false, false) => "counted by copylab itself: perf could not count here",
        (true, true) => "由 perf 在发送线程上统计",
        (false, true) => "由 copylab 自己统计：这里 perf 无法计数",
    };
    let names: Vec<String> = MethodKind::CLASSIC
        .iter()
        .map(|k| k.name().to_string())
        .collect();
    let mut qs = Vec::new();
    let mut skipped = Vec::new();
    for &k in &d.kinds {
        let q = |text: String, expect: Expect, answer: String, explanation: String| Question {
            id: k.id(),
            text,
            expect,
            answer,
            also_right: Vec::new(),
            explanation,
            given: None,
            right: None,
        };
        match k {
            Kind::SpliceCalls => {
                let (n, perf) = syscalls(find(&warm, MethodKind::Splice)?);
                // What the path's model predicts for this run's file and granted pipe.
                let model = MethodKind::Splice.expected(&warm.layout());
                let fulls = model.chunks;
                let predicted = model.syscalls.map_or("n/a".to_string(), |s| s.to_string());
                qs.push(q(
                    if zh {
                        format!("splice 经一个 {pipe_asked} 的管道发送 {size}，需要多少次系统调用？")
                    } else {
                        format!(
                            "How many syscalls does splice need for {size} through a {pipe_asked} pipe?"
                        )
                    },
                    Expect::Number { tolerance_pct: 10 },
                    n.to_string(),
                    if zh {
                        format!(
                            "每装满一次管道两次 splice（文件 → 管道，管道 → socket）：内核给了 {pipe} 的管道，{size} 是 {fulls} 管道，模型说 {predicted} 次；实测 {n} 次（{}）。",
                            by(perf)
                        )
                    } else {
                        format!(
                            "Two splices per pipe-full (file → pipe, pipe → socket): the kernel granted a {pipe} pipe, {size} is {fulls} pipe-fulls, so the model says {predicted}; measured {n} ({}).",
                            by(perf)
                        )
                    },
                ));
            }
            Kind::ReadWriteCalls | Kind::ReadWriteTransitions => {
                let (n, perf) = syscalls(find(&warm, MethodKind::ReadWrite)?);
                let model = MethodKind::ReadWrite.expected(&warm.layout());
                let chunks = model.chunks;
                let predicted = model.syscalls.map_or("n/a".to_string(), |s| s.to_string());
                let transitions = k == Kind::ReadWriteTransitions;
                let answer = if transitions { 2 * n } else { n };
                qs.push(q(
                    match (transitions, zh) {
                        (false, false) => format!(
                            "How many syscalls does read-write make for {size} with a {buf} buffer?"
                        ),
                        (true, false) => format!(
                            "How many user↔kernel transitions does read-write make for {size} with a {buf} buffer?"
                        ),
                        (false, true) => {
                            format!("read-write 用 {buf} 的缓冲区发送 {size}，要多少次系统调用？")
                        }
                        (true, true) => format!(
                            "read-write 用 {buf} 的缓冲区发送 {size}，要多少次用户态↔内核态切换？"
                        ),
                    },
                    Expect::Number { tolerance_pct: 10 },
                    answer.to_string(),
                    match (transitions, zh) {
                        (false, false) => format!(
                            "One pread64 and one write per buffer-full: {chunks} buffer-fulls, {predicted} calls in the model; measured {n} ({}).",
                            by(perf)
                        ),
                        (true, false) => format!(
                            "Two transitions per syscall (enter, leave), and one pread64 + one write per buffer-full: measured {n} syscalls ({}), so {answer} transitions — the textbook's 4 are one buffer-full.",
                            by(perf)
                        ),
                        (false, true) => format!(
                            "每个缓冲区一次 pread64、一次 write：{chunks} 个缓冲区，模型说 {predicted} 次；实测 {n} 次（{}）。",
                            by(perf)
                        ),
                        (true, true) => format!(
                            "每次系统调用两次切换（进入、返回），每个缓冲区一次 pread64 加一次 write：实测 {n} 次系统调用（{}），所以是 {answer} 次切换 —— 教科书的 4 次只是一个缓冲区。",
                            by(perf)
                        ),
                    },
                ));
            }
            Kind::SendfileCalls => {
                let (n, perf) = syscalls(find(&warm, MethodKind::Sendfile)?);
                qs.push(q(
                    if zh {
                        format!("sendfile 在阻塞 socket 上发送 {size}，需要多少次系统调用？")
                    } else {
                        format!(
                            "How many syscalls does sendfile need for {size} on a blocking socket?"
                        )
                    },
                    Expect::Number { tolerance_pct: 0 },
                    n.to_string(),
                    if zh {
                        format!(
                            "一次 sendfile 最多移动 2 GiB − 4 KiB，阻塞 socket 会等到全部放进去；实测 {n} 次（{}）。非阻塞 socket（Kafka）上会是多次部分写入。",
                            by(perf)
                        )
                    } else {
                        format!(
                            "One sendfile moves up to 2 GiB − 4 KiB and a blocking socket waits until all of it fits; measured {n} ({}). On a non-blocking socket (Kafka) it takes many partial calls.",
                            by(perf)
                        )
                    },
                ));
            }
            Kind::MostCopy | Kind::MostSyscalls => {
                let copy = k == Kind::MostCopy;
                // (method, figure) for each classic path.
                let mut figs: Vec<(MethodKind, f64)> = Vec::new();
                let from = match (copy, &copied) {
                    (true, Some(c)) => c,
                    _ => &warm,
                };
                for kind in MethodKind::CLASSIC {
                    let m = find(from, kind)?;
                    let f = if copy {
                        match m.median.profile.as_ref() {
                            Some(p) => {
                                p.serving.ns_per_gib(
                                    crate::counters::profile::Category::Copy,
                                    m.median.bytes,
                                ) / 1e6
                            }
                            None => f64::NAN,
                        }
                    } else {
                        syscalls(m).0 as f64
                    };
                    figs.push((kind, f));
                }
                if figs.iter().any(|(_, f)| !f.is_finite()) {
                    skipped.push(format!(
                        "{}: n/a — perf sampling refused here, so copy time was not measured (run as root)",
                        k.id()
                    ));
                    continue;
                }
                let (top, max) =
                    figs.iter()
                        .copied()
                        .fold((MethodKind::ReadWrite, f64::MIN), |a, b| {
                            if b.1 > a.1 { b } else { a }
                        });
                if copy && max <= 0.0 {
                    skipped.push(format!(
                        "{}: n/a — no copy sample landed on the serving thread (1 ms sampling; a larger --size gives it time)",
                        k.id()
                    ));
                    continue;
                }
                // Sampled copy time is noisy: a path within a quarter of the top counts too.
                let tolerance_pct = if copy { 25 } else { 0 };
                let also: Vec<String> = figs
                    .iter()
                    .filter(|(m, f)| {
                        *m != top && copy && *f >= max * (1.0 - tolerance_pct as f64 / 100.0)
                    })
                    .map(|(m, _)| m.name().to_string())
                    .collect();
                let figures = figs
                    .iter()
                    .map(|(m, f)| format!("{m} {f:.0}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut question = q(
                    match (copy, zh) {
                        (true, false) => format!(
                            "Which path makes the serving thread copy most, for {} (read-write with a {buf} buffer)?",
                            fmt_bytes(copy_size)
                        ),
                        (false, false) => format!(
                            "Which path makes the most syscalls for {size}, read-write with a {buf} buffer and splice with a {pipe_asked} pipe?"
                        ),
                        (true, true) => format!(
                            "发送 {} 时（read-write 用 {buf} 的缓冲区），哪条路径让发送线程拷贝得最多？",
                            fmt_bytes(copy_size)
                        ),
                        (false, true) => format!(
                            "发送 {size}，read-write 用 {buf} 的缓冲区、splice 用 {pipe_asked} 的管道，哪条路径的系统调用最多？"
                        ),
                    },
                    Expect::Choice {
                        choices: names.clone(),
                    },
                    top.name().to_string(),
                    match (copy, zh) {
                        (true, false) => format!(
                            "Sampled copy time of the serving thread, ms per GiB: {figures}. mmap's page faults are taken inside write()'s copy and count as copy; sendfile and splice hand page references to the socket. Paths within 25% of the top count as right too."
                        ),
                        (false, false) => format!(
                            "Syscalls measured: {figures} ({}). read-write makes two per buffer-full, splice two per pipe-full, mmap three in all, sendfile one.",
                            by(syscalls(find(&warm, MethodKind::ReadWrite)?).1)
                        ),
                        (true, true) => format!(
                            "发送线程的采样拷贝时间，每 GiB 毫秒数：{figures}。mmap 的缺页发生在 write() 的拷贝里，算作拷贝；sendfile 和 splice 交给 socket 的是页引用。与最高者相差 25% 以内的路径也算对。"
                        ),
                        (false, true) => format!(
                            "实测系统调用：{figures}（{}）。read-write 每个缓冲区两次，splice 每管道两次，mmap 一共三次，sendfile 一次。",
                            by(syscalls(find(&warm, MethodKind::ReadWrite)?).1)
                        ),
                    },
                );
                question.also_right = also;
                qs.push(question);
            }
            Kind::MmapFaults => {
                let m = find(&warm, MethodKind::Mmap)?;
                let n = m.median.cost.page_faults.minor;
                let pages = opts.size.div_ceil(crate::source::page_size() as u64);
                qs.push(q(
                    if zh {
                        format!("mmap 发送 {size}（已在页缓存里），会有多少次次缺页（minor fault）？")
                    } else {
                        format!(
                            "How many minor page faults does mmap take for {size} (already in the page cache)?"
                        )
                    },
                    Expect::Number { tolerance_pct: 25 },
                    n.to_string(),
                    if zh {
                        format!(
                            "{size} 是 {pages} 个页，但内核每次缺页会把周围的页一起映射（fault-around，还有大 folio），所以实测只有 {n} 次（getrusage，发送线程）。"
                        )
                    } else {
                        format!(
                            "{size} is {pages} pages, but each fault maps the pages around it too (fault-around, and large folios at once), so measured {n} (getrusage, serving thread)."
                        )
                    },
                ));
            }
            Kind::ColdSendfile => {
                let (w, perf) = syscalls(find(&warm, MethodKind::Sendfile)?);
                let Some(cold) = &cold else { continue };
                let (c, _) = syscalls(find(cold, MethodKind::Sendfile)?);
                let changed = c != w;
                let (yes, no) = if zh { ("是", "否") } else { ("yes", "no") };
                qs.push(q(
                    if zh {
                        "--cache cold 会改变 sendfile 的系统调用次数吗？".to_string()
                    } else {
                        "Does --cache cold change sendfile's syscall count?".to_string()
                    },
                    Expect::Choice {
                        choices: vec![yes.to_string(), no.to_string()],
                    },
                    if changed { yes } else { no }.to_string(),
                    if zh {
                        if changed {
                            format!(
                                "冷缓存 {c} 次，热缓存 {w} 次（{}）：这次冷读时 sendfile 返回得更早，调用方又调用了几次。",
                                by(perf)
                            )
                        } else {
                            format!(
                                "冷缓存 {c} 次，热缓存 {w} 次（{}）：读盘发生在同一次 sendfile 里面（以及预读），不会多出调用；变的是等待读盘的时间。",
                                by(perf)
                            )
                        }
                    } else {
                        if changed {
                            format!(
                                "Cold {c}, warm {w} ({}): in this cold run sendfile returned early and was called again.",
                                by(perf)
                            )
                        } else {
                            format!(
                                "Cold {c}, warm {w} ({}): the disk is read inside the same sendfile call (and by readahead), not by extra calls; what changes is the time it waits.",
                                by(perf)
                            )
                        }
                    },
                ));
            }
        }
    }
    Ok((qs, skipped))
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

/// Run the quiz: measure, ask (or list), check, and write everything to stdout.
pub fn run(opts: &QuizOptions) -> Result<()> {
    let d = draw(opts.seed);
    let (mut qs, skipped) = build(opts, &d)?;
    let total = qs.len();
    let lang = if opts.lang == Lang::Zh { "zh" } else { "en" };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if opts.list {
        let r = QuizReport {
            seed: opts.seed,
            lang,
            questions: qs,
            skipped,
            score: None,
            total,
        };
        if opts.json {
            serde_json::to_writer_pretty(&mut out, &r)?;
            writeln!(out)?;
        } else {
            out.write_all(render::list(&r, opts.lang).as_bytes())?;
        }
        out.flush()?;
        return Ok(());
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
    let mut input = stdin.lock();
    let mut line_no = 0;
    let mut score = 0;
    for (i, q) in qs.iter_mut().enumerate() {
        let given = loop {
            prompts.write_all(render::question(i + 1, q, opts.lang).as_bytes())?;
            prompts.flush()?;
            let Some(line) = read_answer(&mut input)? else {
                bail!(
                    "quiz: stdin ended before answer {} of {total}: give one answer per line (see `copylab quiz --list` for the questions)",
                    i + 1
                );
            };
            line_no += 1;
            let parsed = match (&line, unusable(q, &line)) {
                (AnswerLine::Text(t), None) => {
                    if !terminal {
                        // What was read, as it may be shown: escaped and short.
                        prompts.write_all(render::echo(&quoted(t.trim().as_bytes())).as_bytes())?;
                    }
                    parse_answer(q, t)
                }
                (_, why) => {
                    if matches!(line, AnswerLine::TooLong(_)) && terminal {
                        skip_rest(&mut input)?;
                    }
                    Err(why.unwrap_or_default())
                }
            };
            match parsed {
                Ok(g) => break g,
                Err(why) if terminal => {
                    prompts.write_all(render::retry(&why, opts.lang).as_bytes())?;
                }
                Err(why) => bail!("quiz: answer {} (line {line_no}): {why}", i + 1),
            }
        };
        let right = is_right(q, &given);
        score += usize::from(right);
        q.given = Some(given);
        q.right = Some(right);
        prompts.write_all(render::verdict(q, opts.lang).as_bytes())?;
    }
    if opts.json {
        let r = QuizReport {
            seed: opts.seed,
            lang,
            questions: qs,
            skipped,
            score: Some(score),
            total,
        };
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
    } else {
        out.write_all(render::score(score, total, opts.lang).as_bytes())?;
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
