//! The trust flags shared by `verify`, `load`, `list` and `inspect`: `--key`,
//! `--identity` and `--policy` (or `EBPF_LAYOUT_POLICY`), turned into one
//! [`Trust`](crate::trust::Trust) that the library applies alike for every command.

use std::path::PathBuf;

use clap::Args;

use crate::sign::{Policy, PublicKey, SignedIdentity};
use crate::trust::Trust;

/// The environment variable naming a policy file, as `--policy` does.
pub const POLICY_ENV: &str = "EBPF_LAYOUT_POLICY";

/// `--key`, `--identity`, `--policy`.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Require a valid signature by this public key (PEM, from `keygen` or cosign),
    /// signed for the repository of the image's name; repeatable: any one key will do.
    #[arg(long = "key", value_name = "PUB")]
    pub keys: Vec<PathBuf>,
    /// With --key: accept signatures made for this repository instead of the name's own
    /// (e.g. registry.local/ebpf/probe); needed for an image used by digest.
    #[arg(long, value_name = "REPOSITORY", requires = "keys")]
    pub identity: Option<String>,
    /// Apply this containers-policy.json(5) file (skopeo's and podman's format): its
    /// transports.docker scopes are matched against the image's name. Not with --key.
    /// Default: the file named by EBPF_LAYOUT_POLICY, when set and not empty.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

impl TrustArgs {
    /// The trust asked for, or `None` when neither keys nor a policy were given.
    ///
    /// Fails (exit 2) on a policy or key file that cannot be used, an identity that is
    /// not a repository name, and a policy combined with `--key`: the policy decides which
    /// keys are trusted, so the two are never silently merged.
    pub fn trust(&self) -> anyhow::Result<Option<Trust>> {
        let from_env = std::env::var_os(POLICY_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        if let Some(policy) = self.policy.as_ref().or(from_env.as_ref()) {
            if !self.keys.is_empty() {
                anyhow::bail!(
                    "--key cannot be combined with a policy (--policy or {POLICY_ENV}={}): the \
                     policy decides which keys and identities are trusted; put the key in a \
                     sigstoreSigned requirement, or unset {POLICY_ENV}",
                    policy.display()
                );
            }
            return Ok(Some(Trust::Policy(Policy::load(policy)?)));
        }
        if self.keys.is_empty() {
            return Ok(None);
        }
        let keys = self
            .keys
            .iter()
            .map(|k| PublicKey::load(k))
            .collect::<crate::sign::Result<Vec<_>>>()?;
        Ok(Some(match &self.identity {
            None => Trust::Keys(keys),
            Some(repo) => {
                crate::sign::payload::check_repository(repo).map_err(|reason| {
                    anyhow::anyhow!("--identity {repo:?} is not a repository name: {reason}")
                })?;
                Trust::Signed {
                    keys,
                    identity: SignedIdentity::ExactRepository(repo.clone()),
                }
            }
        }))
    }
}
