//! What packing fails with. Every input is checked before anything is written, so most
//! of these leave the output as it was.

use std::path::PathBuf;

use crate::copy::CopyError;
use crate::elf::{ByteOrder, ElfError};
use crate::image::bpfman::BuildError;
use crate::kernel_btf::KernelBtfError;
use crate::oci::reference::RefNameError;
use crate::oci::{Platform, RefName};
use crate::store::StoreError;

/// Why `pack` could not pack its inputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// Reading an input or writing the layout or archive failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The existing archive packed into could not be carried over.
    #[error(transparent)]
    Copy(#[from] CopyError),
    /// Kernel BTF (`--kernel-btf`) could not be read or minimised.
    #[error(transparent)]
    KernelBtf(#[from] KernelBtfError),
    /// A bpfman image could not be made of an object.
    #[error(transparent)]
    Bpfman(#[from] BuildError),
    /// An input is not a usable BPF object.
    #[error("{}: {source}", path.display())]
    Elf {
        /// The input file.
        path: PathBuf,
        /// What it is instead.
        source: ElfError,
    },
    /// No input was given.
    #[error("no input given: name BPF object files or directories of them")]
    NoInput,
    /// An input does not exist.
    #[error("{}: no such file or directory", path.display())]
    NoSuchInput {
        /// The input.
        path: PathBuf,
    },
    /// An input directory holds no files at all.
    #[error("{}: directory is empty: no BPF objects to pack", path.display())]
    EmptyDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// An input directory holds files, none of them a BPF object for the platform.
    #[error("{}: no BPF objects found ({skipped} other files skipped)", path.display())]
    NoObjectsInDirectory {
        /// The directory.
        path: PathBuf,
        /// How many files were skipped.
        skipped: usize,
    },
    /// An input file is not a BPF object.
    #[error("{}: not a BPF object: {reason}", path.display())]
    NotBpfObject {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        reason: ElfError,
    },
    /// `--tag` names one image, but the inputs hold several objects.
    #[error("{}: --tag names a single image, but the inputs hold {count} BPF objects", path.display())]
    TagNeedsOneObject {
        /// The first input.
        path: PathBuf,
        /// How many objects the inputs hold.
        count: usize,
    },
    /// An object's byte order is not the platform's.
    #[error("{}: {object}-endian BPF object, but platform {platform} is {expected}-endian; pass --platform for its architecture", path.display())]
    WrongByteOrder {
        /// The object.
        path: PathBuf,
        /// Its byte order.
        object: ByteOrder,
        /// The platform packed for (boxed: it is large, and this error is kept small).
        platform: Box<Platform>,
        /// The platform's byte order.
        expected: ByteOrder,
    },
    /// Two objects would be given the same name.
    #[error("{}: name {name} is also the name of {}; pack them in separate calls with --tag", path.display(), other.display())]
    NameClash {
        /// The second object.
        path: PathBuf,
        /// The name.
        name: RefName,
        /// The first object.
        other: PathBuf,
    },
    /// `--kernel-btf` was given with `--platform` objects.
    #[error("{}: --kernel-btf is not supported with --platform objects yet; pack each architecture's object on its own", path.display())]
    KernelBtfWithPlatforms {
        /// The output.
        path: PathBuf,
    },
    /// Both input files and `--platform` objects were given.
    #[error("{}: give either INPUT files or --platform OS/ARCH=FILE objects, not both", path.display())]
    InputsAndPlatforms {
        /// The first input file.
        path: PathBuf,
    },
    /// A platform is given two objects.
    #[error("{}: platform {platform} is given twice; give one object per platform", path.display())]
    PlatformGivenTwice {
        /// The second object.
        path: PathBuf,
        /// The platform (boxed: it is large, and this error is kept small).
        platform: Box<Platform>,
    },
    /// A `--platform OS/ARCH=FILE` object does not exist.
    #[error("{}: no such file", path.display())]
    NoSuchObject {
        /// The file.
        path: PathBuf,
    },
    /// A `--platform OS/ARCH=FILE` object is not a file.
    #[error("{}: not a file: --platform {platform}=FILE names one BPF object", path.display())]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// The platform (boxed: it is large, and this error is kept small).
        platform: Box<Platform>,
    },
    /// A `--platform` object's byte order is not its platform's.
    #[error("{}: {object}-endian BPF object, but platform {platform} is {expected}-endian; give the {expected}-endian build for it", path.display())]
    PlatformByteOrder {
        /// The object.
        path: PathBuf,
        /// Its byte order.
        object: ByteOrder,
        /// The platform it is given for (boxed: it is large, and this error is kept
        /// small).
        platform: Box<Platform>,
        /// The platform's byte order.
        expected: ByteOrder,
    },
    /// The `--platform` objects would be named differently: a multi-platform image has
    /// one name.
    #[error("{}: would be named {name}, but {} would be named {other_name}: name the multi-platform image with --tag", path.display(), other.display())]
    PlatformNames {
        /// The object.
        path: PathBuf,
        /// The name it would have.
        name: RefName,
        /// Another object.
        other: PathBuf,
        /// The name that one would have.
        other_name: RefName,
    },
    /// An object's file name does not give a valid image name.
    #[error("{}: cannot be named after its file: {error}; give a name with --tag", path.display())]
    UnnamableFile {
        /// The object.
        path: PathBuf,
        /// Why its file name is not a valid name.
        error: RefNameError,
    },
    /// An object changed while it was being packed.
    #[error("{}: changed while being packed (was {was} bytes, read {read})", path.display())]
    ChangedWhilePacking {
        /// The object.
        path: PathBuf,
        /// Its size when it was checked.
        was: u64,
        /// The bytes read when it was packed.
        read: u64,
    },
}

impl PackError {
    /// Whether this is an integrity failure: a storage failure it wraps is one
    /// ([`StoreError::is_integrity_failure`]), e.g. an archive packed into that is
    /// damaged. Unusable inputs are not.
    pub fn is_integrity_failure(&self) -> bool {
        self.store_error()
            .is_some_and(StoreError::is_integrity_failure)
    }

    /// The storage failure this wraps, directly or through what it wraps, if any.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(e) => Some(e),
            Self::Copy(e) => e.store_error(),
            Self::KernelBtf(e) => e.store_error(),
            _ => None,
        }
    }
}

/// The result type of packing.
pub type Result<T, E = PackError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_inputs_say_what_the_reason_strings_said() {
        let e = PackError::WrongByteOrder {
            path: "probe_bpfel.o".into(),
            object: ByteOrder::Little,
            platform: Box::new(Platform::parse("linux/s390x").unwrap()),
            expected: ByteOrder::Big,
        };
        assert_eq!(
            e.to_string(),
            "probe_bpfel.o: little-endian BPF object, but platform linux/s390x is big-endian; pass --platform for its architecture"
        );
        assert!(!e.is_integrity_failure());
        let e = PackError::NoObjectsInDirectory {
            path: "build".into(),
            skipped: 3,
        };
        assert_eq!(
            e.to_string(),
            "build: no BPF objects found (3 other files skipped)"
        );
    }

    #[test]
    fn a_damaged_archive_packed_into_is_an_integrity_failure() {
        let e = PackError::from(CopyError::from(StoreError::Truncated {
            path: "bundle.tar".into(),
            entry: String::new(),
            reason: "ends inside a header".into(),
        }));
        assert!(e.is_integrity_failure());
    }
}
