//! Finding syscall tracepoint ids: the `id` files under tracefs `events/`. Looks where tracefs is
//! usually mounted; as root with tracefs not mounted, mounts it privately for a moment (a temp
//! directory of its own, made by mkdtemp, unmounted and removed at once) so nothing on the
//! system changes.
//!
//! `COPYLAB_TRACEFS=DIR` overrides the search (DIR must contain `events/`); tests set it to a
//! missing directory to force the "no tracepoints" path.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::syscall::Syscall;

/// The ids every counter group needs — `raw_syscalls:sys_enter` first, then
/// `syscalls:sys_enter_<name>` for each of [`Syscall::COUNTED`] — looked up once per process:
/// every serve worker and every measured thread opens its group from this one look-up.
pub fn syscall_ids() -> &'static Result<Ids, NoTracepoints> {
    static IDS: OnceLock<Result<Ids, NoTracepoints>> = OnceLock::new();
    IDS.get_or_init(|| {
        let named: Vec<String> = Syscall::COUNTED
            .iter()
            .map(|n| format!("sys_enter_{n}"))
            .collect();
        let mut wanted = vec![("raw_syscalls", "sys_enter")];
        wanted.extend(named.iter().map(|n| ("syscalls", n.as_str())));
        lookup(&wanted)
    })
}

/// Environment variable that names the tracefs directory to use instead of searching.
pub const TRACEFS_ENV: &str = "COPYLAB_TRACEFS";

/// Where the ids came from, for the report.
#[derive(Debug, Clone)]
pub enum Origin {
    Mounted(PathBuf),
    /// Mounted by copylab for the look-up, then unmounted.
    TemporaryMount,
}

/// Why tracepoint ids could not be read.
#[derive(Debug, Clone)]
pub struct NoTracepoints {
    pub detail: String,
    /// The user cannot read tracefs (permission), as opposed to it not being there.
    pub permission: bool,
}

/// Ids of the tracepoints asked for, in the same order (`None` where this kernel lacks one).
pub struct Ids {
    pub origin: Origin,
    pub ids: Vec<Option<u64>>,
}

/// Look up `events/<category>/<name>/id` for each (category, name).
pub fn lookup(events: &[(&str, &str)]) -> Result<Ids, NoTracepoints> {
    if let Some(dir) = std::env::var_os(TRACEFS_ENV) {
        let dir = PathBuf::from(dir);
        return read_ids(&dir, events).map(|ids| Ids {
            origin: Origin::Mounted(dir.clone()),
            ids,
        });
    }
    let mut candidates = vec![
        PathBuf::from("/sys/kernel/tracing"),
        PathBuf::from("/sys/kernel/debug/tracing"),
    ];
    candidates.extend(mounted_tracefs());
    let mut first_err: Option<NoTracepoints> = None;
    for dir in &candidates {
        match read_ids(dir, events) {
            Ok(ids) => {
                return Ok(Ids {
                    origin: Origin::Mounted(dir.clone()),
                    ids,
                });
            }
            Err(e) => {
                if e.permission {
                    return Err(e);
                }
                first_err.get_or_insert(e);
            }
        }
    }
    if nix::unistd::geteuid().is_root() {
        match temporary_mount(events) {
            Ok(ids) => {
                return Ok(Ids {
                    origin: Origin::TemporaryMount,
                    ids,
                });
            }
            Err(detail) => {
                return Err(NoTracepoints {
                    detail: format!("tracefs is not mounted and mounting it failed ({detail})"),
                    permission: false,
                });
            }
        }
    }
    Err(first_err.unwrap_or(NoTracepoints {
        detail: "tracefs not found".into(),
        permission: false,
    }))
}

/// Mount points of tracefs listed in /proc/mounts.
fn mounted_tracefs() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_src, dst, ty) = (f.next()?, f.next()?, f.next()?);
            (ty == "tracefs").then(|| PathBuf::from(dst))
        })
        .collect()
}

fn read_ids(dir: &Path, events: &[(&str, &str)]) -> Result<Vec<Option<u64>>, NoTracepoints> {
    let ev = dir.join("events");
    match std::fs::read_dir(&ev) {
        Ok(_) => {}
        Err(e) => {
            return Err(NoTracepoints {
                detail: format!("cannot read {} ({e})", ev.display()),
                permission: e.kind() == std::io::ErrorKind::PermissionDenied,
            });
        }
    }
    let mut out = Vec::with_capacity(events.len());
    for (cat, name) in events {
        let p = ev.join(cat).join(name).join("id");
        match std::fs::read_to_string(&p) {
            Ok(s) => out.push(s.trim().parse().ok()),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(NoTracepoints {
                    detail: format!("cannot read {} ({e})", p.display()),
                    permission: true,
                });
            }
            Err(_) => out.push(None),
        }
    }
    if out.iter().all(Option::is_none) {
        return Err(NoTracepoints {
            detail: format!("no syscall tracepoints under {}", ev.display()),
            permission: false,
        });
    }
    Ok(out)
}

/// Mount tracefs on a fresh private directory, read the ids, unmount, remove the directory.
///
/// The directory is made by mkdtemp: an unpredictable name, mode 0700, and never one that
/// already exists — a predictable name (`copylab-tracefs-<pid>-<n>`) could be created first
/// by any user, and the mount then failed ("File exists") or went where someone else chose.
fn temporary_mount(events: &[(&str, &str)]) -> Result<Vec<Option<u64>>, String> {
    use nix::mount::{MntFlags, MsFlags, mount, umount2};
    let base = crate::storage::temp_dir();
    let dir = nix::unistd::mkdtemp(&base.join("copylab-tracefs-XXXXXX")).map_err(|e| {
        format!(
            "cannot make a directory in {}: {}",
            crate::escape::path(&base),
            e.desc()
        )
    })?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if let Err(e) = mount(Some("nodev"), &dir, Some("tracefs"), flags, None::<&str>) {
        let _ = std::fs::remove_dir(&dir);
        return Err(format!("mount -t tracefs: {}", e.desc()));
    }
    let ids = read_ids(&dir, events).map_err(|e| e.detail);
    let _ = umount2(&dir, MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir(&dir);
    ids
}
