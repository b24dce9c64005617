//! `pack`: BPF object files and directories of them → one eBPF image each, in a layout
//! or an archive.
//!
//! Everything that can be checked is checked before the layout is touched (inputs exist,
//! are BPF objects of the right byte order, names are valid and unique), so bad input
//! never leaves a partial layout behind.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::archive::{ArchiveBuilder, Limits, WriteOptions};
use crate::elf::{self, ByteOrder, ObjectInfo};
use crate::error::{io_err, Error, Result};
use crate::image::config::{EbpfConfig, ObjectMetadata};
use crate::layout::{IndexChange, LayoutWriter};
use crate::oci::media_type::{
    ANNOTATION_CREATED, ANNOTATION_TITLE, EBPF_CONFIG, EBPF_CONFIG_TITLE, EBPF_PROGRAM,
    EBPF_PROGRAM_TITLE, OCI_MANIFEST,
};
use crate::oci::{Descriptor, Digest, ImageManifest, Platform, RefName};

/// What to pack and how.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// Object files and/or directories (walked recursively, in sorted order).
    pub inputs: Vec<PathBuf>,
    /// The layout directory to create or add to, or an archive (`.tar`, `.tar.gz`, `.tgz`)
    /// to create or add to (an existing archive is rewritten atomically with its images
    /// kept).
    pub output: PathBuf,
    /// The name for a single input (default: the file name without `.bpf.o`/`.o`).
    pub tag: Option<RefName>,
    /// The platform recorded on the index entry.
    pub platform: Platform,
    /// Manifest annotations.
    pub annotations: BTreeMap<String, String>,
    /// `org.opencontainers.image.created`, when reproducible time is asked for
    /// (`SOURCE_DATE_EPOCH`).
    pub created: Option<String>,
}

/// One image written (or found already there).
#[derive(Debug, Clone, Serialize)]
pub struct PackedImage {
    /// The name given to it.
    pub name: String,
    /// The object it was made from.
    pub source: PathBuf,
    /// The manifest digest.
    pub digest: Digest,
    /// Bytes of manifest, config and program.
    pub size: u64,
    /// `added`, `unchanged`, or `moved` (with `previous`).
    pub change: &'static str,
    /// The digest the name pointed at before, when it moved.
    pub previous: Option<Digest>,
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
}

/// Packs the inputs into the layout at `options.output`. On any error nothing is left
/// behind: a new layout is not created, an existing one is not changed.
pub fn pack(options: &PackOptions) -> Result<PackReport> {
    let (candidates, skipped) = collect(options)?;
    if !options.output.is_dir() {
        if let Some(mut archive) = WriteOptions::for_path(&options.output) {
            // Objects are hashed once to build the manifests, and again as they are
            // copied into the archive: constant memory, no staging folder. The folder
            // lock keeps a concurrent `pack` into the same archive from losing images.
            let _lock = crate::archive::writer::lock_folder(&options.output)?;
            let existing = match options.output.exists() {
                true => Some(crate::archive::open(&options.output, &Limits::current())?),
                false => None,
            };
            let mut builder = ArchiveBuilder::new();
            if let Some(source) = &existing {
                crate::copy::add_entries(&mut builder, source.as_ref())?;
            }
            let images = add_images(&mut builder, &candidates, options)?;
            if let Some(source) = &existing {
                crate::copy::add_closures(&mut builder, source.as_ref())?;
            }
            archive.overwrite = true;
            builder.write(&options.output, &archive)?;
            return Ok(PackReport {
                output: options.output.clone(),
                images,
                skipped,
            });
        }
    }
    let mut writer = LayoutWriter::open_or_create(&options.output)?;
    let images = add_images(&mut writer, &candidates, options)?;
    writer.commit()?;
    Ok(PackReport {
        output: options.output.clone(),
        images,
        skipped,
    })
}

/// Where `pack` puts blobs and names: a layout being written, or an archive being
/// assembled.
trait ImageSink {
    /// Adds an object file as a blob (hashed while read).
    fn put_object(&mut self, path: &Path) -> Result<(Digest, u64)>;
    /// Adds canonical JSON as a blob.
    fn put_json<T: Serialize>(&mut self, media_type: &str, value: &T) -> Result<Descriptor>;
    /// Points a name at a manifest.
    fn set_name(&mut self, name: &RefName, descriptor: Descriptor) -> IndexChange;
}

impl ImageSink for LayoutWriter {
    fn put_object(&mut self, path: &Path) -> Result<(Digest, u64)> {
        let file = File::open(path).map_err(io_err("opening", path))?;
        self.put_reader(file, None, path)
    }
    fn put_json<T: Serialize>(&mut self, media_type: &str, value: &T) -> Result<Descriptor> {
        LayoutWriter::put_json(self, media_type, value).map(|(d, _)| d)
    }
    fn set_name(&mut self, name: &RefName, descriptor: Descriptor) -> IndexChange {
        LayoutWriter::set_name(self, name, descriptor)
    }
}

impl ImageSink for ArchiveBuilder<'_> {
    fn put_object(&mut self, path: &Path) -> Result<(Digest, u64)> {
        self.put_file(path)
    }
    fn put_json<T: Serialize>(&mut self, media_type: &str, value: &T) -> Result<Descriptor> {
        ArchiveBuilder::put_json(self, media_type, value).map(|(d, _)| d)
    }
    fn set_name(&mut self, name: &RefName, descriptor: Descriptor) -> IndexChange {
        ArchiveBuilder::set_name(self, name, descriptor)
    }
}

/// Writes one image per candidate and names it.
fn add_images<S: ImageSink>(
    writer: &mut S,
    candidates: &[Candidate],
    options: &PackOptions,
) -> Result<Vec<PackedImage>> {
    let mut images = Vec::new();
    for c in candidates {
        let (manifest_desc, size) = write_image(writer, c, options)?;
        let digest = manifest_desc.digest.clone();
        let change = writer.set_name(&c.name, manifest_desc);
        let (change, previous) = match change {
            IndexChange::Added => ("added", None),
            IndexChange::Unchanged => ("unchanged", None),
            IndexChange::Moved { from } => ("moved", Some(from)),
        };
        images.push(PackedImage {
            name: c.name.to_string(),
            source: c.path.clone(),
            digest,
            size,
            change,
            previous,
        });
    }
    Ok(images)
}

fn write_image<S: ImageSink>(
    writer: &mut S,
    c: &Candidate,
    options: &PackOptions,
) -> Result<(Descriptor, u64)> {
    let (program_digest, program_size) = writer.put_object(&c.path)?;
    if program_size != c.size {
        return Err(Error::Input {
            path: c.path.clone(),
            reason: format!(
                "changed while being packed (was {} bytes, read {program_size})",
                c.size
            ),
        });
    }
    let program = Descriptor::new(EBPF_PROGRAM, program_digest, program_size)
        .with_annotation(ANNOTATION_TITLE, EBPF_PROGRAM_TITLE);
    let config = EbpfConfig {
        metadata: Some(ObjectMetadata::from_object(&c.info)),
    };
    let config_desc = writer.put_json(EBPF_CONFIG, &config)?;
    let config_desc = config_desc.with_annotation(ANNOTATION_TITLE, EBPF_CONFIG_TITLE);
    let mut annotations = options.annotations.clone();
    if let Some(created) = &options.created {
        annotations.insert(ANNOTATION_CREATED.to_string(), created.clone());
    }
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        artifact_type: None,
        config: config_desc,
        layers: vec![program],
        subject: None,
        annotations,
        extra: BTreeMap::new(),
    };
    let mut manifest_desc = writer.put_json(OCI_MANIFEST, &manifest)?;
    let size = manifest_desc.size + manifest.config.size + program_size;
    manifest_desc.platform = Some(options.platform.clone());
    Ok((manifest_desc, size))
}

/// Finds and checks every input object; returns them sorted by name.
fn collect(options: &PackOptions) -> Result<(Vec<Candidate>, Vec<SkippedFile>)> {
    if options.inputs.is_empty() {
        return Err(Error::Input {
            path: PathBuf::from("."),
            reason: "no input given: name BPF object files or directories of them".into(),
        });
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
            std::io::ErrorKind::NotFound => Error::Input {
                path: input.clone(),
                reason: "no such file or directory".into(),
            },
            _ => io_err("reading", input)(e),
        })?;
        if meta.is_dir() {
            let before = files.len();
            let mut walked = Vec::new();
            walk(input, &mut walked)?;
            let mut dir_skipped = 0;
            for path in walked {
                // Objects for the other byte order (bpf2go's *_bpfeb.o next to *_bpfel.o)
                // are skipped like other files; named explicitly they are an error.
                let verdict = classify_file(&path)?.and_then(|order| {
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
                return Err(Error::Input {
                    path: input.clone(),
                    reason: if dir_skipped == 0 {
                        "directory is empty: no BPF objects to pack".into()
                    } else {
                        format!("no BPF objects found ({dir_skipped} other files skipped)")
                    },
                });
            }
        } else {
            if let Err(reason) = classify_file(input)? {
                return Err(Error::Input {
                    path: input.clone(),
                    reason: format!("not a BPF object: {reason}"),
                });
            }
            files.push((input.clone(), true));
        }
    }
    if options.tag.is_some() && files.len() != 1 {
        return Err(Error::Input {
            path: options.inputs[0].clone(),
            reason: format!(
                "--tag names a single image, but the inputs hold {} BPF objects",
                files.len()
            ),
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
        let info = elf::inspect_file(&file).map_err(|source| Error::Elf {
            path: path.clone(),
            source,
        })?;
        if info.byte_order != platform_order {
            return Err(Error::Input {
                path: path.clone(),
                reason: format!(
                    "{}-endian BPF object, but platform {} is {platform_order}-endian; pass --platform for its architecture",
                    info.byte_order, options.platform
                ),
            });
        }
        let name = match &options.tag {
            Some(tag) => tag.clone(),
            None => default_name(&path)?,
        };
        if let Some(other) = candidates.iter().find(|c| c.name == name) {
            return Err(Error::Input {
                path: path.clone(),
                reason: format!(
                    "name {name} is also the name of {}; pack them in separate calls with --tag",
                    other.path.display()
                ),
            });
        }
        candidates.push(Candidate {
            path,
            name,
            size,
            info,
        });
    }
    candidates.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((candidates, skipped))
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
    RefName::parse(stem).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        reason: format!("cannot be named after its file: {e}; give a name with --tag"),
    })
}

/// Reads the first bytes of a file and says whether it is a BPF object (`Ok(Ok)`), or
/// what it is instead (`Ok(Err(reason))`).
fn classify_file(path: &Path) -> Result<std::result::Result<ByteOrder, String>> {
    let file = File::open(path).map_err(io_err("opening", path))?;
    let mut header = Vec::with_capacity(64);
    file.take(64)
        .read_to_end(&mut header)
        .map_err(io_err("reading", path))?;
    Ok(elf::classify(&header).map_err(|e| e.to_string()))
}

/// Collects regular files below `dir` in sorted order. Symlinks to directories are not
/// followed (no loops); symlinks to files are taken like files.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(io_err("reading", dir))?
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(io_err("reading", dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let file_type = entry.file_type().map_err(io_err("reading", &path))?;
        if file_type.is_dir() {
            walk(&path, out)?;
        } else if file_type.is_file() || (file_type.is_symlink() && path.is_file()) {
            out.push(path);
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
