//! `ebpf-layout inspect`.

use std::process::ExitCode;

use clap::Args;

use super::render::{escape_control as esc, human_size, print_json, print_table};
use crate::elf::ByteOrder;
use crate::oci::{ImageRef, Platform};
use crate::summary::inspect;

/// Show one image: manifest, config, programs, maps, globals, license, BTF.
#[derive(Debug, Args)]
#[command(
    after_help = "REF is PATH (a layout holding one image), PATH:NAME or PATH@sha256:HEX.
The path ends at the first ':', like skopeo's oci: transport.

Examples:
  ebpf-layout inspect bundle:probe
  ebpf-layout inspect 'bundle:ghcr.io/acme/probe:1.2' --json
  ebpf-layout inspect bundle@sha256:3b17…"
)]
pub struct InspectArgs {
    /// The image: PATH, PATH:NAME or PATH@sha256:HEX.
    #[arg(value_name = "REF", allow_hyphen_values = true)]
    reference: String,
    /// Which platform to pick from a multi-platform index (default: this machine's).
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// With --key or --policy: say whether load and verify would accept the image.
    #[command(flatten)]
    trust: super::trust::TrustArgs,
}

pub(crate) fn run(args: InspectArgs, ctx: &super::Context) -> anyhow::Result<ExitCode> {
    let reference = ImageRef::parse(&args.reference)?;
    let platform = args
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let source = ctx.open(&reference.path)?;
    let mut d = inspect(source.as_ref(), &reference.selector, platform.as_ref())?;
    if let Some(trust) = args.trust.trust()? {
        let name = crate::trust::name_used(&reference.selector, d.name.as_deref());
        d.trust = Some(crate::trust::evaluate(
            source.as_ref(),
            &source.index()?,
            name.as_deref(),
            &d.entry_digest,
            &trust,
        )?);
    }
    if args.json {
        print_json(&d)?;
        return Ok(ExitCode::SUCCESS);
    }
    let o = &d.object;
    println!(
        "Name:        {}",
        esc(d.name.as_deref().unwrap_or("<untagged>"))
    );
    println!("Digest:      {}", d.digest);
    println!("Format:      {}", esc(&d.format.to_string()));
    println!("Platform:    {}", esc(d.platform.as_deref().unwrap_or("-")));
    println!(
        "Signatures:  {}",
        match d.signatures {
            0 => "none".to_string(),
            n => format!("{n} (check them with verify --key PUB)"),
        }
    );
    if let Some(t) = &d.trust {
        if t.accepted {
            println!("Trust:       accepted ({})", esc(&t.rule));
        } else {
            println!(
                "Trust:       refused [{}] ({}): {}",
                t.code.unwrap_or_default(),
                esc(&t.rule),
                esc(t.reason.as_deref().unwrap_or_default())
            );
        }
    }
    // Kernel BTF bundled for kernels without their own (docs/btf.md).
    match d.kernel_btf.as_slice() {
        [] => println!("Kernel BTF:  none"),
        list => {
            for k in list {
                println!(
                    "Kernel BTF:  {} ({}, {})",
                    esc(&k.release),
                    k.digest.short(),
                    human_size(k.size)
                );
            }
        }
    }
    println!(
        "Config:      {} ({}, {})",
        d.config_descriptor.digest,
        esc(&d.config_descriptor.media_type),
        human_size(d.config_descriptor.size)
    );
    println!(
        "Program:     {} ({}, {})",
        d.program.digest,
        esc(&d.program.media_type),
        human_size(d.program.size)
    );
    if let Some(annotations) = d.manifest.get("annotations").and_then(|a| a.as_object()) {
        for (k, v) in annotations {
            println!(
                "Annotation:  {}={}",
                esc(k),
                esc(v.as_str().unwrap_or_default())
            );
        }
    }
    println!("License:     {}", esc(o.license.as_deref().unwrap_or("-")));
    println!(
        "BTF:         {}",
        match (o.btf, o.btf_ext) {
            (true, true) => "yes (with .BTF.ext)",
            (true, false) => "yes",
            _ => "no",
        }
    );
    println!(
        "Byte order:  {}",
        match o.byte_order {
            ByteOrder::Little => "little-endian",
            ByteOrder::Big => "big-endian",
        }
    );
    println!();
    println!("Programs:");
    let rows: Vec<Vec<String>> = o
        .programs
        .iter()
        .map(|p| vec![p.name.clone(), p.section.clone(), p.program_type.clone()])
        .collect();
    print_table(&["  NAME", "SECTION", "TYPE"], &indent(rows));
    println!();
    println!("Maps:");
    let rows: Vec<Vec<String>> = o
        .maps
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                m.map_type.clone(),
                m.key_size.to_string(),
                m.value_size.to_string(),
                m.max_entries.to_string(),
                m.value_type.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &[
            "  NAME",
            "TYPE",
            "KEY",
            "VALUE",
            "MAX_ENTRIES",
            "VALUE_TYPE",
        ],
        &indent(rows),
    );
    if !o.variables.is_empty() {
        println!();
        println!("Globals (set with load --global NAME=VALUE):");
        let rows: Vec<Vec<String>> = o
            .variables
            .iter()
            .map(|v| {
                vec![
                    for_terminal(&v.name),
                    for_terminal(&v.section),
                    for_terminal(&v.type_name),
                    v.size.to_string(),
                    for_terminal(v.default.as_deref().unwrap_or("-")),
                ]
            })
            .collect();
        print_table(
            &["  NAME", "SECTION", "TYPE", "SIZE", "DEFAULT"],
            &indent(rows),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Escapes control characters (a hostile object's names could move the cursor).
fn for_terminal(text: &str) -> String {
    crate::report::escape_control(text).into_owned()
}

fn indent(mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    for row in &mut rows {
        if let Some(first) = row.first_mut() {
            first.insert_str(0, "  ");
        }
    }
    rows
}
