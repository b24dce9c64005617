// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: a bumblebee-style perf buffer.
//
// Like ringbuf_events, but with a BPF_MAP_TYPE_PERF_EVENT_ARRAY: bee declares
// it with the record type, __type(value, struct event), so that the record
// layout can be read from BTF. The kernel wants a perf event array's key and
// value to be 4 bytes each (CPU index -> perf event fd), so as written (value
// size 32) the map creation fails with EINVAL; a loader has to set the value
// size to 4 before load (libbpf creates perf event arrays without BTF anyway).
// max_entries is left out on purpose: libbpf sets it to the number of possible
// CPUs.
//
// Every getpgid(2) call sends one 32-byte record to the perf buffer of the CPU
// it ran on.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define COMM_LEN 16

struct event {
	__u32 pid;	/* the calling thread (the kernel's pid, gettid(2)) */
	__u32 tgid;	/* its process (getpid(2)) */
	char comm[COMM_LEN];
	__u64 seq;	/* 1 for the first call seen, then 2, 3, ... */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__type(value, struct event);
} print_events SEC(".maps");

/* Number of getpgid(2) calls seen so far. */
__u64 calls = 0;

SEC("tracepoint/syscalls/sys_enter_getpgid")
int emit_getpgid(void *ctx)
{
	struct event ev = {};
	__u64 id = bpf_get_current_pid_tgid();

	ev.pid = (__u32)id;
	ev.tgid = id >> 32;
	bpf_get_current_comm(ev.comm, sizeof(ev.comm));
	ev.seq = __sync_fetch_and_add(&calls, 1) + 1;

	bpf_perf_event_output(ctx, &print_events, BPF_F_CURRENT_CPU, &ev, sizeof(ev));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
