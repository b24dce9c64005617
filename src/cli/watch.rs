//! `ebpf-layout watch DIR`: the live map display of a detached deployment.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::load::{self, OutputMode, WatchOptions};

/// How to show the maps (as `load --output`).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    /// A table redrawn in place (the default on a terminal).
    Table,
    /// Plain lines (the default when stdout is not a terminal).
    Text,
    /// One JSON object per line.
    Json,
}

/// Show the live maps of a deployment that `load --pin DIR --detach` left running.
#[derive(Debug, Args)]
#[command(
    after_help = "The same display as `load`: counter_*, gauge_* and hist_* maps every second,
print_* ring and perf buffer records as they arrive, decoded through the program's BTF.
Watching changes nothing, except that it consumes the event records it shows.

Examples:
  ebpf-layout watch /sys/fs/bpf/probe
  ebpf-layout watch /sys/fs/bpf/site --output json --duration 60
  ebpf-layout watch /sys/fs/bpf/site --metrics 127.0.0.1:9091"
)]
pub struct WatchArgs {
    /// The pin folder given to `load --pin` (a bundle's folder shows every image).
    #[arg(value_name = "DIR")]
    pin_dir: PathBuf,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// How to show the maps (default: table on a terminal, text otherwise).
    #[arg(long, value_enum)]
    output: Option<Output>,
    /// Serve the maps as Prometheus metrics at http://ADDR/metrics while watching
    /// (e.g. 127.0.0.1:9091; nothing listens without it).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
}

pub(crate) fn run(args: WatchArgs) -> anyhow::Result<ExitCode> {
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
