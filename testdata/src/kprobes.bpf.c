// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: kprobe programs as real tools ship them, one with a
// placeholder target in its section (user space attaches it elsewhere) and one
// with no target at all.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 placeholder_hits = 0;
__u64 bare_hits = 0;

SEC("kprobe/foo")
int on_placeholder(void *ctx)
{
	__sync_fetch_and_add(&placeholder_hits, 1);
	return 0;
}

SEC("kprobe")
int on_bare(void *ctx)
{
	__sync_fetch_and_add(&bare_hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
