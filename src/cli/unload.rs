//! `ebpf-layout unload`: removes a deployment, or one image of a bundle's deployment.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::ps::printable;
use super::render::print_json;
use crate::load::deploy;

/// Detach and remove what `load --pin DIR` pinned: a whole deployment, or one image of it.
#[derive(Debug, Args)]
#[command(
    after_help = "Only what the load recorded in DIR is removed; a folder that load did not
create is refused. DIR is the folder given to `load --pin`: for a bundle, that removes every
image; DIR/NAME removes the image NAME only (`ebpf-layout ps` lists them).

Examples:
  ebpf-layout unload /sys/fs/bpf/probe
  ebpf-layout unload /sys/fs/bpf/site
  ebpf-layout unload /sys/fs/bpf/site/xdp_count"
)]
pub struct UnloadArgs {
    /// The pin folder given to `load --pin` (or DIR/NAME for one image of a bundle).
    #[arg(value_name = "DIR")]
    pin_dir: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: UnloadArgs) -> anyhow::Result<ExitCode> {
    let report = deploy::unload_deployment(&args.pin_dir)?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let show = |p: &std::path::Path| printable(&p.display().to_string());
    for image in &report.images {
        println!(
            "unloaded {} from {}: {} pin(s) removed",
            printable(&image.object),
            show(&image.pin_dir),
            image.removed.len()
        );
        for tc in &image.tc_detached {
            println!("  detached TC filter {tc}");
        }
        for path in &image.missing {
            println!("  already gone: {}", show(path));
        }
        for path in &image.left_in_place {
            println!("  left in place: {}", show(path));
        }
    }
    for path in &report.missing {
        println!("already gone: {}", show(path));
    }
    Ok(ExitCode::SUCCESS)
}
