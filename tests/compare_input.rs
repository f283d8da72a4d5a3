//! What copylab is given to serve: bad files and bad flags fail fast with one clear line; the
//! default generated file leaves nothing behind.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

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

#[test]
fn bad_size_unit() {
    fails_cleanly(&["compare", "--size", "12QB"], &["--size", "12QB"]);
}

#[test]
fn unknown_method() {
    fails_cleanly(
        &["compare", "--size", "4K", "--methods", "nosuch"],
        &["--methods", "nosuch"],
    );
}

#[test]
fn empty_method_list() {
    fails_cleanly(
        &["compare", "--size", "4K", "--methods", ","],
        &["--methods"],
    );
}

#[test]
fn zero_buffer() {
    fails_cleanly(&["compare", "--size", "4K", "--buffer", "0"], &["--buffer"]);
}

#[test]
fn zero_pipe_size() {
    fails_cleanly(
        &["compare", "--size", "4K", "--pipe-size", "0"],
        &["--pipe-size"],
    );
}

#[test]
fn zero_runs() {
    fails_cleanly(&["compare", "--size", "4K", "--runs", "0"], &["--runs"]);
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
    let Some(setpriv) = setpriv() else {
        eprintln!("skipped: setpriv not installed");
        return;
    };
    if !is_root() {
        eprintln!("skipped: needs root to switch to an unprivileged user");
        return;
    }
    let dir = world_readable_dir();
    let bin = copy_bin_to(dir.path());
    let file = write_file(dir.path(), "secret.bin", 4096, 3);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    let p = path_str(&file);
    let out = run_as_nobody(&setpriv, &bin, &compare_file(p), dir.path());
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
    let mut cmd = assert_cmd::Command::new(bin());
    cmd.args(["compare", "--size", "4K", "--methods", "sendfile", "--json"])
        .args(QUICK)
        .env("TMPDIR", "")
        .env_remove("COPYLAB_TRACEFS")
        .current_dir(cwd.path())
        .timeout(TIMEOUT);
    let out = cmd.output().expect("run copylab");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "TMPDIR=\"\" failed: {stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
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
