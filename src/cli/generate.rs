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
    let mut command = super::command().disable_help_subcommand(true);
    command.build();
    match args.dir {
        None => {
            let mut out = Vec::new();
            render_page(&command, &command, &mut out)?;
            std::io::stdout().write_all(&out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            let mut pages = vec![command.clone()];
            pages.extend(
                command
                    .get_subcommands()
                    .filter(|s| !s.is_hide_set())
                    .cloned(),
            );
            for page in &pages {
                let man = clap_mangen::Man::new(page.clone());
                let path = dir.join(man.get_filename());
                let mut out = Vec::new();
                render_page(&command, page, &mut out)?;
                std::fs::write(&path, out).map_err(crate::store::io_err("writing", &path))?;
            }
            eprintln!("wrote {} man pages to {}", pages.len(), dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What every page says about exit codes.
const EXIT_STATUS: &str = "0 on success. 1 on an integrity failure: a blob that does not match its \
digest or size, a missing blob, a truncated archive, or a missing or invalid signature (verify: also \
warnings with --strict). 2 on a usage error or unusable input (a missing file, a name that is not \
there, an invalid option). With --json a failure also prints {\"ok\":false,\"error\":{...}} on \
standard output.";

/// The environment variables every command reads, besides the limit ones.
const ENVIRONMENT: [(&str, &str); 3] = [
    (
        "EBPF_LAYOUT_PASSWORD",
        "the password of the private key (keygen, sign); empty for an unencrypted key. Without it \
         the password is asked on the terminal.",
    ),
    (
        "SOURCE_DATE_EPOCH",
        "seconds since 1970: pack and sign record this creation time (otherwise none, so output \
         is reproducible).",
    ),
    ("NO_COLOR", "when set, no colour is used in messages."),
];

/// A man page of `page` (the top command or one subcommand of `top`): clap_mangen's
/// title, name, synopsis, description, options and subcommands, then NOTES and EXAMPLES
/// split from the help text, EXIT STATUS and ENVIRONMENT (with the archive limits, which
/// every command takes).
fn render_page(
    top: &clap::Command,
    page: &clap::Command,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(page.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    if page.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(out)?;
    }
    if page.get_subcommands().next().is_some() {
        man.render_subcommands_section(out)?;
    }
    let after = page
        .get_after_help()
        .map(|h| h.to_string())
        .unwrap_or_default();
    let (notes, examples) = match after.split_once("Examples:") {
        Some((notes, examples)) => (notes.trim(), examples.trim_matches('\n')),
        None => match after.split_once("Example:") {
            Some((notes, examples)) => (notes.trim(), examples.trim_matches('\n')),
            None => (after.trim(), ""),
        },
    };
    let mut roff = String::new();
    if !notes.is_empty() {
        roff.push_str(".SH NOTES\n");
        for paragraph in notes.split("\n\n") {
            roff.push_str(&format!(
                "{}\n.PP\n",
                roff_text(&paragraph.replace('\n', " "))
            ));
        }
    }
    if !examples.is_empty() {
        roff.push_str(".SH EXAMPLES\n.nf\n");
        for line in examples.lines() {
            roff.push_str(&format!("{}\n", roff_text(line.trim_start())));
        }
        roff.push_str(".fi\n");
    }
    roff.push_str(&format!(
        ".SH \"EXIT STATUS\"\n{}\n",
        roff_text(EXIT_STATUS)
    ));
    roff.push_str(".SH ENVIRONMENT\n");
    for (name, what) in ENVIRONMENT {
        roff.push_str(&format!(
            ".TP\n.B {name}\n{}\n",
            roff_text(&what.split_whitespace().collect::<Vec<_>>().join(" "))
        ));
    }
    for (flag, help) in super::limits::limits_help(top) {
        // "--max-index-size SIZE (env EBPF_LAYOUT_MAX_INDEX_SIZE)": the variable, then
        // the option that overrides it.
        let (option, env) = flag.split_once(" (env ").unwrap_or((&flag, ""));
        let env = env.trim_end_matches(')');
        roff.push_str(&format!(
            ".TP\n.B {env}\n{}; also given as {}.\n",
            roff_text(&help),
            roff_text(option)
        ));
    }
    out.extend_from_slice(roff.as_bytes());
    if page.get_version().is_some() {
        man.render_version_section(out)?;
    }
    Ok(())
}

/// Text safe in roff: backslashes escaped, no line read as a request.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    escaped
        .lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
