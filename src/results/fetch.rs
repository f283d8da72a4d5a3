//! The `copylab fetch --json` format: each connection, and the totals.

use std::time::Duration;

use serde::Serialize;

/// One connection's result, as printed and in `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Fetched {
    /// 1, 2, … in order of start.
    pub id: usize,
    /// Body bytes received.
    pub bytes: u64,
    /// From connecting to the last byte.
    pub wall_ns: u64,
    pub throughput_mib_s: f64,
    /// SHA-256 of the body (hex), or null with `--discard=truncate`.
    pub sha256: Option<String>,
    /// HTTP status, or null in raw mode.
    pub http_status: Option<u16>,
    /// HTTP Content-Length, or null.
    pub content_length: Option<u64>,
    /// `--range`: what the server sent differs from what was asked as RFC 9110 allows (a
    /// range past the end of the file, cut at its last byte), said in a sentence; null when
    /// the part is exactly the range asked for, or no range was asked.
    pub range_note: Option<String>,
    /// Why it failed, or null.
    pub error: Option<String>,
}

/// Everything one fetch received.
#[derive(Debug, Clone, Serialize)]
pub struct FetchReport<'a> {
    pub connections: &'a [Fetched],
    /// Body bytes over all connections.
    pub bytes: u64,
    /// From the first connect to the last byte of the last connection.
    pub wall_ns: u64,
    pub aggregate_mib_s: f64,
}

impl<'a> FetchReport<'a> {
    pub fn new(connections: &'a [Fetched], elapsed: Duration) -> FetchReport<'a> {
        let bytes: u64 = connections.iter().map(|r| r.bytes).sum();
        FetchReport {
            connections,
            bytes,
            wall_ns: elapsed.as_nanos() as u64,
            aggregate_mib_s: crate::size::mib_per_s(bytes, elapsed.as_secs_f64().max(1e-9)),
        }
    }
}
