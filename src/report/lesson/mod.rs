//! The words of the lesson — `explain`, `explain kafka` and `quiz` — as one table per language.
//!
//! What to say is decided once, by the command's own logic, as a [`Msg`]: a message with typed
//! arguments (counts as `u64`, sizes in bytes, syscalls as [`CallName`]). How to say it is a
//! language's table ([`en`], [`zh`]): one `say` function that matches every message, so a message
//! missing in a language does not compile; lists (each path's "what Linux really does", the
//! myths) are checked to have the same length in every language by a test. The HTML page's
//! words are a [`PageWords`] in the same table (a struct literal: a field missing in a language
//! does not compile either). A third language is one more file with one more [`Table`], for
//! the whole lesson and the page.

mod en;
mod page;
mod zh;

use std::fmt;

use crate::method::{Band, MethodKind, Place, StepKind};
use crate::receive::ReceiverKind;
pub use crate::report::text::Lang;
use crate::results::CacheState;
use crate::transport::Transport;
pub use page::PageWords;

/// One language: everything the lesson says in it.
pub struct Table {
    /// Every message with its arguments, in this language.
    pub say: fn(&Msg) -> String,
    /// What Linux really does on a path, one bullet each (the same number in every language).
    pub reality: fn(MethodKind) -> &'static [&'static str],
    /// What Linux really does on a receiving path, one bullet each (the same number in every
    /// language).
    pub receive_reality: fn(ReceiverKind) -> &'static [&'static str],
    /// The interview myths, in the same order in every language.
    pub myths: &'static [Myth; MYTHS],
    /// What ends a heading: ":" in English, the full-width "：" in Chinese.
    pub colon: &'static str,
    /// After a colon that starts a paragraph: a space in English, none after "：".
    pub colon_space: &'static str,
    /// Between two sentences: a space in English, none after "。".
    pub sentence_gap: &'static str,
    /// Between the items of a list in a sentence: ", " in English, "、" in Chinese.
    pub list_sep: &'static str,
    /// The words of the HTML page (`--export-html`).
    pub page: PageWords,
}

/// The table of `lang`.
pub fn table(lang: Lang) -> &'static Table {
    match lang {
        Lang::En => &en::TABLE,
        Lang::Zh => &zh::TABLE,
    }
}

/// `m` in `lang`.
pub fn say(lang: Lang, m: &Msg) -> String {
    (table(lang).say)(m)
}

/// How many myths each language tells.
pub const MYTHS: usize = 8;

/// A common interview claim, what is true instead, and the command that shows it.
pub struct Myth {
    pub claim: &'static str,
    pub truth: &'static str,
    pub command: &'static str,
}

/// A syscall (`write` → "write()") or an io_uring operation, which is not a syscall of its own
/// (`IORING_OP_SPLICE`, written without parentheses: it rides on `io_uring_enter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallName<'a> {
    Syscall(&'a str),
    Op(&'a str),
}

impl From<crate::method::Call> for CallName<'static> {
    fn from(c: crate::method::Call) -> CallName<'static> {
        match c {
            crate::method::Call::Sys { word, .. } => CallName::Syscall(word),
            crate::method::Call::Op(op) => CallName::Op(op),
        }
    }
}

impl fmt::Display for CallName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Written with its argument already: "recv(MSG_TRUNC)".
            CallName::Syscall(s) if s.ends_with(')') => f.write_str(s),
            CallName::Syscall(s) => write!(f, "{s}()"),
            CallName::Op(s) => f.write_str(s),
        }
    }
}

/// The headings of a path's text and of the myths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heading {
    Steps,
    /// The receiver's steps, which the textbook leaves out.
    Receiver,
    Textbook,
    Reality,
    Measured,
    Sources,
    Myths,
}

/// Which end of a connection a picture's half shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Serving,
    Receiving,
}

/// The sections of `explain receive`, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiveHeading {
    Question,
    WhyNoMap,
    Lesson,
    Bench,
    Measured,
    Sources,
}

/// The lines of `explain receive` that take no figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiveLine {
    Intro,
    Four,
    MapConditions,
    MapSendfile,
    MapSelftest,
    MapMsgZerocopy,
    MapSpliceVmsplice,
    MapZcrx,
    Lesson,
    LessonMoved,
    LessonDropped,
    BenchWhat,
    BenchPinned,
    BenchUnpinned,
    BenchZerocopy,
    RunMeasure,
}

/// Which share of a stream a zero-copy receiver maps: the quiz's choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappedShare {
    /// Below 5%.
    AlmostNone,
    /// 5% to 95%.
    Some,
    /// 95% and more.
    AlmostAll,
}

impl MappedShare {
    pub const ALL: [MappedShare; 3] = [
        MappedShare::AlmostNone,
        MappedShare::Some,
        MappedShare::AlmostAll,
    ];

    /// The band a share in % falls in.
    pub fn of(pct: f64) -> MappedShare {
        if pct < 5.0 {
            MappedShare::AlmostNone
        } else if pct < 95.0 {
            MappedShare::Some
        } else {
            MappedShare::AlmostAll
        }
    }
}

/// What a receiving path did with the bytes, as measured (a row of the matrix in words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiveOutcome {
    /// The receiving thread copied them (as much as recv's whole copy, or more than a quarter).
    Copied,
    /// Mapped (≥ 95%): no receive copy, and the sender copied (MSG_ZEROCOPY on loopback).
    MovedToSender,
    /// Mapped, and the sender did not copy.
    Mapped,
    /// Dropped unseen: no copy.
    Dropped,
    /// Not enough samples to say.
    Unknown,
}

/// What the textbook's count of transitions leaves out, said after "describe a single chunk".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOut {
    Nothing,
    Munmap,
    FreshPages,
}

/// Who counted a syscall figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// perf tracepoints on the serving thread.
    Perf,
    /// The path itself (perf could not count here).
    SelfCounted,
}

/// The sections of `explain kafka`, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaHeading {
    Question,
    ReadWrite,
    Mmap,
    Sendfile,
    Splice,
    Uses,
    DoesNot,
    Parallel,
    Stays,
    Consumer,
    Witness,
    Answer,
    FollowUps,
    Sources,
}

/// The lines of `explain kafka` that take no figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kafka {
    Intro,
    RunMeasure,
    RwCopies,
    RwWholeFile,
    MmapCopies,
    MmapFaults,
    SendfileOneCall,
    SendfileSg,
    SendfileNoCompletion,
    SpliceBase,
    UsesChain,
    UsesSameBytes,
    UsesCached,
    UsesPosition,
    UsesPageCache,
    NotProduce,
    NotTls,
    NotOldClients,
    NotMmap,
    NotCached,
    ParallelOneCopy,
    ParallelNonBlocking,
    StaysCopies,
    ConsumerReads,
    ConsumerNoZeroCopy,
    ConsumerOneHost,
    Answer1,
    Answer2,
    Answer3,
    Answer4,
    Answer5,
    Answer6,
    Answer7,
    Answer8,
    Answer9,
    Answer10,
    FollowUp40,
    FollowUpNotCached,
    FollowUpSameBytes,
    FollowUpPosition,
}

/// What `copylab trace` saw a JDK's `transferTo` do on a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JdkTransfer {
    /// sendfile only (JDKs before 20).
    SendfileOnly,
    /// copy_file_range first, refused, then sendfile (JDK-8292562, JDK 20 and later).
    CopyFileRangeFirst,
}

/// A sampled time per GiB as compare's conclusion writes it: "~12" when few samples are behind
/// it (the tables' mark), "12" else; milliseconds as [`crate::size::fmt_ms`] writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampled {
    pub ns: u64,
    pub few: bool,
}

impl fmt::Display for Sampled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.few {
            f.write_str("~")?;
        }
        f.write_str(&crate::size::fmt_ms(self.ns))
    }
}

/// A path's figure against read-write's, paired run by run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Paired {
    /// The runs' ranges overlap: no ranking.
    WithinNoise,
    /// The median of the paired ratios, and their range when there was more than one run.
    Ratio {
        median: f64,
        range: Option<(f64, f64)>,
    },
    /// Not measured.
    NotMeasured,
}

/// Everything the lesson says that is not a fixed list: a word, a heading, or a sentence with
/// its figures.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg<'a> {
    // ── the diagram and the steps ──
    Band(Band),
    Place(Place),
    Step(StepKind),
    /// A path's title line.
    Title(MethodKind),
    Heading(Heading),
    /// The legend under each diagram.
    Legend,
    /// When a step happens: during a syscall, or by an io_uring operation.
    During(CallName<'a>),
    /// The disk is read only on a page-cache miss, inside `call` (or the fault `toucher` takes).
    DiskDma {
        call: Option<CallName<'a>>,
        toucher: Option<CallName<'a>>,
    },
    /// `call` (mmap) reserves addresses; faults map the pages when `toucher` touches them.
    MappedByFaults {
        call: CallName<'a>,
        toucher: Option<CallName<'a>>,
    },

    // ── the textbook paragraph ──
    /// The CPU copies: `cpu`, or `sg` when the device does scatter-gather DMA.
    TextbookCopies {
        cpu: u32,
        sg: u32,
    },
    SyscallsPerChunk(&'a str),
    SyscallsPerBatch(&'a str),
    SyscallsOnce(&'a str),
    /// The paragraph, from its rendered parts (`once` may be empty).
    Textbook {
        copies: &'a str,
        dma: u32,
        transitions: u32,
        calls: &'a str,
        once: &'a str,
    },

    // ── measured here ──
    /// "n syscalls (by name) — read-write needed m".
    MeasuredCalls {
        bytes: u64,
        transport: &'a str,
        runs: u32,
        syscalls: Option<u64>,
        by_name: &'a str,
        read_write: Option<u64>,
    },
    MeasuredCounts {
        voluntary: u64,
        involuntary: u64,
        minor_faults: u64,
        major_faults: u64,
        sys_ms: f64,
        read_write_sys_ms: f64,
    },
    ZeroCopySends {
        sends: u64,
        completed: u64,
        copied: u64,
        plain_fallback: u64,
    },
    WorkerCpu {
        ms: f64,
    },
    SampledCopies {
        serving_ms_per_gib: f64,
        serving_share_pct: f64,
        read_write_ms_per_gib: f64,
        receiver_ms_per_gib: f64,
        receiver_share_pct: f64,
    },
    /// The count agrees with the model.
    Agrees {
        per_chunk: &'a str,
        chunks: u64,
        fresh_regions: u64,
        syscalls: u64,
        textbook_transitions: u32,
        left_out: LeftOut,
        switches: &'a str,
    },
    Differs {
        got: u64,
        want: u64,
    },
    NoFixedCount {
        got: u64,
        per_chunk: &'a str,
    },
    NotCounted,
    NeverBlocked,
    Blocked {
        times: u64,
    },

    // ── explain kafka ──
    KafkaTitle,
    KafkaHeading(KafkaHeading),
    Kafka(Kafka),

    // ── explain receive ──
    ReceiveTitle,
    ReceiveHeading(ReceiveHeading),
    Receive(ReceiveLine),
    /// One receiving path's heading.
    ReceiverTitle(ReceiverKind),
    /// The legend under the receiving paths' pictures.
    ReceiveLegend,
    /// Where the figures of `explain receive --measure` come from.
    ReceiveFigures {
        bytes: u64,
        runs: u32,
        /// "tcp over [::1] in a private network namespace, lo MTU 61512".
        link: &'a str,
        placement: &'a str,
    },
    /// One sender → receiver pair, measured.
    ReceivePair {
        sender: &'a str,
        receiver: &'a str,
        /// The receiving thread's sys CPU, ms per GiB: median and the runs' range.
        rx_sys_ms: f64,
        rx_sys_lo: f64,
        rx_sys_hi: f64,
        /// This is the pair the others are compared with (sendfile → recv).
        baseline: bool,
        /// Its ratio to the baseline pair's (None: not measured), and whether the runs' ranges
        /// overlap the baseline's.
        ratio: Option<f64>,
        within_noise: bool,
        /// Copy ms per GiB on each end (None when the samples are too few).
        tx_copy_ms: Option<f64>,
        rx_copy_ms: Option<f64>,
        /// zerocopy: share of the bytes mapped, %.
        mapped_pct: Option<f64>,
        outcome: ReceiveOutcome,
    },
    /// A pair that could not run here, and why.
    ReceiveNa {
        pair: &'a str,
        why: &'a str,
    },

    // ── on the arrows of a measured picture ──
    /// The margin's band label when the picture needs the room.
    BandShort(Band),
    /// Whose half of the picture it is.
    Thread(Side),
    /// A receiver's first step: the NIC's DMA, or on loopback nothing of the kind.
    WireDma,
    /// The page cache as the runs found it ("warm", "cold", "partial"); nothing for "unknown".
    FigCache(CacheState),
    /// The sender's DMA to the NIC, on this transport.
    FigNoNic(Transport),
    /// The receiver's first step on this transport.
    FigWire(Transport),
    FigFaults(u64),
    /// The thread's sampled copy time, and the steps it covers ("②+③", or "" for one).
    FigCopy {
        steps: &'a str,
        ms_per_gib: Option<f64>,
    },
    /// Zero-copy sends whose completion said the kernel copied.
    FigCopied {
        copied: u64,
        sends: u64,
    },
    FigEnters(u64),
    FigSyscalls(u64),
    FigMapped(f64),
    /// Where the figures come from.
    KafkaFigures {
        bytes: u64,
        runs: u32,
        buffer_bytes: u64,
        pipe_bytes: Option<u64>,
    },
    /// A figure measured here, around what was measured.
    MeasuredHere(&'a str),
    /// "n syscalls (by name) = 2n transitions", or n/a.
    PathCalls {
        syscalls: Option<u64>,
        by_name: &'a str,
    },
    ServingCopy {
        ms_per_gib: Option<f64>,
    },
    /// read-write's or splice's figures.
    PathHere {
        bytes: u64,
        calls: &'a str,
        copy: &'a str,
    },
    MmapHere {
        bytes: u64,
        calls: &'a str,
        minor_faults: u64,
        copy: &'a str,
    },
    SendfileHere {
        bytes: u64,
        calls: &'a str,
        copy: &'a str,
        read_write_ms_per_gib: Option<f64>,
    },
    ReceiverCopy {
        ms_per_gib: Option<f64>,
    },
    Parallel {
        connections: usize,
        file_bytes: u64,
        cached_pct: Option<f64>,
        aggregate_mib_s: Option<f64>,
        /// "2" or "2–3": over the connections.
        sendfile_calls: &'a str,
        partial: &'a str,
        eagain: &'a str,
    },
    WitnessNotAvailable {
        why: &'a str,
    },
    WitnessTraced {
        /// `java -version`'s version string, e.g. "17.0.15".
        java: &'a str,
        jdk: JdkTransfer,
        copy_file_range_calls: u64,
        copy_file_range_errors: u64,
        file_bytes: u64,
        transfer_to_calls: u64,
        transfer_to_partial: u64,
        sendfile_calls: u64,
        sendfile_bytes: u64,
        sendfile_errors: u64,
        path: &'a str,
    },

    /// "self-counted: sendfile64 1": the path's own count, when perf could not count.
    SelfCountedNames(&'a str),

    // ── compare's conclusion, one sentence each ──
    /// These paths' serving threads copied nothing: at most `most` against read-write's.
    NoServingCopy {
        paths: &'a [&'a str],
        most: Sampled,
        read_write: Sampled,
    },
    /// These zero-copy paths' serving threads copied all the same, mostly in softirq.
    CopiedInSoftirq {
        paths: &'a [(&'a str, Sampled)],
    },
    /// Every receiver copied: `lo` to `hi` ms/GiB over the paths (`hi` None: one figure).
    ReceiversCopied {
        lo: Sampled,
        hi: Option<Sampled>,
    },
    /// Both threads' CPU per GiB against read-write's, cheapest first.
    EndToEnd {
        read_write_ns: u64,
        paths: &'a [(&'a str, Paired)],
    },
    /// The serving thread's syscalls per transfer against read-write's.
    ServingSyscalls {
        paths: &'a [(&'a str, u64)],
        read_write: u64,
    },

    // ── quiz: questions and explanations ──
    CountedBy(Counted),
    AskSpliceCalls {
        bytes: u64,
        pipe_bytes: u64,
    },
    WhySpliceCalls {
        bytes: u64,
        pipe_granted: &'a str,
        pipe_fulls: u64,
        predicted: &'a str,
        measured: u64,
        by: &'a str,
    },
    AskReadWriteCalls {
        bytes: u64,
        buffer_bytes: u64,
    },
    WhyReadWriteCalls {
        chunks: u64,
        predicted: &'a str,
        measured: u64,
        by: &'a str,
    },
    AskReadWriteTransitions {
        bytes: u64,
        buffer_bytes: u64,
    },
    WhyReadWriteTransitions {
        syscalls: u64,
        transitions: u64,
        by: &'a str,
    },
    AskSendfileCalls {
        bytes: u64,
    },
    /// The copy question was measured on a larger file than `--size` asked for.
    CopySizeNote {
        asked: u64,
    },
    WhySendfileCalls {
        measured: u64,
        by: &'a str,
    },
    AskMostCopy {
        bytes: u64,
        buffer_bytes: u64,
        /// Said when `bytes` is larger than `--size` (empty otherwise).
        note: &'a str,
    },
    WhyMostCopy {
        figures: &'a str,
        runs: u32,
    },
    /// No other path's range over the runs reaches the top's.
    OutsideNoise,
    /// These paths' ranges overlap the top's: inside the noise, so right too.
    InsideNoise {
        names: &'a str,
    },
    /// Paths that measured the same figure as the top: right too.
    Tie {
        names: &'a [&'a str],
    },
    /// One path's sampled copy time: median and range over the runs, ms per GiB.
    CopyFigure {
        name: &'a str,
        median: f64,
        lo: f64,
        hi: f64,
    },
    AskMostSyscalls {
        bytes: u64,
        buffer_bytes: u64,
        pipe_bytes: u64,
    },
    WhyMostSyscalls {
        figures: &'a str,
        by: &'a str,
    },
    AskMmapFaults {
        bytes: u64,
    },
    WhyMmapFaults {
        bytes: u64,
        pages: u64,
        measured: u64,
        runs: u32,
        /// The fewest and most faults of the runs.
        lo: u64,
        hi: u64,
        tolerance_pct: u32,
    },
    AskColdSendfile {
        bytes: u64,
    },
    AskReceiveMapped {
        sender: &'a str,
        bytes: u64,
    },
    /// A choice of the receive question.
    Share(MappedShare),
    WhyReceiveMapped {
        sender: &'a str,
        mapped_pct: f64,
        lo_pct: f64,
        hi_pct: f64,
        runs: u32,
        copybuf_pct: f64,
        hint_pct: f64,
        /// The sender's pages belong to a file or a process (sendfile, splice, vmsplice…).
        owned: bool,
    },
    Yes,
    No,
    WhyColdChanged {
        cold: u64,
        warm: u64,
        by: &'a str,
    },
    WhyColdSame {
        cold: u64,
        warm: u64,
        by: &'a str,
    },

    // ── quiz: around the questions ──
    /// A whole number, exactly.
    AnswerExactly,
    /// A whole number, right within `pct` %.
    AnswerWithin {
        pct: u32,
    },
    QuizHeader {
        seed: u64,
        total: usize,
    },
    NotAsked,
    TryAgain {
        why: &'a str,
    },
    AlsoRight {
        choices: &'a [String],
    },
    Right,
    Wrong,
    /// After an answer: right or wrong, the measured answer, and why.
    Verdict {
        mark: &'a str,
        answer: &'a str,
        also: &'a str,
        explanation: &'a str,
    },
    AnswerMeasured,
    Score {
        score: usize,
        total: usize,
    },
    /// The quiz ended (`q`, or the end of the input) after `answered` of `total` questions.
    Stopped {
        answered: usize,
        total: usize,
    },
}

/// "256 MiB": sizes read the same in every language.
fn size(bytes: u64) -> String {
    crate::size::fmt_bytes(bytes)
}

/// Milliseconds as the lesson writes them: whole from 10 on, one decimal below.
fn ms(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A figure or "n/a".
fn or_na<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| "n/a".to_string(), f)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LANGS: [Lang; 2] = [Lang::En, Lang::Zh];

    /// Every list has the same length in every language: a bullet missing in one fails here.
    #[test]
    fn every_language_says_every_list_in_full() {
        for k in MethodKind::ALL {
            let n: Vec<usize> = LANGS.iter().map(|l| (table(*l).reality)(k).len()).collect();
            assert!(n.iter().all(|x| *x == n[0] && *x > 0), "{k}: {n:?}");
        }
        for k in ReceiverKind::ALL {
            let n: Vec<usize> = LANGS
                .iter()
                .map(|l| (table(*l).receive_reality)(k).len())
                .collect();
            assert!(n.iter().all(|x| *x == n[0] && *x > 0), "{k}: {n:?}");
        }
        for l in LANGS {
            for m in table(l).myths {
                assert!(!m.claim.is_empty() && !m.truth.is_empty() && !m.command.is_empty());
            }
        }
    }

    /// No message renders empty in any language (a `say` arm that forgot its text).
    #[test]
    fn no_message_is_empty() {
        let samples = [
            Msg::Legend,
            Msg::KafkaTitle,
            Msg::NotCounted,
            Msg::NeverBlocked,
            Msg::Kafka(Kafka::Answer10),
            Msg::AskColdSendfile { bytes: 1 << 20 },
            Msg::NotAsked,
            Msg::AnswerMeasured,
            Msg::Title(MethodKind::IoUringSendZc),
            Msg::ReceiveTitle,
            Msg::ReceiveLegend,
            Msg::WireDma,
            Msg::Receive(ReceiveLine::Lesson),
            Msg::ReceiverTitle(ReceiverKind::Zerocopy),
            Msg::Kafka(Kafka::ConsumerReads),
            Msg::Share(MappedShare::Some),
            Msg::Thread(Side::Receiving),
            Msg::FigCache(CacheState::Warm),
        ];
        for l in LANGS {
            for m in &samples {
                assert!(!say(l, m).trim().is_empty(), "{l:?} {m:?}");
            }
        }
    }

    #[test]
    fn calls_are_written_as_the_kernel_sees_them() {
        use crate::method::call;
        assert_eq!(CallName::from(call::WRITE).to_string(), "write()");
        assert_eq!(
            CallName::from(call::OP_SPLICE).to_string(),
            "IORING_OP_SPLICE"
        );
        assert_eq!(
            CallName::from(call::RECV_TRUNC).to_string(),
            "recv(MSG_TRUNC)"
        );
    }
}
