//! Every word of the lesson in English: one arm per message, and the HTML page's words.

use super::{
    CallName, Counted, Heading, JdkTransfer, Kafka, KafkaHeading, LeftOut, MYTHS, MappedShare, Msg,
    Myth, PageWords, Paired, ReceiveHeading, ReceiveLine, ReceiveOutcome, Side, Table, ms, or_na,
    size,
};
use crate::method::{Band, MethodKind, Place, StepKind};
use crate::receive::ReceiverKind;
use crate::report::thousands;
use crate::results::CacheState;
use crate::transport::Transport;

pub static TABLE: Table = Table {
    say,
    reality,
    receive_reality,
    myths: &MYTH_LIST,
    colon: ":",
    colon_space: " ",
    sentence_gap: " ",
    list_sep: ", ",
    page: PAGE,
};

/// "a", "a and b", "a, b and c".
fn and_list<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let items: Vec<String> = items.map(|i| i.to_string()).collect();
    match items.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "s" unless `n` is 1.
fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn say(m: &Msg) -> String {
    match m {
        Msg::Band(b) => band(*b).into(),
        Msg::Place(p) => place(*p).into(),
        Msg::Step(k) => step(*k).into(),
        Msg::Title(k) => title(*k).into(),
        Msg::Heading(h) => heading(*h).into(),
        Msg::Legend => "DMA = a device copies · CPU = the processor copies · CPU* = a CPU copy only without scatter-gather DMA: with it the skb holds page references and the NIC reads the page cache directly · ref = page references move · map = pages mapped · pin = pages pinned until a completion (a CPU copy without scatter-gather)".into(),
        Msg::During(CallName::Op(c)) => format!("by {c}, submitted in a batch with io_uring_enter()"),
        Msg::During(c) => format!("during {c}"),
        Msg::DiskDma { call, toucher } => {
            let inside = match (call, toucher) {
                (Some(c), _) => format!("inside {c}"),
                (None, Some(t)) => format!("inside the page fault {t} takes"),
                (None, None) => "inside the page fault of the first touch".into(),
            };
            format!(
                "only on a page-cache miss, {inside} — often earlier, by readahead; on a hit the disk is not read at all"
            )
        }
        Msg::MappedByFaults { call, toucher } => {
            let touch = toucher.map_or(String::new(), |t| format!(", here inside {t}"));
            format!(
                "{call} only reserves addresses (no MAP_POPULATE): pages are mapped by faults on first touch{touch}, many per fault (fault-around maps the cached pages around the address, a large folio goes in whole); on a cold cache the disk DMA happens inside that fault"
            )
        }
        Msg::TextbookCopies { cpu, sg } if cpu == sg => {
            format!("{cpu} CPU cop{}", if *cpu == 1 { "y" } else { "ies" })
        }
        Msg::TextbookCopies { cpu, sg } => {
            format!(
                "{cpu} CPU cop{} ({sg} with scatter-gather DMA)",
                if *cpu == 1 { "y" } else { "ies" }
            )
        }
        Msg::SyscallsPerChunk(c) => format!("syscalls per chunk: {c}"),
        Msg::SyscallsPerBatch(b) => {
            format!("one syscall, {b}, per batch of chunks (--batch sets how many)")
        }
        Msg::SyscallsOnce(o) => format!(" ({o} once)"),
        Msg::Textbook {
            copies,
            dma,
            transitions,
            calls,
            once,
        } => format!(
            "{copies}, {dma} DMA copies, {transitions} user↔kernel transitions (the \"context switches\" of interview answers); {calls}{once}."
        ),
        Msg::MeasuredCalls {
            bytes,
            transport,
            runs,
            syscalls,
            by_name,
            read_write,
        } => format!(
            "{} over {transport} (median of {runs} runs): {} ({by_name}) — read-write needed {}.",
            size(*bytes),
            match syscalls {
                Some(1) => "1 syscall".to_string(),
                Some(n) => format!("{n} syscalls"),
                None => "n/a syscalls".into(),
            },
            or_na(*read_write, |n| n.to_string()),
        ),
        Msg::MeasuredCounts {
            voluntary,
            involuntary,
            minor_faults,
            major_faults,
            sys_ms,
            read_write_sys_ms,
        } => format!(
            "context switches {voluntary} voluntary / {involuntary} involuntary · page faults {minor_faults} minor / {major_faults} major · sys CPU {sys_ms:.1} ms (read-write {read_write_sys_ms:.1} ms)."
        ),
        Msg::ZeroCopySends {
            sends,
            completed,
            copied,
            plain_fallback,
        } => format!(
            "zero-copy sends {sends}, completed {completed}; the kernel reported {copied} of them copied{}.",
            match plain_fallback {
                0 => String::new(),
                n => format!(" ({n} chunks fell back to a plain send after ENOBUFS)"),
            }
        ),
        Msg::WorkerCpu { ms } => format!(
            "io-wq worker threads ran {ms:.1} ms of CPU for the serving thread — not in its figures above."
        ),
        Msg::SampledCopies {
            serving_ms_per_gib,
            serving_share_pct,
            read_write_ms_per_gib,
            receiver_ms_per_gib,
            receiver_share_pct,
        } => format!(
            "sampled CPU (cpu-clock): the serving thread spent {serving_ms_per_gib:.0} ms per GiB copying ({serving_share_pct:.0}% of its samples; read-write's: {read_write_ms_per_gib:.0} ms), the receiver {receiver_ms_per_gib:.0} ms per GiB ({receiver_share_pct:.0}%) — its copy out of the socket stays on every path."
        ),
        Msg::Agrees {
            per_chunk,
            chunks,
            fresh_regions,
            syscalls,
            textbook_transitions,
            left_out,
            switches,
        } => format!(
            "Agrees with the model: {per_chunk} per chunk × {chunks} chunk{}{} = {syscalls} syscall{} = {} user↔kernel transitions. The textbook's {textbook_transitions} describe a single chunk{}. {switches}",
            plural(*chunks),
            match fresh_regions {
                0 => String::new(),
                n => format!(" + mmap + munmap × {n} region{} of fresh pages", plural(*n)),
            },
            plural(*syscalls),
            2 * syscalls,
            match left_out {
                LeftOut::Nothing => "",
                LeftOut::Munmap => " and leave out munmap",
                LeftOut::FreshPages => " and leave out the fresh pages vmsplice needs",
            },
        ),
        Msg::Differs { got, want } => format!(
            "Differs from the textbook's {want}: {got} syscalls were made, because the socket took fewer bytes per call than asked (short writes) or the counters saw calls outside the data path. The textbook's model has no notion of that."
        ),
        Msg::NoFixedCount { got, per_chunk } => format!(
            "{got} syscalls: {per_chunk} The model has no fixed count here: how many calls it takes depends on when the kernel completes each request."
        ),
        Msg::NotCounted => "Syscalls could not be counted on this machine (see `copylab doctor`), so only the CPU and context-switch figures can be compared.".into(),
        Msg::NeverBlocked => "The thread never blocked (0 voluntary context switches): the socket always had room.".into(),
        Msg::Blocked { times } => format!(
            "The scheduler context switches above are something else: the thread blocked {times} time{} (voluntary switches) — typically waiting for room in the socket buffer, which this run does not show.",
            plural(*times)
        ),
        Msg::KafkaTitle => "Kafka's zero copy — 「请你简单说一下Kafka的零拷贝原理」, the answer step by step".into(),
        Msg::KafkaHeading(h) => kafka_heading(*h).into(),
        Msg::Kafka(k) => kafka(*k).into(),
        Msg::KafkaFigures {
            bytes,
            runs,
            buffer_bytes,
            pipe_bytes,
        } => format!(
            "Figures: a {} generated file over tcp 127.0.0.1 (loopback: no NIC), median of {runs} runs of `copylab compare`, read-write buffer {}, splice pipe {}.",
            size(*bytes),
            size(*buffer_bytes),
            or_na(*pipe_bytes, size)
        ),
        Msg::MeasuredHere(what) => format!("Measured here: {what}."),
        Msg::PathCalls {
            syscalls: Some(n),
            by_name,
        } => format!(
            "{} syscall{} ({by_name}) = {} user↔kernel transitions",
            thousands(*n),
            plural(*n),
            thousands(2 * n)
        ),
        Msg::PathCalls {
            syscalls: None,
            by_name,
        } => format!(
            "n/a syscalls: perf could not count them (see `copylab doctor`); the path itself counted {by_name}"
        ),
        Msg::ServingCopy { ms_per_gib: Some(s) } => {
            format!("the serving thread spent {s:.0} ms per GiB in copy routines")
        }
        Msg::ServingCopy { ms_per_gib: None } => {
            "copy time n/a (perf sampling refused: run as root)".into()
        }
        Msg::PathHere { bytes, calls, copy } => format!("{}: {calls}; {copy}", size(*bytes)),
        Msg::MmapHere {
            bytes,
            calls,
            minor_faults,
            copy,
        } => format!(
            "{}: {calls}; {} minor page faults; {copy}",
            size(*bytes),
            thousands(*minor_faults)
        ),
        Msg::SendfileHere {
            bytes,
            calls,
            copy,
            read_write_ms_per_gib,
        } => format!(
            "{} on a blocking socket: {calls}; {copy} (read-write's: {})",
            size(*bytes),
            or_na(*read_write_ms_per_gib, |s| format!("{s:.0} ms"))
        ),
        Msg::ReceiverCopy { ms_per_gib: Some(r) } => format!(
            "with sendfile the receiver copied for {r:.0} ms per GiB — on loopback, with no NIC, the only copy left"
        ),
        Msg::ReceiverCopy { ms_per_gib: None } => {
            "the receiver's copy time n/a (perf sampling refused: run as root)".into()
        }
        Msg::Parallel {
            connections,
            file_bytes,
            cached_pct,
            aggregate_mib_s,
            sendfile_calls,
            partial,
            eagain,
        } => format!(
            "Measured here: {connections} connection{} each fetching the same {} ({} in the page cache before), received by `copylab fetch --connections {connections}`: {} MiB/s in all; per connection {sendfile_calls} sendfile calls on a non-blocking socket: {partial} returned a partial count (the socket buffer filled), {eagain} returned EAGAIN and waited in poll until the socket was writable.",
            plural(*connections as u64),
            size(*file_bytes),
            or_na(*cached_pct, |c| format!("{c:.0}%")),
            or_na(*aggregate_mib_s, |m| format!("{m:.0}")),
        ),
        Msg::WitnessNotAvailable { why } => {
            format!("The sendfile calls of a Java transferTo program: n/a ({why}).")
        }
        Msg::WitnessTraced {
            java,
            jdk,
            copy_file_range_calls,
            copy_file_range_errors,
            file_bytes,
            transfer_to_calls,
            transfer_to_partial,
            sendfile_calls,
            sendfile_bytes,
            sendfile_errors,
            path,
        } => format!(
            "Measured here: Java {java} sent the {} file with FileChannel.transferTo on a non-blocking SocketChannel: {} transferTo calls, {} of them partial; `copylab trace` saw {} copy_file_range calls ({} failed) and {} sendfile64 calls moving {} of its {} bytes ({} returned EAGAIN) — {}. trace says: {path}",
            size(*file_bytes),
            thousands(*transfer_to_calls),
            thousands(*transfer_to_partial),
            thousands(*copy_file_range_calls),
            thousands(*copy_file_range_errors),
            thousands(*sendfile_calls),
            thousands(*sendfile_bytes),
            thousands(*file_bytes),
            thousands(*sendfile_errors),
            match jdk {
                JdkTransfer::SendfileOnly => "this JDK goes straight to sendfile (trying copy_file_range first came with JDK 20, JDK-8292562)",
                JdkTransfer::CopyFileRangeFirst => "each transferTo tried copy_file_range, which a socket refuses, then fell back to sendfile (JDK-8292562)",
            },
        ),
        Msg::SelfCountedNames(names) => format!("self-counted: {names}"),
        Msg::NoServingCopy {
            paths,
            most,
            read_write,
        } => format!(
            "{}: the serving thread copied nothing (at most {most} ms/GiB; read-write's: {read_write}).",
            and_list(paths.iter())
        ),
        Msg::CopiedInSoftirq { paths } => format!(
            "{} still copied, in softirq: on loopback the kernel copies zero-copy pages for the local receiver.",
            and_list(paths.iter().map(|(p, v)| format!("{p} ({v} ms/GiB)")))
        ),
        Msg::ReceiversCopied { lo, hi } => format!(
            "Every receiver still copied each byte in recv: {}{} ms/GiB, whatever the sender did — the copy the textbook leaves out.",
            lo,
            hi.map_or(String::new(), |hi| format!("–{hi}"))
        ),
        Msg::EndToEnd {
            read_write_ns,
            paths,
        } => format!(
            "CPU per GiB, both threads, against read-write's {} ms (paired runs, median and range): {}.",
            crate::size::fmt_ms(*read_write_ns),
            paths
                .iter()
                .map(|(p, r)| match r {
                    Paired::WithinNoise => format!("{p} within noise"),
                    Paired::Ratio {
                        median,
                        range: Some((lo, hi)),
                    } => format!("{p} {median:.2}× ({lo:.2}–{hi:.2})"),
                    Paired::Ratio {
                        median,
                        range: None,
                    } => format!("{p} {median:.2}×"),
                    Paired::NotMeasured => format!("{p} n/a"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Msg::ServingSyscalls { paths, read_write } => format!(
            "Syscalls per transfer, serving thread: {} against read-write's {}.",
            paths
                .iter()
                .map(|(p, n)| format!("{p} {}", thousands(*n)))
                .collect::<Vec<_>>()
                .join(", "),
            thousands(*read_write)
        ),
        Msg::ReceiveTitle => {
            "receive — the copy the textbook leaves out: can the receiving end avoid it?".into()
        }
        Msg::ReceiveHeading(h) => receive_heading(*h).into(),
        Msg::Receive(r) => receive(*r).into(),
        Msg::ReceiverTitle(k) => receiver_title(*k).into(),
        Msg::ReceiveLegend => "DMA = a device copies (the receiving NIC into memory; on loopback there is none) · CPU = the processor copies · ref = page references move · map = pages mapped into the receiver · drop = the bytes are freed unread, no copy".into(),
        Msg::ReceiveFigures {
            bytes,
            runs,
            link,
            placement,
        } => format!(
            "Figures: {} sent by sendfile and by MSG_ZEROCOPY to each receiver over {link}, {placement}, median of {runs} runs of each pair (what `copylab compare --methods sendfile,msg-zerocopy --receive all` runs). receiver sys = the receiving thread's sys CPU; copy = cpu-clock samples in copy routines; both per GiB.",
            size(*bytes)
        ),
        Msg::ReceivePair {
            sender,
            receiver,
            rx_sys_ms,
            rx_sys_lo,
            rx_sys_hi,
            baseline,
            ratio,
            within_noise,
            tx_copy_ms,
            rx_copy_ms,
            mapped_pct,
            outcome,
        } => format!(
            "{sender} → {receiver}: receiver sys {} ms/GiB ({}–{}){}; copy {} on the sending thread, {} on the receiving path{}: {}.",
            ms(*rx_sys_ms),
            ms(*rx_sys_lo),
            ms(*rx_sys_hi),
            match ratio {
                _ if *baseline => " — the pair the others are compared with".to_string(),
                None => String::new(),
                Some(x) if *within_noise => {
                    format!(", {x:.2}× sendfile → recv's, within the runs' noise")
                }
                Some(x) => format!(", {x:.2}× sendfile → recv's"),
            },
            or_na(*tx_copy_ms, |v| format!("{} ms/GiB", ms(v))),
            or_na(*rx_copy_ms, |v| format!("{} ms/GiB", ms(v))),
            match mapped_pct {
                Some(p) => format!(", {p:.1}% mapped"),
                None => String::new(),
            },
            outcome_words(*outcome),
        ),
        Msg::ReceiveNa { pair, why } => format!("{pair}: n/a — {why}."),
        Msg::BandShort(b) => match b {
            Band::User => "user",
            Band::Kernel => "kernel",
            Band::Hardware => "hw",
        }
        .into(),
        Msg::Thread(Side::Serving) => "serving thread".into(),
        Msg::Thread(Side::Receiving) => "receiving thread".into(),
        Msg::WireDma => "on a real network the receiving NIC writes each packet into memory by DMA; on loopback (what copylab measures) there is no NIC and no DMA: the sender's skb is queued to the receiving socket as it is, page references and all".into(),
        Msg::FigCache(state) => match state {
            CacheState::Warm => "cached: not read",
            CacheState::Cold => "read from disk",
            CacheState::Partial => "partly cached",
            CacheState::Unknown => "",
        }
        .into(),
        Msg::FigNoNic(t) => match t {
            Transport::Tcp => "lo: no NIC, no DMA",
            Transport::Veth => "veth: no NIC, no DMA",
            Transport::Unix => "unix socket: no NIC",
        }
        .into(),
        Msg::FigWire(t) => match t {
            Transport::Tcp => "lo: skb handed over",
            Transport::Veth => "veth: skb handed over",
            Transport::Unix => "unix: skb queued",
        }
        .into(),
        Msg::FigFaults(n) => format!("{} fault{}", thousands(*n), plural(*n)),
        Msg::FigCopy { steps, ms_per_gib } => {
            let fig = or_na(*ms_per_gib, |v| format!("{} ms/GiB", ms(v)));
            if steps.is_empty() {
                format!("copy {fig}")
            } else {
                format!("{steps} copy {fig}")
            }
        }
        Msg::FigCopied { copied, sends } => format!("{copied}/{sends} sends copied"),
        Msg::FigEnters(n) => format!("io_uring_enter ×{}", thousands(*n)),
        Msg::FigSyscalls(n) => format!("{} syscall{}", thousands(*n), plural(*n)),
        Msg::FigMapped(p) => format!("{p:.0}% mapped"),
        Msg::CountedBy(Counted::Perf) => "counted by perf on the serving thread".into(),
        Msg::CountedBy(Counted::SelfCounted) => {
            "counted by copylab itself: perf could not count here".into()
        }
        Msg::AskSpliceCalls { bytes, pipe_bytes } => format!(
            "How many syscalls does splice need for {} through a {} pipe?",
            size(*bytes),
            size(*pipe_bytes)
        ),
        Msg::WhySpliceCalls {
            bytes,
            pipe_granted,
            pipe_fulls,
            predicted,
            measured,
            by,
        } => format!(
            "Two splices per pipe-full (file → pipe, pipe → socket): the kernel granted a {pipe_granted} pipe, {} is {pipe_fulls} pipe-fulls, so the model says {predicted}; measured {measured} ({by}).",
            size(*bytes)
        ),
        Msg::AskReadWriteCalls {
            bytes,
            buffer_bytes,
        } => format!(
            "How many syscalls does read-write make for {} with a {} buffer?",
            size(*bytes),
            size(*buffer_bytes)
        ),
        Msg::WhyReadWriteCalls {
            chunks,
            predicted,
            measured,
            by,
        } => format!(
            "One pread64 and one write per buffer-full: {chunks} buffer-fulls, {predicted} calls in the model; measured {measured} ({by})."
        ),
        Msg::AskReadWriteTransitions {
            bytes,
            buffer_bytes,
        } => format!(
            "How many user↔kernel transitions does read-write make for {} with a {} buffer?",
            size(*bytes),
            size(*buffer_bytes)
        ),
        Msg::WhyReadWriteTransitions {
            syscalls,
            transitions,
            by,
        } => format!(
            "Two transitions per syscall (enter, leave), and one pread64 + one write per buffer-full: measured {syscalls} syscalls ({by}), so {transitions} transitions — the textbook's 4 are one buffer-full."
        ),
        Msg::AskSendfileCalls { bytes } => format!(
            "How many syscalls does sendfile need for {} on a blocking socket?",
            size(*bytes)
        ),
        Msg::WhySendfileCalls { measured, by } => format!(
            "One sendfile moves up to 2 GiB − 4 KiB and a blocking socket waits until all of it fits; measured {measured} ({by}). On a non-blocking socket (Kafka) it takes many partial calls."
        ),
        Msg::AskMostCopy {
            bytes,
            buffer_bytes,
            note,
        } => format!(
            "Which path makes the serving thread copy most, for {}{note} (read-write with a {} buffer)?",
            size(*bytes),
            size(*buffer_bytes)
        ),
        Msg::CopySizeNote { asked } => format!(
            ", measured on a larger file than --size {}: copy time is sampled once per ms of CPU, and a smaller file gives too few samples",
            size(*asked)
        ),
        Msg::WhyMostCopy { figures, runs } => format!(
            "Sampled copy time of the serving thread, ms per GiB, median (min–max) over {runs} runs: {figures}. mmap's page faults are taken inside write()'s copy and count as copy; sendfile and splice hand page references to the socket."
        ),
        Msg::OutsideNoise => "No other path's range reaches the top's.".into(),
        Msg::InsideNoise { names } => format!(
            "Inside the noise of these runs: {names} overlap the top's range and count as right too."
        ),
        Msg::Tie { names } => format!(
            "{} made the same count: each is right.",
            match names {
                [a, b] => format!("{a} and {b}"),
                _ => names.join(", "),
            }
        ),
        Msg::CopyFigure {
            name,
            median,
            lo,
            hi,
        } => format!("{name} {median:.0} ({lo:.0}–{hi:.0})"),
        Msg::AskMostSyscalls {
            bytes,
            buffer_bytes,
            pipe_bytes,
        } => format!(
            "Which path makes the most syscalls for {}, read-write with a {} buffer and splice with a {} pipe?",
            size(*bytes),
            size(*buffer_bytes),
            size(*pipe_bytes)
        ),
        Msg::WhyMostSyscalls { figures, by } => format!(
            "Syscalls measured: {figures} ({by}). read-write makes two per buffer-full, splice two per pipe-full, mmap three in all, sendfile one."
        ),
        Msg::AskMmapFaults { bytes } => format!(
            "How many minor page faults does mmap take for {} already in the page cache (the count depends on the kernel's fault-around and folio sizes, not on the page count alone)?",
            size(*bytes)
        ),
        Msg::WhyMmapFaults {
            bytes,
            pages,
            measured,
            runs,
            lo,
            hi,
            tolerance_pct,
        } => format!(
            "{} is {pages} pages, but a fault maps the cached pages around it too (mm/memory.c do_fault_around, fault_around_bytes) and a large folio goes in whole, so measured {measured} (median of {runs} runs, {lo}–{hi}; getrusage, serving thread). The count depends on the kernel and on the folio sizes in the page cache: an answer within {tolerance_pct}% is right, which covers every run here.",
            size(*bytes)
        ),
        Msg::AskColdSendfile { bytes } => format!(
            "Does --cache cold change sendfile's syscall count for {}?",
            size(*bytes)
        ),
        Msg::AskReceiveMapped { sender, bytes } => format!(
            "{sender} sends {} over loopback (lo's MTU set so each segment carries whole pages) to a receiver that uses TCP_ZEROCOPY_RECEIVE: how much of it is mapped into the receiver instead of copied?",
            size(*bytes)
        ),
        Msg::Share(s) => match s {
            MappedShare::AlmostNone => "almost none (< 5%)",
            MappedShare::Some => "some (5–95%)",
            MappedShare::AlmostAll => "almost all (≥ 95%)",
        }
        .into(),
        Msg::WhyReceiveMapped {
            sender,
            mapped_pct,
            lo_pct,
            hi_pct,
            runs,
            copybuf_pct,
            hint_pct,
            owned,
        } => format!(
            "Measured {mapped_pct:.1}% mapped (median of {runs} runs, {lo_pct:.1}–{hi_pct:.1}%); {copybuf_pct:.1}% was copied into the copy buffer and {hint_pct:.1}% read with recv as recv_skip_hint said. {}",
            if *owned {
                format!(
                    "can_map_frag() (net/ipv4/tcp.c) maps only whole pages that are not compound and belong to nobody (page->mapping == NULL): {sender}'s pages are the file's page-cache pages (their page->mapping is the file), so the kernel copies them instead."
                )
            } else {
                "On loopback the kernel copies MSG_ZEROCOPY's pages before a local socket may hold them (skb_copy_ubufs): the receiver maps those fresh copies — the copy moved to the sender, it did not go away.".to_string()
            }
        ),
        Msg::Yes => "yes".into(),
        Msg::No => "no".into(),
        Msg::WhyColdChanged { cold, warm, by } => format!(
            "Cold {cold}, warm {warm} ({by}): in this cold run sendfile returned early and was called again."
        ),
        Msg::WhyColdSame { cold, warm, by } => format!(
            "Cold {cold}, warm {warm} ({by}): the disk is read inside the same sendfile call (and by readahead), not by extra calls; what changes is the time it waits."
        ),
        Msg::AnswerExactly => "(a whole number, exactly)".into(),
        Msg::AnswerWithin { pct } => format!("(a whole number; right within {pct}%)"),
        Msg::QuizHeader { seed, total } => format!(
            "copylab quiz · seed {seed} (--seed {seed} gives the same questions) · {total} questions, each checked against what this run measured"
        ),
        Msg::NotAsked => "not asked:".into(),
        Msg::TryAgain { why } => format!("{why}; try again"),
        Msg::AlsoRight { choices } => format!(" (also right: {})", choices.join(", ")),
        Msg::Right => "right".into(),
        Msg::Wrong => "wrong".into(),
        Msg::Verdict {
            mark,
            answer,
            also,
            explanation,
        } => format!("{mark} — measured here: {answer}{also}. {explanation}"),
        Msg::AnswerMeasured => "answer (measured in this run):".into(),
        Msg::Score { score, total } => format!("score {score}/{total}"),
        Msg::Stopped { answered, total } => {
            format!(" (ended after {answered} of {total} questions)")
        }
    }
}

fn band(b: Band) -> &'static str {
    match b {
        Band::User => "user space",
        Band::Kernel => "kernel space",
        Band::Hardware => "hardware",
    }
}

fn place(p: Place) -> &'static str {
    match p {
        Place::Disk => "disk",
        Place::PageCache => "page cache",
        Place::UserBuffer => "user buffer",
        Place::UserMapping => "user mapping",
        Place::Pipe => "pipe",
        Place::SocketBuffer => "socket buffer",
        Place::Nic => "NIC",
        Place::DevNull => "/dev/null",
        Place::Freed => "freed",
        Place::CopyBuffer => "copy buffer",
    }
}

fn step(k: StepKind) -> &'static str {
    match k {
        StepKind::Dma => "DMA copy by a device, no CPU",
        StepKind::Cpu => "CPU copy of every byte",
        StepKind::CpuUnlessSg => {
            "no copy when the device does scatter-gather DMA (the skb's frags hold page references and the NIC reads the pages where they are); a CPU copy without it"
        }
        StepKind::Reference => "page references move, no copy",
        StepKind::Map => "pages mapped into the process, no copy",
        StepKind::Pin => {
            "pages pinned and lent to the socket until a completion, no copy — when the device does scatter-gather; without it TCP copies"
        }
        StepKind::Drop => "the bytes are dropped unread, no copy",
    }
}

fn title(m: MethodKind) -> &'static str {
    match m {
        MethodKind::ReadWrite => "read-write — read() into a buffer, write() it to the socket",
        MethodKind::Mmap => "mmap — map the file, write() straight from the mapping",
        MethodKind::Sendfile => {
            "sendfile — one call, file to socket inside the kernel (Kafka's transferTo)"
        }
        MethodKind::Splice => "splice — file → pipe → socket, page references instead of bytes",
        MethodKind::Vmsplice => {
            "vmsplice — read into fresh pages, lend them to a pipe, splice the pipe to the socket"
        }
        MethodKind::MsgZerocopy => {
            "msg-zerocopy — send(MSG_ZEROCOPY) from a mapping, completions on the error queue"
        }
        MethodKind::IoUringSplice => {
            "io-uring-splice — splice's pipe path, submitted in batches through an io_uring"
        }
        MethodKind::IoUringSendZc => {
            "io-uring-send-zc — zero-copy sends through an io_uring, two completions each"
        }
    }
}

fn heading(h: Heading) -> &'static str {
    match h {
        Heading::Steps => "Steps",
        Heading::Receiver => "At the receiver — the copy the textbook leaves out",
        Heading::Textbook => "Textbook",
        Heading::Reality => "What Linux really does",
        Heading::Measured => "Measured here",
        Heading::Sources => "Sources",
        Heading::Myths => "Interview myths, corrected",
    }
}

fn receive_heading(h: ReceiveHeading) -> &'static str {
    match h {
        ReceiveHeading::Question => "The question",
        ReceiveHeading::WhyNoMap => "Why sendfile's pages never map",
        ReceiveHeading::Lesson => "The lesson",
        ReceiveHeading::Bench => "What scripts/bench-receive.sh measured where this was written",
        ReceiveHeading::Measured => "Measured here",
        ReceiveHeading::Sources => "Sources",
    }
}

fn receiver_title(k: ReceiverKind) -> &'static str {
    match k {
        ReceiverKind::Recv => "recv — recv() into a buffer: the kernel copies every byte",
        ReceiverKind::Trunc => {
            "trunc — recv(MSG_TRUNC) with no buffer: bytes counted and dropped, never copied"
        }
        ReceiverKind::Splice => {
            "splice — socket → pipe → /dev/null: page references dropped, nothing copied"
        }
        ReceiverKind::Zerocopy => {
            "zerocopy — TCP_ZEROCOPY_RECEIVE: the socket's pages mapped into the receiver"
        }
    }
}

fn outcome_words(o: ReceiveOutcome) -> &'static str {
    match o {
        ReceiveOutcome::Copied => "the receiving path copies every byte",
        ReceiveOutcome::MovedToSender => "no receive copy — the copy moved to the sender",
        ReceiveOutcome::Mapped => "mapped, no copy measured on either end",
        ReceiveOutcome::Dropped => "no copy — the data is thrown away",
        ReceiveOutcome::Unknown => "too few samples to say where it copied",
    }
}

fn receive(r: ReceiveLine) -> &'static str {
    match r {
        ReceiveLine::Intro => {
            "With sendfile or splice the serving thread copies nothing, but the receiver's recv() still copies every byte out of its socket: on one host that is the copy left. Can the receiving end avoid it too?"
        }
        ReceiveLine::Four => {
            "Linux has four ways to take bytes off a TCP socket, each drawn below from the NIC on: recv() copies them; recv(MSG_TRUNC) and splice to /dev/null never look at them; TCP_ZEROCOPY_RECEIVE maps the socket's pages into the receiver where the kernel allows it. `copylab compare --receive all` measures each against each sender."
        }
        ReceiveLine::MapConditions => {
            "TCP_ZEROCOPY_RECEIVE maps a fragment of the socket's data only if can_map_frag() (net/ipv4/tcp.c) says yes: a whole page (PAGE_SIZE bytes at offset 0), not part of a compound page, belonging to nobody — page->mapping == NULL. Anything else is copied: into the copy buffer, or left for a recv() of recv_skip_hint bytes."
        }
        ReceiveLine::MapSendfile => {
            "sendfile (and splice from a file) puts the file's page-cache pages into the skb, and on loopback those very pages reach the receiving socket. A page-cache page has page->mapping set — its file — so not one maps. The check came with \"tcp: add sanity checks to rx zerocopy\" (Linux 6.8, commit 577e4432f3ac, backported to 6.1-stable): \"TCP rx zerocopy intent is to map pages initially allocated from NIC drivers, not pages owned by a fs\" — syzbot had mapped an ext4 file's pages into a receiver through sendfile over loopback. An unpatched kernel older than that could map them."
        }
        ReceiveLine::MapSelftest => {
            "The kernel's own example, tools/testing/selftests/net/tcp_mmap.c, says what mapping needs: \"NIC with header split is needed\" — each frame must carry a multiple of PAGE_SIZE bytes of payload. On loopback it sets lo's MTU to 61512 (15 × 4096 + 40 + 32: 15 pages per segment), which copylab does in a private network namespace of its own, never on the host's lo; and it notes that its MSG_ZEROCOPY sender \"forces a copy when packets go through loopback interface\"."
        }
        ReceiveLine::MapMsgZerocopy => {
            "MSG_ZEROCOPY's pages do map — because they are copies: before a looped-back skb may wait in a local socket, skb_orphan_frags_rx → skb_copy_ubufs copies the sender's pinned pages into fresh kernel pages (every completion says SO_EE_CODE_ZEROCOPY_COPIED), and fresh pages belong to nobody. The copy moved to the sender's side; it did not go away."
        }
        ReceiveLine::MapSpliceVmsplice => {
            "copylab's splice and vmsplice senders map 0% too: splice feeds page-cache pages like sendfile, and vmsplice lends the process's own anonymous pages, whose page->mapping is set (their anon_vma). A sender that writes into a pipe and splices the pipe maps (99.5–100% with a small C program while this was built): its copy happened in the write into the pipe."
        }
        ReceiveLine::MapZcrx => {
            "io_uring's zero-copy receive (IORING_OP_RECV_ZC, Documentation/networking/iou-zcrx.rst) receives into the application's own memory instead — but it needs a NIC queue with header/data split and flow steering: on lo and veth registering one fails with EOPNOTSUPP."
        }
        ReceiveLine::Lesson => {
            "On one host the last copy can be moved, or the data thrown away, but not removed."
        }
        ReceiveLine::LessonMoved => {
            "Moved: TCP_ZEROCOPY_RECEIVE maps only pages nobody owns, so someone must first put the data into such pages — on one host the sender, by a CPU copy (MSG_ZEROCOPY's skb_copy_ubufs, or a write into a pipe). Between two hosts the receiving NIC's DMA is that copy, and no CPU pays for it."
        }
        ReceiveLine::LessonDropped => {
            "Thrown away: recv(MSG_TRUNC) and splice to /dev/null copy nothing because nothing reads the bytes — a benchmark's trick (iperf3 --skip-rx-copy), not a way to use data. Splice the socket into a file instead and the copy is back (iter_file_splice_write)."
        }
        ReceiveLine::BenchWhat => {
            "scripts/bench-receive.sh: 1 GiB per pair, 5 interleaved rounds, on a 2-vCPU VM (Linux 6.18) shared with other work, so noisy; each ratio is the receiving thread's sys CPU per GiB over sendfile → recv's in the same run."
        }
        ReceiveLine::BenchPinned => {
            "Threads pinned apart (CPUs 0 and 1): trunc 0.69× (rounds 0.57–0.79×), splice → /dev/null 0.79×, and the discarding receivers' copy share fell to 0–0.6% of their samples. Pinned, the saving is smaller than unpinned: a receiver that no longer copies wakes for smaller batches (10,568 recv calls per GiB instead of 2,157) and handles more window updates."
        }
        ReceiveLine::BenchUnpinned => {
            "Unpinned (--cpus any): trunc 0.47× in one run (rounds 0.40–0.73×) and 0.57× in another, splice 0.54× and 0.63× — the ratios move with where the scheduler puts the two threads."
        }
        ReceiveLine::BenchZerocopy => {
            "zerocopy from sendfile mapped 0% and cost more than recv (1.86× pinned, 1.31–1.56× unpinned): each getsockopt then copies about one segment. From MSG_ZEROCOPY it mapped 99.3% and the receiver's copy share fell to 0.6%, yet its sys CPU was 1.32× recv's pinned (0.79–1.05× unpinned): inserting and zapping pages costs about what the copy did — MADV_DONTNEED's TLB flush reaches the sender's CPU too, both threads being one process here (tcp_mmap uses two) — and the sender paid the copy."
        }
        ReceiveLine::RunMeasure => {
            "Run `copylab explain receive --measure` (as root: the zerocopy receiver needs a private network namespace) to measure each pair here."
        }
    }
}

fn receive_reality(k: ReceiverKind) -> &'static [&'static str] {
    match k {
        ReceiverKind::Recv => &[
            "tcp_recvmsg_locked copies each skb's bytes into your buffer (skb_copy_datagram_msg → _copy_to_iter): the CPU reads every byte the NIC — or on loopback the sender — left in memory, and writes it again.",
            "It is the copy every client makes, curl and a Kafka consumer alike; with sendfile on the serving side it is, on one host, the only CPU copy left.",
        ],
        ReceiverKind::Trunc => &[
            "With MSG_TRUNC, tcp_recvmsg_locked skips skb_copy_datagram_msg: the stream advances, the skb is freed, and no byte reaches user space — the buffer may even be NULL.",
            "Nothing can be done with the data: it is how benchmarks leave the receiver's copy out (iperf3 --skip-rx-copy, neper). copylab counts the bytes and cannot check them.",
        ],
        ReceiverKind::Splice => &[
            "splice from a TCP socket (tcp_splice_read → skb_splice_bits) hands the skb's pages to the pipe by reference; splice to /dev/null (splice_write_null → pipe_to_null) releases them unread.",
            "Into a file instead, iter_file_splice_write writes the pages through the page cache: the copy is back.",
        ],
        ReceiverKind::Zerocopy => &[
            "The receiver mmaps its socket (PROT_READ, MAP_SHARED) and calls getsockopt(TCP_ZEROCOPY_RECEIVE): the kernel inserts the queued pages into that mapping (vm_insert_pages) instead of copying them, as far as they can be mapped; the bytes in front of a page that cannot be are copied into the copy buffer or left for a recv() of recv_skip_hint bytes.",
            "The receiver then zaps what it read (MADV_DONTNEED) so the pages go back to the socket: that page-table work and its TLB flushes are the price of mapping.",
            "Segments must carry whole pages: a NIC with header/data split, or on loopback an MTU that makes the MSS a multiple of 4096 (copylab uses a private network namespace whose lo MTU is 61512).",
        ],
    }
}

fn kafka_heading(h: KafkaHeading) -> &'static str {
    match h {
        KafkaHeading::Question => "The question",
        KafkaHeading::ReadWrite => "① The traditional path, read + write",
        KafkaHeading::Mmap => "② mmap + write",
        KafkaHeading::Sendfile => "③ sendfile, and what SG-DMA changes",
        KafkaHeading::Splice => "④ splice",
        KafkaHeading::Uses => "Where Kafka uses it",
        KafkaHeading::DoesNot => "Where it does not",
        KafkaHeading::Parallel => "\"Parallel transferTo\"",
        KafkaHeading::Stays => "What stays",
        KafkaHeading::Witness => "Witness: Java's FileChannel.transferTo",
        KafkaHeading::Consumer => "The consumer's side",
        KafkaHeading::Answer => "Ready to say",
        KafkaHeading::FollowUps => "Follow-up questions",
        KafkaHeading::Sources => "Sources",
    }
}

fn kafka(k: Kafka) -> &'static str {
    match k {
        Kafka::Intro => {
            "The answer walks from the traditional path to sendfile, then says where Kafka uses it, where it does not, and what stays. Each step has a figure measured on this machine with --measure."
        }
        Kafka::RunMeasure => {
            "Run `copylab explain kafka --measure` to have each step's figure measured here."
        }
        Kafka::RwCopies => {
            "read() copies page cache → user buffer, write() copies user buffer → socket buffer, and the disk and the NIC add one DMA each: 4 copies (2 CPU, 2 DMA) and 4 user↔kernel transitions — for one buffer-full."
        }
        Kafka::RwWholeFile => {
            "For a whole file the copies stay 4 per byte, but the transitions are 4 per buffer-full: a 1 GiB log segment through a 128 KiB buffer is 16,384 syscalls, 32,768 transitions. The disk DMA happens only on a page-cache miss."
        }
        Kafka::MmapCopies => {
            "mmap() maps the page cache into the process and write() copies from the mapping to the socket buffer: 3 copies (1 CPU, 2 DMA), still 4 transitions (mmap, write)."
        }
        Kafka::SendfileOneCall => {
            "sendfile() moves file to socket inside the kernel in one call: 2 transitions, and no user buffer."
        }
        Kafka::SendfileSg => {
            "Without scatter-gather DMA the kernel still copies page cache → socket buffer: 3 copies (1 CPU). With SG-DMA the skb holds references to the page-cache pages (its frags) and the NIC gathers them by DMA: 2 copies, both DMA, no CPU copy. That is the \"zero\" of zero copy."
        }
        Kafka::SendfileNoCompletion => {
            "The pages in flight have no completion: a change to the file after sendfile returns can still reach the wire."
        }
        Kafka::UsesChain => {
            "The broker answers consumer fetches and follower (replica) fetches from log segment files: FileRecords.writeTo → TransferableChannel.transferFrom → PlaintextTransportLayer → FileChannel.transferTo → sendfile."
        }
        Kafka::UsesCached => {
            "Consumers usually read what producers just wrote, still in the page cache: such a fetch never reads the disk."
        }
        Kafka::NotMmap => {
            "mmap: Kafka maps its index files (.index, .timeindex), not the log. Serving messages out of an mmap'ed commit log is RocketMQ's design — a common confusion between the two."
        }
        Kafka::ParallelOneCopy => {
            "Many consumers read the same cached segment over many connections: one copy of the pages in memory, each connection a transferTo from it."
        }
        Kafka::ParallelNonBlocking => {
            "Kafka's sockets are non-blocking (Java NIO): each transferTo writes what fits in the socket buffer and returns a partial count; the network thread serves other connections and calls again when the socket is writable."
        }
        Kafka::ConsumerReads => {
            "A Kafka consumer always copies in recv(): the client reads each fetch response with NetworkReceive.readFrom → PlaintextTransportLayer.read → SocketChannel.read into a ByteBuffer from its MemoryPool (MemoryPool.NONE: ByteBuffer.allocate, a heap buffer). For a heap buffer the JDK reads into a temporary direct buffer and then copies it over (sun.nio.ch.IOUtil.read): one more copy, in user space."
        }
        Kafka::ConsumerNoZeroCopy => {
            "There is no receive-side zero copy in Kafka 4.x: nothing in the client maps its socket (TCP_ZEROCOPY_RECEIVE) or splices it, and the JDK offers neither. The broker's sendfile saves the broker's copies, not the consumer's."
        }
        Kafka::ConsumerOneHost => {
            "And even a receiver that maps its socket cannot make the copy vanish on one host: it can be moved to the sender, or the data thrown away, not removed — `copylab explain receive` measures each way."
        }
        Kafka::StaysCopies => {
            "The DMA copies stay (disk → page cache on a miss, socket buffer → NIC), and so does the receiver's copy: the consumer's recv() copies every byte from its socket into its JVM."
        }
        Kafka::Answer1 => {
            "Traditionally a file goes out with read + write: 4 copies, 2 by DMA and 2 by the CPU through a user buffer, and 4 user↔kernel transitions per buffer-full."
        }
        Kafka::Answer2 => {
            "mmap + write saves the copy into user space but still copies into the socket, and pays page faults."
        }
        Kafka::Answer3 => {
            "sendfile does it in one call inside the kernel: with scatter-gather DMA the socket buffer only holds references to the page-cache pages and the NIC reads them directly, so no CPU copy is left — 2 DMA copies, 2 transitions."
        }
        Kafka::Answer8 => {
            "Zero copy does not apply to produce requests (read into the JVM, validated, written through the page cache, no fsync per request) nor to TLS, which must encrypt in the JVM; since 4.0 removed down-conversion (KIP-896), TLS is the main exception left in Kafka 4.x."
        }
        Kafka::MmapFaults => {
            "mmap only reserves addresses: pages are mapped by minor faults on first touch, here inside write(), many per fault (fault-around, large folios), and a truncated file raises SIGBUS."
        }
        Kafka::SpliceBase => {
            "Since Linux 2.6.23 sendfile is built on splice: do_sendfile → do_splice_direct → splice_direct_to_actor, which moves the pages through a pipe the kernel keeps for the calling task (current->splice_pipe); since Linux 6.5 the socket end is splice_to_socket with MSG_SPLICE_PAGES (before, pipe_to_sendpage called the socket's ->sendpage). splice itself needs a pipe you make: file → pipe → socket, two calls per pipe-full, and the same 0 CPU copies with SG, 1 without."
        }
        Kafka::UsesSameBytes => {
            "Why it works: the broker stores record batches in the format it serves, so it never decodes or re-encodes a fetch: it sends a byte range of the segment as it is. The stored batch is not byte for byte the producer's: on produce, LogValidator writes the offsets and the partition leader epoch into its header in place, and recompresses it when the topic's compression.type differs from the producer's codec."
        }
        Kafka::UsesPosition => {
            "How the fetch offset becomes a byte range: LogSegment.read → translateOffset does a binary search in the segment's sparse .index (OffsetIndex.lookup; one entry per log.index.interval.bytes, 4 KiB by default) for the last entry at or before the offset, scans batch headers from there (FileRecords.searchForOffsetWithSize), and FileRecords.slice(position, size) is what transferTo(position, count) sends. The index is mmapped because a lookup is a few random reads: through the mapping they cost no syscall (AbstractIndex)."
        }
        Kafka::UsesPageCache => {
            "Why the page cache and not the JVM heap: cached messages put no pressure on the garbage collector, are not cached twice (heap and page cache), and stay warm across a broker restart."
        }
        Kafka::NotProduce => {
            "Produce requests: the broker reads them from the socket into the JVM, validates them (LogValidator) and appends them to the segment through the page cache — no zero copy, and no fsync per request: a segment is flushed when it rolls (UnifiedLog.roll schedules flush-log), earlier only if flush.messages or flush.ms is set (off by default); durability comes from replication (acks=all, min.insync.replicas)."
        }
        Kafka::NotTls => {
            "TLS: SslTransportLayer reads the file into the JVM (transferFrom fills a 32 KiB direct buffer), SSLEngine encrypts it there and the ciphertext is written to the socket, because the data must be copied up to user space (the JVM) to be encrypted. In Kafka 4.x this is the main exception to zero copy left. Kernel TLS with SSL_sendfile is how nginx keeps sendfile under TLS: software kTLS still spends a CPU pass encrypting; with NIC TLS offload there is no CPU encryption pass, but kTLS sendfile copies the file's pages once by default — zero copy there is opt-in (TLS_TX_ZEROCOPY_RO, Linux 5.19 and later), since a page changed in flight would make a retransmission differ."
        }
        Kafka::NotOldClients => {
            "Old clients, before Kafka 4.0: from 0.10 to 3.9 a consumer that needed an older message format had its batches down-converted in the JVM (chunk by chunk since KIP-283), so its fetches were copied. Kafka 4.0 removed the old Fetch versions and down-conversion with them (KIP-896, KAFKA-18269): message.downconversion.enable does nothing now, and a client too old for record format v2 cannot fetch at all."
        }
        Kafka::NotCached => {
            "Data not in the page cache (a lagging consumer reading old segments): sendfile reads the disk inside Kafka's network thread, and every other connection of that thread waits behind it (KAFKA-7504; a fix that warms the pages from a request-handler thread first, PR 14289, was closed without being merged)."
        }
        Kafka::Answer4 => {
            "Kafka serves fetches (consumers and follower replicas) with it: a binary search in the mmapped sparse .index finds the offset, FileRecords.slice names the byte range, and FileChannel.transferTo sends it — sendfile on Linux."
        }
        Kafka::Answer5 => {
            "It works because a fetch is never re-encoded: the broker sends the batches as stored; on produce LogValidator only wrote the offsets and the leader epoch into them (and recompressed them if the topic's codec differs)."
        }
        Kafka::Answer6 => {
            "Messages stay in the page cache, not the JVM heap: no GC pressure, no double caching, and the cache survives a broker restart; recent data is usually cached, so a fetch rarely touches the disk."
        }
        Kafka::Answer7 => {
            "When it is not cached — a lagging consumer — sendfile reads the disk inside the network thread and stalls every connection on it (KAFKA-7504)."
        }
        Kafka::Answer9 => "Kafka's own mmap is for its index files, not for the log.",
        Kafka::Answer10 => {
            "Zero copy means no CPU copy on the broker: the DMA copies remain, and the consumer still copies out of its socket."
        }
        Kafka::FollowUp40 => {
            "\"What changed in 4.0?\" Down-conversion is gone (KIP-896): no old client forces a copy any more, so TLS is the main exception left; message.format.version is gone too (KIP-724): every batch is format v2."
        }
        Kafka::FollowUpNotCached => {
            "\"What if the data is not cached?\" sendfile still sends it, but reads the disk first, inside the network thread: a lagging consumer stalls the other connections of that thread (KAFKA-7504). The copies stay the same; the wait is the cost."
        }
        Kafka::FollowUpSameBytes => {
            "\"Are the bytes identical from producer to consumer?\" Not quite: LogValidator writes offsets and the leader epoch into the batch header (and recompresses when the topic's codec differs). What is true: a fetch is never re-encoded — the consumer gets the batch as stored."
        }
        Kafka::FollowUpPosition => {
            "\"How does the broker find the position?\" A binary search in the mmapped sparse .index for the nearest entry at or before the offset, a short scan of batch headers in the .log, then FileRecords.slice(position, size) → transferTo(position, count)."
        }
    }
}

fn reality(m: MethodKind) -> &'static [&'static str] {
    match m {
        MethodKind::ReadWrite => &[
            "The textbook counts one read and one write: 4 copies and 4 transitions for one buffer-full. A real server loops: a 256 MiB file with a 128 KiB buffer is 2,048 reads and 2,048 writes — 8,192 transitions, not 4, while the copies stay 4 per byte (2 CPU, 2 DMA).",
            "copylab uses pread64 (an explicit offset), so one open file can serve many connections.",
            "Both CPU copies are real: page cache → your buffer, your buffer → the socket.",
        ],
        MethodKind::Mmap => &[
            "One mmap, then as few writes as the socket allows — but the kernel still copies page cache → socket buffer.",
            "The pages must be mapped into the process: minor page faults and page-table work that read-write does not pay. One fault maps many pages: do_fault_around maps the cached pages around the address (fault_around_bytes, 64 KiB by default) through filemap_map_pages, and a large folio can go in whole (filemap_map_pmd maps a 2 MiB one with a single fault). So there are far fewer faults than pages, and how many depends on the kernel and on the folio sizes in the page cache: `copylab explain mmap --measure` counts them.",
            "If another process truncates the file, touching the missing pages raises SIGBUS; copylab never touches them itself and gets EFAULT from write instead.",
        ],
        MethodKind::Sendfile => &[
            "One syscall can move up to 2 GiB − 4 KiB (0x7ffff000 bytes): on a blocking socket a 256 MiB file goes out in a single call. On a non-blocking socket (Java NIO, so Kafka) sendfile returns as soon as the socket buffer is full, with a partial count, and the caller waits and calls again.",
            "sendfile is built on splice since Linux 2.6.23: do_sendfile → do_splice_direct → splice_direct_to_actor, which moves the pages through a pipe the kernel keeps for the calling task (current->splice_pipe, allocated on first use): file → pipe by the file's splice_read, pipe → socket by splice_to_socket with MSG_SPLICE_PAGES (Linux 6.5 and later; before, pipe_to_sendpage called the socket's ->sendpage). When the device does scatter-gather (loopback does) the skb's frags hold references to the page-cache pages and the NIC reads them from there: the sender makes no CPU copy. Without NETIF_F_SG, tcp_sendmsg_locked copies.",
            "The socket references the page-cache pages with no completion: a change to the file after sendfile returns can still reach the wire, for as long as the bytes wait in the socket buffer.",
            "On loopback there is no NIC and no DMA to the wire: the receiver's recv() is a CPU copy, so 'zero copy' is not zero end to end.",
            "Java's FileChannel.transferTo is sendfile underneath on the direct path (the target is a socket or file channel); otherwise it maps chunks or loops through a buffer. JDK 20 and later (JDK-8292562, FileDispatcherImpl.c transferTo0) try copy_file_range first for every direct target, sockets included, and fall back to sendfile on EINVAL, ENOSYS, EXDEV or EOPNOTSUPP: to a socket, every transferTo is a failed copy_file_range, then a sendfile64. Kafka cannot use it with TLS because encryption happens in the JVM.",
        ],
        MethodKind::Splice => &[
            "Two calls per pipe-full: file → pipe, pipe → socket. The pipe's size (64 KiB by default, up to /proc/sys/fs/pipe-max-size) sets how many.",
            "Page references move into the pipe, not bytes; the pipe → socket half is the code sendfile uses (splice_to_socket, MSG_SPLICE_PAGES): no copy when the device does scatter-gather, a copy in tcp_sendmsg_locked without it. And the data must pass through a pipe you create and manage.",
            "SPLICE_F_MOVE has done nothing since Linux 2.6.21; bytes left in the pipe after an error were never sent.",
        ],
        MethodKind::Vmsplice => &[
            "vmsplice lends your pages to the pipe instead of copying them: write()'s copy is gone, read()'s copy stays.",
            "The catch: nothing says when the kernel is done with the pages. On loopback they wait in the receiver's queue until it reads them; writing into them before that changes what the client receives.",
            "So copylab never reuses a page: each 4 MiB region is a fresh mmap, unmapped once spliced. The kernel zero-fills every fresh page — zeroing is itself a write to memory, which cancels the copy saved — and each page costs a fault.",
            "The pipe → socket splice is sendfile's code: no copy with scatter-gather, one without.",
        ],
        MethodKind::MsgZerocopy => &[
            "SO_ZEROCOPY on the socket, then send(MSG_ZEROCOPY): the socket pins the mapped pages and the call returns before the data has left. Like sendfile, this needs a device with scatter-gather (NETIF_F_SG); without it tcp_sendmsg_locked copies.",
            "Every send owes a completion, read from the socket's error queue with recvmsg(MSG_ERRQUEUE); the kernel merges them into ranges of send ids. Until its range completes, a page must not be modified: the NIC may still read it (unmapping is allowed; the socket holds its own reference).",
            "On loopback the kernel copies anyway — the receiver could hold the pages forever — and says so in each completion (SO_EE_CODE_ZEROCOPY_COPIED). copylab counts those completions instead of assuming.",
            "Unix sockets refuse SO_ZEROCOPY. With too much pinned (optmem_max, RLIMIT_MEMLOCK) send fails with ENOBUFS: copylab reads completions and retries, or sends that chunk with a plain copy and says so.",
        ],
        MethodKind::IoUringSplice => &[
            "The same two splices per pipe-full, as linked entries in a ring shared with the kernel: one io_uring_enter submits a whole batch (--batch) and waits for it.",
            "A splice cannot be attempted without blocking, so the kernel hands each one to an io-wq worker thread (iou-wrk-<tid>). The serving thread's syscalls and CPU drop; the work does not. copylab measures the workers' CPU on its own line.",
            "io_uring is a way to submit work: whether bytes are copied depends on the operation. IORING_OP_SPLICE is splice — no copy with scatter-gather, one without — and the lesson here is in the syscall column.",
        ],
        MethodKind::IoUringSendZc => &[
            "IORING_OP_SEND_ZC pins the mapped pages like MSG_ZEROCOPY, without SO_ZEROCOPY or the error queue.",
            "Each send completes twice: its result (bytes sent, flagged IORING_CQE_F_MORE), then a notification (IORING_CQE_F_NOTIF) once the pages are free. With IORING_SEND_ZC_REPORT_USAGE the notification says whether the kernel copied.",
            "The sends of one socket are linked so the stream stays in order; a batch goes in with one io_uring_enter. Unix sockets refuse zero-copy sends.",
        ],
    }
}

static MYTH_LIST: [Myth; MYTHS] = [
    Myth {
        claim: "\"read/write costs 4 context switches\"",
        truth: "Those 4 are user↔kernel mode transitions, 2 per syscall. Scheduler context switches are a different thing, counted by perf, and depend on blocking. copylab shows both.",
        command: "copylab compare --methods read-write,sendfile",
    },
    Myth {
        claim: "\"zero copy means the data is never copied\"",
        truth: "The DMA copies remain, and on loopback the receiver's recv() is a CPU copy. sendfile removes the sender's CPU copies, nothing more.",
        command: "copylab explain sendfile --measure",
    },
    Myth {
        claim: "\"mmap is free\"",
        truth: "It trades a copy for page faults and page-table work, and a file truncated under the mapping raises SIGBUS.",
        command: "copylab compare --methods read-write,mmap",
    },
    Myth {
        claim: "\"Kafka's zero copy is something special\"",
        truth: "FileChannel.transferTo is sendfile underneath on the direct path (a socket or file channel target; JDK 20 and later try copy_file_range first and fall back to it). With TLS, Kafka cannot use it: the bytes must be copied up into the JVM to be encrypted. `copylab explain kafka` gives the whole answer.",
        command: "copylab explain kafka --measure",
    },
    Myth {
        claim: "\"std::io::copy from a File to a TcpStream uses sendfile\"",
        truth: "In today's Rust it does not: it reads into a buffer and writes to the socket with sendto (copylab issues sendfile itself). Rust did use sendfile and splice there (rust-lang/rust#75272) and stopped (#108283) for the hazard sendfile's section describes: bytes written to the file after the copy returned could still reach the other side. Trace sendto too, or you miss every socket write.",
        command: "strace -f -e trace=sendfile,read,write,sendto <your program>",
    },
    Myth {
        claim: "\"the first run and the tenth run cost the same\"",
        truth: "A warm page cache hides the disk: the DMA from disk happens only on a cold read. --cache cold drops the file's pages before every run; watch mmap's major faults and read-write's voluntary context switches appear.",
        command: "copylab compare --cache cold   vs   copylab compare --cache warm",
    },
    Myth {
        claim: "\"io_uring is zero copy\"",
        truth: "io_uring is a way to submit work; whether bytes are copied depends on the operation: IORING_OP_SEND_ZC pins pages like MSG_ZEROCOPY, IORING_OP_SPLICE moves page references like splice, IORING_OP_READ and WRITE copy. Its splice runs on kernel worker threads, so the serving thread looks idle while another thread does the work.",
        command: "copylab compare --methods splice,io-uring-splice",
    },
    Myth {
        claim: "\"MSG_ZEROCOPY makes loopback benchmarks zero copy\"",
        truth: "On loopback the kernel copies every zero-copy send and says so in the completion; zero copy pays off only for large sends to a real NIC.",
        command: "copylab compare --methods sendfile,msg-zerocopy",
    },
];

/// The HTML page's words.
const PAGE: PageWords = PageWords {
    lang: "en",
    compare_title: "copylab compare",
    sweep_title: "copylab sweep",
    trace_title: "copylab trace",
    file: "file",
    generated: "generated random data",
    transport: "transport",
    link: "link paced to",
    cache: "page cache",
    kernel: "kernel",
    machine: "machine",
    counters: "counters",
    placement: "placement",
    runs: |runs, warmup| {
        let s = |n: u32| if n == 1 { "" } else { "s" };
        format!(
            "median of {runs} run{} per method after {warmup} warm-up{}, interleaved",
            s(runs),
            s(warmup)
        )
    },
    runs_label: "runs",
    cache_warm: |p| format!("warm: {p:.0}% of the file's pages cached before the first run"),
    counters_perf: "perf: syscall tracepoints, software events and cpu-clock samples on the serving and receiver threads each; getrusage",
    pinned: |s, r| match (s, r) {
        (Some(s), Some(r)) if s == r => {
            format!("serving and receiver threads pinned to CPU {s} (one CPU: they take turns)")
        }
        (Some(s), Some(r)) => format!("serving thread pinned to CPU {s}, receiver to CPU {r}"),
        _ => "not pinned: the scheduler moves the threads, and the figures move with them".into(),
    },
    counters_rusage: "getrusage on each thread; syscalls counted by the methods themselves (perf refused: see the warnings)",
    sampling: |us| {
        format!("cpu-clock sampled every {us} µs of each thread's CPU, kernel callchains")
    },
    conclusions: "Conclusions",
    table: "The table",
    table_note: "Medians of the runs (min–max under them); the same figures as the terminal's table, from the JSON results.",
    cpu: "Where the CPU went",
    cpu_note: "ms of CPU per GiB moved, by category, pooled over every run (cpu-clock samples): the serving thread beside the receiver, all bars on one scale. ~ = fewer than 200 samples behind the figure.",
    flames: "Flame graphs",
    flames_note: |pct| {
        format!(
            "Every sampled kernel callchain of each thread, root at the bottom, widths in samples; frames coloured by category. Thinned for the page: frames with fewer than {pct} of a thread's samples are merged into their caller (the files of --export-stacks keep every frame). Hover a frame for its name and samples."
        )
    },
    no_flames: "No callchains were sampled (the CPU profile is n/a: see the warnings).",
    diagram: "The path, with this run's figures (as `copylab explain METHOD --measure` draws it)",
    diagram_no_figures: "Drawn without figures: this run's figures go on the diagram when read-write ran beside the path and the receiver was recv.",
    legend: "Categories",
    method: "method",
    mib_s: "MiB/s",
    wall_ms: "wall ms",
    syscalls: "syscalls (total)",
    data_syscalls: "data syscalls",
    ctx_sw: "ctx sw vol / invol",
    cpu_ms: "CPU ms user / sys",
    cpu_per_gib: "CPU ms per GiB: sys · end to end",
    copy_ms: "copy ms/GiB serving | recv",
    faults: "page faults minor / major",
    textbook: "textbook",
    receiver_short: "recv",
    serving_thread: "serving thread",
    receiver_thread: "receiver thread",
    ms_per_gib: "ms/GiB",
    textbook_copies: |n| format!("textbook: {n} CPU copies on the sender, none on the receiver"),
    copies_count: |n, sg| {
        if n == sg {
            n.to_string()
        } else {
            format!("{n} ({sg} with SG-DMA)")
        }
    },
    measured_copy: |s, r| format!("measured copy: serving {s} ms/GiB · receiver {r} ms/GiB"),
    in_softirq: |v| format!("of which in softirq: {v} ms/GiB"),
    too_few: |n| format!("n/a: {n} samples, too few to say"),
    copies: "CPU copies",
    dma: "DMA copies",
    transitions: "transitions",
    na: "n/a",
    warnings: "Warnings",
    notes: "Notes",
    footer: |v| {
        format!(
            "Made by copylab {v}. One file: no network, no scripts, no fonts from elsewhere. Categories: src/counters/profile/categories.rs."
        )
    },
    parts: [
        "copy",
        "copy in softirq",
        "network",
        "page cache",
        "memory",
        "scheduler",
        "softirq",
        "syscall",
        "user",
        "other",
    ],
    sizes: "Sizes",
    series: "series",
    file_size: "file size",
    cpu_ns_gib: "CPU ms per GiB",
    syscalls_mib: "syscalls per MiB",
    point: |size, buffer| format!("{size} (read-write buffer {buffer})"),
    command: "command",
    attached: "attached to pid",
    ended: "ended",
    wall: "wall time",
    threads: "Threads",
    process: "process",
    thread: "thread",
    moved: "bytes moved",
    samples: "samples",
    path_verdict: "path",
    cpu_ms_col: "CPU ms by category",
    copy_per_gib: "copy ms per GiB moved",
    no_profile: "no CPU profile",
};
