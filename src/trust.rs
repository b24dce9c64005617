//! The gate between a reference and the kernel: resolve the image, apply the caller's
//! trust decision, read the program with every blob hashed. [`open_program`] is the only
//! maker of a [`VerifiedProgram`], which is all the loader accepts.

use crate::error::{Error, Result};
use crate::image::resolve_one;
use crate::oci::{Platform, Selector};
use crate::program::{Trusted, VerifiedProgram};
use crate::sign::{require_signature, PublicKey};
use crate::store::ImageSource;

/// What the caller trusts: there is no default, so every caller says it.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Only images carrying a valid signature by one of these keys (stored in the same
    /// layout or archive, cosign's format).
    Keys(Vec<PublicKey>),
    /// Any intact image, signed or not (integrity is still checked).
    AcceptUnsigned,
}

/// Resolves `selector` in `source` to one image (an index resolved for `platform`, this
/// machine's by default), checks it against `trust`, and reads its program object; every
/// byte returned was hashed against its descriptor.
///
/// Fails with the resolution errors ([`Error::ImageNotFound`], [`Error::NameRequired`],
/// …), the integrity errors, [`Error::Signature`] when `trust` names keys and no valid
/// signature by one of them covers the image, and [`Error::Input`] for an empty key list.
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
        Trust::Keys(keys) if keys.is_empty() => {
            return Err(Error::Input {
                path: source.location().to_path_buf(),
                reason: "no trusted public key given to check signatures with".into(),
            })
        }
        Trust::Keys(keys) => {
            let t = require_signature(source, &image.descriptor.digest, keys)?;
            Some(Trusted {
                signed_digest: t.signed_digest,
                key: t.key,
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
/// ([`Error::Input`] otherwise). Fails when the chosen BTF is not there, naming the
/// releases the image has ([`crate::kernel_btf::read_release`]).
pub fn with_kernel_btf(
    source: &dyn ImageSource,
    mut program: VerifiedProgram,
    choice: BtfSource,
    release: &str,
    kernel_has_btf: bool,
) -> Result<VerifiedProgram> {
    if source.location() != program.location {
        return Err(Error::Input {
            path: source.location().to_path_buf(),
            reason: format!(
                "the program was opened from {}; its bundled BTF must come from the same layout or archive",
                program.location.display()
            ),
        });
    }
    let wanted = match choice {
        BtfSource::Kernel => false,
        BtfSource::Bundled => true,
        BtfSource::Auto if kernel_has_btf => false,
        BtfSource::Auto => {
            let index = source.index()?;
            !crate::kernel_btf::bundled(source, &index, &program.manifest_digest)?.is_empty()
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
