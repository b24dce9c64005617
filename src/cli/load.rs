//! `ebpf-layout load` and `ebpf-layout unload`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::render::print_json;
use crate::load::{self, AttachPoint, LoadOptions, OutputMode};
use crate::oci::Platform;
use crate::sign::PublicKey;
use crate::trust::{open_program, Trust};

/// How to show the maps to a person (`--json` is for programs).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Display {
    /// A table redrawn in place (the default on a terminal).
    Table,
    /// Plain lines (the default when stdout is not a terminal).
    Text,
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
  ebpf-layout load bundle.tar:xdp_count --attach xdp:eth0 --duration 30s
  ebpf-layout load bundle:probe --duration 5s --json | jq .
  ebpf-layout load bundle:probe --pin /sys/fs/bpf/probe --detach
  ebpf-layout load bundle.tar:probe --key site.pub
  ebpf-layout unload /sys/fs/bpf/probe"
)]
pub struct LoadArgs {
    /// The image: PATH (holding one image), PATH:NAME or PATH@sha256:HEX.
    #[arg(value_name = "REF")]
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
    /// Stop after this long: seconds (2.5) or with a unit (500ms, 3s, 2m, 1h)
    /// (default: until Ctrl-C).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// How to show the maps: table or text (default: table on a terminal, text otherwise).
    #[arg(long, value_enum, value_name = "HOW")]
    display: Option<Display>,
    /// Print the maps as JSON lines (one object per line), for programs.
    #[arg(long, conflicts_with = "display")]
    json: bool,
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
    let reference = super::reference::input_ref(&args.reference)?;
    let platform = args
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let duration = args.duration;
    let output = match args.display {
        _ if args.json => OutputMode::Json,
        Some(Display::Table) => OutputMode::Table,
        Some(Display::Text) => OutputMode::Text,
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

/// `2.5` (seconds), `500ms`, `3s`, `2m`, `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?}: give seconds (2.5) or a unit: ms, s, m, h (500ms, 3s, 2m)"
            ))
        }
    };
    let value: f64 = number.parse().map_err(|_| {
        format!("{text:?} is not a duration: give seconds (2.5) or 500ms, 3s, 2m, 1h")
    })?;
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("{text:?}: {e}"))
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

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_take_seconds_or_a_unit() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("").is_err());
    }
}
