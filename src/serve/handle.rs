//! One connection from its request to its close: the answer to its request head (HTTP), the
//! measured transfer, how it ended, and its line.

use std::net::Shutdown;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Result;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::live::Flight;
use super::records::{Brief, new_record};
use super::waiting::Waiting;
use super::{Shared, lock};
use crate::counters::{Counters, Peek};
use crate::http::{self, Answer, HeadError, Ranged, Status};
use crate::results::WallEnds;
use crate::results::serve::{ConnRecord, Outcome};
use crate::sys::{SendError, StopKind};
use crate::transfer::{self, Body};
use crate::transport::Conn;

/// What a worker thread keeps between connections: its counters (opened once: closing perf
/// tracepoints costs tens of milliseconds each, which would delay every client's end-of-file).
/// Its buffer or pipe comes from `Shared::spare`. Each connection is still served by one
/// thread, measured alone.
#[derive(Default)]
pub(super) struct Worker {
    pub counters: Option<Counters>,
    /// `--live`: a handle to read those counters while a transfer runs.
    pub peek: Option<Arc<Peek>>,
}

/// What to send on a connection: the response head (empty in raw mode), then, with
/// [`Body::Send`], the file, or with `range` its bytes `start..=end`.
struct Response {
    head: Vec<u8>,
    body: Body,
    range: Option<(u64, u64)>,
}

impl Response {
    /// The bytes of the file this reply sends.
    fn part<'a>(&self, src: &'a crate::source::Source) -> crate::source::Part<'a> {
        match self.range {
            Some((start, end)) => crate::source::Part::of(src, start, end - start + 1),
            None => crate::source::Part::whole(src),
        }
    }
}

/// Serve one connection from accept to close, then print its line.
pub(super) fn serve_one(
    sh: &Shared,
    w: &mut Worker,
    Waiting {
        id,
        conn,
        peer,
        head,
    }: Waiting,
) {
    let rec = handle(sh, w, id, &conn, &peer, head);
    // Unregister before closing, so the acceptor never shuts down a reused descriptor.
    {
        let mut active = lock(&sh.active);
        active.remove(&id);
        drop(conn);
        sh.slot_freed.notify_all();
    }
    {
        let _guard = lock(&sh.out);
        match &sh.live {
            Some(live) => live.println(&crate::report::serve::record_line(
                &rec,
                crate::report::serve::width(),
            )),
            // stdout gone (e.g. piped into a closed reader): keep serving; the summary will
            // fail quietly.
            None => {
                let _ = crate::report::serve::write_record(
                    &rec,
                    sh.opts.output,
                    &mut std::io::stdout().lock(),
                );
            }
        }
    }
    lock(&sh.records).push(Brief::of(&rec));
}

fn handle(
    sh: &Shared,
    w: &mut Worker,
    id: u64,
    conn: &Conn,
    peer: &str,
    head_read: Option<Result<Vec<u8>, HeadError>>,
) -> ConnRecord {
    let mut rec = new_record(id, peer, sh.opts.method);
    let reply = match head_read {
        // Raw mode: the file, with nothing before it.
        None => Response {
            head: Vec::new(),
            body: Body::Send,
            range: None,
        },
        // HTTP mode: the head reader already read the request head.
        Some(got) => match answer(sh, conn, got, &mut rec) {
            Some(r) => r,
            None => return rec,
        },
    };
    let sock = conn.fd();
    if let Some(t) = sh.opts.send_timeout
        && let Err(e) = crate::sys::set_send_timeout(sock, t)
    {
        rec.outcome = Outcome::Error;
        rec.detail = format!("cannot set the send timeout: {}", e.desc());
        return rec;
    }
    // Like a link of that speed: set before the first byte, outside the measured window.
    if let Some(rate) = sh.opts.link
        && let Err(e) = crate::transport::pace(sock, rate)
    {
        rec.outcome = Outcome::Error;
        rec.detail = format!("{e:#}");
        return rec;
    }
    rec.expected = if reply.body == Body::Send {
        reply.part(&sh.src).len
    } else {
        0
    };
    // The size was taken at start-up; say so if the file has changed since.
    let now_len = sh
        .src
        .file
        .metadata()
        .map(|m| m.len())
        .unwrap_or(sh.src.len);
    match send(sh, w, &rec, sock, &reply) {
        Ok(m) => {
            // Paced like a link, the last send returns long before the client has the bytes
            // (the socket buffer holds megabytes): time the transfer to its acknowledgement.
            let acked = match (sh.opts.link, &m.sent) {
                (Some(rate), Ok(_)) => wait_acknowledged(sh, sock, rate),
                _ => None,
            };
            settle(sh, &mut rec, conn, &m, acked, &reply, now_len);
        }
        Err((e, set_up)) => set_up_failed(&mut rec, conn, &e, set_up),
    }
    rec
}

/// `--link`: after the last send, wait until the client's TCP has acknowledged every byte
/// (SIOCOUTQ, the bytes not yet acknowledged, reaches 0) and return that moment. None when the
/// socket cannot say, the connection closed, the server is cutting connections, or the client
/// acknowledged nothing for --send-timeout. Polled after the counters stopped, so it adds
/// nothing to the transfer's figures; the polls are spaced by what the rest should take at the
/// link's rate (1 to 50 ms).
fn wait_acknowledged(sh: &Shared, sock: BorrowedFd<'_>, rate: u64) -> Option<Instant> {
    let mut last = i64::MAX;
    let mut progress_at = Instant::now();
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: SIOCOUTQ writes one int through the pointer, which points at a live c_int.
        let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
        if r != 0 || queued < 0 {
            return None;
        }
        if queued == 0 {
            return Some(Instant::now());
        }
        if i64::from(queued) < last {
            last = i64::from(queued);
            progress_at = Instant::now();
        }
        let stalled = sh
            .opts
            .send_timeout
            .is_some_and(|t| progress_at.elapsed() >= t);
        if stalled || sh.cutting.load(Ordering::SeqCst) || !tcp_open(sock) {
            return None;
        }
        let ms = (queued as u64).saturating_mul(1000) / rate.max(1);
        std::thread::sleep(Duration::from_millis(ms.clamp(1, 50)));
    }
}

/// Whether TCP socket `sock` can still get acknowledgements (not closed or reset).
fn tcp_open(sock: BorrowedFd<'_>) -> bool {
    // TCP_CLOSE is 7 in the kernel's tcp_states.
    crate::sys::tcp_info(sock).is_some_and(|(info, _)| info.tcpi_state != 7)
}

/// HTTP: what to send for the request head `got`; `None` when the connection ends here
/// (refused, or the client left), with `rec` saying how.
fn answer(
    sh: &Shared,
    conn: &Conn,
    got: Result<Vec<u8>, HeadError>,
    rec: &mut ConnRecord,
) -> Option<Response> {
    let verdict = match got {
        Ok(h) => http::judge(&h, &sh.file_name),
        Err(HeadError::TooLarge) => Answer::Refuse(
            Status::HEADERS_TOO_LARGE,
            format!("the request head is larger than {} bytes", http::MAX_HEAD),
        ),
        Err(HeadError::Timeout) => Answer::Refuse(
            Status::REQUEST_TIMEOUT,
            format!(
                "no complete request head within {} s",
                http::HEAD_TIMEOUT.as_secs()
            ),
        ),
        Err(HeadError::Stopped) => Answer::Refuse(
            Status::SERVICE_UNAVAILABLE,
            "the server is stopping".to_string(),
        ),
        Err(HeadError::Closed(n)) => {
            rec.outcome = Outcome::ClientClosed;
            rec.detail = format!("client closed before a complete request ({n} bytes sent)");
            return None;
        }
        Err(HeadError::Io(e)) => {
            rec.outcome = Outcome::Error;
            rec.detail = format!("reading the request failed: {}", e.desc());
            return None;
        }
    };
    match verdict {
        Answer::Serve { head_only, range } => {
            let len = sh.src.len;
            let (status, head, range) = match range.resolve(len) {
                Ranged::Whole => (Status::OK, http::ok_head(len), None),
                Ranged::Part { start, end } => (
                    Status::PARTIAL_CONTENT,
                    http::partial_head(start, end, len),
                    Some((start, end)),
                ),
                Ranged::Unsatisfiable => {
                    let status = Status::RANGE_NOT_SATISFIABLE;
                    let why = format!("no byte of the {len}-byte file is in the range asked for");
                    send_and_close(conn, &http::unsatisfiable_response(len, &why));
                    rec.http_status = Some(status.0);
                    rec.outcome = Outcome::Rejected;
                    rec.detail = format!("{} {}: {why}", status.0, status.reason());
                    return None;
                }
            };
            rec.http_status = Some(status.0);
            (rec.range_start, rec.range_end) = (range.map(|r| r.0), range.map(|r| r.1));
            Some(Response {
                head,
                body: if head_only { Body::Omit } else { Body::Send },
                range,
            })
        }
        Answer::Refuse(status, why) => {
            send_error(conn, status, &why);
            rec.http_status = Some(status.0);
            rec.outcome = Outcome::Rejected;
            rec.detail = format!("{} {}: {why}", status.0, status.reason());
            None
        }
    }
}

/// Answer with an error status and close.
fn send_error(conn: &Conn, status: Status, why: &str) {
    send_and_close(conn, &http::error_response(status, why));
}

/// Send a complete response (unmeasured: no transfer) and close.
fn send_and_close(conn: &Conn, response: &[u8]) {
    let mut calls = crate::sys::Calls::default();
    // A client already gone is answered by nobody; its record says how it ended.
    let _ = crate::sys::write_all(&mut calls, conn.fd(), response);
    close_gracefully(conn);
}

/// The measured transfer, with a buffer or pipe from the shared pool. On failure, also whether
/// the set-up (counters, the method's pipe or ring) was done: until then nothing has reached
/// the client, and it can still be answered with a status.
fn send(
    sh: &Shared,
    w: &mut Worker,
    rec: &ConnRecord,
    sock: BorrowedFd<'_>,
    reply: &Response,
) -> Result<transfer::Measured, (anyhow::Error, bool)> {
    let mut set_up = false;
    let mut scratch = lock(&sh.spare).pop().unwrap_or_default();
    let result = (|| -> Result<transfer::Measured> {
        let counters = match &mut w.counters {
            Some(c) => c,
            None => {
                w.peek = None;
                w.counters.insert(sh.open_counters()?)
            }
        };
        sh.method.prepare(&mut scratch)?;
        set_up = true;
        let part = reply.part(&sh.src);
        // --live: publish this transfer's progress for the view while it runs.
        let flight = sh.live.as_ref().map(|live| {
            if w.peek.is_none() {
                w.peek = counters.peek().map(Arc::new);
            }
            live.begin(Flight::new(
                rec.id,
                &rec.peer,
                if reply.body == Body::Send {
                    part.len
                } else {
                    0
                },
                reply.head.len() as u64,
                sock.as_raw_fd(),
                w.peek.clone(),
            ))
        });
        let part = match &flight {
            Some(f) => part.with_progress(&f.sent),
            None => part,
        };
        let measured = transfer::send_measured(
            sh.method.as_ref(),
            part,
            sock,
            &reply.head,
            reply.body,
            &mut scratch,
            counters,
        );
        if let Some(live) = &sh.live {
            live.end(rec.id);
        }
        let mut measured = measured;
        if let Some(st) = measured
            .as_mut()
            .ok()
            .and_then(|m| m.reading.profile.as_mut())
            .and_then(|p| p.stacks.take())
        {
            lock(&sh.stacks).merge(&st);
        }
        measured
    })();
    lock(&sh.spare).push(scratch);
    result.map_err(|e| (e, set_up))
}

/// The transfer could not be made. HTTP: a set-up failure (EMFILE for a pipe, say) is the
/// server's trouble, not a 200 with no body: answer 503 and log what was answered.
fn set_up_failed(rec: &mut ConnRecord, conn: &Conn, e: &anyhow::Error, set_up: bool) {
    rec.outcome = Outcome::Error;
    rec.detail = format!("{e:#}");
    if !set_up && rec.http_status.is_some() {
        let status = Status::SERVICE_UNAVAILABLE;
        send_error(
            conn,
            status,
            &format!("the server cannot serve this now: {e:#}"),
        );
        rec.http_status = Some(status.0);
    }
}

/// Fill `rec` from the measured transfer `m` (timed to `acked`, the client's acknowledgement of
/// the last byte, when that was waited for): bytes, time, cost, and how it ended; then close
/// (gracefully when complete).
fn settle(
    sh: &Shared,
    rec: &mut ConnRecord,
    conn: &Conn,
    m: &transfer::Measured,
    acked: Option<Instant>,
    reply: &Response,
    now_len: u64,
) {
    let ended = match acked {
        Some(t) => {
            rec.wall_ends = WallEnds::Acknowledged;
            t
        }
        None => m.finished,
    };
    let wall = ended.saturating_duration_since(m.started);
    rec.wall_ns = wall.as_nanos() as u64;
    rec.cost = Some(crate::results::Cost::new(
        &m.reading,
        &m.calls,
        m.io_workers,
    ));
    match &m.sent {
        Ok(n) => {
            rec.bytes = *n;
            rec.outcome = Outcome::Complete;
            rec.detail = if reply.body == Body::Omit {
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
            let (sent, expected) = (*sent, rec.expected);
            rec.bytes = sent;
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
                SendError {
                    sent,
                    expected,
                    kind: kind.clone(),
                }
                .to_string()
            };
            conn.shutdown(Shutdown::Both);
        }
    }
    if rec.bytes > 0 && rec.wall_ns > 0 {
        rec.throughput_mib_s = crate::size::mib_per_s(rec.bytes, wall.as_secs_f64());
    }
}

/// Tell the client we are done, then give it a moment to close first, so unread request bytes
/// do not turn our close into a reset that could destroy data it has not read yet.
fn close_gracefully(conn: &Conn) {
    conn.finish();
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
