//! `ebpf-layout keygen`, and the key password shared with `sign`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use zeroize::Zeroizing;

use super::render::print_json;
use crate::sign::keys::{refuse_existing, PBKDF2_ITERATIONS};
use crate::sign::write_key_pair;

/// Environment variable holding the key password (empty: an unencrypted key).
pub const PASSWORD_ENV: &str = "EBPF_LAYOUT_PASSWORD";

/// Generate an ECDSA P-256 key pair for signing images.
#[derive(Debug, Args)]
#[command(
    after_help = "Writes PREFIX.key, the private key (PKCS#8 PEM, encrypted with a password;
file mode 0600), and PREFIX.pub, the public key (PEM) that verifiers are given. The
password comes from EBPF_LAYOUT_PASSWORD, or is asked on the terminal (twice). An empty
password writes an unencrypted key.

Both files work with openssl (openssl pkey -in PREFIX.key) and the public key with
cosign verify --key PREFIX.pub. Keep PREFIX.key off the machines that only verify.

Examples:
  ebpf-layout keygen --output release
  EBPF_LAYOUT_PASSWORD=... ebpf-layout keygen --output ci/signing"
)]
pub struct KeygenArgs {
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(short, long, value_name = "PREFIX")]
    output: PathBuf,
    /// Replace PREFIX.key and PREFIX.pub if they exist.
    #[arg(long)]
    force: bool,
    /// Print what was written as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    if !args.force {
        refuse_existing(&args.output)?;
    }
    let password = new_password()?;
    if password.is_empty() {
        eprintln!(
            "WARNING: the password is empty: the private key is written UNENCRYPTED. Anyone who \
             can read it can sign images that your verifiers will trust."
        );
    }
    let files = write_key_pair(&args.output, password.as_bytes(), args.force)?;
    if args.json {
        print_json(&files)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "wrote {} ({}, mode 0600)",
        files.private_key.display(),
        if files.encrypted {
            format!("encrypted: PBKDF2-SHA256 × {PBKDF2_ITERATIONS}, AES-256-CBC")
        } else {
            "UNENCRYPTED".to_string()
        }
    );
    println!("wrote {}", files.public_key.display());
    println!("key id {}", files.key_id);
    Ok(ExitCode::SUCCESS)
}

/// The password for a new key: the environment variable, else asked twice on the
/// terminal.
fn new_password() -> anyhow::Result<Zeroizing<String>> {
    if let Some(p) = password_from_env()? {
        return Ok(p);
    }
    let first = prompt("Password for the new key (empty for none): ")?;
    let second = prompt("Password again: ")?;
    if first != second {
        bail!("the two passwords differ; nothing was written");
    }
    Ok(first)
}

/// The password to unlock `key_file`: the environment variable, else asked on the
/// terminal. Returns the message to show when neither is available.
pub(super) fn password_for(key_file: &Path) -> Result<Zeroizing<String>, String> {
    match password_from_env() {
        Ok(Some(p)) => return Ok(p),
        Ok(None) => {}
        Err(e) => return Err(e.to_string()),
    }
    prompt(&format!("Password for {}: ", key_file.display())).map_err(|e| format!("{e:#}"))
}

fn password_from_env() -> anyhow::Result<Option<Zeroizing<String>>> {
    match std::env::var_os(PASSWORD_ENV) {
        None => Ok(None),
        Some(v) => match v.into_string() {
            Ok(s) => Ok(Some(Zeroizing::new(s))),
            Err(_) => bail!("{PASSWORD_ENV} is not valid UTF-8"),
        },
    }
}

/// Asks on the controlling terminal (not standard input), without echo.
fn prompt(text: &str) -> anyhow::Result<Zeroizing<String>> {
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .with_context(|| {
            format!("no terminal to ask for the password on; set {PASSWORD_ENV} (empty for an unencrypted key)")
        })
}
