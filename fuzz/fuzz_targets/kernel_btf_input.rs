//! A `pack --kernel-btf` input of hostile bytes, as a `.btf.tar.xz` (liblzma under its
//! memory limit, bounded output, our tar reader) and as raw BTF: bounded, never panics.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ =
        ebpf_layout::kernel_btf::kernel_btf_from_bytes(data.to_vec(), Path::new("fuzz.btf.tar.xz"));
    let _ = ebpf_layout::kernel_btf::kernel_btf_from_bytes(data.to_vec(), Path::new("fuzz.btf"));
});
