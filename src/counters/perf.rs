//! A perf counter group on the calling thread: `raw_syscalls:sys_enter` (every syscall), one
//! `syscalls:sys_enter_<name>` per data syscall, and the software events context-switches,
//! cpu-migrations, page-faults and task-clock. All with `include_kernel` (syscall entry and
//! scheduler events happen in the kernel) and without inherit, so only this thread is counted.

use std::collections::BTreeMap;

use perf_event::events::{Software, Tracepoint};
use perf_event::{Builder, Counter, Group};

use super::tracefs::{self, Origin, Unavailable};
use super::{CounterSource, Reading};

/// The syscalls counted one by one, by the kernel's name (tracepoint `syscalls:sys_enter_<name>`).
pub const NAMED_SYSCALLS: [&str; 12] = [
    "read",
    "pread64",
    "write",
    "sendto",
    "sendmsg",
    "recvmsg",
    "mmap",
    "munmap",
    "sendfile64",
    "splice",
    "vmsplice",
    "io_uring_enter",
];

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
    named: Vec<(&'static str, Option<Counter>)>,
    context_switches: Counter,
    cpu_migrations: Counter,
    page_faults: Counter,
    task_clock: Counter,
    /// Why syscall tracepoints are missing, when they are.
    pub tracepoints_unavailable: Option<Unavailable>,
    /// Where the tracepoint ids came from.
    pub tracefs_origin: Option<Origin>,
    /// Named syscalls that cannot be counted, and why.
    pub named_missing: Vec<(&'static str, String)>,
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

        let mut wanted = vec![("raw_syscalls", "sys_enter".to_string())];
        wanted.extend(
            NAMED_SYSCALLS
                .iter()
                .map(|n| ("syscalls", format!("sys_enter_{n}"))),
        );
        let wanted_ref: Vec<(&str, &str)> = wanted.iter().map(|(c, n)| (*c, n.as_str())).collect();
        let mut pg = PerfGroup {
            group,
            total: None,
            named: NAMED_SYSCALLS.iter().map(|n| (*n, None)).collect(),
            context_switches,
            cpu_migrations,
            page_faults,
            task_clock,
            tracepoints_unavailable: None,
            tracefs_origin: None,
            named_missing: Vec::new(),
        };
        match tracefs::lookup(&wanted_ref) {
            Err(u) => pg.tracepoints_unavailable = Some(u),
            Ok(found) => {
                pg.tracefs_origin = Some(found.origin);
                let mut ids = found.ids.into_iter();
                match ids.next().flatten() {
                    None => {
                        pg.tracepoints_unavailable = Some(Unavailable {
                            detail: "tracepoint raw_syscalls:sys_enter not found".into(),
                            permission: false,
                        });
                    }
                    Some(id) => match member(&mut pg.group, Tracepoint::with_id(id)) {
                        Err(e) => {
                            pg.tracepoints_unavailable = Some(Unavailable {
                                detail: format!("perf_event_open(raw_syscalls:sys_enter): {e}"),
                                permission: matches!(
                                    e.raw_os_error(),
                                    Some(libc::EACCES | libc::EPERM)
                                ),
                            });
                        }
                        Ok(c) => {
                            pg.total = Some(c);
                            // A syscall this kernel cannot count is shown as n/a, alone.
                            for (slot, id) in pg.named.iter_mut().zip(ids) {
                                let Some(id) = id else {
                                    pg.named_missing.push((slot.0, "not in tracefs".into()));
                                    continue;
                                };
                                match member(&mut pg.group, Tracepoint::with_id(id)) {
                                    Ok(c) => slot.1 = Some(c),
                                    Err(e) => pg
                                        .named_missing
                                        .push((slot.0, format!("perf_event_open: {e}"))),
                                }
                            }
                        }
                    },
                }
            }
        }
        Ok(pg)
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
