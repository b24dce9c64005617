//! Perf events for `SEC("perf_event")` programs (`--attach perf:EVENT[:FREQ]`): which
//! events there are, and opening one with `perf_event_open(2)`.

use std::fmt;
use std::io;
use std::os::fd::{FromRawFd as _, OwnedFd};

use serde::{Deserialize, Serialize};

/// The sampling frequency (per second, per CPU) when `perf:EVENT` gives none.
pub const DEFAULT_FREQ: u64 = 49;

/// `PERF_TYPE_HARDWARE`.
const TYPE_HARDWARE: u32 = 0;
/// `PERF_TYPE_SOFTWARE`.
const TYPE_SOFTWARE: u32 = 1;
/// `perf_event_attr.freq`: the sample field is a frequency, not a period (bit 10 of the
/// flags word).
const FLAG_FREQ: u64 = 1 << 10;
/// `PERF_FLAG_FD_CLOEXEC`.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;

/// An event a perf_event program can sample on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PerfEvent {
    /// Software CPU clock (`cpu-clock`): works everywhere, also in VMs.
    CpuClock,
    /// Software clock of the task (`task-clock`).
    TaskClock,
    /// Hardware CPU cycles (`cycles`).
    Cycles,
    /// Hardware retired instructions (`instructions`).
    Instructions,
    /// Hardware last-level cache misses (`cache-misses`).
    CacheMisses,
    /// Hardware last-level cache references (`cache-references`).
    CacheReferences,
}

impl PerfEvent {
    /// Every event, with its name on the command line.
    pub const ALL: [(PerfEvent, &'static str); 6] = [
        (PerfEvent::CpuClock, "cpu-clock"),
        (PerfEvent::TaskClock, "task-clock"),
        (PerfEvent::Cycles, "cycles"),
        (PerfEvent::Instructions, "instructions"),
        (PerfEvent::CacheMisses, "cache-misses"),
        (PerfEvent::CacheReferences, "cache-references"),
    ];

    /// The event named `name`.
    pub fn from_name(name: &str) -> Option<PerfEvent> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(e, _)| *e)
    }

    /// Whether the event is counted by the CPU's PMU (absent in most VMs).
    pub fn is_hardware(self) -> bool {
        self.type_and_config().0 == TYPE_HARDWARE
    }

    /// `perf_event_attr.type` and `.config`.
    fn type_and_config(self) -> (u32, u64) {
        match self {
            PerfEvent::CpuClock => (TYPE_SOFTWARE, 0), // PERF_COUNT_SW_CPU_CLOCK
            PerfEvent::TaskClock => (TYPE_SOFTWARE, 1), // PERF_COUNT_SW_TASK_CLOCK
            PerfEvent::Cycles => (TYPE_HARDWARE, 0),   // PERF_COUNT_HW_CPU_CYCLES
            PerfEvent::Instructions => (TYPE_HARDWARE, 1), // PERF_COUNT_HW_INSTRUCTIONS
            PerfEvent::CacheReferences => (TYPE_HARDWARE, 2), // PERF_COUNT_HW_CACHE_REFERENCES
            PerfEvent::CacheMisses => (TYPE_HARDWARE, 3), // PERF_COUNT_HW_CACHE_MISSES
        }
    }
}

impl fmt::Display for PerfEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Self::ALL
            .iter()
            .find(|(e, _)| e == self)
            .map(|(_, n)| *n)
            .unwrap_or("?");
        f.write_str(name)
    }
}

/// `struct perf_event_attr` up to `PERF_ATTR_SIZE_VER0` (64 bytes), the size every kernel
/// with perf events accepts; the fields after it are zero for the kernel.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    type_: u32,
    size: u32,
    config: u64,
    sample_period_or_freq: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

/// Opens a sampling perf event: `event` sampled `freq` times a second, on `cpu` (all
/// processes, `pid` -1) or for process `pid` on every CPU (`cpu` -1). The event is enabled
/// from the start; a BPF program attached to it runs at every sample.
pub fn open(event: PerfEvent, freq: u64, pid: i32, cpu: i32) -> io::Result<OwnedFd> {
    let (type_, config) = event.type_and_config();
    let attr = PerfEventAttr {
        type_,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config,
        sample_period_or_freq: freq,
        flags: FLAG_FREQ,
        ..PerfEventAttr::default()
    };
    perf_event_open(&attr, pid, cpu)
}

/// The raw system call (libc has no wrapper for it).
#[allow(unsafe_code)]
fn perf_event_open(attr: &PerfEventAttr, pid: i32, cpu: i32) -> io::Result<OwnedFd> {
    // SAFETY: `attr` is a live, fully initialised `#[repr(C)]` struct laid out as the
    // kernel's perf_event_attr (version 0) with `size` set to its own size, so the kernel
    // reads exactly that many bytes and nothing past it; it does not keep the pointer.
    // The other arguments are plain integers (group fd -1: no group).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *const PerfEventAttr,
            pid as libc::c_int,
            cpu as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd =
        i32::try_from(ret).map_err(|_| io::Error::other("perf_event_open: fd out of range"))?;
    // SAFETY: the kernel just returned `fd` as a new file descriptor that nothing else
    // owns; it is wrapped at once so that it is closed exactly once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `kernel.perf_event_max_sample_rate`: the highest frequency perf_event_open accepts.
pub fn max_sample_rate() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_max_sample_rate")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The online CPUs, from `/sys/devices/system/cpu/online` (`0-3,6,8-9`).
pub fn online_cpus() -> io::Result<Vec<i32>> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online")?;
    parse_cpu_list(text.trim()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("cannot read the CPU list '{}'", text.trim()),
        )
    })
}

/// Parses a kernel CPU list (`0-3,6`).
fn parse_cpu_list(text: &str) -> Option<Vec<i32>> {
    let mut cpus = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (i32, i32) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    (!cpus.is_empty()).then_some(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_is_the_kernels_version_0_size() {
        assert_eq!(std::mem::size_of::<PerfEventAttr>(), 64);
    }

    #[test]
    fn cpu_lists_parse() {
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("0-3,6,8-9"), Some(vec![0, 1, 2, 3, 6, 8, 9]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(parse_cpu_list(""), None);
    }

    #[test]
    fn event_names_round_trip() {
        for (event, name) in PerfEvent::ALL {
            assert_eq!(PerfEvent::from_name(name), Some(event));
            assert_eq!(event.to_string(), name);
        }
        assert!(!PerfEvent::CpuClock.is_hardware());
        assert!(PerfEvent::CacheMisses.is_hardware());
    }
}
