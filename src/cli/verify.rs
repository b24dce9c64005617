//! `ebpf-layout verify`.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::render::{escape_control as esc, escape_message, human_size, print_json};
use super::{EXIT_INTEGRITY, EXIT_USAGE};
use crate::layout::Layout;
use crate::store::ImageSource;
use crate::verify::{damage_report, verify, Report, Severity, VerifyOptions, REPORT_VERSION};

/// Verify layouts and archives offline: every digest, size and reference.
#[derive(Debug, Args)]
#[command(
    after_help = "REF is PATH (everything in it), PATH:NAME or PATH@sha256:HEX (that image's
closure only).

Exit status: 0 intact, 1 integrity failure (including an archive truncated or damaged
in transit; or warnings with --strict), 2 unusable input or usage error.

Examples:
  ebpf-layout verify bundle
  ebpf-layout verify bundle:probe --strict
  ebpf-layout verify bundle --key release.pub
  ebpf-layout verify bundle.tar --policy /etc/containers/policy.json
  ebpf-layout verify bundle --json | jq .reports[0].problems"
)]
pub struct VerifyArgs {
    /// What to verify.
    #[arg(required = true, value_name = "REF")]
    references: Vec<String>,
    /// Treat warnings (unreferenced blobs, unknown files, duplicate names, untagged
    /// manifests) as failures, and hash unreferenced blobs too (without it, one larger
    /// than --max-manifest-size is reported by name and size, unhashed).
    #[arg(long)]
    strict: bool,
    /// Print the report as JSON (a versioned document; see the man page).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    trust: super::trust::TrustArgs,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

pub(crate) fn run(args: VerifyArgs, ctx: &super::Context) -> anyhow::Result<ExitCode> {
    let options = VerifyOptions {
        strict: args.strict,
        trust: args.trust.trust()?,
    };
    let mut reports = Vec::new();
    let mut unusable = Vec::new();
    for r in &args.references {
        match verify_one(r, &options, ctx) {
            Ok(report) => reports.push(report),
            // Damage in transit (a cut or corrupt archive) is an integrity failure.
            Err(e) if damage(&e, r, options.strict).is_some() => {
                reports.extend(damage(&e, r, options.strict))
            }
            Err(e) => unusable.push(Unusable {
                reference: r.clone(),
                error: e.to_string(),
                hint: super::reference::hint(&e),
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
        print_json(&out)?;
        return Ok(ExitCode::from(code));
    }
    for report in &reports {
        print_report(report);
        let signature_problem = report.problems.iter().any(|p| {
            matches!(
                p.code,
                "unsigned" | "bad-signature" | "identity" | "rejected" | "trust"
            )
        });
        if options.trust.is_some() && report.images > 0 && !signature_problem {
            println!("  signatures: every image carries a valid signature by a trusted key, for its name");
        }
    }
    for u in &unusable {
        // Errors name the layout or archive already; name the reference only when not.
        let path = u.reference.split([':', '@']).next().unwrap_or_default();
        if u.error.starts_with(path) {
            eprintln!("error: {}", escape_message(&u.error));
        } else {
            eprintln!("error: {}: {}", esc(&u.reference), escape_message(&u.error));
        }
        if let Some(hint) = &u.hint {
            eprintln!("hint: {}", escape_message(hint));
        }
    }
    Ok(ExitCode::from(code))
}

/// The report for a source damaged on the way (see [`damage_report`]), when that is what
/// stopped `verify_one`.
fn damage(e: &anyhow::Error, reference: &str, strict: bool) -> Option<Report> {
    e.chain()
        .find_map(crate::error::store_error_in)
        .and_then(|err| damage_report(reference, err, strict))
}

fn verify_one(
    reference: &str,
    options: &VerifyOptions,
    ctx: &super::Context,
) -> anyhow::Result<Report> {
    // Archives are read (and hashed) while being opened: time from here.
    let started = std::time::Instant::now();
    let parsed = super::reference::input_ref(reference)?;
    let source: Box<dyn ImageSource> = if Path::new(&parsed.path).is_dir() {
        // A directory is verified even without oci-layout or index.json: the report
        // says what is missing.
        let layout = Layout::open_unchecked(&parsed.path)?
            .with_limits(ctx.limits.clone())
            .with_progress(ctx.progress.clone())
            .lock_for_reading()?;
        let empty = std::fs::read_dir(&parsed.path)
            .map_err(crate::store::io_err("reading", &parsed.path))?
            .next()
            .is_none();
        if empty {
            return Err(crate::store::StoreError::NotALayout {
                path: parsed.path.clone(),
                reason: "the directory is empty".into(),
            }
            .into());
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
    let signatures = match r.signatures {
        0 => String::new(),
        n => format!(", {n} signature(s)"),
    };
    let counts = format!(
        "{} image(s){signatures}, {} blob(s), {} hashed in {:.2} s ({rate})",
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
        println!("{}: OK — {counts}{warn}", esc(&r.reference));
    } else {
        println!(
            "{}: FAILED — {} error(s), {} warning(s){}; {counts}",
            esc(&r.reference),
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
        // Say each thing once: the blob's path only when the message does not name its
        // digest, expected/found only when the message does not already give them.
        if let Some(entry) = &p.entry {
            let hex = entry.strip_prefix("blobs/sha256/").unwrap_or(entry);
            if !p.message.contains(hex) {
                line.push_str(&format!("{}: ", esc(entry)));
            }
        }
        line.push_str(&esc(&p.message));
        if let (Some(e), Some(f)) = (&p.expected, &p.found) {
            if !(p.message.contains(e.as_str()) && p.message.contains(f.as_str())) {
                line.push_str(&format!(" (expected {}, found {})", esc(e), esc(f)));
            }
        }
        println!("{line}");
    }
}
