//! Two "hosts" on one machine: two network namespaces joined by a veth pair, for
//! `compare --transport veth` and `copylab lab`. Created with iproute2's `ip`; removed on every
//! way out — dropped normally or on an error, by the signal handler on a second Ctrl-C, and, after
//! a kill -9, by the next copylab that starts one (names carry the owner's pid). Removing a
//! namespace's name (`/run/netns/NAME`, a bind mount) is all it takes: the kernel frees the
//! namespace once no thread or socket holds it, and its end of the veth pair with it, which takes
//! the peer down too. Also reads what the veth device does with segments (offloads, counters).

use std::ffi::CString;
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Serialize;

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
    /// pairs of copylab processes that no longer exist are removed first.
    pub fn create() -> Result<Hosts> {
        if let Some(why) = refusal() {
            bail!("--transport veth: {why} (or use --transport tcp)");
        }
        remove_stale();
        let [a, b] = own_names();
        let [da, db] = own_devs();
        // Registered before they exist: a second signal during the set-up removes what was made.
        crate::signals::remove_netns_on_abort(&[netns_path(&a), netns_path(&b)]);
        // Left over from an earlier run in this process (sweep makes one per point).
        remove_netns(&a);
        remove_netns(&b);
        let hosts = make(&a, &b, &da, &db, true)?;
        Ok(hosts)
    }

    /// `lab up`: the lab's pair, left in place when dropped.
    pub fn create_lab() -> Result<Hosts> {
        if let Some(why) = refusal() {
            bail!("lab up: {why}");
        }
        remove_stale();
        if Path::new(&netns_path(LAB_SERVING)).exists()
            || Path::new(&netns_path(LAB_CLIENT)).exists()
        {
            bail!(
                "lab up: the lab is already up ({NETNS_DIR}/{LAB_SERVING} exists): use it, or `copylab lab down` first"
            );
        }
        make(LAB_SERVING, LAB_CLIENT, LAB_DEVS[0], LAB_DEVS[1], false)
    }

    fn remove(&self) {
        remove_netns(&self.serving.netns);
        remove_netns(&self.receiving.netns);
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        if self.remove_on_drop {
            self.remove();
        }
    }
}

/// Make namespaces `a` and `b` joined by veth `da`–`db`, addressed and up; on any failure,
/// remove what was made.
fn make(a: &str, b: &str, da: &str, db: &str, remove_on_drop: bool) -> Result<Hosts> {
    let undo = |e: anyhow::Error| {
        remove_netns(a);
        remove_netns(b);
        e
    };
    let refused = |e: anyhow::Error| {
        e.context(
            "the kernel refused a network namespace: in a container, run it privileged (CAP_SYS_ADMIN), or use --transport tcp",
        )
    };
    ip(&["netns", "add", a]).map_err(refused)?;
    ip(&["netns", "add", b]).map_err(|e| undo(refused(e)))?;
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
    let setup = || -> Result<()> {
        for (ns, dev, addr) in [(a, da, SERVING_ADDR), (b, db, RECEIVING_ADDR)] {
            let cidr = format!("{addr}/{PREFIX_LEN}");
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
        remove_on_drop,
    })
}

/// `lab down`: remove the lab's namespaces (and with them its veth pair). Whether it was up.
pub fn remove_lab() -> bool {
    let up = [LAB_SERVING, LAB_CLIENT]
        .iter()
        .any(|n| Path::new(&netns_path(n)).exists());
    remove_netns(LAB_SERVING);
    remove_netns(LAB_CLIENT);
    up
}

pub fn netns_path(name: &str) -> String {
    format!("{NETNS_DIR}/{name}")
}

/// Remove a namespace's name as `ip netns del` does (detach the bind mount, unlink it): the
/// namespace goes once nothing holds it. Nothing to do when it is not there.
pub fn remove_netns(name: &str) {
    if let Ok(c) = CString::new(netns_path(name)) {
        crate::signals::detach_and_unlink(&c);
    }
}

/// The pid in a copylab namespace (`copylab-<pid>-a`) or link (`copylab<pid>a`) name.
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let tail = &rest[digits.len()..];
    if digits.is_empty() || !matches!(tail, "a" | "b" | "-a" | "-b") {
        return None;
    }
    digits.parse().ok()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Remove the namespaces and root-namespace links of copylab processes that no longer exist
/// (ended by kill -9); returns their names. Never touches the lab or a live process's pair.
pub fn remove_stale() -> Vec<String> {
    let mut removed = Vec::new();
    if let Ok(dir) = std::fs::read_dir(NETNS_DIR) {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = owner_pid(&name)
                && !alive(pid)
            {
                remove_netns(&name);
                removed.push(name);
            }
        }
    }
    if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = owner_pid(&name)
                && !alive(pid)
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
    fn owner_pids_of_copylab_names_only() {
        assert_eq!(owner_pid("copylab-123-a"), Some(123));
        assert_eq!(owner_pid("copylab-123-b"), Some(123));
        assert_eq!(owner_pid("copylab123a"), Some(123));
        assert_eq!(owner_pid("copylab-lab-srv"), None);
        assert_eq!(owner_pid("copylab-srv"), None);
        assert_eq!(owner_pid("copylab-123-c"), None);
        assert_eq!(owner_pid("other-123-a"), None);
    }

    #[test]
    fn device_counters_from_proc_net_dev() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:  100 2 0 0 0 0 0 0  300 4 0 0 0 0 0 0\ncopylab1a: 10 1 0 0 0 0 0 0 6000 3 0 0 0 0 0 0\n";
        assert_eq!(parse_tx(text, "copylab1a"), Some((3, 6000)));
        assert_eq!(parse_tx(text, "lo"), Some((4, 300)));
        assert_eq!(parse_tx(text, "eth0"), None);
    }
}
