//! Writing to a layout: the lock, blob commits, index.json updates, and rollback.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::blob::{BlobWriter, BLOB_BUF_SIZE};
use super::{Layout, PRIVATE_DIR};
use crate::error::{io_err, Error, Result};
use crate::oci::digest::Hasher;
use crate::oci::media_type::{ANNOTATION_REF_NAME, OCI_LAYOUT_FILE_CONTENT};
use crate::oci::{canonical, Descriptor, Digest, ImageIndex, RefName};

/// What setting a name did to index.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexChange {
    /// The name is new.
    Added,
    /// The name already pointed at this very descriptor.
    Unchanged,
    /// The name moved from another manifest.
    Moved {
        /// The manifest it pointed at before.
        from: Digest,
    },
}

/// A write transaction on a layout, holding its exclusive lock until dropped.
///
/// Blobs committed through it are in place at once (content-addressed, so harmless to
/// readers); names change only when [`commit`](Self::commit) replaces index.json. Dropped
/// without `commit`, it removes every blob it created, and the directory itself when it
/// created the layout, so a failed command leaves things as they were.
pub struct LayoutWriter {
    layout: Layout,
    index: ImageIndex,
    index_changed: bool,
    /// Whether oci-layout/index.json must be written on commit (a new layout).
    initialise: bool,
    /// The first directory we created on the way to the root, removed on rollback.
    created_root: Option<PathBuf>,
    created_blobs: Vec<PathBuf>,
    _lock: File,
    committed: bool,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LayoutWriter {
    /// Opens the layout at `root` for writing, creating it (and missing parents) if
    /// needed, and waits for its lock.
    ///
    /// Fails with [`Error::Input`] if `root` is a file, [`Error::NotALayout`] if it is a
    /// non-empty directory without `oci-layout`, and [`Error::Schema`] if index.json is
    /// broken; in all these cases nothing is changed.
    pub fn open_or_create(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let created_root = match fs::symlink_metadata(&root) {
            Ok(m) if m.is_dir() => None,
            Ok(m) if m.file_type().is_symlink() && root.is_dir() => None,
            Ok(_) => {
                return Err(Error::Input {
                    path: root,
                    reason:
                        "exists and is not a directory; give a new or existing layout directory"
                            .into(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let top = first_missing_ancestor(&root);
                fs::create_dir_all(&root).map_err(io_err("creating", &root))?;
                Some(top)
            }
            Err(e) => return Err(io_err("reading", &root)(e)),
        };
        let mut guard = RootGuard(created_root);
        let lock = lock_layout(&root)?;
        let layout = Layout { root: root.clone() };
        let (index, initialise) = if root.join("oci-layout").exists() {
            let opened = Layout::open(&root)?;
            (opened.read_index()?, false)
        } else {
            let mut others = fs::read_dir(&root)
                .map_err(io_err("reading", &root))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != PRIVATE_DIR && n != "blobs")
                .collect::<Vec<_>>();
            if !others.is_empty() {
                others.sort();
                return Err(Error::NotALayout {
                    path: root,
                    reason: format!(
                        "the directory is not empty ({}) and has no oci-layout file; refusing to write into it",
                        others.join(", ")
                    ),
                });
            }
            (ImageIndex::empty(), true)
        };
        for dir in ["blobs", "blobs/sha256"] {
            ensure_real_dir(&root, dir)?;
        }
        clean_temp_dir(&root)?;
        let created_root = guard.0.take();
        Ok(Self {
            layout,
            index,
            index_changed: initialise,
            initialise,
            created_root,
            created_blobs: Vec::new(),
            _lock: lock,
            committed: false,
        })
    }

    /// The layout being written.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// index.json as it will be written by `commit`.
    pub fn index(&self) -> &ImageIndex {
        &self.index
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
            .map_err(io_err("creating", &temp_path))?;
        Ok(BlobWriter {
            file: Some(BufWriter::with_capacity(BLOB_BUF_SIZE, file)),
            temp_path,
            hasher: Hasher::new(),
        })
    }

    /// Puts a finished blob in place under its digest and returns (digest, size).
    ///
    /// With `expected`, the content must match that descriptor's digest and size, or
    /// the blob is discarded with [`Error::DigestMismatch`] / [`Error::SizeMismatch`].
    /// The file is synced before the rename. If a valid blob with that digest already
    /// exists it is kept as it is (read-only blobs written by other tools included); a
    /// corrupt one is replaced by the verified bytes.
    pub fn commit_blob(
        &mut self,
        mut blob: BlobWriter,
        expected: Option<&Descriptor>,
    ) -> Result<(Digest, u64)> {
        let temp_path = blob.temp_path.clone();
        let file = blob.file.take().expect("blob writer is finished once");
        let file = file
            .into_inner()
            .map_err(|e| io_err("writing", &temp_path)(e.into_error()))?;
        let hasher = std::mem::take(&mut blob.hasher);
        let (digest, size) = hasher.finish();
        let discard = |e: Error| {
            let _ = fs::remove_file(&temp_path);
            e
        };
        if let Some(want) = expected {
            if size != want.size {
                return Err(discard(Error::SizeMismatch {
                    path: self.layout.root.clone(),
                    digest: want.digest.clone(),
                    expected: want.size,
                    found: size,
                }));
            }
            if digest != want.digest {
                return Err(discard(Error::DigestMismatch {
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
        file.sync_all()
            .map_err(|e| discard(io_err("syncing", &temp_path)(e)))?;
        drop(file);
        let existed = target.exists();
        fs::rename(&temp_path, &target)
            .map_err(|e| discard(io_err("renaming into", &target)(e)))?;
        if !existed {
            self.created_blobs.push(target);
        }
        Ok((digest, size))
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
        let path = self.layout.blob_path(digest);
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ExistingBlob::Absent),
            Err(e) => return Err(io_err("reading", &path)(e)),
        };
        if !meta.is_file() {
            return Err(Error::UnsafeEntry {
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
        let mut reader = file.take(size + 1);
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
        blob.write_all(bytes).map_err(io_err("writing", &temp))?;
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
        let bytes = canonical::to_vec(value).map_err(|e| Error::Io {
            op: "serialising",
            path: self.layout.root.clone(),
            source: io::Error::other(e),
        })?;
        Ok((self.put_bytes(media_type, &bytes)?, bytes))
    }

    /// Streams `reader` into a blob (hashing on the way) and returns (digest, size).
    /// With `expected`, reading stops at the declared size + 1 and the content is checked.
    pub fn put_reader(
        &mut self,
        reader: impl Read,
        expected: Option<&Descriptor>,
        source_name: &Path,
    ) -> Result<(Digest, u64)> {
        let mut blob = self.begin_blob()?;
        let mut reader: Box<dyn Read> = match expected {
            Some(d) => Box::new(reader.take(d.size + 1)),
            None => Box::new(reader),
        };
        let mut buf = vec![0u8; BLOB_BUF_SIZE];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("reading", source_name)(e)),
            };
            let temp = blob.temp_path.clone();
            blob.write_all(&buf[..n])
                .map_err(io_err("writing", &temp))?;
        }
        self.commit_blob(blob, expected)
    }

    /// Points `name` at `descriptor` (a manifest already committed as a blob), replacing
    /// whatever the name pointed at. Entries with other names are kept in place; a new
    /// name is appended.
    pub fn set_name(&mut self, name: &RefName, descriptor: Descriptor) -> IndexChange {
        let descriptor = descriptor.with_annotation(ANNOTATION_REF_NAME, name.as_str());
        let positions: Vec<usize> = self
            .index
            .manifests
            .iter()
            .enumerate()
            .filter(|(_, d)| d.ref_name() == Some(name.as_str()))
            .map(|(i, _)| i)
            .collect();
        let change = match positions.as_slice() {
            [] => IndexChange::Added,
            [i] if self.index.manifests[*i] == descriptor => return IndexChange::Unchanged,
            [i, ..] => IndexChange::Moved {
                from: self.index.manifests[*i].digest.clone(),
            },
        };
        match positions.first() {
            Some(&first) => {
                self.index.manifests[first] = descriptor;
                for &i in positions[1..].iter().rev() {
                    self.index.manifests.remove(i);
                }
            }
            None => self.index.manifests.push(descriptor),
        }
        self.index_changed = true;
        change
    }

    /// Makes the changes durable and visible: syncs the blob directory, then replaces
    /// index.json atomically (temporary file, sync, rename, sync of the directory).
    pub fn commit(mut self) -> Result<()> {
        let root = self.layout.root.clone();
        if !self.created_blobs.is_empty() {
            sync_dir(&root.join("blobs/sha256"))?;
        }
        if self.initialise {
            let path = root.join("oci-layout");
            write_file_atomically(&root, "oci-layout", OCI_LAYOUT_FILE_CONTENT)
                .map_err(io_err("writing", &path))?;
        }
        if self.index_changed {
            if self.index.media_type.is_none() {
                self.index.media_type = Some(crate::oci::media_type::OCI_INDEX.to_string());
            }
            let bytes = canonical::to_vec(&self.index).map_err(|e| Error::Io {
                op: "serialising",
                path: root.join("index.json"),
                source: io::Error::other(e),
            })?;
            write_file_atomically(&root, "index.json", &bytes)
                .map_err(io_err("writing", root.join("index.json")))?;
        }
        if self.initialise || self.index_changed {
            sync_dir(&root)?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for LayoutWriter {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Some(top) = &self.created_root {
            let _ = fs::remove_dir_all(top);
            return;
        }
        for blob in &self.created_blobs {
            let _ = fs::remove_file(blob);
        }
    }
}

enum ExistingBlob {
    Absent,
    Valid,
    Corrupt,
}

/// Removes a directory we created if the writer never came to exist.
struct RootGuard(Option<PathBuf>);

impl Drop for RootGuard {
    fn drop(&mut self) {
        if let Some(top) = &self.0 {
            let _ = fs::remove_dir_all(top);
        }
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
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| read_only_hint(io_err("opening", &path)(e)))?;
    file.lock().map_err(io_err("locking", &path))?;
    Ok(file)
}

fn read_only_hint(e: Error) -> Error {
    match e {
        Error::Io { op, path, source }
            if matches!(source.raw_os_error(), Some(libc::EROFS) | Some(libc::EACCES) | Some(libc::EPERM)) =>
        {
            Error::Input {
                path: path.clone(),
                reason: format!(
                    "{op} failed: {source}; the layout is read-only here (reading works, writing needs write access)"
                ),
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
        Ok(_) => Err(Error::UnsafeEntry {
            path: root.to_path_buf(),
            entry: dir.to_string(),
            reason: "is not a directory (symlinks are not followed)".into(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir(&path).map_err(|e| read_only_hint(io_err("creating", &path)(e)))
        }
        Err(e) => Err(io_err("reading", &path)(e)),
    }
}

/// Removes temporary files left by writers that died: under the lock, none is live.
fn clean_temp_dir(root: &Path) -> Result<()> {
    let tmp = root.join(PRIVATE_DIR).join("tmp");
    for entry in fs::read_dir(&tmp)
        .map_err(io_err("reading", &tmp))?
        .flatten()
    {
        let _ = fs::remove_file(entry.path());
    }
    Ok(())
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
