//! Pinning under a bpffs folder, and `unload`.
//!
//! A pin folder made by `load --pin DIR` looks like this:
//!
//! ```text
//! DIR/ebpf_layout_manifest   the manifest (see below)
//! DIR/maps/NAME              every map of the object ('.' in names becomes '_')
//! DIR/programs/NAME          every loaded program
//! DIR/links/NAME             every BPF link (tracepoints, XDP: NAME_xdp_IFACE, …)
//! ```
//!
//! bpffs holds only BPF objects and folders, so the manifest is itself a BPF object: a
//! one-entry, frozen ARRAY map (kernel name `ebl_manifest`) whose value is the manifest's
//! JSON. It lists every pin (relative paths), the TC filters (which have no link to pin)
//! and whether the folder was created by us. [`unload`] removes exactly what it lists, and
//! refuses a folder without one. The manifest is pinned first and removed last, so a folder
//! left half-done by a crash can still be unloaded.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use libbpf_rs::{MapCore as _, MapFlags, MapHandle, MapType, Object};
use serde::{Deserialize, Serialize};

use super::attach::{self, Attachment, Attachments, TcFilter, XdpAttachment};
use super::capture;
use super::errors::LoadError;
use super::UnloadReport;

/// The manifest's file name inside a pin folder (bpffs reserves names with dots).
pub(crate) const MANIFEST_NAME: &str = "ebpf_layout_manifest";
/// The manifest map's kernel name (at most 15 bytes).
const MANIFEST_MAP_NAME: &str = "ebl_manifest";
/// The manifest's `format` field.
const MANIFEST_FORMAT: &str = "ebpf-layout-pins";
/// The manifest version this code writes and reads.
const MANIFEST_VERSION: u32 = 1;
/// A manifest larger than this is refused when reading (a real one is a few KiB).
const MAX_MANIFEST_BYTES: usize = 4 << 20;
/// `statfs` magic number of bpffs.
const BPF_FS_MAGIC: nix::sys::statfs::FsType = nix::sys::statfs::BPF_FS_MAGIC;

/// What kind of BPF object a pin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PinKind {
    /// A map.
    Map,
    /// A program.
    Program,
    /// A BPF link.
    Link,
}

/// One pinned object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PinEntry {
    /// Map, program or link.
    pub kind: PinKind,
    /// The map's or program's name.
    pub name: String,
    /// The pin's path relative to the pin folder.
    pub path: PathBuf,
}

/// The manifest of a pin folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// Always `ebpf-layout-pins`.
    pub format: String,
    /// Always 1.
    pub version: u32,
    /// The object's name.
    pub object: String,
    /// Whether `load` created the folder (then `unload` removes it).
    pub created_dir: bool,
    /// Every pin, in pinning order.
    pub pins: Vec<PinEntry>,
    /// TC filters to detach.
    pub tc_filters: Vec<TcFilter>,
    /// XDP programs attached in an explicit mode (no link to pin), to detach.
    #[serde(default)]
    pub xdp_attachments: Vec<XdpAttachment>,
}

/// A pin folder checked before loading: on bpffs, and empty or absent.
#[derive(Debug, Clone)]
pub(crate) struct PinDir {
    /// The folder.
    pub path: PathBuf,
    /// Whether it existed (empty) before.
    pub existed: bool,
}

/// Whether `path` (or, if it does not exist yet, its nearest existing ancestor) is on bpffs.
fn on_bpffs(path: &Path) -> Result<bool, LoadError> {
    let mut probe = path;
    loop {
        match nix::sys::statfs::statfs(probe) {
            Ok(stat) => return Ok(stat.filesystem_type() == BPF_FS_MAGIC),
            Err(nix::errno::Errno::ENOENT) => match probe.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => probe = parent,
                _ => return Ok(false),
            },
            Err(errno) => {
                return Err(LoadError::io(
                    format!("checking the filesystem of {}", probe.display()),
                    io::Error::from_raw_os_error(errno as i32),
                ))
            }
        }
    }
}

/// Checks a `--pin` folder before anything is loaded.
pub(crate) fn check_pin_dir(path: &Path) -> Result<PinDir, LoadError> {
    if let Some(file_name) = path.file_name().and_then(|n| n.to_str()) {
        if file_name.contains('.') {
            return Err(LoadError::PinNameHasDot {
                path: path.to_owned(),
                suggestion: path.with_file_name(pin_name(file_name)),
            });
        }
    }
    if !on_bpffs(path)? {
        return Err(LoadError::BpffsNotMounted {
            path: path.to_owned(),
        });
    }
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Only the folder itself is created (and removed by `unload`), not its parents.
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !parent.is_dir() {
                    return Err(LoadError::io(
                        format!(
                            "the parent of pin folder {} ({}) does not exist; create it first",
                            path.display(),
                            parent.display()
                        ),
                        e,
                    ));
                }
            }
            Ok(PinDir {
                path: path.to_owned(),
                existed: false,
            })
        }
        Err(e) => Err(LoadError::io(
            format!("reading pin folder {}", path.display()),
            e,
        )),
        Ok(meta) if !meta.is_dir() => Err(LoadError::PinDirInUse {
            path: path.to_owned(),
            detail: "it is a pinned object, not a folder".into(),
            hint: String::new(),
        }),
        Ok(_) => {
            let entries: Vec<String> = fs::read_dir(path)
                .map_err(|e| LoadError::io(format!("reading pin folder {}", path.display()), e))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            if entries.is_empty() {
                return Ok(PinDir {
                    path: path.to_owned(),
                    existed: true,
                });
            }
            let ours = entries.iter().any(|e| e == MANIFEST_NAME);
            Err(LoadError::PinDirInUse {
                path: path.to_owned(),
                detail: if ours {
                    "it holds programs pinned by an earlier `ebpf-layout load --pin`".into()
                } else {
                    format!("it holds {} entries", entries.len())
                },
                hint: if ours {
                    format!(", or run `ebpf-layout unload {}` first", path.display())
                } else {
                    String::new()
                },
            })
        }
    }
}

/// Replaces what bpffs does not accept in a pin name ('.', '/', …) with '_'.
fn pin_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "_".into()
    } else {
        cleaned
    }
}

/// Gives `wanted` a suffix if it is already taken.
fn unique(path: PathBuf, taken: &[PinEntry]) -> PathBuf {
    if !taken.iter().any(|p| p.path == path) {
        return path;
    }
    (2..)
        .map(|n| PathBuf::from(format!("{}_{n}", path.display())))
        .find(|candidate| !taken.iter().any(|p| p.path == *candidate))
        .unwrap_or(path)
}

/// Pins every map, program and link under `dir` and writes the manifest. On failure,
/// everything pinned here is removed again (and the folder, if created here).
pub(crate) fn pin_all(
    obj: &mut Object,
    attachments: &mut Attachments,
    dir: &PinDir,
    object_name: &str,
) -> Result<Vec<PathBuf>, LoadError> {
    // Plan every pin first, so that the manifest can be written before any of them.
    let mut pins: Vec<PinEntry> = Vec::new();
    for map in obj.maps() {
        let name = map.name().to_string_lossy().into_owned();
        let path = unique(Path::new("maps").join(pin_name(&name)), &pins);
        pins.push(PinEntry {
            kind: PinKind::Map,
            name,
            path,
        });
    }
    for program in obj.progs().filter(|p| p.autoload()) {
        let name = program.name().to_string_lossy().into_owned();
        let path = unique(Path::new("programs").join(pin_name(&name)), &pins);
        pins.push(PinEntry {
            kind: PinKind::Program,
            name,
            path,
        });
    }
    let mut link_pins = Vec::new();
    let mut tc_filters = Vec::new();
    let mut xdp_attachments = Vec::new();
    for (index, item) in attachments.items.iter().enumerate() {
        match item {
            Attachment::Link { program, iface, .. } => {
                let base = match iface {
                    Some(iface) => format!("{program}_xdp_{iface}"),
                    None => program.clone(),
                };
                let path = unique(Path::new("links").join(pin_name(&base)), &pins);
                pins.push(PinEntry {
                    kind: PinKind::Link,
                    name: program.clone(),
                    path: path.clone(),
                });
                link_pins.push((index, path));
            }
            Attachment::Tc { filter, .. } => tc_filters.push(filter.clone()),
            Attachment::Xdp { record, .. } => xdp_attachments.push(record.clone()),
            // Refused with --pin before anything is loaded (LoadError::PerfNotPinnable).
            Attachment::Perf { .. } => {}
        }
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        version: MANIFEST_VERSION,
        object: object_name.into(),
        created_dir: !dir.existed,
        pins: pins.clone(),
        tc_filters,
        xdp_attachments,
    };

    let mut done = Cleanup {
        root: dir.path.clone(),
        created_dir: false,
        paths: Vec::new(),
        armed: true,
    };
    if !dir.existed {
        fs::create_dir(&dir.path).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                LoadError::PinDirInUse {
                    path: dir.path.clone(),
                    detail: "another process created it meanwhile".into(),
                    hint: String::new(),
                }
            } else {
                LoadError::io(format!("creating pin folder {}", dir.path.display()), e)
            }
        })?;
        done.created_dir = true;
    }
    for sub in ["maps", "programs", "links"] {
        if pins.iter().any(|p| p.path.starts_with(sub)) {
            let path = dir.path.join(sub);
            fs::create_dir(&path)
                .map_err(|e| LoadError::io(format!("creating {}", path.display()), e))?;
            done.paths.push(path);
        }
    }

    let manifest_path = dir.path.join(MANIFEST_NAME);
    write_manifest(&manifest, &manifest_path)?;
    done.paths.push(manifest_path);

    let mut pinned = Vec::new();
    for entry in pins.iter().filter(|p| p.kind == PinKind::Map) {
        let path = dir.path.join(&entry.path);
        let Some(map) = obj
            .maps()
            .find(|m| m.name().to_string_lossy() == entry.name)
        else {
            continue;
        };
        // Pinned through a handle of its own fd: libbpf refuses to pin a map again at
        // another path than the one its object recorded (maps pinned by name have one).
        MapHandle::try_from(&map)
            .and_then(|mut handle| handle.pin(&path))
            .map_err(|e| pin_error(&path, &e))?;
        done.paths.push(path.clone());
        pinned.push(path);
    }
    for entry in pins.iter().filter(|p| p.kind == PinKind::Program) {
        let path = dir.path.join(&entry.path);
        let Some(mut program) = obj
            .progs_mut()
            .find(|p| p.name().to_string_lossy() == entry.name)
        else {
            continue;
        };
        program.pin(&path).map_err(|e| pin_error(&path, &e))?;
        done.paths.push(path.clone());
        pinned.push(path);
    }
    for (index, relative) in link_pins {
        let path = dir.path.join(&relative);
        if let Some(Attachment::Link { link, .. }) = attachments.items.get_mut(index) {
            link.pin(&path).map_err(|e| pin_error(&path, &e))?;
            done.paths.push(path.clone());
            pinned.push(path);
        }
    }
    done.armed = false;
    Ok(pinned)
}

fn pin_error(path: &Path, err: &libbpf_rs::Error) -> LoadError {
    LoadError::Pin {
        path: path.to_owned(),
        reason: capture::describe(err),
    }
}

/// Removes, in reverse order, what a failed [`pin_all`] made.
struct Cleanup {
    root: PathBuf,
    created_dir: bool,
    paths: Vec<PathBuf>,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        while let Some(path) = self.paths.pop() {
            let _ = fs::remove_file(&path).or_else(|_| fs::remove_dir(&path));
        }
        if self.created_dir {
            let _ = fs::remove_dir(&self.root);
        }
    }
}

fn write_manifest(manifest: &Manifest, path: &Path) -> Result<(), LoadError> {
    let bytes = serde_json::to_vec(manifest).map_err(|e| LoadError::Manifest {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    pin_frozen_json(&bytes, MANIFEST_MAP_NAME, path)
}

/// Pins `bytes` at `path` as the value of a one-entry, frozen ARRAY map named `map_name`:
/// nothing (no syscall, no program) can change it afterwards.
pub(crate) fn pin_frozen_json(bytes: &[u8], map_name: &str, path: &Path) -> Result<(), LoadError> {
    let fail = |what: &str, err: &libbpf_rs::Error| {
        if capture::errno(err) == Some(1) {
            return LoadError::NotPrivileged {
                action: format!("{what} {}", path.display()),
            };
        }
        LoadError::Pin {
            path: path.to_owned(),
            reason: format!("{what}: {}", capture::describe(err)),
        }
    };
    let value_size = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    let opts = libbpf_rs::libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_rs::libbpf_sys::bpf_map_create_opts>() as _,
        ..Default::default()
    };
    let mut map = MapHandle::create(MapType::Array, Some(map_name), 4, value_size, 1, &opts)
        .map_err(|e| fail("creating the map for", &e))?;
    map.update(&0u32.to_ne_bytes(), bytes, MapFlags::ANY)
        .map_err(|e| fail("writing", &e))?;
    map.freeze().map_err(|e| fail("freezing", &e))?;
    map.pin(path).map_err(|e| fail("pinning", &e))?;
    Ok(())
}

pub(crate) fn read_manifest(dir: &Path) -> Result<Manifest, LoadError> {
    let path = dir.join(MANIFEST_NAME);
    let bad = |reason: String| LoadError::Manifest {
        path: path.clone(),
        reason,
    };
    let map = match MapHandle::from_pinned_path(&path) {
        Ok(map) => map,
        Err(e) if capture::errno(&e) == Some(2) => {
            return Err(LoadError::NotAPinDir {
                path: dir.to_owned(),
                manifest: MANIFEST_NAME,
            })
        }
        Err(e) if capture::errno(&e) == Some(1) => {
            return Err(LoadError::NotPrivileged {
                action: format!("opening {}", path.display()),
            })
        }
        Err(e) => return Err(bad(capture::describe(&e))),
    };
    if map.map_type() != MapType::Array || map.value_size() as usize > MAX_MANIFEST_BYTES {
        return Err(bad("it is not an ebpf-layout manifest map".into()));
    }
    let bytes = map
        .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
        .map_err(|e| bad(capture::describe(&e)))?
        .ok_or_else(|| bad("it is empty".into()))?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    if manifest.format != MANIFEST_FORMAT || manifest.version != MANIFEST_VERSION {
        return Err(bad(format!(
            "format '{}' version {} is not '{MANIFEST_FORMAT}' version {MANIFEST_VERSION}",
            manifest.format, manifest.version
        )));
    }
    for pin in &manifest.pins {
        let safe = pin.path.components().count() == 2
            && pin
                .path
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(bad(format!(
                "pin path {} is outside the folder",
                pin.path.display()
            )));
        }
    }
    Ok(manifest)
}

/// Detaches and removes what a `load --pin DIR` pinned; see [`super::unload`].
pub(crate) fn unload(dir: &Path) -> Result<UnloadReport, LoadError> {
    let _log = capture::LogCapture::start();
    if let Err(e) = fs::metadata(dir) {
        return Err(LoadError::io(
            format!("opening pin folder {}", dir.display()),
            e,
        ));
    }
    if !on_bpffs(dir)? {
        return Err(LoadError::BpffsNotMounted {
            path: dir.to_owned(),
        });
    }
    let manifest = read_manifest(dir)?;
    let mut report = UnloadReport {
        pin_dir: dir.to_owned(),
        object: manifest.object.clone(),
        removed: Vec::new(),
        missing: Vec::new(),
        tc_detached: Vec::new(),
        left_in_place: Vec::new(),
    };

    // The program ids, to report and to find TC filters by.
    for filter in &manifest.tc_filters {
        match attach::detach_tc_filter(filter) {
            Ok(true) => {
                report
                    .tc_detached
                    .push(format!("tc:{}:{}", filter.iface, filter.direction));
                if filter.created_qdisc {
                    attach::destroy_qdisc(filter);
                }
            }
            Ok(false) => {}
            Err(reason) => {
                return Err(LoadError::Unload {
                    path: dir.to_owned(),
                    reason,
                })
            }
        }
    }
    for record in &manifest.xdp_attachments {
        match attach::detach_xdp(record) {
            Ok(true) => report.tc_detached.push(
                attach::AttachPoint::Xdp {
                    iface: record.iface.clone(),
                    mode: record.mode,
                }
                .to_string(),
            ),
            Ok(false) => {}
            Err(reason) => {
                return Err(LoadError::Unload {
                    path: dir.to_owned(),
                    reason,
                })
            }
        }
    }
    // Links first (that detaches), then programs, then maps.
    for kind in [PinKind::Link, PinKind::Program, PinKind::Map] {
        for pin in manifest.pins.iter().filter(|p| p.kind == kind) {
            let path = dir.join(&pin.path);
            match fs::remove_file(&path) {
                Ok(()) => report.removed.push(path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => report.missing.push(path),
                Err(e) => {
                    return Err(LoadError::Unload {
                        path: dir.to_owned(),
                        reason: format!("removing {}: {e}", path.display()),
                    })
                }
            }
        }
    }
    for sub in ["links", "programs", "maps"] {
        let path = dir.join(sub);
        if path.is_dir() && fs::remove_dir(&path).is_err() {
            report.left_in_place.push(path);
        }
    }
    let manifest_path = dir.join(MANIFEST_NAME);
    fs::remove_file(&manifest_path).map_err(|e| LoadError::Unload {
        path: dir.to_owned(),
        reason: format!("removing {}: {e}", manifest_path.display()),
    })?;
    report.removed.push(manifest_path);
    if manifest.created_dir {
        if fs::remove_dir(dir).is_ok() {
            report.removed.push(dir.to_owned());
        } else {
            report.left_in_place.push(dir.to_owned());
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_names_have_no_dots() {
        assert_eq!(pin_name("ringbuf_.bss"), "ringbuf__bss");
        assert_eq!(pin_name("counter_getpid"), "counter_getpid");
        assert_eq!(pin_name(""), "_");
    }

    #[test]
    fn non_bpffs_folder_is_refused_with_the_mount_command() {
        let dir = std::env::temp_dir().join("ebpf-layout-not-bpffs");
        let err = check_pin_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("mount -t bpf bpf /sys/fs/bpf"), "{err}");
    }
}
