// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: an fentry program, the BTF-typed tracing kind that
// kernel lockdown refuses (it reads kernel memory), and a bare fentry whose
// function user space gives.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 unlinks = 0;

SEC("fentry/do_unlinkat")
int on_unlinkat(void *ctx)
{
	__sync_fetch_and_add(&unlinks, 1);
	return 0;
}

SEC("fentry")
int on_any(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
