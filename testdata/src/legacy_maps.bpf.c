// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: pre-BTF "legacy" map definitions.
//
// Before BTF-defined maps (SEC(".maps")), maps were plain structs placed in an
// ELF section called "maps". libbpf 1.0 removed both struct bpf_map_def from
// <bpf/bpf_helpers.h> and support for loading such objects ("legacy map
// definitions in 'maps' section are not supported by libbpf v1.0+"), so this
// object is for ELF inspection only: it compiles, it does not load.
// The struct is declared here with the same layout the old header used.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") counter_legacy = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

struct bpf_map_def SEC("maps") hist_legacy = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 64,
};

SEC("tracepoint/syscalls/sys_enter_getpid")
int legacy_count(void *ctx)
{
	__u32 slot = 0, pid = bpf_get_current_pid_tgid() >> 32;
	__u64 *n, one = 1;

	n = bpf_map_lookup_elem(&counter_legacy, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);

	n = bpf_map_lookup_elem(&hist_legacy, &pid);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&hist_legacy, &pid, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
