//! Printing `copylab trace`: the answer first — each process that moved data, with its path,
//! calls, bytes and the program it recognised, and the helper processes that moved none folded
//! into one line — then one row per thread and syscall and where each thread's CPU went, both
//! tables fitted to the screen.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Screen;
use super::fit::{Align, Column, Fitted, Paint, fit};
use super::text::{NBSP, keep_figures};
use crate::counters::profile::Category;
use crate::escape::escape;
use crate::results::{Ended, PathKind, SyscallFigure, TraceProcess, TraceReport, TraceThread};
use crate::size::{fmt_bytes, fmt_ms};

/// Most names the folded line lists before "…".
const FOLDED_NAMES: usize = 8;

fn bytes_cell(f: &SyscallFigure) -> String {
    match f.bytes {
        Some(b) => fmt_bytes(b),
        None => "(calls only)".into(),
    }
}

fn per_call_cell(f: &SyscallFigure) -> String {
    match f.bytes {
        Some(b) if f.calls > f.errors => fmt_bytes(b / (f.calls - f.errors)),
        _ => String::new(),
    }
}

/// `text` as a paragraph of the screen's width, its figures never split from their units.
fn para(out: &mut String, screen: &Screen, text: &str, indent: usize) {
    out.push_str(&screen.wrap(&keep_figures(text), "", indent));
}

pub fn render(r: &TraceReport, screen: &Screen) -> String {
    let mut out = String::new();
    header(&mut out, r, screen);
    let Some(total) = &r.syscalls else {
        para(
            &mut out,
            screen,
            &format!(
                "syscalls: n/a — {}",
                r.unavailable.as_deref().unwrap_or("not measured")
            ),
            2,
        );
        if let (Some(u), Some(s)) = (r.rusage_user_ns, r.rusage_sys_ns) {
            para(
                &mut out,
                screen,
                &format!(
                    "CPU of the command and its children (getrusage): user {} ms, sys {} ms",
                    fmt_ms(u),
                    fmt_ms(s)
                ),
                2,
            );
        }
        return out;
    };
    verdicts(&mut out, r, screen);
    out.push('\n');
    syscalls_table(&mut out, r, total, screen);
    cpu_table(&mut out, r, screen);
    if r.lost_syscall_records > 0 || r.lost_samples > 0 {
        para(
            &mut out,
            screen,
            &format!(
                "warning: the kernel dropped {} syscall records and {} samples (its rings were full): the counts above are low by at least that",
                r.lost_syscall_records, r.lost_samples
            ),
            2,
        );
    }
    out
}

/// "copylab trace: `CMD`, followed for 1341 ms (exited with 0)".
fn header(out: &mut String, r: &TraceReport, screen: &Screen) {
    let what = match (&r.command, r.pid) {
        (Some(argv), _) => format!("`{}`", escape(&argv.join(" "))),
        (None, Some(pid)) => format!("pid {pid}"),
        _ => String::new(),
    };
    let how = match (r.exit_code, r.exit_signal) {
        (Some(c), _) => format!("exited with {c}"),
        (None, Some(s)) => format!("ended by signal {s}"),
        _ => "exited".into(),
    };
    // What copylab sent the command's process group, and how the command then ended.
    let sent = match r.signals_sent.as_slice() {
        [] => String::new(),
        s => format!("; sent {}; it {how}", s.join(", then ")),
    };
    let ended = match r.ended {
        Ended::Exited => how,
        Ended::Time => format!("--for ran out{sent}"),
        Ended::Interrupted => format!("interrupted{sent}"),
    };
    para(
        out,
        screen,
        &format!(
            "copylab trace: {what}, followed for {} ms ({ended})",
            fmt_ms(r.wall_ns)
        ),
        2,
    );
}

/// The answer: one line per process that moved data ("python3 (pid 22933) moved 6 MiB:
/// sendfile, 2 calls, 3 MiB per call — this is Python's socket.sendfile"), the path of the
/// whole trace when none did, and one line for the processes with no data path.
fn verdicts(out: &mut String, r: &TraceReport, screen: &Screen) {
    let (moved, quiet): (Vec<&TraceProcess>, Vec<&TraceProcess>) = r
        .processes
        .iter()
        .partition(|p| p.path.kind != PathKind::None);
    for p in &moved {
        para(
            out,
            screen,
            &format!(
                "{} (pid {}) moved {}: {}",
                name_of(p),
                p.pid,
                fmt_bytes(p.moved_bytes),
                p.path.words
            ),
            2,
        );
    }
    if moved.is_empty()
        && let Some(path) = &r.path
    {
        para(out, screen, &format!("Path: {}", path.words), 2);
    }
    // One quiet process alone is the whole story, told by the path line.
    if quiet.is_empty() || (moved.is_empty() && quiet.len() == 1) {
        return;
    }
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for p in &quiet {
        *names.entry(name_of(p)).or_default() += 1;
    }
    let mut names: Vec<(String, usize)> = names.into_iter().collect();
    names.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut listed: Vec<String> = names
        .iter()
        .take(FOLDED_NAMES)
        .map(|(n, k)| match k {
            1 => n.clone(),
            k => format!("{n}{NBSP}×{k}"),
        })
        .collect();
    if names.len() > FOLDED_NAMES {
        listed.push("…".into());
    }
    let most = quiet.iter().map(|p| p.moved_bytes).max().unwrap_or(0);
    let n = quiet.len();
    let what = match (moved.is_empty(), n) {
        (false, 1) => "helper process",
        (false, _) => "helper processes",
        (true, _) => "processes",
    };
    let moved_at_most = match n {
        1 => format!("it moved {}", fmt_bytes(most)),
        _ => format!("each moved {} or less", fmt_bytes(most)),
    };
    para(
        out,
        screen,
        &format!(
            "{n} {what} had no data path ({moved_at_most}): {}",
            listed.join(", ")
        ),
        2,
    );
}

/// A process's name as printed: escaped; "(unnamed)" when its main thread was never seen.
fn name_of(p: &TraceProcess) -> String {
    if p.name.is_empty() {
        "(unnamed)".into()
    } else {
        escape(&p.name).into_owned()
    }
}

/// Threads that moved at least 1% of the busiest thread's bytes get rows of their own.
fn shown(r: &TraceReport) -> impl Fn(&TraceThread) -> bool {
    let most = r.threads.iter().map(|t| t.moved_bytes).max().unwrap_or(0);
    move |t: &TraceThread| most == 0 || t.moved_bytes * 100 >= most
}

/// "left out to fit 80 columns: …; --wide shows every column."
fn dropped_note(out: &mut String, screen: &Screen, fitted: &Fitted) {
    if let Some(note) = fitted.left_out_wide(screen.width) {
        para(out, screen, &note, 2);
    }
}

/// One row per thread and syscall; the rest (a JVM's compiler and GC threads, say) summed in
/// one row, so the table shows where the bytes went; the totals when more than one thread has
/// rows.
fn syscalls_table(
    out: &mut String,
    r: &TraceReport,
    total: &BTreeMap<crate::syscall::Syscall, SyscallFigure>,
    screen: &Screen,
) {
    let shown = shown(r);
    let mut tid = Column::new("tid", 3, Align::Left);
    let mut thread = Column::new("thread", 6, Align::Left).paint(Paint::Name);
    let mut syscall = Column::new("syscall", 9, Align::Left);
    let mut calls = Column::new("calls", 8, Align::Right);
    let mut failed = Column::new("failed\n(-errno)", 2, Align::Right);
    let mut bytes = Column::new("bytes", 7, Align::Right).paint(Paint::Figure);
    let mut per_call = Column::new("per call\nthat moved", 4, Align::Right);
    let mut row = |cells: [String; 7]| {
        let [a, b, c, d, e, f, g] = cells;
        tid.cells.push(a);
        thread.cells.push(b);
        syscall.cells.push(c);
        calls.cells.push(d);
        failed.cells.push(e);
        bytes.cells.push(f);
        per_call.cells.push(g);
    };
    for th in r.threads.iter().filter(|t| shown(t)) {
        for (name, f) in &th.syscalls {
            row([
                th.tid.to_string(),
                escape(&th.name).into_owned(),
                name.to_string(),
                f.calls.to_string(),
                f.errors.to_string(),
                bytes_cell(f),
                per_call_cell(f),
            ]);
        }
    }
    let quiet: Vec<&TraceThread> = r.threads.iter().filter(|t| !shown(t)).collect();
    if !quiet.is_empty() {
        let n: u64 = quiet
            .iter()
            .flat_map(|t| t.syscalls.values())
            .map(|f| f.calls)
            .sum();
        let moved: u64 = quiet.iter().map(|t| t.moved_bytes).sum();
        row([
            format!("{} more", quiet.len()),
            "threads that\nmoved < 1%".into(),
            "all traced".into(),
            n.to_string(),
            String::new(),
            format!("{} moved", fmt_bytes(moved)),
            String::new(),
        ]);
    }
    // The totals would repeat the one thread's rows when only one is shown.
    if r.threads.len() - quiet.len() > 1 {
        for (name, f) in total {
            row([
                "all".into(),
                String::new(),
                name.to_string(),
                f.calls.to_string(),
                f.errors.to_string(),
                bytes_cell(f),
                per_call_cell(f),
            ]);
        }
    }
    let fitted = fit(
        screen,
        vec![tid, thread, syscall, calls, failed, bytes, per_call],
    );
    let _ = writeln!(out, "{}", fitted.table);
    dropped_note(out, screen, &fitted);
    if total.is_empty() {
        out.push_str("(no copy-relevant syscall was made)\n");
    }
}

/// Where the CPU went, per thread that moved data or took a tenth of the samples.
fn cpu_table(out: &mut String, r: &TraceReport, screen: &Screen) {
    if let Some(why) = &r.profile_unavailable {
        para(out, screen, &format!("CPU profile: n/a — {why}"), 2);
        return;
    }
    let shown = shown(r);
    let mut tid = Column::new("tid", 2, Align::Left);
    let mut thread = Column::new("thread", 7, Align::Left).paint(Paint::Name);
    let mut moved = Column::new("moved", 5, Align::Right);
    let mut cpu_ms = Column::new("CPU ms\n(sampled)", 8, Align::Right);
    let mut copy = Column::new("copy", 9, Align::Right).paint(Paint::Figure);
    let mut network = Column::new("network", 4, Align::Right);
    let mut page_cache = Column::new("page\ncache", 3, Align::Right);
    let mut user = Column::new("user", 6, Align::Right);
    let mut per_gib = Column::new("copy ms\nper GiB\nmoved", 9, Align::Right).paint(Paint::Figure);
    let all_samples: u64 = r
        .threads
        .iter()
        .filter_map(|t| t.cpu.as_ref())
        .map(|c| c.samples)
        .sum();
    for th in &r.threads {
        let Some(cpu) = &th.cpu else { continue };
        // The threads that moved data, and any that took a tenth of the CPU.
        if !(shown(th) && th.moved_bytes > 0) && cpu.samples * 10 < all_samples.max(1) {
            continue;
        }
        let all: u64 = cpu.ns.values().sum();
        let share = |c: Category| -> String {
            let v = cpu.ns.get(&c).copied().unwrap_or(0);
            if all == 0 {
                "n/a".into()
            } else {
                format!("{:.0}%", v as f64 * 100.0 / all as f64)
            }
        };
        tid.cells.push(th.tid.to_string());
        thread.cells.push(escape(&th.name).into_owned());
        moved.cells.push(fmt_bytes(th.moved_bytes));
        cpu_ms.cells.push(fmt_ms(all));
        copy.cells.push(share(Category::Copy));
        network.cells.push(share(Category::Network));
        page_cache.cells.push(share(Category::PageCache));
        user.cells.push(share(Category::User));
        per_gib.cells.push(match cpu.copy_ns_per_gib {
            Some(v) => fmt_ms(v as u64),
            None => "n/a (moved\nnothing)".into(),
        });
    }
    para(
        out,
        screen,
        &format!(
            "Where the CPU went (cpu-clock, one sample per {} ms of a thread's CPU):",
            fmt_ms(crate::counters::profile::Sampler::PERIOD_NS)
        ),
        2,
    );
    let fitted = fit(
        screen,
        vec![
            tid, thread, moved, cpu_ms, copy, network, page_cache, user, per_gib,
        ],
    );
    let _ = writeln!(out, "{}", fitted.table);
    dropped_note(out, screen, &fitted);
}
