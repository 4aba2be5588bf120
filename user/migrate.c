// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * migrate: a pin dir of an older layout made this one's, with no moment
 * without enforcement (doc/DESIGN.md, "Upgrades"). The running policy is
 * read from the old maps, written into new ones made beside them, the
 * programs on every recorded hook are replaced in place by ones reading
 * the new maps (an XDP or tc replace is atomic: a packet meets the old
 * program or the new one, both with the same policy), and the two pin dirs
 * are exchanged in one rename. The counters, offenders, limiter (its
 * quarantines) and events are the old maps themselves, pinned anew.
 *
 * Killed at any moment: before the exchange the old pin dir is whole and
 * its op25bctl still steers it (a hook replaced meanwhile runs the same
 * policy), and migrate starts over; after it, the new one is.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"
#include "attachments.h"

/* What layout 3 (op25b 0.2) pinned that layout 4 reads otherwise. */
#define LAYOUT3		3

struct rule_v3 {
	__u32 table;
	__u32 verdict;
	__u32 born;
	__u32 died;
	__u32 link;
	__u8  family;
	__u8  prefixlen;
	__u8  _pad[2];
	__u8  addr[16];
};

struct attach_val_v3 {
	__u32 prog_id;
	__u32 flags;
	__u32 tc_handle;
	__u32 tc_priority;
	char  ifname[16];
};

/* engine's words as layout 3 had them: layout, dirty, capacity, ..., rule_top */
#define V3_ENGINE_RULE_TOP	5

/* Maps whose definition layout 4 keeps: the old ones go on, pinned anew. */
static const char *const kept_maps[] = {
	OP25B_PIN_STATS, OP25B_PIN_OFFENDERS, OP25B_PIN_LIMITER,
};

const struct cmd_help migrate_help = {
	.text =
	"Make the pin dir of an older op25b (layout 3) this one's, in place:\n"
	"every rule, the ports and action, the hit counters, the counters,\n"
	"quarantines and attachments carry over, and each attached program is\n"
	"replaced in place, so enforcement never stops. The Debian package runs\n"
	"it on upgrade. A pin dir of this layout already: nothing to do.\n",
};

struct old_state {
	struct op25b_policy pol;
	struct rule_v3 *rules;
	__u64 *hits;		/* summed over CPUs, by old rule id */
	__u32 nrules;		/* ids 1..nrules-1 */
	__u32 capacity;
	struct op25b_attach_key *akeys;
	struct attach_val_v3 *avals;
	size_t natt;
};

static int pin_fd(const char *dir, const char *name)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return bpf_obj_get(path);
}

static int map_value_size(int fd, __u32 *vs, __u32 *entries)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	*vs = *entries = 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*vs = info.value_size;
	*entries = info.max_entries;
	return 0;
}

static bool rule_v3_alive(const struct rule_v3 *r, __u32 gen)
{
	return r->born && r->born <= gen && (!r->died || r->died > gen);
}

static void *map_mmap(int fd, size_t *len)
{
	__u32 vs, n;
	void *p;

	if (map_value_size(fd, &vs, &n))
		return NULL;
	*len = ((size_t)n * ((vs + 7) & ~7u) + 4095) & ~(size_t)4095;
	p = mmap(NULL, *len, PROT_READ, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Everything layout 3 holds that layout 4 must hold too. */
static int old_read(const char *dir, struct old_state *o)
{
	int pol = pin_fd(dir, OP25B_PIN_POLICY), rules = pin_fd(dir, OP25B_PIN_RULES);
	int hits = pin_fd(dir, OP25B_PIN_HITS), eng = pin_fd(dir, OP25B_PIN_ENGINE);
	int att = pin_fd(dir, OP25B_PIN_ATTACH), ncpu = libbpf_num_possible_cpus();
	struct op25b_attach_key k, last;
	size_t rlen = 0, hlen = 0, cap = 0;
	__u32 zero = 0, vs, n, words[8], i, top;
	struct rule_v3 *rv = NULL;
	__u64 *hv = NULL;
	int rc = EXIT_RUNTIME, c;
	bool first = true;

	memset(o, 0, sizeof(*o));
	if (pol < 0 || rules < 0 || hits < 0 || eng < 0 || att < 0 || ncpu <= 0) {
		p_err("cannot open the maps of layout 3 under %s: %s", dir,
		      strerror(errno));
		goto out;
	}
	if (map_value_size(rules, &vs, &n) || vs != sizeof(struct rule_v3) ||
	    bpf_map_lookup_elem(pol, &zero, &o->pol)) {
		p_err("the maps under %s are not layout 3's as this op25bctl knows it",
		      dir);
		goto out;
	}
	o->capacity = (n - 1) / 4;
	{
		__u32 evs = 0, en = 0;
		__u32 *ev;

		if (map_value_size(eng, &evs, &en) || !(ev = calloc(1, evs)))
			goto out;
		if (bpf_map_lookup_elem(eng, &zero, ev)) {
			free(ev);
			goto out;
		}
		memcpy(words, ev, sizeof(words));
		free(ev);
	}
	top = words[0] ? words[V3_ENGINE_RULE_TOP] : 1;
	if (top > n)
		top = n;
	rv = map_mmap(rules, &rlen);
	hv = map_mmap(hits, &hlen);
	o->rules = calloc(top + 1, sizeof(*o->rules));
	o->hits = calloc(top + 1, sizeof(*o->hits));
	if (!rv || !hv || !o->rules || !o->hits) {
		p_err("cannot read the rules of layout 3: %s", strerror(errno));
		goto out;
	}
	/* the live snapshot's rules, and their counts summed over the CPUs */
	for (i = 1; i < top; i++) {
		if (!rule_v3_alive(&rv[i], o->pol.live))
			continue;
		o->rules[i] = rv[i];
		for (c = 0; c < ncpu && o->pol.hits_stride; c++)
			if ((size_t)c * o->pol.hits_stride + i < hlen / 8)
				o->hits[i] += hv[(size_t)c * o->pol.hits_stride + i];
	}
	o->nrules = top;
	while (!bpf_map_get_next_key(att, first ? NULL : &last, &k)) {
		first = false;
		last = k;
		if (o->natt == cap) {
			cap = cap ? 2 * cap : 64;
			o->akeys = realloc(o->akeys, cap * sizeof(*o->akeys));
			o->avals = realloc(o->avals, cap * sizeof(*o->avals));
			if (!o->akeys || !o->avals)
				goto out;
		}
		if (bpf_map_lookup_elem(att, &k, &o->avals[o->natt]))
			continue;
		o->akeys[o->natt++] = k;
	}
	rc = EXIT_OK;
out:
	if (rv)
		munmap(rv, rlen);
	if (hv)
		munmap(hv, hlen);
	for (c = 0; c < 5; c++) {
		int fds[5] = { pol, rules, hits, eng, att };

		if (fds[c] >= 0)
			close(fds[c]);
	}
	return rc;
}

static void old_free(struct old_state *o)
{
	free(o->rules);
	free(o->hits);
	free(o->akeys);
	free(o->avals);
}

/* Remove every pin under dir, then dir. */
static int dir_remove(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(dir) ? -errno : 0;
}

/* The old policy into the new maps (under g.pin_dir): one snapshot. */
static int policy_write(const struct old_state *o, size_t *nrules)
{
	struct op25b_maps m;
	struct engine e;
	enum engine_change ch;
	struct engine_rule *nr = NULL;
	struct prefix p;
	size_t n = 0, j;
	__u32 i;
	int rc;

	*nrules = 0;
	rc = policy_open_write(&m, &e);
	if (rc)
		return rc;
	for (i = 1; !rc && i < o->nrules; i++) {
		const struct rule_v3 *r = &o->rules[i];

		if (!r->born)
			continue;
		memset(&p, 0, sizeof(p));
		p.family = r->family == 4 ? AF_INET : AF_INET6;
		p.len = r->prefixlen;
		memcpy(p.addr, r->addr, sizeof(p.addr));
		if (engine_set(&e, r->table, &p, r->verdict, &ch)) {
			p_err("%s", e.err);
			rc = EXIT_RUNTIME;
		}
		(*nrules)++;
	}
	if (!rc) {
		*engine_config(&e) = o->pol.snap[o->pol.live & 1].cfg;
		rc = policy_commit(&e);
	}
	/* each rule's count goes on under its new id */
	if (!rc && !engine_rules(&e, ENGINE_ALL_TABLES, false, &nr, &n)) {
		for (j = 0; j < n; j++)
			for (i = 1; i < o->nrules; i++) {
				const struct rule_v3 *r = &o->rules[i];

				if (r->born && o->hits[i] && r->table == nr[j].table &&
				    r->prefixlen == nr[j].p.len &&
				    !memcmp(r->addr, nr[j].p.addr, 16)) {
					engine_hits_add(&e, nr[j].rid, o->hits[i]);
					break;
				}
			}
		free(nr);
	}
	policy_close(&m, &e);
	return rc;
}

/* The network namespace whose inode is ino: this one, or one of /run/netns. */
static int netns_open(__u64 ino)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (!stat("/proc/self/ns/net", &st) && st.st_ino == ino)
		return open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	d = opendir("/run/netns");
	while (d && (de = readdir(d))) {
		snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
		if (de->d_name[0] != '.' && !stat(path, &st) && st.st_ino == ino) {
			closedir(d);
			return open(path, O_RDONLY | O_CLOEXEC);
		}
	}
	if (d)
		closedir(d);
	return -1;
}

/*
 * Each recorded hook gets the new program, replaced in place (--force:
 * the program there is the old op25b, of a pin dir about to go), in the
 * namespace it is in. A device that went keeps its record, waiting.
 */
static int attachments_move(const struct old_state *o, size_t *moved)
{
	char name[IF_NAMESIZE];
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int rc = EXIT_OK, worst = EXIT_OK, ns;
	size_t i;

	*moved = 0;
	for (i = 0; i < o->natt; i++) {
		const struct op25b_attach_key *k = &o->akeys[i];
		const struct attach_val_v3 *v = &o->avals[i];
		struct attach_args a = { .force = true };

		ns = netns_open(k->netns_ino);
		if (ns < 0 || setns(ns, CLONE_NEWNET)) {
			p_err("the attachment of %.15s is in a network namespace this op25bctl cannot find: left to the old op25b",
			      v->ifname);
			if (ns >= 0)
				close(ns);
			worst = EXIT_RUNTIME;
			continue;
		}
		close(ns);
		a.ifname = if_indextoname(k->ifindex, name) ? name : v->ifname;
		a.hook = k->hook == OP25B_HOOK_XDP ? "xdp" : "tc";
		a.dir = k->hook == OP25B_HOOK_TC_EGRESS ? "egress" : NULL;
		a.mode = k->hook != OP25B_HOOK_XDP ? NULL :
			 v->flags & OP25B_AF_XDP_GENERIC ? "generic" :
			 v->flags & OP25B_AF_XDP_NATIVE ? "native" : NULL;
		if (if_indextoname(k->ifindex, name)) {
			/* no cache: it would let go of the lock after each */
			rc = attach_iface(&a, NULL);
			if (!rc)
				(*moved)++;
		} else {
			struct attach_want w = {};

			snprintf(w.ifname, sizeof(w.ifname), "%s", v->ifname);
			w.hook = k->hook;
			rc = attach_sync_add_pending(&w);
		}
		if (rc > worst)
			worst = rc;
		setns(self, CLONE_NEWNET);
	}
	close(self);
	return worst;
}

int do_migrate(int argc, char **argv)
{
	struct args a = ARGS_POS("migrate", argc, argv, NULL, 0);
	char newdir[PATH_MAX], olddir[PATH_MAX];
	const char *saved = g.pin_dir;
	struct old_state o;
	size_t nrules = 0, moved = 0, i;
	__u32 layout;
	int rc;

	if (args_all(&a, NULL))
		return EXIT_USAGE;
	rc = pin_dir_lock(false);
	if (rc)
		return rc;
	snprintf(olddir, sizeof(olddir), "%s", g.pin_dir);
	/* bpffs takes no dot in a name */
	snprintf(newdir, sizeof(newdir), "%s-migrating", g.pin_dir);
	layout = layout_of(olddir);
	if (layout == OP25B_LAYOUT || !layout) {
		/* a migration killed after its exchange left the old maps here */
		dir_remove(newdir);
		p_info("%s is of layout %u already: nothing to migrate", olddir,
		       OP25B_LAYOUT);
		return EXIT_OK;
	}
	if (layout != LAYOUT3) {
		p_err("%s holds layout %u; this op25bctl migrates layout %u only",
		      olddir, layout, LAYOUT3);
		return EXIT_RUNTIME;
	}
	rc = old_read(olddir, &o);
	if (rc)
		return rc;
	/* a migration killed before its exchange: start over */
	dir_remove(newdir);
	if (mkdir(newdir, 0700)) {
		p_err("cannot make '%s': %s", newdir, strerror(errno));
		old_free(&o);
		return EXIT_RUNTIME;
	}
	for (i = 0; i < sizeof(kept_maps) / sizeof(kept_maps[0]); i++) {
		char path[PATH_MAX + 32];
		int fd = pin_fd(olddir, kept_maps[i]);

		snprintf(path, sizeof(path), "%s/%s", newdir, kept_maps[i]);
		if (fd < 0 || bpf_obj_pin(fd, path)) {
			p_err("cannot carry map '%s' over: %s", kept_maps[i],
			      strerror(errno));
			rc = EXIT_RUNTIME;
		}
		if (fd >= 0)
			close(fd);
	}
	/* the new maps and programs, under the new dir, the old lock held */
	g.pin_dir = newdir;
	g.capacity = o.capacity;
	if (!rc)
		rc = pins_create_beside();	/* the carried maps reused */
	if (!rc)
		rc = policy_write(&o, &nrules);
	if (!rc)
		rc = attachments_move(&o, &moved);
	g.pin_dir = saved;
	old_free(&o);
	if (rc) {
		p_err("migration stopped: %s is as it was (run migrate again)",
		      olddir);
		return rc;
	}
	if (renameat2(AT_FDCWD, newdir, AT_FDCWD, olddir, RENAME_EXCHANGE)) {
		p_err("cannot exchange '%s' and '%s': %s (run migrate again)",
		      newdir, olddir, strerror(errno));
		return EXIT_RUNTIME;
	}
	dir_remove(newdir);
	p_info("migrated %s from layout %u to %u: %zu rules, %zu attachments replaced in place",
	       olddir, LAYOUT3, OP25B_LAYOUT, nrules, moved);
	open_json_object(NULL);
	print_uint(PRINT_JSON, "from", NULL, LAYOUT3);
	print_uint(PRINT_JSON, "to", NULL, OP25B_LAYOUT);
	print_uint(PRINT_JSON, "rules", NULL, nrules);
	print_uint(PRINT_JSON, "attachments", NULL, moved);
	close_json_object();
	output_end();
	return EXIT_OK;
}
