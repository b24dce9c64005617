//! What reading untrusted input may cost: bounds on JSON sizes (layouts and archives
//! alike), decompression, entries and the memory kept while streaming. Every one of these
//! is enforced while reading, before the bytes concerned are kept or parsed.
//!
//! [`Limits`] is a plain value: a caller builds it once (the command line does, from its
//! flags and the `EBPF_LAYOUT_MAX_*` environment variables; see docs/archives.md) and
//! passes it to what opens a layout or an archive ([`crate::source::open_with`]), which
//! keeps it for every later read. Nothing reads process-wide state.

/// Default largest index.json we parse (16 MiB): far above any real layout, small enough
/// that a hostile file cannot exhaust memory.
pub const MAX_INDEX_SIZE: u64 = 16 << 20;
/// Default largest manifest, nested index or config we parse (4 MiB), as registries
/// commonly do.
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;

/// Below this many uncompressed bytes the compression ratio is not enforced (64 MiB):
/// tar headers and padding compress several hundred to one, so small genuine archives
/// would otherwise trip the ratio, while a bomb is stopped after at most this much work.
pub const RATIO_GRACE: u64 = 64 << 20;

/// Longest PAX extended header or GNU long name/link record we read (64 KiB): real ones
/// are a few hundred bytes, and their content is held in memory.
pub const MAX_METADATA_SIZE: u64 = 64 << 10;

/// Longest entry name we accept, in bytes (Linux's PATH_MAX).
pub const MAX_NAME_LEN: usize = 4096;

/// Largest `oci-layout` file we read (64 KiB, as for a layout directory).
pub const MAX_OCI_LAYOUT_SIZE: u64 = 64 << 10;

/// Memory kept for JSON-looking blobs while streaming a compressed archive *file* (32 MiB
/// in total): keeping them saves a second decompression pass for manifests and configs;
/// past this budget blobs are read again from the file when needed, so the budget
/// bounds memory without limiting what can be read.
pub const FILE_KEEP_BUDGET: u64 = 32 << 20;

/// Environment variable for [`Limits::max_index_size`].
pub const ENV_MAX_INDEX_SIZE: &str = "EBPF_LAYOUT_MAX_INDEX_SIZE";
/// Environment variable for [`Limits::max_manifest_size`].
pub const ENV_MAX_MANIFEST_SIZE: &str = "EBPF_LAYOUT_MAX_MANIFEST_SIZE";
/// Environment variable for [`Limits::max_uncompressed`].
pub const ENV_MAX_UNCOMPRESSED: &str = "EBPF_LAYOUT_MAX_UNCOMPRESSED";
/// Environment variable for [`Limits::max_ratio`].
pub const ENV_MAX_RATIO: &str = "EBPF_LAYOUT_MAX_RATIO";
/// Environment variable for [`Limits::max_entries`].
pub const ENV_MAX_ENTRIES: &str = "EBPF_LAYOUT_MAX_ENTRIES";
/// Environment variable for [`Limits::max_stdin_buffer`].
pub const ENV_MAX_STDIN_BUFFER: &str = "EBPF_LAYOUT_MAX_STDIN_BUFFER";

/// Bounds applied while reading an archive. Every field has a documented default
/// ([`Limits::default`]); `0` is never "unlimited" except for [`max_ratio`](Self::max_ratio).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest `index.json` accepted, in bytes (default 16 MiB). Checked against the tar
    /// header before a byte of it is read.
    pub max_index_size: u64,
    /// Largest manifest, nested index or config read into memory, in bytes (default
    /// 4 MiB). Blobs a command reads as JSON are refused above this size.
    pub max_manifest_size: u64,
    /// Most bytes a compressed archive may expand to (default 16 GiB): a gzip bomb stops
    /// here, whatever its ratio.
    pub max_uncompressed: u64,
    /// Most uncompressed bytes per compressed byte (default 100; 0 turns the check off),
    /// enforced once [`RATIO_GRACE`] bytes have been decompressed. deflate's best case is
    /// about 1000:1, reached only by degenerate input such as long runs of zeros.
    pub max_ratio: u64,
    /// Most entries (headers) in one archive (default 100 000).
    pub max_entries: u64,
    /// Most blob bytes kept in memory while reading an archive from standard input, which
    /// cannot be read twice (default 256 MiB). Blobs past the budget are hashed and then
    /// dropped; a command that needs one says so and asks for a file instead.
    pub max_stdin_buffer: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_index_size: MAX_INDEX_SIZE,
            max_manifest_size: MAX_MANIFEST_SIZE,
            max_uncompressed: 16 << 30,
            max_ratio: 100,
            max_entries: 100_000,
            max_stdin_buffer: 256 << 20,
        }
    }
}

/// Parses a byte count: a number with an optional binary suffix, `K`/`KiB`, `M`/`MiB`,
/// `G`/`GiB`, `T`/`TiB` (case-insensitive; `B` alone means bytes). `16M` = 16 MiB.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    let invalid = || {
        format!("invalid size {s:?}: expected a number of bytes with an optional K, M, G or T suffix (e.g. 16M)")
    };
    if digits.is_empty() {
        return Err(invalid());
    }
    let n: u64 = digits.parse().map_err(|_| invalid())?;
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(invalid()),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("invalid size {s:?}: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("0").unwrap(), 0);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("16M").unwrap(), 16 << 20);
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("2g").unwrap(), 2 << 30);
        assert_eq!(parse_size("1 KiB").unwrap(), 1024);
        for bad in ["", "M", "1.5M", "-1", "12Q", "99999999999999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_match_the_layout_reader() {
        let l = Limits::default();
        assert_eq!(l.max_index_size, 16 << 20);
        assert_eq!(l.max_manifest_size, 4 << 20);
    }
}
