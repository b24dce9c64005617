//! The archive-reading limits as global options (and environment variables), installed
//! for the whole process before a command runs.

use clap::Args;

use crate::limits::{
    parse_size, Limits, ENV_MAX_ENTRIES, ENV_MAX_INDEX_SIZE, ENV_MAX_MANIFEST_SIZE, ENV_MAX_RATIO,
    ENV_MAX_STDIN_BUFFER, ENV_MAX_UNCOMPRESSED,
};

/// Bounds on reading untrusted archives. SIZE takes K, M, G, T suffixes (binary: 16M =
/// 16 MiB). They are accepted by every command but hidden from each command's help:
/// `ebpf-layout --help` and the ENVIRONMENT section of the man page describe them once
/// (generated from these definitions by [`limits_help`]).
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Largest index.json read from an archive [default: 16M].
    #[arg(long, global = true, hide = true, value_hint = clap::ValueHint::Other, value_name = "SIZE", env = ENV_MAX_INDEX_SIZE, value_parser = parse_size)]
    max_index_size: Option<u64>,
    /// Largest manifest, index or config read from an archive [default: 4M].
    #[arg(long, global = true, hide = true, value_hint = clap::ValueHint::Other, value_name = "SIZE", env = ENV_MAX_MANIFEST_SIZE, value_parser = parse_size)]
    max_manifest_size: Option<u64>,
    /// Most bytes a compressed archive may expand to [default: 16G].
    #[arg(long, global = true, hide = true, value_hint = clap::ValueHint::Other, value_name = "SIZE", env = ENV_MAX_UNCOMPRESSED, value_parser = parse_size)]
    max_uncompressed: Option<u64>,
    /// Most uncompressed bytes per compressed byte, past the first 64 MiB; 0 = no check
    /// [default: 100].
    #[arg(long, global = true, hide = true, value_hint = clap::ValueHint::Other, value_name = "N", env = ENV_MAX_RATIO)]
    max_ratio: Option<u64>,
    /// Most entries in one archive [default: 100000].
    #[arg(long, global = true, hide = true, value_hint = clap::ValueHint::Other, value_name = "N", env = ENV_MAX_ENTRIES)]
    max_entries: Option<u64>,
    /// Most blob bytes kept in memory from an archive on standard input [default: 256M].
    #[arg(long, global = true, hide = true, value_hint = clap::ValueHint::Other, value_name = "SIZE", env = ENV_MAX_STDIN_BUFFER, value_parser = parse_size)]
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

/// One line per limit option — `--max-index-size SIZE  (EBPF_LAYOUT_MAX_INDEX_SIZE)` and
/// its help — read from the clap definitions of `command`, for the top-level help and
/// the man page.
pub fn limits_help(command: &clap::Command) -> Vec<(String, String)> {
    command
        .get_arguments()
        .filter(|a| a.get_id().as_str().starts_with("max_"))
        .map(|a| {
            let value = a
                .get_value_names()
                .and_then(|v| v.first())
                .map(|v| v.to_string())
                .unwrap_or_default();
            let env = a
                .get_env()
                .map(|e| format!(" (env {})", e.to_string_lossy()))
                .unwrap_or_default();
            let flag = format!("--{} {value}{env}", a.get_long().unwrap_or_default());
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            (flag, help)
        })
        .collect()
}
