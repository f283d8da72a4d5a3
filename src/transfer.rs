//! One measured transfer: counters switched on just before a method's first send call and off
//! right after its last, on the calling thread, and nothing else inside that window. Shared by
//! `compare` and `serve` so both measure exactly the same thing. And the other end: a receiver
//! thread, pinned and measured the same way, that lives as long as the comparison, so its
//! counters are opened once, and takes each connection's bytes with a receiving path
//! (`receive/`), set up outside its window like the serving thread's.

use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::counters::{Choice, Counters, Reading, Sampling};
use crate::method::IoWorkers;
use crate::method::{Method, Scratch};
use crate::receive::{self, Check, Delivery, ReceiveConfig, ReceiverKind};
use crate::source::Part;
use crate::sys::{self, Calls, SendError};
use crate::syscall::Syscall;
use crate::transport::Conn;

/// What happened inside the window.
pub struct Measured {
    /// Body bytes sent, or how far the transfer got and why it stopped.
    pub sent: Result<u64, SendError>,
    /// What the window cost the calling thread, as its counters read it.
    pub reading: Reading,
    /// The calls the method counted itself.
    pub calls: Calls,
    /// io_uring paths: what the kernel's worker threads ran for this thread.
    pub io_workers: Option<IoWorkers>,
    /// Just before the first send call.
    pub started: Instant,
    /// Just after the last send call returned (the peer may still be receiving).
    pub finished: Instant,
}

/// Whether the file's part follows the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// The head (possibly empty), then the part.
    Send,
    /// The head alone: the answer to an HTTP HEAD request.
    Omit,
}

/// Send `head` (e.g. an HTTP response head; may be empty), then, with [`Body::Send`], the
/// part `src` of the file (the whole file, or a byte range) with `method`, counting around
/// both.
pub fn send_measured(
    method: &dyn Method,
    src: Part<'_>,
    sock: BorrowedFd<'_>,
    head: &[u8],
    body: Body,
    scratch: &mut Scratch,
    counters: &mut Counters,
) -> Result<Measured> {
    let mut calls = Calls::default();
    method.prepare_socket(sock)?;
    let tid = nix::unistd::gettid().as_raw();
    let workers_before = method
        .offloads_to_workers()
        .then(|| crate::method::worker_times(tid));
    counters.start()?;
    let started = Instant::now();
    src.reached(0);
    let sent = match sys::write_all(&mut calls, sock, head) {
        Ok(()) if body == Body::Send => method.send(src, sock, scratch, &mut calls),
        Ok(()) => Ok(0),
        Err((_, errno)) => Err(SendError {
            sent: 0,
            expected: src.len,
            kind: sys::classify(Syscall::Write, errno),
        }),
    };
    let finished = Instant::now();
    let reading = counters.stop()?;
    let io_workers = workers_before.map(|before| {
        let after = crate::method::worker_times(tid);
        let mut w = IoWorkers {
            cpu_ns: 0,
            threads: 0,
        };
        for (worker, ns) in after {
            let ran = ns.saturating_sub(before.get(&worker).copied().unwrap_or(0));
            if ran > 0 {
                w.cpu_ns += ran;
                w.threads += 1;
            }
        }
        w
    });
    Ok(Measured {
        sent,
        reading,
        calls,
        io_workers,
        started,
        finished,
    })
}

/// What the receiver thread measured for one transfer.
pub struct Received {
    pub delivery: std::io::Result<Delivery>,
    /// The receiver thread's counters over the whole receive (from before its first read to
    /// end-of-file); `None` when they failed for this receive.
    pub reading: Option<Reading>,
    /// With a receiving path chosen (`--receive`): the syscalls it made itself, by the kernel's
    /// name; `None` for the default receiver, whose calls are not reported by name.
    pub calls: Option<Calls>,
    /// The receiving socket's MSS (`tcpi_rcv_mss`) after the receive, for TCP.
    pub rcv_mss: Option<u32>,
}

/// Which receiving path takes a connection: `chosen` when the user picked one (its calls are
/// then reported), else the default `recv`.
#[derive(Debug, Clone, Copy)]
pub struct ReceiveWith {
    pub chosen: Option<ReceiverKind>,
    pub cfg: ReceiveConfig,
}

impl ReceiveWith {
    fn kind(&self) -> ReceiverKind {
        self.chosen.unwrap_or(ReceiverKind::Recv)
    }
}

struct ReceiverJob {
    conn: Conn,
    expected: u64,
    check: Check,
    with: ReceiveWith,
    progress: Arc<AtomicU64>,
    done: mpsc::Sender<Received>,
}

/// A receiver thread for many transfers: pinned to its CPU, with counters of its own opened
/// once, measuring each receive like the serving thread's window.
pub struct Receiver {
    jobs: Option<mpsc::Sender<ReceiverJob>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The sampling period the thread should use from its next receive on (0: as opened).
    period_ns: Arc<AtomicU64>,
    /// Keep every sample's callchain from the next receive on.
    keep_stacks: Arc<AtomicBool>,
}

impl Receiver {
    /// Start the thread, pinned to `cpu` (none: not pinned), with counters of `choice`, and
    /// with [`Sampling::CpuClock`] a cpu-clock profile of every receive.
    pub fn start(cpu: Option<u32>, choice: Choice, sampling: Sampling) -> Result<Receiver> {
        let (jobs, queue) = mpsc::channel::<ReceiverJob>();
        let (ready_tx, ready) = mpsc::channel::<Result<()>>();
        let period_ns = Arc::new(AtomicU64::new(0));
        let wanted = Arc::clone(&period_ns);
        let keep_stacks = Arc::new(AtomicBool::new(false));
        let stacks_wanted = Arc::clone(&keep_stacks);
        let thread = std::thread::Builder::new()
            .name("copylab-recv".into())
            .spawn(move || {
                let opened = (|| -> Result<Counters> {
                    crate::placement::pin_current(cpu.as_slice())?;
                    Counters::open_sampled(choice, sampling)
                })();
                let mut counters = match opened {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let mut applied = 0;
                for job in queue {
                    let want = wanted.load(Ordering::Relaxed);
                    if want != 0 && want != applied {
                        // A period the sampler refuses keeps the old one: the samples say
                        // which period each run used.
                        let _ = counters.set_sample_period(want);
                        applied = want;
                    }
                    if stacks_wanted.load(Ordering::Relaxed) {
                        counters.keep_stacks();
                    }
                    let done = job.done.clone();
                    let _ = done.send(receive_measured(job, &mut counters));
                }
            })
            .context("cannot start the receiver thread")?;
        ready
            .recv()
            .context("the receiver thread ended before it was ready")??;
        Ok(Receiver {
            jobs: Some(jobs),
            thread: Some(thread),
            period_ns,
            keep_stacks,
        })
    }

    /// Sample the receiver thread every `period_ns` of its CPU from its next receive on.
    pub fn set_sample_period(&self, period_ns: u64) {
        self.period_ns.store(period_ns, Ordering::Relaxed);
    }

    /// Keep every sample's callchain from the next receive on.
    pub fn keep_stacks(&self) {
        self.keep_stacks.store(true, Ordering::Relaxed);
    }

    /// Hand `conn` to the receiver, to be taken `with` a receiving path and its `expected`
    /// bytes checked by `check` (hashed, where the path sees them, with [`Check::Xxh3`]); the
    /// returned channel yields what it measured.
    pub fn receive(
        &self,
        conn: Conn,
        expected: u64,
        check: Check,
        with: ReceiveWith,
        progress: Arc<AtomicU64>,
    ) -> Result<mpsc::Receiver<Received>> {
        let (done, result) = mpsc::channel();
        self.jobs
            .as_ref()
            .context("the receiver is stopped")?
            .send(ReceiverJob {
                conn,
                expected,
                check,
                with,
                progress,
                done,
            })
            .map_err(|_| anyhow::anyhow!("the receiver thread has ended"))?;
        Ok(result)
    }
}

/// One receive on the receiver thread: the path set up for the connection, the counters around
/// its receive only (from before its first call to end-of-file), the set-up undone after.
fn receive_measured(job: ReceiverJob, counters: &mut Counters) -> Received {
    let kind = job.with.kind();
    let mut rx = receive::build(kind, &job.with.cfg);
    let sock = job.conn.fd();
    let prepared = rx.prepare(sock);
    // Hash only what the path sees: a receiver that drops the bytes can check their count.
    let check = match kind.check() {
        Check::Xxh3 => job.check,
        Check::ByteCount => Check::ByteCount,
    };
    let mut tally = receive::ReceiveTally::new(job.expected, check, &job.progress);
    let mut calls = Calls::default();
    let started = counters.start();
    let got = prepared.and_then(|()| rx.receive(sock, &mut tally, &mut calls));
    let reading = started.and_then(|()| counters.stop()).ok();
    rx.finish();
    let rcv_mss = receive::rcv_mss(sock);
    drop(job.conn);
    Received {
        delivery: got.map(|()| tally.finish(rx.landed())),
        reading,
        calls: job.with.chosen.map(|_| calls),
        rcv_mss,
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop.
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
