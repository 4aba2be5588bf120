// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The policy engine's maps: sized when they are made, opened and checked,
 * and mapped, the large ones a chunk at a time when first touched
 * (doc/DESIGN.md, "Policy engine": "Sizing").
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "engine_int.h"

/*
 * Whether the kernel JITs BPF programs: a two-instruction program loaded
 * and asked. (net.core.bpf_jit_enable says it too, but only in the first
 * network namespace: op25bctl -n would read none and believe no JIT.)
 */
int engine_bpf_jit(void)
{
	static int jit = -1;
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = 2 /* XDP_PASS */ },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd;

	if (jit >= 0)
		return jit;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "op25b_jit", "GPL", insns, 2,
			   NULL);
	if (fd < 0)
		return 1;	/* cannot tell: as nearly every kernel has */
	jit = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	      info.jited_prog_len > 0;
	close(fd);
	return jit;
}

int engine_size_object(struct bpf_object *obj, __u32 cap)
{
	static const char *const names[] = { "op25b_nodes", "op25b_leaves",
		"op25b_rules", "op25b_hits", "op25b_index", "op25b_roots" };
	int ncpu = libbpf_num_possible_cpus();
	__u32 n[6];
	size_t i;

	if (ncpu <= 0)
		return -EINVAL;
	n[0] = OP25B_NODES_FOR(cap);
	n[1] = OP25B_LEAF_ELEMS_FOR(cap);
	n[2] = OP25B_RULES_FOR(cap);
	n[3] = OP25B_RULES_FOR(cap) * (ncpu < OP25B_HIT_STRIPES_MAX ?
				       (__u32)ncpu : OP25B_HIT_STRIPES_MAX);
	n[4] = op25b_index_lines_for(cap);
	n[5] = OP25B_ROOT_TABLES << op25b_root_bits_for(cap);
	for (i = 0; i < 6; i++) {
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
	/* the identities: an object without them has none */
	{
		struct bpf_map *m = bpf_object__find_map_by_name(obj,
								"op25b_idents");

		fds->idents = m ? bpf_map__fd(m) : -1;
		m = bpf_object__find_map_by_name(obj, "op25b_rootsync");
		fds->rootsync = m ? bpf_map__fd(m) : -1;
	}
	return 0;
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
	/* by the maps' order in engine_fds; elem 0: mapped whole instead */
	static const struct {
		size_t win;
		size_t elem;
	} w[8] = {
		[1] = { offsetof(struct engine, roots), sizeof(struct op25b_root_ent) },
		[2] = { offsetof(struct engine, nodes), sizeof(struct op25b_node) },
		[3] = { offsetof(struct engine, leaves), sizeof(__u32) },
		[4] = { offsetof(struct engine, rules), sizeof(struct op25b_rule) },
		[5] = { offsetof(struct engine, hits), sizeof(__u64) },
		[7] = { offsetof(struct engine, index), sizeof(__u32) },
	};

	if (i < 0 || i >= 8 || !w[i].elem)
		return NULL;
	*elem = w[i].elem;
	return (struct window *)((char *)e + w[i].win);
}

/* An mmap of map name failed: what was mapped, unmapped, and why said. */
static int map_failed(struct engine *e, const char *name)
{
	int err = errno;	/* before munmap and free may change it */

	engine_unmap(e);
	return engine_fail(e, -err, "cannot map '%s': %s", name, strerror(err));
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
		return engine_fail(e, -EINVAL, "cannot count the possible CPUs");
	for (i = 0; i < 8; i++) {
		int fd = *fd_slot(&e->fd, i);
		struct window *w;
		size_t len, elem;

		if (map_info(fd, &info))
			return engine_fail(e, -errno, "cannot inspect map '%s': %s",
					   map_names[i], strerror(errno));
		if (info.value_size != map_value_size[i])
			return engine_fail(e, -EINVAL,
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
			/* a root table may be copied whole (root_own) */
			w->populate = i == 1 ? MAP_POPULATE : 0;
			if (win_open(w, fd, len, elem, prot)) {
				engine_unmap(e);
				return engine_fail(e, -ENOMEM, "cannot reserve room to map '%s'",
						   map_names[i]);
			}
		} else {
			p[i] = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
			if (p[i] == MAP_FAILED)
				return map_failed(e, map_names[i]);
			e->len[i] = len;
		}
		switch (i) {
		case 0:
			e->pol = p[0];
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
		if (i == 1) {
			e->root_bits = op25b_root_bits_of_size(info.max_entries);
			if (!e->root_bits) {
				engine_unmap(e);
				return engine_fail(e, -EINVAL, "map 'roots' has %u entries, not %u root tables of 2^%u-2^%u",
						   info.max_entries,
						   OP25B_ROOT_TABLES,
						   OP25B_ROOT_BITS_MIN,
						   OP25B_ROOT_BITS_MAX);
			}
		}
		if (i == 7 && (e->index_mask & (e->index_mask + 1))) {
			engine_unmap(e);
			return engine_fail(e, -EINVAL,
					   "map 'index' is not a power of two");
		}
	}
	e->hit_stripes = e->rules_max ? e->hits_max / e->rules_max : 0;
	if (!e->hit_stripes) {
		engine_unmap(e);
		return engine_fail(e, -EINVAL,
				   "map 'hits' has %u counters, fewer than the %u rules",
				   e->hits_max, e->rules_max);
	}
	if (writable && e->fd.rootsync >= 0) {
		if (map_info(e->fd.rootsync, &info) ||
		    info.value_size != sizeof(struct op25b_rootsync) ||
		    info.max_entries != OP25B_ROOT_TABLES) {
			engine_unmap(e);
			return engine_fail(e, -EINVAL, "map '%s' is not %u root tables' records",
					   OP25B_PIN_ROOTSYNC, OP25B_ROOT_TABLES);
		}
		e->sync = mmap(NULL, sizeof(*e->sync) * OP25B_ROOT_TABLES,
			       prot, MAP_SHARED, e->fd.rootsync, 0);
		if (e->sync == MAP_FAILED) {
			e->sync = NULL;
			return map_failed(e, OP25B_PIN_ROOTSYNC);
		}
	}
	if (e->st->layout && e->st->layout != OP25B_LAYOUT) {
		__u32 l = e->st->layout;

		engine_unmap(e);
		return engine_fail(e, -EPROTO, "the maps are of layout %u, this op25bctl reads layout %u",
				   l, OP25B_LAYOUT);
	}
	return 0;
}

/* What engine_open mapped, unmapped (engine_close: a change under way first). */
void engine_unmap(struct engine *e)
{
	void *p[2] = { e->pol, e->st };
	size_t len[2] = { e->len[0], e->len[6] };
	int i;

	for (i = 0; i < 2; i++)
		if (p[i] && len[i])
			munmap(p[i], len[i]);
	if (e->sync)
		munmap(e->sync, sizeof(*e->sync) * OP25B_ROOT_TABLES);
	e->sync = NULL;
	win_close(&e->roots);
	win_close(&e->nodes);
	win_close(&e->leaves);
	win_close(&e->rules);
	win_close(&e->index);
	win_close(&e->hits);
	e->pol = NULL;
	e->st = NULL;
}

__u32 engine_capacity(const struct engine *e)
{
	return (e->rules_max - 1) / 4;
}

unsigned long long engine_footprint(__u32 cap, int ncpu)
{
	unsigned long long b = 0;

	b += sizeof(struct op25b_policy);
	b += ((unsigned long long)OP25B_ROOT_TABLES << op25b_root_bits_for(cap)) *
	     sizeof(struct op25b_root_ent);
	b += (unsigned long long)OP25B_NODES_FOR(cap) * sizeof(struct op25b_node);
	b += (unsigned long long)OP25B_LEAF_ELEMS_FOR(cap) *
	     sizeof(struct op25b_leaves);
	b += (unsigned long long)OP25B_RULES_FOR(cap) * sizeof(struct op25b_rule);
	b += (unsigned long long)OP25B_RULES_FOR(cap) * sizeof(__u64) * ncpu;
	b += (unsigned long long)op25b_index_lines_for(cap) *
	     sizeof(struct op25b_index_line);
	b += OP25B_ROOT_TABLES * sizeof(struct op25b_rootsync);
	return b;
}

/* Bytes the kernel charges for the map behind fd (fdinfo's memlock). */
unsigned long long engine_map_memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	bool map = false;
	unsigned int t;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "map_type: %u", &t) == 1)
			map = true;
		sscanf(line, "memlock: %llu", &v);
	}
	fclose(f);
	return map ? v : 0;
}

int engine_fail(struct engine *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	return err < 0 ? err : -err;
}

const struct op25b_snapshot *engine_live(const struct engine *e)
{
	__u32 g = __atomic_load_n(&e->pol->live, __ATOMIC_ACQUIRE);

	return &e->pol->snap[g & 1];
}

/* A growable list of pairs: blocks to free, rule ids to carry. */
int pairs_add(struct engine *e, struct u32_pairs *l, __u32 a, __u32 b)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		void *v = realloc(l->v, cap * sizeof(*l->v));

		if (!v)
			return engine_fail(e, -ENOMEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n][0] = a;
	l->v[l->n][1] = b;
	l->n++;
	return 0;
}
