//! The accept loop and the worker pool: connections are accepted while fewer than --max-conns
//! are in progress, handed (in HTTP mode through the head reader) to a queue that worker
//! threads take from, and at exit given time to finish before they are cut.

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::handle::{Worker, serve_one};
use super::heads::{MAX_PENDING_HEADS, read_heads};
use super::waiting::Waiting;
use super::{GRACE, Shared, lock};
use crate::signals;
use crate::transport::{Conn, Listener};

/// The worker threads, the queue they take connections from, and (HTTP) the head reader in
/// front of it.
pub(super) struct Pool {
    jobs: Sender<Waiting>,
    queue: Arc<Mutex<Receiver<Waiting>>>,
    workers: Vec<JoinHandle<()>>,
    heads: Option<(Sender<Waiting>, JoinHandle<()>)>,
    last_thread_warn: Option<Instant>,
}

impl Pool {
    /// Start the first worker and wait until its counters are open; in HTTP mode also the
    /// request-head reader.
    pub fn start(sh: &Arc<Shared>) -> Result<Pool> {
        let (jobs, queue) = channel::<Waiting>();
        let queue = Arc::new(Mutex::new(queue));
        let mut workers = Vec::new();
        let (ready_tx, ready) = channel::<()>();
        let (s, q) = (Arc::clone(sh), Arc::clone(&queue));
        if let Ok(h) = std::thread::Builder::new()
            .name("copylab-worker-1".into())
            .spawn(move || work(&s, &q, Some(ready_tx)))
        {
            workers.push(h);
            let _ = ready.recv();
        }
        let heads = if sh.opts.http {
            let (tx, rx) = channel::<Waiting>();
            let jobs = jobs.clone();
            let reader = std::thread::Builder::new()
                .name("copylab-heads".into())
                .spawn(move || read_heads(rx, jobs))
                .context("cannot start the request-head reader")?;
            Some((tx, reader))
        } else {
            None
        };
        Ok(Pool {
            jobs,
            queue,
            workers,
            heads,
            last_thread_warn: None,
        })
    }

    /// At least one worker per connection in progress (up to --max-conns), so none waits for a
    /// thread. A thread that cannot start (ulimit -u, memory) is treated like EMFILE: warn, and
    /// the connection waits in the queue for a running worker; with none running, retry.
    fn grow(&mut self, sh: &Arc<Shared>, active: usize) {
        while self.workers.len() < active.min(sh.opts.max_conns) {
            let (s, q) = (Arc::clone(sh), Arc::clone(&self.queue));
            match std::thread::Builder::new()
                .name(format!("copylab-worker-{}", self.workers.len() + 1))
                .spawn(move || work(&s, &q, None))
            {
                Ok(h) => self.workers.push(h),
                Err(e) => {
                    if self
                        .last_thread_warn
                        .is_none_or(|t: Instant| t.elapsed() >= Duration::from_secs(1))
                    {
                        eprintln!(
                            "copylab: warning: cannot start a connection thread ({e}); connections wait for a running one (raise `ulimit -u` or lower --max-conns)"
                        );
                        self.last_thread_warn = Some(Instant::now());
                    }
                    if !self.workers.is_empty() || signals::stop_requested() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// Queue a connection: to the head reader in HTTP mode, straight to the workers otherwise.
    fn submit(&self, job: Waiting) -> Result<()> {
        let sent = match &self.heads {
            Some((tx, _)) => tx.send(job).is_ok(),
            None => self.jobs.send(job).is_ok(),
        };
        if !sent {
            bail!("the connection threads are gone");
        }
        Ok(())
    }

    /// No more connections: let the head reader hand over what it holds, let running transfers
    /// finish, cut the ones still going, and wait for every worker.
    /// After --count, running transfers finish in their own time; after Ctrl-C (now or while
    /// waiting) they get GRACE, then are cut.
    pub fn finish(self, sh: &Shared) {
        let Pool {
            jobs,
            workers,
            heads,
            ..
        } = self;
        drop(jobs);
        if let Some((tx, reader)) = heads {
            drop(tx);
            let _ = reader.join();
        }
        let mut deadline = signals::stop_requested().then(|| Instant::now() + GRACE);
        while !lock(&sh.active).is_empty() {
            if deadline.is_none() && signals::stop_requested() {
                deadline = Some(Instant::now() + GRACE);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        {
            let active = lock(&sh.active);
            sh.cutting.store(true, Ordering::SeqCst);
            for fd in active.values() {
                // SAFETY: the fd is registered only while its connection thread owns the open
                // socket, and the thread unregisters it (under this same lock) before closing it.
                unsafe { libc::shutdown(*fd, libc::SHUT_RDWR) };
            }
        }
        for h in workers {
            let _ = h.join();
        }
    }
}

/// Accept connections until --count were accepted or a stop is asked for.
pub(super) fn accept_until_done(
    sh: &Arc<Shared>,
    listener: &Listener,
    pool: &mut Pool,
) -> Result<()> {
    let accepted = AtomicU64::new(0);
    let mut last_full: Option<Instant> = None;
    loop {
        if signals::stop_requested() {
            return Ok(());
        }
        if signals::status_requested() {
            let active = lock(&sh.active).len();
            let done = lock(&sh.records).len();
            eprintln!(
                "copylab: status: {} accepted, {active} in progress, {done} finished",
                accepted.load(Ordering::Relaxed)
            );
        }
        if let Some(n) = sh.opts.count
            && accepted.load(Ordering::Relaxed) >= n
        {
            return Ok(());
        }
        if !wait_for_slot(sh) {
            continue;
        }
        let Some((conn, peer)) = accept_one(listener, &mut last_full)? else {
            continue;
        };
        let id = accepted.fetch_add(1, Ordering::Relaxed) + 1;
        let active = {
            let mut a = lock(&sh.active);
            a.insert(id, conn.fd().as_raw_fd());
            a.len()
        };
        pool.grow(sh, active);
        pool.submit(Waiting {
            id,
            conn,
            peer,
            head: None,
        })?;
    }
}

/// Wait up to 100 ms for a connection and accept it. Out of descriptors or memory, the
/// connection waits in the backlog: say so once a second and let the caller try again, rather
/// than take the server down.
fn accept_one(
    listener: &Listener,
    last_full: &mut Option<Instant>,
) -> Result<Option<(Conn, String)>> {
    let mut fds = [PollFd::new(listener.fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(100u16)) {
        Ok(0) | Err(nix::errno::Errno::EINTR) => return Ok(None),
        Ok(_) => {}
        Err(e) => return Err(e).context("waiting for connections"),
    }
    match listener.accept() {
        Ok(c) => Ok(c),
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
                *last_full = Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(50));
            Ok(None)
        }
        Err(e) => Err(e).context("accepting a connection"),
    }
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

/// A worker: pinned (with --cpus), its counters opened before its first connection (then
/// `ready` is told), then connections from the queue until it closes.
fn work(sh: &Shared, queue: &Mutex<Receiver<Waiting>>, ready: Option<Sender<()>>) {
    // --cpus was checked against the allowed CPUs at start-up.
    if let Err(e) = crate::placement::pin_current(&sh.opts.cpus) {
        eprintln!("copylab: warning: {e:#}; this worker runs unpinned");
    }
    // A failure here is met again, and reported, by the first connection.
    let mut w = Worker {
        counters: sh.open_counters().ok(),
        peek: None,
    };
    // One buffer or pipe per worker, made now and put in the shared pool: the pool then holds
    // as many as there are workers, however the connections happened to overlap, so the
    // server's descriptors depend on its worker count alone. (A pipe refused now, EMFILE say,
    // is asked for again by the connection that takes this scratch.)
    let mut scratch = crate::method::Scratch::default();
    let _ = sh.method.prepare(&mut scratch);
    lock(&sh.spare).push(scratch);
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
