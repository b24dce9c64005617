//! Names in a layout: `tag` gives an image another name, `rm` takes names away.
//!
//! Both change index.json only, under the layout's lock, by atomic replacement; blobs
//! are never touched (`rm` leaves them for [`gc`](crate::layout::gc)). Both work on
//! layout directories only: an archive is written once, so copy it to a layout first.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::image::resolve::{available_names, select};
use crate::image::ResolveError;
use crate::layout::{IndexChange, LayoutWriter};
use crate::limits::Limits;
use crate::oci::companion::{companion_subject, SUFFIXES};
use crate::oci::cosign::{reserved_for_signatures, ReservedForSignatures};
use crate::oci::media_type::ANNOTATION_REF_NAME;
use crate::oci::{Descriptor, Digest, ImageRef, RefName, Selector};
use crate::progress::Progress;
use crate::store::StoreError;

/// What `tag` did.
#[derive(Debug, Clone, Serialize)]
pub struct TagReport {
    /// The layout changed.
    pub layout: PathBuf,
    /// The name given.
    pub name: String,
    /// The manifest (or index) it now points at.
    pub digest: Digest,
    /// `added`, `unchanged` (it already pointed there), or `moved` (see `previous`).
    pub change: &'static str,
    /// The manifest the name pointed at before, when it moved.
    pub previous: Option<Digest>,
}

/// Gives the image that `source` selects (`PATH:NAME`, `PATH@sha256:…`, or `PATH`
/// holding a single image) the name `name` in the same layout. An existing `name` is
/// moved to it, and the report says from where.
///
/// The image's manifest is read and verified first, so a name never points at a missing
/// or damaged blob. Fails with [`ResolveError::ImageNotFound`] (listing the names there
/// are), [`ResolveError::NameRequired`] or [`ResolveError::AmbiguousName`] when the source
/// is not one image, with [`TagError::NotALayoutDirectory`] or [`TagError::StandardInput`]
/// when `source` is not a layout directory, and with [`TagError::ReservedName`] when
/// `name` is one that cosign's scheme reserves for signatures (`sha256-<hex>.sig`); the
/// layout is then unchanged.
pub fn tag(source: &ImageRef, name: &RefName, limits: &Limits) -> Result<TagReport> {
    let root = layout_dir(&source.path, "tag")?;
    if let Some(reason) = reserved_for_signatures(name.as_str()) {
        return Err(TagError::ReservedName { path: root, reason });
    }
    if name
        .as_str()
        .starts_with(&format!("{}:", source.path.display()))
    {
        return Err(TagError::NameInsideLayout {
            path: root,
            suggestion: name.as_str()[source.path.display().to_string().len() + 1..].to_string(),
            name: name.clone(),
        });
    }
    let mut writer = LayoutWriter::open_existing_with(&root, limits, &Progress::none())?;
    let layout = writer.layout().clone();
    let index = writer.index().clone();
    let picked = select(&layout, &index, &source.selector)?;
    if picked.len() > 1 {
        return Err(ResolveError::NameRequired {
            path: root,
            count: picked.len(),
            names: available_names(&index),
        }
        .into());
    }
    let mut target = picked
        .into_iter()
        .next()
        .expect("select never returns nothing");
    layout.read_blob(&target, limits.max_manifest_size)?;
    target.annotations.remove(ANNOTATION_REF_NAME);
    let digest = target.digest.clone();
    let (change, previous) = match writer.set_name(name, target) {
        IndexChange::Added => ("added", None),
        IndexChange::Unchanged => ("unchanged", None),
        IndexChange::Moved { from } => ("moved", Some(from)),
    };
    writer.commit()?;
    Ok(TagReport {
        layout: root,
        name: name.to_string(),
        digest,
        change,
        previous,
    })
}

/// One index.json entry taken away by `rm`.
#[derive(Debug, Clone, Serialize)]
pub struct RemovedEntry {
    /// Its name, or `None` for an untagged entry.
    pub name: Option<String>,
    /// The manifest (or index) it pointed at.
    pub digest: Digest,
    /// Names that still point at that manifest after the removal.
    pub still_named: Vec<String>,
}

/// What `rm` did.
#[derive(Debug, Clone, Serialize)]
pub struct RemoveReport {
    /// The layout changed.
    pub layout: PathBuf,
    /// The entries removed, in index.json order.
    pub removed: Vec<RemovedEntry>,
}

/// Removes from index.json the name `PATH:NAME` (every entry carrying it), or with
/// `PATH@sha256:…` every entry, named or untagged, for that manifest. Blobs stay until
/// [`gc`](crate::layout::gc::gc).
///
/// Fails with [`ResolveError::ImageNotFound`] listing the names there are when nothing
/// matches, [`TagError::RemoveWhat`] for a bare `PATH` (rm never removes everything), and
/// [`TagError::NotALayoutDirectory`] or [`TagError::StandardInput`] for a path that is not
/// a layout directory; the layout is then unchanged.
pub fn remove(reference: &ImageRef) -> Result<RemoveReport> {
    let root = layout_dir(&reference.path, "rm")?;
    if reference.selector == Selector::All {
        return Err(TagError::RemoveWhat { path: root });
    }
    let mut writer = LayoutWriter::open(&root)?;
    let removed = writer.remove_entries(|d| match &reference.selector {
        Selector::Name(n) => d.ref_name() == Some(n.as_str()),
        Selector::Digest(digest) => &d.digest == digest,
        Selector::All => false,
    });
    if removed.is_empty() {
        return Err(ResolveError::ImageNotFound {
            path: root,
            wanted: match &reference.selector {
                Selector::Name(n) => format!("named {n:?}"),
                Selector::Digest(d) => format!("with digest {d} in index.json"),
                Selector::All => String::new(),
            },
            available: available_names(writer.index()),
        }
        .into());
    }
    // Companions — a signature (cosign's sha256-<hex>.sig), bundled kernel BTF
    // (sha256-<hex>.btf) — go with the last entry of the image they belong to; otherwise
    // they would outlive it. Sets and maps built once keep this linear in the entries,
    // however many are removed.
    let listed: HashSet<&Digest> = writer.index().manifests.iter().map(|e| &e.digest).collect();
    let mut seen = HashSet::new();
    let unlisted: Vec<Digest> = removed
        .iter()
        .map(|d| &d.digest)
        .filter(|digest| !listed.contains(digest) && seen.insert(*digest))
        .cloned()
        .collect();
    let mut removed = removed;
    if !unlisted.is_empty() {
        // Reported in the order of the images they belong to, each image's companions in
        // the order of SUFFIXES, as removed one image at a time.
        let rank: HashMap<&Digest, usize> =
            unlisted.iter().enumerate().map(|(i, d)| (d, i)).collect();
        let order = |d: &Descriptor| {
            let (subject, suffix) = d.ref_name().and_then(companion_subject)?;
            let kind = SUFFIXES.iter().position(|s| *s == suffix)?;
            Some((*rank.get(&subject)?, kind))
        };
        let mut companions = writer.remove_entries(|d| order(d).is_some());
        companions.sort_by_key(|d| order(d));
        removed.extend(companions);
    }
    let index = writer.index().clone();
    writer.commit()?;
    let mut names_of: HashMap<&Digest, Vec<String>> = HashMap::new();
    for e in &index.manifests {
        if let Some(n) = e.ref_name() {
            names_of.entry(&e.digest).or_default().push(n.to_string());
        }
    }
    let removed = removed
        .into_iter()
        .map(|d| RemovedEntry {
            name: d.ref_name().map(str::to_string),
            still_named: names_of.get(&d.digest).cloned().unwrap_or_default(),
            digest: d.digest,
        })
        .collect();
    Ok(RemoveReport {
        layout: root,
        removed,
    })
}

/// The layout directory a managing command works on; archives and standard input are
/// refused with the way forward.
pub(crate) fn layout_dir(path: &Path, command: &'static str) -> Result<PathBuf> {
    if path == Path::new("-") {
        return Err(TagError::StandardInput {
            path: path.to_path_buf(),
            command,
        });
    }
    match std::fs::metadata(path) {
        Ok(m) if !m.is_dir() => Err(TagError::NotALayoutDirectory {
            path: path.to_path_buf(),
            command,
        }),
        _ => Ok(path.to_path_buf()),
    }
}

/// Why a name could not be added (`tag`) or removed (`rm`). The layout is then unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TagError {
    /// Reading or writing the layout failed (I/O, a damaged or missing blob, a layout
    /// that cannot be written).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The source reference does not select one image.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The name is one cosign's scheme reserves for signatures.
    #[error("{}: {reason}", path.display())]
    ReservedName {
        /// The layout.
        path: PathBuf,
        /// The name and the manifest whose signatures it names.
        reason: ReservedForSignatures,
    },
    /// The name given is a reference into the same layout (`bundle:NAME`), not a name.
    #[error("{}: NAME is a name inside the same layout, not a reference: give {suggestion:?}, not {:?}", path.display(), name.as_str())]
    NameInsideLayout {
        /// The layout.
        path: PathBuf,
        /// The name given.
        name: RefName,
        /// The name meant (without the layout's path).
        suggestion: String,
    },
    /// `rm` was given a bare layout path: it never removes everything.
    #[error("{}: say what to remove: PATH:NAME removes a name, PATH@sha256:… every entry for that manifest", path.display())]
    RemoveWhat {
        /// The layout.
        path: PathBuf,
    },
    /// A command that changes a layout in place was given standard input.
    #[error("{}: standard input cannot be changed; `{command}` changes a layout directory in place (copy an archive to a layout first)", path.display())]
    StandardInput {
        /// The path given (`-`).
        path: PathBuf,
        /// The command (`tag`, `rm`, `gc`).
        command: &'static str,
    },
    /// A command that changes a layout in place was given a file (an archive).
    #[error("{}: is a file, not a layout directory; `{command}` changes a layout directory in place (copy an archive to a layout first)", path.display())]
    NotALayoutDirectory {
        /// The path given.
        path: PathBuf,
        /// The command (`tag`, `rm`, `gc`).
        command: &'static str,
    },
}

impl TagError {
    /// Whether this is an integrity failure: a storage failure it wraps is one
    /// ([`StoreError::is_integrity_failure`]), e.g. an image to tag whose manifest is
    /// damaged.
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

/// The result type of `tag` and `rm`.
pub type Result<T, E = TagError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_given_as_the_name_is_quoted_as_the_user_typed_it() {
        let e = TagError::NameInsideLayout {
            path: "bundle".into(),
            name: RefName::parse("bundle:copy").unwrap(),
            suggestion: "copy".into(),
        };
        assert_eq!(
            e.to_string(),
            "bundle: NAME is a name inside the same layout, not a reference: give \"copy\", not \"bundle:copy\""
        );
    }

    #[test]
    fn a_name_reserved_for_signatures_says_whose_signatures() {
        let signed = Digest::of(b"manifest");
        let name = format!("sha256-{}.sig", signed.hex());
        let e = TagError::ReservedName {
            path: "bundle".into(),
            reason: reserved_for_signatures(&name).unwrap(),
        };
        assert_eq!(
            e.to_string(),
            format!(
                "bundle: {name:?} is the name cosign's scheme reserves for the signatures of \
                 {signed} (sha256-<hex>.sig); choose another name (signatures are added by \
                 `ebpf-layout sign`)"
            )
        );
        assert!(!e.is_integrity_failure());
    }
}
