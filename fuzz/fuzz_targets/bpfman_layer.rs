//! A bpfman bytecode layer (tar+gzip, or plain tar) of hostile bytes: finding the object
//! inside is bounded and never panics.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ebpf_layout::image::bpfman::find_object(data, Path::new("fuzz"), 1 << 20);
});
