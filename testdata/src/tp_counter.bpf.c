// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: count getpid(2) calls.
//
// A syscall tracepoint program that bumps slot 0 of an ARRAY map each time
// any task enters getpid(2). The map follows the bumblebee "counter_*" naming
// convention so bee-style tooling treats it as a monotonically growing counter.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counter_getpid SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int count_getpid(void *ctx)
{
	__u32 slot = 0;
	__u64 *hits = bpf_map_lookup_elem(&counter_getpid, &slot);

	if (hits)
		__sync_fetch_and_add(hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
