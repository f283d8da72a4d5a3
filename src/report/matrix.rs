//! The receive matrix a person reads (`compare --receive`): one row per sender × receiver pair,
//! grouped by sender, with what both ends cost per GiB, where each end copied, how much the
//! zerocopy receiver mapped, how the bytes were checked, and a verdict in words. Drawn by hand
//! to a width: 100 columns (a projector) shows every column on one line per row; below that the
//! spread and the receiver's sys columns go, and a verdict may wrap.

use std::fmt::Write as _;

use unicode_width::UnicodeWidthStr;

use super::Screen;
use super::fit::{Align, painted};
use super::text::wrap;
use crate::counters::profile::Category;
use crate::method::MethodKind;
use crate::receive::{Check, ReceiverKind};
use crate::results::{MethodResult, Report, Run, Verify};
use crate::size::fmt_ms;
use crate::transport::Transport;

/// At this width and above, every column.
pub const WIDE: usize = 100;
/// A thread copies when its copy time per GiB is at least this share of one whole copy (what
/// recv's receiver pays to copy every byte once); below it, what the samples find is the odd
/// fault or header, or a few bytes copied in softirq.
const COPIES: f64 = 0.25;
/// Without a recv row to measure a whole copy by: a thread copies when at least this share of
/// its samples are in copy routines.
const COPIES_SHARE: f64 = 0.05;
/// A zerocopy receiver that mapped at least this share (in %) mapped the stream.
const MAPPED: f64 = 95.0;

/// Render the report as the matrix, to the screen's width and characters: `WIDE` columns or
/// more show every column.
pub fn render(r: &Report, screen: &Screen) -> String {
    let mut out = String::new();
    header(r, screen, &mut out);
    let base = baseline(r);
    let cols = columns(screen);
    let rows = rows(r, base, screen);
    let widths = widths(&cols, &rows);
    const GAP: usize = 2;
    let fixed: usize = widths
        .iter()
        .zip(&cols)
        .map(|(w, c)| w + c.gap)
        .sum::<usize>()
        + GAP;
    let verdict_w = screen.width.saturating_sub(fixed).max(16);
    let (l1, l2) = headings(&cols, &widths);
    let _ = writeln!(out, "{}", painted(l1.trim_end(), "1", screen));
    let _ = writeln!(
        out,
        "{}",
        painted(&format!("{l2}{}verdict", " ".repeat(GAP)), "1", screen)
    );
    let rule = if screen.unicode() { "─" } else { "-" };
    let _ = writeln!(out, "{}", rule.repeat(screen.width.min(fixed + verdict_w)));
    let mut last: Option<MethodKind> = None;
    for row in &rows {
        if last != Some(row.method) {
            let _ = writeln!(out, "{}", painted(row.method.name(), "1;36", screen));
            last = Some(row.method);
        }
        let mut l = String::new();
        for ((c, w), col) in row.cells.iter().zip(&widths).zip(&cols) {
            l.push_str(&" ".repeat(col.gap));
            l.push_str(&pad(c, *w, col.align));
        }
        l.push_str(&" ".repeat(GAP));
        let indent = l.width();
        out.push_str(&wrap(&row.verdict, indent + verdict_w, &l, indent));
    }
    footer(r, base, screen, &mut out);
    out
}

/// `s` as the screen can show it: unchanged, or spelled out in ASCII ("≈" → "~=").
fn shown(s: &str, screen: &Screen) -> String {
    if screen.unicode() {
        s.to_string()
    } else {
        super::text::to_ascii(s)
    }
}

/// One column of the matrix: its group heading (shared by the columns after it with the same
/// one), its own heading, alignment, and the spaces before it.
struct Col {
    group: &'static str,
    head: &'static str,
    align: Align,
    gap: usize,
}

const fn col(group: &'static str, head: &'static str, align: Align, gap: usize) -> Col {
    Col {
        group,
        head,
        align,
        gap,
    }
}

/// Every column fits the screen: the receiver's sys CPU too.
fn wide(screen: &Screen) -> bool {
    screen.width >= WIDE
}

/// The columns, the receiver's sys CPU only on a [`wide`] screen.
fn columns(screen: &Screen) -> Vec<Col> {
    let times = if screen.unicode() { "×" } else { "x" };
    let mut cols = vec![
        col("", "receiver", Align::Left, 0),
        col("CPU both ends", "ms/GiB", Align::Right, 2),
        col("CPU both ends", times, Align::Left, 1),
        col("copy ms/GiB", "send", Align::Right, 2),
        col("copy ms/GiB", "recv", Align::Right, 1),
    ];
    if wide(screen) {
        cols.push(col("recv sys", "ms/GiB", Align::Right, 2));
        cols.push(col("recv sys", times, Align::Left, 1));
    }
    cols.push(col("", "mapped", Align::Right, 2));
    cols.push(col("", "check", Align::Left, 2));
    cols
}

/// One sender × receiver pair as the matrix shows it.
struct Row {
    method: MethodKind,
    cells: Vec<String>,
    verdict: String,
}

/// A row per pair, in the report's order, its cells as [`columns`] lists them.
fn rows(r: &Report, base: Option<&MethodResult>, screen: &Screen) -> Vec<Row> {
    let full = full_copy_per_gib(r);
    let mut rows = Vec::new();
    for m in &r.methods {
        let Some(receiver) = m.receiver_path else {
            continue;
        };
        let med = &m.median;
        let (e2e, e2e_x) = with_ratio(m, base, both_ends_per_gib);
        let (mut send, recv) = copy_ms(m);
        if copied_in_softirq(m) {
            send.push('*');
        }
        let mut cells = vec![format!("  {receiver}"), e2e, e2e_x, send, recv];
        if wide(screen) {
            let (v, x) = with_ratio(m, base, receiver_sys_per_gib);
            cells.push(v);
            cells.push(x);
        }
        cells.push(
            med.receive
                .as_ref()
                .and_then(|x| x.zerocopy)
                .map_or("–".into(), |z| format!("{:.0}%", z.mapped_pct)),
        );
        // A path that sees the bytes but hashed none of these runs checked their count.
        let check = if med.hash_checked {
            receiver.check()
        } else {
            Check::ByteCount
        };
        cells.push(check.word().into());
        rows.push(Row {
            method: m.method,
            cells: cells.iter().map(|c| shown(c, screen)).collect(),
            verdict: shown(&verdict(m, receiver, full), screen),
        });
    }
    rows
}

/// Each column's width: its widest cell or heading, and the last column of a group widened
/// until the group's heading fits over it.
fn widths(cols: &[Col], rows: &[Row]) -> Vec<usize> {
    let mut widths: Vec<usize> = cols.iter().map(|c| c.head.width()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(&row.cells) {
            *w = (*w).max(c.width());
        }
    }
    let mut i = 0;
    while i < cols.len() {
        let mut j = i;
        while j + 1 < cols.len() && !cols[i].group.is_empty() && cols[j + 1].group == cols[i].group
        {
            j += 1;
        }
        let span: usize = (i..=j)
            .map(|k| widths[k] + if k > i { cols[k].gap } else { 0 })
            .sum();
        widths[j] += cols[i].group.width().saturating_sub(span);
        i = j + 1;
    }
    widths
}

/// The two heading lines: the groups, each over its columns, then each column's own.
fn headings(cols: &[Col], widths: &[usize]) -> (String, String) {
    let mut l1 = String::new();
    let mut l2 = String::new();
    for (k, c) in cols.iter().enumerate() {
        let w = widths[k];
        l2.push_str(&" ".repeat(c.gap));
        l2.push_str(&pad(c.head, w, c.align));
        let first_of_group = k == 0 || cols[k - 1].group != c.group || c.group.is_empty();
        l1.push_str(&" ".repeat(c.gap));
        if first_of_group {
            // Extend to the group's whole span (or the column's own width).
            let mut span = w;
            let mut n = k + 1;
            while !c.group.is_empty() && n < cols.len() && cols[n].group == c.group {
                span += cols[n].gap + widths[n];
                n += 1;
            }
            l1.push_str(&pad(c.group, span, Align::Left));
        } else if c.group.is_empty() {
            l1.push_str(&" ".repeat(w));
        } else {
            // Covered by the group's first column: undo this column's gap.
            l1.truncate(l1.len() - c.gap);
        }
    }
    (l1, l2)
}

/// Most of the sending thread's copying was made in softirq: on loopback, where the receive
/// half of TCP runs inside the sender's send call (MSG_ZEROCOPY's pages are copied there,
/// `skb_copy_ubufs`, before they reach the receiver).
fn copied_in_softirq(m: &MethodResult) -> bool {
    let completions_copied = m.median.cost.zerocopy.is_some_and(|z| z.copied > 0);
    completions_copied
        && m.profile.as_ref().is_some_and(|p| {
            let copy = p.serving.ns.get(&Category::Copy).copied().unwrap_or(0);
            copy > 0 && p.serving.copy_in_softirq_ns * 2 > copy
        })
}

/// A thread's copying outside softirq: on the receiving thread, its own path's copies. (Its
/// softirq also runs work of the sender's that its window updates restart, and with
/// MSG_ZEROCOPY that includes the sender's copy, `skb_copy_ubufs`.)
fn own_copy_ns(p: &crate::counters::profile::Pooled) -> u64 {
    p.ns.get(&Category::Copy)
        .copied()
        .unwrap_or(0)
        .saturating_sub(p.copy_in_softirq_ns)
}

/// Copy ms per GiB over every run's samples pooled: the sending thread's (softirq included)
/// and the receiving path's own ("0.80", "120"); "~" when the samples are few, "n/a" when too
/// few or not profiled.
fn copy_ms(m: &MethodResult) -> (String, String) {
    match &m.profile {
        Some(_) if m.median.bytes == 0 => ("–".into(), "–".into()),
        Some(p) => (
            super::profile::figure(&p.serving, p.serving.ns_per_gib(Category::Copy)),
            super::profile::figure(&p.receiver, p.receiver.per_gib(own_copy_ns(&p.receiver))),
        ),
        None => ("n/a".into(), "n/a".into()),
    }
}

/// The pair every ratio is taken against: sendfile → recv, else the first recv row, else the
/// first row.
fn baseline(r: &Report) -> Option<&MethodResult> {
    let recv = |m: &&MethodResult| m.receiver_path == Some(ReceiverKind::Recv);
    r.methods
        .iter()
        .filter(recv)
        .find(|m| m.method == MethodKind::Sendfile)
        .or_else(|| r.methods.iter().find(recv))
        .or_else(|| r.methods.first())
}

/// CPU of both threads (and io-wq) per GiB, as the full table computes it.
fn both_ends_per_gib(run: &Run) -> Option<f64> {
    run.e2e_ns_per_gib()
}

/// The receiver thread's sys CPU per GiB.
fn receiver_sys_per_gib(run: &Run) -> Option<f64> {
    let rc = run.receiver.as_ref()?;
    (run.bytes > 0).then(|| rc.cpu.sys_ns as f64 / crate::size::gib(run.bytes))
}

/// ("412", "0.63×"); "≈0.97×" when the runs' ranges overlap the baseline's; "n/a" unmeasured.
fn with_ratio(
    m: &MethodResult,
    base: Option<&MethodResult>,
    metric: fn(&Run) -> Option<f64>,
) -> (String, String) {
    let Some(v) = metric(&m.median) else {
        return ("n/a".into(), String::new());
    };
    let ratio = base.and_then(|b| {
        let bv = metric(&b.median).filter(|x| *x > 0.0)?;
        let x = v / bv;
        Some(if std::ptr::eq(m, b) {
            "1.00×".to_string()
        } else if m.within_noise_of(b, metric) {
            format!("≈{x:.2}×")
        } else {
            format!("{x:.2}×")
        })
    });
    (fmt_ms(v.round() as u64), ratio.unwrap_or_default())
}

/// Copy ns per GiB of the sending thread (all) and the receiving path (its own), over every
/// run's samples pooled; `None` when not profiled or the samples are too few.
fn copy_per_gib(m: &MethodResult) -> Option<(f64, f64)> {
    let p = m.profile.as_ref()?;
    Some((
        p.serving.ns_per_gib(Category::Copy)?,
        p.receiver.per_gib(own_copy_ns(&p.receiver))?,
    ))
}

/// The yardstick of one whole copy: the cheapest copy time per GiB of a recv receiver in the
/// report (the kernel copying every byte once into a buffer); None without a recv row.
fn full_copy_per_gib(r: &Report) -> Option<f64> {
    r.methods
        .iter()
        .filter(|m| m.receiver_path == Some(ReceiverKind::Recv))
        .filter_map(copy_per_gib)
        .map(|(_, rc)| rc)
        .reduce(f64::min)
        .filter(|x| *x > 0.0)
}

/// Whether each end copies (sending thread, receiving path), when profiled: against one whole
/// copy where the report has one, else by the share of the thread's samples.
fn copies(m: &MethodResult, full: Option<f64>) -> Option<(bool, bool)> {
    match full {
        Some(f) => copy_per_gib(m).map(|(s, rc)| (s >= COPIES * f, rc >= COPIES * f)),
        None => {
            let p = m.profile.as_ref()?;
            let all: u64 = p.receiver.ns.values().sum();
            let rc = p.receiver.share(Category::Copy)?;
            let own = own_copy_ns(&p.receiver) as f64 / all.max(1) as f64;
            Some((
                p.serving.share(Category::Copy)? >= COPIES_SHARE,
                rc.min(own) >= COPIES_SHARE,
            ))
        }
    }
}

/// Why a sender's pages do not map into a zerocopy receiver (`can_map_frag()` in
/// net/ipv4/tcp.c takes only whole pages that are not compound and belong to nobody:
/// `page->mapping == NULL`).
fn unmappable(sender: MethodKind) -> &'static str {
    match sender {
        MethodKind::Sendfile | MethodKind::Splice | MethodKind::IoUringSplice => {
            "page-cache pages cannot be mapped into a receiver"
        }
        MethodKind::Vmsplice => {
            "the sender's own (anonymous) pages cannot be mapped into a receiver"
        }
        MethodKind::ReadWrite | MethodKind::Mmap => {
            "TCP's send pages are multi-page (compound) and cannot be mapped into a receiver"
        }
        MethodKind::MsgZerocopy | MethodKind::IoUringSendZc => {
            "these pages could not be mapped into the receiver"
        }
    }
}

/// The row's conclusion in words, from what was measured.
fn verdict(m: &MethodResult, receiver: ReceiverKind, full: Option<f64>) -> String {
    let med = &m.median;
    let copies = copies(m, full);
    let mapped = med
        .receive
        .as_ref()
        .and_then(|x| x.zerocopy)
        .map(|z| z.mapped_pct);
    match receiver {
        ReceiverKind::Recv => match copies {
            Some((true, true)) => "both ends copy".into(),
            Some((false, true)) => "the receiver copies every byte".into(),
            Some((_, false)) => "no receive copy measured".into(),
            None => "the receiver copies (profile n/a)".into(),
        },
        ReceiverKind::Trunc | ReceiverKind::Splice => match copies {
            Some((true, false)) => "no copy on receipt: data discarded; the sender copies".into(),
            Some((false, false)) => "no copy: data discarded".into(),
            Some((_, true)) => "data discarded, yet the receiver copies".into(),
            None => "data discarded (profile n/a)".into(),
        },
        ReceiverKind::Zerocopy => match (mapped, copies) {
            (Some(p), Some((true, false))) if p >= MAPPED => "the copy moved to the sender".into(),
            (Some(p), Some((true, true))) if p >= MAPPED => {
                format!("{p:.0}% mapped, yet both ends copy")
            }
            (Some(p), Some((false, _))) if p >= MAPPED => {
                format!("{p:.0}% mapped: no sender copy measured")
            }
            (Some(p), None) if p >= MAPPED => format!("{p:.0}% mapped (profile n/a)"),
            (Some(p), _) if p < 100.0 - MAPPED => {
                format!("{p:.0}% mapped: {}", unmappable(m.method))
            }
            (Some(p), _) => format!("{p:.0}% mapped: the rest copied"),
            (None, _) => "n/a".into(),
        },
    }
}

fn header(r: &Report, screen: &Screen, out: &mut String) {
    let file = match &r.file.path {
        Some(p) => printable(p),
        None => "generated random data".into(),
    };
    let runs = r.options.runs;
    let mut lines = vec![format!(
        "copylab compare · receive matrix · {file}, {} · {runs} run{} per pair after {} warm-up{}, interleaved; medians",
        crate::size::fmt_bytes(r.file.bytes),
        if runs == 1 { "" } else { "s" },
        r.options.warmup,
        if r.options.warmup == 1 { "" } else { "s" },
    )];
    let mss = r
        .methods
        .iter()
        .find_map(|m| m.median.receive.as_ref().and_then(|x| x.rcv_mss_bytes));
    let mss = match mss {
        Some(n) if n % 4096 == 0 => format!("; receiver MSS {n} B = {} pages", n / 4096),
        Some(n) => format!("; receiver MSS {n} B"),
        None => String::new(),
    };
    let lo = r.receive.as_ref().and_then(|x| x.private_lo.as_ref());
    lines.push(match (lo, r.transport) {
        (Some(lo), _) => format!(
            "tcp over [{}] in a private network namespace: its lo's MTU {} leaves {} B = {} pages per segment{mss} (the host's lo untouched)",
            lo.addr,
            lo.mtu_bytes,
            lo.payload_bytes_per_segment,
            lo.payload_bytes_per_segment / 4096
        ),
        (None, Transport::Tcp) => format!("tcp over 127.0.0.1 (loopback){mss}"),
        (None, Transport::Unix) => "unix stream socket".into(),
        (None, Transport::Veth) => format!("tcp over veth between two namespaces{mss}"),
    });
    lines.push(format!(
        "kernel {} · counters {} on both threads · {}",
        r.kernel,
        match r.syscall_source {
            crate::counters::SyscallSource::Perf => "perf + getrusage",
            crate::counters::SyscallSource::SelfCounted => "getrusage (syscalls self-counted)",
        },
        placement(r)
    ));
    for l in lines {
        out.push_str(&wrap(&shown(&l, screen), screen.width, "", 2));
    }
    out.push('\n');
}

fn placement(r: &Report) -> String {
    match r.methods.first().map(|m| m.median.placement) {
        Some(crate::placement::Placement {
            serving_cpu: Some(s),
            receiver_cpu: Some(rc),
        }) => format!("serving thread on CPU {s}, receiver on CPU {rc}"),
        _ => "threads not pinned".into(),
    }
}

fn footer(r: &Report, base: Option<&MethodResult>, screen: &Screen, out: &mut String) {
    let base = base.map_or("the first row".into(), |b| match b.receiver_path {
        Some(rc) => format!("{} → {rc}", b.method),
        None => b.method.to_string(),
    });
    let mut lines = vec![format!(
        "CPU both ends = user + sys of the serving and the receiver thread (+ io-wq) per GiB; × = ratio to {base}, ≈ where the runs' ranges overlap it{}.",
        if wide(screen) {
            "; recv sys = the receiver thread's sys CPU per GiB"
        } else {
            ""
        }
    )];
    lines.push(
        "copy = cpu-clock samples in copy routines, ms per GiB: the sending thread's, and the receiving path's own (copies the receiving thread makes in softirq for the sender, such as MSG_ZEROCOPY's, are left out; the JSON has them); mapped = bytes TCP_ZEROCOPY_RECEIVE mapped into the receiver instead of copying."
            .into(),
    );
    lines.push(format!(
        "check: xxh3 = every byte hashed against the file ({}) and counted on every run; count = byte count only: the receiver drops the bytes unseen.",
        if r.options.verify == Verify::All {
            "every run"
        } else {
            "each pair's first measured run"
        }
    ));
    if r.methods.iter().any(copied_in_softirq) {
        lines.push(
            "* copied mostly in softirq on the sending thread: on loopback the kernel copies MSG_ZEROCOPY's pages before any receiver may hold them (skb_copy_ubufs; every completion says COPIED)."
                .into(),
        );
    }
    let unmapped = r.methods.iter().any(|m| {
        m.median
            .receive
            .as_ref()
            .and_then(|x| x.zerocopy)
            .is_some_and(|z| z.mapped_pct < MAPPED)
    });
    if unmapped {
        lines.push(
            "Only whole pages that are not compound and belong to nobody (page->mapping == NULL) map: can_map_frag() in net/ipv4/tcp.c."
                .into(),
        );
    }
    for n in &r.notes {
        lines.push(format!("note: {n}"));
    }
    for w in &r.warnings {
        lines.push(format!("warning: {w}"));
    }
    out.push('\n');
    for l in lines {
        out.push_str(&wrap(&shown(&l, screen), screen.width, "", 2));
    }
}

/// `s` padded to `w` columns, aligned as `align` says.
fn pad(s: &str, w: usize, align: Align) -> String {
    let fill = " ".repeat(w.saturating_sub(s.width()));
    match align {
        Align::Right => format!("{fill}{s}"),
        Align::Left => format!("{s}{fill}"),
    }
}

/// `s` with control characters escaped (`\u{1b}`), so a file name cannot drive the terminal.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_aligns_by_display_width() {
        assert_eq!(pad("≈1×", 5, Align::Right), "  ≈1×");
        assert_eq!(pad("ab", 4, Align::Left), "ab  ");
    }
}
