//! Kernel BTF bundled beside an image (issue #18, docs/btf.md), without the kernel: pack
//! with this machine's own BTF, the artifact's shape and size, inspect, copy, verify, gc,
//! archives, and hostile BTF inputs. Loading with it is in tests/load_btf.rs.

use std::path::{Path, PathBuf};

use predicates::str::contains;
use serde_json::Value;

use ebpf_layout::kernel_btf::{ANNOTATION_RELEASE, ARTIFACT_TYPE, LAYER_MEDIA_TYPE, MAX_BTF_SIZE};
use ebpf_layout::oci::Digest;

use crate::util::*;

/// This machine's own BTF: the input every test here bundles.
const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// Whether the tests can run here: bpftool minimises, and the kernel exposes its BTF.
fn can_bundle(test: &str) -> bool {
    if !Path::new(VMLINUX).exists() {
        if std::env::var("EBPF_LAYOUT_REQUIRE_ALL").as_deref() == Ok("1") {
            panic!("{test}: {VMLINUX} is missing and EBPF_LAYOUT_REQUIRE_ALL=1");
        }
        eprintln!("SKIPPED {test}: this kernel has no {VMLINUX} to bundle");
        return false;
    }
    require_tool("bpftool")
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn index(layout: &Path) -> Value {
    json(&std::fs::read(layout.join("index.json")).unwrap())
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

/// The index entry named `name`.
fn entry(layout: &Path, name: &str) -> Value {
    index(layout)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["annotations"]["org.opencontainers.image.ref.name"] == name)
        .unwrap_or_else(|| panic!("no entry {name} in {}", layout.display()))
        .clone()
}

/// `pack testdata/OBJECT -o OUT --kernel-btf SPEC…`, asserting success.
fn pack_btf(out: &Path, object: &str, specs: &[String]) {
    let mut c = ebpf_layout();
    c.arg("pack").arg(testdata(object)).arg("-o").arg(out);
    for s in specs {
        c.arg("--kernel-btf").arg(s);
    }
    c.assert().success();
}

fn this_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap()
        .trim()
        .to_string()
}

fn spec(release: &str, file: &Path) -> String {
    format!("{release}={}", file.display())
}

/// The `.btf` artifact of the image named `name` in a layout: (entry, manifest).
fn artifact(layout: &Path, name: &str) -> (Value, Value) {
    let image = entry(layout, name);
    let hex = image["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let e = entry(layout, &format!("sha256-{hex}.btf"));
    let manifest = json(&blob(layout, e["digest"].as_str().unwrap()));
    (e, manifest)
}

#[test]
fn pack_kernel_btf_stores_a_few_hundred_bytes_beside_an_unchanged_image() {
    if !can_bundle("pack_kernel_btf_stores_a_few_hundred_bytes_beside_an_unchanged_image") {
        return;
    }
    let d = Dir::new();
    let (plain, with) = (d.path("plain"), d.path("with"));
    pack(&plain, &["core_tgid.bpf.o"]);
    let release = this_release();
    pack_btf(
        &with,
        "core_tgid.bpf.o",
        &[spec(&release, Path::new(VMLINUX))],
    );

    // The image itself is byte for byte the one packed without BTF: readers see a plain image.
    assert_eq!(
        entry(&plain, "core_tgid")["digest"],
        entry(&with, "core_tgid")["digest"]
    );
    let image = entry(&with, "core_tgid");
    let (e, manifest) = artifact(&with, "core_tgid");
    assert_eq!(e["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(manifest["artifactType"], ARTIFACT_TYPE);
    assert_eq!(manifest["subject"]["digest"], image["digest"]);
    assert_eq!(manifest["subject"]["size"], image["size"]);
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], LAYER_MEDIA_TYPE);
    assert_eq!(
        layers[0]["annotations"][ANNOTATION_RELEASE],
        release.as_str()
    );
    let btf = blob(&with, layers[0]["digest"].as_str().unwrap());
    assert_eq!(
        format!("sha256:{}", Digest::of(&btf).hex()),
        layers[0]["digest"].as_str().unwrap()
    );
    // Raw BTF (magic 0xeb9f, little-endian here), minimised: a few hundred bytes against
    // the kernel's megabytes.
    assert_eq!(&btf[..2], &[0x9f, 0xeb]);
    let full = std::fs::metadata(VMLINUX).unwrap().len();
    assert!(full > 1 << 20, "{VMLINUX} is {full} bytes");
    assert!(
        btf.len() < 4096,
        "minimised BTF is {} bytes (full: {full})",
        btf.len()
    );
    // It holds what core_tgid's relocation needs, and not much else.
    std::fs::write(d.path("min.btf"), &btf).unwrap();
    let dump = String::from_utf8(run_tool(
        "bpftool",
        &["btf", "dump", "file", d.path("min.btf").to_str().unwrap()],
    ))
    .unwrap();
    assert!(dump.contains("STRUCT 'task_struct'"), "{dump}");
    assert!(dump.contains("'tgid'"), "{dump}");
    assert!(!dump.contains("'mm_struct'"), "{dump}");
}

#[test]
fn inspect_lists_the_kernel_releases_an_image_carries_btf_for() {
    if !can_bundle("inspect_lists_the_kernel_releases_an_image_carries_btf_for") {
        return;
    }
    let d = Dir::new();
    let out = d.path("bundle");
    pack_btf(
        &out,
        "core_tgid.bpf.o",
        &[
            spec("5.15.0-91-generic", Path::new(VMLINUX)),
            spec("4.18.0-553.el8.x86_64", Path::new(VMLINUX)),
        ],
    );
    let o = ebpf_layout()
        .args(["inspect", "--json"])
        .arg(format!("{}:core_tgid", out.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = json(&o.stdout);
    let releases: Vec<&str> = v["kernelBtf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["release"].as_str().unwrap())
        .collect();
    assert_eq!(releases, ["4.18.0-553.el8.x86_64", "5.15.0-91-generic"]);
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:core_tgid", out.display()))
        .assert()
        .success()
        .stdout(contains("Kernel BTF:  5.15.0-91-generic"));
    // `list --all` tells the artifact from an image (plain `list` shows images only), and
    // `load bundle` still finds the one image.
    ebpf_layout()
        .args(["list", "--all"])
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("kernel-btf"));
}

#[test]
fn copy_verify_and_gc_keep_the_kernel_btf_artifact() {
    if !can_bundle("copy_verify_and_gc_keep_the_kernel_btf_artifact") {
        return;
    }
    let d = Dir::new();
    let src = d.path("src");
    pack_btf(
        &src,
        "core_tgid.bpf.o",
        &[spec("5.10.0-28-amd64", Path::new(VMLINUX))],
    );
    pack(&src, &["tp_counter.bpf.o"]);
    let (_, manifest) = artifact(&src, "core_tgid");
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();

    // copy IMAGE carries its artifact, as it carries signatures; not the other image.
    let dst = d.path("dst");
    ebpf_layout()
        .arg("copy")
        .arg(format!("{}:core_tgid", src.display()))
        .arg(&dst)
        .assert()
        .success();
    let (_, copied) = artifact(&dst, "core_tgid");
    assert_eq!(copied, manifest);
    assert_eq!(blob(&dst, &layer), blob(&src, &layer));
    assert_eq!(index(&dst)["manifests"].as_array().unwrap().len(), 2);

    ebpf_layout().arg("verify").arg(&dst).assert().code(0);
    // gc keeps it while the image is named.
    ebpf_layout().arg("gc").arg(&dst).assert().success();
    assert_eq!(blob(&dst, &layer), blob(&src, &layer));
    ebpf_layout().arg("verify").arg(&dst).assert().code(0);

    // verify hashes the BTF blob: one flipped byte is an integrity failure.
    let path = dst
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    ebpf_layout()
        .arg("verify")
        .arg(&dst)
        .assert()
        .code(1)
        .stdout(contains(layer.trim_start_matches("sha256:")));
    // Verifying just the image checks the BTF bundled with it too (load would use it).
    ebpf_layout()
        .arg("verify")
        .arg(format!("{}:core_tgid", dst.display()))
        .assert()
        .code(1)
        .stdout(contains(layer.trim_start_matches("sha256:")));
    ebpf_layout()
        .arg("verify")
        .arg(format!("{}:tp_counter", src.display()))
        .assert()
        .code(0);
}

#[test]
fn an_archive_round_trip_keeps_the_kernel_btf() {
    if !can_bundle("an_archive_round_trip_keeps_the_kernel_btf") {
        return;
    }
    let d = Dir::new();
    let tar = d.path("bundle.tar");
    pack_btf(
        &tar,
        "core_tgid.bpf.o",
        &[spec("6.1.0-18-amd64", Path::new(VMLINUX))],
    );
    let back = d.path("back");
    ebpf_layout()
        .arg("copy")
        .arg(&tar)
        .arg(&back)
        .assert()
        .success();
    let gz = d.path("again.tar.gz");
    ebpf_layout()
        .arg("copy")
        .arg(&back)
        .arg(&gz)
        .assert()
        .success();
    let again = d.path("again");
    ebpf_layout()
        .arg("copy")
        .arg(&gz)
        .arg(&again)
        .assert()
        .success();
    let (_, first) = artifact(&back, "core_tgid");
    let (_, last) = artifact(&again, "core_tgid");
    assert_eq!(first, last);
    let layer = first["layers"][0]["digest"].as_str().unwrap();
    assert_eq!(
        first["layers"][0]["annotations"][ANNOTATION_RELEASE],
        "6.1.0-18-amd64"
    );
    assert_eq!(blob(&back, layer), blob(&again, layer));
    // Read back through the library's loader path: verified and parsed as BTF.
    let source = ebpf_layout::source::open(&gz).unwrap();
    let image = Digest::parse(entry(&again, "core_tgid")["digest"].as_str().unwrap()).unwrap();
    let btf =
        ebpf_layout::kernel_btf::read_release(source.as_ref(), &image, "6.1.0-18-amd64").unwrap();
    assert_eq!(btf.bytes(), &blob(&again, layer)[..]);
}

#[test]
fn a_btfhub_tree_of_btf_tar_xz_files_is_read_by_release() {
    if !can_bundle("a_btfhub_tree_of_btf_tar_xz_files_is_read_by_release") {
        return;
    }
    let d = Dir::new();
    let tree = d.path("btfhub/ubuntu/22.04/x86_64");
    std::fs::create_dir_all(&tree).unwrap();
    let vmlinux = std::fs::read(VMLINUX).unwrap();
    write_tar_xz(
        &tree.join("5.15.0-91-generic.btf.tar.xz"),
        &[TarItem::File("5.15.0-91-generic.btf", &vmlinux)],
        6,
    );
    std::fs::write(tree.join("6.2.0-39-generic.btf"), &vmlinux).unwrap();
    std::fs::write(
        tree.join("README.md"),
        b"not BTF, not named as BTF: ignored",
    )
    .unwrap();
    let out = d.path("bundle");
    pack_btf(
        &out,
        "core_tgid.bpf.o",
        &[d.path("btfhub").display().to_string()],
    );
    let (_, manifest) = artifact(&out, "core_tgid");
    let releases: Vec<&str> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["annotations"][ANNOTATION_RELEASE].as_str().unwrap())
        .collect();
    assert_eq!(releases, ["5.15.0-91-generic", "6.2.0-39-generic"]);
    // The same kernel BTF either way: the same minimised blob.
    assert_eq!(
        manifest["layers"][0]["digest"],
        manifest["layers"][1]["digest"]
    );
}

/// What a hostile `--kernel-btf` input gets: pack fails with `reason`, and the output is
/// not created.
fn refused(test: &str, input: &Path, reason: &str) {
    if !can_bundle(test) {
        return;
    }
    let d = Dir::new();
    let out = d.path("bundle");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("core_tgid.bpf.o"))
        .arg("-o")
        .arg(&out)
        .arg("--kernel-btf")
        .arg(spec("5.4.0-1-generic", input))
        .assert()
        .failure()
        .stderr(contains(reason));
    assert!(!out.exists(), "{test}: the layout was created");
}

#[test]
fn kernel_btf_that_is_not_btf_is_refused() {
    let d = Dir::new();
    // A BPF object is ELF, not raw BTF.
    refused(
        "kernel_btf_that_is_not_btf_is_refused",
        &testdata("tp_counter.bpf.o"),
        "not kernel BTF",
    );
    // Truncated BTF: the header promises more than there is.
    let truncated = d.path("truncated.btf");
    let vmlinux = std::fs::read(VMLINUX).unwrap_or_default();
    std::fs::write(&truncated, &vmlinux[..vmlinux.len().min(4096)]).unwrap();
    refused(
        "kernel_btf_that_is_not_btf_is_refused",
        &truncated,
        "not kernel BTF",
    );
}

#[test]
fn a_btf_tar_xz_holding_a_symlink_is_refused() {
    let d = Dir::new();
    let xz = d.path("k.btf.tar.xz");
    write_tar_xz(
        &xz,
        &[TarItem::Symlink("k.btf", "/sys/kernel/btf/vmlinux")],
        6,
    );
    refused(
        "a_btf_tar_xz_holding_a_symlink_is_refused",
        &xz,
        "links and devices are refused",
    );
}

#[test]
fn a_btf_tar_xz_holding_a_hard_link_is_refused() {
    let d = Dir::new();
    let xz = d.path("k.btf.tar.xz");
    write_tar_xz(&xz, &[TarItem::HardLink("k.btf", "etc/shadow")], 6);
    refused(
        "a_btf_tar_xz_holding_a_hard_link_is_refused",
        &xz,
        "links and devices are refused",
    );
}

#[test]
fn a_btf_tar_xz_with_a_dot_dot_name_is_refused() {
    let d = Dir::new();
    let xz = d.path("k.btf.tar.xz");
    write_tar_xz(&xz, &[TarItem::File("../../k.btf", b"whatever")], 6);
    refused(
        "a_btf_tar_xz_with_a_dot_dot_name_is_refused",
        &xz,
        "outside its folder",
    );
}

#[test]
fn a_huge_btf_tar_xz_is_refused_without_decompressing_it_all() {
    let d = Dir::new();
    let xz = d.path("bomb.btf.tar.xz");
    // 80 MiB of zeros compress to a few KiB: past the limit, refused at it.
    let zeros = vec![0u8; (MAX_BTF_SIZE + (16 << 20)) as usize];
    write_tar_xz(&xz, &[TarItem::File("bomb.btf", &zeros)], 0);
    drop(zeros);
    assert!(std::fs::metadata(&xz).unwrap().len() < 1 << 20);
    refused(
        "a_huge_btf_tar_xz_is_refused_without_decompressing_it_all",
        &xz,
        "decompresses to more than",
    );
}

#[test]
fn a_file_that_is_not_xz_is_refused() {
    let d = Dir::new();
    let xz = d.path("k.btf.tar.xz");
    std::fs::write(&xz, b"plain text pretending to be xz").unwrap();
    refused(
        "a_file_that_is_not_xz_is_refused",
        &xz,
        "not a valid .tar.xz",
    );
}

#[test]
fn bundled_btf_that_is_not_btf_never_reaches_the_loader() {
    // An artifact whose blob matches its digest but is not BTF (made by someone else's
    // tool): the loader path refuses it before libbpf sees it.
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["core_tgid.bpf.o"]);
    let image_entry = entry(&out, "core_tgid");
    let image = ebpf_layout::oci::Descriptor::new(
        image_entry["mediaType"].as_str().unwrap(),
        Digest::parse(image_entry["digest"].as_str().unwrap()).unwrap(),
        image_entry["size"].as_u64().unwrap(),
    );
    let mut writer = ebpf_layout::layout::LayoutWriter::open_or_create(&out).unwrap();
    ebpf_layout::kernel_btf::add_to_layout(
        &mut writer,
        &image,
        &[ebpf_layout::kernel_btf::MinimisedBtf {
            release: "5.4.0-1-generic".into(),
            bytes: b"#!/bin/sh\necho this is not BTF\n".to_vec(),
            full_size: 0,
        }],
    )
    .unwrap();
    writer.commit().unwrap();
    let source = ebpf_layout::source::open(&out).unwrap();
    let err =
        ebpf_layout::kernel_btf::read_release(source.as_ref(), &image.digest, "5.4.0-1-generic")
            .unwrap_err()
            .to_string();
    assert!(err.contains("not kernel BTF"), "{err}");
    // verify says so too, for the whole layout and for the image.
    for reference in [
        out.display().to_string(),
        format!("{}:core_tgid", out.display()),
    ] {
        let o = ebpf_layout()
            .args(["verify", "--json", &reference])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
        let report = json(&o.stdout);
        let problems = report["reports"][0]["problems"].as_array().unwrap();
        assert!(
            problems.iter().any(|p| p["code"] == "kernel-btf"
                && p["message"].as_str().unwrap().contains("5.4.0-1-generic")),
            "{report}"
        );
    }
}

#[test]
fn load_names_this_kernel_and_the_releases_the_image_has_when_none_match() {
    if !can_bundle("load_names_this_kernel_and_the_releases_the_image_has_when_none_match") {
        return;
    }
    let d = Dir::new();
    let out = d.path("bundle");
    pack_btf(
        &out,
        "core_tgid.bpf.o",
        &[
            spec("5.4.0-1-generic", Path::new(VMLINUX)),
            spec("4.19.0-27-amd64", Path::new(VMLINUX)),
        ],
    );
    // Fails before the kernel is involved: no root needed.
    ebpf_layout()
        .arg("load")
        .arg(format!("{}:core_tgid", out.display()))
        .args(["--kernel-btf", "bundled", "--duration", "0"])
        .assert()
        .failure()
        .stderr(contains(format!("no BTF for kernel {}", this_release())))
        .stderr(contains("it has BTF for: 4.19.0-27-amd64, 5.4.0-1-generic"));
}

/// One entry of a test tarball.
enum TarItem<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

/// Writes `items` as a tar compressed with xz at `level` (our own writer: `tar` and `xz2`
/// crates, the same the project builds with).
fn write_tar_xz(path: &PathBuf, items: &[TarItem<'_>], level: u32) {
    use std::io::Write;
    let mut tar = tar::Builder::new(Vec::new());
    for item in items {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match item {
            TarItem::File(name, data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                // set_path refuses `..`; write the raw name as a hostile tool would.
                let raw = &mut h.as_old_mut().name;
                raw.fill(0);
                raw[..name.len()].copy_from_slice(name.as_bytes());
                h.set_cksum();
                tar.append(&h, *data).unwrap();
            }
            TarItem::Symlink(name, target) | TarItem::HardLink(name, target) => {
                h.set_size(0);
                h.set_entry_type(match item {
                    TarItem::Symlink(..) => tar::EntryType::Symlink,
                    _ => tar::EntryType::Link,
                });
                h.set_path(name).unwrap();
                h.set_link_name(target).unwrap();
                h.set_cksum();
                tar.append(&h, std::io::empty()).unwrap();
            }
        }
    }
    let bytes = tar.into_inner().unwrap();
    let mut xz = xz2::write::XzEncoder::new(Vec::new(), level);
    xz.write_all(&bytes).unwrap();
    std::fs::write(path, xz.finish().unwrap()).unwrap();
}

#[test]
fn auto_uses_bundled_btf_only_when_the_kernel_has_none_and_the_image_has_some() {
    use ebpf_layout::trust::{open_program, with_kernel_btf, BtfSource, Trust};
    if !can_bundle("auto_uses_bundled_btf_only_when_the_kernel_has_none_and_the_image_has_some") {
        return;
    }
    let d = Dir::new();
    let out = d.path("bundle");
    pack_btf(
        &out,
        "core_tgid.bpf.o",
        &[spec("5.4.0-1-generic", Path::new(VMLINUX))],
    );
    pack(&out, &["tp_counter.bpf.o"]);
    let source = ebpf_layout::source::open(&out).unwrap();
    let choose = |name: &str, choice, release: &str, kernel_has_btf| {
        let program = open_program(
            source.as_ref(),
            name,
            &ebpf_layout::oci::Selector::Name(name.into()),
            None,
            &Trust::AcceptUnsigned,
        )
        .unwrap();
        with_kernel_btf(source.as_ref(), program, choice, release, kernel_has_btf)
            .map(|p| p.kernel_btf().map(|b| b.release().to_string()))
            .map_err(|e| e.to_string())
    };
    // A kernel without BTF: the bundled BTF of its release.
    assert_eq!(
        choose("core_tgid", BtfSource::Auto, "5.4.0-1-generic", false),
        Ok(Some("5.4.0-1-generic".into()))
    );
    // A kernel with BTF: its own.
    assert_eq!(
        choose("core_tgid", BtfSource::Auto, "5.4.0-1-generic", true),
        Ok(None)
    );
    assert_eq!(
        choose("core_tgid", BtfSource::Kernel, "5.4.0-1-generic", false),
        Ok(None)
    );
    // No BTF for this release: the error lists what there is.
    let err = choose(
        "core_tgid",
        BtfSource::Auto,
        "3.10.0-1160.el7.x86_64",
        false,
    )
    .unwrap_err();
    assert!(
        err.contains("no BTF for kernel 3.10.0-1160.el7.x86_64"),
        "{err}"
    );
    assert!(err.contains("it has BTF for: 5.4.0-1-generic"), "{err}");
    // An image without bundled BTF loads as before under auto; bundled asks for it.
    assert_eq!(
        choose("tp_counter", BtfSource::Auto, "5.4.0-1-generic", false),
        Ok(None)
    );
    let err = choose("tp_counter", BtfSource::Bundled, "5.4.0-1-generic", true).unwrap_err();
    assert!(err.contains("carries no kernel BTF"), "{err}");
}

#[test]
fn rm_takes_the_kernel_btf_with_the_image_and_gc_then_reclaims_it() {
    if !can_bundle("rm_takes_the_kernel_btf_with_the_image_and_gc_then_reclaims_it") {
        return;
    }
    let d = Dir::new();
    let out = d.path("bundle");
    pack_btf(
        &out,
        "core_tgid.bpf.o",
        &[spec("5.10.0-28-amd64", Path::new(VMLINUX))],
    );
    pack(&out, &["tp_counter.bpf.o"]);
    let (e, manifest) = artifact(&out, "core_tgid");
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let blob_path = |digest: &str| {
        out.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    ebpf_layout()
        .arg("rm")
        .arg(format!("{}:core_tgid", out.display()))
        .assert()
        .success();
    let names: Vec<String> = index(&out)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["tp_counter"]);
    ebpf_layout().arg("gc").arg(&out).assert().success();
    assert!(
        !blob_path(&layer).exists(),
        "the BTF blob outlived its image"
    );
    assert!(!blob_path(e["digest"].as_str().unwrap()).exists());
    ebpf_layout().arg("verify").arg(&out).assert().code(0);
}

#[test]
fn pack_warns_when_the_kernel_btf_resolves_none_of_the_objects_relocations() {
    if !can_bundle("pack_warns_when_the_kernel_btf_resolves_none_of_the_objects_relocations") {
        return;
    }
    let d = Dir::new();
    // tp_counter uses no CO-RE: its minimised BTF keeps nothing, and pack says so.
    let o = ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .arg("-o")
        .arg(d.path("a"))
        .arg("--kernel-btf")
        .arg(spec("5.10.0-28-amd64", Path::new(VMLINUX)))
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success());
    let report = json(&o.stdout);
    assert_eq!(report["images"][0]["kernel_btf"][0]["types"], 0, "{report}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no type the object's CO-RE relocations need")
    );
    // core_tgid's keeps task_struct, its tgid's type chain, and nothing more.
    let o = ebpf_layout()
        .arg("pack")
        .arg(testdata("core_tgid.bpf.o"))
        .arg("-o")
        .arg(d.path("b"))
        .arg("--kernel-btf")
        .arg(spec("5.10.0-28-amd64", Path::new(VMLINUX)))
        .arg("--json")
        .output()
        .unwrap();
    let report = json(&o.stdout);
    let types = report["images"][0]["kernel_btf"][0]["types"]
        .as_u64()
        .unwrap();
    assert!((1..10).contains(&types), "{report}");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("warning"));
}
