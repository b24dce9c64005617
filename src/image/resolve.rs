//! Resolving a reference (`PATH`, `PATH:NAME`, `PATH@DIGEST`) to an image whose
//! manifest, and on request program object, have been read and verified.

use std::collections::BTreeSet;

use crate::graph::{is_index, Role, Scope, Walker, MAX_DEPTH};
use crate::oci::companion::{companion_subject, is_companion_entry};
use crate::oci::{Descriptor, Digest, ImageIndex, ImageManifest, Platform, Selector};
use crate::store::{document_reader, graph_error, ImageSource, StoreError};

use super::error::{ResolveError, Result};
use super::format::{recognise, Format};

/// Largest program object we read into memory (1 GiB): BTF-heavy objects reach
/// hundreds of MiB, and libbpf needs the whole object in memory anyway.
pub const MAX_OBJECT_SIZE: u64 = 1 << 30;

/// One image: its manifest, verified against the descriptor that points at it.
#[derive(Debug, Clone)]
pub struct Image {
    /// The ref name of the index.json entry it was reached from, if any.
    pub name: Option<String>,
    /// The digest of the entry it was reached from: the index.json entry a name points at
    /// (an index for a multi-platform name), or the descriptor a digest selected. This is
    /// what a signature must cover for the image to be trusted ([`crate::trust`]).
    pub entry_digest: Digest,
    /// The manifest's descriptor (from index.json, or from a nested index).
    pub descriptor: Descriptor,
    /// The parsed manifest.
    pub manifest: ImageManifest,
    /// The manifest exactly as stored.
    pub manifest_bytes: Vec<u8>,
    /// Its format.
    pub format: Format,
    /// The index in `manifest.layers` of the layer holding the program, or why no layer
    /// does (see [`super::format::recognise`]).
    pub program_layer_index: std::result::Result<usize, String>,
    /// Its platform (normalised to OCI names), from its descriptor.
    pub platform: Option<Platform>,
}

impl Image {
    /// The program layer's descriptor, or [`ResolveError::NotEbpfImage`].
    pub fn program_layer(&self, location: &std::path::Path) -> Result<&Descriptor> {
        let not_ebpf = |reason| ResolveError::NotEbpfImage {
            path: location.to_path_buf(),
            digest: self.descriptor.digest.clone(),
            reason,
        };
        let index = self.program_layer_index.clone().map_err(not_ebpf)?;
        self.manifest
            .layers
            .get(index)
            .ok_or_else(|| not_ebpf(format!("layer {index} does not exist")))
    }

    /// Reads the program object, verified: the layer holding it is hashed and must match
    /// its descriptor. For bpfman images the object is the file inside that tar+gzip
    /// layer (see [`super::bpfman::read_object`]).
    pub fn read_program(&self, source: &dyn ImageSource) -> Result<Vec<u8>> {
        let layer = self.program_layer(source.location())?;
        match self.format {
            Format::Bpfman => Ok(super::bpfman::read_object(source, layer)?),
            _ => Ok(source.read_blob(layer, MAX_OBJECT_SIZE)?),
        }
    }
}

/// The index.json entries a selector picks. Entries with the same digest count once;
/// a name given to different manifests is [`ResolveError::AmbiguousName`].
pub fn select(
    source: &dyn ImageSource,
    index: &ImageIndex,
    selector: &Selector,
) -> Result<Vec<Descriptor>> {
    let location = source.location().to_path_buf();
    let names = || available_names(index);
    let picked: Vec<&Descriptor> = match selector {
        Selector::All => index.manifests.iter().collect(),
        Selector::Name(name) => {
            let found: Vec<&Descriptor> = index
                .manifests
                .iter()
                .filter(|d| d.ref_name() == Some(name.as_str()))
                .collect();
            let digests: BTreeSet<&Digest> = found.iter().map(|d| &d.digest).collect();
            if digests.len() > 1 {
                return Err(ResolveError::AmbiguousName {
                    path: location,
                    name: name.clone(),
                    digests: found.iter().map(|d| d.digest.clone()).collect(),
                });
            }
            found
        }
        Selector::Digest(digest) => {
            let found: Vec<&Descriptor> = index
                .manifests
                .iter()
                .filter(|d| &d.digest == digest)
                .collect();
            if found.is_empty() {
                // A manifest inside a nested (per-platform) index.
                let nested = find_nested(source, index, digest)?;
                if let Some(d) = nested {
                    return Ok(vec![d]);
                }
            }
            found
        }
    };
    let mut seen = BTreeSet::new();
    let unique: Vec<Descriptor> = picked
        .into_iter()
        .filter(|d| seen.insert(d.digest.clone()))
        .cloned()
        .collect();
    if unique.is_empty() {
        return Err(match selector {
            Selector::All => ResolveError::Empty { path: location },
            Selector::Name(n) => ResolveError::ImageNotFound {
                path: location,
                wanted: format!("named {n:?}"),
                available: names(),
            },
            Selector::Digest(d) => ResolveError::ImageNotFound {
                path: location,
                wanted: format!("with digest {d}"),
                available: names(),
            },
        });
    }
    Ok(unique)
}

/// The descriptor of `digest` inside a nested (per-platform) index of `index`: only
/// indexes are read, as deep as the graph allows.
fn find_nested(
    source: &dyn ImageSource,
    index: &ImageIndex,
    digest: &Digest,
) -> Result<Option<Descriptor>> {
    let mut read = document_reader(source, source.limits().max_manifest_size);
    let mut walker = Walker::new(&mut read).scope(Scope::Indexes);
    walker.entries(index);
    let closure = walker.finish();
    let found = closure
        .edges
        .iter()
        .find(|e| e.role == Role::Child && &e.descriptor.digest == digest);
    if let Some(edge) = found.filter(|e| e.depth > MAX_DEPTH) {
        return Err(StoreError::TooDeep {
            path: source.location().to_path_buf(),
            digest: edge.descriptor.digest.clone(),
            limit: MAX_DEPTH,
        }
        .into());
    }
    let found = found.map(|e| e.descriptor.clone());
    if found.is_none() {
        if let Some((edge, failure)) = closure.failures.into_iter().next() {
            return Err(graph_error(source.location(), &edge, failure).into());
        }
    }
    Ok(found)
}

/// The distinct ref names of an index, in order, without the names of companions
/// (signatures `sha256-<hex>.sig`, bundled BTF `sha256-<hex>.btf`): what a user can pick
/// from.
pub fn available_names(index: &ImageIndex) -> Vec<String> {
    let mut seen = BTreeSet::new();
    index
        .manifests
        .iter()
        .filter_map(|d| d.ref_name())
        .filter(|n| companion_subject(n).is_none())
        .filter(|n| seen.insert(n.to_string()))
        .map(str::to_string)
        .collect()
}

fn read_index_blob(source: &dyn ImageSource, descriptor: &Descriptor) -> Result<ImageIndex> {
    let bytes = source.read_blob(descriptor, source.limits().max_manifest_size)?;
    Ok(
        ImageIndex::from_slice(&bytes).map_err(|e| StoreError::Schema {
            path: source.location().to_path_buf(),
            what: format!("index {}", descriptor.digest),
            source: e,
        })?,
    )
}

/// Reads the image an index.json entry points at. A nested index is resolved to the
/// entry for `platform` (default: this machine's).
pub fn open_image(
    source: &dyn ImageSource,
    entry: &Descriptor,
    platform: Option<&Platform>,
) -> Result<Image> {
    open_image_at(source, entry, platform, 0)
}

/// [`open_image`] for a descriptor found `depth` references below its index.json entry
/// (a child of a nested index), so that the one depth limit counts from the entry.
pub fn open_image_at(
    source: &dyn ImageSource,
    entry: &Descriptor,
    platform: Option<&Platform>,
    depth: usize,
) -> Result<Image> {
    let host = Platform::host();
    let wanted = platform.unwrap_or(&host);
    let mut descriptor = entry.clone();
    let mut depth = depth;
    while is_index(&descriptor) {
        let nested = read_index_blob(source, &descriptor)?;
        let choice = nested
            .manifests
            .iter()
            .find(|d| {
                d.platform
                    .as_ref()
                    .map(Platform::normalized)
                    .is_some_and(|p| p.os == wanted.os && p.architecture == wanted.architecture)
            })
            .ok_or_else(|| ResolveError::ImageNotFound {
                path: source.location().to_path_buf(),
                wanted: format!("for platform {wanted} in index {}", descriptor.digest),
                available: nested
                    .manifests
                    .iter()
                    .filter_map(|d| d.platform.as_ref().map(|p| p.normalized().to_string()))
                    .collect(),
            })?;
        descriptor = choice.clone();
        // The same rule as every walk of the graph (crate::graph::MAX_DEPTH).
        depth += 1;
        if depth > MAX_DEPTH {
            return Err(StoreError::TooDeep {
                path: source.location().to_path_buf(),
                digest: descriptor.digest.clone(),
                limit: MAX_DEPTH,
            }
            .into());
        }
    }
    let manifest_bytes = source.read_blob(&descriptor, source.limits().max_manifest_size)?;
    let manifest = ImageManifest::from_slice(&manifest_bytes).map_err(|e| StoreError::Schema {
        path: source.location().to_path_buf(),
        what: format!("manifest {}", descriptor.digest),
        source: e,
    })?;
    let recognised = recognise(source, &manifest)?;
    Ok(Image {
        name: entry.ref_name().map(str::to_string),
        entry_digest: entry.digest.clone(),
        platform: descriptor.platform.as_ref().map(Platform::normalized),
        descriptor,
        manifest,
        manifest_bytes,
        format: recognised.format,
        program_layer_index: recognised.program,
    })
}

/// Resolves a selector to exactly one image: a name, a digest, or — with no name — the
/// only image there is ([`ResolveError::NameRequired`] when there are several). Companions
/// (signatures `sha256-<hex>.sig`, bundled kernel BTF `sha256-<hex>.btf`) do not count as
/// images there.
pub fn resolve_one(
    source: &dyn ImageSource,
    selector: &Selector,
    platform: Option<&Platform>,
) -> Result<Image> {
    let entry = select_one(source, selector)?;
    open_image(source, &entry, platform)
}

/// The one index.json entry (a manifest, or a multi-platform index) `selector` means, by
/// the rules of [`resolve_one`], without reading it.
pub fn select_one(source: &dyn ImageSource, selector: &Selector) -> Result<Descriptor> {
    let index = source.index()?;
    let mut picked = select(source, &index, selector)?;
    if picked.len() > 1 && matches!(selector, Selector::All) {
        picked.retain(|d| !is_companion_entry(d));
    }
    if picked.len() != 1 {
        let names: Vec<String> = available_names(&index)
            .into_iter()
            .filter(|n| companion_subject(n).is_none())
            .collect();
        return Err(if picked.is_empty() {
            ResolveError::Empty {
                path: source.location().to_path_buf(),
            }
        } else {
            ResolveError::NameRequired {
                path: source.location().to_path_buf(),
                count: picked.len(),
                names,
            }
        });
    }
    Ok(picked.swap_remove(0))
}
