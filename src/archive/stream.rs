//! A compressed archive (`.tar.gz`) or standard input, read in one streaming pass.
//!
//! At open every entry is checked, every blob is hashed as it streams by, and only small
//! things are kept in memory: `oci-layout`, `index.json` and JSON-looking blobs up to
//! the manifest limit (within [`FILE_KEEP_BUDGET`]). A blob that was not kept is read
//! again when a command needs it (the program object for `inspect`, a layer for `copy`)
//! by a second decompression pass over the file; consecutive reads in archive order
//! continue one pass instead of restarting. Standard input cannot be read twice, so there
//! every blob is kept while it fits in [`Limits::max_stdin_buffer`].
//!
//! Decompression is bounded by [`Limits::max_uncompressed`] and [`Limits::max_ratio`],
//! checked as bytes come out of the decoder, so a gzip bomb costs at most that much work
//! and no memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use flate2::bufread::GzDecoder;

use super::catalog::{Catalog, Role};
use super::reader::too_large;
use super::tar::{corrupt_data, CorruptData, LimitExceeded, StreamInput, TarReader};
use crate::limits::{Limits, FILE_KEEP_BUDGET, RATIO_GRACE};
use crate::oci::digest::Hasher;
use crate::oci::{Descriptor, ImageIndex};
use crate::progress::Progress;
use crate::store::check_blob;
use crate::store::{io_err, Result, StoreError};
use crate::store::{Hashing, ImageSource, StoredEntry};

/// Read buffer (256 KiB, as for layout blobs).
const BUF_SIZE: usize = 256 << 10;

/// How the compressed input starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    /// gzip (`1f 8b`).
    Gzip,
    /// Anything else: read as tar (the first header's checksum decides).
    Tar,
}

/// Identifies the format from the first bytes, refusing compressions we do not read
/// with what to do instead.
pub fn detect(head: &[u8], location: &Path) -> Result<Magic> {
    let refuse = |name: &str, tool: &str| {
        StoreError::Archive {
        path: location.to_path_buf(),
        entry: String::new(),
        reason: format!(
            "is {name}-compressed; ebpf-layout reads .tar and .tar.gz archives: decompress it first ({tool})"
        ),
    }
    };
    if head.starts_with(&[0x1f, 0x8b]) || head == [0x1f] {
        Ok(Magic::Gzip)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Err(refuse("zstd", "zstd -d"))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Err(refuse("xz", "xz -d"))
    } else if head.starts_with(b"BZh") {
        Err(refuse("bzip2", "bzip2 -d"))
    } else {
        Ok(Magic::Tar)
    }
}

/// Counts the bytes read from the underlying (compressed) input.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

type Base = BufReader<Counting<Box<dyn Read + Send>>>;

enum Decoded {
    /// gzip, one member at a time: concatenated members are one stream (as gzip -d
    /// reads them); `None` once the input ended after a whole member.
    Gzip(Option<Box<GzDecoder<Base>>>),
    Plain(Base),
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Gzip(member) => loop {
                let Some(decoder) = member else {
                    return Ok(0);
                };
                // flate2 says InvalidInput/InvalidData for a CRC or length that does not
                // match and for deflate data that does not decode: damage, not an I/O
                // failure.
                let n = decoder.read(buf).map_err(|e| match e.kind() {
                    io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                        io::Error::other(CorruptData(format!("the gzip data is damaged ({e})")))
                    }
                    _ => e,
                })?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                // The member ended (its CRC and length checked): what follows is either
                // another member, the end of the input, or bytes that are not gzip at
                // all, which flate2 would call an "invalid gzip header".
                let mut rest = member.take().expect("checked above").into_inner();
                let next = rest.fill_buf()?;
                if next.is_empty() {
                    return Ok(0);
                }
                if !next.starts_with(&[0x1f, 0x8b]) {
                    return Err(io::Error::other(LimitExceeded(format!(
                        "trailing data after the compressed stream ({} bytes or more that are not gzip follow its end); the file was appended to or damaged",
                        next.len()
                    ))));
                }
                *member = Some(Box::new(GzDecoder::new(rest)));
            },
            Decoded::Plain(r) => r.read(buf),
        }
    }
}

/// The decompressed stream, stopped by the limits: total size and ratio.
struct Bounded {
    inner: Decoded,
    total: u64,
    compressed: Arc<AtomicU64>,
    gzip: bool,
    max_uncompressed: u64,
    max_ratio: u64,
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        if self.total > self.max_uncompressed {
            return Err(io::Error::other(LimitExceeded(format!(
                "the archive expands to more than {} bytes (--max-uncompressed / EBPF_LAYOUT_MAX_UNCOMPRESSED); if it is genuine, raise the limit",
                self.max_uncompressed
            ))));
        }
        if self.gzip && self.max_ratio > 0 && self.total > RATIO_GRACE {
            let compressed = self.compressed.load(Ordering::Relaxed).max(1);
            if self.total / compressed > self.max_ratio {
                return Err(io::Error::other(LimitExceeded(format!(
                    "decompression ratio over {}:1 ({} bytes from {compressed}): this looks like a gzip bomb (--max-ratio / EBPF_LAYOUT_MAX_RATIO; 0 turns the check off)",
                    self.max_ratio, self.total
                ))));
            }
        }
        Ok(n)
    }
}

fn decoder(
    base: Box<dyn Read + Send>,
    location: &Path,
    limits: &Limits,
) -> Result<(Bounded, Magic)> {
    let count = Arc::new(AtomicU64::new(0));
    let mut reader = BufReader::with_capacity(
        BUF_SIZE,
        Counting {
            inner: base,
            count: count.clone(),
        },
    );
    let head = reader.fill_buf().map_err(io_err("reading", location))?;
    let magic = detect(&head[..head.len().min(8)], location)?;
    let inner = match magic {
        Magic::Gzip => Decoded::Gzip(Some(Box::new(GzDecoder::new(reader)))),
        Magic::Tar => Decoded::Plain(reader),
    };
    Ok((
        Bounded {
            inner,
            total: 0,
            compressed: count,
            gzip: magic == Magic::Gzip,
            max_uncompressed: limits.max_uncompressed,
            max_ratio: limits.max_ratio,
        },
        magic,
    ))
}

/// Where the archive comes from.
#[derive(Debug, Clone)]
enum Origin {
    File(PathBuf),
    Stream,
}

/// A decompression pass positioned at `pos` in the tar stream, kept between reads so that
/// reading blobs in archive order decompresses the file once.
struct Cursor {
    reader: Bounded,
    pos: u64,
}

/// A `.tar.gz` file or standard input holding an OCI layout at its root, read in one
/// streaming pass.
pub struct StreamArchive {
    location: PathBuf,
    origin: Origin,
    catalog: Catalog,
    limits: Limits,
    progress: Progress,
    cursor: Mutex<Option<Cursor>>,
}

impl std::fmt::Debug for StreamArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamArchive")
            .field("location", &self.location)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl StreamArchive {
    /// Reads the compressed (or plain) tar file at `path` in one pass, checking every
    /// entry and hashing every blob. Errors as for [`super::TarArchive::open`], plus
    /// [`StoreError::Archive`] when a decompression limit is reached or the gzip data is
    /// corrupt.
    /// Bytes hashed are counted in `progress`.
    pub fn open(path: &Path, limits: &Limits, progress: &Progress) -> Result<Self> {
        let file = File::open(path).map_err(io_err("opening", path))?;
        Self::read(
            Box::new(file),
            path,
            Origin::File(path.to_path_buf()),
            limits,
            progress,
        )
    }

    /// Reads a tar or tar.gz archive from standard input (detected by its first bytes).
    /// Blobs are kept in memory up to [`Limits::max_stdin_buffer`] in total.
    pub fn from_stdin(limits: &Limits, progress: &Progress) -> Result<Self> {
        Self::from_reader(
            Box::new(io::stdin()),
            Path::new("standard input"),
            limits,
            progress,
        )
    }

    /// Reads a tar or tar.gz archive from any stream that cannot be read twice (a pipe,
    /// a socket, bytes in memory), as for standard input; `location` names it in errors.
    pub fn from_reader(
        reader: Box<dyn Read + Send>,
        location: &Path,
        limits: &Limits,
        progress: &Progress,
    ) -> Result<Self> {
        Self::read(reader, location, Origin::Stream, limits, progress)
    }

    fn read(
        base: Box<dyn Read + Send>,
        location: &Path,
        origin: Origin,
        limits: &Limits,
        progress: &Progress,
    ) -> Result<Self> {
        let (decoded, magic) = decoder(base, location, limits)?;
        let mut tar = TarReader::new(StreamInput(decoded), location, limits.max_entries);
        let mut catalog = Catalog::new(location);
        let stdin = matches!(origin, Origin::Stream);
        let mut budget = if stdin {
            limits.max_stdin_buffer
        } else {
            FILE_KEEP_BUDGET
        };
        let mut buf = vec![0u8; BUF_SIZE];
        let mut read_all = || -> Result<()> {
            while let Some(raw) = tar.next_entry()? {
                let role = catalog.add(&raw, limits)?;
                let path = match &role {
                    Role::Dir | Role::Other => continue,
                    Role::OciLayout => "oci-layout".to_string(),
                    Role::Index => "index.json".to_string(),
                    Role::Blob(d) => d.blob_path(),
                };
                let keep_all = !matches!(role, Role::Blob(_));
                let may_keep = keep_all
                    || (raw.size <= budget && (stdin || raw.size <= limits.max_manifest_size));
                let mut kept = may_keep.then(Vec::new);
                // In a file only JSON documents are worth keeping; on stdin, everything.
                let mut judged = keep_all || stdin;
                let mut hasher = Hasher::new();
                loop {
                    let n = tar.read_data(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    let chunk = &buf[..n];
                    hasher.update(chunk);
                    progress.add_hashed(n as u64);
                    if !judged {
                        if let Some(&first) = chunk.iter().find(|b| !b.is_ascii_whitespace()) {
                            judged = true;
                            if first != b'{' {
                                kept = None;
                            }
                        }
                    }
                    if let Some(k) = kept.as_mut() {
                        k.extend_from_slice(chunk);
                    }
                }
                if let (Role::Blob(_), Some(k)) = (&role, &kept) {
                    budget -= k.len() as u64;
                }
                let digest = matches!(role, Role::Blob(_)).then(|| hasher.finish().0);
                catalog.set_content(&path, digest, kept);
            }
            tar.drain()?;
            catalog.finish()
        };
        if let Err(e) = read_all() {
            // A damaged gzip member decodes to garbage before its CRC is checked at the
            // member's end, so damage in transit first looks like a malformed tar header.
            // Read on (within the same limits) to tell the two apart: a CRC or length that
            // does not match is the better report, and the one that says "copy it again".
            if magic == Magic::Gzip && matches!(e, StoreError::Archive { .. }) {
                if let Err(damage @ StoreError::Corrupt { .. }) = tar.drain() {
                    return Err(damage);
                }
            }
            return Err(e);
        }
        Ok(Self {
            location: location.to_path_buf(),
            origin,
            catalog,
            limits: limits.clone(),
            progress: progress.clone(),
            cursor: Mutex::new(None),
        })
    }

    /// A reader over `size` bytes at `offset` of the tar stream: a second pass over the
    /// file (continuing the last one when it has not gone past `offset`).
    fn reread(&self, entry_name: &str, offset: u64, size: u64) -> Result<Box<dyn Read + '_>> {
        let path = match &self.origin {
            Origin::File(p) => p,
            Origin::Stream => {
                return Err(StoreError::Archive {
                    path: self.location.clone(),
                    entry: entry_name.to_string(),
                    reason: format!(
                        "was not kept in memory ({size} bytes): a stream cannot be read twice, and at most {} bytes of blobs are kept from it (--max-stdin-buffer / EBPF_LAYOUT_MAX_STDIN_BUFFER); save the archive to a file and give its path instead",
                        self.limits.max_stdin_buffer
                    ),
                })
            }
        };
        let cached = self
            .cursor
            .lock()
            .ok()
            .and_then(|mut c| c.take())
            .filter(|c| c.pos <= offset);
        let mut cursor = match cached {
            Some(c) => c,
            None => {
                let file = File::open(path).map_err(io_err("opening", path))?;
                let (reader, _) = decoder(Box::new(file), &self.location, &self.limits)?;
                Cursor { reader, pos: 0 }
            }
        };
        let gap = offset - cursor.pos;
        let skipped = io::copy(&mut (&mut cursor.reader).take(gap), &mut io::sink())
            .map_err(|e| self.pass_error(entry_name, e))?;
        if skipped < gap {
            return Err(StoreError::Truncated {
                path: self.location.clone(),
                entry: entry_name.to_string(),
                reason: "the file became shorter since it was opened".into(),
            });
        }
        cursor.pos = offset;
        Ok(Box::new(SecondPass {
            archive: self,
            entry: entry_name.to_string(),
            cursor: Some(cursor),
            remaining: size,
        }))
    }

    fn pass_error(&self, entry: &str, e: io::Error) -> StoreError {
        match e.get_ref().and_then(|i| i.downcast_ref::<LimitExceeded>()) {
            Some(l) => StoreError::Archive {
                path: self.location.clone(),
                entry: entry.to_string(),
                reason: l.0.clone(),
            },
            None => match corrupt_data(&e) {
                Some(reason) => StoreError::Corrupt {
                    path: self.location.clone(),
                    entry: entry.to_string(),
                    reason,
                },
                None => io_err("reading", self.location.join(entry))(e),
            },
        }
    }

    fn bytes_of(
        &self,
        name: &str,
        kept: Option<&Vec<u8>>,
        offset: u64,
        size: u64,
    ) -> Result<Vec<u8>> {
        if let Some(k) = kept {
            return Ok(k.clone());
        }
        let mut out = Vec::with_capacity(size.min(64 << 20) as usize);
        self.reread(name, offset, size)?
            .read_to_end(&mut out)
            .map_err(|e| self.pass_error(name, e))?;
        Ok(out)
    }
}

/// Reads one entry's bytes from a second pass, and hands the pass back when dropped.
struct SecondPass<'a> {
    archive: &'a StreamArchive,
    entry: String,
    cursor: Option<Cursor>,
    remaining: u64,
}

impl Read for SecondPass<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(cursor) = self.cursor.as_mut() else {
            return Ok(0);
        };
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = cursor.reader.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} ended early on the second pass", self.entry),
            ));
        }
        cursor.pos += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

impl Drop for SecondPass<'_> {
    fn drop(&mut self) {
        if let (Some(c), Ok(mut slot)) = (self.cursor.take(), self.archive.cursor.lock()) {
            *slot = Some(c);
        }
    }
}

impl ImageSource for StreamArchive {
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
            return Err(too_large(
                &self.location,
                &format!("blob {}", descriptor.digest),
                descriptor.size,
                limit,
            ));
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
        // The content was hashed at open: a mismatch is known without reading again.
        if let Some(found) = &entry.digest {
            if found != &descriptor.digest {
                return Err(StoreError::DigestMismatch {
                    path: self.location.clone(),
                    expected: descriptor.digest.clone(),
                    found: found.clone(),
                });
            }
        }
        let name = descriptor.digest.blob_path();
        let bytes = self.bytes_of(&name, entry.kept.as_ref(), entry.data_offset, entry.size)?;
        check_blob(&self.location, descriptor, &bytes)?;
        Ok(bytes)
    }

    fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + '_>> {
        let entry = self.catalog.blob(&descriptor.digest)?;
        match &entry.kept {
            Some(k) => Ok(Box::new(&k[..])),
            None => self.reread(
                &descriptor.digest.blob_path(),
                entry.data_offset,
                entry.size,
            ),
        }
    }

    // The one streaming pass hashed every blob already: nothing is left to choose.
    fn scan_hashing(&self, _which: Hashing<'_>) -> Result<Vec<StoredEntry>> {
        Ok(self.catalog.stored_entries())
    }

    fn blob_position(&self, descriptor: &Descriptor) -> Option<u64> {
        self.catalog
            .get(&descriptor.digest.blob_path())
            .map(|e| e.data_offset)
    }

    fn read_entry(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        let entry = self.catalog.file(path)?;
        if entry.size > limit {
            return Err(too_large(&self.location, path, entry.size, limit));
        }
        self.bytes_of(path, entry.kept.as_ref(), entry.data_offset, entry.size)
    }
}
