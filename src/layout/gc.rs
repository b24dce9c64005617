//! Garbage collection: deleting the blobs of a layout that nothing references.
//!
//! * **Roots** are every index.json entry, named or untagged: an untagged entry is still
//!   a reference (oras adds one per manifest).
//! * **Reached** is the closure of the roots through nested indexes and manifests (their
//!   config, layers and subject).
//! * **Referrers** (signatures, SBOMs, attestations) are manifests stored in the layout
//!   whose `subject` is reached: they are kept with their closure, repeatedly, so that a
//!   signature of an SBOM of a kept image is kept too.
//! * Everything else under `blobs/sha256/` is deleted, with the temporary files of
//!   writers that died. Files there that are not named by a digest are left alone.
//!
//! gc runs as a [`LayoutWriter`], holding the layout's exclusive lock from reading
//! index.json to its last deletion. Every writer holds the same lock from its first blob
//! to its index.json commit, so gc sees committed state only: no blob in the layout is
//! one that a live writer is about to reference. `docs/durability.md` gives the argument.
//!
//! gc never guesses: when a manifest or index that a root reaches cannot be read and
//! verified, what it references is unknown, so gc stops before deleting anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::lock::lock_shared;
use super::writer::list_temp_files;
use super::{Layout, LayoutWriter, StaleTemp};
use crate::graph::{Document, Failure, Role, Walker};
use crate::limits::Limits;
use crate::oci::media_type::{OCI_INDEX, OCI_MANIFEST};
use crate::oci::{Descriptor, Digest, ImageIndex};
use crate::progress::Progress;
use crate::store::graph_error;
use crate::store::{io_err, Result, StoreError};

/// How to collect.
#[derive(Debug, Clone, Default)]
pub struct GcOptions {
    /// Report what would be deleted without deleting anything (and without writing to
    /// the layout at all, so it works on a read-only layout).
    pub dry_run: bool,
    /// Bounds on the documents read.
    pub limits: Limits,
}

/// What a blob is, as far as gc can tell from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobKind {
    /// An image manifest.
    Manifest,
    /// An image index.
    Index,
    /// Anything else: a config, a layer, a corrupt or unknown file.
    Blob,
}

/// A blob deleted (or, with `--dry-run`, to be deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovedBlob {
    /// Its digest (its file name).
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// What it is.
    pub kind: BlobKind,
}

/// A blob that something reached references but that is not stored. gc does not stop
/// for these (a referrer may legitimately name a subject that is elsewhere), but
/// `verify` will report them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingBlob {
    /// The digest referenced.
    pub digest: Digest,
    /// What references it (`index.json`, `manifest sha256:…`).
    pub referenced_by: String,
}

/// What gc did (or would do).
#[derive(Debug, Clone, Serialize)]
pub struct GcReport {
    /// The layout collected.
    pub layout: PathBuf,
    /// Whether nothing was deleted because `--dry-run` was asked for.
    pub dry_run: bool,
    /// Number of index.json entries (the roots).
    pub roots: usize,
    /// Blobs kept.
    pub kept_blobs: usize,
    /// Bytes of the blobs kept.
    pub kept_bytes: u64,
    /// Manifests kept only because their subject is reached (signatures, SBOMs…).
    pub referrers: Vec<Digest>,
    /// Blobs deleted, in digest order.
    pub removed: Vec<RemovedBlob>,
    /// Bytes of the blobs deleted.
    pub removed_bytes: u64,
    /// Temporary files of writers that died, deleted.
    pub temp_files: usize,
    /// Bytes of those temporary files.
    pub temp_bytes: u64,
    /// Everything freed: `removed_bytes + temp_bytes`.
    pub freed_bytes: u64,
    /// Referenced blobs that are not stored (run `verify`).
    pub missing: Vec<MissingBlob>,
    /// Entries of `blobs/sha256/` that are not blobs (not a digest name, not a regular
    /// file): left alone.
    pub ignored: Vec<String>,
}

/// Collects the layout at `root`: deletes every blob that no index.json entry reaches
/// (directly or as a referrer) and the temporary files of writers that died.
///
/// Waits for the layout's lock, so it never runs at the same time as a writer. Fails
/// with [`StoreError::NotALayout`] if `root` is not a layout, with [`StoreError::LayoutReadOnly`] naming
/// the path if it is read-only, and — before deleting anything — with
/// [`StoreError::BlobMissing`], [`StoreError::DigestMismatch`], [`StoreError::SizeMismatch`] or
/// [`StoreError::Schema`] when a manifest or index it must read to know what is referenced
/// is missing or damaged.
pub fn gc(root: &Path, options: &GcOptions) -> Result<GcReport> {
    if options.dry_run {
        let layout = Layout::open(root)?.with_limits(options.limits.clone());
        // A shared lock waits for a running writer and keeps writers out while we look,
        // without writing anything.
        let _lock = lock_shared(root)?;
        let index = layout.read_index()?;
        let plan = plan(&layout, &index)?;
        let temp = list_temp_files(root)?;
        return Ok(plan.report(root, true, index.manifests.len(), temp));
    }
    let mut writer = LayoutWriter::open_existing_with(root, &options.limits, &Progress::none())?;
    let temp = writer.stale_temp_removed();
    let index = writer.index().clone();
    let plan = plan(writer.layout(), &index)?;
    for blob in &plan.garbage {
        writer.remove_blob(&blob.digest)?;
    }
    writer.commit()?;
    Ok(plan.report(root, false, index.manifests.len(), temp))
}

/// The blobs stored under `blobs/sha256/`, and the entries there that are not blobs.
fn stored_blobs(layout: &Layout) -> Result<(BTreeMap<Digest, u64>, Vec<String>)> {
    let dir = layout.root().join("blobs/sha256");
    let mut blobs = BTreeMap::new();
    let mut ignored = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((blobs, ignored)),
        Err(e) => return Err(io_err("reading", &dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err("reading", &dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = fs::symlink_metadata(entry.path()).map_err(io_err("reading", entry.path()))?;
        match Digest::parse(&format!("{}:{name}", Digest::ALGORITHM)) {
            Ok(digest) if meta.is_file() => {
                blobs.insert(digest, meta.len());
            }
            _ => ignored.push(format!("blobs/sha256/{name}")),
        }
    }
    ignored.sort();
    Ok((blobs, ignored))
}

/// What gc will delete and keep.
struct Plan {
    stored: BTreeMap<Digest, u64>,
    reached: BTreeSet<Digest>,
    referrers: Vec<Digest>,
    garbage: Vec<RemovedBlob>,
    missing: Vec<MissingBlob>,
    ignored: Vec<String>,
}

/// Walks the image graph from every index.json entry, then adds the stored referrers of
/// what was reached (repeatedly: a signature of an SBOM of a kept image is kept), with the
/// one walker every command uses, so a blob reached in any role is kept.
fn plan(layout: &Layout, index: &ImageIndex) -> Result<Plan> {
    let (stored, ignored) = stored_blobs(layout)?;
    let limit = layout.limits().max_manifest_size;
    let mut read = |d: &Descriptor| -> Result<Option<Vec<u8>>> {
        // A digest name that is not a regular file (a symlink, a socket) is not missing:
        // reading it says what it is.
        let odd = || ignored.contains(&format!("blobs/sha256/{}", d.digest.hex()));
        if !stored.contains_key(&d.digest) && !odd() {
            return Ok(None);
        }
        layout.read_blob(d, limit).map(Some)
    };
    let mut walker = Walker::new(&mut read);
    walker.entries(index);

    // Every stored document nothing reached yet: a referrer if it has a subject.
    let mut kinds: BTreeMap<Digest, BlobKind> = BTreeMap::new();
    let mut candidates: Vec<(Descriptor, Digest)> = Vec::new();
    for (digest, &size) in &stored {
        if walker.has_reached(digest) || size > limit {
            continue;
        }
        let probe = Descriptor::new("", digest.clone(), size);
        let bytes = match layout.read_blob(&probe, limit) {
            Ok(b) => b,
            // Unreferenced and not even what its name says: garbage, not a referrer.
            Err(StoreError::DigestMismatch { .. }) | Err(StoreError::SizeMismatch { .. }) => {
                continue
            }
            Err(e) => return Err(e),
        };
        let document = Document::classify(&bytes);
        let (kind, media_type) = match &document {
            Document::Manifest(_) => (BlobKind::Manifest, OCI_MANIFEST),
            Document::Index(_) => (BlobKind::Index, OCI_INDEX),
            Document::Opaque => (BlobKind::Blob, ""),
        };
        kinds.insert(digest.clone(), kind);
        if let Some(subject) = document.subject() {
            candidates.push((
                Descriptor::new(media_type, digest.clone(), size),
                subject.digest.clone(),
            ));
        }
    }
    walker.referrers(candidates);
    let mut closure = walker.finish();

    let mut missing = Vec::new();
    for (edge, failure) in std::mem::take(&mut closure.failures) {
        match failure {
            // A subject may be kept elsewhere: report it, keep going.
            Failure::Missing if edge.role == Role::Subject => missing.push(MissingBlob {
                digest: edge.descriptor.digest.clone(),
                referenced_by: edge.referenced_by(),
            }),
            // The closure of a missing or unreadable document is unknown: delete nothing.
            failure => return Err(graph_error(layout.root(), &edge, failure)),
        }
    }
    let mut reported: BTreeSet<Digest> = missing.iter().map(|m| m.digest.clone()).collect();
    for edge in &closure.edges {
        let d = &edge.descriptor.digest;
        if !edge.role.is_document() && !stored.contains_key(d) && reported.insert(d.clone()) {
            missing.push(MissingBlob {
                digest: d.clone(),
                referenced_by: edge.referenced_by(),
            });
        }
    }
    let reached = closure.digests();
    // Candidates were only documents the entries did not reach: every referrer edge is
    // a manifest kept only because its subject is.
    let mut referrers: Vec<Digest> = closure
        .edges
        .iter()
        .filter(|e| e.role == Role::Referrer)
        .map(|e| e.descriptor.digest.clone())
        .collect();
    referrers.sort();
    referrers.dedup();

    let garbage = stored
        .iter()
        .filter(|(d, _)| !reached.contains(*d))
        .map(|(d, &size)| RemovedBlob {
            digest: d.clone(),
            size,
            kind: kinds.get(d).copied().unwrap_or(BlobKind::Blob),
        })
        .collect();
    Ok(Plan {
        stored,
        reached,
        referrers,
        garbage,
        missing,
        ignored,
    })
}

impl Plan {
    fn report(self, root: &Path, dry_run: bool, roots: usize, temp: StaleTemp) -> GcReport {
        let kept: Vec<u64> = self
            .stored
            .iter()
            .filter(|(d, _)| self.reached.contains(*d))
            .map(|(_, &size)| size)
            .collect();
        let removed_bytes = self.garbage.iter().map(|b| b.size).sum();
        GcReport {
            layout: root.to_path_buf(),
            dry_run,
            roots,
            kept_blobs: kept.len(),
            kept_bytes: kept.iter().sum(),
            referrers: self.referrers,
            removed: self.garbage,
            removed_bytes,
            temp_files: temp.files,
            temp_bytes: temp.bytes,
            freed_bytes: removed_bytes + temp.bytes,
            missing: self.missing,
            ignored: self.ignored,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(bytes: &[u8]) -> BlobKind {
        match Document::classify(bytes) {
            Document::Manifest(_) => BlobKind::Manifest,
            Document::Index(_) => BlobKind::Index,
            Document::Opaque => BlobKind::Blob,
        }
    }

    #[test]
    fn only_documents_that_list_something_count_as_indexes() {
        assert_eq!(kind(br#"{"schemaVersion":2}"#), BlobKind::Blob);
        assert_eq!(kind(b"{}"), BlobKind::Blob);
        assert_eq!(kind(b"\x7fELF"), BlobKind::Blob);
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"sha256:{hex}","size":0}}]}}"#
        );
        assert_eq!(kind(index.as_bytes()), BlobKind::Index);
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"x","digest":"sha256:{hex}","size":0}},"layers":[]}}"#
        );
        assert_eq!(kind(manifest.as_bytes()), BlobKind::Manifest);
    }
}
