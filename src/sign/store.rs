//! Where signatures live: an image named `sha256-<hex>.sig` in the same layout, as cosign
//! stores them in a registry, holding one layer per signature.
//!
//! The signature image is an OCI manifest whose config is an ordinary image config
//! (`application/vnd.oci.image.config.v1+json`, `rootfs.diff_ids` listing the layers, as
//! cosign writes it) and whose layers are the payloads
//! (`application/vnd.dev.cosign.simplesigning.v1+json`), each carrying its base64 DER
//! signature in the annotation `dev.cosignproject.cosign/signature`.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;

use crate::layout::LayoutWriter;
use crate::oci::media_type::{OCI_CONFIG, OCI_MANIFEST};
use crate::oci::{Descriptor, Digest, ImageIndex, ImageManifest};
use crate::source::ImageSource;
use crate::store::{Result, StoreError};

pub use crate::oci::cosign::{
    is_signature_entry, signature_entries, signature_name, signed_digest, SIGNATURE_SUFFIX,
};

use super::keys::PublicKey;
use super::payload::MAX_PAYLOAD_SIZE;
use super::{SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE};

/// One signature layer as stored.
#[derive(Debug, Clone)]
pub struct StoredSignature {
    /// The layer's descriptor (payload digest, size, annotations).
    pub layer: Descriptor,
    /// The payload bytes, verified against the layer's digest and size, or why they
    /// could not be read.
    pub payload: std::result::Result<Vec<u8>, String>,
    /// The decoded DER signature, or why there is none.
    pub signature: std::result::Result<Vec<u8>, String>,
}

/// Reads a signature image's manifest (verified against its descriptor).
pub fn read_signature_manifest(
    source: &dyn ImageSource,
    entry: &Descriptor,
) -> Result<ImageManifest> {
    let bytes = source.read_blob(entry, source.limits().max_manifest_size)?;
    ImageManifest::from_slice(&bytes).map_err(|e| StoreError::Schema {
        path: source.location().to_path_buf(),
        what: format!("signature manifest {}", entry.digest),
        source: e,
    })
}

/// The simple-signing layers of a signature manifest, with their payloads read and
/// checked and their signatures decoded. Other layers are ignored.
pub fn read_signatures(source: &dyn ImageSource, manifest: &ImageManifest) -> Vec<StoredSignature> {
    manifest
        .layers
        .iter()
        .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
        .map(|layer| StoredSignature {
            layer: layer.clone(),
            payload: source
                .read_blob(layer, MAX_PAYLOAD_SIZE)
                .map_err(|e| e.to_string()),
            signature: decode_signature(layer),
        })
        .collect()
}

/// The DER signature of a layer, from its base64 annotation.
pub fn decode_signature(layer: &Descriptor) -> std::result::Result<Vec<u8>, String> {
    let b64 = layer.annotations.get(SIGNATURE_ANNOTATION).ok_or_else(|| {
        format!(
            "layer {} has no {SIGNATURE_ANNOTATION} annotation",
            layer.digest
        )
    })?;
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("the {SIGNATURE_ANNOTATION} annotation is not base64: {e}"))
}

/// How many signature layers are stored for `digest` (0 when there is no signature image
/// or it cannot be read). Says nothing about their validity.
pub fn count_signatures(source: &dyn ImageSource, index: &ImageIndex, digest: &Digest) -> usize {
    signature_entries(index, digest)
        .into_iter()
        .filter_map(|entry| read_signature_manifest(source, entry).ok())
        .map(|m| {
            m.layers
                .iter()
                .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
                .count()
        })
        .sum()
}

/// A signature to add: the payload and its DER signature.
#[derive(Debug, Clone)]
pub struct NewSignature {
    /// The payload bytes, exactly as signed.
    pub payload: Vec<u8>,
    /// The DER ECDSA signature.
    pub signature: Vec<u8>,
}

/// What adding a signature did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Added {
    /// A new signature layer was added.
    Added,
    /// A valid signature by the same key over the same payload was already there.
    Unchanged,
}

/// The config cosign gives a signature image, with our layers' diff ids (the payload
/// digests: layers are stored uncompressed).
#[derive(Serialize)]
struct SignatureConfig<'a> {
    architecture: &'a str,
    os: &'a str,
    config: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<&'a str>,
    rootfs: RootFs,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<Digest>,
}

/// Adds `new` to the signature image of `image` (creating it when there is none) through
/// `writer`, unless a valid signature by `key` over the same payload is already stored.
/// Existing signature layers are kept exactly as they are. Returns what was done, the
/// new signature manifest's descriptor, and how many signatures it now holds.
///
/// Fails if an existing signature image cannot be read (missing or corrupt blobs): run
/// `verify` to see why.
pub fn add_signature(
    writer: &mut LayoutWriter,
    image: &Digest,
    new: &NewSignature,
    key: &PublicKey,
    created: Option<&str>,
) -> Result<(Added, Descriptor, usize)> {
    let name = signature_name(image);
    let existing = signature_entries(writer.index(), image)
        .into_iter()
        .next()
        .cloned();
    let (mut layers, annotations, extra) = match &existing {
        Some(entry) => {
            let manifest = read_signature_manifest(writer.layout(), entry)?;
            for stored in read_signatures(writer.layout(), &manifest) {
                if let (Ok(payload), Ok(sig)) = (&stored.payload, &stored.signature) {
                    if payload == &new.payload && key.verifies(payload, sig) {
                        let count = manifest
                            .layers
                            .iter()
                            .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
                            .count();
                        return Ok((Added::Unchanged, entry.clone(), count));
                    }
                }
            }
            (manifest.layers, manifest.annotations, manifest.extra)
        }
        None => (Vec::new(), BTreeMap::new(), BTreeMap::new()),
    };
    let layer = writer
        .put_bytes(SIMPLE_SIGNING_MEDIA_TYPE, &new.payload)?
        .with_annotation(
            SIGNATURE_ANNOTATION,
            base64::engine::general_purpose::STANDARD.encode(&new.signature),
        );
    layers.push(layer);
    let config = SignatureConfig {
        architecture: "",
        os: "",
        config: BTreeMap::new(),
        created,
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|l| l.digest.clone()).collect(),
        },
    };
    let (config_desc, _) = writer.put_json(OCI_CONFIG, &config)?;
    let count = layers
        .iter()
        .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
        .count();
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        artifact_type: None,
        config: config_desc,
        layers,
        subject: None,
        annotations,
        extra,
    };
    let (manifest_desc, _) = writer.put_json(OCI_MANIFEST, &manifest)?;
    writer.set_name(&name, manifest_desc.clone());
    Ok((Added::Added, manifest_desc, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_names_map_to_digests_and_back() {
        let d = Digest::of(b"x");
        let name = signature_name(&d);
        assert_eq!(name.as_str(), format!("sha256-{}.sig", d.hex()));
        assert_eq!(signed_digest(name.as_str()), Some(d));
        assert_eq!(signed_digest("sha256-abc.sig"), None);
        assert_eq!(signed_digest("tp_counter"), None);
    }
}
