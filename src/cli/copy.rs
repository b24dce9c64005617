//! `ebpf-layout copy`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use super::render::{escape_control as esc, human_size, print_json};
use crate::copy::{copy, CopyOptions, DestinationKind};
use crate::oci::cosign::signed_digest;
use crate::oci::{ImageRef, RefName, Selector};

/// Copy images between layouts and archives (.tar, .tar.gz), digests preserved.
#[derive(Debug, Args)]
#[command(
    after_help = "SRC is PATH (every image), PATH:NAME or PATH@sha256:HEX, where PATH is a layout
directory, a .tar or .tar.gz archive (recognised by its content), or - for an archive
on standard input. DST is a layout directory (created, or merged into: its other names
are kept) or an archive file named .tar, .tar.gz or .tgz (written anew; an existing one
is replaced only with --force). DST:NAME gives the single image copied a new name.

The whole closure of each image is copied (nested indexes, manifests, configs, layers,
subjects). Every blob is hashed on the way; blobs already in a destination layout are
not written again; on any error the destination is left as it was.

Examples:
  ebpf-layout copy bundle bundle.tar                 # export a layout
  ebpf-layout copy bundle.tar.gz /var/lib/ebpf/oci   # import, merging
  ebpf-layout copy bundle.tar:probe site:probe-1.2   # one image, renamed
  ebpf-layout copy - imported < bundle.tar.gz        # from standard input"
)]
pub struct CopyArgs {
    /// What to copy: PATH, PATH:NAME or PATH@sha256:HEX (PATH may be -).
    #[arg(value_name = "SRC")]
    source: String,
    /// Where: a layout directory or an archive file, optionally :NAME.
    #[arg(value_name = "DST")]
    destination: String,
    /// Replace the destination archive if it exists.
    #[arg(long)]
    force: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: CopyArgs, ctx: &super::Context) -> anyhow::Result<ExitCode> {
    let source = super::reference::input_ref(&args.source)?;
    let destination = ImageRef::parse(&args.destination)?;
    super::reference::check_output_name(&destination.path)?;
    let name = match &destination.selector {
        Selector::All => None,
        Selector::Name(n) => Some(RefName::parse(n)?),
        Selector::Digest(_) => bail!(
            "invalid destination {:?}: a destination cannot be pinned to a digest; give DST or DST:NAME",
            args.destination
        ),
    };
    let report = copy(&CopyOptions {
        source,
        destination: PathBuf::from(&destination.path),
        name,
        force: args.force,
        mtime: ctx.archive_mtime,
        limits: ctx.limits.clone(),
        progress: ctx.progress.clone(),
    })?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    for image in &report.images {
        let name = esc(image.name.as_deref().unwrap_or("<untagged>"));
        let what = match (&image.previous, image.change) {
            (Some(prev), _) => format!("moved {} → {}", prev.short(), image.digest.short()),
            (None, change) => format!("{change} {}", image.digest.short()),
        };
        println!("{name:<24} {what} ({})", human_size(image.size));
    }
    let kind = match report.kind {
        DestinationKind::Layout => "layout",
        DestinationKind::Tar => "tar archive",
        DestinationKind::TarGz => "tar.gz archive",
    };
    let present = if report.kind == DestinationKind::Layout {
        format!(", {} already present", report.blobs_present)
    } else {
        String::new()
    };
    let size = report
        .archive_size
        .map(|s| format!(", {} on disk", human_size(s)))
        .unwrap_or_default();
    // Signatures travel with their images but are not counted as images (as in list and
    // verify).
    let signatures = report
        .images
        .iter()
        .filter(|i| i.name.as_deref().and_then(signed_digest).is_some())
        .count();
    let images = match signatures {
        0 => format!("{} image(s)", report.images.len()),
        n => format!("{} image(s) and {n} signature(s)", report.images.len() - n),
    };
    println!(
        "{} ({kind}): {images} copied from {}; {} blob(s) written ({}){present}{size}",
        esc(&report.destination.display().to_string()),
        esc(&report.source.to_string()),
        report.blobs_written,
        human_size(report.bytes_written),
    );
    Ok(ExitCode::SUCCESS)
}
