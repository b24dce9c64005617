//! `ebpf-layout rm`.

use std::process::ExitCode;

use clap::Args;

use super::render::{escape_control as esc, print_json};
use crate::tag::remove;

/// Remove a name (or every entry of a manifest) from a layout; blobs stay until gc.
#[derive(Debug, Args)]
#[command(
    after_help = "REF is PATH:NAME (removes that name) or PATH@sha256:HEX (removes every
index.json entry, named or untagged, for that manifest). Only index.json changes: the
image's blobs stay until `ebpf-layout gc PATH` reclaims what nothing references.

Examples:
  ebpf-layout rm bundle:probe
  ebpf-layout rm 'bundle:ghcr.io/acme/probe:1.2'
  ebpf-layout rm bundle@sha256:3b17…"
)]
pub struct RmArgs {
    /// What to remove: PATH:NAME or PATH@sha256:HEX.
    #[arg(value_name = "REF")]
    reference: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: RmArgs) -> anyhow::Result<ExitCode> {
    let reference = super::reference::input_ref(&args.reference)?;
    let report = remove(&reference)?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut unreferenced = false;
    for e in &report.removed {
        match &e.name {
            Some(name) => println!("removed {} ({})", esc(name), e.digest.short()),
            None => println!("removed untagged entry {}", e.digest.short()),
        }
        if e.still_named.is_empty() {
            unreferenced = true;
        } else {
            println!(
                "  {} is still named {}",
                e.digest.short(),
                esc(&e.still_named.join(", "))
            );
        }
    }
    if unreferenced {
        println!(
            "blobs stay until `ebpf-layout gc {}`",
            esc(&report.layout.display().to_string())
        );
    }
    Ok(ExitCode::SUCCESS)
}
