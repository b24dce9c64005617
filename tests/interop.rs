//! What we write is read by skopeo, umoci and the oci-spec crate (our conformance oracle);
//! what skopeo writes we read.

use std::collections::BTreeSet;
use std::path::Path;

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::util::*;

#[test]
fn skopeo_returns_our_manifest_byte_for_byte() {
    if !require_tool("skopeo") {
        return;
    }
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    for name in ["tp_counter", "xdp_count"] {
        let e = entry(&out, name);
        let raw = run_tool(
            "skopeo",
            &["inspect", "--raw", &format!("oci:{}:{name}", out.display())],
        );
        assert_eq!(raw, blob(&out, e["digest"].as_str().unwrap()), "{name}");
    }
}

#[test]
fn skopeo_copy_preserves_the_digest_and_we_read_its_layout() {
    if !require_tool("skopeo") {
        return;
    }
    let d = Dir::new();
    let out = d.path("bundle");
    let theirs = d.path("theirs");
    pack(&out, &["multi_prog.bpf.o"]);
    ebpf_layout()
        .args(["pack"])
        .arg(testdata("tp_counter.bpf.o"))
        .args(["--tag", "ghcr.io/acme/probe:1.2", "-o"])
        .arg(&out)
        .assert()
        .success();
    for name in ["multi_prog", "ghcr.io/acme/probe:1.2"] {
        run_tool(
            "skopeo",
            &[
                "copy",
                "--quiet",
                &format!("oci:{}:{name}", out.display()),
                &format!("oci:{}:{name}", theirs.display()),
            ],
        );
        assert_eq!(
            entry(&theirs, name)["digest"],
            entry(&out, name)["digest"],
            "{name}"
        );
    }
    // skopeo writes index.json without mediaType: we read it anyway.
    let index = index_json(&theirs);
    assert!(
        index.get("mediaType").is_none(),
        "skopeo 1.9 omits it: {index}"
    );
    ebpf_layout()
        .arg("list")
        .arg(&theirs)
        .assert()
        .success()
        .stdout(
            contains("multi_prog")
                .and(contains("ghcr.io/acme/probe:1.2"))
                .and(contains("bee")),
        );
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:ghcr.io/acme/probe:1.2", theirs.display()))
        .assert()
        .success()
        .stdout(contains("count_getpid"));
    // And we can add to a layout skopeo wrote, keeping its names.
    pack(&theirs, &["xdp_count.bpf.o"]);
    for name in ["multi_prog", "ghcr.io/acme/probe:1.2", "xdp_count"] {
        entry(&theirs, name);
    }
}

#[test]
fn umoci_lists_our_names() {
    if !require_tool("umoci") {
        return;
    }
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    let listed = String::from_utf8(run_tool(
        "umoci",
        &["ls", "--layout", out.to_str().unwrap()],
    ))
    .unwrap();
    let mut names: Vec<&str> = listed.lines().collect();
    names.sort();
    assert_eq!(names, ["tp_counter", "xdp_count"]);
}

/// The conformance oracle: reads a layout with the oci-spec crate's types only (not ours)
/// and checks it whole: `oci-layout`, index.json, and every manifest, index and config
/// reachable from it parse as oci-spec's types, and every descriptor's blob exists with
/// its size and sha256. Returns how many distinct blobs it checked.
pub(crate) fn oci_spec_check(layout: &Path) -> usize {
    use oci_spec::image::{ImageIndex, ImageManifest, MediaType, OciLayout};

    let layout_file: OciLayout =
        serde_json::from_slice(&std::fs::read(layout.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(layout_file.image_layout_version(), "1.0.0");
    let index: ImageIndex =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index.schema_version(), 2);
    assert_eq!(index.media_type(), &Some(MediaType::ImageIndex));

    fn check(layout: &Path, d: &oci_spec::image::Descriptor, seen: &mut BTreeSet<String>) {
        let digest = d.digest().to_string();
        let hex = d
            .as_digest_sha256()
            .expect("only sha256 digests are written");
        let bytes = std::fs::read(layout.join("blobs/sha256").join(hex))
            .unwrap_or_else(|e| panic!("blob {digest}: {e}"));
        assert_eq!(bytes.len() as u64, d.size(), "size of {digest}");
        assert_eq!(
            format!("sha256:{}", hex_of(&Sha256::digest(&bytes))),
            digest,
            "content of {digest}"
        );
        if !seen.insert(digest.clone()) {
            return;
        }
        match d.media_type() {
            MediaType::ImageManifest => {
                let m: ImageManifest = serde_json::from_slice(&bytes)
                    .unwrap_or_else(|e| panic!("manifest {digest}: {e}"));
                assert_eq!(m.schema_version(), 2, "{digest}");
                assert_eq!(m.media_type(), &Some(MediaType::ImageManifest), "{digest}");
                check(layout, m.config(), seen);
                if m.config().media_type() == &MediaType::ImageConfig {
                    let bytes = blob(layout, m.config().digest().as_ref());
                    serde_json::from_slice::<oci_spec::image::ImageConfiguration>(&bytes)
                        .unwrap_or_else(|e| panic!("config of {digest}: {e}"));
                }
                for layer in m.layers() {
                    check(layout, layer, seen);
                }
                if let Some(subject) = m.subject() {
                    check(layout, subject, seen);
                }
            }
            MediaType::ImageIndex => {
                let i: ImageIndex = serde_json::from_slice(&bytes)
                    .unwrap_or_else(|e| panic!("index {digest}: {e}"));
                assert_eq!(i.schema_version(), 2, "{digest}");
                assert_eq!(i.media_type(), &Some(MediaType::ImageIndex), "{digest}");
                for m in i.manifests() {
                    check(layout, m, seen);
                }
            }
            _ => {}
        }
    }
    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    let mut seen = BTreeSet::new();
    for d in index.manifests() {
        assert!(
            matches!(
                d.media_type(),
                MediaType::ImageManifest | MediaType::ImageIndex
            ),
            "index.json lists {}",
            d.media_type()
        );
        check(layout, d, &mut seen);
    }
    seen.len()
}

#[test]
fn oci_spec_reads_every_document_we_write() {
    use oci_spec::image::{ImageIndex, ImageManifest, MediaType};

    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    assert_eq!(
        oci_spec_check(&out),
        6,
        "2 manifests + 2 configs + 2 programs"
    );
    let index: ImageIndex =
        serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index.manifests().len(), 2);
    let desc = &index.manifests()[0];
    assert_eq!(
        desc.annotations()
            .as_ref()
            .unwrap()
            .get("org.opencontainers.image.ref.name")
            .map(String::as_str),
        Some("tp_counter")
    );
    let platform = desc
        .platform()
        .as_ref()
        .expect("index entries carry a platform");
    assert_eq!(platform.os().to_string(), "linux");
    let manifest: ImageManifest =
        serde_json::from_slice(&blob(&out, desc.digest().as_ref())).unwrap();
    assert_eq!(
        manifest.config().media_type(),
        &MediaType::Other("application/ebpf.oci.image.config.v1+json".into())
    );
    let layer = &manifest.layers()[0];
    assert_eq!(
        layer.media_type(),
        &MediaType::Other("application/ebpf.oci.image.program.v1+binary".into())
    );
    let e = entry(&out, "tp_counter");
    let ours: Value = serde_json::from_slice(&blob(&out, e["digest"].as_str().unwrap())).unwrap();
    assert_eq!(
        layer.digest().to_string(),
        ours["layers"][0]["digest"].as_str().unwrap()
    );
    assert_eq!(
        layer.size(),
        std::fs::metadata(testdata("tp_counter.bpf.o"))
            .unwrap()
            .len()
    );
}

#[test]
fn the_oracle_catches_a_blob_that_does_not_match_its_descriptor() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o"]);
    let e = entry(&out, "tp_counter");
    let manifest: Value =
        serde_json::from_slice(&blob(&out, e["digest"].as_str().unwrap())).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let path = out
        .join("blobs/sha256")
        .join(layer.strip_prefix("sha256:").unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let caught = std::panic::catch_unwind(|| oci_spec_check(&out));
    assert!(caught.is_err(), "a flipped bit must fail the oracle");
}

/// Why our own OCI types read and write the JSON (docs/dependencies.md): oci-spec 0.10
/// drops fields it does not know and spells `os.version` as `os_version`. If a new
/// oci-spec fixes both, this fails, and the choice can be revisited.
#[test]
fn oci_spec_loses_what_our_types_keep() {
    let json = r#"{"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","mediaType":"application/vnd.oci.image.manifest.v1+json","platform":{"architecture":"amd64","os":"linux","os.version":"6.1"},"size":0,"x-vendor":{"a":1}}"#;
    let theirs: oci_spec::image::Descriptor = serde_json::from_str(json).unwrap();
    let rewritten = serde_json::to_string(&theirs).unwrap();
    assert!(!rewritten.contains("x-vendor"), "{rewritten}");
    assert!(
        !rewritten.contains("6.1"),
        "os.version is not read: {rewritten}"
    );
    let mut with_version = theirs.clone();
    let mut platform = with_version.platform().clone().unwrap();
    platform.set_os_version(Some("6.1".into()));
    with_version.set_platform(Some(platform));
    let rewritten = serde_json::to_string(&with_version).unwrap();
    assert!(rewritten.contains(r#""os_version":"6.1""#), "{rewritten}");
    // Ours keeps both, byte for byte.
    let ours: ebpf_layout::oci::Descriptor = serde_json::from_str(json).unwrap();
    assert_eq!(
        ebpf_layout::oci::canonical::to_vec(&ours).unwrap(),
        json.as_bytes()
    );
}
