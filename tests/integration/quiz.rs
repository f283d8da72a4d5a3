//! `copylab quiz`: the same seed draws the same questions; answers piped in are checked against
//! the figures measured in that run (read back from its own JSON, never written here); the
//! teacher's `--list` answers score full marks where the two runs measured alike; wrong answers
//! score less; Chinese; and bad answer lines end the quiz with one clear line.

use crate::util::*;

use serde_json::Value;

/// Small, so a quiz takes about a second.
const SIZE: &str = "8M";

/// `copylab quiz ARGS --size 8M` with `stdin` piped in.
fn quiz(args: &[&str], stdin: &str) -> Out {
    quiz_bytes(args, stdin.as_bytes().to_vec())
}

/// `copylab quiz ARGS --size 8M` with raw `stdin` bytes, in no locale (the language is the one
/// the arguments ask for).
fn quiz_bytes(args: &[&str], stdin: Vec<u8>) -> Out {
    Cmd::copylab(&["quiz"])
        .args(args)
        .args(&["--size", SIZE])
        .without_locale()
        .stdin(stdin)
        .run()
}

fn quiz_json(args: &[&str], stdin: &str) -> Value {
    let out = quiz(args, stdin);
    assert!(out.success(), "{}", out.dump());
    assert!(!out.stderr.contains("panicked"), "{}", out.dump());
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{}", out.dump()))
}

/// The teacher's list for `seed`: questions with this run's measured answers.
fn list(seed: &str, lang: &str) -> Value {
    quiz_json(&["--seed", seed, "--list", "--json", "--lang", lang], "")
}

fn questions(r: &Value) -> &Vec<Value> {
    r["questions"].as_array().expect("questions")
}

/// Whether `given` is right for question `q` by the figure `q` itself carries (its run's).
fn accepted(q: &Value, given: &str) -> bool {
    match q["kind"].as_str() {
        Some("number") => {
            let a: u64 = q["answer"].as_str().unwrap().parse().unwrap();
            let g: u64 = given.parse().unwrap();
            let tol = q["tolerance_pct"].as_u64().unwrap();
            g.abs_diff(a) <= a * tol / 100
        }
        Some("choice") => {
            q["answer"] == given
                || q["also_right"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|c| c == given))
        }
        other => panic!("kind {other:?}: {q}"),
    }
}

/// The answers a list gives, one per line.
fn answers(r: &Value) -> String {
    questions(r)
        .iter()
        .map(|q| format!("{}\n", q["answer"].as_str().unwrap()))
        .collect()
}

/// Every question the JSON names has the documented fields; the score counts the rights.
fn assert_shape(r: &Value, answered: bool) {
    let qs = questions(r);
    assert_eq!(r["total"].as_u64(), Some(qs.len() as u64), "{r:#}");
    for q in qs {
        for f in ["id", "text", "answer", "kind", "explanation"] {
            assert!(q[f].is_string(), "{f} in {q:#}");
        }
        assert_eq!(q["given"].is_string(), answered, "{q:#}");
        assert_eq!(q["right"].is_boolean(), answered, "{q:#}");
    }
    if answered {
        let rights = qs.iter().filter(|q| q["right"] == true).count() as u64;
        assert_eq!(r["score"].as_u64(), Some(rights), "{r:#}");
    } else {
        assert!(r["score"].is_null(), "{r:#}");
    }
}

#[test]
fn teachers_answers_score_full_marks_where_runs_agree() {
    for seed in ["1", "2", "3"] {
        let teacher = list(seed, "en");
        assert_shape(&teacher, false);
        let r = quiz_json(&["--seed", seed, "--json"], &answers(&teacher));
        assert_shape(&r, true);
        let (tq, sq) = (questions(&teacher), questions(&r));
        assert_eq!(tq.len(), sq.len());
        let mut agreed = 0;
        for (t, s) in tq.iter().zip(sq) {
            assert_eq!(
                (&t["id"], &t["text"]),
                (&s["id"], &s["text"]),
                "same question"
            );
            let given = t["answer"].as_str().unwrap();
            assert_eq!(s["given"], given);
            // Checked against this run's figure, whatever the teacher's run measured.
            assert_eq!(s["right"], accepted(s, given), "{s:#}");
            if accepted(s, given) {
                agreed += 1;
            }
            // Syscall counts do not depend on timing: both runs measure the same.
            let id = s["id"].as_str().unwrap();
            if id.ends_with("-calls") || id.ends_with("-transitions") || id == "most-syscalls" {
                assert_eq!(s["right"], true, "{id}: teacher {t:#}\nstudent {s:#}");
            }
        }
        assert_eq!(r["score"].as_u64(), Some(agreed), "{r:#}");
        if agreed == tq.len() as u64 {
            assert_eq!(r["score"], r["total"]);
        }
    }
}

#[test]
fn wrong_answers_score_less() {
    let seed = "4";
    let teacher = list(seed, "en");
    // A wrong answer per question: far off for numbers, a choice no run can accept.
    let mut wrong = String::new();
    for q in questions(&teacher) {
        let w = match q["kind"].as_str().unwrap() {
            "number" => {
                let a: u64 = q["answer"].as_str().unwrap().parse().unwrap();
                (a * 3 + 1000).to_string()
            }
            _ => q["choices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .find(|c| !accepted(q, c))
                .unwrap_or_else(|| q["answer"].as_str().unwrap().to_string()),
        };
        wrong.push_str(&w);
        wrong.push('\n');
    }
    let r = quiz_json(&["--seed", seed, "--json"], &wrong);
    assert_shape(&r, true);
    let total = r["total"].as_u64().unwrap();
    let score = r["score"].as_u64().unwrap();
    assert!(total > 0 && score < total, "{r:#}");
    for q in questions(&r) {
        assert_eq!(
            q["right"],
            accepted(q, q["given"].as_str().unwrap()),
            "{q:#}"
        );
    }
    // Letters work as answers to choices, and the text mode ends with the score.
    let out = quiz(&["--seed", seed], &wrong);
    assert!(out.success(), "{}", out.dump());
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("score ") && last.ends_with(&format!("/{total}")),
        "{}",
        out.dump()
    );
}

#[test]
fn a_seed_gives_a_class_the_same_questions() {
    // The questions drawn: those asked, and those this run could not measure (a copy question
    // whose file was too small for a sample), which are named with the reason.
    let ids = |r: &Value| -> Vec<String> {
        let mut v: Vec<String> = questions(r)
            .iter()
            .map(|q| q["id"].as_str().unwrap().to_string())
            .chain(
                r["skipped"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().split(':').next().unwrap().to_string()),
            )
            .collect();
        v.sort();
        v
    };
    let key = |r: &Value| -> Vec<(String, String, String)> {
        questions(r)
            .iter()
            .map(|q| {
                (
                    q["id"].as_str().unwrap().to_string(),
                    q["text"].as_str().unwrap().to_string(),
                    q["choices"].to_string(),
                )
            })
            .collect()
    };
    let a = list("7", "en");
    let b = list("7", "en");
    assert_eq!(a["seed"], 7);
    assert_eq!(ids(&a), ids(&b), "seed 7 twice");
    // The questions both runs asked read the same, with the same parameters and choices.
    for q in key(&a) {
        if let Some(other) = key(&b).into_iter().find(|o| o.0 == q.0) {
            assert_eq!(q, other, "seed 7 twice");
        }
    }
    let others: Vec<_> = ["8", "9", "10", "11"]
        .iter()
        .map(|s| key(&list(s, "en")))
        .collect();
    assert!(
        others.iter().any(|o| *o != key(&a)),
        "every seed drew the same set"
    );
    // Without --seed, the header says which seed to give.
    let out = quiz(&["--list"], "");
    assert!(out.success(), "{}", out.dump());
    let first = out.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("copylab quiz · seed ") && first.contains("gives the same questions"),
        "{}",
        out.dump()
    );
}

#[test]
fn chinese_quiz() {
    let teacher = list("5", "zh");
    assert_eq!(teacher["lang"], "zh");
    for q in questions(&teacher) {
        let t = q["text"].as_str().unwrap();
        assert!(t.ends_with('？'), "{t}");
        assert!(
            t.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{t}"
        );
    }
    let out = quiz(&["--seed", "5", "--lang", "zh"], &answers(&teacher));
    assert!(out.success(), "{}", out.dump());
    assert!(
        out.stdout.starts_with("copylab quiz · 种子 5"),
        "{}",
        out.dump()
    );
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("得分 "), "{}", out.dump());
    assert!(out.stdout.contains("这次测得："), "{}", out.dump());
}

#[test]
fn bad_answer_lines_end_the_quiz_with_one_clear_line() {
    let seed = "6";
    let teacher = list(seed, "en");
    let first = &questions(&teacher)[0];
    let (bad, says) = if first["kind"] == "number" {
        ("lots", "'lots' is not a whole number")
    } else {
        ("zz", "'zz' is not one of the choices")
    };
    let out = quiz(&["--seed", seed, "--json"], &format!("{bad}\n"));
    assert_clean_error(&out, &["quiz: answer 1 (line 1)", says]);

    // Too few lines.
    let one = format!("{}\n", first["answer"].as_str().unwrap());
    let out = quiz(&["--seed", seed, "--json"], &one);
    assert_clean_error(
        &out,
        &["stdin ended before answer 2 of", "one answer per line"],
    );

    // Flag values are clap's usage errors.
    let out = quiz(&["--seed", "x"], "");
    assert_usage_error(&out, "--seed");
    let out = quiz(&["--lang", "fr"], "");
    assert_usage_error(&out, "--lang");
}

/// A choice's figure in an explanation, and for copy figures the "(lo–hi)" range after it.
type Figure = (String, f64, Option<(f64, f64)>);

/// "read-write 256, mmap 3 (…" → the figure after each choice's name in an explanation.
fn figures_of(q: &Value) -> Vec<Figure> {
    let text = q["explanation"].as_str().unwrap();
    let mut out = Vec::new();
    for c in q["choices"].as_array().unwrap() {
        let name = c.as_str().unwrap();
        let Some(at) = text.find(&format!("{name} ")) else {
            continue;
        };
        let rest = &text[at + name.len() + 1..];
        let num: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let Ok(v) = num.parse::<f64>() else { continue };
        let range = rest[num.len()..]
            .strip_prefix(" (")
            .and_then(|r| r.split_once(')'))
            .and_then(|(r, _)| r.split_once('–'))
            .and_then(|(lo, hi)| Some((lo.parse().ok()?, hi.parse().ok()?)));
        out.push((name.to_string(), v, range));
    }
    out
}

fn accepted_choices(q: &Value) -> Vec<String> {
    let mut v = vec![q["answer"].as_str().unwrap().to_string()];
    if let Some(a) = q["also_right"].as_array() {
        v.extend(a.iter().map(|c| c.as_str().unwrap().to_string()));
    }
    v
}

/// Ordering questions accept every path that measured the same as the top (syscalls, exact) or
/// whose range over the runs reaches the top's (copy time, sampled); every question names the
/// size it measured; the fault question says what the count depends on.
#[test]
fn ordering_questions_accept_ties_and_noise_and_every_question_says_its_size() {
    let mut ties = 0;
    for seed in ["71", "155", "180", "1", "2", "3"] {
        let r = list(seed, "en");
        for q in questions(&r) {
            let id = q["id"].as_str().unwrap();
            let text = q["text"].as_str().unwrap();
            match id {
                "most-copy" => {
                    assert!(
                        text.contains("64 MiB") && text.contains("--size 8 MiB"),
                        "{text}"
                    );
                    let figs = figures_of(q);
                    assert_eq!(figs.len(), 4, "{q:#}");
                    let answer = q["answer"].as_str().unwrap();
                    let top = figs.iter().find(|f| f.0 == answer).unwrap();
                    let top_lo = top.2.expect("a range").0;
                    for (name, _, range) in &figs {
                        let (_, hi) = range.expect("a range");
                        assert_eq!(
                            hi >= top_lo,
                            accepted_choices(q).contains(name),
                            "{name}: inside the noise is right, outside is not\n{q:#}"
                        );
                    }
                }
                "most-syscalls" => {
                    assert!(text.contains("8 MiB"), "{text}");
                    let figs = figures_of(q);
                    assert_eq!(figs.len(), 4, "{q:#}");
                    let max = figs.iter().map(|f| f.1).fold(f64::MIN, f64::max);
                    let tops: Vec<&String> =
                        figs.iter().filter(|f| f.1 == max).map(|f| &f.0).collect();
                    let mut acc = accepted_choices(q);
                    acc.sort();
                    let mut want: Vec<String> = tops.iter().map(|s| s.to_string()).collect();
                    want.sort();
                    assert_eq!(acc, want, "every tied path, and only those\n{q:#}");
                    if tops.len() > 1 {
                        ties += 1;
                    }
                }
                "mmap-faults" => {
                    assert!(
                        text.contains("8 MiB") && text.contains("fault-around"),
                        "{text}"
                    );
                    // Every run's count is inside the tolerance: "runs, LO–HI;".
                    let why = q["explanation"].as_str().unwrap();
                    let range = why
                        .split("runs, ")
                        .nth(1)
                        .and_then(|r| r.split(';').next())
                        .and_then(|r| r.split_once('–'))
                        .unwrap_or_else(|| panic!("no range of the runs: {why}"));
                    for end in [range.0, range.1] {
                        let end = end.trim().to_string();
                        assert!(accepted(q, &end), "{end} measured, not accepted\n{q:#}");
                    }
                }
                _ => assert!(text.contains("8 MiB"), "{id}: {text}"),
            }
        }
    }
    // Seed 1 draws read-write and splice with a 256 KiB buffer and pipe: the same count.
    assert!(ties > 0, "no seed drew a tie: the tie rule went untested");
}

/// `q` ends the quiz with the score so far and exit 0; the end of the input (Ctrl-D) prints the
/// score so far too, then the one-line error.
#[test]
fn q_or_the_end_of_input_ends_the_quiz_with_the_score_so_far() {
    let seed = "4";
    let teacher = list(seed, "en");
    let total = questions(&teacher).len();
    let out = quiz(&["--seed", seed], "q\n");
    assert!(out.success(), "{}", out.dump());
    let last = out.stdout.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!("score 0/0 (ended after 0 of {total} questions)"),
        "{}",
        out.dump()
    );

    let first = questions(&teacher)[0]["answer"].as_str().unwrap();
    let r = quiz_json(&["--seed", seed, "--json"], &format!("{first}\nq\n"));
    assert_eq!(r["answered"], 1, "{r:#}");
    let qs = questions(&r);
    assert!(
        qs[0]["given"].is_string() && qs[1]["given"].is_null(),
        "{r:#}"
    );
    let rights = qs.iter().filter(|q| q["right"] == true).count() as u64;
    assert_eq!(r["score"].as_u64(), Some(rights), "{r:#}");

    // In text mode the questions were on stdout already: the score so far follows them, and
    // the error is stderr's one line.
    let out = quiz(&["--seed", seed], &format!("{first}\n"));
    assert_eq!(out.code, Some(1), "{}", out.dump());
    let err = out.stderr.trim_end();
    assert!(
        !err.contains('\n')
            && err.starts_with("copylab: ")
            && err.contains("stdin ended before answer 2 of"),
        "{}",
        out.dump()
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("score ") && l.contains("(ended after 1 of")),
        "{}",
        out.dump()
    );
}

/// A 10 MB line without a newline on stdin is refused once it passes 4 KiB, without reading it
/// whole, and the error quotes only its start.
#[test]
fn a_huge_answer_line_is_refused_and_quoted_short() {
    let out = quiz_bytes(&["--seed", "6", "--json"], vec![b'7'; 10 << 20]);
    assert_clean_error(
        &out,
        &[
            "quiz: answer 1 (line 1)",
            "longer than 4096 bytes",
            "on a line of its own",
        ],
    );
    assert!(
        out.stderr.len() < 400,
        "the error echoes too much\n{}",
        out.dump()
    );
}

/// An answer that is not UTF-8, or carries terminal escapes, names the answer and the line,
/// quotes it escaped, and says what to type.
#[test]
fn an_answer_that_is_not_text_says_what_to_type() {
    let out = quiz_bytes(&["--seed", "6", "--json"], b"\xff\xfe\n".to_vec());
    assert_clean_error(
        &out,
        &[
            "quiz: answer 1 (line 1)",
            "not UTF-8 text",
            r"'\xff\xfe'",
            "plain text",
        ],
    );
    let out = quiz_bytes(&["--seed", "6"], b"\x1b]2;PWN\x07\n".to_vec());
    assert_eq!(out.code, Some(1), "{}", out.dump());
    assert!(
        !out.stdout.contains('\u{1b}') && !out.stderr.contains('\u{1b}'),
        "a raw escape was echoed\n{}",
        out.dump()
    );
    assert!(out.stderr.contains(r"\x1b]2;PWN\x07"), "{}", out.dump());
}

/// The receive question is drawn from the receive matrix and judged by this run's mapped
/// share: sendfile's page-cache pages do not map, MSG_ZEROCOPY's copies do; a band that any
/// run reached is right too (the noise rule); the student's run is judged on its own figure.
/// Without root it is not asked, and the header says why.
#[test]
fn the_receive_question_is_judged_by_the_share_this_run_mapped() {
    let _shared = system_state(false);
    // Seed 4 draws it with sendfile, seed 5 with msg-zerocopy; neither draws the 64 MiB copy
    // question.
    for (seed, sender, band) in [
        ("4", "sendfile", "almost none (< 5%)"),
        ("5", "msg-zerocopy", "almost all (≥ 95%)"),
    ] {
        let teacher = list(seed, "en");
        let q = questions(&teacher)
            .iter()
            .find(|q| q["id"] == "receive-mapped");
        if !is_root() {
            assert!(q.is_none(), "{teacher:#}");
            let skipped = teacher["skipped"].to_string();
            assert!(
                skipped.contains("receive-mapped: n/a") && skipped.contains("root"),
                "{skipped}"
            );
            continue;
        }
        let q = q.unwrap_or_else(|| panic!("seed {seed}: no receive question\n{teacher:#}"));
        let text = q["text"].as_str().unwrap();
        assert!(
            text.starts_with(&format!("{sender} sends 8 MiB over loopback")),
            "{text}"
        );
        assert_eq!(q["choices"].as_array().unwrap().len(), 3, "{q:#}");
        assert_eq!(q["answer"], band, "{q:#}");
        // Every band the runs reached (the explanation's "LO–HI%") is accepted, no other.
        let why = q["explanation"].as_str().unwrap();
        let range = why
            .split("runs, ")
            .nth(1)
            .and_then(|r| r.split("%)").next())
            .and_then(|r| r.split_once('–'))
            .unwrap_or_else(|| panic!("no range: {why}"));
        let band_of = |p: f64| {
            if p < 5.0 {
                "almost none (< 5%)"
            } else if p < 95.0 {
                "some (5–95%)"
            } else {
                "almost all (≥ 95%)"
            }
        };
        let (lo, hi): (f64, f64) = (range.0.parse().unwrap(), range.1.parse().unwrap());
        for c in q["choices"].as_array().unwrap() {
            let c = c.as_str().unwrap();
            let reached = [band_of(lo), band_of(hi), band].contains(&c);
            assert_eq!(accepted(q, c), reached, "{c}\n{q:#}");
        }
        assert!(
            why.contains("can_map_frag()") || why.contains("skb_copy_ubufs"),
            "{why}"
        );
        // A student answering by letter is judged against the student's own run.
        let letter = if band.starts_with("almost none") {
            "a"
        } else {
            "c"
        };
        let mut answers: Vec<String> = questions(&teacher)
            .iter()
            .map(|t| t["answer"].as_str().unwrap().to_string())
            .collect();
        let i = questions(&teacher)
            .iter()
            .position(|t| t["id"] == "receive-mapped")
            .unwrap();
        answers[i] = letter.to_string();
        let r = quiz_json(&["--seed", seed, "--json"], &(answers.join("\n") + "\n"));
        let sq = &questions(&r)[i];
        assert_eq!(sq["given"], band, "{sq:#}");
        assert_eq!(sq["right"], accepted(sq, band), "{sq:#}");
    }
}
