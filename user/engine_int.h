// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What the policy engine's files share, and no one else reads: the
 * engine's one interface is engine.h. Which file holds which job:
 *
 *   engine_txn.c   the trees and the transaction (begin, set, del, flush,
 *                  commit, abort)                 "Publishing", "Lookup", "Writers"
 *   engine_map.c   opening and mapping the maps, sizing, footprint, the
 *                  live snapshot, errors          "Sizing"
 *   engine_pool.c  the node and leaf pools, their books, recovery
 *                                                 "Writers", "Recovery"
 *   engine_rule.c  rule records, the exact-prefix index, layers' owners
 *                                                 "Writers", "Layers"
 *   engine_read.c  lock-free reading: rules, snapshot, match, judge
 *                                                 "Readers"
 *
 * (sections of doc/DESIGN.md, "Policy engine").
 */
#ifndef OP25B_ENGINE_INT_H
#define OP25B_ENGINE_INT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include "engine.h"
#include "grow.h"

/* engine_map.c: the error of the last call that failed, in e->err */
int engine_fail(struct engine *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* engine_map.c: what engine_open mapped, unmapped */
void engine_unmap(struct engine *e);
/* engine_map.c: a pair more on l */
int pairs_add(struct engine *e, struct u32_pairs *l, __u32 a, __u32 b);

/* A window's chunks, mapped when first touched. */
#define WIN_CHUNK	(256 * 1024)

/* Mapping failed under a writer: as if it were killed, the next cleans up. */
static inline void __attribute__((noreturn)) win_fatal(size_t off, int err)
{
	fprintf(stderr, "op25b: cannot map the policy maps at %zu: %s\n", off,
		strerror(err));
	exit(1);
}

static inline void win_map(struct window *w, size_t c)
{
	size_t off = c * WIN_CHUNK, len = w->len - off;
	void *p;

	if (len > WIN_CHUNK)
		len = WIN_CHUNK;
	p = mmap(w->base + off, len, w->prot,
		 MAP_SHARED | MAP_FIXED | w->populate, w->fd, (off_t)off);
	if (p == MAP_FAILED)
		win_fatal(off, errno);
	w->mapped[c / 8] |= 1u << (c % 8);
}

/* engine_pool.c: blocks of nodes and leaves, and recovery */
void block_free_now(struct engine *e, bool leaves, __u32 b, __u32 n);
int node_alloc(struct engine *e, __u32 n, __u32 *out);
int node_release(struct engine *e, __u32 b, __u32 n);
int leaf_alloc(struct engine *e, __u32 n, __u32 *out);
int leaf_release(struct engine *e, __u32 b, __u32 n);
int engine_recover(struct engine *e);

/* engine_rule.c: rule records and the exact-prefix index */
__u32 index_probe(struct engine *e, int tree, const struct prefix *p,
		  const struct owner *o);
__u32 index_find(struct engine *e, int tree, const struct prefix *p);
__u32 rule_leaf(struct engine *e, __u32 rid);
void index_add(struct engine *e, __u32 rid);
void rule_clear(struct engine *e, __u32 rid);
int rule_new(struct engine *e, int tree, const struct prefix *p,
	     enum op25b_verdict v, const struct owner *o, __u8 flags,
	     __u32 *out);
int rule_kill(struct engine *e, __u32 rid);
__u32 leaf_len(struct engine *e, __u32 leaf);

/* A root table's entries, and the bits an address has consumed at depth d. */
static inline __u32 root_slots(const struct engine *e)
{
	return 1u << e->root_bits;
}

static inline unsigned int node_bits(const struct engine *e, unsigned int d)
{
	return e->root_bits + OP25B_STRIDE * d;
}

static inline __u32 popcount64(__u64 x)
{
	return (__u32)__builtin_popcountll(x);
}

/* ---- addresses as the trees read them ---- */

struct a128 {
	__u64 hi;
	__u64 lo;
};

static inline __u64 be64(const __u8 *b)
{
	__u64 v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static inline struct a128 addr_bits(int family, const __u8 *addr)
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

/* n (<= 32) bits from bit off on; bits past 128 read as 0. */
static inline __u32 bits_at(struct a128 a, unsigned int off, unsigned int n)
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

static inline int tree_of(enum op25b_table t, int family)
{
	return OP25B_TREE(t, family == AF_INET6);
}

static inline int family_of_tree(int tree)
{
	return (tree & 1) ? AF_INET6 : AF_INET;
}

/* Node levels a prefix of length len walks down: 0 for the root table. */
static inline unsigned int depth_of(const struct engine *e, __u32 len)
{
	if (len <= e->root_bits)
		return 0;
	return OP25B_DEPTH_FOR(len, e->root_bits);
}

/* ---- the windows: the large maps, mapped by engine_map.c ---- */

#define WIN_CHUNK	(256 * 1024)

/* Elements [i, i + n) of w, mapped. */
static inline void *win_at(struct window *w, size_t i, size_t n)
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

static inline struct op25b_root_ent *roots_at(struct engine *e, size_t i,
					     size_t n)
{
	return win_at(&e->roots, i, n);
}

/* Root table r, whole: mapped as it is first touched, like every pool. */
static inline struct op25b_root_ent *root_table(struct engine *e, __u32 r)
{
	return roots_at(e, (size_t)r * root_slots(e), root_slots(e));
}

static inline struct op25b_node *nodes_at(struct engine *e, size_t i, size_t n)
{
	return win_at(&e->nodes, i, n);
}

static inline __u32 *leaves_at(struct engine *e, size_t i, size_t n)
{
	return win_at(&e->leaves, i, n);
}

static inline struct op25b_rule *rules_at(struct engine *e, size_t i, size_t n)
{
	return win_at(&e->rules, i, n);
}

static inline __u32 *slots_at(struct engine *e, size_t i, size_t n)
{
	return win_at(&e->index, i, n);
}

static inline __u64 *hit_at(struct engine *e, __u32 stripe, __u32 rid)
{
	return win_at(&e->hits, (size_t)stripe * e->rules_max + rid, 1);
}

/* ---- rule records ---- */

static inline bool rule_alive(const struct op25b_rule *r, __u32 gen)
{
	return r->born && r->born <= gen && (!r->died || r->died > gen);
}

/* ---- bitmaps of blocks: owned, reached ---- */

static inline bool bit_test(const __u8 *b, __u32 i)
{
	return b[i / 8] & (1u << (i % 8));
}

static inline void bit_set(__u8 *b, __u32 i)
{
	b[i / 8] |= 1u << (i % 8);
}

#endif
