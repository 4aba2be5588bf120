/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The policy engine, userspace side: the trees of op25b.h read and written
 * through mmap, every change made beside the live snapshot and published
 * with one store (doc/DESIGN.md, "Policy engine").
 *
 * Free of op25bctl's globals and printing, so the tests and the benchmark
 * build policies with the very code the controller uses. Errors come back
 * as negative errno values with a sentence in e->err.
 */
#ifndef OP25B_ENGINE_H
#define OP25B_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "op25b.h"

struct prefix {
	int family;		/* AF_INET or AF_INET6 */
	__u32 len;		/* prefix length */
	__u8 addr[16];		/* network order; IPv4 in the first 4 bytes */
};

/* The maps the engine works on, by file descriptor (pinned or skeleton). */
struct engine_fds {
	int policy;
	int roots;
	int nodes;
	int leaves;
	int rules;
	int hits;
	int engine;
	int index;
};

/* A growable list of __u32 pairs: blocks to free, rule ids to carry. */
struct u32_pairs {
	__u32 (*v)[2];
	size_t n;
	size_t cap;
};

/*
 * A large map is mapped a chunk at a time, when first touched: mapping a
 * BPF array maps every page at once, and a command that reads a path or
 * two of a million-prefix tree must not pay for all of it.
 */
struct window {
	char *base;			/* address space reserved for all of it */
	size_t len;
	size_t elem;			/* bytes per element as mmap lays them */
	__u8 *mapped;			/* a bit per chunk */
	int fd;
	int prot;
};

struct engine {
	struct engine_fds fd;
	struct op25b_policy *pol;
	struct op25b_root_ent *roots;
	struct op25b_engine *st;
	struct window nodes;		/* struct op25b_node */
	struct window leaves;		/* __u32, flat: leaf i */
	struct window rules;		/* struct op25b_rule */
	struct window index;		/* __u32, flat: slot i */
	struct window hits;		/* __u64: cpu * hits_stride + rule id */
	__u32 hits_max;
	__u32 nodes_max;
	__u32 leaves_max;
	__u32 rules_max;
	__u32 index_mask;
	size_t len[8];			/* mmap lengths, in engine_fds order */
	int ncpu;
	bool writable;
	bool recovered;			/* begin found a dead writer's mark */

	/* the transaction under way, between engine_begin and commit/abort */
	bool in_txn;
	bool touched;			/* it changed the engine's own state */
	__u32 gen;			/* the live generation it started from */
	struct op25b_snapshot draft;
	__u8 *node_own;			/* bitmaps: blocks made by this txn */
	__u8 *leaf_own;
	struct u32_pairs node_garbage;	/* (start, size) of replaced blocks */
	struct u32_pairs leaf_garbage;
	struct u32_pairs carry;		/* (new rid, 0): hits to carry to it */
	struct u32_pairs reused;	/* (rid, 0): recycled ids, hits to zero */
	struct u32_pairs dead;		/* (rid, 0): records to free */

	char err[256];
};

/*
 * Map the policy maps. writable: for engine_begin (the caller holds the
 * pin lock exclusively); readers map read-only under a shared lock.
 */
int engine_open(struct engine *e, const struct engine_fds *fds, bool writable);
void engine_close(struct engine *e);

/* Prefixes per table the maps were made for. */
__u32 engine_capacity(const struct engine *e);
/* The live snapshot (readers hold the lock, so it stays live). */
const struct op25b_snapshot *engine_live(const struct engine *e);

/* ---- writing: begin, changes, commit (or abort) ---- */

enum engine_change {
	ENGINE_UNCHANGED,
	ENGINE_ADDED,
	ENGINE_CHANGED,
	ENGINE_DELETED,
	ENGINE_ABSENT,
};

/*
 * Start a change from the live snapshot. A writer that died before leaves
 * its mark: the engine's own state is then rebuilt from the live snapshot
 * first (engine_recovered() tells).
 */
int engine_begin(struct engine *e);
bool engine_recovered(const struct engine *e);
int engine_set(struct engine *e, enum op25b_table t, const struct prefix *p,
	       enum op25b_verdict v, enum engine_change *ch);
int engine_del(struct engine *e, enum op25b_table t, const struct prefix *p,
	       enum engine_change *ch);
/* Every prefix of table t, both families. *n is how many went. */
int engine_flush(struct engine *e, enum op25b_table t, size_t *n);
/* The draft's action and blocked ports, to change before commit. */
struct op25b_config *engine_config(struct engine *e);
/* Prefixes the draft holds in table t (both families). */
__u32 engine_count(const struct engine *e, enum op25b_table t);
/* Publish the draft: one store. Nothing is published on error. */
int engine_commit(struct engine *e);
/* Forget the draft; the live snapshot never changed. */
void engine_abort(struct engine *e);

/* ---- reading the live snapshot ---- */

struct engine_rule {
	enum op25b_table table;
	struct prefix p;
	enum op25b_verdict verdict;
	__u32 rid;
	__u64 hits;		/* summed over CPUs, when asked for */
};

/*
 * The rules of the live snapshot, of table t (or every table when t is
 * OP25B_TABLE_FORCE_U32), in no particular order; *out is malloc'd. With
 * hits, their hit counters are read too.
 */
int engine_rules(struct engine *e, enum op25b_table t, bool hits,
		 struct engine_rule **out, size_t *n);

/*
 * What the datapath's lookup finds for addr (of family) in table t of the
 * live snapshot: the deciding rule, false when none covers it.
 */
bool engine_match(struct engine *e, enum op25b_table t, int family,
		  const __u8 *addr, struct engine_rule *r);

/*
 * What the datapath's decision (bpf/decide.h, the same code) says by the
 * live snapshot of a packet from src to dst aimed at a blocked port.
 */
enum op25b_said engine_judge(struct engine *e, int family, const __u8 *src,
			     const __u8 *dst);

/* Elements in the free lists: what a writer could reuse. */
void engine_free_counts(struct engine *e, __u32 *nodes, __u32 *leaves);

/*
 * Size the policy maps of an object not loaded yet for a capacity: what
 * op25bctl, the tests and the benchmark all make their maps with.
 */
struct bpf_object;
int engine_size_object(struct bpf_object *obj, __u32 capacity);
/* The policy maps of a loaded object (a skeleton's), by name. */
int engine_fds_of_object(struct bpf_object *obj, struct engine_fds *fds);

/* Bytes the maps take for a capacity (doc/DESIGN.md, "Sizing"). */
unsigned long long engine_footprint(__u32 capacity, int ncpu);

#endif /* OP25B_ENGINE_H */
