//! Running a command and reading what it left: [`Cmd`] is the one way every test runs copylab or
//! any other program to its end ([`run`], [`run_ok`] and [`run_json`] are its short forms for
//! copylab), always in the same environment and always with a deadline, and [`Out`] is what it
//! left behind, with the checks every error exit must pass.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Every command a test runs to its end is killed after this (a hang is a failure, not a stuck
/// suite), unless the test gives it a longer [`Cmd::timeout`].
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// The copylab binary under test (cargo builds it for the integration tests).
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_copylab")
}

/// A command to run: copylab ([`Cmd::copylab`]) or any program ([`Cmd::new`]). Its environment
/// is made the same on every machine unless the test says otherwise: COPYLAB_TRACEFS, NO_COLOR
/// and COLUMNS removed (output is laid out for 80 columns), and a UTF-8 locale (LANG=C.UTF-8,
/// LC_ALL and LC_CTYPE removed) so tables are drawn with box characters. Stdin is empty unless
/// [`Cmd::stdin`] gives it bytes.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    /// Set (`Some`) or removed (`None`), in order, after the defaults.
    env: Vec<(OsString, Option<OsString>)>,
    /// What the test changed of the environment, as a shell would write it.
    env_shown: Vec<String>,
    stdin: Option<Vec<u8>>,
    stdout_to: Option<PathBuf>,
    current_dir: Option<PathBuf>,
    timeout: Duration,
}

impl Cmd {
    /// `copylab ARGS`.
    pub fn copylab<S: AsRef<OsStr>>(args: &[S]) -> Cmd {
        Cmd::new(bin(), args)
    }

    /// `PROGRAM ARGS`: a path, or a name looked up on PATH.
    pub fn new<S: AsRef<OsStr>>(program: impl AsRef<OsStr>, args: &[S]) -> Cmd {
        let mut env: Vec<(OsString, Option<OsString>)> = [
            "COPYLAB_TRACEFS",
            "NO_COLOR",
            "COLUMNS",
            "LC_ALL",
            "LC_CTYPE",
        ]
        .iter()
        .map(|k| (OsString::from(k), None))
        .collect();
        env.push(("LANG".into(), Some("C.UTF-8".into())));
        Cmd {
            program: program.as_ref().to_owned(),
            args: args.iter().map(|a| a.as_ref().to_owned()).collect(),
            env,
            env_shown: Vec::new(),
            stdin: None,
            stdout_to: None,
            current_dir: None,
            timeout: TIMEOUT,
        }
    }

    /// One more argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.args.push(a.as_ref().to_owned());
        self
    }

    /// More arguments.
    pub fn args<S: AsRef<OsStr>>(mut self, args: &[S]) -> Cmd {
        self.args.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Set `key` to `value`.
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Cmd {
        let value = value.as_ref();
        self.env_shown
            .push(format!("{key}={}", value.to_string_lossy()));
        self.env.push((key.into(), Some(value.to_owned())));
        self
    }

    /// Set each `(key, value)`.
    pub fn envs(self, envs: &[(&str, &str)]) -> Cmd {
        envs.iter().fold(self, |c, (k, v)| c.env(k, v))
    }

    /// Remove `key`.
    pub fn env_remove(mut self, key: &str) -> Cmd {
        self.env_shown.push(format!("-u {key}"));
        self.env.push((key.into(), None));
        self
    }

    /// No locale at all (LANG, LC_ALL, LC_MESSAGES and LC_CTYPE removed): the language is decided
    /// only by what the test sets after this, whatever the runner's locale is.
    pub fn without_locale(self) -> Cmd {
        ["LANG", "LC_ALL", "LC_MESSAGES", "LC_CTYPE"]
            .iter()
            .fold(self, |c, k| c.env_remove(k))
    }

    /// Bytes on stdin, written from a thread (the program may stop reading early: a write error
    /// is expected then and ignored).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(input.into());
        self
    }

    /// Stdout into the file `path` (created or truncated) instead of [`Out::stdout`].
    pub fn stdout_to(mut self, path: &Path) -> Cmd {
        self.stdout_to = Some(path.to_owned());
        self
    }

    /// Run in `dir` rather than the test's own directory.
    pub fn current_dir(mut self, dir: &Path) -> Cmd {
        self.current_dir = Some(dir.to_owned());
        self
    }

    /// Kill the command and fail the test after `timeout` rather than [`TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Cmd {
        self.timeout = timeout;
        self
    }

    /// The command line as a shell would show it, for failure messages.
    pub fn shown(&self) -> String {
        let mut s = String::new();
        if let Some(d) = &self.current_dir {
            s.push_str(&format!("cd {} && ", d.display()));
        }
        if !self.env_shown.is_empty() {
            s.push_str("env ");
            for e in &self.env_shown {
                s.push_str(e);
                s.push(' ');
            }
        }
        s.push_str(&self.program.to_string_lossy());
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        if let Some(p) = &self.stdout_to {
            s.push_str(&format!(" > {}", p.display()));
        }
        match self.stdin.as_deref().map(std::str::from_utf8) {
            Some(Ok(text)) if text.len() <= 200 => s.push_str(&format!(" <<< {text:?}")),
            Some(_) => s.push_str(" < (bytes)"),
            None => {}
        }
        s
    }

    /// A [`Command`] for this program, arguments and environment, stdin empty: for a process the
    /// test talks to, signals or watches while it runs (the test sets stdout and stderr).
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args).stdin(Stdio::null());
        if let Some(d) = &self.current_dir {
            c.current_dir(d);
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        // Started in the background by a shell without job control, the test binary inherits
        // SIGINT and SIGQUIT ignored, and every process it starts would too (and rightly keep
        // ignoring them): the tests that press Ctrl-C give the program the default action back.
        // SAFETY: signal() is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut c, || {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGQUIT, libc::SIG_DFL);
                Ok(())
            });
        }
        c
    }

    /// Run to the end and read stdout and stderr whole; killed, and the test failed, after the
    /// timeout.
    pub fn run(self) -> Out {
        let what = self.shown();
        let mut cmd = self.command();
        cmd.stderr(Stdio::piped());
        match &self.stdout_to {
            Some(p) => cmd
                .stdout(File::create(p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()))),
            None => cmd.stdout(Stdio::piped()),
        };
        if self.stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
        let writer = match (self.stdin, child.stdin.take()) {
            (Some(input), Some(mut pipe)) => Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            })),
            _ => None,
        };
        let stdout = read_all(child.stdout.take());
        let stderr = read_all(child.stderr.take());
        let pid = child.id();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let deadline = Instant::now() + self.timeout;
        let status = match rx.recv_timeout(self.timeout) {
            Ok(status) => status.unwrap_or_else(|e| panic!("waiting for `{what}`: {e}")),
            Err(_) => {
                // SAFETY: kill has no memory-safety preconditions; the pid is our child, which
                // the waiting thread has not reaped (it has not answered).
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                panic!("`{what}` did not finish within {:?} (killed)", self.timeout);
            }
        };
        if let Some(w) = writer {
            let _ = w.join();
        }
        // The output ends when the last process holding the pipes lets go: the command, or
        // something it left running.
        let rest = |pipe: Receiver<String>, name: &str| {
            let left = deadline.saturating_duration_since(Instant::now());
            pipe.recv_timeout(left).unwrap_or_else(|_| {
                panic!("`{what}` exited, but its {name} stayed open (a process it left running?)")
            })
        };
        let stdout = rest(stdout, "stdout");
        let stderr = rest(stderr, "stderr");
        Out {
            code: status.code(),
            signal: status.signal(),
            stdout,
            stderr,
            what,
        }
    }
}

/// A thread reading `pipe` to its end, as text, sent on the channel returned.
fn read_all(pipe: Option<impl Read + Send + 'static>) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut v);
        }
        let _ = tx.send(String::from_utf8_lossy(&v).into_owned());
    });
    rx
}

/// What a finished command left behind.
#[derive(Debug)]
pub struct Out {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The command line, as [`Cmd::shown`] says it.
    pub what: String,
}

impl Out {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Everything needed to diagnose a failed assertion.
    pub fn dump(&self) -> String {
        format!(
            "command: {}\nexit code: {:?}\n--- stderr ---\n{}\n--- stdout (first 4000 chars) ---\n{}",
            self.what,
            self.code,
            self.stderr,
            self.stdout.chars().take(4000).collect::<String>()
        )
    }

    /// Insist on exit 0 and no panic.
    pub fn assert_ok(&self) -> &Out {
        assert!(self.success(), "command failed\n{}", self.dump());
        assert!(
            !self.stderr.contains("panicked"),
            "command panicked\n{}",
            self.dump()
        );
        self
    }

    /// Stdout parsed as JSON (the command must have succeeded).
    pub fn json(&self) -> Value {
        assert!(self.success(), "command failed\n{}", self.dump());
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.dump()))
    }
}

/// Wait for a process the test started itself ([`Cmd::command`]) and read what is left of the
/// stdout and stderr it piped: killed, and the test failed, after `timeout`.
pub fn finish(child: &mut Child, timeout: Duration) -> Out {
    let what = format!("the process {} the test started", child.id());
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?} (killed)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let rest = |pipe: Receiver<String>| {
        let left = deadline.saturating_duration_since(Instant::now());
        pipe.recv_timeout(left).unwrap_or_default()
    };
    Out {
        code: status.code(),
        signal: status.signal(),
        stdout: rest(stdout),
        stderr: rest(stderr),
        what,
    }
}

/// Send `sig` to a process the test started and has not reaped.
pub fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, sig).unwrap_or_else(|e| panic!("kill -{sig} {pid}: {e}"));
}

/// `copylab ARGS` with `envs` set.
pub fn run(args: &[&str], envs: &[(&str, &str)]) -> Out {
    Cmd::copylab(args).envs(envs).run()
}

/// `copylab ARGS`, insisting on exit 0 and no panic.
pub fn run_ok(args: &[&str], envs: &[(&str, &str)]) -> Out {
    let out = run(args, envs);
    out.assert_ok();
    out
}

/// Parse the JSON report in `out.stdout`.
pub fn parse_json(out: &Out) -> Value {
    out.json()
}

/// `copylab ARGS` (which include --json): its report, schema 1.
pub fn run_json(args: &[&str], envs: &[(&str, &str)]) -> Value {
    let out = run_ok(args, envs);
    let v = out.json();
    assert_eq!(v["schema"], 1, "unexpected schema\n{}", out.dump());
    v
}

/// The checks every bad flag value must pass: clap's usage error, exit code 2, naming `flag`
/// (`invalid value '0' for '--buffer <SIZE>'`), no panic, nothing on stdout.
pub fn assert_usage_error(out: &Out, flag: &str) {
    assert_eq!(out.code, Some(2), "expected exit code 2\n{}", out.dump());
    assert!(!out.stderr.contains("panicked"), "panic\n{}", out.dump());
    assert!(
        out.stderr.contains(&format!("'{flag} ")),
        "stderr must name {flag}\n{}",
        out.dump()
    );
    assert!(out.stdout.is_empty(), "{}", out.dump());
}

/// The checks every error exit must pass: exit code 1, exactly one stderr line starting with
/// "copylab: " and containing each of `needles`, no panic, nothing on stdout.
pub fn assert_clean_error(out: &Out, needles: &[&str]) {
    assert_eq!(out.code, Some(1), "expected exit code 1\n{}", out.dump());
    assert!(!out.stderr.contains("panicked"), "panic\n{}", out.dump());
    assert!(
        out.stderr.ends_with('\n'),
        "stderr must end with a newline\n{}",
        out.dump()
    );
    let body = out.stderr.trim_end_matches('\n');
    assert!(
        !body.contains('\n'),
        "stderr must be exactly one line\n{}",
        out.dump()
    );
    assert!(
        body.starts_with("copylab: "),
        "stderr must start with 'copylab: '\n{}",
        out.dump()
    );
    for n in needles {
        assert!(
            body.contains(n),
            "stderr must mention {n:?}\n{}",
            out.dump()
        );
    }
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout on error\n{}",
        out.dump()
    );
}

/// Run `f` on its own thread and give up (failing) after `timeout`, so a blocked client cannot
/// hang the suite.
pub fn with_timeout<T: Send + 'static>(
    what: &str,
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(timeout)
        .unwrap_or_else(|e| panic!("{what}: no result within {timeout:?} ({e})"))
}
