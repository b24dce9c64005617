//! `ebpf-layout watch DIR`: the live map display of a detached deployment.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::load::Display;

use crate::load::{self, OutputMode, WatchOptions};

/// Show the live maps of a deployment that `load --pin DIR --detach` left running.
#[derive(Debug, Args)]
#[command(
    after_help = "The same display as `load`: counter_*, gauge_* and hist_* maps every second,
print_* ring and perf buffer records as they arrive, decoded through the program's BTF.
Watching changes nothing, except that it consumes the event records it shows.

Examples:
  ebpf-layout watch /sys/fs/bpf/probe
  ebpf-layout watch /sys/fs/bpf/site --json --duration 60s
  ebpf-layout watch /sys/fs/bpf/site --metrics 127.0.0.1:9091"
)]
pub struct WatchArgs {
    /// The pin folder given to `load --pin` (a bundle's folder shows every image).
    #[arg(value_name = "DIR")]
    pin_dir: PathBuf,
    /// Stop after this long: seconds (2.5) or with a unit (500ms, 3s, 2m, 1h)
    /// (default: until Ctrl-C).
    #[arg(long, value_name = "DURATION", value_parser = super::load::parse_duration)]
    duration: Option<Duration>,
    /// How to show the maps: table or text (default: table on a terminal, text otherwise).
    #[arg(long, value_enum, value_name = "HOW")]
    display: Option<Display>,
    /// Print the maps as JSON lines (one object per line), for programs.
    #[arg(long, conflicts_with = "display")]
    json: bool,
    /// Serve the maps as Prometheus metrics at http://ADDR/metrics while watching
    /// (e.g. 127.0.0.1:9091; nothing listens without it).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
}

pub(crate) fn run(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let duration = args.duration;
    let output = match args.display {
        _ if args.json => OutputMode::Json,
        Some(Display::Table) => OutputMode::Table,
        Some(Display::Text) => OutputMode::Text,
        None if std::io::stdout().is_terminal() => OutputMode::Table,
        None => OutputMode::Text,
    };
    if let Some(addr) = &args.metrics {
        eprintln!("serving metrics at http://{addr}/metrics");
    }
    let options = WatchOptions {
        duration,
        output,
        metrics: args.metrics,
        transient: false,
    };
    let mut stdout = std::io::stdout().lock();
    load::watch(&args.pin_dir, &options, &mut stdout)?;
    Ok(ExitCode::SUCCESS)
}
