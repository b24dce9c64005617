//! `load` / `unload` end to end: the binary, a real layout, the running kernel.
//! These need root and a BPF-capable kernel; they skip (saying why) only when the
//! machine cannot run them, and fail instead under EBPF_LAYOUT_REQUIRE_KERNEL=1.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;

use crate::util::*;

/// Kernel tests here count programs by name: run them one at a time.
static KERNEL: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) fn kernel_lock() -> std::sync::MutexGuard<'static, ()> {
    KERNEL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits (up to 3 s) for the kernel to release programs freed asynchronously.
fn wait_for_programs_named(name: &str, expected: usize) -> usize {
    for _ in 0..30 {
        if kernel_programs_named(name) == expected {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    kernel_programs_named(name)
}

pub(crate) fn kernel_available() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let btf = std::path::Path::new("/sys/kernel/btf/vmlinux").exists();
    if root && btf {
        return true;
    }
    let why = if !root {
        "not running as root"
    } else {
        "no kernel BTF"
    };
    if std::env::var("EBPF_LAYOUT_REQUIRE_KERNEL").as_deref() == Ok("1") {
        panic!("kernel tests required (EBPF_LAYOUT_REQUIRE_KERNEL=1) but {why}");
    }
    eprintln!("SKIPPED: {why}");
    false
}

/// Program ids the kernel has for a program name (via bpftool).
fn kernel_programs_named(name: &str) -> usize {
    let out = Command::new("bpftool")
        .args(["prog", "show", "--json"])
        .output()
        .unwrap();
    let progs: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Array(vec![]));
    progs
        .as_array()
        .map(|a| a.iter().filter(|p| p["name"] == name).count())
        .unwrap_or(0)
}

#[test]
fn load_from_a_tar_counts_getpid_and_reports_it_as_json_lines() {
    if !kernel_available() {
        return;
    }
    let _serial = kernel_lock();
    let d = Dir::new();
    // Straight from the archive that crossed the air gap: nothing is extracted.
    let out = d.path("bundle.tar");
    pack(&out, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ebpf-layout"))
        .arg("load")
        .arg(format!("{}:tp_counter", out.display()))
        .args(["--duration", "2.5", "--output", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    for _ in 0..40 {
        // Not cached by glibc: each is a real getpid syscall.
        let _ = std::process::id();
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["event"], "loaded");
    assert_eq!(lines[0]["programs"][0]["name"], "count_getpid");
    let last = lines
        .iter()
        .rev()
        .find(|l| l["event"] == "snapshot" && l["map"] == "counter_getpid")
        .expect("a counter snapshot");
    let count = last["entries"][0]["value"].as_u64().unwrap();
    assert!(count >= 40, "counted {count} getpid calls");
    assert_eq!(lines.last().unwrap()["event"], "stopped");
}

#[test]
fn a_tampered_program_is_refused_before_the_kernel_sees_it() {
    if !kernel_available() {
        return;
    }
    let _serial = kernel_lock();
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["multi_prog.bpf.o"]);
    let e = entry(&out, "multi_prog");
    let m: Value = serde_json::from_slice(&blob(&out, e["digest"].as_str().unwrap())).unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap().to_string();
    let path = out
        .join("blobs/sha256")
        .join(layer.strip_prefix("sha256:").unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    // Change a byte inside the program's instructions, keeping the ELF well-formed.
    let len = bytes.len();
    bytes[len / 2] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let before = kernel_programs_named("on_getuid");
    ebpf_layout()
        .arg("load")
        .arg(format!("{}:multi_prog", out.display()))
        .args(["--duration", "1", "--output", "json"])
        .assert()
        .code(1)
        .stdout(contains("loaded").not())
        .stderr(contains(layer.as_str()).and(contains("hashes to")));
    assert_eq!(
        kernel_programs_named("on_getuid"),
        before,
        "no program was loaded"
    );
}

#[test]
fn a_program_the_verifier_rejects_shows_the_verifier_words() {
    if !kernel_available() {
        return;
    }
    let _serial = kernel_lock();
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["verifier_reject.bpf.o"]);
    ebpf_layout()
        .arg("load")
        .arg(&out)
        .args(["--duration", "1"])
        .assert()
        .code(2)
        .stderr(contains("missing_null_check").and(contains("invalid mem access")));
}

#[test]
fn an_unprivileged_load_says_which_privileges_it_needs() {
    if !kernel_available() || !require_tool("setpriv") {
        return;
    }
    let _serial = kernel_lock();
    let d = Dir::new();
    std::fs::set_permissions(d.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o"]);
    // The test binary lives under target/, which nobody may read; copy it out.
    let bin = d.path("ebpf-layout");
    std::fs::copy(assert_cmd::cargo::cargo_bin("ebpf-layout"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .arg("load")
        .arg(&out)
        .args(["--duration", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("needs root, or CAP_BPF and CAP_PERFMON"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("libbpf:"),
        "libbpf's own messages must not spill: {stderr}"
    );
}

#[test]
fn detach_keeps_it_running_and_unload_removes_everything() {
    if !kernel_available() {
        return;
    }
    let _serial = kernel_lock();
    let bpffs = std::path::Path::new("/sys/fs/bpf");
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o"]);
    let pin = bpffs.join(format!("ebpf-layout-cli-test-{}", std::process::id()));
    let before = kernel_programs_named("count_getpid");
    ebpf_layout()
        .arg("load")
        .arg(&out)
        .arg("--pin")
        .arg(&pin)
        .arg("--detach")
        .args(["--output", "text"])
        .assert()
        .success()
        .stderr(contains("ebpf-layout unload"));
    assert_eq!(kernel_programs_named("count_getpid"), before + 1);
    assert!(pin.exists());
    ebpf_layout()
        .arg("unload")
        .arg(&pin)
        .assert()
        .success()
        .stdout(contains("unloaded tp_counter"));
    assert!(!pin.exists(), "pin folder removed");
    assert_eq!(wait_for_programs_named("count_getpid", before), before);
}

#[test]
fn load_with_a_key_refuses_an_unsigned_image_and_loads_a_signed_one() {
    if !kernel_available() {
        return;
    }
    let _serial = kernel_lock();
    let d = Dir::new();
    let out = d.path("bundle");
    pack(&out, &["multi_prog.bpf.o", "tp_counter.bpf.o"]);
    let prefix = d.path("site");
    ebpf_layout()
        .env("EBPF_LAYOUT_PASSWORD", "")
        .arg("keygen")
        .arg("--output")
        .arg(&prefix)
        .assert()
        .success();
    let public = d.path("site.pub");
    let before = kernel_programs_named("on_getuid");
    ebpf_layout()
        .arg("load")
        .arg(format!("{}:multi_prog", out.display()))
        .arg("--key")
        .arg(&public)
        .args(["--duration", "1", "--output", "json"])
        .assert()
        .code(1)
        .stdout(contains("loaded").not())
        .stderr(contains("multi_prog"));
    assert_eq!(
        wait_for_programs_named("on_getuid", before),
        before,
        "nothing loaded"
    );

    ebpf_layout()
        .env("EBPF_LAYOUT_PASSWORD", "")
        .arg("sign")
        .arg(format!("{}:tp_counter", out.display()))
        .arg("--key")
        .arg(d.path("site.key"))
        .assert()
        .success();
    ebpf_layout()
        .arg("load")
        .arg(format!("{}:tp_counter", out.display()))
        .arg("--key")
        .arg(&public)
        .args(["--duration", "0.5", "--output", "json"])
        .assert()
        .success()
        .stdout(contains("\"event\":\"loaded\""))
        .stderr(contains("signature of"));
}
