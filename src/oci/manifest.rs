//! Image manifests and image indexes (index.json has the index's shape).

use std::collections::BTreeMap;

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
