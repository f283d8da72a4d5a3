//! Printing a [`Report`] and every other command's output: tables and lines for people, JSON for
//! programs. Nothing here measures.

pub mod conclusion;
mod doctor;
pub mod export;
mod fetch;
pub mod fit;
mod html;
pub mod lesson;
mod matrix;
mod profile;
pub mod progress;
pub mod quiz;
pub mod serve;
mod sweep;
mod table;
pub mod text;
mod trace;

pub use doctor::write_doctor;
pub use fetch::write_fetch;
pub use table::{bar_of, thousands};

use std::io::{IsTerminal, Write};

use anyhow::Result;

use crate::results::Report;

/// When to colour what people read: always, never, or (auto) when stdout is a terminal and
/// neither NO_COLOR nor TERM=dumb says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// How results are printed: a table for people, JSON for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table { color: Color, layout: TableLayout },
    Json,
}

/// What a table for people holds and which characters draw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableLayout {
    /// Every column, however wide the result (`--wide`), instead of the lesson's columns.
    pub wide: bool,
    pub style: Style,
}

/// The characters tables are drawn with: chosen from the locale, or as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    #[default]
    Auto,
    Unicode,
    Ascii,
}

/// Where people's output is written, which decides the width it is laid out for and whether it
/// may be coloured: stdout, stderr (trace's results, as `perf stat`'s), or a file (`-o FILE`:
/// no colour, `COLUMNS` or 80 columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
    File,
}

/// A table's [`TableLayout`] resolved for this process's stdout: colour, width, characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    pub color: bool,
    /// Display columns every line must fit in.
    pub width: usize,
    pub wide: bool,
    pub charset: text::Charset,
}

impl Screen {
    /// Resolve `color` and `layout` against stdout, `COLUMNS`, NO_COLOR, TERM and the locale.
    pub fn of(color: Color, layout: TableLayout) -> Screen {
        Screen::on(Stream::Stdout, color, layout)
    }

    /// Resolve `color` and `layout` against `stream` (its terminal, if it is one), `COLUMNS`,
    /// NO_COLOR, TERM and the locale.
    pub fn on(stream: Stream, color: Color, layout: TableLayout) -> Screen {
        use std::os::fd::AsFd;
        let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
        let fd = match stream {
            Stream::Stdout => Some(stdout.as_fd()),
            Stream::Stderr => Some(stderr.as_fd()),
            Stream::File => None,
        };
        Screen {
            color: use_color_on(color, fd.is_some_and(|f| f.is_terminal())),
            width: text::width_on(fd),
            wide: layout.wide,
            charset: match layout.style {
                Style::Auto => text::Charset::from_env(),
                Style::Unicode => text::Charset::Unicode,
                Style::Ascii => text::Charset::Ascii,
            },
        }
    }

    /// Box drawing and block elements may be used.
    pub fn unicode(&self) -> bool {
        self.charset == text::Charset::Unicode
    }

    /// `text` after `first`, wrapped to the screen's width (both spelled out in ASCII first
    /// where the screen needs it, so the width counts what is printed), continuation lines
    /// indented by `indent`.
    pub fn wrap(&self, text: &str, first: &str, indent: usize) -> String {
        if self.unicode() {
            text::wrap(text, self.width, first, indent)
        } else {
            text::wrap(
                &text::to_ascii(text),
                self.width,
                &text::to_ascii(first),
                indent,
            )
        }
    }
}

/// Whether to colour output going to a stream that is (or is not) a `terminal`.
fn use_color_on(choice: Color, terminal: bool) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(true)
                && terminal
        }
    }
}

/// Write `r` to `w`: as JSON, or as the table `render` draws (coloured or not).
fn write_as<T: serde::Serialize>(
    r: &T,
    output: Output,
    render: fn(&T, &Screen) -> String,
    w: &mut dyn Write,
) -> Result<()> {
    match output {
        Output::Json => {
            serde_json::to_writer_pretty(&mut *w, r)?;
            writeln!(w)?;
        }
        Output::Table { color, layout } => {
            w.write_all(render(r, &Screen::of(color, layout)).as_bytes())?
        }
    }
    w.flush()?;
    Ok(())
}

/// Write a sweep's results to `w` in the chosen format.
pub fn write_sweep(
    s: &crate::results::SweepReport,
    output: Output,
    w: &mut dyn Write,
) -> Result<()> {
    write_as(s, output, sweep::render, w)
}

/// Write `report` to `w` in the chosen format: the full table, or with `--receive` the
/// sender × receiver matrix.
pub fn write(report: &Report, output: Output, w: &mut dyn Write) -> Result<()> {
    let render = if report.receive.is_some() {
        matrix::render
    } else {
        table::render
    };
    write_as(report, output, render, w)
}

/// Write a trace's results to `w` in the chosen format, laid out for `stream`.
pub fn write_trace(
    r: &crate::results::TraceReport,
    output: Output,
    stream: Stream,
    w: &mut dyn Write,
) -> Result<()> {
    match output {
        Output::Json => write_as(r, output, trace::render, w),
        Output::Table { color, layout } => {
            w.write_all(trace::render(r, &Screen::on(stream, color, layout)).as_bytes())?;
            w.flush()?;
            Ok(())
        }
    }
}

/// What `lab up` made and how to use it.
pub fn write_lab(lab: &crate::netns::Lab, w: &mut dyn Write) -> Result<()> {
    writeln!(
        w,
        "lab up: two hosts on this machine, joined by a veth pair (198.18.0.0/15 is reserved for benchmarking)"
    )?;
    writeln!(
        w,
        "  serving  namespace {:<16} device {:<12} {}/24",
        lab.serving_netns, lab.serving_dev, lab.serving_addr
    )?;
    writeln!(
        w,
        "  client   namespace {:<16} device {:<12} {}/24",
        lab.client_netns, lab.client_dev, lab.client_addr
    )?;
    writeln!(w, "serve in one:")?;
    writeln!(
        w,
        "  sudo ip netns exec {} copylab serve FILE --http --listen {}:7878",
        lab.serving_netns, lab.serving_addr
    )?;
    writeln!(w, "fetch from the other:")?;
    writeln!(
        w,
        "  sudo ip netns exec {} copylab fetch {}:7878 --http --discard",
        lab.client_netns, lab.serving_addr
    )?;
    writeln!(
        w,
        "  sudo ip netns exec {} curl -o /dev/null http://{}:7878/",
        lab.client_netns, lab.serving_addr
    )?;
    writeln!(w, "remove it: sudo copylab lab down")?;
    w.flush()?;
    Ok(())
}

/// What `lab down` did.
pub fn write_lab_down(done: &crate::netns::LabDown, w: &mut dyn Write) -> Result<()> {
    // Exactly what was removed, and what was found but is not copylab's to remove.
    match done.removed.as_slice() {
        [] if done.left.is_empty() => {
            writeln!(w, "lab down: the lab was not up; nothing to remove")?
        }
        [] => {}
        [a, b] => writeln!(
            w,
            "lab down: namespaces {a} and {b} removed, and the veth pair with them"
        )?,
        [one] => writeln!(w, "lab down: namespace {one} removed")?,
        more => writeln!(w, "lab down: namespaces {} removed", more.join(", "))?,
    }
    for name in &done.left {
        writeln!(
            w,
            "lab down: {name} left in place: copylab did not make it (it carries no copylab mark); `ip netns del {name}` removes it if it is not needed"
        )?;
    }
    w.flush()?;
    Ok(())
}
