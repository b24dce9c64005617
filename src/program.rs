//! The one way a program object reaches the kernel: a [`VerifiedProgram`] can only be made
//! by [`crate::trust::open_program`], after the image was resolved, every blob on the way
//! hashed against its descriptor, and the caller's trust decision applied; the loader
//! takes nothing else. An embedder cannot hand the kernel unchecked bytes by accident.

use std::path::{Path, PathBuf};

use crate::oci::{Digest, Platform};

/// A program object whose bytes were verified (manifest and layer hashed against their
/// descriptors) and whose image passed the trust check it was opened with.
#[derive(Debug, Clone)]
pub struct VerifiedProgram {
    pub(crate) reference: String,
    pub(crate) location: PathBuf,
    pub(crate) name: String,
    pub(crate) manifest_digest: Digest,
    pub(crate) format: String,
    pub(crate) platform: Option<Platform>,
    pub(crate) object: Vec<u8>,
    pub(crate) trusted: Option<Trusted>,
    /// Kernel BTF bundled with the image, chosen for the running kernel (issue #18).
    pub(crate) kernel_btf: Option<KernelBtf>,
}

/// One kernel's BTF bundled beside an image (a `sha256-<hex>.btf` artifact), read for
/// the loader: its blob was hashed against its descriptor and parsed as BTF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelBtf {
    pub(crate) release: String,
    pub(crate) digest: Digest,
    pub(crate) bytes: Vec<u8>,
}

impl KernelBtf {
    /// The kernel release (`uname -r`) it describes.
    pub fn release(&self) -> &str {
        &self.release
    }

    /// The digest of its blob.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The verified raw BTF bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The signature that made an image trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted {
    /// The digest the accepted signature covers (the image's manifest, or the index that
    /// lists it).
    pub signed_digest: Digest,
    /// The id (sha256 of the public key) of the key that made it.
    pub key: Digest,
}

impl VerifiedProgram {
    /// The reference as given.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The layout or archive it came from.
    pub fn location(&self) -> &Path {
        &self.location
    }

    /// A name for it: the image's ref name, else the short manifest digest.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The manifest's digest.
    pub fn manifest_digest(&self) -> &Digest {
        &self.manifest_digest
    }

    /// The image format (`bee`, `gadget`, `bpfman`, `generic`).
    pub fn format(&self) -> &str {
        &self.format
    }

    /// The platform, when the image declares one.
    pub fn platform(&self) -> Option<&Platform> {
        self.platform.as_ref()
    }

    /// The verified object bytes.
    pub fn object(&self) -> &[u8] {
        &self.object
    }

    /// The signature that was accepted, or `None` when the caller accepted unsigned
    /// images.
    pub fn trusted(&self) -> Option<&Trusted> {
        self.trusted.as_ref()
    }

    /// The bundled kernel BTF the loader hands libbpf instead of the kernel's own
    /// (`btf_custom_path`), when [`crate::trust::with_kernel_btf`] chose one.
    pub fn kernel_btf(&self) -> Option<&KernelBtf> {
        self.kernel_btf.as_ref()
    }
}
