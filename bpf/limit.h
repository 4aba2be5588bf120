/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Action limit: the limiter and its sweeper (doc/DESIGN.md, "Rate limits
 * and quarantine"; op25b.h: the limiter). Its maps are defined here, once.
 *
 * It judges for the decision core (core.h: the judgements, the limit's
 * terms, the counters), for packets (struct decision, parse.h's packet)
 * and for connects (cgroup.h); it takes events.h's clock, ring buffer and
 * scratch event.
 */
#ifndef OP25B_LIMIT_H
#define OP25B_LIMIT_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "op25b.h"
#include "maps.h"
#include "parse.h"
#include "events.h"
#include "core.h"

/* Rate-limited sources (op25b.h: the limiter), shared by every CPU. */
OP25B_MMAP_ARRAY(struct op25b_limiter,
		OP25B_LIMITER_MIN)
	op25b_limiter SEC(".maps");

/* Entries of op25b_limiter: the loader sets it from the map's size. */
const volatile __u32 op25b_limiter_slots = OP25B_LIMITER_MIN;

/* The timer that ends quarantines, and where its sweep is. */
struct op25b_sweep {
	struct bpf_timer timer;
	__u32 cursor;
	__u32 armed;
};
_Static_assert(sizeof(struct op25b_sweep) == OP25B_SWEEP_SIZE,
	       "op25b.h: OP25B_SWEEP_SIZE");

OP25B_ARRAY(struct op25b_sweep, 1) op25b_sweeper SEC(".maps");

/* What the limiter needs of a packet, read by the entry point. */
struct limit_in {
	struct op25b_src key;	/* the source, IPv6 masked to prefix6 */
	__u8  daddr[16];
	__u32 ifindex;
	__u16 sport;
	__u16 dport;
	__u8  syn;		/* a new connection: SYN without ACK */
	__u8  _pad[3];
};

/* The first bits bits of a[16] kept, the rest cleared: two words. */
static __always_inline void mask_addr(__u8 *a, __u32 bits)
{
	__u64 hi, lo;

	__builtin_memcpy(&hi, a, 8);
	__builtin_memcpy(&lo, a + 8, 8);
	hi = bpf_be64_to_cpu(hi);
	lo = bpf_be64_to_cpu(lo);
	if (bits < 64) {
		hi = bits ? hi & (~0ULL << (64 - bits)) : 0;
		lo = 0;
	} else if (bits < 128) {
		lo = bits > 64 ? lo & (~0ULL << (128 - bits)) : 0;
	}
	hi = bpf_cpu_to_be64(hi);
	lo = bpf_cpu_to_be64(lo);
	__builtin_memcpy(a, &hi, 8);
	__builtin_memcpy(a + 8, &lo, 8);
}

/* The limiter's view of a TCP segment to a blocked port; -1: unreadable. */
static __always_inline int limit_input(const struct op25b_cursor *c,
				       const struct op25b_pkt *pkt,
				       __u32 ifindex, __u32 prefix6,
				       struct limit_in *li)
{
	struct tcphdr *th = pkt_tcp(c, pkt);

	if (!th || pkt_addrs(c, pkt, li->key.addr, li->daddr))
		return -1;
	li->sport = bpf_ntohs(th->source);
	li->dport = bpf_ntohs(th->dest);
	li->syn = th->syn && !th->ack;	/* a new connection */
	li->ifindex = ifindex;
	li->key.family = pkt->family;
	if (pkt->family == 6)
		mask_addr(li->key.addr, prefix6);
	return 0;
}

/*
 * The sweeper: every OP25B_SWEEP_TICK_NS, one part of the limiter. A
 * quarantine that expired, or that op25bctl ended (OP25B_LIM_ENDED), is
 * reported with a "released" event and cleared. The datapath may extend a
 * quarantine while this runs: the flags change by compare-and-swap, and
 * an expiry is taken back when the end moved meanwhile.
 */
struct sweep_ctx {
	__u64 now;
	__u32 at;
};

static __always_inline void release_event(const struct op25b_limiter *e,
					  __u64 now, __u8 kind)
{
	struct op25b_event ev = {};
	struct op25b_stats *st;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&op25b_stats, &zero);
	if (st)
		st->releases++;
	ev.ts_ns = now;
	ev.kind = kind;
	ev.action = OP25B_ACT_LIMIT;
	ev.family = e->src.family;
	__builtin_memcpy(ev.saddr, e->src.addr, sizeof(ev.saddr));
	if (event_publish(&ev) && st)
		st->events_lost++;
}

static long sweep_one(__u32 i, void *arg)
{
	struct sweep_ctx *c = arg;
	struct op25b_limiter *e;
	__u32 idx = c->at++ & (op25b_limiter_slots - 1), f;

	e = bpf_map_lookup_elem(&op25b_limiter, &idx);
	if (!e)
		return 0;
	f = e->flags;
	if (f & OP25B_LIM_ENDED) {
		/* ended by op25bctl, which cleared the quarantine itself */
		if (__sync_val_compare_and_swap(&e->flags, f,
						f & ~(OP25B_LIM_ENDED |
						      OP25B_LIM_BY_OPERATOR)) == f)
			release_event(e, c->now,
				      f & OP25B_LIM_BY_OPERATOR ?
					      OP25B_EV_RELEASED_BY_OPERATOR :
					      OP25B_EV_RELEASED);
		return 0;
	}
	if (!(f & OP25B_LIM_QUARANTINED) || (__s64)(e->until - c->now) > 0)
		return 0;
	if (__sync_val_compare_and_swap(&e->flags, f,
					f & ~OP25B_LIM_QUARANTINED) != f)
		return 0;
	if ((__s64)(e->until - c->now) > 0) {
		/* extended meanwhile: still in quarantine */
		__sync_fetch_and_or(&e->flags, OP25B_LIM_QUARANTINED);
		return 0;
	}
	release_event(e, c->now, OP25B_EV_RELEASED);
	return 0;
}

static int sweep(void *map, __u32 *key, struct op25b_sweep *sw)
{
	struct sweep_ctx c = { .now = dp_now(), .at = sw->cursor };
	__u32 part = op25b_limiter_slots / OP25B_SWEEP_PARTS;

	bpf_loop(part ? part : 1, sweep_one, &c, 0);
	sw->cursor = c.at & (op25b_limiter_slots - 1);
	bpf_timer_start(&sw->timer, OP25B_SWEEP_TICK_NS, 0);
	return 0;
}

/*
 * 0 where the kernel has no BPF JIT (the loader asks engine_bpf_jit()):
 * the interpreter refuses a program holding a callback, and the verifier
 * drops the sweeper below as dead code. Quarantines then end as their
 * sources' next packets are judged, and "released" events wait for those.
 */
const volatile __u32 op25b_sweep_timer = 1;

/* The sweeper runs once a source has ever been limited. */
static __always_inline void sweeper_arm(void)
{
	struct op25b_sweep *sw;
	__u32 zero = 0;

	if (!op25b_sweep_timer)
		return;
	sw = bpf_map_lookup_elem(&op25b_sweeper, &zero);
	if (!sw || sw->armed)
		return;
	sw->armed = 1;
	bpf_timer_init(&sw->timer, &op25b_sweeper, 1 /* CLOCK_MONOTONIC */);
	bpf_timer_set_callback(&sw->timer, sweep);
	bpf_timer_start(&sw->timer, OP25B_SWEEP_TICK_NS, 0);
}

/* Free, or a source whose state is worth nothing: no quarantine, tokens full. */
static __always_inline int limiter_idle(const struct op25b_limiter *e,
					__u64 now)
{
	return !e->src.family ||
	       (!(e->flags & (OP25B_LIM_QUARANTINED | OP25B_LIM_ENDED)) &&
		(__s64)(e->tat - now) <= 0);
}

/*
 * The source's entry in its set (*found), or else the first one it may
 * take; NULL: the set is full. Two passes over the set's ways, the second
 * only for a source that has none: no choice carried from way to way, so
 * the verifier walks each pass once, not once for every way a choice
 * could have been made at (the ways share a cache line or two: the second
 * pass reads what the first brought in).
 */
static __always_inline struct op25b_limiter *limiter_find(const struct op25b_src *key,
							  __u64 now, int *found)
{
	struct op25b_limiter *e;
	__u32 base, w, idx;

	base = (op25b_src_hash(key) & (op25b_limiter_slots / OP25B_LIMITER_WAYS - 1)) *
	       OP25B_LIMITER_WAYS;
	*found = 1;
	for (w = 0; w < OP25B_LIMITER_WAYS; w++) {
		idx = base + w;
		e = bpf_map_lookup_elem(&op25b_limiter, &idx);
		if (e && src_equal(&e->src, key))
			return e;
	}
	*found = 0;
	for (w = 0; w < OP25B_LIMITER_WAYS; w++) {
		idx = base + w;
		e = bpf_map_lookup_elem(&op25b_limiter, &idx);
		if (e && limiter_idle(e, now))
			return e;
	}
	return NULL;
}

/*
 * GCRA, the token bucket as one word: tat is when the bucket is full
 * again. A new connection at now takes a token unless the bucket is
 * empty, that is unless tat - now > (burst - 1) * interval; taking one
 * moves tat to max(tat, now) + interval. Times compare by signed
 * difference, so the arithmetic holds across the wrap of the clock. One
 * compare-and-swap: a source's SYNs on two CPUs at once both count.
 */
static __always_inline int bucket_take(struct op25b_limiter *e, __u64 now,
				       const struct limit_cfg *l)
{
	__u64 tat, next;
	__s64 late;
	int try;

	for (try = 0; try < 3; try++) {
		tat = e->tat;
		late = (__s64)(tat - now);
		if (late < 0)
			late = 0;
		if ((__u64)late > (__u64)(l->burst - 1) * l->interval_ns)
			return 0;
		next = now + (__u64)late + l->interval_ns;
		if (__sync_val_compare_and_swap(&e->tat, tat, next) == tat)
			return 1;
	}
	return 0;	/* contended beyond reason: count it over */
}

/*
 * Action limit, for a TCP segment to a blocked port from a denied source,
 * not to an allowed relay: J_PASS, or d->limit.then. Sets d->lim for the
 * counters, and d->quarantines when this packet put its source in
 * quarantine (and sent the "quarantined" event). Writes the source's
 * entry only, with atomics; no lock.
 */
/*
 * The entry of a source that limiter_find gave (found: already its; else
 * made its own now): whether it is in quarantine now.
 */
static __always_inline int limiter_open(struct op25b_limiter *e, int found,
					const struct op25b_src *key, __u64 now)
{
	if (!found) {
		__builtin_memset(e, 0, sizeof(*e));
		e->src = *key;
		e->tat = now;
		sweeper_arm();
	}
	return (e->flags & OP25B_LIM_QUARANTINED) &&
	       (__s64)(e->until - now) > 0;
}

/*
 * A new connection from the source of entry e, for the packet hooks and
 * the socket hooks alike: J_PASS, or then (the limit's answer) when it
 * is over the limit or in quarantine. *lim says which (LIM_*); *fresh is
 * set when this connection put the source in quarantine.
 */
static __always_inline __u32 limiter_connect(struct op25b_limiter *e,
					     __u64 now,
					     const struct limit_cfg *limit,
					     __u32 then, int quarantined,
					     __u32 *lim, int *fresh)
{
	__u64 q;

	e->last_ns = now;
	if (bucket_take(e, now, limit)) {
		__sync_fetch_and_add(&e->passed, 1);
		*lim = quarantined ? LIM_QUARANTINED : LIM_PASSED;
		return quarantined ? then : J_PASS;
	}
	__sync_fetch_and_add(&e->exceeded, 1);
	*lim = LIM_EXCEEDED;
	q = limit->quarantine_ns;
	if (!q)
		return then;
	/* in quarantine until q after this excess: the end first, then the flag */
	e->until = now + q;
	if (quarantined)
		return then;
	e->since = now;
	__sync_fetch_and_or(&e->flags, OP25B_LIM_QUARANTINED);
	*fresh = 1;
	return then;
}

/* What a blocked packet gets under the limit (memory act was handed). */
static __always_inline int limit_then(const struct decision *d)
{
	return d->limit.then == J_REJECT ? J_REJECT : J_DROP;
}

static __always_inline int limit_judge(const struct limit_in *li,
				       struct decision *d)
{
	struct op25b_limiter *e;
	struct op25b_event *ev;
	__u64 now = dp_now();
	int found, quarantined, fresh = 0;
	__u32 then, r, zero = 0;

	then = limit_then(d);
	e = limiter_find(&li->key, now, &found);
	if (!found && !li->syn) {
		/* no state: not in quarantine, and not a new connection */
		d->lim = LIM_PASSED;
		return J_PASS;
	}
	if (!e) {
		d->lim = LIM_FULL;
		return then;
	}
	quarantined = limiter_open(e, found, &li->key, now);
	if (!li->syn) {
		d->lim = quarantined ? LIM_QUARANTINED : LIM_PASSED;
		return quarantined ? then : J_PASS;
	}
	r = limiter_connect(e, now, &d->limit, then, quarantined, &d->lim,
			    &fresh);
	if (!fresh)
		return r;
	d->quarantines = 1;
	/* the event is built where blocked packets' are: stack is short here */
	ev = bpf_map_lookup_elem(&op25b_scratch, &zero);
	if (!ev)
		return then;
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ts_ns = now;
	ev->kind = OP25B_EV_QUARANTINED;
	ev->action = OP25B_ACT_LIMIT;
	ev->cls = OP25B_C_SMTP;
	ev->family = li->key.family;
	ev->ifindex = li->ifindex;
	ev->sport = li->sport;
	ev->dport = li->dport;
	__builtin_memcpy(ev->saddr, li->key.addr, sizeof(ev->saddr));
	__builtin_memcpy(ev->daddr, li->daddr, sizeof(ev->daddr));
	if (event_publish(ev)) {
		struct op25b_stats *st = bpf_map_lookup_elem(&op25b_stats, &zero);

		if (st)
			st->events_lost++;
	}
	return then;
}

#endif /* OP25B_LIMIT_H */
