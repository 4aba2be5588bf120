// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What lives in the pin directory (pindir.c makes it and locks it): the
 * pinned maps, opened, made, checked and sized, and the datapath loaded
 * against them.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"
#include "op25b.skel.h"
#include "skel_sizes.h"

#define BPFFS_ROOT	"/sys/fs/bpf"
#define LIBBPF_PREFIX	"libbpf: "

/*
 * The maps shared by every loaded instance, in one order: pin name, slot in
 * struct op25b_maps, and what this build's ABI expects of them. Sizes that
 * follow the capacity are checked against each other in engine_open.
 */
static const struct pinned_map {
	const char *name;
	const char *obj_name;	/* the map's name in bpf/op25b.bpf.c */
	size_t slot;
	__u32 type;
	__u32 key_size;
	__u32 value_size;
	bool mmapable;
} pinned_maps[] = {
	{ OP25B_PIN_POLICY, ".data.policy",
	  offsetof(struct op25b_maps, pol.policy),
	  BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct op25b_policy), true },
	{ OP25B_PIN_ROOTS, "op25b_roots",
	  offsetof(struct op25b_maps, pol.roots),
	  BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct op25b_root_ent), true },
	{ OP25B_PIN_NODES, "op25b_nodes",
	  offsetof(struct op25b_maps, pol.nodes),
	  BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct op25b_node), true },
	{ OP25B_PIN_LEAVES, "op25b_leaves",
	  offsetof(struct op25b_maps, pol.leaves),
	  BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct op25b_leaves), true },
	{ OP25B_PIN_RULES, "op25b_rules",
	  offsetof(struct op25b_maps, pol.rules),
	  BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct op25b_rule), true },
	{ OP25B_PIN_HITS, "op25b_hits",
	  offsetof(struct op25b_maps, pol.hits),
	  BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(__u64), true },
	{ OP25B_PIN_ENGINE, "op25b_engine",
	  offsetof(struct op25b_maps, pol.engine),
	  BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct op25b_engine), true },
	{ OP25B_PIN_INDEX, "op25b_index",
	  offsetof(struct op25b_maps, pol.index),
	  BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct op25b_index_line), true },
	{ OP25B_PIN_STATS, "op25b_stats",
	  offsetof(struct op25b_maps, stats),
	  BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(struct op25b_stats), false },
	{ OP25B_PIN_ATTACH, "op25b_attach",
	  offsetof(struct op25b_maps, attach),
	  BPF_MAP_TYPE_HASH, sizeof(struct op25b_attach_key),
	  sizeof(struct op25b_attach_val), false },
	{ OP25B_PIN_OFFENDERS, "op25b_offenders",
	  offsetof(struct op25b_maps, offenders),
	  BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
	  sizeof(struct op25b_offender), false },
	{ OP25B_PIN_LIMITER, "op25b_limiter",
	  offsetof(struct op25b_maps, limiter),
	  BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct op25b_limiter), true },
	{ OP25B_PIN_SWEEPER, "op25b_sweeper",
	  offsetof(struct op25b_maps, sweeper),
	  BPF_MAP_TYPE_ARRAY, sizeof(__u32), OP25B_SWEEP_SIZE, false },
	{ OP25B_PIN_SESSIONS, "op25b_sessions",
	  offsetof(struct op25b_maps, sessions),
	  BPF_MAP_TYPE_HASH, sizeof(struct op25b_session_key),
	  sizeof(struct op25b_session), false },
	{ OP25B_PIN_EVENTS, "op25b_events",
	  offsetof(struct op25b_maps, events),
	  BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct op25b_event), true },
	{ OP25B_PIN_IFSTATS, "op25b_ifstats",
	  offsetof(struct op25b_maps, ifstats),
	  BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
	  sizeof(struct op25b_ifstats), false },
	{ OP25B_PIN_SESSIONS_ENDED, "op25b_sessions_ended",
	  offsetof(struct op25b_maps, sessions_ended),
	  BPF_MAP_TYPE_HASH, sizeof(__u32),
	  sizeof(struct op25b_session_ended), false },
	/* the socket hooks' (bpf/cgroup.h) */
	{ OP25B_PIN_IDENTS, "op25b_idents",
	  offsetof(struct op25b_maps, pol.idents),
	  BPF_MAP_TYPE_HASH, sizeof(struct op25b_ident_key),
	  sizeof(struct op25b_ident), false },
	{ OP25B_PIN_CGROUPS, "op25b_cgroups",
	  offsetof(struct op25b_maps, cgroups),
	  BPF_MAP_TYPE_HASH, sizeof(struct op25b_cgroup_key),
	  sizeof(struct op25b_cgroup_att), false },
	{ OP25B_PIN_SOCKEVENTS, "op25b_sockev",
	  offsetof(struct op25b_maps, sockev),
	  BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct op25b_sock_event),
	  true },
	{ OP25B_PIN_CULPRITS, "op25b_culprits",
	  offsetof(struct op25b_maps, culprits),
	  BPF_MAP_TYPE_LRU_HASH, sizeof(struct op25b_ident_key),
	  sizeof(struct op25b_culprit), false },
	{ OP25B_PIN_ROOTSYNC, "op25b_rootsync",
	  offsetof(struct op25b_maps, pol.rootsync),
	  BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct op25b_rootsync),
	  true },
};
#define N_PINNED (sizeof(pinned_maps) / sizeof(pinned_maps[0]))

/*
 * Maps added after their layout's pin dirs were first made: such a pin
 * dir lacks them. The next load makes and pins them (programs loaded
 * before go on without); until then their slot in op25b_maps is -1.
 */
static const char *const pins_optional[] = {
	OP25B_PIN_IFSTATS, OP25B_PIN_SESSIONS_ENDED,
	/* the socket hooks' (bpf/cgroup.h): made by the next load as well */
	OP25B_PIN_IDENTS, OP25B_PIN_CGROUPS, OP25B_PIN_SOCKEVENTS,
	OP25B_PIN_CULPRITS,
	/* the writers' (op25b.h): without it, whole root tables are copied */
	OP25B_PIN_ROOTSYNC,
};

static bool pin_optional(size_t i)
{
	size_t k;

	for (k = 0; k < sizeof(pins_optional) / sizeof(pins_optional[0]); k++)
		if (!strcmp(pinned_maps[i].name, pins_optional[k]))
			return true;
	return false;
}

/* The skeleton's maps in pinned_maps[] order, found by name. */
static int skel_shared_maps(struct op25b_bpf *skel,
			    struct bpf_map *out[N_PINNED])
{
	size_t i;

	for (i = 0; i < N_PINNED; i++) {
		out[i] = bpf_object__find_map_by_name(skel->obj,
						      pinned_maps[i].obj_name);
		if (!out[i]) {
			p_err("the embedded object has no map '%s'",
			      pinned_maps[i].obj_name);
			return EXIT_RUNTIME;
		}
	}
	return EXIT_OK;
}

static int *map_slot(struct op25b_maps *m, size_t i)
{
	return (int *)((char *)m + pinned_maps[i].slot);
}

static void pin_path(char *buf, size_t len, size_t i)
{
	snprintf(buf, len, "%s/%s", g.pin_dir, pinned_maps[i].name);
}

/* ---- libbpf messages ---- */

/*
 * Without -v libbpf stays silent, but its first warning is kept: when a
 * load fails it usually names the cause, and goes into the one error line.
 * The memlock warning is noise on kernels that account BPF memory by cgroup.
 */
#define LIBBPF_NOISE	"Failed to bump RLIMIT_MEMLOCK"
static char libbpf_reason[256];

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	char buf[sizeof(libbpf_reason)], *msg = buf;
	size_t n;

	if (g.verbose)
		return vfprintf(stderr, fmt, ap);
	if (level != LIBBPF_WARN || libbpf_reason[0])
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (!strncmp(msg, LIBBPF_PREFIX, strlen(LIBBPF_PREFIX)))
		msg += strlen(LIBBPF_PREFIX);
	if (!strncmp(msg, LIBBPF_NOISE, strlen(LIBBPF_NOISE)))
		return 0;
	n = strcspn(msg, "\n");
	msg[n] = '\0';
	snprintf(libbpf_reason, sizeof(libbpf_reason), "%s", msg);
	return 0;
}

void libbpf_setup(void)
{
	libbpf_set_print(libbpf_print);
}

/* ---- loading ---- */

static void report_mismatch(const char *path)
{
	p_err("pinned map '%s' does not match this op25b version (detach --all and remove %s)",
	      path, g.pin_dir);
}

static void report_missing(const char *name)
{
	p_err("pinned map '%s/%s' is missing (detach --all and remove %s)",
	      g.pin_dir, name, g.pin_dir);
}

enum pin_state {
	PIN_ABSENT,
	PIN_OK,
	PIN_MISMATCH,
};

/* libbpf's own reuse check, done first so that the error names the map. */
static enum pin_state pin_state(const struct bpf_map *map, const char *path)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	bool ok;
	int fd;

	fd = bpf_obj_get(path);
	if (fd < 0)
		return PIN_ABSENT;
	ok = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	     info.type == bpf_map__type(map) &&
	     info.key_size == bpf_map__key_size(map) &&
	     info.value_size == bpf_map__value_size(map) &&
	     info.max_entries == bpf_map__max_entries(map) &&
	     info.map_flags == bpf_map__map_flags(map) &&
	     info.map_extra == bpf_map__map_extra(map);
	close(fd);
	return ok ? PIN_OK : PIN_MISMATCH;
}

bool pinned_map_info(const char *path, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);
	int fd = bpf_obj_get(path);
	bool ok;

	memset(info, 0, sizeof(*info));
	if (fd < 0)
		return false;
	ok = !bpf_obj_get_info_by_fd(fd, info, &len);
	if (!ok)
		memset(info, 0, sizeof(*info));
	close(fd);
	return ok;
}

/* The size of the map pinned at path; 0 when there is none. */
static __u32 pinned_entries(const char *path)
{
	struct bpf_map_info info;

	pinned_map_info(path, &info);
	return info.max_entries;
}

static int pin_memory_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pin_memory *)a)->name,
		      ((const struct pin_memory *)b)->name);
}

size_t pins_memory(struct pin_memory *out, size_t max)
{
	char path[PATH_MAX];
	struct dirent *d;
	size_t n = 0;
	DIR *dir;
	int fd;

	/* every map pinned here: the table's, and what other rooms pin */
	dir = opendir(g.pin_dir);
	while (dir && n < max && (d = readdir(dir))) {
		if (d->d_name[0] == '.' ||
		    strlen(d->d_name) >= sizeof(out[n].name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", g.pin_dir, d->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		out[n].bytes = engine_map_memlock(fd);
		close(fd);
		if (!out[n].bytes)
			continue;
		snprintf(out[n].name, sizeof(out[n].name), "%s", d->d_name);
		n++;
	}
	if (dir)
		closedir(dir);
	qsort(out, n, sizeof(*out), pin_memory_cmp);
	return n;
}

/* The capacity the maps were made with; 0 when they are not pinned. */
static __u32 pinned_capacity(void)
{
	char path[PATH_MAX];
	__u32 n;

	snprintf(path, sizeof(path), "%s/%s", g.pin_dir, OP25B_PIN_RULES);
	n = pinned_entries(path);
	return n ? (n - 1) / 4 : 0;
}

/* The event log: a region for every CPU there may be (op25b.h). */
static __u32 evlog_entries(void)
{
	int ncpu = libbpf_num_possible_cpus();

	return OP25B_EVLOG_REGION * (ncpu > 0 ? ncpu : 1);
}

__u64 netns_ino_now(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : st.st_ino;
}

/* A size option that must match what is pinned, when something is. */
static int size_opt_check(const char *opt, __u32 want, __u32 pinned)
{
	if (!want || !pinned || want == pinned)
		return EXIT_OK;
	p_err("the maps under %s were made with %s %u; %s %u applies only when they are made",
	      g.pin_dir, opt, pinned, opt, want);
	return EXIT_USAGE;
}

static __u32 pinned_named(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", g.pin_dir, name);
	return pinned_entries(path);
}

/*
 * --capacity, --offenders and --limiter say how maps are made: given for
 * maps already made with other sizes, they are bad usage.
 */
static int size_opts_check(void)
{
	int ncpu = libbpf_num_possible_cpus();
	__u32 cap = pinned_capacity();

	if (cap && g.capacity && cap != g.capacity) {
		p_err("the maps under %s hold %u prefixes per table; --capacity %u applies only when they are made",
		      g.pin_dir, cap, g.capacity);
		return EXIT_USAGE;
	}
	if (size_opt_check("--limiter", g.limiter,
			   pinned_named(OP25B_PIN_LIMITER)))
		return EXIT_USAGE;
	return size_opt_check("--offenders", g.offenders,
			      pinned_named(OP25B_PIN_OFFENDERS) *
			      (ncpu > 0 ? (__u32)ncpu : 1));
}

/*
 * Size the maps (doc/DESIGN.md, "Sizing"): new ones from --capacity,
 * --offenders and --limiter; pinned ones as they were made, whatever
 * this build's defaults for their capacity are now. Then tell the
 * datapath the sizes it hashes and indexes onto.
 */
static int skel_set_sizes(struct op25b_bpf *skel, struct bpf_map **maps)
{
	__u32 cap = pinned_capacity(), ncpu, off, n;
	int ncpus = libbpf_num_possible_cpus();
	char path[PATH_MAX];
	size_t i;

	if (size_opts_check())
		return EXIT_USAGE;
	if (!cap)
		cap = g.capacity ? g.capacity : OP25B_CAPACITY_DEFAULT;
	ncpu = ncpus > 0 ? (__u32)ncpus : 1;
	off = g.offenders ? g.offenders : op25b_offenders_for(cap);
	if (engine_size_object(skel->obj, cap) ||
	    bpf_map__set_max_entries(skel->maps.op25b_limiter,
				     g.limiter ? g.limiter :
						 op25b_limiter_for(cap)) ||
	    bpf_map__set_max_entries(skel->maps.op25b_offenders,
				     op25b_offenders_per_cpu(off, ncpu)) ||
	    bpf_map__set_max_entries(skel->maps.op25b_sessions, cap) ||
	    bpf_map__set_max_entries(skel->maps.op25b_culprits,
				     op25b_culprits_for(cap)) ||
	    bpf_map__set_max_entries(skel->maps.op25b_events,
				     evlog_entries()) ||
	    bpf_map__set_max_entries(skel->maps.op25b_sockev,
				     evlog_entries()) ||
	    bpf_map__set_max_entries(skel->maps.op25b_attach,
				     cap > OP25B_ATTACH_MAX ? cap : OP25B_ATTACH_MAX)) {
		p_err("cannot size the policy maps for %u prefixes", cap);
		return EXIT_RUNTIME;
	}
	for (i = 0; i < N_PINNED; i++) {
		pin_path(path, sizeof(path), i);
		n = pinned_entries(path);
		if (n && bpf_map__set_max_entries(maps[i], n)) {
			p_err("cannot size map '%s' as pinned",
			      pinned_maps[i].name);
			return EXIT_RUNTIME;
		}
	}
	/* every instance hashes and indexes onto the sizes the maps have */
	skel_tell_sizes(skel);
	return EXIT_OK;
}

/* migrate: maps carried over from an older layout, the rest to make. */
static bool pins_carried;

/*
 * All pinned or none: programs attached earlier keep using the maps they
 * were loaded with, so re-creating one would split the state in two.
 */
static int skel_set_pins(struct op25b_bpf *skel)
{
	struct bpf_map *maps[N_PINNED];
	char path[PATH_MAX];
	const char *missing = NULL;
	size_t i, pinned = 0;
	int err;

	err = skel_shared_maps(skel, maps);
	if (!err)
		err = skel_set_sizes(skel, maps);
	if (err)
		return err;
	for (i = 0; i < N_PINNED; i++) {
		pin_path(path, sizeof(path), i);
		err = bpf_map__set_pin_path(maps[i], path);
		if (err) {
			p_err("cannot set pin path '%s': %s", path,
			      errstr(err));
			return EXIT_RUNTIME;
		}
		switch (pin_state(maps[i], path)) {
		case PIN_MISMATCH:
			report_mismatch(path);
			return EXIT_RUNTIME;
		case PIN_OK:
			pinned++;
			break;
		case PIN_ABSENT:
			if (!pin_optional(i))
				missing = pinned_maps[i].name;
			break;
		}
	}
	if (pinned && missing && !pins_carried) {
		report_missing(missing);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

static void report_load_failure(int err)
{

	if (libbpf_reason[0])
		p_err("cannot load op25b: %s (%s)", errstr(err),
		      libbpf_reason);
	else
		p_err("cannot load op25b: %s", errstr(err));
}

/*
 * The chain program array (bpf/chain.h) is pinned beside the others but
 * not among them: made by the first load that misses it, so a pin dir of
 * a release without it gains it with no other change.
 */
static int skel_set_chain_pin(struct op25b_bpf *skel)
{
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "%s/%s", g.pin_dir, OP25B_PIN_CHAIN);
	err = bpf_map__set_pin_path(skel->maps.op25b_chain, path);
	if (err)
		p_err("cannot set pin path '%s': %s", path, errstr(err));
	return err ? EXIT_RUNTIME : EXIT_OK;
}

/*
 * The packet hooks' programs (an XDP one chaining the program in
 * chain_slot, when not 0), or the socket hooks' alone: an instance is
 * loaded for one kind of attachment, and verifies only what it attaches.
 */
static int bpf_load_progs(struct op25b_bpf **out, bool l3, bool egress,
			  bool sock, __u32 chain_slot);

int bpf_load(struct op25b_bpf **out, bool l3, bool egress)
{
	return bpf_load_progs(out, l3, egress, false, 0);
}

int bpf_load_chained(struct op25b_bpf **out, bool l3, bool egress,
		     __u32 chain_slot)
{
	return bpf_load_progs(out, l3, egress, false, chain_slot);
}

int bpf_load_sock(struct op25b_bpf **out)
{
	return bpf_load_progs(out, false, false, true, 0);
}

/*
 * The embedded object, opened, made ready for one kind of attachment, the
 * pinned maps to be reused: loaded here (bpf_load_progs), or by libxdp as
 * an extension of its dispatcher (bpf_prepare_xdp, dispatcher.c: its own
 * build of the object, in the same skeleton's shape).
 */
static int skel_prepare(struct op25b_bpf *skel, bool l3, bool egress,
			bool sock, __u32 chain_slot)
{
	int rc;

	libbpf_reason[0] = '\0';
	/* a chained attachment's XDP program is the one with the tail call */
	bpf_program__set_autoload(skel->progs.op25b_xdp, !sock && !chain_slot);
	bpf_program__set_autoload(skel->progs.op25b_xdp_ch,
				  !sock && chain_slot);
	bpf_program__set_autoload(skel->progs.op25b_tc, !sock);
	bpf_program__set_autoload(skel->progs.op25b_connect4, sock);
	bpf_program__set_autoload(skel->progs.op25b_connect6, sock);
	skel->rodata->op25b_l3 = l3;
	skel->rodata->op25b_egress = egress;
	skel->rodata->op25b_netns_ino = netns_ino_now();
	skel->rodata->op25b_sweep_timer = engine_bpf_jit();
	skel->rodata->op25b_chain_slot = chain_slot;
	rc = skel_set_pins(skel);
	if (!rc)
		rc = skel_set_chain_pin(skel);
	return rc;
}

static int bpf_open_progs(struct op25b_bpf **out, bool l3, bool egress,
			  bool sock, __u32 chain_slot)
{
	struct op25b_bpf *skel;
	int rc;

	*out = NULL;
	skel = op25b_bpf__open();
	if (!skel) {
		p_err("cannot open the embedded op25b object: %s",
		      errstr(-errno));
		return EXIT_RUNTIME;
	}
	rc = skel_prepare(skel, l3, egress, sock, chain_slot);
	if (rc) {
		op25b_bpf__destroy(skel);
		return rc;
	}
	*out = skel;
	return EXIT_OK;
}

/* The XDP program alone, of an opened skeleton, for libxdp to load. */
int bpf_prepare_xdp(struct op25b_bpf *skel, bool l3)
{
	int rc = skel_prepare(skel, l3, false, false, 0);

	bpf_program__set_autoload(skel->progs.op25b_tc, false);
	return rc;
}

static int bpf_load_progs(struct op25b_bpf **out, bool l3, bool egress,
			  bool sock, __u32 chain_slot)
{
	int rc = bpf_open_progs(out, l3, egress, sock, chain_slot), err;

	if (rc)
		return rc;
	err = op25b_bpf__load(*out);
	if (err) {
		report_load_failure(err);
		op25b_bpf__destroy(*out);
		*out = NULL;
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/* ---- opening the pinned maps ---- */

/*
 * Open every pin into m. Returns how many were found (*missing names one
 * that was not), or -1 after printing an error other than "not pinned".
 */
static int pins_get(struct op25b_maps *m, const char **missing)
{
	char path[PATH_MAX];
	int found = 0, fd;
	size_t i;

	*missing = NULL;
	for (i = 0; i < N_PINNED; i++)
		*map_slot(m, i) = -1;
	for (i = 0; i < N_PINNED; i++) {
		pin_path(path, sizeof(path), i);
		fd = bpf_obj_get(path);
		if (fd < 0 && errno != ENOENT) {
			p_err("cannot open pinned map '%s': %s", path,
			      strerror(errno));
			return -1;
		}
		if (fd >= 0)
			found++;
		else if (!pin_optional(i))
			*missing = pinned_maps[i].name;
		*map_slot(m, i) = fd;
	}
	return found;
}

/*
 * Guards every later access against a map of the wrong kind: type, key and
 * value sizes, and the mmap flag the engine writes through.
 */
static int pins_check(struct op25b_maps *m)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < N_PINNED; i++) {
		const struct pinned_map *pm = &pinned_maps[i];
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		if (pin_optional(i) && *map_slot(m, i) < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(*map_slot(m, i), &info, &len) &&
		    info.type == pm->type && info.key_size == pm->key_size &&
		    info.value_size == pm->value_size &&
		    !!(info.map_flags & BPF_F_MMAPABLE) == pm->mmapable)
			continue;
		pin_path(path, sizeof(path), i);
		report_mismatch(path);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

static int pins_create(void);

int pins_create_beside(void)
{
	int rc;

	pins_carried = true;
	rc = pins_create();
	pins_carried = false;
	return rc;
}

/* Load once so that every map gets created and pinned, then let go. */
static int pins_create(void)
{
	struct op25b_bpf *skel;
	int rc;

	rc = pin_dir_lock(true);
	if (!rc)
		rc = bpf_load(&skel, false, false);
	if (rc)
		return rc;
	op25b_bpf__destroy(skel);
	p_debug("created the op25b maps under %s", g.pin_dir);
	return EXIT_OK;
}

/* The layout word of the engine map pinned under dir; 0 when there is none. */
__u32 layout_of(const char *dir)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0, layout = 0;
	char path[PATH_MAX + 16];
	void *v;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, OP25B_PIN_ENGINE);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.value_size >= 4 &&
	    (v = calloc(1, info.value_size))) {
		if (!bpf_map_lookup_elem(fd, &zero, v))
			memcpy(&layout, v, 4);
		free(v);
	}
	close(fd);
	return layout;
}

/* op25b 1 pinned four LPM tries and a config map: layout 1. */
static bool legacy_layout(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/subscriber4", g.pin_dir);
	if (!access(path, F_OK))
		return true;
	snprintf(path, sizeof(path), "%s/config", g.pin_dir);
	return !access(path, F_OK);
}

/*
 * op25b before action limit pinned a policy but no limiter: layout 2,
 * whose policy and counters are laid out otherwise.
 */
static bool layout2(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", g.pin_dir, OP25B_PIN_LIMITER);
	if (!access(path, F_OK))
		return false;
	snprintf(path, sizeof(path), "%s/%s", g.pin_dir, OP25B_PIN_POLICY);
	if (access(path, F_OK))
		return false;
	snprintf(path, sizeof(path), "%s/%s", g.pin_dir, OP25B_PIN_EVENTS);
	return !access(path, F_OK);
}

/*
 * Some pins but not all: a first run killed while making them, if nothing
 * was ever published and nothing is attached. Anything else is an
 * operator's policy, and is not thrown away.
 */
static bool pins_half_made(struct op25b_maps *m)
{
	struct op25b_attach_key k;
	struct op25b_policy pol;
	__u32 zero = 0;

	if (m->pol.policy >= 0 &&
	    (bpf_map_lookup_elem(m->pol.policy, &zero, &pol) || pol.live))
		return false;
	if (m->attach >= 0 && !bpf_map_get_next_key(m->attach, NULL, &k))
		return false;
	return true;
}

static int pins_remove_all(void)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < N_PINNED; i++) {
		pin_path(path, sizeof(path), i);
		if (unlink(path) && errno != ENOENT) {
			p_err("cannot remove '%s': %s", path, strerror(errno));
			return EXIT_RUNTIME;
		}
	}
	return EXIT_OK;
}

int maps_open(struct op25b_maps *m, bool create)
{
	const char *missing;
	int found, rc;

	if (legacy_layout()) {
		p_err("pin dir '%s' holds maps of an older op25b (layout 1, LPM tables), which this op25bctl neither reads nor changes: save the policy with that op25bctl, 'detach --all', remove %s, then apply it with this one",
		      g.pin_dir, g.pin_dir);
		return EXIT_RUNTIME;
	}

	if (layout2()) {
		p_err("pin dir '%s' holds maps of an older op25b (layout 2, before action limit), which this op25bctl neither reads nor changes: save the policy with that op25bctl, 'detach --all', remove %s, then apply it with this one",
		      g.pin_dir, g.pin_dir);
		return EXIT_RUNTIME;
	}
	if (layout_of(g.pin_dir) == 3) {
		p_err("pin dir '%s' holds the maps of op25b 0.2 (layout 3): run 'op25bctl migrate' to make them this op25bctl's with no gap in enforcement (the package does it on upgrade)",
		      g.pin_dir);
		return EXIT_RUNTIME;
	}
	found = pins_get(m, &missing);
	if (!found && create) {
		maps_close(m);
		rc = pins_create();
		if (rc)
			return rc;
		found = pins_get(m, &missing);
	}
	if (!found && !create) {
		rc = pin_dir_check();
		if (rc)
			return rc;
	}
	if (found <= 0) {
		if (!found)
			p_err("op25b is not set up under %s (no pinned maps; run 'op25bctl attach IFACE' or add a rule)",
			      g.pin_dir);
		maps_close(m);
		return EXIT_RUNTIME;
	}
	if (missing && create && pins_half_made(m)) {
		/* a first run died making them: make them again */
		maps_close(m);
		rc = pins_remove_all();
		if (!rc)
			rc = pins_create();
		if (rc)
			return rc;
		found = pins_get(m, &missing);
		p_info("the set-up under %s had been interrupted; it is complete now",
		       g.pin_dir);
	}
	if (missing && pins_half_made(m)) {
		p_err("op25b's set-up under %s was interrupted before it held any policy; the next change (deny, allow, apply) completes it",
		      g.pin_dir);
		maps_close(m);
		return EXIT_RUNTIME;
	}
	if (missing) {
		report_missing(missing);
		maps_close(m);
		return EXIT_RUNTIME;
	}
	rc = pins_check(m);
	if (!rc)
		rc = size_opts_check();
	if (rc)
		maps_close(m);
	return rc;
}

void maps_close(struct op25b_maps *m)
{
	size_t i;

	for (i = 0; i < N_PINNED; i++) {
		int *fd = map_slot(m, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

int pins_open(struct op25b_maps *m, enum pins_access how)
{
	int rc = EXIT_OK;

	if (how == PINS_MAKE)
		rc = pin_dir_prepare(true);
	if (!rc && (how == PINS_MAKE || how == PINS_CHANGE))
		rc = pin_lock();
	if (rc)
		return rc;
	rc = maps_open(m, how == PINS_MAKE);
	if (!rc && how == PINS_READ) {
		rc = pin_lock_shared();
		if (rc)
			maps_close(m);
	}
	return rc;
}

bool pins_present(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", g.pin_dir, OP25B_PIN_POLICY);
	/* what cannot be looked at may be there: its opener says why */
	return !access(path, F_OK) || errno != ENOENT;
}

/*
 * The pin dir under /sys/fs/bpf (or g.pin_dir) whose policy map is one of
 * ids: whose op25b a program is. false when no pin dir records it.
 */
bool pin_dir_of_maps(const __u32 *ids, __u32 n, char *out, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d;

	d = opendir(BPFFS_ROOT);
	while (d && !found && (de = readdir(d))) {
		struct bpf_map_info info = {};
		__u32 ilen = sizeof(info), i;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", BPFFS_ROOT, de->d_name,
			 OP25B_PIN_POLICY);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &ilen))
			for (i = 0; i < n; i++)
				if (ids[i] == info.id)
					found = true;
		close(fd);
		if (found)
			snprintf(out, len, "%s/%s", BPFFS_ROOT, de->d_name);
	}
	if (d)
		closedir(d);
	return found;
}
