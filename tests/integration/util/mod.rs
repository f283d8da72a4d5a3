//! Shared helpers for copylab's integration tests: run the binary with a timeout, parse its
//! JSON, write pseudo-random files, read figures out of a report.
#![allow(dead_code)]

mod server;
pub use server::*;

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// Every copylab invocation is killed after this (a hang is a failure, not a stuck suite).
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// The four classic paths: the default set.
pub const METHODS: [&str; 4] = ["read-write", "mmap", "sendfile", "splice"];

/// Every path, in table order (`--methods all`).
pub const ALL_METHODS: [&str; 8] = [
    "read-write",
    "mmap",
    "sendfile",
    "splice",
    "vmsplice",
    "msg-zerocopy",
    "io-uring-splice",
    "io-uring-send-zc",
];

/// The paths the kernel allows on TCP only (zero-copy sends).
pub const TCP_ONLY: [&str; 2] = ["msg-zerocopy", "io-uring-send-zc"];

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_copylab")
}

/// What one copylab run left behind.
#[derive(Debug)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub what: String,
}

impl Out {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Everything needed to diagnose a failed assertion.
    pub fn dump(&self) -> String {
        format!(
            "command: {}\nexit code: {:?}\n--- stderr ---\n{}\n--- stdout (first 4000 chars) ---\n{}",
            self.what,
            self.code,
            self.stderr,
            self.stdout.chars().take(4000).collect::<String>()
        )
    }
}

/// Run `program args` with `envs`, killed after `timeout`. The environment is made the same on
/// every machine unless `envs` says otherwise: COPYLAB_TRACEFS, NO_COLOR and COLUMNS removed (so
/// output is laid out for 80 columns), and a UTF-8 locale (LANG=C.UTF-8, LC_ALL and LC_CTYPE
/// removed) so tables are drawn with box characters.
pub fn run_program(
    program: impl AsRef<OsStr>,
    args: &[&str],
    envs: &[(&str, &str)],
    timeout: Duration,
) -> Out {
    let program = program.as_ref();
    let mut cmd = assert_cmd::Command::new(program);
    cmd.args(args)
        .env_remove("COPYLAB_TRACEFS")
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .env_remove("LC_ALL")
        .env_remove("LC_CTYPE")
        .env("LANG", "C.UTF-8")
        .timeout(timeout);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let what = format!(
        "{}{} {}",
        envs.iter()
            .map(|(k, v)| format!("{k}={v} "))
            .collect::<String>(),
        program.to_string_lossy(),
        args.join(" ")
    );
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running `{what}` failed (timed out after {timeout:?}?): {e}"));
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        what,
    }
}

/// `text` with its wrapped paragraphs joined again: each line break and the indent after it
/// become one space, so a sentence can be found whatever width it was laid out for.
pub fn unwrapped(text: &str) -> String {
    text.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

/// Run copylab with `args`.
pub fn run(args: &[&str], envs: &[(&str, &str)]) -> Out {
    run_program(bin(), args, envs, TIMEOUT)
}

/// Run copylab, insist on exit 0 and no panic.
pub fn run_ok(args: &[&str], envs: &[(&str, &str)]) -> Out {
    let out = run(args, envs);
    assert!(out.success(), "copylab failed\n{}", out.dump());
    assert!(
        !out.stderr.contains("panicked"),
        "copylab panicked\n{}",
        out.dump()
    );
    out
}

/// Parse the JSON report in `out.stdout`.
pub fn parse_json(out: &Out) -> Value {
    assert!(out.success(), "copylab failed\n{}", out.dump());
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", out.dump()))
}

/// Run copylab (args must include --json) and return the parsed report.
pub fn run_json(args: &[&str], envs: &[(&str, &str)]) -> Value {
    let out = run_ok(args, envs);
    let v = parse_json(&out);
    assert_eq!(v["schema"], 1, "unexpected schema\n{}", out.dump());
    v
}

/// The method entry named `name`.
pub fn method<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["methods"]
        .as_array()
        .expect("methods is an array")
        .iter()
        .find(|m| m["method"] == name)
        .unwrap_or_else(|| panic!("no method {name} in report: {report:#}"))
}

/// The measured runs of a method entry.
pub fn runs(m: &Value) -> &Vec<Value> {
    m["runs"].as_array().expect("runs is an array")
}

/// `v` as a u64, naming `what` if it is not one.
pub fn num(v: &Value, what: &str) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("{what}: expected a number, got {v}"))
}

/// `syscalls.by_name[name]` of a run (a number; absent or null fails).
pub fn by_name(run: &Value, name: &str) -> u64 {
    num(
        &run["syscalls"]["by_name"][name],
        &format!("syscalls.by_name.{name}"),
    )
}

/// `self_counted[name]` of a run, 0 when absent.
pub fn self_counted(run: &Value, name: &str) -> u64 {
    run["self_counted"][name].as_u64().unwrap_or(0)
}

/// Deterministic pseudo-random bytes (64-bit LCG, high bytes), different per `seed`.
pub fn lcg_fill(buf: &mut [u8], state: &mut u64) {
    for chunk in buf.chunks_mut(4) {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let b = ((*state >> 32) as u32).to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
}

/// Write `len` pseudo-random bytes to `dir/name`.
pub fn write_file(dir: &Path, name: &str, len: u64, seed: u64) -> PathBuf {
    let path = dir.join(name);
    let mut f = File::create(&path).expect("create test file");
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15 ^ len;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        lcg_fill(&mut buf[..n], &mut state);
        f.write_all(&buf[..n]).expect("write test file");
        left -= n as u64;
    }
    f.sync_all().ok();
    path
}

/// XXH3-64 of a file, formatted as copylab reports it, computed independently of copylab.
pub fn xxh3_of(path: &Path) -> String {
    let data = std::fs::read(path).expect("read test file back");
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&data))
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create temp dir")
}

/// A fresh directory on the disk that holds the build (cargo's CARGO_TARGET_TMPDIR): for tests
/// that need a file system which really evicts pages, where /tmp may be a tmpfs (Debian 13's
/// default), whose pages are the files themselves and cannot be dropped.
pub fn disk_dir() -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).expect("create CARGO_TARGET_TMPDIR");
    tempfile::tempdir_in(base).expect("create a temp dir under CARGO_TARGET_TMPDIR")
}

/// Whether `p` is on a tmpfs, which keeps files in memory.
pub fn in_memory_fs(p: &Path) -> bool {
    use nix::sys::statfs::{TMPFS_MAGIC, statfs};
    statfs(p).is_ok_and(|s| s.filesystem_type() == TMPFS_MAGIC)
}

/// A fresh directory under /tmp that any user can enter and read (root's temp dirs are 0700).
pub fn world_readable_dir() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("copylab-test-")
        .tempdir_in("/tmp")
        .expect("create /tmp dir");
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// A fresh /tmp directory anyone may write to (for TMPDIR of an unprivileged run).
pub fn world_writable_dir() -> tempfile::TempDir {
    let d = world_readable_dir();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    d
}

/// A tmpfs of `size` bytes mounted on a fresh temp dir, unmounted on drop: a small file system
/// to run out of space on without filling a disk. `None` (the test is skipped) unless root.
pub struct SmallTmpfs {
    dir: tempfile::TempDir,
}

impl SmallTmpfs {
    pub fn mount(size: u64) -> Option<SmallTmpfs> {
        if !is_root() {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempdir();
        let opts = format!("size={size},mode=0755");
        if let Err(e) = nix::mount::mount(
            Some("tmpfs"),
            dir.path(),
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some(opts.as_str()),
        ) {
            eprintln!("skipped: cannot mount a tmpfs: {e}");
            return None;
        }
        Some(SmallTmpfs { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `setpriv`, if installed.
pub fn setpriv() -> Option<PathBuf> {
    [
        "/usr/bin/setpriv",
        "/bin/setpriv",
        "/usr/sbin/setpriv",
        "/sbin/setpriv",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Copy the copylab binary into `dir` (which should be world-readable), mode 0755.
pub fn copy_bin_to(dir: &Path) -> PathBuf {
    let dst = dir.join("copylab");
    std::fs::copy(bin(), &dst).expect("copy copylab binary");
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).unwrap();
    dst
}

/// Run `bin args` as an unprivileged user (see [`unprivileged_args`]) with TMPDIR=`tmpdir`.
pub fn run_as_nobody(setpriv: &Path, bin: &Path, args: &[&str], tmpdir: &Path) -> Out {
    run_unprivileged(setpriv.as_os_str(), &[], bin, args, tmpdir)
}

/// Run `bin args` unprivileged, after `prefix` (e.g. `prlimit --memlock=…`): `program` is
/// setpriv itself or, with a prefix, the program that ends by running setpriv. Holds the shared
/// side of [`system_state`] for the whole run, so no test changes a system-wide setting the
/// unprivileged run depends on (kernel.io_uring_disabled) while it runs.
pub fn run_unprivileged(
    program: &OsStr,
    prefix: &[&str],
    bin: &Path,
    args: &[&str],
    tmpdir: &Path,
) -> Out {
    let _shared = system_state(false);
    let ids = unprivileged_args();
    let mut full: Vec<&str> = prefix.to_vec();
    full.extend(ids.iter().map(String::as_str));
    full.push(path_str(bin));
    full.extend_from_slice(args);
    run_program(program, &full, &[("TMPDIR", path_str(tmpdir))], TIMEOUT)
}

/// setpriv's arguments that make the program after them run as an unprivileged user of its own:
/// no groups, no capabilities, and a uid/gid no other run uses at the same time. What the kernel
/// accounts per user (locked memory for MSG_ZEROCOPY and io_uring, processes, inotify…) is then
/// this run's alone, whatever runs beside it; a uid needs no account to run a program.
pub fn unprivileged_args() -> Vec<String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // 2^30 + pid·256 + n: above every uid a system hands out, unique per process and call.
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 256;
    let uid = (1u32 << 30) + (std::process::id() << 8) + n;
    vec![
        format!("--reuid={uid}"),
        format!("--regid={uid}"),
        "--clear-groups".into(),
        "--inh-caps=-all".into(),
        "--".into(),
    ]
}

/// A lock between tests (threads of one test binary and separate test processes alike) around
/// system-wide state: a test that changes it (a sysctl) takes it exclusively and restores the
/// setting before letting go; a run that depends on it takes it shared (a thread that holds it
/// exclusively runs its own unprivileged commands under that). flock on a file in the temp dir.
pub fn system_state(exclusive: bool) -> SystemState {
    use std::os::fd::AsRawFd;
    if HOLDS_EXCLUSIVE.get() {
        return SystemState(None);
    }
    let path = std::env::temp_dir().join("copylab-tests-system-state.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    // Anyone may take it shared, whoever created it.
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666));
    let op = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    loop {
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
            break;
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::Interrupted,
            "flock {}: {e}",
            path.display()
        );
    }
    HOLDS_EXCLUSIVE.set(exclusive);
    SystemState(Some(f))
}

thread_local! {
    static HOLDS_EXCLUSIVE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Held [`system_state`]; released (and the thread's exclusive mark cleared) when dropped.
pub struct SystemState(Option<File>);

impl Drop for SystemState {
    fn drop(&mut self) {
        if self.0.take().is_some() {
            HOLDS_EXCLUSIVE.set(false);
        }
    }
}

/// The checks every bad flag value must pass: clap's usage error, exit code 2, naming `flag`
/// (`invalid value '0' for '--buffer <SIZE>'`), no panic, nothing on stdout.
pub fn assert_usage_error(out: &Out, flag: &str) {
    assert_eq!(out.code, Some(2), "expected exit code 2\n{}", out.dump());
    assert!(!out.stderr.contains("panicked"), "panic\n{}", out.dump());
    assert!(
        out.stderr.contains(&format!("'{flag} ")),
        "stderr must name {flag}\n{}",
        out.dump()
    );
    assert!(out.stdout.is_empty(), "{}", out.dump());
}

/// The checks every error exit must pass: exit code 1, exactly one stderr line starting with
/// "copylab: " and containing each of `needles`, no panic, nothing on stdout.
pub fn assert_clean_error(out: &Out, needles: &[&str]) {
    assert_eq!(out.code, Some(1), "expected exit code 1\n{}", out.dump());
    assert!(!out.stderr.contains("panicked"), "panic\n{}", out.dump());
    assert!(
        out.stderr.ends_with('\n'),
        "stderr must end with a newline\n{}",
        out.dump()
    );
    let body = out.stderr.trim_end_matches('\n');
    assert!(
        !body.contains('\n'),
        "stderr must be exactly one line\n{}",
        out.dump()
    );
    assert!(
        body.starts_with("copylab: "),
        "stderr must start with 'copylab: '\n{}",
        out.dump()
    );
    for n in needles {
        assert!(
            body.contains(n),
            "stderr must mention {n:?}\n{}",
            out.dump()
        );
    }
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout on error\n{}",
        out.dump()
    );
}

/// Every run of every method delivered exactly `size` bytes and passed its hash check.
pub fn assert_all_verified(report: &Value, size: u64, hash_every_run: bool) {
    for m in report["methods"].as_array().unwrap() {
        let name = m["method"].as_str().unwrap();
        let rs = runs(m);
        assert!(!rs.is_empty(), "{name}: no runs");
        for (i, r) in rs.iter().enumerate() {
            assert_eq!(r["verified"], true, "{name} run {i} not verified: {r:#}");
            assert_eq!(num(&r["bytes"], "bytes"), size, "{name} run {i} bytes");
            if hash_every_run || i == 0 {
                assert_eq!(r["hash_checked"], true, "{name} run {i} not hashed: {r:#}");
            }
        }
        assert_eq!(m["median"]["verified"], true, "{name} median verified");
    }
}

/// The methods of a report, in its order.
pub fn method_names(report: &Value) -> Vec<&str> {
    report["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .map(|m| m["method"].as_str().expect("method name"))
        .collect()
}

/// The zero-copy tally of a run (`zerocopy` object), as (sends, completed, copied, plain
/// fallbacks).
pub fn zerocopy(run: &Value) -> (u64, u64, u64, u64) {
    let z = &run["zerocopy"];
    assert!(z.is_object(), "no zerocopy object: {run:#}");
    (
        num(&z["sends"], "zerocopy.sends"),
        num(&z["completed"], "zerocopy.completed"),
        num(&z["copied"], "zerocopy.copied"),
        num(&z["plain_fallback"], "zerocopy.plain_fallback"),
    )
}
