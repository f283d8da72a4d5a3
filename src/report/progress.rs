//! Progress bars on stderr in the tables' units: bytes as KiB/MiB/GiB, rates in MiB/s (never
//! indicatif's GiB/s beside a table in MiB/s), drawn as wide as the terminal allows.

use indicatif::ProgressStyle;

use super::text::Charset;

/// A transfer's bar: `{prefix} [bar] done/total rate MiB/s {msg}`. The message carries what
/// the caller adds (compare: the time left for the whole comparison).
pub fn transfer_style() -> ProgressStyle {
    let unicode = Charset::from_env() == Charset::Unicode;
    ProgressStyle::with_template("{prefix} [{wide_bar}] {bytes}/{total_bytes} {mib_per_s} {msg}")
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
        .progress_chars(if unicode {
            "█▉▊▋▌▍▎▏ "
        } else {
            "#>-"
        })
}

/// "about 12 s left", from the time the finished transfers took and how many remain; nothing
/// for a wait too short to matter.
pub fn time_left(elapsed: std::time::Duration, done: u32, total: u32) -> String {
    if done == 0 || done >= total {
        return String::new();
    }
    let left = elapsed.as_secs_f64() / f64::from(done) * f64::from(total - done);
    match left {
        l if l < 3.0 => String::new(),
        l if l < 120.0 => format!("· about {l:.0} s left"),
        l => format!("· about {:.0} min left", l / 60.0),
    }
}
