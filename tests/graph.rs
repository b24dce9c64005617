//! The image graph is walked by one set of rules in every command: regression tests for
//! the kind confusion that let a hostile import make gc delete a named image, and for the
//! nesting limit that commands used to disagree on.

use std::path::Path;

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::{json, Value};

use crate::util::*;

/// The bytes of the blob a descriptor names.
fn blob_of(layout: &Path, descriptor: &Value) -> Vec<u8> {
    blob(layout, descriptor["digest"].as_str().unwrap())
}

/// Every blob file of a layout, by hex name.
fn blob_names(layout: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The digests of xdp_count's closure in `layout`: manifest, config, program.
fn closure(layout: &Path, name: &str) -> Vec<String> {
    let e = entry(layout, name);
    let manifest: Value = serde_json::from_slice(&blob_of(layout, &e)).unwrap();
    let mut digests = vec![e["digest"].as_str().unwrap().to_string()];
    digests.push(manifest["config"]["digest"].as_str().unwrap().to_string());
    for layer in manifest["layers"].as_array().unwrap() {
        digests.push(layer["digest"].as_str().unwrap().to_string());
    }
    digests
}

/// A bundle holding an "update" of `tp_counter` with one extra layer whose descriptor is
/// `xdp_count`'s manifest, as an attacker would build it from a copy of the victim.
fn hostile_update(d: &Dir, victim: &Path) -> std::path::PathBuf {
    let evil = d.path("evil");
    let f = Fixture::new(&evil);
    let tp = entry(victim, "tp_counter");
    let xdp = entry(victim, "xdp_count");
    let mut manifest: Value = serde_json::from_slice(&blob_of(victim, &tp)).unwrap();
    for blob in [&manifest["config"].clone()]
        .into_iter()
        .chain(manifest["layers"].as_array().unwrap().clone().iter())
    {
        f.blob(blob["mediaType"].as_str().unwrap(), &blob_of(victim, blob));
    }
    f.blob(xdp["mediaType"].as_str().unwrap(), &blob_of(victim, &xdp));
    let layer =
        json!({"mediaType": xdp["mediaType"], "digest": xdp["digest"], "size": xdp["size"]});
    manifest["layers"].as_array_mut().unwrap().push(layer);
    let mut update = f.json("application/vnd.oci.image.manifest.v1+json", &manifest);
    update["annotations"] = json!({"org.opencontainers.image.ref.name": "tp_counter"});
    f.index(vec![update]);
    let tar = d.path("evil.tar");
    ebpf_layout()
        .arg("copy")
        .arg(&evil)
        .arg(&tar)
        .assert()
        .success();
    tar
}

#[test]
fn kind_confusion_an_image_reached_as_another_images_layer_is_kept_by_gc_and_checked_by_verify() {
    let d = Dir::new();
    let victim = d.path("victim");
    pack(&victim, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    let xdp_closure = closure(&victim, "xdp_count");
    let tar = hostile_update(&d, &victim);

    // The import is accepted (its content is intact), and moves the name tp_counter.
    ebpf_layout()
        .arg("copy")
        .arg(&tar)
        .arg(&victim)
        .assert()
        .success();
    ebpf_layout().arg("verify").arg(&victim).assert().success();

    // gc keeps every blob xdp_count needs, whatever order the walk meets them in.
    ebpf_layout().arg("gc").arg(&victim).assert().success();
    let names = blob_names(&victim);
    for digest in &xdp_closure {
        let hex = digest.strip_prefix("sha256:").unwrap();
        assert!(names.iter().any(|n| n == hex), "gc deleted {digest}");
    }
    ebpf_layout()
        .arg("verify")
        .arg(format!("{}:xdp_count", victim.display()))
        .assert()
        .success();

    // Copies carry every blob both images need, to a layout and to an archive.
    for dest in ["copy-layout", "copy.tar"] {
        let dest = d.path(dest);
        ebpf_layout()
            .arg("copy")
            .arg(&victim)
            .arg(&dest)
            .assert()
            .success();
        for name in ["tp_counter", "xdp_count"] {
            ebpf_layout()
                .args(["verify", "--strict"])
                .arg(format!("{}:{name}", dest.display()))
                .assert()
                .success();
        }
    }

    // A blob missing from the image first met as a layer is an integrity failure of the
    // whole layout, not an "unreferenced" warning.
    let program = &xdp_closure[2];
    std::fs::remove_file(
        victim
            .join("blobs/sha256")
            .join(program.strip_prefix("sha256:").unwrap()),
    )
    .unwrap();
    ebpf_layout()
        .arg("verify")
        .arg(&victim)
        .assert()
        .code(1)
        .stdout(contains("missing-blob").or(contains("is missing")));
}

/// A layout whose entry `deep` reaches tp_counter's manifest through `levels` nested
/// indexes, each listing its child for this machine's platform.
fn nested(d: &Dir, levels: usize) -> std::path::PathBuf {
    let src = d.path(&format!("src-{levels}"));
    pack(&src, &["tp_counter.bpf.o"]);
    let out = d.path(&format!("nested-{levels}"));
    let f = Fixture::new(&out);
    let tp = entry(&src, "tp_counter");
    let manifest: Value = serde_json::from_slice(&blob_of(&src, &tp)).unwrap();
    for blob in [&manifest["config"].clone()]
        .into_iter()
        .chain(manifest["layers"].as_array().unwrap().clone().iter())
    {
        f.blob(blob["mediaType"].as_str().unwrap(), &blob_of(&src, blob));
    }
    let host = ebpf_layout::oci::Platform::host();
    let platform = json!({"os": host.os, "architecture": host.architecture});
    let mut child = f.blob(tp["mediaType"].as_str().unwrap(), &blob_of(&src, &tp));
    for _ in 0..levels {
        child["platform"] = platform.clone();
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [child],
        });
        child = f.json("application/vnd.oci.image.index.v1+json", &index);
    }
    child["annotations"] = json!({"org.opencontainers.image.ref.name": "deep"});
    f.index(vec![child]);
    out
}

#[test]
fn one_nesting_limit_every_command_reads_images_nested_5_and_7_deep_and_refuses_9() {
    let d = Dir::new();
    let keys = d.path("site");
    ebpf_layout()
        .env("EBPF_LAYOUT_PASSWORD", "graph-test")
        .args(["keygen", "--output"])
        .arg(&keys)
        .assert()
        .success();
    for levels in [5, 7] {
        let out = nested(&d, levels);
        let deep = format!("{}:deep", out.display());
        ebpf_layout()
            .args(["verify", "--strict"])
            .arg(&deep)
            .assert()
            .success();
        ebpf_layout().arg("inspect").arg(&deep).assert().success();
        ebpf_layout()
            .arg("list")
            .arg(&out)
            .assert()
            .success()
            .stdout(contains("deep"));
        ebpf_layout()
            .env("EBPF_LAYOUT_PASSWORD", "graph-test")
            .arg("sign")
            .arg(&deep)
            .arg("--key")
            .arg(d.path("site.key"))
            .assert()
            .success();
        ebpf_layout()
            .arg("verify")
            .arg(&deep)
            .arg("--key")
            .arg(d.path("site.pub"))
            .assert()
            .success();
    }
    let out = nested(&d, 9);
    let deep = format!("{}:deep", out.display());
    ebpf_layout()
        .arg("verify")
        .arg(&deep)
        .assert()
        .code(1)
        .stdout(contains("too-deep").or(contains("nested")));
    for args in [vec!["inspect"], vec!["list"]] {
        let target = if args[0] == "list" {
            out.display().to_string()
        } else {
            deep.clone()
        };
        ebpf_layout()
            .args(&args)
            .arg(&target)
            .assert()
            .code(2)
            .stderr(contains("more than 8 nested indexes"));
    }
    ebpf_layout()
        .env("EBPF_LAYOUT_PASSWORD", "graph-test")
        .arg("sign")
        .arg(&deep)
        .arg("--key")
        .arg(d.path("site.key"))
        .assert()
        .code(2)
        .stderr(contains("more than 8 nested indexes"));
}
