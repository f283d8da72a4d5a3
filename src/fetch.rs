//! `copylab fetch`: a client for `copylab serve` (or any server of a file over raw TCP, a Unix
//! socket or HTTP/1.1). Receives, writes or discards, and prints bytes, throughput and the
//! SHA-256 of what arrived; with several connections at once, their spread.

use std::collections::HashMap;
use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::RawFd;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget};
use nix::errno::Errno;
use sha2::{Digest, Sha256};

use crate::escape::{self, escape};
use crate::http;
use crate::outfile;
use crate::report::progress;
use crate::signals;
use crate::size::fmt_bytes;

/// Where the server is.
#[derive(Debug, Clone)]
pub enum Target {
    /// Every address the name resolved to (tried in order), and the text given.
    Tcp(Vec<SocketAddr>, String),
    Unix(PathBuf),
}

impl Target {
    /// `HOST:PORT`, or a path (anything with a `/`) for a Unix socket.
    pub fn parse(text: &str) -> Result<Target> {
        if text.contains('/') {
            return Ok(Target::Unix(PathBuf::from(text)));
        }
        let addrs: Vec<SocketAddr> = text
            .to_socket_addrs()
            .map(Iterator::collect)
            .unwrap_or_default();
        if addrs.is_empty() {
            bail!("'{text}' is not HOST:PORT (e.g. 127.0.0.1:7878) nor a Unix socket path");
        }
        Ok(Target::Tcp(addrs, text.to_string()))
    }

    fn host_header(&self) -> String {
        match self {
            Target::Tcp(_, text) => text.clone(),
            Target::Unix(_) => "localhost".into(),
        }
    }
}

/// What happens to the received bytes.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Written to this file (through a temporary name, renamed when complete).
    Out(PathBuf),
    /// Written to stdout (`--out -`); the results then go to stderr.
    Stdout,
    /// Copied to user space, hashed, dropped.
    Discard,
    /// Dropped in the kernel with `recv(MSG_TRUNC)`: never copied to user space, so not hashed.
    Truncate,
}

/// Everything `fetch` needs, already validated.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub target: Target,
    pub http: bool,
    /// Request path in HTTP mode.
    pub path: String,
    /// HTTP: ask for file bytes `first..=last` only, and expect exactly them in a 206.
    pub range: Option<(u64, u64)>,
    pub sink: Sink,
    pub connections: usize,
    pub json: bool,
    /// Longest wait to connect, and for each read or write to make progress (`--timeout`).
    pub timeout: Duration,
    /// Largest body accepted (`--max-size`), declared or received.
    pub max_size: Option<u64>,
}

pub use crate::results::fetch::{FetchReport, Fetched};

enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Socket {
    /// Connect within `timeout` (each address in turn), then make every read and write give up
    /// after `timeout` without progress.
    fn connect(t: &Target, timeout: Duration) -> Result<Socket> {
        let s = match t {
            Target::Tcp(addrs, text) => Socket::Tcp(connect_tcp(addrs, text, timeout)?),
            Target::Unix(p) => Socket::Unix(
                UnixStream::connect(p)
                    .with_context(|| format!("cannot connect to {}", escape::path(p)))?,
            ),
        };
        let set = match &s {
            Socket::Tcp(c) => c
                .set_read_timeout(Some(timeout))
                .and_then(|()| c.set_write_timeout(Some(timeout))),
            Socket::Unix(c) => c
                .set_read_timeout(Some(timeout))
                .and_then(|()| c.set_write_timeout(Some(timeout))),
        };
        set.context("cannot set the socket's --timeout")?;
        Ok(s)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Socket::Tcp(s) => s.as_fd(),
            Socket::Unix(s) => s.as_fd(),
        }
    }
}

/// Connect to the first of `addrs` that answers within `timeout`; `text` is the target as given.
fn connect_tcp(addrs: &[SocketAddr], text: &str, timeout: Duration) -> Result<TcpStream> {
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) if e.kind() == std::io::ErrorKind::TimedOut => bail!(
            "cannot connect to {text}: no answer within {} s (--timeout)",
            timeout.as_secs()
        ),
        e => {
            let e = e.unwrap_or_else(|| std::io::ErrorKind::NotFound.into());
            Err(e).with_context(|| format!("cannot connect to {text}"))
        }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(buf),
            Socket::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write(buf),
            Socket::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where `--out` is being written: a regular file under a temporary name beside its final one
/// (renamed when complete), or a device or FIFO written in place (never replaced).
struct Partial {
    file: File,
    /// The temporary to rename (or remove), or None when writing in place.
    tmp: Option<PathBuf>,
    done: bool,
}

impl Partial {
    fn create(out: &Path) -> Result<Partial> {
        let (file, tmp) = match outfile::classify("--out", out)? {
            outfile::WriteMode::InPlace { link } => {
                (outfile::open_in_place("--out", out, link)?, None)
            }
            outfile::WriteMode::Replace => {
                let (file, tmp) = outfile::create_temp_beside("--out", out, "copylab-partial")?;
                signals::unlink_on_abort(&tmp);
                (file, Some(tmp))
            }
        };
        Ok(Partial {
            file,
            tmp,
            done: false,
        })
    }

    fn finish(mut self, out: &Path) -> Result<()> {
        self.file
            .flush()
            .with_context(|| format!("cannot write {}", escape::path(out)))?;
        if let Some(tmp) = &self.tmp {
            std::fs::rename(tmp, out)
                .with_context(|| format!("cannot rename the download to {}", escape::path(out)))?;
        }
        self.done = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let (false, Some(tmp)) = (self.done, &self.tmp) {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// What the connection threads share with the thread that watches them: the bytes received
/// (the bar's position), the bytes declared so far (its length), and each live connection's
/// socket, shut down on Ctrl-C.
#[derive(Default)]
struct Connections {
    progress: AtomicU64,
    total_hint: AtomicU64,
    open: Mutex<HashMap<usize, RawFd>>,
}

/// A connection thread that could not start: its id, and why.
type SpawnError = (usize, std::io::Error);

/// Run the fetch; an error if any connection failed.
pub fn run(opts: FetchOptions) -> Result<()> {
    if opts.connections > 1 && matches!(opts.sink, Sink::Out(_) | Sink::Stdout) {
        bail!(
            "--connections {}: --out takes one connection; use --discard with several",
            opts.connections
        );
    }
    signals::install()?;
    let mut partial = match &opts.sink {
        Sink::Out(p) => Some(Partial::create(p)?),
        _ => None,
    };
    // `--out -`: the body goes to stdout (a descriptor of its own, written like a file).
    let mut stdout_body = match opts.sink {
        Sink::Stdout => Some(File::from(
            std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .context("--out -: cannot use stdout")?,
        )),
        _ => None,
    };
    let bar = progress_bar();
    let started = Instant::now();
    let out_file = partial
        .as_mut()
        .map(|p| &mut p.file)
        .or(stdout_body.as_mut());
    let (results, spawn_error) = fetch_all(&opts, out_file, &bar, started);
    let elapsed = started.elapsed();
    bar.finish_and_clear();

    let failures = results.iter().filter(|r| r.error.is_some()).count();
    if let (Some(p), Sink::Out(out)) = (partial, &opts.sink)
        && failures == 0
        && spawn_error.is_none()
    {
        p.finish(out)?;
    }
    let written_to = match &opts.sink {
        Sink::Out(p) if results.iter().all(|r| r.error.is_none()) => Some(p.as_path()),
        _ => None,
    };
    // With the body on stdout (`--out -`), what was received is said on stderr.
    let mut report_to: Box<dyn Write> = match opts.sink {
        Sink::Stdout => Box::new(std::io::stderr().lock()),
        _ => Box::new(std::io::stdout().lock()),
    };
    crate::report::write_fetch(
        &FetchReport::new(&results, elapsed),
        opts.json,
        written_to,
        &mut report_to,
    )?;
    outcome(&results, spawn_error, opts.connections)
}

/// The bar of the bytes received on stderr (hidden when stderr is not a terminal). In the
/// tables' units (MiB/s) and as wide as the terminal: a spinner until the size is known
/// (HTTP's Content-Length; a raw stream is read to its end), then a bar with the time left.
fn progress_bar() -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(progress::stream_style());
    bar.set_prefix("fetch");
    bar
}

/// Every connection on a thread of its own (the first writes to `out_file`), watched until all
/// have ended (the bar timed from `started`): what each received, and the thread that could
/// not start, if one could not.
fn fetch_all(
    opts: &FetchOptions,
    mut out_file: Option<&mut File>,
    bar: &ProgressBar,
    started: Instant,
) -> (Vec<Fetched>, Option<SpawnError>) {
    let shared = Connections::default();
    let done = AtomicBool::new(false);
    let mut spawn_error = None;
    let results = std::thread::scope(|s| {
        if !bar.is_hidden() {
            // Without its thread the bar just stays still: not worth failing the fetch for.
            let _ = std::thread::Builder::new()
                .spawn_scoped(s, || show_progress(bar, &shared, &done, started));
        }
        let mut handles = Vec::new();
        for id in 1..=opts.connections {
            let (file, shared) = (out_file.take(), &shared);
            match std::thread::Builder::new().spawn_scoped(s, move || one(opts, id, file, shared)) {
                Ok(h) => handles.push(h),
                Err(e) => {
                    // The thread limit (ulimit -u) or memory: run what started, report it.
                    spawn_error = Some((id, e));
                    break;
                }
            }
        }
        wait_or_stop(&handles, &shared.open);
        let r = handles
            .into_iter()
            .enumerate()
            .map(|(i, h)| {
                h.join()
                    .unwrap_or_else(|_| failed(i + 1, "the connection thread panicked".into()))
            })
            .collect();
        done.store(true, Ordering::Relaxed);
        r
    });
    (results, spawn_error)
}

/// Move `bar` with the bytes received and declared until `done`: a bar with the time left
/// (since `started`) once a length is declared.
fn show_progress(bar: &ProgressBar, shared: &Connections, done: &AtomicBool, started: Instant) {
    let mut sized = false;
    while !done.load(Ordering::Relaxed) {
        let t = shared.total_hint.load(Ordering::Relaxed);
        let now = shared.progress.load(Ordering::Relaxed);
        if t > 0 {
            if !sized {
                bar.set_style(progress::transfer_style());
                sized = true;
            }
            bar.set_length(t);
            bar.set_message(progress::bytes_left(started.elapsed(), now, t));
        }
        bar.set_position(now);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Wait for every connection thread to end. Ctrl-C reaches whichever thread it reaches: watch
/// for it here and end the transfers by shutting their sockets down, so a blocked read returns.
fn wait_or_stop<T>(
    handles: &[std::thread::ScopedJoinHandle<'_, T>],
    open: &Mutex<HashMap<usize, RawFd>>,
) {
    while !handles.iter().all(|h| h.is_finished()) {
        if signals::stop_requested() {
            for fd in lock(open).values() {
                // SAFETY: a descriptor is registered only while its thread holds the open
                // socket, and is unregistered (under this lock) before the socket closes.
                unsafe { libc::shutdown(*fd, libc::SHUT_RDWR) };
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The fetch's exit: an error when a connection could not start, was stopped or failed.
fn outcome(results: &[Fetched], spawn_error: Option<SpawnError>, asked: usize) -> Result<()> {
    let failures = results.iter().filter(|r| r.error.is_some()).count();
    if let Some((id, e)) = spawn_error {
        bail!(
            "only {} of {asked} connections could start: cannot start the thread for connection {id}: {e} (the thread limit, ulimit -u, or memory); {failures} of those failed",
            results.len(),
        );
    }
    if signals::stop_requested() {
        return Err(anyhow::Error::new(signals::Interrupted).context(format!(
            "{failures} of {} connection(s) did not finish",
            results.len()
        )));
    }
    if failures > 0 {
        let first = results
            .iter()
            .find_map(|r| r.error.clone())
            .unwrap_or_default();
        bail!(
            "{failures} of {} connection(s) failed: {first}",
            results.len()
        );
    }
    Ok(())
}

fn failed(id: usize, why: String) -> Fetched {
    Fetched {
        id,
        bytes: 0,
        wall_ns: 0,
        throughput_mib_s: 0.0,
        sha256: None,
        http_status: None,
        content_length: None,
        range_note: None,
        error: Some(why),
    }
}

/// One connection: connect, ask (HTTP), receive the body into the sink.
fn one(opts: &FetchOptions, id: usize, out: Option<&mut File>, shared: &Connections) -> Fetched {
    let start = Instant::now();
    let mut rec = failed(id, String::new());
    rec.error = None;
    let mut sink = Body {
        hasher: (!matches!(opts.sink, Sink::Truncate)).then(Sha256::new),
        out,
        progress: &shared.progress,
    };
    let r = receive(opts, id, &mut sink, &mut rec, shared);
    rec.sha256 = sink.hasher.take().filter(|_| r.is_ok()).map(|h| {
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    });
    let wall = start.elapsed();
    rec.wall_ns = wall.as_nanos() as u64;
    if rec.bytes > 0 && !wall.is_zero() {
        rec.throughput_mib_s = crate::size::mib_per_s(rec.bytes, wall.as_secs_f64());
    }
    if let Err(e) = r {
        rec.error = Some(format!("{e:#}"));
    }
    rec
}

/// Where received bytes go: the hash, the --out file, the progress count.
struct Body<'a> {
    hasher: Option<Sha256>,
    out: Option<&'a mut File>,
    progress: &'a AtomicU64,
}

impl Body<'_> {
    fn take(&mut self, chunk: &[u8], rec: &mut Fetched) -> Result<()> {
        if let Some(h) = self.hasher.as_mut() {
            h.update(chunk);
        }
        if let Some(f) = self.out.as_mut() {
            f.write_all(chunk).context("cannot write --out")?;
        }
        self.counted(chunk.len(), rec);
        Ok(())
    }

    /// Bytes received and dropped in the kernel (--discard=truncate): counted only.
    fn counted(&self, n: usize, rec: &mut Fetched) {
        rec.bytes += n as u64;
        self.progress.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Connect, ask (HTTP), and receive the body into `body`, filling `rec` as it goes.
fn receive(
    opts: &FetchOptions,
    id: usize,
    body: &mut Body<'_>,
    rec: &mut Fetched,
    shared: &Connections,
) -> Result<()> {
    let mut s = Socket::connect(&opts.target, opts.timeout)?;
    let _registered = Registered::new(&shared.open, id, s.fd().as_raw_fd());
    let mut page = crate::sys::PageBuf::new(1 << 20);
    let buf = page.as_mut();
    let mut body_start = Vec::new();
    if opts.http {
        body_start = ask(opts, &mut s, buf, rec)?;
        if let Some(len) = rec.content_length {
            shared.total_hint.fetch_add(len, Ordering::Relaxed);
        }
    }
    let limit = rec.content_length;
    let first = match limit {
        Some(l) => &body_start[..body_start.len().min(l as usize)],
        None => &body_start[..],
    };
    body.take(first, rec)?;
    while let Some(want) = next_want(opts, limit, rec.bytes, buf.len()) {
        let n = if matches!(opts.sink, Sink::Truncate) {
            let n = recv_truncate(s.fd(), &mut buf[..want], opts.timeout)?;
            body.counted(n, rec);
            n
        } else {
            let n = read_some(&mut s, &mut buf[..want], opts.timeout)?;
            body.take(&buf[..n], rec)?;
            n
        };
        if n == 0 {
            break;
        }
        if let Some(max) = opts.max_size
            && rec.bytes > max
        {
            bail!("the server sent more than --max-size {max} bytes; stopped there");
        }
    }
    if signals::stop_requested() {
        return Err(signals::Interrupted.into());
    }
    if let Some(l) = limit
        && rec.bytes < l
    {
        bail!(
            "connection closed after {} of {} bytes (Content-Length)",
            rec.bytes,
            l
        );
    }
    Ok(())
}

/// HTTP: ask for the body and judge the response head (status, range, declared length against
/// --max-size and the room for --out), filling `rec`; returns the bytes read past the head.
fn ask(opts: &FetchOptions, s: &mut Socket, buf: &mut [u8], rec: &mut Fetched) -> Result<Vec<u8>> {
    let (h, rest) = request(opts, s, buf)?;
    rec.http_status = Some(h.status);
    rec.range_note = check_status(&h, opts.range)?;
    let Some(len) = h.content_length else {
        bail!("the response has no Content-Length");
    };
    if let Some(max) = opts.max_size
        && len > max
    {
        bail!(
            "the server declares {len} bytes (Content-Length), more than --max-size {max}; nothing written"
        );
    }
    if let Sink::Out(p) = &opts.sink {
        check_space(p, len)?;
    }
    rec.content_length = Some(len);
    Ok(rest)
}

/// How many bytes to read next, `got` received so far into a buffer of `room`: up to the
/// declared length (`limit`), else up to one byte past --max-size (enough to know the body is
/// too large); None once the declared length has arrived.
fn next_want(opts: &FetchOptions, limit: Option<u64>, got: u64, room: usize) -> Option<usize> {
    match limit {
        Some(l) if got >= l => None,
        Some(l) => Some(((l - got) as usize).min(room)),
        None => Some(match opts.max_size {
            Some(max) => (max.saturating_sub(got).saturating_add(1)).min(room as u64) as usize,
            None => room,
        }),
    }
}

/// Send the GET and read the final response head (skipping interim 1xx responses); returns
/// it with the bytes read past it (the start of the body).
fn request(
    opts: &FetchOptions,
    s: &mut Socket,
    buf: &mut [u8],
) -> Result<(http::ResponseHead, Vec<u8>)> {
    let range = opts
        .range
        .map(|(a, b)| format!("Range: bytes={a}-{b}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: copylab/{}\r\n{range}Connection: close\r\n\r\n",
        opts.path,
        opts.target.host_header(),
        env!("CARGO_PKG_VERSION")
    );
    s.write_all(req.as_bytes())
        .map_err(|e| stalled(e, opts.timeout))
        .context("cannot send the request")?;
    let mut head = Vec::new();
    // Interim 1xx responses (100 Continue, 103 Early Hints) come before the real one and have
    // no body: skip them (RFC 9112 §9.2; 101 would switch protocols: refused).
    loop {
        let end = loop {
            if let Some(e) = http::head_end(&head) {
                break e;
            }
            if head.len() > 64 << 10 {
                bail!("the response head is larger than 64 KiB");
            }
            let n = read_some(s, buf, opts.timeout)?;
            if n == 0 {
                bail!("the server closed the connection before a complete response head");
            }
            head.extend_from_slice(&buf[..n]);
        };
        let rest = head.split_off(end);
        let h = http::parse_response(&head).map_err(|e| anyhow::anyhow!(e))?;
        head = rest;
        match h.status {
            101 => bail!(
                "the server answered 101 {}: fetch does not switch protocols",
                escape(&h.reason)
            ),
            100..=199 => continue,
            _ => return Ok((h, head)),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Single inserts and removes cannot leave the map half-updated: a poisoned lock is usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A connection's socket listed for shutdown on Ctrl-C while it lives.
struct Registered<'a> {
    open: &'a Mutex<HashMap<usize, RawFd>>,
    id: usize,
}

impl<'a> Registered<'a> {
    fn new(open: &'a Mutex<HashMap<usize, RawFd>>, id: usize, fd: RawFd) -> Registered<'a> {
        lock(open).insert(id, fd);
        Registered { open, id }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        lock(self.open).remove(&self.id);
    }
}

/// A socket timeout (SO_RCVTIMEO/SO_SNDTIMEO end a call with EAGAIN) said in words.
fn stalled(e: std::io::Error, timeout: Duration) -> anyhow::Error {
    if matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ) {
        anyhow::anyhow!(
            "the server sent nothing for {} s (--timeout); giving up",
            timeout.as_secs()
        )
    } else {
        e.into()
    }
}

/// Refuse a declared length that would not fit in `out`'s file system with the margin of
/// [`crate::storage::margin`] left over (a device or FIFO is not checked: it stores nothing).
fn check_space(out: &Path, len: u64) -> Result<()> {
    if matches!(
        outfile::classify("--out", out),
        Ok(outfile::WriteMode::InPlace { .. })
    ) {
        return Ok(());
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Err(room) = crate::storage::check_room(dir, len) {
        bail!(
            "--out {}: the server declares {} (Content-Length {len}) but there is no room for it: {room}; free some space, write elsewhere or use --discard; nothing written",
            escape::path(out),
            fmt_bytes(len)
        );
    }
    Ok(())
}

/// `read`, retrying EINTR unless a stop was asked for; a `timeout` without data is an error.
fn read_some(s: &mut Socket, buf: &mut [u8], timeout: Duration) -> Result<usize> {
    loop {
        match s.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                if signals::stop_requested() {
                    return Err(signals::Interrupted.into());
                }
            }
            Err(e) => return Err(stalled(e, timeout)).context("receiving failed"),
        }
    }
}

/// `recv(MSG_TRUNC)`: the kernel drops up to `buf.len()` bytes without copying them.
fn recv_truncate(fd: BorrowedFd<'_>, buf: &mut [u8], timeout: Duration) -> Result<usize> {
    loop {
        // SAFETY: `buf` is live and writable for its length (the kernel does not write to it
        // with MSG_TRUNC on a stream socket, but a valid buffer keeps every kernel happy).
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC,
            )
        };
        match Errno::result(n) {
            Ok(n) => return Ok(n as usize),
            Err(Errno::EINTR) if !signals::stop_requested() => continue,
            Err(Errno::EINTR) => return Err(signals::Interrupted.into()),
            Err(Errno::EAGAIN) => {
                return Err(stalled(std::io::ErrorKind::WouldBlock.into(), timeout))
                    .context("receiving failed");
            }
            Err(Errno::EINVAL | Errno::EOPNOTSUPP) => {
                bail!(
                    "--discard=truncate: this socket type does not support recv(MSG_TRUNC); use --discard"
                )
            }
            Err(e) => return Err(e).context("recv(MSG_TRUNC) failed"),
        }
    }
}

/// The status (and, for `--range`, the part) must be what was asked for: 200 for the whole
/// file; with `--range a-b`, 206 with `Content-Range: bytes a-b/len` — or, when `b` lies past
/// the end of the file, `bytes a-(len-1)/len`: RFC 9110 §14.1.2 has the server cut the range at
/// the file's last byte. That is accepted, and said (the returned note); any other part is
/// refused.
fn check_status(h: &http::ResponseHead, range: Option<(u64, u64)>) -> Result<Option<String>> {
    let Some((first, last)) = range else {
        if h.status != 200 {
            bail!("the server answered {} {}", h.status, escape(&h.reason));
        }
        return Ok(None);
    };
    if h.status != 206 {
        bail!(
            "--range {first}-{last}: the server answered {} {}, not 206 Partial Content",
            h.status,
            escape(&h.reason)
        );
    }
    let got = h.content_range.as_deref().unwrap_or("");
    let parsed = got.strip_prefix("bytes ").and_then(|r| r.split_once('/'));
    let span = parsed
        .and_then(|(span, _)| span.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
    let len = parsed.and_then(|(_, len)| len.parse::<u64>().ok());
    match (span, len) {
        (Some((a, b)), _) if a == first && b == last => Ok(None),
        (Some((a, b)), Some(len)) if a == first && b < last && b >= a && b + 1 == len => {
            Ok(Some(format!(
                "--range {first}-{last}: the file has {len} bytes, so the server sent {a}-{b}: a range past the end is cut at the file's last byte (RFC 9110 §14.1.2)"
            )))
        }
        _ => bail!(
            "--range {first}-{last}: the server sent Content-Range \"{}\", not the range asked for (nor that range cut at the end of the file)",
            escape(got)
        ),
    }
}
