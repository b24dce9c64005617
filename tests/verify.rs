//! `verify`: a good layout is corrupted in every way the issue lists; each case asserts
//! the exit code and that the message names the culprit.

use std::path::{Path, PathBuf};

use ebpf_layout::oci::Digest;
use predicates::prelude::*;
use predicates::str::contains;
use serde_json::{json, Value};

use crate::util::*;

/// A fresh layout with two images, and the digests of tp_counter's blobs.
struct Good {
    _dir: Dir,
    root: PathBuf,
    manifest: String,
    config: String,
    program: String,
}

fn good() -> Good {
    let dir = Dir::new();
    let root = dir.path("bundle");
    pack(&root, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    let manifest = entry(&root, "tp_counter")["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let m: Value = serde_json::from_slice(&blob(&root, &manifest)).unwrap();
    Good {
        config: m["config"]["digest"].as_str().unwrap().to_string(),
        program: m["layers"][0]["digest"].as_str().unwrap().to_string(),
        manifest,
        root,
        _dir: dir,
    }
}

fn blob_path(root: &Path, digest: &str) -> PathBuf {
    root.join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

fn flip_bit(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = at.min(bytes.len() - 1);
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

/// Runs verify and returns (exit code, stdout).
fn verify(args: &[&str], target: &str) -> (i32, String) {
    let out = ebpf_layout()
        .arg("verify")
        .arg(target)
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap(), text)
}

fn verify_json(target: &str, strict: bool) -> (i32, Value) {
    let mut c = ebpf_layout();
    c.arg("verify").arg(target).arg("--json");
    if strict {
        c.arg("--strict");
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

fn codes(report: &Value) -> Vec<String> {
    report["reports"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_good_layout_verifies_clean_even_when_strict() {
    let g = good();
    let (code, out) = verify(&["--strict"], g.root.to_str().unwrap());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("OK") && out.contains("2 image(s), 6 blob(s)"),
        "{out}"
    );
    let (code, v) = verify_json(g.root.to_str().unwrap(), true);
    assert_eq!(code, 0);
    assert_eq!(v["version"], 1);
    assert_eq!(v["ok"], true);
    assert_eq!(v["reports"][0]["images"], 2);
    assert_eq!(v["reports"][0]["problems"], json!([]));
}

#[test]
fn a_bit_flip_in_each_kind_of_blob_is_a_digest_mismatch_naming_it() {
    for kind in ["manifest", "config", "program"] {
        let g = good();
        let digest = match kind {
            "manifest" => &g.manifest,
            "config" => &g.config,
            _ => &g.program,
        };
        flip_bit(&blob_path(&g.root, digest), 40);
        let (code, out) = verify(&[], g.root.to_str().unwrap());
        assert_eq!(code, 1, "{kind}: {out}");
        assert!(
            out.contains("digest-mismatch") && out.contains(digest.as_str()),
            "{kind}: {out}"
        );
        let (_, v) = verify_json(g.root.to_str().unwrap(), false);
        let p = &v["reports"][0]["problems"][0];
        assert_eq!(p["digest"], digest.as_str(), "{kind}");
        assert_eq!(p["expected"], digest.as_str());
        assert_ne!(p["found"], digest.as_str());
    }
}

#[test]
fn a_truncated_blob_is_a_size_mismatch_with_both_sizes() {
    let g = good();
    let path = blob_path(&g.root, &g.program);
    let len = std::fs::metadata(&path).unwrap().len();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..100]).unwrap();
    let (code, v) = verify_json(g.root.to_str().unwrap(), false);
    assert_eq!(code, 1);
    let problems = v["reports"][0]["problems"].as_array().unwrap();
    let size = problems
        .iter()
        .find(|p| p["code"] == "size-mismatch")
        .expect("size-mismatch");
    assert_eq!(size["digest"], g.program.as_str());
    assert_eq!(size["expected"], len.to_string());
    assert_eq!(size["found"], "100");
}

#[test]
fn a_missing_blob_is_named() {
    let g = good();
    std::fs::remove_file(blob_path(&g.root, &g.config)).unwrap();
    let (code, out) = verify(&[], g.root.to_str().unwrap());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("missing-blob") && out.contains(&g.config) && out.contains(&g.manifest),
        "{out}"
    );
}

#[test]
fn a_wrong_size_in_a_descriptor_is_reported() {
    let g = good();
    let mut index = index_json(&g.root);
    index["manifests"][0]["size"] = json!(index["manifests"][0]["size"].as_u64().unwrap() + 1);
    std::fs::write(
        g.root.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let (code, out) = verify(&[], g.root.to_str().unwrap());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("size-mismatch") && out.contains(&g.manifest),
        "{out}"
    );
}

#[test]
fn a_bad_index_json_is_an_integrity_failure() {
    let g = good();
    std::fs::write(g.root.join("index.json"), b"{\"schemaVersion\":2,").unwrap();
    let (code, out) = verify(&[], g.root.to_str().unwrap());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("index.json is not valid"), "{out}");
    std::fs::write(
        g.root.join("index.json"),
        br#"{"schemaVersion":1,"manifests":[]}"#,
    )
    .unwrap();
    let (code, out) = verify(&[], g.root.to_str().unwrap());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("schemaVersion is 1"), "{out}");
}

#[test]
fn a_missing_or_wrong_oci_layout_file_is_reported() {
    let g = good();
    std::fs::remove_file(g.root.join("oci-layout")).unwrap();
    let (code, out) = verify(&[], g.root.to_str().unwrap());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("oci-layout is missing"), "{out}");
    std::fs::write(
        g.root.join("oci-layout"),
        br#"{"imageLayoutVersion":"2.0.0"}"#,
    )
    .unwrap();
    let (code, out) = verify(&[], g.root.to_str().unwrap());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("oci-layout does not declare imageLayoutVersion 1.0.0")
            && out.contains("2.0.0"),
        "{out}"
    );
}

#[test]
fn uppercase_and_unknown_digest_algorithms_are_named_never_trusted() {
    let uppercase = |d: &str| d.to_uppercase().replacen("SHA256", "sha256", 1);
    let sha512 = |d: &str| d.replacen("sha256", "sha512", 1);
    for (bad, needle) in [
        (&uppercase as &dyn Fn(&str) -> String, "lowercase"),
        (&sha512, "only sha256"),
    ] {
        let g = good();
        let mut index = index_json(&g.root);
        let replaced = bad(&g.manifest);
        index["manifests"][0]["digest"] = json!(replaced);
        std::fs::write(
            g.root.join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
        let (code, out) = verify(&[], g.root.to_str().unwrap());
        assert_eq!(code, 1, "{out}");
        assert!(out.contains(needle) && out.contains(&replaced), "{out}");
    }
}

#[test]
fn a_symlinked_blob_is_refused_not_followed() {
    let g = good();
    let path = blob_path(&g.root, &g.program);
    let elsewhere = g.root.parent().unwrap().join("elsewhere.o");
    std::fs::rename(&path, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
    let (code, out) = verify(&[], g.root.to_str().unwrap());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("unsafe-entry") && out.contains("symlink") && out.contains(&g.program),
        "{out}"
    );
}

/// Replaces tp_counter's program layer with `bytes`, rewriting manifest and index.
fn replace_program(g: &Good, bytes: &[u8]) -> String {
    let new = Digest::of(bytes).to_string();
    std::fs::write(blob_path(&g.root, &new), bytes).unwrap();
    let mut m: Value = serde_json::from_slice(&blob(&g.root, &g.manifest)).unwrap();
    m["layers"][0]["digest"] = json!(new);
    m["layers"][0]["size"] = json!(bytes.len());
    let mbytes = serde_json::to_vec(&m).unwrap();
    let mdigest = Digest::of(&mbytes).to_string();
    std::fs::write(blob_path(&g.root, &mdigest), &mbytes).unwrap();
    let mut index = index_json(&g.root);
    for e in index["manifests"].as_array_mut().unwrap() {
        if e["digest"] == g.manifest.as_str() {
            e["digest"] = json!(mdigest);
            e["size"] = json!(mbytes.len());
        }
    }
    std::fs::write(
        g.root.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    std::fs::remove_file(blob_path(&g.root, &g.manifest)).unwrap();
    std::fs::remove_file(blob_path(&g.root, &g.program)).unwrap();
    new
}

#[test]
fn a_program_layer_that_is_not_bpf_is_an_error() {
    let g = good();
    let hello = std::fs::read(testdata("not-bpf/hello.o")).unwrap();
    let new = replace_program(&g, &hello);
    let (code, out) = verify(&[], g.root.to_str().unwrap());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("not-bpf") && out.contains(&new) && out.contains("x86-64"),
        "{out}"
    );
}

#[test]
fn a_program_whose_byte_order_does_not_match_its_platform_is_an_error() {
    let g = good();
    let eb = std::fs::read(testdata("bpfeb/tp_counter.bpfeb.o")).unwrap();
    let new = replace_program(&g, &eb);
    let (code, out) = verify(&[], g.root.to_str().unwrap());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("byte-order") && out.contains(&new) && out.contains("linux/amd64"),
        "{out}"
    );
}

#[test]
fn orphans_unknown_files_and_untagged_manifests_are_warnings_failing_only_when_strict() {
    let g = good();
    let orphan = Digest::of(b"orphan");
    std::fs::write(blob_path(&g.root, &orphan.to_string()), b"orphan").unwrap();
    std::fs::write(g.root.join("notes.txt"), b"hi").unwrap();
    let mut index = index_json(&g.root);
    let mut untagged = index["manifests"][0].clone();
    untagged.as_object_mut().unwrap().remove("annotations");
    index["manifests"].as_array_mut().unwrap().push(untagged);
    std::fs::write(
        g.root.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();

    let (code, v) = verify_json(g.root.to_str().unwrap(), false);
    assert_eq!(code, 0, "{v}");
    let c = codes(&v);
    for expected in ["unreferenced-blob", "unknown-file", "untagged"] {
        assert!(c.contains(&expected.to_string()), "{c:?}");
    }
    assert_eq!(v["reports"][0]["errors"], 0);
    let (code, out) = verify(&["--strict"], g.root.to_str().unwrap());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&orphan.to_string()) && out.contains("notes.txt"),
        "{out}"
    );
}

#[test]
fn duplicate_names_are_reported() {
    let g = good();
    let mut index = index_json(&g.root);
    // Same name, same manifest: a warning. Same name, another manifest: an error.
    let dup = index["manifests"][0].clone();
    index["manifests"].as_array_mut().unwrap().push(dup);
    std::fs::write(
        g.root.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let (code, v) = verify_json(g.root.to_str().unwrap(), false);
    assert_eq!(code, 0);
    assert!(codes(&v).contains(&"duplicate-name".to_string()));
    assert_eq!(verify_json(g.root.to_str().unwrap(), true).0, 1);

    index["manifests"][1]["annotations"]["org.opencontainers.image.ref.name"] = json!("tp_counter");
    std::fs::write(
        g.root.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let (code, out) = verify(&[], g.root.to_str().unwrap());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("ambiguous-name") && out.contains("\"tp_counter\""),
        "{out}"
    );
}

#[test]
fn a_named_image_is_verified_alone_and_an_absent_pinned_digest_fails() {
    let g = good();
    // Damage the other image: verifying tp_counter alone stays clean.
    let other = entry(&g.root, "xdp_count")["digest"]
        .as_str()
        .unwrap()
        .to_string();
    flip_bit(&blob_path(&g.root, &other), 10);
    let root = g.root.to_str().unwrap();
    assert_eq!(verify(&["--strict"], &format!("{root}:tp_counter")).0, 0);
    assert_eq!(verify(&[], &format!("{root}@{}", g.manifest)).0, 0);
    assert_eq!(verify(&[], &format!("{root}:xdp_count")).0, 1);
    let absent = Digest::of(b"absent");
    let (code, out) = verify(&[], &format!("{root}@{absent}"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&absent.to_string()), "{out}");
}

#[test]
fn several_references_are_verified_and_the_worst_result_wins() {
    let a = good();
    let b = good();
    flip_bit(&blob_path(&b.root, &b.config), 5);
    let out = ebpf_layout()
        .arg("verify")
        .arg(&a.root)
        .arg(&b.root)
        .assert()
        .code(1)
        .stdout(contains("OK").and(contains("FAILED")));
    drop(out);
    ebpf_layout()
        .arg("verify")
        .arg(&a.root)
        .arg(a.root.join("nope"))
        .assert()
        .code(2)
        .stderr(contains("nope"));
}

#[test]
fn unusable_input_exits_2() {
    let d = Dir::new();
    ebpf_layout()
        .arg("verify")
        .arg(d.path("missing"))
        .assert()
        .code(2)
        .stderr(contains("missing"));
    std::fs::create_dir(d.path("empty")).unwrap();
    ebpf_layout()
        .arg("verify")
        .arg(d.path("empty"))
        .assert()
        .code(2)
        .stderr(contains("empty"));
    ebpf_layout().arg("verify").assert().code(2);
}

#[test]
fn referrers_whose_subject_is_reached_are_not_orphans() {
    let g = good();
    let empty = Digest::of(b"{}");
    std::fs::write(blob_path(&g.root, &empty.to_string()), b"{}").unwrap();
    let size = blob(&g.root, &g.manifest).len();
    let referrer = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": g.manifest, "size": size}
    }))
    .unwrap();
    let referrer_digest = Digest::of(&referrer).to_string();
    std::fs::write(blob_path(&g.root, &referrer_digest), &referrer).unwrap();
    let (code, out) = verify(&["--strict"], g.root.to_str().unwrap());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("3 image(s)"),
        "the referrer is checked like an image: {out}"
    );

    // A damaged referrer is an error like any other blob.
    let mut damaged = referrer.clone();
    let n = damaged.len();
    damaged[n - 3] = b' ';
    std::fs::write(blob_path(&g.root, &referrer_digest), &damaged).unwrap();
    let (code, out) = verify(&["--strict"], g.root.to_str().unwrap());
    assert_eq!(code, 1, "{out}");
}

/// The layout, and the same bytes as a `.tar` and a `.tar.gz` written by GNU tar (with
/// its `./` prefixes), so that every damage is checked in every form verify reads.
fn every_form(g: &Good) -> Vec<String> {
    let root = g.root.to_str().unwrap().to_string();
    let tar = format!("{root}.tar");
    let tgz = format!("{root}.tar.gz");
    let status = std::process::Command::new("tar")
        .args(["-C", &root, "--exclude=./.ebpf-layout", "-cf", &tar, "."])
        .status()
        .unwrap();
    assert!(status.success());
    let gz = std::process::Command::new("gzip")
        .args(["-n", "-c", &tar])
        .output()
        .unwrap();
    std::fs::write(&tgz, gz.stdout).unwrap();
    vec![root, tar, tgz]
}

#[test]
fn every_damage_is_found_in_layouts_and_archives_alike() {
    if !require_tool("tar") || !require_tool("gzip") {
        return;
    }
    type Damage = fn(&Good) -> String;
    // (what, damage, exit code for the layout; archives give the same unless listed below)
    let cases: Vec<(&str, Damage, i32)> = vec![
        (
            "manifest bit flip",
            |g| {
                flip_bit(&blob_path(&g.root, &g.manifest), 40);
                g.manifest.clone()
            },
            1,
        ),
        (
            "config bit flip",
            |g| {
                flip_bit(&blob_path(&g.root, &g.config), 40);
                g.config.clone()
            },
            1,
        ),
        (
            "program bit flip",
            |g| {
                flip_bit(&blob_path(&g.root, &g.program), 400);
                g.program.clone()
            },
            1,
        ),
        (
            "truncated program",
            |g| {
                let p = blob_path(&g.root, &g.program);
                let bytes = std::fs::read(&p).unwrap();
                std::fs::write(&p, &bytes[..100]).unwrap();
                "size-mismatch".into()
            },
            1,
        ),
        (
            "missing config",
            |g| {
                std::fs::remove_file(blob_path(&g.root, &g.config)).unwrap();
                "missing-blob".into()
            },
            1,
        ),
        (
            "wrong size in index.json",
            |g| {
                let mut index = index_json(&g.root);
                index["manifests"][0]["size"] = json!(7);
                std::fs::write(
                    g.root.join("index.json"),
                    serde_json::to_vec(&index).unwrap(),
                )
                .unwrap();
                g.manifest.clone()
            },
            1,
        ),
        (
            "bad index.json",
            |g| {
                std::fs::write(g.root.join("index.json"), b"{\"schemaVersion\":2,").unwrap();
                "index.json is not valid".into()
            },
            1,
        ),
        (
            "missing oci-layout",
            |g| {
                std::fs::remove_file(g.root.join("oci-layout")).unwrap();
                "oci-layout is missing".into()
            },
            1,
        ),
        (
            "wrong oci-layout",
            |g| {
                std::fs::write(g.root.join("oci-layout"), br#"{"imageLayoutVersion":"9"}"#)
                    .unwrap();
                "imageLayoutVersion".into()
            },
            1,
        ),
        (
            "uppercase digest",
            |g| {
                let mut index = index_json(&g.root);
                let upper = g.manifest.to_uppercase().replacen("SHA256", "sha256", 1);
                index["manifests"][0]["digest"] = json!(upper);
                std::fs::write(
                    g.root.join("index.json"),
                    serde_json::to_vec(&index).unwrap(),
                )
                .unwrap();
                "lowercase".into()
            },
            1,
        ),
        (
            "unknown algorithm",
            |g| {
                let mut index = index_json(&g.root);
                index["manifests"][0]["digest"] = json!(g.manifest.replacen("sha256", "sha512", 1));
                std::fs::write(
                    g.root.join("index.json"),
                    serde_json::to_vec(&index).unwrap(),
                )
                .unwrap();
                "only sha256".into()
            },
            1,
        ),
        (
            "program that is not BPF",
            |g| {
                let hello = std::fs::read(testdata("not-bpf/hello.o")).unwrap();
                replace_program(g, &hello)
            },
            1,
        ),
        (
            "ambiguous name",
            |g| {
                let mut index = index_json(&g.root);
                index["manifests"][1]["annotations"]["org.opencontainers.image.ref.name"] =
                    json!("tp_counter");
                std::fs::write(
                    g.root.join("index.json"),
                    serde_json::to_vec(&index).unwrap(),
                )
                .unwrap();
                "ambiguous-name".into()
            },
            1,
        ),
        (
            "orphan blob (a warning)",
            |g| {
                let orphan = Digest::of(b"orphan");
                std::fs::write(blob_path(&g.root, &orphan.to_string()), b"orphan").unwrap();
                orphan.to_string()
            },
            0,
        ),
    ];
    for (what, damage, code) in cases {
        let g = good();
        let culprit = damage(&g);
        for target in every_form(&g) {
            // An archive without a valid oci-layout entry is not recognised as a layout
            // archive at all: unusable input (2), naming oci-layout.
            let code = if what.contains("oci-layout") && target.contains(".tar") {
                2
            } else {
                code
            };
            let culprit = if code == 2 {
                "oci-layout".to_string()
            } else {
                culprit.clone()
            };
            let (found, out) = verify(&[], &target);
            assert_eq!(found, code, "{what} in {target}: {out}");
            assert!(
                out.contains(&culprit),
                "{what} in {target}: {culprit} not named in {out}"
            );
            if code == 0 {
                assert_eq!(
                    verify(&["--strict"], &target).0,
                    1,
                    "{what} in {target} with --strict"
                );
            }
        }
    }
}

#[test]
fn a_symlinked_blob_in_an_archive_makes_it_unusable_and_is_named() {
    if !require_tool("tar") {
        return;
    }
    let g = good();
    let path = blob_path(&g.root, &g.program);
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &path).unwrap();
    let forms = every_form(&g);
    for target in &forms[1..] {
        let (code, out) = verify(&[], target);
        assert_eq!(code, 2, "{target}: {out}");
        assert!(
            out.contains(g.program.strip_prefix("sha256:").unwrap()),
            "{target}: {out}"
        );
        assert!(out.contains("link"), "{target}: {out}");
    }
}

#[test]
fn verifying_one_image_hashes_only_its_closure() {
    let g = good();
    let root = g.root.to_str().unwrap();
    let (_, whole) = verify_json(root, true);
    let (code, one) = verify_json(&format!("{root}:tp_counter"), true);
    assert_eq!(code, 0, "{one}");
    let closure: u64 = [&g.manifest, &g.config, &g.program]
        .iter()
        .map(|d| blob(&g.root, d).len() as u64)
        .sum();
    assert_eq!(one["reports"][0]["bytes"], closure);
    assert!(whole["reports"][0]["bytes"].as_u64().unwrap() > closure);
    // Damage outside the closure is not even read; inside, it is found.
    flip_bit(&blob_path(&g.root, &g.program), 77);
    assert_eq!(verify_json(&format!("{root}:xdp_count"), true).0, 0);
    assert_eq!(verify_json(&format!("{root}:tp_counter"), true).0, 1);
}

/// The problem with `code` in a `--json` report.
fn problem<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["reports"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {report}"))
}

/// Issue #13, item 9: an unreferenced blob is a warning, so verify does not spend
/// unbounded time on one. A 100 GiB sparse file under a valid blob name is reported by
/// name and size without being hashed (the report's byte count shows it was not read).
#[test]
fn a_huge_sparse_unreferenced_blob_is_reported_by_name_and_size_without_hashing() {
    let g = good();
    let before = snapshot(&g.root);
    let hex = "ab".repeat(32);
    let huge = g.root.join("blobs/sha256").join(&hex);
    let file = std::fs::File::create(&huge).unwrap();
    file.set_len(100 << 30).unwrap();
    drop(file);
    let stamp = std::fs::metadata(&huge).unwrap().modified().unwrap();

    let (code, report) = verify_json(g.root.to_str().unwrap(), false);
    assert_eq!(code, 0, "{report}");
    let p = problem(&report, "unreferenced-blob");
    assert_eq!(p["severity"], "warning");
    assert_eq!(p["digest"], format!("sha256:{hex}"));
    let message = p["message"].as_str().unwrap();
    assert!(message.contains("107374182400 bytes"), "{message}");
    assert!(message.contains("not hashed"), "{message}");
    // Only the two images' blobs were hashed: a few KiB, not 100 GiB.
    assert!(
        report["reports"][0]["bytes"].as_u64().unwrap() < 1 << 20,
        "{report}"
    );

    let after = std::fs::metadata(&huge).unwrap();
    assert_eq!(after.len(), 100 << 30);
    assert_eq!(after.modified().unwrap(), stamp);
    std::fs::remove_file(&huge).unwrap();
    assert_eq!(snapshot(&g.root), before, "verify changed the layout");
}

/// Issue #13, item 9: an unreferenced blob whose content does not match its name is said
/// to be corrupt whenever it was hashed: always when it is small enough to be a document,
/// with --strict when it is larger (without, it is named and sized, unhashed).
#[test]
fn an_unreferenced_blob_that_does_not_match_its_name_is_reported_corrupt_when_hashed() {
    let g = good();
    let blobs = g.root.join("blobs/sha256");
    let small = "cd".repeat(32);
    std::fs::write(blobs.join(&small), b"not what the name says").unwrap();
    let large = "ef".repeat(32);
    std::fs::write(blobs.join(&large), vec![7u8; 5 << 20]).unwrap();
    let before = snapshot(&g.root);

    let (code, report) = verify_json(g.root.to_str().unwrap(), false);
    assert_eq!(code, 0, "warnings only: {report}");
    let p = problem(&report, "corrupt-unreferenced-blob");
    assert_eq!(p["digest"], format!("sha256:{small}"));
    assert_eq!(p["expected"], format!("sha256:{small}"));
    assert_ne!(p["found"], p["expected"]);
    assert!(p["message"].as_str().unwrap().contains("corrupt"), "{p}");
    let unhashed = problem(&report, "unreferenced-blob");
    assert_eq!(unhashed["digest"], format!("sha256:{large}"));
    assert!(unhashed["message"].as_str().unwrap().contains("not hashed"));

    let (code, report) = verify_json(g.root.to_str().unwrap(), true);
    assert_eq!(code, 1, "{report}");
    let corrupt: Vec<&Value> = report["reports"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["code"] == "corrupt-unreferenced-blob")
        .collect();
    assert_eq!(corrupt.len(), 2, "{report}");
    assert_eq!(snapshot(&g.root), before, "verify changed the layout");
}

/// Not hashing unreferenced blobs must not leave a referenced one unhashed: a referrer
/// (found among the small blobs) whose layer is larger than a document and damaged is
/// still a digest mismatch without --strict.
#[test]
fn a_large_damaged_layer_of_a_stored_referrer_is_still_hashed_without_strict() {
    let g = good();
    let size = blob(&g.root, &g.manifest).len();
    let big = put_blob(&g.root, "application/x-sbom", &vec![1u8; 5 << 20]);
    let empty = put_blob(&g.root, "application/vnd.oci.empty.v1+json", b"{}");
    put_blob(
        &g.root,
        "application/vnd.oci.image.manifest.v1+json",
        &serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/x-sbom",
            "config": empty,
            "layers": [big],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": g.manifest, "size": size}
        }))
        .unwrap(),
    );
    // Damaged on the way: same size, one byte changed.
    let path = g.root.join("blobs/sha256").join(
        big["digest"]
            .as_str()
            .unwrap()
            .strip_prefix("sha256:")
            .unwrap(),
    );
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[4096] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let before = snapshot(&g.root);

    let (code, report) = verify_json(g.root.to_str().unwrap(), false);
    assert_eq!(code, 1, "{report}");
    let p = problem(&report, "digest-mismatch");
    assert_eq!(p["digest"], big["digest"]);
    assert!(
        !codes(&report).contains(&"unreferenced-blob".to_string()),
        "{report}"
    );
    assert_eq!(snapshot(&g.root), before, "verify changed the layout");
}
