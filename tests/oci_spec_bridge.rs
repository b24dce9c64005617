//! The `oci-spec` feature: our manifests, indexes and descriptors cross to oci-spec's
//! types and back unchanged, for every image format we write and read; what oci-spec
//! cannot hold is refused with the field named. Run by CI with `--features oci-spec`.

use std::path::Path;

use ebpf_layout::oci::canonical;
use ebpf_layout::oci::media_type::{OCI_INDEX, OCI_MANIFEST};
use ebpf_layout::oci::spec::{oci_spec::image as spec, SpecError};
use ebpf_layout::oci::{Descriptor, ImageIndex, ImageManifest};

use crate::interop::oci_spec_check;
use crate::interop_formats::{bpfman_fixture, gadget_fixture, generic_fixture, named, Builder};
use crate::util::*;

/// One document through the bridge: ours → oci-spec → ours gives the same value and,
/// written canonically, the same bytes; and the oci-spec value equals what oci-spec
/// itself parses from the bytes, so the bridge and the crate agree on every field.
fn round_trip_manifest(bytes: &[u8], what: &str) {
    let ours = ImageManifest::from_slice(bytes).unwrap();
    let theirs = spec::ImageManifest::try_from(&ours).unwrap_or_else(|e| panic!("{what}: {e}"));
    let parsed: spec::ImageManifest = serde_json::from_slice(bytes).unwrap();
    assert_eq!(theirs, parsed, "{what}: bridge and oci-spec disagree");
    let back = ImageManifest::try_from(&theirs).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(back, ours, "{what}");
    assert_eq!(canonical::to_vec(&back).unwrap(), bytes, "{what}: bytes");
}

fn round_trip_index(bytes: &[u8], what: &str) -> ImageIndex {
    let ours = ImageIndex::from_slice(bytes).unwrap();
    let theirs = spec::ImageIndex::try_from(&ours).unwrap_or_else(|e| panic!("{what}: {e}"));
    let parsed: spec::ImageIndex = serde_json::from_slice(bytes).unwrap();
    assert_eq!(theirs, parsed, "{what}: bridge and oci-spec disagree");
    let back = ImageIndex::try_from(&theirs).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(back, ours, "{what}");
    assert_eq!(canonical::to_vec(&back).unwrap(), bytes, "{what}: bytes");
    ours
}

/// Sends index.json and every manifest and index under it through the bridge; returns
/// how many documents went through.
fn round_trip_layout(layout: &Path) -> usize {
    fn walk(layout: &Path, d: &Descriptor, count: &mut usize) {
        let bytes = blob(layout, &d.digest.to_string());
        let what = format!("{} {}", layout.display(), d.digest);
        *count += 1;
        match d.media_type.as_str() {
            OCI_INDEX => {
                for m in round_trip_index(&bytes, &what).manifests {
                    walk(layout, &m, count);
                }
            }
            _ => {
                round_trip_manifest(&bytes, &what);
                let m = ImageManifest::from_slice(&bytes).unwrap();
                // Every descriptor also crosses on its own.
                for d in std::iter::once(&m.config).chain(&m.layers) {
                    let theirs = spec::Descriptor::try_from(d).unwrap();
                    assert_eq!(&Descriptor::try_from(&theirs).unwrap(), d, "{what}");
                }
            }
        }
    }
    let index = round_trip_index(
        &std::fs::read(layout.join("index.json")).unwrap(),
        "index.json",
    );
    let mut count = 1;
    for d in &index.manifests {
        walk(layout, d, &mut count);
    }
    count
}

#[test]
fn bee_images_in_layouts_and_archives_cross_to_oci_spec_and_back() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(
        &out,
        &["tp_counter.bpf.o", "xdp_count.bpf.o", "multi_prog.bpf.o"],
    );
    assert_eq!(round_trip_layout(&out), 4, "index.json + 3 manifests");
    assert_eq!(oci_spec_check(&out), 9);
    // The same images through a .tar and a .tar.gz and back into layouts.
    for archive in ["bundle.tar", "bundle.tar.gz"] {
        let archive = d.path(archive);
        let back = d.path(&format!("{}-back", archive.display()));
        for (from, to) in [(&out, &archive), (&archive, &back)] {
            ebpf_layout()
                .arg("copy")
                .arg(from)
                .arg(to)
                .assert()
                .success();
        }
        assert_eq!(round_trip_layout(&back), 4, "{}", archive.display());
        assert_eq!(oci_spec_check(&back), 9, "{}", archive.display());
    }
}

#[test]
fn bpfman_images_we_write_cross_to_oci_spec_and_back() {
    let d = Dir::new();
    let out = d.path("bundle");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .arg(testdata("xdp_count.bpf.o"))
        .args(["--format", "bpfman", "-o"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(round_trip_layout(&out), 3);
    // Their configs are OCI image configs: oci-spec parses them too.
    assert_eq!(oci_spec_check(&out), 6);
}

#[test]
fn multi_platform_indexes_we_write_cross_to_oci_spec_and_back() {
    let d = Dir::new();
    for format in ["bee", "bpfman"] {
        let out = d.path(format);
        ebpf_layout()
            .arg("pack")
            .arg("--platform")
            .arg(format!(
                "linux/s390x={}",
                testdata("bpfeb/tp_counter.bpfeb.o").display()
            ))
            .arg("--platform")
            .arg(format!(
                "linux/arm64={}",
                testdata("tp_counter.bpf.o").display()
            ))
            .args(["--tag", "acme/probe:1.0", "--format", format, "-o"])
            .arg(&out)
            .assert()
            .success();
        assert_eq!(
            round_trip_layout(&out),
            4,
            "{format}: index.json + index + 2 manifests"
        );
        let index: spec::ImageIndex = serde_json::from_slice(&blob(
            &out,
            entry(&out, "acme/probe:1.0")["digest"].as_str().unwrap(),
        ))
        .unwrap();
        let arches: Vec<String> = index
            .manifests()
            .iter()
            .map(|m| m.platform().as_ref().unwrap().architecture().to_string())
            .collect();
        assert_eq!(arches, ["arm64", "s390x"], "{format}");
    }
}

#[test]
fn signature_manifests_cross_to_oci_spec_and_back() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o"]);
    ebpf_layout()
        .env("EBPF_LAYOUT_PASSWORD", "")
        .args(["keygen", "--output"])
        .arg(d.path("k"))
        .assert()
        .success();
    let keys: Vec<_> = std::fs::read_dir(d.root())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "key"))
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    ebpf_layout()
        .env("EBPF_LAYOUT_PASSWORD", "")
        .arg("sign")
        .arg(format!("{}:tp_counter", out.display()))
        .arg("--key")
        .arg(&keys[0])
        .assert()
        .success();
    assert_eq!(round_trip_layout(&out), 3, "index.json + image + signature");
    assert_eq!(oci_spec_check(&out), 6);
}

#[test]
fn formats_we_read_cross_to_oci_spec_and_back() {
    let d = Dir::new();
    // Inspektor Gadget: a named index of per-architecture manifests without mediaType.
    let gadget = d.path("gadget");
    gadget_fixture(&gadget, "gadget");
    // index.json + index (listed twice: named and untagged) + 2 manifests, twice over.
    assert_eq!(round_trip_layout(&gadget), 7);
    // bpfman's bytecode images, from docker (Docker media types) and the first spec.
    let bpfman = d.path("bpfman");
    let f = Fixture::new(&bpfman);
    let docker = bpfman_fixture(&f, "docker", "tp_counter.bpf.o", "amd64", Builder::Docker);
    let legacy = bpfman_fixture(
        &f,
        "legacy",
        "xdp_count.bpf.o",
        "amd64",
        Builder::PodmanLegacy,
    );
    f.index(vec![named(docker, "docker"), named(legacy, "legacy")]);
    assert_eq!(round_trip_layout(&bpfman), 3);
    // A generic oras artifact: artifactType, an empty config with `data`, annotations.
    let generic = d.path("generic");
    generic_fixture(&generic, "xdp:1");
    assert_eq!(round_trip_layout(&generic), 2);
}

fn some_digest() -> String {
    format!("sha256:{}", "ab".repeat(32))
}

fn descriptor(json: serde_json::Value) -> Descriptor {
    serde_json::from_value(json).unwrap()
}

#[test]
fn fields_oci_spec_would_drop_are_refused_with_their_place() {
    // A vendor field on a layer.
    let m = ImageManifest {
        layers: vec![descriptor(serde_json::json!({
            "mediaType": "application/octet-stream",
            "digest": some_digest(),
            "size": 1,
            "x-vendor": {"a": 1},
        }))],
        ..ImageManifest::from_slice(
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"a/b","digest":"{}","size":2}}}}"#,
                some_digest()
            )
            .as_bytes(),
        )
        .unwrap()
    };
    let e = spec::ImageManifest::try_from(&m).unwrap_err();
    assert!(
        matches!(&e, SpecError::Unrepresentable { field, .. } if field == "layers[0].x-vendor"),
        "{e}"
    );
    assert!(e.to_string().contains("would drop it"), "{e}");
    // A field of the manifest itself.
    let m = ImageManifest::from_slice(
        format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"a/b","digest":"{}","size":2}},"layers":[],"x-top":true}}"#,
            some_digest()
        )
        .as_bytes(),
    )
    .unwrap();
    let e = spec::ImageManifest::try_from(&m).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("x-top: true cannot be represented"),
        "{e}"
    );
}

#[test]
fn a_descriptor_without_media_type_and_a_renamed_architecture_are_refused() {
    let e = spec::Descriptor::try_from(&descriptor(serde_json::json!({
        "digest": some_digest(), "size": 1,
    })))
    .unwrap_err();
    assert!(e.to_string().starts_with("mediaType: (missing)"), "{e}");
    // oci-spec 0.10 reads "armbe" as arm64be: converting would change the platform.
    let mut index = ImageIndex::empty();
    index.manifests.push(descriptor(serde_json::json!({
        "mediaType": OCI_MANIFEST, "digest": some_digest(), "size": 1,
        "platform": {"architecture": "armbe", "os": "linux"},
    })));
    let e = spec::ImageIndex::try_from(&index).unwrap_err();
    assert!(
        matches!(&e, SpecError::Unrepresentable { field, .. } if field == "manifests[0].platform.architecture"),
        "{e}"
    );
}

#[test]
fn urls_data_and_os_features_cross_both_ways() {
    let d = descriptor(serde_json::json!({
        "mediaType": OCI_MANIFEST, "digest": some_digest(), "size": 3,
        "urls": ["https://example.com/blob"], "data": "YWJj",
        "artifactType": "application/vnd.example",
        "annotations": {"b": "2", "a": "1"},
        "platform": {"architecture": "arm", "os": "linux", "variant": "v7",
                     "os.version": "6.1", "os.features": ["f"]},
    }));
    let theirs = spec::Descriptor::try_from(&d).unwrap();
    assert_eq!(
        theirs.urls().as_deref(),
        Some(&["https://example.com/blob".to_string()][..])
    );
    assert_eq!(theirs.data().as_deref(), Some("YWJj"));
    let p = theirs.platform().as_ref().unwrap();
    assert_eq!(p.os_version().as_deref(), Some("6.1"));
    assert_eq!(p.os_features().as_deref(), Some(&["f".to_string()][..]));
    assert_eq!(Descriptor::try_from(&theirs).unwrap(), d);
}

#[test]
fn a_digest_we_do_not_trust_is_refused_coming_from_oci_spec() {
    let sha512 = format!("sha512:{}", "ab".repeat(64));
    let theirs = spec::Descriptor::new(
        spec::MediaType::ImageManifest,
        1,
        sha512.parse::<spec::Digest>().unwrap(),
    );
    let e = Descriptor::try_from(&theirs).unwrap_err();
    assert!(
        matches!(&e, SpecError::Digest { field, .. } if field == "digest"),
        "{e}"
    );
    assert!(e.to_string().contains("only sha256"), "{e}");
}
