//! The comparison table a person reads (on a projector, too): a header saying what was measured
//! and how, one row per method with medians, ratios to read-write, a throughput bar and the
//! textbook model beside the measurement, then one line per warning.

use std::fmt::Write as _;

use comfy_table::presets::UTF8_FULL;
use comfy_table::{Attribute, Cell, CellAlignment, Color, ContentArrangement, Table};

use crate::counters::SyscallSource;
use crate::method::MethodKind;
use crate::placement::Placement;
use crate::results::{MethodResult, Report, Run};
use crate::size::{fmt_bytes, fmt_mib_s, fmt_ms as ms};
use crate::sys::ZeroCopy;
use crate::transport::Transport;

/// Width of the throughput bar, in cells.
const BAR_CELLS: usize = 14;

/// Render the whole report: header lines, the table, footnotes and warnings.
pub fn render(r: &Report, color: bool) -> String {
    let mut out = String::new();
    header(r, &mut out);
    out.push_str(&table(r, color).to_string());
    out.push('\n');
    super::profile::verdicts(r, &mut out);
    super::profile::view(r, color, &mut out);
    footer(r, &mut out);
    out
}

fn header(r: &Report, out: &mut String) {
    let file = match &r.file.path {
        Some(p) => p.clone(),
        None => format!(
            "generated random data (unlinked temp file in {})",
            r.file.temp_dir.as_deref().unwrap_or("?")
        ),
    };
    let _ = writeln!(
        out,
        "copylab compare · {file} · {} ({} bytes)",
        fmt_bytes(r.file.bytes),
        thousands(r.file.bytes)
    );
    let cache = match (r.cache.mode, r.cache.resident_after_drop_max_pct) {
        ("cold", Some(p)) => format!(
            "cold: the file's pages dropped before every run (at most {p:.0}% still cached)"
        ),
        ("cold", None) => "cold requested, residency unknown".into(),
        _ => match r.cache.resident_before_pct {
            Some(p) => format!(
                "{} ({p:.0}% of pages in page cache before the first run)",
                r.cache.state
            ),
            None => "unknown".into(),
        },
    };
    let transport = match (r.transport, &r.veth) {
        (Transport::Veth, Some(v)) => format!(
            "tcp over veth {} → {} (namespaces {} → {}; a device between the ends, no NIC, no DMA)",
            v.serving_addr, v.receiving_addr, v.serving_netns, v.receiving_netns
        ),
        (Transport::Veth, None) => "tcp over veth".into(),
        (Transport::Tcp, _) => "tcp over 127.0.0.1 (loopback: no NIC, no DMA)".into(),
        (Transport::Unix, _) => "unix stream socket".into(),
    };
    let _ = writeln!(out, "transport {transport} · cache {cache}");
    if let Some(v) = &r.veth {
        let _ = writeln!(
            out,
            "veth devices: serving {} · receiving {}",
            offloads_text(&v.serving_device),
            offloads_text(&v.receiving_device)
        );
    }
    if let Some(rate) = r.link_rate_bytes_per_s {
        let _ = writeln!(
            out,
            "link paced to {} ({} MiB/s) with SO_MAX_PACING_RATE on the serving socket: at line rate every path moves the same bytes; read what each costs (CPU per GiB, core busy)",
            crate::size::fmt_rate(rate),
            fmt_mib_s(Some(crate::size::mib(rate)))
        );
    }
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
    let _ = writeln!(out, "{setup}");
    let counters = match r.syscall_source {
        SyscallSource::Perf => format!(
            "perf (syscall tracepoints{}, serving and receiver threads each) + getrusage",
            if r.perf_software_events {
                " + software events"
            } else {
                ""
            }
        ),
        SyscallSource::SelfCounted => {
            "getrusage (serving and receiver threads each); syscalls self-counted by the methods"
                .to_string()
        }
    };
    let _ = writeln!(out, "kernel {} · counters {counters}", r.kernel);
    let _ = writeln!(out, "{}", placement_text(r));
    let _ = writeln!(
        out,
        "median of {} run{} per method after {} warm-up{}, interleaved; min–max under medians",
        r.options.runs,
        if r.options.runs == 1 { "" } else { "s" },
        r.options.warmup,
        if r.options.warmup == 1 { "" } else { "s" },
    );
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

fn footer(r: &Report, out: &mut String) {
    let _ = writeln!(
        out,
        "textbook = the classic model: CPU copies on the sender, DMA copies, user↔kernel transitions \
         (what articles call \"context switches\"); ctx sw = real scheduler switches."
    );
    if r.syscall_source == SyscallSource::Perf && r.counter_overhead_syscalls > 0 {
        let _ = writeln!(
            out,
            "syscalls exclude the counters' own {} call{} per run (measured on empty windows).",
            r.counter_overhead_syscalls,
            if r.counter_overhead_syscalls == 1 {
                ""
            } else {
                "s"
            }
        );
    }
    let all_verified = r.methods.iter().all(|m| m.median.verified);
    if all_verified && !r.methods.is_empty() {
        let _ = writeln!(
            out,
            "every delivery checked: byte count on every run, XXH3 hash {} ({}).",
            if r.options.verify == "all" {
                "on every run"
            } else {
                "on each method's first run"
            },
            r.file.xxh3
        );
    }
    let zc: Vec<&ZeroCopy> = r
        .methods
        .iter()
        .filter_map(|m| m.median.cost.zerocopy.as_ref())
        .collect();
    if !zc.is_empty() {
        let all_copied = zc.iter().all(|z| z.sends > 0 && z.copied == z.completed);
        let _ = writeln!(
            out,
            "zero-copied = sends whose completion did not report a copy (SO_EE_CODE_ZEROCOPY_COPIED, IORING_NOTIF_USAGE_ZC_COPIED).{}",
            match (all_copied, r.transport) {
                (true, Transport::Tcp) =>
                    " Here the kernel copied every one: on loopback the receiver is a local socket that may hold the data indefinitely, so the kernel copies instead of pinning the pages.",
                (true, Transport::Veth) =>
                    " Here the kernel copied every one, as on loopback: veth hands the packet to a socket on this same machine (in the other namespace), and the kernel copies zero-copy pages before any local receiver may hold them. Only a real NIC, whose DMA reads the pages and is done with them, completes without a copy.",
                _ => "",
            }
        );
    }
    let sizes: Vec<String> = r
        .methods
        .iter()
        .filter_map(|m| {
            let d = m.median.device_tx?;
            (d.packets > 0).then(|| format!("{} {}", m.method, fmt_bytes(d.bytes / d.packets)))
        })
        .collect();
    if !sizes.is_empty() {
        let mtu = r
            .veth
            .as_ref()
            .and_then(|v| v.serving_device.mtu_bytes)
            .map_or("its".to_string(), |m| format!("the {m}-byte"));
        let _ = writeln!(
            out,
            "veth packets (serving device's counters, bytes ÷ packets, median run): {}. Far above {mtu} MTU: TCP hands veth GSO packets of up to 64 KiB and nothing on the way cuts them (a NIC with TSO cuts them in hardware).",
            sizes.join(" · ")
        );
    }
    if r.methods.iter().any(|m| m.median.cost.io_workers.is_some()) {
        let _ = writeln!(
            out,
            "+ io-wq = CPU ms of the kernel's io_uring worker threads for the serving thread (/proc schedstat), outside every other figure of the row."
        );
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {n}");
    }
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
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
        }) => format!("placement: serving thread pinned to CPU {s}, receiver to CPU {rc}"),
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

/// ns per GiB moved, or None for an empty file.
fn per_gib(ns: u64, bytes: u64) -> Option<f64> {
    (bytes > 0).then(|| ns as f64 / crate::size::gib(bytes))
}

/// The serving thread's sys CPU per GiB of a run summary (median, min or max).
pub(super) fn sys_per_gib_of(run: &Run) -> Option<f64> {
    per_gib(run.cost.cpu.sys_ns, run.bytes)
}

/// CPU per GiB of both ends and the io-wq workers (user + sys), or None when the receiver
/// was not measured.
pub(super) fn end_to_end_per_gib(run: &Run) -> Option<f64> {
    let rcv = run.receiver.as_ref()?;
    let ns = run.cost.cpu.user_ns
        + run.cost.cpu.sys_ns
        + rcv.cpu.user_ns
        + rcv.cpu.sys_ns
        + run.cost.io_workers.map_or(0, |w| w.cpu_ns);
    per_gib(ns, run.bytes)
}

/// Whether `m` and the baseline are within noise of each other for `metric`: their min–max
/// ranges over the runs overlap, so ranking them would tell a story the runs do not support.
pub fn within_noise(
    m: &MethodResult,
    base: &MethodResult,
    metric: fn(&Run) -> Option<f64>,
) -> bool {
    // Ranges per run: the summaries' min and max are field-by-field, so compute from the runs.
    let range = |mr: &MethodResult| -> Option<(f64, f64)> {
        let v: Option<Vec<f64>> = mr.runs.iter().map(metric).collect();
        let v = v?;
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
    };
    match (range(m), range(base)) {
        (Some((a0, a1)), Some((b0, b1))) => m.runs.len() > 1 && a0 <= b1 && b0 <= a1,
        _ => false,
    }
}

/// "0.47× rw", or "≈ rw (noise)" when the runs' ranges overlap.
fn rel_text(
    m: &MethodResult,
    base: &MethodResult,
    metric: fn(&Run) -> Option<f64>,
) -> Option<String> {
    if within_noise(m, base, metric) {
        return Some("≈ rw (noise)".into());
    }
    ratio(metric(&m.median)?, metric(&base.median)?)
}

/// The data syscalls of a run by name, biggest first, zeros left out: "pread64 2,049 · write
/// 2,048". A syscall the method made but this kernel cannot count shows as "n/a (self 8)".
pub(super) fn by_name(m: &MethodResult) -> String {
    let med = &m.median.cost;
    let mut v: Vec<(&String, Option<u64>)> = med
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

/// An empty table in copylab's style, coloured or not.
pub fn new_table(color: bool) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    if color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t
}

fn table(r: &Report, color: bool) -> Table {
    let mut t = new_table(color);
    let head = [
        "method",
        "MiB/s",
        "wall ms",
        "syscalls\n(total)",
        "data syscalls",
        "ctx sw\nvol / invol",
        "CPU ms\nuser / sys",
        "CPU ms per GiB\nsys · end to end",
        "copy ms/GiB\nserving | recv",
        "page faults\nminor / major",
        "textbook\ncopies · transitions",
    ];
    t.set_header(head.iter().map(|h| {
        let c = Cell::new(h);
        if color {
            c.add_attribute(Attribute::Bold)
        } else {
            c
        }
    }));

    let max_tput = r
        .methods
        .iter()
        .filter_map(|m| m.median.throughput_mib_s)
        .fold(0.0, f64::max);
    let base = r.method(MethodKind::ReadWrite);
    let self_counted = r.syscall_source == SyscallSource::SelfCounted;

    for m in &r.methods {
        let med = &m.median;
        let is_base = m.method == MethodKind::ReadWrite;
        let rel = |x: Option<f64>, b: Option<f64>| -> Option<String> {
            if is_base {
                return None;
            }
            ratio(x?, b?)
        };

        let tput = match med.throughput_mib_s {
            Some(t) => format!(
                "{}\n{}\n{}–{}",
                fmt_mib_s(Some(t)),
                bar_of(t, max_tput, BAR_CELLS),
                fmt_mib_s(m.min.throughput_mib_s),
                fmt_mib_s(m.max.throughput_mib_s)
            ),
            None => "n/a\n(empty file)".into(),
        };
        let wall = match (med.wall_ns, m.min.wall_ns, m.max.wall_ns) {
            (Some(w), Some(lo), Some(hi)) => format!("{}\n{}–{}", ms(w), ms(lo), ms(hi)),
            _ => "n/a".into(),
        };

        let mut sys = match med.cost.syscalls.total {
            Some(n) => thousands(n),
            None if self_counted => "n/a\n(needs perf)".into(),
            None => "n/a".into(),
        };
        let base_total = base
            .and_then(|b| b.median.cost.syscalls.total)
            .map(|v| v as f64);
        if let Some(x) = rel(med.cost.syscalls.total.map(|v| v as f64), base_total) {
            let _ = write!(sys, "\n{x}");
        }
        let mut data = by_name(m);
        if self_counted {
            data.push_str("\n(self-counted)");
        }
        if let Some(z) = &med.cost.zerocopy {
            let _ = write!(data, "\n{}", zerocopy_text(z, r.transport));
        }

        let ctx = format!(
            "{} / {}",
            med.cost.context_switches.voluntary, med.cost.context_switches.involuntary
        );
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
        let mut per_gib = match sys_per_gib_of(med) {
            Some(v) => format!("sys {}", ms(v as u64)),
            None => "–".into(),
        };
        if let Some(b) = base.filter(|_| !is_base)
            && let Some(x) = rel_text(m, b, sys_per_gib_of)
        {
            let _ = write!(per_gib, "\n{x}");
        }
        match end_to_end_per_gib(med) {
            Some(v) => {
                let _ = write!(per_gib, "\ne2e {}", ms(v as u64));
                if let Some(b) = base.filter(|_| !is_base)
                    && let Some(x) = rel_text(m, b, end_to_end_per_gib)
                {
                    let _ = write!(per_gib, "\n{x}");
                }
            }
            None if med.bytes > 0 => per_gib.push_str("\ne2e n/a"),
            None => {}
        }
        if r.link_rate_bytes_per_s.is_some()
            && let Some(c) = core_busy_text(med)
        {
            let _ = write!(per_gib, "\n{c}");
        }
        let faults = format!(
            "{} / {}",
            med.cost.page_faults.minor, med.cost.page_faults.major
        );
        let tb = &m.textbook;
        let textbook = format!(
            "{} CPU + {} DMA\n{} transitions\n{}",
            tb.cpu_copies_text(),
            tb.dma_copies,
            tb.transitions,
            textbook_calls(tb, r.options.batch)
        );

        let mut name = Cell::new(m.method.name());
        if color {
            name = name.add_attribute(Attribute::Bold).fg(Color::Cyan);
        }
        let right = |s: String| Cell::new(s).set_alignment(CellAlignment::Right);
        let mut tput_cell = Cell::new(tput);
        if color {
            tput_cell = tput_cell.fg(Color::Green);
        }
        t.add_row(vec![
            name,
            tput_cell,
            right(wall),
            right(sys),
            Cell::new(data),
            right(ctx),
            right(cpu),
            right(per_gib),
            right(super::profile::copy_cell(m)),
            right(faults),
            Cell::new(textbook),
        ]);
    }
    t
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
