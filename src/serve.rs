//! `copylab serve`: the server half facing real clients (nc, socat, curl, a browser, `copylab
//! fetch`). One file opened once; each connection on its own thread, with its own counters
//! around its own transfer, printing one line when it ends; a summary table at the end.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use comfy_table::{Cell, CellAlignment, Table};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde::Serialize;

use crate::counters::{Choice, Counters, SyscallSource};
use crate::http::{self, Status, Verdict};
use crate::method::{self, Method, MethodConfig, MethodKind, Scratch};
use crate::results::Cost;
use crate::signals;
use crate::size::fmt_bytes;
use crate::size::fmt_ms as ms;
use crate::source::Source;
use crate::sys::{SendError, StopKind};
use crate::transfer;

/// How long running transfers may go on after a stop is asked for, before they are cut.
pub const GRACE: Duration = Duration::from_secs(5);

/// Where to listen.
#[derive(Debug, Clone)]
pub enum Listen {
    /// TCP; `explicit` when the user chose the address with --listen.
    Tcp {
        addr: SocketAddr,
        explicit: bool,
    },
    Unix(PathBuf),
}

/// Everything `serve` needs, already validated.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub file: PathBuf,
    pub method: MethodKind,
    pub listen: Listen,
    pub http: bool,
    pub max_conns: usize,
    /// Exit after this many connections.
    pub count: Option<u64>,
    pub buffer: usize,
    pub pipe_size: usize,
    /// Chunks per `io_uring_enter` for the io_uring paths.
    pub batch: u32,
    pub counters: Choice,
    /// End a connection whose client reads nothing for this long (None: wait forever).
    pub send_timeout: Option<Duration>,
    /// One JSON object per line instead of text lines and a table.
    pub json: bool,
    pub color: crate::report::Color,
    /// CPUs every worker is pinned to (empty: not pinned).
    pub cpus: Vec<u32>,
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every byte was handed to the socket.
    Complete,
    /// The client went away first (EPIPE, ECONNRESET, or it closed before asking).
    ClientClosed,
    /// The client stopped reading for longer than --send-timeout.
    SendTimeout,
    /// The file shrank while being sent.
    FileChanged,
    /// Any other failure.
    Error,
    /// Cut by the server itself as it stopped (Ctrl-C, after the grace period).
    Stopped,
    /// An HTTP request that was answered with an error status.
    Rejected,
}

/// One connection, as printed and as one line of `--json` output.
#[derive(Debug, Clone, Serialize)]
pub struct ConnRecord {
    /// Always `"connection"`.
    pub event: &'static str,
    /// 1, 2, … in order of acceptance.
    pub id: u64,
    /// The client's address (`unix` for a Unix socket).
    pub peer: String,
    pub method: MethodKind,
    /// HTTP status sent, or null in raw mode.
    pub http_status: Option<u16>,
    /// File bytes handed to the socket.
    pub bytes: u64,
    /// File bytes there were to send (0 for HEAD and rejected requests).
    pub expected: u64,
    /// From the first send call to the last one returning.
    pub wall_ns: u64,
    /// bytes / wall time, in MiB per second (0 when nothing was sent).
    pub throughput_mib_s: f64,
    pub outcome: Outcome,
    /// A sentence about how it ended.
    pub detail: String,
    /// What the transfer cost this connection's thread, or null if nothing was sent.
    pub cost: Option<Cost>,
}

/// State shared by the acceptor and the connection threads.
struct Shared {
    src: Source,
    method: Box<dyn Method>,
    opts: ServeOptions,
    file_name: String,
    active: Mutex<HashMap<u64, RawFd>>,
    slot_freed: Condvar,
    /// What the summary needs of each finished connection (a few dozen bytes, not the record:
    /// a long-running server must not grow by a record per connection).
    records: Mutex<Vec<Brief>>,
    out: Mutex<()>,
    /// Set when the server shuts down the connections still running at exit.
    cutting: std::sync::atomic::AtomicBool,
    /// Buffers, pipes and rings not in use, for whichever thread takes the next connection.
    /// Kept here, not per thread: after a burst that ran out of descriptors, the pipes the
    /// burst made must serve the next client, whichever idle thread it reaches.
    spare: Mutex<Vec<Scratch>>,
}

/// A connection waiting for a worker.
struct Job {
    id: u64,
    conn: Conn,
    peer: String,
    /// HTTP mode: how reading the request head ended (read before the job reached a worker).
    head: Option<Result<Vec<u8>, http::HeadError>>,
}

/// HTTP mode: connections whose request heads are being read, beyond --max-conns transfers.
const MAX_PENDING_HEADS: usize = 1024;

/// A connection whose request head is still arriving.
struct Pending {
    job: Job,
    buf: Vec<u8>,
    deadline: Instant,
}

/// HTTP mode: read request heads of every accepted connection on one thread with poll, and hand
/// each connection to the workers only once its head is complete (or too large, or late, or the
/// client left). A client trickling its head therefore holds no worker: slow-header clients
/// cannot starve the others, and each is answered 408 at its deadline.
fn read_heads(incoming: std::sync::mpsc::Receiver<Job>, jobs: std::sync::mpsc::Sender<Job>) {
    let mut pending: Vec<Pending> = Vec::new();
    let mut open = true;
    let mut chunk = [0u8; 2048];
    loop {
        // New connections: wait briefly when there is nothing else to do.
        loop {
            let next = if pending.is_empty() && open {
                incoming
                    .recv_timeout(Duration::from_millis(100))
                    .map_err(|e| matches!(e, std::sync::mpsc::RecvTimeoutError::Disconnected))
            } else {
                incoming
                    .try_recv()
                    .map_err(|e| matches!(e, std::sync::mpsc::TryRecvError::Disconnected))
            };
            match next {
                Ok(job) => pending.push(Pending {
                    job,
                    buf: Vec::new(),
                    deadline: Instant::now() + http::HEAD_TIMEOUT,
                }),
                Err(true) => {
                    open = false;
                    break;
                }
                Err(false) => break,
            }
        }
        if !open && pending.is_empty() {
            return;
        }
        // After Ctrl-C no new request is started: a client still sending its head gets 503
        // now, so the stop is not held up by the head timeout.
        if signals::stop_requested() {
            for mut p in pending.drain(..) {
                p.job.head = Some(Err(http::HeadError::Stopped));
                if jobs.send(p.job).is_err() {
                    return;
                }
            }
            if !open {
                return;
            }
        }
        if pending.is_empty() {
            continue;
        }
        let mut fds: Vec<PollFd> = pending
            .iter()
            .map(|p| PollFd::new(p.job.conn.fd(), PollFlags::POLLIN))
            .collect();
        let _ = poll(&mut fds, PollTimeout::from(50u16));
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let now = Instant::now();
        let mut finished: Vec<(usize, Result<Vec<u8>, http::HeadError>)> = Vec::new();
        for (i, p) in pending.iter_mut().enumerate() {
            let mut done: Option<Result<Vec<u8>, http::HeadError>> = None;
            if ready[i] {
                // SAFETY: `chunk` is a live, writable buffer of the length passed.
                let n = unsafe {
                    libc::recv(
                        p.job.conn.fd().as_raw_fd(),
                        chunk.as_mut_ptr().cast(),
                        chunk.len(),
                        libc::MSG_DONTWAIT,
                    )
                };
                match nix::errno::Errno::result(n) {
                    Ok(0) => done = Some(Err(http::HeadError::Closed(p.buf.len()))),
                    Ok(n) => {
                        p.buf.extend_from_slice(&chunk[..n as usize]);
                        done = http::take_head(&mut p.buf);
                    }
                    Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
                    Err(e) => done = Some(Err(http::HeadError::Io(e))),
                }
            }
            if done.is_none() && now >= p.deadline {
                done = Some(Err(http::HeadError::Timeout));
            }
            if let Some(head) = done {
                finished.push((i, head));
            }
        }
        for (i, head) in finished.into_iter().rev() {
            let mut p = pending.remove(i);
            p.job.head = Some(head);
            if jobs.send(p.job).is_err() {
                return;
            }
        }
    }
}

/// What a worker thread keeps between connections: its counters (opened once: closing perf
/// tracepoints costs tens of milliseconds each, which would delay every client's end-of-file).
/// Its buffer or pipe comes from `Shared::spare`. Each connection is still served by one
/// thread, measured alone.
#[derive(Default)]
struct Worker {
    counters: Option<Counters>,
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Conn::Tcp(s) => s.as_fd(),
            Conn::Unix(s) => s.as_fd(),
        }
    }

    fn shutdown(&self, how: Shutdown) {
        // The peer may already be gone; nothing to do about it here.
        let _ = match self {
            Conn::Tcp(s) => s.shutdown(how),
            Conn::Unix(s) => s.shutdown(how),
        };
    }
}

impl Listener {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l, _) => l.as_fd(),
        }
    }

    /// Accept one connection if one is waiting (the listener is non-blocking).
    fn accept(&self) -> std::io::Result<Option<(Conn, String)>> {
        let r = match self {
            Listener::Tcp(l) => l.accept().map(|(s, a)| (Conn::Tcp(s), a.to_string())),
            Listener::Unix(l, _) => l.accept().map(|(s, _)| (Conn::Unix(s), "unix".to_string())),
        };
        match r {
            Ok((c, peer)) => {
                match &c {
                    Conn::Tcp(s) => s.set_nonblocking(false)?,
                    Conn::Unix(s) => s.set_nonblocking(false)?,
                }
                Ok(Some((c, peer)))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            // A connection that died in the backlog is not the server's problem.
            Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn bind(listen: &Listen) -> Result<(Listener, String)> {
    match listen {
        Listen::Tcp { addr, .. } => {
            let l = TcpListener::bind(addr).map_err(|e| {
                let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                    ": the port is taken (another copylab serve?); pick another with --listen 127.0.0.1:0"
                } else if e.kind() == std::io::ErrorKind::PermissionDenied {
                    ": ports below 1024 need root; pick a port above 1023"
                } else {
                    ""
                };
                anyhow::anyhow!("--listen {addr}: cannot listen ({e}){hint}")
            })?;
            l.set_nonblocking(true)?;
            let local = l.local_addr()?;
            Ok((Listener::Tcp(l), local.to_string()))
        }
        Listen::Unix(path) => {
            let shown = path.display();
            // sun_path holds 108 bytes, the last one a NUL.
            let len = path.as_os_str().len();
            if len >= 108 {
                bail!(
                    "--unix {shown}: the path is {len} bytes, and a Unix socket path must be under 108: choose a shorter one"
                );
            }
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                if !meta.file_type().is_socket() {
                    bail!(
                        "--unix {shown}: a file that is not a socket is in the way; choose another path"
                    );
                }
                if UnixStream::connect(path).is_ok() {
                    bail!("--unix {shown}: another server is listening there; choose another path");
                }
                std::fs::remove_file(path)
                    .with_context(|| format!("--unix {shown}: cannot remove the stale socket"))?;
            }
            let l = UnixListener::bind(path)
                .with_context(|| format!("--unix {shown}: cannot listen"))?;
            signals::unlink_on_abort(path);
            l.set_nonblocking(true)?;
            Ok((Listener::Unix(l, path.clone()), path.display().to_string()))
        }
    }
}

/// Run the server until `--count` connections were served or Ctrl-C.
pub fn run(opts: ServeOptions) -> Result<()> {
    let src = Source::open(&opts.file, false)?;
    let file_name = opts
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let transport = match opts.listen {
        Listen::Tcp { .. } => crate::transport::Transport::Tcp,
        Listen::Unix(_) => crate::transport::Transport::Unix,
    };
    if let Err(why) = opts.method.availability(transport) {
        anyhow::bail!("--method {}: {why}", opts.method);
    }
    let method = method::build(
        opts.method,
        MethodConfig {
            buffer: opts.buffer,
            pipe_size: opts.pipe_size,
            batch: opts.batch,
        },
    )
    .with_context(|| format!("method {}", opts.method))?;

    // Each worker keeps its perf counters (about 15 descriptors) open: take the soft descriptor
    // limit up to the hard one, as servers do.
    if let Ok((soft, hard)) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ =
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard);
    }
    crate::placement::check_list(&opts.cpus, "--cpus")?;
    // Probe the counters once, on this thread, to report what can be measured — before
    // listening, so nothing a client could wait for happens after `listen`.
    let Counters {
        syscall_source,
        warnings: probe_warnings,
        ..
    } = Counters::open(opts.counters)?;
    let shared = Arc::new(Shared {
        src,
        method,
        opts: opts.clone(),
        file_name,
        active: Mutex::new(HashMap::new()),
        slot_freed: Condvar::new(),
        records: Mutex::new(Vec::new()),
        out: Mutex::new(()),
        cutting: std::sync::atomic::AtomicBool::new(false),
        spare: Mutex::new(Vec::new()),
    });
    let (jobs, queue) = std::sync::mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    let mut workers = Vec::new();
    // The first worker opens its counters before the port listens, so the first client waits
    // for nothing; later workers start (and open theirs) as connections arrive.
    {
        let (sh, q) = (Arc::clone(&shared), Arc::clone(&queue));
        let (ready_tx, ready) = std::sync::mpsc::channel::<()>();
        if let Ok(h) = std::thread::Builder::new()
            .name("copylab-worker-1".into())
            .spawn(move || work(&sh, &q, Some(ready_tx)))
        {
            workers.push(h);
            let _ = ready.recv();
        }
    }
    let (listener, shown_addr) = bind(&opts.listen)?;
    signals::install()?;

    let mut err = std::io::stderr().lock();
    if let Listen::Tcp {
        addr,
        explicit: true,
    } = &opts.listen
        && !is_loopback(addr.ip())
    {
        writeln!(
            err,
            "warning: listening on {shown_addr}: the file is now reachable from the network, not only from this machine"
        )?;
    }
    for w in &probe_warnings {
        writeln!(err, "warning: {w}")?;
    }
    drop(err);

    announce(&shared, &shown_addr, syscall_source)?;

    let accepted = AtomicU64::new(0);
    let mut last_full: Option<Instant> = None;
    // HTTP: request heads are read on their own thread before a connection takes a worker.
    let heads = if opts.http {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let jobs = jobs.clone();
        let reader = std::thread::Builder::new()
            .name("copylab-heads".into())
            .spawn(move || read_heads(rx, jobs))
            .context("cannot start the request-head reader")?;
        Some((tx, reader))
    } else {
        None
    };
    let mut last_thread_warn: Option<Instant> = None;
    loop {
        if signals::stop_requested() {
            break;
        }
        if signals::status_requested() {
            let active = lock(&shared.active).len();
            let done = lock(&shared.records).len();
            eprintln!(
                "copylab: status: {} accepted, {active} in progress, {done} finished",
                accepted.load(Ordering::Relaxed)
            );
        }
        if let Some(n) = opts.count
            && accepted.load(Ordering::Relaxed) >= n
        {
            break;
        }
        if !wait_for_slot(&shared) {
            continue;
        }
        let mut fds = [PollFd::new(listener.fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(e).context("waiting for connections"),
        }
        let (conn, peer) = match listener.accept() {
            Ok(Some(c)) => c,
            Ok(None) => continue,
            // Out of descriptors or memory: the connection waits in the backlog; say so once a
            // second and try again, rather than take the server down.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                ) =>
            {
                if last_full.is_none_or(|t: Instant| t.elapsed() >= Duration::from_secs(1)) {
                    eprintln!(
                        "copylab: warning: cannot accept ({e}); retrying (raise `ulimit -n` or lower --max-conns)"
                    );
                    last_full = Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(e) => return Err(e).context("accepting a connection"),
        };
        let id = accepted.fetch_add(1, Ordering::Relaxed) + 1;
        let active = {
            let mut a = lock(&shared.active);
            a.insert(id, conn.fd().as_raw_fd());
            a.len()
        };
        // At least one worker per connection in progress (up to --max-conns), so none waits
        // for a thread.
        // A thread that cannot start (ulimit -u, memory) is treated like EMFILE: warn, and the
        // connection waits in the queue for a running worker; with none running, retry.
        while workers.len() < active.min(opts.max_conns) {
            let (sh, q) = (Arc::clone(&shared), Arc::clone(&queue));
            match std::thread::Builder::new()
                .name(format!("copylab-worker-{}", workers.len() + 1))
                .spawn(move || work(&sh, &q, None))
            {
                Ok(h) => workers.push(h),
                Err(e) => {
                    if last_thread_warn
                        .is_none_or(|t: Instant| t.elapsed() >= Duration::from_secs(1))
                    {
                        eprintln!(
                            "copylab: warning: cannot start a connection thread ({e}); connections wait for a running one (raise `ulimit -u` or lower --max-conns)"
                        );
                        last_thread_warn = Some(Instant::now());
                    }
                    if !workers.is_empty() || signals::stop_requested() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        let job = Job {
            id,
            conn,
            peer,
            head: None,
        };
        let sent = match &heads {
            Some((tx, _)) => tx.send(job).is_ok(),
            None => jobs.send(job).is_ok(),
        };
        if !sent {
            bail!("the connection threads are gone");
        }
    }
    drop(listener);
    drop(jobs);
    if let Some((tx, reader)) = heads {
        drop(tx);
        let _ = reader.join();
    }

    // Let running transfers finish, then cut the ones still going.
    // After --count, running transfers finish in their own time; after Ctrl-C (now or while
    // waiting) they get GRACE, then are cut.
    let mut deadline = signals::stop_requested().then(|| Instant::now() + GRACE);
    while !lock(&shared.active).is_empty() {
        if deadline.is_none() && signals::stop_requested() {
            deadline = Some(Instant::now() + GRACE);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    {
        let active = lock(&shared.active);
        shared.cutting.store(true, Ordering::SeqCst);
        for fd in active.values() {
            // SAFETY: the fd is registered only while its connection thread owns the open socket,
            // and the thread unregisters it (under this same lock) before closing it.
            unsafe { libc::shutdown(*fd, libc::SHUT_RDWR) };
        }
    }
    for h in workers {
        let _ = h.join();
    }
    summary(&shared)
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A connection thread that panicked cannot leave these maps half-updated (single inserts
    // and removes), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Block until fewer than `--max-conns` connections are active; false if a stop was asked for
/// (or 100 ms passed) meanwhile, so the caller can look again.
fn wait_for_slot(sh: &Shared) -> bool {
    // HTTP connections still sending their head hold no worker: admit that many more.
    let cap = sh.opts.max_conns + if sh.opts.http { MAX_PENDING_HEADS } else { 0 };
    let active = lock(&sh.active);
    if active.len() < cap {
        return true;
    }
    let (active, _) = sh
        .slot_freed
        .wait_timeout(active, Duration::from_millis(100))
        .unwrap_or_else(|p| p.into_inner());
    active.len() < cap && !signals::stop_requested()
}

fn announce(sh: &Shared, addr: &str, source: SyscallSource) -> Result<()> {
    let o = &sh.opts;
    let mut out = std::io::stdout().lock();
    let (host, port) = addr.rsplit_once(':').unwrap_or((addr, ""));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let (kind, try_it) = match (&o.listen, o.http) {
        (Listen::Tcp { .. }, false) => ("tcp", format!("nc -d {host} {port} > copy")),
        (Listen::Tcp { .. }, true) => ("tcp", format!("curl -o copy http://{addr}/")),
        (Listen::Unix(_), false) => ("unix", format!("socat -u UNIX-CONNECT:{addr} - > copy")),
        (Listen::Unix(_), true) => (
            "unix",
            format!("curl --unix-socket {addr} -o copy http://localhost/"),
        ),
    };
    if o.json {
        #[derive(Serialize)]
        struct Listening<'a> {
            event: &'static str,
            address: &'a str,
            transport: &'static str,
            http: bool,
            method: MethodKind,
            file: String,
            bytes: u64,
            syscall_source: SyscallSource,
            max_conns: usize,
        }
        serde_json::to_writer(
            &mut out,
            &Listening {
                event: "listening",
                address: addr,
                transport: kind,
                http: o.http,
                method: o.method,
                file: o.file.display().to_string(),
                bytes: sh.src.len,
                syscall_source: source,
                max_conns: o.max_conns,
            },
        )?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "copylab serve: {} ({}) with {}, {} over {kind} on {addr}",
            o.file.display(),
            fmt_bytes(sh.src.len),
            o.method,
            if o.http { "HTTP" } else { "raw" },
        )?;
        writeln!(out, "try: {try_it}    (Ctrl-C stops and prints a summary)")?;
    }
    out.flush()?;
    Ok(())
}

/// A worker: serve connections from the queue until it closes.
/// A worker: pinned (with --cpus), its counters opened before its first connection (then
/// `ready` is told), then connections from the queue until it closes.
fn work(
    sh: &Shared,
    queue: &Mutex<std::sync::mpsc::Receiver<Job>>,
    ready: Option<std::sync::mpsc::Sender<()>>,
) {
    // --cpus was checked against the allowed CPUs at start-up.
    if let Err(e) = crate::placement::pin_current(&sh.opts.cpus) {
        eprintln!("copylab: warning: {e:#}; this worker runs unpinned");
    }
    // A failure here is met again, and reported, by the first connection.
    let mut w = Worker {
        counters: Counters::open(sh.opts.counters).ok(),
    };
    if let Some(r) = ready {
        let _ = r.send(());
    }
    loop {
        let job = lock(queue).recv();
        match job {
            Ok(job) => serve_one(sh, &mut w, job),
            Err(_) => return,
        }
    }
}

/// Serve one connection from accept to close, then print its line.
fn serve_one(
    sh: &Shared,
    w: &mut Worker,
    Job {
        id,
        conn,
        peer,
        head,
    }: Job,
) {
    let rec = handle(sh, w, id, &conn, &peer, head);
    // Unregister before closing, so the acceptor never shuts down a reused descriptor.
    {
        let mut active = lock(&sh.active);
        active.remove(&id);
        drop(conn);
        sh.slot_freed.notify_all();
    }
    print_record(sh, &rec);
    lock(&sh.records).push(Brief::of(&rec));
}

fn record(sh: &Shared, id: u64, peer: &str) -> ConnRecord {
    ConnRecord {
        event: "connection",
        id,
        peer: peer.to_string(),
        method: sh.opts.method,
        http_status: None,
        bytes: 0,
        expected: 0,
        wall_ns: 0,
        throughput_mib_s: 0.0,
        outcome: Outcome::Complete,
        detail: String::new(),
        cost: None,
    }
}

fn handle(
    sh: &Shared,
    w: &mut Worker,
    id: u64,
    conn: &Conn,
    peer: &str,
    head_read: Option<Result<Vec<u8>, http::HeadError>>,
) -> ConnRecord {
    let mut rec = record(sh, id, peer);
    let sock = conn.fd();
    let mut head_only = false;
    let mut head = Vec::new();
    // HTTP mode: the head reader already read the request head.
    if let Some(got) = head_read {
        let verdict = match got {
            Ok(h) => http::judge(&h, &sh.file_name),
            Err(http::HeadError::TooLarge) => Verdict::Refuse(
                Status::HEADERS_TOO_LARGE,
                format!("the request head is larger than {} bytes", http::MAX_HEAD),
            ),
            Err(http::HeadError::Timeout) => Verdict::Refuse(
                Status::REQUEST_TIMEOUT,
                format!(
                    "no complete request head within {} s",
                    http::HEAD_TIMEOUT.as_secs()
                ),
            ),
            Err(http::HeadError::Stopped) => Verdict::Refuse(
                Status::SERVICE_UNAVAILABLE,
                "the server is stopping".to_string(),
            ),
            Err(http::HeadError::Closed(n)) => {
                rec.outcome = Outcome::ClientClosed;
                rec.detail = format!("client closed before a complete request ({n} bytes sent)");
                return rec;
            }
            Err(http::HeadError::Io(e)) => {
                rec.outcome = Outcome::Error;
                rec.detail = format!("reading the request failed: {}", e.desc());
                return rec;
            }
        };
        match verdict {
            Verdict::Serve { head_only: h } => head_only = h,
            Verdict::Refuse(status, why) => {
                let resp = http::error_response(status, &why);
                let mut calls = crate::sys::Calls::default();
                let _ = crate::sys::write_all(&mut calls, sock, &resp);
                close_gracefully(conn);
                rec.http_status = Some(status.0);
                rec.outcome = Outcome::Rejected;
                rec.detail = format!("{} {}: {why}", status.0, status.reason());
                return rec;
            }
        }
        rec.http_status = Some(Status::OK.0);
        head = http::ok_head(sh.src.len);
    }

    if let Some(t) = sh.opts.send_timeout
        && let Err(e) = crate::sys::set_send_timeout(sock, t)
    {
        rec.outcome = Outcome::Error;
        rec.detail = format!("cannot set the send timeout: {}", e.desc());
        return rec;
    }
    let expected = if head_only { 0 } else { sh.src.len };
    rec.expected = expected;
    // The size was taken at start-up; say so if the file has changed since.
    let now_len = sh
        .src
        .file
        .metadata()
        .map(|m| m.len())
        .unwrap_or(sh.src.len);

    // Nothing has reached the client until the setup (counters, the method's pipe or ring) is
    // done: a failure before that can still be answered with a status.
    let mut set_up = false;
    let mut scratch = lock(&sh.spare).pop().unwrap_or_default();
    let result = (|| -> Result<transfer::Measured> {
        let counters = match &mut w.counters {
            Some(c) => c,
            None => w.counters.insert(Counters::open(sh.opts.counters)?),
        };
        sh.method.prepare(&mut scratch)?;
        set_up = true;
        transfer::send_measured(
            sh.method.as_ref(),
            &sh.src,
            sock,
            &head,
            !head_only,
            &mut scratch,
            counters,
        )
    })();
    lock(&sh.spare).push(scratch);
    let m = match result {
        Ok(m) => m,
        Err(e) => {
            rec.outcome = Outcome::Error;
            rec.detail = format!("{e:#}");
            // HTTP: a set-up failure (EMFILE for a pipe, say) is the server's trouble, not a
            // 200 with no body: answer 503 and log what was answered.
            if !set_up && rec.http_status.is_some() {
                let status = Status::SERVICE_UNAVAILABLE;
                let why = format!("the server cannot serve this now: {e:#}");
                let mut calls = crate::sys::Calls::default();
                let _ =
                    crate::sys::write_all(&mut calls, sock, &http::error_response(status, &why));
                close_gracefully(conn);
                rec.http_status = Some(status.0);
            }
            return rec;
        }
    };
    let wall = m.finished.saturating_duration_since(m.started);
    rec.wall_ns = wall.as_nanos() as u64;
    rec.cost = Some(crate::results::Cost::new(
        &m.reading,
        &m.calls,
        m.io_workers,
    ));
    match m.sent {
        Ok(n) => {
            rec.bytes = n;
            rec.outcome = Outcome::Complete;
            rec.detail = if head_only {
                "complete (HEAD: response head only)".into()
            } else if now_len > sh.src.len {
                format!(
                    "complete; the file grew to {now_len} bytes since start-up, the {} it had then were sent",
                    sh.src.len
                )
            } else {
                "complete".into()
            };
            close_gracefully(conn);
        }
        Err(SendError { sent, kind, .. }) => {
            rec.bytes = sent;
            let e = SendError {
                sent,
                expected,
                kind: kind.clone(),
            };
            rec.outcome = match kind {
                _ if sh.cutting.load(Ordering::SeqCst) => Outcome::Stopped,
                StopKind::PeerClosed(_) => Outcome::ClientClosed,
                StopKind::Timeout => Outcome::SendTimeout,
                StopKind::FileChanged => Outcome::FileChanged,
                StopKind::Failed { .. } => Outcome::Error,
            };
            rec.detail = if rec.outcome == Outcome::Stopped {
                format!("stopped by the server at exit after {sent} of {expected} bytes")
            } else {
                e.to_string()
            };
            conn.shutdown(Shutdown::Both);
        }
    }
    if rec.bytes > 0 && rec.wall_ns > 0 {
        rec.throughput_mib_s = crate::size::mib_per_s(rec.bytes, wall.as_secs_f64());
    }
    rec
}

/// Tell the client we are done, then give it a moment to close first, so unread request bytes
/// do not turn our close into a reset that could destroy data it has not read yet.
fn close_gracefully(conn: &Conn) {
    conn.shutdown(Shutdown::Write);
    let sock = conn.fd();
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let mut fds = [PollFd::new(sock, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(_) => return,
        }
        // SAFETY: `buf` is a live, writable buffer of the length passed.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n <= 0 {
            return;
        }
    }
}

/// "syscalls 2049 (pread64 1024, write 1025)"; a syscall the method made but whose counter
/// could not be opened (EMFILE, say) shows as "splice n/a (self 8)", never left out.
fn syscalls_text(c: &Cost) -> String {
    let named: Vec<String> = c
        .syscalls
        .by_name
        .iter()
        .filter_map(|(k, v)| match v {
            Some(v) if *v > 0 => Some(format!("{k} {v}")),
            Some(_) => None,
            None => c
                .self_counted
                .get(k)
                .filter(|n| **n > 0)
                .map(|n| format!("{k} n/a (self {n})")),
        })
        .collect();
    match c.syscalls.total {
        Some(t) => format!("syscalls {t} ({})", named.join(", ")),
        None => format!("syscalls n/a (self-counted: {})", named.join(", ")),
    }
}

fn print_record(sh: &Shared, r: &ConnRecord) {
    let _guard = lock(&sh.out);
    let mut out = std::io::stdout().lock();
    let res = if sh.opts.json {
        serde_json::to_writer(&mut out, r)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out))
    } else {
        let mut line = format!("#{} {}", r.id, r.peer);
        if let Some(s) = r.http_status {
            line.push_str(&format!(" · HTTP {s}"));
        }
        if let Some(c) = &r.cost {
            line.push_str(&format!(
                " · {} · {} ms · {:.0} MiB/s · {} · ctx sw {}/{} · sys {} ms",
                fmt_bytes(r.bytes),
                ms(r.wall_ns),
                r.throughput_mib_s,
                syscalls_text(c),
                c.context_switches.voluntary,
                c.context_switches.involuntary,
                ms(c.cpu.sys_ns),
            ));
            if let Some(w) = &c.io_workers {
                line.push_str(&format!(" (+ io-wq {} ms)", ms(w.cpu_ns)));
            }
            if let Some(z) = &c.zerocopy {
                line.push_str(&format!(
                    " · zero-copied {} of {} sends (kernel copied {})",
                    z.zero_copied(),
                    z.sends,
                    z.copied
                ));
            }
        }
        line.push_str(&format!(" · {}", r.detail));
        writeln!(out, "{line}")
    };
    // stdout gone (e.g. piped into a closed reader): keep serving; the summary will fail quietly.
    let _ = res.and_then(|_| out.flush());
}

/// What all connections cost, as printed at the end and as the last `--json` line.
#[derive(Debug, Serialize)]
struct Summary {
    event: &'static str,
    method: MethodKind,
    connections: usize,
    complete: usize,
    client_closed: usize,
    send_timeout: usize,
    file_changed: usize,
    errors: usize,
    stopped: usize,
    rejected: usize,
    bytes: u64,
    /// Over complete transfers; null when there were none.
    median_mib_s: Option<f64>,
    /// 5th percentile: 95 % of complete transfers were at least this fast.
    p5_mib_s: Option<f64>,
    p95_mib_s: Option<f64>,
    /// Median over complete transfers of syscalls per MiB sent (null without perf).
    syscalls_per_mib: Option<f64>,
    /// Medians over connections that sent something; null when none did.
    median_voluntary_cs: Option<u64>,
    median_involuntary_cs: Option<u64>,
    median_sys_ns: Option<u64>,
    total_sys_ns: u64,
    total_user_ns: u64,
}

/// The figures of one finished connection that the summary uses.
#[derive(Debug, Clone, Copy)]
struct Brief {
    outcome: Outcome,
    bytes: u64,
    throughput_mib_s: f64,
    /// Syscalls (total), if counted and there was a transfer.
    syscalls: Option<u64>,
    /// (voluntary, involuntary, sys_ns, user_ns), when the transfer was measured.
    cost: Option<(u64, u64, u64, u64)>,
}

impl Brief {
    fn of(r: &ConnRecord) -> Brief {
        Brief {
            outcome: r.outcome,
            bytes: r.bytes,
            throughput_mib_s: r.throughput_mib_s,
            syscalls: r.cost.as_ref().and_then(|c| c.syscalls.total),
            cost: r.cost.as_ref().map(|c| {
                (
                    c.context_switches.voluntary,
                    c.context_switches.involuntary,
                    c.cpu.sys_ns,
                    c.cpu.user_ns,
                )
            }),
        }
    }
}

fn summary(sh: &Shared) -> Result<()> {
    let recs = lock(&sh.records);
    let count = |o: Outcome| recs.iter().filter(|r| r.outcome == o).count();
    let complete: Vec<&Brief> = recs
        .iter()
        .filter(|r| r.outcome == Outcome::Complete && r.bytes > 0)
        .collect();
    let mut tput: Vec<f64> = complete.iter().map(|r| r.throughput_mib_s).collect();
    tput.sort_by(f64::total_cmp);
    let costs: Vec<(u64, u64, u64, u64)> = recs.iter().filter_map(|r| r.cost).collect();
    let mut per_mib: Vec<f64> = complete
        .iter()
        .filter_map(|r| {
            let t = r.syscalls?;
            Some(t as f64 / crate::size::mib(r.bytes))
        })
        .collect();
    per_mib.sort_by(f64::total_cmp);
    let s = Summary {
        event: "summary",
        method: sh.opts.method,
        connections: recs.len(),
        complete: count(Outcome::Complete),
        client_closed: count(Outcome::ClientClosed),
        send_timeout: count(Outcome::SendTimeout),
        file_changed: count(Outcome::FileChanged),
        errors: count(Outcome::Error),
        stopped: count(Outcome::Stopped),
        rejected: count(Outcome::Rejected),
        bytes: recs.iter().map(|r| r.bytes).sum(),
        median_mib_s: crate::stats::median_f64(tput.clone()),
        p5_mib_s: (!tput.is_empty()).then(|| crate::stats::percentile(&tput, 5.0)),
        p95_mib_s: (!tput.is_empty()).then(|| crate::stats::percentile(&tput, 95.0)),
        syscalls_per_mib: crate::stats::median_f64(per_mib.clone()),
        median_voluntary_cs: crate::stats::median_of(costs.iter().map(|c| c.0).collect()),
        median_involuntary_cs: crate::stats::median_of(costs.iter().map(|c| c.1).collect()),
        median_sys_ns: crate::stats::median_of(costs.iter().map(|c| c.2).collect()),
        total_sys_ns: costs.iter().map(|c| c.2).sum(),
        total_user_ns: costs.iter().map(|c| c.3).sum(),
    };
    drop(recs);
    let mut out = std::io::stdout().lock();
    let res = if sh.opts.json {
        serde_json::to_writer(&mut out, &s)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out))
    } else {
        writeln!(
            out,
            "{}",
            summary_table(&s, crate::report::use_color(sh.opts.color))
        )
    };
    match res.and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot print the summary"),
    }
}

fn summary_table(s: &Summary, color: bool) -> Table {
    let mut t = crate::report::new_table(color);
    t.set_header(vec![
        "method",
        "connections",
        "bytes sent",
        "MiB/s median\np5 – p95",
        "syscalls\nper MiB",
        "ctx sw median\nvol / invol",
        "sys CPU ms\nmedian / total",
    ]);
    let mut conns = format!("{} ({} complete", s.connections, s.complete);
    for (n, what) in [
        (s.client_closed, "client closed"),
        (s.send_timeout, "send timeout"),
        (s.file_changed, "file changed"),
        (s.errors, "errors"),
        (s.stopped, "stopped at exit"),
        (s.rejected, "rejected"),
    ] {
        if n > 0 {
            conns.push_str(&format!(", {n} {what}"));
        }
    }
    conns.push(')');
    let right = |x: String| Cell::new(x).set_alignment(CellAlignment::Right);
    t.add_row(vec![
        Cell::new(s.method.name()),
        Cell::new(conns),
        right(fmt_bytes(s.bytes)),
        right(match (s.median_mib_s, s.p5_mib_s, s.p95_mib_s) {
            (Some(m), Some(lo), Some(hi)) => format!("{m:.0}\n{lo:.0} – {hi:.0}"),
            _ => "– (none complete)".into(),
        }),
        right(match s.syscalls_per_mib {
            Some(v) => format!("{v:.2}"),
            None => "n/a".into(),
        }),
        right(match (s.median_voluntary_cs, s.median_involuntary_cs) {
            (Some(v), Some(i)) => format!("{v} / {i}"),
            _ => "–".into(),
        }),
        right(match s.median_sys_ns {
            Some(m) => format!("{} / {}", ms(m), ms(s.total_sys_ns)),
            None => "–".into(),
        }),
    ]);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::Reading;

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("127.0.0.1".parse().unwrap()));
        assert!(is_loopback("::1".parse().unwrap()));
        assert!(!is_loopback("0.0.0.0".parse().unwrap()));
    }

    #[test]
    fn a_syscall_whose_counter_failed_is_na_not_left_out() {
        let mut by_name = std::collections::BTreeMap::new();
        by_name.insert("write", Some(1));
        by_name.insert("splice", None);
        by_name.insert("read", Some(0));
        let reading = Reading {
            syscalls_total: Some(15),
            syscalls_by_name: Some(by_name),
            ..Reading::default()
        };
        let mut calls = crate::sys::Calls::default();
        calls.add("write");
        for _ in 0..8 {
            calls.add("splice");
        }
        let cost = Cost::new(&reading, &calls, None);
        assert_eq!(
            syscalls_text(&cost),
            "syscalls 15 (splice n/a (self 8), write 1)"
        );
    }
}
