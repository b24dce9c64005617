//! The config JSON we write into eBPF images: documented, versioned metadata read from
//! the object, under one key so it cannot collide with future spec fields.
//!
//! bee writes `{}` and ignores unknown fields, so this stays compatible. See
//! `docs/format.md` for the schema.

use serde::{Deserialize, Serialize};

use crate::elf::{ByteOrder, ObjectInfo};

/// Top-level key of our metadata in the config JSON.
pub const CONFIG_KEY: &str = "ebpf-layout";
/// Version of the metadata schema below.
pub const CONFIG_VERSION: u32 = 1;

/// The whole config document: `{"ebpf-layout": {...}}`. Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EbpfConfig {
    /// Our metadata, absent in configs written by bee (`{}`) and other tools.
    #[serde(
        rename = "ebpf-layout",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<ObjectMetadata>,
}

/// Metadata about the program object, version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMetadata {
    /// Schema version ([`CONFIG_VERSION`]).
    pub version: u32,
    /// `little` or `big`.
    pub byte_order: ByteOrder,
    /// The object's `license` section, if any.
    #[serde(default)]
    pub license: Option<String>,
    /// Whether the object carries `.BTF`.
    pub btf: bool,
    /// Programs, sorted by section then name.
    #[serde(default)]
    pub programs: Vec<ProgramMetadata>,
    /// Maps, sorted by name.
    #[serde(default)]
    pub maps: Vec<MapMetadata>,
}

/// One program of the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramMetadata {
    /// Function name.
    pub name: String,
    /// ELF section (`tracepoint/syscalls/sys_enter_getpid`).
    pub section: String,
    /// Program type as libbpf infers it from the section (`tracepoint`, `xdp`, …).
    #[serde(rename = "type")]
    pub program_type: String,
}

/// One map of the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MapMetadata {
    /// Map name.
    pub name: String,
    /// Kernel map type name (`array`, `ringbuf`, …).
    #[serde(rename = "type")]
    pub map_type: String,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries.
    pub max_entries: u32,
}

impl ObjectMetadata {
    /// Metadata for an inspected object.
    pub fn from_object(info: &ObjectInfo) -> Self {
        Self {
            version: CONFIG_VERSION,
            byte_order: info.byte_order,
            license: info.license.clone(),
            btf: info.btf,
            programs: info
                .programs
                .iter()
                .map(|p| ProgramMetadata {
                    name: p.name.clone(),
                    section: p.section.clone(),
                    program_type: p.program_type.clone(),
                })
                .collect(),
            maps: info
                .maps
                .iter()
                .map(|m| MapMetadata {
                    name: m.name.clone(),
                    map_type: m.map_type.clone(),
                    key_size: m.key_size,
                    value_size: m.value_size,
                    max_entries: m.max_entries,
                })
                .collect(),
        }
    }
}
