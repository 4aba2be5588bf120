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
	int idents;	/* exemptions by identity (hash); -1: none */
	int rootsync;	/* what writers know of spare root tables; -1: none */
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
	int populate;			/* MAP_POPULATE: read whole, not here and there */
};

struct engine {
	struct engine_fds fd;
	struct op25b_policy *pol;
	struct window roots;		/* struct op25b_root_ent */
	struct op25b_engine *st;
	struct op25b_rootsync *sync;	/* NULL: none, whole tables copied */
	struct window nodes;		/* struct op25b_node */
	struct window leaves;		/* __u32, flat: leaf i */
	struct window rules;		/* struct op25b_rule */
	struct window index;		/* __u32, flat: slot i */
	struct window hits;		/* __u64: cpu * hits_stride + rule id */
	__u32 root_bits;		/* the root tables' (op25b.h) */
	__u32 hits_max;
	__u32 hit_stripes;		/* rules' hits counted side by side */
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
	__u32 sync_n[OP25B_TREES];	/* root entries it wrote, by tree */
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

/*
 * Who a rule belongs to (doc/DESIGN.md, "Layers"): a layer, and in the
 * session layer the session's id. Each layer holds a prefix at most once;
 * two layers may hold the same one, and the trees then hold the winner's
 * leaf: the newest session's, else the file's (owner_outranks).
 */
struct owner {
	enum op25b_layer layer;
	__u32 id;
};
extern const struct owner owner_file;
bool owner_outranks(enum op25b_layer la, __u32 ia, enum op25b_layer lb,
		    __u32 ib);

/* The file layer's: apply's, and an operator's deny/allow/del. */
int engine_set(struct engine *e, enum op25b_table t, const struct prefix *p,
	       enum op25b_verdict v, enum engine_change *ch);
int engine_del(struct engine *e, enum op25b_table t, const struct prefix *p,
	       enum engine_change *ch);
/*
 * o's record of p in table t set to v (flags: enum op25b_rule_flags), or
 * removed. Other layers' records of p stay; the winner decides.
 */
int engine_set_owned(struct engine *e, enum op25b_table t,
		     const struct prefix *p, enum op25b_verdict v,
		     const struct owner *o, __u8 flags, enum engine_change *ch);
int engine_del_owned(struct engine *e, enum op25b_table t,
		     const struct prefix *p, const struct owner *o,
		     enum engine_change *ch);
/*
 * Does o hold p in table t in the change under way (before any change, the
 * live snapshot), and with which verdict? The exact-prefix index answers:
 * O(1), for writers only (it is theirs).
 */
bool engine_held(struct engine *e, enum op25b_table t, const struct prefix *p,
		 const struct owner *o, enum op25b_verdict *v);
/* Every prefix of table t, both families, every layer. *n is how many went. */
int engine_flush(struct engine *e, enum op25b_table t, size_t *n);
/* Every prefix of table t that layer (and, in the session layer, id) holds. */
int engine_flush_owned(struct engine *e, enum op25b_table t,
		       enum op25b_layer layer, __u32 id, size_t *n);
/* A new session's id, in the change under way: never handed out twice. */
__u32 engine_session_id(struct engine *e);
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
	enum op25b_layer layer;
	__u32 owner;		/* the session's id in the session layer */
	__u8 flags;		/* enum op25b_rule_flags */
	__u32 rid;
	__u64 hits;		/* summed over CPUs, when asked for */
};

/* A table's word (user/names.c, where every enumerated word is spelled). */
const char *table_name(__u32 t);

/* For engine_rules and engine_snapshot: the rules of every table. */
#define ENGINE_ALL_TABLES	((enum op25b_table)OP25B_TABLE_COUNT)

/*
 * The rules of the live snapshot, of table t (or every table when t is
 * ENGINE_ALL_TABLES), every layer, in no particular order; *out is
 * malloc'd. With hits, their hit counters are read too.
 */
int engine_rules(struct engine *e, enum op25b_table t, bool hits,
		 struct engine_rule **out, size_t *n);

/*
 * Readers take no lock (doc/DESIGN.md, "Readers"): they read from the
 * generation engine_read_begin returns, and engine_read_done tells
 * whether what they read was one snapshot's, whole; else they read again.
 */
__u32 engine_read_begin(const struct engine *e);
bool engine_read_done(const struct engine *e, __u32 gen);
/* engine_rules, and the snapshot's header (snap) from the same generation. */
int engine_snapshot(struct engine *e, enum op25b_table t, bool hits,
		    struct engine_rule **out, size_t *n,
		    struct op25b_snapshot *snap);

/*
 * What the datapath's lookup finds for addr (of family) in table t of the
 * live snapshot: the deciding rule, false when none covers it.
 */
bool engine_match(struct engine *e, enum op25b_table t, int family,
		  const __u8 *addr, struct engine_rule *r);

/* Add n to rule rid's hit count (CPU 0's): counts carried over a migration. */
void engine_hits_add(struct engine *e, __u32 rid, __u64 n);
/*
 * What the datapath's decision (bpf/decide.h, the same code) says by the
 * live snapshot of a packet from src to dst aimed at a blocked port.
 */
enum op25b_said engine_judge(struct engine *e, int family, const __u8 *src,
			     const __u8 *dst);

/*
 * ---- exemptions by identity (engine_ident.c; doc/DESIGN.md, "Who may
 * connect") ----
 *
 * A uid, gid or cgroup (enum op25b_ident_kind) whose connects pass: set
 * and removed in the change under way, published with it.
 */
struct engine_ident {
	__u32 kind;		/* enum op25b_ident_kind, maybe | PENDING */
	__u64 id;
	enum op25b_layer layer;
	__u32 owner;
	__u8 flags;		/* enum op25b_rule_flags */
	char name[OP25B_IDENT_NAME];	/* as given; "" for a number */
};

bool engine_has_idents(const struct engine *e);
/* o's record of (kind, id), its name and flags; *ch as engine_set's. */
int engine_ident_set(struct engine *e, __u32 kind, __u64 id,
		     const char *name, const struct owner *o, __u8 flags,
		     enum engine_change *ch);
int engine_ident_del(struct engine *e, __u32 kind, __u64 id,
		     enum engine_change *ch);
/* The records of the live snapshot, read lock-free; *out is malloc'd. */
int engine_idents(struct engine *e, struct engine_ident **out, size_t *n);
/* What generation live holds, and nothing more (begin, commit, abort). */
int engine_idents_settle(struct engine *e, __u32 live);

/* Elements in the free lists: what a writer could reuse. */
void engine_free_counts(struct engine *e, __u32 *nodes, __u32 *leaves);

/*
 * The pools (doc/DESIGN.md, "Recovery"): nodes, leaves, rule records and
 * index slots in use, of how many. engine_pools_used reads the writers'
 * books (-EAGAIN when a writer died and nobody reclaimed yet);
 * engine_pools_needed counts what the live snapshot reaches. After any
 * change, committed, refused, failed or killed and reclaimed, they agree.
 */
struct engine_pool {
	__u32 used;
	__u32 total;
};

struct engine_pools {
	struct engine_pool nodes, leaves, rules, index;
};

int engine_pools_used(struct engine *e, struct engine_pools *u);
int engine_pools_needed(struct engine *e, struct engine_pools *u);

/*
 * Size the policy maps of an object not loaded yet for a capacity: what
 * op25bctl, the tests and the benchmark all make their maps with.
 */
struct bpf_object;
int engine_size_object(struct bpf_object *obj, __u32 capacity);
/*
 * Whether the kernel runs BPF through a JIT (Debian's s390x kernels do
 * not): without one it refuses a program holding a callback, so every
 * loader sets the datapath's op25b_sweep_timer to this before loading.
 */
int engine_bpf_jit(void);
/* Bytes the kernel charges for the map behind fd (bytes_memlock); 0: no map. */
unsigned long long engine_map_memlock(int fd);
/* The policy maps of a loaded object (a skeleton's), by name. */
int engine_fds_of_object(struct bpf_object *obj, struct engine_fds *fds);

/* Bytes the maps take for a capacity (doc/DESIGN.md, "Sizing"). */
unsigned long long engine_footprint(__u32 capacity, int ncpu);

#endif /* OP25B_ENGINE_H */
