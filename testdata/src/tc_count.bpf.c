// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: a TC (sched_cls) packet counter.
//
// Attached to a clsact qdisc (ingress or egress) with a direct-action filter,
// it bumps slot 0 of an ARRAY map for every packet it sees and lets the packet
// through unchanged (TC_ACT_OK), so attaching it is harmless. SEC("tc") is the
// libbpf 1.x name for a legacy (netlink, not tcx) sched_cls program; libbpf
// knows no automatic attach target for it, so a loader has to be told the
// interface and direction.
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counter_tc_packets SEC(".maps");

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *packets;

	packets = bpf_map_lookup_elem(&counter_tc_packets, &zero);
	if (packets)
		__sync_fetch_and_add(packets, 1);

	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
