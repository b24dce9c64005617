//! What resolving a reference to one image, and reading its program, fails with.

use std::path::PathBuf;

use crate::oci::Digest;
use crate::store::StoreError;

/// Why a reference (`PATH`, `PATH:NAME`, `PATH@DIGEST`) does not lead to one readable
/// eBPF image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// Reading the layout or archive failed (I/O, a damaged or missing blob, a document
    /// that does not parse).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No image matches the reference.
    #[error("{}: no image {wanted}{}", path.display(), available_hint(.available))]
    ImageNotFound {
        /// The layout or archive.
        path: PathBuf,
        /// What was asked for (`named "probe"`, `with digest sha256:…`, `for platform
        /// linux/arm64 in index sha256:…`).
        wanted: String,
        /// The names (or platforms) that do exist.
        available: Vec<String>,
    },
    /// A reference names several different images.
    #[error("{}: name {name:?} is ambiguous: it is given to {} different manifests ({}); use PATH@DIGEST", path.display(), digests.len(), digests.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))]
    AmbiguousName {
        /// The layout or archive.
        path: PathBuf,
        /// The duplicated name.
        name: String,
        /// The manifests carrying it.
        digests: Vec<Digest>,
    },
    /// The layout holds several images and the command needs one.
    #[error("{}: holds {} images; name one as {}:NAME or {}@sha256:…{}", path.display(), count, path.display(), path.display(), available_hint(.names))]
    NameRequired {
        /// The layout or archive.
        path: PathBuf,
        /// How many images there are.
        count: usize,
        /// Their names.
        names: Vec<String>,
    },
    /// The layout holds no image at all.
    #[error("{}: holds no images", path.display())]
    Empty {
        /// The layout or archive.
        path: PathBuf,
    },
    /// An image is not one of the eBPF image formats we read.
    #[error("{}: image {digest} is not an eBPF image: {reason}", path.display())]
    NotEbpfImage {
        /// The layout or archive.
        path: PathBuf,
        /// The manifest.
        digest: Digest,
        /// What is missing (as [`crate::image::format::Format::program_layer_index`]
        /// says).
        reason: String,
    },
}

impl ResolveError {
    /// Whether this is an integrity failure: the storage failure it wraps is one
    /// ([`StoreError::is_integrity_failure`]). An image that is not there is not.
    pub fn is_integrity_failure(&self) -> bool {
        self.store_error()
            .is_some_and(StoreError::is_integrity_failure)
    }

    /// The storage failure this wraps, if any.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(e) => Some(e),
            _ => None,
        }
    }
}

fn available_hint(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!(" (available: {})", names.join(", "))
    }
}

/// The result type of resolving.
pub type Result<T, E = ResolveError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_storage_failures_it_wraps_can_be_integrity_failures() {
        let damaged = ResolveError::from(StoreError::DigestMismatch {
            path: "bundle".into(),
            expected: Digest::of(b"a"),
            found: Digest::of(b"b"),
        });
        assert!(damaged.is_integrity_failure());
        assert!(damaged.store_error().is_some());
        let absent = ResolveError::ImageNotFound {
            path: "bundle".into(),
            wanted: "named \"probe\"".into(),
            available: vec!["tracer".into()],
        };
        assert!(!absent.is_integrity_failure());
        assert_eq!(
            absent.to_string(),
            "bundle: no image named \"probe\" (available: tracer)"
        );
    }
}
