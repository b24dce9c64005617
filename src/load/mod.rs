//! Loading eBPF objects into the kernel with libbpf-rs: attach, show maps, pin, detach, unload.
//!
//! [`load`] takes object bytes that the caller has **already verified** (hash-checked blobs
//! from a layout or archive) and hands them to libbpf from memory (no temporary file):
//!
//! 1. checks the bytes are a BPF ELF object of this machine's byte order, and the `--pin`
//!    folder (on bpffs, empty);
//! 2. opens the object, keeps only the `--program` programs ([`LoadOptions::programs`]),
//!    applies the bumblebee ring-buffer fix-up (see `fixup.rs`), and plans every attachment
//!    (interfaces exist, one program per `--attach` point, tracefs for tracepoints) before
//!    the kernel sees anything;
//! 3. loads (maps, then programs through the verifier), attaches every program — all or
//!    nothing — and pins maps, programs and links if asked;
//! 4. shows the maps (bee conventions, see `display.rs`) until Ctrl-C, SIGTERM or
//!    [`LoadOptions::duration`], then detaches everything that is not pinned. With
//!    [`LoadOptions::detach`] it returns right after pinning instead.
//!
//! libbpf's own messages are captured (never printed) and end up in the errors: the verifier
//! log for a rejected program, libbpf's warnings for other failures.
//!
//! # JSON output (`OutputMode::Json`)
//!
//! One JSON object per line, each with an `"event"` field:
//!
//! * `{"event":"loaded","object":NAME,"programs":[{"name","section","type","id","attached_to":[…]}],
//!   "maps":[{"name","type","id","key_size","value_size","max_entries","display"}],
//!   "pin_dir":DIR|null,"pinned":[PATH…],"detached":BOOL,"fixed_maps":[NAME…],
//!   "globals_set":["NAME=VALUE"…],"warnings":[TEXT…]}` — first line.
//! * `{"event":"snapshot","map":NAME,"type":"array","kind":"counter"|"gauge"|"hist"|"entries",
//!   "entries":[{"key":KEY,"value":VALUE}…]}` — every readable map but `.rodata` and
//!   `.kconfig` (`entries` for maps without a bee name), once right after
//!   attaching, every second, and once more when stopping (so the last snapshot is the final
//!   state). `"truncated":true` is added when only the first 1024 entries are shown.
//!   Histogram entries are sorted by key. Per-CPU values are summed when they are integers,
//!   otherwise VALUE is an array with one value per CPU.
//! * `{"event":"record","map":NAME,"type":"ringbuf"|"perf_event_array","record":VALUE}` — each
//!   record of a ring or perf buffer, as it arrives.
//! * `{"event":"lost","map":NAME,"type":"perf_event_array","cpu":N,"count":N}` — records a
//!   perf buffer dropped.
//! * `{"event":"stopped","reason":"duration"|"interrupted"|"detached"}` — last line.
//!
//! KEY, VALUE and records are decoded through the object's BTF: integers as JSON numbers
//! (signed or unsigned as declared; 128-bit ones as decimal strings), `_Bool` as booleans,
//! `char` arrays as strings (up to the first NUL), enums by variant name, structs and unions
//! as objects with their field names, other arrays as arrays, pointers as `"0x…"` strings.
//! Without BTF, 1/2/4/8-byte keys and values are unsigned integers, others `"0x…"` hex.

mod attach;
mod btf_decode;
mod capture;
mod configure;
pub mod deploy;
mod display;
mod errors;
mod fixup;
mod interrupt;
mod metrics;
mod perf;
mod pin;
mod watch;

use crate::program::VerifiedProgram;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use libbpf_rs::{Map, MapCore as _, Object, ObjectBuilder, PrintLevel};
use serde::Serialize;

pub use attach::{Attach, AttachPoint, TcDirection, XdpMode};
pub use display::DisplayKind;
pub use errors::LoadError;
pub use perf::PerfEvent;

pub use watch::{watch, WatchOptions};

use btf_decode::Layout;
use capture::LogCapture;
use display::{MapView, Renderer, StopReason};

/// `e_machine` of BPF ELF objects.
const EM_BPF: u16 = 247;
/// The verifier log can be thousands of lines; its end says why. This many lines are kept.
const VERIFIER_LOG_TAIL_LINES: usize = 40;
/// `EPERM` and `EACCES`.
const EPERM: i32 = 1;

/// How [`load`] shows the maps while the programs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputMode {
    /// A table redrawn in place every second (ANSI escapes; for a terminal).
    #[default]
    Table,
    /// Plain lines: snapshots every second, records as they come (for pipes and logs).
    Text,
    /// One JSON object per line (schema in the [module documentation](self)).
    Json,
}

/// What [`load`] should do besides loading.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Load and attach only these programs (by name); empty means all. The others are not
    /// loaded at all (libbpf's autoload off), as tools do with programs for other kernels.
    pub programs: Vec<String>,
    /// Programs that may fail to load or attach: they are left out (or unattached) with a
    /// warning instead of failing the whole load.
    pub optional: Vec<String>,
    /// Where programs attach (`--attach [PROGRAM=]POINT`); programs without one attach
    /// where their section says.
    pub attach: Vec<Attach>,
    /// Limit uprobes and USDT probes to this process (default: every process).
    pub pid: Option<i32>,
    /// Global variables to set before load (`--global NAME=VALUE`), checked against
    /// their BTF types.
    pub globals: Vec<(String, String)>,
    /// Map sizes to set before load (`--map-max-entries MAP=N`).
    pub max_entries: Vec<(String, u32)>,
    /// Maps to show in table and text output besides the bee-named ones (`--map NAME`;
    /// `all` for every map). JSON output shows every map anyway.
    pub show_maps: Vec<String>,
    /// Keep libbpf's handling of maps declared `LIBBPF_PIN_BY_NAME`: pin them at
    /// `/sys/fs/bpf/NAME`, reuse what is pinned there, and leave them there. By default
    /// they are pinned nowhere (or under `pin`) and never reused.
    pub reuse_pinned_maps: bool,
    /// Pin maps, programs and links under this bpffs folder (which must be empty or absent).
    /// Pinned programs stay attached after [`load`] returns; [`unload`] removes them.
    pub pin: Option<PathBuf>,
    /// Return right after attaching and pinning, leaving the programs running (needs `pin`).
    pub detach: bool,
    /// Stop showing maps after this long (default: until Ctrl-C or SIGTERM).
    pub duration: Option<Duration>,
    /// How to show the maps.
    pub output: OutputMode,
    /// Serve the maps as Prometheus metrics at `http://ADDR/metrics` while showing them
    /// (metrics.rs); bound before anything is loaded. Nothing listens without it.
    pub metrics: Option<std::net::SocketAddr>,
    /// Show libbpf's messages on standard error as they come, and a rejected program's
    /// whole verifier log (otherwise its last 40 lines) — `load -v`.
    pub verbose: bool,
}

/// A loaded program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramReport {
    /// The program's (function's) name.
    pub name: String,
    /// Its ELF section, e.g. `tracepoint/syscalls/sys_enter_getpid`.
    pub section: String,
    /// The kernel's program type name, e.g. `tracepoint`, `xdp`, `sched_cls`.
    #[serde(rename = "type")]
    pub prog_type: String,
    /// The kernel's program id (as shown by `bpftool prog show`).
    pub id: u32,
    /// Where it is attached: its section for programs libbpf attaches, `xdp:IFACE`,
    /// `tc:IFACE:DIRECTION`; empty if libbpf knows no target for its section.
    pub attached_to: Vec<String>,
}

/// A map of the loaded object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapReport {
    /// The map's name (libbpf's: internal maps are `OBJNAME.bss` and the like).
    pub name: String,
    /// The kernel's map type name, e.g. `array`, `hash`, `ringbuf`.
    #[serde(rename = "type")]
    pub map_type: String,
    /// The kernel's map id (as shown by `bpftool map show`).
    pub id: u32,
    /// Key size in bytes, as created.
    pub key_size: u32,
    /// Value size in bytes, as created.
    pub value_size: u32,
    /// Maximum number of entries (bytes, for ring buffers).
    pub max_entries: u32,
    /// How the map is shown (bee conventions).
    pub display: DisplayKind,
}

impl MapReport {
    fn display_note(&self) -> &'static str {
        match self.display {
            DisplayKind::Print => "records shown as they arrive",
            DisplayKind::Counter => "counter",
            DisplayKind::Gauge => "gauge",
            DisplayKind::Hist => "histogram",
            DisplayKind::Entries => "all entries",
            DisplayKind::Other => "not shown",
        }
    }
}

/// What [`load`] loaded, attached and pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadReport {
    /// The object's name, as given to [`load`].
    pub object: String,
    /// The loaded programs.
    pub programs: Vec<ProgramReport>,
    /// The object's maps.
    pub maps: Vec<MapReport>,
    /// The pin folder, if pinned.
    pub pin_dir: Option<PathBuf>,
    /// Every pinned path (maps, programs, links), not counting the manifest.
    pub pinned: Vec<PathBuf>,
    /// Whether [`load`] returned leaving the programs running (`detach`).
    pub detached: bool,
    /// Event maps whose declared key/value sizes were changed so that the kernel accepts
    /// them (bumblebee-style ring buffers and perf buffers); their records are still decoded
    /// with the declared type.
    pub fixed_maps: Vec<String>,
    /// Global variables set before load (`NAME=VALUE` as given).
    pub globals_set: Vec<String>,
    /// What else was done to the object before load (sizes given to stack maps, maps
    /// pinned by name kept private) and what optional programs could not do.
    pub warnings: Vec<String>,
}

/// What [`unload`] removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnloadReport {
    /// The pin folder.
    pub pin_dir: PathBuf,
    /// The object's name recorded when pinning.
    pub object: String,
    /// Removed pins (links, programs, maps, the manifest, then the folder itself).
    pub removed: Vec<PathBuf>,
    /// Pins listed in the manifest that were already gone.
    pub missing: Vec<PathBuf>,
    /// TC filters and explicit-mode XDP programs that were detached
    /// (`tc:IFACE:DIRECTION`, `xdp:IFACE:MODE`).
    pub tc_detached: Vec<String>,
    /// Folders left in place because they hold things `load` did not put there.
    pub left_in_place: Vec<PathBuf>,
}

/// Loads `program` (a [`VerifiedProgram`]: only [`crate::trust::open_program`] makes one,
/// after the bytes were hash-checked and the caller's trust decision applied), named by
/// its image for libbpf, attaches its programs, then shows its maps on `out` until
/// Ctrl-C/SIGTERM or `options.duration` (or returns right after pinning with
/// `options.detach`).
///
/// Everything attached is detached again before returning, unless it was pinned. On error,
/// nothing stays attached or pinned. Errors name the program, map or path concerned and
/// carry libbpf's and the kernel's words (the verifier log for a rejected program).
pub fn load(
    program: &VerifiedProgram,
    options: &LoadOptions,
    out: &mut dyn Write,
) -> Result<LoadReport, LoadError> {
    let (name, object) = (program.name(), program.object());
    if options.detach && options.pin.is_none() {
        return Err(LoadError::DetachRequiresPin);
    }
    if options.pin.is_some() {
        if let Some(perf) = options
            .attach
            .iter()
            .find(|a| matches!(a.point, attach::AttachPoint::Perf { .. }))
        {
            return Err(LoadError::PerfNotPinnable {
                point: perf.to_string(),
            });
        }
    }
    check_object(object)?;
    // libbpf takes the name as a C string.
    let name = name.replace('\0', "");
    let pin_dir = options.pin.as_deref().map(pin::check_pin_dir).transpose()?;
    // Our own reading of the object: its variables (for --global) and maps pinned by name.
    let info = crate::elf::inspect(object).map_err(|e| LoadError::Open {
        reason: e.to_string(),
    })?;
    let globals = configure::check_globals(&info, &options.globals)?;
    // From here on, Ctrl-C or SIGTERM stops cleanly (through the drops below) instead of
    // killing the process half-way (which would leave TC filters behind).
    let interrupt = interrupt::Interrupt::catch()?;
    let metrics = options
        .metrics
        .map(metrics::MetricsServer::bind)
        .transpose()?;

    let log = LogCapture::start_showing(options.verbose);
    let mut warnings = Vec::new();
    // Optional programs that failed to load: the object is opened again without them.
    let mut dropped: Vec<String> = Vec::new();
    // Bundled kernel BTF (issue #18): libbpf reads btf_custom_path from a file (when it
    // relocates, during load), so the verified bytes go to a private temporary file that
    // lives until this function returns.
    let btf_file = match program.kernel_btf() {
        Some(btf) => Some(btf_temp_file(btf.bytes()).map_err(|e| LoadError::Open {
            reason: format!("writing the bundled kernel BTF to a temporary file: {e}"),
        })?),
        None => None,
    };
    let (mut obj, plan, fixed, scratch) = loop {
        let mut builder = ObjectBuilder::default();
        builder.name(&name).map_err(|e| LoadError::Open {
            reason: capture::describe(&e),
        })?;
        if let Some(file) = &btf_file {
            builder
                .btf_custom_path(file.path())
                .map_err(|e| LoadError::Open {
                    reason: capture::describe(&e),
                })?;
        }
        let mut open = builder.open_memory(object).map_err(|e| LoadError::Open {
            reason: capture::describe_with_log(&e, &log.take()),
        })?;
        select_programs(&mut open, &options.programs, &dropped)?;
        let fixed = fixup::fix_event_maps(&mut open)?;
        let applied = configure::apply(&mut open, &globals, &options.max_entries)?;
        let (plan, skipped) =
            attach::plan(&mut open, &options.attach, &options.optional, options.pid)?;
        let scratch = if options.reuse_pinned_maps {
            None
        } else {
            configure::ScratchPins::redirect(&mut open, &info)?
        };
        log.clear();
        match open.load() {
            Ok(obj) => {
                warnings.extend(applied.notes);
                for s in skipped {
                    warnings.push(format!(
                        "optional program '{}' was not loaded: {}",
                        s.program, s.reason
                    ));
                }
                if let Some(scratch) = &scratch {
                    warnings.push(format!(
                        "maps pinned by name ({}) were {}",
                        scratch.names().join(", "),
                        if pin_dir.is_some() {
                            "pinned under the pin folder, not /sys/fs/bpf"
                        } else {
                            "not pinned (nothing is left in /sys/fs/bpf; --pin DIR keeps them)"
                        }
                    ));
                }
                break (obj, plan, fixed, scratch);
            }
            Err(e) => {
                let messages = log.take();
                let failed = capture::failed_program(&messages);
                match failed {
                    Some(program)
                        if options.optional.contains(&program) && !dropped.contains(&program) =>
                    {
                        warnings.push(format!(
                            "optional program '{program}' was not loaded: {}",
                            load_error(&e, &messages, options.verbose)
                        ));
                        dropped.push(program);
                    }
                    _ => return Err(load_error(&e, &messages, options.verbose)),
                }
            }
        }
    };
    log.clear();
    if let Some(scratch) = scratch {
        scratch.release(&mut obj);
    }
    let map_names: Vec<String> = obj
        .maps()
        .map(|m| m.name().to_string_lossy().into_owned())
        .collect();
    if let Some(unknown) = options
        .show_maps
        .iter()
        .find(|m| *m != "all" && !map_names.contains(m))
    {
        return Err(LoadError::UnknownMap {
            option: "--map",
            name: unknown.clone(),
            available: map_names.join(", "),
        });
    }

    let (mut attachments, attach_warnings) =
        attach::attach_all(&obj, &plan, &options.optional, &log)?;
    warnings.extend(attach_warnings);
    let pinned = match &pin_dir {
        Some(dir) => pin::pin_all(&mut obj, &mut attachments, dir, &name)?,
        None => Vec::new(),
    };
    if pin_dir.is_some() {
        // Pinned links and TC filters outlive this call, whatever happens next.
        attachments.keep();
    }
    drop(log);

    let views = map_views(&obj, options);
    let report = LoadReport {
        object: name.clone(),
        programs: obj
            .progs()
            .filter(|p| p.autoload())
            .map(|p| {
                let program_name = p.name().to_string_lossy().into_owned();
                ProgramReport {
                    section: p.section().to_string_lossy().into_owned(),
                    prog_type: display::program_type_name(p.prog_type()),
                    id: attach::program_id(&p).unwrap_or(0),
                    attached_to: attachments.targets_of(&program_name),
                    name: program_name,
                }
            })
            .collect(),
        maps: obj
            .maps()
            .zip(&views)
            .map(|(m, view)| MapReport {
                name: view.name.clone(),
                map_type: view.type_name.clone(),
                id: m.info().map(|i| i.info.id).unwrap_or(0),
                key_size: m.key_size(),
                value_size: m.value_size(),
                max_entries: m.max_entries(),
                display: view.kind,
            })
            .collect(),
        pin_dir: pin_dir.as_ref().map(|d| d.path.clone()),
        pinned,
        detached: options.detach,
        fixed_maps: fixed,
        globals_set: options
            .globals
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect(),
        warnings,
    };

    // Deployments (deploy.rs): where the pinned programs came from, for `ps` and `unload`.
    if let Some(dir) = &report.pin_dir {
        if let Err(e) = deploy::record_pinned_image(program, &report, dir) {
            let _ = pin::unload(dir);
            return Err(e);
        }
    }

    let mut renderer = Renderer::new(out, options.output);
    renderer.stops_after(options.duration);
    if let Some(server) = &metrics {
        server.publish(metrics::exported(&obj, &views, &name)?);
        renderer.count_records_in(server.record_counts());
    }
    renderer.loaded(&report)?;
    if options.detach {
        renderer.stopped("detached", report.pin_dir.as_deref())?;
        return Ok(report);
    }
    let maps: Vec<Map<'_>> = obj.maps().collect();
    let reason = display::watch(&maps, &views, &mut renderer, &interrupt, options.duration)?;
    renderer.stopped(
        match reason {
            StopReason::Duration => "duration",
            StopReason::Interrupted => "interrupted",
        },
        report.pin_dir.as_deref(),
    )?;
    // Dropping `attachments` then `obj` detaches and unloads what is not pinned.
    drop(maps);
    drop(attachments);
    Ok(report)
}

/// Detaches and removes exactly what `load --pin DIR --detach` pinned in `pin_dir`, as
/// listed by the manifest `load` wrote there; refuses a folder without one (one that `load`
/// did not create). TC filters are detached only if the program we attached is still the one
/// there. The folder itself is removed if `load` created it.
pub fn unload(pin_dir: &Path) -> Result<UnloadReport, LoadError> {
    deploy::unload_image(pin_dir)
}

/// Keeps only the `--program` programs (all when none are named), minus `dropped`.
fn select_programs(
    open: &mut libbpf_rs::OpenObject,
    wanted: &[String],
    dropped: &[String],
) -> Result<(), LoadError> {
    let available: Vec<String> = open
        .progs()
        .map(|p| p.name().to_string_lossy().into_owned())
        .collect();
    for name in wanted {
        if !available.contains(name) {
            return Err(LoadError::UnknownProgram {
                name: name.clone(),
                available: available.join(", "),
            });
        }
    }
    for mut program in open.progs_mut() {
        let name = program.name().to_string_lossy().into_owned();
        let keep = (wanted.is_empty() || wanted.contains(&name)) && !dropped.contains(&name);
        if !keep {
            program.set_autoload(false);
        }
    }
    Ok(())
}

/// Checks the ELF header: magic, 64-bit, machine BPF, byte order of this machine.
fn check_object(object: &[u8]) -> Result<(), LoadError> {
    let not_bpf = |reason: String| LoadError::NotBpf { reason };
    if object.len() < 20 || !object.starts_with(b"\x7fELF") {
        return Err(not_bpf(
            "it is not an ELF file (no ELF magic number)".into(),
        ));
    }
    let little = match object[5] {
        1 => true,
        2 => false,
        other => return Err(not_bpf(format!("unknown ELF byte order {other}"))),
    };
    let machine_bytes = [object[18], object[19]];
    let machine = if little {
        u16::from_le_bytes(machine_bytes)
    } else {
        u16::from_be_bytes(machine_bytes)
    };
    if machine != EM_BPF {
        let known = match machine {
            3 => " (x86)",
            8 => " (MIPS)",
            20 => " (PowerPC)",
            21 => " (PowerPC 64)",
            22 => " (s390)",
            40 => " (ARM)",
            62 => " (x86-64)",
            183 => " (AArch64)",
            243 => " (RISC-V)",
            _ => "",
        };
        return Err(not_bpf(format!(
            "ELF machine {machine}{known}, expected {EM_BPF} (BPF)"
        )));
    }
    if object[4] != 2 {
        return Err(not_bpf("a 32-bit ELF file (BPF objects are 64-bit)".into()));
    }
    let host_little = cfg!(target_endian = "little");
    if little != host_little {
        let name = |l: bool| if l { "little" } else { "big" };
        return Err(LoadError::WrongEndianness {
            object: name(little),
            host: name(host_little),
        });
    }
    Ok(())
}

/// Turns a failed `bpf_object__load` into the most precise error the captured log allows.
fn load_error(
    err: &libbpf_rs::Error,
    messages: &[(PrintLevel, String)],
    verbose: bool,
) -> LoadError {
    let errno = capture::errno(err);
    let warnings = capture::warnings(messages);
    if errno == Some(EPERM) {
        let action = warnings
            .iter()
            .find_map(|w| {
                let start = w.find("map '")? + "map '".len();
                let end = start + w[start..].find('\'')?;
                w[start..]
                    .contains("failed to create")
                    .then(|| format!("creating map '{}'", &w[start..end]))
            })
            .or_else(|| capture::failed_program(messages).map(|p| format!("loading program '{p}'")))
            .unwrap_or_else(|| "loading the object".into());
        if let Some(reason) = errors::refused_as_root() {
            return LoadError::KernelRefused {
                action,
                reason,
                detail: format!("\nlibbpf: {}", capture::describe_with_log(err, messages)),
            };
        }
        return LoadError::NotPrivileged { action };
    }
    if let Some(program) = capture::failed_program(messages) {
        if let Some(log) = capture::verifier_log(messages, &program) {
            return LoadError::VerifierRejected {
                program,
                log: if verbose {
                    log
                } else {
                    tail_lines(&log, VERIFIER_LOG_TAIL_LINES)
                },
            };
        }
    }
    let btf_missing = warnings.iter().find(|w| {
        w.contains("vmlinux BTF is not found")
            || w.contains("failed to find valid kernel BTF")
            || w.contains("Error loading vmlinux BTF")
    });
    if let Some(line) = btf_missing {
        return LoadError::KernelBtfMissing {
            detail: format!(": {}", line.trim_start_matches("libbpf: ")),
        };
    }
    LoadError::Load {
        reason: capture::describe_with_log(err, messages),
    }
}

/// Writes `bytes` to a new private temporary file (mode 0600, removed on drop), for
/// libbpf's `btf_custom_path`, which takes a file name.
fn btf_temp_file(bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix("ebpf-layout-btf-")
        .suffix(".btf")
        .tempfile()?;
    file.write_all(bytes)?;
    file.flush()?;
    Ok(file)
}

fn tail_lines(text: &str, keep: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= keep {
        return text.to_owned();
    }
    let omitted = lines.len() - keep;
    format!(
        "… ({omitted} earlier lines of the verifier log omitted)\n{}",
        lines[omitted..].join("\n")
    )
}

/// Prepares every map for display: its kind and its key/value layouts from BTF.
fn map_views(obj: &Object, options: &LoadOptions) -> Vec<MapView> {
    let btf = obj.btf().ok().flatten();
    obj.maps()
        .map(|map| {
            let name = map.name().to_string_lossy().into_owned();
            let map_type = map.map_type();
            let (key, mut value) = btf
                .as_ref()
                .map(|btf| btf_decode::map_types(btf, &name))
                .unwrap_or((None, None));
            // libbpf names the map of a global-data section OBJNAME.SECTION (or the
            // section itself, for custom ones): its value is the section's variables.
            if let (Some(btf), Some(dot)) = (btf.as_ref(), name.find('.')) {
                if value.is_none() {
                    value = btf_decode::datasec_layout(btf, &name[dot..]);
                }
            }
            let asked = options.output == OutputMode::Json
                || options.show_maps.iter().any(|m| *m == name || m == "all");
            let kind = DisplayKind::for_map(&name, map_type, asked);
            let value = value.unwrap_or_else(|| match kind {
                // A record without a declared type: all of its bytes, in hex.
                DisplayKind::Print => Layout::Opaque { size: usize::MAX },
                _ => Layout::guess(map.value_size() as usize),
            });
            MapView {
                key: key.unwrap_or_else(|| Layout::guess(map.key_size() as usize)),
                value,
                type_name: display::map_type_name(map_type),
                kind,
                map_type,
                name,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_checks() {
        let err = check_object(b"hello world, not an object")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an ELF file"), "{err}");
        let mut x86 = vec![0u8; 64];
        x86[..4].copy_from_slice(b"\x7fELF");
        x86[4] = 2;
        x86[5] = 1;
        x86[18] = 62;
        let err = check_object(&x86).unwrap_err().to_string();
        assert!(
            err.contains("ELF machine 62 (x86-64), expected 247 (BPF)"),
            "{err}"
        );
        let mut bpfeb = x86.clone();
        bpfeb[5] = 2;
        bpfeb[18] = 0;
        bpfeb[19] = 247;
        let err = check_object(&bpfeb).unwrap_err();
        assert!(
            matches!(err, LoadError::WrongEndianness { object: "big", .. }),
            "{err}"
        );
    }

    #[test]
    fn detach_needs_pin() {
        let options = LoadOptions {
            detach: true,
            ..Default::default()
        };
        let program = VerifiedProgram {
            reference: "x".into(),
            location: "x".into(),
            name: "x".into(),
            manifest_digest: crate::oci::Digest::of(b""),
            format: "bee".into(),
            platform: None,
            object: Vec::new(),
            trusted: None,
            kernel_btf: None,
        };
        let err = load(&program, &options, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, LoadError::DetachRequiresPin));
    }

    #[test]
    fn long_verifier_logs_keep_their_end() {
        let log: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let tail = tail_lines(&log, 3);
        assert!(tail.starts_with("… (97 earlier lines"), "{tail}");
        assert!(tail.ends_with("line 97\nline 98\nline 99"), "{tail}");
    }
}
