//! `ebpf-layout load` and `ebpf-layout unload`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

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

/// Verify an image (or every image of a bundle), then load its programs into the kernel,
/// attach them and show their maps.
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
  ebpf-layout load bundle.tar --pin /sys/fs/bpf/site --detach
  ebpf-layout load bundle.tar:probe --key site.pub
  ebpf-layout load bundle.tar:probe --metrics 127.0.0.1:9091
  ebpf-layout unload /sys/fs/bpf/probe"
)]
pub struct LoadArgs {
    /// The image: PATH:NAME or PATH@sha256:HEX, or PATH (every image it holds: a bundle
    /// is loaded whole, all or nothing).
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
    /// Serve the maps as Prometheus metrics at http://ADDR/metrics while running
    /// (e.g. 127.0.0.1:9091; nothing listens without it). With --detach, use
    /// `ebpf-layout watch DIR --metrics ADDR` instead.
    #[arg(long, value_name = "ADDR", conflicts_with = "detach")]
    metrics: Option<std::net::SocketAddr>,
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
    // A bundle (no name given, several images): all of them, all or nothing (bundle.rs).
    if reference.selector == crate::oci::Selector::All {
        if let Some(entries) = super::bundle::bundle_entries(source.as_ref())? {
            let request = super::bundle::BundleRequest {
                reference: &args.reference,
                programs: &args.programs,
                attach: &args.attach,
                pin: args.pin.as_deref(),
                detach: args.detach,
                duration,
                output,
                metrics: args.metrics,
            };
            super::bundle::run(
                source.as_ref(),
                &entries,
                platform.as_ref(),
                &trust,
                &request,
            )?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    let program = open_program(
        source.as_ref(),
        &args.reference,
        &reference.selector,
        platform.as_ref(),
        &trust,
    )?;
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
        metrics: args.metrics,
    };
    if let Some(addr) = &args.metrics {
        eprintln!("serving metrics at http://{addr}/metrics");
    }
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
