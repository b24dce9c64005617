//! ebpf-layout: pack compiled eBPF programs into OCI image layouts and tarballs,
//! verify them offline, and load them into the kernel.
//!
//! Modules, by layer (each imports only from its own layer or those below; a test,
//! `tests/architecture.rs`, keeps it so; docs/architecture.md draws the map):
//!
//! * **Format** — no I/O: [`oci`] (digests, descriptors, manifests, canonical JSON, ref
//!   names, cosign's naming rules), [`elf`] (BPF objects inspected without the kernel),
//!   [`graph`] (the image graph: roles, the one walker, the one depth limit), [`limits`]
//!   (bounds on untrusted input, as values), [`report`] (integrity findings, and escaping
//!   input-derived text for the terminal),
//!   [`progress`] (a handle counting bytes hashed), [`program`] (the verified object the
//!   loader accepts).
//! * **Storage** — [`store`] (the one read trait, [`store::ImageSource`], and
//!   [`store::StoreError`], what storage fails with), [`layout`] (a layout directory: safe
//!   reads, the writer and its lock, gc), [`archive`] (`.tar`, `.tar.gz`, standard input:
//!   readers and the deterministic writer), [`source`] (opens whichever a path names).
//! * **Operations** — [`pack`], [`copy`], [`verify`], [`sign`], [`tag`], [`image`]
//!   (formats and resolving a reference), [`summary`] (`list` and `inspect`), [`trust`]
//!   (the gate to the kernel: resolve, trust check, verified bytes), [`kernel_btf`]
//!   (kernel BTF bundled beside an image for kernels without their own).
//! * **Loading** — [`load`] (feature `loader`): libbpf-rs loading, attaching, pinning and
//!   map display; it takes only a [`program::VerifiedProgram`].
//! * **Errors gathered** — [`error`]: each layer and operation has its own error type
//!   (`StoreError`, `ResolveError`, `PackError`, `TrustError`, …, `LoadError`), each
//!   wrapping those below it; [`Error`] gathers them all with `#[from]`, and
//!   [`error::is_integrity_failure_in`] tells an integrity failure from any of them.
//! * **Front end** — `cli` (feature `cli`): argument parsing, rendering, exit codes; the
//!   only place that reads flags and the environment.
//!
//! An embedder opens a layout or archive with [`source::open_with`], resolves and checks
//! with [`trust::open_program`], verifies with [`verify::verify`], copies with
//! [`copy::copy`], packs with [`pack::pack`], signs with [`sign::sign`] and loads with
//! `load::load`; `default-features = false` leaves out libbpf and the command-line
//! crates.

pub mod archive;
#[cfg(feature = "cli")]
pub mod cli;
pub mod copy;
pub mod elf;
pub mod error;
pub mod graph;
pub mod image;
pub mod kernel_btf;
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
pub(crate) mod transfer;
pub mod trust;
pub mod verify;

pub use error::{Error, Result};
