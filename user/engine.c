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
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "engine.h"
#include "decide.h"

#define ROOT_SLOTS	OP25B_ROOT_SIZE
#define NODE_BITS(d)	(OP25B_ROOT_BITS + OP25B_STRIDE * (d))

static int fail(struct engine *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct engine *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	return err < 0 ? err : -err;
}

static __u32 popcount64(__u64 x)
{
	return (__u32)__builtin_popcountll(x);
}

int engine_size_object(struct bpf_object *obj, __u32 cap)
{
	static const char *const names[] = { "op25b_nodes", "op25b_leaves",
		"op25b_rules", "op25b_hits", "op25b_index" };
	int ncpu = libbpf_num_possible_cpus();
	__u32 n[5];
	size_t i;

	if (ncpu <= 0)
		return -EINVAL;
	n[0] = OP25B_NODES_FOR(cap);
	n[1] = OP25B_LEAF_ELEMS_FOR(cap);
	n[2] = OP25B_RULES_FOR(cap);
	n[3] = OP25B_RULES_FOR(cap) * (__u32)ncpu;
	n[4] = op25b_index_lines_for(cap);
	for (i = 0; i < 5; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, names[i]);

		if (!m || bpf_map__set_max_entries(m, n[i]))
			return -EINVAL;
	}
	return 0;
}

int engine_fds_of_object(struct bpf_object *obj, struct engine_fds *fds)
{
	static const char *const names[8] = { ".data.policy", "op25b_roots",
		"op25b_nodes", "op25b_leaves", "op25b_rules", "op25b_hits",
		"op25b_engine", "op25b_index" };
	int i;

	for (i = 0; i < 8; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, names[i]);
		int fd = m ? bpf_map__fd(m) : -1;

		if (fd < 0)
			return -EINVAL;
		((int *)fds)[i] = fd;
	}
	return 0;
}

/* ---- addresses as the trees read them ---- */

struct a128 {
	__u64 hi;
	__u64 lo;
};

static __u64 be64(const __u8 *b)
{
	__u64 v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static struct a128 addr_bits(int family, const __u8 *addr)
{
	struct a128 a = {};

	if (family == AF_INET)
		a.hi = (__u64)((__u32)addr[0] << 24 | (__u32)addr[1] << 16 |
			       (__u32)addr[2] << 8 | addr[3]) << 32;
	else {
		a.hi = be64(addr);
		a.lo = be64(addr + 8);
	}
	return a;
}

/* n (<= 16) bits from bit off on; bits past 128 read as 0. */
static __u32 bits_at(struct a128 a, unsigned int off, unsigned int n)
{
	__u64 hi;

	if (off >= 128)
		return 0;
	if (off >= 64)
		hi = a.lo << (off - 64);
	else if (off)
		hi = a.hi << off | a.lo >> (64 - off);
	else
		hi = a.hi;
	return (__u32)(hi >> (64 - n));
}

static int tree_of(enum op25b_table t, int family)
{
	return OP25B_TREE(t, family == AF_INET6);
}

static int family_of_tree(int tree)
{
	return (tree & 1) ? AF_INET6 : AF_INET;
}

/* Node levels a prefix of length len walks down: 0 for the root table. */
static unsigned int depth_of(__u32 len)
{
	if (len <= OP25B_ROOT_BITS)
		return 0;
	return (len - OP25B_ROOT_BITS + OP25B_STRIDE - 1) / OP25B_STRIDE;
}

/* ---- mapping ---- */

#define WIN_CHUNK	(256 * 1024)

/* Mapping failed under a writer: as if it were killed, the next cleans up. */
static void __attribute__((noreturn)) win_fatal(size_t off, int err)
{
	fprintf(stderr, "op25b: cannot map the policy maps at %zu: %s\n", off,
		strerror(err));
	exit(1);
}

static void win_map(struct window *w, size_t c)
{
	size_t off = c * WIN_CHUNK, len = w->len - off;
	void *p;

	if (len > WIN_CHUNK)
		len = WIN_CHUNK;
	p = mmap(w->base + off, len, w->prot, MAP_SHARED | MAP_FIXED, w->fd,
		 (off_t)off);
	if (p == MAP_FAILED)
		win_fatal(off, errno);
	w->mapped[c / 8] |= 1u << (c % 8);
}

/* Elements [i, i + n) of w, mapped. */
static void *win_at(struct window *w, size_t i, size_t n)
{
	size_t first = i * w->elem, last = (i + (n ? n : 1)) * w->elem - 1, c;

	/* none: a copy of nothing, its start may be the end of the pool */
	if (!n && first <= w->len)
		return w->base + first;
	if (last >= w->len)
		win_fatal(last, ERANGE);
	for (c = first / WIN_CHUNK; c <= last / WIN_CHUNK; c++)
		if (!(w->mapped[c / 8] & (1u << (c % 8))))
			win_map(w, c);
	return w->base + first;
}

static struct op25b_node *nodes_at(struct engine *e, size_t i, size_t n)
{
	return win_at(&e->nodes, i, n);
}

static __u32 *leaves_at(struct engine *e, size_t i, size_t n)
{
	return win_at(&e->leaves, i, n);
}

static struct op25b_rule *rules_at(struct engine *e, size_t i, size_t n)
{
	return win_at(&e->rules, i, n);
}

static __u32 *slots_at(struct engine *e, size_t i, size_t n)
{
	return win_at(&e->index, i, n);
}

static __u64 *hit_at(struct engine *e, int cpu, __u32 rid)
{
	return win_at(&e->hits, (size_t)cpu * e->rules_max + rid, 1);
}

static int win_open(struct window *w, int fd, size_t len, size_t elem,
		    int prot)
{
	w->fd = fd;
	w->len = len;
	w->elem = elem;
	w->prot = prot;
	w->mapped = calloc(len / WIN_CHUNK / 8 + 1, 1);
	w->base = mmap(NULL, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!w->mapped || w->base == MAP_FAILED) {
		free(w->mapped);
		w->mapped = NULL;
		w->base = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void win_close(struct window *w)
{
	if (w->base)
		munmap(w->base, w->len);
	free(w->mapped);
	memset(w, 0, sizeof(*w));
}

static int *fd_slot(struct engine_fds *f, int i)
{
	return &((int *)f)[i];
}

static const char *const map_names[8] = {
	OP25B_PIN_POLICY, OP25B_PIN_ROOTS, OP25B_PIN_NODES, OP25B_PIN_LEAVES,
	OP25B_PIN_RULES, OP25B_PIN_HITS, OP25B_PIN_ENGINE, OP25B_PIN_INDEX,
};

static const __u32 map_value_size[8] = {
	sizeof(struct op25b_policy), sizeof(struct op25b_root_ent),
	sizeof(struct op25b_node), sizeof(struct op25b_leaves),
	sizeof(struct op25b_rule), sizeof(__u64),
	sizeof(struct op25b_engine), sizeof(struct op25b_index_line),
};

static int map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len);
}

/* Which maps are windows, and the size of what they are indexed by. */
static struct window *window_of(struct engine *e, int i, size_t *elem)
{
	switch (i) {
	case 2:
		*elem = sizeof(struct op25b_node);
		return &e->nodes;
	case 3:
		*elem = sizeof(__u32);
		return &e->leaves;
	case 4:
		*elem = sizeof(struct op25b_rule);
		return &e->rules;
	case 7:
		*elem = sizeof(__u32);
		return &e->index;
	case 5:
		*elem = sizeof(__u64);
		return &e->hits;
	}
	return NULL;
}

int engine_open(struct engine *e, const struct engine_fds *fds, bool writable)
{
	struct bpf_map_info info;
	void *p[8] = {};
	int i, prot = PROT_READ | (writable ? PROT_WRITE : 0);

	memset(e, 0, sizeof(*e));
	e->fd = *fds;
	e->writable = writable;
	e->ncpu = libbpf_num_possible_cpus();
	if (e->ncpu <= 0)
		return fail(e, -EINVAL, "cannot count the possible CPUs");
	for (i = 0; i < 8; i++) {
		int fd = *fd_slot(&e->fd, i);
		struct window *w;
		size_t len, elem;

		if (map_info(fd, &info))
			return fail(e, -errno, "cannot inspect map '%s': %s",
				    map_names[i], strerror(errno));
		if (info.value_size != map_value_size[i])
			return fail(e, -EINVAL,
				    "map '%s' holds values of %u bytes, not %u",
				    map_names[i], info.value_size,
				    map_value_size[i]);
		if (i == 5)
			e->hits_max = info.max_entries;
		/* elements are 8-byte aligned; mmap takes whole pages */
		len = (size_t)info.max_entries * ((info.value_size + 7) & ~7u);
		len = (len + 4095) & ~(size_t)4095;
		w = window_of(e, i, &elem);
		if (w) {
			if (win_open(w, fd, len, elem, prot)) {
				engine_close(e);
				return fail(e, -ENOMEM, "cannot reserve room to map '%s'",
					    map_names[i]);
			}
		} else {
			p[i] = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
			if (p[i] == MAP_FAILED) {
				engine_close(e);
				return fail(e, -errno, "cannot map '%s': %s",
					    map_names[i], strerror(errno));
			}
			e->len[i] = len;
		}
		switch (i) {
		case 0:
			e->pol = p[0];
			break;
		case 1:
			e->roots = p[1];
			break;
		case 2:
			e->nodes_max = info.max_entries;
			break;
		case 3:
			e->leaves_max = info.max_entries * OP25B_LEAVES_PER;
			break;
		case 4:
			e->rules_max = info.max_entries;
			break;
		case 6:
			e->st = p[6];
			break;
		case 7:
			e->index_mask = info.max_entries * OP25B_INDEX_PER - 1;
			break;
		}
		if (i == 1 && info.max_entries != OP25B_ROOT_TABLES * ROOT_SLOTS) {
			engine_close(e);
			return fail(e, -EINVAL, "map 'roots' has %u entries, not %u",
				    info.max_entries,
				    OP25B_ROOT_TABLES * ROOT_SLOTS);
		}
		if (i == 7 && (e->index_mask & (e->index_mask + 1))) {
			engine_close(e);
			return fail(e, -EINVAL,
				    "map 'index' is not a power of two");
		}
	}
	if ((unsigned long long)e->hits_max < (unsigned long long)e->ncpu * e->rules_max) {
		engine_close(e);
		return fail(e, -EINVAL,
			    "map 'hits' has %u counters, %d CPUs need %llu",
			    e->hits_max, e->ncpu,
			    (unsigned long long)e->ncpu * e->rules_max);
	}
	if (e->st->layout && e->st->layout != OP25B_LAYOUT) {
		__u32 l = e->st->layout;

		engine_close(e);
		return fail(e, -EPROTO, "the maps are of layout %u, this op25bctl reads layout %u",
			    l, OP25B_LAYOUT);
	}
	return 0;
}

void engine_close(struct engine *e)
{
	void *p[3] = { e->pol, e->roots, e->st };
	size_t len[3] = { e->len[0], e->len[1], e->len[6] };
	int i;

	if (e->in_txn)
		engine_abort(e);
	for (i = 0; i < 3; i++)
		if (p[i] && len[i])
			munmap(p[i], len[i]);
	win_close(&e->nodes);
	win_close(&e->leaves);
	win_close(&e->rules);
	win_close(&e->index);
	win_close(&e->hits);
	e->pol = NULL;
	e->roots = NULL;
	e->st = NULL;
}

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

__u32 engine_capacity(const struct engine *e)
{
	return (e->rules_max - 1) / 4;
}

const struct op25b_snapshot *engine_live(const struct engine *e)
{
	__u32 g = __atomic_load_n(&e->pol->live, __ATOMIC_ACQUIRE);

	return &e->pol->snap[g & 1];
}

unsigned long long engine_footprint(__u32 cap, int ncpu)
{
	unsigned long long b = 0;

	b += sizeof(struct op25b_policy);
	b += (unsigned long long)OP25B_ROOT_TABLES * ROOT_SLOTS *
	     sizeof(struct op25b_root_ent);
	b += (unsigned long long)OP25B_NODES_FOR(cap) * sizeof(struct op25b_node);
	b += (unsigned long long)OP25B_LEAF_ELEMS_FOR(cap) *
	     sizeof(struct op25b_leaves);
	b += (unsigned long long)OP25B_RULES_FOR(cap) * sizeof(struct op25b_rule);
	b += (unsigned long long)OP25B_RULES_FOR(cap) * sizeof(__u64) * ncpu;
	b += (unsigned long long)op25b_index_lines_for(cap) *
	     sizeof(struct op25b_index_line);
	return b;
}

/* ---- rules and the exact-prefix index ---- */

static bool rule_alive(const struct op25b_rule *r, __u32 gen)
{
	return r->born && r->born <= gen && (!r->died || r->died > gen);
}

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
static __u32 index_probe(struct engine *e, int tree, const struct prefix *p,
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
static __u32 index_find(struct engine *e, int tree, const struct prefix *p)
{
	return index_probe(e, tree, p, NULL);
}

static __u32 rule_leaf(struct engine *e, __u32 rid)
{
	return rid ? OP25B_LEAF(rid, (*rules_at(e, rid, 1)).verdict) : 0;
}

static void index_add(struct engine *e, __u32 rid)
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

static int pairs_add(struct engine *e, struct u32_pairs *l, __u32 a, __u32 b)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		void *v = realloc(l->v, cap * sizeof(*l->v));

		if (!v)
			return fail(e, -ENOMEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n][0] = a;
	l->v[l->n][1] = b;
	l->n++;
	return 0;
}

static void rule_clear(struct engine *e, __u32 rid)
{
	struct op25b_rule *r = rules_at(e, rid, 1);

	memset(r, 0, sizeof(*r));
	r->link = e->st->rule_free;
	e->st->rule_free = rid;
}

static int rule_new(struct engine *e, int tree, const struct prefix *p,
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
			return fail(e, -ENOSPC, "no free rule record (%u in use)",
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
static int rule_kill(struct engine *e, __u32 rid)
{
	index_remove(e, rid);
	if ((*rules_at(e, rid, 1)).born == e->gen + 1) {
		rule_clear(e, rid);
		return 0;
	}
	(*rules_at(e, rid, 1)).died = e->gen + 1;
	return pairs_add(e, &e->dead, rid, 0);
}

static __u32 leaf_len(struct engine *e, __u32 leaf)
{
	return (*rules_at(e, OP25B_LEAF_RID(leaf), 1)).prefixlen;
}

/* ---- blocks: children (nodes) and leaves ---- */

static bool bit_test(const __u8 *b, __u32 i)
{
	return b[i / 8] & (1u << (i % 8));
}

static void bit_set(__u8 *b, __u32 i)
{
	b[i / 8] |= 1u << (i % 8);
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

static void block_free_now(struct engine *e, bool leaves, __u32 b, __u32 n)
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
		return fail(e, -ENOSPC, "the %s pool is full (%u %s)",
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

static int node_alloc(struct engine *e, __u32 n, __u32 *out)
{
	return block_alloc(e, false, n, out);
}

/* A node without children (n 0) has no block. */
static int node_release(struct engine *e, __u32 b, __u32 n)
{
	return n ? block_release(e, false, b, n) : 0;
}

/* Leaf 0 is the shared all-zero leaf of an empty node: never handed out. */
static int leaf_alloc(struct engine *e, __u32 n, __u32 *out)
{
	return block_alloc(e, true, n, out);
}

static int leaf_release(struct engine *e, __u32 b, __u32 n)
{
	return b ? block_release(e, true, b, n) : 0;
}

/* ---- nodes ---- */

static void node_decode(struct engine *e, const struct op25b_node *n,
			__u32 v[OP25B_SLOTS])
{
	int s, k = -1;

	for (s = 0; s < (int)OP25B_SLOTS; s++) {
		if ((n->run_map >> s) & 1)
			k++;
		v[s] = (*leaves_at(e, n->leaf_base + k, 1));
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
		err = leaf_alloc(e, cnt, &b);
		if (err)
			return err;
		for (s = 0; s < (int)OP25B_SLOTS; s++)
			if ((runs >> s) & 1)
				(*leaves_at(e, b + k++, 1)) = v[s];
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

/* The draft's root table of tree, copied first if the live one is shared. */
static int root_own(struct engine *e, int tree, struct op25b_root_ent **out)
{
	const struct op25b_snapshot *live = &e->pol->snap[e->gen & 1];
	__u32 used = 0, r;
	int t;

	if (e->draft.root[tree] != live->root[tree]) {
		*out = &e->roots[(size_t)e->draft.root[tree] * ROOT_SLOTS];
		return 0;
	}
	e->touched = true;
	for (t = 0; t < OP25B_TREES; t++)
		used |= 1u << live->root[t] | 1u << e->draft.root[t];
	for (r = 0; r < OP25B_ROOT_TABLES && (used >> r) & 1; r++)
		;
	if (r == OP25B_ROOT_TABLES)
		return fail(e, -EIO, "no spare root table");
	memcpy(&e->roots[(size_t)r * ROOT_SLOTS],
	       &e->roots[(size_t)live->root[tree] * ROOT_SLOTS],
	       ROOT_SLOTS * sizeof(struct op25b_root_ent));
	e->draft.root[tree] = r;
	*out = &e->roots[(size_t)r * ROOT_SLOTS];
	return 0;
}

/* The slots of one table (root or node) that prefix p covers. */
static void span_of(const struct prefix *p, struct a128 a, unsigned int d,
		    __u32 *first, __u32 *n)
{
	unsigned int end = d ? NODE_BITS(d) : OP25B_ROOT_BITS;
	unsigned int width = d ? OP25B_STRIDE : OP25B_ROOT_BITS;
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
	struct op25b_root_ent *root;	/* the root entry */
	__u32 node[OP25B_DEPTH6 + 1];	/* node at depth 1.. */
	__u32 slot[OP25B_DEPTH6 + 1];	/* slot taken at that node */
	unsigned int depth;
};

static int walk_own(struct engine *e, int tree, const struct prefix *p,
		    struct a128 a, bool create, struct path *pa)
{
	struct op25b_root_ent *rt;
	unsigned int d, want = depth_of(p->len);
	__u32 nb;
	int err;

	err = root_own(e, tree, &rt);
	if (err)
		return err;
	pa->root = &rt[bits_at(a, 0, OP25B_ROOT_BITS)];
	pa->depth = 0;
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
		pa->slot[d] = bits_at(a, NODE_BITS(d - 1), OP25B_STRIDE);
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
	unsigned int d = depth_of(p->len);
	__u32 first, n, i, v[OP25B_SLOTS];

	span_of(p, a, d, &first, &n);
	if (!d) {
		struct op25b_root_ent *rt = pa->root - bits_at(a, 0, OP25B_ROOT_BITS);

		for (i = first; i < first + n; i++)
			rt[i].leaf = rewrite_one(e, rw, rt[i].leaf);
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
	if (!k || depth >= OP25B_DEPTH6)
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

/*
 * A writer died between begin and the end of its commit: rebuild the free
 * lists, the records and the index from what the live snapshot holds.
 */
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
		return fail(e, -ENOMEM, "out of memory");
	}
	for (t = 0; t < OP25B_TREES; t++) {
		const struct op25b_root_ent *rt =
			&e->roots[(size_t)s->root[t] * ROOT_SLOTS];

		for (i = 0; i < ROOT_SLOTS; i++) {
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

static int engine_recover(struct engine *e)
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
	return fail(e, -EAGAIN, "a change is under way, or was cut short (the next change reclaims what it took)");
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

void engine_hits_add(struct engine *e, __u32 rid, __u64 n)
{
	if (rid && rid < e->rules_max && e->writable)
		*hit_at(e, 0, rid) += n;
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
		return fail(e, -EPERM, "the policy maps are mapped read-only");
	if (e->in_txn)
		return fail(e, -EBUSY, "a change is already under way");
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
	e->draft = e->pol->snap[e->gen & 1];
	e->node_own = calloc(e->nodes_max / 8 + 1, 1);
	e->leaf_own = calloc(e->leaves_max / 8 + 1, 1);
	if (!e->node_own || !e->leaf_own) {
		txn_free(e);
		return fail(e, -ENOMEM, "out of memory");
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
		return fail(e, -EINVAL, "no change under way");
	if ((p->family != AF_INET && p->family != AF_INET6) || p->len > max)
		return fail(e, -EINVAL, "not a prefix");
	return 0;
}

__u32 engine_session_id(struct engine *e)
{
	if (!e->st->session_next)
		e->st->session_next = 1;
	e->touched = true;
	return e->st->session_next++;
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
	if (!err && pa.depth != depth_of(p->len))
		err = fail(e, -EIO, "prefix in the index but not in the tree");
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
		return fail(e, -EINVAL, "not a verdict");
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
	unsigned int d = depth_of(p->len);
	__u32 lo = d ? NODE_BITS(d - 1) + 1 : 0, l, rid, bit;
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
	if (pa.depth != depth_of(p->len))
		return fail(e, -EIO, "prefix in the index but not in the tree");
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
	for (i = 0; i < k && !err && depth < OP25B_DEPTH6; i++)
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
		return fail(e, -EINVAL, "no change under way");
	for (v6 = 0; v6 < 2; v6++) {
		tree = OP25B_TREE(t, v6);
		err = root_own(e, tree, &rt);
		if (err)
			return err;
		for (i = 0; i < ROOT_SLOTS; i++) {
			if (rt[i].child) {
				err = release_subtree(e, rt[i].child, 1);
				if (!err)
					err = node_release(e, rt[i].child, 1);
				if (err)
					return err;
			}
		}
		memset(rt, 0, ROOT_SLOTS * sizeof(*rt));
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
		return fail(e, -EINVAL, "no change under way");
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
	int c;

	for (i = 0; i < e->reused.n; i++)
		for (c = 0; c < e->ncpu; c++)
			*hit_at(e, c, e->reused.v[i][0]) = 0;
	for (i = 0; i < e->carry.n; i++) {
		__u32 rid = e->carry.v[i][0];
		struct op25b_rule *r = rules_at(e, rid, 1);

		/* killed (or killed and reused) since: nothing to carry */
		if (r->born != e->gen + 1 || !r->link)
			continue;
		for (c = 0; c < e->ncpu; c++)
			*hit_at(e, c, rid) = *hit_at(e, c, r->link);
		r->link = 0;
	}
}

int engine_commit(struct engine *e)
{
	struct op25b_snapshot *slot;
	size_t i;
	int err, t;

	if (!e->in_txn)
		return fail(e, -EINVAL, "no change under way");
	for (t = 0; t < 2; t++) {
		if (engine_count(e, t) > engine_capacity(e)) {
			err = fail(e, -ENOSPC,
				   "the %s table would hold %u prefixes; it holds at most %u",
				   t ? "relay" : "subscriber",
				   engine_count(e, t), engine_capacity(e));
			engine_abort(e);
			return err;
		}
	}
	hits_prepare(e);
	e->draft.gen = e->gen + 1;
	slot = &e->pol->snap[(e->gen + 1) & 1];
	memcpy(slot, &e->draft, sizeof(*slot));
	/* the one store that publishes: everything above is seen before it */
	__atomic_store_n(&e->pol->live, e->gen + 1, __ATOMIC_RELEASE);
	/* and nothing below before it: lock-free readers (engine_read_done) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	/* what only the old snapshot used; a packet still on it judges again */
	for (i = 0; i < e->node_garbage.n; i++)
		block_free_now(e, false, e->node_garbage.v[i][0],
			       e->node_garbage.v[i][1]);
	for (i = 0; i < e->leaf_garbage.n; i++)
		block_free_now(e, true, e->leaf_garbage.v[i][0],
			       e->leaf_garbage.v[i][1]);
	for (i = 0; i < e->dead.n; i++)
		rule_clear(e, e->dead.v[i][0]);
	__atomic_store_n(&e->st->dirty, 0, __ATOMIC_SEQ_CST);
	txn_free(e);
	return 0;
}

void engine_abort(struct engine *e)
{
	if (!e->in_txn)
		return;
	/* the draft's blocks and records are scattered: rebuild from live */
	if (!e->touched || !engine_recover(e))
		__atomic_store_n(&e->st->dirty, 0, __ATOMIC_SEQ_CST);
	txn_free(e);
}

/* ---- reading ---- */

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
	int c;

	for (i = 0; i < n; i++) {
		v[i].hits = 0;
		for (c = 0; c < e->ncpu; c++)
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
	struct engine_rule *v = NULL, *nv;
	size_t cnt = 0, cap = 0;
	__u32 rid, top = e->st->layout ? e->st->rule_top : 1;

	if (top > e->rules_max)
		top = e->rules_max;
	for (rid = 1; rid < top; rid++) {
		const struct op25b_rule *r = rules_at(e, rid, 1);

		if (!rule_alive(r, s->gen))
			continue;
		if (t != OP25B_TABLE_FORCE_U32 && r->table != t)
			continue;
		if (cnt == cap) {
			cap = cap ? 2 * cap : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return fail(e, -ENOMEM, "out of memory");
			}
			v = nv;
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
	return fail(e, -EAGAIN, "the policy changed under every one of %d reads",
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

static __always_inline const struct op25b_root_ent *
op25b_root_at(const struct op25b_trees *t, const __u32 *i)
{
	return *i < OP25B_ROOT_TABLES * ROOT_SLOTS ? &t->e->roots[*i] : NULL;
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

static __always_inline __u32 op25b_lookup(const struct op25b_trees *t,
					  __u32 root, __u64 hi, __u64 lo,
					  __u32 depth)
{
	return op25b_walk(t, root, hi, lo, depth);
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
			  family == AF_INET ? OP25B_DEPTH4 : OP25B_DEPTH6);
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
				  &sa, &da, &sub, &relay);
}
