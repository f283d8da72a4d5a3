//! What copylab is given to serve: bad files and bad flags fail fast with one clear line; the
//! default generated file leaves nothing behind.

use crate::util::*;

use std::os::unix::fs::PermissionsExt;

/// Run copylab with `args` (TMPDIR set to a fresh dir) and check it fails cleanly naming `needles`.
fn fails_cleanly(args: &[&str], needles: &[&str]) {
    let tmp = tempdir();
    let out = run(args, &[("TMPDIR", path_str(tmp.path()))]);
    assert_clean_error(&out, needles);
}

const QUICK: [&str; 4] = ["--runs", "1", "--warmup", "0"];

fn compare_file(path: &str) -> Vec<&str> {
    let mut v = vec!["compare", path];
    v.extend_from_slice(&QUICK);
    v
}

#[test]
fn missing_file() {
    let dir = tempdir();
    let p = dir.path().join("no-such-file");
    let p = path_str(&p);
    fails_cleanly(&compare_file(p), &[p]);
}

#[test]
fn directory() {
    let dir = tempdir();
    let p = path_str(dir.path());
    fails_cleanly(&compare_file(p), &[p, "directory"]);
}

#[test]
fn fifo_is_refused_without_hanging() {
    let dir = tempdir();
    let p = dir.path().join("fifo");
    nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let p = path_str(&p);
    // No writer ever opens it: copylab must not wait for one (the run() timeout catches a hang).
    fails_cleanly(&compare_file(p), &[p, "FIFO"]);
}

#[test]
fn dev_zero() {
    fails_cleanly(
        &compare_file("/dev/zero"),
        &["/dev/zero", "not a regular file"],
    );
}

#[test]
fn symlink_to_dev_zero() {
    let dir = tempdir();
    let p = dir.path().join("zero-link");
    std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
    let p = path_str(&p);
    fails_cleanly(&compare_file(p), &[p, "not a regular file"]);
}

#[test]
fn proc_pseudo_file() {
    fails_cleanly(&compare_file("/proc/self/status"), &["/proc/self/status"]);
}

/// Run copylab with `args` and check clap refuses the value of `flag`: exit 2, the flag named.
fn refused_by_clap(args: &[&str], flag: &str) {
    let tmp = tempdir();
    let out = run(args, &[("TMPDIR", path_str(tmp.path()))]);
    assert_usage_error(&out, flag);
}

#[test]
fn bad_size_unit() {
    refused_by_clap(&["compare", "--size", "12QB"], "--size");
}

#[test]
fn unknown_method() {
    refused_by_clap(
        &["compare", "--size", "4K", "--methods", "nosuch"],
        "--methods",
    );
}

#[test]
fn empty_method_list() {
    refused_by_clap(&["compare", "--size", "4K", "--methods", ","], "--methods");
}

#[test]
fn zero_buffer() {
    refused_by_clap(&["compare", "--size", "4K", "--buffer", "0"], "--buffer");
}

#[test]
fn zero_pipe_size() {
    refused_by_clap(
        &["compare", "--size", "4K", "--pipe-size", "0"],
        "--pipe-size",
    );
}

/// Every flag that takes a size, a duration or a method list refuses each bad value as a usage
/// error (exit 2, the flag named), before anything runs: `--buffer many` once exited 1.
#[test]
fn bad_values_of_typed_flags_exit_2_naming_the_flag() {
    const SIZES: &[&str] = &["many", "12QB", "", "K", "1.5M", "99999999999T", "-1"];
    const BUFFERS: &[&str] = &["many", "0", "65M", "1G", "12QB", ""];
    const METHODS: &[&str] = &["nosuch", ",", "", "sendfile,nosuch", "SENDFILE"];
    let mut cases: Vec<(Vec<&str>, &str)> = Vec::new();
    for &v in SIZES {
        cases.push((vec!["compare", "--size", v], "--size"));
        cases.push((
            vec!["explain", "sendfile", "--measure", "--size", v],
            "--size",
        ));
        cases.push((
            vec!["fetch", "127.0.0.1:9", "--discard", "--max-size", v],
            "--max-size",
        ));
        cases.push((vec!["sweep", "--sizes", v], "--sizes"));
    }
    cases.push((vec!["sweep", "--sizes", "4K,,x"], "--sizes"));
    for &v in BUFFERS {
        cases.push((vec!["compare", "--buffer", v], "--buffer"));
        cases.push((vec!["compare", "--pipe-size", v], "--pipe-size"));
        cases.push((vec!["serve", "f", "--buffer", v], "--buffer"));
        cases.push((vec!["serve", "f", "--pipe-size", v], "--pipe-size"));
        cases.push((vec!["sweep", "--buffers", v], "--buffers"));
        cases.push((vec!["sweep", "--pipe-size", v], "--pipe-size"));
    }
    cases.push((vec!["sweep", "--buffers", "64K,0"], "--buffers"));
    for &v in METHODS {
        cases.push((vec!["compare", "--methods", v], "--methods"));
        cases.push((vec!["sweep", "--methods", v], "--methods"));
        cases.push((vec!["serve", "f", "--method", v], "--method"));
    }
    for v in ["all", "classic", "sendfile,splice"] {
        cases.push((vec!["serve", "f", "--method", v], "--method"));
    }
    // Counts that must be at least 1, the io_uring batch, addresses and request paths.
    for v in ["0", "-1", "many", ""] {
        cases.push((vec!["compare", "--runs", v], "--runs"));
        cases.push((vec!["sweep", "--runs", v], "--runs"));
        cases.push((vec!["serve", "f", "--max-conns", v], "--max-conns"));
        cases.push((vec!["serve", "f", "--count", v], "--count"));
        cases.push((vec!["compare", "--batch", v], "--batch"));
        cases.push((
            vec!["fetch", "127.0.0.1:9", "--discard", "--connections", v],
            "--connections",
        ));
    }
    cases.push((vec!["compare", "--batch", "1025"], "--batch"));
    for v in ["localhost", "127.0.0.1", "1.2.3.4:99999", ""] {
        cases.push((vec!["serve", "f", "--listen", v], "--listen"));
    }
    cases.push((
        vec!["fetch", "127.0.0.1:9", "--discard", "--http", "--path", "x"],
        "--path",
    ));
    for v in ["many", "5h", "1.5s", "-1s", "", "99999999999999999999"] {
        cases.push((vec!["serve", "f", "--send-timeout", v], "--send-timeout"));
    }
    // Durations take units everywhere, fetch's --timeout too (30s is valid); zero is not.
    for v in ["0", "0s", "many", "", "-1"] {
        cases.push((
            vec!["fetch", "127.0.0.1:9", "--discard", "--timeout", v],
            "--timeout",
        ));
    }
    for (args, flag) in cases {
        // `--flag=VALUE`: a value starting with '-' (or empty) is still the flag's value.
        let value = args[args.len() - 1];
        let mut argv = args[..args.len() - 2].to_vec();
        let joined = format!("{flag}={value}");
        argv.push(&joined);
        let out = run(&argv, &[]);
        assert_usage_error(&out, flag);
    }
}

#[test]
fn zero_runs() {
    refused_by_clap(&["compare", "--size", "4K", "--runs", "0"], "--runs");
}

#[test]
fn size_larger_than_the_disk() {
    fails_cleanly(&["compare", "--size", "100T"], &["space"]);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["compare", "--transport", "bogus"][..],
        &["compare", "--counters", "bogus"][..],
        &["compare", "--runs", "many"][..],
        &["compare", "--no-such-flag"][..],
        &["nosuch-subcommand"][..],
    ] {
        let out = run(args, &[]);
        assert_eq!(
            out.code,
            Some(2),
            "clap usage error must exit 2\n{}",
            out.dump()
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.dump());
    }
}

#[test]
fn unreadable_file_as_unprivileged_user() {
    require!(
        Need::tool("setpriv"),
        Need::root("to switch to an unprivileged user")
    );
    let dir = world_readable_dir();
    let bin = copy_bin_to(dir.path());
    let file = write_file(dir.path(), "secret.bin", 4096, 3);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    let p = path_str(&file);
    let out = run_as_nobody(&bin, &compare_file(p), dir.path());
    assert_clean_error(&out, &[p]);
    assert!(
        out.stderr.to_lowercase().contains("permission"),
        "{}",
        out.dump()
    );
}

/// No FILE: a random file is generated in $TMPDIR, reported as generated, and nothing is left.
#[test]
fn generated_file_leaves_nothing_behind() {
    let tmp = tempdir();
    let r = run_json(
        &[
            "compare", "--size", "2M", "--runs", "1", "--warmup", "0", "--json",
        ],
        &[("TMPDIR", path_str(tmp.path()))],
    );
    assert_eq!(r["file"]["generated"], true, "{r:#}");
    assert!(
        r["file"]["path"].is_null(),
        "generated file has no path: {r:#}"
    );
    assert_eq!(num(&r["file"]["bytes"], "file.bytes"), 2 << 20);
    assert_eq!(r["file"]["xxh3"].as_str().map(str::len), Some(16));
    assert_all_verified(&r, 2 << 20, false);
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "copylab left files in TMPDIR: {left:?}");
}

/// `TMPDIR=""` means unset: the test file goes to /tmp, never to the current directory.
#[test]
fn empty_tmpdir_means_tmp() {
    let cwd = tempdir();
    let out = Cmd::copylab(&["compare", "--size", "4K", "--methods", "sendfile", "--json"])
        .args(&QUICK)
        .env("TMPDIR", "")
        .current_dir(cwd.path())
        .run();
    assert!(out.success(), "TMPDIR=\"\" failed\n{}", out.dump());
    let r = out.json();
    assert_eq!(r["file"]["temp_dir"], "/tmp", "{}", r["file"]);
    let left: Vec<_> = std::fs::read_dir(cwd.path()).unwrap().collect();
    assert!(
        left.is_empty(),
        "files left in the current directory: {left:?}"
    );
}

/// A generated file that fits but would leave the file system with less than the margin
/// (max(1 GiB, 5%)) free is refused before anything is written, naming --size and TMPDIR.
#[test]
fn size_that_leaves_less_than_the_margin_free_is_refused() {
    let Some(fs) = SmallTmpfs::mount(256 << 20) else {
        return;
    };
    let out = run(
        &["compare", "--size", "100M", "--runs", "1", "--warmup", "0"],
        &[("TMPDIR", path_str(fs.path()))],
    );
    assert_clean_error(&out, &["--size", "256 MiB file system", "free", "TMPDIR"]);
    let left: Vec<_> = std::fs::read_dir(fs.path()).unwrap().collect();
    assert!(left.is_empty(), "files left in TMPDIR: {left:?}");
}
