//! Content digests (`sha256:<64 lowercase hex>`) and hashing while reading or writing.
//!
//! Only `sha256` is trusted. Other algorithms that obey the OCI digest grammar give
//! [`DigestError::UnsupportedAlgorithm`], never a silent pass.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// Why a string is not a digest we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The string does not follow the OCI digest grammar.
    #[error("invalid digest {digest:?}: {reason}")]
    Malformed {
        /// The string as found.
        digest: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A well-formed digest whose algorithm we do not verify.
    #[error("digest {digest:?} uses algorithm {algorithm:?}: only sha256 is supported")]
    UnsupportedAlgorithm {
        /// The string as found.
        digest: String,
        /// Its algorithm part.
        algorithm: String,
    },
}

/// A sha256 content digest, validated on construction.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// The only algorithm we produce and trust.
    pub const ALGORITHM: &'static str = "sha256";

    /// Parses `algorithm:encoded` by the OCI grammar and accepts only lowercase sha256.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let malformed = |reason| DigestError::Malformed {
            digest: s.to_string(),
            reason,
        };
        let (algorithm, encoded) = s
            .split_once(':')
            .ok_or_else(|| malformed("missing ':' between algorithm and hex"))?;
        if !valid_algorithm(algorithm) {
            return Err(malformed(
                "algorithm must match [a-z0-9]+([+._-][a-z0-9]+)*",
            ));
        }
        if encoded.is_empty()
            || !encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
        {
            return Err(malformed("encoded part must match [a-zA-Z0-9=_-]+"));
        }
        if algorithm != Self::ALGORITHM {
            return Err(DigestError::UnsupportedAlgorithm {
                digest: s.to_string(),
                algorithm: algorithm.to_string(),
            });
        }
        if encoded.len() != 64 {
            return Err(malformed("sha256 needs exactly 64 hex digits"));
        }
        if !encoded
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(malformed("sha256 hex must be lowercase [0-9a-f]"));
        }
        Ok(Self {
            hex: encoded.to_string(),
        })
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(bytes))
    }

    fn from_hasher(hasher: Sha256) -> Self {
        Self {
            hex: hex::encode(hasher.finalize()),
        }
    }

    /// The 64 lowercase hex digits.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The path of this blob relative to a layout root (`blobs/sha256/<hex>`).
    pub fn blob_path(&self) -> String {
        format!("blobs/{}/{}", Self::ALGORITHM, self.hex)
    }

    /// A short form for human output (`sha256:0123456789ab`).
    pub fn short(&self) -> String {
        format!("{}:{}", Self::ALGORITHM, &self.hex[..12])
    }
}

fn valid_algorithm(a: &str) -> bool {
    // algorithm-component ([+._-] algorithm-component)*, component = [a-z0-9]+
    !a.is_empty()
        && a.split(['+', '.', '_', '-']).all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", Self::ALGORITHM, self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Hashes bytes as they pass through, counting them.
#[derive(Clone, Default)]
pub struct Hasher {
    sha: Sha256,
    len: u64,
}

impl Hasher {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest and size of everything fed.
    pub fn finish(self) -> (Digest, u64) {
        (Digest::from_hasher(self.sha), self.len)
    }
}

/// A reader that hashes what it reads.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// The digest and size of what was read.
    pub fn finish(self) -> (Digest, u64) {
        self.hasher.finish()
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A writer that hashes what it writes.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// The wrapped writer, and the digest and size of what was written.
    pub fn finish(self) -> (W, Digest, u64) {
        let (d, n) = self.hasher.finish();
        (self.inner, d, n)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digest_of_empty_input_is_the_well_known_value() {
        assert_eq!(Digest::of(b"").to_string(), EMPTY);
        assert_eq!(Digest::parse(EMPTY).unwrap(), Digest::of(b""));
    }

    #[test]
    fn uppercase_hex_is_malformed() {
        let s = EMPTY.to_uppercase().replacen("SHA256", "sha256", 1);
        assert!(matches!(
            Digest::parse(&s),
            Err(DigestError::Malformed { .. })
        ));
    }

    #[test]
    fn other_algorithms_are_named_not_trusted() {
        let e = Digest::parse("sha512:abcd").unwrap_err();
        assert_eq!(
            e,
            DigestError::UnsupportedAlgorithm {
                digest: "sha512:abcd".into(),
                algorithm: "sha512".into()
            }
        );
        assert!(e.to_string().contains("only sha256"));
    }

    #[test]
    fn grammar_violations_are_malformed() {
        for s in [
            "",
            "sha256",
            ":abc",
            "SHA256:abc",
            "sha256:",
            "sha256:abc",
            "sha256:../../etc/passwd",
            "sha256+:ab",
        ] {
            assert!(
                matches!(Digest::parse(s), Err(DigestError::Malformed { .. })),
                "{s:?}"
            );
        }
    }

    #[test]
    fn hashing_reader_and_writer_agree_with_one_shot() {
        let data = vec![7u8; 100_000];
        let mut r = HashingReader::new(&data[..]);
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        assert_eq!(r.finish(), (Digest::of(&data), 100_000));
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(&data).unwrap();
        let (out, d, n) = w.finish();
        assert_eq!((d, n), (Digest::of(&data), 100_000));
        assert_eq!(out, data);
    }
}
