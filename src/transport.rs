//! Sockets for a transfer: a connected pair over TCP loopback or a Unix stream socket, the
//! listener `serve` accepts real clients on, the one connection type both hand out, and the loop
//! that drains, counts and hashes what arrives (run, and measured, by `transfer::Receiver`).

use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
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
        self.shutdown(Shutdown::Write);
    }

    /// Shut down one or both directions; a peer already gone is nothing to act on here.
    pub fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Conn::Tcp(s) => s.shutdown(how),
            Conn::Unix(s) => s.shutdown(how),
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

/// Where a server listens.
#[derive(Debug, Clone)]
pub enum Listen {
    /// TCP; `explicit` when the user chose the address with --listen.
    Tcp {
        addr: SocketAddr,
        explicit: bool,
    },
    Unix(PathBuf),
}

impl Listen {
    /// The kind of socket the clients connect over.
    pub fn transport(&self) -> Transport {
        match self {
            Listen::Tcp { .. } => Transport::Tcp,
            Listen::Unix(_) => Transport::Unix,
        }
    }
}

/// A non-blocking listening socket; a Unix socket's file is removed when it is dropped.
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Listen where `listen` says; also returns the address as clients should use it (the port
    /// the kernel picked for port 0). Errors name the flag and say what to do.
    pub fn bind(listen: &Listen) -> Result<(Listener, String)> {
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
                        bail!(
                            "--unix {shown}: another server is listening there; choose another path"
                        );
                    }
                    std::fs::remove_file(path).with_context(|| {
                        format!("--unix {shown}: cannot remove the stale socket")
                    })?;
                }
                let l = UnixListener::bind(path)
                    .with_context(|| format!("--unix {shown}: cannot listen"))?;
                crate::signals::unlink_on_abort(path);
                l.set_nonblocking(true)?;
                Ok((Listener::Unix(l, path.clone()), path.display().to_string()))
            }
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l, _) => l.as_fd(),
        }
    }

    /// Accept one connection if one is waiting, made blocking, with the peer's address (`unix`
    /// for a Unix socket). `None` when nothing was waiting or the connection died in the backlog.
    pub fn accept(&self) -> std::io::Result<Option<(Conn, String)>> {
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
