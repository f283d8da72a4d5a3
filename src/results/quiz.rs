//! The `copylab quiz --json` format: each question with this run's measured answer and, once
//! answered, the answer given.

use serde::Serialize;

/// What kind of answer a question takes.
/// In the JSON: `"kind": "number"` with `tolerance_pct`, or `"kind": "choice"` with `choices`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Expect {
    /// A whole number, right within `tolerance_pct` % of the measured one.
    Number { tolerance_pct: u32 },
    /// One of the choices (by letter or by name).
    Choice { choices: Vec<String> },
}

/// One question, its measured answer and, once answered, the answer given.
#[derive(Debug, Clone, Serialize)]
pub struct Question {
    /// Stable name of the question's kind (`splice-calls`, `most-copy`, …).
    pub id: &'static str,
    pub text: String,
    #[serde(flatten)]
    pub expect: Expect,
    /// This run's measured answer: a number, or the name of a choice.
    pub answer: String,
    /// Choices also counted right (within the question's tolerance of the measured first).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_right: Vec<String>,
    /// A sentence or two: why the figure is what it is, and where it was measured.
    pub explanation: String,
    /// The answer read, as typed; null with --list.
    pub given: Option<String>,
    /// Whether it matched the measured answer; null with --list.
    pub right: Option<bool>,
}

/// A quiz, as `--json` writes it.
#[derive(Debug, Clone, Serialize)]
pub struct QuizReport {
    pub seed: u64,
    /// `en` or `zh`.
    pub lang: &'static str,
    pub questions: Vec<Question>,
    /// Questions that could not be measured here, with the reason (not asked, not counted).
    pub skipped: Vec<String>,
    /// Right answers; null with --list (nothing was answered).
    pub score: Option<usize>,
    /// Questions answered: `total`, or fewer when the quiz was ended with `q`; null with --list.
    pub answered: Option<usize>,
    pub total: usize,
}
