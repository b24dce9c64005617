// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
// ebpf-layout test fixture: several programs, maps and a .rodata global in
// one object.
//
// Programs:
//   on_getuid  tracepoint/syscalls/sys_enter_getuid  last uid -> gauge_last_uid
//   on_getgid  tracepoint/syscalls/sys_enter_getgid  last gid -> gauge_last_gid
//   on_sys_enter raw_tracepoint/sys_enter            every syscall, per CPU
// All three ignore tasks other than target_pid, unless target_pid is 0.
// target_pid lives in .rodata so a loader can set it before load.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Set by the loader before the object is loaded; 0 means "every process". */
const volatile __u32 target_pid = 0;

enum {
	SLOT_GETUID = 0,
	SLOT_GETGID = 1,
	SLOT_ANY_SYSCALL = 2,
	NR_SLOTS = 3,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gauge_last_uid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gauge_last_gid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} counter_calls SEC(".maps");

static __always_inline int wanted(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return target_pid == 0 || tgid == target_pid;
}

static __always_inline void bump(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&counter_calls, &slot);

	if (n)
		*n += 1; /* per-CPU slot: no atomics needed */
}

static __always_inline void set_gauge(void *map, __u64 value)
{
	__u32 zero = 0;

	bpf_map_update_elem(map, &zero, &value, BPF_ANY);
}

SEC("tracepoint/syscalls/sys_enter_getuid")
int on_getuid(void *ctx)
{
	if (!wanted())
		return 0;
	set_gauge(&gauge_last_uid, (__u32)bpf_get_current_uid_gid());
	bump(SLOT_GETUID);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getgid")
int on_getgid(void *ctx)
{
	if (!wanted())
		return 0;
	set_gauge(&gauge_last_gid, bpf_get_current_uid_gid() >> 32);
	bump(SLOT_GETGID);
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int on_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if (!wanted())
		return 0;
	bump(SLOT_ANY_SYSCALL);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
