//! Where programs attach: parsing `--attach`, planning (before anything touches the kernel)
//! and attaching, all-or-nothing.
//!
//! Programs whose section tells libbpf where they go (tracepoint, raw_tp, tp_btf,
//! fentry/fexit, lsm, kprobe/uprobe with a target, …) are attached by libbpf
//! (`bpf_program__attach`). XDP and TC programs need an interface, given with `--attach`.
//! Every attachment made so far is held in [`Attachments`]; dropping it detaches them all
//! (links by closing them, TC filters explicitly), which is how a failure part-way leaves
//! nothing attached.

use std::fmt;
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use libbpf_rs::{
    Link, Object, OpenObject, ProgramType, TcHook, TracepointCategory, UprobeOpts, Xdp, XdpFlags,
    TC_EGRESS, TC_INGRESS,
};
use serde::{Deserialize, Serialize};

use super::capture::{self, LogCapture};
use super::errors::LoadError;
use super::perf::{self, PerfEvent};

/// The longest interface name Linux accepts (IFNAMSIZ minus the terminating NUL).
const MAX_IFACE_NAME: usize = 15;

/// The highest `perf:EVENT:FREQ` accepted (the kernel caps it lower still, at
/// kernel.perf_event_max_sample_rate, and says EINVAL above that).
const MAX_PERF_FREQ: u64 = 1_000_000;
/// `EINVAL`: perf_event_open with a frequency above kernel.perf_event_max_sample_rate.
const EINVAL: i32 = 22;
/// `ENOENT`: perf_event_open for an event this machine has no PMU for.
const ENOENT: i32 = 2;
/// `EOPNOTSUPP`: what `bpf_program__attach` answers for a section with no automatic target.
const EOPNOTSUPP: i32 = 95;
/// `EPERM`.
const EPERM: i32 = 1;
/// `EBUSY`: the interface already has an XDP program.
const EBUSY: i32 = 16;
/// `EEXIST`: `bpf_tc_hook_create` on an interface that already has a clsact qdisc.
const EEXIST: i32 = 17;

/// How an XDP program is attached (`xdp:IFACE:MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum XdpMode {
    /// The kernel's choice (native if the driver has XDP, else generic), through a BPF link.
    #[default]
    Auto,
    /// Generic XDP (`skb`): works on every interface, slower.
    Skb,
    /// Native XDP in the driver (`drv`); fails where the driver cannot (EOPNOTSUPP).
    Drv,
    /// Offloaded to the NIC (`hw`).
    Hw,
}

impl XdpMode {
    fn flags(self) -> XdpFlags {
        match self {
            XdpMode::Auto => XdpFlags::NONE,
            XdpMode::Skb => XdpFlags::SKB_MODE,
            XdpMode::Drv => XdpFlags::DRV_MODE,
            XdpMode::Hw => XdpFlags::HW_MODE,
        }
    }
}

/// Where a program attaches, as given with `--attach [PROGRAM=]POINT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AttachPoint {
    /// An XDP program on a network interface (`xdp:IFACE[:skb|drv|hw]`).
    Xdp {
        /// The interface name.
        iface: String,
        /// The mode; [`XdpMode::Auto`] when not given.
        mode: XdpMode,
    },
    /// A TC (sched_cls) program on a network interface's clsact qdisc
    /// (`tc:IFACE:ingress` or `tc:IFACE:egress`).
    Tc {
        /// The interface name.
        iface: String,
        /// Ingress or egress.
        direction: TcDirection,
    },
    /// A uprobe or uretprobe on a function of a binary or library
    /// (`uprobe:BINARY:FUNCTION[+OFFSET]`, `uretprobe:BINARY:FUNCTION[+OFFSET]`).
    Uprobe {
        /// A uretprobe (on return) rather than a uprobe (on entry).
        retprobe: bool,
        /// The executable or library.
        binary: PathBuf,
        /// The function (an ELF symbol of the binary).
        function: String,
        /// Bytes after the function's start.
        offset: u64,
    },
    /// A USDT probe (`usdt:BINARY:PROVIDER:NAME`).
    Usdt {
        /// The executable or library holding the probe.
        binary: PathBuf,
        /// The probe's provider.
        provider: String,
        /// The probe's name.
        name: String,
    },
    /// A kprobe or kretprobe on a kernel function (`kprobe:FUNCTION`, `kretprobe:FUNCTION`).
    Kprobe {
        /// A kretprobe (on return).
        retprobe: bool,
        /// The kernel function.
        function: String,
    },
    /// An fentry or fexit program on a kernel function (`fentry:FUNCTION`, `fexit:FUNCTION`).
    Trace {
        /// fexit (on return) rather than fentry.
        exit: bool,
        /// The kernel function.
        function: String,
    },
    /// A tracepoint (`tracepoint:CATEGORY:NAME`).
    Tracepoint {
        /// The category (`syscalls`, `sched`, …).
        category: String,
        /// The tracepoint's name.
        name: String,
    },
    /// A perf_event program sampling a perf event on every online CPU (or, with `--pid`, in
    /// one process): `perf:EVENT[:FREQ]`, FREQ samples a second per CPU.
    Perf {
        /// The event.
        event: PerfEvent,
        /// Samples per second.
        freq: u64,
    },
}

/// The direction of a TC attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TcDirection {
    /// Packets arriving on the interface.
    Ingress,
    /// Packets leaving through the interface.
    Egress,
}

impl fmt::Display for TcDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcDirection::Ingress => "ingress",
            TcDirection::Egress => "egress",
        })
    }
}

impl fmt::Display for AttachPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachPoint::Xdp { iface, mode } => match mode {
                XdpMode::Auto => write!(f, "xdp:{iface}"),
                XdpMode::Skb => write!(f, "xdp:{iface}:skb"),
                XdpMode::Drv => write!(f, "xdp:{iface}:drv"),
                XdpMode::Hw => write!(f, "xdp:{iface}:hw"),
            },
            AttachPoint::Tc { iface, direction } => write!(f, "tc:{iface}:{direction}"),
            AttachPoint::Uprobe {
                retprobe,
                binary,
                function,
                offset,
            } => {
                let kind = if *retprobe { "uretprobe" } else { "uprobe" };
                write!(f, "{kind}:{}:{function}", binary.display())?;
                if *offset != 0 {
                    write!(f, "+{offset:#x}")?;
                }
                Ok(())
            }
            AttachPoint::Usdt {
                binary,
                provider,
                name,
            } => write!(f, "usdt:{}:{provider}:{name}", binary.display()),
            AttachPoint::Kprobe { retprobe, function } => {
                let kind = if *retprobe { "kretprobe" } else { "kprobe" };
                write!(f, "{kind}:{function}")
            }
            AttachPoint::Trace { exit, function } => {
                let kind = if *exit { "fexit" } else { "fentry" };
                write!(f, "{kind}:{function}")
            }
            AttachPoint::Tracepoint { category, name } => {
                write!(f, "tracepoint:{category}:{name}")
            }
            AttachPoint::Perf { event, freq } => write!(f, "perf:{event}:{freq}"),
        }
    }
}

impl AttachPoint {
    /// The network interface this attach point names, if any.
    pub fn iface(&self) -> Option<&str> {
        match self {
            AttachPoint::Xdp { iface, .. } | AttachPoint::Tc { iface, .. } => Some(iface),
            _ => None,
        }
    }

    /// A name for the kind of program that fits ("XDP", "uprobe", …), for messages.
    fn kind(&self) -> &'static str {
        match self {
            AttachPoint::Xdp { .. } => "XDP",
            AttachPoint::Tc { .. } => "TC",
            AttachPoint::Uprobe {
                retprobe: false, ..
            } => "uprobe",
            AttachPoint::Uprobe { retprobe: true, .. } => "uretprobe",
            AttachPoint::Usdt { .. } => "usdt",
            AttachPoint::Kprobe {
                retprobe: false, ..
            } => "kprobe",
            AttachPoint::Kprobe { retprobe: true, .. } => "kretprobe",
            AttachPoint::Trace { exit: false, .. } => "fentry",
            AttachPoint::Trace { exit: true, .. } => "fexit",
            AttachPoint::Tracepoint { .. } => "tracepoint",
            AttachPoint::Perf { .. } => "perf_event",
        }
    }

    /// Whether a program of this type can be attached here at all (when named explicitly).
    fn accepts(&self, prog_type: ProgramType) -> bool {
        match self {
            AttachPoint::Xdp { .. } => prog_type == ProgramType::Xdp,
            AttachPoint::Tc { .. } => {
                matches!(prog_type, ProgramType::SchedCls | ProgramType::SchedAct)
            }
            AttachPoint::Uprobe { .. } | AttachPoint::Usdt { .. } | AttachPoint::Kprobe { .. } => {
                prog_type == ProgramType::Kprobe
            }
            AttachPoint::Trace { .. } => prog_type == ProgramType::Tracing,
            AttachPoint::Tracepoint { .. } => prog_type == ProgramType::Tracepoint,
            AttachPoint::Perf { .. } => prog_type == ProgramType::PerfEvent,
        }
    }

    /// Whether a program is one this point is meant for (when PROGRAM is left out): its
    /// type fits and, for the kinds that share a program type, its section says so.
    fn fits(&self, prog_type: ProgramType, section: &str) -> bool {
        if !self.accepts(prog_type) {
            return false;
        }
        let kind = section_kind(section);
        match self {
            AttachPoint::Uprobe { retprobe, .. } => {
                kind == if *retprobe { "uretprobe" } else { "uprobe" }
            }
            AttachPoint::Usdt { .. } => kind == "usdt",
            AttachPoint::Kprobe { retprobe, .. } => {
                kind == if *retprobe { "kretprobe" } else { "kprobe" }
            }
            AttachPoint::Trace { exit, .. } => kind == if *exit { "fexit" } else { "fentry" },
            _ => true,
        }
    }
}

/// "a" or "an" before a program kind, as it is said: "an XDP", "an fentry", "a kprobe".
fn article(word: &str) -> &'static str {
    let lower = word.to_ascii_lowercase();
    let spoken_vowel = lower.starts_with(['a', 'e', 'i', 'o'])
        || lower.starts_with('x')
        || lower.starts_with("lsm")
        || lower.starts_with('f') && !lower.starts_with("fl");
    if spoken_vowel {
        "an"
    } else {
        "a"
    }
}

/// The part of a section name before the first `/`, without libbpf's sleepable `.s`.
fn section_kind(section: &str) -> &str {
    let head = section.split('/').next().unwrap_or_default();
    head.strip_suffix(".s").unwrap_or(head)
}

/// The `--attach` form a program of this section needs when its section names no target.
pub(crate) fn needed_form(section: &str) -> Option<&'static str> {
    if section.contains('/') {
        return None;
    }
    Some(match section_kind(section) {
        "uprobe" => "uprobe:BINARY:FUNCTION",
        "uretprobe" => "uretprobe:BINARY:FUNCTION",
        "usdt" => "usdt:BINARY:PROVIDER:NAME",
        "kprobe" => "kprobe:FUNCTION",
        "kretprobe" => "kretprobe:FUNCTION",
        "fentry" => "fentry:FUNCTION",
        "fexit" => "fexit:FUNCTION",
        "tracepoint" | "tp" => "tracepoint:CATEGORY:NAME",
        "xdp" => "xdp:IFACE",
        "tc" | "classifier" => "tc:IFACE:ingress",
        "perf_event" => "perf:EVENT[:FREQ]",
        _ => return None,
    })
}

/// One `--attach [PROGRAM=]POINT`: a point, and the program that goes there (which may be
/// left out when exactly one loaded program fits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attach {
    /// The program, by name; `None` to pick the one program that fits.
    pub program: Option<String>,
    /// Where it attaches.
    pub point: AttachPoint,
}

impl From<AttachPoint> for Attach {
    fn from(point: AttachPoint) -> Self {
        Attach {
            program: None,
            point,
        }
    }
}

impl fmt::Display for Attach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.program {
            Some(program) => write!(f, "{program}={}", self.point),
            None => write!(f, "{}", self.point),
        }
    }
}

impl FromStr for Attach {
    type Err = LoadError;

    /// Parses `[PROGRAM=]POINT`. A program name has no `:` (a point always has one), so an
    /// `=` inside a binary's path is not mistaken for one.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if let Some((program, point)) = input.split_once('=') {
            if !program.contains(':') {
                if program.is_empty() {
                    return Err(LoadError::InvalidAttachPoint {
                        input: input.to_owned(),
                        reason: "the program name before '=' is empty".into(),
                    });
                }
                let point = point.parse::<AttachPoint>().map_err(|e| match e {
                    LoadError::InvalidAttachPoint { reason, .. } => LoadError::InvalidAttachPoint {
                        input: input.to_owned(),
                        reason,
                    },
                    other => other,
                })?;
                return Ok(Attach {
                    program: Some(program.to_owned()),
                    point,
                });
            }
        }
        Ok(Attach {
            program: None,
            point: input.parse()?,
        })
    }
}

impl FromStr for AttachPoint {
    type Err = LoadError;

    /// Parses one of the POINT forms; the error names the bad part.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| LoadError::InvalidAttachPoint {
            input: input.to_owned(),
            reason,
        };
        let (kind, rest) = input.split_once(':').unwrap_or((input, ""));
        let check_iface = |iface: &str| -> Result<String, LoadError> {
            if iface.is_empty() {
                return Err(invalid("the interface name is missing".into()));
            }
            if iface.len() > MAX_IFACE_NAME {
                return Err(invalid(format!(
                    "interface name '{iface}' is longer than {MAX_IFACE_NAME} bytes"
                )));
            }
            if iface == "." || iface == ".." || iface.chars().any(|c| c == '/' || c.is_whitespace())
            {
                return Err(invalid(format!("'{iface}' is not a valid interface name")));
            }
            Ok(iface.to_owned())
        };
        let nonempty = |what: &str, value: &str| -> Result<String, LoadError> {
            if value.is_empty() {
                Err(invalid(format!("the {what} is missing")))
            } else {
                Ok(value.to_owned())
            }
        };
        // Binaries may have ':' in their path: the fixed parts are taken from the right.
        let binary_and = |n: usize, form: &str| -> Result<(PathBuf, Vec<String>), LoadError> {
            let parts: Vec<&str> = rest.rsplitn(n + 1, ':').collect();
            if parts.len() != n + 1 || parts.iter().any(|p| p.is_empty()) {
                return Err(invalid(format!("expected {form}")));
            }
            let mut tail: Vec<String> = parts[..n].iter().rev().map(|s| s.to_string()).collect();
            tail.shrink_to_fit();
            Ok((PathBuf::from(parts[n]), tail))
        };
        match kind {
            "xdp" => {
                let mut parts = rest.split(':');
                let iface = check_iface(parts.next().unwrap_or_default())?;
                let mode = match parts.next() {
                    None => XdpMode::Auto,
                    Some("skb") | Some("generic") => XdpMode::Skb,
                    Some("drv") | Some("native") => XdpMode::Drv,
                    Some("hw") | Some("offload") => XdpMode::Hw,
                    Some(other) => {
                        return Err(invalid(format!(
                            "XDP mode '{other}' is not one of skb, drv, hw (XDP has no direction)"
                        )))
                    }
                };
                if let Some(extra) = parts.next() {
                    return Err(invalid(format!("unexpected extra part '{extra}'")));
                }
                Ok(AttachPoint::Xdp { iface, mode })
            }
            "tc" => {
                let mut parts = rest.split(':');
                let iface = check_iface(parts.next().unwrap_or_default())?;
                let direction = match parts.next() {
                    Some("ingress") => TcDirection::Ingress,
                    Some("egress") => TcDirection::Egress,
                    Some(other) => {
                        return Err(invalid(format!(
                            "direction '{other}' is neither 'ingress' nor 'egress'"
                        )))
                    }
                    None => {
                        return Err(invalid(
                            "the direction (ingress or egress) is missing".into(),
                        ))
                    }
                };
                if let Some(extra) = parts.next() {
                    return Err(invalid(format!("unexpected extra part '{extra}'")));
                }
                Ok(AttachPoint::Tc { iface, direction })
            }
            "uprobe" | "uretprobe" => {
                let (binary, tail) = binary_and(1, &format!("{kind}:BINARY:FUNCTION[+OFFSET]"))?;
                let (function, offset) = split_offset(&tail[0]).map_err(invalid)?;
                Ok(AttachPoint::Uprobe {
                    retprobe: kind == "uretprobe",
                    binary,
                    function,
                    offset,
                })
            }
            "usdt" => {
                let (binary, tail) = binary_and(2, "usdt:BINARY:PROVIDER:NAME")?;
                Ok(AttachPoint::Usdt {
                    binary,
                    provider: tail[0].clone(),
                    name: tail[1].clone(),
                })
            }
            "kprobe" | "kretprobe" | "fentry" | "fexit" => {
                let function = nonempty("kernel function", rest)?;
                if function.contains(':') || function.contains('+') {
                    return Err(invalid(format!(
                        "'{function}' is not a kernel function name (offsets are not supported)"
                    )));
                }
                Ok(match kind {
                    "kprobe" | "kretprobe" => AttachPoint::Kprobe {
                        retprobe: kind == "kretprobe",
                        function,
                    },
                    _ => AttachPoint::Trace {
                        exit: kind == "fexit",
                        function,
                    },
                })
            }
            "tracepoint" | "tp" => {
                let (category, name) = rest
                    .split_once(':')
                    .or_else(|| rest.split_once('/'))
                    .ok_or_else(|| invalid("expected tracepoint:CATEGORY:NAME".into()))?;
                Ok(AttachPoint::Tracepoint {
                    category: nonempty("tracepoint category", category)?,
                    name: nonempty("tracepoint name", name)?,
                })
            }
            "perf" => {
                let (name, freq) = match rest.split_once(':') {
                    Some((name, freq)) => (name, Some(freq)),
                    None => (rest, None),
                };
                if name.is_empty() {
                    return Err(invalid("the perf event is missing".into()));
                }
                let event = PerfEvent::from_name(name).ok_or_else(|| {
                    let names: Vec<&str> = PerfEvent::ALL.iter().map(|(_, n)| *n).collect();
                    invalid(format!(
                        "perf event '{name}' is not one of {}",
                        names.join(", ")
                    ))
                })?;
                let freq = match freq {
                    None => perf::DEFAULT_FREQ,
                    Some(text) => match text.parse::<u64>() {
                        Ok(f) if (1..=MAX_PERF_FREQ).contains(&f) => f,
                        _ => {
                            return Err(invalid(format!(
                                "sampling frequency '{text}' is not a number of samples a \
                                 second from 1 to {MAX_PERF_FREQ}"
                            )))
                        }
                    },
                };
                Ok(AttachPoint::Perf { event, freq })
            }
            "" => Err(invalid("the attach type is missing".into())),
            other => Err(invalid(format!(
                "attach type '{other}' is not supported (use xdp, tc, uprobe, uretprobe, usdt, \
                 kprobe, kretprobe, fentry, fexit, tracepoint or perf)"
            ))),
        }
    }
}

/// `FUNCTION[+OFFSET]`, the offset in decimal or 0x-hex.
fn split_offset(text: &str) -> Result<(String, u64), String> {
    let (function, offset) = match text.split_once('+') {
        Some((f, o)) => {
            let offset = match o.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => o.parse(),
            }
            .map_err(|_| format!("offset '{o}' is not a number"))?;
            (f, offset)
        }
        None => (text, 0),
    };
    if function.is_empty() {
        return Err("the function name is missing".into());
    }
    Ok((function.to_owned(), offset))
}

/// How one program will be attached.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// By libbpf, from the program's section.
    Auto,
    /// Where `--attach` says; `ifindex` for XDP and TC.
    Point { point: AttachPoint, ifindex: u32 },
}

impl Target {
    fn describe(&self, section: &str) -> String {
        match self {
            Target::Auto => section.to_owned(),
            Target::Point { point, .. } => point.to_string(),
        }
    }
}

/// The attach plan: for every program that will be loaded, its targets.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// (program name, targets), in object order.
    pub programs: Vec<(String, Vec<Target>)>,
    /// Process to limit uprobes and usdt probes to, thread for perf events (`-1`: every
    /// process).
    pub pid: i32,
}

/// Why a program was left out of the load (an `--optional` program that cannot attach here).
pub(crate) struct Skipped {
    /// The program.
    pub program: String,
    /// Why.
    pub reason: String,
}

/// Decides, on the opened (not yet loaded) object, where each program to be loaded goes,
/// and checks every precondition that does not need loading: attach points match exactly
/// one program, interfaces exist, tracefs and the tracepoints are there, programs whose
/// section names no target get one. fentry/fexit targets are set on the program here
/// (libbpf needs them at load). A program in `optional` that cannot be planned is not
/// loaded; it is returned in the skipped list instead of being an error.
pub(crate) fn plan(
    open: &mut OpenObject,
    attach: &[Attach],
    optional: &[String],
    pid: Option<i32>,
) -> Result<(Plan, Vec<Skipped>), LoadError> {
    let loaded: Vec<(String, ProgramType, String)> = open
        .progs()
        .filter(|p| p.autoload())
        .map(|p| {
            (
                p.name().to_string_lossy().into_owned(),
                p.prog_type(),
                p.section().to_string_lossy().into_owned(),
            )
        })
        .collect();

    let mut plan = Plan {
        pid: pid.unwrap_or(-1),
        ..Plan::default()
    };
    for (name, _, _) in &loaded {
        plan.programs.push((name.clone(), Vec::new()));
    }

    for request in attach {
        let point = &request.point;
        let program = match &request.program {
            Some(wanted) => match loaded.iter().find(|(n, _, _)| n == wanted) {
                Some((name, prog_type, section)) if point.accepts(*prog_type) => name.clone(),
                Some((name, prog_type, section)) => {
                    return Err(LoadError::WrongProgramForAttachPoint {
                        point: request.to_string(),
                        program: name.clone(),
                        detail: {
                            let is = super::display::program_type_name(*prog_type);
                            let wanted = point.kind();
                            format!(
                                "it is {} {is} program (section {section}), not {} {wanted} program",
                                article(&is),
                                article(wanted)
                            )
                        },
                    })
                }
                None => {
                    let names: Vec<&str> = loaded.iter().map(|(n, _, _)| n.as_str()).collect();
                    return Err(LoadError::UnknownProgram {
                        name: wanted.clone(),
                        available: names.join(", "),
                    });
                }
            },
            None => {
                let candidates: Vec<&String> = loaded
                    .iter()
                    .filter(|(_, t, section)| point.fits(*t, section))
                    .map(|(n, _, _)| n)
                    .collect();
                match candidates.as_slice() {
                    [one] => (*one).clone(),
                    [] => {
                        let names: Vec<&str> = loaded.iter().map(|(n, _, _)| n.as_str()).collect();
                        return Err(LoadError::NoProgramForAttachPoint {
                            point: point.to_string(),
                            kind: point.kind(),
                            detail: if names.is_empty() {
                                String::new()
                            } else {
                                format!(
                                    " (loaded: {}; name one with --attach PROGRAM={point})",
                                    names.join(", ")
                                )
                            },
                        });
                    }
                    many => {
                        return Err(LoadError::AmbiguousAttachPoint {
                            point: point.to_string(),
                            kind: point.kind(),
                            programs: many
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                        })
                    }
                }
            }
        };
        let ifindex = match point.iface() {
            Some(iface) => interface_index(iface, point)?,
            None => 0,
        };
        if let AttachPoint::Trace { function, .. } = point {
            if let Some(mut prog) = open
                .progs_mut()
                .find(|p| p.name().to_string_lossy() == program.as_str())
            {
                prog.set_attach_target(0, Some(function.clone()))
                    .map_err(|e| LoadError::Attach {
                        program: program.clone(),
                        target: point.to_string(),
                        reason: capture::describe(&e),
                    })?;
            }
        }
        if let Some((_, targets)) = plan.programs.iter_mut().find(|(n, _)| *n == program) {
            targets.push(Target::Point {
                point: point.clone(),
                ifindex,
            });
        }
    }

    let mut skipped = Vec::new();
    let mut problems: Vec<(String, LoadError)> = Vec::new();
    for ((name, targets), (_, prog_type, section)) in plan.programs.iter_mut().zip(&loaded) {
        if !targets.is_empty() {
            continue;
        }
        let problem = match prog_type {
            ProgramType::Xdp => Some(LoadError::NeedsAttachTarget {
                program: name.clone(),
                kind: "XDP".into(),
                example: "xdp:IFACE",
            }),
            ProgramType::SchedCls | ProgramType::SchedAct => Some(LoadError::NeedsAttachTarget {
                program: name.clone(),
                kind: "TC".into(),
                example: "tc:IFACE:ingress",
            }),
            _ => match needed_form(section) {
                Some(form) => Some(LoadError::NeedsAttachTarget {
                    program: name.clone(),
                    kind: section_kind(section).to_owned(),
                    example: form,
                }),
                None if *prog_type == ProgramType::Tracepoint => {
                    if !tracefs_mounted() {
                        return Err(LoadError::TracefsNotMounted {
                            program: name.clone(),
                        });
                    }
                    missing_tracepoint(section).map(|tracepoint| LoadError::TracepointMissing {
                        program: name.clone(),
                        tracepoint,
                    })
                }
                None => None,
            },
        };
        match problem {
            Some(error) => problems.push((name.clone(), error)),
            None => targets.push(Target::Auto),
        }
    }
    for (name, error) in problems {
        if optional.contains(&name) {
            if let Some(mut prog) = open
                .progs_mut()
                .find(|p| p.name().to_string_lossy() == name.as_str())
            {
                prog.set_autoload(false);
            }
            plan.programs.retain(|(n, _)| *n != name);
            skipped.push(Skipped {
                program: name,
                reason: error.to_string(),
            });
        } else {
            return Err(error);
        }
    }
    Ok((plan, skipped))
}

/// The tracefs folders libbpf may read tracepoint ids from.
const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// For a `tracepoint/CAT/NAME` (or `tp/CAT/NAME`) section, `CAT/NAME` if this kernel has
/// no such tracepoint (an architecture's own syscall, a subsystem not built in).
fn missing_tracepoint(section: &str) -> Option<String> {
    let rest = section
        .strip_prefix("tracepoint/")
        .or_else(|| section.strip_prefix("tp/"))?;
    let (category, name) = rest.split_once('/')?;
    let readable = TRACEFS
        .iter()
        .find(|root| Path::new(root).join("events").is_dir())?;
    let exists = Path::new(readable)
        .join("events")
        .join(category)
        .join(name)
        .exists();
    (!exists).then(|| format!("{category}/{name}"))
}

/// Whether this kernel can place kprobes: through the perf `kprobe` PMU or tracefs's
/// `kprobe_events` (CONFIG_KPROBE_EVENTS).
pub(crate) fn kprobes_supported() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe/type").exists()
        || TRACEFS
            .iter()
            .any(|root| Path::new(root).join("kprobe_events").exists())
}

/// Whether libbpf will find tracepoint ids: it reads them from tracefs, at
/// /sys/kernel/debug/tracing if that exists, else /sys/kernel/tracing. Checked with `statfs`,
/// which needs no permission on the folder itself (so an unprivileged user gets the
/// privilege error later, not a wrong "not mounted").
fn tracefs_mounted() -> bool {
    TRACEFS.iter().any(|path| {
        match nix::sys::statfs::statfs(*path) {
            Ok(stat) => stat.filesystem_type() == nix::sys::statfs::TRACEFS_MAGIC,
            // Cannot look: assume it is there and let the kernel say what is wrong.
            Err(nix::errno::Errno::EACCES) | Err(nix::errno::Errno::EPERM) => true,
            Err(_) => false,
        }
    })
}

fn interface_index(iface: &str, point: &AttachPoint) -> Result<u32, LoadError> {
    nix::net::if_::if_nametoindex(iface).map_err(|_| LoadError::InterfaceNotFound {
        iface: iface.to_owned(),
        detail: format!(" (needed for --attach {point}; list interfaces with `ip link`)"),
    })
}

/// One attachment made in the kernel.
pub(crate) enum Attachment {
    /// A BPF link (tracepoints, probes, XDP in the kernel's mode, …): detached when closed,
    /// unless pinned.
    Link {
        /// The program.
        program: String,
        /// Where (section or attach point).
        target: String,
        /// For XDP links, the interface (used to name the pin).
        iface: Option<String>,
        /// The link.
        link: Link,
    },
    /// A TC filter on a clsact qdisc: stays until detached explicitly.
    Tc {
        /// The program.
        program: String,
        /// The recorded filter, enough to detach it later.
        filter: TcFilter,
        /// The hook used to attach (and detach) it.
        hook: TcHook,
    },
    /// A perf_event program on perf events, one link per CPU (or one for `--pid`): each
    /// link owns its perf event (libbpf closes it on detach), so dropping them detaches.
    Perf {
        /// The program.
        program: String,
        /// The attach point, as shown.
        target: String,
        /// The links, one per perf event: held, never read, so that they stay attached.
        #[allow(dead_code)]
        links: Vec<Link>,
    },
    /// XDP attached in an explicit mode (netlink, no link): stays until detached.
    Xdp {
        /// The program.
        program: String,
        /// The recorded attachment, enough to detach it later.
        record: XdpAttachment,
    },
}

/// A TC filter as recorded in the pin manifest, so that `unload` can remove exactly it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TcFilter {
    /// The interface name (for messages).
    pub iface: String,
    /// The interface index at attach time.
    pub ifindex: u32,
    /// Ingress or egress.
    pub direction: TcDirection,
    /// The filter's handle.
    pub handle: u32,
    /// The filter's priority.
    pub priority: u32,
    /// The attached program's id (checked before detaching, so as to not remove a
    /// filter that someone else put at the same handle since).
    pub prog_id: u32,
    /// Whether `load` created the interface's clsact qdisc (then it is removed with the
    /// filter, so that nothing of ours is left on the interface).
    #[serde(default)]
    pub created_qdisc: bool,
}

/// An XDP program attached in an explicit mode, as recorded in the pin manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct XdpAttachment {
    /// The interface name (for messages).
    pub iface: String,
    /// The interface index at attach time.
    pub ifindex: u32,
    /// The mode.
    pub mode: XdpMode,
    /// The attached program's id (checked before detaching).
    pub prog_id: u32,
}

/// Everything attached so far. Dropping it detaches all of it, unless [`Attachments::keep`]
/// was called (after pinning, for `--detach`).
#[derive(Default)]
pub(crate) struct Attachments {
    /// In attach order.
    pub items: Vec<Attachment>,
    keep: bool,
}

impl Attachments {
    /// Leaves everything attached when dropped (the pins, TC filters and XDP attachments
    /// keep it running).
    pub(crate) fn keep(&mut self) {
        self.keep = true;
    }

    /// The attach points of `program`, as shown in reports.
    pub(crate) fn targets_of(&self, program: &str) -> Vec<String> {
        self.items
            .iter()
            .filter_map(|a| match a {
                Attachment::Link {
                    program: p, target, ..
                }
                | Attachment::Perf {
                    program: p, target, ..
                } if p == program => Some(target.clone()),
                Attachment::Tc {
                    program: p, filter, ..
                } if p == program => Some(format!("tc:{}:{}", filter.iface, filter.direction)),
                Attachment::Xdp { program: p, record } if p == program => Some(
                    AttachPoint::Xdp {
                        iface: record.iface.clone(),
                        mode: record.mode,
                    }
                    .to_string(),
                ),
                _ => None,
            })
            .collect()
    }
}

impl Drop for Attachments {
    fn drop(&mut self) {
        if self.keep {
            // Pinned links stay attached when our fds close (the pin holds them), and TC
            // filters and XDP attachments are left in place: `unload` removes them.
            return;
        }
        // Detach in reverse order; links detach when dropped.
        while let Some(item) = self.items.pop() {
            match item {
                Attachment::Tc {
                    mut hook, filter, ..
                } => {
                    let _ = hook.detach();
                    if filter.created_qdisc {
                        destroy_qdisc(&filter);
                    }
                }
                Attachment::Xdp { record, .. } => {
                    let _ = detach_xdp(&record);
                }
                Attachment::Link { .. } | Attachment::Perf { .. } => {}
            }
        }
    }
}

/// What attaching left undone: optional programs that could not be attached.
pub(crate) type Warnings = Vec<String>;

/// Attaches every program of the plan. On the first failure of a program that is not
/// optional, everything attached so far is detached (by dropping it) and the error names
/// the program, where it was going and the kernel's reason. An optional program that fails
/// is left unattached with a warning.
pub(crate) fn attach_all(
    obj: &Object,
    plan: &Plan,
    optional: &[String],
    log: &LogCapture,
) -> Result<(Attachments, Warnings), LoadError> {
    let mut attachments = Attachments::default();
    let mut warnings = Vec::new();
    for (name, targets) in &plan.programs {
        let Some(program) = obj
            .progs_mut()
            .find(|p| p.name().to_string_lossy() == *name)
        else {
            continue;
        };
        let section = program.section().to_string_lossy().into_owned();
        for target in targets {
            log.clear();
            let result = attach_one(&program, name, &section, target, plan.pid);
            let made = match result {
                Ok(made) => made,
                Err(err) => {
                    let messages = log.take();
                    let error = attach_error(name, &section, target, &err, &messages);
                    if optional.contains(name) {
                        warnings.push(format!(
                            "optional program '{name}' was not attached: {error}"
                        ));
                        continue;
                    }
                    return Err(error);
                }
            };
            attachments.items.push(made);
        }
    }
    log.clear();
    Ok((attachments, warnings))
}

fn attach_one(
    program: &libbpf_rs::ProgramMut<'_>,
    name: &str,
    section: &str,
    target: &Target,
    pid: i32,
) -> Result<Attachment, libbpf_rs::Error> {
    let link = |link: Link, iface: Option<String>| Attachment::Link {
        program: name.to_owned(),
        target: target.describe(section),
        iface,
        link,
    };
    let (point, ifindex) = match target {
        Target::Auto => return program.attach().map(|l| link(l, None)),
        Target::Point { point, ifindex } => (point, *ifindex),
    };
    let ifindex_i32 = i32::try_from(ifindex).unwrap_or(i32::MAX);
    match point {
        AttachPoint::Xdp {
            iface,
            mode: XdpMode::Auto,
        } => program
            .attach_xdp(ifindex_i32)
            .map(|l| link(l, Some(iface.clone()))),
        AttachPoint::Xdp { iface, mode } => {
            // An explicit mode goes through netlink (a BPF link takes no mode). Refuse to
            // replace a program someone else attached.
            Xdp::new(program.as_fd())
                .attach(ifindex_i32, XdpFlags::UPDATE_IF_NOEXIST | mode.flags())?;
            Ok(Attachment::Xdp {
                program: name.to_owned(),
                record: XdpAttachment {
                    iface: iface.clone(),
                    ifindex,
                    mode: *mode,
                    prog_id: program_id(program).unwrap_or(0),
                },
            })
        }
        AttachPoint::Tc { iface, direction } => {
            let mut hook = TcHook::new(program.as_fd());
            hook.ifindex(ifindex_i32)
                .replace(false)
                .attach_point(match direction {
                    TcDirection::Ingress => TC_INGRESS,
                    TcDirection::Egress => TC_EGRESS,
                });
            // Creates the clsact qdisc if the interface has none; whether it had one is
            // remembered, so that a qdisc we created goes away with our filter.
            let created_qdisc = !clsact_exists(ifindex_i32);
            hook.create()?;
            let attached = match hook.attach() {
                Ok(attached) => attached,
                Err(err) => {
                    if created_qdisc {
                        let _ = TcHook::new(program.as_fd())
                            .ifindex(ifindex_i32)
                            .attach_point(TC_INGRESS | TC_EGRESS)
                            .destroy();
                    }
                    return Err(err);
                }
            };
            Ok(Attachment::Tc {
                program: name.to_owned(),
                filter: TcFilter {
                    iface: iface.clone(),
                    ifindex,
                    direction: *direction,
                    handle: attached.get_handle(),
                    priority: attached.get_priority(),
                    prog_id: program_id(program).unwrap_or(0),
                    created_qdisc,
                },
                hook: attached,
            })
        }
        AttachPoint::Uprobe {
            retprobe,
            binary,
            function,
            offset,
        } => program
            .attach_uprobe_with_opts(
                pid,
                binary,
                usize::try_from(*offset).unwrap_or(usize::MAX),
                UprobeOpts {
                    retprobe: *retprobe,
                    func_name: Some(function.clone()),
                    ..Default::default()
                },
            )
            .map(|l| link(l, None)),
        AttachPoint::Usdt {
            binary,
            provider,
            name: probe,
        } => program
            .attach_usdt(pid, binary, provider, probe)
            .map(|l| link(l, None)),
        AttachPoint::Kprobe { retprobe, function } => program
            .attach_kprobe(*retprobe, function)
            .map(|l| link(l, None)),
        AttachPoint::Trace { .. } => program.attach_trace().map(|l| link(l, None)),
        AttachPoint::Tracepoint { category, name: tp } => program
            .attach_tracepoint(TracepointCategory::Custom(category.clone()), tp)
            .map(|l| link(l, None)),
        AttachPoint::Perf { event, freq } => {
            let links = attach_perf(program, *event, *freq, pid)?;
            Ok(Attachment::Perf {
                program: name.to_owned(),
                target: target.describe(section),
                links,
            })
        }
    }
}

/// Opens `event` on every online CPU (or, for a process, on any CPU it runs on) and
/// attaches `program` to each. A failure part-way drops the links made so far, which
/// detaches them and closes their events.
fn attach_perf(
    program: &libbpf_rs::ProgramMut<'_>,
    event: PerfEvent,
    freq: u64,
    pid: i32,
) -> Result<Vec<Link>, libbpf_rs::Error> {
    use std::os::fd::{AsRawFd as _, IntoRawFd as _};
    let cpus = if pid == -1 {
        perf::online_cpus()?
    } else {
        vec![-1]
    };
    let mut links = Vec::with_capacity(cpus.len());
    for cpu in cpus {
        let fd = perf::open(event, freq, pid, cpu)?;
        let link = program.attach_perf_event(fd.as_raw_fd())?;
        // The link owns the event from here on: libbpf closes it when the link detaches.
        let _ = fd.into_raw_fd();
        links.push(link);
    }
    Ok(links)
}

/// The error for a failed attachment: the kernel's and libbpf's words, and what this
/// kernel lacks when that is the reason.
fn attach_error(
    name: &str,
    section: &str,
    target: &Target,
    err: &libbpf_rs::Error,
    messages: &[(libbpf_rs::PrintLevel, String)],
) -> LoadError {
    let where_to = target.describe(section);
    let errno = capture::errno(err);
    let is_kprobe = match target {
        Target::Point {
            point: AttachPoint::Kprobe { .. },
            ..
        } => true,
        Target::Auto => matches!(section_kind(section), "kprobe" | "kretprobe"),
        _ => false,
    };
    if is_kprobe && !kprobes_supported() {
        return LoadError::KernelLacks {
            program: name.to_owned(),
            target: where_to,
            what: "kprobe support: it has neither the perf 'kprobe' event source nor \
                   tracefs's kprobe_events (CONFIG_KPROBES/CONFIG_KPROBE_EVENTS are off)"
                .into(),
            libbpf: capture::describe_with_log(err, messages),
        };
    }
    if errno == Some(EPERM) {
        if let Some(refusal) = super::errors::refused_as_root() {
            return LoadError::KernelRefused {
                action: format!("attaching program '{name}' to {where_to}"),
                reason: refusal,
                detail: format!("\nlibbpf: {}", capture::describe_with_log(err, messages)),
            };
        }
        return LoadError::NotPrivileged {
            action: format!("attaching program '{name}' to {where_to}"),
        };
    }
    if matches!(target, Target::Auto) && errno == Some(EOPNOTSUPP) {
        return LoadError::CannotAttach {
            program: name.to_owned(),
            section: section.to_owned(),
        };
    }
    if let Target::Point {
        point: AttachPoint::Perf { event, .. },
        ..
    } = target
    {
        if event.is_hardware() && matches!(errno, Some(ENOENT) | Some(EOPNOTSUPP)) {
            return LoadError::NoHardwareCounter {
                program: name.to_owned(),
                target: where_to,
                event: event.to_string(),
                reason: capture::describe_with_log(err, messages),
            };
        }
    }
    let mut reason = capture::describe_with_log(err, messages);
    if let Target::Point {
        point: AttachPoint::Xdp { iface, mode },
        ..
    } = target
    {
        match errno {
            Some(EBUSY) | Some(EEXIST) => reason.push_str(&format!(
                "\n(another XDP program is already attached to {iface}: \
                 `ip link set dev {iface} xdp off` removes one attached by ip)"
            )),
            Some(EOPNOTSUPP) if *mode != XdpMode::Skb => reason.push_str(&format!(
                "\n(the driver of {iface} has no native XDP: use generic mode, \
                 --attach xdp:{iface}:skb)"
            )),
            _ => {}
        }
    }
    if let Target::Point {
        point: AttachPoint::Perf { freq, .. },
        ..
    } = target
    {
        if errno == Some(EINVAL) {
            if let Some(max) = perf::max_sample_rate().filter(|max| freq > max) {
                reason.push_str(&format!(
                    "\n(FREQ {freq} is above this kernel's limit of {max} samples a second, \
                     kernel.perf_event_max_sample_rate)"
                ));
            }
        }
    }
    LoadError::Attach {
        program: name.to_owned(),
        target: where_to,
        reason,
    }
}

/// Whether `ifindex` has a clsact qdisc, asked of the kernel with an `RTM_GETQDISC` dump
/// over rtnetlink (libbpf-rs's `create` hides the EEXIST that would say so). When the
/// question cannot be asked, the answer is "yes": then nothing is removed afterwards.
fn clsact_exists(ifindex: i32) -> bool {
    qdisc_kinds(ifindex).is_none_or(|kinds| kinds.iter().any(|k| k == "clsact"))
}

/// The kinds of the qdiscs on `ifindex` (`noqueue`, `clsact`, …), from rtnetlink.
fn qdisc_kinds(ifindex: i32) -> Option<Vec<String>> {
    use nix::sys::socket::{
        bind, recv, send, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
        SockType,
    };
    use std::os::fd::AsRawFd as _;
    const RTM_NEWQDISC: u16 = 36;
    const RTM_GETQDISC: u16 = 38;
    const NLM_F_REQUEST: u16 = 1;
    const NLM_F_DUMP: u16 = 0x300;
    const NLMSG_DONE: u16 = 3;
    const NLMSG_ERROR: u16 = 2;
    const TCA_KIND: u16 = 1;
    /// nlmsghdr (16 bytes) + tcmsg (20 bytes).
    const HEADERS: usize = 36;

    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .ok()?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).ok()?;
    let mut request = Vec::with_capacity(HEADERS);
    request.extend_from_slice(&(HEADERS as u32).to_ne_bytes());
    request.extend_from_slice(&RTM_GETQDISC.to_ne_bytes());
    request.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    request.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    request.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
    request.extend_from_slice(&[0u8; 20]); // tcmsg: every interface
    send(fd.as_raw_fd(), &request, MsgFlags::empty()).ok()?;

    let u16_at =
        |b: &[u8], at: usize| Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?));
    let u32_at =
        |b: &[u8], at: usize| Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?));
    let mut kinds = Vec::new();
    let mut buffer = vec![0u8; 32 * 1024];
    // A dump ends with NLMSG_DONE; a bounded number of reads keeps a confused kernel
    // answer from looping forever.
    for _ in 0..1024 {
        let len = recv(fd.as_raw_fd(), &mut buffer, MsgFlags::empty()).ok()?;
        let mut at = 0;
        while at + 16 <= len {
            let msg_len = u32_at(&buffer, at)? as usize;
            let msg_type = u16_at(&buffer, at + 4)?;
            if msg_len < 16 || at + msg_len > len {
                return None;
            }
            match msg_type {
                NLMSG_DONE => return Some(kinds),
                NLMSG_ERROR => return None,
                RTM_NEWQDISC if msg_len >= HEADERS => {
                    let msg = &buffer[at..at + msg_len];
                    let index = u32_at(msg, 20)? as i32;
                    let mut attr = HEADERS;
                    while attr + 4 <= msg.len() {
                        let attr_len = usize::from(u16_at(msg, attr)?);
                        let attr_type = u16_at(msg, attr + 2)?;
                        if attr_len < 4 || attr + attr_len > msg.len() {
                            break;
                        }
                        if attr_type == TCA_KIND && index == ifindex {
                            let value = &msg[attr + 4..attr + attr_len];
                            let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
                            kinds.push(String::from_utf8_lossy(&value[..end]).into_owned());
                        }
                        attr += (attr_len + 3) & !3;
                    }
                }
                _ => {}
            }
            at += (msg_len + 3) & !3;
        }
    }
    None
}

/// Removes the clsact qdisc `load` created for `filter` (with it, the hooks of both
/// directions).
pub(crate) fn destroy_qdisc(filter: &TcFilter) {
    let Ok(null) = std::fs::File::open("/dev/null") else {
        return;
    };
    let mut hook = TcHook::new(null.as_fd());
    hook.ifindex(i32::try_from(filter.ifindex).unwrap_or(i32::MAX))
        .attach_point(TC_INGRESS | TC_EGRESS);
    let _ = hook.destroy();
}

/// Detaches an XDP program attached in an explicit mode, if it is still the one there.
/// Returns whether something was detached.
pub(crate) fn detach_xdp(record: &XdpAttachment) -> Result<bool, String> {
    let Ok(null) = std::fs::File::open("/dev/null") else {
        return Ok(false);
    };
    let xdp = Xdp::new(null.as_fd());
    let ifindex = i32::try_from(record.ifindex).unwrap_or(i32::MAX);
    match xdp.query_id(ifindex, record.mode.flags()) {
        Ok(id) if id == record.prog_id => {}
        _ => return Ok(false),
    }
    xdp.detach(ifindex, record.mode.flags())
        .map(|()| true)
        .map_err(|e| {
            format!(
                "detaching XDP from {}: {}",
                record.iface,
                capture::describe(&e)
            )
        })
}

/// The kernel's id of a loaded program.
pub(crate) fn program_id(program: &impl std::os::fd::AsFd) -> Option<u32> {
    libbpf_rs::Program::id_from_fd(program.as_fd()).ok()
}

/// Detaches a TC filter recorded in a pin manifest, if it is still the one we attached.
/// Returns whether something was detached.
pub(crate) fn detach_tc_filter(filter: &TcFilter) -> Result<bool, String> {
    let prog_fd = match libbpf_rs::Program::fd_from_id(filter.prog_id) {
        Ok(fd) => fd,
        // The program is gone, so is its filter.
        Err(_) => return Ok(false),
    };
    let mut hook = TcHook::new(prog_fd.as_fd());
    hook.ifindex(i32::try_from(filter.ifindex).unwrap_or(i32::MAX))
        .attach_point(match filter.direction {
            TcDirection::Ingress => TC_INGRESS,
            TcDirection::Egress => TC_EGRESS,
        })
        .handle(filter.handle)
        .priority(filter.priority);
    match hook.query() {
        Ok(id) if id == filter.prog_id => {}
        // Another program sits there now, or nothing does: not ours to remove.
        _ => return Ok(false),
    }
    hook.detach().map(|()| true).map_err(|e| {
        format!(
            "detaching the TC filter on {}: {}",
            filter.iface,
            capture::describe(&e)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_kinds_take_the_article_they_are_said_with() {
        for (kind, a) in [
            ("XDP", "an"),
            ("xdp", "an"),
            ("fentry", "an"),
            ("fexit", "an"),
            ("lsm", "an"),
            ("TC", "a"),
            ("kprobe", "a"),
            ("uprobe", "a"),
            ("tracepoint", "a"),
            ("sched_cls", "a"),
        ] {
            assert_eq!(article(kind), a, "{kind}");
        }
    }

    #[test]
    fn parses_every_point_form() {
        let cases: [(&str, AttachPoint); 9] = [
            (
                "xdp:eth0",
                AttachPoint::Xdp {
                    iface: "eth0".into(),
                    mode: XdpMode::Auto,
                },
            ),
            (
                "xdp:eth0:skb",
                AttachPoint::Xdp {
                    iface: "eth0".into(),
                    mode: XdpMode::Skb,
                },
            ),
            (
                "tc:veth1:egress",
                AttachPoint::Tc {
                    iface: "veth1".into(),
                    direction: TcDirection::Egress,
                },
            ),
            (
                "uprobe:/usr/lib/libc.so.6:malloc+0x10",
                AttachPoint::Uprobe {
                    retprobe: false,
                    binary: "/usr/lib/libc.so.6".into(),
                    function: "malloc".into(),
                    offset: 16,
                },
            ),
            (
                "uretprobe:/bin/bash:readline",
                AttachPoint::Uprobe {
                    retprobe: true,
                    binary: "/bin/bash".into(),
                    function: "readline".into(),
                    offset: 0,
                },
            ),
            (
                "usdt:/a:b/app:prov:probe",
                AttachPoint::Usdt {
                    binary: "/a:b/app".into(),
                    provider: "prov".into(),
                    name: "probe".into(),
                },
            ),
            (
                "kretprobe:do_unlinkat",
                AttachPoint::Kprobe {
                    retprobe: true,
                    function: "do_unlinkat".into(),
                },
            ),
            (
                "fexit:vfs_read",
                AttachPoint::Trace {
                    exit: true,
                    function: "vfs_read".into(),
                },
            ),
            (
                "tracepoint:sched:sched_switch",
                AttachPoint::Tracepoint {
                    category: "sched".into(),
                    name: "sched_switch".into(),
                },
            ),
        ];
        for (input, expected) in cases {
            let parsed: AttachPoint = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parsed, expected, "{input}");
            let again: AttachPoint = parsed.to_string().parse().unwrap();
            assert_eq!(again, expected, "{input} printed as {parsed}");
        }
    }

    #[test]
    fn program_names_come_before_an_equals_sign() {
        let attach: Attach = "on_call=uprobe:/opt/a=b/app:main".parse().unwrap();
        assert_eq!(attach.program.as_deref(), Some("on_call"));
        assert_eq!(
            attach.point,
            AttachPoint::Uprobe {
                retprobe: false,
                binary: "/opt/a=b/app".into(),
                function: "main".into(),
                offset: 0,
            }
        );
        // An '=' after the first ':' is part of the point, not a program name.
        let attach: Attach = "uprobe:/opt/a=b/app:main".parse().unwrap();
        assert_eq!(attach.program, None);
        assert_eq!(attach.to_string(), "uprobe:/opt/a=b/app:main");
    }

    #[test]
    fn errors_name_the_bad_part() {
        let cases = [
            ("socket:eth0", "attach type 'socket'"),
            ("xdp:", "interface name is missing"),
            ("xdp", "interface name is missing"),
            ("xdp:eth0:ingress", "XDP mode 'ingress'"),
            ("tc:eth0", "direction (ingress or egress) is missing"),
            ("tc:eth0:sideways", "direction 'sideways'"),
            ("tc:eth0:ingress:x", "extra part 'x'"),
            ("xdp:averyveryverylongname", "longer than 15"),
            ("xdp:a/b", "not a valid interface name"),
            (":eth0", "attach type is missing"),
            ("uprobe:/bin/bash", "expected uprobe:BINARY:FUNCTION"),
            ("uprobe:/bin/bash:main+zz", "offset 'zz'"),
            (
                "usdt:/bin/app:provider",
                "expected usdt:BINARY:PROVIDER:NAME",
            ),
            ("kprobe:", "kernel function is missing"),
            ("tracepoint:sched", "expected tracepoint:CATEGORY:NAME"),
            ("=xdp:eth0", "program name before '=' is empty"),
        ];
        for (input, expected) in cases {
            let err = input.parse::<Attach>().unwrap_err().to_string();
            assert!(err.contains(expected), "{input}: {err}");
            assert!(err.contains(input), "{input}: {err}");
        }
    }

    #[test]
    fn perf_points_parse_with_a_default_frequency() {
        let cases = [
            ("perf:cpu-clock:99", PerfEvent::CpuClock, 99),
            ("perf:cpu-clock", PerfEvent::CpuClock, perf::DEFAULT_FREQ),
            ("perf:task-clock:1000", PerfEvent::TaskClock, 1000),
            ("perf:cycles", PerfEvent::Cycles, 49),
            ("perf:instructions:1", PerfEvent::Instructions, 1),
            ("perf:cache-misses:7", PerfEvent::CacheMisses, 7),
            ("perf:cache-references", PerfEvent::CacheReferences, 49),
        ];
        for (input, event, freq) in cases {
            let parsed: AttachPoint = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parsed, AttachPoint::Perf { event, freq }, "{input}");
            // Shown with its frequency, and read back the same.
            assert_eq!(parsed.to_string(), format!("perf:{event}:{freq}"));
            assert_eq!(parsed.to_string().parse::<AttachPoint>().unwrap(), parsed);
        }
        let attach: Attach = "on_sample=perf:cpu-clock:999".parse().unwrap();
        assert_eq!(attach.program.as_deref(), Some("on_sample"));
        assert!(AttachPoint::Perf {
            event: PerfEvent::CpuClock,
            freq: 49
        }
        .accepts(ProgramType::PerfEvent));
        assert!(!AttachPoint::Perf {
            event: PerfEvent::CpuClock,
            freq: 49
        }
        .accepts(ProgramType::Kprobe));
    }

    #[test]
    fn bad_perf_points_name_the_bad_part() {
        let cases = [
            ("perf:", "perf event is missing"),
            ("perf", "perf event is missing"),
            ("perf::99", "perf event is missing"),
            (
                "perf:cpu_clock",
                "perf event 'cpu_clock' is not one of cpu-clock",
            ),
            ("perf:branch-misses:9", "'branch-misses' is not one of"),
            ("perf:cpu-clock:0", "frequency '0' is not a number"),
            ("perf:cpu-clock:", "frequency '' is not a number"),
            ("perf:cpu-clock:fast", "frequency 'fast'"),
            ("perf:cpu-clock:-5", "frequency '-5'"),
            ("perf:cpu-clock:1000001", "from 1 to 1000000"),
            ("perf:cpu-clock:99:1", "frequency '99:1'"),
        ];
        for (input, expected) in cases {
            let err = input.parse::<Attach>().unwrap_err().to_string();
            assert!(err.contains(expected), "{input}: {err}");
            assert!(err.contains("perf:EVENT[:FREQ]"), "{input}: {err}");
        }
    }

    #[test]
    fn sections_without_a_target_say_which_form_they_need() {
        assert_eq!(needed_form("uprobe"), Some("uprobe:BINARY:FUNCTION"));
        assert_eq!(
            needed_form("uretprobe.s"),
            Some("uretprobe:BINARY:FUNCTION")
        );
        assert_eq!(needed_form("usdt"), Some("usdt:BINARY:PROVIDER:NAME"));
        assert_eq!(needed_form("kprobe"), Some("kprobe:FUNCTION"));
        assert_eq!(needed_form("kprobe/do_sys_open"), None);
        assert_eq!(needed_form("tracepoint/syscalls/sys_enter_getpid"), None);
        assert_eq!(needed_form("socket"), None);
        assert_eq!(needed_form("perf_event"), Some("perf:EVENT[:FREQ]"));
    }
}
