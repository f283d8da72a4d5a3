//! How results are printed: a closed stdout (`| head -1`) is not an error, and the table is a
//! well-formed fixed-width grid, coloured only when asked.

use crate::util::*;

use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Wait for `child` at most `limit`, killing it if it takes longer.
fn wait_with_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for copylab") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("copylab did not exit within {limit:?} after its stdout was closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A pipe whose capacity is one page, so copylab's output cannot fit in it and copylab must
/// still be writing when the reader goes away.
fn small_pipe() -> (OwnedFd, OwnedFd) {
    // O_CLOEXEC: neither copylab nor a child another test spawns may inherit the read end, or
    // the pipe never breaks.
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe");
    let _ = nix::fcntl::fcntl(&w, nix::fcntl::FcntlArg::F_SETPIPE_SZ(4096));
    (r, w)
}

/// Start copylab with stdout on a small pipe; read its first line (or nothing), close the pipe,
/// and check copylab exits 0 without complaint.
fn closed_stdout(args: &[&str], read_one_line: bool) {
    let (r, w) = small_pipe();
    let mut cmd = Cmd::copylab(args).command();
    cmd.env_remove("COPYLAB_TRACEFS")
        .stdin(Stdio::null())
        .stdout(Stdio::from(w))
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn copylab");
    drop(cmd); // our copy of the write end
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    if read_one_line {
        // A tiny buffer: take little more than the first line off the pipe, so copylab is
        // still writing when the reader goes away.
        let mut reader = BufReader::with_capacity(16, std::fs::File::from(r));
        let mut line = String::new();
        reader.read_line(&mut line).expect("read the first line");
        assert!(!line.is_empty(), "copylab printed nothing");
        drop(reader); // like `head -1` exiting
    } else {
        drop(r); // stdout is gone before copylab prints anything
    }
    let status = wait_with_timeout(&mut child, TIMEOUT);
    let stderr = err_reader.join().unwrap();
    assert!(
        status.success(),
        "a closed stdout must exit 0, got {status:?} (args {args:?})\nstderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "panic on closed stdout:\n{stderr}"
    );
    assert!(
        !stderr.to_lowercase().contains("broken pipe"),
        "no broken-pipe error on closed stdout:\n{stderr}"
    );
}

#[test]
fn table_piped_into_head_exits_zero() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 3 << 20, 11);
    closed_stdout(
        &[
            "compare",
            path_str(&file),
            "--runs",
            "1",
            "--warmup",
            "0",
            "--color",
            "never",
        ],
        true,
    );
}

#[test]
fn json_piped_into_head_exits_zero() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 3 << 20, 12);
    closed_stdout(
        &[
            "compare",
            path_str(&file),
            "--runs",
            "1",
            "--warmup",
            "0",
            "--json",
        ],
        true,
    );
}

#[test]
fn stdout_closed_before_output_exits_zero() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 3 << 20, 13);
    let f = path_str(&file);
    closed_stdout(
        &[
            "compare", f, "--runs", "1", "--warmup", "0", "--color", "never",
        ],
        false,
    );
    closed_stdout(
        &["compare", f, "--runs", "1", "--warmup", "0", "--json"],
        false,
    );
}

fn is_table_line(l: &str) -> bool {
    l.starts_with(['┌', '│', '╞', '├', '└'])
}

#[test]
fn table_layout_is_a_fixed_width_grid() {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", 256 << 10, 14);
    let f = path_str(&file);
    let out = run_ok(
        &[
            "compare", f, "--runs", "1", "--warmup", "0", "--color", "never",
        ],
        &[],
    );
    let text = &out.stdout;
    assert!(
        !text.contains("\x1b["),
        "--color never must not emit ANSI escapes\n{}",
        out.dump()
    );

    let lines: Vec<&str> = text.lines().collect();
    let first_table = lines
        .iter()
        .position(|l| is_table_line(l))
        .unwrap_or_else(|| panic!("no table\n{}", out.dump()));
    let header = lines[..first_table].join("\n");
    for needle in [f, "transport", "cache", "kernel", "counters"] {
        assert!(
            header.contains(needle),
            "header must mention {needle:?}:\n{header}"
        );
    }

    let table: Vec<&str> = lines.iter().copied().filter(|l| is_table_line(l)).collect();
    // The grid is contiguous: no stray line inside it.
    let last_table = lines.iter().rposition(|l| is_table_line(l)).unwrap();
    assert_eq!(
        table.len(),
        last_table - first_table + 1,
        "table is contiguous\n{text}"
    );
    assert!(
        table[0].starts_with('┌') && table.last().unwrap().starts_with('└'),
        "{text}"
    );
    let width = table[0].chars().count();
    for l in &table {
        assert_eq!(
            l.chars().count(),
            width,
            "every table line has the same width:\n{l}\n{text}"
        );
    }
    for m in METHODS {
        assert!(
            table.iter().any(|l| l.starts_with(&format!("│ {m} "))),
            "method {m} must have a row:\n{text}"
        );
    }

    let coloured = run_ok(
        &[
            "compare", f, "--runs", "1", "--warmup", "0", "--color", "always",
        ],
        &[],
    );
    assert!(
        coloured.stdout.contains("\x1b["),
        "--color always must colour\n{}",
        coloured.dump()
    );

    // auto with stdout not a terminal: no colour.
    let auto = run_ok(
        &[
            "compare", f, "--runs", "1", "--warmup", "0", "--color", "auto",
        ],
        &[],
    );
    assert!(
        !auto.stdout.contains("\x1b["),
        "--color auto into a pipe must not colour\n{}",
        auto.dump()
    );
}
