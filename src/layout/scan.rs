//! Walking a layout directory and hashing every blob, on all cores, in constant memory.

use std::fs;
use std::path::Path;

use super::{Layout, PRIVATE_DIR};
use crate::store::{hash_blobs, EntryKind, Hashing, StoredEntry};
use crate::store::{io_err, Result};

impl Layout {
    /// Every entry under the root (except our private folder), with the sha256 of every
    /// regular file under `blobs/` that `which` wants. Blobs are hashed by one thread per
    /// core.
    pub fn scan_hashing(&self, which: Hashing<'_>) -> Result<Vec<StoredEntry>> {
        let mut entries = Vec::new();
        walk(self.root(), self.root(), &mut entries)?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let root = self.root();
        hash_blobs(
            &mut entries,
            which,
            &|path| {
                let full = root.join(path);
                let file = fs::File::open(&full).map_err(io_err("opening", &full))?;
                Ok(Box::new(file))
            },
            &|path, e| io_err("reading", root.join(path))(e),
            self.progress(),
        )?;
        Ok(entries)
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<StoredEntry>) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(io_err("reading", dir))? {
        let entry = entry.map_err(io_err("reading", dir))?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        if rel == PRIVATE_DIR {
            continue;
        }
        let meta = fs::symlink_metadata(&path).map_err(io_err("reading", &path))?;
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            EntryKind::Symlink
        } else if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other(describe_special(&ft).into())
        };
        let is_dir = kind == EntryKind::Dir;
        out.push(StoredEntry {
            path: rel,
            kind,
            size: if ft.is_file() { meta.len() } else { 0 },
            digest: None,
        });
        if is_dir {
            walk(root, &path, out)?;
        }
    }
    Ok(())
}

fn describe_special(ft: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_block_device() {
        "block device"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "special file"
    }
}
