//! BPF ELF inspection of hostile bytes: errors, never panics or runaway allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ebpf_layout::elf::classify(data);
    let _ = ebpf_layout::elf::inspect(data);
});
