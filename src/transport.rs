//! Local sockets for a transfer: a connected pair over TCP loopback or a Unix stream socket, and
//! the loop that drains, counts and hashes what arrives (run, and measured, by
//! `transfer::Receiver`).

use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

/// The receiver reads this much per call: large, so it is never the bottleneck it is blamed on.
pub const RECV_CHUNK: usize = 1 << 20;

/// Which kind of local socket carries the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP over 127.0.0.1 (the loopback device: no NIC, no DMA).
    Tcp,
    /// A Unix-domain stream socket pair.
    Unix,
}

impl Transport {
    /// A connected pair: (the server's end, the receiver's end).
    pub fn pair(self) -> Result<(Conn, Conn)> {
        match self {
            Transport::Tcp => {
                let listener =
                    TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
                let addr = listener
                    .local_addr()
                    .context("cannot read the listening port")?;
                delay_connect_for_tests();
                let client = TcpStream::connect(addr)
                    .with_context(|| format!("cannot connect to {addr}"))?;
                let ours = client
                    .local_addr()
                    .context("cannot read the client socket's address")?;
                // Any local user can connect to the listening port before our own client does
                // (it shows in /proc/net/tcp): serve only the connection whose peer is our client
                // socket, close every other one unanswered, and keep accepting. Our connect has
                // completed, so ours is already queued and the loop ends.
                loop {
                    let (server, peer) = listener.accept().context("cannot accept on 127.0.0.1")?;
                    if peer == ours {
                        return Ok((Conn::Tcp(server), Conn::Tcp(client)));
                    }
                    drop(server);
                }
            }
            Transport::Unix => {
                let (a, b) = UnixStream::pair().context("cannot create a Unix socket pair")?;
                Ok((Conn::Unix(a), Conn::Unix(b)))
            }
        }
    }
}

/// Debug builds only: wait `COPYLAB_TEST_CONNECT_DELAY_MS` before the loopback pair's own
/// connect, so tests can show a stranger connecting first is not served.
fn delay_connect_for_tests() {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("COPYLAB_TEST_CONNECT_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// One end of a connected stream socket.
pub enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Conn::Tcp(s) => s.as_fd(),
            Conn::Unix(s) => s.as_fd(),
        }
    }

    /// Tell the peer no more data is coming (it then sees end-of-file).
    pub fn finish(&self) {
        // An error here means the peer is already gone, which the receiver reports.
        let _ = match self {
            Conn::Tcp(s) => s.shutdown(Shutdown::Write),
            Conn::Unix(s) => s.shutdown(Shutdown::Write),
        };
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

/// What arrived at the receiver.
pub struct Delivery {
    pub bytes: u64,
    /// XXH3-64 of everything received, when hashing was asked for.
    pub hash: Option<u64>,
    /// When the expected byte count was reached (or end-of-file came, if it never was).
    pub done_at: Instant,
}

/// Drain `conn` on the calling thread until end-of-file, publishing the byte count in
/// `progress`; reads into a page-aligned buffer of [`RECV_CHUNK`].
pub fn drain(
    mut conn: Conn,
    expected: u64,
    hash: bool,
    progress: &AtomicU64,
) -> std::io::Result<Delivery> {
    let mut page = crate::sys::PageBuf::new(RECV_CHUNK);
    let buf = page.as_mut();
    let mut hasher = hash.then(xxhash_rust::xxh3::Xxh3::new);
    let mut bytes = 0u64;
    let mut done_at = None;
    if expected == 0 {
        done_at = Some(Instant::now());
    }
    loop {
        let n = match conn.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        bytes += n as u64;
        if let Some(h) = hasher.as_mut() {
            h.update(&buf[..n]);
        }
        progress.store(bytes, Ordering::Relaxed);
        if done_at.is_none() && bytes >= expected {
            done_at = Some(Instant::now());
        }
    }
    Ok(Delivery {
        bytes,
        hash: hasher.map(|h| h.digest()),
        done_at: done_at.unwrap_or_else(Instant::now),
    })
}
