//! copylab's integration tests: one test binary (`cargo test --test integration`) that runs the
//! built `copylab` against real files, sockets, perf counters and programs. One module per
//! feature; the helpers every module uses are in `util`. tests/README.md says where a new test
//! goes.

mod util;

mod compare;
mod completions_and_man;
mod docs;
mod doctor;
mod explain;
mod fetch;
mod hardening;
mod link;
mod output_files;
mod quiz;
mod report_html;
mod screens;
mod serve;
mod tmux;
mod trace;
mod veth;
