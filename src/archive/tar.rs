//! The tar format, read defensively: one 512-byte header at a time, checksums checked,
//! numeric fields parsed strictly, PAX and GNU long-name records bounded, and every
//! byte counted so that a truncated archive is named as such.
//!
//! This is deliberately our own small parser rather than a general tar library: it never
//! touches the file system, it holds at most one bounded metadata record in memory, and
//! it reports positions, so the same code serves random access over a `.tar` file (data
//! is skipped by seeking) and one streaming pass over a decompressed `.tar.gz` or
//! standard input (data is read and discarded).

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::limits::{MAX_METADATA_SIZE, MAX_NAME_LEN};
use crate::store::{io_err, Result, StoreError};

/// Size of a tar block.
pub const BLOCK: u64 = 512;

/// Rounds `n` up to a whole number of blocks.
pub fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK) * BLOCK
}

/// One entry as found in the archive: its raw name (after PAX / GNU long-name records
/// are applied), type and where its data is.
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// The name as stored (not yet checked or normalised).
    pub name: Vec<u8>,
    /// The tar type flag (`b'0'` regular file, `b'5'` directory, …).
    pub typeflag: u8,
    /// Size of the entry's data in bytes.
    pub size: u64,
    /// Link target, for symlinks and hard links.
    pub link: Vec<u8>,
    /// Offset of its data in the tar stream.
    pub data_offset: u64,
}

impl RawEntry {
    /// The name for messages (lossy UTF-8).
    pub fn display_name(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// A byte source the tar reader can skip forward in: by seeking (a file) or by reading
/// and discarding (a stream).
pub trait Input: Read {
    /// Skips `n` bytes. Returns how many could be skipped (fewer only at end of input).
    fn skip(&mut self, n: u64) -> io::Result<u64>;
}

/// A seekable file: skipping is a seek, checked against the file's length.
pub struct SeekInput<R> {
    inner: R,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> SeekInput<R> {
    /// Wraps `inner`, positioned at 0, whose total length is `len`.
    pub fn new(inner: R, len: u64) -> Self {
        Self { inner, pos: 0, len }
    }
}

impl<R: Read + Seek> Read for SeekInput<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Input for SeekInput<R> {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let n = n.min(self.len.saturating_sub(self.pos));
        if n > 0 {
            self.inner.seek(SeekFrom::Current(n as i64))?;
            self.pos += n;
        }
        Ok(n)
    }
}

/// A stream: skipping reads and discards.
pub struct StreamInput<R>(pub R);

impl<R: Read> Read for StreamInput<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Input for StreamInput<R> {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        io::copy(&mut (&mut self.0).take(n), &mut io::sink())
    }
}

/// Reads entries one by one. After [`next_entry`](Self::next_entry) the caller may read
/// the entry's data with [`read_data`](Self::read_data); whatever it leaves is skipped
/// by the next call.
pub struct TarReader<I> {
    input: I,
    location: PathBuf,
    /// Offset in the tar stream of the next byte `input` yields.
    pos: u64,
    /// Data bytes of the current entry not consumed yet.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    /// Name of the current entry, for messages.
    current: String,
    headers: u64,
    max_headers: u64,
    finished: bool,
}

impl<I: Input> TarReader<I> {
    /// Reads tar data from `input`; `location` names the archive in errors; at most
    /// `max_headers` headers (PAX and long-name records included) are read.
    pub fn new(input: I, location: &Path, max_headers: u64) -> Self {
        Self {
            input,
            location: location.to_path_buf(),
            pos: 0,
            remaining: 0,
            padding: 0,
            current: String::new(),
            headers: 0,
            max_headers,
            finished: false,
        }
    }

    fn archive_err(&self, entry: &str, reason: impl Into<String>) -> StoreError {
        StoreError::Archive {
            path: self.location.clone(),
            entry: entry.to_string(),
            reason: reason.into(),
        }
    }

    fn truncated(&self, entry: &str, what: String) -> StoreError {
        StoreError::Truncated {
            path: self.location.clone(),
            entry: entry.to_string(),
            reason: what,
        }
    }

    fn io(&self, e: io::Error) -> StoreError {
        // Decompression errors (corrupt or truncated gzip) arrive as io errors; keep
        // the limits' own errors intact.
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<LimitExceeded>())
        {
            Some(limit) => self.archive_err(&self.current, limit.0.clone()),
            None if corrupt_data(&e).is_some() => StoreError::Corrupt {
                path: self.location.clone(),
                entry: self.current.clone(),
                reason: corrupt_data(&e).unwrap_or_default(),
            },
            None if e.kind() == io::ErrorKind::UnexpectedEof => self.truncated(
                &self.current,
                format!(
                    "the data ends early, at byte {} of the tar stream",
                    self.pos
                ),
            ),
            None => io_err("reading", &self.location)(e),
        }
    }

    /// Reads up to `buf.len()` bytes, stopping only at end of input. Returns how many.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            match self.input.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => {
                    got += n;
                    self.pos += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        }
        Ok(got)
    }

    fn skip_exact(&mut self, n: u64) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        let skipped = self.input.skip(n).map_err(|e| self.io(e))?;
        self.pos += skipped;
        if skipped < n {
            return Err(self.truncated(
                &self.current.clone(),
                format!(
                    "the archive ends at byte {} inside this entry, which needs {} more bytes",
                    self.pos,
                    n - skipped
                ),
            ));
        }
        Ok(())
    }

    /// Reads the current entry's data, at most `buf.len()` bytes per call; `Ok(0)` at its
    /// end. Running out of input before the entry's size is [`StoreError::Truncated`].
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = loop {
            match self.input.read(&mut buf[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        };
        if n == 0 {
            return Err(self.truncated(
                &self.current.clone(),
                format!(
                    "the archive ends at byte {} inside this entry, which needs {} more bytes",
                    self.pos, self.remaining
                ),
            ));
        }
        self.pos += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }

    /// Reads the current entry's whole data, which the caller has checked is small.
    fn read_small(&mut self, what: &str) -> Result<Vec<u8>> {
        if self.remaining > MAX_METADATA_SIZE {
            return Err(self.archive_err(
                what,
                format!(
                    "record of {} bytes is over the {MAX_METADATA_SIZE}-byte limit for tar metadata",
                    self.remaining
                ),
            ));
        }
        let mut out = vec![0u8; self.remaining as usize];
        let mut got = 0;
        while got < out.len() {
            let n = self.read_data(&mut out[got..])?;
            got += n;
        }
        Ok(out)
    }

    /// The next entry, or `None` at the end-of-archive marker. PAX extended headers and
    /// GNU long-name records are applied to the entry they precede.
    pub fn next_entry(&mut self) -> Result<Option<RawEntry>> {
        if self.finished {
            return Ok(None);
        }
        let leftover = self.remaining + self.padding;
        self.remaining = 0;
        self.padding = 0;
        self.skip_exact(leftover)?;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax = Pax::default();
        loop {
            let header_offset = self.pos;
            let mut block = [0u8; BLOCK as usize];
            let got = self.fill(&mut block)?;
            if got == 0 {
                self.current.clear();
                return Err(if header_offset == 0 {
                    self.archive_err("", "the file is empty: not a tar archive")
                } else {
                    self.truncated(
                        "",
                        format!(
                            "the archive ends at byte {header_offset} without the end-of-archive marker (two zero blocks)"
                        ),
                    )
                });
            }
            if got < BLOCK as usize {
                return Err(self.truncated(
                    "",
                    format!("the archive ends at byte {} inside a header", self.pos),
                ));
            }
            if block.iter().all(|&b| b == 0) {
                self.finished = true;
                return Ok(None);
            }
            self.headers += 1;
            if self.headers > self.max_headers {
                return Err(self.archive_err(
                    "",
                    format!(
                        "more than {} entries (--max-entries / EBPF_LAYOUT_MAX_ENTRIES); if the archive is genuine, raise the limit",
                        self.max_headers
                    ),
                ));
            }
            let header = parse_header(&block).map_err(|reason| {
                if header_offset == 0 {
                    self.archive_err("", format!("not a tar archive ({reason})"))
                } else {
                    self.archive_err(
                        "",
                        format!("corrupt header at byte {header_offset}: {reason}"),
                    )
                }
            })?;
            let mut size = header.size;
            if let Some(s) = pax.size {
                size = s;
            }
            self.current = String::from_utf8_lossy(
                long_name
                    .as_deref()
                    .or(pax.path.as_deref())
                    .unwrap_or(&header.name),
            )
            .into_owned();
            // The size comes from the input: a value near 2^64 must not wrap the
            // arithmetic of where the next header is (the stream would then parse entry
            // data as headers while the seeking reader refuses the same bytes).
            let padding = (BLOCK - size % BLOCK) % BLOCK;
            let end = self
                .pos
                .checked_add(size)
                .and_then(|e| e.checked_add(padding));
            if end.is_none_or(|end| end > i64::MAX as u64) {
                let from = if pax.size.is_some() {
                    "its PAX size record"
                } else {
                    "its header"
                };
                return Err(self.archive_err(
                    &self.current.clone(),
                    format!(
                        "entry size {size} (from {from}) is larger than any archive can be: the archive is corrupt or was crafted"
                    ),
                ));
            }
            self.remaining = size;
            self.padding = padding;
            if matches!(header.typeflag, b'x' | b'g' | b'L' | b'K') {
                let what = match header.typeflag {
                    b'x' => "PAX extended header",
                    b'g' => "PAX global header",
                    b'L' => "GNU long name",
                    _ => "GNU long link name",
                };
                let data = self.read_small(what)?;
                let padding = std::mem::take(&mut self.padding);
                self.skip_exact(padding)?;
                match header.typeflag {
                    b'x' => pax = parse_pax(&data).map_err(|r| self.archive_err(what, r))?,
                    // Global PAX headers set defaults (charset, times) we do not use.
                    b'g' => {}
                    b'L' => long_name = Some(trim_nul(data)),
                    _ => long_link = Some(trim_nul(data)),
                }
                continue;
            }
            let name = long_name.take().or(pax.path.take()).unwrap_or(header.name);
            let link = long_link
                .take()
                .or(pax.linkpath.take())
                .unwrap_or(header.link);
            if name.len() > MAX_NAME_LEN {
                return Err(self.archive_err(
                    &String::from_utf8_lossy(&name[..64]),
                    format!("name of {} bytes is over {MAX_NAME_LEN}", name.len()),
                ));
            }
            return Ok(Some(RawEntry {
                name,
                typeflag: header.typeflag,
                size,
                link,
                data_offset: self.pos,
            }));
        }
    }

    /// After the end-of-archive marker: reads what follows to the end of the input (a
    /// second zero block, record padding, or a compressed stream's trailer, which is how
    /// a gzip checksum gets verified). Bytes there are ignored, as GNU tar does.
    pub fn drain(&mut self) -> Result<()> {
        let mut buf = [0u8; 8192];
        while self.fill(&mut buf)? > 0 {}
        Ok(())
    }
}

/// The error a reader puts inside an `io::Error` when a limit stops it, so that the tar
/// reader can turn it back into a precise message.
#[derive(Debug)]
pub struct LimitExceeded(pub String);

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LimitExceeded {}

/// The error a decompressor puts inside an `io::Error` when the compressed data is
/// damaged (a gzip CRC or length that does not match, deflate data that does not decode),
/// so that the tar reader reports damage in transit ([`StoreError::Corrupt`]), not an I/O error.
#[derive(Debug)]
pub struct CorruptData(pub String);

impl std::fmt::Display for CorruptData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CorruptData {}

/// The damage a decompressor reported inside `e`, if it did.
pub(crate) fn corrupt_data(e: &io::Error) -> Option<String> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<CorruptData>())
        .map(|c| c.0.clone())
}

fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

/// The fields of one header block we use.
#[derive(Debug)]
struct Header {
    name: Vec<u8>,
    typeflag: u8,
    size: u64,
    link: Vec<u8>,
}

fn field(block: &[u8], start: usize, len: usize) -> &[u8] {
    let f = &block[start..start + len];
    let end = f.iter().position(|&b| b == 0).unwrap_or(len);
    &f[..end]
}

/// Parses one header block (not all zeros). Checks the checksum first, so that random
/// bytes are "not a tar archive" rather than a strange entry.
fn parse_header(block: &[u8; BLOCK as usize]) -> std::result::Result<Header, String> {
    let stored = parse_number(&block[148..156]).map_err(|e| format!("checksum field: {e}"))?;
    let unsigned: u64 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                b' ' as u64
            } else {
                b as u64
            }
        })
        .sum();
    // Some old writers summed signed chars.
    let signed: i64 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                b' ' as i64
            } else {
                b as i8 as i64
            }
        })
        .sum();
    if stored != unsigned && stored as i64 != signed {
        return Err(format!(
            "header checksum is {stored}, the header sums to {unsigned}"
        ));
    }
    let size = parse_number(&block[124..136]).map_err(|e| format!("size field: {e}"))?;
    let magic = &block[257..265];
    let mut name = field(block, 0, 100).to_vec();
    // POSIX ustar splits long names into prefix + name; GNU headers use that space for
    // other fields, so only the POSIX magic means a prefix.
    if &magic[..6] == b"ustar\0" {
        let prefix = field(block, 345, 155);
        if !prefix.is_empty() {
            let mut full = prefix.to_vec();
            full.push(b'/');
            full.extend_from_slice(&name);
            name = full;
        }
    }
    Ok(Header {
        name,
        typeflag: block[156],
        size,
        link: field(block, 157, 100).to_vec(),
    })
}

/// Parses a numeric header field: octal digits (leading spaces allowed, ended by NUL or
/// space), or GNU base-256 when the high bit of the first byte is set. Negative values
/// are refused.
fn parse_number(f: &[u8]) -> std::result::Result<u64, String> {
    if f[0] & 0x80 != 0 {
        if f[0] == 0xff {
            return Err("negative base-256 number".into());
        }
        let mut v: u64 = (f[0] & 0x7f) as u64;
        for &b in &f[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(b as u64))
                .ok_or("base-256 number overflows 64 bits")?;
        }
        return Ok(v);
    }
    let digits: Vec<u8> = f
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|&b| b != 0 && b != b' ')
        .collect();
    let mut v: u64 = 0;
    for b in digits {
        if !(b'0'..=b'7').contains(&b) {
            return Err(format!(
                "{:?} is not an octal number",
                String::from_utf8_lossy(f)
            ));
        }
        v = v
            .checked_mul(8)
            .and_then(|v| v.checked_add((b - b'0') as u64))
            .ok_or("octal number overflows 64 bits")?;
    }
    Ok(v)
}

/// The PAX keys we apply.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
}

/// Parses PAX records: `LEN KEY=VALUE\n`, LEN counting the whole record.
fn parse_pax(data: &[u8]) -> std::result::Result<Pax, String> {
    let mut pax = Pax::default();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let space = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or("record without a length")?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("record length is not a number")?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err("record length does not match its content".into());
        }
        let record = &rest[space + 1..len - 1];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or("record without '='")?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        match key {
            b"path" => pax.path = Some(value.to_vec()),
            b"linkpath" => pax.linkpath = Some(value.to_vec()),
            b"size" => {
                pax.size = Some(
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or("size is not a number")?,
                )
            }
            _ => {}
        }
        rest = &rest[len..];
    }
    Ok(pax)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, typeflag: u8, size: u64) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[156] = typeflag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| b as u64).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn entry(name: &str, data: &[u8]) -> Vec<u8> {
        let mut v = header(name, b'0', data.len() as u64);
        v.extend_from_slice(data);
        v.resize(
            v.len() + (padded(data.len() as u64) - data.len() as u64) as usize,
            0,
        );
        v
    }

    fn reader(bytes: &[u8]) -> TarReader<StreamInput<&[u8]>> {
        TarReader::new(StreamInput(bytes), Path::new("t.tar"), 100)
    }

    #[test]
    fn entries_and_offsets_are_reported() {
        let mut tar = entry("a", b"hello");
        tar.extend(entry("b/c", &[7u8; 600]));
        tar.extend([0u8; 1024]);
        let mut r = reader(&tar);
        let a = r.next_entry().unwrap().unwrap();
        assert_eq!(
            (a.name.as_slice(), a.size, a.data_offset),
            (&b"a"[..], 5, 512)
        );
        let mut buf = [0u8; 3];
        assert_eq!(r.read_data(&mut buf).unwrap(), 3);
        let b = r.next_entry().unwrap().unwrap();
        assert_eq!(
            (b.name.as_slice(), b.size, b.data_offset),
            (&b"b/c"[..], 600, 1536)
        );
        assert!(r.next_entry().unwrap().is_none());
        r.drain().unwrap();
    }

    #[test]
    fn pax_path_and_gnu_long_names_apply_to_the_next_entry() {
        let long = "d/".repeat(80) + "f";
        let record = format!("path={long}\n");
        let len = record.len() + 4; // "NNN " prefix
        let pax = format!("{len} {record}");
        assert_eq!(pax.len(), len);
        let mut tar = header("PaxHeader", b'x', pax.len() as u64);
        tar.extend(pax.as_bytes());
        tar.resize(padded(tar.len() as u64) as usize, 0);
        tar.extend(entry("short", b"x"));
        let mut gnu = header("././@LongLink", b'L', long.len() as u64 + 1);
        gnu.extend(long.as_bytes());
        gnu.push(0);
        gnu.resize(padded(gnu.len() as u64) as usize, 0);
        tar.extend(gnu);
        tar.extend(entry("short2", b"y"));
        tar.extend([0u8; 1024]);
        let mut r = reader(&tar);
        assert_eq!(r.next_entry().unwrap().unwrap().name, long.as_bytes());
        assert_eq!(r.next_entry().unwrap().unwrap().name, long.as_bytes());
        assert!(r.next_entry().unwrap().is_none());
    }

    #[test]
    fn truncation_is_named_wherever_it_happens() {
        let mut tar = entry("a", &[1u8; 1000]);
        tar.extend([0u8; 1024]);
        for cut in [0usize, 100, 512, 700, 1536] {
            let mut r = reader(&tar[..cut]);
            let e = loop {
                match r.next_entry() {
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("cut at {cut} read as complete"),
                    Err(e) => break e,
                }
            };
            let msg = e.to_string();
            if cut == 0 {
                assert!(msg.contains("empty"), "{msg}");
            } else {
                assert!(
                    matches!(e, StoreError::Truncated { .. }),
                    "cut {cut}: {msg}"
                );
            }
        }
    }

    #[test]
    fn random_bytes_are_not_a_tar_archive() {
        let junk = vec![0x5au8; 2048];
        let e = reader(&junk).next_entry().unwrap_err();
        assert!(e.to_string().contains("not a tar archive"), "{e}");
    }

    #[test]
    fn numbers_parse_octal_and_base256_and_refuse_negatives() {
        assert_eq!(parse_number(b"00000000017\0").unwrap(), 15);
        assert_eq!(parse_number(b"     17 \0\0\0\0").unwrap(), 15);
        let mut b256 = [0u8; 12];
        b256[0] = 0x80;
        b256[11] = 2;
        b256[10] = 1;
        assert_eq!(parse_number(&b256).unwrap(), 258);
        assert!(parse_number(&[0xffu8; 12]).is_err());
        assert!(parse_number(b"0000000009\0\0").is_err());
    }

    #[test]
    fn oversized_metadata_records_are_refused_without_reading_them() {
        let mut tar = header("PaxHeader", b'x', 1 << 30);
        tar.extend([0u8; 1024]);
        let e = reader(&tar).next_entry().unwrap_err();
        assert!(e.to_string().contains("limit for tar metadata"), "{e}");
    }
}
