//! `ebpf-layout list`.

use std::process::ExitCode;

use clap::Args;

use super::render::{human_size, print_json, print_table};
use crate::oci::companion::companion_subject;
use crate::oci::Selector;
use crate::summary::list;

/// Version of the `list --json` document, `{"version": 1, "images": [...]}`.
pub const LIST_JSON_VERSION: u32 = 1;

/// List the images in a layout: name, digest, size, platform, format.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ebpf-layout list bundle
  ebpf-layout list bundle --all --no-trunc
  ebpf-layout list bundle --json
  ebpf-layout list bundle.tar --policy /etc/containers/policy.json")]
pub struct ListArgs {
    /// The layout directory or archive (PATH:NAME or PATH@sha256:HEX lists one entry).
    #[arg(value_name = "PATH")]
    reference: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// With --key or --policy: a TRUST column says whether each image would be accepted
    /// by verify and load under its name.
    #[command(flatten)]
    trust: super::trust::TrustArgs,
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
        images.retain(|i| i.name.as_deref().and_then(companion_subject).is_none());
    }
    let trust = args.trust.trust()?;
    if let Some(trust) = &trust {
        let index = source.index()?;
        for image in images
            .iter_mut()
            .filter(|i| i.name.as_deref().and_then(companion_subject).is_none())
        {
            let name = crate::trust::name_used(&reference.selector, image.name.as_deref());
            image.trust = Some(crate::trust::evaluate(
                source.as_ref(),
                &index,
                name.as_deref(),
                &image.digest,
                trust,
            )?);
        }
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
            let mut row = vec![
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
            ];
            if trust.is_some() {
                row.push(match &i.trust {
                    None => "-".to_string(),
                    Some(d) if d.accepted => "accepted".to_string(),
                    Some(d) => format!("refused ({})", d.code.unwrap_or_default()),
                });
            }
            row
        })
        .collect();
    let mut header = vec!["NAME", "DIGEST", "SIZE", "PLATFORM", "FORMAT", "SIGNED"];
    if trust.is_some() {
        header.push("TRUST");
    }
    print_table(&header, &rows);
    Ok(ExitCode::SUCCESS)
}
