//! Decoding map keys, values and ring-buffer records through the object's BTF.
//!
//! At load time each map's key and value types are turned into an owned [`Layout`] (so
//! decoding never needs libbpf again), looked up in the object's `.maps` BTF section, where
//! libbpf's `__type(key, …)` / `__type(value, …)` macros leave them. That is also how the
//! value type of a bumblebee ring buffer survives the fix-up that hides it from the kernel.
//! [`decode`] then turns bytes into a [`Decoded`] value with named fields, in declaration
//! order: integers signed or unsigned by their BTF encoding, `char` arrays as strings, enums
//! by name, nested structs and arrays. It serializes to JSON as one would expect.

use std::ffi::OsStr;

use libbpf_rs::btf::types::{
    Array, Composite, DataSec, Enum, Enum64, Int, IntEncoding, MemberAttr, Var,
};
use libbpf_rs::btf::{BtfKind, BtfType};
use libbpf_rs::{Btf, HasSize as _, ReferencesType as _};
use serde::ser::{Serialize, SerializeMap as _, SerializeSeq as _, Serializer};

/// Types nest at most this deep; deeper (or cyclic, in hostile BTF) parts are shown as bytes.
const MAX_DEPTH: usize = 24;
/// Arrays longer than this are cut in the display (a `char` array is a string and is not cut).
const MAX_ARRAY_ELEMENTS: usize = 256;
/// Typedef/modifier chains longer than this are treated as broken BTF.
const MAX_MODIFIER_CHAIN: usize = 64;

/// The shape of a key, value or record, resolved from BTF (or guessed from its size).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Layout {
    /// An integer of `size` bytes.
    Int {
        /// Size in bytes.
        size: usize,
        /// Whether it is signed.
        signed: bool,
        /// A C `_Bool`.
        boolean: bool,
        /// A C `char` (arrays of it are strings).
        character: bool,
    },
    /// An IEEE float of 4 or 8 bytes.
    Float {
        /// Size in bytes.
        size: usize,
    },
    /// An enum, shown by variant name when the value has one.
    Enum {
        /// Size in bytes.
        size: usize,
        /// Whether the values are signed.
        signed: bool,
        /// (name, value) pairs.
        variants: Vec<(String, i128)>,
    },
    /// A pointer (shown as hex; it points into the kernel, not at anything we can read).
    Pointer {
        /// Size in bytes.
        size: usize,
    },
    /// A fixed-size array.
    Array {
        /// The element's layout.
        element: Box<Layout>,
        /// Number of elements.
        len: usize,
    },
    /// A struct or union with named fields.
    Struct {
        /// Size in bytes.
        size: usize,
        /// Fields in declaration order.
        fields: Vec<Field>,
    },
    /// Bytes we cannot interpret (shown as hex).
    Opaque {
        /// Size in bytes.
        size: usize,
    },
}

/// A field of a struct or union.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    /// The name (anonymous members are named `_N`).
    pub name: String,
    /// Offset from the start of the struct, in bits.
    pub bit_offset: u32,
    /// For a bitfield, its width in bits.
    pub bit_size: Option<u8>,
    /// The field's layout.
    pub layout: Layout,
}

impl Layout {
    /// The size in bytes of a value of this layout.
    pub(crate) fn size(&self) -> usize {
        match self {
            Layout::Int { size, .. }
            | Layout::Float { size }
            | Layout::Enum { size, .. }
            | Layout::Pointer { size }
            | Layout::Struct { size, .. }
            | Layout::Opaque { size } => *size,
            Layout::Array { element, len } => element.size().saturating_mul(*len),
        }
    }

    /// The layout to use when BTF says nothing: an unsigned integer for the usual integer
    /// sizes, bytes otherwise.
    pub(crate) fn guess(size: usize) -> Layout {
        match size {
            1 | 2 | 4 | 8 => Layout::Int {
                size,
                signed: false,
                boolean: false,
                character: false,
            },
            _ => Layout::Opaque { size },
        }
    }
}

/// The declared key and value types of the map `map_name`, from the object's `.maps` section.
/// `None` for a side the map does not declare with `__type` (or when BTF is missing).
pub(crate) fn map_types(btf: &Btf<'_>, map_name: &str) -> (Option<Layout>, Option<Layout>) {
    let Some(section) = btf.type_by_name::<DataSec<'_>>(".maps") else {
        return (None, None);
    };
    for index in 0..section.len() {
        let Some(info) = section.get(index) else {
            continue;
        };
        let Some(var) = btf.type_by_id::<Var<'_>>(info.ty) else {
            continue;
        };
        if var.name() != Some(OsStr::new(map_name)) {
            continue;
        }
        let Some(definition) = skip_modifiers(var.referenced_type()) else {
            return (None, None);
        };
        let Ok(definition) = Composite::try_from(definition) else {
            return (None, None);
        };
        let mut key = None;
        let mut value = None;
        for member_index in 0..definition.len() {
            let Some(member) = definition.get(member_index) else {
                continue;
            };
            let slot = match member.name.and_then(OsStr::to_str) {
                Some("key") => &mut key,
                Some("value") => &mut value,
                _ => continue,
            };
            // `__type(value, T)` is declared as `T *value`.
            let pointee = btf
                .type_by_id::<BtfType<'_>>(member.ty)
                .and_then(skip_modifiers)
                .filter(|t| t.kind() == BtfKind::Ptr)
                .and_then(|t| t.next_type());
            *slot = pointee.map(|t| layout_of(btf, t, 0));
        }
        return (key, value);
    }
    (None, None)
}

/// The layout of a global-data section (`.bss`, `.data`, …) of the loaded object: one
/// field per variable, at its offset. `None` without such a section in BTF.
pub(crate) fn datasec_layout(btf: &Btf<'_>, section_name: &str) -> Option<Layout> {
    let section = btf.type_by_name::<DataSec<'_>>(section_name)?;
    let mut fields = Vec::new();
    for index in 0..section.len() {
        let Some(info) = section.get(index) else {
            continue;
        };
        let Some(var) = btf.type_by_id::<Var<'_>>(info.ty) else {
            continue;
        };
        let name = var
            .name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("_{index}"));
        let layout = layout_of(btf, var.referenced_type(), 0);
        fields.push(Field {
            name,
            bit_offset: info.offset.saturating_mul(8),
            bit_size: None,
            layout,
        });
    }
    Some(Layout::Struct {
        size: section.size(),
        fields,
    })
}

/// Follows typedefs and modifiers (const, volatile, …) to the underlying type.
fn skip_modifiers(mut ty: BtfType<'_>) -> Option<BtfType<'_>> {
    for _ in 0..MAX_MODIFIER_CHAIN {
        if ty.is_mod() || ty.kind() == BtfKind::Typedef {
            ty = ty.next_type()?;
        } else {
            return Some(ty);
        }
    }
    None
}

/// The owned layout of a BTF type.
fn layout_of<'s>(btf: &'s Btf<'_>, ty: BtfType<'s>, depth: usize) -> Layout {
    let Some(ty) = skip_modifiers(ty) else {
        return Layout::Opaque { size: 0 };
    };
    if depth > MAX_DEPTH {
        return Layout::Opaque {
            size: byte_size(ty, 0),
        };
    }
    match ty.kind() {
        BtfKind::Int => match Int::try_from(ty) {
            Ok(int) => Layout::Int {
                size: int.size(),
                signed: matches!(int.encoding, IntEncoding::Signed),
                boolean: matches!(int.encoding, IntEncoding::Bool),
                character: matches!(int.encoding, IntEncoding::Char)
                    || (int.size() == 1 && int.name() == Some(OsStr::new("char"))),
            },
            Err(_) => Layout::Opaque { size: 0 },
        },
        BtfKind::Float => Layout::Float {
            size: byte_size(ty, depth),
        },
        BtfKind::Ptr => Layout::Pointer { size: 8 },
        BtfKind::Enum => match Enum::try_from(ty) {
            Ok(e) => Layout::Enum {
                size: e.size(),
                signed: e.is_signed(),
                variants: (0..e.len())
                    .filter_map(|i| e.get(i))
                    .map(|m| (os_to_string(m.name), i128::from(m.value)))
                    .collect(),
            },
            Err(_) => Layout::Opaque { size: 0 },
        },
        BtfKind::Enum64 => match Enum64::try_from(ty) {
            Ok(e) => Layout::Enum {
                size: e.size(),
                signed: e.is_signed(),
                variants: (0..e.len())
                    .filter_map(|i| e.get(i))
                    .map(|m| (os_to_string(m.name), m.value))
                    .collect(),
            },
            Err(_) => Layout::Opaque { size: 0 },
        },
        BtfKind::Array => match Array::try_from(ty) {
            Ok(array) => Layout::Array {
                element: Box::new(layout_of(btf, array.contained_type(), depth + 1)),
                len: array.capacity(),
            },
            Err(_) => Layout::Opaque { size: 0 },
        },
        BtfKind::Struct | BtfKind::Union => match Composite::try_from(ty) {
            Ok(composite) => {
                let mut fields = Vec::with_capacity(composite.len());
                for index in 0..composite.len() {
                    let Some(member) = composite.get(index) else {
                        continue;
                    };
                    let (bit_offset, bit_size) = match member.attr {
                        MemberAttr::Normal { offset } => (offset, None),
                        MemberAttr::BitField { size, offset } => (offset, Some(size)),
                    };
                    let layout = btf
                        .type_by_id::<BtfType<'_>>(member.ty)
                        .map(|t| layout_of(btf, t, depth + 1))
                        .unwrap_or(Layout::Opaque { size: 0 });
                    let name = member
                        .name
                        .and_then(OsStr::to_str)
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("_{index}"));
                    fields.push(Field {
                        name,
                        bit_offset,
                        bit_size,
                        layout,
                    });
                }
                Layout::Struct {
                    size: composite.size(),
                    fields,
                }
            }
            Err(_) => Layout::Opaque { size: 0 },
        },
        _ => Layout::Opaque {
            size: byte_size(ty, depth),
        },
    }
}

fn byte_size(ty: BtfType<'_>, _depth: usize) -> usize {
    match ty.kind() {
        BtfKind::Float => libbpf_rs::btf::types::Float::try_from(ty)
            .map(|f| f.size())
            .unwrap_or(0),
        BtfKind::Struct | BtfKind::Union => Composite::try_from(ty).map(|c| c.size()).unwrap_or(0),
        BtfKind::Int => Int::try_from(ty).map(|i| i.size()).unwrap_or(0),
        BtfKind::Ptr => 8,
        _ => 0,
    }
}

fn os_to_string(name: Option<&OsStr>) -> String {
    name.map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A decoded key, value or record. Struct fields keep their declaration order (which a
/// `serde_json::Value` object would not).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decoded {
    /// Missing bytes.
    Null,
    /// A `_Bool`.
    Bool(bool),
    /// Any integer (JSON: a number if it fits 64 bits, else a decimal string).
    Int(i128),
    /// A float (JSON: `null` if not finite).
    Float(f64),
    /// A string (`char` arrays, enum variant names, hex bytes, pointers).
    Str(String),
    /// An array.
    List(Vec<Decoded>),
    /// A struct or union: (field name, value) in declaration order.
    Fields(Vec<(String, Decoded)>),
}

impl Serialize for Decoded {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Decoded::Null => serializer.serialize_unit(),
            Decoded::Bool(b) => serializer.serialize_bool(*b),
            Decoded::Int(v) => {
                if let Ok(u) = u64::try_from(*v) {
                    serializer.serialize_u64(u)
                } else if let Ok(i) = i64::try_from(*v) {
                    serializer.serialize_i64(i)
                } else {
                    serializer.serialize_str(&v.to_string())
                }
            }
            Decoded::Float(f) if f.is_finite() => serializer.serialize_f64(*f),
            Decoded::Float(_) => serializer.serialize_unit(),
            Decoded::Str(s) => serializer.serialize_str(s),
            Decoded::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Decoded::Fields(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (name, value) in fields {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
        }
    }
}

impl Decoded {
    /// The value as a number, for sorting and histogram bars.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Decoded::Int(v) => Some(*v as f64),
            Decoded::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// Decodes `bytes` as `layout`. Bytes missing at the end decode as `null`
/// (a record shorter than its declared type); extra bytes are ignored.
pub(crate) fn decode(layout: &Layout, bytes: &[u8]) -> Decoded {
    decode_at(layout, bytes, 0)
}

fn decode_at(layout: &Layout, bytes: &[u8], depth: usize) -> Decoded {
    let size = layout.size();
    if depth > MAX_DEPTH + 2 {
        return hex_value(bytes);
    }
    match layout {
        Layout::Int {
            size,
            signed,
            boolean,
            ..
        } => match read_int(bytes, *size, *signed) {
            Some(v) if *boolean => Decoded::Bool(v != 0),
            Some(v) => Decoded::Int(v),
            None => Decoded::Null,
        },
        Layout::Float { size } => match (size, bytes.get(..*size)) {
            (4, Some(b)) => {
                let v = f32::from_ne_bytes(b.try_into().unwrap_or([0; 4]));
                Decoded::Float(f64::from(v))
            }
            (8, Some(b)) => {
                let v = f64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
                Decoded::Float(v)
            }
            (_, Some(b)) => hex_value(b),
            (_, None) => Decoded::Null,
        },
        Layout::Enum {
            size,
            signed,
            variants,
        } => match read_int(bytes, *size, *signed) {
            Some(v) => variants
                .iter()
                .find(|(_, value)| *value == v)
                .map(|(name, _)| Decoded::Str(name.clone()))
                .unwrap_or_else(|| Decoded::Int(v)),
            None => Decoded::Null,
        },
        Layout::Pointer { size } => match read_int(bytes, *size, false) {
            Some(v) => Decoded::Str(format!("{v:#x}")),
            None => Decoded::Null,
        },
        Layout::Array { element, len } => {
            let element_size = element.size();
            if matches!(
                **element,
                Layout::Int {
                    character: true,
                    ..
                }
            ) {
                let available = &bytes[..bytes.len().min(*len)];
                let text = available.split(|b| *b == 0).next().unwrap_or_default();
                return Decoded::Str(String::from_utf8_lossy(text).into_owned());
            }
            if element_size == 0 {
                return Decoded::List(Vec::new());
            }
            let shown = (*len).min(MAX_ARRAY_ELEMENTS);
            let mut items = Vec::with_capacity(shown);
            for index in 0..shown {
                let start = index * element_size;
                if start >= bytes.len() {
                    break;
                }
                items.push(decode_at(element, &bytes[start..], depth + 1));
            }
            Decoded::List(items)
        }
        Layout::Struct { fields, .. } => {
            let mut object: Vec<(String, Decoded)> = Vec::with_capacity(fields.len());
            for field in fields {
                let value = match field.bit_size {
                    Some(bits) => read_bitfield(bytes, field.bit_offset, bits, &field.layout),
                    None => {
                        let start = (field.bit_offset / 8) as usize;
                        match bytes.get(start..) {
                            Some(rest) => decode_at(&field.layout, rest, depth + 1),
                            None => Decoded::Null,
                        }
                    }
                };
                // An anonymous struct/union member's fields belong to the parent (C11).
                if field.name.starts_with('_')
                    && field.name[1..].chars().all(|c| c.is_ascii_digit())
                {
                    if let Decoded::Fields(inner) = value {
                        object.extend(inner);
                        continue;
                    }
                }
                object.push((field.name.clone(), value));
            }
            Decoded::Fields(object)
        }
        Layout::Opaque { .. } => hex_value(&bytes[..bytes.len().min(size.max(1))]),
    }
}

/// Reads a host-endian integer of `size` bytes (1 to 16).
fn read_int(bytes: &[u8], size: usize, signed: bool) -> Option<i128> {
    if size == 0 || size > 16 {
        return None;
    }
    let raw = bytes.get(..size)?;
    let mut buffer = [0u8; 16];
    if cfg!(target_endian = "little") {
        buffer[..size].copy_from_slice(raw);
    } else {
        buffer[16 - size..].copy_from_slice(raw);
    }
    let unsigned = if cfg!(target_endian = "little") {
        u128::from_le_bytes(buffer)
    } else {
        u128::from_be_bytes(buffer)
    };
    Some(if signed && size < 16 {
        let shift = 128 - 8 * size as u32;
        ((unsigned << shift) as i128) >> shift
    } else {
        unsigned as i128
    })
}

fn read_bitfield(bytes: &[u8], bit_offset: u32, bits: u8, layout: &Layout) -> Decoded {
    let start = (bit_offset / 8) as usize;
    let shift = bit_offset % 8;
    let width = (shift as usize + bits as usize).div_ceil(8).min(16);
    let Some(raw) = bytes.get(start..start + width) else {
        return Decoded::Null;
    };
    let Some(word) = read_int(raw, width, false) else {
        return Decoded::Null;
    };
    let word = word as u128 >> shift;
    let mask = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    let value = word & mask;
    let signed = matches!(
        layout,
        Layout::Int { signed: true, .. } | Layout::Enum { signed: true, .. }
    );
    let value = if signed && bits > 0 && bits < 128 && value >> (bits - 1) & 1 == 1 {
        (value | !mask) as i128
    } else {
        value as i128
    };
    match layout {
        Layout::Enum { variants, .. } => variants
            .iter()
            .find(|(_, v)| *v == value)
            .map(|(name, _)| Decoded::Str(name.clone()))
            .unwrap_or_else(|| Decoded::Int(value)),
        Layout::Int { boolean: true, .. } => Decoded::Bool(value != 0),
        _ => Decoded::Int(value),
    }
}

fn hex_value(bytes: &[u8]) -> Decoded {
    let mut text = String::with_capacity(2 + bytes.len() * 2);
    text.push_str("0x");
    for b in bytes {
        text.push_str(&format!("{b:02x}"));
    }
    Decoded::Str(text)
}

/// Sums per-CPU integer values (the total is what a counter means); `None` if a value does
/// not decode as an integer.
pub(crate) fn sum_integers(layout: &Layout, per_cpu: &[Vec<u8>]) -> Option<Decoded> {
    let Layout::Int { size, signed, .. } = layout else {
        return None;
    };
    let mut total: i128 = 0;
    for value in per_cpu {
        total = total.checked_add(read_int(value, *size, *signed)?)?;
    }
    Some(Decoded::Int(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_layout() -> Layout {
        let u32_ = Layout::Int {
            size: 4,
            signed: false,
            boolean: false,
            character: false,
        };
        Layout::Struct {
            size: 32,
            fields: vec![
                Field {
                    name: "pid".into(),
                    bit_offset: 0,
                    bit_size: None,
                    layout: u32_.clone(),
                },
                Field {
                    name: "delta".into(),
                    bit_offset: 32,
                    bit_size: None,
                    layout: Layout::Int {
                        size: 4,
                        signed: true,
                        boolean: false,
                        character: false,
                    },
                },
                Field {
                    name: "comm".into(),
                    bit_offset: 64,
                    bit_size: None,
                    layout: Layout::Array {
                        element: Box::new(Layout::Int {
                            size: 1,
                            signed: true,
                            boolean: false,
                            character: true,
                        }),
                        len: 16,
                    },
                },
                Field {
                    name: "count".into(),
                    bit_offset: 192,
                    bit_size: None,
                    layout: Layout::Int {
                        size: 8,
                        signed: false,
                        boolean: false,
                        character: false,
                    },
                },
            ],
        }
    }

    #[test]
    fn decodes_struct_with_signed_ints_and_strings() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&42u32.to_ne_bytes());
        bytes.extend_from_slice(&(-3i32).to_ne_bytes());
        let mut comm = [0u8; 16];
        comm[..4].copy_from_slice(b"bash");
        bytes.extend_from_slice(&comm);
        bytes.extend_from_slice(&7u64.to_ne_bytes());
        let value = decode(&event_layout(), &bytes);
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            r#"{"pid":42,"delta":-3,"comm":"bash","count":7}"#
        );
    }

    #[test]
    fn short_record_decodes_missing_fields_as_null() {
        let value = decode(&event_layout(), &42u32.to_ne_bytes());
        let Decoded::Fields(fields) = value else {
            panic!("{value:?}")
        };
        assert_eq!(fields[0], ("pid".to_owned(), Decoded::Int(42)));
        assert_eq!(fields[3], ("count".to_owned(), Decoded::Null));
    }

    #[test]
    fn bitfields_and_sums() {
        let layout = Layout::Int {
            size: 4,
            signed: true,
            boolean: false,
            character: false,
        };
        // 0b1110 at bit offset 4, width 4, signed → -2
        let bytes = [0xE0u8, 0, 0, 0];
        assert_eq!(read_bitfield(&bytes, 4, 4, &layout), Decoded::Int(-2));
        let per_cpu = vec![5u32.to_ne_bytes().to_vec(), 7u32.to_ne_bytes().to_vec()];
        assert_eq!(sum_integers(&layout, &per_cpu), Some(Decoded::Int(12)));
    }
}
