//! Hardening findings with no other home: what copylab says before it starts something it
//! cannot finish in reasonable time.

use crate::util::*;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

/// The first stderr line of `copylab ARGS` (within 20 s), then the process is killed: for
/// commands that would otherwise run for days.
fn first_stderr_line(args: &[&str]) -> String {
    // Its own TMPDIR: whatever a stopped copylab leaves there goes with the test.
    let tmp = tempdir();
    let mut child = Cmd::copylab(args)
        .command()
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start copylab");
    let err = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(err).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
    // Let it finish setting up (it mounts tracefs for a moment when it is not mounted), then
    // stop it as Ctrl-C would, so it cleans up after itself; killed if it lingers.
    std::thread::sleep(Duration::from_secs(1));
    // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().ok().flatten().is_none() {
        if std::time::Instant::now() > until {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.wait();
    line
}

/// `--link 8bit` on a 1 MiB compare would take weeks: copylab says how long before it starts.
#[test]
fn a_link_too_slow_for_the_transfer_says_how_long_it_would_take() {
    let line = first_stderr_line(&[
        "compare",
        "--link",
        "8bit",
        "--size",
        "1M",
        "--runs",
        "5",
        "--warmup",
        "1",
        "--methods",
        "sendfile",
        "--no-profile",
        "--json",
    ]);
    assert!(
        line.starts_with("copylab: warning: --link 8 bit/s")
            && line.contains("6 MiB")
            && line.contains("about 73 days"),
        "{line:?}"
    );
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 1 << 20, 1);
    let line = first_stderr_line(&[
        "serve",
        path_str(&file),
        "--listen",
        "127.0.0.1:0",
        "--link",
        "8bit",
    ]);
    assert!(
        line.contains("--link 8 bit/s") && line.contains("about 12 days"),
        "{line:?}"
    );
}
