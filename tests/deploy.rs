//! Deployments end to end (issue #15): `load --pin --detach` records where the programs came
//! from, `ps` finds and checks them, `watch` shows their maps, `unload` removes them. The
//! binary, real layouts, the running kernel; gated like every kernel test (tests/kit/kernel.rs).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use predicates::prelude::PredicateBooleanExt as _;
use predicates::str::contains;
use serde_json::Value;

use crate::kit::kernel::{kernel_test, programs_named, serial, wait_until, Need, BPFFS};
use crate::util::*;

/// A pin folder under bpffs for one test, unloaded (by the binary) when the test ends.
struct Pins(PathBuf);

impl Pins {
    fn new(test: &str) -> Self {
        let path = Path::new(BPFFS).join(format!("ebl-{test}-{}", std::process::id()));
        unload_quietly(&path);
        Pins(path)
    }
}

impl Drop for Pins {
    fn drop(&mut self) {
        unload_quietly(&self.0);
    }
}

fn unload_quietly(path: &Path) {
    if path.exists() {
        let _ = ebpf_layout().arg("unload").arg(path).output();
    }
}

/// `ps DIR --json`.
fn ps(root: &Path) -> Vec<Value> {
    let out = ebpf_layout()
        .arg("ps")
        .arg(root)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// `load REF --pin DIR --detach`, returning its standard error.
fn load_detached(reference: &str, pin: &Path, extra: &[&str]) -> String {
    let out = ebpf_layout()
        .arg("load")
        .arg(reference)
        .arg("--pin")
        .arg(pin)
        .arg("--detach")
        .args(["--output", "text"])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

kernel_test!(
    ps_shows_a_signed_detached_deployment_and_flags_it_once_its_programs_are_removed_behind_our_back,
    [Need::Kernel, Need::Bpffs],
    || {
        let _serial = serial();
        let d = Dir::new();
        let bundle = d.path("bundle");
        pack(&bundle, &["tp_counter.bpf.o", "multi_prog.bpf.o"]);
        ebpf_layout()
            .env("EBPF_LAYOUT_PASSWORD", "")
            .arg("keygen")
            .arg("--output")
            .arg(d.path("site"))
            .assert()
            .success();
        ebpf_layout()
            .env("EBPF_LAYOUT_PASSWORD", "")
            .arg("sign")
            .arg(format!("{}:tp_counter", bundle.display()))
            .arg("--key")
            .arg(d.path("site.key"))
            .assert()
            .success();
        let digest = entry(&bundle, "tp_counter")["digest"]
            .as_str()
            .unwrap()
            .to_string();
        let pins = Pins::new("ps");
        let public = d.path("site.pub");
        let stderr = load_detached(
            &format!("{}:tp_counter", bundle.display()),
            &pins.0,
            &["--key", public.to_str().unwrap()],
        );
        // "signature of sha256:… verified with key sha256:0123456789ab"
        let key = stderr
            .split("verified with key ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no key id in: {stderr}"))
            .to_string();

        let found = ps(&pins.0);
        assert_eq!(found.len(), 1, "{found:?}");
        let deployment = &found[0];
        assert_eq!(deployment["path"], pins.0.to_str().unwrap());
        assert_eq!(deployment["source"], bundle.to_str().unwrap());
        assert_eq!(deployment["healthy"], true, "{deployment}");
        assert!(deployment["loaded_at"].as_u64().unwrap() > 1_700_000_000);
        let image = &deployment["images"][0];
        assert_eq!(image["name"], "tp_counter");
        assert_eq!(image["digest"], digest.as_str());
        let signer = image["signed_by"].as_str().unwrap();
        assert!(signer.starts_with(&key), "{signer} is key {key}");
        let program = &image["programs"][0];
        assert_eq!(program["name"], "count_getpid");
        assert_eq!(program["state"], "running");
        assert_eq!(
            program["attached_to"][0],
            "tracepoint/syscalls/sys_enter_getpid"
        );
        let id = program["id"].as_u64().unwrap() as u32;
        assert!(programs_named("count_getpid").contains(&id));

        // Without a folder, ps looks under every bpffs mount, and finds it there too.
        let everywhere = ebpf_layout().args(["ps", "--json"]).output().unwrap();
        let everywhere: Value = serde_json::from_slice(&everywhere.stdout).unwrap();
        assert!(
            everywhere
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["path"] == pins.0.to_str().unwrap()),
            "{everywhere}"
        );
        ebpf_layout()
            .arg("ps")
            .arg(&pins.0)
            .assert()
            .success()
            .stdout(contains("tp_counter").and(contains("running")));

        // Behind our back: the link and program pins go, so the program leaves the kernel.
        std::fs::remove_file(pins.0.join("links/count_getpid")).unwrap();
        std::fs::remove_file(pins.0.join("programs/count_getpid")).unwrap();
        wait_until("the program to leave the kernel", || {
            !programs_named("count_getpid").contains(&id)
        });
        let found = ps(&pins.0);
        assert_eq!(found.len(), 1, "flagged, not hidden: {found:?}");
        assert_eq!(found[0]["healthy"], false);
        assert_eq!(found[0]["images"][0]["programs"][0]["state"], "gone");
        ebpf_layout()
            .arg("ps")
            .arg(&pins.0)
            .assert()
            .success()
            .stdout(contains("GONE"))
            .stderr(contains("not running as loaded"));

        // What is left (maps, manifest, record) still unloads, and then ps has nothing.
        ebpf_layout()
            .arg("unload")
            .arg(&pins.0)
            .assert()
            .success()
            .stdout(contains("unloaded tp_counter").and(contains("already gone")));
        assert!(!pins.0.exists());
        assert!(ps(Path::new(BPFFS))
            .iter()
            .all(|d| d["path"] != pins.0.to_str().unwrap()));
    }
);

kernel_test!(
    watch_shows_the_live_counter_of_a_detached_deployment,
    [Need::Kernel, Need::Bpffs],
    || {
        let _serial = serial();
        let d = Dir::new();
        let bundle = d.path("bundle.tar");
        pack(&bundle, &["tp_counter.bpf.o"]);
        let pins = Pins::new("watch");
        load_detached(bundle.to_str().unwrap(), &pins.0, &[]);
        let child = Command::new(assert_cmd::cargo::cargo_bin("ebpf-layout"))
            .arg("watch")
            .arg(&pins.0)
            .args(["--duration", "2.5", "--output", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1000));
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
        assert_eq!(lines[0]["detached"], true);
        assert_eq!(lines[0]["programs"][0]["name"], "count_getpid");
        assert_eq!(lines[0]["maps"][0]["display"], "counter");
        let snapshots: Vec<u64> = lines
            .iter()
            .filter(|l| l["event"] == "snapshot" && l["map"] == "counter_getpid")
            .map(|l| l["entries"][0]["value"].as_u64().unwrap())
            .collect();
        assert!(snapshots.len() >= 2, "{lines:?}");
        let (first, last) = (snapshots[0], *snapshots.last().unwrap());
        assert!(last >= first + 40, "counted {first} then {last}");
        assert_eq!(lines.last().unwrap()["event"], "stopped");
        // Watching left it running.
        assert_eq!(ps(&pins.0)[0]["healthy"], true);
    }
);
