//! Cosign's naming rules for signatures stored beside the images they sign: the
//! signature image of manifest `sha256:<hex>` is named `sha256-<hex>.sig` (cosign's
//! "tag-based discovery", as registries without the referrers API use). Pure functions
//! of names and digests, shared by every command that must tell signatures from images.

use std::collections::{BTreeSet, HashMap};

use super::{Descriptor, Digest, ImageIndex, RefName};

/// Suffix of signature image names (`sha256-<hex>.sig`).
pub const SIGNATURE_SUFFIX: &str = ".sig";

/// The name of the signature image of `digest`: `sha256-<hex>.sig`.
pub fn signature_name(digest: &Digest) -> RefName {
    // `sha256-` + 64 hex digits + `.sig` is a valid ref name and registry tag.
    RefName::parse(&format!(
        "{}-{}{SIGNATURE_SUFFIX}",
        Digest::ALGORITHM,
        digest.hex()
    ))
    .expect("signature names are valid ref names")
}

/// The digest a signature image name stands for, if `name` is one (`sha256-<hex>.sig`).
pub fn signed_digest(name: &str) -> Option<Digest> {
    let hex = name
        .strip_prefix(Digest::ALGORITHM)?
        .strip_prefix('-')?
        .strip_suffix(SIGNATURE_SUFFIX)?;
    Digest::parse(&format!("{}:{hex}", Digest::ALGORITHM)).ok()
}

/// Why `name` cannot be given to an image by hand (`tag`, `copy … DST:NAME`): it is one
/// cosign's scheme reserves for the signatures of manifest `sha256:<hex>`, and every
/// reader (ours, cosign's) would take the image so named for a signature — hidden from
/// `list`'s images, counted as a signature of another image. `None` for any other name.
pub fn reserved_for_signatures(name: &str) -> Option<ReservedForSignatures> {
    let signed = signed_digest(name)?;
    Some(ReservedForSignatures {
        name: name.to_string(),
        signed,
    })
}

/// A name cosign's scheme reserves for signatures, asked for an image (see
/// [`reserved_for_signatures`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is the name cosign's scheme reserves for the signatures of {signed} (sha256-<hex>{SIGNATURE_SUFFIX}); choose another name (signatures are added by `ebpf-layout sign`)")]
pub struct ReservedForSignatures {
    /// The name asked for.
    pub name: String,
    /// The manifest whose signatures it names.
    pub signed: Digest,
}

/// Whether an index.json entry is a signature image (by its name).
pub fn is_signature_entry(entry: &Descriptor) -> bool {
    entry.ref_name().and_then(signed_digest).is_some()
}

/// The index.json entries that hold signatures of `digest` (normally one).
pub fn signature_entries<'i>(index: &'i ImageIndex, digest: &Digest) -> Vec<&'i Descriptor> {
    let name = signature_name(digest);
    let mut seen = BTreeSet::new();
    index
        .manifests
        .iter()
        .filter(|d| d.ref_name() == Some(name.as_str()) && seen.insert(d.digest.clone()))
        .collect()
}

/// For every digest that has signature entries in `index`, those entries (each distinct
/// manifest once), in one pass over the index: what a command that reports on every
/// entry asks, instead of scanning the index per entry.
pub fn signature_entries_by_digest(index: &ImageIndex) -> HashMap<Digest, Vec<&Descriptor>> {
    let mut by_digest: HashMap<Digest, Vec<&Descriptor>> = HashMap::new();
    let mut seen = BTreeSet::new();
    for entry in &index.manifests {
        if let Some(signed) = entry.ref_name().and_then(signed_digest) {
            if seen.insert((signed.clone(), entry.digest.clone())) {
                by_digest.entry(signed).or_default().push(entry);
            }
        }
    }
    by_digest
}
