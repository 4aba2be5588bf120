// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * make bench's traffic: run with BPF_F_TEST_XDP_LIVE_FRAMES, every frame
 * goes back out of the veth it was "received" on (XDP_TX), to the peer
 * where the program under test runs. Before it goes, its IPv4 source is
 * made one of gen_sources addresses from gen_base on (a new one for each
 * frame, so a flood from many hosts is many hosts), with the IP checksum
 * fixed up. The sources come in a scattered order: each is gen_step on
 * from the last (modulo gen_sources; the step is coprime with it, so every
 * source comes once a cycle), so that consecutive frames fall in distant
 * prefixes, as a flood from many hosts does, rather than 256 in a row in
 * one /24, which would keep the walk's path in cache. And a receiver that
 * only counts and drops: the floor.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 gen_base = 0;	/* host order */
const volatile __u32 gen_sources = 1;
const volatile __u32 gen_step = 0;	/* < gen_sources, coprime with it */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gen_count SEC(".maps");

/* This CPU's generator: the index of the source it sent last. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} gen_at SEC(".maps");

static __always_inline __u16 csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

SEC("xdp")
int gen_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u8 *ip = data + 14;
	__u32 zero = 0, src, i, sum = 0;
	__u32 *at;
	__u64 *n;
	__u16 *w;

	if ((void *)(ip + 20) > end)
		return XDP_ABORTED;
	n = bpf_map_lookup_elem(&gen_count, &zero);
	at = bpf_map_lookup_elem(&gen_at, &zero);
	if (!n || !at)
		return XDP_ABORTED;
	(*n)++;
	/* a step on, without a division: both are below gen_sources */
	src = *at + gen_step;
	if (src >= gen_sources || src < *at)
		src -= gen_sources;
	*at = src;
	src += gen_base;
	*(__u32 *)(ip + 12) = bpf_htonl(src);
	/* the header checksum, computed again over its 20 bytes */
	*(__u16 *)(ip + 10) = 0;
	w = (__u16 *)ip;
#pragma unroll
	for (i = 0; i < 10; i++)
		sum += w[i];
	*(__u16 *)(ip + 10) = csum_fold(sum);
	return XDP_TX;
}

/* One frame more seen by a sink. */
static __always_inline void count_one(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&gen_count, &zero);

	if (n)
		(*n)++;
}

SEC("xdp")
int gen_sink(struct xdp_md *ctx)
{
	count_one();
	return XDP_DROP;
}

/* The tc floor: counts and drops at tc ingress, behind gen_pass. */
SEC("tc")
int gen_tc_sink(struct __sk_buff *skb)
{
	count_one();
	return 2;	/* TC_ACT_SHOT */
}

/* Frames up the stack, as if no XDP ran: for receivers that are not XDP. */
SEC("xdp")
int gen_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
