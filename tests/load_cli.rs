//! `load` / `unload` end to end: the binary, a real layout, the running kernel.
//! These need root and a BPF-capable kernel; they skip (saying why) only when the
//! machine cannot run them, and fail instead under EBPF_LAYOUT_REQUIRE_KERNEL=1 (the kit's
//! gate, tests/kit/kernel.rs). They count programs by name, so they run one at a time.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;

use crate::kit::kernel::{kernel_test, programs_named, serial, wait_until, Need, BPFFS};
use crate::util::*;

kernel_test!(
    load_from_a_tar_counts_getpid_and_reports_it_as_json_lines,
    [Need::Kernel],
    || {
        let _serial = serial();
        let d = Dir::new();
        // Straight from the archive that crossed the air gap: nothing is extracted.
        let out = d.path("bundle.tar");
        pack(&out, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ebpf-layout"))
            .arg("load")
            .arg(format!("{}:tp_counter", out.display()))
            .args(["--duration", "2.5", "--json"])
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
);

kernel_test!(
    a_tampered_program_is_refused_before_the_kernel_sees_it,
    [Need::Kernel],
    || {
        let _serial = serial();
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
        let before = programs_named("on_getuid").len();
        ebpf_layout()
            .arg("load")
            .arg(format!("{}:multi_prog", out.display()))
            .args(["--duration", "1", "--json"])
            .assert()
            .code(1)
            .stdout(contains("loaded").not())
            .stderr(contains(layer.as_str()).and(contains("hashes to")));
        assert_eq!(
            programs_named("on_getuid").len(),
            before,
            "no program was loaded"
        );
    }
);

kernel_test!(
    a_program_the_verifier_rejects_shows_the_verifier_words,
    [Need::Kernel],
    || {
        let _serial = serial();
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
);

kernel_test!(
    an_unprivileged_load_says_which_privileges_it_needs,
    [Need::Kernel, Need::Tool("setpriv")],
    || {
        let _serial = serial();
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
);

kernel_test!(
    detach_keeps_it_running_and_unload_removes_everything,
    [Need::Kernel, Need::Bpffs],
    || {
        let _serial = serial();
        let bpffs = std::path::Path::new(BPFFS);
        let d = Dir::new();
        let out = d.path("bundle");
        pack(&out, &["tp_counter.bpf.o"]);
        let pin = bpffs.join(format!("ebpf-layout-cli-test-{}", std::process::id()));
        let before = programs_named("count_getpid").len();
        ebpf_layout()
            .arg("load")
            .arg(&out)
            .arg("--pin")
            .arg(&pin)
            .arg("--detach")
            .args(["--display", "text"])
            .assert()
            .success()
            .stderr(contains("ebpf-layout unload"));
        assert_eq!(programs_named("count_getpid").len(), before + 1);
        assert!(pin.exists());
        ebpf_layout()
            .arg("unload")
            .arg(&pin)
            .assert()
            .success()
            .stdout(contains("unloaded tp_counter"));
        assert!(!pin.exists(), "pin folder removed");
        wait_until(
            &format!("{before} count_getpid programs, as before"),
            || programs_named("count_getpid").len() <= before,
        );
    }
);

kernel_test!(
    load_with_a_key_refuses_an_unsigned_image_and_loads_a_signed_one,
    [Need::Kernel],
    || {
        let _serial = serial();
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
        let before = programs_named("on_getuid").len();
        ebpf_layout()
            .arg("load")
            .arg(format!("{}:multi_prog", out.display()))
            .arg("--key")
            .arg(&public)
            .args(["--duration", "1", "--json"])
            .assert()
            .code(1)
            .stdout(contains("loaded").not())
            .stderr(contains("multi_prog"));
        wait_until(
            &format!("{before} on_getuid programs, as before: nothing loaded"),
            || programs_named("on_getuid").len() <= before,
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
            .args(["--duration", "0.5", "--json"])
            .assert()
            .success()
            .stdout(contains("\"event\":\"loaded\""))
            .stderr(contains("signature of"));
    }
);

kernel_test!(
    verbose_load_shows_libbpf_messages_and_the_whole_verifier_log,
    [Need::Kernel],
    || {
        // Loads programs other tests count by name.
        let _serial = serial();
        let d = Dir::new();
        let out = d.path("bundle");
        pack(&out, &["verifier_reject.bpf.o", "tp_counter.bpf.o"]);
        let run = |verbose: bool| {
            let mut cmd = ebpf_layout();
            cmd.arg("load")
                .arg(format!("{}:verifier_reject", out.display()))
                .args(["--duration", "1s", "--json"]);
            if verbose {
                cmd.arg("-v");
            }
            let output = cmd.output().unwrap();
            assert_eq!(output.status.code(), Some(2), "{output:?}");
            String::from_utf8_lossy(&output.stderr).into_owned()
        };
        let quiet = run(false);
        let verbose = run(true);
        assert!(!quiet.contains("libbpf: "), "{quiet}");
        // libbpf's own messages, escaped, one per line.
        assert!(
            verbose.lines().any(|l| l.starts_with("libbpf: ")),
            "{verbose}"
        );
        // The whole log: never fewer lines than the 40-line tail, and no "earlier lines" cut.
        assert!(!verbose.contains("earlier lines"), "{verbose}");
        assert!(verbose.lines().count() > quiet.lines().count(), "{verbose}");
        // Loading a good image with -v succeeds and shows what libbpf did.
        let output = ebpf_layout()
            .arg("load")
            .arg(format!("{}:tp_counter", out.display()))
            .args(["--duration", "1s", "--json", "-v"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(
            stderr.lines().any(|l| l.starts_with("libbpf: ")),
            "{stderr}"
        );
    }
);

kernel_test!(
    text_output_prints_each_snapshot_once_and_says_when_it_stops,
    [Need::Kernel],
    || {
        // Loads programs other tests count by name.
        let _serial = serial();
        let d = Dir::new();
        let out = d.path("bundle");
        pack(&out, &["tp_counter.bpf.o"]);
        let output = ebpf_layout()
            .arg("load")
            .arg(format!("{}:tp_counter", out.display()))
            .args(["--duration", "2s", "--display", "text"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout}");
        let first = stdout.lines().next().unwrap_or_default();
        assert!(first.ends_with("(for 2.0s)"), "{stdout}");
        assert!(!stdout.contains("Ctrl-C"), "{stdout}");
        let snapshots: Vec<&str> = stdout.lines().filter(|l| l.starts_with('[')).collect();
        assert!(!snapshots.is_empty(), "{stdout}");
        let mut seen = std::collections::BTreeSet::new();
        for line in &snapshots {
            // "[2.0s] counter_getpid[0] = N": one line per time, map and key.
            let key = line.split(" = ").next().unwrap_or_default();
            assert!(seen.insert(key), "printed twice: {line}\n{stdout}");
        }
    }
);
