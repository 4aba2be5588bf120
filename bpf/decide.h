/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The decision, written once for both sides of the BPF boundary: the walk
 * down a tree (doc/DESIGN.md, "Lookup") and what a snapshot's two tables
 * say of a packet aimed at a blocked port ("Policy model"). The datapath
 * (bpf/op25b.bpf.c) compiles it over bpf_map_lookup_elem, op25bctl
 * (user/engine_read.c) over its mmap windows of the same maps, so 'op25bctl
 * test' and the datapath cannot disagree.
 *
 * The map access is all each side supplies: the datapath's is trees.h
 * (global maps, struct op25b_trees never made, NULL passed), op25bctl's
 * is defined in its own file after this one is included:
 *
 *   struct op25b_trees             what its accessors read through
 *   op25b_root_bits_of(t)          the root tables' bits (op25b.h), as
 *                                  the roots map's size says
 *   op25b_root_at(t, &i)           entry i of the root tables
 *   op25b_node_at(t, &i)           node i
 *   op25b_leaves_at(t, &i)         leaf element i (OP25B_LEAVES_PER leaves)
 *                                  each NULL when i is out of range; the
 *                                  index by address, as a map lookup's
 *                                  key: the walk keeps its indices where
 *                                  the datapath's lookups read them
 *
 * The decision walks a tree by op25b_lookup: on the datapath the root's
 * step and the first node levels inline and the walk below them a global
 * function the verifier checks once (op25b_tree_descend); in op25bctl
 * op25b_walk itself.
 */
#ifndef OP25B_DECIDE_H
#define OP25B_DECIDE_H

#include <linux/types.h>
#include "op25b.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

struct op25b_trees;

#ifdef __BPF__
#include "trees.h"	/* the datapath's maps and accessors */
#else
static __always_inline __u32 op25b_root_bits_of(const struct op25b_trees *t);
static __always_inline const struct op25b_root_ent *
op25b_root_at(const struct op25b_trees *t, const __u32 *i);
static __always_inline const struct op25b_node *
op25b_node_at(const struct op25b_trees *t, const __u32 *i);
static __always_inline const struct op25b_leaves *
op25b_leaves_at(const struct op25b_trees *t, const __u32 *i);
#endif

#ifdef __BPF__
/* BPF has no popcount instruction. */
static __always_inline __u32 op25b_popcount64(__u64 x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}
#else
static __always_inline __u32 op25b_popcount64(__u64 x)
{
	return (__u32)__builtin_popcountll(x);
}
#endif

/*
 * An address as the trees read it: 128 bits, left-aligned (IPv4 in the
 * top 32 bits of hi).
 */
struct op25b_addr {
	__u64 hi;
	__u64 lo;
};

/*
 * The root tables' word on an address (hi:lo) in the tree whose root
 * table is root: its leaf, and in *cur the node below it (0: none), with
 * hi:lo moved past the root's bits for the walk down from there.
 */
static __always_inline __u32 op25b_root_step(const struct op25b_trees *t,
					     __u32 root, __u64 *hi, __u64 *lo,
					     __u32 *cur)
{
	const struct op25b_root_ent *re;
	__u32 rbits = op25b_root_bits_of(t);
	__u32 idx;

	*cur = 0;
	if (rbits < OP25B_ROOT_BITS_MIN || rbits > OP25B_ROOT_BITS_MAX)
		return 0;
	idx = (root & (OP25B_ROOT_TABLES - 1)) << rbits |
	      (__u32)(*hi >> (64 - rbits));
	re = op25b_root_at(t, &idx);
	if (!re)
		return 0;
	*cur = re->child;
	*hi = *hi << rbits | *lo >> (64 - rbits);
	*lo <<= rbits;
	return re->leaf;
}

/*
 * One node level: node *cur read at the slot the address's next bits
 * (the top OP25B_STRIDE of hi) give, *best set to its leaf there when it
 * has one. 1, with *cur the child there, when the walk goes on down (the
 * caller then moves the address past the node's bits: op25b_shift); 0
 * when it ends here.
 */
static __always_inline int op25b_step(const struct op25b_trees *t,
				      __u32 *cur, __u32 *best, __u64 hi)
{
	const struct op25b_leaves *lv;
	const struct op25b_node *n;
	__u32 idx, slot, k;
	__u64 upto;

	n = op25b_node_at(t, cur);
	if (!n)
		return 0;
	slot = hi >> (64 - OP25B_STRIDE);
	upto = ~0ULL >> (63 - slot);	/* slots 0..slot */
	/*
	 * A node whose leaves are all empty has none stored (leaf_base
	 * 0): no rank to count and no leaf to read, as on the way down
	 * to a /24 through a node that only leads there.
	 */
	if (n->leaf_base) {
		k = n->leaf_base + op25b_popcount64(n->run_map & upto) - 1;
		idx = k / OP25B_LEAVES_PER;
		lv = op25b_leaves_at(t, &idx);
		if (lv && lv->leaf[k % OP25B_LEAVES_PER])
			*best = lv->leaf[k % OP25B_LEAVES_PER];
	}
	if (!((n->child_map >> slot) & 1))
		return 0;
	*cur = n->child_base + op25b_popcount64(n->child_map & (upto >> 1));
	return 1;
}

/* The address (hi:lo) moved past a node's bits. */
#define op25b_shift(hi, lo)						\
	do {								\
		(hi) = (hi) << OP25B_STRIDE | (lo) >> (64 - OP25B_STRIDE); \
		(lo) <<= OP25B_STRIDE;					\
	} while (0)

/*
 * From node cur down, within depth node levels, best the leaf met above
 * it: the last leaf met on the way, as deeper nodes hold longer prefixes.
 */
static __always_inline __u32 op25b_descend(const struct op25b_trees *t,
					   __u32 cur, __u32 best, __u64 hi,
					   __u64 lo, __u32 depth)
{
	__u32 d;

	for (d = 0; d < OP25B_DEPTH_MAX; d++) {
		if (d >= depth || !cur || !op25b_step(t, &cur, &best, hi))
			break;
		op25b_shift(hi, lo);
	}
	return best;
}

/*
 * The leaf that decides for an address (hi:lo) in the tree whose root
 * table is root, within depth node levels. 0: none.
 */
static __always_inline __u32 op25b_walk(const struct op25b_trees *t,
					__u32 root, __u64 hi, __u64 lo,
					__u32 depth)
{
	__u32 cur, best = op25b_root_step(t, root, &hi, &lo, &cur);

	return cur ? op25b_descend(t, cur, best, hi, lo, depth) : best;
}

#ifdef __BPF__
/*
 * The walk below the levels the decision takes inline: a global function,
 * which the verifier checks once, whoever calls it.
 */
__noinline __u32 op25b_tree_descend(__u32 cur, __u32 best, __u64 hi, __u64 lo,
				    __u32 depth)
{
	return op25b_descend(NULL, cur, best, hi, lo, depth);
}

/*
 * The walk as the datapath's decision calls it: the root's step and, when
 * inl is set, the first OP25B_INLINE_LEVELS node levels inline, and the
 * rest of the walk in op25b_tree_descend. A call and its return cost more
 * here than a level of the walk (doc/DESIGN.md, "Datapath"): inline, a /24
 * under a root of up to 18 bits and a /32 under one of 20 make no call.
 * A caller that decides few packets (a retry after a publish) passes inl
 * false: the verifier then walks those levels once, in the global
 * function, not again in every caller.
 */
#define OP25B_INLINE_LEVELS	2

static __always_inline __u32 op25b_lookup(const struct op25b_trees *t,
					  __u32 root, __u64 hi, __u64 lo,
					  __u32 depth, const bool inl)
{
	__u32 cur, best = op25b_root_step(t, root, &hi, &lo, &cur), d;

	if (inl) {
		for (d = 0; d < OP25B_INLINE_LEVELS; d++) {
			if (!cur || d >= depth || !op25b_step(t, &cur, &best, hi))
				return best;
			op25b_shift(hi, lo);
		}
		depth = depth > OP25B_INLINE_LEVELS ?
				depth - OP25B_INLINE_LEVELS : 0;
	}
	return cur && depth ? op25b_tree_descend(cur, best, hi, lo, depth) :
			      best;
}

/*
 * The whole walk as one global function, for a caller that decides few
 * packets and many branches (the socket hooks' retries).
 */
__noinline __u32 op25b_tree_lookup(__u32 root, __u64 hi, __u64 lo,
				   __u32 depth)
{
	return op25b_walk(NULL, root, hi, lo, depth);
}
#else
static __always_inline __u32 op25b_lookup(const struct op25b_trees *t,
					  __u32 root, __u64 hi, __u64 lo,
					  __u32 depth, const bool inl)
{
	return op25b_walk(t, root, hi, lo, depth);
}
#endif

/*
 * What snapshot s's tables say of a packet from src to dst aimed at a
 * blocked port: its source's leaf in subscriber (*sub) and, only when that
 * is a deny, its destination's in relay (*relay, which is otherwise left
 * as the caller set it: 0, the datapath's "no rule").
 * Blocked exactly when the source's best match is a deny and the
 * destination's is not an allow (doc/DESIGN.md, "Policy model"). inl:
 * the datapath's first try, the subscriber walk's first levels inline
 * (op25b_lookup). The relay walk's stay in the call: a relay table holds
 * a few relays, most destinations' root entries have no node below, and
 * inline its levels would cost the verifier about 3,000 instructions a
 * program for nothing a flood shows.
 */
static __always_inline enum op25b_said
op25b_tables_judge(const struct op25b_trees *t, const struct op25b_snapshot *s,
		   __u32 v6, const struct op25b_addr *src,
		   const struct op25b_addr *dst, __u32 *sub, __u32 *relay,
		   const bool inl)
{
	__u32 rbits = op25b_root_bits_of(t), depth;

	/*
	 * The family as a number, 0 or 1, not as two constants: the verifier
	 * then walks the lookups below once, not once for each family, and
	 * the compiler may not turn the arithmetic back into a choice
	 * between two constants.
	 */
	v6 &= 1;
#ifdef __BPF__
	barrier_var(v6);
#endif
	depth = OP25B_DEPTH_FOR(32 + 96 * v6, rbits);

#ifdef OP25B_BENCH_NO_WALK
	/*
	 * make bench's third build only, never installed: every source a
	 * deny of rule 1, no walk made, so that the flood shows what a lookup
	 * that cost nothing would leave of the rest of the program.
	 */
	*sub = OP25B_LEAF(1, OP25B_V_DENY);
	return OP25B_SAID_BLOCKED;
#endif
	*sub = op25b_lookup(t, s->root[OP25B_TREE(OP25B_TABLE_SUBSCRIBER, v6)],
			    src->hi, src->lo, depth, inl);
	if (OP25B_LEAF_VERDICT(*sub) != OP25B_V_DENY)
		return OP25B_LEAF_VERDICT(*sub) == OP25B_V_ALLOW ?
			       OP25B_SAID_EXEMPT :
			       OP25B_SAID_NOT_SUBSCRIBER;
	*relay = op25b_lookup(t, s->root[OP25B_TREE(OP25B_TABLE_RELAY, v6)],
			      dst->hi, dst->lo, depth, false);
	return OP25B_LEAF_VERDICT(*relay) == OP25B_V_ALLOW ? OP25B_SAID_RELAY :
							     OP25B_SAID_BLOCKED;
}

#endif /* OP25B_DECIDE_H */
