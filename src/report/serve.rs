//! `serve`'s output: the listening lines, one line per connection, and the summary table — or
//! the same events as one JSON object per line; and the `--live` view's lines. Every line fits
//! the screen: a connection's line wraps between its values (" · "), never inside one, its
//! continuation indented; a live line drops its least important values, whole; the summary
//! drops its least important columns. Nothing here measures or serves.

use std::io::Write;

use unicode_width::UnicodeWidthStr;

use super::fit::{Align, Column, Paint, fit};
use super::text::{INDENT, keep_figures, wrap, wrap_values};
use super::{Output, Screen, TableLayout};
use crate::escape::escape;
use crate::results::serve::{ConnRecord, InProgress, Listening, Summary};
use crate::results::{Cost, WallEnds};
use crate::size::{fmt_bytes, fmt_ms as ms};
use crate::transport::Transport;

/// Between two values of a line.
const SEP: &str = " · ";

/// One value of a live line: its text, a shorter text saying the same figure (or none), and how
/// much it matters.
struct Figure {
    text: String,
    short: Option<String>,
    keep: u8,
}

fn part(text: String, keep: u8) -> Figure {
    Figure {
        text,
        short: None,
        keep,
    }
}

fn part_or(text: String, short: String, keep: u8) -> Figure {
    Figure {
        text,
        short: Some(short),
        keep,
    }
}

/// `parts` joined by " · " within `width`: while too wide, the words around the figures go
/// first (each part's shorter text, least important first), then the least important parts,
/// whole; the first part always stays (shortened, perhaps).
fn fit_parts(mut parts: Vec<Figure>, width: usize) -> String {
    loop {
        let line = parts
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join(SEP);
        if line.width() <= width || parts.len() <= 1 {
            return line;
        }
        let least = |shorter: bool| {
            parts
                .iter()
                .enumerate()
                .skip(usize::from(!shorter))
                .filter(|(_, p)| !shorter || p.short.is_some())
                .min_by_key(|(i, p)| (p.keep, std::cmp::Reverse(*i)))
                .map(|(i, _)| i)
        };
        if let Some(i) = least(true) {
            if let Some(short) = parts[i].short.take() {
                parts[i].text = short;
            }
        } else if let Some(i) = least(false) {
            parts.remove(i);
        } else {
            return line;
        }
    }
}

/// The width serve's lines are laid out for: COLUMNS, else stdout's terminal (read again for
/// every line, so a resized window is followed), else 80.
pub fn width() -> usize {
    Screen::of(super::Color::Never, TableLayout::default()).width
}

/// One JSON object and a newline.
fn write_json<T: serde::Serialize>(w: &mut dyn Write, value: &T) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, value).map_err(std::io::Error::from)?;
    writeln!(w)
}

/// What the server listens on and a command to try it with; or the `listening` JSON line.
pub fn write_listening(l: &Listening, output: Output, w: &mut dyn Write) -> std::io::Result<()> {
    if output == Output::Json {
        write_json(w, l)?;
    } else {
        // The address is a Unix socket's path as given, the file a path as given: escaped.
        let addr = &*escape(&l.address);
        let (host, port) = addr.rsplit_once(':').unwrap_or((addr, ""));
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let (kind, try_it) = match (l.transport, l.http) {
            // serve listens on TCP or a Unix socket; veth is TCP in another namespace.
            (Transport::Tcp | Transport::Veth, false) => {
                ("tcp", format!("nc -d {host} {port} > copy"))
            }
            (Transport::Tcp | Transport::Veth, true) => {
                ("tcp", format!("curl -o copy http://{addr}/"))
            }
            (Transport::Unix, false) => ("unix", format!("socat -u UNIX-CONNECT:{addr} - > copy")),
            (Transport::Unix, true) => (
                "unix",
                format!("curl --unix-socket {addr} -o copy http://localhost/"),
            ),
        };
        let width = width();
        let para = |text: String| wrap(&keep_figures(&text), width, "", INDENT);
        write!(
            w,
            "{}",
            para(format!(
                "copylab serve: {} ({}) with {}, {} over {kind} on {addr}",
                escape(&l.file),
                fmt_bytes(l.bytes),
                l.method,
                if l.http { "HTTP" } else { "raw" },
            ))
        )?;
        if let Some(rate) = l.link_rate_bytes_per_s {
            write!(
                w,
                "{}",
                para(format!(
                    "each connection paced to {} (SO_MAX_PACING_RATE), like a link of that speed",
                    crate::size::fmt_rate(rate)
                ))
            )?;
        }
        // The command is copied as it is printed: never wrapped, the hint on a line of its own
        // when both do not fit.
        let hint = "(Ctrl-C stops and prints a summary)";
        let try_line = format!("try: {try_it}    {hint}");
        if try_line.width() <= width {
            writeln!(w, "{try_line}")?;
        } else {
            writeln!(w, "try: {try_it}\n{hint}")?;
        }
    }
    w.flush()
}

/// One finished connection: its line (wrapped to the screen), or its `connection` JSON line.
pub fn write_record(r: &ConnRecord, output: Output, w: &mut dyn Write) -> std::io::Result<()> {
    if output == Output::Json {
        write_json(w, r)?;
    } else {
        writeln!(w, "{}", record_line(r, width()))?;
    }
    w.flush()
}

/// "#3 127.0.0.1:50412 · HTTP 200 · 8.0 MiB · 4 ms · …· complete", wrapped to `width` between
/// its values. The detail can quote what the client sent (a request line's version): escaped,
/// like the peer.
pub fn record_line(r: &ConnRecord, width: usize) -> String {
    let mut parts = vec![format!("#{} {}", r.id, escape(&r.peer))];
    if let Some(s) = r.http_status {
        parts.push(format!("HTTP {s}"));
    }
    if let (Some(a), Some(b)) = (r.range_start, r.range_end) {
        parts.push(format!("range {a}-{b} (from offset {a})"));
    }
    if let Some(c) = &r.cost {
        // Under --link the time runs until the client acknowledged the last byte.
        let until = if r.wall_ends == WallEnds::Acknowledged {
            " until acknowledged"
        } else {
            ""
        };
        parts.push(fmt_bytes(r.bytes));
        parts.push(format!("{} ms{until}", ms(r.wall_ns)));
        parts.push(format!("{} MiB/s", mib_s(r.throughput_mib_s)));
        parts.push(syscalls_text(c));
        parts.push(format!(
            "ctx sw {}/{}",
            c.context_switches.voluntary, c.context_switches.involuntary
        ));
        let mut sys = format!("sys {} ms", ms(c.cpu.sys_ns));
        if let Some(w) = &c.io_workers {
            sys.push_str(&format!(" (+ io-wq {} ms)", ms(w.cpu_ns)));
        }
        parts.push(sys);
        if let Some(z) = &c.zerocopy {
            parts.push(format!(
                "zero-copied {} of {} sends (kernel copied {})",
                z.zero_copied(),
                z.sends,
                z.copied
            ));
        }
    }
    parts.push(escape(&r.detail).into_owned());
    wrap_values(&parts, width)
}

/// MiB/s as printed: whole numbers, with two decimals below 10 (a paced link's 0.24 MiB/s
/// must not read 0).
fn mib_s(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

/// `--live`: "#3 127.0.0.1:50412 · sending 12.50 MiB of 64 MiB · 210 MiB/s · syscalls 14 ·
/// sys 20 ms so far", within `width`: the peer, "so far" and "sending" go first, then the rate,
/// then sys CPU (the connection's finished line has them all).
pub fn progress_line(p: &InProgress, width: usize) -> String {
    let Some(bytes) = p.bytes else {
        return fit_parts(
            vec![
                part_or(
                    format!("#{} {}", p.id, escape(&p.peer)),
                    format!("#{}", p.id),
                    2,
                ),
                part_or(
                    format!("starting ({} to send)", fmt_bytes(p.expected)),
                    "starting".into(),
                    8,
                ),
            ],
            width,
        );
    };
    let secs = p.elapsed_ns as f64 / 1e9;
    let rate = if secs > 0.0 {
        format!("{:.0} MiB/s", crate::size::mib_per_s(bytes, secs))
    } else {
        "– MiB/s".into()
    };
    let syscalls = match p.syscalls {
        Some(n) => format!("syscalls {n}"),
        None => "syscalls n/a (no perf)".into(),
    };
    let sys = match p.sys_ns {
        Some(0) => format!("sys < {} ms", ms(p.sys_tick_ns)),
        Some(ns) => format!("sys {} ms", ms(ns)),
        None => "sys n/a".into(),
    };
    let of = format!("{} of {}", fmt_bytes(bytes), fmt_bytes(p.expected));
    fit_parts(
        vec![
            part_or(
                format!("#{} {}", p.id, escape(&p.peer)),
                format!("#{}", p.id),
                2,
            ),
            part_or(format!("sending {of}"), of, 8),
            part(rate, 3),
            part(syscalls, 7),
            part_or(format!("{sys} so far"), sys, 5),
        ],
        width,
    )
}

/// `--live`: the running totals of the server's one method, "sendfile · 5 done · 1.25 GiB ·
/// median 447 MiB/s · 0.01 syscalls per MiB", within `width` (the bytes go first, then the
/// median).
pub fn totals_line(s: &Summary, width: usize) -> String {
    let median = match s.median_mib_s {
        Some(m) => format!("median {m:.0} MiB/s"),
        None => "median – (none complete)".into(),
    };
    let per_mib = match s.syscalls_per_mib {
        Some(v) => format!("{v:.2} syscalls per MiB"),
        None => "syscalls per MiB n/a".into(),
    };
    fit_parts(
        vec![
            part(s.method.name().to_string(), 9),
            part(format!("{} done", s.connections), 7),
            part(fmt_bytes(s.bytes), 3),
            part(median, 5),
            part(per_mib, 8),
        ],
        width,
    )
}

/// "syscalls 2049 (pread64 1024, write 1025)"; a syscall the method made but whose counter
/// could not be opened (EMFILE, say) shows as "splice n/a (self 8)", never left out.
fn syscalls_text(c: &Cost) -> String {
    let named: Vec<String> = c
        .syscalls
        .by_name
        .iter()
        .filter_map(|(k, v)| match v {
            Some(v) if *v > 0 => Some(format!("{k} {v}")),
            Some(_) => None,
            None => c
                .self_counted
                .get(k)
                .filter(|n| **n > 0)
                .map(|n| format!("{k} n/a (self {n})")),
        })
        .collect();
    match c.syscalls.total {
        Some(t) => format!("syscalls {t} ({})", named.join(", ")),
        None => format!("syscalls n/a (self-counted: {})", named.join(", ")),
    }
}

/// The summary table (fitted to the screen: its least important columns dropped, whole, and
/// named), or the `summary` JSON line.
pub fn write_summary(s: &Summary, output: Output, w: &mut dyn Write) -> std::io::Result<()> {
    match output {
        Output::Json => write_json(w, s)?,
        Output::Table { color, layout } => {
            write!(w, "{}", summary_table(s, &Screen::of(color, layout)))?
        }
    }
    w.flush()
}

fn summary_table(s: &Summary, screen: &Screen) -> String {
    let mut conns = vec![format!("{} complete", s.complete)];
    for (n, what) in [
        (s.client_closed, "client closed"),
        (s.send_timeout, "send timeout"),
        (s.file_changed, "file changed"),
        (s.errors, "errors"),
        (s.stopped, "stopped at exit"),
        (s.rejected, "rejected"),
    ] {
        if n > 0 {
            conns.push(format!("{n} {what}"));
        }
    }
    let cell = |header: &str, keep: u8, align: Align, text: String| {
        let mut c = Column::new(header, keep, align);
        c.cells.push(text);
        c
    };
    let columns = vec![
        cell("method", 10, Align::Left, s.method.name().to_string()).paint(Paint::Name),
        // One outcome a line: "5 (3 complete,\n1 client closed,\n1 stopped at exit)".
        cell(
            "connections",
            6,
            Align::Left,
            format!("{} ({})", s.connections, conns.join(",\n")),
        ),
        cell("bytes sent", 4, Align::Right, fmt_bytes(s.bytes)),
        cell(
            "MiB/s median\nper connection\np5 – p95",
            7,
            Align::Right,
            match (s.median_mib_s, s.p5_mib_s, s.p95_mib_s) {
                (Some(m), Some(lo), Some(hi)) => {
                    format!("{}\n{} – {}", mib_s(m), mib_s(lo), mib_s(hi))
                }
                _ => "– (none\ncomplete)".into(),
            },
        )
        .paint(Paint::Figure),
        cell(
            "syscalls\nper MiB\n(all sent)",
            9,
            Align::Right,
            match s.syscalls_per_mib {
                Some(v) => format!("{v:.2}"),
                None => "n/a".into(),
            },
        )
        .paint(Paint::Figure),
        cell(
            "ctx sw median\nvol / invol",
            3,
            Align::Right,
            match (s.median_voluntary_cs, s.median_involuntary_cs) {
                (Some(v), Some(i)) => format!("{v} / {i}"),
                _ => "–".into(),
            },
        ),
        cell(
            "sys CPU ms\nmedian / total",
            8,
            Align::Right,
            match s.median_sys_ns {
                Some(m) => format!("{} / {}", ms(m), ms(s.total_sys_ns)),
                None => "–".into(),
            },
        )
        .paint(Paint::Figure),
    ];
    let fitted = fit(screen, columns);
    let mut out = format!("{}\n", fitted.table);
    if let Some(note) = fitted.left_out_wide(screen.width) {
        out.push_str(&screen.wrap(&note, "", 2));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::Reading;

    #[test]
    fn a_live_line_shortens_its_words_then_drops_values_whole() {
        let p = InProgress {
            id: 3,
            peer: "127.0.0.1:50412".into(),
            bytes: Some(35 << 20),
            expected: 64 << 20,
            elapsed_ns: 1_000_000_000,
            syscalls: Some(575),
            sys_ns: Some(10_000_000),
            sys_tick_ns: 10_000_000,
        };
        assert_eq!(
            progress_line(&p, 200),
            "#3 127.0.0.1:50412 · sending 35 MiB of 64 MiB · 35 MiB/s · syscalls 575 · sys 10.0 ms so far"
        );
        assert_eq!(
            progress_line(&p, 64),
            "#3 · 35 MiB of 64 MiB · 35 MiB/s · syscalls 575 · sys 10.0 ms"
        );
        for width in 20..200 {
            let line = progress_line(&p, width);
            assert!(
                line.width() <= width || !line.contains(" · "),
                "{width}: {line}"
            );
            assert!(line.starts_with("#3"), "{line}");
        }
    }

    #[test]
    fn a_syscall_whose_counter_failed_is_na_not_left_out() {
        let mut by_name = std::collections::BTreeMap::new();
        by_name.insert(crate::syscall::Syscall::Write, Some(1));
        by_name.insert(crate::syscall::Syscall::Splice, None);
        by_name.insert(crate::syscall::Syscall::Read, Some(0));
        let reading = Reading {
            syscalls_total: Some(15),
            syscalls_by_name: Some(by_name),
            ..Reading::default()
        };
        let mut calls = crate::sys::Calls::default();
        calls.add(crate::syscall::Syscall::Write);
        for _ in 0..8 {
            calls.add(crate::syscall::Syscall::Splice);
        }
        let cost = Cost::new(&reading, &calls, None);
        assert_eq!(
            syscalls_text(&cost),
            "syscalls 15 (splice n/a (self 8), write 1)"
        );
    }
}
