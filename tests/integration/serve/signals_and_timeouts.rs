//! Faults from the outside: a signal every millisecond during transfers (EINTR and short counts
//! on every path), SIGUSR1 status lines, and a client that stops reading (--send-timeout).

use crate::util::*;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// Wait until `pid` has a handler for SIGUSR1 (bit 10 of SigCgt, signal 10 on x86_64).
fn wait_for_usr1_handler(pid: u32) {
    let deadline = Instant::now() + WAIT;
    loop {
        let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = st
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0);
        if caught & (1 << (Signal::SIGUSR1 as i32 - 1)) != 0 {
            return;
        }
        assert!(Instant::now() < deadline, "no SIGUSR1 handler in {pid}");
        std::thread::sleep(Duration::from_micros(500));
    }
}

#[test]
fn eintr_storm_every_millisecond_loses_no_byte() {
    let dir = tempdir();
    let size = (32 << 20) + 4097;
    let file = write_file(dir.path(), "data.bin", size, 41);
    let mut child = Cmd::copylab(&[
        "compare",
        path_str(&file),
        "--methods",
        "all",
        "--runs",
        "2",
        "--warmup",
        "0",
        "--verify-all",
        "--json",
    ])
    .command()
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn copylab");
    let pid = child.id();
    wait_for_usr1_handler(pid);
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut sent = 0u32;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "compare did not finish under the signal storm"
        );
        if kill(Pid::from_raw(pid as i32), Signal::SIGUSR1).is_ok() {
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let out = reader.join().expect("reader").expect("stdout");
    assert!(
        status.success(),
        "exit {status:?} after {sent} signals\n{stderr}"
    );
    assert!(sent > 10, "only {sent} signals were sent");
    let r: Value = serde_json::from_str(&out).expect("JSON");
    for m in r["methods"].as_array().expect("methods") {
        for run in m["runs"].as_array().expect("runs") {
            assert_eq!(run["bytes"].as_u64(), Some(size), "{}: {run}", m["method"]);
            assert_eq!(run["verified"], true, "{}: {run}", m["method"]);
            assert_eq!(run["hash_checked"], true, "{}: {run}", m["method"]);
            // However many calls the signals cost, perf and the method agree on them.
            if r["syscall_source"] == "perf" {
                for (name, n) in run["self_counted"].as_object().expect("self_counted") {
                    if let Some(p) = run["syscalls"]["by_name"].get(name) {
                        assert_eq!(p, n, "{} {name}: {run}", m["method"]);
                    }
                }
            }
        }
    }
    assert!(stderr.contains("copylab: status: next"), "{stderr}");
}

#[test]
fn sigusr1_prints_a_status_line_and_serve_goes_on() {
    let dir = tempdir();
    let size = 64 << 10;
    let file = write_file(dir.path(), "data.bin", size, 42);
    let mut srv = Server::start(&file, &["--listen", "127.0.0.1:0"]);
    let mut s = srv.addr.connect();
    assert_eq!(s.read_to_eof().len() as u64, size);
    srv.connection();
    srv.signal(Signal::SIGUSR1);
    let deadline = Instant::now() + WAIT;
    while !srv.stderr().contains("copylab: status: 1 accepted") {
        assert!(Instant::now() < deadline, "no status line\n{}", srv.dump());
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut s = srv.addr.connect();
    assert_eq!(s.read_to_eof().len() as u64, size);
    let sum = srv.stop();
    assert_eq!(sum["connections"].as_u64(), Some(2), "{sum}");
}

#[test]
fn zero_window_client_ends_with_send_timeout_and_server_keeps_serving() {
    let dir = tempdir();
    let size = 64 << 20;
    let file = write_file(dir.path(), "big.bin", size, 43);
    let want = sha256_file(&file);
    for method in ALL_METHODS {
        let mut srv = Server::start(
            &file,
            &[
                "--listen",
                "127.0.0.1:0",
                "--method",
                method,
                "--send-timeout",
                "300ms",
            ],
        );
        // Connect and never read: the socket buffers fill, the window closes.
        let stalled = srv.addr.connect();
        let rec = srv.connection();
        assert_eq!(rec["outcome"], "send-timeout", "{method}: {rec}");
        let sent = rec["bytes"].as_u64().expect("bytes");
        assert!(sent < size, "{method}: {rec}");
        assert!(
            rec["detail"]
                .as_str()
                .unwrap_or("")
                .contains("stopped reading"),
            "{method}: {rec}"
        );
        drop(stalled);
        // The next client is served in full.
        let mut s = srv.addr.connect();
        let got = s.read_to_eof();
        assert_eq!(got.len() as u64, size, "{method}");
        assert_eq!(sha256_hex(&got), want, "{method}");
        let rec = srv.connection();
        assert_complete(&rec, method, size, "after a stalled client");
        let sum = srv.stop();
        assert_eq!(sum["send_timeout"].as_u64(), Some(1), "{method}: {sum}");
    }
}
