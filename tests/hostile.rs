//! Hostile archives, each built here from raw tar headers: every one is refused with a
//! message naming the archive and the entry, a non-zero exit, nothing written outside
//! the destination, and the destination exactly as it was — for `.tar`, the same bytes
//! gzipped, and (where it matters) standard input.

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use predicates::str::contains;

use crate::archive::{gzip, layout_files, raw_header, RawTar};
use crate::util::*;

/// A test directory with a valid layout's files at hand and an existing destination
/// layout that must never change.
struct Bench {
    d: Dir,
    files: Vec<(String, Vec<u8>)>,
    dest: PathBuf,
}

impl Bench {
    fn new() -> Self {
        let d = Dir::new();
        let good = d.path("good");
        pack(&good, &["tp_counter.bpf.o"]);
        let files = layout_files(&good);
        std::fs::remove_dir_all(&good).unwrap();
        std::fs::create_dir(d.path("work")).unwrap();
        let dest = d.path("work/dest");
        pack(&dest, &["xdp_count.bpf.o"]);
        Self { d, files, dest }
    }

    /// Everything a test writes lives under `work/`; its parent must stay as it is.
    fn path(&self, rel: &str) -> PathBuf {
        self.d.path("work").join(rel)
    }

    fn root(&self) -> PathBuf {
        self.d.path("work")
    }

    /// The valid layout as a tar, with `edit` applied to the list of (name, data) first.
    fn tar_with(&self, edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> RawTar {
        let mut files = self.files.clone();
        edit(&mut files);
        let mut t = RawTar::new();
        for (name, data) in &files {
            t = t.file(name, data);
        }
        t
    }

    fn valid(&self) -> RawTar {
        self.tar_with(|_| {})
    }

    /// A blob path of the valid layout: 0 = the first in sorted order.
    fn blob_name(&self, i: usize) -> String {
        self.files[2 + i].0.clone()
    }

    /// Writes `bytes` as evil.tar and evil.tar.gz, and asserts for each that `copy` (into
    /// the existing layout, a new layout, and a new archive) and `list` fail with `code`
    /// and every needle in stderr, and that nothing changed anywhere.
    fn refused(&self, bytes: &[u8], code: i32, needles: &[&str]) {
        let tar = self.path("evil.tar");
        let tgz = self.path("evil.tar.gz");
        std::fs::write(&tar, bytes).unwrap();
        std::fs::write(&tgz, gzip(bytes)).unwrap();
        let before = snapshot(&self.root());
        for archive in [&tar, &tgz] {
            let runs: Vec<Vec<String>> = vec![
                vec!["copy".into(), s(archive), s(&self.dest)],
                vec!["copy".into(), s(archive), s(&self.path("fresh"))],
                vec!["copy".into(), s(archive), s(&self.path("fresh.tar"))],
                vec!["list".into(), s(archive)],
            ];
            for args in runs {
                let assert = ebpf_layout().args(&args).assert().code(code);
                let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
                assert!(
                    stderr.contains(&archive.display().to_string()),
                    "{args:?}: stderr does not name the archive:\n{stderr}"
                );
                for n in needles {
                    assert!(
                        stderr.contains(n),
                        "{args:?}: stderr lacks {n:?}:\n{stderr}"
                    );
                }
                assert_eq!(snapshot(&self.root()), before, "{args:?} changed something");
                assert_eq!(listing(self.d.root()), ["work"], "{args:?} wrote outside");
            }
        }
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn names_with_dot_dot_are_refused() {
    let b = Bench::new();
    for name in [
        "../escaped-by-ebpf-layout-test",
        "blobs/../../escaped",
        "./../x",
    ] {
        let t = b.valid().file(name, b"owned");
        b.refused(&t.end(), 2, &[name, "'..'"]);
    }
}

#[test]
fn absolute_names_are_refused() {
    let b = Bench::new();
    let name = "/tmp/escaped-by-ebpf-layout-test";
    let t = b.valid().file(name, b"owned");
    b.refused(&t.end(), 2, &[name, "absolute"]);
    assert!(!Path::new(name).exists());
}

#[test]
fn dot_dot_hidden_in_a_pax_path_is_refused() {
    let b = Bench::new();
    let record = "path=../escaped-through-pax\n";
    let pax = format!("{} {record}", record.len() + 3);
    let mut t = b.valid();
    t.0.extend(raw_header(b"PaxHeaders/x", b'x', pax.len() as u64, b""));
    t.0.extend(pax.as_bytes());
    let n = t.0.len().div_ceil(512) * 512;
    t.0.resize(n, 0);
    let t = t.file("harmless-name", b"owned");
    b.refused(&t.end(), 2, &["../escaped-through-pax", "'..'"]);
}

#[test]
fn symlinked_and_hardlinked_blobs_are_refused() {
    let b = Bench::new();
    let victim = b.blob_name(0);
    for (typeflag, word) in [(b'2', "symbolic link"), (b'1', "hard link")] {
        let t = b.tar_with(|f| f.retain(|(n, _)| n != &victim)).entry(
            victim.as_bytes(),
            typeflag,
            b"/etc/passwd",
            b"",
        );
        b.refused(&t.end(), 2, &[&victim, word, "/etc/passwd"]);
    }
}

#[test]
fn folders_that_are_links_to_write_through_are_refused() {
    let b = Bench::new();
    // `blobs` is a symlink to /tmp, then blobs are written "into" it.
    let mut t = RawTar::new()
        .file("oci-layout", &b.files[0].1)
        .file("index.json", &b.files[1].1)
        .entry(b"blobs", b'2', b"/tmp", b"");
    for (name, data) in &b.files[2..] {
        t = t.file(name, data);
    }
    b.refused(&t.end(), 2, &["\"blobs\"", "symbolic link", "/tmp"]);
    // A hard link standing for blobs/sha256.
    let mut t = RawTar::new()
        .file("oci-layout", &b.files[0].1)
        .file("index.json", &b.files[1].1)
        .dir("blobs/")
        .entry(b"blobs/sha256", b'1', b"../..", b"");
    for (name, data) in &b.files[2..] {
        t = t.file(name, data);
    }
    b.refused(&t.end(), 2, &["blobs/sha256", "hard link"]);
}

#[test]
fn devices_and_fifos_are_refused() {
    let b = Bench::new();
    for (typeflag, word) in [
        (b'3', "character device"),
        (b'4', "block device"),
        (b'6', "fifo"),
    ] {
        let t = b.valid().entry(b"dev-entry", typeflag, b"", b"");
        b.refused(&t.end(), 2, &["dev-entry", word]);
    }
    // And as a blob.
    let victim = b.blob_name(1);
    let t =
        b.tar_with(|f| f.retain(|(n, _)| n != &victim))
            .entry(victim.as_bytes(), b'3', b"", b"");
    b.refused(&t.end(), 2, &[&victim, "character device"]);
}

#[test]
fn duplicate_entries_are_refused() {
    let b = Bench::new();
    let t = b
        .valid()
        .file("index.json", br#"{"schemaVersion":2,"manifests":[]}"#);
    b.refused(&t.end(), 2, &["index.json", "appears twice"]);
    // The same blob twice, once with a ./ prefix.
    let dup = b.blob_name(2);
    let data = b.files[4].1.clone();
    let t = b.valid().file(&format!("./{dup}"), &data);
    b.refused(&t.end(), 2, &[&dup, "appears twice"]);
}

#[test]
fn blob_names_that_are_not_digests_are_refused() {
    let b = Bench::new();
    let hex = b
        .blob_name(0)
        .trim_start_matches("blobs/sha256/")
        .to_string();
    for (name, why) in [
        (
            "blobs/sha256/not-a-digest".to_string(),
            "not a valid digest",
        ),
        (format!("blobs/sha256/{}", hex.to_uppercase()), "lowercase"),
        (format!("blobs/sha256/{}", &hex[..60]), "64 hex"),
        (format!("blobs/sha512/{hex}"), "only sha256"),
        (
            format!("blobs/sha256/{}/inner", "a".repeat(64)),
            "may hold only blobs",
        ),
    ] {
        let t = b.valid().file(&name, b"x");
        b.refused(&t.end(), 2, &[&name, why]);
    }
}

#[test]
fn a_blob_whose_bytes_do_not_match_its_name_is_an_integrity_failure() {
    let b = Bench::new();
    // The program blob (the largest one): same size, one byte changed.
    let (victim, _) = b
        .files
        .iter()
        .max_by_key(|(_, d)| d.len())
        .cloned()
        .unwrap();
    let t = b.tar_with(|f| {
        for (n, d) in f.iter_mut() {
            if n == &victim {
                d[200] ^= 1;
            }
        }
    });
    let bytes = t.end();
    let digest = victim.replace("blobs/sha256/", "sha256:");
    let tar = b.path("evil.tar");
    std::fs::write(&tar, &bytes).unwrap();
    std::fs::write(b.path("evil.tar.gz"), gzip(&bytes)).unwrap();
    let before = snapshot(&b.root());
    for archive in ["evil.tar", "evil.tar.gz"] {
        let archive = b.path(archive);
        for dst in [b.dest.clone(), b.path("fresh"), b.path("fresh.tar")] {
            ebpf_layout()
                .arg("copy")
                .arg(&archive)
                .arg(&dst)
                .assert()
                .code(1)
                .stderr(contains(digest.as_str()).and(contains("hashes to")));
        }
        ebpf_layout()
            .arg("inspect")
            .arg(&archive)
            .assert()
            .code(1)
            .stderr(contains(digest.as_str()));
        ebpf_layout()
            .arg("verify")
            .arg(&archive)
            .assert()
            .code(1)
            .stdout(contains("digest-mismatch"));
        assert_eq!(snapshot(&b.root()), before);
    }
}

#[test]
fn truncated_archives_are_named_as_truncated() {
    let b = Bench::new();
    let whole = b.valid().end();
    let last_blob = b.files.last().unwrap().1.len();
    // Cut inside the last blob's data, at a header boundary (no end marker), and
    // inside a header.
    let data_end = whole.len() - 1024;
    let cuts = [
        data_end - last_blob.div_ceil(512) * 512 + 10,
        data_end,
        data_end - last_blob.div_ceil(512) * 512 - 300,
    ];
    for cut in cuts {
        b.refused(&whole[..cut], 1, &["truncated", "copy it again"]);
    }
    // A .tar.gz cut short (the gzip stream itself ends early).
    let gz = gzip(&whole);
    let tgz = b.path("cut.tar.gz");
    std::fs::write(&tgz, &gz[..gz.len() / 2]).unwrap();
    let before = snapshot(&b.root());
    ebpf_layout()
        .arg("copy")
        .arg(&tgz)
        .arg(&b.dest)
        .assert()
        .failure()
        .stderr(contains("cut.tar.gz"));
    assert_eq!(snapshot(&b.root()), before);
}

#[test]
fn an_oversized_index_json_is_refused_unless_the_limit_is_raised() {
    let b = Bench::new();
    let mut index: serde_json::Value = serde_json::from_slice(&b.files[1].1).unwrap();
    index["annotations"] = serde_json::json!({"padding": "x".repeat(17 << 20)});
    let big = serde_json::to_vec(&index).unwrap();
    let t = b.tar_with(|f| f[1].1 = big.clone());
    let bytes = t.end();
    b.refused(
        &bytes,
        2,
        &["index.json", "over the limit", "--max-index-size"],
    );
    let tar = b.path("evil.tar");
    ebpf_layout()
        .args(["list", "--max-index-size", "32M"])
        .arg(&tar)
        .assert()
        .success()
        .stdout(contains("tp_counter"));
    ebpf_layout()
        .arg("list")
        .env("EBPF_LAYOUT_MAX_INDEX_SIZE", "32M")
        .arg(&tar)
        .assert()
        .success();
    // And lowered: a normal archive refused under a tiny limit.
    let normal = b.path("normal.tar");
    std::fs::write(&normal, b.valid().end()).unwrap();
    ebpf_layout()
        .args(["list", "--max-index-size", "100"])
        .arg(&normal)
        .assert()
        .code(2)
        .stderr(contains("over the limit of 100 bytes"));
}

#[test]
fn an_oversized_manifest_is_refused() {
    let b = Bench::new();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
        "layers": [],
        "annotations": {"padding": "x".repeat(5 << 20)}
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let hex = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": format!("sha256:{hex}"), "size": bytes.len(),
                       "annotations": {"org.opencontainers.image.ref.name": "huge"}}]
    });
    let t = RawTar::new()
        .file("oci-layout", &b.files[0].1)
        .file("index.json", &serde_json::to_vec(&index).unwrap())
        .file(&format!("blobs/sha256/{hex}"), &bytes)
        .file(
            "blobs/sha256/44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            b"{}",
        );
    b.refused(&t.end(), 2, &[&hex, "over the limit of 4194304 bytes"]);
    // A lower limit applies to copy.
    let normal = b.path("normal.tar");
    std::fs::write(&normal, b.valid().end()).unwrap();
    ebpf_layout()
        .args(["copy", "--max-manifest-size", "100"])
        .arg(&normal)
        .arg(b.path("out"))
        .assert()
        .code(2)
        .stderr(contains("over the limit of 100 bytes"));
}

#[test]
fn deeply_nested_index_json_is_refused_without_crashing() {
    let b = Bench::new();
    let mut nested = String::from(r#"{"schemaVersion":2,"manifests":[],"x":"#);
    nested.push_str(&"[".repeat(200_000));
    let t = b.tar_with(|f| f[1].1 = nested.into_bytes());
    b.refused(&t.end(), 2, &["index.json", "not valid", "recursion limit"]);
}

/// A gzip bomb: one tar header for a 16 GiB blob, then gzip members of 64 MiB of zeros
/// each (concatenated members are one valid gzip stream), about 1000:1.
fn bomb(members: usize) -> Vec<u8> {
    let hex = "0".repeat(64);
    let mut head = RawTar::new()
        .file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
        .file("index.json", br#"{"schemaVersion":2,"manifests":[]}"#)
        .0;
    head.extend(raw_header(
        format!("blobs/sha256/{hex}").as_bytes(),
        b'0',
        16 << 30,
        b"",
    ));
    let mut out = gzip(&head);
    let zeros = gzip(&vec![0u8; 64 << 20]);
    for _ in 0..members {
        out.extend_from_slice(&zeros);
    }
    out
}

/// Runs the binary under a 1 GiB address-space limit: a reader that tried to hold the
/// bomb in memory would fail to allocate instead of passing.
fn bounded(args: &str) -> assert_cmd::assert::Assert {
    let bin = assert_cmd::cargo::cargo_bin("ebpf-layout");
    assert_cmd::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v 1048576; exec {} {args}", bin.display()))
        .assert()
}

#[test]
fn a_gzip_bomb_is_stopped_by_the_ratio_and_size_limits_in_small_memory() {
    let b = Bench::new();
    let bomb_path = b.path("bomb.tar.gz");
    std::fs::write(&bomb_path, bomb(48)).unwrap();
    let before = snapshot(&b.root());
    let p = bomb_path.display();
    // Default limits: the ratio stops it after the 64 MiB grace.
    bounded(&format!("list {p}")).code(2).stderr(
        contains("bomb.tar.gz")
            .and(contains("gzip bomb"))
            .and(contains("--max-ratio")),
    );
    bounded(&format!("copy {p} {}", b.dest.display()))
        .code(2)
        .stderr(contains("gzip bomb"));
    bounded(&format!("verify {p}"))
        .code(2)
        .stderr(contains("gzip bomb"));
    // With the ratio check off, the total size limit stops it.
    bounded(&format!("list --max-ratio 0 --max-uncompressed 256M {p}"))
        .code(2)
        .stderr(
            contains("expands to more than 268435456 bytes").and(contains("--max-uncompressed")),
        );
    // From standard input too.
    bounded(&format!("list - < {p}"))
        .code(2)
        .stderr(contains("standard input").and(contains("gzip bomb")));
    assert_eq!(snapshot(&b.root()), before);
}

#[test]
fn archive_metadata_and_entry_counts_are_bounded() {
    let b = Bench::new();
    // A PAX header claiming a gigabyte of metadata.
    let mut t = b.valid();
    t.0.extend(raw_header(b"PaxHeaders/x", b'x', 1 << 30, b""));
    b.refused(
        &t.end(),
        2,
        &["PAX extended header", "limit for tar metadata"],
    );
    let normal = b.path("normal.tar");
    std::fs::write(&normal, b.valid().end()).unwrap();
    ebpf_layout()
        .args(["list", "--max-entries", "3"])
        .arg(&normal)
        .assert()
        .code(2)
        .stderr(contains("more than 3 entries").and(contains("--max-entries")));
}

#[test]
fn an_entry_under_a_file_is_refused() {
    let b = Bench::new();
    let t = b.valid().file("index.json/inner", b"x");
    b.refused(
        &t.end(),
        2,
        &["index.json/inner", "lies under index.json, which is a file"],
    );
}
