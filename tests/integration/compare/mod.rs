//! `copylab compare`: what it measures and reports, one module per side of it.

mod counters;
mod delivery;
mod exports_sweep;
mod input;
mod output;
mod paths;
mod profile;
mod receive;
