//! eBPF images: the formats we write and read, and resolving a reference to an image
//! whose bytes have been verified.

pub mod config;
pub mod format;
pub mod resolve;
pub mod summary;

pub use format::Format;
pub use resolve::{resolve_one, resolve_program, Image, ResolvedProgram};
pub use summary::{inspect, list, ImageDetails, ImageSummary};
