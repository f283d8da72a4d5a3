//! A loopback of copylab's own: a private, anonymous network namespace whose `lo` has an MTU that
//! makes every TCP segment carry whole pages, for the receiver that maps them
//! (TCP_ZEROCOPY_RECEIVE). The host's `lo` is never touched.
//!
//! One thread calls `unshare(CLONE_NEWNET)` (only that thread moves), brings the new `lo` up
//! with [`MTU_V6`] by ioctl, and from then on makes connected pairs inside on request; a socket
//! keeps its namespace whichever thread uses it. The namespace has no name (nothing under
//! `/run/netns`, no bind mount): the kernel frees it with its last reference, the thread and the
//! sockets. So it is gone after a normal exit, an error, Ctrl-C or kill -9 alike, with nothing
//! for copylab to remove and nothing a later run must clean up.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::mpsc;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::method::Unavailable;
use crate::transport::Conn;

/// `lo`'s MTU for IPv6 (`::1`): 15 pages of TCP payload per segment, plus 40 bytes of IPv6
/// header and 32 of TCP header with the timestamp option (the kernel's tcp_mmap selftest note).
pub const MTU_V6: u32 = 15 * 4096 + 40 + 32;
/// The same for IPv4 (`127.0.0.1`, 20 bytes of IP header), where IPv6 is disabled.
pub const MTU_V4: u32 = 15 * 4096 + 20 + 32;

/// What the private loopback is, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct PrivateLoInfo {
    /// The address both ends use: `::1`, or `127.0.0.1` where IPv6 is off.
    pub addr: String,
    /// `lo`'s MTU inside the namespace, in bytes, as read back from the device.
    pub mtu_bytes: u32,
    /// The payload per segment that MTU leaves once the IP and TCP headers (with timestamps)
    /// are taken: what the MTU was chosen to make a multiple of the page size.
    pub payload_bytes_per_segment: u32,
}

/// Where the namespace's thread sends a connected pair (server's end, receiver's end).
type PairSender = mpsc::Sender<std::io::Result<(TcpStream, TcpStream)>>;

/// The private namespace's thread, making connected pairs on request; the namespace goes when
/// this is dropped and the last of its sockets is closed.
pub struct PrivateLo {
    requests: Option<mpsc::Sender<PairSender>>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub info: PrivateLoInfo,
}

/// Why the private loopback cannot be made here (before trying): what is missing and the fix.
pub fn refusal() -> Option<Unavailable> {
    let caps = crate::sys::effective_caps();
    // CAP_SYS_ADMIN (21): unshare a network namespace; CAP_NET_ADMIN (12): set lo's MTU.
    if caps & (1 << 21) == 0 || caps & (1 << 12) == 0 {
        return Some(Unavailable {
            reason: "it needs a private network namespace with a page-aligned loopback MTU, and making one needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)".into(),
            fix: "run copylab as root (sudo); the host's own lo is never changed".into(),
        });
    }
    None
}

impl PrivateLo {
    /// Make the namespace and its loopback. The error says why not and what to do.
    pub fn open() -> std::result::Result<PrivateLo, Unavailable> {
        if let Some(no) = refusal() {
            return Err(no);
        }
        let (requests, queue) = mpsc::channel::<PairSender>();
        let (ready_tx, ready) = mpsc::channel::<std::result::Result<PrivateLoInfo, Unavailable>>();
        let thread = std::thread::Builder::new()
            .name("copylab-netns".into())
            .spawn(move || {
                let addr = match enter() {
                    Ok((addr, info)) => {
                        let _ = ready_tx.send(Ok(info));
                        addr
                    }
                    Err(no) => {
                        let _ = ready_tx.send(Err(no));
                        return;
                    }
                };
                for reply in queue {
                    let _ = reply.send(connected_pair(addr));
                }
            })
            .map_err(|e| Unavailable {
                reason: format!("cannot start the thread for a private network namespace: {e}"),
                fix: "retry; if it persists, the system is out of threads".into(),
            })?;
        let info = ready.recv().map_err(|_| Unavailable {
            reason: "the private network namespace's thread ended before it was ready".into(),
            fix: "retry".into(),
        });
        let info = match info.and_then(|r| r) {
            Ok(i) => i,
            Err(no) => {
                let _ = thread.join();
                return Err(no);
            }
        };
        Ok(PrivateLo {
            requests: Some(requests),
            thread: Some(thread),
            info,
        })
    }

    /// A connected pair inside the namespace: (the server's end, the receiver's end).
    pub fn pair(&self) -> Result<(Conn, Conn)> {
        let (tx, rx) = mpsc::channel();
        self.requests
            .as_ref()
            .context("the private loopback is closed")?
            .send(tx)
            .map_err(|_| anyhow::anyhow!("the private network namespace's thread has ended"))?;
        let (server, client) = rx
            .recv()
            .map_err(|_| anyhow::anyhow!("the private network namespace's thread has ended"))?
            .with_context(|| {
                format!(
                    "cannot connect over the private loopback ({})",
                    self.info.addr
                )
            })?;
        Ok((Conn::Tcp(server), Conn::Tcp(client)))
    }
}

impl Drop for PrivateLo {
    fn drop(&mut self) {
        // Closing the queue ends the thread; the namespace lives on only in open sockets.
        self.requests.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// On the calling thread: move into a new network namespace, bring its `lo` up with a
/// page-aligned MTU, and say which address to use (IPv6 `::1`, else IPv4).
fn enter() -> std::result::Result<(SocketAddr, PrivateLoInfo), Unavailable> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| Unavailable {
        reason: format!("unshare(CLONE_NEWNET) failed: {}", e.desc()),
        fix: match e {
            nix::errno::Errno::EINVAL => {
                "use a kernel with network namespaces (CONFIG_NET_NS)".to_string()
            }
            _ => "run copylab as root, outside a container that forbids new namespaces".into(),
        },
    })?;
    // lo is down: no address can be bound yet, and the ioctls need only an open socket.
    let ctl = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map(std::net::UdpSocket::from)
    .map_err(|e| Unavailable {
        reason: format!(
            "cannot open a control socket in the private namespace: {}",
            e.desc()
        ),
        fix: "retry".into(),
    })?;
    let fail = |what: &str, e: std::io::Error| Unavailable {
        reason: format!("cannot {what} of the private namespace's lo: {e}"),
        fix: "run copylab as root (CAP_NET_ADMIN)".into(),
    };
    set_mtu(&ctl, MTU_V6).map_err(|e| fail("set the MTU", e))?;
    set_up(&ctl).map_err(|e| fail("bring up", e))?;
    // IPv6 where the namespace has it (::1 appears when lo comes up), else IPv4 with the MTU
    // that leaves the same 15 pages per segment.
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, 0));
    let (addr, mtu, headers) = match TcpListener::bind(v6) {
        Ok(_) => (v6, MTU_V6, 40 + 32),
        Err(_) => {
            set_mtu(&ctl, MTU_V4).map_err(|e| fail("set the MTU", e))?;
            (SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), MTU_V4, 20 + 32)
        }
    };
    let read_back = get_mtu(&ctl).map_err(|e| fail("read the MTU", e))?;
    if read_back != mtu {
        return Err(Unavailable {
            reason: format!("the private namespace's lo kept MTU {read_back}, not {mtu}"),
            fix: "use a kernel whose loopback accepts an MTU up to 65536".into(),
        });
    }
    Ok((
        addr,
        PrivateLoInfo {
            addr: addr.ip().to_string(),
            mtu_bytes: mtu,
            payload_bytes_per_segment: mtu - headers,
        },
    ))
}

/// A connected pair on `addr` (port 0: the kernel picks). Nobody else is in this namespace, but
/// the accepted connection is still checked to be our client's.
fn connected_pair(addr: SocketAddr) -> std::io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind(addr)?;
    let at = listener.local_addr()?;
    let client = TcpStream::connect(at)?;
    let ours = client.local_addr()?;
    loop {
        let (server, peer) = listener.accept()?;
        if peer == ours {
            return Ok((server, client));
        }
    }
}

/// An `ifreq` for `lo` with the given union payload (an int: the MTU, or the flags).
fn ifreq_lo() -> libc::ifreq {
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut r: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in r.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    r
}

fn ioctl(
    sock: &std::net::UdpSocket,
    req: libc::c_ulong,
    r: &mut libc::ifreq,
) -> std::io::Result<()> {
    // SAFETY: the request reads or writes one ifreq through the pointer, which points at a live
    // ifreq for the duration of the call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), req as _, r as *mut libc::ifreq) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn set_mtu(sock: &std::net::UdpSocket, mtu: u32) -> std::io::Result<()> {
    let mut r = ifreq_lo();
    r.ifr_ifru.ifru_mtu = mtu as libc::c_int;
    ioctl(sock, libc::SIOCSIFMTU, &mut r)
}

fn get_mtu(sock: &std::net::UdpSocket) -> std::io::Result<u32> {
    let mut r = ifreq_lo();
    ioctl(sock, libc::SIOCGIFMTU, &mut r)?;
    // SAFETY: SIOCGIFMTU filled the union's int member.
    Ok(unsafe { r.ifr_ifru.ifru_mtu } as u32)
}

fn set_up(sock: &std::net::UdpSocket) -> std::io::Result<()> {
    let mut r = ifreq_lo();
    ioctl(sock, libc::SIOCGIFFLAGS, &mut r)?;
    // SAFETY: SIOCGIFFLAGS filled the union's flags member.
    let flags = unsafe { r.ifr_ifru.ifru_flags };
    r.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    ioctl(sock, libc::SIOCSIFFLAGS, &mut r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mtus_leave_fifteen_pages_per_segment() {
        assert_eq!(MTU_V6, 61512);
        assert_eq!(MTU_V6 - 40 - 32, 15 * 4096);
        assert_eq!(MTU_V4 - 20 - 32, 15 * 4096);
    }

    #[test]
    fn a_private_loopback_carries_bytes_and_leaves_the_host_lo_alone() {
        let host_mtu = std::fs::read_to_string("/sys/class/net/lo/mtu").ok();
        let lo = match PrivateLo::open() {
            Ok(lo) => lo,
            Err(no) => return eprintln!("skipped: {no}"),
        };
        assert_eq!(lo.info.payload_bytes_per_segment, 15 * 4096);
        let (a, b) = lo.pair().unwrap();
        use std::io::{Read, Write};
        let (Conn::Tcp(mut a), Conn::Tcp(mut b)) = (a, b) else {
            panic!("tcp")
        };
        a.write_all(b"hello").unwrap();
        drop(a);
        let mut s = String::new();
        b.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        drop(lo);
        assert_eq!(
            std::fs::read_to_string("/sys/class/net/lo/mtu").ok(),
            host_mtu,
            "the host's lo is untouched"
        );
    }
}
