//! The projector's screens in a real terminal: `serve --live` (at 80 × 24 and 100 × 30) and the
//! quiz (at 80 × 24) run inside tmux, driven by real clients and keys, and read back with
//! `tmux capture-pane`. Captured with wrapped lines joined, no line is wider than the terminal
//! — the terminal wrapped nothing, so no value is split — and after Ctrl-C nothing of the live
//! view is left on the screen.

use crate::util::*;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use unicode_width::UnicodeWidthStr;

/// A tmux server of the test's own (its own socket: no other tmux is touched) with one session
/// of `cols` × `rows` running `sh`; the server is killed when dropped. The test requires tmux.
struct Tmux {
    socket: String,
    cols: usize,
}

impl Tmux {
    fn start(cols: usize, rows: usize, dir: &std::path::Path) -> Tmux {
        static N: AtomicU32 = AtomicU32::new(0);
        let socket = format!(
            "copylab-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let t = Tmux { socket, cols };
        // The session's environment is this one, made the same on every machine: a UTF-8
        // locale, no COLUMNS (the width is the terminal's).
        Cmd::new(
            "tmux",
            &["-L", &t.socket, "-f", "/dev/null", "new-session", "-d"],
        )
        .args(&["-s", "s", "-x", &cols.to_string(), "-y", &rows.to_string()])
        .args(&["-c", path_str(dir)])
        .arg("sh")
        .env_remove("TMUX")
        .env_remove("LINES")
        .run()
        .assert_ok();
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        Cmd::new("tmux", &["-L", &self.socket])
            .args(args)
            .run()
            .assert_ok()
            .stdout
            .clone()
    }

    /// Clear the screen, then run `command` (the line typed is cleared with it).
    fn run(&self, command: &str) {
        self.type_line(&format!("printf '\\033[H\\033[2J'; {command}"));
    }

    /// Type `line` into the pane and press Enter.
    fn type_line(&self, line: &str) {
        self.tmux(&["send-keys", "-t", "s", "-l", line]);
        self.tmux(&["send-keys", "-t", "s", "Enter"]);
    }

    fn keys(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "s", key]);
    }

    /// The screen as shown, lines the terminal wrapped joined again (-J): a line longer than
    /// the terminal shows here as longer than `cols`.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", "s"])
    }

    /// The screen row by row, as the terminal shows it.
    fn rows(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "s"])
    }

    /// Everything the pane showed, its scrolled-off history first.
    fn history(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", "s"])
    }

    /// The screen once `ready` says so, or a failure after `timeout`.
    fn wait_for(&self, what: &str, timeout: Duration, ready: impl Fn(&str) -> bool) -> String {
        self.wait(what, timeout, Tmux::screen, ready)
    }

    /// The history once `ready` says so, or a failure after `timeout`.
    fn wait_in_history(
        &self,
        what: &str,
        timeout: Duration,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        self.wait(what, timeout, Tmux::history, ready)
    }

    fn wait(
        &self,
        what: &str,
        timeout: Duration,
        capture: fn(&Tmux) -> String,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        let until = Instant::now() + timeout;
        loop {
            let s = capture(self);
            if ready(&s) {
                return s;
            }
            assert!(
                Instant::now() < until,
                "{what}: not on screen after {timeout:?}\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every line of `screen` fits the terminal (nothing was wrapped by it); the shell's echo
    /// of a typed command (after its prompt) aside.
    fn assert_fits(&self, screen: &str, what: &str) {
        for l in screen
            .lines()
            .filter(|l| !l.starts_with("$ ") && !l.starts_with("# "))
        {
            assert!(
                l.width() <= self.cols,
                "{what}: a line of {} columns on a {}-column terminal (wrapped by the terminal, a value split):\n{l}\n---\n{screen}",
                l.width(),
                self.cols
            );
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The shell's prompt is back: the last line shown is the prompt alone (`$`, or `#` for root).
fn prompt_back(screen: &str) -> bool {
    matches!(
        screen
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(str::trim_end),
        Some("$" | "#")
    )
}

/// The connection ids of the live view's bars on `screen` (rows that start with a bar).
fn bars(screen: &str) -> Vec<u64> {
    screen
        .lines()
        .filter(|l| l.starts_with(['█', '░']))
        .filter_map(|l| {
            let rest = &l[l.find('#')? + 1..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// A curl fetching `url` into `out` at `rate`.
fn curl(url: &str, out: &std::path::Path, rate: &str) -> Child {
    Command::new("curl")
        .args([
            "-sS",
            "--fail",
            "--limit-rate",
            rate,
            "-o",
            path_str(out),
            url,
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("start curl")
}

/// Every row of serve's screen starts a line of its own — a listening line, a connection's, a
/// bar, the running totals, the summary table or its note — or is serve's own continuation of
/// one (indented). A row that starts with anything else is the rest of a line the terminal
/// wrapped: a value split. (serve's live lines are padded to the last column, so capture-pane
/// -J cannot tell its rows apart: they are read row by row.)
fn assert_rows_start_lines(rows: &str, what: &str) {
    const STARTS: [&str; 12] = [
        "copylab serve: ",
        "try: ",
        "(Ctrl-C ",
        "#",
        "    ",
        "read-write · ",
        "left out to fit ",
        "  ",
        "$ ",
        "rc=",
        "█",
        "░",
    ];
    for row in rows.lines() {
        assert!(
            row.is_empty()
                || STARTS.iter().any(|s| row.starts_with(s))
                || row.starts_with(['┌', '│', '╞', '├', '└']),
            "{what}: a row that continues a line the terminal wrapped:\n{row}\n---\n{rows}"
        );
    }
}

/// A line wrapped by serve itself breaks only between values: every continuation line (four
/// spaces) follows a line that ends with the separator.
fn assert_breaks_between_values(screen: &str, what: &str) {
    let lines: Vec<&str> = screen.lines().collect();
    for (i, l) in lines.iter().enumerate().skip(1) {
        if l.starts_with("    ") && lines[i - 1].starts_with('#') {
            assert!(
                lines[i - 1].ends_with(" ·"),
                "{what}: a line broken inside a value:\n{}\n{l}\n---\n{screen}",
                lines[i - 1]
            );
        }
    }
}

/// `serve --live` on a projector's terminal and a student's: two real clients, one fast and one
/// slow; Ctrl-C while the slow one is in progress. While it runs every line fits and each
/// connection has one bar at most (a stale bar would be a second); after Ctrl-C the slow
/// transfer finishes within the grace period, both clients have the file byte for byte, and the
/// screen holds the connections' lines and the summary — no bar, no running totals.
#[test]
fn serve_live_in_tmux_fits_and_leaves_nothing_after_ctrl_c() {
    require!(Need::tool("tmux"), Need::tool("curl"));
    for (cols, rows) in [(80, 24), (100, 30)] {
        let what = format!("serve --live at {cols} x {rows}");
        let dir = tempdir();
        let file = write_file(dir.path(), "data.bin", 16 << 20, 0x71);
        let t = Tmux::start(cols, rows, dir.path());
        t.run(&format!(
            "{} serve data.bin --http --live --method read-write --listen 127.0.0.1:0",
            bin()
        ));
        let shown = t.wait_for(&what, Duration::from_secs(30), |s| s.contains("try: "));
        let text = unwrapped(&shown);
        let addr = text
            .split(" over tcp on ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("{what}: no address\n{shown}"))
            .to_string();
        let url = format!("http://{addr}/");
        let (fast, slow) = (dir.path().join("fast"), dir.path().join("slow"));
        let mut a = curl(&url, &fast, "16M");
        let mut b = curl(&url, &slow, "4M");
        let mut drawn = 0;
        let mut check = |screen: &str| {
            assert_rows_start_lines(screen, &what);
            let ids = bars(screen);
            let mut unique = ids.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(ids.len(), unique.len(), "{what}: a stale bar\n{screen}");
            drawn += ids.len();
        };
        let until = Instant::now() + Duration::from_secs(60);
        while a.try_wait().expect("curl").is_none() {
            assert!(
                Instant::now() < until,
                "{what}: the fast client never ended"
            );
            check(&t.rows());
            std::thread::sleep(Duration::from_millis(100));
        }
        // The fast client's line is up and the slow one still has its bar: stop the server.
        t.wait_for(&what, Duration::from_secs(30), |s| {
            unwrapped(s).contains(" · complete") && !bars(s).is_empty()
        });
        check(&t.rows());
        t.keys("C-c");
        let until = Instant::now() + Duration::from_secs(60);
        let after = loop {
            let s = t.rows();
            if prompt_back(&s) {
                break s;
            }
            assert!(Instant::now() < until, "{what}: serve never exited\n{s}");
            check(&s);
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(drawn > 0, "{what}: no bar was ever drawn");
        assert!(b.wait().expect("curl").success(), "{what}: the slow client");
        assert_eq!(xxh3_of(&fast), xxh3_of(&file), "{what}: the fast client");
        assert_eq!(xxh3_of(&slow), xxh3_of(&file), "{what}: the slow client");

        assert_rows_start_lines(&after, &what);
        assert_breaks_between_values(&after, &what);
        for stale in [" of 16 MiB", " done · ", "█", "░"] {
            assert!(
                !after.contains(stale),
                "{what}: {stale:?} left on screen after exit\n{after}"
            );
        }
        let text = unwrapped(&after);
        for id in ["#1 127.0.0.1:", "#2 127.0.0.1:"] {
            assert!(text.contains(id), "{what}: {id}\n{after}");
        }
        assert!(
            text.contains("2 (2 complete)") && text.contains("16 MiB"),
            "{what}: the summary\n{after}"
        );
        t.type_line("echo rc=$?");
        t.wait_for(&what, Duration::from_secs(10), |s| s.contains("rc=0"));
    }
}

/// The quiz at 80 × 24: two questions answered, then `q`. Every line it printed fits (the
/// header, the questions, the verdicts, the score), and each question asked is on screen whole,
/// as the teacher's list (`--list --json`, same seed) has it.
#[test]
fn quiz_in_tmux_fits_80_columns() {
    require!(Need::tool("tmux"));
    let dir = tempdir();
    let t = Tmux::start(80, 24, dir.path());
    let what = "quiz at 80 x 24";
    t.run(&format!("{} quiz --size 8M --seed 7", bin()));
    let prompts = |s: &str| s.lines().filter(|l| l.starts_with("> ")).count();
    for answered in 0..2 {
        let screen = t.wait_in_history(what, Duration::from_secs(180), |s| {
            prompts(s) > answered && s.trim_end().ends_with('>')
        });
        // A choice is answered with its letter, a number with a number.
        t.type_line(if screen.contains("a) ") { "a" } else { "1" });
        std::thread::sleep(Duration::from_millis(200));
    }
    t.wait_in_history(what, Duration::from_secs(60), |s| prompts(s) >= 3);
    t.type_line("q");
    t.wait_for(what, Duration::from_secs(30), prompt_back);
    let history = t.history();
    // From the quiz's first line: the command typed before it was cleared away.
    let all = history
        .find("copylab quiz · ")
        .map_or(history.as_str(), |i| &history[i..]);
    t.assert_fits(all, what);
    let text = unwrapped(all);
    assert!(
        text.contains("copylab quiz · seed 7 (--seed 7 gives the same questions)"),
        "{all}"
    );
    assert!(
        text.contains("score ") && text.contains("(ended after 2 of "),
        "{all}"
    );
    let out = run_ok(
        &["quiz", "--size", "8M", "--seed", "7", "--list", "--json"],
        &[],
    );
    let teacher: Value = serde_json::from_str(&out.stdout).expect("--list --json");
    let questions = teacher["questions"].as_array().expect("questions");
    for (i, q) in questions.iter().take(3).enumerate() {
        let asked = format!("{}. {}", i + 1, q["text"].as_str().expect("text"));
        assert!(text.contains(&asked), "{what}: {asked:?} cut\n{all}");
    }
}
