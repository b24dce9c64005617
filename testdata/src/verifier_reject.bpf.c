// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: an object the kernel verifier MUST reject.
//
// It compiles cleanly and libbpf opens it and creates its map, but
// BPF_PROG_LOAD fails: bpf_map_lookup_elem() on a HASH map returns
// "pointer to map value OR NULL" (PTR_TO_MAP_VALUE_OR_NULL), and the program
// dereferences that pointer without checking it for NULL first. The verifier
// stops with
//   R0 invalid mem access 'map_value_or_null'
// and the load fails with EACCES (-13). Tests use it to check that the
// verifier log reaches the user instead of a bare errno.
//
// A HASH map is used on purpose: recent kernels (6.1x) prove that a lookup
// in an ARRAY map with a constant, in-range key cannot return NULL, so the
// same bug on an ARRAY map is accepted there.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counter_rejected SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int missing_null_check(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 *hits = bpf_map_lookup_elem(&counter_rejected, &pid);

	/* BUG ON PURPOSE: no "if (!hits) return 0;" before the dereference. */
	*hits += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
