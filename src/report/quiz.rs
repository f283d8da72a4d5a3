//! Printing `copylab quiz`: the header, each question with its choices, the verdict after each
//! answer, the score, and the teacher's list of questions with this run's measured answers.

use std::fmt::Write as _;

use super::text::{Lang, MAX_WIDTH, wrap};
use crate::results::quiz::{Expect, Question, QuizReport};

/// "a) read-write  b) mmap …", or what kind of number is asked.
fn how_to_answer(q: &Question, lang: Lang) -> String {
    match &q.expect {
        Expect::Number { tolerance_pct: 0 } => match lang {
            Lang::En => "(a whole number, exactly)".into(),
            Lang::Zh => "（整数，须完全一致）".into(),
        },
        Expect::Number { tolerance_pct } => match lang {
            Lang::En => format!("(a whole number; right within {tolerance_pct}%)"),
            Lang::Zh => format!("（整数；误差 {tolerance_pct}% 以内算对）"),
        },
        Expect::Choice { choices } => choices
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{}) {c}", char::from(b'a' + i as u8)))
            .collect::<Vec<_>>()
            .join("  "),
    }
}

/// Before the first question: the seed to give a class, and what could not be asked.
pub fn header(seed: u64, total: usize, skipped: &[String], lang: Lang) -> String {
    let mut out = match lang {
        Lang::En => format!(
            "copylab quiz · seed {seed} (--seed {seed} gives the same questions) · {total} questions, each checked against what this run measured\n"
        ),
        Lang::Zh => format!(
            "copylab quiz · 种子 {seed}（--seed {seed} 给出同样的题目）· 共 {total} 题，每题都用这次运行测出的数字判分\n"
        ),
    };
    for s in skipped {
        let _ = writeln!(
            out,
            "{} {s}",
            if lang == Lang::En {
                "not asked:"
            } else {
                "未出题："
            }
        );
    }
    out
}

/// One question, numbered, with how to answer it and the prompt.
pub fn question(n: usize, q: &Question, lang: Lang) -> String {
    format!(
        "\n{}{}> ",
        wrap(&q.text, MAX_WIDTH, &format!("{n}. "), 3),
        wrap(&how_to_answer(q, lang), MAX_WIDTH, "   ", 3)
    )
}

/// The answer read from a pipe, shown after the prompt as if typed.
pub fn echo(given: &str) -> String {
    format!("{given}\n")
}

/// After an answer that could not be read, on a terminal.
pub fn retry(why: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("   {why}; try again\n"),
        Lang::Zh => format!("   {why}；请再答一次\n"),
    }
}

fn also(q: &Question, lang: Lang) -> String {
    if q.also_right.is_empty() {
        return String::new();
    }
    match lang {
        Lang::En => format!(" (also right: {})", q.also_right.join(", ")),
        Lang::Zh => format!("（也算对：{}）", q.also_right.join("、")),
    }
}

/// Right or wrong, the measured answer, and why.
pub fn verdict(q: &Question, lang: Lang) -> String {
    let right = q.right == Some(true);
    let text = match lang {
        Lang::En => format!(
            "{} — measured here: {}{}. {}",
            if right { "right" } else { "wrong" },
            q.answer,
            also(q, lang),
            q.explanation
        ),
        Lang::Zh => format!(
            "{} —— 这次测得：{}{}。{}",
            if right { "对" } else { "错" },
            q.answer,
            also(q, lang),
            q.explanation
        ),
    };
    wrap(&text, MAX_WIDTH, "   ", 3)
}

/// The last line.
pub fn score(score: usize, total: usize, lang: Lang) -> String {
    match lang {
        Lang::En => format!("\nscore {score}/{total}\n"),
        Lang::Zh => format!("\n得分 {score}/{total}\n"),
    }
}

/// For the teacher: every question with this run's measured answer and its explanation.
pub fn list(r: &QuizReport, lang: Lang) -> String {
    let mut out = header(r.seed, r.total, &r.skipped, lang);
    for (i, q) in r.questions.iter().enumerate() {
        out.push('\n');
        out.push_str(&wrap(&q.text, MAX_WIDTH, &format!("{}. ", i + 1), 3));
        out.push_str(&wrap(&how_to_answer(q, lang), MAX_WIDTH, "   ", 3));
        let answer = format!(
            "{} {}{}",
            if lang == Lang::En {
                "answer (measured in this run):"
            } else {
                "答案（这次运行测得）："
            },
            q.answer,
            also(q, lang)
        );
        out.push_str(&wrap(&answer, MAX_WIDTH, "   ", 3));
        out.push_str(&wrap(&q.explanation, MAX_WIDTH, "   ", 3));
    }
    out
}
