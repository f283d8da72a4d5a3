//! Fault tests, each a real transfer: a sparse file past every per-call limit, readers that
//! advertise a tiny window, bad `--unix` / `--listen` values, random bytes at the HTTP parser,
//! descriptors and threads after faulty clients, and a server running out of descriptors.
//!
//! Already covered elsewhere (not repeated here): a client that closes or resets mid-transfer
//! (serve::raw `client_disconnect`, serve::http `http_client_disconnect_mid_body`), 408/431/505
//! and the other statuses one by one (serve::http `http_errors_then_still_serving`,
//! `http_request_timeout_408`), a sparse file past 2 GiB with sendfile and mmap
//! (compare::delivery `sparse_file_past_sendfile_2gib_limit`).

use crate::util::*;

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

const GIB: u64 = 1 << 30;

/// A syscall count of a compare run: perf's `by_name` when measured, else the method's own count.
fn calls(run: &Value, name: &str) -> u64 {
    run["syscalls"]["by_name"][name]
        .as_u64()
        .or_else(|| run["self_counted"][name].as_u64())
        .unwrap_or(0)
}

/// XXH3-64 of a file read in 4 MiB pieces (the file is too large to read at once).
fn xxh3_streaming(path: &Path) -> String {
    let mut f = std::fs::File::open(path).expect("open");
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 4 << 20];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    format!("{:016x}", h.digest())
}

/// A sparse file of 5 GiB + 4097 bytes through every method: sendfile needs three calls
/// (0x7ffff000 bytes at most each), mmap one window per 256 MiB, splice two calls per pipe-full,
/// read-write one pread per buffer. Marker bytes at the 2 GiB, sendfile-limit and 4 GiB
/// boundaries and at the end make any wrong offset change the hash.
#[test]
fn sparse_5gib_every_method_compare() {
    const SENDFILE_MAX: u64 = 0x7fff_f000;
    let size = 5 * GIB + 4097;
    let dir = tempdir();
    let path = dir.path().join("sparse5.bin");
    let f = OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    f.set_len(size).unwrap();
    let marks: [(u64, u8); 6] = [
        (1, 0x11),
        (2 * GIB - 1, 0x22),
        (SENDFILE_MAX, 0x33),
        (4 * GIB + 1, 0x44),
        (size - 2, 0x55),
        (size - 1, 0x66),
    ];
    for (off, b) in marks {
        f.write_all_at(&[b], off).unwrap();
    }
    assert_eq!(f.metadata().unwrap().len(), size);
    drop(f);

    let started = Instant::now();
    let out = Cmd::new(
        bin(),
        &[
            "compare",
            path_str(&path),
            "--methods",
            "all",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--json",
            "--verify-all",
        ],
    )
    .timeout(Duration::from_secs(600))
    .run();
    eprintln!("sparse 5 GiB compare took {:?}", started.elapsed());
    let r = parse_json(&out);
    assert_eq!(num(&r["file"]["bytes"], "file.bytes"), size);
    // copylab's own hash of the file (what every delivery was checked against) is the real one.
    assert_eq!(
        r["file"]["xxh3"].as_str().unwrap(),
        xxh3_streaming(&path),
        "file.xxh3 differs from an independent XXH3 of the sparse file"
    );
    assert_all_verified(&r, size, true);
    for m in ALL_METHODS {
        let run = &runs(method(&r, m))[0];
        assert_eq!(run["hash_checked"], true, "{m}: {run:#}");
    }

    let opts = &r["options"];
    let window = num(&opts["mmap_window_bytes"], "mmap_window_bytes");
    let pipe = num(&opts["pipe_bytes_granted"], "pipe_bytes_granted");
    let buffer = num(&opts["buffer_bytes"], "buffer_bytes");

    let sf = &runs(method(&r, "sendfile"))[0];
    assert_eq!(calls(sf, "sendfile64"), 3, "sendfile64 calls: {sf:#}");
    assert_eq!(size.div_ceil(SENDFILE_MAX), 3);

    let mm = &runs(method(&r, "mmap"))[0];
    assert_eq!(calls(mm, "mmap"), size.div_ceil(window), "mmap: {mm:#}");
    assert_eq!(calls(mm, "munmap"), size.div_ceil(window), "munmap: {mm:#}");

    let sp = &runs(method(&r, "splice"))[0];
    let want = 2 * size.div_ceil(pipe);
    let got = calls(sp, "splice");
    assert!(
        (want..=want + 8).contains(&got),
        "splice calls {got}, expected {want} (+ at most 8 short ones): {sp:#}"
    );

    let rw = &runs(method(&r, "read-write"))[0];
    assert_eq!(
        calls(rw, "pread64"),
        size.div_ceil(buffer),
        "pread64: {rw:#}"
    );

    // The newer paths past 4 GiB: windows and completions line up across every boundary.
    let vm = &runs(method(&r, "vmsplice"))[0];
    assert_eq!(
        calls(vm, "pread64"),
        size.div_ceil(pipe),
        "vmsplice: {vm:#}"
    );
    for m in TCP_ONLY {
        let run = &runs(method(&r, m))[0];
        assert_eq!(calls(run, "mmap"), size.div_ceil(window), "{m}: {run:#}");
        assert_eq!(calls(run, "munmap"), size.div_ceil(window), "{m}: {run:#}");
        let z = &run["zerocopy"];
        assert_eq!(z["completed"], z["sends"], "{m}: {run:#}");
    }
    let us = &runs(method(&r, "io-uring-splice"))[0];
    let batch = num(&opts["batch"], "batch");
    assert!(
        calls(us, "io_uring_enter") >= size.div_ceil(pipe).div_ceil(batch),
        "io-uring-splice: {us:#}"
    );
}

/// A client whose receive buffer is 4 KiB (set before connect, so its window is tiny from the
/// first segment) reading 3000 bytes at a time with a pause now and then: the server's sends are
/// short and block over and over; the bytes must still be exact.
fn slow_reader(method: &str) {
    let dir = tempdir();
    let size = 2 * MIB + 333;
    let file = write_file(dir.path(), "data.bin", size, 0x51 ^ method.len() as u64);
    let want = sha256_file(&file);
    let mut srv = Server::on_loopback(&file, method, &["--count", "1"]);
    let addr = srv.addr.target();
    let (got, rcvbuf) = with_timeout("slow reader", Duration::from_secs(120), move || {
        let mut s = connect_with_rcvbuf(&addr, 4096);
        let rcvbuf: usize =
            nix::sys::socket::getsockopt(&s, nix::sys::socket::sockopt::RcvBuf).unwrap();
        let mut got = Vec::with_capacity(size as usize);
        let mut buf = [0u8; 3000];
        let mut reads = 0u64;
        loop {
            let n = s
                .read(&mut buf)
                .unwrap_or_else(|e| panic!("read failed after {} bytes: {e}", got.len()));
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            reads += 1;
            if reads.is_multiple_of(64) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        (got, rcvbuf)
    });
    // Linux doubles the value asked for; anything near 4 KiB means the window really was small.
    assert!(rcvbuf <= 16 << 10, "SO_RCVBUF is {rcvbuf}");
    assert_eq!(got.len() as u64, size, "{method}: bytes\n{}", srv.dump());
    assert_eq!(sha256_hex(&got), want, "{method}: different bytes");
    let rec = srv.connection();
    assert_complete(&rec, method, size, "slow reader");
    assert_syscall_shape(&rec, method, size, "slow reader");
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
    assert_summary(&srv.summary(), method, 1, size, "slow reader");
}

per_method!(slow_reader_gets_exact_bytes, every_path, slow_reader);

/// `--unix` with a path longer than a socket address holds (108 bytes with its NUL): one clear
/// line, exit 1, nothing created. The longest path that fits (107) still works.
#[test]
fn unix_socket_path_too_long_is_a_clear_error() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 5000, 21);
    let base = path_str(dir.path()).len() + 1;
    for total in [200usize, 108] {
        let sock = dir.path().join("s".repeat(total - base));
        let sock_s = path_str(&sock);
        assert_eq!(sock_s.len(), total);
        let out = run(&["serve", path_str(&file), "--unix", sock_s], &[]);
        assert_clean_error(&out, &[&format!("copylab: --unix {sock_s}")]);
        assert!(!sock.exists(), "nothing may be left at {sock_s}");
    }
    // 107 bytes fit: it serves.
    let sock = dir.path().join("u".repeat(107 - base));
    let mut srv = Server::start(&file, &["--unix", path_str(&sock), "--count", "1"]);
    let got = dir.path().join("got");
    fetch_json(path_str(&sock), &["--out", path_str(&got)]);
    assert_eq!(sha256_file(&got), sha256_file(&file));
    assert_eq!(srv.wait_exit(WAIT).code(), Some(0), "{}", srv.dump());
}

/// A port beyond 65535 is refused before anything is opened, naming --listen.
#[test]
fn listen_out_of_range_port_is_a_usage_error() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 1000, 22);
    for addr in [
        "127.0.0.1:70000",
        "127.0.0.1:65536",
        "[::1]:99999",
        "127.0.0.1:-1",
    ] {
        let out = run(&["serve", path_str(&file), "--listen", addr], &[]);
        assert_usage_error(&out, "--listen");
    }
}

/// A port below 1024 without privileges: one line with the reason and the way out. As root
/// this runs the server as nobody (setpriv); skipped if unprivileged users may bind port 80.
#[test]
fn listen_privileged_port_as_non_root_is_a_clear_error() {
    let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(1024);
    require!(Need::that(
        start > 80,
        format!("net.ipv4.ip_unprivileged_port_start = {start} lets anyone bind port 80")
    ));
    let dir = world_readable_dir();
    let file = write_file(dir.path(), "data.bin", 1000, 23);
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let args = ["serve", path_str(&file), "--listen", "127.0.0.1:80"];
    let out = if is_root() {
        require!(Need::tool("setpriv"));
        let bin = copy_bin_to(dir.path());
        run_as_nobody(&bin, &args, dir.path())
    } else {
        run(&args, &[])
    };
    assert_clean_error(&out, &["--listen 127.0.0.1:80", "below 1024"]);
}

/// A small deterministic generator for the fuzz cases.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// Path-like noise: no space, CR or LF, so the request line keeps its three parts.
    fn pathy(&mut self, n: usize) -> Vec<u8> {
        const ALPHABET: &[u8] = b"abcZ./%2e0fF-_~?#=&:@!*'()+,;";
        (0..n)
            .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize])
            .collect()
    }

    /// Printable noise with spaces, CRs, LFs, colons and percent signs mixed in.
    fn texty(&mut self, n: usize) -> Vec<u8> {
        const ALPHABET: &[u8] = b"GETHEADPOST/ HTTP/1.1\r\n:%2e0aZz?#Host: x\t";
        (0..n)
            .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize])
            .collect()
    }
}

/// One fuzz case: what to send and what to do after.
struct Case {
    what: String,
    req: Vec<u8>,
    /// Shut down our sending side after the request (else the server gets a whole head or waits).
    half_close: bool,
    /// Drop the socket without reading anything (a truncated head followed by close).
    drop_after: bool,
    /// The one status this case must get, if it is known.
    expect: Option<u16>,
}

fn fuzz_cases(n: usize, seed: u64) -> Vec<Case> {
    let mut g = Lcg(seed);
    let valid = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    (0..n)
        .map(|i| {
            let len = g.below(12_000) as usize;
            let (what, req, half_close, drop_after, expect) = match i % 11 {
                0 => ("random", g.bytes(len), true, false, None),
                1 => (
                    "GET / + random",
                    [b"GET / ".as_slice(), &g.bytes(len)].concat(),
                    true,
                    false,
                    None,
                ),
                2 => (
                    "HEAD + random",
                    [b"HEAD ".as_slice(), &g.bytes(len)].concat(),
                    true,
                    false,
                    None,
                ),
                3 => (
                    "GET /%2e%2e/ + random path",
                    [
                        b"GET /%2e%2e/".as_slice(),
                        &g.pathy(len % 3000),
                        b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    ]
                    .concat(),
                    true,
                    false,
                    None,
                ),
                4 => (
                    "GET http://x/ + random path",
                    [
                        b"GET http://x/".as_slice(),
                        &g.pathy(len % 3000),
                        b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    ]
                    .concat(),
                    true,
                    false,
                    None,
                ),
                5 => {
                    let mut v = g.texty(len % 2000);
                    for _ in 0..4 {
                        let at = g.below(v.len() as u64 + 1) as usize;
                        v.insert(at, 0);
                    }
                    v.extend_from_slice(b"\r\n\r\n");
                    ("text with NULs", v, true, false, None)
                }
                6 => {
                    let big = format!(
                        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                        "a".repeat(9000)
                    );
                    ("9000-byte header", big.into_bytes(), true, false, Some(431))
                }
                7 => {
                    let cut = 1 + g.below(valid.len() as u64 - 2) as usize;
                    (
                        "truncated head, half-close",
                        valid[..cut].to_vec(),
                        true,
                        false,
                        None,
                    )
                }
                8 => {
                    let cut = 1 + g.below(valid.len() as u64 - 2) as usize;
                    (
                        "truncated head, close",
                        valid[..cut].to_vec(),
                        false,
                        true,
                        None,
                    )
                }
                9 => (
                    "valid GET + trailing random",
                    [valid.as_slice(), &g.bytes(len % 4000)].concat(),
                    true,
                    false,
                    Some(200),
                ),
                10 if i % 2 == 0 => {
                    // A real-looking request line with a random method and minor version.
                    let methods: [&[u8]; 6] = [b"GET", b"HEAD", b"POST", b"BREW", b"get", b"PUT"];
                    let m = methods[g.below(6) as usize];
                    let minor = b"0129"[g.below(4) as usize];
                    let req = [m, b" / HTTP/1.", &[minor], b"\r\nHost: x\r\n\r\n"].concat();
                    ("random method and version", req, true, false, None)
                }
                _ => (
                    "text head",
                    [g.texty(len % 6000), b"\r\n\r\n".to_vec()].concat(),
                    true,
                    false,
                    None,
                ),
            };
            Case {
                what: format!("#{i} {what} ({} bytes)", req.len()),
                req,
                half_close,
                drop_after,
                expect,
            }
        })
        .collect()
}

/// The status of a raw response, checking its shape; `None` for an empty one.
fn response_status(raw: &[u8], ctx: &str) -> Option<u16> {
    if raw.is_empty() {
        return None;
    }
    let head = String::from_utf8_lossy(&raw[..raw.len().min(16)]);
    assert!(
        raw.starts_with(b"HTTP/1.1 ")
            && raw.len() >= 12
            && raw[9..12].iter().all(u8::is_ascii_digit),
        "{ctx}: response does not start with 'HTTP/1.1 NNN': {head:?}"
    );
    let status: u16 = std::str::from_utf8(&raw[9..12]).unwrap().parse().unwrap();
    assert!(
        [200, 400, 404, 405, 408, 431, 505].contains(&status),
        "{ctx}: unexpected status {status}"
    );
    Some(status)
}

/// 300 requests of random bytes and near-misses of HTTP (absolute forms, dot-dot escapes, NULs,
/// oversized heads, heads cut short and then closed) plus three that stall: the server answers
/// each with a well-formed status or closes, never hangs, never crashes, and afterwards still
/// serves the exact file.
#[test]
fn http_random_bytes_never_crash_the_server() {
    let dir = tempdir();
    let size = 64 << 10;
    let file = write_file(dir.path(), "data.bin", size, 24);
    let body = std::fs::read(&file).unwrap();
    let mut srv = Server::start(&file, &["--http", "--listen", "127.0.0.1:0"]);
    let a = srv.addr.target();

    // Stalled heads: no blank line, never closed: 408 after the server's 10 s.
    let stalls: Vec<_> = (0..3)
        .map(|i| {
            let a = a.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&a).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
                s.write_all(&b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1"[..20 + i])
                    .unwrap();
                let mut raw = Vec::new();
                s.read_to_end(&mut raw)
                    .map(|_| raw)
                    .map_err(|e| format!("stall {i}: {e}"))
            })
        })
        .collect();

    let cases = fuzz_cases(300, 0xF022);
    let n_cases = cases.len();
    let statuses = with_timeout("300 fuzz requests", Duration::from_secs(240), {
        let a = a.clone();
        let body = body.clone();
        move || {
            let mut seen = std::collections::BTreeMap::<String, usize>::new();
            for c in &cases {
                let mut s = TcpStream::connect(&a).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
                // The server may answer (and stop reading) before the whole request is in.
                let _ = s.write_all(&c.req);
                if c.drop_after {
                    drop(s);
                    *seen.entry("dropped".into()).or_default() += 1;
                    continue;
                }
                if c.half_close {
                    let _ = s.shutdown(Shutdown::Write);
                }
                let mut raw = Vec::new();
                if let Err(e) = s.read_to_end(&mut raw) {
                    panic!(
                        "{}: reading the response failed after {} bytes (hung server or reset): {e}",
                        c.what,
                        raw.len()
                    );
                }
                let st = response_status(&raw, &c.what);
                if let Some(want) = c.expect {
                    assert_eq!(st, Some(want), "{}", c.what);
                }
                if st == Some(200) {
                    let r = parse_response(&raw);
                    assert!(r.body == body, "{}: 200 with a different body", c.what);
                }
                let key = st.map_or("empty".to_string(), |s| s.to_string());
                *seen.entry(key).or_default() += 1;
            }
            seen
        }
    });
    eprintln!("fuzz responses: {statuses:?}");
    for (i, h) in stalls.into_iter().enumerate() {
        let raw = h
            .join()
            .expect("stall thread")
            .unwrap_or_else(|e| panic!("{e}\n{}", srv.dump()));
        assert_eq!(response_status(&raw, "stall"), Some(408), "stall {i}");
    }
    assert!(srv.is_running(), "server died\n{}", srv.dump());

    let got = dir.path().join("got");
    let f = fetch_json(&a, &["--http", "--out", path_str(&got)]);
    assert_eq!(
        f["connections"][0]["http_status"].as_u64(),
        Some(200),
        "{f}"
    );
    assert_eq!(sha256_file(&got), sha256_file(&file));

    let total = n_cases + 3 + 1;
    let recs = srv.connections(total);
    for r in &recs {
        let o = r["outcome"].as_str().unwrap_or("");
        assert!(
            ["complete", "rejected", "client-closed"].contains(&o),
            "unexpected outcome: {r}"
        );
    }
    assert!(srv.is_running(), "server died\n{}", srv.dump());
    let sum = srv.stop();
    assert_eq!(sum["connections"].as_u64(), Some(total as u64), "{sum}");
    assert_eq!(sum["errors"].as_u64(), Some(0), "{sum}");
    assert_eq!(sum["file_changed"].as_u64(), Some(0), "{sum}");
    let parts: u64 = ["complete", "rejected", "client_closed"]
        .iter()
        .map(|k| sum[*k].as_u64().unwrap())
        .sum();
    assert_eq!(parts, total as u64, "{sum}");
    assert!(!srv.stderr().contains("panicked"), "{}", srv.dump());
}

/// Descriptors (kinds, not inode numbers) and threads of a one-worker server after its first
/// connection, and again after clients that close at once, reset mid-transfer, read through a
/// tiny window and leave, or send bytes to a raw server, followed by one good fetch.
fn fd_after_faults_raw(method: &str) {
    let dir = tempdir();
    let size = 4 * MIB;
    let file = write_file(dir.path(), "big.bin", size, 25);
    let want = sha256_file(&file);
    let mut srv = Server::on_loopback(&file, method, &["--max-conns", "1"]);
    let a = srv.addr.target();
    // The one worker opens its counters and buffer or pipe on its first connection and keeps
    // them: count after it.
    let warm = with_timeout("warm-up", WAIT, {
        let a = a.clone();
        move || tcp_read_all(&a)
    });
    assert_eq!(warm.len() as u64, size);
    srv.connection();
    let fds_before = srv.fd_list();
    let threads_before = srv.thread_count();

    let rounds = 3;
    with_timeout("faulty clients", Duration::from_secs(120), {
        let a = a.clone();
        move || {
            for _ in 0..rounds {
                // Connects and closes at once, without reading.
                drop(TcpStream::connect(&a).unwrap());
                // Resets (SO_LINGER 0) after 4 KiB.
                let mut s = TcpStream::connect(&a).unwrap();
                s.set_read_timeout(Some(WAIT)).unwrap();
                let mut buf = vec![0u8; 4096];
                s.read_exact(&mut buf).unwrap();
                set_linger_zero(&s);
                drop(s);
                // A tiny window, 64 KiB read, then gone.
                let mut s = connect_with_rcvbuf(&a, 4096);
                let mut buf = vec![0u8; 64 << 10];
                s.read_exact(&mut buf).unwrap();
                drop(s);
                // Talks to a raw server (which ignores it) and reads everything.
                let mut s = TcpStream::connect(&a).unwrap();
                s.set_read_timeout(Some(WAIT)).unwrap();
                let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                let mut v = Vec::new();
                s.read_to_end(&mut v).unwrap();
                assert_eq!(v.len() as u64, size);
            }
        }
    });
    let out = dir.path().join("after");
    let f = fetch_json(&a, &["--out", path_str(&out)]);
    assert_eq!(f["connections"][0]["sha256"], want.as_str(), "{f}");
    let recs = srv.connections(rounds * 4 + 1);
    for r in &recs {
        let o = r["outcome"].as_str().unwrap_or("");
        assert!(o == "complete" || o == "client-closed", "{method}: {r}");
    }
    assert_complete(
        recs.last().unwrap(),
        method,
        size,
        "good fetch after faults",
    );
    assert_eq!(
        fds_before,
        srv.fd_list(),
        "{method}: descriptors changed after faulty clients\n{}",
        srv.dump()
    );
    assert_eq!(
        threads_before,
        srv.thread_count(),
        "{method}: threads changed\n{}",
        srv.dump()
    );
    let sum = srv.stop();
    assert_eq!(sum["errors"].as_u64(), Some(0), "{sum}");
    assert_eq!(
        sum["connections"].as_u64(),
        Some((rounds * 4 + 2) as u64),
        "{sum}"
    );
}

per_method!(
    fd_count_unchanged_after_faulty_runs,
    every_path,
    fd_after_faults_raw
);

/// The same in HTTP mode (splice, whose pipe a failed transfer spoils): random bytes, an
/// oversized head, a NUL, a bad method, a head cut short and closed, a reset mid-body.
#[test]
fn fd_count_unchanged_after_faulty_runs_http() {
    let dir = tempdir();
    let size = 4 * MIB;
    let file = write_file(dir.path(), "big.bin", size, 26);
    let want = sha256_file(&file);
    let mut srv = Server::start(
        &file,
        &[
            "--http",
            "--method",
            "splice",
            "--listen",
            "127.0.0.1:0",
            "--max-conns",
            "1",
        ],
    );
    let r = http_exchange(&srv.addr, &get("/"));
    assert_eq!(r.body.len() as u64, size);
    srv.connection();
    let fds_before = srv.fd_list();
    let threads_before = srv.thread_count();
    let a = srv.addr.target();
    let cases = fuzz_cases(22, 0xFD);
    let n_cases = cases.len();
    with_timeout("faulty HTTP clients", Duration::from_secs(120), {
        let a = a.clone();
        move || {
            for c in &cases {
                let mut s = TcpStream::connect(&a).unwrap();
                s.set_read_timeout(Some(WAIT)).unwrap();
                let _ = s.write_all(&c.req);
                if c.drop_after {
                    continue;
                }
                if c.half_close {
                    let _ = s.shutdown(Shutdown::Write);
                }
                let mut raw = Vec::new();
                s.read_to_end(&mut raw)
                    .unwrap_or_else(|e| panic!("{}: {e}", c.what));
                response_status(&raw, &c.what);
            }
            for req in [
                b"GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n".as_slice(),
                b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
            ] {
                let mut s = TcpStream::connect(&a).unwrap();
                s.set_read_timeout(Some(WAIT)).unwrap();
                s.write_all(req).unwrap();
                let mut raw = Vec::new();
                s.read_to_end(&mut raw).unwrap();
                assert!(response_status(&raw, "bad request").is_some_and(|s| s != 200));
            }
            // Reset mid-body.
            let mut s = TcpStream::connect(&a).unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            s.write_all(&get("/")).unwrap();
            let mut buf = vec![0u8; 8192];
            s.read_exact(&mut buf).unwrap();
            set_linger_zero(&s);
        }
    });
    let out = dir.path().join("after");
    let f = fetch_json(&a, &["--http", "--out", path_str(&out)]);
    assert_eq!(f["connections"][0]["sha256"], want.as_str(), "{f}");
    let recs = srv.connections(n_cases + 3 + 1);
    for r in &recs {
        assert_ne!(r["outcome"], "error", "{r}");
    }
    assert_eq!(
        fds_before,
        srv.fd_list(),
        "HTTP: descriptors changed after faulty clients\n{}",
        srv.dump()
    );
    assert_eq!(threads_before, srv.thread_count(), "HTTP: threads changed");
    let sum = srv.stop();
    assert_eq!(sum["errors"].as_u64(), Some(0), "{sum}");
}

/// The server runs out of file descriptors (RLIMIT_NOFILE 32, 40 clients held at once): the
/// connections it cannot take may fail, but the server must keep running, serve the next
/// clients and stop cleanly with its summary. (With perf counters each worker holds ~15 more
/// descriptors, so the default --max-conns 64 reaches a 1024 limit with splice.)
#[test]
fn fd_exhaustion_on_accept_keeps_the_server_alive() {
    let dir = tempdir();
    // Larger than what the socket buffers take, so each transfer holds its socket and pipe
    // until its client reads: the descriptors run out for certain, not by timing.
    let size = 8 << 20;
    let file = write_file(dir.path(), "data.bin", size, 27);
    let want = sha256_file(&file);
    let mut srv = Server::start_with_nofile(
        &file,
        &[
            "--method",
            "splice",
            "--counters",
            "rusage",
            "--listen",
            "127.0.0.1:0",
        ],
        32,
    );
    let a = srv.addr.target();
    let outcomes = with_timeout("40 held clients", Duration::from_secs(90), {
        let a = a.clone();
        move || {
            // Connect all first and read only then, so the server holds them all at once. (A
            // server that died meanwhile refuses the later ones.)
            let socks: Vec<std::io::Result<TcpStream>> = (0..40)
                .map(|_| {
                    let s = TcpStream::connect(&a)?;
                    s.set_read_timeout(Some(WAIT))?;
                    Ok(s)
                })
                .collect();
            std::thread::sleep(Duration::from_millis(500));
            socks
                .into_iter()
                .map(|s| {
                    let mut s = match s {
                        Ok(s) => s,
                        Err(e) => return format!("connect: {:?}", e.kind()),
                    };
                    let mut v = Vec::new();
                    match s.read_to_end(&mut v) {
                        Ok(_) => format!("{} bytes", v.len()),
                        Err(e) => format!("{:?} after {} bytes", e.kind(), v.len()),
                    }
                })
                .collect::<Vec<_>>()
        }
    });
    let mut tally = std::collections::BTreeMap::<&str, usize>::new();
    for o in &outcomes {
        *tally.entry(o.as_str()).or_default() += 1;
    }
    eprintln!("held clients: {tally:?}");
    // A dying server resets its clients just before it can be reaped: look for a second.
    let alive_until = Instant::now() + Duration::from_secs(1);
    while srv.is_running() && Instant::now() < alive_until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        srv.is_running(),
        "the server exited when it ran out of descriptors (it should refuse or delay the \
         connections it cannot take and go on)\n{}",
        srv.dump()
    );
    // Every next client is served, whichever idle thread takes it: the pipes the burst made
    // are there for any of them, even when they fill the descriptor table.
    for i in 0..5 {
        let got = dir.path().join(format!("got{i}"));
        let f = fetch_json(&a, &["--out", path_str(&got)]);
        assert_eq!(
            f["connections"][0]["sha256"],
            want.as_str(),
            "client {i} after the burst: {f}\n{}",
            srv.dump()
        );
    }
    srv.stop();
}

/// HTTP with splice under a tight descriptor limit: a worker that cannot create its pipe must
/// answer 503 (and log 503), never "200" with an empty reply.
#[test]
fn splice_without_a_pipe_answers_503_over_http() {
    let dir = tempdir();
    // As above: each transfer holds its pipe until its client reads.
    let size = 8 << 20;
    let file = write_file(dir.path(), "data.bin", size, 28);
    let mut srv = Server::start_with_nofile(
        &file,
        &[
            "--method",
            "splice",
            "--http",
            "--counters",
            "rusage",
            "--listen",
            "127.0.0.1:0",
        ],
        60,
    );
    let a = srv.addr.target();
    let replies = with_timeout("40 held GETs", Duration::from_secs(90), move || {
        let socks: Vec<TcpStream> = (0..40)
            .filter_map(|_| {
                let mut s = TcpStream::connect(&a).ok()?;
                s.set_read_timeout(Some(WAIT)).ok()?;
                s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
                Some(s)
            })
            .collect();
        // Every request read and every pipe taken before any client reads: on a loaded
        // machine the server can take longer than half a second to reach the 40th.
        std::thread::sleep(Duration::from_secs(2));
        socks
            .into_iter()
            .map(|mut s| {
                let mut v = Vec::new();
                let _ = s.read_to_end(&mut v);
                v
            })
            .collect::<Vec<_>>()
    });
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    for r in &replies {
        let line = String::from_utf8_lossy(r)
            .lines()
            .next()
            .unwrap_or("(empty reply)")
            .to_string();
        *tally.entry(line).or_default() += 1;
    }
    eprintln!("replies: {tally:?}");
    for r in &replies {
        let text = String::from_utf8_lossy(r);
        assert!(
            text.starts_with("HTTP/1.1 200 ") || text.starts_with("HTTP/1.1 503 "),
            "a reply without a 200 or 503 status: {tally:?}"
        );
    }
    let sum = srv.stop();
    let recs = srv.events("connection");
    let refused: Vec<&serde_json::Value> =
        recs.iter().filter(|r| r["outcome"] != "complete").collect();
    assert!(
        !refused.is_empty(),
        "every connection got its pipe: the limit was never reached, nothing was tested\n{sum}"
    );
    for r in refused {
        assert_eq!(r["http_status"], 503, "logged: {r}");
    }
}

/// A client that stops reading until `--send-timeout` ends its connection, then reads what the
/// kernel still holds: it must never get more bytes than the server's record says were sent, and
/// a client that got bytes must not be told 0 (the io_uring paths once dropped the completions
/// gathered before the timeout and said "sent 0").
fn stalled_client_count(method: &str) {
    let dir = tempdir();
    let size = 64 << 20;
    let file = write_file(dir.path(), "big.bin", size, 47);
    let data = std::fs::read(&file).expect("read the file back");
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
    for round in 0..2 {
        let mut stalled = srv.addr.connect();
        let rec = srv.connection();
        assert_eq!(rec["outcome"], "send-timeout", "{method}: {rec}");
        let sent = rec["bytes"].as_u64().expect("bytes");
        stalled.set_read_timeout(Some(WAIT));
        let got = stalled.read_to_eof();
        let n = got.len() as u64;
        assert!(
            n <= sent,
            "{method} round {round}: the client received {n} bytes but the server says {sent}: {rec}"
        );
        assert!(
            n == 0 || sent > 0,
            "{method} round {round}: received {n}, told 0: {rec}"
        );
        let detail = rec["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains(&format!("sent {sent} of {size} bytes")),
            "{method}: the line and the JSON must agree: {rec}"
        );
        assert!(
            got == data[..got.len()],
            "{method}: the bytes received are the file's"
        );
    }
    srv.stop();
}

per_method!(
    stalled_client_never_gets_more_than_reported,
    [io_uring_splice, io_uring_send_zc],
    stalled_client_count
);

/// A client that resets mid-transfer: the sends the kernel dropped undelivered complete too, and
/// look just like zero-copied ones. On loopback every delivered send is copied (the receiver
/// may keep the data), so a single send counted as zero-copied is one that never arrived.
fn reset_client_zero_copied(method: &str) {
    let dir = tempdir();
    let size = 64 << 20;
    let file = write_file(dir.path(), "big.bin", size, 48);
    let mut srv = Server::start(&file, &["--listen", "127.0.0.1:0", "--method", method]);
    for round in 0..3 {
        let Addr::Tcp(a) = &srv.addr else {
            panic!("TCP expected")
        };
        let mut s = TcpStream::connect(a.as_str()).expect("connect");
        s.set_read_timeout(Some(WAIT)).expect("set_read_timeout");
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0usize;
        while got < 8 << 20 {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "{method}: EOF after {got} bytes");
            got += n;
        }
        set_linger_zero(&s);
        drop(s);
        let rec = srv.connection();
        assert_eq!(rec["outcome"], "client-closed", "{method}: {rec}");
        let z = &rec["cost"]["zerocopy"];
        let (sends, completed, copied) = (
            z["sends"].as_u64().expect("sends"),
            z["completed"].as_u64().expect("completed"),
            z["copied"].as_u64().expect("copied"),
        );
        assert!(completed <= sends, "{method}: {z}");
        assert_eq!(
            completed,
            copied,
            "{method} round {round}: {} undelivered sends counted as zero-copied on loopback: {z}",
            completed - copied
        );
    }
    srv.stop();
}

per_method!(
    reset_client_sends_are_not_zero_copied,
    [msg_zerocopy, io_uring_send_zc],
    reset_client_zero_copied
);
