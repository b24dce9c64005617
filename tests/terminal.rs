//! Terminal escape injection (issue #13, item 2): ref names from index.json, symbol and map
//! names from an ELF object, file names and libbpf's words are printed with every control
//! character escaped (`\x1b`, `\x07`, `\u{9b}`), so a hostile layout or object cannot set
//! the window title, clear the screen or forge lines. Each test feeds the hostile input to
//! the real binary, asserts what is shown, that no raw control byte reaches stdout or
//! stderr, and that nothing outside the target changed.

use std::path::Path;

use serde_json::Value;

use crate::util::*;

/// A ref name that would set the window title (OSC 0 … BEL), clear the screen (CSI 2J) and
/// use the one-byte C1 CSI.
const HOSTILE_NAME: &str = "probe\x1b]0;pwned\x07\x1b[2J\u{9b}31m";
/// How it is shown.
const HOSTILE_NAME_SHOWN: &str = "probe\\x1b]0;pwned\\x07\\x1b[2J\\u{9b}31m";

/// Fails if `bytes` hold a control character other than a line break or a tab: C0, DEL,
/// or C1 (encoded in UTF-8 as C2 80‥9F).
fn assert_no_raw_controls(what: &str, bytes: &[u8]) {
    for (i, b) in bytes.iter().enumerate() {
        let c0 = *b < 0x20 && *b != b'\n' && *b != b'\t';
        let c1 = *b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..0xa0).contains(n));
        assert!(
            !(c0 || *b == 0x7f || c1),
            "{what}: raw control byte {b:#04x} at {i}: {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

/// Runs the binary with `args` and returns (exit code, stdout, stderr), asserting that
/// neither stream carries a raw control character.
fn run_clean(args: &[&str]) -> (i32, String, String) {
    let out = ebpf_layout().args(args).output().unwrap();
    assert_no_raw_controls(&format!("stdout of {args:?}"), &out.stdout);
    assert_no_raw_controls(&format!("stderr of {args:?}"), &out.stderr);
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A layout holding tp_counter, renamed in index.json to `name` (as a hostile layout would
/// be written by hand).
fn layout_named(layout: &Path, name: &str) {
    pack(layout, &["tp_counter.bpf.o"]);
    let mut index = index_json(layout);
    index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] =
        Value::String(name.into());
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
}

/// tp_counter with its program named `c ESC ]0;pwn BEL pid` and its map `counter_ CSI tpid`
/// (lengths kept, in the symbol table and in BTF alike): a well-formed object whose names
/// are hostile.
fn hostile_object(path: &Path) {
    let bytes = std::fs::read(testdata("tp_counter.bpf.o")).unwrap();
    let replace = |bytes: Vec<u8>, from: &[u8], to: &[u8]| -> Vec<u8> {
        assert_eq!(from.len(), to.len());
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i..].starts_with(from) {
                out.extend_from_slice(to);
                i += from.len();
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    };
    let bytes = replace(bytes, b"count_getpid", b"c\x1b]0;pwn\x07pid");
    let bytes = replace(bytes, b"counter_getpid", "counter_\u{9b}tpid".as_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn list_inspect_and_verify_show_a_hostile_ref_name_escaped() {
    let d = Dir::new();
    let layout = d.path("bundle");
    layout_named(&layout, HOSTILE_NAME);
    let before = snapshot(d.root());
    let path = layout.to_str().unwrap();

    let (code, stdout, _) = run_clean(&["list", path]);
    assert_eq!(code, 0);
    assert!(stdout.contains(HOSTILE_NAME_SHOWN), "{stdout}");

    let (code, stdout, _) = run_clean(&["inspect", path]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!("Name:        {HOSTILE_NAME_SHOWN}")),
        "{stdout}"
    );

    // verify reports the name as invalid, quoting it.
    let (code, stdout, _) = run_clean(&["verify", path]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("invalid-name"), "{stdout}");

    // An error message that lists the names available quotes the hostile one too.
    let (code, _, stderr) = run_clean(&["inspect", &format!("{path}:nothing")]);
    assert_eq!(code, 2);
    assert!(stderr.contains("probe\\x1b]0;pwned"), "{stderr}");

    // JSON keeps the name exactly, escaped by JSON itself.
    let (code, stdout, _) = run_clean(&["list", path, "--json"]);
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed["images"][0]["name"], HOSTILE_NAME);

    assert_eq!(snapshot(d.root()), before, "reading changed the layout");
}

#[test]
fn inspect_shows_hostile_program_and_map_names_escaped() {
    let d = Dir::new();
    let object = d.path("evil.bpf.o");
    hostile_object(&object);
    let layout = d.path("bundle");
    let (code, _, stderr) = run_clean(&[
        "pack",
        object.to_str().unwrap(),
        "-o",
        layout.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let before = snapshot(d.root());

    let (code, stdout, _) = run_clean(&["inspect", layout.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("c\\x1b]0;pwn\\x07pid"), "{stdout}");
    assert!(stdout.contains("counter_\\u{9b}tpid"), "{stdout}");
    assert_eq!(snapshot(d.root()), before, "inspect changed the layout");
}

#[test]
fn rm_and_copy_reports_show_a_hostile_ref_name_escaped() {
    let d = Dir::new();
    let layout = d.path("bundle");
    layout_named(&layout, HOSTILE_NAME);
    let digest = index_json(&layout)["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let copy = d.path("copy");
    let source_before = snapshot(&layout);

    let (code, stdout, stderr) =
        run_clean(&["copy", layout.to_str().unwrap(), copy.to_str().unwrap()]);
    // The name is not a valid ref name: copy either carries it (escaped in its report) or
    // refuses it (escaped in the error); either way the terminal sees no raw byte.
    let shown = |s: &str| s.contains("probe\\x1b]0;pwned") || s.contains("probe\\u{1b}]0;pwned");
    assert!(shown(&stdout) || shown(&stderr), "{stdout}{stderr}");
    assert_eq!(snapshot(&layout), source_before, "copy changed its source");
    if code != 0 {
        assert!(!copy.exists(), "a refused copy left {}", copy.display());
    }

    let (code, stdout, stderr) = run_clean(&["rm", &format!("{}@{digest}", layout.display())]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("removed {HOSTILE_NAME_SHOWN}")),
        "{stdout}"
    );
    // Only the entry asked for went: the blobs stay (until gc).
    let after = snapshot(&layout);
    let blobs = |s: &std::collections::BTreeMap<String, Vec<u8>>| {
        s.iter()
            .filter(|(k, _)| k.starts_with("blobs/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(blobs(&after), blobs(&source_before));
    assert_eq!(index_json(&layout)["manifests"], Value::Array(vec![]));
}

#[test]
fn errors_quoting_a_hostile_file_name_are_escaped() {
    let d = Dir::new();
    let object = d.path("e\x1b]0;t\x07.bpf.o");
    std::fs::copy(testdata("tp_counter.bpf.o"), &object).unwrap();
    let out = d.path("bundle");
    let before = snapshot(d.root());
    let (code, _, stderr) = run_clean(&[
        "pack",
        object.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("e\\x1b]0;t\\x07.bpf.o"), "{stderr}");
    assert_eq!(snapshot(d.root()), before, "a refused pack wrote something");
}

#[test]
fn verify_and_gc_show_a_hostile_file_name_in_a_layout_escaped() {
    let d = Dir::new();
    let layout = d.path("bundle");
    pack(&layout, &["tp_counter.bpf.o"]);
    std::fs::write(layout.join("blobs/sha256/x\x1b]0;pwned\x07"), b"junk").unwrap();
    let before = snapshot(d.root());
    let path = layout.to_str().unwrap();

    let (code, stdout, _) = run_clean(&["verify", path]);
    assert_eq!(code, 0, "a warning only: {stdout}");
    assert!(stdout.contains("x\\x1b]0;pwned\\x07"), "{stdout}");

    let (code, _, stderr) = run_clean(&["gc", path, "--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("x\\x1b]0;pwned\\x07"), "{stderr}");
    assert_eq!(
        snapshot(d.root()),
        before,
        "verify or gc changed the layout"
    );
}

#[cfg(feature = "loader")]
mod kernel {
    use super::*;
    use crate::kit::kernel::{kernel_test, serial, Need, BPFFS};

    kernel_test!(
        load_errors_show_libbpf_words_about_hostile_names_escaped,
        [Need::Kernel],
        || {
            let _serial = serial();
            let d = Dir::new();
            let object = d.path("evil.bpf.o");
            hostile_object(&object);
            let layout = d.path("bundle");
            let (code, _, stderr) = run_clean(&[
                "pack",
                object.to_str().unwrap(),
                "-o",
                layout.to_str().unwrap(),
            ]);
            assert_eq!(code, 0, "{stderr}");
            let before = snapshot(d.root());
            let pins = || -> Vec<String> {
                std::fs::read_dir(BPFFS)
                    .map(|r| {
                        r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let pins_before = pins();
            let (code, _, stderr) = run_clean(&[
                "load",
                layout.to_str().unwrap(),
                "--duration",
                "0",
                "--display",
                "text",
            ]);
            // The kernel refuses names that are not [A-Za-z0-9_.]: libbpf says so, naming
            // the map, and its words reach the user escaped.
            assert_eq!(code, 2, "{stderr}");
            assert!(stderr.contains("libbpf said"), "{stderr}");
            assert!(stderr.contains("counter_\\u{9b}tpid"), "{stderr}");
            assert_eq!(snapshot(d.root()), before, "load changed the layout");
            // Other processes on the machine may pin meanwhile: only ours would be named so.
            let new: Vec<String> = pins()
                .into_iter()
                .filter(|p| !pins_before.contains(p))
                .filter(|p| p.contains("tpid") || p.contains("pwn"))
                .collect();
            assert!(new.is_empty(), "load left pins in bpffs: {new:?}");
        }
    );
}
