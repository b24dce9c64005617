//! A bounded reader for the `.BTF` section of a BPF object.
//!
//! It indexes every type record once (checking that each record, with its trailing
//! members, fits in the type section) and then answers the questions the map
//! definitions need: names, modifier-skipping, sizes and C-like renderings.
//! Every walk along type references is capped at [`MAX_DEPTH`] links, so cyclic or
//! absurdly deep chains in hostile input end in an error instead of a hang.

use super::ElfError;

/// The BTF magic number, as a `u16` in the object's byte order.
const MAGIC: u16 = 0xeb9f;
/// Size of the fixed part of `struct btf_header` (version 1).
const HEADER_LEN: usize = 24;
/// Size of `struct btf_type`, the common part of every type record.
const TYPE_LEN: usize = 12;
/// Longest chain of type references we follow: libbpf's own limit
/// (`MAX_RESOLVE_DEPTH`), so anything libbpf resolves, we resolve.
pub(super) const MAX_DEPTH: usize = 32;
/// Longest name we read from the string section. The kernel caps BTF names at
/// `KSYM_NAME_LEN` (512); this leaves room without letting one lookup scan megabytes.
const MAX_NAME_LEN: usize = 4096;
/// Size of a pointer in a BPF program.
const POINTER_SIZE: u64 = 8;

/// BTF kinds (`BTF_KIND_*` in the kernel's `btf.h`).
pub(super) mod kind {
    pub const INT: u8 = 1;
    pub const PTR: u8 = 2;
    pub const ARRAY: u8 = 3;
    pub const STRUCT: u8 = 4;
    pub const UNION: u8 = 5;
    pub const ENUM: u8 = 6;
    pub const FWD: u8 = 7;
    pub const TYPEDEF: u8 = 8;
    pub const VOLATILE: u8 = 9;
    pub const CONST: u8 = 10;
    pub const RESTRICT: u8 = 11;
    pub const FUNC: u8 = 12;
    pub const FUNC_PROTO: u8 = 13;
    pub const VAR: u8 = 14;
    pub const DATASEC: u8 = 15;
    pub const FLOAT: u8 = 16;
    pub const DECL_TAG: u8 = 17;
    pub const TYPE_TAG: u8 = 18;
    pub const ENUM64: u8 = 19;
}

/// The kernel's name for a BTF kind, for error messages.
pub(super) fn kind_name(k: u8) -> &'static str {
    match k {
        0 => "void",
        kind::INT => "INT",
        kind::PTR => "PTR",
        kind::ARRAY => "ARRAY",
        kind::STRUCT => "STRUCT",
        kind::UNION => "UNION",
        kind::ENUM => "ENUM",
        kind::FWD => "FWD",
        kind::TYPEDEF => "TYPEDEF",
        kind::VOLATILE => "VOLATILE",
        kind::CONST => "CONST",
        kind::RESTRICT => "RESTRICT",
        kind::FUNC => "FUNC",
        kind::FUNC_PROTO => "FUNC_PROTO",
        kind::VAR => "VAR",
        kind::DATASEC => "DATASEC",
        kind::FLOAT => "FLOAT",
        kind::DECL_TAG => "DECL_TAG",
        kind::TYPE_TAG => "TYPE_TAG",
        kind::ENUM64 => "ENUM64",
        _ => "unknown",
    }
}

fn malformed(message: impl std::fmt::Display) -> ElfError {
    ElfError::Malformed(format!("BTF: {message}"))
}

type Result<T> = std::result::Result<T, ElfError>;

/// Reads a `u32` at `off` in the given byte order; `None` when out of bounds.
fn read_u32(bytes: &[u8], off: usize, big: bool) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(off..off.checked_add(4)?)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    })
}

/// A parsed `.BTF` section: the type and string sections and an index of where each
/// type record starts.
#[derive(Debug)]
pub(super) struct Btf<'a> {
    big_endian: bool,
    types: &'a [u8],
    strings: &'a [u8],
    /// `offsets[i]` is where the record of type id `i + 1` starts in `types`
    /// (id 0 is `void` and has no record). Grows with the records actually present,
    /// never with a count read from the input.
    offsets: Vec<u32>,
}

/// One type record: the common `struct btf_type` fields and the bytes that trail it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Type<'a> {
    /// The type id.
    pub id: u32,
    /// `BTF_KIND_*`.
    pub kind: u8,
    /// The `kind_flag` bit (e.g. a FWD to a union).
    pub kind_flag: bool,
    /// Number of trailing members, enumerators, parameters or variables.
    pub vlen: u16,
    name_off: u32,
    /// `size` for sized kinds, `type` for reference kinds.
    pub size_or_type: u32,
    extra: &'a [u8],
    big_endian: bool,
}

/// One member of a STRUCT or UNION.
#[derive(Debug, Clone, Copy)]
pub(super) struct Member {
    pub name_off: u32,
    pub type_id: u32,
}

/// One variable of a DATASEC.
#[derive(Debug, Clone, Copy)]
pub(super) struct VarSecinfo {
    pub type_id: u32,
    /// Offset of the variable in its section (clang may leave 0: libbpf fixes it up from
    /// the symbol table, and so do we).
    pub offset: u32,
}

/// The trailing record of an ARRAY.
#[derive(Debug, Clone, Copy)]
pub(super) struct Array {
    pub elem_type: u32,
    pub nelems: u32,
}

impl<'a> Type<'a> {
    fn u32_at(&self, off: usize) -> Option<u32> {
        read_u32(self.extra, off, self.big_endian)
    }

    /// The referenced type of a PTR, TYPEDEF, modifier, VAR, FUNC or tag.
    pub fn target(&self) -> u32 {
        self.size_or_type
    }

    /// Member `i` of a STRUCT or UNION. The record was bounds-checked when indexed,
    /// so `None` only comes from a wrong kind or `i >= vlen`.
    pub fn member(&self, i: u16) -> Option<Member> {
        if !matches!(self.kind, kind::STRUCT | kind::UNION) || i >= self.vlen {
            return None;
        }
        let off = usize::from(i) * 12;
        Some(Member {
            name_off: self.u32_at(off)?,
            type_id: self.u32_at(off + 4)?,
        })
    }

    /// Variable `i` of a DATASEC.
    pub fn var(&self, i: u16) -> Option<VarSecinfo> {
        if self.kind != kind::DATASEC || i >= self.vlen {
            return None;
        }
        Some(VarSecinfo {
            type_id: self.u32_at(usize::from(i) * 12)?,
            offset: self.u32_at(usize::from(i) * 12 + 4)?,
        })
    }

    /// An INT's encoding bits (`BTF_INT_SIGNED` 1, `BTF_INT_CHAR` 2, `BTF_INT_BOOL` 4)
    /// and its width in bits.
    pub fn int_encoding(&self) -> Option<(u8, u8)> {
        if self.kind != kind::INT {
            return None;
        }
        let v = self.u32_at(0)?;
        Some((((v >> 24) & 0x0f) as u8, (v & 0xff) as u8))
    }

    /// Enumerator `i` of an ENUM or ENUM64: its name offset and value (sign-extended when
    /// the enum is signed, which `kind_flag` says).
    pub fn enumerator(&self, i: u16) -> Option<(u32, i128)> {
        if i >= self.vlen {
            return None;
        }
        match self.kind {
            kind::ENUM => {
                let off = usize::from(i) * 8;
                let raw = self.u32_at(off + 4)?;
                let value = if self.kind_flag {
                    i128::from(raw as i32)
                } else {
                    i128::from(raw)
                };
                Some((self.u32_at(off)?, value))
            }
            kind::ENUM64 => {
                let off = usize::from(i) * 12;
                let lo = u64::from(self.u32_at(off + 4)?);
                let hi = u64::from(self.u32_at(off + 8)?);
                let raw = (hi << 32) | lo;
                let value = if self.kind_flag {
                    i128::from(raw as i64)
                } else {
                    i128::from(raw)
                };
                Some((self.u32_at(off)?, value))
            }
            _ => None,
        }
    }

    /// The element type and length of an ARRAY.
    pub fn array(&self) -> Option<Array> {
        if self.kind != kind::ARRAY {
            return None;
        }
        Some(Array {
            elem_type: self.u32_at(0)?,
            nelems: self.u32_at(8)?,
        })
    }

    /// Whether this kind only qualifies or renames another type.
    fn is_modifier_or_typedef(&self) -> bool {
        matches!(
            self.kind,
            kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG
        )
    }
}

/// Number of bytes that trail the common record for a kind, or `None` for a kind we
/// do not know (whose length we therefore cannot skip).
fn trailing_len(k: u8, vlen: u16) -> Option<usize> {
    let vlen = usize::from(vlen);
    Some(match k {
        kind::INT => 4,
        kind::PTR
        | kind::FWD
        | kind::TYPEDEF
        | kind::VOLATILE
        | kind::CONST
        | kind::RESTRICT
        | kind::FUNC
        | kind::FLOAT
        | kind::TYPE_TAG => 0,
        kind::ARRAY => 12,
        kind::STRUCT | kind::UNION => vlen * 12,
        kind::ENUM => vlen * 8,
        kind::FUNC_PROTO => vlen * 8,
        kind::VAR => 4,
        kind::DATASEC => vlen * 12,
        kind::DECL_TAG => 4,
        kind::ENUM64 => vlen * 12,
        _ => return None,
    })
}

impl<'a> Btf<'a> {
    /// Parses the header and indexes every type record of a `.BTF` section.
    ///
    /// `big_endian` is the object's byte order; a section whose magic reads swapped
    /// is accepted in the other order, as libbpf does.
    pub fn parse(section: &'a [u8], big_endian: bool) -> Result<Self> {
        let len = section.len();
        if len < HEADER_LEN {
            return Err(malformed(format_args!(
                "section is {len} bytes, shorter than the {HEADER_LEN}-byte BTF header"
            )));
        }
        let raw_magic = [section[0], section[1]];
        let big_endian = if u16::from_be_bytes(raw_magic) == MAGIC {
            true
        } else if u16::from_le_bytes(raw_magic) == MAGIC {
            false
        } else {
            let found = if big_endian {
                u16::from_be_bytes(raw_magic)
            } else {
                u16::from_le_bytes(raw_magic)
            };
            return Err(malformed(format_args!(
                "bad magic {found:#06x}, expected {MAGIC:#06x}"
            )));
        };
        let version = section[2];
        if version != 1 {
            return Err(malformed(format_args!(
                "unsupported BTF version {version} (only version 1 exists)"
            )));
        }
        let field = |off: usize| read_u32(section, off, big_endian).unwrap_or(0);
        let hdr_len = field(4);
        let (type_off, type_len) = (field(8), field(12));
        let (str_off, str_len) = (field(16), field(20));
        if (hdr_len as usize) < HEADER_LEN || hdr_len as usize > len {
            return Err(malformed(format_args!(
                "header length {hdr_len} is outside {HEADER_LEN}..={len} (the section size)"
            )));
        }
        let body = &section[hdr_len as usize..];
        let sub = |what: &str, off: u32, sublen: u32| -> Result<&'a [u8]> {
            let start = off as usize;
            start
                .checked_add(sublen as usize)
                .and_then(|end| body.get(start..end))
                .ok_or_else(|| {
                    malformed(format_args!(
                        "{what} section (offset {off}, length {sublen}) extends past the end \
                         of .BTF ({} bytes after the {hdr_len}-byte header)",
                        body.len()
                    ))
                })
        };
        let types = sub("type", type_off, type_len)?;
        let strings = sub("string", str_off, str_len)?;

        let mut offsets = Vec::new();
        let mut off = 0usize;
        while off < types.len() {
            let id = offsets.len() + 1;
            let info =
                read_u32(types, off + 4, big_endian).filter(|_| off + TYPE_LEN <= types.len());
            let Some(info) = info else {
                return Err(malformed(format_args!(
                    "type [{id}] at offset {off}: its {TYPE_LEN}-byte record runs past the end \
                     of the type section ({} bytes)",
                    types.len()
                )));
            };
            let k = ((info >> 24) & 0x1f) as u8;
            let vlen = (info & 0xffff) as u16;
            let Some(extra) = trailing_len(k, vlen) else {
                return Err(malformed(format_args!(
                    "type [{id}] at offset {off} has unknown kind {k}"
                )));
            };
            let end = off + TYPE_LEN + extra;
            if end > types.len() {
                return Err(malformed(format_args!(
                    "type [{id}] ({}, {vlen} entries) at offset {off} needs {} bytes but the \
                     type section ends at {}",
                    kind_name(k),
                    TYPE_LEN + extra,
                    types.len()
                )));
            }
            // `types.len()` came from a u32, so every offset fits in one.
            offsets.push(off as u32);
            off = end;
        }
        Ok(Btf {
            big_endian,
            types,
            strings,
            offsets,
        })
    }

    /// Number of type records (the largest valid id).
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// The record for `id`, `None` for id 0 (`void`), an error past the last id.
    pub fn get(&self, id: u32) -> Result<Option<Type<'a>>> {
        if id == 0 {
            return Ok(None);
        }
        let Some(&off) = self.offsets.get(id as usize - 1) else {
            return Err(malformed(format_args!(
                "type id {id} is out of range (the object has {} types)",
                self.len()
            )));
        };
        let off = off as usize;
        // In bounds: checked when the record was indexed.
        let info = read_u32(self.types, off + 4, self.big_endian).unwrap_or(0);
        let k = ((info >> 24) & 0x1f) as u8;
        let vlen = (info & 0xffff) as u16;
        let extra_len = trailing_len(k, vlen).unwrap_or(0);
        let extra_start = off + TYPE_LEN;
        Ok(Some(Type {
            id,
            kind: k,
            kind_flag: info >> 31 == 1,
            vlen,
            name_off: read_u32(self.types, off, self.big_endian).unwrap_or(0),
            size_or_type: read_u32(self.types, off + 8, self.big_endian).unwrap_or(0),
            extra: self
                .types
                .get(extra_start..extra_start + extra_len)
                .unwrap_or(&[]),
            big_endian: self.big_endian,
        }))
    }

    /// All type records, in id order.
    pub fn types(&self) -> impl Iterator<Item = Type<'a>> + '_ {
        (1..=self.offsets.len() as u32).filter_map(|id| self.get(id).ok().flatten())
    }

    /// Whether the name at `name_off` is exactly `expected`: a constant-time check,
    /// used when scanning many records for one name.
    pub fn name_is(&self, name_off: u32, expected: &str) -> bool {
        let start = name_off as usize;
        let Some(end) = start.checked_add(expected.len()) else {
            return false;
        };
        self.strings.get(start..end) == Some(expected.as_bytes())
            && self.strings.get(end) == Some(&0)
    }

    /// The name at `name_off` in the string section (empty for anonymous types).
    pub fn name(&self, name_off: u32) -> Result<String> {
        let start = name_off as usize;
        let Some(rest) = self.strings.get(start..) else {
            return Err(malformed(format_args!(
                "name offset {name_off} is past the end of the string section ({} bytes)",
                self.strings.len()
            )));
        };
        let window = &rest[..rest.len().min(MAX_NAME_LEN + 1)];
        match window.iter().position(|&b| b == 0) {
            Some(end) => Ok(String::from_utf8_lossy(&window[..end]).into_owned()),
            None if window.len() > MAX_NAME_LEN => Err(malformed(format_args!(
                "name at offset {name_off} is longer than {MAX_NAME_LEN} bytes"
            ))),
            None => Err(malformed(format_args!(
                "name at offset {name_off} is not NUL-terminated before the end of the string \
                 section"
            ))),
        }
    }

    /// The name of a type record.
    pub fn type_name(&self, t: &Type<'_>) -> Result<String> {
        self.name(t.name_off)
    }

    /// Whether the type record is named `expected`.
    pub fn type_name_is(&self, t: &Type<'_>, expected: &str) -> bool {
        self.name_is(t.name_off, expected)
    }

    /// Follows typedefs and modifiers (const, volatile, restrict, type tags) from `id`
    /// to the first other type, like libbpf's `skip_mods_and_typedefs`.
    /// `Ok(None)` is `void`.
    pub fn skip_mods_and_typedefs(&self, id: u32) -> Result<Option<Type<'a>>> {
        let mut id = id;
        for _ in 0..MAX_DEPTH {
            match self.get(id)? {
                Some(t) if t.is_modifier_or_typedef() => id = t.target(),
                other => return Ok(other),
            }
        }
        Err(too_deep(id))
    }

    /// The size in bytes of type `id`, like libbpf's `btf__resolve_size`: arrays
    /// multiply, pointers are 8 bytes, typedefs/modifiers/variables follow their type.
    pub fn resolve_size(&self, id: u32) -> Result<u32> {
        let start = id;
        let mut id = id;
        let mut nelems: u64 = 1;
        for _ in 0..MAX_DEPTH {
            let Some(t) = self.get(id)? else {
                return Err(malformed(format_args!(
                    "type [{start}] resolves to void, which has no size"
                )));
            };
            let size = match t.kind {
                kind::INT
                | kind::STRUCT
                | kind::UNION
                | kind::ENUM
                | kind::ENUM64
                | kind::DATASEC
                | kind::FLOAT => u64::from(t.size_or_type),
                kind::PTR => POINTER_SIZE,
                kind::TYPEDEF
                | kind::VOLATILE
                | kind::CONST
                | kind::RESTRICT
                | kind::VAR
                | kind::DECL_TAG
                | kind::TYPE_TAG => {
                    id = t.target();
                    continue;
                }
                kind::ARRAY => {
                    let array = t
                        .array()
                        .ok_or_else(|| malformed("ARRAY record too short"))?;
                    nelems = nelems.saturating_mul(u64::from(array.nelems));
                    id = array.elem_type;
                    continue;
                }
                other => {
                    return Err(malformed(format_args!(
                        "type [{start}] resolves to [{id}] ({}), which has no size",
                        kind_name(other)
                    )))
                }
            };
            return u32::try_from(nelems.saturating_mul(size))
                .map_err(|_| malformed(format_args!("type [{start}] is larger than 4 GiB")));
        }
        Err(too_deep(start))
    }

    /// Renders type `id` the way C spells it: `struct event`, `__u32`, `char[16]`,
    /// `const char *`. Anonymous aggregates render as `struct <anon>`.
    pub fn render(&self, id: u32) -> Result<String> {
        self.render_at(id, 0)
    }

    fn render_at(&self, id: u32, depth: usize) -> Result<String> {
        if depth >= MAX_DEPTH {
            return Err(too_deep(id));
        }
        let Some(t) = self.get(id)? else {
            return Ok("void".to_owned());
        };
        let named = |prefix: &str| -> Result<String> {
            let name = self.type_name(&t)?;
            let name = if name.is_empty() { "<anon>" } else { &name };
            Ok(format!("{prefix}{name}"))
        };
        Ok(match t.kind {
            kind::STRUCT => named("struct ")?,
            kind::UNION => named("union ")?,
            kind::ENUM | kind::ENUM64 => named("enum ")?,
            kind::FWD if t.kind_flag => named("union ")?,
            kind::FWD => named("struct ")?,
            kind::PTR => {
                let inner = self.render_at(t.target(), depth + 1)?;
                if inner.ends_with('*') {
                    format!("{inner}*")
                } else {
                    format!("{inner} *")
                }
            }
            kind::CONST => format!("const {}", self.render_at(t.target(), depth + 1)?),
            kind::VOLATILE => format!("volatile {}", self.render_at(t.target(), depth + 1)?),
            kind::RESTRICT => format!("{} restrict", self.render_at(t.target(), depth + 1)?),
            kind::TYPE_TAG => self.render_at(t.target(), depth + 1)?,
            kind::ARRAY => {
                // C writes the outermost dimension first: int[2][3] is an array of 2
                // arrays of 3 ints.
                let mut dims = String::new();
                let mut cur = t;
                let mut steps = depth;
                while let Some(array) = cur.array() {
                    steps += 1;
                    if steps >= MAX_DEPTH {
                        return Err(too_deep(id));
                    }
                    dims.push_str(&format!("[{}]", array.nelems));
                    match self.get(array.elem_type)? {
                        Some(next) if next.kind == kind::ARRAY => cur = next,
                        _ => {
                            let elem = self.render_at(array.elem_type, steps)?;
                            return Ok(format!("{elem}{dims}"));
                        }
                    }
                }
                dims
            }
            kind::FUNC_PROTO => "function".to_owned(),
            _ => named("")?,
        })
    }
}

fn too_deep(id: u32) -> ElfError {
    malformed(format_args!(
        "type chain from [{id}] is longer than {MAX_DEPTH} links (cyclic?)"
    ))
}

#[cfg(test)]
pub(super) mod build {
    //! A tiny BTF writer for tests: builds `.BTF` sections by hand, in either byte order.

    use super::{kind, MAGIC};

    /// Accumulates type records and strings, then serialises them with a header.
    pub struct BtfBuilder {
        pub big_endian: bool,
        pub types: Vec<u8>,
        pub strings: Vec<u8>,
        next_id: u32,
    }

    impl BtfBuilder {
        pub fn new(big_endian: bool) -> Self {
            BtfBuilder {
                big_endian,
                types: Vec::new(),
                strings: vec![0],
                next_id: 1,
            }
        }

        fn u32(&mut self, v: u32) {
            let bytes = if self.big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            self.types.extend_from_slice(&bytes);
        }

        /// Number of types added so far (the id of the last one).
        pub fn len_hint(&self) -> u32 {
            self.next_id - 1
        }

        /// Adds a string and returns its offset.
        pub fn string(&mut self, s: &str) -> u32 {
            if s.is_empty() {
                return 0;
            }
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(s.as_bytes());
            self.strings.push(0);
            off
        }

        /// Adds a raw type record and returns its id.
        pub fn raw(
            &mut self,
            name: &str,
            k: u8,
            vlen: u16,
            size_or_type: u32,
            extra: &[u32],
        ) -> u32 {
            let name_off = self.string(name);
            self.u32(name_off);
            self.u32((u32::from(k) << 24) | u32::from(vlen));
            self.u32(size_or_type);
            for &v in extra {
                self.u32(v);
            }
            let id = self.next_id;
            self.next_id += 1;
            id
        }

        pub fn int(&mut self, name: &str, size: u32) -> u32 {
            self.raw(name, kind::INT, 0, size, &[size * 8])
        }
        pub fn ptr(&mut self, target: u32) -> u32 {
            self.raw("", kind::PTR, 0, target, &[])
        }
        pub fn typedef(&mut self, name: &str, target: u32) -> u32 {
            self.raw(name, kind::TYPEDEF, 0, target, &[])
        }
        pub fn array(&mut self, elem: u32, index: u32, nelems: u32) -> u32 {
            self.raw("", kind::ARRAY, 0, 0, &[elem, index, nelems])
        }
        /// `__uint(name, value)`: a member of type `int (*)[value]`.
        pub fn uint_member(&mut self, int_id: u32, value: u32) -> u32 {
            let array = self.array(int_id, int_id, value);
            self.ptr(array)
        }
        pub fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32)]) -> u32 {
            let mut extra = Vec::new();
            for (i, (member, type_id)) in members.iter().enumerate() {
                let off = self.string(member);
                extra.extend_from_slice(&[off, *type_id, (i as u32) * 64]);
            }
            self.raw(name, kind::STRUCT, members.len() as u16, size, &extra)
        }
        pub fn var(&mut self, name: &str, type_id: u32) -> u32 {
            self.raw(name, kind::VAR, 0, type_id, &[1])
        }
        pub fn datasec(&mut self, name: &str, vars: &[u32]) -> u32 {
            let mut extra = Vec::new();
            for &v in vars {
                extra.extend_from_slice(&[v, 0, 8]);
            }
            self.raw(name, kind::DATASEC, vars.len() as u16, 0, &extra)
        }

        /// Serialises header, types and strings.
        pub fn finish(&self) -> Vec<u8> {
            let mut out = Vec::new();
            let put16 = |out: &mut Vec<u8>, v: u16| {
                out.extend_from_slice(&if self.big_endian {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                })
            };
            let put32 = |out: &mut Vec<u8>, v: u32| {
                out.extend_from_slice(&if self.big_endian {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                })
            };
            put16(&mut out, MAGIC);
            out.push(1); // version
            out.push(0); // flags
            put32(&mut out, 24);
            put32(&mut out, 0);
            put32(&mut out, self.types.len() as u32);
            put32(&mut out, self.types.len() as u32);
            put32(&mut out, self.strings.len() as u32);
            out.extend_from_slice(&self.types);
            out.extend_from_slice(&self.strings);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::build::BtfBuilder;
    use super::*;

    fn message(err: ElfError) -> String {
        match err {
            ElfError::Malformed(m) => m,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn resolves_sizes_and_renders_names_in_both_byte_orders() {
        for big in [false, true] {
            let mut b = BtfBuilder::new(big);
            let u32_id = b.int("unsigned int", 4);
            let td = b.typedef("__u32", u32_id);
            let ch = b.int("char", 1);
            let arr = b.array(ch, u32_id, 16);
            let ev = b.strukt("event", 24, &[("pid", td), ("comm", arr)]);
            let cst = b.raw("", kind::CONST, 0, ch, &[]);
            let pcst = b.ptr(cst);
            let bytes = b.finish();
            let btf = Btf::parse(&bytes, big).unwrap();
            assert_eq!(btf.len(), 7);
            assert_eq!(btf.resolve_size(td).unwrap(), 4);
            assert_eq!(btf.resolve_size(arr).unwrap(), 16);
            assert_eq!(btf.resolve_size(ev).unwrap(), 24);
            assert_eq!(btf.resolve_size(pcst).unwrap(), 8);
            assert_eq!(btf.render(td).unwrap(), "__u32");
            assert_eq!(btf.render(ev).unwrap(), "struct event");
            assert_eq!(btf.render(arr).unwrap(), "char[16]");
            assert_eq!(btf.render(pcst).unwrap(), "const char *");
            assert_eq!(btf.render(0).unwrap(), "void");
        }
    }

    #[test]
    fn renders_multidimensional_arrays_outermost_first() {
        let mut b = BtfBuilder::new(false);
        let int = b.int("int", 4);
        let inner = b.array(int, int, 3);
        let outer = b.array(inner, int, 2);
        let bytes = b.finish();
        let btf = Btf::parse(&bytes, false).unwrap();
        assert_eq!(btf.render(outer).unwrap(), "int[2][3]");
        assert_eq!(btf.resolve_size(outer).unwrap(), 24);
    }

    #[test]
    fn accepts_btf_in_the_other_byte_order() {
        let mut b = BtfBuilder::new(true);
        b.int("int", 4);
        let bytes = b.finish();
        let btf = Btf::parse(&bytes, false).unwrap();
        assert_eq!(btf.render(1).unwrap(), "int");
    }

    #[test]
    fn cyclic_typedef_chain_is_an_error_not_a_hang() {
        let mut b = BtfBuilder::new(false);
        // [1] typedef a -> [2], [2] typedef b -> [1]
        b.typedef("a", 2);
        b.typedef("b", 1);
        let bytes = b.finish();
        let btf = Btf::parse(&bytes, false).unwrap();
        for err in [
            btf.skip_mods_and_typedefs(1).unwrap_err(),
            btf.resolve_size(1).unwrap_err(),
        ] {
            let m = message(err);
            assert!(m.contains("longer than 32 links (cyclic?)"), "{m}");
        }
        // A typedef renders as its own name: no need to follow the chain.
        assert_eq!(btf.render(1).unwrap(), "a");
    }

    #[test]
    fn self_referencing_pointer_and_array_are_errors() {
        let mut b = BtfBuilder::new(false);
        b.ptr(1); // [1] pointer to itself: sized (pointers are 8 bytes) but unrenderable
        b.array(2, 2, 4); // [2] array of itself
        let bytes = b.finish();
        let btf = Btf::parse(&bytes, false).unwrap();
        assert_eq!(btf.resolve_size(1).unwrap(), 8);
        assert!(message(btf.render(1).unwrap_err()).contains("cyclic"));
        assert!(message(btf.resolve_size(2).unwrap_err()).contains("cyclic"));
        assert!(message(btf.render(2).unwrap_err()).contains("cyclic"));
    }

    #[test]
    fn huge_array_sizes_saturate_into_an_error() {
        let mut b = BtfBuilder::new(false);
        let int = b.int("int", 4);
        let a = b.array(int, int, u32::MAX);
        let aa = b.array(a, int, u32::MAX);
        let bytes = b.finish();
        let btf = Btf::parse(&bytes, false).unwrap();
        assert!(message(btf.resolve_size(aa).unwrap_err()).contains("larger than 4 GiB"));
    }

    #[test]
    fn out_of_range_section_offsets_are_reported() {
        let mut b = BtfBuilder::new(false);
        b.int("int", 4);
        let mut bytes = b.finish();
        // str_off = 4096: past the end.
        bytes[16..20].copy_from_slice(&4096u32.to_le_bytes());
        let m = message(Btf::parse(&bytes, false).unwrap_err());
        assert_eq!(
            m,
            "BTF: string section (offset 4096, length 5) extends past the end of .BTF (21 bytes \
             after the 24-byte header)"
        );
        // type_len = u32::MAX: must not overflow.
        let mut bytes = b.finish();
        bytes[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        let m = message(Btf::parse(&bytes, false).unwrap_err());
        assert!(
            m.contains("type section (offset 0, length 4294967295)"),
            "{m}"
        );
        // hdr_len beyond the section.
        let mut bytes = b.finish();
        bytes[4..8].copy_from_slice(&1000u32.to_le_bytes());
        let m = message(Btf::parse(&bytes, false).unwrap_err());
        assert!(m.contains("header length 1000"), "{m}");
    }

    #[test]
    fn huge_vlen_is_checked_against_the_section_not_allocated() {
        let mut b = BtfBuilder::new(false);
        // A STRUCT claiming 65535 members but carrying none.
        b.raw("big", kind::STRUCT, u16::MAX, 8, &[]);
        let bytes = b.finish();
        let m = message(Btf::parse(&bytes, false).unwrap_err());
        assert_eq!(
            m,
            "BTF: type [1] (STRUCT, 65535 entries) at offset 0 needs 786432 bytes but the type \
             section ends at 12"
        );
    }

    #[test]
    fn name_and_type_id_out_of_range_are_errors() {
        let mut b = BtfBuilder::new(false);
        b.raw("", kind::INT, 0, 4, &[32]);
        b.ptr(99);
        let mut bytes = b.finish();
        // Give type [1] a name offset far beyond the strings.
        bytes[24..28].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
        let btf = Btf::parse(&bytes, false).unwrap();
        let m = message(btf.render(1).unwrap_err());
        assert!(
            m.contains("name offset 16777215 is past the end of the string section"),
            "{m}"
        );
        let m = message(btf.render(2).unwrap_err());
        assert!(
            m.contains("type id 99 is out of range (the object has 2 types)"),
            "{m}"
        );
    }

    #[test]
    fn bad_magic_version_and_short_sections_are_errors() {
        assert!(message(Btf::parse(&[0; 10], false).unwrap_err())
            .contains("shorter than the 24-byte BTF header"));
        let mut bytes = BtfBuilder::new(false).finish();
        bytes[0] = 0;
        assert!(message(Btf::parse(&bytes, false).unwrap_err())
            .contains("bad magic 0xeb00, expected 0xeb9f"));
        let mut bytes = BtfBuilder::new(false).finish();
        bytes[2] = 2;
        assert!(
            message(Btf::parse(&bytes, false).unwrap_err()).contains("unsupported BTF version 2")
        );
    }

    #[test]
    fn unknown_kind_and_truncated_record_are_errors() {
        let mut b = BtfBuilder::new(false);
        b.raw("x", 25, 0, 0, &[]);
        let m = message(Btf::parse(&b.finish(), false).unwrap_err());
        assert!(
            m.contains("type [1] at offset 0 has unknown kind 25"),
            "{m}"
        );

        let mut b = BtfBuilder::new(false);
        b.int("int", 4);
        b.types.truncate(10);
        let m = message(Btf::parse(&b.finish(), false).unwrap_err());
        assert!(
            m.contains("its 12-byte record runs past the end of the type section (10 bytes)"),
            "{m}"
        );
    }
}
