//! Proof that copylab made a network namespace: a mark written to `/run/copylab/netns/<name>`
//! before the namespace is made — who made it (boot id, pid, the process's start time and its
//! pid namespace) and whether it is the lab's — completed with the namespace's own identity
//! (the nsfs device and inode behind `/run/netns/<name>`) once it exists. The same owner text
//! is set as the alias of the veth ends copylab makes. A name alone (`copylab-<pid>-a`) proves
//! nothing: anyone can make one, and a pid from another pid namespace is not a dead process.
//!
//! The marks live beside `/run/netns`, not in it: `ip netns list` takes every entry there for
//! a namespace.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

/// Where the marks are kept (root's, mode 0700).
pub const MARK_DIR: &str = "/run/copylab/netns";

/// The process that made something: enough to tell it from any other process, before and
/// after a reboot, in this pid namespace or another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `/proc/sys/kernel/random/boot_id`.
    boot: String,
    pid: u32,
    /// The process's start time (clock ticks after boot, field 22 of `/proc/PID/stat`).
    start: u64,
    /// The inode of its pid namespace (`/proc/self/ns/pid`).
    pidns: u64,
}

/// What can be said of a mark's owner from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// This very process.
    Me,
    /// Still running.
    Alive,
    /// Ended (or the machine rebooted since).
    Gone,
    /// In another pid namespace: its pid means nothing here, so it may well be running.
    Unknown,
}

impl Owner {
    /// This process.
    pub fn me() -> Option<Owner> {
        Some(Owner {
            boot: boot_id()?,
            pid: std::process::id(),
            start: start_time(std::process::id())?,
            pidns: std::fs::metadata("/proc/self/ns/pid").ok()?.ino(),
        })
    }

    /// `copylab boot=… pid=… start=… pidns=…`: the mark as one line (also a link's alias).
    pub fn text(&self) -> String {
        format!(
            "copylab boot={} pid={} start={} pidns={}",
            self.boot, self.pid, self.start, self.pidns
        )
    }

    /// The owner in a mark's text, if it is one.
    pub fn parse(text: &str) -> Option<Owner> {
        let rest = text.trim().strip_prefix("copylab ")?;
        let mut boot = None;
        let mut pid = None;
        let mut start = None;
        let mut pidns = None;
        for field in rest.split_whitespace() {
            let (k, v) = field.split_once('=')?;
            match k {
                "boot" => boot = Some(v.to_string()),
                "pid" => pid = v.parse().ok(),
                "start" => start = v.parse().ok(),
                "pidns" => pidns = v.parse().ok(),
                _ => {}
            }
        }
        Some(Owner {
            boot: boot.filter(|b| !b.is_empty())?,
            pid: pid?,
            start: start?,
            pidns: pidns?,
        })
    }

    /// Whether the owner still runs, as far as can be told from here.
    pub fn liveness(&self) -> Liveness {
        let Some(me) = Owner::me() else {
            return Liveness::Unknown;
        };
        if *self == me {
            return Liveness::Me;
        }
        if self.boot != me.boot {
            return Liveness::Gone;
        }
        if self.pidns != me.pidns {
            return Liveness::Unknown;
        }
        match start_time(self.pid) {
            Some(s) if s == self.start => Liveness::Alive,
            // No such pid, or the pid now belongs to a later process.
            _ => Liveness::Gone,
        }
    }
}

/// A namespace's mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub owner: Owner,
    /// Made by `lab up`: outlives its maker, removed by `lab down` only.
    pub lab: bool,
    /// The namespace's identity (nsfs device, inode) once it was made; None before.
    pub netns: Option<(u64, u64)>,
}

impl Mark {
    fn text(&self) -> String {
        let mut t = format!(
            "{}\nlab={}\n",
            self.owner.text(),
            if self.lab { "yes" } else { "no" }
        );
        if let Some((dev, ino)) = self.netns {
            t.push_str(&format!("netns={dev}:{ino}\n"));
        }
        t
    }

    fn parse(text: &str) -> Option<Mark> {
        let mut lines = text.lines();
        let owner = Owner::parse(lines.next()?)?;
        let mut lab = None;
        let mut netns = None;
        for l in lines {
            match l.split_once('=') {
                Some(("lab", v)) => lab = Some(v == "yes"),
                Some(("netns", v)) => {
                    let (d, i) = v.split_once(':')?;
                    netns = Some((d.parse().ok()?, i.parse().ok()?));
                }
                _ => {}
            }
        }
        Some(Mark {
            owner,
            lab: lab?,
            netns,
        })
    }
}

/// The mark file of namespace `name`.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(MARK_DIR).join(name)
}

/// Write `name`'s mark (replacing any): to a temporary beside it, then renamed, so a mark is
/// never half-written.
pub fn write(name: &str, mark: &Mark) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(MARK_DIR)?;
    let tmp = PathBuf::from(MARK_DIR).join(format!(".{name}.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    f.write_all(mark.text().as_bytes())?;
    std::fs::rename(&tmp, path(name))
}

/// `name`'s mark, if it has one.
pub fn read(name: &str) -> Option<Mark> {
    Mark::parse(&std::fs::read_to_string(path(name)).ok()?)
}

/// Forget `name`'s mark.
pub fn remove(name: &str) {
    let _ = std::fs::remove_file(path(name));
}

/// Names that have a mark.
pub fn marked() -> Vec<String> {
    std::fs::read_dir(MARK_DIR)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

/// The identity of what `/run/netns/<name>` is now (the namespace behind the bind mount), or
/// None when there is nothing there.
pub fn netns_id(name: &str) -> Option<(u64, u64)> {
    let m = std::fs::metadata(super::netns_path(name)).ok()?;
    Some((m.dev(), m.ino()))
}

/// Whether `/run/netns/<name>` is the namespace `mark` was written for.
pub fn is_marked_netns(name: &str, mark: &Mark) -> bool {
    mark.netns.is_some() && mark.netns == netns_id(name)
}

fn boot_id() -> Option<String> {
    let b = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(b.trim().to_string()).filter(|b| !b.is_empty())
}

/// Process `pid`'s start time (field 22 of `/proc/PID/stat`, after the name in parentheses).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // Fields from the 3rd (state) on: the start time is the 22nd field, the 20th here.
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_and_marks_read_back() {
        let me = Owner::me().expect("this process");
        assert_eq!(me.liveness(), Liveness::Me);
        assert_eq!(Owner::parse(&me.text()), Some(me.clone()));
        let m = Mark {
            owner: me.clone(),
            lab: true,
            netns: Some((4, 4026532000)),
        };
        assert_eq!(Mark::parse(&m.text()), Some(m));
        assert_eq!(Owner::parse("not a mark"), None);
        assert_eq!(Owner::parse("copylab pid=1"), None);
    }

    #[test]
    fn other_owners_are_judged_by_start_time_boot_and_pid_namespace() {
        let me = Owner::me().expect("this process");
        // pid 1 of this namespace with its real start time runs.
        let init = Owner {
            pid: 1,
            start: start_time(1).expect("pid 1"),
            ..me.clone()
        };
        assert_eq!(init.liveness(), Liveness::Alive);
        // The same pid with another start time is a process that ended.
        let reused = Owner {
            start: init.start + 1,
            ..init.clone()
        };
        assert_eq!(reused.liveness(), Liveness::Gone);
        let rebooted = Owner {
            boot: "another-boot".into(),
            ..me.clone()
        };
        assert_eq!(rebooted.liveness(), Liveness::Gone);
        // A pid of another pid namespace proves nothing here.
        let elsewhere = Owner {
            pid: 999_999,
            pidns: me.pidns + 1,
            ..me
        };
        assert_eq!(elsewhere.liveness(), Liveness::Unknown);
    }
}
