//! Progress bars on stderr in the tables' units: bytes as KiB/MiB/GiB, rates in MiB/s (never
//! indicatif's GiB/s beside a table in MiB/s), drawn as wide as the terminal allows.

use indicatif::ProgressStyle;

use super::text::Charset;

/// A transfer's bar: `{prefix} [bar] done/total rate MiB/s {msg}`. The message carries what
/// the caller adds (compare: the time left for the whole comparison; fetch: for the transfer).
pub fn transfer_style() -> ProgressStyle {
    let unicode = Charset::from_env() == Charset::Unicode;
    with_rate("{prefix} [{wide_bar}] {bytes}/{total_bytes} {mib_per_s} {msg}").progress_chars(
        if unicode {
            "█▉▊▋▌▍▎▏ "
        } else {
            "#>-"
        },
    )
}

/// A transfer whose size is not known yet (a raw stream, read to its end): `{prefix} ⠋ done rate
/// MiB/s {msg}`, in the same units as [`transfer_style`].
pub fn stream_style() -> ProgressStyle {
    with_rate("{prefix} {spinner} {bytes} {mib_per_s} {msg}")
}

/// `template` with its `{mib_per_s}`: the rate so far in MiB/s, as the tables print it.
fn with_rate(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "mib_per_s",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(
                    w,
                    "{} MiB/s",
                    crate::size::fmt_mib_s(Some(state.per_sec() / (1u64 << 20) as f64))
                );
            },
        )
}

/// "about 12 s left", from the time the finished transfers took and how many remain; nothing
/// for a wait too short to matter.
pub fn time_left(elapsed: std::time::Duration, done: u32, total: u32) -> String {
    if done == 0 || done >= total {
        return String::new();
    }
    say_left(elapsed.as_secs_f64() / f64::from(done) * f64::from(total - done))
}

/// "about 12 s left" for a transfer `done` bytes into `total`, at its rate so far; nothing for
/// a wait too short to matter.
pub fn bytes_left(elapsed: std::time::Duration, done: u64, total: u64) -> String {
    if done == 0 || done >= total {
        return String::new();
    }
    say_left(elapsed.as_secs_f64() / done as f64 * (total - done) as f64)
}

/// A wait of `left` seconds in words, under the one rule: nothing below 3 s, seconds below two
/// minutes, minutes above.
fn say_left(left: f64) -> String {
    match left {
        l if l < 3.0 => String::new(),
        l if l < 120.0 => format!("· about {l:.0} s left"),
        l => format!("· about {:.0} min left", l / 60.0),
    }
}
