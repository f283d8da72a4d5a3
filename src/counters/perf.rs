//! A perf counter group on the calling thread: `raw_syscalls:sys_enter` (every syscall), the same
//! tracepoint again once per data syscall with a filter on its number (`id == 17`), and the
//! software events context-switches, cpu-migrations, page-faults and task-clock. All with
//! `include_kernel` (syscall entry and scheduler events happen in the kernel) and without inherit,
//! so only this thread is counted.
//!
//! Why one tracepoint with filters rather than one `syscalls:sys_enter_<name>` per syscall:
//! closing the last perf event on a tracepoint waits for an RCU grace period (30–50 ms on the
//! machines here), once per tracepoint. Thirteen tracepoints cost half a second at every close;
//! one costs a single grace period, and none at all while another event on it stays open (serve
//! keeps one for its whole life). `syscalls:sys_enter_<name>` is the fallback for a syscall whose
//! filter the kernel refuses.

use crate::syscall::Syscall;
use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use perf_event::events::{Software, Tracepoint};
use perf_event::{Builder, Counter, Group};

use super::tracefs::{self, NoTracepoints, Origin};
use super::{CounterSource, Reading};

/// Open `raw_syscalls:sys_enter` as a group member counting only syscall `nr`.
fn filtered(group: &mut Group, raw_id: u64, nr: libc::c_long) -> std::io::Result<Counter> {
    let c = member(group, Tracepoint::with_id(raw_id))?;
    let filter = CString::new(format!("id == {nr}"))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    set_filter(&c, &filter)?;
    Ok(c)
}

/// Give the tracepoint event `c` a filter (`PERF_EVENT_IOC_SET_FILTER`, e.g. `id == 17`): the
/// kernel then records only the events it matches.
pub fn set_filter(c: &Counter, filter: &CString) -> std::io::Result<()> {
    // SAFETY: the descriptor is a perf event the caller owns, and the filter is a NUL-terminated
    // string that outlives the call (the kernel copies it).
    let rc = unsafe {
        perf_event_open_sys::ioctls::SET_FILTER(c.as_raw_fd(), filter.as_ptr().cast_mut())
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Why the perf group could not be opened at all.
#[derive(Debug, Clone)]
pub struct Refused {
    pub errno: i32,
    pub detail: String,
}

/// An open group, enabled only between `start` and `stop`.
pub struct PerfGroup {
    group: Group,
    total: Option<Counter>,
    named: Vec<(Syscall, Option<Counter>)>,
    context_switches: Counter,
    cpu_migrations: Counter,
    page_faults: Counter,
    task_clock: Counter,
    /// Why syscall tracepoints are missing, when they are.
    pub tracepoints_unavailable: Option<NoTracepoints>,
    /// Where the tracepoint ids came from.
    pub tracefs_origin: Option<Origin>,
    /// Named syscalls that cannot be counted, and why.
    pub named_missing: Vec<(Syscall, String)>,
}

fn member(
    group: &mut Group,
    event: impl perf_event::events::Event + 'static,
) -> std::io::Result<Counter> {
    let mut b = Builder::new(event);
    // Members are created enabled and the (disabled) leader gates them all. Enabling disabled
    // members with PERF_IOC_FLAG_GROUP instead leaves syscall tracepoints uncounted until the
    // thread is next scheduled in (seen on Linux 6.18): the first calls of a window went missing.
    b.include_kernel().enabled(true);
    group.add(&b)
}

fn refused(what: &str, e: std::io::Error) -> Refused {
    Refused {
        errno: e.raw_os_error().unwrap_or(0),
        detail: format!("perf_event_open({what}): {e}"),
    }
}

impl PerfGroup {
    /// Open the group on the calling thread. Tracepoints are optional (the group still counts the
    /// software events without them); the software events are not.
    pub fn open() -> Result<PerfGroup, Refused> {
        let mut leader = Group::builder();
        leader.include_kernel();
        let mut group = leader
            .build_group()
            .map_err(|e| refused("group leader", e))?;
        let context_switches = member(&mut group, Software::CONTEXT_SWITCHES)
            .map_err(|e| refused("context-switches", e))?;
        let cpu_migrations = member(&mut group, Software::CPU_MIGRATIONS)
            .map_err(|e| refused("cpu-migrations", e))?;
        let page_faults =
            member(&mut group, Software::PAGE_FAULTS).map_err(|e| refused("page-faults", e))?;
        let task_clock =
            member(&mut group, Software::TASK_CLOCK).map_err(|e| refused("task-clock", e))?;

        let mut pg = PerfGroup {
            group,
            total: None,
            named: Syscall::COUNTED.iter().map(|n| (*n, None)).collect(),
            context_switches,
            cpu_migrations,
            page_faults,
            task_clock,
            tracepoints_unavailable: None,
            tracefs_origin: None,
            named_missing: Vec::new(),
        };
        if let Err(u) = pg.open_syscalls() {
            pg.tracepoints_unavailable = Some(u);
        }
        Ok(pg)
    }

    /// Add the syscall tracepoints: `raw_syscalls:sys_enter` for every syscall, then each named
    /// syscall (a syscall this kernel cannot count is shown as n/a, alone); Err when not even
    /// the first can be counted.
    fn open_syscalls(&mut self) -> Result<(), NoTracepoints> {
        let found = tracefs::syscall_ids()
            .as_ref()
            .map_err(NoTracepoints::clone)?;
        self.tracefs_origin = Some(found.origin.clone());
        let mut ids = found.ids.iter().copied();
        let Some(raw_id) = ids.next().flatten() else {
            return Err(NoTracepoints {
                detail: "tracepoint raw_syscalls:sys_enter not found".into(),
                permission: false,
            });
        };
        let total =
            member(&mut self.group, Tracepoint::with_id(raw_id)).map_err(|e| NoTracepoints {
                detail: format!("perf_event_open(raw_syscalls:sys_enter): {e}"),
                permission: matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)),
            })?;
        self.total = Some(total);
        super::keeper::hold(raw_id);
        for (slot, own_id) in self.named.iter_mut().zip(ids) {
            match named_counter(&mut self.group, slot.0, raw_id, own_id) {
                Ok(c) => slot.1 = Some(c),
                Err(why) => self.named_missing.push((slot.0, why)),
            }
        }
        Ok(())
    }
}

/// A group member counting syscall `name`: `raw_syscalls:sys_enter` (tracepoint `raw_id`)
/// filtered on its number, else its own tracepoint `syscalls:sys_enter_<name>` (`own_id`, when
/// tracefs has one). Err says why neither could be opened.
fn named_counter(
    group: &mut Group,
    name: Syscall,
    raw_id: u64,
    own_id: Option<u64>,
) -> Result<Counter, String> {
    let refused = match filtered(group, raw_id, name.number()) {
        Ok(c) => return Ok(c),
        Err(e) => format!("filter refused: {e}"),
    };
    let Some(own_id) = own_id else {
        return Err(format!("{refused}; not in tracefs"));
    };
    member(group, Tracepoint::with_id(own_id))
        .map_err(|e| format!("{refused}; perf_event_open: {e}"))
}

/// A second handle on a thread's group, to read it from another thread while it counts: a
/// `read(2)` of the leader (through a duplicate of its descriptor) returns the counts since the
/// window's reset without stopping, resetting or disabling anything, so the window's own figures
/// are untouched. While the measured thread is on a CPU the kernel reads its events there with
/// an interrupt (microseconds); while it sleeps, from memory.
pub struct Peek {
    leader: OwnedFd,
    total: Option<u64>,
}

impl Peek {
    /// Syscalls counted so far in the current window, or `None` when the group has no syscall
    /// tracepoint or the read failed.
    pub fn syscalls(&self) -> Option<u64> {
        let want = self.total?;
        // nr, time_enabled, time_running, then (value, id) per event: a few dozen at most.
        let mut buf = [0u64; 3 + 2 * 64];
        // SAFETY: `buf` is live and writable for its whole size in bytes.
        let n = unsafe {
            libc::read(
                self.leader.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                std::mem::size_of_val(&buf),
            )
        };
        if n < 24 {
            return None;
        }
        let words = (n as usize / 8).min(buf.len());
        let nr = (buf[0] as usize).min((words - 3) / 2);
        (0..nr)
            .map(|i| (buf[3 + 2 * i], buf[4 + 2 * i]))
            .find(|(_, id)| *id == want)
            .map(|(value, _)| value)
    }
}

impl PerfGroup {
    /// A [`Peek`] on this group (the leader's descriptor duplicated), or `None` when the kernel
    /// refuses the duplicate.
    pub fn peek(&self) -> Option<Peek> {
        use std::os::fd::BorrowedFd;
        // SAFETY: the leader's descriptor is open for as long as `self.group` lives, and it is
        // only borrowed here to be duplicated.
        let fd = unsafe { BorrowedFd::borrow_raw(self.group.as_counter().as_raw_fd()) };
        let leader = fd.try_clone_to_owned().ok()?;
        Some(Peek {
            leader,
            total: self.total.as_ref().map(Counter::id),
        })
    }
}

impl CounterSource for PerfGroup {
    fn start(&mut self) -> anyhow::Result<()> {
        self.group.reset()?;
        // Only the leader: see `member` for why the members are already enabled.
        self.group.as_counter_mut().enable()?;
        Ok(())
    }

    fn stop(&mut self, into: &mut Reading) -> anyhow::Result<()> {
        self.group.as_counter_mut().disable()?;
        let data = self.group.read()?;
        let get = |c: &Counter| data.get(c).map(|e| e.value());
        into.perf_context_switches = get(&self.context_switches);
        into.perf_cpu_migrations = get(&self.cpu_migrations);
        into.perf_page_faults = get(&self.page_faults);
        into.perf_task_clock_ns = get(&self.task_clock);
        if let Some(total) = &self.total {
            into.syscalls_total = get(total);
            let mut by_name = BTreeMap::new();
            for (name, c) in &self.named {
                by_name.insert(*name, c.as_ref().and_then(&get));
            }
            into.syscalls_by_name = Some(by_name);
        }
        Ok(())
    }
}
