//! Writing one blob: a temporary file in the layout, hashed while written.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use crate::oci::digest::Hasher;

/// Buffer between the producer and the temporary file (256 KiB): large enough that
/// writes are few and hashing dominates, small enough to keep memory flat.
pub(crate) const BLOB_BUF_SIZE: usize = 256 << 10;

/// A blob being written: bytes go to a temporary file inside the layout and through
/// SHA-256 in the same pass. Hand it back to
/// [`LayoutWriter::commit_blob`](super::LayoutWriter::commit_blob) to put it in place;
/// dropping it removes the temporary file.
pub struct BlobWriter {
    pub(super) file: Option<BufWriter<File>>,
    pub(super) temp_path: PathBuf,
    pub(super) hasher: Hasher,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.hasher.is_empty()
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob writer already finished"))?;
        let n = file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.temp_path);
        }
    }
}
