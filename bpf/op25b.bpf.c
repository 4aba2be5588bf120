// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * op25b datapath: one decision core, an XDP and a tc entry point.
 *
 * Only packets the parser classifies as SMTP, evasive, undecidable or
 * malformed reach the decision core; everything else returns straight after
 * parsing, having read nothing but the packet and the global port bitmap.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "op25b.h"
#include "parse.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader for devices without an Ethernet header (tun, ppp). */
const volatile __u8 op25b_l3 = 0;

/* Blocked ports and action; a pinned global, read without a lookup. */
struct op25b_config op25b_cfg SEC(".data.config") = {
	.action = OP25B_ACT_DROP,
	.ports = { [OP25B_DEFAULT_PORT / 64] = 1ULL << (OP25B_DEFAULT_PORT % 64) },
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, OP25B_TABLE_MAX);
	__type(key, struct op25b_key4);
	__type(value, struct op25b_rule);
} op25b_sub4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, OP25B_TABLE_MAX);
	__type(key, struct op25b_key6);
	__type(value, struct op25b_rule);
} op25b_sub6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, OP25B_TABLE_MAX);
	__type(key, struct op25b_key4);
	__type(value, struct op25b_rule);
} op25b_relay4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, OP25B_TABLE_MAX);
	__type(key, struct op25b_key6);
	__type(value, struct op25b_rule);
} op25b_relay6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct op25b_stats);
} op25b_stats SEC(".maps");

/* Written by op25bctl only: what it attached where, to undo exactly that. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OP25B_ATTACH_MAX);
	__type(key, struct op25b_attach_key);
	__type(value, struct op25b_attach_val);
} op25b_attach SEC(".maps");

enum judgement {
	J_PASS,
	J_BLOCK,
};

/* Best rule for the packet's source (sub) or destination (relay). */
static __always_inline struct op25b_rule *
lookup_rule(const struct op25b_cursor *c, const struct op25b_pkt *pkt, int dst)
{
	/* IPv4 saddr at 12, daddr at 16; IPv6 saddr at 8, daddr at 24. */
	struct op25b_rule *r = NULL;
	struct op25b_key6 k6;
	struct op25b_key4 k4;
	__u8 *a;

	if (pkt->family == 4) {
		a = ptr_at(c, pkt->l3off + (dst ? 16 : 12), 4);
		if (!a)
			return NULL;
		k4.prefixlen = 32;
		__builtin_memcpy(k4.addr, a, 4);
		r = bpf_map_lookup_elem(dst ? (void *)&op25b_relay4 :
					      (void *)&op25b_sub4, &k4);
	} else {
		a = ptr_at(c, pkt->l3off + (dst ? 24 : 8), 16);
		if (!a)
			return NULL;
		k6.prefixlen = 128;
		__builtin_memcpy(k6.addr, a, 16);
		r = bpf_map_lookup_elem(dst ? (void *)&op25b_relay6 :
					      (void *)&op25b_sub6, &k6);
	}
	if (r)
		__sync_fetch_and_add(&r->hits, 1);
	return r;
}

/* The decision core: DESIGN.md's policy model, for a judged packet. */
static __always_inline enum judgement judge(const struct op25b_cursor *c,
					    const struct op25b_pkt *pkt,
					    int cls)
{
	struct op25b_stats *st;
	struct op25b_rule *r;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&op25b_stats, &zero);
	if (!st)
		return J_PASS;

	switch (cls) {
	case OP25B_C_SMTP:
		st->smtp++;
		break;
	case OP25B_C_EVASION:
		st->evasion++;
		break;
	case OP25B_C_UNDECIDABLE:
		st->undecidable++;
		break;
	default:
		st->malformed++;
		break;
	}

	r = lookup_rule(c, pkt, 0);
	if (!r || r->verdict != OP25B_V_DENY) {
		if (r && r->verdict == OP25B_V_ALLOW)
			st->exempt++;
		else
			st->not_subscriber++;
		return J_PASS;
	}
	r = lookup_rule(c, pkt, 1);
	if (r && r->verdict == OP25B_V_ALLOW) {
		st->relay++;
		return J_PASS;
	}
	if (op25b_cfg.action == OP25B_ACT_MONITOR) {
		st->monitored++;
		return J_PASS;
	}
	st->blocked++;
	return J_BLOCK;
}

SEC("xdp")
int op25b_xdp(struct xdp_md *ctx)
{
	struct op25b_cursor c = {
		.data = (void *)(long)ctx->data,
		.data_end = (void *)(long)ctx->data_end,
	};
	struct op25b_pkt pkt = {};
	int cls;

	c.len = c.data_end - c.data;
	cls = op25b_parse(&c, &op25b_cfg, &pkt, op25b_l3);
	if (cls == OP25B_C_PASS)
		return XDP_PASS;
	return judge(&c, &pkt, cls) == J_BLOCK ? XDP_DROP : XDP_PASS;
}

SEC("tc")
int op25b_tc(struct __sk_buff *skb)
{
	struct op25b_cursor c;
	struct op25b_pkt pkt = {};
	__u32 want;
	int cls;

	/* Headers of a paged skb may sit outside the linear area. */
	want = skb->len < OP25B_PULL_LEN ? skb->len : OP25B_PULL_LEN;
	if (skb->data_end - skb->data < want)
		bpf_skb_pull_data(skb, want);

	c.data = (void *)(long)skb->data;
	c.data_end = (void *)(long)skb->data_end;
	c.len = skb->len;
	if (skb->vlan_present) {
		pkt.vlan[0] = skb->vlan_tci & 0x0fff;
		pkt.nvlan = 1;
	}
	cls = op25b_parse(&c, &op25b_cfg, &pkt, op25b_l3);
	if (cls == OP25B_C_PASS)
		return TC_ACT_UNSPEC;
	return judge(&c, &pkt, cls) == J_BLOCK ? TC_ACT_SHOT : TC_ACT_UNSPEC;
}
