//! The measured story of a compare in plain words, two to four sentences, each number from this
//! run with its spread or a noise mark (as hyperfine ends with "… ran 1.85 ± 0.03 times faster
//! than …"): which serving threads copied nothing, what the receiver still copied, the end-to-end
//! CPU and the syscalls against read-write. A difference inside the runs' spread is said to be
//! within noise, never ranked. What to say is decided here, once; each sentence is a message
//! of the lesson's table ([`crate::report::lesson`]), said in the language asked for (the
//! terminal's table ends with them in English).

use crate::counters::profile::{Category, Pooled, Precision};
use crate::method::MethodKind;
use crate::report::lesson::{self, Lang, Msg, Paired, Sampled};
use crate::results::{MethodResult, PooledProfile, RatioRange, Report, Run};

/// A serving thread whose copy time per GiB is below this share of read-write's made no copy
/// worth the name (a few samples land in copy routines for the odd page fault).
pub const NO_COPY_SHARE: f64 = 0.10;

/// The sentences in `lang`, in order; empty when there is nothing to compare (one method, no
/// read-write to compare with, an empty file).
pub fn lines(r: &Report, lang: Lang) -> Vec<String> {
    let Some(rw) = r.method(MethodKind::ReadWrite) else {
        return Vec::new();
    };
    if r.file.bytes == 0 || r.methods.len() < 2 {
        return Vec::new();
    }
    let others: Vec<&MethodResult> = r.methods.iter().filter(|m| m.method != rw.method).collect();
    let say = |m: Msg| lesson::say(lang, &m);
    let serving: Vec<String> = serving_copies(rw, &others, &say);
    [
        (!serving.is_empty()).then(|| serving.join(lesson::table(lang).sentence_gap)),
        receiver_copies(r, &say),
        end_to_end(rw, &others, &say),
        syscalls(rw, &others, &say),
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

/// `v` ms per GiB of one thread, marked when the samples behind it are few.
fn sampled(m: &MethodResult, thread: Thread, v: f64) -> Sampled {
    let few = m
        .profile
        .as_ref()
        .is_some_and(|p| thread.of(p).precision == Precision::Few);
    Sampled {
        ns: (v * 1e6).round() as u64,
        few,
    }
}

/// Which serving threads copied nothing, and which copied though the textbook says they need
/// not (in softirq, on the way to a local receiver): a sentence each, when there is one.
fn serving_copies(
    rw: &MethodResult,
    others: &[&MethodResult],
    say: &impl Fn(Msg) -> String,
) -> Vec<String> {
    let mut out = Vec::new();
    let Some(base) = copy_of(rw, Thread::Serving).filter(|b| *b > 0.0) else {
        return out;
    };
    let (none, copied): (Vec<&&MethodResult>, Vec<&&MethodResult>) = others
        .iter()
        .filter(|m| copy_of(m, Thread::Serving).is_some())
        .partition(|m| copy_of(m, Thread::Serving).unwrap_or(0.0) < base * NO_COPY_SHARE);
    if !none.is_empty() {
        let names: Vec<&str> = none.iter().map(|m| m.method.name()).collect();
        let most = none
            .iter()
            .filter_map(|m| copy_of(m, Thread::Serving))
            .fold(0.0, f64::max);
        out.push(say(Msg::NoServingCopy {
            paths: &names,
            most: Sampled {
                ns: (most * 1e6).round() as u64,
                few: false,
            },
            read_write: sampled(rw, Thread::Serving, base),
        }));
    }
    // A zero-copy path that copied all the same: most of its copy made in softirq.
    let in_softirq: Vec<(&str, Sampled)> = copied
        .iter()
        .filter(|m| m.textbook.cpu_copies_with_sg_dma == 0)
        .filter_map(|m| {
            let p = m.profile.as_ref()?;
            let copy = p.serving.ns.get(&Category::Copy).copied().unwrap_or(0);
            (p.serving.copy_in_softirq_ns * 2 >= copy).then(|| {
                (
                    m.method.name(),
                    sampled(
                        m,
                        Thread::Serving,
                        copy_of(m, Thread::Serving).unwrap_or(0.0),
                    ),
                )
            })
        })
        .collect();
    if !in_softirq.is_empty() {
        out.push(say(Msg::CopiedInSoftirq { paths: &in_softirq }));
    }
    out
}

/// What every receiver copied, whatever the sender did.
fn receiver_copies(r: &Report, say: &impl Fn(Msg) -> String) -> Option<String> {
    let v: Vec<(f64, &MethodResult)> = r
        .methods
        .iter()
        .filter_map(|m| copy_of(m, Thread::Receiver).map(|c| (c, m)))
        .collect();
    let (lo, lo_m) = v.iter().copied().min_by(|a, b| a.0.total_cmp(&b.0))?;
    let (hi, hi_m) = v.iter().copied().max_by(|a, b| a.0.total_cmp(&b.0))?;
    let (lo, hi) = (
        sampled(lo_m, Thread::Receiver, lo),
        sampled(hi_m, Thread::Receiver, hi),
    );
    // One figure when both ends read the same.
    let hi = (hi.to_string() != lo.to_string()).then_some(hi);
    Some(say(Msg::ReceiversCopied { lo, hi }))
}

/// A path's figure against read-write's: within noise, or the paired ratio and its range.
fn paired(m: &MethodResult, base: &MethodResult, metric: fn(&Run) -> Option<f64>) -> Paired {
    if m.within_noise_of(base, metric) {
        return Paired::WithinNoise;
    }
    match m.ratio_to(base, metric) {
        Some(RatioRange { median, min, max }) => Paired::Ratio {
            median,
            range: (m.runs.len() > 1).then_some((min, max)),
        },
        None => Paired::NotMeasured,
    }
}

/// Both threads' CPU per GiB against read-write's, paired run by run.
fn end_to_end(
    rw: &MethodResult,
    others: &[&MethodResult],
    say: &impl Fn(Msg) -> String,
) -> Option<String> {
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
    let paths: Vec<(&str, Paired)> = ranked
        .iter()
        .map(|(m, _)| (m.method.name(), paired(m, rw, Run::e2e_ns_per_gib)))
        .collect();
    Some(say(Msg::EndToEnd {
        read_write_ns: base.round() as u64,
        paths: &paths,
    }))
}

/// The serving thread's syscalls per transfer against read-write's.
fn syscalls(
    rw: &MethodResult,
    others: &[&MethodResult],
    say: &impl Fn(Msg) -> String,
) -> Option<String> {
    let total = |m: &MethodResult| m.median.cost.syscalls.total;
    let read_write = total(rw)?;
    let paths: Vec<(&str, u64)> = others
        .iter()
        .filter_map(|m| Some((m.method.name(), total(m)?)))
        .collect();
    (!paths.is_empty()).then(|| {
        say(Msg::ServingSyscalls {
            paths: &paths,
            read_write,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same sentence in each language: the figures read the same, the words differ.
    #[test]
    fn each_sentence_is_said_in_every_language() {
        let few = Sampled {
            ns: 12_345_678,
            few: true,
        };
        let msgs = [
            Msg::NoServingCopy {
                paths: &["sendfile", "splice"],
                most: Sampled {
                    ns: 400_000,
                    few: false,
                },
                read_write: few,
            },
            Msg::CopiedInSoftirq {
                paths: &[("msg-zerocopy", few)],
            },
            Msg::ReceiversCopied { lo: few, hi: None },
            Msg::EndToEnd {
                read_write_ns: 250_000_000,
                paths: &[
                    (
                        "sendfile",
                        Paired::Ratio {
                            median: 0.531,
                            range: Some((0.48, 0.6)),
                        },
                    ),
                    ("mmap", Paired::WithinNoise),
                ],
            },
            Msg::ServingSyscalls {
                paths: &[("sendfile", 1), ("splice", 8192)],
                read_write: 4096,
            },
        ];
        for m in &msgs {
            let (en, zh) = (lesson::say(Lang::En, m), lesson::say(Lang::Zh, m));
            let cjk = |t: &str| t.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
            assert!(!cjk(&en) && cjk(&zh), "{en} | {zh}");
            for fig in ["~12.3", "0.40", "0.53×", "8,192", "4,096", "250"] {
                assert_eq!(en.contains(fig), zh.contains(fig), "{fig}: {en} | {zh}");
            }
        }
        assert_eq!(
            lesson::say(Lang::En, &msgs[0]),
            "sendfile and splice: the serving thread copied nothing (at most 0.40 ms/GiB; read-write's: ~12.3)."
        );
        assert_eq!(
            lesson::say(Lang::Zh, &msgs[0]),
            "sendfile 和 splice：发送线程什么也没拷贝（至多 0.40 ms/GiB；read-write 为 ~12.3）。"
        );
    }
}
