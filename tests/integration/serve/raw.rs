//! `copylab serve` in raw mode (the file is sent on connect): every method over TCP and a Unix
//! socket to nc, socat and `copylab fetch`; the text output; clients that leave early; file
//! descriptors over many connections; concurrency; bind errors; signals; a file that changes.

use crate::util::*;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

/// `--listen 127.0.0.1:0`, or `--unix DIR/serve.sock`.
fn listen_args(unix: bool, dir: &Path) -> Vec<String> {
    if unix {
        vec![
            "--unix".into(),
            path_str(&dir.join("serve.sock")).to_string(),
        ]
    } else {
        vec!["--listen".into(), "127.0.0.1:0".into()]
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// One server per (method, transport), three clients at once (nc, socat, copylab fetch), each
/// must get the file byte for byte; then the server exits by itself after `--count 3`.
fn raw_delivery(method: &str, unix: bool) {
    require!(Need::tool("nc"), Need::tool("socat"));
    let dir = tempdir();
    // Not a multiple of anything: a wrong chunk boundary or offset changes the hash.
    let size = MIB + 12_345;
    let file = write_file(dir.path(), "data.bin", size, 0xA11CE ^ method.len() as u64);
    let want = sha256_file(&file);

    let mut args = vec![
        "--method".to_string(),
        method.into(),
        "--count".into(),
        "3".into(),
    ];
    args.extend(listen_args(unix, dir.path()));
    let mut srv = Server::start(&file, &strs(&args));
    let l = &srv.listening;
    assert_eq!(l["transport"], if unix { "unix" } else { "tcp" }, "{l}");
    assert_eq!(l["http"], false, "{l}");
    assert_eq!(l["method"], method, "{l}");
    assert_eq!(l["bytes"].as_u64(), Some(size), "{l}");
    assert_eq!(l["file"], path_str(&file), "{l}");
    match &srv.addr {
        Addr::Tcp(a) => assert!(a.starts_with("127.0.0.1:") && !a.ends_with(":0"), "{l}"),
        Addr::Unix(p) => assert_eq!(p, &dir.path().join("serve.sock"), "{l}"),
    }

    let addr = srv.addr.clone();
    let (nc_out, socat_out, fetch_out) = (
        dir.path().join("nc.out"),
        dir.path().join("socat.out"),
        dir.path().join("fetch.out"),
    );
    let (nc, socat, fetched) = std::thread::scope(|s| {
        let nc = s.spawn(|| nc_fetch(&addr, &nc_out));
        let socat = s.spawn(|| socat_fetch(&addr, &socat_out));
        let fetched = s.spawn(|| fetch_json(&addr.target(), &["--out", path_str(&fetch_out)]));
        (
            nc.join().expect("nc thread"),
            socat.join().expect("socat thread"),
            fetched.join().expect("fetch thread"),
        )
    });
    nc.assert_ok();
    socat.assert_ok();
    for (who, out) in [
        ("nc", &nc_out),
        ("socat", &socat_out),
        ("copylab fetch", &fetch_out),
    ] {
        let got = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
        assert_eq!(
            got,
            size,
            "{who} received {got} of {size} bytes\n{}",
            srv.dump()
        );
        assert_eq!(sha256_file(out), want, "{who} received different bytes");
    }
    let c = &fetched["connections"][0];
    assert_eq!(c["bytes"].as_u64(), Some(size), "{fetched}");
    assert_eq!(c["sha256"], want.as_str(), "{fetched}");
    assert_eq!(c["error"], Value::Null, "{fetched}");
    assert_eq!(c["http_status"], Value::Null, "{fetched}");
    assert_eq!(fetched["bytes"].as_u64(), Some(size), "{fetched}");

    let mut recs = srv.connections(3);
    recs.sort_by_key(|r| r["id"].as_u64());
    let ids: Vec<u64> = recs.iter().filter_map(|r| r["id"].as_u64()).collect();
    assert_eq!(ids, [1, 2, 3], "connection ids\n{}", srv.dump());
    for r in &recs {
        let ctx = format!("{method} raw over {}", if unix { "unix" } else { "tcp" });
        assert_complete(r, method, size, &ctx);
        assert_syscall_shape(r, method, size, &ctx);
        assert_eq!(r["http_status"], Value::Null, "{ctx}: {r}");
        let peer = r["peer"].as_str().unwrap_or("");
        if unix {
            assert_eq!(peer, "unix", "{ctx}: {r}");
        } else {
            assert!(peer.starts_with("127.0.0.1:"), "{ctx}: {r}");
        }
    }
    let st = srv.wait_exit(WAIT);
    assert_eq!(
        st.code(),
        Some(0),
        "server exit after --count 3\n{}",
        srv.dump()
    );
    assert_eq!(srv.events("connection").len(), 3, "{}", srv.dump());
    assert_summary(&srv.summary(), method, 3, size, method);
    assert!(
        !dir.path().join("serve.sock").exists(),
        "the Unix socket file must be removed at exit"
    );
    assert!(!srv.stderr().contains("panicked"), "{}", srv.dump());
}

per_method!(raw_over_tcp, every_path, |m| raw_delivery(m, false));

per_method!(raw_over_unix, unix_paths, |m| raw_delivery(m, true));

/// The `try:` line of a text-mode server, without the trailing hint.
fn try_command(srv: &Server) -> String {
    let line = srv
        .seen
        .iter()
        .find(|l| l.starts_with("try: "))
        .unwrap_or_else(|| panic!("no try: line\n{}", srv.dump()));
    line.trim_start_matches("try: ")
        .split("    (")
        .next()
        .unwrap()
        .to_string()
}

/// Text mode: the header line, the `try:` line (which must work as printed), one `#1` line and
/// the summary table. `listen` is `--listen ADDR` / `--unix PATH`.
fn text_mode(listen: &[String], http: bool) {
    let unix = listen.iter().any(|a| a == "--unix");
    // The client the try: line names.
    require!(Need::tool(match (unix, http) {
        (_, true) => "curl",
        (false, false) => "nc",
        (true, false) => "socat",
    }));
    let dir = tempdir();
    let size = 200_000;
    let file = write_file(dir.path(), "data.bin", size, 7);
    let mut args = vec![
        "--count".to_string(),
        "1".into(),
        "--color".into(),
        "never".into(),
    ];
    if http {
        args.push("--http".into());
    }
    args.extend_from_slice(listen);
    let mut srv = Server::start_text(&file, &strs(&args));
    // A second line (try:) follows at once.
    assert!(srv.next_line(WAIT).is_some(), "{}", srv.dump());
    let first = srv.seen[0].clone();
    let kind = if unix { "unix" } else { "tcp" };
    let mode = if http { "HTTP" } else { "raw" };
    let expected_start = format!("copylab serve: {} (", path_str(&file));
    assert!(first.starts_with(&expected_start), "{first}");
    assert!(
        first.contains(&format!("with sendfile, {mode} over {kind} on ")),
        "{first}"
    );
    // Run the suggested command exactly as printed, in the temp dir (it writes ./copy).
    let cmd = try_command(&srv);
    let expected = match (&srv.addr, http) {
        (Addr::Tcp(a), false) => {
            let (h, p) = a.rsplit_once(':').unwrap();
            let h = h.trim_start_matches('[').trim_end_matches(']');
            format!("nc -d {h} {p} > copy")
        }
        (Addr::Tcp(a), true) => {
            format!("curl -o copy http://{a}/")
        }
        (Addr::Unix(p), false) => {
            format!("socat -u UNIX-CONNECT:{} - > copy", p.display())
        }
        (Addr::Unix(p), true) => {
            format!(
                "curl --unix-socket {} -o copy http://localhost/",
                p.display()
            )
        }
    };
    assert_eq!(cmd, expected, "{first}");
    let sh = format!("cd '{}' && {cmd}", path_str(dir.path()));
    let r = Cmd::new("/bin/sh", &["-c", &sh]).timeout(WAIT).run();
    assert_eq!(
        r.code,
        Some(0),
        "the try: command failed\n{}\n{}",
        r.dump(),
        srv.dump()
    );
    assert_eq!(
        sha256_file(&dir.path().join("copy")),
        sha256_file(&file),
        "the try: command did not fetch the file"
    );

    let st = srv.wait_exit(WAIT);
    assert_eq!(st.code(), Some(0), "{}", srv.dump());
    let out = srv.seen.join("\n");
    let conn = srv
        .seen
        .iter()
        .find(|l| l.starts_with("#1 "))
        .unwrap_or_else(|| panic!("no '#1 ' line\n{out}"));
    assert!(conn.contains("complete"), "{conn}");
    if unix {
        assert!(conn.starts_with("#1 unix "), "{conn}");
    } else if let Addr::Tcp(a) = &srv.addr {
        let host = a.rsplit_once(':').unwrap().0;
        assert!(conn.starts_with(&format!("#1 {host}:")), "{conn}");
    }
    assert_eq!(conn.contains(" · HTTP 200 · "), http, "{conn}");
    assert_eq!(
        srv.seen.iter().filter(|l| l.starts_with('#')).count(),
        1,
        "one line per connection\n{out}"
    );
    assert!(out.contains("connections"), "no summary table\n{out}");
    assert!(
        out.contains("1 (1 complete)"),
        "summary table counts\n{out}"
    );
    assert!(out.contains("sendfile"), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "--color never printed escapes\n{out}"
    );
    assert!(!out.contains("\"event\""), "JSON in text mode\n{out}");
}

fn tcp_listen() -> Vec<String> {
    vec!["--listen".into(), "127.0.0.1:0".into()]
}

#[test]
fn text_mode_tcp() {
    text_mode(&tcp_listen(), false);
}

#[test]
fn text_mode_unix() {
    let dir = tempdir();
    text_mode(&listen_args(true, dir.path()), false);
}

#[test]
fn text_mode_http_tcp() {
    text_mode(&tcp_listen(), true);
}

#[test]
fn text_mode_http_unix() {
    let dir = tempdir();
    text_mode(&listen_args(true, dir.path()), true);
}

#[test]
fn text_mode_ipv6_try_line_works() {
    require!(Need::that(
        std::net::TcpListener::bind("[::1]:0").is_ok(),
        "no IPv6 loopback on this machine"
    ));
    text_mode(&["--listen".into(), "[::1]:0".into()], false);
}

/// Read `n` bytes, then let the socket go: the server is mid-transfer (4 MiB).
fn read_some_then_close<S: Read>(mut s: S, n: usize) {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).expect("first bytes");
}

fn reset_after_reading(addr: &str, n: usize) {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = vec![0u8; n];
    (&s).read_exact(&mut buf).expect("first bytes");
    // SO_LINGER 0: close sends a RST at once.
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::Linger, &linger)
        .expect("SO_LINGER");
    drop(s);
}

/// A record of a client that left after a few KiB of a 4 MiB transfer: client-closed (or, if
/// the kernel happened to buffer everything first, complete).
fn assert_left_early(rec: &Value, size: u64, strict: bool, ctx: &str) {
    let outcome = rec["outcome"].as_str().unwrap_or("");
    if strict || outcome != "complete" {
        assert_eq!(outcome, "client-closed", "{ctx}: {rec}");
        let bytes = rec["bytes"].as_u64().unwrap();
        assert!(bytes < size, "{ctx}: {rec}");
        assert_eq!(rec["expected"].as_u64(), Some(size), "{ctx}: {rec}");
        assert!(
            rec["detail"]
                .as_str()
                .unwrap_or("")
                .contains("client closed"),
            "{ctx}: {rec}"
        );
        assert!(
            rec["cost"].is_object(),
            "{ctx}: the transfer started: {rec}"
        );
    } else {
        assert_eq!(rec["bytes"].as_u64(), Some(size), "{ctx}: {rec}");
    }
}

/// Clients that leave mid-transfer (close, reset) do not disturb the server: the next client
/// gets the exact file, over TCP and over a Unix socket.
fn client_disconnect(method: &str) {
    let dir = tempdir();
    let size = 4 * MIB;
    let file = write_file(dir.path(), "big.bin", size, 99);
    let want = sha256_file(&file);

    // TCP: close after 4 KiB, reset after 4 KiB, then a full fetch.
    let mut srv = Server::on_loopback(&file, method, &["--count", "3"]);
    let a = srv.addr.target();
    with_timeout("close after 4 KiB", WAIT, {
        let a = a.clone();
        move || read_some_then_close(TcpStream::connect(a).expect("connect"), 4096)
    });
    with_timeout("reset after 4 KiB", WAIT, {
        let a = a.clone();
        move || reset_after_reading(&a, 4096)
    });
    let out = dir.path().join("after.out");
    let f = fetch_json(&a, &["--out", path_str(&out)]);
    assert_eq!(f["connections"][0]["sha256"], want.as_str(), "{f}");
    assert_eq!(sha256_file(&out), want);
    let mut recs = srv.connections(3);
    recs.sort_by_key(|r| r["id"].as_u64());
    assert_left_early(&recs[0], size, false, &format!("{method} tcp close"));
    assert_left_early(&recs[1], size, false, &format!("{method} tcp reset"));
    assert_complete(&recs[2], method, size, &format!("{method} tcp after"));
    let st = srv.wait_exit(WAIT);
    assert_eq!(st.code(), Some(0), "{}", srv.dump());
    let sum = srv.summary();
    assert_eq!(sum["connections"].as_u64(), Some(3), "{sum}");
    assert_eq!(sum["errors"].as_u64(), Some(0), "{sum}");
    assert_eq!(
        sum["complete"].as_u64().unwrap() + sum["client_closed"].as_u64().unwrap(),
        3,
        "{sum}"
    );

    // Zero-copy sends are TCP-only (Unix sockets refuse them; see compare::paths).
    if TCP_ONLY.contains(&method) {
        return;
    }
    // Unix: its socket buffers cannot hold 4 MiB, so leaving early is always seen.
    let sock = dir.path().join("u.sock");
    let mut srv = Server::start(
        &file,
        &[
            "--method",
            method,
            "--unix",
            path_str(&sock),
            "--count",
            "2",
        ],
    );
    with_timeout("unix close after 4 KiB", WAIT, {
        let sock = sock.clone();
        move || read_some_then_close(UnixStream::connect(sock).expect("connect"), 4096)
    });
    let out = dir.path().join("after-unix.out");
    fetch_json(path_str(&sock), &["--out", path_str(&out)]);
    assert_eq!(sha256_file(&out), want);
    let mut recs = srv.connections(2);
    recs.sort_by_key(|r| r["id"].as_u64());
    assert_left_early(&recs[0], size, true, &format!("{method} unix close"));
    assert_complete(&recs[1], method, size, &format!("{method} unix after"));
    let st = srv.wait_exit(WAIT);
    assert_eq!(st.code(), Some(0), "{}", srv.dump());
    let sum = srv.summary();
    assert_eq!(sum["client_closed"].as_u64(), Some(1), "{sum}");
    assert_eq!(sum["complete"].as_u64(), Some(1), "{sum}");
}

per_method!(client_disconnect, every_path, client_disconnect);

/// 200 sequential connections (every tenth client leaving without reading) leave the server's
/// descriptor count where it started. rusage counters keep each connection fast; the HTTP
/// suite checks the perf-counter path.
fn no_fd_leak(method: &str) {
    let dir = tempdir();
    let size = 64 << 10;
    let file = write_file(dir.path(), "small.bin", size, 5);
    let want = sha256_file(&file);
    let mut srv = Server::on_loopback(&file, method, &["--max-conns", "1"]);
    // One worker thread serves every connection (--max-conns 1); it opens its counters and
    // buffer or pipe on its first connection and keeps them, so count after that one.
    {
        let mut s = TcpStream::connect(srv.addr.target()).expect("connect");
        let mut v = Vec::new();
        s.read_to_end(&mut v).expect("read to EOF");
        assert_eq!(v.len() as u64, size, "warm-up client");
    }
    srv.connection();
    let before = srv.fd_list();
    let a = srv.addr.target();
    let n = 200;
    with_timeout(
        "200 sequential clients",
        Duration::from_secs(60),
        move || {
            for i in 0..n {
                let mut s = TcpStream::connect(&a).expect("connect");
                if i % 10 == 9 {
                    continue; // leaves without reading a byte
                }
                s.set_read_timeout(Some(WAIT)).unwrap();
                let mut v = Vec::new();
                s.read_to_end(&mut v).expect("read to EOF");
                assert_eq!(v.len() as u64, size, "client {i}");
                if i % 50 == 0 {
                    assert_eq!(sha256_hex(&v), want, "client {i}");
                }
            }
        },
    );
    let recs = srv.connections(n);
    let after = srv.fd_list();
    assert_eq!(
        before,
        after,
        "{method}: open descriptors changed over {n} connections\n{}",
        srv.dump()
    );
    let complete = recs.iter().filter(|r| r["outcome"] == "complete").count();
    assert!(
        complete >= 180,
        "{complete} complete of {n}\n{}",
        srv.dump()
    );
    for r in &recs {
        let o = r["outcome"].as_str().unwrap_or("");
        assert!(o == "complete" || o == "client-closed", "{r}");
    }
    let sum = srv.stop();
    // The warm-up connection, then the n under test.
    assert_eq!(sum["connections"].as_u64(), Some(n as u64 + 1), "{sum}");
    assert_eq!(sum["errors"].as_u64(), Some(0), "{sum}");
}

per_method!(no_fd_leak, every_path, no_fd_leak);

/// 32 clients at once, each reading to EOF; every one gets the exact file.
fn concurrent_raw(unix: bool, max_conns: Option<&str>) {
    let dir = tempdir();
    let size = 512 << 10;
    let file = write_file(dir.path(), "data.bin", size, 32);
    let want = sha256_file(&file);
    let mut args = vec!["--count".to_string(), "32".into()];
    args.extend(listen_args(unix, dir.path()));
    if let Some(m) = max_conns {
        args.extend(["--max-conns".to_string(), m.to_string()]);
    }
    let mut srv = Server::start(&file, &strs(&args));
    if let Some(m) = max_conns {
        assert_eq!(
            srv.listening["max_conns"].as_u64(),
            m.parse().ok(),
            "{}",
            srv.dump()
        );
    }
    let addr = srv.addr.clone();
    let hashes = with_timeout(
        "32 concurrent clients",
        Duration::from_secs(60),
        move || {
            let hs: Vec<_> = (0..32)
                .map(|_| {
                    let addr = addr.clone();
                    std::thread::spawn(move || sha256_hex(&addr.connect().read_to_eof()))
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("client thread"))
                .collect::<Vec<_>>()
        },
    );
    for (i, h) in hashes.iter().enumerate() {
        assert_eq!(h, &want, "client {i} received different bytes");
    }
    let recs = srv.connections(32);
    for r in &recs {
        assert_complete(r, "sendfile", size, "concurrent raw");
    }
    let st = srv.wait_exit(WAIT);
    assert_eq!(st.code(), Some(0), "{}", srv.dump());
    assert_summary(&srv.summary(), "sendfile", 32, size, "concurrent raw");
}

#[test]
fn concurrent_32_raw_tcp() {
    concurrent_raw(false, None);
}

#[test]
fn concurrent_32_raw_unix_max_conns_8() {
    concurrent_raw(true, Some("8"));
}

#[test]
fn concurrent_32_raw_tcp_max_conns_8_read_write() {
    let dir = tempdir();
    let size = 300_000;
    let file = write_file(dir.path(), "data.bin", size, 33);
    let want = sha256_file(&file);
    let mut srv = Server::start(
        &file,
        &[
            "--method",
            "read-write",
            "--buffer",
            "64K",
            "--listen",
            "127.0.0.1:0",
            "--max-conns",
            "8",
            "--count",
            "32",
        ],
    );
    let a = srv.addr.target();
    let hashes = with_timeout(
        "32 concurrent clients",
        Duration::from_secs(60),
        move || {
            let hs: Vec<_> = (0..32)
                .map(|_| {
                    let a = a.clone();
                    std::thread::spawn(move || {
                        let mut s = TcpStream::connect(a).expect("connect");
                        s.set_read_timeout(Some(WAIT)).unwrap();
                        let mut v = Vec::new();
                        s.read_to_end(&mut v).expect("read");
                        sha256_hex(&v)
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("client"))
                .collect::<Vec<_>>()
        },
    );
    assert!(
        hashes.iter().all(|h| h == &want),
        "some client got different bytes"
    );
    for r in srv.connections(32) {
        assert_complete(&r, "read-write", size, "read-write 64K");
        // --buffer 64K: ceil(300000 / 65536) = 5 preads.
        assert_eq!(syscalls(&r, "pread64"), 5, "{r}");
    }
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
}

#[test]
fn listen_port_in_use() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 1000, 1);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let out = run(&["serve", path_str(&file), "--listen", &addr], &[]);
    assert_eq!(out.code, Some(1), "{}", out.dump());
    let err = out.stderr.trim_end();
    assert!(!err.contains('\n'), "one stderr line\n{}", out.dump());
    assert!(err.starts_with("copylab: "), "{}", out.dump());
    assert!(err.contains(&port), "must name the port\n{}", out.dump());
    assert!(
        err.contains("in use"),
        "must say the address is in use\n{}",
        out.dump()
    );
    assert!(out.stdout.is_empty(), "{}", out.dump());
    drop(taken);
}

#[test]
fn unix_path_is_a_regular_file() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 1000, 1);
    let victim = dir.path().join("precious.txt");
    std::fs::write(&victim, "do not delete me\n").unwrap();
    let out = run(
        &["serve", path_str(&file), "--unix", path_str(&victim)],
        &[],
    );
    assert_eq!(out.code, Some(1), "{}", out.dump());
    let err = out.stderr.trim_end();
    assert!(
        err.starts_with("copylab: ") && !err.contains('\n'),
        "{}",
        out.dump()
    );
    assert!(err.contains(path_str(&victim)), "{}", out.dump());
    assert!(err.contains("not a socket"), "{}", out.dump());
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "do not delete me\n",
        "the regular file must be untouched"
    );
}

#[test]
fn unix_stale_socket_is_replaced() {
    require!(Need::tool("socat"));
    let dir = tempdir();
    let size = 70_000;
    let file = write_file(dir.path(), "data.bin", size, 2);
    let sock = dir.path().join("stale.sock");
    drop(UnixListener::bind(&sock).unwrap());
    assert!(
        sock.exists(),
        "the stale socket file stays after its listener is gone"
    );
    let mut srv = Server::start(&file, &["--unix", path_str(&sock), "--count", "1"]);
    let out = dir.path().join("got");
    socat_fetch(&srv.addr, &out).assert_ok();
    assert_eq!(sha256_file(&out), sha256_file(&file));
    assert_complete(&srv.connection(), "sendfile", size, "stale socket");
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
    assert!(!sock.exists(), "socket removed at exit");
}

#[test]
fn unix_live_socket_is_refused_and_left_alone() {
    require!(Need::tool("nc"));
    let dir = tempdir();
    let size = 70_000;
    let file = write_file(dir.path(), "data.bin", size, 3);
    let sock = dir.path().join("live.sock");
    let mut first = Server::start(&file, &["--unix", path_str(&sock)]);
    let out = run(&["serve", path_str(&file), "--unix", path_str(&sock)], &[]);
    assert_eq!(out.code, Some(1), "{}", out.dump());
    let err = out.stderr.trim_end();
    assert!(
        err.starts_with("copylab: ") && !err.contains('\n'),
        "{}",
        out.dump()
    );
    assert!(err.contains("another server"), "{}", out.dump());
    // The first server still has its socket and serves.
    assert!(sock.exists(), "the live socket must stay");
    let got = dir.path().join("got");
    nc_fetch(&first.addr, &got).assert_ok();
    assert_eq!(sha256_file(&got), sha256_file(&file));
    // The refused server's liveness probe is itself a connection to the first server, so
    // there are two records; the last one is nc's.
    let sum = first.stop();
    assert!(
        sum["complete"].as_u64().unwrap() >= 1,
        "{sum}\n{}",
        first.dump()
    );
    assert_eq!(sum["errors"].as_u64(), Some(0), "{sum}");
}

#[test]
fn sigint_stops_gracefully() {
    let dir = tempdir();
    let size = 100_000;
    let file = write_file(dir.path(), "data.bin", size, 4);
    let sock = dir.path().join("s.sock");
    let mut srv = Server::start(&file, &["--unix", path_str(&sock)]);
    let out = dir.path().join("got");
    fetch_json(path_str(&sock), &["--out", path_str(&out)]);
    assert_eq!(sha256_file(&out), sha256_file(&file));
    assert_complete(&srv.connection(), "sendfile", size, "before SIGINT");
    let sum = srv.stop();
    assert_eq!(sum["connections"].as_u64(), Some(1), "{sum}");
    assert_eq!(sum["complete"].as_u64(), Some(1), "{sum}");
    assert!(!sock.exists(), "socket removed after SIGINT");
}

#[test]
fn sighup_stops_gracefully_and_removes_the_socket() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 5000, 4);
    let sock = dir.path().join("s.sock");
    let mut srv = Server::start(&file, &["--unix", path_str(&sock)]);
    srv.signal(Signal::SIGHUP);
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
    assert_eq!(srv.summary()["connections"].as_u64(), Some(0));
    assert!(!sock.exists(), "socket removed after SIGHUP");
}

#[test]
fn sigterm_stops_gracefully() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 5000, 4);
    let mut srv = Server::start(&file, &["--listen", "127.0.0.1:0"]);
    srv.signal(Signal::SIGTERM);
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
    let sum = srv.summary();
    assert_eq!(sum["connections"].as_u64(), Some(0), "{sum}");
    // Nothing more is accepted.
    assert!(TcpStream::connect(srv.addr.target()).is_err());
}

/// Wait until `path` is gone (the server dropped its listener after a first SIGINT).
fn wait_gone(path: &Path) {
    let deadline = std::time::Instant::now() + WAIT;
    while path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} still there",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn second_sigint_exits_130() {
    let dir = tempdir();
    let size = 4 * MIB;
    let file = write_file(dir.path(), "big.bin", size, 6);
    let sock = dir.path().join("s.sock");
    let mut srv = Server::start(&file, &["--unix", path_str(&sock)]);
    // A client that takes 1 KiB and stalls holds a transfer open.
    let mut slow = UnixStream::connect(&sock).unwrap();
    slow.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 1024];
    slow.read_exact(&mut buf).unwrap();
    srv.signal(Signal::SIGINT);
    // The acceptor saw the first one once it removed the socket; the transfer is still held.
    wait_gone(&sock);
    srv.signal(Signal::SIGINT);
    let st = srv.wait_exit(WAIT);
    assert_eq!(st.code(), Some(130), "second SIGINT\n{}", srv.dump());
    assert!(
        srv.events("summary").is_empty(),
        "no summary after the second SIGINT\n{}",
        srv.dump()
    );
    drop(slow);
}

/// One SIGINT with a stalled client: the server waits its grace period (5 s), cuts the
/// transfer, prints the record and the summary and exits 0.
#[test]
fn sigint_cuts_a_stalled_client_after_grace() {
    let dir = tempdir();
    let size = 4 * MIB;
    let file = write_file(dir.path(), "big.bin", size, 6);
    let sock = dir.path().join("s.sock");
    let mut srv = Server::start(&file, &["--unix", path_str(&sock)]);
    let mut slow = UnixStream::connect(&sock).unwrap();
    slow.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 1024];
    slow.read_exact(&mut buf).unwrap();
    srv.signal(Signal::SIGINT);
    let st = srv.wait_exit(WAIT);
    assert_eq!(st.code(), Some(0), "{}", srv.dump());
    let recs = srv.events("connection");
    assert_eq!(recs.len(), 1, "{}", srv.dump());
    assert_ne!(recs[0]["outcome"], "complete", "{}", srv.dump());
    assert!(recs[0]["bytes"].as_u64().unwrap() < size, "{}", srv.dump());
    let sum = srv.summary();
    assert_eq!(sum["connections"].as_u64(), Some(1), "{sum}");
    assert_eq!(sum["complete"].as_u64(), Some(0), "{sum}");
    drop(slow);
}

/// The file shrinks after start-up: every method stops at the new end, says file-changed, and
/// what was sent is a prefix of the original content.
#[test]
fn file_shrinks_while_served() {
    require!(Need::tool("nc"));
    let dir = tempdir();
    let size = MIB;
    let file = write_file(dir.path(), "data.bin", size, 8);
    let original = std::fs::read(&file).unwrap();
    let methods = ["read-write", "mmap", "sendfile", "splice"];
    let mut servers: Vec<Server> = methods
        .iter()
        .map(|m| Server::on_loopback(&file, m, &["--count", "1"]))
        .collect();
    let new_len = 300_000u64;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(new_len)
        .unwrap();
    for (m, srv) in methods.iter().zip(servers.iter_mut()) {
        let out = dir.path().join(format!("{m}.out"));
        nc_fetch(&srv.addr, &out).assert_ok();
        let got = std::fs::read(&out).unwrap();
        assert_eq!(
            &got[..],
            &original[..got.len()],
            "{m}: not a prefix of the file"
        );
        let r = srv.connection();
        assert_eq!(r["outcome"], "file-changed", "{m}: {r}");
        assert_eq!(r["expected"].as_u64(), Some(size), "{m}: {r}");
        assert_eq!(r["bytes"].as_u64(), Some(got.len() as u64), "{m}: {r}");
        assert!(
            r["detail"].as_str().unwrap().contains("file changed size"),
            "{m}: {r}"
        );
        if *m == "mmap" {
            // write() from a mapping that now ends early fails for the whole chunk the kernel
            // was copying (seen: 294912 of the 300000 bytes left), so mmap may stop short of
            // the new end; the bytes it did send are still a prefix.
            assert!(
                got.len() as u64 <= new_len,
                "mmap sent {} bytes\n{r}",
                got.len()
            );
        } else {
            assert_eq!(got.len() as u64, new_len, "{m}: {r}");
        }
        assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{m}\n{}", srv.dump());
        let sum = srv.summary();
        assert_eq!(sum["file_changed"].as_u64(), Some(1), "{m}: {sum}");
    }
}

/// The file grows after start-up: exactly the size taken at start-up is sent, and the record
/// says so.
#[test]
fn file_grows_while_served() {
    require!(Need::tool("nc"));
    let dir = tempdir();
    let size = 150_000u64;
    let file = write_file(dir.path(), "data.bin", size, 9);
    let original = std::fs::read(&file).unwrap();
    let mut srv = Server::start(&file, &["--listen", "127.0.0.1:0", "--count", "1"]);
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        f.write_all(&[0x55; 5000]).unwrap();
    }
    let out = dir.path().join("got");
    nc_fetch(&srv.addr, &out).assert_ok();
    assert_eq!(std::fs::read(&out).unwrap(), original);
    let r = srv.connection();
    assert_complete(&r, "sendfile", size, "grown file");
    assert!(r["detail"].as_str().unwrap().contains("grew"), "{r}");
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
}
