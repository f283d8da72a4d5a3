//! Load tests: hundreds of sequential and concurrent fetches per method with the server's
//! descriptors, threads and memory compared before and after; slow clients holding every
//! connection slot while a normal client asks for the file.

use crate::util::*;

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;

/// `n` clients at once, each reading the whole file (raw mode); returns their SHA-256s.
fn concurrent_fetches(addr: &str, n: usize) -> Vec<String> {
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let a = addr.to_string();
            std::thread::spawn(move || sha256_hex(&tcp_read_all(&a)))
        })
        .collect();
    hs.into_iter()
        .map(|h| h.join().expect("client thread"))
        .collect()
}

/// Hold `n` connections open without reading until the server has a worker for each of them
/// (workers are made on demand, up to --max-conns, and kept), then read them all. The server
/// keeps each slot for its send plus up to 1 s waiting for the client to close, so `n` clients
/// connecting at once are normally all in service together; retried a few times if not.
/// Returns how many connections were made.
fn fill_worker_pool(srv: &Server, size: u64, n: usize) -> usize {
    let a = srv.addr.target();
    let want_threads = 1 + n;
    let mut made = 0;
    for _ in 0..5 {
        let held: Vec<std::net::TcpStream> = (0..n)
            .map(|_| {
                let s = std::net::TcpStream::connect(&a).expect("connect");
                s.set_read_timeout(Some(WAIT)).unwrap();
                s
            })
            .collect();
        made += n;
        let t = srv.wait_threads(want_threads, Duration::from_secs(5));
        // Let every new worker take its job off the queue before any slot is freed.
        std::thread::sleep(Duration::from_millis(300));
        for mut s in held {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut s, &mut v).expect("read held client");
            assert_eq!(v.len() as u64, size, "held client");
        }
        if t >= want_threads {
            return made;
        }
    }
    panic!(
        "the server never had {n} workers at once (threads: {})\n{}",
        srv.thread_count(),
        srv.dump()
    );
}

/// Descriptors (kinds), threads and resident memory of the server at rest.
struct Figures {
    fds: Vec<String>,
    threads: usize,
    rss_kib: u64,
}

fn figures(srv: &Server) -> Figures {
    Figures {
        fds: srv.fd_list(),
        threads: srv.thread_count(),
        rss_kib: srv.rss_kib(),
    }
}

/// 200 sequential and 64 concurrent fetches of a 256 KiB file with one method, after a warm-up
/// that brings the worker pool to --max-conns: descriptors and threads must be where they were
/// after the warm-up, resident memory within 16 MiB, every fetch exact, and the summary must
/// count every connection.
fn soak(method: &str) {
    let dir = tempdir();
    let size = 256 << 10;
    let file = write_file(dir.path(), "data.bin", size, 0x50A ^ method.len() as u64);
    let want = sha256_file(&file);
    let max_conns = 16;
    let mut srv = Server::on_loopback(&file, method, &["--max-conns", &max_conns.to_string()]);
    let a = srv.addr.target();

    // Warm-up: every worker made and used once, then 64 at once and a few one by one.
    let mut warm = fill_worker_pool(&srv, size, max_conns);
    let hashes = with_timeout("warm-up: 64 concurrent", Duration::from_secs(120), {
        let a = a.clone();
        move || concurrent_fetches(&a, 64)
    });
    assert!(
        hashes.iter().all(|h| *h == want),
        "warm-up: different bytes"
    );
    for _ in 0..4 {
        assert_eq!(tcp_read_all(&a).len() as u64, size);
    }
    warm += 64 + 4;
    for r in srv.connections(warm) {
        assert_complete(&r, method, size, "warm-up");
    }
    assert_eq!(
        srv.thread_count(),
        1 + max_conns,
        "workers after warm-up\n{}",
        srv.dump()
    );
    let before = figures(&srv);

    let seq = 200;
    with_timeout("200 sequential fetches", Duration::from_secs(180), {
        let a = a.clone();
        let want = want.clone();
        move || {
            for i in 0..seq {
                let v = tcp_read_all(&a);
                assert_eq!(v.len() as u64, size, "sequential fetch {i}");
                if i % 20 == 0 {
                    assert_eq!(sha256_hex(&v), want, "sequential fetch {i}");
                }
            }
        }
    });
    let hashes = with_timeout("64 concurrent fetches", Duration::from_secs(120), {
        let a = a.clone();
        move || concurrent_fetches(&a, 64)
    });
    for (i, h) in hashes.iter().enumerate() {
        assert_eq!(h, &want, "concurrent fetch {i} received different bytes");
    }
    // Every connection has ended (its record is printed after its socket is closed).
    for r in srv.connections(seq + 64) {
        assert_complete(&r, method, size, "load");
        assert_syscall_shape(&r, method, size, "load");
    }
    let after = figures(&srv);
    eprintln!(
        "{method}: fds {} -> {}, threads {} -> {}, RSS {} -> {} KiB",
        before.fds.len(),
        after.fds.len(),
        before.threads,
        after.threads,
        before.rss_kib,
        after.rss_kib
    );
    assert_eq!(
        before.fds,
        after.fds,
        "{method}: descriptors changed\n{}",
        srv.dump()
    );
    assert_eq!(before.threads, after.threads, "{method}: threads changed");
    assert!(
        after.rss_kib <= before.rss_kib + 16 * 1024,
        "{method}: RSS grew from {} to {} KiB",
        before.rss_kib,
        after.rss_kib
    );
    let total = (warm + seq + 64) as u64;
    let sum = srv.stop();
    assert_summary(&sum, method, total, size, "soak");
    assert!(!srv.stderr().contains("panicked"), "{}", srv.dump());
}

per_method!(soak_short_sequential_and_concurrent, classic, soak);

/// Memory per connection: a long-running server must not keep growing with every client it
/// served. 5,000 short connections after a warm-up may cost at most 512 bytes each (the
/// summary's medians need a few numbers per connection, not whole records).
#[test]
fn rss_growth_per_connection_is_bounded() {
    let dir = tempdir();
    let size = 4096;
    let file = write_file(dir.path(), "small.bin", size, 0x455);
    let mut srv = Server::start(&file, &["--listen", "127.0.0.1:0", "--max-conns", "1"]);
    let a = srv.addr.target();
    let run = |n: usize| {
        let a = a.clone();
        with_timeout("sequential fetches", Duration::from_secs(180), move || {
            for i in 0..n {
                assert_eq!(tcp_read_all(&a).len() as u64, size, "fetch {i}");
            }
        })
    };
    run(200);
    srv.connections(200);
    let before = srv.rss_kib();
    let n = 5000;
    run(n);
    srv.connections(n);
    let after = srv.rss_kib();
    let per_conn = after.saturating_sub(before) * 1024 / n as u64;
    eprintln!("RSS {before} -> {after} KiB over {n} connections: {per_conn} bytes each");
    assert!(
        per_conn <= 512,
        "RSS grew from {before} to {after} KiB over {n} connections: {per_conn} bytes per \
         connection, kept for as long as the server runs"
    );
    let sum = srv.stop();
    assert_summary(&sum, "sendfile", n as u64 + 200, size, "rss");
}

/// Non-blocking client sockets that each send one byte of a request head per second, on a
/// thread of their own, until dropped.
struct Slowloris {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<(usize, usize)>>,
}

impl Slowloris {
    fn start(addr: &str, n: usize) -> Slowloris {
        use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn, connect, socket};
        let sa: std::net::SocketAddrV4 = addr.parse().expect("IPv4 HOST:PORT");
        let socks: Vec<OwnedFd> = (0..n)
            .map(|_| {
                let fd = socket(
                    AddressFamily::Inet,
                    SockType::Stream,
                    SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
                    None,
                )
                .expect("socket");
                match connect(fd.as_raw_fd(), &SockaddrIn::from(sa)) {
                    Ok(()) | Err(Errno::EINPROGRESS) => {}
                    Err(e) => panic!("connect {addr}: {e}"),
                }
                fd
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        // Longer than 40 s at a byte a second: never complete within the test.
        let head = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: {}\r\n\r\n",
            "z".repeat(64)
        )
        .into_bytes();
        let thread = std::thread::spawn(move || {
            let mut sent = vec![0usize; socks.len()];
            let mut dead = vec![false; socks.len()];
            while !flag.load(Ordering::Relaxed) {
                for (i, fd) in socks.iter().enumerate() {
                    if dead[i] || sent[i] >= head.len() {
                        continue;
                    }
                    // SAFETY: one live byte of `head`; MSG_NOSIGNAL: a closed peer is EPIPE.
                    let r = unsafe {
                        libc::send(
                            fd.as_raw_fd(),
                            head[sent[i]..].as_ptr().cast(),
                            1,
                            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                        )
                    };
                    match Errno::result(r) {
                        Ok(n) => sent[i] += n as usize,
                        // Still connecting (its SYN waits for room in the accept queue).
                        Err(Errno::EAGAIN | Errno::EINPROGRESS | Errno::EALREADY) => {}
                        Err(_) => dead[i] = true,
                    }
                }
                // A byte per second, looking at the stop flag often.
                for _ in 0..10 {
                    if flag.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            let trickling = sent.iter().filter(|s| **s > 0).count();
            let gone = dead.iter().filter(|d| **d).count();
            drop(socks);
            (trickling, gone)
        });
        Slowloris {
            stop,
            thread: Some(thread),
        }
    }

    /// Stop, close every socket; (connections that sent something, connections the server
    /// closed).
    fn finish(&mut self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map(|t| t.join().expect("slowloris thread"))
            .unwrap_or((0, 0))
    }
}

impl Drop for Slowloris {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A child process killed when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// 200 clients trickle request heads a byte a second into a server with --max-conns 16;
/// meanwhile a normal `copylab fetch --http` must get the exact file within 30 s (it may wait
/// for the 10 s head deadline to free a slot).
#[test]
fn slowloris_does_not_stop_a_normal_client() {
    let dir = tempdir();
    let size = 256 << 10;
    let file = write_file(dir.path(), "data.bin", size, 0x5104);
    let mut srv = Server::start(
        &file,
        &["--http", "--listen", "127.0.0.1:0", "--max-conns", "16"],
    );
    let a = srv.addr.target();
    let mut loris = Slowloris::start(&a, 200);
    // Let the slow clients take every slot first.
    std::thread::sleep(Duration::from_secs(2));

    let got = dir.path().join("got");
    let started = Instant::now();
    let mut fetch = KillOnDrop(
        Cmd::copylab(&["fetch", &a, "--http", "--out", path_str(&got), "--json"])
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start copylab fetch"),
    );
    let limit = Duration::from_secs(30);
    let status = loop {
        if let Some(st) = fetch.0.try_wait().expect("try_wait") {
            break Some(st);
        }
        if started.elapsed() >= limit {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let waited = started.elapsed();
    let (trickling, closed) = loris.finish();
    // Collect what the server printed meanwhile.
    while srv.next_line(Duration::from_millis(200)).is_some() {}
    let answered_408 = srv
        .events("connection")
        .iter()
        .filter(|r| r["http_status"] == 408)
        .count();
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    for r in srv.events("connection") {
        let key = format!(
            "{} {}",
            r["outcome"].as_str().unwrap_or("?"),
            r["http_status"]
        );
        *tally.entry(key).or_default() += 1;
    }
    let Some(status) = status else {
        panic!(
            "a normal client got no file within {limit:?} while 200 slow clients trickled \
             request heads into --max-conns 16 ({trickling} of them had sent bytes, {closed} \
             were closed by the server, {answered_408} answered 408): every slot and the accept \
             queue ahead of it belong to clients that each hold a slot for the full 10 s head \
             timeout\nserver outcomes so far: {tally:?}\nserver stderr: {}",
            srv.stderr()
        );
    };
    let mut err = String::new();
    if let Some(mut e) = fetch.0.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert_eq!(
        status.code(),
        Some(0),
        "fetch failed: {err}\n{}",
        srv.dump()
    );
    eprintln!("normal client served after {waited:?} ({answered_408} slow clients got 408)");
    assert_eq!(sha256_file(&got), sha256_file(&file));
    drop(loris);
    let sum = srv.stop();
    assert_eq!(sum["errors"].as_u64(), Some(0), "{sum}");
    assert!(sum["complete"].as_u64().unwrap() >= 1, "{sum}");
}

#[test]
fn serve_under_a_thread_limit_keeps_serving_and_summarises() {
    use std::io::BufRead;
    require!(
        Need::tool("setpriv"),
        Need::tool("prlimit"),
        Need::root("to run serve as nobody (root ignores ulimit -u)")
    );
    let dir = world_readable_dir();
    let size = 2 << 20;
    let file = write_file(dir.path(), "data.bin", size, 61);
    let bin = copy_bin_to(dir.path());
    let tmp = world_writable_dir();
    // A user of its own: ulimit -u counts that user's threads, and nobody else's may count.
    let _shared = system_state(false);
    let ids = unprivileged_args();
    let prlimit = tool("prlimit");
    let mut args: Vec<&str> = ids.iter().map(String::as_str).collect();
    args.extend_from_slice(&[
        path_str(&prlimit),
        "--nproc=12",
        path_str(&bin),
        "serve",
        path_str(&file),
        "--listen",
        "127.0.0.1:0",
        "--count",
        "30",
        "--json",
    ]);
    let mut child = Cmd::new(tool("setpriv"), &args)
        .env("TMPDIR", tmp.path())
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve as nobody");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a listening line").expect("stdout");
    let v: serde_json::Value = serde_json::from_str(&first).expect("JSON listening line");
    let addr = v["address"].as_str().expect("address").to_string();
    // 30 clients at once against at most 12 threads: the ones without a worker wait their turn.
    let shas = with_timeout(
        "30 clients under a thread limit",
        Duration::from_secs(120),
        move || concurrent_fetches(&addr, 30),
    );
    let want = sha256_file(&file);
    assert!(
        shas.iter().all(|s| *s == want),
        "every client got the whole file"
    );
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("serve exits after --count");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "serve failed\n{stderr}");
    assert!(
        stderr.contains("cannot start a connection thread"),
        "the limit was never reached, so this test proved nothing\n{stderr}"
    );
    assert!(
        rest.iter().any(|l| l.contains("\"summary\"")),
        "no summary: {rest:?}"
    );
}
