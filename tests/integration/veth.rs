//! `--transport veth` and `copylab lab`: every path byte-exact across a veth pair between two
//! network namespaces, and nothing left behind — after a normal exit, after Ctrl-C (once and
//! twice), and after kill -9 once the next copylab starts; refused in one line without root.
//! Network namespaces are system-wide: each test holds the system-state lock exclusively, and
//! looks only for the names of the copylab process it ran (names carry its pid).

use crate::util::*;

use nix::sys::signal::Signal;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where copylab keeps the marks that prove it made a namespace.
const MARKS: &str = "/run/copylab/netns";

/// What making network namespaces takes: root and iproute2.
fn namespaces() -> Need {
    Need::all([Need::root("to make network namespaces"), Need::tool("ip")])
}

/// `ip netns list` and `ip -o link` lines naming copylab process `pid`'s namespaces or links,
/// and the marks copylab keeps for its namespaces.
fn leftovers(pid: u32) -> Vec<String> {
    let names = [
        format!("copylab-{pid}-a"),
        format!("copylab-{pid}-b"),
        format!("copylab{pid}a"),
        format!("copylab{pid}b"),
    ];
    let mut found: Vec<String> = names[..2]
        .iter()
        .map(|n| format!("{MARKS}/{n}"))
        .filter(|p| std::path::Path::new(p).exists())
        .collect();
    for args in [&["netns", "list"][..], &["-o", "link"][..]] {
        let out = Cmd::new("ip", args).run();
        for line in out.stdout.lines() {
            if line
                .split(|c: char| c.is_whitespace() || c == ':' || c == '@')
                .any(|w| names.iter().any(|n| n == w))
            {
                found.push(format!("ip {}: {line}", args.join(" ")));
            }
        }
    }
    found
}

/// A long veth compare, started in the background: paced so it runs for many seconds.
fn start_long_compare() -> Child {
    Cmd::copylab(&[
        "compare",
        "--transport",
        "veth",
        "--link",
        "100mbit",
        "--size",
        "4M",
        "--methods",
        "sendfile",
        "--runs",
        "100",
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

/// Wait until `pid`'s serving namespace exists (the set-up is done), or fail.
fn wait_for_namespace(pid: u32) {
    let path = format!("/run/netns/copylab-{pid}-b");
    let t0 = Instant::now();
    while !std::path::Path::new(&path).exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{path} never appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The first transfer is under way once the pair exists; let it start.
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn every_path_is_byte_exact_over_veth_and_nothing_is_left() {
    require!(namespaces());
    let _lock = system_state(true);
    let dir = tempdir();
    // 3 MiB + 5 bytes: not a multiple of any chunk, so every path's last short chunk crosses too.
    let size = (3 << 20) + 5;
    let file = write_file(dir.path(), "f", size, 11);
    let out = run_ok(
        &[
            "compare",
            path_str(&file),
            "--transport",
            "veth",
            "--methods",
            "all",
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
    let r = parse_json(&out);
    assert_eq!(r["transport"], "veth");
    assert_all_verified(&r, size, true);
    assert_eq!(r["file"]["xxh3"], xxh3_of(&file));
    let names = method_names(&r);
    for m in ALL_METHODS {
        // io_uring may be refused by a sandbox: then it is skipped with a warning, never wrong.
        if names.contains(&m) {
            continue;
        }
        assert!(
            m.starts_with("io-uring")
                && r["warnings"]
                    .as_array()
                    .is_some_and(|w| w.iter().any(|w| w.as_str().is_some_and(|w| w.contains(m)))),
            "{m} neither ran nor was skipped with a warning: {r:#}"
        );
    }
    // The zero-copy sends ran over the veth device, every one completed.
    for m in TCP_ONLY.iter().filter(|m| names.contains(m)) {
        for run in runs(method(&r, m)) {
            let (sends, completed, _, _) = zerocopy(run);
            assert!(sends > 0 && completed == sends, "{m}: {run:#}");
        }
    }
    let v = &r["veth"];
    assert_eq!(v["serving_addr"], "198.18.0.1");
    assert_eq!(v["receiving_addr"], "198.18.0.2");
    // Every byte went through the serving veth device (its own counters).
    for m in names {
        for run in runs(method(&r, m)) {
            let bytes = num(&run["device_tx"]["bytes"], "device_tx.bytes");
            assert!(bytes >= size, "{m}: the device sent {bytes} of {size}");
        }
    }
    // The namespaces were this process's: gone with it.
    let pid = v["serving_netns"]
        .as_str()
        .and_then(|n| n.strip_prefix("copylab-"))
        .and_then(|n| n.strip_suffix("-a"))
        .and_then(|n| n.parse::<u32>().ok())
        .expect("serving_netns is copylab-<pid>-a");
    assert_eq!(leftovers(pid), Vec::<String>::new());
}

#[test]
fn ctrl_c_removes_the_namespaces() {
    require!(namespaces());
    let _lock = system_state(true);
    // Once: a graceful stop at the next run, exit 130, the guard removes them.
    let mut child = start_long_compare();
    let pid = child.id();
    wait_for_namespace(pid);
    signal(&child, Signal::SIGINT);
    let Out {
        code, stderr: err, ..
    } = finish(&mut child, TIMEOUT);
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert_eq!(leftovers(pid), Vec::<String>::new());

    // Twice: the second signal ends the process at once, and its handler removes them.
    let mut child = start_long_compare();
    let pid = child.id();
    wait_for_namespace(pid);
    signal(&child, Signal::SIGINT);
    signal(&child, Signal::SIGINT);
    let Out {
        code, stderr: err, ..
    } = finish(&mut child, TIMEOUT);
    assert_eq!(code, Some(130), "{err}");
    // The kernel frees a namespace asynchronously once its name is gone; the names go at once.
    assert_eq!(leftovers(pid), Vec::<String>::new());
}

#[test]
fn after_kill_9_the_next_run_removes_the_stale_namespaces() {
    require!(namespaces());
    let _lock = system_state(true);
    let mut child = start_long_compare();
    let pid = child.id();
    wait_for_namespace(pid);
    signal(&child, Signal::SIGKILL);
    let _ = finish(&mut child, TIMEOUT);
    // kill -9 runs no clean-up: the names are still there (else this test proves nothing).
    assert!(
        !leftovers(pid).is_empty(),
        "kill -9 left nothing to clean up?"
    );
    let r = run_json(
        &[
            "compare",
            "--transport",
            "veth",
            "--size",
            "64K",
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
    assert_all_verified(&r, 64 << 10, false);
    assert_eq!(leftovers(pid), Vec::<String>::new());
}

#[test]
fn without_root_one_line_says_how_to_fix_it() {
    require!(Need::tool("setpriv"));
    if !is_root() {
        // Already unprivileged: the refusal is the direct answer.
        let out = run(&["compare", "--transport", "veth", "--size", "64K"], &[]);
        assert_clean_error(&out, &["--transport veth", "root", "sudo"]);
        return;
    }
    let dir = world_writable_dir();
    let b = copy_bin_to(dir.path());
    for args in [
        &["compare", "--transport", "veth", "--size", "64K"][..],
        &["lab", "up"][..],
    ] {
        let out = run_as_nobody(&b, args, dir.path());
        assert_clean_error(&out, &["root", "sudo"]);
    }
}

#[test]
fn lab_up_serves_across_namespaces_and_lab_down_removes_it() {
    require!(namespaces());
    let _lock = system_state(true);
    // A lab a failed earlier run left up would make `lab up` refuse.
    let _ = run(&["lab", "down"], &[]);
    let up = run_ok(&["lab", "up"], &[]);
    assert!(up.stdout.contains("copylab-lab-srv"), "{}", up.dump());
    let again = run(&["lab", "up"], &[]);
    assert_clean_error(&again, &["already up", "lab down"]);

    let dir = world_readable_dir();
    let size = (1 << 20) + 3;
    let file = write_file(dir.path(), "f", size, 5);
    let mut serve = Command::new("ip")
        .args(["netns", "exec", "copylab-lab-srv", bin(), "serve"])
        .arg(&file)
        .args(["--listen", "198.18.0.1:7979", "--count", "1", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve in the lab");
    let got = dir.path().join("got");
    let t0 = Instant::now();
    let fetched = loop {
        let out = Cmd::new(
            "ip",
            &[
                "netns",
                "exec",
                "copylab-lab-cli",
                bin(),
                "fetch",
                "198.18.0.1:7979",
                "--out",
                path_str(&got),
                "--timeout",
                "5",
            ],
        )
        .run();
        if out.success() || t0.elapsed() > Duration::from_secs(20) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = finish(&mut serve, TIMEOUT);
    let down = run_ok(&["lab", "down"], &[]);
    assert!(fetched.success(), "{}", fetched.dump());
    assert_eq!(std::fs::read(&got).ok(), std::fs::read(&file).ok());
    assert!(down.stdout.contains("removed"), "{}", down.dump());
    let list = Cmd::new("ip", &["netns", "list"]).run();
    assert!(!list.stdout.contains("copylab-lab"), "{}", list.dump());
    let links = Cmd::new("ip", &["-o", "link"]).run();
    assert!(!links.stdout.contains("copylab-srv"), "{}", links.dump());
}

/// Namespaces and links that only look like copylab's, made here by `ip` as someone else
/// would; removed (by `ip`, as they were made) when dropped, even if the test fails.
struct Decoys {
    netns: Vec<String>,
    files: Vec<String>,
    links: Vec<String>,
}

impl Decoys {
    /// A foreign namespace `copylab-999999-a`, a plain file `/run/netns/copylab-999998-b` and a
    /// foreign veth pair `copylab999999a`/`copylab999999b` (pids above this machine's pid_max:
    /// "that pid is gone" is certain, and still proves nothing about who made them).
    fn plant() -> Decoys {
        let d = Decoys {
            netns: vec!["copylab-999999-a".into()],
            files: vec!["/run/netns/copylab-999998-b".into()],
            links: vec!["copylab999999a".into(), "copylab999999b".into()],
        };
        d.remove();
        ip_ok(&["netns", "add", "copylab-999999-a"]);
        std::fs::write("/run/netns/copylab-999998-b", b"").expect("plant a plain file");
        ip_ok(&[
            "link",
            "add",
            "copylab999999a",
            "type",
            "veth",
            "peer",
            "name",
            "copylab999999b",
        ]);
        d
    }

    /// Which decoys are gone.
    fn missing(&self) -> Vec<String> {
        let mut gone: Vec<String> = self
            .netns
            .iter()
            .map(|n| format!("/run/netns/{n}"))
            .chain(self.files.iter().cloned())
            .filter(|p| !std::path::Path::new(p).exists())
            .collect();
        gone.extend(
            self.links
                .iter()
                .filter(|l| !std::path::Path::new(&format!("/sys/class/net/{l}")).exists())
                .cloned(),
        );
        gone
    }

    fn remove(&self) {
        for n in &self.netns {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.links[0]])
            .output();
    }
}

impl Drop for Decoys {
    fn drop(&mut self) {
        self.remove();
    }
}

fn ip_ok(args: &[&str]) {
    Cmd::new("ip", args).run().assert_ok();
}

/// A quick veth compare (it removes stale pairs first).
fn quick_veth_compare() -> Out {
    run_ok(
        &[
            "compare",
            "--transport",
            "veth",
            "--size",
            "64K",
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
    )
}

/// Names that merely look like copylab's — a namespace, a plain file in /run/netns, a veth
/// pair, all "owned" by a pid that cannot exist — are never removed: not by a veth compare's
/// clean-up of stale pairs, not by `lab up`, not by `lab down`.
#[test]
fn only_what_copylab_made_is_removed_never_a_decoy() {
    require!(namespaces());
    let _lock = system_state(true);
    let decoys = Decoys::plant();
    let out = quick_veth_compare();
    assert!(!out.stderr.contains("999999"), "{}", out.dump());
    assert_eq!(decoys.missing(), Vec::<String>::new(), "removed by compare");
    let _ = run(&["lab", "down"], &[]);
    let up = run_ok(&["lab", "up"], &[]);
    assert_eq!(decoys.missing(), Vec::<String>::new(), "removed by lab up");
    let down = run_ok(&["lab", "down"], &[]);
    assert!(
        down.stdout
            .contains("namespaces copylab-lab-srv and copylab-lab-cli removed"),
        "{}\n{}",
        up.dump(),
        down.dump()
    );
    assert_eq!(
        decoys.missing(),
        Vec::<String>::new(),
        "removed by lab down"
    );
    assert!(!std::path::Path::new(&format!("{MARKS}/copylab-lab-srv")).exists());
}

/// A namespace under the lab's name that copylab did not make: `lab down` leaves it and says
/// so (it used to claim it removed the lab and the veth pair), and `lab up` refuses to take it.
#[test]
fn lab_down_removes_only_a_lab_copylab_made_and_says_exactly_what() {
    require!(namespaces());
    let _lock = system_state(true);
    let _ = run(&["lab", "down"], &[]);
    let foreign = Decoys {
        netns: vec!["copylab-lab-srv".into()],
        files: Vec::new(),
        links: vec!["copylab-lab-none".into()],
    };
    ip_ok(&["netns", "add", "copylab-lab-srv"]);
    let down = run_ok(&["lab", "down"], &[]);
    assert!(
        !down.stdout.contains("removed"),
        "lab down claims a removal\n{}",
        down.dump()
    );
    assert!(
        down.stdout
            .contains("copylab-lab-srv left in place: copylab did not make it"),
        "{}",
        down.dump()
    );
    assert!(std::path::Path::new("/run/netns/copylab-lab-srv").exists());
    let up = run(&["lab", "up"], &[]);
    assert_clean_error(&up, &["copylab-lab-srv", "did not make it"]);
    assert!(std::path::Path::new("/run/netns/copylab-lab-srv").exists());
    drop(foreign);
}

/// A veth compare running in another pid namespace (sharing /run/netns) whose pid is not a
/// live pid here: its pair is alive, not stale, and another compare here must not remove it.
#[test]
fn a_pair_made_in_another_pid_namespace_is_not_mistaken_for_a_dead_ones() {
    require!(namespaces(), Need::tool("unshare"));
    let _lock = system_state(true);
    // A pid free here for the inner copylab: its namespaces are named after it.
    let pid = (20_000..30_000)
        .rev()
        .find(|p| {
            !std::path::Path::new(&format!("/proc/{p}")).exists()
                && !std::path::Path::new(&format!("/run/netns/copylab-{p}-a")).exists()
        })
        .expect("a free pid");
    let script = format!(
        "echo {} > /proc/sys/kernel/ns_last_pid && {} compare --transport veth --link 100mbit --size 4M --methods sendfile --runs 100 --warmup 0 --no-profile --json > /dev/null",
        pid - 1,
        bin()
    );
    let mut inner = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--propagation",
            "unchanged",
            "--kill-child=SIGINT",
            "sh",
            "-c",
            &script,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start unshare");
    let a = format!("/run/netns/copylab-{pid}-a");
    let t0 = Instant::now();
    while !std::path::Path::new(&format!("/run/netns/copylab-{pid}-b")).exists() {
        if t0.elapsed() > Duration::from_secs(30) || inner.try_wait().ok().flatten().is_some() {
            let _ = inner.kill();
            let Out {
                code: _,
                stderr: err,
                ..
            } = finish(&mut inner, TIMEOUT);
            panic!("the compare in another pid namespace never made its pair: {err}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = quick_veth_compare();
    let kept = std::path::Path::new(&a).exists();
    // Stop the inner compare (unshare passes SIGINT to it as it dies); it removes its pair.
    signal(&inner, Signal::SIGKILL);
    let _ = finish(&mut inner, TIMEOUT);
    let t0 = Instant::now();
    while std::path::Path::new(&a).exists() && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        kept,
        "another pid namespace's live pair was removed\n{}",
        out.dump()
    );
    assert!(
        !out.stderr.contains(&format!("copylab-{pid}-a")),
        "{}",
        out.dump()
    );
    assert_eq!(
        leftovers(pid),
        Vec::<String>::new(),
        "the inner compare left its pair"
    );
}
