//! `copylab explain`: the diagrams are drawn from the same textbook model compare reports, every
//! line fits 100 columns, the language follows --lang and the locale, --measure writes the
//! figures of a real run in, the myths carry commands that exist, and bad topics fail cleanly.

use crate::util::*;

use std::sync::OnceLock;

use serde_json::Value;
use unicode_width::UnicodeWidthStr;

const LANGS: [&str; 2] = ["en", "zh"];

/// Run copylab with no locale in its environment (whatever the test runner's is), then `envs`
/// set: the language is decided only by what the test says.
fn run_locale(args: &[&str], envs: &[(&str, &str)]) -> Out {
    Cmd::copylab(args).without_locale().envs(envs).run()
}

/// `copylab explain args` in a neutral locale; must succeed without a panic.
fn explain(args: &[&str]) -> Out {
    explain_env(args, &[])
}

/// `copylab explain args` laid out for `width` columns (COLUMNS), in a neutral locale.
fn explain_at(args: &[&str], width: usize) -> Out {
    explain_env(args, &[("COLUMNS", &width.to_string())])
}

fn explain_env(args: &[&str], envs: &[(&str, &str)]) -> Out {
    let mut full = vec!["explain"];
    full.extend_from_slice(args);
    let out = run_locale(&full, envs);
    assert!(out.success(), "explain failed\n{}", out.dump());
    assert!(!out.stderr.contains("panicked"), "panic\n{}", out.dump());
    out
}

/// The widths explain lays out for in these tests: a student's terminal, a projector, a wide one.
const WIDTHS: [usize; 3] = [80, 100, 120];

/// One small compare of every method, shared by the tests of this file: its textbook figures
/// are what the diagrams must agree with.
fn compare_report() -> &'static Value {
    static REPORT: OnceLock<Value> = OnceLock::new();
    REPORT.get_or_init(|| {
        run_json(
            &[
                "compare",
                "--size",
                "64K",
                "--runs",
                "1",
                "--warmup",
                "0",
                "--methods",
                "all",
                "--json",
            ],
            &[],
        )
    })
}

/// The diagram of a single path's text: the lines between the title (`━━ …`) and the legend
/// (`  DMA = …`), which also says "CPU" and "DMA" and so is left out; split at the receiving
/// thread's line into the serving thread's half (the textbook's model, from the disk to the
/// NIC) and the receiver's (the wire and recv's copy, which the textbook leaves out).
fn halves(text: &str, what: &str) -> (String, String) {
    let mut lines = text.lines();
    let title = lines.next().unwrap_or_default();
    assert!(title.starts_with("━━ "), "{what}: no title line\n{text}");
    let mut body = Vec::new();
    for l in lines {
        if l.trim_start().starts_with("DMA = ") {
            assert!(
                body.iter().any(|b: &&str| !b.trim().is_empty()),
                "{what}: empty diagram\n{text}"
            );
            let cut = body
                .iter()
                .position(|b| b.contains("receiving thread") || b.contains("接收线程"))
                .unwrap_or_else(|| panic!("{what}: no receiving thread's half\n{text}"));
            return (body[..cut].join("\n"), body[cut..].join("\n"));
        }
        assert!(
            !l.starts_with("━━ "),
            "{what}: next title before any legend\n{text}"
        );
        body.push(l);
    }
    panic!("{what}: no legend line (starting `DMA = `)\n{text}");
}

/// Join wrapped lines back into running text: explain wraps at spaces (dropped, so put back) or
/// beside a wide character (nothing to put back).
fn flatten(text: &str) -> String {
    let mut out = String::new();
    for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let wide = |c: Option<char>| c.is_some_and(|c| c.to_string().width() == 2);
        if !out.is_empty() && !wide(out.chars().last()) && !wide(l.chars().next()) {
            out.push(' ');
        }
        out.push_str(l);
    }
    out
}

/// `text` without spaces: Chinese text compared where a wrap may have taken or kept one.
fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The paragraph that starts with the line starting `heading`, flattened.
fn paragraph(text: &str, heading: &str) -> String {
    let start = text
        .lines()
        .position(|l| l.starts_with(heading))
        .unwrap_or_else(|| panic!("no line starting {heading:?}\n{text}"));
    let para: Vec<&str> = text
        .lines()
        .skip(start)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    flatten(&para.join("\n"))
}

/// The syscalls a path's diagram must write on the user/kernel boundary.
fn boundary_calls(method: &str) -> &'static [&'static str] {
    match method {
        "read-write" => &["read()", "write()"],
        "mmap" => &["mmap()", "write()"],
        "sendfile" => &["sendfile()"],
        "splice" => &["splice()"],
        "vmsplice" => &["read()", "vmsplice()", "splice()"],
        "msg-zerocopy" => &["mmap()", "sendto()"],
        // io_uring operations ride on io_uring_enter: written without parentheses.
        "io-uring-splice" => &["IORING_OP_SPLICE "],
        "io-uring-send-zc" => &["mmap()", "IORING_OP_SEND_ZC "],
        other => panic!("unknown method {other}"),
    }
}

const CIRCLED: [char; 10] = ['①', '②', '③', '④', '⑤', '⑥', '⑦', '⑧', '⑨', '⑩'];

/// The step labels of a diagram (`①DMA`, `②CPU*`, …) in the order of their numbers.
fn step_labels(diagram: &str) -> Vec<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    let chars: Vec<char> = diagram.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if let Some(n) = CIRCLED.iter().position(|d| d == c) {
            let tag: String = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic() || **c == '*')
                .collect();
            found.push((n + 1, tag));
        }
    }
    found.sort();
    found
        .into_iter()
        .enumerate()
        .map(|(i, (n, tag))| {
            assert_eq!(n, i + 1, "steps are numbered 1, 2, 3…\n{diagram}");
            format!("{}{tag}", CIRCLED[n - 1])
        })
        .collect()
}

#[test]
fn diagrams_draw_the_textbook_compare_reports() {
    let report = compare_report();
    for name in ALL_METHODS {
        let tb = &method(report, name)["textbook"];
        let cpu = num(&tb["cpu_copies"], "textbook.cpu_copies");
        let cpu_sg = num(
            &tb["cpu_copies_with_sg_dma"],
            "textbook.cpu_copies_with_sg_dma",
        );
        let dma = num(&tb["dma_copies"], "textbook.dma_copies");
        let transitions = num(&tb["transitions"], "textbook.transitions");
        for (lang, width) in LANGS
            .iter()
            .flat_map(|l| WIDTHS.iter().map(move |w| (*l, *w)))
        {
            let out = explain_at(&[name, "--lang", lang], width);
            let what = format!("COLUMNS={width} explain {name} --lang {lang}");
            let (d, receiver) = halves(&out.stdout, &what);
            let dump = format!("{what}: textbook {tb}\n{d}");

            // Below the NIC, the receiver: the wire in, and recv()'s CPU copy out, numbered on
            // from the serving thread's steps.
            let rdump = format!("{what}: the receiver's half\n{receiver}");
            assert_eq!(receiver.matches("CPU").count(), 1, "{rdump}");
            assert_eq!(receiver.matches("DMA").count(), 1, "{rdump}");
            let n = step_labels(&d).len();
            let recv_label = format!("{}CPU", CIRCLED[n + 1]);
            assert!(receiver.contains(&recv_label), "{recv_label}\n{rdump}");
            let rline = receiver
                .lines()
                .find(|l| l.starts_with('━'))
                .unwrap_or_else(|| panic!("no user/kernel line\n{rdump}"));
            assert!(rline.contains("recv()"), "{rdump}");
            for l in out.stdout.lines() {
                assert!(l.width() <= width, "{} columns: {l:?}\n{dump}", l.width());
            }

            // A pinned send (pin) is a CPU copy without scatter-gather, like CPU*: the textbook
            // counts it as "1 (0 with SG-DMA)".
            let labels = step_labels(&d);
            let pins = labels.iter().filter(|l| l.ends_with("pin")).count() as u64;
            assert_eq!(
                d.matches("CPU").count() as u64 + pins,
                cpu,
                "CPU copies\n{dump}"
            );
            assert_eq!(d.matches("DMA").count() as u64, dma, "DMA copies\n{dump}");
            assert_eq!(
                d.matches("CPU*").count() as u64 + pins,
                cpu - cpu_sg,
                "copies scatter-gather DMA avoids (CPU*, pin)\n{dump}"
            );

            // Every arrow is numbered and carries exactly one kind tag.
            assert!(labels.len() >= 3, "too few steps\n{dump}");
            for l in &labels {
                let tag: String = l.chars().skip(1).collect();
                assert!(
                    ["DMA", "CPU", "CPU*", "ref", "map", "pin"].contains(&tag.as_str()),
                    "step label {l:?} has no kind tag\n{dump}"
                );
            }
            let tagged = |t: &str| labels.iter().filter(|l| l.ends_with(t)).count() as u64;
            assert_eq!(tagged("DMA"), dma, "DMA steps\n{dump}");
            assert_eq!(
                tagged("CPU") + tagged("CPU*") + tagged("pin"),
                cpu,
                "CPU steps\n{dump}"
            );

            // The syscalls sit on the user/kernel boundary (the ━ line).
            let boundary = d
                .lines()
                .find(|l| l.starts_with('━'))
                .unwrap_or_else(|| panic!("no user/kernel boundary line\n{dump}"));
            for call in boundary_calls(name) {
                assert!(
                    boundary.contains(call),
                    "{call} not on the boundary\n{dump}"
                );
            }

            // The Steps list has one line per step, in the same order as the arrows.
            let steps_heading = if lang == "en" { "Steps:" } else { "步骤：" };
            let steps: Vec<&str> = out
                .stdout
                .lines()
                .skip_while(|l| *l != steps_heading)
                .skip(1)
                .take_while(|l| !l.trim().is_empty())
                .filter(|l| CIRCLED.iter().any(|c| l.trim_start().starts_with(*c)))
                .collect();
            assert_eq!(steps.len(), labels.len(), "Steps list\n{}", out.stdout);
            for (s, l) in steps.iter().zip(&labels) {
                let mut parts = l.chars();
                let n = parts.next().unwrap();
                let tag: String = parts.collect();
                let words: Vec<&str> = s.split_whitespace().collect();
                assert_eq!(
                    (words[0], words[1]),
                    (n.to_string().as_str(), tag.as_str()),
                    "step {s:?} vs arrow {l}\n{}",
                    out.stdout
                );
            }
            // The receiver's steps follow under a heading of their own: the wire, then recv.
            let receiver_heading = if lang == "en" {
                "At the receiver — the copy the textbook leaves out:"
            } else {
                "接收端 —— 教科书漏掉的那次拷贝："
            };
            let rsteps: Vec<Vec<&str>> = out
                .stdout
                .lines()
                .skip_while(|l| *l != receiver_heading)
                .skip(1)
                .take_while(|l| !l.trim().is_empty())
                .filter(|l| CIRCLED.iter().any(|c| l.trim_start().starts_with(*c)))
                .map(|l| l.split_whitespace().take(2).collect())
                .collect();
            let (wire, recv) = (CIRCLED[n].to_string(), CIRCLED[n + 1].to_string());
            assert_eq!(
                rsteps,
                vec![vec![wire.as_str(), "DMA"], vec![recv.as_str(), "CPU"]],
                "{}",
                out.stdout
            );

            if lang == "en" {
                let textbook = paragraph(&out.stdout, "Textbook: ");
                for needle in [
                    format!("{transitions} user↔kernel transitions"),
                    format!("{dma} DMA copies"),
                    match (
                        tb["syscalls_per_batch"].as_str().unwrap(),
                        tb["syscalls_once"].as_str().unwrap(),
                    ) {
                        ("", "") => format!(
                            "syscalls per chunk: {}.",
                            tb["syscalls_per_chunk"].as_str().unwrap()
                        ),
                        ("", once) => format!(
                            "syscalls per chunk: {} ({once} once).",
                            tb["syscalls_per_chunk"].as_str().unwrap()
                        ),
                        (batch, _) => format!("one syscall, {batch}, per batch of chunks"),
                    },
                ] {
                    assert!(
                        textbook.contains(&needle),
                        "{what}: {needle:?} not in {textbook:?}"
                    );
                }
                let cpu_text = if cpu == cpu_sg {
                    format!("{cpu} CPU cop")
                } else {
                    format!(
                        "{cpu} CPU cop{} ({cpu_sg} with scatter-gather DMA)",
                        if cpu == 1 { "y" } else { "ies" }
                    )
                };
                assert!(textbook.contains(&cpu_text), "{cpu_text:?} in {textbook:?}");
            } else {
                let textbook = paragraph(&out.stdout, "教科书的说法：");
                for needle in [
                    format!("{transitions} 次用户态↔内核态切换"),
                    format!("{dma} 次 DMA 拷贝"),
                    format!("{cpu} 次 CPU 拷贝"),
                ] {
                    assert!(
                        textbook.contains(&needle),
                        "{what}: {needle:?} not in {textbook:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_line_fits_100_columns() {
    for lang in LANGS {
        let out = explain_at(&["--lang", lang], 100);
        let text = &out.stdout;
        // All eight paths, then the myths.
        assert_eq!(
            text.lines().filter(|l| l.starts_with("━━ ")).count(),
            ALL_METHODS.len() + 1,
            "{lang}: every path and the myths\n{text}"
        );
        let widest = text.lines().map(|l| l.width()).max().unwrap_or(0);
        for (i, line) in text.lines().enumerate() {
            assert!(
                line.width() <= 100,
                "{lang} line {}: {} columns: {line:?}",
                i + 1,
                line.width()
            );
            assert!(
                !line.contains('\t'),
                "{lang}: a tab has no fixed width: {line:?}"
            );
        }
        // The diagrams really use the width (a broken width computation would not get close).
        assert!(widest >= 90, "{lang}: widest line only {widest} columns");
    }
}

#[test]
fn language_follows_flag_then_locale() {
    let is_zh = |o: &Out| {
        let zh = o.stdout.contains("步骤：")
            && o.stdout.contains("教科书的说法：")
            && o.stdout.contains("Linux 实际上怎么做：");
        let en = o.stdout.contains("Steps:")
            && o.stdout.contains("Textbook:")
            && o.stdout.contains("What Linux really does:");
        assert!(zh != en, "exactly one language expected\n{}", o.dump());
        zh
    };
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], bool);
    let cases: [Case; 8] = [
        (&[("LANG", "zh_CN.UTF-8")], &[], true),
        (&[("LANG", "C")], &[], false),
        (&[], &[], false),
        (&[("LC_ALL", "zh_CN.UTF-8")], &["--lang", "en"], false),
        (&[("LANG", "C")], &["--lang", "zh"], true),
        // LC_ALL beats LC_MESSAGES beats LANG.
        (&[("LC_ALL", "C"), ("LANG", "zh_CN.UTF-8")], &[], false),
        (&[("LC_MESSAGES", "zh_TW.UTF-8"), ("LANG", "C")], &[], true),
        // An empty variable counts as unset.
        (&[("LC_ALL", ""), ("LANG", "zh_CN.UTF-8")], &[], true),
    ];
    for (envs, flags, want_zh) in cases {
        let mut args = vec!["explain", "sendfile"];
        args.extend_from_slice(flags);
        let out = run_locale(&args, envs);
        assert!(out.success(), "{}", out.dump());
        assert_eq!(is_zh(&out), want_zh, "wrong language\n{}", out.dump());
    }
}

/// The syscall figures compare reports for one method at 8 MiB: (total, "name n, …").
fn syscalls_of(report: &Value, name: &str) -> (Option<u64>, String) {
    let m = method(report, name);
    let s = &m["median"]["syscalls"];
    let mut by: Vec<String> = s["by_name"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_u64().filter(|n| *n > 0).map(|n| format!("{k} {n}")))
                .collect()
        })
        .unwrap_or_default();
    by.sort();
    (s["total"].as_u64(), by.join(", "))
}

const MEASURE: [&str; 6] = ["explain", "sendfile", "--measure", "--size", "8M", "--lang"];

#[test]
fn measure_writes_real_figures_as_root() {
    require!(Need::root("for perf syscall counters"));
    let mut en = MEASURE.to_vec();
    en.push("en");
    let out = run_locale(&en, &[]);
    assert!(out.success(), "{}", out.dump());
    let report = run_json(
        &[
            "compare",
            "--size",
            "8M",
            "--methods",
            "read-write,sendfile",
            "--runs",
            "3",
            "--warmup",
            "1",
            "--json",
        ],
        &[],
    );
    assert_eq!(report["counter_source"], "perf", "{report:#}");
    // compare's own figures: deterministic with perf tracepoints.
    let (sf_total, sf_by) = syscalls_of(&report, "sendfile");
    let (rw_total, rw_by) = syscalls_of(&report, "read-write");
    assert_eq!((sf_total, sf_by.as_str()), (Some(1), "sendfile64 1"));
    assert_eq!(
        (rw_total, rw_by.as_str()),
        (Some(128), "pread64 64, write 64")
    );

    let text = &out.stdout;
    assert!(
        text.lines().any(|l| l == "Measured here:"),
        "{}",
        out.dump()
    );
    let measured = flatten(text.split("Measured here:").nth(1).unwrap());
    for needle in [
        "8 MiB over tcp 127.0.0.1 (median of 3 runs)".to_string(),
        match sf_total.unwrap() {
            1 => format!("1 syscall ({sf_by})"),
            n => format!("{n} syscalls ({sf_by})"),
        },
        format!("read-write needed {}.", rw_total.unwrap()),
        "1 syscall (sendfile64 1)".into(),
        "read-write needed 128.".into(),
        "→ Agrees with the model: sendfile64 per chunk × 1 chunk = 1 syscall = 2 user↔kernel transitions"
            .into(),
    ] {
        assert!(measured.contains(&needle), "{needle:?} missing\n{}", out.dump());
    }
    // No warning but the one about run-to-run spread, which depends on what else this machine
    // runs (the other tests included), not on copylab.
    for l in text.lines().filter(|l| l.starts_with("warning:")) {
        assert!(l.starts_with("warning: noisy machine"), "{}", out.dump());
    }
    for l in text.lines() {
        assert!(l.width() <= 100, "{} columns: {l:?}", l.width());
    }
    // Why the thread slept is not measured: the verdict says only what the switches show.
    assert!(!measured.contains("slept"), "{}", out.dump());
    assert!(
        measured.contains("The thread never blocked (0 voluntary context switches)")
            || measured.contains("(voluntary switches) — typically waiting for room"),
        "{}",
        out.dump()
    );

    // The same figures in Chinese.
    let mut zh = MEASURE.to_vec();
    zh.push("zh");
    let out = run_locale(&zh, &[]);
    assert!(out.success(), "{}", out.dump());
    let measured = flatten(
        out.stdout
            .split("在这台机器上的测量：")
            .nth(1)
            .unwrap_or_else(|| panic!("no measured section\n{}", out.dump())),
    );
    // A line may break at the space between Latin and Chinese: compare without spaces.
    let measured = squash(&measured);
    for needle in [
        "1 次系统调用（sendfile64 1）",
        "read-write 需要 128 次",
        "→ 与模型一致",
    ] {
        assert!(
            measured.contains(&squash(needle)),
            "{needle:?} missing\n{}",
            out.dump()
        );
    }
}

/// A copy of the binary nobody can run, when this test can drop privileges and perf is closed
/// to unprivileged users (None, the test reported as skipped, otherwise).
fn unprivileged() -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    require!(else None;
        Need::tool("setpriv"),
        Need::root("to drop privileges"),
        Need::perf_closed_to_users()
    );
    let dir = world_readable_dir();
    let b = copy_bin_to(dir.path());
    Some((dir, b))
}

#[test]
fn measure_without_privileges_says_syscalls_were_not_counted() {
    let Some((_bin_dir, b)) = unprivileged() else {
        return;
    };
    let tmp = world_writable_dir();
    let mut args = MEASURE.to_vec();
    args.push("en");
    let out = run_as_nobody(&b, &args, tmp.path());
    assert!(out.success(), "{}", out.dump());
    let measured = flatten(
        out.stdout
            .split("Measured here:")
            .nth(1)
            .unwrap_or_else(|| panic!("no measured section\n{}", out.dump())),
    );
    for needle in [
        "n/a syscalls (self-counted: sendfile64 1)",
        "read-write needed n/a.",
        "→ Syscalls could not be counted on this machine (see `copylab doctor`)",
    ] {
        assert!(
            measured.contains(needle),
            "{needle:?} missing\n{}",
            out.dump()
        );
    }
    assert!(
        !measured.contains("Agrees with the model"),
        "{}",
        out.dump()
    );
    // The measured section itself fits the 100 columns (the warning after it: see below).
    for l in out
        .stdout
        .lines()
        .take_while(|l| !l.starts_with("warning:"))
    {
        assert!(l.width() <= 100, "{} columns: {l:?}", l.width());
    }
    // The temp file went away.
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "left in TMPDIR"
    );
}

#[test]

fn measure_warnings_fit_100_columns() {
    let Some((_bin_dir, b)) = unprivileged() else {
        return;
    };
    let tmp = world_writable_dir();
    let mut args = MEASURE.to_vec();
    args.push("en");
    let out = run_as_nobody(&b, &args, tmp.path());
    assert!(out.success(), "{}", out.dump());
    for l in out.stdout.lines() {
        assert!(l.width() <= 100, "{} columns: {l:?}", l.width());
    }
}

#[test]
fn myths_are_numbered_with_commands_that_exist() {
    let title = [
        ("en", "━━ Interview myths, corrected"),
        ("zh", "━━ 面试中的误区，逐条纠正"),
    ];
    let dir = tempdir();
    let file = write_file(dir.path(), "f", 4096, 1);
    for (lang, heading) in title {
        let out = explain(&["myths", "--lang", lang]);
        let text = &out.stdout;
        assert_eq!(text.lines().next(), Some(heading), "{}", out.dump());
        assert_eq!(text.lines().filter(|l| l.starts_with("━━ ")).count(), 1);

        // Myths are blocks separated by blank lines: "N. claim", the truth, "$ command".
        let blocks: Vec<&str> = text
            .split("\n\n")
            .skip(1)
            .filter(|b| !b.trim().is_empty())
            .collect();
        assert!(blocks.len() >= 6, "{lang}: {} myths\n{text}", blocks.len());
        for (i, b) in blocks.iter().enumerate() {
            assert!(
                b.starts_with(&format!("{}. ", i + 1)),
                "{lang}: myth {} not numbered {}\n{b}",
                i + 1,
                i + 1
            );
            let cmds: Vec<&str> = b.lines().filter_map(|l| l.strip_prefix("   $ ")).collect();
            assert_eq!(
                cmds.len(),
                1,
                "{lang}: myth {} has no `$ command`\n{b}",
                i + 1
            );
            // A copylab command must exist with these flags (`--help` last: clap checks what
            // comes before it). "a   vs   b" shows two commands.
            for cmd in cmds[0].split("   ").filter(|c| c.starts_with("copylab ")) {
                let mut args: Vec<&str> = cmd
                    .split_whitespace()
                    .skip(1)
                    .map(|a| if a == "FILE" { path_str(&file) } else { a })
                    .collect();
                args.push("--help");
                let out = run(&args, &[]);
                assert_eq!(out.code, Some(0), "myth command `{cmd}`\n{}", out.dump());
            }
        }
    }
    // Both languages tell the same myths with the same commands.
    let en = explain(&["myths", "--lang", "en"]).stdout;
    let zh = explain(&["myths", "--lang", "zh"]).stdout;
    let copylab_cmds = |t: &str| -> Vec<String> {
        t.lines()
            .filter_map(|l| l.strip_prefix("   $ copylab "))
            .map(String::from)
            .collect()
    };
    assert_eq!(copylab_cmds(&en).len(), copylab_cmds(&zh).len());
    for (e, z) in copylab_cmds(&en).iter().zip(copylab_cmds(&zh)) {
        let first = |s: &str| s.split("   ").next().unwrap().to_string();
        assert_eq!(first(e), first(&z), "en and zh myths differ");
    }
}

#[test]
fn bad_topics_fail_cleanly() {
    let out = run_locale(&["explain", "nosuch"], &[]);
    assert_clean_error(&out, &["explain nosuch: unknown topic", "myths"]);

    let out = run_locale(&["explain", "myths", "--measure"], &[]);
    assert_clean_error(&out, &["--measure", "myths"]);

    // "all" and lists are compare's syntax, not topics.
    for t in ["all", "read-write,sendfile"] {
        let out = run_locale(&["explain", t], &[]);
        assert_clean_error(&out, &[&format!("explain {t}: unknown topic")]);
    }

    // A usage error is clap's: exit 2.
    let out = run_locale(&["explain", "sendfile", "--lang", "fr"], &[]);
    assert_eq!(out.code, Some(2), "{}", out.dump());
    assert!(out.stdout.is_empty(), "{}", out.dump());
}

/// `explain --measure` on the newer paths writes what only they have: vmsplice agrees with its
/// model (fresh regions included), the zero-copy paths say what the completions reported, and
/// io-uring-splice names the worker threads' CPU, in both languages.
#[test]
fn measure_newer_paths_in_both_languages() {
    require!(Need::root("for perf syscall counters"));
    let cases: [(&str, &[&str], &[&str]); 3] = [
        (
            "vmsplice",
            &[
                "→ Agrees with the model: pread64 + vmsplice + splice per chunk",
                "mmap + munmap × 1 region of fresh pages",
            ],
            &["→ 与模型一致", "新页区域的 mmap + munmap"],
        ),
        (
            "msg-zerocopy",
            &[
                "zero-copy sends ",
                "the kernel reported ",
                "recvmsg(MSG_ERRQUEUE)",
            ],
            &["零拷贝发送 ", "内核报告其中 "],
        ),
        (
            "io-uring-splice",
            &[
                "io_uring_enter ",
                "io-wq worker threads ran ",
                "not in its figures above",
            ],
            &["io-wq 工作线程替服务线程花了 "],
        ),
    ];
    for (path, en, zh) in cases {
        for (lang, needles, heading) in [
            ("en", en, "Measured here:"),
            ("zh", zh, "在这台机器上的测量："),
        ] {
            let out = run_locale(
                &["explain", path, "--measure", "--size", "4M", "--lang", lang],
                &[],
            );
            assert!(out.success(), "{}", out.dump());
            let measured =
                flatten(out.stdout.split(heading).nth(1).unwrap_or_else(|| {
                    panic!("{path} {lang}: no measured section\n{}", out.dump())
                }));
            for n in needles {
                assert!(
                    measured.contains(n),
                    "{path} {lang}: {n:?} missing\n{}",
                    out.dump()
                );
            }
            for l in out.stdout.lines() {
                assert!(l.width() <= 100, "{} columns: {l:?}", l.width());
            }
        }
    }
}

/// The splice-based paths go through the code sendfile does (`splice_to_socket`,
/// `MSG_SPLICE_PAGES`): the same "0 with SG, 1 without" as sendfile, in the JSON, the table's
/// textbook and the picture; the zero-copy sends carry the same caveat in words.
#[test]
fn splice_paths_copy_without_scatter_gather_like_sendfile() {
    let report = compare_report();
    for name in ["sendfile", "splice", "vmsplice", "io-uring-splice"] {
        let tb = &method(report, name)["textbook"];
        let cpu = num(&tb["cpu_copies"], "cpu_copies");
        let sg = num(&tb["cpu_copies_with_sg_dma"], "cpu_copies_with_sg_dma");
        assert_eq!(cpu, sg + 1, "{name}: one copy more without SG: {tb}");
        let out = explain(&[name, "--lang", "en"]);
        assert!(
            out.stdout.contains("CPU* pipe → socket buffer")
                || out.stdout.contains("CPU* page cache → socket buffer"),
            "{name}: the socket-side step is CPU*\n{}",
            out.stdout
        );
    }
    for name in ["msg-zerocopy", "io-uring-send-zc"] {
        let text = flatten(&explain(&[name, "--lang", "en"]).stdout);
        assert!(
            text.contains("when the device does scatter-gather; without it TCP copies"),
            "{name}\n{text}"
        );
        // The textbook counts that copy: "1 (0 with SG-DMA)", like sendfile.
        let tb = &method(report, name)["textbook"];
        let cpu = num(&tb["cpu_copies"], "cpu_copies");
        let sg = num(&tb["cpu_copies_with_sg_dma"], "cpu_copies_with_sg_dma");
        assert_eq!((cpu, sg), (1, 0), "{name}: {tb}");
        assert!(
            text.contains("1 CPU copy (0 with scatter-gather DMA)"),
            "{name}\n{text}"
        );
    }
    // Two CPU copies are "copies".
    let vm = flatten(&explain(&["vmsplice", "--lang", "en"]).stdout);
    assert!(
        vm.contains("2 CPU copies (1 with scatter-gather DMA)"),
        "{vm}"
    );
    // What removes the copy is page references in the skb, read by the NIC in place.
    let text = flatten(&explain(&["sendfile", "--lang", "en"]).stdout);
    for needle in [
        "the skb holds page references and the NIC reads the page cache directly",
        "do_sendfile → do_splice_direct → splice_direct_to_actor",
        "a pipe the kernel keeps for the calling task (current->splice_pipe",
        "splice_to_socket with MSG_SPLICE_PAGES (Linux 6.5 and later; before, pipe_to_sendpage",
        "NETIF_F_SG, tcp_sendmsg_locked copies",
    ] {
        assert!(text.contains(needle), "{needle:?}\n{text}");
    }
}

/// Each statement the review found that a follow-up question would break, as now said.
#[test]
fn statements_survive_the_follow_up_question() {
    let sendfile = flatten(&explain(&["sendfile", "--lang", "en"]).stdout);
    for needle in [
        // A single call only on a blocking socket.
        "on a blocking socket a 256 MiB file goes out in a single call",
        "On a non-blocking socket (Java NIO, so Kafka) sendfile returns as soon as the socket buffer is full, with a partial count",
        // Pages in flight, with no completion.
        "a change to the file after sendfile returns can still reach the wire",
        // transferTo is sendfile only on the direct path.
        "sendfile underneath on the direct path",
        "copy_file_range first",
    ] {
        assert!(sendfile.contains(needle), "{needle:?}\n{sendfile}");
    }
    assert!(!sendfile.contains("bytes); a 256 MiB file"), "{sendfile}");

    // mmap maps by faults on first touch, here inside write().
    let mmap = flatten(&explain(&["mmap", "--lang", "en"]).stdout);
    for needle in [
        "mmap() only reserves addresses (no MAP_POPULATE)",
        "here inside write()",
        "on a cold cache the disk DMA happens inside that fault",
    ] {
        assert!(mmap.contains(needle), "{needle:?}\n{mmap}");
    }

    // The disk is read only on a page-cache miss, on every path.
    for name in ALL_METHODS {
        for (lang, needle) in [
            ("en", "only on a page-cache miss"),
            ("zh", "页缓存命中时根本不读盘"),
        ] {
            let out = explain(&[name, "--lang", lang]);
            let text = squash(&out.stdout);
            assert!(
                text.contains(&squash(needle)),
                "{name} {lang}: {needle:?}\n{}",
                out.stdout
            );
            assert!(
                !out.stdout.contains("DMA copy by a device, no CPU · during"),
                "{name}: the disk DMA is not always during the call\n{}",
                out.stdout
            );
        }
    }

    // MSG_ZEROCOPY forbids modifying the pages, not unmapping them.
    let zc = flatten(&explain(&["msg-zerocopy", "--lang", "en"]).stdout);
    assert!(zc.contains("a page must not be modified"), "{zc}");
    assert!(!zc.contains("or be unmapped"), "{zc}");

    // The myths: io_uring is a way to submit work; io::copy's history and sendto.
    let myths = flatten(&explain(&["myths", "--lang", "en"]).stdout);
    for needle in [
        "io_uring is a way to submit work; whether bytes are copied depends on the operation",
        "rust-lang/rust#75272",
        "strace -f -e trace=sendfile,read,write,sendto",
    ] {
        assert!(myths.contains(needle), "{needle:?}\n{myths}");
    }
    assert!(!myths.contains("removes syscalls, not copies"), "{myths}");
}

/// Chinese as a Chinese reader expects it: full-width colons after headings, no full-width
/// mark opening a line (nor an opening one ending it), and the terms an interviewer uses.
#[test]
fn chinese_typesetting_and_terms() {
    let mut text = explain(&["--lang", "zh"]).stdout;
    text.push_str(&explain(&["kafka", "--lang", "zh"]).stdout);
    for heading in [
        "步骤",
        "Linux 实际上怎么做",
        "教科书的说法",
        "Kafka 在哪里用",
    ] {
        assert!(
            text.contains(&format!("{heading}：")),
            "{heading}：\n{text}"
        );
        assert!(
            !text.contains(&format!("{heading}:")),
            "{heading}: ASCII colon"
        );
    }
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let first = t.chars().next();
        assert!(
            !first.is_some_and(|c| "，。、；：？！）》」』”’".contains(c)),
            "line {} starts with full-width punctuation: {line:?}",
            i + 1
        );
        let last = line.trim_end().chars().last();
        assert!(
            !last.is_some_and(|c| "（《「『“‘".contains(c)),
            "line {} ends with an opening mark: {line:?}",
            i + 1
        );
    }
    let flat = squash(&text);
    for term in [
        "分散/聚集DMA（SG-DMA）",
        "页面固定（pin）",
        "数据必须先拷到用户态（JVM）再加密",
        "清零本身就是一次写内存，抵消了省下的拷贝",
        "页缓存命中时根本不读盘",
    ] {
        assert!(flat.contains(&squash(term)), "{term:?} missing");
    }
    for old in ["钉住", "scatter-gather"] {
        assert!(!text.contains(old), "{old:?} still in the Chinese text");
    }
}

/// The sections of `explain kafka`, in order, per language.
const KAFKA_SECTIONS: [(&str, &[&str]); 2] = [
    (
        "en",
        &[
            "① The traditional path, read + write:",
            "② mmap + write:",
            "③ sendfile, and what SG-DMA changes:",
            "④ splice:",
            "Where Kafka uses it:",
            "Where it does not:",
            "\"Parallel transferTo\":",
            "What stays:",
            "Ready to say:",
        ],
    ),
    (
        "zh",
        &[
            "① 传统路径 read + write：",
            "② mmap + write：",
            "③ sendfile，以及 SG-DMA 改变了什么：",
            "④ splice：",
            "Kafka 在哪里用：",
            "哪里用不上：",
            "“并行 transferTo”：",
            "什么省不掉：",
            "面试时可以这样答：",
        ],
    ),
];

/// The bullets of the section headed `heading` (up to the next blank line), flattened one each.
fn bullets(text: &str, heading: &str) -> Vec<String> {
    let body: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != heading)
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    let mut out: Vec<String> = Vec::new();
    for l in body {
        match l.strip_prefix("  • ") {
            Some(b) => out.push(b.to_string()),
            None => {
                if let Some(last) = out.last_mut() {
                    *last = flatten(&format!("{last}\n{l}"));
                }
            }
        }
    }
    out
}

#[test]
fn kafka_answer_in_both_languages() {
    for (lang, sections) in KAFKA_SECTIONS {
        let out = explain(&["kafka", "--lang", lang]);
        let text = &out.stdout;
        assert!(text.starts_with("━━ "), "{text}");
        assert!(text.contains("请你简单说一下Kafka的零拷贝原理"), "{text}");
        let mut at = 0;
        for h in sections {
            let pos = text
                .lines()
                .position(|l| l == *h)
                .unwrap_or_else(|| panic!("{lang}: no heading {h:?}\n{text}"));
            assert!(pos > at, "{lang}: {h:?} out of order\n{text}");
            at = pos;
        }
        for l in text.lines() {
            assert!(l.width() <= 100, "{} columns: {l:?}", l.width());
        }
        // A ready-to-say answer of about ten lines.
        let answer = bullets(text, sections[sections.len() - 1]);
        assert!((8..=12).contains(&answer.len()), "{lang}: {answer:?}");
        // Without --measure, no figure is claimed, and the way to get them is said.
        assert!(!text.contains("Measured here") && !text.contains("这台机器上的测量"));
        assert!(text.contains("copylab explain kafka --measure"), "{text}");
    }
    let en = flatten(&explain(&["kafka", "--lang", "en"]).stdout);
    for needle in [
        "FileRecords.writeTo → TransferableChannel.transferFrom → PlaintextTransportLayer → FileChannel.transferTo → sendfile",
        "never decodes or re-encodes a fetch",
        // No fsync per produce request: segments are flushed when they roll.
        "no zero copy, and no fsync per request: a segment is flushed when it rolls",
        "SslTransportLayer reads the file into the JVM",
        "SSL_sendfile",
        // kTLS: no CPU encryption with NIC offload; zero copy there is opt-in.
        "with NIC TLS offload there is no CPU encryption pass",
        "TLS_TX_ZEROCOPY_RO, Linux 5.19",
        // Down-conversion applied from 0.10 to 3.9; Kafka 4.0 removed it.
        "from 0.10 to 3.9 a consumer that needed an older message format had its batches down-converted",
        "Kafka 4.0 removed the old Fetch versions and down-conversion with them (KIP-896, KAFKA-18269)",
        "message.downconversion.enable does nothing now",
        "In Kafka 4.x this is the main exception to zero copy left",
        // The broker rewrites offsets and the leader epoch in place; a fetch is never re-encoded.
        "LogValidator writes the offsets and the partition leader epoch into its header in place",
        "recompresses it when the topic's compression.type differs",
        // How the offset becomes a byte range, and why the index is mmapped.
        "binary search in the segment's sparse .index (OffsetIndex.lookup",
        "FileRecords.slice(position, size) is what transferTo(position, count) sends",
        "The index is mmapped because a lookup is a few random reads",
        // A lagging consumer blocks the network thread.
        "sendfile reads the disk inside Kafka's network thread",
        "KAFKA-7504",
        // Why the page cache and not the heap.
        "no pressure on the garbage collector, are not cached twice",
        "stay warm across a broker restart",
        "Kafka maps its index files (.index, .timeindex), not the log",
        "RocketMQ",
        "sendfile is built on splice",
        "splice_direct_to_actor, which moves the pages through a pipe the kernel keeps for the calling task (current->splice_pipe)",
        "the skb holds references to the page-cache pages (its frags) and the NIC gathers them",
        "returns a partial count",
        "the consumer's recv() copies every byte",
    ] {
        assert!(en.contains(needle), "{needle:?}\n{en}");
    }
}

/// `explain kafka --measure`: every step carries a figure of this run, and they agree with what
/// a compare run of the same size measures where the figure is deterministic (syscall counts with
/// perf; the byte count and the connections of the parallel fetch everywhere).
#[test]
fn kafka_measure_writes_this_runs_figures() {
    for (lang, sections) in KAFKA_SECTIONS {
        let out = run_locale(
            &[
                "explain",
                "kafka",
                "--measure",
                "--size",
                "8M",
                "--lang",
                lang,
            ],
            &[],
        );
        assert!(out.success(), "{}", out.dump());
        let text = &out.stdout;
        let measured = if lang == "en" {
            "Measured here: "
        } else {
            "这台机器上的测量："
        };
        // The four paths, the parallel fetch (1 and 4 connections) and what stays.
        for (h, n) in [(0, 1), (1, 1), (2, 1), (3, 1), (6, 2), (7, 1)] {
            let b = bullets(text, sections[h]);
            let got = b.iter().filter(|l| l.starts_with(measured)).count();
            assert_eq!(got, n, "{lang} {}: {b:#?}", sections[h]);
        }
        if lang == "en" {
            let par = bullets(text, sections[6]);
            assert!(
                par.iter().any(
                    |l| l.contains("received by `copylab fetch --connections 4`")
                        && l.contains("4 connections each fetching the same 8 MiB")
                        && l.contains("returned EAGAIN and waited in poll")
                ),
                "{par:#?}"
            );
            let witness = bullets(text, "Witness: Java's FileChannel.transferTo:");
            assert_eq!(witness.len(), 1, "{text}");
            // Java and trace here: the program's transferTo was sendfile, every byte of it.
            if witness[0].starts_with("Measured here: ") {
                assert!(
                    witness[0].contains("moving 8,388,608 of its 8,388,608 bytes")
                        && witness[0].contains("transferTo"),
                    "{witness:?}"
                );
                // Both calls a JDK's transferTo can make are counted, and the sentence says
                // which JDK behaviour trace saw: a JDK 20+ tries copy_file_range first.
                let w = &witness[0];
                assert!(
                    w.contains(" copy_file_range calls (") && w.contains(" sendfile64 calls "),
                    "{w}"
                );
                if w.contains("saw 0 copy_file_range calls") {
                    assert!(w.contains("this JDK goes straight to sendfile"), "{w}");
                } else {
                    assert!(w.contains("each transferTo tried copy_file_range"), "{w}");
                }
            } else {
                assert!(
                    witness[0]
                        .starts_with("The sendfile calls of a Java transferTo program: n/a ("),
                    "{witness:?}"
                );
            }
            if is_root() {
                let report = run_json(
                    &[
                        "compare",
                        "--size",
                        "8M",
                        "--methods",
                        "classic",
                        "--runs",
                        "1",
                        "--warmup",
                        "0",
                        "--json",
                    ],
                    &[],
                );
                for (i, name) in ["read-write", "mmap", "sendfile", "splice"]
                    .iter()
                    .enumerate()
                {
                    let (total, by) = syscalls_of(&report, name);
                    let total = total.unwrap_or_else(|| panic!("{name}: no perf total"));
                    let want = format!(
                        "{total} syscall{} ({by})",
                        if total == 1 { "" } else { "s" }
                    );
                    let b = bullets(text, sections[i]);
                    let m = b.iter().find(|l| l.starts_with(measured)).unwrap();
                    assert!(m.contains(&want), "{name}: {want:?} not in {m:?}");
                }
            }
        }
    }
}

/// The statements a follow-up question would test, as now said: the JDK's copy_file_range,
/// mmap's fault-around, and sendfile's internal pipe.
#[test]
fn jdk_and_kernel_statements_name_what_they_rest_on() {
    let sendfile = flatten(&explain(&["sendfile", "--lang", "en"]).stdout);
    for needle in [
        "JDK 20 and later (JDK-8292562, FileDispatcherImpl.c transferTo0) try copy_file_range first for every direct target, sockets included",
        "fall back to sendfile on EINVAL, ENOSYS, EXDEV or EOPNOTSUPP",
        "every transferTo is a failed copy_file_range, then a sendfile64",
    ] {
        assert!(sendfile.contains(needle), "{needle:?}\n{sendfile}");
    }
    let mmap = flatten(&explain(&["mmap", "--lang", "en"]).stdout);
    assert!(
        !mmap.contains("each page is mapped by a fault"),
        "one fault per page is not what Linux does\n{mmap}"
    );
    for needle in [
        "many per fault (fault-around",
        "do_fault_around maps the cached pages around the address (fault_around_bytes",
        "far fewer faults than pages",
    ] {
        assert!(mmap.contains(needle), "{needle:?}\n{mmap}");
    }
    let zh = squash(&explain(&["mmap", "--lang", "zh"]).stdout);
    assert!(zh.contains(&squash("一次缺页会映射很多页")), "{zh}");
    assert!(!zh.contains(&squash("socket 允许的最少次数")), "{zh}");
}

/// Every path's text ends its lesson with the sources it rests on (kernel files and functions,
/// documents, JDK and Kafka files), in both languages, the same list.
#[test]
fn every_path_names_its_sources() {
    for name in ALL_METHODS {
        let mut lists = Vec::new();
        for (lang, heading) in [("en", "Sources:"), ("zh", "出处：")] {
            let out = explain(&[name, "--lang", lang]);
            let list = bullets(&out.stdout, heading);
            assert!(
                !list.is_empty(),
                "{name} {lang}: no sources\n{}",
                out.stdout
            );
            for s in &list {
                assert!(
                    [".c", ".rst", ".java", ".h", "commit"]
                        .iter()
                        .any(|k| s.contains(k)),
                    "{name} {lang}: {s:?} names no file"
                );
            }
            lists.push(list);
        }
        assert_eq!(
            lists[0], lists[1],
            "{name}: sources differ between languages"
        );
    }
    for (lang, heading) in [("en", "Sources:"), ("zh", "出处：")] {
        let out = explain(&["kafka", "--lang", lang]);
        let list = bullets(&out.stdout, heading);
        for needle in [
            "LogValidator",
            "KIP-896",
            "KAFKA-7504",
            "FileDispatcherImpl.c",
        ] {
            assert!(
                list.iter().any(|s| s.contains(needle)),
                "{lang}: {needle}\n{list:#?}"
            );
        }
    }
}

/// The Kafka answer survives the four follow-up questions, in both languages, and the Chinese
/// reads as an interviewer would say it.
#[test]
fn kafka_answer_survives_the_follow_ups() {
    let en = explain(&["kafka", "--lang", "en"]).stdout;
    let follow = bullets(&en, "Follow-up questions:");
    assert_eq!(follow.len(), 4, "{en}");
    for (q, a) in [
        ("\"What changed in 4.0?\"", "KIP-896"),
        ("\"What if the data is not cached?\"", "KAFKA-7504"),
        (
            "\"Are the bytes identical from producer to consumer?\"",
            "a fetch is never re-encoded",
        ),
        (
            "\"How does the broker find the position?\"",
            "FileRecords.slice",
        ),
    ] {
        assert!(
            follow.iter().any(|b| b.starts_with(q) && b.contains(a)),
            "{q} {a}\n{follow:#?}"
        );
    }
    let answer = flatten(&bullets(&en, "Ready to say:").join("\n"));
    assert!(!answer.contains("same bytes from producer"), "{answer}");
    assert!(
        answer.contains("TLS is the main exception left in Kafka 4.x"),
        "{answer}"
    );
    let zh = explain(&["kafka", "--lang", "zh"]).stdout;
    assert!(zh.lines().any(|l| l == "面试时可以这样答："), "{zh}");
    assert_eq!(bullets(&zh, "追问：").len(), 4, "{zh}");
    let flat = squash(&zh);
    assert_eq!(flat.matches("页缓存（PageCache）").count(), 1, "{zh}");
}

/// The receiving end's lesson, in both languages: each receiving path drawn from the NIC on,
/// with its call on its user/kernel line and its kind on its arrows; why sendfile's pages never
/// map, with the kernel function and the selftest it rests on; the lesson in one sentence;
/// what the benchmark measured, pinned and not; the same sources in both languages.
#[test]
fn receive_lesson_draws_each_receiver_and_says_why_sendfile_never_maps() {
    let mut sources = Vec::new();
    for (lang, heads) in [
        (
            "en",
            [
                "Why sendfile's pages never map:",
                "The lesson:",
                "Measured here:",
                "Sources:",
            ],
        ),
        (
            "zh",
            [
                "为什么 sendfile 的页永远映射不了：",
                "结论：",
                "在这台机器上的测量：",
                "出处：",
            ],
        ),
    ] {
        let out = explain_at(&["receive", "--lang", lang], 100);
        let text = &out.stdout;
        assert!(text.starts_with("━━ receive"), "{text}");
        let mut at = 0;
        for h in heads {
            let pos = text
                .lines()
                .position(|l| l == h)
                .unwrap_or_else(|| panic!("{lang}: no {h:?}\n{text}"));
            assert!(pos > at, "{lang}: {h:?} out of order\n{text}");
            at = pos;
        }
        // One picture per receiver, each with its call on the user/kernel line, and the kinds
        // of its steps on its arrows.
        let blocks: Vec<&str> = text.split("\n── ").skip(1).collect();
        assert_eq!(blocks.len(), 4, "{lang}\n{text}");
        for (block, (name, call, tags)) in blocks.iter().zip([
            ("recv", "recv()", &["①DMA", "②CPU"][..]),
            ("trunc", "recv(MSG_TRUNC)", &["①DMA", "②drop"][..]),
            ("splice", "splice()", &["①DMA", "②ref", "③drop"][..]),
            (
                "zerocopy",
                "getsockopt(TCP_ZEROCOPY_RECEIVE)",
                &["①DMA", "②map", "③CPU"][..],
            ),
        ]) {
            assert!(block.starts_with(name), "{lang}: {name}\n{block}");
            let line = block
                .lines()
                .find(|l| l.starts_with('━'))
                .unwrap_or_else(|| panic!("{name}: no user/kernel line\n{block}"));
            assert!(line.contains(call), "{name}: {call}\n{block}");
            for t in tags {
                assert!(block.contains(t), "{name}: {t}\n{block}");
            }
            // The discarding receivers copy nothing: no CPU on their arrows.
            if name == "trunc" || name == "splice" {
                // The picture: after the title, up to its steps.
                let picture: Vec<&str> = block
                    .lines()
                    .skip(1)
                    .take_while(|l| !l.starts_with("Steps") && !l.starts_with("步骤"))
                    .collect();
                assert!(picture.len() >= 8, "{name}: picture\n{block}");
                assert!(!picture.concat().contains("CPU"), "{name}\n{block}");
            }
        }
        let flat = squash(text);
        for needle in [
            "can_map_frag()",
            "page->mapping == NULL",
            "tools/testing/selftests/net/tcp_mmap.c",
            "61512",
            "577e4432f3ac",
            "skb_copy_ubufs",
            "iter_file_splice_write",
            "EOPNOTSUPP",
        ] {
            assert!(flat.contains(&squash(needle)), "{lang}: {needle}\n{text}");
        }
        let lesson = if lang == "en" {
            "On one host the last copy can be moved, or the data thrown away, but not removed."
        } else {
            "在同一台机器上，最后这次拷贝可以挪走，或者把数据丢掉，但去不掉。"
        };
        assert!(flat.contains(&squash(lesson)), "{lang}\n{text}");
        // What the benchmark measured, pinned and unpinned, said as such.
        let bench = if lang == "en" {
            ["Threads pinned apart", "Unpinned (--cpus any)"]
        } else {
            ["两个线程分别绑在", "不绑核（--cpus any）"]
        };
        for b in bench {
            assert!(flat.contains(&squash(b)), "{lang}: {b}\n{text}");
        }
        // Without --measure, no figure of this run is claimed; the way to get them is said.
        assert!(
            text.contains("copylab explain receive --measure"),
            "{lang}\n{text}"
        );
        let src_heading = heads[3];
        sources.push(bullets(text, src_heading));
    }
    assert_eq!(sources[0], sources[1], "sources differ between languages");
    for needle in [
        "net/ipv4/tcp.c: can_map_frag()",
        "tools/testing/selftests/net/tcp_mmap.c",
        "drivers/char/mem.c",
        "iou-zcrx.rst",
    ] {
        assert!(
            sources[0].iter().any(|s| s.contains(needle)),
            "{needle}\n{:#?}",
            sources[0]
        );
    }
}

/// The figures of one pair's "Measured here" line: (receiver sys ms/GiB, mapped %).
fn pair_line<'a>(measured: &'a [String], pair: &str) -> &'a str {
    measured
        .iter()
        .find(|l| l.starts_with(&format!("{pair}: ")))
        .unwrap_or_else(|| panic!("no line for {pair}\n{measured:#?}"))
}

fn mapped_of(line: &str) -> f64 {
    line.split("% mapped")
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no mapped share in {line}"))
}

/// `explain receive --measure` as root runs the matrix and writes each pair's figures in: the
/// discarding receivers copy nothing, sendfile's pages do not map and MSG_ZEROCOPY's do, and
/// the zerocopy picture carries the mapped share its line gives. 64 MiB: a discarding receiver
/// spends so little CPU that a smaller file leaves too few samples to say it copied nothing
/// (n/a) when the machine is busy.
#[test]
fn receive_measure_writes_the_matrix_of_this_run() {
    require!(Need::root("for the private network namespace and perf"));
    let _shared = system_state(false);
    let out = run_locale(
        &[
            "explain",
            "receive",
            "--measure",
            "--size",
            "64M",
            "--lang",
            "en",
        ],
        &[("COLUMNS", "100")],
    );
    assert!(out.success(), "{}", out.dump());
    let text = &out.stdout;
    let measured = bullets(text, "Measured here:");
    assert!(
        measured[0].starts_with("Figures: 64 MiB sent by sendfile and by MSG_ZEROCOPY")
            && measured[0].contains("private network namespace (lo MTU 61512)"),
        "{measured:#?}"
    );
    for s in ["sendfile", "msg-zerocopy"] {
        for r in ["recv", "trunc", "splice", "zerocopy"] {
            let l = pair_line(&measured, &format!("{s} → {r}"));
            assert!(l.contains("receiver sys "), "{l}");
            if r == "trunc" || r == "splice" {
                assert!(l.ends_with("no copy — the data is thrown away."), "{l}");
            }
        }
    }
    assert!(
        pair_line(&measured, "sendfile → recv").contains("the pair the others are compared with")
    );
    let from_sendfile = mapped_of(pair_line(&measured, "sendfile → zerocopy"));
    let from_msg_zc = mapped_of(pair_line(&measured, "msg-zerocopy → zerocopy"));
    assert!(from_sendfile < 5.0, "{measured:#?}");
    assert!(from_msg_zc >= 95.0, "{measured:#?}");
    assert!(
        pair_line(&measured, "msg-zerocopy → zerocopy").contains("the copy moved to the sender"),
        "{measured:#?}"
    );
    // The zerocopy picture (from sendfile) carries that share on its map arrow.
    let zc = text.split("\n── zerocopy").nth(1).unwrap();
    assert!(
        zc.contains(&format!("{from_sendfile:.0}% mapped")) && zc.contains("(sendfile → zerocopy)"),
        "{zc}"
    );
}

/// Without privileges the receive matrix still runs what it can, and says why the zerocopy
/// pairs are n/a, with the fix.
#[test]
fn receive_measure_without_privileges_says_why_zerocopy_is_na() {
    let Some((_bin_dir, b)) = unprivileged() else {
        return;
    };
    let tmp = world_writable_dir();
    let out = run_as_nobody(
        &b,
        &[
            "explain",
            "receive",
            "--measure",
            "--size",
            "4M",
            "--lang",
            "en",
        ],
        tmp.path(),
    );
    assert!(out.success(), "{}", out.dump());
    let measured = bullets(&out.stdout, "Measured here:");
    for s in ["sendfile", "msg-zerocopy"] {
        let na = pair_line(&measured, &format!("{s} → zerocopy"));
        assert!(
            na.contains(": n/a — it needs a private network namespace") && na.contains("root"),
            "{na}"
        );
        for r in ["recv", "trunc", "splice"] {
            assert!(
                pair_line(&measured, &format!("{s} → {r}")).contains("receiver sys "),
                "{measured:#?}"
            );
        }
    }
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "left in TMPDIR"
    );
}

/// `explain kafka` says where the consumer stands: it always copies in recv, through the client
/// classes that read, and Kafka 4.x has no receive-side zero copy.
#[test]
fn kafka_says_the_consumer_always_copies_in_recv() {
    let en = explain(&["kafka", "--lang", "en"]).stdout;
    let consumer = flatten(&bullets(&en, "The consumer's side:").join("\n"));
    for needle in [
        "A Kafka consumer always copies in recv()",
        "NetworkReceive.readFrom → PlaintextTransportLayer.read → SocketChannel.read",
        "MemoryPool.NONE: ByteBuffer.allocate",
        "sun.nio.ch.IOUtil.read",
        "There is no receive-side zero copy in Kafka 4.x",
        "`copylab explain receive`",
    ] {
        assert!(consumer.contains(needle), "{needle}\n{consumer}");
    }
    let sources = bullets(&en, "Sources:");
    for needle in ["NetworkReceive.java", "MemoryPool.java", "IOUtil.java"] {
        assert!(sources.iter().any(|s| s.contains(needle)), "{needle}");
    }
    let zh = explain(&["kafka", "--lang", "zh"]).stdout;
    assert_eq!(bullets(&zh, "消费者这一端：").len(), 3, "{zh}");
    assert_eq!(bullets(&zh, "出处：").len(), sources.len());
}
