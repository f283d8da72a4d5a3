//! The measured story of a compare in plain words, two to four sentences, each number from this
//! run with its spread or a noise mark (as hyperfine ends with "… ran 1.85 ± 0.03 times faster
//! than …"): which serving threads copied nothing, what the receiver still copied, the end-to-end
//! CPU and the syscalls against read-write. A difference inside the runs' spread is said to be
//! within noise, never ranked.

use crate::counters::profile::{Category, Pooled, Precision};
use crate::method::MethodKind;
use crate::results::{MethodResult, PooledProfile, RatioRange, Report, Run};
use crate::size::fmt_ms;

/// A serving thread whose copy time per GiB is below this share of read-write's made no copy
/// worth the name (a few samples land in copy routines for the odd page fault).
pub const NO_COPY_SHARE: f64 = 0.10;

/// The sentences, in order; empty when there is nothing to compare (one method, no read-write
/// to compare with, an empty file).
pub fn lines(r: &Report) -> Vec<String> {
    let Some(rw) = r.method(MethodKind::ReadWrite) else {
        return Vec::new();
    };
    if r.file.bytes == 0 || r.methods.len() < 2 {
        return Vec::new();
    }
    let others: Vec<&MethodResult> = r.methods.iter().filter(|m| m.method != rw.method).collect();
    [
        serving_copies(rw, &others),
        receiver_copies(r),
        end_to_end(rw, &others),
        syscalls(rw, &others),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Which thread of a run a figure is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Thread {
    Serving,
    Receiver,
}

impl Thread {
    /// This thread's samples, pooled over the runs.
    fn of(self, p: &PooledProfile) -> &Pooled {
        match self {
            Thread::Serving => &p.serving,
            Thread::Receiver => &p.receiver,
        }
    }
}

/// Copy ms per GiB of one thread, pooled, when the samples say enough.
fn copy_of(m: &MethodResult, thread: Thread) -> Option<f64> {
    let p = m.profile.as_ref()?;
    thread.of(p).ns_per_gib(Category::Copy).map(|ns| ns / 1e6)
}

/// "~12" when the samples behind it are few, "12" else.
fn ms_text(m: &MethodResult, thread: Thread, v: f64) -> String {
    let few = m
        .profile
        .as_ref()
        .is_some_and(|p| thread.of(p).precision == Precision::Few);
    format!(
        "{}{}",
        if few { "~" } else { "" },
        fmt_ms((v * 1e6).round() as u64)
    )
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Which serving threads copied nothing, and which copied though the textbook says they need
/// not (in softirq, on the way to a local receiver).
fn serving_copies(rw: &MethodResult, others: &[&MethodResult]) -> Option<String> {
    let base = copy_of(rw, Thread::Serving)?;
    if base <= 0.0 {
        return None;
    }
    let (none, copied): (Vec<&&MethodResult>, Vec<&&MethodResult>) = others
        .iter()
        .filter(|m| copy_of(m, Thread::Serving).is_some())
        .partition(|m| copy_of(m, Thread::Serving).unwrap_or(0.0) < base * NO_COPY_SHARE);
    let mut s = String::new();
    if !none.is_empty() {
        let names: Vec<String> = none.iter().map(|m| m.method.to_string()).collect();
        let most = none
            .iter()
            .filter_map(|m| copy_of(m, Thread::Serving))
            .fold(0.0, f64::max);
        s = format!(
            "{}: the serving thread copied nothing (at most {} ms/GiB; read-write's: {}).",
            and_list(&names),
            fmt_ms((most * 1e6).round() as u64),
            ms_text(rw, Thread::Serving, base)
        );
    }
    // A zero-copy path that copied all the same: most of its copy made in softirq.
    let in_softirq: Vec<String> = copied
        .iter()
        .filter(|m| m.textbook.cpu_copies_with_sg_dma == 0)
        .filter_map(|m| {
            let p = m.profile.as_ref()?;
            let copy = p.serving.ns.get(&Category::Copy).copied().unwrap_or(0);
            (p.serving.copy_in_softirq_ns * 2 >= copy).then(|| {
                format!(
                    "{} ({} ms/GiB)",
                    m.method,
                    ms_text(
                        m,
                        Thread::Serving,
                        copy_of(m, Thread::Serving).unwrap_or(0.0)
                    )
                )
            })
        })
        .collect();
    if !in_softirq.is_empty() {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&format!(
            "{} still copied, in softirq: on loopback the kernel copies zero-copy pages for the local receiver.",
            and_list(&in_softirq)
        ));
    }
    (!s.is_empty()).then_some(s)
}

/// What every receiver copied, whatever the sender did.
fn receiver_copies(r: &Report) -> Option<String> {
    let v: Vec<(f64, &MethodResult)> = r
        .methods
        .iter()
        .filter_map(|m| copy_of(m, Thread::Receiver).map(|c| (c, m)))
        .collect();
    let (lo, lo_m) = v.iter().copied().min_by(|a, b| a.0.total_cmp(&b.0))?;
    let (hi, hi_m) = v.iter().copied().max_by(|a, b| a.0.total_cmp(&b.0))?;
    let range = if ms_text(lo_m, Thread::Receiver, lo) == ms_text(hi_m, Thread::Receiver, hi) {
        ms_text(lo_m, Thread::Receiver, lo)
    } else {
        format!(
            "{}–{}",
            ms_text(lo_m, Thread::Receiver, lo),
            ms_text(hi_m, Thread::Receiver, hi)
        )
    };
    Some(format!(
        "Every receiver still copied each byte in recv: {range} ms/GiB, whatever the sender did — the copy the textbook leaves out."
    ))
}

/// "0.53× (0.48–0.60)" or "within noise".
fn ratio_text(m: &MethodResult, base: &MethodResult, metric: fn(&Run) -> Option<f64>) -> String {
    if m.within_noise_of(base, metric) {
        return format!("{} within noise", m.method);
    }
    match m.ratio_to(base, metric) {
        Some(RatioRange { median, min, max }) if m.runs.len() > 1 => {
            format!("{} {median:.2}× ({min:.2}–{max:.2})", m.method)
        }
        Some(RatioRange { median, .. }) => format!("{} {median:.2}×", m.method),
        None => format!("{} n/a", m.method),
    }
}

/// Both threads' CPU per GiB against read-write's, paired run by run.
fn end_to_end(rw: &MethodResult, others: &[&MethodResult]) -> Option<String> {
    let base = rw.median.e2e_ns_per_gib()?;
    // Cheapest first; those within noise of read-write last.
    let mut ranked: Vec<(&&MethodResult, Option<f64>)> = others
        .iter()
        .map(|m| {
            let r = (!m.within_noise_of(rw, Run::e2e_ns_per_gib))
                .then(|| m.ratio_to(rw, Run::e2e_ns_per_gib).map(|r| r.median))
                .flatten();
            (m, r)
        })
        .collect();
    ranked.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let parts: Vec<String> = ranked
        .iter()
        .map(|(m, _)| ratio_text(m, rw, Run::e2e_ns_per_gib))
        .collect();
    Some(format!(
        "CPU per GiB, both threads, against read-write's {} ms (paired runs, median and range): {}.",
        fmt_ms(base.round() as u64),
        parts.join(", ")
    ))
}

/// The serving thread's syscalls per transfer against read-write's.
fn syscalls(rw: &MethodResult, others: &[&MethodResult]) -> Option<String> {
    let total = |m: &MethodResult| m.median.cost.syscalls.total;
    let base = total(rw)?;
    let parts: Vec<String> = others
        .iter()
        .filter_map(|m| Some(format!("{} {}", m.method, super::thousands(total(m)?))))
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "Syscalls per transfer, serving thread: {} against read-write's {}.",
            parts.join(", "),
            super::thousands(base)
        )
    })
}
