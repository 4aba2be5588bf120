// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The policy engine: copy-on-write multibit tries in array maps, written
 * through mmap, published with one store (doc/DESIGN.md, "Policy engine").
 *
 * Rules of the game:
 *  - Nothing the live snapshot can reach is written. A change copies every
 *    block on its way down (root table, children blocks, leaf blocks) and
 *    changes the copies; blocks made by this transaction ("owned") may be
 *    changed again until it is published.
 *  - Publishing writes the draft header into the spare slot and then the
 *    live word. What the old snapshot alone used is freed at once: a packet
 *    still reading it sees the live word move and judges again.
 *  - The allocator, the free record list and the exact-prefix index are
 *    the writers' own; a writer marks them dirty while it works, so one that
 *    dies leaves a mark, and the next rebuilds them from the live snapshot.
 *
 * This file holds the trees and the transaction: begin, set, del, flush,
 * commit and abort ("Publishing", "Lookup", "Writers"). The maps are
 * opened and sized in engine_map.c, the pools and recovery are in
 * engine_pool.c, the rule records, the index and the layers' owners in
 * engine_rule.c, lock-free reading in engine_read.c; engine_int.h is what
 * they share.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"


/* ---- nodes ---- */

static void node_decode(struct engine *e, const struct op25b_node *n,
			__u32 v[OP25B_SLOTS])
{
	const __u32 *lv = leaves_at(e, n->leaf_base, popcount64(n->run_map));
	int s, k = -1;

	for (s = 0; s < (int)OP25B_SLOTS; s++) {
		if ((n->run_map >> s) & 1)
			k++;
		v[s] = lv[k];
	}
}

/* Give node ni the leaves v, in a new block; the old one is released. */
static int node_encode(struct engine *e, __u32 ni, const __u32 v[OP25B_SLOTS])
{
	struct op25b_node *n = nodes_at(e, ni, 1);
	__u64 runs = 1;
	__u32 b = 0, k = 0, cnt;
	int s, err;

	for (s = 1; s < (int)OP25B_SLOTS; s++)
		if (v[s] != v[s - 1])
			runs |= 1ULL << s;
	cnt = popcount64(runs);
	if (!(cnt == 1 && !v[0])) {
		__u32 *lv;

		err = leaf_alloc(e, cnt, &b);
		if (err)
			return err;
		lv = leaves_at(e, b, cnt);
		for (s = 0; s < (int)OP25B_SLOTS; s++)
			if ((runs >> s) & 1)
				lv[k++] = v[s];
	}
	err = leaf_release(e, n->leaf_base, popcount64(n->run_map));
	n->run_map = runs;
	n->leaf_base = b;
	return err;
}

static void node_init(struct op25b_node *n)
{
	memset(n, 0, sizeof(*n));
	n->run_map = 1;
}

static bool node_empty(const struct op25b_node *n)
{
	return !n->child_map && n->run_map == 1 && !n->leaf_base;
}

/* A copy of block b (n nodes) that this transaction owns. */
static int block_own(struct engine *e, __u32 b, __u32 n, __u32 *out)
{
	__u32 nb;
	int err;

	if (bit_test(e->node_own, b)) {
		*out = b;
		return 0;
	}
	err = node_alloc(e, n, &nb);
	if (err)
		return err;
	memcpy(nodes_at(e, nb, n), nodes_at(e, b, n), n * sizeof(struct op25b_node));
	*out = nb;
	return node_release(e, b, n);
}

/*
 * The child at slot s of owned node pi, made owned itself (and created,
 * empty, when create is set). 0 when it is absent and not created.
 */
static int child_own(struct engine *e, __u32 pi, __u32 s, bool create,
		     __u32 *out)
{
	struct op25b_node *p = nodes_at(e, pi, 1);
	__u32 k = popcount64(p->child_map), nb;
	__u32 rank = popcount64(p->child_map & ((1ULL << s) - 1));
	int err;

	*out = 0;
	if ((p->child_map >> s) & 1) {
		err = block_own(e, p->child_base, k, &nb);
		if (err)
			return err;
		p = nodes_at(e, pi, 1);
		p->child_base = nb;
		*out = nb + rank;
		return 0;
	}
	if (!create)
		return 0;
	err = node_alloc(e, k + 1, &nb);
	if (err)
		return err;
	p = nodes_at(e, pi, 1);
	memcpy(nodes_at(e, nb, rank), nodes_at(e, p->child_base, rank),
	       rank * sizeof(*p));
	node_init(nodes_at(e, nb + rank, 1));
	memcpy(nodes_at(e, nb + rank + 1, k - rank),
	       nodes_at(e, p->child_base + rank, k - rank),
	       (k - rank) * sizeof(*p));
	err = k ? node_release(e, p->child_base, k) : 0;
	p->child_base = nb;
	p->child_map |= 1ULL << s;
	*out = nb + rank;
	return err;
}

/* Take the (empty) child at slot s out of owned node pi. */
static int child_drop(struct engine *e, __u32 pi, __u32 s)
{
	struct op25b_node *p = nodes_at(e, pi, 1);
	__u32 k = popcount64(p->child_map), nb = 0;
	__u32 rank = popcount64(p->child_map & ((1ULL << s) - 1));
	int err;

	if (k > 1) {
		err = node_alloc(e, k - 1, &nb);
		if (err)
			return err;
		p = nodes_at(e, pi, 1);
		memcpy(nodes_at(e, nb, rank), nodes_at(e, p->child_base, rank),
		       rank * sizeof(*p));
		memcpy(nodes_at(e, nb + rank, k - rank - 1),
		       nodes_at(e, p->child_base + rank + 1, k - rank - 1),
		       (k - rank - 1) * sizeof(*p));
	}
	err = node_release(e, p->child_base, k);
	p->child_base = nb;
	p->child_map &= ~(1ULL << s);
	return err;
}

/* ---- trees ---- */

/*
 * The spare root tables' records (op25b.h, struct op25b_rootsync): table
 * r's, cleared, and every one that says another table holds what r does,
 * before r is written. Stores in order: the records are shared memory, and
 * a writer killed after these stores leaves them cleared.
 */
static void sync_forget(struct engine *e, __u32 r)
{
	__u32 q;

	if (!e->sync)
		return;
	__atomic_store_n(&e->sync[r].mirror, 0, __ATOMIC_SEQ_CST);
	for (q = 0; q < OP25B_ROOT_TABLES; q++)
		if (__atomic_load_n(&e->sync[q].mirror, __ATOMIC_RELAXED) == r + 1)
			__atomic_store_n(&e->sync[q].mirror, 0, __ATOMIC_SEQ_CST);
}

/*
 * Entries [i, i + n) of tree's draft root table are written: kept in the
 * record of the live table it was copied from, as what the two differ in
 * (made valid at the commit). More than a record holds: none kept, and
 * the next draft from it copies the whole table.
 */
static void root_touch(struct engine *e, int tree, __u32 i, __u32 n)
{
	struct op25b_rootsync *rs;
	__u32 k;

	if (!e->sync)
		return;
	rs = &e->sync[e->pol->snap[e->gen & 1].root[tree]];
	/* a batch in address order writes one entry many times in a row */
	if (n == 1 && e->sync_n[tree] &&
	    e->sync_n[tree] <= OP25B_ROOTSYNC_ENTS &&
	    rs->ent[e->sync_n[tree] - 1] == i)
		return;
	if (n > OP25B_ROOTSYNC_ENTS - e->sync_n[tree] ||
	    e->sync_n[tree] > OP25B_ROOTSYNC_ENTS) {
		e->sync_n[tree] = OP25B_ROOTSYNC_ENTS + 1;
		return;
	}
	for (k = 0; k < n; k++)
		rs->ent[e->sync_n[tree]++] = i + k;
}

/*
 * The draft's root table of tree, copied first if the live one is shared:
 * into a spare table, the one whose record says it holds what the live one
 * does but at a few entries when there is one (only those are copied),
 * else one whose record says nothing, so as to keep another tree's.
 */
static int root_own(struct engine *e, int tree)
{
	const struct op25b_snapshot *live = &e->pol->snap[e->gen & 1];
	size_t to, from, slots = root_slots(e);
	__u32 used = 0, r, pick = OP25B_ROOT_TABLES, k, i;
	bool known = false;
	int t;

	if (e->draft.root[tree] != live->root[tree])
		return 0;
	e->touched = true;
	for (t = 0; t < OP25B_TREES; t++)
		used |= 1u << live->root[t] | 1u << e->draft.root[t];
	/* the spare that mirrors the live table, else one that mirrors none */
	for (r = 0; r < OP25B_ROOT_TABLES; r++) {
		if ((used >> r) & 1)
			continue;
		if (e->sync && e->sync[r].mirror == live->root[tree] + 1 &&
		    e->sync[r].n <= OP25B_ROOTSYNC_ENTS) {
			pick = r;
			known = true;
			break;
		}
		if (pick == OP25B_ROOT_TABLES ||
		    (e->sync && e->sync[pick].mirror && !e->sync[r].mirror))
			pick = r;
	}
	if (pick == OP25B_ROOT_TABLES)
		return engine_fail(e, -EIO, "no spare root table");
	to = (size_t)pick * slots;
	from = (size_t)live->root[tree] * slots;
	/* what the record says, read before it is cleared */
	k = known ? e->sync[pick].n : 0;
	sync_forget(e, pick);
	/*
	 * The live table's record, where root_touch keeps what this draft
	 * will differ from it in: made valid by the commit only.
	 */
	if (e->sync)
		__atomic_store_n(&e->sync[live->root[tree]].mirror, 0,
				 __ATOMIC_SEQ_CST);
	e->sync_n[tree] = 0;
	/* entry by entry: a window maps only the chunks it is asked for */
	if (known) {
		for (r = 0; r < k; r++) {
			i = e->sync[pick].ent[r];
			if (i < slots)
				*roots_at(e, to + i, 1) = *roots_at(e, from + i, 1);
		}
	} else {
		memcpy(root_table(e, pick), root_table(e, live->root[tree]),
		       slots * sizeof(struct op25b_root_ent));
	}
	e->draft.root[tree] = pick;
	return 0;
}

/* The slots of one table (root or node) that prefix p covers. */
static void span_of(const struct engine *e, const struct prefix *p,
		    struct a128 a, unsigned int d,
		    __u32 *first, __u32 *n)
{
	unsigned int end = d ? node_bits(e, d) : e->root_bits;
	unsigned int width = d ? OP25B_STRIDE : e->root_bits;
	__u32 s = bits_at(a, end - width, width);

	*n = 1u << (end - p->len);
	*first = s & ~(*n - 1);
}

/*
 * Walk owned copies down to the node where p ends (depth d = depth_of),
 * recording the path: node and slot at every level. path[0] is the root
 * entry's child.
 */
struct path {
	int tree;
	struct op25b_root_ent *root;	/* the root entry */
	__u32 node[OP25B_DEPTH_MAX + 1];	/* node at depth 1.. */
	__u32 slot[OP25B_DEPTH_MAX + 1];	/* slot taken at that node */
	unsigned int depth;
};

static int walk_own(struct engine *e, int tree, const struct prefix *p,
		    struct a128 a, bool create, struct path *pa)
{
	unsigned int d, want = depth_of(e, p->len);
	__u32 nb;
	int err;

	err = root_own(e, tree);
	if (err)
		return err;
	pa->tree = tree;
	pa->root = roots_at(e, (size_t)e->draft.root[tree] * root_slots(e) +
				       bits_at(a, 0, e->root_bits), 1);
	pa->depth = 0;
	/* its child may be replaced (owned, made, pruned), its leaf rewritten */
	root_touch(e, tree, bits_at(a, 0, e->root_bits), 1);
	if (!want)
		return 0;
	if (!pa->root->child) {
		if (!create)
			return 0;
		err = node_alloc(e, 1, &nb);
		if (err)
			return err;
		node_init(nodes_at(e, nb, 1));
		pa->root->child = nb;
	} else {
		err = block_own(e, pa->root->child, 1, &nb);
		if (err)
			return err;
		pa->root->child = nb;
	}
	pa->node[1] = pa->root->child;
	pa->depth = 1;
	for (d = 1; d < want; d++) {
		pa->slot[d] = bits_at(a, node_bits(e, d - 1), OP25B_STRIDE);
		err = child_own(e, pa->node[d], pa->slot[d], create, &nb);
		if (err || !nb)
			return err;
		pa->node[d + 1] = nb;
		pa->depth = d + 1;
	}
	return 0;
}

/*
 * Give the slots of p's span, in the table where p ends, the leaf that
 * replace() picks from each one's current leaf.
 */
struct rewrite {
	__u32 len;		/* set: the new prefix's length */
	__u32 leaf;		/* set: its leaf; del: the replacement */
	__u32 old;		/* del: the leaf being removed */
	bool del;
};

static __u32 rewrite_one(struct engine *e, const struct rewrite *rw,
			 __u32 cur)
{
	if (rw->del)
		return cur == rw->old ? rw->leaf : cur;
	/* a longer prefix keeps what it covers; the same one is replaced */
	if (!cur || leaf_len(e, cur) <= rw->len)
		return rw->leaf;
	return cur;
}

static int span_rewrite(struct engine *e, struct path *pa,
			const struct prefix *p, struct a128 a,
			const struct rewrite *rw)
{
	unsigned int d = depth_of(e, p->len);
	__u32 first, n, i, v[OP25B_SLOTS];

	span_of(e, p, a, d, &first, &n);
	if (!d) {
		struct op25b_root_ent *rt =
			roots_at(e, (size_t)e->draft.root[pa->tree] *
					    root_slots(e) + first, n);

		for (i = 0; i < n; i++) {
			__u32 leaf = rewrite_one(e, rw, rt[i].leaf);

			if (leaf == rt[i].leaf)
				continue;
			root_touch(e, pa->tree, first + i, 1);
			rt[i].leaf = leaf;
		}
		return 0;
	}
	node_decode(e, nodes_at(e, pa->node[d], 1), v);
	for (i = first; i < first + n; i++)
		v[i] = rewrite_one(e, rw, v[i]);
	return node_encode(e, pa->node[d], v);
}

/* Drop the empty nodes at the bottom of the path, deepest first. */
static int path_prune(struct engine *e, struct path *pa)
{
	unsigned int d;
	int err;

	for (d = pa->depth; d >= 1; d--) {
		if (!node_empty(nodes_at(e, pa->node[d], 1)))
			return 0;
		if (d == 1) {
			err = node_release(e, pa->root->child, 1);
			pa->root->child = 0;
			return err;
		}
		err = child_drop(e, pa->node[d - 1], pa->slot[d - 1]);
		if (err)
			return err;
	}
	return 0;
}

/* ---- transactions ---- */

static void txn_free(struct engine *e)
{
	free(e->node_own);
	free(e->leaf_own);
	free(e->node_garbage.v);
	free(e->leaf_garbage.v);
	free(e->carry.v);
	free(e->reused.v);
	free(e->dead.v);
	e->node_own = e->leaf_own = NULL;
	memset(&e->node_garbage, 0, sizeof(e->node_garbage));
	memset(&e->leaf_garbage, 0, sizeof(e->leaf_garbage));
	memset(&e->carry, 0, sizeof(e->carry));
	memset(&e->reused, 0, sizeof(e->reused));
	memset(&e->dead, 0, sizeof(e->dead));
	e->in_txn = false;
}

bool engine_recovered(const struct engine *e)
{
	return e->recovered;
}

static void engine_init(struct engine *e)
{
	memset(e->st, 0, sizeof(*e->st));
	e->st->capacity = engine_capacity(e);
	e->st->node_top = 1;
	e->st->leaf_top = 1;
	e->st->rule_top = 1;
	__atomic_store_n(&e->pol->hits_stride, e->rules_max, __ATOMIC_RELEASE);
	__atomic_store_n(&e->st->layout, OP25B_LAYOUT, __ATOMIC_RELEASE);
}

int engine_begin(struct engine *e)
{
	int err;

	if (!e->writable)
		return engine_fail(e, -EPERM, "the policy maps are mapped read-only");
	if (e->in_txn)
		return engine_fail(e, -EBUSY, "a change is already under way");
	if (!e->st->layout)
		engine_init(e);
	e->gen = __atomic_load_n(&e->pol->live, __ATOMIC_ACQUIRE);
	e->recovered = false;
	if (e->st->dirty) {
		err = engine_recover(e);
		if (err)
			return err;
		e->recovered = true;
	}
	__atomic_store_n(&e->st->dirty, 1, __ATOMIC_SEQ_CST);
	/* the identities: what a writer before left undone, undone */
	err = engine_idents_settle(e, e->gen);
	if (err)
		return err;
	e->draft = e->pol->snap[e->gen & 1];
	e->node_own = calloc(e->nodes_max / 8 + 1, 1);
	e->leaf_own = calloc(e->leaves_max / 8 + 1, 1);
	if (!e->node_own || !e->leaf_own) {
		txn_free(e);
		return engine_fail(e, -ENOMEM, "out of memory");
	}
	e->in_txn = true;
	e->touched = false;
	return 0;
}

struct op25b_config *engine_config(struct engine *e)
{
	return &e->draft.cfg;
}

__u32 engine_count(const struct engine *e, enum op25b_table t)
{
	const struct op25b_snapshot *s = e->in_txn ? &e->draft : engine_live(e);

	return s->count[OP25B_TREE(t, 0)] + s->count[OP25B_TREE(t, 1)];
}

static int check_prefix(struct engine *e, const struct prefix *p)
{
	__u32 max = p->family == AF_INET ? 32 : 128;

	if (!e->in_txn)
		return engine_fail(e, -EINVAL, "no change under way");
	if ((p->family != AF_INET && p->family != AF_INET6) || p->len > max)
		return engine_fail(e, -EINVAL, "not a prefix");
	return 0;
}

/*
 * The trees' leaf for p goes from the one of record before (0: none) to
 * the one of record after (not 0): a new prefix takes the slots no
 * longer prefix holds; a new winner takes its predecessor's slots.
 */
static int leaf_replace(struct engine *e, int tree, const struct prefix *p,
			__u32 before, __u32 after)
{
	struct a128 a = addr_bits(p->family, p->addr);
	struct rewrite rw = { .len = p->len, .leaf = after };
	struct path pa;
	int err;

	if (before) {
		rw.del = true;
		rw.old = before;
	}
	err = walk_own(e, tree, p, a, !before, &pa);
	if (!err && pa.depth != depth_of(e, p->len))
		err = engine_fail(e, -EIO, "prefix in the index but not in the tree");
	return err ? err : span_rewrite(e, &pa, p, a, &rw);
}

int engine_set_owned(struct engine *e, enum op25b_table t,
		     const struct prefix *p, enum op25b_verdict v,
		     const struct owner *o, __u8 flags, enum engine_change *ch)
{
	int tree = tree_of(t, p->family), err;
	__u32 old, rid = 0, before;

	err = check_prefix(e, p);
	if (err)
		return err;
	if (v != OP25B_V_ALLOW && v != OP25B_V_DENY)
		return engine_fail(e, -EINVAL, "not a verdict");
	old = index_probe(e, tree, p, o);
	if (old && (*rules_at(e, old, 1)).verdict == v) {
		*ch = ENGINE_UNCHANGED;
		return 0;
	}
	before = rule_leaf(e, index_find(e, tree, p));
	err = rule_new(e, tree, p, v, o, flags, &rid);
	if (err)
		return err;
	if (old) {
		/*
		 * The same prefix: its counts go on under the new id. A draft
		 * record's link names the published record it continues (one
		 * changed twice in a batch passes it on); commit carries it.
		 */
		(*rules_at(e, rid, 1)).link = (*rules_at(e, old, 1)).born == e->gen + 1 ?
				     (*rules_at(e, old, 1)).link : old;
		if ((*rules_at(e, rid, 1)).link)
			err = pairs_add(e, &e->carry, rid, 0);
		if (!err)
			err = rule_kill(e, old);
		if (err)
			return err;
	}
	if (index_find(e, tree, p) == rid)
		err = leaf_replace(e, tree, p, before, rule_leaf(e, rid));
	if (err)
		return err;
	if (old) {
		*ch = ENGINE_CHANGED;
		return 0;
	}
	e->draft.count[tree]++;
	*ch = ENGINE_ADDED;
	return 0;
}

int engine_set(struct engine *e, enum op25b_table t, const struct prefix *p,
	       enum op25b_verdict v, enum engine_change *ch)
{
	return engine_set_owned(e, t, p, v, &owner_file, 0, ch);
}

/* The next shorter prefix of p ending in the same table, if any. */
static __u32 next_shorter(struct engine *e, int tree,
			  const struct prefix *p)
{
	unsigned int d = depth_of(e, p->len);
	__u32 lo = d ? node_bits(e, d - 1) + 1 : 0, l, rid, bit;
	struct prefix q = *p;

	for (l = p->len; l-- > lo;) {
		q.len = l;
		bit = l;	/* clear bit l */
		q.addr[bit / 8] &= (__u8)~(0x80u >> (bit % 8));
		rid = index_find(e, tree, &q);
		if (rid)
			return OP25B_LEAF(rid, (*rules_at(e, rid, 1)).verdict);
	}
	return 0;
}

int engine_del_owned(struct engine *e, enum op25b_table t,
		     const struct prefix *p, const struct owner *o,
		     enum engine_change *ch)
{
	int tree = tree_of(t, p->family), err;
	struct a128 a = addr_bits(p->family, p->addr);
	struct rewrite rw = { .del = true };
	struct path pa;
	__u32 rid, win;

	err = check_prefix(e, p);
	if (err)
		return err;
	rid = index_probe(e, tree, p, o);
	if (!rid) {
		*ch = ENGINE_ABSENT;
		return 0;
	}
	win = index_find(e, tree, p);
	rw.old = rule_leaf(e, win);
	err = rule_kill(e, rid);
	if (err)
		return err;
	e->draft.count[tree]--;
	*ch = ENGINE_DELETED;
	if (win != rid)
		return 0;	/* another layer's record decides: the trees stay */
	win = index_find(e, tree, p);
	if (win)
		return leaf_replace(e, tree, p, rw.old, rule_leaf(e, win));
	/* the prefix leaves the trees: its slots go to the next shorter one */
	rw.leaf = next_shorter(e, tree, p);
	err = walk_own(e, tree, p, a, false, &pa);
	if (err)
		return err;
	if (pa.depth != depth_of(e, p->len))
		return engine_fail(e, -EIO, "prefix in the index but not in the tree");
	err = span_rewrite(e, &pa, p, a, &rw);
	return err ? err : path_prune(e, &pa);
}

int engine_del(struct engine *e, enum op25b_table t, const struct prefix *p,
	       enum engine_change *ch)
{
	return engine_del_owned(e, t, p, &owner_file, ch);
}

/* Release every block under node ni (children and leaves), and ni's own leaves. */
static int release_subtree(struct engine *e, __u32 ni, unsigned int depth)
{
	const struct op25b_node n = (*nodes_at(e, ni, 1));
	__u32 k = popcount64(n.child_map), i;
	int err = 0;

	if (n.leaf_base)
		err = leaf_release(e, n.leaf_base, popcount64(n.run_map));
	for (i = 0; i < k && !err && depth < OP25B_DEPTH_FOR(128, e->root_bits); i++)
		err = release_subtree(e, n.child_base + i, depth + 1);
	if (!err && k)
		err = node_release(e, n.child_base, k);
	return err;
}

int engine_flush(struct engine *e, enum op25b_table t, size_t *n)
{
	struct op25b_root_ent *rt;
	__u32 rid, i;
	int v6, tree, err;

	*n = 0;
	if (!e->in_txn)
		return engine_fail(e, -EINVAL, "no change under way");
	for (v6 = 0; v6 < 2; v6++) {
		tree = OP25B_TREE(t, v6);
		err = root_own(e, tree);
		if (err)
			return err;
		rt = root_table(e, e->draft.root[tree]);
		for (i = 0; i < root_slots(e); i++) {
			if (rt[i].child) {
				err = release_subtree(e, rt[i].child, 1);
				if (!err)
					err = node_release(e, rt[i].child, 1);
				if (err)
					return err;
			}
		}
		memset(rt, 0, root_slots(e) * sizeof(*rt));
		root_touch(e, tree, 0, root_slots(e));
		*n += e->draft.count[tree];
		e->draft.count[tree] = 0;
	}
	for (rid = 1; rid < e->st->rule_top; rid++) {
		struct op25b_rule *r = rules_at(e, rid, 1);

		if (r->table != t || !r->born || r->died)
			continue;
		err = rule_kill(e, rid);
		if (err)
			return err;
	}
	return 0;
}

int engine_flush_owned(struct engine *e, enum op25b_table t,
		       enum op25b_layer layer, __u32 id, size_t *n)
{
	struct owner o = { layer, 0 };
	enum engine_change ch;
	struct prefix p;
	__u32 rid, top;
	int err;

	*n = 0;
	if (!e->in_txn)
		return engine_fail(e, -EINVAL, "no change under way");
	top = e->st->rule_top;
	for (rid = 1; rid < top; rid++) {
		const struct op25b_rule *r = rules_at(e, rid, 1);

		/* in the draft: made (born), not removed (died) */
		if (r->table != t || !r->born || r->died || r->layer != layer ||
		    (layer == OP25B_LAYER_SESSION && id && r->owner != id))
			continue;
		o.id = r->owner;
		memset(&p, 0, sizeof(p));
		p.family = r->family == 4 ? AF_INET : AF_INET6;
		p.len = r->prefixlen;
		memcpy(p.addr, r->addr, sizeof(p.addr));
		err = engine_del_owned(e, t, &p, &o, &ch);
		if (err)
			return err;
		*n += ch == ENGINE_DELETED;
	}
	return 0;
}

/*
 * Hit counters of the ids this change gives out: a recycled id starts at
 * zero, a rule whose verdict changed goes on from its old record's counts.
 * Nothing counts on them before the publish.
 */
static void hits_prepare(struct engine *e)
{
	size_t i;
	__u32 c;

	for (i = 0; i < e->reused.n; i++)
		for (c = 0; c < e->hit_stripes; c++)
			*hit_at(e, c, e->reused.v[i][0]) = 0;
	for (i = 0; i < e->carry.n; i++) {
		__u32 rid = e->carry.v[i][0];
		struct op25b_rule *r = rules_at(e, rid, 1);

		/* killed (or killed and reused) since: nothing to carry */
		if (r->born != e->gen + 1 || !r->link)
			continue;
		for (c = 0; c < e->hit_stripes; c++)
			*hit_at(e, c, rid) = *hit_at(e, c, r->link);
		r->link = 0;
	}
}

int engine_commit(struct engine *e)
{
	__u32 was[OP25B_TREES];
	struct op25b_snapshot *slot;
	size_t i;
	int err, t;

	if (!e->in_txn)
		return engine_fail(e, -EINVAL, "no change under way");
	for (t = 0; t < OP25B_TABLE_COUNT; t++) {
		if (engine_count(e, t) > engine_capacity(e)) {
			err = engine_fail(e, -ENOSPC,
					  "the %s table would hold %u prefixes; it holds at most %u",
					  table_name(t),
					  engine_count(e, t), engine_capacity(e));
			engine_abort(e);
			return err;
		}
	}
	hits_prepare(e);
	for (t = 0; t < OP25B_TREES; t++)
		was[t] = e->pol->snap[e->gen & 1].root[t];
	e->draft.gen = e->gen + 1;
	slot = &e->pol->snap[(e->gen + 1) & 1];
	memcpy(slot, &e->draft, sizeof(*slot));
	/* the one store that publishes: everything above is seen before it */
	__atomic_store_n(&e->pol->live, e->gen + 1, __ATOMIC_RELEASE);
	/* and nothing below before it: lock-free readers (engine_read_done) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	/*
	 * Each root table this change replaced is spare now, and holds what
	 * its replacement does but at the entries the change wrote: said in
	 * its record, its mirror last (root_own).
	 */
	for (t = 0; e->sync && t < OP25B_TREES; t++) {
		if (e->draft.root[t] == was[t] ||
		    e->sync_n[t] > OP25B_ROOTSYNC_ENTS)
			continue;
		e->sync[was[t]].n = e->sync_n[t];
		__atomic_store_n(&e->sync[was[t]].mirror, e->draft.root[t] + 1,
				 __ATOMIC_SEQ_CST);
	}

	/* what only the old snapshot used; a packet still on it judges again */
	for (i = 0; i < e->node_garbage.n; i++)
		block_free_now(e, false, e->node_garbage.v[i][0],
			       e->node_garbage.v[i][1]);
	for (i = 0; i < e->leaf_garbage.n; i++)
		block_free_now(e, true, e->leaf_garbage.v[i][0],
			       e->leaf_garbage.v[i][1]);
	for (i = 0; i < e->dead.n; i++)
		rule_clear(e, e->dead.v[i][0]);
	/* identities this change removed: gone (a connect on them judges again) */
	engine_idents_settle(e, e->gen + 1);
	__atomic_store_n(&e->st->dirty, 0, __ATOMIC_SEQ_CST);
	txn_free(e);
	return 0;
}

void engine_abort(struct engine *e)
{
	if (!e->in_txn)
		return;
	/* the draft's identities: undone */
	engine_idents_settle(e, e->gen);
	/* the draft's blocks and records are scattered: rebuild from live */
	if (!e->touched || !engine_recover(e))
		__atomic_store_n(&e->st->dirty, 0, __ATOMIC_SEQ_CST);
	txn_free(e);
}

void engine_close(struct engine *e)
{
	if (e->in_txn)
		engine_abort(e);
	engine_unmap(e);
}
