//! Byte-exact delivery: every method over every transport at awkward sizes, the empty file, and
//! a sparse file past sendfile's 2 GiB per-call limit; the syscall shape of each path, read from
//! the JSON.

use crate::util::*;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::time::Duration;

const MIB: u64 = 1 << 20;

/// Serve a `size`-byte pseudo-random file with every method over `transport` (the zero-copy
/// sends only over TCP: Unix sockets refuse them) and check every delivery.
fn delivery(size: u64, transport: &str) {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", size, 0xC0FFEE);
    let big = size > 2 * MIB;
    let mut args = vec![
        "compare",
        path_str(&file),
        "--methods",
        "all",
        "--transport",
        transport,
        "--runs",
        "1",
        "--warmup",
        "0",
        "--verify-all",
        "--json",
    ];
    if big {
        // Larger than both the read-write buffer and the pipe: many chunks per method.
        args.extend_from_slice(&["--buffer", "64K", "--pipe-size", "64K"]);
    }
    let r = run_json(&args, &[]);

    assert_eq!(r["transport"], transport);
    assert_eq!(num(&r["file"]["bytes"], "file.bytes"), size);
    assert_eq!(r["file"]["generated"], false);
    assert_eq!(r["file"]["path"], path_str(&file));
    let xxh3 = r["file"]["xxh3"].as_str().expect("file.xxh3 is a string");
    assert_eq!(xxh3.len(), 16, "xxh3 is 16 hex digits: {xxh3}");
    // copylab's hash is of the real file content (verified = receiver's hash matched it).
    assert_eq!(
        xxh3,
        xxh3_of(&file),
        "file.xxh3 differs from an independent XXH3"
    );
    assert_eq!(r["options"]["verify"], "all");

    let names = method_names(&r);
    let expected: Vec<&str> = ALL_METHODS
        .into_iter()
        .filter(|m| transport == "tcp" || !TCP_ONLY.contains(m))
        .collect();
    assert_eq!(names, expected, "--methods all runs every path in order");
    let warnings = r["warnings"].to_string();
    for m in TCP_ONLY {
        let skipped = format!("{m} skipped");
        assert_eq!(
            warnings.contains(&skipped),
            transport == "unix",
            "{m} over {transport}: skipped with a warning exactly on unix: {warnings}"
        );
    }
    assert_all_verified(&r, size, true);
    for m in &expected {
        assert_eq!(runs(method(&r, m)).len(), 1, "{m}: --runs 1");
    }
    if transport == "tcp" {
        for m in TCP_ONLY {
            let run = &runs(method(&r, m))[0];
            let (sends, completed, copied, _) = zerocopy(run);
            assert_eq!(
                completed, sends,
                "{m}: every zero-copy send completed: {run:#}"
            );
            assert!(copied <= completed, "{m}: {run:#}");
        }
    }
    for m in ALL_METHODS {
        if let Some(x) = r["methods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["method"] == m)
        {
            let run = &runs(x)[0];
            assert_eq!(
                run["zerocopy"].is_object(),
                TCP_ONLY.contains(&m),
                "{m}: a zerocopy tally exactly for the zero-copy paths: {run:#}"
            );
            assert_eq!(
                run["io_workers"].is_object(),
                m.starts_with("io-uring"),
                "{m}: io_workers exactly for the io_uring paths: {run:#}"
            );
        }
    }

    if big {
        let buffer = num(&r["options"]["buffer_bytes"], "buffer_bytes");
        let pipe = num(&r["options"]["pipe_bytes_granted"], "pipe_bytes_granted");
        let batch = num(&r["options"]["batch"], "batch");
        assert_eq!(buffer, 64 << 10);
        assert!(
            size > buffer && size > pipe,
            "size {size} must exceed buffer {buffer} and pipe {pipe}"
        );
        // Several chunks really were needed.
        let rw = &runs(method(&r, "read-write"))[0];
        assert_eq!(
            by_name(rw, "pread64"),
            size.div_ceil(buffer),
            "read-write chunks: {rw:#}"
        );
        let sp = &runs(method(&r, "splice"))[0];
        assert!(
            by_name(sp, "splice") >= 2 * size.div_ceil(pipe),
            "splice chunks: {sp:#}"
        );
        syscall_shapes(&r, transport, size, buffer, pipe, batch);
    }
}

/// What each newer path must have asked the kernel for, from the JSON's per-syscall counts.
fn syscall_shapes(
    r: &serde_json::Value,
    transport: &str,
    size: u64,
    buffer: u64,
    pipe: u64,
    batch: u64,
) {
    let pipefuls = size.div_ceil(pipe);
    let region = num(
        &r["options"]["vmsplice_region_bytes"],
        "vmsplice_region_bytes",
    );

    // vmsplice: one pread64 and at least one vmsplice and one splice per pipe-full, one fresh
    // mapping (mmap + munmap) per region, and no write.
    let vm = &runs(method(r, "vmsplice"))[0];
    assert_eq!(by_name(vm, "pread64"), pipefuls, "vmsplice reads: {vm:#}");
    assert!(
        by_name(vm, "vmsplice") >= pipefuls,
        "vmsplice calls: {vm:#}"
    );
    assert!(
        by_name(vm, "splice") >= pipefuls,
        "vmsplice splices: {vm:#}"
    );
    let regions = size.div_ceil(region.max(pipe));
    assert_eq!(by_name(vm, "mmap"), regions, "vmsplice regions: {vm:#}");
    assert_eq!(by_name(vm, "munmap"), regions, "vmsplice regions: {vm:#}");
    assert_eq!(by_name(vm, "write"), 0, "vmsplice writes nothing: {vm:#}");

    // io-uring-splice: io_uring_enter instead of splice calls; fewer enters than chunks.
    let us = &runs(method(r, "io-uring-splice"))[0];
    let enters = by_name(us, "io_uring_enter");
    assert_eq!(
        by_name(us, "splice"),
        0,
        "io-uring-splice makes no splice syscall: {us:#}"
    );
    assert!(
        enters >= pipefuls.div_ceil(batch) && enters < pipefuls,
        "io-uring-splice: {enters} io_uring_enter for {pipefuls} chunks in batches of {batch}: {us:#}"
    );
    // The kernel runs the splices on io-wq workers: their CPU is measured apart.
    let w = &us["io_workers"];
    assert!(
        num(&w["threads"], "io_workers.threads") >= 1 && num(&w["cpu_ns"], "io_workers.cpu_ns") > 0,
        "io-uring-splice: io-wq workers did the splicing: {us:#}"
    );

    if transport != "tcp" {
        return;
    }
    let chunks = size.div_ceil(buffer);
    // msg-zerocopy: one sendto per chunk (more if the kernel refused or took part), recvmsg for
    // the completions, one completion per send.
    let mz = &runs(method(r, "msg-zerocopy"))[0];
    let (sends, completed, copied, plain) = zerocopy(mz);
    assert!(
        sends + plain >= chunks,
        "msg-zerocopy sends {sends} + {plain} plain for {chunks} chunks: {mz:#}"
    );
    assert!(
        by_name(mz, "sendto") >= sends,
        "msg-zerocopy: a sendto per send: {mz:#}"
    );
    assert!(
        by_name(mz, "recvmsg") >= 1,
        "msg-zerocopy reads completions: {mz:#}"
    );
    assert_eq!(
        completed, sends,
        "msg-zerocopy: a completion per send: {mz:#}"
    );
    assert_eq!(
        by_name(mz, "write"),
        plain,
        "msg-zerocopy writes only its fallbacks: {mz:#}"
    );
    // Loopback: the kernel copies every zero-copy send (the receiver may hold the data
    // indefinitely) and says so in the completion.
    assert_eq!(copied, completed, "msg-zerocopy on loopback: {mz:#}");

    // io-uring-send-zc: io_uring_enter, no sendto; two completions per send.
    let uz = &runs(method(r, "io-uring-send-zc"))[0];
    let (sends, completed, copied, plain) = zerocopy(uz);
    assert_eq!(
        by_name(uz, "sendto"),
        0,
        "io-uring-send-zc makes no sendto: {uz:#}"
    );
    assert!(
        sends + plain >= chunks,
        "io-uring-send-zc sends {sends} for {chunks} chunks: {uz:#}"
    );
    assert!(
        by_name(uz, "io_uring_enter") >= chunks.div_ceil(batch),
        "io-uring-send-zc enters: {uz:#}"
    );
    assert_eq!(
        completed, sends,
        "io-uring-send-zc: a notification per send: {uz:#}"
    );
    assert_eq!(copied, completed, "io-uring-send-zc on loopback: {uz:#}");
}

macro_rules! delivery_tests {
    ($($name:ident: $size:expr, $transport:expr;)*) => {
        $(
            #[test]
            fn $name() {
                delivery($size, $transport);
            }
        )*
    };
}

delivery_tests! {
    delivery_tcp_0: 0, "tcp";
    delivery_unix_0: 0, "unix";
    delivery_tcp_1: 1, "tcp";
    delivery_unix_1: 1, "unix";
    delivery_tcp_4095: 4095, "tcp";
    delivery_unix_4095: 4095, "unix";
    delivery_tcp_4096: 4096, "tcp";
    delivery_unix_4096: 4096, "unix";
    delivery_tcp_4097: 4097, "tcp";
    delivery_unix_4097: 4097, "unix";
    delivery_tcp_1mib_plus_1: MIB + 1, "tcp";
    delivery_unix_1mib_plus_1: MIB + 1, "unix";
    delivery_tcp_3mib_plus_7_small_chunks: 3 * MIB + 7, "tcp";
    delivery_unix_3mib_plus_7_small_chunks: 3 * MIB + 7, "unix";
}

/// An empty file: success, nothing sent, and syscall counts that are real zeros.
#[test]
fn empty_file_sends_nothing_and_counts_real_zeros() {
    let dir = tempdir();
    let file = write_file(dir.path(), "empty", 0, 1);
    let perf = is_root();
    let counters = if perf { "perf" } else { "auto" };
    let r = run_json(
        &[
            "compare",
            path_str(&file),
            "--json",
            "--methods",
            "all",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--counters",
            counters,
        ],
        &[],
    );
    assert_eq!(num(&r["file"]["bytes"], "file.bytes"), 0);
    assert_all_verified(&r, 0, false);
    for m in ALL_METHODS {
        let med = &method(&r, m)["median"];
        for run in runs(method(&r, m)).iter().chain([med]) {
            assert_eq!(num(&run["bytes"], "bytes"), 0, "{m}");
            // Nothing to time: not measured (null), never a zero rate.
            assert!(run["throughput_mib_s"].is_null(), "{m}: throughput {run:#}");
            assert!(run["wall_ns"].is_null(), "{m}: wall {run:#}");
            for (name, v) in run["syscalls"]["by_name"].as_object().unwrap() {
                if perf {
                    assert_eq!(
                        v.as_u64(),
                        Some(0),
                        "{m}: by_name.{name} must be a real 0: {run:#}"
                    );
                } else {
                    assert_eq!(v.as_u64().unwrap_or(0), 0, "{m}: by_name.{name}");
                }
            }
            if perf {
                assert_eq!(r["syscall_source"], "perf");
                assert_eq!(
                    run["syscalls"]["total"].as_u64(),
                    Some(0),
                    "{m}: syscalls.total must be a number 0 (not null): {run:#}"
                );
            }
            assert!(
                run["self_counted"]
                    .as_object()
                    .unwrap()
                    .values()
                    .all(|v| v == 0),
                "{m}: nothing self-counted: {run:#}"
            );
        }
    }
}

/// A sparse file of 2 GiB + 4097 bytes: sendfile needs exactly two calls (0x7ffff000 max each),
/// mmap one window per 256 MiB; marker bytes around the boundaries catch a wrong offset.
#[test]
fn sparse_file_past_sendfile_2gib_limit() {
    const SENDFILE_MAX: u64 = 0x7fff_f000;
    let size: u64 = (2 << 30) + 4097;
    let dir = tempdir();
    let path = dir.path().join("sparse.bin");
    let f = OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    f.set_len(size).unwrap();
    let window = 256 * MIB;
    let marks: [(u64, &[u8]); 9] = [
        (0, b"start"),
        (4093, b"page-edge"),
        (window - 3, b"win-edge"),
        (SENDFILE_MAX - 5, b"sendfile-edge"),
        (SENDFILE_MAX + 4096, b"after"),
        (7 * window + 11, b"seven"),
        (2 << 30, b"two-gib"),
        (size - 20, b"near-the-end"),
        (size - 1, b"!"),
    ];
    for (off, bytes) in marks {
        f.write_all_at(bytes, off).unwrap();
    }
    assert_eq!(f.metadata().unwrap().len(), size);
    drop(f);

    let out = Cmd::new(
        bin(),
        &[
            "compare",
            path_str(&path),
            "--methods",
            "sendfile,mmap",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--json",
        ],
    )
    .timeout(Duration::from_secs(900))
    .run();
    let r = parse_json(&out);
    assert_eq!(num(&r["file"]["bytes"], "file.bytes"), size);
    assert_all_verified(&r, size, true);

    let sf = &runs(method(&r, "sendfile"))[0];
    assert_eq!(
        by_name(sf, "sendfile64"),
        size.div_ceil(SENDFILE_MAX),
        "sendfile64 calls (max 0x7ffff000 bytes each): {sf:#}"
    );
    assert_eq!(by_name(sf, "sendfile64"), 2);

    let window = num(&r["options"]["mmap_window_bytes"], "mmap_window_bytes");
    assert_eq!(window, 256 * MIB);
    let mm = &runs(method(&r, "mmap"))[0];
    assert_eq!(
        by_name(mm, "mmap"),
        size.div_ceil(window),
        "one mmap per window: {mm:#}"
    );
    assert_eq!(
        by_name(mm, "munmap"),
        size.div_ceil(window),
        "one munmap per window: {mm:#}"
    );
}

/// The ports of the listening TCP sockets `pid` holds (its socket inodes in /proc/net/tcp).
fn listening_ports_of(pid: u32) -> Vec<u16> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let inodes: Vec<String> = fds
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .map(str::to_string)
        })
        .collect();
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    tcp.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address, state 0A (LISTEN), inode
            let (local, state, inode) = (f.get(1)?, f.get(3)?, f.get(9)?);
            if *state != "0A" || !inodes.iter().any(|i| i == inode) {
                return None;
            }
            u16::from_str_radix(local.split(':').nth(1)?, 16).ok()
        })
        .collect()
}

#[test]
fn a_stranger_connecting_first_to_the_loopback_pair_gets_nothing() {
    use std::io::Read;
    let dir = tempdir();
    let file = write_file(dir.path(), "secret.bin", 256 << 10, 77);
    let child = Cmd::copylab(&[
        "compare",
        path_str(&file),
        "--methods",
        "read-write",
        "--transport",
        "tcp",
        "--runs",
        "1",
        "--warmup",
        "0",
        "--json",
    ])
    .command()
    // Long enough that the stranger's 5 ms scan finds the port even when the machine is
    // busy with the rest of the suite (400 ms was missed once).
    .env("COPYLAB_TEST_CONNECT_DELAY_MS", "2000")
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("start copylab");
    let pid = child.id();
    // The stranger: watch for each new listening port of copylab's and connect to it first.
    let stranger = std::thread::spawn(move || {
        let (mut connected, mut stolen) = (0u32, 0u64);
        let mut tried = std::collections::BTreeSet::new();
        let give_up = std::time::Instant::now() + Duration::from_secs(60);
        while std::path::Path::new(&format!("/proc/{pid}/fd")).exists()
            && std::time::Instant::now() < give_up
        {
            for port in listening_ports_of(pid) {
                if !tried.insert(port) {
                    continue;
                }
                if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                    connected += 1;
                    s.set_read_timeout(Some(Duration::from_secs(20))).ok();
                    let mut got = Vec::new();
                    let _ = s.read_to_end(&mut got);
                    stolen += got.len() as u64;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        (connected, stolen)
    });
    let out = child.wait_with_output().expect("wait for copylab");
    let (connected, stolen) = stranger.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "compare failed: {stderr}");
    assert!(
        connected > 0,
        "the stranger never got to connect: the test did not exercise the race"
    );
    assert_eq!(stolen, 0, "a stranger received {stolen} bytes of the file");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_all_verified(&v, 256 << 10, true);
}
