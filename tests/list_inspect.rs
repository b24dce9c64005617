//! `list` and `inspect`, on our layouts and on layouts written the way skopeo, oras and
//! bee write them.

use std::os::unix::fs::PermissionsExt;

use ebpf_layout::oci::Digest;
use predicates::prelude::*;
use predicates::str::contains;
use serde_json::{json, Value};

use crate::util::*;

#[test]
fn list_shows_name_digest_size_platform_and_format() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    let digest = entry(&out, "xdp_count")["digest"]
        .as_str()
        .unwrap()
        .to_string();
    ebpf_layout()
        .arg("list")
        .arg(&out)
        .arg("--no-trunc")
        .assert()
        .success()
        .stdout(
            contains("NAME")
                .and(contains("tp_counter"))
                .and(contains(digest.as_str()))
                .and(contains("linux/amd64"))
                .and(contains("bee"))
                .and(contains("KiB")),
        );
    let assert = ebpf_layout()
        .arg("list")
        .arg(&out)
        .arg("--json")
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(v["version"], 1);
    let images = v["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[1]["name"], "xdp_count");
    assert_eq!(images[1]["digest"], digest.as_str());
    assert_eq!(images[1]["platforms"], json!(["linux/amd64"]));
    assert_eq!(images[1]["format"], "bee");
    let manifest = blob(&out, &digest);
    let m: Value = serde_json::from_slice(&manifest).unwrap();
    let expected_size = manifest.len() as u64
        + m["config"]["size"].as_u64().unwrap()
        + m["layers"][0]["size"].as_u64().unwrap();
    assert_eq!(images[1]["size"], expected_size);
}

#[test]
fn inspect_shows_programs_maps_license_and_btf() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["multi_prog.bpf.o", "tp_counter.bpf.o"]);
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:multi_prog", out.display()))
        .assert()
        .success()
        .stdout(
            contains("on_getuid")
                .and(contains("tracepoint/syscalls/sys_enter_getuid"))
                .and(contains("raw_tracepoint"))
                .and(contains("gauge_last_uid"))
                .and(contains("percpu_array"))
                .and(contains("Dual BSD/GPL"))
                .and(contains("BTF:         yes")),
        );
    let assert = ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:multi_prog", out.display()))
        .arg("--json")
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(v["name"], "multi_prog");
    assert_eq!(v["format"], "bee");
    assert_eq!(v["digest"], entry(&out, "multi_prog")["digest"]);
    assert_eq!(
        v["manifest"]["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(v["config"]["ebpf-layout"]["license"], "Dual BSD/GPL");
    let programs: Vec<&str> = v["object"]["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in ["on_getuid", "on_getgid", "on_sys_enter"] {
        assert!(programs.contains(&p), "{programs:?}");
    }
}

#[test]
fn inspect_by_digest_and_by_sole_image() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o"]);
    let digest = entry(&out, "tp_counter")["digest"]
        .as_str()
        .unwrap()
        .to_string();
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}@{digest}", out.display()))
        .assert()
        .success()
        .stdout(contains("count_getpid"));
    ebpf_layout()
        .arg("inspect")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains(digest.as_str()));
    let absent = Digest::of(b"absent");
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}@{absent}", out.display()))
        .assert()
        .code(2)
        .stderr(contains(format!("no image with digest {absent}")));
}

#[test]
fn reads_a_layout_written_the_way_bee_writes_it() {
    // bee (oras-go v1): config `{}`, no manifest mediaType, platform from uname, the
    // name is a full reference, index.json written by oras with an untagged duplicate.
    let d = Dir::new();
    let layout = d.path("bee");
    std::fs::create_dir_all(&layout).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let program = std::fs::read(testdata("tp_counter.bpf.o")).unwrap();
    let program_digest = put_blob(
        &layout,
        "application/ebpf.oci.image.program.v1+binary",
        &program,
    )["digest"]
        .clone();
    let config_digest =
        put_blob(&layout, "application/ebpf.oci.image.config.v1+json", b"{}")["digest"].clone();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/ebpf.oci.image.config.v1+json", "digest": config_digest, "size": 2,
                   "annotations": {"org.opencontainers.image.title": "config.json"}},
        "layers": [{"mediaType": "application/ebpf.oci.image.program.v1+binary", "digest": program_digest,
                    "size": program.len(), "annotations": {"org.opencontainers.image.title": "program.o"}}],
        "annotations": {"org.opencontainers.image.authors": "someone"}
    }))
    .unwrap();
    let manifest_digest = put_blob(
        &layout,
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    )["digest"]
        .clone();
    // Every blob read-only, as oras writes them.
    for blob in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let path = blob.unwrap().path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    let index = json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(),
         "platform": {"os": "Linux", "architecture": "x86_64"},
         "annotations": {"org.opencontainers.image.ref.name": "ghcr.io/solo-io/bumblebee/tcpconnect:0.0.7"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len()}
    ]});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();

    let assert = ebpf_layout()
        .arg("list")
        .arg(&layout)
        .arg("--json")
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let v = &v["images"];
    assert_eq!(v[0]["name"], "ghcr.io/solo-io/bumblebee/tcpconnect:0.0.7");
    assert_eq!(
        v[0]["platforms"],
        json!(["linux/amd64"]),
        "uname platform normalised"
    );
    assert_eq!(v[0]["format"], "bee");
    assert_eq!(
        v[1]["name"],
        Value::Null,
        "untagged entry listed without a name"
    );

    // The sole image (two entries, one digest) needs no name.
    ebpf_layout()
        .arg("inspect")
        .arg(&layout)
        .assert()
        .success()
        .stdout(contains("count_getpid").and(contains("linux/amd64")));
    let assert = ebpf_layout()
        .arg("inspect")
        .arg(format!(
            "{}:ghcr.io/solo-io/bumblebee/tcpconnect:0.0.7",
            layout.display()
        ))
        .arg("--json")
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(
        v["manifest"]["annotations"]["org.opencontainers.image.authors"],
        "someone"
    );
    assert_eq!(v["config"], json!({}));
    assert_eq!(v["platform"], "linux/amd64");
}

#[test]
fn duplicate_names_for_different_images_are_reported_as_ambiguous() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    let mut index = index_json(&out);
    index["manifests"][1]["annotations"]["org.opencontainers.image.ref.name"] = json!("tp_counter");
    std::fs::write(out.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:tp_counter", out.display()))
        .assert()
        .code(2)
        .stderr(contains("ambiguous").and(contains("2 different manifests")));
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_refused_with_exit_1() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o"]);
    let e = entry(&out, "tp_counter");
    let m: Value = serde_json::from_slice(&blob(&out, e["digest"].as_str().unwrap())).unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap();
    let path = out
        .join("blobs/sha256")
        .join(layer.strip_prefix("sha256:").unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    ebpf_layout()
        .arg("inspect")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains(layer).and(contains("hashes to")));
    // The error names the image first, then the blob (once).
    let reference = format!("{}:tp_counter", out.display());
    for command in ["inspect", "extract"] {
        let mut cmd = ebpf_layout();
        cmd.arg(command).arg(&reference);
        if command == "extract" {
            cmd.arg("-o").arg(d.path("out.o"));
        }
        let output = cmd.assert().code(1).get_output().clone();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with(&format!("error: image {reference} is damaged")),
            "{stderr}"
        );
        assert_eq!(stderr.matches(layer).count(), 1, "{stderr}");
    }
    assert!(
        !d.path("out.o").exists(),
        "nothing extracted from a damaged image"
    );
}
