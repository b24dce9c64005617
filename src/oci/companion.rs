//! Companions: manifests stored beside an image under a name derived from its digest,
//! `sha256-<hex>.<kind>`, following cosign's tag scheme for signatures. Each companion's
//! manifest also names the image as its `subject`, so the walkers that keep referrers
//! (gc, verify) and the referrers API of a registry see them too; the name is what lets
//! `copy IMAGE` find them without reading every manifest in the layout.
//!
//! Two kinds exist: signatures (`.sig`, see [`super::cosign`]) and bundled kernel BTF
//! (`.btf`, see `crate::kernel_btf`). Pure functions of names and digests.

use std::collections::BTreeSet;

use super::cosign::SIGNATURE_SUFFIX;
use super::{Descriptor, Digest, ImageIndex, RefName};

/// Suffix of bundled kernel BTF artifact names (`sha256-<hex>.btf`).
pub const BTF_SUFFIX: &str = ".btf";

/// Every companion suffix, in the order companions are listed.
pub const SUFFIXES: [&str; 2] = [SIGNATURE_SUFFIX, BTF_SUFFIX];

/// The name of the companion of `digest` with `suffix`: `sha256-<hex><suffix>`.
pub fn companion_name(digest: &Digest, suffix: &str) -> RefName {
    // `sha256-` + 64 hex digits + a short suffix is a valid ref name and registry tag.
    RefName::parse(&format!("{}-{}{suffix}", Digest::ALGORITHM, digest.hex()))
        .expect("companion names are valid ref names")
}

/// The digest a companion name stands for and its suffix, if `name` is one.
pub fn companion_subject(name: &str) -> Option<(Digest, &'static str)> {
    let rest = name.strip_prefix(Digest::ALGORITHM)?.strip_prefix('-')?;
    SUFFIXES.iter().find_map(|suffix| {
        let hex = rest.strip_suffix(suffix)?;
        let digest = Digest::parse(&format!("{}:{hex}", Digest::ALGORITHM)).ok()?;
        Some((digest, *suffix))
    })
}

/// Whether an index.json entry is a companion (a signature or bundled BTF), not an image
/// of its own.
pub fn is_companion_entry(entry: &Descriptor) -> bool {
    entry.ref_name().and_then(companion_subject).is_some()
}

/// The index.json entries that are companions of `digest` (of every kind), each
/// distinct (name, manifest) once, in index order.
pub fn companion_entries<'i>(index: &'i ImageIndex, digest: &Digest) -> Vec<&'i Descriptor> {
    let names: Vec<RefName> = SUFFIXES.iter().map(|s| companion_name(digest, s)).collect();
    let mut seen = BTreeSet::new();
    index
        .manifests
        .iter()
        .filter(|d| {
            d.ref_name().is_some_and(|n| {
                names.iter().any(|m| m.as_str() == n) && seen.insert((n, d.digest.clone()))
            })
        })
        .collect()
}

/// The entries of one kind (`suffix`) of companion of `digest`, each manifest once.
pub fn companion_entries_of<'i>(
    index: &'i ImageIndex,
    digest: &Digest,
    suffix: &str,
) -> Vec<&'i Descriptor> {
    let name = companion_name(digest, suffix);
    let mut seen = BTreeSet::new();
    index
        .manifests
        .iter()
        .filter(|d| d.ref_name() == Some(name.as_str()) && seen.insert(d.digest.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn companion_names_map_to_digests_and_kinds_and_back() {
        let d = Digest::of(b"x");
        let btf = companion_name(&d, BTF_SUFFIX);
        assert_eq!(btf.as_str(), format!("sha256-{}.btf", d.hex()));
        assert_eq!(
            companion_subject(btf.as_str()),
            Some((d.clone(), BTF_SUFFIX))
        );
        let sig = companion_name(&d, SIGNATURE_SUFFIX);
        assert_eq!(companion_subject(sig.as_str()), Some((d, SIGNATURE_SUFFIX)));
        assert_eq!(companion_subject("sha256-abc.btf"), None);
        assert_eq!(companion_subject("core_tgid"), None);
        assert_eq!(companion_subject("sha256-x.tar"), None);
    }
}
