//! The layout's lock file, `.ebpf-layout/lock`: writers hold it exclusively, readers and
//! `gc --dry-run` hold it shared.
//!
//! The lock file lives inside the layout, so it is input like everything else there: a
//! layout may arrive with a symlink, a FIFO, a socket or a device node at that path. It
//! is opened with `O_NOFOLLOW | O_NONBLOCK` and accepted only as a regular file, so no
//! command follows a planted symlink out of the layout (creating `/etc/nologin`, say)
//! and none blocks forever on a FIFO. Locking never writes to the file.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::PRIVATE_DIR;
use crate::store::{io_err, Result, StoreError};

/// The lock file's path inside a layout, as errors name it.
pub(crate) const LOCK_ENTRY: &str = ".ebpf-layout/lock";

/// How a lock file is opened.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Open {
    /// Created if missing (writers).
    Create,
    /// Only if it exists, read-only (readers: works on a read-only layout).
    Existing,
}

/// Opens `root/.ebpf-layout/lock` without following a symlink and without blocking, and
/// refuses anything but a regular file. `Ok(None)` only with [`Open::Existing`] when
/// there is no lock file (no writer of ours ever ran on the layout).
pub(crate) fn open_lock_file(root: &Path, how: Open) -> Result<Option<File>> {
    let path = root.join(PRIVATE_DIR).join("lock");
    // The private folder itself must be a real directory: through a planted symlink the
    // lock would be some file elsewhere, that someone else may hold forever.
    match fs::symlink_metadata(root.join(PRIVATE_DIR)) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(StoreError::UnsafeEntry {
                path: root.to_path_buf(),
                entry: PRIVATE_DIR.into(),
                reason: "is not a directory (symlinks are not followed): ebpf-layout only ever \
                         creates a directory there; remove it and retry (nothing was written)"
                    .into(),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound && how == Open::Existing => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("reading", root.join(PRIVATE_DIR))(e)),
    }
    // Look before opening, so that a device node is never opened (opening one can have
    // effects); the check after opening closes the race with a swap in between.
    match fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => {}
        Ok(m) => return Err(not_regular(root, m.file_type())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if how == Open::Existing {
                return Ok(None);
            }
        }
        Err(e) => return Err(io_err("reading", &path)(e)),
    }
    let mut options = OpenOptions::new();
    match how {
        Open::Create => options.create(true).truncate(false).write(true),
        Open::Existing => options.read(true),
    };
    let file = options
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound && how == Open::Existing => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(unsafe_lock(root, "is a symlink"))
        }
        // A FIFO without a reader or a socket, swapped in after our look.
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            return Err(unsafe_lock(root, "is not a regular file"))
        }
        Err(e) => return Err(io_err("opening", &path)(e)),
    };
    let meta = file.metadata().map_err(io_err("reading", &path))?;
    if !meta.is_file() {
        return Err(not_regular(root, meta.file_type()));
    }
    Ok(Some(file))
}

fn not_regular(root: &Path, ft: fs::FileType) -> StoreError {
    use std::os::unix::fs::FileTypeExt;
    let what = if ft.is_symlink() {
        "is a symlink"
    } else if ft.is_dir() {
        "is a directory, not a regular file"
    } else if ft.is_fifo() {
        "is a FIFO, not a regular file"
    } else if ft.is_socket() {
        "is a socket, not a regular file"
    } else if ft.is_block_device() || ft.is_char_device() {
        "is a device node, not a regular file"
    } else {
        "is not a regular file"
    };
    unsafe_lock(root, what)
}

fn unsafe_lock(root: &Path, what: &str) -> StoreError {
    StoreError::UnsafeEntry {
        path: root.to_path_buf(),
        entry: LOCK_ENTRY.into(),
        reason: format!(
            "{what}; ebpf-layout only ever creates a regular file there, so the layout was \
             tampered with: check who put it there, remove it, and retry (nothing was written)"
        ),
    }
}

/// Waits for the layout's lock in shared mode, which excludes writers (they lock
/// exclusively) without writing anything: works on a read-only layout. `None` when the
/// layout has no lock file (no writer of ours ever ran there).
pub(crate) fn lock_shared(root: &Path) -> Result<Option<File>> {
    let Some(file) = open_lock_file(root, Open::Existing)? else {
        return Ok(None);
    };
    file.lock_shared()
        .map_err(io_err("locking", root.join(PRIVATE_DIR).join("lock")))?;
    Ok(Some(file))
}
