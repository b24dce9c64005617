//! Image manifests and image indexes (index.json has the index's shape).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::descriptor::Descriptor;
use super::digest::Digest;
use super::media_type::{self, ANNOTATION_REF_NAME};
use super::reference::RefName;

/// An OCI image manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest media type. Always written; bee omits it, so it may be absent on read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Artifact type (OCI 1.1 artifacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, in order.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (signatures, attestations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations (sorted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Other fields, preserved as found.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// An OCI image index; `index.json` at a layout's root has this shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// The index media type. Always written; skopeo omits it in index.json.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifests (or nested indexes) it lists.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations (sorted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Other fields, preserved as found.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl ImageIndex {
    /// An empty index with schema version and media type set.
    pub fn empty() -> Self {
        Self {
            schema_version: 2,
            media_type: Some(media_type::OCI_INDEX.to_string()),
            artifact_type: None,
            manifests: Vec::new(),
            subject: None,
            annotations: BTreeMap::new(),
            extra: BTreeMap::new(),
        }
    }

    /// Parses and checks the schema version and media type.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SchemaError> {
        let index: Self = serde_json::from_slice(bytes).map_err(SchemaError::Json)?;
        if index.schema_version != 2 {
            return Err(SchemaError::SchemaVersion(index.schema_version));
        }
        if let Some(mt) = &index.media_type {
            if mt != media_type::OCI_INDEX && mt != media_type::DOCKER_MANIFEST_LIST {
                return Err(SchemaError::MediaType {
                    expected: media_type::OCI_INDEX,
                    found: mt.clone(),
                });
            }
        }
        Ok(index)
    }
}

/// What setting a name did to an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexChange {
    /// The name (or untagged entry) is new.
    Added,
    /// The name already pointed at this very descriptor.
    Unchanged,
    /// The name moved from another manifest.
    Moved {
        /// The manifest it pointed at before.
        from: Digest,
    },
}

impl ImageIndex {
    /// Points `name` at `descriptor`: the first entry with that name is replaced in place
    /// (later duplicates removed, so the name becomes unambiguous), a new name is
    /// appended, and entries with other names keep their order.
    pub fn set_name(&mut self, name: &RefName, descriptor: Descriptor) -> IndexChange {
        let descriptor = descriptor.with_annotation(ANNOTATION_REF_NAME, name.as_str());
        let positions: Vec<usize> = self
            .manifests
            .iter()
            .enumerate()
            .filter(|(_, d)| d.ref_name() == Some(name.as_str()))
            .map(|(i, _)| i)
            .collect();
        match positions.as_slice() {
            [] => {
                self.manifests.push(descriptor);
                IndexChange::Added
            }
            [i] if self.manifests[*i] == descriptor => IndexChange::Unchanged,
            [first, rest @ ..] => {
                let from = self.manifests[*first].digest.clone();
                self.manifests[*first] = descriptor;
                for &i in rest.iter().rev() {
                    self.manifests.remove(i);
                }
                IndexChange::Moved { from }
            }
        }
    }

    /// Lists `descriptor` without a name (as oras does for every manifest), unless the
    /// very same entry is there already.
    pub fn add_untagged(&mut self, descriptor: Descriptor) -> IndexChange {
        if self.manifests.contains(&descriptor) {
            return IndexChange::Unchanged;
        }
        self.manifests.push(descriptor);
        IndexChange::Added
    }
}

/// An index edited by many names at once (a copy or a pack of thousands of images): it
/// keeps where each name and each digest sits, so [`set_name`](Self::set_name) and
/// [`add_untagged`](Self::add_untagged) cost O(1) instead of a scan of the index each,
/// with exactly [`ImageIndex::set_name`]'s and [`ImageIndex::add_untagged`]'s results.
#[derive(Debug, Clone)]
pub struct IndexEditor {
    index: ImageIndex,
    by_name: HashMap<String, Vec<usize>>,
    by_digest: HashMap<Digest, Vec<usize>>,
}

impl IndexEditor {
    /// Starts editing `index`.
    pub fn new(index: ImageIndex) -> Self {
        let mut editor = Self {
            index,
            by_name: HashMap::new(),
            by_digest: HashMap::new(),
        };
        editor.rebuild();
        editor
    }

    fn rebuild(&mut self) {
        self.by_name.clear();
        self.by_digest.clear();
        for (i, d) in self.index.manifests.iter().enumerate() {
            if let Some(name) = d.ref_name() {
                self.by_name.entry(name.to_string()).or_default().push(i);
            }
            self.by_digest.entry(d.digest.clone()).or_default().push(i);
        }
    }

    /// The index as edited so far.
    pub fn index(&self) -> &ImageIndex {
        &self.index
    }

    /// The index as edited.
    pub fn into_index(self) -> ImageIndex {
        self.index
    }

    /// Any other change to the index, made by `change` (the positions are recomputed
    /// after it: O(n)).
    pub fn edit<T>(&mut self, change: impl FnOnce(&mut ImageIndex) -> T) -> T {
        let result = change(&mut self.index);
        self.rebuild();
        result
    }

    /// As [`ImageIndex::set_name`].
    pub fn set_name(&mut self, name: &RefName, descriptor: Descriptor) -> IndexChange {
        let positions = self.by_name.get(name.as_str()).map_or(0, Vec::len);
        if positions > 1 {
            // The name is duplicated (a hostile or hand-edited index): the general case
            // removes entries, which moves every later position.
            return self.edit(|index| index.set_name(name, descriptor));
        }
        let descriptor = descriptor.with_annotation(ANNOTATION_REF_NAME, name.as_str());
        match self
            .by_name
            .get(name.as_str())
            .and_then(|p| p.first())
            .copied()
        {
            None => {
                let i = self.index.manifests.len();
                self.by_name.insert(name.to_string(), vec![i]);
                self.by_digest
                    .entry(descriptor.digest.clone())
                    .or_default()
                    .push(i);
                self.index.manifests.push(descriptor);
                IndexChange::Added
            }
            Some(i) if self.index.manifests[i] == descriptor => IndexChange::Unchanged,
            Some(i) => {
                let from = self.index.manifests[i].digest.clone();
                if let Some(at) = self.by_digest.get_mut(&from) {
                    at.retain(|&p| p != i);
                }
                self.by_digest
                    .entry(descriptor.digest.clone())
                    .or_default()
                    .push(i);
                self.index.manifests[i] = descriptor;
                IndexChange::Moved { from }
            }
        }
    }

    /// As [`ImageIndex::add_untagged`].
    pub fn add_untagged(&mut self, descriptor: Descriptor) -> IndexChange {
        let present = self
            .by_digest
            .get(&descriptor.digest)
            .is_some_and(|at| at.iter().any(|&i| self.index.manifests[i] == descriptor));
        if present {
            return IndexChange::Unchanged;
        }
        let i = self.index.manifests.len();
        self.by_digest
            .entry(descriptor.digest.clone())
            .or_default()
            .push(i);
        if let Some(name) = descriptor.ref_name() {
            self.by_name.entry(name.to_string()).or_default().push(i);
        }
        self.index.manifests.push(descriptor);
        IndexChange::Added
    }
}

impl ImageManifest {
    /// Parses and checks the schema version and media type.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SchemaError> {
        let manifest: Self = serde_json::from_slice(bytes).map_err(SchemaError::Json)?;
        if manifest.schema_version != 2 {
            return Err(SchemaError::SchemaVersion(manifest.schema_version));
        }
        if let Some(mt) = &manifest.media_type {
            if mt != media_type::OCI_MANIFEST && mt != media_type::DOCKER_MANIFEST {
                return Err(SchemaError::MediaType {
                    expected: media_type::OCI_MANIFEST,
                    found: mt.clone(),
                });
            }
        }
        Ok(manifest)
    }
}

/// Why a manifest or index is not acceptable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// Not JSON of the expected shape (includes line and column).
    #[error("{0}")]
    Json(serde_json::Error),
    /// `schemaVersion` is not 2.
    #[error("schemaVersion is {0}, expected 2")]
    SchemaVersion(u32),
    /// `mediaType` inside the document is not the expected one.
    #[error("mediaType is {found:?}, expected {expected:?}")]
    MediaType {
        /// What we expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_editor_gives_the_same_index_and_changes_as_one_name_at_a_time() {
        let d = |n: u8| Descriptor::new(media_type::OCI_MANIFEST, Digest::of(&[n]), 1);
        let name = |s: &str| RefName::parse(s).unwrap();
        let mut start = ImageIndex::empty();
        start.set_name(&name("a"), d(1));
        start.add_untagged(d(2));
        // A duplicated name, as a hand-edited index may have.
        start
            .manifests
            .push(d(3).with_annotation(ANNOTATION_REF_NAME, "b"));
        start
            .manifests
            .push(d(4).with_annotation(ANNOTATION_REF_NAME, "b"));
        let steps: Vec<(Option<&str>, u8)> = vec![
            (Some("a"), 1),
            (Some("a"), 5),
            (Some("c"), 6),
            (None, 2),
            (None, 7),
            (Some("b"), 8),
            (Some("c"), 6),
            (None, 7),
            (Some("d"), 2),
        ];
        let mut one = start.clone();
        let mut editor = IndexEditor::new(start);
        for (n, i) in steps {
            let (a, b) = match n {
                Some(n) => (
                    one.set_name(&name(n), d(i)),
                    editor.set_name(&name(n), d(i)),
                ),
                None => (one.add_untagged(d(i)), editor.add_untagged(d(i))),
            };
            assert_eq!(a, b, "{n:?} {i}");
            assert_eq!(&one, editor.index());
        }
    }

    #[test]
    fn skopeo_index_without_media_type_is_accepted() {
        let i = ImageIndex::from_slice(br#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
        assert!(i.media_type.is_none());
    }

    #[test]
    fn wrong_schema_version_and_media_type_are_named() {
        let e = ImageIndex::from_slice(br#"{"schemaVersion":1,"manifests":[]}"#).unwrap_err();
        assert_eq!(e.to_string(), "schemaVersion is 1, expected 2");
        let e = ImageIndex::from_slice(
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("manifest.v1+json"), "{e}");
    }

    #[test]
    fn deeply_nested_json_is_refused_without_overflowing_the_stack() {
        let mut s = String::from(r#"{"schemaVersion":2,"manifests":[],"x":"#);
        s.push_str(&"[".repeat(100_000));
        assert!(ImageIndex::from_slice(s.as_bytes()).is_err());
    }
}
