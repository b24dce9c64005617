// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: a bumblebee-style ring buffer.
//
// bumblebee ("bee") programs declare their ring buffer WITH a value type so
// that bee can learn the record layout from BTF and pretty-print each record.
// libbpf passes that value size (32) to BPF_MAP_CREATE, and the kernel only
// accepts a BPF_MAP_TYPE_RINGBUF with key_size == value_size == 0, so this
// object does NOT load as written with plain libbpf 1.1 / bpftool (EINVAL on
// map creation). ebpf-layout's loader has to set the value size to 0 (and
// drop the BTF value type) before load. That refusal is what this fixture is
// for; README.md quotes the exact messages.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define COMM_LEN 16

struct event {
	__u32 pid;
	__u32 uid;
	char comm[COMM_LEN];
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
	__type(value, struct event);
} print_events SEC(".maps");

/* Number of getppid(2) calls seen so far; every record carries the next value. */
__u64 seen = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int emit_getppid(void *ctx)
{
	struct event *ev;

	ev = bpf_ringbuf_reserve(&print_events, sizeof(*ev), 0);
	if (!ev)
		return 0;

	ev->pid = bpf_get_current_pid_tgid() >> 32;
	ev->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	ev->count = __sync_fetch_and_add(&seen, 1) + 1;

	bpf_ringbuf_submit(ev, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
