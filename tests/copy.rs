//! `copy SRC DST` between layouts and archives: digests preserved, closures complete,
//! blobs deduplicated, merges that keep other names, and nothing committed on error.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::{json, Value};

use crate::archive::{gzip, RawTar};
use crate::util::*;

fn copy(
    src: impl AsRef<std::ffi::OsStr>,
    dst: impl AsRef<std::ffi::OsStr>,
) -> assert_cmd::assert::Assert {
    ebpf_layout().arg("copy").arg(src).arg(dst).assert()
}

fn copy_json(src: impl AsRef<std::ffi::OsStr>, dst: impl AsRef<std::ffi::OsStr>) -> Value {
    let out = ebpf_layout()
        .arg("copy")
        .arg(src)
        .arg(dst)
        .arg("--json")
        .assert()
        .success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

/// Names → digests of index.json.
fn names(layout: &Path) -> Vec<(Option<String>, String)> {
    index_json(layout)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .map(str::to_string),
                d["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn blob_names(layout: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn every_direction_preserves_digests() {
    let d = Dir::new();
    let layout = d.path("layout");
    pack(&layout, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    let want = names(&layout);
    let steps = [
        ("layout", "a.tar"),
        ("a.tar", "b.tar.gz"),
        ("b.tar.gz", "c.tgz"),
        ("c.tgz", "l2"),
        ("l2", "l3"),
        ("a.tar", "l4"),
    ];
    for (from, to) in steps {
        copy(d.path(from), d.path(to)).success();
        if !to.contains(".t") {
            assert_eq!(names(&d.path(to)), want, "{from} → {to}");
            ebpf_layout()
                .arg("verify")
                .arg(d.path(to))
                .assert()
                .success();
        } else {
            ebpf_layout()
                .arg("list")
                .arg(d.path(to))
                .arg("--no-trunc")
                .assert()
                .success()
                .stdout(contains(want[0].1.as_str()).and(contains(want[1].1.as_str())));
        }
    }
    assert_eq!(blob_names(&d.path("l3")), blob_names(&layout));
}

#[test]
fn one_image_by_name_or_digest_and_renaming() {
    let d = Dir::new();
    let layout = d.path("layout");
    pack(&layout, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    let xdp = digest_of(&layout, "xdp_count");
    let tar = d.path("all.tar");
    copy(&layout, &tar).success();

    let by_name = d.path("by-name");
    copy(format!("{}:xdp_count", tar.display()), &by_name).success();
    assert_eq!(names(&by_name), [(Some("xdp_count".into()), xdp.clone())]);
    assert_eq!(
        blob_names(&by_name).len(),
        3,
        "manifest, config, program only"
    );

    let by_digest = d.path("by-digest.tar");
    copy(format!("{}@{xdp}", layout.display()), &by_digest).success();
    ebpf_layout()
        .arg("list")
        .arg(&by_digest)
        .assert()
        .success()
        .stdout(contains("xdp_count").and(contains("tp_counter").not()));

    let renamed = d.path("renamed");
    copy(
        format!("{}:xdp_count", tar.display()),
        format!("{}:ghcr.io/acme/xdp:1.0", renamed.display()),
    )
    .success();
    assert_eq!(
        names(&renamed),
        [(Some("ghcr.io/acme/xdp:1.0".into()), xdp)]
    );

    // Renaming needs exactly one image; a bad name is refused before anything is written.
    copy(&tar, format!("{}:one", d.path("nope").display()))
        .code(2)
        .stderr(contains("names a single image").and(contains("holds 2 images")));
    copy(
        format!("{}:xdp_count", tar.display()),
        format!("{}:bad name", d.path("nope").display()),
    )
    .code(2)
    .stderr(contains("bad name"));
    copy(format!("{}:missing", tar.display()), d.path("nope"))
        .code(2)
        .stderr(contains("no image named \"missing\"").and(contains("xdp_count")));
    assert!(!d.path("nope").exists());
}

#[test]
fn copying_into_an_existing_layout_merges_and_skips_blobs_already_there() {
    let d = Dir::new();
    let dest = d.path("dest");
    pack(&dest, &["tp_counter.bpf.o", "ringbuf_events.bpf.o"]);
    let tp_manifest = dest
        .join("blobs/sha256")
        .join(digest_of(&dest, "tp_counter").trim_start_matches("sha256:"));
    let inode = std::fs::metadata(&tp_manifest).unwrap().ino();
    let src = d.path("src.tar.gz");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .arg(testdata("xdp_count.bpf.o"))
        .arg("-o")
        .arg(&src)
        .assert()
        .success();
    let report = copy_json(&src, &dest);
    assert_eq!(report["kind"], "layout");
    assert_eq!(report["blobs"], 6);
    assert_eq!(report["blobs_present"], 3, "tp_counter's blobs: {report}");
    assert_eq!(report["blobs_written"], 3);
    let changes: Vec<(&str, &str)> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap(), i["change"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changes,
        [("tp_counter", "unchanged"), ("xdp_count", "added")]
    );
    let listed: Vec<Option<String>> = names(&dest).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        listed,
        [
            Some("ringbuf_events".into()),
            Some("tp_counter".into()),
            Some("xdp_count".into())
        ]
    );
    assert_eq!(
        std::fs::metadata(&tp_manifest).unwrap().ino(),
        inode,
        "not rewritten"
    );
    ebpf_layout().arg("verify").arg(&dest).assert().success();
    // Human output says what happened.
    copy(&src, &dest)
        .success()
        .stdout(contains("unchanged").and(contains("6 already present")));
}

#[test]
fn writing_over_an_existing_archive_needs_force() {
    let d = Dir::new();
    let a = d.path("a");
    let b = d.path("b");
    pack(&a, &["tp_counter.bpf.o"]);
    pack(&b, &["xdp_count.bpf.o"]);
    let out = d.path("out.tar");
    copy(&a, &out).success();
    let before = std::fs::read(&out).unwrap();
    copy(&b, &out)
        .code(2)
        .stderr(contains("out.tar").and(contains("--force")));
    assert_eq!(std::fs::read(&out).unwrap(), before);
    ebpf_layout()
        .arg("copy")
        .arg(&b)
        .arg(&out)
        .arg("--force")
        .assert()
        .success();
    ebpf_layout()
        .arg("list")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("xdp_count").and(contains("tp_counter").not()));
    // An archive may be rewritten from itself.
    ebpf_layout()
        .arg("copy")
        .arg(format!("{}:xdp_count", out.display()))
        .arg(format!("{}:renamed", out.display()))
        .arg("--force")
        .assert()
        .success();
    ebpf_layout()
        .arg("list")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("renamed"));
    let left: Vec<_> = std::fs::read_dir(d.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 3, "no temporary files: {left:?}");
}

#[test]
fn a_blob_that_does_not_match_stops_the_copy_with_nothing_committed() {
    let d = Dir::new();
    let src = d.path("src");
    pack(&src, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    // Flip a byte of xdp_count's program: same size, wrong content.
    let manifest: Value =
        serde_json::from_slice(&blob(&src, &digest_of(&src, "xdp_count"))).unwrap();
    let program = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let path = src
        .join("blobs/sha256")
        .join(program.trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    let dest = d.path("dest");
    pack(&dest, &["ringbuf_events.bpf.o"]);
    let before = snapshot(d.root());
    for target in [
        dest.clone(),
        d.path("new-layout"),
        d.path("new.tar"),
        d.path("new.tar.gz"),
    ] {
        copy(&src, &target)
            .code(1)
            .stderr(contains(program.as_str()).and(contains("hashes to")));
        assert_eq!(snapshot(d.root()), before, "{}", target.display());
    }
    // The same from an archive holding the bad blob (tar built by hand: pack would not).
    let mut t = RawTar::new();
    for (name, data) in crate::archive::layout_files(&src) {
        t = t.file(&name, &data);
    }
    let bad = d.path("bad.tar");
    std::fs::write(&bad, t.end()).unwrap();
    std::fs::write(d.path("bad.tar.gz"), gzip(&std::fs::read(&bad).unwrap())).unwrap();
    let before = snapshot(d.root());
    for archive in ["bad.tar", "bad.tar.gz"] {
        copy(d.path(archive), &dest)
            .code(1)
            .stderr(contains(program.as_str()));
        copy(d.path(archive), d.path("out.tar")).code(1);
        assert_eq!(snapshot(d.root()), before, "{archive}");
    }
    // The good image alone still copies.
    copy(
        format!("{}:tp_counter", d.path("bad.tar.gz").display()),
        &dest,
    )
    .success();
}

#[test]
fn the_whole_closure_travels_nested_indexes_subjects_and_untagged_entries() {
    let d = Dir::new();
    let src = d.path("src");
    pack(&src, &["tp_counter.bpf.o"]);
    ebpf_layout()
        .arg("pack")
        .arg(testdata("xdp_count.bpf.o"))
        .args(["--platform", "linux/arm64", "-o"])
        .arg(&src)
        .assert()
        .success();
    let amd = entry(&src, "tp_counter");
    let arm = entry(&src, "xdp_count");
    let strip = |mut e: Value| {
        e.as_object_mut().unwrap().remove("annotations");
        e
    };
    let nested = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [strip(amd), strip(arm)]
    });
    let nested_desc = put_blob(
        &src,
        "application/vnd.oci.image.index.v1+json",
        serde_json::to_vec(&nested).unwrap().as_slice(),
    );
    // A signature-like artifact whose subject is the nested index.
    let empty = put_blob(&src, "application/vnd.oci.empty.v1+json", b"{}");
    let payload = put_blob(
        &src,
        "application/vnd.dev.cosign.simplesigning.v1+json",
        b"{\"sig\":1}",
    );
    let sig = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": empty,
        "layers": [payload],
        "subject": nested_desc
    });
    let sig_desc = put_blob(
        &src,
        "application/vnd.oci.image.manifest.v1+json",
        serde_json::to_vec(&sig).unwrap().as_slice(),
    );
    let mut index = index_json(&src);
    let mut multi = nested_desc.clone();
    multi["annotations"] = json!({"org.opencontainers.image.ref.name": "multi"});
    let manifests = index["manifests"].as_array_mut().unwrap();
    manifests.clear();
    manifests.push(multi);
    manifests.push(sig_desc.clone()); // untagged, as oras writes
    std::fs::write(src.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    let all_blobs = blob_names(&src);
    assert_eq!(all_blobs.len(), 10);

    // Everything, through an archive and back.
    let tgz = d.path("all.tar.gz");
    copy(&src, &tgz).success();
    let back = d.path("back");
    copy(&tgz, &back).success();
    assert_eq!(blob_names(&back), all_blobs);
    assert_eq!(
        names(&back),
        names(&src),
        "the untagged entry stays untagged"
    );

    // The image by name: the nested index and both platforms, not the signature.
    let multi_only = d.path("multi-only");
    copy(format!("{}:multi", tgz.display()), &multi_only).success();
    assert_eq!(
        blob_names(&multi_only).len(),
        7,
        "index + 2 × (manifest, config, program)"
    );

    // The signature by digest brings its subject's closure along.
    let sig_only = d.path("sig-only.tar");
    let sig_digest = sig_desc["digest"].as_str().unwrap().to_string();
    copy(format!("{}@{sig_digest}", src.display()), &sig_only).success();
    let sig_layout = d.path("sig-layout");
    copy(&sig_only, &sig_layout).success();
    assert_eq!(blob_names(&sig_layout), all_blobs);
    assert_eq!(names(&sig_layout), [(None, sig_digest)]);
}

#[test]
fn copy_reads_standard_input() {
    let d = Dir::new();
    let tgz = d.path("b.tar.gz");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .arg(testdata("multi_prog.bpf.o"))
        .arg("-o")
        .arg(&tgz)
        .assert()
        .success();
    let dest = d.path("dest");
    ebpf_layout()
        .args(["copy", "-"])
        .arg(&dest)
        .pipe_stdin(&tgz)
        .unwrap()
        .assert()
        .success()
        .stdout(contains("copied from -"));
    ebpf_layout().arg("verify").arg(&dest).assert().success();
    let out = d.path("again.tar.gz");
    ebpf_layout()
        .args(["copy", "-:tp_counter"])
        .arg(&out)
        .pipe_stdin(&tgz)
        .unwrap()
        .assert()
        .success();
    // A blob too large for the stdin buffer is named, with the way out.
    ebpf_layout()
        .args(["copy", "-", "--max-stdin-buffer", "1K"])
        .arg(d.path("small"))
        .pipe_stdin(&tgz)
        .unwrap()
        .assert()
        .code(2)
        .stderr(contains("save the archive to a file"));
    assert!(!d.path("small").exists());
}

#[test]
fn the_same_name_on_two_manifests_is_refused() {
    let d = Dir::new();
    let src = d.path("src");
    pack(&src, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    let mut index = index_json(&src);
    for m in index["manifests"].as_array_mut().unwrap() {
        m["annotations"]["org.opencontainers.image.ref.name"] = json!("probe");
    }
    std::fs::write(src.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    copy(&src, d.path("out.tar"))
        .code(2)
        .stderr(contains("\"probe\" is ambiguous"));
    assert!(!d.path("out.tar").exists());
}
