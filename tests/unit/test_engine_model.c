/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The engine against the model, and the layers against theirs: a part of
 * test_engine (see its head), built in its translation unit over the
 * harness in engine_harness.h.
 */

/*
 * The model's run on trees of root_bits (0: the capacity's, 13): the
 * smallest root and the largest lay the same prefixes out differently.
 */
static void model_run(__u32 root_bits)
{
	struct model m = {};
	struct engine e;
	char label[64];
	int round, i, batch;
	size_t n;

	maps_fresh_bits(4096, root_bits);
	eng_open(&e, true);
	for (round = 0; round < 60; round++) {
		if (engine_begin(&e))
			tl_bug("begin: %s", e.err);
		batch = round % 10 == 9 ? 1 : (int)(rnd() % 200) + 1;
		for (i = 0; i < batch; i++)
			random_change(&e, &m);
		if (round == 40) {
			engine_flush(&e, OP25B_TABLE_RELAY, &n);
			model_flush(&m, OP25B_TABLE_RELAY);
		}
		if (engine_commit(&e))
			tl_bug("commit: %s", e.err);
		if (round % 5 == 4 || round == 40) {
			snprintf(label, sizeof(label), "model (root %u bits) round %d",
				 e.root_bits, round);
			agree(&e, &m, label, 3000);
		}
	}
	/* everything out again: nothing may be left behind */
	if (engine_begin(&e))
		tl_bug("begin: %s", e.err);
	while (m.n) {
		enum engine_change ch;
		struct mrule r = m.r[0];

		if (engine_del(&e, r.tree >> 1, &r.p, &ch))
			tl_bug("del: %s", e.err);
		model_del(&m, r.tree, &r.p);
	}
	if (engine_commit(&e))
		tl_bug("commit: %s", e.err);
	snprintf(label, sizeof(label), "model (root %u bits): all deleted",
		 e.root_bits);
	agree(&e, &m, label, 500);
	{
		const struct op25b_snapshot *s = engine_live(&e);
		__u32 free_nodes, free_leaves;

		engine_free_counts(&e, &free_nodes, &free_leaves);
		tl_check(free_nodes == e.st->node_top - 1 &&
			 free_leaves == e.st->leaf_top - 1,
			 "model: all deleted: every node and leaf is free again",
			 "%u of %u nodes, %u of %u leaves free", free_nodes,
			 e.st->node_top - 1, free_leaves, e.st->leaf_top - 1);
		tl_check(!s->count[0] && !s->count[1] && !s->count[2] &&
			 !s->count[3] && !e.st->index_used,
			 "model: all deleted: counts and index are empty",
			 "counts %u %u %u %u, index %u", s->count[0], s->count[1],
			 s->count[2], s->count[3], e.st->index_used);
	}
	engine_close(&e);
	free(m.r);
}

static void test_model(void)
{
	model_run(0);
	model_run(OP25B_ROOT_BITS_MAX);
}

/*
 * ---- Layers: each owner's records of a prefix kept apart, the trees
 * holding the winner's (doc/DESIGN.md, "Layers") ----
 */
struct lrule {
	int tree;
	struct prefix p;
	struct owner o;
	enum op25b_verdict v;
};

struct lmodel {
	struct lrule r[4096];
	size_t n;
};

static struct lrule *lmodel_find(struct lmodel *m, int tree,
				 const struct prefix *p, const struct owner *o)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->r[i].tree == tree && same_prefix(&m->r[i].p, p) &&
		    m->r[i].o.layer == o->layer && m->r[i].o.id == o->id)
			return &m->r[i];
	return NULL;
}

/*
 * Written from the rule alone, not from the engine: a session's record
 * decides over the file's for one prefix, the newest session's over an
 * older one's; then the longest prefix wins.
 */
static const struct lrule *lmodel_match(const struct lmodel *m, int tree,
					const __u8 *addr)
{
	const struct lrule *best = NULL, *r;
	size_t i;

	for (i = 0; i < m->n; i++) {
		r = &m->r[i];
		if (r->tree != tree || !covers(&r->p, addr))
			continue;
		if (!best || r->p.len > best->p.len ||
		    (r->p.len == best->p.len &&
		     (r->o.layer == OP25B_LAYER_SESSION &&
		      (best->o.layer == OP25B_LAYER_FILE || r->o.id > best->o.id))))
			best = r;
	}
	return best;
}

static void lmodel_del(struct lmodel *m, struct lrule *r)
{
	*r = m->r[--m->n];
}

/* One random change by a random owner: file, or sessions 1-6. */
static void layer_change(struct engine *e, struct lmodel *m)
{
	struct owner o = { OP25B_LAYER_FILE, 0 };
	enum engine_change ch;
	struct lrule *lr;
	struct prefix p;
	int tree = (int)(rnd() % OP25B_TREES), r = (int)(rnd() % 100);
	enum op25b_verdict v = rnd() % 2 ? OP25B_V_DENY : OP25B_V_ALLOW;

	if (rnd() % 2) {
		o.layer = OP25B_LAYER_SESSION;
		o.id = (__u32)(rnd() % 6) + 1;
	}
	random_prefix((tree & 1) ? AF_INET6 : AF_INET, &p);
	if (r < 30 && m->n) {
		/* one owner's record goes; the others' of that prefix stay */
		lr = &m->r[rnd() % m->n];
		tree = lr->tree;
		p = lr->p;
		o = lr->o;
	}
	if (r < 40) {
		if (engine_del_owned(e, tree >> 1, &p, &o, &ch))
			tl_bug("del: %s", e->err);
		lr = lmodel_find(m, tree, &p, &o);
		if (lr)
			lmodel_del(m, lr);
		return;
	}
	/* the same prefix in another layer, now and then */
	if (r < 60 && m->n) {
		lr = &m->r[rnd() % m->n];
		tree = lr->tree;
		p = lr->p;
	}
	if (engine_set_owned(e, tree >> 1, &p, v, &o, 0, &ch))
		tl_bug("set: %s", e->err);
	lr = lmodel_find(m, tree, &p, &o);
	if (!lr) {
		if (m->n == sizeof(m->r) / sizeof(m->r[0]))
			tl_bug("layer model full");
		lr = &m->r[m->n++];
		lr->tree = tree;
		lr->p = p;
		lr->o = o;
	}
	lr->v = v;
}

static bool layers_agree(struct engine *e, const struct lmodel *m,
			 const char *label, int lookups)
{
	struct engine_rule *v, er;
	const struct lrule *mr;
	char l[160], a[64];
	size_t n, i, matched = 0;
	__u8 addr[16];
	int k, tree;

	if (engine_rules(e, ENGINE_ALL_TABLES, false, &v, &n))
		tl_bug("engine_rules: %s", e->err);
	for (i = 0; i < n; i++) {
		struct owner o = { v[i].layer, v[i].owner };

		mr = lmodel_find((struct lmodel *)m,
				 OP25B_TREE(v[i].table, v[i].p.family == AF_INET6),
				 &v[i].p, &o);
		matched += mr && mr->v == v[i].verdict;
	}
	free(v);
	snprintf(l, sizeof(l), "%s: records are the model's %zu, owners and all",
		 label, m->n);
	if (!tl_check(n == m->n && matched == m->n, l,
		      "%zu records, %zu of them the model's", n, matched))
		return false;
	for (k = 0; k < lookups; k++) {
		tree = (int)(rnd() % OP25B_TREES);
		/* addresses under the model's prefixes, edges included */
		if (m->n && rnd() % 4) {
			const struct lrule *r = &m->r[rnd() % m->n];

			tree = r->tree;
			memcpy(addr, r->p.addr, 16);
			if (rnd() % 2)
				addr[(r->p.family == AF_INET ? 4 : 16) - 1] ^= (__u8)rnd();
		} else {
			for (i = 0; i < 16; i++)
				addr[i] = (__u8)rnd();
			if (!(tree & 1))
				memset(addr + 4, 0, 12);
		}
		mr = lmodel_match(m, tree, addr);
		if (engine_match(e, tree >> 1, (tree & 1) ? AF_INET6 : AF_INET,
				 addr, &er) == !!mr &&
		    (!mr || (same_prefix(&mr->p, &er.p) && mr->v == er.verdict &&
			     er.layer == mr->o.layer && er.owner == mr->o.id)))
			continue;
		inet_ntop((tree & 1) ? AF_INET6 : AF_INET, addr, a, sizeof(a));
		snprintf(l, sizeof(l), "%s: lookup", label);
		tl_check(false, l, "tree %d %s: model %s/%u v%d owner %d/%u, engine %s/%u v%d owner %d/%u",
			 tree, a, mr ? "match" : "none", mr ? mr->p.len : 0,
			 mr ? mr->v : 0, mr ? (int)mr->o.layer : -1,
			 mr ? mr->o.id : 0, er.rid ? "match" : "none", er.p.len,
			 er.verdict, (int)er.layer, er.owner);
		return false;
	}
	snprintf(l, sizeof(l), "%s: %d lookups decided by the model's winners",
		 label, lookups);
	return tl_check(true, l, "%s", "");
}

static void test_layers(void)
{
	static struct lmodel m;
	struct engine e;
	char label[64];
	size_t n, i;
	int round, k;

	maps_fresh(4096);
	eng_open(&e, true);
	m.n = 0;
	for (round = 0; round < 40; round++) {
		if (engine_begin(&e))
			tl_bug("begin: %s", e.err);
		for (k = (int)(rnd() % 150) + 1; k > 0; k--)
			layer_change(&e, &m);
		if (round == 25 || round == 33) {
			/* a reload: the file layer of one table, only it */
			enum op25b_table t = round == 25 ? OP25B_TABLE_SUBSCRIBER :
							   OP25B_TABLE_RELAY;

			if (engine_flush_owned(&e, t, OP25B_LAYER_FILE, 0, &n))
				tl_bug("flush: %s", e.err);
			for (i = 0; i < m.n;)
				if (m.r[i].tree >> 1 == (int)t &&
				    m.r[i].o.layer == OP25B_LAYER_FILE)
					lmodel_del(&m, &m.r[i]);
				else
					i++;
		}
		if (round == 30) {
			/* a session's end: its records, in both tables */
			for (k = 0; k < 2; k++)
				if (engine_flush_owned(&e, k, OP25B_LAYER_SESSION, 3, &n))
					tl_bug("flush: %s", e.err);
			for (i = 0; i < m.n;)
				if (m.r[i].o.layer == OP25B_LAYER_SESSION &&
				    m.r[i].o.id == 3)
					lmodel_del(&m, &m.r[i]);
				else
					i++;
		}
		if (engine_commit(&e))
			tl_bug("commit: %s", e.err);
		if (round % 5 == 4 || round == 25 || round == 30 || round == 33) {
			snprintf(label, sizeof(label), "layers round %d", round);
			if (!layers_agree(&e, &m, label, 4000))
				break;
		}
	}
	engine_close(&e);
}
