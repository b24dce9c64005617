//! An OCI image layout directory: reading it safely, and writing to it atomically.
//!
//! Reading never creates or writes anything, so read-only layouts work; a reader may hold
//! the layout's lock in shared mode ([`Layout::lock_for_reading`]) so that no writer
//! changes or collects what it reads meanwhile (docs/durability.md). Writing goes
//! through [`LayoutWriter`], which holds the layout's lock for its whole life: blobs
//! are written to a temporary file, hashed on the way, synced and renamed to their
//! digest; index.json is replaced last, by rename. A crash at any instant leaves the
//! previous layout valid, and a writer dropped without `commit` removes the blobs it
//! added.

mod blob;
pub mod gc;
mod lock;
mod scan;
mod writer;

/// Re-exported from [`crate::oci`], where the naming rules live.
pub use crate::oci::IndexChange;
pub use blob::BlobWriter;
pub use writer::{LayoutWriter, StaleTemp};

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::limits::Limits;
use crate::oci::media_type::{IMAGE_LAYOUT_VERSION, OCI_LAYOUT_FILE_CONTENT};
use crate::oci::{Descriptor, Digest, ImageIndex};
use crate::progress::Progress;
use crate::store::{io_err, Result, StoreError};

pub use crate::limits::{MAX_INDEX_SIZE, MAX_MANIFEST_SIZE};

/// Name of the folder inside a layout that holds our lock and temporary files. Other
/// tools ignore it; archives never contain it.
pub const PRIVATE_DIR: &str = ".ebpf-layout";

/// An OCI image layout directory opened for reading.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    limits: Limits,
    progress: Progress,
    /// The shared lock held while reading, if taken ([`Layout::lock_for_reading`]);
    /// released when the last clone is dropped.
    read_lock: Option<std::sync::Arc<File>>,
}

impl Layout {
    /// Opens an existing layout: `oci-layout` must exist, say version 1.0.0, and
    /// `index.json` must exist. Nothing is written.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let layout = Self::open_unchecked(root)?;
        layout.check_oci_layout_file()?;
        if !layout.root.join("index.json").exists() {
            return Err(StoreError::NotALayout {
                path: layout.root,
                reason: "index.json is missing".into(),
            });
        }
        Ok(layout)
    }

    /// Opens a directory as a layout without checking `oci-layout` or `index.json`, for
    /// `verify`, which reports what is missing instead of stopping at it.
    pub fn open_unchecked(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let meta = fs::metadata(&root).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotALayout {
                path: root.clone(),
                reason: "no such directory".into(),
            },
            _ => io_err("reading", &root)(e),
        })?;
        if !meta.is_dir() {
            return Err(StoreError::NotALayout {
                path: root,
                reason: "not a directory".into(),
            });
        }
        Ok(Self {
            root,
            limits: Limits::default(),
            progress: Progress::none(),
            read_lock: None,
        })
    }

    /// The same layout, read under its lock in shared mode: waits for a running writer
    /// (`pack`, `copy`, `tag`, `rm`, `sign`, `gc`) to finish, then keeps writers out until
    /// the last clone of this value is dropped, so a reader never sees a layout half
    /// changed and `gc` never deletes a blob it is reading. Nothing is written: a layout
    /// without a lock file (no writer of ours ever ran there, or one that is read-only
    /// and was never written here) is read without a lock.
    ///
    /// Fails with [`StoreError::UnsafeEntry`] when `.ebpf-layout/lock` is not a regular file (a
    /// planted symlink, FIFO, socket or device), before anything is read.
    ///
    /// A process that holds this and then opens a [`LayoutWriter`] on the same layout
    /// waits for itself forever: write through the writer's own [`LayoutWriter::layout`]
    /// instead (as `copy L L` does).
    pub fn lock_for_reading(mut self) -> Result<Self> {
        if self.read_lock.is_none() {
            self.read_lock = lock::lock_shared(&self.root)?.map(std::sync::Arc::new);
        }
        Ok(self)
    }

    /// The same layout, read with `limits` (the defaults otherwise).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The same layout, counting the bytes it hashes in `progress`.
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// The bounds its reads apply.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Where the bytes it hashes are counted.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Reads a small regular file of the layout (e.g. `oci-layout`), refusing symlinks,
    /// special files and more than `limit` bytes.
    pub fn read_entry(&self, entry: &str, limit: u64) -> Result<Vec<u8>> {
        read_regular_file(&self.root, entry, limit)
    }

    /// Checks that `oci-layout` exists and declares version 1.0.0.
    pub fn check_oci_layout_file(&self) -> Result<()> {
        let path = self.root.join("oci-layout");
        let bytes = match read_regular_file(&self.root, "oci-layout", 64 << 10) {
            Ok(b) => b,
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotALayout {
                    path: self.root.clone(),
                    reason: "oci-layout file is missing".into(),
                })
            }
            Err(e) => return Err(e),
        };
        if bytes == OCI_LAYOUT_FILE_CONTENT {
            return Ok(());
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct OciLayout {
            image_layout_version: String,
        }
        match serde_json::from_slice::<OciLayout>(&bytes) {
            Ok(v) if v.image_layout_version == IMAGE_LAYOUT_VERSION => Ok(()),
            Ok(v) => Err(StoreError::NotALayout {
                path: self.root.clone(),
                reason: format!(
                    "{}: imageLayoutVersion is {:?}, expected {IMAGE_LAYOUT_VERSION:?}",
                    path.display(),
                    v.image_layout_version
                ),
            }),
            Err(e) => Err(StoreError::NotALayout {
                path: self.root.clone(),
                reason: format!("{}: {e}", path.display()),
            }),
        }
    }

    /// The layout's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Reads and parses index.json (at most the layout's [`Limits::max_index_size`] bytes).
    pub fn read_index(&self) -> Result<ImageIndex> {
        let bytes = self.read_index_bytes()?;
        ImageIndex::from_slice(&bytes).map_err(|source| StoreError::Schema {
            path: self.root.clone(),
            what: "index.json".into(),
            source,
        })
    }

    /// The raw bytes of index.json (at most the layout's [`Limits::max_index_size`] bytes).
    pub fn read_index_bytes(&self) -> Result<Vec<u8>> {
        read_regular_file(&self.root, "index.json", self.limits.max_index_size)
    }

    /// The path of a blob inside the layout.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join(digest.blob_path())
    }

    /// Opens a blob for reading, refusing anything that is not a regular file directly
    /// inside `blobs/sha256` (symlinks anywhere on the way are refused).
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let entry = digest.blob_path();
        for dir in ["blobs", "blobs/sha256"] {
            match fs::symlink_metadata(self.root.join(dir)) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(StoreError::UnsafeEntry {
                        path: self.root.clone(),
                        entry: dir.into(),
                        reason: "is not a directory (symlinks are not followed): make it a real directory inside the layout".into(),
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(StoreError::BlobMissing {
                        path: self.root.clone(),
                        digest: digest.clone(),
                    })
                }
                Err(e) => return Err(io_err("reading", self.root.join(dir))(e)),
            }
        }
        open_regular(&self.root, &entry).map_err(|e| match e {
            StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                StoreError::BlobMissing {
                    path: self.root.clone(),
                    digest: digest.clone(),
                }
            }
            other => other,
        })
    }

    /// Reads a whole blob into memory and checks it against its descriptor: size first
    /// (refusing more than `limit` bytes without reading them), then sha256.
    pub fn read_blob(&self, descriptor: &Descriptor, limit: u64) -> Result<Vec<u8>> {
        if descriptor.size > limit {
            return Err(StoreError::TooLarge {
                path: self.root.clone(),
                what: format!("blob {}", descriptor.digest),
                size: descriptor.size,
                limit,
            });
        }
        let file = self.open_blob(&descriptor.digest)?;
        let path = self.blob_path(&descriptor.digest);
        let mut bytes = Vec::with_capacity(descriptor.size as usize);
        // Stop at size + 1: enough to tell that a blob is too long.
        file.take(descriptor.size.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io_err("reading", &path))?;
        check_blob(&self.root, descriptor, &bytes)?;
        Ok(bytes)
    }
}

pub(crate) use crate::store::check_blob;

/// Opens `root/entry` for reading without following a symlink at the last component,
/// and refuses anything but a regular file.
fn open_regular(root: &Path, entry: &str) -> Result<File> {
    let path = root.join(entry);
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                StoreError::UnsafeEntry {
                    path: root.to_path_buf(),
                    entry: entry.to_string(),
                    reason: "is a symlink".into(),
                }
            } else if e.raw_os_error() == Some(libc::ENXIO) {
                // open(2) of a socket (or a FIFO without a writer) says "No such device
                // or address": say what the entry is instead.
                StoreError::UnsafeEntry {
                    path: root.to_path_buf(),
                    entry: entry.to_string(),
                    reason: "is not a regular file (a socket or FIFO)".into(),
                }
            } else {
                io_err("opening", &path)(e)
            }
        })?;
    let meta = file.metadata().map_err(io_err("reading", &path))?;
    if !meta.is_file() {
        return Err(StoreError::UnsafeEntry {
            path: root.to_path_buf(),
            entry: entry.to_string(),
            reason: "is not a regular file".into(),
        });
    }
    Ok(file)
}

/// Reads a small regular file of the layout, refusing more than `limit` bytes.
fn read_regular_file(root: &Path, entry: &str, limit: u64) -> Result<Vec<u8>> {
    let file = open_regular(root, entry)?;
    let path = root.join(entry);
    // The file's own size, for the message: reading stops at limit + 1 bytes.
    let stored_size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err("reading", &path))?;
    if bytes.len() as u64 > limit {
        return Err(StoreError::TooLarge {
            path: root.to_path_buf(),
            what: entry.to_string(),
            size: stored_size.max(bytes.len() as u64),
            limit,
        });
    }
    Ok(bytes)
}

impl crate::store::ImageSource for Layout {
    fn location(&self) -> &Path {
        self.root()
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn progress(&self) -> &Progress {
        &self.progress
    }

    fn index(&self) -> Result<ImageIndex> {
        self.read_index()
    }

    fn read_blob(&self, descriptor: &Descriptor, limit: u64) -> Result<Vec<u8>> {
        Layout::read_blob(self, descriptor, limit)
    }

    fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn std::io::Read + '_>> {
        Ok(Box::new(Layout::open_blob(self, &descriptor.digest)?))
    }

    fn scan_hashing(
        &self,
        which: crate::store::Hashing<'_>,
    ) -> Result<Vec<crate::store::StoredEntry>> {
        Layout::scan_hashing(self, which)
    }

    fn read_entry(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        Layout::read_entry(self, path, limit)
    }
}
