//! Printing `copylab quiz`: the header, each question with its choices, the verdict after each
//! answer, the score, and the teacher's list of questions with this run's measured answers. The
//! words are the lesson's ([`super::lesson`]); every line is wrapped to the screen (at most
//! [`MAX_WIDTH`] columns), a figure never split from its unit.

use super::lesson::{self, Msg};
use super::text::{Lang, keep_figures, wrap};

/// Widest a quiz line is laid out, however wide the terminal: prose reads best at this.
const MAX_WIDTH: usize = 100;
use crate::results::quiz::{Expect, Question, QuizReport};

/// `text` wrapped to the screen's width (COLUMNS, else stdout's terminal, else 80; at most
/// [`MAX_WIDTH`]), the first line after `first`, the rest indented by `indent`.
fn fill(text: &str, first: &str, indent: usize) -> String {
    let width = super::text::width_on(Some(std::os::fd::AsFd::as_fd(&std::io::stdout())));
    wrap(&keep_figures(text), width.min(MAX_WIDTH), first, indent)
}

/// "a) read-write  b) mmap …", or what kind of number is asked.
fn how_to_answer(q: &Question, lang: Lang) -> String {
    match &q.expect {
        Expect::Number { tolerance_pct: 0 } => lesson::say(lang, &Msg::AnswerExactly),
        Expect::Number { tolerance_pct } => lesson::say(
            lang,
            &Msg::AnswerWithin {
                pct: *tolerance_pct,
            },
        ),
        // Each choice kept on one line: its letter and words joined by no-break spaces.
        Expect::Choice { choices } => choices
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "{})\u{a0}{}",
                    char::from(b'a' + i as u8),
                    c.replace(' ', "\u{a0}")
                )
            })
            .collect::<Vec<_>>()
            .join("  "),
    }
}

/// Before the first question: the seed to give a class, and what could not be asked.
pub fn header(seed: u64, total: usize, skipped: &[String], lang: Lang) -> String {
    let mut out = fill(&lesson::say(lang, &Msg::QuizHeader { seed, total }), "", 2);
    let not_asked = lesson::say(lang, &Msg::NotAsked);
    for s in skipped {
        out.push_str(&fill(&format!("{not_asked} {s}"), "", 2));
    }
    out
}

/// One question, numbered, with how to answer it and the prompt.
pub fn question(n: usize, q: &Question, lang: Lang) -> String {
    format!(
        "\n{}{}> ",
        fill(&q.text, &format!("{n}. "), 3),
        fill(&how_to_answer(q, lang), "   ", 3)
    )
}

/// The answer read from a pipe, shown after the prompt as if typed.
pub fn echo(given: &str) -> String {
    format!("{given}\n")
}

/// After an answer that could not be read, on a terminal.
pub fn retry(why: &str, lang: Lang) -> String {
    fill(&lesson::say(lang, &Msg::TryAgain { why }), "   ", 3)
}

fn also(q: &Question, lang: Lang) -> String {
    if q.also_right.is_empty() {
        return String::new();
    }
    lesson::say(
        lang,
        &Msg::AlsoRight {
            choices: &q.also_right,
        },
    )
}

/// Right or wrong, the measured answer, and why.
pub fn verdict(q: &Question, lang: Lang) -> String {
    let mark = if q.right == Some(true) {
        Msg::Right
    } else {
        Msg::Wrong
    };
    let text = lesson::say(
        lang,
        &Msg::Verdict {
            mark: &lesson::say(lang, &mark),
            answer: &q.answer,
            also: &also(q, lang),
            explanation: &q.explanation,
        },
    );
    fill(&text, "   ", 3)
}

/// The last line: the score of the `answered` questions, and how many there were when the quiz
/// ended early (`q`, or the end of the input).
pub fn score(score: usize, answered: usize, total: usize, lang: Lang) -> String {
    let mut line = lesson::say(
        lang,
        &Msg::Score {
            score,
            total: answered,
        },
    );
    if answered < total {
        line.push_str(&lesson::say(lang, &Msg::Stopped { answered, total }));
    }
    format!("\n{}", fill(&line, "", 2))
}

/// For the teacher: every question with this run's measured answer and its explanation.
pub fn list(r: &QuizReport, lang: Lang) -> String {
    let mut out = header(r.seed, r.total, &r.skipped, lang);
    for (i, q) in r.questions.iter().enumerate() {
        out.push('\n');
        out.push_str(&fill(&q.text, &format!("{}. ", i + 1), 3));
        out.push_str(&fill(&how_to_answer(q, lang), "   ", 3));
        let answer = format!(
            "{} {}{}",
            lesson::say(lang, &Msg::AnswerMeasured),
            q.answer,
            also(q, lang)
        );
        out.push_str(&fill(&answer, "   ", 3));
        out.push_str(&fill(&q.explanation, "   ", 3));
    }
    out
}
