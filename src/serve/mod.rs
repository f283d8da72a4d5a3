//! `copylab serve`: the server half facing real clients (nc, socat, curl, a browser, `copylab
//! fetch`). One file opened once; each connection served by one worker thread with its own
//! counters around its own transfer, one line when it ends, a summary at the end.
//!
//! The rooms: this file holds the options and the run from start to summary; [`accept`] the
//! accept loop and the worker pool; [`heads`] HTTP request heads; [`handle`] one connection's
//! answer and outcome; [`records`] what finished connections leave for the summary; [`live`]
//! the `--live` view. Printing is `report::serve`'s; the records' format is `results::serve`'s.

mod accept;
mod handle;
mod heads;
mod live;
mod records;
mod waiting;

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::counters::{Choice, Counters, Sampling, SyscallSource};
use crate::method::{self, Method, MethodConfig, MethodKind, Scratch};
use crate::results::serve::Listening;
use crate::signals;
use crate::source::Source;
use crate::transport::Listener;

pub use crate::transport::Listen;

/// How long running transfers may go on after a stop is asked for, before they are cut.
pub const GRACE: Duration = Duration::from_secs(5);

/// Everything `serve` needs, already validated.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub file: PathBuf,
    pub method: MethodKind,
    pub listen: Listen,
    pub http: bool,
    pub max_conns: usize,
    /// Exit after this many connections.
    pub count: Option<u64>,
    pub buffer: usize,
    pub pipe_size: usize,
    /// Chunks per `io_uring_enter` for the io_uring paths.
    pub batch: u32,
    pub counters: Choice,
    /// End a connection whose client reads nothing for this long (None: wait forever).
    pub send_timeout: Option<Duration>,
    /// Text lines and a table (coloured and laid out as it says), or one JSON object per line.
    pub output: crate::report::Output,
    /// CPUs every worker is pinned to (empty: not pinned).
    pub cpus: Vec<u32>,
    /// Draw the live view (bars of the transfers in progress) when stdout is a terminal.
    pub live: bool,
    /// Pace each connection's socket to this many bytes per second (SO_MAX_PACING_RATE).
    pub link: Option<u64>,
    /// `--export-stacks DIR`: sample every transfer's serving thread and write the pooled
    /// callchains there at exit.
    pub export_stacks: Option<PathBuf>,
}

/// State shared by the acceptor and the connection threads.
struct Shared {
    src: Source,
    method: Box<dyn Method>,
    opts: ServeOptions,
    file_name: String,
    /// Connections accepted and not yet closed, by id: their sockets, to cut them at exit.
    active: Mutex<HashMap<u64, RawFd>>,
    slot_freed: Condvar,
    /// What the summary needs of each finished connection (a few dozen bytes, not the record:
    /// a long-running server must not grow by a record per connection).
    records: Mutex<Vec<records::Brief>>,
    /// Held while a line is printed, so lines from several workers never interleave.
    out: Mutex<()>,
    /// Set when the server shuts down the connections still running at exit.
    cutting: AtomicBool,
    /// Buffers, pipes and rings not in use, for whichever thread takes the next connection.
    /// Kept here, not per thread: after a burst that ran out of descriptors, the pipes the
    /// burst made must serve the next client, whichever idle thread it reaches.
    spare: Mutex<Vec<Scratch>>,
    /// `--live` with stdout a terminal: the bars.
    live: Option<live::Live>,
    /// With `--export-stacks`: every finished transfer's serving-thread callchains, pooled.
    stacks: Mutex<crate::counters::profile::stacks::Stacks>,
}

impl Shared {
    /// A worker's counters: sampled, keeping callchains, with `--export-stacks`.
    fn open_counters(&self) -> Result<Counters> {
        if self.opts.export_stacks.is_none() {
            return Counters::open(self.opts.counters);
        }
        let mut c = Counters::open_sampled(self.opts.counters, Sampling::CpuClock)?;
        c.keep_stacks();
        Ok(c)
    }
}

/// What the counters probe found at start-up, for the warnings and the listening line.
struct Probe {
    syscall_source: SyscallSource,
    warnings: Vec<crate::warnings::Warning>,
}

/// Run the server until `--count` connections were served or Ctrl-C.
pub fn run(opts: ServeOptions) -> Result<()> {
    let (shared, probe) = set_up(opts)?;
    let shared = Arc::new(shared);
    // The first worker opens its counters before the port listens, so the first client waits
    // for nothing; later workers start (and open theirs) as connections arrive.
    let mut pool = accept::Pool::start(&shared)?;
    let (listener, shown_addr) = Listener::bind(&shared.opts.listen)?;
    signals::install()?;
    warn_at_start(&shared.opts, &shown_addr, &probe.warnings)?;
    announce(&shared, &shown_addr, probe.syscall_source)?;
    let drawer = match shared.live {
        Some(_) => {
            let sh = Arc::clone(&shared);
            Some(
                std::thread::Builder::new()
                    .name("copylab-live".into())
                    .spawn(move || {
                        if let Some(l) = &sh.live {
                            l.draw_until_done(&sh);
                        }
                    })
                    .context("cannot start the live view")?,
            )
        }
        None => None,
    };
    accept::accept_until_done(&shared, &listener, &mut pool)?;
    drop(listener);
    pool.finish(&shared);
    if let (Some(l), Some(d)) = (&shared.live, drawer) {
        l.finish();
        let _ = d.join();
    }
    let summary = records::summarize(&lock(&shared.records), shared.opts.method);
    let mut out = std::io::stdout().lock();
    match crate::report::serve::write_summary(&summary, shared.opts.output, &mut out) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot print the summary"),
    }?;
    write_stacks(&shared)
}

/// `--export-stacks DIR`: the serving threads' callchains of every transfer, pooled, as
/// `<method>.serving.folded` and `.svg` (the receivers are the clients, outside copylab).
fn write_stacks(sh: &Shared) -> Result<()> {
    use crate::report::export::{STACKS_FLAG, stacks};
    let Some(dir) = &sh.opts.export_stacks else {
        return Ok(());
    };
    let pooled = lock(&sh.stacks);
    if pooled.is_empty() {
        eprintln!(
            "warning: {STACKS_FLAG} {}: nothing was sampled (no transfer, or the CPU profile was refused: see the warnings), so no stacks were written",
            crate::escape::path(dir)
        );
        return Ok(());
    }
    let method = sh.opts.method.name();
    let graph = stacks::Graph {
        root: vec![method.to_string(), "serving".to_string()],
        stacks: &pooled,
        title: format!("{method}: serving threads (copylab serve)"),
        subtitle: format!(
            "{} samples over every transfer, cpu-clock every {} µs of the thread's CPU; kernel callchains, [user] = user space",
            pooled.samples(),
            crate::counters::profile::Sampler::PERIOD_NS / 1000
        ),
    };
    let out = crate::outfile::OutDir::open(STACKS_FLAG, dir)?;
    stacks::write_all(&out, &[(format!("{method}.serving"), graph)])
}

/// Open the file, build the method, raise the descriptor limit, check --cpus and probe the
/// counters: everything that can fail before anything listens.
fn set_up(opts: ServeOptions) -> Result<(Shared, Probe)> {
    let src = Source::open(&opts.file, crate::source::Hash::Skip)?;
    let file_name = opts
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Err(why) = opts.method.availability(opts.listen.transport()) {
        anyhow::bail!("--method {}: {why}", opts.method);
    }
    let method = method::build(
        opts.method,
        MethodConfig {
            buffer: opts.buffer,
            pipe_size: opts.pipe_size,
            batch: opts.batch,
        },
    )
    .with_context(|| format!("method {}", opts.method))?;

    // Each worker keeps its perf counters (about 15 descriptors) open: take the soft descriptor
    // limit up to the hard one, as servers do.
    if let Ok((soft, hard)) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ =
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard);
    }
    crate::placement::check_list(&opts.cpus, "--worker-cpus")?;
    // Probe the counters once, on this thread, to report what can be measured — before
    // listening, so nothing a client could wait for happens after `listen`.
    if let Some(d) = &opts.export_stacks {
        crate::outfile::check_dir(crate::report::export::STACKS_FLAG, d)?;
    }
    let Counters {
        syscall_source,
        warnings,
        ..
    } = Counters::open_sampled(
        opts.counters,
        if opts.export_stacks.is_some() {
            Sampling::CpuClock
        } else {
            Sampling::Off
        },
    )?;
    let shared = Shared {
        src,
        method,
        file_name,
        active: Mutex::new(HashMap::new()),
        slot_freed: Condvar::new(),
        records: Mutex::new(Vec::new()),
        stacks: Mutex::new(Default::default()),
        out: Mutex::new(()),
        cutting: AtomicBool::new(false),
        spare: Mutex::new(Vec::new()),
        live: if opts.live && opts.output != crate::report::Output::Json {
            live::Live::start(opts.listen.transport())
        } else {
            None
        },
        opts,
    };
    Ok((
        shared,
        Probe {
            syscall_source,
            warnings,
        },
    ))
}

/// Warnings on stderr: a file reachable from the network, counters that cannot be read.
fn warn_at_start(
    opts: &ServeOptions,
    shown_addr: &str,
    warnings: &[crate::warnings::Warning],
) -> Result<()> {
    let mut err = std::io::stderr().lock();
    if let Listen::Tcp {
        addr,
        explicit: true,
    } = &opts.listen
        && !is_loopback(addr.ip())
    {
        writeln!(
            err,
            "warning: listening on {shown_addr}: the file is now reachable from the network, not only from this machine"
        )?;
    }
    for w in warnings {
        writeln!(err, "warning: {w}")?;
    }
    Ok(())
}

fn announce(sh: &Shared, addr: &str, source: SyscallSource) -> Result<()> {
    let o = &sh.opts;
    let listening = Listening {
        event: "listening",
        address: addr.to_string(),
        transport: o.listen.transport(),
        http: o.http,
        method: o.method,
        file: o.file.display().to_string(),
        bytes: sh.src.len,
        syscall_source: source,
        max_conns: o.max_conns,
        link_rate_bytes_per_s: o.link,
    };
    crate::report::serve::write_listening(&listening, o.output, &mut std::io::stdout().lock())?;
    Ok(())
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A connection thread that panicked cannot leave these maps half-updated (single inserts
    // and removes), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("127.0.0.1".parse().unwrap()));
        assert!(is_loopback("::1".parse().unwrap()));
        assert!(!is_loopback("0.0.0.0".parse().unwrap()));
    }
}
