//! Two "hosts" on one machine: two network namespaces joined by a veth pair, for
//! `compare --transport veth` and `copylab lab`. Created with iproute2's `ip`; removed on every
//! way out — dropped normally or on an error, by the signal handler on a second Ctrl-C, and, after
//! a kill -9, by the next copylab that starts one. Removing a namespace's name
//! (`/run/netns/NAME`, a bind mount) is all it takes: the kernel frees the namespace once no
//! thread or socket holds it, and its end of the veth pair with it, which takes the peer down
//! too. Also reads what the veth device does with segments (offloads, counters).
//!
//! copylab removes only what it can prove it made ([`mark`]): each namespace gets a mark
//! (boot id, pid, start time and pid namespace of its maker, and the namespace's own inode) and
//! each veth end the same owner as its alias. A name that merely looks like copylab's, a file
//! in `/run/netns`, or a pair whose maker runs in another pid namespace is left alone.

mod mark;

use std::ffi::CString;
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use mark::{Liveness, Mark, Owner};

/// Where `ip netns add` puts a namespace's name.
pub const NETNS_DIR: &str = "/run/netns";

/// Every namespace and link copylab makes starts with this.
pub const PREFIX: &str = "copylab";

/// The serving host's address: 198.18.0.0/15 is reserved for benchmarking (RFC 2544), never
/// routed, and only ever set on the two veth ends inside their namespaces.
pub const SERVING_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The receiving (client) host's address.
pub const RECEIVING_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PREFIX_LEN: u8 = 24;

/// The lab's namespaces: fixed names (they outlive the `lab up` that made them), no pid.
pub const LAB_SERVING: &str = "copylab-lab-srv";
pub const LAB_CLIENT: &str = "copylab-lab-cli";
const LAB_DEVS: [&str; 2] = ["copylab-srv", "copylab-cli"];

/// One end: a namespace, its veth device and address, and a descriptor of the namespace (what
/// threads enter with setns).
#[derive(Debug)]
pub struct Host {
    pub netns: String,
    pub dev: String,
    pub addr: Ipv4Addr,
    fd: File,
}

/// Two namespaces joined by a veth pair. Removed when dropped if this process made them for
/// itself (compare); the lab's are left for `lab down`.
#[derive(Debug)]
pub struct Hosts {
    pub serving: Host,
    pub receiving: Host,
    remove_on_drop: bool,
}

/// The namespaces of this process's own pair: `copylab-<pid>-a` (serving) and `-b`.
fn own_names() -> [String; 2] {
    let pid = std::process::id();
    [format!("{PREFIX}-{pid}-a"), format!("{PREFIX}-{pid}-b")]
}

/// Its veth devices: `copylab<pid>a` and `copylab<pid>b` (15 bytes at most, the kernel's
/// limit: a pid has at most 7 digits).
fn own_devs() -> [String; 2] {
    let pid = std::process::id();
    [format!("{PREFIX}{pid}a"), format!("{PREFIX}{pid}b")]
}

/// Why namespaces cannot be made here, and what to do: checked before anything is created.
pub fn refusal() -> Option<String> {
    let caps = crate::sys::effective_caps();
    // CAP_SYS_ADMIN (21): mount the namespace's name, setns; CAP_NET_ADMIN (12): links, addresses.
    if caps & (1 << 21) == 0 || caps & (1 << 12) == 0 {
        return Some(
            "network namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN): run copylab with sudo"
                .into(),
        );
    }
    if which_ip().is_none() {
        return Some(
            "network namespaces are made with iproute2's `ip`, which is not installed: install iproute2 (apt-get install iproute2)".into(),
        );
    }
    None
}

fn which_ip() -> Option<PathBuf> {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Run `ip ARGS`; an error carries ip's own message.
fn ip(args: &[&str]) -> Result<()> {
    let bin = which_ip().context("install iproute2 (apt-get install iproute2): `ip` not found")?;
    let out = Command::new(&bin)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if !out.status.success() {
        // ip may say it in several lines: one line here, so the error stays one line.
        let said = String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        bail!("`ip {}` failed: {said}", args.join(" "));
    }
    Ok(())
}

impl Hosts {
    /// This process's own pair, removed when dropped (and by a second Ctrl-C's handler). Stale
    /// pairs of copylab processes that no longer run are removed first (and said).
    pub fn create() -> Result<Hosts> {
        if let Some(why) = refusal() {
            bail!("--transport veth: {why} (or use --transport tcp)");
        }
        say_removed(&remove_stale());
        let [a, b] = own_names();
        let [da, db] = own_devs();
        // Left over from an earlier run in this process (sweep makes one per point).
        remove_if(&a, Claim::Mine);
        remove_if(&b, Claim::Mine);
        make([&a, &b], [&da, &db], Claim::Mine)
    }

    /// `lab up`: the lab's pair, left in place when dropped.
    pub fn create_lab() -> Result<Hosts> {
        if let Some(why) = refusal() {
            bail!("lab up: {why}");
        }
        say_removed(&remove_stale());
        for name in [LAB_SERVING, LAB_CLIENT] {
            if !Path::new(&netns_path(name)).exists() {
                continue;
            }
            if mark::read(name).is_some_and(|m| m.lab && mark::is_marked_netns(name, &m)) {
                bail!(
                    "lab up: the lab is already up ({NETNS_DIR}/{name} exists): use it, or `copylab lab down` first"
                );
            }
            bail!(
                "lab up: {NETNS_DIR}/{name} exists and copylab did not make it (it carries no copylab mark), so copylab will neither use nor remove it: remove it yourself (`ip netns del {name}`) if it is not needed"
            );
        }
        make([LAB_SERVING, LAB_CLIENT], LAB_DEVS, Claim::Lab)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        if self.remove_on_drop {
            remove_if(&self.serving.netns, Claim::Mine);
            remove_if(&self.receiving.netns, Claim::Mine);
            crate::signals::netns_removed();
        }
    }
}

/// Whose namespaces a removal may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// This process's own pair.
    Mine,
    /// A pair whose maker has ended (kill -9).
    Stale,
    /// The lab's (`lab down`).
    Lab,
}

/// What a removal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removal {
    /// Copylab's, and removed.
    Removed,
    /// Nothing there (a mark left without its namespace is forgotten).
    Absent,
    /// Something is there that copylab cannot prove it made under this claim: left alone.
    Kept,
}

/// Remove namespace `name` if it carries copylab's mark and `claim` covers it.
fn remove_if(name: &str, claim: Claim) -> Removal {
    let exists = mark::netns_id(name).is_some();
    let Some(m) = mark::read(name) else {
        return if exists {
            Removal::Kept
        } else {
            Removal::Absent
        };
    };
    let covered = match claim {
        Claim::Mine => !m.lab && m.owner.liveness() == Liveness::Me,
        Claim::Stale => !m.lab && m.owner.liveness() == Liveness::Gone,
        Claim::Lab => m.lab,
    };
    if !covered {
        return if exists {
            Removal::Kept
        } else {
            Removal::Absent
        };
    }
    if mark::is_marked_netns(name, &m) {
        remove_netns(name);
        mark::remove(name);
        return Removal::Removed;
    }
    if !exists {
        // Its namespace is gone already (`ip netns del`): the mark has nothing left to prove.
        mark::remove(name);
        return Removal::Absent;
    }
    // The mark is copylab's but what sits at the name is not the namespace it was made for.
    Removal::Kept
}

/// One line on stderr naming what the stale clean-up removed.
fn say_removed(removed: &[String]) {
    use std::io::Write;
    if !removed.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "copylab: removed {} left by copylab processes that no longer run",
            removed.join(", ")
        );
    }
}

/// Make namespace `name` with copylab's mark `m` (its owner, and whether it is the lab's): the
/// mark first (so a kill -9 at any point leaves something the next run can prove), then the
/// namespace, then its identity in the mark.
fn add_marked(name: &str, mut m: Mark) -> Result<()> {
    if let Some(m) = mark::read(name) {
        let live = matches!(m.owner.liveness(), Liveness::Alive | Liveness::Unknown);
        if live && !m.lab && mark::netns_id(name).is_some() {
            bail!(
                "{NETNS_DIR}/{name} belongs to another copylab that still runs (its mark: {}); try again when it has finished",
                m.owner.text()
            );
        }
    }
    mark::write(name, &m)
        .with_context(|| format!("cannot write copylab's mark {}", mark::path(name).display()))?;
    if let Err(e) = ip(&["netns", "add", name]) {
        mark::remove(name);
        return Err(e);
    }
    m.netns = mark::netns_id(name);
    if let Err(e) = mark::write(name, &m) {
        remove_netns(name);
        mark::remove(name);
        return Err(e).with_context(|| {
            format!("cannot write copylab's mark {}", mark::path(name).display())
        });
    }
    Ok(())
}

/// Make namespaces `a` and `b` joined by veth `da`–`db`, addressed and up, every one marked as
/// copylab's: this process's (`Claim::Mine`: removed when dropped, and by a second Ctrl-C) or
/// the lab's (`Claim::Lab`: left for `lab down`). On any failure, remove what was made.
fn make([a, b]: [&str; 2], [da, db]: [&str; 2], claim: Claim) -> Result<Hosts> {
    let owner = Owner::me().context(
        "cannot read this process's boot id and start time from /proc (copylab marks what it makes with them)",
    )?;
    let lab = claim == Claim::Lab;
    let mark = || Mark {
        owner: owner.clone(),
        lab,
        netns: None,
    };
    let undo = |e: anyhow::Error| {
        remove_if(a, claim);
        remove_if(b, claim);
        e
    };
    let refused = |e: anyhow::Error| {
        e.context(
            "the kernel refused a network namespace: in a container, run it privileged (CAP_SYS_ADMIN), or use --transport tcp",
        )
    };
    add_marked(a, mark()).map_err(refused)?;
    add_marked(b, mark()).map_err(|e| undo(refused(e)))?;
    if !lab {
        // A second Ctrl-C from here on removes them (and their marks).
        crate::signals::remove_netns_on_abort(&[
            netns_path(a),
            mark::path(a).display().to_string(),
            netns_path(b),
            mark::path(b).display().to_string(),
        ]);
    }
    ip(&[
        "link", "add", da, "netns", a, "type", "veth", "peer", "name", db, "netns", b,
    ])
    .map_err(|e| {
        undo(
            e.context(
                "cannot make a veth pair: the kernel needs veth (CONFIG_VETH; modprobe veth)",
            ),
        )
    })?;
    let alias = owner.text();
    let setup = || -> Result<()> {
        for (ns, dev, addr) in [(a, da, SERVING_ADDR), (b, db, RECEIVING_ADDR)] {
            let cidr = format!("{addr}/{PREFIX_LEN}");
            // The link's alias names the same owner as the namespace's mark.
            ip(&["-n", ns, "link", "set", "dev", dev, "alias", &alias])?;
            ip(&["-n", ns, "addr", "add", &cidr, "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    };
    setup().map_err(undo)?;
    let open = |ns: &str| {
        File::open(netns_path(ns)).with_context(|| format!("cannot open {}", netns_path(ns)))
    };
    let host = |ns: &str, dev: &str, addr| -> Result<Host> {
        Ok(Host {
            netns: ns.to_string(),
            dev: dev.to_string(),
            addr,
            fd: open(ns)?,
        })
    };
    let serving = host(a, da, SERVING_ADDR).map_err(undo)?;
    let receiving = host(b, db, RECEIVING_ADDR).map_err(undo)?;
    Ok(Hosts {
        serving,
        receiving,
        remove_on_drop: !lab,
    })
}

/// What `lab down` did: the namespaces it removed (each carried copylab's lab mark), and those
/// it found under the lab's names but left alone (copylab did not make them).
#[derive(Debug, Clone, Default)]
pub struct LabDown {
    pub removed: Vec<String>,
    pub left: Vec<String>,
}

/// `lab down`: remove the lab's namespaces (and with them its veth pair) — only those that
/// carry copylab's lab mark.
pub fn remove_lab() -> LabDown {
    let mut done = LabDown::default();
    for name in [LAB_SERVING, LAB_CLIENT] {
        match remove_if(name, Claim::Lab) {
            Removal::Removed => done.removed.push(name.to_string()),
            Removal::Kept => done.left.push(name.to_string()),
            Removal::Absent => {}
        }
    }
    done
}

pub fn netns_path(name: &str) -> String {
    format!("{NETNS_DIR}/{name}")
}

/// Remove a namespace's name as `ip netns del` does (detach the bind mount, unlink it): the
/// namespace goes once nothing holds it. Callers have proved it is copylab's.
fn remove_netns(name: &str) {
    if let Ok(c) = CString::new(netns_path(name)) {
        crate::signals::detach_and_unlink(&c);
    }
}

/// Remove what copylab processes that no longer run left behind (a kill -9): namespaces whose
/// mark's maker has ended (never the lab's, never one whose maker may run in another pid
/// namespace), and links in this namespace whose alias names such a maker. Returns their names.
pub fn remove_stale() -> Vec<String> {
    let mut removed = Vec::new();
    for name in mark::marked() {
        if remove_if(&name, Claim::Stale) == Removal::Removed {
            removed.push(name);
        }
    }
    if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with(PREFIX) {
                continue;
            }
            let alias = std::fs::read_to_string(e.path().join("ifalias")).unwrap_or_default();
            if Owner::parse(&alias).is_some_and(|o| o.liveness() == Liveness::Gone)
                && ip(&["link", "del", &name]).is_ok()
            {
                removed.push(name);
            }
        }
    }
    removed
}

/// Run `f` on a thread inside `host`'s namespace (sockets it makes stay there) and return its
/// result; the calling thread's namespace is untouched.
pub fn within<T: Send>(host: &Host, f: impl FnOnce() -> std::io::Result<T> + Send) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| -> Result<T> {
            nix::sched::setns(&host.fd, nix::sched::CloneFlags::CLONE_NEWNET)
                .with_context(|| format!("cannot enter network namespace {}", host.netns))?;
            f().map_err(anyhow::Error::from)
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the thread in namespace {} failed", host.netns))?
    })
}

/// What the veth device says it does with segments (ethtool's legacy ioctls, read in its
/// namespace): null where the kernel would not say.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Offloads {
    /// Scatter-gather: the device takes page fragments (what lets sendfile skip its copy).
    pub sg: Option<bool>,
    /// TCP segmentation offload: TCP hands the device segments up to 64 KiB.
    pub tso: Option<bool>,
    /// Generic segmentation offload (the software fallback of TSO).
    pub gso: Option<bool>,
    /// Generic receive offload on the receiving device.
    pub gro: Option<bool>,
    /// The device's MTU in bytes (veth 1500, loopback 65536).
    pub mtu_bytes: Option<u32>,
}

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GSG: u32 = 0x18;
const ETHTOOL_GTSO: u32 = 0x1e;
const ETHTOOL_GGSO: u32 = 0x23;
const ETHTOOL_GGRO: u32 = 0x2b;

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// Read the offloads of `host`'s veth device from inside its namespace.
pub fn offloads(host: &Host) -> Offloads {
    let dev = host.dev.clone();
    within(host, move || Ok(read_offloads(&dev))).unwrap_or(Offloads {
        sg: None,
        tso: None,
        gso: None,
        gro: None,
        mtu_bytes: None,
    })
}

/// The offloads of `dev` in the calling thread's namespace.
pub fn read_offloads(dev: &str) -> Offloads {
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").ok();
    let get = |cmd: u32| -> Option<bool> {
        let sock = sock.as_ref()?;
        let mut value = EthtoolValue { cmd, data: 0 };
        // SAFETY: ifreq is plain data, all zeros is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        let name = dev.as_bytes();
        if name.len() >= req.ifr_name.len() {
            return None;
        }
        for (d, s) in req.ifr_name.iter_mut().zip(name) {
            *d = *s as libc::c_char;
        }
        req.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
        // SAFETY: SIOCETHTOOL reads the ifreq and writes `value`, which both live for the call.
        let r = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL, &mut req) };
        (r == 0).then_some(value.data != 0)
    };
    Offloads {
        sg: get(ETHTOOL_GSG),
        tso: get(ETHTOOL_GTSO),
        gso: get(ETHTOOL_GGSO),
        gro: get(ETHTOOL_GGRO),
        mtu_bytes: read_mtu(sock.as_ref(), dev),
    }
}

fn read_mtu(sock: Option<&std::net::UdpSocket>, dev: &str) -> Option<u32> {
    let sock = sock?;
    // SAFETY: ifreq is plain data, all zeros is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let name = dev.as_bytes();
    if name.len() >= req.ifr_name.len() {
        return None;
    }
    for (d, s) in req.ifr_name.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFMTU fills the ifreq, which lives for the call.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFMTU, &mut req) };
    if r != 0 {
        return None;
    }
    // SAFETY: after a successful SIOCGIFMTU the union holds the MTU.
    Some(unsafe { req.ifr_ifru.ifru_mtu } as u32)
}

/// A device's transmit counters (packets and bytes since it was made), from
/// /proc/thread-self/net/dev in `host`'s namespace.
pub fn tx_counts(host: &Host) -> Option<(u64, u64)> {
    let dev = host.dev.clone();
    within(host, move || {
        std::fs::read_to_string("/proc/thread-self/net/dev").map(|s| parse_tx(&s, &dev))
    })
    .ok()
    .flatten()
}

/// (tx packets, tx bytes) of `dev` in /proc/net/dev's text.
fn parse_tx(text: &str, dev: &str) -> Option<(u64, u64)> {
    let line = text.lines().find_map(|l| {
        let (name, rest) = l.split_once(':')?;
        (name.trim() == dev).then_some(rest)
    })?;
    let f: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // Receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets …
    Some((*f.get(9)?, *f.get(8)?))
}

/// What `lab up` made, for the report to print.
pub struct Lab {
    pub serving_netns: String,
    pub serving_dev: String,
    pub serving_addr: String,
    pub client_netns: String,
    pub client_dev: String,
    pub client_addr: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_counters_from_proc_net_dev() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:  100 2 0 0 0 0 0 0  300 4 0 0 0 0 0 0\ncopylab1a: 10 1 0 0 0 0 0 0 6000 3 0 0 0 0 0 0\n";
        assert_eq!(parse_tx(text, "copylab1a"), Some((3, 6000)));
        assert_eq!(parse_tx(text, "lo"), Some((4, 300)));
        assert_eq!(parse_tx(text, "eth0"), None);
    }
}
