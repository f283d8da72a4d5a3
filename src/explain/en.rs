//! Every text `explain` prints, in English.

use super::kafka::{Parallel, Witness};
use super::{KafkaFigures, Measured, Myth, PathFigures, Section, Texts};
use crate::method::{Band, MethodKind, Place, StepKind, Textbook};
use crate::report::thousands;

pub struct English;

impl English {
    /// What the scheduler switches measured say, and no more.
    fn switches(&self, m: &Measured) -> String {
        match m.voluntary {
            0 => "The thread never blocked (0 voluntary context switches): the socket always had room.".into(),
            n => format!(
                "The scheduler context switches above are something else: the thread blocked {n} time{} (voluntary switches) — typically waiting for room in the socket buffer, which this run does not show.",
                if n == 1 { "" } else { "s" }
            ),
        }
    }
}

/// "n syscalls (by name) = 2n user↔kernel transitions", or n/a with the reason.
fn calls(p: &PathFigures) -> String {
    match p.syscalls {
        Some(n) => format!(
            "{} syscall{} ({}) = {} user↔kernel transitions",
            thousands(n),
            if n == 1 { "" } else { "s" },
            p.by_name,
            thousands(2 * n)
        ),
        None => format!(
            "n/a syscalls: perf could not count them (see `copylab doctor`); the path itself counted {}",
            p.by_name
        ),
    }
}

/// The sampled copy time of the serving thread, or n/a.
fn serving_copy(p: &PathFigures) -> String {
    match p.copy_ms_per_gib {
        Some((s, _)) => format!("the serving thread spent {s:.0} ms per GiB in copy routines"),
        None => "copy time n/a (perf sampling refused: run as root)".into(),
    }
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

fn parallel_line(p: &Parallel) -> String {
    format!(
        "Measured here: {} connection{} each fetching the same {} ({} in the page cache before), received by `copylab fetch --connections {}`: {} MiB/s in all; per connection {} sendfile calls on a non-blocking socket, {} of them partial (then a wait in poll), {} EAGAIN.",
        p.connections,
        if p.connections == 1 { "" } else { "s" },
        super::size_text(p.file_bytes),
        p.cached_pct.map_or("n/a".into(), |c| format!("{c:.0}%")),
        p.connections,
        p.aggregate_mib_s
            .map_or("n/a".into(), |m| format!("{m:.0}")),
        range(p.served.iter().map(|s| s.sendfile_calls)),
        range(p.served.iter().map(|s| s.partial)),
        range(p.served.iter().map(|s| s.eagain)),
    )
}

impl Texts for English {
    fn band(&self, b: Band) -> &'static str {
        match b {
            Band::User => "user space",
            Band::Kernel => "kernel space",
            Band::Hardware => "hardware",
        }
    }

    fn place(&self, p: Place) -> &'static str {
        match p {
            Place::Disk => "disk",
            Place::PageCache => "page cache",
            Place::UserBuffer => "user buffer",
            Place::UserMapping => "user mapping",
            Place::Pipe => "pipe",
            Place::SocketBuffer => "socket buffer",
            Place::Nic => "NIC",
        }
    }

    fn kind(&self, k: StepKind) -> &'static str {
        match k {
            StepKind::Dma => "DMA copy by a device, no CPU",
            StepKind::Cpu => "CPU copy of every byte",
            StepKind::CpuUnlessSg => {
                "no copy when the device does scatter-gather DMA (the skb's frags hold page references and the NIC reads the pages where they are); a CPU copy without it"
            }
            StepKind::Reference => "page references move, no copy",
            StepKind::Map => "pages mapped into the process, no copy",
            StepKind::Pin => {
                "pages pinned and lent to the socket until a completion, no copy — when the device does scatter-gather; without it TCP copies"
            }
        }
    }

    fn title(&self, m: MethodKind) -> &'static str {
        match m {
            MethodKind::ReadWrite => "read-write — read() into a buffer, write() it to the socket",
            MethodKind::Mmap => "mmap — map the file, write() straight from the mapping",
            MethodKind::Sendfile => {
                "sendfile — one call, file to socket inside the kernel (Kafka's transferTo)"
            }
            MethodKind::Splice => "splice — file → pipe → socket, page references instead of bytes",
            MethodKind::Vmsplice => {
                "vmsplice — read into fresh pages, lend them to a pipe, splice the pipe to the socket"
            }
            MethodKind::MsgZerocopy => {
                "msg-zerocopy — send(MSG_ZEROCOPY) from a mapping, completions on the error queue"
            }
            MethodKind::IoUringSplice => {
                "io-uring-splice — splice's pipe path, submitted in batches through an io_uring"
            }
            MethodKind::IoUringSendZc => {
                "io-uring-send-zc — zero-copy sends through an io_uring, two completions each"
            }
        }
    }

    fn during(&self, call: &str) -> String {
        if crate::method::is_io_uring_op(call) {
            format!("by {call}, submitted in a batch with io_uring_enter()")
        } else {
            format!("during {call}()")
        }
    }

    fn disk_dma(&self, call: Option<&str>, toucher: Option<&str>) -> String {
        let inside = match (call, toucher) {
            (Some(c), _) if crate::method::is_io_uring_op(c) => format!("inside {c}"),
            (Some(c), _) => format!("inside {c}()"),
            (None, Some(t)) if crate::method::is_io_uring_op(t) => {
                format!("inside the page fault {t} takes")
            }
            (None, Some(t)) => format!("inside the page fault {t}() takes"),
            (None, None) => "inside the page fault of the first touch".into(),
        };
        format!(
            "only on a page-cache miss, {inside} — often earlier, by readahead; on a hit the disk is not read at all"
        )
    }

    fn mapped_by_faults(&self, call: &str, toucher: Option<&str>) -> String {
        let touch = match toucher {
            Some(t) if crate::method::is_io_uring_op(t) => format!(", here inside {t}"),
            Some(t) => format!(", here inside {t}()"),
            None => String::new(),
        };
        format!(
            "{call}() only reserves addresses (no MAP_POPULATE): each page is mapped by a fault on first touch{touch}; on a cold cache the disk DMA happens inside that fault"
        )
    }

    fn colon(&self) -> &'static str {
        ":"
    }

    fn colon_space(&self) -> &'static str {
        " "
    }

    fn heading_steps(&self) -> &'static str {
        "Steps"
    }

    fn heading_textbook(&self) -> &'static str {
        "Textbook"
    }

    fn textbook(&self, t: &Textbook) -> String {
        let cpu = if t.cpu_copies == t.cpu_copies_with_sg_dma {
            format!(
                "{} CPU cop{}",
                t.cpu_copies,
                if t.cpu_copies == 1 { "y" } else { "ies" }
            )
        } else {
            format!(
                "{} CPU copy ({} with scatter-gather DMA)",
                t.cpu_copies, t.cpu_copies_with_sg_dma
            )
        };
        let calls = if t.syscalls_per_batch.is_empty() {
            format!("syscalls per chunk: {}", t.syscalls_per_chunk)
        } else {
            format!(
                "one syscall, {}, per batch of chunks (--batch sets how many)",
                t.syscalls_per_batch
            )
        };
        format!(
            "{cpu}, {} DMA copies, {} user↔kernel transitions (the \"context switches\" of interview answers); {calls}{}.",
            t.dma_copies,
            t.transitions,
            if t.syscalls_once.is_empty() {
                String::new()
            } else {
                format!(" ({} once)", t.syscalls_once)
            }
        )
    }

    fn heading_reality(&self) -> &'static str {
        "What Linux really does"
    }

    fn reality(&self, m: MethodKind) -> &'static [&'static str] {
        match m {
            MethodKind::ReadWrite => &[
                "The textbook counts one read and one write: 4 copies and 4 transitions for one buffer-full. A real server loops: a 256 MiB file with a 128 KiB buffer is 2,048 reads and 2,048 writes — 8,192 transitions, not 4, while the copies stay 4 per byte (2 CPU, 2 DMA).",
                "copylab uses pread64 (an explicit offset), so one open file can serve many connections.",
                "Both CPU copies are real: page cache → your buffer, your buffer → the socket.",
            ],
            MethodKind::Mmap => &[
                "One mmap, then as few writes as the socket allows — but the kernel still copies page cache → socket buffer.",
                "The pages must be mapped into the process: minor page faults and page-table work that read-write does not pay.",
                "If another process truncates the file, touching the missing pages raises SIGBUS; copylab never touches them itself and gets EFAULT from write instead.",
            ],
            MethodKind::Sendfile => &[
                "One syscall can move up to 2 GiB − 4 KiB (0x7ffff000 bytes): on a blocking socket a 256 MiB file goes out in a single call. On a non-blocking socket (Java NIO, so Kafka) sendfile returns as soon as the socket buffer is full, with a partial count, and the caller waits and calls again.",
                "sendfile is built on splice since Linux 2.6.23: do_sendfile → do_splice_direct → splice_to_socket with MSG_SPLICE_PAGES. When the device does scatter-gather (loopback does) the skb's frags hold references to the page-cache pages and the NIC reads them from there: the sender makes no CPU copy. Without NETIF_F_SG, tcp_sendmsg_locked copies.",
                "The socket references the page-cache pages with no completion: a change to the file after sendfile returns can still reach the wire, for as long as the bytes wait in the socket buffer.",
                "On loopback there is no NIC and no DMA to the wire: the receiver's recv() is a CPU copy, so 'zero copy' is not zero end to end.",
                "Java's FileChannel.transferTo is sendfile underneath on the direct path (the target is a socket or file channel); otherwise it maps chunks or loops through a buffer, and newer JDKs try copy_file_range first for file targets. Kafka cannot use it with TLS because encryption happens in the JVM.",
            ],
            MethodKind::Splice => &[
                "Two calls per pipe-full: file → pipe, pipe → socket. The pipe's size (64 KiB by default, up to /proc/sys/fs/pipe-max-size) sets how many.",
                "Page references move into the pipe, not bytes; the pipe → socket half is the code sendfile uses (splice_to_socket, MSG_SPLICE_PAGES): no copy when the device does scatter-gather, a copy in tcp_sendmsg_locked without it. And the data must pass through a pipe you create and manage.",
                "SPLICE_F_MOVE has done nothing since Linux 2.6.21; bytes left in the pipe after an error were never sent.",
            ],
            MethodKind::Vmsplice => &[
                "vmsplice lends your pages to the pipe instead of copying them: write()'s copy is gone, read()'s copy stays.",
                "The catch: nothing says when the kernel is done with the pages. On loopback they wait in the receiver's queue until it reads them; writing into them before that changes what the client receives.",
                "So copylab never reuses a page: each 4 MiB region is a fresh mmap, unmapped once spliced. The kernel zero-fills every fresh page — zeroing is itself a write to memory, which cancels the copy saved — and each page costs a fault.",
                "The pipe → socket splice is sendfile's code: no copy with scatter-gather, one without.",
            ],
            MethodKind::MsgZerocopy => &[
                "SO_ZEROCOPY on the socket, then send(MSG_ZEROCOPY): the socket pins the mapped pages and the call returns before the data has left. Like sendfile, this needs a device with scatter-gather (NETIF_F_SG); without it tcp_sendmsg_locked copies.",
                "Every send owes a completion, read from the socket's error queue with recvmsg(MSG_ERRQUEUE); the kernel merges them into ranges of send ids. Until its range completes, a page must not be modified: the NIC may still read it (unmapping is allowed; the socket holds its own reference).",
                "On loopback the kernel copies anyway — the receiver could hold the pages forever — and says so in each completion (SO_EE_CODE_ZEROCOPY_COPIED). copylab counts those completions instead of assuming.",
                "Unix sockets refuse SO_ZEROCOPY. With too much pinned (optmem_max, RLIMIT_MEMLOCK) send fails with ENOBUFS: copylab reads completions and retries, or sends that chunk with a plain copy and says so.",
            ],
            MethodKind::IoUringSplice => &[
                "The same two splices per pipe-full, as linked entries in a ring shared with the kernel: one io_uring_enter submits a whole batch (--batch) and waits for it.",
                "A splice cannot be attempted without blocking, so the kernel hands each one to an io-wq worker thread (iou-wrk-<tid>). The serving thread's syscalls and CPU drop; the work does not. copylab measures the workers' CPU on its own line.",
                "io_uring is a way to submit work: whether bytes are copied depends on the operation. IORING_OP_SPLICE is splice — no copy with scatter-gather, one without — and the lesson here is in the syscall column.",
            ],
            MethodKind::IoUringSendZc => &[
                "IORING_OP_SEND_ZC pins the mapped pages like MSG_ZEROCOPY, without SO_ZEROCOPY or the error queue.",
                "Each send completes twice: its result (bytes sent, flagged IORING_CQE_F_MORE), then a notification (IORING_CQE_F_NOTIF) once the pages are free. With IORING_SEND_ZC_REPORT_USAGE the notification says whether the kernel copied.",
                "The sends of one socket are linked so the stream stays in order; a batch goes in with one io_uring_enter. Unix sockets refuse zero-copy sends.",
            ],
        }
    }

    fn heading_measured(&self) -> &'static str {
        "Measured here"
    }

    fn measured(&self, m: &Measured) -> Vec<String> {
        let mut v = vec![format!(
            "{} over {} (median of {} runs): {} ({}) — read-write needed {}.",
            super::size_text(m.bytes),
            m.transport,
            m.runs,
            match m.syscalls {
                Some(1) => "1 syscall".to_string(),
                Some(n) => format!("{n} syscalls"),
                None => "n/a syscalls".into(),
            },
            m.by_name,
            m.rw_syscalls.map_or("n/a".into(), |n| n.to_string()),
        )];
        v.push(format!(
            "context switches {} voluntary / {} involuntary · page faults {} minor / {} major · sys CPU {:.1} ms (read-write {:.1} ms).",
            m.voluntary, m.involuntary, m.minor_faults, m.major_faults, m.sys_ms, m.rw_sys_ms
        ));
        if let Some(z) = &m.zerocopy {
            v.push(format!(
                "zero-copy sends {}, completed {}; the kernel reported {} of them copied{}.",
                z.sends,
                z.completed,
                z.copied,
                if z.plain_fallback > 0 {
                    format!(
                        " ({} chunks fell back to a plain send after ENOBUFS)",
                        z.plain_fallback
                    )
                } else {
                    String::new()
                }
            ));
        }
        if let Some(ms) = m.worker_cpu_ms {
            v.push(format!(
                "io-wq worker threads ran {ms:.1} ms of CPU for the serving thread — not in its figures above."
            ));
        }
        if let Some(c) = &m.copies {
            v.push(format!(
                "sampled CPU (cpu-clock): the serving thread spent {:.0} ms per GiB copying ({:.0}% of its samples; read-write's: {:.0} ms), the receiver {:.0} ms per GiB ({:.0}%) — its copy out of the socket stays on every path.",
                c.serving_ms_per_gib,
                c.serving_share_pct,
                c.rw_serving_ms_per_gib,
                c.receiver_ms_per_gib,
                c.receiver_share_pct
            ));
        }
        v
    }

    fn verdict(&self, m: &Measured) -> String {
        match (m.syscalls, m.expected_syscalls) {
            (Some(got), Some(want)) if got == want => format!(
                "Agrees with the model: {} per chunk × {} chunk{}{} = {want} syscall{} = {} user↔kernel transitions. The textbook's {} describe a single chunk{}. {}",
                m.per_chunk,
                m.chunks,
                if m.chunks == 1 { "" } else { "s" },
                match m.fresh_regions {
                    0 => String::new(),
                    n => format!(" + mmap + munmap × {n} region{} of fresh pages", if n == 1 { "" } else { "s" }),
                },
                if want == 1 { "" } else { "s" },
                2 * want,
                m.textbook_transitions,
                if m.with_munmap {
                    " and leave out munmap"
                } else if m.fresh_regions > 0 {
                    " and leave out the fresh pages vmsplice needs"
                } else {
                    ""
                },
                self.switches(m)
            ),
            (Some(got), Some(want)) => format!(
                "Differs from the textbook's {want}: {got} syscalls were made, because the socket took fewer bytes per call than asked (short writes) or the counters saw calls outside the data path. The textbook's model has no notion of that."
            ),
            (Some(got), None) => format!(
                "{got} syscalls: {} The model has no fixed count here: how many calls it takes depends on when the kernel completes each request.",
                m.per_chunk
            ),
            _ => "Syscalls could not be counted on this machine (see `copylab doctor`), so only the CPU and context-switch figures can be compared.".into(),
        }
    }

    fn heading_myths(&self) -> &'static str {
        "Interview myths, corrected"
    }

    fn myths(&self) -> &'static [Myth] {
        &[
            Myth {
                claim: "\"read/write costs 4 context switches\"",
                truth: "Those 4 are user↔kernel mode transitions, 2 per syscall. Scheduler context switches are a different thing, counted by perf, and depend on blocking. copylab shows both.",
                command: "copylab compare --methods read-write,sendfile",
            },
            Myth {
                claim: "\"zero copy means the data is never copied\"",
                truth: "The DMA copies remain, and on loopback the receiver's recv() is a CPU copy. sendfile removes the sender's CPU copies, nothing more.",
                command: "copylab explain sendfile --measure",
            },
            Myth {
                claim: "\"mmap is free\"",
                truth: "It trades a copy for page faults and page-table work, and a file truncated under the mapping raises SIGBUS.",
                command: "copylab compare --methods read-write,mmap",
            },
            Myth {
                claim: "\"Kafka's zero copy is something special\"",
                truth: "FileChannel.transferTo is sendfile underneath on the direct path (a socket or file channel target). With TLS, Kafka cannot use it: the bytes must be copied up into the JVM to be encrypted. `copylab explain kafka` gives the whole answer.",
                command: "copylab explain kafka --measure",
            },
            Myth {
                claim: "\"std::io::copy from a File to a TcpStream uses sendfile\"",
                truth: "In today's Rust it does not: it reads into a buffer and writes to the socket with sendto (copylab issues sendfile itself). Rust did use sendfile and splice there (rust-lang/rust#75272) and stopped (#108283) for the hazard sendfile's section describes: bytes written to the file after the copy returned could still reach the other side. Trace sendto too, or you miss every socket write.",
                command: "strace -f -e trace=sendfile,read,write,sendto <your program>",
            },
            Myth {
                claim: "\"the first run and the tenth run cost the same\"",
                truth: "A warm page cache hides the disk: the DMA from disk happens only on a cold read. --cache cold drops the file's pages before every run; watch mmap's major faults and read-write's voluntary context switches appear.",
                command: "copylab compare --cache cold   vs   copylab compare --cache warm",
            },
            Myth {
                claim: "\"io_uring is zero copy\"",
                truth: "io_uring is a way to submit work; whether bytes are copied depends on the operation: IORING_OP_SEND_ZC pins pages like MSG_ZEROCOPY, IORING_OP_SPLICE moves page references like splice, IORING_OP_READ and WRITE copy. Its splice runs on kernel worker threads, so the serving thread looks idle while another thread does the work.",
                command: "copylab compare --methods splice,io-uring-splice",
            },
            Myth {
                claim: "\"MSG_ZEROCOPY makes loopback benchmarks zero copy\"",
                truth: "On loopback the kernel copies every zero-copy send and says so in the completion; zero copy pays off only for large sends to a real NIC.",
                command: "copylab compare --methods sendfile,msg-zerocopy",
            },
        ]
    }

    fn kafka_title(&self) -> &'static str {
        "Kafka's zero copy — 「请你简单说一下Kafka的零拷贝原理」, the answer step by step"
    }

    fn kafka(&self, f: Option<&KafkaFigures>) -> Vec<Section> {
        let here = |p: Option<&PathFigures>, extra: &dyn Fn(&PathFigures) -> String| {
            p.map(|p| format!("Measured here: {}.", extra(p)))
        };
        let size = f.map(|f| super::size_text(f.bytes)).unwrap_or_default();
        let mut out = Vec::new();
        let mut intro = vec![
            "The answer walks from the traditional path to sendfile, then says where Kafka uses it, where it does not, and what stays. Each step has a figure measured on this machine with --measure.".to_string(),
        ];
        match f {
            Some(f) => intro.push(format!(
                "Figures: a {} generated file over tcp 127.0.0.1 (loopback: no NIC), median of {} runs of `copylab compare`, read-write buffer {}, splice pipe {}.",
                size,
                f.runs,
                super::size_text(f.buffer_bytes),
                f.pipe_bytes.map_or("n/a".into(), super::size_text)
            )),
            None => intro.push(
                "Run `copylab explain kafka --measure` to have each step's figure measured here.".into(),
            ),
        }
        out.push(Section {
            heading: "The question".into(),
            bullets: intro,
        });

        let mut rw = vec![
            "read() copies page cache → user buffer, write() copies user buffer → socket buffer, and the disk and the NIC add one DMA each: 4 copies (2 CPU, 2 DMA) and 4 user↔kernel transitions — for one buffer-full.".to_string(),
            "For a whole file the copies stay 4 per byte, but the transitions are 4 per buffer-full: a 1 GiB log segment through a 128 KiB buffer is 16,384 syscalls, 32,768 transitions. The disk DMA happens only on a page-cache miss.".into(),
        ];
        rw.extend(here(f.and_then(|f| f.read_write.as_ref()), &|p| {
            format!("{size}: {}; {}", calls(p), serving_copy(p))
        }));
        out.push(Section {
            heading: "① The traditional path, read + write".into(),
            bullets: rw,
        });

        let mut mm = vec![
            "mmap() maps the page cache into the process and write() copies from the mapping to the socket buffer: 3 copies (1 CPU, 2 DMA), still 4 transitions (mmap, write).".to_string(),
            "mmap only reserves addresses: each page is mapped by a minor fault on first touch, here inside write(), and a truncated file raises SIGBUS.".into(),
        ];
        mm.extend(here(f.and_then(|f| f.mmap.as_ref()), &|p| {
            format!(
                "{size}: {}; {} minor page faults; {}",
                calls(p),
                thousands(p.minor_faults),
                serving_copy(p)
            )
        }));
        out.push(Section {
            heading: "② mmap + write".into(),
            bullets: mm,
        });

        let mut sf = vec![
            "sendfile() moves file to socket inside the kernel in one call: 2 transitions, and no user buffer.".to_string(),
            "Without scatter-gather DMA the kernel still copies page cache → socket buffer: 3 copies (1 CPU). With SG-DMA the skb holds references to the page-cache pages (its frags) and the NIC gathers them by DMA: 2 copies, both DMA, no CPU copy. That is the \"zero\" of zero copy.".into(),
            "The pages in flight have no completion: a change to the file after sendfile returns can still reach the wire.".into(),
        ];
        sf.extend(here(f.and_then(|f| f.sendfile.as_ref()), &|p| {
            format!(
                "{size} on a blocking socket: {}; {} (read-write's: {})",
                calls(p),
                serving_copy(p),
                f.and_then(|f| f.read_write.as_ref())
                    .and_then(|r| r.copy_ms_per_gib)
                    .map_or("n/a".into(), |(s, _)| format!("{s:.0} ms"))
            )
        }));
        out.push(Section {
            heading: "③ sendfile, and what SG-DMA changes".into(),
            bullets: sf,
        });

        let mut sp = vec![
            "Since Linux 2.6.23 sendfile is built on splice: do_sendfile → do_splice_direct → splice_to_socket with MSG_SPLICE_PAGES. splice itself needs a pipe: file → pipe → socket, two calls per pipe-full, and the same 0 CPU copies with SG, 1 without.".to_string(),
        ];
        sp.extend(here(f.and_then(|f| f.splice.as_ref()), &|p| {
            format!("{size}: {}; {}", calls(p), serving_copy(p))
        }));
        out.push(Section {
            heading: "④ splice".into(),
            bullets: sp,
        });

        out.push(Section {
            heading: "Where Kafka uses it".into(),
            bullets: vec![
                "The broker answers consumer fetches and follower (replica) fetches from log segment files: FileRecords.writeTo → TransferableChannel.transferFrom → PlaintextTransportLayer → FileChannel.transferTo → sendfile.".into(),
                "Why it works: a record batch has one format from the producer to the disk to the wire, so the broker never decodes or re-encodes a fetch: it sends a byte range of the segment as it is.".into(),
                "Consumers usually read what producers just wrote, still in the page cache: such a fetch never reads the disk.".into(),
            ],
        });

        out.push(Section {
            heading: "Where it does not".into(),
            bullets: vec![
                "Produce requests: the broker reads them from the socket into the JVM and writes them to the segment through the page cache — no zero copy, and no fsync by default (durability comes from replication; log.flush.interval.* can force one).".into(),
                "TLS: SslTransportLayer reads the file into the JVM, encrypts there and writes, because the data must be copied up to user space (the JVM) to be encrypted. Kernel TLS with SSL_sendfile is how nginx keeps sendfile under TLS, and it still spends a CPU pass encrypting.".into(),
                "Old clients that need an older message format: the broker down-converts the batches in the JVM, so their fetches are copied.".into(),
                "mmap: Kafka maps its index files (.index, .timeindex), not the log. Serving messages out of an mmap'ed commit log is RocketMQ's design — a common confusion between the two.".into(),
            ],
        });

        let mut par = vec![
            "Many consumers read the same cached segment over many connections: one copy of the pages in memory, each connection a transferTo from it.".to_string(),
            "Kafka's sockets are non-blocking (Java NIO): each transferTo writes what fits in the socket buffer and returns a partial count; the network thread serves other connections and calls again when the socket is writable.".into(),
        ];
        if let Some(f) = f {
            par.extend(f.parallel.iter().map(parallel_line));
        }
        out.push(Section {
            heading: "\"Parallel transferTo\"".into(),
            bullets: par,
        });

        let mut stays = vec![
            "The DMA copies stay (disk → page cache on a miss, socket buffer → NIC), and so does the receiver's copy: the consumer's recv() copies every byte from its socket into its JVM.".to_string(),
        ];
        stays.extend(here(f.and_then(|f| f.sendfile.as_ref()), &|p| match p
            .copy_ms_per_gib
        {
            Some((_, r)) => format!(
                "with sendfile the receiver copied for {r:.0} ms per GiB — on loopback, with no NIC, the only copy left"
            ),
            None => "the receiver's copy time n/a (perf sampling refused: run as root)".into(),
        }));
        out.push(Section {
            heading: "What stays".into(),
            bullets: stays,
        });

        if let Some(f) = f {
            out.push(Section {
                heading: "Witness: Java's FileChannel.transferTo".into(),
                bullets: vec![match &f.witness {
                    Witness::NotAvailable(why) => {
                        format!("The sendfile calls of a Java transferTo program: n/a ({why}).")
                    }
                    Witness::Traced {
                        file_bytes,
                        transfer_to_calls,
                        transfer_to_partial,
                        sendfile_calls,
                        sendfile_bytes,
                        sendfile_errors,
                        path,
                    } => format!(
                        "Measured here: a Java program sent the {} file with FileChannel.transferTo on a non-blocking SocketChannel: {} transferTo calls, {} of them partial; `copylab trace` saw {} sendfile64 calls moving {} of its {} bytes ({} returned EAGAIN). trace says: {path}",
                        super::size_text(*file_bytes),
                        thousands(*transfer_to_calls),
                        thousands(*transfer_to_partial),
                        thousands(*sendfile_calls),
                        thousands(*sendfile_bytes),
                        thousands(*file_bytes),
                        thousands(*sendfile_errors),
                    ),
                }],
            });
        }

        out.push(Section {
            heading: "Ready to say".into(),
            bullets: vec![
                "Traditionally a file goes out with read + write: 4 copies, 2 by DMA and 2 by the CPU through a user buffer, and 4 user↔kernel transitions per buffer-full.".into(),
                "mmap + write saves the copy into user space but still copies into the socket, and pays page faults.".into(),
                "sendfile does it in one call inside the kernel: with scatter-gather DMA the socket buffer only holds references to the page-cache pages and the NIC reads them directly, so no CPU copy is left — 2 DMA copies, 2 transitions.".into(),
                "Kafka uses it where the broker serves fetches: FileRecords.writeTo calls FileChannel.transferTo, which is sendfile on Linux.".into(),
                "It works because the record batch is the same bytes from producer to disk to consumer: the broker never re-encodes a fetch.".into(),
                "Consumers usually read recent data from the page cache, so a fetch often never touches the disk.".into(),
                "Zero copy does not apply to produce requests, which are read into the JVM and written through the page cache, nor to TLS, which must encrypt in the JVM, nor to old clients that need down-conversion.".into(),
                "Kafka's mmap is for its index files, not for the log itself.".into(),
                "Zero copy means no CPU copy on the broker: the DMA copies remain, and the consumer still copies out of its socket.".into(),
                "On a non-blocking socket transferTo sends what fits and returns, so a busy broker calls it many times per fetch.".into(),
            ],
        });
        out
    }

    fn legend(&self) -> &'static str {
        "DMA = a device copies · CPU = the processor copies · CPU* = a CPU copy only without scatter-gather DMA: with it the skb holds page references and the NIC reads the page cache directly · ref = page references move · map = pages mapped · pin = pages pinned until a completion"
    }
}
