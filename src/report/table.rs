//! compare's output for people, fitted to the screen: a short header, where each thread's CPU
//! went, one verdict per path, the table of the lesson's columns (every column with `--wide`),
//! the conclusion in words, and the footnotes — the answer last, where the eye lands when the
//! command returns.

use std::fmt::Write as _;

use super::Screen;
use super::fit::{Align, Column, Fitted, Paint, fit};
use crate::counters::SyscallSource;
use crate::method::MethodKind;
use crate::placement::Placement;
use crate::results::{CacheMode, MethodResult, Report, Run, Verify};
use crate::size::{fmt_bytes, fmt_mib_s, fmt_ms as ms};
use crate::sys::ZeroCopy;
use crate::transport::Transport;

/// Width of the throughput bar (`--wide`), in cells.
const BAR_CELLS: usize = 14;

/// Render the whole report for `screen`.
pub fn render(r: &Report, screen: &Screen) -> String {
    let mut out = String::new();
    header(r, screen, &mut out);
    if let Some(rate) = r.link_rate_bytes_per_s {
        para(
            &mut out,
            screen,
            &format!(
                "link paced to {} ({} MiB/s) with SO_MAX_PACING_RATE on the serving socket: at line rate every path moves the same bytes; read what each costs (CPU per GiB, core busy)",
                crate::size::fmt_rate(rate),
                fmt_mib_s(Some(crate::size::mib(rate)))
            ),
        );
    }
    for n in &r.notes {
        para(&mut out, screen, &format!("note: {n}"));
    }
    super::profile::view(r, screen, &mut out);
    super::profile::verdicts(r, screen, &mut out);
    let fitted = if screen.wide {
        fit(screen, wide_columns(r))
    } else {
        fit(screen, lesson_columns(r))
    };
    out.push_str(&fitted.table.to_string());
    out.push('\n');
    for line in super::conclusion::lines(r, super::text::Lang::En) {
        para(&mut out, screen, &line);
    }
    footer(r, screen, &fitted, &mut out);
    if screen.unicode() {
        out
    } else {
        super::text::to_ascii(&out)
    }
}

/// One paragraph wrapped to the screen, continuation lines indented by two.
fn para(out: &mut String, screen: &Screen, text: &str) {
    out.push_str(&screen.wrap(text, "", 2));
}

fn header(r: &Report, screen: &Screen, out: &mut String) {
    para(
        out,
        screen,
        &format!(
            "copylab compare · {} · {} · transport {} · cache {}",
            file_text(r),
            fmt_bytes(r.file.bytes),
            transport_text(r),
            cache_text(r)
        ),
    );
    if let Some(v) = &r.veth {
        para(
            out,
            screen,
            &format!(
                "veth devices: serving {} · receiving {}",
                offloads_text(&v.serving_device),
                offloads_text(&v.receiving_device)
            ),
        );
    }
    let counters = match r.syscall_source {
        SyscallSource::Perf => "perf and getrusage, each thread on its own",
        SyscallSource::SelfCounted => "getrusage, each thread on its own; syscalls self-counted",
    };
    para(
        out,
        screen,
        &format!(
            "kernel {} · counters: {counters} · {} · medians of {} run{} per method after {} warm-up{}, interleaved",
            r.kernel,
            placement_text(r),
            r.options.runs,
            if r.options.runs == 1 { "" } else { "s" },
            r.options.warmup,
            if r.options.warmup == 1 { "" } else { "s" },
        ),
    );
    if screen.wide {
        para(out, screen, &setup_text(r));
    }
}

/// The file served: the user's own name (a name from outside all the same: escaped), or
/// where the random one was made.
fn file_text(r: &Report) -> String {
    match &r.file.path {
        Some(p) => crate::escape::escape(p).into_owned(),
        None => format!(
            "random data (unlinked temp file in {})",
            crate::escape::escape(r.file.temp_dir.as_deref().unwrap_or("?"))
        ),
    }
}

/// "warm (100% of the file cached)", "cold (pages dropped before every run; …)".
fn cache_text(r: &Report) -> String {
    match (r.cache.mode, r.cache.resident_after_drop_max_pct) {
        (CacheMode::Cold, Some(p)) => {
            format!("cold (pages dropped before every run; at most {p:.0}% still cached)")
        }
        (CacheMode::Cold, None) => "cold requested, residency unknown".into(),
        _ => match r.cache.resident_before_pct {
            Some(p) => format!("{} ({p:.0}% of the file cached)", r.cache.state),
            None => "unknown".into(),
        },
    }
}

/// The sockets between the ends, and what is (not) between them.
fn transport_text(r: &Report) -> String {
    match (r.transport, &r.veth) {
        (Transport::Veth, Some(v)) => format!(
            "tcp over veth {} → {} (namespaces {} → {}; a device between the ends, no NIC, no DMA)",
            v.serving_addr, v.receiving_addr, v.serving_netns, v.receiving_netns
        ),
        (Transport::Veth, None) => "tcp over veth".into(),
        (Transport::Tcp, _) => "tcp 127.0.0.1 (loopback: no NIC, no DMA)".into(),
        (Transport::Unix, _) => "unix stream socket".into(),
    }
}

/// The paths' buffers (`--wide`): "read-write buffer 128 KiB · splice pipe 1 MiB asked, …".
fn setup_text(r: &Report) -> String {
    let mut setup = format!("read-write buffer {}", fmt_bytes(r.options.buffer_bytes));
    if let Some(g) = r.options.pipe_bytes_granted {
        let _ = write!(
            setup,
            " · splice pipe {} asked, {} granted",
            fmt_bytes(r.options.pipe_bytes_requested),
            fmt_bytes(g)
        );
    }
    let _ = write!(
        setup,
        " · mmap window {}",
        fmt_bytes(r.options.mmap_window_bytes)
    );
    setup
}

/// "MTU 1500, sg on, tso on, gso on, gro off" (n/a where the kernel would not say).
fn offloads_text(o: &crate::netns::Offloads) -> String {
    let flag = |name: &str, v: Option<bool>| match v {
        Some(true) => format!("{name} on"),
        Some(false) => format!("{name} off"),
        None => format!("{name} n/a"),
    };
    format!(
        "MTU {}, {}, {}, {}, {}",
        o.mtu_bytes.map_or("n/a".into(), |m| m.to_string()),
        flag("sg", o.sg),
        flag("tso", o.tso),
        flag("gso", o.gso),
        flag("gro", o.gro)
    )
}

/// The share of one core a thread kept busy over a run: CPU time ÷ wall time, in %.
pub fn core_busy_pct(cpu_ns: u64, run: &Run) -> Option<f64> {
    let wall = run.wall_ns.filter(|w| *w > 0)?;
    Some(cpu_ns as f64 / wall as f64 * 100.0)
}

/// Both ends' share of a core, "core 4% | 6%" (serving | receiver; io-wq counted with the
/// serving end).
fn core_busy_text(run: &Run) -> Option<String> {
    let serving =
        run.cost.cpu.user_ns + run.cost.cpu.sys_ns + run.cost.io_workers.map_or(0, |w| w.cpu_ns);
    let s = core_busy_pct(serving, run)?;
    let rcv = run
        .receiver
        .as_ref()
        .and_then(|c| core_busy_pct(c.cpu.user_ns + c.cpu.sys_ns, run));
    Some(match rcv {
        Some(rc) => format!("core {s:.0}% | {rc:.0}%"),
        None => format!("core {s:.0}% | n/a"),
    })
}

fn footer(r: &Report, screen: &Screen, fitted: &Fitted, out: &mut String) {
    para(out, screen, &legend(r, screen));
    if let Some(note) = fitted.left_out_wide(screen.width) {
        para(out, screen, &note);
    }
    if let Some(checks) = checks_text(r) {
        para(out, screen, &checks);
    }
    if r.syscall_source == SyscallSource::SelfCounted && !screen.wide {
        para(
            out,
            screen,
            "syscalls* (self-counted): the calls each method made, counted by copylab itself; without perf the total of all the thread's syscalls is n/a.",
        );
    }
    zerocopy_footnote(r, screen, out);
    if screen.wide
        && let Some(note) = stability_note(r)
    {
        para(out, screen, &note);
    }
    if let Some(packets) = veth_packets_text(r) {
        para(out, screen, &packets);
    }
    if r.methods.iter().any(|m| m.median.cost.io_workers.is_some()) {
        para(
            out,
            screen,
            "+ io-wq = CPU ms of the kernel's io_uring worker threads for the serving thread (/proc schedstat), outside every other figure of the row.",
        );
    }
    for w in &r.warnings {
        para(out, screen, &format!("warning: {w}"));
    }
}

/// What the textbook column means (and, in the lesson's view, the ≈ and ~ marks).
fn legend(r: &Report, screen: &Screen) -> String {
    if screen.wide {
        return "textbook = the classic model: CPU copies on the sender, DMA copies, user↔kernel transitions (what articles call \"context switches\"); ctx sw = real scheduler switches.".to_string();
    }
    let dma: Vec<u32> = r.methods.iter().map(|m| m.textbook.dma_copies).collect();
    let dma_text = match dma.first() {
        Some(d) if dma.iter().all(|x| x == d) => format!(" and {d} by DMA"),
        _ => String::new(),
    };
    format!(
        "textbook: CPU copies on the sender (0 SG: none with scatter-gather DMA){dma_text} · user↔kernel transitions per chunk, what articles call \"context switches\". ≈ rw: within the runs' noise of read-write. ~: few samples."
    )
}

/// What the syscall counts leave out, and how every delivery was checked.
fn checks_text(r: &Report) -> Option<String> {
    let mut checks = Vec::new();
    if r.syscall_source == SyscallSource::Perf && r.counter_overhead_syscalls > 0 {
        checks.push(format!(
            "syscalls exclude the counters' own {} call{} per run",
            r.counter_overhead_syscalls,
            if r.counter_overhead_syscalls == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    let all_verified = r.methods.iter().all(|m| m.median.verified);
    if all_verified && !r.methods.is_empty() {
        checks.push(format!(
            "every delivery checked: byte count on every run, XXH3 {} ({})",
            if r.options.verify == Verify::All {
                "on every run"
            } else {
                "on each method's first run"
            },
            r.file.xxh3
        ));
    }
    (!checks.is_empty()).then(|| format!("{}.", checks.join("; ")))
}

/// veth: the size of the packets the serving device sent, per method, and why they are large.
fn veth_packets_text(r: &Report) -> Option<String> {
    let sizes: Vec<String> = r
        .methods
        .iter()
        .filter_map(|m| {
            let d = m.median.device_tx?;
            (d.packets > 0).then(|| format!("{} {}", m.method, fmt_bytes(d.bytes / d.packets)))
        })
        .collect();
    if sizes.is_empty() {
        return None;
    }
    let mtu = r
        .veth
        .as_ref()
        .and_then(|v| v.serving_device.mtu_bytes)
        .map_or("its".to_string(), |m| format!("the {m}-byte"));
    Some(format!(
        "veth packets (serving device's counters, bytes ÷ packets, median run): {}. Far above {mtu} MTU: TCP hands veth GSO packets of up to 64 KiB and nothing on the way cuts them (a NIC with TSO cuts them in hardware).",
        sizes.join(" · ")
    ))
}

/// Runs whose serving sys CPU spread more than this (max − min, in % of the median: ±15%) are
/// not one figure: the note says so, and why.
const SYS_SPREAD_PCT: f64 = 30.0;

/// Which methods' serving sys CPU moved across runs, and what moved it: the loopback receive
/// half (softirq) running on the serving thread's CPU in some runs and on the receiver's in
/// others — then its own send path and the end-to-end CPU hold still — or something else.
fn stability_note(r: &Report) -> Option<String> {
    let mut moved_softirq = Vec::new();
    let mut moved_other = Vec::new();
    for m in &r.methods {
        let Some(s) = m.spread_pct else { continue };
        if s.serving_sys <= SYS_SPREAD_PCT {
            continue;
        }
        let own = s
            .serving_sys_own
            .map_or("n/a".into(), |v| format!("{v:.0}%"));
        let e2e = s.end_to_end.map_or("n/a".into(), |v| format!("{v:.0}%"));
        let text = format!(
            "{} {:.0}% (own send path {own}, end to end {e2e})",
            m.method, s.serving_sys
        );
        if s.serving_sys_own.is_some_and(|o| o <= SYS_SPREAD_PCT) {
            moved_softirq.push(text);
        } else {
            moved_other.push(text);
        }
    }
    let mut parts = Vec::new();
    if !moved_softirq.is_empty() {
        parts.push(format!(
            "{}: the loopback receive half (softirq) ran on the serving thread's CPU in some runs and on the receiver's in others; the send path itself held still, so read end to end CPU per GiB, which does not move with it",
            moved_softirq.join(", ")
        ));
    }
    if !moved_other.is_empty() {
        parts.push(format!(
            "{}: its own send path moved too — the machine's other work; more --runs or a quieter machine",
            moved_other.join(", ")
        ));
    }
    (!parts.is_empty()).then(|| {
        format!(
            "serving sys CPU moved across runs (max − min): {}.",
            parts.join("; ")
        )
    })
}

/// The zero-copy paths' completions, one line each (the default view has no room for them in
/// the table), and what they mean on this transport.
fn zerocopy_footnote(r: &Report, screen: &Screen, out: &mut String) {
    let zc: Vec<(&MethodResult, &ZeroCopy)> = r
        .methods
        .iter()
        .filter_map(|m| m.median.cost.zerocopy.as_ref().map(|z| (m, z)))
        .collect();
    if zc.is_empty() {
        return;
    }
    if !screen.wide {
        for (m, z) in &zc {
            para(
                out,
                screen,
                &format!(
                    "{}: {}",
                    m.method,
                    zerocopy_text(z, r.transport).replace('\n', " ")
                ),
            );
        }
    }
    let all_copied = zc
        .iter()
        .all(|(_, z)| z.sends > 0 && z.copied == z.completed);
    para(
        out,
        screen,
        &format!(
            "zero-copied = sends whose completion did not report a copy (SO_EE_CODE_ZEROCOPY_COPIED, IORING_NOTIF_USAGE_ZC_COPIED).{}",
            match (all_copied, r.transport) {
                (true, Transport::Tcp) =>
                    " Here the kernel copied every one: on loopback the receiver is a local socket that may hold the data indefinitely, so the kernel copies instead of pinning the pages.",
                (true, Transport::Veth) =>
                    " Here the kernel copied every one, as on loopback: veth hands the packet to a socket on this same machine (in the other namespace), and the kernel copies zero-copy pages before any local receiver may hold them. Only a real NIC, whose DMA reads the pages and is done with them, completes without a copy.",
                _ => "",
            }
        ),
    );
}

/// `x` relative to `base`: "0.45× rw", or "1/4035 of rw" when it is tiny.
fn ratio(x: f64, base: f64) -> Option<String> {
    if base <= 0.0 || !x.is_finite() {
        return None;
    }
    let r = x / base;
    Some(if r > 0.0 && r < 0.095 {
        format!("1/{:.0} of rw", 1.0 / r)
    } else {
        format!("{r:.2}× rw")
    })
}

/// Thousands separators: 2049 → "2,049".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A unicode bar of `value` scaled so that `max` fills `cells` cells (eighths of a cell).
pub fn bar_of(value: f64, max: f64, cells: usize) -> String {
    if max <= 0.0 || !value.is_finite() {
        return String::new();
    }
    let eighths = ((value / max) * (cells * 8) as f64).round() as usize;
    let full = eighths / 8;
    let part = eighths % 8;
    let mut s = "█".repeat(full);
    if part > 0 {
        s.push(['▏', '▎', '▍', '▌', '▋', '▊', '▉'][part - 1]);
    }
    s
}

/// Where the threads ran, for the header.
fn placement_text(r: &Report) -> String {
    let p = r.methods.first().map(|m| m.median.placement);
    match p {
        Some(Placement {
            serving_cpu: Some(s),
            receiver_cpu: Some(rc),
        }) if s == rc => format!(
            "placement: serving and receiver threads pinned to CPU {s} (one CPU: they take turns)"
        ),
        Some(Placement {
            serving_cpu: Some(s),
            receiver_cpu: Some(rc),
        }) => format!("placement: serving thread pinned to CPU {s}, receiver to {rc}"),
        _ => "placement: not pinned (--cpus any): the scheduler moves the threads, and the figures move with them".into(),
    }
}

/// Below this much CPU a split by scheduler ticks (4 ms each at HZ=250) rests on fewer than
/// 250 ticks: it is marked approximate.
const TICK_SPLIT_FIRM_NS: u64 = 1_000_000_000;

/// "user / sys" in ms, "≈" in front when the split is by a few scheduler ticks.
pub(super) fn user_sys(cpu: &crate::results::Cpu) -> String {
    let approx = cpu.split == crate::counters::CpuSplit::Ticks
        && cpu.user_ns + cpu.sys_ns < TICK_SPLIT_FIRM_NS;
    format!(
        "{}{} / {}",
        if approx { "≈ " } else { "" },
        ms(cpu.user_ns),
        ms(cpu.sys_ns)
    )
}

/// "0.47× rw", or "≈ rw (noise)" when the runs' ranges overlap.
fn rel_text(
    m: &MethodResult,
    base: &MethodResult,
    metric: fn(&Run) -> Option<f64>,
) -> Option<String> {
    if m.within_noise_of(base, metric) {
        return Some("≈ rw (noise)".into());
    }
    // Paired run by run, as the conclusion says it.
    match m.ratio_to(base, metric) {
        Some(rr) => ratio(rr.median, 1.0),
        None => ratio(metric(&m.median)?, metric(&base.median)?),
    }
}

/// The data syscalls of a run by name, biggest first, zeros left out: "pread64 2,049 · write
/// 2,048". A syscall the method made but this kernel cannot count shows as "n/a (self 8)".
pub(super) fn by_name(m: &MethodResult) -> String {
    let med = &m.median.cost;
    let mut v: Vec<(&crate::syscall::Syscall, Option<u64>)> = med
        .syscalls
        .by_name
        .iter()
        .filter(|(k, v)| match v {
            Some(n) => *n > 0,
            None => med.self_counted.get(*k).is_some_and(|n| *n > 0),
        })
        .map(|(k, v)| (k, *v))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if v.is_empty() {
        return "none".into();
    }
    v.iter()
        .map(|(k, v)| match v {
            Some(n) => format!("{k} {}", thousands(*n)),
            None => format!(
                "{k} n/a (self {})",
                thousands(med.self_counted.get(*k).copied().unwrap_or(0))
            ),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the zero-copy completions said: "zero-copied 0 of 512 sends\n(kernel copied 512:
/// loopback)".
fn zerocopy_text(z: &ZeroCopy, transport: Transport) -> String {
    let mut s = format!(
        "zero-copied {} of {} send{}",
        thousands(z.zero_copied()),
        thousands(z.sends),
        if z.sends == 1 { "" } else { "s" }
    );
    if z.copied > 0 {
        let _ = write!(
            s,
            "\n(kernel copied {}{})",
            thousands(z.copied),
            match transport {
                Transport::Tcp => ": loopback",
                Transport::Veth => ": local delivery",
                Transport::Unix => "",
            }
        );
    }
    if z.completed != z.sends {
        let _ = write!(
            s,
            "\n{} not completed",
            thousands(z.sends.saturating_sub(z.completed))
        );
    }
    if z.plain_fallback > 0 {
        let _ = write!(s, "\n{} plain (ENOBUFS)", thousands(z.plain_fallback));
    }
    s
}

/// The textbook's syscalls: "read + write", "write (mmap once)", "io_uring_enter per 16 chunks".
pub(super) fn textbook_calls(tb: &crate::method::Textbook, batch: u32) -> String {
    let mut parts = Vec::new();
    if !tb.syscalls_per_chunk.is_empty() {
        parts.push(tb.syscalls_per_chunk.clone());
    }
    if !tb.syscalls_per_batch.is_empty() {
        parts.push(format!(
            "{} per {batch} chunk{}",
            tb.syscalls_per_batch,
            if batch == 1 { "" } else { "s" }
        ));
    }
    let mut s = parts.join(", ");
    if !tb.syscalls_once.is_empty() {
        let _ = write!(s, " ({} once)", tb.syscalls_once);
    }
    s.trim().to_string()
}

/// The method column, shared by both views.
fn method_column(r: &Report) -> Column {
    let mut c = Column::new("method", u8::MAX, Align::Left).paint(Paint::Name);
    c.cells = r.methods.iter().map(|m| m.method.to_string()).collect();
    c
}

/// The textbook's CPU copies in a few characters: "2", "1 (0 SG)".
fn cpu_copies_short(tb: &crate::method::Textbook) -> String {
    if tb.cpu_copies == tb.cpu_copies_with_sg_dma {
        tb.cpu_copies.to_string()
    } else {
        format!("{} ({} SG)", tb.cpu_copies, tb.cpu_copies_with_sg_dma)
    }
}

/// "±12%": half the runs' min–max range of `v`, in % of the median (nothing for one run).
fn spread_text(med: f64, lo: f64, hi: f64, runs: usize) -> Option<String> {
    (runs > 1 && med > 0.0).then(|| format!("±{:.0}%", (hi - lo) / 2.0 / med * 100.0))
}

/// The lesson's columns, most important kept longest: the method, the measured copies on each
/// end, the textbook, the end-to-end CPU against read-write, then throughput and syscalls.
fn lesson_columns(r: &Report) -> Vec<Column> {
    let base = r.method(MethodKind::ReadWrite);
    let self_counted = r.syscall_source == SyscallSource::SelfCounted;
    let mut tput = Column::new("MiB/s", 1, Align::Right).paint(Paint::Figure);
    let mut calls = Column::new(
        if self_counted {
            "syscalls*"
        } else {
            "syscalls"
        },
        4,
        Align::Left,
    );
    let mut copy = Column::new("copy ms/GiB\nserving | recv", 9, Align::Right);
    let mut e2e = Column::new("CPU ms/GiB\nend to end", 6, Align::Right);
    let mut book = Column::new("textbook\nCPU · trans", 8, Align::Left);
    for m in &r.methods {
        let med = &m.median;
        tput.cells.push(match med.throughput_mib_s {
            Some(t) => {
                let mut s = fmt_mib_s(Some(t));
                let lo = m.min.throughput_mib_s.unwrap_or(t);
                let hi = m.max.throughput_mib_s.unwrap_or(t);
                if let Some(sp) = spread_text(t, lo, hi, m.runs.len()) {
                    let _ = write!(s, "\n{sp}");
                }
                s
            }
            None => "n/a".into(),
        });
        let names: Vec<String> = by_name(m).lines().map(String::from).collect();
        calls.cells.push(match names.len() {
            0..=3 => names.join("\n"),
            n => format!("{}\n+ {} more (--wide)", names[..2].join("\n"), n - 2),
        });
        copy.cells.push(super::profile::copy_cell(m));
        let mut e = match med.e2e_ns_per_gib() {
            Some(v) => ms(v as u64),
            None => "n/a".into(),
        };
        if let Some(b) = base.filter(|b| b.method != m.method)
            && let Some(x) = rel_text(m, b, Run::e2e_ns_per_gib)
        {
            let x = if x.starts_with('≈') {
                "≈ rw".into()
            } else {
                x
            };
            let _ = write!(e, "\n{x}");
        }
        if r.link_rate_bytes_per_s.is_some()
            && let Some(c) = core_busy_text(med)
        {
            let _ = write!(e, "\n{c}");
        }
        e2e.cells.push(e);
        book.cells.push(format!(
            "{} · {}",
            cpu_copies_short(&m.textbook),
            m.textbook.transitions
        ));
    }
    vec![method_column(r), tput, calls, copy, e2e, book]
}

/// Every column (`--wide`): the lesson's and the rest — wall time, all syscalls, switches,
/// user/sys CPU, sys and end-to-end per GiB, faults, the textbook's calls.
fn wide_columns(r: &Report) -> Vec<Column> {
    let max_tput = r
        .methods
        .iter()
        .filter_map(|m| m.median.throughput_mib_s)
        .fold(0.0, f64::max);
    let base = r.method(MethodKind::ReadWrite);
    let mut cols = [
        Column::new("MiB/s", 0, Align::Left).paint(Paint::Figure),
        Column::new("wall ms", 0, Align::Right),
        Column::new("syscalls\n(total)", 0, Align::Right),
        Column::new("data syscalls", 0, Align::Left),
        Column::new("ctx sw\nvol / invol", 0, Align::Right),
        Column::new("CPU ms\nuser / sys", 0, Align::Right),
        Column::new("CPU ms per GiB\nsys · end to end", 0, Align::Right),
        Column::new("copy ms/GiB\nserving | recv", 0, Align::Right),
        Column::new("page faults\nminor / major", 0, Align::Right),
        Column::new("textbook\ncopies · transitions", 0, Align::Left),
    ];
    for m in &r.methods {
        let med = &m.median;
        let is_base = m.method == MethodKind::ReadWrite;
        let cells = [
            match med.throughput_mib_s {
                Some(t) => format!(
                    "{}\n{}\n{}–{}",
                    fmt_mib_s(Some(t)),
                    bar_of(t, max_tput, BAR_CELLS),
                    fmt_mib_s(m.min.throughput_mib_s),
                    fmt_mib_s(m.max.throughput_mib_s)
                ),
                None => "n/a\n(empty file)".into(),
            },
            match (med.wall_ns, m.min.wall_ns, m.max.wall_ns) {
                (Some(w), Some(lo), Some(hi)) => format!("{}\n{}–{}", ms(w), ms(lo), ms(hi)),
                _ => "n/a".into(),
            },
            total_cell(m, base.filter(|_| !is_base), r.syscall_source),
            data_cell(m, r.transport, r.syscall_source),
            format!(
                "{} / {}",
                med.cost.context_switches.voluntary, med.cost.context_switches.involuntary
            ),
            cpu_cell(med),
            per_gib_cell(m, base.filter(|_| !is_base), r.link_rate_bytes_per_s),
            super::profile::copy_cell(m),
            format!(
                "{} / {}",
                med.cost.page_faults.minor, med.cost.page_faults.major
            ),
            format!(
                "{} CPU + {} DMA\n{} transitions\n{}",
                m.textbook.cpu_copies_text(),
                m.textbook.dma_copies,
                m.textbook.transitions,
                textbook_calls(&m.textbook, r.options.batch)
            ),
        ];
        for (c, cell) in cols.iter_mut().zip(cells) {
            c.cells.push(cell);
        }
    }
    std::iter::once(method_column(r)).chain(cols).collect()
}

/// Every syscall the serving thread made, and its ratio to read-write's; `source` says where
/// the counts came from.
fn total_cell(m: &MethodResult, base: Option<&MethodResult>, source: SyscallSource) -> String {
    let med = &m.median;
    let mut sys = match med.cost.syscalls.total {
        Some(n) => thousands(n),
        None if source == SyscallSource::SelfCounted => "n/a\n(needs perf)".into(),
        None => "n/a".into(),
    };
    let base_total = base
        .and_then(|b| b.median.cost.syscalls.total)
        .map(|v| v as f64);
    if let Some(x) = med
        .cost
        .syscalls
        .total
        .zip(base_total)
        .and_then(|(t, b)| ratio(t as f64, b))
    {
        let _ = write!(sys, "\n{x}");
    }
    sys
}

/// The data syscalls by name (counted where `source` says), with the zero-copy completions
/// under them.
fn data_cell(m: &MethodResult, transport: Transport, source: SyscallSource) -> String {
    let mut data = by_name(m);
    if source == SyscallSource::SelfCounted {
        data.push_str("\n(self-counted)");
    }
    if let Some(z) = &m.median.cost.zerocopy {
        let _ = write!(data, "\n{}", zerocopy_text(z, transport));
    }
    data
}

/// user / sys of both threads (and io-wq).
fn cpu_cell(med: &Run) -> String {
    let mut cpu = user_sys(&med.cost.cpu);
    if let Some(w) = &med.cost.io_workers {
        let _ = write!(cpu, "\n+ io-wq {}", ms(w.cpu_ns));
    }
    match &med.receiver {
        Some(rc) => {
            let _ = write!(cpu, "\nrecv {}", user_sys(&rc.cpu));
        }
        None => cpu.push_str("\nrecv n/a"),
    }
    cpu
}

/// sys per GiB and end to end per GiB, each with its ratio to read-write; with a `link` rate,
/// how busy each end kept its core.
fn per_gib_cell(m: &MethodResult, base: Option<&MethodResult>, link: Option<u64>) -> String {
    let med = &m.median;
    let mut per_gib = match med.sys_ns_per_gib() {
        Some(v) => format!("sys {}", ms(v as u64)),
        None => "–".into(),
    };
    if let Some(b) = base
        && let Some(x) = rel_text(m, b, Run::sys_ns_per_gib)
    {
        let _ = write!(per_gib, "\n{x}");
    }
    match med.e2e_ns_per_gib() {
        Some(v) => {
            let _ = write!(per_gib, "\ne2e {}", ms(v as u64));
            if let Some(b) = base
                && let Some(x) = rel_text(m, b, Run::e2e_ns_per_gib)
            {
                let _ = write!(per_gib, "\n{x}");
            }
        }
        None if med.bytes > 0 => per_gib.push_str("\ne2e n/a"),
        None => {}
    }
    if link.is_some()
        && let Some(c) = core_busy_text(med)
    {
        let _ = write!(per_gib, "\n{c}");
    }
    per_gib
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(2049), "2,049");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn bar_scales_to_the_maximum() {
        assert_eq!(bar_of(10.0, 10.0, BAR_CELLS).chars().count(), BAR_CELLS);
        assert_eq!(bar_of(0.0, 10.0, BAR_CELLS), "");
        assert_eq!(bar_of(5.0, 0.0, BAR_CELLS), "");
        assert!(bar_of(5.0, 10.0, BAR_CELLS).chars().count() <= BAR_CELLS / 2 + 1);
    }
}
