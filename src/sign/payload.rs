//! The payload a signature covers: cosign's "simple signing" JSON (after the containers
//! signature format), naming the manifest digest it vouches for.
//!
//! ```json
//! {"critical":{"identity":{"docker-reference":"ghcr.io/acme/probe"},
//!              "image":{"docker-manifest-digest":"sha256:…"},
//!              "type":"cosign container image signature"},
//!  "optional":null}
//! ```
//!
//! We write it compact with keys sorted, which is byte for byte what cosign writes. Only
//! `critical.image.docker-manifest-digest` and `critical.type` are checked on reading, as
//! cosign does; `docker-reference` is informative (cosign parses it, so it must be a valid
//! repository name).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::oci::{canonical, Digest};

/// `critical.type` of a cosign container image signature.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";

/// Largest payload we parse (64 KiB): real ones are a few hundred bytes.
pub const MAX_PAYLOAD_SIZE: u64 = 64 << 10;

/// A simple-signing payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimpleSigning {
    /// What the signature vouches for.
    pub critical: Critical,
    /// Free-form claims (`cosign sign -a key=value`); `null` when there are none.
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

/// The `critical` part of the payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Critical {
    /// The repository the image was signed as.
    pub identity: Identity,
    /// The manifest digest signed.
    pub image: ImageClaim,
    /// Always [`COSIGN_SIGNATURE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
}

/// `critical.identity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// A repository name without tag or digest (`ghcr.io/acme/probe`).
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageClaim {
    /// The manifest (or index) digest, `sha256:…`.
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

impl SimpleSigning {
    /// The payload for signing `digest` as `repository`, with optional claims.
    pub fn new(
        repository: &str,
        digest: &Digest,
        optional: Option<BTreeMap<String, serde_json::Value>>,
    ) -> Self {
        Self {
            critical: Critical {
                identity: Identity {
                    docker_reference: repository.to_string(),
                },
                image: ImageClaim {
                    docker_manifest_digest: digest.to_string(),
                },
                kind: COSIGN_SIGNATURE_TYPE.to_string(),
            },
            optional,
        }
    }

    /// The exact bytes to sign and store: compact JSON, keys sorted.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Plain strings and JSON values always serialise.
        canonical::to_vec(self).unwrap_or_default()
    }

    /// Parses a payload and checks its type; the digest is returned as written (callers
    /// compare it with the image's).
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let payload: Self = serde_json::from_slice(bytes)
            .map_err(|e| format!("the payload is not a simple-signing document: {e}"))?;
        if payload.critical.kind != COSIGN_SIGNATURE_TYPE {
            return Err(format!(
                "the payload's critical.type is {:?}, expected {COSIGN_SIGNATURE_TYPE:?}",
                payload.critical.kind
            ));
        }
        Ok(payload)
    }
}

/// The repository part of a ref name, for `docker-reference`: the name without its tag
/// (`ghcr.io/acme/probe:1.2` → `ghcr.io/acme/probe`, `tp_counter` → `tp_counter`), if that
/// is a repository name cosign accepts (see [`check_repository`]).
pub fn repository_of(name: &str) -> Option<String> {
    let (head, last) = match name.rsplit_once('/') {
        Some((head, last)) => (Some(head), last),
        None => (None, name),
    };
    let last = last.split_once(':').map_or(last, |(repo, _tag)| repo);
    let repo = match head {
        Some(h) => format!("{h}/{last}"),
        None => last.to_string(),
    };
    check_repository(&repo).ok().map(|_| repo)
}

/// Checks a repository name the way cosign's parser (go-containerregistry) does, so that
/// `cosign verify` can read the payload: an optional registry host (`host[:port]/`, when
/// the first component has a `.` or `:` or is `localhost`), then 2 to 255 characters of
/// `[a-z0-9_./-]` with no empty component.
pub fn check_repository(name: &str) -> Result<(), String> {
    let (registry, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    };
    if let Some(host) = registry {
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
        {
            return Err(format!("{host:?} is not a registry host"));
        }
    }
    if path.len() < 2 || path.len() > 255 {
        return Err(format!("repository {path:?} must have 2 to 255 characters"));
    }
    if let Some(c) = path
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '_' | '.' | '/' | '-'))
    {
        return Err(format!(
            "repository {path:?} has {c:?}; only lowercase letters, digits and _ . / - are allowed"
        ));
    }
    if path.split('/').any(str::is_empty) {
        return Err(format!("repository {path:?} has an empty path component"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "d34db33fd34db33fd34db33fd34db33fd34db33fd34db33fd34db33fd34db33f";

    #[test]
    fn the_payload_is_byte_for_byte_what_cosign_writes() {
        let digest = Digest::parse(&format!("sha256:{HEX}")).unwrap();
        let bytes = SimpleSigning::new("example.com/test/image", &digest, None).to_bytes();
        let expected = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"example.com/test/image"}},"image":{{"docker-manifest-digest":"sha256:{HEX}"}},"type":"cosign container image signature"}},"optional":null}}"#
        );
        assert_eq!(String::from_utf8(bytes.clone()).unwrap(), expected);
        let parsed = SimpleSigning::parse(&bytes).unwrap();
        assert_eq!(
            parsed.critical.image.docker_manifest_digest,
            digest.to_string()
        );
    }

    #[test]
    fn optional_claims_are_sorted_like_cosign() {
        let digest = Digest::parse(&format!("sha256:{HEX}")).unwrap();
        let mut optional = BTreeMap::new();
        optional.insert("creator".to_string(), serde_json::json!("atomic"));
        optional.insert("a".to_string(), serde_json::json!(1));
        let bytes = SimpleSigning::new("r/x", &digest, Some(optional)).to_bytes();
        assert!(String::from_utf8(bytes)
            .unwrap()
            .ends_with(r#""optional":{"a":1,"creator":"atomic"}}"#));
    }

    #[test]
    fn other_payload_types_are_refused() {
        let e = SimpleSigning::parse(
            br#"{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"sha256:00"},"type":"atomic container signature"},"optional":{}}"#,
        )
        .unwrap_err();
        assert!(e.contains("atomic container signature"), "{e}");
        assert!(SimpleSigning::parse(b"{}").is_err());
    }

    #[test]
    fn repositories_are_ref_names_without_their_tag() {
        assert_eq!(
            repository_of("ghcr.io/acme/probe:1.2").as_deref(),
            Some("ghcr.io/acme/probe")
        );
        assert_eq!(
            repository_of("localhost:5000/x/y:latest").as_deref(),
            Some("localhost:5000/x/y")
        );
        assert_eq!(repository_of("tp_counter").as_deref(), Some("tp_counter"));
        assert_eq!(repository_of("Probe"), None);
        assert_eq!(repository_of("a"), None);
        assert!(check_repository("registry.local/ebpf/probe").is_ok());
        assert!(check_repository("a//b").is_err());
    }
}
