//! The entries of an archive, checked one by one as they are found: the rules that make
//! an archive safe to read without extracting it, in one place.
//!
//! Refused (the whole archive, naming the entry): names that are absolute, contain `..`,
//! `.` or empty components inside, control characters or invalid UTF-8; anything but
//! regular files and directories (symlinks, hard links, devices, fifos, sparse files);
//! a name given twice (unless both are directories); an entry under a file; anything
//! under `blobs/` that is not `blobs/sha256/<64 lowercase hex>`; `oci-layout` or
//! `index.json` that are not files or are over their size limit. Tolerated: `./`
//! prefixes, a `./` root entry, missing directory entries, and unknown files outside
//! `blobs/` (DESIGN §6).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::tar::RawEntry;
use crate::limits::{Limits, MAX_OCI_LAYOUT_SIZE};
use crate::oci::media_type::IMAGE_LAYOUT_VERSION;
use crate::oci::Digest;
use crate::store::{EntryKind, StoredEntry};
use crate::store::{Result, StoreError};

/// What an accepted entry is to the reader, which decides what to do with its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The `oci-layout` file (keep its bytes).
    OciLayout,
    /// `index.json` (keep its bytes).
    Index,
    /// A blob under `blobs/sha256/`.
    Blob(Digest),
    /// A directory (no data to read).
    Dir,
    /// Any other regular file (tolerated, never read unless asked).
    Other,
}

/// One accepted entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// File or directory.
    pub kind: EntryKind,
    /// Size of its data.
    pub size: u64,
    /// Offset of its data in the tar stream.
    pub data_offset: u64,
    /// The sha256 of its content, when the reader hashed it while reading.
    pub digest: Option<Digest>,
    /// Its bytes, when the reader kept them.
    pub kept: Option<Vec<u8>>,
    /// Whether the archive has an entry for it (directories may be implied by paths).
    pub explicit: bool,
}

/// Every accepted entry by normalised path (`blobs/sha256/<hex>`, no `./`, no trailing
/// `/`), in path order.
#[derive(Debug)]
pub struct Catalog {
    location: PathBuf,
    entries: BTreeMap<String, Entry>,
}

impl Catalog {
    /// An empty catalog for the archive at `location`.
    pub fn new(location: &Path) -> Self {
        Self {
            location: location.to_path_buf(),
            entries: BTreeMap::new(),
        }
    }

    fn refuse(&self, raw: &RawEntry, reason: impl Into<String>) -> StoreError {
        StoreError::UnsafeEntry {
            path: self.location.clone(),
            entry: format!("{:?}", raw.display_name()),
            reason: reason.into(),
        }
    }

    /// Checks `raw` against the rules and records it. Returns its role, or the error that
    /// makes the whole archive unusable.
    pub fn add(&mut self, raw: &RawEntry, limits: &Limits) -> Result<Role> {
        let (path, trailing_slash) = match normalize(&raw.name) {
            Ok(Some(p)) => p,
            Ok(None) if raw.typeflag == b'5' || is_regular(raw.typeflag) => {
                // `./` (or `.`): the root itself, as GNU tar writes it with `-C dir .`.
                return Ok(Role::Dir);
            }
            Ok(None) => return Err(self.refuse(raw, "the archive root is not a directory")),
            Err(reason) => return Err(self.refuse(raw, reason)),
        };
        let link = String::from_utf8_lossy(&raw.link).into_owned();
        let only = "archives may hold only regular files and directories";
        let kind = match raw.typeflag {
            t if is_regular(t) && trailing_slash => EntryKind::Dir,
            t if is_regular(t) => EntryKind::File,
            b'5' => EntryKind::Dir,
            b'1' => return Err(self.refuse(raw, format!("is a hard link to {link:?}; {only}"))),
            b'2' => return Err(self.refuse(raw, format!("is a symbolic link to {link:?}; {only}"))),
            b'3' => return Err(self.refuse(raw, format!("is a character device; {only}"))),
            b'4' => return Err(self.refuse(raw, format!("is a block device; {only}"))),
            b'6' => return Err(self.refuse(raw, format!("is a fifo; {only}"))),
            b'S' => return Err(self.refuse(raw, format!("is a GNU sparse file; {only}"))),
            t => {
                return Err(self.refuse(raw, format!("has tar entry type {:?}; {only}", t as char)))
            }
        };
        let is_dir = kind == EntryKind::Dir;
        if let Some(existing) = self.entries.get_mut(&path) {
            if is_dir && existing.kind == EntryKind::Dir {
                existing.explicit = true;
                return Ok(Role::Dir);
            }
            return Err(self.refuse(
                raw,
                format!("{path} appears twice in the archive; which one is meant is ambiguous"),
            ));
        }
        let mut ancestor = path.as_str();
        while let Some((parent, _)) = ancestor.rsplit_once('/') {
            if self
                .entries
                .get(parent)
                .is_some_and(|e| e.kind != EntryKind::Dir)
            {
                return Err(self.refuse(raw, format!("lies under {parent}, which is a file")));
            }
            ancestor = parent;
        }
        if !is_dir {
            let below = format!("{path}/");
            if let Some((child, _)) = self.entries.range(below.clone()..).next() {
                if child.starts_with(&below) {
                    return Err(self.refuse(
                        raw,
                        format!("is a file, but {child} lies under it as if it were a directory"),
                    ));
                }
            }
        }
        let role = self.role(raw, &path, is_dir, limits)?;
        self.entries.insert(
            path,
            Entry {
                kind,
                size: if is_dir { 0 } else { raw.size },
                data_offset: raw.data_offset,
                digest: None,
                kept: None,
                explicit: true,
            },
        );
        Ok(role)
    }

    fn role(&self, raw: &RawEntry, path: &str, is_dir: bool, limits: &Limits) -> Result<Role> {
        let parts: Vec<&str> = path.split('/').collect();
        if parts[0] == "blobs" {
            if parts.len() >= 2 && parts[1] != "sha256" {
                return Err(self.refuse(
                    raw,
                    format!(
                        "blob algorithm {:?} is not supported: only sha256 blobs are read",
                        parts[1]
                    ),
                ));
            }
            return match (parts.len(), is_dir) {
                (1, true) | (2, true) => Ok(Role::Dir),
                (1, false) | (2, false) => {
                    Err(self.refuse(raw, format!("{path} must be a directory")))
                }
                (3, false) => match Digest::parse(&format!("sha256:{}", parts[2])) {
                    Ok(d) => Ok(Role::Blob(d)),
                    Err(e) => {
                        Err(self.refuse(raw, format!("blob name is not a valid digest: {e}")))
                    }
                },
                (3, true) => Err(self.refuse(raw, "is a directory where a blob should be")),
                _ => Err(self.refuse(raw, "blobs/sha256/ may hold only blobs, not folders")),
            };
        }
        match (path, is_dir) {
            ("oci-layout" | "index.json", true) => {
                Err(self.refuse(raw, format!("{path} must be a regular file")))
            }
            ("oci-layout", false) if raw.size > MAX_OCI_LAYOUT_SIZE => Err(StoreError::Archive {
                path: self.location.clone(),
                entry: path.into(),
                reason: format!(
                    "is {} bytes, over the limit of {MAX_OCI_LAYOUT_SIZE}",
                    raw.size
                ),
            }),
            ("oci-layout", false) => Ok(Role::OciLayout),
            ("index.json", false) if raw.size > limits.max_index_size => Err(StoreError::Archive {
                path: self.location.clone(),
                entry: path.into(),
                reason: format!(
                    "is {} bytes, over the limit of {} bytes (--max-index-size / EBPF_LAYOUT_MAX_INDEX_SIZE); if the archive is genuine, raise the limit",
                    raw.size, limits.max_index_size
                ),
            }),
            ("index.json", false) => Ok(Role::Index),
            (_, true) => Ok(Role::Dir),
            (_, false) => Ok(Role::Other),
        }
    }

    /// Records what the reader learnt about an entry's content.
    pub fn set_content(&mut self, path: &str, digest: Option<Digest>, kept: Option<Vec<u8>>) {
        if let Some(e) = self.entries.get_mut(path) {
            e.digest = digest;
            e.kept = kept;
        }
    }

    /// After the last entry: `oci-layout` (version 1.0.0) and `index.json` must be there,
    /// and directories implied by paths are added.
    pub fn finish(&mut self) -> Result<()> {
        let not_a_layout = |reason: String| StoreError::NotALayout {
            path: self.location.clone(),
            reason,
        };
        let Some(oci_layout) = self.entries.get("oci-layout") else {
            let nested = self
                .entries
                .keys()
                .find(|p| p.ends_with("/oci-layout"))
                .map(|p| p.trim_end_matches("oci-layout").to_string());
            return Err(not_a_layout(match nested {
                Some(dir) => format!(
                    "the archive has no oci-layout at its root; the layout is inside folder {dir} (archives must hold the layout at their root, as skopeo and oras write them)"
                ),
                None => "the archive has no oci-layout entry: it is not an OCI image layout archive".into(),
            }));
        };
        let bytes = oci_layout.kept.as_deref().unwrap_or_default();
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct OciLayout {
            image_layout_version: String,
        }
        match serde_json::from_slice::<OciLayout>(bytes) {
            Ok(v) if v.image_layout_version == IMAGE_LAYOUT_VERSION => {}
            Ok(v) => {
                return Err(not_a_layout(format!(
                    "oci-layout: imageLayoutVersion is {:?}, expected {IMAGE_LAYOUT_VERSION:?}",
                    v.image_layout_version
                )))
            }
            Err(e) => return Err(not_a_layout(format!("oci-layout: {e}"))),
        }
        if !self.entries.contains_key("index.json") {
            return Err(not_a_layout("the archive has no index.json".into()));
        }
        let mut implied = Vec::new();
        for path in self.entries.keys() {
            let mut p = path.as_str();
            while let Some((parent, _)) = p.rsplit_once('/') {
                if !self.entries.contains_key(parent) {
                    implied.push(parent.to_string());
                }
                p = parent;
            }
        }
        for dir in implied {
            self.entries.entry(dir).or_insert(Entry {
                kind: EntryKind::Dir,
                size: 0,
                data_offset: 0,
                digest: None,
                kept: None,
                explicit: false,
            });
        }
        Ok(())
    }

    /// The entry at a normalised path.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// The regular file at `path` (`oci-layout`, `index.json`, a blob path), or the error
    /// a layout directory would give: missing, or not a regular file.
    pub fn file(&self, path: &str) -> Result<&Entry> {
        match self.entries.get(path) {
            Some(e) if e.kind == EntryKind::File => Ok(e),
            Some(_) => Err(StoreError::UnsafeEntry {
                path: self.location.clone(),
                entry: path.to_string(),
                reason: "is not a regular file".into(),
            }),
            None => Err(StoreError::Io {
                op: "reading",
                path: self.location.join(path),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such entry in the archive",
                ),
            }),
        }
    }

    /// The blob named by `digest`, or [`StoreError::BlobMissing`].
    pub fn blob(&self, digest: &Digest) -> Result<&Entry> {
        match self.entries.get(&digest.blob_path()) {
            Some(e) => Ok(e),
            None => Err(StoreError::BlobMissing {
                path: self.location.clone(),
                digest: digest.clone(),
            }),
        }
    }

    /// Every entry, in path order, as `scan` reports them (digests as recorded).
    pub fn stored_entries(&self) -> Vec<StoredEntry> {
        self.entries
            .iter()
            .map(|(path, e)| StoredEntry {
                path: path.clone(),
                kind: e.kind.clone(),
                size: e.size,
                digest: e.digest.clone(),
            })
            .collect()
    }
}

fn is_regular(typeflag: u8) -> bool {
    // '0', NUL (pre-POSIX) and '7' (contiguous file, read as a regular file by all).
    matches!(typeflag, b'0' | 0 | b'7')
}

/// Checks a stored name and returns it normalised, with whether it ended in `/`; `None`
/// for the root itself (`.`, `./`). Says why a name is refused.
pub fn normalize(raw: &[u8]) -> std::result::Result<Option<(String, bool)>, String> {
    let s = std::str::from_utf8(raw).map_err(|_| "the name is not valid UTF-8".to_string())?;
    if s.is_empty() {
        return Err("the name is empty".into());
    }
    if s.starts_with('/') {
        return Err(
            "absolute name: entries must be relative to the layout root; it would be written outside the destination".into(),
        );
    }
    if s.chars().any(char::is_control) {
        return Err("the name contains control characters".into());
    }
    let trailing = s.ends_with('/');
    let body = s.strip_suffix('/').unwrap_or(s);
    let mut parts: Vec<&str> = Vec::new();
    for c in body.split('/') {
        match c {
            ".." => return Err("'..' in the name: it would reach outside the layout root".into()),
            "." if parts.is_empty() => {}
            "." => return Err("'.' component inside the name".into()),
            "" => return Err("empty component ('//') in the name".into()),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some((parts.join("/"), trailing)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_or_refused_with_a_reason() {
        let ok = |s: &str| normalize(s.as_bytes()).unwrap().map(|(p, _)| p);
        assert_eq!(ok("index.json").as_deref(), Some("index.json"));
        assert_eq!(ok("./index.json").as_deref(), Some("index.json"));
        assert_eq!(ok("././blobs/sha256/").as_deref(), Some("blobs/sha256"));
        assert_eq!(ok("./"), None);
        assert_eq!(ok("."), None);
        for (bad, why) in [
            ("/etc/passwd", "absolute"),
            ("../evil", "'..'"),
            ("blobs/../../evil", "'..'"),
            ("blobs//sha256", "empty component"),
            ("blobs/./sha256", "'.' component"),
            ("a\nb", "control"),
            ("", "empty"),
        ] {
            let e = normalize(bad.as_bytes()).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        assert!(normalize(b"\xff\xfe").unwrap_err().contains("UTF-8"));
    }
}
