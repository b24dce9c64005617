//! `pack`: BPF object files and directories of them → one eBPF image each, in a layout
//! or an archive.
//!
//! Everything that can be checked is checked before the layout is touched (inputs exist,
//! are BPF objects of the right byte order, names are valid and unique), so bad input
//! never leaves a partial layout behind.
//!
//! Images are written in bee's format by default, or as bpfman bytecode images
//! ([`PackFormat::Bpfman`], see [`crate::image::bpfman`]). With
//! [`PackOptions::platform_objects`], one object per platform becomes one image index
//! (multi-architecture) under one name.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::archive::{ArchiveBuilder, Limits, WriteOptions};
use crate::elf::{self, ByteOrder, ElfError, ObjectInfo};
use crate::image::bpfman;
use crate::image::config::{EbpfConfig, ObjectMetadata};
use crate::image::resolve::MAX_OBJECT_SIZE;
use crate::kernel_btf::{KernelBtfOptions, MinimisedBtf};
use crate::layout::{IndexChange, LayoutWriter};
use crate::oci::media_type::{
    ANNOTATION_CREATED, ANNOTATION_TITLE, EBPF_CONFIG, EBPF_CONFIG_TITLE, EBPF_PROGRAM,
    EBPF_PROGRAM_TITLE, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST,
};
use crate::oci::{Descriptor, Digest, ImageIndex, ImageManifest, Platform, RefName};
use crate::progress::Progress;
use crate::store::{self, io_err};

mod error;

pub use error::{PackError, Result};

/// The image format `pack` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackFormat {
    /// The eBPF Image specification (bumblebee): the raw object as a layer, our metadata
    /// in the config.
    #[default]
    Bee,
    /// bpfman's bytecode image: the object in a tar+gzip layer, `io.ebpf.programs` and
    /// `io.ebpf.maps` labels in an ordinary image config.
    Bpfman,
}

/// What to pack and how.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// Object files and/or directories (walked recursively, in sorted order).
    pub inputs: Vec<PathBuf>,
    /// The layout directory to create or add to, or an archive (`.tar`, `.tar.gz`, `.tgz`)
    /// to create or add to (an existing archive is rewritten atomically with its images
    /// kept).
    pub output: PathBuf,
    /// The name for a single input (default: the file name without `.bpf.o`/`.o`), or for
    /// the image index of `platform_objects`.
    pub tag: Option<RefName>,
    /// The platform recorded on the index entry.
    pub platform: Platform,
    /// Manifest annotations.
    pub annotations: BTreeMap<String, String>,
    /// `org.opencontainers.image.created`, when reproducible time is asked for
    /// (`SOURCE_DATE_EPOCH`).
    pub created: Option<String>,
    /// The format of the images written.
    pub format: PackFormat,
    /// Multi-architecture: one object file per platform, written as one manifest each and
    /// an image index over them, named `tag` (or the objects' common default name). When
    /// not empty, `inputs` must be empty and `platform` is not used; each object's byte
    /// order must be its platform's.
    pub platform_objects: Vec<(Platform, PathBuf)>,
    /// Modification time of every entry of an archive written, in seconds since 1970 (0
    /// for reproducible archives; the command line takes `SOURCE_DATE_EPOCH`).
    pub mtime: u64,
    /// Bounds on reading untrusted input (an existing archive or layout read on the way).
    pub limits: Limits,
    /// Where the bytes hashed are counted.
    pub progress: Progress,
    /// Kernel BTF to bundle beside each image, minimised for its object (issue #18;
    /// `--kernel-btf`). Not with `platform_objects`.
    pub kernel_btf: Option<KernelBtfOptions>,
}

impl Default for PackOptions {
    /// No inputs, output `.`, this machine's platform, bee format.
    fn default() -> Self {
        Self {
            inputs: Vec::new(),
            output: PathBuf::from("."),
            tag: None,
            platform: Platform::host(),
            annotations: BTreeMap::new(),
            created: None,
            format: PackFormat::Bee,
            platform_objects: Vec::new(),
            mtime: 0,
            limits: Limits::default(),
            progress: Progress::none(),
            kernel_btf: None,
        }
    }
}

/// One image written (or found already there).
#[derive(Debug, Clone, Serialize)]
pub struct PackedImage {
    /// The name given to it.
    pub name: String,
    /// The object it was made from (`None` for a multi-platform index: see `platforms`).
    pub source: Option<PathBuf>,
    /// The manifest digest (the index digest for a multi-platform image).
    pub digest: Digest,
    /// Bytes of manifest, config and program (for an index: of all its images, and itself).
    pub size: u64,
    /// `added`, `unchanged`, or `moved` (with `previous`).
    pub change: &'static str,
    /// The digest the name pointed at before, when it moved.
    pub previous: Option<Digest>,
    /// For a multi-platform image, the manifest written for each platform.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<PackedPlatform>,
    /// Kernel BTF bundled beside the image (`--kernel-btf`), by release.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kernel_btf: Vec<PackedBtf>,
}

/// One kernel's BTF bundled beside a packed image.
#[derive(Debug, Clone, Serialize)]
pub struct PackedBtf {
    /// The kernel release.
    pub release: String,
    /// Bytes of the minimised BTF stored.
    pub size: u64,
    /// Bytes of the kernel's full BTF it was cut from.
    pub full_size: u64,
    /// Types kept. 0 means none of the object's CO-RE relocations found a type in that
    /// kernel's BTF: the object uses no CO-RE, or the BTF is of another kernel or
    /// architecture.
    pub types: usize,
}

/// One platform's manifest of a multi-platform image.
#[derive(Debug, Clone, Serialize)]
pub struct PackedPlatform {
    /// `os/architecture[/variant]`.
    pub platform: String,
    /// The object it was made from.
    pub source: PathBuf,
    /// The manifest digest.
    pub digest: Digest,
    /// Bytes of manifest, config and program.
    pub size: u64,
}

/// A file under an input directory that is not a BPF object, and why.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedFile {
    /// The file.
    pub path: PathBuf,
    /// What it is instead.
    pub reason: String,
}

/// What `pack` did.
#[derive(Debug, Clone, Serialize)]
pub struct PackReport {
    /// The layout written.
    pub output: PathBuf,
    /// The format of the images written.
    pub format: PackFormat,
    /// The images, in the order packed.
    pub images: Vec<PackedImage>,
    /// Files skipped while walking directories.
    pub skipped: Vec<SkippedFile>,
}

/// An input object that passed every check.
struct Candidate {
    path: PathBuf,
    name: RefName,
    size: u64,
    info: ObjectInfo,
    platform: Platform,
}

/// Packs the inputs into the layout at `options.output`. On any error nothing is left
/// behind: a new layout is not created, an existing one is not changed.
pub fn pack(options: &PackOptions) -> Result<PackReport> {
    let (candidates, skipped) = if options.platform_objects.is_empty() {
        collect(options)?
    } else {
        (collect_platforms(options)?, Vec::new())
    };
    // Kernel BTF is minimised before anything is written: its errors leave nothing behind.
    let btf = kernel_btf_for(options, &candidates)?;
    let btf = &btf[..];
    if !options.output.is_dir() {
        if let Some(mut archive) = WriteOptions::for_path(&options.output) {
            archive.mtime = options.mtime;
            // Objects are hashed once, to build the manifests (index.json comes first
            // in the archive), then copied in as they are if their inode, size, mtime
            // and ctime show them unchanged (see `ArchiveBuilder::put_file`): one hash
            // pass, constant memory, no staging folder. The folder lock keeps a
            // concurrent `pack` into the same archive from losing images.
            let _lock = crate::archive::writer::lock_folder(&options.output)?;
            let existing = match options.output.exists() {
                true => Some(crate::archive::open(
                    &options.output,
                    &options.limits,
                    &options.progress,
                )?),
                false => None,
            };
            let mut builder = ArchiveBuilder::new();
            if let Some(source) = &existing {
                crate::copy::add_entries(&mut builder, source.as_ref())?;
            }
            let images = add_images(&mut builder, &candidates, btf, options)?;
            if let Some(source) = &existing {
                crate::copy::add_closures(&mut builder, source.as_ref())?;
            }
            archive.overwrite = true;
            builder.write(&options.output, &archive)?;
            return Ok(PackReport {
                output: options.output.clone(),
                format: options.format,
                images,
                skipped,
            });
        }
    }
    let mut writer =
        LayoutWriter::open_or_create_with(&options.output, &options.limits, &options.progress)?;
    let images = add_images(&mut writer, &candidates, btf, options)?;
    writer.commit()?;
    Ok(PackReport {
        output: options.output.clone(),
        format: options.format,
        images,
        skipped,
    })
}

/// Where `pack` puts blobs and names: a layout being written, or an archive being
/// assembled.
trait ImageSink {
    /// Adds an object file as a blob (hashed while read).
    fn put_object(&mut self, path: &Path) -> store::Result<(Digest, u64)>;
    /// Adds canonical JSON as a blob.
    fn put_json<T: Serialize>(&mut self, media_type: &str, value: &T) -> store::Result<Descriptor>;
    /// Adds bytes made in memory as a blob.
    fn put_blob(&mut self, media_type: &str, bytes: Vec<u8>) -> store::Result<Descriptor>;
    /// Points a name at a manifest.
    fn set_name(&mut self, name: &RefName, descriptor: Descriptor) -> IndexChange;
}

impl ImageSink for LayoutWriter {
    fn put_object(&mut self, path: &Path) -> store::Result<(Digest, u64)> {
        let file = File::open(path).map_err(io_err("opening", path))?;
        let size = file.metadata().map(|m| m.len()).ok();
        self.put_reader(file, None, size, path)
    }
    fn put_json<T: Serialize>(&mut self, media_type: &str, value: &T) -> store::Result<Descriptor> {
        LayoutWriter::put_json(self, media_type, value).map(|(d, _)| d)
    }
    fn put_blob(&mut self, media_type: &str, bytes: Vec<u8>) -> store::Result<Descriptor> {
        self.put_bytes(media_type, &bytes)
    }
    fn set_name(&mut self, name: &RefName, descriptor: Descriptor) -> IndexChange {
        LayoutWriter::set_name(self, name, descriptor)
    }
}

impl ImageSink for ArchiveBuilder<'_> {
    fn put_object(&mut self, path: &Path) -> store::Result<(Digest, u64)> {
        self.put_file(path)
    }
    fn put_json<T: Serialize>(&mut self, media_type: &str, value: &T) -> store::Result<Descriptor> {
        ArchiveBuilder::put_json(self, media_type, value).map(|(d, _)| d)
    }
    fn put_blob(&mut self, media_type: &str, bytes: Vec<u8>) -> store::Result<Descriptor> {
        Ok(self.put_bytes(media_type, bytes))
    }
    fn set_name(&mut self, name: &RefName, descriptor: Descriptor) -> IndexChange {
        ArchiveBuilder::set_name(self, name, descriptor)
    }
}

/// Writes one image per candidate and names it; with `platform_objects`, one manifest
/// per candidate and an image index over them, named once.
fn add_images<S: ImageSink>(
    writer: &mut S,
    candidates: &[Candidate],
    btf: &[Vec<MinimisedBtf>],
    options: &PackOptions,
) -> Result<Vec<PackedImage>> {
    if !options.platform_objects.is_empty() {
        return add_index(writer, candidates, options).map(|image| vec![image]);
    }
    let mut images = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        let (manifest_desc, size) = write_image(writer, c, options)?;
        let kernel_btf = match btf.get(i) {
            Some(kernels) => put_kernel_btf(writer, &manifest_desc, kernels)?,
            None => Vec::new(),
        };
        let digest = manifest_desc.digest.clone();
        let (change, previous) = change_of(writer.set_name(&c.name, manifest_desc));
        images.push(PackedImage {
            name: c.name.to_string(),
            source: Some(c.path.clone()),
            digest,
            size,
            change,
            previous,
            platforms: Vec::new(),
            kernel_btf,
        });
    }
    Ok(images)
}

fn change_of(change: IndexChange) -> (&'static str, Option<Digest>) {
    match change {
        IndexChange::Added => ("added", None),
        IndexChange::Unchanged => ("unchanged", None),
        IndexChange::Moved { from } => ("moved", Some(from)),
    }
}

/// Writes one manifest per candidate (sorted by platform) and an OCI image index listing
/// them with their platforms, and names the index.
fn add_index<S: ImageSink>(
    writer: &mut S,
    candidates: &[Candidate],
    options: &PackOptions,
) -> Result<PackedImage> {
    let mut manifests = Vec::new();
    let mut platforms = Vec::new();
    let mut total = 0;
    for c in candidates {
        let (manifest_desc, size) = write_image(writer, c, options)?;
        platforms.push(PackedPlatform {
            platform: c.platform.to_string(),
            source: c.path.clone(),
            digest: manifest_desc.digest.clone(),
            size,
        });
        total += size;
        manifests.push(manifest_desc);
    }
    let index = ImageIndex {
        manifests,
        ..ImageIndex::empty()
    };
    let index_desc = writer.put_json(OCI_INDEX, &index)?;
    total += index_desc.size;
    let digest = index_desc.digest.clone();
    // One name for every candidate (checked by `collect_platforms`).
    let name = candidates[0].name.clone();
    let (change, previous) = change_of(writer.set_name(&name, index_desc));
    Ok(PackedImage {
        name: name.to_string(),
        source: None,
        digest,
        size: total,
        change,
        previous,
        platforms,
        kernel_btf: Vec::new(),
    })
}

/// The minimised kernel BTF for each candidate (same order), or nothing without
/// `--kernel-btf`.
fn kernel_btf_for(
    options: &PackOptions,
    candidates: &[Candidate],
) -> Result<Vec<Vec<MinimisedBtf>>> {
    let Some(btf) = &options.kernel_btf else {
        return Ok(Vec::new());
    };
    if !options.platform_objects.is_empty() {
        return Err(PackError::KernelBtfWithPlatforms {
            path: options.output.clone(),
        });
    }
    let objects: Vec<&Path> = candidates.iter().map(|c| c.path.as_path()).collect();
    Ok(crate::kernel_btf::minimise_all(btf, &objects)?)
}

/// Stores `kernels` beside the image `manifest` (a `sha256-<hex>.btf` artifact, see
/// [`crate::kernel_btf`]) and names it.
fn put_kernel_btf<S: ImageSink>(
    writer: &mut S,
    manifest: &Descriptor,
    kernels: &[MinimisedBtf],
) -> Result<Vec<PackedBtf>> {
    if kernels.is_empty() {
        return Ok(Vec::new());
    }
    let artifact = crate::kernel_btf::artifact(manifest, kernels)?;
    for (media_type, bytes) in artifact.blobs {
        writer.put_blob(&media_type, bytes)?;
    }
    let descriptor = writer.put_blob(OCI_MANIFEST, artifact.manifest)?;
    writer.set_name(&artifact.name, descriptor);
    Ok(kernels
        .iter()
        .map(|k| PackedBtf {
            release: k.release.clone(),
            size: k.bytes.len() as u64,
            full_size: k.full_size,
            // Checked as BTF when it was made.
            types: crate::kernel_btf::check_btf(&k.bytes).unwrap_or(0),
        })
        .collect())
}

/// Writes one image for a candidate, in the format asked for, and returns its manifest
/// descriptor (with the candidate's platform) and the bytes of manifest, config and
/// layers.
fn write_image<S: ImageSink>(
    writer: &mut S,
    c: &Candidate,
    options: &PackOptions,
) -> Result<(Descriptor, u64)> {
    let (config_desc, layers) = match options.format {
        PackFormat::Bee => write_bee_blobs(writer, c)?,
        PackFormat::Bpfman => write_bpfman_blobs(writer, c, options)?,
    };
    let mut annotations = options.annotations.clone();
    if let Some(created) = &options.created {
        annotations.insert(ANNOTATION_CREATED.to_string(), created.clone());
    }
    let layers_size: u64 = layers.iter().map(|l| l.size).sum();
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        artifact_type: None,
        config: config_desc,
        layers,
        subject: None,
        annotations,
        extra: BTreeMap::new(),
    };
    let mut manifest_desc = writer.put_json(OCI_MANIFEST, &manifest)?;
    let size = manifest_desc.size + manifest.config.size + layers_size;
    manifest_desc.platform = Some(c.platform.clone());
    Ok((manifest_desc, size))
}

/// bee: the object itself as the program layer, our metadata as the config.
fn write_bee_blobs<S: ImageSink>(
    writer: &mut S,
    c: &Candidate,
) -> Result<(Descriptor, Vec<Descriptor>)> {
    let (program_digest, program_size) = writer.put_object(&c.path)?;
    if program_size != c.size {
        return Err(PackError::ChangedWhilePacking {
            path: c.path.clone(),
            was: c.size,
            read: program_size,
        });
    }
    let program = Descriptor::new(EBPF_PROGRAM, program_digest, program_size)
        .with_annotation(ANNOTATION_TITLE, EBPF_PROGRAM_TITLE);
    let config = EbpfConfig {
        metadata: Some(ObjectMetadata::from_object(&c.info)),
    };
    let config_desc = writer.put_json(EBPF_CONFIG, &config)?;
    let config_desc = config_desc.with_annotation(ANNOTATION_TITLE, EBPF_CONFIG_TITLE);
    Ok((config_desc, vec![program]))
}

/// bpfman: an image config with the labels, the object in a tar+gzip layer under its
/// file name (see [`bpfman::build`]).
fn write_bpfman_blobs<S: ImageSink>(
    writer: &mut S,
    c: &Candidate,
    options: &PackOptions,
) -> Result<(Descriptor, Vec<Descriptor>)> {
    let mut object = Vec::with_capacity(c.size as usize);
    File::open(&c.path)
        .map_err(io_err("opening", &c.path))?
        .take(MAX_OBJECT_SIZE + 1)
        .read_to_end(&mut object)
        .map_err(io_err("reading", &c.path))?;
    if object.len() as u64 != c.size {
        return Err(PackError::ChangedWhilePacking {
            path: c.path.clone(),
            was: c.size,
            read: object.len() as u64,
        });
    }
    let file_name = c
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "program.o".into());
    let image = bpfman::build(
        &c.path,
        &file_name,
        &object,
        &c.info,
        &c.platform,
        options.created.as_deref(),
    )?;
    let config_desc = writer.put_blob(OCI_CONFIG, image.config)?;
    let layer_desc = writer.put_blob(bpfman::LAYER_TAR_GZIP, image.layer)?;
    Ok((config_desc, vec![layer_desc]))
}

/// Finds and checks every input object; returns them sorted by name.
fn collect(options: &PackOptions) -> Result<(Vec<Candidate>, Vec<SkippedFile>)> {
    if options.inputs.is_empty() {
        return Err(PackError::NoInput);
    }
    let platform_order = if options.platform.is_big_endian() {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    let mut skipped = Vec::new();
    for input in &options.inputs {
        let meta = fs::metadata(input).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PackError::NoSuchInput {
                path: input.clone(),
            },
            _ => io_err("reading", input)(e).into(),
        })?;
        if meta.is_dir() {
            let before = files.len();
            let mut walked = Vec::new();
            walk(input, &mut walked)?;
            let mut dir_skipped = 0;
            for path in walked {
                // Objects for the other byte order (bpf2go's *_bpfeb.o next to *_bpfel.o)
                // are skipped like other files; named explicitly they are an error.
                let verdict = classify_file(&path)?
                    .map_err(|e| e.to_string())
                    .and_then(|order| {
                        if order == platform_order {
                            Ok(order)
                        } else {
                            Err(format!(
                                "{order}-endian BPF object, platform {} is {platform_order}-endian",
                                options.platform
                            ))
                        }
                    });
                match verdict {
                    Ok(_) => files.push((path, false)),
                    Err(reason) => {
                        dir_skipped += 1;
                        skipped.push(SkippedFile { path, reason });
                    }
                }
            }
            if files.len() == before {
                return Err(if dir_skipped == 0 {
                    PackError::EmptyDirectory {
                        path: input.clone(),
                    }
                } else {
                    PackError::NoObjectsInDirectory {
                        path: input.clone(),
                        skipped: dir_skipped,
                    }
                });
            }
        } else {
            if let Err(reason) = classify_file(input)? {
                return Err(PackError::NotBpfObject {
                    path: input.clone(),
                    reason,
                });
            }
            files.push((input.clone(), true));
        }
    }
    if options.tag.is_some() && files.len() != 1 {
        return Err(PackError::TagNeedsOneObject {
            path: options.inputs[0].clone(),
            count: files.len(),
        });
    }
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut seen_paths = BTreeSet::new();
    for (path, _explicit) in files {
        if !seen_paths.insert(fs::canonicalize(&path).unwrap_or_else(|_| path.clone())) {
            continue;
        }
        let file = File::open(&path).map_err(io_err("opening", &path))?;
        let size = file.metadata().map_err(io_err("reading", &path))?.len();
        let info = elf::inspect_file(&file).map_err(|source| PackError::Elf {
            path: path.clone(),
            source,
        })?;
        if info.byte_order != platform_order {
            return Err(PackError::WrongByteOrder {
                path: path.clone(),
                object: info.byte_order,
                platform: Box::new(options.platform.clone()),
                expected: platform_order,
            });
        }
        let name = match &options.tag {
            Some(tag) => tag.clone(),
            None => default_name(&path)?,
        };
        if let Some(other) = candidates.iter().find(|c| c.name == name) {
            return Err(PackError::NameClash {
                path: path.clone(),
                name,
                other: other.path.clone(),
            });
        }
        candidates.push(Candidate {
            path,
            name,
            size,
            info,
            platform: options.platform.clone(),
        });
    }
    candidates.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((candidates, skipped))
}

/// Checks the objects of a multi-platform pack: one per platform, each a BPF object of
/// its platform's byte order, all under one name (`--tag`, or the objects' common default
/// name). Returns them sorted by platform.
fn collect_platforms(options: &PackOptions) -> Result<Vec<Candidate>> {
    if let Some(input) = options.inputs.first() {
        return Err(PackError::InputsAndPlatforms {
            path: input.clone(),
        });
    }
    let mut seen = BTreeSet::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    for (platform, path) in &options.platform_objects {
        let platform = platform.normalized();
        if !seen.insert(platform.to_string()) {
            return Err(PackError::PlatformGivenTwice {
                path: path.clone(),
                platform: Box::new(platform),
            });
        }
        let meta = fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PackError::NoSuchObject { path: path.clone() },
            _ => io_err("reading", path)(e).into(),
        })?;
        if !meta.is_file() {
            return Err(PackError::NotAFile {
                path: path.clone(),
                platform: Box::new(platform),
            });
        }
        if let Err(reason) = classify_file(path)? {
            return Err(PackError::NotBpfObject {
                path: path.clone(),
                reason,
            });
        }
        let file = File::open(path).map_err(io_err("opening", path))?;
        let size = file.metadata().map_err(io_err("reading", path))?.len();
        let info = elf::inspect_file(&file).map_err(|source| PackError::Elf {
            path: path.clone(),
            source,
        })?;
        let want = if platform.is_big_endian() {
            ByteOrder::Big
        } else {
            ByteOrder::Little
        };
        if info.byte_order != want {
            return Err(PackError::PlatformByteOrder {
                path: path.clone(),
                object: info.byte_order,
                platform: Box::new(platform),
                expected: want,
            });
        }
        let name = match &options.tag {
            Some(tag) => tag.clone(),
            None => default_name(path)?,
        };
        if let Some(other) = candidates.iter().find(|c| c.name != name) {
            return Err(PackError::PlatformNames {
                path: path.clone(),
                name,
                other: other.path.clone(),
                other_name: other.name.clone(),
            });
        }
        candidates.push(Candidate {
            path: path.clone(),
            name,
            size,
            info,
            platform,
        });
    }
    candidates.sort_by_key(|c| c.platform.to_string());
    Ok(candidates)
}

/// `execsnoop.bpf.o` → `execsnoop`, `probe.o` → `probe`, validated as a ref name.
fn default_name(path: &Path) -> Result<RefName> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = file_name
        .strip_suffix(".bpf.o")
        .or_else(|| file_name.strip_suffix(".o"))
        .unwrap_or(&file_name);
    RefName::parse(stem).map_err(|error| PackError::UnnamableFile {
        path: path.to_path_buf(),
        error,
    })
}

/// Reads the first bytes of a file and says whether it is a BPF object (`Ok(Ok)`), or
/// what it is instead (`Ok(Err(reason))`).
fn classify_file(path: &Path) -> Result<std::result::Result<ByteOrder, ElfError>> {
    let file = File::open(path).map_err(io_err("opening", path))?;
    let mut header = Vec::with_capacity(64);
    file.take(64)
        .read_to_end(&mut header)
        .map_err(io_err("reading", path))?;
    Ok(elf::classify(&header))
}

/// Collects regular files below `dir`, depth first, siblings sorted by file name.
/// Symlinks to directories are not followed (no loops); symlinks to files are taken like
/// files; a symlink given as `dir` itself is followed. An unreadable entry stops the walk
/// with an error naming its path.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            let source = e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("file system loop"));
            io_err("reading", path)(source)
        })?;
        let file_type = entry.file_type();
        if file_type.is_file() || (file_type.is_symlink() && entry.path().is_file()) {
            out.push(entry.into_path());
        }
    }
    Ok(())
}

/// Turns `SOURCE_DATE_EPOCH` (seconds since 1970) into an RFC 3339 UTC timestamp.
pub fn created_from_epoch(epoch: &str) -> std::result::Result<String, std::num::ParseIntError> {
    let secs: i64 = epoch.trim().parse()?;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    Ok(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_date_epoch_becomes_rfc3339_utc() {
        assert_eq!(created_from_epoch("0").unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(
            created_from_epoch("1700000000").unwrap(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            created_from_epoch("951782400").unwrap(),
            "2000-02-29T00:00:00Z"
        );
        assert!(created_from_epoch("yesterday").is_err());
    }

    #[test]
    fn default_names_drop_the_object_suffix() {
        assert_eq!(
            default_name(Path::new("a/execsnoop.bpf.o"))
                .unwrap()
                .as_str(),
            "execsnoop"
        );
        assert_eq!(
            default_name(Path::new("probe.o")).unwrap().as_str(),
            "probe"
        );
        assert!(default_name(Path::new("my probe.o")).is_err());
    }
}
