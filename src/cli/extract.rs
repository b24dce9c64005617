//! `ebpf-layout extract`: the program object back out, byte for byte.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;

use super::render::{human_size, print_json};
use crate::oci::{Digest, Platform};
use crate::sign::PublicKey;
use crate::trust::{open_program, Trust};

/// Write an image's program object to a file, exactly as it was packed.
#[derive(Debug, Args)]
#[command(
    after_help = "The object is read the way load reads it: the manifest and the layer holding
the program are hashed against their descriptors (and with --key the image must carry a
valid signature), so the bytes written are the bytes that were packed. The file is
written under a temporary name and renamed; an existing file is kept unless --force.

Examples:
  ebpf-layout extract bundle.tar:probe -o probe.bpf.o
  ebpf-layout extract bundle:probe --key site.pub -o probe.bpf.o
  ebpf-layout extract bundle:probe -o - | llvm-objdump -d -"
)]
pub struct ExtractArgs {
    /// The image: PATH (holding one image), PATH:NAME or PATH@sha256:HEX.
    #[arg(value_name = "REF")]
    reference: String,
    /// The file to write (- for standard output).
    #[arg(short, long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    output: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
    /// Which platform to pick from a multi-platform index (default: this machine's).
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// Refuse the image unless it carries a valid signature by this public key (PEM;
    /// repeatable: any one of them will do).
    #[arg(long = "key", value_name = "PUB")]
    keys: Vec<PathBuf>,
    /// Print what was written as JSON.
    #[arg(long)]
    json: bool,
}

/// The `--json` document.
#[derive(Serialize)]
struct Extracted {
    /// The image's name (or short digest).
    name: String,
    /// The manifest's digest.
    manifest: Digest,
    /// The object's sha256 (of the bytes written).
    digest: Digest,
    /// Its size in bytes.
    size: u64,
    /// Where it was written (`-` for standard output).
    output: PathBuf,
}

pub(crate) fn run(args: ExtractArgs, ctx: &super::Context) -> anyhow::Result<ExitCode> {
    let reference = super::reference::input_ref(&args.reference)?;
    let to_stdout = args.output.as_os_str() == "-";
    if !to_stdout && !args.force && args.output.symlink_metadata().is_ok() {
        anyhow::bail!(
            "{}: the file exists; give --force to replace it",
            args.output.display()
        );
    }
    let platform = args
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let keys = args
        .keys
        .iter()
        .map(|p| PublicKey::load(p))
        .collect::<crate::sign::Result<Vec<_>>>()?;
    let trust = if keys.is_empty() {
        Trust::AcceptUnsigned
    } else {
        Trust::Keys(keys)
    };
    let source = ctx.open(&reference.path)?;
    let program = open_program(
        source.as_ref(),
        &args.reference,
        &reference.selector,
        platform.as_ref(),
        &trust,
    )
    .map_err(super::in_image(&args.reference))?;
    let object = program.object();
    if to_stdout {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(object)?;
        stdout.flush()?;
    } else {
        write_atomically(&args.output, object, args.force)?;
    }
    let extracted = Extracted {
        name: program.name().to_string(),
        manifest: program.manifest_digest().clone(),
        digest: Digest::of(object),
        size: object.len() as u64,
        output: args.output.clone(),
    };
    if args.json && !to_stdout {
        print_json(&extracted)?;
    } else if !to_stdout {
        println!(
            "{}: wrote {} ({}, {})",
            extracted.name,
            extracted.output.display(),
            human_size(extracted.size),
            extracted.digest
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames it into
/// place; without `replace` an existing `path` (even one created meanwhile) is kept.
fn write_atomically(path: &Path, bytes: &[u8], replace: bool) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".ebpf-layout-extract-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("writing {}", temp.path().display()))?;
    if replace {
        temp.persist(path)
            .map_err(|e| e.error)
            .with_context(|| format!("renaming into {}", path.display()))?;
    } else {
        temp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                anyhow::anyhow!(
                    "{}: the file exists; give --force to replace it",
                    path.display()
                )
            } else {
                anyhow::Error::new(e.error).context(format!("writing {}", path.display()))
            }
        })?;
    }
    Ok(())
}
