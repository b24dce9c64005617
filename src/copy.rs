//! `copy`: images from a layout or archive into a layout or archive, digests preserved.
//!
//! The whole closure of each image is copied: nested indexes, manifests, configs,
//! layers, and `subject` (so a signature travels with what it signs). Before anything is
//! written, every manifest and index is read and verified; then blobs are streamed and
//! hashed on the way (children before parents), a blob already valid in a destination
//! layout is not written again, and index.json (or the archive) is replaced last. Any
//! error — a blob that does not match its descriptor included — leaves the destination
//! exactly as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::archive::writer::check_destination;
use crate::archive::{ArchiveBuilder, Compression, WriteOptions};
use crate::graph::Closure;
use crate::image::resolve::select;
use crate::image::ResolveError;
use crate::layout::{IndexChange, LayoutWriter};
use crate::limits::Limits;
use crate::oci::companion::Companions;
use crate::oci::cosign::{reserved_for_signatures, ReservedForSignatures};
use crate::oci::reference::RefNameError;
use crate::oci::{Descriptor, Digest, ImageIndex, ImageRef, RefName, Selector};
use crate::progress::Progress;
use crate::source;
use crate::store::{closure_of, ImageSource, StoreError};

/// What to copy and where.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// The source: `PATH` (every image), `PATH:NAME` or `PATH@sha256:…`; PATH is a layout,
    /// an archive, or `-` for an archive on standard input.
    pub source: ImageRef,
    /// The destination: a layout directory (created, or merged into) or an archive file
    /// (`.tar`, `.tar.gz`, `.tgz`; written anew).
    pub destination: PathBuf,
    /// A new name for the single image copied (`DST:NAME`).
    pub name: Option<RefName>,
    /// Replace the destination archive if it exists.
    pub force: bool,
    /// Modification time of every entry of a destination archive, in seconds since 1970
    /// (0 for reproducible archives; the command line takes `SOURCE_DATE_EPOCH`).
    pub mtime: u64,
    /// Bounds on reading untrusted input (an existing archive or layout read on the way).
    pub limits: Limits,
    /// Where the bytes hashed are counted.
    pub progress: Progress,
}

/// What kind of destination was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DestinationKind {
    /// A layout directory.
    Layout,
    /// A plain `.tar`.
    Tar,
    /// A `.tar.gz`.
    #[serde(rename = "tar.gz")]
    TarGz,
}

/// One index entry written to the destination.
#[derive(Debug, Clone, Serialize)]
pub struct CopiedImage {
    /// Its name in the destination (`None`: untagged).
    pub name: Option<String>,
    /// The digest of the manifest or index.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Bytes of its whole closure.
    pub size: u64,
    /// `added`, `unchanged`, or `moved` (with `previous`) — for a layout destination.
    pub change: &'static str,
    /// What the name pointed at before, when it moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Digest>,
}

/// What `copy` did.
#[derive(Debug, Clone, Serialize)]
pub struct CopyReport {
    /// The source reference as given.
    pub source: String,
    /// The destination path.
    pub destination: PathBuf,
    /// Layout or archive.
    pub kind: DestinationKind,
    /// The index entries written, in order.
    pub images: Vec<CopiedImage>,
    /// Blobs in the closure of what was copied.
    pub blobs: usize,
    /// Blobs written (hashed on the way).
    pub blobs_written: usize,
    /// Blobs already present and valid in the destination layout (not written again).
    pub blobs_present: usize,
    /// Bytes of the blobs written.
    pub bytes_written: u64,
    /// Size of the archive written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_size: Option<u64>,
}

enum Destination {
    Layout,
    Archive(WriteOptions),
}

impl Destination {
    /// Decides from the path: an existing directory is a layout; a name ending in
    /// `.tar`, `.tar.gz` or `.tgz` is an archive; anything else a (new) layout.
    fn of(path: &Path, force: bool, mtime: u64, progress: &Progress) -> Result<Self> {
        if path == Path::new("-") {
            return Err(CopyError::StandardOutput {
                path: path.to_path_buf(),
            });
        }
        if path.is_dir() {
            return Ok(Self::Layout);
        }
        match WriteOptions::for_path(path) {
            Some(mut options) => {
                options.overwrite = force;
                options.mtime = mtime;
                options.progress = progress.clone();
                check_destination(path, force)?;
                Ok(Self::Archive(options))
            }
            None => Ok(Self::Layout),
        }
    }
}

/// Copies `options.source` to `options.destination`. See the module documentation for
/// the guarantees; errors name the source or destination and the blob concerned.
pub fn copy(options: &CopyOptions) -> Result<CopyReport> {
    // Refuse an existing archive before reading anything.
    let destination = Destination::of(
        &options.destination,
        options.force,
        options.mtime,
        &options.progress,
    )?;
    let open_source =
        || source::open_with(&options.source.path, &options.limits, &options.progress);
    let source_dir = directory_identity(&options.source.path);
    let (Destination::Layout, Some(source_dir)) = (&destination, source_dir) else {
        return copy_from(open_source()?.as_ref(), options, destination, None);
    };
    let open_writer = || {
        LayoutWriter::open_or_create_with(&options.destination, &options.limits, &options.progress)
    };
    // Layout to layout: the source is read under its shared lock and the destination
    // written under its exclusive one. Two copies in opposite directions must not each
    // hold one lock and wait for the other, so the locks are taken in one global order
    // (by device and inode); a layout copied into itself is read under the writer's
    // exclusive lock, which already keeps other writers out.
    match directory_identity(&options.destination) {
        Some(d) if d == source_dir => {
            // Refuse a source that is not a layout before the writer could create one.
            crate::layout::Layout::open(&options.source.path)?;
            let writer = open_writer()?;
            let layout = writer.layout().clone();
            copy_from(&layout, options, destination, Some(writer))
        }
        Some(d) if d < source_dir => {
            let writer = open_writer()?;
            let source = open_source()?;
            copy_from(source.as_ref(), options, destination, Some(writer))
        }
        _ => {
            let source = open_source()?;
            copy_from(source.as_ref(), options, destination, None)
        }
    }
}

/// (device, inode) of a directory, following symlinks; `None` if `path` is not one.
fn directory_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Some((m.dev(), m.ino())),
        _ => None,
    }
}

/// Copies from an opened `source`; `writer` is the destination layout's writer when
/// [`copy`] had to open it first (lock order), otherwise it is opened here.
fn copy_from(
    source: &dyn ImageSource,
    options: &CopyOptions,
    destination: Destination,
    writer: Option<LayoutWriter>,
) -> Result<CopyReport> {
    let location = source.location().to_path_buf();
    let index = source.index()?;
    let mut entries = roots(source, &index, &options.source.selector)?;
    if let Some(name) = &options.name {
        if let Some(reason) = reserved_for_signatures(name.as_str()) {
            return Err(CopyError::ReservedName {
                path: options.destination.clone(),
                reason,
            });
        }
        let digests: BTreeSet<&Digest> = entries.iter().map(|d| &d.digest).collect();
        if digests.len() != 1 {
            return Err(CopyError::NameNeedsOneImage {
                path: location,
                name: name.clone(),
                reference: options.source.clone(),
                count: digests.len(),
            });
        }
        entries.truncate(1);
    }
    // Names to write, checked before anything is written.
    let mut named: Vec<(Option<RefName>, Descriptor)> = Vec::new();
    for entry in &entries {
        let name = match (&options.name, entry.ref_name()) {
            (Some(n), _) => Some(n.clone()),
            (None, Some(n)) => {
                Some(
                    RefName::parse(n).map_err(|error| CopyError::UnwritableName {
                        path: location.clone(),
                        digest: entry.digest.clone(),
                        error,
                    })?,
                )
            }
            (None, None) => None,
        };
        named.push((name, entry.clone()));
    }
    if !matches!(options.source.selector, Selector::All) {
        add_companions(&index, &mut named);
    }
    check_ambiguous(&location, &named)?;

    // Read and verify every manifest and index first; children come before parents.
    let max_json = source.limits().max_manifest_size;
    let roots: Vec<Descriptor> = named.iter().map(|(_, d)| d.clone()).collect();
    let closure = closure_of(source, &roots, max_json, false)?;
    let sizes: BTreeMap<Digest, u64> = closure.sizes_from(named.iter().map(|(_, d)| &d.digest));
    let blobs = closure_blobs(&closure);

    let mut report = CopyReport {
        source: options.source.to_string(),
        destination: options.destination.clone(),
        kind: DestinationKind::Layout,
        images: Vec::new(),
        blobs: blobs.len(),
        blobs_written: 0,
        blobs_present: 0,
        bytes_written: 0,
        archive_size: None,
    };
    let record = |report: &mut CopyReport, name: &Option<RefName>, d: &Descriptor, change| {
        let (change, previous) = match change {
            IndexChange::Added => ("added", None),
            IndexChange::Unchanged => ("unchanged", None),
            IndexChange::Moved { from } => ("moved", Some(from)),
        };
        report.images.push(CopiedImage {
            name: name.as_ref().map(|n| n.to_string()),
            digest: d.digest.clone(),
            media_type: d.media_type.clone(),
            size: sizes.get(&d.digest).copied().unwrap_or(d.size),
            change,
            previous,
        });
    };

    match destination {
        Destination::Layout => {
            let mut writer = match writer {
                Some(w) => w,
                None => LayoutWriter::open_or_create_with(
                    &options.destination,
                    &options.limits,
                    &options.progress,
                )?,
            };
            // Leaves first, in the source's storage order (one pass through a compressed
            // archive), then manifests and indexes, children before parents.
            let mut order: Vec<&Blob> = blobs.iter().filter(|b| b.json.is_none()).collect();
            order.sort_by_key(|b| source.blob_position(&b.descriptor));
            order.extend(blobs.iter().filter(|b| b.json.is_some()));
            for blob in order {
                let d = &blob.descriptor;
                if writer.has_valid_blob(d)? {
                    report.blobs_present += 1;
                    continue;
                }
                let origin = location.join(d.digest.blob_path());
                match blob.json {
                    Some(bytes) => writer.put_reader(bytes, Some(d), None, &origin)?,
                    None => writer.put_reader(source.open_blob(d)?, Some(d), None, &origin)?,
                };
                report.blobs_written += 1;
                report.bytes_written += d.size;
            }
            for (name, d) in &named {
                let change = match name {
                    Some(n) => writer.set_name(n, d.clone()),
                    None => writer.add_untagged(d.clone()),
                };
                record(&mut report, name, d, change);
            }
            writer.commit()?;
        }
        Destination::Archive(write_options) => {
            let mut builder = ArchiveBuilder::new();
            for blob in &blobs {
                match blob.json {
                    Some(bytes) => builder.put_verified(&blob.descriptor, bytes.to_vec())?,
                    None => builder.put_from(source, &blob.descriptor)?,
                }
            }
            for (name, d) in &named {
                let change = match name {
                    Some(n) => builder.set_name(n, d.clone()),
                    None => builder.add_untagged(d.clone()),
                };
                record(&mut report, name, d, change);
            }
            let written = builder.write(&options.destination, &write_options)?;
            report.kind = match write_options.compression {
                Compression::None => DestinationKind::Tar,
                Compression::Gzip => DestinationKind::TarGz,
            };
            report.blobs_written = written.blobs;
            report.bytes_written = written.blob_bytes;
            report.archive_size = Some(written.size);
        }
    }
    Ok(report)
}

/// Lists every index entry of `source` in `builder` (names kept, in order), without
/// blobs: [`add_closures`] adds those once the final index is known, so that entries
/// replaced meanwhile leave nothing behind. Used by `pack` to add to an archive.
pub(crate) fn add_entries(
    builder: &mut ArchiveBuilder<'_>,
    source: &dyn ImageSource,
) -> Result<()> {
    for entry in source.index()?.manifests {
        match entry.ref_name() {
            Some(n) => {
                let name = RefName::parse(n).map_err(|error| CopyError::UnwritableStoredName {
                    path: source.location().to_path_buf(),
                    digest: entry.digest.clone(),
                    error,
                })?;
                builder.set_name(&name, entry);
            }
            None => {
                builder.add_untagged(entry);
            }
        }
    }
    Ok(())
}

/// Adds to `builder`, from `source`, the closure of every index entry whose blob the
/// builder does not hold yet (manifests and indexes verified now, other blobs streamed
/// and hashed when the archive is written).
pub(crate) fn add_closures<'a>(
    builder: &mut ArchiveBuilder<'a>,
    source: &'a dyn ImageSource,
) -> Result<()> {
    let roots: Vec<Descriptor> = builder
        .index()
        .manifests
        .iter()
        .filter(|d| !builder.contains(&d.digest))
        .cloned()
        .collect();
    let closure = closure_of(source, &roots, source.limits().max_manifest_size, false)?;
    for blob in closure_blobs(&closure) {
        if builder.contains(&blob.descriptor.digest) {
            continue;
        }
        match blob.json {
            Some(bytes) => builder.put_verified(&blob.descriptor, bytes.to_vec())?,
            None => builder.put_from(source, &blob.descriptor)?,
        }
    }
    Ok(())
}

/// The index.json entries a selector means. `PATH` is every entry (all names, untagged
/// ones too); `PATH:NAME` the entry with that name; `PATH@DIGEST` every entry for that
/// manifest (with their names), or the manifest inside a nested index.
fn roots(
    source: &dyn ImageSource,
    index: &ImageIndex,
    selector: &Selector,
) -> Result<Vec<Descriptor>> {
    let top: Vec<Descriptor> = match selector {
        Selector::All => index.manifests.clone(),
        Selector::Name(_) => Vec::new(),
        Selector::Digest(d) => index
            .manifests
            .iter()
            .filter(|m| &m.digest == d)
            .cloned()
            .collect(),
    };
    if !top.is_empty() {
        return Ok(top);
    }
    // Names (with the ambiguity check), nested digests, and the "not found" messages.
    Ok(select(source, index, selector)?)
}

/// Companions travel with the images they belong to: the `sha256-<hex>.sig` (signatures,
/// cosign's naming) and `sha256-<hex>.btf` (bundled kernel BTF) entries of the selected
/// images are copied too, under their own names. (Copying a whole layout or archive
/// carries them anyway.)
fn add_companions(index: &ImageIndex, named: &mut Vec<(Option<RefName>, Descriptor)>) {
    let companions = Companions::of(index);
    let mut present: BTreeSet<Digest> = named.iter().map(|(_, d)| d.digest.clone()).collect();
    // In the order the images were selected, each image once however many names it has.
    let mut selected: Vec<Digest> = Vec::new();
    let mut seen = BTreeSet::new();
    for (_, d) in named.iter() {
        if seen.insert(&d.digest) {
            selected.push(d.digest.clone());
        }
    }
    for digest in selected {
        for entry in companions.all_of(&digest) {
            if present.insert(entry.digest.clone()) {
                let name = entry.ref_name().map(RefName::parse).and_then(|r| r.ok());
                named.push((name, entry.clone()));
            }
        }
    }
}

/// The same name on two different manifests cannot be written.
fn check_ambiguous(location: &Path, named: &[(Option<RefName>, Descriptor)]) -> Result<()> {
    let mut by_name: BTreeMap<&RefName, Vec<&Digest>> = BTreeMap::new();
    for (name, d) in named {
        if let Some(n) = name {
            let digests = by_name.entry(n).or_default();
            if !digests.contains(&&d.digest) {
                digests.push(&d.digest);
            }
        }
    }
    match by_name.into_iter().find(|(_, ds)| ds.len() > 1) {
        Some((name, digests)) => Err(ResolveError::AmbiguousName {
            path: location.to_path_buf(),
            name: name.to_string(),
            digests: digests.into_iter().cloned().collect(),
        }
        .into()),
        None => Ok(()),
    }
}

/// One distinct blob of a closure to copy: documents carry their verified bytes.
struct Blob<'c> {
    descriptor: Descriptor,
    json: Option<&'c [u8]>,
}

/// Every distinct blob of `closure`, children before parents: leaves (configs, layers, and
/// anything reached only as such) in walk order, then the documents read. A blob reached
/// both as a layer and as a manifest is copied once, as the document it is.
fn closure_blobs(closure: &Closure<StoreError>) -> Vec<Blob<'_>> {
    let mut blobs: Vec<Blob<'_>> = closure
        .blobs()
        .into_iter()
        .filter(|d| closure.node(&d.digest).is_none())
        .map(|d| Blob {
            descriptor: Descriptor::new(d.media_type.clone(), d.digest.clone(), d.size),
            json: None,
        })
        .collect();
    blobs.extend(closure.nodes.iter().map(|n| Blob {
        descriptor: Descriptor::new(
            n.descriptor.media_type.clone(),
            n.descriptor.digest.clone(),
            n.descriptor.size,
        ),
        json: Some(&n.bytes[..]),
    }));
    blobs
}

/// Why a copy could not be made. Nothing was written: every check is made first.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CopyError {
    /// Reading the source or writing the destination failed (I/O, a damaged or missing
    /// blob, a destination that cannot be written).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The source reference does not select images to copy.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The destination is standard output (`-`).
    #[error("{}: writing to standard output is not supported; give a layout directory or an archive file name", path.display())]
    StandardOutput {
        /// The destination given.
        path: PathBuf,
    },
    /// `DST:NAME` is a name cosign's scheme reserves for signatures.
    #[error("{}: {reason}", path.display())]
    ReservedName {
        /// The destination.
        path: PathBuf,
        /// The name and the manifest whose signatures it names.
        reason: ReservedForSignatures,
    },
    /// `DST:NAME` names one image, but the source selects several.
    #[error("{}: DST:{name} names a single image, but {reference} holds {count} images; pick one as SRC:NAME or SRC@sha256:…", path.display())]
    NameNeedsOneImage {
        /// The source layout or archive.
        path: PathBuf,
        /// The name given to the destination.
        name: RefName,
        /// The source reference.
        reference: ImageRef,
        /// How many images it selects.
        count: usize,
    },
    /// An image to copy is named by a name we do not write.
    #[error("{}: image {digest} is named {:?}, which cannot be written: {}; copy it as SRC@{digest} DST:NEWNAME", path.display(), error.name, error.reason)]
    UnwritableName {
        /// The source layout or archive.
        path: PathBuf,
        /// The image.
        digest: Digest,
        /// The name, and what is wrong with it.
        error: RefNameError,
    },
    /// An entry of the archive being added to is named by a name we do not write.
    #[error("{}: image {digest} is named {:?}, which cannot be written: {}", path.display(), error.name, error.reason)]
    UnwritableStoredName {
        /// The archive.
        path: PathBuf,
        /// The image.
        digest: Digest,
        /// The name, and what is wrong with it.
        error: RefNameError,
    },
}

impl CopyError {
    /// Whether this is an integrity failure: a storage failure it wraps is one
    /// ([`StoreError::is_integrity_failure`]), e.g. a source blob that does not match its
    /// digest.
    pub fn is_integrity_failure(&self) -> bool {
        self.store_error()
            .is_some_and(StoreError::is_integrity_failure)
    }

    /// The storage failure this wraps, directly or through resolving, if any.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(e) => Some(e),
            Self::Resolve(e) => e.store_error(),
            _ => None,
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

/// The result type of copying.
pub type Result<T, E = CopyError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_source_is_an_integrity_failure_and_a_bad_destination_is_not() {
        let damaged = CopyError::from(StoreError::DigestMismatch {
            path: "bundle".into(),
            expected: Digest::of(b"a"),
            found: Digest::of(b"b"),
        });
        assert!(damaged.is_integrity_failure());
        let stdout = CopyError::StandardOutput { path: "-".into() };
        assert!(!stdout.is_integrity_failure());
        assert_eq!(
            stdout.to_string(),
            "-: writing to standard output is not supported; give a layout directory or an archive file name"
        );
    }
}
