// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reading the policy engine without a lock: the live snapshot, its rules
 * and their hits, and the datapath's own decision over the mapped trees
 * (doc/DESIGN.md, "Policy engine": "Readers").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"
#include "decide.h"


static void prefix_of_rule(const struct op25b_rule *r, struct prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->family = r->family == 4 ? AF_INET : AF_INET6;
	p->len = r->prefixlen;
	memcpy(p->addr, r->addr, sizeof(p->addr));
}

static void hits_read(struct engine *e, struct engine_rule *v, size_t n)
{
	size_t i;
	__u32 c;

	for (i = 0; i < n; i++) {
		v[i].hits = 0;
		for (c = 0; c < e->hit_stripes; c++)
			v[i].hits += *hit_at(e, c, v[i].rid);
	}
}

__u32 engine_read_begin(const struct engine *e)
{
	return __atomic_load_n(&e->pol->live, __ATOMIC_ACQUIRE);
}

/*
 * A writer frees what only the old snapshot used right after it publishes
 * (a fence between the two): a reader that still finds its generation
 * live after a fence read nothing a writer has reused.
 */
bool engine_read_done(const struct engine *e, __u32 gen)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&e->pol->live, __ATOMIC_RELAXED) == gen;
}

/* Reads retried this often before a reader gives up on a busy writer. */
#define READ_TRIES	1000

static int rules_read(struct engine *e, enum op25b_table t, bool hits,
		      struct engine_rule **out, size_t *n)
{
	const struct op25b_snapshot *s = engine_live(e);
	struct engine_rule *v = NULL;
	size_t cnt = 0, cap = 0;
	__u32 rid, top = e->st->layout ? e->st->rule_top : 1;

	if (top > e->rules_max)
		top = e->rules_max;
	for (rid = 1; rid < top; rid++) {
		const struct op25b_rule *r = rules_at(e, rid, 1);

		if (!rule_alive(r, s->gen))
			continue;
		if (t != ENGINE_ALL_TABLES && r->table != t)
			continue;
		if (array_grow((void **)&v, &cap, cnt, sizeof(*v))) {
			free(v);
			return engine_fail(e, -ENOMEM, "out of memory");
		}
		v[cnt].table = r->table;
		v[cnt].verdict = r->verdict;
		v[cnt].layer = r->layer;
		v[cnt].owner = r->owner;
		v[cnt].flags = r->flags;
		v[cnt].rid = rid;
		v[cnt].hits = 0;
		prefix_of_rule(r, &v[cnt].p);
		cnt++;
	}
	if (hits && cnt)
		hits_read(e, v, cnt);
	*out = v;
	*n = cnt;
	return 0;
}

int engine_snapshot(struct engine *e, enum op25b_table t, bool hits,
		    struct engine_rule **out, size_t *n,
		    struct op25b_snapshot *snap)
{
	int tries, err;
	__u32 g;

	for (tries = 0; tries < READ_TRIES; tries++) {
		g = engine_read_begin(e);
		if (snap)
			*snap = e->pol->snap[g & 1];
		err = rules_read(e, t, hits, out, n);
		if (err)
			return err;
		if (engine_read_done(e, g))
			return 0;
		free(*out);
		*out = NULL;
	}
	return engine_fail(e, -EAGAIN, "the policy changed under every one of %d reads",
			   READ_TRIES);
}

int engine_rules(struct engine *e, enum op25b_table t, bool hits,
		 struct engine_rule **out, size_t *n)
{
	return engine_snapshot(e, t, hits, out, n, NULL);
}

/*
 * The datapath's decision (bpf/decide.h) over the mapped trees: these
 * accessors are all op25bctl supplies of it.
 */
struct op25b_trees {
	struct engine *e;
};

static __always_inline __u32 op25b_root_bits_of(const struct op25b_trees *t)
{
	return t->e->root_bits;
}

static __always_inline const struct op25b_root_ent *
op25b_root_at(const struct op25b_trees *t, const __u32 *i)
{
	return *i < OP25B_ROOT_TABLES * root_slots(t->e) ?
		       roots_at(t->e, *i, 1) : NULL;
}

static __always_inline const struct op25b_node *
op25b_node_at(const struct op25b_trees *t, const __u32 *i)
{
	return *i < t->e->nodes_max ? nodes_at(t->e, *i, 1) : NULL;
}

static __always_inline const struct op25b_leaves *
op25b_leaves_at(const struct op25b_trees *t, const __u32 *i)
{
	size_t k = (size_t)*i * OP25B_LEAVES_PER;

	if (k + OP25B_LEAVES_PER > t->e->leaves_max)
		return NULL;
	return (const struct op25b_leaves *)leaves_at(t->e, k,
						       OP25B_LEAVES_PER);
}

bool engine_match(struct engine *e, enum op25b_table t, int family,
		  const __u8 *addr, struct engine_rule *r)
{
	const struct op25b_snapshot *s = engine_live(e);
	struct a128 a = addr_bits(family, addr);
	struct op25b_trees trees = { e };
	int tree = tree_of(t, family);
	__u32 leaf, rid;

	leaf = op25b_walk(&trees, s->root[tree], a.hi, a.lo,
			  OP25B_DEPTH_FOR(family == AF_INET ? 32 : 128,
					  e->root_bits));
	memset(r, 0, sizeof(*r));
	rid = OP25B_LEAF_RID(leaf);
	if (!leaf || rid >= e->rules_max)
		return false;
	r->table = t;
	r->verdict = OP25B_LEAF_VERDICT(leaf);
	r->rid = rid;
	r->layer = rules_at(e, rid, 1)->layer;
	r->owner = rules_at(e, rid, 1)->owner;
	r->flags = rules_at(e, rid, 1)->flags;
	prefix_of_rule(rules_at(e, rid, 1), &r->p);
	return true;
}

enum op25b_said engine_judge(struct engine *e, int family, const __u8 *src,
			     const __u8 *dst)
{
	struct op25b_trees trees = { e };
	struct a128 s = addr_bits(family, src), d = addr_bits(family, dst);
	struct op25b_addr sa = { s.hi, s.lo }, da = { d.hi, d.lo };
	__u32 sub, relay = 0;

	return op25b_tables_judge(&trees, engine_live(e), family == AF_INET6,
				  &sa, &da, &sub, &relay, false);
}
