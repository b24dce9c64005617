//! ebpf-layout: pack compiled eBPF programs into OCI image layouts and tarballs,
//! verify them offline, and load them into the kernel.
//!
//! Modules, by purpose:
//!
//! * Format primitives — [`oci`]: digests, descriptors, media types, canonical JSON,
//!   ref names and image references.
//! * Storage — [`layout`]: an OCI image layout directory (blob writer, index.json
//!   updates, the writer lock).
//! * eBPF images — [`image`]: the image formats we write and read, and [`elf`]:
//!   inspection of BPF ELF objects without the kernel.
//! * Reading — [`source`]: one read interface over layouts (and archives).
//! * Operations — [`pack`], and [`image::list`] / [`image::inspect`]: what the CLI
//!   exposes, usable as a library.
//! * Integrity — [`verify`]: complete offline verification with a report.
//! * [`load`] (feature `loader`): libbpf-rs loading, attaching, pinning and map display.
//! * [`cli`]: the command-line front end (argument parsing and rendering).

pub mod cli;
pub mod elf;
pub mod image;
pub mod layout;
#[cfg(feature = "loader")]
pub mod load;
pub mod oci;
pub mod pack;
pub mod source;
pub mod verify;
pub mod error;

pub use error::{Error, Result};
