//! `ebpf-layout ps`: what `load --pin` left running on this machine.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::render::{print_json, print_table};
use crate::load::deploy::{self, Deployment, ProgramState};

/// List the deployments on this machine: what `load --pin` left running.
#[derive(Debug, Args)]
#[command(
    after_help = "Looks for pin folders made by `load --pin` under every bpffs mount (or only
under the given folders): the folder, each image's name, digest and signer, its programs
with their attach points and kernel ids, and since when. A deployment whose programs are
no longer in the kernel (pins removed behind our back) is flagged, not hidden.

Examples:
  ebpf-layout ps
  ebpf-layout ps /sys/fs/bpf/site --json"
)]
pub struct PsArgs {
    /// Look only under these folders (default: every bpffs mount).
    #[arg(value_name = "DIR")]
    roots: Vec<PathBuf>,
    /// Print the deployments as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: PsArgs) -> anyhow::Result<ExitCode> {
    let deployments = deploy::list(&args.roots)?;
    if args.json {
        print_json(&deployments)?;
        return Ok(ExitCode::SUCCESS);
    }
    if deployments.is_empty() {
        println!("no deployments");
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = Vec::new();
    for d in &deployments {
        rows.extend(rows_of(d));
    }
    print_table(
        &[
            "FOLDER",
            "IMAGE",
            "DIGEST",
            "SIGNED BY",
            "PROGRAM",
            "ID",
            "ATTACHED TO",
            "STATE",
            "SINCE",
        ],
        &rows,
    );
    let unhealthy: Vec<&Deployment> = deployments.iter().filter(|d| !d.healthy).collect();
    for d in unhealthy {
        eprintln!(
            "warning: {} is not running as loaded (programs gone or detached); \
             remove what is left with: ebpf-layout unload {}",
            printable(&d.path.display().to_string()),
            printable(&d.path.display().to_string()),
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn rows_of(d: &Deployment) -> Vec<Vec<String>> {
    let since = d.loaded_at.map(utc).unwrap_or_else(|| "-".into());
    let mut rows = Vec::new();
    for image in &d.images {
        let short = |s: &Option<String>| {
            s.as_deref()
                .map(|s| {
                    s.strip_prefix("sha256:")
                        .unwrap_or(s)
                        .chars()
                        .take(12)
                        .collect()
                })
                .unwrap_or_else(|| "-".into())
        };
        let folder = printable(&image.pin_dir.display().to_string());
        let head = [
            folder,
            printable(&image.name),
            short(&image.digest),
            short(&image.signed_by),
        ];
        if !image.pinned || image.programs.is_empty() {
            let mut row = head.to_vec();
            row.extend(
                ["-", "-", "-", if image.pinned { "running" } else { "gone" }].map(String::from),
            );
            row.push(since.clone());
            rows.push(row);
            continue;
        }
        for p in &image.programs {
            let mut row = head.to_vec();
            row.push(printable(&p.name));
            row.push(p.id.map_or("-".into(), |id| id.to_string()));
            row.push(if p.attached_to.is_empty() {
                "-".into()
            } else {
                printable(&p.attached_to.join(","))
            });
            row.push(
                match p.state {
                    ProgramState::Running => "running",
                    ProgramState::Detached => "DETACHED",
                    ProgramState::Gone => "GONE",
                }
                .into(),
            );
            row.push(since.clone());
            rows.push(row);
        }
    }
    rows
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Control characters (from hostile names) escaped, so they cannot drive the terminal.
pub(crate) fn printable(text: &str) -> String {
    crate::report::escape_control(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_shown_in_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_764_470_096), "2025-11-30T02:34:56Z");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\x1b[2Jb\n"), "a\\x1b[2Jb\\n");
    }
}
