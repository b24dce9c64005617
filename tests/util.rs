//! Test helpers: temporary directories, the binary, test objects, tree snapshots; and the
//! kit's layout helpers (tests/kit/layout.rs), so that `use crate::util::*` brings them too.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

pub use crate::kit::layout::*;
use assert_cmd::Command;

/// A temporary directory removed on drop.
pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }
}

/// The `ebpf-layout` binary, run in `cwd`.
pub fn ebpf_layout() -> Command {
    let mut c = Command::cargo_bin("ebpf-layout").unwrap();
    c.env_remove("SOURCE_DATE_EPOCH");
    c
}

/// A committed test object.
pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

/// Every file under `root` (relative path → bytes), excluding our private lock folder.
/// Symlinks are recorded by target. Used to assert that nothing changed.
pub fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if !root.exists() {
        return out;
    }
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel == ".ebpf-layout" {
                continue;
            }
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                out.insert(
                    rel,
                    std::fs::read_link(&p)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned()
                        .into_bytes(),
                );
            } else if ft.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    walk(root, root, &mut out);
    out
}

/// Packs `objects` into a new layout `out` and asserts success.
pub fn pack(out: &Path, objects: &[&str]) {
    let mut c = ebpf_layout();
    c.arg("pack");
    for o in objects {
        c.arg(testdata(o));
    }
    c.arg("-o").arg(out).assert().success();
}

/// Whether an external tool is on PATH. When it is missing the test skips, saying so,
/// unless EBPF_LAYOUT_REQUIRE_ALL=1 (set by .ci/run), where a skip is a failure.
pub fn require_tool(tool: &str) -> bool {
    let found = StdCommand::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("EBPF_LAYOUT_REQUIRE_ALL").as_deref() == Ok("1") {
            panic!("{tool} is required (EBPF_LAYOUT_REQUIRE_ALL=1) but not installed");
        }
        eprintln!("SKIPPED: {tool} is not installed");
    }
    found
}

/// Runs an external command and returns its stdout, panicking with its stderr on failure.
pub fn run_tool(program: &str, args: &[&str]) -> Vec<u8> {
    let out = StdCommand::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The verified program object of `reference`, through the library's one gate to the
/// kernel (accepting unsigned images).
pub fn verified_program(reference: &str) -> ebpf_layout::program::VerifiedProgram {
    let parsed = ebpf_layout::oci::ImageRef::parse(reference).unwrap();
    let source = ebpf_layout::source::open(&parsed.path).unwrap();
    ebpf_layout::trust::open_program(
        source.as_ref(),
        reference,
        &parsed.selector,
        None,
        &ebpf_layout::trust::Trust::AcceptUnsigned,
    )
    .unwrap()
}
