//! Global variables of a BPF object (`.rodata`, `.data`, `.bss` and their `.*.NAME`
//! variants): what `inspect` lists and what `load --global NAME=VALUE` writes.
//!
//! libbpf-tools and libbpf-bootstrap programs are configured by their user space through
//! such variables (`const volatile pid_t targ_pid = 0;`), set between open and load. This
//! module finds each variable (name, section, offset, size, C type, default value) from the
//! object's BTF and symbol table, formats values for display, and turns a user's text into
//! the bytes to write, checked against the variable's type. Nothing here does I/O.

use serde::{Deserialize, Serialize};

use super::btf::{kind, Btf};
use super::ElfError;

/// `BTF_INT_SIGNED`.
const INT_SIGNED: u8 = 1;
/// `BTF_INT_CHAR`.
const INT_CHAR: u8 = 2;
/// `BTF_INT_BOOL`.
const INT_BOOL: u8 = 4;
/// Defaults longer than this many bytes are shown cut (a 4 KiB buffer is not a setting).
const MAX_DEFAULT_BYTES: usize = 64;

/// One global variable of the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalVariable {
    /// The variable's name, as in the C source.
    pub name: String,
    /// Its ELF section (`.rodata`, `.bss`, `.data.custom`, ...), which becomes a map.
    pub section: String,
    /// Offset in the section, in bytes.
    pub offset: u64,
    /// Size in bytes.
    pub size: u32,
    /// The C type, e.g. `const volatile pid_t`, `char[16]`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The value compiled into the object, formatted like `--global` takes it (`0`,
    /// `true`, an enum name, `"text"`, `0x…` bytes); `.bss` variables are zero. `None`
    /// when the section's bytes are not available.
    pub default: Option<String>,
    /// How values of this variable are read and written.
    #[serde(skip, default)]
    pub kind: ValueKind,
}

/// How a global variable's value is written as text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ValueKind {
    /// An integer (decimal or `0x` hexadecimal).
    Integer {
        /// Whether negative values are allowed.
        signed: bool,
    },
    /// A C `_Bool`/`bool`: `true`, `false`, `1` or `0`.
    Bool,
    /// An enum: a variant name or an integer.
    Enum {
        /// Whether the enum's values are signed.
        signed: bool,
        /// (name, value) of every variant.
        variants: Vec<(String, i128)>,
    },
    /// A `char` array: a string (shorter than the array, which keeps a NUL).
    Chars,
    /// Anything else (structs, other arrays, pointers, floats): raw bytes in hexadecimal.
    #[default]
    Bytes,
}

impl GlobalVariable {
    /// Turns `text` into the bytes to store, for an object of the given byte order
    /// (`big_endian`). Accepted forms: integers in decimal or `0x` hexadecimal, `true`/
    /// `false` for bools, variant names for enums, plain text for `char` arrays, and for
    /// any type the raw bytes in memory order as `hex:0A0B0C0D` (bpfman's `--global` form,
    /// prefixed so that it cannot be mistaken for a number; the prefix may be left out for
    /// types that take no number, such as structs). On error, the message says what the
    /// variable's type accepts.
    pub fn encode(&self, text: &str, big_endian: bool) -> Result<Vec<u8>, String> {
        let size = self.size as usize;
        if let Some(hex) = text.strip_prefix("hex:") {
            return self.raw_hex(hex);
        }
        match &self.kind {
            ValueKind::Integer { signed } => {
                let value = parse_int(text).ok_or_else(|| {
                    format!(
                        "'{text}' is not an integer ({}): write it in decimal or 0x-hex",
                        self.describe()
                    )
                })?;
                int_bytes(value, size, *signed, big_endian)
                    .ok_or_else(|| format!("{value} does not fit in {}", self.describe()))
            }
            ValueKind::Bool => {
                let value = match text {
                    "true" | "1" => 1,
                    "false" | "0" => 0,
                    _ => {
                        return Err(format!(
                            "'{text}' is not a bool ({}): use true or false",
                            self.describe()
                        ))
                    }
                };
                int_bytes(value, size, false, big_endian)
                    .ok_or_else(|| format!("{} has no room for a bool", self.describe()))
            }
            ValueKind::Enum { signed, variants } => {
                let value = match variants.iter().find(|(name, _)| name == text) {
                    Some((_, value)) => *value,
                    None => parse_int(text).ok_or_else(|| {
                        let names: Vec<&str> = variants.iter().map(|(n, _)| n.as_str()).collect();
                        format!(
                            "'{text}' is not a value of {} (one of: {}, or an integer)",
                            self.describe(),
                            names.join(", ")
                        )
                    })?,
                };
                int_bytes(value, size, *signed, big_endian)
                    .ok_or_else(|| format!("{value} does not fit in {}", self.describe()))
            }
            ValueKind::Chars => {
                if text.len() >= size {
                    return Err(format!(
                        "'{text}' is {} bytes, but {} holds at most {} characters and a NUL",
                        text.len(),
                        self.describe(),
                        size.saturating_sub(1)
                    ));
                }
                let mut bytes = text.as_bytes().to_vec();
                bytes.resize(size, 0);
                Ok(bytes)
            }
            ValueKind::Bytes => self.raw_hex(text.strip_prefix("0x").unwrap_or(text)),
        }
    }

    fn raw_hex(&self, hex: &str) -> Result<Vec<u8>, String> {
        let size = self.size as usize;
        let bytes = decode_hex(hex).ok_or_else(|| {
            format!(
                "'{hex}' is not hexadecimal bytes ({} takes {size} bytes, e.g. hex:{})",
                self.describe(),
                "00".repeat(size.min(8))
            )
        })?;
        if bytes.len() != size {
            return Err(format!(
                "{} bytes given, but {} is {size} bytes",
                bytes.len(),
                self.describe()
            ));
        }
        Ok(bytes)
    }

    /// "variable 'targ_pid' (const volatile pid_t, 4 bytes, in .rodata)".
    pub fn describe(&self) -> String {
        format!(
            "variable '{}' ({}, {} byte{}, in {})",
            self.name,
            self.type_name,
            self.size,
            if self.size == 1 { "" } else { "s" },
            self.section
        )
    }

    /// Formats `bytes` (the variable's value, in the object's byte order) the way
    /// [`GlobalVariable::encode`] reads it back.
    pub fn format(&self, bytes: &[u8], big_endian: bool) -> String {
        let int = |signed: bool| read_int(bytes, signed, big_endian);
        match &self.kind {
            ValueKind::Integer { signed } => match int(*signed) {
                Some(v) => v.to_string(),
                None => hex_of(bytes),
            },
            ValueKind::Bool => match int(false) {
                Some(0) => "false".into(),
                Some(_) => "true".into(),
                None => hex_of(bytes),
            },
            ValueKind::Enum { signed, variants } => match int(*signed) {
                Some(v) => variants
                    .iter()
                    .find(|(_, value)| *value == v)
                    .map(|(name, _)| name.clone())
                    .unwrap_or_else(|| v.to_string()),
                None => hex_of(bytes),
            },
            ValueKind::Chars => {
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                format!("{:?}", String::from_utf8_lossy(&bytes[..end]))
            }
            ValueKind::Bytes => hex_of(bytes),
        }
    }
}

fn hex_of(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(MAX_DEFAULT_BYTES)];
    let mut text: String = std::iter::once("hex:".to_owned())
        .chain(shown.iter().map(|b| format!("{b:02x}")))
        .collect();
    if shown.len() < bytes.len() {
        text.push('…');
    }
    text
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let hex = hex.as_bytes();
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// Decimal (optionally negative) or `0x` hexadecimal.
fn parse_int(text: &str) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let value = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i128::from_str_radix(hex, 16).ok()?,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse().ok()?
        }
        None => return None,
    };
    Some(if negative { -value } else { value })
}

/// `value` as `size` bytes, if it fits the type's range.
fn int_bytes(value: i128, size: usize, signed: bool, big_endian: bool) -> Option<Vec<u8>> {
    if size == 0 || size > 16 {
        return None;
    }
    let bits = (size * 8) as u32;
    let (min, max) = match (bits, signed) {
        (128, true) => (i128::MIN, i128::MAX),
        (128, false) => (0, i128::MAX),
        (_, true) => (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1),
        (_, false) => (0, (1i128 << bits) - 1),
    };
    let fits = value >= min && value <= max;
    if !fits {
        return None;
    }
    let le = value.to_le_bytes();
    let mut bytes = le[..size].to_vec();
    if big_endian {
        bytes.reverse();
    }
    Some(bytes)
}

fn read_int(bytes: &[u8], signed: bool, big_endian: bool) -> Option<i128> {
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    let mut le = bytes.to_vec();
    if big_endian {
        le.reverse();
    }
    let negative = signed && le.last().is_some_and(|b| b & 0x80 != 0);
    let mut full = [if negative { 0xff } else { 0 }; 16];
    full[..le.len()].copy_from_slice(&le);
    Some(i128::from_le_bytes(full))
}

/// Decides how a variable of BTF type `type_id` is written.
fn value_kind(btf: &Btf<'_>, type_id: u32) -> Result<ValueKind, ElfError> {
    let Some(t) = btf.skip_mods_and_typedefs(type_id)? else {
        return Ok(ValueKind::Bytes);
    };
    Ok(match t.kind {
        kind::INT => match t.int_encoding() {
            Some((enc, _)) if enc & INT_BOOL != 0 => ValueKind::Bool,
            Some((enc, _)) => ValueKind::Integer {
                signed: enc & INT_SIGNED != 0,
            },
            None => ValueKind::Bytes,
        },
        kind::ENUM | kind::ENUM64 => {
            let mut variants = Vec::new();
            for i in 0..t.vlen {
                if let Some((name_off, value)) = t.enumerator(i) {
                    variants.push((btf.name(name_off)?, value));
                }
            }
            ValueKind::Enum {
                signed: t.kind_flag,
                variants,
            }
        }
        kind::ARRAY => match t.array() {
            Some(array) if is_char(btf, array.elem_type)? => ValueKind::Chars,
            _ => ValueKind::Bytes,
        },
        kind::PTR => ValueKind::Integer { signed: false },
        _ => ValueKind::Bytes,
    })
}

/// Whether `id` is a C `char` (possibly const/volatile): what strings are made of. Typedefs
/// such as `__u8` are not followed: an array of them is bytes (a MAC address), not text.
fn is_char(btf: &Btf<'_>, id: u32) -> Result<bool, ElfError> {
    let mut id = id;
    for _ in 0..super::btf::MAX_DEPTH {
        match btf.get(id)? {
            Some(t) if matches!(t.kind, kind::CONST | kind::VOLATILE | kind::RESTRICT) => {
                id = t.target()
            }
            Some(t) if t.kind == kind::INT => {
                let named_char = btf.type_name(&t)?.ends_with("char");
                let flagged = t.int_encoding().is_some_and(|(enc, _)| enc & INT_CHAR != 0);
                return Ok(t.size_or_type == 1 && (named_char || flagged));
            }
            _ => return Ok(false),
        }
    }
    Ok(false)
}

/// A global-data section as [`variables`] needs it.
pub(super) struct DataSection<'d> {
    /// Its name.
    pub name: &'d str,
    /// Its bytes (empty for `.bss`), at most the section's size.
    pub bytes: Option<&'d [u8]>,
    /// Whether it is `SHT_NOBITS` (zero-filled).
    pub zeroed: bool,
    /// Its size in bytes.
    pub size: u64,
}

/// Every variable of the given global-data sections, in section order then offset order.
/// `symbol_offset(section, name)` gives the symbol table's offset for a variable (libbpf
/// trusts the symbol table over BTF's offsets, which clang may leave at zero).
pub(super) fn variables(
    btf: &Btf<'_>,
    sections: &[DataSection<'_>],
    big_endian: bool,
    symbol_offset: &dyn Fn(&str, &str) -> Option<u64>,
) -> Result<Vec<GlobalVariable>, ElfError> {
    let mut out = Vec::new();
    for section in sections {
        let Some(datasec) = super::find_datasec(btf, section.name) else {
            continue;
        };
        let mut vars = Vec::new();
        for (i, (name, var)) in super::datasec_vars(btf, &datasec, section.name)?
            .into_iter()
            .enumerate()
        {
            let info = datasec.var(i as u16);
            let type_id = var.target();
            let size = btf.resolve_size(type_id)?;
            let offset = symbol_offset(section.name, &name)
                .or_else(|| info.map(|v| u64::from(v.offset)))
                .unwrap_or(0);
            let end = offset.checked_add(u64::from(size));
            if end.is_none_or(|end| end > section.size) {
                return Err(ElfError::Malformed(format!(
                    "variable '{name}' ({size} bytes at offset {offset}) does not fit in \
                     section {} ({} bytes)",
                    section.name, section.size
                )));
            }
            let mut variable = GlobalVariable {
                type_name: btf.render(type_id)?,
                kind: value_kind(btf, type_id)?,
                section: section.name.to_owned(),
                offset,
                size,
                default: None,
                name,
            };
            let value = if section.zeroed {
                Some(vec![0u8; (size as usize).min(MAX_DEFAULT_BYTES + 1)])
            } else {
                section.bytes.and_then(|b| {
                    let start = usize::try_from(offset).ok()?;
                    let len = (size as usize).min(MAX_DEFAULT_BYTES + 1);
                    b.get(start..start.checked_add(len)?).map(<[u8]>::to_vec)
                })
            };
            variable.default = value.map(|v| {
                if v.len() < size as usize {
                    // Only a prefix was read: the value is longer than anything shown.
                    hex_of(&v)
                } else {
                    variable.format(&v, big_endian)
                }
            });
            vars.push(variable);
        }
        vars.sort_by_key(|v| v.offset);
        out.extend(vars);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(kind: ValueKind, size: u32, type_name: &str) -> GlobalVariable {
        GlobalVariable {
            name: "v".into(),
            section: ".rodata".into(),
            offset: 0,
            size,
            type_name: type_name.into(),
            default: None,
            kind,
        }
    }

    #[test]
    fn integers_are_range_checked_by_type() {
        let u8v = var(ValueKind::Integer { signed: false }, 1, "__u8");
        assert_eq!(u8v.encode("255", false).unwrap(), [255]);
        assert_eq!(u8v.encode("0xff", false).unwrap(), [255]);
        let err = u8v.encode("256", false).unwrap_err();
        assert!(
            err.contains("256 does not fit in variable 'v' (__u8, 1 byte"),
            "{err}"
        );
        assert!(u8v.encode("-1", false).is_err());
        let i32v = var(ValueKind::Integer { signed: true }, 4, "int");
        assert_eq!(i32v.encode("-2", false).unwrap(), [0xfe, 0xff, 0xff, 0xff]);
        assert_eq!(i32v.encode("1", true).unwrap(), [0, 0, 0, 1]);
        assert!(i32v.encode("2147483648", false).is_err());
        assert!(i32v
            .encode("twelve", false)
            .unwrap_err()
            .contains("not an integer"));
        assert_eq!(i32v.format(&[0xfe, 0xff, 0xff, 0xff], false), "-2");
        let u64v = var(ValueKind::Integer { signed: false }, 8, "__u64");
        assert_eq!(
            u64v.encode("18446744073709551615", false).unwrap(),
            [0xff; 8]
        );
    }

    #[test]
    fn bools_enums_strings_and_raw_hex() {
        let b = var(ValueKind::Bool, 1, "bool");
        assert_eq!(b.encode("true", false).unwrap(), [1]);
        assert!(b
            .encode("yes", false)
            .unwrap_err()
            .contains("use true or false"));
        assert_eq!(b.format(&[1], false), "true");
        let e = var(
            ValueKind::Enum {
                signed: false,
                variants: vec![("MODE_A".into(), 0), ("MODE_B".into(), 7)],
            },
            4,
            "enum mode",
        );
        assert_eq!(e.encode("MODE_B", false).unwrap(), [7, 0, 0, 0]);
        assert_eq!(e.format(&[7, 0, 0, 0], false), "MODE_B");
        let err = e.encode("MODE_C", false).unwrap_err();
        assert!(err.contains("one of: MODE_A, MODE_B"), "{err}");
        let s = var(ValueKind::Chars, 4, "char[4]");
        assert_eq!(s.encode("abc", false).unwrap(), b"abc\0");
        assert!(s.encode("abcd", false).unwrap_err().contains("at most 3"));
        assert_eq!(s.format(b"ab\0\0", false), "\"ab\"");
        let i = var(ValueKind::Integer { signed: false }, 4, "__u32");
        assert_eq!(i.encode("hex:0a0b0c0d", false).unwrap(), [10, 11, 12, 13]);
        assert!(i
            .encode("hex:0a0b", false)
            .unwrap_err()
            .contains("is 4 bytes"));
        let raw = var(ValueKind::Bytes, 2, "struct pair");
        assert_eq!(raw.encode("0102", false).unwrap(), [1, 2]);
        assert_eq!(raw.format(&[1, 2], false), "hex:0102");
    }
}
