//! Walking a layout directory and hashing every blob, on all cores, in constant memory.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;

use super::blob::BLOB_BUF_SIZE;
use super::{Layout, PRIVATE_DIR};
use crate::error::{io_err, Result};
use crate::oci::digest::Hasher;
use crate::source::{EntryKind, StoredEntry};

impl Layout {
    /// Every entry under the root (except our private folder), with the sha256 of every
    /// regular file under `blobs/`. Blobs are hashed by one thread per core.
    pub fn scan(&self) -> Result<Vec<StoredEntry>> {
        let mut entries = Vec::new();
        walk(self.root(), self.root(), &mut entries)?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let to_hash: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == EntryKind::File && e.path.starts_with("blobs/"))
            .map(|(i, _)| i)
            .collect();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(to_hash.len().max(1));
        let next = Mutex::new(to_hash.into_iter());
        let results = Mutex::new(Vec::new());
        let root = self.root();
        let entries_ref = &entries;
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut buf = vec![0u8; BLOB_BUF_SIZE];
                    loop {
                        let Some(i) = next.lock().unwrap().next() else {
                            break;
                        };
                        let r = hash_file(&root.join(&entries_ref[i].path), &mut buf);
                        results.lock().unwrap().push((i, r));
                    }
                });
            }
        });
        for (i, r) in results.into_inner().unwrap() {
            let (digest, size) = r?;
            entries[i].digest = Some(digest);
            entries[i].size = size;
        }
        Ok(entries)
    }
}

fn hash_file(path: &Path, buf: &mut [u8]) -> Result<(crate::oci::Digest, u64)> {
    let mut file = fs::File::open(path).map_err(io_err("opening", path))?;
    let mut hasher = Hasher::new();
    loop {
        let n = file.read(buf).map_err(io_err("reading", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finish())
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
