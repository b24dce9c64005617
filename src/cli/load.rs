//! `ebpf-layout load` and `ebpf-layout unload`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::render::print_json;
use crate::load::{self, AttachPoint, LoadOptions, OutputMode};
use crate::oci::{ImageRef, Platform};
use crate::sign::PublicKey;
use crate::trust::{open_program, Trust};

/// How to show the maps.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    /// A table redrawn in place (the default on a terminal).
    Table,
    /// Plain lines (the default when stdout is not a terminal).
    Text,
    /// One JSON object per line.
    Json,
}

/// Verify an image, then load its programs into the kernel, attach them and show
/// their maps.
#[derive(Debug, Args)]
#[command(
    after_help = "Every blob used (manifest, program) is hashed and checked before the kernel
sees a byte. Programs attach from their ELF section (tracepoint, raw_tp, tp_btf,
fentry/fexit, lsm, …); XDP and TC programs attach where --attach says. Maps named
print_*, counter_*, gauge_* and hist_* are shown as bumblebee does, decoded through BTF.

With --key, the image must carry a valid signature (ebpf-layout sign) by one of the
given public keys, or nothing is loaded.

Needs root, or CAP_BPF and CAP_PERFMON (and CAP_NET_ADMIN for XDP/TC).

Examples:
  ebpf-layout load bundle:probe
  ebpf-layout load bundle.tar:xdp_count --attach xdp:eth0 --duration 30
  ebpf-layout load bundle:probe --pin /sys/fs/bpf/probe --detach
  ebpf-layout load bundle.tar:probe --key site.pub
  ebpf-layout unload /sys/fs/bpf/probe"
)]
pub struct LoadArgs {
    /// The image: PATH (holding one image), PATH:NAME or PATH@sha256:HEX.
    #[arg(value_name = "REF", allow_hyphen_values = true)]
    reference: String,
    /// Load and attach only this program (repeatable).
    #[arg(long = "program", value_name = "NAME")]
    programs: Vec<String>,
    /// Where XDP/TC programs attach: xdp:IFACE or tc:IFACE:ingress|egress (repeatable).
    #[arg(long = "attach", value_name = "POINT")]
    attach: Vec<AttachPoint>,
    /// Pin maps, programs and links under this bpffs folder.
    #[arg(long, value_name = "DIR")]
    pin: Option<PathBuf>,
    /// Exit after attaching and pinning, leaving the programs running (needs --pin).
    #[arg(long, requires = "pin")]
    detach: bool,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// How to show the maps (default: table on a terminal, text otherwise).
    #[arg(long, value_enum)]
    output: Option<Output>,
    /// Which platform to pick from a multi-platform index (default: this machine's).
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// Refuse the image unless it carries a valid signature by this public key
    /// (PEM; repeatable: any one of them will do). Checked before the kernel sees it.
    #[arg(long = "key", value_name = "PUB")]
    keys: Vec<PathBuf>,
}

/// Detach and remove what `load --pin DIR --detach` pinned.
#[derive(Debug, Args)]
#[command(
    after_help = "Only what the load recorded in DIR is removed; a folder that load did not
create is refused.

Example:
  ebpf-layout unload /sys/fs/bpf/probe"
)]
pub struct UnloadArgs {
    /// The pin folder given to `load --pin`.
    #[arg(value_name = "DIR")]
    pin_dir: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: LoadArgs, ctx: &super::Context) -> anyhow::Result<ExitCode> {
    let reference = ImageRef::parse(&args.reference)?;
    let platform = args
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let duration = match args.duration {
        Some(s) if !(s.is_finite() && s >= 0.0) => {
            anyhow::bail!("invalid --duration {s}: give a number of seconds")
        }
        Some(s) => Some(Duration::from_secs_f64(s)),
        None => None,
    };
    let output = match args.output {
        Some(Output::Table) => OutputMode::Table,
        Some(Output::Text) => OutputMode::Text,
        Some(Output::Json) => OutputMode::Json,
        None if std::io::stdout().is_terminal() => OutputMode::Table,
        None => OutputMode::Text,
    };
    let keys = args
        .keys
        .iter()
        .map(|p| PublicKey::load(p))
        .collect::<crate::Result<Vec<_>>>()?;
    // Verified bytes only: the manifest and the program are hashed against their
    // descriptors, and with --key the signature is checked, before libbpf sees a byte.
    let source = ctx.open(&reference.path)?;
    let trust = if keys.is_empty() {
        Trust::AcceptUnsigned
    } else {
        Trust::Keys(keys)
    };
    let program = open_program(
        source.as_ref(),
        &args.reference,
        &reference.selector,
        platform.as_ref(),
        &trust,
    )?;
    drop(source); // releases a layout's read lock: writers need not wait while it runs
    if let Some(trusted) = program.trusted() {
        eprintln!(
            "signature of {} verified with key {}",
            trusted.signed_digest,
            trusted.key.short()
        );
    }
    let name = program.name().to_string();
    let options = LoadOptions {
        programs: args.programs,
        attach: args.attach,
        pin: args.pin,
        detach: args.detach,
        duration,
        output,
    };
    let mut stdout = std::io::stdout().lock();
    let report = load::load(&program, &options, &mut stdout)?;
    drop(stdout);
    if report.detached {
        if let Some(dir) = &report.pin_dir {
            eprintln!(
                "{} is running, pinned under {}; remove it with: ebpf-layout unload {}",
                name,
                dir.display(),
                dir.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_unload(args: UnloadArgs) -> anyhow::Result<ExitCode> {
    let report = load::unload(&args.pin_dir)?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "unloaded {} from {}: {} pin(s) removed",
        report.object,
        report.pin_dir.display(),
        report.removed.len()
    );
    for tc in &report.tc_detached {
        println!("  detached TC filter {tc}");
    }
    for path in &report.missing {
        println!("  already gone: {}", path.display());
    }
    for path in &report.left_in_place {
        println!("  left in place: {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
