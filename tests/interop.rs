//! What we write is read by skopeo, umoci and the ocidir crate; what skopeo writes we read.

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;

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

#[test]
fn the_ocidir_crate_opens_what_we_write() {
    use ocidir::cap_std::ambient_authority;
    use ocidir::cap_std::fs::Dir as CapDir;
    use ocidir::prelude::*;

    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    let dir = CapDir::open_ambient_dir(&out, ambient_authority()).unwrap();
    let oci = ocidir::OciDir::open(dir).unwrap();
    // ocidir's own consistency check: every descriptor's blob has its digest and size.
    assert_eq!(
        oci.fsck().unwrap(),
        6,
        "2 manifests + 2 configs + 2 programs"
    );
    let index = oci.read_index().unwrap();
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
    let manifest: ocidir::oci_spec::image::ImageManifest = oci.read_json_blob(desc).unwrap();
    assert_eq!(
        manifest.config().media_type().to_string(),
        "application/ebpf.oci.image.config.v1+json"
    );
    let layer = &manifest.layers()[0];
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
