//! `ebpf-layout pack`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;

use super::render::{human_size, print_json};
use crate::oci::{Platform, RefName};
use crate::pack::{created_from_epoch, pack, PackOptions};

/// Pack BPF object files (and directories of them) into an OCI image layout, one image
/// per object.
#[derive(Debug, Args)]
#[command(
    after_help = "Each object becomes one image named after its file (probe.bpf.o → probe).
Directories are walked recursively in sorted order; files that are not BPF objects are
skipped and counted. Output is deterministic; set SOURCE_DATE_EPOCH to record a
creation time. An output ending in .tar, .tar.gz or .tgz is an archive, written
atomically (an existing one is rewritten with its images kept, like a layout).

Examples:
  ebpf-layout pack probe.bpf.o -o bundle
  ebpf-layout pack build/ -o bundle.tar          # one file to carry; .tar.gz compresses
  ebpf-layout pack probe.bpf.o -o bundle --tag ghcr.io/acme/probe:1.2
  ebpf-layout pack build/ -o bundle --annotation org.opencontainers.image.source=https://git.example/acme"
)]
pub struct PackArgs {
    /// BPF object files and/or directories of them.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// The layout directory, or archive (.tar, .tar.gz, .tgz), to create or add to.
    #[arg(short, long, value_name = "DIR|ARCHIVE")]
    output: PathBuf,
    /// Name for the image (only with a single input object).
    #[arg(long, value_name = "NAME")]
    tag: Option<String>,
    /// Platform recorded for the images, OS/ARCH (default: this machine's).
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// Manifest annotation KEY=VALUE (repeatable).
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: PackArgs) -> anyhow::Result<ExitCode> {
    let tag = args.tag.as_deref().map(RefName::parse).transpose()?;
    let platform = match &args.platform {
        Some(p) => Platform::parse(p).map_err(anyhow::Error::msg)?,
        None => Platform::host(),
    };
    let mut annotations = BTreeMap::new();
    for a in &args.annotations {
        let Some((key, value)) = a.split_once('=') else {
            bail!("invalid --annotation {a:?}: expected KEY=VALUE");
        };
        if key.is_empty() {
            bail!("invalid --annotation {a:?}: the key is empty");
        }
        annotations.insert(key.to_string(), value.to_string());
    }
    let created = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => Some(created_from_epoch(&s).with_context(|| {
            format!("SOURCE_DATE_EPOCH={s:?} is not a number of seconds since 1970")
        })?),
        Err(_) => None,
    };
    let report = pack(&PackOptions {
        inputs: args.inputs,
        output: args.output,
        tag,
        platform,
        annotations,
        created,
    })?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    for image in &report.images {
        let what = match (&image.previous, image.change) {
            (Some(prev), _) => format!("moved {} → {}", prev.short(), image.digest.short()),
            (None, change) => format!("{change} {}", image.digest.short()),
        };
        println!(
            "{:<24} {what} ({}) from {}",
            image.name,
            human_size(image.size),
            image.source.display()
        );
    }
    if !report.skipped.is_empty() {
        println!(
            "skipped {} file(s) that are not BPF objects",
            report.skipped.len()
        );
        for s in &report.skipped {
            eprintln!("  skipped {}: {}", s.path.display(), s.reason);
        }
    }
    println!(
        "{}: {} image(s) packed",
        report.output.display(),
        report.images.len()
    );
    Ok(ExitCode::SUCCESS)
}
