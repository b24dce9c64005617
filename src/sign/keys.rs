//! Key pairs: ECDSA P-256, the private key as PKCS#8 PEM (encrypted with a password, or
//! not), the public key as SPKI PEM. Both files are what `openssl` and `cosign verify
//! --key` read.
//!
//! Parsing takes text and never touches the file system; [`PrivateKey::load`] and
//! [`PublicKey::load`] read a file and add its path to any error.

use std::fmt;
use std::path::{Path, PathBuf};

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use pkcs8::der::pem::{self, LineEnding, PemLabel};
use pkcs8::spki::SubjectPublicKeyInfoRef;
use pkcs8::{EncryptedPrivateKeyInfo, PrivateKeyInfo};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use super::error::{Result, SignError};
use crate::oci::Digest;
use crate::store::io_err;

/// PBKDF2-HMAC-SHA256 rounds for an encrypted key (OWASP's 2023 figure): about half a
/// second to unlock here, which is nothing for a person and a lot for a guesser.
/// `openssl pkey` reads the count from the file.
pub const PBKDF2_ITERATIONS: u32 = 600_000;

/// Largest key file we read (64 KiB): a P-256 key is a few hundred bytes.
const MAX_KEY_FILE: u64 = 64 << 10;

/// PEM label of cosign's own encrypted key format (`cosign generate-key-pair`).
const COSIGN_KEY_LABELS: [&str; 2] = [
    "ENCRYPTED SIGSTORE PRIVATE KEY",
    "ENCRYPTED COSIGN PRIVATE KEY",
];

/// Why a key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not PEM.
    #[error("not a PEM key file ({0})")]
    NotPem(String),
    /// The password does not decrypt the key.
    #[error("wrong password (or the key file is damaged): it does not decrypt the key")]
    WrongPassword,
    /// An encrypted key, and no password could be had.
    #[error("the key is encrypted and no password is available: {0}")]
    NoPassword(String),
    /// A key of a kind we do not use (RSA, Ed25519, another curve, cosign's own format).
    #[error("{0}")]
    Unsupported(String),
    /// PEM of the right kind whose content does not decode.
    #[error("the key does not decode: {0}")]
    Malformed(String),
}

/// An ECDSA P-256 private key, able to sign. Its `Debug` output shows only the key id.
pub struct PrivateKey {
    key: SigningKey,
}

impl PrivateKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        Self {
            key: SigningKey::random(&mut OsRng),
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::new(*self.key.verifying_key())
    }

    /// The key as PKCS#8 PEM. With a non-empty password it is
    /// `-----BEGIN ENCRYPTED PRIVATE KEY-----` (PBES2: PBKDF2-HMAC-SHA256 with
    /// [`PBKDF2_ITERATIONS`] rounds and a random 16-byte salt, AES-256-CBC with a random
    /// IV), the form `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes; with an empty one it is
    /// the plain `-----BEGIN PRIVATE KEY-----`.
    pub fn to_pem(&self, password: &[u8]) -> std::result::Result<Zeroizing<String>, KeyError> {
        let malformed = |e: &dyn fmt::Display| KeyError::Malformed(e.to_string());
        let der = self.key.to_pkcs8_der().map_err(|e| malformed(&e))?;
        if password.is_empty() {
            return pem::encode_string(PrivateKeyInfo::PEM_LABEL, LineEnding::LF, der.as_bytes())
                .map(Zeroizing::new)
                .map_err(|e| malformed(&e));
        }
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        OsRng.fill_bytes(&mut iv);
        let params =
            pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, &iv)
                .map_err(|e| malformed(&e))?;
        let info = PrivateKeyInfo::try_from(der.as_bytes()).map_err(|e| malformed(&e))?;
        let encrypted = info
            .encrypt_with_params(params, password)
            .map_err(|e| malformed(&e))?;
        pem::encode_string(
            EncryptedPrivateKeyInfo::PEM_LABEL,
            LineEnding::LF,
            encrypted.as_bytes(),
        )
        .map(Zeroizing::new)
        .map_err(|e| malformed(&e))
    }

    /// Parses a private key from PEM: encrypted PKCS#8 (`password` is called, once, only
    /// then), plain PKCS#8, or SEC1 (`-----BEGIN EC PRIVATE KEY-----`, as `openssl ecparam
    /// -genkey` writes). Only P-256 keys are accepted.
    pub fn from_pem(
        text: &str,
        password: impl FnOnce() -> std::result::Result<Zeroizing<String>, String>,
    ) -> std::result::Result<Self, KeyError> {
        let (text, label) = pem_start(text)?;
        let key = match label.as_str() {
            "ENCRYPTED PRIVATE KEY" => {
                let password = password().map_err(KeyError::NoPassword)?;
                SigningKey::from_pkcs8_encrypted_pem(text, password.as_bytes()).map_err(
                    |e| match e {
                        pkcs8::Error::EncryptedPrivateKey(_) | pkcs8::Error::Asn1(_) => {
                            KeyError::WrongPassword
                        }
                        other => not_p256_private(other),
                    },
                )?
            }
            "PRIVATE KEY" => SigningKey::from_pkcs8_pem(text).map_err(not_p256_private)?,
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_pem(text)
                .map(SigningKey::from)
                .map_err(|e| KeyError::Unsupported(format!("not a P-256 EC private key ({e})")))?,
            l if COSIGN_KEY_LABELS.contains(&l) => {
                return Err(KeyError::Unsupported(
                    "this is cosign's own encrypted key format, which ebpf-layout does not read; \
                     make a key with `ebpf-layout keygen` (cosign can import it: see \
                     docs/signing.md)"
                        .into(),
                ))
            }
            "PUBLIC KEY" => {
                return Err(KeyError::Unsupported(
                    "this is a public key; signing needs the private key (PREFIX.key)".into(),
                ))
            }
            other => {
                return Err(KeyError::Unsupported(format!(
                    "PEM of type {other:?} is not a private key we read (expected ENCRYPTED \
                     PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY)"
                )))
            }
        };
        Ok(Self { key })
    }

    /// Reads and parses a private key file (see [`from_pem`](Self::from_pem)). Errors are
    /// [`SignError::Key`] naming the file.
    pub fn load(
        path: &Path,
        password: impl FnOnce() -> std::result::Result<Zeroizing<String>, String>,
    ) -> Result<Self> {
        let text = Zeroizing::new(read_key_file(path)?);
        Self::from_pem(&text, password).map_err(|reason| SignError::Key {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Signs `payload`: ECDSA P-256 over its SHA-256, DER-encoded. The nonce is derived
    /// from the key and the message (RFC 6979), so the same key and payload always give
    /// the same signature.
    pub fn sign(&self, payload: &[u8]) -> Vec<u8> {
        let signature: Signature = self.key.sign(payload);
        signature.to_der().as_bytes().to_vec()
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.public_key().id())
    }
}

fn not_p256_private(e: pkcs8::Error) -> KeyError {
    KeyError::Unsupported(format!(
        "not an ECDSA P-256 private key ({e}); ebpf-layout signs with P-256 only, like \
         cosign's default keys"
    ))
}

/// An ECDSA P-256 public key that signatures are checked against.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    id: Digest,
}

impl PublicKey {
    fn new(key: VerifyingKey) -> Self {
        // Encoding a valid point cannot fail.
        let der = key
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        Self {
            key,
            id: Digest::of(&der),
        }
    }

    /// Parses an SPKI PEM public key (`-----BEGIN PUBLIC KEY-----`), as written by
    /// [`write_key_pair`] (`keygen`), `openssl pkey -pubout` or `cosign
    /// generate-key-pair`. Only P-256 keys are accepted; other algorithms are named.
    pub fn from_pem(text: &str) -> std::result::Result<Self, KeyError> {
        let (text, label) = pem_start(text)?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::Unsupported(format!(
                "PEM of type {label:?} is not a public key (expected -----BEGIN PUBLIC KEY-----{})",
                if label.contains("PRIVATE") {
                    "; give the .pub file, never the private key"
                } else {
                    ""
                }
            )));
        }
        match VerifyingKey::from_public_key_pem(text) {
            Ok(key) => Ok(Self::new(key)),
            Err(e) => {
                let (_, der) = pkcs8::Document::from_pem(text)
                    .map_err(|_| KeyError::Malformed(e.to_string()))?;
                Err(describe_other_key(der.as_bytes())
                    .unwrap_or(KeyError::Malformed(e.to_string())))
            }
        }
    }

    /// Reads and parses a public key file (see [`from_pem`](Self::from_pem)). Errors are
    /// [`SignError::Key`] naming the file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = read_key_file(path)?;
        Self::from_pem(&text).map_err(|reason| SignError::Key {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// The key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`, LF line endings).
    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// The key's id: the sha256 of its DER SubjectPublicKeyInfo (what `openssl pkey -pubin
    /// -outform DER | sha256sum` prints).
    pub fn id(&self) -> &Digest {
        &self.id
    }

    /// Whether `der_signature` is a valid ECDSA signature by this key over SHA-256 of
    /// `payload`. Malformed signatures are simply not valid.
    pub fn verifies(&self, payload: &[u8], der_signature: &[u8]) -> bool {
        match Signature::from_der(der_signature) {
            Ok(sig) => self.key.verify(payload, &sig).is_ok(),
            Err(_) => false,
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id)
    }
}

/// Names the algorithm of a public key that is not P-256.
fn describe_other_key(der: &[u8]) -> Option<KeyError> {
    const EC: &str = "1.2.840.10045.2.1";
    let spki = SubjectPublicKeyInfoRef::try_from(der).ok()?;
    let oid = spki.algorithm.oid.to_string();
    let what = match oid.as_str() {
        "1.2.840.113549.1.1.1" => "an RSA key".to_string(),
        "1.3.101.112" => "an Ed25519 key".to_string(),
        EC => match spki.algorithm.parameters_oid().ok().map(|o| o.to_string()) {
            Some(curve) if curve == "1.3.132.0.34" => "a P-384 key".into(),
            Some(curve) if curve == "1.3.132.0.35" => "a P-521 key".into(),
            Some(curve) if curve == "1.3.132.0.10" => "a secp256k1 key".into(),
            Some(curve) => format!("an EC key on curve {curve}"),
            None => "an EC key without a named curve".into(),
        },
        other => format!("a key of algorithm {other}"),
    };
    Some(KeyError::Unsupported(format!(
        "{what}; ebpf-layout verifies ECDSA P-256 signatures only (cosign's default keys)"
    )))
}

/// The PEM text from its `-----BEGIN` line on (comments before it are skipped), and its
/// label.
fn pem_start(text: &str) -> std::result::Result<(&str, String), KeyError> {
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| KeyError::NotPem("no -----BEGIN line".into()))?;
    let text = &text[start..];
    let label = pem::decode_label(text.as_bytes())
        .map(str::to_string)
        .map_err(|e| KeyError::NotPem(e.to_string()))?;
    Ok((text, label))
}

/// The two files [`write_key_pair`] writes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyPairFiles {
    /// `PREFIX.key`: the private key (mode 0600).
    pub private_key: PathBuf,
    /// `PREFIX.pub`: the public key.
    pub public_key: PathBuf,
    /// Whether the private key is encrypted (a non-empty password was given).
    pub encrypted: bool,
    /// The public key's id.
    pub key_id: Digest,
}

/// Generates a key pair and writes `PREFIX.key` (PKCS#8 PEM, encrypted unless `password`
/// is empty, file mode 0600) and `PREFIX.pub` (SPKI PEM).
///
/// Without `force`, fails with [`SignError::KeyExists`] if either file exists, before writing
/// anything; with it, replaces them. Each file is written to a temporary name in the
/// same directory, synced, then moved into place (without `force`, by a link that fails
/// if the name was taken meanwhile), so a file is either absent or whole. If the second
/// file cannot be written, the first is removed again.
pub fn write_key_pair(prefix: &Path, password: &[u8], force: bool) -> Result<KeyPairFiles> {
    let (private_path, public_path) = key_pair_paths(prefix);
    if !force {
        refuse_existing(prefix)?;
    }
    let key = PrivateKey::generate();
    let public = key.public_key();
    let private_pem = key.to_pem(password).map_err(|reason| SignError::Key {
        path: private_path.clone(),
        reason,
    })?;
    write_new_file(&private_path, private_pem.as_bytes(), 0o600, force)?;
    if let Err(e) = write_new_file(&public_path, public.to_pem().as_bytes(), 0o644, force) {
        let _ = std::fs::remove_file(&private_path);
        return Err(e);
    }
    Ok(KeyPairFiles {
        private_key: private_path,
        public_key: public_path,
        encrypted: !password.is_empty(),
        key_id: public.id().clone(),
    })
}

/// `PREFIX.key` and `PREFIX.pub`.
pub fn key_pair_paths(prefix: &Path) -> (PathBuf, PathBuf) {
    let with_ext = |ext: &str| {
        let mut name = prefix.as_os_str().to_os_string();
        name.push(ext);
        PathBuf::from(name)
    };
    (with_ext(".key"), with_ext(".pub"))
}

/// Fails with [`SignError::KeyExists`] if `PREFIX.key` or `PREFIX.pub` exists (even as a dangling
/// symlink), so that a key is never overwritten by accident.
pub fn refuse_existing(prefix: &Path) -> Result<()> {
    let (private_path, public_path) = key_pair_paths(prefix);
    for p in [private_path, public_path] {
        if std::fs::symlink_metadata(&p).is_ok() {
            return Err(SignError::KeyExists { path: p });
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file created with `mode`.
fn write_new_file(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)
            .map_err(io_err("creating", &temp))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(io_err("writing", &temp))?;
        if replace {
            std::fs::rename(&temp, path).map_err(|e| io_err("writing", path)(e).into())
        } else {
            std::fs::hard_link(&temp, path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    SignError::KeyExists {
                        path: path.to_path_buf(),
                    }
                } else {
                    io_err("writing", path)(e).into()
                }
            })
        }
    })();
    let _ = std::fs::remove_file(&temp);
    result
}

fn read_key_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(io_err("opening", path))?;
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err("reading", path))?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(SignError::Key {
            path: path.to_path_buf(),
            reason: KeyError::NotPem(format!("larger than {MAX_KEY_FILE} bytes")),
        });
    }
    String::from_utf8(bytes).map_err(|_| SignError::Key {
        path: path.to_path_buf(),
        reason: KeyError::NotPem("not text".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_password() -> std::result::Result<Zeroizing<String>, String> {
        Err("none given".into())
    }

    #[test]
    fn a_plain_key_round_trips_and_its_signatures_verify() {
        let key = PrivateKey::generate();
        let pem = key.to_pem(b"").unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{}", *pem);
        let again = PrivateKey::from_pem(&pem, no_password).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let sig = again.sign(b"payload");
        assert!(key.public_key().verifies(b"payload", &sig));
        assert!(!key.public_key().verifies(b"payloaD", &sig));
        assert!(!PrivateKey::generate()
            .public_key()
            .verifies(b"payload", &sig));
    }

    #[test]
    fn signatures_are_deterministic_for_one_key_and_payload() {
        let key = PrivateKey::generate();
        assert_eq!(key.sign(b"x"), key.sign(b"x"));
        assert_ne!(key.sign(b"x"), key.sign(b"y"));
    }

    #[test]
    fn public_keys_round_trip_through_pem() {
        let public = PrivateKey::generate().public_key();
        let pem = public.to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert_eq!(PublicKey::from_pem(&pem).unwrap(), public);
    }

    #[test]
    fn wrong_kinds_of_pem_are_named() {
        let key = PrivateKey::generate();
        let private = key.to_pem(b"").unwrap();
        let e = PublicKey::from_pem(&private).unwrap_err();
        assert!(e.to_string().contains("never the private key"), "{e}");
        let e = PrivateKey::from_pem(&key.public_key().to_pem(), no_password).unwrap_err();
        assert!(e.to_string().contains("this is a public key"), "{e}");
        let e = PrivateKey::from_pem(
            "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
            no_password,
        )
        .unwrap_err();
        assert!(e.to_string().contains("cosign's own"), "{e}");
        assert!(matches!(
            PublicKey::from_pem("hello"),
            Err(KeyError::NotPem(_))
        ));
    }
}
