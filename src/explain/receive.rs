//! `copylab explain receive`: the receiving end's lesson. Each receiving path drawn from its
//! model in `receive/` (recv, recv(MSG_TRUNC), splice → /dev/null, TCP_ZEROCOPY_RECEIVE), why
//! a sendfile sender's pages never map, the lesson (on one host the last copy can be moved, or
//! the data thrown away, but not removed), what the benchmark script measured, and with
//! `--measure` the receive matrix of this run (sendfile and MSG_ZEROCOPY × every receiver that
//! can run here) in words and on the pictures. What to say is decided here once; the words are
//! the lesson's tables.

use std::fmt::Write as _;

use anyhow::Result;

use super::diagram::{self, Figures, Picture};
use super::{Lang, Section, call_figures, render_body, step_lines, title_line, wrap_for};
use crate::compare::{self, CompareOptions};
use crate::counters::profile::{Category, Pooled};
use crate::method::{MethodKind, Place, StepKind};
use crate::receive::ReceiverKind;
use crate::report::Screen;
use crate::report::lesson::{self, Heading, Msg, ReceiveHeading, ReceiveLine, ReceiveOutcome};
use crate::results::{MethodResult, Report, Run};
use crate::transport::Transport;

/// The senders `--measure` pairs with every receiver: the one whose pages never map, and the
/// one whose pages are copied before they can.
pub const SENDERS: [MethodKind; 2] = [MethodKind::Sendfile, MethodKind::MsgZerocopy];

/// A receiving thread copies when its copy time per GiB is at least this share of recv's whole
/// copy (the same yardstick as compare's matrix).
const COPIES: f64 = 0.25;
/// A zerocopy receiver that mapped at least this share (%) mapped the stream.
const MAPPED: f64 = 95.0;

/// What `explain receive --measure` measured, and what could not run here.
pub struct ReceiveMeasured {
    /// The matrix run; None when no pair could run.
    pub report: Option<Report>,
    /// ("sendfile → zerocopy", why not) for each pair that could not run here.
    pub unavailable: Vec<(String, String)>,
}

/// Run the matrix: [`SENDERS`] × every receiver this machine can run, over TCP (copylab's
/// private loopback when the zerocopy receiver is among them).
pub fn measure(size: u64, cpus: crate::placement::Cpus) -> Result<ReceiveMeasured> {
    let mut unavailable = Vec::new();
    let senders: Vec<MethodKind> = SENDERS
        .into_iter()
        .filter(|k| match k.availability(Transport::Tcp) {
            Ok(()) => true,
            Err(no) => {
                for r in ReceiverKind::ALL {
                    unavailable.push((pair(*k, r), no.to_string()));
                }
                false
            }
        })
        .collect();
    let receivers: Vec<ReceiverKind> = ReceiverKind::ALL
        .into_iter()
        .filter(|r| match r.availability(Transport::Tcp) {
            Ok(()) => true,
            Err(no) => {
                for k in &senders {
                    unavailable.push((pair(*k, *r), no.to_string()));
                }
                false
            }
        })
        .collect();
    let report = if senders.is_empty() || receivers.is_empty() {
        None
    } else {
        Some(compare::run(&CompareOptions {
            receive: Some(receivers),
            ..CompareOptions::quick(size, senders, cpus)
        })?)
    };
    Ok(ReceiveMeasured {
        report,
        unavailable,
    })
}

fn pair(k: MethodKind, r: ReceiverKind) -> String {
    crate::results::pair_label(k.name(), Some(r))
}

/// The row of `sender → receiver` in a matrix report.
fn row(r: &Report, sender: MethodKind, receiver: ReceiverKind) -> Option<&MethodResult> {
    r.methods
        .iter()
        .find(|m| m.method == sender && m.receiver_path == Some(receiver))
}

/// The receiving thread's sys CPU per GiB of one run, ms.
fn rx_sys_ms(run: &Run) -> Option<f64> {
    let rc = run.receiver.as_ref()?;
    (run.bytes > 0).then(|| rc.cpu.sys_ns as f64 / crate::size::gib(run.bytes) / 1e6)
}

/// The receiving path's own copying: its copy samples less what it ran in softirq for the
/// sender (MSG_ZEROCOPY's skb_copy_ubufs), ms per GiB.
fn own_copy_ms(p: &Pooled) -> Option<f64> {
    let own =
        p.ns.get(&Category::Copy)
            .copied()
            .unwrap_or(0)
            .saturating_sub(p.copy_in_softirq_ns);
    p.per_gib(own).map(|ns| ns / 1e6)
}

/// (sending thread, receiving path) copy ms per GiB, each None when the samples are too few.
fn copy_ms(m: &MethodResult) -> (Option<f64>, Option<f64>) {
    match &m.profile {
        Some(p) => (
            p.serving.ns_per_gib(Category::Copy).map(|ns| ns / 1e6),
            own_copy_ms(&p.receiver),
        ),
        None => (None, None),
    }
}

fn mapped_pct(m: &MethodResult) -> Option<f64> {
    m.median
        .receive
        .as_ref()
        .and_then(|x| x.zerocopy)
        .map(|z| z.mapped_pct)
}

/// recv's whole copy: the least receiving-path copy time of the recv rows, ms per GiB.
fn full_copy(r: &Report) -> Option<f64> {
    r.methods
        .iter()
        .filter(|m| m.receiver_path == Some(ReceiverKind::Recv))
        .filter_map(|m| copy_ms(m).1)
        .reduce(f64::min)
        .filter(|x| *x > 0.0)
}

/// What the pair did with the bytes, from what was measured.
fn outcome(m: &MethodResult, receiver: ReceiverKind, full: Option<f64>) -> ReceiveOutcome {
    let (tx, rx) = copy_ms(m);
    let (Some(full), Some(tx), Some(rx)) = (full, tx, rx) else {
        return ReceiveOutcome::Unknown;
    };
    let (tx_copies, rx_copies) = (tx >= COPIES * full, rx >= COPIES * full);
    match receiver {
        _ if rx_copies => ReceiveOutcome::Copied,
        ReceiverKind::Recv => ReceiveOutcome::Unknown,
        ReceiverKind::Trunc | ReceiverKind::Splice => ReceiveOutcome::Dropped,
        ReceiverKind::Zerocopy => match mapped_pct(m) {
            Some(p) if p >= MAPPED && tx_copies => ReceiveOutcome::MovedToSender,
            Some(p) if p >= MAPPED => ReceiveOutcome::Mapped,
            _ => ReceiveOutcome::Unknown,
        },
    }
}

/// One pair in words.
fn pair_line(r: &Report, m: &MethodResult, receiver: ReceiverKind, lang: Lang) -> Option<String> {
    let base = row(r, MethodKind::Sendfile, ReceiverKind::Recv);
    let v = rx_sys_ms(&m.median)?;
    let runs: Vec<f64> = m.runs.iter().filter_map(rx_sys_ms).collect();
    let lo = runs.iter().copied().fold(v, f64::min);
    let hi = runs.iter().copied().fold(v, f64::max);
    let is_base = base.is_some_and(|b| std::ptr::eq(b, m));
    let ratio = match base {
        Some(b) if !is_base => rx_sys_ms(&b.median).filter(|x| *x > 0.0).map(|bv| v / bv),
        _ => None,
    };
    let within = base.is_some_and(|b| {
        !is_base
            && m.within_noise_of(b, |run| {
                let rc = run.receiver.as_ref()?;
                (run.bytes > 0).then(|| rc.cpu.sys_ns as f64 / run.bytes as f64)
            })
    });
    let (tx, rx) = copy_ms(m);
    let line = lesson::say(
        lang,
        &Msg::ReceivePair {
            sender: m.method.name(),
            receiver: receiver.name(),
            rx_sys_ms: v,
            rx_sys_lo: lo,
            rx_sys_hi: hi,
            baseline: is_base,
            ratio,
            within_noise: within,
            tx_copy_ms: tx,
            rx_copy_ms: rx,
            mapped_pct: mapped_pct(m),
            outcome: outcome(m, receiver, full_copy(r)),
        },
    );
    Some(line)
}

/// The figures of one receiving path's picture, from its row with `sender`.
fn figures(r: &Report, m: &MethodResult, receiver: ReceiverKind, lang: Lang) -> Figures {
    let say = |msg: &Msg| lesson::say(lang, msg);
    let model = receiver.model();
    let (_, rx) = copy_ms(m);
    let counts: Vec<(crate::syscall::Syscall, u64)> = m
        .median
        .receiver
        .as_ref()
        .map(|c| c.self_counted.iter().map(|(k, n)| (*k, *n)).collect())
        .unwrap_or_default();
    let steps = model
        .steps
        .iter()
        .map(|s| {
            let mut parts = Vec::new();
            if s.from == Place::Nic {
                parts.push(say(&Msg::FigWire(r.transport)));
            }
            if s.kind == StepKind::Map
                && let Some(p) = mapped_pct(m)
            {
                parts.push(say(&Msg::FigMapped(p)));
            }
            // The receiving path's copy (or its absence) on the step that would make it.
            let last_own = model
                .steps
                .iter()
                .rposition(|t| matches!(t.kind, StepKind::Cpu | StepKind::Drop));
            if last_own.is_some_and(|i| std::ptr::eq(&model.steps[i], s)) {
                parts.push(say(&Msg::FigCopy {
                    steps: "",
                    ms_per_gib: rx,
                }));
            }
            (!parts.is_empty()).then(|| parts.join(" · "))
        })
        .collect();
    Figures {
        sender: Vec::new(),
        receiver: steps,
        calls: call_figures(model, &counts),
    }
}

/// "tcp over [::1] in a private network namespace (lo MTU 61512)" or plain loopback, and where
/// the threads ran.
fn link_words(r: &Report) -> (String, String) {
    let link = match r.receive.as_ref().and_then(|x| x.private_lo.as_ref()) {
        Some(lo) => format!(
            "tcp over [{}] in a private network namespace (lo MTU {})",
            lo.addr, lo.mtu_bytes
        ),
        None => "tcp 127.0.0.1".to_string(),
    };
    let placement = match r.methods.first().map(|m| m.median.placement) {
        Some(crate::placement::Placement {
            serving_cpu: Some(s),
            receiver_cpu: Some(rc),
        }) => format!("CPU {s} / CPU {rc}"),
        _ => "threads not pinned".to_string(),
    };
    (link, placement)
}

/// The whole text of `explain receive`, laid out for `screen`, with the figures of `measured`.
pub fn render(lang: Lang, screen: &Screen, measured: Option<&ReceiveMeasured>) -> String {
    let t = lesson::table(lang);
    let say = |m: &Msg| lesson::say(lang, m);
    let colon = t.colon;
    let report = measured.and_then(|m| m.report.as_ref());
    let mut out = title_line(screen, lang, &say(&Msg::ReceiveTitle));
    out.push('\n');
    let _ = writeln!(
        out,
        "{}{colon}",
        say(&Msg::ReceiveHeading(ReceiveHeading::Question))
    );
    for r in [ReceiveLine::Intro, ReceiveLine::Four] {
        out.push_str(&wrap_for(screen, lang, &say(&Msg::Receive(r)), "  • ", 4));
    }
    out.push('\n');
    out.push_str(&wrap_for(screen, lang, &say(&Msg::ReceiveLegend), "  ", 2));
    for k in ReceiverKind::ALL {
        out.push('\n');
        out.push_str(&wrap_for(
            screen,
            lang,
            &format!("── {}", say(&Msg::ReceiverTitle(k))),
            "",
            3,
        ));
        out.push('\n');
        // The pair whose figures go on the picture: from sendfile, else MSG_ZEROCOPY.
        let shown = report.and_then(|r| SENDERS.iter().find_map(|s| row(r, *s, k)).map(|m| (r, m)));
        let figs = shown.map(|(r, m)| figures(r, m, k, lang));
        let pic = Picture {
            sender: None,
            receiver: Some(k.model()),
        };
        for l in diagram::draw(&pic, lang, screen.width, screen.unicode(), figs.as_ref()) {
            let _ = writeln!(out, "{l}");
        }
        if let Some((_, m)) = shown {
            let from = crate::results::pair_label(m.method.name(), Some(k));
            out.push_str(&wrap_for(screen, lang, &format!("({from})"), "  ", 2));
        }
        out.push('\n');
        let _ = writeln!(out, "{}{colon}", say(&Msg::Heading(Heading::Steps)));
        for line in step_lines(k.model(), 1, lang) {
            out.push_str(&wrap_for(screen, lang, &line, "  ", 9));
        }
        for r in (t.receive_reality)(k) {
            out.push_str(&wrap_for(screen, lang, r, "  • ", 4));
        }
    }
    let mut sections = vec![
        section(
            lang,
            ReceiveHeading::WhyNoMap,
            &[
                ReceiveLine::MapConditions,
                ReceiveLine::MapSendfile,
                ReceiveLine::MapSelftest,
                ReceiveLine::MapMsgZerocopy,
                ReceiveLine::MapSpliceVmsplice,
                ReceiveLine::MapZcrx,
            ],
        ),
        section(
            lang,
            ReceiveHeading::Lesson,
            &[
                ReceiveLine::Lesson,
                ReceiveLine::LessonMoved,
                ReceiveLine::LessonDropped,
            ],
        ),
        section(
            lang,
            ReceiveHeading::Bench,
            &[
                ReceiveLine::BenchWhat,
                ReceiveLine::BenchPinned,
                ReceiveLine::BenchUnpinned,
                ReceiveLine::BenchZerocopy,
            ],
        ),
    ];
    sections.push(Section {
        heading: say(&Msg::ReceiveHeading(ReceiveHeading::Measured)),
        bullets: match measured {
            None => vec![say(&Msg::Receive(ReceiveLine::RunMeasure))],
            Some(m) => measured_bullets(m, lang),
        },
    });
    sections.push(Section {
        heading: say(&Msg::ReceiveHeading(ReceiveHeading::Sources)),
        bullets: sources(),
    });
    out.push_str(&render_body(&sections, lang, screen));
    if !screen.unicode() {
        out = crate::report::text::plain(&out, lang);
    }
    out
}

fn section(lang: Lang, h: ReceiveHeading, lines: &[ReceiveLine]) -> Section {
    Section {
        heading: lesson::say(lang, &Msg::ReceiveHeading(h)),
        bullets: lines
            .iter()
            .map(|r| lesson::say(lang, &Msg::Receive(*r)))
            .collect(),
    }
}

/// The measured matrix in words: where the figures come from, one line per pair, and the pairs
/// that could not run here with the reason.
fn measured_bullets(m: &ReceiveMeasured, lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = &m.report {
        let (link, placement) = link_words(r);
        out.push(lesson::say(
            lang,
            &Msg::ReceiveFigures {
                bytes: r.file.bytes,
                runs: r.options.runs,
                link: &link,
                placement: &placement,
            },
        ));
        for s in SENDERS {
            for k in ReceiverKind::ALL {
                if let Some(line) = row(r, s, k).and_then(|row| pair_line(r, row, k, lang)) {
                    out.push(line);
                }
            }
        }
    }
    for (pair, why) in &m.unavailable {
        out.push(lesson::say(lang, &Msg::ReceiveNa { pair, why }));
    }
    out
}

/// Every receiving path's sources, then the sending side's ones this lesson cites.
fn sources() -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for k in ReceiverKind::ALL {
        for s in k.sources() {
            if !v.iter().any(|x| x == s) {
                v.push(s.to_string());
            }
        }
    }
    v.push(
        "scripts/bench-receive.sh: the matrix over interleaved rounds, medians and spreads".into(),
    );
    v
}
