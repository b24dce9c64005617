//! Program types from ELF section names, following the rules of libbpf 1.x.
//!
//! libbpf decides a program's type from the name of the section it lives in
//! (`SEC("...")`), using a table of patterns in three forms:
//!
//! * `name+`: the section is exactly `name` or starts with `name/` (`tracepoint+`
//!   matches `tracepoint/syscalls/sys_enter_getpid`);
//! * `name/`: the section starts with `name/`;
//! * `name`: the section is exactly `name`.
//!
//! The first matching pattern wins. Section names that libbpf 0.x accepted loosely
//! (`xdp_prog`, `classifier/ingress`) are not recognised by libbpf 1.x, so they are
//! reported as unknown here too: that is what the loader will see.

/// `(pattern, program type)` in libbpf's order. Program types are libbpf's names
/// (`libbpf_bpf_prog_type_str`), which are the kernel's `BPF_PROG_TYPE_*` in lower case.
const SECTION_TYPES: &[(&str, &str)] = &[
    ("socket", "socket_filter"),
    ("sk_reuseport/migrate", "sk_reuseport"),
    ("sk_reuseport", "sk_reuseport"),
    ("kprobe+", "kprobe"),
    ("uprobe+", "kprobe"),
    ("uprobe.s+", "kprobe"),
    ("kretprobe+", "kprobe"),
    ("uretprobe+", "kprobe"),
    ("uretprobe.s+", "kprobe"),
    ("kprobe.multi+", "kprobe"),
    ("kretprobe.multi+", "kprobe"),
    ("kprobe.session+", "kprobe"),
    ("uprobe.multi+", "kprobe"),
    ("uretprobe.multi+", "kprobe"),
    ("uprobe.multi.s+", "kprobe"),
    ("uretprobe.multi.s+", "kprobe"),
    ("uprobe.session+", "kprobe"),
    ("uprobe.session.s+", "kprobe"),
    ("ksyscall+", "kprobe"),
    ("kretsyscall+", "kprobe"),
    ("usdt+", "kprobe"),
    ("usdt.s+", "kprobe"),
    ("tc/ingress", "sched_cls"),
    ("tc/egress", "sched_cls"),
    ("tcx/ingress", "sched_cls"),
    ("tcx/egress", "sched_cls"),
    ("netkit/primary", "sched_cls"),
    ("netkit/peer", "sched_cls"),
    ("tc", "sched_cls"),
    ("classifier", "sched_cls"),
    ("action", "sched_act"),
    ("tracepoint+", "tracepoint"),
    ("tp+", "tracepoint"),
    ("raw_tracepoint+", "raw_tracepoint"),
    ("raw_tp+", "raw_tracepoint"),
    ("raw_tracepoint.w+", "raw_tracepoint_writable"),
    ("raw_tp.w+", "raw_tracepoint_writable"),
    ("tp_btf+", "tracing"),
    ("fentry+", "tracing"),
    ("fmod_ret+", "tracing"),
    ("fexit+", "tracing"),
    ("fentry.s+", "tracing"),
    ("fmod_ret.s+", "tracing"),
    ("fexit.s+", "tracing"),
    ("freplace+", "ext"),
    ("lsm+", "lsm"),
    ("lsm.s+", "lsm"),
    ("lsm_cgroup+", "lsm"),
    ("iter+", "tracing"),
    ("iter.s+", "tracing"),
    ("syscall", "syscall"),
    ("xdp.frags/devmap", "xdp"),
    ("xdp/devmap", "xdp"),
    ("xdp.frags/cpumap", "xdp"),
    ("xdp/cpumap", "xdp"),
    ("xdp.frags", "xdp"),
    ("xdp", "xdp"),
    ("perf_event", "perf_event"),
    ("lwt_in", "lwt_in"),
    ("lwt_out", "lwt_out"),
    ("lwt_xmit", "lwt_xmit"),
    ("lwt_seg6local", "lwt_seg6local"),
    ("sockops", "sock_ops"),
    ("sk_skb/stream_parser", "sk_skb"),
    ("sk_skb/stream_verdict", "sk_skb"),
    ("sk_skb/verdict", "sk_skb"),
    ("sk_skb", "sk_skb"),
    ("sk_msg", "sk_msg"),
    ("lirc_mode2", "lirc_mode2"),
    ("flow_dissector", "flow_dissector"),
    ("cgroup_skb/ingress", "cgroup_skb"),
    ("cgroup_skb/egress", "cgroup_skb"),
    ("cgroup/skb", "cgroup_skb"),
    ("cgroup/sock_create", "cgroup_sock"),
    ("cgroup/sock_release", "cgroup_sock"),
    ("cgroup/sock", "cgroup_sock"),
    ("cgroup/post_bind4", "cgroup_sock"),
    ("cgroup/post_bind6", "cgroup_sock"),
    ("cgroup/bind4", "cgroup_sock_addr"),
    ("cgroup/bind6", "cgroup_sock_addr"),
    ("cgroup/connect4", "cgroup_sock_addr"),
    ("cgroup/connect6", "cgroup_sock_addr"),
    ("cgroup/connect_unix", "cgroup_sock_addr"),
    ("cgroup/sendmsg4", "cgroup_sock_addr"),
    ("cgroup/sendmsg6", "cgroup_sock_addr"),
    ("cgroup/sendmsg_unix", "cgroup_sock_addr"),
    ("cgroup/recvmsg4", "cgroup_sock_addr"),
    ("cgroup/recvmsg6", "cgroup_sock_addr"),
    ("cgroup/recvmsg_unix", "cgroup_sock_addr"),
    ("cgroup/getpeername4", "cgroup_sock_addr"),
    ("cgroup/getpeername6", "cgroup_sock_addr"),
    ("cgroup/getpeername_unix", "cgroup_sock_addr"),
    ("cgroup/getsockname4", "cgroup_sock_addr"),
    ("cgroup/getsockname6", "cgroup_sock_addr"),
    ("cgroup/getsockname_unix", "cgroup_sock_addr"),
    ("cgroup/sysctl", "cgroup_sysctl"),
    ("cgroup/getsockopt", "cgroup_sockopt"),
    ("cgroup/setsockopt", "cgroup_sockopt"),
    ("cgroup/dev", "cgroup_device"),
    ("struct_ops+", "struct_ops"),
    ("struct_ops.s+", "struct_ops"),
    ("sk_lookup", "sk_lookup"),
    ("netfilter", "netfilter"),
];

/// Whether `section` matches one pattern of [`SECTION_TYPES`].
fn matches(pattern: &str, section: &str) -> bool {
    if let Some(base) = pattern.strip_suffix('+') {
        section
            .strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    } else if pattern.ends_with('/') {
        section.starts_with(pattern)
    } else {
        section == pattern
    }
}

/// libbpf's program type for a section name, `None` when libbpf would not know it.
pub(super) fn for_section(section: &str) -> Option<&'static str> {
    SECTION_TYPES
        .iter()
        .find(|(pattern, _)| matches(pattern, section))
        .map(|&(_, program_type)| program_type)
}

/// The attach target written in a recognised section name: everything after the
/// first `/` (`tracepoint/syscalls/sys_enter_getpid` → `syscalls/sys_enter_getpid`,
/// `uprobe//usr/bin/bash:readline` → `/usr/bin/bash:readline`), `None` when there is
/// nothing after the type.
pub(super) fn attach_target(section: &str) -> Option<&str> {
    section
        .split_once('/')
        .map(|(_, rest)| rest)
        .filter(|rest| !rest.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_libbpf_section_names() {
        let cases = [
            ("tracepoint/syscalls/sys_enter_getpid", Some("tracepoint")),
            ("tp/sched/sched_switch", Some("tracepoint")),
            ("raw_tp/sys_enter", Some("raw_tracepoint")),
            ("raw_tracepoint.w/foo", Some("raw_tracepoint_writable")),
            ("tp_btf/sched_switch", Some("tracing")),
            ("fentry/do_unlinkat", Some("tracing")),
            ("fexit.s/do_unlinkat", Some("tracing")),
            ("iter/task", Some("tracing")),
            ("lsm/file_open", Some("lsm")),
            ("lsm.s/bprm_committed_creds", Some("lsm")),
            ("xdp", Some("xdp")),
            ("xdp.frags", Some("xdp")),
            ("xdp/devmap", Some("xdp")),
            ("tc", Some("sched_cls")),
            ("classifier", Some("sched_cls")),
            ("tcx/ingress", Some("sched_cls")),
            ("action", Some("sched_act")),
            ("kprobe/do_sys_open", Some("kprobe")),
            ("kprobe", Some("kprobe")),
            ("kretprobe.multi/vfs_*", Some("kprobe")),
            ("uprobe//usr/bin/bash:readline", Some("kprobe")),
            ("usdt/./app:prov:probe", Some("kprobe")),
            ("ksyscall/openat", Some("kprobe")),
            ("perf_event", Some("perf_event")),
            ("socket", Some("socket_filter")),
            ("cgroup_skb/ingress", Some("cgroup_skb")),
            ("cgroup/connect4", Some("cgroup_sock_addr")),
            ("cgroup/sock", Some("cgroup_sock")),
            ("cgroup/dev", Some("cgroup_device")),
            ("sk_msg", Some("sk_msg")),
            ("sk_skb/stream_verdict", Some("sk_skb")),
            ("sockops", Some("sock_ops")),
            ("struct_ops/dctcp_init", Some("struct_ops")),
            ("freplace/handler", Some("ext")),
            ("syscall", Some("syscall")),
            ("netfilter", Some("netfilter")),
            // libbpf 1.x is strict: no loose prefixes.
            ("xdp_prog", None),
            ("xdp/foo", None),
            ("classifier/ingress", None),
            ("kprobes/foo", None),
            ("tracepointx", None),
            ("", None),
            ("weird_thing", None),
        ];
        for (section, expected) in cases {
            assert_eq!(for_section(section), expected, "{section}");
        }
    }

    #[test]
    fn attach_target_is_what_follows_the_first_slash() {
        assert_eq!(
            attach_target("tracepoint/syscalls/sys_enter_getpid"),
            Some("syscalls/sys_enter_getpid")
        );
        assert_eq!(
            attach_target("uprobe//usr/bin/bash:readline"),
            Some("/usr/bin/bash:readline")
        );
        assert_eq!(attach_target("cgroup_skb/ingress"), Some("ingress"));
        assert_eq!(attach_target("xdp"), None);
        assert_eq!(attach_target("kprobe/"), None);
    }
}
