//! copylab's entry point: parse the command line, run the job, map errors to exit codes.

mod cli;
mod compare;
mod counters;
mod doctor;
mod explain;
mod fetch;
mod http;
mod lab;
mod method;
mod netns;
mod outfile;
mod placement;
mod quiz;
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
            let exports = Exports::create(&specs)?;
            // A bad --output is found before the program runs, not after; a device or FIFO
            // is written as it is, never replaced.
            let kind = match &file {
                Some(p) => Some(outfile::classify("--output", p)?),
                None => None,
            };
            if let Some(p) = &file {
                let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
                if dir.is_some_and(|d| !d.is_dir()) {
                    anyhow::bail!(
                        "--output {}: its directory does not exist (create it or choose another path)",
                        p.display()
                    );
                }
            }
            let r = trace::run_keeping(&opts, opts.profile && specs.need_stacks())?;
            match (&file, kind) {
                (Some(p), Some(kind)) => {
                    let mut text = Vec::new();
                    report::write_trace(&r, output, &mut text)?;
                    outfile::write("--output", p, kind, &text)?;
                }
                _ => report::write_trace(&r, output, &mut std::io::stdout().lock())?,
            }
            // After the results are out: a page or stacks that cannot be written lose nothing.
            exports.finish(&Results::Trace(&r))?;
            if r.ended == "interrupted" {
                return Err(signals::Interrupted.into());
            }
        }
        cli::Job::Quiz(opts) => quiz::run(&opts)?,
        cli::Job::LabUp => {
            let lab = lab::up()?;
            report::write_lab(&lab, &mut std::io::stdout().lock())?;
        }
        cli::Job::LabDown => {
            let was_up = lab::down()?;
            report::write_lab_down(was_up, &mut std::io::stdout().lock())?;
        }
        cli::Job::Print(text) => {
            let mut out = std::io::stdout().lock();
            out.write_all(&text)?;
            out.flush()?;
        }
        cli::Job::Doctor { file, json } => {
            let d = doctor::diagnose(file.as_deref())?;
            report::write_doctor(&d, json, &mut std::io::stdout().lock())?;
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

fn exit_code(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if e.chain().any(|c| c.is::<signals::Interrupted>()) => {
            eprintln!("copylab: {e:#}");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("copylab: {e:#}");
            ExitCode::FAILURE
        }
    }
}
