//! `serve`'s output: the listening lines, one line per connection, and the summary table — or
//! the same events as one JSON object per line. Nothing here measures or serves.

use std::io::Write;

use comfy_table::{Cell, CellAlignment, Table};

use crate::escape::escape;
use crate::results::Cost;
use crate::results::serve::{ConnRecord, InProgress, Listening, Summary};
use crate::size::{fmt_bytes, fmt_ms as ms};
use crate::transport::Transport;

/// One JSON object and a newline.
fn write_json<T: serde::Serialize>(w: &mut dyn Write, value: &T) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, value).map_err(std::io::Error::from)?;
    writeln!(w)
}

/// What the server listens on and a command to try it with; or the `listening` JSON line.
pub fn write_listening(l: &Listening, json: bool, w: &mut dyn Write) -> std::io::Result<()> {
    if json {
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
        writeln!(
            w,
            "copylab serve: {} ({}) with {}, {} over {kind} on {addr}",
            escape(&l.file),
            fmt_bytes(l.bytes),
            l.method,
            if l.http { "HTTP" } else { "raw" },
        )?;
        if let Some(rate) = l.link_rate_bytes_per_s {
            writeln!(
                w,
                "each connection paced to {} (SO_MAX_PACING_RATE), like a link of that speed",
                crate::size::fmt_rate(rate)
            )?;
        }
        writeln!(w, "try: {try_it}    (Ctrl-C stops and prints a summary)")?;
    }
    w.flush()
}

/// One finished connection: its line, or its `connection` JSON line.
pub fn write_record(r: &ConnRecord, json: bool, w: &mut dyn Write) -> std::io::Result<()> {
    if json {
        write_json(w, r)?;
    } else {
        writeln!(w, "{}", record_line(r))?;
    }
    w.flush()
}

/// "#3 127.0.0.1:50412 · HTTP 200 · 8.0 MiB · 4 ms · …· complete". The detail can quote what
/// the client sent (a request line's version): escaped, like the peer.
pub fn record_line(r: &ConnRecord) -> String {
    let mut line = format!("#{} {}", r.id, escape(&r.peer));
    if let Some(s) = r.http_status {
        line.push_str(&format!(" · HTTP {s}"));
    }
    if let (Some(a), Some(b)) = (r.range_start, r.range_end) {
        line.push_str(&format!(" · range {a}-{b} (from offset {a})"));
    }
    if let Some(c) = &r.cost {
        // Under --link the time runs until the client acknowledged the last byte.
        let until = if r.wall_ends == "acknowledged" {
            " until acknowledged"
        } else {
            ""
        };
        line.push_str(&format!(
            " · {} · {} ms{until} · {} MiB/s · {} · ctx sw {}/{} · sys {} ms",
            fmt_bytes(r.bytes),
            ms(r.wall_ns),
            mib_s(r.throughput_mib_s),
            syscalls_text(c),
            c.context_switches.voluntary,
            c.context_switches.involuntary,
            ms(c.cpu.sys_ns),
        ));
        if let Some(w) = &c.io_workers {
            line.push_str(&format!(" (+ io-wq {} ms)", ms(w.cpu_ns)));
        }
        if let Some(z) = &c.zerocopy {
            line.push_str(&format!(
                " · zero-copied {} of {} sends (kernel copied {})",
                z.zero_copied(),
                z.sends,
                z.copied
            ));
        }
    }
    line.push_str(&format!(" · {}", escape(&r.detail)));
    line
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
/// sys 20 ms so far".
pub fn progress_line(p: &InProgress) -> String {
    let Some(bytes) = p.bytes else {
        return format!(
            "#{} {} · starting ({} to send)",
            p.id,
            escape(&p.peer),
            fmt_bytes(p.expected)
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
    format!(
        "#{} {} · sending {} of {} · {rate} · {syscalls} · {sys} so far",
        p.id,
        escape(&p.peer),
        fmt_bytes(bytes),
        fmt_bytes(p.expected)
    )
}

/// `--live`: the running totals of the server's one method, "sendfile · 5 done · 1.25 GiB ·
/// median 447 MiB/s · 0.01 syscalls per MiB".
pub fn totals_line(s: &Summary) -> String {
    let median = match s.median_mib_s {
        Some(m) => format!("median {m:.0} MiB/s"),
        None => "median – (none complete)".into(),
    };
    let per_mib = match s.syscalls_per_mib {
        Some(v) => format!("{v:.2} syscalls per MiB"),
        None => "syscalls per MiB n/a".into(),
    };
    format!(
        "{} · {} done · {} · {median} · {per_mib}",
        s.method.name(),
        s.connections,
        fmt_bytes(s.bytes)
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

/// The summary table, or the `summary` JSON line.
pub fn write_summary(
    s: &Summary,
    json: bool,
    color: super::Color,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    if json {
        write_json(w, s)?;
    } else {
        writeln!(w, "{}", summary_table(s, super::use_color(color)))?;
    }
    w.flush()
}

fn summary_table(s: &Summary, color: bool) -> Table {
    let mut t = super::new_table(color);
    t.set_header(vec![
        "method",
        "connections",
        "bytes sent",
        "MiB/s median\nper connection\np5 – p95",
        "syscalls\nper MiB\n(all sent)",
        "ctx sw median\nvol / invol",
        "sys CPU ms\nmedian / total",
    ]);
    let mut conns = format!("{} ({} complete", s.connections, s.complete);
    for (n, what) in [
        (s.client_closed, "client closed"),
        (s.send_timeout, "send timeout"),
        (s.file_changed, "file changed"),
        (s.errors, "errors"),
        (s.stopped, "stopped at exit"),
        (s.rejected, "rejected"),
    ] {
        if n > 0 {
            conns.push_str(&format!(", {n} {what}"));
        }
    }
    conns.push(')');
    let right = |x: String| Cell::new(x).set_alignment(CellAlignment::Right);
    t.add_row(vec![
        Cell::new(s.method.name()),
        Cell::new(conns),
        right(fmt_bytes(s.bytes)),
        right(match (s.median_mib_s, s.p5_mib_s, s.p95_mib_s) {
            (Some(m), Some(lo), Some(hi)) => {
                format!("{}\n{} – {}", mib_s(m), mib_s(lo), mib_s(hi))
            }
            _ => "– (none complete)".into(),
        }),
        right(match s.syscalls_per_mib {
            Some(v) => format!("{v:.2}"),
            None => "n/a".into(),
        }),
        right(match (s.median_voluntary_cs, s.median_involuntary_cs) {
            (Some(v), Some(i)) => format!("{v} / {i}"),
            _ => "–".into(),
        }),
        right(match s.median_sys_ns {
            Some(m) => format!("{} / {}", ms(m), ms(s.total_sys_ns)),
            None => "–".into(),
        }),
    ]);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::Reading;

    #[test]
    fn a_syscall_whose_counter_failed_is_na_not_left_out() {
        let mut by_name = std::collections::BTreeMap::new();
        by_name.insert("write", Some(1));
        by_name.insert("splice", None);
        by_name.insert("read", Some(0));
        let reading = Reading {
            syscalls_total: Some(15),
            syscalls_by_name: Some(by_name),
            ..Reading::default()
        };
        let mut calls = crate::sys::Calls::default();
        calls.add("write");
        for _ in 0..8 {
            calls.add("splice");
        }
        let cost = Cost::new(&reading, &calls, None);
        assert_eq!(
            syscalls_text(&cost),
            "syscalls 15 (splice n/a (self 8), write 1)"
        );
    }
}
