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
        "invalid attach point '{input}': {reason} (expected xdp:IFACE or tc:IFACE:ingress|egress)"
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
        "--attach {point}: several {kind} programs are loaded ({programs}): choose one with --program"
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
        "program '{program}' is a {kind} program and needs a target: attach it with \
         --attach {example}, or leave it out with --program"
    )]
    NeedsAttachTarget {
        /// The program.
        program: String,
        /// "XDP" or "TC".
        kind: &'static str,
        /// An example attach argument.
        example: &'static str,
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

impl LoadError {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        LoadError::Io {
            context: context.into(),
            source,
        }
    }
}
