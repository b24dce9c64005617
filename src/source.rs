//! Opening what a reference names: a layout directory, a `.tar` or `.tar.gz` archive
//! (recognised by its first bytes), or `-` for an archive on standard input. The one place
//! above both storage implementations that knows them both.

use std::path::Path;

use crate::layout::Layout;
use crate::limits::Limits;
use crate::progress::Progress;
pub use crate::store::{EntryKind, Hashing, ImageSource, StoredEntry};
use crate::store::{Result, StoreError};

/// Opens whatever `path` names: a layout directory, a `.tar` or `.tar.gz` archive
/// (recognised by its first bytes, whatever its name), or `-` for an archive on standard
/// input, read within the default [`Limits`] and counting nothing.
pub fn open(path: &Path) -> Result<Box<dyn ImageSource>> {
    open_with(path, &Limits::default(), &Progress::none())
}

/// [`open`] reading within `limits` (every later read of the source applies them too)
/// and counting the bytes hashed in `progress`.
///
/// A layout is read under its lock in shared mode for as long as the returned source
/// lives ([`Layout::lock_for_reading`]): writers wait for it, and it waits for a running
/// writer. Do not open a writer on the same layout while holding it.
pub fn open_with(
    path: &Path,
    limits: &Limits,
    progress: &Progress,
) -> Result<Box<dyn ImageSource>> {
    if path == Path::new("-") {
        return crate::archive::open_stdin(limits, progress);
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(Box::new(
            Layout::open(path)?
                .with_limits(limits.clone())
                .with_progress(progress.clone())
                .lock_for_reading()?,
        )),
        Ok(_) => crate::archive::open(path, limits, progress),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NotALayout {
            path: path.to_path_buf(),
            reason: "no such file or directory".into(),
        }),
        Err(e) => Err(crate::store::io_err("reading", path)(e)),
    }
}
