//! The same hostile bytes read by all three archive readers — a plain `.tar` file (random
//! access), the bytes gzipped in a `.tar.gz` file, and the raw bytes as a stream (as from
//! standard input) — must get the same verdict: a reader that accepts what another
//! refuses has parsed something differently (the PAX size overflow of issue #13 did).
#![no_main]

use std::io::Write;
use std::path::Path;

use ebpf_layout::archive::{Limits, StreamArchive, TarArchive};
use ebpf_layout::oci::Selector;
use ebpf_layout::progress::Progress;
use ebpf_layout::store::ImageSource;
use libfuzzer_sys::fuzz_target;

/// Whether `verify` passes on what `archive` opened (an error opening is a refusal).
fn accepted(archive: ebpf_layout::store::Result<impl ImageSource>) -> bool {
    let Ok(archive) = archive else {
        return false;
    };
    matches!(
        ebpf_layout::verify::verify(
            &archive,
            "fuzz",
            &Selector::All,
            &ebpf_layout::verify::VerifyOptions::default(),
        ),
        Ok(report) if report.ok
    )
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_uncompressed: 64 << 20,
        max_stdin_buffer: 16 << 20,
        max_entries: 10_000,
        ..Limits::default()
    };
    // Bytes that start like gzip are a different format for the plain reader: only
    // plain tar bytes give all three readers the same tar stream.
    if data.starts_with(&[0x1f, 0x8b]) {
        return;
    }
    let progress = Progress::none();
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("fuzz.tar");
    let tgz = dir.path().join("fuzz.tar.gz");
    std::fs::write(&tar, data).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    std::fs::write(&tgz, gz.finish().unwrap()).unwrap();

    let plain = accepted(TarArchive::open(&tar, &limits, &progress));
    let gzipped = accepted(StreamArchive::open(&tgz, &limits, &progress));
    let streamed = accepted(StreamArchive::from_reader(
        Box::new(std::io::Cursor::new(data.to_vec())),
        Path::new("fuzz"),
        &limits,
        &progress,
    ));
    assert_eq!(plain, gzipped, ".tar and .tar.gz disagree");
    assert_eq!(plain, streamed, ".tar and the stream disagree");
});
