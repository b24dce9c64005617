//! Content descriptors and platforms.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::media_type::ANNOTATION_REF_NAME;

/// An OCI content descriptor: what a blob is, its digest and size.
///
/// Annotations are kept in a `BTreeMap` so serialisation order never depends on
/// hashing; fields we do not know are kept in `extra` so that rewriting index.json
/// loses nothing another tool put there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content. Always written; tolerated missing on read.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: Digest,
    /// Size of the referenced content in bytes.
    pub size: u64,
    /// Artifact type, for artifact manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The platform the content is for (index entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations (sorted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Other fields (`urls`, `data`, vendor extensions), preserved as found.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Descriptor {
    /// A descriptor with just media type, digest and size.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Self {
        Self {
            media_type: media_type.into(),
            digest,
            size,
            artifact_type: None,
            platform: None,
            annotations: BTreeMap::new(),
            extra: BTreeMap::new(),
        }
    }

    /// Adds one annotation, builder style.
    pub fn with_annotation(mut self, key: &str, value: impl Into<String>) -> Self {
        self.annotations.insert(key.to_string(), value.into());
        self
    }

    /// The `org.opencontainers.image.ref.name` annotation, if any.
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations
            .get(ANNOTATION_REF_NAME)
            .map(String::as_str)
    }
}

/// The platform an image runs on, in OCI terms (`linux`, `amd64`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture (`amd64`, `arm64`, …).
    pub architecture: String,
    /// Operating system (`linux`).
    pub os: String,
    /// OS version.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// CPU variant (`v8`, `v7`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Other fields, preserved as found.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Platform {
    /// `linux/<arch>` with nothing else.
    pub fn linux(architecture: &str) -> Self {
        Self {
            architecture: architecture.to_string(),
            os: "linux".to_string(),
            os_version: None,
            variant: None,
            extra: BTreeMap::new(),
        }
    }

    /// The platform of the machine running this code, in OCI terms.
    pub fn host() -> Self {
        Self::linux(oci_architecture(std::env::consts::ARCH))
    }

    /// Parses `OS/ARCH[/VARIANT]`, normalising `uname`-style values (`Linux/x86_64`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(*variant)),
            _ => {
                return Err(format!(
                    "invalid platform {s:?}: expected OS/ARCH or OS/ARCH/VARIANT, e.g. linux/amd64"
                ))
            }
        };
        if [os, arch].iter().chain(variant.iter()).any(|p| {
            p.is_empty()
                || !p
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        }) {
            return Err(format!(
                "invalid platform {s:?}: parts must be non-empty [A-Za-z0-9._-]"
            ));
        }
        let mut p = Self::linux(oci_architecture(arch));
        p.os = os.to_ascii_lowercase();
        p.variant = variant.map(str::to_string);
        Ok(p.normalized())
    }

    /// The same platform with `uname` spellings (`Linux`, `x86_64`, `aarch64`) turned into
    /// OCI ones (`linux`, `amd64`, `arm64`), as bee wrote them.
    pub fn normalized(&self) -> Self {
        let mut p = self.clone();
        p.os = p.os.to_ascii_lowercase();
        p.architecture = oci_architecture(&p.architecture).to_string();
        p
    }

    /// Whether eBPF objects for this architecture are big-endian.
    pub fn is_big_endian(&self) -> bool {
        matches!(
            self.architecture.as_str(),
            "s390x" | "ppc64" | "mips" | "mips64" | "sparc64"
        )
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Maps Rust/`uname` architecture names to OCI (GOARCH) names; OCI names pass through.
pub fn oci_architecture(arch: &str) -> &str {
    match arch {
        "x86_64" | "X86_64" | "x86-64" => "amd64",
        "aarch64" | "AArch64" => "arm64",
        "i386" | "i486" | "i586" | "i686" | "x86" => "386",
        "armv7l" | "armv6l" | "armhf" => "arm",
        "powerpc64le" | "ppc64el" => "ppc64le",
        "powerpc64" => "ppc64",
        "riscv64gc" => "riscv64",
        "loongarch64" => "loong64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uname_platforms_are_normalised_to_oci() {
        let p = Platform::parse("Linux/x86_64").unwrap();
        assert_eq!(p.to_string(), "linux/amd64");
        assert_eq!(
            Platform::parse("linux/aarch64").unwrap().architecture,
            "arm64"
        );
        assert_eq!(
            Platform::parse("linux/arm/v7").unwrap().to_string(),
            "linux/arm/v7"
        );
    }

    #[test]
    fn malformed_platforms_are_rejected_with_the_input() {
        for s in [
            "linux",
            "",
            "linux/",
            "/amd64",
            "linux/amd64/v1/x",
            "linux/am d64",
        ] {
            let e = Platform::parse(s).unwrap_err();
            assert!(e.contains(&format!("{s:?}")), "{e}");
        }
    }

    #[test]
    fn unknown_descriptor_fields_survive_a_round_trip() {
        let json = r#"{"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","mediaType":"x","size":0,"urls":["u"],"x-vendor":{"a":1}}"#;
        let d: Descriptor = serde_json::from_str(json).unwrap();
        assert_eq!(crate::oci::canonical::to_vec(&d).unwrap(), json.as_bytes());
    }
}
