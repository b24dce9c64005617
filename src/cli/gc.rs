//! `ebpf-layout gc`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::render::{escape_control as esc, human_size, print_json};
use crate::layout::gc::{gc, BlobKind, GcOptions};
use crate::store::StoreError;

/// Delete the blobs of a layout that no name reaches, and stale temporary files.
#[derive(Debug, Args)]
#[command(
    after_help = "Every index.json entry, named or untagged, is kept with everything it
references (nested indexes, manifests, configs, layers, subjects), and so are
signatures and other referrers stored in the layout whose subject is kept. Everything
else in blobs/sha256 is deleted, with temporary files left by interrupted writers.
gc waits for running writers (pack, copy, tag, rm) and keeps them out while it runs.
If a manifest it must read is missing or damaged, it deletes nothing: run verify.

Examples:
  ebpf-layout gc bundle --dry-run
  ebpf-layout gc bundle
  ebpf-layout gc bundle --json"
)]
pub struct GcArgs {
    /// The layout directory.
    #[arg(value_name = "LAYOUT")]
    layout: PathBuf,
    /// Show what would be deleted, and delete nothing (works on read-only layouts).
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: GcArgs, ctx: &super::Context) -> anyhow::Result<ExitCode> {
    crate::tag::layout_dir(&args.layout, "gc")?;
    let options = GcOptions {
        dry_run: args.dry_run,
        limits: ctx.limits.clone(),
    };
    let report = match gc(&args.layout, &options) {
        Ok(report) => report,
        Err(e) if stopped_at_damage(&e) => return Err(cannot_tell(e, &args.layout)),
        Err(e) => return Err(e.into()),
    };
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for b in &report.removed {
        let kind = match b.kind {
            BlobKind::Manifest => "manifest",
            BlobKind::Index => "index",
            BlobKind::Blob => "blob",
        };
        println!("{verb} {kind:<8} {} ({})", b.digest, human_size(b.size));
    }
    for m in &report.missing {
        eprintln!(
            "warning: {} referenced by {} is missing (run verify)",
            m.digest,
            esc(&m.referenced_by)
        );
    }
    for entry in &report.ignored {
        eprintln!("note: left {} alone: it is not a blob", esc(entry));
    }
    let referrers = if report.referrers.is_empty() {
        String::new()
    } else {
        format!(", {} of them referrers", report.referrers.len())
    };
    println!(
        "{}: {verb} {} blob(s) ({}) and {} temporary file(s) ({}); kept {} blob(s) ({}) reached from {} index.json entries{referrers}",
        esc(&report.layout.display().to_string()),
        report.removed.len(),
        human_size(report.removed_bytes),
        report.temp_files,
        human_size(report.temp_bytes),
        report.kept_blobs,
        human_size(report.kept_bytes),
        report.roots,
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether gc stopped at a manifest or index it had to read that is missing or damaged
/// (an integrity failure, or a document that does not parse or is over the size limit),
/// or at a blob it refused (a symlink, a socket…); not at the layout's own folders or
/// lock, whose error says itself what is wrong.
fn stopped_at_damage(e: &StoreError) -> bool {
    e.is_integrity_failure()
        || matches!(e, StoreError::Schema { .. } | StoreError::TooLarge { .. })
        || matches!(e, StoreError::UnsafeEntry { entry, .. } if entry.starts_with("blobs/sha256/"))
}

/// gc stopped because a manifest or index it had to read is missing or damaged.
fn cannot_tell(e: StoreError, layout: &std::path::Path) -> anyhow::Error {
    anyhow::Error::new(e).context(format!(
        "gc deleted nothing: it cannot tell what a damaged manifest references; run `ebpf-layout verify {}`, then restore the blob or remove the name that reaches it with `ebpf-layout rm`",
        layout.display()
    ))
}
