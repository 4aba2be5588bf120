/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The decision core, shared by the packet hooks (op25b.bpf.c) and the
 * socket hooks (cgroup.h): the policy's live word and snapshots, the
 * compiled trees and the walk over them (decide.h), how a snapshot is
 * read so that one reused meanwhile is never believed, the judgements
 * and the limit's terms, the counters and the rule hits. Its maps and
 * globals are defined here, once, for op25b.bpf.c, which includes it
 * first; it needs nothing but op25b.h, maps.h, decide.h and parse.h's
 * port_blocked.
 */
#ifndef OP25B_CORE_H
#define OP25B_CORE_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include "op25b.h"
#include "maps.h"
#include "parse.h"		/* port_blocked */
#include "decide.h"

#define READ_ONCE(x)	(*(const volatile typeof(x) *)&(x))

/*
 * The policy: the live word and the two snapshot headers, a pinned global
 * read directly (no map-lookup helper). A fresh one is generation 0: no
 * prefix, port 25 blocked, action drop.
 */
struct op25b_policy op25b_pol SEC(".data.policy") = {
	.snap = { {
		.root = { 0, 1, 2, 3 },
		.cfg = {
			.action = OP25B_ACT_DROP,
			.ports = { [OP25B_DEFAULT_PORT / 64] =
					   1ULL << (OP25B_DEFAULT_PORT % 64) },
		},
	} },
};

/* What the trees hold, by rule id: read by op25bctl and bpftool only. */
OP25B_MMAP_ARRAY(struct op25b_rule,
		OP25B_RULES_FOR(OP25B_CAPACITY_DEFAULT))
	op25b_rules SEC(".maps");

/* Packets each rule decided a lookup for: op25b.h, "Rule hits". */
OP25B_MMAP_ARRAY(__u64, OP25B_RULES_FOR(OP25B_CAPACITY_DEFAULT) *
				 OP25B_HITS_CPUS_DEFAULT)
	op25b_hits SEC(".maps");

/* The writers' allocator state and exact-prefix index; never read here. */
OP25B_MMAP_ARRAY(struct op25b_engine, 1) op25b_engine SEC(".maps");

OP25B_MMAP_ARRAY(struct op25b_index_line,
		OP25B_INDEX_LINES_FOR(OP25B_CAPACITY_DEFAULT))
	op25b_index SEC(".maps");

OP25B_PERCPU_ARRAY(struct op25b_stats, 1) op25b_stats SEC(".maps");

enum judgement {
	J_PASS,
	J_DROP,
	J_REJECT,	/* drop, and answer with a RST if one can be built */
	J_MONITOR,	/* would be blocked: pass, but record it */
	J_LIMIT,	/* action limit: the limiter decides (op25b_limit) */
};

/*
 * Loads before this one complete before loads after it: what tells a
 * packet that the snapshot it read was not reused meanwhile. x86 keeps
 * loads in order; elsewhere a fully ordered atomic on a CPU-local word.
 */
#if defined(__TARGET_ARCH_x86)
static __always_inline void snapshot_read_fence(void)
{
	asm volatile("" ::: "memory");
}
#else
OP25B_PERCPU_ARRAY(__u64, 1) op25b_fence SEC(".maps");

static __always_inline void snapshot_read_fence(void)
{
	__u32 zero = 0;
	__u64 *f = bpf_map_lookup_elem(&op25b_fence, &zero);

	if (f)
		(void)__sync_fetch_and_add(f, 0);
}
#endif

/*
 * Reading a snapshot (doc/DESIGN.md, Publishing): the live word says
 * which of the two is live; once read, the word is read again behind the
 * fence, and what was read holds only when it had not moved, since a
 * writer may have reused that snapshot meanwhile.
 */
static __always_inline const struct op25b_snapshot *snapshot_read(__u32 *g)
{
	*g = READ_ONCE(op25b_pol.live);
	return &op25b_pol.snap[*g & 1];
}

static __always_inline int snapshot_held(__u32 g)
{
	snapshot_read_fence();
	return READ_ONCE(op25b_pol.live) == g;
}

/* What an action limit snapshot says, for the limiter. */
struct limit_cfg {
	__u64 interval_ns;
	__u64 quarantine_ns;
	__u32 burst;
	__u8  then;		/* J_DROP or J_REJECT */
	__u8  prefix6;
};

/* What the limiter made of a packet, for the counters. */
enum limit_result {
	LIM_NONE,
	LIM_PASSED,		/* within the limit, or not a new connection */
	LIM_EXCEEDED,		/* a new connection over it */
	LIM_QUARANTINED,	/* its source is in quarantine */
	LIM_FULL,		/* no room to count its source */
};

/* What one snapshot decided for a packet. */
struct decision {
	int cls;		/* enum op25b_class, OP25B_C_TCP resolved */
	enum judgement j;
	__u32 sub;		/* the deciding leaves, 0 for none */
	__u32 relay;
	__u32 lim;		/* enum limit_result */
	__u32 quarantines;	/* 1: this packet put its source in quarantine */
	struct limit_cfg limit;	/* when j is J_LIMIT */
};

/* The snapshot's limit, as the limiter reads it (packets and connects). */
static __always_inline void limit_of(struct limit_cfg *l,
				     const struct op25b_config *cfg)
{
	l->interval_ns = cfg->limit.interval_ns;
	l->quarantine_ns = cfg->limit.quarantine_ns;
	l->burst = cfg->limit.burst;
	l->then = cfg->limit.then == OP25B_ACT_REJECT ? J_REJECT : J_DROP;
	l->prefix6 = cfg->limit.prefix6;
}

/*
 * A TCP segment to a port the live snapshot does not block: read as the
 * decision reads, the word again after the port, so a snapshot reused
 * meanwhile is never believed. Most traffic leaves here, having read the
 * packet and op25b_pol and nothing else.
 */
static __always_inline int port_open(__u16 dport)
{
	__u32 g;
	int blocked = port_blocked(&snapshot_read(&g)->cfg, dport);

	return !blocked && snapshot_held(g);
}

/* The hits map's stripes (op25b.h), and whether CPUs share them. */
const volatile __u32 op25b_hit_stripes = OP25B_HITS_CPUS_DEFAULT;
const volatile bool op25b_hits_shared = false;

/*
 * Count a rule's hit in this CPU's stripe, with an atomic when the stripe
 * is shared or something else may run on this CPU meanwhile (the socket
 * hooks, in process context, beside a softirq).
 */
static __always_inline void hit_count(__u32 leaf, const bool atomic)
{
	__u32 stride, cpu, idx;
	__u64 *h;

	if (!leaf)	/* no rule decided: most relays of a blocked packet */
		return;
	stride = READ_ONCE(op25b_pol.hits_stride);
	if (OP25B_LEAF_RID(leaf) >= stride)
		return;
	/* a division (tens of cycles) only where CPUs share the stripes */
	cpu = bpf_get_smp_processor_id();
	if (cpu >= op25b_hit_stripes)
		cpu %= op25b_hit_stripes;
	idx = cpu * stride + OP25B_LEAF_RID(leaf);
	h = bpf_map_lookup_elem(&op25b_hits, &idx);
	if (!h)
		return;
	if (atomic || op25b_hits_shared)
		__sync_fetch_and_add(h, 1);
	else
		(*h)++;
}

#endif /* OP25B_CORE_H */
