// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: alternative programs for different kernels, as
// libbpf-tools ship them and choose between with autoload. on_sync_range2
// traces a syscall that only some architectures have (arm64's
// sync_file_range2), so its tracepoint does not exist on x86-64.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counter_syncs SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	__u64 *value = bpf_map_lookup_elem(&counter_syncs, &slot);

	if (value)
		__sync_fetch_and_add(value, 1);
}

SEC("tracepoint/syscalls/sys_enter_syncfs")
int on_syncfs(void *ctx)
{
	bump(0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sync_file_range2")
int on_sync_range2(void *ctx)
{
	bump(1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
