//! containers-policy.json files: never panic; what parses answers every name and identity.
#![no_main]

use std::path::Path;

use ebpf_layout::sign::{Policy, Requirement};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Key files are never read here: keyPath fails, keyData is parsed.
    let no_files = |p: &Path| -> Result<ebpf_layout::sign::PublicKey, String> {
        Err(format!("{} not read while fuzzing", p.display()))
    };
    let Ok(policy) = Policy::parse(Path::new("fuzz.json"), data, &no_files) else {
        return;
    };
    let name = std::str::from_utf8(data).unwrap_or("registry.local/ebpf/probe:1.0");
    for n in [Some(name), Some("probe"), None] {
        let (_, requirements) = policy.requirements_for(n);
        assert!(!requirements.is_empty());
        for r in requirements {
            if let Requirement::SigstoreSigned { identity, .. } = r {
                let _ = identity.accepts(n, name);
            }
        }
    }
});
