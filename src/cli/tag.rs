//! `ebpf-layout tag`.

use std::process::ExitCode;

use clap::Args;

use super::render::{escape_control as esc, print_json};
use crate::oci::RefName;
use crate::tag::tag;

/// Give an image another name in the same layout.
#[derive(Debug, Args)]
#[command(
    after_help = "SRC is PATH:NAME, PATH@sha256:HEX, or PATH when the layout holds one image.
NAME must be a valid OCI ref name whose tag part a registry accepts. If NAME already
names another image it is moved, and the old and new digests are shown; the image it
named before stays until `ebpf-layout gc`.

Examples:
  ebpf-layout tag bundle:probe probe:1.2
  ebpf-layout tag bundle:probe ghcr.io/acme/probe:1.2
  ebpf-layout tag bundle@sha256:3b17… probe:latest"
)]
pub struct TagArgs {
    /// The image to name: PATH:NAME, PATH@sha256:HEX or PATH.
    #[arg(value_name = "SRC")]
    source: String,
    /// The new name, in the same layout.
    #[arg(value_name = "NAME")]
    name: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: TagArgs, ctx: &super::Context) -> anyhow::Result<ExitCode> {
    let source = super::reference::input_ref(&args.source)?;
    let name = RefName::parse(&args.name)?;
    let report = tag(&source, &name, &ctx.limits)?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    match (&report.previous, report.change) {
        (Some(previous), _) => println!(
            "moved {}: {} → {}",
            esc(report.name.as_str()),
            previous.short(),
            report.digest.short()
        ),
        (None, "unchanged") => println!(
            "{} already names {}: nothing to do",
            esc(report.name.as_str()),
            report.digest.short()
        ),
        (None, _) => println!(
            "tagged {} → {}",
            esc(report.name.as_str()),
            report.digest.short()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
