//! A `copylab serve` child whose stdout lines arrive on a channel (killed on drop, every wait
//! bounded), external clients (nc, socat, curl) run with a deadline, raw HTTP exchanges, SHA-256
//! and the per-connection JSON checks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Cmd, Out, bin, run_ok, tool};

/// Longest wait for any single event (a line, an exit, a client). Generous: the machine is noisy
/// and each connection with perf counters costs the server a few hundred ms of setup/teardown.
pub const WAIT: Duration = Duration::from_secs(30);

/// Read-write's default buffer, which decides its `pread64` count.
pub const RW_BUFFER: u64 = 128 << 10;

pub const MIB: u64 = 1 << 20;

/// Where a server listens.
#[derive(Debug, Clone)]
pub enum Addr {
    Tcp(String),
    Unix(PathBuf),
}

impl Addr {
    /// What `copylab fetch` takes: HOST:PORT or the socket path.
    pub fn target(&self) -> String {
        match self {
            Addr::Tcp(a) => a.clone(),
            Addr::Unix(p) => p.to_str().expect("UTF-8 socket path").to_string(),
        }
    }

    pub fn host_port(&self) -> (String, String) {
        match self {
            Addr::Tcp(a) => {
                let (h, p) = a.rsplit_once(':').expect("HOST:PORT");
                (h.to_string(), p.to_string())
            }
            Addr::Unix(_) => panic!("not a TCP address: {self:?}"),
        }
    }

    pub fn connect(&self) -> Stream {
        let s = match self {
            Addr::Tcp(a) => Stream::Tcp(
                TcpStream::connect(a.as_str()).unwrap_or_else(|e| panic!("connect {a}: {e}")),
            ),
            Addr::Unix(p) => Stream::Unix(
                UnixStream::connect(p).unwrap_or_else(|e| panic!("connect {}: {e}", p.display())),
            ),
        };
        s.set_read_timeout(Some(WAIT));
        s
    }
}

/// A client socket of either kind.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub fn set_read_timeout(&self, t: Option<Duration>) {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
        }
        .expect("set_read_timeout");
    }

    /// Everything until end-of-file (the read timeout turns a hang into a panic).
    pub fn read_to_eof(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        self.read_to_end(&mut v)
            .unwrap_or_else(|e| panic!("reading to EOF failed after {} bytes: {e}", v.len()));
        v
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How far serve indents the continuation of a line it wrapped to the screen.
const CONTINUED: &str = "    ";

/// Forward serve's stdout lines from `raw` to `tx` as serve meant them: a text line wrapped to
/// the screen (its continuation lines indented) is joined again, its values as on one line
/// ("… 64 MiB ·" + "    4 ms · …" is "… 64 MiB · 4 ms · …"), so a test finds a connection's
/// line whatever width it was laid out for. A line is sent once the next one starts, or when
/// none follows within a moment (serve writes a wrapped line at once); JSON lines at once.
fn join_wrapped(raw: &Receiver<String>, tx: &std::sync::mpsc::Sender<String>) {
    let mut pending: Option<String> = None;
    loop {
        let next = match pending {
            Some(_) => raw.recv_timeout(Duration::from_millis(150)),
            None => raw.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(line) => match (pending.as_mut(), line.strip_prefix(CONTINUED)) {
                (Some(p), Some(rest)) => {
                    p.push(' ');
                    p.push_str(rest);
                }
                _ => {
                    if let Some(p) = pending.take()
                        && tx.send(p).is_err()
                    {
                        return;
                    }
                    if line.starts_with('{') {
                        if tx.send(line).is_err() {
                            return;
                        }
                    } else {
                        pending = Some(line);
                    }
                }
            },
            Err(RecvTimeoutError::Timeout) => {
                if let Some(p) = pending.take()
                    && tx.send(p).is_err()
                {
                    return;
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                if let Some(p) = pending.take() {
                    let _ = tx.send(p);
                }
                return;
            }
        }
    }
}

/// A running `copylab serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub pid: i32,
    pub addr: Addr,
    /// The first stdout line, parsed (`--json` servers only).
    pub listening: Value,
    lines: Receiver<String>,
    /// Every stdout line received so far, in order.
    pub seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    what: String,
    exit: Option<ExitStatus>,
}

impl Server {
    /// Start `copylab serve FILE ARGS --json` and wait for its listening line.
    pub fn start(file: &Path, args: &[&str]) -> Server {
        Server::start_json(file, args, None)
    }

    /// `copylab serve FILE --method METHOD --listen 127.0.0.1:0 ARGS --json`: one path on the TCP
    /// loopback, up to its listening line.
    pub fn on_loopback(file: &Path, method: &str, args: &[&str]) -> Server {
        let mut all = vec!["--method", method, "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Server::start(file, &all)
    }

    /// `copylab serve FILE ARGS --json`, optionally under RLIMIT_NOFILE `nofile`, up to its
    /// listening line.
    fn start_json(file: &Path, args: &[&str], nofile: Option<u64>) -> Server {
        let mut all = vec!["serve", file.to_str().expect("UTF-8 path")];
        all.extend_from_slice(args);
        all.push("--json");
        let mut s = Server::spawn_limited(&all, nofile);
        let first = s
            .next_line(WAIT)
            .unwrap_or_else(|| panic!("no listening line within {WAIT:?}\n{}", s.dump_now()));
        let v: Value = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("first line is not JSON ({e}): {first}\n{}", s.dump_now()));
        assert_eq!(v["event"], "listening", "first line: {first}");
        let address = v["address"]
            .as_str()
            .expect("listening.address")
            .to_string();
        s.addr = match v["transport"].as_str() {
            Some("tcp") => Addr::Tcp(address),
            Some("unix") => Addr::Unix(PathBuf::from(address)),
            other => panic!("listening.transport is {other:?}: {first}"),
        };
        s.listening = v;
        s
    }

    /// Start `copylab serve FILE ARGS` in text mode; the address is read off the first line
    /// (`copylab serve: FILE (SIZE) with METHOD, raw over tcp on ADDR`).
    pub fn start_text(file: &Path, args: &[&str]) -> Server {
        let mut all = vec!["serve", file.to_str().expect("UTF-8 path")];
        all.extend_from_slice(args);
        let mut s = Server::spawn(&all);
        let first = s
            .next_line(WAIT)
            .unwrap_or_else(|| panic!("no first line within {WAIT:?}\n{}", s.dump_now()));
        assert!(
            first.starts_with("copylab serve: "),
            "first text line: {first:?}\n{}",
            s.dump_now()
        );
        let (_, addr) = first
            .rsplit_once(" on ")
            .unwrap_or_else(|| panic!("no ' on ADDR' in {first:?}"));
        s.addr = if first.contains(" over unix on ") {
            Addr::Unix(PathBuf::from(addr))
        } else {
            Addr::Tcp(addr.to_string())
        };
        s
    }

    fn spawn(args: &[&str]) -> Server {
        Server::spawn_limited(args, None)
    }

    /// Start copylab with `args`; with `nofile`, its RLIMIT_NOFILE (soft and hard) is set first.
    fn spawn_limited(args: &[&str], nofile: Option<u64>) -> Server {
        use std::os::unix::process::CommandExt;
        let what = match nofile {
            Some(n) => format!("(ulimit -n {n}) {} {}", bin(), args.join(" ")),
            None => format!("{} {}", bin(), args.join(" ")),
        };
        let mut cmd = Cmd::copylab(args).command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(n) = nofile {
            // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, n, n)
                        .map_err(std::io::Error::from)
                });
            }
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
        let (tx, rx) = channel();
        let out = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            let (raw_tx, raw) = channel();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if raw_tx.send(line).is_err() {
                        break;
                    }
                }
            });
            join_wrapped(&raw, &tx);
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut r = BufReader::new(err);
            let mut buf = String::new();
            while let Ok(n) = r.read_line(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&buf);
                buf.clear();
            }
        });
        let pid = child.id() as i32;
        Server {
            child,
            pid,
            addr: Addr::Tcp(String::new()),
            listening: Value::Null,
            lines: rx,
            seen: Vec::new(),
            stderr,
            what,
            exit: None,
        }
    }

    /// The next stdout line, or None after `timeout` (or at end of output).
    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(l) => {
                self.seen.push(l.clone());
                Some(l)
            }
            Err(_) => None,
        }
    }

    /// The next stdout line as JSON; panics (with everything seen) if none comes in time.
    pub fn next_event(&mut self) -> Value {
        let line = self
            .next_line(WAIT)
            .unwrap_or_else(|| panic!("no stdout line within {WAIT:?}\n{}", self.dump_now()));
        serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!("stdout line is not JSON ({e}): {line}\n{}", self.dump_now())
        })
    }

    /// The next `n` connection events.
    pub fn connections(&mut self, n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| {
                let v = self.next_event();
                assert_eq!(
                    v["event"],
                    "connection",
                    "expected connection event #{} of {n}: {v}\n{}",
                    i + 1,
                    self.dump_now()
                );
                v
            })
            .collect()
    }

    pub fn connection(&mut self) -> Value {
        self.connections(1).remove(0)
    }

    /// Wait (bounded) for the server to exit by itself; collects the rest of stdout.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait().expect("try_wait") {
                Some(st) => {
                    self.exit = Some(st);
                    break;
                }
                None if Instant::now() >= deadline => {
                    panic!(
                        "server did not exit within {timeout:?}\n{}",
                        self.dump_now()
                    );
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        // The reader thread ends at EOF, which follows the exit.
        let drain_deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = drain_deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("stdout not closed after exit"),
            }
        }
        // Let the stderr reader catch up too.
        std::thread::sleep(Duration::from_millis(20));
        self.exit.unwrap()
    }

    /// The summary event (the last stdout line) after `wait_exit`.
    pub fn summary(&self) -> Value {
        let last = self.seen.last().expect("some stdout");
        let v: Value = serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last}\n{}", self.dump()));
        assert_eq!(v["event"], "summary", "last line: {last}\n{}", self.dump());
        v
    }

    /// Every parsed stdout line with `event == kind` seen so far.
    pub fn events(&self, kind: &str) -> Vec<Value> {
        self.seen
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["event"] == kind)
            .collect()
    }

    /// Send a signal to the server.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), sig)
            .unwrap_or_else(|e| panic!("kill -{sig} {}: {e}", self.pid));
    }

    /// Stop with SIGINT and insist on a clean exit (status 0) and a summary.
    pub fn stop(&mut self) -> Value {
        self.signal(nix::sys::signal::Signal::SIGINT);
        let st = self.wait_exit(WAIT);
        assert_eq!(st.code(), Some(0), "exit after SIGINT\n{}", self.dump());
        self.summary()
    }

    /// The kinds of the open file descriptors (`pipe:[…]`, `socket:[…]`, a path), sorted.
    pub fn fd_list(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .expect("read /proc/PID/fd")
            .filter_map(|e| e.ok())
            .map(|e| {
                let target = std::fs::read_link(e.path())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                // A pipe or socket replaced by a fresh one is not a leak: keep only the kind
                // ("pipe:[…]"), not the inode number.
                let kind = match target.find(":[") {
                    Some(i) => format!("{}:[…]", &target[..i]),
                    None => target,
                };
                // Descriptor numbers are left out too: a pipe remade after an error may land
                // on another number; what must not change is how many of each kind are open.
                kind
            })
            .collect();
        v.sort();
        v
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn dump_now(&mut self) -> String {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
        self.dump()
    }

    /// Everything needed to diagnose a failure.
    pub fn dump(&self) -> String {
        format!(
            "server: {}\nexit: {:?}\n--- server stdout ---\n{}\n--- server stderr ---\n{}",
            self.what,
            self.exit,
            self.seen.join("\n"),
            self.stderr()
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `copylab fetch TARGET ARGS --json`, insisting on success; returns the parsed report.
pub fn fetch_json(target: &str, args: &[&str]) -> Value {
    let mut all = vec!["fetch", target];
    all.extend_from_slice(args);
    all.push("--json");
    run_ok(&all, &[]).json()
}

/// Fetch raw bytes with `nc -d` (TCP or Unix) into `out`.
pub fn nc_fetch(addr: &Addr, out: &Path) -> Out {
    let nc = tool("nc");
    let cmd = match addr {
        Addr::Tcp(_) => {
            let (h, p) = addr.host_port();
            Cmd::new(nc, &["-d", &h, &p])
        }
        Addr::Unix(p) => Cmd::new(nc, &["-U", "-d", p.to_str().unwrap()]),
    };
    cmd.stdout_to(out).timeout(WAIT).run()
}

/// Fetch raw bytes with `socat -u` (TCP or Unix) into `out`.
pub fn socat_fetch(addr: &Addr, out: &Path) -> Out {
    let spec = match addr {
        Addr::Tcp(a) => format!("TCP:{a}"),
        Addr::Unix(p) => format!("UNIX-CONNECT:{}", p.display()),
    };
    Cmd::new(tool("socat"), &["-u", &spec, "-"])
        .stdout_to(out)
        .timeout(WAIT)
        .run()
}

/// `curl -sS -o OUT http://ADDR/PATH` (or through the Unix socket).
pub fn curl_fetch(addr: &Addr, path: &str, out: &Path) -> Out {
    let curl = tool("curl");
    let out_s = out.to_str().unwrap();
    let cmd = match addr {
        Addr::Tcp(a) => Cmd::new(curl, &["-sS", "-o", out_s, &format!("http://{a}{path}")]),
        Addr::Unix(p) => Cmd::new(
            curl,
            &[
                "-sS",
                "--unix-socket",
                p.to_str().unwrap(),
                "-o",
                out_s,
                &format!("http://localhost{path}"),
            ],
        ),
    };
    cmd.timeout(WAIT).run()
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub status_line: String,
    /// Header lines, names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn content_length(&self) -> u64 {
        self.header("content-length")
            .unwrap_or_else(|| panic!("no Content-Length: {self:?}"))
            .parse()
            .expect("numeric Content-Length")
    }
}

/// Parse everything a server sent (head and body, up to EOF).
pub fn parse_response(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no complete response head in {} bytes: {:?}",
                raw.len(),
                String::from_utf8_lossy(&raw[..raw.len().min(300)])
            )
        });
    let head = std::str::from_utf8(&raw[..end]).expect("UTF-8 response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap().to_string();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .map(|l| {
            let (n, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header {l:?}"));
            (n.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    Response {
        status,
        status_line,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

/// Send `request` on a fresh connection and read the whole response (to EOF).
pub fn http_exchange(addr: &Addr, request: &[u8]) -> Response {
    let mut s = addr.connect();
    s.write_all(request).expect("send request");
    let raw = s.read_to_eof();
    parse_response(&raw)
}

/// `GET / HTTP/1.1` with a Host header.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").into_bytes()
}

/// A syscall count from a connection record's `cost`: `syscalls.by_name[name]` when it is a
/// number, else the method's own count (`self_counted`), else 0 (self-counted records list
/// only the calls the method made).
pub fn syscalls(rec: &Value, name: &str) -> u64 {
    let cost = &rec["cost"];
    cost["syscalls"]["by_name"][name]
        .as_u64()
        .or_else(|| cost["self_counted"][name].as_u64())
        .unwrap_or(0)
}

/// A connection record that delivered `bytes` file bytes completely with `method`.
pub fn assert_complete(rec: &Value, method: &str, bytes: u64, ctx: &str) {
    assert_eq!(rec["event"], "connection", "{ctx}: {rec}");
    assert_eq!(rec["outcome"], "complete", "{ctx}: {rec}");
    assert_eq!(rec["method"], method, "{ctx}: {rec}");
    assert_eq!(rec["bytes"].as_u64(), Some(bytes), "{ctx}: bytes: {rec}");
    assert_eq!(
        rec["expected"].as_u64(),
        Some(bytes),
        "{ctx}: expected: {rec}"
    );
    assert!(
        rec["id"].as_u64().is_some_and(|i| i >= 1),
        "{ctx}: id: {rec}"
    );
    assert!(rec["wall_ns"].is_u64(), "{ctx}: wall_ns: {rec}");
    assert!(
        rec["throughput_mib_s"].is_number(),
        "{ctx}: throughput: {rec}"
    );
    assert!(rec["detail"].is_string(), "{ctx}: detail: {rec}");
    let cost = &rec["cost"];
    assert!(cost.is_object(), "{ctx}: cost must be present: {rec}");
    for key in [
        "syscalls",
        "self_counted",
        "context_switches",
        "cpu",
        "page_faults",
        "cpu_migrations",
    ] {
        assert!(cost.get(key).is_some(), "{ctx}: cost.{key} missing: {rec}");
    }
    let src = cost["syscalls"]["source"].as_str().unwrap_or("");
    assert!(
        src == "perf" || src == "self-counted",
        "{ctx}: cost.syscalls.source {src:?}: {rec}"
    );
    assert!(cost["syscalls"]["by_name"].is_object(), "{ctx}: {rec}");
}

/// The syscall shape each method must show for a transfer of `size` file bytes.
pub fn assert_syscall_shape(rec: &Value, method: &str, size: u64, ctx: &str) {
    let pread = syscalls(rec, "pread64");
    match method {
        "read-write" => {
            assert_eq!(
                pread,
                size.div_ceil(RW_BUFFER),
                "{ctx}: read-write pread64 must be ceil(size / 128 KiB): {rec}"
            );
            assert!(syscalls(rec, "write") >= 1, "{ctx}: {rec}");
        }
        "sendfile" => {
            assert!(syscalls(rec, "sendfile64") >= 1, "{ctx}: sendfile64: {rec}");
            assert_eq!(pread, 0, "{ctx}: sendfile must not pread: {rec}");
        }
        "mmap" => {
            assert!(syscalls(rec, "mmap") >= 1, "{ctx}: mmap: {rec}");
            assert_eq!(pread, 0, "{ctx}: mmap must not pread: {rec}");
        }
        "splice" => {
            assert!(syscalls(rec, "splice") >= 2, "{ctx}: splice: {rec}");
            assert_eq!(pread, 0, "{ctx}: splice must not pread: {rec}");
        }
        "vmsplice" => {
            assert!(pread >= 1, "{ctx}: vmsplice reads into fresh pages: {rec}");
            assert!(syscalls(rec, "vmsplice") >= pread, "{ctx}: {rec}");
            assert!(syscalls(rec, "splice") >= pread, "{ctx}: {rec}");
            assert_eq!(
                syscalls(rec, "mmap"),
                syscalls(rec, "munmap"),
                "{ctx}: each fresh region is unmapped: {rec}"
            );
        }
        "msg-zerocopy" | "io-uring-send-zc" => {
            let z = &rec["cost"]["zerocopy"];
            let sends = z["sends"].as_u64().unwrap_or(0);
            assert!(sends >= 1, "{ctx}: zero-copy sends: {rec}");
            assert_eq!(
                z["completed"].as_u64(),
                Some(sends),
                "{ctx}: a completion per send: {rec}"
            );
            assert_eq!(pread, 0, "{ctx}: sends from a mapping: {rec}");
            if method == "msg-zerocopy" {
                assert!(syscalls(rec, "sendto") >= sends, "{ctx}: {rec}");
                assert!(syscalls(rec, "recvmsg") >= 1, "{ctx}: completions: {rec}");
            } else {
                assert_eq!(syscalls(rec, "sendto"), 0, "{ctx}: {rec}");
                assert!(syscalls(rec, "io_uring_enter") >= 1, "{ctx}: {rec}");
            }
        }
        "io-uring-splice" => {
            assert!(syscalls(rec, "io_uring_enter") >= 1, "{ctx}: {rec}");
            assert_eq!(
                syscalls(rec, "splice"),
                0,
                "{ctx}: no splice syscall: {rec}"
            );
            assert!(
                rec["cost"]["io_workers"]["cpu_ns"].as_u64().unwrap_or(0) > 0,
                "{ctx}: the io-wq workers did the splicing: {rec}"
            );
        }
        other => panic!("unknown method {other}"),
    }
}

/// The summary of a server that served `n` complete transfers of `size` bytes each.
pub fn assert_summary(sum: &Value, method: &str, n: u64, size: u64, ctx: &str) {
    assert_eq!(sum["event"], "summary", "{ctx}: {sum}");
    assert_eq!(sum["method"], method, "{ctx}: {sum}");
    assert_eq!(sum["connections"].as_u64(), Some(n), "{ctx}: {sum}");
    assert_eq!(sum["complete"].as_u64(), Some(n), "{ctx}: {sum}");
    for k in ["client_closed", "file_changed", "errors", "rejected"] {
        assert_eq!(sum[k].as_u64(), Some(0), "{ctx}: summary.{k}: {sum}");
    }
    assert_eq!(sum["bytes"].as_u64(), Some(n * size), "{ctx}: {sum}");
}

/// Names in `dir` that look like fetch's temporary files.
pub fn partial_leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("copylab-partial"))
        .collect()
}

// Process figures of a running server, a server started under a file-descriptor limit, and raw
// client sockets with options set before connect.

impl Server {
    /// Like [`Server::start`], with the server's RLIMIT_NOFILE (soft and hard) set to `nofile`.
    pub fn start_with_nofile(file: &Path, args: &[&str], nofile: u64) -> Server {
        Server::start_json(file, args, Some(nofile))
    }

    /// Threads of the server process (`/proc/PID/task`): the acceptor plus its workers.
    pub fn thread_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.pid))
            .expect("read /proc/PID/task")
            .count()
    }

    /// Resident set size of the server process in KiB (`VmRSS` in `/proc/PID/status`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in /proc/{}/status", self.pid))
    }

    /// True while the server has not exited (reaps it, keeping its status, if it has).
    pub fn is_running(&mut self) -> bool {
        if self.exit.is_some() {
            return false;
        }
        match self.child.try_wait().expect("try_wait") {
            Some(st) => {
                self.exit = Some(st);
                false
            }
            None => true,
        }
    }

    /// Wait (bounded) until the server has `n` threads; returns the last count seen.
    pub fn wait_threads(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let t = self.thread_count();
            if t >= n || Instant::now() >= deadline {
                return t;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A TCP client socket to `addr` (IPv4 `HOST:PORT`) with `SO_RCVBUF` set to `rcvbuf` before
/// connecting (so the window it advertises is small from the start), read timeout [`WAIT`].
pub fn connect_with_rcvbuf(addr: &str, rcvbuf: usize) -> TcpStream {
    use nix::sys::socket::{
        AddressFamily, SockFlag, SockType, SockaddrIn, connect, setsockopt, socket, sockopt,
    };
    use std::os::fd::AsRawFd;
    let sa: std::net::SocketAddrV4 = addr.parse().expect("IPv4 HOST:PORT");
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("socket");
    setsockopt(&fd, sockopt::RcvBuf, &rcvbuf).expect("SO_RCVBUF");
    connect(fd.as_raw_fd(), &SockaddrIn::from(sa))
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(WAIT)).expect("set_read_timeout");
    s
}

/// Make `close` of `s` send a reset (SO_LINGER with a zero timeout).
pub fn set_linger_zero(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    nix::sys::socket::setsockopt(s, nix::sys::socket::sockopt::Linger, &linger).expect("SO_LINGER");
}

/// Connect, read to EOF (read timeout [`WAIT`]), return what arrived.
pub fn tcp_read_all(addr: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(WAIT)).expect("set_read_timeout");
    let mut v = Vec::new();
    s.read_to_end(&mut v).unwrap_or_else(|e| {
        panic!(
            "reading to EOF from {addr} failed after {} bytes: {e}",
            v.len()
        )
    });
    v
}
