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
//! * Reading — [`source`]: one read interface over layouts and archives.
//! * Archives — [`archive`]: deterministic `.tar`/`.tar.gz` writer, in-place readers
//!   (random access for `.tar`, one streaming pass for `.tar.gz` and standard input),
//!   and the limits that keep hostile archives harmless; [`copy`]: between layouts and
//!   archives, digests preserved.
//! * Operations — [`pack`], and [`summary::list`] / [`summary::inspect`]: what the CLI
//!   exposes, usable as a library.
//! * Management — [`tag`]: naming images and removing names; [`layout::gc`]:
//!   reclaiming unreferenced blobs (see docs/durability.md).
//! * Integrity — [`verify`]: complete offline verification with a report.
//! * Trust — [`sign`]: offline signatures inside the layout, in cosign's format (keys,
//!   signing, checking against trusted keys).
//! * [`load`] (feature `loader`): libbpf-rs loading, attaching, pinning and map display.
//! * [`cli`]: the command-line front end (argument parsing and rendering).

pub mod archive;
pub mod cli;
pub mod copy;
pub mod elf;
pub mod error;
pub mod graph;
pub mod image;
pub mod layout;
pub mod limits;
#[cfg(feature = "loader")]
pub mod load;
pub mod oci;
pub mod pack;
pub mod program;
pub mod progress;
pub mod report;
pub mod sign;
pub mod source;
pub mod store;
pub mod summary;
pub mod tag;
pub mod transfer;
pub mod trust;
pub mod verify;

pub use error::{Error, Result};
