// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: a CO-RE read of the calling task's tgid.
//
// On each getpid(2), reads task_struct->tgid through a CO-RE relocation (the
// struct below is a partial declaration marked preserve_access_index: libbpf
// finds the field's real offset in the kernel's BTF, or in the BTF given as
// btf_custom_path) and compares it with bpf_get_current_pid_tgid(). Slot 0 of
// counter_core_tgid counts reads that matched, slot 1 reads that did not: a
// wrong offset shows up as slot 1 growing. Used by the bundled kernel BTF
// tests (issue #18), which need an object with CO-RE relocations.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int tgid;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counter_core_tgid SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int core_tgid(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u32 slot = tgid == (__u32)(bpf_get_current_pid_tgid() >> 32) ? 0 : 1;
	__u64 *hits = bpf_map_lookup_elem(&counter_core_tgid, &slot);

	if (hits)
		__sync_fetch_and_add(hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
