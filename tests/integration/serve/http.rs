//! `copylab serve --http`: every method over TCP and a Unix socket to curl and `copylab fetch
//! --http`; the error statuses (400, 404, 405, 408, 431, 505) from raw requests; HEAD; many
//! clients at once and `--max-conns`; clients that leave; descriptors across mixed outcomes.

use crate::util::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn listen_args(unix: bool, dir: &Path) -> Vec<String> {
    if unix {
        vec![
            "--unix".into(),
            path_str(&dir.join("http.sock")).to_string(),
        ]
    } else {
        vec!["--listen".into(), "127.0.0.1:0".into()]
    }
}

/// One HTTP server per (method, transport); curl GET /, curl GET /data.bin and copylab fetch
/// --http at once; byte-exact; the server exits by itself after `--count 3`.
fn http_delivery(method: &str, unix: bool) {
    require!(Need::tool("curl"));
    let dir = tempdir();
    let size = MIB + 54_321;
    let file = write_file(dir.path(), "data.bin", size, 0xB0B ^ method.len() as u64);
    let want = sha256_file(&file);
    let mut args = vec![
        "--http".to_string(),
        "--method".into(),
        method.into(),
        "--count".into(),
        "3".into(),
    ];
    args.extend(listen_args(unix, dir.path()));
    let mut srv = Server::start(&file, &strs(&args));
    assert_eq!(srv.listening["http"], true, "{}", srv.listening);

    let addr = srv.addr.clone();
    let (root, named, fetched) = (
        dir.path().join("curl-root.out"),
        dir.path().join("curl-named.out"),
        dir.path().join("fetch.out"),
    );
    let (c1, c2, f) = std::thread::scope(|s| {
        let c1 = s.spawn(|| curl_fetch(&addr, "/", &root));
        let c2 = s.spawn(|| curl_fetch(&addr, "/data.bin", &named));
        let f = s.spawn(|| fetch_json(&addr.target(), &["--http", "--out", path_str(&fetched)]));
        (
            c1.join().expect("curl thread"),
            c2.join().expect("curl thread"),
            f.join().expect("fetch thread"),
        )
    });
    c1.assert_ok();
    c2.assert_ok();
    for (who, out) in [
        ("curl /", &root),
        ("curl /data.bin", &named),
        ("fetch", &fetched),
    ] {
        let got = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
        assert_eq!(got, size, "{who}: {got} of {size} bytes\n{}", srv.dump());
        assert_eq!(sha256_file(out), want, "{who} received different bytes");
    }
    let c = &f["connections"][0];
    assert_eq!(c["http_status"].as_u64(), Some(200), "{f}");
    assert_eq!(c["content_length"].as_u64(), Some(size), "{f}");
    assert_eq!(c["sha256"], want.as_str(), "{f}");

    let ctx = format!("{method} HTTP over {}", if unix { "unix" } else { "tcp" });
    for r in srv.connections(3) {
        assert_complete(&r, method, size, &ctx);
        assert_syscall_shape(&r, method, size, &ctx);
        assert_eq!(r["http_status"].as_u64(), Some(200), "{ctx}: {r}");
    }
    let st = srv.wait_exit(WAIT);
    assert_eq!(st.code(), Some(0), "{}", srv.dump());
    assert_summary(&srv.summary(), method, 3, size, &ctx);
    assert!(!srv.stderr().contains("panicked"), "{}", srv.dump());
}

per_method!(http_over_tcp, every_path, |m| http_delivery(m, false));

per_method!(http_over_unix, unix_paths, |m| http_delivery(m, true));

/// An error response: the status line, a Content-Length matching the plain-text body, and
/// Connection: close.
fn assert_error_response(r: &Response, status: u16, ctx: &str) {
    assert_eq!(r.status, status, "{ctx}: {r:?}");
    assert!(
        r.status_line.starts_with(&format!("HTTP/1.1 {status} ")),
        "{ctx}: {r:?}"
    );
    assert_eq!(r.content_length(), r.body.len() as u64, "{ctx}: {r:?}");
    assert_eq!(r.header("connection"), Some("close"), "{ctx}: {r:?}");
    let body = String::from_utf8_lossy(&r.body);
    assert!(
        body.starts_with(&format!("{status} ")),
        "{ctx}: body {body:?}"
    );
}

/// The record of a request answered with an error status.
fn assert_rejected(rec: &Value, status: u16, ctx: &str) {
    assert_eq!(rec["outcome"], "rejected", "{ctx}: {rec}");
    assert_eq!(
        rec["http_status"].as_u64(),
        Some(status as u64),
        "{ctx}: {rec}"
    );
    assert_eq!(rec["bytes"].as_u64(), Some(0), "{ctx}: {rec}");
    assert_eq!(rec["expected"].as_u64(), Some(0), "{ctx}: {rec}");
    assert_eq!(rec["cost"], Value::Null, "{ctx}: {rec}");
    assert!(
        rec["detail"]
            .as_str()
            .unwrap_or("")
            .starts_with(&status.to_string()),
        "{ctx}: {rec}"
    );
}

#[test]
fn http_errors_then_still_serving() {
    let dir = tempdir();
    let size = 100_000u64;
    let file = write_file(dir.path(), "data.bin", size, 11);
    let want = std::fs::read(&file).unwrap();
    let mut srv = Server::start(&file, &["--http", "--listen", "127.0.0.1:0"]);
    let addr = srv.addr.clone();

    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(9000)
    );
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("GET /nope", get("/nope"), 404),
        (
            "POST /",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".to_vec(),
            405,
        ),
        ("garbage", b"hello there\r\n\r\n".to_vec(), 400),
        (
            "HTTP/1.1 without Host",
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            400,
        ),
        ("malformed escape", get("/%zz"), 400),
        ("9000-byte header", big_header.into_bytes(), 431),
        (
            "HTTP/2.0",
            b"GET / HTTP/2.0\r\nHost: x\r\n\r\n".to_vec(),
            505,
        ),
        ("dot-dot", get("/../etc/passwd"), 404),
        ("escaped dot-dot", get("/%2e%2e/etc/passwd"), 404),
        ("absolute path", get("/etc/passwd"), 404),
        ("NUL in path", get("/%00"), 400),
        ("relative target", get("data.bin"), 400),
    ];
    for (what, req, status) in &cases {
        let r = http_exchange(&addr, req);
        assert_error_response(&r, *status, what);
        if *status == 405 {
            assert_eq!(r.header("allow"), Some("GET, HEAD"), "{what}: {r:?}");
        }
        let rec = srv.connection();
        assert_rejected(&rec, *status, what);
    }

    // HEAD: the head only, with the file's length.
    let r = http_exchange(&addr, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.content_length(), size, "{r:?}");
    assert!(
        r.body.is_empty(),
        "HEAD must not send a body: {} bytes",
        r.body.len()
    );
    let rec = srv.connection();
    assert_eq!(rec["outcome"], "complete", "{rec}");
    assert_eq!(rec["http_status"].as_u64(), Some(200), "{rec}");
    assert_eq!(rec["bytes"].as_u64(), Some(0), "{rec}");
    assert_eq!(rec["expected"].as_u64(), Some(0), "{rec}");

    // Every accepted spelling of a GET of the file.
    let gets: Vec<(&str, Vec<u8>)> = vec![
        ("GET /data.bin", get("/data.bin")),
        ("GET /data%2Ebin?x=1", get("/data%2Ebin?x=1")),
        ("HTTP/1.0 without Host", b"GET / HTTP/1.0\r\n\r\n".to_vec()),
        ("bare LF", b"GET / HTTP/1.1\nHost: x\n\n".to_vec()),
        (
            "absolute form",
            b"GET http://x/data.bin HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        ("GET /", get("/")),
    ];
    for (what, req) in &gets {
        let r = http_exchange(&addr, req);
        assert_eq!(r.status, 200, "{what}: {}", r.status_line);
        assert_eq!(r.content_length(), size, "{what}");
        assert!(
            r.body == want,
            "{what}: body differs ({} bytes)",
            r.body.len()
        );
        let rec = srv.connection();
        assert_complete(&rec, "sendfile", size, what);
        assert_eq!(rec["http_status"].as_u64(), Some(200), "{what}: {rec}");
    }

    // A request trickled in a few bytes at a time is still one request.
    let mut s = addr.connect();
    for chunk in get("/").chunks(5) {
        s.write_all(chunk).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let r = parse_response(&s.read_to_eof());
    assert_eq!(r.status, 200);
    assert!(r.body == want, "trickled request: body differs");
    assert_complete(&srv.connection(), "sendfile", size, "trickled");

    let sum = srv.stop();
    let n = (cases.len() + 1 + gets.len() + 1) as u64;
    assert_eq!(sum["connections"].as_u64(), Some(n), "{sum}");
    assert_eq!(sum["rejected"].as_u64(), Some(cases.len() as u64), "{sum}");
    assert_eq!(
        sum["complete"].as_u64(),
        Some(n - cases.len() as u64),
        "{sum}"
    );
    assert_eq!(
        sum["bytes"].as_u64(),
        Some(size * (gets.len() as u64 + 1)),
        "{sum}"
    );
}

/// No complete request head within 10 s: 408, for a silent client and for one that sent half
/// a head. (Its own test: it takes ~10 s and runs alongside the others.)
#[test]
fn http_request_timeout_408() {
    let dir = tempdir();
    let size = 10_000;
    let file = write_file(dir.path(), "data.bin", size, 12);
    let mut srv = Server::start(&file, &["--http", "--listen", "127.0.0.1:0"]);
    let addr = srv.addr.clone();
    let started = Instant::now();
    let silent = {
        let addr = addr.clone();
        std::thread::spawn(move || parse_response(&addr.connect().read_to_eof()))
    };
    let partial = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut s = addr.connect();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
            parse_response(&s.read_to_eof())
        })
    };
    // Meanwhile the server answers others.
    let r = http_exchange(&addr, &get("/"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len() as u64, size);

    for (what, h) in [("silent", silent), ("half a head", partial)] {
        let r = h
            .join()
            .unwrap_or_else(|_| panic!("{what} client failed\n{}", srv.dump()));
        assert_error_response(&r, 408, what);
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(9_500),
        "408 came after {waited:?}, before the 10 s the server must wait"
    );
    let recs = srv.connections(3);
    let rejected: Vec<&Value> = recs.iter().filter(|r| r["outcome"] == "rejected").collect();
    assert_eq!(rejected.len(), 2, "{}", srv.dump());
    for r in rejected {
        assert_rejected(r, 408, "408");
    }
    // Still serving afterwards.
    let r = http_exchange(&addr, &get("/data.bin"));
    assert_eq!(r.status, 200);
    assert_eq!(sha256_hex(&r.body), sha256_file(&file));
    srv.connection();
    let sum = srv.stop();
    assert_eq!(sum["rejected"].as_u64(), Some(2), "{sum}");
    assert_eq!(sum["complete"].as_u64(), Some(2), "{sum}");
}

/// `--max-conns 2`: with two connections held open, a third waits for a free slot.
#[test]
fn http_max_conns_makes_the_excess_wait() {
    // --max-conns bounds transfers: with both held by clients that asked and do not read, a
    // third request waits until one is freed.
    let dir = tempdir();
    let size = 32 << 20;
    let file = write_file(dir.path(), "data.bin", size, 13);
    let mut srv = Server::start(
        &file,
        &["--http", "--listen", "127.0.0.1:0", "--max-conns", "2"],
    );
    let a = srv.addr.target();
    let mut stall1 = TcpStream::connect(&a).unwrap();
    stall1.write_all(&get("/")).unwrap();
    let mut stall2 = TcpStream::connect(&a).unwrap();
    stall2.write_all(&get("/")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut third = TcpStream::connect(&a).unwrap();
    third.write_all(&get("/")).unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut byte = [0u8; 1];
    match third.read(&mut byte) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("the third transfer started while two were running: {other:?}"),
    }
    drop(stall1);
    third.set_read_timeout(Some(WAIT)).unwrap();
    let mut rest = Vec::new();
    third.read_to_end(&mut rest).unwrap();
    let r = parse_response(&rest);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len() as u64, size);
    drop(stall2);
    let recs = srv.connections(3);
    let outcomes: Vec<&str> = recs
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "client-closed").count(),
        2,
        "{outcomes:?}\n{}",
        srv.dump()
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == "complete").count(),
        1,
        "{outcomes:?}"
    );
    srv.stop();
}

#[test]
fn http_clients_still_sending_their_head_hold_no_worker() {
    // A connection that has not sent its request yet is read by the head reader, not a worker:
    // with --max-conns 1 and two idle connections, a real request is served at once.
    let dir = tempdir();
    let size = 50_000;
    let file = write_file(dir.path(), "data.bin", size, 14);
    let mut srv = Server::start(
        &file,
        &["--http", "--listen", "127.0.0.1:0", "--max-conns", "1"],
    );
    let a = srv.addr.target();
    let idle1 = TcpStream::connect(&a).unwrap();
    let idle2 = TcpStream::connect(&a).unwrap();
    let r = http_exchange(&srv.addr, &get("/"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len() as u64, size);
    drop((idle1, idle2));
    let recs = srv.connections(3);
    assert_eq!(
        recs.iter().filter(|r| r["outcome"] == "complete").count(),
        1,
        "{}",
        srv.dump()
    );
    srv.stop();
}

/// 32 clients at once each send a GET and read the whole response.
fn concurrent_http(unix: bool, max_conns: Option<&str>) {
    let dir = tempdir();
    let size = 512 << 10;
    let file = write_file(dir.path(), "data.bin", size, 14);
    let want = sha256_file(&file);
    let mut args = vec!["--http".to_string(), "--count".into(), "32".into()];
    args.extend(listen_args(unix, dir.path()));
    if let Some(m) = max_conns {
        args.extend([
            "--max-conns".to_string(),
            m.into(),
            "--method".into(),
            "splice".into(),
        ]);
    }
    let mut srv = Server::start(&file, &strs(&args));
    let method = if max_conns.is_some() {
        "splice"
    } else {
        "sendfile"
    };
    let addr = srv.addr.clone();
    let results = with_timeout("32 concurrent GETs", Duration::from_secs(60), move || {
        let hs: Vec<_> = (0..32)
            .map(|_| {
                let addr = addr.clone();
                std::thread::spawn(move || {
                    let r = http_exchange(&addr, &get("/"));
                    (r.status, r.content_length(), sha256_hex(&r.body))
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect::<Vec<_>>()
    });
    for (i, (status, len, hash)) in results.iter().enumerate() {
        assert_eq!(*status, 200, "client {i}");
        assert_eq!(*len, size, "client {i}");
        assert_eq!(hash, &want, "client {i} received different bytes");
    }
    for r in srv.connections(32) {
        assert_complete(&r, method, size, "concurrent HTTP");
    }
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
    assert_summary(&srv.summary(), method, 32, size, "concurrent HTTP");
}

#[test]
fn concurrent_32_http_tcp() {
    concurrent_http(false, None);
}

#[test]
fn concurrent_32_http_unix_max_conns_8() {
    concurrent_http(true, Some("8"));
}

/// A client that leaves mid-body does not disturb the server.
#[test]
fn http_client_disconnect_mid_body() {
    let dir = tempdir();
    let size = 4 * MIB;
    let file = write_file(dir.path(), "big.bin", size, 15);
    let mut srv = Server::start(
        &file,
        &["--http", "--listen", "127.0.0.1:0", "--count", "2"],
    );
    let addr = srv.addr.clone();
    with_timeout("leave after 4 KiB", WAIT, {
        let addr = addr.clone();
        move || {
            let mut s = addr.connect();
            s.write_all(&get("/")).unwrap();
            let mut buf = vec![0u8; 4096];
            s.read_exact(&mut buf).unwrap();
        }
    });
    let out = dir.path().join("got");
    let f = fetch_json(&addr.target(), &["--http", "--out", path_str(&out)]);
    assert_eq!(
        f["connections"][0]["sha256"],
        sha256_file(&file).as_str(),
        "{f}"
    );
    let mut recs = srv.connections(2);
    recs.sort_by_key(|r| r["id"].as_u64());
    let first = &recs[0];
    if first["outcome"] != "complete" {
        assert_eq!(first["outcome"], "client-closed", "{first}");
        assert!(first["bytes"].as_u64().unwrap() < size, "{first}");
    }
    assert_eq!(first["http_status"].as_u64(), Some(200), "{first}");
    assert_complete(&recs[1], "sendfile", size, "after");
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
}

/// Descriptors after a mix of outcomes with the default (perf when allowed) counters: served,
/// HEAD, rejected, closed before asking, closed mid-body.
#[test]
fn http_no_fd_leak_mixed_outcomes() {
    let dir = tempdir();
    let size = 256 << 10;
    let file = write_file(dir.path(), "data.bin", size, 16);
    let mut srv = Server::start(
        &file,
        &[
            "--http",
            "--listen",
            "127.0.0.1:0",
            "--method",
            "splice",
            "--max-conns",
            "1",
        ],
    );
    // The one worker keeps its counters and pipe after its first connection: count after it.
    let r = http_exchange(&srv.addr, &get("/"));
    assert_eq!(r.body.len() as u64, size);
    srv.connection();
    let before = srv.fd_list();
    let addr = srv.addr.clone();
    let rounds = 6;
    with_timeout("mixed clients", Duration::from_secs(60), move || {
        for _ in 0..rounds {
            let r = http_exchange(&addr, &get("/"));
            assert_eq!(r.body.len() as u64, size);
            let r = http_exchange(&addr, b"HEAD / HTTP/1.0\r\n\r\n");
            assert_eq!(r.status, 200);
            let r = http_exchange(&addr, &get("/nope"));
            assert_eq!(r.status, 404);
            let r = http_exchange(&addr, b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n");
            assert_eq!(r.status, 405);
            drop(addr.connect()); // closes before asking
            let mut s = addr.connect();
            s.write_all(&get("/")).unwrap();
            let mut buf = [0u8; 100];
            s.read_exact(&mut buf).unwrap(); // leaves mid-body
        }
    });
    // A client that left mid-body spoiled the worker's pipe (splice drops it); one more
    // complete request lets the worker make its pipe again before counting.
    let r = http_exchange(&srv.addr, &get("/"));
    assert_eq!(r.body.len() as u64, size);
    let recs = srv.connections(rounds * 6 + 1);
    let after = srv.fd_list();
    assert_eq!(before, after, "open descriptors changed\n{}", srv.dump());
    for r in &recs {
        assert_ne!(r["outcome"], "error", "{r}");
    }
    let sum = srv.stop();
    assert_eq!(sum["rejected"].as_u64(), Some(2 * rounds as u64), "{sum}");
    assert!(
        sum["client_closed"].as_u64().unwrap() >= rounds as u64,
        "{sum}"
    );
}

/// The file shrinks after start-up: the response promised the old length, so an HTTP client
/// sees a short body and `copylab fetch --http` fails without leaving a file.
#[test]
fn http_file_shrinks_fetch_fails() {
    let dir = tempdir();
    let size = MIB;
    let file = write_file(dir.path(), "data.bin", size, 17);
    let mut srv = Server::start(
        &file,
        &["--http", "--listen", "127.0.0.1:0", "--count", "1"],
    );
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(300_000)
        .unwrap();
    let outdir = tempdir();
    let out = outdir.path().join("got");
    let r = run(
        &[
            "fetch",
            &srv.addr.target(),
            "--http",
            "--out",
            path_str(&out),
        ],
        &[],
    );
    assert_ne!(r.code, Some(0), "{}", r.dump());
    assert!(r.stderr.contains("Content-Length"), "{}", r.dump());
    assert!(!out.exists(), "no --out file after a short body");
    assert!(partial_leftovers(outdir.path()).is_empty());
    let rec = srv.connection();
    assert_eq!(rec["outcome"], "file-changed", "{rec}");
    assert_eq!(rec["bytes"].as_u64(), Some(300_000), "{rec}");
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
}

/// `--count 1` must serve its one connection to the end; a client that takes a few seconds to
/// send its request (well within the 10 s head timeout) should still get the file.
#[test]
fn count_lets_the_last_connection_finish() {
    let dir = tempdir();
    let size = 10_000;
    let file = write_file(dir.path(), "data.bin", size, 18);
    let mut srv = Server::start(
        &file,
        &["--http", "--listen", "127.0.0.1:0", "--count", "1"],
    );
    let mut s = srv.addr.connect();
    std::thread::sleep(Duration::from_secs(6));
    let _ = s.write_all(&get("/"));
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(!raw.is_empty(), "no response at all\n{}", srv.dump());
    let r = parse_response(&raw);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len() as u64, size);
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0));
    assert_complete(
        &srv.events("connection")[0],
        "sendfile",
        size,
        "slow request",
    );
}

#[test]
fn ctrl_c_with_an_idle_client_stops_within_the_grace() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 5000, 9);
    let mut srv = Server::start(&file, &["--listen", "127.0.0.1:0", "--http"]);
    // A client that connects and never sends a request head.
    let mut idle = srv.addr.connect();
    idle.set_read_timeout(Some(WAIT));
    std::thread::sleep(Duration::from_millis(300));
    let asked = std::time::Instant::now();
    srv.signal(nix::sys::signal::Signal::SIGINT);
    // The head timeout is 10 s and the grace 5 s: well before the former ends, the server is gone.
    assert_eq!(
        srv.wait_exit(Duration::from_secs(9)).code(),
        Some(0),
        "{}",
        srv.dump()
    );
    let took = asked.elapsed();
    let answer = String::from_utf8_lossy(&idle.read_to_eof()).into_owned();
    assert!(
        answer.starts_with("HTTP/1.1 503 "),
        "the idle client got: {answer:?}"
    );
    assert!(took < Duration::from_secs(9), "stopping took {took:?}");
    let rec = srv.events("connection");
    assert_eq!(rec.len(), 1, "{}", srv.dump());
    assert_eq!(rec[0]["http_status"], 503, "{}", rec[0]);
}

/// A client's request line carrying terminal escape sequences (as its version: answered 505,
/// which quotes it) reaches serve's log line as visible text, never as raw escapes; anyone who
/// can connect could otherwise write to the terminal of whoever runs serve.
#[test]
fn a_request_line_with_escape_sequences_is_logged_escaped() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 1000, 0xE5C);
    let mut srv = Server::start_text(
        &file,
        &["--http", "--listen", "127.0.0.1:0", "--count", "1"],
    );
    let r = http_exchange(
        &srv.addr,
        b"GET / HTTP/\x1b]2;PWN\x07\x1b[2J\r\nHost: x\r\n\r\n",
    );
    assert_eq!(r.status, 505, "{}", srv.dump());
    let line = loop {
        let l = srv
            .next_line(WAIT)
            .unwrap_or_else(|| panic!("no connection line\n{}", srv.dump()));
        if l.starts_with("#1 ") {
            break l;
        }
    };
    assert!(
        !line.contains('\u{1b}') && !line.contains('\u{7}'),
        "a raw escape reached the log: {line:?}"
    );
    assert!(line.contains(r"HTTP/\x1b]2;PWN\x07\x1b[2J"), "{line:?}");
    srv.wait_exit(WAIT);
}

/// The summary's syscalls per MiB is one ratio of the totals: five 1-byte ranges and one whole
/// file are 12 syscalls over the bytes of all six — not the median of per-connection ratios,
/// which said two million syscalls per MiB.
#[test]
fn summary_syscalls_per_mib_is_a_ratio_of_the_totals() {
    let dir = tempdir();
    let size = 4_000_000u64;
    let file = write_file(dir.path(), "data.bin", size, 0x5C);
    let mut srv = Server::start(
        &file,
        &["--http", "--listen", "127.0.0.1:0", "--count", "6"],
    );
    for _ in 0..5 {
        let r = http_exchange(
            &srv.addr,
            b"GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\n\r\n",
        );
        assert_eq!(r.status, 206);
    }
    let r = http_exchange(&srv.addr, &get("/"));
    assert_eq!(r.body.len() as u64, size);
    let recs = srv.connections(6);
    srv.wait_exit(WAIT);
    let sum = srv.summary();
    let Some(calls) = recs
        .iter()
        .map(|r| r["cost"]["syscalls"]["total"].as_u64())
        .sum::<Option<u64>>()
    else {
        skip("syscalls are not counted here (no perf)");
        return;
    };
    let bytes: u64 = recs.iter().map(|r| r["bytes"].as_u64().unwrap_or(0)).sum();
    assert_eq!(bytes, size + 5, "{recs:?}");
    let want = calls as f64 / (bytes as f64 / (1u64 << 20) as f64);
    let got = sum["syscalls_per_mib"].as_f64().expect("syscalls_per_mib");
    assert!(
        (got - want).abs() < 1e-6,
        "{got} != {calls} syscalls over {bytes} bytes ({want})"
    );
}

/// Under --link the last send returns long before the client has the bytes (the socket buffer
/// holds megabytes): serve times each transfer to the client's acknowledgement of the last byte,
/// so its own MiB/s is the link's, not the speed of handing bytes to the socket.
#[test]
fn under_link_a_transfer_is_timed_to_the_clients_acknowledgement() {
    let dir = tempdir();
    let size: u64 = 8 << 20;
    let file = write_file(dir.path(), "data.bin", size, 0x5D);
    // 200 Mbit/s = 25,000,000 bytes/s: 8 MiB take about 0.34 s.
    let mut srv = Server::start(
        &file,
        &[
            "--listen",
            "127.0.0.1:0",
            "--link",
            "200mbit",
            "--count",
            "1",
        ],
    );
    let got = fetch_json(&srv.addr.target(), &["--discard"]);
    assert_eq!(got["connections"][0]["bytes"], size, "{got}");
    let rec = srv.connection();
    srv.wait_exit(WAIT);
    assert_eq!(rec["wall_ends"], "acknowledged", "{rec}");
    let rate = size as f64 / (rec["wall_ns"].as_u64().expect("wall_ns") as f64 / 1e9);
    let off = (rate / 25_000_000.0 - 1.0) * 100.0;
    assert!(
        off.abs() <= 20.0,
        "serve's own figure: {rate:.0} bytes/s, {off:+.1}% off the paced 25,000,000 bytes/s\n{rec}"
    );
    // Unpaced, the figure is what it always was, and says so.
    let mut srv = Server::start(&file, &["--listen", "127.0.0.1:0", "--count", "1"]);
    fetch_json(&srv.addr.target(), &["--discard"]);
    assert_eq!(srv.connection()["wall_ends"], "last-send");
    srv.wait_exit(WAIT);
}
