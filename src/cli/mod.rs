//! The command line: clap definitions, one module per command (parse → call the
//! library → render), and the mapping from errors to exit codes.
//!
//! Exit codes: 0 success, 1 an integrity failure (a blob that does not match its
//! digest or size, or is missing; an archive truncated or damaged on the way; an image
//! the trust rule refuses), 2 anything else (usage, unusable input, I/O). The library
//! classifies its errors ([`crate::error::is_integrity_failure_in`]); `exit_code` asks
//! it about every error of the chain.

#[cfg(feature = "loader")]
mod bundle;
mod copy;
mod extract;
mod gc;
mod generate;
mod inspect;
mod keygen;
mod limits;
mod list;
#[cfg(feature = "loader")]
mod load;
mod pack;
mod progress;
#[cfg(feature = "loader")]
mod ps;
mod reference;
mod render;
mod rm;
mod sign;
mod tag;
mod trust;
#[cfg(feature = "loader")]
mod unload;
mod verify;
#[cfg(feature = "loader")]
mod watch;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::store::StoreError;

/// Exit code for an integrity failure.
pub const EXIT_INTEGRITY: u8 = 1;
/// Exit code for usage errors and unusable input.
pub const EXIT_USAGE: u8 = 2;

/// Pack compiled eBPF programs into OCI image layouts, verify them offline, load them.
#[derive(Debug, Parser)]
#[command(name = "ebpf-layout", version, about, long_about = None)]
#[command(after_help = "Examples:
  ebpf-layout pack probe.bpf.o -o bundle
  ebpf-layout pack build/ -o bundle --platform linux/arm64
  ebpf-layout list bundle
  ebpf-layout inspect bundle:probe
  ebpf-layout inspect 'bundle:ghcr.io/acme/probe:1.2' --json
  ebpf-layout pack build/ -o bundle.tar
  ebpf-layout copy bundle.tar.gz /var/lib/ebpf/oci
  ebpf-layout completions bash > /etc/bash_completion.d/ebpf-layout")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Show no progress line (it appears only on a terminal, for work that takes a while).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(flatten)]
    limits: limits::LimitArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    Pack(pack::PackArgs),
    List(list::ListArgs),
    Inspect(inspect::InspectArgs),
    Extract(extract::ExtractArgs),
    Verify(verify::VerifyArgs),
    Copy(copy::CopyArgs),
    Tag(tag::TagArgs),
    Rm(rm::RmArgs),
    Gc(gc::GcArgs),
    Keygen(keygen::KeygenArgs),
    Sign(sign::SignArgs),
    #[cfg(feature = "loader")]
    Load(load::LoadArgs),
    #[cfg(feature = "loader")]
    Unload(unload::UnloadArgs),
    #[cfg(feature = "loader")]
    Ps(ps::PsArgs),
    #[cfg(feature = "loader")]
    Watch(watch::WatchArgs),
    Completions(generate::CompletionsArgs),
    Man(generate::ManArgs),
}

/// The clap command with what cannot be written as attributes: the top-level help's
/// section on archive limits, generated from their definitions.
pub(crate) fn command() -> clap::Command {
    let command = Cli::command();
    let mut text = String::from(
        "Archive limits (every command; also from the environment; SIZE takes K, M, G, T):\n",
    );
    for (flag, help) in limits::limits_help(&command) {
        text.push_str(&format!("  {flag}\n      {help}\n"));
    }
    text.push_str("\nExit status: 0 success, 1 integrity failure, 2 usage or unusable input.\n");
    let after = command
        .get_after_help()
        .map(|h| h.to_string())
        .unwrap_or_default();
    command.after_long_help(format!("{text}\n{after}"))
}

/// Parses `args` (including the program name), runs the command, prints errors to
/// standard error, and returns the exit code.
pub fn run_from_iter<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args
        .into_iter()
        .map(|a| stdin_reference_alias(a.into()))
        .collect();
    // A usage error under --json is a JSON object too; the arguments did not parse, so
    // look for the flag itself.
    let asked_json = args.iter().skip(1).any(|a| a == "--json");
    let matches = command()
        // Built once per process; clap (without its `string` feature) keeps &'static str.
        .long_version(&*Box::leak(long_version().into_boxed_str()))
        .try_get_matches_from(args);
    // Whether the command was asked for --json: then a failure is a JSON object too.
    let json = matches.as_ref().is_ok_and(|m| {
        m.subcommand()
            .and_then(|(_, sub)| sub.try_get_one::<bool>("json").ok().flatten().copied())
            .unwrap_or(false)
    });
    let parsed = matches.and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let printed = print_parse_error(&e);
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            if asked_json && code != 0 {
                let first = printed.lines().next().unwrap_or_default();
                let message = first.strip_prefix("error: ").unwrap_or(first);
                let value = serde_json::json!({
                    "version": JSON_ERROR_VERSION,
                    "ok": false,
                    "error": {
                        "message": message,
                        "usage": printed.trim(),
                        "causes": Vec::<String>::new(),
                        "exit_code": code,
                        "hint": serde_json::Value::Null,
                    }
                });
                println!("{value}");
            }
            return ExitCode::from(code);
        }
    };
    let ctx = Context {
        limits: cli.limits.limits(),
        progress: crate::progress::Progress::new(),
        // Reproducible archives: entries' mtime (anything but a number of seconds gives 0).
        archive_mtime: std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0),
        quiet: cli.quiet,
    };
    let busy = match &cli.command {
        Command::Pack(_) => Some("packing"),
        Command::Verify(_) => Some("verifying"),
        Command::Copy(_) => Some("copying"),
        Command::Inspect(_) => Some("inspecting"),
        Command::Extract(_) => Some("extracting"),
        // sign starts its own line once the key is unlocked: a password prompt is not
        // work to show progress for.
        _ => None,
    };
    let progress = busy.map(|what| {
        progress::ProgressLine::start(what.to_string(), ctx.progress.clone(), cli.quiet)
    });
    let result = match cli.command {
        Command::Pack(args) => pack::run(args, &ctx),
        Command::List(args) => list::run(args, &ctx),
        Command::Inspect(args) => inspect::run(args, &ctx),
        Command::Extract(args) => extract::run(args, &ctx),
        Command::Verify(args) => verify::run(args, &ctx),
        Command::Copy(args) => copy::run(args, &ctx),
        Command::Tag(args) => tag::run(args, &ctx),
        Command::Rm(args) => rm::run(args),
        Command::Gc(args) => gc::run(args, &ctx),
        Command::Keygen(args) => keygen::run(args),
        Command::Sign(args) => sign::run(args, &ctx),
        #[cfg(feature = "loader")]
        Command::Load(args) => load::run(args, &ctx),
        #[cfg(feature = "loader")]
        Command::Unload(args) => unload::run(args),
        #[cfg(feature = "loader")]
        Command::Ps(args) => ps::run(args),
        #[cfg(feature = "loader")]
        Command::Watch(args) => watch::run(args),
        Command::Completions(args) => generate::completions(args),
        Command::Man(args) => generate::man(args),
    };
    drop(progress);
    match result {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            let code = exit_code(&e);
            if json {
                print_json_error(&e, code);
            }
            ExitCode::from(code)
        }
    }
}

/// An integrity error met while reading the image `reference` names (a damaged or missing
/// blob, as the library classifies the storage failure the error wraps:
/// [`crate::error::store_error_in`]), with the image named first: the error itself names
/// only the layout and the blob. Other errors, a refused signature among them, are left as
/// they are (they name what is wrong already). The exit code is still the integrity one.
pub(crate) fn in_image<E>(reference: &str) -> impl FnOnce(E) -> anyhow::Error + '_
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| {
        if crate::error::store_error_in(&e).is_some_and(StoreError::is_integrity_failure) {
            anyhow::Error::new(e).context(format!(
                "image {} is damaged",
                render::escape_control(reference)
            ))
        } else {
            e.into()
        }
    }
}

/// What every command is given besides its arguments: the limits built once from the
/// flags and environment, and the progress handle the progress line reads.
pub(crate) struct Context {
    /// Bounds on reading untrusted input.
    pub limits: crate::limits::Limits,
    /// Where the library counts the bytes it hashes.
    pub progress: crate::progress::Progress,
    /// The modification time written into archives (`SOURCE_DATE_EPOCH`, else 0).
    pub archive_mtime: u64,
    /// `--quiet`: no progress line.
    pub quiet: bool,
}

impl Context {
    /// Opens what `path` names with these limits and this progress handle.
    pub fn open(
        &self,
        path: &std::path::Path,
    ) -> crate::store::Result<Box<dyn crate::store::ImageSource>> {
        crate::source::open_with(path, &self.limits, &self.progress)
    }
}

/// Standard input with a name or digest, `-:NAME` or `-@sha256:…`, would be read by clap
/// as short options; it is passed on as `/dev/stdin:NAME`, which references read as `-`
/// (see [`reference::input_ref`]). Any other argument is passed unchanged, so unknown
/// options are still reported as such.
fn stdin_reference_alias(arg: OsString) -> OsString {
    match arg.to_str() {
        Some(s) if s.starts_with("-:") || s.starts_with("-@") => {
            OsString::from(format!("{}{}", reference::STDIN_PATH, &s[1..]))
        }
        _ => arg,
    }
}

/// What `--version` says: our version, and what loads programs (which libbpf, or that
/// this build has no loader), because that decides what `load` can do.
fn long_version() -> String {
    let version = env!("CARGO_PKG_VERSION");
    #[cfg(feature = "loader")]
    let loader = {
        #[allow(unsafe_code)]
        // SAFETY: both functions only return constants compiled into libbpf; they take no
        // arguments and touch no state.
        let (major, minor) = unsafe {
            (
                libbpf_rs::libbpf_sys::libbpf_major_version(),
                libbpf_rs::libbpf_sys::libbpf_minor_version(),
            )
        };
        format!("loader: built in, libbpf {major}.{minor} (linked statically)")
    };
    #[cfg(not(feature = "loader"))]
    let loader = "loader: not built in (load and unload need the cargo feature `loader`)";
    format!("{version}\n{loader}")
}

/// Prints an error, the causes that add something to it, and a hint for the usual
/// mistakes.
/// Errors quote names, entries and libbpf's words from the input: escaped here, once for
/// every command.
fn print_error(e: &anyhow::Error) {
    let message = e.to_string();
    eprintln!("error: {}", render::escape_message(&message));
    let mut said = message;
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        // thiserror variants and io errors often show their source in their own message.
        if said.contains(&cause) {
            continue;
        }
        eprintln!("  caused by: {}", render::escape_message(&cause));
        said.push_str(&cause);
    }
    if let Some(hint) = reference::hint(e) {
        eprintln!("hint: {}", render::escape_message(&hint));
    }
}

/// Version of the error object `--json` prints on standard output when a command fails.
pub const JSON_ERROR_VERSION: u32 = 1;

/// With `--json`, a failure is also a JSON object on standard output (one line, so that
/// load's JSON lines stay lines): `{"version":1,"ok":false,"error":{"message",
/// "causes","exit_code","hint"}}`. Scripts read it instead of parsing standard error.
fn print_json_error(e: &anyhow::Error, code: u8) {
    let causes: Vec<String> = e.chain().skip(1).map(|c| c.to_string()).collect();
    let value = serde_json::json!({
        "version": JSON_ERROR_VERSION,
        "ok": false,
        "error": {
            "message": e.to_string(),
            "causes": causes,
            "exit_code": code,
            "hint": reference::hint(e),
        }
    });
    println!("{value}");
}

/// Prints a clap error, naming an unknown option as such: clap says "unexpected
/// argument '--all' found", which reads as if the option's position were the problem.
/// Returns what it printed.
fn print_parse_error(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let unknown_option = match (e.kind(), e.get(ContextKind::InvalidArg)) {
        (ErrorKind::UnknownArgument, Some(ContextValue::String(arg))) if arg.starts_with('-') => {
            Some(arg.clone())
        }
        _ => None,
    };
    let rendered = e.render().to_string();
    match unknown_option {
        Some(arg) => {
            let plain = format!("unexpected argument '{arg}' found");
            let option = arg.split('=').next().unwrap_or(&arg);
            let text = rendered.replacen(&plain, &format!("unknown option {option}"), 1);
            eprint!("{text}");
            text
        }
        None => {
            let _ = e.print();
            rendered
        }
    }
}

/// 1 for integrity failures (anywhere in the chain of causes, as the library classifies
/// them: [`crate::error::is_integrity_failure_in`]), 2 for everything else.
fn exit_code(e: &anyhow::Error) -> u8 {
    if e.chain().any(crate::error::is_integrity_failure_in) {
        EXIT_INTEGRITY
    } else {
        EXIT_USAGE
    }
}
