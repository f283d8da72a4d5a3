//! The command line, as clap definitions only, and its conversion into typed options. Nothing
//! past [`Cli::into_command`] touches clap.

use std::path::PathBuf;

use crate::placement::Cpus;
use anyhow::{Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::compare::CompareOptions;
use crate::counters::Choice;
use crate::explain::{ExplainOptions, Lang};
use crate::fetch::{FetchOptions, Sink, Target};
use crate::method::MethodKind;
use crate::report::export::Format;
use crate::serve::{Listen, ServeOptions};
use crate::size::parse_size;
use crate::sweep::SweepOptions;
use crate::transport::Transport;

/// Chunks per `io_uring_enter` unless `--batch` says otherwise.
pub const DEFAULT_BATCH: u32 = 16;

/// Most chunks per `io_uring_enter` accepted (the ring holds two entries per chunk).
const MAX_BATCH: u32 = 1024;

/// Largest read-write buffer and pipe size accepted: keeps peak memory bounded.
const MAX_BUFFER: u64 = 64 << 20;

#[derive(Debug, Parser)]
#[command(
    name = "copylab",
    version,
    about = "Serve a file over a local socket with every copy path (read/write, mmap, sendfile, splice) and measure what each costs the serving thread.",
    after_help = "Exit codes: 0 ok, 1 error, 2 usage error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send one file with each method over a local socket and print one comparison table.
    Compare(CompareArgs),
    /// Compare across file sizes (and read-write buffers): a chart of how each path scales.
    Sweep(SweepArgs),
    /// Serve a file to real clients (nc, socat, curl, copylab fetch), measuring each connection.
    Serve(ServeArgs),
    /// Receive a file from a server (raw TCP, Unix socket or HTTP) and print its SHA-256.
    Fetch(FetchArgs),
    /// Explain each copy path with a diagram, the textbook counts and what Linux really does.
    Explain(ExplainArgs),
    /// Check what this machine lets copylab measure, and how to fix each gap. Exit 0 when the
    /// full compare table is available, else 1.
    Doctor(DoctorArgs),
}

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Also check this file: its file system, and whether sendfile and splice can read it.
    pub file: Option<PathBuf>,

    /// Print the diagnosis as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// A path (read-write, mmap, sendfile, splice, vmsplice, msg-zerocopy, io-uring-splice,
    /// io-uring-send-zc), or `myths`; all paths and the myths if none.
    pub topic: Option<String>,

    /// Run a quick measurement and write its figures into the text.
    #[arg(long)]
    pub measure: bool,

    /// Language: en or zh (default: zh when LC_ALL, LC_MESSAGES or LANG starts with zh).
    #[arg(long, value_enum, value_name = "LANG")]
    pub lang: Option<LangArg>,

    /// File size for --measure.
    #[arg(long, default_value = "32M", value_name = "SIZE")]
    pub size: String,

    /// With --measure: pin the serving thread and the receiver thread: S,R (e.g. 0,1; 0,0 puts both on one
    /// CPU), or any to leave it to the scheduler [default: two different CPUs this process may
    /// use, or the one]
    #[arg(long, value_name = "S,R|any", value_parser = crate::placement::parse_cpus)]
    pub cpus: Option<Cpus>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LangArg {
    En,
    Zh,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// File to serve (a regular file), opened once; its size is taken at start-up.
    pub file: PathBuf,

    /// Copy path: read-write, mmap, sendfile, splice, vmsplice, msg-zerocopy, io-uring-splice or
    /// io-uring-send-zc.
    #[arg(long, short, default_value = "sendfile", value_name = "METHOD")]
    pub method: String,

    /// TCP address to listen on [default: 127.0.0.1:7878] (port 0 picks a free port). Binding
    /// beyond loopback makes the file reachable from the network.
    #[arg(long, short, value_name = "ADDR", conflicts_with = "unix")]
    pub listen: Option<String>,

    /// Listen on a Unix socket at this path instead of TCP (a stale socket there is replaced).
    #[arg(long, value_name = "PATH")]
    pub unix: Option<PathBuf>,

    /// Speak HTTP/1.1 (GET or HEAD of / or /<file name>) instead of sending the file on connect.
    #[arg(long)]
    pub http: bool,

    /// Connections served at once; more wait until one finishes.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub max_conns: usize,

    /// Pin every worker thread to these CPUs (e.g. 1, 0,1, 0-3) [default: not pinned]
    #[arg(long, value_name = "LIST", value_parser = crate::placement::parse_cpu_list)]
    pub cpus: Option<crate::placement::CpuList>,

    /// Exit after this many connections (with the summary).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    #[command(flatten)]
    pub path: PathArgs,

    /// End a connection whose client has read nothing for this long (e.g. 30s, 500ms, 2m;
    /// 0 waits forever).
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub send_timeout: String,

    /// One JSON object per line (listening, each connection, summary) instead of text.
    #[arg(long)]
    pub json: bool,

    /// When to colour the summary table.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
}

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// HOST:PORT of the server, or the path of its Unix socket.
    pub target: String,

    /// Ask with HTTP/1.1 GET and check Content-Length.
    #[arg(long)]
    pub http: bool,

    /// Request path in HTTP mode.
    #[arg(long, default_value = "/", value_name = "PATH")]
    pub path: String,

    /// Write what arrives to FILE (under a temporary name until complete).
    #[arg(long, short, value_name = "FILE", conflicts_with = "discard")]
    pub out: Option<PathBuf>,

    /// Throw what arrives away: copy (read into user space and hash it, the default) or
    /// truncate (recv MSG_TRUNC: dropped in the kernel, never copied, not hashed).
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "copy", require_equals = true, value_name = "HOW")]
    pub discard: Option<DiscardArg>,

    /// Concurrent connections (with --discard).
    #[arg(long, short, default_value_t = 1, value_name = "N")]
    pub connections: usize,

    /// Give up on a connection that cannot connect, or receives nothing, for this many seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,

    /// Fail a connection whose body is (or is declared) larger than SIZE (e.g. 10G).
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<String>,

    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DiscardArg {
    Copy,
    Truncate,
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// File to serve (a regular file). Without it, a random file of --size is generated in
    /// $TMPDIR and removed afterwards.
    pub file: Option<PathBuf>,

    /// Methods to compare, comma-separated: read-write, mmap, sendfile, splice, vmsplice,
    /// msg-zerocopy, io-uring-splice, io-uring-send-zc; classic (the first four) or all.
    #[arg(
        long,
        short,
        default_value = "read-write,mmap,sendfile,splice",
        value_name = "LIST"
    )]
    pub methods: String,

    /// Measured runs per method (medians are reported).
    #[arg(long, short, default_value_t = 5, value_name = "N")]
    pub runs: u32,

    /// Unmeasured warm-up runs per method, before the measured ones.
    #[arg(long, short, default_value_t = 1, value_name = "N")]
    pub warmup: u32,

    /// Socket type: tcp (127.0.0.1 loopback) or unix (Unix stream socket).
    #[arg(long, short, value_enum, default_value_t = TransportArg::Tcp)]
    pub transport: TransportArg,

    /// Size of the generated file when no FILE is given (e.g. 256M, 1G) [default: 256M].
    #[arg(long, short, value_name = "SIZE")]
    pub size: Option<String>,

    /// Pin the serving thread and the receiver thread: S,R (e.g. 0,1; 0,0 puts both on one
    /// CPU), or any to leave it to the scheduler [default: two different CPUs this process may
    /// use, or the one]
    #[arg(long, value_name = "S,R|any", value_parser = crate::placement::parse_cpus)]
    pub cpus: Option<Cpus>,

    /// Do not sample where the CPU went (no copy column, no verdicts, no CPU view): the
    /// counters alone, to see what sampling costs.
    #[arg(long)]
    pub no_profile: bool,

    #[command(flatten)]
    pub path: PathArgs,

    /// Hash the received bytes on every run, not only the first measured run of each method.
    #[arg(long)]
    pub verify_all: bool,

    /// Page cache: warm (as it is; the file is read once first) or cold (the file's pages are
    /// dropped with posix_fadvise before every run, so reads come from the disk).
    #[arg(long, value_enum, default_value_t = CacheArg::Warm)]
    pub cache: CacheArg,

    /// Print the results as JSON (schema 1) instead of the table.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub export: ExportArgs,

    /// When to colour the table: auto (a terminal, unless NO_COLOR or TERM=dumb), always, never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
}

/// Files the results are written to, besides the terminal.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Write the results as JSON to FILE (- for stdout); rewritten after every run.
    #[arg(long, value_name = "FILE")]
    pub export_json: Option<String>,

    /// Write every run as a CSV row to FILE (- for stdout); rewritten after every run.
    #[arg(long, value_name = "FILE")]
    pub export_csv: Option<String>,

    /// Write the medians as a Markdown table to FILE (- for stdout); rewritten after every run.
    #[arg(long, value_name = "FILE")]
    pub export_markdown: Option<String>,
}

impl ExportArgs {
    fn specs(&self) -> Vec<(Format, String)> {
        [
            (Format::Json, &self.export_json),
            (Format::Csv, &self.export_csv),
            (Format::Markdown, &self.export_markdown),
        ]
        .into_iter()
        .filter_map(|(f, p)| p.clone().map(|p| (f, p)))
        .collect()
    }
}

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// File sizes to generate and compare, comma-separated.
    #[arg(long, default_value = "4K,64K,1M,16M,256M", value_name = "LIST")]
    pub sizes: String,

    /// Pin the serving thread and the receiver thread: S,R (e.g. 0,1; 0,0 puts both on one
    /// CPU), or any to leave it to the scheduler [default: two different CPUs this process may
    /// use, or the one]
    #[arg(long, value_name = "S,R|any", value_parser = crate::placement::parse_cpus)]
    pub cpus: Option<Cpus>,

    /// read-write buffer sizes, comma-separated (each is its own series).
    #[arg(long, default_value = "128K", value_name = "LIST")]
    pub buffers: String,

    /// Methods, comma-separated, or classic (the first four), or all.
    #[arg(
        long,
        short,
        default_value = "read-write,mmap,sendfile,splice",
        value_name = "LIST"
    )]
    pub methods: String,

    /// Measured runs per method and size.
    #[arg(long, short, default_value_t = 3, value_name = "N")]
    pub runs: u32,

    /// Warm-up runs per method and size.
    #[arg(long, short, default_value_t = 1, value_name = "N")]
    pub warmup: u32,

    /// Socket type: tcp or unix.
    #[arg(long, short, value_enum, default_value_t = TransportArg::Tcp)]
    pub transport: TransportArg,

    /// Pipe size splice asks for.
    #[arg(long, default_value = "1M", value_name = "SIZE")]
    pub pipe_size: String,

    /// Counter source: auto, perf or rusage.
    #[arg(long, value_enum, default_value_t = CountersArg::Auto)]
    pub counters: CountersArg,

    /// Print the results as JSON instead of the chart and table.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub export: ExportArgs,

    /// When to colour the table.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
}

/// How the copy paths are set up and measured (compare and serve).
#[derive(Debug, clap::Args)]
pub struct PathArgs {
    /// read-write's user buffer (e.g. 64K, 1M).
    #[arg(long, short, default_value = "128K", value_name = "SIZE")]
    pub buffer: String,

    /// Pipe size splice asks for (F_SETPIPE_SZ); the size granted is reported.
    #[arg(long, default_value = "1M", value_name = "SIZE")]
    pub pipe_size: String,

    /// Chunks the io_uring paths submit per io_uring_enter (1 = one syscall per chunk).
    #[arg(long, default_value_t = DEFAULT_BATCH, value_name = "N")]
    pub batch: u32,

    /// Counter source: auto (perf when allowed, else rusage), perf (fail without it), rusage.
    #[arg(long, value_enum, default_value_t = CountersArg::Auto)]
    pub counters: CountersArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CacheArg {
    Warm,
    Cold,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TransportArg {
    Tcp,
    Unix,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CountersArg {
    Auto,
    Perf,
    Rusage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table { color: ColorArg },
    Json,
}

/// A command ready to run, free of clap types.
pub enum Job {
    Compare(CompareOptions, Output, Vec<(Format, String)>),
    Sweep(SweepOptions, Output, Vec<(Format, String)>),
    Serve(ServeOptions),
    Fetch(FetchOptions),
    Explain(ExplainOptions),
    Doctor { file: Option<PathBuf>, json: bool },
}

fn method_arg(text: &str) -> Result<MethodKind> {
    let list = MethodKind::parse_list(text).map_err(|e| anyhow::anyhow!("--method: {e}"))?;
    match list[..] {
        [one] => Ok(one),
        _ => bail!(
            "--method: give one method ({})",
            MethodKind::ALL.map(|k| k.name()).join(", ")
        ),
    }
}

fn batch_arg(n: u32) -> Result<u32> {
    if n == 0 || n > MAX_BATCH {
        bail!("--batch {n}: give 1 to {MAX_BATCH} chunks per io_uring_enter");
    }
    Ok(n)
}

fn counters_arg(c: CountersArg) -> Choice {
    match c {
        CountersArg::Auto => Choice::Auto,
        CountersArg::Perf => Choice::Perf,
        CountersArg::Rusage => Choice::Rusage,
    }
}

/// A duration as people type it: `30s`, `500ms`, `2m`, or plain seconds (`30`).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a duration: use e.g. 30s, 500ms or 2m"))?;
    let ms = match unit {
        "" | "s" => n.checked_mul(1000),
        "ms" => Some(n),
        "m" => n.checked_mul(60_000),
        _ => {
            return Err(format!(
                "'{text}' has an unknown unit '{unit}': use ms, s or m"
            ));
        }
    }
    .ok_or_else(|| format!("'{text}' is too long"))?;
    Ok(std::time::Duration::from_millis(ms))
}

fn size_arg(flag: &str, text: &str) -> Result<u64> {
    parse_size(text).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

fn bounded(flag: &str, text: &str, max: u64) -> Result<usize> {
    let v = size_arg(flag, text)?;
    if v == 0 {
        bail!("{flag}: must be at least 1 byte (e.g. 128K)");
    }
    if v > max {
        bail!(
            "{flag}: {text} is larger than the {} MiB copylab allows",
            max >> 20
        );
    }
    Ok(v as usize)
}

impl Cli {
    /// Validate the arguments and turn them into typed options.
    pub fn into_job(self) -> Result<Job> {
        match self.command {
            Command::Compare(a) => {
                let methods = MethodKind::parse_list(&a.methods)
                    .map_err(|e| anyhow::anyhow!("--methods: {e}"))?;
                if a.runs == 0 {
                    bail!("--runs: must be at least 1");
                }
                if let (Some(f), Some(_)) = (&a.file, &a.size) {
                    bail!(
                        "--size sets the size of a generated file, but FILE '{}' was given: drop one of them",
                        f.display()
                    );
                }
                let size = size_arg("--size", a.size.as_deref().unwrap_or("256M"))?;
                let opts = CompareOptions {
                    file: a.file,
                    size,
                    methods,
                    runs: a.runs,
                    warmup: a.warmup,
                    transport: match a.transport {
                        TransportArg::Tcp => Transport::Tcp,
                        TransportArg::Unix => Transport::Unix,
                    },
                    named: MethodKind::named_in(&a.methods),
                    buffer: bounded("--buffer", &a.path.buffer, MAX_BUFFER)?,
                    pipe_size: bounded("--pipe-size", &a.path.pipe_size, MAX_BUFFER)?,
                    batch: batch_arg(a.path.batch)?,
                    counters: counters_arg(a.path.counters),
                    verify_all: a.verify_all,
                    cold: a.cache == CacheArg::Cold,
                    cpus: a.cpus.unwrap_or(Cpus::Auto),
                    profile: !a.no_profile,
                };
                let output = if a.json {
                    Output::Json
                } else {
                    Output::Table { color: a.color }
                };
                Ok(Job::Compare(opts, output, a.export.specs()))
            }
            Command::Serve(a) => {
                let listen = match a.unix {
                    Some(p) => Listen::Unix(p),
                    None => {
                        let text = a.listen.as_deref().unwrap_or("127.0.0.1:7878");
                        let addr = text.parse().map_err(|_| {
                            anyhow::anyhow!(
                                "--listen {text}: not an IP:PORT address (e.g. 127.0.0.1:7878, [::1]:0)"
                            )
                        })?;
                        Listen::Tcp {
                            addr,
                            explicit: a.listen.is_some(),
                        }
                    }
                };
                if a.max_conns == 0 {
                    bail!("--max-conns: must be at least 1");
                }
                if a.count == Some(0) {
                    bail!("--count: must be at least 1");
                }
                Ok(Job::Serve(ServeOptions {
                    file: a.file,
                    method: method_arg(&a.method)?,
                    listen,
                    http: a.http,
                    max_conns: a.max_conns,
                    count: a.count,
                    buffer: bounded("--buffer", &a.path.buffer, MAX_BUFFER)?,
                    pipe_size: bounded("--pipe-size", &a.path.pipe_size, MAX_BUFFER)?,
                    batch: batch_arg(a.path.batch)?,
                    counters: counters_arg(a.path.counters),
                    send_timeout: match parse_duration(&a.send_timeout) {
                        Ok(d) if d.is_zero() => None,
                        Ok(d) => Some(d),
                        Err(e) => bail!("--send-timeout: {e}"),
                    },
                    json: a.json,
                    color: a.color,
                    cpus: a.cpus.unwrap_or_default().0,
                }))
            }
            Command::Sweep(a) => {
                let list = |flag: &str, text: &str| -> Result<Vec<u64>> {
                    let v = text
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(|t| size_arg(flag, t))
                        .collect::<Result<Vec<u64>>>()?;
                    if v.is_empty() {
                        bail!("{flag}: give at least one size");
                    }
                    Ok(v)
                };
                let sizes = list("--sizes", &a.sizes)?;
                let buffers = list("--buffers", &a.buffers)?
                    .into_iter()
                    .map(|b| bounded("--buffers", &b.to_string(), MAX_BUFFER))
                    .collect::<Result<Vec<usize>>>()?;
                if a.runs == 0 {
                    bail!("--runs: must be at least 1");
                }
                let base = CompareOptions {
                    file: None,
                    size: 0,
                    methods: MethodKind::parse_list(&a.methods)
                        .map_err(|e| anyhow::anyhow!("--methods: {e}"))?,
                    named: MethodKind::named_in(&a.methods),
                    runs: a.runs,
                    warmup: a.warmup,
                    transport: match a.transport {
                        TransportArg::Tcp => Transport::Tcp,
                        TransportArg::Unix => Transport::Unix,
                    },
                    buffer: buffers[0],
                    pipe_size: bounded("--pipe-size", &a.pipe_size, MAX_BUFFER)?,
                    batch: DEFAULT_BATCH,
                    counters: counters_arg(a.counters),
                    verify_all: false,
                    cold: false,
                    cpus: a.cpus.unwrap_or(Cpus::Auto),
                    profile: true,
                };
                let output = if a.json {
                    Output::Json
                } else {
                    Output::Table { color: a.color }
                };
                Ok(Job::Sweep(
                    SweepOptions {
                        sizes,
                        buffers,
                        base,
                    },
                    output,
                    a.export.specs(),
                ))
            }
            Command::Doctor(a) => Ok(Job::Doctor {
                file: a.file,
                json: a.json,
            }),
            Command::Explain(a) => {
                let (method, myths_only) = match a.topic.as_deref() {
                    None => (None, false),
                    Some("myths") => (None, true),
                    Some(t) => (
                        Some(method_arg(t).map_err(|_| {
                            anyhow::anyhow!(
                                "explain {t}: unknown topic: choose {} or myths",
                                MethodKind::ALL.map(|k| k.name()).join(", ")
                            )
                        })?),
                        false,
                    ),
                };
                if myths_only && a.measure {
                    bail!("--measure: explain myths has nothing to measure; give a path instead");
                }
                let size = size_arg("--size", &a.size)?;
                if size == 0 && a.measure {
                    bail!("--size: must be at least 1 byte to measure anything");
                }
                Ok(Job::Explain(ExplainOptions {
                    method,
                    myths_only,
                    lang: match a.lang {
                        Some(LangArg::En) => Lang::En,
                        Some(LangArg::Zh) => Lang::Zh,
                        None => Lang::from_env(),
                    },
                    measure: a.measure,
                    size,
                    cpus: a.cpus.unwrap_or(Cpus::Auto),
                }))
            }
            Command::Fetch(a) => {
                let sink = match (a.out, a.discard) {
                    (Some(p), _) => Sink::Out(p),
                    (None, Some(DiscardArg::Copy)) => Sink::Discard,
                    (None, Some(DiscardArg::Truncate)) => Sink::Truncate,
                    (None, None) => bail!(
                        "say where the bytes go: --out FILE, or --discard (--discard=truncate to drop them in the kernel)"
                    ),
                };
                if a.connections == 0 {
                    bail!("--connections: must be at least 1");
                }
                if !a.path.starts_with('/') {
                    bail!("--path {}: must start with /", a.path);
                }
                if a.timeout == 0 {
                    bail!("--timeout: must be at least 1 second");
                }
                let max_size = match &a.max_size {
                    Some(t) => {
                        Some(parse_size(t).map_err(|e| anyhow::anyhow!("--max-size {t}: {e}"))?)
                    }
                    None => None,
                };
                Ok(Job::Fetch(FetchOptions {
                    target: Target::parse(&a.target)?,
                    http: a.http,
                    path: a.path,
                    sink,
                    connections: a.connections,
                    json: a.json,
                    timeout: std::time::Duration::from_secs(a.timeout),
                    max_size,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn job(args: &[&str]) -> Result<Job> {
        let mut v = vec!["copylab", "compare"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v)
            .map_err(anyhow::Error::from)?
            .into_job()
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (args, flag) in [
            (&["--buffer", "0"][..], "--buffer"),
            (&["--size", "12QB"][..], "--size"),
            (&["--methods", "nosuch"][..], "--methods"),
            (&["--pipe-size", "1G"][..], "--pipe-size"),
            (&["--runs", "0"][..], "--runs"),
            (&["--batch", "0"][..], "--batch"),
            (&["--batch", "5000"][..], "--batch"),
        ] {
            let e = job(args).err().expect("must fail").to_string();
            assert!(e.starts_with(flag), "{args:?}: {e}");
        }
    }

    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn defaults_are_the_four_classic_paths() {
        let Ok(Job::Compare(o, _, _)) = job(&[]) else {
            panic!("defaults must parse")
        };
        assert_eq!(o.methods, MethodKind::CLASSIC.to_vec());
        assert_eq!(o.buffer, 128 << 10);
        assert_eq!(o.size, 256 << 20);
    }
}
