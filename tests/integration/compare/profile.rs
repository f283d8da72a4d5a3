//! Where the CPU went, for real: cpu-clock samples of real transfers on both threads, the
//! placement the kernel reports for them, and the honest n/a when samples or symbols are
//! refused.

use crate::util::*;

use serde_json::Value;

const MIB: u64 = 1 << 20;

/// The sampled ns of `category` on `who` (serving or receiver) of a run.
fn ns(run: &Value, who: &str, category: &str) -> u64 {
    num(
        &run["profile"][who]["ns"][category],
        &format!("profile.{who}.ns.{category}"),
    )
}

/// The share of `who`'s samples in the copy category, over all runs of a method.
fn copy_share(m: &Value, who: &str) -> f64 {
    let (mut copy, mut all) = (0u64, 0u64);
    for run in runs(m) {
        copy += ns(run, who, "copy");
        all += run["profile"][who]["ns"]
            .as_object()
            .expect("ns is an object")
            .values()
            .map(|v| v.as_u64().expect("ns are integers"))
            .sum::<u64>();
    }
    assert!(all > 0, "no samples at all: {m:#}");
    copy as f64 / all as f64
}

fn allowed_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The lesson, measured: sendfile's and splice's serving threads copy (almost) nothing where
/// read-write's copies a large share of its CPU, and every path's receiver still copies.
#[test]
fn sendfile_and_splice_serving_threads_copy_less_than_read_write() {
    require!(Need::root("to sample the kernel"));
    let r = run_json(
        &[
            "compare",
            "--size",
            "64M",
            "--methods",
            "all",
            "--runs",
            "3",
            "--warmup",
            "1",
            "--json",
        ],
        &[],
    );
    assert_all_verified(&r, 64 * MIB, false);
    let rw = copy_share(method(&r, "read-write"), "serving");
    assert!(rw > 0.15, "read-write's serving thread copies: {rw:.2}");
    for m in ["sendfile", "splice"] {
        let share = copy_share(method(&r, m), "serving");
        assert!(
            share < rw / 2.0,
            "{m}: serving copy share {share:.2} must be well below read-write's {rw:.2}"
        );
    }
    for m in ALL_METHODS {
        let mr = method(&r, m);
        for run in runs(mr) {
            let p = &run["profile"];
            for who in ["serving", "receiver"] {
                let t = &p[who];
                let samples = num(&t["samples"], "samples");
                let period = num(&t["period_ns"], "period_ns");
                let sum: u64 = t["ns"]
                    .as_object()
                    .unwrap()
                    .values()
                    .map(|v| v.as_u64().unwrap())
                    .sum();
                assert_eq!(sum, samples * period, "{m} {who}: ns add up: {t:#}");
            }
        }
        let copied: u64 = runs(mr).iter().map(|run| ns(run, "receiver", "copy")).sum();
        assert!(
            copied > 0,
            "{m}: the receiver copies what it receives: {mr:#}"
        );
    }
}

/// Each thread ran where it was pinned, by the kernel's own word: every sample of the serving
/// thread was taken on its CPU, every sample of the receiver on its.
#[test]
fn each_thread_runs_where_it_was_pinned() {
    require!(Need::root("to sample the kernel"));
    let pairs: &[(u64, u64)] = if allowed_cpus() >= 2 {
        &[(1, 0), (0, 0)]
    } else {
        &[(0, 0)]
    };
    for &(s, rc) in pairs {
        let cpus = format!("{s},{rc}");
        let r = run_json(
            &[
                "compare",
                "--size",
                "64M",
                "--methods",
                "read-write,sendfile",
                "--runs",
                "2",
                "--warmup",
                "0",
                "--cpus",
                &cpus,
                "--json",
            ],
            &[],
        );
        for m in ["read-write", "sendfile"] {
            let mut sampled = [0u64; 2];
            for run in runs(method(&r, m)) {
                assert_eq!(run["placement"]["serving_cpu"], s, "{run:#}");
                assert_eq!(run["placement"]["receiver_cpu"], rc, "{run:#}");
                for (i, (who, cpu)) in [("serving", s), ("receiver", rc)].into_iter().enumerate() {
                    let seen = run["profile"][who]["cpus"].as_object().unwrap();
                    sampled[i] += seen.values().map(|v| v.as_u64().unwrap()).sum::<u64>();
                    assert!(
                        seen.keys().all(|k| k == &cpu.to_string()),
                        "--cpus {cpus}: {m} {who} ran only on CPU {cpu}: {seen:?}"
                    );
                }
            }
            assert!(
                sampled.iter().all(|n| *n > 0),
                "{m}: both threads sampled: {sampled:?}"
            );
        }
    }

    // --cpus any pins nothing, and says so.
    let r = run_json(
        &[
            "compare",
            "--size",
            "1M",
            "--methods",
            "sendfile",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--cpus",
            "any",
            "--json",
        ],
        &[],
    );
    let run = &runs(method(&r, "sendfile"))[0];
    assert!(run["placement"]["serving_cpu"].is_null(), "{run:#}");
    assert!(run["placement"]["receiver_cpu"].is_null(), "{run:#}");
}

/// Bad --cpus values are clap errors naming the flag (exit 2); a CPU the process may not use
/// is one clear line (exit 1).
#[test]
fn bad_cpus_are_refused() {
    for bad in ["0", "x,1", "1,", "1,y"] {
        let out = run(&["compare", "--size", "1M", "--cpus", bad], &[]);
        assert_eq!(out.code, Some(2), "--cpus {bad}\n{}", out.dump());
        assert!(out.stderr.contains("--cpus"), "{}", out.dump());
    }
    let out = run(&["compare", "--size", "1M", "--cpus", "0,4095"], &[]);
    assert_clean_error(&out, &["--cpus", "CPU 4095", "allowed"]);
    // serve's worker pinning has a name of its own (--cpus, compare's S,R, is its alias).
    for flag in ["--worker-cpus", "--cpus"] {
        let out = run(&["serve", "/etc/hostname", flag, "4095"], &[]);
        assert_clean_error(&out, &["--worker-cpus", "CPU 4095"]);
    }
}

/// Unprivileged: perf refuses sampling; the profile is null with a warning saying why and how
/// to fix it, the copies column says n/a, and everything else is measured as before.
#[test]
fn unprivileged_profile_is_null_with_the_reason() {
    require!(
        Need::tool("setpriv"),
        Need::root("to drop privileges"),
        Need::perf_closed_to_users()
    );
    let dir = world_readable_dir();
    let bin = copy_bin_to(dir.path());
    let tmp = world_writable_dir();
    let args = [
        "compare",
        "--size",
        "2M",
        "--methods",
        "read-write,sendfile",
        "--runs",
        "1",
        "--warmup",
        "0",
    ];
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = run_as_nobody(&bin, &json_args, tmp.path());
    let r = parse_json(&out);
    assert_all_verified(&r, 2 * MIB, false);
    for m in ["read-write", "sendfile"] {
        let run = &runs(method(&r, m))[0];
        assert!(run["profile"].is_null(), "{m}: {run:#}");
        assert!(run["cpu"]["sys_ns"].is_u64(), "{m}: CPU still measured");
        assert!(
            run["receiver"]["cpu"]["sys_ns"].is_u64(),
            "{m}: receiver too"
        );
    }
    let w: Vec<&str> = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.starts_with("no CPU profile"))
        .collect();
    assert_eq!(w.len(), 1, "one profile warning: {:#}", r["warnings"]);
    assert!(w[0].contains("Fix:"), "{}", w[0]);

    let out = run_as_nobody(&bin, &args, tmp.path());
    assert!(out.success(), "{}", out.dump());
    assert!(
        out.stdout.contains("n/a"),
        "copies column n/a\n{}",
        out.dump()
    );
    assert!(
        !out.stdout.contains("where the CPU went, ms per GiB"),
        "no view without a profile\n{}",
        out.dump()
    );
}

/// Kernel symbols unreadable or hidden (kptr_restrict shows zero addresses): n/a with the fix,
/// simulated with COPYLAB_KALLSYMS.
#[test]
fn hidden_kernel_symbols_give_na_with_the_fix() {
    require!(Need::root("to sample the kernel"));
    let dir = tempdir();
    let zeroed = dir.path().join("kallsyms");
    let real = std::fs::read_to_string("/proc/kallsyms").expect("read /proc/kallsyms as root");
    let text: String = real
        .lines()
        .take(5000)
        .map(|l| {
            let rest = l.split_once(' ').map_or("", |(_, r)| r);
            format!("0000000000000000 {rest}\n")
        })
        .collect();
    std::fs::write(&zeroed, text).unwrap();
    let missing = dir.path().join("missing");
    for (path, needle) in [
        (path_str(&zeroed), "zero addresses"),
        (path_str(&missing), "unreadable"),
    ] {
        let r = run_json(
            &[
                "compare",
                "--size",
                "1M",
                "--methods",
                "sendfile",
                "--runs",
                "1",
                "--warmup",
                "0",
                "--json",
            ],
            &[("COPYLAB_KALLSYMS", path)],
        );
        let run = &runs(method(&r, "sendfile"))[0];
        assert!(run["profile"].is_null(), "{run:#}");
        assert!(run["syscalls"]["total"].is_u64(), "the counters still work");
        let w: Vec<&str> = r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w.as_str())
            .collect();
        assert!(
            w.iter().any(|w| w.starts_with("no CPU profile")
                && w.contains(needle)
                && w.contains("Fix:")),
            "{path}: {w:?}"
        );
    }
}

/// The table shows the measured copies and the view when the profile is there.
#[test]
fn table_shows_copies_verdicts_and_the_view() {
    require!(Need::root("to sample the kernel"));
    let out = run_ok(
        &[
            "compare", "--size", "8M", "--runs", "2", "--warmup", "0", "--color", "never",
        ],
        &[],
    );
    let t = &out.stdout;
    for needle in [
        "copy ms/GiB",
        "serving | recv",
        "placement: serving thread pinned to CPU",
        "copies, measured",
        "where the CPU went",
    ] {
        assert!(t.contains(needle), "{needle:?} missing\n{}", out.dump());
    }
    let verdict = t
        .lines()
        .find(|l| l.trim_start().starts_with("sendfile ") && l.contains("serving thread:"))
        .unwrap_or_else(|| panic!("a sendfile verdict\n{}", out.dump()));
    assert!(verdict.contains("textbook"), "{verdict}");
}

/// A method's pooled profile: `who`'s samples and ns of `category` over all its runs.
fn pooled<'a>(m: &'a Value, who: &str) -> &'a Value {
    &m["profile"][who]
}

/// On loopback the kernel copies MSG_ZEROCOPY's pages in the receive path, in softirq on the
/// sender's CPU inside its own send call: the serving thread's copy share shows it (as copy,
/// most of it in softirq), well above sendfile's, whose serving thread copies nothing.
#[test]
fn msg_zerocopy_serving_thread_copies_in_softirq_on_loopback() {
    require!(Need::root("to sample the kernel"));
    let r = run_json(
        &[
            "compare",
            "--size",
            "64M",
            "--methods",
            "sendfile,msg-zerocopy",
            "--runs",
            "3",
            "--json",
        ],
        &[],
    );
    assert_all_verified(&r, 64 * MIB, false);
    let zc = method(&r, "msg-zerocopy");
    let sf = method(&r, "sendfile");
    let (zc_share, sf_share) = (copy_share(zc, "serving"), copy_share(sf, "serving"));
    assert!(
        zc_share > 2.0 * sf_share + 0.05,
        "msg-zerocopy's serving copy share {zc_share:.2} must be well above sendfile's {sf_share:.2}"
    );
    let p = pooled(zc, "serving");
    let copy = num(&p["ns"]["copy"], "pooled copy");
    let in_softirq = num(&p["copy_in_softirq_ns"], "copy_in_softirq_ns");
    assert!(
        in_softirq * 2 >= copy && in_softirq <= copy,
        "most of msg-zerocopy's serving copy ran in softirq: {in_softirq} of {copy} ns: {p:#}"
    );
    assert!(
        num(&p["softirq_context_ns"], "softirq_context_ns") >= in_softirq,
        "softirq context includes its copies: {p:#}"
    );
}

/// The user/sys split of a short window comes from the samples' CPU mode when there are
/// enough of them, applied to getrusage's precise total: read-write's receiver copies every
/// byte in recv, so its sys time cannot read zero, whatever ticks fell where.
#[test]
fn user_and_sys_are_split_by_samples_where_there_are_enough() {
    require!(Need::root("to sample the kernel"));
    let r = run_json(
        &[
            "compare",
            "--size",
            "64M",
            "--methods",
            "read-write",
            "--runs",
            "3",
            "--json",
        ],
        &[],
    );
    let mut sampled = 0;
    for run in runs(method(&r, "read-write")) {
        for cpu in [&run["cpu"], &run["receiver"]["cpu"]] {
            let total = num(&cpu["user_ns"], "user_ns") + num(&cpu["sys_ns"], "sys_ns");
            let rusage = num(&cpu["rusage_user_ns"], "rusage_user_ns")
                + num(&cpu["rusage_sys_ns"], "rusage_sys_ns");
            assert_eq!(total, rusage, "the split keeps getrusage's total: {cpu:#}");
            match cpu["split"].as_str() {
                Some("samples") => sampled += 1,
                Some("ticks") => {}
                other => panic!("split {other:?}: {cpu:#}"),
            }
        }
        let rcv = &run["receiver"]["cpu"];
        if rcv["split"] == "samples" {
            assert!(
                num(&rcv["sys_ns"], "receiver sys_ns") > 0,
                "the receiver copies in recv: {rcv:#}"
            );
        }
    }
    assert!(
        sampled > 0,
        "some thread had enough samples to split by: {r:#}"
    );
}

/// copylab chooses the sampling period after the first round: every later run uses the same
/// one, inside the documented bounds, and the pooled profile is the sum of the runs.
#[test]
fn the_sampling_period_is_chosen_once_and_the_runs_are_pooled() {
    require!(Need::root("to sample the kernel"));
    let r = run_json(
        &[
            "compare",
            "--size",
            "16M",
            "--methods",
            "read-write,sendfile",
            "--runs",
            "3",
            "--json",
        ],
        &[],
    );
    let mut periods = std::collections::BTreeSet::new();
    for m in ["read-write", "sendfile"] {
        let mr = method(&r, m);
        for who in ["serving", "receiver"] {
            let mut samples = 0;
            for run in runs(mr) {
                let t = &run["profile"][who];
                periods.insert(num(&t["period_ns"], "period_ns"));
                samples += num(&t["samples"], "samples");
            }
            let p = pooled(mr, who);
            assert_eq!(
                num(&p["samples"], "pooled samples"),
                samples,
                "{m} {who}: {p:#}"
            );
            assert_eq!(num(&p["bytes"], "pooled bytes"), 3 * 16 * MIB, "{m} {who}");
            let want = match samples {
                0..20 => "too-few",
                20..200 => "few",
                _ => "enough",
            };
            assert_eq!(p["precision"], want, "{m} {who}: {p:#}");
        }
    }
    // The warm-up round samples at a period guessed from the size; the measured runs all at
    // the one chosen from what the warm-up measured.
    assert_eq!(
        periods.len(),
        1,
        "one period for every measured run: {periods:?}"
    );
    let p = *periods.iter().next().unwrap();
    assert!((500_000..=4_000_000).contains(&p), "period {p} ns");
}

/// A file below one socket buffer: one warning says what the figures mean, and the profile
/// figures are n/a rather than a sample multiplied a million-fold.
#[test]
fn a_tiny_file_gets_a_warning_and_no_profile_figures() {
    require!(Need::root("to sample the kernel"));
    let out = run_ok(
        &["compare", "--size", "32", "--runs", "2", "--color", "never"],
        &[],
    );
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .chain(out.stdout.lines())
        .filter(|l| l.contains("smaller than one socket buffer"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning\n{}", out.dump());
    assert!(
        !out.stdout.contains("ms/GiB ("),
        "no copy figure from a handful of samples\n{}",
        out.dump()
    );
    let r = run_json(&["compare", "--size", "32", "--runs", "2", "--json"], &[]);
    for m in r["methods"].as_array().unwrap() {
        for who in ["serving", "receiver"] {
            assert_eq!(pooled(m, who)["precision"], "too-few", "{m:#}");
        }
    }
}
