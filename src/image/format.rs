//! Recognising the eBPF image formats, and finding the program inside each.

use std::fmt;

use serde::Serialize;

use crate::oci::media_type::{
    ANNOTATION_TITLE, EBPF_CONFIG, EBPF_PROGRAM, EBPF_PROGRAM_TITLE, GADGET_PROGRAM,
};
use crate::oci::{Descriptor, ImageManifest};

/// The image formats we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Format {
    /// The eBPF Image specification (bumblebee), which we write.
    Bee,
    /// Inspektor Gadget images.
    Gadget,
    /// Anything else: not an eBPF image we can read.
    Other,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Bee => "bee",
            Format::Gadget => "gadget",
            Format::Other => "other",
        })
    }
}

impl Format {
    /// Recognises a manifest's format from its media types.
    pub fn detect(manifest: &ImageManifest) -> Self {
        if manifest.config.media_type == EBPF_CONFIG
            || manifest.layers.iter().any(|l| l.media_type == EBPF_PROGRAM)
        {
            Format::Bee
        } else if manifest
            .layers
            .iter()
            .any(|l| l.media_type == GADGET_PROGRAM)
        {
            Format::Gadget
        } else {
            Format::Other
        }
    }

    /// The layer holding the program object, or why there is none.
    ///
    /// For bee images, readers that follow bee look for both media type and title; we
    /// prefer a layer with both, then accept either one alone (bee's own reader finds the
    /// layer by title only).
    pub fn program_layer<'m>(&self, manifest: &'m ImageManifest) -> Result<&'m Descriptor, String> {
        match self {
            Format::Bee => {
                let by_both = manifest
                    .layers
                    .iter()
                    .find(|l| l.media_type == EBPF_PROGRAM && title(l) == Some(EBPF_PROGRAM_TITLE));
                let by_type = || {
                    manifest
                        .layers
                        .iter()
                        .find(|l| l.media_type == EBPF_PROGRAM)
                };
                let by_title = || {
                    manifest
                        .layers
                        .iter()
                        .find(|l| title(l) == Some(EBPF_PROGRAM_TITLE))
                };
                by_both.or_else(by_type).or_else(by_title).ok_or_else(|| {
                    format!("no layer of media type {EBPF_PROGRAM} or titled {EBPF_PROGRAM_TITLE}")
                })
            }
            Format::Gadget => manifest
                .layers
                .iter()
                .find(|l| l.media_type == GADGET_PROGRAM)
                .ok_or_else(|| format!("no layer of media type {GADGET_PROGRAM}")),
            Format::Other => Err(format!(
                "config media type {:?} and layer media types [{}] are not an eBPF image format",
                manifest.config.media_type,
                manifest
                    .layers
                    .iter()
                    .map(|l| l.media_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

fn title(d: &Descriptor) -> Option<&str> {
    d.annotations.get(ANNOTATION_TITLE).map(String::as_str)
}
