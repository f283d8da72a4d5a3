//! `copylab explain kafka --measure`: the figures the Kafka answer is told beside. A compare run
//! of the four classic paths (the traditional path, mmap, sendfile, splice), and the broker's
//! fetch path as Kafka runs it: many consumers reading one cached segment at once, each served
//! by sendfile on a non-blocking socket (what `FileChannel.transferTo` on a Java NIO channel
//! issues), received by `copylab fetch --connections N`. And the answer itself, built once for
//! every language from the lesson's messages.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{KafkaFigures, Lang, PathFigures, Section};
use crate::compare::{self, CompareOptions};
use crate::counters::{Choice, Counters};
use crate::method::{MethodConfig, MethodKind, Scratch};
use crate::report::lesson::{self, JdkTransfer, Kafka, KafkaHeading, Msg};
use crate::report::thousands;
use crate::results::Report;
use crate::source::{self, Part, Source};
use crate::syscall::Syscall;
use crate::transfer;

/// The connection counts the parallel fetch is measured with: one consumer, then several.
pub const CONNECTIONS: [usize; 2] = [1, 4];

/// How long a fetch child may take to connect, and any connection to finish.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// One connection of the parallel fetch, as the serving side saw it.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    /// sendfile calls made (every attempt), as the sendfile path counted them.
    pub sendfile_calls: u64,
    /// Calls that moved fewer bytes than asked (the socket buffer filled).
    pub partial: u64,
    /// Calls that returned EAGAIN (nothing fitted); after each the thread waited in poll.
    pub eagain: u64,
}

/// N consumers fetching the same cached file at once.
#[derive(Debug, Clone)]
pub struct Parallel {
    pub connections: usize,
    pub file_bytes: u64,
    /// Share of the file in the page cache before the fetch (mincore), %; None if unknown.
    pub cached_pct: Option<f64>,
    /// One per connection; every client received the whole file (checked by fetch's byte count).
    pub served: Vec<Served>,
    /// fetch's aggregate throughput, MiB/s (None if its JSON had none).
    pub aggregate_mib_s: Option<f64>,
}

/// Whether a Java program's transferTo was watched, and what it issued.
#[derive(Debug, Clone)]
pub enum Witness {
    /// Not watched, and why (said as n/a).
    NotAvailable(String),
    /// `copylab trace` followed a Java program sending the file with transferTo on a
    /// non-blocking SocketChannel, as Kafka's network threads do.
    Traced {
        /// The JDK's version, as `java -version` names it.
        java: String,
        file_bytes: u64,
        /// transferTo calls the program made, and how many returned less than asked (its own
        /// count, printed on its stdout).
        transfer_to_calls: u64,
        transfer_to_partial: u64,
        /// copy_file_range calls trace saw, and those that failed: a JDK 20 or later tries it
        /// first on every transferTo and falls back to sendfile when the target refuses it.
        copy_file_range_calls: u64,
        copy_file_range_errors: u64,
        /// sendfile64 calls trace saw, the bytes they moved, and those that failed (EAGAIN).
        sendfile_calls: u64,
        sendfile_bytes: u64,
        sendfile_errors: u64,
        /// trace's sentence naming the path.
        path: String,
    },
}

/// A Java program that sends a file the way a Kafka broker answers a fetch: FileChannel.transferTo
/// onto a non-blocking SocketChannel, waiting in a Selector when the socket is full. Prints its
/// transferTo calls and the partial ones.
const JAVA_SOURCE: &str = r#"import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

public class TransferTo {
    public static void main(String[] a) throws Exception {
        try (FileChannel f = FileChannel.open(Path.of(a[0]), StandardOpenOption.READ);
             SocketChannel s = SocketChannel.open(new InetSocketAddress("127.0.0.1", Integer.parseInt(a[1])));
             Selector sel = Selector.open()) {
            s.configureBlocking(false);
            s.register(sel, SelectionKey.OP_WRITE);
            long pos = 0, n = f.size(), calls = 0, partial = 0;
            while (pos < n) {
                long w = f.transferTo(pos, n - pos, s);
                calls++;
                if (w < n - pos) partial++;
                pos += w;
                if (pos < n) sel.select();
            }
            System.out.println(calls + " " + partial);
        }
    }
}
"#;

/// A directory removed with what is in it when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether `tool` runs (`tool -version` exits 0).
fn runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The version `java -version` names ("17.0.15"), or None when java does not run.
fn java_version() -> Option<String> {
    let out = Command::new("java")
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&out.stderr);
    // `openjdk version "17.0.15" 2025-04-15`: the first quoted word.
    // Printed to a terminal: keep what a version is made of, nothing a program could smuggle.
    let version: String = text
        .split('"')
        .nth(1)
        .unwrap_or("?")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._+-".contains(*c))
        .take(40)
        .collect();
    Some(version)
}

/// Compile the Java program, run it under `copylab trace` sending `src` to a receiver here, and
/// say what its transferTo issued; n/a with the reason when Java or the tracer is missing.
fn java_witness(src: &Source) -> Witness {
    match java_witness_inner(src) {
        Ok(w) => w,
        Err(e) => Witness::NotAvailable(format!("{e:#}")),
    }
}

/// Write the program into `dir` and compile it there.
fn compile_java(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let java = dir.join("TransferTo.java");
    std::fs::write(&java, JAVA_SOURCE)
        .with_context(|| format!("cannot write {}", java.display()))?;
    let out = Command::new("javac")
        .arg("-d")
        .arg(dir)
        .arg(&java)
        .stdin(Stdio::null())
        .output()
        .context("cannot run javac")?;
    if !out.status.success() {
        bail!(
            "javac failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// A thread that accepts one connection on `listener` and counts the bytes it receives.
fn receive_all(listener: TcpListener) -> std::thread::JoinHandle<Result<u64>> {
    std::thread::spawn(move || -> Result<u64> {
        let (mut s, _) = listener.accept()?;
        s.set_read_timeout(Some(FETCH_TIMEOUT))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            match s.read(&mut buf)? {
                0 => return Ok(n),
                k => n += k as u64,
            }
        }
    })
}

fn java_witness_inner(src: &Source) -> Result<Witness> {
    use std::os::fd::AsRawFd;
    let installed =
        |tool| format!("{tool} is not installed (e.g. apt-get install default-jdk-headless)");
    let Some(java) = java_version() else {
        return Ok(Witness::NotAvailable(installed("java")));
    };
    if !runs("javac") {
        return Ok(Witness::NotAvailable(installed("javac")));
    }
    let dir = TempDir(crate::storage::temp_dir().join(format!(
        "copylab-java-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )));
    compile_java(&dir.0)?;
    // The generated file is unlinked: Java opens it through this process's descriptor.
    let path = format!("/proc/{}/fd/{}", std::process::id(), src.file.as_raw_fd());
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
    let port = listener.local_addr()?.port();
    let receiver = receive_all(listener);
    let stdout = dir.0.join("stdout");
    let report = crate::trace::run(&crate::trace::TraceOptions {
        target: crate::trace::Tracee::Command(vec![
            "sh".into(),
            "-c".into(),
            "exec java -cp \"$1\" TransferTo \"$2\" \"$3\" > \"$4\"".into(),
            "sh".into(),
            dir.0.clone().into(),
            path.into(),
            port.to_string().into(),
            stdout.clone().into(),
        ]),
        duration: Some(FETCH_TIMEOUT),
        profile: false,
    })?;
    let received = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("the receiver thread panicked"))??;
    if report.exit_code != Some(0) || received != src.len {
        bail!(
            "the Java program did not send the file (exit {:?}, {received} of {} bytes received)",
            report.exit_code,
            src.len
        );
    }
    if let Some(why) = report.unavailable {
        return Ok(Witness::NotAvailable(format!("copylab trace: {why}")));
    }
    let counts = std::fs::read_to_string(&stdout).unwrap_or_default();
    let mut it = counts.split_whitespace().map(str::parse::<u64>);
    let (Some(Ok(calls)), Some(Ok(partial))) = (it.next(), it.next()) else {
        bail!("the Java program printed no counts: {counts:?}");
    };
    let tally = |name: Syscall| {
        report
            .syscalls
            .as_ref()
            .and_then(|m| m.get(&name))
            .map_or((0, 0, 0), |f| (f.calls, f.bytes.unwrap_or(0), f.errors))
    };
    let (sf, cfr) = (tally(Syscall::Sendfile64), tally(Syscall::CopyFileRange));
    Ok(Witness::Traced {
        java,
        file_bytes: src.len,
        transfer_to_calls: calls,
        transfer_to_partial: partial,
        copy_file_range_calls: cfr.0,
        copy_file_range_errors: cfr.2,
        sendfile_calls: sf.0,
        sendfile_bytes: sf.1,
        sendfile_errors: sf.2,
        path: report.path.map(|p| p.words).unwrap_or_default(),
    })
}

/// Everything `explain kafka --measure` writes in.
pub struct KafkaMeasured {
    pub report: Report,
    pub parallel: Vec<Parallel>,
    pub witness: Witness,
}

/// Run the measurements: a small compare of the classic paths and the parallel fetch.
pub fn measure(size: u64, cpus: crate::placement::Cpus) -> Result<KafkaMeasured> {
    let report = compare::run(&CompareOptions::quick(
        size,
        MethodKind::CLASSIC.to_vec(),
        cpus,
    ))?;
    let src = Source::generate(&crate::storage::temp_dir(), size)?;
    let mut parallel = Vec::new();
    for n in CONNECTIONS {
        parallel.push(fetch_parallel(&src, n).with_context(|| {
            format!("the parallel fetch with {n} connection(s) (copylab fetch --connections {n})")
        })?);
    }
    Ok(KafkaMeasured {
        report,
        parallel,
        witness: java_witness(&src),
    })
}

/// Serve `src` to `n` connections of a `copylab fetch --connections n` child at once, each with
/// sendfile on a non-blocking socket, the way a Kafka broker's transferTo does.
fn fetch_parallel(src: &Source, n: usize) -> Result<Parallel> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let exe = std::env::current_exe().context("cannot find copylab's own binary")?;
    let cached_pct = source::resident_fraction(&src.file, src.len).map(|f| f * 100.0);
    let mut child = Command::new(&exe)
        .args([
            "fetch",
            &addr.to_string(),
            "--connections",
            &n.to_string(),
            "--discard=truncate",
            "--json",
            "--timeout",
            &FETCH_TIMEOUT.as_secs().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;

    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + FETCH_TIMEOUT;
    let mut conns = Vec::new();
    while conns.len() < n {
        match listener.accept() {
            Ok((s, _)) => conns.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.try_wait()? {
                    bail!("copylab fetch ended ({status}) before all {n} connections came");
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    bail!("only {} of {n} connections came within 60 s", conns.len());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e).context("accept failed"),
        }
    }
    let served: Vec<Result<Served>> = std::thread::scope(|s| {
        let handles: Vec<_> = conns
            .into_iter()
            .map(|c| s.spawn(move || serve_nonblocking(src, c)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a serving thread panicked")))
            })
            .collect()
    });
    let served: Vec<Served> = served.into_iter().collect::<Result<_>>()?;
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        o.read_to_string(&mut out)?;
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err)?;
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("copylab fetch failed ({status}): {}", err.trim());
    }
    let v: serde_json::Value =
        serde_json::from_str(&out).context("copylab fetch --json printed no JSON")?;
    let received: Vec<u64> = v["connections"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["bytes"].as_u64()).collect())
        .unwrap_or_default();
    if received.len() != n || received.iter().any(|b| *b != src.len) {
        bail!(
            "copylab fetch received {received:?} bytes, not {} on each of {n} connections",
            src.len
        );
    }
    Ok(Parallel {
        connections: n,
        file_bytes: src.len,
        cached_pct,
        served,
        aggregate_mib_s: v["aggregate_mib_s"].as_f64(),
    })
}

/// Serve the whole file to `sock`, made non-blocking, with the sendfile path itself inside one
/// measured window (the transfer machinery compare and serve use): each call asks for all that
/// is left; the socket takes what fits in its buffer (a partial count), and a call that finds it
/// full returns EAGAIN and waits in poll until it is writable — as Java's transferTo on a
/// non-blocking SocketChannel under a Selector (Kafka's network threads) does.
fn serve_nonblocking(src: &Source, sock: TcpStream) -> Result<Served> {
    sock.set_nonblocking(true)?;
    let method = crate::method::build(
        MethodKind::Sendfile,
        MethodConfig {
            buffer: 128 << 10,
            pipe_size: 1 << 20,
            batch: crate::method::DEFAULT_BATCH,
        },
    )?;
    let mut scratch = Scratch::default();
    method.prepare(&mut scratch)?;
    // The figures wanted are the path's own calls: rusage is enough, and opens nothing.
    let mut counters = Counters::open(Choice::Rusage)?;
    let m = transfer::send_measured(
        method.as_ref(),
        Part::whole(src),
        sock.as_fd(),
        &[],
        transfer::Body::Send,
        &mut scratch,
        &mut counters,
    )?;
    m.sent
        .map_err(|e| anyhow::anyhow!("sendfile stopped: {e}"))?;
    const CALL: Syscall = Syscall::Sendfile64;
    Ok(Served {
        sendfile_calls: m.calls.count(CALL),
        partial: m.calls.short(CALL),
        eagain: m.calls.again(CALL),
    })
}

/// The Kafka answer in `lang`: sections of bullets, the figures of `f` beside each step when
/// measured. What is said, and in which order, is decided here once for every language.
pub fn answer(lang: Lang, f: Option<&KafkaFigures>) -> Vec<Section> {
    let say = |m: &Msg| lesson::say(lang, m);
    let section = |h: KafkaHeading, lines: &[Kafka]| Section {
        heading: say(&Msg::KafkaHeading(h)),
        bullets: lines.iter().map(|k| say(&Msg::Kafka(*k))).collect(),
    };
    let mut out = vec![section(KafkaHeading::Question, &[Kafka::Intro])];
    out[0].bullets.push(match f {
        Some(f) => say(&Msg::KafkaFigures {
            bytes: f.bytes,
            runs: f.runs,
            buffer_bytes: f.buffer_bytes,
            pipe_bytes: f.pipe_bytes,
        }),
        None => say(&Msg::Kafka(Kafka::RunMeasure)),
    });
    out.extend(path_sections(lang, f));
    out.push(section(
        KafkaHeading::Uses,
        &[
            Kafka::UsesChain,
            Kafka::UsesPosition,
            Kafka::UsesSameBytes,
            Kafka::UsesPageCache,
            Kafka::UsesCached,
        ],
    ));
    out.push(section(
        KafkaHeading::DoesNot,
        &[
            Kafka::NotProduce,
            Kafka::NotTls,
            Kafka::NotOldClients,
            Kafka::NotCached,
            Kafka::NotMmap,
        ],
    ));
    let mut par = section(
        KafkaHeading::Parallel,
        &[Kafka::ParallelOneCopy, Kafka::ParallelNonBlocking],
    );
    if let Some(f) = f {
        par.bullets
            .extend(f.parallel.iter().map(|p| parallel_line(lang, p)));
    }
    out.push(par);
    let mut stays = section(KafkaHeading::Stays, &[Kafka::StaysCopies]);
    if let Some(p) = f.and_then(|f| f.sendfile.as_ref()) {
        let r = say(&Msg::ReceiverCopy {
            ms_per_gib: p.copy_ms_per_gib.map(|(_, r)| r),
        });
        stays.bullets.push(say(&Msg::MeasuredHere(&r)));
    }
    out.push(stays);
    out.push(section(
        KafkaHeading::Consumer,
        &[
            Kafka::ConsumerReads,
            Kafka::ConsumerNoZeroCopy,
            Kafka::ConsumerOneHost,
        ],
    ));
    if let Some(f) = f {
        out.push(Section {
            heading: say(&Msg::KafkaHeading(KafkaHeading::Witness)),
            bullets: vec![witness_line(lang, &f.witness)],
        });
    }
    out.push(section(KafkaHeading::Answer, &ANSWER));
    out.push(section(
        KafkaHeading::FollowUps,
        &[
            Kafka::FollowUp40,
            Kafka::FollowUpNotCached,
            Kafka::FollowUpSameBytes,
            Kafka::FollowUpPosition,
        ],
    ));
    out.push(Section {
        heading: say(&Msg::KafkaHeading(KafkaHeading::Sources)),
        bullets: SOURCES.iter().map(|s| s.to_string()).collect(),
    });
    out
}

/// Where each claim of the answer can be checked (the same in every language).
const SOURCES: [&str; 14] = [
    "Kafka storage/…/log/LogSegment.java: read → translateOffset → FileRecords.slice",
    "Kafka storage/…/log/OffsetIndex.java lookup, AbstractIndex.java: the sparse, mmapped index and its binary search",
    "Kafka clients/…/record/FileRecords.java: writeTo → TransferableChannel.transferFrom",
    "Kafka clients/…/network/PlaintextTransportLayer.java (transferTo), SslTransportLayer.java (transferFrom: read, encrypt, write)",
    "Kafka storage/…/log/LogValidator.java: offsets and leader epoch set in place, recompression when the codec differs",
    "Kafka UnifiedLog.roll: the flush-log task flushes a segment when it rolls",
    "KIP-896 / KAFKA-18269 (Kafka 4.0): old protocol versions and down-conversion removed; KIP-724: message formats v0 and v1 dropped",
    "KAFKA-7504: sendfile on a page-cache miss blocks the network thread",
    "OpenJDK src/java.base/linux/native/libnio/ch/FileDispatcherImpl.c: transferTo0 tries copy_file_range, then sendfile (JDK-8292562)",
    "Linux fs/read_write.c do_sendfile; fs/splice.c splice_direct_to_actor (current->splice_pipe), splice_to_socket",
    "Linux Documentation/networking/tls.rst: TLS_TX_ZEROCOPY_RO (kTLS sendfile without the in-kernel copy)",
    "Kafka clients/…/network/NetworkReceive.java readFrom: memoryPool.tryAllocate, then channel.read(buffer); PlaintextTransportLayer.java read → socketChannel.read",
    "Kafka clients/…/memory/MemoryPool.java: MemoryPool.NONE allocates with ByteBuffer.allocate (the clients' Selector uses it)",
    "OpenJDK src/java.base/share/classes/sun/nio/ch/IOUtil.java read: a heap buffer is read through a temporary direct buffer, then copied",
];

/// The four paths' sections, each with its figure when measured.
fn path_sections(lang: Lang, f: Option<&KafkaFigures>) -> Vec<Section> {
    let say = |m: &Msg| lesson::say(lang, m);
    let section = |h: KafkaHeading, lines: &[Kafka]| Section {
        heading: say(&Msg::KafkaHeading(h)),
        bullets: lines.iter().map(|k| say(&Msg::Kafka(*k))).collect(),
    };
    let mut out = Vec::new();
    let paths = [
        (
            KafkaHeading::ReadWrite,
            &[Kafka::RwCopies, Kafka::RwWholeFile][..],
            f.and_then(|f| f.read_write.as_ref()),
        ),
        (
            KafkaHeading::Mmap,
            &[Kafka::MmapCopies, Kafka::MmapFaults][..],
            f.and_then(|f| f.mmap.as_ref()),
        ),
        (
            KafkaHeading::Sendfile,
            &[
                Kafka::SendfileOneCall,
                Kafka::SendfileSg,
                Kafka::SendfileNoCompletion,
            ][..],
            f.and_then(|f| f.sendfile.as_ref()),
        ),
        (
            KafkaHeading::Splice,
            &[Kafka::SpliceBase][..],
            f.and_then(|f| f.splice.as_ref()),
        ),
    ];
    for (heading, lines, figures) in paths {
        let mut s = section(heading, lines);
        if let (Some(p), Some(all)) = (figures, f) {
            s.bullets.push(path_here(lang, heading, p, all));
        }
        out.push(s);
    }
    out
}

/// The ready-to-say answer, in order.
const ANSWER: [Kafka; 10] = [
    Kafka::Answer1,
    Kafka::Answer2,
    Kafka::Answer3,
    Kafka::Answer4,
    Kafka::Answer5,
    Kafka::Answer6,
    Kafka::Answer7,
    Kafka::Answer8,
    Kafka::Answer9,
    Kafka::Answer10,
];

/// "Measured here: …" for one of the four paths.
fn path_here(lang: Lang, heading: KafkaHeading, p: &PathFigures, f: &KafkaFigures) -> String {
    let say = |m: &Msg| lesson::say(lang, m);
    let calls = say(&Msg::PathCalls {
        syscalls: p.syscalls,
        by_name: &p.by_name,
    });
    let copy = say(&Msg::ServingCopy {
        ms_per_gib: p.copy_ms_per_gib.map(|(s, _)| s),
    });
    let bytes = f.bytes;
    let what = match heading {
        KafkaHeading::Mmap => say(&Msg::MmapHere {
            bytes,
            calls: &calls,
            minor_faults: p.minor_faults,
            copy: &copy,
        }),
        KafkaHeading::Sendfile => say(&Msg::SendfileHere {
            bytes,
            calls: &calls,
            copy: &copy,
            read_write_ms_per_gib: f
                .read_write
                .as_ref()
                .and_then(|r| r.copy_ms_per_gib)
                .map(|(s, _)| s),
        }),
        _ => say(&Msg::PathHere {
            bytes,
            calls: &calls,
            copy: &copy,
        }),
    };
    say(&Msg::MeasuredHere(&what))
}

/// "min–max" of a figure over the connections, or one number when they agree.
fn range(v: impl Iterator<Item = u64>) -> String {
    let v: Vec<u64> = v.collect();
    match (v.iter().min(), v.iter().max()) {
        (Some(lo), Some(hi)) if lo == hi => thousands(*lo),
        (Some(lo), Some(hi)) => format!("{}–{}", thousands(*lo), thousands(*hi)),
        _ => "n/a".into(),
    }
}

fn parallel_line(lang: Lang, p: &Parallel) -> String {
    lesson::say(
        lang,
        &Msg::Parallel {
            connections: p.connections,
            file_bytes: p.file_bytes,
            cached_pct: p.cached_pct,
            aggregate_mib_s: p.aggregate_mib_s,
            sendfile_calls: &range(p.served.iter().map(|s| s.sendfile_calls)),
            partial: &range(p.served.iter().map(|s| s.partial)),
            eagain: &range(p.served.iter().map(|s| s.eagain)),
        },
    )
}

fn witness_line(lang: Lang, w: &Witness) -> String {
    let m = match w {
        Witness::NotAvailable(why) => Msg::WitnessNotAvailable { why },
        Witness::Traced {
            java,
            file_bytes,
            transfer_to_calls,
            transfer_to_partial,
            copy_file_range_calls,
            copy_file_range_errors,
            sendfile_calls,
            sendfile_bytes,
            sendfile_errors,
            path,
        } => Msg::WitnessTraced {
            java,
            jdk: if *copy_file_range_calls == 0 {
                JdkTransfer::SendfileOnly
            } else {
                JdkTransfer::CopyFileRangeFirst
            },
            copy_file_range_calls: *copy_file_range_calls,
            copy_file_range_errors: *copy_file_range_errors,
            file_bytes: *file_bytes,
            transfer_to_calls: *transfer_to_calls,
            transfer_to_partial: *transfer_to_partial,
            sendfile_calls: *sendfile_calls,
            sendfile_bytes: *sendfile_bytes,
            sendfile_errors: *sendfile_errors,
            path,
        },
    };
    lesson::say(lang, &m)
}
