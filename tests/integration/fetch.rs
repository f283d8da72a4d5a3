//! `copylab fetch`: several connections, `--discard` and `--discard=truncate`, and every way a
//! fetch can fail (wrong protocol, short body, error status, nothing listening, bad flags),
//! which must exit non-zero and leave neither the `--out` file nor a temporary behind.

use crate::util::*;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// A failed fetch: non-zero exit, a `copylab: ` line on stderr mentioning `needle`, no `out`
/// file and no temporary left in its directory.
fn assert_failed_cleanly(r: &Out, out: &Path, needle: &str) {
    assert_eq!(r.code, Some(1), "{}", r.dump());
    assert!(!r.stderr.contains("panicked"), "{}", r.dump());
    let err = r.stderr.trim_end();
    assert!(!err.contains('\n'), "one stderr line\n{}", r.dump());
    assert!(err.starts_with("copylab: "), "{}", r.dump());
    assert!(
        err.contains(needle),
        "stderr must mention {needle:?}\n{}",
        r.dump()
    );
    assert!(
        !out.exists(),
        "{} must not exist after a failed fetch",
        out.display()
    );
    let dir = out.parent().unwrap();
    assert!(
        partial_leftovers(dir).is_empty(),
        "temporary files left: {:?}",
        partial_leftovers(dir)
    );
}

/// A one-connection fake server on 127.0.0.1 that reads the request (if any) and answers
/// `response`, then closes. Returns the address.
fn fake_server(response: Vec<u8>, read_request: bool) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        if read_request {
            let mut head = Vec::new();
            let mut b = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&b[..n]),
                }
            }
        }
        let _ = s.write_all(&response);
        let _ = s.shutdown(std::net::Shutdown::Write);
        // Wait for the client to go, so our close cannot reset what it has not read.
        let mut b = [0u8; 1024];
        while matches!(s.read(&mut b), Ok(n) if n > 0) {}
    });
    addr
}

#[test]
fn http_against_a_raw_server_fails_cleanly() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 200_000, 21);
    let mut srv = Server::start(&file, &["--listen", "127.0.0.1:0", "--count", "1"]);
    let (r, out, _d) = fetch_into(&srv.addr.target(), &["--http"]);
    assert_failed_cleanly(&r, &out, "failed");
    srv.connection();
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
}

#[test]
fn short_http_body_fails_cleanly() {
    let mut resp =
        b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n".to_vec();
    resp.extend_from_slice(&[7u8; 1000]);
    let (r, out, _d) = fetch_fake(&resp);
    assert_failed_cleanly(&r, &out, "1000 of 100000");
}

#[test]
fn http_response_without_content_length_fails() {
    let (r, out, _d) = fetch_fake(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody");
    assert_failed_cleanly(&r, &out, "Content-Length");
}

/// `copylab fetch ADDR FLAGS` into a fresh `--out` file: (result, out path, its dir).
fn fetch_into(addr: &str, flags: &[&str]) -> (Out, std::path::PathBuf, tempfile::TempDir) {
    let outdir = tempdir();
    let out = outdir.path().join("got.bin");
    let r = run(
        &[&["fetch", addr], flags, &["--out", path_str(&out)]].concat(),
        &[],
    );
    (r, out, outdir)
}

/// Fetch `response` from a fake server over HTTP into a fresh `--out` file.
fn fetch_fake(response: &[u8]) -> (Out, std::path::PathBuf, tempfile::TempDir) {
    fetch_into(&fake_server(response.to_vec(), true), &["--http"])
}

#[test]
fn two_different_content_lengths_fail_cleanly() {
    let (r, out, _d) = fetch_fake(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert_failed_cleanly(&r, &out, "conflicting Content-Length");
}

#[test]
fn content_length_with_chunked_framing_fails_cleanly() {
    let (r, out, _d) = fetch_fake(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_failed_cleanly(&r, &out, "conflicting framing");
    let (r, out, _d) =
        fetch_fake(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert_failed_cleanly(&r, &out, "Transfer-Encoding: chunked");
}

#[test]
fn a_signed_content_length_fails_cleanly() {
    let (r, out, _d) = fetch_fake(b"HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc");
    assert_failed_cleanly(&r, &out, "bad Content-Length");
}

#[test]
fn an_interim_100_continue_is_skipped() {
    let (r, out, _d) = fetch_fake(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    r.assert_ok();
    assert_eq!(std::fs::read(&out).unwrap(), b"hello");
}

/// A server that accepts, reads nothing and answers nothing, after sending `prefix`.
fn silent_server(prefix: &'static [u8]) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let _ = s.write_all(prefix);
        std::thread::sleep(Duration::from_secs(60));
        drop(s);
    });
    addr
}

#[test]
fn a_server_that_never_answers_times_out() {
    let addr = silent_server(b"");
    let (r, out, _d) = fetch_into(&addr, &["--http", "--timeout", "1"]);
    assert_failed_cleanly(&r, &out, "--timeout");
}

#[test]
fn a_server_that_stops_mid_body_times_out() {
    let addr = silent_server(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial");
    let (r, out, _d) = fetch_into(&addr, &["--http", "--timeout", "1"]);
    assert_failed_cleanly(&r, &out, "sent nothing for 1 s");
}

#[test]
fn a_declared_length_beyond_the_free_space_is_refused() {
    let (r, out, _d) =
        fetch_fake(b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nabc");
    assert_failed_cleanly(&r, &out, "no room");
}

/// A body that fits but would leave --out's file system with less than the margin
/// (max(1 GiB, 5%)) free is refused before a byte is written.
#[test]
fn a_declared_length_that_leaves_less_than_the_margin_free_is_refused() {
    let Some(fs) = SmallTmpfs::mount(256 << 20) else {
        return;
    };
    let addr = fake_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\nabc".to_vec(),
        true,
    );
    let out = fs.path().join("got.bin");
    let r = run(&["fetch", &addr, "--http", "--out", path_str(&out)], &[]);
    assert_failed_cleanly(&r, &out, "256 MiB file system");
    assert!(r.stderr.contains("--out"), "{}", r.dump());
}

#[test]
fn a_body_past_max_size_is_cut() {
    // Raw mode: no declared length, so the count stops it.
    let addr = fake_server(vec![9u8; 300_000], false);
    let (r, out, _d) = fetch_into(&addr, &["--max-size", "100K"]);
    assert_failed_cleanly(&r, &out, "more than --max-size 102400");
    // HTTP: a declared length over the limit fails before the body.
    let addr = fake_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\nabc".to_vec(),
        true,
    );
    let r = run(
        &[
            "fetch",
            &addr,
            "--http",
            "--max-size",
            "100K",
            "--out",
            path_str(&out),
        ],
        &[],
    );
    assert_failed_cleanly(&r, &out, "more than --max-size 102400");
}

#[test]
fn server_closing_before_a_response_head_fails() {
    let (r, out, _d) = fetch_fake(b"HTTP/1.1 200 OK\r\nContent-Le");
    assert_failed_cleanly(&r, &out, "before a complete response head");
}

#[test]
fn http_404_fails_and_keeps_an_existing_file() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 50_000, 22);
    let mut srv = Server::start(
        &file,
        &["--http", "--listen", "127.0.0.1:0", "--count", "2"],
    );
    let outdir = tempdir();
    let out = outdir.path().join("got.bin");
    std::fs::write(&out, "old content").unwrap();
    let r = run(
        &[
            "fetch",
            &srv.addr.target(),
            "--http",
            "--path",
            "/nope",
            "--out",
            path_str(&out),
            "--json",
        ],
        &[],
    );
    assert_eq!(r.code, Some(1), "{}", r.dump());
    assert!(r.stderr.contains("404"), "{}", r.dump());
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON even on failure");
    assert_eq!(
        v["connections"][0]["http_status"].as_u64(),
        Some(404),
        "{v}"
    );
    assert!(v["connections"][0]["error"].is_string(), "{v}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "old content",
        "a failed fetch must not touch an existing --out file"
    );
    assert!(partial_leftovers(outdir.path()).is_empty());
    // A good fetch replaces it; --path /<file name> works.
    let f = fetch_json(
        &srv.addr.target(),
        &["--http", "--path", "/data.bin", "--out", path_str(&out)],
    );
    assert_eq!(
        f["connections"][0]["http_status"].as_u64(),
        Some(200),
        "{f}"
    );
    assert_eq!(sha256_file(&out), sha256_file(&file));
    assert!(partial_leftovers(outdir.path()).is_empty());
    let recs = srv.connections(2);
    assert_eq!(
        recs.iter().filter(|r| r["outcome"] == "rejected").count(),
        1
    );
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
}

#[test]
fn nothing_listening_is_a_one_line_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let outdir = tempdir();
    let out = outdir.path().join("got.bin");
    let target = format!("127.0.0.1:{port}");
    let r = run(&["fetch", &target, "--out", path_str(&out)], &[]);
    assert_failed_cleanly(&r, &out, "cannot connect");
    assert!(r.stderr.contains(&target), "{}", r.dump());
    // And a Unix socket path that does not exist.
    let sock = outdir.path().join("none.sock");
    let r = run(&["fetch", path_str(&sock), "--discard"], &[]);
    assert_eq!(r.code, Some(1), "{}", r.dump());
    let err = r.stderr.trim_end();
    assert!(
        err.starts_with("copylab: ") && !err.contains('\n'),
        "{}",
        r.dump()
    );
    assert!(err.contains("cannot connect"), "{}", r.dump());
}

#[test]
fn neither_out_nor_discard_is_an_error() {
    let r = run(&["fetch", "127.0.0.1:9"], &[]);
    assert_ne!(r.code, Some(0), "{}", r.dump());
    let err = r.stderr.trim_end();
    assert!(
        err.starts_with("copylab: ") && !err.contains('\n'),
        "{}",
        r.dump()
    );
    assert!(
        err.contains("--out") && err.contains("--discard"),
        "{}",
        r.dump()
    );
    assert!(r.stdout.is_empty(), "{}", r.dump());
}

#[test]
fn bad_fetch_arguments() {
    let dir = tempdir();
    let out = dir.path().join("x");
    for (args, needle) in [
        (
            vec![
                "fetch",
                "127.0.0.1:9",
                "--out",
                path_str(&out),
                "--connections",
                "2",
            ],
            "--connections",
        ),
        (vec!["fetch", "no-port-here", "--discard"], "HOST:PORT"),
        (
            vec!["fetch", "127.0.0.1:9", "--out", path_str(dir.path())],
            "directory",
        ),
    ] {
        let r = run(&args, &[]);
        assert_eq!(r.code, Some(1), "{args:?}\n{}", r.dump());
        let err = r.stderr.trim_end();
        assert!(
            err.starts_with("copylab: ") && !err.contains('\n'),
            "{}",
            r.dump()
        );
        assert!(err.contains(needle), "{args:?}: {needle}\n{}", r.dump());
    }
    // Values a flag can never take are clap's errors: exit 2, naming the flag.
    for (args, flag) in [
        (
            vec!["fetch", "127.0.0.1:9", "--discard", "--connections", "0"],
            "--connections",
        ),
        (
            vec!["fetch", "127.0.0.1:9", "--discard", "--http", "--path", "x"],
            "--path",
        ),
    ] {
        let r = run(&args, &[]);
        assert_eq!(r.code, Some(2), "{args:?}\n{}", r.dump());
        assert!(
            r.stderr.contains(&format!("'{flag} ")),
            "{args:?}\n{}",
            r.dump()
        );
    }
    assert!(!out.exists());
    assert!(partial_leftovers(dir.path()).is_empty());
}

/// Four connections at once with --discard: each reports the source's SHA-256.
fn four_connections(http: bool, unix: bool) {
    let dir = tempdir();
    let size = 700_001;
    let file = write_file(dir.path(), "data.bin", size, 23);
    let want = sha256_file(&file);
    let sock = dir.path().join("f.sock");
    let mut args = vec!["--count", "4"];
    if http {
        args.push("--http");
    }
    if unix {
        args.extend(["--unix", path_str(&sock)]);
    } else {
        args.extend(["--listen", "127.0.0.1:0"]);
    }
    let mut srv = Server::start(&file, &args);
    let mut fargs = vec!["--connections", "4", "--discard"];
    if http {
        fargs.push("--http");
    }
    let v = fetch_json(&srv.addr.target(), &fargs);
    let conns = v["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 4, "{v}");
    let mut ids: Vec<u64> = conns.iter().filter_map(|c| c["id"].as_u64()).collect();
    ids.sort();
    assert_eq!(ids, [1, 2, 3, 4], "{v}");
    for c in conns {
        assert_eq!(c["bytes"].as_u64(), Some(size), "{c}");
        assert_eq!(c["sha256"], want.as_str(), "{c}");
        assert_eq!(c["error"], Value::Null, "{c}");
        if http {
            assert_eq!(c["http_status"].as_u64(), Some(200), "{c}");
            assert_eq!(c["content_length"].as_u64(), Some(size), "{c}");
        } else {
            assert_eq!(c["http_status"], Value::Null, "{c}");
            assert_eq!(c["content_length"], Value::Null, "{c}");
        }
        assert!(
            c["wall_ns"].is_u64() && c["throughput_mib_s"].is_number(),
            "{c}"
        );
    }
    assert_eq!(v["bytes"].as_u64(), Some(4 * size), "{v}");
    assert!(
        v["wall_ns"].is_u64() && v["aggregate_mib_s"].is_number(),
        "{v}"
    );
    for r in srv.connections(4) {
        assert_complete(&r, "sendfile", size, "4 connections");
    }
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
}

#[test]
fn four_connections_raw_tcp() {
    four_connections(false, false);
}

#[test]
fn four_connections_http_unix() {
    four_connections(true, true);
}

#[test]
fn four_connections_text_output() {
    let dir = tempdir();
    let size = 123_457;
    let file = write_file(dir.path(), "data.bin", size, 24);
    let mut srv = Server::start(&file, &["--listen", "127.0.0.1:0", "--count", "4"]);
    let r = run(&["fetch", &srv.addr.target(), "-c", "4", "--discard"], &[]);
    r.assert_ok();
    assert!(r.stdout.contains("4 connections"), "{}", r.dump());
    assert!(
        r.stdout.contains("all connections received the same bytes"),
        "{}",
        r.dump()
    );
    srv.connections(4);
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
}

#[test]
fn discard_truncate_counts_without_hashing() {
    let dir = tempdir();
    let size = 2 * MIB + 3;
    let file = write_file(dir.path(), "data.bin", size, 25);
    for http in [false, true] {
        let mut args = vec!["--listen", "127.0.0.1:0", "--count", "2"];
        if http {
            args.push("--http");
        }
        let mut srv = Server::start(&file, &args);
        let mut fargs = vec!["--discard=truncate"];
        if http {
            fargs.push("--http");
        }
        let v = fetch_json(&srv.addr.target(), &fargs);
        let c = &v["connections"][0];
        assert_eq!(c["bytes"].as_u64(), Some(size), "http={http}: {v}");
        assert_eq!(c["sha256"], Value::Null, "http={http}: {v}");
        assert_eq!(c["error"], Value::Null, "http={http}: {v}");
        // Text mode says why there is no hash.
        let mut targs = vec!["fetch", "--discard=truncate"];
        let t = srv.addr.target();
        targs.push(&t);
        if http {
            targs.push("--http");
        }
        let r = run(&targs, &[]);
        r.assert_ok();
        assert!(r.stdout.contains(&format!("{size} bytes")), "{}", r.dump());
        assert!(r.stdout.contains("sha256 n/a"), "{}", r.dump());
        srv.connections(2);
        assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
    }
}

#[test]
fn out_text_output_names_the_file_and_hash() {
    let dir = tempdir();
    let size = 333_333;
    let file = write_file(dir.path(), "data.bin", size, 26);
    let mut srv = Server::start(&file, &["--listen", "127.0.0.1:0", "--count", "1"]);
    let outdir = tempdir();
    let out = outdir.path().join("copy.bin");
    let r = run(&["fetch", &srv.addr.target(), "--out", path_str(&out)], &[]);
    r.assert_ok();
    let want = sha256_file(&file);
    assert!(r.stdout.contains(&format!("sha256 {want}")), "{}", r.dump());
    assert!(
        r.stdout.contains(&format!("written to {}", out.display())),
        "{}",
        r.dump()
    );
    assert_eq!(sha256_file(&out), want);
    let names: Vec<String> = std::fs::read_dir(outdir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["copy.bin"], "only the output file remains");
    srv.connection();
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
}

/// Ctrl-C during a fetch that is waiting for data should stop it: non-zero exit, no file.
#[test]
fn sigint_stops_a_stalled_fetch() {
    signal_stops_a_stalled_fetch(nix::sys::signal::Signal::SIGINT);
}

#[test]
fn sighup_removes_the_partial_file_too() {
    signal_stops_a_stalled_fetch(nix::sys::signal::Signal::SIGHUP);
}

#[test]
fn sigquit_removes_the_partial_file_too() {
    signal_stops_a_stalled_fetch(nix::sys::signal::Signal::SIGQUIT);
}

/// A fetch stalled mid-body ends within 5 s of `sig`, non-zero, leaving no file behind.
fn signal_stops_a_stalled_fetch(sig: nix::sys::signal::Signal) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let outdir = tempdir();
    let out = outdir.path().join("got.bin");
    let child = Cmd::copylab(&["fetch", &addr, "--out", path_str(&out)])
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut child = scopeguard(child);
    let (mut s, _) = l.accept().unwrap();
    s.write_all(&[1u8; 1000]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(pid, sig).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            break Some(st);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Let it finish either way, then judge.
    let _ = s.write_all(&[2u8; 1000]);
    drop(s);
    let status = status.unwrap_or_else(|| panic!("fetch still running 5 s after {sig}"));
    assert_ne!(status.code(), Some(0), "fetch succeeded after {sig}");
    assert!(!out.exists());
    assert!(
        partial_leftovers(outdir.path()).is_empty(),
        "{sig} left {:?}",
        partial_leftovers(outdir.path())
    );
}

/// Kills the child when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn scopeguard(c: std::process::Child) -> KillOnDrop {
    KillOnDrop(c)
}

#[test]
fn more_connections_than_the_thread_limit_is_one_error_with_what_finished() {
    require!(
        Need::tool("setpriv"),
        Need::tool("prlimit"),
        Need::root("to run the client as nobody (root ignores ulimit -u)")
    );
    let dir = world_readable_dir();
    // Each connection paced to about a second, so the threads that started are all still alive
    // when the 41st is asked for (100 KB unpaced could end before the next one started).
    let size = 1_000_000;
    let file = write_file(dir.path(), "data.bin", size, 31);
    let bin = copy_bin_to(dir.path());
    let mut srv = Server::start(&file, &["--listen", "127.0.0.1:0", "--link", "8mbit"]);
    let target = srv.addr.target();
    let tmp = world_writable_dir();
    // As nobody with at most 40 threads: 100 connections cannot all start.
    let r = run_as_nobody(
        &tool("prlimit"),
        &[
            "--nproc=40",
            path_str(&bin),
            "fetch",
            &target,
            "--discard",
            "--connections",
            "100",
            "--json",
        ],
        tmp.path(),
    );
    assert_eq!(r.code, Some(1), "{}", r.dump());
    assert!(!r.stderr.contains("panicked"), "{}", r.dump());
    let err = r.stderr.trim_end();
    assert!(!err.contains('\n'), "one stderr line\n{}", r.dump());
    assert!(
        err.contains("of 100 connections could start"),
        "{}",
        r.dump()
    );
    assert!(err.contains("ulimit -u"), "{}", r.dump());
    let v: Value = serde_json::from_str(&r.stdout).expect("what finished, as JSON");
    let conns = v["connections"].as_array().expect("connections");
    assert!(!conns.is_empty() && conns.len() < 100, "{}", r.dump());
    for c in conns {
        assert_eq!(c["bytes"], size, "{c}");
    }
    srv.stop();
}

/// What a server says about itself — its reason phrase, a header value quoted in an error — is
/// printed escaped: a server cannot write escape sequences to the terminal of whoever fetches.
#[test]
fn a_servers_words_with_escape_sequences_are_printed_escaped() {
    for (response, quoted) in [
        (
            &b"HTTP/1.1 500 \x1b]2;PWN\x07\x1b[2J\r\nContent-Length: 0\r\n\r\n"[..],
            r"500 \x1b]2;PWN\x07\x1b[2J",
        ),
        (
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: \x1b[2Jchunked\r\n\r\n"[..],
            r"Transfer-Encoding: \x1b[2Jchunked",
        ),
        (
            // U+009B, CSI as one (C1) character, in UTF-8.
            &b"HTTP/1.1 200 OK\r\nContent-Length: \xc2\x9b2J\r\n\r\n"[..],
            r#"bad Content-Length: "\u{9b}2J""#,
        ),
    ] {
        let (r, out, _d) = fetch_fake(response);
        assert_failed_cleanly(&r, &out, quoted);
        assert!(
            !r.stderr.contains(['\u{1b}', '\u{7}', '\u{9b}']),
            "a raw escape reached stderr\n{}",
            r.dump()
        );
    }
}

/// `--connections` is capped (one thread per connection: 100,000 of them exhausted
/// vm.max_map_count and aborted the process): above the cap is a usage error naming the flag
/// and the cap; at the cap, against nothing listening, every connection fails cleanly.
#[test]
fn connections_are_capped_and_the_cap_never_aborts() {
    let r = run(
        &[
            "fetch",
            "127.0.0.1:9",
            "--discard",
            "--connections",
            "100000",
            "--timeout",
            "1",
        ],
        &[],
    );
    assert_eq!(r.code, Some(2), "{}", r.dump());
    assert!(
        r.stderr.contains("'--connections ") && r.stderr.contains("1024"),
        "{}",
        r.dump()
    );
    let r = run(
        &[
            "fetch",
            "127.0.0.1:9",
            "--discard",
            "--connections",
            "1024",
            "--timeout",
            "1",
            "--json",
        ],
        &[],
    );
    assert_eq!(r.code, Some(1), "{}", r.dump());
    assert!(!r.stderr.contains("panicked"), "{}", r.dump());
    assert!(
        !r.stderr.trim_end().contains('\n')
            && r.stderr.contains("1024 of 1024 connection(s) failed"),
        "one error line\n{}",
        r.dump()
    );
}

/// `--out -` writes the body to stdout, byte for byte, and the results to stderr: `-` means
/// stdout for every output flag. No file named `-` is made.
#[test]
fn out_dash_writes_the_body_to_stdout() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 300_000, 77);
    let mut srv = Server::start(&file, &["--listen", "127.0.0.1:0"]);
    let got = dir.path().join("stdout.bin");
    let r = Cmd::copylab(&["fetch", &srv.addr.target(), "--out", "-", "--json"])
        .stdout_to(&got)
        .timeout(WAIT)
        .run();
    r.assert_ok();
    assert_eq!(sha256_file(&got), sha256_file(&file), "stdout is the body");
    let v: Value = serde_json::from_str(&r.stderr).unwrap_or_else(|e| panic!("{e}\n{}", r.dump()));
    assert_eq!(v["connections"][0]["bytes"], 300_000, "{v}");
    assert!(!Path::new("-").exists() && !dir.path().join("-").exists());
    srv.stop();
}

/// A 206 that is not the range asked for, and not that range cut at the end of the file, is
/// refused (it used to be accepted whenever it ended early).
#[test]
fn a_short_206_that_is_not_cut_at_the_end_is_refused() {
    let addr = fake_server(
        b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/100\r\nContent-Length: 5\r\n\r\nhello"
            .to_vec(),
        true,
    );
    let r = run(
        &["fetch", &addr, "--http", "--range", "0-9", "--discard"],
        &[],
    );
    assert_eq!(r.code, Some(1), "{}", r.dump());
    assert!(r.stderr.contains("not the range asked for"), "{}", r.dump());
}
