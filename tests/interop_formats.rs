//! Every eBPF image format users bring, read by list, inspect, verify, copy and load;
//! bpfman's format written by `pack --format bpfman`; multi-architecture image indexes.
//!
//! Fixtures are built here following each format's published description (see
//! docs/format.md, "Formats we read", for the sources): Inspektor Gadget's
//! `docs/reference/oci.md` and `pkg/oci/build.go`, bpfman's "eBPF Bytecode Image
//! Specifications" (`shipping-bytecode.md`), and what `oras push` writes.

use std::io::Read;
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::{json, Value};

use crate::util::*;

fn sha256(bytes: &[u8]) -> String {
    ebpf_layout::oci::Digest::of(bytes).to_string()
}

pub(crate) fn named(mut descriptor: Value, name: &str) -> Value {
    descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": name});
    descriptor
}

fn with_platform(mut descriptor: Value, arch: &str) -> Value {
    descriptor["platform"] = json!({"architecture": arch, "os": "linux"});
    descriptor
}

fn object(name: &str) -> Vec<u8> {
    std::fs::read(testdata(name)).unwrap()
}

/// An Inspektor Gadget image as `ig image build` writes it (pkg/oci/build.go): per
/// architecture a manifest (no `mediaType` field) with the metadata YAML as config and
/// the object as the `application/vnd.gadget.ebpf.program.v1+binary` layer titled
/// `program.o`, an image index over them, tagged in index.json — plus the untagged
/// entry oras-go's store adds.
pub(crate) fn gadget_fixture(root: &Path, name: &str) -> Fixture {
    let f = Fixture::new(root);
    let metadata = b"name: tp counter\ndescription: counts getpid calls\ndatasources: {}\n";
    let mut config = f.blob("application/vnd.gadget.config.v1+yaml", metadata);
    config["annotations"] = json!({"org.opencontainers.image.title": "config.yaml"});
    let mut manifests = Vec::new();
    for arch in ["amd64", "arm64"] {
        let mut layer = f.blob(
            "application/vnd.gadget.ebpf.program.v1+binary",
            &object("tp_counter.bpf.o"),
        );
        layer["annotations"] = json!({
            "org.opencontainers.image.title": "program.o",
            "org.opencontainers.image.authors": "TODO: authors",
            "org.opencontainers.image.description": "TODO: description",
        });
        let manifest = json!({"schemaVersion": 2, "config": config, "layers": [layer]});
        manifests.push(with_platform(
            f.json("application/vnd.oci.image.manifest.v1+json", &manifest),
            arch,
        ));
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    let index_desc = f.json("application/vnd.oci.image.index.v1+json", &index);
    f.index(vec![named(index_desc.clone(), name), index_desc]);
    f
}

/// A gzipped tar of regular files (and a leading `./` directory when asked), as an
/// image builder's `COPY file /` makes: uid/gid 0, mode 0644.
fn tar_gz(files: &[(&str, &[u8])], with_dir: bool) -> (Vec<u8>, String) {
    let mut builder = tar::Builder::new(Vec::new());
    if with_dir {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        builder.append_data(&mut h, "./", &b""[..]).unwrap();
    }
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        builder.append_data(&mut h, name, *data).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let diff_id = sha256(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    (gz.finish().unwrap(), diff_id)
}

/// How a bpfman bytecode image was built.
#[derive(Clone, Copy)]
pub(crate) enum Builder {
    /// `docker build` with bpfman's Containerfile.bytecode and the current labels, pushed
    /// as a Docker schema 2 image (`application/vnd.docker.*` media types).
    Docker,
    /// `podman build` with the first spec's labels (`io.ebpf.program_type`, …), an OCI
    /// image.
    PodmanLegacy,
}

/// A bpfman bytecode image as bpfman's shipping-bytecode.md describes it: an ordinary
/// image, the object at the root of its one tar+gzip layer, the labels in the config.
pub(crate) fn bpfman_fixture(
    f: &Fixture,
    name: &str,
    object_file: &str,
    arch: &str,
    how: Builder,
) -> Value {
    let file_name = Path::new(object_file)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let (layer_bytes, diff_id) = tar_gz(&[(file_name, &object(object_file))], true);
    let (manifest_type, config_type, layer_type) = match how {
        Builder::Docker => (
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        ),
        Builder::PodmanLegacy => (
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip",
        ),
    };
    let labels = match how {
        Builder::Docker => json!({
            "io.ebpf.programs": r#"{"count_getpid":"tracepoint"}"#,
            "io.ebpf.maps": r#"{"counter_getpid":"array"}"#,
        }),
        Builder::PodmanLegacy => json!({
            "io.buildah.version": "1.26.1",
            "io.ebpf.filename": file_name,
            "io.ebpf.program_name": "tp_counter",
            "io.ebpf.program_type": "tracepoint",
            "io.ebpf.bpf_function_name": "count_getpid",
        }),
    };
    let config = json!({
        "architecture": arch,
        "os": "linux",
        "created": "2024-05-30T09:17:15.327378016-04:00",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "COPY bytecode /", "created": "2024-05-30T09:17:15Z"}],
    });
    let config_desc = f.json(config_type, &config);
    let layer_desc = f.blob(layer_type, &layer_bytes);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": config_desc,
        "layers": [layer_desc],
    });
    let _ = name;
    with_platform(f.json(manifest_type, &manifest), arch)
}

/// A generic artifact as `oras push REGISTRY/x:1 README.md probe.bpf.o` writes it with
/// oras-go v2 (OCI 1.1: `artifactType`, the empty config), each file a layer of the
/// default media type titled with its file name.
pub(crate) fn generic_fixture(root: &Path, name: &str) -> Fixture {
    let f = Fixture::new(root);
    let mut config = f.blob("application/vnd.oci.empty.v1+json", b"{}");
    config["data"] = json!("e30=");
    let mut readme = f.blob(
        "application/vnd.oci.image.layer.v1.tar",
        "# XDP packet counter\n\nCounts packets per protocol.\n"
            .repeat(3)
            .as_bytes(),
    );
    readme["annotations"] = json!({"org.opencontainers.image.title": "README.md"});
    let mut program = f.blob(
        "application/vnd.oci.image.layer.v1.tar",
        &object("xdp_count.bpf.o"),
    );
    program["annotations"] = json!({"org.opencontainers.image.title": "xdp_count.bpf.o"});
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.unknown.artifact.v1",
        "config": config,
        "layers": [readme, program],
        "annotations": {"org.opencontainers.image.created": "2024-06-01T10:00:00Z"},
    });
    let desc = f.json("application/vnd.oci.image.manifest.v1+json", &manifest);
    f.index(vec![named(desc, name)]);
    f
}

fn inspect_json(reference: &str, extra: &[&str]) -> Value {
    let out = ebpf_layout()
        .args(["inspect", "--json", reference])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn list_json(path: &Path) -> Vec<Value> {
    let out = ebpf_layout()
        .arg("list")
        .arg("--json")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    serde_json::from_value(v["images"].clone()).unwrap()
}

/// Copies `src` to an archive and back into a layout, checking every digest survives.
fn round_trip_through_an_archive(src: &Path, d: &Dir, stem: &str) -> PathBuf {
    let tar = d.path(&format!("{stem}.tar.gz"));
    ebpf_layout()
        .arg("copy")
        .arg(src)
        .arg(&tar)
        .assert()
        .success();
    let back = d.path(&format!("{stem}-back"));
    ebpf_layout()
        .arg("copy")
        .arg(&tar)
        .arg(&back)
        .assert()
        .success();
    ebpf_layout().arg("verify").arg(&back).assert().success();
    let names = |p: &Path| -> Vec<(Value, Value)> {
        index_json(p)["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["digest"].clone(), e["annotations"].clone()))
            .collect()
    };
    assert_eq!(names(&back), names(src), "index entries survive the trip");
    for entry in std::fs::read_dir(src.join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        assert_eq!(
            std::fs::read(back.join("blobs/sha256").join(entry.file_name())).unwrap(),
            std::fs::read(entry.path()).unwrap()
        );
    }
    back
}

#[test]
fn an_inspektor_gadget_image_is_listed_with_its_platforms_inspected_verified_and_copied() {
    let d = Dir::new();
    let layout = d.path("gadget");
    let name = "ghcr.io/inspektor-gadget/gadget/tp_counter:v0.30.0";
    gadget_fixture(&layout, name);
    let images = list_json(&layout);
    assert_eq!(
        images.len(),
        2,
        "the tagged entry and oras-go's untagged one"
    );
    assert_eq!(images[0]["name"], name);
    assert_eq!(images[0]["format"], "gadget");
    assert_eq!(
        images[0]["media_type"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(
        images[0]["platforms"],
        json!(["linux/amd64", "linux/arm64"])
    );
    let reference = format!("{}:{name}", layout.display());
    let details = inspect_json(&reference, &[]);
    assert_eq!(details["format"], "gadget");
    assert_eq!(details["platform"], "linux/amd64");
    assert_eq!(details["object"]["programs"][0]["name"], "count_getpid");
    let arm = inspect_json(&reference, &["--platform", "linux/arm64"]);
    assert_eq!(arm["platform"], "linux/arm64");
    ebpf_layout()
        .arg("inspect")
        .arg(&reference)
        .assert()
        .success()
        .stdout(contains("Format:      gadget"));
    ebpf_layout()
        .arg("verify")
        .arg(&layout)
        .assert()
        .success()
        .stdout(contains("OK"));
    round_trip_through_an_archive(&layout, &d, "gadget");
}

#[test]
fn bpfman_images_from_docker_and_from_the_first_spec_are_read() {
    let d = Dir::new();
    let layout = d.path("bpfman");
    let f = Fixture::new(&layout);
    let docker = bpfman_fixture(&f, "docker", "tp_counter.bpf.o", "amd64", Builder::Docker);
    let legacy = bpfman_fixture(
        &f,
        "legacy",
        "tp_counter.bpf.o",
        "amd64",
        Builder::PodmanLegacy,
    );
    f.index(vec![
        named(docker, "quay.io/bpfman-bytecode/tp_counter:latest"),
        named(legacy, "quay.io/bpfman-bytecode/tp_counter:legacy"),
    ]);
    let images = list_json(&layout);
    assert_eq!(images.len(), 2);
    for image in &images {
        assert_eq!(image["format"], "bpfman", "{image}");
    }
    for tag in ["latest", "legacy"] {
        let reference = format!(
            "{}:quay.io/bpfman-bytecode/tp_counter:{tag}",
            layout.display()
        );
        let details = inspect_json(&reference, &[]);
        assert_eq!(details["format"], "bpfman");
        assert_eq!(details["object"]["programs"][0]["name"], "count_getpid");
        let label = if tag == "latest" {
            "io.ebpf.programs"
        } else {
            "io.ebpf.program_type"
        };
        assert!(
            details["config"]["config"]["Labels"]
                .as_object()
                .unwrap()
                .contains_key(label),
            "{label}"
        );
        // The object comes out of the layer byte for byte.
        let program = crate::util::verified_program(&reference);
        assert_eq!(program.object(), object("tp_counter.bpf.o"));
        assert_eq!(program.format(), "bpfman");
    }
    ebpf_layout()
        .args(["verify", "--strict"])
        .arg(&layout)
        .assert()
        .success();
    round_trip_through_an_archive(&layout, &d, "bpfman");
}

#[test]
fn a_tampered_bpfman_layer_is_an_integrity_failure_not_a_program() {
    let d = Dir::new();
    let layout = d.path("bpfman");
    let f = Fixture::new(&layout);
    let image = bpfman_fixture(&f, "x", "tp_counter.bpf.o", "amd64", Builder::Docker);
    f.index(vec![named(image.clone(), "probe")]);
    let manifest: Value =
        serde_json::from_slice(&blob(&layout, image["digest"].as_str().unwrap())).unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let path = layout
        .join("blobs/sha256")
        .join(layer.strip_prefix("sha256:").unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 12] ^= 0x55; // inside the deflate stream
    std::fs::write(&path, bytes).unwrap();
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:probe", layout.display()))
        .assert()
        .code(1)
        .stderr(contains(layer.as_str()).and(contains("hashes to")));
    ebpf_layout()
        .arg("verify")
        .arg(&layout)
        .assert()
        .code(1)
        .stdout(contains("digest-mismatch").and(contains("not-bpf").not()));
}

#[test]
fn a_bpfman_layer_without_a_bpf_object_is_reported_by_verify_and_inspect() {
    let d = Dir::new();
    let layout = d.path("bpfman");
    let f = Fixture::new(&layout);
    // A symlink named like an object, and a text file: neither is a program.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_link_name("/etc/passwd").unwrap();
    b.append_data(&mut h, "probe.bpf.o", &b""[..]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(5);
    h.set_mode(0o644);
    b.append_data(&mut h, "notes.txt", &b"hello"[..]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &b.into_inner().unwrap()).unwrap();
    let layer = f.blob(
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &gz.finish().unwrap(),
    );
    let config = f.json(
        "application/vnd.oci.image.config.v1+json",
        &json!({"architecture": "amd64", "os": "linux",
                "config": {"Labels": {"io.ebpf.programs": "{\"p\":\"xdp\"}", "io.ebpf.maps": "{}"}},
                "rootfs": {"type": "layers", "diff_ids": []}}),
    );
    let manifest = f.json(
        "application/vnd.oci.image.manifest.v1+json",
        &json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config, "layers": [layer]}),
    );
    f.index(vec![named(manifest, "empty")]);
    ebpf_layout()
        .arg("verify")
        .arg(&layout)
        .assert()
        .code(1)
        .stdout(contains("not-bpf").and(contains("no BPF object in the bytecode layer")));
    ebpf_layout()
        .arg("inspect")
        .arg(&layout)
        .assert()
        .code(2)
        .stderr(contains("no BPF object"));
    assert_eq!(list_json(&layout)[0]["format"], "bpfman");
}

#[test]
fn a_generic_oras_artifact_is_found_by_its_elf_header() {
    let d = Dir::new();
    let layout = d.path("generic");
    generic_fixture(&layout, "xdp:1");
    let images = list_json(&layout);
    assert_eq!(images[0]["format"], "generic");
    let details = inspect_json(&format!("{}:xdp:1", layout.display()), &[]);
    assert_eq!(details["format"], "generic");
    assert_eq!(
        details["program"]["annotations"]["org.opencontainers.image.title"], "xdp_count.bpf.o",
        "the second layer: the first is the README"
    );
    assert_eq!(details["object"]["programs"][0]["name"], "xdp_count");
    ebpf_layout()
        .args(["verify", "--strict"])
        .arg(&layout)
        .assert()
        .success();
    round_trip_through_an_archive(&layout, &d, "generic");
}

#[test]
fn an_artifact_without_a_bpf_layer_is_still_other() {
    let d = Dir::new();
    let layout = d.path("other");
    let f = Fixture::new(&layout);
    let config = f.blob("application/vnd.oci.empty.v1+json", b"{}");
    // An x86-64 executable is ELF, but not BPF.
    let elf = std::fs::read("/proc/self/exe").unwrap();
    let layer = f.blob("application/octet-stream", &elf[..4096.min(elf.len())]);
    let manifest = f.json(
        "application/vnd.oci.image.manifest.v1+json",
        &json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config, "layers": [layer]}),
    );
    f.index(vec![named(manifest, "tool")]);
    assert_eq!(list_json(&layout)[0]["format"], "other");
    ebpf_layout()
        .arg("inspect")
        .arg(&layout)
        .assert()
        .code(2)
        .stderr(contains("not an eBPF image"));
}

#[test]
fn pack_format_bpfman_writes_what_bpfman_reads() {
    let d = Dir::new();
    let out = d.path("bundle");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("multi_prog.bpf.o"))
        .arg(testdata("xdp_count.bpf.o"))
        .args(["--format", "bpfman", "-o"])
        .arg(&out)
        .assert()
        .success();
    let e = entry(&out, "multi_prog");
    assert_eq!(e["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    let manifest: Value =
        serde_json::from_slice(&blob(&out, e["digest"].as_str().unwrap())).unwrap();
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "exactly one layer");
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    // The config: platform, labels in bpfman's vocabulary, the layer's diff_id.
    let config: Value =
        serde_json::from_slice(&blob(&out, manifest["config"]["digest"].as_str().unwrap()))
            .unwrap();
    assert_eq!(config["architecture"], e["platform"]["architecture"]);
    assert_eq!(config["os"], "linux");
    let labels = &config["config"]["Labels"];
    let programs: Value =
        serde_json::from_str(labels["io.ebpf.programs"].as_str().unwrap()).unwrap();
    assert_eq!(
        programs,
        json!({"on_getgid": "tracepoint", "on_getuid": "tracepoint", "on_sys_enter": "raw_tracepoint"})
    );
    let maps: Value = serde_json::from_str(labels["io.ebpf.maps"].as_str().unwrap()).unwrap();
    assert_eq!(
        maps,
        json!({"counter_calls": "per_cpu_array", "gauge_last_gid": "array", "gauge_last_uid": "array"})
    );
    // The layer, read the way bpfman reads it: gunzip, the first tar entry is the object.
    let layer = blob(&out, layers[0]["digest"].as_str().unwrap());
    assert_eq!(
        &layer[..10],
        &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255],
        "fixed gzip header"
    );
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(&layer[..])
        .read_to_end(&mut tar_bytes)
        .unwrap();
    assert_eq!(config["rootfs"]["diff_ids"], json!([sha256(&tar_bytes)]));
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let mut entries = archive.entries().unwrap();
    let mut first = entries.next().unwrap().unwrap();
    assert_eq!(first.path().unwrap().to_str(), Some("multi_prog.bpf.o"));
    assert_eq!(first.header().mode().unwrap(), 0o644);
    assert_eq!(first.header().uid().unwrap(), 0);
    assert_eq!(first.header().mtime().unwrap(), 0);
    let mut inside = Vec::new();
    first.read_to_end(&mut inside).unwrap();
    assert_eq!(inside, object("multi_prog.bpf.o"));
    drop(first);
    assert!(entries.next().is_none(), "one entry only");
    // And we read it back as bpfman's format.
    let images = list_json(&out);
    assert!(images.iter().all(|i| i["format"] == "bpfman"), "{images:?}");
    ebpf_layout()
        .args(["verify", "--strict"])
        .arg(&out)
        .assert()
        .success();
    let xdp = inspect_json(&format!("{}:xdp_count", out.display()), &[]);
    assert_eq!(xdp["format"], "bpfman");
    assert_eq!(xdp["object"]["programs"][0]["programType"], "xdp");
}

#[test]
fn pack_format_bpfman_is_deterministic_in_layouts_and_archives() {
    let d = Dir::new();
    for (i, out) in ["a", "b", "a.tar", "b.tar"].iter().enumerate() {
        let mut c = ebpf_layout();
        c.arg("pack")
            .arg(testdata("tp_counter.bpf.o"))
            .arg(testdata("ringbuf_events.bpf.o"))
            .args(["--format", "bpfman", "-o"])
            .arg(d.path(out));
        if i % 2 == 1 {
            // Another working directory, the same bytes.
            c.current_dir(d.root());
        }
        c.assert().success();
    }
    assert_eq!(snapshot(&d.path("a")), snapshot(&d.path("b")));
    assert_eq!(
        std::fs::read(d.path("a.tar")).unwrap(),
        std::fs::read(d.path("b.tar")).unwrap()
    );
}

#[test]
fn pack_format_bpfman_refuses_a_section_bpfman_cannot_type() {
    let d = Dir::new();
    // The same object with its section renamed (same length): libbpf, aya and bpfman
    // know no `tracepoinx/` programs, so bpfman could not load it.
    let original = object("tp_counter.bpf.o");
    let needle = b"tracepoint/syscalls";
    let mut odd = original.clone();
    let mut renamed = 0;
    for i in 0..odd.len() - needle.len() {
        if &odd[i..i + needle.len()] == needle {
            odd[i + 9] = b'x';
            renamed += 1;
        }
    }
    assert!(renamed > 0);
    let path = d.path("odd.bpf.o");
    std::fs::write(&path, odd).unwrap();
    let out = d.path("out");
    ebpf_layout()
        .arg("pack")
        .arg(&path)
        .args(["--format", "bpfman", "-o"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(
            contains("cannot be packed for bpfman")
                .and(contains("count_getpid"))
                .and(contains("tracepoinx/syscalls/sys_enter_getpid")),
        );
    assert!(!out.exists(), "nothing written");
    // bee's format takes it: the type is only reported as unknown.
    ebpf_layout()
        .arg("pack")
        .arg(&path)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    // Something that is not an object at all is refused in either format.
    ebpf_layout()
        .arg("pack")
        .arg(testdata("not-bpf/hello.o"))
        .args(["--format", "bpfman", "-o"])
        .arg(d.path("other"))
        .assert()
        .code(2)
        .stderr(contains("not a BPF object"));
}

#[test]
fn skopeo_and_umoci_read_the_bpfman_images_we_write() {
    let d = Dir::new();
    let out = d.path("bundle");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("xdp_count.bpf.o"))
        .args(["--format", "bpfman", "--tag", "quay.io/acme/xdp:1", "-o"])
        .arg(&out)
        .assert()
        .success();
    if require_tool("skopeo") {
        let inspected: Value = serde_json::from_slice(&run_tool(
            "skopeo",
            &[
                "inspect",
                &format!("oci:{}:quay.io/acme/xdp:1", out.display()),
            ],
        ))
        .unwrap();
        assert_eq!(
            inspected["Labels"]["io.ebpf.programs"],
            r#"{"xdp_count":"xdp"}"#
        );
        assert_eq!(
            inspected["Labels"]["io.ebpf.maps"],
            r#"{"counter_packets":"array","hist_protocols":"hash"}"#
        );
    }
    if require_tool("umoci") {
        // umoci unpacks the layer as a container runtime would, checking its diff_id.
        let rootfs = d.path("unpacked");
        run_tool(
            "umoci",
            &[
                "raw",
                "unpack",
                "--rootless",
                "--image",
                &format!("{}:quay.io/acme/xdp:1", out.display()),
                rootfs.to_str().unwrap(),
            ],
        );
        assert_eq!(
            std::fs::read(rootfs.join("xdp_count.bpf.o")).unwrap(),
            object("xdp_count.bpf.o")
        );
    }
}

#[test]
fn pack_platform_writes_one_image_index_named_by_tag() {
    let d = Dir::new();
    let out = d.path("bundle");
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
        .arg("--platform")
        .arg(format!(
            "linux/amd64={}",
            testdata("tp_counter.bpf.o").display()
        ))
        .args(["--tag", "acme/probe:1.0", "-o"])
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("index of 3 platform(s)"));
    let index = index_json(&out);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
    let e = entry(&out, "acme/probe:1.0");
    assert_eq!(e["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert!(e.get("platform").is_none());
    let nested: Value = serde_json::from_slice(&blob(&out, e["digest"].as_str().unwrap())).unwrap();
    assert_eq!(
        nested["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let platforms: Vec<&str> = nested["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["amd64", "arm64", "s390x"], "sorted by platform");
    for m in nested["manifests"].as_array().unwrap() {
        assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(m["platform"]["os"], "linux");
    }
    // list shows the index with its platforms.
    let images = list_json(&out);
    assert_eq!(images[0]["name"], "acme/probe:1.0");
    assert_eq!(images[0]["format"], "bee");
    assert_eq!(
        images[0]["platforms"],
        json!(["linux/amd64", "linux/arm64", "linux/s390x"])
    );
    ebpf_layout()
        .arg("list")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("linux/amd64,linux/arm64,linux/s390x"));
    // This machine's platform by default; --platform picks another.
    let reference = format!("{}:acme/probe:1.0", out.display());
    let here = inspect_json(&reference, &[]);
    let host = ebpf_layout::oci::Platform::host().to_string();
    if ["linux/amd64", "linux/arm64", "linux/s390x"].contains(&host.as_str()) {
        assert_eq!(here["platform"], host);
    }
    let s390x = inspect_json(&reference, &["--platform", "linux/s390x"]);
    assert_eq!(s390x["platform"], "linux/s390x");
    assert_eq!(s390x["object"]["byteOrder"], "big");
    let arm = inspect_json(&reference, &["--platform", "linux/arm64"]);
    assert_eq!(arm["object"]["byteOrder"], "little");
    ebpf_layout()
        .arg("inspect")
        .arg(&reference)
        .args(["--platform", "linux/riscv64"])
        .assert()
        .code(2)
        .stderr(contains("linux/riscv64").and(contains("linux/s390x")));
    ebpf_layout()
        .args(["verify", "--strict"])
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("OK"));
    // The same inputs in another order give the same index.
    let again = d.path("again");
    ebpf_layout()
        .arg("pack")
        .arg("--platform")
        .arg(format!(
            "linux/amd64={}",
            testdata("tp_counter.bpf.o").display()
        ))
        .arg("--platform")
        .arg(format!(
            "linux/arm64={}",
            testdata("tp_counter.bpf.o").display()
        ))
        .arg("--platform")
        .arg(format!(
            "linux/s390x={}",
            testdata("bpfeb/tp_counter.bpfeb.o").display()
        ))
        .args(["--tag", "acme/probe:1.0", "-o"])
        .arg(&again)
        .assert()
        .success();
    assert_eq!(snapshot(&again), snapshot(&out));
}

#[test]
fn pack_platform_checks_each_objects_byte_order_and_refuses_mixups() {
    let d = Dir::new();
    let out = d.path("bundle");
    let tp = testdata("tp_counter.bpf.o").display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![format!("linux/amd64={tp}"), format!("linux/s390x={tp}")],
            "little-endian BPF object, but platform linux/s390x is big-endian",
        ),
        (
            vec![format!("linux/amd64={tp}"), format!("linux/amd64={tp}")],
            "given twice",
        ),
        (
            vec![
                format!("linux/amd64={tp}"),
                format!("linux/arm64={}", testdata("xdp_count.bpf.o").display()),
            ],
            "--tag",
        ),
        (
            vec![format!("linux/amd64={tp}"), "linux/arm64".to_string()],
            "OS/ARCH=FILE",
        ),
        (
            vec![format!(
                "linux/amd64={}",
                testdata("not-bpf/hello.o").display()
            )],
            "not a BPF object",
        ),
    ];
    for (platforms, why) in cases {
        let mut c = ebpf_layout();
        c.arg("pack");
        for p in &platforms {
            c.arg("--platform").arg(p);
        }
        c.arg("-o").arg(&out).assert().code(2).stderr(contains(why));
        assert!(!out.exists(), "{platforms:?}: nothing written");
    }
    // INPUT and --platform OS/ARCH=FILE do not mix.
    ebpf_layout()
        .arg("pack")
        .arg(&tp)
        .arg("--platform")
        .arg(format!("linux/arm64={tp}"))
        .args(["--tag", "x", "-o"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(contains("not both"));
}

#[test]
fn a_multi_platform_bpfman_image_carries_each_platform_in_its_config() {
    let d = Dir::new();
    let out = d.path("bundle.tar");
    ebpf_layout()
        .arg("pack")
        .arg("--platform")
        .arg(format!(
            "linux/amd64={}",
            testdata("xdp_count.bpf.o").display()
        ))
        .arg("--platform")
        .arg(format!(
            "linux/arm64={}",
            testdata("xdp_count.bpf.o").display()
        ))
        .args(["--format", "bpfman", "--tag", "quay.io/acme/xdp:2", "-o"])
        .arg(&out)
        .assert()
        .success();
    let images = list_json(&out);
    assert_eq!(images[0]["format"], "bpfman");
    assert_eq!(
        images[0]["platforms"],
        json!(["linux/amd64", "linux/arm64"])
    );
    for arch in ["amd64", "arm64"] {
        let details = inspect_json(
            &format!("{}:quay.io/acme/xdp:2", out.display()),
            &["--platform", &format!("linux/{arch}")],
        );
        assert_eq!(details["config"]["architecture"], arch);
        assert_eq!(details["format"], "bpfman");
    }
    ebpf_layout()
        .args(["verify", "--strict"])
        .arg(&out)
        .assert()
        .success();
    if require_tool("skopeo") {
        // skopeo copies the whole index, digest kept.
        let theirs = d.path("theirs");
        run_tool(
            "skopeo",
            &[
                "copy",
                "--quiet",
                "--all",
                &format!("oci-archive:{}:quay.io/acme/xdp:2", out.display()),
                &format!("oci:{}:xdp", theirs.display()),
            ],
        );
        let back = d.path("ours");
        ebpf_layout()
            .arg("copy")
            .arg(&out)
            .arg(&back)
            .assert()
            .success();
        assert_eq!(
            entry(&theirs, "xdp")["digest"],
            entry(&back, "quay.io/acme/xdp:2")["digest"]
        );
    }
}

#[test]
fn verify_checks_byte_order_against_each_platform_of_an_index() {
    let d = Dir::new();
    let layout = d.path("mixed");
    let f = Fixture::new(&layout);
    let config = f.blob("application/ebpf.oci.image.config.v1+json", b"{}");
    let mut manifests = Vec::new();
    // A little-endian object claiming to be for s390x, next to a correct amd64 one.
    for arch in ["amd64", "s390x"] {
        let mut layer = f.blob(
            "application/ebpf.oci.image.program.v1+binary",
            &object("tp_counter.bpf.o"),
        );
        layer["annotations"] = json!({"org.opencontainers.image.title": "program.o"});
        let m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": config, "layers": [layer]});
        manifests.push(with_platform(
            f.json("application/vnd.oci.image.manifest.v1+json", &m),
            arch,
        ));
    }
    let index = f.json(
        "application/vnd.oci.image.index.v1+json",
        &json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": manifests}),
    );
    f.index(vec![named(index, "probe")]);
    ebpf_layout()
        .arg("verify")
        .arg(&layout)
        .assert()
        .code(1)
        .stdout(contains("byte-order").and(contains("linux/s390x")));
}

#[cfg(feature = "loader")]
mod load {
    //! The kernel loads the program of every format, straight from the layout or archive.

    use super::*;
    use crate::kit::kernel::{kernel_test, serial, Need};

    /// Loads `reference` for a moment and returns the first JSON event.
    fn loaded(reference: &str) -> Value {
        let out = ebpf_layout()
            .args(["load", reference, "--duration", "0.3", "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{reference}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let first = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        serde_json::from_str(&first).unwrap()
    }

    kernel_test!(
        load_takes_the_program_from_gadget_bpfman_generic_and_multi_platform_images,
        [Need::Kernel],
        || {
            let _serial = serial();
            let d = Dir::new();
            let gadget = d.path("gadget");
            gadget_fixture(&gadget, "tp");
            let bpfman = d.path("bpfman");
            let f = Fixture::new(&bpfman);
            let host = ebpf_layout::oci::Platform::host();
            let image = bpfman_fixture(
                &f,
                "tp",
                "tp_counter.bpf.o",
                &host.architecture,
                Builder::Docker,
            );
            f.index(vec![named(image, "tp")]);
            let packed = d.path("packed.tar.gz");
            ebpf_layout()
                .arg("pack")
                .arg(testdata("tp_counter.bpf.o"))
                .args(["--format", "bpfman", "--tag", "tp", "-o"])
                .arg(&packed)
                .assert()
                .success();
            let multi = d.path("multi.tar");
            ebpf_layout()
                .arg("pack")
                .arg("--platform")
                .arg(format!("{host}={}", testdata("tp_counter.bpf.o").display()))
                .arg("--platform")
                .arg(format!(
                    "linux/s390x={}",
                    testdata("bpfeb/tp_counter.bpfeb.o").display()
                ))
                .args(["--tag", "tp", "-o"])
                .arg(&multi)
                .assert()
                .success();
            for reference in [
                format!("{}:tp", gadget.display()),
                format!("{}:tp", bpfman.display()),
                format!("{}:tp", packed.display()),
                format!("{}:tp", multi.display()),
            ] {
                let event = loaded(&reference);
                assert_eq!(event["event"], "loaded", "{reference}");
                assert_eq!(event["programs"][0]["name"], "count_getpid", "{reference}");
            }
            let generic = d.path("generic");
            generic_fixture(&generic, "xdp");
            // XDP needs an interface to attach to: loading it verifies, then attaches to lo.
            let out = ebpf_layout()
                .args(["load", &format!("{}:xdp", generic.display())])
                .args(["--attach", "xdp:lo", "--duration", "0.3", "--json"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("\"xdp_count\""));
            // The other platform's object is not for this machine.
            ebpf_layout()
                .args(["load", &format!("{}:tp", multi.display())])
                .args(["--platform", "linux/s390x", "--duration", "0.3"])
                .assert()
                .failure()
                .stderr(contains("big-endian"));
        }
    );
}
