//! Archives: what `pack -o x.tar|x.tar.gz` writes, byte for byte; reading archives in
//! place wherever a REF is accepted (files, gzip by content, standard input); and
//! interoperability with skopeo's `oci-archive:` transport and GNU tar.

use std::io::{Read, Write};
use std::path::Path;

use predicates::prelude::*;
use predicates::str::contains;

use crate::util::*;

// ---- helpers shared with tests/hostile.rs and tests/copy.rs ----

/// One raw POSIX ustar header block: `name` (≤ 100 bytes, stored as given), type flag,
/// size (octal, or base-256 above 8 GiB), link target; checksum computed.
pub fn raw_header(name: &[u8], typeflag: u8, size: u64, link: &[u8]) -> Vec<u8> {
    assert!(name.len() <= 100 && link.len() <= 100);
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..108].copy_from_slice(if typeflag == b'5' {
        b"0000755\0"
    } else {
        b"0000644\0"
    });
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    if size < 1 << 33 {
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    } else {
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A tar stream built entry by entry from raw headers.
#[derive(Default, Clone)]
pub struct RawTar(pub Vec<u8>);

impl RawTar {
    pub fn new() -> Self {
        Self::default()
    }
    /// A regular file.
    pub fn file(mut self, name: &str, data: &[u8]) -> Self {
        self.0
            .extend(raw_header(name.as_bytes(), b'0', data.len() as u64, b""));
        self.0.extend_from_slice(data);
        self.pad()
    }
    /// Any entry, with raw name bytes, type, link and data.
    pub fn entry(mut self, name: &[u8], typeflag: u8, link: &[u8], data: &[u8]) -> Self {
        self.0
            .extend(raw_header(name, typeflag, data.len() as u64, link));
        self.0.extend_from_slice(data);
        self.pad()
    }
    pub fn dir(mut self, name: &str) -> Self {
        self.0.extend(raw_header(name.as_bytes(), b'5', 0, b""));
        self
    }
    fn pad(mut self) -> Self {
        let n = self.0.len().div_ceil(512) * 512;
        self.0.resize(n, 0);
        self
    }
    /// The end-of-archive marker.
    pub fn end(mut self) -> Vec<u8> {
        self.0.extend([0u8; 1024]);
        self.0
    }
}

/// Every file of a layout directory as archive entries (oci-layout, index.json, blobs),
/// in our order.
pub fn layout_files(layout: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        (
            "oci-layout".to_string(),
            std::fs::read(layout.join("oci-layout")).unwrap(),
        ),
        (
            "index.json".to_string(),
            std::fs::read(layout.join("index.json")).unwrap(),
        ),
    ];
    let mut blobs: Vec<_> = std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    blobs.sort();
    for b in blobs {
        let name = format!("blobs/sha256/{}", b.file_name().unwrap().to_str().unwrap());
        out.push((name, std::fs::read(&b).unwrap()));
    }
    out
}

/// gzip of `bytes` (flate2, default level).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// gunzip.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Headers of a tar stream, as the tar crate reads them.
struct Header {
    path: String,
    kind: tar::EntryType,
    size: u64,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    user: Vec<u8>,
    group: Vec<u8>,
}

fn headers(tar_bytes: &[u8]) -> Vec<Header> {
    let mut a = tar::Archive::new(tar_bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            Header {
                path: String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                kind: h.entry_type(),
                size: h.size().unwrap(),
                mode: h.mode().unwrap(),
                uid: h.uid().unwrap(),
                gid: h.gid().unwrap(),
                mtime: h.mtime().unwrap(),
                user: h.username_bytes().unwrap_or_default().to_vec(),
                group: h.groupname_bytes().unwrap_or_default().to_vec(),
            }
        })
        .collect()
}

fn pack_to(out: &Path, objects: &[&str]) -> assert_cmd::assert::Assert {
    let mut c = ebpf_layout();
    c.arg("pack");
    for o in objects {
        c.arg(testdata(o));
    }
    c.arg("-o").arg(out).assert()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

// ---- what we write ----

#[test]
fn pack_to_tar_writes_sorted_entries_with_fixed_headers_and_nothing_else() {
    let d = Dir::new();
    let out = d.path("bundle.tar");
    pack_to(&out, &["tp_counter.bpf.o", "xdp_count.bpf.o"])
        .success()
        .stdout(contains("bundle.tar: 2 image(s) packed"));
    // The archive only: no layout folder, no temporary file beside it.
    assert_eq!(names_in(d.root()), ["bundle.tar"]);
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes.len() % 512, 0);
    assert!(bytes[bytes.len() - 1024..].iter().all(|&b| b == 0));
    let hs = headers(&bytes);
    let paths: Vec<&str> = hs.iter().map(|h| h.path.as_str()).collect();
    assert_eq!(
        paths[..4],
        ["oci-layout", "index.json", "blobs/", "blobs/sha256/"]
    );
    let blobs = &paths[4..];
    assert_eq!(blobs.len(), 6, "2 manifests, 2 configs, 2 programs");
    let mut sorted = blobs.to_vec();
    sorted.sort();
    assert_eq!(blobs, sorted.as_slice(), "blobs sorted by digest");
    for h in &hs {
        assert!(!h.path.starts_with("./") && !h.path.starts_with('/'));
        assert!(!h.path.contains(".ebpf-layout"));
        assert_eq!((h.uid, h.gid, h.mtime), (0, 0, 0), "{}", h.path);
        assert!(h.user.is_empty() && h.group.is_empty(), "{}", h.path);
        match h.kind {
            tar::EntryType::Directory => assert_eq!(h.mode, 0o755),
            tar::EntryType::Regular => assert_eq!(h.mode, 0o644),
            other => panic!("{}: {other:?}", h.path),
        }
    }
    // The content is the layout pack would write, entry for entry.
    let layout = d.path("layout");
    pack(&layout, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    let mut a = tar::Archive::new(&bytes[..]);
    let mut from_tar = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type() == tar::EntryType::Regular {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            from_tar.push((
                String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                data,
            ));
        }
    }
    assert_eq!(from_tar, layout_files(&layout));
    assert_eq!(hs[0].size, 30);
}

#[test]
fn pack_to_an_archive_is_reproducible_and_equals_pack_then_copy() {
    let d = Dir::new();
    let objects = ["multi_prog.bpf.o", "tp_counter.bpf.o", "xdp_count.bpf.o"];
    for ext in ["tar", "tar.gz"] {
        let a = d.path(&format!("a.{ext}"));
        let b = d.path(&format!("b.{ext}"));
        pack_to(&a, &objects).success();
        pack_to(&b, &objects).success();
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{ext}"
        );
    }
    // The same images through a layout and `copy` give the very same archive.
    let layout = d.path("layout");
    pack(&layout, &objects);
    for ext in ["tar", "tar.gz"] {
        let c = d.path(&format!("c.{ext}"));
        ebpf_layout()
            .arg("copy")
            .arg(&layout)
            .arg(&c)
            .assert()
            .success();
        assert_eq!(
            std::fs::read(&c).unwrap(),
            std::fs::read(d.path(&format!("a.{ext}"))).unwrap(),
            "{ext}"
        );
    }
    // .tar.gz is the .tar, gzipped with a fixed header: no name, mtime 0, OS 255.
    let gz = std::fs::read(d.path("a.tar.gz")).unwrap();
    assert_eq!(gz[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    assert_eq!(gunzip(&gz), std::fs::read(d.path("a.tar")).unwrap());
}

#[test]
fn archive_to_a_fresh_layout_and_back_is_byte_identical() {
    let d = Dir::new();
    for ext in ["tar", "tar.gz"] {
        let original = d.path(&format!("original.{ext}"));
        pack_to(&original, &["tp_counter.bpf.o", "ringbuf_events.bpf.o"]).success();
        let layout = d.path(&format!("layout-{}", ext.replace('.', "-")));
        ebpf_layout()
            .arg("copy")
            .arg(&original)
            .arg(&layout)
            .assert()
            .success();
        let back = d.path(&format!("back.{ext}"));
        ebpf_layout()
            .arg("copy")
            .arg(&layout)
            .arg(&back)
            .assert()
            .success();
        assert_eq!(
            std::fs::read(&original).unwrap(),
            std::fs::read(&back).unwrap(),
            "{ext}"
        );
        // archive → archive too.
        let again = d.path(&format!("again.{ext}"));
        ebpf_layout()
            .arg("copy")
            .arg(&back)
            .arg(&again)
            .assert()
            .success();
        assert_eq!(
            std::fs::read(&original).unwrap(),
            std::fs::read(&again).unwrap()
        );
    }
}

#[test]
fn source_date_epoch_sets_every_entry_mtime() {
    let d = Dir::new();
    let out = d.path("bundle.tar");
    ebpf_layout()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    for h in headers(&std::fs::read(&out).unwrap()) {
        assert_eq!(h.mtime, 1_700_000_000, "{}", h.path);
    }
}

#[test]
fn packing_into_an_existing_archive_adds_to_it_like_a_layout() {
    let d = Dir::new();
    let out = d.path("bundle.tar.gz");
    pack_to(&out, &["tp_counter.bpf.o"]).success();
    pack_to(&out, &["xdp_count.bpf.o"])
        .success()
        .stdout(contains("added"));
    ebpf_layout()
        .arg("list")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("tp_counter").and(contains("xdp_count")));
    // Identical to packing both at once; re-packing changes nothing.
    let both = d.path("both.tar.gz");
    pack_to(&both, &["tp_counter.bpf.o", "xdp_count.bpf.o"]).success();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&both).unwrap());
    pack_to(&out, &["xdp_count.bpf.o"])
        .success()
        .stdout(contains("unchanged"));
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&both).unwrap());
    assert_eq!(names_in(d.root()), ["both.tar.gz", "bundle.tar.gz"]);
    // A name moved to a new object leaves no stale blob behind in the archive.
    ebpf_layout()
        .arg("pack")
        .arg(testdata("multi_prog.bpf.o"))
        .args(["--tag", "xdp_count", "-o"])
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("moved"));
    let paths: Vec<String> = headers(&gunzip(&std::fs::read(&out).unwrap()))
        .into_iter()
        .map(|h| h.path)
        .collect();
    assert_eq!(paths.len(), 4 + 6, "{paths:?}");
}

#[test]
fn a_bad_object_leaves_no_archive_and_no_temporary_file() {
    let d = Dir::new();
    let out = d.path("bundle.tar");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .arg(testdata("not-bpf/README.txt"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2);
    assert!(names_in(d.root()).is_empty());
}

#[test]
fn concurrent_packs_into_one_archive_lose_no_image() {
    let d = Dir::new();
    let out = d.path("shared.tar");
    let objects = [
        "tp_counter.bpf.o",
        "xdp_count.bpf.o",
        "multi_prog.bpf.o",
        "ringbuf_events.bpf.o",
    ];
    let children: Vec<_> = objects
        .iter()
        .map(|o| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("ebpf-layout"))
                .arg("pack")
                .arg(testdata(o))
                .arg("-o")
                .arg(&out)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let listed = ebpf_layout().arg("list").arg(&out).assert().success();
    let stdout = String::from_utf8_lossy(&listed.get_output().stdout).into_owned();
    for o in objects {
        assert!(
            stdout.contains(o.trim_end_matches(".bpf.o")),
            "{o} lost:\n{stdout}"
        );
    }
    assert_eq!(names_in(d.root()), ["shared.tar"], "no temporary file left");
}

#[test]
fn temporary_files_of_killed_writers_are_cleaned_up() {
    let d = Dir::new();
    let dead = d.path(".bundle.tar.4194303-7.tmp");
    let alive = d.path(&format!(".bundle.tar.{}-0.tmp", std::process::id()));
    let other = d.path(".other.tar.4194303-7.tmp");
    for p in [&dead, &alive, &other] {
        std::fs::write(p, b"partial").unwrap();
    }
    pack_to(&d.path("bundle.tar"), &["tp_counter.bpf.o"]).success();
    assert!(!dead.exists(), "a dead writer's temporary file is removed");
    assert!(alive.exists() && other.exists(), "others are not touched");
}

#[test]
fn archives_get_the_mode_a_plain_create_gives_under_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let d = Dir::new();
    let out = d.path("bundle.tar");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 027 && exec \"$0\" \"$@\"")
        .arg(assert_cmd::cargo::cargo_bin("ebpf-layout"))
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o640,
        "0666 less umask 027, not a temporary file's 0600"
    );
}

#[test]
fn an_archive_in_a_missing_folder_is_named() {
    let d = Dir::new();
    pack_to(&d.path("no/such/bundle.tar"), &["tp_counter.bpf.o"])
        .code(2)
        .stderr(contains("folder").and(contains("does not exist")));
    assert!(names_in(d.root()).is_empty());
}

// ---- reading in place ----

#[test]
fn list_and_inspect_read_tar_tar_gz_and_stdin_without_extracting() {
    let d = Dir::new();
    let tar = d.path("bundle.tar");
    let tgz = d.path("bundle.tgz");
    pack_to(&tar, &["tp_counter.bpf.o", "xdp_count.bpf.o"]).success();
    pack_to(&tgz, &["tp_counter.bpf.o", "xdp_count.bpf.o"]).success();
    // The format comes from the content, not the name.
    let gz_named_tar = d.path("really-gzip.tar");
    std::fs::copy(&tgz, &gz_named_tar).unwrap();
    let tar_named_gz = d.path("really-plain.tar.gz");
    std::fs::copy(&tar, &tar_named_gz).unwrap();
    let before = snapshot(d.root());
    for archive in [&tar, &tgz, &gz_named_tar, &tar_named_gz] {
        ebpf_layout()
            .arg("list")
            .arg(archive)
            .assert()
            .success()
            .stdout(
                contains("tp_counter")
                    .and(contains("xdp_count"))
                    .and(contains("bee")),
            );
        ebpf_layout()
            .arg("inspect")
            .arg(format!("{}:xdp_count", archive.display()))
            .assert()
            .success()
            .stdout(contains("xdp").and(contains("GPL")));
        ebpf_layout().arg("verify").arg(archive).assert().success();
    }
    for archive in [&tar, &tgz] {
        ebpf_layout()
            // `--`: a value starting with '-' is not an option (inspect's REF does not
            // allow hyphen values).
            .args(["inspect", "--json", "--", "-:tp_counter"])
            .pipe_stdin(archive)
            .unwrap()
            .assert()
            .success()
            .stdout(contains("\"digest\""));
        ebpf_layout()
            .args(["list", "-"])
            .pipe_stdin(archive)
            .unwrap()
            .assert()
            .success()
            .stdout(contains("xdp_count"));
    }
    assert_eq!(
        snapshot(d.root()),
        before,
        "reading must not write anything"
    );
}

#[test]
fn digest_references_work_on_archives() {
    let d = Dir::new();
    let layout = d.path("layout");
    pack(&layout, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    let digest = digest_of(&layout, "xdp_count");
    let tgz = d.path("b.tar.gz");
    ebpf_layout()
        .arg("copy")
        .arg(&layout)
        .arg(&tgz)
        .assert()
        .success();
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}@{digest}", tgz.display()))
        .assert()
        .success()
        .stdout(contains("xdp_count"));
}

#[test]
fn files_that_are_not_archives_say_what_they_are() {
    let d = Dir::new();
    let text = d.path("notes.tar");
    std::fs::write(
        &text,
        "just some text, long enough to fill a header? no.\n".repeat(20),
    )
    .unwrap();
    ebpf_layout()
        .arg("list")
        .arg(&text)
        .assert()
        .code(2)
        .stderr(contains("notes.tar").and(contains("not a tar archive")));
    let zst = d.path("b.tar.zst");
    std::fs::write(&zst, [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]).unwrap();
    ebpf_layout()
        .arg("list")
        .arg(&zst)
        .assert()
        .code(2)
        .stderr(contains("zstd").and(contains("zstd -d")));
    let empty = d.path("empty.tar");
    std::fs::write(&empty, b"").unwrap();
    ebpf_layout()
        .arg("list")
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(contains("empty"));
    // A tarball of a folder that holds a layout: say where the layout is.
    let inner = d.path("inner");
    pack(&inner, &["tp_counter.bpf.o"]);
    let mut t = RawTar::new();
    for (name, data) in layout_files(&inner) {
        t = t.file(&format!("bundle/{name}"), &data);
    }
    let nested = d.path("nested.tar");
    std::fs::write(&nested, t.end()).unwrap();
    ebpf_layout()
        .arg("list")
        .arg(&nested)
        .assert()
        .code(2)
        .stderr(contains("inside folder bundle/"));
}

#[test]
fn dot_slash_prefixes_unknown_files_and_missing_folder_entries_are_tolerated() {
    let d = Dir::new();
    let layout = d.path("layout");
    pack(&layout, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    // As `tar -cf x.tar -C layout .` writes it: "./" entries, "./" prefixes; plus an
    // unknown file and no folder entries at all for blobs/.
    let mut t = RawTar::new().dir("./").file("./README.md", b"hello\n");
    for (name, data) in layout_files(&layout) {
        t = t.file(&format!("./{name}"), &data);
    }
    let tolerant = d.path("tolerant.tar");
    std::fs::write(&tolerant, t.end()).unwrap();
    ebpf_layout()
        .arg("list")
        .arg(&tolerant)
        .assert()
        .success()
        .stdout(contains("tp_counter").and(contains("xdp_count")));
    let copied = d.path("copied");
    ebpf_layout()
        .arg("copy")
        .arg(&tolerant)
        .arg(&copied)
        .assert()
        .success();
    assert_eq!(index_json(&copied), index_json(&layout));
    // GNU tar's own output reads the same.
    if require_tool("tar") {
        let gnu = d.path("gnu.tar.gz");
        run_tool(
            "tar",
            &[
                "-czf",
                gnu.to_str().unwrap(),
                "-C",
                layout.to_str().unwrap(),
                ".",
            ],
        );
        ebpf_layout()
            .arg("list")
            .arg(&gnu)
            .assert()
            .success()
            .stdout(contains("xdp_count"));
    }
}

#[test]
fn gnu_tar_extracts_our_archives_without_warnings() {
    if !require_tool("tar") {
        return;
    }
    let d = Dir::new();
    let tgz = d.path("b.tar.gz");
    pack_to(&tgz, &["tp_counter.bpf.o"]).success();
    let x = d.path("x");
    std::fs::create_dir(&x).unwrap();
    let out = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(&x)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ebpf_layout().arg("verify").arg(&x).assert().success();
}

// ---- skopeo ----

#[test]
fn skopeo_copies_from_our_archives_with_the_same_digests() {
    if !require_tool("skopeo") {
        return;
    }
    let d = Dir::new();
    let layout = d.path("layout");
    pack(&layout, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    for ext in ["tar", "tar.gz"] {
        let archive = d.path(&format!("ours.{ext}"));
        ebpf_layout()
            .arg("copy")
            .arg(&layout)
            .arg(&archive)
            .assert()
            .success();
        let theirs = d.path(&format!("theirs-{}", ext.replace('.', "-")));
        for name in ["tp_counter", "xdp_count"] {
            run_tool(
                "skopeo",
                &[
                    "copy",
                    "--quiet",
                    &format!("oci-archive:{}:{name}", archive.display()),
                    &format!("oci:{}:{name}", theirs.display()),
                ],
            );
            assert_eq!(
                digest_of(&theirs, name),
                digest_of(&layout, name),
                "{ext} {name}"
            );
            let raw = run_tool(
                "skopeo",
                &[
                    "inspect",
                    "--raw",
                    &format!("oci-archive:{}:{name}", archive.display()),
                ],
            );
            assert_eq!(raw, blob(&layout, &digest_of(&layout, name)));
        }
    }
}

#[test]
fn we_read_skopeo_archives_plain_and_gzipped() {
    if !require_tool("skopeo") {
        return;
    }
    let d = Dir::new();
    let layout = d.path("layout");
    pack(&layout, &["multi_prog.bpf.o"]);
    ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .args(["--tag", "ghcr.io/acme/probe:1.2", "-o"])
        .arg(&layout)
        .assert()
        .success();
    let theirs = d.path("theirs.tar");
    run_tool(
        "skopeo",
        &[
            "copy",
            "--quiet",
            &format!("oci:{}:ghcr.io/acme/probe:1.2", layout.display()),
            &format!("oci-archive:{}:ghcr.io/acme/probe:1.2", theirs.display()),
        ],
    );
    let theirs_gz = d.path("theirs.tar.gz");
    std::fs::write(&theirs_gz, gzip(&std::fs::read(&theirs).unwrap())).unwrap();
    let want = digest_of(&layout, "ghcr.io/acme/probe:1.2");
    for archive in [&theirs, &theirs_gz] {
        ebpf_layout()
            .arg("list")
            .arg(archive)
            .arg("--no-trunc")
            .assert()
            .success()
            .stdout(contains("ghcr.io/acme/probe:1.2").and(contains(want.as_str())));
        ebpf_layout()
            .arg("inspect")
            .arg(format!("{}:ghcr.io/acme/probe:1.2", archive.display()))
            .assert()
            .success()
            .stdout(contains("count_getpid"));
        ebpf_layout().arg("verify").arg(archive).assert().success();
        let imported = d.path(&format!(
            "imported-{}",
            archive
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace('.', "-")
        ));
        ebpf_layout()
            .arg("copy")
            .arg(archive)
            .arg(&imported)
            .assert()
            .success();
        assert_eq!(digest_of(&imported, "ghcr.io/acme/probe:1.2"), want);
    }
}
