//! Conversions between our OCI types and the [`oci_spec`] crate's (feature `oci-spec`).
//!
//! For embedders: Rust code built on oci-client, ocidir or youki's tooling takes
//! `oci_spec::image` types, and these conversions hand it our descriptors, manifests and
//! indexes (and take theirs back) without going through JSON. Both directions are
//! `TryFrom`, and both fail rather than lose or change anything:
//!
//! * ours → oci-spec fails on what oci-spec has no field for: unknown (vendor) fields,
//!   which our types keep in `extra`; a descriptor without `mediaType` (oci-spec requires
//!   one); an architecture or OS that oci-spec would rename (0.10 reads `armbe` as
//!   `arm64be`).
//! * oci-spec → ours fails on digests we do not trust (anything but `sha256`).
//!
//! The conversion is of values, not bytes: never hash a document re-serialised by
//! oci-spec (its annotations are a `HashMap`, so key order varies, and it writes
//! `os_version` where OCI says `os.version`). Hash the bytes as stored; see
//! docs/dependencies.md.
//!
//! The oci-spec version is re-exported as [`oci_spec`] so callers need not match it.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;

pub use oci_spec;
use oci_spec::image as spec;
use serde_json::Value;

use super::descriptor::{Descriptor, Platform};
use super::digest::{Digest, DigestError};
use super::manifest::{ImageIndex, ImageManifest};

/// Why a value cannot cross between our types and oci-spec's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// oci-spec has no way to hold this value unchanged.
    #[error("{field}: {value} cannot be represented by oci-spec: {reason}")]
    Unrepresentable {
        /// Where in the document (`layers[0].platform.architecture`).
        field: String,
        /// The value as found (JSON or plain text).
        value: String,
        /// Why, and what to do.
        reason: &'static str,
    },
    /// A digest from oci-spec that we do not accept.
    #[error("{field}: {source}")]
    Digest {
        /// Where in the document.
        field: String,
        /// What is wrong with the digest.
        source: DigestError,
    },
    /// oci-spec refused a value we hold (its own validation).
    #[error("{field}: oci-spec refused {value:?}: {reason}")]
    Refused {
        /// Where in the document.
        field: String,
        /// The value as found.
        value: String,
        /// oci-spec's message.
        reason: String,
    },
}

fn unrepresentable(field: &str, value: impl Display, reason: &'static str) -> SpecError {
    SpecError::Unrepresentable {
        field: field.to_string(),
        value: value.to_string(),
        reason,
    }
}

/// A media type for oci-spec. Its `From<&str>` is lossless for every string (known
/// ones map to variants that print the same), which this checks rather than assumes.
fn media_type_to_spec(field: &str, s: &str) -> Result<spec::MediaType, SpecError> {
    let m = spec::MediaType::from(s);
    if m.to_string() != s {
        return Err(unrepresentable(
            field,
            format!("{s:?}"),
            "oci-spec would change this media type",
        ));
    }
    Ok(m)
}

fn annotations_to_spec(a: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!a.is_empty()).then(|| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn annotations_from_spec(a: &Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    a.iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn strings(field: &str, v: &Value) -> Result<Vec<String>, SpecError> {
    let not_strings = || unrepresentable(field, v, "oci-spec holds only an array of strings here");
    v.as_array()
        .ok_or_else(not_strings)?
        .iter()
        .map(|s| s.as_str().map(str::to_string).ok_or_else(not_strings))
        .collect()
}

/// Fails on the first `extra` field oci-spec has no place for.
fn no_other_fields(
    field: &str,
    extra: &BTreeMap<String, Value>,
    known: &[&str],
) -> Result<(), SpecError> {
    match extra.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        Some((k, v)) => Err(unrepresentable(
            &format!("{field}{k}"),
            v,
            "oci-spec has no field for it and would drop it; remove it or use our types",
        )),
        None => Ok(()),
    }
}

fn digest_from_spec(field: &str, d: &spec::Digest) -> Result<Digest, SpecError> {
    Digest::parse(d.as_ref()).map_err(|source| SpecError::Digest {
        field: format!("{field}digest"),
        source,
    })
}

fn platform_to_spec(field: &str, p: &Platform) -> Result<spec::Platform, SpecError> {
    no_other_fields(field, &p.extra, &["os.features", "features"])?;
    let architecture = spec::Arch::from(p.architecture.as_str());
    if architecture.to_string() != p.architecture {
        return Err(unrepresentable(
            &format!("{field}architecture"),
            format!("{:?}", p.architecture),
            "oci-spec would read it as another architecture",
        ));
    }
    let os = spec::Os::from(p.os.as_str());
    if os.to_string() != p.os {
        return Err(unrepresentable(
            &format!("{field}os"),
            format!("{:?}", p.os),
            "oci-spec would read it as another OS",
        ));
    }
    let mut out = spec::Platform::default();
    out.set_architecture(architecture);
    out.set_os(os);
    out.set_os_version(p.os_version.clone());
    out.set_variant(p.variant.clone());
    if let Some(v) = p.extra.get("os.features") {
        out.set_os_features(Some(strings(&format!("{field}os.features"), v)?));
    }
    if let Some(v) = p.extra.get("features") {
        out.set_features(Some(strings(&format!("{field}features"), v)?));
    }
    Ok(out)
}

fn platform_from_spec(p: &spec::Platform) -> Platform {
    let mut extra = BTreeMap::new();
    if let Some(f) = p.os_features() {
        extra.insert("os.features".to_string(), Value::from(f.clone()));
    }
    if let Some(f) = p.features() {
        extra.insert("features".to_string(), Value::from(f.clone()));
    }
    Platform {
        architecture: p.architecture().to_string(),
        os: p.os().to_string(),
        os_version: p.os_version().clone(),
        variant: p.variant().clone(),
        extra,
    }
}

/// `field` is the path prefix of this descriptor, ending in `.` (or empty at the top).
fn descriptor_to_spec(field: &str, d: &Descriptor) -> Result<spec::Descriptor, SpecError> {
    no_other_fields(field, &d.extra, &["urls", "data"])?;
    if d.media_type.is_empty() {
        return Err(unrepresentable(
            &format!("{field}mediaType"),
            "(missing)",
            "oci-spec requires a media type on every descriptor",
        ));
    }
    let media_type = media_type_to_spec(&format!("{field}mediaType"), &d.media_type)?;
    let digest: spec::Digest =
        d.digest
            .to_string()
            .parse()
            .map_err(|e: oci_spec::OciSpecError| SpecError::Refused {
                field: format!("{field}digest"),
                value: d.digest.to_string(),
                reason: e.to_string(),
            })?;
    let mut out = spec::Descriptor::new(media_type, d.size, digest);
    if let Some(a) = &d.artifact_type {
        out.set_artifact_type(Some(media_type_to_spec(
            &format!("{field}artifactType"),
            a,
        )?));
    }
    if let Some(p) = &d.platform {
        out.set_platform(Some(platform_to_spec(&format!("{field}platform."), p)?));
    }
    out.set_annotations(annotations_to_spec(&d.annotations));
    if let Some(v) = d.extra.get("urls") {
        out.set_urls(Some(strings(&format!("{field}urls"), v)?));
    }
    if let Some(v) = d.extra.get("data") {
        let data = v.as_str().ok_or_else(|| {
            unrepresentable(
                &format!("{field}data"),
                v,
                "oci-spec holds only a string here",
            )
        })?;
        out.set_data(Some(data.to_string()));
    }
    Ok(out)
}

fn descriptor_from_spec(field: &str, d: &spec::Descriptor) -> Result<Descriptor, SpecError> {
    let mut extra = BTreeMap::new();
    if let Some(urls) = d.urls() {
        extra.insert("urls".to_string(), Value::from(urls.clone()));
    }
    if let Some(data) = d.data() {
        extra.insert("data".to_string(), Value::from(data.clone()));
    }
    Ok(Descriptor {
        media_type: d.media_type().to_string(),
        digest: digest_from_spec(field, d.digest())?,
        size: d.size(),
        artifact_type: d.artifact_type().as_ref().map(|m| m.to_string()),
        platform: d.platform().as_ref().map(platform_from_spec),
        annotations: annotations_from_spec(d.annotations()),
        extra,
    })
}

fn descriptors_to_spec(field: &str, ds: &[Descriptor]) -> Result<Vec<spec::Descriptor>, SpecError> {
    ds.iter()
        .enumerate()
        .map(|(i, d)| descriptor_to_spec(&format!("{field}[{i}]."), d))
        .collect()
}

fn descriptors_from_spec(
    field: &str,
    ds: &[spec::Descriptor],
) -> Result<Vec<Descriptor>, SpecError> {
    ds.iter()
        .enumerate()
        .map(|(i, d)| descriptor_from_spec(&format!("{field}[{i}]."), d))
        .collect()
}

impl TryFrom<&Descriptor> for spec::Descriptor {
    type Error = SpecError;

    /// Fails on fields oci-spec cannot hold (see the module documentation).
    fn try_from(d: &Descriptor) -> Result<Self, SpecError> {
        descriptor_to_spec("", d)
    }
}

impl TryFrom<&spec::Descriptor> for Descriptor {
    type Error = SpecError;

    /// Fails on a digest that is not `sha256`.
    fn try_from(d: &spec::Descriptor) -> Result<Self, SpecError> {
        descriptor_from_spec("", d)
    }
}

impl TryFrom<&Platform> for spec::Platform {
    type Error = SpecError;

    /// Fails on fields oci-spec cannot hold and on names it would change.
    fn try_from(p: &Platform) -> Result<Self, SpecError> {
        platform_to_spec("", p)
    }
}

impl From<&spec::Platform> for Platform {
    fn from(p: &spec::Platform) -> Self {
        platform_from_spec(p)
    }
}

impl TryFrom<&ImageManifest> for spec::ImageManifest {
    type Error = SpecError;

    /// Fails on fields oci-spec cannot hold, in the manifest or any descriptor.
    fn try_from(m: &ImageManifest) -> Result<Self, SpecError> {
        no_other_fields("", &m.extra, &[])?;
        let mut out = spec::ImageManifestBuilder::default()
            .schema_version(m.schema_version)
            .config(descriptor_to_spec("config.", &m.config)?)
            .layers(descriptors_to_spec("layers", &m.layers)?)
            .build()
            .map_err(|e| SpecError::Refused {
                field: String::new(),
                value: "manifest".into(),
                reason: e.to_string(),
            })?;
        if let Some(t) = &m.media_type {
            out.set_media_type(Some(media_type_to_spec("mediaType", t)?));
        }
        if let Some(t) = &m.artifact_type {
            out.set_artifact_type(Some(media_type_to_spec("artifactType", t)?));
        }
        if let Some(s) = &m.subject {
            out.set_subject(Some(descriptor_to_spec("subject.", s)?));
        }
        out.set_annotations(annotations_to_spec(&m.annotations));
        Ok(out)
    }
}

impl TryFrom<&spec::ImageManifest> for ImageManifest {
    type Error = SpecError;

    /// Fails on a digest that is not `sha256`.
    fn try_from(m: &spec::ImageManifest) -> Result<Self, SpecError> {
        Ok(Self {
            schema_version: m.schema_version(),
            media_type: m.media_type().as_ref().map(|t| t.to_string()),
            artifact_type: m.artifact_type().as_ref().map(|t| t.to_string()),
            config: descriptor_from_spec("config.", m.config())?,
            layers: descriptors_from_spec("layers", m.layers())?,
            subject: m
                .subject()
                .as_ref()
                .map(|s| descriptor_from_spec("subject.", s))
                .transpose()?,
            annotations: annotations_from_spec(m.annotations()),
            extra: BTreeMap::new(),
        })
    }
}

impl TryFrom<&ImageIndex> for spec::ImageIndex {
    type Error = SpecError;

    /// Fails on fields oci-spec cannot hold, in the index or any descriptor.
    fn try_from(i: &ImageIndex) -> Result<Self, SpecError> {
        no_other_fields("", &i.extra, &[])?;
        let mut out = spec::ImageIndexBuilder::default()
            .schema_version(i.schema_version)
            .manifests(descriptors_to_spec("manifests", &i.manifests)?)
            .build()
            .map_err(|e| SpecError::Refused {
                field: String::new(),
                value: "index".into(),
                reason: e.to_string(),
            })?;
        if let Some(t) = &i.media_type {
            out.set_media_type(Some(media_type_to_spec("mediaType", t)?));
        }
        if let Some(t) = &i.artifact_type {
            out.set_artifact_type(Some(media_type_to_spec("artifactType", t)?));
        }
        if let Some(s) = &i.subject {
            out.set_subject(Some(descriptor_to_spec("subject.", s)?));
        }
        out.set_annotations(annotations_to_spec(&i.annotations));
        Ok(out)
    }
}

impl TryFrom<&spec::ImageIndex> for ImageIndex {
    type Error = SpecError;

    /// Fails on a digest that is not `sha256`.
    fn try_from(i: &spec::ImageIndex) -> Result<Self, SpecError> {
        Ok(Self {
            schema_version: i.schema_version(),
            media_type: i.media_type().as_ref().map(|t| t.to_string()),
            artifact_type: i.artifact_type().as_ref().map(|t| t.to_string()),
            manifests: descriptors_from_spec("manifests", i.manifests())?,
            subject: i
                .subject()
                .as_ref()
                .map(|s| descriptor_from_spec("subject.", s))
                .transpose()?,
            annotations: annotations_from_spec(i.annotations()),
            extra: BTreeMap::new(),
        })
    }
}
