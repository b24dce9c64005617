//! bpfman bytecode images: reading them, and writing them for `pack --format bpfman`.
//!
//! bpfman's "eBPF Bytecode Image Specifications" (its `shipping-bytecode.md`, the
//! backwards-compatible OCI variant) describe an ordinary OCI image:
//!
//! * the config is an image config (`application/vnd.oci.image.config.v1+json`, or
//!   Docker's) whose `config.Labels` carry `io.ebpf.programs` and `io.ebpf.maps`, each a
//!   JSON object as a string: program name → program type, map name → map type, in
//!   bpfman's vocabulary (`"xdp"`, `"tc"`, `"probe"`, `"tracepoint"`, `"per_cpu_array"`…);
//!   images of bpfman's first spec carry `io.ebpf.program_type` and friends instead;
//! * exactly one layer, `application/vnd.oci.image.layer.v1.tar+gzip` (or Docker's
//!   `…rootfs.diff.tar.gzip`), a gzipped tar holding the ELF object at its root.
//!
//! bpfman itself takes the first layer and the first entry of its tar. Reading here is
//! more careful: the layer is decompressed as a stream, bounded ([`MAX_LAYER_EXPANSION`],
//! [`MAX_LAYER_ENTRIES`]), only regular files are considered, and the first one that is
//! a BPF ELF object is the program. Nothing is ever written to disk, so names inside the
//! layer cannot do harm. The layer blob is hashed in the same pass and must match its
//! descriptor, so the object returned is exactly what the image's digest vouches for.
//!
//! Writing produces what `bpfman image build` produces, minus the container runtime: one
//! tar entry named after the object file (mode 0644, uid/gid 0, mtime 0) compressed with
//! a fixed gzip header, and labels derived from the object itself.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::archive::{LimitExceeded, StreamInput, TarInput, TarReader};
use crate::elf::{self, ObjectInfo, CLASSIFY_LEN};
use crate::limits::{Limits, RATIO_GRACE};
use crate::oci::digest::HashingReader;
use crate::oci::media_type::OCI_CONFIG;
use crate::oci::{Descriptor, Digest, ImageManifest, Platform};
use crate::source::ImageSource;
use crate::store::{io_err, Result, StoreError};

use super::resolve::MAX_OBJECT_SIZE;

/// Config label listing the programs: a JSON object, program name → program type.
pub const LABEL_PROGRAMS: &str = "io.ebpf.programs";
/// Config label listing the maps: a JSON object, map name → map type.
pub const LABEL_MAPS: &str = "io.ebpf.maps";
/// Label of bpfman's first spec (one program per image), which bpfman still reads.
pub const LEGACY_LABEL_PROGRAM_TYPE: &str = "io.ebpf.program_type";
/// Label of bpfman's first spec naming the object file in the layer.
pub const LEGACY_LABEL_FILENAME: &str = "io.ebpf.filename";

/// Media type of the layer we write (OCI's gzipped tar layer).
pub const LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Docker's gzipped layer media type, which bpfman accepts too.
pub const DOCKER_LAYER_TAR_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker's image config media type (images built with `docker build`).
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// Most bytes a layer may expand to when decompressed (the object limit plus 16 MiB for
/// tar headers and small companion files): a gzip bomb stops here.
pub const MAX_LAYER_EXPANSION: u64 = MAX_OBJECT_SIZE + (16 << 20);
/// Most tar headers read from one layer: a bytecode layer holds one file, a few more at
/// most (a directory entry, a README).
pub const MAX_LAYER_ENTRIES: u64 = 1024;

/// The gzip header we write: magic, deflate, no flags, mtime 0, XFL 0, OS 255 (unknown),
/// so that the same object always gives the same layer digest.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
/// miniz_oxide's level 6, zlib's default (pinned by Cargo.lock, so bytes never drift).
const GZIP_LEVEL: u8 = 6;

/// Whether a layer media type is one bpfman reads its bytecode from.
pub fn is_bytecode_layer(media_type: &str) -> bool {
    media_type == LAYER_TAR_GZIP || media_type == DOCKER_LAYER_TAR_GZIP
}

/// Whether a manifest could be a bpfman image judging by media types alone (an image
/// config and a gzipped layer); the labels in the config decide ([`has_bpfman_labels`]).
pub fn is_candidate(manifest: &ImageManifest) -> bool {
    (manifest.config.media_type == OCI_CONFIG || manifest.config.media_type == DOCKER_CONFIG)
        && manifest
            .layers
            .iter()
            .any(|l| is_bytecode_layer(&l.media_type))
}

/// Whether an image config (JSON bytes) carries bpfman's labels, current or legacy.
pub fn has_bpfman_labels(config: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(config) else {
        return false;
    };
    value
        .get("config")
        .and_then(|c| c.get("Labels"))
        .and_then(|l| l.as_object())
        .is_some_and(|labels| {
            labels.contains_key(LABEL_PROGRAMS) || labels.contains_key(LEGACY_LABEL_PROGRAM_TYPE)
        })
}

/// The index of the layer bpfman takes the bytecode from: the first gzipped tar layer.
pub fn program_layer_index(manifest: &ImageManifest) -> std::result::Result<usize, String> {
    manifest
        .layers
        .iter()
        .position(|l| is_bytecode_layer(&l.media_type))
        .ok_or_else(|| {
            format!("no layer of media type {LAYER_TAR_GZIP} or {DOCKER_LAYER_TAR_GZIP}")
        })
}

/// The BPF object found inside a bytecode layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerObject {
    /// Its name in the layer's tar, as stored (e.g. `xdp_counter.bpf.o`).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its first `keep` bytes (all of it when `keep` ≥ `size`).
    pub bytes: Vec<u8>,
}

/// Finds the object in a gzipped tar layer read from `layer`, streaming: the first
/// regular file whose first bytes are a BPF ELF header. Keeps at most `keep` bytes of
/// it (pass [`CLASSIFY_LEN`] to look at its header only). `location` names the blob in
/// errors.
///
/// Fails with [`StoreError::Archive`] when the layer is not a gzipped tar, holds no BPF
/// object among its regular files, goes over [`MAX_LAYER_EXPANSION`] or
/// [`MAX_LAYER_ENTRIES`], or ends early; with [`StoreError::TooLarge`] for an object over
/// [`MAX_OBJECT_SIZE`] when the whole of it is asked for.
pub fn find_object<R: Read>(layer: R, location: &Path, keep: u64) -> Result<LayerObject> {
    find_object_within(
        layer,
        location,
        keep,
        MAX_LAYER_EXPANSION,
        Limits::default().max_ratio,
    )
}

/// [`find_object`] with the decompression ratio bound of `limits` ([`Limits::max_ratio`],
/// enforced past [`RATIO_GRACE`] bytes as for archives), so that a small layer cannot
/// make its reader decompress (and keep) far more than its own size.
pub fn find_object_with<R: Read>(
    layer: R,
    location: &Path,
    keep: u64,
    limits: &Limits,
) -> Result<LayerObject> {
    find_object_within(layer, location, keep, MAX_LAYER_EXPANSION, limits.max_ratio)
}

fn find_object_within<R: Read>(
    layer: R,
    location: &Path,
    keep: u64,
    max_expansion: u64,
    max_ratio: u64,
) -> Result<LayerObject> {
    let compressed = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let layer = Counting {
        inner: layer,
        count: compressed.clone(),
    };
    let archive_err = |entry: &str, reason: String| StoreError::Archive {
        path: location.to_path_buf(),
        entry: entry.to_string(),
        reason,
    };
    let mut head = io::BufReader::new(layer);
    let magic = io::BufRead::fill_buf(&mut head).map_err(io_err("reading", location))?;
    if !magic.starts_with(&[0x1f, 0x8b]) {
        return Err(archive_err(
            "",
            "the bytecode layer is not gzip-compressed (bpfman layers are tar+gzip)".into(),
        ));
    }
    let decoded = Bounded {
        inner: flate2::bufread::GzDecoder::new(head),
        total: 0,
        limit: max_expansion,
        compressed,
        max_ratio,
    };
    let mut tar = TarReader::new(StreamInput(decoded), location, MAX_LAYER_ENTRIES);
    let mut regular = 0usize;
    while let Some(entry) = tar.next_entry().map_err(layer_error)? {
        // Regular files only: '0', the old NUL type, and '7' (contiguous file).
        if !matches!(entry.typeflag, b'0' | 0 | b'7') {
            continue;
        }
        regular += 1;
        let name = entry.display_name();
        let mut header = Vec::with_capacity(CLASSIFY_LEN);
        read_up_to(&mut tar, &mut header, CLASSIFY_LEN as u64).map_err(layer_error)?;
        if elf::classify(&header).is_err() {
            continue;
        }
        if keep > CLASSIFY_LEN as u64 && entry.size > MAX_OBJECT_SIZE {
            return Err(StoreError::TooLarge {
                path: location.to_path_buf(),
                what: format!("BPF object {name:?} in the bytecode layer"),
                size: entry.size,
                limit: MAX_OBJECT_SIZE,
            });
        }
        let want = keep.min(entry.size);
        let mut bytes = header;
        bytes.truncate(want as usize);
        if want > bytes.len() as u64 {
            // Grown as data arrives, not reserved from the size the header claims.
            read_up_to(&mut tar, &mut bytes, want).map_err(layer_error)?;
        }
        return Ok(LayerObject {
            name,
            size: entry.size,
            bytes,
        });
    }
    Err(archive_err(
        "",
        format!(
            "no BPF object in the bytecode layer ({regular} regular file(s), none an ELF object for BPF)"
        ),
    ))
}

/// The tar reader's errors, said for a layer: inside a blob whose digest is checked
/// separately a short tar is malformed content, not a transfer that lost bytes, and the
/// archive limits' advice (raise `--max-entries`) does not apply.
fn layer_error(e: StoreError) -> StoreError {
    match e {
        StoreError::Truncated {
            path,
            entry,
            reason,
        } => StoreError::Archive {
            path,
            entry,
            reason: format!("the layer's tar ends early: {reason}"),
        },
        StoreError::Archive { path, entry, reason } if reason.starts_with("more than ") => {
            StoreError::Archive {
                path,
                entry,
                reason: format!(
                    "more than {MAX_LAYER_ENTRIES} entries in the bytecode layer, which should hold one file"
                ),
            }
        }
        other => other,
    }
}

/// Reads the current tar entry's data into `out` until it holds `upto` bytes or the
/// entry ends.
fn read_up_to<I: TarInput>(tar: &mut TarReader<I>, out: &mut Vec<u8>, upto: u64) -> Result<()> {
    let mut buf = [0u8; 64 << 10];
    while (out.len() as u64) < upto {
        let room = ((upto - out.len() as u64) as usize).min(buf.len());
        let n = tar.read_data(&mut buf[..room])?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

/// Counts the compressed bytes read from the layer.
struct Counting<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// The decompressed layer, stopped past `limit` bytes ([`MAX_LAYER_EXPANSION`]) and, past
/// [`RATIO_GRACE`] bytes, past `max_ratio` times the compressed bytes read (0: no ratio).
struct Bounded<R> {
    inner: R,
    total: u64,
    limit: u64,
    compressed: std::rc::Rc<std::cell::Cell<u64>>,
    max_ratio: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        if self.total > self.limit {
            return Err(io::Error::other(LimitExceeded(format!(
                "the bytecode layer expands to more than {} bytes",
                self.limit
            ))));
        }
        if self.max_ratio > 0 && self.total > RATIO_GRACE {
            let compressed = self.compressed.get().max(1);
            if self.total / compressed > self.max_ratio {
                return Err(io::Error::other(LimitExceeded(format!(
                    "the bytecode layer's decompression ratio is over {}:1 ({} bytes from {compressed}): this looks like a gzip bomb (--max-ratio / EBPF_LAYOUT_MAX_RATIO; 0 turns the check off)",
                    self.max_ratio, self.total
                ))));
            }
        }
        Ok(n)
    }
}

/// Reads the program object of a bpfman image from its bytecode layer `layer`, verified:
/// the layer blob is hashed while it is decompressed (and to its end afterwards) and
/// must match the descriptor's size and digest, else [`StoreError::SizeMismatch`] /
/// [`StoreError::DigestMismatch`], whatever the layer holds.
pub fn read_object(source: &dyn ImageSource, layer: &Descriptor) -> Result<Vec<u8>> {
    let location = blob_location(source, layer);
    let raw = source.open_blob(layer)?;
    let mut hashing = HashingReader::new(raw.take(layer.size.saturating_add(1)));
    let found = find_object_with(&mut hashing, &location, MAX_OBJECT_SIZE, source.limits());
    // Hash what the decoder did not need, so that a damaged blob is named as such even
    // when its damage also broke the gzip or tar inside.
    io::copy(&mut hashing, &mut io::sink()).map_err(io_err("reading", &location))?;
    let (digest, size) = hashing.finish();
    if size != layer.size {
        return Err(StoreError::SizeMismatch {
            path: source.location().to_path_buf(),
            digest: layer.digest.clone(),
            expected: layer.size,
            found: size,
        });
    }
    if digest != layer.digest {
        return Err(StoreError::DigestMismatch {
            path: source.location().to_path_buf(),
            expected: layer.digest.clone(),
            found: digest,
        });
    }
    found.map(|o| o.bytes)
}

/// The first [`CLASSIFY_LEN`] bytes of the object in a bytecode layer (unverified: for
/// `verify`, which hashes every blob separately).
pub fn read_object_header(source: &dyn ImageSource, layer: &Descriptor) -> Result<Vec<u8>> {
    let location = blob_location(source, layer);
    let raw = source.open_blob(layer)?;
    find_object_with(
        raw.take(layer.size),
        &location,
        CLASSIFY_LEN as u64,
        source.limits(),
    )
    .map(|o| o.bytes)
}

fn blob_location(source: &dyn ImageSource, layer: &Descriptor) -> PathBuf {
    source.location().join(layer.digest.blob_path())
}

/// bpfman's name for a program's type. bpfman derives it from the section with aya's
/// parser; libbpf's names (which [`crate::elf`] reports) are the same but for k/uprobes
/// (`probe`), tc classifiers (`tc`) and `tp_btf` (`tracepoint`). `None` for a section
/// that neither knows.
pub fn program_type(program: &elf::Program) -> Option<&'static str> {
    if program.section == "tp_btf" || program.section.starts_with("tp_btf/") {
        return Some("tracepoint");
    }
    Some(match program.program_type.as_str() {
        "kprobe" => "probe",
        "sched_cls" => "tc",
        other => BPFMAN_PROGRAM_TYPES.iter().find(|t| **t == other)?,
    })
}

/// The program types bpfman knows (its `BpfProgType` names), besides `probe` and `tc`.
const BPFMAN_PROGRAM_TYPES: &[&str] = &[
    "socket_filter",
    "sched_act",
    "tracepoint",
    "xdp",
    "perf_event",
    "cgroup_skb",
    "cgroup_sock",
    "lwt_in",
    "lwt_out",
    "lwt_xmit",
    "sock_ops",
    "sk_skb",
    "cgroup_device",
    "sk_msg",
    "raw_tracepoint",
    "cgroup_sock_addr",
    "lwt_seg6local",
    "lirc_mode2",
    "sk_reuseport",
    "flow_dissector",
    "cgroup_sysctl",
    "raw_tracepoint_writable",
    "cgroup_sockopt",
    "tracing",
    "struct_ops",
    "ext",
    "lsm",
    "sk_lookup",
    "syscall",
    "netfilter",
];

/// bpfman's name for a map type: the kernel's, with `percpu` spelled `per_cpu`.
pub fn map_type(kernel_name: &str) -> String {
    kernel_name.replace("percpu", "per_cpu")
}

/// The two labels, as bpfman writes them: compact JSON objects (sorted here, so that
/// the config is deterministic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// Program name → bpfman program type.
    pub programs: BTreeMap<String, String>,
    /// Map name → bpfman map type (global-data maps left out, as bpfman does).
    pub maps: BTreeMap<String, String>,
}

impl Labels {
    /// The labels for an object. Fails (saying which program) when a program's section
    /// has no type bpfman knows, or when the object has no programs: bpfman could not
    /// load it.
    pub fn for_object(info: &ObjectInfo) -> std::result::Result<Self, LabelsError> {
        if info.programs.is_empty() {
            return Err(LabelsError::NoPrograms);
        }
        let mut programs = BTreeMap::new();
        for p in &info.programs {
            let t = program_type(p).ok_or_else(|| LabelsError::UnknownProgramType {
                program: p.name.clone(),
                section: p.section.clone(),
            })?;
            programs.insert(p.name.clone(), t.to_string());
        }
        let maps = info
            .maps
            .iter()
            .filter(|m| !is_global_data(&m.name))
            .map(|m| (m.name.clone(), map_type(&m.map_type)))
            .collect();
        Ok(Self { programs, maps })
    }
}

/// Why an object cannot be described by bpfman's labels: bpfman could not load it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LabelsError {
    /// The object has no programs.
    #[error("the object has no programs; bpfman needs at least one")]
    NoPrograms,
    /// A program's section gives no program type bpfman knows.
    #[error("program {program} in section {section:?} has no program type bpfman knows")]
    UnknownProgramType {
        /// The program.
        program: String,
        /// Its ELF section.
        section: String,
    },
}

/// Why [`build`] could not make a bpfman image of an object.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// bpfman could not load the object.
    #[error("{}: cannot be packed for bpfman: {reason}", path.display())]
    NotForBpfman {
        /// The object file.
        path: PathBuf,
        /// Why (which program, or no programs).
        reason: LabelsError,
    },
    /// The object's file name cannot be stored in a tar header.
    #[error("{}: cannot be stored as {name:?} in a tar: {error}", path.display())]
    FileName {
        /// The object file.
        path: PathBuf,
        /// The name it was to be stored as.
        name: String,
        /// What the tar writer said.
        error: io::Error,
    },
    /// The image config could not be serialised (it holds only strings, so this does
    /// not happen in practice).
    #[error("serialising {}: {source}", path.display())]
    Config {
        /// The object file.
        path: PathBuf,
        /// What the serialiser said.
        source: serde_json::Error,
    },
}

/// bpfman leaves the maps libbpf makes from global data out of `io.ebpf.maps`.
fn is_global_data(map: &str) -> bool {
    [".rodata", ".bss", ".data"].iter().any(|s| map.contains(s))
}

/// The blobs of a bpfman image for one object.
#[derive(Debug, Clone)]
pub struct BytecodeImage {
    /// The image config (`application/vnd.oci.image.config.v1+json`), canonical JSON.
    pub config: Vec<u8>,
    /// The gzipped tar layer ([`LAYER_TAR_GZIP`]).
    pub layer: Vec<u8>,
}

/// An OCI image config, as much of it as a bytecode image needs.
#[derive(Serialize)]
struct ImageConfig<'a> {
    architecture: &'a str,
    os: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<&'a str>,
    config: RunConfig,
    rootfs: RootFs,
}

#[derive(Serialize)]
struct RunConfig {
    #[serde(rename = "Labels")]
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<Digest>,
}

/// Builds the config and layer of a bpfman image holding `object` (whose inspection is
/// `info`) under `file_name`, for `platform`; `created` (RFC 3339) is recorded when
/// given. The same inputs always give the same bytes.
///
/// Fails with [`BuildError::NotForBpfman`] (naming `source`) when bpfman could not use
/// the object (see [`Labels::for_object`]), and with [`BuildError::FileName`] when the
/// file name cannot be stored in a tar header.
pub fn build(
    source: &Path,
    file_name: &str,
    object: &[u8],
    info: &ObjectInfo,
    platform: &Platform,
    created: Option<&str>,
) -> std::result::Result<BytecodeImage, BuildError> {
    let labels = Labels::for_object(info).map_err(|reason| BuildError::NotForBpfman {
        path: source.to_path_buf(),
        reason,
    })?;
    let tar = layer_tar(file_name, object).map_err(|error| BuildError::FileName {
        path: source.to_path_buf(),
        name: file_name.to_string(),
        error,
    })?;
    let diff_id = Digest::of(&tar);
    let layer = gzip(&tar);
    let mut label_map = BTreeMap::new();
    label_map.insert(LABEL_PROGRAMS.to_string(), compact(&labels.programs));
    label_map.insert(LABEL_MAPS.to_string(), compact(&labels.maps));
    let config = ImageConfig {
        architecture: &platform.architecture,
        os: &platform.os,
        variant: platform.variant.as_deref(),
        created,
        config: RunConfig { labels: label_map },
        rootfs: RootFs {
            kind: "layers",
            diff_ids: vec![diff_id],
        },
    };
    let config =
        crate::oci::canonical::to_vec(&config).map_err(|source_error| BuildError::Config {
            path: source.to_path_buf(),
            source: source_error,
        })?;
    Ok(BytecodeImage { config, layer })
}

/// A label value: the map as compact JSON, keys sorted.
fn compact(map: &BTreeMap<String, String>) -> String {
    // A map of strings always serialises.
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

/// A tar with one regular file: `file_name`, mode 0644, uid/gid 0, mtime 0, no user or
/// group names; GNU long-name records for names over 100 bytes.
fn layer_tar(file_name: &str, object: &[u8]) -> io::Result<Vec<u8>> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(object.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    let mut builder = tar::Builder::new(Vec::with_capacity(object.len() + 2048));
    builder.append_data(&mut header, file_name, object)?;
    builder.into_inner()
}

/// gzip with a fixed header ([`GZIP_HEADER`]), deflate by miniz_oxide, CRC-32 and size.
fn gzip(data: &[u8]) -> Vec<u8> {
    let deflated = miniz_oxide::deflate::compress_to_vec(data, GZIP_LEVEL);
    let mut out = Vec::with_capacity(deflated.len() + 18);
    out.extend_from_slice(&GZIP_HEADER);
    out.extend_from_slice(&deflated);
    let mut crc = crc32fast::Hasher::new();
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/tp_counter.bpf.o"
        ))
        .unwrap()
    }

    #[test]
    fn a_built_layer_gives_back_the_object_byte_for_byte() {
        let obj = object();
        let info = elf::inspect(&obj).unwrap();
        let image = build(
            Path::new("tp.o"),
            "tp_counter.bpf.o",
            &obj,
            &info,
            &Platform::linux("amd64"),
            None,
        )
        .unwrap();
        let found = find_object(&image.layer[..], Path::new("layer"), u64::MAX).unwrap();
        assert_eq!(found.name, "tp_counter.bpf.o");
        assert_eq!(found.bytes, obj);
        let header = find_object(&image.layer[..], Path::new("layer"), 64).unwrap();
        assert_eq!(header.bytes, obj[..64]);
        assert_eq!(header.size, obj.len() as u64);
        // And flate2 agrees the gzip stream is whole (CRC and size trailer).
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&image.layer[..])
            .read_to_end(&mut plain)
            .unwrap();
        let config: serde_json::Value = serde_json::from_slice(&image.config).unwrap();
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            Digest::of(&plain).to_string()
        );
        assert_eq!(
            config["config"]["Labels"][LABEL_PROGRAMS],
            r#"{"count_getpid":"tracepoint"}"#
        );
        assert!(has_bpfman_labels(&image.config));
    }

    #[test]
    fn building_twice_gives_the_same_bytes() {
        let obj = object();
        let info = elf::inspect(&obj).unwrap();
        let p = Platform::linux("arm64");
        let a = build(
            Path::new("a"),
            "x.o",
            &obj,
            &info,
            &p,
            Some("2024-01-01T00:00:00Z"),
        )
        .unwrap();
        let b = build(
            Path::new("b"),
            "x.o",
            &obj,
            &info,
            &p,
            Some("2024-01-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!((a.config, a.layer), (b.config, b.layer));
    }

    #[test]
    fn bpfman_spells_types_its_own_way() {
        let prog = |section: &str, t: &str| elf::Program {
            name: "p".into(),
            section: section.into(),
            program_type: t.into(),
            attach: None,
        };
        assert_eq!(
            program_type(&prog("kprobe/do_unlinkat", "kprobe")),
            Some("probe")
        );
        assert_eq!(program_type(&prog("tc", "sched_cls")), Some("tc"));
        assert_eq!(
            program_type(&prog("tp_btf/sched_switch", "tracing")),
            Some("tracepoint")
        );
        assert_eq!(program_type(&prog("fentry/x", "tracing")), Some("tracing"));
        assert_eq!(program_type(&prog("xdp", "xdp")), Some("xdp"));
        assert_eq!(program_type(&prog("xdp_prog", "unknown")), None);
        assert_eq!(map_type("percpu_array"), "per_cpu_array");
        assert_eq!(map_type("lru_percpu_hash"), "lru_per_cpu_hash");
        assert_eq!(map_type("ringbuf"), "ringbuf");
    }

    /// A gzipped tar made of raw entries: (name, typeflag, data).
    fn layer_of(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            if *kind == tar::EntryType::Symlink {
                h.set_link_name("../../etc/passwd").unwrap();
            }
            b.append_data(&mut h, name, *data).unwrap();
        }
        gzip(&b.into_inner().unwrap())
    }

    #[test]
    fn only_regular_files_that_are_bpf_objects_count() {
        let obj = object();
        let layer = layer_of(&[
            ("./", tar::EntryType::Directory, b""),
            (
                "./README",
                tar::EntryType::Regular,
                b"hello, this is not ELF at all............................................",
            ),
            ("./link.o", tar::EntryType::Symlink, b""),
            ("./probe.o", tar::EntryType::Regular, &obj),
        ]);
        let found = find_object(&layer[..], Path::new("l"), u64::MAX).unwrap();
        assert_eq!(found.name, "probe.o");
        assert_eq!(found.bytes, obj);
        let none = layer_of(&[("a.txt", tar::EntryType::Regular, b"text")]);
        let e = find_object(&none[..], Path::new("l"), u64::MAX).unwrap_err();
        assert!(e.to_string().contains("no BPF object"), "{e}");
        let e = find_object(&obj[..], Path::new("l"), u64::MAX).unwrap_err();
        assert!(e.to_string().contains("not gzip"), "{e}");
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_bound() {
        // 4 MiB of zeros compress to a few KiB; with a 1 MiB bound nothing past it is read.
        let zeros = vec![0u8; 4 << 20];
        let layer = layer_of(&[("zeros", tar::EntryType::Regular, &zeros)]);
        assert!(layer.len() < 64 << 10);
        let e = find_object_within(&layer[..], Path::new("l"), u64::MAX, 1 << 20, 0).unwrap_err();
        assert!(
            e.to_string().contains("expands to more than 1048576 bytes"),
            "{e}"
        );
    }

    #[test]
    fn a_small_layer_cannot_expand_past_the_ratio_bound() {
        // 80 MiB of zeros in a layer of well under 1 MiB: the ratio bound (100:1 past the
        // 64 MiB grace, as for archives) stops it long before the absolute bound.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        {
            let mut tar = tar::Builder::new(&mut gz);
            let mut header = tar::Header::new_gnu();
            header.set_size(80 << 20);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            tar.append_data(&mut header, "zeros", io::repeat(0).take(80 << 20))
                .unwrap();
            tar.finish().unwrap();
        }
        let layer = gz.finish().unwrap();
        assert!(layer.len() < 1 << 20);
        let limits = Limits::default();
        let e = find_object_with(&layer[..], Path::new("l"), u64::MAX, &limits).unwrap_err();
        assert!(
            e.to_string().contains("decompression ratio is over 100:1"),
            "{e}"
        );
        // With the check off, the same layer reads to its end (and holds no object).
        let off = Limits {
            max_ratio: 0,
            ..Limits::default()
        };
        let e = find_object_with(&layer[..], Path::new("l"), u64::MAX, &off).unwrap_err();
        assert!(e.to_string().contains("no BPF object"), "{e}");
    }

    #[test]
    fn too_many_entries_stop_the_search() {
        let names: Vec<String> = (0..=MAX_LAYER_ENTRIES).map(|i| format!("f{i}")).collect();
        let entries: Vec<(&str, tar::EntryType, &[u8])> = names
            .iter()
            .map(|n| (n.as_str(), tar::EntryType::Regular, &b"x"[..]))
            .collect();
        let layer = layer_of(&entries);
        let e = find_object(&layer[..], Path::new("l"), u64::MAX).unwrap_err();
        assert!(e.to_string().contains("more than 1024 entries"), "{e}");
    }
}
