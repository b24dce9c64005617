//! `ebpf-layout pack`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use super::render::{human_size, print_json};
use crate::oci::{Platform, RefName};
use crate::pack::{created_from_epoch, pack, PackFormat, PackOptions};

/// The image format to write.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    /// The eBPF Image specification (bumblebee): the object as a raw layer.
    Bee,
    /// bpfman's bytecode image: the object in a tar+gzip layer, io.ebpf.* labels.
    Bpfman,
}

/// Pack BPF object files (and directories of them) into an OCI image layout, one image
/// per object.
#[derive(Debug, Args)]
#[command(
    after_help = "Each object becomes one image named after its file (probe.bpf.o → probe).
Directories are walked recursively in sorted order; files that are not BPF objects are
skipped and counted. Output is deterministic; set SOURCE_DATE_EPOCH to record a
creation time. An output ending in .tar, .tar.gz or .tgz is an archive, written
atomically (an existing one is rewritten with its images kept, like a layout).

--format bpfman writes bpfman bytecode images (the object in a tar+gzip layer, the
io.ebpf.programs and io.ebpf.maps labels derived from it), which bpfman pulls and loads.

Multi-architecture: give one object per platform as --platform OS/ARCH=FILE (instead of
INPUT); they become one OCI image index named --tag, with one image per platform. Each
object's byte order must be its platform's (bpfeb objects for s390x).

Examples:
  ebpf-layout pack probe.bpf.o -o bundle
  ebpf-layout pack build/ -o bundle.tar          # one file to carry; .tar.gz compresses
  ebpf-layout pack probe.bpf.o -o bundle --tag ghcr.io/acme/probe:1.2
  ebpf-layout pack build/ -o bundle --annotation org.opencontainers.image.source=https://git.example/acme
  ebpf-layout pack probe.bpf.o -o bundle.tar --format bpfman --tag acme/probe:1.2
  ebpf-layout pack --platform linux/amd64=probe_bpfel.o --platform linux/arm64=probe_bpfel.o \\
      --platform linux/s390x=probe_bpfeb.o --tag probe:1.2 -o bundle.tar"
)]
pub struct PackArgs {
    /// BPF object files and/or directories of them.
    #[arg(value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// The layout directory, or archive (.tar, .tar.gz, .tgz), to create or add to.
    #[arg(short, long, value_name = "DIR|ARCHIVE")]
    output: PathBuf,
    /// Name for the image (only with a single input object).
    #[arg(long, value_name = "NAME")]
    tag: Option<String>,
    /// Platform recorded for the images, OS/ARCH (default: this machine's); or, repeated
    /// as OS/ARCH=FILE, one object per platform for a multi-platform image.
    #[arg(long = "platform", value_name = "OS/ARCH[=FILE]")]
    platforms: Vec<String>,
    /// Image format to write.
    #[arg(long, value_enum, default_value = "bee")]
    format: FormatArg,
    /// Manifest annotation KEY=VALUE (repeatable).
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: PackArgs, ctx: &super::Context) -> anyhow::Result<ExitCode> {
    super::reference::check_output_name(&args.output)?;
    let tag = args.tag.as_deref().map(RefName::parse).transpose()?;
    let mut platform = Platform::host();
    let mut platform_objects = Vec::new();
    match args.platforms.as_slice() {
        [] => {}
        [one] if !one.contains('=') => {
            platform = Platform::parse(one).map_err(anyhow::Error::msg)?;
        }
        many => {
            for p in many {
                let Some((os_arch, file)) = p.split_once('=') else {
                    bail!(
                        "invalid --platform {p:?}: with several --platform, each is OS/ARCH=FILE (one object per platform)"
                    );
                };
                if file.is_empty() {
                    bail!("invalid --platform {p:?}: no FILE after '='");
                }
                let parsed = Platform::parse(os_arch).map_err(anyhow::Error::msg)?;
                platform_objects.push((parsed, PathBuf::from(file)));
            }
        }
    }
    if args.inputs.is_empty() && platform_objects.is_empty() {
        bail!("nothing to pack: give INPUT object files or directories, or --platform OS/ARCH=FILE objects");
    }
    if !args.inputs.is_empty() && !platform_objects.is_empty() {
        bail!("give either INPUT files or --platform OS/ARCH=FILE objects, not both");
    }
    let format = match args.format {
        FormatArg::Bee => PackFormat::Bee,
        FormatArg::Bpfman => PackFormat::Bpfman,
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
        format,
        platform_objects,
        limits: ctx.limits.clone(),
        progress: ctx.progress.clone(),
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
        match &image.source {
            Some(source) => println!(
                "{:<24} {what} ({}) from {}",
                image.name,
                human_size(image.size),
                source.display()
            ),
            None => println!(
                "{:<24} {what} ({}): index of {} platform(s)",
                image.name,
                human_size(image.size),
                image.platforms.len()
            ),
        }
        for p in &image.platforms {
            println!(
                "  {:<22} {} ({}) from {}",
                p.platform,
                p.digest.short(),
                human_size(p.size),
                p.source.display()
            );
        }
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
