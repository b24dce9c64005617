//! `ebpf-layout load` and `ebpf-layout unload`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::render::escape_control as esc;
use crate::load::{self, Attach, LoadOptions, OutputMode};
use crate::oci::Platform;
use crate::trust::{open_program, with_kernel_btf, BtfSource, Trust};

/// Where libbpf takes kernel BTF from (`--kernel-btf`).
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
enum KernelBtfArg {
    /// The kernel's own when it has /sys/kernel/btf/vmlinux, else the image's bundled BTF
    /// for this kernel's release (when it carries any).
    #[default]
    Auto,
    /// The image's bundled BTF for this kernel's release (`uname -r`), even when the
    /// kernel has its own (for a broken kernel BTF); an error when there is none.
    Bundled,
    /// The kernel's own only.
    Kernel,
}

/// How to show the maps to a person (`--json` is for programs).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Display {
    /// A table redrawn in place (the default on a terminal).
    Table,
    /// Plain lines (the default when stdout is not a terminal).
    Text,
}

/// Verify an image (or every image of a bundle), then load its programs into the kernel,
/// attach them and show their maps.
#[derive(Debug, Args)]
#[command(
    after_help = "Every blob used (manifest, program) is hashed and checked before the kernel
sees a byte. Programs attach from their ELF section (tracepoint, raw_tp, tp_btf,
fentry/fexit, lsm, …) or where --attach says; XDP, TC and perf_event programs, and uprobe,
usdt and kprobe programs whose section names no target, need --attach. A program that cannot be
attached is an error (nothing stays loaded) unless it is --optional.

Configure the object as its own user space would: --global NAME=VALUE sets a global
variable (see `ebpf-layout inspect` for the list, types and defaults), --map-max-entries
MAP=N sizes a map.

Maps named print_*, counter_*, gauge_* and hist_* are shown as bumblebee does, decoded
through BTF; --map NAME (or --map all) shows others; --json shows every map.

With --key, the image must carry a valid signature (ebpf-layout sign) by one of the
given public keys, made for the repository of the name it is loaded by (or for
--identity); with --policy (or EBPF_LAYOUT_POLICY), the policy's requirements for that
name apply. Otherwise nothing is loaded. verify applies the same rule.

Needs root, or CAP_BPF and CAP_PERFMON (and CAP_NET_ADMIN for XDP/TC).

Examples:
  ebpf-layout load bundle:probe
  ebpf-layout load bundle.tar:xdp_count --attach xdp:eth0:skb --duration 30s
  ebpf-layout load bundle:opensnoop --global targ_pid=1234 --map all
  ebpf-layout load bundle:offcputime --map-max-entries stackmap=10240
  ebpf-layout load bundle:bashreadline --attach uretprobe:/bin/bash:readline
  ebpf-layout load bundle:probe --attach on_call=uprobe:/usr/bin/app:main --pid 4242
  ebpf-layout load bundle:probe --duration 5s --json | jq .
  ebpf-layout load bundle:profile --attach perf:cpu-clock:99 --duration 10s
  ebpf-layout load bundle:probe --pin /sys/fs/bpf/probe --detach
  ebpf-layout load bundle.tar --pin /sys/fs/bpf/site --detach
  ebpf-layout load bundle.tar:probe --key site.pub
  ebpf-layout load bundle.tar:registry.local/ebpf/probe:1.0 --policy site-policy.json
  ebpf-layout load bundle.tar:probe --metrics 127.0.0.1:9091
  ebpf-layout unload /sys/fs/bpf/probe"
)]
pub struct LoadArgs {
    /// The image: PATH:NAME or PATH@sha256:HEX, or PATH (every image it holds: a bundle
    /// is loaded whole, all or nothing).
    #[arg(value_name = "REF")]
    reference: String,
    /// Load and attach only this program; the others are not loaded (repeatable).
    #[arg(long = "program", value_name = "NAME")]
    programs: Vec<String>,
    /// This program may fail to load or attach: warn and go on without it (repeatable).
    #[arg(long = "optional", value_name = "NAME")]
    optional: Vec<String>,
    /// Where a program attaches (repeatable). POINT: xdp:IFACE[:skb|drv|hw],
    /// tc:IFACE:ingress|egress, uprobe|uretprobe:BINARY:FUNCTION[+OFFSET],
    /// usdt:BINARY:PROVIDER:NAME, kprobe|kretprobe:FUNCTION, fentry|fexit:FUNCTION,
    /// tracepoint:CATEGORY:NAME, perf:EVENT[:FREQ] (a perf_event program sampling EVENT
    /// FREQ times a second on every CPU, default 49; EVENT: cpu-clock, task-clock, or on
    /// a hardware PMU cycles, instructions, cache-misses, cache-references; not with
    /// --pin). PROGRAM may be left out when one program fits.
    #[arg(long = "attach", value_name = "[PROGRAM=]POINT")]
    attach: Vec<Attach>,
    /// Limit uprobes and USDT probes to this process, perf:EVENT sampling to this thread
    /// (a process's main thread has its PID).
    #[arg(long, value_name = "PID")]
    pid: Option<i32>,
    /// Set a global variable before load (repeatable): integers in decimal or 0x-hex,
    /// true/false, enum names, text for char arrays, hex:BYTES for raw bytes.
    #[arg(long = "global", value_name = "NAME=VALUE", value_parser = parse_global)]
    globals: Vec<(String, String)>,
    /// Set a map's size before load (repeatable).
    #[arg(long = "map-max-entries", value_name = "MAP=N", value_parser = parse_max_entries)]
    map_max_entries: Vec<(String, u32)>,
    /// Also show this map in table and text output, or every map with `all` (repeatable).
    #[arg(long = "map", value_name = "NAME|all")]
    maps: Vec<String>,
    /// Let maps declared LIBBPF_PIN_BY_NAME live at /sys/fs/bpf/NAME and reuse what is
    /// pinned there, as libbpf does on its own.
    #[arg(long)]
    reuse_pinned_maps: bool,
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
    #[command(flatten)]
    trust: super::trust::TrustArgs,
    /// Kernel BTF for CO-RE relocations: auto, bundled (from the image, for `uname -r`)
    /// or kernel (/sys/kernel/btf/vmlinux).
    #[arg(
        long = "kernel-btf",
        value_enum,
        default_value = "auto",
        value_name = "SOURCE"
    )]
    kernel_btf: KernelBtfArg,
    /// Serve the maps as Prometheus metrics at http://ADDR/metrics while running
    /// (e.g. 127.0.0.1:9091; nothing listens without it). With --detach, use
    /// `ebpf-layout watch DIR --metrics ADDR` instead.
    #[arg(long, value_name = "ADDR", conflicts_with = "detach")]
    metrics: Option<std::net::SocketAddr>,
    /// Show libbpf's own messages on standard error, and a rejected program's whole
    /// verifier log (otherwise its last 40 lines).
    #[arg(long, short)]
    verbose: bool,
}

/// Where the running kernel's own BTF is.
const KERNEL_BTF_PATH: &str = "/sys/kernel/btf/vmlinux";

/// The running kernel's release, as `uname -r` prints it.
fn kernel_release() -> anyhow::Result<String> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").map_err(|e| {
        anyhow::anyhow!("reading /proc/sys/kernel/osrelease (the kernel release): {e}")
    })?;
    Ok(release.trim().to_string())
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
    let trust = args.trust.trust()?.unwrap_or(Trust::AcceptUnsigned);
    // Verified bytes only: the manifest and the program are hashed against their
    // descriptors, and with --key or --policy the trust rule is applied, before libbpf
    // sees a byte.
    let source = ctx.open(&reference.path)?;
    // A bundle (no name given, several images): all of them, all or nothing (bundle.rs).
    if reference.selector == crate::oci::Selector::All {
        if let Some(entries) = super::bundle::bundle_entries(source.as_ref())? {
            let request = super::bundle::BundleRequest {
                reference: &args.reference,
                programs: &args.programs,
                optional: &args.optional,
                attach: &args.attach,
                globals: &args.globals,
                max_entries: &args.map_max_entries,
                show_maps: &args.maps,
                pid: args.pid,
                reuse_pinned_maps: args.reuse_pinned_maps,
                pin: args.pin.as_deref(),
                detach: args.detach,
                duration,
                output,
                metrics: args.metrics,
                verbose: args.verbose,
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
    )
    .map_err(super::in_image(&args.reference))?;
    let choice = match args.kernel_btf {
        KernelBtfArg::Auto => BtfSource::Auto,
        KernelBtfArg::Bundled => BtfSource::Bundled,
        KernelBtfArg::Kernel => BtfSource::Kernel,
    };
    let program = match choice {
        BtfSource::Kernel => program,
        _ => with_kernel_btf(
            source.as_ref(),
            program,
            choice,
            &kernel_release()?,
            std::path::Path::new(KERNEL_BTF_PATH).exists(),
        )?,
    };
    if let Some(btf) = program.kernel_btf() {
        eprintln!(
            "using the image's bundled BTF for kernel {} ({} bytes, {}) instead of {KERNEL_BTF_PATH}",
            btf.release(),
            btf.bytes().len(),
            btf.digest().short()
        );
    }
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
        optional: args.optional,
        attach: args.attach,
        pid: args.pid,
        globals: args.globals,
        max_entries: args.map_max_entries,
        show_maps: args.maps,
        reuse_pinned_maps: args.reuse_pinned_maps,
        pin: args.pin,
        detach: args.detach,
        duration,
        output,
        metrics: args.metrics,
        verbose: args.verbose,
    };
    if let Some(addr) = &args.metrics {
        eprintln!("serving metrics at http://{addr}/metrics");
    }
    let mut stdout = std::io::stdout().lock();
    let report = load::load(&program, &options, &mut stdout)?;
    drop(stdout);
    if output != OutputMode::Json {
        for warning in &report.warnings {
            eprintln!("warning: {}", for_terminal(warning));
        }
    }
    if report.detached {
        if let Some(dir) = &report.pin_dir {
            eprintln!(
                "{} is running, pinned under {}; remove it with: ebpf-layout unload {}",
                esc(&name),
                esc(&dir.display().to_string()),
                esc(&dir.display().to_string())
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `NAME=VALUE` of `--global`.
fn parse_global(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("'{text}' is not NAME=VALUE")),
    }
}

/// `2.5` (seconds), `500ms`, `3s`, `2m`, `1h`.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
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

/// `MAP=N` of `--map-max-entries`.
fn parse_max_entries(text: &str) -> Result<(String, u32), String> {
    let (name, value) = text
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| format!("'{text}' is not MAP=N"))?;
    let entries = value
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            format!(
                "'{value}' is not a number of entries from 1 to {}",
                u32::MAX
            )
        })?;
    Ok((name.to_owned(), entries))
}

/// Escapes control characters of input-derived text for the terminal (line breaks kept).
fn for_terminal(text: &str) -> String {
    super::render::escape_message(text)
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
