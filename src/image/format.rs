//! Recognising the eBPF image formats, and finding the program inside each.
//!
//! | format | recognised by | the program |
//! |---|---|---|
//! | `bee` | config `application/ebpf.oci.image.config.v1+json` or a layer `application/ebpf.oci.image.program.v1+binary` | that layer (by media type and title `program.o`), the raw ELF |
//! | `gadget` | a layer `application/vnd.gadget.ebpf.program.v1+binary` or config `application/vnd.gadget.config.v1+yaml` ([`super::gadget`]) | that layer, the raw ELF |
//! | `bpfman` | an image config whose labels include `io.ebpf.programs` (or the legacy `io.ebpf.program_type`), and a tar+gzip layer ([`super::bpfman`]) | the first BPF object among the regular files of the first tar+gzip layer |
//! | `generic` | a layer of any media type starting with a BPF ELF header ([`super::generic`]) | that layer, the raw ELF |
//!
//! Media types decide first ([`Format::detect`], which reads nothing); only when they
//! say nothing does [`recognise`] read the config (for bpfman's labels) and the first
//! bytes of the layers (for an ELF header).

use std::fmt;
use std::io::Read;

use serde::Serialize;

use crate::elf::CLASSIFY_LEN;
use crate::oci::media_type::{ANNOTATION_TITLE, EBPF_CONFIG, EBPF_PROGRAM, EBPF_PROGRAM_TITLE};
use crate::oci::{Descriptor, ImageManifest};
use crate::source::ImageSource;
use crate::store::{io_err, Result};

use super::{bpfman, gadget, generic};

/// The image formats we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Format {
    /// The eBPF Image specification (bumblebee), which we write by default.
    Bee,
    /// Inspektor Gadget images.
    Gadget,
    /// bpfman bytecode images (an image config with `io.ebpf.*` labels, the object in a
    /// tar+gzip layer), which we also write (`pack --format bpfman`).
    Bpfman,
    /// Any other artifact with a BPF object as a layer (`oras push`).
    Generic,
    /// Anything else: not an eBPF image we can read.
    Other,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Bee => "bee",
            Format::Gadget => "gadget",
            Format::Bpfman => "bpfman",
            Format::Generic => "generic",
            Format::Other => "other",
        })
    }
}

impl Format {
    /// Recognises a manifest's format from its media types alone: `bee`, `gadget`, or
    /// `other` (which may still be `bpfman` or `generic`: see [`recognise`]).
    pub fn detect(manifest: &ImageManifest) -> Self {
        if manifest.config.media_type == EBPF_CONFIG
            || manifest.layers.iter().any(|l| l.media_type == EBPF_PROGRAM)
        {
            Format::Bee
        } else if gadget::is_gadget(manifest) {
            Format::Gadget
        } else {
            Format::Other
        }
    }

    /// The layer holding the program object, or why there is none.
    ///
    /// For bee images, readers that follow bee look for both media type and title; we
    /// prefer a layer with both, then accept either one alone (bee's own reader finds the
    /// layer by title only). For generic artifacts the layers' content decides, so this
    /// says to use [`recognise`].
    pub fn program_layer<'m>(&self, manifest: &'m ImageManifest) -> Result<&'m Descriptor, String> {
        self.program_layer_index(manifest)
            .map(|i| &manifest.layers[i])
    }

    /// [`program_layer`](Self::program_layer), as an index into `manifest.layers`.
    pub fn program_layer_index(&self, manifest: &ImageManifest) -> Result<usize, String> {
        let layers = &manifest.layers;
        match self {
            Format::Bee => {
                let by_both = || {
                    layers.iter().position(|l| {
                        l.media_type == EBPF_PROGRAM && title(l) == Some(EBPF_PROGRAM_TITLE)
                    })
                };
                let by_type = || layers.iter().position(|l| l.media_type == EBPF_PROGRAM);
                let by_title = || {
                    layers
                        .iter()
                        .position(|l| title(l) == Some(EBPF_PROGRAM_TITLE))
                };
                by_both().or_else(by_type).or_else(by_title).ok_or_else(|| {
                    format!("no layer of media type {EBPF_PROGRAM} or titled {EBPF_PROGRAM_TITLE}")
                })
            }
            Format::Gadget => gadget::program_layer_index(manifest),
            Format::Bpfman => bpfman::program_layer_index(manifest),
            Format::Generic => {
                Err("the program layer of a generic artifact is found by reading its layers".into())
            }
            Format::Other => Err(format!(
                "config media type {:?} and layer media types [{}] are not an eBPF image format, \
                 and no layer is a BPF object",
                manifest.config.media_type,
                layers
                    .iter()
                    .map(|l| l.media_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// What [`recognise`] found: the format, and where the program is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognised {
    /// The format.
    pub format: Format,
    /// The index in the manifest's `layers` of the layer holding the program, or why no
    /// layer does.
    pub program: std::result::Result<usize, String>,
}

impl Recognised {
    /// The program layer's descriptor, or why there is none.
    pub fn program_layer<'m>(
        &self,
        manifest: &'m ImageManifest,
    ) -> std::result::Result<&'m Descriptor, String> {
        match &self.program {
            Ok(i) => manifest
                .layers
                .get(*i)
                .ok_or_else(|| format!("layer {i} does not exist")),
            Err(reason) => Err(reason.clone()),
        }
    }
}

/// Recognises a manifest's format, reading from `source` only what media types leave
/// open: the config, when it is an image config (bpfman's labels), then the first bytes
/// of the layers (a BPF ELF header: a generic artifact).
///
/// Fails only when the config must be read and cannot be (missing, or not matching its
/// descriptor: [`crate::store::StoreError::DigestMismatch`] and the like).
pub fn recognise(source: &dyn ImageSource, manifest: &ImageManifest) -> Result<Recognised> {
    let by_media_types = Format::detect(manifest);
    if by_media_types != Format::Other {
        return Ok(Recognised {
            format: by_media_types,
            program: by_media_types.program_layer_index(manifest),
        });
    }
    if bpfman::is_candidate(manifest) && manifest.config.size <= source.limits().max_manifest_size {
        let config = source.read_blob(&manifest.config, source.limits().max_manifest_size)?;
        if bpfman::has_bpfman_labels(&config) {
            return Ok(Recognised {
                format: Format::Bpfman,
                program: bpfman::program_layer_index(manifest),
            });
        }
    }
    if let Some(i) = generic::find_program_layer(source, manifest) {
        return Ok(Recognised {
            format: Format::Generic,
            program: Ok(i),
        });
    }
    Ok(Recognised {
        format: Format::Other,
        program: Format::Other.program_layer_index(manifest),
    })
}

/// The first [`CLASSIFY_LEN`] bytes of the program object in `layer` of an image of
/// `format` — inside the tar+gzip layer for bpfman — without verifying the blob (for
/// `verify`, which hashes every blob on its own).
pub fn read_program_header(
    source: &dyn ImageSource,
    format: Format,
    layer: &Descriptor,
) -> Result<Vec<u8>> {
    if format == Format::Bpfman {
        return bpfman::read_object_header(source, layer);
    }
    let mut header = Vec::with_capacity(CLASSIFY_LEN);
    source
        .open_blob(layer)?
        .take(CLASSIFY_LEN as u64)
        .read_to_end(&mut header)
        .map_err(io_err(
            "reading",
            source.location().join(layer.digest.blob_path()),
        ))?;
    Ok(header)
}

fn title(d: &Descriptor) -> Option<&str> {
    d.annotations.get(ANNOTATION_TITLE).map(String::as_str)
}
