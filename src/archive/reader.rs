//! A plain `.tar` file read in place: one pass over the headers at open (seeking over
//! data), then any entry read by offset. Blobs are read with positioned reads, so
//! several can be streamed or hashed at once, and nothing is ever extracted.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::catalog::{Catalog, Role};
use super::tar::{SeekInput, TarReader};
use crate::limits::Limits;
use crate::oci::{Descriptor, ImageIndex};
use crate::progress::Progress;
use crate::store::check_blob;
use crate::store::{hash_blobs, Hashing, ImageSource, StoredEntry};
use crate::store::{io_err, Result, StoreError};

/// An uncompressed tar archive holding an OCI layout at its root, opened for reading.
#[derive(Debug)]
pub struct TarArchive {
    location: PathBuf,
    file: File,
    catalog: Catalog,
    limits: Limits,
    progress: Progress,
}

impl TarArchive {
    /// Reads every header of the tar file at `path` (not its data) and checks every entry
    /// (see the rules in docs/archives.md). Fails with [`StoreError::UnsafeEntry`] for a hostile entry,
    /// [`StoreError::Truncated`] if the file ends early, [`StoreError::Archive`] for a corrupt
    /// header or a limit, and [`StoreError::NotALayout`] without `oci-layout` or `index.json`.
    /// Bytes hashed later (scans) are counted in `progress`.
    pub fn open(path: &Path, limits: &Limits, progress: &Progress) -> Result<Self> {
        let file = File::open(path).map_err(io_err("opening", path))?;
        Self::from_file(file, path, limits, progress)
    }

    /// Like [`open`](Self::open), on a file already open (`location` names it).
    pub fn from_file(
        file: File,
        location: &Path,
        limits: &Limits,
        progress: &Progress,
    ) -> Result<Self> {
        let len = file.metadata().map_err(io_err("reading", location))?.len();
        let input = SeekInput::new(BufReader::with_capacity(64 << 10, &file), len);
        let mut tar = TarReader::new(input, location, limits.max_entries);
        let mut catalog = Catalog::new(location);
        while let Some(raw) = tar.next_entry()? {
            let role = catalog.add(&raw, limits)?;
            if matches!(role, Role::Dir) {
                continue;
            }
            // Data must lie within the file: a cut-off archive is named at open.
            let end = raw.data_offset.saturating_add(raw.size);
            if end > len {
                return Err(StoreError::Truncated {
                    path: location.to_path_buf(),
                    entry: raw.display_name(),
                    reason: format!("its data needs bytes up to {end}, but the file has {len}"),
                });
            }
            if matches!(role, Role::OciLayout | Role::Index) {
                let mut bytes = vec![0u8; raw.size as usize];
                let mut got = 0;
                while got < bytes.len() {
                    got += tar.read_data(&mut bytes[got..])?;
                }
                let path = if role == Role::Index {
                    "index.json"
                } else {
                    "oci-layout"
                };
                catalog.set_content(path, None, Some(bytes));
            }
        }
        drop(tar);
        catalog.finish()?;
        Ok(Self {
            location: location.to_path_buf(),
            file,
            catalog,
            limits: limits.clone(),
            progress: progress.clone(),
        })
    }

    fn section(&self, offset: u64, size: u64) -> Section<'_> {
        Section {
            file: &self.file,
            offset,
            remaining: size,
        }
    }

    fn read_all(&self, offset: u64, size: u64, name: &str) -> Result<Vec<u8>> {
        let mut bytes = vec![0u8; size as usize];
        self.file
            .read_exact_at(&mut bytes, offset)
            .map_err(|e| read_error(&self.location, name, e))?;
        Ok(bytes)
    }
}

fn read_error(location: &Path, entry: &str, e: io::Error) -> StoreError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        StoreError::Truncated {
            path: location.to_path_buf(),
            entry: entry.to_string(),
            reason: "the file became shorter while being read".into(),
        }
    } else {
        io_err("reading", location.join(entry))(e)
    }
}

/// A window of the archive file, read with positioned reads.
struct Section<'a> {
    file: &'a File,
    offset: u64,
    remaining: u64,
}

impl Read for Section<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.file.read_at(&mut buf[..want], self.offset)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive became shorter while being read",
            ));
        }
        self.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

impl ImageSource for TarArchive {
    fn location(&self) -> &Path {
        &self.location
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn progress(&self) -> &Progress {
        &self.progress
    }

    fn index(&self) -> Result<ImageIndex> {
        let bytes = self.read_entry("index.json", u64::MAX)?;
        ImageIndex::from_slice(&bytes).map_err(|source| StoreError::Schema {
            path: self.location.clone(),
            what: "index.json".into(),
            source,
        })
    }

    fn read_blob(&self, descriptor: &Descriptor, limit: u64) -> Result<Vec<u8>> {
        if descriptor.size > limit {
            return Err(StoreError::TooLarge {
                path: self.location.clone(),
                what: format!("blob {}", descriptor.digest),
                size: descriptor.size,
                limit,
            });
        }
        let entry = self.catalog.blob(&descriptor.digest)?;
        if entry.size != descriptor.size {
            return Err(StoreError::SizeMismatch {
                path: self.location.clone(),
                digest: descriptor.digest.clone(),
                expected: descriptor.size,
                found: entry.size,
            });
        }
        let bytes = self.read_all(
            entry.data_offset,
            entry.size,
            &descriptor.digest.blob_path(),
        )?;
        check_blob(&self.location, descriptor, &bytes)?;
        Ok(bytes)
    }

    fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + '_>> {
        let entry = self.catalog.blob(&descriptor.digest)?;
        Ok(Box::new(self.section(entry.data_offset, entry.size)))
    }

    fn scan_hashing(&self, which: Hashing<'_>) -> Result<Vec<StoredEntry>> {
        let mut entries = self.catalog.stored_entries();
        hash_blobs(
            &mut entries,
            which,
            &|path| {
                let entry = self.catalog.file(path)?;
                Ok(Box::new(self.section(entry.data_offset, entry.size)))
            },
            &|path, e| read_error(&self.location, path, e),
            &self.progress,
        )?;
        Ok(entries)
    }

    fn blob_position(&self, descriptor: &Descriptor) -> Option<u64> {
        self.catalog
            .get(&descriptor.digest.blob_path())
            .map(|e| e.data_offset)
    }

    fn read_entry(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        let entry = self.catalog.file(path)?;
        if let Some(bytes) = &entry.kept {
            if bytes.len() as u64 > limit {
                return Err(too_large(&self.location, path, bytes.len() as u64, limit));
            }
            return Ok(bytes.clone());
        }
        if entry.size > limit {
            return Err(too_large(&self.location, path, entry.size, limit));
        }
        self.read_all(entry.data_offset, entry.size, path)
    }
}

impl TarArchive {}

pub(crate) fn too_large(location: &Path, what: &str, size: u64, limit: u64) -> StoreError {
    StoreError::TooLarge {
        path: location.to_path_buf(),
        what: what.to_string(),
        size,
        limit,
    }
}
