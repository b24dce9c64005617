//! Inspektor Gadget images ("Gadgets as OCI artifacts", inspektor-gadget's
//! `docs/reference/oci.md`, and `pkg/oci/build.go` that writes them).
//!
//! A gadget is an image index with one manifest per architecture (`amd64`, `arm64`).
//! Each manifest has the gadget metadata as its config
//! (`application/vnd.gadget.config.v1+yaml`, titled `config.yaml`, or the empty
//! descriptor when there is none) and exactly one eBPF layer
//! (`application/vnd.gadget.ebpf.program.v1+binary`, titled `program.o`): the raw ELF
//! object. Optional layers carry a WebAssembly module and btfgen BTF files; a layer
//! media type appears at most once.

use crate::oci::ImageManifest;

/// Media type of a gadget's eBPF layer: the raw ELF object.
pub const PROGRAM: &str = crate::oci::media_type::GADGET_PROGRAM;
/// Media type of a gadget's metadata, its config blob.
pub const CONFIG: &str = "application/vnd.gadget.config.v1+yaml";
/// Media type of a gadget's optional WebAssembly layer.
pub const WASM: &str = "application/vnd.gadget.wasm.program.v1+binary";
/// Media type of a gadget's optional btfgen layer (a tarball of BTF files).
pub const BTFGEN: &str = "application/vnd.gadget.btfgen.v1+binary";

/// Whether a manifest is a gadget's: it has the eBPF layer, or the gadget metadata as
/// its config.
pub fn is_gadget(manifest: &ImageManifest) -> bool {
    manifest.config.media_type == CONFIG || manifest.layers.iter().any(|l| l.media_type == PROGRAM)
}

/// The index of a gadget's eBPF layer, or why there is none.
pub fn program_layer_index(manifest: &ImageManifest) -> Result<usize, String> {
    manifest
        .layers
        .iter()
        .position(|l| l.media_type == PROGRAM)
        .ok_or_else(|| format!("no layer of media type {PROGRAM}"))
}
