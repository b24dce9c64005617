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
use std::str::FromStr;

use libbpf_rs::{Link, Object, OpenObject, ProgramType, TcHook, TC_EGRESS, TC_INGRESS};
use serde::{Deserialize, Serialize};

use super::capture::{self, LogCapture};
use super::errors::LoadError;

/// The longest interface name Linux accepts (IFNAMSIZ minus the terminating NUL).
const MAX_IFACE_NAME: usize = 15;

/// `EOPNOTSUPP`: what `bpf_program__attach` answers for a section with no automatic target.
const EOPNOTSUPP: i32 = 95;
/// `EPERM`.
const EPERM: i32 = 1;
/// `EBUSY`: the interface already has an XDP program.
const EBUSY: i32 = 16;

/// Where to attach a program that cannot find its own target (XDP, TC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AttachPoint {
    /// An XDP program on a network interface (`xdp:IFACE`).
    Xdp {
        /// The interface name.
        iface: String,
    },
    /// A TC (sched_cls) program on a network interface's clsact qdisc
    /// (`tc:IFACE:ingress` or `tc:IFACE:egress`).
    Tc {
        /// The interface name.
        iface: String,
        /// Ingress or egress.
        direction: TcDirection,
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
            AttachPoint::Xdp { iface } => write!(f, "xdp:{iface}"),
            AttachPoint::Tc { iface, direction } => write!(f, "tc:{iface}:{direction}"),
        }
    }
}

impl AttachPoint {
    /// The interface this attach point names.
    pub fn iface(&self) -> &str {
        match self {
            AttachPoint::Xdp { iface } | AttachPoint::Tc { iface, .. } => iface,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            AttachPoint::Xdp { .. } => "XDP",
            AttachPoint::Tc { .. } => "TC",
        }
    }
}

impl FromStr for AttachPoint {
    type Err = LoadError;

    /// Parses `xdp:IFACE` or `tc:IFACE:ingress|egress`; the error names the bad part.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| LoadError::InvalidAttachPoint {
            input: input.to_owned(),
            reason,
        };
        let mut parts = input.split(':');
        let kind = parts.next().unwrap_or_default();
        let iface = parts.next();
        let direction = parts.next();
        if let Some(extra) = parts.next() {
            return Err(invalid(format!("unexpected extra part '{extra}'")));
        }
        let check_iface = |iface: Option<&str>| -> Result<String, LoadError> {
            let iface = iface.unwrap_or_default();
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
        match kind {
            "xdp" => {
                if let Some(direction) = direction {
                    return Err(invalid(format!(
                        "XDP has no direction, remove ':{direction}'"
                    )));
                }
                Ok(AttachPoint::Xdp {
                    iface: check_iface(iface)?,
                })
            }
            "tc" => {
                let iface = check_iface(iface)?;
                let direction = match direction {
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
                Ok(AttachPoint::Tc { iface, direction })
            }
            "" => Err(invalid("the attach type is missing".into())),
            other => Err(invalid(format!(
                "attach type '{other}' is not supported (use 'xdp' or 'tc')"
            ))),
        }
    }
}

/// How one program will be attached.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// By libbpf, from the program's section.
    Auto,
    /// XDP on an interface.
    Xdp { iface: String, ifindex: u32 },
    /// TC on an interface.
    Tc {
        iface: String,
        ifindex: u32,
        direction: TcDirection,
    },
}

impl Target {
    fn describe(&self, section: &str) -> String {
        match self {
            Target::Auto => section.to_owned(),
            Target::Xdp { iface, .. } => format!("xdp:{iface}"),
            Target::Tc {
                iface, direction, ..
            } => format!("tc:{iface}:{direction}"),
        }
    }
}

/// The attach plan: for every program that will be loaded, its targets.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// (program name, targets), in object order.
    pub programs: Vec<(String, Vec<Target>)>,
}

/// Decides, on the opened (not yet loaded) object, where each program to be loaded goes,
/// and checks every precondition that does not need loading: attach points match exactly
/// one program of their kind, interfaces exist, tracefs is there for tracepoints.
pub(crate) fn plan(open: &OpenObject, attach: &[AttachPoint]) -> Result<Plan, LoadError> {
    let loaded: Vec<(String, ProgramType)> = open
        .progs()
        .filter(|p| p.autoload())
        .map(|p| (p.name().to_string_lossy().into_owned(), p.prog_type()))
        .collect();

    let mut plan = Plan::default();
    for (name, _) in &loaded {
        plan.programs.push((name.clone(), Vec::new()));
    }

    for point in attach {
        let wanted = |t: ProgramType| match point {
            AttachPoint::Xdp { .. } => t == ProgramType::Xdp,
            AttachPoint::Tc { .. } => matches!(t, ProgramType::SchedCls | ProgramType::SchedAct),
        };
        let candidates: Vec<&String> = loaded
            .iter()
            .filter(|(_, t)| wanted(*t))
            .map(|(n, _)| n)
            .collect();
        let program = match candidates.as_slice() {
            [one] => (*one).clone(),
            [] => {
                let names: Vec<&str> = loaded.iter().map(|(n, _)| n.as_str()).collect();
                return Err(LoadError::NoProgramForAttachPoint {
                    point: point.to_string(),
                    kind: point.kind(),
                    detail: if names.is_empty() {
                        String::new()
                    } else {
                        format!(" (loaded: {})", names.join(", "))
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
        };
        let ifindex = interface_index(point.iface(), point)?;
        let target = match point {
            AttachPoint::Xdp { iface } => Target::Xdp {
                iface: iface.clone(),
                ifindex,
            },
            AttachPoint::Tc { iface, direction } => Target::Tc {
                iface: iface.clone(),
                ifindex,
                direction: *direction,
            },
        };
        if let Some((_, targets)) = plan.programs.iter_mut().find(|(n, _)| *n == program) {
            targets.push(target);
        }
    }

    for ((name, targets), (_, prog_type)) in plan.programs.iter_mut().zip(&loaded) {
        match prog_type {
            ProgramType::Xdp if targets.is_empty() => {
                return Err(LoadError::NeedsAttachTarget {
                    program: name.clone(),
                    kind: "XDP",
                    example: "xdp:IFACE",
                })
            }
            ProgramType::SchedCls | ProgramType::SchedAct if targets.is_empty() => {
                return Err(LoadError::NeedsAttachTarget {
                    program: name.clone(),
                    kind: "TC",
                    example: "tc:IFACE:ingress",
                })
            }
            ProgramType::Xdp | ProgramType::SchedCls | ProgramType::SchedAct => {}
            ProgramType::Tracepoint => {
                if !tracefs_mounted() {
                    return Err(LoadError::TracefsNotMounted {
                        program: name.clone(),
                    });
                }
                targets.push(Target::Auto);
            }
            _ => targets.push(Target::Auto),
        }
    }
    Ok(plan)
}

/// Whether libbpf will find tracepoint ids: it reads them from tracefs, at
/// /sys/kernel/debug/tracing if that exists, else /sys/kernel/tracing. Checked with `statfs`,
/// which needs no permission on the folder itself (so an unprivileged user gets the
/// privilege error later, not a wrong "not mounted").
fn tracefs_mounted() -> bool {
    ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .any(|path| {
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
    /// A BPF link (tracepoints, XDP, …): detached when closed, unless pinned.
    Link {
        /// The program.
        program: String,
        /// Where (section or `xdp:IFACE`).
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
    /// Leaves everything attached when dropped (the pins and TC filters keep it running).
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
                } if p == program => Some(target.clone()),
                Attachment::Tc {
                    program: p, filter, ..
                } if p == program => Some(format!("tc:{}:{}", filter.iface, filter.direction)),
                _ => None,
            })
            .collect()
    }
}

impl Drop for Attachments {
    fn drop(&mut self) {
        if self.keep {
            // Pinned links stay attached when our fds close (the pin holds them), and TC
            // filters are left in place: `unload` removes both.
            return;
        }
        // Detach in reverse order; links detach when dropped.
        while let Some(item) = self.items.pop() {
            if let Attachment::Tc { mut hook, .. } = item {
                let _ = hook.detach();
            }
        }
    }
}

/// Attaches every program of the plan. On the first failure, everything attached so far
/// is detached (by dropping it) and the error names the program and the kernel's reason.
pub(crate) fn attach_all(
    obj: &Object,
    plan: &Plan,
    log: &LogCapture,
) -> Result<Attachments, LoadError> {
    let mut attachments = Attachments::default();
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
            let failure_with =
                |err: &libbpf_rs::Error, messages: &[(libbpf_rs::PrintLevel, String)]| {
                    if capture::errno(err) == Some(EPERM) {
                        return LoadError::NotPrivileged {
                            action: format!(
                                "attaching program '{name}' to {}",
                                target.describe(&section)
                            ),
                        };
                    }
                    let mut reason = capture::describe_with_log(err, messages);
                    if let (Target::Xdp { iface, .. }, Some(EBUSY)) = (target, capture::errno(err))
                    {
                        reason.push_str(&format!(
                            "\n(another XDP program is already attached to {iface}: \
                         `ip link set dev {iface} xdp off` removes one attached by ip)"
                        ));
                    }
                    LoadError::Attach {
                        program: name.clone(),
                        target: target.describe(&section),
                        reason,
                    }
                };
            let failure = |err: &libbpf_rs::Error, log: &LogCapture| failure_with(err, &log.take());
            match target {
                Target::Auto => match program.attach() {
                    Ok(link) => attachments.items.push(Attachment::Link {
                        program: name.clone(),
                        target: section.clone(),
                        iface: None,
                        link,
                    }),
                    Err(err) => {
                        let messages = log.take();
                        // libbpf knows no target for this section (e.g. SEC("socket"),
                        // SEC("kprobe") without a function): it says so with EOPNOTSUPP and no
                        // warning, and the program stays loaded, unattached.
                        let no_target = capture::errno(&err) == Some(EOPNOTSUPP)
                            && capture::warnings(&messages).is_empty();
                        if !no_target {
                            return Err(failure_with(&err, &messages));
                        }
                    }
                },
                Target::Xdp { iface, ifindex } => {
                    let ifindex = i32::try_from(*ifindex).unwrap_or(i32::MAX);
                    match program.attach_xdp(ifindex) {
                        Ok(link) => attachments.items.push(Attachment::Link {
                            program: name.clone(),
                            target: format!("xdp:{iface}"),
                            iface: Some(iface.clone()),
                            link,
                        }),
                        Err(err) => return Err(failure(&err, log)),
                    }
                }
                Target::Tc {
                    iface,
                    ifindex,
                    direction,
                } => {
                    let mut hook = TcHook::new(program.as_fd());
                    hook.ifindex(i32::try_from(*ifindex).unwrap_or(i32::MAX))
                        .replace(false)
                        .attach_point(match direction {
                            TcDirection::Ingress => TC_INGRESS,
                            TcDirection::Egress => TC_EGRESS,
                        });
                    // Creates the clsact qdisc if the interface has none (an existing one is
                    // fine). It is left in place afterwards: other filters may use it.
                    if let Err(err) = hook.create() {
                        return Err(failure(&err, log));
                    }
                    match hook.attach() {
                        Ok(attached) => {
                            let prog_id = program_id(&program).unwrap_or(0);
                            attachments.items.push(Attachment::Tc {
                                program: name.clone(),
                                filter: TcFilter {
                                    iface: iface.clone(),
                                    ifindex: *ifindex,
                                    direction: *direction,
                                    handle: attached.get_handle(),
                                    priority: attached.get_priority(),
                                    prog_id,
                                },
                                hook: attached,
                            })
                        }
                        Err(err) => return Err(failure(&err, log)),
                    }
                }
            }
        }
    }
    log.clear();
    Ok(attachments)
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
    fn parses_xdp_and_tc() {
        assert_eq!(
            "xdp:eth0".parse::<AttachPoint>().unwrap(),
            AttachPoint::Xdp {
                iface: "eth0".into()
            }
        );
        assert_eq!(
            "tc:veth1:egress".parse::<AttachPoint>().unwrap(),
            AttachPoint::Tc {
                iface: "veth1".into(),
                direction: TcDirection::Egress
            }
        );
        assert_eq!(
            "tc:lo:ingress".parse::<AttachPoint>().unwrap().to_string(),
            "tc:lo:ingress"
        );
    }

    #[test]
    fn errors_name_the_bad_part() {
        let cases = [
            ("kprobe:eth0", "attach type 'kprobe'"),
            ("xdp:", "interface name is missing"),
            ("xdp", "interface name is missing"),
            ("xdp:eth0:ingress", "XDP has no direction"),
            ("tc:eth0", "direction (ingress or egress) is missing"),
            ("tc:eth0:sideways", "direction 'sideways'"),
            ("tc:eth0:ingress:x", "extra part 'x'"),
            ("xdp:averyveryverylongname", "longer than 15"),
            ("xdp:a/b", "not a valid interface name"),
            (":eth0", "attach type is missing"),
        ];
        for (input, expected) in cases {
            let err = input.parse::<AttachPoint>().unwrap_err().to_string();
            assert!(err.contains(expected), "{input}: {err}");
            assert!(err.contains(input), "{input}: {err}");
        }
    }
}
