//! Ref names (the `org.opencontainers.image.ref.name` annotation) and image references
//! on the command line (`PATH`, `PATH:NAME`, `PATH@sha256:HEX`).

use std::fmt;
use std::path::PathBuf;

use super::digest::{Digest, DigestError};

/// Longest tag a registry accepts (distribution spec).
const MAX_TAG_LEN: usize = 128;

/// A ref name that is valid under the OCI image-layout grammar and whose tag part is a
/// valid registry tag, so the name survives `skopeo copy … docker://host/repo:TAG`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RefName(String);

/// Why a string is not a ref name we write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid name {name:?}: {reason}")]
pub struct RefNameError {
    /// The name as given.
    pub name: String,
    /// What is wrong with it.
    pub reason: String,
}

impl RefName {
    /// Validates `name`.
    ///
    /// Grammar (OCI image layout): `component ("/" component)*`, where a component is
    /// alphanumeric runs joined by one of `-._:@+` or `--`. In addition the tag part (after
    /// the last `:` of the last component, or the whole name when it has no `/`) must be a
    /// registry tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`), and `@` is refused because it
    /// would read as a digest reference on our command line.
    pub fn parse(name: &str) -> Result<Self, RefNameError> {
        let err = |reason: &str| RefNameError {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        if name.contains('@') {
            return Err(err("'@' is not allowed in names (it introduces a digest)"));
        }
        check_grammar(name).map_err(|r| err(&r))?;
        let last = name.rsplit('/').next().unwrap_or(name);
        let tag = match last.rsplit_once(':') {
            Some((_, tag)) => Some(tag),
            None if !name.contains('/') => Some(name),
            None => None,
        };
        if let Some(tag) = tag {
            check_tag(tag).map_err(|r| err(&r))?;
        }
        check_repository_case(name).map_err(|r| err(&r))?;
        Ok(Self(name.to_string()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks `name` against the OCI image-layout ref-name grammar alone (no registry tag
/// rules), and says why it fails. Used to judge names written by other tools.
pub fn check_grammar(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a name cannot be empty".into());
    }
    name.split('/').try_for_each(check_component)
}

fn check_component(c: &str) -> Result<(), String> {
    if c.is_empty() {
        return Err("empty path component (leading, trailing or doubled '/')".into());
    }
    let bytes = c.as_bytes();
    let is_alnum = |b: u8| b.is_ascii_alphanumeric();
    let is_sep = |b: u8| matches!(b, b'-' | b'.' | b'_' | b':' | b'@' | b'+');
    if !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return Err(format!(
            "component {c:?} must start and end with a letter or digit"
        ));
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if is_alnum(b) {
            i += 1;
            continue;
        }
        if !is_sep(b) {
            return Err(format!(
                "character {:?} is not allowed (use letters, digits and - . _ : +)",
                b as char
            ));
        }
        // One separator, or exactly "--".
        let run = bytes[i..].iter().take_while(|&&b| is_sep(b)).count();
        if !(run == 1 || (run == 2 && &bytes[i..i + 2] == b"--")) {
            return Err(format!("separators in {c:?} must be single (or \"--\")"));
        }
        i += run;
    }
    Ok(())
}

/// Registries refuse uppercase in repository paths (`ghcr.io/Acme/probe`), so such a
/// name could never be pushed. The registry host (a first component with `.` or `:`, or
/// `localhost`) and the tag may hold uppercase; a name without `/` is all tag.
fn check_repository_case(name: &str) -> Result<(), String> {
    if !name.contains('/') {
        return Ok(());
    }
    let repository = match name.rsplit_once('/') {
        Some((head, last)) => match last.rsplit_once(':') {
            Some((repo_last, _tag)) => format!("{head}/{repo_last}"),
            None => name.to_string(),
        },
        None => name.to_string(),
    };
    let mut components: Vec<&str> = repository.split('/').collect();
    let first = components[0];
    if first.contains('.') || first.contains(':') || first == "localhost" {
        components.remove(0);
    }
    if components
        .iter()
        .any(|c| c.chars().any(|ch| ch.is_ascii_uppercase()))
    {
        let lower = components.join("/").to_ascii_lowercase();
        return Err(format!(
            "the repository path must be lowercase (registries refuse uppercase): use {lower:?} in it"
        ));
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let bytes = tag.as_bytes();
    let first_ok = bytes
        .first()
        .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_');
    if !first_ok
        || bytes.len() > MAX_TAG_LEN
        || !bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(format!(
            "tag {tag:?} is not a registry tag ([A-Za-z0-9_][A-Za-z0-9_.-], at most {MAX_TAG_LEN} characters)"
        ));
    }
    Ok(())
}

impl fmt::Display for RefName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for RefName {
    type Err = RefNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Which image(s) of a layout or archive a reference means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// No name given: all images (or the only one).
    All,
    /// The image(s) with this ref name. Not validated: names written by other tools are
    /// looked up as they are.
    Name(String),
    /// The manifest with this digest.
    Digest(Digest),
}

/// An image reference on the command line: `PATH`, `PATH:NAME` or `PATH@sha256:HEX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The layout directory, archive, or `-` for standard input.
    pub path: PathBuf,
    /// What inside it.
    pub selector: Selector,
}

/// Why a reference cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageRefError {
    /// Nothing before the `:` or `@`.
    #[error("invalid reference {0:?}: the path is empty")]
    EmptyPath(String),
    /// The digest after `@` is not acceptable.
    #[error("invalid reference {reference:?}: {source}")]
    Digest {
        /// The reference as given.
        reference: String,
        /// What is wrong with the digest.
        source: DigestError,
    },
    /// `PATH:` with nothing after the colon.
    #[error("invalid reference {0:?}: empty name after ':'")]
    EmptyName(String),
}

impl ImageRef {
    /// Parses a reference. Like skopeo's `oci:` transport the path ends at the first `:`,
    /// so `dir:ghcr.io/acme/probe:1.2` names `ghcr.io/acme/probe:1.2` in `dir`. When the
    /// part before the first `:` contains `@`, the reference is `PATH@DIGEST` and splits
    /// at that `@`.
    pub fn parse(s: &str) -> Result<Self, ImageRefError> {
        let head = s.split(':').next().unwrap_or(s);
        if let Some(at) = head.rfind('@') {
            let (path, digest) = (&s[..at], &s[at + 1..]);
            if path.is_empty() {
                return Err(ImageRefError::EmptyPath(s.to_string()));
            }
            let digest = Digest::parse(digest).map_err(|source| ImageRefError::Digest {
                reference: s.to_string(),
                source,
            })?;
            return Ok(Self {
                path: PathBuf::from(path),
                selector: Selector::Digest(digest),
            });
        }
        let (path, selector) = match s.split_once(':') {
            None => (s, Selector::All),
            Some((_, "")) => return Err(ImageRefError::EmptyName(s.to_string())),
            Some((path, name)) => (path, Selector::Name(name.to_string())),
        };
        if path.is_empty() {
            return Err(ImageRefError::EmptyPath(s.to_string()));
        }
        Ok(Self {
            path: PathBuf::from(path),
            selector,
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        match &self.selector {
            Selector::All => Ok(()),
            Selector::Name(n) => write!(f, ":{n}"),
            Selector::Digest(d) => write!(f, "@{d}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_following_the_grammar_are_accepted() {
        for n in [
            "execsnoop",
            "tp_counter",
            "a",
            "v1.2.3",
            "ghcr.io/acme/probe:1.2",
            "localhost:5000/x/y:latest",
            "a--b",
            "A_b-c.d",
            "Registry.Example:5000/acme/probe:V1",
        ] {
            assert!(RefName::parse(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn names_breaking_the_grammar_say_why() {
        for (n, why) in [
            ("", "empty"),
            ("-x", "start and end"),
            ("x-", "start and end"),
            ("a//b", "empty path component"),
            ("a b", "not allowed"),
            ("a..b", "single"),
            ("a/b:", "start and end"),
            ("x@sha256", "'@'"),
            ("ghcr.io/acme/p:.bad", "must be single"),
            ("naïve", "not allowed"),
            ("ghcr.io/Acme/probe:1.2", "lowercase"),
            ("acme/Probe", "lowercase"),
        ] {
            let e = RefName::parse(n).unwrap_err();
            assert!(e.to_string().contains(why), "{n:?}: {e}");
        }
        let long = "a".repeat(129);
        assert!(RefName::parse(&long)
            .unwrap_err()
            .reason
            .contains("registry tag"));
        assert!(RefName::parse(&format!("repo/{long}")).is_ok());
    }

    #[test]
    fn references_split_at_the_first_colon_like_skopeo() {
        let r = ImageRef::parse("out:ghcr.io/acme/probe:1.2").unwrap();
        assert_eq!(r.path, PathBuf::from("out"));
        assert_eq!(r.selector, Selector::Name("ghcr.io/acme/probe:1.2".into()));
        assert_eq!(ImageRef::parse("out").unwrap().selector, Selector::All);
        assert_eq!(ImageRef::parse("-").unwrap().path, PathBuf::from("-"));
    }

    #[test]
    fn digest_references_are_parsed_and_checked() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = ImageRef::parse(&format!("dir/x.tar@sha256:{hex}")).unwrap();
        assert_eq!(r.path, PathBuf::from("dir/x.tar"));
        assert!(matches!(r.selector, Selector::Digest(_)));
        assert!(matches!(
            ImageRef::parse("x@sha512:abc"),
            Err(ImageRefError::Digest { .. })
        ));
        assert!(matches!(
            ImageRef::parse(":name"),
            Err(ImageRefError::EmptyPath(_))
        ));
        assert!(matches!(
            ImageRef::parse("x:"),
            Err(ImageRefError::EmptyName(_))
        ));
    }
}
