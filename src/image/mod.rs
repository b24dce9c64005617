//! eBPF images: the formats we write and read, and resolving a reference to an image
//! whose bytes have been verified.
//!
//! * [`format`](mod@format): which format an image is, and where its program is ([`recognise`]);
//!   one module per format besides bee's: [`gadget`] (Inspektor Gadget), [`bpfman`]
//!   (bytecode images, read and written), [`generic`] (any artifact with a BPF layer).
//! * [`config`]: the config schema we write into bee images.
//! * [`resolve`]: from a reference to one image, nested indexes resolved by platform;
//!   what that fails with, [`ResolveError`].

pub mod bpfman;
pub mod config;
mod error;
pub mod format;
pub mod gadget;
pub mod generic;
pub mod resolve;

pub use error::{ResolveError, Result};
pub use format::{recognise, Format, Recognised};
pub use resolve::{available_names, resolve_one, select_one, Image};
