//! The library's error type: structured variants that name the file, digest or field
//! concerned, so callers can match on them and users read exactly what went wrong.

use std::io;
use std::path::PathBuf;

use crate::elf::ElfError;
use crate::oci::digest::{Digest, DigestError};
use crate::oci::manifest::SchemaError;
use crate::oci::reference::{ImageRefError, RefNameError};

/// Everything the library's operations can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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
    /// A blob referenced by a descriptor is absent.
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
    /// A blob's size differs from its descriptor.
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
    /// A blob's content does not hash to its name.
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
    /// A name we were asked to write is invalid.
    #[error(transparent)]
    RefName(#[from] RefNameError),
    /// A reference on the command line is invalid.
    #[error(transparent)]
    ImageRef(#[from] ImageRefError),
    /// No image matches the reference.
    #[error("{}: no image {wanted}{}", path.display(), available_hint(.available))]
    ImageNotFound {
        /// The layout or archive.
        path: PathBuf,
        /// The name or digest asked for.
        wanted: String,
        /// The names that do exist.
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
    /// A file is not a usable BPF object.
    #[error("{}: {source}", path.display())]
    Elf {
        /// The file (or `layout@digest` for a blob).
        path: PathBuf,
        /// What it is instead.
        source: ElfError,
    },
    /// An image is not one of the eBPF image formats we read.
    #[error("{}: image {digest} is not an eBPF image: {reason}", path.display())]
    NotEbpfImage {
        /// The layout or archive.
        path: PathBuf,
        /// The manifest.
        digest: Digest,
        /// What is missing.
        reason: String,
    },
    /// A key file cannot be used (not PEM, wrong password, not a P-256 key).
    #[error("{}: {reason}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: KeyError,
    },
    /// An image carries no valid signature by a trusted key (an integrity failure).
    #[error("{}: image {image} is refused: {reason}", path.display())]
    Signature {
        /// The layout or archive.
        path: PathBuf,
        /// The image (`name (sha256:…)` or the digest).
        image: String,
        /// Which signatures were found and why none was accepted.
        reason: String,
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
    /// Command input that cannot be used (missing file, empty directory, name clash…).
    #[error("{}: {reason}", path.display())]
    Input {
        /// The input concerned.
        path: PathBuf,
        /// What is wrong and, where possible, what to do.
        reason: String,
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
}

fn entry_prefix(entry: &str) -> String {
    if entry.is_empty() {
        String::new()
    } else {
        format!("entry {entry:?}: ")
    }
}

fn available_hint(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!(" (available: {})", names.join(", "))
    }
}

/// Why a key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not PEM.
    #[error("not a PEM key file ({0})")]
    NotPem(String),
    /// The password does not decrypt the key.
    #[error("wrong password (or the key file is damaged): it does not decrypt the key")]
    WrongPassword,
    /// An encrypted key, and no password could be had.
    #[error("the key is encrypted and no password is available: {0}")]
    NoPassword(String),
    /// A key of a kind we do not use (RSA, Ed25519, another curve, cosign's own format).
    #[error("{0}")]
    Unsupported(String),
    /// PEM of the right kind whose content does not decode.
    #[error("the key does not decode: {0}")]
    Malformed(String),
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds a closure that turns an `io::Error` into [`Error::Io`] for `path`.
pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}
