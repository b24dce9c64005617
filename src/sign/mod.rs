//! Offline signatures that travel inside the layout, in cosign's format.
//!
//! * [`keys`]: ECDSA P-256 key pairs: PKCS#8 PEM private keys (optionally encrypted),
//!   SPKI PEM public keys, the files `keygen` writes.
//! * [`payload`]: the simple-signing JSON a signature covers, naming a manifest digest.
//! * [`store`]: signature images named `sha256-<hex>.sig` in the same layout, one layer per
//!   signature (what cosign pushes to a registry).
//! * [`check`]: checking stored signatures against trusted public keys.
//! * [`policy`]: a site's containers-policy.json(5): which keys and identities are
//!   required for which names (parsed here; applied by [`crate::trust`], the one rule
//!   `verify`, `load`, `list` and `inspect` share).
//!
//! [`sign`] ties them together. Nothing here needs the network: the trust crosses the
//! air gap inside the layout. See `docs/signing.md` for the trust model and the format.

pub mod check;
mod error;
pub mod keys;
pub mod payload;
pub mod policy;
pub mod store;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::PathBuf;

use serde::Serialize;

use crate::image::resolve::select;
use crate::image::ResolveError;
use crate::layout::{Layout, LayoutWriter};
use crate::limits::Limits;
use crate::oci::companion::companion_subject;
use crate::oci::cosign::signature_entries_by_digest;
use crate::oci::digest::Hasher;
use crate::oci::{Descriptor, Digest, ImageIndex, ImageRef, Selector};
use crate::progress::Progress;
use crate::store::StoreError;
use crate::store::{closure_of, ImageSource};

pub use check::{check_image, ImageSignatures, SignatureStatus};
pub use error::{Result, SignError};
pub use keys::{write_key_pair, KeyError, KeyPairFiles, PrivateKey, PublicKey};
pub use payload::SimpleSigning;
pub use policy::{Policy, Requirement, SignedIdentity};
pub use store::{count_signatures, is_signature_entry, signature_name, signed_digest, Added};

/// Media type of a signature layer: the simple-signing payload.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Layer annotation carrying the base64 DER signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// What to sign, with which key.
#[derive(Debug)]
pub struct SignOptions<'a> {
    /// The images: `PATH` (every image), `PATH:NAME` or `PATH@sha256:…`; PATH must be a
    /// layout directory (signatures are written into it).
    pub reference: ImageRef,
    /// The private key.
    pub key: &'a PrivateKey,
    /// `docker-reference` to write in the payload (a repository such as
    /// `registry.local/ebpf/probe`); default: each image's name without its tag.
    pub identity: Option<String>,
    /// Claims for the payload's `optional` object (cosign's `-a KEY=VALUE`).
    pub annotations: BTreeMap<String, String>,
    /// `created` of the signature image's config (from `SOURCE_DATE_EPOCH`); none by
    /// default, so signing is reproducible.
    pub created: Option<String>,
    /// Bounds on the documents read.
    pub limits: Limits,
    /// Where the bytes hashed (every blob of each image is checked) are counted.
    pub progress: Progress,
}

/// One image signed.
#[derive(Debug, Clone, Serialize)]
pub struct SignedImage {
    /// Its name, if it has one.
    pub name: Option<String>,
    /// The digest signed (the index.json entry's: a manifest or an index).
    pub digest: Digest,
    /// The repository written as `docker-reference`.
    pub identity: String,
    /// `added`, or `unchanged` when this key had already signed the same payload.
    pub change: Added,
    /// The signature image's name (`sha256-<hex>.sig`).
    pub signature_image: String,
    /// The signature image's manifest digest.
    pub signature_manifest: Digest,
    /// How many signatures the image now has (by any key).
    pub signatures: usize,
}

/// What [`sign`] did.
#[derive(Debug, Clone, Serialize)]
pub struct SignReport {
    /// The layout written.
    pub layout: PathBuf,
    /// The signing key's id (sha256 of its public key).
    pub key: Digest,
    /// The images, in index.json order.
    pub images: Vec<SignedImage>,
}

/// Signs the selected images of a layout with `options.key` and stores the signatures in
/// it, under the layout's lock, in one index.json update.
///
/// Each image is checked first (every blob of it hashed: only intact content is
/// signed). A signature is added per image unless a valid one by the same key over the
/// same payload is already stored (signatures are deterministic, RFC 6979, so signing
/// twice changes nothing); other signatures are kept.
///
/// Fails, changing nothing, with: [`SignError::NotALayoutDirectory`] when PATH is not a
/// layout directory, [`SignError::SignatureSelected`] when a selected entry is itself a
/// signature, [`SignError::InvalidIdentity`] or [`SignError::NoRepository`] when no valid
/// repository name can be given as `docker-reference`; the integrity errors ([`StoreError::DigestMismatch`],
/// [`StoreError::SizeMismatch`], [`StoreError::BlobMissing`]) when an image is damaged; the
/// selection errors of [`select`].
pub fn sign(options: &SignOptions<'_>) -> Result<SignReport> {
    let path = &options.reference.path;
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(SignError::NotALayoutDirectory { path: path.clone() }),
        Err(_) => {
            return Err(StoreError::NotALayout {
                path: path.clone(),
                reason: "no such directory".into(),
            }
            .into())
        }
    }
    // Refuse anything that is not a layout before the writer could create one.
    Layout::open(path)?;
    if let Some(identity) = &options.identity {
        payload::check_repository(identity).map_err(|reason| SignError::InvalidIdentity {
            path: path.clone(),
            identity: identity.clone(),
            reason,
        })?;
    }
    let mut writer = LayoutWriter::open_existing_with(path, &options.limits, &options.progress)?;
    let index = writer.index().clone();
    let selected = selected_images(writer.layout(), &index, &options.reference.selector)?;
    let public = options.key.public_key();
    let optional = (!options.annotations.is_empty()).then(|| {
        options
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect()
    });
    // Everything is checked before anything is written.
    let mut plans = Vec::new();
    let names_by_image = names_by_image(&index);
    for entry in &selected {
        check_closure(writer.layout(), entry)?;
        let names = names_by_image
            .get(&entry.digest)
            .cloned()
            .unwrap_or_default();
        let identity = match &options.identity {
            Some(i) => i.clone(),
            None => names
                .iter()
                .find_map(|n| payload::repository_of(n))
                .ok_or_else(|| SignError::NoRepository {
                    path: path.clone(),
                    digest: entry.digest.clone(),
                    names: names.clone(),
                })?,
        };
        plans.push((entry.clone(), names, identity));
    }
    let mut images = Vec::new();
    for (entry, names, identity) in plans {
        let payload = SimpleSigning::new(&identity, &entry.digest, optional.clone()).to_bytes();
        let signature = options.key.sign(&payload);
        let (change, manifest, signatures) = store::add_signature(
            &mut writer,
            &entry.digest,
            &store::NewSignature { payload, signature },
            &public,
            options.created.as_deref(),
        )?;
        images.push(SignedImage {
            name: names.into_iter().next(),
            signature_image: signature_name(&entry.digest).to_string(),
            digest: entry.digest,
            identity,
            change,
            signature_manifest: manifest.digest,
            signatures,
        });
    }
    writer.commit()?;
    Ok(SignReport {
        layout: path.clone(),
        key: public.id().clone(),
        images,
    })
}

/// How many signature layers are stored for every signed digest of `index`, with the
/// semantics of [`count_signatures`] (unchecked, by any key; a signature image that cannot
/// be read counts 0), computed in one pass over the entries instead of one per image:
/// `list` of n names costs O(n), not O(n²). Digests with no signature are absent.
pub fn signature_counts(source: &dyn ImageSource, index: &ImageIndex) -> HashMap<Digest, usize> {
    signature_entries_by_digest(index)
        .into_iter()
        .map(|(signed, entries)| {
            let layers = entries
                .into_iter()
                .filter_map(|entry| store::read_signature_manifest(source, entry).ok())
                .map(|m| {
                    m.layers
                        .iter()
                        .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
                        .count()
                })
                .sum();
            (signed, layers)
        })
        .collect()
}

/// The index.json entries to sign: signature images are never signed themselves.
fn selected_images(
    source: &dyn ImageSource,
    index: &ImageIndex,
    selector: &Selector,
) -> Result<Vec<Descriptor>> {
    let picked = select(source, index, selector)?;
    if let Some(sig) = picked.iter().find(|d| is_signature_entry(d)) {
        if !matches!(selector, Selector::All) {
            return Err(SignError::SignatureSelected {
                path: source.location().to_path_buf(),
                name: sig.ref_name().unwrap_or_default().to_string(),
                signed: sig.ref_name().and_then(signed_digest),
            });
        }
    }
    // Each image once, however many names it has (in index order).
    let mut seen = HashSet::new();
    let images: Vec<Descriptor> = picked
        .into_iter()
        .filter(|d| !is_signature_entry(d) && seen.insert(d.digest.clone()))
        .collect();
    if images.is_empty() {
        return Err(ResolveError::Empty {
            path: source.location().to_path_buf(),
        }
        .into());
    }
    Ok(images)
}

/// The names index.json gives each image, companion names excepted, each once in index
/// order: one pass over the index, however many images are signed.
fn names_by_image(index: &ImageIndex) -> HashMap<&Digest, Vec<String>> {
    let mut names: HashMap<&Digest, Vec<String>> = HashMap::new();
    let mut seen = HashSet::new();
    for entry in &index.manifests {
        let Some(name) = entry.ref_name() else {
            continue;
        };
        if companion_subject(name).is_none() && seen.insert((&entry.digest, name)) {
            names
                .entry(&entry.digest)
                .or_default()
                .push(name.to_string());
        }
    }
    names
}

/// Hashes every blob an index.json entry reaches (the whole closure of the graph: nested
/// indexes, manifests, configs, layers, subjects) and compares it with its descriptor.
fn check_closure(source: &dyn ImageSource, descriptor: &Descriptor) -> Result<()> {
    let closure = closure_of(
        source,
        std::slice::from_ref(descriptor),
        source.limits().max_manifest_size,
        true,
    )?;
    for blob in closure.blobs() {
        if closure.node(&blob.digest).is_none() {
            check_blob_streaming(source, blob)?;
        }
    }
    Ok(())
}

/// Hashes one blob in constant memory and compares size and digest.
fn check_blob_streaming(
    source: &dyn ImageSource,
    descriptor: &Descriptor,
) -> crate::store::Result<()> {
    let reader = source.open_blob(descriptor)?;
    let mut reader = reader.take(descriptor.size.saturating_add(1));
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 256 << 10];
    let location = source.location().to_path_buf();
    loop {
        let n = reader.read(&mut buf).map_err(crate::store::io_err(
            "reading",
            location.join(descriptor.digest.blob_path()),
        ))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        source.progress().add_hashed(n as u64);
    }
    let (found, size) = hasher.finish();
    if size != descriptor.size {
        return Err(StoreError::SizeMismatch {
            path: location,
            digest: descriptor.digest.clone(),
            expected: descriptor.size,
            found: size,
        });
    }
    if found != descriptor.digest {
        return Err(StoreError::DigestMismatch {
            path: location,
            expected: descriptor.digest.clone(),
            found,
        });
    }
    Ok(())
}
