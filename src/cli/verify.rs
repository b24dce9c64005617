//! `ebpf-layout verify`.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::render::human_size;
use super::{EXIT_INTEGRITY, EXIT_USAGE};
use crate::layout::Layout;
use crate::oci::ImageRef;
use crate::store::ImageSource;
use crate::verify::{verify, Report, Severity, VerifyOptions, REPORT_VERSION};

/// Verify layouts and archives offline: every digest, size and reference.
#[derive(Debug, Args)]
#[command(
    after_help = "REF is PATH (everything in it), PATH:NAME or PATH@sha256:HEX (that image's
closure only).

Exit status: 0 intact, 1 integrity failure (or warnings with --strict), 2 unusable
input or usage error.

Examples:
  ebpf-layout verify bundle
  ebpf-layout verify bundle:probe --strict
  ebpf-layout verify bundle --key release.pub
  ebpf-layout verify bundle --json | jq .reports[0].problems"
)]
pub struct VerifyArgs {
    /// What to verify.
    #[arg(required = true, value_name = "REF")]
    references: Vec<String>,
    /// Treat warnings (unreferenced blobs, unknown files, duplicate names, untagged
    /// manifests) as failures.
    #[arg(long)]
    strict: bool,
    /// Print the report as JSON (schema: docs/verify.md).
    #[arg(long)]
    json: bool,
    /// Also require every selected image to carry a valid signature by this public key
    /// (PEM, from `keygen` or cosign); repeatable: any of the keys will do.
    #[arg(long = "key", value_name = "PUB")]
    keys: Vec<std::path::PathBuf>,
}

/// The `--json` document.
#[derive(Serialize)]
struct JsonOutput {
    version: u32,
    ok: bool,
    reports: Vec<Report>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unusable: Vec<Unusable>,
}

#[derive(Serialize)]
struct Unusable {
    reference: String,
    error: String,
}

pub(crate) fn run(args: VerifyArgs, ctx: &super::Context) -> anyhow::Result<ExitCode> {
    let trusted_keys = args
        .keys
        .iter()
        .map(|k| crate::sign::PublicKey::load(k))
        .collect::<crate::Result<Vec<_>>>()?;
    let options = VerifyOptions {
        strict: args.strict,
        trusted_keys,
    };
    let mut reports = Vec::new();
    let mut unusable = Vec::new();
    for r in &args.references {
        match verify_one(r, &options, ctx) {
            Ok(report) => reports.push(report),
            Err(e) => unusable.push(Unusable {
                reference: r.clone(),
                error: e.to_string(),
            }),
        }
    }
    let ok = unusable.is_empty() && reports.iter().all(|r| r.ok);
    let code = if !unusable.is_empty() {
        EXIT_USAGE
    } else if !ok {
        EXIT_INTEGRITY
    } else {
        0
    };
    if args.json {
        let out = JsonOutput {
            version: REPORT_VERSION,
            ok,
            reports,
            unusable,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::from(code));
    }
    for report in &reports {
        print_report(report);
        let signature_problem = report
            .problems
            .iter()
            .any(|p| matches!(p.code, "unsigned" | "bad-signature"));
        if !options.trusted_keys.is_empty() && report.images > 0 && !signature_problem {
            println!("  signatures: every image carries a valid signature by a trusted key");
        }
    }
    for u in &unusable {
        eprintln!("error: {}: {}", u.reference, u.error);
    }
    Ok(ExitCode::from(code))
}

fn verify_one(
    reference: &str,
    options: &VerifyOptions,
    ctx: &super::Context,
) -> crate::Result<Report> {
    // Archives are read (and hashed) while being opened: time from here.
    let started = std::time::Instant::now();
    let parsed = ImageRef::parse(reference)?;
    let source: Box<dyn ImageSource> = if Path::new(&parsed.path).is_dir() {
        // A directory is verified even without oci-layout or index.json: the report
        // says what is missing.
        let layout = Layout::open_unchecked(&parsed.path)?
            .with_limits(ctx.limits.clone())
            .with_progress(ctx.progress.clone())
            .lock_for_reading()?;
        let empty = std::fs::read_dir(&parsed.path)
            .map_err(crate::error::io_err("reading", &parsed.path))?
            .next()
            .is_none();
        if empty {
            return Err(crate::Error::NotALayout {
                path: parsed.path.clone(),
                reason: "the directory is empty".into(),
            });
        }
        Box::new(layout)
    } else {
        ctx.open(&parsed.path)?
    };
    let mut report = verify(source.as_ref(), reference, &parsed.selector, options)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn print_report(r: &Report) {
    let rate = if r.seconds > 0.0 {
        format!("{}/s", human_size((r.bytes as f64 / r.seconds) as u64))
    } else {
        "-".into()
    };
    let counts = format!(
        "{} image(s), {} blob(s), {} hashed in {:.2} s ({rate})",
        r.images,
        r.blobs,
        human_size(r.bytes),
        r.seconds
    );
    if r.ok {
        let warn = if r.warnings > 0 {
            format!(", {} warning(s)", r.warnings)
        } else {
            String::new()
        };
        println!("{}: OK — {counts}{warn}", r.reference);
    } else {
        println!(
            "{}: FAILED — {} error(s), {} warning(s){}; {counts}",
            r.reference,
            r.errors,
            r.warnings,
            if r.strict && r.errors == 0 {
                " (--strict)"
            } else {
                ""
            }
        );
    }
    for p in &r.problems {
        let severity = match p.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut line = format!("  {severity}: [{}] ", p.code);
        if let Some(entry) = &p.entry {
            line.push_str(&format!("{entry}: "));
        }
        line.push_str(&p.message);
        if let (Some(e), Some(f)) = (&p.expected, &p.found) {
            line.push_str(&format!(" (expected {e}, found {f})"));
        }
        println!("{line}");
    }
}
