//! Inspection of BPF ELF objects without the kernel or libbpf.
//!
//! This is the offline half of the aya-obj / aya split: it reads what `clang -target bpf
//! -c` wrote (programs, maps, license, BTF presence, byte order) so that `pack`,
//! `inspect` and `verify` can describe an object on a machine that cannot load it.
//!
//! * [`classify`] looks at the first bytes of a file and says whether it is a BPF
//!   object, and if not, what it is (used to skip other files when walking directories).
//! * [`inspect`] and [`inspect_file`] report an [`ObjectInfo`]; `inspect_file` reads
//!   only the headers, the symbol table and the small sections it needs, so objects of
//!   hundreds of MiB are inspected in little memory.
//!
//! All input is treated as hostile: every offset and count is checked against the
//! bytes that are actually there, nothing is allocated from a count read from the file,
//! every walk along BTF type references is bounded, and every failure is an
//! [`ElfError`] rather than a panic.
//!
//! The rules follow libbpf 1.x, which is what loads these objects: which sections hold
//! programs, which program type a section name means, how `SEC(".maps")` definitions
//! are encoded in BTF, and which data sections become maps.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use object::elf as raw;
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::{Endianness, ReadCache, ReadRef};
use serde::{Deserialize, Serialize};

mod btf;
mod globals;
mod program_types;
#[cfg(test)]
mod tests;

use btf::{kind, Btf};
pub use globals::{GlobalVariable, ValueKind};

/// Checks that `bytes` are raw BTF (a `vmlinux` BTF blob, `/sys/kernel/btf/vmlinux` or
/// `bpftool gen min_core_btf` output) — the header, both sections and every type record
/// in bounds, in either byte order — and returns how many types it holds. Used on kernel
/// BTF that comes from outside (`pack --kernel-btf`) and on bundled BTF before it is
/// handed to libbpf.
pub fn btf_type_count(bytes: &[u8]) -> Result<usize, ElfError> {
    Btf::parse(bytes, false).map(|btf| btf.len())
}

/// `e_machine` of a BPF object (`EM_BPF`).
pub const EM_BPF: u16 = raw::EM_BPF;

/// How many leading bytes [`classify`] wants: the size of a 64-bit ELF header.
pub const CLASSIFY_LEN: usize = 64;

/// The most we read of a `license` section. libbpf keeps only 64 bytes of it; a few
/// KiB shows everything a real license string says without trusting the section size.
const LICENSE_MAX: u64 = 4096;

/// Global-data sections larger than this have their variables listed without defaults
/// (reading them would mean reading megabytes of an object to show a few settings).
const MAX_GLOBAL_DATA: u64 = 1 << 20;

/// Size of the legacy `struct bpf_map_def` prefix we read: five `u32`s.
const LEGACY_MAP_DEF_LEN: u64 = 20;

/// Offsets in `e_ident`.
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;
const EI_VERSION: usize = 6;

/// `BPF_MAP_TYPE_STRUCT_OPS`.
const MAP_TYPE_STRUCT_OPS: u32 = 26;
/// `BPF_F_LINK`: set by libbpf on struct_ops maps from `.struct_ops.link`.
const BPF_F_LINK: u32 = 1 << 13;

/// Byte order of an object (`EI_DATA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ByteOrder {
    /// Little-endian (`ELFDATA2LSB`, `clang -target bpfel`, what x86-64 and arm64 load).
    Little,
    /// Big-endian (`ELFDATA2MSB`, `clang -target bpfeb`, what s390x loads).
    Big,
}

impl fmt::Display for ByteOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ByteOrder::Little => "little",
            ByteOrder::Big => "big",
        })
    }
}

/// What an ELF file is, when it is not a usable BPF object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ElfError {
    /// The file does not start with the ELF magic `7f 45 4c 46`.
    #[error("not an ELF file: {}", NotElfDetail { found, looks_like: *looks_like })]
    NotElf {
        /// The first (up to four) bytes of the file.
        found: Vec<u8>,
        /// What the bytes look like instead (`"gzip-compressed data"`, `"text"`, ...),
        /// when recognisable.
        looks_like: Option<&'static str>,
    },
    /// The file is too short for its ELF header, section table or section data.
    #[error(
        "truncated ELF file: it is {found} bytes long, but its headers and sections need \
         {needed} bytes (was it cut short while copying?)"
    )]
    Truncated {
        /// Bytes the headers say the file has at least.
        needed: u64,
        /// Bytes the file has.
        found: u64,
    },
    /// An ELF file for another machine.
    #[error("ELF for {name} (e_machine {machine}), not BPF (e_machine 247)")]
    NotBpf {
        /// `e_machine`.
        machine: u16,
        /// A readable name for `machine` (`"x86-64"`, `"AArch64"`, ...).
        name: &'static str,
    },
    /// A 32-bit ELF file; BPF objects are always `ELFCLASS64`.
    #[error("32-bit ELF (ELFCLASS32), but BPF objects are 64-bit (ELFCLASS64)")]
    Not64Bit,
    /// An ELF file that is not a relocatable object (`ET_REL`): an executable, a shared
    /// object or a core dump.
    #[error(
        "ELF {}, not a relocatable object (ET_REL) as BPF objects are",
        EType(*e_type)
    )]
    NotRelocatable {
        /// `e_type`.
        e_type: u16,
    },
    /// A BPF object whose headers, symbols or BTF are inconsistent.
    #[error("malformed BPF object: {0}")]
    Malformed(String),
    /// The file could not be read (only from [`inspect_file`]).
    #[error("could not read the object: {0}")]
    Io(String),
}

/// Renders the detail of [`ElfError::NotElf`].
struct NotElfDetail<'a> {
    found: &'a [u8],
    looks_like: Option<&'static str>,
}

impl fmt::Display for NotElfDetail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.found.is_empty() {
            return f.write_str("the file is empty");
        }
        f.write_str("it starts with")?;
        for byte in self.found {
            write!(f, " {byte:02x}")?;
        }
        f.write_str(" where an ELF file starts with 7f 45 4c 46")?;
        if let Some(what) = self.looks_like {
            write!(f, " (it looks like {what})")?;
        }
        Ok(())
    }
}

/// Renders an `e_type` value for [`ElfError::NotRelocatable`].
struct EType(u16);

impl fmt::Display for EType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, constant) = match self.0 {
            raw::ET_NONE => ("with no file type", "ET_NONE, "),
            raw::ET_EXEC => ("executable", "ET_EXEC, "),
            raw::ET_DYN => ("shared object or PIE executable", "ET_DYN, "),
            raw::ET_CORE => ("core dump", "ET_CORE, "),
            _ => ("file of unknown type", ""),
        };
        write!(f, "{what} ({constant}e_type {})", self.0)
    }
}

/// A readable name for an `e_machine` value.
pub fn machine_name(machine: u16) -> &'static str {
    match machine {
        raw::EM_NONE => "no machine",
        raw::EM_SPARC => "SPARC",
        raw::EM_386 => "i386",
        raw::EM_MIPS => "MIPS",
        raw::EM_PPC => "PowerPC",
        raw::EM_PPC64 => "PowerPC64",
        raw::EM_S390 => "s390",
        raw::EM_ARM => "ARM",
        raw::EM_SH => "SuperH",
        raw::EM_SPARCV9 => "SPARC64",
        raw::EM_IA_64 => "IA-64",
        raw::EM_X86_64 => "x86-64",
        raw::EM_AARCH64 => "AArch64",
        raw::EM_RISCV => "RISC-V",
        raw::EM_BPF => "BPF",
        raw::EM_LOONGARCH => "LoongArch",
        _ => "an unknown machine",
    }
}

/// Everything we report about a BPF object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectInfo {
    /// Byte order of the object (and of the machines that can load it).
    pub byte_order: ByteOrder,
    /// The NUL-terminated string in section `license`, `None` without that section.
    pub license: Option<String>,
    /// Whether the object carries type information (`.BTF`).
    pub btf: bool,
    /// Whether the object carries BTF line and CO-RE relocation info (`.BTF.ext`).
    pub btf_ext: bool,
    /// The programs, sorted by section and then name.
    pub programs: Vec<Program>,
    /// The maps it defines (BTF-defined in `.maps`, legacy in `maps`, struct_ops), sorted
    /// by name.
    pub maps: Vec<Map>,
    /// The global-data sections libbpf turns into maps (`.rodata`, `.data`, `.bss`,
    /// their `.rodata.*`/`.data.*`/`.bss.*` variants, and `.kconfig` when the object
    /// reads kernel config), sorted.
    pub globals: Vec<String>,
    /// The variables in those sections (not `.kconfig`), with their type and default
    /// value: what `load --global NAME=VALUE` sets. Empty without BTF.
    #[serde(default)]
    pub variables: Vec<GlobalVariable>,
}

/// One BPF program: a global function in a program section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Program {
    /// The function symbol, the name libbpf and bpftool show.
    pub name: String,
    /// The ELF section, as written in `SEC(...)`, e.g. `tracepoint/syscalls/sys_enter_getpid`.
    pub section: String,
    /// libbpf's program type for the section (`tracepoint`, `raw_tracepoint`,
    /// `tracing` for fentry/fexit/tp_btf/iter, `lsm`, `xdp`, `sched_cls` for tc,
    /// `kprobe` for k/uprobes, usdt and ksyscall, ...); `unknown` when libbpf 1.x would
    /// not recognise the section name.
    pub program_type: String,
    /// What the section name says to attach to: the part after the first `/`
    /// (`syscalls/sys_enter_getpid`); `None` when the name is just the type (`xdp`) or
    /// the type is unknown.
    pub attach: Option<String>,
}

/// One map the object defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Map {
    /// The map's name (its variable or symbol name).
    pub name: String,
    /// The kernel's lower-case name for the type (`hash`, `array`, `ringbuf`, ...),
    /// `unknown(N)` for a type this crate does not know; see [`map_type_name`].
    pub map_type: String,
    /// The numeric `BPF_MAP_TYPE_*`.
    pub map_type_id: u32,
    /// Key size in bytes (0 when the map has no key, e.g. ring buffers).
    pub key_size: u32,
    /// Value size in bytes. For struct_ops maps this is the size of the local struct;
    /// libbpf replaces it with the kernel's size at load time.
    pub value_size: u32,
    /// Maximum number of entries (bytes, for ring buffers).
    pub max_entries: u32,
    /// `map_flags` (`BPF_F_*`).
    pub flags: u32,
    /// The key's C type when declared with `__type(key, ...)`, e.g. `__u32`.
    pub key_type: Option<String>,
    /// The value's C type when declared with `__type(value, ...)`, e.g. `struct event`.
    pub value_type: Option<String>,
    /// Declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)`: libbpf on its own would pin
    /// it at `/sys/fs/bpf/NAME` and reuse whatever is pinned there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned_by_name: bool,
}

/// The kernel's lower-case name for a `BPF_MAP_TYPE_*` value, `unknown(N)` otherwise.
pub fn map_type_name(map_type: u32) -> String {
    const NAMES: &[&str] = &[
        "unspec",
        "hash",
        "array",
        "prog_array",
        "perf_event_array",
        "percpu_hash",
        "percpu_array",
        "stack_trace",
        "cgroup_array",
        "lru_hash",
        "lru_percpu_hash",
        "lpm_trie",
        "array_of_maps",
        "hash_of_maps",
        "devmap",
        "sockmap",
        "cpumap",
        "xskmap",
        "sockhash",
        "cgroup_storage",
        "reuseport_sockarray",
        "percpu_cgroup_storage",
        "queue",
        "stack",
        "sk_storage",
        "devmap_hash",
        "struct_ops",
        "ringbuf",
        "inode_storage",
        "task_storage",
        "bloom_filter",
        "user_ringbuf",
        "cgrp_storage",
        "arena",
    ];
    match NAMES.get(map_type as usize) {
        Some(name) => (*name).to_owned(),
        None => format!("unknown({map_type})"),
    }
}

/// libbpf's program type for an ELF section name (`"tracepoint/syscalls/x"` →
/// `"tracepoint"`), or `None` when libbpf 1.x does not recognise the name.
pub fn program_type(section: &str) -> Option<&'static str> {
    program_types::for_section(section)
}

/// Classifies a file from its first bytes (pass at least [`CLASSIFY_LEN`] bytes when
/// the file has them): used when walking directories to skip non-BPF files cheaply.
/// Only the hint for tar archives needs more: their signature is at offset 257, so
/// pass 512 bytes to have it.
///
/// Returns the byte order of a BPF object, or the [`ElfError`] saying what the file is:
/// [`ElfError::NotElf`] (with a hint when it looks like text, JSON, gzip, tar, ...),
/// [`ElfError::NotBpf`] for another machine's ELF, [`ElfError::Not64Bit`],
/// [`ElfError::NotRelocatable`] for executables and shared objects,
/// [`ElfError::Truncated`] when fewer than 64 bytes are given, or
/// [`ElfError::Malformed`] for an invalid ELF identification.
pub fn classify(header: &[u8]) -> Result<ByteOrder, ElfError> {
    let magic = &raw::ELFMAG[..];
    let start = &header[..header.len().min(magic.len())];
    if start != &magic[..start.len()] || header.is_empty() {
        return Err(ElfError::NotElf {
            found: start.to_vec(),
            looks_like: looks_like(header),
        });
    }
    let found = header.len() as u64;
    let truncated = ElfError::Truncated {
        needed: CLASSIFY_LEN as u64,
        found,
    };
    // e_ident (16 bytes), e_type and e_machine: enough to say what kind of ELF it is.
    if header.len() < 20 {
        return Err(truncated);
    }
    let class = header[EI_CLASS];
    if class != raw::ELFCLASS32 && class != raw::ELFCLASS64 {
        return Err(ElfError::Malformed(format!(
            "invalid ELF class {class} in byte 4 (expected 1 or 2)"
        )));
    }
    let byte_order = match header[EI_DATA] {
        raw::ELFDATA2LSB => ByteOrder::Little,
        raw::ELFDATA2MSB => ByteOrder::Big,
        other => {
            return Err(ElfError::Malformed(format!(
                "invalid ELF byte order {other} in byte 5 (expected 1 or 2)"
            )))
        }
    };
    let version = header[EI_VERSION];
    if version != raw::EV_CURRENT {
        return Err(ElfError::Malformed(format!(
            "unsupported ELF version {version} in byte 6 (expected 1)"
        )));
    }
    let u16_at = |off: usize| {
        let bytes = [header[off], header[off + 1]];
        match byte_order {
            ByteOrder::Little => u16::from_le_bytes(bytes),
            ByteOrder::Big => u16::from_be_bytes(bytes),
        }
    };
    let e_type = u16_at(16);
    let machine = u16_at(18);
    if machine != EM_BPF {
        return Err(ElfError::NotBpf {
            machine,
            name: machine_name(machine),
        });
    }
    if class != raw::ELFCLASS64 {
        return Err(ElfError::Not64Bit);
    }
    if e_type != raw::ET_REL {
        return Err(ElfError::NotRelocatable { e_type });
    }
    if header.len() < CLASSIFY_LEN {
        return Err(truncated);
    }
    Ok(byte_order)
}

/// A guess at what a non-ELF file is, from its first bytes.
fn looks_like(header: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x1f\x8b", "gzip-compressed data"),
        (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
        (b"\xfd7zXZ\x00", "xz-compressed data"),
        (b"BZh", "bzip2-compressed data"),
        (b"PK\x03\x04", "a zip archive"),
        (b"!<arch>\n", "an ar archive (a static library)"),
        (
            b"BC\xc0\xde",
            "LLVM bitcode (from clang -emit-llvm), not a compiled object",
        ),
        (
            b"\xde\xc0\x17\x0b",
            "LLVM bitcode (from clang -emit-llvm), not a compiled object",
        ),
        (b"\0asm", "a WebAssembly module"),
        (b"\xcf\xfa\xed\xfe", "a Mach-O binary"),
        (b"\xce\xfa\xed\xfe", "a Mach-O binary"),
    ];
    if let Some((_, what)) = SIGNATURES.iter().find(|(sig, _)| header.starts_with(sig)) {
        return Some(what);
    }
    // POSIX tar puts "ustar" at offset 257 of its first header.
    if header.get(257..262) == Some(b"ustar") {
        return Some("a tar archive");
    }
    if is_text(header) {
        let trimmed = header.trim_ascii_start();
        return Some(if trimmed.starts_with(b"{") || trimmed.starts_with(b"[") {
            "JSON"
        } else if header.starts_with(b"#!") {
            "a script"
        } else {
            "text"
        });
    }
    if header.starts_with(b"MZ") {
        return Some("a Windows executable");
    }
    None
}

/// Whether the bytes are UTF-8 text without control characters other than whitespace
/// (a multi-byte character cut at the end of the window still counts as text).
fn is_text(bytes: &[u8]) -> bool {
    let valid = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() => {
            // Cut in the middle of a character: the prefix is valid.
            std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !valid.is_empty()
        && valid
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

/// Inspects a whole object held in memory.
///
/// Returns the [`ElfError`] of [`classify`] for files that are not BPF objects,
/// [`ElfError::Truncated`] when a header or section lies past the end of `bytes`, and
/// [`ElfError::Malformed`] for inconsistent headers, symbols or BTF.
pub fn inspect(bytes: &[u8]) -> Result<ObjectInfo, ElfError> {
    inspect_data(bytes)
}

/// Inspects an object file without reading all of it into memory: only the headers,
/// the symbol table, `.BTF`, `license` and legacy map definitions are read, so memory
/// stays small however large the program sections are.
///
/// Reads through the file's cursor (it moves). Errors are those of [`inspect`], plus
/// [`ElfError::Io`] when reading the file fails.
pub fn inspect_file(file: &File) -> Result<ObjectInfo, ElfError> {
    let cache = ReadCache::new(RecordingReader { file, error: None });
    let result = inspect_data(&cache);
    let reader = cache.into_inner();
    match (result, reader.error) {
        // The object crate only sees "could not read"; say why.
        (Err(_), Some(io_error)) => Err(ElfError::Io(io_error)),
        (result, _) => result,
    }
}

/// A `Read + Seek` over a borrowed file that remembers the first I/O error, which
/// [`ReadCache`] would otherwise reduce to "could not read".
struct RecordingReader<'f> {
    file: &'f File,
    error: Option<String>,
}

impl RecordingReader<'_> {
    fn record<T>(&mut self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result {
            self.error.get_or_insert_with(|| e.to_string());
        }
        result
    }
}

impl Read for RecordingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let result = self.file.read(buf);
        self.record(result)
    }
}

impl Seek for RecordingReader<'_> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        let result = self.file.seek(pos);
        self.record(result)
    }
}

/// What we keep of each section header.
#[derive(Debug)]
struct SectionInfo {
    name: String,
    sh_type: u32,
    flags: u64,
    offset: u64,
    size: u64,
}

impl SectionInfo {
    /// libbpf's rule: non-empty executable PROGBITS other than `.text` (which holds
    /// subprograms) hold programs.
    fn holds_programs(&self) -> bool {
        self.sh_type == raw::SHT_PROGBITS
            && self.flags & u64::from(raw::SHF_EXECINSTR) != 0
            && self.size > 0
            && self.name != ".text"
    }

    /// libbpf's rule for global data sections that become maps.
    fn is_global_data(&self) -> bool {
        let has = |base: &str| {
            self.name
                .strip_prefix(base)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        };
        if self.size == 0 {
            return false;
        }
        match self.sh_type {
            raw::SHT_PROGBITS => {
                self.flags & u64::from(raw::SHF_EXECINSTR) == 0 && (has(".data") || has(".rodata"))
            }
            raw::SHT_NOBITS => has(".bss"),
            _ => false,
        }
    }
}

fn object_error(context: &str) -> impl Fn(object::read::Error) -> ElfError + '_ {
    move |e| ElfError::Malformed(format!("{context}: {e}"))
}

/// The bytes of a section, at most `max` of them; empty for `SHT_NOBITS`.
fn section_bytes<'d, R: ReadRef<'d>>(
    data: R,
    section: &SectionInfo,
    max: u64,
) -> Result<&'d [u8], ElfError> {
    if section.sh_type == raw::SHT_NOBITS {
        return Ok(&[]);
    }
    data.read_bytes_at(section.offset, section.size.min(max))
        .map_err(|()| {
            ElfError::Malformed(format!(
                "section {}: cannot read {} bytes at offset {}",
                section.name, section.size, section.offset
            ))
        })
}

fn inspect_data<'d, R: ReadRef<'d>>(data: R) -> Result<ObjectInfo, ElfError> {
    let file_len = data
        .len()
        .map_err(|()| ElfError::Io("cannot determine the file size".to_owned()))?;
    let head = data
        .read_bytes_at(0, file_len.min(CLASSIFY_LEN as u64))
        .map_err(|()| ElfError::Io("cannot read the ELF header".to_owned()))?;
    let byte_order = classify(head)?;

    let header =
        raw::FileHeader64::<Endianness>::parse(data).map_err(object_error("ELF header"))?;
    let endian = header.endian().map_err(object_error("ELF header"))?;
    check_section_table(header, endian, data, file_len)?;
    let table = header
        .sections(endian, data)
        .map_err(object_error("section table"))?;
    if table.is_empty() {
        return Err(ElfError::Malformed(
            "the object has no section table, so no programs or maps".to_owned(),
        ));
    }

    let mut sections = Vec::with_capacity(table.len());
    for (index, sh) in table.enumerate() {
        let name = table
            .section_name(endian, sh)
            .map_err(|e| ElfError::Malformed(format!("section {}: name: {e}", index.0)))?;
        let info = SectionInfo {
            name: String::from_utf8_lossy(name).into_owned(),
            sh_type: sh.sh_type(endian),
            flags: sh.sh_flags(endian),
            offset: sh.sh_offset(endian),
            size: sh.sh_size(endian),
        };
        if info.sh_type != raw::SHT_NOBITS && info.sh_type != raw::SHT_NULL {
            let end = info.offset.checked_add(info.size).ok_or_else(|| {
                ElfError::Malformed(format!(
                    "section {}: offset {} + size {} overflows",
                    info.name, info.offset, info.size
                ))
            })?;
            if end > file_len {
                return Err(ElfError::Truncated {
                    needed: end,
                    found: file_len,
                });
            }
        }
        sections.push(info);
    }

    let symbols = table
        .symbols(endian, data, raw::SHT_SYMTAB)
        .map_err(object_error("symbol table"))?;
    let legacy_maps_index = sections
        .iter()
        .position(|s| s.name == "maps" && s.sh_type == raw::SHT_PROGBITS);
    let mut programs = Vec::new();
    let mut maps = Vec::new();
    // (section, name) -> offset of every data object in a global-data section.
    let mut data_symbols: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (index, sym) in symbols.enumerate() {
        let Ok(Some(section_index)) = symbols.symbol_section(endian, sym, index) else {
            continue;
        };
        let Some(section) = sections.get(section_index.0) else {
            continue;
        };
        let st_type = sym.st_type();
        if st_type == raw::STT_OBJECT && section.is_global_data() && sym.st_name(endian) != 0 {
            if let Ok(name) = symbols.symbol_name(endian, sym) {
                data_symbols.insert(
                    (
                        section.name.clone(),
                        String::from_utf8_lossy(name).into_owned(),
                    ),
                    sym.st_value(endian),
                );
            }
            continue;
        }
        let is_program = st_type == raw::STT_FUNC
            && matches!(sym.st_bind(), raw::STB_GLOBAL | raw::STB_WEAK)
            && section.holds_programs();
        let is_legacy_map = Some(section_index.0) == legacy_maps_index
            && st_type != raw::STT_SECTION
            && sym.st_name(endian) != 0;
        if !is_program && !is_legacy_map {
            continue;
        }
        let name = symbols
            .symbol_name(endian, sym)
            .map_err(|e| ElfError::Malformed(format!("symbol {}: name: {e}", index.0)))?;
        let name = String::from_utf8_lossy(name).into_owned();
        if is_program {
            let program_type = program_types::for_section(&section.name);
            programs.push(Program {
                name,
                section: section.name.clone(),
                program_type: program_type.unwrap_or("unknown").to_owned(),
                attach: program_type
                    .and_then(|_| program_types::attach_target(&section.name))
                    .map(str::to_owned),
            });
        } else {
            maps.push(legacy_map(
                data,
                section,
                name,
                sym.st_value(endian),
                byte_order,
            )?);
        }
    }

    let has_section = |name: &str| sections.iter().any(|s| s.name == name);
    let mut globals: Vec<String> = sections
        .iter()
        .filter(|s| s.is_global_data())
        .map(|s| s.name.clone())
        .collect();

    let mut variables = Vec::new();
    let btf_section = sections.iter().find(|s| s.name == ".BTF");
    if let Some(section) = btf_section {
        let bytes = section_bytes(data, section, u64::MAX)?;
        let btf = Btf::parse(bytes, byte_order == ByteOrder::Big)?;
        let mut data_sections = Vec::new();
        for s in sections.iter().filter(|s| s.is_global_data()) {
            data_sections.push(globals::DataSection {
                name: &s.name,
                // Defaults are shown from sections of reasonable size only.
                bytes: (s.size <= MAX_GLOBAL_DATA)
                    .then(|| section_bytes(data, s, MAX_GLOBAL_DATA))
                    .transpose()?,
                zeroed: s.sh_type == raw::SHT_NOBITS,
                size: s.size,
            });
        }
        variables = globals::variables(
            &btf,
            &data_sections,
            byte_order == ByteOrder::Big,
            &|section, name| {
                data_symbols
                    .get(&(section.to_owned(), name.to_owned()))
                    .copied()
            },
        )?;
        if has_section(".maps") {
            maps.extend(btf_maps(&btf)?);
        }
        for sec_name in [".struct_ops", ".struct_ops.link"] {
            if has_section(sec_name) {
                maps.extend(struct_ops_maps(&btf, sec_name)?);
            }
        }
        if find_datasec(&btf, ".kconfig").is_some() {
            globals.push(".kconfig".to_owned());
        }
    } else if has_section(".maps") {
        return Err(ElfError::Malformed(
            "section .maps defines maps, but the object has no .BTF to describe them \
             (was it stripped, or built without -g?)"
                .to_owned(),
        ));
    }

    let license = match sections.iter().find(|s| s.name == "license") {
        Some(section) => {
            let bytes = section_bytes(data, section, LICENSE_MAX)?;
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            Some(String::from_utf8_lossy(&bytes[..end]).into_owned())
        }
        None => None,
    };

    programs.sort_by(|a, b| (&a.section, &a.name).cmp(&(&b.section, &b.name)));
    maps.sort_by(|a, b| a.name.cmp(&b.name));
    globals.sort();
    globals.dedup();
    Ok(ObjectInfo {
        byte_order,
        license,
        btf: btf_section.is_some(),
        btf_ext: has_section(".BTF.ext"),
        programs,
        maps,
        globals,
        variables,
    })
}

/// Checks that the section header table lies within the file, so that a file cut
/// short in transit is reported as [`ElfError::Truncated`] rather than as malformed.
fn check_section_table<'d, R: ReadRef<'d>>(
    header: &raw::FileHeader64<Endianness>,
    endian: Endianness,
    data: R,
    file_len: u64,
) -> Result<(), ElfError> {
    let shoff = header.e_shoff(endian);
    if shoff == 0 {
        return Ok(());
    }
    let entry = u64::from(header.e_shentsize(endian));
    if entry != std::mem::size_of::<raw::SectionHeader64<Endianness>>() as u64 {
        return Err(ElfError::Malformed(format!(
            "section header entries are {entry} bytes, expected 64"
        )));
    }
    // Section 0 must be readable first: with more than 0xff00 sections it holds the count.
    let first_end = shoff.checked_add(entry);
    if first_end.is_none_or(|end| end > file_len) {
        let count = u64::from(header.e_shnum(endian).max(1));
        return Err(ElfError::Truncated {
            needed: shoff.saturating_add(count.saturating_mul(entry)),
            found: file_len,
        });
    }
    let count = header
        .shnum(endian, data)
        .map_err(object_error("section count"))? as u64;
    let needed = count
        .checked_mul(entry)
        .and_then(|size| shoff.checked_add(size))
        .unwrap_or(u64::MAX);
    if needed > file_len {
        return Err(ElfError::Truncated {
            needed,
            found: file_len,
        });
    }
    Ok(())
}

/// A legacy `struct bpf_map_def` (`SEC("maps")`) at `offset` in its section. libbpf
/// 1.x no longer loads these, but older objects (and iproute2's) carry them; larger
/// variants such as iproute2's `bpf_elf_map` share the same first five fields.
fn legacy_map<'d, R: ReadRef<'d>>(
    data: R,
    section: &SectionInfo,
    name: String,
    offset: u64,
    byte_order: ByteOrder,
) -> Result<Map, ElfError> {
    let fits = offset
        .checked_add(LEGACY_MAP_DEF_LEN)
        .is_some_and(|end| end <= section.size);
    if !fits {
        return Err(ElfError::Malformed(format!(
            "legacy map '{name}' at offset {offset} does not fit in section {} ({} bytes)",
            section.name, section.size
        )));
    }
    let bytes = data
        .read_bytes_at(section.offset + offset, LEGACY_MAP_DEF_LEN)
        .map_err(|()| {
            ElfError::Malformed(format!("legacy map '{name}': cannot read its definition"))
        })?;
    let field = |i: usize| {
        let raw: [u8; 4] = bytes
            .get(i * 4..i * 4 + 4)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_default();
        match byte_order {
            ByteOrder::Little => u32::from_le_bytes(raw),
            ByteOrder::Big => u32::from_be_bytes(raw),
        }
    };
    Ok(Map {
        name,
        map_type: map_type_name(field(0)),
        map_type_id: field(0),
        key_size: field(1),
        value_size: field(2),
        max_entries: field(3),
        flags: field(4),
        key_type: None,
        value_type: None,
        pinned_by_name: false,
    })
}

fn find_datasec<'a>(btf: &Btf<'a>, name: &str) -> Option<btf::Type<'a>> {
    btf.types()
        .find(|t| t.kind == kind::DATASEC && btf.type_name_is(t, name))
}

/// The variables of a DATASEC, each as (name, VAR record).
fn datasec_vars<'a>(
    btf: &Btf<'a>,
    datasec: &btf::Type<'a>,
    sec_name: &str,
) -> Result<Vec<(String, btf::Type<'a>)>, ElfError> {
    let mut vars = Vec::new();
    for i in 0..datasec.vlen {
        let info = datasec.var(i).ok_or_else(|| {
            ElfError::Malformed(format!("BTF: {sec_name} entry {i} cannot be read"))
        })?;
        let var = match btf.get(info.type_id)? {
            Some(t) if t.kind == kind::VAR => t,
            _ => {
                return Err(ElfError::Malformed(format!(
                    "BTF: {sec_name} entry {i} is type [{}], which is not a variable",
                    info.type_id
                )))
            }
        };
        vars.push((btf.type_name(&var)?, var));
    }
    Ok(vars)
}

/// The BTF-defined maps of section `.maps`, decoded as libbpf does: each variable is a
/// struct whose members encode the definition (`__uint(name, n)` as `int (*name)[n]`,
/// `__type(name, T)` as `T *name`).
fn btf_maps(btf: &Btf<'_>) -> Result<Vec<Map>, ElfError> {
    let datasec = find_datasec(btf, ".maps").ok_or_else(|| {
        ElfError::Malformed(
            "section .maps exists, but its BTF description (DATASEC .maps) is missing".to_owned(),
        )
    })?;
    let mut maps = Vec::new();
    // Definitions already decoded, by struct id: variables may share one definition,
    // and decoding each struct once keeps the work proportional to the input.
    let mut decoded: BTreeMap<u32, Map> = BTreeMap::new();
    for (name, var) in datasec_vars(btf, &datasec, ".maps")? {
        let def = match btf.skip_mods_and_typedefs(var.target())? {
            Some(t) if t.kind == kind::STRUCT => t,
            other => {
                return Err(ElfError::Malformed(format!(
                    "map '{name}': its definition is {}, expected a struct",
                    other.map_or("void".to_owned(), |t| format!("type [{}]", t.id))
                )))
            }
        };
        let map = match decoded.get(&def.id) {
            Some(map) => Map {
                name,
                ..map.clone()
            },
            None => {
                let map = decode_map_def(btf, name, &def)?;
                decoded.insert(def.id, map.clone());
                map
            }
        };
        maps.push(map);
    }
    Ok(maps)
}

/// Decodes one `.maps` definition struct.
fn decode_map_def(btf: &Btf<'_>, name: String, def: &btf::Type<'_>) -> Result<Map, ElfError> {
    let mut map_type_id = 0;
    let mut max_entries = 0;
    let mut flags = 0;
    let mut key_size = None;
    let mut value_size = None;
    let mut key = None;
    let mut value = None;
    let mut has_values = false;
    let mut pinning = 0;
    for i in 0..def.vlen {
        let Some(member) = def.member(i) else {
            continue;
        };
        let is = |field: &str| btf.name_is(member.name_off, field);
        if is("type") {
            map_type_id = uint_field(btf, &name, "type", member.type_id)?;
        } else if is("max_entries") {
            max_entries = uint_field(btf, &name, "max_entries", member.type_id)?;
        } else if is("map_flags") {
            flags = uint_field(btf, &name, "map_flags", member.type_id)?;
        } else if is("key_size") {
            key_size = Some(uint_field(btf, &name, "key_size", member.type_id)?);
        } else if is("value_size") {
            value_size = Some(uint_field(btf, &name, "value_size", member.type_id)?);
        } else if is("key") {
            key = Some(type_field(btf, &name, "key", member.type_id)?);
        } else if is("value") {
            value = Some(type_field(btf, &name, "value", member.type_id)?);
        } else if is("values") {
            has_values = true;
        } else if is("pinning") {
            pinning = uint_field(btf, &name, "pinning", member.type_id)?;
        }
        // Other fields (numa_node, map_extra, ...) do not change what we report.
    }
    let key_size = reconcile(&name, "key", key_size, key.as_ref())?;
    let mut value_size = reconcile(&name, "value", value_size, value.as_ref())?;
    if has_values && value_size == 0 {
        // Map-in-map and prog-array initialisers (`__array(values, ...)`): libbpf sets the
        // value to a 4-byte map or program fd.
        value_size = 4;
    }
    Ok(Map {
        name,
        map_type: map_type_name(map_type_id),
        map_type_id,
        key_size,
        value_size,
        max_entries,
        flags,
        key_type: key.map(|(_, ty)| ty),
        value_type: value.map(|(_, ty)| ty),
        // LIBBPF_PIN_BY_NAME is 1.
        pinned_by_name: pinning == 1,
    })
}

/// The size of a key or value from `__uint(key_size, n)` and/or `__type(key, T)`; like
/// libbpf, the two must agree when both are given.
fn reconcile(
    map: &str,
    what: &str,
    explicit: Option<u32>,
    typed: Option<&(u32, String)>,
) -> Result<u32, ElfError> {
    match (explicit, typed) {
        (Some(size), Some((type_size, ty))) if size != *type_size => {
            Err(ElfError::Malformed(format!(
                "map '{map}': {what}_size {size} conflicts with {what} type {ty} ({type_size} bytes)"
            )))
        }
        (_, Some((size, _))) => Ok(*size),
        (Some(size), None) => Ok(size),
        (None, None) => Ok(0),
    }
}

/// Decodes `__uint(field, n)`: a pointer to an array of `n` elements.
fn uint_field(btf: &Btf<'_>, map: &str, field: &str, type_id: u32) -> Result<u32, ElfError> {
    let bad = |found: String| {
        ElfError::Malformed(format!(
            "map '{map}': field '{field}' is {found}, expected __uint's pointer to an array"
        ))
    };
    let ptr = match btf.skip_mods_and_typedefs(type_id)? {
        Some(t) if t.kind == kind::PTR => t,
        Some(t) => return Err(bad(format!("type [{}] ({})", t.id, btf::kind_name(t.kind)))),
        None => return Err(bad("void".to_owned())),
    };
    match btf.get(ptr.target())? {
        Some(t) => t.array().map(|array| array.nelems).ok_or_else(|| {
            bad(format!(
                "a pointer to type [{}] ({})",
                t.id,
                btf::kind_name(t.kind)
            ))
        }),
        None => Err(bad("a pointer to void".to_owned())),
    }
}

/// Decodes `__type(field, T)`: a pointer to `T`. Returns `T`'s size and C name.
fn type_field(
    btf: &Btf<'_>,
    map: &str,
    field: &str,
    type_id: u32,
) -> Result<(u32, String), ElfError> {
    let ptr = match btf.skip_mods_and_typedefs(type_id)? {
        Some(t) if t.kind == kind::PTR => t,
        _ => {
            return Err(ElfError::Malformed(format!(
                "map '{map}': field '{field}' is type [{type_id}], expected __type's pointer"
            )))
        }
    };
    let size = btf
        .resolve_size(ptr.target())
        .map_err(|e| in_map(map, field, e))?;
    let name = btf
        .render(ptr.target())
        .map_err(|e| in_map(map, field, e))?;
    Ok((size, name))
}

/// Adds the map and field to a BTF error.
fn in_map(map: &str, field: &str, err: ElfError) -> ElfError {
    match err {
        ElfError::Malformed(m) => ElfError::Malformed(format!("map '{map}': {field}: {m}")),
        other => other,
    }
}

/// The struct_ops maps of `.struct_ops` or `.struct_ops.link`: libbpf makes one map per
/// variable, keyed by a 4-byte int, holding the struct.
fn struct_ops_maps(btf: &Btf<'_>, sec_name: &str) -> Result<Vec<Map>, ElfError> {
    let Some(datasec) = find_datasec(btf, sec_name) else {
        return Err(ElfError::Malformed(format!(
            "section {sec_name} exists, but its BTF description (DATASEC {sec_name}) is missing"
        )));
    };
    let mut maps = Vec::new();
    for (name, var) in datasec_vars(btf, &datasec, sec_name)? {
        let def = match btf.skip_mods_and_typedefs(var.target())? {
            Some(t) if t.kind == kind::STRUCT => t,
            _ => {
                return Err(ElfError::Malformed(format!(
                    "struct_ops map '{name}' in {sec_name} is not a struct"
                )))
            }
        };
        maps.push(Map {
            map_type: map_type_name(MAP_TYPE_STRUCT_OPS),
            map_type_id: MAP_TYPE_STRUCT_OPS,
            key_size: 4,
            value_size: def.size_or_type,
            max_entries: 1,
            flags: if sec_name == ".struct_ops.link" {
                BPF_F_LINK
            } else {
                0
            },
            key_type: None,
            value_type: Some(btf.render(def.id)?),
            pinned_by_name: false,
            name,
        });
    }
    Ok(maps)
}
