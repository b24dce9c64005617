// SPDX-License-Identifier: GPL-2.0
// ebpf-layout test fixture: an XDP packet counter.
//
// Counts every packet in counter_packets[0] and, for IPv4 packets, keeps a
// histogram of the IP protocol number in hist_protocols. Every packet is
// passed on unchanged (XDP_PASS), so attaching it to an interface is harmless.
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counter_packets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} hist_protocols SEC(".maps");

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 zero = 0, proto;
	__u64 *val, one = 1;

	val = bpf_map_lookup_elem(&counter_packets, &zero);
	if (val)
		__sync_fetch_and_add(val, 1);

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;

	proto = ip->protocol;
	val = bpf_map_lookup_elem(&hist_protocols, &proto);
	if (val)
		__sync_fetch_and_add(val, 1);
	else
		bpf_map_update_elem(&hist_protocols, &proto, &one, BPF_NOEXIST);

	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
