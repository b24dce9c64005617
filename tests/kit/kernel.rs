//! The one kernel gate, and what kernel tests share: the lock for tests that count programs
//! by name, the count itself, and waiting for the kernel to catch up.
//!
//! The rule: a kernel test may skip only when the machine cannot run it, and says why
//! (`SKIPPED <test>: <reason>`). `EBPF_LAYOUT_REQUIRE_KERNEL=1` turns every such skip into a
//! failure; a missing tool is also a failure under `EBPF_LAYOUT_REQUIRE_ALL=1`, as it is for
//! every other test (`.ci/run` sets both).

use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Turns every kernel-test skip into a failure when set to `1`.
const REQUIRE_KERNEL: &str = "EBPF_LAYOUT_REQUIRE_KERNEL";
/// Turns every missing-tool skip into a failure when set to `1`.
const REQUIRE_ALL: &str = "EBPF_LAYOUT_REQUIRE_ALL";
/// Where bpffs is mounted.
pub const BPFFS: &str = "/sys/fs/bpf";

/// Something a kernel test needs from the machine.
#[derive(Clone, Copy, Debug)]
pub enum Need {
    /// Root, a kernel with BPF, and tracefs with the syscall tracepoints (mounted if it can be).
    Kernel,
    /// bpffs at /sys/fs/bpf (mounted if it can be), for pinning.
    Bpffs,
    /// A program on PATH.
    Tool(&'static str),
}

impl Need {
    /// Why this machine does not meet the need, if it does not.
    fn missing(self) -> Option<String> {
        match self {
            Need::Kernel => missing_kernel_support(),
            Need::Bpffs => missing_bpffs(),
            Need::Tool(tool) => (!installed(tool)).then(|| format!("`{tool}` is not installed")),
        }
    }
}

/// True if the machine meets every need of `test`. Otherwise prints why and returns false,
/// or panics when the environment forbids skipping (see the module's rule).
pub fn can_run(test: &str, needs: &[Need]) -> bool {
    for need in needs {
        let Some(reason) = need.missing() else {
            continue;
        };
        let forbidden_by = if required(REQUIRE_KERNEL) {
            Some(REQUIRE_KERNEL)
        } else if matches!(need, Need::Tool(_)) && required(REQUIRE_ALL) {
            Some(REQUIRE_ALL)
        } else {
            None
        };
        if let Some(variable) = forbidden_by {
            panic!("{test}: cannot run here ({reason}), and {variable}=1 forbids skipping");
        }
        eprintln!("SKIPPED {test}: {reason}");
        return false;
    }
    true
}

fn required(variable: &str) -> bool {
    std::env::var(variable).as_deref() == Ok("1")
}

/// A test that drives the kernel, named once: the macro passes the test's own name
/// (`stringify!`) to the gate and to what it prints.
///
/// `kernel_test!(name, [Need::Kernel, …], || { … })` runs the body only if the machine meets
/// every need. `kernel_test!(name, |test| { … })` hands the body its name, for tests that
/// check [`can_run`] themselves part way through.
macro_rules! kernel_test {
    ($name:ident, [$($need:expr),* $(,)?], $body:expr) => {
        #[test]
        fn $name() {
            let body: fn() = $body;
            if $crate::kit::kernel::can_run(stringify!($name), &[$($need),*]) {
                body();
            }
        }
    };
    ($name:ident, $body:expr) => {
        #[test]
        fn $name() {
            let body: fn(&'static str) = $body;
            body(stringify!($name));
        }
    };
}
pub(crate) use kernel_test;

/// Serialises the tests that count programs by name (and the tests that load programs so
/// named), so that no other test's program is counted. Tests without such counts run in
/// parallel.
///
/// Once it holds the lock, it waits for the kernel to settle: programs that the previous
/// test let go of are freed a little later (their links are released after an RCU grace
/// period), and a count taken while they are still listed would be off by them.
pub fn serial() -> MutexGuard<'static, ()> {
    static KERNEL: Mutex<()> = Mutex::new(());
    let guard = KERNEL.lock().unwrap_or_else(|e| e.into_inner());
    let ids = || -> Vec<u32> {
        libbpf_rs::query::ProgInfoIter::default()
            .map(|p| p.id)
            .collect()
    };
    let start = Instant::now();
    let mut last = ids();
    let mut same = 0;
    // Settled: the same programs at four looks 50 ms apart (at most 3 s).
    while same < 3 && start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(50));
        let now = ids();
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
    guard
}

/// The ids of the programs the kernel has loaded under `name` (the kernel keeps the first
/// 15 bytes of a program's name).
pub fn programs_named(name: &str) -> Vec<u32> {
    libbpf_rs::query::ProgInfoIter::default()
        .filter(|p| p.name == name)
        .map(|p| p.id)
        .collect()
}

/// Waits until `condition` holds, failing after 5 s with "timed out waiting for `what`".
/// The kernel frees programs after an RCU grace period, so their count changes a little
/// after the last reference goes.
pub fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `tool` is on PATH.
pub fn installed(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Why this machine cannot load and attach BPF programs, if it cannot.
fn missing_kernel_support() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("loading BPF programs needs root".into());
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() && !Path::new(BPFFS).exists() {
        return Some("the kernel has no BPF support (no /sys/fs/bpf, no BTF)".into());
    }
    if !Path::new("/sys/kernel/tracing/events/syscalls").is_dir()
        && !Path::new("/sys/kernel/debug/tracing/events/syscalls").is_dir()
    {
        // Try to mount tracefs, as an administrator would.
        let _ = Command::new("mount")
            .args(["-t", "tracefs", "tracefs", "/sys/kernel/tracing"])
            .status();
        if !Path::new("/sys/kernel/tracing/events/syscalls").is_dir() {
            return Some("tracefs with syscall tracepoints is not available".into());
        }
    }
    None
}

/// Why bpffs is not mounted at /sys/fs/bpf, if it is not (mounting it if not, as root may).
fn missing_bpffs() -> Option<String> {
    let mounted = || {
        std::fs::read_to_string("/proc/self/mounts")
            .unwrap_or_default()
            .lines()
            .any(|l| {
                l.split_whitespace().nth(1) == Some(BPFFS)
                    && l.split_whitespace().nth(2) == Some("bpf")
            })
    };
    if !mounted() {
        let _ = Command::new("mount")
            .args(["-t", "bpf", "bpf", BPFFS])
            .status();
    }
    (!mounted()).then(|| format!("bpffs is not mounted at {BPFFS} and could not be mounted"))
}
