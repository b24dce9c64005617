// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: a map pinned by name, as xdp-tools declares its
// statistics and filter maps. libbpf on its own pins such a map at
// /sys/fs/bpf/NAME and reuses whatever is pinned there on the next load.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ebl_pinned_stats SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpriority")
int count_getpriority(void *ctx)
{
	__u32 slot = 0;
	__u64 *hits = bpf_map_lookup_elem(&ebl_pinned_stats, &slot);

	if (hits)
		__sync_fetch_and_add(hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
