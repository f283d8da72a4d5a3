//! The command line, as clap definitions only, and its conversion into typed options. Nothing
//! past [`Cli::into_command`] touches clap.

use std::path::PathBuf;

use crate::placement::Cpus;
use anyhow::{Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::compare::CompareOptions;
use crate::counters::Choice;
use crate::explain::ExplainOptions;
use crate::fetch::{FetchOptions, Sink, Target};
use crate::method::MethodKind;
use crate::receive::ReceiverKind;
use crate::report::export::{Format, Specs};
use crate::report::text::Lang;
use crate::report::{Color, Output};
use crate::serve::{Listen, ServeOptions};
use crate::size::parse_size;
use crate::sweep::SweepOptions;
use crate::transport::Transport;

use crate::method::DEFAULT_BATCH;

/// Most chunks per `io_uring_enter` accepted (the ring holds two entries per chunk).
const MAX_BATCH: u32 = 1024;

/// Every copy path's name, from the registry, for the help texts.
fn path_names() -> String {
    MethodKind::ALL.map(|k| k.name()).join(", ")
}

/// Where serve listens without --listen or --unix.
const DEFAULT_LISTEN: std::net::SocketAddr = std::net::SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    7878,
));

/// Size of compare's generated file when neither FILE nor `--size` is given.
const DEFAULT_SIZE: u64 = 256 << 20;

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
    /// Run a program (or attach to one) and show which copy path it uses: the calls and bytes
    /// of each copy-relevant syscall per thread, and where its CPU went.
    Trace(TraceArgs),
    /// Predict, then measure: questions about the copy paths, each answer checked against the
    /// figure this run measures on this machine. Answers one per line (terminal or piped stdin).
    Quiz(QuizArgs),
    /// Check what this machine lets copylab measure, and how to fix each gap. Exit 0 when the
    /// full compare table is available, else 1.
    Doctor(DoctorArgs),
    /// Two "machines" on this one (as root): `lab up` makes two network namespaces joined by a
    /// veth pair, copylab-lab-srv (198.18.0.1) and copylab-lab-cli (198.18.0.2), for `serve` in
    /// one and `fetch` or curl in the other (`ip netns exec`); `lab down` removes them.
    Lab(LabArgs),
    /// Print a completion script for bash, zsh or fish, generated from these flags.
    Completions(CompletionsArgs),
    /// Print copylab's man page (roff), generated from these flags.
    Man,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  copylab quiz\n  copylab quiz --seed 42 --lang zh\n  copylab quiz --seed 42 --list          (the teacher's copy: questions and this run's answers)\n  printf '2048\\nb\\n…' | copylab quiz --seed 42 --json"
)]
pub struct QuizArgs {
    /// The same seed gives the same questions with the same parameters (give a class one);
    /// default: a fresh one, printed in the header.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Print the questions with this run's measured answers (for the teacher) instead of asking.
    #[arg(long)]
    pub list: bool,

    /// Write the questions, the answers given and the score as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// Language: en or zh (default: zh when LC_ALL, LC_MESSAGES or LANG starts with zh).
    #[arg(long, value_enum, value_name = "LANG")]
    pub lang: Option<LangArg>,

    /// The file size the questions are about (a generated file of this size is measured).
    #[arg(long, default_value = "64M", value_name = "SIZE", value_parser = parse_file_size)]
    pub size: u64,

    /// Pin the serving thread and the receiver thread: S,R, or any [default: two different CPUs
    /// this process may use, or the one]
    #[arg(long, value_name = "S,R|any", value_parser = crate::placement::parse_cpus)]
    pub cpus: Option<Cpus>,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell the script is for.
    #[arg(value_enum)]
    pub shell: ShellArg,
}

#[derive(Debug, clap::Args)]
pub struct LabArgs {
    /// up: make the two namespaces and the veth pair; down: remove them.
    #[arg(value_enum)]
    pub action: LabAction,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LabAction {
    Up,
    Down,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  copylab trace -- java -cp . Serve data.bin\n  copylab trace --pid $(pgrep -o nginx) --for 10s\n  copylab trace --json -o trace.json -- cp big.iso /tmp/copy.iso"
)]
pub struct TraceArgs {
    /// Attach to this running process (all its threads, and what they start) instead of
    /// running a command.
    #[arg(long, value_name = "PID", conflicts_with = "command")]
    pub pid: Option<i32>,

    /// Stop following after this long (e.g. 10s, 500ms; at least 1 ms). A command is then
    /// stopped: its process group is sent SIGTERM, and SIGKILL 5 s later if anything of it still
    /// runs. Without it, following ends when the program exits or on Ctrl-C (or SIGTERM, SIGHUP:
    /// passed on to the command's process group the same way; a second one kills it at once).
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_trace_duration)]
    pub duration: Option<std::time::Duration>,

    /// Skip the cpu-clock profile (where the CPU went, copy time per GiB).
    #[arg(long)]
    pub no_profile: bool,

    /// Print the results as JSON instead of the tables (on stderr too, unless --output).
    #[arg(long)]
    pub json: bool,

    /// Write the results to FILE instead of stderr (- for stdout). Without it they go to stderr,
    /// as perf stat's and strace's do, so the traced program's stdout stays its own; its stderr
    /// is on stderr too: give --output with --json to read the results apart from it. FILE is
    /// created (or opened, for a device or FIFO) before the program starts.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Every column of the tables, however wide, instead of the columns that fit the terminal.
    #[arg(long)]
    pub wide: bool,

    /// When to colour the table: auto (a terminal, unless NO_COLOR or TERM=dumb), always, never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,

    #[command(flatten)]
    pub style: StyleArgs,

    #[command(flatten)]
    pub html: HtmlArgs,

    #[command(flatten)]
    pub stacks: StacksArgs,

    /// The program to run and its arguments, after `--`.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
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
    #[arg(value_parser = topic_parser(), hide_possible_values = true, help = format!(
        "A path ({}), `receive` (the receiving end: recv, MSG_TRUNC, splice, TCP_ZEROCOPY_RECEIVE), `kafka` (the interview answer, step by step) or `myths`; all paths and the myths if none",
        path_names()
    ))]
    pub topic: Option<String>,

    /// Run a quick measurement and write its figures into the text.
    #[arg(long)]
    pub measure: bool,

    /// Language: en or zh (default: zh when LC_ALL, LC_MESSAGES or LANG starts with zh).
    #[arg(long, value_enum, value_name = "LANG")]
    pub lang: Option<LangArg>,

    /// File size for --measure.
    #[arg(long, default_value = "32M", value_name = "SIZE", value_parser = parse_file_size)]
    pub size: u64,

    /// With --measure: pin the serving thread and the receiver thread: S,R (e.g. 0,1; 0,0 puts both on one
    /// CPU), or any to leave it to the scheduler [default: two different CPUs this process may
    /// use, or the one]
    #[arg(long, value_name = "S,R|any", value_parser = crate::placement::parse_cpus)]
    pub cpus: Option<Cpus>,

    #[command(flatten)]
    pub style: StyleArgs,
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

    #[arg(long, short, default_value = "sendfile", value_name = "METHOD", value_parser = method_parser(), hide_possible_values = true,
          help = format!("Copy path: {}", path_names()))]
    pub method: MethodKind,

    /// TCP address to listen on [default: 127.0.0.1:7878] (port 0 picks a free port). Binding
    /// beyond loopback makes the file reachable from the network.
    #[arg(long, short, value_name = "ADDR", conflicts_with = "unix", value_parser = parse_listen)]
    pub listen: Option<std::net::SocketAddr>,

    /// Listen on a Unix socket at this path instead of TCP (a stale socket there is replaced).
    #[arg(long, value_name = "PATH")]
    pub unix: Option<PathBuf>,

    /// Speak HTTP/1.1 (GET or HEAD of / or /<file name>) instead of sending the file on connect.
    #[arg(long)]
    pub http: bool,

    /// Connections served at once; more wait until one finishes.
    #[arg(long, default_value_t = 64, value_name = "N", value_parser = at_least_one::<usize>)]
    pub max_conns: usize,

    /// Pin every worker thread to these CPUs (e.g. 1, 0,1, 0-3) [default: not pinned]. Not
    /// compare's --cpus S,R: serve has no receiver of its own, its clients are elsewhere.
    #[arg(long, alias = "cpus", value_name = "LIST", value_parser = crate::placement::parse_cpu_list)]
    pub worker_cpus: Option<crate::placement::CpuList>,

    /// Exit after this many connections (with the summary).
    #[arg(long, value_name = "N", value_parser = at_least_one::<u64>)]
    pub count: Option<u64>,

    #[command(flatten)]
    pub path: PathArgs,

    /// End a connection whose client has read nothing for this long (e.g. 30s, 500ms, 2m;
    /// 0 waits forever).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration)]
    pub send_timeout: std::time::Duration,

    /// One JSON object per line (listening, each connection, summary) instead of text.
    #[arg(long)]
    pub json: bool,

    /// The projector view: a bar per connection in progress (bytes, rate, syscalls and sys CPU
    /// so far) above the method's running totals; finished connections as their usual lines.
    /// Drawn only when stdout is a terminal (otherwise the usual lines alone).
    #[arg(long, conflicts_with = "json")]
    pub live: bool,

    /// Pace every connection's socket to this link rate (SO_MAX_PACING_RATE): 1gbit, 10gbit,
    /// 500mbit, 100MiB/s [default: unpaced]. TCP only.
    #[arg(long, value_name = "RATE", value_parser = parse_rate, conflicts_with = "unix")]
    pub link: Option<u64>,

    /// When to colour the summary table.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,

    #[command(flatten)]
    pub stacks: StacksArgs,

    /// Every column of the summary table, however wide, instead of the columns that fit the
    /// terminal.
    #[arg(long)]
    pub wide: bool,
}

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// HOST:PORT of the server, or the path of its Unix socket.
    pub target: String,

    /// Ask with HTTP/1.1 GET and check Content-Length.
    #[arg(long)]
    pub http: bool,

    /// Request path in HTTP mode.
    #[arg(long, default_value = "/", value_name = "PATH", value_parser = parse_http_path)]
    pub path: String,

    /// Ask for file bytes FIRST to LAST only (inclusive, as in HTTP's Range: bytes=FIRST-LAST),
    /// e.g. 4096-8191. The server must answer 206 with exactly that range — or, when LAST lies
    /// past the end of the file, with the range cut at the file's last byte (RFC 9110), which
    /// is accepted and said in a note.
    #[arg(long, value_name = "FIRST-LAST", requires = "http", value_parser = parse_byte_range)]
    pub range: Option<(u64, u64)>,

    /// Write what arrives to FILE (under a temporary name until complete), or to stdout with -
    /// (the results then go to stderr).
    #[arg(long, short, value_name = "FILE", conflicts_with = "discard")]
    pub out: Option<PathBuf>,

    /// Throw what arrives away: copy (read into user space and hash it, the default) or
    /// truncate (recv MSG_TRUNC: dropped in the kernel, never copied, not hashed).
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "copy", require_equals = true, value_name = "HOW")]
    pub discard: Option<DiscardArg>,

    /// Concurrent connections (with --discard), each on a thread of its own: 1 to 1024.
    #[arg(long, short, default_value_t = 1, value_name = "N", value_parser = parse_connections)]
    pub connections: usize,

    /// Give up on a connection that cannot connect, or receives nothing, for this long (e.g.
    /// 5s, 500ms, 2m; a bare number is seconds).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,

    /// Fail a connection whose body is (or is declared) larger than SIZE (e.g. 10G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_size: Option<u64>,

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

    #[arg(
        long,
        short,
        default_value = "read-write,mmap,sendfile,splice",
        value_name = "LIST",
        value_parser = methods_parser(),
        hide_possible_values = true,
        help = format!(
            "Methods to compare, comma-separated: {}; classic (the first four) or all",
            path_names()
        )
    )]
    pub methods: MethodList,

    #[arg(
        long,
        value_name = "LIST",
        value_parser = parse_receive,
        help = format!(
            "Receiving paths, comma-separated: {}; or all. Runs every method with every receiver (interleaved) and prints one matrix [default: recv, and the full table]",
            receiver_names()
        )
    )]
    pub receive: Option<ReceiveList>,

    /// Measured runs per method (medians are reported).
    #[arg(long, short, default_value_t = 5, value_name = "N", value_parser = at_least_one::<u32>)]
    pub runs: u32,

    /// Unmeasured warm-up runs per method, before the measured ones.
    #[arg(long, short, default_value_t = 1, value_name = "N")]
    pub warmup: u32,

    /// Socket type: tcp (127.0.0.1 loopback), unix (Unix stream socket), or veth (TCP between
    /// two network namespaces copylab creates, joined by a veth pair; needs root).
    #[arg(long, short, value_enum, default_value_t = TransportArg::Tcp)]
    pub transport: TransportArg,

    /// Pace the serving socket to this link rate with SO_MAX_PACING_RATE, like a real link of
    /// that speed: 1gbit, 10gbit, 500mbit (bits per second, as tc writes them) or bytes per
    /// second (100MiB/s) [default: unpaced]. TCP transports only.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub link: Option<u64>,

    /// Size of the generated file when no FILE is given (e.g. 256M, 1G) [default: 256M].
    #[arg(long, short, value_name = "SIZE", value_parser = parse_file_size)]
    pub size: Option<u64>,

    /// Pin the serving thread and the receiver thread: S,R (e.g. 0,1; 0,0 puts both on one
    /// CPU), or any to leave it to the scheduler [default: two different CPUs this process may
    /// use, or the one]
    #[arg(long, value_name = "S,R|any", value_parser = crate::placement::parse_cpus)]
    pub cpus: Option<Cpus>,

    /// Do not sample where the CPU went (no copy column, no verdicts, no CPU view): the
    /// counters alone, to see what sampling costs.
    #[arg(long)]
    pub no_profile: bool,

    /// Sample each thread's CPU every PERIOD of it (e.g. 250us, 1ms) [default: auto: chosen
    /// after the first round so the thread that runs least gets 400 samples over the runs,
    /// between 500us and 4ms]
    #[arg(long, value_name = "PERIOD|auto", value_parser = parse_sample_period)]
    pub sample_period: Option<SamplePeriod>,

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

    #[command(flatten)]
    pub stacks: StacksArgs,

    /// When to colour the table: auto (a terminal, unless NO_COLOR or TERM=dumb), always, never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,

    /// Every column (wall time, all syscalls, switches, user/sys CPU, sys per GiB, faults, the
    /// textbook's syscalls), however wide, instead of the lesson's columns fitted to the
    /// terminal.
    #[arg(long)]
    pub wide: bool,

    #[command(flatten)]
    pub style: StyleArgs,
}

/// Which characters draw tables and bars.
#[derive(Debug, clap::Args)]
pub struct StyleArgs {
    /// Characters for tables and bars: unicode (box drawing, blocks), ascii (plain - | + #), or
    /// auto (ascii when the locale is not UTF-8: LC_ALL, LC_CTYPE or LANG).
    #[arg(long = "style", value_enum, default_value_t = StyleArg::Auto)]
    pub style: StyleArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StyleArg {
    Auto,
    Unicode,
    Ascii,
}

impl From<StyleArg> for crate::report::Style {
    fn from(s: StyleArg) -> crate::report::Style {
        match s {
            StyleArg::Auto => crate::report::Style::Auto,
            StyleArg::Unicode => crate::report::Style::Unicode,
            StyleArg::Ascii => crate::report::Style::Ascii,
        }
    }
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

    #[command(flatten)]
    pub html: HtmlArgs,
}

/// The one-page HTML report and its language.
#[derive(Debug, clap::Args)]
pub struct HtmlArgs {
    /// Write one self-contained HTML page to FILE (- for stdout): header, table, where the CPU
    /// went on each thread, flame graphs; no network, no scripts. Written once, at the end.
    #[arg(long, value_name = "FILE")]
    pub export_html: Option<String>,

    /// Language of the --export-html page: en or zh [default: zh when LC_ALL, LC_MESSAGES or
    /// LANG starts with zh, else en]
    #[arg(long, value_enum, value_name = "LANG")]
    pub lang: Option<LangArg>,
}

impl HtmlArgs {
    fn spec(&self) -> Option<(Format, String)> {
        let lang = match self.lang {
            Some(LangArg::En) => Lang::En,
            Some(LangArg::Zh) => Lang::Zh,
            None => Lang::from_env(),
        };
        self.export_html.clone().map(|p| (Format::Html(lang), p))
    }
}

/// `--export-stacks DIR`, where a command offers it.
#[derive(Debug, clap::Args)]
pub struct StacksArgs {
    /// Write every sampled callchain into DIR (made if missing; never through a symbolic
    /// link): per method and thread (trace: per thread) a folded-stacks file (NAME.folded,
    /// `frame;frame count` as FlameGraph's stackcollapse writes it) and its flame graph
    /// (NAME.svg). A directory, so `-` (stdout) does not apply. Written once, at the end.
    #[arg(long, value_name = "DIR")]
    pub export_stacks: Option<PathBuf>,
}

impl ExportArgs {
    /// The exports, refusing two claims on stdout: two exports to `-`, or one beside `--json`
    /// (`output`; each would print over the other). The table gives stdout up to an export to
    /// `-`.
    fn specs_with(&self, output: Output, sub: &str) -> Result<Specs> {
        let specs = self.specs();
        let to_stdout: Vec<&'static str> = specs
            .files
            .iter()
            .filter(|(_, p)| p == "-")
            .map(|(f, _)| match f {
                Format::Json => "--export-json -",
                Format::Csv => "--export-csv -",
                Format::Markdown => "--export-markdown -",
                Format::Html(_) => "--export-html -",
            })
            .chain((output == Output::Json).then_some("--json"))
            .collect();
        if to_stdout.len() > 1 {
            return Err(usage(
                sub,
                format!(
                    "{} would each write to stdout, one over the other: send all but one to a file (e.g. --export-csv runs.csv)",
                    to_stdout.join(" and ")
                ),
            ));
        }
        Ok(specs)
    }

    fn specs(&self) -> Specs {
        let files = [
            (Format::Json, &self.export_json),
            (Format::Csv, &self.export_csv),
            (Format::Markdown, &self.export_markdown),
        ]
        .into_iter()
        .filter_map(|(f, p)| p.clone().map(|p| (f, p)))
        .chain(self.html.spec())
        .collect();
        Specs {
            files,
            stacks_dir: None,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// File sizes to generate and compare, comma-separated.
    #[arg(long, default_value = "4K,64K,1M,16M,256M", value_name = "LIST", value_parser = parse_size_list)]
    pub sizes: SizeList,

    /// Pin the serving thread and the receiver thread: S,R (e.g. 0,1; 0,0 puts both on one
    /// CPU), or any to leave it to the scheduler [default: two different CPUs this process may
    /// use, or the one]
    #[arg(long, value_name = "S,R|any", value_parser = crate::placement::parse_cpus)]
    pub cpus: Option<Cpus>,

    /// read-write buffer sizes, comma-separated (each is its own series).
    #[arg(long, default_value = "128K", value_name = "LIST", value_parser = parse_buffer_list)]
    pub buffers: BufferList,

    /// Methods, comma-separated, or classic (the first four), or all.
    #[arg(
        long,
        short,
        default_value = "read-write,mmap,sendfile,splice",
        value_name = "LIST",
        value_parser = methods_parser(),
        hide_possible_values = true
    )]
    pub methods: MethodList,

    /// Receiving paths, comma-separated: recv, trunc, splice, zerocopy; or all. Each method
    /// runs with each receiver at every size [default: recv].
    #[arg(long, value_name = "LIST", value_parser = parse_receive)]
    pub receive: Option<ReceiveList>,

    /// Measured runs per method and size.
    #[arg(long, short, default_value_t = 3, value_name = "N", value_parser = at_least_one::<u32>)]
    pub runs: u32,

    /// Warm-up runs per method and size.
    #[arg(long, short, default_value_t = 1, value_name = "N")]
    pub warmup: u32,

    /// Socket type: tcp, unix or veth (two network namespaces; needs root).
    #[arg(long, short, value_enum, default_value_t = TransportArg::Tcp)]
    pub transport: TransportArg,

    /// Pace the serving socket to this link rate (SO_MAX_PACING_RATE): 1gbit, 10gbit,
    /// 500mbit, 100MiB/s [default: unpaced]. TCP transports only.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub link: Option<u64>,

    /// Pipe size splice asks for.
    #[arg(long, default_value = "1M", value_name = "SIZE", value_parser = parse_buffer)]
    pub pipe_size: usize,

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

    #[command(flatten)]
    pub style: StyleArgs,
}

/// How the copy paths are set up and measured (compare and serve).
#[derive(Debug, clap::Args)]
pub struct PathArgs {
    /// read-write's user buffer (e.g. 64K, 1M).
    #[arg(long, short, default_value = "128K", value_name = "SIZE", value_parser = parse_buffer)]
    pub buffer: usize,

    /// Pipe size splice asks for (F_SETPIPE_SZ); the size granted is reported.
    #[arg(long, default_value = "1M", value_name = "SIZE", value_parser = parse_buffer)]
    pub pipe_size: usize,

    /// Chunks the io_uring paths submit per io_uring_enter (1 = one syscall per chunk).
    #[arg(long, default_value_t = DEFAULT_BATCH, value_name = "N", value_parser = parse_batch)]
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
    Veth,
}

impl From<TransportArg> for Transport {
    fn from(t: TransportArg) -> Transport {
        match t {
            TransportArg::Tcp => Transport::Tcp,
            TransportArg::Unix => Transport::Unix,
            TransportArg::Veth => Transport::Veth,
        }
    }
}

/// Above this, the time a `--link` rate takes to send everything is worth a warning.
const LONG_AT_LINK: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// "about 12 days", "about 3 hours", "about 7 minutes".
fn about(secs: f64) -> String {
    let (v, unit) = if secs >= 86_400.0 {
        (secs / 86_400.0, "days")
    } else if secs >= 3_600.0 {
        (secs / 3_600.0, "hours")
    } else {
        (secs / 60.0, "minutes")
    };
    format!("about {v:.0} {unit}")
}

/// The warning, if sending `bytes` (in `what`) at `rate` bytes per second takes longer than
/// [`LONG_AT_LINK`]: `--link 8bit` with a 1 MiB file would take days, and nothing said so.
fn link_duration_warning(link: Option<u64>, bytes: u64, what: &str) -> Option<String> {
    let rate = link?;
    let secs = bytes as f64 / rate.max(1) as f64;
    (secs > LONG_AT_LINK.as_secs_f64()).then(|| {
        format!(
            "warning: --link {}: sending {} ({what}) at that rate takes {}; give a faster --link or less to send",
            crate::size::fmt_rate(rate),
            crate::size::fmt_bytes(bytes),
            about(secs)
        )
    })
}

/// Print [`link_duration_warning`]'s warning on stderr, before anything runs.
fn warn_link_duration(link: Option<u64>, bytes: u64, what: &str) {
    use std::io::Write;
    if let Some(w) = link_duration_warning(link, bytes, what) {
        let _ = writeln!(std::io::stderr(), "copylab: {w}");
    }
}

/// `--link` only paces TCP: SO_MAX_PACING_RATE is accepted on a Unix socket but changes nothing.
fn link_arg(link: Option<u64>, transport: Transport) -> Result<Option<u64>> {
    if link.is_some() && transport == Transport::Unix {
        bail!(
            "--link: pacing (SO_MAX_PACING_RATE) works on TCP only, a Unix socket ignores it: use --transport tcp or veth"
        );
    }
    Ok(link)
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

impl From<ColorArg> for Color {
    fn from(c: ColorArg) -> Color {
        match c {
            ColorArg::Auto => Color::Auto,
            ColorArg::Always => Color::Always,
            ColorArg::Never => Color::Never,
        }
    }
}

/// A command ready to run, free of clap types.
pub enum Job {
    Compare(CompareOptions, Output, Specs),
    Sweep(SweepOptions, Output, Specs),
    Serve(ServeOptions),
    Fetch(FetchOptions),
    Explain(ExplainOptions),
    /// The options, the format, the file the results go to (stderr without one, `-` for
    /// stdout), and the HTML page and stacks asked for.
    Trace(crate::trace::TraceOptions, Output, Option<PathBuf>, Specs),
    Quiz(crate::quiz::QuizOptions),
    Doctor {
        file: Option<PathBuf>,
        output: Output,
    },
    /// `lab up`, `lab down`.
    LabUp,
    LabDown,
    /// Text generated from the command line's definition (completions, the man page), for stdout.
    Print(Vec<u8>),
}

/// A count that must be at least 1 (`--runs`, `--count`, `--max-conns`, `--connections`).
fn at_least_one<T>(text: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialEq + From<u8>,
{
    match text.trim().parse::<T>() {
        Ok(v) if v == T::from(0) => Err("must be at least 1".into()),
        Ok(v) => Ok(v),
        Err(_) => Err(format!("'{text}' is not a whole number")),
    }
}

/// Most `fetch --connections`: each connection is a thread (its stack, guard page and signal
/// stack are mappings), and tens of thousands of them exhausted `vm.max_map_count` and aborted
/// the process; 1024 stays far inside every limit.
const MAX_CONNECTIONS: usize = 1024;

/// `fetch --connections` as clap parses it: 1 to [`MAX_CONNECTIONS`].
fn parse_connections(text: &str) -> Result<usize, String> {
    let n = at_least_one::<usize>(text)?;
    if n > MAX_CONNECTIONS {
        return Err(format!(
            "{n} is more than the {MAX_CONNECTIONS} connections fetch opens at once (one thread each)"
        ));
    }
    Ok(n)
}

/// trace's `--for`: a duration as [`parse_duration`] takes it, but not 0, which would stop the
/// command before it did anything.
fn parse_trace_duration(text: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err(format!(
            "'{text}' would stop the command at once: give at least 1ms, or leave --for out to follow it until it exits"
        ));
    }
    Ok(d)
}

fn parse_batch(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_BATCH).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{text}': give 1 to {MAX_BATCH} chunks per io_uring_enter"
        )),
    }
}

fn parse_http_path(text: &str) -> Result<String, String> {
    if text.starts_with('/') {
        Ok(text.to_string())
    } else {
        Err(format!("'{text}' must start with /"))
    }
}

/// serve's `--listen`: `PORT` (on 127.0.0.1), `IP:PORT`, `[IPv6]:PORT` or `localhost:PORT`
/// (127.0.0.1; no name is looked up).
fn parse_listen(text: &str) -> Result<std::net::SocketAddr, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "'{text}' is not a listen address: give PORT, IP:PORT, [IPv6]:PORT or localhost:PORT (e.g. 7878, 0.0.0.0:7878, [::1]:0)"
        )
    };
    if let Ok(port) = t.parse::<u16>() {
        return Ok((std::net::Ipv4Addr::LOCALHOST, port).into());
    }
    if let Some(port) = t.strip_prefix("localhost:") {
        let port = port.parse::<u16>().map_err(|_| bad())?;
        return Ok((std::net::Ipv4Addr::LOCALHOST, port).into());
    }
    t.parse().map_err(|_| bad())
}

fn counters_arg(c: CountersArg) -> Choice {
    match c {
        CountersArg::Auto => Choice::Auto,
        CountersArg::Perf => Choice::Perf,
        CountersArg::Rusage => Choice::Rusage,
    }
}

/// A usage error found after parsing (flags that exclude each other by value): printed as
/// clap prints its own, exit 2.
fn usage(sub: &str, msg: String) -> anyhow::Error {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    cmd.build();
    let mut sub = cmd.find_subcommand(sub).cloned().unwrap_or(cmd);
    sub.error(clap::error::ErrorKind::ArgumentConflict, msg)
        .into()
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

/// `--sample-period` as typed: a period in ns, or `None` for auto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplePeriod(pub Option<u64>);

/// `--sample-period`: `auto` or a period, 10 µs to 100 ms.
fn parse_sample_period(text: &str) -> Result<SamplePeriod, String> {
    let t = text.trim();
    if t == "auto" {
        return Ok(SamplePeriod(None));
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a period: use e.g. 250us, 1ms or auto"))?;
    let ns = match unit {
        "us" | "µs" => n.checked_mul(1_000),
        "ms" => n.checked_mul(1_000_000),
        _ => return Err(format!("'{text}' needs a unit, us or ms (e.g. 250us, 1ms)")),
    }
    .filter(|ns| (10_000..=100_000_000).contains(ns))
    .ok_or_else(|| format!("'{text}' is outside 10us..100ms"))?;
    Ok(SamplePeriod(Some(ns)))
}

/// Fastest `--link` accepted: faster than any NIC, and well inside SO_MAX_PACING_RATE's range
/// (whose all-ones value means "unpaced").
const MAX_LINK_BYTES_PER_S: f64 = 10e12 / 8.0;

/// `--link` as clap parses it: a link rate, returned in bytes per second (SO_MAX_PACING_RATE's
/// unit). Bits per second as tc(8) writes them, decimal, case-insensitive, `/s` optional:
/// `bit`, `kbit`, `mbit`, `gbit`, `tbit` (`1gbit` = 10^9 bit/s = 125,000,000 bytes/s); or bytes
/// per second: `kB/s`, `MB/s`, `GB/s` (decimal) and `KiB/s`, `MiB/s`, `GiB/s` (binary). A
/// fraction is fine (`2.5gbit`); a bare number is refused (bits or bytes?).
fn parse_rate(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let lower = unit.trim().to_ascii_lowercase();
    let unit_name = lower.strip_suffix("/s").unwrap_or(&lower);
    let bytes_per_unit = match unit_name {
        "bit" => 1.0 / 8.0,
        "kbit" => 1e3 / 8.0,
        "mbit" => 1e6 / 8.0,
        "gbit" => 1e9 / 8.0,
        "tbit" => 1e12 / 8.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => (1u64 << 20) as f64,
        "gib" => (1u64 << 30) as f64,
        "" => {
            return Err(format!(
                "'{text}' has no unit: give bits per second (e.g. 1gbit, 500mbit, 10gbit) or bytes per second (e.g. 100MiB/s)"
            ));
        }
        _ => {
            return Err(format!(
                "'{text}' has an unknown unit '{unit}': use bit, kbit, mbit, gbit, tbit (bits per second, as tc writes them) or kB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s"
            ));
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a rate: use e.g. 1gbit, 500mbit or 100MiB/s"))?;
    let bytes = n * bytes_per_unit;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(format!("'{text}' is less than 1 byte per second"));
    }
    if bytes > MAX_LINK_BYTES_PER_S {
        return Err(format!(
            "'{text}' is faster than the 10 Tbit/s copylab accepts"
        ));
    }
    // Bounded above by MAX_LINK_BYTES_PER_S, so the cast cannot overflow.
    Ok(bytes.round() as u64)
}

/// `--buffer`, `--pipe-size` as clap parses them: a size from 1 byte to [`MAX_BUFFER`].
fn parse_buffer(text: &str) -> Result<usize, String> {
    let v = parse_size(text)?;
    if v == 0 {
        return Err("must be at least 1 byte (e.g. 128K)".into());
    }
    if v > MAX_BUFFER {
        return Err(format!(
            "{text} is larger than the {} MiB copylab allows",
            MAX_BUFFER >> 20
        ));
    }
    // MAX_BUFFER (64 MiB) fits in usize on every target copylab builds for.
    Ok(v as usize)
}

/// Sweep's `--sizes`: comma-separated sizes, at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeList(pub Vec<u64>);

/// Sweep's `--buffers`: comma-separated read-write buffer sizes, at least one, each as
/// [`parse_buffer`] takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferList(pub Vec<usize>);

/// The non-empty items of a comma-separated list, each parsed by `item`; at least one.
fn parse_list<T>(text: &str, item: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    let v = text
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(item)
        .collect::<Result<Vec<T>, String>>()?;
    if v.is_empty() {
        return Err("give at least one size".into());
    }
    Ok(v)
}

/// Sweep's `--sizes` as clap parses it.
fn parse_size_list(text: &str) -> Result<SizeList, String> {
    // 0 stays allowed here: a sweep's empty-file point shows what n/a looks like.
    parse_list(text, parse_size).map(SizeList)
}

/// The size of a file copylab generates: at least one byte (an empty file is measured by
/// passing one as FILE).
fn parse_file_size(text: &str) -> Result<u64, String> {
    match parse_size(text)? {
        0 => Err(format!(
            "'{text}' would generate an empty file, which has no byte to time: use at least 1 (e.g. 1M), or pass an empty file as FILE"
        )),
        n => Ok(n),
    }
}

/// Sweep's `--buffers` as clap parses it.
fn parse_buffer_list(text: &str) -> Result<BufferList, String> {
    parse_list(text, parse_buffer).map(BufferList)
}

/// `--methods` as typed: the methods to run in order, and those named one by one (not through
/// `all` or `classic`), which are refused rather than skipped when they cannot run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodList {
    pub kinds: Vec<MethodKind>,
    pub named: Vec<MethodKind>,
}

/// `--methods` as clap parses it (see [`MethodKind::parse_list`]).
fn parse_methods(text: &str) -> Result<MethodList, String> {
    Ok(MethodList {
        kinds: MethodKind::parse_list(text)?,
        named: MethodKind::named_in(text),
    })
}

/// `--receive`: the receiving paths, and those named one by one (refused when unavailable).
#[derive(Debug, Clone)]
pub struct ReceiveList {
    pub kinds: Vec<ReceiverKind>,
    pub named: Vec<ReceiverKind>,
}

/// `--receive` as clap parses it (see [`ReceiverKind::parse_list`]).
fn parse_receive(text: &str) -> Result<ReceiveList, String> {
    Ok(ReceiveList {
        kinds: ReceiverKind::parse_list(text)?,
        named: ReceiverKind::named_in(text),
    })
}

/// The receivers' names, for the help text.
fn receiver_names() -> String {
    ReceiverKind::ALL.map(|k| k.name()).join(", ")
}

/// Serve's `--method` as clap parses it: exactly one method, named (no `all`, no `classic`).
fn parse_method(text: &str) -> Result<MethodKind, String> {
    let t = text.trim();
    MethodKind::from_name(t).ok_or_else(|| {
        format!(
            "'{t}' is not one method: choose one of {}",
            MethodKind::ALL.map(|k| k.name()).join(", ")
        )
    })
}

/// A value parser with a fixed set of words to offer in shell completions, whose parsing is a
/// function of its own (a comma list, a topic): clap_complete reads `possible_values`.
#[derive(Clone)]
struct Offering<T: Clone + Send + Sync + 'static> {
    parse: fn(&str) -> Result<T, String>,
    words: fn() -> Vec<&'static str>,
}

impl<T: Clone + Send + Sync + 'static> clap::builder::TypedValueParser for Offering<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let text = value.to_str().ok_or_else(|| {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidUtf8,
                "the value is not valid UTF-8\n",
            )
            .with_cmd(cmd)
        })?;
        (self.parse)(text).map_err(|why| {
            let name = arg.map_or_else(|| "value".to_string(), |a| a.to_string());
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value '{text}' for '{name}': {why}\n"),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            (self.words)()
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

/// Every path's name.
fn method_words() -> Vec<&'static str> {
    MethodKind::ALL.iter().map(|k| k.name()).collect()
}

/// Every path's name, and the two sets.
fn method_list_words() -> Vec<&'static str> {
    let mut w = method_words();
    w.extend(["classic", "all"]);
    w
}

/// explain's topics.
fn topic_words() -> Vec<&'static str> {
    let mut w = method_words();
    w.extend(["receive", "kafka", "myths"]);
    w
}

/// `--methods` for clap, offering every name to completions.
fn methods_parser() -> Offering<MethodList> {
    Offering {
        parse: parse_methods,
        words: method_list_words,
    }
}

/// serve's `--method` for clap, offering each path's name.
fn method_parser() -> Offering<MethodKind> {
    Offering {
        parse: parse_method,
        words: method_words,
    }
}

/// explain's topic for clap: any text (checked when the job is built), offering the topics.
fn topic_parser() -> Offering<String> {
    Offering {
        parse: |t| Ok(t.to_string()),
        words: topic_words,
    }
}

/// Fetch's `--range FIRST-LAST`: two plain numbers, FIRST at most LAST.
fn parse_byte_range(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("'{text}' is not FIRST-LAST in bytes (e.g. 0-1023)");
    let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (first, last) = (num(a).ok_or_else(bad)?, num(b).ok_or_else(bad)?);
    if last < first {
        return Err(format!(
            "'{text}': the last byte comes before the first; give FIRST-LAST with FIRST <= LAST"
        ));
    }
    Ok((first, last))
}

/// Fetch's `--timeout` as clap parses it: a duration like every other (5s, 500ms, 2m, or
/// plain seconds), more than zero.
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(format!(
            "'{text}' would give up at once: give more than zero (e.g. 30s)"
        )),
        d => Ok(d),
    }
}

/// The completion script for `shell`, generated from [`Cli`].
fn completions(shell: ShellArg) -> Vec<u8> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let shell = match shell {
        ShellArg::Bash => Shell::Bash,
        ShellArg::Zsh => Shell::Zsh,
        ShellArg::Fish => Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "copylab", &mut out);
    if shell == Shell::Fish {
        // clap_complete's fish script completes options only, not positional values: offer
        // explain's topics the way it offers option values.
        let line = format!(
            "complete -c copylab -n \"__fish_copylab_using_subcommand explain\" -f -a \"{}\"\n",
            topic_words().join(" ")
        );
        out.extend_from_slice(line.as_bytes());
    }
    out
}

/// Roff for the man page's own sections, after the generated ones. Every page it names exists
/// (the Linux man-pages project's, and perf's).
const MAN_TAIL: &str = r#".SH EXAMPLES
.TP
\fBcopylab compare\fR
The four classic paths on a generated 256 MiB file: the lesson's columns fitted to the terminal,
then the conclusion in words.
.TP
\fBcopylab compare \-\-methods all \-\-size 1G \-\-runs 7 \-\-wide\fR
Every path, a larger file, more runs, every column.
.TP
\fBcopylab compare \-\-export\-markdown results.md \-\-export\-csv runs.csv\fR
The medians as Markdown and every run as CSV, besides the table.
.TP
\fBcopylab explain sendfile\fR
One path: its diagram, the textbook's counts, what Linux really does.
.TP
\fBcopylab explain kafka \-\-measure \-\-lang zh\fR
Kafka's zero copy step by step, in Chinese, each step with a figure measured here.
.TP
\fBcopylab quiz\fR
Predict, then measure.
.TP
\fBcopylab trace \-\- python3 \-m http.server 8000\fR
Which copy path a program uses, and where its CPU went.
.TP
\fBcopylab serve data.bin \-\-http \-\-live\fR
Serve to curl, nc or socat, one line per connection.
.TP
\fBcopylab doctor\fR
What this machine lets copylab measure, and how to fix each gap.
.SH ENVIRONMENT
.TP
\fBCOLUMNS\fR
The width human output is laid out for (else the terminal's, else 80).
.TP
\fBNO_COLOR\fR, \fBTERM\fR=dumb
No colour with \-\-color auto.
.TP
\fBLC_ALL\fR, \fBLC_CTYPE\fR, \fBLANG\fR
A character set other than UTF\-8 draws tables in plain ASCII (\-\-style auto); a locale
starting with zh makes explain and quiz speak Chinese (LC_ALL, LC_MESSAGES, LANG).
.TP
\fBTMPDIR\fR
Where compare, sweep, explain and quiz generate their file (a disk file system for
\-\-cache cold: a tmpfs file is its own page cache).
.TP
\fBCOPYLAB_TRACEFS\fR
A tracefs mount to read tracepoint ids from, instead of looking for one.
.TP
\fBCOPYLAB_KALLSYMS\fR
A readable copy of /proc/kallsyms, for kernel symbols when /proc/kallsyms hides them.
.SH "EXIT STATUS"
.TP
0
Success (doctor: the full compare table is available).
.TP
1
An error, said in one line on stderr (doctor: something cannot be measured).
.TP
2
A usage error: a bad flag or value, said by the argument parser.
.TP
130
Stopped by Ctrl\-C (SIGINT), or by SIGTERM or SIGHUP where the command handles them, after
printing what was measured.
.SH "SEE ALSO"
\fBsendfile\fR(2), \fBsplice\fR(2), \fBvmsplice\fR(2), \fBmmap\fR(2), \fBperf_event_open\fR(2),
\fBio_uring_enter\fR(2), \fBperf\fR(1)
"#;

/// The man page, generated from [`Cli`]: one page with every subcommand as a section of its own
/// (synopsis and options), then examples, environment and exit status. No page is named that
/// is not there: the subcommands point to their sections, not to copylab-compare(1) pages.
fn man_page() -> Result<Vec<u8>> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = Vec::new();
    let top = clap_mangen::Man::new(cmd.clone());
    top.render_title(&mut out)?;
    top.render_name_section(&mut out)?;
    top.render_synopsis_section(&mut out)?;
    top.render_description_section(&mut out)?;
    top.render_options_section(&mut out)?;
    let subs: Vec<&clap::Command> = cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help")
        .collect();
    out.extend_from_slice(b".SH SUBCOMMANDS\n");
    for sub in &subs {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        let line = format!(
            ".TP\n\\fBcopylab {}\\fR\n{} (see COPYLAB {} below)\n",
            sub.get_name(),
            roff_escape(&about),
            sub.get_name().to_uppercase()
        );
        out.extend_from_slice(line.as_bytes());
    }
    for sub in subs {
        let name = format!("copylab {}", sub.get_name());
        let page = clap_mangen::Man::new(sub.clone().bin_name(name.clone()));
        let mut part = Vec::new();
        page.render_synopsis_section(&mut part)?;
        page.render_description_section(&mut part)?;
        page.render_options_section(&mut part)?;
        // Each part opens its own SYNOPSIS and OPTIONS sections: make them one section per
        // subcommand with subsections, so the page keeps a single SYNOPSIS.
        let part = String::from_utf8_lossy(&part)
            .replacen(
                ".SH SYNOPSIS",
                &format!(".SH \"{}\"", name.to_uppercase()),
                1,
            )
            .replacen(".SH DESCRIPTION", ".SS Description", 1)
            .replacen(".SH OPTIONS", ".SS Options", 1);
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(MAN_TAIL.as_bytes());
    top.render_version_section(&mut out)?;
    Ok(out)
}

/// Text for a roff line: backslashes and hyphens escaped, no line starting with a control
/// character.
fn roff_escape(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

impl Cli {
    /// Validate the arguments and turn them into typed options.
    pub fn into_job(self) -> Result<Job> {
        match self.command {
            Command::Compare(a) => compare_job(a),
            Command::Serve(a) => serve_job(a),
            Command::Sweep(a) => sweep_job(a),
            Command::Completions(a) => Ok(Job::Print(completions(a.shell))),
            Command::Man => Ok(Job::Print(man_page()?)),
            Command::Quiz(a) => quiz_job(a),
            Command::Trace(a) => trace_job(a),
            Command::Lab(a) => Ok(match a.action {
                LabAction::Up => Job::LabUp,
                LabAction::Down => Job::LabDown,
            }),
            Command::Doctor(a) => Ok(Job::Doctor {
                file: a.file,
                output: output_of(
                    a.json,
                    ColorArg::Never,
                    crate::report::TableLayout::default(),
                ),
            }),
            Command::Explain(a) => explain_job(a),
            Command::Fetch(a) => fetch_job(a),
        }
    }
}

/// `--json` or the table, coloured as `--color` says, laid out as `layout` says.
fn output_of(json: bool, color: ColorArg, layout: crate::report::TableLayout) -> Output {
    if json {
        Output::Json
    } else {
        Output::Table {
            color: color.into(),
            layout,
        }
    }
}

/// `copylab compare`: its arguments checked and turned into typed options.
fn compare_job(a: CompareArgs) -> Result<Job> {
    if let (Some(f), Some(_)) = (&a.file, &a.size) {
        bail!(
            "--size sets the size of a generated file, but FILE '{}' was given: drop one of them",
            f.display()
        );
    }
    let size = a.size.unwrap_or(DEFAULT_SIZE);
    // Every method's warm-up and measured runs send the whole file (a FILE that cannot be
    // read is compare's to report).
    let file_len = match &a.file {
        Some(f) => std::fs::metadata(f).map(|m| m.len()).ok(),
        None => Some(size),
    };
    if let Some(len) = file_len {
        let methods = a.methods.kinds.len() as u64;
        let sends = u64::from(a.runs + a.warmup) * methods;
        warn_link_duration(
            a.link,
            len.saturating_mul(sends),
            &format!(
                "{} {sends} times: runs and warm-ups of {methods} methods",
                crate::size::fmt_bytes(len)
            ),
        );
    }
    let opts = CompareOptions {
        file: a.file,
        size,
        methods: a.methods.kinds,
        runs: a.runs,
        warmup: a.warmup,
        transport: a.transport.into(),
        link: link_arg(a.link, a.transport.into())?,
        named: a.methods.named,
        buffer: a.path.buffer,
        pipe_size: a.path.pipe_size,
        batch: a.path.batch,
        counters: counters_arg(a.path.counters),
        verify_all: a.verify_all,
        cold: a.cache == CacheArg::Cold,
        cpus: a.cpus.unwrap_or(Cpus::Auto),
        profile: !a.no_profile,
        receive_named: a.receive.as_ref().map_or(Vec::new(), |r| r.named.clone()),
        receive: a.receive.map(|r| r.kinds),
        sample_period_ns: a.sample_period.and_then(|p| p.0),
        stacks: false,
    };
    let layout = crate::report::TableLayout {
        wide: a.wide,
        style: a.style.style.into(),
    };
    let output = output_of(a.json, a.color, layout);
    let mut specs = a.export.specs_with(output, "compare")?;
    specs.stacks_dir = a.stacks.export_stacks;
    let opts = CompareOptions {
        stacks: opts.profile && specs.need_stacks(),
        ..opts
    };
    Ok(Job::Compare(opts, output, specs))
}

/// `copylab serve`: its arguments checked and turned into typed options.
fn serve_job(a: ServeArgs) -> Result<Job> {
    let listen = match a.unix {
        Some(p) => Listen::Unix(p),
        None => Listen::Tcp {
            addr: a.listen.unwrap_or(DEFAULT_LISTEN),
            explicit: a.listen.is_some(),
        },
    };
    if let Ok(m) = std::fs::metadata(&a.file) {
        warn_link_duration(a.link, m.len(), "the whole file, to each client");
    }
    Ok(Job::Serve(ServeOptions {
        file: a.file,
        method: a.method,
        listen,
        http: a.http,
        max_conns: a.max_conns,
        count: a.count,
        buffer: a.path.buffer,
        pipe_size: a.path.pipe_size,
        batch: a.path.batch,
        counters: counters_arg(a.path.counters),
        // 0 waits forever.
        send_timeout: (!a.send_timeout.is_zero()).then_some(a.send_timeout),
        output: output_of(
            a.json,
            a.color,
            crate::report::TableLayout {
                wide: a.wide,
                ..Default::default()
            },
        ),
        cpus: a.worker_cpus.unwrap_or_default().0,
        live: a.live,
        link: a.link,
        export_stacks: a.stacks.export_stacks,
    }))
}

/// `copylab sweep`: its arguments checked and turned into typed options.
fn sweep_job(a: SweepArgs) -> Result<Job> {
    let SizeList(sizes) = a.sizes;
    let BufferList(buffers) = a.buffers;
    let sends = u64::from(a.runs + a.warmup) * a.methods.kinds.len() as u64;
    let all: u64 = sizes.iter().sum::<u64>() * buffers.len() as u64;
    warn_link_duration(
        a.link,
        all.saturating_mul(sends),
        &format!("every size, {sends} times per size and buffer"),
    );
    let base = CompareOptions {
        file: None,
        size: 0,
        methods: a.methods.kinds,
        named: a.methods.named,
        runs: a.runs,
        warmup: a.warmup,
        transport: a.transport.into(),
        link: link_arg(a.link, a.transport.into())?,
        // parse_list gives at least one buffer; 128K should that ever change.
        buffer: buffers.first().copied().unwrap_or(128 << 10),
        pipe_size: a.pipe_size,
        batch: DEFAULT_BATCH,
        counters: counters_arg(a.counters),
        verify_all: false,
        cold: false,
        cpus: a.cpus.unwrap_or(Cpus::Auto),
        profile: true,
        receive_named: a.receive.as_ref().map_or(Vec::new(), |r| r.named.clone()),
        receive: a.receive.map(|r| r.kinds),
        sample_period_ns: None,
        // The sweep's page has no flame graphs: compare draws them.
        stacks: false,
    };
    let layout = crate::report::TableLayout {
        wide: false,
        style: a.style.style.into(),
    };
    let output = output_of(a.json, a.color, layout);
    Ok(Job::Sweep(
        SweepOptions {
            sizes,
            buffers,
            base,
        },
        output,
        a.export.specs_with(output, "sweep")?,
    ))
}

/// `copylab quiz`: its arguments checked and turned into typed options.
fn quiz_job(a: QuizArgs) -> Result<Job> {
    if a.size == 0 {
        bail!("--size: must be at least 1 byte to measure anything");
    }
    Ok(Job::Quiz(crate::quiz::QuizOptions {
        lang: match a.lang {
            Some(LangArg::En) => Lang::En,
            Some(LangArg::Zh) => Lang::Zh,
            None => Lang::from_env(),
        },
        seed: a.seed.unwrap_or_else(crate::quiz::fresh_seed),
        list: a.list,
        json: a.json,
        size: a.size,
        cpus: a.cpus.unwrap_or(Cpus::Auto),
    }))
}

/// `copylab trace`: its arguments checked and turned into typed options.
fn trace_job(a: TraceArgs) -> Result<Job> {
    let target = match (a.pid, a.command.is_empty()) {
        (Some(pid), _) => crate::trace::Tracee::Pid(pid),
        (None, false) => crate::trace::Tracee::Command(a.command),
        (None, true) => bail!(
            "trace: say what to follow: a command after `--` (copylab trace -- CMD ARGS) or --pid PID"
        ),
    };
    let to_a_stream = a.output.as_ref().is_none_or(|p| p.as_os_str() == "-");
    let layout = crate::report::TableLayout {
        wide: a.wide,
        style: a.style.style.into(),
    };
    let output = match (a.json, to_a_stream) {
        (true, _) => Output::Json,
        // A file gets no colour codes.
        (false, false) => Output::Table {
            color: Color::Never,
            layout,
        },
        (false, true) => Output::Table {
            color: a.color.into(),
            layout,
        },
    };
    let specs = Specs {
        files: a.html.spec().into_iter().collect(),
        stacks_dir: a.stacks.export_stacks,
    };
    // The results go to stderr unless `-o -` sends them to stdout.
    let results_to_stdout = a.output.as_ref().is_some_and(|p| p.as_os_str() == "-");
    if results_to_stdout && specs.files.iter().any(|(_, p)| p == "-") {
        return Err(usage(
            "trace",
            "--export-html - and -o - would each write to stdout, one over the other: send one to a file (-o FILE or --export-html FILE)".to_string(),
        ));
    }
    Ok(Job::Trace(
        crate::trace::TraceOptions {
            target,
            duration: a.duration,
            profile: !a.no_profile,
        },
        output,
        a.output,
        specs,
    ))
}

/// `copylab explain`: its arguments checked and turned into typed options.
fn explain_job(a: ExplainArgs) -> Result<Job> {
    let kafka = a.topic.as_deref() == Some("kafka");
    let receive = a.topic.as_deref() == Some("receive");
    let (method, myths_only) = match a.topic.as_deref() {
        None | Some("kafka") | Some("receive") => (None, false),
        Some("myths") => (None, true),
        Some(t) => (
            Some(parse_method(t).map_err(|_| {
                anyhow::anyhow!(
                    "explain {t}: unknown topic: choose {}, receive, kafka or myths",
                    MethodKind::ALL.map(|k| k.name()).join(", ")
                )
            })?),
            false,
        ),
    };
    if myths_only && a.measure {
        bail!("--measure: explain myths has nothing to measure; give a path instead");
    }
    let size = a.size;
    if size == 0 && a.measure {
        bail!("--size: must be at least 1 byte to measure anything");
    }
    Ok(Job::Explain(ExplainOptions {
        method,
        myths_only,
        kafka,
        receive,
        screen: crate::report::Screen::of(
            Color::Never,
            crate::report::TableLayout {
                wide: false,
                style: a.style.style.into(),
            },
        ),
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

/// `copylab fetch`: its arguments checked and turned into typed options.
fn fetch_job(a: FetchArgs) -> Result<Job> {
    let sink = match (a.out, a.discard) {
        (Some(p), _) if p.as_os_str() == "-" => Sink::Stdout,
        (Some(p), _) => Sink::Out(p),
        (None, Some(DiscardArg::Copy)) => Sink::Discard,
        (None, Some(DiscardArg::Truncate)) => Sink::Truncate,
        // Asked, not guessed: a wget user expects a file, a curl user bytes on stdout, and
        // fetch does neither by default; one line names both choices.
        (None, None) => bail!(
            "say where the bytes go: --out FILE, or --discard (--discard=truncate to drop them in the kernel)"
        ),
    };
    Ok(Job::Fetch(FetchOptions {
        target: Target::parse(&a.target)?,
        http: a.http,
        path: a.path,
        range: a.range,
        sink,
        connections: a.connections,
        json: a.json,
        timeout: a.timeout,
        max_size: a.max_size,
    }))
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
    fn bad_values_are_usage_errors_naming_their_flag() {
        for (args, flag) in [
            (&["compare", "--buffer", "0"][..], "--buffer"),
            (&["compare", "--buffer", "many"][..], "--buffer"),
            (&["compare", "--size", "12QB"][..], "--size"),
            (&["compare", "--methods", "nosuch"][..], "--methods"),
            (&["compare", "--pipe-size", "1G"][..], "--pipe-size"),
            (&["sweep", "--sizes", ","][..], "--sizes"),
            (&["sweep", "--buffers", "4K,0"][..], "--buffers"),
            (&["serve", "f", "--method", "classic"][..], "--method"),
            (
                &["serve", "f", "--send-timeout", "5h"][..],
                "--send-timeout",
            ),
            (&["fetch", "a:1", "--timeout", "0"][..], "--timeout"),
            (&["fetch", "a:1", "--max-size", "x"][..], "--max-size"),
            (&["explain", "--size=-1"][..], "--size"),
            (&["compare", "--link", "1000"][..], "--link"),
            (&["compare", "--link", "1gbps"][..], "--link"),
            (&["compare", "--link", "0mbit"][..], "--link"),
            (&["compare", "--link", "fast"][..], "--link"),
            (&["sweep", "--link", "99tbit"][..], "--link"),
        ] {
            let mut v = vec!["copylab"];
            v.extend_from_slice(args);
            let e = Cli::try_parse_from(v).expect_err("must fail");
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{args:?}"
            );
            assert!(e.to_string().contains(flag), "{args:?}: {e}");
        }
    }

    #[test]
    fn cross_checks_in_into_job_name_their_flag() {
        for (args, flag) in [
            (&["--runs", "0"][..], "--runs"),
            (&["--batch", "0"][..], "--batch"),
            (&["--batch", "5000"][..], "--batch"),
            (&["some-file", "--size", "4K"][..], "--size"),
        ] {
            // Clap's own errors (a value no flag can take) say "for '--runs <N>'"; the checks
            // across flags in into_job start with the flag.
            let e = job(args).err().expect("must fail").to_string();
            assert!(
                e.starts_with(flag) || e.contains(&format!("'{flag} ")),
                "{args:?}: {e}"
            );
        }
    }

    #[test]
    fn typed_values() {
        assert_eq!(parse_buffer("64K"), Ok(64 << 10));
        assert_eq!(parse_buffer("64M"), Ok(64 << 20));
        assert!(parse_buffer("0").unwrap_err().contains("at least 1 byte"));
        assert!(parse_buffer("65M").unwrap_err().contains("64 MiB"));
        assert_eq!(
            parse_size_list(" 4K, ,1M"),
            Ok(SizeList(vec![4096, 1 << 20]))
        );
        assert!(parse_size_list(",").is_err());
        assert_eq!(parse_buffer_list("4K"), Ok(BufferList(vec![4096])));
        assert_eq!(parse_method("mmap"), Ok(MethodKind::Mmap));
        assert!(parse_method("mmap,splice").is_err());
        let m = parse_methods("all,splice").unwrap();
        assert_eq!(
            (m.kinds, m.named),
            (MethodKind::ALL.to_vec(), vec![MethodKind::Splice])
        );
        assert_eq!(parse_timeout("30"), Ok(std::time::Duration::from_secs(30)));
        assert_eq!(parse_timeout("5s"), Ok(std::time::Duration::from_secs(5)));
        assert_eq!(
            parse_timeout("500ms"),
            Ok(std::time::Duration::from_millis(500))
        );
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("0s").is_err());
        let local = |port| std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port));
        assert_eq!(parse_listen("7878"), Ok(local(7878)));
        assert_eq!(parse_listen("localhost:0"), Ok(local(0)));
        assert_eq!(parse_listen("127.0.0.1:7878"), Ok(local(7878)));
        assert_eq!(
            parse_listen("[::1]:9"),
            Ok("[::1]:9".parse::<std::net::SocketAddr>().unwrap())
        );
        for bad in [
            "localhost",
            "127.0.0.1",
            "1.2.3.4:99999",
            "",
            "example.com:80",
        ] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("1gbit"), Ok(125_000_000));
        assert_eq!(parse_rate("10Gbit/s"), Ok(1_250_000_000));
        assert_eq!(parse_rate("500mbit"), Ok(62_500_000));
        assert_eq!(parse_rate("2.5gbit"), Ok(312_500_000));
        assert_eq!(parse_rate("100MiB/s"), Ok(100 << 20));
        assert_eq!(parse_rate("100MB/s"), Ok(100_000_000));
        assert!(parse_rate("1000").unwrap_err().contains("no unit"));
        assert!(parse_rate("1gbps").unwrap_err().contains("unknown unit"));
        assert!(parse_rate("0gbit").is_err());
        assert!(parse_rate("1.2.3gbit").is_err());
    }

    #[test]
    fn a_link_too_slow_for_what_it_sends_is_said_with_how_long() {
        // --link 8bit (1 byte/s): 1 MiB six times is 73 days.
        let w = link_duration_warning(Some(1), 6 << 20, "x").expect("a warning");
        assert!(w.contains("about 73 days"), "{w}");
        assert!(w.contains("--link 8 bit/s"), "{w}");
        // 1 Gbit/s: a 256 MiB file six times is about 13 s: nothing to say.
        assert_eq!(
            link_duration_warning(Some(125_000_000), 6 * (256 << 20), "x"),
            None
        );
        assert_eq!(link_duration_warning(None, u64::MAX, "x"), None);
        assert_eq!(about(7.0 * 60.0), "about 7 minutes");
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
