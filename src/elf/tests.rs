//! Tests of ELF inspection: hand-built hostile inputs, and the real objects in
//! `testdata/` (see `testdata/README.md` for what each one contains).

use super::btf::build::BtfBuilder;
use super::btf::kind;
use super::*;

// ---------------------------------------------------------------------------
// A minimal ELF writer, enough to build the objects the tests need.
// ---------------------------------------------------------------------------

const SHF_WRITE_ALLOC: u64 = (raw::SHF_WRITE | raw::SHF_ALLOC) as u64;
const SHF_ALLOC_EXEC: u64 = (raw::SHF_ALLOC | raw::SHF_EXECINSTR) as u64;

#[derive(Clone)]
struct Section {
    name: String,
    sh_type: u32,
    flags: u64,
    data: Vec<u8>,
    /// Size for SHT_NOBITS sections.
    nobits_size: u64,
    link: u32,
    entsize: u64,
}

impl Section {
    fn new(name: &str, sh_type: u32, flags: u64, data: Vec<u8>) -> Self {
        Section {
            name: name.to_owned(),
            sh_type,
            flags,
            data,
            nobits_size: 0,
            link: 0,
            entsize: 0,
        }
    }
}

struct Symbol {
    name: String,
    /// 1-based index into `ElfBuilder::sections` (0 = undefined).
    section: u16,
    value: u64,
    size: u64,
    bind: u8,
    st_type: u8,
}

struct ElfBuilder {
    big_endian: bool,
    class64: bool,
    machine: u16,
    e_type: u16,
    sections: Vec<Section>,
    symbols: Vec<Symbol>,
}

impl ElfBuilder {
    fn bpf() -> Self {
        ElfBuilder {
            big_endian: false,
            class64: true,
            machine: EM_BPF,
            e_type: raw::ET_REL,
            sections: Vec::new(),
            symbols: Vec::new(),
        }
    }

    /// Adds a section and returns its ELF index.
    fn section(&mut self, name: &str, sh_type: u32, flags: u64, data: Vec<u8>) -> u16 {
        self.sections.push(Section::new(name, sh_type, flags, data));
        self.sections.len() as u16
    }

    fn program_section(&mut self, name: &str) -> u16 {
        // Two instructions: `r0 = 0; exit`.
        let code = vec![0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
        self.section(name, raw::SHT_PROGBITS, SHF_ALLOC_EXEC, code)
    }

    fn bss(&mut self, name: &str, size: u64) -> u16 {
        self.sections.push(Section {
            nobits_size: size,
            ..Section::new(name, raw::SHT_NOBITS, SHF_WRITE_ALLOC, Vec::new())
        });
        self.sections.len() as u16
    }

    fn symbol(&mut self, name: &str, section: u16, value: u64, bind: u8, st_type: u8) {
        self.symbols.push(Symbol {
            name: name.to_owned(),
            section,
            value,
            size: 16,
            bind,
            st_type,
        });
    }

    fn func(&mut self, name: &str, section: u16) {
        self.symbol(name, section, 0, raw::STB_GLOBAL, raw::STT_FUNC);
    }

    fn license(&mut self, text: &str) {
        let mut data = text.as_bytes().to_vec();
        data.push(0);
        self.section("license", raw::SHT_PROGBITS, SHF_WRITE_ALLOC, data);
    }

    fn u16(&self, out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    fn u32(&self, out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    fn u64(&self, out: &mut Vec<u8>, v: u64) {
        out.extend_from_slice(&if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }

    /// Serialises: header, section data, .strtab, .symtab, .shstrtab, section headers.
    fn build(&self) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut symtab = vec![0u8; 24];
        for sym in &self.symbols {
            let name_off = strtab.len() as u32;
            strtab.extend_from_slice(sym.name.as_bytes());
            strtab.push(0);
            self.u32(&mut symtab, name_off);
            symtab.push((sym.bind << 4) | sym.st_type);
            symtab.push(0);
            self.u16(&mut symtab, sym.section);
            self.u64(&mut symtab, sym.value);
            self.u64(&mut symtab, sym.size);
        }
        let strtab_index = self.sections.len() as u32 + 1;
        let shstrtab_index = strtab_index + 2;
        let mut all = self.sections.clone();
        all.push(Section::new(".strtab", raw::SHT_STRTAB, 0, strtab));
        all.push(Section {
            link: strtab_index,
            entsize: 24,
            ..Section::new(".symtab", raw::SHT_SYMTAB, 0, symtab)
        });
        let mut shstrtab = vec![0u8];
        let mut name_offs = Vec::new();
        for s in &all {
            name_offs.push(shstrtab.len() as u32);
            shstrtab.extend_from_slice(s.name.as_bytes());
            shstrtab.push(0);
        }
        name_offs.push(shstrtab.len() as u32);
        shstrtab.extend_from_slice(b".shstrtab\0");
        all.push(Section::new(".shstrtab", raw::SHT_STRTAB, 0, shstrtab));

        let mut out = vec![0u8; 64];
        let mut placed = Vec::new();
        for s in &all {
            out.resize(out.len().next_multiple_of(8), 0);
            placed.push(out.len() as u64);
            out.extend_from_slice(&s.data);
        }
        out.resize(out.len().next_multiple_of(8), 0);
        let shoff = out.len() as u64;
        let mut headers = vec![0u8; 64]; // section 0
        for (i, s) in all.iter().enumerate() {
            self.u32(&mut headers, name_offs[i]);
            self.u32(&mut headers, s.sh_type);
            self.u64(&mut headers, s.flags);
            self.u64(&mut headers, 0); // addr
            self.u64(&mut headers, placed[i]);
            let size = if s.sh_type == raw::SHT_NOBITS {
                s.nobits_size
            } else {
                s.data.len() as u64
            };
            self.u64(&mut headers, size);
            self.u32(&mut headers, s.link);
            self.u32(&mut headers, u32::from(s.sh_type == raw::SHT_SYMTAB));
            self.u64(&mut headers, 8); // align
            self.u64(&mut headers, s.entsize);
        }
        out.extend_from_slice(&headers);

        let mut header = Vec::new();
        header.extend_from_slice(&raw::ELFMAG);
        header.push(if self.class64 { 2 } else { 1 });
        header.push(if self.big_endian { 2 } else { 1 });
        header.push(1);
        header.extend_from_slice(&[0; 9]);
        self.u16(&mut header, self.e_type);
        self.u16(&mut header, self.machine);
        self.u32(&mut header, 1);
        self.u64(&mut header, 0); // entry
        self.u64(&mut header, 0); // phoff
        self.u64(&mut header, shoff);
        self.u32(&mut header, 0); // flags
        self.u16(&mut header, 64);
        self.u16(&mut header, 0);
        self.u16(&mut header, 0);
        self.u16(&mut header, 64);
        self.u16(&mut header, (all.len() + 1) as u16);
        self.u16(&mut header, shstrtab_index as u16);
        out[..64].copy_from_slice(&header);
        out
    }
}

/// The first 64 bytes of an ELF file with the given identity.
fn elf_header(class64: bool, big_endian: bool, e_type: u16, machine: u16) -> Vec<u8> {
    let mut b = ElfBuilder::bpf();
    b.class64 = class64;
    b.big_endian = big_endian;
    b.e_type = e_type;
    b.machine = machine;
    b.build()[..64].to_vec()
}

/// A BPF object with one `.maps` entry whose definition BTF is `btf`, and the
/// section `.maps` that says BTF maps are present.
fn object_with_btf(btf: Vec<u8>, big_endian: bool) -> Vec<u8> {
    let mut b = ElfBuilder::bpf();
    b.big_endian = big_endian;
    let prog = b.program_section("xdp");
    b.func("prog", prog);
    b.section(".maps", raw::SHT_PROGBITS, SHF_WRITE_ALLOC, vec![0; 32]);
    b.section(".BTF", raw::SHT_PROGBITS, 0, btf);
    b.license("GPL");
    b.build()
}

fn malformed(err: ElfError) -> String {
    match err {
        ElfError::Malformed(m) => m,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// classify
// ---------------------------------------------------------------------------

#[test]
fn classify_accepts_bpf_objects_of_both_byte_orders() {
    assert_eq!(
        classify(&elf_header(true, false, raw::ET_REL, EM_BPF)),
        Ok(ByteOrder::Little)
    );
    assert_eq!(
        classify(&elf_header(true, true, raw::ET_REL, EM_BPF)),
        Ok(ByteOrder::Big)
    );
}

#[test]
fn empty_file_is_not_elf() {
    let err = classify(&[]).unwrap_err();
    assert_eq!(
        err,
        ElfError::NotElf {
            found: vec![],
            looks_like: None
        }
    );
    assert_eq!(err.to_string(), "not an ELF file: the file is empty");
}

#[test]
fn text_file_is_not_elf_and_says_it_looks_like_text() {
    let err = classify(b"#include <linux/bpf.h>\nint x;\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "not an ELF file: it starts with 23 69 6e 63 where an ELF file starts with \
         7f 45 4c 46 (it looks like text)"
    );
}

#[test]
fn not_elf_hints_name_common_formats() {
    let mut tar = vec![0u8; 512];
    tar[..9].copy_from_slice(b"probe.o\0\0");
    tar[257..263].copy_from_slice(b"ustar\0");
    let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
        (
            vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0],
            Some("gzip-compressed data"),
        ),
        (
            vec![0x28, 0xb5, 0x2f, 0xfd, 0],
            Some("zstd-compressed data"),
        ),
        (b"  {\"schemaVersion\": 2}".to_vec(), Some("JSON")),
        (b"[1,2]".to_vec(), Some("JSON")),
        (b"#!/bin/sh\necho hi\n".to_vec(), Some("a script")),
        (tar, Some("a tar archive")),
        (
            b"!<arch>\nfoo.o/".to_vec(),
            Some("an ar archive (a static library)"),
        ),
        (
            vec![b'B', b'C', 0xc0, 0xde, 0x35, 0x14],
            Some("LLVM bitcode (from clang -emit-llvm), not a compiled object"),
        ),
        (b"MZ\x90\x00\x03\x00".to_vec(), Some("a Windows executable")),
        (vec![0, 1, 2, 3, 0xff, 0xfe], None),
    ];
    for (bytes, expected) in cases {
        match classify(&bytes) {
            Err(ElfError::NotElf { found, looks_like }) => {
                assert_eq!(looks_like, expected, "{bytes:02x?}");
                assert_eq!(found, bytes[..4]);
            }
            other => panic!("{bytes:02x?}: {other:?}"),
        }
    }
    let err = classify(&[0, 1, 2, 3, 0xff, 0xfe]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "not an ELF file: it starts with 00 01 02 03 where an ELF file starts with 7f 45 4c 46"
    );
}

#[test]
fn short_headers_are_truncated() {
    assert_eq!(
        classify(b"\x7fEL"),
        Err(ElfError::Truncated {
            needed: 64,
            found: 3
        })
    );
    let header = elf_header(true, false, raw::ET_REL, EM_BPF);
    let err = classify(&header[..40]).unwrap_err();
    assert_eq!(
        err,
        ElfError::Truncated {
            needed: 64,
            found: 40
        }
    );
    assert_eq!(
        err.to_string(),
        "truncated ELF file: it is 40 bytes long, but its headers and sections need 64 bytes \
         (was it cut short while copying?)"
    );
}

#[test]
fn x86_64_elf_is_not_bpf() {
    let err = classify(&elf_header(true, false, raw::ET_REL, raw::EM_X86_64)).unwrap_err();
    assert_eq!(
        err,
        ElfError::NotBpf {
            machine: 62,
            name: "x86-64"
        }
    );
    assert_eq!(
        err.to_string(),
        "ELF for x86-64 (e_machine 62), not BPF (e_machine 247)"
    );
}

#[test]
fn other_machines_are_named() {
    let cases = [
        (raw::EM_AARCH64, "AArch64"),
        (raw::EM_ARM, "ARM"),
        (raw::EM_RISCV, "RISC-V"),
        (raw::EM_386, "i386"),
        (raw::EM_PPC64, "PowerPC64"),
        (raw::EM_S390, "s390"),
        (raw::EM_MIPS, "MIPS"),
        (raw::EM_LOONGARCH, "LoongArch"),
        (9999, "an unknown machine"),
    ];
    for (machine, name) in cases {
        let class64 = machine != raw::EM_386;
        let err = classify(&elf_header(class64, false, raw::ET_DYN, machine)).unwrap_err();
        assert_eq!(err, ElfError::NotBpf { machine, name });
    }
    let err = classify(&elf_header(true, true, raw::ET_REL, raw::EM_S390)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ELF for s390 (e_machine 22), not BPF (e_machine 247)"
    );
}

#[test]
fn thirty_two_bit_bpf_is_rejected() {
    let err = classify(&elf_header(false, false, raw::ET_REL, EM_BPF)).unwrap_err();
    assert_eq!(err, ElfError::Not64Bit);
    assert_eq!(
        err.to_string(),
        "32-bit ELF (ELFCLASS32), but BPF objects are 64-bit (ELFCLASS64)"
    );
    // A 32-bit ELF of another machine is reported by machine, which says more.
    let err = classify(&elf_header(false, false, raw::ET_EXEC, raw::EM_ARM)).unwrap_err();
    assert_eq!(
        err,
        ElfError::NotBpf {
            machine: 40,
            name: "ARM"
        }
    );
}

#[test]
fn executables_and_shared_objects_are_not_relocatable() {
    let err = classify(&elf_header(true, false, raw::ET_EXEC, EM_BPF)).unwrap_err();
    assert_eq!(err, ElfError::NotRelocatable { e_type: 2 });
    assert_eq!(
        err.to_string(),
        "ELF executable (ET_EXEC, e_type 2), not a relocatable object (ET_REL) as BPF objects are"
    );
    let err = classify(&elf_header(true, false, raw::ET_DYN, EM_BPF)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ELF shared object or PIE executable (ET_DYN, e_type 3), not a relocatable object \
         (ET_REL) as BPF objects are"
    );
    let err = classify(&elf_header(true, false, 0x1234, EM_BPF)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ELF file of unknown type (e_type 4660), not a relocatable object (ET_REL) as BPF \
         objects are"
    );
}

#[test]
fn invalid_identification_bytes_are_malformed() {
    let mut header = elf_header(true, false, raw::ET_REL, EM_BPF);
    header[4] = 7;
    assert_eq!(
        malformed(classify(&header).unwrap_err()),
        "invalid ELF class 7 in byte 4 (expected 1 or 2)"
    );
    let mut header = elf_header(true, false, raw::ET_REL, EM_BPF);
    header[5] = 0;
    assert_eq!(
        malformed(classify(&header).unwrap_err()),
        "invalid ELF byte order 0 in byte 5 (expected 1 or 2)"
    );
    let mut header = elf_header(true, false, raw::ET_REL, EM_BPF);
    header[6] = 2;
    assert!(malformed(classify(&header).unwrap_err()).contains("unsupported ELF version 2"));
}

// ---------------------------------------------------------------------------
// inspect on hand-built objects
// ---------------------------------------------------------------------------

#[test]
fn programs_are_global_functions_in_executable_sections_other_than_text() {
    let mut b = ElfBuilder::bpf();
    let text = b.program_section(".text");
    let tp = b.program_section("tp/sched/sched_switch");
    let xdp = b.program_section("xdp");
    let odd = b.program_section("my_custom_section");
    b.func("global_subprog", text); // .text holds subprograms
    b.func("z_prog", tp);
    b.func("a_prog", tp);
    b.symbol("static_helper", tp, 8, raw::STB_LOCAL, raw::STT_FUNC);
    b.symbol("weak_xdp", xdp, 0, raw::STB_WEAK, raw::STT_FUNC);
    b.symbol("not_a_func", xdp, 0, raw::STB_GLOBAL, raw::STT_OBJECT);
    b.func("custom", odd);
    b.license("Dual MIT/GPL");
    let info = inspect(&b.build()).unwrap();
    let got: Vec<_> = info
        .programs
        .iter()
        .map(|p| {
            (
                p.section.as_str(),
                p.name.as_str(),
                p.program_type.as_str(),
                p.attach.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("my_custom_section", "custom", "unknown", None),
            (
                "tp/sched/sched_switch",
                "a_prog",
                "tracepoint",
                Some("sched/sched_switch")
            ),
            (
                "tp/sched/sched_switch",
                "z_prog",
                "tracepoint",
                Some("sched/sched_switch")
            ),
            ("xdp", "weak_xdp", "xdp", None),
        ]
    );
    assert_eq!(info.license.as_deref(), Some("Dual MIT/GPL"));
    assert!(!info.btf && !info.btf_ext);
    assert!(info.maps.is_empty());
}

#[test]
fn global_data_sections_follow_libbpf_rules() {
    let mut b = ElfBuilder::bpf();
    let prog = b.program_section("socket");
    b.func("f", prog);
    for name in [
        ".rodata",
        ".data",
        ".rodata.str1.1",
        ".data.custom",
        ".rodata_not",
        ".comment",
    ] {
        b.section(name, raw::SHT_PROGBITS, SHF_WRITE_ALLOC, vec![1, 2, 3, 4]);
    }
    b.section(".data.empty", raw::SHT_PROGBITS, SHF_WRITE_ALLOC, vec![]);
    b.bss(".bss", 8);
    b.bss(".bss.big", 4096);
    let info = inspect(&b.build()).unwrap();
    assert_eq!(
        info.globals,
        [
            ".bss",
            ".bss.big",
            ".data",
            ".data.custom",
            ".rodata",
            ".rodata.str1.1"
        ]
    );
    assert_eq!(info.license, None);
}

#[test]
fn legacy_maps_are_read_in_the_object_byte_order() {
    for big_endian in [false, true] {
        let mut b = ElfBuilder::bpf();
        b.big_endian = big_endian;
        let prog = b.program_section("kprobe/vfs_read");
        b.func("kp", prog);
        let mut defs = Vec::new();
        for v in [1u32, 4, 8, 128, 1, /* second: */ 99, 4, 4, 16, 0] {
            b.u32(&mut defs, v);
        }
        let maps = b.section("maps", raw::SHT_PROGBITS, SHF_WRITE_ALLOC, defs);
        b.symbol("my_hash", maps, 0, raw::STB_GLOBAL, raw::STT_OBJECT);
        b.symbol("odd", maps, 20, raw::STB_GLOBAL, raw::STT_OBJECT);
        b.symbol("", maps, 0, raw::STB_LOCAL, raw::STT_SECTION);
        let info = inspect(&b.build()).unwrap();
        assert_eq!(
            info.maps,
            [
                Map {
                    name: "my_hash".into(),
                    map_type: "hash".into(),
                    map_type_id: 1,
                    key_size: 4,
                    value_size: 8,
                    max_entries: 128,
                    flags: 1,
                    key_type: None,
                    value_type: None,
                    pinned_by_name: false,
                },
                Map {
                    name: "odd".into(),
                    map_type: "unknown(99)".into(),
                    map_type_id: 99,
                    key_size: 4,
                    value_size: 4,
                    max_entries: 16,
                    flags: 0,
                    key_type: None,
                    value_type: None,
                    pinned_by_name: false,
                },
            ]
        );
        assert_eq!(
            info.byte_order,
            if big_endian {
                ByteOrder::Big
            } else {
                ByteOrder::Little
            }
        );
    }
}

#[test]
fn legacy_map_symbol_past_its_section_is_malformed() {
    let mut b = ElfBuilder::bpf();
    let maps = b.section("maps", raw::SHT_PROGBITS, SHF_WRITE_ALLOC, vec![0; 20]);
    b.symbol("far", maps, u64::MAX - 4, raw::STB_GLOBAL, raw::STT_OBJECT);
    assert_eq!(
        malformed(inspect(&b.build()).unwrap_err()),
        "legacy map 'far' at offset 18446744073709551611 does not fit in section maps (20 bytes)"
    );
}

/// BTF for `.maps` with the map definitions libbpf's macros produce.
fn btf_with_maps(big_endian: bool) -> Vec<u8> {
    let mut b = BtfBuilder::new(big_endian);
    let int = b.int("int", 4);
    let uint = b.int("unsigned int", 4);
    let u32_t = b.typedef("__u32", uint);
    let ch = b.int("char", 1);
    let comm = b.array(ch, int, 16);
    let event = b.strukt("event", 20, &[("pid", u32_t), ("comm", comm)]);
    let type_hash = b.uint_member(int, 1);
    let entries = b.uint_member(int, 10240);
    let flags = b.uint_member(int, 1);
    let key = b.ptr(u32_t);
    let value = b.ptr(event);
    let def = b.strukt(
        "",
        40,
        &[
            ("type", type_hash),
            ("max_entries", entries),
            ("map_flags", flags),
            ("key", key),
            ("value", value),
            ("pinning", flags),
        ],
    );
    let type_ringbuf = b.uint_member(int, 27);
    let ring_entries = b.uint_member(int, 4096);
    let ring = b.strukt(
        "",
        16,
        &[("type", type_ringbuf), ("max_entries", ring_entries)],
    );
    let volatile_ring = b.raw("", kind::VOLATILE, 0, ring, &[]);
    let v1 = b.var("events", def);
    let v2 = b.var("ring", volatile_ring);
    let v3 = b.var("also_events", def);
    b.datasec(".maps", &[v1, v2, v3]);
    b.datasec(".kconfig", &[]);
    b.finish()
}

#[test]
fn btf_defined_maps_are_decoded_in_both_byte_orders() {
    for big_endian in [false, true] {
        let info = inspect(&object_with_btf(btf_with_maps(big_endian), big_endian)).unwrap();
        let events = Map {
            name: "events".into(),
            map_type: "hash".into(),
            map_type_id: 1,
            key_size: 4,
            value_size: 20,
            max_entries: 10240,
            flags: 1,
            key_type: Some("__u32".into()),
            value_type: Some("struct event".into()),
            // Its `pinning` member is 1 (LIBBPF_PIN_BY_NAME).
            pinned_by_name: true,
        };
        let also = Map {
            name: "also_events".into(),
            ..events.clone()
        };
        let ring = Map {
            name: "ring".into(),
            map_type: "ringbuf".into(),
            map_type_id: 27,
            key_size: 0,
            value_size: 0,
            max_entries: 4096,
            flags: 0,
            key_type: None,
            value_type: None,
            pinned_by_name: false,
        };
        assert_eq!(info.maps, [also, events, ring]);
        assert!(info.btf);
        assert_eq!(info.globals, [".kconfig"]);
    }
}

#[test]
fn maps_section_without_btf_is_malformed() {
    let mut b = ElfBuilder::bpf();
    b.section(".maps", raw::SHT_PROGBITS, SHF_WRITE_ALLOC, vec![0; 32]);
    assert_eq!(
        malformed(inspect(&b.build()).unwrap_err()),
        "section .maps defines maps, but the object has no .BTF to describe them (was it \
         stripped, or built without -g?)"
    );
}

#[test]
fn cyclic_btf_map_definition_is_malformed() {
    let mut b = BtfBuilder::new(false);
    // [1] typedef loop_a -> [2], [2] typedef loop_b -> [1]; the map's VAR points into it.
    b.typedef("loop_a", 2);
    b.typedef("loop_b", 1);
    let var = b.var("cyclic", 1);
    b.datasec(".maps", &[var]);
    let m = malformed(inspect(&object_with_btf(b.finish(), false)).unwrap_err());
    assert_eq!(
        m, "BTF: type chain from [1] is longer than 32 links (cyclic?)",
        "{m}"
    );
}

#[test]
fn cyclic_btf_key_type_is_malformed_with_the_map_named() {
    let mut b = BtfBuilder::new(false);
    let int = b.int("int", 4);
    // A key type that is a pointer... to an array of itself.
    let arr_id = b.len_hint() + 2;
    let key = b.ptr(arr_id);
    let arr = b.array(arr_id, int, 2);
    assert_eq!(arr, arr_id);
    let def = b.strukt("", 8, &[("key", key)]);
    let var = b.var("selfish", def);
    b.datasec(".maps", &[var]);
    let m = malformed(inspect(&object_with_btf(b.finish(), false)).unwrap_err());
    assert!(
        m.starts_with("map 'selfish': key: BTF: type chain from"),
        "{m}"
    );
}

#[test]
fn btf_with_out_of_range_offsets_is_malformed() {
    let mut btf = btf_with_maps(false);
    btf[8..12].copy_from_slice(&0x7fff_0000u32.to_le_bytes()); // type_off
    let m = malformed(inspect(&object_with_btf(btf, false)).unwrap_err());
    assert!(
        m.starts_with("BTF: type section (offset 2147418112, length "),
        "{m}"
    );
}

#[test]
fn btf_with_huge_member_count_is_malformed_without_allocating() {
    let mut b = BtfBuilder::new(false);
    b.raw("", kind::DATASEC, u16::MAX, 0, &[]);
    let m = malformed(inspect(&object_with_btf(b.finish(), false)).unwrap_err());
    assert_eq!(
        m,
        "BTF: type [1] (DATASEC, 65535 entries) at offset 0 needs 786432 bytes but the type \
         section ends at 12"
    );
}

#[test]
fn map_definition_fields_of_the_wrong_shape_are_malformed() {
    let mut b = BtfBuilder::new(false);
    let int = b.int("int", 4);
    let def = b.strukt("", 4, &[("type", int)]); // `int type;` instead of __uint
    let var = b.var("bad", def);
    b.datasec(".maps", &[var]);
    let m = malformed(inspect(&object_with_btf(b.finish(), false)).unwrap_err());
    assert_eq!(
        m,
        "map 'bad': field 'type' is type [1] (INT), expected __uint's pointer to an array"
    );
}

#[test]
fn conflicting_key_size_and_key_type_are_malformed() {
    let mut b = BtfBuilder::new(false);
    let int = b.int("int", 4);
    let long = b.int("long", 8);
    let key_size = b.uint_member(int, 4);
    let key = b.ptr(long);
    let def = b.strukt("", 16, &[("key_size", key_size), ("key", key)]);
    let var = b.var("clash", def);
    b.datasec(".maps", &[var]);
    let m = malformed(inspect(&object_with_btf(b.finish(), false)).unwrap_err());
    assert_eq!(
        m,
        "map 'clash': key_size 4 conflicts with key type long (8 bytes)"
    );
}

#[test]
fn missing_maps_datasec_and_non_var_entries_are_malformed() {
    let mut b = BtfBuilder::new(false);
    b.int("int", 4);
    let m = malformed(inspect(&object_with_btf(b.finish(), false)).unwrap_err());
    assert!(m.contains("DATASEC .maps) is missing"), "{m}");

    let mut b = BtfBuilder::new(false);
    let int = b.int("int", 4);
    b.datasec(".maps", &[int]);
    let m = malformed(inspect(&object_with_btf(b.finish(), false)).unwrap_err());
    assert_eq!(m, "BTF: .maps entry 0 is type [1], which is not a variable");
}

#[test]
fn object_cut_short_is_truncated() {
    let mut b = ElfBuilder::bpf();
    let prog = b.program_section("xdp");
    b.func("prog", prog);
    let bytes = b.build();
    let shoff = u64::from_le_bytes(bytes[40..48].try_into().unwrap());
    let shnum = u64::from(u16::from_le_bytes(bytes[60..62].try_into().unwrap()));
    // Cut inside the section header table.
    let cut = &bytes[..bytes.len() - 10];
    assert_eq!(
        inspect(cut),
        Err(ElfError::Truncated {
            needed: shoff + shnum * 64,
            found: cut.len() as u64
        })
    );
    // Cut before the section header table.
    assert_eq!(
        inspect(&bytes[..100]),
        Err(ElfError::Truncated {
            needed: shoff + shnum * 64,
            found: 100
        })
    );
    // Just the ELF header's first bytes.
    assert_eq!(
        inspect(&bytes[..32]),
        Err(ElfError::Truncated {
            needed: 64,
            found: 32
        })
    );
}

#[test]
fn section_data_past_the_end_is_truncated() {
    let mut b = ElfBuilder::bpf();
    let prog = b.program_section("xdp");
    b.func("prog", prog);
    let mut bytes = b.build();
    let shoff = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
    // Section 1 (`xdp`): claim a 1 GiB size.
    let size_at = shoff + 64 + 32;
    bytes[size_at..size_at + 8].copy_from_slice(&(1u64 << 30).to_le_bytes());
    match inspect(&bytes) {
        Err(ElfError::Truncated { needed, found }) => {
            assert_eq!(found, bytes.len() as u64);
            assert_eq!(needed, 64 + (1 << 30));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn huge_section_count_is_truncated_not_allocated() {
    let mut b = ElfBuilder::bpf();
    let prog = b.program_section("xdp");
    b.func("prog", prog);
    let mut bytes = b.build();
    bytes[60..62].copy_from_slice(&0xfeffu16.to_le_bytes()); // e_shnum
    let shoff = u64::from_le_bytes(bytes[40..48].try_into().unwrap());
    assert_eq!(
        inspect(&bytes),
        Err(ElfError::Truncated {
            needed: shoff + 0xfeff * 64,
            found: bytes.len() as u64
        })
    );
}

#[test]
fn object_without_sections_is_malformed() {
    let header = elf_header(true, false, raw::ET_REL, EM_BPF);
    let mut bytes = header.clone();
    bytes[40..48].copy_from_slice(&0u64.to_le_bytes()); // e_shoff = 0
    assert_eq!(
        malformed(inspect(&bytes).unwrap_err()),
        "the object has no section table, so no programs or maps"
    );
}

#[test]
fn inspect_reports_what_classify_reports() {
    assert_eq!(
        inspect(&elf_header(true, false, raw::ET_REL, raw::EM_X86_64)),
        Err(ElfError::NotBpf {
            machine: 62,
            name: "x86-64"
        })
    );
    assert_eq!(
        inspect(&elf_header(false, false, raw::ET_REL, EM_BPF)),
        Err(ElfError::Not64Bit)
    );
    assert_eq!(
        inspect(&elf_header(true, false, raw::ET_EXEC, EM_BPF)),
        Err(ElfError::NotRelocatable { e_type: 2 })
    );
    assert!(matches!(inspect(b"{}"), Err(ElfError::NotElf { .. })));
}

#[test]
fn program_section_with_bad_name_offset_is_malformed() {
    let mut b = ElfBuilder::bpf();
    let prog = b.program_section("xdp");
    b.func("prog", prog);
    let mut bytes = b.build();
    let shoff = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
    bytes[shoff + 64..shoff + 68].copy_from_slice(&0x00ff_0000u32.to_le_bytes());
    let m = malformed(inspect(&bytes).unwrap_err());
    assert!(m.starts_with("section 1: name:"), "{m}");
}

#[test]
fn struct_ops_variables_become_struct_ops_maps() {
    let mut bt = BtfBuilder::new(false);
    let ch = bt.int("char", 1);
    let name = bt.array(ch, ch, 16);
    let ops = bt.strukt("tcp_congestion_ops", 24, &[("name", name)]);
    let var = bt.var("my_cc", ops);
    bt.datasec(".struct_ops.link", &[var]);
    let mut b = ElfBuilder::bpf();
    let prog = b.program_section("struct_ops/init");
    b.func("cc_init", prog);
    b.section(
        ".struct_ops.link",
        raw::SHT_PROGBITS,
        SHF_WRITE_ALLOC,
        vec![0; 24],
    );
    b.section(".BTF", raw::SHT_PROGBITS, 0, bt.finish());
    let info = inspect(&b.build()).unwrap();
    assert_eq!(
        info.maps,
        [Map {
            name: "my_cc".into(),
            map_type: "struct_ops".into(),
            map_type_id: 26,
            key_size: 4,
            value_size: 24,
            max_entries: 1,
            flags: 1 << 13,
            key_type: None,
            value_type: Some("struct tcp_congestion_ops".into()),
            pinned_by_name: false,
        }]
    );
    assert_eq!(info.programs[0].program_type, "struct_ops");
}

#[test]
fn inspect_file_reads_a_huge_sparse_object_without_reading_its_programs() {
    // A 512 MiB program section that is a hole in a sparse file: inspecting must not
    // read (or allocate) it.
    const HUGE: u64 = 512 << 20;
    let mut b = ElfBuilder::bpf();
    let prog = b.program_section("xdp");
    b.func("big", prog);
    b.license("GPL");
    let mut bytes = b.build();
    let shoff = u64::from_le_bytes(bytes[40..48].try_into().unwrap());
    // Move the section header table past the hole, and make section 1 huge.
    let new_shoff = shoff + HUGE;
    bytes[40..48].copy_from_slice(&new_shoff.to_le_bytes());
    let size_at = shoff as usize + 64 + 32;
    bytes[size_at..size_at + 8].copy_from_slice(&(HUGE + 16).to_le_bytes());
    let (front, headers) = bytes.split_at(shoff as usize);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.bpf.o");
    let file = File::create(&path).unwrap();
    use std::os::unix::fs::FileExt;
    file.write_all_at(front, 0).unwrap();
    file.write_all_at(headers, new_shoff).unwrap();
    drop(file);

    let file = File::open(&path).unwrap();
    let info = inspect_file(&file).unwrap();
    assert_eq!(info.programs.len(), 1);
    assert_eq!(info.programs[0].name, "big");
    assert_eq!(info.license.as_deref(), Some("GPL"));
}

#[test]
fn inspect_file_reports_io_errors() {
    // A directory opens as a File on Linux but cannot be read.
    let dir = tempfile::tempdir().unwrap();
    let file = File::open(dir.path()).unwrap();
    match inspect_file(&file) {
        Err(ElfError::Io(message)) => assert!(!message.is_empty()),
        // Some filesystems report a directory's size as 0: then it is simply empty.
        Err(ElfError::NotElf { found, .. }) => assert!(found.is_empty()),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// The real objects in testdata/
// ---------------------------------------------------------------------------

macro_rules! testdata {
    ($path:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/", $path)).as_slice()
    };
}

const TP_COUNTER: &[u8] = testdata!("tp_counter.bpf.o");
const TP_COUNTER_BPFEB: &[u8] = testdata!("bpfeb/tp_counter.bpfeb.o");
const RINGBUF_EVENTS: &[u8] = testdata!("ringbuf_events.bpf.o");
const XDP_COUNT: &[u8] = testdata!("xdp_count.bpf.o");
const MULTI_PROG: &[u8] = testdata!("multi_prog.bpf.o");
const VERIFIER_REJECT: &[u8] = testdata!("verifier_reject.bpf.o");
const LEGACY_MAPS: &[u8] = testdata!("legacy_maps.bpf.o");
const HELLO_X86: &[u8] = testdata!("not-bpf/hello.o");
const README_TXT: &[u8] = testdata!("not-bpf/README.txt");

const ALL_BPF: &[(&str, &[u8])] = &[
    ("tp_counter", TP_COUNTER),
    ("tp_counter.bpfeb", TP_COUNTER_BPFEB),
    ("ringbuf_events", RINGBUF_EVENTS),
    ("xdp_count", XDP_COUNT),
    ("multi_prog", MULTI_PROG),
    ("verifier_reject", VERIFIER_REJECT),
    ("legacy_maps", LEGACY_MAPS),
];

fn tracepoint(name: &str, section: &str) -> Program {
    Program {
        name: name.into(),
        section: section.into(),
        program_type: "tracepoint".into(),
        attach: section.strip_prefix("tracepoint/").map(str::to_owned),
    }
}

/// A `__u32` → `__u64` map declared with `__type`.
fn u32_to_u64(name: &str, map_type: &str, map_type_id: u32, max_entries: u32) -> Map {
    Map {
        name: name.into(),
        map_type: map_type.into(),
        map_type_id,
        key_size: 4,
        value_size: 8,
        max_entries,
        flags: 0,
        key_type: Some("__u32".into()),
        value_type: Some("__u64".into()),
        pinned_by_name: false,
    }
}

fn tp_counter_info(byte_order: ByteOrder) -> ObjectInfo {
    ObjectInfo {
        byte_order,
        license: Some("GPL".into()),
        btf: true,
        btf_ext: true,
        programs: vec![tracepoint(
            "count_getpid",
            "tracepoint/syscalls/sys_enter_getpid",
        )],
        maps: vec![u32_to_u64("counter_getpid", "array", 2, 1)],
        globals: vec![],
        variables: vec![],
    }
}

#[test]
fn testdata_tp_counter() {
    assert_eq!(inspect(TP_COUNTER), Ok(tp_counter_info(ByteOrder::Little)));
}

#[test]
fn testdata_tp_counter_big_endian_twin_has_the_same_content() {
    assert_eq!(classify(TP_COUNTER_BPFEB), Ok(ByteOrder::Big));
    assert_eq!(
        inspect(TP_COUNTER_BPFEB),
        Ok(tp_counter_info(ByteOrder::Big))
    );
}

#[test]
fn testdata_ringbuf_events_reports_the_declared_value_type() {
    let info = inspect(RINGBUF_EVENTS).unwrap();
    assert_eq!(
        info,
        ObjectInfo {
            byte_order: ByteOrder::Little,
            license: Some("GPL".into()),
            btf: true,
            btf_ext: true,
            programs: vec![tracepoint(
                "emit_getppid",
                "tracepoint/syscalls/sys_enter_getppid"
            )],
            maps: vec![Map {
                name: "print_events".into(),
                map_type: "ringbuf".into(),
                map_type_id: 27,
                key_size: 0,
                // Declared with __type(value, struct event): what libbpf would pass.
                value_size: 32,
                max_entries: 64 * 1024,
                flags: 0,
                key_type: None,
                value_type: Some("struct event".into()),
                pinned_by_name: false,
            }],
            globals: vec![".bss".into()],
            variables: vec![crate::elf::GlobalVariable {
                name: "seen".into(),
                section: ".bss".into(),
                offset: 0,
                size: 8,
                type_name: "__u64".into(),
                default: Some("0".into()),
                kind: crate::elf::ValueKind::Integer { signed: false },
            }],
        }
    );
}

#[test]
fn testdata_xdp_count() {
    assert_eq!(
        inspect(XDP_COUNT),
        Ok(ObjectInfo {
            byte_order: ByteOrder::Little,
            license: Some("GPL".into()),
            btf: true,
            btf_ext: true,
            programs: vec![Program {
                name: "xdp_count".into(),
                section: "xdp".into(),
                program_type: "xdp".into(),
                attach: None,
            }],
            maps: vec![
                u32_to_u64("counter_packets", "array", 2, 1),
                u32_to_u64("hist_protocols", "hash", 1, 256),
            ],
            globals: vec![],
            variables: vec![],
        })
    );
}

#[test]
fn testdata_multi_prog() {
    assert_eq!(
        inspect(MULTI_PROG),
        Ok(ObjectInfo {
            byte_order: ByteOrder::Little,
            license: Some("Dual BSD/GPL".into()),
            btf: true,
            btf_ext: true,
            programs: vec![
                Program {
                    name: "on_sys_enter".into(),
                    section: "raw_tracepoint/sys_enter".into(),
                    program_type: "raw_tracepoint".into(),
                    attach: Some("sys_enter".into()),
                },
                tracepoint("on_getgid", "tracepoint/syscalls/sys_enter_getgid"),
                tracepoint("on_getuid", "tracepoint/syscalls/sys_enter_getuid"),
            ],
            maps: vec![
                u32_to_u64("counter_calls", "percpu_array", 6, 3),
                u32_to_u64("gauge_last_gid", "array", 2, 1),
                u32_to_u64("gauge_last_uid", "array", 2, 1),
            ],
            globals: vec![".rodata".into()],
            variables: vec![crate::elf::GlobalVariable {
                name: "target_pid".into(),
                section: ".rodata".into(),
                offset: 0,
                size: 4,
                type_name: "const volatile __u32".into(),
                default: Some("0".into()),
                kind: crate::elf::ValueKind::Integer { signed: false },
            }],
        })
    );
}

#[test]
fn testdata_verifier_reject_inspects_fine() {
    assert_eq!(
        inspect(VERIFIER_REJECT),
        Ok(ObjectInfo {
            byte_order: ByteOrder::Little,
            license: Some("GPL".into()),
            btf: true,
            btf_ext: true,
            programs: vec![tracepoint(
                "missing_null_check",
                "tracepoint/syscalls/sys_enter_getpid"
            )],
            maps: vec![u32_to_u64("counter_rejected", "hash", 1, 64)],
            globals: vec![],
            variables: vec![],
        })
    );
}

#[test]
fn testdata_legacy_maps_are_read_from_the_maps_section() {
    let legacy = |name: &str, map_type: &str, map_type_id, max_entries| Map {
        name: name.into(),
        map_type: map_type.into(),
        map_type_id,
        key_size: 4,
        value_size: 8,
        max_entries,
        flags: 0,
        key_type: None,
        value_type: None,
        pinned_by_name: false,
    };
    assert_eq!(
        inspect(LEGACY_MAPS),
        Ok(ObjectInfo {
            byte_order: ByteOrder::Little,
            license: Some("GPL".into()),
            btf: true,
            btf_ext: true,
            programs: vec![tracepoint(
                "legacy_count",
                "tracepoint/syscalls/sys_enter_getpid"
            )],
            maps: vec![
                legacy("counter_legacy", "array", 2, 1),
                legacy("hist_legacy", "hash", 1, 64),
            ],
            globals: vec![],
            variables: vec![],
        })
    );
}

#[test]
fn testdata_objects_at_any_alignment_inspect_the_same() {
    // Callers hand us slices of larger buffers (a tar archive in memory): the ELF
    // header need not be 8-byte aligned.
    let expected = inspect(TP_COUNTER);
    for shift in 1..8 {
        let mut buffer = vec![0u8; shift];
        buffer.extend_from_slice(TP_COUNTER);
        assert_eq!(inspect(&buffer[shift..]), expected, "shift {shift}");
    }
}

#[test]
fn testdata_not_bpf_files_are_classified() {
    let err = inspect(HELLO_X86).unwrap_err();
    assert_eq!(
        err,
        ElfError::NotBpf {
            machine: 62,
            name: "x86-64"
        }
    );
    assert_eq!(classify(&HELLO_X86[..64]), Err(err));
    assert!(matches!(
        classify(README_TXT),
        Err(ElfError::NotElf {
            looks_like: Some("text"),
            ..
        })
    ));
}

#[test]
fn testdata_classify_needs_only_the_first_64_bytes() {
    for (name, bytes) in ALL_BPF {
        let expected = inspect(bytes).unwrap().byte_order;
        assert_eq!(classify(&bytes[..CLASSIFY_LEN]), Ok(expected), "{name}");
    }
}

#[test]
fn testdata_inspect_file_matches_inspect() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/");
    for path in [
        "tp_counter.bpf.o",
        "bpfeb/tp_counter.bpfeb.o",
        "ringbuf_events.bpf.o",
        "xdp_count.bpf.o",
        "multi_prog.bpf.o",
        "verifier_reject.bpf.o",
        "legacy_maps.bpf.o",
        "not-bpf/hello.o",
        "not-bpf/README.txt",
    ] {
        let full = format!("{dir}{path}");
        let file = File::open(&full).unwrap();
        let bytes = std::fs::read(&full).unwrap();
        assert_eq!(inspect_file(&file), inspect(&bytes), "{path}");
    }
}

#[test]
fn testdata_every_prefix_of_an_object_is_an_error_never_a_panic() {
    for (name, bytes) in ALL_BPF {
        for len in 0..bytes.len() {
            let result = inspect(&bytes[..len]);
            assert!(
                matches!(
                    result,
                    Err(ElfError::Truncated { .. } | ElfError::NotElf { .. })
                ),
                "{name} cut to {len} bytes: {result:?}"
            );
        }
    }
}

#[test]
fn testdata_corrupted_bytes_never_panic() {
    // Flip every byte (and set it to 0xff) in turn: any outcome but a panic or a hang
    // is acceptable.
    for (_, bytes) in [ALL_BPF[0], ALL_BPF[1], ALL_BPF[2], ALL_BPF[6]] {
        let mut copy = bytes.to_vec();
        for i in 0..copy.len() {
            let original = copy[i];
            for corrupt in [!original, 0xff, 0x00, original.wrapping_add(1)] {
                copy[i] = corrupt;
                let _ = inspect(&copy);
            }
            copy[i] = original;
        }
    }
}

#[test]
fn object_info_serialises_in_camel_case_with_lowercase_byte_order() {
    let json = serde_json::to_value(tp_counter_info(ByteOrder::Big)).unwrap();
    assert_eq!(json["byteOrder"], "big");
    assert_eq!(json["maps"][0]["mapType"], "array");
    let back: ObjectInfo = serde_json::from_value(json).unwrap();
    assert_eq!(back, tp_counter_info(ByteOrder::Big));
}

#[test]
fn testdata_configurable_lists_every_global_with_its_type_and_default() {
    let info = inspect(testdata!("configurable.bpf.o")).unwrap();
    type Row<'a> = (&'a str, &'a str, u64, u32, &'a str, Option<&'a str>);
    let rows: Vec<Row<'_>> = info
        .variables
        .iter()
        .map(|v| {
            (
                v.name.as_str(),
                v.section.as_str(),
                v.offset,
                v.size,
                v.type_name.as_str(),
                v.default.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "targ_tgid",
                ".rodata",
                0,
                4,
                "const volatile __u32",
                Some("0")
            ),
            (
                "enabled",
                ".rodata",
                4,
                1,
                "const volatile _Bool",
                Some("true")
            ),
            (
                "mode",
                ".rodata",
                8,
                4,
                "const volatile enum ebl_mode",
                Some("MODE_COUNT")
            ),
            (
                "targ_comm",
                ".rodata",
                12,
                16,
                "const volatile char[16]",
                Some("\"\"")
            ),
            ("hits", ".bss", 0, 8, "__u64", Some("0")),
            ("stacks_taken", ".bss", 8, 8, "__u64", Some("0")),
        ]
    );
    let stacks = info.maps.iter().find(|m| m.name == "stacks").unwrap();
    assert_eq!((stacks.value_size, stacks.max_entries), (0, 0));
    let mode = &info.variables[2];
    assert_eq!(mode.encode("MODE_STACKS", false).unwrap(), [1, 0, 0, 0]);
    let pinned = inspect(testdata!("pinned_by_name.bpf.o")).unwrap();
    assert!(pinned.maps.iter().all(|m| m.pinned_by_name));
}
