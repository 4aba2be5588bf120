/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the datapath records of blocked (and monitored) packets: each
 * CPU's offenders table and one-second window, the event log,
 * and the clock they are timed by (doc/DESIGN.md, "Datapath", step 4;
 * op25b.h: Offenders, sampling). Their maps are defined here, once, for
 * op25b.bpf.c, which turns a judged packet into what is recorded (note,
 * event_fill) and includes this file; it needs nothing but op25b.h.
 */
#ifndef OP25B_EVENTS_H
#define OP25B_EVENTS_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "op25b.h"
#include "maps.h"

/* Sources of blocked packets, for 'op25bctl top' (op25b.h: Offenders). */
OP25B_PERCPU_ARRAY(struct op25b_offender,
		OP25B_OFFENDERS_MAX)
	op25b_offenders SEC(".maps");

/* Slots of op25b_offenders: the loader sets it from the map's size. */
const volatile __u32 op25b_offender_slots = OP25B_OFFENDERS_MAX;

/* This CPU's one-second window: events sent, blocked packets seen. */
OP25B_PERCPU_ARRAY(struct op25b_window, 1) op25b_budget SEC(".maps");

/*
 * The event of a blocked packet is built here, not on the stack: the tc
 * entry point and the RST it may build share 512 bytes of stack.
 */
OP25B_PERCPU_ARRAY(struct op25b_event, 1) op25b_scratch SEC(".maps");

/*
 * The event log, for every reader at once (op25b.h, "The event log"):
 * sized by the loader, one region per possible CPU.
 */
OP25B_MMAP_ARRAY(struct op25b_event,
		OP25B_EVLOG_REGION * OP25B_EVLOG_CPUS_DEFAULT)
	op25b_events SEC(".maps");

/*
 * Where this instance runs, for the event's reader to find its attachment
 * record by (op25b.h, struct op25b_attach_key): set by the loader.
 */
const volatile __u64 op25b_netns_ino = 0;

/*
 * The tests' clock: 0, the kernel's (coarse) monotonic clock; anything
 * else is the time, fixed, so the limiter's arithmetic can be driven to
 * its edges and the oracle fed the same time. Per loaded object, never
 * pinned: op25bctl never sets it.
 */
volatile __u64 op25b_test_now = 0;

static __always_inline __u64 dp_now(void)
{
	__u64 t = op25b_test_now;

	return t ? t : bpf_ktime_get_coarse_ns();
}

/* BPF has no memcmp: a source is five words. */
static __always_inline int src_equal(const struct op25b_src *a,
				     const struct op25b_src *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	_Static_assert(sizeof(*a) == 20, "op25b_src is five words");
	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] &&
	       x[3] == y[3] && x[4] == y[4];
}

/*
 * This CPU's window, and the weight a blocked packet is counted with in
 * the offenders table: 1 for the first OP25B_EXACT_PER_SEC of the window,
 * then OP25B_SAMPLE_RATE for one packet in OP25B_SAMPLE_RATE at random,
 * 0 for the others (op25b.h: sampling).
 */
static __always_inline __u32 tally(struct op25b_window *w)
{
	__u64 now;
	__u32 x;

	/*
	 * The clock is read for the exact part of the window, then for one
	 * packet in OP25B_SAMPLE_RATE: a flood ends its window a few packets
	 * late, and most of its packets make no helper call at all.
	 */
	if (w->seen < OP25B_EXACT_PER_SEC ||
	    !(w->seen & (OP25B_SAMPLE_RATE - 1))) {
		now = dp_now();
		if (now - w->start_ns >= OP25B_EVENT_INTERVAL_NS) {
			w->start_ns = now;
			w->sent = 0;
			w->seen = 0;
		}
	}
	if (w->seen++ < OP25B_EXACT_PER_SEC)
		return 1;
	/*
	 * One in OP25B_SAMPLE_RATE at random: a xorshift on this CPU's word,
	 * a few instructions where a helper call would cost more than the
	 * rest of the blocked path; seeded once from the kernel's generator.
	 */
	x = w->rnd ? w->rnd : bpf_get_prandom_u32() | 1;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	w->rnd = x;
	return x & (OP25B_SAMPLE_RATE - 1) ? 0 : OP25B_SAMPLE_RATE;
}

/*
 * Count a sampled packet (ev filled in but for its time) with weight in
 * this CPU's offenders slot; 1 when an event should go out: this CPU's
 * budget is not spent and the source had no event from this CPU within
 * OP25B_EVENT_INTERVAL_NS.
 */
static __always_inline int offender_count(struct op25b_event *ev,
					  struct op25b_window *w, __u32 weight,
					  __u64 now)
{
	struct op25b_offender *o;
	struct op25b_src key = {};
	__u32 slot;
	int mine;

	key.family = ev->family;
	__builtin_memcpy(key.addr, ev->saddr, sizeof(key.addr));
	slot = op25b_src_hash(&key) & (op25b_offender_slots - 1);
	o = bpf_map_lookup_elem(&op25b_offenders, &slot);
	if (!o)
		return 0;
	/* this CPU's slot: the source in it, or a newcomer that outweighs it */
	mine = src_equal(&o->src, &key);
	if (!mine && (!o->src.family ||
		      o->pressure >= o->blocked + o->monitored)) {
		__builtin_memset(o, 0, sizeof(*o));
		o->src = key;
		o->first_ns = now;
		mine = 1;
	} else if (!mine) {
		o->pressure += weight;
	}
	if (mine) {
		if (ev->action == OP25B_ACT_MONITOR)
			o->monitored += weight;
		else
			o->blocked += weight;
		if (weight > 1)
			o->flags |= OP25B_OFF_ESTIMATED;
		o->last_ns = now;
		__builtin_memcpy(o->last_daddr, ev->daddr,
				 sizeof(o->last_daddr));
		o->last_dport = ev->dport;
		o->last_ifindex = ev->ifindex;
	}
	if (w->sent >= OP25B_EVENTS_PER_SEC ||
	    (mine && o->last_event_ns &&
	     now - o->last_event_ns < OP25B_EVENT_INTERVAL_NS))
		return 0;
	w->sent++;
	if (mine)
		o->last_event_ns = now;
	return 1;
}

/*
 * Write ev into this CPU's region of the event log as its next event
 * (op25b.h, "The event log"). Only this CPU writes its region, and a
 * program is not entered again on the CPU it runs on: no lock. The two
 * exchanges order the slot's fields between "being written" and its
 * sequence number for readers on other CPUs. 0 when written.
 */
static __always_inline int event_publish(const struct op25b_event *ev)
{
	__u32 base = bpf_get_smp_processor_id() * OP25B_EVLOG_REGION, idx;
	struct op25b_event *head, *slot;
	__u64 seq;

	head = bpf_map_lookup_elem(&op25b_events, &base);
	if (!head)
		return -1;
	seq = head->seq + 1;
	idx = base + 1 + (__u32)(seq % OP25B_EVLOG_SLOTS);
	slot = bpf_map_lookup_elem(&op25b_events, &idx);
	if (!slot)
		return -1;
	__sync_lock_test_and_set(&slot->seq, 0);
	__builtin_memcpy((char *)slot + sizeof(slot->seq),
			 (const char *)ev + sizeof(ev->seq),
			 sizeof(*ev) - sizeof(ev->seq));
	slot->netns_ino = op25b_netns_ino;
	__sync_lock_test_and_set(&slot->seq, seq);
	__sync_lock_test_and_set(&head->seq, seq);
	return 0;
}

/*
 * Send the event note() prepared, or count why not. The action it says
 * is what was done: a reject that could build no RST was a drop.
 */
static __always_inline void event_send(int send, struct op25b_event *ev,
				       struct op25b_stats *st, __u8 action)
{
	if (!st)
		return;
	if (!send || !ev) {
		st->events_suppressed++;
		return;
	}
	ev->action = action;
	if (event_publish(ev))
		st->events_lost++;
}

#endif /* OP25B_EVENTS_H */
