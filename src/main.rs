//! copylab's entry point: parse the command line, run the job, map errors to exit codes.

mod cli;
mod compare;
mod counters;
mod doctor;
mod escape;
mod explain;
mod fetch;
mod http;
mod lab;
mod method;
mod netns;
mod outfile;
mod placement;
mod private_net;
mod quiz;
mod receive;
mod report;
mod results;
mod serve;
mod signals;
mod size;
mod source;
mod stats;
mod storage;
mod sweep;
mod sys;
mod syscall;
mod trace;
mod transfer;
mod transport;
mod warnings;

use std::process::ExitCode;

use clap::Parser;

fn run() -> anyhow::Result<ExitCode> {
    use std::io::Write;
    // First thing: SIGUSR1 asks for a status line and must never kill a long run.
    signals::install_status()?;
    let job = cli::Cli::parse().into_job()?;
    match job {
        cli::Job::Compare(opts, output, specs) => {
            use report::export::{Exports, Results};
            let exports = Exports::create(&specs)?;
            let report = compare::run_with(&opts, &mut |r| exports.update(&Results::Compare(r)))?;
            exports.finish(&Results::Compare(&report))?;
            if !exports.uses_stdout() {
                report::write(&report, output, &mut std::io::stdout().lock())?;
            }
        }
        cli::Job::Sweep(opts, output, specs) => {
            use report::export::{Exports, Results};
            let exports = Exports::create(&specs)?;
            let s = sweep::run(&opts, &mut |s| exports.update(&Results::Sweep(s)))?;
            exports.finish(&Results::Sweep(&s))?;
            if !exports.uses_stdout() {
                report::write_sweep(&s, output, &mut std::io::stdout().lock())?;
            }
        }
        cli::Job::Serve(opts) => serve::run(opts)?,
        cli::Job::Fetch(opts) => fetch::run(opts)?,
        cli::Job::Explain(opts) => {
            let text = explain::run(&opts)?;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        cli::Job::Trace(opts, output, file, specs) => {
            use report::export::{Exports, Results};
            // A bad page or stacks path is found before the program runs, not after.
            let exports = Exports::create(&specs)?;
            let stacks = if opts.profile && specs.need_stacks() {
                trace::Callchains::Keep
            } else {
                trace::Callchains::Discard
            };
            trace::command(&opts, output, file.as_deref(), stacks, |r| {
                exports.finish(&Results::Trace(r))
            })?
        }
        cli::Job::Quiz(opts) => quiz::run(&opts)?,
        cli::Job::LabUp => {
            let lab = lab::up()?;
            report::write_lab(&lab, &mut std::io::stdout().lock())?;
        }
        cli::Job::LabDown => {
            let done = lab::down()?;
            report::write_lab_down(&done, &mut std::io::stdout().lock())?;
        }
        cli::Job::Print(text) => {
            let mut out = std::io::stdout().lock();
            out.write_all(&text)?;
            out.flush()?;
        }
        cli::Job::Doctor { file, output } => {
            let d = doctor::diagnose(file.as_deref())?;
            report::write_doctor(&d, output, &mut std::io::stdout().lock())?;
            if !d.full_table {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// True when the error is a closed stdout (`copylab compare | head -1`): not worth a message.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    let code = exit_code(run());
    // Last: the syscall tracepoint's final close (an RCU grace period) is left to a child.
    counters::release_at_exit();
    code
}

/// The error line: the chain on one line, escaped (it can quote file names, a server's words
/// or a command's name, and escaping what is already escaped changes nothing).
fn error_line(e: &anyhow::Error) -> String {
    format!("copylab: {}", escape::escape(&format!("{e:#}")))
}

/// One line on stderr; a closed stderr is not worth a panic (eprintln! would panic on EPIPE).
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn exit_code(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        // A usage error found after parsing: clap's words and exit code.
        Err(e) if e.downcast_ref::<clap::Error>().is_some() => {
            if let Some(ce) = e.downcast_ref::<clap::Error>() {
                let _ = ce.print();
            }
            ExitCode::from(2)
        }
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if e.chain().any(|c| c.is::<signals::Interrupted>()) => {
            say(&error_line(&e));
            ExitCode::from(130)
        }
        Err(e) => {
            say(&error_line(&e));
            ExitCode::FAILURE
        }
    }
}
