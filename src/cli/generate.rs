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

/// The name completions are generated for.
const BIN: &str = "ebpf-layout";

pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, BIN, &mut script);
    if args.shell == Shell::Bash {
        script = fix_bash_branch_names(&String::from_utf8(script)?).into_bytes();
    }
    std::io::stdout().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// clap_complete 4.6 sets `cmd` to `ebpf__layout__subcmd__load` but names the `case`
/// branch that completes load's options `ebpf__subcmd__layout__subcmd__load` (it turns
/// the `-` of the binary's name into its subcommand separator there), so no option or
/// value of any subcommand ever completed. Rename the branches to what `cmd` holds.
/// tests/cli_conventions.rs runs bash on the result, so a clap_complete that fixes or
/// changes this is noticed.
fn fix_bash_branch_names(script: &str) -> String {
    let wrong = format!("{}__subcmd__", BIN.replace('-', "__subcmd__"));
    let right = format!("{}__subcmd__", BIN.replace('-', "__"));
    script.replace(&wrong, &right)
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
