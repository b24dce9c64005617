//! index.json and manifests: parsing hostile JSON never panics, and what parses
//! re-serialises canonically to something that parses to the same value.
#![no_main]

use ebpf_layout::oci::{canonical, ImageIndex, ImageManifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(index) = ImageIndex::from_slice(data) {
        let bytes = canonical::to_vec(&index).expect("an index serialises");
        let again = ImageIndex::from_slice(&bytes).expect("canonical bytes parse");
        assert_eq!(index, again);
    }
    if let Ok(manifest) = ImageManifest::from_slice(data) {
        let bytes = canonical::to_vec(&manifest).expect("a manifest serialises");
        let again = ImageManifest::from_slice(&bytes).expect("canonical bytes parse");
        assert_eq!(manifest, again);
    }
});
