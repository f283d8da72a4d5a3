//! `copylab completions` and `copylab man`: generated from the command line's definition, so
//! they name every subcommand and refuse a shell they do not know as a usage error.

use crate::util::*;

const SUBCOMMANDS: [&str; 8] = [
    "compare",
    "sweep",
    "serve",
    "fetch",
    "explain",
    "doctor",
    "completions",
    "man",
];

#[test]
fn completion_scripts_name_copylab_and_its_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run_ok(&["completions", shell], &[]);
        assert!(out.stdout.contains("copylab"), "{shell}\n{}", out.dump());
        for sub in ["compare", "serve", "fetch", "explain"] {
            assert!(
                out.stdout.contains(sub),
                "{shell} lacks {sub}\n{}",
                out.dump()
            );
        }
    }
    let bash = run_ok(&["completions", "bash"], &[]);
    assert!(bash.stdout.contains("--send-timeout"), "{}", bash.dump());
}

#[test]
fn man_page_is_roff_and_names_every_subcommand() {
    let out = run_ok(&["man"], &[]);
    // clap_mangen opens with the \*(Aq string definition (.ie/.el), then the title.
    let first = out
        .stdout
        .lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .unwrap_or_default();
    assert!(first.starts_with(".TH copylab 1"), "{}", out.dump());
    for sub in SUBCOMMANDS {
        let heading = format!(".SH \"COPYLAB {}\"", sub.to_uppercase());
        assert!(
            out.stdout.contains(&heading),
            "no {heading}\n{}",
            out.dump()
        );
    }
    assert!(out.stdout.contains("send\\-timeout"), "{}", out.dump());
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    for shell in ["nosuch", "powershell", ""] {
        let out = run(&["completions", shell], &[]);
        assert_eq!(out.code, Some(2), "{shell:?}\n{}", out.dump());
        assert!(!out.stderr.contains("panicked"), "{}", out.dump());
        assert!(out.stdout.is_empty(), "{}", out.dump());
    }
    let out = run(&["completions"], &[]);
    assert_eq!(out.code, Some(2), "{}", out.dump());
}

/// The completion scripts offer the values, not only the flags: every path's name after
/// --methods (and classic, all), the topics after explain, the languages after --lang.
#[test]
fn completions_offer_method_names_topics_and_languages() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run_ok(&["completions", shell], &[]);
        for word in [
            "io-uring-send-zc",
            "msg-zerocopy",
            "classic",
            "kafka",
            "receive",
            "myths",
            "zh",
        ] {
            assert!(
                out.stdout.contains(word),
                "{shell}: {word} is not offered\n{}",
                out.dump()
            );
        }
    }
}

/// The man page has the sections a man page reader looks for and names no page that is not
/// there: the subcommands are sections of this page, not copylab-compare(1).
#[test]
fn man_page_has_examples_environment_exit_status_and_no_missing_pages() {
    let out = run_ok(&["man"], &[]);
    for section in [
        ".SH EXAMPLES",
        ".SH ENVIRONMENT",
        ".SH \"EXIT STATUS\"",
        ".SH \"SEE ALSO\"",
    ] {
        assert!(out.stdout.contains(section), "no {section}\n{}", out.dump());
    }
    for var in ["COLUMNS", "NO_COLOR", "TMPDIR", "COPYLAB_TRACEFS", "LANG"] {
        assert!(out.stdout.contains(var), "ENVIRONMENT lacks {var}");
    }
    assert!(
        !out.stdout.contains("copylab\\-compare(1)") && !out.stdout.contains("copylab-compare(1)"),
        "names a page that does not exist\n{}",
        out.dump()
    );
}

/// A command that takes one method suggests only single methods.
#[test]
fn serve_method_suggests_only_single_methods() {
    let out = run(&["serve", "/dev/null", "--method", "all"], &[]);
    assert_eq!(out.code, Some(2), "{}", out.dump());
    assert!(out.stderr.contains("sendfile"), "{}", out.dump());
    assert!(!out.stderr.contains("classic"), "{}", out.dump());
}
