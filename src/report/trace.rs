//! Printing `copylab trace`: one row per thread and syscall, the totals, where each thread's CPU
//! went, and the path in words.

use std::fmt::Write as _;

use comfy_table::{Cell, CellAlignment};

use super::new_table;
use crate::counters::profile::Category;
use crate::escape::escape;
use crate::results::{SyscallFigure, TraceReport};
use crate::size::{fmt_bytes, fmt_ms};

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

pub fn render(r: &TraceReport, screen: &super::Screen) -> String {
    let color = screen.color;
    let mut out = String::new();
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
        "exited" => how,
        "time" => format!("--for ran out{sent}"),
        _ => format!("interrupted{sent}"),
    };
    let _ = writeln!(
        out,
        "copylab trace: {what}, followed for {} ms ({ended})",
        fmt_ms(r.wall_ns)
    );
    let Some(total) = &r.syscalls else {
        let _ = writeln!(
            out,
            "syscalls: n/a — {}",
            r.unavailable.as_deref().unwrap_or("not measured")
        );
        if let (Some(u), Some(s)) = (r.rusage_user_ns, r.rusage_sys_ns) {
            let _ = writeln!(
                out,
                "CPU of the command and its children (getrusage): user {} ms, sys {} ms",
                fmt_ms(u),
                fmt_ms(s)
            );
        }
        return out;
    };

    // Threads that moved data get rows of their own; the rest (a JVM's compiler and GC
    // threads, say) are summed in one line, so the table shows where the bytes went.
    let most = r.threads.iter().map(|t| t.moved_bytes).max().unwrap_or(0);
    let shown = |t: &crate::results::TraceThread| most == 0 || t.moved_bytes * 100 >= most;
    let mut t = new_table(color);
    t.set_header([
        "tid",
        "thread",
        "syscall",
        "calls",
        "failed\n(-errno)",
        "bytes",
        "per call\nthat moved",
    ]);
    let quiet: Vec<_> = r.threads.iter().filter(|t| !shown(t)).collect();
    for th in r.threads.iter().filter(|t| shown(t)) {
        for (name, f) in &th.syscalls {
            t.add_row([
                Cell::new(th.tid),
                Cell::new(escape(&th.name)),
                Cell::new(name),
                Cell::new(f.calls).set_alignment(CellAlignment::Right),
                Cell::new(f.errors).set_alignment(CellAlignment::Right),
                Cell::new(bytes_cell(f)).set_alignment(CellAlignment::Right),
                Cell::new(per_call_cell(f)).set_alignment(CellAlignment::Right),
            ]);
        }
    }
    if !quiet.is_empty() {
        let calls: u64 = quiet
            .iter()
            .flat_map(|t| t.syscalls.values())
            .map(|f| f.calls)
            .sum();
        let moved: u64 = quiet.iter().map(|t| t.moved_bytes).sum();
        t.add_row([
            Cell::new(format!("{} more", quiet.len())),
            Cell::new("(threads that moved < 1%)"),
            Cell::new("all traced"),
            Cell::new(calls).set_alignment(CellAlignment::Right),
            Cell::new(""),
            Cell::new(format!("{} moved", fmt_bytes(moved))).set_alignment(CellAlignment::Right),
            Cell::new(""),
        ]);
    }
    // The totals would repeat the one thread's rows when only one is shown.
    let rows_of_threads = r.threads.len() - quiet.len();
    for (name, f) in total.iter().filter(|_| rows_of_threads > 1) {
        t.add_row([
            Cell::new("all"),
            Cell::new(""),
            Cell::new(name),
            Cell::new(f.calls).set_alignment(CellAlignment::Right),
            Cell::new(f.errors).set_alignment(CellAlignment::Right),
            Cell::new(bytes_cell(f)).set_alignment(CellAlignment::Right),
            Cell::new(per_call_cell(f)).set_alignment(CellAlignment::Right),
        ]);
    }
    let _ = writeln!(out, "{t}");
    if total.is_empty() {
        let _ = writeln!(out, "(no copy-relevant syscall was made)");
    }

    match &r.profile_unavailable {
        Some(why) => {
            let _ = writeln!(out, "CPU profile: n/a — {why}");
        }
        None => {
            let mut p = new_table(color);
            p.set_header([
                "tid",
                "thread",
                "moved",
                "CPU ms (sampled)",
                "copy",
                "network",
                "page cache",
                "user",
                "copy ms per GiB moved",
            ]);
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
                p.add_row([
                    Cell::new(th.tid),
                    Cell::new(escape(&th.name)),
                    Cell::new(fmt_bytes(th.moved_bytes)).set_alignment(CellAlignment::Right),
                    Cell::new(fmt_ms(all)).set_alignment(CellAlignment::Right),
                    Cell::new(share(Category::Copy)).set_alignment(CellAlignment::Right),
                    Cell::new(share(Category::Network)).set_alignment(CellAlignment::Right),
                    Cell::new(share(Category::PageCache)).set_alignment(CellAlignment::Right),
                    Cell::new(share(Category::User)).set_alignment(CellAlignment::Right),
                    Cell::new(match cpu.copy_ns_per_gib {
                        Some(v) => fmt_ms(v as u64),
                        None => "n/a (moved nothing)".into(),
                    })
                    .set_alignment(CellAlignment::Right),
                ]);
            }
            let _ = writeln!(
                out,
                "Where the CPU went (cpu-clock, one sample per {} ms of a thread's CPU):",
                fmt_ms(crate::counters::profile::Sampler::PERIOD_NS)
            );
            let _ = writeln!(out, "{p}");
        }
    }
    if r.lost_syscall_records > 0 || r.lost_samples > 0 {
        let _ = writeln!(
            out,
            "warning: the kernel dropped {} syscall records and {} samples (its rings were full): the counts above are low by at least that",
            r.lost_syscall_records, r.lost_samples
        );
    }
    if r.processes.len() > 1 {
        for p in &r.processes {
            let _ = writeln!(out, "pid {} ({}): {}", p.pid, escape(&p.name), p.path.words);
        }
    }
    if let Some(path) = &r.path {
        let _ = writeln!(out, "Path: {}", path.words);
    }
    out
}
