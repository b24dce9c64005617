//! What `list` and `inspect` report, as data (the CLI renders it).

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::elf::{self, ElfError, ObjectInfo};
use crate::image::ResolveError;
use crate::kernel_btf::KernelBtfError;
use crate::oci::companion::Companions;
use crate::oci::{Descriptor, Digest, Platform, Selector};
use crate::store::{ImageSource, StoreError};

use crate::graph::is_index;
use crate::image::format::Format;
use crate::image::resolve::{open_image, open_image_at, select_one, Image};

/// One line of `list`.
#[derive(Debug, Clone, Serialize)]
pub struct ImageSummary {
    /// The ref name, or `None` for an untagged entry.
    pub name: Option<String>,
    /// The digest of the manifest (or index) the entry points at.
    pub digest: Digest,
    /// Media type of what the entry points at.
    pub media_type: String,
    /// Bytes of the image: manifest, config and layers (for an index, all of its images).
    pub size: u64,
    /// Platforms (`linux/amd64`): one for an image, one per image for an index.
    pub platforms: Vec<String>,
    /// `bee`, `gadget`, `bpfman`, `generic`, `other`, `signature` for a signature
    /// image (`sha256-<hex>.sig`), or `kernel-btf` for bundled kernel BTF
    /// (`sha256-<hex>.btf`). For a multi-platform index, the format its images
    /// share (`media_type` says it is an index), or `index` when they differ.
    pub format: String,
    /// Signatures stored for it in the layout (its `sha256-<hex>.sig` image), by any key
    /// and unchecked: `verify --key` checks them.
    pub signatures: usize,
    /// Whether the trust rule accepts it under its name (`list --key`/`--policy`; the
    /// caller fills it in with [`crate::trust::evaluate`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<crate::trust::Decision>,
}

/// Lists every entry of index.json, in order. Untagged entries are listed with no name.
///
/// Linear in the number of entries: signatures are counted once for the whole index, and
/// an image reached by many names is read once (what it reports does not depend on the
/// name).
pub fn list(source: &dyn ImageSource) -> Result<Vec<ImageSummary>> {
    let index = source.index()?;
    let signatures = crate::sign::signature_counts(source, &index);
    let mut read: HashMap<EntryKey, ImageSummary> = HashMap::new();
    index
        .manifests
        .iter()
        .map(|entry| {
            let key = EntryKey::of(entry);
            let mut summary = match read.get(&key) {
                Some(known) => known.clone(),
                None => {
                    let summary = summarise(source, entry)?;
                    read.insert(key, summary.clone());
                    summary
                }
            };
            summary.name = entry.ref_name().map(str::to_string);
            summary.signatures = signatures.get(&entry.digest).copied().unwrap_or(0);
            if crate::sign::is_signature_entry(entry) && summary.format == "other" {
                summary.format = "signature".into();
            }
            if summary.format == "other"
                && entry
                    .ref_name()
                    .and_then(crate::oci::companion::companion_subject)
                    .is_some_and(|(_, suffix)| suffix == crate::oci::companion::BTF_SUFFIX)
            {
                summary.format = "kernel-btf".into();
            }
            Ok(summary)
        })
        .collect()
}

/// What [`summarise`] reads of an index.json entry besides its name: entries equal in
/// these summarise the same.
#[derive(PartialEq, Eq, Hash)]
struct EntryKey {
    digest: Digest,
    media_type: String,
    size: u64,
    platform: Option<String>,
}

impl EntryKey {
    fn of(entry: &Descriptor) -> Self {
        Self {
            digest: entry.digest.clone(),
            media_type: entry.media_type.clone(),
            size: entry.size,
            platform: entry.platform.as_ref().map(|p| p.normalized().to_string()),
        }
    }
}

fn summarise(source: &dyn ImageSource, entry: &Descriptor) -> Result<ImageSummary> {
    let name = entry.ref_name().map(str::to_string);
    if is_index(entry) {
        let bytes = source.read_blob(entry, source.limits().max_manifest_size)?;
        let nested =
            crate::oci::ImageIndex::from_slice(&bytes).map_err(|e| StoreError::Schema {
                path: source.location().to_path_buf(),
                what: format!("index {}", entry.digest),
                source: e,
            })?;
        let mut size = entry.size;
        let mut platforms = Vec::new();
        let mut formats = std::collections::BTreeSet::new();
        for child in &nested.manifests {
            if let Some(p) = &child.platform {
                platforms.push(p.normalized().to_string());
                let image = open_image_at(source, child, Some(&p.normalized()), 1)?;
                size += image_size(&image);
                formats.insert(image.format.to_string());
            }
        }
        let format = match formats.len() {
            1 => formats.pop_first().unwrap_or_default(),
            _ => "index".to_string(),
        };
        return Ok(ImageSummary {
            name,
            digest: entry.digest.clone(),
            media_type: entry.media_type.clone(),
            size,
            platforms,
            format,
            signatures: 0,
            trust: None,
        });
    }
    let image = open_image(source, entry, None)?;
    Ok(ImageSummary {
        name,
        digest: entry.digest.clone(),
        media_type: entry.media_type.clone(),
        size: image_size(&image),
        platforms: image
            .platform
            .iter()
            .map(|p: &Platform| p.to_string())
            .collect(),
        format: image.format.to_string(),
        signatures: 0,
        trust: None,
    })
}

fn image_size(image: &Image) -> u64 {
    image.descriptor.size
        + image.manifest.config.size
        + image.manifest.layers.iter().map(|l| l.size).sum::<u64>()
}

/// Everything `inspect` shows about one image.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDetails {
    /// The ref name, if the image was reached through one.
    pub name: Option<String>,
    /// The manifest digest.
    pub digest: Digest,
    /// The image format.
    pub format: Format,
    /// The platform the image declares.
    pub platform: Option<String>,
    /// The manifest, as stored.
    pub manifest: serde_json::Value,
    /// The config descriptor.
    pub config_descriptor: Descriptor,
    /// The config JSON (`null` when it is not JSON).
    pub config: serde_json::Value,
    /// The program layer's descriptor.
    pub program: Descriptor,
    /// What the program object holds, read from the object itself.
    pub object: ObjectInfo,
    /// Signatures stored for the image in the layout (`sha256-<hex>.sig`), unchecked;
    /// for an image picked from a multi-platform index, those of the index too.
    pub signatures: usize,
    /// The digest of the index.json entry the image was reached from (an index for a
    /// multi-platform name): what a signature must cover ([`crate::trust`]).
    #[serde(skip)]
    pub entry_digest: Digest,
    /// Whether the trust rule accepts it (`inspect --key`/`--policy`; the caller fills it
    /// in with [`crate::trust::evaluate`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<crate::trust::Decision>,
    /// Kernel BTF bundled beside the image (`sha256-<hex>.btf`), by release; listed from
    /// the artifact's manifest (verified), the BTF blobs themselves are checked by `verify`.
    pub kernel_btf: Vec<crate::kernel_btf::BundledBtf>,
    /// The multi-platform index the reference named, when it named one: the image shown
    /// is its child for the chosen platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexDetails>,
}

/// A multi-platform index that `inspect` resolved to one of its images.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexDetails {
    /// The index's digest.
    pub digest: Digest,
    /// The platforms it lists (OCI names), in order.
    pub platforms: Vec<String>,
}

/// Inspects one image: the manifest, the config, and the program object itself (all
/// verified against their digests).
pub fn inspect(
    source: &dyn ImageSource,
    selector: &Selector,
    platform: Option<&Platform>,
) -> Result<ImageDetails> {
    let entry = select_one(source, selector)?;
    let top = source.index()?;
    let mut signatures = 0;
    let index = if is_index(&entry) {
        let bytes = source.read_blob(&entry, source.limits().max_manifest_size)?;
        let nested =
            crate::oci::ImageIndex::from_slice(&bytes).map_err(|e| StoreError::Schema {
                path: source.location().to_path_buf(),
                what: format!("index {}", entry.digest),
                source: e,
            })?;
        signatures += crate::sign::count_signatures(source, &top, &entry.digest);
        Some(IndexDetails {
            digest: entry.digest.clone(),
            platforms: nested
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref().map(|p| p.normalized().to_string()))
                .collect(),
        })
    } else {
        None
    };
    let image = open_image(source, &entry, platform)?;
    signatures += crate::sign::count_signatures(source, &top, &image.descriptor.digest);
    let kernel_btf =
        crate::kernel_btf::bundled(source, &Companions::of(&top), &image.descriptor.digest)?
            .into_iter()
            .map(|(_, b)| b)
            .collect();
    let location = source.location().to_path_buf();
    let program = image.program_layer(&location)?.clone();
    let config_bytes =
        source.read_blob(&image.manifest.config, source.limits().max_manifest_size)?;
    let object_bytes = image.read_program(source)?;
    let object = elf::inspect(&object_bytes).map_err(|source| SummaryError::Elf {
        path: location.join(program.digest.blob_path()),
        source,
    })?;
    // The manifest was parsed from these bytes already; they are valid JSON.
    let manifest = serde_json::from_slice(&image.manifest_bytes).unwrap_or(serde_json::Value::Null);
    let config = serde_json::from_slice(&config_bytes).unwrap_or(serde_json::Value::Null);
    Ok(ImageDetails {
        name: image.name.clone(),
        digest: image.descriptor.digest.clone(),
        format: image.format,
        platform: image.platform.as_ref().map(|p| p.to_string()),
        manifest,
        config_descriptor: image.manifest.config.clone(),
        config,
        program,
        object,
        signatures,
        entry_digest: image.entry_digest.clone(),
        trust: None,
        kernel_btf,
        index,
    })
}

/// Why `list` or `inspect` could not say what a layout or archive holds.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SummaryError {
    /// Reading the layout or archive failed (I/O, a damaged or missing blob, a document
    /// that does not parse).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The reference does not lead to one readable eBPF image.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The image's bundled kernel BTF is not what its name says.
    #[error(transparent)]
    KernelBtf(#[from] KernelBtfError),
    /// The program object (verified against its digest) is not a usable BPF object.
    #[error("{}: {source}", path.display())]
    Elf {
        /// The blob (`LAYOUT/blobs/sha256/…`).
        path: PathBuf,
        /// What it is instead.
        source: ElfError,
    },
}

impl SummaryError {
    /// Whether this is an integrity failure: a storage failure it wraps is one
    /// ([`StoreError::is_integrity_failure`]).
    pub fn is_integrity_failure(&self) -> bool {
        self.store_error()
            .is_some_and(StoreError::is_integrity_failure)
    }

    /// The storage failure this wraps, directly or through what it wraps, if any.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(e) => Some(e),
            Self::Resolve(e) => e.store_error(),
            Self::KernelBtf(e) => e.store_error(),
            Self::Elf { .. } => None,
        }
    }

    /// The resolution failure this wraps, if any.
    pub fn resolve_error(&self) -> Option<&ResolveError> {
        match self {
            Self::Resolve(e) => Some(e),
            _ => None,
        }
    }
}

/// The result type of `list` and `inspect`.
pub type Result<T, E = SummaryError> = std::result::Result<T, E>;
