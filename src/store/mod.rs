//! The one read interface under storage: everything a reference can point at (a layout
//! directory, a `.tar`, a `.tar.gz`, standard input) is an [`ImageSource`], so that
//! `list`, `inspect`, `verify`, `load` and `copy` work the same on each. Defined below
//! both implementations ([`crate::layout`], [`crate::archive`]); [`crate::source::open`]
//! above them picks one.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use crate::graph::{Closure, Edge, Failure, Role, Walker, MAX_DEPTH};
use crate::limits::Limits;
use crate::oci::{Descriptor, Digest, ImageIndex};
use crate::progress::Progress;

mod error;

pub(crate) use error::io_err;
pub use error::{Result, StoreError};

/// What kind of file system object an entry of a layout or archive is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// A hard link (archives only; never followed).
    Hardlink,
    /// Anything else (device, fifo, socket), with what it is.
    Other(String),
}

/// Which stored blobs a scan hashes.
#[derive(Debug, Clone, Copy)]
pub enum Hashing<'a> {
    /// Every regular file under `blobs/`.
    All,
    /// Only these blobs (e.g. one image's closure).
    Only(&'a BTreeSet<Digest>),
}

impl Hashing<'_> {
    /// Whether the entry at `path` is to be hashed.
    pub fn wants(&self, path: &str) -> bool {
        match self {
            Hashing::All => true,
            Hashing::Only(set) => path
                .strip_prefix("blobs/sha256/")
                .and_then(|hex| Digest::parse(&format!("sha256:{hex}")).ok())
                .is_some_and(|d| set.contains(&d)),
        }
    }
}

/// One entry of a layout or archive, as found by [`ImageSource::scan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEntry {
    /// Path relative to the layout root, `/`-separated, without `./` (e.g.
    /// `blobs/sha256/<hex>`, `index.json`).
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Size in bytes (regular files).
    pub size: u64,
    /// The sha256 of its content, for regular files under `blobs/` (hashed in full,
    /// whatever their name says).
    pub digest: Option<Digest>,
}

/// Read access to an OCI layout, wherever it is stored.
pub trait ImageSource {
    /// Where it is (for messages).
    fn location(&self) -> &Path;

    /// The bounds it was opened with: every command reading it applies these (JSON
    /// sizes in particular), so limits are a value chosen once by the caller.
    fn limits(&self) -> &Limits;

    /// Where the bytes it hashes are counted.
    fn progress(&self) -> &Progress;

    /// The parsed top-level index (index.json).
    fn index(&self) -> Result<ImageIndex>;

    /// A whole blob, checked against its descriptor (size, then digest). Refuses
    /// descriptors larger than `limit` before reading anything.
    fn read_blob(&self, descriptor: &Descriptor, limit: u64) -> Result<Vec<u8>>;

    /// A reader over a blob's raw bytes, for streaming; the caller hashes and checks what
    /// it reads (reading at most `size + 1` bytes).
    fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + '_>>;

    /// Every entry of the store, with the sha256 of every regular file under `blobs/`
    /// computed from its content, in constant memory (used by `verify`). Entries are in
    /// path order. Our private `.ebpf-layout/` folder is not reported.
    fn scan(&self) -> Result<Vec<StoredEntry>> {
        self.scan_hashing(Hashing::All)
    }

    /// Like [`scan`](Self::scan), listing every entry but hashing only the blobs `which`
    /// names (the others have no digest). A source that reads everything in one pass
    /// anyway (a compressed stream) may hash them all.
    fn scan_hashing(&self, which: Hashing<'_>) -> Result<Vec<StoredEntry>>;

    /// A small regular file at `path` relative to the root (`oci-layout`), refusing more
    /// than `limit` bytes, symlinks and special files.
    fn read_entry(&self, path: &str, limit: u64) -> Result<Vec<u8>>;

    /// Where a blob's bytes lie in the underlying storage, when reading several blobs in
    /// this order is cheaper (a compressed archive is then decompressed once); `None`
    /// when order does not matter (a directory).
    fn blob_position(&self, _descriptor: &Descriptor) -> Option<u64> {
        None
    }
}

/// Checks bytes read for `descriptor`: size first, then digest. `root` names the layout
/// or archive in the error.
pub(crate) fn check_blob(root: &Path, descriptor: &Descriptor, bytes: &[u8]) -> Result<()> {
    if bytes.len() as u64 != descriptor.size {
        return Err(StoreError::SizeMismatch {
            path: root.to_path_buf(),
            digest: descriptor.digest.clone(),
            expected: descriptor.size,
            found: bytes.len() as u64,
        });
    }
    let found = Digest::of(bytes);
    if found != descriptor.digest {
        return Err(StoreError::DigestMismatch {
            path: root.to_path_buf(),
            expected: descriptor.digest.clone(),
            found,
        });
    }
    Ok(())
}

/// A reader of graph documents over `source` (see [`crate::graph::Reader`]): each is read
/// whole, refused above `limit` bytes, and checked against its descriptor (size, then
/// digest); a blob that is not stored is `Ok(None)`.
pub fn document_reader<'s>(
    source: &'s dyn ImageSource,
    limit: u64,
) -> impl FnMut(&Descriptor) -> Result<Option<Vec<u8>>> + 's {
    move |d| match source.read_blob(d, limit) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(StoreError::BlobMissing { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The error for a document of the graph that could not be descended, naming `location`
/// and the digest.
pub fn graph_error(location: &Path, edge: &Edge, failure: Failure<StoreError>) -> StoreError {
    let path = location.to_path_buf();
    let digest = edge.descriptor.digest.clone();
    match failure {
        Failure::Missing => StoreError::BlobMissing { path, digest },
        Failure::Unreadable(e) => e,
        Failure::Malformed(source) => StoreError::Schema {
            path,
            what: format!(
                "{} {digest} ({} of {})",
                if crate::graph::is_index(&edge.descriptor) {
                    "index"
                } else {
                    "manifest"
                },
                edge.role.as_str(),
                edge.referenced_by()
            ),
            source,
        },
        Failure::TooDeep => StoreError::TooDeep {
            path,
            digest,
            limit: MAX_DEPTH,
        },
    }
}

/// The whole closure of `roots` (index.json entries) in `source`, every document read and
/// checked: the first document that is missing, damaged, malformed or too deep is an
/// error, except a missing `subject` (a signature may name an image kept elsewhere) when
/// `tolerate_missing_subjects` is set.
pub fn closure_of(
    source: &dyn ImageSource,
    roots: &[Descriptor],
    limit: u64,
    tolerate_missing_subjects: bool,
) -> Result<Closure<StoreError>> {
    let mut read = document_reader(source, limit);
    let mut walker = Walker::new(&mut read);
    for root in roots {
        walker.entry(root);
    }
    let mut closure = walker.finish();
    let failures = std::mem::take(&mut closure.failures);
    for (edge, failure) in failures {
        let tolerated = tolerate_missing_subjects
            && edge.role == Role::Subject
            && matches!(failure, Failure::Missing);
        if !tolerated {
            return Err(graph_error(source.location(), &edge, failure));
        }
    }
    Ok(closure)
}

/// Bytes per read while hashing stored blobs (256 KiB): few system calls, little memory.
const HASH_BUF_SIZE: usize = 256 << 10;

/// Hashes the regular files under `blobs/` of `entries` that `which` wants, from their content, with one
/// thread per core (at most one per blob), setting each entry's digest and size to what
/// was read. `open` gives an entry's content by path; `read_error` names a failed read.
/// Used by every [`ImageSource::scan`] that can read entries in any order.
pub(crate) fn hash_blobs<'a>(
    entries: &mut [StoredEntry],
    which: Hashing<'_>,
    open: &(dyn Fn(&str) -> Result<Box<dyn Read + 'a>> + Sync),
    read_error: &(dyn Fn(&str, std::io::Error) -> StoreError + Sync),
    progress: &Progress,
) -> Result<()> {
    let to_hash: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            e.kind == EntryKind::File && e.path.starts_with("blobs/") && which.wants(&e.path)
        })
        .map(|(i, _)| i)
        .collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(to_hash.len().max(1));
    let next = std::sync::Mutex::new(to_hash.into_iter());
    let results = std::sync::Mutex::new(Vec::new());
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = vec![0u8; HASH_BUF_SIZE];
                while let Some(i) = next.lock().map(|mut n| n.next()).unwrap_or(None) {
                    let r = hash_one(paths[i], open, read_error, &mut buf, progress);
                    if let Ok(mut results) = results.lock() {
                        results.push((i, r));
                    }
                }
            });
        }
    });
    for (i, r) in results.into_inner().unwrap_or_default() {
        let (digest, size) = r?;
        entries[i].digest = Some(digest);
        entries[i].size = size;
    }
    Ok(())
}

fn hash_one<'a>(
    path: &str,
    open: &(dyn Fn(&str) -> Result<Box<dyn Read + 'a>> + Sync),
    read_error: &(dyn Fn(&str, std::io::Error) -> StoreError + Sync),
    buf: &mut [u8],
    progress: &Progress,
) -> Result<(Digest, u64)> {
    let mut reader = open(path)?;
    let mut hasher = crate::oci::digest::Hasher::new();
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(path, e)),
        };
        hasher.update(&buf[..n]);
        progress.add_hashed(n as u64);
    }
    Ok(hasher.finish())
}
