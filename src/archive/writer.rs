//! Writing archives deterministically: the same index and blobs give the same bytes, on
//! any machine, whatever the clock or the user.
//!
//! The `.tar` holds, in this order: `oci-layout`, `index.json`, `blobs/`,
//! `blobs/sha256/`, then every blob sorted by digest. Headers are POSIX ustar with
//! mtime 0 (or `SOURCE_DATE_EPOCH`), uid/gid 0, empty user and group names, mode 0644
//! for files and 0755 for directories, no `./` prefix; the archive ends with two zero
//! blocks and no record padding. `.tar.gz` wraps that in one gzip member with a fixed
//! header (no file name, mtime 0, OS byte 255 "unknown") compressed by miniz_oxide at
//! level 6, a pure-Rust deflate pinned by Cargo.lock, so the compressed bytes do not
//! depend on the system's zlib either.
//!
//! The file is written to a temporary name beside the destination, synced, and renamed
//! to it (over it only with `overwrite`; without, a file that appears meanwhile is
//! refused atomically, by `renameat2(RENAME_NOREPLACE)`): readers see the old archive or
//! the new one, never a partial one. Every blob
//! is hashed while it is copied in; a mismatch with its descriptor stops the write and
//! removes the temporary file. The one exception is an object file added by
//! [`ArchiveBuilder::put_file`]: it was hashed when added, and is copied without hashing
//! it again when its inode, size, mtime and ctime are still those it had then and it had
//! settled before the hashing began (see `FileStamp`); otherwise it is hashed again.
//! Into a plain `.tar` that copy is `copy_file_range(2)`: the kernel moves the pages,
//! nothing passes through a user-space buffer.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use miniz_oxide::deflate::core::CompressorOxide;
use miniz_oxide::deflate::CompressionLevel;
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};
use serde::Serialize;

use super::tar::{padded, BLOCK};
use crate::oci::media_type::{OCI_INDEX, OCI_LAYOUT_FILE_CONTENT};
use crate::oci::{canonical, Descriptor, Digest, ImageIndex, RefName};
use crate::oci::{IndexChange, IndexEditor};
use crate::progress::Progress;
use crate::store::ImageSource;
use crate::store::{io_err, Result, StoreError};
use crate::transfer::{copy_hashing, CopyError, FlushingFile};

/// Copy buffer (256 KiB, as for layout blobs).
const BUF_SIZE: usize = 256 << 10;

/// How an archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// A plain `.tar` (read by skopeo, oras, umoci's users, GNU tar).
    None,
    /// `.tar.gz` / `.tgz` (read by skopeo and GNU tar; oras reads plain tar only).
    Gzip,
}

impl Compression {
    /// The compression an output path asks for by its extension: `.tar` → none,
    /// `.tar.gz` / `.tgz` → gzip, anything else → not an archive (a layout directory).
    pub fn for_path(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(Self::Gzip)
        } else if name.ends_with(".tar") {
            Some(Self::None)
        } else {
            None
        }
    }
}

/// How to write an archive.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Plain or gzip.
    pub compression: Compression,
    /// Modification time of every entry, in seconds since 1970 (0 unless
    /// `SOURCE_DATE_EPOCH` says otherwise).
    pub mtime: u64,
    /// Replace the destination if it exists (otherwise that is an error).
    pub overwrite: bool,
    /// Where the bytes hashed while writing are counted.
    pub progress: Progress,
}

impl WriteOptions {
    /// Options for an output path, if it names an archive: compression from the
    /// extension, mtime 0 (callers set another, e.g. from `SOURCE_DATE_EPOCH`), no
    /// overwrite.
    pub fn for_path(path: &Path) -> Option<Self> {
        Some(Self {
            compression: Compression::for_path(path)?,
            mtime: 0,
            overwrite: false,
            progress: Progress::none(),
        })
    }
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenArchive {
    /// The archive.
    pub path: PathBuf,
    /// Plain or gzip.
    pub compression: Compression,
    /// Size of the archive file in bytes.
    pub size: u64,
    /// Number of blobs in it.
    pub blobs: usize,
    /// Bytes of blobs in it.
    pub blob_bytes: u64,
}

/// Where a blob's bytes come from when the archive is written.
enum Origin<'a> {
    /// In memory (configs and manifests we made or already read and verified).
    Bytes(Vec<u8>),
    /// A file on disk (an object being packed), hashed when added; hashed again when
    /// written unless `stamp` shows it unchanged since.
    File {
        /// Where it is.
        path: PathBuf,
        /// What it looked like when it was hashed, if it had settled by then.
        stamp: Option<FileStamp>,
    },
    /// Another layout or archive.
    Source(&'a dyn ImageSource),
}

/// An archive assembled in memory as an index plus where each blob comes from, then
/// written in one go by [`write`](Self::write). Nothing touches the disk before that.
pub struct ArchiveBuilder<'a> {
    index: IndexEditor,
    blobs: BTreeMap<Digest, (Descriptor, Origin<'a>)>,
}

impl Default for ArchiveBuilder<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> ArchiveBuilder<'a> {
    /// An empty archive: an empty index with our media type.
    pub fn new() -> Self {
        Self {
            index: IndexEditor::new(ImageIndex::empty()),
            blobs: BTreeMap::new(),
        }
    }

    /// The index as it will be written.
    pub fn index(&self) -> &ImageIndex {
        self.index.index()
    }

    /// Whether a blob with this digest is already included.
    pub fn contains(&self, digest: &Digest) -> bool {
        self.blobs.contains_key(digest)
    }

    fn insert(&mut self, descriptor: &Descriptor, origin: Origin<'a>) -> Result<()> {
        if let Some((known, _)) = self.blobs.get(&descriptor.digest) {
            if known.size != descriptor.size {
                return Err(StoreError::SizeMismatch {
                    path: PathBuf::from("index.json"),
                    digest: descriptor.digest.clone(),
                    expected: known.size,
                    found: descriptor.size,
                });
            }
            return Ok(());
        }
        let bare = Descriptor::new("", descriptor.digest.clone(), descriptor.size);
        self.blobs.insert(descriptor.digest.clone(), (bare, origin));
        Ok(())
    }

    /// Adds `bytes` as a blob and returns its descriptor.
    pub fn put_bytes(&mut self, media_type: &str, bytes: Vec<u8>) -> Descriptor {
        let d = Descriptor::new(media_type, Digest::of(&bytes), bytes.len() as u64);
        // Cannot conflict: digest and size come from the same bytes.
        let _ = self.insert(&d, Origin::Bytes(bytes));
        d
    }

    /// Serialises `value` canonically, adds it as a blob, and returns the descriptor with
    /// the exact bytes hashed.
    pub fn put_json<T: Serialize>(
        &mut self,
        media_type: &str,
        value: &T,
    ) -> Result<(Descriptor, Vec<u8>)> {
        let bytes = canonical::to_vec(value).map_err(|e| StoreError::Io {
            op: "serialising",
            path: PathBuf::from(media_type),
            source: io::Error::other(e),
        })?;
        Ok((self.put_bytes(media_type, bytes.clone()), bytes))
    }

    /// Adds the file at `path` as a blob: it is hashed now (constant memory) and copied
    /// when the archive is written. Fails with [`StoreError::FileChanged`] if the file changes while
    /// it is hashed. When it is written, a file that had settled before it was hashed
    /// (see `FileStamp`) must still be the same inode with the same size, mtime and
    /// ctime, and is copied without hashing it a second time; any other file is hashed
    /// again and must give the same digest. Either way, a change fails the write.
    pub fn put_file(&mut self, path: &Path) -> Result<(Digest, u64)> {
        self.put_file_at(path, SystemTime::now())
    }

    /// [`put_file`](Self::put_file), with `now` the time the hashing starts (tests
    /// pretend a file is older than it is).
    fn put_file_at(&mut self, path: &Path, now: SystemTime) -> Result<(Digest, u64)> {
        let mut file = File::open(path).map_err(io_err("opening", path))?;
        let before = FileStamp::of(&file).map_err(io_err("reading", path))?;
        // Read on this thread, hashed on a second core (as every other copy is).
        let hashed = copy_hashing(
            &mut file,
            &mut io::sink(),
            u64::MAX,
            Some(before.size),
            &Progress::none(),
        );
        let (digest, size) = match hashed {
            Ok(hasher) => hasher.finish(),
            Err(CopyError::Read(e)) => return Err(io_err("reading", path)(e)),
            Err(CopyError::Write(e)) => return Err(io_err("hashing", path)(e)),
            Err(CopyError::TooLong { .. }) => return Err(changed(path)),
        };
        let after = FileStamp::of(&file).map_err(io_err("reading", path))?;
        if after != before || after.size != size {
            return Err(changed(path));
        }
        let stamp = after.settled_before(now).then_some(after);
        self.insert(
            &Descriptor::new("", digest.clone(), size),
            Origin::File {
                path: path.to_path_buf(),
                stamp,
            },
        )?;
        Ok((digest, size))
    }

    /// Adds bytes already read and verified against `descriptor` (a manifest read
    /// through [`ImageSource::read_blob`]).
    pub fn put_verified(&mut self, descriptor: &Descriptor, bytes: Vec<u8>) -> Result<()> {
        self.insert(descriptor, Origin::Bytes(bytes))
    }

    /// Adds a blob of another layout or archive, streamed from it (and hashed) when the
    /// archive is written.
    pub fn put_from(&mut self, source: &'a dyn ImageSource, descriptor: &Descriptor) -> Result<()> {
        self.insert(descriptor, Origin::Source(source))
    }

    /// Points `name` at `descriptor`, as [`crate::layout::LayoutWriter::set_name`] does:
    /// an entry with that name is replaced in place (later duplicates removed), a new
    /// name is appended.
    pub fn set_name(&mut self, name: &RefName, descriptor: Descriptor) -> IndexChange {
        self.index.set_name(name, descriptor)
    }

    /// Lists `descriptor` in the index without a name (unless the very same entry is
    /// there already).
    pub fn add_untagged(&mut self, descriptor: Descriptor) -> IndexChange {
        self.index.add_untagged(descriptor)
    }

    /// Writes the archive to `dest` (temporary file beside it, sync, rename). Every blob
    /// is hashed as it is copied in and must match its descriptor; on any error the
    /// temporary file is removed and `dest` is left as it was.
    pub fn write(self, dest: &Path, options: &WriteOptions) -> Result<WrittenArchive> {
        check_destination(dest, options.overwrite)?;
        let mut index = self.index.into_index();
        if index.media_type.is_none() {
            index.media_type = Some(OCI_INDEX.to_string());
        }
        let index_bytes = canonical::to_vec(&index).map_err(|e| StoreError::Io {
            op: "serialising",
            path: dest.join("index.json"),
            source: io::Error::other(e),
        })?;
        let temp = TempFile::create(dest)?;
        let file = temp
            .file
            .as_file()
            .try_clone()
            .map_err(io_err("opening", temp.path()))?;
        // Write-back starts in the background while later blobs are hashed.
        let file = FlushingFile::new(file).map_err(io_err("opening", temp.path()))?;
        let buffered = BufWriter::with_capacity(BUF_SIZE, file);
        let mut out: Box<dyn ArchiveSink> = match options.compression {
            Compression::None => Box::new(buffered),
            Compression::Gzip => Box::new(GzipWriter::new(buffered)),
        };
        let temp_path = temp.path().to_path_buf();
        let werr = |e: io::Error| full_disk_hint(dest, io_err("writing", &temp_path)(e));
        let mtime = options.mtime;
        write_file(&mut *out, "oci-layout", OCI_LAYOUT_FILE_CONTENT, mtime).map_err(werr)?;
        write_file(&mut *out, "index.json", &index_bytes, mtime).map_err(werr)?;
        write_header(&mut *out, "blobs/", tar::EntryType::Directory, 0, mtime).map_err(werr)?;
        write_header(
            &mut *out,
            "blobs/sha256/",
            tar::EntryType::Directory,
            0,
            mtime,
        )
        .map_err(werr)?;
        let mut blob_bytes = 0;
        let blobs = self.blobs.len();
        for (digest, (descriptor, origin)) in &self.blobs {
            let (reader, from): (Box<dyn Read + '_>, PathBuf) = match origin {
                Origin::Bytes(b) => (Box::new(&b[..]), dest.to_path_buf()),
                Origin::File { path, stamp: None } => (
                    Box::new(File::open(path).map_err(io_err("opening", path))?),
                    path.clone(),
                ),
                Origin::File {
                    path,
                    stamp: Some(stamp),
                } => {
                    // Hashed once already, and provably unchanged: copied as is.
                    write_header(
                        &mut *out,
                        &digest.blob_path(),
                        tar::EntryType::Regular,
                        descriptor.size,
                        mtime,
                    )
                    .map_err(werr)?;
                    copy_unchanged(path, stamp, &mut *out, &temp_path)?;
                    out.write_all(&ZEROS[..(padded(descriptor.size) - descriptor.size) as usize])
                        .map_err(werr)?;
                    blob_bytes += descriptor.size;
                    continue;
                }
                Origin::Source(s) => (s.open_blob(descriptor)?, s.location().to_path_buf()),
            };
            write_header(
                &mut *out,
                &digest.blob_path(),
                tar::EntryType::Regular,
                descriptor.size,
                mtime,
            )
            .map_err(werr)?;
            copy_verified(
                reader,
                &mut *out,
                descriptor,
                (&from, &temp_path),
                &options.progress,
            )
            .map_err(|e| full_disk_hint(dest, e))?;
            out.write_all(&ZEROS[..(padded(descriptor.size) - descriptor.size) as usize])
                .map_err(werr)?;
            blob_bytes += descriptor.size;
        }
        out.write_all(&ZEROS[..2 * BLOCK as usize]).map_err(werr)?;
        out.finish().map_err(werr)?;
        drop(out);
        let size = temp.commit(dest, options.overwrite)?;
        Ok(WrittenArchive {
            path: dest.to_path_buf(),
            compression: options.compression,
            size,
            blobs,
            blob_bytes,
        })
    }
}

static ZEROS: [u8; 2 * BLOCK as usize] = [0; 2 * BLOCK as usize];

/// Turns "no space left on device" (or an exhausted quota) while writing the archive into
/// an error that says what happened to `dest` and what to do, as for layouts.
fn full_disk_hint(dest: &Path, e: StoreError) -> StoreError {
    match e {
        StoreError::Io { op, path, source }
            if matches!(
                source.raw_os_error(),
                Some(libc::ENOSPC) | Some(libc::EDQUOT)
            ) =>
        {
            StoreError::ArchiveDiskFull {
                archive: dest.to_path_buf(),
                op,
                path,
                error: source,
            }
        }
        other => other,
    }
}

/// Refuses to write over a directory, or over an existing file without `overwrite`.
pub fn check_destination(dest: &Path, overwrite: bool) -> Result<()> {
    match fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => Err(StoreError::ArchiveIsADirectory {
            path: dest.to_path_buf(),
        }),
        Ok(_) if !overwrite => Err(StoreError::ArchiveExists {
            path: dest.to_path_buf(),
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() && !p.is_dir() => Err(StoreError::NoSuchFolder {
                path: dest.to_path_buf(),
                folder: p.to_path_buf(),
            }),
            _ => Ok(()),
        },
        Err(e) => Err(io_err("reading", dest)(e)),
    }
}

/// What identifies a file's content without reading it: the inode and its size, mtime
/// and ctime (to the nanosecond). Any write to the file, or a rename of another file
/// over it, changes one of them, provided the file had settled: its ctime is older than
/// the moment the stamp was taken by more than [`SETTLE`]. A later change then gets a
/// later ctime even where timestamps are coarse (a clock tick, or seconds on some file
/// systems). `touch` can set mtime but not ctime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// How long before the hashing starts a file must have last changed for its stamp to
/// stand for its content (twice the coarsest common timestamp granularity, FAT's 2 s).
const SETTLE: Duration = Duration::from_secs(4);

impl FileStamp {
    fn of(file: &File) -> io::Result<Self> {
        let m = file.metadata()?;
        Ok(Self {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }

    /// Whether the file last changed more than [`SETTLE`] before `now`.
    fn settled_before(&self, now: SystemTime) -> bool {
        let Ok(now) = now.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let (Ok(secs), Ok(nanos)) = (u64::try_from(self.ctime.0), u32::try_from(self.ctime.1))
        else {
            return false;
        };
        Duration::new(secs, nanos.min(999_999_999)) + SETTLE < now
    }
}

fn changed(path: &Path) -> StoreError {
    StoreError::FileChanged {
        path: path.to_path_buf(),
    }
}

/// Copies a file hashed when it was added, checking (before and after) that it is
/// still what was hashed: same inode, size, mtime and ctime.
fn copy_unchanged(
    path: &Path,
    stamp: &FileStamp,
    out: &mut dyn ArchiveSink,
    temp_path: &Path,
) -> Result<()> {
    let file = File::open(path).map_err(io_err("opening", path))?;
    let same = |file: &File| -> Result<bool> {
        Ok(FileStamp::of(file).map_err(io_err("reading", path))? == *stamp)
    };
    if !same(&file)? {
        return Err(changed(path));
    }
    if let Some(appended) = out
        .append_file(&file, stamp.size)
        .map_err(io_err("copying into", temp_path))?
    {
        if appended != stamp.size || !same(&file)? {
            return Err(changed(path));
        }
        return Ok(());
    }
    let mut reader = (&file).take(stamp.size + 1);
    let mut buf = vec![0u8; crate::transfer::CHUNK];
    let mut copied = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err("reading", path)(e)),
        };
        copied += n as u64;
        if copied > stamp.size {
            return Err(changed(path));
        }
        out.write_all(&buf[..n])
            .map_err(io_err("writing", temp_path))?;
    }
    if copied != stamp.size || !same(&file)? {
        return Err(changed(path));
    }
    Ok(())
}

/// Copies exactly `descriptor.size` bytes from `reader`, hashing them on a second core
/// while they are written; the content must match the descriptor.
fn copy_verified(
    mut reader: Box<dyn Read + '_>,
    out: &mut dyn ArchiveSink,
    descriptor: &Descriptor,
    (from, temp_path): (&Path, &Path),
    progress: &Progress,
) -> Result<()> {
    let copied = copy_hashing(
        &mut reader,
        out,
        descriptor.size,
        Some(descriptor.size),
        progress,
    );
    let hasher = match copied {
        Ok(h) => h,
        Err(CopyError::Read(e)) => {
            return Err(io_err("reading", from.join(descriptor.digest.blob_path()))(
                e,
            ))
        }
        Err(CopyError::Write(e)) => return Err(io_err("writing", temp_path)(e)),
        Err(CopyError::TooLong { read }) => {
            return Err(StoreError::SizeMismatch {
                path: from.to_path_buf(),
                digest: descriptor.digest.clone(),
                expected: descriptor.size,
                found: read,
            })
        }
    };
    let (found, size) = hasher.finish();
    if size != descriptor.size {
        return Err(StoreError::SizeMismatch {
            path: from.to_path_buf(),
            digest: descriptor.digest.clone(),
            expected: descriptor.size,
            found: size,
        });
    }
    if found != descriptor.digest {
        return Err(StoreError::DigestMismatch {
            path: from.to_path_buf(),
            expected: descriptor.digest.clone(),
            found,
        });
    }
    Ok(())
}

fn write_header(
    out: &mut dyn ArchiveSink,
    path: &str,
    kind: tar::EntryType,
    size: u64,
    mtime: u64,
) -> io::Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h.set_cksum();
    out.write_all(h.as_bytes())
}

fn write_file(out: &mut dyn ArchiveSink, path: &str, bytes: &[u8], mtime: u64) -> io::Result<()> {
    write_header(
        out,
        path,
        tar::EntryType::Regular,
        bytes.len() as u64,
        mtime,
    )?;
    out.write_all(bytes)?;
    let pad = padded(bytes.len() as u64) - bytes.len() as u64;
    out.write_all(&ZEROS[..pad as usize])
}

/// A writer that must be finished explicitly (the gzip trailer, the final flush).
trait ArchiveSink: Write {
    fn finish(&mut self) -> io::Result<()>;

    /// Appends the first `len` bytes of `from` as they are, in the kernel where it can
    /// (see [`FlushingFile::append_from`]): the bytes appended, or `None`, having written
    /// nothing, when this sink cannot (it compresses, or the file systems do not allow
    /// it) and the caller must copy through a buffer.
    fn append_file(&mut self, _from: &File, _len: u64) -> io::Result<Option<u64>> {
        Ok(None)
    }
}

impl ArchiveSink for BufWriter<FlushingFile> {
    fn finish(&mut self) -> io::Result<()> {
        self.flush()
    }

    fn append_file(&mut self, from: &File, len: u64) -> io::Result<Option<u64>> {
        self.flush()?;
        self.get_mut().append_from(from, len)
    }
}

/// A gzip writer with a fixed header, compressing with miniz_oxide (see the module
/// documentation for why not flate2's encoder: its backend depends on cargo features
/// other crates may switch on, and so would our bytes).
struct GzipWriter<W: Write> {
    inner: W,
    compressor: Box<CompressorOxide>,
    crc: crc32fast::Hasher,
    size: u32,
    out: Vec<u8>,
    header_written: bool,
}

/// The gzip header we write: magic, deflate, no flags, mtime 0, XFL 0, OS 255 (unknown).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

impl<W: Write> GzipWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            compressor: Box::new(CompressorOxide::with_format_and_level(
                DataFormat::Raw,
                CompressionLevel::DefaultLevel,
            )),
            crc: crc32fast::Hasher::new(),
            size: 0,
            out: vec![0u8; BUF_SIZE],
            header_written: false,
        }
    }

    fn deflate(&mut self, mut input: &[u8], flush: MZFlush) -> io::Result<()> {
        if !self.header_written {
            self.inner.write_all(&GZIP_HEADER)?;
            self.header_written = true;
        }
        loop {
            let r = miniz_oxide::deflate::stream::deflate(
                &mut self.compressor,
                input,
                &mut self.out,
                flush,
            );
            self.inner.write_all(&self.out[..r.bytes_written])?;
            input = &input[r.bytes_consumed..];
            match r.status {
                Ok(MZStatus::StreamEnd) => return Ok(()),
                Ok(_) => {}
                // No progress possible without more input: all of it was taken.
                Err(MZError::Buf) if flush == MZFlush::None && input.is_empty() => return Ok(()),
                Err(e) => return Err(io::Error::other(format!("deflate failed: {e:?}"))),
            }
            if flush == MZFlush::None && input.is_empty() && r.bytes_written < self.out.len() {
                return Ok(());
            }
        }
    }
}

impl<W: Write> Write for GzipWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.crc.update(buf);
        self.size = self.size.wrapping_add(buf.len() as u32);
        self.deflate(buf, MZFlush::None)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // A sync flush would add bytes to the stream: only the final `finish` flushes.
        Ok(())
    }
}

impl<W: Write> ArchiveSink for GzipWriter<W> {
    fn finish(&mut self) -> io::Result<()> {
        self.deflate(&[], MZFlush::Finish)?;
        let crc = std::mem::take(&mut self.crc).finalize();
        self.inner.write_all(&crc.to_le_bytes())?;
        self.inner.write_all(&self.size.to_le_bytes())?;
        self.inner.flush()
    }
}

/// Takes an exclusive lock on the folder that holds `dest` (`flock` on the directory),
/// waiting for other writers there: `pack` into an existing archive reads it and writes
/// its replacement, and two such updates must not interleave (no image is lost). The
/// lock is released when the returned file is dropped, or when the process ends.
pub fn lock_folder(dest: &Path) -> Result<File> {
    let dir = folder_of(dest);
    if !dir.is_dir() {
        return Err(StoreError::NoSuchFolder {
            path: dest.to_path_buf(),
            folder: dir.to_path_buf(),
        });
    }
    let f = File::open(dir).map_err(io_err("opening", dir))?;
    f.lock().map_err(io_err("locking", dir))?;
    Ok(f)
}

fn folder_of(dest: &Path) -> &Path {
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Removes `.NAME.PID-XXXXXX.tmp` files beside `dest` left by writers that died (killed
/// mid-write: their `Drop` never ran). A file whose process is alive is left alone.
fn remove_stale_temps(dest: &Path) {
    let Some(name) = dest.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(folder_of(dest)) else {
        return;
    };
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(rest) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".tmp"))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// The archive being written: `.NAME.PID-XXXXXX.tmp` beside the destination (random
/// suffix, created exclusively), a [`tempfile::NamedTempFile`], so it is removed when
/// dropped unless committed — on an error, a panic, or an interrupt that unwinds.
struct TempFile {
    file: tempfile::NamedTempFile,
    /// Removes the file if a signal ends the process (declared last: dropped after the
    /// file is gone or renamed).
    _watched: super::cleanup::Registered,
}

impl TempFile {
    fn create(dest: &Path) -> Result<Self> {
        remove_stale_temps(dest);
        let dir = folder_of(dest);
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "archive".into());
        let prefix = format!(".{name}.{}-", std::process::id());
        let (file, watched) = super::cleanup::create_watched(
            || {
                tempfile::Builder::new()
                    .prefix(&prefix)
                    .suffix(".tmp")
                    // As a plain create would: 0666 less the umask (tempfile's default is 0600).
                    .permissions(fs::Permissions::from_mode(0o666))
                    .tempfile_in(dir)
            },
            |f| f.path(),
        )
        .map_err(|e| {
            full_disk_hint(
                dest,
                io_err("creating", dir.join(format!("{prefix}XXXXXX.tmp")))(e),
            )
        })?;
        Ok(Self {
            file,
            _watched: watched,
        })
    }

    fn path(&self) -> &Path {
        self.file.path()
    }

    /// Syncs, renames to `dest` (over it only with `overwrite`; otherwise atomically
    /// refusing a file that appeared since [`check_destination`]), syncs the folder;
    /// returns the file's size.
    fn commit(self, dest: &Path, overwrite: bool) -> Result<u64> {
        let path = self.path().to_path_buf();
        let file = self.file.as_file();
        file.sync_all()
            .map_err(|e| full_disk_hint(dest, io_err("syncing", &path)(e)))?;
        let size = file.metadata().map_err(io_err("reading", &path))?.len();
        let persisted = if overwrite {
            self.file.persist(dest)
        } else {
            match self.file.persist_noclobber(dest) {
                // A file system with neither RENAME_NOREPLACE nor hard links (some FUSE
                // mounts): fall back to the plain rename, after checking once more.
                Err(e)
                    if matches!(
                        e.error.raw_os_error(),
                        Some(libc::EPERM | libc::EOPNOTSUPP | libc::ENOSYS)
                    ) && fs::symlink_metadata(dest)
                        .is_err_and(|m| m.kind() == io::ErrorKind::NotFound) =>
                {
                    e.file.persist(dest)
                }
                other => other,
            }
        };
        // On failure the temporary file comes back in the error and is removed with it.
        persisted.map_err(|e| match e.error.kind() {
            io::ErrorKind::AlreadyExists => StoreError::ArchiveCreatedMeanwhile {
                path: dest.to_path_buf(),
            },
            _ => io_err("renaming into", dest)(e.error),
        })?;
        let dir = folder_of(dest);
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("syncing", dir))?;
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_in(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_destination_that_appears_during_the_write_is_kept_without_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("bundle.tar");
        check_destination(&dest, false).unwrap();
        let mut temp = TempFile::create(&dest).unwrap();
        let name = temp
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let pid = std::process::id();
        assert!(
            name.starts_with(&format!(".bundle.tar.{pid}-")) && name.ends_with(".tmp"),
            "{name}: the stale-file sweep parses this form"
        );
        temp.file.write_all(b"new").unwrap();
        // Another process creates the destination between the check and the rename.
        fs::write(&dest, b"theirs").unwrap();
        let e = temp.commit(&dest, false).unwrap_err();
        assert!(e.to_string().contains("--force"), "{e}");
        assert_eq!(fs::read(&dest).unwrap(), b"theirs");
        assert_eq!(
            names_in(dir.path()),
            ["bundle.tar"],
            "temporary file removed"
        );
        // With overwrite the new archive replaces it.
        let mut temp = TempFile::create(&dest).unwrap();
        temp.file.write_all(b"new").unwrap();
        assert_eq!(temp.commit(&dest, true).unwrap(), 3);
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        assert_eq!(names_in(dir.path()), ["bundle.tar"]);
    }

    #[test]
    fn a_dropped_temporary_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let temp = TempFile::create(&dir.path().join("x.tar.gz")).unwrap();
        assert_eq!(names_in(dir.path()).len(), 1);
        drop(temp);
        assert!(names_in(dir.path()).is_empty());
    }

    #[test]
    fn gzip_output_is_a_valid_fixed_header_stream() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut w = GzipWriter::new(Vec::new());
        for chunk in data.chunks(7777) {
            w.write_all(chunk).unwrap();
        }
        w.finish().unwrap();
        let gz = w.inner;
        assert_eq!(gz[..10], GZIP_HEADER);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        // Same input, same bytes.
        let mut again = GzipWriter::new(Vec::new());
        again.write_all(&data).unwrap();
        again.finish().unwrap();
        assert_eq!(again.inner, gz);
    }

    #[test]
    fn empty_gzip_stream_is_valid() {
        let mut w = GzipWriter::new(Vec::new());
        w.finish().unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&w.inner[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty());
    }

    /// Packs `object` alone into an archive with `now` as the time hashing starts;
    /// `change` runs between adding the file and writing the archive.
    fn archive_of(
        dir: &Path,
        object: &Path,
        now: SystemTime,
        change: impl FnOnce(),
    ) -> Result<Vec<u8>> {
        static ARCHIVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = ARCHIVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dest = dir.join(format!("out-{n}.tar"));
        let mut builder = ArchiveBuilder::new();
        let (digest, size) = builder.put_file_at(object, now)?;
        let name = RefName::parse("probe").unwrap();
        builder.set_name(&name, Descriptor::new("x", digest, size));
        change();
        let written = builder.write(&dest, &WriteOptions::for_path(&dest).unwrap());
        let bytes = fs::read(&dest).ok();
        let _ = fs::remove_file(&dest);
        written.map(|_| bytes.unwrap())
    }

    #[test]
    fn a_settled_file_hashed_once_gives_the_same_archive_as_one_hashed_twice() {
        let dir = tempfile::tempdir().unwrap();
        let object = dir.path().join("p.o");
        fs::write(&object, vec![7u8; 3 << 20]).unwrap();
        let later = SystemTime::now() + Duration::from_secs(3600);
        let once = archive_of(dir.path(), &object, later, || {}).unwrap();
        let twice = archive_of(dir.path(), &object, SystemTime::now(), || {}).unwrap();
        assert_eq!(once, twice);
        assert!(once.windows(1 << 20).any(|w| w.iter().all(|&b| b == 7)));
    }

    #[test]
    fn a_file_changed_after_hashing_fails_the_write_on_both_paths() {
        let dir = tempfile::tempdir().unwrap();
        let object = dir.path().join("p.o");
        let later = SystemTime::now() + Duration::from_secs(3600);
        for now in [later, SystemTime::now()] {
            fs::write(&object, vec![1u8; 5 << 20]).unwrap();
            // Same size, other bytes: only the content (and its ctime) tell.
            let result = archive_of(dir.path(), &object, now, || {
                // Past the clock tick of the first write, as a settled file would be.
                std::thread::sleep(Duration::from_millis(50));
                fs::write(&object, vec![2u8; 5 << 20]).unwrap()
            });
            assert!(
                matches!(
                    result,
                    Err(StoreError::FileChanged { .. }) | Err(StoreError::DigestMismatch { .. })
                ),
                "{result:?}"
            );
        }
        // Nothing left behind: no archive, no temporary file.
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("p.o")]);
    }

    #[test]
    fn archive_extensions_choose_the_compression() {
        assert_eq!(
            Compression::for_path(Path::new("a/b.tar")),
            Some(Compression::None)
        );
        assert_eq!(
            Compression::for_path(Path::new("b.TAR.GZ")),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::for_path(Path::new("b.tgz")),
            Some(Compression::Gzip)
        );
        assert_eq!(Compression::for_path(Path::new("bundle")), None);
        assert_eq!(
            Compression::for_path(Path::new("x.tar/")),
            Some(Compression::None)
        );
    }
}
