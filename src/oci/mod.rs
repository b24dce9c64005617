//! OCI format primitives: digests, descriptors, media types, manifests and indexes,
//! canonical JSON, ref names and image references.
//!
//! Nothing here touches the file system: parsers take bytes or strings, so they can be
//! fuzzed and reused by both the layout directory and the archive readers.

pub mod canonical;
pub mod companion;
pub mod cosign;
pub mod descriptor;
pub mod digest;
pub mod manifest;
pub mod media_type;
pub mod reference;
#[cfg(feature = "oci-spec")]
pub mod spec;

pub use descriptor::{Descriptor, Platform};
pub use digest::Digest;
pub use manifest::{ImageIndex, ImageManifest, IndexChange, IndexEditor};
pub use reference::{ImageRef, RefName, Selector};
