//! The error type of loading, attaching, pinning and unloading.
//!
//! Every variant carries what went wrong, on what, and (where there is one) the fix.
//! Errors that come from libbpf keep libbpf's own words (captured from its print
//! callback) and the kernel's errno spelled out, never a bare "Unknown error 4001".

use std::path::PathBuf;

/// The privilege message shared by every "not permitted" error.
pub(crate) const PRIVILEGE_HINT: &str =
    "loading eBPF needs root, or CAP_BPF and CAP_PERFMON (and CAP_NET_ADMIN for XDP/TC)";

/// Why loading, attaching, pinning, displaying or unloading failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are not a BPF ELF object (not ELF at all, or an ELF for another machine).
    #[error("the object is not a BPF program: {reason}")]
    NotBpf {
        /// What was found instead (e.g. "ELF machine 62 (x86-64), expected 247 (BPF)").
        reason: String,
    },

    /// The object was compiled for the other byte order than this machine's.
    #[error(
        "the object is {object}-endian BPF but this machine is {host}-endian: \
         rebuild it with `clang -target bpf` on (or for) this architecture"
    )]
    WrongEndianness {
        /// The object's byte order ("big" or "little").
        object: &'static str,
        /// This machine's byte order.
        host: &'static str,
    },

    /// The kernel refused an operation for lack of privileges (EPERM).
    #[error("{action}: operation not permitted: {hint}", hint = PRIVILEGE_HINT)]
    NotPrivileged {
        /// What was being done (e.g. "creating map 'counter_getpid'").
        action: String,
    },

    /// The kernel's verifier rejected a program; `log` holds the verifier's own words.
    #[error("the kernel verifier rejected program '{program}':\n{log}")]
    VerifierRejected {
        /// The program's name.
        program: String,
        /// The relevant end of the verifier log (the lines that say why).
        log: String,
    },

    /// The object needs the kernel's BTF (CO-RE relocations, BTF-typed attach points)
    /// and this kernel has none.
    #[error(
        "the object needs the kernel's BTF (/sys/kernel/btf/vmlinux), which this kernel does \
         not provide: use a kernel built with CONFIG_DEBUG_INFO_BTF=y{detail}"
    )]
    KernelBtfMissing {
        /// libbpf's words, prefixed with ": ", or empty.
        detail: String,
    },

    /// The pin folder is not on a BPF filesystem.
    #[error(
        "{path} is not on a BPF filesystem (bpffs): pin under a bpffs mount, e.g. /sys/fs/bpf \
         (mount it with `mount -t bpf bpf /sys/fs/bpf`)"
    )]
    BpffsNotMounted {
        /// The folder that was asked for.
        path: PathBuf,
    },

    /// The pin folder already holds something.
    #[error("pin folder {path} is already in use ({detail}): choose an empty or new folder{hint}")]
    PinDirInUse {
        /// The folder.
        path: PathBuf,
        /// What is in it.
        detail: String,
        /// Extra advice (", or run `ebpf-layout unload …` first"), or empty.
        hint: String,
    },

    /// `unload` was pointed at a folder that `load --pin` did not create.
    #[error(
        "{path} was not created by `ebpf-layout load --pin` (no manifest {manifest} in it): \
         refusing to remove anything there"
    )]
    NotAPinDir {
        /// The folder.
        path: PathBuf,
        /// The manifest's file name that was looked for.
        manifest: &'static str,
    },

    /// The pin folder's manifest could not be read or understood.
    #[error("the pin manifest {path} is unreadable: {reason}")]
    Manifest {
        /// The manifest's path.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// `--detach` was asked for without `--pin`.
    #[error(
        "--detach needs --pin DIR: without pins, the programs would be detached when this \
         process exits"
    )]
    DetachRequiresPin,

    /// The named network interface does not exist (in this network namespace).
    #[error("network interface '{iface}' not found{detail}")]
    InterfaceNotFound {
        /// The interface name.
        iface: String,
        /// Extra detail (", it was needed for --attach xdp:eth9"), or empty.
        detail: String,
    },

    /// A tracepoint program cannot attach because tracefs is not mounted.
    #[error(
        "program '{program}' attaches to a tracepoint, but tracefs is not mounted at \
         /sys/kernel/tracing (nor /sys/kernel/debug/tracing): mount it with \
         `mount -t tracefs tracefs /sys/kernel/tracing`"
    )]
    TracefsNotMounted {
        /// The program that needs it.
        program: String,
    },

    /// `--program NAME` named a program that the object does not have.
    #[error("the object has no program named '{name}' (it has: {available})")]
    UnknownProgram {
        /// The unknown name.
        name: String,
        /// The object's program names, comma-separated.
        available: String,
    },

    /// An `--attach` argument could not be parsed.
    #[error(
        "invalid attach point '{input}': {reason} (expected [PROGRAM=]POINT, POINT one of \
         xdp:IFACE[:skb|drv|hw], tc:IFACE:ingress|egress, uprobe:BINARY:FUNCTION[+OFFSET], \
         uretprobe:BINARY:FUNCTION[+OFFSET], usdt:BINARY:PROVIDER:NAME, kprobe:FUNCTION, \
         kretprobe:FUNCTION, fentry:FUNCTION, fexit:FUNCTION, tracepoint:CATEGORY:NAME, \
         perf:EVENT[:FREQ])"
    )]
    InvalidAttachPoint {
        /// The argument as given.
        input: String,
        /// Which part is wrong, and why.
        reason: String,
    },

    /// An `--attach` point has no loaded program of its kind.
    #[error("--attach {point}: no {kind} program is loaded{detail}")]
    NoProgramForAttachPoint {
        /// The attach point.
        point: String,
        /// "XDP" or "TC".
        kind: &'static str,
        /// Extra detail (the loaded programs), or empty.
        detail: String,
    },

    /// An `--attach` point matches several loaded programs.
    #[error(
        "--attach {point}: several {kind} programs are loaded ({programs}): name one with --attach PROGRAM={point}"
    )]
    AmbiguousAttachPoint {
        /// The attach point.
        point: String,
        /// "XDP" or "TC".
        kind: &'static str,
        /// The candidates, comma-separated.
        programs: String,
    },

    /// A program needs an attach target that was not given.
    #[error(
        "program '{program}' ({kind}) names no target in its section: attach it with \
         --attach {example} (or --attach {program}={example} when several programs fit), \
         mark it --optional, or leave it out with --program OTHER"
    )]
    NeedsAttachTarget {
        /// The program.
        program: String,
        /// "XDP", "TC", "uprobe", "usdt", "kprobe", …
        kind: String,
        /// An example attach argument.
        example: &'static str,
    },

    /// `--attach PROGRAM=POINT` named a program of a kind that cannot go there.
    #[error("--attach {point}: program '{program}' cannot attach there: {detail}")]
    WrongProgramForAttachPoint {
        /// The argument.
        point: String,
        /// The program.
        program: String,
        /// Its kind and section.
        detail: String,
    },

    /// A tracepoint program's tracepoint does not exist on this kernel.
    #[error(
        "program '{program}' attaches to tracepoint {tracepoint}, which this kernel does not \
         have (a syscall of another architecture, or a subsystem not built in): mark it \
         --optional, or leave it out with --program OTHER"
    )]
    TracepointMissing {
        /// The program.
        program: String,
        /// `CATEGORY/NAME`.
        tracepoint: String,
    },

    /// The kernel lacks a feature the attachment needs.
    #[error("cannot attach program '{program}' to {target}: this kernel lacks {what}\nlibbpf said: {libbpf}")]
    KernelLacks {
        /// The program.
        program: String,
        /// Where it was going.
        target: String,
        /// What the kernel lacks, and how to tell.
        what: String,
        /// libbpf's (and the kernel's) own words.
        libbpf: String,
    },

    /// A hardware perf event was asked for on a machine without a PMU for it.
    #[error(
        "cannot attach program '{program}' to {target}: this machine has no hardware counter \
         for {event} (no PMU for it, as in most VMs; perf:cpu-clock samples in software)\n\
         perf_event_open said: {reason}"
    )]
    NoHardwareCounter {
        /// The program.
        program: String,
        /// Where it was going.
        target: String,
        /// The event.
        event: String,
        /// The kernel's words.
        reason: String,
    },

    /// `--pin` with a perf attachment.
    #[error(
        "--attach {point} cannot be pinned: libbpf disables a perf event when the loading \
         process lets go of its link, so a pinned link would sit there sampling nothing; \
         load it without --pin (it samples until ebpf-layout stops)"
    )]
    PerfNotPinnable {
        /// The perf attach point.
        point: String,
    },

    /// The kernel refused an operation although this process is root (kernel lockdown,
    /// a security module).
    #[error("{action}: operation not permitted, although this process is root: {reason}{detail}")]
    KernelRefused {
        /// What was being done.
        action: String,
        /// Why, as far as can be told.
        reason: String,
        /// libbpf's words, after a newline, or empty.
        detail: String,
    },

    /// libbpf knows no attach point for a program's section, and `--attach` has no form
    /// for it.
    #[error(
        "program '{program}' (section {section}) cannot be attached by libbpf from its \
         section, and --attach has no form for it: mark it --optional to load it unattached, \
         or leave it out with --program OTHER"
    )]
    CannotAttach {
        /// The program.
        program: String,
        /// Its section.
        section: String,
    },

    /// `--global NAME=VALUE` named a variable the object does not have.
    #[error("--global {name}: the object has no global variable '{name}' ({available})")]
    UnknownGlobal {
        /// The name given.
        name: String,
        /// "it has: a, b" or "it has none".
        available: String,
    },

    /// `--global NAME=VALUE` gave a value the variable's type does not take.
    #[error("--global {name}={value}: {reason}")]
    InvalidGlobal {
        /// The variable.
        name: String,
        /// The value given.
        value: String,
        /// Why, naming the variable's type.
        reason: String,
    },

    /// `--map-max-entries MAP=N` or `--map NAME` named a map the object does not have.
    #[error("{option} {name}: the object has no map '{name}' (it has: {available})")]
    UnknownMap {
        /// The option (`--map-max-entries`, `--map`).
        option: &'static str,
        /// The name given.
        name: String,
        /// The object's maps.
        available: String,
    },

    /// A map is declared without a size, for its user space to set.
    #[error(
        "map '{map}' ({map_type}) has max_entries 0: its user space is expected to size it; \
         give --map-max-entries {map}=N"
    )]
    MapNeedsSize {
        /// The map.
        map: String,
        /// Its type.
        map_type: String,
    },

    /// A pin folder's name contains a character bpffs refuses.
    #[error(
        "pin folder {path}: bpffs refuses names containing '.' (it answers EPERM): choose a \
         name without dots, e.g. {suggestion}"
    )]
    PinNameHasDot {
        /// The folder.
        path: PathBuf,
        /// The same name with dots replaced.
        suggestion: PathBuf,
    },

    /// A program failed to attach. Nothing was left attached.
    #[error("attaching program '{program}' to {target} failed: {reason}")]
    Attach {
        /// The program.
        program: String,
        /// Where it was being attached (section or attach point).
        target: String,
        /// The kernel's (or libbpf's) reason.
        reason: String,
    },

    /// libbpf could not open (parse) the object.
    #[error("libbpf could not open the object: {reason}")]
    Open {
        /// libbpf's words.
        reason: String,
    },

    /// Loading failed for another reason than privileges, the verifier or missing BTF.
    #[error("loading the object into the kernel failed: {reason}")]
    Load {
        /// libbpf's words and the kernel's errno.
        reason: String,
    },

    /// Pinning under the bpffs folder failed. Nothing was left pinned.
    #[error("pinning {path} failed: {reason}")]
    Pin {
        /// The pin path.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// Unloading a pin folder failed part-way; what was removed is in the message.
    #[error("unloading {path} failed: {reason}")]
    Unload {
        /// The pin folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// Reading a map for display failed.
    #[error("reading map '{map}' failed: {reason}")]
    MapRead {
        /// The map.
        map: String,
        /// Why.
        reason: String,
    },

    /// Writing the display to the output failed (e.g. a closed pipe).
    #[error("writing the map display failed: {0}")]
    Output(#[source] std::io::Error),

    /// A filesystem or system call outside libbpf failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, on what path.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// When an operation got EPERM although this process is root, the likely reason: kernel
/// lockdown (with its mode) or a security module. `None` when not root.
pub(crate) fn refused_as_root() -> Option<String> {
    // The effective uid, from /proc (the second field of the Uid line).
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?;
    if euid != "0" {
        return None;
    }
    let lockdown = std::fs::read_to_string("/sys/kernel/security/lockdown").ok();
    let mode = lockdown.as_deref().and_then(|text| {
        let start = text.find('[')? + 1;
        let end = start + text[start..].find(']')?;
        Some(text[start..end].to_owned())
    });
    Some(match mode.as_deref() {
        Some("none") => "a security module (SELinux, AppArmor, BPF LSM) or a seccomp filter \
             forbids it; the kernel is not locked down"
            .into(),
        Some(mode) => format!(
            "the kernel is in lockdown mode '{mode}' (/sys/kernel/security/lockdown), which \
             forbids BPF programs that read kernel memory (fentry/fexit, lsm, kprobe-style \
             helpers); boot with lockdown=none or without Secure Boot's lockdown"
        ),
        None => "probably kernel lockdown (Secure Boot) or a security module; \
             /sys/kernel/security/lockdown cannot be read to tell (mount securityfs: \
             `mount -t securityfs securityfs /sys/kernel/security`)"
            .into(),
    })
}

impl LoadError {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        LoadError::Io {
            context: context.into(),
            source,
        }
    }
}
