//! Generic artifacts: an object pushed as it is (`oras push REGISTRY/probe:1 probe.bpf.o`),
//! under whatever media types the tool chose (oras: `application/vnd.oci.image.layer.v1.tar`
//! by default, and the file name as `org.opencontainers.image.title`). Nothing but the
//! content says what it is, so the program is the first layer whose first bytes are an
//! ELF header for BPF (`e_machine` 247, EM_BPF).

use std::io::Read;

use crate::elf::{self, CLASSIFY_LEN};
use crate::oci::{Descriptor, ImageManifest};
use crate::source::ImageSource;

use super::resolve::MAX_OBJECT_SIZE;

/// Most layers of one manifest looked at: artifacts have a few files; a container image
/// with hundreds of layers is not an eBPF artifact.
pub const MAX_LAYERS_LOOKED_AT: usize = 64;

/// The index of the first layer holding a BPF ELF object, judged by its first
/// [`CLASSIFY_LEN`] bytes. Compressed layers (`+gzip`, `+zstd`), layers too small to hold
/// an ELF header or larger than [`MAX_OBJECT_SIZE`], and layers that cannot be read, are
/// passed over: a damaged blob is reported where its bytes are used or verified.
///
/// The bytes looked at are not verified here; reading the program later is.
pub fn find_program_layer(source: &dyn ImageSource, manifest: &ImageManifest) -> Option<usize> {
    manifest
        .layers
        .iter()
        .take(MAX_LAYERS_LOOKED_AT)
        .position(|layer| could_be_object(layer) && starts_like_bpf(source, layer))
}

fn could_be_object(layer: &Descriptor) -> bool {
    let compressed = [".gzip", "+gzip", "+zstd", ".zstd"]
        .iter()
        .any(|s| layer.media_type.ends_with(s));
    !compressed && layer.size >= CLASSIFY_LEN as u64 && layer.size <= MAX_OBJECT_SIZE
}

fn starts_like_bpf(source: &dyn ImageSource, layer: &Descriptor) -> bool {
    let mut header = Vec::with_capacity(CLASSIFY_LEN);
    source
        .open_blob(layer)
        .ok()
        .and_then(|r| r.take(CLASSIFY_LEN as u64).read_to_end(&mut header).ok())
        .is_some()
        && elf::classify(&header).is_ok()
}
