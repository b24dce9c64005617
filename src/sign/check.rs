//! Checking the signatures stored for an image against trusted public keys, offline.
//!
//! A signature is valid for an image when: its payload blob is intact (size and sha256
//! match the layer), the payload is a cosign simple-signing document whose
//! `docker-manifest-digest` is the image's digest, and the base64 DER signature in the
//! layer annotation verifies over the payload bytes with one of the keys.

use serde::Serialize;

use crate::graph::{Role, Scope, Walker, MAX_DEPTH};
use crate::oci::{Descriptor, Digest, ImageIndex};
use crate::store::document_reader;
use crate::store::ImageSource;

use super::keys::PublicKey;
use super::payload::SimpleSigning;
use super::store::{
    is_signature_entry, read_signature_manifest, read_signatures, signature_entries, signature_name,
};

/// What one stored signature turned out to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// Valid, by this trusted key.
    Valid {
        /// The key's id (sha256 of its SubjectPublicKeyInfo).
        key: Digest,
        /// The identity it was signed for (the payload's `docker-reference`); whether it
        /// fits the name the image is used by is the trust rule's question
        /// ([`crate::trust`]).
        identity: String,
    },
    /// Intact and about this image, but made by none of the trusted keys (or altered).
    NotByTrustedKey,
    /// The payload vouches for another digest.
    OtherDigest {
        /// The digest it names.
        names: String,
    },
    /// The layer, payload or signature is damaged or malformed.
    Broken {
        /// What is wrong.
        reason: String,
    },
}

/// One stored signature and its status.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureCheck {
    /// The payload layer's digest.
    pub layer: Digest,
    /// What it turned out to be.
    #[serde(flatten)]
    pub status: SignatureStatus,
}

/// The signatures of one image, checked.
#[derive(Debug, Clone, Serialize)]
pub struct ImageSignatures {
    /// The digest signed (a manifest, or an index).
    pub digest: Digest,
    /// The signature image's name (`sha256-<hex>.sig`).
    pub signature_image: String,
    /// Whether a signature image exists at all.
    pub found: bool,
    /// The signature image's manifest digest, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_manifest: Option<Digest>,
    /// Problems reading the signature image itself.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
    /// Every signature layer, checked.
    pub signatures: Vec<SignatureCheck>,
}

impl ImageSignatures {
    /// The key of the first valid signature, if any (whatever identity it names).
    pub fn trusted_by(&self) -> Option<&Digest> {
        self.valid().next().map(|(key, _)| key)
    }

    /// Every valid signature's key and signed identity, in stored order.
    pub fn valid(&self) -> impl Iterator<Item = (&Digest, &str)> {
        self.signatures.iter().filter_map(|s| match &s.status {
            SignatureStatus::Valid { key, identity } => Some((key, identity.as_str())),
            _ => None,
        })
    }

    /// Whether no signature at all is stored.
    pub fn is_unsigned(&self) -> bool {
        self.signatures.is_empty() && self.unreadable.is_empty()
    }

    /// One sentence per signature that is not valid, for messages.
    pub fn reasons(&self) -> Vec<String> {
        let mut out: Vec<String> = self.unreadable.clone();
        for (i, s) in self.signatures.iter().enumerate() {
            let what = format!("signature {} (layer {})", i + 1, s.layer.short());
            match &s.status {
                SignatureStatus::Valid { .. } => {}
                SignatureStatus::NotByTrustedKey => out.push(format!(
                    "{what} does not verify with any trusted key (another key, or an altered payload or signature)"
                )),
                SignatureStatus::OtherDigest { names } => out.push(format!(
                    "{what} is for {names}, not for this image"
                )),
                SignatureStatus::Broken { reason } => out.push(format!("{what}: {reason}")),
            }
        }
        out
    }
}

/// Checks every signature stored for `digest` in `source` against `keys`.
///
/// Never fails: unreadable signature images and damaged layers are reported in the
/// result, so that a damaged signature reads as "not validly signed".
pub fn check_image(
    source: &dyn ImageSource,
    index: &ImageIndex,
    digest: &Digest,
    keys: &[PublicKey],
) -> ImageSignatures {
    let entries = signature_entries(index, digest);
    let mut result = ImageSignatures {
        digest: digest.clone(),
        signature_image: signature_name(digest).to_string(),
        found: !entries.is_empty(),
        signature_manifest: entries.first().map(|e| e.digest.clone()),
        unreadable: Vec::new(),
        signatures: Vec::new(),
    };
    for entry in entries {
        let manifest = match read_signature_manifest(source, entry) {
            Ok(m) => m,
            Err(e) => {
                result.unreadable.push(format!(
                    "signature image {} is unreadable: {e}",
                    entry.digest
                ));
                continue;
            }
        };
        for stored in read_signatures(source, &manifest) {
            let status = match (&stored.payload, &stored.signature) {
                (Err(e), _) => SignatureStatus::Broken {
                    reason: format!("payload: {e}"),
                },
                (_, Err(e)) => SignatureStatus::Broken { reason: e.clone() },
                (Ok(payload), Ok(signature)) => check_one(payload, signature, digest, keys),
            };
            result.signatures.push(SignatureCheck {
                layer: stored.layer.digest.clone(),
                status,
            });
        }
    }
    result
}

fn check_one(
    payload: &[u8],
    signature: &[u8],
    digest: &Digest,
    keys: &[PublicKey],
) -> SignatureStatus {
    let parsed = match SimpleSigning::parse(payload) {
        Ok(p) => p,
        Err(reason) => return SignatureStatus::Broken { reason },
    };
    if parsed.critical.image.docker_manifest_digest != digest.to_string() {
        return SignatureStatus::OtherDigest {
            names: parsed.critical.image.docker_manifest_digest,
        };
    }
    match keys.iter().find(|k| k.verifies(payload, signature)) {
        Some(k) => SignatureStatus::Valid {
            key: k.id().clone(),
            identity: parsed.critical.identity.docker_reference,
        },
        None => SignatureStatus::NotByTrustedKey,
    }
}

/// `name (sha256:…)` (its first name in index.json), or just the digest for an untagged
/// image: how messages name an image.
pub fn image_label(index: &ImageIndex, digest: &Digest) -> String {
    let names: Vec<&str> = index
        .manifests
        .iter()
        .filter(|d| &d.digest == digest && !is_signature_entry(d))
        .filter_map(|d| d.ref_name())
        .collect();
    match names.first() {
        Some(n) => format!("{n} ({digest})"),
        None => digest.to_string(),
    }
}

/// Whether the index `entry` lists `manifest`, directly or through nested indexes (as
/// deep as the graph allows; an index that cannot be read lists nothing).
pub fn index_lists(source: &dyn ImageSource, entry: &Descriptor, manifest: &Digest) -> bool {
    let mut read = document_reader(source, source.limits().max_manifest_size);
    let mut walker = Walker::new(&mut read).scope(Scope::Indexes);
    walker.entry(entry);
    walker
        .finish()
        .edges
        .iter()
        .any(|e| e.role == Role::Child && &e.descriptor.digest == manifest && e.depth <= MAX_DEPTH)
}
