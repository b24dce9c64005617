//! Errors gathered at the top. Each layer has its own error type and a lower layer never
//! names a higher one: storage fails with [`StoreError`], each operation with its own
//! type wrapping the ones below it ([`ResolveError`], [`PackError`], [`TrustError`], …),
//! the loader with [its own](crate::load::LoadError). [`Error`] gathers them all with
//! `#[from]`, for callers who want one type; the command line keeps each as it comes and
//! asks [`is_integrity_failure_in`] about every error of an `anyhow` chain for its exit
//! code.
//!
//! This module sits above the operations and the loader (it imports them), so none of
//! them may import it (`tests/architecture.rs` checks it).

use crate::copy::CopyError;
use crate::elf::ElfError;
use crate::image::bpfman::BuildError;
use crate::image::ResolveError;
use crate::kernel_btf::KernelBtfError;
#[cfg(feature = "loader")]
use crate::load::LoadError;
use crate::oci::digest::DigestError;
use crate::oci::manifest::SchemaError;
use crate::oci::reference::{ImageRefError, RefNameError};
use crate::pack::PackError;
use crate::sign::SignError;
use crate::store::StoreError;
use crate::summary::SummaryError;
use crate::tag::TagError;
use crate::trust::TrustError;

/// Anything the library can fail with: the error of each layer and operation, gathered.
/// Every variant is transparent: it says what the error it holds says.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a layout or an archive failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Resolving a reference to one image failed.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// Making a bpfman image of an object failed.
    #[error(transparent)]
    Bpfman(#[from] BuildError),
    /// Reading, minimising or finding kernel BTF failed.
    #[error(transparent)]
    KernelBtf(#[from] KernelBtfError),
    /// Signing, or reading a key or a trust policy, failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// Resolving, trust-checking or reading a program for the loader failed.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// Saying what a layout or archive holds (`list`, `inspect`) failed.
    #[error(transparent)]
    Summary(#[from] SummaryError),
    /// Copying between layouts and archives failed.
    #[error(transparent)]
    Copy(#[from] CopyError),
    /// Adding or removing a name failed.
    #[error(transparent)]
    Tag(#[from] TagError),
    /// Packing objects into a layout or archive failed.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// Loading, attaching, pinning or showing a program failed.
    #[cfg(feature = "loader")]
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Bytes given to the ELF parser are not a usable BPF object.
    #[error(transparent)]
    Elf(#[from] ElfError),
    /// A JSON document given to the OCI parsers is not valid.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// A digest given to the parser is not valid.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// A name we were asked to write is invalid.
    #[error(transparent)]
    RefName(#[from] RefNameError),
    /// A reference (`PATH`, `PATH:NAME`, `PATH@DIGEST`) is invalid.
    #[error(transparent)]
    ImageRef(#[from] ImageRefError),
}

impl Error {
    /// Whether this is an integrity failure: bytes that are not what they claim
    /// ([`StoreError::is_integrity_failure`]: a blob that does not match its digest or
    /// size or is missing, an archive truncated or damaged on the way), or an image
    /// refused for want of a valid signature ([`TrustError::Signature`]).
    pub fn is_integrity_failure(&self) -> bool {
        self.classified().is_some_and(|e| e.is_integrity_failure())
    }

    /// The storage failure this is or wraps, if any.
    pub fn store_error(&self) -> Option<&StoreError> {
        self.classified()?.store_error()
    }

    /// The resolution failure this is or wraps, if any.
    pub fn resolve_error(&self) -> Option<&ResolveError> {
        self.classified()?.resolve_error()
    }

    /// The error this holds, as the questions every library error answers.
    fn classified(&self) -> Option<&dyn Classified> {
        match self {
            Self::Store(e) => Some(e),
            Self::Resolve(e) => Some(e),
            Self::Bpfman(e) => Some(e),
            Self::KernelBtf(e) => Some(e),
            Self::Sign(e) => Some(e),
            Self::Trust(e) => Some(e),
            Self::Summary(e) => Some(e),
            Self::Copy(e) => Some(e),
            Self::Tag(e) => Some(e),
            Self::Pack(e) => Some(e),
            #[cfg(feature = "loader")]
            Self::Load(e) => Some(e),
            Self::Elf(_)
            | Self::Schema(_)
            | Self::Digest(_)
            | Self::RefName(_)
            | Self::ImageRef(_) => None,
        }
    }
}

/// Whether `e`, one error of a chain (not its sources), is one of the library's errors and
/// an integrity failure (see [`Error::is_integrity_failure`]): the command line exits
/// with 1 when any error of the chain is. Errors of other types are not.
pub fn is_integrity_failure_in(e: &(dyn std::error::Error + 'static)) -> bool {
    classify(e).is_some_and(|e| e.is_integrity_failure())
}

/// The storage failure `e` (one error of a chain) is or wraps, if it is one of the
/// library's errors.
pub fn store_error_in<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e StoreError> {
    classify(e)?.store_error()
}

/// The resolution failure `e` (one error of a chain) is or wraps, if it is one of the
/// library's errors.
pub fn resolve_error_in<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e ResolveError> {
    classify(e)?.resolve_error()
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What every error type of the library answers, whatever it wraps.
trait Classified {
    fn is_integrity_failure(&self) -> bool;
    fn store_error(&self) -> Option<&StoreError>;
    fn resolve_error(&self) -> Option<&ResolveError>;
}

/// `e` as one of the library's error types, if it is one. Every error type of the
/// library is listed here: one that is not would never count as an integrity failure.
fn classify<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e dyn Classified> {
    macro_rules! first_of {
        ($($t:ty),* $(,)?) => {
            $(
                if let Some(e) = e.downcast_ref::<$t>() {
                    return Some(e);
                }
            )*
        };
    }
    first_of!(
        Error,
        StoreError,
        ResolveError,
        BuildError,
        KernelBtfError,
        SignError,
        TrustError,
        SummaryError,
        CopyError,
        TagError,
        PackError,
    );
    #[cfg(feature = "loader")]
    first_of!(LoadError);
    None
}

/// [`Classified`] for a type with inherent methods of the same names.
macro_rules! classified_by_its_methods {
    (store and resolve: $($t:ty),*) => {
        $(
            impl Classified for $t {
                fn is_integrity_failure(&self) -> bool {
                    <$t>::is_integrity_failure(self)
                }
                fn store_error(&self) -> Option<&StoreError> {
                    <$t>::store_error(self)
                }
                fn resolve_error(&self) -> Option<&ResolveError> {
                    <$t>::resolve_error(self)
                }
            }
        )*
    };
    (store only: $($t:ty),*) => {
        $(
            impl Classified for $t {
                fn is_integrity_failure(&self) -> bool {
                    <$t>::is_integrity_failure(self)
                }
                fn store_error(&self) -> Option<&StoreError> {
                    <$t>::store_error(self)
                }
                fn resolve_error(&self) -> Option<&ResolveError> {
                    None
                }
            }
        )*
    };
}

classified_by_its_methods!(store and resolve: Error, SignError, TrustError, SummaryError, CopyError, TagError);
classified_by_its_methods!(store only: KernelBtfError, PackError);

impl Classified for StoreError {
    fn is_integrity_failure(&self) -> bool {
        StoreError::is_integrity_failure(self)
    }
    fn store_error(&self) -> Option<&StoreError> {
        Some(self)
    }
    fn resolve_error(&self) -> Option<&ResolveError> {
        None
    }
}

impl Classified for ResolveError {
    fn is_integrity_failure(&self) -> bool {
        ResolveError::is_integrity_failure(self)
    }
    fn store_error(&self) -> Option<&StoreError> {
        ResolveError::store_error(self)
    }
    fn resolve_error(&self) -> Option<&ResolveError> {
        Some(self)
    }
}

/// Making a bpfman image reads and writes nothing: never an integrity failure.
impl Classified for BuildError {
    fn is_integrity_failure(&self) -> bool {
        false
    }
    fn store_error(&self) -> Option<&StoreError> {
        None
    }
    fn resolve_error(&self) -> Option<&ResolveError> {
        None
    }
}

/// The loader takes only verified programs ([`crate::program::VerifiedProgram`]): what it
/// fails with is never an integrity failure.
#[cfg(feature = "loader")]
impl Classified for LoadError {
    fn is_integrity_failure(&self) -> bool {
        false
    }
    fn store_error(&self) -> Option<&StoreError> {
        None
    }
    fn resolve_error(&self) -> Option<&ResolveError> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::Digest;

    fn digest_mismatch() -> StoreError {
        StoreError::DigestMismatch {
            path: "bundle".into(),
            expected: Digest::of(b"named"),
            found: Digest::of(b"stored"),
        }
    }

    fn image_not_found() -> ResolveError {
        ResolveError::ImageNotFound {
            path: "bundle".into(),
            wanted: "named \"probe\"".into(),
            available: vec!["tracer".into()],
        }
    }

    /// Every error of `e`'s chain, `e` first (as `anyhow::Error::chain` walks it).
    fn chain<'e>(
        e: &'e (dyn std::error::Error + 'static),
    ) -> Vec<&'e (dyn std::error::Error + 'static)> {
        std::iter::successors(Some(e), |e| e.source()).collect()
    }

    #[test]
    fn a_damaged_blob_is_an_integrity_failure_through_every_operation_that_wraps_it() {
        let wrapped: Vec<Box<dyn std::error::Error + Send + Sync>> = vec![
            Box::new(digest_mismatch()),
            Box::new(ResolveError::from(digest_mismatch())),
            Box::new(KernelBtfError::from(digest_mismatch())),
            Box::new(SignError::from(ResolveError::from(digest_mismatch()))),
            Box::new(TrustError::from(ResolveError::from(digest_mismatch()))),
            Box::new(SummaryError::from(digest_mismatch())),
            Box::new(CopyError::from(digest_mismatch())),
            Box::new(TagError::from(ResolveError::from(digest_mismatch()))),
            Box::new(PackError::from(CopyError::from(digest_mismatch()))),
            Box::new(Error::from(PackError::from(digest_mismatch()))),
        ];
        for e in &wrapped {
            let e: &(dyn std::error::Error + 'static) = e.as_ref();
            assert!(is_integrity_failure_in(e), "{e:?}");
            assert!(
                matches!(store_error_in(e), Some(StoreError::DigestMismatch { .. })),
                "{e:?}"
            );
        }
    }

    #[test]
    fn an_image_that_is_not_there_is_not_an_integrity_failure() {
        let wrapped: Vec<Box<dyn std::error::Error + Send + Sync>> = vec![
            Box::new(image_not_found()),
            Box::new(TrustError::from(image_not_found())),
            Box::new(TagError::from(image_not_found())),
            Box::new(Error::from(CopyError::from(image_not_found()))),
        ];
        for e in &wrapped {
            let e: &(dyn std::error::Error + 'static) = e.as_ref();
            assert!(!chain(e).into_iter().any(is_integrity_failure_in), "{e:?}");
            assert!(
                matches!(
                    resolve_error_in(e),
                    Some(ResolveError::ImageNotFound { .. })
                ),
                "{e:?}"
            );
            assert!(store_error_in(e).is_none(), "{e:?}");
        }
    }

    #[test]
    fn a_refused_signature_is_an_integrity_failure_but_not_a_damaged_blob() {
        let refused = TrustError::Signature {
            path: "bundle".into(),
            image: "probe".into(),
            reason: "probe is not signed".into(),
            code: "unsigned",
            rule: "--key".into(),
        };
        assert!(is_integrity_failure_in(&refused));
        assert!(store_error_in(&refused).is_none());
        let gathered = Error::from(refused);
        assert!(gathered.is_integrity_failure());
        assert!(gathered.store_error().is_none());
    }

    #[test]
    fn unusable_input_is_not_an_integrity_failure() {
        let unusable: Vec<Box<dyn std::error::Error + Send + Sync>> = vec![
            Box::new(PackError::NoInput),
            Box::new(PackError::NoSuchInput {
                path: "probe.bpf.o".into(),
            }),
            Box::new(StoreError::NotALayout {
                path: "bundle".into(),
                reason: "no oci-layout".into(),
            }),
            Box::new(TrustError::NoKeys {
                path: "bundle".into(),
            }),
            Box::new(Error::from(
                crate::elf::classify(b"#!/bin/sh\n").unwrap_err(),
            )),
            Box::new(std::io::Error::other("not one of ours")),
        ];
        for e in &unusable {
            let e: &(dyn std::error::Error + 'static) = e.as_ref();
            assert!(!chain(e).into_iter().any(is_integrity_failure_in), "{e:?}");
        }
    }

    #[test]
    fn gathered_errors_say_what_the_error_they_hold_says() {
        let e = Error::from(PackError::from(digest_mismatch()));
        assert_eq!(e.to_string(), digest_mismatch().to_string());
        // Transparent all the way: the chain has no extra links to print.
        assert!(std::error::Error::source(&e).is_none());
    }

    #[cfg(feature = "cli")]
    #[test]
    fn anyhow_context_keeps_the_classification_of_what_it_wraps() {
        let damaged = anyhow::Error::new(PackError::from(CopyError::from(digest_mismatch())))
            .context("packing into bundle.tar");
        assert!(damaged.chain().any(is_integrity_failure_in));
        let absent =
            anyhow::Error::new(TrustError::from(image_not_found())).context("image bundle:probe");
        assert!(!absent.chain().any(is_integrity_failure_in));
        assert!(absent.chain().find_map(resolve_error_in).is_some());
        let refused = anyhow::Error::new(TrustError::Signature {
            path: "bundle".into(),
            image: "probe".into(),
            reason: "probe is not signed".into(),
            code: "unsigned",
            rule: "--key".into(),
        })
        .context("loading bundle:probe");
        assert!(refused.chain().any(is_integrity_failure_in));
    }
}
