// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * op25b datapath: one decision core, an XDP and a tc entry point.
 *
 * Only packets the parser classifies as SMTP, evasive, undecidable or
 * malformed reach the decision core; everything else returns straight after
 * parsing, having read nothing but the packet and the global port bitmap.
 * A blocked packet is dropped, or under action reject turned into the TCP
 * RST that answers it (reject.h) and sent back. A blocked or monitored
 * packet is then recorded: its source's entry in the offenders table, and
 * an event on the ring buffer, at most one per source per interval.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "op25b.h"
#include "parse.h"
#include "reject.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader for devices without an Ethernet header (tun, ppp). */
const volatile __u8 op25b_l3 = 0;

/*
 * Set by the loader for a tc egress attachment: a RST goes back into the
 * device's receive path there, not out of it.
 */
const volatile __u8 op25b_egress = 0;

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

/* Sources of blocked packets, for 'op25bctl top'. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, OP25B_OFFENDERS_MAX);
	__type(key, struct op25b_src);
	__type(value, struct op25b_offender);
} op25b_offenders SEC(".maps");

/* Blocked attempts, for 'op25bctl monitor'. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, OP25B_EVENTS_BYTES);
} op25b_events SEC(".maps");

enum judgement {
	J_PASS,
	J_DROP,
	J_REJECT,	/* drop, and answer with a RST if one can be built */
	J_MONITOR,	/* would be blocked: pass, but record it */
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

/*
 * The decision core: DESIGN.md's policy model, for a judged packet. *stp
 * is left on the counters, for the caller to count an answer sent.
 */
static __always_inline enum judgement judge(const struct op25b_cursor *c,
					    const struct op25b_pkt *pkt,
					    int cls, struct op25b_stats **stp)
{
	struct op25b_stats *st;
	struct op25b_rule *r;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&op25b_stats, &zero);
	*stp = st;
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
		return J_MONITOR;
	}
	st->blocked++;
	/* only a whole TCP header is sound enough to answer (reject.h) */
	if (op25b_cfg.action == OP25B_ACT_REJECT && cls == OP25B_C_SMTP)
		return J_REJECT;
	return J_DROP;
}

/*
 * The answer is built in global functions: the verifier checks each once,
 * on its own, rather than once for every parser path that can reach it
 * (inlined, it doubled the work of verifying the whole program). So they
 * take nothing from their caller but what the parser found, as scalars,
 * and check everything they read again. The parser never reads beyond
 * OP25B_MAX_OFF: masking the offset changes none it passes, and bounds it
 * for the verifier.
 */

/* family and pppoe in one argument: a global function takes five. */
#define PKT_SHAPE(p)	((__u32)(p).family | (__u32)(p).pppoe << 8)

static __always_inline struct op25b_pkt pkt_found(__u32 l3off, __u32 l4off,
						  __u32 l3end, __u32 shape)
{
	struct op25b_pkt pkt = {
		.l3off = l3off & OP25B_MAX_OFF,
		.l4off = l4off,
		.l3end = l3end,
		.family = shape & 0xff,
		.pppoe = shape >> 8,
	};

	return pkt;
}

/* The frame becomes the RST, cut to length for XDP_TX. 0: it did. */
__noinline int op25b_reject_xdp(struct xdp_md *ctx, __u32 l3off,
				__u32 l4off, __u32 l3end, __u32 shape)
{
	struct op25b_pkt pkt = pkt_found(l3off, l4off, l3end, shape);
	struct op25b_cursor c;
	struct op25b_rst r;

	c.data = (void *)(long)ctx->data;
	c.data_end = (void *)(long)ctx->data_end;
	c.len = c.data_end - c.data;
	if (rst_prepare(&c, &pkt, op25b_l3, 0, &r))
		return -1;
	if (bpf_xdp_adjust_tail(ctx, (int)r.len - (int)c.len))
		return -1;
	/* every packet pointer is stale after the helper */
	c.data = (void *)(long)ctx->data;
	c.data_end = (void *)(long)ctx->data_end;
	c.len = c.data_end - c.data;
	return rst_write(&c, &r, op25b_l3, NULL);
}

/* The skb becomes the RST, cut to length, ready to be redirected. */
__noinline int op25b_reject_tc(struct __sk_buff *skb, __u32 l3off,
			       __u32 l4off, __u32 l3end, __u32 shape)
{
	struct op25b_pkt pkt = pkt_found(l3off, l4off, l3end, shape);
	struct op25b_cursor c;
	struct op25b_rst r;
	__u32 delta;

	c.data = (void *)(long)skb->data;
	c.data_end = (void *)(long)skb->data_end;
	c.len = skb->len;
	if (rst_prepare(&c, &pkt, op25b_l3, 1, &r))
		return -1;
	/* a device completes a PARTIAL sum where the old header was */
	if (r.partial && r.moved)
		return -1;
	if (bpf_skb_change_tail(skb, r.len, 0) ||
	    bpf_skb_pull_data(skb, r.len))
		return -1;
	c.data = (void *)(long)skb->data;
	c.data_end = (void *)(long)skb->data_end;
	c.len = skb->len;
	if (rst_write(&c, &r, op25b_l3, &delta))
		return -1;
	/*
	 * An skb cut short is no longer CHECKSUM_COMPLETE; one kept at its
	 * length still is, and its csum must follow the rewrite (a no-op for
	 * every other kind).
	 */
	bpf_csum_update(skb, delta);
	return 0;
}

/* family and class in one argument: a global function takes five. */
#define EV_SHAPE(p, cls)	((__u32)(p).family | (__u32)(cls) << 8)
#define EV_SHAPE_FAMILY(s)	((s) & 0xff)
#define EV_SHAPE_CLASS(s)	(((s) >> 8) & 0xff)

/*
 * What an event says of a packet, read from it before a RST overwrites it.
 * The decision core read both addresses already: they are there. The VLAN
 * ids, PPPoE session and ports are read again rather than kept from the
 * parser: keeping them would cost every passed packet a few stores, and
 * only blocked ones need them. tci is a tag tc found stripped, if any.
 * Global functions, like the answer's, so the verifier checks them once.
 */
static __always_inline void event_fill(const struct op25b_cursor *c,
				       __u32 l3off, __u32 l4off, __u32 shape,
				       __u32 ifindex, int stripped, __u16 tci,
				       struct op25b_event *ev)
{
	struct op25b_pkt l2 = {};
	__u32 off = 0;
	__u16 *ports;
	__u8 *a;

	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ifindex = ifindex;
	ev->family = EV_SHAPE_FAMILY(shape);
	ev->cls = EV_SHAPE_CLASS(shape);
	if (stripped) {
		l2.vlan[0] = tci & 0x0fff;
		l2.nvlan = 1;
	}
	if (!op25b_l3)
		parse_l2(c, &l2, &off);
	ev->nvlan = l2.nvlan;
	ev->vlan[0] = l2.vlan[0];
	ev->vlan[1] = l2.vlan[1];
	ev->pppoe = l2.pppoe;
	ev->pppoe_sid = l2.pppoe_sid;
	/* only an SMTP segment had its TCP header read */
	if (ev->cls == OP25B_C_SMTP) {
		ports = ptr_at(c, l4off & OP25B_MAX_OFF, 4);
		if (ports) {
			ev->sport = bpf_ntohs(ports[0]);
			ev->dport = bpf_ntohs(ports[1]);
		}
	}
	/* IPv4 saddr, daddr at 12; IPv6 at 8 */
	l3off &= OP25B_MAX_OFF;
	if (ev->family == 4) {
		a = ptr_at(c, l3off + 12, 8);
		if (a) {
			__builtin_memcpy(ev->saddr, a, 4);
			__builtin_memcpy(ev->daddr, a + 4, 4);
		}
	} else {
		a = ptr_at(c, l3off + 8, 32);
		if (a) {
			__builtin_memcpy(ev->saddr, a, 16);
			__builtin_memcpy(ev->daddr, a + 16, 16);
		}
	}
}

__noinline int op25b_event_xdp(struct xdp_md *ctx, __u32 l3off, __u32 l4off,
			       __u32 shape, struct op25b_event *ev)
{
	struct op25b_cursor c;

	if (!ev)
		return -1;
	c.data = (void *)(long)ctx->data;
	c.data_end = (void *)(long)ctx->data_end;
	c.len = c.data_end - c.data;
	event_fill(&c, l3off, l4off, shape, ctx->ingress_ifindex, 0, 0, ev);
	return 0;
}

__noinline int op25b_event_tc(struct __sk_buff *skb, __u32 l3off, __u32 l4off,
			      __u32 shape, struct op25b_event *ev)
{
	struct op25b_cursor c;

	if (!ev)
		return -1;
	c.data = (void *)(long)skb->data;
	c.data_end = (void *)(long)skb->data_end;
	c.len = skb->len;
	event_fill(&c, l3off, l4off, shape, skb->ifindex, skb->vlan_present,
		   skb->vlan_tci, ev);
	return 0;
}

/*
 * Record a blocked (or monitored) packet, ev filled in but for its time:
 * count it on its source's offender entry, and send ev unless the source
 * had an event within OP25B_EVENT_INTERVAL_NS. A global function, verified
 * once rather than on every parser path that ends here. Two CPUs may both
 * send one for a source at the same moment: the limit is a rate, not a
 * count, so that is harmless.
 */
__noinline int op25b_record(struct op25b_event *ev)
{
	struct op25b_offender *o, fresh = {};
	struct op25b_src key = {};
	struct op25b_stats *st;
	__u32 zero = 0;
	__u64 now;

	if (!ev)
		return -1;
	now = bpf_ktime_get_boot_ns();
	ev->ts_ns = now;
	key.family = ev->family;
	__builtin_memcpy(key.addr, ev->saddr, sizeof(key.addr));
	o = bpf_map_lookup_elem(&op25b_offenders, &key);
	if (!o) {
		fresh.first_ns = now;
		fresh.last_ns = now;
		/* another CPU may have made it meanwhile: then use that one */
		bpf_map_update_elem(&op25b_offenders, &key, &fresh,
				    BPF_NOEXIST);
		o = bpf_map_lookup_elem(&op25b_offenders, &key);
		if (!o)
			return -1;
	}
	if (ev->action == OP25B_ACT_MONITOR)
		__sync_fetch_and_add(&o->monitored, 1);
	else
		__sync_fetch_and_add(&o->blocked, 1);
	o->last_ns = now;
	__builtin_memcpy(o->last_daddr, ev->daddr, sizeof(o->last_daddr));
	o->last_dport = ev->dport;
	o->last_ifindex = ev->ifindex;

	st = bpf_map_lookup_elem(&op25b_stats, &zero);
	if (!st)
		return -1;
	if (o->last_event_ns &&
	    now - o->last_event_ns < OP25B_EVENT_INTERVAL_NS) {
		st->events_suppressed++;
		return 0;
	}
	o->last_event_ns = now;
	if (bpf_ringbuf_output(&op25b_events, ev, sizeof(*ev), 0))
		st->events_lost++;
	return 0;
}

SEC("xdp")
int op25b_xdp(struct xdp_md *ctx)
{
	struct op25b_cursor c = {
		.data = (void *)(long)ctx->data,
		.data_end = (void *)(long)ctx->data_end,
	};
	struct op25b_event ev;
	struct op25b_pkt pkt = {};
	struct op25b_stats *st;
	enum judgement j;
	int cls;

	c.len = c.data_end - c.data;
	cls = op25b_parse(&c, &op25b_cfg, &pkt, op25b_l3);
	if (cls == OP25B_C_PASS)
		return XDP_PASS;
	j = judge(&c, &pkt, cls, &st);
	if (j == J_PASS)
		return XDP_PASS;
	op25b_event_xdp(ctx, pkt.l3off, pkt.l4off, EV_SHAPE(pkt, cls), &ev);
	switch (j) {
	case J_MONITOR:
		ev.action = OP25B_ACT_MONITOR;
		op25b_record(&ev);
		return XDP_PASS;
	case J_REJECT:
		if (st && !op25b_reject_xdp(ctx, pkt.l3off, pkt.l4off,
						 pkt.l3end, PKT_SHAPE(pkt))) {
			st->rejected++;
			ev.action = OP25B_ACT_REJECT;
			op25b_record(&ev);
			return XDP_TX;
		}
		/* fallthrough: no RST could be built, it is only dropped */
	default:
		ev.action = OP25B_ACT_DROP;
		op25b_record(&ev);
		return XDP_DROP;
	}
}

SEC("tc")
int op25b_tc(struct __sk_buff *skb)
{
	struct op25b_event ev;
	struct op25b_cursor c;
	struct op25b_pkt pkt = {};
	struct op25b_stats *st;
	enum judgement j;
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
	j = judge(&c, &pkt, cls, &st);
	if (j == J_PASS)
		return TC_ACT_UNSPEC;
	op25b_event_tc(skb, pkt.l3off, pkt.l4off, EV_SHAPE(pkt, cls), &ev);
	switch (j) {
	case J_MONITOR:
		ev.action = OP25B_ACT_MONITOR;
		op25b_record(&ev);
		return TC_ACT_UNSPEC;
	case J_REJECT:
		if (st && !op25b_reject_tc(skb, pkt.l3off, pkt.l4off,
						pkt.l3end, PKT_SHAPE(pkt))) {
			st->rejected++;
			ev.action = OP25B_ACT_REJECT;
			op25b_record(&ev);
			return bpf_redirect(skb->ifindex,
					    op25b_egress ? BPF_F_INGRESS : 0);
		}
		/* fallthrough: no RST could be built, it is only dropped */
	default:
		ev.action = OP25B_ACT_DROP;
		op25b_record(&ev);
		return TC_ACT_SHOT;
	}
}
