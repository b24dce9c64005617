//! Deployments: what `load --pin DIR` leaves running, recorded so that [`list`] (`ps`)
//! finds it again, [`super::watch`] shows its maps and [`unload_deployment`] removes it.
//!
//! # The deployment record
//!
//! Next to the pin manifest (see `pin.rs`), every pin folder that `load` fills also gets a
//! *deployment record*, `DIR/ebpf_layout_deployment`: like the manifest, a one-entry frozen
//! ARRAY map (kernel name `ebl_deployment`) whose value is JSON, because bpffs holds only BPF
//! objects. It says where the programs came from and what ran:
//!
//! ```json
//! {"format":"ebpf-layout-deployment","version":1,
//!  "source":"/srv/bundle.tar","reference":"/srv/bundle.tar:probe","loaded_at":1764470000,
//!  "images":[{"name":"probe","digest":"sha256:…","format":"bee","signed_by":"sha256:…"|null,
//!             "pin_dir":"","programs":[{"name":"count","type":"tracepoint","id":42,
//!                                        "attached_to":["tracepoint/syscalls/sys_enter_getpid"]}]}]}
//! ```
//!
//! `pin_dir` is relative to the folder holding the record: empty for an image pinned in that
//! very folder, `NAME` for the images of a bundle pinned under `DIR/NAME` (the bundle's
//! folder holds a record listing all of them; each image folder holds its own one-image
//! record too, so that it can be unloaded on its own). `signed_by` is the id (sha256 of the
//! public key) of the key whose signature was checked, `null` when none was asked for.
//!
//! The record is written right after the pins, and removed (after every pin) by
//! [`unload_deployment`]. A pin folder without a record (an older `load`, or a crash between
//! the two) is still found and unloaded: only its provenance is unknown.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use libbpf_rs::{MapCore as _, MapFlags, MapHandle, MapType};
use serde::{Deserialize, Serialize};

use super::capture;
use super::errors::LoadError;
use super::pin::{self, PinKind, MANIFEST_NAME};
use super::{LoadReport, UnloadReport};
use crate::program::VerifiedProgram;

/// The record's file name inside a pin folder (bpffs reserves names with dots).
pub const RECORD_NAME: &str = "ebpf_layout_deployment";
/// The record map's kernel name (at most 15 bytes).
const RECORD_MAP_NAME: &str = "ebl_deployment";
/// The record's `format` field.
const RECORD_FORMAT: &str = "ebpf-layout-deployment";
/// The record version this code writes and reads.
const RECORD_VERSION: u32 = 1;
/// A record larger than this is refused when reading (a real one is a few KiB).
const MAX_RECORD_BYTES: usize = 4 << 20;
/// `ps` looks this deep under a bpffs mount (pin folders are a few levels down at most).
const MAX_SEARCH_DEPTH: usize = 8;
/// `ps` looks at no more than this many folders per mount (bpffs can hold many pins).
const MAX_SEARCH_FOLDERS: usize = 100_000;
/// `/proc/self/mountinfo`: where the bpffs mounts are listed.
const MOUNTINFO: &str = "/proc/self/mountinfo";

/// Where a deployment came from and what it runs (the JSON of the record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentRecord {
    /// Always `ebpf-layout-deployment`.
    pub format: String,
    /// Always 1.
    pub version: u32,
    /// The layout or archive the images were read from.
    pub source: PathBuf,
    /// The reference as given to `load`.
    pub reference: String,
    /// When it was loaded, in seconds since the Unix epoch (UTC).
    pub loaded_at: u64,
    /// The images, in loading order.
    pub images: Vec<ImageRecord>,
}

/// One image of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The image's name (its `org.opencontainers.image.ref.name`, or its short digest).
    pub name: String,
    /// The image manifest's digest.
    pub digest: String,
    /// The image format (`bee`, `bpfman`, …).
    pub format: String,
    /// The id of the key whose signature was checked before loading, if one was asked for.
    pub signed_by: Option<String>,
    /// The image's pin folder, relative to the folder holding the record ("" = that folder).
    pub pin_dir: PathBuf,
    /// Its programs as loaded.
    pub programs: Vec<ProgramRecord>,
}

/// One program of an image, as loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramRecord {
    /// The program's name.
    pub name: String,
    /// The kernel's program type name.
    #[serde(rename = "type")]
    pub prog_type: String,
    /// The kernel's program id when loaded.
    pub id: u32,
    /// Where it was attached.
    pub attached_to: Vec<String>,
}

impl DeploymentRecord {
    /// A record for `images`, read from `source` as `reference`, loaded now.
    pub fn new(source: &Path, reference: &str, images: Vec<ImageRecord>) -> DeploymentRecord {
        DeploymentRecord {
            format: RECORD_FORMAT.into(),
            version: RECORD_VERSION,
            source: absolute(source),
            reference: reference.into(),
            loaded_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            images,
        }
    }
}

impl ImageRecord {
    /// What `load` ran of `program`, pinned under `pin_dir` (relative to the record).
    pub fn new(program: &VerifiedProgram, report: &LoadReport, pin_dir: &Path) -> ImageRecord {
        ImageRecord {
            name: program.name().into(),
            digest: program.manifest_digest().to_string(),
            format: program.format().into(),
            signed_by: program.trusted().map(|t| t.key.to_string()),
            pin_dir: pin_dir.to_owned(),
            programs: report
                .programs
                .iter()
                .map(|p| ProgramRecord {
                    name: p.name.clone(),
                    prog_type: p.prog_type.clone(),
                    id: p.id,
                    attached_to: p.attached_to.clone(),
                })
                .collect(),
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Writes `record` into `dir` (a pin folder, or a bundle's folder) as a frozen map.
pub fn write_record(dir: &Path, record: &DeploymentRecord) -> Result<(), LoadError> {
    let path = dir.join(RECORD_NAME);
    let bytes = serde_json::to_vec(record).map_err(|e| LoadError::Manifest {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    pin::pin_frozen_json(&bytes, RECORD_MAP_NAME, &path)
}

/// Reads the record in `dir`: `None` if there is none.
pub fn read_record(dir: &Path) -> Result<Option<DeploymentRecord>, LoadError> {
    let path = dir.join(RECORD_NAME);
    let bad = |reason: String| LoadError::Manifest {
        path: path.clone(),
        reason,
    };
    let map = match MapHandle::from_pinned_path(&path) {
        Ok(map) => map,
        Err(e) if capture::errno(&e) == Some(2) => return Ok(None),
        Err(e) if capture::errno(&e) == Some(1) => {
            return Err(LoadError::NotPrivileged {
                action: format!("opening {}", path.display()),
            })
        }
        Err(e) => return Err(bad(capture::describe(&e))),
    };
    if map.map_type() != MapType::Array || map.value_size() as usize > MAX_RECORD_BYTES {
        return Err(bad("it is not an ebpf-layout deployment record".into()));
    }
    let bytes = map
        .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
        .map_err(|e| bad(capture::describe(&e)))?
        .ok_or_else(|| bad("it is empty".into()))?;
    parse_record(&bytes).map(Some).map_err(bad)
}

/// Parses a record's JSON, refusing another format or version and any image folder that
/// is not a plain name inside the deployment (the record is read from bpffs: input).
fn parse_record(bytes: &[u8]) -> Result<DeploymentRecord, String> {
    let record: DeploymentRecord =
        serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    if record.format != RECORD_FORMAT || record.version != RECORD_VERSION {
        return Err(format!(
            "format '{}' version {} is not '{RECORD_FORMAT}' version {RECORD_VERSION}",
            record.format, record.version
        ));
    }
    for image in &record.images {
        // A hostile record must not send `unload` outside its folder.
        let safe = image.pin_dir.components().count() <= 1
            && image
                .pin_dir
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(format!(
                "image folder {} is outside the deployment",
                image.pin_dir.display()
            ));
        }
    }
    Ok(record)
}

/// Replaces the record in `dir` (records are frozen: a new map is pinned in its place).
fn rewrite_record(dir: &Path, record: &DeploymentRecord) -> Result<(), LoadError> {
    let path = dir.join(RECORD_NAME);
    remove_pin(&path)?;
    write_record(dir, record)
}

fn remove_pin(path: &Path) -> Result<(), LoadError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LoadError::io(format!("removing {}", path.display()), e)),
    }
}

/// Whether a program is still in the kernel and attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgramState {
    /// In the kernel, and every link pinned for it is still there.
    Running,
    /// In the kernel, but a link pinned for it was removed (so it is detached there).
    Detached,
    /// No longer in the kernel (its pins were removed behind our back).
    Gone,
}

/// A program of a deployed image, as found now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployedProgram {
    /// The program's name.
    pub name: String,
    /// The kernel's program type name, if known.
    #[serde(rename = "type")]
    pub prog_type: Option<String>,
    /// The kernel's program id (recorded at load time, or read from its pin).
    pub id: Option<u32>,
    /// Where it was attached.
    pub attached_to: Vec<String>,
    /// Whether it still runs.
    pub state: ProgramState,
}

/// An image of a deployment, as found now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployedImage {
    /// The image's name (the pin manifest's object name when there is no record).
    pub name: String,
    /// The image manifest's digest, if recorded.
    pub digest: Option<String>,
    /// The id of the key that signed it, if one was checked.
    pub signed_by: Option<String>,
    /// Its pin folder.
    pub pin_dir: PathBuf,
    /// Whether its pin folder (with its manifest) is still there.
    pub pinned: bool,
    /// Its programs.
    pub programs: Vec<DeployedProgram>,
}

/// A deployment found on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    /// Its folder: the pin folder of a single image, or a bundle's folder.
    pub path: PathBuf,
    /// The layout or archive it came from, if recorded.
    pub source: Option<PathBuf>,
    /// When it was loaded (seconds since the Unix epoch), if recorded.
    pub loaded_at: Option<u64>,
    /// Its images.
    pub images: Vec<DeployedImage>,
    /// Whether every program of every image still runs. `false` flags a deployment that
    /// was (partly) removed behind our back.
    pub healthy: bool,
}

/// Every bpffs mount point of this machine, from `/proc/self/mountinfo`.
pub fn bpffs_mounts() -> Result<Vec<PathBuf>, LoadError> {
    let text = fs::read_to_string(MOUNTINFO)
        .map_err(|e| LoadError::io(format!("reading {MOUNTINFO}"), e))?;
    Ok(parse_bpffs_mounts(&text))
}

/// The mount points of `bpf` filesystems in mountinfo(5) text.
fn parse_bpffs_mounts(mountinfo: &str) -> Vec<PathBuf> {
    let mut mounts: Vec<PathBuf> = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if right.split(' ').next() != Some("bpf") {
            continue;
        }
        let Some(point) = left.split(' ').nth(4) else {
            continue;
        };
        let point = PathBuf::from(unescape_mountinfo(point));
        if !mounts.contains(&point) {
            mounts.push(point);
        }
    }
    mounts
}

/// mountinfo escapes space, tab, newline and backslash as `\NNN` (octal).
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        if let (b'\\', Some(digits)) = (bytes[i], octal) {
            let value = digits.iter().fold(0u32, |n, d| n * 8 + u32::from(d - b'0'));
            if let Ok(byte) = u8::try_from(value) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The deployments under `roots` (every bpffs mount when empty), sorted by folder: every
/// folder holding a deployment record or a pin manifest. A folder that cannot be read is
/// skipped; a record that cannot be read shows as a deployment of unknown provenance.
pub fn list(roots: &[PathBuf]) -> Result<Vec<Deployment>, LoadError> {
    let _log = capture::LogCapture::start();
    let roots = if roots.is_empty() {
        bpffs_mounts()?
    } else {
        roots.to_vec()
    };
    let mut found = Vec::new();
    for root in &roots {
        let mut seen = 0usize;
        search(root, 0, &mut seen, &mut found);
    }
    found.sort();
    found.dedup();
    Ok(found.iter().map(|dir| describe(dir)).collect())
}

/// Collects the deployment folders under `dir` (not descending into one).
fn search(dir: &Path, depth: usize, seen: &mut usize, found: &mut Vec<PathBuf>) {
    *seen += 1;
    if *seen > MAX_SEARCH_FOLDERS {
        return;
    }
    if dir.join(RECORD_NAME).exists() || dir.join(MANIFEST_NAME).exists() {
        found.push(dir.to_owned());
        return;
    }
    if depth >= MAX_SEARCH_DEPTH {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut subdirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    subdirs.sort();
    for sub in subdirs {
        search(&sub, depth + 1, seen, found);
    }
}

/// What runs from the deployment in `dir`, as found now.
pub fn describe(dir: &Path) -> Deployment {
    let record = read_record(dir).ok().flatten();
    let images = match &record {
        Some(record) => record
            .images
            .iter()
            .map(|image| describe_image(&image_dir(dir, image), Some(image)))
            .collect(),
        None => vec![describe_image(dir, None)],
    };
    let healthy = images.iter().all(|i: &DeployedImage| {
        i.pinned && i.programs.iter().all(|p| p.state == ProgramState::Running)
    });
    Deployment {
        path: dir.to_owned(),
        source: record.as_ref().map(|r| r.source.clone()),
        loaded_at: record.as_ref().map(|r| r.loaded_at),
        images,
        healthy,
    }
}

fn describe_image(dir: &Path, record: Option<&ImageRecord>) -> DeployedImage {
    let manifest = pin::read_manifest(dir).ok();
    let link_missing = |program: &str| {
        manifest.as_ref().is_some_and(|m| {
            m.pins
                .iter()
                .filter(|p| p.kind == PinKind::Link && p.name == program)
                .any(|p| !dir.join(&p.path).exists())
        })
    };
    let state = |id: Option<u32>, program: &str| match id {
        Some(id) if program_exists(id) => {
            if link_missing(program) {
                ProgramState::Detached
            } else {
                ProgramState::Running
            }
        }
        _ => ProgramState::Gone,
    };
    let programs = match (record, &manifest) {
        (Some(record), _) => record
            .programs
            .iter()
            .map(|p| DeployedProgram {
                name: p.name.clone(),
                prog_type: Some(p.prog_type.clone()),
                id: Some(p.id),
                attached_to: p.attached_to.clone(),
                state: state(Some(p.id), &p.name),
            })
            .collect(),
        (None, Some(manifest)) => manifest
            .pins
            .iter()
            .filter(|p| p.kind == PinKind::Program)
            .map(|p| {
                let id = pinned_program_id(&dir.join(&p.path));
                DeployedProgram {
                    name: p.name.clone(),
                    prog_type: None,
                    id,
                    attached_to: Vec::new(),
                    state: state(id, &p.name),
                }
            })
            .collect(),
        (None, None) => Vec::new(),
    };
    DeployedImage {
        name: record
            .map(|r| r.name.clone())
            .or_else(|| manifest.as_ref().map(|m| m.object.clone()))
            .unwrap_or_default(),
        digest: record.map(|r| r.digest.clone()),
        signed_by: record.and_then(|r| r.signed_by.clone()),
        pin_dir: dir.to_owned(),
        pinned: manifest.is_some(),
        programs,
    }
}

/// The pin folder of `image`, whose record is in `dir`.
fn image_dir(dir: &Path, image: &ImageRecord) -> PathBuf {
    if image.pin_dir.as_os_str().is_empty() {
        dir.to_owned()
    } else {
        dir.join(&image.pin_dir)
    }
}

/// Whether the kernel still has the program with this id.
fn program_exists(id: u32) -> bool {
    libbpf_rs::Program::fd_from_id(id).is_ok()
}

/// The id of the program pinned at `path`.
pub(crate) fn pinned_program_id(path: &Path) -> Option<u32> {
    let fd = libbpf_rs::Program::fd_from_pinned_path(path).ok()?;
    use std::os::fd::AsFd as _;
    libbpf_rs::Program::id_from_fd(fd.as_fd()).ok()
}

/// What [`unload_deployment`] removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentUnloadReport {
    /// The folder given.
    pub path: PathBuf,
    /// One report per image pin folder unloaded.
    pub images: Vec<UnloadReport>,
    /// Image folders listed in the record that were already gone.
    pub missing: Vec<PathBuf>,
    /// The deployment records removed or rewritten.
    pub records: Vec<PathBuf>,
}

/// Removes what `load --pin` put in `dir`:
///
/// * a bundle's folder (a record listing images in sub-folders): every image, then the
///   record, then the folder if `load` created it;
/// * one image folder of a bundle (`DIR/NAME`): that image, and it is struck from the
///   bundle's record (which goes, with the folder, when no image is left);
/// * a single image's pin folder: that image and its record.
///
/// Pins are removed by [`super::unload`] (exactly what each manifest lists); a folder with
/// neither record nor manifest is refused.
pub fn unload_deployment(dir: &Path) -> Result<DeploymentUnloadReport, LoadError> {
    let _log = capture::LogCapture::start();
    if let Err(e) = fs::metadata(dir) {
        return Err(LoadError::io(
            format!("opening pin folder {}", dir.display()),
            e,
        ));
    }
    let mut report = DeploymentUnloadReport {
        path: dir.to_owned(),
        images: Vec::new(),
        missing: Vec::new(),
        records: Vec::new(),
    };
    let record = read_record(dir)?;
    let is_bundle = record
        .as_ref()
        .is_some_and(|r| r.images.iter().any(|i| !i.pin_dir.as_os_str().is_empty()));
    if let (true, Some(record)) = (is_bundle, &record) {
        for image in &record.images {
            let image_dir = image_dir(dir, image);
            if !image_dir.join(MANIFEST_NAME).exists() {
                report.missing.push(image_dir);
                continue;
            }
            report.images.push(unload_image(&image_dir)?);
        }
        let record_path = dir.join(RECORD_NAME);
        remove_pin(&record_path)?;
        report.records.push(record_path);
        // The bundle folder goes if it is now empty (load created it; it was empty before).
        let _ = fs::remove_dir(dir);
        return Ok(report);
    }
    report.images.push(unload_image(dir)?);
    if record.is_some() {
        report.records.push(dir.join(RECORD_NAME));
    }
    // One image of a bundle: strike it from the bundle's record.
    if let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) {
        if let Ok(Some(mut bundle)) = read_record(parent) {
            let before = bundle.images.len();
            bundle.images.retain(|i| i.pin_dir.as_os_str() != name);
            if bundle.images.len() != before {
                if bundle.images.is_empty() {
                    remove_pin(&parent.join(RECORD_NAME))?;
                    let _ = fs::remove_dir(parent);
                } else {
                    rewrite_record(parent, &bundle)?;
                }
                report.records.push(parent.join(RECORD_NAME));
            }
        }
    }
    Ok(report)
}

/// Unloads one image pin folder, its record included (see [`super::unload`]).
pub(crate) fn unload_image(dir: &Path) -> Result<UnloadReport, LoadError> {
    let mut report = pin::unload(dir)?;
    let record_path = dir.join(RECORD_NAME);
    if record_path.exists() {
        remove_pin(&record_path)?;
        report.removed.push(record_path);
        // `pin::unload` could not remove the folder while the record was in it.
        if let Some(at) = report.left_in_place.iter().position(|p| p == dir) {
            if fs::remove_dir(dir).is_ok() {
                report.left_in_place.remove(at);
                report.removed.push(dir.to_owned());
            }
        }
    }
    Ok(report)
}

/// Writes the one-image record of `program` into its pin folder after `load` pinned it.
pub(crate) fn record_pinned_image(
    program: &VerifiedProgram,
    report: &LoadReport,
    pin_dir: &Path,
) -> Result<(), LoadError> {
    let image = ImageRecord::new(program, report, Path::new(""));
    let record = DeploymentRecord::new(program.location(), program.reference(), vec![image]);
    write_record(pin_dir, &record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpffs_mounts_from_mountinfo() {
        let text = "\
22 1 0:21 / /sys rw,nosuid shared:7 - sysfs sysfs rw
33 22 0:29 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:12 - bpf bpf rw,mode=700
90 22 0:29 / /sys/fs/bpf rw - bpf bpf rw
91 1 0:50 / /run/my\\040bpf rw - bpf none rw
92 1 0:51 / /mnt/x rw - ext4 /dev/sda1 rw";
        assert_eq!(
            parse_bpffs_mounts(text),
            [PathBuf::from("/sys/fs/bpf"), PathBuf::from("/run/my bpf")]
        );
    }

    #[test]
    fn records_that_point_outside_their_folder_are_refused() {
        let record = |pin_dir: &str| {
            format!(
                r#"{{"format":"ebpf-layout-deployment","version":1,"source":"/b","reference":"/b",
                   "loaded_at":0,"images":[{{"name":"x","digest":"sha256:00","format":"bee",
                   "signed_by":null,"pin_dir":{pin_dir:?},"programs":[]}}]}}"#
            )
        };
        assert!(parse_record(record("").as_bytes()).is_ok());
        assert!(parse_record(record("probe").as_bytes()).is_ok());
        for hostile in ["..", "../x", "/sys/fs/bpf/other", "a/b", "."] {
            let err = parse_record(record(hostile).as_bytes()).unwrap_err();
            assert!(err.contains("outside the deployment"), "{hostile}: {err}");
        }
        let err = parse_record(br#"{"format":"other","version":1,"source":"","reference":"","loaded_at":0,"images":[]}"#)
            .unwrap_err();
        assert!(err.contains("is not 'ebpf-layout-deployment'"), "{err}");
        assert!(parse_record(b"\x00not json")
            .unwrap_err()
            .contains("invalid JSON"));
    }

    #[test]
    fn records_round_trip_as_json() {
        let record = DeploymentRecord {
            format: RECORD_FORMAT.into(),
            version: RECORD_VERSION,
            source: "/srv/bundle.tar".into(),
            reference: "/srv/bundle.tar".into(),
            loaded_at: 1,
            images: vec![ImageRecord {
                name: "probe".into(),
                digest: "sha256:00".into(),
                format: "bee".into(),
                signed_by: None,
                pin_dir: "probe".into(),
                programs: vec![ProgramRecord {
                    name: "count".into(),
                    prog_type: "tracepoint".into(),
                    id: 7,
                    attached_to: vec!["tracepoint/x/y".into()],
                }],
            }],
        };
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains(r#""type":"tracepoint""#), "{json}");
        let back: DeploymentRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
    }
}
