//! Sockets for a transfer: a connected pair over TCP loopback, a Unix stream socket, or TCP
//! across a veth pair between two network namespaces; the pacing that makes a socket behave like
//! a link of a given speed; the listener `serve` accepts real clients on, and the one connection
//! type both hand out. What the receiving end does with the bytes is `receive/`'s.

use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// Which kind of local socket carries the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP over 127.0.0.1 (the loopback device: no NIC, no DMA).
    Tcp,
    /// A Unix-domain stream socket pair.
    Unix,
    /// TCP from one network namespace to another across a veth pair (198.18.0.1 → 198.18.0.2):
    /// a device between the two ends, as between two hosts.
    Veth,
}

impl Transport {
    /// The socket buffer a transfer first fills before the sender waits for the receiver, in
    /// bytes, and the setting it comes from: TCP's default receive buffer (the middle value of
    /// `net.ipv4.tcp_rmem`), a Unix socket's default send buffer (`net.core.wmem_default`: a
    /// unix stream sender is limited by its own buffer). `None` when the setting is unreadable.
    pub fn socket_buffer(self) -> Option<(u64, &'static str)> {
        let (path, name, field) = match self {
            Transport::Tcp | Transport::Veth => {
                ("/proc/sys/net/ipv4/tcp_rmem", "net.ipv4.tcp_rmem", 1)
            }
            Transport::Unix => (
                "/proc/sys/net/core/wmem_default",
                "net.core.wmem_default",
                0,
            ),
        };
        let text = std::fs::read_to_string(path).ok()?;
        let bytes = text.split_whitespace().nth(field)?.parse().ok()?;
        Some((bytes, name))
    }
}

/// Where a comparison's socket pairs come from: the transport, and for veth the two namespaces,
/// made once and removed when this is dropped; or TCP over copylab's private loopback, whose
/// MTU carries whole pages (for the zerocopy receiver; see `private_net`).
pub enum Wire {
    Local(Transport),
    Veth(crate::netns::Hosts),
    PrivateLo(crate::private_net::PrivateLo),
}

impl Wire {
    /// Set up `transport` (veth: make the namespaces and the link).
    pub fn open(transport: Transport) -> Result<Wire> {
        Ok(match transport {
            Transport::Veth => Wire::Veth(crate::netns::Hosts::create()?),
            t => Wire::Local(t),
        })
    }

    /// A connected pair: (the server's end, the receiver's end). Over veth the server's socket
    /// lives in the serving namespace and the receiver's in the other; a socket keeps its
    /// namespace whichever thread uses it.
    pub fn pair(&self) -> Result<(Conn, Conn)> {
        match self {
            Wire::Local(t) => t.pair(),
            Wire::PrivateLo(lo) => lo.pair(),
            Wire::Veth(hosts) => {
                let bind = (hosts.serving.addr, 0);
                let listener =
                    crate::netns::within(&hosts.serving, move || TcpListener::bind(bind))
                        .with_context(|| {
                            format!("cannot listen on {} (veth)", hosts.serving.addr)
                        })?;
                let addr = listener
                    .local_addr()
                    .context("cannot read the listening port")?;
                let client =
                    crate::netns::within(&hosts.receiving, move || TcpStream::connect(addr))
                        .with_context(|| format!("cannot connect to {addr} over veth"))?;
                accept_ours(&listener, client)
            }
        }
    }
}

/// Pace `sock` (a TCP socket) to `bytes_per_s` with SO_MAX_PACING_RATE: TCP then spaces its
/// segments so they leave no faster than a link of that speed (with no fq qdisc, TCP's own
/// pacing does it; loopback and veth have none). Set before the first send; the kernel's
/// answer is read back and must match. The one call `compare` (and `serve --link`) make.
pub fn pace(sock: BorrowedFd<'_>, bytes_per_s: u64) -> Result<()> {
    let fd = sock.as_raw_fd();
    let rate: u64 = bytes_per_s;
    // SAFETY: setsockopt reads `rate`, a live u64, for optlen bytes; a 64-bit kernel takes the
    // 8-byte form (rates above 4 GB/s), a 4-byte one would be a shorter prefix of it.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_MAX_PACING_RATE,
            (&rate as *const u64).cast(),
            std::mem::size_of::<u64>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error())
            .context("--link: the kernel refused SO_MAX_PACING_RATE (needs Linux 3.13 or later)");
    }
    let mut buf = [0u8; 8];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `buf`, which lives for the call, and
    // sets `len` to how many it wrote.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_MAX_PACING_RATE,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    // A 64-bit kernel answers in 8 bytes; a 32-bit one in 4, capped at u32::MAX.
    let (got, want) = match (r, len) {
        (0, 8) => (u64::from_ne_bytes(buf), bytes_per_s),
        (0, 4) => (
            u64::from(u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]])),
            bytes_per_s.min(u64::from(u32::MAX)),
        ),
        _ => {
            return Err(std::io::Error::last_os_error())
                .context("--link: cannot read SO_MAX_PACING_RATE back");
        }
    };
    if got != want {
        bail!(
            "--link: the kernel did not keep SO_MAX_PACING_RATE {want} bytes/s (read back {got})"
        );
    }
    Ok(())
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
                accept_ours(&listener, client)
            }
            Transport::Unix => {
                let (a, b) = UnixStream::pair().context("cannot create a Unix socket pair")?;
                Ok((Conn::Unix(a), Conn::Unix(b)))
            }
            Transport::Veth => bail!("a veth pair needs its namespaces: use Wire::open"),
        }
    }
}

/// Accept `client`'s connection on `listener`. Any local user can connect to the listening port
/// before our own client does (it shows in /proc/net/tcp): serve only the connection whose peer
/// is our client socket, close every other one unanswered, and keep accepting. Our connect has
/// completed, so ours is already queued and the loop ends.
fn accept_ours(listener: &TcpListener, client: TcpStream) -> Result<(Conn, Conn)> {
    let ours = client
        .local_addr()
        .context("cannot read the client socket's address")?;
    loop {
        let (server, peer) = listener
            .accept()
            .with_context(|| format!("cannot accept on {}", ours.ip()))?;
        if peer == ours {
            return Ok((Conn::Tcp(server), Conn::Tcp(client)));
        }
        drop(server);
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
