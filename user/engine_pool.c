// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The policy engine's pools: nodes and leaves handed out in blocks, their
 * books, and the rebuilding of the writers' own state after a writer died
 * or failed (doc/DESIGN.md, "Policy engine": "Writers", "Recovery").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"

/*
 * Walked by lock-free readers too (status -v), while a writer may relink
 * them: a link out of the pool ends a walk, and no walk goes on past the
 * pool's size.
 */
void engine_free_counts(struct engine *e, __u32 *nodes, __u32 *leaves)
{
	__u32 b, sz;

	*nodes = *leaves = 0;
	for (sz = 1; sz <= OP25B_BLOCK_MAX; sz++) {
		for (b = e->st->node_free[sz];
		     b && b + sz <= e->nodes_max && *nodes < e->nodes_max;
		     b = nodes_at(e, b, 1)->child_base)
			*nodes += sz;
		for (b = e->st->leaf_free[sz];
		     b && b + sz <= e->leaves_max && *leaves < e->leaves_max;
		     b = *leaves_at(e, b, 1))
			*leaves += sz;
	}
}


/*
 * Nodes and leaves are handed out alike: in blocks of n, from a free list
 * per size (linked through a block's first node's child_base, or through
 * its first leaf), else from the top of the pool. A block this
 * transaction made is freed at once; one the live snapshot may still use
 * waits for the commit, as garbage.
 */
struct pool {
	__u32 *free;		/* each size's list */
	__u32 *top;		/* [1, *top) have been handed out */
	__u32 max;
	__u8 *own;		/* bitmap: blocks made by this transaction */
	struct u32_pairs *garbage;
	const char *name, *plural;
};

static struct pool pool_of(struct engine *e, bool leaves)
{
	if (leaves)
		return (struct pool){ e->st->leaf_free, &e->st->leaf_top,
				      e->leaves_max, e->leaf_own,
				      &e->leaf_garbage, "leaf", "leaves" };
	return (struct pool){ e->st->node_free, &e->st->node_top, e->nodes_max,
			      e->node_own, &e->node_garbage, "node", "nodes" };
}

/* Where a free block keeps the next one of its list. */
static __u32 *block_link(struct engine *e, bool leaves, __u32 b)
{
	return leaves ? leaves_at(e, b, 1) : &nodes_at(e, b, 1)->child_base;
}

void block_free_now(struct engine *e, bool leaves, __u32 b, __u32 n)
{
	struct pool p = pool_of(e, leaves);

	*block_link(e, leaves, b) = p.free[n];
	p.free[n] = b;
}

/* A free block of more than n, split: its first n taken, the rest freed. */
static __u32 block_split(struct engine *e, bool leaves, __u32 n)
{
	struct pool p = pool_of(e, leaves);
	__u32 m, b;

	for (m = n + 1; m <= OP25B_BLOCK_MAX; m++) {
		b = p.free[m];
		if (!b)
			continue;
		p.free[m] = *block_link(e, leaves, b);
		block_free_now(e, leaves, b + n, m - n);
		return b;
	}
	return 0;
}

static int pair_cmp(const void *a, const void *b)
{
	const __u32 *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Put the free space [b, b + n) on the lists, as blocks of at most 64. */
static void run_free(struct engine *e, bool leaves, __u32 b, __u32 n)
{
	while (n) {
		__u32 k = n < OP25B_BLOCK_MAX ? n : OP25B_BLOCK_MAX;

		block_free_now(e, leaves, b, k);
		b += k;
		n -= k;
	}
}

/*
 * Join the free blocks that lie side by side and give the free space at
 * the top back to the top, so that a block of any size can be cut from
 * what is free (doc/DESIGN.md, "Recovery"). Only blocks already on the
 * lists move: what the draft or the live snapshot holds is not touched.
 */
static int pool_coalesce(struct engine *e, bool leaves)
{
	struct pool p = pool_of(e, leaves);
	struct u32_pairs l = { 0 };
	__u32 sz, b, start, len;
	size_t i;
	int err = 0;

	for (sz = 1; sz <= OP25B_BLOCK_MAX && !err; sz++)
		for (b = p.free[sz]; b && !err; b = *block_link(e, leaves, b))
			err = pairs_add(e, &l, b, sz);
	if (err) {
		free(l.v);
		return err;
	}
	qsort(l.v, l.n, sizeof(*l.v), pair_cmp);
	memset(p.free, 0, sizeof(__u32) * (OP25B_BLOCK_MAX + 1));
	for (i = 0; i < l.n;) {
		start = l.v[i][0];
		len = l.v[i][1];
		for (i++; i < l.n && l.v[i][0] == start + len; i++)
			len += l.v[i][1];
		if (start + len == *p.top)
			*p.top = start;
		else
			run_free(e, leaves, start, len);
	}
	free(l.v);
	return 0;
}

/*
 * A block of n: one of that size, else from the top, else cut from a
 * larger free block; when none is, the free blocks are joined and all
 * three tried again. A pool is full only when no n free elements lie
 * side by side.
 */
static int block_alloc(struct engine *e, bool leaves, __u32 n, __u32 *out)
{
	struct pool p = pool_of(e, leaves);
	int pass, err;
	__u32 b = 0;

	for (pass = 0; pass < 2 && !b; pass++) {
		if (pass) {
			err = pool_coalesce(e, leaves);
			if (err)
				return err;
		}
		b = p.free[n];
		if (b) {
			p.free[n] = *block_link(e, leaves, b);
		} else if (*p.top + n <= p.max) {
			b = *p.top;
			*p.top += n;
		} else {
			b = block_split(e, leaves, n);
		}
	}
	if (!b)
		return engine_fail(e, -ENOSPC, "the %s pool is full (%u %s)",
				   p.name, p.max - 1, p.plural);
	bit_set(p.own, b);
	e->touched = true;
	*out = b;
	return 0;
}

/* Block b of n is no longer in the draft. */
static int block_release(struct engine *e, bool leaves, __u32 b, __u32 n)
{
	struct pool p = pool_of(e, leaves);

	if (bit_test(p.own, b)) {
		p.own[b / 8] &= ~(1u << (b % 8));
		block_free_now(e, leaves, b, n);
		return 0;
	}
	return pairs_add(e, p.garbage, b, n);
}

int node_alloc(struct engine *e, __u32 n, __u32 *out)
{
	return block_alloc(e, false, n, out);
}

/* A node without children (n 0) has no block. */
int node_release(struct engine *e, __u32 b, __u32 n)
{
	return n ? block_release(e, false, b, n) : 0;
}

/* Leaf 0 is the shared all-zero leaf of an empty node: never handed out. */
int leaf_alloc(struct engine *e, __u32 n, __u32 *out)
{
	return block_alloc(e, true, n, out);
}

int leaf_release(struct engine *e, __u32 b, __u32 n)
{
	return b ? block_release(e, true, b, n) : 0;
}

static void mark_block(__u8 *b, __u32 start, __u32 n)
{
	__u32 i;

	for (i = start; i < start + n; i++)
		bit_set(b, i);
}

static void mark_node(struct engine *e, __u32 ni, __u8 *nm, __u8 *lm,
		      unsigned int depth)
{
	const struct op25b_node *n = nodes_at(e, ni, 1);
	__u32 k = popcount64(n->child_map), i;

	if (n->leaf_base)
		mark_block(lm, n->leaf_base, popcount64(n->run_map));
	if (!k || depth >= OP25B_DEPTH_FOR(128, e->root_bits))
		return;
	mark_block(nm, n->child_base, k);
	for (i = 0; i < k; i++)
		mark_node(e, n->child_base + i, nm, lm, depth + 1);
}

/*
 * Free every unmarked element below top, as blocks of at most 64, and
 * return the new top: one past the highest marked element, so that what
 * a dead or failed writer took from the top goes back to the top.
 */
static __u32 free_unmarked(struct engine *e, const __u8 *m, __u32 top,
			   bool nodes)
{
	__u32 i = 1, j;

	while (top > 1 && !bit_test(m, top - 1))
		top--;
	while (i < top) {
		if (bit_test(m, i)) {
			i++;
			continue;
		}
		for (j = i; j < top && !bit_test(m, j); j++)
			;
		run_free(e, !nodes, i, j - i);
		i = j;
	}
	return top;
}

/* Bitmaps of the nodes and leaves the live snapshot reaches. */
static int live_marks(struct engine *e, __u8 **nodes, __u8 **leaves)
{
	const struct op25b_snapshot *s = engine_live(e);
	__u8 *nm, *lm;
	__u32 i;
	int t;

	nm = calloc(e->nodes_max / 8 + 1, 1);
	lm = calloc(e->leaves_max / 8 + 1, 1);
	if (!nm || !lm) {
		free(nm);
		free(lm);
		return engine_fail(e, -ENOMEM, "out of memory");
	}
	for (t = 0; t < OP25B_TREES; t++) {
		const struct op25b_root_ent *rt = root_table(e, s->root[t]);

		for (i = 0; i < root_slots(e); i++) {
			if (!rt[i].child)
				continue;
			mark_block(nm, rt[i].child, 1);
			mark_node(e, rt[i].child, nm, lm, 1);
		}
	}
	*nodes = nm;
	*leaves = lm;
	return 0;
}

/*
 * A writer died between begin and the end of its commit: rebuild the free
 * lists, the records and the index from what the live snapshot holds.
 */
int engine_recover(struct engine *e)
{
	__u32 gen = engine_live(e)->gen, rid;
	__u8 *nm, *lm;
	int err;

	err = live_marks(e, &nm, &lm);
	if (err)
		return err;
	memset(e->st->node_free, 0, sizeof(e->st->node_free));
	memset(e->st->leaf_free, 0, sizeof(e->st->leaf_free));
	e->st->node_top = free_unmarked(e, nm, e->st->node_top, true);
	e->st->leaf_top = free_unmarked(e, lm, e->st->leaf_top, false);
	free(nm);
	free(lm);

	memset(slots_at(e, 0, e->index_mask + 1), 0,
	       (size_t)(e->index_mask + 1) * sizeof(__u32));
	e->st->index_used = 0;
	e->st->rule_free = 0;
	for (rid = e->st->rule_top; rid-- > 1;) {
		struct op25b_rule *r = rules_at(e, rid, 1);

		if (rule_alive(r, gen)) {
			r->died = 0;
			index_add(e, rid);
		} else {
			rule_clear(e, rid);
		}
	}
	return 0;
}

static __u32 marks_count(const __u8 *m, __u32 max)
{
	__u32 i, n = 0;

	for (i = 0; i < max / 8 + 1; i++)
		n += popcount64(m[i]);
	return n;
}

static void pools_total(const struct engine *e, struct engine_pools *u)
{
	memset(u, 0, sizeof(*u));
	u->nodes.total = e->nodes_max - 1;
	u->leaves.total = e->leaves_max - 1;
	u->rules.total = e->rules_max - 1;
	u->index.total = e->index_mask + 1;
}

/* The books as they stand, true only if no writer was at work meanwhile. */
static void pools_books(struct engine *e, struct engine_pools *u)
{
	__u32 nodes, leaves, rid, n = 0;

	engine_free_counts(e, &nodes, &leaves);
	for (rid = e->st->rule_free; rid && rid < e->rules_max && n < e->rules_max;
	     rid = rules_at(e, rid, 1)->link)
		n++;
	u->nodes.used = e->st->node_top - 1 - nodes;
	u->leaves.used = e->st->leaf_top - 1 - leaves;
	u->rules.used = e->st->rule_top - 1 - n;
	u->index.used = e->st->index_used;
}

int engine_pools_used(struct engine *e, struct engine_pools *u)
{
	__u32 gen;
	int tries;

	pools_total(e, u);
	if (!e->st->layout)
		return 0;
	if (e->in_txn) {
		pools_books(e, u);
		return 0;
	}
	/* a reader holds no lock: books read between two quiet moments */
	for (tries = 0; tries < 100; tries++) {
		gen = __atomic_load_n(&e->pol->live, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&e->st->dirty, __ATOMIC_ACQUIRE))
			break;
		pools_books(e, u);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&e->st->dirty, __ATOMIC_ACQUIRE) &&
		    __atomic_load_n(&e->pol->live, __ATOMIC_RELAXED) == gen)
			return 0;
	}
	pools_total(e, u);
	return engine_fail(e, -EAGAIN, "a change is under way, or was cut short (the next change reclaims what it took)");
}

int engine_pools_needed(struct engine *e, struct engine_pools *u)
{
	__u32 gen = engine_live(e)->gen, rid, top;
	__u8 *nm, *lm;
	int err;

	pools_total(e, u);
	if (!e->st->layout)
		return 0;
	err = live_marks(e, &nm, &lm);
	if (err)
		return err;
	u->nodes.used = marks_count(nm, e->nodes_max);
	u->leaves.used = marks_count(lm, e->leaves_max);
	free(nm);
	free(lm);
	top = e->st->rule_top < e->rules_max ? e->st->rule_top : e->rules_max;
	for (rid = 1; rid < top; rid++)
		if (rule_alive(rules_at(e, rid, 1), gen))
			u->rules.used++;
	u->index.used = u->rules.used;
	return 0;
}
