//! The one trust rule, and the gate between a reference and the kernel.
//!
//! [`evaluate`] decides whether an image, used by a name (or by digest only), is trusted
//! under a [`Trust`]: `--key` keys, a site's containers-policy.json, or nothing. `verify`,
//! `load`, `list` and `inspect` all ask it, so they cannot disagree. [`open_program`]
//! resolves a reference, applies the rule, and reads the program with every blob hashed;
//! it is the only maker of a [`VerifiedProgram`], which is all the loader accepts.
//!
//! The rule (docs/signing.md, "Trust model"):
//!
//! * **What is signed.** A name is trusted through a signature on the digest the name
//!   points at in index.json: a manifest, or, for a multi-platform name, the index (whose
//!   bytes name every per-platform manifest, so its signature covers them). A signature
//!   on a per-platform manifest alone does not make the name trusted. An image used by
//!   digest (`PATH@sha256:…`) is trusted through a signature on that digest or on an index
//!   in index.json that lists it.
//! * **The identity.** A valid signature also names the repository it was signed for
//!   (`docker-reference`); with `--key` it must be the name's repository
//!   (containers/image's `matchRepository`), or the repository given as the expected
//!   identity. A policy says it per scope (`signedIdentity`).

use std::path::PathBuf;

use serde::Serialize;

use crate::graph::is_index;
use crate::image::{resolve_one, ResolveError};
use crate::kernel_btf::KernelBtfError;
use crate::oci::companion::Companions;
use crate::oci::{Digest, ImageIndex, Platform, Selector};
use crate::program::{Trusted, VerifiedProgram};
use crate::sign::check::{check_image, image_label, index_lists};
use crate::sign::{Policy, PublicKey, Requirement, SignedIdentity};
use crate::store::{ImageSource, StoreError};

/// What the caller trusts: there is no default, so every caller says it.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Only images carrying a valid signature by one of these keys (stored in the same
    /// layout or archive, cosign's format) whose signed identity is the repository of the
    /// name the image is used by (`matchRepository`; an image used by digest only has no
    /// name, so it needs [`Trust::Signed`] with an explicit identity).
    Keys(Vec<PublicKey>),
    /// Only images carrying a valid signature by one of `keys` whose signed identity
    /// satisfies `identity` (`--key` with `--identity REPO` gives
    /// [`SignedIdentity::ExactRepository`]).
    Signed {
        /// The trusted public keys (any one will do).
        keys: Vec<PublicKey>,
        /// What the signed identity must be.
        identity: SignedIdentity,
    },
    /// A site's containers-policy.json: the requirements of the most specific scope that
    /// matches the image's name.
    Policy(Policy),
    /// Any intact image, signed or not (integrity is still checked).
    AcceptUnsigned,
}

/// How [`evaluate`] decided.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// Whether the image is trusted.
    pub accepted: bool,
    /// The rule applied: `--key`, or the policy file and the scope that matched.
    pub rule: String,
    /// Why not (code `unsigned`, `bad-signature`, `identity` or `rejected`), when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// What was found and why it was not enough, when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The signature that vouched, when one was required and found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<Vouched>,
    /// The signature image to look at for a `bad-signature` or `identity` refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_manifest: Option<Digest>,
}

/// The signature that made an image trusted.
#[derive(Debug, Clone, Serialize)]
pub struct Vouched {
    /// The digest it covers: the name's own digest, or an index listing the image.
    pub signed_digest: Digest,
    /// The id of the key it verifies with.
    pub key: Digest,
    /// The identity it was signed for (`docker-reference`).
    pub identity: String,
}

impl Trust {
    /// The requirements that apply to an image used by `name`, and a label of the rule.
    fn requirements_for(
        &self,
        name: Option<&str>,
    ) -> (String, std::borrow::Cow<'_, [Requirement]>) {
        use std::borrow::Cow;
        match self {
            Trust::Keys(keys) => (
                "--key (signed identity: the name's repository)".into(),
                Cow::Owned(vec![Requirement::SigstoreSigned {
                    keys: keys.clone(),
                    identity: SignedIdentity::MatchRepository,
                }]),
            ),
            Trust::Signed { keys, identity } => (
                format!("--key (signed identity: {})", identity_text(identity)),
                Cow::Owned(vec![Requirement::SigstoreSigned {
                    keys: keys.clone(),
                    identity: identity.clone(),
                }]),
            ),
            Trust::Policy(policy) => {
                let (scope, reqs) = policy.requirements_for(name);
                let scope = match scope {
                    Some("") => "transports.docker default scope \"\"".to_string(),
                    Some(s) => format!("scope {s:?}"),
                    None => "default".to_string(),
                };
                (
                    format!("policy {} ({scope})", policy.path.display()),
                    Cow::Borrowed(reqs),
                )
            }
            Trust::AcceptUnsigned => (
                "no trust requirement".into(),
                Cow::Owned(vec![Requirement::InsecureAcceptAnything]),
            ),
        }
    }
}

fn identity_text(identity: &SignedIdentity) -> String {
    match identity {
        SignedIdentity::MatchExact => "matchExact".into(),
        SignedIdentity::MatchRepoDigestOrExact => "matchRepoDigestOrExact".into(),
        SignedIdentity::MatchRepository => "matchRepository".into(),
        SignedIdentity::ExactReference(r) => format!("exactly {r}"),
        SignedIdentity::ExactRepository(r) => format!("repository {r}"),
        SignedIdentity::RemapIdentity {
            prefix,
            signed_prefix,
        } => format!("{prefix} remapped to {signed_prefix}"),
    }
}

/// Decides whether the image that `name` points at in `source` (the index.json entry with
/// digest `digest`) is trusted under `trust`; `name` is `None` for an image used by
/// digest only (see the module's rule). Every requirement that applies must be met.
///
/// Never refuses by error: a refusal is a [`Decision`] with `accepted: false`, its code
/// and reason. Fails only with [`TrustError::NoKeys`] when `trust` gives an empty key
/// list.
pub fn evaluate(
    source: &dyn ImageSource,
    index: &ImageIndex,
    name: Option<&str>,
    digest: &Digest,
    trust: &Trust,
) -> Result<Decision> {
    let (rule, requirements) = trust.requirements_for(name);
    let mut decision = Decision {
        accepted: true,
        rule,
        code: None,
        reason: None,
        signature: None,
        signature_manifest: None,
    };
    for requirement in requirements.iter() {
        let refusal = match requirement {
            Requirement::InsecureAcceptAnything => None,
            Requirement::Reject => Some((
                "rejected",
                "the policy rejects every image in this scope (type \"reject\")".to_string(),
            )),
            Requirement::SigstoreSigned { keys, identity } => {
                if keys.is_empty() {
                    return Err(TrustError::NoKeys {
                        path: source.location().to_path_buf(),
                    });
                }
                match signed(source, index, name, digest, keys, identity) {
                    Ok(v) => {
                        decision.signature.get_or_insert(v);
                        None
                    }
                    Err((code, reason, manifest)) => {
                        decision.signature_manifest = manifest;
                        Some((code, reason))
                    }
                }
            }
        };
        if let Some((code, reason)) = refusal {
            decision.accepted = false;
            decision.code = Some(code);
            decision.reason = Some(reason);
            decision.signature = None;
            return Ok(decision);
        }
    }
    Ok(decision)
}

type Refusal = (&'static str, String, Option<Digest>);

/// A valid signature by one of `keys` with an identity `identity` accepts, on the digests
/// that may vouch for `digest` used by `name`.
fn signed(
    source: &dyn ImageSource,
    index: &ImageIndex,
    name: Option<&str>,
    digest: &Digest,
    keys: &[PublicKey],
    identity: &SignedIdentity,
) -> std::result::Result<Vouched, Refusal> {
    let mut candidates = vec![digest.clone()];
    if name.is_none() {
        // Used by digest: an index.json index that lists it vouches for it too.
        for entry in index.manifests.iter().filter(|d| is_index(d)) {
            if entry.digest != *digest
                && !candidates.contains(&entry.digest)
                && index_lists(source, entry, digest)
            {
                candidates.push(entry.digest.clone());
            }
        }
    }
    let mut reasons = Vec::new();
    let mut identity_refused = false;
    let mut any_stored = false;
    let mut signature_manifest = None;
    for candidate in &candidates {
        let checked = check_image(source, index, candidate, keys);
        for (key, signed_as) in checked.valid() {
            match identity.accepts(name, signed_as) {
                Ok(()) => {
                    return Ok(Vouched {
                        signed_digest: candidate.clone(),
                        key: key.clone(),
                        identity: signed_as.to_string(),
                    })
                }
                Err(why) => {
                    identity_refused = true;
                    reasons.push(format!(
                        "a valid signature by key {} on {} does not vouch for this name: {why}",
                        key.short(),
                        candidate.short()
                    ));
                }
            }
        }
        if !checked.is_unsigned() {
            any_stored = true;
            signature_manifest = signature_manifest.or(checked.signature_manifest.clone());
        }
        reasons.extend(checked.reasons());
    }
    let keys_text = keys
        .iter()
        .map(|k| k.id().short())
        .collect::<Vec<_>>()
        .join(" or ");
    let used_as = match name {
        Some(n) => format!("used as {n:?}"),
        None => "used by digest".to_string(),
    };
    if identity_refused {
        return Err((
            "identity",
            format!(
                "{} is {used_as}, but no valid signature was made for that identity: {}",
                image_label(index, digest),
                reasons.join("; ")
            ),
            signature_manifest,
        ));
    }
    if any_stored {
        return Err((
            "bad-signature",
            format!(
                "{} has no valid signature by a trusted key ({keys_text}): {}",
                image_label(index, digest),
                reasons.join("; ")
            ),
            signature_manifest,
        ));
    }
    Err((
        "unsigned",
        format!(
            "{} is not signed: the layout has no signature for {}{} (sign it with `ebpf-layout \
             sign`); trusted keys: {keys_text}",
            image_label(index, digest),
            crate::sign::signature_name(digest),
            if name.is_some() && candidates.len() == 1 {
                " (the digest this name points at)"
            } else {
                ""
            }
        ),
        None,
    ))
}

/// The name an image is used by for trust: the name selected, or for a whole layout
/// holding one image, that entry's name (`entry_name`); `None` when it is selected by
/// digest.
pub fn name_used(selector: &Selector, entry_name: Option<&str>) -> Option<String> {
    match selector {
        Selector::Name(n) => Some(n.clone()),
        Selector::All => entry_name.map(str::to_string),
        Selector::Digest(_) => None,
    }
}

/// Resolves `selector` in `source` to one image (an index resolved for `platform`, this
/// machine's by default), checks it against `trust` with [`evaluate`], and reads its
/// program object; every byte returned was hashed against its descriptor, and nothing of
/// the program is read before the trust decision.
///
/// Fails with the resolution errors ([`ResolveError::ImageNotFound`],
/// [`ResolveError::NameRequired`], …), the integrity errors, [`TrustError::Signature`]
/// when `trust` refuses the image (naming why), and [`TrustError::NoKeys`] for an empty
/// key list.
pub fn open_program(
    source: &dyn ImageSource,
    reference: &str,
    selector: &Selector,
    platform: Option<&Platform>,
    trust: &Trust,
) -> Result<VerifiedProgram> {
    let image = resolve_one(source, selector, platform)?;
    let trusted = match trust {
        Trust::AcceptUnsigned => None,
        _ => {
            let index = source.index()?;
            let name = name_used(selector, image.name.as_deref());
            let decision = evaluate(source, &index, name.as_deref(), &image.entry_digest, trust)?;
            if !decision.accepted {
                return Err(TrustError::Signature {
                    path: source.location().to_path_buf(),
                    image: match &name {
                        Some(n) => format!("{n} ({})", image.entry_digest),
                        None => image.entry_digest.to_string(),
                    },
                    reason: decision.reason.unwrap_or_default(),
                    code: decision.code.unwrap_or_default(),
                    rule: decision.rule,
                });
            }
            decision.signature.map(|v| Trusted {
                signed_digest: v.signed_digest,
                key: v.key,
            })
        }
    };
    let object = image.read_program(source)?;
    Ok(VerifiedProgram {
        reference: reference.to_string(),
        location: source.location().to_path_buf(),
        name: image
            .name
            .clone()
            .unwrap_or_else(|| image.descriptor.digest.short()),
        manifest_digest: image.descriptor.digest.clone(),
        format: image.format.to_string(),
        platform: image.platform.clone(),
        object,
        trusted,
        kernel_btf: None,
    })
}

/// Where the loader takes kernel BTF from (`load --kernel-btf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BtfSource {
    /// The kernel's own (`/sys/kernel/btf/vmlinux`) when it has one, else the bundled
    /// BTF for the running release when the image carries any.
    #[default]
    Auto,
    /// The bundled BTF for the running release; an error when there is none.
    Bundled,
    /// The kernel's own only (libbpf's default search).
    Kernel,
}

/// Adds to `program` the bundled kernel BTF for `release` (the running kernel's
/// `uname -r`) as `choice` says: [`BtfSource::Bundled`] always, [`BtfSource::Auto`] when
/// `kernel_has_btf` is false and the image carries some (so images without bundled BTF
/// load as before), [`BtfSource::Kernel`] never. The blob is hashed and parsed before it
/// is attached. `source` must be the layout or archive `program` was opened from
/// ([`TrustError::OtherSource`] otherwise). Fails when the chosen BTF is not there, naming the
/// releases the image has ([`crate::kernel_btf::read_release`]).
pub fn with_kernel_btf(
    source: &dyn ImageSource,
    mut program: VerifiedProgram,
    choice: BtfSource,
    release: &str,
    kernel_has_btf: bool,
) -> Result<VerifiedProgram> {
    if source.location() != program.location {
        return Err(TrustError::OtherSource {
            path: source.location().to_path_buf(),
            opened_from: program.location.clone(),
        });
    }
    let wanted = match choice {
        BtfSource::Kernel => false,
        BtfSource::Bundled => true,
        BtfSource::Auto if kernel_has_btf => false,
        BtfSource::Auto => {
            let index = source.index()?;
            let companions = Companions::of(&index);
            !crate::kernel_btf::bundled(source, &companions, &program.manifest_digest)?.is_empty()
        }
    };
    if wanted {
        program.kernel_btf = Some(crate::kernel_btf::read_release(
            source,
            &program.manifest_digest,
            release,
        )?);
    }
    Ok(program)
}

/// Why a program could not be handed to the loader: it could not be resolved or read,
/// or the trust rule refused it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Reading the layout or archive failed (I/O, a damaged or missing blob).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The reference does not lead to one readable eBPF image.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The image's bundled kernel BTF could not be found or read.
    #[error(transparent)]
    KernelBtf(#[from] KernelBtfError),
    /// The image carries no valid signature by a trusted key, or the policy rejects it
    /// (an integrity failure: nothing of it reaches the kernel).
    #[error("{}: image {image} is refused: {reason} [{code}; {rule}]", path.display())]
    Signature {
        /// The layout or archive.
        path: PathBuf,
        /// The image (`name (sha256:…)` or the digest).
        image: String,
        /// Which signatures were found and why none was accepted ([`Decision::reason`]).
        reason: String,
        /// Why, as a code ([`Decision::code`]: `unsigned`, `bad-signature`, `identity`,
        /// `rejected`).
        code: &'static str,
        /// The rule applied ([`Decision::rule`]).
        rule: String,
    },
    /// Signatures are required but no trusted public key was given to check them with.
    #[error("{}: no trusted public key given to check signatures with", path.display())]
    NoKeys {
        /// The layout or archive.
        path: PathBuf,
    },
    /// Bundled kernel BTF was asked for from another layout or archive than the program's.
    #[error("{}: the program was opened from {}; its bundled BTF must come from the same layout or archive", path.display(), opened_from.display())]
    OtherSource {
        /// The layout or archive given.
        path: PathBuf,
        /// The one the program was opened from.
        opened_from: PathBuf,
    },
}

impl TrustError {
    /// Whether this is an integrity failure: an image refused by the trust rule
    /// ([`TrustError::Signature`]), or a storage failure that is one
    /// ([`StoreError::is_integrity_failure`]).
    pub fn is_integrity_failure(&self) -> bool {
        matches!(self, Self::Signature { .. })
            || self
                .store_error()
                .is_some_and(StoreError::is_integrity_failure)
    }

    /// The storage failure this wraps, directly or through what it wraps, if any.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(e) => Some(e),
            Self::Resolve(e) => e.store_error(),
            Self::KernelBtf(e) => e.store_error(),
            _ => None,
        }
    }

    /// The resolution failure this wraps, if any.
    pub fn resolve_error(&self) -> Option<&ResolveError> {
        match self {
            Self::Resolve(e) => Some(e),
            _ => None,
        }
    }
}

/// The result type of the trust gate.
pub type Result<T, E = TrustError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_image_is_an_integrity_failure_and_a_missing_key_is_not() {
        let refused = TrustError::Signature {
            path: "bundle".into(),
            image: "probe (sha256:00)".into(),
            reason: "probe is not signed".into(),
            code: "unsigned",
            rule: "--key".into(),
        };
        assert!(refused.is_integrity_failure());
        assert_eq!(
            refused.to_string(),
            "bundle: image probe (sha256:00) is refused: probe is not signed [unsigned; --key]"
        );
        assert!(!TrustError::NoKeys {
            path: "bundle".into()
        }
        .is_integrity_failure());
        let absent = TrustError::from(ResolveError::Empty {
            path: "bundle".into(),
        });
        assert!(!absent.is_integrity_failure());
        assert!(absent.resolve_error().is_some());
    }
}
