//! Integration tests: the real binary on real BPF objects and real peer tools.

mod util;

mod bad_input;
mod interop;
mod list_inspect;
#[cfg(feature = "loader")]
mod load_cli;
mod pack;
mod property;
mod verify;
