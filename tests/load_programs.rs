//! Loading programs shaped like the ones people ship (libbpf-tools, libbpf-bootstrap,
//! xdp-tools), from our own equivalents in testdata/: globals and map sizes set before
//! load, attach points given on the command line, optional programs, maps pinned by name,
//! XDP in generic mode and the TC qdisc left behind.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ebpf_layout::load::{self, LoadError, LoadOptions};
use serde_json::Value;

use super::{
    assert_program_gone, json_options, last_snapshot, load_while_triggering, Output, PinDir,
};
use crate::kit::kernel::{kernel_test, programs_named, Need};
use crate::kit::net::VethInNamespace;

/// The snapshot of the map libbpf made of section `section` (`OBJNAME.bss`).
fn section_snapshot<'a>(lines: &'a [Value], section: &str) -> &'a Value {
    lines
        .iter()
        .rev()
        .find(|l| {
            l["event"] == "snapshot" && l["map"].as_str().is_some_and(|m| m.ends_with(section))
        })
        .unwrap_or_else(|| panic!("no snapshot of the {section} map in {lines:#?}"))
}

fn load_err(object: &str, options: &LoadOptions) -> LoadError {
    load::load(
        &super::verified(object, &format!("{object}.bpf.o")),
        options,
        &mut Vec::new(),
    )
    .map(|report| panic!("{object} loaded: {report:?}"))
    .unwrap_err()
}

kernel_test!(
    globals_and_max_entries_configure_the_object_like_its_user_space_would,
    [Need::Kernel],
    || {
        const CALLS: u64 = 7;
        const THREAD: &str = "ebl-getsid";
        let globals = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
            extra
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };

        // The stack map is declared without a size: refused by name, nothing loaded.
        let err = load_err("configurable", &json_options(100));
        assert!(matches!(err, LoadError::MapNeedsSize { .. }), "{err}");
        assert!(
            err.to_string().contains("--map-max-entries stacks=N"),
            "{err}"
        );
        assert!(programs_named("on_getsid").is_empty());

        // Unknown names and values that do not fit are refused with the variable's type.
        let with = |g: Vec<(String, String)>| LoadOptions {
            globals: g,
            max_entries: vec![("stacks".into(), 64)],
            ..json_options(100)
        };
        let err = load_err("configurable", &with(globals(&[("targ_pid", "1")])));
        let text = err.to_string();
        assert!(matches!(err, LoadError::UnknownGlobal { .. }), "{text}");
        assert!(
            text.contains("targ_tgid, enabled, mode, targ_comm"),
            "{text}"
        );
        let err = load_err("configurable", &with(globals(&[("enabled", "maybe")])));
        assert!(err.to_string().contains("const volatile _Bool"), "{err}");
        let err = load_err("configurable", &with(globals(&[("targ_tgid", "-1")])));
        assert!(
            err.to_string()
                .contains("-1 does not fit in variable 'targ_tgid' (const volatile __u32"),
            "{err}"
        );
        let err = load_err("configurable", &with(globals(&[("mode", "MODE_X")])));
        assert!(
            err.to_string().contains("one of: MODE_COUNT, MODE_STACKS"),
            "{err}"
        );
        let err = load_err(
            "configurable",
            &LoadOptions {
                max_entries: vec![("stack".into(), 64)],
                ..json_options(100)
            },
        );
        assert!(err.to_string().contains("has no map 'stack'"), "{err}");
        assert!(programs_named("on_getsid").is_empty());

        // Filtered on this process and on the calling thread's name, recording stacks.
        let pid = std::process::id().to_string();
        let options = with(globals(&[
            ("targ_tgid", &pid),
            ("mode", "MODE_STACKS"),
            ("targ_comm", THREAD),
        ]));
        let options = LoadOptions {
            duration: Some(std::time::Duration::from_millis(1500)),
            ..options
        };
        let mut output = Output::default();
        let trigger = output.after_attach(THREAD, || {
            for _ in 0..CALLS {
                let _ = nix::unistd::getsid(None);
            }
        });
        // Calls from another thread of this process do not match targ_comm.
        let other = output.after_attach("ebl-other", || {
            for _ in 0..3 {
                let _ = nix::unistd::getsid(None);
            }
        });
        let report = load::load(
            &super::verified("configurable", "configurable.bpf.o"),
            &options,
            &mut output,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        trigger.join().unwrap();
        other.join().unwrap();

        assert_eq!(
            report.globals_set,
            [
                format!("targ_tgid={pid}"),
                "mode=MODE_STACKS".into(),
                format!("targ_comm={THREAD}")
            ]
        );
        let stacks = report.maps.iter().find(|m| m.name == "stacks").unwrap();
        assert_eq!((stacks.max_entries, stacks.value_size), (64, 127 * 8));
        assert!(
            report.warnings.iter().any(|w| w.contains("map 'stacks'")),
            "{:?}",
            report.warnings
        );

        let lines = output.json_lines();
        let bss = section_snapshot(&lines, ".bss");
        let value = &bss["entries"][0]["value"];
        assert_eq!(value["hits"], CALLS, "{bss}");
        let taken = value["stacks_taken"].as_u64().unwrap();
        assert!((1..=CALLS).contains(&taken), "{bss}");
        // Every map is shown in JSON, the stack map too; constants (.rodata) are not.
        let stack_snapshot = last_snapshot(&lines, "stacks");
        assert!(
            !stack_snapshot["entries"].as_array().unwrap().is_empty(),
            "{stack_snapshot}"
        );
        assert!(
            !lines.iter().any(|l| l["event"] == "snapshot"
                && l["map"].as_str().unwrap_or_default().contains(".rodata")),
            "no snapshot of .rodata"
        );
        assert_program_gone(report.programs[0].id);
    }
);

/// Builds testdata/src/probe_target.c with the host compiler into `dir`.
fn build_probe_target(dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/src/probe_target.c");
    let binary = dir.join("ebl_probe_target");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-O2", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .unwrap_or_else(|e| panic!("running {cc}: {e}"));
    assert!(
        out.status.success(),
        "{cc} probe_target.c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    binary
}

kernel_test!(
    bare_uprobe_uretprobe_and_usdt_programs_attach_where_told_in_one_process,
    [Need::Kernel, Need::Tool("cc")],
    || {
        const CALLS: u64 = 6;
        let dir = tempfile::tempdir().unwrap();
        let target = build_probe_target(dir.path());
        let bin = target.display().to_string();

        // Without --attach, the uprobe program's error says what it needs; nothing loads.
        let err = load_err("probes", &json_options(100));
        let text = err.to_string();
        assert!(matches!(err, LoadError::NeedsAttachTarget { .. }), "{text}");
        assert!(
            text.contains("'on_call'") && text.contains("--attach uprobe:BINARY:FUNCTION"),
            "{text}"
        );
        assert!(programs_named("on_call").is_empty());

        // Two processes run the target: only the one named with --pid is traced.
        let spawn = || {
            Command::new(&target)
                .arg(CALLS.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let mut traced = spawn();
        let mut other = spawn();
        let options = LoadOptions {
            attach: vec![
                format!("on_call=uprobe:{bin}:ebl_target_add")
                    .parse()
                    .unwrap(),
                format!("uretprobe:{bin}:ebl_target_add").parse().unwrap(),
                format!("usdt:{bin}:ebl:mark").parse().unwrap(),
            ],
            pid: Some(traced.id() as i32),
            ..json_options(2000)
        };
        let mut output = Output::default();
        let mut stdins = vec![traced.stdin.take().unwrap(), other.stdin.take().unwrap()];
        let trigger = output.after_attach("ebl-probes", move || {
            for stdin in &mut stdins {
                stdin.write_all(b"go\n").unwrap();
            }
        });
        let report = load::load(
            &super::verified("probes", "probes.bpf.o"),
            &options,
            &mut output,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        trigger.join().unwrap();
        for child in [&mut traced, &mut other] {
            assert!(child.wait().unwrap().success());
        }

        let attached: Vec<(&str, &[String])> = report
            .programs
            .iter()
            .map(|p| (p.name.as_str(), p.attached_to.as_slice()))
            .collect();
        assert_eq!(
            attached,
            [
                ("on_call", &[format!("uprobe:{bin}:ebl_target_add")][..]),
                (
                    "on_return",
                    &[format!("uretprobe:{bin}:ebl_target_add")][..]
                ),
                ("on_mark", &[format!("usdt:{bin}:ebl:mark")][..]),
            ]
        );
        let lines = output.json_lines();
        let snapshot = last_snapshot(&lines, "counter_probes");
        let values: Vec<u64> = snapshot["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["value"].as_u64().unwrap())
            .collect();
        assert_eq!(
            values,
            [CALLS, CALLS, CALLS],
            "calls, returns and USDT probe hits of one process: {snapshot}"
        );
        for program in &report.programs {
            assert_program_gone(program.id);
        }
    }
);

kernel_test!(
    programs_for_other_kernels_are_named_left_out_or_optional,
    [Need::Kernel],
    || {
        // sync_file_range2 is arm64's: on x86-64 its tracepoint does not exist.
        let arm64 = std::env::consts::ARCH == "aarch64";
        if !arm64 {
            let err = load_err("alternatives", &json_options(100));
            let text = err.to_string();
            assert!(matches!(err, LoadError::TracepointMissing { .. }), "{text}");
            assert!(
                text.contains("'on_sync_range2'")
                    && text.contains("syscalls/sys_enter_sync_file_range2")
                    && text.contains("--optional"),
                "{text}"
            );
            assert!(programs_named("on_syncfs").is_empty());
        }

        let sync = || {
            // `sync -f` calls syncfs(2).
            let status = Command::new("sync").args(["-f", "/"]).status().unwrap();
            assert!(status.success());
        };
        let optional = LoadOptions {
            optional: vec!["on_sync_range2".into()],
            ..json_options(1500)
        };
        let (report, (), lines) =
            load_while_triggering("alternatives", &optional, "ebl-syncfs", sync);
        let names: Vec<&str> = report.programs.iter().map(|p| p.name.as_str()).collect();
        if arm64 {
            assert_eq!(names, ["on_syncfs", "on_sync_range2"]);
        } else {
            assert_eq!(names, ["on_syncfs"]);
            assert!(
                report
                    .warnings
                    .iter()
                    .any(|w| w.contains("optional program 'on_sync_range2' was not loaded")),
                "{:?}",
                report.warnings
            );
        }
        let snapshot = last_snapshot(&lines, "counter_syncs");
        let syncs = snapshot["entries"][0]["value"].as_u64().unwrap();
        assert!(syncs >= 1, "{snapshot}");

        // --program keeps the other from being loaded at all, without a word.
        let only = LoadOptions {
            programs: vec!["on_syncfs".into()],
            ..json_options(100)
        };
        let report = load::load(
            &super::verified("alternatives", "alternatives.bpf.o"),
            &only,
            &mut Vec::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = report.programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["on_syncfs"]);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }
);

kernel_test!(
    kprobe_programs_need_a_function_and_a_kernel_with_kprobes,
    [Need::Kernel],
    || {
        // The bare SEC("kprobe") program is named before anything is loaded.
        let err = load_err("kprobes", &json_options(100));
        let text = err.to_string();
        assert!(
            text.contains("'on_bare'") && text.contains("--attach kprobe:FUNCTION"),
            "{text}"
        );
        assert!(programs_named("on_placeholder").is_empty());

        let kprobes = Path::new("/sys/bus/event_source/devices/kprobe/type").exists()
            || Path::new("/sys/kernel/tracing/kprobe_events").exists()
            || Path::new("/sys/kernel/debug/tracing/kprobe_events").exists();
        // A real function instead of the placeholder in the section.
        let options = LoadOptions {
            programs: vec!["on_placeholder".into()],
            attach: vec!["kprobe:do_sys_openat2".parse().unwrap()],
            ..json_options(300)
        };
        let result = load::load(
            &super::verified("kprobes", "kprobes.bpf.o"),
            &options,
            &mut Vec::new(),
        );
        if kprobes {
            let report = result.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(report.programs[0].attached_to, ["kprobe:do_sys_openat2"]);
        } else {
            // This kernel has no kprobes: said so, not "No such file or directory" alone.
            let err = result.unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, LoadError::KernelLacks { .. }), "{text}");
            assert!(
                text.contains("program 'on_placeholder' to kprobe:do_sys_openat2")
                    && text.contains("this kernel lacks kprobe support"),
                "{text}"
            );
            assert!(programs_named("on_placeholder").is_empty());
        }
    }
);

kernel_test!(
    maps_pinned_by_name_leave_nothing_in_bpffs_and_reuse_nothing,
    [Need::Kernel, Need::Bpffs],
    || {
        use libbpf_rs::MapCore as _;
        let by_name = Path::new(super::BPFFS).join("ebl_pinned_stats");
        let _ = std::fs::remove_file(&by_name);
        let scratch_left = || {
            std::fs::read_dir(super::BPFFS)
                .unwrap()
                .filter_map(|e| e.ok())
                .any(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("ebpf_layout_loading_{}_", std::process::id()))
                })
        };

        // Someone else's map pinned at the same name is neither reused nor touched.
        let opts = libbpf_rs::libbpf_sys::bpf_map_create_opts {
            sz: std::mem::size_of::<libbpf_rs::libbpf_sys::bpf_map_create_opts>() as _,
            ..Default::default()
        };
        let mut foreign = libbpf_rs::MapHandle::create(
            libbpf_rs::MapType::Array,
            Some("ebl_foreign"),
            4,
            8,
            1,
            &opts,
        )
        .unwrap();
        foreign
            .update(
                &0u32.to_ne_bytes(),
                &12345u64.to_ne_bytes(),
                libbpf_rs::MapFlags::ANY,
            )
            .unwrap();
        foreign.pin(&by_name).unwrap();
        let mut output = Output::default();
        let report = load::load(
            &super::verified("pinned_by_name", "pinned_by_name.bpf.o"),
            &json_options(300),
            &mut output,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let ours = report
            .maps
            .iter()
            .find(|m| m.name == "ebl_pinned_stats")
            .unwrap();
        let foreign_id = foreign.info().unwrap().info.id;
        assert_ne!(ours.id, foreign_id, "the pinned map must not be reused");
        let lines = output.json_lines();
        let value = &last_snapshot(&lines, "ebl_pinned_stats")["entries"][0]["value"];
        assert_ne!(value, 12345, "the load read the foreign map");
        let still = libbpf_rs::MapHandle::from_pinned_path(&by_name).unwrap();
        assert_eq!(still.info().unwrap().info.id, foreign_id);
        assert!(report
            .warnings
            .iter()
            .any(|w| w.contains("ebl_pinned_stats")));
        drop(still);
        std::fs::remove_file(&by_name).unwrap();
        drop(foreign);

        // Nothing of the load is left in bpffs.
        load::load(
            &super::verified("pinned_by_name", "pinned_by_name.bpf.o"),
            &json_options(100),
            &mut Vec::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!by_name.exists(), "{} was left behind", by_name.display());
        assert!(!scratch_left(), "a scratch folder was left in bpffs");

        // With --pin, the map lives under the pin folder, and unload removes it.
        let dir = PinDir::new("byname");
        let report = load::load(
            &super::verified("pinned_by_name", "pinned_by_name.bpf.o"),
            &LoadOptions {
                pin: Some(dir.0.clone()),
                detach: true,
                ..json_options(100)
            },
            &mut Vec::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let pin = dir.0.join("maps/ebl_pinned_stats");
        assert!(report.pinned.contains(&pin), "{:?}", report.pinned);
        assert!(!by_name.exists());
        let unloaded = load::unload(&dir.0).unwrap_or_else(|e| panic!("{e}"));
        assert!(unloaded.removed.contains(&pin), "{unloaded:?}");
        assert!(!dir.0.exists());
        assert!(!scratch_left());
    }
);

#[test]
fn pin_folder_named_with_a_dot_is_refused_with_bpffs_reason() {
    let err = load_err(
        "tp_counter",
        &LoadOptions {
            pin: Some(Path::new(super::BPFFS).join("tp_counter.bpf")),
            ..json_options(100)
        },
    );
    let text = err.to_string();
    assert!(matches!(err, LoadError::PinNameHasDot { .. }), "{text}");
    assert!(
        text.contains("bpffs refuses names containing '.'") && text.contains("tp_counter_bpf"),
        "{text}"
    );
}

/// `tc qdisc show dev IFACE`.
fn qdiscs(iface: &str) -> String {
    let out = Command::new("tc")
        .args(["qdisc", "show", "dev", iface])
        .output()
        .expect("running tc");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

kernel_test!(
    xdp_generic_mode_on_veth_and_tc_leaves_no_qdisc_of_ours,
    [Need::Kernel, Need::Tool("ip"), Need::Tool("tc")],
    || {
        let net = VethInNamespace::new("skb");
        let point = format!("xdp:{}:skb", net.outside);
        let options = LoadOptions {
            attach: vec![point.parse().unwrap()],
            ..json_options(3000)
        };
        let (report, (sent, generic), lines) =
            load_while_triggering("xdp_count", &options, "ebl-xdpskb", || {
                let out = Command::new("ip")
                    .args(["-d", "link", "show", "dev", &net.outside])
                    .output()
                    .unwrap();
                let generic = String::from_utf8_lossy(&out.stdout).contains("xdpgeneric");
                (net.send_packets(5).0, generic)
            });
        assert_eq!(report.programs[0].attached_to, [point.as_str()]);
        assert!(generic, "the program must run in generic (skb) mode");
        let count = last_snapshot(&lines, "counter_packets")["entries"][0]["value"]
            .as_u64()
            .unwrap();
        assert!(count >= sent, "counter_packets[0] = {count}, sent {sent}");
        assert!(!net.xdp_attached(), "XDP must be detached after the load");
        assert_program_gone(report.programs[0].id);

        // TC: the clsact qdisc load created goes with it; one that was there stays.
        assert!(!qdiscs(&net.outside).contains("clsact"));
        let tc = LoadOptions {
            attach: vec![format!("tc:{}:ingress", net.outside).parse().unwrap()],
            ..json_options(200)
        };
        load::load(
            &super::verified("tc_count", "tc_count.bpf.o"),
            &tc,
            &mut Vec::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let left = qdiscs(&net.outside);
        assert!(!left.contains("clsact"), "a clsact qdisc was left: {left}");

        let status = Command::new("tc")
            .args(["qdisc", "add", "dev", &net.outside, "clsact"])
            .status()
            .unwrap();
        assert!(status.success());
        load::load(
            &super::verified("tc_count", "tc_count.bpf.o"),
            &tc,
            &mut Vec::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let left = qdiscs(&net.outside);
        assert!(
            left.contains("clsact"),
            "someone else's qdisc was removed: {left}"
        );
    }
);

kernel_test!(
    fentry_refused_as_root_names_the_kernel_not_privileges,
    [Need::Kernel],
    || {
        // The bare fentry program needs a function, said before anything is loaded.
        let err = load_err("tracing", &json_options(100));
        assert!(
            err.to_string().contains("'on_any'")
                && err.to_string().contains("--attach fentry:FUNCTION"),
            "{err}"
        );
        let options = LoadOptions {
            attach: vec!["on_any=fentry:do_unlinkat".parse().unwrap()],
            ..json_options(200)
        };
        match load::load(
            &super::verified("tracing", "tracing.bpf.o"),
            &options,
            &mut Vec::new(),
        ) {
            // A kernel that allows fentry: both attach to do_unlinkat.
            Ok(report) => {
                for program in &report.programs {
                    assert_eq!(program.attached_to.len(), 1, "{report:?}");
                }
            }
            // Root was refused (lockdown here): the error says so instead of "needs root".
            Err(err) => {
                let text = err.to_string();
                assert!(matches!(err, LoadError::KernelRefused { .. }), "{text}");
                assert!(text.contains("although this process is root"), "{text}");
                assert!(!text.contains("needs root"), "{text}");
                assert!(programs_named("on_unlinkat").is_empty());
            }
        }
    }
);

kernel_test!(
    pinned_xdp_in_generic_mode_and_tc_qdisc_are_removed_by_unload,
    [
        Need::Kernel,
        Need::Bpffs,
        Need::Tool("ip"),
        Need::Tool("tc")
    ],
    || {
        let net = VethInNamespace::new("pinskb");
        // XDP in generic mode has no link to pin: unload detaches it through the manifest.
        let dir = PinDir::new("xdpskb");
        let point = format!("xdp:{}:skb", net.outside);
        let report = load::load(
            &super::verified("xdp_count", "xdp_count.bpf.o"),
            &LoadOptions {
                attach: vec![point.parse().unwrap()],
                pin: Some(dir.0.clone()),
                detach: true,
                ..json_options(100)
            },
            &mut Vec::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            net.xdp_attached(),
            "XDP must stay attached after a detached load"
        );
        let unloaded = load::unload(&dir.0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(unloaded.tc_detached, [point.as_str()], "{unloaded:?}");
        assert!(!net.xdp_attached(), "unload must detach XDP");
        assert_program_gone(report.programs[0].id);

        // The clsact qdisc created for a pinned TC filter goes with unload.
        let dir = PinDir::new("tcqdisc");
        load::load(
            &super::verified("tc_count", "tc_count.bpf.o"),
            &LoadOptions {
                attach: vec![format!("tc:{}:egress", net.outside).parse().unwrap()],
                pin: Some(dir.0.clone()),
                detach: true,
                ..json_options(100)
            },
            &mut Vec::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(qdiscs(&net.outside).contains("clsact"));
        load::unload(&dir.0).unwrap_or_else(|e| panic!("{e}"));
        let left = qdiscs(&net.outside);
        assert!(!left.contains("clsact"), "unload left the qdisc: {left}");
    }
);

/// Spins on this thread for `time` (a perf event that samples CPU time needs some).
fn burn_cpu(time: std::time::Duration) -> u64 {
    let start = std::time::Instant::now();
    let mut x: u64 = 1;
    while start.elapsed() < time {
        for _ in 0..10_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    x
}

/// The samples `perf_sample`'s `counter_samples` counted, from its last snapshot.
fn samples(lines: &[Value]) -> u64 {
    let snapshot = last_snapshot(lines, "counter_samples");
    assert_eq!(snapshot["kind"], "counter", "{snapshot}");
    snapshot["entries"][0]["value"].as_u64().unwrap()
}

kernel_test!(
    perf_event_program_samples_cpu_clock_on_every_cpu_and_for_one_thread,
    [Need::Kernel],
    || {
        let _serial = crate::kit::kernel::serial();
        // The bare SEC("perf_event") program says which --attach it needs; nothing loaded.
        let err = load_err("perf_sample", &json_options(100));
        let text = err.to_string();
        assert!(matches!(err, LoadError::NeedsAttachTarget { .. }), "{text}");
        assert!(
            text.contains("'on_sample'") && text.contains("perf:EVENT[:FREQ]"),
            "{text}"
        );
        // Links to perf events are not pinned.
        let err = load_err(
            "perf_sample",
            &LoadOptions {
                attach: vec!["perf:cpu-clock".parse().unwrap()],
                // Refused before the folder is looked at.
                pin: Some(PathBuf::from("/sys/fs/bpf/ebpf-layout-test-perf-never")),
                ..json_options(100)
            },
        );
        assert!(matches!(err, LoadError::PerfNotPinnable { .. }), "{err}");
        assert!(err.to_string().contains("perf:cpu-clock:49"), "{err}");
        assert!(programs_named("on_sample").is_empty());

        // Above the kernel's sample rate limit: EINVAL, with the limit named.
        let max: u64 = std::fs::read_to_string("/proc/sys/kernel/perf_event_max_sample_rate")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        if max < 1_000_000 {
            let err = load_err(
                "perf_sample",
                &LoadOptions {
                    attach: vec!["perf:cpu-clock:1000000".parse().unwrap()],
                    ..json_options(100)
                },
            );
            let text = err.to_string();
            assert!(
                text.contains("'on_sample' to perf:cpu-clock:1000000")
                    && text.contains(&format!("limit of {max} samples a second")),
                "{text}"
            );
            assert!(programs_named("on_sample").is_empty());
        }

        // Every online CPU, 999 samples a second: a second of CPU on one thread is seen.
        let options = LoadOptions {
            attach: vec!["perf:cpu-clock:999".parse().unwrap()],
            ..json_options(2000)
        };
        let (report, _, lines) = load_while_triggering("perf_sample", &options, "ebl-burn", || {
            burn_cpu(std::time::Duration::from_secs(1))
        });
        let program = &report.programs[0];
        assert_eq!(program.name, "on_sample");
        assert_eq!(program.prog_type, "perf_event");
        assert_eq!(program.attached_to, ["perf:cpu-clock:999"]);
        let counted = samples(&lines);
        // ~999 from the burning thread alone; far fewer would mean it was not sampled.
        assert!(counted >= 300, "counter_samples[0] = {counted}");
        assert_program_gone(program.id);

        // --pid: only that thread is sampled (perf's pid is a thread id).
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let burner = std::thread::Builder::new()
            .name("ebl-burn-pid".into())
            .spawn(move || {
                tid_tx.send(nix::unistd::gettid().as_raw()).unwrap();
                burn_cpu(std::time::Duration::from_millis(2500))
            })
            .unwrap();
        let tid = tid_rx.recv().unwrap();
        let mut output = Output::default();
        let report = load::load(
            &super::verified("perf_sample", "perf_sample.bpf.o"),
            &LoadOptions {
                attach: vec!["on_sample=perf:task-clock:999".parse().unwrap()],
                pid: Some(tid),
                ..json_options(1000)
            },
            &mut output,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        burner.join().unwrap();
        assert_eq!(report.programs[0].attached_to, ["perf:task-clock:999"]);
        let counted = samples(&output.json_lines());
        assert!(counted >= 100, "counter_samples[0] = {counted}");
        assert_program_gone(report.programs[0].id);
    }
);

kernel_test!(
    hardware_perf_events_attach_or_say_the_machine_has_no_counter,
    [Need::Kernel],
    || {
        let _serial = crate::kit::kernel::serial();
        for event in ["cycles", "instructions", "cache-misses", "cache-references"] {
            let point = format!("perf:{event}:99");
            let result = load::load(
                &super::verified("perf_sample", "perf_sample.bpf.o"),
                &LoadOptions {
                    attach: vec![point.parse().unwrap()],
                    ..json_options(100)
                },
                &mut Vec::new(),
            );
            match result {
                // This machine has a PMU with the event.
                Ok(report) => {
                    assert_eq!(report.programs[0].attached_to, [point.as_str()]);
                    assert_program_gone(report.programs[0].id);
                }
                Err(err) => {
                    let text = err.to_string();
                    assert!(matches!(err, LoadError::NoHardwareCounter { .. }), "{text}");
                    assert!(
                        text.contains(&format!("program 'on_sample' to {point}"))
                            && text.contains(&format!(
                                "this machine has no hardware counter for {event}"
                            )),
                        "{text}"
                    );
                    assert!(programs_named("on_sample").is_empty());
                }
            }
        }
    }
);
