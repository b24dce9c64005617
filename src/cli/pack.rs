//! `ebpf-layout pack`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use super::render::{escape_control as esc, human_size, print_json};
use crate::kernel_btf::{KernelBtfOptions, KernelBtfSpec};
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
      --platform linux/s390x=probe_bpfeb.o --tag probe:1.2 -o bundle.tar
  ebpf-layout pack probe.bpf.o -o bundle.tar --kernel-btf 5.15.0-91-generic=5.15.0-91-generic.btf
  ebpf-layout pack probe.bpf.o -o bundle.tar --kernel-btf btfhub-archive/ubuntu/22.04/x86_64

--kernel-btf bundles, for kernels without /sys/kernel/btf/vmlinux, each kernel's BTF
minimised to what the object's CO-RE relocations need (bpftool gen min_core_btf), beside
the image without changing it; load uses it on a kernel with that release that has no BTF of its own."
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
    /// Bundle BTF for a kernel without its own: RELEASE=FILE (raw BTF or .btf.tar.xz), or
    /// DIR of <release>.btf[.tar.xz] files (a BTFHub archive tree); repeatable.
    #[arg(long = "kernel-btf", value_name = "RELEASE=FILE|DIR")]
    kernel_btf: Vec<String>,
    /// The bpftool that minimises --kernel-btf (default: $BPFTOOL, else bpftool in PATH,
    /// /usr/sbin or /sbin).
    #[arg(long, value_name = "PATH", requires = "kernel_btf")]
    bpftool: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// The bpftool to run: the flag, `$BPFTOOL`, or the first `bpftool` in PATH, /usr/sbin or
/// /sbin (Debian installs it in /usr/sbin, outside a user's PATH).
fn find_bpftool(flag: Option<PathBuf>) -> PathBuf {
    if let Some(path) = flag.or_else(|| std::env::var_os("BPFTOOL").map(PathBuf::from)) {
        return path;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join("bpftool"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("bpftool"))
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
    let kernel_btf = match args.kernel_btf.is_empty() {
        true => None,
        false => Some(KernelBtfOptions {
            specs: args
                .kernel_btf
                .iter()
                .map(|s| KernelBtfSpec::parse(s))
                .collect::<Result<_, _>>()
                .map_err(anyhow::Error::msg)?,
            bpftool: find_bpftool(args.bpftool),
        }),
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
        mtime: ctx.archive_mtime,
        limits: ctx.limits.clone(),
        progress: ctx.progress.clone(),
        kernel_btf,
    })?;
    for image in &report.images {
        for k in image.kernel_btf.iter().filter(|k| k.types == 0) {
            eprintln!(
                "warning: {}: kernel {}'s BTF has no type the object's CO-RE relocations need: the object uses no CO-RE, or that BTF is of another kernel or architecture",
                image.name, k.release
            );
        }
    }
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
                esc(&image.name.to_string()),
                human_size(image.size),
                esc(&source.display().to_string())
            ),
            None => println!(
                "{:<24} {what} ({}): index of {} platform(s)",
                esc(&image.name.to_string()),
                human_size(image.size),
                image.platforms.len()
            ),
        }
        for k in &image.kernel_btf {
            println!(
                "  kernel BTF {:<30} {} (from {} of full BTF), {} type(s)",
                k.release,
                human_size(k.size),
                human_size(k.full_size),
                k.types
            );
        }
        for p in &image.platforms {
            println!(
                "  {:<22} {} ({}) from {}",
                p.platform,
                p.digest.short(),
                human_size(p.size),
                esc(&p.source.display().to_string())
            );
        }
    }
    if !report.skipped.is_empty() {
        println!(
            "skipped {} file(s) that are not BPF objects",
            report.skipped.len()
        );
        for s in &report.skipped {
            eprintln!(
                "  skipped {}: {}",
                esc(&s.path.display().to_string()),
                esc(&s.reason)
            );
        }
    }
    println!(
        "{}: {} image(s) packed",
        esc(&report.output.display().to_string()),
        report.images.len()
    );
    Ok(ExitCode::SUCCESS)
}
