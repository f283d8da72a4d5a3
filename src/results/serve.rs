//! The `serve --json` format: one object per line — `listening` once, `connection` per
//! connection, `summary` at the end. These structs *are* that format; `null` means "not
//! measured" (or "not asked for"), never zero.

use serde::Serialize;

use crate::counters::SyscallSource;
use crate::method::MethodKind;
use crate::results::Cost;
use crate::transport::Transport;

/// The first line: where the server listens and what it serves.
#[derive(Debug, Clone, Serialize)]
pub struct Listening {
    /// Always `"listening"`.
    pub event: &'static str,
    /// HOST:PORT (the port the kernel picked for port 0), or the Unix socket's path.
    pub address: String,
    pub transport: Transport,
    /// Whether requests are HTTP (else each connection gets the raw file).
    pub http: bool,
    pub method: MethodKind,
    /// The file as the user named it.
    pub file: String,
    /// Its size at start-up: what each whole-file connection sends.
    pub bytes: u64,
    pub syscall_source: SyscallSource,
    pub max_conns: usize,
    /// The rate each connection is paced to (--link), bytes per second; null when unpaced.
    pub link_rate_bytes_per_s: Option<u64>,
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
    /// File bytes there were to send (0 for HEAD and rejected requests; the range's length
    /// for a 206).
    pub expected: u64,
    /// HTTP 206: file offset of the range's first byte, where sending started; null when the
    /// whole file was answered.
    pub range_start: Option<u64>,
    /// HTTP 206: file offset of the range's last byte (inclusive, as in `Content-Range`);
    /// null when the whole file was answered.
    pub range_end: Option<u64>,
    /// From the first send call to what `wall_ends` says.
    pub wall_ns: u64,
    /// Where `wall_ns` ends: `last-send` (the last send call returned: the bytes were handed
    /// to the socket, and the client may still be receiving them) or `acknowledged` (with
    /// --link: the client's TCP acknowledged the last byte — SIOCOUTQ, the bytes not yet
    /// acknowledged, reached 0 — polled after the measured window, so the counts are the
    /// transfer's alone).
    pub wall_ends: super::WallEnds,
    /// bytes / wall time, in MiB per second (0 when nothing was sent).
    pub throughput_mib_s: f64,
    pub outcome: Outcome,
    /// A sentence about how it ended.
    pub detail: String,
    /// What the transfer cost this connection's thread, or null if nothing was sent.
    pub cost: Option<Cost>,
}

/// What all connections cost, as printed at the end and as the last `--json` line.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Always `"summary"`.
    pub event: &'static str,
    pub method: MethodKind,
    /// Connections accepted and finished, whatever their outcome; then how many ended each way.
    pub connections: usize,
    pub complete: usize,
    pub client_closed: usize,
    pub send_timeout: usize,
    pub file_changed: usize,
    pub errors: usize,
    pub stopped: usize,
    pub rejected: usize,
    /// File bytes handed to sockets, over all connections.
    pub bytes: u64,
    /// The median of the complete transfers' own MiB/s (one figure per connection, each its
    /// bytes over its `wall_ns`); null when there were none.
    pub median_mib_s: Option<f64>,
    /// 5th percentile: 95 % of complete transfers were at least this fast.
    pub p5_mib_s: Option<f64>,
    pub p95_mib_s: Option<f64>,
    /// The syscalls of all complete transfers whose syscalls were counted, over the MiB those
    /// transfers sent: a ratio of the totals, so a thousand 1-byte ranges weigh as little as
    /// the bytes they moved (null without perf, or with nothing sent).
    pub syscalls_per_mib: Option<f64>,
    /// Medians over connections that sent something; null when none did.
    pub median_voluntary_cs: Option<u64>,
    pub median_involuntary_cs: Option<u64>,
    pub median_sys_ns: Option<u64>,
    pub total_sys_ns: u64,
    pub total_user_ns: u64,
}

/// `--live`: one connection in progress, as read while it runs (shown, never in the JSON).
#[derive(Debug, Clone)]
pub struct InProgress {
    pub id: u64,
    pub peer: String,
    /// File bytes sent so far: the most of what the method published after its last chunk and,
    /// over TCP, what the client acknowledged; None until the measured window opened.
    pub bytes: Option<u64>,
    /// File bytes there are to send.
    pub expected: u64,
    /// Since the connection's transfer was set up.
    pub elapsed_ns: u64,
    /// Syscalls so far, read from the thread's running perf group; None without perf.
    pub syscalls: Option<u64>,
    /// The serving thread's system CPU so far (/proc stime, clock ticks); None if unreadable.
    pub sys_ns: Option<u64>,
    /// The resolution of `sys_ns` (one clock tick).
    pub sys_tick_ns: u64,
}
