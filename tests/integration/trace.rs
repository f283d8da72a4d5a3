//! `copylab trace` against programs no one here wrote: Java's FileChannel.transferTo, nginx with
//! sendfile on and off, Python's socket.sendfile and a read/sendall loop, GNU cp, Rust's
//! std::io::copy. Each run moves a real file over a real socket (or to a real file), the bytes
//! received are checked, and the trace's byte counts must equal the file's size. Without `-o`
//! the results are on stderr (like perf stat's), after whatever the traced program wrote there.

use crate::util::*;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use sha2::{Digest, Sha256};

const SIZE: u64 = 6 << 20;

fn hex(h: Sha256) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A receiver for one connection on 127.0.0.1: its port, and a handle giving the SHA-256 and
/// length of everything it read.
fn receiver() -> (u16, std::thread::JoinHandle<(String, u64)>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(60))).ok();
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => {
                    h.update(&buf[..k]);
                    n += k as u64;
                }
                Err(e) => panic!("receiving: {e}"),
            }
        }
        (hex(h), n)
    });
    (port, h)
}

/// trace's JSON results on stderr: they follow whatever the traced program wrote there (and
/// precede the exit's error line after a stop), from the last line that opens an object.
fn results_in(stderr: &str) -> Value {
    let start = match stderr.rfind("\n{\n") {
        Some(i) => i + 1,
        None if stderr.starts_with("{\n") => 0,
        None => panic!("no JSON results on stderr:\n{stderr}"),
    };
    serde_json::Deserializer::from_str(&stderr[start..])
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("the results on stderr are not JSON:\n{stderr}"))
}

/// Run `copylab trace --json -- argv`, insist on success, return the report.
fn trace(argv: &[&str], envs: &[(&str, &str)]) -> Value {
    let mut args = vec!["trace", "--json", "--"];
    args.extend_from_slice(argv);
    let out = run(&args, envs);
    assert!(
        out.success() && !out.stderr.contains("panicked"),
        "{}",
        out.dump()
    );
    results_in(&out.stderr)
}

fn sys<'a>(r: &'a Value, name: &str) -> &'a Value {
    &r["syscalls"][name]
}

fn bytes(r: &Value, name: &str) -> u64 {
    sys(r, name)["bytes"].as_u64().unwrap_or(0)
}

fn calls(r: &Value, name: &str) -> u64 {
    sys(r, name)["calls"].as_u64().unwrap_or(0)
}

/// The sum of `name`'s bytes over the threads equals the total: per-thread figures add up.
fn assert_threads_add_up(r: &Value, name: &str) {
    let sum: u64 = r["threads"]
        .as_array()
        .expect("threads")
        .iter()
        .map(|t| t["syscalls"][name]["bytes"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(sum, bytes(r, name), "{name}: threads do not add up\n{r:#}");
}

#[test]
fn java_transfer_to_is_sendfile_with_the_files_bytes() {
    require!(Need::tool("javac"), Need::tool("java"));
    let dir = tempdir();
    let file = write_file(dir.path(), "segment.log", SIZE, 151);
    let src = dir.path().join("Send.java");
    std::fs::write(
        &src,
        r#"import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

public class Send {
    public static void main(String[] a) throws Exception {
        try (FileChannel f = FileChannel.open(Path.of(a[0]), StandardOpenOption.READ);
             SocketChannel s = SocketChannel.open(new InetSocketAddress("127.0.0.1", Integer.parseInt(a[1])))) {
            long pos = 0, n = f.size();
            while (pos < n) pos += f.transferTo(pos, n - pos, s);
        }
    }
}
"#,
    )
    .expect("write Send.java");
    Cmd::new("javac", &["-d", path_str(dir.path()), path_str(&src)])
        .run()
        .assert_ok();
    let (port, got) = receiver();
    let port = port.to_string();
    let r = trace(
        &[
            "java",
            "-cp",
            path_str(dir.path()),
            "Send",
            path_str(&file),
            &port,
        ],
        &[],
    );
    let (sha, n) = got.join().expect("receiver");
    assert_eq!((sha, n), (sha256_file(&file), SIZE));
    assert_eq!(bytes(&r, "sendfile64"), SIZE, "{r:#}");
    assert!(calls(&r, "sendfile64") >= 1);
    assert_eq!(r["path"]["kind"], "sendfile", "{r:#}");
    assert!(
        r["path"]["words"]
            .as_str()
            .unwrap_or("")
            .contains("transferTo"),
        "{r:#}"
    );
    // The JVM's many threads are followed; the sendfile is made by one of them, with a name.
    assert!(r["threads"].as_array().map_or(0, |t| t.len()) > 1, "{r:#}");
    assert_threads_add_up(&r, "sendfile64");
    assert_eq!(r["exit_code"], 0);
}

#[test]
fn python_socket_sendfile_is_sendfile() {
    require!(Need::tool("python3"));
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", SIZE, 152);
    let (port, got) = receiver();
    let script = format!(
        "import socket\ns = socket.create_connection(('127.0.0.1', {port}))\nwith open({:?}, 'rb') as f:\n    s.sendfile(f)\ns.close()\n",
        path_str(&file)
    );
    let r = trace(&["python3", "-c", &script], &[]);
    assert_eq!(got.join().expect("receiver"), (sha256_file(&file), SIZE));
    assert_eq!(bytes(&r, "sendfile64"), SIZE, "{r:#}");
    assert_eq!(r["path"]["kind"], "sendfile", "{r:#}");
    assert!(
        r["path"]["words"].as_str().unwrap_or("").contains("Python"),
        "{r:#}"
    );
    // The data never passed through user space: no sendto carried it.
    assert!(bytes(&r, "sendto") < SIZE / 100, "{r:#}");
}

#[test]
fn python_sendall_of_reads_is_read_plus_sendto() {
    require!(Need::tool("python3"));
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", SIZE, 153);
    let (port, got) = receiver();
    let script = format!(
        "import socket\ns = socket.create_connection(('127.0.0.1', {port}))\nwith open({:?}, 'rb', buffering=0) as f:\n    while True:\n        b = f.read(65536)\n        if not b:\n            break\n        s.sendall(b)\ns.close()\n",
        path_str(&file)
    );
    let r = trace(&["python3", "-c", &script], &[]);
    assert_eq!(got.join().expect("receiver"), (sha256_file(&file), SIZE));
    assert_eq!(bytes(&r, "sendto"), SIZE, "{r:#}");
    assert!(bytes(&r, "read") >= SIZE, "{r:#}");
    assert_eq!(calls(&r, "sendfile64"), 0, "{r:#}");
    assert_eq!(r["path"]["kind"], "read+write", "{r:#}");
    let words = r["path"]["words"].as_str().unwrap_or("");
    assert!(
        words.starts_with("read + sendto in 64 KiB chunks"),
        "{words}"
    );
}

#[test]
fn gnu_cp_uses_copy_file_range() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", SIZE, 154);
    let dst = dir.path().join("copy.bin");
    let r = trace(&["cp", path_str(&file), path_str(&dst)], &[]);
    assert_eq!(sha256_file(&dst), sha256_file(&file));
    let version = Cmd::new("cp", &["--version"]).run().stdout;
    // GNU coreutils 9.0 made cp use copy_file_range; older ones read and write.
    let major: u32 = version
        .lines()
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.split('.').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if major >= 9 {
        assert_eq!(bytes(&r, "copy_file_range"), SIZE, "{r:#}");
        assert_eq!(r["path"]["kind"], "copy_file_range", "{r:#}");
        assert!(
            r["path"]["words"].as_str().unwrap_or("").contains("GNU cp"),
            "{r:#}"
        );
    } else {
        assert_eq!(bytes(&r, "write"), SIZE, "{r:#}");
    }
}

#[test]
fn rust_io_copy_file_to_tcp_stream_as_it_is_today() {
    require!(Need::tool("rustc"));
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", SIZE, 155);
    let src = dir.path().join("copy.rs");
    std::fs::write(
        &src,
        "fn main() {\n    let a: Vec<String> = std::env::args().collect();\n    let mut f = std::fs::File::open(&a[1]).unwrap();\n    let mut s = std::net::TcpStream::connect(&a[2]).unwrap();\n    std::io::copy(&mut f, &mut s).unwrap();\n}\n",
    )
    .expect("write copy.rs");
    let exe = dir.path().join("copy");
    Cmd::new("rustc", &["-O", "-o", path_str(&exe), path_str(&src)])
        .run()
        .assert_ok();
    let (port, got) = receiver();
    let addr = format!("127.0.0.1:{port}");
    let r = trace(&[path_str(&exe), path_str(&file), &addr], &[]);
    assert_eq!(got.join().expect("receiver"), (sha256_file(&file), SIZE));
    // Whatever std does today, the trace must account for every byte sent, by one path.
    let sent: u64 = ["sendto", "write", "writev", "sendfile64", "splice"]
        .iter()
        .map(|n| bytes(&r, n))
        .sum();
    let splice_half = bytes(&r, "splice") / 2;
    assert!(
        sent - splice_half == SIZE || sent == SIZE,
        "sent {sent} of {SIZE}\n{r:#}"
    );
    let kind = r["path"]["kind"].as_str().unwrap_or("");
    assert!(
        ["read+write", "sendfile", "splice"].contains(&kind),
        "{kind}\n{r:#}"
    );
    eprintln!("rust std::io::copy: {}", r["path"]["words"]);
}

#[test]
fn a_child_process_is_followed_under_its_own_name() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", SIZE, 156);
    let dst = dir.path().join("out.bin");
    let script = format!("cat {} > {}", path_str(&file), path_str(&dst));
    let r = trace(&["sh", "-c", &script], &[]);
    assert_eq!(sha256_file(&dst), sha256_file(&file));
    let cat: Vec<&Value> = r["threads"]
        .as_array()
        .expect("threads")
        .iter()
        .filter(|t| t["name"] == "cat")
        .collect();
    assert_eq!(cat.len(), 1, "{r:#}");
    // cat moved the bytes (read + write, or copy_file_range/sendfile with newer coreutils).
    assert_eq!(cat[0]["moved_bytes"], SIZE, "{r:#}");
    assert!(r["processes"].as_array().map_or(0, |p| p.len()) >= 1);
}

/// nginx's configuration for one test, everything inside `dir`.
fn nginx_conf(dir: &Path, port: u16, directives: &str, master: bool) -> std::path::PathBuf {
    let temp = dir.join("temp");
    std::fs::create_dir_all(&temp).expect("mkdir temp");
    let user = if is_root() { "user root;" } else { "" };
    let conf = format!(
        "daemon off;\nmaster_process {};\n{user}\npid {d}/nginx.pid;\nerror_log {d}/error.log notice;\nevents {{ }}\nhttp {{\n    access_log off;\n    client_body_temp_path {t}/b;\n    proxy_temp_path {t}/p;\n    fastcgi_temp_path {t}/f;\n    uwsgi_temp_path {t}/u;\n    scgi_temp_path {t}/s;\n    default_type application/octet-stream;\n    {directives}\n    server {{\n        listen 127.0.0.1:{port};\n        root {d};\n    }}\n}}\n",
        if master { "on" } else { "off" },
        d = path_str(dir),
        t = path_str(&temp),
    );
    let p = dir.join("nginx.conf");
    std::fs::write(&p, conf).expect("write nginx.conf");
    p
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_port(port: u16) {
    let until = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn curl_sha(port: u16, name: &str) -> String {
    let dir = tempdir();
    let got = dir.path().join(name);
    let url = format!("http://127.0.0.1:{port}/{name}");
    Cmd::new(
        "curl",
        &["-sS", "--max-time", "30", "-o", path_str(&got), &url],
    )
    .run()
    .assert_ok();
    sha256_file(&got)
}

/// nginx with `sendfile on`, master and worker, run by trace; Ctrl-C (SIGINT to copylab) ends
/// it and still prints what was measured, exit 130.
#[test]
fn nginx_sendfile_on_is_sendfile_and_ctrl_c_still_reports() {
    require!(Need::tool("nginx"), Need::tool("curl"));
    let nginx = tool("nginx").display().to_string();
    let dir = world_readable_dir();
    let file = write_file(dir.path(), "data.bin", SIZE, 157);
    let port = free_port();
    let conf = nginx_conf(dir.path(), port, "sendfile on; sendfile_max_chunk 0;", true);
    let mut child = Cmd::copylab(&["trace", "--json", "--", &nginx, "-c", path_str(&conf)])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start copylab trace");
    wait_port(port);
    let want = sha256_file(&file);
    assert_eq!(curl_sha(port, "data.bin"), want);
    assert_eq!(curl_sha(port, "data.bin"), want);
    // SAFETY: kill has no memory-safety preconditions; the pid is our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait");
    let mut stdout = String::new();
    let _ = child
        .stdout
        .take()
        .map(|mut o| o.read_to_string(&mut stdout));
    assert_eq!(status.code(), Some(130), "{stderr}\n{stdout}");
    let r = results_in(&stderr);
    assert_eq!(r["ended"], "interrupted");
    assert_eq!(bytes(&r, "sendfile64"), 2 * SIZE, "{r:#}");
    assert_eq!(r["path"]["kind"], "sendfile", "{r:#}");
    // The worker (a child process nginx started after exec) made the sendfile calls.
    let senders: Vec<&Value> = r["threads"]
        .as_array()
        .expect("threads")
        .iter()
        .filter(|t| t["syscalls"]["sendfile64"]["bytes"].as_u64().unwrap_or(0) > 0)
        .collect();
    assert_eq!(senders.len(), 1, "{r:#}");
    assert!(
        r["processes"].as_array().map_or(0, |p| p.len()) >= 2,
        "{r:#}"
    );
}

/// nginx with `sendfile off`, one process, attached to with --pid while it runs; trace ends
/// when nginx exits.
#[test]
fn nginx_sendfile_off_reads_and_writes_seen_by_pid() {
    require!(Need::tool("nginx"), Need::tool("curl"));
    let nginx = tool("nginx").display().to_string();
    let dir = world_readable_dir();
    let file = write_file(dir.path(), "data.bin", SIZE, 158);
    let port = free_port();
    let conf = nginx_conf(
        dir.path(),
        port,
        "sendfile off; output_buffers 2 128k;",
        false,
    );
    let mut server = Command::new(&nginx)
        .args(["-c", path_str(&conf)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    wait_port(port);
    let pid = server.id().to_string();
    let mut tracer = Cmd::copylab(&["trace", "--json", "--pid", &pid, "--for", "60s"])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start copylab trace --pid");
    // Wait for "following pid N" before the request, so the transfer is followed.
    let mut err = BufReader::new(tracer.stderr.take().expect("stderr"));
    let mut line = String::new();
    err.read_line(&mut line).expect("read stderr");
    assert!(line.contains("following pid"), "{line}");
    assert_eq!(curl_sha(port, "data.bin"), sha256_file(&file));
    // SAFETY: kill has no memory-safety preconditions; the pid is our child.
    unsafe { libc::kill(server.id() as i32, libc::SIGQUIT) };
    let _ = server.wait();
    let mut stderr = String::new();
    err.read_to_string(&mut stderr).expect("read stderr");
    let status = tracer.wait().expect("wait");
    assert!(status.success(), "{stderr}");
    let r = results_in(&stderr);
    assert_eq!(r["ended"], "exited");
    assert_eq!(calls(&r, "sendfile64"), 0, "{r:#}");
    let read = bytes(&r, "read") + bytes(&r, "pread64") + bytes(&r, "readv");
    let written = bytes(&r, "write") + bytes(&r, "writev") + bytes(&r, "sendto");
    assert!(read >= SIZE, "read {read}\n{r:#}");
    assert!(written >= SIZE, "written {written}\n{r:#}");
    assert_eq!(r["path"]["kind"], "read+write", "{r:#}");
}

#[test]
fn without_tracepoints_the_command_still_runs_and_syscalls_say_na() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 1 << 20, 159);
    let dst = dir.path().join("copy.bin");
    let missing = dir.path().join("no-tracefs");
    let r = trace(
        &["cp", path_str(&file), path_str(&dst)],
        &[("COPYLAB_TRACEFS", path_str(&missing))],
    );
    assert_eq!(sha256_file(&dst), sha256_file(&file));
    assert!(r["syscalls"].is_null(), "{r:#}");
    assert!(r["path"].is_null(), "{r:#}");
    let why = r["unavailable"].as_str().unwrap_or("");
    assert!(why.contains("tracepoints") && why.contains("Fix:"), "{why}");
    assert!(r["rusage_sys_ns"].is_u64(), "{r:#}");
    // The table says n/a with the reason, not zeros.
    let out = run_ok(
        &["trace", "--", "cp", path_str(&file), path_str(&dst)],
        &[("COPYLAB_TRACEFS", path_str(&missing))],
    );
    assert!(out.stderr.contains("syscalls: n/a"), "{}", out.dump());
}

/// `args` run by an unprivileged user of its own (None, the test reported as skipped, when not
/// root or setpriv is missing).
fn as_nobody(args: &[&str]) -> Option<Out> {
    require!(else None;
        Need::tool("setpriv"),
        Need::root("to switch to an unprivileged user")
    );
    let dir = world_readable_dir();
    let bin = copy_bin_to(dir.path());
    Some(run_as_nobody(&bin, args, dir.path()))
}

#[test]
fn unprivileged_trace_says_why_and_still_runs() {
    let Some(out) = as_nobody(&["trace", "--json", "--", "true"]) else {
        return;
    };
    assert!(out.success(), "{}", out.dump());
    let r = results_in(&out.stderr);
    assert!(r["syscalls"].is_null(), "{r:#}");
    assert!(
        r["unavailable"].as_str().unwrap_or("").contains("Fix:"),
        "{r:#}"
    );
    assert_eq!(r["exit_code"], 0);
}

#[test]
fn bad_targets_are_clear_errors() {
    let out = run(&["trace", "--pid", "2147483646"], &[]);
    assert_clean_error(&out, &["--pid 2147483646", "no such process"]);
    let out = run(&["trace"], &[]);
    assert_clean_error(&out, &["trace", "--pid"]);
    let out = run(&["trace", "--", "/nonexistent/program"], &[]);
    assert_clean_error(&out, &["/nonexistent/program", "cannot run"]);
    let out = run(&["trace", "--for", "soon", "--", "true"], &[]);
    assert_usage_error(&out, "--for");
    if is_root() {
        // An unprivileged user may not follow root's init.
        if let Some(out) = as_nobody(&["trace", "--pid", "1", "--for", "1s"]) {
            assert_clean_error(&out, &["--pid 1", "not allowed"]);
        }
    }
}

/// The program's own stdout and the results stay apart with --output; a bad --output is
/// refused before the program runs.
#[test]
fn output_file_keeps_the_programs_stdout_apart() {
    let dir = tempdir();
    let res = dir.path().join("trace.json");
    let out = run_ok(
        &[
            "trace",
            "--json",
            "--output",
            path_str(&res),
            "--",
            "sh",
            "-c",
            "echo from-the-program",
        ],
        &[],
    );
    assert_eq!(out.stdout, "from-the-program\n", "{}", out.dump());
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&res).expect("--output written"))
        .expect("JSON");
    assert_eq!(calls(&r, "write"), 1, "{r:#}");
    assert_eq!(bytes(&r, "write"), "from-the-program\n".len() as u64);
    // The directory does not exist: refused, and the program never ran.
    let marker = dir.path().join("ran");
    let bad = dir.path().join("no-such-dir").join("t.json");
    let touch = format!("touch {}", path_str(&marker));
    let out = run(
        &[
            "trace",
            "--output",
            path_str(&bad),
            "--",
            "sh",
            "-c",
            &touch,
        ],
        &[],
    );
    assert_clean_error(&out, &["--output", "directory does not exist"]);
    assert!(!marker.exists(), "the program ran despite the bad --output");
}

/// Without --output the results go to stderr, as perf stat's do: the traced program's stdout
/// is exactly what it printed, tables or JSON alike.
#[test]
fn the_results_go_to_stderr_and_the_programs_stdout_stays_its_own() {
    for json in [false, true] {
        let mut args = vec!["trace", "--no-profile"];
        if json {
            args.push("--json");
        }
        args.extend([
            "--",
            "sh",
            "-c",
            "echo from-the-program; echo to-its-stderr >&2",
        ]);
        let out = run_ok(&args, &[]);
        assert_eq!(out.stdout, "from-the-program\n", "{}", out.dump());
        assert!(out.stderr.starts_with("to-its-stderr\n"), "{}", out.dump());
        if json {
            let r = results_in(&out.stderr);
            assert_eq!(bytes(&r, "write"), "from-the-program\n".len() as u64 + 14);
        } else {
            assert!(
                out.stderr.contains("copylab trace: `sh -c "),
                "{}",
                out.dump()
            );
            assert!(out.stderr.contains("┆ write "), "{}", out.dump());
        }
    }
}

/// The answer comes first: under its header, the process that moved the data with its path,
/// calls, bytes and the program recognised; the processes that moved no data folded into one
/// line that counts them all; then the tables.
#[test]
fn trace_leads_with_its_answer_and_folds_the_helpers() {
    require!(Need::tool("python3"));
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", SIZE, 160);
    let (port, got) = receiver();
    let script = format!(
        "import socket\ns = socket.create_connection(('127.0.0.1', {port}))\nwith open({:?}, 'rb') as f:\n    s.sendfile(f)\ns.close()\n",
        path_str(&file)
    );
    // Helpers before the program: a shell, ls, true, cat of nothing.
    let shell = "ls / > /dev/null; true; cat < /dev/null; exec python3 -c \"$0\"";
    let out = run_ok(
        &["trace", "--", "sh", "-c", shell, &script],
        &[("COLUMNS", "100")],
    );
    assert_eq!(got.join().expect("receiver"), (sha256_file(&file), SIZE));
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines[0].starts_with("copylab trace: `sh -c "),
        "{}",
        out.dump()
    );
    // The verdict follows the header (wrapped over as many lines as the command needs).
    let verdict = lines
        .iter()
        .position(|l| l.starts_with("python3 (pid "))
        .unwrap_or_else(|| panic!("no verdict line\n{}", out.dump()));
    assert!(
        lines[verdict - 1].contains(" ms (exited with 0)"),
        "{}",
        out.dump()
    );
    let text = unwrapped(&lines[verdict..].join("\n"));
    // 6 MiB exactly, or a little more where the interpreter also writes (a version manager's
    // python3 does): "6 MiB" or "6.00 MiB".
    assert!(
        text.starts_with("python3 (pid ")
            && (text.contains(") moved 6 MiB: ") || text.contains(") moved 6.00 MiB: "))
            && text.contains(
                " MiB: sendfile, 2 calls, 3 MiB per call — this is Python's socket.sendfile"
            ),
        "{text}"
    );
    let table = lines
        .iter()
        .position(|l| l.starts_with('┌'))
        .unwrap_or_else(|| panic!("no table\n{}", out.dump()));
    assert!(table > verdict, "{}", out.dump());
    // One line for the helpers, whose names add up to their count; no line per helper.
    let fold = lines[verdict..table]
        .iter()
        .position(|l| l.contains(" helper processes had no data path (each moved "))
        .map(|i| unwrapped(&lines[verdict + i..table].join("\n")))
        .unwrap_or_else(|| panic!("no folded line\n{}", out.dump()));
    let n: usize = fold
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{fold}"));
    // ls and cat at least; sh itself becomes python3 by its exec (where python3 is a version
    // manager's shim, the shim's own helpers come on top).
    assert!(n >= 2, "ls and cat at least: {fold}");
    let names = fold.rsplit_once("): ").map_or("", |(_, names)| names);
    if !names.contains('…') {
        let counted: usize = names
            .split(", ")
            .map(|name| {
                name.rsplit_once(" ×")
                    .map_or(1, |(_, k)| k.trim().parse().unwrap_or(0))
            })
            .sum();
        assert_eq!(counted, n, "{fold}");
    }
    for helper in ["ls", "cat"] {
        assert!(
            names
                .split(", ")
                .any(|x| x == helper || x.starts_with(&format!("{helper} ×"))),
            "{fold}"
        );
    }
    assert!(
        !out.stderr.contains("moved only"),
        "a line per helper\n{}",
        out.dump()
    );
}

/// trace raises its own descriptor limit (two events per thread and CPU), but the command runs
/// with the limit it was given.
#[test]
fn the_command_keeps_its_descriptor_limit() {
    require!(Need::tool("prlimit"));
    let dir = tempdir();
    let res = dir.path().join("trace.json");
    let out = Cmd::new(
        "prlimit",
        &[
            "--nofile=1024:4096",
            bin(),
            "trace",
            "--json",
            "--output",
            path_str(&res),
            "--",
            "sh",
            "-c",
            "ulimit -n",
        ],
    )
    .run();
    assert!(out.success(), "{}", out.dump());
    assert_eq!(out.stdout, "1024\n", "{}", out.dump());
}

/// --output onto a FIFO (as onto /dev/null) writes into it and leaves it a FIFO: a device or
/// FIFO is never replaced by a regular file. (A FIFO of the test's own, so a regression cannot
/// break the machine's /dev/null.)
#[test]
fn output_onto_a_fifo_writes_into_it_and_keeps_it() {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let dir = tempdir();
    let fifo = dir.path().join("results.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    // Open for reading first, without blocking: copylab's write then lands in the FIFO's buffer
    // (and a FIFO replaced by a file would leave this one empty, failing the test, not hanging).
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .expect("open the FIFO");
    let out = run_ok(
        &["trace", "--json", "--output", path_str(&fifo), "--", "true"],
        &[],
    );
    assert!(out.stdout.is_empty(), "{}", out.dump());
    let mut got = String::new();
    let _ = reader.read_to_string(&mut got);
    let r: Value = serde_json::from_str(&got).unwrap_or_else(|e| panic!("{e}: {got}"));
    assert_eq!(r["exit_code"], 0, "{r:#}");
    let t = std::fs::symlink_metadata(&fifo).expect("stat").file_type();
    assert!(t.is_fifo(), "--output replaced the FIFO with {t:?}");
}

/// A traced thread that names itself with terminal escape sequences (`comm` =
/// `ESC ]2;PWN BEL ESC [2J`: set the window title, clear the screen) shows in the table as
/// visible text, never as raw escapes; the JSON keeps the name exactly (JSON escapes it).
#[test]
fn a_thread_named_with_escape_sequences_is_printed_escaped() {
    let script = r#"printf '\033]2;PWN\007\033[2J' > /proc/$$/comm; while read l; do :; done < /etc/services"#;
    let out = run_ok(&["trace", "--no-profile", "--", "sh", "-c", script], &[]);
    assert!(
        !out.stderr.contains('\u{1b}') && !out.stderr.contains('\u{7}'),
        "a raw escape reached the output\n{}",
        out.dump()
    );
    assert!(
        out.stderr.contains(r"\x1b]2;PWN\x07\x1b[2J"),
        "the name, escaped, is in the table\n{}",
        out.dump()
    );
    let r = trace(&["sh", "-c", script], &[]);
    let named = r["threads"]
        .as_array()
        .expect("threads")
        .iter()
        .any(|t| t["name"] == "\u{1b}]2;PWN\u{7}\u{1b}[2J");
    assert!(named, "the JSON keeps the name as it is\n{r:#}");
}

/// Processes whose command line is exactly `argv` (a marker no other test uses), by pid.
fn processes_running(argv: &[&str]) -> Vec<i32> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want))
        .collect()
}

/// Wait until a process runs `argv` (the traced command got that far), or fail.
fn wait_for_process(argv: &[&str]) {
    let until = Instant::now() + Duration::from_secs(30);
    while processes_running(argv).is_empty() {
        assert!(Instant::now() < until, "{argv:?} never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `copylab trace --json ARGS` started in the background, its stdout and stderr piped.
fn spawn_trace(args: &[&str]) -> std::process::Child {
    Cmd::copylab(&["trace"])
        .args(args)
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start copylab trace")
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// `--for` is a deadline: a command that ignores SIGTERM (and its child, which inherits that)
/// is killed with SIGKILL after the grace period, the report says so, and nothing of it is
/// left running.
#[test]
fn for_is_a_deadline_even_for_a_command_that_ignores_sigterm() {
    let marker = ["sleep", "41.5"];
    let out = run_ok(
        &[
            "trace",
            "--json",
            "--no-profile",
            "--for",
            "1s",
            "--",
            "sh",
            "-c",
            "trap '' TERM; sleep 41.5; echo $((6*7))x",
        ],
        &[],
    );
    let r = parse_json_any(&out);
    assert_eq!(r["ended"], "time", "{r:#}");
    assert_eq!(names(&r["signals_sent"]), ["SIGTERM", "SIGKILL"], "{r:#}");
    assert_eq!(r["exit_signal"], libc::SIGKILL, "{r:#}");
    assert!(!out.stdout.contains("42x"), "{}", out.dump());
    assert!(
        processes_running(&marker).is_empty(),
        "the sleep was left running"
    );
}

/// A stop after the deadline (Ctrl-C once SIGTERM was ignored) is still a stop: passed on to
/// the group, reported as interrupted, exit 130.
#[test]
fn ctrl_c_after_the_deadline_still_exits_130() {
    let marker = ["sleep", "42.5"];
    let mut child = spawn_trace(&[
        "--json",
        "--no-profile",
        "--for",
        "500ms",
        "--",
        "sh",
        "-c",
        "trap '' TERM INT; sleep 42.5",
    ]);
    wait_for_process(&marker);
    // Past the deadline: SIGTERM was sent and ignored.
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, Signal::SIGINT);
    let Out {
        code,
        stdout,
        stderr,
        ..
    } = finish(&mut child, TIMEOUT);
    assert_eq!(code, Some(130), "{stderr}\n{stdout}");
    let r = results_in(&stderr);
    assert_eq!(r["ended"], "interrupted", "{r:#}");
    assert_eq!(
        names(&r["signals_sent"]),
        ["SIGTERM", "SIGINT", "SIGKILL"],
        "{r:#}"
    );
    assert!(
        processes_running(&marker).is_empty(),
        "the sleep was left running"
    );
}

/// SIGTERM and SIGHUP to copylab stop a trace as Ctrl-C does: the signal is passed on to the
/// command's whole process group (a shell and the child it waits for), the results are
/// printed, exit 130.
#[test]
fn sigterm_and_sighup_stop_a_trace_like_ctrl_c() {
    for (sig, name, marker) in [
        (Signal::SIGTERM, "SIGTERM", ["sleep", "43.5"]),
        (Signal::SIGHUP, "SIGHUP", ["sleep", "44.5"]),
    ] {
        let script = format!("sleep {}; echo $((6*7))x", marker[1]);
        let mut child = spawn_trace(&["--json", "--no-profile", "--", "sh", "-c", &script]);
        wait_for_process(&marker);
        signal(&child, sig);
        let Out {
            code,
            stdout,
            stderr,
            ..
        } = finish(&mut child, TIMEOUT);
        assert_eq!(code, Some(130), "{name}: {stderr}\n{stdout}");
        let r = results_in(&stderr);
        assert_eq!(r["ended"], "interrupted", "{name}: {r:#}");
        assert_eq!(names(&r["signals_sent"]), [name], "{r:#}");
        assert!(!stdout.contains("42x"), "{stdout}");
        assert!(
            processes_running(&marker).is_empty(),
            "{name}: the sleep was left running"
        );
    }
}

/// A second stop signal kills the command's group at once (it ignores the first), and copylab
/// still prints what it measured instead of exiting with orphans left behind.
#[test]
fn a_second_signal_kills_the_group_and_still_reports() {
    let marker = ["sleep", "45.5"];
    let mut child = spawn_trace(&[
        "--json",
        "--no-profile",
        "--",
        "sh",
        "-c",
        "trap '' TERM INT HUP; sleep 45.5",
    ]);
    wait_for_process(&marker);
    signal(&child, Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, Signal::SIGTERM);
    let Out {
        code,
        stdout,
        stderr,
        ..
    } = finish(&mut child, TIMEOUT);
    assert_eq!(code, Some(130), "{stderr}\n{stdout}");
    let r = results_in(&stderr);
    assert_eq!(names(&r["signals_sent"]), ["SIGTERM", "SIGKILL"], "{r:#}");
    assert_eq!(r["exit_signal"], libc::SIGKILL, "{r:#}");
    assert!(
        processes_running(&marker).is_empty(),
        "the sleep was left running"
    );
}

/// `--for 0` would stop the command before it did anything: a usage error naming the flag.
#[test]
fn for_zero_is_a_usage_error() {
    let out = run(&["trace", "--for", "0", "--", "true"], &[]);
    assert_usage_error(&out, "--for");
    assert!(out.stderr.contains("at once"), "{}", out.dump());
}

/// The JSON of a run that may have exited 130.
fn parse_json_any(out: &Out) -> Value {
    results_in(&out.stderr)
}

/// `-o FIFO` with no reader waits for one before the command starts, and that wait can be
/// stopped: Ctrl-C ends it (exit 130) and the command never ran.
#[test]
fn output_onto_a_fifo_without_a_reader_can_be_interrupted() {
    let dir = tempdir();
    let fifo = dir.path().join("results.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let marker = dir.path().join("ran");
    let touch = format!("touch {}", path_str(&marker));
    let mut child = spawn_trace(&["-o", path_str(&fifo), "--", "sh", "-c", &touch]);
    // Its first stderr line says it waits (read on a thread: a copylab that blocks in open
    // says nothing, and the test must not hang on it).
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        let mut r = BufReader::new(err);
        let mut line = String::new();
        let _ = r.read_line(&mut line);
        let _ = tx.send(line);
        // Keep reading: the rest (the exit's error line) must not meet a closed pipe.
        let _ = std::io::copy(&mut r, &mut std::io::sink());
    });
    let line = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    signal(&child, Signal::SIGINT);
    let until = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("copylab ignored Ctrl-C while waiting for the FIFO's reader");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    assert!(line.contains("waiting for a reader"), "{line}");
    assert!(
        !marker.exists(),
        "the command ran before the output was ready"
    );
}

/// `-o -` is stdout, as for every output flag: no file named `-` is made.
#[test]
fn output_dash_is_stdout() {
    let dir = tempdir();
    let out = Cmd::copylab(&["trace", "--json", "--no-profile", "-o", "-", "--", "true"])
        .current_dir(dir.path())
        .run();
    assert!(out.success(), "{}", out.dump());
    let r: Value = serde_json::from_str(&out.stdout).expect("the results on stdout");
    assert_eq!(r["exit_code"], 0, "{r:#}");
    assert!(!dir.path().join("-").exists(), "a file named - was written");
}

/// An output the user cannot write is refused before the command runs (its results would be
/// measured and then lost).
#[test]
fn an_unwritable_output_is_refused_before_the_command_runs() {
    let Some(out) = as_nobody(&[
        "trace",
        "-o",
        "/etc/copylab-trace-test.json",
        "--",
        "sh",
        "-c",
        "echo RAN",
    ]) else {
        return;
    };
    assert_clean_error(&out, &["--output", "/etc/copylab-trace-test.json"]);
    assert!(!out.stdout.contains("RAN"), "{}", out.dump());
    assert!(!Path::new("/etc/copylab-trace-test.json").exists());
}

/// A setuid program traced by a user who is not root (with CAP_PERFMON, so perf works): the
/// kernel removes the events at its exec, so nothing is counted, and the report says that and
/// why — never an empty tally. The same user tracing a plain program is counted (the control).
/// Runs in a private mount namespace with its own tracefs mount readable by that user's group.
#[test]
fn a_setuid_program_traced_unprivileged_says_nothing_was_counted() {
    require!(
        Need::tool("setpriv"),
        Need::tool("unshare"),
        Need::root("to make the unprivileged user with CAP_PERFMON")
    );
    let suid = Path::new("/usr/bin/mount");
    let ok = std::fs::metadata(suid).is_ok_and(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.permissions().mode() & 0o4000 != 0
    });
    require!(Need::that(ok, "/usr/bin/mount is not setuid here"));
    let dir = world_readable_dir();
    let bin = copy_bin_to(dir.path());
    let tfs = dir.path().join("tracefs");
    std::fs::create_dir(&tfs).expect("mkdir");
    // A uid/gid no other run uses (see unprivileged_args).
    let id = (1u32 << 30) + (std::process::id() << 8) + 255;
    let results = world_writable_dir();
    let run_as = |program: &str| -> Value {
        let res = results.path().join("trace.json");
        let script = format!(
            "mount -t tracefs -o gid={id} nodev {t} && COPYLAB_TRACEFS={t} {sp} --reuid={id} --regid={id} --clear-groups --inh-caps=+perfmon --ambient-caps=+perfmon -- {b} trace --json --no-profile -o {r} -- {program} > /dev/null; rc=$?; mount -o remount,gid=0 {t}; umount {t}; exit $rc",
            t = path_str(&tfs),
            sp = tool("setpriv").display(),
            b = path_str(&bin),
            r = path_str(&res),
        );
        let out = Cmd::new("unshare", &["-m", "sh", "-c", &script]).run();
        assert!(out.success(), "{}", out.dump());
        let text = std::fs::read_to_string(&res).unwrap_or_else(|e| panic!("{e}\n{}", out.dump()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    };
    let control = run_as("/usr/bin/cat /etc/hostname");
    assert!(
        calls(&control, "read") > 0,
        "the unprivileged user with CAP_PERFMON counts a plain program\n{control:#}"
    );
    let r = run_as("/usr/bin/mount");
    assert!(
        r["syscalls"].is_null(),
        "an empty tally presented as a fact\n{r:#}"
    );
    let why = r["unavailable"].as_str().unwrap_or("");
    assert!(
        why.contains("/usr/bin/mount is setuid root") && why.contains("Fix: run copylab as root"),
        "{r:#}"
    );
}

/// A process that exits while copylab attaches to its threads is named as the cause (exit 1,
/// nothing measured) — never "perf counters refused … run as root". Copylab is frozen
/// (SIGSTOP) in the middle of attaching to a process of 1,000 threads, the process is killed
/// and reaped, then copylab goes on.
#[test]
fn a_pid_that_exits_while_being_attached_is_named_as_the_cause() {
    require!(Need::tool("python3"));
    let mut caught = 0;
    for _ in 0..5 {
        let mut target = Command::new("python3")
            .args([
                "-c",
                "import threading,time\n[threading.Thread(target=time.sleep,args=(60,)).start() for _ in range(1000)]\nprint('up', flush=True)\ntime.sleep(60)",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3");
        let mut line = String::new();
        BufReader::new(target.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("python is up");
        let pid = target.id().to_string();
        let mut tracer = spawn_trace(&["--json", "--no-profile", "--pid", &pid, "--for", "5s"]);
        let fds = |p: u32| std::fs::read_dir(format!("/proc/{p}/fd")).map_or(0, |d| d.count());
        // Stop copylab once it holds some events but far fewer than 1,000 threads need.
        let until = Instant::now() + Duration::from_secs(20);
        while fds(tracer.id()) < 60 && Instant::now() < until {}
        signal(&tracer, Signal::SIGSTOP);
        let midway = fds(tracer.id()) < 1000;
        let _ = target.kill();
        let _ = target.wait();
        signal(&tracer, Signal::SIGCONT);
        let Out {
            code,
            stdout,
            stderr,
            ..
        } = finish(&mut tracer, TIMEOUT);
        assert!(
            !stderr.contains("run as root") && !stdout.contains("run as root"),
            "wrong cause named\n{stderr}\n{stdout}"
        );
        if !midway {
            continue;
        }
        caught += 1;
        assert_eq!(code, Some(1), "{stderr}\n{stdout}");
        assert!(
            stderr.contains(&format!(
                "--pid {pid}: the process exited while copylab was attaching"
            )),
            "{stderr}"
        );
    }
    assert!(
        caught > 0,
        "copylab was never caught in the middle of attaching"
    );
}

/// Out of descriptors while attaching (ulimit -n 64, a process of 100 threads): the cause and
/// the limit to raise it to, exit 1 — not "perf counters refused … run as root".
#[test]
fn a_pid_beyond_the_descriptor_limit_names_ulimit_n() {
    require!(Need::tool("python3"), Need::tool("prlimit"));
    let mut target = Command::new("python3")
        .args([
            "-c",
            "import threading,time\n[threading.Thread(target=time.sleep,args=(60,)).start() for _ in range(100)]\nprint('up', flush=True)\ntime.sleep(60)",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python3");
    let mut line = String::new();
    BufReader::new(target.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("python is up");
    let pid = target.id().to_string();
    let out = Cmd::new(
        "prlimit",
        &[
            "--nofile=64:64",
            bin(),
            "trace",
            "--pid",
            &pid,
            "--for",
            "2s",
        ],
    )
    .run();
    let _ = target.kill();
    let _ = target.wait();
    assert_clean_error(
        &out,
        &["out of file descriptors", "ulimit -n", "101 threads"],
    );
    assert!(!out.stderr.contains("run as root"), "{}", out.dump());
}

/// As root with tracefs not mounted, copylab mounts it for a moment on a directory of its own.
/// That directory's name must not be guessable: another user who makes
/// `copylab-tracefs-<pid>-0` first must not be able to deny tracing ("File exists") or choose
/// where the mount goes. Runs in a private mount namespace with every tracefs unmounted, with
/// the planted directories made by an unprivileged user in a TMPDIR anyone may write to.
#[test]
fn a_planted_tracefs_mount_point_does_not_deny_tracing() {
    require!(
        Need::tool("setpriv"),
        Need::tool("unshare"),
        Need::root("to mount tracefs")
    );
    let tmp = world_writable_dir();
    let ids = unprivileged_args().join(" ");
    // `exec` keeps the shell's pid, so the names planted are the ones the old code would use.
    let script = format!(
        "for m in $(awk '$3 == \"tracefs\" {{ print $2 }}' /proc/mounts); do umount -l \"$m\"; done; for n in 0 1 2; do {sp} {ids} mkdir {t}/copylab-tracefs-$$-$n || exit 9; done; exec {b} trace --json --no-profile -- true",
        sp = tool("setpriv").display(),
        t = path_str(tmp.path()),
        b = bin(),
    );
    let out = Cmd::new("unshare", &["-m", "sh", "-c", &script])
        .envs(&[("TMPDIR", path_str(tmp.path()))])
        .run();
    assert!(out.success(), "{}", out.dump());
    let r = results_in(&out.stderr);
    assert!(
        r["syscalls"].is_object(),
        "tracing was denied by a planted directory\n{r:#}"
    );
    // The planted directories are still there, untouched; nothing of copylab's is left.
    let left: Vec<String> = std::fs::read_dir(tmp.path())
        .expect("read TMPDIR")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(
        left.iter().all(|n| n.starts_with("copylab-tracefs-")),
        "{left:?}"
    );
}
