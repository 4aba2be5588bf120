// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The policy engine's rule records, the exact-prefix index over them, and
 * which layer's record of a prefix the trees hold (doc/DESIGN.md, "Policy
 * engine": "Writers", "Layers").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"

static __u32 prefix_hash(int tree, __u32 len, const __u8 *addr)
{
	/* FNV-1a over what names a prefix */
	__u32 h = 2166136261u;
	int i, n = family_of_tree(tree) == AF_INET ? 4 : 16;

	h = (h ^ (__u32)tree) * 16777619u;
	h = (h ^ len) * 16777619u;
	for (i = 0; i < n; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h;
}

static int rule_tree(const struct op25b_rule *r)
{
	return OP25B_TREE(r->table, r->family == 6);
}

static __u32 rule_hash(const struct op25b_rule *r)
{
	return prefix_hash(rule_tree(r), r->prefixlen, r->addr);
}

static bool rule_is(const struct op25b_rule *r, int tree, const struct prefix *p)
{
	return rule_tree(r) == tree && r->prefixlen == p->len &&
	       !memcmp(r->addr, p->addr, p->family == AF_INET ? 4 : 16);
}

const struct owner owner_file = { OP25B_LAYER_FILE, 0 };

/*
 * Which of two layers' records of one prefix the trees hold: a session's
 * (RADIUS's word on that line, for as long as it lasts, over the file's
 * standing word on it, which comes back when the session ends), and of
 * two sessions the newest (an address whose old session has not ended
 * yet is the new one's).
 */
bool owner_outranks(enum op25b_layer la, __u32 ia, enum op25b_layer lb,
		    __u32 ib)
{
	if (la != lb)
		return la == OP25B_LAYER_SESSION;
	return ia > ib;
}

/*
 * A prefix's records of every layer hash alike, so one probe finds them
 * all: o's own (o set), or the winner, whose leaf the trees hold (o NULL).
 */
__u32 index_probe(struct engine *e, int tree, const struct prefix *p,
		  const struct owner *o)
{
	__u32 i = prefix_hash(tree, p->len, p->addr) & e->index_mask;
	__u32 rid, best = 0;
	const struct op25b_rule *r, *b = NULL;

	while ((rid = *slots_at(e, i, 1))) {
		r = rules_at(e, rid, 1);
		i = (i + 1) & e->index_mask;
		if (!rule_is(r, tree, p))
			continue;
		if (o) {
			if (r->layer == o->layer && r->owner == o->id)
				return rid;
		} else if (!b || owner_outranks(r->layer, r->owner, b->layer,
					       b->owner)) {
			best = rid;
			b = r;
		}
	}
	return best;
}

/* The record whose leaf the trees hold for p, 0 when no layer has p. */
__u32 index_find(struct engine *e, int tree, const struct prefix *p)
{
	return index_probe(e, tree, p, NULL);
}

__u32 rule_leaf(struct engine *e, __u32 rid)
{
	return rid ? OP25B_LEAF(rid, (*rules_at(e, rid, 1)).verdict) : 0;
}

void index_add(struct engine *e, __u32 rid)
{
	__u32 i = rule_hash(rules_at(e, rid, 1)) & e->index_mask;

	while ((*slots_at(e, i, 1)))
		i = (i + 1) & e->index_mask;
	(*slots_at(e, i, 1)) = rid;
	e->st->index_used++;
}

/* Linear probing without tombstones: shift the probe chain back. */
static void index_remove(struct engine *e, __u32 rid)
{
	__u32 i = rule_hash(rules_at(e, rid, 1)) & e->index_mask, j, k;

	while ((*slots_at(e, i, 1)) != rid) {
		if (!(*slots_at(e, i, 1)))
			return;
		i = (i + 1) & e->index_mask;
	}
	j = i;
	for (;;) {
		j = (j + 1) & e->index_mask;
		if (!(*slots_at(e, j, 1)))
			break;
		k = rule_hash(rules_at(e, (*slots_at(e, j, 1)), 1)) & e->index_mask;
		/* k cyclically in (i, j]: the entry stays */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		(*slots_at(e, i, 1)) = (*slots_at(e, j, 1));
		i = j;
	}
	(*slots_at(e, i, 1)) = 0;
	e->st->index_used--;
}

void rule_clear(struct engine *e, __u32 rid)
{
	struct op25b_rule *r = rules_at(e, rid, 1);

	memset(r, 0, sizeof(*r));
	r->link = e->st->rule_free;
	e->st->rule_free = rid;
}

int rule_new(struct engine *e, int tree, const struct prefix *p,
	     enum op25b_verdict v, const struct owner *o, __u8 flags,
	     __u32 *out)
{
	struct op25b_rule *r;
	__u32 rid = e->st->rule_free;
	int err;

	if (rid) {
		e->st->rule_free = (*rules_at(e, rid, 1)).link;
		/* a recycled id may carry old counts: zeroed before publish */
		err = pairs_add(e, &e->reused, rid, 0);
		if (err)
			return err;
	} else {
		if (e->st->rule_top >= e->rules_max ||
		    e->st->rule_top >= OP25B_RULES_LIMIT)
			return engine_fail(e, -ENOSPC, "no free rule record (%u in use)",
					   e->rules_max - 1);
		rid = e->st->rule_top++;
	}
	e->touched = true;
	r = rules_at(e, rid, 1);
	memset(r, 0, sizeof(*r));
	r->table = tree >> 1;
	r->verdict = v;
	r->family = p->family == AF_INET ? 4 : 6;
	r->prefixlen = p->len;
	r->layer = o->layer;
	r->owner = o->id;
	r->flags = flags;
	memcpy(r->addr, p->addr, sizeof(r->addr));
	r->born = e->gen + 1;
	index_add(e, rid);
	*out = rid;
	return 0;
}

/* The rule leaves the draft: freed now if it was never published. */
int rule_kill(struct engine *e, __u32 rid)
{
	index_remove(e, rid);
	if ((*rules_at(e, rid, 1)).born == e->gen + 1) {
		rule_clear(e, rid);
		return 0;
	}
	(*rules_at(e, rid, 1)).died = e->gen + 1;
	return pairs_add(e, &e->dead, rid, 0);
}

__u32 leaf_len(struct engine *e, __u32 leaf)
{
	return (*rules_at(e, OP25B_LEAF_RID(leaf), 1)).prefixlen;
}

void engine_hits_add(struct engine *e, __u32 rid, __u64 n)
{
	if (rid && rid < e->rules_max && e->writable)
		*hit_at(e, 0, rid) += n;
}

__u32 engine_session_id(struct engine *e)
{
	if (!e->st->session_next)
		e->st->session_next = 1;
	e->touched = true;
	return e->st->session_next++;
}

bool engine_held(struct engine *e, enum op25b_table t, const struct prefix *p,
		 const struct owner *o, enum op25b_verdict *v)
{
	__u32 rid;

	if (!e->in_txn || (p->family != AF_INET && p->family != AF_INET6))
		return false;
	rid = index_probe(e, tree_of(t, p->family), p, o);
	if (rid)
		*v = (*rules_at(e, rid, 1)).verdict;
	return rid != 0;
}
