//! `ebpf-layout inspect`.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use super::render::{escape_control as esc, human_size, print_json, print_table};
use crate::elf::ByteOrder;
use crate::image::{resolve_one, select_one};
use crate::oci::{Platform, Selector};
use crate::store::ImageSource;
use crate::summary::inspect;

/// Show one image: manifest, config, programs, maps, globals, license, BTF.
#[derive(Debug, Args)]
#[command(
    after_help = "REF is PATH (a layout holding one image), PATH:NAME or PATH@sha256:HEX.
The path ends at the first ':', like skopeo's oci: transport.

Examples:
  ebpf-layout inspect bundle:probe
  ebpf-layout inspect 'bundle:ghcr.io/acme/probe:1.2' --json
  ebpf-layout inspect bundle@sha256:3b17…
  ebpf-layout inspect bundle.tar:probe --raw | sha256sum   # the manifest digest
  ebpf-layout inspect bundle.tar:probe --config | jq ."
)]
pub struct InspectArgs {
    /// The image: PATH, PATH:NAME or PATH@sha256:HEX.
    #[arg(value_name = "REF")]
    reference: String,
    /// Which platform to pick from a multi-platform index (default: this machine's).
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, conflicts_with_all = ["raw", "config"])]
    json: bool,
    /// With --key or --policy: say whether load and verify would accept the image.
    #[command(flatten)]
    trust: super::trust::TrustArgs,
    /// Print the manifest exactly as stored (a multi-platform index's own bytes unless
    /// --platform picks a child), like skopeo inspect --raw.
    #[arg(long)]
    raw: bool,
    /// Print the image's config exactly as stored, like skopeo inspect --config.
    #[arg(long, conflicts_with = "raw")]
    config: bool,
}

pub(crate) fn run(args: InspectArgs, ctx: &super::Context) -> anyhow::Result<ExitCode> {
    let reference = super::reference::input_ref(&args.reference)?;
    let platform = args
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let source = ctx.open(&reference.path)?;
    if args.raw || args.config {
        let bytes = stored_document(
            source.as_ref(),
            &reference.selector,
            platform.as_ref(),
            args.config,
        )?;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&bytes)?;
        stdout.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut d = inspect(source.as_ref(), &reference.selector, platform.as_ref())
        .map_err(super::in_image(&args.reference))?;
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
    if let Some(index) = &d.index {
        println!(
            "Index:       {} ({}; pick one with --platform)",
            index.digest,
            esc(&index.platforms.join(", "))
        );
    }
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

/// The selected image's config (`config`), or the document its reference names: the
/// index.json entry's manifest or index, or with `platform` the manifest for it. Every
/// byte is hashed against its descriptor as it is read.
fn stored_document(
    source: &dyn ImageSource,
    selector: &Selector,
    platform: Option<&Platform>,
    config: bool,
) -> anyhow::Result<Vec<u8>> {
    let limit = source.limits().max_manifest_size;
    if config {
        let image = resolve_one(source, selector, platform)?;
        return Ok(source.read_blob(&image.manifest.config, limit)?);
    }
    if platform.is_some() {
        return Ok(resolve_one(source, selector, platform)?.manifest_bytes);
    }
    let entry = select_one(source, selector)?;
    Ok(source.read_blob(&entry, limit)?)
}

fn indent(mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    for row in &mut rows {
        if let Some(first) = row.first_mut() {
            first.insert_str(0, "  ");
        }
    }
    rows
}
