//! Kernel BTF bundled beside an image, for kernels without `/sys/kernel/btf/vmlinux`
//! (docs/btf.md).
//!
//! CO-RE programs need the target kernel's BTF to relocate their field accesses. Where
//! the kernel does not expose it, libbpf can take it from a file (`btf_custom_path`);
//! behind an air gap that file must travel with the program. `pack --kernel-btf` stores,
//! for each target kernel release, that kernel's BTF minimised to what the object's CO-RE
//! relocations need (`bpftool gen min_core_btf`: a few hundred bytes instead of ~5 MB).
//!
//! # Storage
//!
//! One OCI artifact per image, beside it and without changing it (readers of the image
//! still see a plain image):
//!
//! * an index.json entry named `sha256-<hex>.btf` (the image manifest's digest, as
//!   cosign names signatures, [`crate::oci::companion`]), pointing at
//! * a manifest with `artifactType` [`ARTIFACT_TYPE`], the empty config
//!   (`application/vnd.oci.empty.v1+json`, `{}`), `subject` = the image manifest, and
//! * one layer per kernel release: media type [`LAYER_MEDIA_TYPE`] (raw BTF, as
//!   `/sys/kernel/btf/vmlinux`), the release in the annotation [`ANNOTATION_RELEASE`] and
//!   the title `<release>.btf`; layers sorted by release.
//!
//! Because the manifest has a `subject`, gc and whole-layout verify treat it as a
//! referrer; because of its name, `copy IMAGE` carries it like a signature.
//!
//! # Hostile input
//!
//! Kernel BTF given to `pack` comes from outside (a BTFHub archive, a copied file): files
//! are read up to [`MAX_BTF_SIZE`] bytes, `.btf.tar.xz` files up to [`MAX_XZ_SIZE`]
//! compressed bytes with liblzma's memory limited to [`XZ_MEMLIMIT`] and the decompressed
//! tar bounded too; tar entries other than regular files and directories (links,
//! devices) and names with `..` or a leading `/` are refused; every BTF blob is parsed
//! (header, sections, every type record) before use, and again before the loader gets it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Cursor, Read};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::archive::tar::{StreamInput, TarReader};
use crate::layout::LayoutWriter;
use crate::oci::companion::{companion_name, Companions, BTF_SUFFIX};
use crate::oci::media_type::{ANNOTATION_TITLE, OCI_EMPTY, OCI_MANIFEST};
use crate::oci::{canonical, Descriptor, Digest, ImageManifest, RefName};
use crate::program::KernelBtf;
use crate::store::ImageSource;

mod error;

use crate::store::{io_err, StoreError};
pub use error::{
    ArtifactProblem, BpftoolError, InvalidRelease, KernelBtfError, NotKernelBtf, Result,
};

/// `artifactType` of the manifest that holds an image's bundled kernel BTF.
pub const ARTIFACT_TYPE: &str = "application/vnd.ebpf-layout.kernel-btf.v1";
/// Media type of one kernel's (minimised) BTF: raw BTF bytes, as `/sys/kernel/btf/vmlinux`.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.ebpf-layout.kernel-btf.v1+btf";
/// Annotation on each layer: the kernel release (`uname -r`) its BTF describes.
pub const ANNOTATION_RELEASE: &str = "io.ebpf-layout.kernel.release";
/// The most bytes of one kernel's BTF we read, raw or decompressed. Full vmlinux BTF is
/// 4–10 MB on distribution kernels; this leaves room for large configs and stops at
/// absurd ones.
pub const MAX_BTF_SIZE: u64 = 64 << 20;
/// The most compressed bytes of one `.btf.tar.xz` we read (BTFHub's are 1–3 MB).
pub const MAX_XZ_SIZE: u64 = 32 << 20;
/// liblzma's memory limit while decompressing: xz's own presets need at most 64 MiB
/// (`-9`'s dictionary); an input declaring a larger dictionary is refused.
pub const XZ_MEMLIMIT: u64 = 128 << 20;
/// Tar headers read from one `.btf.tar.xz` (BTFHub's hold one file).
const MAX_TAR_HEADERS: u64 = 16;
/// The longest kernel release we accept: the kernel's own limit (`__NEW_UTS_LEN`).
const MAX_RELEASE_LEN: usize = 64;
/// The empty JSON object, the config of artifacts (OCI 1.1 `application/vnd.oci.empty.v1+json`).
const EMPTY_CONFIG: &[u8] = b"{}";

/// Where `pack --kernel-btf` takes one kernel's BTF, or a tree of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelBtfSpec {
    /// `RELEASE=FILE`: FILE is raw BTF or a `.btf.tar.xz`, for kernel RELEASE.
    File {
        /// The kernel release (`uname -r`).
        release: String,
        /// The BTF file.
        path: PathBuf,
    },
    /// `DIR`: every `<release>.btf` and `<release>.btf.tar.xz` under DIR (a BTFHub archive
    /// tree), the release taken from the file name.
    Dir(PathBuf),
}

impl KernelBtfSpec {
    /// Parses `RELEASE=FILE` or `DIR` (anything without `=` is a directory).
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s.split_once('=') {
            Some((release, path)) => {
                check_release(release).map_err(|e| e.to_string())?;
                if path.is_empty() {
                    return Err(format!("--kernel-btf {s}: give a file after '='"));
                }
                Ok(Self::File {
                    release: release.to_string(),
                    path: PathBuf::from(path),
                })
            }
            None if s.is_empty() => Err("--kernel-btf: give RELEASE=FILE or DIR".into()),
            None => Ok(Self::Dir(PathBuf::from(s))),
        }
    }
}

/// Checks a kernel release string: 1 to 64 characters from `[A-Za-z0-9._+~-]`, so that
/// it is safe in a file name and an annotation.
pub fn check_release(release: &str) -> std::result::Result<(), InvalidRelease> {
    let ok = !release.is_empty()
        && release.len() <= MAX_RELEASE_LEN
        && !release.starts_with('.')
        && release
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+~-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(InvalidRelease {
            release: release.to_string(),
        })
    }
}

/// One kernel's BTF input, found but not read yet.
#[derive(Debug, Clone)]
struct KernelInput {
    release: String,
    path: PathBuf,
}

/// The kernels `specs` name, sorted by release. Fails on a missing file or directory, a
/// release given twice, or a directory with no BTF files in it.
fn kernel_inputs(specs: &[KernelBtfSpec]) -> Result<Vec<KernelInput>> {
    let mut by_release: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut add = |release: String, path: PathBuf| -> Result<()> {
        if let Some(other) = by_release.get(&release) {
            if other != &path {
                return Err(KernelBtfError::ReleaseGivenTwice {
                    path,
                    release,
                    other: other.clone(),
                });
            }
        }
        by_release.insert(release, path);
        Ok(())
    };
    for spec in specs {
        match spec {
            KernelBtfSpec::File { release, path } => {
                if !path.is_file() {
                    return Err(KernelBtfError::NoSuchFile { path: path.clone() });
                }
                add(release.clone(), path.clone())?;
            }
            KernelBtfSpec::Dir(dir) => {
                if !dir.is_dir() {
                    return Err(KernelBtfError::NotADirectory { path: dir.clone() });
                }
                let mut found = 0;
                // Symlinks are not followed: the tree is input from outside.
                for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
                    let entry = entry.map_err(|error| KernelBtfError::ReadingFolder {
                        path: dir.clone(),
                        error,
                    })?;
                    if !entry.file_type().is_file() {
                        continue;
                    }
                    let name = entry.file_name().to_string_lossy();
                    let release = name
                        .strip_suffix(".btf.tar.xz")
                        .or_else(|| name.strip_suffix(".btf"));
                    if let Some(release) = release {
                        check_release(release).map_err(|reason| {
                            KernelBtfError::InvalidRelease {
                                path: entry.path().to_path_buf(),
                                reason,
                            }
                        })?;
                        add(release.to_string(), entry.path().to_path_buf())?;
                        found += 1;
                    }
                }
                if found == 0 {
                    return Err(KernelBtfError::EmptyFolder { path: dir.clone() });
                }
            }
        }
    }
    Ok(by_release
        .into_iter()
        .map(|(release, path)| KernelInput { release, path })
        .collect())
}

/// Reads one kernel's BTF from `path` (raw BTF, or a `.btf.tar.xz` holding one BTF
/// file), bounded as the module documentation says, and checks it is BTF.
pub fn read_kernel_btf(path: &Path) -> Result<Vec<u8>> {
    let is_xz = path.to_string_lossy().ends_with(".xz");
    let limit = if is_xz { MAX_XZ_SIZE } else { MAX_BTF_SIZE };
    let file = File::open(path).map_err(io_err("opening", path))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err("reading", path))?;
    if bytes.len() as u64 > limit {
        return Err(KernelBtfError::TooLarge {
            path: path.to_path_buf(),
            limit,
            compressed: is_xz,
        });
    }
    kernel_btf_from_bytes(bytes, path)
}

/// The kernel BTF in `bytes` read from `path`: a `.btf.tar.xz` (by its name) is
/// decompressed and unpacked as [`read_kernel_btf`] says, anything else taken as raw BTF;
/// either way the result is parsed as BTF. The parser half of [`read_kernel_btf`], for
/// callers (and the fuzzer) that have the bytes already.
pub fn kernel_btf_from_bytes(bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    let btf = if path.to_string_lossy().ends_with(".xz") {
        btf_from_tar_xz(&bytes, path)?
    } else {
        bytes
    };
    check_btf(&btf).map_err(|reason| KernelBtfError::NotBtf {
        path: path.to_path_buf(),
        reason,
    })?;
    Ok(btf)
}

/// The one BTF file inside a `.btf.tar.xz`: decompressed with liblzma under
/// [`XZ_MEMLIMIT`], at most [`MAX_BTF_SIZE`] bytes of tar read, links, devices, `..` and
/// absolute names refused.
fn btf_from_tar_xz(compressed: &[u8], path: &Path) -> Result<Vec<u8>> {
    let path_buf = || path.to_path_buf();
    let stream = xz2::stream::Stream::new_stream_decoder(XZ_MEMLIMIT, 0).map_err(|error| {
        KernelBtfError::XzDecoder {
            path: path_buf(),
            error,
        }
    })?;
    // A tar of one BTF file is the file plus a few KiB of headers and padding.
    let tar_limit = MAX_BTF_SIZE + 64 * 1024;
    let mut tar = Vec::new();
    xz2::read::XzDecoder::new_stream(compressed, stream)
        .take(tar_limit + 1)
        .read_to_end(&mut tar)
        .map_err(|error| KernelBtfError::NotTarXz {
            path: path_buf(),
            error,
        })?;
    if tar.len() as u64 > tar_limit {
        return Err(KernelBtfError::TarTooLarge {
            path: path_buf(),
            limit: tar_limit,
        });
    }
    let mut reader = TarReader::new(StreamInput(Cursor::new(tar)), path, MAX_TAR_HEADERS);
    let mut found: Option<(String, Vec<u8>)> = None;
    while let Some(entry) = reader.next_entry()? {
        let name = entry.display_name();
        let unsafe_name = name.starts_with('/')
            || Path::new(&name)
                .components()
                .any(|c| matches!(c, Component::ParentDir));
        if unsafe_name {
            return Err(KernelBtfError::TarNameOutside {
                path: path_buf(),
                name,
            });
        }
        match entry.typeflag {
            b'0' | 0 | b'7' => {}
            b'5' => continue,
            flag => {
                return Err(KernelBtfError::TarSpecialFile {
                    path: path_buf(),
                    name,
                    typeflag: flag as char,
                })
            }
        }
        if let Some((first, _)) = found {
            return Err(KernelBtfError::TarSeveralFiles {
                path: path_buf(),
                first,
                second: name,
            });
        }
        let mut data = Vec::with_capacity(entry.size.min(MAX_BTF_SIZE) as usize);
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = reader.read_data(&mut buf)?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
        }
        found = Some((name, data));
    }
    found
        .map(|(_, data)| data)
        .ok_or_else(|| KernelBtfError::TarEmpty { path: path_buf() })
}

/// Checks that `bytes` are BTF (see [`crate::elf::btf_type_count`]) and returns how many
/// types they hold; says why not.
pub fn check_btf(bytes: &[u8]) -> std::result::Result<usize, NotKernelBtf> {
    crate::elf::btf_type_count(bytes).map_err(|reason| NotKernelBtf { reason })
}

/// One kernel's BTF minimised for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinimisedBtf {
    /// The kernel release.
    pub release: String,
    /// Raw BTF bytes.
    pub bytes: Vec<u8>,
    /// Size of the kernel's full BTF it was cut from.
    pub full_size: u64,
}

/// How to make minimised BTF.
#[derive(Debug, Clone)]
pub struct KernelBtfOptions {
    /// The kernels.
    pub specs: Vec<KernelBtfSpec>,
    /// The `bpftool` to run (`bpftool gen min_core_btf`).
    pub bpftool: PathBuf,
}

/// For every kernel `options` names and every object in `objects`, that kernel's BTF
/// minimised to what the object's CO-RE relocations need, by `bpftool gen min_core_btf`.
/// Returns, per object (same order), one [`MinimisedBtf`] per kernel, sorted by release.
/// Each kernel's BTF is read (and decompressed) once.
///
/// Fails on unreadable or invalid kernel BTF, when bpftool is missing or fails, and when
/// its output is not BTF.
pub fn minimise_all(
    options: &KernelBtfOptions,
    objects: &[&Path],
) -> Result<Vec<Vec<MinimisedBtf>>> {
    let inputs = kernel_inputs(&options.specs)?;
    let temp = tempfile::tempdir().map_err(io_err("creating a temporary folder for", "bpftool"))?;
    let mut out: Vec<Vec<MinimisedBtf>> = vec![Vec::new(); objects.len()];
    for input in &inputs {
        let full = read_kernel_btf(&input.path)?;
        let vmlinux = temp.path().join("vmlinux.btf");
        std::fs::write(&vmlinux, &full).map_err(io_err("writing", &vmlinux))?;
        for (i, object) in objects.iter().enumerate() {
            let bytes =
                minimise(&options.bpftool, &vmlinux, object, temp.path()).map_err(|reason| {
                    KernelBtfError::Minimise {
                        path: input.path.clone(),
                        release: input.release.clone(),
                        object: object.to_path_buf(),
                        reason: Box::new(reason),
                    }
                })?;
            out[i].push(MinimisedBtf {
                release: input.release.clone(),
                bytes,
                full_size: full.len() as u64,
            });
        }
    }
    Ok(out)
}

/// Runs `bpftool gen min_core_btf VMLINUX OUT OBJECT` and returns OUT, checked.
fn minimise(
    bpftool: &Path,
    vmlinux: &Path,
    object: &Path,
    temp: &Path,
) -> std::result::Result<Vec<u8>, BpftoolError> {
    let output = temp.join("min.btf");
    let _ = std::fs::remove_file(&output);
    let run = Command::new(bpftool)
        .args(["gen", "min_core_btf"])
        .arg(vmlinux)
        .arg(&output)
        .arg(object)
        .output()
        .map_err(|error| BpftoolError::Run {
            bpftool: bpftool.to_path_buf(),
            error,
        })?;
    if !run.status.success() {
        return Err(BpftoolError::Failed {
            bpftool: bpftool.to_path_buf(),
            status: run.status,
            stderr: String::from_utf8_lossy(&run.stderr).trim().to_string(),
        });
    }
    let mut bytes = Vec::new();
    File::open(&output)
        .and_then(|f| f.take(MAX_BTF_SIZE + 1).read_to_end(&mut bytes))
        .map_err(|error| BpftoolError::ReadOutput { error })?;
    if bytes.len() as u64 > MAX_BTF_SIZE {
        return Err(BpftoolError::OutputTooLarge);
    }
    check_btf(&bytes).map_err(|reason| BpftoolError::OutputNotBtf { reason })?;
    Ok(bytes)
}

/// The artifact manifest for `image`, as stored (see the module documentation).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactManifest<'a> {
    schema_version: u32,
    media_type: &'static str,
    artifact_type: &'static str,
    config: &'a Descriptor,
    layers: &'a [Descriptor],
    subject: &'a Descriptor,
}

/// An artifact ready to store: its blobs (config and layers), its manifest bytes, and the
/// index.json name that points at the manifest.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// `sha256-<hex>.btf`.
    pub name: RefName,
    /// (media type, bytes) of the config and the layers.
    pub blobs: Vec<(String, Vec<u8>)>,
    /// The manifest's canonical JSON; store it with media type `OCI_MANIFEST`.
    pub manifest: Vec<u8>,
}

/// Builds the artifact that bundles `kernels` with the image whose manifest is `image`.
pub fn artifact(image: &Descriptor, kernels: &[MinimisedBtf]) -> Result<Artifact> {
    let mut kernels: Vec<&MinimisedBtf> = kernels.iter().collect();
    kernels.sort_by(|a, b| a.release.cmp(&b.release));
    let config = Descriptor::new(
        OCI_EMPTY,
        Digest::of(EMPTY_CONFIG),
        EMPTY_CONFIG.len() as u64,
    );
    let mut blobs = vec![(OCI_EMPTY.to_string(), EMPTY_CONFIG.to_vec())];
    let mut layers = Vec::new();
    for k in kernels {
        check_release(&k.release).map_err(|reason| KernelBtfError::ArtifactRelease { reason })?;
        layers.push(
            Descriptor::new(LAYER_MEDIA_TYPE, Digest::of(&k.bytes), k.bytes.len() as u64)
                .with_annotation(ANNOTATION_RELEASE, k.release.clone())
                .with_annotation(ANNOTATION_TITLE, format!("{}.btf", k.release)),
        );
        blobs.push((LAYER_MEDIA_TYPE.to_string(), k.bytes.clone()));
    }
    let subject = Descriptor::new(image.media_type.clone(), image.digest.clone(), image.size);
    let manifest = canonical::to_vec(&ArtifactManifest {
        schema_version: 2,
        media_type: OCI_MANIFEST,
        artifact_type: ARTIFACT_TYPE,
        config: &config,
        layers: &layers,
        subject: &subject,
    })
    .map_err(|error| KernelBtfError::ArtifactManifest {
        image: image.digest.clone(),
        error,
    })?;
    Ok(Artifact {
        name: companion_name(&image.digest, BTF_SUFFIX),
        blobs,
        manifest,
    })
}

/// Stores `kernels` beside `image` in a layout being written and names the artifact
/// (replacing an earlier one for the same image). Returns the artifact manifest's
/// descriptor. Nothing is visible until the writer commits.
pub fn add_to_layout(
    writer: &mut LayoutWriter,
    image: &Descriptor,
    kernels: &[MinimisedBtf],
) -> Result<Descriptor> {
    let artifact = artifact(image, kernels)?;
    for (media_type, bytes) in &artifact.blobs {
        writer.put_bytes(media_type, bytes)?;
    }
    let manifest = writer.put_bytes(OCI_MANIFEST, &artifact.manifest)?;
    writer.set_name(&artifact.name, manifest.clone());
    Ok(manifest)
}

/// One kernel's BTF bundled with an image, as listed (not read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundledBtf {
    /// The kernel release.
    pub release: String,
    /// The BTF blob's digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// The kernel BTF bundled with the image whose manifest is `image` (its
/// `sha256-<hex>.btf` artifacts whose subject is that manifest, found in `companions`,
/// the source's index's), sorted by release. Manifests are read verified; a `.btf` entry
/// that is not such an artifact is an error.
pub fn bundled(
    source: &dyn ImageSource,
    companions: &Companions,
    image: &Digest,
) -> Result<Vec<(Descriptor, BundledBtf)>> {
    let mut out = Vec::new();
    for entry in companions.of_kind(image, BTF_SUFFIX) {
        let bytes = source.read_blob(entry, source.limits().max_manifest_size)?;
        let manifest = ImageManifest::from_slice(&bytes).map_err(|e| StoreError::Schema {
            path: source.location().to_path_buf(),
            what: format!("kernel BTF manifest {}", entry.digest),
            source: e,
        })?;
        let bad = |problem: ArtifactProblem| KernelBtfError::BadArtifact {
            path: source.location().to_path_buf(),
            manifest: entry.digest.clone(),
            problem,
        };
        if manifest.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
            return Err(bad(ArtifactProblem::ArtifactType {
                found: manifest.artifact_type.clone(),
            }));
        }
        match &manifest.subject {
            Some(s) if &s.digest == image => {}
            other => {
                return Err(bad(ArtifactProblem::Subject {
                    image: image.clone(),
                    found: other.as_ref().map(|s| s.digest.clone()),
                }))
            }
        }
        for layer in manifest
            .layers
            .iter()
            .filter(|l| l.media_type == LAYER_MEDIA_TYPE)
        {
            let release = layer.annotations.get(ANNOTATION_RELEASE).ok_or_else(|| {
                bad(ArtifactProblem::NoRelease {
                    layer: layer.digest.clone(),
                })
            })?;
            check_release(release).map_err(|e| bad(ArtifactProblem::InvalidRelease(e)))?;
            out.push((
                layer.clone(),
                BundledBtf {
                    release: release.clone(),
                    digest: layer.digest.clone(),
                    size: layer.size,
                },
            ));
        }
    }
    out.sort_by(|a, b| a.1.release.cmp(&b.1.release));
    Ok(out)
}

/// The verified bytes of the BTF bundled with `image` for kernel `release`: the blob is
/// hashed against its descriptor and parsed as BTF. Fails with
/// [`KernelBtfError::NoBtfForRelease`] naming the release and the releases the image
/// does carry BTF for.
pub fn read_release(source: &dyn ImageSource, image: &Digest, release: &str) -> Result<KernelBtf> {
    let index = source.index()?;
    let all = bundled(source, &Companions::of(&index), image)?;
    let Some((layer, found)) = all.iter().find(|(_, b)| b.release == release) else {
        return Err(KernelBtfError::NoBtfForRelease {
            path: source.location().to_path_buf(),
            image: image.clone(),
            release: release.to_string(),
            available: all.iter().map(|(_, b)| b.release.clone()).collect(),
        });
    };
    let bytes = source.read_blob(layer, MAX_BTF_SIZE)?;
    check_btf(&bytes).map_err(|reason| KernelBtfError::BundledNotBtf {
        path: source.location().join(layer.digest.blob_path()),
        release: release.to_string(),
        reason,
    })?;
    Ok(KernelBtf {
        release: found.release.clone(),
        digest: found.digest.clone(),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_release_file_or_dir() {
        assert_eq!(
            KernelBtfSpec::parse("5.15.0-91-generic=/tmp/k.btf"),
            Ok(KernelBtfSpec::File {
                release: "5.15.0-91-generic".into(),
                path: "/tmp/k.btf".into()
            })
        );
        assert_eq!(
            KernelBtfSpec::parse("btfhub/ubuntu"),
            Ok(KernelBtfSpec::Dir("btfhub/ubuntu".into()))
        );
        assert!(KernelBtfSpec::parse("../x=/tmp/k").is_err());
        assert!(KernelBtfSpec::parse("a b=/tmp/k").is_err());
        assert!(KernelBtfSpec::parse("5.4=").is_err());
        assert!(check_release(&"9".repeat(65)).is_err());
    }

    #[test]
    fn non_btf_is_refused_with_the_reason() {
        let err = check_btf(b"\x7fELF not btf at all, but long enough")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not kernel BTF"), "{err}");
        assert!(err.contains("magic"), "{err}");
    }
}
