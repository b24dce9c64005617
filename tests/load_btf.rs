//! Loading with kernel BTF bundled beside the image (issue #18, docs/btf.md), on the real
//! kernel: this machine's own BTF is packed, then forced as the bundled one
//! (`BtfSource::Bundled`, what `load --kernel-btf bundled` does), so the CO-RE relocation
//! of `core_tgid` is resolved against the bundled bytes, not the kernel's.

use std::path::{Path, PathBuf};

use ebpf_layout::kernel_btf::{KernelBtfOptions, KernelBtfSpec};
use ebpf_layout::load;
use ebpf_layout::pack::{pack, PackOptions};
use ebpf_layout::trust::{open_program, with_kernel_btf, BtfSource, Trust};

use super::kit::kernel::{kernel_test, Need};
use super::{json_options, last_snapshot, Output};

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn testdata_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

fn this_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap()
        .trim()
        .to_string()
}

/// bpftool as Debian installs it (/usr/sbin), else from PATH.
fn bpftool() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/bpftool");
    if sbin.is_file() {
        sbin
    } else {
        PathBuf::from("bpftool")
    }
}

/// Whether the machine has what bundling needs besides the kernel: its BTF to bundle.
fn has_vmlinux(test: &str) -> bool {
    let present = Path::new(VMLINUX).exists();
    if !present {
        // The same rule as every kernel test: a skip says why, and CI forbids it.
        assert!(
            std::env::var("EBPF_LAYOUT_REQUIRE_KERNEL").as_deref() != Ok("1"),
            "{test}: {VMLINUX} is missing and EBPF_LAYOUT_REQUIRE_KERNEL=1"
        );
        eprintln!("SKIPPED {test}: no {VMLINUX} to bundle");
    }
    present
}

/// Packs `object` into a new layout under `dir`, with this kernel's BTF minimised for
/// `btf_for` (the same object, or another one) bundled for this kernel's release.
fn layout_with_bundled_btf(dir: &Path, object: &str, btf_for: &str) -> PathBuf {
    let out = dir.join("bundle");
    let release = this_release();
    let kernel_btf = KernelBtfOptions {
        specs: vec![KernelBtfSpec::File {
            release: release.clone(),
            path: VMLINUX.into(),
        }],
        bpftool: bpftool(),
    };
    pack(&PackOptions {
        inputs: vec![testdata_path(object)],
        output: out.clone(),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    // Minimised for `btf_for`, stored beside `object`'s image.
    let minimised = ebpf_layout::kernel_btf::minimise_all(&kernel_btf, &[&testdata_path(btf_for)])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut writer = ebpf_layout::layout::LayoutWriter::open_or_create(&out).unwrap();
    let image = writer
        .index()
        .manifests
        .iter()
        .find(|d| d.ref_name() == Some(object.trim_end_matches(".bpf.o")))
        .unwrap()
        .clone();
    ebpf_layout::kernel_btf::add_to_layout(&mut writer, &image, &minimised[0]).unwrap();
    writer.commit().unwrap();
    out
}

fn open(
    layout: &Path,
    name: &str,
    choice: BtfSource,
) -> ebpf_layout::trust::Result<ebpf_layout::program::VerifiedProgram> {
    let source = ebpf_layout::source::open(layout)?;
    let program = open_program(
        source.as_ref(),
        name,
        &ebpf_layout::oci::Selector::Name(name.into()),
        None,
        &Trust::AcceptUnsigned,
    )?;
    with_kernel_btf(
        source.as_ref(),
        program,
        choice,
        &this_release(),
        Path::new(VMLINUX).exists(),
    )
}

kernel_test!(
    bundled_btf_for_this_kernel_relocates_a_core_read_that_then_counts,
    [Need::Kernel, Need::Tool("bpftool")],
    || {
        if !has_vmlinux("bundled_btf_for_this_kernel_relocates_a_core_read_that_then_counts") {
            return;
        }
        const CALLS: u64 = 25;
        let dir = tempfile::tempdir().unwrap();
        let layout = layout_with_bundled_btf(dir.path(), "core_tgid.bpf.o", "core_tgid.bpf.o");
        let program =
            open(&layout, "core_tgid", BtfSource::Bundled).unwrap_or_else(|e| panic!("{e}"));
        let btf = program.kernel_btf().expect("the bundled BTF is chosen");
        assert_eq!(btf.release(), this_release());
        assert!(btf.bytes().len() < 4096, "{} bytes", btf.bytes().len());

        let mut output = Output::default();
        let trigger = output.after_attach("ebl-core-tgid", || {
            for _ in 0..CALLS {
                let _ = nix::unistd::getpid();
            }
        });
        let report = load::load(&program, &json_options(1500), &mut output)
            .unwrap_or_else(|e| panic!("{e}"));
        trigger.join().unwrap();
        assert_eq!(report.programs[0].name, "core_tgid");
        let lines = output.json_lines();
        let snapshot = last_snapshot(&lines, "counter_core_tgid");
        let entries = snapshot["entries"].as_array().unwrap();
        let value = |key: u64| {
            entries
                .iter()
                .find(|e| e["key"] == key)
                .and_then(|e| e["value"].as_u64())
                .unwrap_or(0)
        };
        // Slot 0: CO-RE reads of task_struct->tgid that equal the helper's tgid; slot 1:
        // reads at a wrong offset. The relocation came from the bundled BTF.
        assert!(value(0) >= CALLS, "{snapshot}");
        assert_eq!(value(1), 0, "{snapshot}");
    }
);

kernel_test!(
    bundled_btf_minimised_for_another_object_makes_the_load_fail,
    [Need::Kernel, Need::Tool("bpftool")],
    || {
        if !has_vmlinux("bundled_btf_minimised_for_another_object_makes_the_load_fail") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        // tp_counter has no CO-RE relocations: its minimised BTF lacks task_struct.
        let layout = layout_with_bundled_btf(dir.path(), "core_tgid.bpf.o", "tp_counter.bpf.o");
        let program =
            open(&layout, "core_tgid", BtfSource::Bundled).unwrap_or_else(|e| panic!("{e}"));
        let err = load::load(&program, &json_options(200), &mut Vec::new())
            .expect_err("task_struct is not in the bundled BTF, so the relocation cannot resolve");
        let text = err.to_string();
        assert!(
            text.contains("task_struct") || text.contains("CO-RE") || text.contains("relo"),
            "{text}"
        );
        // The same image with the kernel's own BTF loads: the bundled BTF made the difference.
        let program =
            open(&layout, "core_tgid", BtfSource::Kernel).unwrap_or_else(|e| panic!("{e}"));
        assert!(program.kernel_btf().is_none());
        load::load(&program, &json_options(200), &mut Vec::new()).unwrap_or_else(|e| panic!("{e}"));
    }
);

kernel_test!(
    load_says_it_uses_the_bundled_btf,
    [Need::Kernel, Need::Tool("bpftool")],
    || {
        if !has_vmlinux("load_says_it_uses_the_bundled_btf") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let layout = layout_with_bundled_btf(dir.path(), "core_tgid.bpf.o", "core_tgid.bpf.o");
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("ebpf-layout"))
            .arg("load")
            .arg(format!("{}:core_tgid", layout.display()))
            .args(["--kernel-btf", "bundled", "--duration", "0.3", "--json"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "using the image's bundled BTF for kernel {}",
                this_release()
            )),
            "{stderr}"
        );
        // auto on a kernel with its own BTF uses the kernel's, and says nothing.
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("ebpf-layout"))
            .arg("load")
            .arg(format!("{}:core_tgid", layout.display()))
            .args(["--duration", "0.3", "--json"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("bundled BTF"), "{stderr}");
    }
);
