//! Running copylab as an unprivileged user of its own (the degraded paths: counters refused,
//! files it may not read), and the lock around system-wide state that such runs depend on.
//! Every run here needs root and setpriv: the test says so first with
//! `require!(Need::tool("setpriv"), Need::root("to …"))`.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Cmd, Out, bin, path_str, tool};

/// Copy the copylab binary into `dir` (which should be world-readable), mode 0755.
pub fn copy_bin_to(dir: &Path) -> PathBuf {
    let dst = dir.join("copylab");
    std::fs::copy(bin(), &dst).expect("copy copylab binary");
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).unwrap();
    dst
}

/// Run `bin args` as an unprivileged user (see [`unprivileged_args`]) with TMPDIR=`tmpdir`.
pub fn run_as_nobody(bin: &Path, args: &[&str], tmpdir: &Path) -> Out {
    run_unprivileged(tool("setpriv").as_os_str(), &[], bin, args, tmpdir)
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
    Cmd::new(program, &full).env("TMPDIR", tmpdir).run()
}

/// setpriv's arguments that make the program after them run as an unprivileged user of its own:
/// no groups, no capabilities, and a uid/gid no other run uses at the same time. What the kernel
/// accounts per user (locked memory for MSG_ZEROCOPY and io_uring, processes, inotify…) is then
/// this run's alone, whatever runs beside it; a uid needs no account to run a program.
pub fn unprivileged_args() -> Vec<String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // 2^30 + pid·256 + n: above every uid a system hands out, unique per process and call (the
    // whole suite makes far fewer than 255 such runs; 255 itself is left to tests that need a
    // uid of their own for a setup of their own).
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 255;
    let uid = (1u32 << 30) + (std::process::id() << 8) + n;
    vec![
        format!("--reuid={uid}"),
        format!("--regid={uid}"),
        "--clear-groups".into(),
        "--inh-caps=-all".into(),
        "--".into(),
    ]
}

/// A lock between tests (threads of the test binary and other test processes alike) around
/// system-wide state: a test that changes it (a sysctl, network namespaces) takes it
/// exclusively and restores the setting before letting go; a run that depends on it takes it
/// shared (a thread that holds it exclusively runs its own unprivileged commands under that).
/// flock on a file in the temp dir: each call opens the file anew, so threads of one process
/// exclude each other as separate processes do.
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
