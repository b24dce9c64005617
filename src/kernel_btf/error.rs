//! What bundling kernel BTF fails with: reading the kernel BTF given to `pack`,
//! minimising it with bpftool, and reading what an image carries.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;

use crate::elf::ElfError;
use crate::oci::Digest;
use crate::store::StoreError;

use super::{ANNOTATION_RELEASE, ARTIFACT_TYPE, MAX_BTF_SIZE, MAX_RELEASE_LEN};

/// Why kernel BTF cannot be read, minimised, stored or found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KernelBtfError {
    /// Reading or writing a file, layout or archive failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Two different files give BTF for the same kernel release.
    #[error("{}: kernel {release} is given twice (also {}); keep one (in a BTFHub tree, point --kernel-btf at one architecture's folder)", path.display(), other.display())]
    ReleaseGivenTwice {
        /// The second file.
        path: PathBuf,
        /// The release.
        release: String,
        /// The first file.
        other: PathBuf,
    },
    /// `--kernel-btf RELEASE=FILE` names a file that does not exist.
    #[error("{}: --kernel-btf: no such file", path.display())]
    NoSuchFile {
        /// The file.
        path: PathBuf,
    },
    /// `--kernel-btf DIR` names something that is not a directory.
    #[error("{}: --kernel-btf: not a directory (for one file, give RELEASE=FILE)", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// Walking a `--kernel-btf DIR` folder failed.
    #[error("{}: --kernel-btf: reading the folder: {error}", path.display())]
    ReadingFolder {
        /// The folder.
        path: PathBuf,
        /// What failed, naming the entry.
        error: walkdir::Error,
    },
    /// A `--kernel-btf DIR` folder holds no kernel BTF files.
    #[error("{}: --kernel-btf: no <release>.btf or <release>.btf.tar.xz files in this folder", path.display())]
    EmptyFolder {
        /// The folder.
        path: PathBuf,
    },
    /// A file's name gives a kernel release that is not valid.
    #[error("{}: {reason}", path.display())]
    InvalidRelease {
        /// The file.
        path: PathBuf,
        /// The release and the rule it breaks.
        reason: InvalidRelease,
    },
    /// A kernel BTF file is larger than we read.
    #[error("{}: over the limit of {limit} bytes for kernel BTF{}", path.display(), if *.compressed { " (compressed)" } else { "" })]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit ([`super::MAX_XZ_SIZE`] compressed, [`MAX_BTF_SIZE`] raw).
        limit: u64,
        /// Whether the file is a compressed `.btf.tar.xz`.
        compressed: bool,
    },
    /// A kernel BTF file (or the file inside a `.btf.tar.xz`) is not BTF.
    #[error("{}: {reason}", path.display())]
    NotBtf {
        /// The file.
        path: PathBuf,
        /// What the BTF parser found.
        reason: NotKernelBtf,
    },
    /// liblzma would not start a decoder.
    #[error("{}: starting the xz decoder: {error}", path.display())]
    XzDecoder {
        /// The `.btf.tar.xz` file.
        path: PathBuf,
        /// liblzma's error.
        error: xz2::stream::Error,
    },
    /// A `.btf.tar.xz` file does not decompress.
    #[error("{}: not a valid .tar.xz: {error}", path.display())]
    NotTarXz {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        error: io::Error,
    },
    /// A `.btf.tar.xz` file decompresses to more than kernel BTF can be.
    #[error("{}: decompresses to more than {limit} bytes; refusing (kernel BTF is at most {MAX_BTF_SIZE} bytes)", path.display())]
    TarTooLarge {
        /// The file.
        path: PathBuf,
        /// The most tar bytes read.
        limit: u64,
    },
    /// A `.btf.tar.xz` holds an absolute name or one with `..`.
    #[error("{}: the tarball holds {name:?}, a name outside its folder; refusing", path.display())]
    TarNameOutside {
        /// The file.
        path: PathBuf,
        /// The entry's name.
        name: String,
    },
    /// A `.btf.tar.xz` holds a link, a device or another special file.
    #[error("{}: the tarball holds {name:?}, which is not a regular file (tar type {typeflag:?}); links and devices are refused", path.display())]
    TarSpecialFile {
        /// The file.
        path: PathBuf,
        /// The entry's name.
        name: String,
        /// Its tar type flag.
        typeflag: char,
    },
    /// A `.btf.tar.xz` holds more than one file.
    #[error("{}: the tarball holds more than one file ({first:?}, {second:?}); a BTFHub .btf.tar.xz holds one", path.display())]
    TarSeveralFiles {
        /// The file.
        path: PathBuf,
        /// The first file in it.
        first: String,
        /// The second.
        second: String,
    },
    /// A `.btf.tar.xz` holds no file.
    #[error("{}: the tarball holds no file", path.display())]
    TarEmpty {
        /// The file.
        path: PathBuf,
    },
    /// bpftool could not minimise a kernel's BTF for an object.
    #[error("{}: minimising kernel {release}'s BTF for {}: {reason}", path.display(), object.display())]
    Minimise {
        /// The kernel's BTF file.
        path: PathBuf,
        /// The kernel release.
        release: String,
        /// The BPF object.
        object: PathBuf,
        /// What went wrong with bpftool (boxed: it is the largest part, and keeps every
        /// error that wraps this one small).
        reason: Box<BpftoolError>,
    },
    /// Minimised BTF to store carries a kernel release that is not valid.
    #[error("{}: {reason}", reason.release)]
    ArtifactRelease {
        /// The release and the rule it breaks.
        reason: InvalidRelease,
    },
    /// The manifest bundling kernel BTF could not be serialised (it holds only strings
    /// and numbers, so this does not happen in practice).
    #[error("{image}: serialising the kernel BTF manifest: {error}")]
    ArtifactManifest {
        /// The image manifest it was for.
        image: Digest,
        /// What the serialiser said.
        error: serde_json::Error,
    },
    /// An image's `sha256-<hex>.btf` entry is not the kernel BTF artifact of that image.
    #[error("{}: kernel BTF manifest {manifest}: {problem}", path.display())]
    BadArtifact {
        /// The layout or archive.
        path: PathBuf,
        /// The artifact's manifest.
        manifest: Digest,
        /// What is wrong with it.
        problem: ArtifactProblem,
    },
    /// An image carries no BTF for the kernel release asked for.
    #[error("{}: {}", path.display(), no_btf_for(image, release, available))]
    NoBtfForRelease {
        /// The layout or archive.
        path: PathBuf,
        /// The image manifest.
        image: Digest,
        /// The kernel release asked for.
        release: String,
        /// The releases it does carry BTF for.
        available: Vec<String>,
    },
    /// The BTF bundled for a kernel release hashes right but is not BTF.
    #[error("{}: bundled BTF for kernel {release}: {reason}", path.display())]
    BundledNotBtf {
        /// The blob (`LAYOUT/blobs/sha256/…`).
        path: PathBuf,
        /// The kernel release.
        release: String,
        /// What the BTF parser found.
        reason: NotKernelBtf,
    },
}

impl KernelBtfError {
    /// Whether this is an integrity failure: the storage failure it wraps is one
    /// ([`StoreError::is_integrity_failure`]). BTF that is not BTF is unusable input.
    pub fn is_integrity_failure(&self) -> bool {
        self.store_error()
            .is_some_and(StoreError::is_integrity_failure)
    }

    /// The storage failure this wraps, if any.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(e) => Some(e),
            _ => None,
        }
    }
}

fn no_btf_for(image: &Digest, release: &str, available: &[String]) -> String {
    if available.is_empty() {
        format!(
            "image {image} carries no kernel BTF, so none for this kernel ({release}); pack it with --kernel-btf {release}=FILE"
        )
    } else {
        format!(
            "image {image} carries no BTF for kernel {release}; it has BTF for: {}; pack it again with --kernel-btf {release}=FILE",
            available.join(", ")
        )
    }
}

/// A kernel release string that is not valid (see [`super::check_release`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kernel release {release:?} is not valid: 1 to {MAX_RELEASE_LEN} characters of letters, digits and ._+~- (as `uname -r` prints)")]
pub struct InvalidRelease {
    /// The release as given.
    pub release: String,
}

/// Bytes that are not kernel BTF (see [`super::check_btf`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not kernel BTF: {reason}")]
pub struct NotKernelBtf {
    /// What the BTF parser found.
    pub reason: ElfError,
}

/// What is wrong with a `sha256-<hex>.btf` artifact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactProblem {
    /// Its `artifactType` is not [`ARTIFACT_TYPE`].
    #[error("artifactType is {found:?}, expected {ARTIFACT_TYPE}")]
    ArtifactType {
        /// The `artifactType` found.
        found: Option<String>,
    },
    /// Its `subject` is not the image its name says.
    #[error("its subject is {}, not the image {image} its name says", found.as_ref().map(|d| d.to_string()).unwrap_or_else(|| "missing".into()))]
    Subject {
        /// The image its name says.
        image: Digest,
        /// The subject found.
        found: Option<Digest>,
    },
    /// A BTF layer has no kernel release annotation.
    #[error("layer {layer} has no {ANNOTATION_RELEASE}")]
    NoRelease {
        /// The layer.
        layer: Digest,
    },
    /// A BTF layer's kernel release is not valid.
    #[error("{0}")]
    InvalidRelease(InvalidRelease),
}

/// Why `bpftool gen min_core_btf` gave no usable BTF.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BpftoolError {
    /// bpftool could not be run.
    #[error("running {}: {error}; install bpftool (Debian/Ubuntu: apt-get install bpftool) or give its path with --bpftool", bpftool.display())]
    Run {
        /// The bpftool asked for.
        bpftool: PathBuf,
        /// Why it did not start.
        error: io::Error,
    },
    /// bpftool failed.
    #[error("{} gen min_core_btf failed ({status}): {stderr}", bpftool.display())]
    Failed {
        /// The bpftool run.
        bpftool: PathBuf,
        /// How it exited.
        status: ExitStatus,
        /// What it said on standard error (trimmed).
        stderr: String,
    },
    /// Its output could not be read.
    #[error("reading bpftool's output: {error}")]
    ReadOutput {
        /// The error.
        error: io::Error,
    },
    /// Its output is larger than kernel BTF can be.
    #[error("bpftool's output is over {MAX_BTF_SIZE} bytes")]
    OutputTooLarge,
    /// Its output is not BTF.
    #[error("bpftool's output: {reason}")]
    OutputNotBtf {
        /// What the BTF parser found.
        reason: NotKernelBtf,
    },
}

/// The result type of kernel BTF handling.
pub type Result<T, E = KernelBtfError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_release_names_the_releases_there_are() {
        let image = Digest::of(b"manifest");
        let none = KernelBtfError::NoBtfForRelease {
            path: "bundle".into(),
            image: image.clone(),
            release: "6.1.0".into(),
            available: vec![],
        };
        assert_eq!(
            none.to_string(),
            format!("bundle: image {image} carries no kernel BTF, so none for this kernel (6.1.0); pack it with --kernel-btf 6.1.0=FILE")
        );
        let other = KernelBtfError::NoBtfForRelease {
            path: "bundle".into(),
            image: image.clone(),
            release: "6.1.0".into(),
            available: vec!["5.15.0".into(), "5.4.0".into()],
        };
        assert!(
            other.to_string().contains("it has BTF for: 5.15.0, 5.4.0;"),
            "{other}"
        );
        assert!(!other.is_integrity_failure());
    }

    #[test]
    fn a_damaged_bundled_blob_is_an_integrity_failure() {
        let e = KernelBtfError::from(StoreError::SizeMismatch {
            path: "bundle".into(),
            digest: Digest::of(b"btf"),
            expected: 3,
            found: 4,
        });
        assert!(e.is_integrity_failure());
    }
}
