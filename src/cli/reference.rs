//! References as users type them, and hints for the usual mistakes: a skopeo-style
//! transport prefix, `bundle.tar/name` for `bundle.tar:name`, a plain BPF object where an
//! image is expected, a misspelt name, an output name we would not write as its
//! extension promises.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::image::ResolveError;
use crate::oci::ImageRef;

/// skopeo's transports for local images: users copy references from skopeo commands.
const TRANSPORT_PREFIXES: [&str; 3] = ["oci:", "oci-archive:", "dir:"];

/// Standard input spelt as a path: `-:NAME` is passed to clap as `/dev/stdin:NAME` (a
/// leading `-` would read as options), and read as `-`, with its bounded buffering.
pub(crate) const STDIN_PATH: &str = "/dev/stdin";

/// The ELF machine number of BPF objects.
const EM_BPF: u16 = 247;

/// Parses a reference to something that must already exist (a layout, an archive or `-`),
/// and when its path does not exist or is not an image store, says what was probably
/// meant. A path that exists is left to the command to open.
pub(crate) fn input_ref(text: &str) -> anyhow::Result<ImageRef> {
    if let Some(rest) = text.strip_prefix("docker://") {
        bail!(
            "{text}: ebpf-layout reads local layouts and archives only; fetch the image first, e.g. \
             skopeo copy docker://{rest} oci-archive:bundle.tar"
        );
    }
    let mut reference = ImageRef::parse(text)?;
    if reference.path.as_os_str() == STDIN_PATH {
        reference.path = PathBuf::from("-");
    }
    let path = &reference.path;
    if path.as_os_str() == "-" || path.exists() {
        if let Some(what) = non_image_file(path) {
            bail!("{}: {what}", path.display());
        }
        return Ok(reference);
    }
    for prefix in TRANSPORT_PREFIXES {
        if let Some(rest) = text.strip_prefix(prefix) {
            bail!("{text}: no transport prefix is needed here; drop the {prefix} prefix: {rest}");
        }
    }
    if let Some((store, rest)) = store_ancestor(path) {
        let mut suggestion = format!("{}:{}", store.display(), rest);
        if let crate::oci::Selector::Name(name) = &reference.selector {
            // `bundle.tar/dir:tag` was meant as a name with a tag.
            suggestion.push(':');
            suggestion.push_str(name);
        }
        bail!(
            "{}: no such file or directory; a name inside a layout or archive follows a ':', \
             use {suggestion}",
            path.display()
        );
    }
    bail!(
        "{}: no such file or directory (give a layout directory, a .tar or .tar.gz archive, \
         or - for standard input)",
        path.display()
    )
}

/// What `path` is when it is a file but cannot be an image store: a BPF object (the most
/// common slip: `inspect probe.bpf.o`) or another ELF file.
fn non_image_file(path: &Path) -> Option<String> {
    let mut head = [0u8; 20];
    let mut file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() || file.read_exact(&mut head).is_err() {
        return None;
    }
    if &head[..4] != b"\x7fELF" {
        return None;
    }
    let machine = match head[5] {
        2 => u16::from_be_bytes([head[18], head[19]]),
        _ => u16::from_le_bytes([head[18], head[19]]),
    };
    Some(if machine == EM_BPF {
        format!(
            "this is a BPF object, not an image: pack it first: ebpf-layout pack {} -o bundle",
            path.display()
        )
    } else {
        "this is an ELF file, not an image layout or archive".to_string()
    })
}

/// The nearest existing ancestor of a missing `path` that is a layout or an archive, and
/// the rest of the path below it (`bundle.tar/probe` → (`bundle.tar`, `probe`)).
fn store_ancestor(path: &Path) -> Option<(PathBuf, String)> {
    let mut ancestor = path.parent();
    while let Some(a) = ancestor {
        if a.as_os_str().is_empty() {
            return None;
        }
        if a.exists() {
            let is_store = if a.is_dir() {
                a.join("index.json").is_file()
            } else {
                a.is_file()
            };
            if !is_store {
                return None;
            }
            let rest = path.strip_prefix(a).ok()?.to_string_lossy().into_owned();
            return Some((a.to_path_buf(), rest));
        }
        ancestor = a.parent();
    }
    None
}

/// Compressions we read nowhere and write nowhere: an output named so would silently
/// become a layout directory of that name.
const UNSUPPORTED_ARCHIVE_SUFFIXES: [&str; 12] = [
    ".tar.zst",
    ".tzst",
    ".tar.xz",
    ".txz",
    ".tar.bz2",
    ".tbz2",
    ".tbz",
    ".tar.lz4",
    ".tar.lz",
    ".tar.lzma",
    ".tar.Z",
    ".zip",
];

/// Refuses an output path whose name promises an archive format that is not written
/// (`.tar.zst`, `.tar.xz`, `.zip`, …), unless it is already a layout directory.
pub(crate) fn check_output_name(path: &Path) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unsupported = UNSUPPORTED_ARCHIVE_SUFFIXES
        .iter()
        .find(|s| name.to_ascii_lowercase().ends_with(&s.to_ascii_lowercase()));
    if let Some(suffix) = unsupported {
        if !path.is_dir() {
            bail!(
                "{}: {suffix} archives are not written; name the output .tar, .tar.gz (or .tgz), \
                 or a directory for a layout",
                path.display()
            );
        }
    }
    Ok(())
}

/// The name in `available` closest to `wanted`, when it is close enough to be a typo
/// (at most a third of its characters differ, at least one edit allowed).
pub(crate) fn did_you_mean<'a>(wanted: &str, available: &'a [String]) -> Option<&'a str> {
    let budget = (wanted.chars().count() / 3).max(1);
    available
        .iter()
        .map(|name| (edit_distance(wanted, name), name))
        .filter(|(d, _)| *d <= budget)
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name.as_str())
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// A hint for an error that has a usual cause, printed after it.
pub(crate) fn hint(error: &anyhow::Error) -> Option<String> {
    match error.chain().find_map(crate::error::resolve_error_in)? {
        ResolveError::ImageNotFound {
            wanted, available, ..
        } => {
            let name = wanted.strip_prefix("named ")?;
            // `wanted` quotes the name as Rust does; compare quoted forms alike.
            let quoted: Vec<String> = available.iter().map(|n| format!("{n:?}")).collect();
            let close = did_you_mean(name, &quoted)?;
            let index = quoted.iter().position(|q| q == close)?;
            Some(format!("did you mean {}?", available[index]))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_matched_and_strangers_are_not() {
        let names = vec!["tp_counter".to_string(), "xdp_count".to_string()];
        assert_eq!(did_you_mean("tp_countr", &names), Some("tp_counter"));
        assert_eq!(did_you_mean("xdp_cuont", &names), Some("xdp_count"));
        assert_eq!(did_you_mean("probe", &names), None);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
