//! Writing to a layout: the lock, blob commits, index.json updates, and rollback.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::blob::{BlobWriter, BLOB_BUF_SIZE};
use super::lock::{open_lock_file, Open};
use super::{Layout, PRIVATE_DIR};
use crate::limits::Limits;
use crate::oci::digest::Hasher;
use crate::oci::media_type::OCI_LAYOUT_FILE_CONTENT;
use crate::oci::{canonical, Descriptor, Digest, ImageIndex, IndexChange, IndexEditor, RefName};
use crate::progress::Progress;
use crate::store::{io_err, Result, StoreError};
use crate::transfer::{copy_hashing, CopyError, FlushingFile};

/// A write transaction on a layout, holding its exclusive lock until dropped.
///
/// Blobs committed through it are in place at once (content-addressed, so harmless to
/// readers); names change only when [`commit`](Self::commit) replaces index.json. Dropped
/// without `commit`, it removes every blob it created, and the directory itself when it
/// created the layout, so a failed command leaves things as they were.
/// Blobs removed with [`remove_blob`](Self::remove_blob) are gone at once and are not
/// brought back by a rollback.
pub struct LayoutWriter {
    layout: Layout,
    index: IndexEditor,
    index_changed: bool,
    /// Whether oci-layout/index.json must be written on commit (a new layout).
    initialise: bool,
    /// The first directory we created on the way to the root, removed on rollback. Set
    /// only while the layout is being created under our lock.
    created_root: Option<PathBuf>,
    created_blobs: Vec<PathBuf>,
    /// Blobs written and hashed but not yet renamed into place: they are made durable
    /// together at commit (group durability), so no torn blob is ever visible.
    pending: Vec<PendingBlob>,
    /// Whether this writer wrote `oci-layout` (a new layout), removed on rollback.
    wrote_oci_layout: bool,
    /// Whether a blob was removed (the blob directory is synced on commit).
    removed_blobs: bool,
    /// Temporary files of dead writers removed when the lock was taken.
    stale_temp: StaleTemp,
    _lock: File,
    /// Set once index.json has been replaced: from then on the changes are visible and a
    /// rollback must not remove the blobs they reference.
    committed: bool,
}

/// Temporary files left by writers that died (killed, power loss), found and removed when
/// a writer took the layout's lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StaleTemp {
    /// How many files.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// How many times opening starts over when the lock file it waited for was discarded by a
/// writer that rolled back the creation of the layout. Each retry means another writer
/// finished, so this is only reached under pathological churn.
const MAX_OPEN_ATTEMPTS: usize = 64;

/// From this many blobs in one commit (16), one `syncfs` beats an fsync per file.
const GROUP_SYNC_MIN: usize = 16;

/// Blobs at least this large (128 MiB) are flushed in the background while written.
const BACKGROUND_FLUSH_MIN: u64 = 128 << 20;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LayoutWriter {
    /// Opens the layout at `root` for writing, creating it (and missing parents) if
    /// needed, and waits for its lock.
    ///
    /// Fails with [`StoreError::LayoutIsNotADirectory`] if `root` is a file, [`StoreError::NotALayout`] if it is a
    /// non-empty directory without `oci-layout`, and [`StoreError::Schema`] if index.json is
    /// broken; in all these cases nothing is changed.
    ///
    /// Any number of processes may create the same new layout at once: the lock
    /// serialises them, the first to commit creates it and the others add to it.
    pub fn open_or_create(root: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(root.as_ref(), true, &Limits::default(), &Progress::none())
    }

    /// [`open_or_create`](Self::open_or_create), reading index.json within `limits` and
    /// counting the bytes hashed in `progress`.
    pub fn open_or_create_with(
        root: impl AsRef<Path>,
        limits: &Limits,
        progress: &Progress,
    ) -> Result<Self> {
        Self::open_with(root.as_ref(), true, limits, progress)
    }

    /// Opens an existing layout for writing and waits for its lock; never creates one.
    ///
    /// Fails with [`StoreError::NotALayout`] if `root` is missing or not a layout, and with
    /// [`StoreError::LayoutReadOnly`] naming the path when the layout is read-only here.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(root.as_ref(), false, &Limits::default(), &Progress::none())
    }

    /// [`open`](Self::open), reading within `limits` and counting the bytes hashed in
    /// `progress`.
    pub fn open_existing_with(
        root: impl AsRef<Path>,
        limits: &Limits,
        progress: &Progress,
    ) -> Result<Self> {
        Self::open_with(root.as_ref(), false, limits, progress)
    }

    fn open_with(root: &Path, create: bool, limits: &Limits, progress: &Progress) -> Result<Self> {
        for _ in 0..MAX_OPEN_ATTEMPTS {
            if let Some(writer) = Self::try_open(root, create, limits, progress)? {
                return Ok(writer);
            }
        }
        Err(StoreError::LayoutContended {
            path: root.to_path_buf(),
        })
    }

    /// One attempt: `None` when the lock we waited for belongs to a layout directory that
    /// was discarded meanwhile (a writer creating it rolled back), so the caller starts
    /// over.
    fn try_open(
        root: &Path,
        create: bool,
        limits: &Limits,
        progress: &Progress,
    ) -> Result<Option<Self>> {
        let open = |root: &Path| -> Result<Layout> {
            Ok(Layout::open(root)?
                .with_limits(limits.clone())
                .with_progress(progress.clone()))
        };
        let root = root.to_path_buf();
        let created_root = match fs::symlink_metadata(&root) {
            Ok(m) if m.is_dir() => None,
            Ok(m) if m.file_type().is_symlink() && root.is_dir() => None,
            Ok(_) => return Err(StoreError::LayoutIsNotADirectory { path: root }),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                let top = first_missing_ancestor(&root);
                fs::create_dir_all(&root)
                    .map_err(|e| read_only_hint(io_err("creating", &root)(e)))?;
                Some(top)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotALayout {
                    path: root,
                    reason: "no such directory".into(),
                })
            }
            Err(e) => return Err(io_err("reading", &root)(e)),
        };
        if !create {
            // Refuse a directory that is not a layout before writing our lock into it.
            open(&root)?;
        }
        // Before the lock, another process may already be using a directory we think we
        // created: remove only empty directories if taking the lock fails.
        let mut guard = RootGuard {
            root: root.clone(),
            top: created_root,
            discard: false,
            lock: None,
        };
        let lock = match lock_layout(&root) {
            Ok(lock) => lock,
            // The directory went away between our look and our lock: a writer that was
            // creating it rolled back. Start over.
            Err(StoreError::Io { source, .. })
                if create && source.kind() == io::ErrorKind::NotFound =>
            {
                guard.top = None;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        if !lock_is_current(&lock, &root) {
            guard.top = None;
            return Ok(None);
        }
        guard.lock = Some(lock);
        let layout = Layout::open_unchecked(&root)?
            .with_limits(limits.clone())
            .with_progress(progress.clone());
        let has_oci_layout = root.join("oci-layout").exists();
        let (index, initialise) = if has_oci_layout && root.join("index.json").exists() {
            guard.top = None;
            let opened = open(&root)?;
            (opened.read_index()?, false)
        } else if !create {
            guard.top = None;
            return Err(open(&root).err().unwrap_or_else(|| StoreError::NotALayout {
                path: root.clone(),
                reason: "oci-layout or index.json is missing".into(),
            }));
        } else if has_oci_layout {
            // oci-layout without index.json: a writer creating the layout died between
            // the two (oci-layout is written first). Finish the creation.
            guard.top = None;
            (ImageIndex::empty(), true)
        } else {
            let mut others = fs::read_dir(&root)
                .map_err(io_err("reading", &root))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != PRIVATE_DIR && n != "blobs")
                .collect::<Vec<_>>();
            if !others.is_empty() {
                guard.top = None;
                others.sort();
                return Err(StoreError::NotALayout {
                    path: root,
                    reason: format!(
                        "the directory is not empty ({}) and has no oci-layout file; refusing to write into it",
                        others.join(", ")
                    ),
                });
            }
            (ImageIndex::empty(), true)
        };
        // Under the lock, and `guard.top` is still set only when we created the directory
        // and no layout is there yet: nobody else can be using it, so a failure from here
        // on may discard it.
        guard.discard = true;
        for dir in ["blobs", "blobs/sha256"] {
            ensure_real_dir(&root, dir)?;
        }
        let stale_temp = clean_temp_dir(&root)?;
        let created_root = guard.top.take();
        let lock = guard.lock.take().expect("the lock is held");
        Ok(Some(Self {
            layout,
            index: IndexEditor::new(index),
            index_changed: initialise,
            initialise,
            created_root,
            created_blobs: Vec::new(),
            pending: Vec::new(),
            wrote_oci_layout: false,
            removed_blobs: false,
            stale_temp,
            _lock: lock,
            committed: false,
        }))
    }

    /// Temporary files of writers that died, removed when this writer took the lock.
    pub fn stale_temp_removed(&self) -> StaleTemp {
        self.stale_temp
    }

    /// The layout being written.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// index.json as it will be written by `commit`.
    pub fn index(&self) -> &ImageIndex {
        self.index.index()
    }

    /// Starts a blob: a new temporary file inside the layout.
    pub fn begin_blob(&self) -> Result<BlobWriter> {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp_path = self
            .layout
            .root
            .join(PRIVATE_DIR)
            .join("tmp")
            .join(format!("blob-{}-{n}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)
            .map_err(|e| full_disk_hint(&self.layout.root, io_err("creating", &temp_path)(e)))?;
        Ok(BlobWriter {
            file: Some(BufWriter::with_capacity(BLOB_BUF_SIZE, file)),
            temp_path,
            hasher: Hasher::new(),
        })
    }

    /// Puts a finished blob in place under its digest and returns (digest, size).
    ///
    /// With `expected`, the content must match that descriptor's digest and size, or
    /// the blob is discarded with [`StoreError::DigestMismatch`] / [`StoreError::SizeMismatch`].
    /// The file is synced before the rename. If a valid blob with that digest already
    /// exists it is kept as it is (read-only blobs written by other tools included); a
    /// corrupt one is replaced by the verified bytes.
    ///
    /// When the file system is full the error says so ([`StoreError::LayoutDiskFull`] naming the
    /// layout) and the temporary file is removed.
    pub fn commit_blob(
        &mut self,
        blob: BlobWriter,
        expected: Option<&Descriptor>,
    ) -> Result<(Digest, u64)> {
        self.commit_blob_inner(blob, expected)
            .map_err(|e| full_disk_hint(&self.layout.root, e))
    }

    fn commit_blob_inner(
        &mut self,
        mut blob: BlobWriter,
        expected: Option<&Descriptor>,
    ) -> Result<(Digest, u64)> {
        let temp_path = blob.temp_path.clone();
        let file = blob.file.take().expect("blob writer is finished once");
        let file = file.into_inner().map_err(|e| {
            // The buffered tail could not be written (a full disk): nothing may stay.
            let error = e.into_error();
            let _ = fs::remove_file(&temp_path);
            io_err("writing", &temp_path)(error)
        })?;
        let hasher = std::mem::take(&mut blob.hasher);
        let (digest, size) = hasher.finish();
        let discard = |e: StoreError| {
            let _ = fs::remove_file(&temp_path);
            e
        };
        if let Some(want) = expected {
            if size != want.size {
                return Err(discard(StoreError::SizeMismatch {
                    path: self.layout.root.clone(),
                    digest: want.digest.clone(),
                    expected: want.size,
                    found: size,
                }));
            }
            if digest != want.digest {
                return Err(discard(StoreError::DigestMismatch {
                    path: self.layout.root.clone(),
                    expected: want.digest.clone(),
                    found: digest,
                }));
            }
        }
        let target = self.layout.blob_path(&digest);
        match self.existing_blob_state(&digest, size) {
            Ok(ExistingBlob::Valid) => {
                let _ = fs::remove_file(&temp_path);
                return Ok((digest, size));
            }
            Ok(ExistingBlob::Absent) | Ok(ExistingBlob::Corrupt) => {}
            Err(e) => return Err(discard(e)),
        }
        drop(file);
        if self.pending.iter().any(|p| p.digest == digest) {
            let _ = fs::remove_file(&temp_path);
            return Ok((digest, size));
        }
        self.pending.push(PendingBlob {
            temp: temp_path,
            target,
            digest: digest.clone(),
            size,
        });
        Ok((digest, size))
    }

    /// Makes every pending blob durable, then renames each into place: one `syncfs`
    /// for a large batch (no fsync storm), an fsync per file for a small one.
    fn settle_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let root = self.layout.root.clone();
        if self.pending.len() >= GROUP_SYNC_MIN {
            let dir = File::open(&root).map_err(io_err("opening", &root))?;
            rustix::fs::syncfs(&dir)
                .map_err(|e| full_disk_hint(&root, io_err("syncing", &root)(e.into())))?;
        } else {
            for p in &self.pending {
                File::open(&p.temp)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| full_disk_hint(&root, io_err("syncing", &p.temp)(e)))?;
            }
        }
        for p in std::mem::take(&mut self.pending) {
            let existed = p.target.exists();
            if let Err(e) = fs::rename(&p.temp, &p.target) {
                let _ = fs::remove_file(&p.temp);
                return Err(io_err("renaming into", &p.target)(e));
            }
            if !existed {
                self.created_blobs.push(p.target);
            }
        }
        Ok(())
    }

    /// Whether a valid blob with this digest and size is already in the layout; then a
    /// copy can skip its bytes entirely.
    pub fn has_valid_blob(&self, descriptor: &Descriptor) -> Result<bool> {
        Ok(matches!(
            self.existing_blob_state(&descriptor.digest, descriptor.size)?,
            ExistingBlob::Valid
        ))
    }

    fn existing_blob_state(&self, digest: &Digest, size: u64) -> Result<ExistingBlob> {
        if let Some(p) = self.pending.iter().find(|p| &p.digest == digest) {
            // Hashed while written in this transaction.
            return Ok(if p.size == size {
                ExistingBlob::Valid
            } else {
                ExistingBlob::Corrupt
            });
        }
        let path = self.layout.blob_path(digest);
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ExistingBlob::Absent),
            Err(e) => return Err(io_err("reading", &path)(e)),
        };
        if !meta.is_file() {
            return Err(StoreError::UnsafeEntry {
                path: self.layout.root.clone(),
                entry: digest.blob_path(),
                reason: "exists and is not a regular file; remove it by hand".into(),
            });
        }
        if meta.len() != size {
            return Ok(ExistingBlob::Corrupt);
        }
        let file = self.layout.open_blob(digest)?;
        let mut hasher = Hasher::new();
        let mut reader = file.take(size.saturating_add(1));
        let mut buf = vec![0u8; BLOB_BUF_SIZE];
        loop {
            let n = reader.read(&mut buf).map_err(io_err("reading", &path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let (found, found_size) = hasher.finish();
        Ok(if found == *digest && found_size == size {
            ExistingBlob::Valid
        } else {
            ExistingBlob::Corrupt
        })
    }

    /// Writes `bytes` as a blob and returns its descriptor.
    pub fn put_bytes(&mut self, media_type: &str, bytes: &[u8]) -> Result<Descriptor> {
        let mut blob = self.begin_blob()?;
        let temp = blob.temp_path.clone();
        blob.write_all(bytes)
            .map_err(|e| full_disk_hint(&self.layout.root, io_err("writing", &temp)(e)))?;
        let (digest, size) = self.commit_blob(blob, None)?;
        Ok(Descriptor::new(media_type, digest, size))
    }

    /// Serialises `value` canonically, writes it as a blob, and returns the descriptor
    /// together with the exact bytes that were hashed.
    pub fn put_json<T: Serialize>(
        &mut self,
        media_type: &str,
        value: &T,
    ) -> Result<(Descriptor, Vec<u8>)> {
        let bytes = canonical::to_vec(value).map_err(|e| StoreError::Io {
            op: "serialising",
            path: self.layout.root.clone(),
            source: io::Error::other(e),
        })?;
        Ok((self.put_bytes(media_type, &bytes)?, bytes))
    }

    /// Streams `reader` into a blob (hashing on a second core while writing) and returns
    /// (digest, size). With `expected`, reading stops at the declared size + 1 and the
    /// content is checked. `size_hint` (or the expected size) tells whether the blob is
    /// large enough for a hashing thread to pay off.
    pub fn put_reader(
        &mut self,
        reader: impl Read,
        expected: Option<&Descriptor>,
        size_hint: Option<u64>,
        source_name: &Path,
    ) -> Result<(Digest, u64)> {
        let mut blob = self.begin_blob()?;
        let temp = blob.temp_path.clone();
        let limit = expected.map_or(u64::MAX, |d| d.size);
        let file = blob.file.as_mut().expect("a new blob writer has its file");
        let mut reader = reader;
        // Hashing runs on a second core while this thread reads and writes; large blobs
        // are flushed to disk in the background as they are written.
        let hint = size_hint.or(expected.map(|d| d.size));
        let copied = if hint.is_some_and(|h| h >= BACKGROUND_FLUSH_MIN) {
            // The clone shares the file offset: writes through it continue the blob.
            match file
                .flush()
                .and_then(|()| file.get_ref().try_clone())
                .and_then(FlushingFile::new)
            {
                Ok(mut flushing) => copy_hashing(
                    &mut reader,
                    &mut flushing,
                    limit,
                    hint,
                    self.layout.progress(),
                ),
                Err(e) => Err(CopyError::Write(e)),
            }
        } else {
            copy_hashing(&mut reader, file, limit, hint, self.layout.progress())
        };
        match copied {
            Ok(hasher) => blob.hasher = hasher,
            Err(CopyError::Read(e)) => return Err(io_err("reading", source_name)(e)),
            Err(CopyError::Write(e)) => {
                return Err(full_disk_hint(
                    &self.layout.root,
                    io_err("writing", &temp)(e),
                ))
            }
            Err(CopyError::TooLong { read }) => {
                let want = expected.expect("only an expected size limits the copy");
                return Err(StoreError::SizeMismatch {
                    path: self.layout.root.clone(),
                    digest: want.digest.clone(),
                    expected: want.size,
                    found: read,
                });
            }
        }
        self.commit_blob(blob, expected)
    }

    /// Points `name` at `descriptor` (a manifest already committed as a blob), replacing
    /// whatever the name pointed at. Entries with other names are kept in place; a new
    /// name is appended.
    pub fn set_name(&mut self, name: &RefName, descriptor: Descriptor) -> IndexChange {
        let change = self.index.set_name(name, descriptor);
        self.index_changed |= change != IndexChange::Unchanged;
        change
    }

    /// Lists `descriptor` in index.json without a name (as oras does for every manifest),
    /// unless the very same entry is there already. Used by `copy` for untagged entries.
    pub fn add_untagged(&mut self, descriptor: Descriptor) -> IndexChange {
        let change = self.index.add_untagged(descriptor);
        self.index_changed |= change != IndexChange::Unchanged;
        change
    }

    /// Removes every index.json entry for which `remove` returns true and returns them,
    /// in their order. Blobs are not touched (`gc` reclaims what nothing references).
    pub fn remove_entries(
        &mut self,
        mut remove: impl FnMut(&Descriptor) -> bool,
    ) -> Vec<Descriptor> {
        let mut removed = Vec::new();
        self.index.edit(|index| {
            index.manifests.retain(|d| {
                if remove(d) {
                    removed.push(d.clone());
                    false
                } else {
                    true
                }
            })
        });
        if !removed.is_empty() {
            self.index_changed = true;
        }
        removed
    }

    /// Deletes the blob `digest` from the layout at once and returns its size (`None`
    /// if it was not there). The caller must have established, under this writer's lock,
    /// that nothing references it: the deletion is not undone by a rollback. Only regular
    /// files are removed ([`StoreError::UnsafeEntry`] otherwise).
    pub fn remove_blob(&mut self, digest: &Digest) -> Result<Option<u64>> {
        let path = self.layout.blob_path(digest);
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("reading", &path)(e)),
        };
        if !meta.is_file() {
            return Err(StoreError::UnsafeEntry {
                path: self.layout.root.clone(),
                entry: digest.blob_path(),
                reason: "is not a regular file; not removed".into(),
            });
        }
        fs::remove_file(&path).map_err(|e| read_only_hint(io_err("removing", &path)(e)))?;
        self.created_blobs.retain(|p| p != &path);
        self.removed_blobs = true;
        Ok(Some(meta.len()))
    }

    /// Makes the changes durable and visible: syncs the blob directory, then replaces
    /// index.json atomically (temporary file, sync, rename, sync of the directory).
    ///
    /// For a new layout `oci-layout` is written before index.json: a directory with both
    /// is complete. A writer that dies between the two leaves `oci-layout` alone, and the
    /// next writer finishes the creation.
    ///
    /// Once index.json is replaced the changes stand, even if the final directory sync
    /// fails (that error is still returned).
    pub fn commit(mut self) -> Result<()> {
        let root = self.layout.root.clone();
        self.settle_pending()?;
        if !self.created_blobs.is_empty() || self.removed_blobs {
            sync_dir(&root.join("blobs/sha256")).map_err(|e| full_disk_hint(&root, e))?;
        }
        if self.initialise && !root.join("oci-layout").exists() {
            let path = root.join("oci-layout");
            self.wrote_oci_layout = true;
            write_file_atomically(&root, "oci-layout", OCI_LAYOUT_FILE_CONTENT)
                .map_err(|e| full_disk_hint(&root, io_err("writing", &path)(e)))?;
        }
        if self.index_changed {
            let mut index = self.index.index().clone();
            if index.media_type.is_none() {
                index.media_type = Some(crate::oci::media_type::OCI_INDEX.to_string());
            }
            let bytes = canonical::to_vec(&index).map_err(|e| StoreError::Io {
                op: "serialising",
                path: root.join("index.json"),
                source: io::Error::other(e),
            })?;
            write_file_atomically(&root, "index.json", &bytes).map_err(|e| {
                full_disk_hint(&root, io_err("writing", root.join("index.json"))(e))
            })?;
        }
        // From here on index.json references our blobs: no rollback.
        self.committed = true;
        if self.initialise || self.index_changed {
            sync_dir(&root)?;
        }
        Ok(())
    }
}

impl Drop for LayoutWriter {
    // Runs before the fields are dropped, so the lock is still held during the rollback.
    fn drop(&mut self) {
        for p in &self.pending {
            let _ = fs::remove_file(&p.temp);
        }
        if self.committed {
            return;
        }
        if let Some(top) = &self.created_root {
            discard_created_root(&self.layout.root, top);
            return;
        }
        for blob in &self.created_blobs {
            let _ = fs::remove_file(blob);
        }
        if self.wrote_oci_layout {
            let _ = fs::remove_file(self.layout.root.join("oci-layout"));
        }
    }
}

/// A blob hashed and written to a temporary file, waiting for commit.
struct PendingBlob {
    temp: PathBuf,
    target: PathBuf,
    digest: Digest,
    size: u64,
}

enum ExistingBlob {
    Absent,
    Valid,
    Corrupt,
}

/// Cleans up a directory we created if the writer never came to exist. With the lock
/// held and no layout there yet, it discards the directory; before that, another process
/// may be using it, so only empty directories are removed.
struct RootGuard {
    root: PathBuf,
    top: Option<PathBuf>,
    discard: bool,
    /// Dropped after the clean-up, so that a waiting writer sees the outcome.
    lock: Option<File>,
}

impl Drop for RootGuard {
    fn drop(&mut self) {
        let Some(top) = &self.top else {
            return;
        };
        if self.discard && self.lock.is_some() {
            discard_created_root(&self.root, top);
        } else {
            // Not the private folder: another writer may be about to lock or write in it.
            remove_empty_dirs(&self.root, top);
        }
    }
}

/// Removes a layout directory that this writer created and never committed, while its
/// lock is still held. The directory is first renamed away, so that nobody can open it
/// by its name any more: a writer waiting for the lock then sees that the lock file it
/// waited on is gone and starts over, instead of writing into a directory being deleted.
/// Then the empty parents we created go too.
fn discard_created_root(root: &Path, top: &Path) {
    let (Some(parent), Some(name)) = (root.parent(), root.file_name()) else {
        return;
    };
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let discarded = parent.join(format!(
        ".{}.discarded-{}-{n}",
        name.to_string_lossy(),
        std::process::id()
    ));
    if fs::rename(root, &discarded).is_ok() {
        let _ = fs::remove_dir_all(&discarded);
        if let Some(up) = root.parent() {
            remove_empty_dirs(up, top);
        }
    }
}

/// Removes `dir` and its parents up to `top` while they are empty (`rmdir` refuses a
/// directory that is not, so this never removes anything another process put there).
fn remove_empty_dirs(dir: &Path, top: &Path) {
    let mut current = Some(dir);
    while let Some(d) = current {
        if d.as_os_str().is_empty() || !d.starts_with(top) || fs::remove_dir(d).is_err() {
            break;
        }
        if d == top {
            break;
        }
        current = d.parent();
    }
}

/// Whether the lock file we hold a lock on is still the one at its path. It is not when
/// a writer that was creating the layout rolled back and discarded the directory while we
/// waited; holding a lock on a deleted file would exclude nobody.
fn lock_is_current(lock: &File, root: &Path) -> bool {
    let path = root.join(PRIVATE_DIR).join("lock");
    match (lock.metadata(), fs::symlink_metadata(&path)) {
        (Ok(held), Ok(now)) => held.dev() == now.dev() && held.ino() == now.ino(),
        _ => false,
    }
}

fn first_missing_ancestor(path: &Path) -> PathBuf {
    let mut top = path.to_path_buf();
    while let Some(parent) = top.parent() {
        if parent.as_os_str().is_empty() || parent.exists() {
            break;
        }
        top = parent.to_path_buf();
    }
    top
}

/// Takes the layout's exclusive lock (`.ebpf-layout/lock`), waiting for other writers.
fn lock_layout(root: &Path) -> Result<File> {
    let private = root.join(PRIVATE_DIR);
    match fs::create_dir(&private) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(read_only_hint(io_err("creating", &private)(e))),
    }
    ensure_real_dir(root, PRIVATE_DIR)?;
    ensure_real_dir(root, &format!("{PRIVATE_DIR}/tmp"))?;
    let path = private.join("lock");
    let file = open_lock_file(root, Open::Create)
        .map_err(read_only_hint)?
        .expect("created if missing");
    file.lock().map_err(io_err("locking", &path))?;
    Ok(file)
}

fn read_only_hint(e: StoreError) -> StoreError {
    match e {
        StoreError::Io { op, path, source }
            if matches!(
                source.raw_os_error(),
                Some(libc::EROFS) | Some(libc::EACCES) | Some(libc::EPERM)
            ) =>
        {
            StoreError::LayoutReadOnly {
                op,
                path,
                error: source,
            }
        }
        other => other,
    }
}

/// Creates `root/dir` if missing and refuses it if it is a symlink or a file.
fn ensure_real_dir(root: &Path, dir: &str) -> Result<()> {
    let path = root.join(dir);
    match fs::symlink_metadata(&path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(StoreError::UnsafeEntry {
            path: root.to_path_buf(),
            entry: dir.to_string(),
            reason: "is not a directory (symlinks are not followed): make it a real directory inside the layout".into(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&path) {
            Ok(()) => Ok(()),
            // Another writer created it between our look and our mkdir (only before the
            // lock is taken, for the private folder): check what it is.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => ensure_real_dir(root, dir),
            Err(e) => Err(read_only_hint(io_err("creating", &path)(e))),
        },
        Err(e) => Err(io_err("reading", &path)(e)),
    }
}

/// Removes temporary files left by writers that died: under the lock, none is live.
fn clean_temp_dir(root: &Path) -> Result<StaleTemp> {
    let tmp = root.join(PRIVATE_DIR).join("tmp");
    let mut stale = StaleTemp::default();
    for entry in fs::read_dir(&tmp)
        .map_err(io_err("reading", &tmp))?
        .flatten()
    {
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        if fs::remove_file(entry.path()).is_ok() {
            stale.files += 1;
            stale.bytes += size;
        }
    }
    Ok(stale)
}

/// Temporary files in a layout's private folder, without removing them (for `gc
/// --dry-run`). They are stale when no writer holds the lock.
pub(crate) fn list_temp_files(root: &Path) -> Result<StaleTemp> {
    let tmp = root.join(PRIVATE_DIR).join("tmp");
    let mut stale = StaleTemp::default();
    let entries = match fs::read_dir(&tmp) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(stale),
        Err(e) => return Err(io_err("reading", &tmp)(e)),
    };
    for entry in entries.flatten() {
        stale.files += 1;
        stale.bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
    }
    Ok(stale)
}

/// Turns "no space left on device" (or an exhausted quota) into an error that says what
/// happened to the layout and what to do.
fn full_disk_hint(root: &Path, e: StoreError) -> StoreError {
    match e {
        StoreError::Io { op, path, source }
            if matches!(
                source.raw_os_error(),
                Some(libc::ENOSPC) | Some(libc::EDQUOT)
            ) =>
        {
            StoreError::LayoutDiskFull {
                layout: root.to_path_buf(),
                op,
                path,
                error: source,
            }
        }
        other => other,
    }
}

fn write_file_atomically(root: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = root
        .join(PRIVATE_DIR)
        .join("tmp")
        .join(format!("{name}-{}-{n}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&temp, root.join(name))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn sync_dir(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_err("syncing", path))
}
