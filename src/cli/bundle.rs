//! `load PATH` of a layout or archive holding several images: the whole bundle, all or
//! nothing.
//!
//! Orchestrated here, above the loader (which loads one verified program at a time, see
//! tests/architecture.rs): every image is resolved, hashed and trust-checked before the
//! kernel sees any of them; `--program` and `--attach` go to the one image that has such
//! a program (an ambiguous one is an error that lists the images); then each image is
//! loaded and pinned under `ROOT/NAME` (bpffs-safe names) and the bundle's deployment
//! record is written in ROOT. If any image fails to load or attach, the images already
//! loaded are unloaded and ROOT removed: nothing stays loaded, no pin is left.
//!
//! ROOT is `--pin DIR`, or without it a folder of this run on bpffs
//! (`ebpf_layout_run_PID`), removed when the display stops. The display is `watch`'s, over
//! every image's maps (named `IMAGE/MAP`), so `--metrics` serves them all.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::elf;
use crate::load::deploy::{self, DeploymentRecord, ImageRecord};
use crate::load::{self, Attach, AttachPoint, LoadOptions, LoadReport, OutputMode, WatchOptions};
use crate::oci::{cosign, Platform, Selector};
use crate::program::VerifiedProgram;
use crate::store::ImageSource;
use crate::trust::{open_program, Trust};

/// What `load` was asked for, for a bundle.
pub(crate) struct BundleRequest<'a> {
    pub reference: &'a str,
    pub programs: &'a [String],
    pub optional: &'a [String],
    pub attach: &'a [Attach],
    pub globals: &'a [(String, String)],
    pub max_entries: &'a [(String, u32)],
    pub show_maps: &'a [String],
    pub pid: Option<i32>,
    pub reuse_pinned_maps: bool,
    pub pin: Option<&'a Path>,
    pub detach: bool,
    pub duration: Option<std::time::Duration>,
    pub output: OutputMode,
    pub metrics: Option<std::net::SocketAddr>,
    pub verbose: bool,
}

/// The images of `source` when no name was given and it holds more than one (signature
/// images are not images to load); `None` when it is not a bundle.
pub(crate) fn bundle_entries(
    source: &dyn ImageSource,
) -> crate::store::Result<Option<Vec<Selector>>> {
    let index = source.index()?;
    let mut seen = BTreeSet::new();
    let entries: Vec<Selector> = index
        .manifests
        .iter()
        .filter(|d| !cosign::is_signature_entry(d))
        .filter(|d| seen.insert(d.digest.clone()))
        .map(|d| match d.ref_name() {
            Some(name) => Selector::Name(name.to_owned()),
            None => Selector::Digest(d.digest.clone()),
        })
        .collect();
    Ok((entries.len() > 1).then_some(entries))
}

/// Loads every image of the bundle, all or nothing, then shows their maps (or returns,
/// with `--detach`).
pub(crate) fn run(
    source: &dyn ImageSource,
    entries: &[Selector],
    platform: Option<&Platform>,
    trust: &Trust,
    request: &BundleRequest<'_>,
) -> anyhow::Result<()> {
    // 1. Every image verified (and trust-checked) before the kernel sees any.
    let mut programs = Vec::new();
    for selector in entries {
        let program = open_program(source, request.reference, selector, platform, trust)?;
        if let Some(trusted) = program.trusted() {
            eprintln!(
                "signature of {} ({}) verified with key {}",
                trusted.signed_digest,
                program.name(),
                trusted.key.short()
            );
        }
        programs.push(program);
    }
    // 2. Which image each --program and --attach is for.
    let routed = route(&programs, request)?;

    // Every image of a bundle is pinned while it runs, and perf attachments are not pinned
    // (see LoadError::PerfNotPinnable): said before anything is loaded.
    if let Some(perf) = request
        .attach
        .iter()
        .find(|a| matches!(a.point, AttachPoint::Perf { .. }))
    {
        anyhow::bail!(
            "--attach {perf}: a bundle's images are loaded pinned, and links to perf events \
             are not pinned; load that image alone, by name ({}:NAME)",
            request.reference
        );
    }

    // 3. Where the images are pinned.
    let (root, temporary) = match request.pin {
        Some(dir) => (dir.to_owned(), false),
        None => {
            let mounts = deploy::bpffs_mounts()?;
            let Some(mount) = mounts.first() else {
                anyhow::bail!(
                    "loading a bundle of {} images pins them while they run, and no bpffs is \
                     mounted: mount it with `mount -t bpf bpf /sys/fs/bpf`",
                    programs.len()
                );
            };
            (
                mount.join(format!("ebpf_layout_run_{}", std::process::id())),
                true,
            )
        }
    };
    let created_root = prepare_root(&root)?;
    let folders = folder_names(&programs);

    // 4. Load each image, detached and pinned; on any failure, undo them all.
    let mut loaded: Vec<(PathBuf, LoadReport)> = Vec::new();
    let mut stdout = std::io::stdout().lock();
    for ((program, own), folder) in programs.iter().zip(&routed).zip(&folders) {
        let dir = root.join(folder);
        let options = LoadOptions {
            programs: own.programs.clone(),
            optional: own.optional.clone(),
            attach: own.attach.clone(),
            pid: request.pid,
            globals: own.globals.clone(),
            max_entries: own.max_entries.clone(),
            show_maps: own.show_maps.clone(),
            reuse_pinned_maps: request.reuse_pinned_maps,
            pin: Some(dir.clone()),
            detach: true,
            duration: None,
            output: request.output,
            metrics: None,
            verbose: request.verbose,
        };
        let out: &mut dyn Write = if request.detach {
            &mut stdout
        } else {
            &mut std::io::sink()
        };
        match load::load(program, &options, out) {
            Ok(report) => loaded.push((dir, report)),
            Err(e) => {
                undo(&loaded, &root, created_root);
                return Err(anyhow::Error::new(e).context(format!(
                    "loading image {} of the bundle (nothing of the bundle stays loaded)",
                    program.name()
                )));
            }
        }
    }
    let images = programs
        .iter()
        .zip(&loaded)
        .zip(&folders)
        .map(|((program, (_, report)), folder)| {
            ImageRecord::new(program, report, Path::new(folder))
        })
        .collect();
    let record = DeploymentRecord::new(source.location(), request.reference, images);
    if let Err(e) = deploy::write_record(&root, &record) {
        undo(&loaded, &root, created_root);
        return Err(e.into());
    }
    drop(stdout);

    if request.detach {
        eprintln!(
            "{} images are running, pinned under {}; remove them with: ebpf-layout unload {}",
            programs.len(),
            root.display(),
            root.display()
        );
        return Ok(());
    }
    // 5. Show every image's maps until Ctrl-C or --duration.
    let options = WatchOptions {
        duration: request.duration,
        output: request.output,
        metrics: request.metrics,
        transient: temporary,
    };
    let shown = load::watch(&root, &options, &mut std::io::stdout().lock());
    if temporary {
        deploy::unload_deployment(&root)?;
    }
    shown?;
    Ok(())
}

/// Creates the bundle's folder (which must be new or empty); returns whether it did.
fn prepare_root(root: &Path) -> anyhow::Result<bool> {
    match std::fs::read_dir(root) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                anyhow::bail!(
                    "pin folder {} is already in use: choose an empty or new folder, or run \
                     `ebpf-layout unload {}` first",
                    root.display(),
                    root.display()
                );
            }
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir(root).map_err(|e| {
                anyhow::anyhow!(
                    "creating pin folder {}: {e} (is it on bpffs?)",
                    root.display()
                )
            })?;
            Ok(true)
        }
        Err(e) => Err(anyhow::anyhow!(
            "reading pin folder {}: {e}",
            root.display()
        )),
    }
}

/// Unloads what was loaded, and the bundle's folder if this run created it.
fn undo(loaded: &[(PathBuf, LoadReport)], root: &Path, created_root: bool) {
    for (dir, _) in loaded.iter().rev() {
        let _ = load::unload(dir);
    }
    let _ = std::fs::remove_file(root.join(deploy::RECORD_NAME));
    if created_root {
        let _ = std::fs::remove_dir(root);
    }
}

/// A bpffs-safe, unique folder name per image ('.', '/', ':' and the like become '_').
fn folder_names(programs: &[VerifiedProgram]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for program in programs {
        let base: String = program
            .name()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base = if base.is_empty() {
            "_".to_owned()
        } else {
            base
        };
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

/// For one image, the options that name its programs, globals and maps.
#[derive(Debug, Clone, Default)]
struct Own {
    programs: Vec<String>,
    optional: Vec<String>,
    attach: Vec<Attach>,
    globals: Vec<(String, String)>,
    max_entries: Vec<(String, u32)>,
    show_maps: Vec<String>,
}

/// Whether a program of section `section` is one an unnamed `--attach POINT` is meant for.
fn fits_section(point: &AttachPoint, section: &str) -> bool {
    let head = section.split('/').next().unwrap_or_default();
    let kind = head.strip_suffix(".s").unwrap_or(head);
    match point {
        AttachPoint::Xdp { .. } => kind == "xdp",
        AttachPoint::Tc { .. } => matches!(kind, "tc" | "classifier" | "tcx"),
        AttachPoint::Uprobe { retprobe, .. } => {
            kind == if *retprobe { "uretprobe" } else { "uprobe" }
        }
        AttachPoint::Usdt { .. } => kind == "usdt",
        AttachPoint::Kprobe { retprobe, .. } => {
            kind == if *retprobe { "kretprobe" } else { "kprobe" }
        }
        AttachPoint::Trace { exit, .. } => kind == if *exit { "fexit" } else { "fentry" },
        AttachPoint::Tracepoint { .. } => matches!(kind, "tracepoint" | "tp"),
        AttachPoint::Perf { .. } => kind == "perf_event",
    }
}

/// Sends each option that names a program (`--program`, `--optional`, `--attach PROG=…`),
/// a global (`--global`) or a map (`--map`, `--map-max-entries`) to the one image that has
/// it, and each unnamed `--attach POINT` to the image with a program of its kind; none or
/// several is an error naming the images. `--map all` goes to every image.
fn route(programs: &[VerifiedProgram], request: &BundleRequest<'_>) -> anyhow::Result<Vec<Own>> {
    let infos: Vec<elf::ObjectInfo> = programs
        .iter()
        .map(|p| elf::inspect(p.object()))
        .collect::<Result<_, _>>()?;
    let mut routed: Vec<Own> = vec![Own::default(); programs.len()];
    let pick = |what: &str, has: &dyn Fn(&elf::ObjectInfo) -> bool| -> anyhow::Result<usize> {
        let found: Vec<usize> = (0..programs.len()).filter(|&i| has(&infos[i])).collect();
        let images = |list: &[usize]| {
            list.iter()
                .map(|&i| crate::report::escape_control(programs[i].name()).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match found.as_slice() {
            [one] => Ok(*one),
            [] => anyhow::bail!(
                "no image of the bundle has {what} (images: {})",
                images(&(0..programs.len()).collect::<Vec<_>>())
            ),
            several => anyhow::bail!(
                "{what} is ambiguous: images {} all have one; load one of them as PATH:NAME",
                images(several)
            ),
        }
    };
    fn program_named(name: &str) -> impl Fn(&elf::ObjectInfo) -> bool + '_ {
        move |info| info.programs.iter().any(|p| p.name == name)
    }
    fn map_named(name: &str) -> impl Fn(&elf::ObjectInfo) -> bool + '_ {
        move |info| info.maps.iter().any(|m| m.name == name)
    }
    for name in request.programs {
        let i = pick(&format!("a program named '{name}'"), &program_named(name))?;
        routed[i].programs.push(name.clone());
    }
    for name in request.optional {
        let i = pick(&format!("a program named '{name}'"), &program_named(name))?;
        routed[i].optional.push(name.clone());
    }
    for attach in request.attach {
        let i = match &attach.program {
            Some(name) => pick(
                &format!("a program named '{name}' for --attach {attach}"),
                &program_named(name),
            )?,
            None => pick(&format!("a program for --attach {attach}"), &|info| {
                info.programs
                    .iter()
                    .any(|p| fits_section(&attach.point, &p.section))
            })?,
        };
        routed[i].attach.push(attach.clone());
    }
    for (name, value) in request.globals {
        let i = pick(&format!("a global variable named '{name}'"), &|info| {
            info.variables.iter().any(|v| &v.name == name)
        })?;
        routed[i].globals.push((name.clone(), value.clone()));
    }
    for (name, entries) in request.max_entries {
        let i = pick(&format!("a map named '{name}'"), &map_named(name))?;
        routed[i].max_entries.push((name.clone(), *entries));
    }
    for name in request.show_maps {
        if name == "all" {
            for own in &mut routed {
                own.show_maps.push(name.clone());
            }
            continue;
        }
        let i = pick(&format!("a map named '{name}'"), &map_named(name))?;
        routed[i].show_maps.push(name.clone());
    }
    Ok(routed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(name: &str, file: &str) -> VerifiedProgram {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(file);
        VerifiedProgram {
            reference: "bundle".into(),
            location: "bundle".into(),
            name: name.into(),
            manifest_digest: crate::oci::Digest::of(name.as_bytes()),
            format: "bee".into(),
            platform: None,
            object: std::fs::read(path).unwrap(),
            trusted: None,
            kernel_btf: None,
        }
    }

    fn request<'a>(
        programs: &'a [String],
        attach: &'a [Attach],
        globals: &'a [(String, String)],
    ) -> BundleRequest<'a> {
        BundleRequest {
            reference: "bundle",
            programs,
            optional: &[],
            attach,
            globals,
            max_entries: &[],
            show_maps: &[],
            pid: None,
            reuse_pinned_maps: false,
            pin: None,
            detach: false,
            duration: None,
            output: OutputMode::Json,
            metrics: None,
            verbose: false,
        }
    }

    #[test]
    fn options_go_to_the_image_that_has_the_program_and_ambiguity_names_the_images() {
        let programs = [
            program("edge", "xdp_count.bpf.o"),
            program("core", "xdp_count.bpf.o"),
            program("probe", "tp_counter.bpf.o"),
            program("tunable", "configurable.bpf.o"),
        ];
        let names = ["count_getpid".to_string()];
        let routed = route(&programs, &request(&names, &[], &[])).unwrap();
        assert_eq!(routed[2].programs, ["count_getpid"]);
        assert!(routed[0].programs.is_empty() && routed[1].programs.is_empty());

        let xdp: Attach = "xdp:eth0".parse().unwrap();
        let err = route(&programs, &request(&[], std::slice::from_ref(&xdp), &[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is ambiguous: images edge, core all have one"),
            "{err}"
        );
        let routed = route(&programs[1..], &request(&[], &[xdp], &[])).unwrap();
        assert_eq!(routed[0].attach.len(), 1);

        // A named program takes its attach point along; a global goes where it is declared.
        let named: Attach = "count_getpid=tracepoint:syscalls:sys_enter_getpid"
            .parse()
            .unwrap();
        let globals = [("targ_tgid".to_string(), "1".to_string())];
        let routed = route(&programs, &request(&[], &[named], &globals)).unwrap();
        assert_eq!(routed[2].attach.len(), 1);
        assert_eq!(routed[3].globals, globals);

        let nope = ["nope".to_string()];
        let err = route(&programs, &request(&nope, &[], &[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "no image of the bundle has a program named 'nope' (images: edge, core, probe, tunable)"
            ),
            "{err}"
        );
    }

    #[test]
    fn folder_names_are_bpffs_safe_and_unique() {
        let programs = [
            program("ghcr.io/acme/probe:1.2", "tp_counter.bpf.o"),
            program("ghcr.io/acme/probe/1.2", "tp_counter.bpf.o"),
        ];
        assert_eq!(
            folder_names(&programs),
            ["ghcr_io_acme_probe_1_2", "ghcr_io_acme_probe_1_2_2"]
        );
    }
}
