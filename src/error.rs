//! The library's error type: structured variants that name the file, digest or field
//! concerned, so callers can match on them and users read exactly what went wrong.

use std::path::PathBuf;

use crate::copy::CopyError;
use crate::elf::ElfError;
use crate::image::bpfman::BuildError;
use crate::image::ResolveError;
use crate::kernel_btf::KernelBtfError;
use crate::oci::reference::{ImageRefError, RefNameError};
use crate::pack::PackError;
use crate::sign::SignError;
use crate::store::StoreError;
use crate::summary::SummaryError;
use crate::tag::TagError;
use crate::trust::TrustError;

/// Everything the library's operations can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a layout or an archive failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A name we were asked to write is invalid.
    #[error(transparent)]
    RefName(#[from] RefNameError),
    /// A reference on the command line is invalid.
    #[error(transparent)]
    ImageRef(#[from] ImageRefError),
    /// Resolving a reference to one image failed.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// Reading, minimising or finding kernel BTF failed.
    #[error(transparent)]
    KernelBtf(#[from] KernelBtfError),
    /// Making a bpfman image of an object failed.
    #[error(transparent)]
    BpfmanBuild(#[from] BuildError),
    /// A file is not a usable BPF object.
    #[error("{}: {source}", path.display())]
    Elf {
        /// The file (or `layout@digest` for a blob).
        path: PathBuf,
        /// What it is instead.
        source: ElfError,
    },
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
    /// Signing, or reading a key or a trust policy, failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// Command input that cannot be used (missing file, empty directory, name clash…).
    #[error("{}: {reason}", path.display())]
    Input {
        /// The input concerned.
        path: PathBuf,
        /// What is wrong and, where possible, what to do.
        reason: String,
    },
}

impl Error {
    /// Whether this is an integrity failure: bytes that are not what they claim
    /// ([`StoreError::is_integrity_failure`]), or an image refused for want of a valid
    /// signature ([`TrustError::Signature`]).
    pub fn is_integrity_failure(&self) -> bool {
        match self {
            Self::Store(e) => e.is_integrity_failure(),
            Self::Resolve(e) => e.is_integrity_failure(),
            Self::KernelBtf(e) => e.is_integrity_failure(),
            Self::Sign(e) => e.is_integrity_failure(),
            Self::Trust(e) => e.is_integrity_failure(),
            Self::Summary(e) => e.is_integrity_failure(),
            Self::Copy(e) => e.is_integrity_failure(),
            Self::Tag(e) => e.is_integrity_failure(),
            Self::Pack(e) => e.is_integrity_failure(),
            _ => false,
        }
    }

    /// The resolution failure this is or wraps, if any.
    pub fn resolve_error(&self) -> Option<&ResolveError> {
        match self {
            Self::Resolve(e) => Some(e),
            Self::Sign(e) => e.resolve_error(),
            Self::Trust(e) => e.resolve_error(),
            Self::Summary(e) => e.resolve_error(),
            Self::Copy(e) => e.resolve_error(),
            Self::Tag(e) => e.resolve_error(),
            _ => None,
        }
    }

    /// The storage failure this is or wraps, if any.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(e) => Some(e),
            Self::Resolve(e) => e.store_error(),
            Self::KernelBtf(e) => e.store_error(),
            Self::Sign(e) => e.store_error(),
            Self::Trust(e) => e.store_error(),
            Self::Summary(e) => e.store_error(),
            Self::Copy(e) => e.store_error(),
            Self::Tag(e) => e.store_error(),
            Self::Pack(e) => e.store_error(),
            _ => None,
        }
    }
}

/// The storage failure `e` (one error of a chain) is or wraps, if it is one of the
/// library's errors: operation errors wrap what storage failed with.
pub fn store_error_in<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e StoreError> {
    if let Some(e) = e.downcast_ref::<Error>() {
        e.store_error()
    } else if let Some(e) = e.downcast_ref::<ResolveError>() {
        e.store_error()
    } else if let Some(e) = e.downcast_ref::<KernelBtfError>() {
        e.store_error()
    } else if let Some(e) = e.downcast_ref::<SignError>() {
        e.store_error()
    } else if let Some(e) = e.downcast_ref::<TrustError>() {
        e.store_error()
    } else if let Some(e) = e.downcast_ref::<SummaryError>() {
        e.store_error()
    } else if let Some(e) = e.downcast_ref::<CopyError>() {
        e.store_error()
    } else if let Some(e) = e.downcast_ref::<TagError>() {
        e.store_error()
    } else if let Some(e) = e.downcast_ref::<PackError>() {
        e.store_error()
    } else {
        e.downcast_ref::<StoreError>()
    }
}

/// Whether `e` (one error of a chain, not its sources) is one of the library's errors and
/// an integrity failure (see [`Error::is_integrity_failure`]). Errors of other types are
/// not.
pub fn is_integrity_failure_in(e: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(e) = e.downcast_ref::<Error>() {
        e.is_integrity_failure()
    } else if let Some(e) = e.downcast_ref::<StoreError>() {
        e.is_integrity_failure()
    } else if let Some(e) = e.downcast_ref::<ResolveError>() {
        e.is_integrity_failure()
    } else if let Some(e) = e.downcast_ref::<KernelBtfError>() {
        e.is_integrity_failure()
    } else if let Some(e) = e.downcast_ref::<SignError>() {
        e.is_integrity_failure()
    } else if let Some(e) = e.downcast_ref::<TrustError>() {
        e.is_integrity_failure()
    } else if let Some(e) = e.downcast_ref::<SummaryError>() {
        e.is_integrity_failure()
    } else if let Some(e) = e.downcast_ref::<CopyError>() {
        e.is_integrity_failure()
    } else if let Some(e) = e.downcast_ref::<TagError>() {
        e.is_integrity_failure()
    } else if let Some(e) = e.downcast_ref::<PackError>() {
        e.is_integrity_failure()
    } else {
        false
    }
}

/// The resolution failure `e` (one error of a chain) is or wraps, if it is one of the
/// library's errors.
pub fn resolve_error_in<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e ResolveError> {
    if let Some(e) = e.downcast_ref::<Error>() {
        e.resolve_error()
    } else if let Some(e) = e.downcast_ref::<SignError>() {
        e.resolve_error()
    } else if let Some(e) = e.downcast_ref::<TrustError>() {
        e.resolve_error()
    } else if let Some(e) = e.downcast_ref::<SummaryError>() {
        e.resolve_error()
    } else if let Some(e) = e.downcast_ref::<CopyError>() {
        e.resolve_error()
    } else if let Some(e) = e.downcast_ref::<TagError>() {
        e.resolve_error()
    } else {
        e.downcast_ref::<ResolveError>()
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
