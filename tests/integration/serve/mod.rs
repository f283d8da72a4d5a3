//! `copylab serve`: raw and HTTP delivery, ranges, the live view, faults, load and signals.

mod faults;
mod http;
mod live;
mod load;
mod range;
mod raw;
mod signals_and_timeouts;
