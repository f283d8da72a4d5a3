//! `copylab doctor`: its checks and column verdicts as root, without privileges and without
//! tracefs, each time cross-checked against what `compare` then really does, and its file check.

use crate::util::*;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A small compare whose counter source is what doctor must have predicted.
const COMPARE: [&str; 10] = [
    "compare",
    "--size",
    "64K",
    "--runs",
    "1",
    "--warmup",
    "0",
    "--methods",
    "sendfile",
    "--json",
];

/// Parse doctor's JSON (it has no schema field) whatever its exit code, and check its shape and
/// that the exit code says what full_table says.
fn diagnosis(out: &Out) -> Value {
    assert!(!out.stderr.contains("panicked"), "panic\n{}", out.dump());
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json is not JSON ({e})\n{}", out.dump()));
    let full = v["full_table"]
        .as_bool()
        .unwrap_or_else(|| panic!("full_table not a bool\n{}", out.dump()));
    assert_eq!(
        out.code,
        Some(if full { 0 } else { 1 }),
        "exit code must follow full_table\n{}",
        out.dump()
    );
    for c in v["checks"].as_array().expect("checks is an array") {
        let level = c["level"].as_str().expect("level is a string");
        assert!(
            ["ok", "limited", "missing"].contains(&level),
            "level {level}\n{c:#}"
        );
        assert!(c["name"].is_string() && c["found"].is_string(), "{c:#}");
        if level == "ok" {
            assert!(c["fix"].is_null(), "an ok check has no fix: {c:#}");
        }
    }
    for c in v["columns"].as_array().expect("columns is an array") {
        let verdict = c["verdict"].as_str().expect("verdict is a string");
        assert!(
            ["real", "self-counted", "n/a"].contains(&verdict),
            "verdict {verdict}\n{c:#}"
        );
    }
    v
}

fn check<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name:?}: {d:#}"))
}

fn level<'a>(d: &'a Value, name: &str) -> &'a str {
    check(d, name)["level"].as_str().unwrap()
}

fn column<'a>(d: &'a Value, name: &str) -> &'a str {
    d["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == name)
        .unwrap_or_else(|| panic!("no column {name:?}: {d:#}"))["verdict"]
        .as_str()
        .unwrap()
}

/// Doctor's verdict and compare's report agree: same counter source, and the syscall columns
/// say what compare's syscall source is.
fn assert_agrees(d: &Value, report: &Value) {
    assert_eq!(
        d["counter_source"], report["counter_source"],
        "doctor predicted another counter source than compare used\ndoctor: {d:#}\ncompare warnings: {}",
        report["warnings"]
    );
    let (total, data) = match report["syscall_source"].as_str() {
        Some("perf") => ("real", "real"),
        Some("self-counted") => ("n/a", "self-counted"),
        other => panic!("unexpected syscall_source {other:?}"),
    };
    assert_eq!(column(d, "syscalls (total)"), total, "{d:#}");
    assert_eq!(column(d, "data syscalls"), data, "{d:#}");
}

#[test]
fn root_gets_the_full_table() {
    require!(Need::root("for the full table"));
    let d = diagnosis(&run(&["doctor", "--json"], &[]));
    assert_eq!(d["full_table"], true, "{d:#}");
    assert_eq!(d["counter_source"], "perf", "{d:#}");
    for name in [
        "privileges",
        "perf_event_open",
        "tracefs",
        "syscall counters",
    ] {
        assert_eq!(level(&d, name), "ok", "{name}: {d:#}");
    }
    assert_eq!(check(&d, "privileges")["found"], "root", "{d:#}");
    assert_eq!(level(&d, "pacing"), "ok", "{d:#}");
    // Made for real (a private namespace and a veth pair in it), where iproute2 is installed.
    if std::path::Path::new("/usr/sbin/ip").exists() || std::path::Path::new("/sbin/ip").exists() {
        assert_eq!(level(&d, "network namespaces"), "ok", "{d:#}");
    }
    assert_eq!(column(&d, "syscalls (total)"), "real");
    assert_eq!(column(&d, "data syscalls"), "real");

    // One line per check: laid out wide enough that none is wrapped.
    let text = run(&["doctor"], &[("COLUMNS", "1000")]);
    assert_eq!(text.code, Some(0), "{}", text.dump());
    assert!(
        text.stdout
            .contains("verdict: the full table is available (counters: perf)"),
        "{}",
        text.dump()
    );
    assert!(text.stdout.contains("compare's columns on this machine:"));
    // Text and JSON show the same checks.
    for c in d["checks"].as_array().unwrap() {
        let line = format!(
            "{:<8} {:<19} {}",
            c["level"].as_str().unwrap(),
            c["name"].as_str().unwrap(),
            c["found"].as_str().unwrap()
        );
        assert!(
            text.stdout.lines().any(|l| l == line),
            "{line:?} not in\n{}",
            text.stdout
        );
    }

    let report = run_json(&COMPARE, &[]);
    assert_agrees(&d, &report);
}

#[test]
fn unprivileged_user_is_told_the_fixes() {
    require!(
        Need::tool("setpriv"),
        Need::root("to drop privileges"),
        Need::perf_closed_to_users()
    );
    let bin_dir = world_readable_dir();
    let b = copy_bin_to(bin_dir.path());
    let tmp = world_writable_dir();

    let out = run_as_nobody(&b, &["doctor", "--json"], tmp.path());
    assert_eq!(out.code, Some(1), "{}", out.dump());
    let d = diagnosis(&out);
    assert_eq!(d["full_table"], false, "{d:#}");
    assert_eq!(d["counter_source"], "rusage", "{d:#}");
    assert_eq!(level(&d, "privileges"), "limited", "{d:#}");
    assert_eq!(level(&d, "perf_event_open"), "missing", "{d:#}");
    let fix = check(&d, "perf_event_open")["fix"]
        .as_str()
        .unwrap_or_else(|| panic!("perf_event_open has no fix: {d:#}"));
    assert!(
        fix.contains("perf_event_paranoid") || fix.contains("root"),
        "fix: {fix}"
    );
    assert_ne!(level(&d, "tracefs"), "ok", "{d:#}");
    assert!(check(&d, "tracefs")["fix"].is_string(), "{d:#}");
    assert_eq!(level(&d, "syscall counters"), "missing", "{d:#}");
    assert_eq!(column(&d, "syscalls (total)"), "n/a", "{d:#}");
    assert_eq!(column(&d, "data syscalls"), "self-counted", "{d:#}");
    // Pacing needs no privilege; namespaces do, and the fix says how.
    assert_eq!(level(&d, "pacing"), "ok", "{d:#}");
    assert_eq!(level(&d, "network namespaces"), "limited", "{d:#}");
    let fix = check(&d, "network namespaces")["fix"]
        .as_str()
        .unwrap_or("");
    assert!(fix.contains("root") && fix.contains("sudo"), "fix: {fix}");

    let text = run_as_nobody(&b, &["doctor"], tmp.path());
    assert_eq!(text.code, Some(1), "{}", text.dump());
    assert!(
        text.stdout
            .contains("verdict: compare will run with counters: rusage"),
        "{}",
        text.dump()
    );
    assert!(text.stdout.contains("fix: "), "{}", text.dump());

    let out = run_as_nobody(&b, &COMPARE, tmp.path());
    let report = parse_json(&out);
    assert_agrees(&d, &report);
}

#[test]
fn missing_tracefs_falls_back_to_rusage() {
    require!(Need::root(
        "(without it perf is refused before tracefs matters)"
    ));
    let env = [("COPYLAB_TRACEFS", "/nonexistent")];
    let d = diagnosis(&run(&["doctor", "--json"], &env));
    assert_eq!(d["full_table"], false, "{d:#}");
    assert_eq!(d["counter_source"], "rusage", "{d:#}");
    assert_eq!(level(&d, "tracefs"), "missing", "{d:#}");
    assert!(
        check(&d, "tracefs")["found"]
            .as_str()
            .unwrap()
            .contains("/nonexistent"),
        "{d:#}"
    );
    assert_eq!(level(&d, "syscall counters"), "missing", "{d:#}");
    // perf itself still works: only the syscall columns are lost.
    assert_eq!(level(&d, "perf_event_open"), "ok", "{d:#}");
    assert_eq!(
        column(&d, "perf task-clock, context-switches, page-faults (JSON)"),
        "real"
    );

    let report = run_json(&COMPARE, &env);
    assert_agrees(&d, &report);
}

/// The "file" check of `doctor PATH --json`.
fn file_check(path: &Path) -> Value {
    let d = diagnosis(&run(&["doctor", path_str(path), "--json"], &[]));
    check(&d, "file").clone()
}

#[test]
fn file_check_probes_sendfile_and_splice() {
    let dir = tempdir();
    let f = write_file(dir.path(), "data.bin", 64 << 10, 7);
    let c = file_check(&f);
    assert_eq!(c["level"], "ok", "{c:#}");
    let found = c["found"].as_str().unwrap();
    for needle in ["sendfile", "splice", path_str(&f)] {
        assert!(found.contains(needle), "{needle:?} not in {found:?}");
    }

    // The text form says the same.
    let out = run(&["doctor", path_str(&f)], &[("COLUMNS", "1000")]);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("ok       file ") && l.contains("sendfile and splice")),
        "{}",
        out.dump()
    );

    // A kernel pseudo-file, a directory and a missing path are not servable.
    for p in [
        PathBuf::from("/proc/self/status"),
        dir.path().to_path_buf(),
        dir.path().join("nosuch"),
    ] {
        let c = file_check(&p);
        assert_eq!(c["level"], "missing", "{}: {c:#}", p.display());
        assert!(c["fix"].is_string(), "{c:#}");
    }

    // Without a FILE there is no file check.
    let d = diagnosis(&run(&["doctor", "--json"], &[]));
    assert!(
        d["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "file"),
        "{d:#}"
    );
}
