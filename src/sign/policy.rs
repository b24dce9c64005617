//! A site's trust policy in the containers-policy.json(5) format (the file skopeo, podman
//! and CRI-O read), parsed without side effects beyond reading the key files it names.
//!
//! What is read: the global `default` requirements and the `transports.docker` scopes
//! (matched against an image's name the way containers/image matches docker references:
//! `name:tag`, then the repository, then each enclosing namespace up to the registry host,
//! then the transport's `""` scope, then `default`). Requirements: `insecureAcceptAnything`,
//! `reject`, and `sigstoreSigned` with `keyPath`, `keyPaths` or `keyData` (cosign public
//! keys) and a `signedIdentity`. Anything else in those parts (GPG `signedBy`,
//! `sigstoreSigned` with `fulcio`, `rekorPublicKey*` or `pki`, unknown fields or types)
//! is refused with [`SignError::Policy`], never ignored. Other transports' scopes never apply
//! to an image read from a layout or archive and are not read.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Map, Value};

use super::error::{Result, SignError};

use super::keys::PublicKey;
use super::payload::check_repository;

/// Largest policy file read (1 MiB): real ones are a few KiB.
pub const MAX_POLICY_SIZE: u64 = 1 << 20;

/// A parsed policy: which requirements apply to which image names.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The file it was read from (named in every message about it).
    pub path: PathBuf,
    /// The global `default` requirements.
    pub default: Vec<Requirement>,
    /// `transports.docker`: scope → requirements (`""` is the transport's default).
    pub docker: BTreeMap<String, Vec<Requirement>>,
}

/// One policy requirement; all requirements of a scope must be satisfied.
#[derive(Debug, Clone)]
pub enum Requirement {
    /// `insecureAcceptAnything`: any image (intact, signed or not).
    InsecureAcceptAnything,
    /// `reject`: no image.
    Reject,
    /// `sigstoreSigned`: a valid cosign signature by one of `keys` whose signed identity
    /// satisfies `identity`.
    SigstoreSigned {
        /// The trusted public keys (any one will do).
        keys: Vec<PublicKey>,
        /// What the signed `docker-reference` must be.
        identity: SignedIdentity,
    },
}

impl Requirement {
    /// The requirement's `type`, as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            Requirement::InsecureAcceptAnything => "insecureAcceptAnything",
            Requirement::Reject => "reject",
            Requirement::SigstoreSigned { .. } => "sigstoreSigned",
        }
    }
}

/// `signedIdentity`: how the identity in a signature's payload (`docker-reference`) must
/// relate to the name the image is used by. See docs/signing.md for the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedIdentity {
    /// The signed identity is exactly the image's name (with its tag, if it has one).
    MatchExact,
    /// Like `MatchExact` for a name; for an image used by digest, any identity (the
    /// digest the user pinned is the one signed). The default of `sigstoreSigned`.
    MatchRepoDigestOrExact,
    /// The signed identity's repository is the name's repository (the tag is ignored).
    MatchRepository,
    /// The signed identity is exactly this reference.
    ExactReference(String),
    /// The signed identity's repository is exactly this repository.
    ExactRepository(String),
    /// A name starting with `prefix` is read with `signed_prefix` instead, then
    /// `MatchRepoDigestOrExact` applies.
    RemapIdentity {
        /// The prefix of the image's name (a host, namespace or repository).
        prefix: String,
        /// What replaces it.
        signed_prefix: String,
    },
}

impl Policy {
    /// Reads and parses the policy file at `path` (at most [`MAX_POLICY_SIZE`] bytes) and
    /// the key files it names (a relative `keyPath` is relative to the policy's folder).
    ///
    /// Fails with [`SignError::Policy`] naming the file and what is wrong with it.
    pub fn load(path: &Path) -> Result<Self> {
        let fail = |reason: String| SignError::Policy {
            path: path.to_path_buf(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot open: {e}")))?;
        let mut bytes = Vec::new();
        file.take(MAX_POLICY_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| fail(format!("cannot read: {e}")))?;
        if bytes.len() as u64 > MAX_POLICY_SIZE {
            return Err(fail(format!(
                "larger than {MAX_POLICY_SIZE} bytes; a policy is a few KiB"
            )));
        }
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        Self::parse(path, &bytes, &|key: &Path| {
            let key = base.join(key);
            PublicKey::load(&key).map_err(|e| e.to_string())
        })
    }

    /// Parses policy `bytes` (named `path` in messages); `load_key` reads a `keyPath`.
    ///
    /// Fails with [`SignError::Policy`] for anything the format does not allow or this tool does
    /// not implement (naming the requirement), and for keys that cannot be read.
    pub fn parse(
        path: &Path,
        bytes: &[u8],
        load_key: &dyn Fn(&Path) -> std::result::Result<PublicKey, String>,
    ) -> Result<Self> {
        let fail = |reason: String| SignError::Policy {
            path: path.to_path_buf(),
            reason,
        };
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| fail(format!("not a containers-policy.json document: {e}")))?;
        // serde_json keeps the last of two equal keys; the format refuses the file.
        serde::de::DeserializeSeed::deserialize(
            NoDuplicates,
            &mut serde_json::Deserializer::from_slice(bytes),
        )
        .map_err(|e| fail(format!("not a valid policy: {e}")))?;
        let top = value
            .as_object()
            .ok_or_else(|| fail("the policy must be a JSON object".into()))?;
        only_fields(top, &["default", "transports"], "the policy").map_err(fail)?;
        let default =
            match top.get("default") {
                Some(v) => requirements(v, "default", load_key).map_err(fail)?,
                None => return Err(fail(
                    "`default` is missing: the policy must say what applies to images no scope \
                     names (e.g. [{\"type\":\"reject\"}])"
                        .into(),
                )),
            };
        let mut docker = BTreeMap::new();
        if let Some(transports) = top.get("transports") {
            let transports = transports
                .as_object()
                .ok_or_else(|| fail("`transports` must be an object".into()))?;
            if let Some(scopes) = transports.get("docker") {
                let scopes = scopes
                    .as_object()
                    .ok_or_else(|| fail("`transports.docker` must be an object".into()))?;
                for (scope, reqs) in scopes {
                    let at = format!("transports.docker[{scope:?}]");
                    check_scope(scope).map_err(|r| fail(format!("{at}: {r}")))?;
                    docker.insert(
                        scope.clone(),
                        requirements(reqs, &at, load_key).map_err(fail)?,
                    );
                }
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            default,
            docker,
        })
    }

    /// The requirements for an image used by `name` (`None`: used by digest only, so only
    /// the transport's `""` scope or `default` apply), and the scope that matched (`""`
    /// for the transport default, `None` for the global default).
    ///
    /// The most specific scope wins: `name:tag` (or `name@digest`), then the repository,
    /// then each enclosing namespace (`registry.local/ebpf`, `registry.local`).
    pub fn requirements_for(&self, name: Option<&str>) -> (Option<&str>, &[Requirement]) {
        if let Some(name) = name {
            for scope in scope_candidates(name) {
                if let Some((k, reqs)) = self.docker.get_key_value(scope.as_str()) {
                    return (Some(k.as_str()), reqs);
                }
            }
        }
        match self.docker.get_key_value("") {
            Some((k, reqs)) => (Some(k.as_str()), reqs),
            None => (None, &self.default),
        }
    }
}

/// The scopes an image name falls in, most specific first: the name itself, its
/// repository (the name without tag or digest), then each enclosing namespace.
pub fn scope_candidates(name: &str) -> Vec<String> {
    let mut out = vec![name.to_string()];
    let repo = repository_part(name);
    if repo != name {
        out.push(repo.to_string());
    }
    let mut rest = repo;
    while let Some((head, _)) = rest.rsplit_once('/') {
        out.push(head.to_string());
        rest = head;
    }
    out
}

/// A name without its `@digest` or `:tag` (a `:` in the first component with a `/` after
/// it is a registry port, not a tag).
pub fn repository_part(name: &str) -> &str {
    let name = name.split_once('@').map_or(name, |(n, _)| n);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].find(':') {
        Some(i) => &name[..last_slash + i],
        None => name,
    }
}

/// Walks a JSON document refusing an object with the same key twice.
struct NoDuplicates;

impl<'de> serde::de::DeserializeSeed<'de> for NoDuplicates {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for NoDuplicates {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<(), A::Error> {
        while seq.next_element_seed(NoDuplicates)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<(), A::Error> {
        let mut seen = std::collections::BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "the field {key:?} appears twice in one object"
                )));
            }
            map.next_value_seed(NoDuplicates)?;
        }
        Ok(())
    }
}

fn check_scope(scope: &str) -> std::result::Result<(), String> {
    if scope.is_empty() {
        return Ok(());
    }
    if scope.starts_with("*.") {
        return Err(
            "wildcard scopes (*.domain) are not supported; name the registry host instead".into(),
        );
    }
    let repo = repository_part(scope);
    check_repository(repo).map_err(|r| format!("not a docker reference or namespace: {r}"))
}

fn only_fields(
    object: &Map<String, Value>,
    allowed: &[&str],
    what: &str,
) -> std::result::Result<(), String> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "{what} has the unknown field {k:?} (allowed: {})",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

fn requirements(
    value: &Value,
    at: &str,
    load_key: &dyn Fn(&Path) -> std::result::Result<PublicKey, String>,
) -> std::result::Result<Vec<Requirement>, String> {
    let list = value
        .as_array()
        .ok_or_else(|| format!("{at} must be a list of requirements"))?;
    if list.is_empty() {
        return Err(format!(
            "{at} is an empty list of requirements; write [{{\"type\":\"reject\"}}] or \
             [{{\"type\":\"insecureAcceptAnything\"}}] to say which"
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, r)| requirement(r, &format!("{at}[{i}]"), load_key))
        .collect()
}

fn requirement(
    value: &Value,
    at: &str,
    load_key: &dyn Fn(&Path) -> std::result::Result<PublicKey, String>,
) -> std::result::Result<Requirement, String> {
    let object = value
        .as_object()
        .ok_or_else(|| format!("{at} must be an object with a \"type\""))?;
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at} has no \"type\""))?;
    let at = format!("{at} (type {kind:?})");
    match kind {
        "insecureAcceptAnything" => {
            only_fields(object, &["type"], &at)?;
            Ok(Requirement::InsecureAcceptAnything)
        }
        "reject" => {
            only_fields(object, &["type"], &at)?;
            Ok(Requirement::Reject)
        }
        "sigstoreSigned" => sigstore_signed(object, &at, load_key),
        "signedBy" => Err(format!(
            "{at}: GPG signatures (signedBy) are not supported; ebpf-layout checks cosign \
             signatures (use sigstoreSigned with keyPath)"
        )),
        other => Err(format!(
            "{at}: unknown requirement type {other:?} (supported: insecureAcceptAnything, \
             reject, sigstoreSigned)"
        )),
    }
}

fn sigstore_signed(
    object: &Map<String, Value>,
    at: &str,
    load_key: &dyn Fn(&Path) -> std::result::Result<PublicKey, String>,
) -> std::result::Result<Requirement, String> {
    for keyless in [
        "fulcio",
        "rekorPublicKeyPath",
        "rekorPublicKeyPaths",
        "rekorPublicKeyData",
        "rekorPublicKeyDatas",
        "pki",
    ] {
        if object.contains_key(keyless) {
            return Err(format!(
                "{at}: {keyless:?} is not supported: keyless signing (Fulcio certificates, Rekor \
                 transparency log, PKI) needs services an offline site does not have; use \
                 keyPath with a cosign public key"
            ));
        }
    }
    only_fields(
        object,
        &[
            "type",
            "keyPath",
            "keyPaths",
            "keyData",
            "keyDatas",
            "signedIdentity",
        ],
        at,
    )?;
    let given: Vec<&str> = ["keyPath", "keyPaths", "keyData", "keyDatas"]
        .into_iter()
        .filter(|k| object.contains_key(*k))
        .collect();
    if given.len() != 1 {
        return Err(format!(
            "{at}: exactly one of keyPath, keyPaths, keyData, keyDatas is required (found {})",
            if given.is_empty() {
                "none".to_string()
            } else {
                given.join(", ")
            }
        ));
    }
    let field = given[0];
    let strings = |v: &Value| -> std::result::Result<Vec<String>, String> {
        match v {
            Value::String(s) if !field.ends_with('s') => Ok(vec![s.clone()]),
            Value::Array(items) if field.ends_with('s') && !items.is_empty() => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("{at}: {field} must hold strings"))
                })
                .collect(),
            _ => Err(format!(
                "{at}: {field} must be {}",
                if field.ends_with('s') {
                    "a non-empty list of strings"
                } else {
                    "a string"
                }
            )),
        }
    };
    let values = strings(&object[field])?;
    let mut keys = Vec::new();
    for v in values {
        let key = if field.starts_with("keyPath") {
            load_key(Path::new(&v)).map_err(|e| format!("{at}: {field} {v:?}: {e}"))?
        } else {
            let pem = base64::engine::general_purpose::STANDARD
                .decode(v.as_bytes())
                .map_err(|e| format!("{at}: {field} is not base64: {e}"))?;
            let pem = String::from_utf8(pem)
                .map_err(|_| format!("{at}: {field} does not decode to a PEM public key"))?;
            PublicKey::from_pem(&pem).map_err(|e| format!("{at}: {field}: {e}"))?
        };
        keys.push(key);
    }
    let identity = match object.get("signedIdentity") {
        None => SignedIdentity::MatchRepoDigestOrExact,
        Some(v) => signed_identity(v, at)?,
    };
    Ok(Requirement::SigstoreSigned { keys, identity })
}

fn signed_identity(value: &Value, at: &str) -> std::result::Result<SignedIdentity, String> {
    let at = format!("{at}: signedIdentity");
    let object = value
        .as_object()
        .ok_or_else(|| format!("{at} must be an object with a \"type\""))?;
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at} has no \"type\""))?;
    let string = |field: &str| -> std::result::Result<String, String> {
        object
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("{at} ({kind}) needs the string {field:?}"))
    };
    let at_kind = format!("{at} ({kind})");
    Ok(match kind {
        "matchExact" => {
            only_fields(object, &["type"], &at_kind)?;
            SignedIdentity::MatchExact
        }
        "matchRepoDigestOrExact" => {
            only_fields(object, &["type"], &at_kind)?;
            SignedIdentity::MatchRepoDigestOrExact
        }
        "matchRepository" => {
            only_fields(object, &["type"], &at_kind)?;
            SignedIdentity::MatchRepository
        }
        "exactReference" => {
            only_fields(object, &["type", "dockerReference"], &at_kind)?;
            let r = string("dockerReference")?;
            if repository_part(&r) == r {
                return Err(format!(
                    "{at_kind}: dockerReference {r:?} needs a tag or digest (use \
                     exactRepository for a repository)"
                ));
            }
            check_repository(repository_part(&r)).map_err(|e| format!("{at_kind}: {e}"))?;
            SignedIdentity::ExactReference(r)
        }
        "exactRepository" => {
            only_fields(object, &["type", "dockerRepository"], &at_kind)?;
            let r = string("dockerRepository")?;
            check_repository(&r).map_err(|e| format!("{at_kind}: {e}"))?;
            SignedIdentity::ExactRepository(r)
        }
        "remapIdentity" => {
            only_fields(object, &["type", "prefix", "signedPrefix"], &at_kind)?;
            let prefix = string("prefix")?;
            let signed_prefix = string("signedPrefix")?;
            for p in [&prefix, &signed_prefix] {
                check_repository(p).map_err(|e| format!("{at_kind}: prefix {p:?}: {e}"))?;
            }
            SignedIdentity::RemapIdentity {
                prefix,
                signed_prefix,
            }
        }
        other => {
            return Err(format!(
                "{at}: unknown type {other:?} (supported: matchExact, matchRepoDigestOrExact, \
                 matchRepository, exactReference, exactRepository, remapIdentity)"
            ))
        }
    })
}

impl SignedIdentity {
    /// Whether a signature whose payload names `signed` (its `docker-reference`) vouches
    /// for an image used by `name` (`None`: used by digest only). On refusal, says why.
    pub fn accepts(&self, name: Option<&str>, signed: &str) -> std::result::Result<(), String> {
        let no_name = || {
            Err(format!(
                "the image is used without a name (by digest, or untagged) to compare the \
                 signed identity {signed:?} with (use PATH:NAME, or say which identity to \
                 accept: --identity REPOSITORY, or a policy's exactRepository)"
            ))
        };
        let ok_if = |ok: bool, wanted: String| {
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "it was signed as {signed:?}, and {wanted} is required"
                ))
            }
        };
        match self {
            SignedIdentity::MatchExact => match name {
                Some(n) => ok_if(signed == n, format!("exactly {n:?}")),
                None => no_name(),
            },
            SignedIdentity::MatchRepoDigestOrExact => match name {
                Some(n) => ok_if(signed == n, format!("exactly {n:?}")),
                None => Ok(()),
            },
            SignedIdentity::MatchRepository => match name {
                Some(n) => {
                    let repo = repository_part(n);
                    ok_if(
                        repository_part(signed) == repo,
                        format!("the repository {repo:?}"),
                    )
                }
                None => no_name(),
            },
            SignedIdentity::ExactReference(r) => ok_if(signed == r, format!("exactly {r:?}")),
            SignedIdentity::ExactRepository(r) => ok_if(
                repository_part(signed) == r,
                format!("the repository {r:?}"),
            ),
            SignedIdentity::RemapIdentity {
                prefix,
                signed_prefix,
            } => match name {
                Some(n) => {
                    let remapped = match n.strip_prefix(prefix.as_str()) {
                        Some(rest)
                            if rest.is_empty()
                                || rest.starts_with(['/', ':', '@'])
                                || prefix.ends_with('/') =>
                        {
                            format!("{signed_prefix}{rest}")
                        }
                        _ => n.to_string(),
                    };
                    ok_if(signed == remapped, format!("exactly {remapped:?}"))
                }
                None => Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_go_from_the_name_to_the_registry_host() {
        assert_eq!(
            scope_candidates("registry.local:5000/ebpf/probe:1.0"),
            [
                "registry.local:5000/ebpf/probe:1.0",
                "registry.local:5000/ebpf/probe",
                "registry.local:5000/ebpf",
                "registry.local:5000"
            ]
        );
        assert_eq!(scope_candidates("probe"), ["probe"]);
        assert_eq!(repository_part("localhost:5000/x"), "localhost:5000/x");
        assert_eq!(repository_part("x/y@sha256:00"), "x/y");
    }

    fn parse(text: &str) -> Result<Policy> {
        Policy::parse(
            Path::new("/site/policy.json"),
            text.as_bytes(),
            &|p: &Path| Err(format!("{} is not read in unit tests", p.display())),
        )
    }

    #[test]
    fn key_data_and_scopes_parse_and_the_most_specific_scope_wins() {
        let pem = crate::sign::PrivateKey::generate().public_key().to_pem();
        let data = base64::engine::general_purpose::STANDARD.encode(pem);
        let policy = parse(&format!(
            r#"{{"default":[{{"type":"reject"}}],
                "transports":{{"docker":{{
                  "registry.local":[{{"type":"insecureAcceptAnything"}}],
                  "registry.local/ebpf/probe":[{{"type":"sigstoreSigned","keyData":"{data}",
                     "signedIdentity":{{"type":"matchRepository"}}}}]}},
                  "atomic":{{"":[{{"type":"whatever"}}]}}}}}}"#
        ))
        .unwrap();
        let (scope, reqs) = policy.requirements_for(Some("registry.local/ebpf/probe:1.0"));
        assert_eq!(scope, Some("registry.local/ebpf/probe"));
        assert!(matches!(
            &reqs[0],
            Requirement::SigstoreSigned { keys, identity: SignedIdentity::MatchRepository }
                if keys.len() == 1
        ));
        let (scope, reqs) = policy.requirements_for(Some("registry.local/other:1"));
        assert_eq!(
            (scope, reqs[0].kind()),
            (Some("registry.local"), "insecureAcceptAnything")
        );
        let (scope, reqs) = policy.requirements_for(None);
        assert_eq!((scope, reqs[0].kind()), (None, "reject"));
    }

    #[test]
    fn what_is_not_implemented_is_refused_naming_the_file_and_the_requirement() {
        for (text, words) in [
            (
                r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}]}"#,
                "default[0] (type \"signedBy\")",
            ),
            (
                r#"{"default":[{"type":"sigstoreSigned","keyPath":"/k"}]}"#,
                "keyPath \"/k\"",
            ),
            (
                r#"{"default":[{"type":"sigstoreSigned","keyData":"!!"}]}"#,
                "keyData is not base64",
            ),
            (
                r#"{"default":[{"type":"sigstoreSigned","keyPath":"/k","keyData":"x"}]}"#,
                "found keyPath, keyData",
            ),
            (
                r#"{"default":[{"type":"reject"}],"transports":{"docker":{"*.example.com":[{"type":"reject"}]}}}"#,
                "wildcard",
            ),
            (
                r#"{"default":[{"type":"reject"}],"extra":1}"#,
                "unknown field \"extra\"",
            ),
            (r#"[]"#, "must be a JSON object"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.starts_with("policy /site/policy.json: "), "{e}");
            assert!(e.contains(words), "{words:?} not in {e}");
        }
    }

    #[test]
    fn identities_compare_as_containers_image_does() {
        let repo = SignedIdentity::MatchRepository;
        assert!(repo
            .accepts(Some("r.local/a/probe:1.0"), "r.local/a/probe")
            .is_ok());
        assert!(repo
            .accepts(Some("r.local/a/probe:1.0"), "r.local/a/other")
            .is_err());
        assert!(repo.accepts(None, "r.local/a/probe").is_err());
        let exact = SignedIdentity::MatchExact;
        assert!(exact.accepts(Some("probe:1.0"), "probe").is_err());
        assert!(exact.accepts(Some("probe:1.0"), "probe:1.0").is_ok());
        let digest_or_exact = SignedIdentity::MatchRepoDigestOrExact;
        assert!(digest_or_exact.accepts(None, "anything").is_ok());
        let remap = SignedIdentity::RemapIdentity {
            prefix: "mirror.site".into(),
            signed_prefix: "ghcr.io/acme".into(),
        };
        assert!(remap
            .accepts(Some("mirror.site/probe:1"), "ghcr.io/acme/probe:1")
            .is_ok());
        assert!(remap
            .accepts(Some("mirror.sitex/probe:1"), "ghcr.io/acme/probe:1")
            .is_err());
    }
}
