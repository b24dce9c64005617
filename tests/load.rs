//! The loader against the real kernel: `ebpf_layout::load` on the objects in `testdata/`.
//!
//! Tests that need root and a BPF-capable kernel skip (saying why) only when this machine
//! cannot run them; with `EBPF_LAYOUT_REQUIRE_KERNEL=1` (CI) they fail instead. Each test uses
//! its own pin folder and network namespace names, so they can run in parallel.
#![cfg(feature = "loader")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ebpf_layout::load::{self, LoadError, LoadOptions, LoadReport, OutputMode};
use ebpf_layout::program::VerifiedProgram;
use serde_json::Value;

use kit::kernel::{can_run, kernel_test, programs_named, serial, wait_until, Need, BPFFS};
use kit::net::{filter_has_program, send_raw_frames, silence_ipv6, tc_filters, VethInNamespace};

/// The shared test kit (tests/kit/): the parts the kernel tests use.
mod kit {
    pub mod kernel;
    pub mod net;
}

/// Loading with bundled kernel BTF (issue #18).
mod load_btf;
mod load_programs;

/// Set in the child process of the unprivileged test, to the object to load.
const UNPRIVILEGED_CHILD: &str = "EBPF_LAYOUT_TEST_UNPRIVILEGED_CHILD";

fn testdata(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `testdata/FILE` as the program of a bee image named `name`, through the library's one
/// gate to the kernel ([`ebpf_layout::trust::open_program`], unsigned images accepted).
fn verified(name: &str, file: &str) -> VerifiedProgram {
    verified_bytes(name, &testdata(file))
}

/// `object` (any bytes: the loader's own checks are under test) as the program of a bee
/// image named `name` in a fresh layout, opened through the library's gate to the kernel.
fn verified_bytes(name: &str, object: &[u8]) -> VerifiedProgram {
    use ebpf_layout::oci::media_type::{
        ANNOTATION_REF_NAME, ANNOTATION_TITLE, EBPF_CONFIG, EBPF_PROGRAM, OCI_INDEX, OCI_MANIFEST,
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    let put = |bytes: &[u8], media_type: &str, title: Option<&str>| {
        let digest = ebpf_layout::oci::Digest::of(bytes);
        std::fs::write(root.join(digest.blob_path()), bytes).unwrap();
        let mut d = serde_json::json!({
            "mediaType": media_type, "digest": digest.to_string(), "size": bytes.len(),
        });
        if let Some(t) = title {
            d["annotations"] = serde_json::json!({ ANNOTATION_TITLE: t });
        }
        d
    };
    let config = put(b"{}", EBPF_CONFIG, Some("config.json"));
    let layer = put(object, EBPF_PROGRAM, Some("program.o"));
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer],
    });
    let mut entry = put(&serde_json::to_vec(&manifest).unwrap(), OCI_MANIFEST, None);
    entry["annotations"] = serde_json::json!({ ANNOTATION_REF_NAME: name });
    let index =
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]});
    std::fs::write(root.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(
        root.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let layout = ebpf_layout::layout::Layout::open(root).unwrap();
    ebpf_layout::trust::open_program(
        &layout,
        name,
        &ebpf_layout::oci::Selector::Name(name.to_string()),
        None,
        &ebpf_layout::trust::Trust::AcceptUnsigned,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// An in-memory output that notices the "loaded" line (written once everything is attached).
#[derive(Clone, Default)]
struct Output {
    bytes: Arc<Mutex<Vec<u8>>>,
    attached: Arc<AtomicBool>,
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut bytes = self.bytes.lock().unwrap();
        bytes.extend_from_slice(buf);
        if !self.attached.load(Ordering::SeqCst)
            && String::from_utf8_lossy(&bytes).contains("\"event\":\"loaded\"")
        {
            self.attached.store(true, Ordering::SeqCst);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Output {
    fn json_lines(&self) -> Vec<Value> {
        let bytes = self.bytes.lock().unwrap();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not one JSON object per line: {e}: {l}"))
            })
            .collect()
    }

    /// Runs `trigger` on a named thread once the programs are attached.
    fn after_attach(
        &self,
        thread_name: &str,
        trigger: impl FnOnce() + Send + 'static,
    ) -> std::thread::JoinHandle<()> {
        let attached = Arc::clone(&self.attached);
        std::thread::Builder::new()
            .name(thread_name.into())
            .spawn(move || {
                let start = Instant::now();
                while !attached.load(Ordering::SeqCst) {
                    assert!(
                        start.elapsed() < Duration::from_secs(30),
                        "the programs never got attached"
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
                trigger();
            })
            .unwrap()
    }
}

fn json_options(duration_ms: u64) -> LoadOptions {
    LoadOptions {
        duration: Some(Duration::from_millis(duration_ms)),
        output: OutputMode::Json,
        ..Default::default()
    }
}

/// Waits (briefly: the kernel frees programs after an RCU grace period) until no program
/// with `id` exists.
fn assert_program_gone(id: u32) {
    let start = Instant::now();
    while libbpf_rs::Program::fd_from_id(id).is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "program id {id} is still loaded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn last_snapshot<'a>(lines: &'a [Value], map: &str) -> &'a Value {
    lines
        .iter()
        .rev()
        .find(|l| l["event"] == "snapshot" && l["map"] == map)
        .unwrap_or_else(|| panic!("no snapshot of {map} in {lines:?}"))
}

kernel_test!(
    tracepoint_counter_counts_getpid_calls_in_json_output,
    [Need::Kernel],
    || {
        const CALLS: u64 = 25;
        let mut output = Output::default();
        let trigger = output.after_attach("ebl-getpid", || {
            for _ in 0..CALLS {
                // A real getpid(2) each time (glibc does not cache it).
                let _ = nix::unistd::getpid();
            }
        });
        let report = load::load(
            &verified("tp_counter", "tp_counter.bpf.o"),
            &json_options(1500),
            &mut output,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        trigger.join().unwrap();

        assert_eq!(report.programs.len(), 1);
        let program = &report.programs[0];
        assert_eq!(program.name, "count_getpid");
        assert_eq!(program.prog_type, "tracepoint");
        assert_eq!(
            program.attached_to,
            vec!["tracepoint/syscalls/sys_enter_getpid"]
        );
        assert!(program.id > 0);

        let lines = output.json_lines();
        assert_eq!(lines.first().unwrap()["event"], "loaded");
        assert_eq!(
            lines.last().unwrap(),
            &serde_json::json!({"event": "stopped", "reason": "duration"})
        );
        let snapshot = last_snapshot(&lines, "counter_getpid");
        assert_eq!(snapshot["type"], "array");
        assert_eq!(snapshot["kind"], "counter");
        let entries = snapshot["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{snapshot}");
        assert_eq!(entries[0]["key"], 0);
        let count = entries[0]["value"].as_u64().unwrap();
        // Other processes call getpid too, so at least ours.
        assert!(
            count >= CALLS,
            "counter_getpid[0] = {count}, expected at least {CALLS}"
        );

        assert_program_gone(program.id);
    }
);

kernel_test!(
    bee_ring_buffer_with_declared_value_type_prints_decoded_records,
    [Need::Kernel],
    || {
        const CALLS: usize = 5;
        let mut output = Output::default();
        let trigger = output.after_attach("ebl-getppid", || {
            for _ in 0..CALLS {
                let _ = nix::unistd::getppid();
            }
        });
        let report = load::load(
            &verified("ringbuf_events", "ringbuf_events.bpf.o"),
            &json_options(1500),
            &mut output,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        trigger.join().unwrap();
        assert_eq!(report.fixed_maps, vec!["print_events"]);
        let ring = report
            .maps
            .iter()
            .find(|m| m.name == "print_events")
            .unwrap();
        assert_eq!(ring.map_type, "ringbuf");
        assert_eq!((ring.key_size, ring.value_size), (0, 0));

        let lines = output.json_lines();
        let ours: Vec<&Value> = lines
            .iter()
            .filter(|l| l["event"] == "record" && l["map"] == "print_events")
            .map(|l| &l["record"])
            .filter(|r| r["pid"] == std::process::id() && r["comm"] == "ebl-getppid")
            .collect();
        assert_eq!(
            ours.len(),
            CALLS,
            "records of our getppid calls in {lines:#?}"
        );
        for record in &ours {
            assert_eq!(record.as_object().unwrap().len(), 4, "{record}");
            assert_eq!(record["uid"], 0);
        }
        // Fields come in declaration order (checked on the raw text: serde_json's Value sorts).
        let raw = String::from_utf8(output.bytes.lock().unwrap().clone()).unwrap();
        let line = raw
            .lines()
            .find(|l| l.contains("\"comm\":\"ebl-getppid\""))
            .unwrap();
        assert!(
            line.contains(r#""record":{"pid":"#)
                && line.contains(r#""uid":0,"comm":"ebl-getppid","count":"#),
            "{line}"
        );
        let counts: Vec<u64> = ours.iter().map(|r| r["count"].as_u64().unwrap()).collect();
        assert!(
            counts.windows(2).all(|w| w[0] < w[1]),
            "count must increase: {counts:?}"
        );
    }
);

kernel_test!(text_output_shows_counter_lines, [Need::Kernel], || {
    let options = LoadOptions {
        duration: Some(Duration::from_millis(300)),
        output: OutputMode::Text,
        ..Default::default()
    };
    let mut out = Vec::new();
    load::load(
        &verified("tp_counter", "tp_counter.bpf.o"),
        &options,
        &mut out,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("loaded tp_counter: 1 program(s), 1 map(s)"),
        "{text}"
    );
    assert!(text.contains("counter_getpid[0] = "), "{text}");
    assert!(text.trim_end().ends_with("time is up: detaching"), "{text}");
    assert!(
        !text.contains('\x1b'),
        "no escape codes in text mode: {text:?}"
    );
});

kernel_test!(
    program_option_loads_and_attaches_only_the_named_programs,
    [Need::Kernel],
    || {
        let options = LoadOptions {
            programs: vec!["on_getuid".into()],
            ..json_options(200)
        };
        let report = load::load(
            &verified("multi_prog", "multi_prog.bpf.o"),
            &options,
            &mut Vec::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = report.programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["on_getuid"]);
        assert_eq!(
            report.programs[0].attached_to,
            ["tracepoint/syscalls/sys_enter_getuid"]
        );
        let counter = report
            .maps
            .iter()
            .find(|m| m.name == "counter_calls")
            .unwrap();
        assert_eq!(counter.map_type, "percpu_array");

        let err = load::load(
            &verified("multi_prog", "multi_prog.bpf.o"),
            &LoadOptions {
                programs: vec!["nope".into()],
                ..json_options(200)
            },
            &mut Vec::new(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, LoadError::UnknownProgram { .. }), "{text}");
        assert!(
            text.contains("'nope'") && text.contains("on_getuid, on_getgid, on_sys_enter"),
            "{text}"
        );
    }
);

kernel_test!(
    verifier_rejection_shows_the_verifiers_words,
    [Need::Kernel],
    || {
        let err = load::load(
            &verified("verifier_reject", "verifier_reject.bpf.o"),
            &json_options(100),
            &mut Vec::new(),
        )
        .unwrap_err();
        let text = err.to_string();
        match &err {
            LoadError::VerifierRejected { program, log } => {
                assert_eq!(program, "missing_null_check");
                assert!(
                    log.contains("R0 invalid mem access 'map_value_or_null'"),
                    "{log}"
                );
            }
            other => panic!("expected a verifier rejection, got: {other}"),
        }
        assert!(
            text.starts_with("the kernel verifier rejected program 'missing_null_check':"),
            "{text}"
        );
        assert!(!text.contains("Unknown error"), "{text}");
    }
);

#[test]
fn objects_that_are_not_bpf_for_this_machine_are_refused_before_libbpf() {
    // No kernel needed: these are refused by the header check.
    let err = load::load(
        &verified("hello", "not-bpf/hello.o"),
        &json_options(100),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(err, LoadError::NotBpf { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("ELF machine 62 (x86-64), expected 247 (BPF)"),
        "{err}"
    );

    let err = load::load(
        &verified("readme", "not-bpf/README.txt"),
        &json_options(100),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not an ELF file"), "{err}");

    if cfg!(target_endian = "little") {
        let err = load::load(
            &verified("bpfeb", "bpfeb/tp_counter.bpfeb.o"),
            &json_options(100),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(
            matches!(err, LoadError::WrongEndianness { object: "big", .. }),
            "{err}"
        );
    }
}

#[test]
fn missing_interface_is_named_before_anything_is_loaded() {
    let options = LoadOptions {
        attach: vec!["xdp:ebl-nosuch0".parse().unwrap()],
        ..json_options(100)
    };
    let err = load::load(
        &verified("xdp_count", "xdp_count.bpf.o"),
        &options,
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(err, LoadError::InterfaceNotFound { .. }), "{err}");
    assert!(err.to_string().contains("'ebl-nosuch0' not found"), "{err}");

    let err = load::load(
        &verified("xdp_count", "xdp_count.bpf.o"),
        &json_options(100),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("--attach xdp:IFACE"), "{err}");
}

kernel_test!(pin_folder_must_be_on_bpffs_and_unused, |test| {
    let tmp = tempfile::tempdir().unwrap();
    let options = LoadOptions {
        pin: Some(tmp.path().join("pins")),
        detach: true,
        ..json_options(100)
    };
    let err = load::load(
        &verified("tp_counter", "tp_counter.bpf.o"),
        &options,
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(err, LoadError::BpffsNotMounted { .. }), "{err}");
    assert!(
        err.to_string().contains("mount -t bpf bpf /sys/fs/bpf"),
        "{err}"
    );

    if !can_run(test, &[Need::Kernel, Need::Bpffs]) {
        return;
    }
    let dir = PinDir::new("in-use");
    std::fs::create_dir_all(dir.0.join("someone-elses")).unwrap();
    let options = LoadOptions {
        pin: Some(dir.0.clone()),
        detach: true,
        ..json_options(100)
    };
    let err = load::load(
        &verified("tp_counter", "tp_counter.bpf.o"),
        &options,
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(err, LoadError::PinDirInUse { .. }), "{err}");

    let err = load::unload(&dir.0).unwrap_err();
    assert!(matches!(err, LoadError::NotAPinDir { .. }), "{err}");
    assert!(
        dir.0.join("someone-elses").is_dir(),
        "unload must not touch a folder it did not create"
    );
});

kernel_test!(
    tracepoint_pinned_and_detached_keeps_counting_until_unload,
    [Need::Kernel, Need::Bpffs],
    || {
        let dir = PinDir::new("tp-detach");
        let options = LoadOptions {
            pin: Some(dir.0.clone()),
            detach: true,
            output: OutputMode::Json,
            ..Default::default()
        };
        let mut output = Output::default();
        let report = load::load(
            &verified("tp_counter", "tp_counter.bpf.o"),
            &options,
            &mut output,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(report.detached);
        let lines = output.json_lines();
        assert_eq!(lines.last().unwrap()["reason"], "detached");

        // Still attached after load returned: the pinned counter moves.
        let counter =
            libbpf_rs::MapHandle::from_pinned_path(dir.0.join("maps/counter_getpid")).unwrap();
        let read = || {
            use libbpf_rs::MapCore as _;
            let bytes = counter
                .lookup(&0u32.to_ne_bytes(), libbpf_rs::MapFlags::ANY)
                .unwrap()
                .unwrap();
            u64::from_ne_bytes(bytes.try_into().unwrap())
        };
        let before = read();
        for _ in 0..10 {
            let _ = nix::unistd::getpid();
        }
        assert!(read() >= before + 10);

        // A second load into the same folder is refused.
        let err = load::load(
            &verified("tp_counter", "tp_counter.bpf.o"),
            &options,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("ebpf-layout unload"), "{err}");

        let unloaded = load::unload(&dir.0).unwrap_or_else(|e| panic!("{e}"));
        assert!(unloaded.missing.is_empty(), "{unloaded:?}");
        assert!(!dir.0.exists(), "the pin folder must be gone");
        assert_program_gone(report.programs[0].id);
    }
);

kernel_test!(
    xdp_on_veth_counts_pings_pinned_detached_then_unload_leaves_nothing,
    [Need::Kernel, Need::Bpffs, Need::Tool("ip")],
    || {
        // Counts programs by name (below): no other test may load one so named meanwhile.
        let _serial = serial();
        let net = VethInNamespace::new("xdp");
        let dir = PinDir::new("xdp");
        let options = LoadOptions {
            attach: vec![format!("xdp:{}", net.outside).parse().unwrap()],
            pin: Some(dir.0.clone()),
            detach: true,
            output: OutputMode::Json,
            ..Default::default()
        };
        let report: LoadReport = load::load(
            &verified("xdp_count", "xdp_count.bpf.o"),
            &options,
            &mut Vec::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let program = &report.programs[0];
        assert_eq!(program.prog_type, "xdp");
        assert_eq!(program.attached_to, [format!("xdp:{}", net.outside)]);
        let link = dir.0.join(format!("links/xdp_count_xdp_{}", net.outside));
        assert!(report.pinned.contains(&link), "{:?}", report.pinned);
        assert!(
            net.xdp_attached(),
            "XDP must stay attached after a detached load"
        );

        // Attaching a second XDP program to the same interface fails, naming the program, and
        // leaves nothing of the second load behind.
        let second = LoadOptions {
            attach: options.attach.clone(),
            ..json_options(100)
        };
        let err = load::load(
            &verified("xdp_count", "xdp_count.bpf.o"),
            &second,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(matches!(err, LoadError::Attach { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("attaching program 'xdp_count' to xdp:"),
            "{err}"
        );
        wait_until("the failed load's program to be unloaded", || {
            programs_named("xdp_count") == [program.id]
        });

        let (sent, protocol) = net.send_packets(5);
        let counter = read_pinned_u64(&dir.0.join("maps/counter_packets"), 0);
        assert!(
            counter >= sent,
            "counter_packets[0] = {counter}, sent {sent}"
        );
        let by_protocol = read_pinned_u64(&dir.0.join("maps/hist_protocols"), protocol);
        assert!(
            by_protocol >= sent,
            "hist_protocols[{protocol}] = {by_protocol}, sent {sent}"
        );

        let unloaded = load::unload(&dir.0).unwrap_or_else(|e| panic!("{e}"));
        assert!(unloaded.removed.contains(&link), "{unloaded:?}");
        assert!(!dir.0.exists(), "the pin folder must be gone");
        assert_program_gone(program.id);
        assert!(!net.xdp_attached(), "XDP must be detached after unload");
    }
);

fn read_pinned_u64(path: &Path, key: u32) -> u64 {
    use libbpf_rs::MapCore as _;
    let map = libbpf_rs::MapHandle::from_pinned_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    map.lookup(&key.to_ne_bytes(), libbpf_rs::MapFlags::ANY)
        .unwrap()
        .map(|b| u64::from_ne_bytes(b.try_into().unwrap()))
        .unwrap_or(0)
}

kernel_test!(unprivileged_load_says_it_needs_privileges, |test| {
    if let Some(object) = std::env::var_os(UNPRIVILEGED_CHILD) {
        // The child, running as nobody.
        let object = std::fs::read(&object).unwrap();
        let err = load::load(
            &verified_bytes("tp_counter", &object),
            &json_options(100),
            &mut Vec::new(),
        )
        .unwrap_err();
        println!("child error: {err}");
        assert!(matches!(err, LoadError::NotPrivileged { .. }), "{err}");
        return;
    }
    if !can_run(test, &[Need::Kernel, Need::Tool("setpriv")]) {
        return;
    }
    // nobody may not be able to reach the build folder (a checkout under /root): run a copy
    // of this test binary, with the object beside it, from a folder anyone can read.
    use std::os::unix::fs::PermissionsExt as _;
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = shared.path().join("load-test");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let object = shared.path().join("tp_counter.bpf.o");
    std::fs::write(&object, testdata("tp_counter.bpf.o")).unwrap();
    std::fs::set_permissions(&object, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(UNPRIVILEGED_CHILD, &object)
        .current_dir(shared.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "loading eBPF needs root, or CAP_BPF and CAP_PERFMON (and CAP_NET_ADMIN for XDP/TC)"
        ),
        "{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the child must have run the test:\n{stdout}"
    );
    assert!(
        !stderr.contains("libbpf:"),
        "libbpf must not print on its own: {stderr}"
    );
});

/// A unique bpffs folder for one test; removed (with whatever is left in it) on drop.
struct PinDir(PathBuf);

impl PinDir {
    fn new(test: &str) -> Self {
        let path = Path::new(BPFFS).join(format!("ebpf-layout-test-{test}-{}", std::process::id()));
        let _ = load::unload(&path);
        let _ = std::fs::remove_dir_all(&path);
        PinDir(path)
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = load::unload(&self.0);
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

kernel_test!(
    bee_perf_buffer_with_declared_value_type_prints_records_in_call_order,
    [Need::Kernel, Need::Tool("taskset")],
    || {
        const CALLS: usize = 8;
        const THREAD: &str = "ebl-getpgid";
        let mut output = Output::default();
        let tid = Arc::new(AtomicI32::new(0));
        let trigger = output.after_attach(THREAD, {
            let tid = Arc::clone(&tid);
            move || {
                let me = nix::unistd::gettid();
                tid.store(me.as_raw(), Ordering::SeqCst);
                // On one CPU, every record goes to the same per-CPU perf buffer, so they arrive
                // in call order (across CPUs, a perf buffer gives no order).
                pin_thread_to_one_cpu(me.as_raw());
                for _ in 0..CALLS {
                    // A real getpgid(2) each time (glibc does not cache it).
                    let _ = nix::unistd::getpgid(None);
                }
            }
        });
        let report = load::load(
            &verified("perf_events", "perf_events.bpf.o"),
            &json_options(1500),
            &mut output,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        trigger.join().unwrap();
        let tid = tid.load(Ordering::SeqCst);

        // The bee declaration (value type struct event, 32 bytes) was fixed up to what the
        // kernel accepts for a perf event array: 4-byte keys and values.
        assert_eq!(report.fixed_maps, vec!["print_events"]);
        let perf = report
            .maps
            .iter()
            .find(|m| m.name == "print_events")
            .unwrap();
        assert_eq!(perf.map_type, "perf_event_array");
        assert_eq!((perf.key_size, perf.value_size), (4, 4));
        // No max_entries declared: libbpf gives it one slot per possible CPU.
        assert_eq!(perf.max_entries, possible_cpus(), "{perf:?}");
        assert_eq!(perf.display, load::DisplayKind::Print);
        assert_eq!(report.programs.len(), 1);
        assert_eq!(report.programs[0].name, "emit_getpgid");
        assert_eq!(
            report.programs[0].attached_to,
            ["tracepoint/syscalls/sys_enter_getpgid"]
        );

        let lines = output.json_lines();
        assert_eq!(lines.first().unwrap()["event"], "loaded");
        assert_eq!(lines.last().unwrap()["reason"], "duration");
        let lost: Vec<&Value> = lines.iter().filter(|l| l["event"] == "lost").collect();
        assert!(lost.is_empty(), "no record may be lost: {lost:?}");
        let records: Vec<&Value> = lines
            .iter()
            .filter(|l| l["event"] == "record" && l["map"] == "print_events")
            .inspect(|l| assert_eq!(l["type"], "perf_event_array", "{l}"))
            .map(|l| &l["record"])
            .collect();
        let ours: Vec<&Value> = records
            .iter()
            .copied()
            .filter(|r| r["tgid"] == std::process::id())
            .collect();
        assert_eq!(
            ours.len(),
            CALLS,
            "records of our getpgid calls in {lines:#?}"
        );
        for record in &ours {
            assert_eq!(record.as_object().unwrap().len(), 4, "{record}");
            assert_eq!(record["pid"], tid, "{record}");
            assert_eq!(record["comm"], THREAD, "{record}");
        }
        let seqs: Vec<u64> = ours.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
        assert!(
            seqs[0] >= 1 && seqs.windows(2).all(|w| w[0] < w[1]),
            "records must arrive in call order (seq increasing): {seqs:?}"
        );
        // Fields come in declaration order (checked on the raw text: serde_json's Value sorts).
        let raw = String::from_utf8(output.bytes.lock().unwrap().clone()).unwrap();
        let line = raw
            .lines()
            .find(|l| l.contains(&format!("\"comm\":\"{THREAD}\"")))
            .unwrap();
        let expected = format!(
            r#""record":{{"pid":{tid},"tgid":{},"comm":"{THREAD}","seq":"#,
            std::process::id()
        );
        assert!(line.contains(&expected), "{line}");
    }
);

kernel_test!(
    tc_on_veth_counts_ingress_and_egress_packets_and_leaves_no_filter,
    [Need::Kernel, Need::Tool("ip"), Need::Tool("tc")],
    || {
        let net = VethInNamespace::new("tc");
        silence_ipv6(&net);
        for direction in ["ingress", "egress"] {
            let point = format!("tc:{}:{direction}", net.outside);
            let options = LoadOptions {
                attach: vec![point.parse().unwrap()],
                // Long enough for the pings (about 2 s without replies) to end before the final
                // snapshot.
                ..json_options(3500)
            };
            let (report, sent, lines) =
                load_while_triggering("tc_count", &options, &format!("ebl-tc-{direction}"), || {
                    if direction == "ingress" {
                        // From the namespace towards `outside`: they arrive on it.
                        net.send_packets(5).0
                    } else {
                        // Out of `outside` (no address needed): they leave through it.
                        send_raw_frames(&net.outside, 5)
                    }
                });
            assert_eq!(report.programs.len(), 1);
            let program = &report.programs[0];
            assert_eq!(program.name, "tc_count");
            assert_eq!(program.section, "tc");
            assert_eq!(program.prog_type, "sched_cls");
            assert_eq!(program.attached_to, [point.as_str()]);
            assert!(program.id > 0);
            let counter = report
                .maps
                .iter()
                .find(|m| m.name == "counter_tc_packets")
                .unwrap();
            assert_eq!(counter.map_type, "array");
            assert_eq!(counter.display, load::DisplayKind::Counter);

            assert_eq!(lines.first().unwrap()["event"], "loaded");
            assert_eq!(
                lines.first().unwrap()["programs"][0]["attached_to"],
                serde_json::json!([point])
            );
            assert_eq!(lines.last().unwrap()["reason"], "duration");
            let snapshot = last_snapshot(&lines, "counter_tc_packets");
            assert_eq!(snapshot["kind"], "counter");
            let entries = snapshot["entries"].as_array().unwrap();
            assert_eq!(entries.len(), 1, "{snapshot}");
            assert_eq!(entries[0]["key"], 0);
            // Nothing else crosses the veth pair (see `silence_ipv6`), so the count is ours.
            let count = entries[0]["value"].as_u64().unwrap();
            assert!(
                count >= sent,
                "{point}: counter_tc_packets[0] = {count}, sent {sent}"
            );

            // load detached the filter when it stopped, and the program is gone.
            let filters = tc_filters(&net.outside, direction);
            assert!(
                filters.trim().is_empty(),
                "{point}: a filter is left: {filters}"
            );
            assert_program_gone(program.id);
        }
    }
);

kernel_test!(
    tc_pinned_and_detached_keeps_counting_until_unload_removes_the_filter,
    [
        Need::Kernel,
        Need::Bpffs,
        Need::Tool("ip"),
        Need::Tool("tc")
    ],
    || {
        let net = VethInNamespace::new("tcpin");
        silence_ipv6(&net);
        let dir = PinDir::new("tc");
        let point = format!("tc:{}:ingress", net.outside);
        let options = LoadOptions {
            attach: vec![point.parse().unwrap()],
            pin: Some(dir.0.clone()),
            detach: true,
            output: OutputMode::Json,
            ..Default::default()
        };
        let report = load::load(
            &verified("tc_count", "tc_count.bpf.o"),
            &options,
            &mut Vec::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(report.detached);
        let program = &report.programs[0];
        assert_eq!(program.attached_to, [point.as_str()]);
        // A TC filter has no link to pin: the map and the program are pinned, the filter is
        // recorded in the manifest.
        let counter_pin = dir.0.join("maps/counter_tc_packets");
        assert!(report.pinned.contains(&counter_pin), "{:?}", report.pinned);
        assert!(
            report.pinned.contains(&dir.0.join("programs/tc_count")),
            "{:?}",
            report.pinned
        );
        assert!(
            !report
                .pinned
                .iter()
                .any(|p| p.starts_with(dir.0.join("links"))),
            "{:?}",
            report.pinned
        );

        // The filter stays after load returned, with our program, and keeps counting.
        let filters = tc_filters(&net.outside, "ingress");
        assert!(
            filter_has_program(&filters, program.id),
            "no filter with program id {} on {point}: {filters}",
            program.id
        );
        let (sent, _) = net.send_packets(3);
        let count = read_pinned_u64(&counter_pin, 0);
        assert!(
            count >= sent,
            "counter_tc_packets[0] = {count}, sent {sent}"
        );

        let unloaded = load::unload(&dir.0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(unloaded.tc_detached, [point.as_str()], "{unloaded:?}");
        assert!(unloaded.missing.is_empty(), "{unloaded:?}");
        assert!(!dir.0.exists(), "the pin folder must be gone");
        let filters = tc_filters(&net.outside, "ingress");
        assert!(
            filters.trim().is_empty(),
            "unload must remove the filter: {filters}"
        );
        assert_program_gone(program.id);
    }
);

/// Runs `load::load` on testdata's `NAME.bpf.o` while `trigger` runs on a thread called
/// `thread` once everything is attached (it may borrow from the test); returns the report,
/// what `trigger` returned and the JSON lines.
fn load_while_triggering<T: Send>(
    name: &str,
    options: &LoadOptions,
    thread: &str,
    trigger: impl FnOnce() -> T + Send,
) -> (LoadReport, T, Vec<Value>) {
    let mut output = Output::default();
    let attached = Arc::clone(&output.attached);
    let returned = AtomicBool::new(false);
    let program = verified(name, &format!("{name}.bpf.o"));
    std::thread::scope(|scope| {
        let triggered = std::thread::Builder::new()
            .name(thread.into())
            .spawn_scoped(scope, || {
                while !attached.load(Ordering::SeqCst) {
                    if returned.load(Ordering::SeqCst) {
                        return None; // load failed before attaching
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Some(trigger())
            })
            .unwrap();
        let result = load::load(&program, options, &mut output);
        returned.store(true, Ordering::SeqCst);
        let report = result.unwrap_or_else(|e| panic!("{e}"));
        let value = triggered.join().unwrap().expect("attached");
        (report, value, output.json_lines())
    })
}

/// Pins thread `tid` (the calling thread) to the first CPU it may run on.
fn pin_thread_to_one_cpu(tid: i32) {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list in /proc/thread-self/status");
    let cpu: String = allowed
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let out = Command::new("taskset")
        .args(["-p", "-c", &cpu, &tid.to_string()])
        .output()
        .expect("running taskset");
    assert!(
        out.status.success(),
        "taskset -p -c {cpu} {tid}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The number of possible CPUs (`/sys/devices/system/cpu/possible`, e.g. `0-3,8-11`).
fn possible_cpus() -> u32 {
    let list = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    list.trim()
        .split(',')
        .map(|range| match range.split_once('-') {
            Some((first, last)) => last.parse::<u32>().unwrap() - first.parse::<u32>().unwrap() + 1,
            None => 1,
        })
        .sum()
}
