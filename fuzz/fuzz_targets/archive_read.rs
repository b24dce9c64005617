//! Reading hostile tar / tar.gz bytes as a stream (as from standard input), then walking
//! what was read like `list` and `verify` do: errors, never panics, and memory bounded
//! by the limits.
#![no_main]

use std::path::Path;

use ebpf_layout::archive::{Limits, StreamArchive};
use ebpf_layout::oci::Selector;
use ebpf_layout::store::ImageSource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_uncompressed: 64 << 20,
        max_stdin_buffer: 16 << 20,
        max_entries: 10_000,
        ..Limits::default()
    };
    let reader = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(archive) = StreamArchive::from_reader(
        reader,
        Path::new("fuzz"),
        &limits,
        &ebpf_layout::progress::Progress::none(),
    ) else {
        return;
    };
    let _ = archive.scan();
    let _ = ebpf_layout::summary::list(&archive);
    let _ = ebpf_layout::verify::verify(
        &archive,
        "fuzz",
        &Selector::All,
        &ebpf_layout::verify::VerifyOptions::default(),
    );
});
