//! Moving bytes while hashing them, with hashing and I/O on different cores.
//!
//! SHA-256 runs at about the speed a disk writes, so doing one after the other takes
//! twice as long as either. [`copy_hashing`] reads and writes on the calling thread and
//! hashes on a second one, in chunks from a small pool of buffers: a copy then takes
//! about as long as hashing alone, in constant memory (`POOL` × `CHUNK`).

use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::sync::Arc;

use crate::oci::digest::Hasher;
use crate::progress::Progress;

/// Bytes per chunk (1 MiB): large enough that per-chunk overhead vanishes.
pub const CHUNK: usize = 1 << 20;
/// Chunks in flight at most (8 MiB of buffers), so memory stays flat whatever the size.
const POOL: usize = 8;
/// Below this many bytes a second thread costs more than it saves.
const THREADED_MIN: u64 = 4 << 20;

/// Which side of a copy failed.
#[derive(Debug)]
pub enum CopyError {
    /// Reading the source failed.
    Read(io::Error),
    /// Writing the destination failed.
    Write(io::Error),
    /// The source has more than the limit allows (reading stopped at limit + 1).
    TooLong {
        /// Bytes read before stopping.
        read: u64,
    },
}

/// Copies `reader` to `writer` (at most `limit` bytes; one more is a
/// [`CopyError::TooLong`]), hashing everything copied. `size_hint` (e.g. a descriptor's
/// size) chooses whether a hashing thread is worth starting. Every byte hashed is added
/// to `progress`. Returns the hasher, fed with exactly the bytes written.
pub fn copy_hashing(
    reader: &mut dyn Read,
    writer: &mut dyn Write,
    limit: u64,
    size_hint: Option<u64>,
    progress: &Progress,
) -> Result<Hasher, CopyError> {
    if size_hint.is_some_and(|s| s < THREADED_MIN) {
        return copy_inline(reader, writer, limit, progress);
    }
    let (to_hasher, chunks) = mpsc::sync_channel::<Arc<Vec<u8>>>(POOL);
    let (give_back, returned) = mpsc::channel::<Arc<Vec<u8>>>();
    std::thread::scope(|s| {
        let hashing = s.spawn(move || {
            let mut hasher = Hasher::new();
            for chunk in chunks {
                hasher.update(&chunk);
                progress.add_hashed(chunk.len() as u64);
                // The pool may be gone when the copy stopped early; nothing to do then.
                let _ = give_back.send(chunk);
            }
            hasher
        });
        let mut allocated = 0;
        let mut total: u64 = 0;
        let result = loop {
            let mut buf = match returned.try_recv() {
                Ok(chunk) => reclaim(chunk, &returned),
                Err(_) if allocated < POOL => {
                    allocated += 1;
                    vec![0u8; CHUNK]
                }
                Err(_) => match returned.recv() {
                    Ok(chunk) => reclaim(chunk, &returned),
                    Err(_) => break Ok(()),
                },
            };
            buf.resize(CHUNK, 0);
            let n = match fill(reader, &mut buf) {
                Ok(n) => n,
                Err(e) => break Err(CopyError::Read(e)),
            };
            if n == 0 {
                break Ok(());
            }
            total += n as u64;
            if total > limit {
                break Err(CopyError::TooLong { read: total });
            }
            buf.truncate(n);
            let chunk = Arc::new(buf);
            if to_hasher.send(Arc::clone(&chunk)).is_err() {
                break Ok(());
            }
            if let Err(e) = writer.write_all(&chunk) {
                break Err(CopyError::Write(e));
            }
        };
        drop(to_hasher);
        let hasher = hashing.join().expect("the hashing thread does not panic");
        result.map(|()| hasher)
    })
}

/// A buffer back from the hasher; the writer dropped its reference already, so the
/// `Arc` is unique (if not, allocate rather than wait).
fn reclaim(chunk: Arc<Vec<u8>>, _pool: &mpsc::Receiver<Arc<Vec<u8>>>) -> Vec<u8> {
    Arc::try_unwrap(chunk).unwrap_or_else(|_| vec![0u8; CHUNK])
}

/// Reads until `buf` is full or the source ends.
fn fill(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn copy_inline(
    reader: &mut dyn Read,
    writer: &mut dyn Write,
    limit: u64,
    progress: &Progress,
) -> Result<Hasher, CopyError> {
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = fill(reader, &mut buf).map_err(CopyError::Read)?;
        if n == 0 {
            return Ok(hasher);
        }
        if hasher.len() + n as u64 > limit {
            return Err(CopyError::TooLong {
                read: hasher.len() + n as u64,
            });
        }
        hasher.update(&buf[..n]);
        progress.add_hashed(n as u64);
        writer.write_all(&buf[..n]).map_err(CopyError::Write)?;
    }
}

/// Bytes written between two background flushes (64 MiB).
const FLUSH_EVERY: u64 = 64 << 20;

/// A file writer that has a background thread flush what was written so far
/// (`fdatasync`) every 64 MiB, so that the final `fsync` before a rename
/// finds little left to write: disk write-back overlaps hashing instead of following it.
/// The flushes only start write-back early; durability is still the caller's `fsync`.
pub struct FlushingFile {
    file: std::fs::File,
    since_kick: u64,
    kick: Option<mpsc::SyncSender<()>>,
    flusher: Option<std::thread::JoinHandle<()>>,
}

impl FlushingFile {
    /// Wraps `file` (writes go to it; a clone of the handle is flushed in the background).
    pub fn new(file: std::fs::File) -> io::Result<Self> {
        let flushed = file.try_clone()?;
        let (kick, kicks) = mpsc::sync_channel::<()>(1);
        let flusher = std::thread::spawn(move || {
            for () in kicks {
                let _ = flushed.sync_data();
            }
        });
        Ok(Self {
            file,
            since_kick: 0,
            kick: Some(kick),
            flusher: Some(flusher),
        })
    }

    /// Appends the first `len` bytes of `from` with `copy_file_range(2)`: the kernel moves
    /// them from one page cache to the other, without the copy in and out of a user-space
    /// buffer that `read`/`write` cost, and write-back is started every 64 MiB as for
    /// [`Write::write`]. Returns how many bytes were appended (fewer than `len` when `from`
    /// ended early), or `None`, having appended nothing, when the kernel or the file
    /// systems cannot (`EXDEV`, `ENOSYS`, `EOPNOTSUPP`, `EINVAL`): then copy with
    /// `read`/`write`. Anything buffered in front of this writer must be flushed first.
    pub fn append_from(&mut self, from: &std::fs::File, len: u64) -> io::Result<Option<u64>> {
        use rustix::io::Errno;
        let mut offset: u64 = 0;
        while offset < len {
            let want = (len - offset).min(FLUSH_EVERY - self.since_kick);
            let want = usize::try_from(want).unwrap_or(usize::MAX);
            let n = match rustix::fs::copy_file_range(
                from,
                Some(&mut offset),
                &self.file,
                None,
                want,
            ) {
                Ok(0) => break,
                Ok(n) => n as u64,
                Err(Errno::INTR) => continue,
                Err(Errno::XDEV | Errno::NOSYS | Errno::OPNOTSUPP | Errno::INVAL)
                    if offset == 0 =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e.into()),
            };
            self.since_kick += n;
            if self.since_kick >= FLUSH_EVERY {
                self.since_kick = 0;
                if let Some(kick) = &self.kick {
                    let _ = kick.try_send(());
                }
            }
        }
        Ok(Some(offset))
    }
}

impl Write for FlushingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.since_kick += n as u64;
        if self.since_kick >= FLUSH_EVERY {
            self.since_kick = 0;
            if let Some(kick) = &self.kick {
                // A flush still running absorbs this one.
                let _ = kick.try_send(());
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for FlushingFile {
    fn drop(&mut self) {
        self.kick.take();
        if let Some(t) = self.flusher.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::Digest;

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 1000) as u8).collect()
    }

    #[test]
    fn threaded_and_inline_copies_hash_and_write_the_same_bytes() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 9 * CHUNK + 123] {
            let input = data(len);
            for hint in [None, Some(0)] {
                let mut out = Vec::new();
                let hasher =
                    copy_hashing(&mut &input[..], &mut out, u64::MAX, hint, &Progress::none())
                        .unwrap();
                assert_eq!(out, input, "len {len}");
                assert_eq!(hasher.finish(), (Digest::of(&input), len as u64));
            }
        }
    }

    #[test]
    fn more_than_the_limit_is_refused_after_reading_one_chunk_too_many() {
        let input = data(3 * CHUNK);
        for hint in [None, Some(0)] {
            let mut out = Vec::new();
            match copy_hashing(
                &mut &input[..],
                &mut out,
                2 * CHUNK as u64,
                hint,
                &Progress::none(),
            ) {
                Err(CopyError::TooLong { read }) => assert!(read > 2 * CHUNK as u64),
                Err(other) => panic!("{other:?}"),
                Ok(_) => panic!("a copy over the limit succeeded"),
            }
        }
    }

    #[test]
    fn write_errors_are_reported_as_such() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from_raw_os_error(28))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let input = data(2 * CHUNK);
        for hint in [None, Some(0)] {
            assert!(matches!(
                copy_hashing(
                    &mut &input[..],
                    &mut Full,
                    u64::MAX,
                    hint,
                    &Progress::none()
                ),
                Err(CopyError::Write(_))
            ));
        }
    }

    /// The tests' archive: `head` written through the buffer, then `len` bytes of `from`.
    fn append_after(head: &[u8], from: &std::fs::File, len: u64) -> (Option<u64>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let mut out = FlushingFile::new(std::fs::File::create(&path).unwrap()).unwrap();
        out.write_all(head).unwrap();
        let appended = out.append_from(from, len).unwrap();
        out.write_all(b"tail").unwrap();
        drop(out);
        (appended, std::fs::read(&path).unwrap())
    }

    #[test]
    fn appending_a_file_in_the_kernel_writes_its_bytes_after_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source");
        // Past one background flush (64 MiB), not a multiple of a page.
        let len = FLUSH_EVERY as usize + 3 * CHUNK + 123;
        let input = data(len);
        std::fs::write(&source, &input).unwrap();
        let from = std::fs::File::open(&source).unwrap();
        let (appended, bytes) = append_after(b"head", &from, len as u64);
        assert_eq!(appended, Some(len as u64));
        assert_eq!(bytes.len(), 4 + len + 4);
        assert_eq!(&bytes[..4], b"head");
        assert!(bytes[4..4 + len] == input[..], "the appended bytes differ");
        assert_eq!(&bytes[4 + len..], b"tail");
        // Only the first `len` bytes, wherever the source's own offset is.
        let (appended, bytes) = append_after(b"", &from, 10);
        assert_eq!((appended, &bytes[..10]), (Some(10), &input[..10]));
    }

    #[test]
    fn a_source_shorter_than_asked_appends_what_it_has_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source");
        std::fs::write(&source, data(1000)).unwrap();
        let from = std::fs::File::open(&source).unwrap();
        let (appended, bytes) = append_after(b"", &from, 5000);
        assert_eq!(appended, Some(1000));
        assert_eq!(bytes.len(), 1000 + 4);
    }

    #[test]
    fn a_source_the_kernel_cannot_copy_from_appends_nothing_and_asks_for_a_buffered_copy() {
        // A character device: copy_file_range(2) refuses it (EINVAL), before any byte.
        let from = std::fs::File::open("/dev/zero").unwrap();
        let (appended, bytes) = append_after(b"head", &from, 4096);
        assert_eq!(appended, None);
        assert_eq!(bytes, b"headtail");
    }
}
