//! What signing, and reading keys and trust policies, fails with.

use std::path::PathBuf;

use crate::image::ResolveError;
use crate::oci::Digest;
use crate::store::StoreError;

use super::keys::KeyError;

/// Why keys, a trust policy, or signing a layout's images could not be used or done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// Reading or writing the layout, or a key file, failed (I/O, a damaged or missing
    /// blob).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The images to sign could not be selected.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// A key file cannot be used (not PEM, wrong password, not a P-256 key).
    #[error("{}: {reason}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: KeyError,
    },
    /// A key file to write exists already (even as a dangling symlink), and replacing it
    /// was not asked for.
    #[error("{}: already exists; refusing to overwrite a key (use --force to replace it)", path.display())]
    KeyExists {
        /// The key file.
        path: PathBuf,
    },
    /// A trust policy file (containers-policy.json) that cannot be used: unreadable, not
    /// the format, a requirement this tool does not implement, a key it names that cannot
    /// be read. Nothing is accepted by a policy that does not parse.
    #[error("policy {}: {reason}", path.display())]
    Policy {
        /// The policy file.
        path: PathBuf,
        /// What is wrong, naming the requirement concerned.
        reason: String,
    },
    /// The images to sign are not in a layout directory (signatures are written into
    /// one).
    #[error("{}: signatures are written into a layout directory; sign the layout, then archive it (archives and copies carry the signatures)", path.display())]
    NotALayoutDirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The `docker-reference` given to sign for is not a repository name.
    #[error("{}: --identity {identity:?} is not a repository name: {reason}", path.display())]
    InvalidIdentity {
        /// The layout.
        path: PathBuf,
        /// The identity given.
        identity: String,
        /// Which rule of the repository grammar it breaks (as
        /// [`super::payload::check_repository`] says).
        reason: String,
    },
    /// An image has no name a repository (`docker-reference`) can be derived from, and
    /// none was given.
    #[error("{}: image {digest} {}; give the repository it will be known as with --identity (e.g. --identity registry.local/ebpf/probe)", path.display(), no_repository(names))]
    NoRepository {
        /// The layout.
        path: PathBuf,
        /// The image.
        digest: Digest,
        /// Its names (none of them a repository name).
        names: Vec<String>,
    },
    /// A signature image was selected to be signed.
    #[error("{}: {name} is a signature image; sign the image it belongs to ({})", path.display(), signed.as_ref().map(|d| d.to_string()).unwrap_or_default())]
    SignatureSelected {
        /// The layout.
        path: PathBuf,
        /// The signature image's name (`sha256-<hex>.sig`).
        name: String,
        /// The image it signs.
        signed: Option<Digest>,
    },
}

impl SignError {
    /// Whether this is an integrity failure: the storage failure it wraps is one
    /// ([`StoreError::is_integrity_failure`]), e.g. an image to sign that is damaged.
    pub fn is_integrity_failure(&self) -> bool {
        self.store_error()
            .is_some_and(StoreError::is_integrity_failure)
    }

    /// The storage failure this wraps, directly or through resolving, if any.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(e) => Some(e),
            Self::Resolve(e) => e.store_error(),
            _ => None,
        }
    }

    /// The resolution failure this wraps, if any.
    pub fn resolve_error(&self) -> Option<&ResolveError> {
        match self {
            Self::Resolve(e) => Some(e),
            _ => None,
        }
    }
}

fn no_repository(names: &[String]) -> String {
    if names.is_empty() {
        "has no name to derive a repository (docker-reference) from".to_string()
    } else {
        format!(
            "is named {}, which is not a repository name cosign accepts (lowercase letters, digits, _ . / -)",
            names.join(", ")
        )
    }
}

/// The result type of signing, keys and policies.
pub type Result<T, E = SignError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_image_is_an_integrity_failure_and_a_bad_key_is_not() {
        let damaged = SignError::from(ResolveError::from(StoreError::BlobMissing {
            path: "bundle".into(),
            digest: Digest::of(b"layer"),
        }));
        assert!(damaged.is_integrity_failure());
        assert!(damaged.resolve_error().is_some());
        let key = SignError::Key {
            path: "cosign.key".into(),
            reason: KeyError::WrongPassword,
        };
        assert!(!key.is_integrity_failure());
    }

    #[test]
    fn an_image_without_a_repository_name_says_how_to_give_one() {
        let digest = Digest::of(b"manifest");
        let e = SignError::NoRepository {
            path: "bundle".into(),
            digest: digest.clone(),
            names: vec!["Probe".into()],
        };
        assert_eq!(
            e.to_string(),
            format!(
                "bundle: image {digest} is named Probe, which is not a repository name cosign \
                 accepts (lowercase letters, digits, _ . / -); give the repository it will be \
                 known as with --identity (e.g. --identity registry.local/ebpf/probe)"
            )
        );
    }
}
