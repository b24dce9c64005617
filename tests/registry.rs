//! The registry hop, proven against real software: a Distribution registry (Debian's
//! `docker-registry`) on 127.0.0.1, skopeo pushing our archives and layouts into it and
//! copying them back, and oras-py (PyPI `oras`, in the venv `scripts/deps.sh` makes)
//! pulling the program byte for byte and pushing generic artifacts we then read.
//!
//! Each test starts its own registry on a free port, with its storage in a temporary
//! folder, and kills it when done, so `cargo test` needs nothing running beforehand.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;

use crate::util::*;

/// The registry binary of Debian's `docker-registry` package (Distribution 2.8). Its
/// systemd service plays no part: each test runs the binary with its own config.
const REGISTRY_BIN: &str = "docker-registry";

/// A Distribution registry serving plain HTTP on 127.0.0.1, killed on drop.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    dir: Dir,
}

impl Registry {
    /// Starts a registry on a free port, or returns `None` (saying why) when the binary
    /// is not installed, unless EBPF_LAYOUT_REQUIRE_ALL=1 makes that a failure.
    pub fn start() -> Option<Self> {
        if !require_tool(REGISTRY_BIN) {
            return None;
        }
        // A port found free can be taken before the registry binds it: try a few.
        let mut last_log = String::new();
        for _ in 0..5 {
            let dir = Dir::new();
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr = format!("127.0.0.1:{port}");
            let config = dir.path("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\n\
                     log:\n  level: warn\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                     http:\n  addr: {addr}\n  secret: ebpf-layout-tests\n",
                    dir.path("storage").display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.path("registry.log")).unwrap();
            let child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("docker-registry starts");
            let mut registry = Registry { child, addr, dir };
            if registry.wait_ready() {
                return Some(registry);
            }
            last_log =
                std::fs::read_to_string(registry.dir.path("registry.log")).unwrap_or_default();
        }
        panic!("the registry did not start: {last_log}");
    }

    /// Waits up to 10 s for `GET /v2/` to answer 200; false if the process died.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut s) = TcpStream::connect(&self.addr) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let request = format!("GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr);
                let mut answer = String::new();
                if s.write_all(request.as_bytes()).is_ok()
                    && s.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.")
                    && answer.split_whitespace().nth(1) == Some("200")
                {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// `docker://127.0.0.1:PORT/REPO`.
    pub fn docker(&self, repo: &str) -> String {
        format!("docker://{}/{repo}", self.addr)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python of the venv with oras-py (`scripts/deps.sh` makes `.venv-test`), or `None`
/// (saying why) unless EBPF_LAYOUT_REQUIRE_ALL=1 makes that a failure.
pub fn oras_python() -> Option<PathBuf> {
    let python = match std::env::var_os("EBPF_LAYOUT_ORAS_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python"),
    };
    let ok = Command::new(&python)
        .args(["-c", "import oras.client"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        let why = format!(
            "oras-py is not installed at {} (run: . scripts/deps.sh && ensure_oras_venv)",
            python.display()
        );
        if std::env::var("EBPF_LAYOUT_REQUIRE_ALL").as_deref() == Ok("1") {
            panic!("{why} (EBPF_LAYOUT_REQUIRE_ALL=1)");
        }
        eprintln!("SKIPPED: {why}");
        return None;
    }
    Some(python)
}

/// Runs a Python snippet with oras-py against the registry; `args` become `sys.argv[1:]`.
fn oras_py(python: &Path, registry: &Registry, script: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(&registry.addr)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "oras-py failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn skopeo(args: &[&str]) {
    let mut full = vec!["--insecure-policy"];
    full.extend_from_slice(args);
    run_tool("skopeo", &full);
}

#[test]
fn our_archive_goes_through_a_registry_and_comes_back_with_the_same_digests() {
    if !require_tool("skopeo") {
        return;
    }
    let Some(registry) = Registry::start() else {
        return;
    };
    let d = Dir::new();
    let archive = d.path("bundle.tar");
    pack(&archive, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    ebpf_layout()
        .arg("pack")
        .arg(testdata("multi_prog.bpf.o"))
        .args(["--format", "bpfman", "--tag", "multi_prog-bpfman", "-o"])
        .arg(&archive)
        .assert()
        .success();
    ebpf_layout()
        .arg("pack")
        .arg("--platform")
        .arg(format!(
            "linux/amd64={}",
            testdata("tp_counter.bpf.o").display()
        ))
        .arg("--platform")
        .arg(format!(
            "linux/s390x={}",
            testdata("bpfeb/tp_counter.bpfeb.o").display()
        ))
        .args(["--tag", "probe-multi", "-o"])
        .arg(&archive)
        .assert()
        .success();
    // What the archive holds, as a layout, to compare digests with.
    let ours = d.path("ours");
    ebpf_layout()
        .arg("copy")
        .arg(&archive)
        .arg(&ours)
        .assert()
        .success();

    let back = d.path("back");
    for name in [
        "tp_counter",
        "xdp_count",
        "multi_prog-bpfman",
        "probe-multi",
    ] {
        let remote = registry.docker(&format!("site/{name}:1.0"));
        // --all keeps a multi-platform index whole (and its digest).
        skopeo(&[
            "copy",
            "--quiet",
            "--all",
            "--dest-tls-verify=false",
            &format!("oci-archive:{}:{name}", archive.display()),
            &remote,
        ]);
        let raw = String::from_utf8(run_tool(
            "skopeo",
            &["inspect", "--raw", "--tls-verify=false", &remote],
        ))
        .unwrap();
        assert_eq!(
            raw.as_bytes(),
            blob(&ours, &digest_of(&ours, name)),
            "{name}: the registry serves our manifest byte for byte"
        );
        skopeo(&[
            "copy",
            "--quiet",
            "--all",
            "--src-tls-verify=false",
            &remote,
            &format!("oci:{}:{name}", back.display()),
        ]);
        assert_eq!(digest_of(&back, name), digest_of(&ours, name), "{name}");
    }
    ebpf_layout()
        .args(["verify", "--strict"])
        .arg(&back)
        .assert()
        .success()
        .stdout(contains("OK"));
    ebpf_layout()
        .arg("list")
        .arg(&back)
        .assert()
        .success()
        .stdout(
            contains("bpfman")
                .and(contains("linux/amd64,linux/s390x"))
                .and(contains("xdp_count")),
        );
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:multi_prog-bpfman", back.display()))
        .assert()
        .success()
        .stdout(contains("Format:      bpfman").and(contains("on_getuid")));
    // The labels bpfman reads, as the registry serves the config.
    let config: Value = serde_json::from_slice(&run_tool(
        "skopeo",
        &[
            "inspect",
            "--config",
            "--tls-verify=false",
            &registry.docker("site/multi_prog-bpfman:1.0"),
        ],
    ))
    .unwrap();
    assert_eq!(
        config["config"]["Labels"]["io.ebpf.programs"],
        r#"{"on_getgid":"tracepoint","on_getuid":"tracepoint","on_sys_enter":"raw_tracepoint"}"#
    );
}

#[test]
fn a_layout_is_pushed_with_skopeo_oci_transport_too() {
    if !require_tool("skopeo") {
        return;
    }
    let Some(registry) = Registry::start() else {
        return;
    };
    let d = Dir::new();
    let layout = d.path("bundle");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("ringbuf_events.bpf.o"))
        .args(["--tag", "ghcr.io/acme/events:2.1", "-o"])
        .arg(&layout)
        .assert()
        .success();
    let remote = registry.docker("acme/events:2.1");
    skopeo(&[
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        &format!("oci:{}:ghcr.io/acme/events:2.1", layout.display()),
        &remote,
    ]);
    // Back into an archive of our own, through skopeo's oci-archive writer.
    let back = d.path("back.tar");
    skopeo(&[
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        &remote,
        &format!("oci-archive:{}:events", back.display()),
    ]);
    let ours = digest_of(&layout, "ghcr.io/acme/events:2.1");
    ebpf_layout()
        .args(["verify", "--strict"])
        .arg(format!("{}:events", back.display()))
        .assert()
        .success();
    ebpf_layout()
        .args(["list", "--json"])
        .arg(&back)
        .assert()
        .success()
        .stdout(contains(ours.as_str()));
}

/// oras-py pulls the files of a manifest by their title annotations.
const ORAS_PULL: &str = r#"
import sys, oras.client
host, target, outdir = sys.argv[1], sys.argv[2], sys.argv[3]
client = oras.client.OrasClient(hostname=host, insecure=True)
for path in client.pull(target=f"{host}/{target}", outdir=outdir):
    print(path)
"#;

/// oras-py pushes files as an artifact, each file a layer titled with its name.
const ORAS_PUSH: &str = r#"
import os, sys, oras.client
host, target, *files = sys.argv[1:]
client = oras.client.OrasClient(hostname=host, insecure=True)
os.chdir(os.path.dirname(files[0]))
response = client.push(target=f"{host}/{target}", files=[os.path.basename(f) for f in files])
assert response.status_code in (200, 201), response.status_code
"#;

#[test]
fn oras_py_pulls_program_o_byte_identical_from_what_skopeo_pushed() {
    if !require_tool("skopeo") {
        return;
    }
    let Some(python) = oras_python() else {
        return;
    };
    let Some(registry) = Registry::start() else {
        return;
    };
    let d = Dir::new();
    let archive = d.path("bundle.tar");
    pack(&archive, &["tp_counter.bpf.o", "multi_prog.bpf.o"]);
    for name in ["tp_counter", "multi_prog"] {
        skopeo(&[
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            &format!("oci-archive:{}:{name}", archive.display()),
            &registry.docker(&format!("probes/{name}:1")),
        ]);
        let out = d.path(&format!("pulled-{name}"));
        let printed = oras_py(
            &python,
            &registry,
            ORAS_PULL,
            &[&format!("probes/{name}:1"), out.to_str().unwrap()],
        );
        assert!(printed.contains("program.o"), "{printed}");
        assert_eq!(
            std::fs::read(out.join("program.o")).unwrap(),
            std::fs::read(testdata(&format!("{name}.bpf.o"))).unwrap(),
            "{name}: oras-py pulled the object byte for byte"
        );
    }
}

#[test]
fn a_generic_artifact_pushed_by_oras_py_is_listed_inspected_verified_and_copied() {
    if !require_tool("skopeo") {
        return;
    }
    let Some(python) = oras_python() else {
        return;
    };
    let Some(registry) = Registry::start() else {
        return;
    };
    let d = Dir::new();
    // Two files, the object second: only its ELF header says which one is the program.
    let readme = d.path("files/README.md");
    std::fs::create_dir_all(d.path("files")).unwrap();
    std::fs::write(
        &readme,
        "XDP packet counter, see the source for details.\n".repeat(4),
    )
    .unwrap();
    let object = d.path("files/xdp_count.bpf.o");
    std::fs::copy(testdata("xdp_count.bpf.o"), &object).unwrap();
    oras_py(
        &python,
        &registry,
        ORAS_PUSH,
        &[
            "artifacts/xdp:1",
            readme.to_str().unwrap(),
            object.to_str().unwrap(),
        ],
    );
    let layout = d.path("site");
    skopeo(&[
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        &registry.docker("artifacts/xdp:1"),
        &format!("oci:{}:xdp", layout.display()),
    ]);
    ebpf_layout()
        .arg("list")
        .arg(&layout)
        .assert()
        .success()
        .stdout(contains("xdp").and(contains("generic")));
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:xdp", layout.display()))
        .assert()
        .success()
        .stdout(
            contains("Format:      generic")
                .and(contains("xdp_count"))
                .and(contains("counter_packets")),
        );
    ebpf_layout()
        .args(["verify", "--strict"])
        .arg(&layout)
        .assert()
        .success();
    let archive = d.path("carry.tar");
    ebpf_layout()
        .arg("copy")
        .arg(format!("{}:xdp", layout.display()))
        .arg(&archive)
        .assert()
        .success();
    ebpf_layout()
        .args(["verify", "--strict"])
        .arg(&archive)
        .assert()
        .success();
    assert_eq!(
        crate::util::verified_program(&format!("{}:xdp", archive.display())).object(),
        std::fs::read(testdata("xdp_count.bpf.o")).unwrap()
    );
}
