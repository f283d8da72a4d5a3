//! `copylab serve --live`: with stdout not a terminal, the same lines as without it; on a
//! terminal (a pty from `script`), a bar for a slow client's transfer in progress with its bytes
//! so far, then the same final lines and summary.

use crate::util::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A line with every number (digits and dots) as `N`, whitespace runs as one space and runs of
/// table rule characters as one: what stays the same from run to run.
fn shape(line: &str) -> String {
    let mut out = String::new();
    let mut last: Option<char> = None;
    for c in line.chars() {
        let c = match c {
            '0'..='9' | '.' => 'N',
            c if c.is_whitespace() => ' ',
            c => c,
        };
        let collapses = matches!(c, 'N' | ' ' | '─' | '═' | '┈' | '╌');
        if collapses && last == Some(c) {
            continue;
        }
        out.push(c);
        last = Some(c);
    }
    out
}

/// Serve two HTTP GETs (then exit by --count) in text mode and return every stdout line.
fn two_gets(file: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--http", "--listen", "127.0.0.1:0", "--count", "2"];
    args.extend_from_slice(extra);
    let mut srv = Server::start_text(file, &args);
    for _ in 0..2 {
        let r = http_exchange(&srv.addr, &get("/"));
        assert_eq!(r.status, 200);
        assert_eq!(r.body.len() as u64, MIB + 777);
    }
    let st = srv.wait_exit(WAIT);
    assert_eq!(st.code(), Some(0), "{}", srv.dump());
    srv.seen.clone()
}

#[test]
fn live_without_a_terminal_prints_the_ordinary_lines() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", MIB + 777, 9);
    let plain = two_gets(&file, &[]);
    let live = two_gets(&file, &["--live"]);
    let (a, b): (Vec<String>, Vec<String>) = (
        plain.iter().map(|l| shape(l)).collect(),
        live.iter().map(|l| shape(l)).collect(),
    );
    assert_eq!(
        a,
        b,
        "plain:\n{}\nlive:\n{}",
        plain.join("\n"),
        live.join("\n")
    );
    assert!(
        live.iter()
            .any(|l| l.starts_with("#2 ") && l.ends_with(" · complete")),
        "{live:?}"
    );
    assert!(
        live.iter().all(|l| !l.contains("sending ")),
        "no progress text off a terminal: {live:?}"
    );
}

#[test]
fn live_with_json_is_refused_as_usage() {
    let out = run(&["serve", "f", "--live", "--json"], &[]);
    assert_eq!(out.code, Some(2), "{}", out.dump());
    assert!(out.stderr.contains("--live"), "{}", out.dump());
}

/// Everything the pty showed so far, with terminal control sequences left in.
fn shown(buf: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

#[test]
fn live_on_a_terminal_shows_a_slow_client_in_progress() {
    require!(Need::tool("script"));
    let dir = tempdir();
    let size = 16 * MIB;
    let file = write_file(dir.path(), "big.bin", size, 3);
    // A pty has no size until someone sets one: give it a projector's, for the summary table.
    let cmd = format!(
        "stty cols 160 rows 40; exec {} serve {} --http --live --method read-write --listen 127.0.0.1:0 --count 1",
        bin(),
        file.display()
    );
    let mut child = Command::new(tool("script"))
        .args(["-qfc", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start script");
    let buf = Arc::new(Mutex::new(Vec::new()));
    let mut out = child.stdout.take().expect("script stdout");
    let reader = {
        let buf = Arc::clone(&buf);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = out.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        })
    };
    // The address, from "copylab serve: … over tcp on 127.0.0.1:PORT".
    let deadline = Instant::now() + WAIT;
    let addr = loop {
        let text = shown(&buf);
        if let Some(rest) = text.split(" over tcp on ").nth(1)
            && let Some(a) = rest.split_whitespace().next()
            && text.contains("try: ")
        {
            break a.to_string();
        }
        assert!(Instant::now() < deadline, "no listening line: {text}");
        std::thread::sleep(Duration::from_millis(20));
    };

    // A client that reads slowly, so the transfer stays in progress for many redraws.
    let mut s = TcpStream::connect(&addr).expect("connect");
    nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::RcvBuf, &(64 << 10)).ok();
    s.write_all(&get("/")).expect("send request");
    let mut got = 0u64;
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => got += n as u64,
            Err(e) => panic!("read: {e}"),
        }
        std::thread::sleep(Duration::from_millis(8));
    }
    assert!(got > size, "head and body: {got}");

    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not exit: {}",
            shown(&buf)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    reader.join().expect("reader");
    let text = shown(&buf);
    assert!(status.success(), "{status:?}: {text}");

    // A bar for #1 while it ran, with bytes sent so far that are neither nothing nor all.
    let in_progress: Vec<&str> = text
        .split("#1 ")
        .skip(1)
        .filter_map(|s| s.split(" · sending ").nth(1))
        .filter_map(|s| s.split(" of 16 MiB").next())
        .collect();
    assert!(
        in_progress.iter().any(|b| *b != "0 B" && *b != "16 MiB"),
        "no progress of #1 drawn: {in_progress:?}\n{text}"
    );
    // Each drawn bar says its syscalls so far: a count read from the running perf group, or
    // n/a without perf (never a 0 standing for unknown).
    let drawn: Vec<&str> = text
        .split("· sending ")
        .skip(1)
        .filter_map(|s| s.split(" so far").next())
        .collect();
    assert!(!drawn.is_empty(), "{text}");
    for d in &drawn {
        let syscalls = d.split(" · syscalls ").nth(1).unwrap_or("");
        assert!(
            syscalls.starts_with(|c: char| c.is_ascii_digit())
                || syscalls.starts_with("n/a (no perf)"),
            "{d}"
        );
    }
    assert!(text.contains("read-write · "), "totals line: {text}");
    // The final line of the connection and the summary are still there.
    assert!(
        text.contains("#1 ")
            && text.contains(" · HTTP 200 · 16 MiB · ")
            && text.contains(" · complete"),
        "{text}"
    );
    // Reading the running counters from the view's thread added nothing to the serving
    // thread's: read-write's model exactly, 128 KiB per pread64, one write more for the head.
    assert!(
        text.contains("pread64 128, write 129)"),
        "the measured line must keep the model's syscalls: {text}"
    );
    assert!(text.contains("MiB/s median"), "summary table: {text}");
    assert!(text.contains("1 (1 complete)"), "summary table: {text}");
}
