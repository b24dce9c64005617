// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: count perf-event samples.
//
// A perf_event program (what profile-style tools sample with) that bumps slot
// 0 of an ARRAY map at every sample of the perf event it is attached to. The
// section names no event: user space opens one (`--attach perf:EVENT[:FREQ]`).
// The map follows the bumblebee "counter_*" naming so that it is shown.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counter_samples SEC(".maps");

SEC("perf_event")
int on_sample(void *ctx)
{
	__u32 slot = 0;
	__u64 *samples = bpf_map_lookup_elem(&counter_samples, &slot);

	if (samples)
		__sync_fetch_and_add(samples, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
