// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: uprobe, uretprobe and usdt programs whose sections
// name no target, as libbpf-tools and libbpf-bootstrap write them: their user
// space says which binary and function (or USDT probe) they attach to.
// tests/load_programs.rs builds a small C target (src/probe_target.c) and
// attaches them with `--attach`.
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
/* The maps libbpf fills in to attach USDT programs. */
#include <bpf/usdt.bpf.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} counter_probes SEC(".maps");

enum { SLOT_CALLS = 0, SLOT_RETURNS = 1, SLOT_MARKS = 2 };

static __always_inline void add(__u32 slot, __u64 n)
{
	__u64 *value = bpf_map_lookup_elem(&counter_probes, &slot);

	if (value)
		__sync_fetch_and_add(value, n);
}

SEC("uprobe")
int on_call(struct pt_regs *ctx)
{
	add(SLOT_CALLS, 1);
	return 0;
}

SEC("uretprobe")
int on_return(struct pt_regs *ctx)
{
	add(SLOT_RETURNS, 1);
	return 0;
}

SEC("usdt")
int on_mark(struct pt_regs *ctx)
{
	add(SLOT_MARKS, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
