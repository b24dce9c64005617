//! One read interface over everything a reference can point at, so that `list`,
//! `inspect`, `verify`, `load` and `copy` work the same on a layout directory or an
//! archive.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::oci::{Descriptor, Digest, ImageIndex};

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

impl ImageSource for Layout {
    fn location(&self) -> &Path {
        self.root()
    }

    fn index(&self) -> Result<ImageIndex> {
        self.read_index()
    }

    fn read_blob(&self, descriptor: &Descriptor, limit: u64) -> Result<Vec<u8>> {
        Layout::read_blob(self, descriptor, limit)
    }

    fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + '_>> {
        Ok(Box::new(Layout::open_blob(self, &descriptor.digest)?))
    }

    fn scan_hashing(&self, which: Hashing<'_>) -> Result<Vec<StoredEntry>> {
        Layout::scan_hashing(self, which)
    }

    fn read_entry(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        Layout::read_entry(self, path, limit)
    }
}

/// Opens whatever `path` names: a layout directory, a `.tar` or `.tar.gz` archive
/// (recognised by its first bytes, whatever its name), or `-` for an archive on standard
/// input. Archives are read with [`Limits::current`](crate::archive::Limits::current).
pub fn open(path: &Path) -> Result<Box<dyn ImageSource>> {
    open_with(path, &crate::archive::Limits::current())
}

/// [`open`] with explicit limits for reading archives.
pub fn open_with(path: &Path, limits: &crate::archive::Limits) -> Result<Box<dyn ImageSource>> {
    if path == Path::new("-") {
        return crate::archive::open_stdin(limits);
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(Box::new(Layout::open(path)?)),
        Ok(_) => crate::archive::open(path, limits),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NotALayout {
            path: path.to_path_buf(),
            reason: "no such file or directory".into(),
        }),
        Err(e) => Err(crate::error::io_err("reading", path)(e)),
    }
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
    read_error: &(dyn Fn(&str, std::io::Error) -> Error + Sync),
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
                    let r = hash_one(paths[i], open, read_error, &mut buf);
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
    read_error: &(dyn Fn(&str, std::io::Error) -> Error + Sync),
    buf: &mut [u8],
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
    }
    Ok(hasher.finish())
}
