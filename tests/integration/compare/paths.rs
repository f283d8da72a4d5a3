//! The paths beyond the classic four, where they differ: what the kernel refuses (zero-copy on
//! Unix sockets, io_uring switched off, too much pinned memory), what batching does to the
//! syscall count, what the table says about zero-copy completions, and the vmsplice fact the
//! vmsplice path is built around.

use crate::util::*;

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::Path;

const MIB: u64 = 1 << 20;

/// A Unix socket cannot carry zero-copy sends: naming such a path is a clear error, for
/// compare and for serve (which leaves no socket file behind).
#[test]
fn zero_copy_sends_are_refused_on_unix_sockets() {
    for m in TCP_ONLY {
        let out = run(
            &[
                "compare",
                "--size",
                "64K",
                "--methods",
                m,
                "--transport",
                "unix",
            ],
            &[],
        );
        assert_clean_error(&out, &["--methods", m, "TCP", "--transport tcp"]);

        let dir = tempdir();
        let file = write_file(dir.path(), "f.bin", 4096, 1);
        let sock = dir.path().join("s.sock");
        let out = run(
            &[
                "serve",
                path_str(&file),
                "--method",
                m,
                "--unix",
                path_str(&sock),
            ],
            &[],
        );
        assert_clean_error(&out, &["--method", m, "--transport tcp"]);
        assert!(!sock.exists(), "{m}: no socket file left behind");
    }
}

/// Run `bin args` unprivileged with a locked-memory limit of `memlock` bytes: MSG_ZEROCOPY and
/// IORING_OP_SEND_ZC charge pinned pages to the user (root, with CAP_IPC_LOCK, is not limited).
/// The user is this run's own, so no other test's pinned pages count against the limit.
fn run_as_nobody_with_memlock(bin: &Path, args: &[&str], memlock: u64, tmp: &Path) -> Out {
    let limit = format!("--memlock={memlock}:{memlock}");
    run_unprivileged(
        OsStr::new("prlimit"),
        &[limit.as_str(), "--", "setpriv"],
        bin,
        args,
        tmp,
    )
}

/// Forced ENOBUFS/ENOMEM: with 64 KiB of lockable memory, 128 KiB sends can never be pinned,
/// so every chunk goes out with a plain send and the report says so; 32 KiB sends fit one or
/// two at a time, so the paths must wait for completions and still deliver every byte.
#[test]
fn too_much_pinned_memory_falls_back_or_waits() {
    require!(
        Need::tool("setpriv"),
        Need::tool("prlimit"),
        Need::root("to drop to nobody under a memlock limit")
    );
    let dir = world_readable_dir();
    let bin = copy_bin_to(dir.path());
    let tmp = world_writable_dir();
    let size = 2 * MIB;
    let methods = TCP_ONLY.join(",");

    let args = |buffer: &'static str| {
        vec![
            "compare",
            "--size",
            "2M",
            "--methods",
            methods.as_str(),
            "--runs",
            "1",
            "--warmup",
            "0",
            "--buffer",
            buffer,
            "--json",
        ]
    };
    let out = run_as_nobody_with_memlock(&bin, &args("128K"), 64 << 10, tmp.path());
    assert!(out.success(), "{}", out.dump());
    let r = parse_json(&out);
    assert_all_verified(&r, size, false);
    let chunks = size / (128 << 10);
    for m in TCP_ONLY {
        let run = &runs(method(&r, m))[0];
        let (sends, completed, _, plain) = zerocopy(run);
        assert_eq!(
            (sends, completed, plain),
            (0, 0, chunks),
            "{m}: every chunk sent plainly: {run:#}"
        );
        assert_eq!(self_counted(run, "write"), chunks, "{m}: {run:#}");
        let warned = r["warnings"].as_array().unwrap().iter().any(|w| {
            w.as_str()
                .unwrap()
                .starts_with(&format!("{m}: {chunks} chunks went out with a plain"))
        });
        assert!(warned, "{m}: the fallback is reported: {:#}", r["warnings"]);
    }

    let out = run_as_nobody_with_memlock(&bin, &args("32K"), 64 << 10, tmp.path());
    assert!(out.success(), "{}", out.dump());
    let r = parse_json(&out);
    assert_all_verified(&r, size, false);
    for m in TCP_ONLY {
        let run = &runs(method(&r, m))[0];
        let (sends, completed, _, plain) = zerocopy(run);
        assert_eq!(completed, sends, "{m}: {run:#}");
        assert!(sends >= 1, "{m}: 32 KiB sends fit the limit: {run:#}");
        assert!(sends + plain >= size / (32 << 10), "{m}: {run:#}");
    }
}

/// Restores kernel.io_uring_disabled when dropped.
struct IoUringSysctl(String);

impl Drop for IoUringSysctl {
    fn drop(&mut self) {
        let _ = std::fs::write("/proc/sys/kernel/io_uring_disabled", &self.0);
    }
}

/// io_uring switched off for unprivileged users (kernel.io_uring_disabled = 1; root keeps it):
/// compare --methods all skips the io_uring paths with one warning each, naming them asks for
/// an error, and doctor says so. The real refusal, not a simulated one.
#[test]
fn io_uring_refused_by_the_kernel() {
    const KNOB: &str = "/proc/sys/kernel/io_uring_disabled";
    // No unprivileged run of another test may see the knob set (they hold this lock shared).
    let _exclusive = system_state(true);
    let Ok(old) = std::fs::read_to_string(KNOB) else {
        skip(&format!("this kernel has no {KNOB}"));
        return;
    };
    require!(
        Need::tool("setpriv"),
        Need::root(&format!("to set {KNOB}")),
        Need::that(
            std::fs::write(KNOB, "1").is_ok(),
            format!("cannot write {KNOB}")
        )
    );
    let _restore = IoUringSysctl(old);
    let dir = world_readable_dir();
    let bin = copy_bin_to(dir.path());
    let tmp = world_writable_dir();

    let out = run_as_nobody(
        &bin,
        &[
            "compare",
            "--size",
            "256K",
            "--methods",
            "all",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--json",
        ],
        tmp.path(),
    );
    assert!(out.success(), "{}", out.dump());
    let r = parse_json(&out);
    let names = method_names(&r);
    let expected: Vec<&str> = ALL_METHODS
        .into_iter()
        .filter(|m| !m.starts_with("io-uring"))
        .collect();
    assert_eq!(
        names, expected,
        "io_uring paths skipped: {:#}",
        r["warnings"]
    );
    assert_all_verified(&r, 256 << 10, false);
    for m in ["io-uring-splice", "io-uring-send-zc"] {
        let w: Vec<&str> = r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w.as_str())
            .filter(|w| w.starts_with(&format!("{m} skipped")))
            .collect();
        assert_eq!(w.len(), 1, "{m}: one warning: {:#}", r["warnings"]);
        assert!(
            w[0].contains("io_uring is disabled") && w[0].contains("io_uring_disabled"),
            "{m}: says why and what to change: {}",
            w[0]
        );
    }

    let out = run_as_nobody(
        &bin,
        &["compare", "--size", "64K", "--methods", "io-uring-splice"],
        tmp.path(),
    );
    assert_clean_error(&out, &["--methods io-uring-splice", "io_uring is disabled"]);

    // explain still draws the path and says why it could not measure it.
    let out = run_as_nobody(
        &bin,
        &[
            "explain",
            "io-uring-splice",
            "--measure",
            "--size",
            "1M",
            "--lang",
            "en",
        ],
        tmp.path(),
    );
    assert!(out.success(), "{}", out.dump());
    assert!(out.stdout.contains("━━ io-uring-splice"), "{}", out.dump());
    assert!(
        out.stdout
            .contains("warning: io-uring-splice skipped: io_uring is disabled"),
        "{}",
        out.dump()
    );

    // doctor exits 1 when the full table is not available (perf is refused to nobody too).
    let out = run_as_nobody(&bin, &["doctor", "--json"], tmp.path());
    let d: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json: {e}\n{}", out.dump()));
    for m in ["io-uring-splice", "io-uring-send-zc"] {
        let c = d["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == m)
            .unwrap_or_else(|| panic!("doctor has no {m} check: {d:#}"));
        assert_eq!(c["level"], "limited", "{c}");
        assert!(
            c["fix"]
                .as_str()
                .unwrap_or("")
                .contains("io_uring_disabled"),
            "{c}"
        );
    }
}

/// The io_uring lesson in numbers: the same chunks cost one io_uring_enter each with --batch 1
/// and a sixteenth of that with --batch 16, while a plain splice pays two syscalls per chunk.
#[test]
fn batching_divides_io_uring_enter_calls() {
    let chunks = 64u64;
    let enters = |batch: &str| {
        let r = run_json(
            &[
                "compare",
                "--size",
                "4M",
                "--pipe-size",
                "64K",
                "--methods",
                "splice,io-uring-splice",
                "--batch",
                batch,
                "--runs",
                "1",
                "--warmup",
                "0",
                "--json",
            ],
            &[],
        );
        assert_eq!(num(&r["options"]["pipe_bytes_granted"], "pipe"), 64 << 10);
        let sp = &runs(method(&r, "splice"))[0];
        assert!(by_name(sp, "splice") >= 2 * chunks, "{sp:#}");
        let us = &runs(method(&r, "io-uring-splice"))[0];
        assert_eq!(by_name(us, "splice"), 0, "{us:#}");
        (
            by_name(us, "io_uring_enter"),
            self_counted(us, "io_uring_enter"),
        )
    };
    let (one, one_self) = enters("1");
    let (sixteen, sixteen_self) = enters("16");
    assert!(
        one >= chunks,
        "--batch 1: an enter per chunk at least ({one})"
    );
    assert!(
        sixteen >= chunks / 16 && sixteen * 4 <= one,
        "--batch 16: {sixteen} enters vs {one} with --batch 1"
    );
    if is_root() {
        // perf's count and copylab's own agree.
        assert_eq!((one, sixteen), (one_self, sixteen_self));
    }
}

/// The table shows what the zero-copy completions said, as counted.
#[test]
fn table_shows_the_zero_copy_completions() {
    // The table and the JSON export of the same run.
    let dir = tempdir();
    let json = dir.path().join("r.json");
    let out = run_ok(
        &[
            "compare",
            "--size",
            "1M",
            "--methods",
            "msg-zerocopy",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--color",
            "never",
            "--export-json",
            path_str(&json),
        ],
        &[],
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON export")).unwrap();
    let (sends, completed, copied, _) = zerocopy(&runs(method(&r, "msg-zerocopy"))[0]);
    assert_eq!(completed, sends);
    let text = &unwrapped(&out.stdout);
    assert!(
        text.contains(&format!(
            "zero-copied {} of {sends} sends",
            completed - copied
        )),
        "{text}"
    );
    if copied > 0 {
        assert!(
            text.contains(&format!("kernel copied {copied}: loopback")),
            "{text}"
        );
    }
    assert!(
        text.contains("zero-copied = sends whose completion did not report a copy"),
        "{text}"
    );
    // The loopback sentence appears exactly when the completions said so.
    assert_eq!(
        text.contains("Here the kernel copied every one"),
        sends > 0 && copied == completed,
        "{text}"
    );
}

/// What vmsplice's design rests on: the pages handed to a pipe and spliced into a socket are
/// lent, not copied. Writing into them after splice returned, before the receiver read, changes
/// what the receiver gets — so copylab's vmsplice never writes a page twice.
#[test]
fn vmsplice_lends_pages_the_receiver_still_sees() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tx = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut rx, _) = listener.accept().unwrap();
    let (pr, pw) = nix::unistd::pipe().unwrap();

    const LEN: usize = 64 << 10;
    let layout = std::alloc::Layout::from_size_align(LEN, 4096).unwrap();
    // SAFETY: a fresh, page-aligned allocation of LEN bytes, freed below.
    let page = unsafe { std::alloc::alloc_zeroed(layout) };
    assert!(!page.is_null());
    // SAFETY: `page` is LEN writable bytes we own.
    let buf = unsafe { std::slice::from_raw_parts_mut(page, LEN) };
    buf.fill(b'A');
    let iov = libc::iovec {
        iov_base: page.cast(),
        iov_len: LEN,
    };
    // SAFETY: one iovec over the live buffer.
    let n = unsafe { libc::vmsplice(pw.as_raw_fd(), &iov, 1, 0) };
    assert_eq!(n, LEN as isize, "vmsplice took the whole buffer");
    let mut moved = 0usize;
    while moved < LEN {
        // SAFETY: plain fds; no user memory.
        let m = unsafe {
            libc::splice(
                pr.as_raw_fd(),
                std::ptr::null_mut(),
                tx.as_raw_fd(),
                std::ptr::null_mut(),
                LEN - moved,
                0,
            )
        };
        assert!(
            m > 0,
            "splice pipe → socket: {}",
            std::io::Error::last_os_error()
        );
        moved += m as usize;
    }
    // splice has returned: the socket "has" the data. Now reuse the buffer.
    buf.fill(b'B');
    let mut got = vec![0u8; LEN];
    rx.read_exact(&mut got).unwrap();
    // SAFETY: allocated above with this layout; no reference into it remains.
    unsafe { std::alloc::dealloc(page, layout) };
    let changed = got.iter().filter(|b| **b == b'B').count();
    assert!(
        changed > 0,
        "the receiver got only the bytes as they were at splice time: this kernel copied, and \
         vmsplice's page-lending lesson (and copylab's never-reuse rule) needs revisiting"
    );
}
