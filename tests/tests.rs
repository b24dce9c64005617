//! Integration tests: the real binary on real BPF objects and real peer tools.

mod util;

/// The shared test kit (tests/kit/): the parts this binary uses.
mod kit {
    #[cfg(feature = "loader")]
    pub mod kernel;
    pub mod layout;
}

mod architecture;
mod archive;
mod bad_input;
mod cli_conventions;
mod cli_extras;
mod copy;
#[cfg(feature = "loader")]
mod deploy;
mod faults;
mod golden;
mod graph;
mod hostile;
mod interop;
mod interop_formats;
mod kernel_btf;
mod list_inspect;
#[cfg(feature = "loader")]
mod load_cli;
mod manage;
#[cfg(feature = "oci-spec")]
mod oci_spec_bridge;
mod pack;
mod property;
mod registry;
mod signing;
mod storage_hostile;
mod terminal;
mod transit;
mod trust;
mod verify;
