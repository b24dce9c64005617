//! `tag`, `rm` and `gc`: names move and vanish only as asked, gc keeps everything a
//! name, an untagged entry or a kept referrer reaches, and deletes the rest.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ebpf_layout::oci::Digest;
use predicates::prelude::*;
use predicates::str::contains;
use serde_json::{json, Value};

use crate::util::*;

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The ref names of a layout's index.json, in order.
pub fn names(layout: &Path) -> Vec<String> {
    index_json(layout)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["annotations"]["org.opencontainers.image.ref.name"].as_str())
        .map(str::to_string)
        .collect()
}

/// The blob files of a layout (hex names).
pub fn blob_files(layout: &Path) -> BTreeSet<String> {
    std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Runs `verify` (optionally `--strict`) and panics with its report unless it passes.
pub fn assert_verifies(layout: &Path, strict: bool) {
    let mut c = ebpf_layout();
    c.arg("verify").arg(layout);
    if strict {
        c.arg("--strict");
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "verify{} {} failed:\n{}{}",
        if strict { " --strict" } else { "" },
        layout.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The digests of an image's manifest, config and program layer.
fn closure(layout: &Path, name: &str) -> Vec<String> {
    let manifest = digest_of(layout, name);
    let m: Value = serde_json::from_slice(&blob(layout, &manifest)).unwrap();
    vec![
        manifest,
        m["config"]["digest"].as_str().unwrap().to_string(),
        m["layers"][0]["digest"].as_str().unwrap().to_string(),
    ]
}

fn hex(digest: &str) -> String {
    digest.strip_prefix("sha256:").unwrap().to_string()
}

/// Stores a signature-like referrer manifest of `subject` and returns its descriptor
/// and the digest of its own layer.
fn put_referrer(layout: &Path, subject: &Value, payload: &[u8]) -> (Value, String) {
    let config = put_blob(layout, "application/vnd.oci.empty.v1+json", b"{}");
    let layer = put_blob(layout, "application/vnd.example.signature", payload);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": config,
        "layers": [layer],
        "subject": subject,
    });
    let d = put_blob(layout, MANIFEST, &serde_json::to_vec(&manifest).unwrap());
    (d, layer["digest"].as_str().unwrap().to_string())
}

fn write_index(layout: &Path, index: &Value) {
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(index).unwrap(),
    )
    .unwrap();
}

fn gc_json(layout: &Path, extra: &[&str]) -> Value {
    let out = ebpf_layout()
        .arg("gc")
        .arg(layout)
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn removed_digests(report: &Value) -> BTreeSet<String> {
    report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["digest"].as_str().unwrap().to_string())
        .collect()
}

fn two_images(d: &Dir) -> PathBuf {
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    out
}

// ---------------------------------------------------------------------------- tag

#[test]
fn tag_gives_an_image_a_second_name_pointing_at_the_same_manifest() {
    let d = Dir::new();
    let out = two_images(&d);
    let before = entry(&out, "tp_counter");
    ebpf_layout()
        .arg("tag")
        .arg(format!("{}:tp_counter", out.display()))
        .arg("ghcr.io/acme/tp_counter:1.2")
        .assert()
        .success()
        .stdout(contains("tagged ghcr.io/acme/tp_counter:1.2 → sha256:"));
    let after = entry(&out, "ghcr.io/acme/tp_counter:1.2");
    assert_eq!(after["digest"], before["digest"]);
    assert_eq!(after["size"], before["size"]);
    assert_eq!(after["mediaType"], before["mediaType"]);
    assert_eq!(
        after["platform"], before["platform"],
        "platform is carried over"
    );
    assert_eq!(
        names(&out),
        ["tp_counter", "xdp_count", "ghcr.io/acme/tp_counter:1.2"]
    );
    assert_verifies(&out, true);
    // The new name is usable like any other.
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:ghcr.io/acme/tp_counter:1.2", out.display()))
        .assert()
        .success()
        .stdout(contains("count_getpid"));
}

#[test]
fn tag_accepts_a_digest_or_a_single_image_layout_as_source() {
    let d = Dir::new();
    let out = two_images(&d);
    let digest = digest_of(&out, "xdp_count");
    ebpf_layout()
        .arg("tag")
        .arg(format!("{}@{digest}", out.display()))
        .arg("xdp:v1")
        .assert()
        .success();
    assert_eq!(digest_of(&out, "xdp:v1"), digest);

    let single = d.path("single");
    pack(&single, &["tp_counter.bpf.o"]);
    ebpf_layout()
        .arg("tag")
        .arg(&single)
        .arg("latest")
        .assert()
        .success();
    assert_eq!(
        digest_of(&single, "latest"),
        digest_of(&single, "tp_counter")
    );

    // A bare path with several images must say which.
    let before = snapshot(&out);
    ebpf_layout()
        .arg("tag")
        .arg(&out)
        .arg("other")
        .assert()
        .code(2)
        .stderr(contains("holds 2 images").and(contains("tp_counter")));
    assert_eq!(before, snapshot(&out));
}

#[test]
fn tag_moving_an_existing_name_says_old_and_new_digest() {
    let d = Dir::new();
    let out = two_images(&d);
    let old = digest_of(&out, "tp_counter");
    let new = digest_of(&out, "xdp_count");
    let assert = ebpf_layout()
        .arg("tag")
        .arg(format!("{}:xdp_count", out.display()))
        .arg("tp_counter")
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(
        stdout.contains(&format!("moved tp_counter: {}", &old[..19]))
            && stdout.contains(&new[..19]),
        "{stdout}"
    );
    assert_eq!(digest_of(&out, "tp_counter"), new);
    assert_eq!(names(&out), ["tp_counter", "xdp_count"], "moved in place");
    // The old image is unnamed now, but its blobs stay until gc.
    assert!(blob_files(&out).contains(&hex(&old)));
    assert_verifies(&out, false);

    // Tagging again to the same manifest changes nothing, byte for byte.
    let before = snapshot(&out);
    ebpf_layout()
        .arg("tag")
        .arg(format!("{}:xdp_count", out.display()))
        .arg("tp_counter")
        .arg("--json")
        .assert()
        .success()
        .stdout(contains(r#""change": "unchanged""#));
    assert_eq!(before, snapshot(&out));
}

#[test]
fn tag_refuses_invalid_names_and_unknown_sources_and_changes_nothing() {
    let d = Dir::new();
    let out = two_images(&d);
    let before = snapshot(&out);
    for (bad, why) in [
        ("bad name", "not allowed"),
        ("x-", "start and end"),
        ("x@sha256", "'@'"),
        ("repo/p:.bad", "must be single"),
    ] {
        ebpf_layout()
            .arg("tag")
            .arg(format!("{}:tp_counter", out.display()))
            .arg(bad)
            .assert()
            .code(2)
            .stderr(contains(why));
    }
    // NAME is a name, not PATH:NAME (which would otherwise be a valid, surprising name).
    ebpf_layout()
        .current_dir(d.root())
        .arg("tag")
        .arg("bundle:tp_counter")
        .arg("bundle:probe")
        .assert()
        .code(2)
        .stderr(contains("give \"probe\""));
    ebpf_layout()
        .arg("tag")
        .arg(format!("{}:nope", out.display()))
        .arg("x")
        .assert()
        .code(2)
        .stderr(contains("no image named \"nope\"").and(contains("tp_counter, xdp_count")));
    ebpf_layout()
        .arg("tag")
        .arg(d.path("missing").join("x").to_string_lossy().to_string() + ":a")
        .arg("b")
        .assert()
        .code(2)
        .stderr(contains("no such file or directory"));
    assert!(!d.path("missing").exists(), "tag never creates a layout");
    let file = d.path("bundle.tar");
    std::fs::write(&file, b"x").unwrap();
    ebpf_layout()
        .arg("tag")
        .arg(format!("{}:a", file.display()))
        .arg("b")
        .assert()
        .code(2)
        .stderr(contains("bundle.tar").and(contains("layout directory")));
    assert_eq!(before, snapshot(&out));
}

#[test]
fn tag_refuses_to_name_a_manifest_that_is_missing() {
    let d = Dir::new();
    let out = two_images(&d);
    let manifest = digest_of(&out, "tp_counter");
    std::fs::remove_file(out.join("blobs/sha256").join(hex(&manifest))).unwrap();
    let before = snapshot(&out);
    ebpf_layout()
        .arg("tag")
        .arg(format!("{}:tp_counter", out.display()))
        .arg("again")
        .assert()
        .code(1)
        .stderr(contains(hex(&manifest)));
    assert_eq!(before, snapshot(&out));
}

// ----------------------------------------------------------------------------- rm

#[test]
fn rm_removes_a_name_and_keeps_the_blobs_until_gc() {
    let d = Dir::new();
    let out = two_images(&d);
    let blobs_before = blob_files(&out);
    let gone = closure(&out, "tp_counter");
    ebpf_layout()
        .arg("rm")
        .arg(format!("{}:tp_counter", out.display()))
        .assert()
        .success()
        .stdout(contains("removed tp_counter (sha256:").and(contains("ebpf-layout gc")));
    assert_eq!(names(&out), ["xdp_count"]);
    assert_eq!(blob_files(&out), blobs_before, "rm leaves blobs to gc");
    assert_verifies(&out, false);

    let report = gc_json(&out, &[]);
    assert_eq!(
        removed_digests(&report),
        gone.iter().cloned().collect::<BTreeSet<_>>()
    );
    assert_eq!(report["removed"].as_array().unwrap().len(), 3);
    let kinds: BTreeSet<&str> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["blob", "manifest"]));
    let sizes: u64 = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["size"].as_u64().unwrap())
        .sum();
    assert_eq!(report["removed_bytes"].as_u64(), Some(sizes));
    assert_eq!(report["freed_bytes"].as_u64(), Some(sizes));
    assert!(
        sizes
            > std::fs::metadata(testdata("tp_counter.bpf.o"))
                .unwrap()
                .len()
    );
    for g in &gone {
        assert!(!blob_files(&out).contains(&hex(g)));
    }
    assert_verifies(&out, true);
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:xdp_count", out.display()))
        .assert()
        .success();
}

#[test]
fn rm_of_a_missing_name_lists_the_names_there_are_and_changes_nothing() {
    let d = Dir::new();
    let out = two_images(&d);
    let before = snapshot(&out);
    ebpf_layout()
        .arg("rm")
        .arg(format!("{}:nope", out.display()))
        .assert()
        .code(2)
        .stderr(
            contains("no image named \"nope\"").and(contains("available: tp_counter, xdp_count")),
        );
    ebpf_layout()
        .arg("rm")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(contains("PATH:NAME"));
    let absent = format!("sha256:{}", "0".repeat(64));
    ebpf_layout()
        .arg("rm")
        .arg(format!("{}@{absent}", out.display()))
        .assert()
        .code(2)
        .stderr(contains(&absent));
    assert_eq!(before, snapshot(&out));
}

#[test]
fn rm_by_digest_removes_every_entry_of_that_manifest_named_or_not() {
    let d = Dir::new();
    let out = two_images(&d);
    let digest = digest_of(&out, "tp_counter");
    ebpf_layout()
        .arg("tag")
        .arg(format!("{}:tp_counter", out.display()))
        .arg("alias")
        .assert()
        .success();
    // An untagged entry for the same manifest, as oras adds.
    let mut index = index_json(&out);
    let mut untagged = entry(&out, "tp_counter");
    untagged.as_object_mut().unwrap().remove("annotations");
    index["manifests"].as_array_mut().unwrap().push(untagged);
    write_index(&out, &index);

    let report: Value = serde_json::from_slice(
        &ebpf_layout()
            .arg("rm")
            .arg(format!("{}@{digest}", out.display()))
            .arg("--json")
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    let removed = report["removed"].as_array().unwrap();
    assert_eq!(removed.len(), 3);
    assert_eq!(removed[0]["name"], "tp_counter");
    assert_eq!(removed[1]["name"], "alias");
    assert_eq!(removed[2]["name"], Value::Null);
    assert_eq!(names(&out), ["xdp_count"]);
    assert_eq!(index_json(&out)["manifests"].as_array().unwrap().len(), 1);
    assert_verifies(&out, false);
}

#[test]
fn rm_of_one_alias_says_the_image_is_still_named() {
    let d = Dir::new();
    let out = two_images(&d);
    ebpf_layout()
        .arg("tag")
        .arg(format!("{}:tp_counter", out.display()))
        .arg("alias")
        .assert()
        .success();
    ebpf_layout()
        .arg("rm")
        .arg(format!("{}:alias", out.display()))
        .assert()
        .success()
        .stdout(contains("still named tp_counter").and(contains("gc").not()));
    assert_eq!(names(&out), ["tp_counter", "xdp_count"]);
    // Nothing became garbage.
    assert!(gc_json(&out, &[])["removed"].as_array().unwrap().is_empty());
}

// ----------------------------------------------------------------------------- gc

#[test]
fn gc_on_a_clean_layout_removes_nothing_and_changes_nothing() {
    let d = Dir::new();
    let out = two_images(&d);
    let before = snapshot(&out);
    ebpf_layout()
        .arg("gc")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("removed 0 blob(s)").and(contains("kept 6 blob(s)")));
    assert_eq!(before, snapshot(&out));
}

#[test]
fn gc_keeps_untagged_index_entries_and_everything_they_reach() {
    let d = Dir::new();
    let out = two_images(&d);
    let kept = closure(&out, "tp_counter");
    let mut index = index_json(&out);
    for e in index["manifests"].as_array_mut().unwrap() {
        if e["annotations"]["org.opencontainers.image.ref.name"] == "tp_counter" {
            e.as_object_mut().unwrap().remove("annotations");
        }
    }
    write_index(&out, &index);
    let before = snapshot(&out);
    let report = gc_json(&out, &[]);
    assert!(report["removed"].as_array().unwrap().is_empty(), "{report}");
    assert_eq!(before, snapshot(&out));
    for k in kept {
        assert!(blob_files(&out).contains(&hex(&k)));
    }
}

#[test]
fn gc_walks_nested_indexes() {
    let d = Dir::new();
    let out = two_images(&d);
    // Replace both entries by one multi-platform index naming the two manifests.
    let a = entry(&out, "tp_counter");
    let b = entry(&out, "xdp_count");
    let mut child_b = b.clone();
    child_b["platform"] = json!({"os": "linux", "architecture": "arm64"});
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("annotations");
        v
    };
    let nested =
        json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [strip(a), strip(child_b)]});
    let mut top = put_blob(&out, INDEX, &serde_json::to_vec(&nested).unwrap());
    top["annotations"] = json!({"org.opencontainers.image.ref.name": "multi"});
    let mut index = index_json(&out);
    index["manifests"] = json!([top]);
    write_index(&out, &index);
    let before = blob_files(&out);
    let report = gc_json(&out, &[]);
    assert!(report["removed"].as_array().unwrap().is_empty(), "{report}");
    assert_eq!(report["kept_blobs"], 7);
    assert_eq!(before, blob_files(&out));
    assert_verifies(&out, true);

    // Without its name, the index and both images go.
    ebpf_layout()
        .arg("rm")
        .arg(format!("{}:multi", out.display()))
        .assert()
        .success();
    let report = gc_json(&out, &[]);
    assert_eq!(report["removed"].as_array().unwrap().len(), 7);
    let kinds: Vec<&str> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "index").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "manifest").count(), 2);
    assert!(blob_files(&out).is_empty());
}

#[test]
fn gc_keeps_referrers_of_reached_images_with_their_closure_and_drops_the_others() {
    let d = Dir::new();
    let out = two_images(&d);
    let tp = entry(&out, "tp_counter");
    let xdp = entry(&out, "xdp_count");
    let subject =
        |e: &Value| json!({"mediaType": e["mediaType"], "digest": e["digest"], "size": e["size"]});
    // A signature of tp_counter, and a signature of that signature (a chain).
    let (sig, sig_layer) = put_referrer(&out, &subject(&tp), b"signature of tp_counter");
    let (sig2, sig2_layer) = put_referrer(&out, &sig, b"counter-signature");
    // A signature of xdp_count, whose name is about to go.
    let (xsig, xsig_layer) = put_referrer(&out, &subject(&xdp), b"signature of xdp_count");
    // Garbage with nothing to do with anything.
    let junk = put_blob(&out, "application/octet-stream", b"junk");
    ebpf_layout()
        .arg("rm")
        .arg(format!("{}:xdp_count", out.display()))
        .assert()
        .success();

    let mut expected: BTreeSet<String> = closure_of_manifest(&out, &xdp).into_iter().collect();
    expected.insert(xsig["digest"].as_str().unwrap().to_string());
    expected.insert(xsig_layer);
    expected.insert(junk["digest"].as_str().unwrap().to_string());

    let dry = gc_json(&out, &["--dry-run"]);
    let report = gc_json(&out, &[]);
    assert_eq!(
        dry["removed"], report["removed"],
        "dry run predicts the run"
    );
    assert_eq!(dry["dry_run"], true);

    let files = blob_files(&out);
    for kept in [&sig, &sig2] {
        assert!(files.contains(&hex(kept["digest"].as_str().unwrap())));
    }
    for kept in [&sig_layer, &sig2_layer] {
        assert!(files.contains(&hex(kept)), "referrer closure is kept");
    }
    assert!(
        files.contains(&hex(&Digest::of(b"{}").to_string())),
        "shared empty config"
    );
    let referrers: BTreeSet<&str> = report["referrers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(
        referrers,
        BTreeSet::from([
            sig["digest"].as_str().unwrap(),
            sig2["digest"].as_str().unwrap()
        ])
    );
    assert_eq!(removed_digests(&report), expected);
    assert_verifies(&out, false);
    assert_eq!(names(&out), ["tp_counter"]);
}

/// The closure of a manifest that may be unnamed already: manifest, config, layers.
fn closure_of_manifest(layout: &Path, descriptor: &Value) -> Vec<String> {
    let digest = descriptor["digest"].as_str().unwrap().to_string();
    let m: Value = serde_json::from_slice(&blob(layout, &digest)).unwrap();
    let mut v = vec![digest, m["config"]["digest"].as_str().unwrap().to_string()];
    for l in m["layers"].as_array().unwrap() {
        v.push(l["digest"].as_str().unwrap().to_string());
    }
    v
}

#[test]
fn gc_dry_run_reports_and_changes_nothing() {
    let d = Dir::new();
    let out = two_images(&d);
    ebpf_layout()
        .arg("rm")
        .arg(format!("{}:tp_counter", out.display()))
        .assert()
        .success();
    std::fs::write(out.join(".ebpf-layout/tmp/blob-999999-0"), b"half a blob").unwrap();
    let before = snapshot(&out);
    ebpf_layout()
        .arg("gc")
        .arg(&out)
        .arg("--dry-run")
        .assert()
        .success()
        .stdout(
            contains("would remove manifest")
                .and(contains("would remove 3 blob(s)"))
                .and(contains("1 temporary file(s)")),
        );
    assert_eq!(before, snapshot(&out));
    assert!(out.join(".ebpf-layout/tmp/blob-999999-0").exists());
}

#[test]
fn gc_removes_temporary_files_of_dead_writers_and_reports_them() {
    let d = Dir::new();
    let out = two_images(&d);
    std::fs::write(out.join(".ebpf-layout/tmp/blob-999999-0"), vec![7u8; 5000]).unwrap();
    std::fs::write(out.join(".ebpf-layout/tmp/index.json-999999-1"), b"{").unwrap();
    let report = gc_json(&out, &[]);
    assert_eq!(report["temp_files"], 2);
    assert_eq!(report["temp_bytes"], 5001);
    assert_eq!(report["freed_bytes"], 5001);
    assert_eq!(
        std::fs::read_dir(out.join(".ebpf-layout/tmp"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn gc_refuses_to_delete_anything_when_a_reached_manifest_is_missing_or_damaged() {
    let d = Dir::new();
    let out = two_images(&d);
    // Some garbage gc would otherwise delete.
    put_blob(&out, "application/octet-stream", b"garbage");
    let manifest = digest_of(&out, "tp_counter");
    let path = out.join("blobs/sha256").join(hex(&manifest));
    let original = std::fs::read(&path).unwrap();

    std::fs::remove_file(&path).unwrap();
    let before = snapshot(&out);
    ebpf_layout().arg("gc").arg(&out).assert().code(1).stderr(
        contains("gc deleted nothing")
            .and(contains(hex(&manifest)))
            .and(contains("verify")),
    );
    assert_eq!(before, snapshot(&out));

    let mut damaged = original.clone();
    damaged[10] ^= 1;
    std::fs::write(&path, &damaged).unwrap();
    let before = snapshot(&out);
    ebpf_layout()
        .arg("gc")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains("gc deleted nothing"));
    assert_eq!(before, snapshot(&out));
}

#[test]
fn gc_leaves_files_that_are_not_blobs_alone() {
    let d = Dir::new();
    let out = two_images(&d);
    std::fs::write(out.join("blobs/sha256/README"), b"notes").unwrap();
    std::fs::create_dir(out.join("blobs/sha256/sub")).unwrap();
    let report = gc_json(&out, &[]);
    assert!(report["removed"].as_array().unwrap().is_empty());
    assert_eq!(
        report["ignored"],
        json!(["blobs/sha256/README", "blobs/sha256/sub"])
    );
    assert!(out.join("blobs/sha256/README").exists());
    assert!(out.join("blobs/sha256/sub").is_dir());
}

#[test]
fn gc_needs_an_existing_layout_and_never_creates_one() {
    let d = Dir::new();
    ebpf_layout()
        .arg("gc")
        .arg(d.path("nope"))
        .assert()
        .code(2)
        .stderr(contains("nope").and(contains("not an OCI image layout")));
    assert!(!d.path("nope").exists());
    std::fs::create_dir(d.path("empty")).unwrap();
    ebpf_layout()
        .arg("gc")
        .arg(d.path("empty"))
        .assert()
        .code(2)
        .stderr(contains("oci-layout"));
    assert_eq!(
        std::fs::read_dir(d.path("empty")).unwrap().count(),
        0,
        "nothing written into a directory that is not a layout"
    );
}

#[test]
fn gc_keeps_what_skopeo_wrote() {
    if !require_tool("skopeo") {
        return;
    }
    let d = Dir::new();
    let out = two_images(&d);
    let copy = d.path("copy");
    run_tool(
        "skopeo",
        &[
            "copy",
            &format!("oci:{}:tp_counter", out.display()),
            &format!("oci:{}:tp", copy.display()),
        ],
    );
    let before = snapshot(&copy);
    let report = gc_json(&copy, &[]);
    assert!(report["removed"].as_array().unwrap().is_empty(), "{report}");
    // gc adds only its private folder, which snapshot() leaves out.
    assert_eq!(before, snapshot(&copy));
}

/// Issue #13, item 8: `sha256-<hex>.sig` is the name cosign's scheme reserves for
/// signatures; given by hand it would make an image pass for a signature (of itself or of
/// another image). `tag` and `copy DST:NAME` refuse it and change nothing.
#[test]
fn a_name_reserved_for_signatures_is_refused_by_tag_and_copy() {
    let d = Dir::new();
    let layout = d.path("bundle");
    pack(&layout, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    let own = digest_of(&layout, "tp_counter");
    let other = digest_of(&layout, "xdp_count");
    let before = snapshot(d.root());
    for signed in [&own, &other, &format!("sha256:{}", "ab".repeat(32))] {
        let reserved = format!("sha256-{}.sig", signed.strip_prefix("sha256:").unwrap());
        ebpf_layout()
            .arg("tag")
            .arg(format!("{}:tp_counter", layout.display()))
            .arg(&reserved)
            .assert()
            .code(2)
            .stderr(contains(reserved.as_str()))
            .stderr(contains("reserves for the signatures"));
        ebpf_layout()
            .arg("copy")
            .arg(format!("{}:tp_counter", layout.display()))
            .arg(format!("{}:{reserved}", d.path("dest").display()))
            .assert()
            .code(2)
            .stderr(contains("reserves for the signatures"));
    }
    assert_eq!(
        snapshot(d.root()),
        before,
        "a refused name changed something"
    );
    // Names that merely look alike stay usable.
    ebpf_layout()
        .arg("tag")
        .arg(format!("{}:tp_counter", layout.display()))
        .arg("sha256-release.sig")
        .assert()
        .success();
    assert!(names(&layout).contains(&"sha256-release.sig".to_string()));
}
