//! Every class of bad input gives a clear message, a non-zero exit, and leaves nothing
//! behind: no new layout, or the existing one exactly as it was.

use std::path::Path;

use predicates::prelude::*;
use predicates::str::contains;

use crate::util::*;

/// Runs `pack ARGS -o out` and asserts failure with all of `needles` in stderr.
fn pack_fails(args: &[&Path], out: &Path, extra: &[&str], needles: &[&str]) {
    let mut c = ebpf_layout();
    c.arg("pack");
    for a in args {
        c.arg(a);
    }
    c.arg("-o").arg(out).args(extra);
    let assert = c.assert().failure();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    for n in needles {
        assert!(stderr.contains(n), "stderr lacks {n:?}:\n{stderr}");
    }
}

#[test]
fn missing_input_is_named_and_nothing_is_created() {
    let d = Dir::new();
    let out = d.path("bundle");
    let missing = d.path("nope.bpf.o");
    pack_fails(&[&missing], &out, &[], &["nope.bpf.o", "no such file"]);
    assert!(!out.exists());
}

#[test]
fn text_file_named_explicitly_is_not_elf() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack_fails(
        &[&testdata("not-bpf/README.txt")],
        &out,
        &[],
        &["README.txt", "not a BPF object", "not an ELF file"],
    );
    assert!(!out.exists());
}

#[test]
fn x86_object_named_explicitly_says_which_machine_it_is_for() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack_fails(
        &[&testdata("not-bpf/hello.o")],
        &out,
        &[],
        &["hello.o", "x86-64"],
    );
    assert!(!out.exists());
}

#[test]
fn truncated_object_is_reported_as_truncated() {
    let d = Dir::new();
    let out = d.path("bundle");
    let bytes = std::fs::read(testdata("tp_counter.bpf.o")).unwrap();
    for len in [10usize, 200] {
        let t = d.path(&format!("trunc{len}.bpf.o"));
        std::fs::write(&t, &bytes[..len]).unwrap();
        pack_fails(
            &[&t],
            &out,
            &[],
            &[&format!("trunc{len}.bpf.o"), "truncated"],
        );
        assert!(!out.exists());
    }
}

#[test]
fn a_bad_object_among_good_ones_leaves_an_existing_layout_untouched() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o"]);
    let before = snapshot(&out);
    pack_fails(
        &[&testdata("xdp_count.bpf.o"), &testdata("not-bpf/hello.o")],
        &out,
        &[],
        &["hello.o"],
    );
    assert_eq!(before, snapshot(&out));
}

#[test]
fn empty_directory_is_an_error() {
    let d = Dir::new();
    let out = d.path("bundle");
    let empty = d.path("empty");
    std::fs::create_dir(&empty).unwrap();
    pack_fails(&[&empty], &out, &[], &["empty", "no BPF objects"]);
    assert!(!out.exists());
    // A directory with only non-BPF files says how many were skipped.
    std::fs::write(empty.join("notes.txt"), "x").unwrap();
    pack_fails(
        &[&empty],
        &out,
        &[],
        &["no BPF objects found (1 other files skipped)"],
    );
    assert!(!out.exists());
}

#[test]
fn invalid_names_are_refused_with_the_reason() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack_fails(
        &[&testdata("tp_counter.bpf.o")],
        &out,
        &["--tag", "bad name"],
        &["invalid name \"bad name\"", "not allowed"],
    );
    pack_fails(
        &[&testdata("tp_counter.bpf.o")],
        &out,
        &["--tag", "repo:-x"],
        &["invalid name"],
    );
    assert!(!out.exists());
    // A file whose name cannot be a ref name asks for --tag.
    let odd = d.path("my probe.bpf.o");
    std::fs::copy(testdata("tp_counter.bpf.o"), &odd).unwrap();
    pack_fails(&[&odd], &out, &[], &["my probe.bpf.o", "--tag"]);
    assert!(!out.exists());
}

#[test]
fn tag_with_several_objects_and_duplicate_names_are_errors() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack_fails(
        &[&testdata("tp_counter.bpf.o"), &testdata("xdp_count.bpf.o")],
        &out,
        &["--tag", "x"],
        &["--tag names a single image", "2 BPF objects"],
    );
    let other = d.path("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::copy(testdata("xdp_count.bpf.o"), other.join("tp_counter.bpf.o")).unwrap();
    pack_fails(
        &[
            &testdata("tp_counter.bpf.o"),
            &other.join("tp_counter.bpf.o"),
        ],
        &out,
        &[],
        &["name tp_counter is also the name of"],
    );
    assert!(!out.exists());
}

#[test]
fn output_that_is_a_regular_file_is_refused_and_kept() {
    let d = Dir::new();
    let out = d.path("bundle");
    std::fs::write(&out, "precious").unwrap();
    pack_fails(
        &[&testdata("tp_counter.bpf.o")],
        &out,
        &[],
        &["bundle", "not a directory"],
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
}

#[test]
fn non_empty_directory_that_is_not_a_layout_is_refused() {
    let d = Dir::new();
    let out = d.path("bundle");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let before = snapshot(&out);
    pack_fails(
        &[&testdata("tp_counter.bpf.o")],
        &out,
        &[],
        &["not an OCI image layout", "notes.txt"],
    );
    assert_eq!(before, snapshot(&out));
}

#[test]
fn broken_index_json_is_reported_and_left_as_it_was() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o"]);
    std::fs::write(
        out.join("index.json"),
        b"{\"schemaVersion\":2,\"manifests\":[",
    )
    .unwrap();
    let before = snapshot(&out);
    pack_fails(
        &[&testdata("xdp_count.bpf.o")],
        &out,
        &[],
        &["index.json is not valid", "EOF"],
    );
    assert_eq!(before, snapshot(&out));
    ebpf_layout()
        .arg("list")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(contains("index.json is not valid"));
}

#[test]
fn unreadable_file_is_named_with_the_os_reason() {
    if !require_tool("setpriv") {
        return;
    }
    if !is_root() {
        eprintln!("SKIPPED: dropping privileges with setpriv needs root");
        return;
    }
    let d = Dir::new();
    let secret = d.path("secret.bpf.o");
    std::fs::copy(testdata("tp_counter.bpf.o"), &secret).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The temp dir must be traversable by the unprivileged user.
    std::fs::set_permissions(d.root(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("ebpf-layout");
    let out = d.path("bundle");
    let output = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .arg("pack")
        .arg(&secret)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("secret.bpf.o") && stderr.contains("Permission denied"),
        "{stderr}"
    );
    assert!(!out.exists());
}

/// Whether the tests run as root (setpriv can only drop privileges from root).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn malformed_references_are_usage_errors() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o"]);
    for (r, needle) in [
        (format!("{}@sha512:abcd", out.display()), "only sha256"),
        (format!("{}@sha256:ABCD", out.display()), "invalid digest"),
        (format!("{}:", out.display()), "empty name"),
        (
            format!("{}:nope", out.display()),
            "no image named \"nope\" (available: tp_counter)",
        ),
        (
            d.path("missing").display().to_string(),
            "no such file or directory",
        ),
    ] {
        ebpf_layout()
            .arg("inspect")
            .arg(&r)
            .assert()
            .code(2)
            .stderr(contains(needle));
    }
}

#[test]
fn a_path_holding_several_images_needs_a_name() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    ebpf_layout()
        .arg("inspect")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(contains("holds 2 images").and(contains("tp_counter, xdp_count")));
}

#[test]
fn json_size_limits_apply_to_layout_directories_too() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["multi_prog.bpf.o"]);
    // The manifest is a few hundred bytes; the config (with maps and programs) larger.
    ebpf_layout()
        .arg("inspect")
        .arg(&out)
        .args(["--max-manifest-size", "64"])
        .assert()
        .code(2)
        .stderr(contains("over the limit of 64 bytes").and(contains("--max-manifest-size")));
    ebpf_layout()
        .arg("list")
        .arg(&out)
        .args(["--max-index-size", "10"])
        .assert()
        .code(2)
        .stderr(contains("index.json").and(contains("over the limit of 10 bytes")));
    ebpf_layout()
        .env("EBPF_LAYOUT_MAX_MANIFEST_SIZE", "64")
        .arg("verify")
        .arg(&out)
        .assert()
        .code(1)
        .stdout(contains("too-large"));
    ebpf_layout().arg("inspect").arg(&out).assert().success();
}

#[test]
fn malformed_pack_options_are_refused_before_anything_is_written() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack_fails(
        &[&testdata("tp_counter.bpf.o")],
        &out,
        &["--annotation", "no-equals-sign"],
        &["invalid --annotation \"no-equals-sign\"", "KEY=VALUE"],
    );
    pack_fails(
        &[&testdata("tp_counter.bpf.o")],
        &out,
        &["--annotation", "=value"],
        &["the key is empty"],
    );
    pack_fails(
        &[&testdata("tp_counter.bpf.o")],
        &out,
        &["--platform", "linux"],
        &["invalid platform \"linux\"", "OS/ARCH"],
    );
    let assert = ebpf_layout()
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("SOURCE_DATE_EPOCH=\"yesterday\""),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[cfg(feature = "loader")]
#[test]
fn malformed_load_options_are_usage_errors() {
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o"]);
    for (args, needle) in [
        (vec!["--duration=-1"], "--duration <DURATION>"),
        (vec!["--duration", "3 days"], "unknown unit"),
        (vec!["--attach", "xdp"], "xdp"),
        (vec!["--attach", "tc:eth0:sideways"], "sideways"),
        (vec!["--detach"], "--pin"),
    ] {
        ebpf_layout()
            .arg("load")
            .arg(&out)
            .args(&args)
            .assert()
            .code(2)
            .stderr(contains(needle));
    }
}
