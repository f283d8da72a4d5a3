//! The HTML report's words in English: every string the page shows, in one table.

use super::Words;

pub const WORDS: Words = Words {
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
