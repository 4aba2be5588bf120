// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * op25b datapath: one decision core, an XDP and a tc entry point.
 *
 * Only packets the parser classifies as TCP, evasive, undecidable or
 * malformed reach the decision core; everything else returns straight after
 * parsing. The core reads the live policy snapshot: a TCP segment to a port
 * the snapshot does not block leaves having read nothing but the packet and
 * that global; the rest is judged against the snapshot's trees.
 * A blocked packet is dropped, or under action reject turned into the TCP
 * RST that answers it (reject.h) and sent back. A blocked or monitored
 * packet is then counted on its CPU and, when sampled, recorded in its
 * CPU's offenders table, with an event in the event log at most once
 * per source per interval, within the CPU's budget. After the decision,
 * the steps are written once for both hooks (see "After the decision").
 *
 * Rooms of their own: parse.h the parser, core.h what the packet and
 * socket hooks share (the policy, the trees and their walk, decide.h,
 * shared with op25bctl; the snapshot's reading, the counters and rule
 * hits), reject.h the RST, events.h what is recorded (offenders, window,
 * events, the clock), limit.h action limit (the limiter and its sweeper),
 * cgroup.h the socket hooks. This file holds the packet hooks' decision,
 * the steps that take a packet to those rooms, and the entry points.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "op25b.h"
#include "maps.h"

/*
 * The steps that are global functions have one per hook, since the
 * verifier checks a global function once against its context's type:
 * OP25B_HOOKS(X) makes X's function for each hook, and OP25B_STEP calls
 * the one of the hook at hand.
 */
#define OP25B_HOOKS(X)					\
	X(xdp, struct xdp_md, true)			\
	X(tc, struct __sk_buff, false)
#define OP25B_STEP(step, xdp, ...)				\
	((xdp) ? op25b_##step##_xdp(__VA_ARGS__) :		\
		 op25b_##step##_tc(__VA_ARGS__))

/* The parser's walk of an IPv6 chain (below). */
struct op25b_pkt;
#define CHAIN_DECL(hook, ctx_type, is_xdp)				\
	int op25b_chain_##hook(ctx_type *ctx, struct op25b_pkt *pkt,	\
			       __u32 cur, __u32 end, __u32 nh);
OP25B_HOOKS(CHAIN_DECL)
#define OP25B_IPV6_CHAIN(c, pkt, cur, end, nh, ctx, xdp)		\
	OP25B_STEP(chain, xdp, ctx, pkt, cur, end, nh)

#include "parse.h"
#include "reject.h"
#include "events.h"
#include "core.h"
#include "limit.h"
#include "chain.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";


/* Set by the loader for devices without an Ethernet header (tun, ppp). */
const volatile __u8 op25b_l3 = 0;

/*
 * Set by the loader for a tc egress attachment: a RST goes back into the
 * device's receive path there, not out of it.
 */
const volatile __u8 op25b_egress = 0;


/* Written by op25bctl only: what it attached where, to undo exactly that. */
OP25B_HASH(struct op25b_attach_key, struct op25b_attach_val,
		OP25B_ATTACH_MAX)
	op25b_attach SEC(".maps");

/*
 * The session layer's owners (op25b.h), by session name: written and read
 * by op25bctl only. Sized from the capacity when made; allocated as used.
 */
OP25B_HASH(struct op25b_session_key, struct op25b_session,
		OP25B_CAPACITY_DEFAULT)
	op25b_sessions SEC(".maps");

/* What each attachment judged (op25b.h, struct op25b_ifstats). */
OP25B_PERCPU_ARRAY(struct op25b_ifstats, OP25B_IFSTATS_SLOTS + 1)
	op25b_ifstats SEC(".maps");

/* Sessions just ended, by id (op25b.h): op25bctl's alone. */
OP25B_HASH(__u32, struct op25b_session_ended, OP25B_SESSIONS_ENDED_MAX)
	op25b_sessions_ended SEC(".maps");



static __always_inline int read_addr(const struct op25b_cursor *c,
				     const struct op25b_pkt *pkt, int dst,
				     struct op25b_addr *a)
{
	struct ipv6hdr *ip6;
	struct iphdr *ip;
	__u64 w[2];

	if (pkt->family == 4) {
		ip = ptr_at(c, pkt->l3off, sizeof(*ip));
		if (!ip)
			return -1;
		a->hi = (__u64)bpf_ntohl(dst ? ip->daddr : ip->saddr) << 32;
		a->lo = 0;
		return 0;
	}
	ip6 = ptr_at(c, pkt->l3off, sizeof(*ip6));
	if (!ip6)
		return -1;
	__builtin_memcpy(w, dst ? &ip6->daddr : &ip6->saddr, sizeof(w));
	a->hi = bpf_be64_to_cpu(w[0]);
	a->lo = bpf_be64_to_cpu(w[1]);
	return 0;
}


/* What the decision reads of a packet, read once, before any snapshot is. */
struct judge_in {
	struct op25b_addr src;
	struct op25b_addr dst;
	__u32 cls;		/* the parser's class */
	__u16 dport;
	__u8  v6;
	__u8  no_addr;		/* the addresses could not be read */
};

/*
 * What a snapshot's action makes of a packet its tables block. Under
 * action limit, a TCP segment to a blocked port goes to the limiter, with
 * the limit's terms copied from this same snapshot; what cannot be a
 * connection of its own (evasive, undecidable, malformed) is blocked as
 * the limit's 'then' says.
 */

static __always_inline enum judgement judge_blocked(const struct op25b_config *cfg,
						    struct decision *out)
{
	__u32 act = cfg->action;

	if (act == OP25B_ACT_LIMIT) {
		if (out->cls == OP25B_C_SMTP) {
			limit_of(&out->limit, cfg);
			return J_LIMIT;
		}
		act = cfg->limit.then;
	}
	if (act == OP25B_ACT_MONITOR)
		return J_MONITOR;
	if (act == OP25B_ACT_REJECT && out->cls == OP25B_C_SMTP)
		return J_REJECT;
	return J_DROP;
}

/*
 * Judge a classified packet by one snapshot: read the live word, decide,
 * and read it again; 1 when the word had not changed, so that the snapshot
 * read was not reused meanwhile. The first try is made inline, in the
 * step that acts on it, with its walks' first levels inline too (inl: a
 * call and its return cost more here than a level of a walk); a retry,
 * after a writer published meanwhile, goes through op25b_decide, whose
 * walks make their calls.
 */
static __always_inline int decide_try(const struct judge_in *in,
				      struct decision *out, const bool inl)
{
	const struct op25b_snapshot *s;
	__u32 g, v6, cls;

	if (!in || !out)
		return 1;
	cls = in->cls;
	v6 = in->v6 & 1;
	s = snapshot_read(&g);
	out->cls = cls;
	out->sub = 0;
	out->relay = 0;
	out->lim = LIM_NONE;
	out->quarantines = 0;
	out->j = J_PASS;
	if (cls == OP25B_C_TCP)
		out->cls = port_blocked(&s->cfg, in->dport) ?
				   OP25B_C_SMTP : OP25B_C_PASS;
	if (out->cls != OP25B_C_PASS && !in->no_addr &&
	    op25b_tables_judge(NULL, s, v6, &in->src, &in->dst,
			       &out->sub, &out->relay, inl) ==
		    OP25B_SAID_BLOCKED)
		out->j = judge_blocked(&s->cfg, out);
	return snapshot_held(g);
}

/*
 * One try as a global function, which the verifier walks once:
 * op25b_decide's retries then hold one branch each, where inlined tries
 * multiplied every branch of the decision (and of the fence, a lookup
 * outside x86) by every other try's, past the 8192 pending branches Linux
 * 6.1's verifier allows, and 6.12's on s390x.
 */
__noinline int op25b_decide_once(const struct judge_in *in,
				 struct decision *out)
{
	return in && out ? decide_try(in, out, false) : 1;
}

/*
 * Judge a classified packet by the live snapshot; when a writer published
 * meanwhile, what was read may have been reused, so judge again by the new
 * one. Reads only: what the decision writes is written once it stands
 * (doc/DESIGN.md, Publishing). A global function over what the caller
 * read: the verifier walks the retries once, not once for every parser
 * path that reaches it.
 */
__noinline int op25b_decide(const struct judge_in *in, struct decision *out)
{
	__u32 try;

	if (!in || !out)
		return 0;
	for (try = 0; try < OP25B_SNAP_TRIES; try++)
		if (op25b_decide_once(in, out))
			break;
	return 0;
}


/* The addresses, then the judgement; unreadable addresses: no subscriber. */
static __always_inline void judge(const struct op25b_cursor *c,
				  const struct op25b_pkt *pkt, int cls,
				  struct decision *out)
{
	struct judge_in in = {
		.cls = cls,
		.dport = pkt->dport,
	};
	/*
	 * Read from the family (4 or 6) without a branch, before read_addr
	 * branches on it: the verifier then holds one state, v6 0 or 1, for
	 * both families through the decision, not one for each (decide.h
	 * keeps the compiler from making it two constants again).
	 */
	in.v6 = (pkt->family >> 1) & 1;
	/* the parser read the IP header: this is only a guard */
	if (read_addr(c, pkt, 0, &in.src) || read_addr(c, pkt, 1, &in.dst))
		in.no_addr = 1;
	if (!decide_try(&in, out, true))
		op25b_decide(&in, out);
}


/*
 * Count what a decision was, on this CPU's counters and rule hits. *stp
 * is left on the counters, for the caller to count an answer sent.
 */
static __always_inline enum judgement account(const struct decision *d,
					      struct op25b_stats **stp)
{
	struct op25b_stats *st;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&op25b_stats, &zero);
	*stp = st;
	if (!st)
		return d->j;
	switch (d->cls) {
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
	hit_count(d->sub, false);
	hit_count(d->relay, false);
	if (OP25B_LEAF_VERDICT(d->sub) != OP25B_V_DENY) {
		if (OP25B_LEAF_VERDICT(d->sub) == OP25B_V_ALLOW)
			st->exempt++;
		else
			st->not_subscriber++;
	} else if (d->lim == LIM_PASSED) {
		st->limit_passed++;
	} else if (d->j == J_PASS) {
		st->relay++;
	} else if (d->j == J_MONITOR) {
		st->monitored++;
	} else {
		st->blocked++;
		if (d->lim == LIM_EXCEEDED)
			st->limit_exceeded++;
		else if (d->lim == LIM_QUARANTINED)
			st->quarantined++;
		else if (d->lim == LIM_FULL)
			st->limit_full++;
	}
	st->quarantines += d->quarantines;
	return d->j;
}

/*
 * ---- After the decision: one body for both hooks ----
 *
 * What a judged packet gets is written once, as inline functions that
 * take the hook's context and xdp, a constant: each entry point's copy
 * keeps only its own branch. The hooks differ in where the frame is (XDP
 * holds all of it; an skb its linear part, with the whole length beside),
 * which device it came by, a VLAN tag tc finds already taken off, and how
 * an answer is made and sent. The work is split into global functions,
 * one per step and hook: the verifier checks each once, on its own,
 * rather than once for every parser path that can reach it (inlined, it
 * doubled the work of verifying the whole program). They take the packet
 * as the parser found it (struct op25b_pkt) and read nothing of it
 * unchecked: to the verifier its fields are any numbers.
 */

static __always_inline __u32 ifindex_of(void *ctx, const bool xdp)
{
	return xdp ? ((struct xdp_md *)ctx)->ingress_ifindex :
		     ((struct __sk_buff *)ctx)->ifindex;
}

/* A tag tc found already taken off the frame (into *tci), if any. */
static __always_inline int stripped_tag(void *ctx, const bool xdp, __u16 *tci)
{
	struct __sk_buff *skb = ctx;

	if (xdp || !skb->vlan_present)
		return 0;
	*tci = skb->vlan_tci;
	return 1;
}

/* The hook this instance runs at, as the attachment records name it. */
static __always_inline __u32 hook_of(const bool xdp)
{
	return xdp ? OP25B_HOOK_XDP :
	       op25b_egress ? OP25B_HOOK_TC_EGRESS : OP25B_HOOK_TC_INGRESS;
}

/*
 * Count a judgement for the attachment that saw it: this CPU's slot for
 * it, taken on its first packet, or the shared "other" slot when this
 * CPU gave the slot to another attachment first. One increment.
 */
static __always_inline void if_count(void *ctx, enum judgement j,
				     const bool xdp)
{
	__u32 ifindex = ifindex_of(ctx, xdp), hook = hook_of(xdp), slot;
	struct op25b_ifstats *s;

	slot = op25b_ifstats_slot(op25b_netns_ino, ifindex, hook);
	s = bpf_map_lookup_elem(&op25b_ifstats, &slot);
	if (!s)
		return;
	if (s->key.ifindex != ifindex || s->key.hook != hook ||
	    s->key.netns_ino != op25b_netns_ino) {
		if (s->key.hook) {
			slot = OP25B_IFSTATS_SLOTS;
			s = bpf_map_lookup_elem(&op25b_ifstats, &slot);
			if (!s)
				return;
		} else {
			s->key.netns_ino = op25b_netns_ino;
			s->key.ifindex = ifindex;
			s->key.hook = hook;
		}
	}
	if (j == J_PASS)
		s->passed++;
	else if (j == J_MONITOR)
		s->monitored++;
	else
		s->blocked++;
}

/* The frame becomes the RST that answers it, cut to length. 0: it did. */
static __always_inline int reject(void *ctx, const struct op25b_pkt *pkt,
				  const bool xdp)
{
	struct op25b_cursor c;
	struct op25b_rst r;
	__u32 delta;

#ifdef OP25B_XDP_EXT
	/*
	 * The build libxdp's dispatcher runs (user/dispatcher.c): the kernel
	 * takes no extension that changes packet data where the dispatcher's
	 * slot does not (6.13, and 6.12.y), and libxdp 1.3's slots do not. No
	 * RST then: the packet is dropped, as when none can be built.
	 */
	if (xdp)
		return -1;
#endif
	cursor_of(&c, ctx, xdp);
	if (rst_prepare(&c, pkt, op25b_l3, !xdp, &r))
		return -1;
	if (xdp) {
		if (bpf_xdp_adjust_tail(ctx, (int)r.len - (int)c.len))
			return -1;
	} else {
		/* a device completes a PARTIAL sum where the old header was */
		if (r.partial && r.moved)
			return -1;
		if (bpf_skb_change_tail(ctx, r.len, 0) ||
		    bpf_skb_pull_data(ctx, r.len))
			return -1;
	}
	/* every packet pointer is stale after the helper */
	cursor_of(&c, ctx, xdp);
	if (rst_write(&c, &r, op25b_l3, xdp ? NULL : &delta))
		return -1;
	/*
	 * An skb cut short is no longer CHECKSUM_COMPLETE; one kept at its
	 * length still is, and its csum must follow the rewrite (a no-op for
	 * every other kind).
	 */
	if (!xdp)
		bpf_csum_update(ctx, delta);
	return 0;
}

#define REJECT_STEP(hook, ctx_type, is_xdp)				\
	__noinline int op25b_reject_##hook(ctx_type *ctx,		\
					   const struct op25b_pkt *pkt) \
	{								\
		return pkt ? reject(ctx, pkt, is_xdp) : -1;		\
	}
OP25B_HOOKS(REJECT_STEP)

/* What a judgement is called in an event and the offenders table. */
static __always_inline __u8 judgement_action(enum judgement j)
{
	return j == J_MONITOR ? OP25B_ACT_MONITOR :
	       j == J_REJECT ? OP25B_ACT_REJECT : OP25B_ACT_DROP;
}

/*
 * What the offenders table needs of a packet, read from it before a RST
 * overwrites it: addresses and ports, read again rather than kept from
 * the parser, which would cost every passed packet a few stores.
 */
static __always_inline void event_fill(const struct op25b_cursor *c,
				       const struct op25b_pkt *pkt,
				       const struct decision *d, __u32 ifindex,
				       struct op25b_event *ev)
{
	struct tcphdr *th;

	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ifindex = ifindex;
	ev->family = pkt->family;
	ev->cls = d->cls;
	ev->action = judgement_action(d->j);
	/* only an SMTP segment had its TCP header read */
	if (d->cls == OP25B_C_SMTP) {
		th = pkt_tcp(c, pkt);
		if (th) {
			ev->sport = bpf_ntohs(th->source);
			ev->dport = bpf_ntohs(th->dest);
		}
	}
	pkt_addrs(c, pkt, ev->saddr, ev->daddr);
}

/*
 * What only an event says: the source MAC, the VLAN ids and the PPPoE
 * session, parsed again for the few packets that get an event, and the
 * hook that saw it.
 */
static __always_inline void event_fill_l2(const struct op25b_cursor *c,
					  void *ctx, const bool xdp,
					  struct op25b_event *ev)
{
	struct op25b_l2 l2 = {};
	__u32 off = 0;
	__u16 tci = 0;

	if (stripped_tag(ctx, xdp, &tci)) {
		l2.vlan[0] = tci & 0x0fff;
		l2.nvlan = 1;
	}
	if (!op25b_l3) {
		struct ethhdr *eth = ptr_at(c, 0, sizeof(*eth));

		parse_l2(c, &l2, &off);
		if (eth) {
			__builtin_memcpy(ev->smac, eth->h_source,
					 sizeof(ev->smac));
			ev->has_mac = 1;
		}
	}
	ev->hook = hook_of(xdp);
	ev->nvlan = l2.nvlan;
	ev->vlan[0] = l2.vlan[0];
	ev->vlan[1] = l2.vlan[1];
	ev->pppoe = l2.pppoe;
	ev->pppoe_sid = l2.pppoe_sid;
}

/*
 * Record a sampled blocked (or monitored) packet, counted with weight:
 * its source in this CPU's offenders slot, and the event, which it leaves
 * in ev for the caller to send (1) once it knows what it did. Writes
 * nothing another CPU writes. Only sampled packets come here (act asks
 * the window first): under a flood, one in OP25B_SAMPLE_RATE.
 */
static __always_inline int note(void *ctx, const struct op25b_pkt *pkt,
				const struct decision *d, struct op25b_event *ev,
				__u32 weight, const bool xdp)
{
	struct op25b_cursor c;
	struct op25b_window *w;
	__u32 zero = 0;
	__u64 now;

	w = bpf_map_lookup_elem(&op25b_budget, &zero);
	if (!ev || !w)
		return 0;
	now = dp_now();
	cursor_of(&c, ctx, xdp);
	event_fill(&c, pkt, d, ifindex_of(ctx, xdp), ev);
	ev->ts_ns = now;
	if (!offender_count(ev, w, weight, now))
		return 0;
	event_fill_l2(&c, ctx, xdp, ev);
	return 1;
}

/* The limiter, when the decision left it the packet: its judgement. */
static __always_inline int limit(void *ctx, const struct op25b_pkt *pkt,
				 struct decision *d, const bool xdp)
{
	struct limit_in li = {};
	struct op25b_cursor c;

	cursor_of(&c, ctx, xdp);
	if (limit_input(&c, pkt, ifindex_of(ctx, xdp), d->limit.prefix6, &li))
		return limit_then(d);
	return limit_judge(&li, d);
}

/* The parser's walk of IPv6 extension headers (parse.h, OP25B_IPV6_CHAIN). */
#define CHAIN_STEP(hook, ctx_type, is_xdp)				\
	__noinline int op25b_chain_##hook(ctx_type *ctx,		\
					  struct op25b_pkt *pkt,	\
					  __u32 cur, __u32 end, __u32 nh) \
	{								\
		struct op25b_cursor c;					\
									\
		if (!pkt)						\
			return OP25B_C_UNDECIDABLE;			\
		cursor_of(&c, ctx, is_xdp);				\
		return parse_ipv6_chain(&c, pkt, cur, end, nh);		\
	}
OP25B_HOOKS(CHAIN_STEP)

/* The steps' global functions: each one's stack is its own, not act's. */
#define LIMIT_STEP(hook, ctx_type, is_xdp)				\
	__noinline int op25b_limit_##hook(ctx_type *ctx,		\
					  const struct op25b_pkt *pkt,	\
					  struct decision *d)		\
	{								\
		return pkt && d ? limit(ctx, pkt, d, is_xdp) : J_DROP;	\
	}
OP25B_HOOKS(LIMIT_STEP)

#define NOTE_STEP(hook, ctx_type, is_xdp)				\
	__noinline int op25b_note_##hook(ctx_type *ctx,			\
					 const struct op25b_pkt *pkt,	\
					 const struct decision *d,	\
					 struct op25b_event *ev,	\
					 __u32 weight)			\
	{								\
		return pkt && d ? note(ctx, pkt, d, ev, weight, is_xdp) : 0; \
	}
OP25B_HOOKS(NOTE_STEP)

/* What act made of a judged packet: the entry points translate it. */
enum answer {
	A_PASS,
	A_DROP,
	A_RST,		/* the frame is now the RST that answers it: send it */
};

/*
 * ---- act: what a judged packet gets ----
 *
 * Everything after the decision: the limiter, the counters, the record
 * and its event, the answer.
 */
#ifdef OP25B_BENCH_DECISION_ONLY
#pragma clang diagnostic ignored "-Wunused-function"	/* the bench stops before */
#endif
static __always_inline enum answer act(void *ctx, const struct op25b_pkt *pkt,
				       struct decision *d, const bool xdp)
{
	struct op25b_window *w;
	struct op25b_event *ev;
	struct op25b_stats *st;
	__u32 zero = 0, weight;
	enum judgement j;
	int send, r;

	if (d->j == J_LIMIT)
		d->j = OP25B_STEP(limit, xdp, ctx, pkt, d);
	j = account(d, &st);
	if_count(ctx, j, xdp);
	if (j == J_PASS)
		return A_PASS;
	/*
	 * The window first, inline: most packets of a flood stop there, a
	 * counter and a random number, without a call.
	 */
	w = bpf_map_lookup_elem(&op25b_budget, &zero);
	weight = w ? tally(w) : 0;
	ev = NULL;
	send = 0;
	if (weight) {
		ev = bpf_map_lookup_elem(&op25b_scratch, &zero);
		send = OP25B_STEP(note, xdp, ctx, pkt, d, ev, weight);
	}
	if (j == J_MONITOR) {
		event_send(send, ev, st, OP25B_ACT_MONITOR);
		return A_PASS;
	}
	if (j == J_REJECT && st) {
		r = OP25B_STEP(reject, xdp, ctx, pkt);
		if (!r) {
			st->rejected++;
			event_send(send, ev, st, OP25B_ACT_REJECT);
			return A_RST;
		}
	}
	/* blocked; a reject that could build no RST is only dropped */
	event_send(send, ev, st, OP25B_ACT_DROP);
	return A_DROP;
}

/*
 * The hooks' own words for act's answer. Said here, in the global
 * function the verifier checks once, rather than in the entry point,
 * where it would be checked again for every parser path.
 */
static __always_inline int hook_answer(void *ctx, enum answer a,
				       const bool xdp)
{
	/* each hook's own switch: one shared one costs the verifier more */
	if (xdp) {
		switch (a) {
		case A_DROP:
			return XDP_DROP;
		case A_RST:
			return XDP_TX;
		default:
			return XDP_PASS;	/* never XDP_ABORTED */
		}
	}
	switch (a) {
	case A_DROP:
		return TC_ACT_SHOT;
	case A_RST:
		/* out of its device; on egress, into the device's receive path */
		return bpf_redirect(((struct __sk_buff *)ctx)->ifindex,
				    op25b_egress ? BPF_F_INGRESS : 0);
	default:
		return TC_ACT_UNSPEC;
	}
}

#ifdef OP25B_BENCH_DECISION_ONLY
/*
 * make bench's second build only, never installed: the decision and the
 * 'blocked' counter the flood counts by, nothing after them, so that the
 * flood shows what a blocked packet's steps after its decision cost.
 */
static __always_inline enum answer bench_decision_only(const struct decision *d)
{
	struct op25b_stats *st;
	__u32 zero = 0;

	if (d->j == J_PASS)
		return A_PASS;
	st = bpf_map_lookup_elem(&op25b_stats, &zero);
	if (st)
		st->blocked++;
	return A_DROP;
}
#define ACT(ctx, pkt, d, xdp)	bench_decision_only(d)
#else
#define ACT(ctx, pkt, d, xdp)	act(ctx, pkt, d, xdp)
#endif

/*
 * A packet the parser left to the decision, past the port's check: judged
 * and acted on in one global function per hook (verified once, whatever
 * parser path reached it), and the hook's answer.
 */
#define ACT_STEP(hook, ctx_type, is_xdp)				\
	__noinline int op25b_act_##hook(ctx_type *ctx,			\
					const struct op25b_pkt *pkt,	\
					int cls)			\
	{								\
		struct op25b_cursor c;					\
		struct decision d;					\
									\
		if (!pkt)						\
			return hook_answer(ctx, A_PASS, is_xdp);	\
		cursor_of(&c, ctx, is_xdp);				\
		judge(&c, pkt, cls, &d);				\
		if (d.cls == OP25B_C_PASS)				\
			return hook_answer(ctx, A_PASS, is_xdp);	\
		return hook_answer(ctx, ACT(ctx, pkt, &d, is_xdp), is_xdp); \
	}
OP25B_HOOKS(ACT_STEP)

/*
 * The entry points: parse and check the port inline; what is left, one
 * call that decides and acts (op25b_act_xdp, op25b_act_tc).
 */
static __always_inline int op25b_judge_xdp(struct xdp_md *ctx)
{
	struct op25b_cursor c;
	struct op25b_pkt pkt = {};
	int cls;

	cursor_of(&c, ctx, true);
	cls = op25b_parse(&c, &pkt, op25b_l3, 0, ctx, true);
	if (cls == OP25B_C_PASS)
		return XDP_PASS;
	if (cls == OP25B_C_TCP && port_open(pkt.dport))
		return XDP_PASS;
	return op25b_act_xdp(ctx, &pkt, cls);
}

SEC("xdp")
int op25b_xdp(struct xdp_md *ctx)
{
	return op25b_judge_xdp(ctx);
}

/*
 * A chained attachment's: what op25b passes goes on to the program it
 * chains (chain.h). A program of its own, loaded only for such an
 * attachment ("?": not by default), since a kernel without a BPF JIT (as
 * Debian's s390x) refuses a tail call in a program with bpf-to-bpf calls,
 * and op25b alone must load there.
 */
SEC("?xdp")
int op25b_xdp_ch(struct xdp_md *ctx)
{
	int v = op25b_judge_xdp(ctx);

	return v == XDP_PASS ? chain_pass(ctx) : v;
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

	cursor_of(&c, skb, false);
	cls = op25b_parse(&c, &pkt, op25b_l3, skb->vlan_present, skb,
			  false);
	if (cls == OP25B_C_PASS)
		return TC_ACT_UNSPEC;
	if (cls == OP25B_C_TCP && port_open(pkt.dport))
		return TC_ACT_UNSPEC;
	return op25b_act_tc(skb, &pkt, cls);
}

/* The socket hooks (cgroup/connect4, cgroup/connect6): their own room. */
#include "cgroup.h"
