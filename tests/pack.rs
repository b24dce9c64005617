//! `pack`: the format we write, determinism, names, merging.

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;

use crate::util::*;

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

#[test]
fn pack_writes_one_bee_image_with_exact_media_types_and_titles() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o"]);

    assert_eq!(
        std::fs::read(out.join("oci-layout")).unwrap(),
        br#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let index = index_json(&out);
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let e = entry(&out, "tp_counter");
    assert_eq!(e["mediaType"], MANIFEST);
    assert_eq!(e["platform"]["os"], "linux");
    assert_eq!(e["platform"]["architecture"], "amd64");

    let manifest_bytes = blob(&out, e["digest"].as_str().unwrap());
    assert_eq!(manifest_bytes.len() as u64, e["size"].as_u64().unwrap());
    let m: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    assert_eq!(m["schemaVersion"], 2);
    assert_eq!(m["mediaType"], MANIFEST);
    assert_eq!(
        m["config"]["mediaType"],
        "application/ebpf.oci.image.config.v1+json"
    );
    assert_eq!(
        m["config"]["annotations"]["org.opencontainers.image.title"],
        "config.json"
    );
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "exactly one module per image");
    assert_eq!(
        layers[0]["mediaType"],
        "application/ebpf.oci.image.program.v1+binary"
    );
    assert_eq!(
        layers[0]["annotations"]["org.opencontainers.image.title"],
        "program.o"
    );

    // The program layer is the object, byte for byte.
    let program = blob(&out, layers[0]["digest"].as_str().unwrap());
    assert_eq!(
        program,
        std::fs::read(testdata("tp_counter.bpf.o")).unwrap()
    );

    // The config carries the documented metadata.
    let config: Value =
        serde_json::from_slice(&blob(&out, m["config"]["digest"].as_str().unwrap())).unwrap();
    let meta = &config["ebpf-layout"];
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["byteOrder"], "little");
    assert_eq!(meta["license"], "GPL");
    assert_eq!(meta["btf"], true);
    assert_eq!(meta["programs"][0]["name"], "count_getpid");
    assert_eq!(
        meta["programs"][0]["section"],
        "tracepoint/syscalls/sys_enter_getpid"
    );
    assert_eq!(meta["programs"][0]["type"], "tracepoint");
    assert_eq!(meta["maps"][0]["name"], "counter_getpid");
    assert_eq!(meta["maps"][0]["type"], "array");
    assert_eq!(meta["maps"][0]["keySize"], 4);
    assert_eq!(meta["maps"][0]["valueSize"], 8);
}

#[test]
fn json_documents_are_canonical_so_digests_are_of_the_written_bytes() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["multi_prog.bpf.o"]);
    let e = entry(&out, "multi_prog");
    let manifest_bytes = blob(&out, e["digest"].as_str().unwrap());
    // Re-serialising with sorted keys (serde_json's default Value map) gives the same bytes.
    let v: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    assert_eq!(serde_json::to_vec(&v).unwrap(), manifest_bytes);
    let index_bytes = std::fs::read(out.join("index.json")).unwrap();
    let v: Value = serde_json::from_slice(&index_bytes).unwrap();
    assert_eq!(serde_json::to_vec(&v).unwrap(), index_bytes);
}

#[test]
fn two_packs_of_the_same_inputs_give_identical_layouts() {
    let d = Dir::new();
    let objects = ["tp_counter.bpf.o", "xdp_count.bpf.o", "multi_prog.bpf.o"];
    pack(&d.path("a"), &objects);
    // Different order on the command line, same result.
    let mut reversed = objects;
    reversed.reverse();
    pack(&d.path("b"), &reversed);
    assert_eq!(snapshot(&d.path("a")), snapshot(&d.path("b")));
}

#[test]
fn source_date_epoch_adds_a_creation_time_and_stays_reproducible() {
    let d = Dir::new();
    for name in ["a", "b"] {
        ebpf_layout()
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["pack"])
            .arg(testdata("tp_counter.bpf.o"))
            .arg("-o")
            .arg(d.path(name))
            .assert()
            .success();
    }
    assert_eq!(snapshot(&d.path("a")), snapshot(&d.path("b")));
    let e = entry(&d.path("a"), "tp_counter");
    let m: Value =
        serde_json::from_slice(&blob(&d.path("a"), e["digest"].as_str().unwrap())).unwrap();
    assert_eq!(
        m["annotations"]["org.opencontainers.image.created"],
        "2023-11-14T22:13:20Z"
    );

    // Without it, no timestamp at all.
    pack(&d.path("c"), &["tp_counter.bpf.o"]);
    let e = entry(&d.path("c"), "tp_counter");
    let m: Value =
        serde_json::from_slice(&blob(&d.path("c"), e["digest"].as_str().unwrap())).unwrap();
    assert!(m.get("annotations").is_none(), "{m}");
}

#[test]
fn directories_are_walked_recursively_and_non_bpf_files_are_skipped_and_counted() {
    let d = Dir::new();
    let src = d.path("src");
    std::fs::create_dir_all(src.join("nested/deeper")).unwrap();
    std::fs::copy(testdata("tp_counter.bpf.o"), src.join("tp_counter.bpf.o")).unwrap();
    std::fs::copy(
        testdata("xdp_count.bpf.o"),
        src.join("nested/deeper/xdp_count.bpf.o"),
    )
    .unwrap();
    std::fs::copy(testdata("not-bpf/hello.o"), src.join("nested/hello.o")).unwrap();
    std::fs::write(src.join("README.txt"), "notes").unwrap();
    std::fs::copy(
        testdata("bpfeb/tp_counter.bpfeb.o"),
        src.join("nested/tp_counter_bpfeb.o"),
    )
    .unwrap();
    let out = d.path("bundle");
    ebpf_layout()
        .arg("pack")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("skipped 3 file(s)"))
        .stderr(
            contains("hello.o")
                .and(contains("x86-64"))
                .and(contains("tp_counter_bpfeb.o: big-endian")),
        );
    let names: Vec<String> = index_json(&out)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["tp_counter", "xdp_count"]);
}

#[test]
fn tag_names_a_single_input_and_full_references_work() {
    let d = Dir::new();
    let out = d.path("bundle");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .args(["--tag", "ghcr.io/acme/probe:1.2", "-o"])
        .arg(&out)
        .assert()
        .success();
    entry(&out, "ghcr.io/acme/probe:1.2");
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:ghcr.io/acme/probe:1.2", out.display()))
        .assert()
        .success()
        .stdout(contains("count_getpid"));
}

#[test]
fn packing_into_an_existing_layout_keeps_its_other_names() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o"]);
    pack(&out, &["xdp_count.bpf.o"]);
    entry(&out, "tp_counter");
    entry(&out, "xdp_count");
    assert_eq!(index_json(&out)["manifests"].as_array().unwrap().len(), 2);
}

#[test]
fn repacking_identical_input_changes_nothing() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o"]);
    let before = snapshot(&out);
    ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .arg("-o")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("unchanged"));
    assert_eq!(before, snapshot(&out));
}

#[test]
fn moving_a_name_to_a_different_image_says_old_and_new_digest() {
    let d = Dir::new();
    let out = d.path("bundle");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .args(["--tag", "probe", "-o"])
        .arg(&out)
        .assert()
        .success();
    let old = entry(&out, "probe")["digest"].as_str().unwrap().to_string();
    let assert = ebpf_layout()
        .arg("pack")
        .arg(testdata("xdp_count.bpf.o"))
        .args(["--tag", "probe", "-o"])
        .arg(&out)
        .assert()
        .success();
    let new = entry(&out, "probe")["digest"].as_str().unwrap().to_string();
    assert_ne!(old, new);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("moved"), "{stdout}");
    assert!(
        stdout.contains(&old[..19]) && stdout.contains(&new[..19]),
        "{stdout}"
    );
    assert_eq!(index_json(&out)["manifests"].as_array().unwrap().len(), 1);
}

#[test]
fn annotations_and_platform_are_recorded() {
    let d = Dir::new();
    let out = d.path("bundle");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .args([
            "--platform",
            "linux/arm64",
            "--annotation",
            "org.opencontainers.image.source=https://example.test/acme",
            "-o",
        ])
        .arg(&out)
        .assert()
        .success();
    let e = entry(&out, "tp_counter");
    assert_eq!(e["platform"]["architecture"], "arm64");
    let m: Value = serde_json::from_slice(&blob(&out, e["digest"].as_str().unwrap())).unwrap();
    assert_eq!(
        m["annotations"]["org.opencontainers.image.source"],
        "https://example.test/acme"
    );
}

#[test]
fn big_endian_objects_pack_only_for_big_endian_platforms() {
    let d = Dir::new();
    let out = d.path("bundle");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("bpfeb/tp_counter.bpfeb.o"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(
            contains("tp_counter.bpfeb.o")
                .and(contains("big-endian"))
                .and(contains("linux/amd64")),
        );
    assert!(!out.exists());
    ebpf_layout()
        .arg("pack")
        .arg(testdata("bpfeb/tp_counter.bpfeb.o"))
        .args(["--platform", "linux/s390x", "-o"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(
        entry(&out, "tp_counter.bpfeb")["platform"]["architecture"],
        "s390x"
    );
}

#[test]
fn json_report_lists_images_and_changes() {
    let d = Dir::new();
    let out = d.path("bundle");
    let assert = ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .arg(testdata("xdp_count.bpf.o"))
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .assert()
        .success();
    let report: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(report["images"].as_array().unwrap().len(), 2);
    assert_eq!(report["images"][0]["name"], "tp_counter");
    assert_eq!(report["images"][0]["change"], "added");
    assert_eq!(
        report["images"][0]["digest"],
        entry(&out, "tp_counter")["digest"]
    );
}

#[test]
fn directory_walk_takes_symlinked_files_but_not_symlinked_directories() {
    let d = Dir::new();
    let src = d.path("src");
    std::fs::create_dir_all(src.join("b_dir")).unwrap();
    std::fs::copy(
        testdata("tp_counter.bpf.o"),
        src.join("b_dir/tp_counter.bpf.o"),
    )
    .unwrap();
    // A file symlink is packed like the file it names.
    std::os::unix::fs::symlink(testdata("xdp_count.bpf.o"), src.join("a_link.bpf.o")).unwrap();
    // A symlink back to the root would loop; one to a folder outside would pack strangers.
    std::os::unix::fs::symlink(&src, src.join("c_loop")).unwrap();
    let outside = d.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::copy(
        testdata("multi_prog.bpf.o"),
        outside.join("multi_prog.bpf.o"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, src.join("d_outside")).unwrap();
    // A dangling symlink is neither an object nor an error.
    std::os::unix::fs::symlink(d.path("gone.o"), src.join("e_dangling.o")).unwrap();
    let out = d.path("bundle");
    ebpf_layout()
        .arg("pack")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let names: Vec<String> = index_json(&out)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["annotations"]["org.opencontainers.image.ref.name"].to_string())
        .collect();
    assert_eq!(names, ["\"a_link\"", "\"tp_counter\""]);
}

#[test]
fn an_unreadable_folder_in_the_walk_is_an_error_naming_it_and_writes_nothing() {
    // Running as root, permissions do not stop reading; a path longer than PATH_MAX
    // does (ENAMETOOLONG), for any user. Built one level at a time, relative to an open
    // directory, since no single path may name it.
    let d = Dir::new();
    let src = d.path("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(testdata("tp_counter.bpf.o"), src.join("tp_counter.bpf.o")).unwrap();
    let long = "d".repeat(250);
    let mut dir = std::fs::File::open(&src).unwrap();
    for _ in 0..20 {
        use rustix::fs::{mkdirat, openat, Mode, OFlags};
        mkdirat(&dir, long.as_str(), Mode::from_raw_mode(0o755)).unwrap();
        let fd = openat(
            &dir,
            long.as_str(),
            OFlags::DIRECTORY | OFlags::RDONLY,
            Mode::empty(),
        )
        .unwrap();
        dir = std::fs::File::from(fd);
    }
    let out = d.path("bundle");
    ebpf_layout()
        .arg("pack")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(contains("reading").and(contains(format!("{long}/{long}"))));
    assert!(!out.exists(), "nothing is written");
}
