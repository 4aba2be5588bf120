/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * test_engine's harness: the model the engine is held to (a linear scan
 * of its rules), random prefixes and addresses on the trees' edges, fresh
 * maps, the agreement check, random changes and the writer to kill.
 * Included once, by test_engine.c, before the files test_engine_*.c, which
 * it includes in turn: one translation unit, so the helpers stay static.
 */
#ifndef OP25B_ENGINE_HARNESS_H
#define OP25B_ENGINE_HARNESS_H

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

#endif /* OP25B_ENGINE_HARNESS_H */
