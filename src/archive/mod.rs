//! Archives of OCI layouts: `.tar` and `.tar.gz` files (and standard input), written
//! deterministically and read in place without extracting anything.
//!
//! * [`ArchiveBuilder`] / [`WriteOptions`] ([`writer`]): the deterministic writer — fixed
//!   entry order, headers and gzip header; temporary file, sync, rename; every blob
//!   hashed on the way in.
//! * [`TarArchive`]: a plain `.tar`, random access (headers read once, data by offset).
//! * [`StreamArchive`]: `.tar.gz` or a stream, one pass at open (every blob hashed),
//!   small JSON kept, anything else read again on demand (files only).
//! * [`Limits`]: the bounds reading enforces (JSON sizes, decompression, entries, memory).
//! * The safety rules for entries live in one place, `catalog` (see docs/archives.md).
//!
//! All readers implement [`ImageSource`], so `list`, `inspect`, `verify`, `load` and
//! `copy` work on archives as on layout directories. The format is detected from the
//! first bytes (gzip's `1f 8b`), never from the file name alone.

mod catalog;
mod cleanup;
mod reader;
mod stream;
pub(crate) mod tar;
pub mod writer;

use std::fs::File;
use std::io::Read;
use std::path::Path;

pub use crate::limits::Limits;
use crate::progress::Progress;
pub use reader::TarArchive;
pub use stream::StreamArchive;
pub use writer::{ArchiveBuilder, Compression, WriteOptions, WrittenArchive};
// The bounded tar parser also reads the tar+gzip layers of bpfman images (src/image/bpfman.rs).
pub(crate) use self::tar::{Input as TarInput, LimitExceeded, StreamInput, TarReader};

use crate::store::ImageSource;
use crate::store::{io_err, Result};

/// Opens the archive file at `path` for reading: gzip (by its magic bytes) as a
/// [`StreamArchive`], anything else as a [`TarArchive`] (which says "not a tar archive"
/// when the first header's checksum is wrong). zstd, xz and bzip2 are named and refused.
pub fn open(path: &Path, limits: &Limits, progress: &Progress) -> Result<Box<dyn ImageSource>> {
    let mut head = Vec::with_capacity(8);
    File::open(path)
        .and_then(|f| f.take(8).read_to_end(&mut head))
        .map_err(io_err("reading", path))?;
    Ok(match stream::detect(&head, path)? {
        stream::Magic::Gzip => Box::new(StreamArchive::open(path, limits, progress)?),
        stream::Magic::Tar => Box::new(TarArchive::open(path, limits, progress)?),
    })
}

/// Reads an archive (plain or gzip) from standard input; see
/// [`StreamArchive::from_stdin`].
pub fn open_stdin(limits: &Limits, progress: &Progress) -> Result<Box<dyn ImageSource>> {
    Ok(Box::new(StreamArchive::from_stdin(limits, progress)?))
}
