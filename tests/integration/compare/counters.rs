//! What the counters report: the syscall shape of each method under perf, the rusage fallback
//! (forced, degraded by a missing tracefs, and for an unprivileged user).

use crate::util::*;

use serde_json::Value;

const SIZE: u64 = (4 << 20) + 123;

fn perf_report(dir: &std::path::Path, transport: &str, runs_n: &str) -> (Value, u64) {
    let file = write_file(dir, "data.bin", SIZE, 42);
    let r = run_json(
        &[
            "compare",
            path_str(&file),
            "--json",
            "--counters",
            "perf",
            "--transport",
            transport,
            "--buffer",
            "128K",
            "--pipe-size",
            "1M",
            "--runs",
            runs_n,
            "--warmup",
            "1",
        ],
        &[],
    );
    assert_eq!(r["counter_source"], "perf", "{r:#}");
    assert_eq!(r["syscall_source"], "perf", "{r:#}");
    assert_eq!(r["perf_software_events"], true);
    assert_all_verified(&r, SIZE, false);
    (r, SIZE)
}

/// perf counts the serving thread only: every self-counted syscall that perf also counts by name
/// matches exactly, and `read` (only the receiver thread reads) is 0 for every method.
fn assert_perf_matches_self_count(r: &Value) {
    for m in r["methods"].as_array().unwrap() {
        let name = m["method"].as_str().unwrap();
        for (i, run) in runs(m).iter().enumerate() {
            assert_eq!(run["syscalls"]["source"], "perf", "{name} run {i}");
            let total = run["syscalls"]["total"]
                .as_u64()
                .unwrap_or_else(|| panic!("{name} run {i}: total must be a number: {run:#}"));
            let by = run["syscalls"]["by_name"].as_object().unwrap();
            assert!(!by.is_empty(), "{name} run {i}: by_name empty");
            for (sc, n) in run["self_counted"].as_object().unwrap() {
                if let Some(v) = by.get(sc) {
                    assert_eq!(
                        v.as_u64(),
                        n.as_u64(),
                        "{name} run {i}: perf by_name.{sc} != self_counted.{sc}: {run:#}"
                    );
                }
            }
            assert_eq!(
                by_name(run, "read"),
                0,
                "{name} run {i}: the server never reads: {run:#}"
            );
            let named_sum: u64 = by.values().filter_map(Value::as_u64).sum();
            assert!(
                total >= named_sum,
                "{name} run {i}: total {total} < sum of named {named_sum}: {run:#}"
            );
        }
    }
}

#[test]
fn perf_syscall_shape_per_method() {
    require!(Need::root("for --counters perf"));
    let dir = tempdir();
    let (r, size) = perf_report(dir.path(), "tcp", "3");
    assert_perf_matches_self_count(&r);

    let buffer = num(&r["options"]["buffer_bytes"], "buffer_bytes");
    assert_eq!(buffer, 128 << 10);
    assert_eq!(
        num(
            &r["options"]["pipe_bytes_requested"],
            "pipe_bytes_requested"
        ),
        1 << 20
    );
    let pipe = num(&r["options"]["pipe_bytes_granted"], "pipe_bytes_granted");
    assert!(pipe >= 4096, "granted pipe {pipe}");

    for run in runs(method(&r, "sendfile")) {
        for zero in ["read", "pread64", "write", "sendto", "splice", "mmap"] {
            assert_eq!(by_name(run, zero), 0, "sendfile: {zero}: {run:#}");
        }
        let n = by_name(run, "sendfile64");
        assert!((1..=4).contains(&n), "sendfile64 = {n}: {run:#}");
        let total = num(&run["syscalls"]["total"], "total");
        assert!(total <= 10, "sendfile total {total}: {run:#}");
    }

    let chunks = size.div_ceil(buffer);
    for run in runs(method(&r, "read-write")) {
        let pread = by_name(run, "pread64");
        let write = by_name(run, "write");
        assert_eq!(pread, chunks, "pread64 == ceil(size/buffer): {run:#}");
        assert!(
            write >= pread && write <= pread + 4,
            "write {write} vs pread64 {pread}: {run:#}"
        );
        assert_eq!(by_name(run, "sendfile64"), 0);
        assert_eq!(by_name(run, "splice"), 0);
        let total = num(&run["syscalls"]["total"], "total");
        assert!(
            total >= pread + write && total <= pread + write + 4,
            "read-write total {total} vs pread64+write {}: {run:#}",
            pread + write
        );
    }

    let pipefuls = size.div_ceil(pipe);
    for run in runs(method(&r, "splice")) {
        let n = by_name(run, "splice");
        assert!(
            n >= 2 * pipefuls && n <= 2 * pipefuls + 6,
            "splice {n} vs 2×ceil(size/pipe) = {}: {run:#}",
            2 * pipefuls
        );
        for zero in ["read", "pread64", "write", "sendfile64", "mmap"] {
            assert_eq!(by_name(run, zero), 0, "splice: {zero}: {run:#}");
        }
    }

    let sendfile_faults = num(
        &method(&r, "sendfile")["median"]["page_faults"]["minor"],
        "minor",
    );
    for run in runs(method(&r, "mmap")) {
        assert_eq!(by_name(run, "mmap"), 1, "{run:#}");
        assert_eq!(by_name(run, "munmap"), 1, "{run:#}");
        let w = by_name(run, "write");
        assert!((1..=4).contains(&w), "mmap writes {w}: {run:#}");
        let minor = num(&run["page_faults"]["minor"], "minor");
        assert!(minor > 0, "mmap must fault pages in: {run:#}");
        assert!(
            minor > sendfile_faults,
            "mmap minor faults {minor} must exceed sendfile's median {sendfile_faults}"
        );
    }
}

/// Same cross-check over a Unix socket.
#[test]
fn perf_counts_only_the_serving_thread_over_unix() {
    require!(Need::root("for --counters perf"));
    let dir = tempdir();
    let (r, _) = perf_report(dir.path(), "unix", "2");
    assert_perf_matches_self_count(&r);
}

/// Checks shared by every rusage-mode report.
fn assert_rusage_report(r: &Value) {
    assert_eq!(r["counter_source"], "rusage", "{r:#}");
    assert_eq!(r["syscall_source"], "self-counted", "{r:#}");
    for m in r["methods"].as_array().unwrap() {
        let name = m["method"].as_str().unwrap();
        for run in runs(m).iter().chain([&m["median"], &m["min"], &m["max"]]) {
            assert!(
                run["syscalls"]["total"].is_null(),
                "{name}: total must be null: {run:#}"
            );
            assert_eq!(run["syscalls"]["source"], "self-counted", "{name}");
            let by = run["syscalls"]["by_name"].as_object().unwrap();
            let sc = run["self_counted"].as_object().unwrap();
            assert_eq!(by, sc, "{name}: by_name must equal self_counted: {run:#}");
            assert!(!by.is_empty(), "{name}: something was self-counted");
            for f in ["voluntary", "involuntary"] {
                num(
                    &run["context_switches"][f],
                    &format!("{name} context_switches.{f}"),
                );
            }
            for f in ["user_ns", "sys_ns"] {
                num(&run["cpu"][f], &format!("{name} cpu.{f}"));
            }
            for f in ["minor", "major"] {
                num(&run["page_faults"][f], &format!("{name} page_faults.{f}"));
            }
        }
    }
}

#[test]
fn forced_rusage_has_null_totals_and_self_counts() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 2 << 20, 7);
    let f = path_str(&file);
    let r = run_json(
        &[
            "compare",
            f,
            "--counters",
            "rusage",
            "--json",
            "--runs",
            "2",
            "--warmup",
            "0",
        ],
        &[],
    );
    assert_rusage_report(&r);
    assert_all_verified(&r, 2 << 20, false);
    assert_eq!(r["perf_software_events"], false);
    for m in r["methods"].as_array().unwrap() {
        let med = &m["median"];
        assert!(med["context_switches"]["perf_total"].is_null());
        assert!(med["cpu"]["task_clock_ns"].is_null());
        assert!(med["page_faults"]["perf_total"].is_null());
        assert!(med["cpu_migrations"].is_null());
    }

    // The table says the same: no total, and the per-name figures are marked self-counted.
    let out = run_ok(
        &[
            "compare",
            f,
            "--counters",
            "rusage",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--color",
            "never",
        ],
        &[],
    );
    assert!(
        out.stdout.contains("n/a"),
        "table must show n/a for totals\n{}",
        out.dump()
    );
    assert!(
        out.stdout.contains("(self-counted)"),
        "table must mark self-counted\n{}",
        out.dump()
    );
}

#[test]
fn missing_tracefs_degrades_to_self_counted_with_a_warning() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 1 << 20, 8);
    let f = path_str(&file);
    let env = [("COPYLAB_TRACEFS", "/nonexistent-dir")];
    let r = run_json(
        &[
            "compare",
            f,
            "--counters",
            "auto",
            "--json",
            "--runs",
            "1",
            "--warmup",
            "0",
        ],
        &env,
    );
    let warnings = r["warnings"].as_array().unwrap();
    assert!(!warnings.is_empty(), "a warning is expected: {r:#}");
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("tracepoint")),
        "a warning must mention tracepoints: {warnings:?}"
    );
    assert_rusage_report(&r);
    assert_all_verified(&r, 1 << 20, false);
    if is_root() {
        // perf itself works: the software events are still counted.
        assert_eq!(r["perf_software_events"], true, "{r:#}");
        for m in r["methods"].as_array().unwrap() {
            for run in runs(m) {
                num(
                    &run["context_switches"]["perf_total"],
                    "perf context switches",
                );
                num(&run["cpu"]["task_clock_ns"], "task clock");
                num(&run["page_faults"]["perf_total"], "perf page faults");
            }
        }
    }

    // --counters perf must refuse to run without tracepoints.
    let out = run(
        &[
            "compare",
            f,
            "--counters",
            "perf",
            "--runs",
            "1",
            "--warmup",
            "0",
        ],
        &env,
    );
    assert_ne!(out.code, Some(0), "{}", out.dump());
    assert_clean_error(&out, &["copylab: --counters perf"]);
}

#[test]
fn unprivileged_user_falls_back_to_rusage() {
    require!(
        Need::tool("setpriv"),
        Need::root("to switch to an unprivileged user")
    );
    let dir = world_readable_dir();
    let bin = copy_bin_to(dir.path());
    let file = write_file(dir.path(), "data.bin", (1 << 20) + 5, 9);
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();

    let out = run_as_nobody(
        &bin,
        &[
            "compare",
            path_str(&file),
            "--json",
            "--runs",
            "1",
            "--warmup",
            "0",
        ],
        dir.path(),
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.dump());
    let r = parse_json(&out);
    assert_rusage_report(&r);
    assert_all_verified(&r, (1 << 20) + 5, false);

    if perf_paranoid().is_some_and(|p| p >= 2) {
        assert_eq!(r["perf_software_events"], false, "{r:#}");
        let warnings: Vec<&str> = r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert!(
            warnings.iter().any(|w| w.contains("perf")
                && w.contains("refused")
                && (w.contains("perf_event_paranoid") || w.contains("root"))),
            "a warning must say perf was refused and how to fix it: {warnings:?}"
        );
    }
}

/// A tracefs that has `raw_syscalls:sys_enter` and nothing else: every data syscall is still
/// counted, because each is that one tracepoint with a filter on the syscall's number (not its
/// own `syscalls:sys_enter_<name>`), and the counts equal what the methods counted themselves.
#[test]
fn one_tracepoint_with_filters_counts_every_named_syscall() {
    require!(Need::root("for syscall tracepoints"));
    let Some(real) = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .map(std::path::Path::new)
        .find(|d| d.join("events/raw_syscalls/sys_enter/id").exists())
    else {
        skip("no readable tracefs");
        return;
    };
    let dir = tempdir();
    let fake = dir.path().join("tracefs");
    let d = fake.join("events/raw_syscalls/sys_enter");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(real.join("events/raw_syscalls/sys_enter/id"), d.join("id")).unwrap();
    let file = write_file(dir.path(), "data.bin", (1 << 20) + 9, 10);
    let r = run_json(
        &[
            "compare",
            path_str(&file),
            "--methods",
            "read-write,mmap,sendfile,splice",
            "--counters",
            "perf",
            "--json",
            "--runs",
            "1",
            "--warmup",
            "0",
        ],
        &[("COPYLAB_TRACEFS", path_str(&fake))],
    );
    assert_eq!(r["syscall_source"], "perf", "{r:#}");
    assert_all_verified(&r, (1 << 20) + 9, false);
    let warnings = r["warnings"].as_array().unwrap();
    assert!(warnings.is_empty(), "nothing is missing: {warnings:?}");
    let shapes = [
        ("read-write", &["pread64", "write"][..]),
        ("mmap", &["mmap", "munmap", "write"][..]),
        ("sendfile", &["sendfile64"][..]),
        ("splice", &["splice"][..]),
    ];
    for (m, names) in shapes {
        for run in runs(method(&r, m)) {
            let total = num(&run["syscalls"]["total"], "total");
            let mut sum = 0;
            for n in names {
                let c = by_name(run, n);
                assert!(c >= 1, "{m}: {n} counted: {run:#}");
                assert_eq!(c, self_counted(run, n), "{m}: {n}: {run:#}");
                sum += c;
            }
            assert!(sum <= total, "{m}: named within the total: {run:#}");
            for other in ["read", "sendto", "vmsplice", "io_uring_enter"] {
                assert_eq!(by_name(run, other), 0, "{m}: no {other}: {run:#}");
            }
        }
    }
}
