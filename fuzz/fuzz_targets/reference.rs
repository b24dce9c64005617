//! References, ref names and digests: never panic; what parses prints back the same.
#![no_main]

use ebpf_layout::oci::{Digest, ImageRef, RefName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = ImageRef::parse(s) {
        assert_eq!(ImageRef::parse(&r.to_string()).unwrap(), r);
    }
    if let Ok(n) = RefName::parse(s) {
        assert_eq!(n.as_str(), s);
    }
    if let Ok(d) = Digest::parse(s) {
        assert_eq!(d.to_string(), s);
    }
});
