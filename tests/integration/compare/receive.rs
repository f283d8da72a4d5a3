//! `compare --receive`: the receiving paths over real transfers. Every path delivers exactly the
//! file's bytes (hashed where the receiver sees them, counted where it drops them); zerocopy maps
//! what the sender did not own and copies what it did (page cache, its own pages); the
//! discarding receivers copy nothing; the private namespace zerocopy runs in is gone after every
//! way out (normal exit, an error, Ctrl-C, kill -9 and the next run); without root zerocopy is
//! skipped with the reason, or refused in one line when named; the matrix fits 100 and 80
//! columns.

use crate::util::*;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;

/// The four receivers, in table order.
const RECEIVERS: [&str; 4] = ["recv", "trunc", "splice", "zerocopy"];

/// Root can make the private namespace zerocopy needs; others skip the zerocopy tests.
fn zerocopy_receiver() -> Need {
    Need::root("for the zerocopy receiver's private network namespace")
}

/// The entry of `method` with `receiver`.
fn pair<'a>(r: &'a Value, method: &str, receiver: &str) -> &'a Value {
    r["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .find(|m| m["method"] == method && m["receiver_path"] == receiver)
        .unwrap_or_else(|| panic!("no pair {method} → {receiver} in {r:#}"))
}

/// Every run of every pair delivered `size` bytes, checked as its receiver can: hashed (on the
/// runs that hash) where it sees the bytes, counted where it drops them.
fn assert_exact(r: &Value, size: u64) {
    for m in r["methods"].as_array().expect("methods") {
        let receiver = m["receiver_path"].as_str().expect("receiver_path set");
        let sees = matches!(receiver, "recv" | "zerocopy");
        for (i, run) in runs(m).iter().enumerate() {
            let what = format!("{} → {receiver} run {i}", m["method"]);
            assert_eq!(num(&run["bytes"], "bytes"), size, "{what}: {run:#}");
            assert_eq!(run["verified"], true, "{what}");
            let rc = &run["receive"];
            assert_eq!(rc["path"], receiver, "{what}");
            assert_eq!(
                rc["check"],
                if sees { "xxh3" } else { "byte-count" },
                "{what}"
            );
            if !sees {
                assert_eq!(
                    run["hash_checked"], false,
                    "{what}: a dropped byte is never hashed"
                );
            }
            let calls = &run["receiver"]["self_counted"];
            let n = |k: &str| calls[k].as_u64().unwrap_or(0);
            match receiver {
                "recv" | "trunc" => assert!(n("recvfrom") >= 1, "{what}: {calls}"),
                "splice" => assert!(n("splice") >= 2, "{what}: {calls}"),
                _ => {
                    assert!(n("getsockopt") >= 1, "{what}: {calls}");
                    let z = &rc["zerocopy"];
                    let sum = num(&z["mapped_bytes"], "mapped")
                        + num(&z["copybuf_bytes"], "copybuf")
                        + num(&z["hint_bytes"], "hint");
                    assert_eq!(sum, size, "{what}: mapped + copybuf + hint: {z}");
                    // Every mapped range was zapped after use.
                    if num(&z["mapped_bytes"], "mapped") > 0 {
                        assert!(n("madvise") >= 1, "{what}: {calls}");
                    }
                }
            }
        }
        if sees {
            assert_eq!(m["median"]["hash_checked"], true, "{m:#}");
        }
    }
}

#[test]
fn every_receiver_delivers_exactly_the_files_bytes() {
    let dir = tempdir();
    // 3 MiB + 5 bytes: no chunk, pipe or page size divides it, so every last piece is short.
    let size = (3 << 20) + 5;
    let file = write_file(dir.path(), "f", size, 3);
    let receivers = if is_root() {
        "all"
    } else {
        "recv,trunc,splice"
    };
    let r = run_json(
        &[
            "compare",
            path_str(&file),
            "--methods",
            "read-write,sendfile,splice,vmsplice,msg-zerocopy",
            "--receive",
            receivers,
            "--runs",
            "2",
            "--warmup",
            "0",
            "--verify-all",
            "--no-profile",
            "--json",
        ],
        &[],
    );
    assert_eq!(r["file"]["xxh3"], xxh3_of(&file));
    let expect: Vec<&str> = if is_root() {
        RECEIVERS.to_vec()
    } else {
        RECEIVERS[..3].to_vec()
    };
    let paths: Vec<&str> = r["receive"]["paths"]
        .as_array()
        .expect("receive.paths")
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, expect);
    // The matrix: each method with each receiver, sender by sender.
    assert_eq!(r["methods"].as_array().unwrap().len(), 5 * expect.len());
    assert_exact(&r, size);
    for run in runs(pair(&r, "sendfile", "recv")) {
        assert_eq!(run["hash_checked"], true, "--verify-all hashes every run");
    }
    if is_root() {
        let lo = &r["receive"]["private_lo"];
        assert_eq!(lo["mtu_bytes"], 61512, "{lo}");
        assert_eq!(lo["payload_bytes_per_segment"], 15 * 4096, "{lo}");
        // The MSS the receiving socket reports is the 15 pages the MTU was chosen for.
        let mss = &pair(&r, "sendfile", "zerocopy")["median"]["receive"]["rcv_mss_bytes"];
        assert_eq!(mss, 15 * 4096, "{r:#}");
    }
}

#[test]
fn over_a_unix_socket_the_tcp_only_receivers_are_skipped_with_the_reason() {
    let r = run_json(
        &[
            "compare",
            "--transport",
            "unix",
            "--size",
            "1M",
            "--methods",
            "sendfile",
            "--receive",
            "all",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--no-profile",
            "--json",
        ],
        &[],
    );
    let warnings = r["warnings"].to_string();
    assert!(warnings.contains("receiver trunc skipped"), "{warnings}");
    assert!(warnings.contains("receiver zerocopy skipped"), "{warnings}");
    assert!(warnings.contains("--transport tcp"), "{warnings}");
    let ran: Vec<&str> = r["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["receiver_path"].as_str().unwrap())
        .collect();
    assert_eq!(ran, ["recv", "splice"]);
    assert_exact(&r, 1 << 20);

    // Named one by one, a receiver that cannot run is refused in one line.
    let out = run(
        &[
            "compare",
            "--transport",
            "unix",
            "--size",
            "64K",
            "--receive",
            "trunc",
        ],
        &[],
    );
    assert_clean_error(&out, &["--receive trunc", "--transport tcp"]);
}

#[test]
fn zerocopy_maps_what_the_sender_did_not_own_and_copies_what_it_did() {
    require!(zerocopy_receiver());
    let _shared = system_state(false);
    let size: u64 = 32 << 20;
    let r = run_json(
        &[
            "compare",
            "--size",
            "32M",
            "--methods",
            "msg-zerocopy,sendfile,splice,vmsplice",
            "--receive",
            "zerocopy",
            "--runs",
            "2",
            "--warmup",
            "0",
            "--no-profile",
            "--json",
        ],
        &[],
    );
    assert_exact(&r, size);
    let pct = |m: &str| {
        let z = &pair(&r, m, "zerocopy")["median"]["receive"]["zerocopy"];
        z["mapped_pct"]
            .as_f64()
            .unwrap_or_else(|| panic!("{m}: mapped_pct: {z}"))
    };
    // MSG_ZEROCOPY over loopback: the kernel copies each send into fresh pages of its own
    // (skb_copy_ubufs) that belong to nobody, and those map.
    assert!(pct("msg-zerocopy") >= 95.0, "{r:#}");
    // Pages the sender did not give up: the page cache's (sendfile, splice from the file) and
    // the process's own (vmsplice) carry page->mapping, and can_map_frag() refuses them.
    for m in ["sendfile", "splice", "vmsplice"] {
        assert!(pct(m) < 5.0, "{m}: {r:#}");
    }
    // Their bytes came through the copy buffer or recv_skip_hint instead.
    let z = &pair(&r, "sendfile", "zerocopy")["median"]["receive"]["zerocopy"];
    assert!(z["copybuf_pct"].as_f64().unwrap() + z["hint_pct"].as_f64().unwrap() > 95.0);
}

#[test]
fn the_discarding_receivers_copy_nothing_and_recv_copies() {
    let size = "128M";
    let receivers = if is_root() {
        "recv,trunc,splice,zerocopy"
    } else {
        "recv,trunc,splice"
    };
    let _shared = system_state(false);
    let r = run_json(
        &[
            "compare",
            "--size",
            size,
            "--methods",
            "sendfile,msg-zerocopy",
            "--receive",
            receivers,
            "--runs",
            "3",
            "--warmup",
            "1",
            "--json",
        ],
        &[],
    );
    require!(Need::that(
        !pair(&r, "sendfile", "recv")["median"]["profile"].is_null(),
        format!("no CPU profile here ({})", r["warnings"])
    ));
    // The receiver's share of samples in copy routines, over all runs of a pair: in all, and
    // its own (not in softirq). On loopback the receiver's CPU also runs softirq work for the
    // sender — the sender's transmit its window updates restart — and with MSG_ZEROCOPY that
    // work includes the sender's copy (skb_copy_ubufs): a copy on the receiver's CPU, not the
    // receiving path's.
    let copy_share = |m: &str, rc: &str, own: bool| {
        let (mut copy, mut all) = (0u64, 0u64);
        for run in runs(pair(&r, m, rc)) {
            let p = &run["profile"]["receiver"];
            let ns = p["ns"].as_object().expect("ns");
            copy += ns["copy"].as_u64().unwrap();
            if own {
                copy -= p["copy_in_softirq_ns"]
                    .as_u64()
                    .expect("copy_in_softirq_ns");
            }
            all += ns.values().map(|v| v.as_u64().unwrap()).sum::<u64>();
        }
        assert!(all > 0, "{m} → {rc}: no receiver samples");
        copy as f64 / all as f64
    };
    for m in ["sendfile", "msg-zerocopy"] {
        // The control: recv copies every byte, and the samples see it.
        let recv = copy_share(m, "recv", true);
        assert!(recv > 0.1, "{m} → recv copies: {recv:.3}");
        for rc in ["trunc", "splice"] {
            let s = copy_share(m, rc, true);
            assert!(s < 0.05, "{m} → {rc}: receiver copy share {s:.3}");
        }
    }
    // Without MSG_ZEROCOPY nothing is copied in softirq either.
    for rc in ["trunc", "splice"] {
        let s = copy_share("sendfile", rc, false);
        assert!(
            s < 0.05,
            "sendfile → {rc}: receiver copy share, softirq included {s:.3}"
        );
    }
    if is_root() {
        // Mapped: the receiver copies (almost) nothing; unmapped: it copies like recv.
        let mapped = copy_share("msg-zerocopy", "zerocopy", true);
        assert!(
            mapped < 0.05,
            "msg-zerocopy → zerocopy copy share {mapped:.3}"
        );
        let unmapped = copy_share("sendfile", "zerocopy", true);
        assert!(
            unmapped > 0.05 && unmapped > 3.0 * mapped,
            "sendfile → zerocopy copy share {unmapped:.3}, msg-zerocopy → zerocopy {mapped:.3}"
        );
    }
}

/// The network namespace inode of `pid`'s task called `copylab-netns` (the private loopback's
/// thread), once it has moved into a namespace of its own; None if `pid` ended first.
fn netns_thread_inode(pid: u32) -> Option<String> {
    let own = std::fs::read_link("/proc/self/ns/net").expect("own netns");
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for t in tasks.flatten() {
                let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
                if comm.trim() == "copylab-netns"
                    && let Ok(link) = std::fs::read_link(t.path().join("ns/net"))
                    && link != own
                {
                    return Some(link.to_string_lossy().into_owned());
                }
            }
        } else {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("copylab {pid} never started its private namespace's thread");
}

/// Every task of every process in network namespace `ns` ("net:[4026532…]").
fn holders(ns: &str) -> Vec<String> {
    let mut found = Vec::new();
    for p in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(tasks) = std::fs::read_dir(p.path().join("task")) else {
            continue;
        };
        for t in tasks.flatten() {
            if std::fs::read_link(t.path().join("ns/net")).is_ok_and(|l| l.to_string_lossy() == ns)
            {
                found.push(t.path().display().to_string());
            }
        }
    }
    found
}

/// What a run could leave on the host: named namespaces, the host lo's MTU.
fn host_state() -> (String, String) {
    let names = Cmd::new("ip", &["netns", "list"]).run().stdout;
    let mtu = std::fs::read_to_string("/sys/class/net/lo/mtu").unwrap_or_default();
    (names, mtu)
}

/// `ns` is held by no task (within a few seconds: a process's exit is reaped asynchronously).
fn assert_gone(ns: &str, what: &str) {
    let t0 = Instant::now();
    loop {
        let h = holders(ns);
        if h.is_empty() {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{what}: {ns} still held by {h:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A zerocopy compare in the background, paced so it runs for seconds.
fn start_zerocopy_compare(file: Option<&std::path::Path>) -> Child {
    let c = Cmd::copylab(&["compare"]);
    let c = match file {
        Some(f) => c.arg(f),
        None => c.args(&["--size", "16M"]),
    };
    c.args(&[
        "--methods",
        "sendfile",
        "--receive",
        "zerocopy",
        "--link",
        "400mbit",
        "--runs",
        "50",
        "--warmup",
        "0",
        "--no-profile",
        "--json",
    ])
    .command()
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start copylab")
}

#[test]
fn the_private_namespace_is_gone_after_every_way_out() {
    require!(zerocopy_receiver());
    let _shared = system_state(false);
    let before = host_state();

    // A normal exit.
    let mut c = Cmd::copylab(&[
        "compare",
        "--size",
        "8M",
        "--methods",
        "sendfile",
        "--receive",
        "zerocopy",
        "--link",
        "400mbit",
        "--runs",
        "3",
        "--warmup",
        "0",
        "--no-profile",
        "--json",
    ])
    .command()
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start copylab");
    let ns = netns_thread_inode(c.id()).expect("the namespace thread");
    let Out {
        code,
        signal: _,
        stderr: err,
        ..
    } = finish(&mut c, TIMEOUT);
    assert_eq!(code, Some(0), "{err}");
    assert_gone(&ns, "normal exit");

    // An error mid-transfer: the file shrinks under the sender.
    let dir = tempdir();
    let file = write_file(dir.path(), "f", 16 << 20, 9);
    let mut c = start_zerocopy_compare(Some(&file));
    let ns = netns_thread_inode(c.id()).expect("the namespace thread");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .and_then(|f| f.set_len(1 << 20))
        .expect("truncate");
    let Out {
        code,
        signal: _,
        stderr: err,
        ..
    } = finish(&mut c, TIMEOUT);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("file changed"), "{err}");
    assert_gone(&ns, "error exit");

    // Ctrl-C, and kill -9 followed by the next run.
    for sig in [Signal::SIGINT, Signal::SIGKILL] {
        let mut c = start_zerocopy_compare(None);
        let ns = netns_thread_inode(c.id()).expect("the namespace thread");
        std::thread::sleep(Duration::from_millis(300));
        signal(&c, sig);
        let Out {
            code,
            signal: killed,
            stderr: err,
            ..
        } = finish(&mut c, TIMEOUT);
        assert!(
            killed == Some(sig as i32) || code == Some(130),
            "signal {sig}: code {code:?}, signal {killed:?}: {err}"
        );
        assert_gone(&ns, &format!("signal {sig}"));
    }
    let r = run_json(
        &[
            "compare",
            "--size",
            "1M",
            "--methods",
            "sendfile",
            "--receive",
            "zerocopy",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--no-profile",
            "--json",
        ],
        &[],
    );
    assert_exact(&r, 1 << 20);
    assert_eq!(
        host_state(),
        before,
        "named namespaces and the host's lo untouched"
    );
}

#[test]
fn without_root_zerocopy_is_skipped_with_the_reason_or_refused_when_named() {
    require!(
        Need::tool("setpriv"),
        Need::root("to run copylab as another user")
    );
    let dir = world_writable_dir();
    let b = copy_bin_to(dir.path());
    let args = [
        "compare",
        "--size",
        "1M",
        "--methods",
        "sendfile",
        "--receive",
        "all",
        "--runs",
        "1",
        "--warmup",
        "0",
        "--json",
    ];
    let out = run_as_nobody(&b, &args, dir.path());
    let r = parse_json(&out);
    let warnings = r["warnings"].to_string();
    assert!(warnings.contains("receiver zerocopy skipped"), "{warnings}");
    assert!(warnings.contains("root"), "{warnings}");
    assert!(r["receive"]["private_lo"].is_null(), "{r:#}");
    let ran: Vec<&str> = r["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["receiver_path"].as_str().unwrap())
        .collect();
    assert_eq!(ran, ["recv", "trunc", "splice"]);
    assert_exact(&r, 1 << 20);

    let named = [
        "compare",
        "--size",
        "64K",
        "--methods",
        "sendfile",
        "--receive",
        "zerocopy",
    ];
    let out = run_as_nobody(&b, &named, dir.path());
    assert_clean_error(&out, &["--receive zerocopy", "root", "sudo"]);
}

#[test]
fn the_matrix_fits_100_and_80_columns() {
    let receivers = if is_root() {
        "all"
    } else {
        "recv,trunc,splice"
    };
    let n = if is_root() { 4 } else { 3 };
    for width in [100usize, 80] {
        let cols = width.to_string();
        // 64 MiB and 3 runs: enough cpu-clock samples on the discarding receivers (at the 500 us
        // floor: about 45 pooled) for their copy figure, and so their verdict, to be a figure.
        let out = run_ok(
            &[
                "compare",
                "--size",
                "64M",
                "--methods",
                "sendfile,msg-zerocopy,vmsplice",
                "--receive",
                receivers,
                "--runs",
                "3",
                "--warmup",
                "0",
                "--color",
                "never",
            ],
            &[("COLUMNS", cols.as_str())],
        );
        for line in out.stdout.lines() {
            assert!(
                unicode_width(line) <= width,
                "{width} columns: too wide ({}): {line:?}\n{}",
                unicode_width(line),
                out.stdout
            );
        }
        // One heading per sender, one row per receiver under each.
        for sender in ["sendfile", "msg-zerocopy", "vmsplice"] {
            assert!(
                out.stdout.lines().any(|l| l == sender),
                "no heading {sender}\n{}",
                out.stdout
            );
        }
        let rows = out
            .stdout
            .lines()
            .filter(|l| RECEIVERS.iter().any(|r| l.starts_with(&format!("  {r} "))))
            .count();
        assert_eq!(rows, 3 * n, "{}", out.stdout);
        assert!(
            out.stdout.contains("no copy: data discarded"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("count"), "{}", out.stdout);
        assert!(out.stdout.contains("xxh3"), "{}", out.stdout);
        // The receiver's sys column only where there is room for it.
        assert_eq!(
            out.stdout.contains("recv sys"),
            width >= 100,
            "{}",
            out.stdout
        );
    }
}

/// Display width of a line as a terminal shows it (the table's glyphs are all one column).
fn unicode_width(s: &str) -> usize {
    s.chars().count()
}

#[test]
fn without_receive_the_report_is_todays() {
    let r = run_json(
        &[
            "compare",
            "--size",
            "1M",
            "--methods",
            "sendfile",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--no-profile",
            "--json",
        ],
        &[],
    );
    assert!(r["receive"].is_null(), "{r:#}");
    let m = method(&r, "sendfile");
    assert!(m["receiver_path"].is_null());
    for run in runs(m) {
        assert!(run["receive"].is_null());
        assert_eq!(run["receiver"]["self_counted"], serde_json::json!({}));
        assert_eq!(run["hash_checked"], true);
    }
}

#[test]
fn a_bad_receiver_is_a_usage_error() {
    let out = run(&["compare", "--receive", "mmap"], &[]);
    assert_usage_error(&out, "--receive");
    assert!(
        out.stderr.contains("recv, trunc, splice, zerocopy"),
        "{}",
        out.dump()
    );
}

#[test]
fn exports_name_each_pair() {
    let dir = tempdir();
    let csv = dir.path().join("m.csv");
    let md = dir.path().join("m.md");
    run_ok(
        &[
            "compare",
            "--size",
            "1M",
            "--methods",
            "sendfile",
            "--receive",
            "recv,trunc",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--no-profile",
            "--export-csv",
            path_str(&csv),
            "--export-markdown",
            path_str(&md),
        ],
        &[],
    );
    let csv = std::fs::read_to_string(&csv).expect("csv");
    let md = std::fs::read_to_string(&md).expect("markdown");
    for pair in ["sendfile → recv", "sendfile → trunc"] {
        assert_eq!(
            csv.lines()
                .filter(|l| l.starts_with(&format!("{pair},")))
                .count(),
            1,
            "{csv}"
        );
        assert!(md.contains(&format!("| {pair} |")), "{md}");
    }
}

#[test]
fn sweep_runs_each_pair_at_each_size() {
    let r = run_json(
        &[
            "sweep",
            "--sizes",
            "64K,1M",
            "--methods",
            "sendfile",
            "--receive",
            "recv,trunc",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--json",
        ],
        &[],
    );
    let names: Vec<&str> = r["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sendfile → recv", "sendfile → trunc"]);
    for s in r["series"].as_array().unwrap() {
        assert_eq!(s["points"].as_array().unwrap().len(), 2);
        for p in s["points"].as_array().unwrap() {
            assert!(p["receiver_cpu_ns_per_gib"].as_f64().is_some(), "{p}");
        }
    }
}
