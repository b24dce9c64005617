//! What storage fails with: reading and writing layout directories and archives. Every
//! variant names the layout, archive, file, entry or digest concerned, so callers can
//! match on them and users read exactly what went wrong.

use std::io;
use std::path::PathBuf;

use crate::oci::digest::{Digest, DigestError};
use crate::oci::manifest::SchemaError;

/// Everything the storage layer (layouts, archives, the read interface over both) can
/// fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file-system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What we were doing ("reading", "creating", …).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A directory is not an OCI image layout (or not one we can use).
    #[error("{}: not an OCI image layout: {reason}", path.display())]
    NotALayout {
        /// The directory.
        path: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// A JSON document (index.json, a manifest, a config) is not valid.
    #[error("{}: {what} is not valid: {source}", path.display())]
    Schema {
        /// The layout or archive.
        path: PathBuf,
        /// Which document (`index.json`, `manifest sha256:…`).
        what: String,
        /// What is wrong.
        source: SchemaError,
    },
    /// A digest in a document is not acceptable.
    #[error("{}: {what}: {source}", path.display())]
    Digest {
        /// The layout or archive.
        path: PathBuf,
        /// Where the digest was found.
        what: String,
        /// What is wrong with it.
        source: DigestError,
    },
    /// A blob referenced by a descriptor is absent (an integrity failure).
    #[error("{}: blob {digest} is missing ({})", path.display(), digest.blob_path())]
    BlobMissing {
        /// The layout or archive.
        path: PathBuf,
        /// The missing blob.
        digest: Digest,
    },
    /// A blob is not a regular file inside the layout (symlink, directory, device).
    #[error("{}: refusing {entry}: {reason}", path.display())]
    UnsafeEntry {
        /// The layout or archive.
        path: PathBuf,
        /// The entry concerned (`blobs/sha256/…`).
        entry: String,
        /// Why it is refused.
        reason: String,
    },
    /// A blob's size differs from its descriptor (an integrity failure).
    #[error("{}: blob {digest} has size {found}, descriptor says {expected}", path.display())]
    SizeMismatch {
        /// The layout or archive.
        path: PathBuf,
        /// The blob.
        digest: Digest,
        /// Size in the descriptor.
        expected: u64,
        /// Size found (or "at least" this much when reading stopped at size + 1).
        found: u64,
    },
    /// A blob's content does not hash to its name (an integrity failure).
    #[error("{}: blob {expected} has content that hashes to {found}", path.display())]
    DigestMismatch {
        /// The layout or archive.
        path: PathBuf,
        /// The digest the blob is named by.
        expected: Digest,
        /// The digest of its content.
        found: Digest,
    },
    /// A document lies deeper in the image graph than [`crate::graph::MAX_DEPTH`].
    #[error("{}: {digest} is reached through more than {limit} nested indexes or subjects; refusing to follow further", path.display())]
    TooDeep {
        /// The layout or archive.
        path: PathBuf,
        /// The document too deep.
        digest: Digest,
        /// The limit.
        limit: usize,
    },
    /// A document is larger than we are willing to parse.
    #[error("{}: {what} is {size} bytes, over the limit of {limit} bytes (if the input is genuine, raise it: --max-manifest-size / --max-index-size)", path.display())]
    TooLarge {
        /// The layout or archive.
        path: PathBuf,
        /// Which document.
        what: String,
        /// Its declared or found size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An archive is malformed or hostile (unsafe name, special file, duplicate entry,
    /// corrupt header) or goes over a reading limit. Nothing of it was used.
    #[error("{}: {}{reason}", path.display(), entry_prefix(entry))]
    Archive {
        /// The archive.
        path: PathBuf,
        /// The entry concerned as stored in the archive (empty for the archive as a whole).
        entry: String,
        /// What is wrong and, where possible, what to do.
        reason: String,
    },
    /// An archive ends early: bytes were lost on the way (an integrity failure).
    #[error("{}: truncated archive: {}{reason}; the file is incomplete, copy it again", path.display(), entry_prefix(entry))]
    Truncated {
        /// The archive.
        path: PathBuf,
        /// The entry being read when the data ran out (empty between entries).
        entry: String,
        /// Where it ends.
        reason: String,
    },
    /// A compressed archive's data is damaged: a gzip checksum or length that does not
    /// match its data, or deflate data that does not decode (an integrity failure: bytes
    /// changed on the way).
    #[error("{}: corrupt archive: {}{reason}; the file was damaged on the way, copy it again", path.display(), entry_prefix(entry))]
    Corrupt {
        /// The archive.
        path: PathBuf,
        /// The entry being read when the damage showed (empty between entries).
        entry: String,
        /// What does not match.
        reason: String,
    },
    /// A layout to write exists as something other than a directory.
    #[error("{}: exists and is not a directory; give a new or existing layout directory", path.display())]
    LayoutIsNotADirectory {
        /// The path given as the layout.
        path: PathBuf,
    },
    /// Opening a layout for writing kept finding it discarded by other writers (each
    /// creating it and rolling back) and gave up.
    #[error("{}: other writers kept creating and discarding this layout; retry", path.display())]
    LayoutContended {
        /// The layout.
        path: PathBuf,
    },
    /// Writing a layout failed because it is read-only here (a read-only mount, or no
    /// write permission).
    #[error("{}: {op} failed: {error}; the layout is read-only here (reading works, writing needs write access)", path.display())]
    LayoutReadOnly {
        /// What we were doing ("creating", "locking", …).
        op: &'static str,
        /// The file or directory that could not be written.
        path: PathBuf,
        /// The operating system's error (`EROFS`, `EACCES` or `EPERM`).
        error: io::Error,
    },
    /// The file system filled up (or a quota ran out) while writing a layout; what was
    /// being written was abandoned and the layout left as it was.
    #[error("{}: the file system is full ({op} {}: {error}); the write was abandoned and the layout is left as it was; free some space and retry", layout.display(), path.display())]
    LayoutDiskFull {
        /// The layout.
        layout: PathBuf,
        /// What we were doing ("writing", "syncing", …).
        op: &'static str,
        /// The file being written.
        path: PathBuf,
        /// The operating system's error (`ENOSPC` or `EDQUOT`).
        error: io::Error,
    },
    /// The file system filled up (or a quota ran out) while writing an archive; the
    /// archive was not written and its destination was left as it was.
    #[error("{}: the file system is full ({op} {}: {error}); the archive was not written, its temporary file is removed and {} is left as it was; free some space and retry", archive.display(), path.display(), archive.display())]
    ArchiveDiskFull {
        /// The archive to write.
        archive: PathBuf,
        /// What we were doing ("writing", "syncing", …).
        op: &'static str,
        /// The file being written (the archive's temporary file).
        path: PathBuf,
        /// The operating system's error (`ENOSPC` or `EDQUOT`).
        error: io::Error,
    },
    /// An archive to write names a directory.
    #[error("{}: is a directory; give a file name ending in .tar, .tar.gz or .tgz", path.display())]
    ArchiveIsADirectory {
        /// The archive's path.
        path: PathBuf,
    },
    /// An archive to write exists, and replacing it was not asked for.
    #[error("{}: already exists; pass --force to replace it", path.display())]
    ArchiveExists {
        /// The archive's path.
        path: PathBuf,
    },
    /// An archive to write appeared while it was being written (another process created
    /// it), and replacing it was not asked for.
    #[error("{}: already exists (created while the archive was written); pass --force to replace it", path.display())]
    ArchiveCreatedMeanwhile {
        /// The archive's path.
        path: PathBuf,
    },
    /// The folder an archive is to be written in does not exist.
    #[error("{}: folder {} does not exist", path.display(), folder.display())]
    NoSuchFolder {
        /// The archive's path.
        path: PathBuf,
        /// Its folder.
        folder: PathBuf,
    },
    /// A file added to an archive changed between hashing it and copying it into the
    /// archive.
    #[error("{}: changed while being packed; pack it again once it is complete", path.display())]
    FileChanged {
        /// The file.
        path: PathBuf,
    },
}

impl StoreError {
    /// Whether this is an integrity failure: stored or transmitted bytes that are not what
    /// they claim ([`DigestMismatch`](Self::DigestMismatch),
    /// [`SizeMismatch`](Self::SizeMismatch), [`BlobMissing`](Self::BlobMissing),
    /// [`Truncated`](Self::Truncated), [`Corrupt`](Self::Corrupt)), as opposed to input
    /// that cannot be used or an operation that failed.
    pub fn is_integrity_failure(&self) -> bool {
        matches!(
            self,
            Self::DigestMismatch { .. }
                | Self::SizeMismatch { .. }
                | Self::BlobMissing { .. }
                | Self::Truncated { .. }
                | Self::Corrupt { .. }
        )
    }
}

fn entry_prefix(entry: &str) -> String {
    if entry.is_empty() {
        String::new()
    } else {
        format!("entry {entry:?}: ")
    }
}

/// The storage layer's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Builds a closure that turns an `io::Error` into [`StoreError::Io`] for `path`.
pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.into();
    move |source| StoreError::Io { op, path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(byte: u8) -> Digest {
        Digest::of(&[byte])
    }

    #[test]
    fn bytes_that_are_not_what_they_claim_are_integrity_failures() {
        let path = PathBuf::from("bundle");
        let damaged = [
            StoreError::DigestMismatch {
                path: path.clone(),
                expected: digest(1),
                found: digest(2),
            },
            StoreError::SizeMismatch {
                path: path.clone(),
                digest: digest(1),
                expected: 10,
                found: 11,
            },
            StoreError::BlobMissing {
                path: path.clone(),
                digest: digest(1),
            },
            StoreError::Truncated {
                path: path.clone(),
                entry: String::new(),
                reason: "ends inside a header".into(),
            },
            StoreError::Corrupt {
                path: path.clone(),
                entry: String::new(),
                reason: "gzip CRC".into(),
            },
        ];
        for e in &damaged {
            assert!(e.is_integrity_failure(), "{e}");
        }
    }

    #[test]
    fn unusable_input_is_not_an_integrity_failure() {
        let path = PathBuf::from("bundle");
        let unusable = [
            StoreError::NotALayout {
                path: path.clone(),
                reason: "no oci-layout".into(),
            },
            io_err("reading", &path)(io::Error::from(io::ErrorKind::PermissionDenied)),
            StoreError::ArchiveExists { path: path.clone() },
            StoreError::TooDeep {
                path: path.clone(),
                digest: digest(1),
                limit: 8,
            },
        ];
        for e in &unusable {
            assert!(!e.is_integrity_failure(), "{e}");
        }
    }

    #[test]
    fn typed_variants_say_what_the_reason_strings_said() {
        assert_eq!(
            StoreError::ArchiveExists {
                path: "out.tar".into()
            }
            .to_string(),
            "out.tar: already exists; pass --force to replace it"
        );
        assert_eq!(
            StoreError::NoSuchFolder {
                path: "missing/out.tar".into(),
                folder: "missing".into()
            }
            .to_string(),
            "missing/out.tar: folder missing does not exist"
        );
        let full = StoreError::LayoutDiskFull {
            layout: "bundle".into(),
            op: "writing",
            path: "bundle/.ebpf-layout/tmp/x".into(),
            error: io::Error::from_raw_os_error(libc::ENOSPC),
        };
        assert!(
            full.to_string().starts_with(
                "bundle: the file system is full (writing bundle/.ebpf-layout/tmp/x: "
            ),
            "{full}"
        );
        // The operating system's error is part of the message, not a separate cause.
        assert!(std::error::Error::source(&full).is_none());
    }
}
