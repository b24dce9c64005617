// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: an object configured by its user space, the way
// libbpf-tools programs are.
//
// * `const volatile` filters in .rodata (a tgid, a bool, an enum, a comm
//   string), meant to be set between open and load (`load --global`);
// * counters in .bss that user space reads back;
// * a stack-trace map declared without max_entries or value size, which user
//   space sizes before load (`load --max-entries`).
//
// on_getsid counts getsid(2) calls of the target process in `hits`; in
// MODE_STACKS it also records the user stack and counts it in `stacks_taken`.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define COMM_LEN 16

enum ebl_mode {
	MODE_COUNT = 0,
	MODE_STACKS = 1,
};

const volatile __u32 targ_tgid = 0;
const volatile _Bool enabled = 1;
const volatile enum ebl_mode mode = MODE_COUNT;
const volatile char targ_comm[COMM_LEN] = "";

__u64 hits = 0;
__u64 stacks_taken = 0;

/* No max_entries, no value size: user space sets both (stack depth * 8). */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
} stacks SEC(".maps");

static __always_inline int comm_matches(void)
{
	char comm[COMM_LEN];
	int i;

	if (targ_comm[0] == '\0')
		return 1;
	bpf_get_current_comm(comm, sizeof(comm));
#pragma unroll
	for (i = 0; i < COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return 0;
		if (comm[i] == '\0')
			break;
	}
	return 1;
}

SEC("tracepoint/syscalls/sys_enter_getsid")
int on_getsid(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!enabled)
		return 0;
	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (!comm_matches())
		return 0;
	__sync_fetch_and_add(&hits, 1);
	if (mode == MODE_STACKS &&
	    bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK) >= 0)
		__sync_fetch_and_add(&stacks_taken, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
