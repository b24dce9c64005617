//! `ebpf-layout list`.

use std::process::ExitCode;

use clap::Args;

use super::render::{human_size, print_json, print_table};
use crate::oci::cosign::signed_digest;
use crate::oci::Selector;
use crate::summary::list;

/// Version of the `list --json` document, `{"version": 1, "images": [...]}`.
pub const LIST_JSON_VERSION: u32 = 1;

/// List the images in a layout: name, digest, size, platform, format.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ebpf-layout list bundle
  ebpf-layout list bundle --all --no-trunc
  ebpf-layout list bundle --json")]
pub struct ListArgs {
    /// The layout directory or archive (PATH:NAME or PATH@sha256:HEX lists one entry).
    #[arg(value_name = "PATH")]
    reference: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also list the signature images (cosign's sha256-….sig entries); by default they
    /// are only counted in the SIGNED column.
    #[arg(long, short)]
    all: bool,
    /// Show whole digests (the table shortens them to 12 hex digits; JSON never does).
    #[arg(long)]
    no_trunc: bool,
}

pub(crate) fn run(args: ListArgs, ctx: &super::Context) -> anyhow::Result<ExitCode> {
    let reference = super::reference::input_ref(&args.reference)?;
    let source = ctx.open(&reference.path)?;
    let mut images = list(source.as_ref())?;
    match &reference.selector {
        Selector::All => {}
        Selector::Name(n) => images.retain(|i| i.name.as_deref() == Some(n.as_str())),
        Selector::Digest(d) => images.retain(|i| &i.digest == d),
    }
    if !args.all {
        images.retain(|i| i.name.as_deref().and_then(signed_digest).is_none());
    }
    if args.json {
        print_json(&serde_json::json!({
            "version": LIST_JSON_VERSION,
            "images": images,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = images
        .iter()
        .map(|i| {
            vec![
                i.name.clone().unwrap_or_else(|| "<untagged>".into()),
                if args.no_trunc {
                    i.digest.to_string()
                } else {
                    i.digest.short()
                },
                human_size(i.size),
                if i.platforms.is_empty() {
                    "-".into()
                } else {
                    i.platforms.join(",")
                },
                i.format.clone(),
                match i.signatures {
                    0 => "-".to_string(),
                    n => n.to_string(),
                },
            ]
        })
        .collect();
    print_table(
        &["NAME", "DIGEST", "SIZE", "PLATFORM", "FORMAT", "SIGNED"],
        &rows,
    );
    Ok(ExitCode::SUCCESS)
}
