//! Layouts written and read by hand, as another tool would: blobs, index.json, descriptors.
//!
//! Digests here are computed with `sha2` directly, not with the crate under test, so a
//! fixture never depends on the code it checks.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// index.json of a layout, parsed.
pub fn index_json(layout: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap()
}

/// A blob of a layout by digest string.
pub fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
}

/// The manifest descriptor named `name` in index.json.
pub fn entry(layout: &Path, name: &str) -> Value {
    index_json(layout)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no entry named {name}"))
}

/// The digest of the index.json entry named `name`.
pub fn digest_of(layout: &Path, name: &str) -> String {
    entry(layout, name)["digest"].as_str().unwrap().to_string()
}

/// Stores `bytes` as a blob of `layout` (creating `blobs/sha256` if needed) and returns its
/// descriptor: `mediaType`, `digest`, `size`. Callers that want only the digest take
/// `["digest"]`.
pub fn put_blob(layout: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let hex = hex::encode(Sha256::digest(bytes));
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&hex), bytes).unwrap();
    json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len()})
}

/// Writes an OCI layout by hand, blob by blob, as another tool would.
pub struct Fixture {
    root: PathBuf,
}

impl Fixture {
    /// A new layout at `root`: `oci-layout` and an empty `blobs/sha256`, no index.json yet.
    pub fn new(root: &Path) -> Self {
        std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
        std::fs::write(
            root.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        Self {
            root: root.to_path_buf(),
        }
    }

    /// Stores `bytes` and returns its descriptor.
    pub fn blob(&self, media_type: &str, bytes: &[u8]) -> Value {
        put_blob(&self.root, media_type, bytes)
    }

    /// Stores a JSON document (serialised as given) and returns its descriptor.
    pub fn json(&self, media_type: &str, doc: &Value) -> Value {
        self.blob(media_type, &serde_json::to_vec(doc).unwrap())
    }

    /// Writes index.json with these entries (no `mediaType`, as skopeo and oras-go write).
    pub fn index(&self, entries: Vec<Value>) {
        let index = json!({"schemaVersion": 2, "manifests": entries});
        std::fs::write(
            self.root.join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
    }
}
