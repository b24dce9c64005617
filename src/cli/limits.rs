//! The archive-reading limits as global options (and environment variables), installed
//! for the whole process before a command runs.

use clap::Args;

use crate::limits::{
    parse_size, Limits, ENV_MAX_ENTRIES, ENV_MAX_INDEX_SIZE, ENV_MAX_MANIFEST_SIZE, ENV_MAX_RATIO,
    ENV_MAX_STDIN_BUFFER, ENV_MAX_UNCOMPRESSED,
};

/// Bounds on reading untrusted archives (docs/archives.md). SIZE takes K, M, G, T
/// suffixes (binary: 16M = 16 MiB).
#[derive(Debug, Args)]
#[command(next_help_heading = "Archive limits (see docs/archives.md)")]
pub struct LimitArgs {
    /// Largest index.json read from an archive [default: 16M].
    #[arg(long, global = true, hide_short_help = true, value_name = "SIZE", env = ENV_MAX_INDEX_SIZE, value_parser = parse_size)]
    max_index_size: Option<u64>,
    /// Largest manifest, index or config read from an archive [default: 4M].
    #[arg(long, global = true, hide_short_help = true, value_name = "SIZE", env = ENV_MAX_MANIFEST_SIZE, value_parser = parse_size)]
    max_manifest_size: Option<u64>,
    /// Most bytes a compressed archive may expand to [default: 16G].
    #[arg(long, global = true, hide_short_help = true, value_name = "SIZE", env = ENV_MAX_UNCOMPRESSED, value_parser = parse_size)]
    max_uncompressed: Option<u64>,
    /// Most uncompressed bytes per compressed byte, past the first 64 MiB; 0 = no check
    /// [default: 100].
    #[arg(long, global = true, hide_short_help = true, value_name = "N", env = ENV_MAX_RATIO)]
    max_ratio: Option<u64>,
    /// Most entries in one archive [default: 100000].
    #[arg(long, global = true, hide_short_help = true, value_name = "N", env = ENV_MAX_ENTRIES)]
    max_entries: Option<u64>,
    /// Most blob bytes kept in memory from an archive on standard input [default: 256M].
    #[arg(long, global = true, hide_short_help = true, value_name = "SIZE", env = ENV_MAX_STDIN_BUFFER, value_parser = parse_size)]
    max_stdin_buffer: Option<u64>,
}

impl LimitArgs {
    /// The defaults with what was given on the command line or in the environment.
    pub fn limits(&self) -> Limits {
        let d = Limits::default();
        Limits {
            max_index_size: self.max_index_size.unwrap_or(d.max_index_size),
            max_manifest_size: self.max_manifest_size.unwrap_or(d.max_manifest_size),
            max_uncompressed: self.max_uncompressed.unwrap_or(d.max_uncompressed),
            max_ratio: self.max_ratio.unwrap_or(d.max_ratio),
            max_entries: self.max_entries.unwrap_or(d.max_entries),
            max_stdin_buffer: self.max_stdin_buffer.unwrap_or(d.max_stdin_buffer),
        }
    }
}
