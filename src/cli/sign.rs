//! `ebpf-layout sign`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;

use super::keygen::password_for;
use super::render::{escape_control as esc, print_json};
use crate::pack::created_from_epoch;
use crate::sign::{sign, Added, PrivateKey, SignOptions};

/// Sign images in a layout with a private key; the signatures are stored in the layout.
#[derive(Debug, Args)]
#[command(
    after_help = "REF is PATH (every image), PATH:NAME or PATH@sha256:HEX; PATH must be a layout
directory. Each image's manifest digest is signed in cosign's format and the signature
is stored in the same layout as the image sha256-<hex>.sig, so it travels with the
layout, its archives and copies. Signing again with another key adds a signature;
signing again with the same key changes nothing. Every image is hashed before it is
signed. The key password comes from EBPF_LAYOUT_PASSWORD or the terminal.

Examples:
  ebpf-layout sign bundle --key release.key
  ebpf-layout sign bundle:probe --key release.key --identity registry.local/ebpf/probe
  ebpf-layout verify bundle --key release.pub"
)]
pub struct SignArgs {
    /// What to sign.
    #[arg(value_name = "REF")]
    reference: String,
    /// The private key (PREFIX.key from `keygen`, or any P-256 PKCS#8/SEC1 PEM key).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// Repository written in the signature as docker-reference (default: each image's
    /// name without its tag).
    #[arg(long, value_name = "REPOSITORY")]
    identity: Option<String>,
    /// Claim KEY=VALUE added to the signed payload's `optional` object (repeatable).
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: SignArgs, ctx: &super::Context) -> anyhow::Result<ExitCode> {
    let reference = super::reference::input_ref(&args.reference)?;
    let mut annotations = BTreeMap::new();
    for a in &args.annotations {
        let Some((k, v)) = a.split_once('=') else {
            bail!("invalid --annotation {a:?}: expected KEY=VALUE");
        };
        if k.is_empty() {
            bail!("invalid --annotation {a:?}: the key is empty");
        }
        annotations.insert(k.to_string(), v.to_string());
    }
    let created = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => Some(created_from_epoch(&s).with_context(|| {
            format!("SOURCE_DATE_EPOCH={s:?} is not a number of seconds since 1970")
        })?),
        Err(_) => None,
    };
    let key = PrivateKey::load(&args.key, || password_for(&args.key))?;
    let progress = super::progress::ProgressLine::start(
        "signing".to_string(),
        ctx.progress.clone(),
        ctx.quiet,
    );
    let report = sign(&SignOptions {
        reference,
        key: &key,
        identity: args.identity,
        annotations,
        created,
        limits: ctx.limits.clone(),
        progress: ctx.progress.clone(),
    })?;
    drop(progress);
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    for image in &report.images {
        let what = match image.change {
            Added::Added => "signed",
            Added::Unchanged => "already signed by this key",
        };
        println!(
            "{:<24} {} {what} as {} → {} ({} signature(s))",
            esc(image.name.as_deref().unwrap_or("<untagged>")),
            image.digest.short(),
            esc(&image.identity.to_string()),
            esc(&image.signature_image.to_string()),
            image.signatures
        );
    }
    let added = report
        .images
        .iter()
        .filter(|i| matches!(i.change, Added::Added))
        .count();
    let unchanged = report.images.len() - added;
    let key = report.key.short();
    let summary = match (added, unchanged) {
        (_, 0) => format!("{added} image(s) signed with key {key}"),
        (0, _) => format!("{unchanged} image(s) already signed with key {key}; nothing changed"),
        _ => format!("{added} image(s) signed, {unchanged} already signed, with key {key}"),
    };
    println!("{}: {summary}", report.layout.display());
    Ok(ExitCode::SUCCESS)
}
