// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The policy engine against a model: random batches of deny/allow/del/
 * flush on prefixes that nest across every level boundary of the trees,
 * each published, then every answer of the engine's lookup compared with a
 * linear scan of the model, and the rule records with the model's set.
 * Writers killed at random moments must leave the live snapshot whole, and
 * the next writer must rebuild its state and go on. The datapath itself is
 * held to the same model by tests/fuzz (doc/DESIGN.md, "Testing").
 *
 * Usage: test_engine [-q] [-t NAME]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include "testlib.h"
#include "engine.h"
#include "op25b.skel.h"
#include "skel_sizes.h"

struct mrule {
	int tree;
	struct prefix p;
	enum op25b_verdict v;
};

struct model {
	struct mrule *r;
	size_t n;
	size_t cap;
};

static unsigned long long rng = 0x2545F4914F6CDD1DULL;

static __u64 rnd(void)
{
	return tl_xorshift(&rng);
}

static void clear_host_bits(struct prefix *p)
{
	__u32 bits = p->family == AF_INET ? 32 : 128, b;

	for (b = p->len; b < bits; b++)
		p->addr[b / 8] &= (__u8)~(0x80u >> (b % 8));
}

static bool covers(const struct prefix *p, const __u8 *addr)
{
	__u32 b;

	for (b = 0; b < p->len; b++)
		if ((p->addr[b / 8] ^ addr[b / 8]) & (0x80u >> (b % 8)))
			return false;
	return true;
}

static bool same_prefix(const struct prefix *a, const struct prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       !memcmp(a->addr, b->addr, 16);
}

static struct mrule *model_find(struct model *m, int tree,
				const struct prefix *p)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->r[i].tree == tree && same_prefix(&m->r[i].p, p))
			return &m->r[i];
	return NULL;
}

static void model_set(struct model *m, int tree, const struct prefix *p,
		      enum op25b_verdict v)
{
	struct mrule *r = model_find(m, tree, p);

	if (r) {
		r->v = v;
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 1024;
		m->r = realloc(m->r, m->cap * sizeof(*m->r));
		if (!m->r)
			tl_bug("out of memory");
	}
	m->r[m->n].tree = tree;
	m->r[m->n].p = *p;
	m->r[m->n].v = v;
	m->n++;
}

static void model_del(struct model *m, int tree, const struct prefix *p)
{
	struct mrule *r = model_find(m, tree, p);

	if (r)
		*r = m->r[--m->n];
}

static void model_flush(struct model *m, enum op25b_table t)
{
	size_t i = 0;

	while (i < m->n) {
		if (m->r[i].tree >> 1 == (int)t)
			m->r[i] = m->r[--m->n];
		else
			i++;
	}
}

/* The longest prefix of tree covering addr, or NULL. */
static const struct mrule *model_match(const struct model *m, int tree,
				       const __u8 *addr)
{
	const struct mrule *best = NULL;
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->r[i].tree == tree && covers(&m->r[i].p, addr) &&
		    (!best || m->r[i].p.len > best->p.len))
			best = &m->r[i];
	return best;
}

/*
 * Prefixes that nest and sit on every level boundary: a few bases per
 * family, lengths drawn around the root (16) and the node strides
 * (16 + 6k), and now and then /0 and host routes.
 */
static const __u8 bases[][16] = {
	{ 10, 0, 0, 0 },
	{ 192, 168, 0, 0 },
	{ 0x20, 0x01, 0x0d, 0xb8 },
	{ 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34 },
	{ 0xfd, 0x00 },
};

static void random_prefix(int family, struct prefix *p)
{
	static const __u32 edges[] = { 0, 1, 8, 15, 16, 17, 21, 22, 23, 27,
				       28, 29, 31, 32, 33, 34, 35, 40, 46, 48,
				       52, 56, 58, 63, 64, 70, 96, 112, 124,
				       127, 128 };
	__u32 bits = family == AF_INET ? 32 : 128;
	int i;

	memset(p, 0, sizeof(*p));
	p->family = family;
	do {
		p->len = rnd() % 4 ? edges[rnd() % (sizeof(edges) / sizeof(edges[0]))] :
				     (__u32)(rnd() % (bits + 1));
	} while (p->len > bits);
	if (family == AF_INET)
		memcpy(p->addr, bases[rnd() % 2], 4);
	else
		memcpy(p->addr, bases[2 + rnd() % 3], 16);
	/* vary the bits near the end of the prefix: siblings and cousins */
	for (i = 0; i < 3; i++) {
		__u32 b = p->len > 12 ? p->len - 1 - (__u32)(rnd() % 12) :
					(__u32)(rnd() % bits);

		if (rnd() % 2)
			p->addr[b / 8] ^= (__u8)(0x80u >> (b % 8));
	}
	clear_host_bits(p);
}

/* An address inside some prefix of the model (or anywhere). */
static void random_addr(const struct model *m, int family, __u8 *addr)
{
	__u32 bits = family == AF_INET ? 32 : 128, b;
	const struct mrule *r = NULL;
	size_t i;

	memset(addr, 0, 16);
	for (i = 0; m->n && i < 8; i++) {
		r = &m->r[rnd() % m->n];
		if (r->p.family == family)
			break;
		r = NULL;
	}
	if (r)
		memcpy(addr, r->p.addr, 16);
	for (b = r ? r->p.len : 0; b < bits; b++)
		if (rnd() % 2)
			addr[b / 8] |= (__u8)(0x80u >> (b % 8));
}

/* ---- the engine under test ---- */

static struct op25b_bpf *skel;
static struct engine_fds fds;

/* Fresh maps, of a capacity and root bits (0: the capacity's). */
static void maps_fresh_bits(__u32 cap, __u32 root_bits)
{
	int err;

	if (skel)
		op25b_bpf__destroy(skel);
	skel = op25b_bpf__open();
	if (!skel)
		tl_cannot_run("cannot open the skeleton");
	skel->rodata->op25b_sweep_timer = engine_bpf_jit();
	engine_size_object(skel->obj, cap);
	if (root_bits)
		bpf_map__set_max_entries(skel->maps.op25b_roots,
					 OP25B_ROOT_TABLES << root_bits);
	skel_tell_sizes(skel);
	err = op25b_bpf__load(skel);
	if (err)
		tl_cannot_run("cannot load the datapath (root and BPF needed)");
	if (engine_fds_of_object(skel->obj, &fds))
		tl_bug("the skeleton has no policy maps");
}

static void maps_fresh(__u32 cap)
{
	maps_fresh_bits(cap, 0);
}

static void eng_open(struct engine *e, bool w)
{
	if (engine_open(e, &fds, w))
		tl_bug("engine_open: %s", e->err);
}

/* Every lookup the model can tell apart, and the record set, agree. */
static bool agree(struct engine *e, const struct model *m, const char *label,
		  int lookups)
{
	char l[160], want[64], got[64];
	struct engine_rule *v, er;
	const struct mrule *mr;
	size_t n, i, matched = 0;
	__u8 addr[16];
	bool ok = true, found;
	int k, tree;

	if (engine_rules(e, ENGINE_ALL_TABLES, false, &v, &n))
		tl_bug("engine_rules: %s", e->err);
	for (i = 0; i < n; i++) {
		mr = model_find((struct model *)m,
				OP25B_TREE(v[i].table, v[i].p.family == AF_INET6),
				&v[i].p);
		if (mr && mr->v == v[i].verdict)
			matched++;
	}
	free(v);
	snprintf(l, sizeof(l), "%s: records are the model's %zu rules", label,
		 m->n);
	ok &= tl_check(n == m->n && matched == m->n, l,
		       "%zu records, %zu of them the model's", n, matched);
	for (k = 0; k < lookups; k++) {
		tree = (int)(rnd() % OP25B_TREES);
		random_addr(m, (tree & 1) ? AF_INET6 : AF_INET, addr);
		mr = model_match(m, tree, addr);
		found = engine_match(e, tree >> 1, (tree & 1) ? AF_INET6 : AF_INET,
				     addr, &er);
		if (!mr == !found &&
		    (!mr || (same_prefix(&mr->p, &er.p) && mr->v == er.verdict)))
			continue;
		inet_ntop((tree & 1) ? AF_INET6 : AF_INET, addr, want, sizeof(want));
		snprintf(got, sizeof(got), "%s/%u v%d",
			 found ? "match" : "none", er.p.len, er.verdict);
		snprintf(l, sizeof(l), "%s: lookup", label);
		tl_check(false, l, "tree %d %s: model %s/%u v%d, engine %s",
			 tree, want, mr ? "match" : "none", mr ? mr->p.len : 0,
			 mr ? mr->v : 0, got);
		return false;
	}
	snprintf(l, sizeof(l), "%s: %d lookups as the model", label, lookups);
	ok &= tl_check(true, l, "%s", "");
	return ok;
}

/* One random change, to the draft and the model alike. */
/* e NULL: the model alone, drawing the same numbers. */
static void random_change(struct engine *e, struct model *m);

/*
 * A writer to kill: a child that makes n changes (change(e, arg), drawn
 * from seed) in one transaction on the maps, and commits. Its exit: 0
 * committed, 3 could not begin, 4 the commit failed.
 */
static pid_t writer_fork(unsigned long long seed,
			 void (*change)(struct engine *, void *), void *arg,
			 int n)
{
	pid_t pid = fork();
	struct engine c;
	int i;

	if (pid)
		return pid;
	rng = seed;
	if (engine_open(&c, &fds, true) || engine_begin(&c))
		_exit(3);
	for (i = 0; i < n; i++)
		change(&c, arg);
	_exit(engine_commit(&c) ? 4 : 0);
}

static void kill_model_change(struct engine *e, void *m)
{
	random_change(e, m);
}

static void random_change(struct engine *e, struct model *m)
{
	enum engine_change ch;
	struct prefix p;
	int tree = (int)(rnd() % OP25B_TREES), r = (int)(rnd() % 100), err;
	enum op25b_verdict v = rnd() % 2 ? OP25B_V_DENY : OP25B_V_ALLOW;

	random_prefix((tree & 1) ? AF_INET6 : AF_INET, &p);
	if (r < 35 && m->n) {
		/* delete something that is there */
		const struct mrule *mr = &m->r[rnd() % m->n];

		tree = mr->tree;
		p = mr->p;
		err = e ? engine_del(e, tree >> 1, &p, &ch) : 0;
		model_del(m, tree, &p);
	} else if (r < 38) {
		err = e ? engine_del(e, tree >> 1, &p, &ch) : 0;
		model_del(m, tree, &p);
	} else {
		err = e ? engine_set(e, tree >> 1, &p, v, &ch) : 0;
		model_set(m, tree, &p, v);
	}
	if (err)
		tl_bug("change: %s", e->err);
}

/* n random changes as one published batch. */
static void random_batch(struct engine *e, struct model *m, int n)
{
	int i;

	if (engine_begin(e))
		tl_bug("begin: %s", e->err);
	for (i = 0; i < n; i++)
		random_change(e, m);
	if (engine_commit(e))
		tl_bug("commit: %s", e->err);
}

/* A model of its own, with room for one more rule. */
static struct model model_copy(const struct model *m)
{
	struct model c = { .n = m->n, .cap = m->n + 1 };

	c.r = malloc(c.cap * sizeof(*c.r));
	if (!c.r)
		tl_bug("out of memory");
	memcpy(c.r, m->r, m->n * sizeof(*m->r));
	return c;
}

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

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Microseconds a child takes to open, change 4000 prefixes and commit. */
static useconds_t batch_time(struct engine *e, struct model *m)
{
	struct model copy = model_copy(m);
	double t0 = now_us();
	int i, status;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		struct engine c;

		if (engine_open(&c, &fds, true) || engine_begin(&c))
			_exit(3);
		for (i = 0; i < 4000; i++)
			random_change(&c, &copy);
		/* measured, not kept */
		engine_abort(&c);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	free(copy.r);
	(void)e;
	return (useconds_t)(now_us() - t0);
}

/*
 * A writer killed at a random moment of a large batch: the live snapshot
 * is the one before or the one after, whole, and the next writer rebuilds
 * the engine's state and changes it correctly.
 */
static void test_kill(void)
{
	struct model m = {}, after;
	struct engine e;
	char label[96];
	int run, i, status, before_after[2] = {};
	useconds_t span;
	__u32 gen0;
	pid_t pid;

	maps_fresh(16384);
	eng_open(&e, true);
	/* a base policy */
	random_batch(&e, &m, 3000);

	/* how long such a batch takes: the kills fall anywhere in it */
	span = batch_time(&e, &m);
	for (run = 0; run < 20; run++) {
		unsigned long long seed = rnd();

		gen0 = engine_live(&e)->gen;
		/* the change the child makes, applied to a copy of the model */
		after = model_copy(&m);
		pid = writer_fork(seed, kill_model_change, &after, 4000);
		usleep((useconds_t)(rnd() % (span * 5 / 4 + 1)));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		/* the child's changes, on the model copy */
		rng = seed;
		for (i = 0; i < 4000; i++)
			random_change(NULL, &after);
		rng ^= seed * 2654435761u;
		snprintf(label, sizeof(label), "kill %d (%s)", run,
			 WIFSIGNALED(status) ? "killed" : "finished");
		if (engine_live(&e)->gen == gen0) {
			before_after[0]++;
			agree(&e, &m, label, 400);
		} else {
			before_after[1]++;
			free(m.r);
			m = after;
			after.r = NULL;
			agree(&e, &m, label, 400);
		}
		free(after.r);
		/* the next writer cleans up and works */
		random_batch(&e, &m, 50);
		snprintf(label, sizeof(label), "kill %d: next writer", run);
		agree(&e, &m, label, 400);
	}
	printf("# kill runs: %d left the old snapshot, %d the new\n",
	       before_after[0], before_after[1]);
	engine_close(&e);
	free(m.r);
}

/*
 * The pools are an invariant (doc/DESIGN.md, "Recovery"): after any change
 * that is refused, fails or is killed, the pools' use equals what the live
 * snapshot needs, and a change that fits the capacity is never refused
 * because of what came before. A small capacity (64 prefixes a table) so
 * that the pools fill in a few thousand prefixes: 1,000 changes of four
 * kinds, each followed by a change that fits and must be published.
 */
#define POOLS_RUNS	1000

enum pools_kind { PK_OVER, PK_FULL, PK_BAD, PK_KILL, PK_KINDS };
static const char *const pools_kind_name[PK_KINDS] = {
	"over capacity", "pool full", "bad input after a valid prefix",
	"killed mid-change",
};

static void random_host6(struct prefix *p)
{
	__u64 a = rnd(), b = rnd();

	memset(p, 0, sizeof(*p));
	p->family = AF_INET6;
	p->len = 128;
	memcpy(p->addr, &a, 8);
	memcpy(p->addr + 8, &b, 8);
}

static bool pools_equal(const struct engine_pools *a,
			const struct engine_pools *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static void pools_text(const struct engine_pools *u, char *buf, size_t len)
{
	snprintf(buf, len, "nodes %u, leaves %u, rules %u, index %u",
		 u->nodes.used, u->leaves.used, u->rules.used, u->index.used);
}

/* Books and need agree; the detail of the first time they do not. */
static bool pools_hold(struct engine *e, char *why, size_t len)
{
	struct engine_pools used, need;
	char a[128], b[128];

	if (engine_pools_used(e, &used)) {
		snprintf(why, len, "books: %s", e->err);
		return false;
	}
	if (engine_pools_needed(e, &need))
		tl_bug("needed: %s", e->err);
	if (pools_equal(&used, &need))
		return true;
	pools_text(&used, a, sizeof(a));
	pools_text(&need, b, sizeof(b));
	snprintf(why, len, "used %s; the live snapshot needs %s", a, b);
	return false;
}

/* The child of a killed change: flush, 60 deep host routes, publish. */
static void __attribute__((noreturn)) pools_writer(void)
{
	struct engine c;
	struct prefix p;
	enum engine_change ch;
	size_t n;
	int i;

	if (engine_open(&c, &fds, true) || engine_begin(&c) ||
	    engine_flush(&c, OP25B_TABLE_SUBSCRIBER, &n))
		_exit(3);
	for (i = 0; i < 60; i++) {
		random_host6(&p);
		if (engine_set(&c, OP25B_TABLE_SUBSCRIBER, &p, OP25B_V_DENY, &ch))
			_exit(4);
	}
	_exit(engine_commit(&c) ? 5 : 0);
}

static useconds_t pools_writer_time(void)
{
	struct timespec t0, t1;
	int status;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid == 0)
		pools_writer();
	waitpid(pid, &status, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (useconds_t)((t1.tv_sec - t0.tv_sec) * 1000000 +
			    (t1.tv_nsec - t0.tv_nsec) / 1000) + 1;
}

/*
 * One change that goes wrong as kind says; the live snapshot stays. -1
 * (e->err says why) when it went wrong before it should have: a pool
 * found full by a change that fits them.
 */
static int pools_wrong(struct engine *e, enum pools_kind kind,
			useconds_t span)
{
	enum engine_change ch;
	struct prefix p;
	int i, status;
	pid_t pid;

	if (kind == PK_KILL) {
		pid = fork();
		if (pid == 0)
			pools_writer();
		usleep((useconds_t)(rnd() % (span * 5 / 4 + 1)));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		/* the next writer reclaims what it took */
		if (engine_begin(e))
			tl_bug("begin after a kill: %s", e->err);
		engine_abort(e);
		return 0;
	}
	if (engine_begin(e))
		tl_bug("begin: %s", e->err);
	switch (kind) {
	case PK_OVER:
		/* 100 more host routes than a table holds: refused at commit */
		for (i = 0; i < 164; i++) {
			random_host6(&p);
			if (engine_set(e, OP25B_TABLE_RELAY, &p, OP25B_V_ALLOW, &ch)) {
				engine_abort(e);
				return -1;
			}
		}
		if (engine_commit(e) != -ENOSPC)
			tl_bug("over capacity: the commit was not refused");
		return 0;
	case PK_FULL:
		/* deep host routes with nothing in common, until a pool is full */
		for (i = 0; i < 1000000; i++) {
			random_host6(&p);
			if (engine_set(e, OP25B_TABLE_SUBSCRIBER, &p, OP25B_V_DENY, &ch))
				break;
		}
		if (i == 1000000 ||
		    (!strstr(e->err, "pool is full") &&
		     !strstr(e->err, "no free rule record")))
			tl_bug("pool full: %s", i == 1000000 ? "never full" : e->err);
		break;
	case PK_BAD:
		for (i = (int)(rnd() % 20); i >= 0; i--) {
			random_prefix(rnd() % 2 ? AF_INET : AF_INET6, &p);
			if (engine_set(e, rnd() % 2, &p, OP25B_V_DENY, &ch)) {
				engine_abort(e);
				return -1;
			}
		}
		/* a length past the family's: the engine refuses it */
		random_prefix(AF_INET, &p);
		p.len = 33;
		if (!engine_set(e, OP25B_TABLE_SUBSCRIBER, &p, OP25B_V_DENY, &ch))
			tl_bug("bad: a /33 was taken");
		break;
	default:
		break;
	}
	engine_abort(e);
	return 0;
}

/* A change that fits: a table's prefixes replaced by 64 of another kind. */
static int pools_fit(struct engine *e, bool deep)
{
	enum engine_change ch;
	struct prefix p;
	size_t n;
	int i, err;

	err = engine_begin(e);
	if (!err)
		err = engine_flush(e, OP25B_TABLE_SUBSCRIBER, &n);
	for (i = 0; i < 64 && !err; i++) {
		if (deep)
			random_host6(&p);
		else
			random_prefix(rnd() % 2 ? AF_INET : AF_INET6, &p);
		err = engine_set(e, OP25B_TABLE_SUBSCRIBER, &p,
				 rnd() % 2 ? OP25B_V_DENY : OP25B_V_ALLOW, &ch);
	}
	if (err) {
		engine_abort(e);
		return err;
	}
	return engine_commit(e);
}

/*
 * At capacity 64 the rule records run out first. At the default capacity
 * the node pool does (IPv6 host routes with nothing in common take about
 * 20 nodes each): filled and given back 20 times, then 16,384 prefixes of
 * each table, as deep as they come, must still fit.
 */
static void pools_full_default(void)
{
	char why[300] = "", label[96];
	enum engine_change ch;
	struct prefix p;
	struct engine e;
	int run, i, bad = 0, err = 0;

	maps_fresh(OP25B_CAPACITY_DEFAULT);
	eng_open(&e, true);
	for (run = 0; run < 20; run++) {
		if (engine_begin(&e))
			tl_bug("begin: %s", e.err);
		for (i = 0; i < 1000000; i++) {
			random_host6(&p);
			if (engine_set(&e, run % 2, &p, OP25B_V_DENY, &ch))
				break;
		}
		if (!strstr(e.err, "node pool is full"))
			tl_bug("node pool: %s", e.err);
		engine_abort(&e);
		if (!pools_hold(&e, why, sizeof(why)))
			bad++;
	}
	tl_check(!bad, "pools: 20 times the node pool full: use equals the live snapshot's need",
		 "%d times; e.g. %s", bad, why);
	/* what fits: a full table of shallow prefixes in each */
	err = engine_begin(&e);
	for (i = 0; !err && i < 2 * OP25B_CAPACITY_DEFAULT; i++) {
		p = (struct prefix){ .family = AF_INET, .len = 32 };
		p.addr[0] = 10;
		p.addr[1] = (__u8)(i >> 10);
		p.addr[2] = (__u8)(i >> 2);
		p.addr[3] = (__u8)(i << 6);
		err = engine_set(&e, i % 2, &p, OP25B_V_DENY, &ch);
	}
	if (!err)
		err = engine_commit(&e);
	else
		engine_abort(&e);
	snprintf(label, sizeof(label),
		 "pools: then %d prefixes a table fit", OP25B_CAPACITY_DEFAULT);
	tl_check(!err, label, "%s", e.err);
	tl_check(pools_hold(&e, why, sizeof(why)),
		 "pools: ...and use what they need", "%s", why);
	engine_close(&e);
}

static void test_pools(void)
{
	int runs[PK_KINDS] = {}, bad[PK_KINDS] = {}, refused = 0, run;
	char why[PK_KINDS][300], fit_why[300] = "", label[128];
	struct engine e;
	useconds_t span;
	__u32 gen;

	maps_fresh(OP25B_CAPACITY_MIN);
	eng_open(&e, true);
	if (pools_fit(&e, false))
		tl_bug("base policy: %s", e.err);
	span = pools_writer_time();
	for (run = 0; run < POOLS_RUNS; run++) {
		/* a full pool costs the most to reach: one run in eight */
		enum pools_kind k = run % 8 == 7 ? PK_FULL :
				    (enum pools_kind)(run % 8 % 3 == 0 ? PK_OVER :
						      run % 8 % 3 == 1 ? PK_BAD : PK_KILL);

		gen = engine_live(&e)->gen;
		if (pools_wrong(&e, k, span) && !refused++)
			snprintf(fit_why, sizeof(fit_why), "run %d, %s: %s", run,
				 pools_kind_name[k], e.err);
		runs[k]++;
		if (k != PK_KILL && engine_live(&e)->gen != gen)
			tl_bug("%s: the live snapshot moved", pools_kind_name[k]);
		if (!pools_hold(&e, why[k], sizeof(why[k])) && !bad[k]++)
			snprintf(label, sizeof(label), "run %d", run);
		/* history never refuses what fits */
		if (pools_fit(&e, run % 2)) {
			if (!refused++)
				snprintf(fit_why, sizeof(fit_why),
					 "run %d, after %s: %s", run,
					 pools_kind_name[k], e.err);
		}
	}
	for (run = 0; run < PK_KINDS; run++) {
		snprintf(label, sizeof(label),
			 "pools: after %d changes %s, use equals the live snapshot's need",
			 runs[run], pools_kind_name[run]);
		tl_check(!bad[run], label, "%d times; e.g. %s", bad[run], why[run]);
	}
	tl_check(!refused,
		 "pools: a change that fits is never refused because of history",
		 "%d refused in %d runs; first %s", refused, POOLS_RUNS, fit_why);
	engine_close(&e);
	pools_full_default();
}

/*
 * No packet is judged by a mix of two snapshots. Snapshot A denies the
 * source and allows the destination as a relay; B does neither. Each
 * passes S -> D:25 whole, and any mix (A's subscriber with B's relay)
 * blocks it. While a thread on each CPU runs the datapath on that
 * packet, A and B are published in turn: not one packet may be blocked.
 * The control publishes the two tables of each change separately, which
 * is exactly a mix: it must see blocked packets, or this test could not.
 * The tc entry point runs it: XDP's test run re-patches the XDP
 * dispatcher, an RCU wait, on every call when nothing is attached.
 */
#define ATOMIC_FLIPS	100

struct looper {
	int cpu;
	int prog_fd;
	struct pkt *p;
	atomic_bool *stop;
	unsigned long long runs;
};

static void *loop_run(void *arg)
{
	struct looper *l = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(l->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	while (!atomic_load(l->stop)) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = l->p->d,
			    .data_size_in = l->p->len, .repeat = 64);

		if (bpf_prog_test_run_opts(l->prog_fd, &o)) {
			fprintf(stderr, "test_run: %s\n", strerror(errno));
			break;
		}
		l->runs += 64;
	}
	return NULL;
}

static __u64 stat_sum(size_t off)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	struct op25b_stats per[ncpu];
	__u32 zero = 0;
	__u64 n = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.op25b_stats), &zero, per))
		tl_bug("reading stats: %s", strerror(errno));
	for (c = 0; c < ncpu; c++)
		n += *(__u64 *)((char *)&per[c] + off);
	return n;
}

static void prefix_of(const char *s, int len, struct prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->family = strchr(s, ':') ? AF_INET6 : AF_INET;
	p->len = (__u32)len;
	if (inet_pton(p->family, s, p->addr) != 1)
		tl_bug("bad test prefix %s", s);
}

/* A: both rules; B: neither. split: each table in its own publish. */
static void publish_flip(struct engine *e, bool to_a, bool split)
{
	struct prefix sub, relay;
	enum engine_change ch;
	int err = 0;

	prefix_of("10.1.0.0", 16, &sub);
	prefix_of("192.0.2.25", 32, &relay);
	if (engine_begin(e))
		tl_bug("begin: %s", e->err);
	/* going to A the subscriber deny comes first, to B the relay goes first */
	if (to_a)
		err = engine_set(e, OP25B_TABLE_SUBSCRIBER, &sub, OP25B_V_DENY, &ch);
	else
		err = engine_del(e, OP25B_TABLE_RELAY, &relay, &ch);
	if (!err && split)
		err = engine_commit(e) || engine_begin(e);
	if (!err && to_a)
		err = engine_set(e, OP25B_TABLE_RELAY, &relay, OP25B_V_ALLOW, &ch);
	else if (!err)
		err = engine_del(e, OP25B_TABLE_SUBSCRIBER, &sub, &ch);
	if (err || engine_commit(e))
		tl_bug("flip: %s", e->err);
}

static void atomic_run(bool split, unsigned long long *packets,
		       unsigned long long *blocked, unsigned long long *judged)
{
	struct looper l[2];
	pthread_t th[2];
	atomic_bool stop = false;
	struct engine e;
	struct pkt p;
	__u64 b0, j0;
	int i;

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ipv4(&p, "10.1.2.3", "192.0.2.25");
	pkt_tcp(&p, 40000, 25, TH_SYN);
	pkt_done(&p);
	eng_open(&e, true);
	publish_flip(&e, true, false);
	b0 = stat_sum(offsetof(struct op25b_stats, blocked));
	j0 = stat_sum(offsetof(struct op25b_stats, smtp));
	for (i = 0; i < 2; i++) {
		l[i] = (struct looper){ .cpu = i % libbpf_num_possible_cpus(),
					.prog_fd = bpf_program__fd(skel->progs.op25b_tc),
					.p = &p, .stop = &stop };
		pthread_create(&th[i], NULL, loop_run, &l[i]);
	}
	usleep(20000);
	for (i = 0; i < ATOMIC_FLIPS; i++) {
		publish_flip(&e, i % 2 == 1, split);
		usleep(200);
	}
	atomic_store(&stop, true);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	*packets = l[0].runs + l[1].runs;
	*blocked = stat_sum(offsetof(struct op25b_stats, blocked)) - b0;
	*judged = stat_sum(offsetof(struct op25b_stats, smtp)) - j0;
	engine_close(&e);
}

static void test_atomic(void)
{
	unsigned long long pk, bl, ju;

	maps_fresh(OP25B_CAPACITY_MIN);
	atomic_run(false, &pk, &bl, &ju);
	printf("# atomic: %d publishes, %llu packets, %llu judged, %llu blocked\n",
	       ATOMIC_FLIPS, pk, ju, bl);
	tl_check(ju > 0 && pk > 0, "atomic: packets were judged during the publishes",
		 "%llu packets, %llu judged", pk, ju);
	tl_check(bl == 0, "atomic: no packet judged by a mix of two snapshots",
		 "%llu of %llu blocked", bl, ju);
	atomic_run(true, &pk, &bl, &ju);
	printf("# control (tables published apart): %llu packets, %llu judged, %llu blocked\n",
	       pk, ju, bl);
	tl_check(bl > 0, "atomic: the control, publishing the tables apart, shows mixes",
		 "%llu of %llu blocked: this test could not see a mix", bl, ju);
}


/*
 * ---- who may connect: the identities in the transaction ----
 *
 * doc/DESIGN.md, "Who may connect": records born and killed in the
 * generation a change publishes, settled at every begin. Against a model
 * (a set of keys and names), over random changes that are committed,
 * aborted, or made by a writer killed at a random moment; and published
 * with the tables in one store (a reader never sees a rule of a change
 * without its identity, or the reverse).
 */
#define ID_KEYS		48

struct mident {
	bool in;
	char name[16];
};

static void id_key(int k, __u32 *kind, __u64 *id)
{
	*kind = OP25B_ID_UID + (__u32)(k % 3);
	*id = 1000 + (__u64)(k / 3);
}

/* What the socket hooks see at generation g, key by key (bpf/cgroup.h). */
static bool id_alive_at(int fd, int k, __u32 g)
{
	struct op25b_ident_key key = {};
	struct op25b_ident v;

	id_key(k, &key.kind, &key.id);
	if (bpf_map_lookup_elem(fd, &key, &v))
		return false;
	return v.born && v.born <= g && (!v.died || v.died > g);
}

static size_t id_entries(int fd)
{
	struct op25b_ident_key k, last;
	size_t n = 0;
	bool first = true;

	while (!bpf_map_get_next_key(fd, first ? NULL : &last, &k)) {
		first = false;
		last = k;
		n++;
	}
	return n;
}

/* The engine's reading, the hooks' view and the model agree. */
static bool ids_agree(struct engine *e, const struct mident *m,
		      const char *label, bool settled)
{
	struct engine_ident *v = NULL;
	size_t n = 0, i, want = 0;
	__u32 g = engine_live(e)->gen;
	char l[160];
	bool ok = true;
	int k;

	if (engine_idents(e, &v, &n))
		tl_bug("engine_idents: %s", e->err);
	for (k = 0; k < ID_KEYS; k++) {
		want += m[k].in;
		if (id_alive_at(fds.idents, k, g) != m[k].in)
			ok = false;
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < ID_KEYS; k++) {
			__u32 kind;
			__u64 id;

			id_key(k, &kind, &id);
			if (kind == v[i].kind && id == v[i].id)
				break;
		}
		if (k == ID_KEYS || !m[k].in || strcmp(m[k].name, v[i].name))
			ok = false;
	}
	if (n != want || (settled && id_entries(fds.idents) != want))
		ok = false;
	snprintf(l, sizeof(l), "%s: %zu identities as the model has them", label,
		 want);
	tl_check(ok, l, "engine %zu, map %zu, model %zu", n,
		 id_entries(fds.idents), want);
	free(v);
	return ok;
}

static void id_change(struct engine *e, struct mident *m);

static void kill_id_change(struct engine *e, void *m)
{
	id_change(e, m);
}

static void id_change(struct engine *e, struct mident *m)
{
	enum engine_change ch;
	__u32 kind;
	__u64 id;
	int k = (int)(rnd() % ID_KEYS);

	id_key(k, &kind, &id);
	if (rnd() % 3) {
		snprintf(m[k].name, sizeof(m[k].name), "n%llu",
			 (unsigned long long)(rnd() % 4));
		m[k].in = true;
		if (e && engine_ident_set(e, kind, id, m[k].name, &owner_file,
					  0, &ch))
			tl_bug("engine_ident_set: %s", e->err);
	} else {
		m[k].in = false;
		if (e && engine_ident_del(e, kind, id, &ch))
			tl_bug("engine_ident_del: %s", e->err);
	}
}

struct id_reader {
	atomic_bool stop;
	unsigned long reads, mixed;
};

/* Rule 10.99.0.0/16 and uid 4242 come and go together. */
static void *id_read_loop(void *arg)
{
	struct id_reader *r = arg;
	struct engine e;
	struct prefix p = { .family = AF_INET, .len = 16,
			    .addr = { 10, 99 } };
	__u8 a[16] = { 10, 99, 1, 1 };

	(void)p;
	if (engine_open(&e, &fds, false))
		return NULL;
	while (!atomic_load(&r->stop)) {
		struct engine_rule er;
		struct op25b_ident_key key = { .kind = OP25B_ID_UID, .id = 4242 };
		struct op25b_ident v;
		__u32 g = engine_read_begin(&e);
		bool rule = engine_match(&e, OP25B_TABLE_SUBSCRIBER, AF_INET, a,
					 &er) && er.p.len == 16;
		bool id = !bpf_map_lookup_elem(fds.idents, &key, &v) && v.born &&
			  v.born <= g && (!v.died || v.died > g);

		if (!engine_read_done(&e, g))
			continue;
		r->reads++;
		r->mixed += rule != id;
	}
	engine_close(&e);
	return NULL;
}

static void test_idents(void)
{
	struct mident m[ID_KEYS] = {}, after[ID_KEYS];
	struct prefix p = { .family = AF_INET, .len = 16, .addr = { 10, 99 } };
	struct id_reader rd = {};
	enum engine_change ch;
	struct engine e;
	pthread_t t;
	char label[96];
	int run, i, status, n, outcome[2] = {};
	__u32 gen0;
	pid_t pid;

	maps_fresh(1024);
	if (fds.idents < 0)
		tl_bug("the skeleton has no identities map");
	eng_open(&e, true);
	/* committed and aborted changes */
	for (run = 0; run < 200; run++) {
		bool abort_it = !(rnd() % 4);

		memcpy(after, m, sizeof(m));
		if (engine_begin(&e))
			tl_bug("engine_begin: %s", e.err);
		n = 1 + (int)(rnd() % 12);
		for (i = 0; i < n; i++)
			id_change(&e, after);
		if (abort_it) {
			engine_abort(&e);
		} else {
			if (engine_commit(&e))
				tl_bug("engine_commit: %s", e.err);
			memcpy(m, after, sizeof(m));
		}
		if (run % 20 == 19 || abort_it) {
			snprintf(label, sizeof(label), "idents %d (%s)", run,
				 abort_it ? "aborted" : "committed");
			if (!ids_agree(&e, m, label, true))
				break;
		}
	}
	/* writers killed at random moments */
	for (run = 0; run < 40; run++) {
		unsigned long long seed = rnd();

		gen0 = engine_live(&e)->gen;
		memcpy(after, m, sizeof(m));
		pid = writer_fork(seed, kill_id_change, after, 40);
		usleep((useconds_t)(rnd() % 3000));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		rng = seed;
		for (i = 0; i < 40; i++)
			id_change(NULL, after);
		rng ^= seed * 2654435761u;
		if (engine_live(&e)->gen != gen0)
			memcpy(m, after, sizeof(m));
		outcome[engine_live(&e)->gen != gen0]++;
		snprintf(label, sizeof(label), "idents kill %d (%s, %s)", run,
			 WIFSIGNALED(status) ? "killed" : "finished",
			 engine_live(&e)->gen != gen0 ? "published" : "not published");
		ids_agree(&e, m, label, false);
		/* the next writer settles what the dead one left */
		if (engine_begin(&e))
			tl_bug("engine_begin: %s", e.err);
		id_change(&e, m);
		if (engine_commit(&e))
			tl_bug("engine_commit: %s", e.err);
		snprintf(label, sizeof(label), "idents kill %d: next writer", run);
		ids_agree(&e, m, label, true);
	}
	printf("# idents kill runs: %d left the old snapshot, %d the new\n",
	       outcome[0], outcome[1]);
	/* one store: a rule and an identity of one change, seen together */
	pthread_create(&t, NULL, id_read_loop, &rd);
	for (run = 0; run < 2000; run++) {
		if (engine_begin(&e))
			tl_bug("engine_begin: %s", e.err);
		if (run % 2) {
			engine_del(&e, OP25B_TABLE_SUBSCRIBER, &p, &ch);
			engine_ident_del(&e, OP25B_ID_UID, 4242, &ch);
		} else {
			engine_set(&e, OP25B_TABLE_SUBSCRIBER, &p, OP25B_V_DENY, &ch);
			engine_ident_set(&e, OP25B_ID_UID, 4242, "", &owner_file, 0,
					 &ch);
		}
		if (engine_commit(&e))
			tl_bug("engine_commit: %s", e.err);
	}
	atomic_store(&rd.stop, true);
	pthread_join(t, NULL);
	tl_check(rd.reads > 0 && !rd.mixed,
		 "idents: a rule and an identity of one change are published together",
		 "%lu of %lu reads saw one without the other", rd.mixed, rd.reads);
	engine_close(&e);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "model", test_model },
	{ "layers", test_layers },
	{ "kill", test_kill },
	{ "pools", test_pools },
	{ "atomic", test_atomic },
	{ "idents", test_idents },
};

/*
 * -p PIN_DIR -l SECONDS: no test, a load for the shell suites. Run the
 * datapath, with the maps pinned under PIN_DIR, on the atomic test's
 * packet (10.1.2.3 -> 192.0.2.25:25) on every CPU until SIGTERM or the
 * time is up; print what the counters saw meanwhile.
 */
static atomic_bool loop_stop;

static void loop_term(int sig)
{
	(void)sig;
	atomic_store(&loop_stop, true);
}

static int pinned_loop(const char *pin, int secs)
{
	static const char *const names[][2] = {
		{ ".data.policy", "policy" }, { "op25b_roots", "roots" },
		{ "op25b_nodes", "nodes" }, { "op25b_leaves", "leaves" },
		{ "op25b_rules", "rules" }, { "op25b_hits", "hits" },
		{ "op25b_engine", "engine" }, { "op25b_index", "index" },
		{ "op25b_stats", "stats" }, { "op25b_attach", "attachments" },
		{ "op25b_offenders", "offenders" }, { "op25b_events", "events" },
	};
	unsigned long long judged0, blocked0;
	struct looper l[2];
	pthread_t th[2];
	char path[512];
	struct pkt p;
	size_t i;
	int fd;

	skel = op25b_bpf__open();
	if (!skel)
		return 1;
	skel->rodata->op25b_sweep_timer = engine_bpf_jit();
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(skel->obj,
								 names[i][0]);

		snprintf(path, sizeof(path), "%s/%s", pin, names[i][1]);
		fd = bpf_obj_get(path);
		if (!m || fd < 0 || bpf_map__reuse_fd(m, fd)) {
			fprintf(stderr, "loop: cannot reuse %s\n", path);
			return 1;
		}
		close(fd);
	}
	skel_tell_sizes(skel);
	if (op25b_bpf__load(skel)) {
		fprintf(stderr, "loop: cannot load\n");
		return 1;
	}
	pkt_init(&p);
	pkt_eth(&p);
	pkt_ipv4(&p, "10.1.2.3", "192.0.2.25");
	pkt_tcp(&p, 40000, 25, TH_SYN);
	pkt_done(&p);
	signal(SIGTERM, loop_term);
	signal(SIGALRM, loop_term);
	alarm((unsigned int)secs);
	judged0 = stat_sum(offsetof(struct op25b_stats, smtp));
	blocked0 = stat_sum(offsetof(struct op25b_stats, blocked));
	for (i = 0; i < 2; i++) {
		l[i] = (struct looper){ .cpu = (int)i % libbpf_num_possible_cpus(),
					.prog_fd = bpf_program__fd(skel->progs.op25b_tc),
					.p = &p, .stop = &loop_stop };
		pthread_create(&th[i], NULL, loop_run, &l[i]);
	}
	/* ready: the shell suite starts changing the policy now */
	printf("running\n");
	fflush(stdout);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("packets %llu judged %llu blocked %llu\n", l[0].runs + l[1].runs,
	       stat_sum(offsetof(struct op25b_stats, smtp)) - judged0,
	       stat_sum(offsetof(struct op25b_stats, blocked)) - blocked0);
	op25b_bpf__destroy(skel);
	return 0;
}

int main(int argc, char **argv)
{
	const char *only = NULL, *pin = NULL;
	int a, secs = 0, ran;
	size_t i;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-q"))
			tl.quiet = true;
		else if (!strcmp(argv[a], "-t") && a + 1 < argc)
			only = argv[++a];
		else if (!strcmp(argv[a], "-p") && a + 1 < argc)
			pin = argv[++a];
		else if (!strcmp(argv[a], "-l") && a + 1 < argc)
			secs = atoi(argv[++a]);
		else {
			fprintf(stderr, "usage: %s [-q] [-t NAME] | -p PIN_DIR -l SECONDS\n",
				argv[0]);
			return 2;
		}
	}
	if (pin) {
		libbpf_set_print(NULL);
		return pinned_loop(pin, secs > 0 ? secs : 10);
	}
	libbpf_set_print(NULL);
	for (i = 0, ran = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!only || !strcmp(only, tests[i].name)) {
			tests[i].fn();
			ran++;
		}
	/* a name that runs nothing is a failure, never a quiet pass */
	if (!ran)
		tl_check(false, "subtest", "no subtest '%s'", only);
	if (skel)
		op25b_bpf__destroy(skel);
	return tl_summary();
}
