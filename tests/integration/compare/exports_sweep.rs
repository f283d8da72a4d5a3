//! Exports (JSON, CSV, Markdown) read back against the table's figures, `sweep` across sizes,
//! and cold vs warm page cache.

use crate::util::*;

use serde_json::Value;

fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let head: Vec<String> = lines
        .next()
        .expect("CSV header")
        .split(',')
        .map(String::from)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect::<Vec<_>>())
        .collect();
    (head, rows)
}

fn col(head: &[String], name: &str) -> usize {
    head.iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no CSV column {name}: {head:?}"))
}

#[test]
fn exports_round_trip_against_the_json() {
    let dir = tempdir();
    let size = (4 << 20) + 11;
    let file = write_file(dir.path(), "data.bin", size, 51);
    let (j, c, m) = (
        dir.path().join("r.json"),
        dir.path().join("r.csv"),
        dir.path().join("r.md"),
    );
    let r = run_json(
        &[
            "compare",
            path_str(&file),
            "--methods",
            "all",
            "--runs",
            "2",
            "--warmup",
            "0",
            "--json",
            "--export-json",
            path_str(&j),
            "--export-csv",
            path_str(&c),
            "--export-markdown",
            path_str(&m),
        ],
        &[],
    );
    // The JSON export is the --json report.
    let exported: Value =
        serde_json::from_str(&std::fs::read_to_string(&j).expect("json export")).expect("JSON");
    assert_eq!(exported["schema"], 1);
    assert_eq!(exported["methods"], r["methods"]);
    assert!(
        exported["machine"]["cores"].as_u64().unwrap_or(0) >= 1,
        "{}",
        exported["machine"]
    );
    // Every CSV row is one run of the JSON, figure for figure.
    let (head, rows) = csv_rows(&std::fs::read_to_string(&c).expect("csv export"));
    assert_eq!(rows.len(), ALL_METHODS.len() * 2, "one row per run");
    for row in &rows {
        assert_eq!(row.len(), head.len(), "{row:?}");
        let method = &row[col(&head, "method")];
        let i: usize = row[col(&head, "run")].parse().expect("run");
        let run = &runs(crate::util::method(&r, method))[i - 1];
        assert_eq!(row[col(&head, "bytes")], size.to_string());
        assert_eq!(row[col(&head, "wall_ns")], run["wall_ns"].to_string());
        assert_eq!(row[col(&head, "sys_ns")], run["cpu"]["sys_ns"].to_string());
        let total = &row[col(&head, "syscalls_total")];
        match run["syscalls"]["total"].as_u64() {
            Some(t) => assert_eq!(total, &t.to_string()),
            None => assert_eq!(total, "", "null is an empty cell, never 0"),
        }
        for name in [
            "pread64",
            "write",
            "sendfile64",
            "splice",
            "mmap",
            "vmsplice",
            "recvmsg",
            "io_uring_enter",
        ] {
            let cell = &row[col(&head, &format!("syscalls_{name}"))];
            match run["syscalls"]["by_name"][name].as_u64() {
                Some(n) => assert_eq!(cell, &n.to_string(), "{method} {name}"),
                None => assert_eq!(cell, "", "{method} {name}"),
            }
        }
        for (column, value) in [
            ("zerocopy_sends", &run["zerocopy"]["sends"]),
            ("zerocopy_completed", &run["zerocopy"]["completed"]),
            ("zerocopy_copied", &run["zerocopy"]["copied"]),
            ("io_workers_cpu_ns", &run["io_workers"]["cpu_ns"]),
        ] {
            let cell = &row[col(&head, column)];
            match value.as_u64() {
                Some(n) => assert_eq!(cell, &n.to_string(), "{method} {column}"),
                None => assert_eq!(cell, "", "{method} {column}: not this path"),
            }
        }
    }
    // The Markdown renders as a table: a header row, a separator, one row per method.
    let md = std::fs::read_to_string(&m).expect("markdown export");
    let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(table.len(), 2 + ALL_METHODS.len(), "{md}");
    assert!(table[1].starts_with("|---"), "{md}");
    let cells = table[0].matches('|').count();
    assert!(
        table.iter().all(|l| l.matches('|').count() == cells),
        "{md}"
    );
    for name in ALL_METHODS {
        let med = &method(&r, name)["median"];
        let row = table
            .iter()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("no row for {name}\n{md}"));
        let tput = format!("| {:.0} |", med["throughput_mib_s"].as_f64().unwrap());
        assert!(row.contains(&tput), "{row} lacks {tput}");
    }
}

#[test]
fn a_bad_export_path_fails_before_any_run() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 1 << 20, 52);
    let bad = dir.path().join("no/such/dir/r.csv");
    let out = run(
        &["compare", path_str(&file), "--export-csv", path_str(&bad)],
        &[],
    );
    assert_clean_error(&out, &["--export-csv", "cannot create"]);
}

#[test]
fn export_to_stdout_replaces_the_table() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 1 << 20, 53);
    let out = run_ok(
        &[
            "compare",
            path_str(&file),
            "--runs",
            "1",
            "--warmup",
            "0",
            "--export-csv",
            "-",
        ],
        &[],
    );
    let (head, rows) = csv_rows(&out.stdout);
    assert_eq!(head[0], "method", "{}", out.stdout);
    assert_eq!(rows.len(), 4, "{}", out.stdout);
}

#[test]
fn sweep_five_sizes_json_and_chart() {
    let sizes = ["4K", "64K", "1M", "4M", "8M"];
    let r = run_json(
        &[
            "sweep",
            "--sizes",
            &sizes.join(","),
            "--runs",
            "1",
            "--warmup",
            "0",
            "--json",
        ],
        &[],
    );
    assert_eq!(r["kind"], "sweep");
    let points = r["points"].as_array().expect("points");
    assert_eq!(points.len(), 5);
    let want: Vec<u64> = vec![4 << 10, 64 << 10, 1 << 20, 4 << 20, 8 << 20];
    let got: Vec<u64> = points
        .iter()
        .map(|p| p["file_bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(got, want);
    for p in points {
        assert_all_verified(&p["report"], p["file_bytes"].as_u64().unwrap(), false);
    }
    let series = r["series"].as_array().expect("series");
    assert_eq!(series.len(), 4);
    for s in series {
        assert_eq!(s["points"].as_array().unwrap().len(), 5, "{s}");
    }
    // Scaling the class should see: sendfile's syscalls per MiB fall with size, read-write's do
    // not (one pread64 + one write per 128 KiB).
    if r["points"][0]["report"]["syscall_source"] == "perf" {
        let per_mib = |name: &str, i: usize| {
            series.iter().find(|s| s["name"] == name).unwrap()["points"][i]["syscalls_per_mib"]
                .as_f64()
                .unwrap()
        };
        assert!(per_mib("sendfile", 4) < per_mib("sendfile", 0));
        assert_eq!(per_mib("read-write", 4), 16.0);
    }
    // The text form: a chart line per series and size, then the table.
    let out = run_ok(
        &[
            "sweep", "--sizes", "4K,1M", "--runs", "1", "--warmup", "0", "--color", "never",
        ],
        &[],
    );
    assert!(out.stdout.contains("copylab sweep"), "{}", out.stdout);
    assert!(out.stdout.contains("syscalls per MiB"), "{}", out.stdout);
    assert!(out.stdout.contains('█'), "{}", out.stdout);
}

#[test]
fn sweep_buffers_make_read_write_series() {
    let r = run_json(
        &[
            "sweep",
            "--sizes",
            "1M",
            "--buffers",
            "4K,64K",
            "--methods",
            "read-write,sendfile",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--json",
        ],
        &[],
    );
    let names: Vec<&str> = r["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["read-write@4 KiB", "sendfile", "read-write@64 KiB"]);
    if r["points"][0]["report"]["syscall_source"] == "perf" {
        let rw4 = &r["points"][0]["report"]["methods"][0]["median"];
        assert_eq!(rw4["syscalls"]["by_name"]["pread64"].as_u64(), Some(256));
    }
}

#[test]
fn cold_cache_drops_pages_and_shows_major_faults() {
    // Not /tmp: on a tmpfs the file's pages are the file, and no drop can evict them.
    let dir = disk_dir();
    require!(Need::that(
        !in_memory_fs(dir.path()),
        "the build directory is on a tmpfs; pages cannot be dropped there"
    ));
    let size = 16 << 20;
    let file = write_file(dir.path(), "data.bin", size, 54);
    let args = |cache: &'static str| {
        vec![
            "compare".to_string(),
            path_str(&file).to_string(),
            "--methods".into(),
            "mmap,read-write".into(),
            "--runs".into(),
            "2".into(),
            "--warmup".into(),
            "0".into(),
            "--cache".into(),
            cache.into(),
            "--json".into(),
        ]
    };
    let cold_args = args("cold");
    let cold = run_json(
        &cold_args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    );
    let warm_args = args("warm");
    let warm = run_json(
        &warm_args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(cold["cache"]["mode"], "cold");
    // mincore proved the drop: (almost) nothing stayed cached.
    let left = cold["cache"]["resident_after_drop_max_pct"]
        .as_f64()
        .expect("residency after the drop");
    assert!(left < 5.0, "{}", cold["cache"]);
    assert_eq!(cold["cache"]["state"], "cold");
    assert_eq!(warm["cache"]["state"], "warm", "{}", warm["cache"]);
    // Cold mmap reads the disk through page faults: major faults; warm has none.
    let major = |r: &Value| {
        runs(method(r, "mmap"))
            .iter()
            .map(|run| run["page_faults"]["major"].as_u64().unwrap())
            .min()
            .unwrap()
    };
    assert!(
        major(&cold) > 0,
        "cold mmap: {}",
        method(&cold, "mmap")["runs"]
    );
    assert_eq!(
        major(&warm),
        0,
        "warm mmap: {}",
        method(&warm, "mmap")["runs"]
    );
}

/// Zeros that would mean "not measured" are printed as such: an empty file has no rate and no
/// CPU per GiB, and a 1-byte file's rate is not rounded to "0 MiB/s".
#[test]
fn empty_and_one_byte_sizes_print_no_false_zeros() {
    let sweep = |last: &[&str]| {
        let mut args = vec![
            "sweep",
            "--sizes",
            "0,1",
            "--methods",
            "sendfile",
            "--runs",
            "1",
            "--warmup",
            "0",
        ];
        args.extend_from_slice(last);
        run_ok(&args, &[])
    };
    let out = sweep(&["--color", "never"]);
    let t = &out.stdout;
    assert!(!t.contains("bars scaled to 0 MiB/s"), "{t}");
    assert!(
        t.contains("n/a (empty file)"),
        "empty file's CPU per GiB is n/a\n{t}"
    );
    let one_byte = t
        .lines()
        .find(|l| l.contains("1 B") && l.contains("sendfile"))
        .unwrap_or_else(|| panic!("a row for the 1-byte file\n{t}"));
    assert!(
        !one_byte.contains("┆ 0 ") && !one_byte.contains("| 0 |"),
        "a 1-byte rate is not 0: {one_byte}"
    );
    let json = sweep(&["--json"]);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    let pts = v["series"][0]["points"].as_array().unwrap();
    assert!(pts[0]["throughput_mib_s"].is_null(), "{:#}", pts[0]);
    assert!(pts[0]["cpu_ns_per_gib"].is_null(), "{:#}", pts[0]);
    assert!(
        pts[1]["throughput_mib_s"].as_f64().unwrap() > 0.0,
        "{:#}",
        pts[1]
    );
}

/// The exports carry the lesson like the table: copy ms/GiB on both ends, CPU per GiB (sys and
/// end to end) with the runs' range, and the ratio to read-write.
#[test]
fn exports_carry_copies_cpu_per_gib_and_ranges() {
    let dir = tempdir();
    let (c, m) = (dir.path().join("r.csv"), dir.path().join("r.md"));
    run_ok(
        &[
            "compare",
            "--size",
            "4M",
            "--methods",
            "read-write,sendfile",
            "--runs",
            "2",
            "--warmup",
            "0",
            "--export-csv",
            path_str(&c),
            "--export-markdown",
            path_str(&m),
        ],
        &[],
    );
    let (head, rows) = csv_rows(&std::fs::read_to_string(&c).unwrap());
    for column in [
        "serving_copy_ms_per_gib",
        "receiver_copy_ms_per_gib",
        "sys_ms_per_gib",
        "e2e_ms_per_gib",
    ] {
        let i = head
            .iter()
            .position(|h| h == column)
            .unwrap_or_else(|| panic!("no {column} in {head:?}"));
        for row in &rows {
            let cell = &row[i];
            assert!(
                cell.is_empty() || cell.parse::<f64>().is_ok_and(|v| v >= 0.0),
                "{column}: {cell:?}"
            );
        }
        if column.ends_with("per_gib") && column.starts_with('e') {
            assert!(
                rows.iter().all(|r| !r[i].is_empty()),
                "e2e is measured on every run"
            );
        }
    }
    let md = std::fs::read_to_string(&m).unwrap();
    for needle in [
        "copy ms/GiB serving / recv",
        "CPU ms/GiB sys (min–max)",
        "CPU ms/GiB end to end (min–max)",
        "end to end vs read-write",
    ] {
        assert!(md.contains(needle), "{needle}\n{md}");
    }
}

/// stdout is one stream: two exports to `-`, or one beside --json, are a usage error, never a
/// silent drop of one of them.
#[test]
fn two_claims_on_stdout_are_a_usage_error() {
    for args in [
        &["compare", "--json", "--export-csv", "-"][..],
        &["compare", "--export-markdown", "-", "--export-json", "-"][..],
        &["sweep", "--json", "--export-markdown", "-"][..],
    ] {
        let out = run(args, &[]);
        assert_eq!(out.code, Some(2), "{args:?}\n{}", out.dump());
        assert!(out.stderr.contains("stdout"), "{}", out.dump());
        assert!(out.stdout.is_empty(), "{}", out.dump());
    }
}
