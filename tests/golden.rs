//! Golden digests: the compressed bytes we write are pinned, not just deterministic within
//! one build. Our deflate is miniz_oxide at the version Cargo.lock pins (`--locked`), so
//! another zlib on the system, or flate2's backend switched by feature unification, cannot
//! change them. Each test pins the uncompressed bytes too, so a failure says which changed:
//! the content (the format or the test object) or the compression (a new miniz_oxide).
//! A deliberate change updates the constants here and says so in its commit.

use std::io::Read;

use sha2::{Digest as _, Sha256};

use crate::util::*;

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn a_tar_gz_of_one_bee_image_has_its_golden_digest() {
    let d = Dir::new();
    let out = d.path("probe.tar.gz");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .args(["--platform", "linux/amd64", "-o"])
        .arg(&out)
        .assert()
        .success();
    let gz = std::fs::read(&out).unwrap();
    assert_eq!(
        sha256(&gunzip(&gz)),
        "sha256:ec945d38dce178e02e838b576a3d8630b0b037752d8b5ce6475074efdc5cbe4a",
        "the tar inside changed: the format or testdata/tp_counter.bpf.o"
    );
    assert_eq!(
        sha256(&gz),
        "sha256:b3c58d14f02032d6a9484f081d6464e605e7818f8faea03c9a52ebb8cd8ba38e",
        "same tar, other gzip bytes: the deflate implementation changed"
    );
}

#[test]
fn a_bpfman_layer_has_its_golden_digest_and_diff_id() {
    let d = Dir::new();
    let out = d.path("bundle");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .args(["--platform", "linux/amd64", "--format", "bpfman", "-o"])
        .arg(&out)
        .assert()
        .success();
    let manifest: serde_json::Value = serde_json::from_slice(&blob(
        &out,
        entry(&out, "tp_counter")["digest"].as_str().unwrap(),
    ))
    .unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let bytes = blob(&out, layer);
    // The diff_id (digest of the uncompressed tar) is also what the config records.
    assert_eq!(
        sha256(&gunzip(&bytes)),
        "sha256:2d845dc50599cee76fb8da88f7084ad1db92241942760e0bd2a8150bbea6f3b7",
        "the tar inside changed: the layer's entries or testdata/tp_counter.bpf.o"
    );
    assert_eq!(
        layer, "sha256:ccb6c42a2da245ab198d270222520db29b1d04e8b11eabc315f2900256467ee5",
        "same tar, other gzip bytes: the deflate implementation changed"
    );
    assert_eq!(sha256(&bytes), layer);
    let config: serde_json::Value =
        serde_json::from_slice(&blob(&out, manifest["config"]["digest"].as_str().unwrap()))
            .unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"][0].as_str(),
        Some(sha256(&gunzip(&bytes)).as_str())
    );
}
