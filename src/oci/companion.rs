//! Companions: manifests stored beside an image under a name derived from its digest,
//! `sha256-<hex>.<kind>`, following cosign's tag scheme for signatures. Each companion's
//! manifest also names the image as its `subject`, so the walkers that keep referrers
//! (gc, verify) and the referrers API of a registry see them too; the name is what lets
//! `copy IMAGE` find them without reading every manifest in the layout.
//!
//! Two kinds exist: signatures (`.sig`, see [`super::cosign`]) and bundled kernel BTF
//! (`.btf`, see `crate::kernel_btf`). Pure functions of names and digests.

use std::collections::{HashMap, HashSet};

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

/// Every companion entry of an index, by the image it belongs to, built in one pass: a
/// command asking about many images (verify of a whole layout, copy by digest) stays
/// linear in the number of index entries instead of scanning the index per image.
#[derive(Debug, Default)]
pub struct Companions<'i> {
    /// image → its companion entries with their kind, each distinct (name, manifest)
    /// once, in index order.
    by_image: HashMap<Digest, Vec<(&'static str, &'i Descriptor)>>,
}

impl<'i> Companions<'i> {
    /// The companions listed in `index`.
    pub fn of(index: &'i ImageIndex) -> Self {
        let mut by_image: HashMap<Digest, Vec<(&'static str, &'i Descriptor)>> = HashMap::new();
        let mut seen: HashSet<(&str, &Digest)> = HashSet::new();
        for entry in &index.manifests {
            let Some(name) = entry.ref_name() else {
                continue;
            };
            let Some((image, suffix)) = companion_subject(name) else {
                continue;
            };
            if seen.insert((name, &entry.digest)) {
                by_image.entry(image).or_default().push((suffix, entry));
            }
        }
        Self { by_image }
    }

    /// The companion entries of `digest`, of every kind, in index order.
    pub fn all_of(&self, digest: &Digest) -> impl Iterator<Item = &'i Descriptor> + '_ {
        self.by_image
            .get(digest)
            .into_iter()
            .flatten()
            .map(|(_, entry)| *entry)
    }

    /// The companion entries of `digest` of one kind (`suffix`), in index order.
    pub fn of_kind<'s>(
        &'s self,
        digest: &Digest,
        suffix: &'s str,
    ) -> impl Iterator<Item = &'i Descriptor> + 's {
        self.by_image
            .get(digest)
            .into_iter()
            .flatten()
            .filter(move |(kind, _)| *kind == suffix)
            .map(|(_, entry)| *entry)
    }
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

    #[test]
    fn companions_are_found_by_image_and_kind_in_index_order_each_once() {
        let image = Digest::of(b"image");
        let other = Digest::of(b"other");
        let entry = |name: &str, manifest: &[u8]| {
            Descriptor::new("m", Digest::of(manifest), 1)
                .with_annotation(super::super::media_type::ANNOTATION_REF_NAME, name)
        };
        let sig = companion_name(&image, SIGNATURE_SUFFIX);
        let btf = companion_name(&image, BTF_SUFFIX);
        let mut index = ImageIndex::empty();
        index.manifests = vec![
            entry("probe", b"image"),
            entry(btf.as_str(), b"btf"),
            entry(sig.as_str(), b"sig 1"),
            // The same (name, manifest) twice counts once; another manifest under the
            // same name is another signature.
            entry(sig.as_str(), b"sig 1"),
            entry(sig.as_str(), b"sig 2"),
            entry(
                companion_name(&other, SIGNATURE_SUFFIX).as_str(),
                b"other sig",
            ),
            entry("sha256-not-a-digest.sig", b"x"),
        ];
        let companions = Companions::of(&index);
        let digests =
            |it: Vec<&Descriptor>| it.iter().map(|d| d.digest.clone()).collect::<Vec<_>>();
        assert_eq!(
            digests(companions.all_of(&image).collect()),
            [
                Digest::of(b"btf"),
                Digest::of(b"sig 1"),
                Digest::of(b"sig 2")
            ]
        );
        assert_eq!(
            digests(companions.of_kind(&image, BTF_SUFFIX).collect()),
            [Digest::of(b"btf")]
        );
        assert_eq!(
            digests(companions.of_kind(&other, SIGNATURE_SUFFIX).collect()),
            [Digest::of(b"other sig")]
        );
        assert_eq!(companions.of_kind(&other, BTF_SUFFIX).count(), 0);
        assert_eq!(companions.all_of(&Digest::of(b"probe")).count(), 0);
    }
}
