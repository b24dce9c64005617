//! `ebpf-layout completions SHELL` and `ebpf-layout man`: generated from the clap
//! definitions, so they never drift from the real command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;

/// Print a shell completion script.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ebpf-layout completions bash > /etc/bash_completion.d/ebpf-layout
  ebpf-layout completions zsh > \"${fpath[1]}/_ebpf-layout\"")]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    shell: Shell,
}

/// Write the man pages (one per command) or print the main one.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ebpf-layout man | man -l -
  ebpf-layout man --dir /usr/local/share/man/man1")]
pub struct ManArgs {
    /// Write ebpf-layout.1 and ebpf-layout-COMMAND.1 into this folder instead of
    /// printing ebpf-layout.1.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    clap_complete::generate(
        args.shell,
        &mut command,
        "ebpf-layout",
        &mut std::io::stdout(),
    );
    Ok(ExitCode::SUCCESS)
}

pub fn man(args: ManArgs) -> anyhow::Result<ExitCode> {
    let command = Cli::command();
    match args.dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(command).render(&mut out)?;
            std::io::stdout().write_all(&out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            clap_mangen::generate_to(command, &dir)?;
            eprintln!("wrote man pages to {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
